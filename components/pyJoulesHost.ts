import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { z } from "zod";
import { attestInvocation, type DriftTokens } from "../profiles/commands";
import { DEFAULT_PROFILE_NAME, POWERCAP_PATHS, renderPyJoulesProfile } from "../profiles/render";
import { AppArmorProfile } from "./appArmorProfile";
import { opensshOptions, PASSWORD_ONLY, resolveConnection } from "./connection";
import { dockerHostUrl } from "./dockerSsh";
import { DRIFT_LABEL, readDriftTokens } from "./drift";
import { parseAttestation } from "./parse";
import { containerHealthcheck, healthWaitSeconds } from "./healthcheck";
import { clientSchema, connectionSchema, healthcheckSchema, profileArgsSchema, urlHasCredentials } from "./schemas";
import { Attestation, ClientArgs, ConnectionArgs, ProfileArgs, VerifiedProfile } from "./types";
import { fieldOf, precheck, validated } from "./validate";

export const DEFAULT_IMAGE = "aimilefth/cpu-pyjoules";
export const DEFAULT_CONTAINER_NAME = "pyjoules-client";
/** json-file with rotation: at most 3 × 10 MB of client logs per host. */
export const LOG_OPTS = { "max-size": "10m", "max-file": "3" } as const;

/** Arguments of a PyJoulesHost. */
export interface PyJoulesHostArgs {
  /** SSH connection to the host; one credential serves both the provisioning commands and the docker provider. */
  connection: ConnectionArgs;
  /** The pyJoules client container. */
  client: ClientArgs;
  /** The AppArmor profile that confines the client (default docker-pyjoules). */
  profile?: ProfileArgs;
  /** Fail unless the host has a RAPL zone (default true); switch off only for hosts without RAPL. */
  requireRapl?: pulumi.Input<boolean>;
  /**
   * Read the host on every preview and up (one read-only SSH session): a profile unloaded or edited, its
   * boot-time loader disabled, or the client container gone or unconfined shows in `preview --diff` and the
   * next `up` repairs it (default false). Switching it on replaces the client container once (it gets a label).
   */
  verifyOnEveryRun?: pulumi.Input<boolean>;
}

