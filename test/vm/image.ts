// Cached, content-addressed target-host images built by build-image.sh.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { normaliseHostKey } from "./ssh";

export type Distro = "trixie" | "bookworm";
export const DISTROS: readonly Distro[] = ["trixie", "bookworm"];

export interface VmImage {
  distro: Distro;
  dir: string;
  kernel: string;
  initrd: string;
  disk: string;
  userKeyPath: string;
  /** Private key text of the test user key (authorised for both users). */
  userKey: string;
  /** "ssh-ed25519 AAAA..." exactly as the guest's sshd presents it. */
  hostKey: string;
  users: { admin: "pyj"; passwordSudo: "pyjpw" };
  /** Hash of everything that shapes the image; part of `dir`. */
  recipeHash: string;
  /** File holding pyjpw's sudo password (mode 0600). */
  passwordSudoPasswordPath: string;
}

/** Bump to force new images when something outside the hashed files changes the result. */
const RECIPE_VERSION = "2";
const VM_DIR = __dirname;
const BUILD_SCRIPT = path.join(VM_DIR, "build-image.sh");
const FAKE_RAPL_DIR = path.join(VM_DIR, "fake-rapl");
const CLIENT_DIR = path.join(VM_DIR, "client");

/**
 * The pyJoules release the test client image carries: downloaded from PyPI on the build machine (the guest
 * reaches nothing) and checked against this digest, so every image holds the same bytes.
 */
export const PYJOULES_WHEEL = {
  requirement: "pyjoules==0.5.1",
  file: "pyJoules-0.5.1-py2.py3-none-any.whl",
  sha256: "558505e13b7e24ff2aceb5eab6e497f7cee101ed2605343238f25ff4750909cb",
} as const;
const BUILD_TIMEOUT_MS = 60 * 60_000;

/** `${PYJOULES_VM_CACHE:-$HOME/.cache/pulumi-pyjoules/vm}` — outside the checkout. */
export function vmCacheRoot(): string {
  const fromEnv = process.env.PYJOULES_VM_CACHE;
  if (fromEnv && fromEnv.trim() !== "") return path.resolve(fromEnv);
  return path.join(os.homedir(), ".cache", "pulumi-pyjoules", "vm");
}

function debianMirror(): string {
  return process.env.PYJOULES_DEBIAN_MIRROR || "http://deb.debian.org/debian";
}

/** sha256 over everything that shapes the image (script, module sources, distro, mirror). */
export function recipeHash(distro: Distro): string {
  const h = createHash("sha256");
  const add = (label: string, data: string | Buffer) => {
    h.update(`${label}\0${data.length}\0`);
    h.update(data);
  };
  add("recipe-version", RECIPE_VERSION);
  add("distro", distro);
  add("mirror", debianMirror());
  add("build-image.sh", fs.readFileSync(BUILD_SCRIPT));
  add("pyjoules-wheel", PYJOULES_WHEEL.sha256);
  for (const dir of [FAKE_RAPL_DIR, CLIENT_DIR]) {
    for (const f of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, f);
      if (fs.statSync(p).isFile()) add(`${path.basename(dir)}/${f}`, fs.readFileSync(p));
    }
  }
  return h.digest("hex").slice(0, 16);
}

export function imageDir(distro: Distro): string {
  return path.join(vmCacheRoot(), `${distro}-${recipeHash(distro)}`);
}

function isComplete(dir: string): boolean {
  return fs.existsSync(path.join(dir, ".complete"));
}

function loadImage(distro: Distro, dir: string, hash: string): VmImage {
  const userKeyPath = path.join(dir, "id_ed25519");
  for (const f of ["vmlinuz", "initrd.img", "disk.img", "id_ed25519", "host_ed25519.pub"]) {
    if (!fs.existsSync(path.join(dir, f))) throw new Error(`VM image ${dir} is missing ${f}`);
  }
  if ((fs.statSync(userKeyPath).mode & 0o077) !== 0) fs.chmodSync(userKeyPath, 0o600);
  return {
    distro,
    dir,
    kernel: path.join(dir, "vmlinuz"),
    initrd: path.join(dir, "initrd.img"),
    disk: path.join(dir, "disk.img"),
    userKeyPath,
    userKey: fs.readFileSync(userKeyPath, "utf8"),
    hostKey: normaliseHostKey(fs.readFileSync(path.join(dir, "host_ed25519.pub"), "utf8")),
    users: { admin: "pyj", passwordSudo: "pyjpw" },
    recipeHash: hash,
    passwordSudoPasswordPath: path.join(dir, "pyjpw.password"),
  };
}

