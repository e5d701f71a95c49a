// `npm run bench`: every figure of issue 20 through the real Pulumi CLI, in one run, with its baseline
// measured beside it (interleaved, order alternating, min/median/max over repeats). Parts:
//   construct    fleet construction under mocks, component vs raw resources (construct.ts)
//   engine       the engine's own start-up (empty program) and `pulumi preview` of 10/100/1,000 hosts (preview-scale.ts)
//   compare      one VM: our stack vs the seed's manual flow vs the Ansible playbook, ssh sessions + remote commands (vm-bench.ts)
//   phases       one VM: where the first deploy's time goes inside the provision and attest steps (vm-phases.ts)
//   two-hosts    a second VM: one host vs two hosts in one stack (two-hosts.ts)
//
//   npm run bench                                   everything
//   npm run bench -- --only engine                  one part (comma list: --only compare,phases)
//   npm run bench -- --quick                        construct 10 and 100 hosts only, preview 10 and 100 hosts only
//   npm run bench -- --sizes 10,100,1000 --repeats 5 --repeats-large 2        (construct)
//   npm run bench -- --preview-sizes 10,100,1000 --engine-repeats 3 --max-rss-mb 12000   (engine)
//   npm run bench -- --vm-repeats 3 --distro bookworm                          (compare, phases, two-hosts)
//   npm run bench -- --no-vm | --no-construct | --json out.json
//   npm run bench -- --from-json out.json          re-render a saved result (no measuring)
//
// The VM parts run as one child process under `flock /tmp/pyj-vm.lock` (one VM run at a time on the
// machine), so do not wrap `npm run bench` itself in the same flock.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { constructSection } from "./construct";
import { renderReport, type BenchResult } from "./report";

const args = process.argv.slice(2);
const has = (f: string) => args.includes(f);
const opt = (name: string, dflt: string) => (args.indexOf(name) >= 0 && args[args.indexOf(name) + 1] !== undefined ? args[args.indexOf(name) + 1]! : dflt);
const PARTS = ["construct", "engine", "compare", "phases", "two-hosts"];
const VM_PARTS = ["compare", "phases", "two-hosts"];
const only = new Set(opt("--only", PARTS.join(",")).split(","));
if (has("--no-vm")) for (const p of VM_PARTS) only.delete(p);
if (has("--no-construct")) only.delete("construct");
if (has("--no-engine")) only.delete("engine");
const LOCK = "/tmp/pyj-vm.lock";
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

function machine() {
  let distro = os.type();
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync("/etc/os-release", "utf8"))?.[1] ?? distro;
  } catch {
    /* keep os.type() */
  }
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model.trim() ?? "unknown", cores: cpus.length, memoryGiB: os.totalmem() / 2 ** 30, node: process.version, distro, kernel: os.release(), load: os.loadavg().map((l) => l.toFixed(2)).join(" ") };
}

/** A child bench process (optionally under flock) whose stdout ends with `BENCH_JSON {...}`. */
function child(script: string, childArgs: string[], lock: boolean): Promise<Record<string, unknown>> {
  const cmd = [process.execPath, "--import", "tsx", path.join(__dirname, script), ...childArgs];
  return new Promise((resolve, reject) => {
    const c = lock ? spawn("flock", [LOCK, ...cmd], { stdio: ["ignore", "pipe", "inherit"] }) : spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.on("error", reject);
    c.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
      if (code !== 0 || !line) reject(new Error(`${script} exited ${code}`));
      else resolve(JSON.parse(line.slice("BENCH_JSON ".length)) as Record<string, unknown>);
    });
  });
}

async function measure(result: BenchResult, lines: string[]) {
  if (only.has("construct")) {
    const sizes = has("--quick") ? [10, 100] : opt("--sizes", "10,100,1000").split(",").map(Number);
    result.construct = constructSection(lines, { sizes, repeats: Number(opt("--repeats", "5")), repeatsLarge: Number(opt("--repeats-large", "2")) });
  }
  if (only.has("engine")) {
    const sizes = has("--quick") ? "10,100" : opt("--preview-sizes", "10,100,1000");
    log("engine part: empty program, then preview of " + sizes + " hosts");
    result.engine = await child("preview-scale.ts", ["--sizes", sizes, "--repeats", opt("--engine-repeats", "3"), "--max-rss-mb", opt("--max-rss-mb", "12000")], false).catch((e) => ({ error: String(e) }));
  }
  const vmParts = VM_PARTS.filter((p) => only.has(p));
  if (vmParts.length) {
    log(`VM parts (${vmParts.join(",")}): flock ${LOCK} (waits while another VM run holds it)`);
    result.vm = await child("vm-bench.ts", ["--repeats", opt("--vm-repeats", "3"), "--distro", opt("--distro", "trixie"), "--only", vmParts.join(",")], true).catch((e) => ({ error: String(e) }));
  }
}

async function main() {
  const from = opt("--from-json", "");
  const result: BenchResult = from ? (JSON.parse(fs.readFileSync(from, "utf8")) as BenchResult) : { machine: machine(), args, date: new Date().toISOString() };
  const lines: string[] = [];
  if (!from) await measure(result, lines);
  const j = opt("--json", "");
  if (j) fs.writeFileSync(j, JSON.stringify(result, null, 2));
  process.stdout.write(renderReport(result, lines).join("\n") + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
