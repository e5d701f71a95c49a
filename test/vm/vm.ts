// Boot disposable target-host VMs (QEMU TCG, loopback-only) from cached images.
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { VmImage } from "./image";
import { closeMaster, sshExec, writeKnownHosts, type SshResult, type SshTarget } from "./ssh";

export const TEST_CLIENT_IMAGE = "pyjoules-test-client:latest";

export interface VmSshOptions {
  stdin?: string | Buffer;
  user?: string;
  /** Kill the ssh client after this long (exit code 124). Default 300 s. */
  timeoutMs?: number;
  /** Resolve with a non-zero code instead of throwing. */
  allowFail?: boolean;
  /** Use this known_hosts file instead of the pinned one (no multiplexing then). */
  knownHostsFile?: string;
  /** Set false to force a fresh connection (host key checked again). Default true. */
  multiplex?: boolean;
}

export interface Vm {
  image: VmImage;
  host: "127.0.0.1";
  port: number;
  /** The admin user (passwordless sudo, group docker). */
  user: string;
  serialLogPath: string;
  /** known_hosts file (0600) pinning this VM's host key on `port`. */
  knownHostsPath: string;
  /** Milliseconds from qemu start to ssh ready / to docker+test image ready (last boot). */
  bootTimings: { sshMs: number; dockerMs: number };
  ssh(command: string, opts?: VmSshOptions): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Resolves once `docker info` works and the test client image exists. */
  waitForDocker(): Promise<void>;
  /** Guest reboot inside the same qemu (snapshot overlay kept); waits for ssh + docker again. */
  reboot(): Promise<void>;
  /** Kills qemu. Safe to call more than once. */
  stop(): Promise<void>;
  /** Current contents of the guest serial console log. */
  serialLog(): string;
}

export interface BootOptions {
  extraKernelArgs?: string;
  memoryMb?: number;
  log?: (s: string) => void;
  /** Wait for docker + test image before resolving (default true). */
  waitForDocker?: boolean;
  /** Default 240 s (env PYJOULES_VM_SSH_TIMEOUT_S). */
  sshTimeoutMs?: number;
  /** Default 240 s after ssh is up (env PYJOULES_VM_DOCKER_TIMEOUT_S). */
  dockerTimeoutMs?: number;
}

const SERIAL_TAIL_LINES = 100;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function envMs(name: string, fallbackS: number): number {
  const v = Number(process.env[name]);
  return (Number.isFinite(v) && v > 0 ? v : fallbackS) * 1000;
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no port"))));
    });
  });
}

/** Readable tail of a serial log (ANSI escapes and CRs removed). */
export function tailLines(text: string, n = SERIAL_TAIL_LINES): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
  return clean.split("\n").slice(-n).join("\n");
}

function readIfExists(p: string): string {
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    return "";
  }
}

/** True when `pid` is alive and its command line mentions `marker` (guards against pid reuse). */
function isOurProcess(pid: number, marker: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
  } catch {
    return false;
  }
}

// ---- process-exit cleanup: no qemu may outlive the test process ---------------------------
const live = new Set<VmInstance>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const vm of live) vm.killSync();
  });
}

/**
 * A detached watchdog that kills qemu when this node process disappears, even on SIGKILL
 * (the `exit` hook cannot run then).
 */
