// pulumi:providers:docker, docker:index/container:Container and docker:index/remoteImage:RemoteImage,
// after pulumi-docker 5.x = terraform-provider-docker v4.5.0 (internal/provider/resource_docker_container*.go,
// resource_docker_image_funcs.go, config.go) bridged with `DeleteBeforeReplace: true` for Container
// and autonaming (name-<7 hex>).
//
// The Engine API calls (and their JSON bodies) are the ones the provider makes; they go over the
// provider's own transport (docker-api.ts). Like the bridge, the Container diff compares the new
// inputs with the *state the provider read back after create*, so daemon-side normalisation
// (e.g. `systempaths=unconfined` never being stored) shows up exactly as it would in `pulumi up`.
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import { DockerApiError, DockerClient, demux, tarOneFile, type DockerHostConfig } from "./docker-api";
import type { DiffResult, ProviderContext, ResourceImpl, ResourceState } from "./types";
import { PartialCreateError } from "./types";
import { canonical, goDuration, parseGoDuration, sleep, UNKNOWN } from "./util";

type Obj = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Provider configuration

const PROVIDER_KEYS = new Set(["host", "sshOpts", "disableDockerDaemonCheck", "context", "caMaterial", "certMaterial", "keyMaterial", "certPath", "registryAuth", "version"]);

