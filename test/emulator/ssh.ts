// remote.Command's SSH session, performed with the system OpenSSH client.
//
// Mirrors pulumi-command v1.2.1 provider/pkg/provider/remote/{connection,commandOutputs}.go:
//  - one new SSH connection (here: one `ssh` process) per command run;
//  - dial failures (TCP, banner, key exchange, host key, authentication) are retried up to
//    dialErrorLimit times (default 10, -1 = unlimited) with the SDK's retry.Until backoff
//    (100 ms x1.5, at most 5 s); a failure *after* authentication is never retried;
//  - hostKey given -> that key is pinned (FixedHostKey, HostKeyAlgorithms = its type);
//    no hostKey -> InsecureIgnoreHostKey (any key accepted);
//  - no PTY; stdin only when non-empty; environment via the SSH "env" request (Setenv);
//  - failure -> `${err}: running ${JSON.stringify(cmd)}:\n${stdout+stderr}`.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { privateTempDir, shQuote, sleep } from "./util";

export interface HostCount {
  sshSessions: number;
  remoteCommands: number;
}

/** Per-host counters ("host:port"). */
export class Counters {
  readonly perHost: Record<string, HostCount> = {};
  private get(host: string): HostCount {
    return (this.perHost[host] ??= { sshSessions: 0, remoteCommands: 0 });
  }
  session(host: string): void {
    this.get(host).sshSessions++;
  }
  command(host: string): void {
    this.get(host).remoteCommands++;
  }
}

export function hostId(host: string, port: number | string | undefined): string {
  return `${host}:${port ?? 22}`;
}

/** command:remote:Connection (and ProxyConnection) after the SDK's defaults were applied. */
export interface Connection {
  host: string;
  port?: number;
  user?: string;
  password?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  agentSocketPath?: string;
  dialErrorLimit?: number;
  perDialTimeout?: number;
  hostKey?: string;
  proxy?: Connection;
}

const CONNECTION_KEYS = new Set([
  "host", "port", "user", "password", "privateKey", "privateKeyPassword", "agentSocketPath",
  "dialErrorLimit", "perDialTimeout", "hostKey", "proxy",
]);

