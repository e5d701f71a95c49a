import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { PyJoulesHost } from "./pyJoulesHost";
import { Attestation, ClientArgs, ConnectionArgs, ProfileArgs, ProxyConnectionArgs, VerifiedProfile } from "./types";
import { isPlain } from "./validate";

/** Connection settings shared by the hosts of a fleet (everything but the host address). */
export interface FleetConnectionDefaultsArgs {
  /** SSH port (default 22). */
  port?: pulumi.Input<number>;
  /** SSH user (default root). */
  user?: pulumi.Input<string>;
  /** Private key (kept secret). */
  privateKey?: pulumi.Input<string>;
  /** Passphrase of the private key (kept secret). */
  privateKeyPassword?: pulumi.Input<string>;
  /** SSH password (kept secret; provisioning path only). */
  password?: pulumi.Input<string>;
  /** ssh-agent socket. */
  agentSocketPath?: pulumi.Input<string>;
  /** A bastion to connect through. */
  proxy?: pulumi.Input<ProxyConnectionArgs>;
  /** How many times to retry a failed dial (default 10). */
  dialErrorLimit?: pulumi.Input<number>;
  /** Seconds per dial attempt (default 15). */
  perDialTimeout?: pulumi.Input<number>;
}

/** Client settings shared by the hosts of a fleet; a host's own settings override them. */
export interface FleetClientDefaultsArgs {
  /** Prometheus remote-write endpoint. */
  remoteWriteUrl?: pulumi.Input<string>;
  /** Client image (pin a digest in production). */
  image?: pulumi.Input<string>;
  /** Container name on each host. */
  containerName?: pulumi.Input<string>;
  /** SCRAPE_INTERVAL_S. */
  scrapeIntervalS?: pulumi.Input<number>;
  /** PUSH_INTERVAL_S. */
  pushIntervalS?: pulumi.Input<number>;
  /** MAX_RETRY_BATCHES. */
  maxRetryBatches?: pulumi.Input<number>;
  /** SERVICE_LABEL. */
  serviceLabel?: pulumi.Input<string>;
  /** LOG_LEVEL. */
  logLevel?: pulumi.Input<string>;
  /** Extra environment; merged key by key with the host's own. */
  env?: pulumi.Input<{ [key: string]: pulumi.Input<string> }>;
}

/** Defaults for every host of the fleet. */
export interface FleetDefaultsArgs {
  /** Shared connection settings. */
  connection?: FleetConnectionDefaultsArgs;
  /** Shared client settings. */
  client?: FleetClientDefaultsArgs;
  /** Shared profile settings. */
  profile?: ProfileArgs;
  /** Require a RAPL zone (default true). */
  requireRapl?: pulumi.Input<boolean>;
}

/** One host of the fleet. */
export interface FleetHostArgs {
  /** Unique name of the host within the fleet; used in resource names and output keys. */
  name: string;
  /** The host's connection; its fields override the fleet defaults. */
  connection: ConnectionArgs;
  /** Client settings that override the fleet defaults for this host. */
  client?: FleetClientDefaultsArgs;
  /** Profile settings that override the fleet defaults for this host. */
  profile?: ProfileArgs;
  /** Require a RAPL zone on this host. */
  requireRapl?: pulumi.Input<boolean>;
  /** Rollout wave (default 0). Every host of a wave starts only after every host of the previous waves verified. */
  wave?: number;
}

export interface PyJoulesFleetArgs {
  /** The hosts. */
  hosts: FleetHostArgs[];
  /** Settings shared by every host. */
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
    const plan = pulumi.Output.isInstance(args.hosts) ? undefined : planWaves(name, args.hosts, args.defaults);
    super("pyjoules:index:PyJoulesFleet", name, {}, opts);
    const hosts = plan === undefined
      ? // Through a multi-language SDK the host list arrives as an Output: build once it is known.
        pulumi
          .output(args.hosts as unknown as pulumi.Input<FleetHostArgs[]>)
          .apply((hs) => this.build(name, planWaves(name, hs, args.defaults)))
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
