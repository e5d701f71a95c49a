import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { PyJoulesHost } from "./pyJoulesHost";
import { Attestation, ClientArgs, ConnectionArgs, HealthcheckArgs, ProfileArgs, ProxyConnectionArgs, VerifiedProfile } from "./types";
import { isPlain } from "./validate";

// The interfaces below are named without an "Args" suffix because that name becomes the schema type
// and every generated SDK appends "Args" to it (see components/types.ts); the TypeScript API keeps the
// ...Args names as aliases.

/** Connection settings shared by the hosts of a fleet (everything but the host address). */
export interface FleetConnectionDefaults {
  /** SSH port, an integer 1-65535 (default 22). */
  port?: pulumi.Input<number>;
  /** SSH user (default root). A non-root user needs passwordless sudo and access to docker. */
  user?: pulumi.Input<string>;
  /** Private key (kept secret). Configures both the provisioning commands and the docker provider's ssh. */
  privateKey?: pulumi.Input<string>;
  /** Passphrase of the private key (kept secret). The docker path cannot use an encrypted key: use an agent there. */
  privateKeyPassword?: pulumi.Input<string>;
  /** SSH password (kept secret). Provisioning commands only; the docker path needs a key or an agent. */
  password?: pulumi.Input<string>;
  /** ssh-agent socket; used by both the provisioning commands and the docker provider's ssh. */
  agentSocketPath?: pulumi.Input<string>;
  /** A bastion to connect through. */
  proxy?: pulumi.Input<ProxyConnectionArgs>;
  /** How many times to retry a failed dial, an integer 1-100 (default 10). */
  dialErrorLimit?: pulumi.Input<number>;
  /** Seconds per dial attempt, an integer 1-600 (default 15). */
  perDialTimeout?: pulumi.Input<number>;
}

/** Client settings shared by the hosts of a fleet; a host's own settings override them. */
export interface FleetClientDefaults {
  /** Prometheus remote-write endpoint (http or https); required here or on every host. */
  remoteWriteUrl?: pulumi.Input<string>;
  /** Client image (default aimilefth/cpu-pyjoules). Pin a digest (repo@sha256:...) in production. */
  image?: pulumi.Input<string>;
  /** Container name on each host (default pyjoules-client). */
  containerName?: pulumi.Input<string>;
  /** Seconds between RAPL reads (SCRAPE_INTERVAL_S, client default 0.1). */
  scrapeIntervalS?: pulumi.Input<number>;
  /** Seconds between pushes (PUSH_INTERVAL_S, client default 4). */
  pushIntervalS?: pulumi.Input<number>;
  /** Failed batches kept for retry, an integer (MAX_RETRY_BATCHES, client default 5). */
  maxRetryBatches?: pulumi.Input<number>;
  /** Value of the service label on every sample (SERVICE_LABEL, client default cpu-pyjoules). */
  serviceLabel?: pulumi.Input<string>;
  /** DEBUG, INFO, WARNING, ERROR or CRITICAL (LOG_LEVEL, client default INFO). */
  logLevel?: pulumi.Input<string>;
  /** Further environment variables, merged key by key with the host's own (names must not clash with the typed settings). */
  env?: pulumi.Input<{ [key: string]: pulumi.Input<string> }>;
  /** A healthcheck; when set, `pulumi up` waits for each client to be healthy. A host's own replaces it whole. */
  healthcheck?: pulumi.Input<HealthcheckArgs>;
}

/** Defaults for every host of the fleet. */
export interface FleetDefaults {
  /** Connection settings shared by every host; a host's own connection fields override them. */
  connection?: FleetConnectionDefaultsArgs;
  /** Client settings shared by every host; a host's own client settings override them. */
  client?: FleetClientDefaultsArgs;
  /** Profile settings shared by every host (default: profile docker-pyjoules, no extra read paths). */
  profile?: ProfileArgs;
  /** Fail a host that has no RAPL zone (default true); a host's own requireRapl overrides it. */
  requireRapl?: pulumi.Input<boolean>;
  /** Read every host for drift on each preview and up (default false); a host's own setting overrides it. See PyJoulesHost. */
  verifyOnEveryRun?: pulumi.Input<boolean>;
}