function parseMaybeJson(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** Provider inputs (bridged providers receive non-string config JSON-encoded) -> client config. */
export function dockerHostConfig(inputs: Obj): DockerHostConfig {
  for (const [k, v] of Object.entries(inputs)) {
    if (!PROVIDER_KEYS.has(k)) throw new Error(`emulator: pulumi:providers:docker input "${k}" is not supported by the emulator`);
    if (v === undefined || v === null) continue;
    if (["context", "caMaterial", "certMaterial", "keyMaterial", "certPath"].includes(k)) {
      throw new Error(`emulator: pulumi:providers:docker input "${k}" is not supported by the emulator`);
    }
    if (k === "registryAuth") {
      const ra = parseMaybeJson(v);
      if (Array.isArray(ra) && ra.length === 0) continue;
      throw new Error(`emulator: pulumi:providers:docker input "registryAuth" is not supported by the emulator`);
    }
  }
  const host = (inputs.host as string | undefined) ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  let sshOpts = parseMaybeJson(inputs.sshOpts);
  if (sshOpts === undefined || sshOpts === null) sshOpts = process.env.DOCKER_SSH_OPTS ? process.env.DOCKER_SSH_OPTS.split(/\s+/).filter(Boolean) : [];
  if (!Array.isArray(sshOpts) || sshOpts.some((s) => typeof s !== "string")) throw new Error(`emulator: docker provider sshOpts must be a list of strings`);
  const dd = parseMaybeJson(inputs.disableDockerDaemonCheck);
  return { host, sshOpts: sshOpts as string[], disableDockerDaemonCheck: dd === true || dd === "true" };
}

function client(ctx: ProviderContext, opts: { provider?: string }): DockerClient {
  const cfg = dockerHostConfig(ctx.providerConfig("docker", opts.provider));
  const key = `docker:${canonical(cfg)}`;
  let c = ctx.cache.get(key) as DockerClient | undefined;
  if (!c) {
    c = new DockerClient(cfg, ctx.counters, (l) => ctx.log(`[docker ${cfg.host}] ${l}`));
    ctx.cache.set(key, c);
  }
  return c;
}

/** The provider resource itself: configuring it touches nothing (the daemon is pinged lazily). */
export const dockerProvider: ResourceImpl = {
  check(inputs) {
    dockerHostConfig(inputs);
    return inputs;
  },
  diff(old, news) {
    const keys = new Set([...Object.keys(old.inputs), ...Object.keys(news)]);
    return { changed: [...keys].filter((k) => canonical(old.inputs[k]) !== canonical(news[k])).sort(), replaces: [] };
  },
  async create(_ctx, _name, inputs) {
    return { id: randomUUID(), outputs: inputs };
  },
  async update(_ctx, _old, news) {
    return news;
  },
  async delete() {},
  previewOutputs(inputs) {
    return inputs;
  },
};

// ---------------------------------------------------------------------------------------------
// Container schema (Pulumi names). fn = ForceNew, computed = Optional+Computed, set = TypeSet,
// def = TF default, upd = applied by resourceDockerContainerUpdate via ContainerUpdate,
// suppressEmpty = DiffSuppressFunc treating "" as no change, fields = allowed nested keys.

interface Spec {
  fn?: boolean;
  computed?: boolean;
  set?: boolean;
  def?: unknown;
  upd?: boolean;
  suppressEmpty?: boolean;
  fields?: Record<string, Spec | true>;
  map?: boolean;
}

const CONTAINER: Record<string, Spec> = {
  name: { fn: true },
  image: { fn: true },
  rm: { def: false },
  readOnly: { fn: true, def: false },
  start: { def: true },
  wait: { def: false },
  waitTimeout: { def: 60 },
  attach: { def: false },
  logs: { def: false },
  mustRun: { def: true },
  hostname: { fn: true, computed: true },
  domainname: { fn: true },
  command: { fn: true, computed: true },
  entrypoints: { fn: true, computed: true },
  user: { fn: true, suppressEmpty: true },
  dns: { fn: true, set: true },
  dnsOpts: { fn: true, set: true },
  dnsSearches: { fn: true, set: true },
  publishAllPorts: { fn: true },
  restart: { def: "no", upd: true },
  maxRetryCount: { upd: true },
  workingDir: { fn: true, suppressEmpty: true },
  removeVolumes: { def: true },
  capabilities: { fn: true, fields: { adds: { set: true }, drops: { set: true } } },
  securityOpts: { fn: true, computed: true, set: true },
  runtime: { fn: true, computed: true },
  platform: { fn: true, computed: true },
  stopSignal: { fn: true, computed: true },
  stopTimeout: { fn: true, computed: true },
  mounts: {
    fn: true,
    set: true,
    fields: {
      target: true, source: true, type: true, readOnly: true,
      bindOptions: { fields: { propagation: true } },
      volumeOptions: { fields: { noCopy: true, labels: { set: true, fields: { label: true, value: true } }, driverName: true, driverOptions: { map: true }, subpath: true } },
      tmpfsOptions: { fields: { sizeBytes: true, mode: true } },
    },
  },
  volumes: { fn: true, set: true, fields: { fromContainer: true, containerPath: true, hostPath: true, volumeName: true, readOnly: true, selinuxRelabel: true } },
  tmpfs: { map: true },
  ports: { fn: true, fields: { internal: true, external: true, ip: { def: "0.0.0.0" }, protocol: { def: "tcp" } } },
  hosts: { fn: true, set: true, fields: { host: true, ip: true } },
  ulimits: { fn: true, set: true, fields: { name: true, soft: true, hard: true } },
  envs: { fn: true, computed: true, set: true },
  privileged: { fn: true },
  devices: { fn: true, set: true, fields: { hostPath: true, containerPath: true, permissions: { def: "rwm" } } },
  labels: { fn: true, computed: true, set: true, fields: { label: true, value: true } },
  memory: { upd: true },
  memoryReservation: { def: 0, upd: true },
  memorySwap: { upd: true },
  shmSize: { fn: true, computed: true },
  cpuShares: { upd: true },
  cpuSet: { upd: true },
  cpus: { fn: true },
  cpuPeriod: {},
  cpuQuota: {},
  logDriver: { fn: true, computed: true },
  logOpts: { fn: true, map: true },
  networkMode: { fn: true, def: "bridge" },
  pidMode: { fn: true },
  usernsMode: { fn: true },
  ipcMode: { fn: true, computed: true },
  uploads: { fn: true, set: true, fields: { content: true, contentBase64: true, file: true, executable: { def: false }, permissions: true, source: true, sourceHash: true } },
  healthcheck: {
    computed: true,
    fields: { tests: true, interval: { def: "0s" }, timeout: { def: "0s" }, startPeriod: { def: "0s" }, startInterval: { def: "0s" }, retries: { def: 0 } },
  },
  containerReadRefreshTimeoutMilliseconds: { def: 15000 },
  destroyGraceSeconds: {},
  sysctls: { fn: true, map: true },
  groupAdds: { fn: true, set: true },
  init: { computed: true },
  tty: { fn: true, def: false },
  stdinOpen: { fn: true, def: false },
  storageOpts: { fn: true, map: true },
  cgroupnsMode: { fn: true },
  cgroupParent: { fn: true },
};

/** Output-only properties (never inputs). */
const CONTAINER_OUTPUTS = ["exitCode", "containerLogs", "bridge", "networkData"];

/** Throws naming the first input the emulator does not map; applies TF defaults. */
function checkObject(specs: Record<string, Spec | true>, v: Obj, path: string): Obj {
  const out: Obj = {};
  for (const [k, val] of Object.entries(v)) {
    const s = specs[k];
    if (s === undefined) {
      throw new Error(`emulator: docker:index/container:Container input "${path}${k}" is not mapped by the emulator (add it to test/emulator/docker.ts)`);
    }
    out[k] = val === undefined || val === null ? undefined : checkValue(s === true ? {} : s, val, `${path}${k}`);
  }
  for (const [k, s] of Object.entries(specs)) {
    if (s !== true && out[k] === undefined && s.def !== undefined) out[k] = s.def;
  }
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

function checkValue(s: Spec, val: unknown, path: string): unknown {
  if (s.fields) {
    if (Array.isArray(val)) return val.map((e, i) => checkObject(s.fields!, e as Obj, `${path}[${i}].`));
    if (typeof val === "object" && val !== null) return checkObject(s.fields, val as Obj, `${path}.`);
  }
  return val;
}

// --- comparison helpers (TF semantics: zero value == unset, sets are unordered) ----------------

function isZero(v: unknown): boolean {
  return v === undefined || v === null || v === "" || v === 0 || v === false ||
    (Array.isArray(v) && v.length === 0) || (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
}

function norm(s: Spec | true, v: unknown): unknown {
  const spec: Spec = s === true ? {} : s;
  if (isZero(v)) return undefined;
  if (Array.isArray(v)) {
    const items = v.map((e) => (spec.fields && typeof e === "object" && e !== null ? normObj(spec.fields, e as Obj) : norm({}, e)));
    return spec.set ? items.map(canonical).sort() : items.map(canonical);
  }
  if (typeof v === "object" && v !== null) {
    if (spec.fields) return canonical(normObj(spec.fields, v as Obj));
    if (spec.map) return canonical(Object.fromEntries(Object.entries(v as Obj).map(([k, e]) => [k, String(e)])));
    return canonical(v);
  }
  return v;
}

function normObj(fields: Record<string, Spec | true>, v: Obj): Obj {
  const out: Obj = {};
  for (const [k, e] of Object.entries(v)) {
    const n = norm(fields[k] ?? {}, e);
    if (n !== undefined) out[k] = n;
  }
  return out;
}

function diffAgainstState(specs: Record<string, Spec>, old: ResourceState, news: Obj, forceReplace: boolean): DiffResult {
  const changed: string[] = [];
  const replaces: string[] = [];
  for (const [k, spec] of Object.entries(specs)) {
    const nv = news[k];
    if (nv === undefined && spec.computed) continue;
    if (spec.suppressEmpty && (nv === "" || nv === undefined)) continue;
    if (canonical(norm(spec, nv)) !== canonical(norm(spec, old.outputs[k]))) {
      changed.push(k);
      if (spec.fn || forceReplace) replaces.push(k);
    }
  }
  if (old.initErrors?.length) {
    // A half-created (tainted) resource is replaced.
    if (replaces.length === 0) replaces.push(...(changed.length ? changed : ["name"]));
    if (changed.length === 0) changed.push("name");
  }
  return { changed: changed.sort(), replaces: replaces.sort() };
}

// --- Container create/read/update/delete ---------------------------------------------------------

function mib(n: unknown): number {
  return Number(n ?? 0) * 1024 * 1024;
}

function parseImageRef(image: string): { fromImage: string; tag?: string } {
  const at = image.indexOf("@");
  if (at >= 0) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  if (colon > slash) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: "latest" };
}

/** findImage: inspect locally, else pull, else fail. */
async function findImage(c: DockerClient, image: string, platform: string | undefined): Promise<Obj> {
  if (!image) throw new Error("empty image name is not allowed");
  const enc = encodeURIComponent(image);
  const r = await c.call("GET", `/images/${enc}/json`, undefined, [404]);
  if (r.status !== 404) return r.json as Obj;
  const ref = parseImageRef(image);
  const q = new URLSearchParams({ fromImage: ref.fromImage });
  if (ref.tag) q.set("tag", ref.tag);
  if (platform) q.set("platform", platform);
  let pull;
  try {
    pull = await c.call("POST", `/images/create?${q}`);
  } catch (e) {
    throw new Error(`unable to pull image ${image}: ${(e as Error).message}`);
  }
  for (const line of pull.text.split("\n")) {
    if (!line.trim()) continue;
    const m = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
    if (m.error) throw new Error(`unable to pull image ${image}: ${m.errorDetail?.message ?? m.error}`);
  }
  const again = await c.call("GET", `/images/${enc}/json`, undefined, [404]);
  if (again.status === 404) throw new Error(`unable to find or pull image ${image}`);
  return again.json as Obj;
}

function portBindings(ports: Obj[]): { exposed: Obj; bindings: Obj } {
  const exposed: Obj = {};
  const bindings: Record<string, Obj[]> = {};
  for (const p of ports) {
    const key = `${p.internal}/${p.protocol ?? "tcp"}`;
    exposed[key] = {};
    const b: Obj = {};
    if (p.external !== undefined) b.HostPort = String(p.external);
    if (p.ip !== undefined) b.HostIp = p.ip;
    if (p.external !== undefined || p.ip !== undefined) (bindings[key] ??= []).push(b);
  }
  return { exposed, bindings };
}

/** The ContainerCreate body resourceDockerContainerCreate builds. */
export function containerCreateBody(i: Obj): Obj {
  const config: Obj = {
    Image: i.image,
    Hostname: i.hostname ?? "",
    Domainname: i.domainname ?? "",
    Tty: i.tty ?? false,
    OpenStdin: i.stdinOpen ?? false,
    StopSignal: i.stopSignal ?? "",
  };
  if (i.stopTimeout !== undefined) config.StopTimeout = i.stopTimeout;
  if (Array.isArray(i.envs) && i.envs.length) config.Env = i.envs;
  if (Array.isArray(i.command) && i.command.length) {
    if ((i.command as string[]).some((c) => c === "")) throw new Error("values for command may not be empty");
    config.Cmd = i.command;
  }
  if (Array.isArray(i.entrypoints) && i.entrypoints.length) config.Entrypoint = i.entrypoints;
  if (i.user) config.User = i.user;
  if (i.workingDir) config.WorkingDir = i.workingDir;
  const hostConfig: Obj = {
    Privileged: i.privileged ?? false,
    PublishAllPorts: i.publishAllPorts ?? false,
    RestartPolicy: { Name: i.restart ?? "no", MaximumRetryCount: i.maxRetryCount ?? 0 },
    Runtime: i.runtime ?? "",
    AutoRemove: i.rm ?? false,
    ReadonlyRootfs: i.readOnly ?? false,
    LogConfig: { Type: i.logDriver ?? "" },
  };
  if (Array.isArray(i.ports) && i.ports.length) {
    const { exposed, bindings } = portBindings(i.ports as Obj[]);
    config.ExposedPorts = exposed;
    if (Object.keys(bindings).length) hostConfig.PortBindings = bindings;
  }
  if (Array.isArray(i.hosts) && i.hosts.length) hostConfig.ExtraHosts = (i.hosts as Obj[]).map((h) => `${h.host}:${h.ip}`);
  if (Array.isArray(i.ulimits) && i.ulimits.length) hostConfig.Ulimits = (i.ulimits as Obj[]).map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }));
  if (Array.isArray(i.volumes) && i.volumes.length) {
    const volumes: Obj = {};
    const binds: string[] = [];
    const from: string[] = [];
    for (const v of i.volumes as Obj[]) {
      const fromContainer = (v.fromContainer as string) ?? "";
      const containerPath = (v.containerPath as string) ?? "";
      const volumeName = (v.hostPath as string) || ((v.volumeName as string) ?? "");
      if (!fromContainer && !containerPath) throw new Error("Unable to parse volumes: volume entry without container path or source container");
      if (fromContainer && containerPath) throw new Error("Unable to parse volumes: both a container and a path specified in a volume entry");
      if (fromContainer) from.push(fromContainer);
      else if (volumeName) {
        let rw = v.readOnly ? "ro" : "rw";
        if (v.selinuxRelabel) rw += `,${v.selinuxRelabel}`;
        volumes[containerPath] = {};
        binds.push(`${volumeName}:${containerPath}:${rw}`);
      } else volumes[containerPath] = {};
    }
    if (Object.keys(volumes).length) config.Volumes = volumes;
    if (binds.length) hostConfig.Binds = binds;
    if (from.length) hostConfig.VolumesFrom = from;
  }
  if (Array.isArray(i.labels) && i.labels.length) config.Labels = Object.fromEntries((i.labels as Obj[]).map((l) => [l.label, l.value]));
  if (i.healthcheck) {
    const h = i.healthcheck as Obj;
    config.Healthcheck = {
      Test: h.tests ?? [],
      Interval: parseGoDuration((h.interval as string) ?? "0s"),
      Timeout: parseGoDuration((h.timeout as string) ?? "0s"),
      StartPeriod: parseGoDuration((h.startPeriod as string) ?? "0s"),
      StartInterval: parseGoDuration((h.startInterval as string) ?? "0s"),
      Retries: h.retries ?? 0,
    };
  }
  hostConfig.Mounts = ((i.mounts as Obj[] | undefined) ?? []).map((m) => {
    const out: Obj = { Type: m.type, Target: m.target, Source: m.source ?? "" };
    if (m.readOnly !== undefined) out.ReadOnly = m.readOnly;
    if (m.type === "bind" && m.bindOptions) out.BindOptions = { Propagation: (m.bindOptions as Obj).propagation ?? "" };
    else if (m.type === "volume" && m.volumeOptions) {
      const vo = m.volumeOptions as Obj;
      const o: Obj = { NoCopy: vo.noCopy ?? false };
      if (vo.labels) o.Labels = Object.fromEntries((vo.labels as Obj[]).map((l) => [l.label, l.value]));
      if (vo.driverName !== undefined || vo.driverOptions !== undefined) o.DriverConfig = { Name: vo.driverName ?? "", Options: vo.driverOptions };
      if (vo.subpath !== undefined) o.Subpath = vo.subpath;
      out.VolumeOptions = o;
    } else if (m.type === "tmpfs" && m.tmpfsOptions) {
      const t = m.tmpfsOptions as Obj;
      out.TmpfsOptions = { SizeBytes: t.sizeBytes ?? 0, Mode: t.mode ?? 0 };
    }
    return out;
  });
  if (i.tmpfs) hostConfig.Tmpfs = i.tmpfs;
  const caps = i.capabilities as Obj | undefined;
  if (caps) {
    hostConfig.CapAdd = caps.adds ?? [];
    hostConfig.CapDrop = caps.drops ?? [];
  }
  if (Array.isArray(i.devices) && i.devices.length) {
    hostConfig.Devices = (i.devices as Obj[]).map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.containerPath || d.hostPath, CgroupPermissions: d.permissions ?? "rwm" }));
  }
  if (Array.isArray(i.dns) && i.dns.length) hostConfig.Dns = i.dns;
  if (Array.isArray(i.dnsOpts) && i.dnsOpts.length) hostConfig.DnsOptions = i.dnsOpts;
  if (Array.isArray(i.dnsSearches) && i.dnsSearches.length) hostConfig.DnsSearch = i.dnsSearches;
  if (Array.isArray(i.securityOpts) && i.securityOpts.length) {
    // parseSystemPaths: `systempaths=unconfined` is handled client-side (as by the docker CLI):
    // it is not sent; MaskedPaths and ReadonlyPaths are sent as empty lists instead.
    const opts = (i.securityOpts as string[]).filter((o) => o !== "systempaths=unconfined");
    hostConfig.SecurityOpt = opts;
    if (opts.length !== (i.securityOpts as string[]).length) {
      hostConfig.MaskedPaths = [];
      hostConfig.ReadonlyPaths = [];
    }
  }
  if (i.memory) hostConfig.Memory = mib(i.memory);
  if (i.memoryReservation) hostConfig.MemoryReservation = mib(i.memoryReservation);
  if (i.memorySwap) hostConfig.MemorySwap = (i.memorySwap as number) > 0 ? mib(i.memorySwap) : i.memorySwap;
  if (i.shmSize) hostConfig.ShmSize = mib(i.shmSize);
  if (i.cpus) {
    const n = Number(i.cpus);
    if (!Number.isFinite(n) || n < 0) throw new Error(`Error setting cpus: failed to parse ${i.cpus} as a rational number`);
    hostConfig.NanoCpus = Math.round(n * 1e9);
  } else {
    if (i.cpuPeriod) hostConfig.CpuPeriod = i.cpuPeriod;
    if (i.cpuQuota) hostConfig.CpuQuota = i.cpuQuota;
  }
  if (i.cpuShares) hostConfig.CpuShares = i.cpuShares;
  if (i.cpuSet) hostConfig.CpusetCpus = i.cpuSet;
  if (i.logOpts && Object.keys(i.logOpts as Obj).length) (hostConfig.LogConfig as Obj).Config = i.logOpts;
  if (i.networkMode) hostConfig.NetworkMode = i.networkMode;
  if (i.usernsMode) hostConfig.UsernsMode = i.usernsMode;
  if (i.pidMode) hostConfig.PidMode = i.pidMode;
  if (i.sysctls) hostConfig.Sysctls = i.sysctls;
  if (i.ipcMode) hostConfig.IpcMode = i.ipcMode;
  if (Array.isArray(i.groupAdds) && i.groupAdds.length) hostConfig.GroupAdd = i.groupAdds;
  if (i.cgroupnsMode) {
    if (!["private", "host"].includes(i.cgroupnsMode as string)) throw new Error("cgroupns_mode: invalid CGROUP mode, must be either 'private', 'host' or empty");
    hostConfig.CgroupnsMode = i.cgroupnsMode;
  }
  if (i.cgroupParent) hostConfig.CgroupParent = i.cgroupParent;
  hostConfig.Init = i.init === true; // the provider always sends Init (false when unset)
  if (i.storageOpts) hostConfig.StorageOpt = i.storageOpts;
  return { ...config, HostConfig: hostConfig, NetworkingConfig: {} };
}