export interface RunOptions {
  stdin?: string;
  /** `environment`: a rejected variable fails the command (provider: Setenv error). */
  environment?: Record<string, string>;
  /** PULUMI_COMMAND_STDOUT/STDERR: a rejected variable is only a warning in the provider. */
  optionalEnvironment?: Record<string, string>;
  counters: Counters;
  log: (line: string) => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Raised when the command ran and failed; `message` is the provider's text. */
export class CommandError extends Error {}

const ENV_MARKER = "__pulumi_emulator_setenv_rejected__";
const ENV_EXIT = 254;

export function validateConnection(c: unknown, what = "connection"): Connection {
  if (typeof c !== "object" || c === null) throw new Error(`emulator: ${what} must be an object`);
  for (const k of Object.keys(c)) {
    if (!CONNECTION_KEYS.has(k)) throw new Error(`emulator: command:remote:Command ${what}.${k} is not supported by the emulator`);
  }
  const conn = c as Connection;
  if (typeof conn.host !== "string" || conn.host === "") throw new Error(`emulator: ${what}.host is required`);
  if (conn.proxy !== undefined) validateConnection(conn.proxy, `${what}.proxy`);
  return conn;
}

interface Prepared {
  args: string[];
  logFiles: string[];
  dispose(): void;
}

function keyType(hostKey: string): string {
  const t = hostKey.trim().split(/\s+/)[0] ?? "";
  if (!/^(ssh-|ecdsa-|sk-)/.test(t)) throw new Error(`failed to parse host key: ssh: no key found`);
  return t;
}

/**
 * The ssh(1) options for one hop. Uses `-F /dev/null`: the provider (Go x/crypto/ssh) reads no
 * ssh_config, no default identity files and no known_hosts.
 */
function hopOptions(conn: Connection, tmp: ReturnType<typeof privateTempDir>, tag: string, logFiles: string[]): string[] {
  const port = conn.port ?? 22;
  const user = conn.user ?? "root";
  const log = tmp.file(`${tag}.log`, "");
  logFiles.push(log);
  const o = [
    "-F", "/dev/null",
    "-T",
    "-o", "BatchMode=yes",
    "-o", "LogLevel=VERBOSE",
    "-E", log,
    "-o", "PreferredAuthentications=publickey",
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "UpdateHostKeys=no",
    "-o", "CheckHostIP=no",
    "-o", "ControlMaster=no",
    "-o", "ControlPath=none",
    "-p", String(port),
    "-l", user,
  ];
  const timeout = conn.perDialTimeout ?? 15;
  if (timeout > 0) o.push("-o", `ConnectTimeout=${timeout}`);

  if (conn.privateKey !== undefined) {
    const key = conn.privateKey.endsWith("\n") ? conn.privateKey : `${conn.privateKey}\n`;
    const keyFile = tmp.file(`${tag}.key`, key);
    if (conn.privateKeyPassword !== undefined) {
      // Go: ssh.ParsePrivateKeyWithPassphrase. Decrypt a private copy (stays in the 0700 dir).
      const r = spawnSyncQuiet("ssh-keygen", ["-p", "-P", conn.privateKeyPassword, "-N", "", "-f", keyFile]);
      if (r !== 0) throw new Error("x509: decryption password incorrect (emulator: ssh-keygen could not decrypt privateKey with privateKeyPassword)");
    } else if (spawnSyncQuiet("ssh-keygen", ["-y", "-P", "", "-f", keyFile]) !== 0) {
      throw new Error("ssh: this private key is passphrase protected");
    }
    o.push("-o", `IdentityFile=${keyFile}`);
  } else {
    // No key given: x/crypto/ssh only uses the agent. Keep OpenSSH off ~/.ssh/id_*.
    o.push("-o", "IdentityFile=none");
  }
  if (conn.agentSocketPath !== undefined) o.push("-o", `IdentityAgent=${conn.agentSocketPath}`);
  // else: OpenSSH, like the provider, falls back to $SSH_AUTH_SOCK.

  if (conn.password !== undefined) {
    if (conn.privateKey === undefined && conn.agentSocketPath === undefined && !process.env.SSH_AUTH_SOCK) {
      throw new Error("emulator: connection.password authentication is not supported (OpenSSH BatchMode=yes); use privateKey or an agent");
    }
  }

  if (conn.hostKey !== undefined) {
    const type = keyType(conn.hostKey);
    const parts = conn.hostKey.trim().split(/\s+/);
    const pattern = port === 22 ? conn.host : `[${conn.host}]:${port}`;
    const kh = tmp.file(`${tag}.known_hosts`, `${pattern} ${parts[0]} ${parts[1]}\n`);
    // x/crypto sets HostKeyAlgorithms = [key.Type()]; for "ssh-rsa" OpenSSH negotiates the
    // rsa-sha2-* signature algorithms on the same key (documented difference).
    const algos = type === "ssh-rsa" ? "rsa-sha2-512,rsa-sha2-256,ssh-rsa" : type;
    o.push("-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${kh}`, "-o", `HostKeyAlgorithms=${algos}`);
  } else {
    // The provider uses ssh.InsecureIgnoreHostKey() when no hostKey is given: any key is accepted.
    o.push("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null");
  }
  return o;
}

function spawnSyncQuiet(cmd: string, args: string[]): number {
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  return r.status ?? 1;
}

function prepare(conn: Connection, command: string, sendEnv: string[]): Prepared {
  const tmp = privateTempDir("pulumi-emu-ssh-");
  try {
    const logFiles: string[] = [];
    const args = hopOptions(conn, tmp, "target", logFiles);
    if (conn.proxy) {
      const p = conn.proxy;
      const proxyArgs = hopOptions(p, tmp, "proxy", logFiles);
      // x/crypto: dial the proxy, then a direct-tcpip channel to host:port (== ssh -W).
      const pc = ["ssh", ...proxyArgs, "-W", `${conn.host}:${conn.port ?? 22}`, "--", p.host]
        .map((a) => shQuote(a).replace(/%/g, "%%"))
        .join(" ");
      args.push("-o", `ProxyCommand=${pc}`);
    }
    for (const name of sendEnv) args.push("-o", `SendEnv=${name}`);
    args.push("--", conn.host, command);
    return { args, logFiles, dispose: () => tmp.dispose() };
  } catch (e) {
    tmp.dispose();
    throw e;
  }
}

interface Attempt {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  authenticated: boolean;
  log: string;
}

function attempt(args: string[], logFiles: string[], env: NodeJS.ProcessEnv, stdin: string | undefined): Promise<Attempt> {
  for (const f of logFiles) fs.writeFileSync(f, "");
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.stdin.on("error", () => undefined); // EPIPE when the remote side does not read stdin
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const log = logFiles.map((f) => fs.readFileSync(f, "utf8")).join("");
      // "Authenticated to HOST ([ip]:port) using ..." is logged at VERBOSE by the *target* hop.
      const targetLog = fs.readFileSync(logFiles[0]!, "utf8");
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
        authenticated: /^Authenticated to /m.test(targetLog),
        log,
      });
    });
    if (stdin !== undefined && stdin.length > 0) child.stdin.end(stdin);
    else child.stdin.end();
  });
}

