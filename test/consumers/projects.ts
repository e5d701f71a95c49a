// Consumer projects in TypeScript, Python and Go, set up in temp dirs the way a user sets them up: the packed tarball
// from npm for TypeScript; `pulumi package add <checkout>` (which generates the SDK) for Python and Go. Every command runs the real CLI the engine harness resolved (test/engine) and fails
// loudly with its output. Used by test/integration/consumers.test.ts.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../toolchain";

const FIXTURES = __dirname;
const LOCK = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> };
/** The @pulumi/pulumi version the checkout is locked to: the Python and Go SDKs are pinned to the same one. */
export const PULUMI_VERSION = LOCK.packages["node_modules/@pulumi/pulumi"]!.version;
const lockVersion = (name: string) => LOCK.packages[`node_modules/${name}`]!.version;

/** npm's lifecycle variables of an enclosing `npm run` would point a child npm at this repository. */
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_(package|lifecycle|config_local_prefix)|INIT_CWD$)/i.test(k))),
  ...extra,
});

/** Runs a command in `cwd`; a failure throws with the command, its exit status and its output. */
export function sh(cmd: string, args: string[], cwd: string, o: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: childEnv(o.env), stdio: ["ignore", "pipe", "pipe"], timeout: o.timeoutMs ?? 10 * 60_000 });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d));
    p.stderr.on("data", (d: Buffer) => (out += d));
    p.on("error", (e) => reject(new Error(`${cmd} ${args.join(" ")} (in ${cwd}): ${e.message}`)));
    p.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} (in ${cwd}) exited ${code}:\n${out.slice(-4000)}`))));
  });
}

export const tempDir = (what: string) => fs.mkdtempSync(path.join(os.tmpdir(), `pyj-consumer-${what}-`));

/** `npm pack` of the checkout (its prepare script builds bin/): the tarball's path. */
export async function packTarball(dest: string): Promise<string> {
  const out = await sh("npm", ["pack", "--json", "--pack-destination", dest], REPO_ROOT);
  const [report] = JSON.parse(out.slice(out.indexOf("["))) as { filename: string }[];
  return path.join(dest, report!.filename);
}

/** A fresh TypeScript project outside the repository: the tarball and @pulumi/pulumi from npm, test/consumers/typescript/index.ts. */
export async function typescriptProject(tarball: string): Promise<string> {
  const dir = tempDir("ts");
  const pkg = {
    name: "pyjoules-consumer-ts", private: true, main: "index.ts",
    dependencies: { pyjoules: `file:${tarball}`, "@pulumi/pulumi": lockVersion("@pulumi/pulumi") },
    devDependencies: { "@types/node": lockVersion("@types/node"), typescript: lockVersion("typescript") },
  };
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: pyjoules-consumer-ts\nruntime:\n  name: nodejs\n  options:\n    packagemanager: npm\n");
  const tsconfig = { compilerOptions: { strict: true, target: "es2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true } };
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  fs.copyFileSync(path.join(FIXTURES, "typescript", "index.ts"), path.join(dir, "index.ts"));
  await sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], dir);
  return dir;
}

/** Copies an example (or fixture) project dir, dropping its `packages:` entry and any stack files. */
function copyProject(from: string, what: string): string {
  const dir = tempDir(what);
  for (const f of fs.readdirSync(from).filter((f) => !/^Pulumi\..+\.yaml$/.test(f))) fs.cpSync(path.join(from, f), path.join(dir, f), { recursive: true });
  const project = path.join(dir, "Pulumi.yaml");
  if (fs.existsSync(project)) fs.writeFileSync(project, fs.readFileSync(project, "utf8").replace(/^packages:\n(?:[ #].*\n|\n)*/m, ""));
  return dir;
}

/**
 * examples/python as a user runs it: its virtualenv by `pulumi install` (the `pulumi` package from PyPI, pinned to
 * the checkout's version), then `pulumi package add <checkout>`, which generates the Python SDK into sdks/ and
 * installs it there.
 */
export async function pythonProject(): Promise<string> {
  const dir = copyProject(path.join(REPO_ROOT, "examples", "python"), "py");
  const constraints = path.join(dir, "constraints.txt");
  fs.writeFileSync(constraints, `pulumi==${PULUMI_VERSION}\n`);
  const env = { PIP_CONSTRAINT: constraints, PIP_DISABLE_PIP_VERSION_CHECK: "1" };
  await sh("pulumi", ["install"], dir, { env });
  await sh("pulumi", ["package", "add", REPO_ROOT], dir, { env });
  return dir;
}

/** test/consumers/python-invalid, sharing the example project's virtualenv (which has the generated SDK). */
export function pythonInvalidProject(exampleDir: string): string {
  const dir = tempDir("py-invalid");
  fs.copyFileSync(path.join(FIXTURES, "python-invalid", "__main__.py"), path.join(dir, "__main__.py"));
  const venv = path.join(exampleDir, "venv");
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: pyjoules-python-invalid\nruntime:\n  name: python\n  options:\n    virtualenv: ${venv}\npackages:\n  pyjoules: ${REPO_ROOT}\n`);
  return dir;
}

/**
 * A Go project: `pulumi package add <checkout>` generates the Go SDK into sdks/ and adds its replace to go.mod;
 * the Pulumi Go SDK comes from the Go module proxy at the checkout's version.
 */
export async function goProject(): Promise<string> {
  const dir = tempDir("go");
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: pyjoules-consumer-go\nruntime: go\n");
  fs.writeFileSync(path.join(dir, "go.mod"), "module pyjoules-consumer-go\n\ngo 1.24\n");
  await sh("pulumi", ["package", "add", REPO_ROOT], dir);
  fs.copyFileSync(path.join(FIXTURES, "go", "main.go"), path.join(dir, "main.go"));
  await sh("go", ["get", `github.com/pulumi/pulumi/sdk/v3@v${PULUMI_VERSION}`], dir);
  await sh("go", ["mod", "tidy"], dir);
  await sh("go", ["build", "-o", "/dev/null", "."], dir, { timeoutMs: 20 * 60_000 });
  return dir;
}

/**
 * The public names a generated SDK defines: Python classes and Go constructors and `...Args` structs; what
 * docs/multi-language.md must list.
 */
export function generatedNames(sdkDir: string, language: "python" | "go"): string[] {
  const files = fs.readdirSync(sdkDir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(language === "python" ? ".py" : ".go"));
  const pattern = language === "python" ? /^class (\w+)\b/gm : /^(?:func (New\w+)|type (\w+Args) struct)\b/gm;
  const names = files.flatMap((f) => [...fs.readFileSync(path.join(sdkDir, f), "utf8").matchAll(pattern)].map((m) => m[1] ?? m[2]!));
  // not: the TypedDict twins, the provider resource, Python's module-loading helpers, Go's unexported structs
  return [...new Set(names)].filter((n) => /^[A-Z]/.test(n) && !/Dict$|^(Provider|NewProvider|ProviderArgs|Module|Package)$/.test(n)).sort();
}
