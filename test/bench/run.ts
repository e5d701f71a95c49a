// `npm run bench`: fleet-scale construction under mocks (component vs raw resources) and, on a VM, the
// remote cost and converge time of one host (ours through the real Pulumi engine vs the seed's manual flow).
// Every figure is measured in this run next to its baseline, interleaved, min/median/max over repeats.
//
//   npm run bench                          everything (10, 100, 1000 hosts; VM part, 3 repeats)
//   npm run bench -- --quick               10 and 100 hosts only
//   npm run bench -- --sizes 10,100,1000 --repeats 5 --repeats-large 2 --vm-repeats 3
//   npm run bench -- --no-vm | --no-construct | --distro bookworm | --json out.json
//   npm run bench -- --from-json out.json   re-render the VM table of a saved result
//
// The VM part runs as a child process under `flock /tmp/pyj-vm.lock` (one VM at a time on the
// machine), so do not wrap `npm run bench` itself in the same flock.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const args = process.argv.slice(2);
const has = (f: string) => args.includes(f);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const SIZES = has("--quick") ? [10, 100] : opt("--sizes", "10,100,1000").split(",").map(Number);
const REPEATS = Number(opt("--repeats", "5"));
const REPEATS_LARGE = Number(opt("--repeats-large", "2")); // sizes >= 1000: ~1 min per component run here
const VM_REPEATS = opt("--vm-repeats", "3");
const DISTRO = opt("--distro", "trixie");
const LOCK = "/tmp/pyj-vm.lock";
const here = __dirname;
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

type Stats = { min: number; med: number; max: number };
const stats = (xs: number[]): Stats => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const med = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { min: s[0]!, med, max: s[n - 1]! };
};
const f = (x: number, d = 0) => x.toFixed(d);
const fmt = (s: Stats, d = 0, unit = "") => `${f(s.min, d)} / **${f(s.med, d)}** / ${f(s.max, d)}${unit}`;

function machine() {
  const cpus = os.cpus();
  let distro = os.type();
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync("/etc/os-release", "utf8"))?.[1] ?? distro;
  } catch {
    /* keep os.type() */
  }
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    distro,
    kernel: os.release(),
    load: os.loadavg().map((l) => l.toFixed(2)).join(" "),
  };
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

function constructSection(lines: string[]) {
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

type Run = { ms: number; sshSessions: number; remoteCommands: number; changes: string[] };
type VmRepeat = {
  order: string;
  manual: { setupMs: number; runMs: number; totalMs: number; sshSessions: number; remoteCommands: number };
  ours: { first: Run; noop: Run; change?: Run; destroy: Run };
};
type VmResult = { guest: Record<string, unknown>; repeats: VmRepeat[] };

function vmPart(): Promise<VmResult> {
  return new Promise((resolve, reject) => {
    log(`VM part: flock ${LOCK} (waits while another VM runs)`);
    const child = spawn(
      "flock",
      [LOCK, process.execPath, "--import", "tsx", path.join(here, "vm-bench.ts"), "--repeats", VM_REPEATS, "--distro", DISTRO],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
      if (code !== 0 || !line) reject(new Error(`vm-bench exited ${code}`));
      else resolve(JSON.parse(line.slice("BENCH_JSON ".length)) as VmResult);
    });
  });
}

