// `npm run toolchain` (tsx test/toolchain/build.ts): builds the real Pulumi toolchain into
// ~/.cache/pulumi-pyjoules/toolchain/<key>/: the CLI (and the optional yaml host) from the Go module proxy, the
// command/docker providers and the nodejs/python/go language hosts from the sha256-checked upstream archives
// (PYJOULES_UPSTREAM_DIR, default <repo>/../shared/upstream). Writes status.json; exits non-zero naming every
// missing piece with the exact command that failed. See README.md.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { binDir, cacheRoot, currentToolchain, pulumiHome, REPO_ROOT, type Toolchain } from "./index";
import { GO_ENV, RECIPE_VERSION, buildInfoProblems, firstError, parseBuildInfo, patchListProblem, stepArgv, type BinarySpec, type Extract } from "./recipe";
import { failureText, isComplete, isPresent, missingLines, STATUS_FILE, type BinaryStatus, type Failure, type ToolchainStatus } from "./status";
import { archiveProblem, upstreamAbsent, upstreamDir } from "./upstream";

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
function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFile?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeoutMs });
    const logFd = opts.logFile ? fs.openSync(opts.logFile, "a") : undefined;
    const envNote = opts.env ? Object.entries(opts.env).filter(([k, v]) => process.env[k] !== v).map(([k, v]) => `${k}=${v} `).join("") : "";
    if (logFd !== undefined) fs.writeSync(logFd, `$ ${envNote}${shell(cmd, args)}   (cwd ${opts.cwd ?? process.cwd()})\n`);
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

const goEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, ...GO_ENV, ...extra });

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

function tail(file: string, n = 20): string {
  if (!fs.existsSync(file)) return "";
  return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-n).join("\n");
}

/** A Failure, with the last lines of the log and its path printed. */
function failWithLog(f: Failure, logFile: string): Failure {
  console.error(`--- last 20 lines of ${logFile} ---\n${tail(logFile)}\n---`);
  return f;
}

/** Runs one build step into the binary's log; a Failure when it fails. */
async function step(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, logFile: string): Promise<Failure | undefined> {
  const r = await run(cmd, args, { cwd, env, logFile });
  if (r.code === 0) return undefined;
  return failWithLog({ command: shell(cmd, args), error: firstError(r.stderr || r.stdout) || `exit ${r.code}` }, logFile);
}

/** Extracts one archive into a staging dir of `src`, then moves its root folder to `<src>/<into>`. */
async function extract(e: Extract, upstream: string, src: string, logFile: string): Promise<Failure | undefined> {
  const staging = fs.mkdtempSync(path.join(src, ".extract-"));
  const args = ["-xzf", path.join(upstream, e.file), "--no-same-owner", "-C", staging];
  const failed = await step("tar", args, src, process.env, logFile);
  if (failed) return failed;
  const root = path.join(staging, e.root);
  if (!fs.existsSync(root)) return { command: shell("tar", args), error: `${e.file} has no top-level folder ${e.root}/` };
  fs.mkdirSync(path.dirname(path.join(src, e.into)), { recursive: true });
  fs.renameSync(root, path.join(src, e.into));
  fs.rmSync(staging, { recursive: true, force: true });
  const patches = e.patches && patchListProblem(e.patches.files, fs.readdirSync(path.join(src, e.patches.dir)));
  return patches ? { command: `ls ${path.join(src, e.patches?.dir ?? "")}`, error: patches } : undefined;
}

/** `go version -m OUT` must show CGO off, the expected module versions and -X stamps. */
async function checkBuildInfo(spec: BinarySpec, out: string, logFile: string): Promise<Failure | undefined> {
  const r = await run("go", ["version", "-m", out], { env: goEnv() });
  const problems = r.code === 0 ? buildInfoProblems(spec, parseBuildInfo(r.stdout)) : [r.stderr.trim() || `exit ${r.code}`];
  fs.appendFileSync(logFile, `$ go version -m ${out}\n${r.stdout}${problems.length ? `PROBLEMS: ${problems.join("; ")}\n` : "build info ok\n"}`);
  return problems.length ? { command: `go version -m ${out}`, error: problems.join("; ") } : undefined;
}

