// The real Pulumi engine for the VM suites and the demo: Automation API stacks on a local file backend in a
// temp dir, run by the `pulumi` that test/toolchain resolves (the user's own with both plugins, else the one
// `npm run toolchain` built). Nothing here stands in for the engine or a provider: every step, diff and error
// below is what the CLI reported in its event stream.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type ConfigMap, type EngineEvent, type PulumiFn, type Stack } from "@pulumi/pulumi/automation";
import { resolvePulumi } from "../toolchain";
import { collectRun, type EngineRun } from "./events";

export { EngineRunError, type EngineRun, type Step } from "./events";
export { changed, errorLines, pathsContaining, refreshed, replaceSequence } from "./events";

let chosen: string | undefined;

/**
 * Makes the real CLI the one the Automation API runs, or throws naming what is missing (a VM suite never
 * skips for want of the engine). The built toolchain's offline environment is applied to process.env.
 */
export function requireEngine(log: (s: string) => void = (s) => console.log(`[engine] ${s}`)): string {
  if (chosen) return chosen;
  const choice = resolvePulumi(log);
  if (choice.source === "none") {
    throw new Error(`the real Pulumi engine is not available, so this suite cannot run: ${choice.reason}`);
  }
  if (choice.source === "built") Object.assign(process.env, choice.env);
  chosen = choice.describe;
  return chosen;
}

export interface EngineStackOptions {
  project: string;
  stack: string;
  /** An inline program (the SDK serves it in-process) ... */
  program?: PulumiFn;
  /** ... or a project directory run through pulumi-language-nodejs, as `pulumi up` in it would. */
  workDir?: string;
  /** Prints the CLI's own output as it comes (default: quiet). */
  echo?: boolean;
}

export type Config = Record<string, unknown>;
type UpLike = {
  continueOnError?: boolean;
  expectNoChanges?: boolean;
  refresh?: boolean;
  /** Aborting sends SIGINT to the CLI (as Ctrl-C in its terminal would). */
  signal?: AbortSignal;
  program?: PulumiFn;
  /** Sees every engine event as it arrives (e.g. to interrupt the run at a given step). */
  watch?: (e: EngineEvent, run: EngineRun) => void;
};

/** One stack: each operation returns what the engine did (steps, diagnostics, output) or throws EngineRunError. */
export class EngineStack {
  private constructor(
    readonly stack: Stack,
    readonly stateDir: string,
    private readonly echo: boolean,
    private readonly ownDir?: string,
  ) {}

  static async create(o: EngineStackOptions): Promise<EngineStack> {
    requireEngine();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `pyj-engine-${o.stack}-`));
    const stateDir = path.join(root, "state");
    fs.mkdirSync(stateDir);
    const envVars = { PULUMI_CONFIG_PASSPHRASE: "pyjoules-test", PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_SKIP_UPDATE_CHECK: "true" };
    const stack = o.program
      ? await LocalWorkspace.createOrSelectStack(
          { stackName: o.stack, projectName: o.project, program: o.program },
          { workDir: root, envVars, projectSettings: { name: o.project, runtime: "nodejs", backend: { url: envVars.PULUMI_BACKEND_URL } } },
        )
      : await LocalWorkspace.createOrSelectStack({ stackName: o.stack, workDir: o.workDir! }, { envVars });
    return new EngineStack(stack, stateDir, o.echo ?? false, root);
  }

  /** Replaces the stack config: plain values JSON-encoded (read with getObject), secrets as secrets. */
  async setConfig(plain: Config, secrets: Record<string, string> = {}): Promise<void> {
    const cfg: ConfigMap = {};
    for (const [k, v] of Object.entries(plain)) cfg[k] = { value: typeof v === "string" ? v : JSON.stringify(v) };
    for (const [k, v] of Object.entries(secrets)) cfg[k] = { value: v, secret: true };
    // Set first: a project that declares required config (Pulumi YAML) cannot list its config before they are set.
    await this.stack.setAllConfig(cfg);
    const current = await this.stack.getAllConfig();
    const stale = Object.keys(current).filter((k) => !(k.replace(/^[^:]+:/, "") in cfg) && !(k in cfg));
    if (stale.length) await this.stack.removeAllConfig(stale);
  }

  up({ watch, ...o }: UpLike = {}): Promise<EngineRun> {
    return this.op("up", (hooks) => this.stack.up({ ...hooks, ...o }), watch);
  }

  preview(o: { diff?: boolean; expectNoChanges?: boolean; refresh?: boolean } = {}): Promise<EngineRun> {
    return this.op("preview", (hooks) => this.stack.preview({ ...hooks, diff: o.diff ?? true, ...o }));
  }

  refresh(o: { clearPendingCreates?: boolean } = {}): Promise<EngineRun> {
    return this.op("refresh", (hooks) => this.stack.refresh({ ...hooks, ...o }));
  }

  /** `pulumi refresh --preview-only`: what a refresh would read, state untouched. */
  previewRefresh(): Promise<EngineRun> {
    return this.op("refresh", (hooks) => this.stack.previewRefresh({ ...hooks }));
  }

  destroy(o: { continueOnError?: boolean } = {}): Promise<EngineRun> {
    return this.op("destroy", (hooks) => this.stack.destroy({ ...hooks, ...o }));
  }

  /** Removes the stack (and its state dir); never throws. */
  async cleanup(): Promise<void> {
    await this.stack.workspace.removeStack(this.stack.name, { force: true }).catch(() => undefined);
    if (this.ownDir) fs.rmSync(this.ownDir, { recursive: true, force: true });
  }

  private op(
    kind: EngineRun["kind"],
    fn: (hooks: { onEvent: (e: EngineEvent) => void; onOutput: (s: string) => void; color: "never" }) => Promise<unknown>,
    watch?: UpLike["watch"],
  ): Promise<EngineRun> {
    return collectRun(kind, this.echo, (onEvent, onOutput) => fn({ onEvent, onOutput, color: "never" }), watch);
  }
}
export { rootProjectDir } from "./project";