/** resourceDockerContainerRead: what the provider stores after create. */
function readContainer(info: Obj, inputs: Obj): Obj {
  const cfg = (info.Config ?? {}) as Obj;
  const hc = (info.HostConfig ?? {}) as Obj;
  const state = (info.State ?? {}) as Obj;
  const ns = (info.NetworkSettings ?? {}) as Obj;
  const o: Obj = {};
  const arr = (v: unknown) => (Array.isArray(v) ? v : []);
  o.name = String(info.Name ?? "").replace(/^\/+/, "");
  o.rm = hc.AutoRemove;
  o.readOnly = hc.ReadonlyRootfs;
  o.image = String(inputs.image ?? "").startsWith("sha256:") ? info.Image : cfg.Image;
  o.hostname = cfg.Hostname;
  o.domainname = cfg.Domainname;
  o.command = arr(cfg.Cmd);
  o.entrypoints = arr(cfg.Entrypoint);
  o.user = cfg.User;
  o.dns = arr(hc.Dns);
  o.dnsOpts = arr(hc.DnsOptions);
  o.securityOpts = arr(hc.SecurityOpt);
  o.dnsSearches = arr(hc.DnsSearch);
  o.publishAllPorts = hc.PublishAllPorts;
  const rp = (hc.RestartPolicy ?? {}) as Obj;
  o.restart = rp.Name;
  o.maxRetryCount = rp.MaximumRetryCount;
  o.init = hc.Init ?? false;
  o.workingDir = cfg.WorkingDir;
  if (arr(hc.CapAdd).length || arr(hc.CapDrop).length) o.capabilities = { adds: arr(hc.CapAdd), drops: arr(hc.CapDrop) };
  o.runtime = hc.Runtime;
  o.platform = info.Platform;
  o.mounts = arr(hc.Mounts).map((m: Obj) => {
    const r: Obj = { target: m.Target, source: m.Source, type: m.Type, readOnly: m.ReadOnly ?? false };
    if (m.BindOptions) r.bindOptions = { propagation: (m.BindOptions as Obj).Propagation };
    if (m.VolumeOptions) {
      const vo = m.VolumeOptions as Obj;
      const v: Obj = { noCopy: vo.NoCopy, labels: Object.entries((vo.Labels ?? {}) as Obj).map(([label, value]) => ({ label, value })) };
      if (vo.DriverConfig) {
        v.driverName = (vo.DriverConfig as Obj).Name;
        v.driverOptions = (vo.DriverConfig as Obj).Options;
      }
      r.volumeOptions = v;
    }
    if (m.TmpfsOptions) r.tmpfsOptions = { sizeBytes: (m.TmpfsOptions as Obj).SizeBytes, mode: (m.TmpfsOptions as Obj).Mode };
    return r;
  });
  o.tmpfs = hc.Tmpfs;
  o.hosts = arr(hc.ExtraHosts).map((h: string) => ({ host: h.split(":")[0], ip: h.split(":")[1] }));
  if (inputs.ulimits !== undefined) o.ulimits = arr(hc.Ulimits).map((u: Obj) => ({ name: u.Name, soft: u.Soft, hard: u.Hard }));
  o.privileged = hc.Privileged;
  o.memory = Math.trunc(Number(hc.Memory ?? 0) / 1048576);
  const mr = Number(hc.MemoryReservation ?? 0);
  o.memoryReservation = mr > 0 ? Math.trunc(mr / 1048576) : mr;
  const ms = Number(hc.MemorySwap ?? 0);
  o.memorySwap = ms > 0 ? Math.trunc(ms / 1048576) : ms;
  o.shmSize = Math.trunc(Number(hc.ShmSize ?? 0) / 1048576);
  if (Number(hc.NanoCpus ?? 0) > 0) o.cpus = String(Number(hc.NanoCpus) / 1e9);
  o.cpuShares = hc.CpuShares;
  o.cpuSet = hc.CpusetCpus;
  const lc = (hc.LogConfig ?? {}) as Obj;
  o.logDriver = lc.Type;
  o.logOpts = inputs.logOpts !== undefined ? lc.Config : undefined;
  o.storageOpts = hc.StorageOpt;
  o.networkMode = hc.NetworkMode;
  if (inputs.pidMode !== undefined) o.pidMode = hc.PidMode;
  o.usernsMode = hc.UsernsMode;
  if (cfg.Healthcheck) {
    const h = cfg.Healthcheck as Obj;
    o.healthcheck = {
      tests: arr(h.Test),
      interval: goDuration(Number(h.Interval ?? 0)),
      timeout: goDuration(Number(h.Timeout ?? 0)),
      startPeriod: goDuration(Number(h.StartPeriod ?? 0)),
      startInterval: goDuration(Number(h.StartInterval ?? 0)),
      retries: h.Retries ?? 0,
    };
  }
  o.sysctls = hc.Sysctls;
  o.ipcMode = hc.IpcMode;
  o.groupAdds = arr(hc.GroupAdd);
  o.tty = cfg.Tty;
  o.stdinOpen = cfg.OpenStdin;
  o.stopSignal = cfg.StopSignal;
  o.stopTimeout = cfg.StopTimeout;
  o.bridge = ns.Bridge;
  o.networkData = Object.entries((ns.Networks ?? {}) as Record<string, Obj>).map(([networkName, n]) => ({
    networkName,
    ipAddress: n.IPAddress,
    ipPrefixLength: n.IPPrefixLen,
    gateway: n.Gateway,
    globalIpv6Address: n.GlobalIPv6Address,
    globalIpv6PrefixLength: n.GlobalIPv6PrefixLen,
    ipv6Gateway: n.IPv6Gateway,
    macAddress: n.MacAddress,
  }));
  if (!state.Running) o.exitCode = state.ExitCode;
  for (const k of Object.keys(o)) if (o[k] === undefined || o[k] === null) delete o[k];
  return o;
}