function vmSection(lines: string[], v: VmResult) {
  const g = v.guest;
  lines.push(`## 2–3. One host on a VM: ${g.distro}, kernel ${g.kernel}, docker ${g.docker}${g.apparmor ? `, ${g.apparmor}` : ""}; QEMU TCG (no KVM), 2 vCPU`, "");
  lines.push("Per repeat (order alternating): the seed's manual flow, then our first deploy → no-op deploy → profile change (+1 read path) → destroy through the real Pulumi engine and providers (fresh state), each side cleaned before the other runs.", "");
  const R = v.repeats;
  const row = (name: string, ms: number[], ssh: number[], cmds: number[], changes: string, ratio?: number[]) =>
    `| ${name} | ${fmt(stats(ms.map((x) => x / 1000)), 1, " s")} | ${ratio ? fmt(stats(ratio), 2) : "—"} | ${fmt(stats(ssh))} | ${fmt(stats(cmds))} | ${changes} |`;
  lines.push("| step (per host) | wall time | ratio to manual flow (paired) | ssh sessions | remote commands | changes |");
  lines.push("| --- | --: | --: | --: | --: | --- |");
  const manual = R.map((r) => r.manual.totalMs);
  lines.push(row("seed manual flow (setup script + docker run)", manual, R.map((r) => r.manual.sshSessions), R.map((r) => r.manual.remoteCommands), `setup ${fmt(stats(R.map((r) => r.manual.setupMs / 1000)), 1, " s")}, docker run ${fmt(stats(R.map((r) => r.manual.runMs / 1000)), 1, " s")}`));
  const ourRow = (label: string, pick: (r: VmRepeat) => Run | undefined, withRatio: boolean) => {
    const xs = R.map((r) => ({ r, x: pick(r) })).filter((p) => p.x !== undefined) as { r: VmRepeat; x: Run }[];
    if (xs.length === 0) {
      lines.push(`| ${label} | not measured | | | | |`);
      return;
    }
    const summary = (c: string[]) => {
      if (c.length === 0) return "none";
      const ops = new Set(c.map((x) => x.split(" ")[0]));
      return ops.size === 1 && c.length > 2 ? `${[...ops][0]} ×${c.length} (every resource)` : c.join("; ");
    };
    const changes = [...new Set(xs.map((p) => summary(p.x.changes)))].join(" ‖ ");
    lines.push(row(label, xs.map((p) => p.x.ms), xs.map((p) => p.x.sshSessions), xs.map((p) => p.x.remoteCommands), changes, withRatio ? xs.map((p) => p.x.ms / p.r.manual.totalMs) : undefined));
  };
  ourRow("ours: first deploy", (r) => r.ours.first, true);
  ourRow("ours: no-op deploy (target 0 remote)", (r) => r.ours.noop, true);
  ourRow("ours: profile change", (r) => r.ours.change, true);
  ourRow("ours: destroy", (r) => r.ours.destroy, false);
  lines.push("", `Repeats: ${R.length}; VM boot to docker ready: ${f(Number(g.bootMs) / 1000, 0)} s (not counted). Manual flow counted as 2 ssh sessions / 2 remote command lines by construction (it runs exactly two ssh invocations).`, "");
}

async function main() {
  const m = machine();
  const lines: string[] = [];
  lines.push(`# pyjoules bench — ${new Date().toISOString()}`, "");
  lines.push(`Command: \`npm run bench${args.length ? ` -- ${args.join(" ")}` : ""}\``, "");
  lines.push(`Machine: ${m.cpu}, ${m.cores} cores, ${f(m.memoryGiB, 1)} GiB RAM, node ${m.node}, ${m.distro} (kernel ${m.kernel}), load avg at start ${m.load}`, "");
  const result: Record<string, unknown> = { machine: m, args };
  const from = opt("--from-json", "");
  if (from) {
    // re-render the VM sections of a saved --json result (no measuring)
    const saved = JSON.parse(fs.readFileSync(from, "utf8")) as { vm?: VmResult };
    if (saved.vm) vmSection(lines, saved.vm);
    process.stdout.write(lines.join("\n") + "\n");
    return;
  }
  if (!has("--no-construct")) result.construct = constructSection(lines);
  if (!has("--no-vm")) {
    try {
      const v = await vmPart();
      result.vm = v;
      vmSection(lines, v);
    } catch (e) {
      lines.push(`## 2–3. VM part: not measured (${(e as Error).message}; see stderr)`, "");
    }
  }
  const j = opt("--json", "");
  if (j) fs.writeFileSync(j, JSON.stringify(result, null, 2));
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
