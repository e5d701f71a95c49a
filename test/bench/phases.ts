// Where the first deploy's time goes.
//  - Per resource, from the engine events' arrival times (ours.ts spans): provision step, docker provider,
//    container create, attestation; the rest is the engine (CLI start, program, plugins, diffing).
//  - Inside the provision and attest steps: the same host scripts run by hand over ssh (the exact command
//    line and stdin of profiles/commands.ts), but as root under `bash -x` with a timestamped PS4 on its own
//    fd (BASH_XTRACEFD, so `$(… 2>&1)` captures no trace), each traced line's time given to its phase.
import { stageLoader, type HostInvocation } from "../../profiles/commands";
import type { StepSpan } from "./ours";

export interface TracedInvocation extends HostInvocation {
  /** The stage as sent (with its added trace lines). */
  stage: string;
}

/**
 * Pure: the same invocation, but the root part runs under bash with xtrace (PS4 "+ EPOCHREALTIME LINENO "),
 * and the stage prints "PYJ-T <epoch> stage|become" when it starts and just before it becomes root.
 * Line numbers of the script are kept (the trace set-up is put before its first line, on the same line).
 */
export function tracedInvocation(inv: HostInvocation): TracedInvocation {
  const m = /dd bs=1(?: skip=(\d+))? count=(\d+)/.exec(inv.command);
  if (!m) throw new Error("not a staged command line");
  const skip = Number(m[1] ?? 0);
  const count = Number(m[2]);
  const buf = Buffer.from(inv.stdin, "utf8");
  const stage = buf.subarray(skip, skip + count).toString("utf8");
  const become = 'if [ "$(id -u)" -eq 0 ]; then';
  if (!stage.includes(become) || !stage.startsWith("{\n")) throw new Error("unexpected stage layout");
  const mark = (what: string) => `printf 'PYJ-T %s ${what}\\n' "$(date +%s.%N)" >&2`;
  const trace = `s="exec 7>&2; BASH_XTRACEFD=7; PS4='+ \\$EPOCHREALTIME \\$LINENO '; set -x; $s"`;
  // BECOME_ROOT is the last `if [ "$(id -u)" …` of the stage (a prelude may hold one too)
  const at = stage.lastIndexOf(become);
  const body = stage.slice(2, at) + `${mark("become")}\n${trace}\n` + stage.slice(at);
  const traced = "{\n" + mark("stage") + "\n" + body.replaceAll('/bin/sh -c "$s"', '/bin/bash -c "$s"');
  const name = inv.command.split(" ").pop()!;
  const stdin = Buffer.concat([buf.subarray(0, skip), Buffer.from(traced, "utf8"), buf.subarray(skip + count)]).toString("utf8");
  return { command: stageLoader(name, skip, traced), stdin, stage: traced };
}

export interface TraceLine {
  t: number;
  line: number;
  cmd: string;
}

/** Pure: the xtrace lines ("+ 1765012345.123456 42 cmd", nested "++ …") and the PYJ-T marks of a run's stderr. */
export function parseTrace(stderr: string): { lines: TraceLine[]; marks: Record<string, number> } {
  const lines: TraceLine[] = [];
  const marks: Record<string, number> = {};
  for (const l of stderr.split("\n")) {
    const t = /^\++ (\d+\.\d+) (\d+) ?(.*)$/.exec(l);
    if (t) lines.push({ t: Number(t[1]), line: Number(t[2]), cmd: t[3]! });
    const k = /^PYJ-T (\d+\.\d+) (\S+)$/.exec(l);
    if (k) marks[k[2]!] = Number(k[1]);
  }
  lines.sort((a, b) => a.t - b.t);
  return { lines, marks };
}

/** Pure: seconds per phase; each traced line owns the time until the next one. */
export function phaseTimes(lines: TraceLine[], phaseOf: (l: TraceLine, i: number) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < lines.length; i++) {
    const p = phaseOf(lines[i]!, i);
    out[p] = (out[p] ?? 0) + (lines[i + 1]!.t - lines[i]!.t);
  }
  return out;
}