function startWatchdog(pidFile: string, runDir: string): number | undefined {
  const script = [
    'parent="$1"; pidfile="$2"; rundir="$3"',
    'while kill -0 "$parent" 2>/dev/null; do sleep 2; done',
    'pid=$(cat "$pidfile" 2>/dev/null) || exit 0',
    'if [ -n "$pid" ] && grep -qF "$pidfile" "/proc/$pid/cmdline" 2>/dev/null; then',
    '  kill -TERM "$pid"; sleep 3; kill -KILL "$pid" 2>/dev/null',
    "fi",
    'case "$rundir" in */pyjoules-vm-*) rm -rf "$rundir" ;; esac',
  ].join("\n");
  const child = spawn("sh", ["-c", script, "pyjoules-vm-watchdog", String(process.pid), pidFile, runDir], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  return child.pid;
}

function qemuStart(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("qemu-system-x86_64", args, { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`qemu failed to start: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

class VmInstance implements Vm {
  readonly host = "127.0.0.1" as const;
  port = 0;
  readonly user: string;
  serialLogPath = "";
  knownHostsPath = "";
  bootTimings = { sshMs: 0, dockerMs: 0 };
  private runDir = "";
  private pidFile = "";
  private qemuPid: number | undefined;
  private watchdogPid: number | undefined;
  private stopped = false;
  private lastSerial = "";
  private usersConnected = new Set<string>();
  private readonly log: (s: string) => void;
  private readonly sshTimeoutMs: number;
  private readonly dockerTimeoutMs: number;

  constructor(
    readonly image: VmImage,
    private readonly opts: BootOptions,
  ) {
    this.user = image.users.admin;
    this.log = opts.log ?? ((s) => console.log(s));
    this.sshTimeoutMs = opts.sshTimeoutMs ?? envMs("PYJOULES_VM_SSH_TIMEOUT_S", 240);
    this.dockerTimeoutMs = opts.dockerTimeoutMs ?? envMs("PYJOULES_VM_DOCKER_TIMEOUT_S", 240);
  }

  private target(user: string, multiplex: boolean, knownHostsFile?: string): SshTarget {
    const t: SshTarget = {
      host: this.host,
      port: this.port,
      user,
      keyPath: this.image.userKeyPath,
      knownHostsFile: knownHostsFile ?? this.knownHostsPath,
    };
    if (multiplex && !knownHostsFile) {
      t.controlPath = path.join(this.runDir, `cm-${user}`);
      this.usersConnected.add(user);
    }
    return t;
  }

  ssh(command: string, opts: VmSshOptions = {}): Promise<SshResult> {
    if (this.stopped) return Promise.reject(new Error("VM is stopped"));
    const user = opts.user ?? this.user;
    const t = this.target(user, opts.multiplex ?? true, opts.knownHostsFile);
    return sshExec(t, command, {
      stdin: opts.stdin,
      timeoutMs: opts.timeoutMs ?? 300_000,
      allowFail: opts.allowFail,
    });
  }

  private assertAlive(): void {
    if (this.stopped) throw new Error("VM was stopped");
    if (this.qemuPid === undefined || !isOurProcess(this.qemuPid, this.pidFile)) {
      throw new Error("qemu exited unexpectedly");
    }
  }

  /** One fresh (non-multiplexed) probe; resolves with the result, never throws on failure. */
  private probe(command: string): Promise<SshResult> {
    return sshExec(this.target(this.user, false), command, {
      allowFail: true,
      timeoutMs: 45_000,
      connectTimeoutS: 6,
    }).catch((e: unknown) => ({ code: 255, stdout: "", stderr: String(e) }));
  }

  private async waitForSsh(deadline: number, notBootId?: string): Promise<string> {
    let last = "";
    for (;;) {
      this.assertAlive();
      const r = await this.probe("cat /proc/sys/kernel/random/boot_id");
      const bootId = r.stdout.trim();
      if (r.code === 0 && bootId && bootId !== notBootId) return bootId;
      last = r.code === 0 ? "still the old boot" : r.stderr.trim();
      if (process.env.PYJOULES_VM_DEBUG) this.log(`[vm] ssh probe: ${last}`);
      if (Date.now() > deadline) throw new Error(`ssh not ready in time (last: ${last})`);
      await sleep(2000);
    }
  }

  private async waitForDockerUntil(deadline: number): Promise<void> {
    const check =
      `docker info --format '{{.ServerVersion}}' >/dev/null && ` +
      `docker image inspect --format '{{.Id}}' ${TEST_CLIENT_IMAGE} >/dev/null`;
    let last = "";
    for (;;) {
      this.assertAlive();
      const r = await this.ssh(check, { allowFail: true, timeoutMs: 60_000 }).catch((e: unknown) => ({
        code: 255,
        stdout: "",
        stderr: String(e),
      }));
      if (r.code === 0) return;
      last = r.stderr.trim().split("\n").slice(-3).join(" | ");
      if (Date.now() > deadline) throw new Error(`docker/test image not ready in time (last: ${last})`);
      await sleep(2000);
    }
  }

  async waitForDocker(): Promise<void> {
    await this.waitForDockerUntil(Date.now() + this.dockerTimeoutMs);
  }

  /** Starts qemu and waits until ready. Throws (qemu killed) on failure. */
  async boot(): Promise<void> {
    const img = this.image;
    for (const p of [img.kernel, img.initrd, img.disk]) {
      if (/[,\s]/.test(p)) throw new Error(`VM image path must not contain commas/whitespace: ${p}`);
    }
    this.runDir = fs.mkdtempSync(path.join(os.tmpdir(), "pyjoules-vm-"));
    this.pidFile = path.join(this.runDir, "qemu.pid");
    this.serialLogPath = path.join(this.runDir, "serial.log");
    this.port = await freeLoopbackPort();
    this.knownHostsPath = writeKnownHosts(path.join(this.runDir, "known_hosts"), this.port, img.hostKey);
    const append = ["root=/dev/vda", "rw", "console=ttyS0", this.opts.extraKernelArgs ?? ""].join(" ").trim();
    const args = [
      "-name", `pyjoules-${img.distro}`,
      "-machine", "q35",
      "-accel", "tcg",
      "-m", String(this.opts.memoryMb ?? 2048),
      "-smp", "2",
      "-kernel", img.kernel,
      "-initrd", img.initrd,
      "-append", append,
      "-drive", `file=${img.disk},if=virtio,format=raw,snapshot=on`,
      "-netdev", `user,id=n,restrict=on,hostfwd=tcp:127.0.0.1:${this.port}-:22`,
      "-device", "virtio-net-pci,netdev=n",
      "-display", "none",
      "-serial", `file:${this.serialLogPath}`,
      "-monitor", "none",
      "-pidfile", this.pidFile,
      "-daemonize",
    ];
    const t0 = Date.now();
    this.log(`[vm] booting ${img.distro} on 127.0.0.1:${this.port} (serial log ${this.serialLogPath})`);
    installExitHook();
    live.add(this);
    await qemuStart(args);
    this.qemuPid = Number(readIfExists(this.pidFile).trim()) || undefined;
    if (!this.qemuPid) throw new Error("qemu started but wrote no pidfile");
    this.watchdogPid = startWatchdog(this.pidFile, this.runDir);

    await this.waitForSsh(t0 + this.sshTimeoutMs);
    this.bootTimings.sshMs = Date.now() - t0;
    this.log(`[vm] ${img.distro}: ssh ready after ${(this.bootTimings.sshMs / 1000).toFixed(1)} s`);
    if (this.opts.waitForDocker !== false) {
      await this.waitForDockerUntil(Date.now() + this.dockerTimeoutMs);
      this.bootTimings.dockerMs = Date.now() - t0;
      this.log(`[vm] ${img.distro}: docker + test image ready after ${(this.bootTimings.dockerMs / 1000).toFixed(1)} s`);
    }
  }

  async reboot(): Promise<void> {
    this.assertAlive();
    const oldBootId = (await this.ssh("cat /proc/sys/kernel/random/boot_id")).stdout.trim();
    const t0 = Date.now();
    // The connection may drop before the command returns: that is expected.
    await this.ssh("sudo -n systemctl reboot", { allowFail: true, timeoutMs: 60_000, multiplex: false });
    await this.closeMasters();
    // Wait for ssh to go away (or for a new boot to be already up), then for the new boot.
    const dropDeadline = Date.now() + 120_000;
    for (;;) {
      this.assertAlive();
      const r = await this.probe("cat /proc/sys/kernel/random/boot_id");
      if (r.code !== 0 || (r.stdout.trim() && r.stdout.trim() !== oldBootId)) break;
      if (Date.now() > dropDeadline) throw this.withSerial(new Error("guest did not go down after reboot"));
      await sleep(1000);
    }
    try {
      await this.waitForSsh(Date.now() + this.sshTimeoutMs, oldBootId);
      this.bootTimings.sshMs = Date.now() - t0;
      await this.waitForDockerUntil(Date.now() + this.dockerTimeoutMs);
      this.bootTimings.dockerMs = Date.now() - t0;
    } catch (e) {
      throw this.withSerial(e);
    }
    this.log(
      `[vm] ${this.image.distro}: rebooted; ssh after ${(this.bootTimings.sshMs / 1000).toFixed(1)} s, ` +
        `docker after ${(this.bootTimings.dockerMs / 1000).toFixed(1)} s`,
    );
  }

  withSerial(e: unknown): Error {
    const msg = e instanceof Error ? e.message : String(e);
    return new Error(
      `${msg}\n--- last ${SERIAL_TAIL_LINES} lines of the ${this.image.distro} guest serial log ` +
        `(${this.serialLogPath}) ---\n${tailLines(this.serialLog())}`,
    );
  }

  private async closeMasters(): Promise<void> {
    await Promise.all([...this.usersConnected].map((u) => closeMaster(this.target(u, true))));
  }

  serialLog(): string {
    if (this.stopped) return this.lastSerial;
    return readIfExists(this.serialLogPath) || this.lastSerial;
  }

  /** Synchronous kill for the process `exit` hook. */
  killSync(): void {
    if (this.qemuPid !== undefined && isOurProcess(this.qemuPid, this.pidFile)) {
      try {
        process.kill(this.qemuPid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    if (this.watchdogPid !== undefined) {
      try {
        process.kill(this.watchdogPid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.lastSerial = readIfExists(this.serialLogPath);
    await this.closeMasters().catch(() => undefined);
    this.stopped = true;
    const pid = this.qemuPid;
    if (pid !== undefined && isOurProcess(pid, this.pidFile)) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        /* gone */
      }
      const deadline = Date.now() + 10_000;
      while (isOurProcess(pid, this.pidFile) && Date.now() < deadline) await sleep(200);
      if (isOurProcess(pid, this.pidFile)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* gone */
        }
        while (isOurProcess(pid, this.pidFile)) await sleep(100);
      }
    }
    this.killSync(); // the watchdog (qemu is gone by now)
    live.delete(this);
    if (this.runDir && process.env.PYJOULES_VM_KEEP_LOGS !== "1") {
      fs.rmSync(this.runDir, { recursive: true, force: true });
    }
  }
}

/**
 * Boots `image` in QEMU (TCG, q35, 2 vCPUs, snapshot=on, user networking with restrict=on and
 * only a 127.0.0.1 port forward to the guest's sshd) and waits for ssh and (by default) docker
 * with the test client image. A failed boot is retried once; the final error carries the tail
 * of the guest serial log.
 */
export async function bootVm(image: VmImage, opts: BootOptions = {}): Promise<Vm> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const errors: string[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    const vm = new VmInstance(image, { ...opts, log });
    try {
      await vm.boot();
      return vm;
    } catch (e) {
      const err = vm.withSerial(e);
      await vm.stop().catch(() => undefined);
      errors.push(`attempt ${attempt}: ${err.message}`);
      if (attempt === 1) log(`[vm] ${image.distro} boot attempt 1 failed, retrying: ${(e as Error).message}`);
    }
  }
  throw new Error(`booting the ${image.distro} VM failed twice\n${errors.join("\n\n")}`);
}