async function uploadFiles(c: DockerClient, id: string, uploads: Obj[]): Promise<void> {
  for (const u of uploads) {
    const set = [u.content, u.contentBase64, u.source].filter((x) => x !== undefined && x !== "");
    if (set.length === 0) throw new Error("error with upload content: one of 'content', 'content_base64', or 'source' must be set");
    if (set.length > 1) throw new Error("error with upload content: only one of 'content', 'content_base64', or 'source' can be set");
    let content: Buffer;
    if (u.content) content = Buffer.from(u.content as string, "utf8");
    else if (u.contentBase64) content = Buffer.from(u.contentBase64 as string, "base64");
    else content = fs.readFileSync(u.source as string);
    const mode = u.permissions ? parseInt(u.permissions as string, 8) : u.executable ? 0o744 : 0o644;
    const tar = tarOneFile(u.file as string, content, mode);
    try {
      await c.call("PUT", `/containers/${id}/archive?path=${encodeURIComponent("/")}`, tar);
    } catch (e) {
      throw new Error(`Unable to upload volume content: ${(e as Error).message}`);
    }
  }
}

async function waitHealthy(c: DockerClient, id: string, timeoutS: number): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const info = (await c.call("GET", `/containers/${id}/json`)).json as Obj;
    const health = ((info.State ?? {}) as Obj).Health as Obj | undefined;
    if (!health) throw new Error("you have supplied a 'wait' argument, but the container does not have a healthcheck defined. Please remove the 'wait' argument or add a 'healthcheck' attribute");
    if (health.Status === "healthy") return;
    if (Date.now() + 1000 > deadline) throw new Error("container failed to be in healthy state");
    await sleep(1000);
  }
}

