// Part "construct" of `npm run bench`: fleet-scale construction under mocks (component vs raw resources),
// one fresh node process per measurement (construct-once.ts), interleaved, order alternating.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { stats } from "./stats";

const here = __dirname;
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const f = (x: number, d = 0) => x.toFixed(d);
const fmt = (s: { min: number; med: number; max: number }, d = 0, unit = "") => `${f(s.min, d)} / **${f(s.med, d)}** / ${f(s.max, d)}${unit}`;

export interface ConstructOptions {
  sizes: number[];
  repeats: number;
  repeatsLarge: number;
}

type Once = { mode: string; hosts: number; resources: number; ms: number; peakRssMb: number; peakHeapMb: number };

/** One measurement in a fresh node process. */
function constructOnce(mode: "component" | "raw", hosts: number): Once {
  const out = execFileSync(process.execPath, ["--import", "tsx", path.join(here, "construct-once.ts"), mode, String(hosts)], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = out.trim().split("\n").pop()!;
  return JSON.parse(line) as Once;
}

const PER_HOST = [
  ["PyJoulesHost", "component", "groups one host's resources; outputs verifiedProfile + attestation; carries wave dependsOn"],
  ["AppArmorProfile", "component", "the profile resource: owns the provision command, exposes the kernel-verified profile"],
  ["command:remote:Command (provision)", "custom", "ssh: install + load + verify the profile (stdin), boot-time loader; delete = remove.sh"],
  ["pulumi:providers:docker", "provider", "docker over ssh://user@host with the pinned host key (one per host)"],
  ["docker:Container", "custom", "the pyJoules client under apparmor=<profile>, ro powercap mounts, systempaths=unconfined"],
  ["command:remote:Command (attest)", "custom", "ssh: checks the running container is confined by the profile (and RAPL readable)"],
];

export function constructSection(lines: string[], o: ConstructOptions) {
  const SIZES = o.sizes;
  const REPEATS = o.repeats;
  const REPEATS_LARGE = o.repeatsLarge;
  const rows: { hosts: number; comp: Once[]; raw: Once[]; ratios: number[] }[] = [];
  for (const hosts of SIZES) {
    const n = hosts >= 1000 ? REPEATS_LARGE : REPEATS;
    const row = { hosts, comp: [] as Once[], raw: [] as Once[], ratios: [] as number[] };
    for (let i = 0; i < n; i++) {
      // interleaved, order alternating: a load spike hits both sides of a pair
      const order: ("component" | "raw")[] = i % 2 === 0 ? ["component", "raw"] : ["raw", "component"];
      const pair: Record<string, Once> = {};
      for (const m of order) {
        pair[m] = constructOnce(m, hosts);
        log(`${hosts} hosts ${m} #${i + 1}/${n}: ${f(pair[m]!.ms)} ms, ${pair[m]!.resources} resources, heap ${f(pair[m]!.peakHeapMb)} MB, rss ${f(pair[m]!.peakRssMb)} MB`);
      }
      row.comp.push(pair.component!);
      row.raw.push(pair.raw!);
      row.ratios.push(pair.component!.ms / pair.raw!.ms);
    }
    rows.push(row);
  }
  lines.push("## 1. Program construction under mocks (fresh process per measurement)", "");
  lines.push("min / **median** / max; ratio = component/raw per interleaved pair.", "");
  lines.push("| hosts | runs | resources comp / raw | component ms | raw ms | ratio ms | comp ms/host | raw ms/host | comp peak heap MB | raw peak heap MB | heap ratio | comp peak RSS MB | raw peak RSS MB |");
  lines.push("| --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
  for (const r of rows) {
    const cm = stats(r.comp.map((x) => x.ms));
    const rm = stats(r.raw.map((x) => x.ms));
    const ch = stats(r.comp.map((x) => x.peakHeapMb));
    const rh = stats(r.raw.map((x) => x.peakHeapMb));
    lines.push(
      `| ${r.hosts} | ${r.comp.length} | ${r.comp[0]!.resources} / ${r.raw[0]!.resources} | ${fmt(cm)} | ${fmt(rm)} | ${fmt(stats(r.ratios), 2)} | ${f(cm.med / r.hosts, 1)} | ${f(rm.med / r.hosts, 1)} | ${fmt(ch)} | ${fmt(rh)} | ${f(ch.med / rh.med, 2)} | ${fmt(stats(r.comp.map((x) => x.peakRssMb)))} | ${fmt(stats(r.raw.map((x) => x.peakRssMb)))} |`,
    );
  }
  lines.push("");
  if (rows.length > 1) {
    const per = rows.map((r) => ({ hosts: r.hosts, c: stats(r.comp.map((x) => x.ms)).med / r.hosts, r: stats(r.raw.map((x) => x.ms)).med / r.hosts }));
    const a = per[per.length - 2]!;
    const b = per[per.length - 1]!;
    const growth = b.c / a.c;
    lines.push(
      `Growth: component ms/host ${per.map((p) => `${f(p.c, 1)} @${p.hosts}`).join(", ")}; raw ${per.map((p) => `${f(p.r, 1)} @${p.hosts}`).join(", ")}. ` +
        `From ${a.hosts} to ${b.hosts} hosts the per-host cost changes ×${f(growth, 2)} (component) / ×${f(b.r / a.r, 2)} (raw): ` +
        (growth <= 1.25 ? "linear within noise." : "super-linear (per-host cost grows with fleet size)."),
      "",
    );
  }
  const perHostComp = rows[0] ? (rows[0].comp[0]!.resources - 1) / rows[0].hosts : 6;
  const perHostRaw = rows[0] ? rows[0].raw[0]!.resources / rows[0].hosts : 4;
  lines.push(`Per-host resources: component ${perHostComp} (+1 PyJoulesFleet per fleet), raw ${perHostRaw} (provision Command, docker Provider, Container, attest Command).`, "");
  lines.push("| # | resource | kind | what it is for |", "| --: | --- | --- | --- |");
  PER_HOST.forEach(([n, k, w], i) => lines.push(`| ${i + 1} | ${n} | ${k} | ${w} |`));
  lines.push("");
  return rows;
}