/** The interesting lines of an ssh -E log (drops chatter). */
function logSummary(log: string): string {
  return log
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "")
    .filter((l) => !/^(Authenticated to|Transferred:|Bytes per second|Warning: Permanently added|Pseudo-terminal will not)/.test(l))
    .join("\n");
}

/** Runs `command` like remote.Command's run(): returns trimmed stdout/stderr or throws. */
export async function runRemoteCommand(conn: Connection, command: string, opts: RunOptions): Promise<RunResult> {
  const host = hostId(conn.host, conn.port);
  const env: NodeJS.ProcessEnv = { ...process.env };
  const sendEnv: string[] = [];
  let cmd = command;
  const checks: string[] = [];
  for (const [k, v] of Object.entries(opts.environment ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`emulator: environment variable name ${JSON.stringify(k)} cannot be sent with OpenSSH SendEnv`);
    env[k] = v;
    sendEnv.push(k);
    // OpenSSH sends "env" requests without want-reply, so a variable that sshd's AcceptEnv
    // rejects is silently dropped. The provider's Setenv would fail instead: detect it on the
    // remote side (POSIX login shell assumed) and fail the same way.
    checks.push(`[ "\${${k}+x}" = x ] && [ "\$${k}" = ${shQuote(v)} ] || { printf '%s\\n' '${ENV_MARKER} ${k}' >&2; exit ${ENV_EXIT}; }`);
  }
  for (const [k, v] of Object.entries(opts.optionalEnvironment ?? {})) {
    env[k] = v;
    sendEnv.push(k);
  }
  if (checks.length > 0) cmd = `${checks.join("\n")}\n${command}`;

  const prepared = prepare(conn, cmd, sendEnv);
  opts.counters.command(host);
  try {
    const limit = conn.dialErrorLimit ?? 10;
    let delay = 100;
    for (let tryNo = 0; ; tryNo++) {
      opts.counters.session(host);
      const a = await attempt(prepared.args, prepared.logFiles, env, opts.stdin);
      if (a.code === 255 && !a.authenticated) {
        const reason = logSummary(a.log) || a.stderr.toString("utf8").trim() || "ssh exited with status 255";
        const dials = tryNo + 1;
        if (limit > -1 && dials > limit) {
          throw new Error(`after ${tryNo} failed attempts: ssh: handshake failed (OpenSSH): ${reason}`);
        }
        opts.log(`Dial ${dials}/${limit === -1 ? "inf" : limit} failed: retrying (${reason.split("\n").pop()})`);
        delay = Math.min(delay * 1.5, 5000);
        await sleep(delay);
        continue;
      }
      let stdout = a.stdout.toString("utf8");
      let stderr = a.stderr.toString("utf8");
      if (a.code === ENV_EXIT && stderr.includes(ENV_MARKER)) {
        const name = new RegExp(`${ENV_MARKER} (\\S+)`).exec(stderr)?.[1] ?? "?";
        throw new CommandError(
          `could not set environment variable ${JSON.stringify(name)}: ssh: setenv failed ` +
            `(emulator: sshd did not accept it; sshd_config AcceptEnv must allow it)`,
        );
      }
      if (a.code !== 0) {
        const status = a.code === null ? `Process exited with status 255 from signal ${a.signal ?? "?"}` : `Process exited with status ${a.code}`;
        // The provider's stdouterrbuf interleaves both streams in arrival order; we concatenate.
        throw new CommandError(`${status}: running ${JSON.stringify(command)}:\n${stdout}${stderr}`);
      }
      stdout = stdout.replace(/\n$/, "");
      stderr = stderr.replace(/\n$/, "");
      return { stdout, stderr };
    }
  } finally {
    prepared.dispose();
  }
}