export const container: ResourceImpl = {
  deleteBeforeReplace: true,

  check(inputs, name, old) {
    const out = checkObject(CONTAINER, inputs, "");
    if (out.image === undefined) throw new Error(`docker:index/container:Container: missing required property "image"`);
    if (out.name === undefined) {
      out.name = (old?.inputs.name as string | undefined) ?? `${name}-${randomBytes(4).toString("hex").slice(0, 7)}`;
    }
    if (out.restart !== undefined && !/^(no|on-failure|always|unless-stopped)$/.test(out.restart as string)) {
      throw new Error(`invalid value for restart (must match ^(no|on-failure|always|unless-stopped)$)`);
    }
    for (const m of (out.mounts as Obj[] | undefined) ?? []) {
      if (!/^(bind|volume|tmpfs)$/.test(String(m.type))) throw new Error(`invalid value for mounts.type (must be bind, volume or tmpfs)`);
    }
    if (out.healthcheck) {
      const h = out.healthcheck as Obj;
      for (const k of ["interval", "timeout", "startPeriod", "startInterval"]) parseGoDuration(h[k] as string);
    }
    return out;
  },

  diff(old, news) {
    return diffAgainstState(CONTAINER, old, news, false);
  },

  async create(ctx, _name, i, opts) {
    const c = client(ctx, opts);
    const image = i.image as string;
    try {
      await findImage(c, image, i.platform as string | undefined);
    } catch (e) {
      throw new Error(`Unable to create container with image ${image}: ${(e as Error).message}`);
    }
    const body = containerCreateBody(i);
    const q = new URLSearchParams({ name: i.name as string });
    if (i.platform) q.set("platform", i.platform as string);
    let id: string;
    try {
      id = ((await c.call("POST", `/containers/create?${q}`, body)).json as Obj).Id as string;
    } catch (e) {
      throw new Error(`Unable to create container: ${(e as Error).message}`);
    }
    let containerLogs: string | undefined;
    try {
      if (Array.isArray(i.uploads)) await uploadFiles(c, id, i.uploads as Obj[]);
      if (i.start !== false) {
        try {
          await c.call("POST", `/containers/${id}/start`);
        } catch (e) {
          throw new Error(`Unable to start container: ${(e as Error).message}`);
        }
        if (i.wait === true) await waitHealthy(c, id, (i.waitTimeout as number) ?? 60);
      }
      if (i.attach === true) {
        await c.call("POST", `/containers/${id}/wait?condition=not-running`);
        if (i.logs === true) {
          const l = await c.call("GET", `/containers/${id}/logs?stdout=1&stderr=1`);
          containerLogs = i.tty ? l.text : demux(l.body);
        }
      }
    } catch (e) {
      // The container exists (d.SetId was called): partial state, replaced on the next run.
      throw new PartialCreateError((e as Error).message, id, { ...i });
    }
    const info = (await c.call("GET", `/containers/${id}/json`)).json as Obj;
    const outputs: Obj = { ...i, ...readContainer(info, i) };
    if (containerLogs !== undefined) outputs.containerLogs = containerLogs;
    return { id, outputs };
  },

  async update(ctx, old, news, opts) {
    const c = client(ctx, opts);
    const id = old.id!;
    // resourceDockerContainerUpdate: start on must_run false -> true; ContainerUpdate once when any
    // of the resource attributes changed. Everything else non-ForceNew only changes state.
    if (old.outputs.mustRun === false && news.mustRun !== false && news.start !== false) {
      await c.call("POST", `/containers/${id}/start`).catch((e: Error) => {
        throw new Error(`Unable to start container: ${e.message}`);
      });
    }
    const attrs = Object.entries(CONTAINER).filter(([, s]) => s.upd).map(([k]) => k);
    if (attrs.some((k) => canonical(norm(CONTAINER[k]!, news[k])) !== canonical(norm(CONTAINER[k]!, old.outputs[k])))) {
      const body: Obj = {
        RestartPolicy: { Name: news.restart ?? "no", MaximumRetryCount: news.maxRetryCount ?? 0 },
        CpuShares: news.cpuShares ?? 0,
        Memory: mib(news.memory),
        MemoryReservation: mib(news.memoryReservation),
        CpusetCpus: news.cpuSet ?? "",
      };
      if (news.memorySwap) body.MemorySwap = (news.memorySwap as number) > 0 ? mib(news.memorySwap) : news.memorySwap;
      try {
        await c.call("POST", `/containers/${id}/update`, body);
      } catch (e) {
        throw new Error(`Unable to update a container: ${(e as Error).message}`);
      }
    }
    const computed: Obj = {};
    for (const [k, s] of Object.entries(CONTAINER)) if (s.computed && news[k] === undefined) computed[k] = old.outputs[k];
    for (const k of CONTAINER_OUTPUTS) if (old.outputs[k] !== undefined) computed[k] = old.outputs[k];
    return { ...computed, ...news };
  },

  async delete(ctx, old) {
    const c = client(ctx, old.opts);
    const id = old.id!;
    const s = old.outputs;
    const ignorable = (e: unknown, ...msgs: string[]) => e instanceof DockerApiError && msgs.some((m) => e.message.includes(m));
    if (s.attach !== true) {
      const t = Number(s.destroyGraceSeconds ?? 0) > 0 ? Number(s.destroyGraceSeconds) : 0;
      try {
        await c.call("POST", `/containers/${id}/stop?t=${t}`, undefined, [304]);
      } catch (e) {
        if (!ignorable(e, "No such container")) throw new Error(`Error stopping container ${id}: ${(e as Error).message}`);
      }
    }
    try {
      await c.call("DELETE", `/containers/${id}?v=${s.removeVolumes === false ? "0" : "1"}&force=1`);
    } catch (e) {
      if (!ignorable(e, "No such container", "is already in progress")) throw new Error(`Error deleting container ${id}: ${(e as Error).message}`);
    }
    try {
      await c.call("POST", `/containers/${id}/wait?condition=${s.rm === true ? "removed" : "not-running"}`);
    } catch (e) {
      if (!ignorable(e, "No such container", "is already in progress")) throw new Error(`Error waiting for container removal '${id}': ${(e as Error).message}`);
    }
  },

  previewOutputs(inputs, old) {
    if (old) return { ...old.outputs, ...inputs };
    const o: Obj = { ...inputs };
    for (const [k, s] of Object.entries(CONTAINER)) if (s.computed && o[k] === undefined) o[k] = UNKNOWN;
    for (const k of CONTAINER_OUTPUTS) o[k] = UNKNOWN;
    return o;
  },
};

