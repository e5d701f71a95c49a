// Where the built Pulumi toolchain lives and how to run it offline; which `pulumi` the repo's tests use.
// Nothing here builds anything (that is `npm run toolchain`, test/toolchain/build.ts).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { sdkVersions, toolchainKey, toolchainSpecs, type BinarySpec, type GoEnvInfo, type SdkVersions } from "./recipe";
import { missingLines, STATUS_FILE, type ToolchainStatus } from "./status";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const BUILD_COMMAND = "npm run toolchain";

export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "pulumi-pyjoules", "toolchain");
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** The SDK versions this checkout asks for (package-lock.json + node_modules/@pulumi/*). */
export function repoSdkVersions(root = REPO_ROOT): SdkVersions {
  const pkg = (name: string) => readJson<object>(path.join(root, "node_modules", "@pulumi", name, "package.json"));
  return sdkVersions(readJson(path.join(root, "package-lock.json")), pkg("command"), pkg("docker"));
}

/** `go env` values that change the build output; throws when Go is not on PATH. */
export function goEnvInfo(): GoEnvInfo {
  const out = execFileSync("go", ["env", "-json", "GOVERSION", "GOOS", "GOARCH", "GOFLAGS"], { encoding: "utf8", timeout: 30_000 });
  return JSON.parse(out) as GoEnvInfo;
}

export interface Toolchain {
  key: string;
  dir: string;
  go: GoEnvInfo;
  sdk: SdkVersions;
  specs: BinarySpec[];
}

/** The cache entry for this checkout's inputs (it may not exist yet). */
export function currentToolchain(): Toolchain {
  const sdk = repoSdkVersions();
  const go = goEnvInfo();
  const specs = toolchainSpecs(sdk);
  const key = toolchainKey(go, specs);
  return { key, dir: path.join(cacheRoot(), key), go, sdk, specs };
}

export function readStatus(dir: string): ToolchainStatus | undefined {
  const file = path.join(dir, STATUS_FILE);
  return fs.existsSync(file) ? readJson<ToolchainStatus>(file) : undefined;
}

export const binDir = (dir: string) => path.join(dir, "bin");
export const pulumiHome = (dir: string) => path.join(dir, "home");

/** Environment that runs the built CLI offline: its bin first on PATH, a private PULUMI_HOME, no downloads. */
export function toolchainEnv(dir = currentToolchain().dir, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    ...definedEnv(base),
    PATH: [binDir(dir), base.PATH ?? ""].filter(Boolean).join(path.delimiter),
    PULUMI_HOME: pulumiHome(dir),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    // sdk/go/common/env/env.go: a Bool, so it must be "true" or "1" (the doc comment's "any non-empty value" is wrong).
    PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
  };
}

/** Why the user's own `pulumi` cannot run the project's programs, or undefined when it has both plugins. */
export function userPulumiUnusable(): string | undefined {
  let version: string;
  try {
    version = execFileSync("pulumi", ["version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 }).trim();
  } catch {
    return "`pulumi` is not on PATH";
  }
  let plugins: string;
  try {
    plugins = execFileSync("pulumi", ["plugin", "ls"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
  } catch (e) {
    return `pulumi ${version} is on PATH but \`pulumi plugin ls\` failed: ${(e as Error).message.split("\n")[0]}`;
  }
  const missing = ["command", "docker"].filter((p) => !new RegExp(`^${p}\\s+resource\\s`, "m").test(plugins));
  return missing.length ? `pulumi ${version} is on PATH but lacks the resource plugin(s) ${missing.join(", ")} (\`pulumi plugin ls\`)` : undefined;
}

/** Why the built toolchain cannot be used (from status.json only: fast, builds nothing), or undefined. */
export function builtToolchainUnusable(): { reason?: string; dir?: string } {
  let tc: Toolchain;
  try {
    tc = currentToolchain();
  } catch (e) {
    return { reason: `the toolchain cannot be located: ${(e as Error).message.split("\n")[0]}` };
  }
  const status = readStatus(tc.dir);
  if (!status) return { reason: `the toolchain was not built for these inputs (no ${path.join(tc.dir, STATUS_FILE)}): run \`${BUILD_COMMAND}\``, dir: tc.dir };
  if (status.complete) return { dir: tc.dir };
  const missing = missingLines(status, { commands: false }).join("; ");
  return { reason: `the built toolchain is incomplete (${path.join(tc.dir, STATUS_FILE)}; \`${BUILD_COMMAND}\` retries and prints the failing commands): ${missing}`, dir: tc.dir };
}

export type PulumiChoice =
  | { source: "user"; env: Record<string, string>; describe: string }
  | { source: "built"; env: Record<string, string>; describe: string; dir: string }
  | { source: "none"; reason: string };

/**
 * Which `pulumi` to run: the user's own when usable, else the built toolchain; `PYJOULES_TOOLCHAIN=built`
 * skips the user's. Prints which one runs; when none can, returns why (the caller reports it).
 */
export function resolvePulumi(log: (s: string) => void = (s) => console.log(`[toolchain] ${s}`)): PulumiChoice {
  const forceBuilt = process.env.PYJOULES_TOOLCHAIN === "built";
  const user = forceBuilt ? "skipped (PYJOULES_TOOLCHAIN=built)" : userPulumiUnusable();
  if (!user) {
    const choice: PulumiChoice = { source: "user", env: definedEnv(process.env), describe: "the user's `pulumi` on PATH" };
    log(`using ${choice.describe}`);
    return choice;
  }
  const built = builtToolchainUnusable();
  if (!built.reason && built.dir) {
    log(`using the built toolchain ${built.dir} (user's pulumi: ${user})`);
    return { source: "built", env: toolchainEnv(built.dir), describe: `the built toolchain ${built.dir}`, dir: built.dir };
  }
  return { source: "none", reason: `no usable pulumi: user's: ${user}; built: ${built.reason}` };
}

function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
