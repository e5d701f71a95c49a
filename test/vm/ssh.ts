// SSH to a test VM with a pinned host key. Never disables host key checking.
import { spawn } from "node:child_process";
import * as fs from "node:fs";

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Path of the private key (mode 0600). */
  keyPath: string;
  /** known_hosts file pinning the guest host key (see writeKnownHosts). */
  knownHostsFile: string;
  /** Optional ControlPath for connection multiplexing (ControlMaster=auto). */
  controlPath?: string;
}

export interface SshExecOptions {
  stdin?: string | Buffer;
  timeoutMs?: number;
  allowFail?: boolean;
  connectTimeoutS?: number;
}

/** Normalises "ssh-ed25519 AAAA... [comment]" to "ssh-ed25519 AAAA...". */
export function normaliseHostKey(hostKey: string): string {
  const parts = hostKey.trim().split(/\s+/);
  if (parts.length < 2 || !/^(ssh-|ecdsa-|sk-)/.test(parts[0]!)) {
    throw new Error(`not an OpenSSH public key line: ${JSON.stringify(hostKey)}`);
  }
  return `${parts[0]} ${parts[1]}`;
}

/** The known_hosts host pattern OpenSSH uses for HOST:PORT. */
export function knownHostsPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * Writes (replaces) a known_hosts file, mode 0600, containing exactly one line
 * "[host]:port <hostKey>". Use it with StrictHostKeyChecking=yes.
 */
export function writeKnownHosts(file: string, port: number, hostKey: string, host = "127.0.0.1"): string {
  const line = `${knownHostsPattern(host, port)} ${normaliseHostKey(hostKey)}\n`;
  fs.writeFileSync(file, line, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

/** The ssh(1) options used for every connection to a test VM. */
export function sshOptions(t: SshTarget, connectTimeoutS = 10): string[] {
  const o = [
    "-F", "/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${t.knownHostsFile}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "UpdateHostKeys=no",
    "-o", "HostKeyAlgorithms=ssh-ed25519",
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "PasswordAuthentication=no",
    "-o", "KbdInteractiveAuthentication=no",
    "-o", `ConnectTimeout=${connectTimeoutS}`,
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=6",
    "-o", "LogLevel=ERROR",
    "-i", t.keyPath,
    "-p", String(t.port),
    "-l", t.user,
  ];
  if (t.controlPath) {
    o.push("-o", "ControlMaster=auto", "-o", `ControlPath=${t.controlPath}`, "-o", "ControlPersist=120");
  } else {
    o.push("-o", "ControlMaster=no", "-o", "ControlPath=none");
  }
  return o;
}

/** Runs one command over ssh. Exit code 255 means ssh itself failed. */
export function sshExec(t: SshTarget, command: string, opts: SshExecOptions = {}): Promise<SshResult> {
  const args = [...sshOptions(t, opts.connectTimeoutS), t.host, "--", command];
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, opts.timeoutMs)
        : undefined;
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.stdin.on("error", () => undefined); // EPIPE if the remote side does not read
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      let stderr = Buffer.concat(err).toString("utf8");
      const stdout = Buffer.concat(out).toString("utf8");
      let rc = code ?? 255;
      if (timedOut) {
        rc = 124;
        stderr += `\n[ssh: timed out after ${opts.timeoutMs} ms]`;
      } else if (signal) {
        rc = 255;
        stderr += `\n[ssh: killed by ${signal}]`;
      }
      if (rc !== 0 && !opts.allowFail) {
        reject(
          new Error(
            `ssh ${t.user}@${t.host}:${t.port} ${JSON.stringify(command)} exited ${rc}\n` +
              `stdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`,
          ),
        );
        return;
      }
      resolve({ code: rc, stdout, stderr });
    });
    if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
    else child.stdin.end();
  });
}

/** Asks a multiplexing master (if any) to exit. Never throws. */
export function closeMaster(t: SshTarget): Promise<void> {
  if (!t.controlPath || !fs.existsSync(t.controlPath)) return Promise.resolve();
  return new Promise((resolve) => {
    const child = spawn("ssh", [...sshOptions(t), "-O", "exit", t.host], { stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.on("error", () => resolve());
    child.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
