// A throwaway OpenSSH server on 127.0.0.1 for tests (Debian package: openssh-server).
// Temp host key, temp authorized_keys with a fresh client key, free port, `sshd -D -f <temp config>`.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const SSHD = "/usr/sbin/sshd";

export function sshdAvailable(): boolean {
  return fs.existsSync(SSHD) && spawnSync("ssh", ["-V"]).status === 0;
}

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  /** Private key text authorised for `user`. */
  privateKey: string;
  privateKeyPath: string;
  /** Same key, encrypted with `encryptedKeyPassword`. */
  encryptedKey: string;
  encryptedKeyPassword: string;
  /** "ssh-ed25519 AAAA..." the server presents. */
  hostKey: string;
  /** A different key (for "wrong host key" tests). */
  otherHostKey: string;
  dir: string;
  stop(): Promise<void>;
}

function keygen(file: string, pass = ""): void {
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", pass, "-C", "", "-f", file]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForBanner(port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, "127.0.0.1");
      c.once("data", (d) => {
        c.destroy();
        resolve(d.toString().startsWith("SSH-"));
      });
      c.once("error", () => resolve(false));
      setTimeout(() => {
        c.destroy();
        resolve(false);
      }, 1000);
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not come up on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startSshd(opts: { acceptEnv?: string[]; setEnv?: Record<string, string> } = {}): Promise<TestSshd> {
  if (!sshdAvailable()) throw new Error("OpenSSH server not installed (apt-get install openssh-server openssh-client)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "emu-sshd-"));
  fs.chmodSync(dir, 0o700);
  keygen(path.join(dir, "host"));
  keygen(path.join(dir, "other"));
  keygen(path.join(dir, "client"));
  fs.copyFileSync(path.join(dir, "client"), path.join(dir, "client-enc"));
  const encryptedKeyPassword = "emulator-test-pass";
  if (spawnSync("ssh-keygen", ["-q", "-p", "-P", "", "-N", encryptedKeyPassword, "-f", path.join(dir, "client-enc")]).status !== 0) {
    throw new Error("ssh-keygen -p failed");
  }
  fs.writeFileSync(path.join(dir, "authorized_keys"), fs.readFileSync(path.join(dir, "client.pub")), { mode: 0o600 });
  const port = await freePort();
  const user = os.userInfo().username;
  const lines = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${path.join(dir, "host")}`,
    `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
    `PidFile ${path.join(dir, "sshd.pid")}`,
    "StrictModes no",
    "UsePAM no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    "PermitRootLogin prohibit-password",
    "MaxStartups 100:30:200",
    "MaxSessions 100",
    "LogLevel VERBOSE",
  ];
  if (opts.acceptEnv?.length) lines.push(`AcceptEnv ${opts.acceptEnv.join(" ")}`);
  for (const [k, v] of Object.entries(opts.setEnv ?? {})) lines.push(`SetEnv ${k}=${v}`);
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(config, `${lines.join("\n")}\n`);
  if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
  const log: Buffer[] = [];
  child.stderr!.on("data", (d: Buffer) => log.push(d));
  let exited = false;
  child.on("exit", () => (exited = true));
  try {
    await waitForBanner(port, Date.now() + 10_000);
  } catch (e) {
    child.kill();
    throw new Error(`${(e as Error).message}\n${Buffer.concat(log).toString()}`);
  }
  const pub = (f: string) => fs.readFileSync(path.join(dir, f), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  return {
    host: "127.0.0.1",
    port,
    user,
    privateKey: fs.readFileSync(path.join(dir, "client"), "utf8"),
    privateKeyPath: path.join(dir, "client"),
    encryptedKey: fs.readFileSync(path.join(dir, "client-enc"), "utf8"),
    encryptedKeyPassword,
    hostKey: pub("host.pub"),
    otherHostKey: pub("other.pub"),
    dir,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await done;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
