// Markdown of the engine's own overhead (empty program) and of the preview scale series. Pure.
import type { CliRun } from "./cli";
import type { EmptyResult, ScaleResult } from "./preview-scale";
import { fix, fmtS, perHostGrowth, row } from "./stats";

const mb = (x: number) => fix(x, 0);
/** PSS was not measured before 2026-12-07 (results re-rendered from older JSON have none). */
const pss = (x: number | undefined) => (x === undefined ? "—" : mb(x));

export function renderEmpty(lines: string[], e: EmptyResult): void {
  lines.push("| empty nodejs program (`require(\"@pulumi/pulumi\")` only) | wall | peak RSS CLI / language host / node MB |", "| --- | --: | --: |");
  const rss = (r: CliRun) => `${mb(r.peaks.cli.peakRssMb)} / ${mb(r.peaks["language-host"].peakRssMb)} / ${mb(r.peaks.program.peakRssMb)}`;
  lines.push(row(["`pulumi preview`", fmtS(e.preview.map((r) => r.ms), 2), rss(e.preview[0]!)]));
  lines.push(row(["`pulumi up` (no-op)", fmtS(e.upNoop.map((r) => r.ms), 2), rss(e.upNoop[0]!)]));
  lines.push(row(["`pulumi up` (first: creates the Stack resource)", fmtS([e.upFirst.ms], 2), rss(e.upFirst)]), "");
}

export function renderScale(lines: string[], S: ScaleResult[]): void {
  lines.push("| hosts | resources | wall | peak RSS total MB | peak PSS total MB | CLI MB | node program MB | docker plugin RSS / PSS MB (processes) | command plugin MB | config bytes | note |");
  lines.push("| --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |");
  for (const s of S) {
    const p = s.run.peaks;
    const note = [s.run.code === 0 ? "ok" : `exit ${s.run.code}`, s.run.aborted ?? "", s.hostKeys ? "" : "without hostKey", s.withHostKeysFailed ? `with hostKey: ${s.withHostKeysFailed}` : ""].filter(Boolean).join("; ");
    lines.push(row([s.hosts, Number.isFinite(s.resources) ? s.resources! : "—", `${fix(s.run.ms / 1000, 1)} s`, mb(p.totalPeakMb), pss(p.totalPeakPssMb), mb(p.cli.peakRssMb), mb(p.program.peakRssMb), `${mb(p["provider-docker"].peakRssMb)} / ${pss(p["provider-docker"].peakPssMb)} (${p["provider-docker"].maxProcs})`, mb(p["provider-command"].peakRssMb), s.configBytes, note]));
  }
  const ok = S.filter((s) => s.run.code === 0);
  if (ok.length > 1) {
    const xs = ok.map((s) => s.hosts);
    const g = (f: (s: ScaleResult) => number) => perHostGrowth(xs, ok.map(f)).map((v) => fix(v, 2)).join(" → ");
    lines.push("", `Growth per added host between completed sizes (${xs.join(" → ")}): wall ${g((s) => s.run.ms / 1000)} s/host; total RSS ${g((s) => s.run.peaks.totalPeakMb)} MB/host; total PSS ${g((s) => s.run.peaks.totalPeakPssMb ?? NaN)} MB/host; node program ${g((s) => s.run.peaks.program.peakRssMb)} MB/host; docker plugins ${g((s) => s.run.peaks["provider-docker"].peakRssMb)} MB/host RSS, ${g((s) => s.run.peaks["provider-docker"].peakPssMb ?? NaN)} MB/host PSS.`);
  }
  lines.push("");
}
