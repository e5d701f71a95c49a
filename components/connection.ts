import * as pulumi from "@pulumi/pulumi";
import { types as commandTypes } from "@pulumi/command";
import { z } from "zod";
import { dockerSshOpts, materializePrivateKey, sshAuthority } from "./dockerSsh";
import { connectionSchema, proxySchema } from "./schemas";
import { ConnectionArgs } from "./types";
import { fieldOf, isPlain, validated } from "./validate";

type CommandConnection = commandTypes.input.remote.ConnectionArgs;
const SECRET_FIELDS = ["privateKey", "privateKeyPassword", "password"] as const;

/** One validated SSH connection, field by field, so only the secret fields are secret. */
export interface ResolvedConnection {
  /** For @pulumi/command's remote.Command. */
  command: pulumi.Output<CommandConnection>;
  host: pulumi.Output<string>;
  port: pulumi.Output<number>;
  user: pulumi.Output<string>;
  hostKey: pulumi.Output<string | undefined>;
  privateKey: pulumi.Output<string | undefined>;
  agentSocketPath: pulumi.Output<string | undefined>;
  password: pulumi.Output<string | undefined>;
  /** The bastion as user@host:port for OpenSSH's ProxyJump, if any. */
  proxyJump: pulumi.Output<string | undefined>;
}

const field = (conn: pulumi.Input<ConnectionArgs>, key: keyof ConnectionArgs) => fieldOf(conn, key);

/**
 * Validates a connection. A plain object (the usual case, secrets as secret Outputs) is checked field by
 * field so host, port and user stay readable in diffs; a connection given as one Output (e.g. through a
 * multi-language SDK) is checked as a whole and is secret as a whole if any part is.
 */
export function resolveConnection(conn: pulumi.Input<ConnectionArgs>, where: string): ResolvedConnection {
  if (!pulumi.Output.isInstance(conn) && isPlain(conn)) {
    // Everything known now: one combined error for every bad field.
    validated(connectionSchema, conn, where, "connection");
  }
  const shape = connectionSchema.shape;
  const get = <K extends keyof typeof shape>(key: K) =>
    validated(shape[key] as z.ZodType, field(conn, key), where, `connection.${key}`) as pulumi.Output<
      z.output<(typeof shape)[K]>
    >;
  const host = get("host");
  const port = get("port").apply((p) => p ?? 22);
  const user = get("user").apply((u) => u ?? "root");
  const hostKey = get("hostKey");
  const agentSocketPath = get("agentSocketPath");
  const [privateKey, privateKeyPassword, password] = SECRET_FIELDS.map((k) => {
    const raw = field(conn, k);
    return raw === undefined ? pulumi.output(undefined) : pulumi.secret(get(k));
  });
  const proxy = validated(proxySchema.optional(), field(conn, "proxy"), where, "connection.proxy");
  const command = pulumi
    .all([host, port, user, hostKey, agentSocketPath, get("dialErrorLimit"), get("perDialTimeout"), proxy])
    .apply(([h, p, u, hk, agent, dialErrorLimit, perDialTimeout, px]) => {
      const c: CommandConnection = { host: h, port: p, user: u };
      if (hk !== undefined) c.hostKey = hk;
      if (agent !== undefined) c.agentSocketPath = agent;
      if (dialErrorLimit !== undefined) c.dialErrorLimit = dialErrorLimit;
      if (perDialTimeout !== undefined) c.perDialTimeout = perDialTimeout;
      if (px !== undefined) c.proxy = px;
      return c;
    });
  // Two steps only because pulumi.all is typed for at most eight inputs.
  const withSecrets = pulumi
    .all([command, privateKey!, privateKeyPassword!, password!])
    .apply(([c, key, keyPassword, pw]) => {
      const out: CommandConnection = { ...c };
      if (key !== undefined) out.privateKey = key;
      if (keyPassword !== undefined) out.privateKeyPassword = keyPassword;
      if (pw !== undefined) out.password = pw;
      return out;
    });
  return {
    command: withSecrets,
    host,
    port,
    user,
    hostKey,
    privateKey: privateKey!,
    agentSocketPath,
    password: password!,
    proxyJump: proxy.apply((px) => (px === undefined ? undefined : sshAuthority(px.user ?? "root", px.host, px.port ?? 22))),
  };
}

export const PASSWORD_ONLY =
  "invalid connection.password: it works for the provisioning commands only; the docker provider's ssh needs connection.privateKey or connection.agentSocketPath";

/**
 * The OpenSSH options of the docker provider's path (pinned host key, the one credential, the bastion); the
 * verifyOnEveryRun read uses the same. A password-only connection cannot work there and fails, naming the field.
 */
export function opensshOptions(c: ResolvedConnection, where: string): pulumi.Output<string[]> {
  return pulumi
    .all([c.hostKey, c.agentSocketPath, c.privateKey, c.password, c.proxyJump])
    .apply(([hostKey, agentSocketPath, key, password, proxyJump]) => {
      if (password !== undefined && key === undefined && agentSocketPath === undefined) throw new Error(`${where}: ${PASSWORD_ONLY}`);
      const identityFile = key === undefined ? undefined : materializePrivateKey(key);
      return dockerSshOpts({ hostKey, agentSocketPath, identityFile, proxyJump });
    });
}
