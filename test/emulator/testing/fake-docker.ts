// A minimal fake Docker Engine API on a unix socket, for unit tests of the emulator's Container
// path without a VM. Reached through real ssh + the real `docker system dial-stdio` by giving the
// test sshd `SetEnv DOCKER_HOST=unix://<socket>`. It stores what it is sent and answers inspect
// like dockerd does for the fields the provider reads (HostConfig verbatim, Config verbatim).
import * as fs from "node:fs";
import * as http from "node:http";
import { spawnSync } from "node:child_process";

export interface FakeRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface FakeContainer {
  Id: string;
  Name: string;
  Image: string;
  Config: Record<string, unknown>;
  HostConfig: Record<string, unknown>;
  State: { Running: boolean; ExitCode: number; Status: string };
}

export function dockerCliAvailable(): boolean {
  return spawnSync("docker", ["--version"]).status === 0;
}

export class FakeDocker {
  readonly requests: FakeRequest[] = [];
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Set<string>(["pyjoules-test-client:latest"]);
  private server: http.Server | undefined;
  private seq = 0;

  constructor(readonly socketPath: string) {}

  /** Requests after the version prefix, e.g. "POST /containers/create". */
  calls(): string[] {
    return this.requests.filter((r) => r.path !== "/_ping" && !r.path.endsWith("/version")).map((r) => `${r.method} ${r.path.replace(/^\/v[\d.]+/, "").replace(/\?.*$/, "")}`);
  }

  start(): Promise<void> {
    try {
      fs.unlinkSync(this.socketPath);
    } catch {
      /* not there */
    }
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks);
        let body: unknown = undefined;
        if (raw.length && (req.headers["content-type"] ?? "").includes("json")) body = JSON.parse(raw.toString());
        else if (raw.length) body = raw;
        this.requests.push({ method: req.method!, path: req.url!, body });
        this.handle(req.method!, req.url!, body, res);
      });
    });
    return new Promise((r) => this.server!.listen(this.socketPath, () => r()));
  }

  stop(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private send(res: http.ServerResponse, status: number, body?: unknown): void {
    res.setHeader("Api-Version", "1.47");
    res.setHeader("Content-Type", "application/json");
    res.statusCode = status;
    res.end(body === undefined ? "" : JSON.stringify(body));
  }

  private find(idOrName: string): FakeContainer | undefined {
    return this.containers.get(idOrName) ?? [...this.containers.values()].find((c) => c.Name === `/${idOrName}`);
  }

  private handle(method: string, url: string, body: unknown, res: http.ServerResponse): void {
    const u = new URL(url, "http://x");
    const p = u.pathname.replace(/^\/v[\d.]+/, "");
    if (p === "/_ping") return void (res.setHeader("Api-Version", "1.47"), res.end(method === "HEAD" ? undefined : "OK"));
    if (p === "/version") return this.send(res, 200, { ApiVersion: "1.47", Version: "fake" });
    let m: RegExpExecArray | null;
    if ((m = /^\/images\/(.+)\/json$/.exec(p))) {
      const name = decodeURIComponent(m[1]!);
      return this.images.has(name) ? this.send(res, 200, { Id: `sha256:${"a".repeat(64)}`, RepoDigests: [] }) : this.send(res, 404, { message: `No such image: ${name}` });
    }
    if (p === "/images/create") {
      const name = `${u.searchParams.get("fromImage")}:${u.searchParams.get("tag") ?? "latest"}`;
      if (name.startsWith("missing")) return this.send(res, 200, { error: `pull access denied for ${name}`, errorDetail: { message: `pull access denied for ${name}` } });
      this.images.add(name);
      return this.send(res, 200, { status: "Downloaded" });
    }
    if (p === "/containers/create" && method === "POST") {
      const b = body as Record<string, unknown>;
      const name = u.searchParams.get("name")!;
      if (this.find(name)) return this.send(res, 409, { message: `Conflict. The container name "/${name}" is already in use` });
      const { HostConfig, NetworkingConfig: _n, ...config } = b;
      void _n;
      const hc = { ...(HostConfig as Record<string, unknown>) };
      if (hc.NetworkMode === undefined) hc.NetworkMode = "bridge";
      const lc = (hc.LogConfig ?? {}) as Record<string, unknown>;
      hc.LogConfig = { Type: lc.Type || "json-file", Config: lc.Config ?? {} };
      if (!hc.ShmSize) hc.ShmSize = 64 * 1024 * 1024;
      const id = (++this.seq).toString(16).padStart(64, "c");
      this.containers.set(id, { Id: id, Name: `/${name}`, Image: `sha256:${"a".repeat(64)}`, Config: { Hostname: id.slice(0, 12), ...config }, HostConfig: hc, State: { Running: false, ExitCode: 0, Status: "created" } });
      return this.send(res, 201, { Id: id, Warnings: [] });
    }
    if ((m = /^\/containers\/([^/]+)(\/[a-z]+)?$/.exec(p))) {
      const c = this.find(decodeURIComponent(m[1]!));
      const op = m[2] ?? "";
      if (!c) return this.send(res, 404, { message: `No such container: ${m[1]}` });
      switch (`${method} ${op}`) {
        case "POST /start":
          c.State = { Running: true, ExitCode: 0, Status: "running" };
          return this.send(res, 204);
        case "GET /json":
          return this.send(res, 200, { ...c, Platform: "linux", NetworkSettings: { Bridge: "", Networks: { bridge: { IPAddress: "172.17.0.2", IPPrefixLen: 16, Gateway: "172.17.0.1" } } } });
        case "POST /update": {
          const b = body as Record<string, unknown>;
          if (b.RestartPolicy) c.HostConfig.RestartPolicy = b.RestartPolicy;
          for (const k of ["Memory", "MemoryReservation", "CpuShares", "CpusetCpus", "MemorySwap"]) if (b[k]) c.HostConfig[k] = b[k];
          return this.send(res, 200, { Warnings: [] });
        }
        case "POST /stop":
          c.State = { Running: false, ExitCode: 137, Status: "exited" };
          return this.send(res, 204);
        case "DELETE ":
          this.containers.delete(c.Id);
          return this.send(res, 204);
        case "POST /wait":
          return this.send(res, 200, { StatusCode: c.State.ExitCode });
        case "PUT /archive":
          return this.send(res, 200);
      }
    }
    return this.send(res, 404, { message: `fake docker: ${method} ${p} not implemented` });
  }
}