/** A language host must start: `--help` exits 0 quickly and prints its flags. */
async function checkRuns(spec: BinarySpec, out: string, logFile: string): Promise<Failure | undefined> {
  if (spec.kind !== "language") return undefined;
  const r = await run(out, ["--help"], { timeoutMs: 30_000, logFile });
  return r.code === 0 && /Usage of /.test(r.stdout + r.stderr) ? undefined : { command: `${out} --help`, error: `exit ${r.code}: ${(r.stderr || r.stdout).trim().split("\n")[0]}` };
}

/** Runs the steps in `src`, checks the binary, moves companions then the binary into place (atomic renames). */
async function compile(spec: BinarySpec, tc: Toolchain, src: string, logFile: string): Promise<Failure | undefined> {
  const tmp = fs.mkdtempSync(path.join(tc.dir, "tmp", `${spec.name}-`));
  try {
    const out = path.join(tmp, spec.name);
    for (const s of spec.steps) {
      const [cmd, ...args] = stepArgv(s, out);
      const failed = await step(cmd, args, path.join(src, s.cwd), goEnv(s.env), logFile);
      if (failed) return failed;
    }
    const bad = (await checkBuildInfo(spec, out, logFile)) ?? (await checkRuns(spec, out, logFile));
    if (bad) return failWithLog(bad, logFile);
    const names = spec.companions.map((c) => path.basename(c));
    spec.companions.forEach((c, i) => fs.copyFileSync(path.join(src, c), path.join(tmp, names[i])));
    names.forEach((n) => fs.chmodSync(path.join(tmp, n), 0o755));
    fs.mkdirSync(path.join(tc.dir, spec.dir), { recursive: true });
    // Companions first, the binary last: a present binary means a complete entry.
    for (const f of [...names, spec.name]) fs.renameSync(path.join(tmp, f), path.join(tc.dir, spec.dir, f));
    return undefined;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** sha256 check of every archive, a fresh src dir, extraction, files, then compile; the src dir is kept on failure. */
async function buildOne(spec: BinarySpec, tc: Toolchain, upstream: string, logFile: string): Promise<Failure | undefined> {
  const srcRoot = path.join(tc.dir, "src");
  fs.mkdirSync(srcRoot, { recursive: true });
  for (const old of fs.readdirSync(srcRoot).filter((d) => d.startsWith(`${spec.name}-`))) fs.rmSync(path.join(srcRoot, old), { recursive: true, force: true });
  const src = fs.mkdtempSync(path.join(srcRoot, `${spec.name}-`));
  let failed: Failure | undefined;
  for (const e of spec.extract) if (!failed) failed = await extract(e, upstream, src, logFile);
  for (const [name, text] of Object.entries(spec.files)) fs.writeFileSync(path.join(src, name), text);
  failed ??= await compile(spec, tc, src, logFile);
  if (failed) fs.appendFileSync(logFile, `(sources kept in ${src})\n`);
  else fs.rmSync(src, { recursive: true, force: true });
  return failed;
}

function baseStatus(spec: BinarySpec): Omit<BinaryStatus, "state"> {
  return {
    name: spec.name, kind: spec.kind, version: spec.version, optional: !!spec.optional, origin: spec.origin,
    archives: spec.extract.length ? spec.extract.map((e) => ({ file: e.file, sha256: e.sha256 })) : undefined,
    plugin: spec.plugin && { ...spec.plugin, installed: false },
  };
}

const targetOf = (spec: BinarySpec, tc: Toolchain) => path.join(tc.dir, spec.dir, spec.name);

/** Where it comes from, with each archive's sha256 checked: the piece's one origin line; a Failure on a bad archive. */
function checkOrigin(spec: BinarySpec, upstream: string): { line: string; failure?: Failure } {
  if (!spec.extract.length) return { line: `from ${spec.origin}` };
  const problems = spec.extract.map((e) => archiveProblem(upstream, e));
  const bad = problems.find(Boolean);
  const line = `from ${spec.extract.map((e, i) => `${i ? e.file : path.join(upstream, e.file)} (${problems[i] ? "BAD" : "sha256 ok"})`).join(" + ")}`;
  return { line, failure: bad ? { command: "", error: bad } : undefined };
}

/** Cached, or checked and built; never throws. */
async function ensureBinary(spec: BinarySpec, tc: Toolchain, upstream: string): Promise<BinaryStatus> {
  const target = targetOf(spec, tc);
  const base = baseStatus(spec);
  const id = `${spec.name} ${spec.version}`;
  if (fs.existsSync(target)) {
    log(`${id}: cached ${target} (from ${spec.origin})`);
    return { ...base, state: "cached", path: target };
  }
  if (spec.unavailable) {
    log(`${id}: MISSING — ${spec.unavailable}`);
    return { ...base, state: "missing", failures: [{ command: "", error: spec.unavailable }] };
  }
  const origin = checkOrigin(spec, upstream);
  if (origin.failure) {
    log(`${id}: ${origin.line}: MISSING — ${origin.failure.error}`);
    return { ...base, state: "missing", failures: [origin.failure] };
  }
  const logFile = path.join(tc.dir, "logs", `${spec.name}.log`);
  fs.writeFileSync(logFile, "");
  log(`${id}: ${origin.line}; building (log ${logFile})`);
  const started = Date.now();
  const beat = setInterval(() => log(`${spec.name}: still building (${fmt(Date.now() - started)})`), 60_000);
  const failed = await buildOne(spec, tc, upstream, logFile).finally(() => clearInterval(beat));
  const buildSeconds = Math.round((Date.now() - started) / 1000);
  if (failed) {
    log(`${id}: FAILED after ${fmt(Date.now() - started)} — ${failureText(failed, logFile)}`);
    return { ...base, state: "failed", failures: [failed], log: logFile, buildSeconds };
  }
  log(`${id}: built in ${fmt(Date.now() - started)} → ${target}`);
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
  log(`plugin ${b.plugin.name} ${b.plugin.version}: ${b.plugin.installed ? "installed" : `NOT installed (log ${logFile})`} (${shell("pulumi", args)})`);
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

function writeStatus(tc: Toolchain, upstream: ToolchainStatus["upstream"], binaries: BinaryStatus[], cliVersion?: string): ToolchainStatus {
  const status: ToolchainStatus = {
    recipe: RECIPE_VERSION, key: tc.key, dir: tc.dir, updatedAt: new Date().toISOString(), go: tc.go, sdk: tc.sdk, upstream,
    binaries, complete: !upstream.absent && isComplete(binaries), cliVersion,
  };
  fs.mkdirSync(tc.dir, { recursive: true });
  const file = path.join(tc.dir, STATUS_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(status, null, 2) + "\n");
  fs.renameSync(`${file}.tmp`, file);
  return status;
}

async function main(): Promise<number> {
  const tc = currentToolchain();
  const up = upstreamDir(REPO_ROOT);
  // Without the archives nothing is built (the providers are what the tests need): one line, status.json, exit 1.
  const absent = tc.specs.some((s) => s.extract.length && !fs.existsSync(targetOf(s, tc))) ? upstreamAbsent(up) : undefined;
  if (absent) {
    console.error(`[toolchain] ${absent}`);
    const binaries = tc.specs.map((s): BinaryStatus =>
      fs.existsSync(targetOf(s, tc)) ? { ...baseStatus(s), state: "cached", path: targetOf(s, tc) } : { ...baseStatus(s), state: "missing", failures: [{ command: "", error: absent }] },
    );
    writeStatus(tc, { dir: up.dir, absent }, binaries);
    return 1;
  }
  log(`inputs: @pulumi/pulumi ${tc.sdk.pulumi}, command plugin ${tc.sdk.command}, docker plugin ${tc.sdk.docker}, ${tc.go.GOVERSION}, upstream ${up.dir} → ${tc.dir}`);
  for (const d of ["tmp", "logs", "bin", "home"]) fs.mkdirSync(path.join(tc.dir, d), { recursive: true });
  const release = await acquireLock(path.join(cacheRoot(), `${tc.key}.lock`));
  const binaries: BinaryStatus[] = [];
  for (const spec of tc.specs) binaries.push(await ensureBinary(spec, tc, up.dir));
  const cli = binaries.find((b) => b.kind === "cli");
  const cliVersion = cli && isPresent(cli) ? await checkCliVersion(cli) : undefined;
  for (const b of binaries) if (b.plugin && cli?.path && isPresent(b)) await installPlugin(b, tc, cli.path);
  const status = writeStatus(tc, { dir: up.dir }, binaries, cliVersion);
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
