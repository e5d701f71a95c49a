// The whole `npm run bench` report (markdown) from the measured JSON; also re-renders a saved --json result.
import type { CompareRepeat, PhaseRunJ } from "./report-vm";
import { renderCompare, renderEngineBreakdown, renderPhaseRun } from "./report-vm";
import { renderEmpty, renderScale } from "./report-engine";
import type { EmptyResult, ScaleResult } from "./preview-scale";
import type { OpRun } from "./ours";
import { fix, fmtS, stats } from "./stats";

export interface BenchResult {
  machine: Record<string, unknown> & { cpu?: string; cores?: number; memoryGiB?: number; node?: string; distro?: string; kernel?: string; load?: string };
  args: string[];
  date: string;
  construct?: unknown;
  engine?: { empty?: EmptyResult; scale?: ScaleResult[]; error?: string };
  vm?: {
    guest?: Record<string, unknown>;
    ansibleDeps?: unknown;
    compare?: CompareRepeat[];
    phases?: { provision: PhaseRunJ; dockerRunMs: number; attestHealth: PhaseRunJ; attestNoWait: PhaseRunJ };
    "two-hosts"?: { secondGuest: string; bootMs: number; runs: Array<{ one: { first: OpRun; destroyMs: number }; two: { first: OpRun; destroyMs: number } }> };
    error?: string;
    [k: string]: unknown;
  };
}

export function renderReport(r: BenchResult, constructLines: string[]): string[] {
  const m = r.machine;
  const lines = [`# pyjoules bench — ${r.date}`, "", `Command: \`npm run bench${r.args.length ? ` -- ${r.args.join(" ")}` : ""}\``, ""];
  lines.push(`Machine: ${m.cpu}, ${m.cores} cores, ${fix(Number(m.memoryGiB), 1)} GiB RAM, node ${m.node}, ${m.distro} (kernel ${m.kernel}), load avg at start ${m.load}`, "");
  lines.push(...constructLines);
  if (r.engine) engineSection(lines, r.engine);
  if (r.vm) vmSections(lines, r.vm);
  targets(lines, r);
  return lines;
}

function engineSection(lines: string[], e: NonNullable<BenchResult["engine"]>) {
  lines.push("## Engine overhead and preview at scale (real CLI, project run by pulumi-language-nodejs)", "");
  if (e.error) lines.push(`Not measured: ${e.error}`, "");
  if (e.empty) renderEmpty(lines, e.empty);
  if (e.scale) renderScale(lines, e.scale);
}

function vmSections(lines: string[], v: NonNullable<BenchResult["vm"]>) {
  const g = v.guest ?? {};
  lines.push(`## One host on a VM: ${g.distro}, kernel ${g.kernel}, docker ${g.docker}, ${g.apparmor}; QEMU TCG (no KVM), ${g.cores} vCPU`, "");
  if (v.error) lines.push(`VM part failed: ${v.error}`, "");
  for (const k of Object.keys(v).filter((k) => k.endsWith("Error"))) lines.push(`Part ${k.replace(/Error$/, "")} failed: \`${String(v[k]).split("\n")[0]}\``, "");
  if (v.ansibleDeps) lines.push(`Ansible target dependencies (community.docker 3.x needs python3-requests on the target): ${JSON.stringify(v.ansibleDeps)}`, "");
  if (v.compare) {
    renderCompare(lines, v.compare);
    lines.push("### Where the first deploy's time goes (per resource, from engine event times)", "");
    renderEngineBreakdown(lines, v.compare.flatMap((r) => (r.ours ? [r.ours.first] : [])));
  }
  if (v.phases) {
    lines.push("### Inside the remote steps (run by hand on a clean host, bash xtrace with timestamps)", "");
    renderPhaseRun(lines, "Provision (provision.sh as the provision resource runs it)", v.phases.provision);
    lines.push(`\`docker run\` of the client (with the test client's healthcheck): ${fix(v.phases.dockerRunMs / 1000, 2)} s.`, "");
    renderPhaseRun(lines, "Attestation right after `docker run`, waiting for healthy (client.healthcheck set)", v.phases.attestHealth);
    renderPhaseRun(lines, "Attestation once healthy, no wait (the bench stack has no healthcheck)", v.phases.attestNoWait);
  }
  const t = v["two-hosts"];
  if (t) {
    lines.push(`### Two hosts (${g.distro} + ${t.secondGuest} VMs) in one stack vs one host`, "");
    const one = t.runs.map((x) => x.one.first.ms);
    const two = t.runs.map((x) => x.two.first.ms);
    lines.push("| first deploy | wall | ssh sessions | remote commands |", "| --- | --: | --: | --: |");
    lines.push(`| one host | ${fmtS(one)} | ${t.runs.map((x) => x.one.first.ssh.sessions).join(", ")} | ${t.runs.map((x) => x.one.first.ssh.commands).join(", ")} |`);
    lines.push(`| two hosts | ${fmtS(two)} | ${t.runs.map((x) => x.two.first.ssh.sessions).join(", ")} | ${t.runs.map((x) => x.two.first.ssh.commands).join(", ")} |`);
    lines.push("", `Second host costs ${fix((stats(two).med - stats(one).med) / 1000, 1)} s (${fix(((stats(two).med / stats(one).med) - 1) * 100, 0)} % of one host). Both VMs share the 2 host cores (each qemu TCG wants 2). Second VM boot ${fix(t.bootMs / 1000, 0)} s, not counted.`, "");
  }
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? "not measured" : ok ? "**met**" : "**missed**";
}