/** Builds the container's environment: typed settings first, then extra env, sorted by name. */
export function clientEnv(c: z.output<typeof clientSchema>): string[] {
  const env: Record<string, string> = { REMOTE_WRITE_URL: c.remoteWriteUrl };
  if (c.scrapeIntervalS !== undefined) env.SCRAPE_INTERVAL_S = String(c.scrapeIntervalS);
  if (c.pushIntervalS !== undefined) env.PUSH_INTERVAL_S = String(c.pushIntervalS);
  if (c.maxRetryBatches !== undefined) env.MAX_RETRY_BATCHES = String(c.maxRetryBatches);
  if (c.serviceLabel !== undefined) env.SERVICE_LABEL = c.serviceLabel;
  if (c.logLevel !== undefined) env.LOG_LEVEL = c.logLevel;
  Object.assign(env, c.env ?? {});
  return Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k]}`);
}

/**
 * One host: the docker-pyjoules profile (provisioned and verified), the pyJoules client container under
 * it, and an attestation of how the running container is confined.
 */
export class PyJoulesHost extends pulumi.ComponentResource {
  /** The profile as the host's kernel confirmed it. */
  public readonly verifiedProfile: pulumi.Output<VerifiedProfile>;
  /** How the running client container is confined, as checked on the host. */
  public readonly attestation: pulumi.Output<Attestation>;
  /** Name of the client container on the host. */
  public readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: PyJoulesHostArgs, opts?: pulumi.ComponentResourceOptions) {
    const where = `PyJoulesHost "${name}"`;
    // Everything already known is checked before anything (this component included) is registered.
    precheck(connectionSchema, args.connection, where, "connection");
    precheck(clientSchema, args.client, where, "client");
    precheck(profileArgsSchema, args.profile, where, "profile");
    precheck(z.boolean(), args.requireRapl, where, "requireRapl");
    precheck(z.boolean(), args.verifyOnEveryRun, where, "verifyOnEveryRun");
    const c = args.connection as ConnectionArgs;
    if (!pulumi.Output.isInstance(c) && c.password !== undefined && c.privateKey === undefined && c.agentSocketPath === undefined) {
      throw new Error(`${where}: ${PASSWORD_ONLY}`);
    }
    super("pyjoules:index:PyJoulesHost", name, {}, opts);
    const connection = resolveConnection(args.connection, where);
    const field = (key: keyof typeof clientSchema.shape) =>
      validated(clientSchema.shape[key] as z.ZodType, fieldOf(args.client, key), where, `client.${key}`);
    const url = field("remoteWriteUrl") as pulumi.Output<string>;
    const image = (field("image") as pulumi.Output<string | undefined>).apply((i) => i ?? DEFAULT_IMAGE);
    const containerName = (field("containerName") as pulumi.Output<string | undefined>).apply(
      (n) => n ?? DEFAULT_CONTAINER_NAME,
    );
    const envs = pulumi
      .all([url, field("scrapeIntervalS"), field("pushIntervalS"), field("maxRetryBatches"), field("serviceLabel"), field("logLevel"), field("env")])
      .apply(([remoteWriteUrl, scrapeIntervalS, pushIntervalS, maxRetryBatches, serviceLabel, logLevel, env]) => {
        const list = clientEnv({ remoteWriteUrl, scrapeIntervalS, pushIntervalS, maxRetryBatches, serviceLabel, logLevel, env } as z.output<typeof clientSchema>);
        // A URL with credentials (https://user:password@…) is a secret even when it was given as plain text.
        return urlHasCredentials(remoteWriteUrl) ? pulumi.secret(list) : pulumi.output(list);
      });
    const health = field("healthcheck") as pulumi.Output<z.output<typeof healthcheckSchema> | undefined>;
    const profile = validated(profileArgsSchema.optional(), args.profile, where, "profile");
    const profileName = profile.apply((p) => p?.name ?? DEFAULT_PROFILE_NAME);
    const profileText = profile.apply((p) => renderPyJoulesProfile({ name: p?.name, extraReadPaths: p?.extraReadPaths }));
    const requireRapl = validated(z.boolean(), args.requireRapl ?? true, where, "requireRapl");

    // Nothing touches the host until every client setting is valid, also those that arrive as (secret) Outputs:
    // the profile's inputs wait for them. unsecret: it carries no value, only "valid", so it taints no diff.
    const clientValid = pulumi.unsecret(pulumi.all([envs, image, containerName, health]).apply(() => true));
    const sshOpts = opensshOptions(connection, where);
    const verify = validated(z.boolean(), args.verifyOnEveryRun ?? false, where, "verifyOnEveryRun");
    // Read-only, but like everything else it waits until every client setting is valid.
    const drift = pulumi.all([verify, clientValid]).apply<DriftTokens | undefined>(([on]) =>
      on ? readDriftTokens(connection, sshOpts, profileName, containerName, where, this) : pulumi.output(undefined),
    );
    const appArmor = new AppArmorProfile(
      `${name}-profile`,
      { connection: args.connection, profileName, profileText, requireRapl: pulumi.all([requireRapl, clientValid]).apply(([r]) => r) },
      { parent: this, dependsOn: opts?.dependsOn },
      drift,
    );

    const dockerProvider = new docker.Provider(
      `${name}-docker`,
      {
        host: pulumi.all([connection.user, connection.host, connection.port]).apply(([u, h, p]) => dockerHostUrl(u, h, p)),
        sshOpts,
        // Preview must not need SSH to every host (a CI runner that cannot reach the fleet can still
        // preview). pulumi-docker pings the daemon lazily on the first API call; this also skips its
        // version check. Containers are still created over SSH on `up`.
        disableDockerDaemonCheck: true,
      },
      { parent: this },
    );

    const container = new docker.Container(
      `${name}-client`,
      {
        name: containerName,
        image,
        envs,
        mounts: POWERCAP_PATHS.map((p) => ({ type: "bind", source: p, target: p, readOnly: true })),
        // Derived from the verified profile: the container cannot be created before the host verified it.
        securityOpts: [pulumi.interpolate`apparmor=${appArmor.profileName}`, "systempaths=unconfined"],
        privileged: false,
        restart: "unless-stopped",
        hosts: [{ host: "host.docker.internal", ip: "host-gateway" }],
        logDriver: "json-file",
        logOpts: { ...LOG_OPTS },
        // Resolving to undefined leaves the optional input unset; @pulumi/docker 4.11 types it without `| undefined`.
        healthcheck: health.apply(containerHealthcheck) as pulumi.Output<docker.types.input.ContainerHealthcheck>,
        // verifyOnEveryRun: a changed container token (gone, stopped, unconfined) replaces the container.
        labels: drift.apply((d) => (d === undefined ? undefined : [{ label: DRIFT_LABEL, value: d.containerToken }])) as pulumi.Output<
          docker.types.input.ContainerLabel[]
        >,
      },
      {
        parent: this,
        provider: dockerProvider,
        dependsOn: [appArmor],
        // The container name is fixed on the host, so a replacement must remove the old container first (measured:
        // create-first fails with "name … is already in use" and leaves the old container running).
        deleteBeforeReplace: true,
        // Measured with the real docker provider 4.11: an `up` reads securityOpts back as given, but `pulumi
        // refresh` stores the daemon's SecurityOpt (apparmor= only, systempaths is client-side) and the next
        // preview would replace the container. The attestation checks the running container's profile instead.
        ignoreChanges: ["securityOpts"],
      },
    );

    // With a healthcheck, the attestation first waits for "healthy": `pulumi up` fails on a dying client.
    const attestRun = pulumi
      .all([appArmor.profileName, container.name, requireRapl, health])
      .apply(([p, c, r, h]) => attestInvocation(p, c, r, healthWaitSeconds(h)));
    const attest = new remote.Command(
      `${name}-attest`,
      {
        connection: connection.command,
        create: attestRun.command,
        stdin: attestRun.stdin,
        // A profile change reloads the profile under the running container without replacing it: attest again;
        // so does a repaired drift.
        triggers: pulumi
          .all([container.id, appArmor.verified, drift])
          .apply(([id, v, d]) => (d === undefined ? [id, v.sha256] : [id, v.sha256, d.profileToken, d.containerToken])),
        addPreviousOutputInEnv: false,
        logging: "stdoutAndStderr",
      },
      { parent: this, dependsOn: [container] },
    );

    this.verifiedProfile = appArmor.verified;
    this.containerName = container.name;
    this.attestation = pulumi
      .all([attest.stdout, appArmor.profileName, container.name, requireRapl, appArmor.verified])
      .apply(([stdout, profile, c, r, v]) =>
        parseAttestation(stdout, { profile, container: c, requireRapl: r, profileSha256: v.sha256 }, where),
      );
    this.registerOutputs({
      verifiedProfile: this.verifiedProfile,
      attestation: this.attestation,
      containerName: this.containerName,
    });
  }
}