/** One host of the fleet. */
export interface FleetHost {
  /** Unique name of the host within the fleet ([A-Za-z0-9][A-Za-z0-9_.-]*, at most 63 characters); used in resource names and output keys. */
  name: string;
  /** The host's connection; its fields override the fleet defaults. */
  connection: ConnectionArgs;
  /** Client settings that override the fleet defaults for this host. */
  client?: FleetClientDefaultsArgs;
  /** Profile settings that override the fleet defaults for this host. */
  profile?: ProfileArgs;
  /** Fail this host if it has no RAPL zone (overrides the fleet default, which defaults to true). */
  requireRapl?: pulumi.Input<boolean>;
  /** Read this host for drift on each preview and up (overrides the fleet default, which defaults to false). */
  verifyOnEveryRun?: pulumi.Input<boolean>;
  /** Rollout wave, an integer 0-1000 (default 0). Every host of a wave starts only after every host of the previous waves verified. */
  wave?: number;
}

/** @see FleetConnectionDefaults */
export type FleetConnectionDefaultsArgs = FleetConnectionDefaults;
/** @see FleetClientDefaults */
export type FleetClientDefaultsArgs = FleetClientDefaults;
/** @see FleetDefaults */
export type FleetDefaultsArgs = FleetDefaults;
/** @see FleetHost */
export type FleetHostArgs = FleetHost;

/** Arguments of a PyJoulesFleet. */
export interface PyJoulesFleetArgs {
  /** The hosts (at least one, unique names), rolled out wave by wave. */
  hosts: FleetHostArgs[];
  /** Settings shared by every host; each host's own settings override them. */
  defaults?: FleetDefaultsArgs;
}

const hostNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "must match [A-Za-z0-9][A-Za-z0-9_.-]* (at most 63 characters)");
const waveSchema = z.number().int("must be an integer").min(0).max(1000);

const defined = <T extends object>(o: T | undefined): Partial<T> =>
  Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;

/** A host's arguments: the fleet defaults with the host's own settings on top (env merged by key). */
export function mergeHost(fleet: string, h: FleetHostArgs, d: FleetDefaultsArgs = {}) {
  const where = `PyJoulesFleet "${fleet}" host "${h.name}"`;
  const client = { ...defined(d.client), ...defined(h.client) } as ClientArgs;
  const env = [d.client?.env, h.client?.env].filter((e) => e !== undefined);
  if (env.length > 1) {
    client.env = isPlain(env)
      ? { ...(env[0] as object), ...(env[1] as object) }
      : pulumi.all(env as pulumi.Input<Record<string, string>>[]).apply(([a, b]) => ({ ...a, ...b }));
  }
  if (client.remoteWriteUrl === undefined) throw new Error(`${where}: invalid client.remoteWriteUrl: required (set it in defaults.client or on the host)`);
  const profile = { ...defined(d.profile), ...defined(h.profile) };
  return {
    connection: { ...defined(d.connection), ...defined(h.connection) } as ConnectionArgs,
    client,
    profile: Object.keys(profile).length > 0 ? profile : undefined,
    requireRapl: h.requireRapl ?? d.requireRapl,
    verifyOnEveryRun: h.verifyOnEveryRun ?? d.verifyOnEveryRun,
  };
}

/**
 * Many hosts with shared defaults and per-host overrides, rolled out in waves: e.g. a canary wave 0 that
 * must verify (profile loaded, container attested) before any host of wave 1 is touched.
 */
