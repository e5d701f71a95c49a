// The real Pulumi CLI path (Automation API, local file backend), shared by real-cli.test.ts and the demo.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type ConfigMap, type Stack } from "@pulumi/pulumi/automation";
import { stackProgram } from "../../components/stack";
import { resolvePulumi } from "../toolchain";
import type { Vm } from "../vm";
import { plainConfig, PROJECT, type FleetOptions } from "./fleet";

/**
 * Why the real CLI cannot be used here, or undefined when a `pulumi` with the command/docker plugins is available:
 * the user's own on PATH, else the toolchain built by `npm run toolchain` (`PYJOULES_TOOLCHAIN=built` skips the
 * user's). When the built one is chosen its offline environment (PATH, PULUMI_HOME, …) is applied to process.env,
 * so the Automation API in cliStack() runs it. Reads the toolchain's status.json only: never builds anything.
 */
export function realCliUnavailable(): string | undefined {
  const choice = resolvePulumi((s) => console.log(`[real-cli] ${s}`));
  if (choice.source === "none") return choice.reason;
  if (choice.source === "built") Object.assign(process.env, choice.env);
  return undefined;
}

export interface CliStack {
  stack: Stack;
  dir: string;
  setFleet(o?: FleetOptions): Promise<void>;
  cleanup(): Promise<void>;
}

/** An inline-program stack of the root program on a local file backend in a temp dir. */
export async function cliStack(vm: Vm, stackName: string): Promise<CliStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pyj-cli-"));
  fs.mkdirSync(path.join(dir, "state"));
  const envVars = { PULUMI_CONFIG_PASSPHRASE: "pyjoules-test", PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_SKIP_UPDATE_CHECK: "true" };
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName, projectName: PROJECT, program: async () => stackProgram(new pulumi.Config()) },
    {
      workDir: dir,
      envVars,
      projectSettings: { name: PROJECT, runtime: "nodejs", backend: { url: envVars.PULUMI_BACKEND_URL } },
    },
  );
  const setFleet = async (o: FleetOptions = {}) => {
    const cfg: ConfigMap = { sshPrivateKey: { value: vm.image.userKey, secret: true } };
    for (const [k, v] of Object.entries(plainConfig(vm, o))) cfg[k] = { value: JSON.stringify(v) };
    await stack.setAllConfig(cfg);
  };
  await setFleet();
  return {
    stack,
    dir,
    setFleet,
    cleanup: async () => {
      await stack.workspace.removeStack(stackName, { force: true }).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