/** Build logs are kept for two weeks. */
function pruneOldLogs(logDir: string): void {
  const cutoff = Date.now() - 14 * 24 * 3600_000;
  for (const f of fs.readdirSync(logDir)) {
    const p = path.join(logDir, f);
    try {
      if (f.endsWith(".log") && fs.statSync(p).mtimeMs < cutoff) fs.rmSync(p, { force: true });
    } catch {
      /* raced with another process */
    }
  }
}

const sha256File = (p: string) => createHash("sha256").update(fs.readFileSync(p)).digest("hex");

/** The pyJoules wheel in the cache (`<cache>/pypi/`), downloaded with pip and digest-checked on first use. */
export async function ensurePyJoulesWheel(log: (s: string) => void): Promise<string> {
  const dir = path.join(vmCacheRoot(), "pypi");
  const target = path.join(dir, PYJOULES_WHEEL.file);
  if (fs.existsSync(target) && sha256File(target) === PYJOULES_WHEEL.sha256) return target;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(dir, ".download-"));
  try {
    log(`[vm] downloading ${PYJOULES_WHEEL.requirement} from PyPI (python3 -m pip download)`);
    await run("python3", ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--dest", tmp, PYJOULES_WHEEL.requirement]);
    const got = path.join(tmp, PYJOULES_WHEEL.file);
    if (!fs.existsSync(got)) throw new Error(`pip did not produce ${PYJOULES_WHEEL.file} (got: ${fs.readdirSync(tmp).join(", ")})`);
    const sha = sha256File(got);
    if (sha !== PYJOULES_WHEEL.sha256) throw new Error(`${PYJOULES_WHEEL.file} has sha256 ${sha}, expected ${PYJOULES_WHEEL.sha256}`);
    fs.renameSync(got, target);
    return target;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    child.on("error", (e) => reject(new Error(`${cmd} ${args.join(" ")}: ${e.message}`)));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out.split("\n").slice(-15).join("\n")}`)),
    );
  });
}

function runBuild(distro: Distro, dir: string, wheel: string, log: (s: string) => void): Promise<void> {
  const root = vmCacheRoot();
  const logDir = path.join(root, "logs");
  fs.mkdirSync(logDir, { recursive: true });
  pruneOldLogs(logDir);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  const logPath = path.join(logDir, `${path.basename(dir)}-${stamp}-${process.pid}.log`);
  const logFd = fs.openSync(logPath, "w");
  const args = [
    BUILD_SCRIPT,
    "--distro", distro,
    "--out", dir,
    "--pyjoules-wheel", wheel,
    "--apt-cache", path.join(root, "apt-cache", distro),
    "--mirror", debianMirror(),
  ];
  const asRoot = process.getuid?.() === 0;
  const cmd = asRoot ? "bash" : "sudo";
  const cmdArgs = asRoot ? args : ["-n", "bash", ...args];
  log(`[vm] building ${distro} image into ${dir} (log: ${logPath})`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let partial = "";
    const onData = (b: Buffer) => {
      fs.writeSync(logFd, b);
      partial += b.toString("utf8");
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) if (l.startsWith("==> ")) log(`[vm:${distro}] ${l.slice(4)}`);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
    }, BUILD_TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      fs.closeSync(logFd);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      fs.closeSync(logFd);
      if (code === 0 && isComplete(dir)) return resolve();
      const tail = fs.readFileSync(logPath, "utf8").split("\n").slice(-60).join("\n");
      reject(
        new Error(
          `building the ${distro} VM image failed (exit ${code ?? signal}); full log: ${logPath}\n` +
            `--- last lines ---\n${tail}`,
        ),
      );
    });
  });
}

const inFlight = new Map<string, Promise<VmImage>>();

/** Returns the cached image for `distro`, building it first if needed (minutes when cold). */
export async function ensureImage(
  distro: Distro,
  log: (s: string) => void = (s) => console.log(s),
): Promise<VmImage> {
  if (!DISTROS.includes(distro)) throw new Error(`unknown distro ${String(distro)}`);
  const hash = recipeHash(distro);
  const dir = path.join(vmCacheRoot(), `${distro}-${hash}`);
  const existing = inFlight.get(dir);
  if (existing) return existing;
  const p = (async () => {
    if (!isComplete(dir)) {
      const t0 = Date.now();
      const wheel = await ensurePyJoulesWheel(log);
      await runBuild(distro, dir, wheel, log);
      log(`[vm] ${distro} image ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    return loadImage(distro, dir, hash);
  })();
  inFlight.set(dir, p);
  p.catch(() => inFlight.delete(dir));
  return p;
}