// ---------------------------------------------------------------------------------------------
// RemoteImage (docker_image)

const REMOTE_IMAGE: Record<string, Spec> = {
  name: { fn: true },
  keepLocally: {},
  pullTriggers: { fn: true, set: true },
  forceRemove: {},
  triggers: { fn: true, map: true },
  platform: { fn: true, def: "" },
};

export const remoteImage: ResourceImpl = {
  check(inputs) {
    for (const k of Object.keys(inputs)) {
      if (!(k in REMOTE_IMAGE)) throw new Error(`emulator: docker:index/remoteImage:RemoteImage input "${k}" is not mapped by the emulator`);
    }
    const out = checkObject(REMOTE_IMAGE, inputs, "");
    if (typeof out.name !== "string") throw new Error(`docker:index/remoteImage:RemoteImage: missing required property "name"`);
    return out;
  },
  diff(old, news) {
    return diffAgainstState(REMOTE_IMAGE, old, news, false);
  },
  async create(ctx, _name, i, opts) {
    const c = client(ctx, opts);
    let img: Obj;
    try {
      img = await findImage(c, i.name as string, (i.platform as string) || undefined);
    } catch (e) {
      throw new Error(`Unable to read Docker image into resource: ${(e as Error).message}`);
    }
    const digests = (img.RepoDigests as string[] | undefined) ?? [];
    return { id: `${img.Id}${i.name}`, outputs: { ...i, imageId: img.Id, repoDigest: digests[0] ?? "" } };
  },
  async update(ctx, old, news, opts) {
    const r = await remoteImage.create(ctx, old.name, news, opts);
    return r.outputs;
  },
  async delete(ctx, old) {
    if (old.outputs.keepLocally === true) return;
    const c = client(ctx, old.opts);
    const q = old.outputs.forceRemove === true ? "?force=1" : "";
    try {
      await c.call("DELETE", `/images/${encodeURIComponent(old.outputs.name as string)}${q}`, undefined, [404]);
    } catch (e) {
      throw new Error(`Unable to remove Docker image: ${(e as Error).message}`);
    }
  },
  previewOutputs(inputs, old) {
    if (old) return { ...old.outputs, ...inputs };
    return { ...inputs, imageId: UNKNOWN, repoDigest: UNKNOWN };
  },
};
