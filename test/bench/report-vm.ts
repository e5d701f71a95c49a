// Markdown of the VM parts (compare, phases, two hosts) and the targets. Pure: JSON in, lines out.
import type { AnsibleRun } from "./ansible";
import type { ManualRun } from "./manual";
import type { OpRun, OursRun } from "./ours";
import { engineBreakdown } from "./phases";
import type { SshdActivity } from "./sshd-exec";
import { describeBy } from "./sshd-exec";
import { fix, fmt, fmtS, row, stats } from "./stats";
import type { PhaseRun as PhaseRunJ } from "./vm-phases";
export type { PhaseRunJ };

type M<T> = T & { ssh: SshdActivity };
export interface CompareRepeat {
  order: string[];
  manual?: M<ManualRun>;
  ansible?: { first: M<AnsibleRun>; noop: M<AnsibleRun> };
  ours?: OursRun;
  errors?: Record<string, string>;
}

const sshCell = (xs: SshdActivity[], k: "sessions" | "commands") =>
  xs.length ? `${fmt(stats(xs.map((x) => x[k])))}${xs.length ? ` — ${describeBy(xs[xs.length - 1]!, k)}` : ""}` : "—";

type Line = { label: string; ms: (r: CompareRepeat) => number | undefined; ssh: (r: CompareRepeat) => SshdActivity | undefined; note?: (r: CompareRepeat) => string };
const ourLine = (label: string, k: keyof OursRun): Line => ({
  label,
  ms: (r) => r.ours?.[k].ms,
  ssh: (r) => r.ours?.[k].ssh,
  note: (r) => summariseChanges(r.ours?.[k].changes ?? []),
});

function summariseChanges(c: string[]): string {
  if (c.length === 0) return "no changes";
  const ops = [...new Set(c.map((x) => x.split(" ")[0]))];
  return ops.length === 1 && c.length > 3 ? `${ops[0]} ×${c.length}` : c.join("; ");
}

const LINES: Line[] = [
  { label: "seed manual flow (setup script + docker run)", ms: (r) => r.manual?.totalMs, ssh: (r) => r.manual?.ssh },
  { label: "Ansible: first converge", ms: (r) => r.ansible?.first.ms, ssh: (r) => r.ansible?.first.ssh, note: (r) => `changed=${r.ansible?.first.recap.changed}` },
  { label: "Ansible: no-op re-run", ms: (r) => r.ansible?.noop.ms, ssh: (r) => r.ansible?.noop.ssh, note: (r) => `changed=${r.ansible?.noop.recap.changed}` },
  ourLine("ours: first deploy", "first"),
  ourLine("ours: no-op `pulumi up`", "noop"),
  ourLine("ours: `pulumi preview`, no changes", "preview"),
  ourLine("ours: profile change (+1 read path)", "profileChange"),
  ourLine("ours: client change (logLevel)", "clientChange"),
  ourLine("ours: destroy", "destroy"),
];

/** Pure: the one line that says why a side failed (Ansible's "msg", else the first non-empty line). */
export function firstCause(err: string): string {
  const raw = /"msg": "((?:[^"\\]|\\.)*)"/.exec(err)?.[1];
  const msg = raw?.replace(/\\(.)/g, "$1");
  return msg ?? err.split("\n").find((l) => l.trim() !== "" && !/failed:\s*$/.test(l)) ?? err.slice(0, 200);
}

export function renderCompare(lines: string[], R: CompareRepeat[]): void {
  lines.push("| step (one host) | wall time | ÷ manual (paired) | ÷ Ansible same step (paired) | ssh sessions (last run by client) | remote commands (last run by client) | changes |");
  lines.push("| --- | --: | --: | --: | --: | --: | --- |");
  const manual = R.map((r) => r.manual?.totalMs);
  for (const l of LINES) {
    const ok = R.filter((r) => l.ms(r) !== undefined);
    const ms = ok.map((r) => l.ms(r)!);
    const vsManual = ok.filter((r) => r.manual).map((r) => l.ms(r)! / r.manual!.totalMs);
    const ans = l.label.includes("first deploy") ? (r: CompareRepeat) => r.ansible?.first.ms : l.label.includes("no-op") ? (r: CompareRepeat) => r.ansible?.noop.ms : undefined;
    const vsAns = ans && l.label.startsWith("ours") ? ok.filter((r) => ans(r)).map((r) => l.ms(r)! / ans(r)!) : [];
    const notes = [...new Set(ok.map((r) => l.note?.(r) ?? ""))].filter(Boolean).join(" ‖ ");
    lines.push(row([l.label, ms.length ? fmtS(ms) : "not measured", vsManual.length && !l.label.startsWith("seed") ? fmt(stats(vsManual), 2) : "—", vsAns.length ? fmt(stats(vsAns), 2) : "—", sshCell(ok.map((r) => l.ssh(r)!), "sessions"), sshCell(ok.map((r) => l.ssh(r)!), "commands"), notes]));
  }
  void manual;
  const errs = R.flatMap((r, i) => Object.entries(r.errors ?? {}).map(([k, v]) => `repeat ${i + 1} ${k}: ${firstCause(v)}`));
  lines.push("", `Repeats: ${R.length}, orders ${R.map((r) => r.order.join("→")).join(", ")}.${errs.length ? ` Failures: ${errs.join("; ")}` : ""}`, "");
}

/** Median per-resource step times of the first deploys, and the engine's share. */
export function renderEngineBreakdown(lines: string[], firsts: OpRun[]): void {
  if (!firsts.length) return;
  const b = firsts.map((f) => ({ f, ...engineBreakdown(f.ms, f.spans) }));
  const kinds = [...new Set(b.flatMap((x) => Object.keys(x.byResource)))];
  lines.push("| part of `pulumi up` (first deploy, engine event times) | seconds (min / **median** / max) |", "| --- | --: |");
  for (const k of kinds) lines.push(row([k, fmtS(b.map((x) => x.byResource[k] ?? 0))]));
  lines.push(row(["engine only (no resource step running: CLI + program start, plugin start, diff, state writes)", fmtS(b.map((x) => x.engineMs))]));
  lines.push(row(["**total**", fmtS(firsts.map((f) => f.ms))]), "");
  const f = firsts[0]!;
  const spans = f.spans.filter((s) => s.endMs !== undefined && s.op !== "same").sort((a, c) => a.startMs - c.startMs);
  lines.push(`Timeline of the first repeat (s since start): ${spans.map((s) => `${s.name} ${fix(s.startMs / 1000, 1)}→${fix(s.endMs! / 1000, 1)}`).join(", ")}.`, "");
}

export function renderPhaseRun(lines: string[], title: string, p: PhaseRunJ): void {
  lines.push(`${title}: wall **${fix(p.wallMs / 1000, 2)} s** (exit ${p.code}).`, "");
  lines.push("| phase | seconds |", "| --- | --: |");
  for (const [k, v] of Object.entries(p.phases).sort((a, b) => b[1] - a[1])) lines.push(row([k, fix(v, 2)]));
  if (p.userPartS !== undefined) lines.push(row(["SSH user's part before sudo (user's docker facts)", fix(p.userPartS, 2)]));
  lines.push(row(["outside the traced root script (ssh connect, stage transfer + sha check, user part, sudo, exit)", fix(p.outsideScriptS, 2)]), "");
  if (p.stderrTail) lines.push("```", p.stderrTail, "```", "");
}
