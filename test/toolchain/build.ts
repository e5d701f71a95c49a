// `npm run toolchain` (tsx test/toolchain/build.ts): builds the real Pulumi CLI, language hosts and providers
// from Go modules into ~/.cache/pulumi-pyjoules/toolchain/<key>/, builds everything it can, writes status.json,
// and exits non-zero naming every missing piece with the exact command that failed. See README.md.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { binDir, cacheRoot, currentToolchain, pulumiHome, type Toolchain } from "./index";
import { GO_ENV, RECIPE_VERSION, goBuildArgs, parseGoModDownload, wrapperGoMod, wrapperToolsGo, type BinarySpec } from "./recipe";
import { failureText, isComplete, isPresent, missingLines, STATUS_FILE, type BinaryStatus, type Failure, type ToolchainStatus } from "./status";

const t0 = Date.now();
const fmt = (ms: number) => `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}s`;
const log = (s: string) => console.log(`[toolchain ${fmt(Date.now() - t0)}] ${s}`);
const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
const shell = (cmd: string, args: string[]) => [cmd, ...args].map(quote).join(" ");

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; output is appended to `logFile` when given, and also returned. */
function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFile?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    const logFd = opts.logFile ? fs.openSync(opts.logFile, "a") : undefined;
    if (logFd !== undefined) fs.writeSync(logFd, `$ ${shell(cmd, args)}   (cwd ${opts.cwd ?? process.cwd()})\n`);
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => ((stdout += d), logFd !== undefined && fs.writeSync(logFd, d)));
    p.stderr.on("data", (d: Buffer) => ((stderr += d), logFd !== undefined && fs.writeSync(logFd, d)));
    const done = (code: number) => {
      if (logFd !== undefined) fs.closeSync(logFd);
      resolve({ code, stdout, stderr });
    };
    p.on("error", (e) => ((stderr += String(e)), done(127)));
    p.on("close", (code) => done(code ?? 1));
  });
}

const goEnv = (): NodeJS.ProcessEnv => ({ ...process.env, ...GO_ENV });

/** Takes `<root>/<key>.lock` (pid inside); waits while a live process holds it, breaks a stale one. */
async function acquireLock(file: string): Promise<() => void> {
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      const release = () => fs.rmSync(file, { force: true });
      process.on("exit", release);
      for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => (release(), process.exit(130)));
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = Number(fs.readFileSync(file, "utf8").trim());
    if (!holder || !alive(holder)) {
      log(`breaking stale lock ${file} (pid ${holder || "?"} is gone)`);
      fs.rmSync(file, { force: true });
      continue;
    }
    if (!announced) log(`another build (pid ${holder}) holds ${file}; waiting for it`);
    announced = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** One `go mod download -json M@V` per module the binary needs; the refusals, with exact command and error. */
async function probe(spec: BinarySpec): Promise<Failure[]> {
  const failures: Failure[] = [];
  for (const m of spec.modules) {
    const args = ["mod", "download", "-json", `${m.path}@${m.version}`];
    const r = await run("go", args, { cwd: cacheRoot(), env: goEnv() });
    const res = parseGoModDownload(r.stdout);
    const bad = res.filter((x) => !x.ok);
    if (r.code !== 0 || bad.length || !res.length) {
      failures.push({ command: shell("go", args), error: bad.map((x) => x.error).join("\n") || r.stderr.trim() || `exit ${r.code}` });
    }
  }
  return failures;
}

function tail(file: string, n = 20): string {
  if (!fs.existsSync(file)) return "";
  return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-n).join("\n");
}

/** Runs one build step into the binary's log; a Failure (with the log's tail printed) when it fails. */
async function step(cmd: string, args: string[], cwd: string, logFile: string): Promise<Failure | undefined> {
  const r = await run(cmd, args, { cwd, env: goEnv(), logFile });
  if (r.code === 0) return undefined;
  console.error(`--- last 20 lines of ${logFile} ---\n${tail(logFile)}\n---`);
  return { command: shell(cmd, args), error: firstError(r.stderr || r.stdout) || `exit ${r.code}` };
}

/** The first line of go's output that is an error, not a "# package" header or download progress. */
function firstError(output: string): string | undefined {
  return output.split("\n").find((l) => l.trim() && !l.startsWith("#") && !/^go: (downloading|finding|extracting) /.test(l));
}

