// Runs the real `pulumi` CLI (the one test/engine resolves) in a project directory on a file backend,
// as a user would type it, with the process tree's peak RSS by role (proc-tree.ts).
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { requireEngine } from "../engine";
import { treeRssMb, watchTree, type TreePeaks } from "./proc-tree";

export interface CliRun {
  ms: number;
  code: number | null;
  peaks: TreePeaks;
  tail: string;
  aborted?: string;
}

export interface CliProject {
  dir: string;
  env: NodeJS.ProcessEnv;
  cleanup: () => void;
}

/** A throwaway backend + stack "bench" for the project in `dir` (Pulumi.yaml already there). */
export function cliProject(dir: string, log: (s: string) => void): CliProject {
  requireEngine(log);
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "pyj-bench-state-"));
  const env = {
    ...process.env,
    PULUMI_BACKEND_URL: `file://${state}`,
    PULUMI_CONFIG_PASSPHRASE: "pyjoules-bench",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DIY_BACKEND_GZIP: "false",
  };
  execFileSync("pulumi", ["stack", "init", "bench", "--non-interactive"], { cwd: dir, env, stdio: "pipe" });
  return { dir, env, cleanup: () => fs.rmSync(state, { recursive: true, force: true }) };
}

/** Appends a `config:` block (values as JSON, which is YAML) to Pulumi.bench.yaml. */
export function writeStackConfig(p: CliProject, project: string, config: Record<string, unknown>): void {
  const file = path.join(p.dir, "Pulumi.bench.yaml");
  const kept = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => /^encryptionsalt:/.test(l)) : [];
  const lines = ["config:", ...Object.entries(config).map(([k, v]) => `  ${project}:${k}: ${JSON.stringify(v)}`)];
  fs.writeFileSync(file, [...kept, ...lines, ""].join("\n"));
}

/** `pulumi <args>` in the project; kills the tree (and says so) when it passes `maxRssMb`. */
export function runCli(p: CliProject, args: string[], maxRssMb = 16_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("pulumi", [...args, "--non-interactive", "--color", "never", "--stack", "bench"], {
      cwd: p.dir,
      env: p.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const w = watchTree(child.pid!, 200);
    let out = "";
    let aborted: string | undefined;
    const guard = setInterval(() => {
      const mb = treeRssMb(child.pid!);
      if (mb > maxRssMb && !aborted) {
        aborted = `stopped at ${mb.toFixed(0)} MB RSS (guard ${maxRssMb} MB)`;
        process.kill(-child.pid!, "SIGKILL");
      }
    }, 1000);
    child.stdout.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    child.stderr.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(guard);
      const peaks = w.stop();
      resolve({ ms: performance.now() - t0, code, peaks, tail: out.split("\n").slice(-15).join("\n"), aborted });
    });
  });
}
