// Engine overhead and `pulumi preview` at fleet scale, through the real CLI (no VM):
//   - an empty nodejs program: `pulumi preview` and `pulumi up` (CLI + language host + node start, nothing else);
//   - the root program (index.ts through pulumi-language-nodejs, so the program is its own process) with
//     10, 100, 1,000 hosts at unreachable documentation addresses (RFC 5737 / RFC 3849) and a fake pinned host
//     key: preview opens no SSH. Wall time and peak RSS of the CLI, the node program and the plugins.
// Prints progress on stderr and `BENCH_JSON {...}` on stdout.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../toolchain";
import { rootProjectDir } from "../engine";
import { cliProject, runCli, writeStackConfig, type CliRun } from "./cli";

const log = (s: string) => process.stderr.write(`[preview-scale] ${s}\n`);
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvbS6YQ5WlM3LL+7xcF8tJ0cPq3+1bc8cF7mQX9yHcd";

/** Host i's address: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, then 2001:db8::/32 (never routed). */
export function docAddress(i: number): string {
  const nets = ["192.0.2", "198.51.100", "203.0.113"];
  if (i < 3 * 254) return `${nets[Math.floor(i / 254)]}.${(i % 254) + 1}`;
  return `2001:db8::${(i + 1).toString(16)}`;
}

export function fleetConfig(hosts: number, hostKeys = true): Record<string, unknown> {
  return {
    hosts: Array.from({ length: hosts }, (_, i) => ({ name: `h${i}`, host: docAddress(i), ...(hostKeys ? { hostKey: HOST_KEY } : {}) })),
    ssh: { user: "deploy", agentSocketPath: "/run/pyj-bench-no-agent.sock" },
    client: { remoteWriteUrl: "https://prometheus.example.com/api/v1/write" },
  };
}

export interface EmptyResult {
  preview: CliRun[];
  upFirst: CliRun;
  upNoop: CliRun[];
}

function emptyProjectDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pyj-bench-empty-"));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: bench-empty\nruntime: nodejs\nmain: index.js\n");
  fs.writeFileSync(path.join(dir, "index.js"), 'require("@pulumi/pulumi");\nmodule.exports = {};\n');
  fs.writeFileSync(path.join(dir, "package.json"), '{ "name": "bench-empty", "private": true }\n');
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** The engine's own cost: an empty program, preview and up (first creates only the Stack resource). */
export async function emptyProgram(repeats: number): Promise<EmptyResult> {
  const dir = emptyProjectDir();
  const p = cliProject(dir, log);
  try {
    const upFirst = await runCli(p, ["up", "--yes", "--skip-preview"]);
    const preview: CliRun[] = [];
    const upNoop: CliRun[] = [];
    for (let i = 0; i < repeats; i++) {
      preview.push(await runCli(p, ["preview"]));
      upNoop.push(await runCli(p, ["up", "--yes", "--skip-preview"]));
      log(`empty program #${i + 1}: preview ${preview[i]!.ms.toFixed(0)} ms, no-op up ${upNoop[i]!.ms.toFixed(0)} ms`);
    }
    return { preview, upFirst, upNoop };
  } finally {
    p.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface ScaleResult {
  hosts: number;
  run: CliRun;
  resources?: number;
  hostKeys: boolean;
  /** Bytes of the hosts config value as JSON (the language host hands all config to node in one env string). */
  configBytes: number;
  /** The run with pinned host keys when it failed and this one (without) replaced it. */
  withHostKeysFailed?: string;
}

/** Preview with pinned host keys; if the language host cannot even start node (E2BIG), again without them. */
export async function previewFleet(hosts: number, maxRssMb: number): Promise<ScaleResult> {
  const r = await previewFleetOnce(hosts, maxRssMb, true);
  if (r.run.code === 0 || !/argument list too long/.test(r.run.tail)) return r;
  const why = /error: (.*argument list too long)/.exec(r.run.tail)?.[1] ?? "argument list too long";
  log(`${hosts} hosts with host keys: ${why} (config ${r.configBytes} bytes); again without hostKey`);
  return { ...(await previewFleetOnce(hosts, maxRssMb, false)), withHostKeysFailed: why };
}

/** `pulumi preview` of the root program with `hosts` hosts, as its own project (language host + node). */
async function previewFleetOnce(hosts: number, maxRssMb: number, hostKeys: boolean): Promise<ScaleResult> {
  const { dir, cleanup } = rootProjectDir();
  const p = cliProject(dir, log);
  try {
    const cfg = fleetConfig(hosts, hostKeys);
    const configBytes = JSON.stringify(cfg.hosts).length;
    writeStackConfig(p, "pulumi-pyjoules", cfg);
    const run = await runCli(p, ["preview"], maxRssMb);
    const resources = Number(/(\d+) to create/.exec(run.tail)?.[1] ?? NaN);
    if (run.code !== 0) log(`preview of ${hosts} hosts exited ${run.code}${run.aborted ? `, ${run.aborted}` : ""}:\n${run.tail}`);
    log(`preview ${hosts} hosts: ${(run.ms / 1000).toFixed(1)} s, ${resources} to create, peak RSS total ${run.peaks.totalPeakMb.toFixed(0)} MB, PSS ${run.peaks.totalPeakPssMb.toFixed(0)} MB (cli ${run.peaks.cli.peakRssMb.toFixed(0)}, program ${run.peaks.program.peakRssMb.toFixed(0)}, docker plugins ${run.peaks["provider-docker"].peakRssMb.toFixed(0)} RSS / ${run.peaks["provider-docker"].peakPssMb.toFixed(0)} PSS in ${run.peaks["provider-docker"].maxProcs} procs)`);
    return { hosts, run, resources, hostKeys, configBytes };
  } finally {
    p.cleanup();
    cleanup();
  }
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (n: string, d: string) => (args.includes(n) ? args[args.indexOf(n) + 1]! : d);
  const sizes = opt("--sizes", "10,100,1000").split(",").map(Number);
  const maxRssMb = Number(opt("--max-rss-mb", "16000"));
  const empty = args.includes("--no-empty") ? undefined : await emptyProgram(Number(opt("--repeats", "3")));
  const scale: ScaleResult[] = [];
  for (const n of sizes) scale.push(await previewFleet(n, maxRssMb));
  process.stdout.write(`BENCH_JSON ${JSON.stringify({ empty, scale, cores: os.cpus().length })}\n`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e) => {
      log(`failed: ${(e as Error)?.stack ?? e}`);
      process.exit(1);
    },
  );
}