/** `go list -m` in the wrapper must show every module and pin at exactly the wanted version. */
async function checkResolved(spec: BinarySpec, cwd: string, logFile: string): Promise<Failure | undefined> {
  const want = [...spec.modules, ...spec.pins];
  const args = ["list", "-m", "-f", "{{.Path}} {{.Version}}", ...want.map((m) => m.path)];
  const r = await run("go", args, { cwd, env: goEnv(), logFile });
  const got = new Map(r.stdout.trim().split("\n").map((l) => l.split(" ") as [string, string]));
  const wrong = want.filter((m) => got.get(m.path) !== m.version);
  if (r.code === 0 && !wrong.length) return undefined;
  return { command: shell("go", args), error: `resolved ${wrong.map((m) => `${m.path}@${got.get(m.path) ?? "?"} (want ${m.version})`).join(", ") || r.stderr.trim()}` };
}

/** Wrapper module → tidy → version check → go build into a temp dir → rename into place. */
async function compile(spec: BinarySpec, tc: Toolchain, logFile: string): Promise<Failure | undefined> {
  const src = path.join(tc.dir, "src", spec.name);
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, "go.mod"), wrapperGoMod(spec));
  fs.writeFileSync(path.join(src, "tools.go"), wrapperToolsGo(spec));
  const tmp = fs.mkdtempSync(path.join(tc.dir, "tmp", `${spec.name}-`));
  try {
    const out = path.join(tmp, spec.name);
    const failed =
      (await step("go", ["mod", "tidy"], src, logFile)) ??
      (await checkResolved(spec, src, logFile)) ??
      (await step("go", goBuildArgs(spec, out), src, logFile));
    if (failed) return failed;
    const companions = await copyCompanions(spec, tmp);
    if (!Array.isArray(companions)) return companions;
    fs.mkdirSync(path.join(tc.dir, spec.dir), { recursive: true });
    // Companions first, the binary last: a present binary means a complete entry.
    for (const f of [...companions, spec.name]) fs.renameSync(path.join(tmp, f), path.join(tc.dir, spec.dir, f));
    return undefined;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Copies the spec's companion scripts from their module's zip into `tmp`; their names, or the failure. */
async function copyCompanions(spec: BinarySpec, tmp: string): Promise<string[] | Failure> {
  const c = spec.companions;
  if (!c) return [];
  const args = ["mod", "download", "-json", `${c.module.path}@${c.module.version}`];
  const [res] = parseGoModDownload((await run("go", args, { cwd: tmp, env: goEnv() })).stdout);
  if (!res?.ok || !res.dir) return { command: shell("go", args), error: res?.error ?? "no output" };
  const names = c.files.map((f) => path.basename(f));
  c.files.forEach((f, i) => fs.copyFileSync(path.join(res.dir!, f), path.join(tmp, names[i])));
  names.forEach((n) => fs.chmodSync(path.join(tmp, n), 0o755));
  return names;
}

function baseStatus(spec: BinarySpec): Omit<BinaryStatus, "state"> {
  return {
    name: spec.name, kind: spec.kind, version: spec.version, optional: !!spec.optional,
    modules: spec.modules.map((m) => `${m.path}@${m.version}`),
    plugin: spec.plugin && { ...spec.plugin, installed: false },
  };
}

/** Cached, or probed and built; never throws. */
async function ensureBinary(spec: BinarySpec, tc: Toolchain): Promise<BinaryStatus> {
  const target = path.join(tc.dir, spec.dir, spec.name);
  const base = baseStatus(spec);
  if (fs.existsSync(target)) {
    log(`${spec.name} ${spec.version}: cached (${target})`);
    return { ...base, state: "cached", path: target };
  }
  const started = Date.now();
  const failures = await probe(spec);
  if (failures.length) {
    log(`${spec.name} ${spec.version}: MISSING — ${failures.map((f) => failureText(f)).join("; ")}`);
    return { ...base, state: "missing", failures };
  }
  if (spec.notImplemented) {
    log(`${spec.name} ${spec.version}: MISSING — modules are served, but ${spec.notImplemented}`);
    return { ...base, state: "missing", failures: [{ command: "(none)", error: spec.notImplemented }] };
  }
  const logFile = path.join(tc.dir, "logs", `${spec.name}.log`);
  fs.writeFileSync(logFile, "");
  log(`${spec.name} ${spec.version}: building (log ${logFile})`);
  const beat = setInterval(() => log(`${spec.name}: still building (${fmt(Date.now() - started)})`), 60_000);
  const failed = await compile(spec, tc, logFile).finally(() => clearInterval(beat));
  const buildSeconds = Math.round((Date.now() - started) / 1000);
  if (failed) {
    log(`${spec.name} ${spec.version}: FAILED after ${fmt(Date.now() - started)} — ${failureText(failed, logFile)}`);
    return { ...base, state: "failed", failures: [failed], log: logFile, buildSeconds };
  }
  log(`${spec.name} ${spec.version}: built in ${fmt(Date.now() - started)} → ${target}`);
  return { ...base, state: "built", path: target, log: logFile, buildSeconds };
}

function pluginInstalled(tc: Toolchain, p: { name: string; version: string }): boolean {
  const d = path.join(pulumiHome(tc.dir), "plugins", `resource-${p.name}-v${p.version}`);
  return fs.existsSync(d) && !fs.existsSync(`${d}.partial`);
}

/** `pulumi plugin install resource NAME VERSION --file BIN` into the private PULUMI_HOME (no network). */
async function installPlugin(b: BinaryStatus, tc: Toolchain, cli: string): Promise<void> {
  if (!b.plugin || !b.path) return;
  if (pluginInstalled(tc, b.plugin)) {
    b.plugin.installed = true;
    return;
  }
  const args = ["plugin", "install", "resource", b.plugin.name, b.plugin.version, "--file", b.path];
  const logFile = path.join(tc.dir, "logs", `${b.name}.install.log`);
  const r = await run(cli, args, { env: { ...process.env, PULUMI_HOME: pulumiHome(tc.dir), PULUMI_SKIP_UPDATE_CHECK: "true" }, logFile });
  b.plugin.installed = r.code === 0 && pluginInstalled(tc, b.plugin);
  if (!b.plugin.installed) (b.failures ??= []).push({ command: shell(cli, args), error: r.stderr.trim().split("\n").slice(-1)[0] || `exit ${r.code}` });
  log(`plugin ${b.plugin.name} ${b.plugin.version}: ${b.plugin.installed ? "installed" : `NOT installed (log ${logFile})`}`);
}

/** `pulumi version` of the built CLI must be exactly v<version>. */
async function checkCliVersion(b: BinaryStatus): Promise<string | undefined> {
  if (!b.path) return undefined;
  const r = await run(b.path, ["version"], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } });
  const got = r.stdout.trim();
  if (got !== `v${b.version}`) {
    b.state = "failed";
    (b.failures ??= []).push({ command: `${b.path} version`, error: `printed ${JSON.stringify(got)}, want v${b.version}` });
  }
  log(`pulumi version → ${got || r.stderr.trim()}`);
  return got;
}

