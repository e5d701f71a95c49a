import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { PyJoulesFleet, PyJoulesFleetArgs } from "./pyJoulesFleet";
import {
  clientSchema,
  hostKeySchema,
  hostSchema,
  portSchema,
  profileArgsSchema,
  socketPathSchema,
  userSchema,
} from "./schemas";
import { parseOrThrow } from "./validate";

/**
 * The stack configuration of the root program (see Pulumi.example.yaml). The SSH private key is a
 * separate secret key, `sshPrivateKey`, so it is never part of a plain config object; so is
 * `remoteWriteUrl` when the URL carries credentials (instead of `client.remoteWriteUrl`).
 */
export const stackConfigSchema = z
  .object({
    hosts: z
      .array(
        z
          .object({
            name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "must match [A-Za-z0-9][A-Za-z0-9_.-]*"),
            host: hostSchema,
            port: portSchema.optional(),
            user: userSchema.optional(),
            hostKey: hostKeySchema.optional(),
            wave: z.number().int().min(0).max(1000).optional(),
            requireRapl: z.boolean().optional(),
            verifyOnEveryRun: z.boolean().optional(),
            client: clientSchema.partial().strict().optional(),
            profile: profileArgsSchema.strict().optional(),
          })
          .strict(),
      )
      .min(1, "needs at least one host"),
    ssh: z
      .object({
        user: userSchema.optional(),
        port: portSchema.optional(),
        agentSocketPath: socketPathSchema.optional(),
        dialErrorLimit: z.number().int().min(1).max(100).optional(),
        perDialTimeout: z.number().int().min(1).max(600).optional(),
      })
      .strict()
      .optional(),
    client: clientSchema.partial().strict().optional(),
    profile: profileArgsSchema.strict().optional(),
    requireRapl: z.boolean().optional(),
    verifyOnEveryRun: z.boolean().optional(),
  })
  .strict();
export type StackConfig = z.infer<typeof stackConfigSchema>;

export const CONFIG_KEYS = ["hosts", "ssh", "client", "profile", "requireRapl", "verifyOnEveryRun"] as const;

/** "hosts.0.host" as the user writes it in Pulumi.<stack>.yaml: "pulumi-pyjoules:hosts[0].host". */
export function configKey(namespace: string, path: string): string {
  const [key, ...rest] = path.split(".");
  return `${namespace}:${key}${rest.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join("")}`;
}

/**
 * Fleet arguments from a validated stack config; the key stays a secret Output. An invalid config names each
 * key as the user writes it (`pulumi-pyjoules:hosts`) and points at the documented example.
 */
export function fleetArgsFromConfig(
  raw: unknown,
  privateKey: pulumi.Output<string> | undefined,
  namespace = "pulumi-pyjoules",
  secretRemoteWriteUrl?: pulumi.Output<string>,
): PyJoulesFleetArgs {
  const where = "stack config (every key is documented in Pulumi.example.yaml)";
  const c = parseOrThrow(stackConfigSchema, raw, where, "", (p) => configKey(namespace, p));
  if (secretRemoteWriteUrl !== undefined && c.client?.remoteWriteUrl !== undefined) {
    throw new pulumi.RunError(`${where}: invalid ${namespace}:remoteWriteUrl: set it or ${namespace}:client.remoteWriteUrl, not both`);
  }
  const client = secretRemoteWriteUrl === undefined ? c.client : { ...c.client, remoteWriteUrl: secretRemoteWriteUrl };
  return {
    defaults: {
      connection: { ...c.ssh, privateKey },
      client,
      profile: c.profile,
      requireRapl: c.requireRapl,
      verifyOnEveryRun: c.verifyOnEveryRun,
    },
    hosts: c.hosts.map((h) => ({
      name: h.name,
      wave: h.wave,
      requireRapl: h.requireRapl,
      verifyOnEveryRun: h.verifyOnEveryRun,
      client: h.client,
      profile: h.profile,
      connection: { host: h.host, port: h.port, user: h.user, hostKey: h.hostKey },
    })),
  };
}

/** The root program: one PyJoulesFleet from the stack config. */
export function stackProgram(config = new pulumi.Config(), opts?: pulumi.ComponentResourceOptions) {
  const raw = Object.fromEntries(
    CONFIG_KEYS.map((k) => [k, config.getObject<unknown>(k)]).filter(([, v]) => v !== undefined),
  );
  const args = fleetArgsFromConfig(raw, config.getSecret("sshPrivateKey"), config.name, config.getSecret("remoteWriteUrl"));
  const fleet = new PyJoulesFleet("pyjoules", args, opts);
  return { verifiedProfiles: fleet.verifiedProfiles, attestations: fleet.attestations };
}