/** Pure: provision.sh's numbered sections ("# 1. Preflight…"): [first line, phase] in file order. */
export function provisionSections(script: string): Array<[number, string]> {
  const names: Record<string, string> = { "1": "preflight", "2": "compile check", "3 + 4": "install + load", "5": "boot-time loader", "6": "verify (kernel list)" };
  const out: Array<[number, string]> = [[1, "argument checks"]];
  script.split("\n").forEach((l, i) => {
    const m = /^# (\d+(?: \+ \d+)?)\. /.exec(l);
    if (m) out.push([i + 1, names[m[1]!] ?? "report"]);
  });
  return out;
}

/**
 * Pure: the provision phase of each traced line. Sections run in order and functions are defined before
 * they are called, so a line inside an earlier section (a function body) belongs to the latest section
 * reached; in "install + load", the apparmor_parser -r run is the load, the rest the install.
 */
export function provisionPhaser(script: string): (l: TraceLine) => string {
  const sections = provisionSections(script);
  let reached = 0;
  return (l) => {
    let idx = 0;
    sections.forEach(([start], i) => (l.line >= start ? (idx = i) : undefined));
    reached = Math.max(reached, idx);
    const p = sections[reached]![1];
    if (p === "install + load") return /apparmor_parser -r\b/.test(l.cmd) ? "load (apparmor_parser -r -W)" : "install";
    return p;
  };
}

/** Pure: attest.sh's phase of a traced line: the healthcheck wait, the energy reads, the denial scan, the rest. */
export function attestPhaser(script: string): (l: TraceLine) => string {
  const lines = script.split("\n");
  const find = (re: RegExp, from = 0) => lines.findIndex((l, i) => i >= from && re.test(l)) + 1;
  const range = (startRe: RegExp, endRe: RegExp): [number, number] => {
    const s = find(startRe);
    return [s, s > 0 ? find(endRe, s) : 0];
  };
  const health = [range(/^wait_healthy\(\)/, /^\}/), range(/^\[ "\$health_wait" = 0 \]/, /./)];
  const energy = [range(/^number\(\)/, /^\}/), range(/^energy_delta\(\)/, /^\}/), range(/^for zone in/, /^done/)];
  const denials = [range(/^# Denials/, /^wrong=""/)];
  const within = (rs: [number, number][], n: number) => rs.some(([a, b]) => a > 0 && n >= a && n <= b);
  return (l) => (within(health, l.line) ? "healthcheck wait" : within(energy, l.line) ? "energy reads (host read + 1 docker exec)" : within(denials, l.line) ? "denial scan" : "inspect + confinement checks");
}

/** Pure: per-resource durations of one engine operation, and the time no resource step was running. */
export function engineBreakdown(totalMs: number, spans: StepSpan[]): { byResource: Record<string, number>; engineMs: number } {
  const byResource: Record<string, number> = {};
  const iv: Array<[number, number]> = [];
  for (const s of spans) {
    if (s.endMs === undefined || s.type.startsWith("pulumi:pulumi:Stack") || !s.type.includes(":") || s.op === "same") continue;
    const kind = s.type.startsWith("pulumi:providers:") ? "docker provider" : s.name.endsWith("-provision") ? "provision step" : s.name.endsWith("-attest") ? "attestation step" : s.type === "docker:index/container:Container" ? "container create" : "";
    if (!kind) continue; // components: their span covers their children
    byResource[kind] = (byResource[kind] ?? 0) + (s.endMs - s.startMs);
    iv.push([s.startMs, s.endMs]);
  }
  iv.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = -Infinity;
  for (const [a, b] of iv) {
    if (b <= end) continue;
    covered += b - Math.max(a, end);
    end = b;
  }
  return { byResource, engineMs: totalMs - covered };
}