function targets(lines: string[], r: BenchResult) {
  const C = r.vm?.compare ?? [];
  const ratio = (a: (x: CompareRepeat) => number | undefined, b: (x: CompareRepeat) => number | undefined) => {
    const xs = C.filter((x) => a(x) !== undefined && b(x) !== undefined).map((x) => a(x)! / b(x)!);
    return xs.length ? stats(xs).med : undefined;
  };
  const vsAns = ratio((x) => x.ours?.first.ms, (x) => x.ansible?.first.ms);
  const vsMan = ratio((x) => x.ours?.first.ms, (x) => x.manual?.totalMs);
  const noop = ratio((x) => x.ours?.noop.ms, (x) => x.ansible?.noop.ms);
  const noopCmds = C.filter((x) => x.ours).map((x) => x.ours!.noop.ssh.commands);
  const scale = r.engine?.scale ?? [];
  const big = scale.find((s) => s.hosts >= 1000);
  lines.push("## Targets: measured vs target", "", "| target | measured | verdict |", "| --- | --- | --- |");
  lines.push(`| first deploy ≤ 0.5× Ansible first converge | ${vsAns === undefined ? "—" : `${fix(vsAns, 2)}×`} (median of paired ratios) | ${verdict(vsAns === undefined ? undefined : vsAns <= 0.5)} |`);
  lines.push(`| first deploy ≤ 1.25× manual flow | ${vsMan === undefined ? "—" : `${fix(vsMan, 2)}×`} | ${verdict(vsMan === undefined ? undefined : vsMan <= 1.25)} |`);
  lines.push(`| no-op up ≤ 0.25× Ansible no-op | ${noop === undefined ? "—" : `${fix(noop, 2)}×`} | ${verdict(noop === undefined ? undefined : noop <= 0.25)} |`);
  lines.push(`| no-op up: 0 remote commands | ${noopCmds.join(", ") || "—"} | ${verdict(noopCmds.length ? noopCmds.every((n) => n === 0) : undefined)} |`);
  const bigOk = big ? big.run.code === 0 && big.run.peaks.program.peakRssMb <= 2048 : undefined;
  lines.push(`| 1,000-host preview linear, completes, node program ≤ 2 GB | ${big ? `${big.run.code === 0 ? "completed" : `did not complete (${big.run.aborted ?? `exit ${big.run.code}`}${big.withHostKeysFailed ? `; with host keys: ${big.withHostKeysFailed}` : ""})`}; node program ${fix(big.run.peaks.program.peakRssMb, 0)} MB, whole tree ${fix(big.run.peaks.totalPeakMb, 0)} MB, ${big.run.peaks["provider-docker"].maxProcs} docker plugin processes` : "—"} | ${verdict(bigOk)} |`);
  lines.push("");
}
