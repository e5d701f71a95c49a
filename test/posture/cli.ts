// The real Pulumi CLI path (Automation API, local file backend), shared by real-cli.test.ts and the demo.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type ConfigMap, type Stack } from "@pulumi/pulumi/automation";
import { stackProgram } from "../../components/stack";
import type { Vm } from "../vm";
import { plainConfig, PROJECT, type FleetOptions } from "./fleet";

/** Why the real CLI cannot be used here, or undefined when `pulumi` and the command/docker plugins are available. */
export function realCliUnavailable(): string | undefined {
  let version: string;
  try {
    version = execFileSync("pulumi", ["version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 }).trim();
  } catch {
    return "no pulumi CLI here: `pulumi` is not on PATH";
  }
  let plugins = "";
  try {
    plugins = execFileSync("pulumi", ["plugin", "ls"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
  } catch (e) {
    return `pulumi ${version} is on PATH but \`pulumi plugin ls\` failed: ${(e as Error).message.split("\n")[0]}`;
  }
  const missing = ["command", "docker"].filter((p) => !new RegExp(`^${p}\\s+resource\\s`, "m").test(plugins));
  if (missing.length) return `pulumi ${version} is on PATH but the resource plugin(s) ${missing.join(", ")} are not installed (\`pulumi plugin ls\`)`;
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