export class PyJoulesFleet extends pulumi.ComponentResource {
  /** Host name → the profile as that host's kernel confirmed it. */
  public readonly verifiedProfiles: pulumi.Output<{ [host: string]: VerifiedProfile }>;
  /** Host name → attestation of the running client container. */
  public readonly attestations: pulumi.Output<{ [host: string]: Attestation }>;

  constructor(name: string, args: PyJoulesFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    // Through a multi-language SDK (construct) the host list and the defaults can each arrive as one Output
    // (a value sent whole: secret, or dependent without nested output values). Plan and build once those
    // are known; the parts that arrived plain are used as they are, nested Outputs and all.
    const hostsWhole = pulumi.Output.isInstance(args.hosts) ? (args.hosts as unknown as pulumi.Output<FleetHostArgs[]>) : undefined;
    const defaultsWhole = pulumi.Output.isInstance(args.defaults) ? (args.defaults as pulumi.Output<FleetDefaultsArgs | undefined>) : undefined;
    const plan = hostsWhole || defaultsWhole ? undefined : planWaves(name, args.hosts, args.defaults);
    super("pyjoules:index:PyJoulesFleet", name, {}, opts);
    const hosts = plan === undefined
      ? pulumi
          .all([hostsWhole, defaultsWhole])
          .apply(([hs, d]) =>
            this.build(name, planWaves(name, hostsWhole ? (hs as FleetHostArgs[]) : args.hosts, defaultsWhole ? (d as FleetDefaultsArgs | undefined) : args.defaults)),
          )
      : pulumi.output(this.build(name, plan));
    this.verifiedProfiles = hosts.apply((hs) => pulumi.all(Object.fromEntries(hs.map((h) => [h.name, h.host.verifiedProfile]))));
    this.attestations = hosts.apply((hs) => pulumi.all(Object.fromEntries(hs.map((h) => [h.name, h.host.attestation]))));
    this.registerOutputs({ verifiedProfiles: this.verifiedProfiles, attestations: this.attestations });
  }

  private build(fleet: string, waves: Wave[]) {
    const built: { name: string; host: PyJoulesHost }[] = [];
    let previousWaves: PyJoulesHost[] = [];
    for (const wave of waves) {
      const current = wave.map(({ name, args }) => {
        const host = new PyJoulesHost(`${fleet}-${name}`, args, {
          parent: this,
          dependsOn: previousWaves.length > 0 ? [...previousWaves] : undefined,
        });
        built.push({ name, host });
        return host;
      });
      previousWaves = [...previousWaves, ...current];
    }
    return built;
  }
}

type Wave = { name: string; args: ReturnType<typeof mergeHost> }[];

/** Validates names and waves, merges defaults, and orders the hosts into waves (lowest first). */
function planWaves(fleet: string, hosts: FleetHostArgs[], defaults: FleetDefaultsArgs | undefined): Wave[] {
  if (!Array.isArray(hosts) || hosts.length === 0) throw new Error(`PyJoulesFleet "${fleet}": invalid hosts: needs at least one host`);
  const seen = new Set<string>();
  const waves = new Map<number, Wave>();
  for (const h of hosts) {
    const where = `PyJoulesFleet "${fleet}" host ${JSON.stringify(h?.name)}`;
    const n = hostNameSchema.safeParse(h?.name);
    if (!n.success) throw new Error(`${where}: invalid name: ${n.error.issues[0]!.message}`);
    if (seen.has(h.name)) throw new Error(`${where}: invalid name: appears twice`);
    seen.add(h.name);
    const w = waveSchema.safeParse(h.wave ?? 0);
    if (!w.success) throw new Error(`${where}: invalid wave: ${w.error.issues[0]!.message} (got ${JSON.stringify(h.wave)})`);
    waves.set(w.data, [...(waves.get(w.data) ?? []), { name: h.name, args: mergeHost(fleet, h, defaults) }]);
  }
  return [...waves.keys()].sort((a, b) => a - b).map((k) => waves.get(k)!);
}
