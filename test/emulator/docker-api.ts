// A Docker Engine API client that reaches the daemon the way pulumi-docker does for
// `host: "ssh://user@host:port"`: docker/cli's connhelper runs the *local* `ssh` binary as
//   ssh <sshOpts...> [-o ConnectTimeout=30] [-T] -l USER -p PORT -- HOST docker [--host unix://PATH] system dial-stdio
// and speaks HTTP over its stdin/stdout. Connections are pooled (keep-alive) like the provider's
// cached client, so several API calls can share one SSH session.
import { spawn, type ChildProcess } from "node:child_process";
import * as http from "node:http";
import { Duplex } from "node:stream";
import type { Counters } from "./ssh";

/** API version of the Docker client library pulumi-docker 5.2 is built with (docker/docker v28.5). */
const CLIENT_API_VERSION = "1.51";

export interface DockerHostConfig {
  host: string;
  sshOpts: string[];
  disableDockerDaemonCheck: boolean;
}

export interface ParsedSshUrl {
  user?: string;
  host: string;
  port?: string;
  path?: string;
}

/** docker/cli/cli/connhelper/ssh.ParseURL. */
export function parseSshUrl(daemonURL: string): ParsedSshUrl {
  let u: URL;
  try {
    u = new URL(daemonURL);
  } catch (e) {
    throw new Error(`ssh host connection is not valid: ${(e as Error).message}`);
  }
  if (u.protocol !== "ssh:") throw new Error(`expected scheme ssh, got ${JSON.stringify(u.protocol.replace(/:$/, ""))}`);
  if (u.password) throw new Error("plain-text password is not supported");
  if (!u.hostname) throw new Error(`no host specified`);
  if (u.search) throw new Error(`extra query after the host: ${JSON.stringify(u.search.slice(1))}`);
  if (u.hash) throw new Error(`extra fragment after the host: ${JSON.stringify(u.hash.slice(1))}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    user: u.username ? decodeURIComponent(u.username) : undefined,
    host,
    port: u.port || undefined,
    path: u.pathname && u.pathname !== "/" ? decodeURIComponent(u.pathname) : undefined,
  };
}

/** The exact argv docker/cli's connhelper gives ssh (GetConnectionHelperWithSSHOpts). */
export function dialStdioArgs(sp: ParsedSshUrl, sshOpts: string[]): string[] {
  const flags = [...sshOpts];
  if (!flags.join("").includes("ConnectTimeout")) flags.push("-o ConnectTimeout=30");
  if (!flags.includes("-T")) flags.push("-T");
  const args: string[] = [];
  if (sp.user) args.push("-l", sp.user);
  if (sp.port) args.push("-p", sp.port);
  args.push("--", sp.host, "docker");
  if (sp.path) args.push("--host", `unix://${sp.path}`);
  args.push("system", "dial-stdio");
  return [...flags, ...args];
}

export class DockerApiError extends Error {
  constructor(message: string, readonly statusCode: number) {
    super(message);
  }
}

interface StdioConn extends Duplex {
  child: ChildProcess;
  stderrText(): string;
}

export class DockerClient {
  readonly hostKey: string;
  private readonly agent: http.Agent;
  private readonly children = new Set<ChildProcess>();
  private version: string | undefined;
  private ready: Promise<void> | undefined;
  private readonly socketPath: string | undefined;
  private readonly tcp: { host: string; port: number } | undefined;

  constructor(private readonly cfg: DockerHostConfig, private readonly counters: Counters, private readonly log: (l: string) => void) {
    const h = cfg.host;
    if (h.startsWith("ssh://")) {
      const sp = parseSshUrl(h);
      this.hostKey = `${sp.host}:${sp.port ?? 22}`;
      const args = dialStdioArgs(sp, cfg.sshOpts);
      this.agent = new http.Agent({ keepAlive: true });
      (this.agent as unknown as { createConnection: () => Duplex }).createConnection = () => this.dial(args);
    } else if (h.startsWith("unix://")) {
      this.socketPath = h.slice("unix://".length);
      this.hostKey = h;
      this.agent = new http.Agent({ keepAlive: true });
    } else if (h.startsWith("tcp://") || h.startsWith("http://")) {
      const u = new URL(h.replace(/^tcp:/, "http:"));
      this.tcp = { host: u.hostname, port: Number(u.port || 2375) };
      this.hostKey = `${u.hostname}:${this.tcp.port}`;
      this.agent = new http.Agent({ keepAlive: true });
    } else {
      throw new Error(`emulator: docker provider host ${JSON.stringify(h)} is not supported (ssh://, unix://, tcp:// are)`);
    }
  }

  private dial(args: string[]): Duplex {
    this.counters.session(this.hostKey);
    this.log(`ssh ${args.join(" ")}`);
    const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
    this.children.add(child);
    const errChunks: Buffer[] = [];
    child.stderr!.on("data", (d: Buffer) => errChunks.push(d));
    child.stdin!.on("error", () => undefined);
    const d = Duplex.from({ readable: child.stdout!, writable: child.stdin! }) as StdioConn;
    d.child = child;
    d.stderrText = () => Buffer.concat(errChunks).toString("utf8").trim();
    // http.Agent treats the connection as a net.Socket.
    const self = d as unknown as Record<string, unknown>;
    for (const m of ["setKeepAlive", "setNoDelay", "setTimeout", "ref", "unref"]) self[m] = () => d;
    child.on("exit", (code) => {
      this.children.delete(child);
      if (code !== 0 && code !== null) {
        d.destroy(
          new Error(
            `error during connect: command [ssh ${args.join(" ")}] has exited with exit status ${code}, make sure the URL is valid, ` +
              `and Docker 18.09 or later is installed on the remote host: stderr=${d.stderrText()}`,
          ),
        );
      }
    });
    child.on("error", (e) => d.destroy(e));
    return d;
  }

  /** Ping (+ /version) once, like MakeClient; negotiates the API version. */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      let apiVersion: string | undefined;
      try {
        const r = await this.raw("GET", "/_ping", undefined, false);
        apiVersion = r.headers["api-version"] as string | undefined;
      } catch (e) {
        if (this.cfg.disableDockerDaemonCheck) throw e;
        throw new Error(
          `Error pinging Docker server, please make sure that ${this.cfg.host} is reachable and has a  '_ping' endpoint. Error: ${(e as Error).message}`,
        );
      }
      this.version = apiVersion && versionLess(apiVersion, CLIENT_API_VERSION) ? apiVersion : CLIENT_API_VERSION;
      if (!this.cfg.disableDockerDaemonCheck) {
        try {
          await this.raw("GET", `/v${this.version}/version`, undefined, false);
        } catch (e) {
          this.log(`[WARN] Error connecting to Docker daemon: ${(e as Error).message}`);
        }
      }
    })();
    return this.ready;
  }

  private raw(
    method: string,
    path: string,
    body: unknown,
    count = true,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    if (count) this.counters.command(this.hostKey);
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
      const req = http.request(
        {
          agent: this.agent,
          method,
          path,
          host: this.tcp?.host ?? "docker.example.com",
          port: this.tcp?.port,
          socketPath: this.socketPath,
          headers: {
            ...(payload ? { "Content-Type": Buffer.isBuffer(body) ? "application/x-tar" : "application/json", "Content-Length": String(payload.length) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("error", (e) => {
        const sock = req.socket as unknown as StdioConn | null;
        const stderr = sock && typeof sock.stderrText === "function" ? sock.stderrText() : "";
        reject(stderr && !e.message.includes(stderr) ? new Error(`${e.message}: stderr=${stderr}`) : e);
      });
      req.end(payload);
    });
  }

  /** One API call; non-2xx -> "Error response from daemon: <message>". */
  async call(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<{ status: number; json: unknown; text: string; body: Buffer }> {
    await this.init();
    const r = await this.raw(method, `/v${this.version}${path}`, body);
    const text = r.body.toString("utf8");
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if ((r.status < 200 || r.status >= 300) && !okStatuses.includes(r.status)) {
      const msg = (json as { message?: string } | undefined)?.message ?? text.trim();
      throw new DockerApiError(`Error response from daemon: ${msg}`, r.status);
    }
    return { status: r.status, json, text, body: r.body };
  }

  get apiVersion(): string | undefined {
    return this.version;
  }

  close(): void {
    this.agent.destroy();
    for (const c of this.children) c.kill();
    this.children.clear();
  }
}

function versionLess(a: string, b: string): boolean {
  const [a1, a2] = a.split(".").map(Number);
  const [b1, b2] = b.split(".").map(Number);
  return a1! < b1! || (a1 === b1 && a2! < b2!);
}

/** A one-file ustar archive (for Container `uploads`, like the provider's tar.Writer). */
export function tarOneFile(name: string, content: Buffer, mode: number): Buffer {
  const header = Buffer.alloc(512, 0);
  const put = (off: number, len: number, s: string) => header.write(s.slice(0, len), off, "utf8");
  const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, "0") + "\0";
  const n = name.replace(/^\/+/, "");
  if (Buffer.byteLength(n) > 100) {
    const cut = n.lastIndexOf("/", 155);
    if (cut <= 0 || Buffer.byteLength(n.slice(cut + 1)) > 100) throw new Error(`emulator: upload path too long for ustar: ${name}`);
    put(0, 100, n.slice(cut + 1));
    put(345, 155, n.slice(0, cut));
  } else put(0, 100, n);
  put(100, 8, octal(mode & 0o7777, 8));
  put(108, 8, octal(0, 8));
  put(116, 8, octal(0, 8));
  put(124, 12, octal(content.length, 12));
  put(136, 12, octal(Math.floor(Date.now() / 1000), 12));
  header.fill(" ", 148, 156);
  put(156, 1, "0");
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  let sum = 0;
  for (const b of header) sum += b;
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512, 0);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024, 0)]);
}

/** Splits a multiplexed (non-TTY) logs/attach stream into text. */
export function demux(buf: Buffer): string {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const len = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  return Buffer.concat(out).toString("utf8");
}