function writeStatus(tc: Toolchain, binaries: BinaryStatus[], cliVersion?: string): ToolchainStatus {
  const status: ToolchainStatus = {
    recipe: RECIPE_VERSION, key: tc.key, dir: tc.dir, updatedAt: new Date().toISOString(), go: tc.go, sdk: tc.sdk,
    binaries, complete: isComplete(binaries), cliVersion,
  };
  const file = path.join(tc.dir, STATUS_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(status, null, 2) + "\n");
  fs.renameSync(`${file}.tmp`, file);
  return status;
}

async function main(): Promise<number> {
  const tc = currentToolchain();
  log(`inputs: @pulumi/pulumi ${tc.sdk.pulumi}, command plugin ${tc.sdk.command}, docker plugin ${tc.sdk.docker}, ${tc.go.GOVERSION} → ${tc.dir}`);
  for (const d of ["tmp", "logs", "bin", "home"]) fs.mkdirSync(path.join(tc.dir, d), { recursive: true });
  const release = await acquireLock(path.join(cacheRoot(), `${tc.key}.lock`));
  const binaries: BinaryStatus[] = [];
  for (const spec of tc.specs) binaries.push(await ensureBinary(spec, tc));
  const cli = binaries.find((b) => b.kind === "cli");
  const cliVersion = cli && isPresent(cli) ? await checkCliVersion(cli) : undefined;
  for (const b of binaries) if (b.plugin && cli?.path && isPresent(b)) await installPlugin(b, tc, cli.path);
  const status = writeStatus(tc, binaries, cliVersion);
  release();
  return summarize(status);
}

function summarize(s: ToolchainStatus): number {
  const have = s.binaries.filter(isPresent).map((b) => `${b.name} ${b.version}`);
  log(`have: ${have.join(", ") || "nothing"}`);
  log(`status: ${path.join(s.dir, STATUS_FILE)}; env: toolchainEnv() in test/toolchain/index.ts (bin ${binDir(s.dir)})`);
  const optional = missingLines(s, { optional: true }).filter((l) => !missingLines(s).includes(l));
  if (optional.length) log(`optional, not built:\n  ${optional.join("\n  ")}`);
  if (s.complete) {
    log(`toolchain complete (${fmt(Date.now() - t0)})`);
    return 0;
  }
  console.error(`\n[toolchain] INCOMPLETE — missing:\n  ${missingLines(s).join("\n  ")}\n`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`[toolchain] error: ${e.stack ?? e.message}`);
    process.exit(2);
  },
);
