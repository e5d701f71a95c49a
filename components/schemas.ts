import { isIP } from "node:net";
import { z } from "zod";
import { ownProfileName, profileName, readOnlyPath } from "../profiles/validation";

/**
 * zod schemas: the single source of truth for what a valid (resolved) argument is. The public arg
 * interfaces in ./types.ts are checked against `z.infer` of these at compile time.
 */

const HOSTNAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * A name of numbers only (decimal, octal or 0x-hex parts) that is not an IP literal. RFC 1123 rules it out
 * (the top-level label is alphabetic), and ssh and the C resolver read it as some other address:
 * "10.0.0.010" is 10.0.0.8, "167772167" is 10.0.0.7, "6" is 0.0.0.6.
 */
const NUMERIC_NAME = /^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+))*\.?$/i;

/** RFC 1123 host name, or an IPv4/IPv6 literal (no brackets). */
export const hostSchema = z
  .string()
  .refine((h) => isIP(h) !== 0 || HOSTNAME.test(h), "must be an RFC 1123 host name or an IP address")
  .refine(
    (h) => isIP(h) !== 0 || !NUMERIC_NAME.test(h),
    "must not be a name of numbers only: write an IP address in plain dotted-decimal form (ssh reads 10.0.0.010 as 10.0.0.8)",
  );

export const portSchema = z.number().int("must be an integer").min(1).max(65535);

/** POSIX portable user names (useradd's default rule). */
export const userSchema = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a user name of [a-z_][a-z0-9_-]* (at most 32 characters)");

const HOST_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}$/;

/** An OpenSSH public host key, "TYPE BASE64" (a trailing comment is dropped). */
export const hostKeySchema = z
  .string()
  .regex(/^[^\n\r\u0000]*$/, "must be one line")
  .transform((k) => k.trim().split(/\s+/).slice(0, 2).join(" "))
  .refine((k) => HOST_KEY.test(k), 'must be an OpenSSH public host key such as "ssh-ed25519 AAAA..."');

export const socketPathSchema = z
  .string()
  .regex(/^\/[A-Za-z0-9_.@:+/-]{1,254}$/, "must be an absolute path of letters, digits and _ . @ : + - /");

export const privateKeySchema = z
  .string()
  .refine((k) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(k), "must be a PEM/OpenSSH private key");

const secretString = z.string().min(1, "must not be empty");

export const proxySchema = z.object({
  host: hostSchema,
  port: portSchema.optional(),
  user: userSchema.optional(),
  privateKey: privateKeySchema.optional(),
  privateKeyPassword: secretString.optional(),
  password: secretString.optional(),
  agentSocketPath: socketPathSchema.optional(),
  hostKey: hostKeySchema.optional(),
});

export const connectionSchema = proxySchema
  .extend({
    proxy: proxySchema.optional(),
    dialErrorLimit: z.number().int().min(1).max(100).optional(),
    perDialTimeout: z.number().int().min(1).max(600).optional(),
  });

/** Docker image reference: [registry[:port]/]repo[:tag][@sha256:digest]. */
export const imageSchema = z
  .string()
  .max(512)
  .regex(
    /^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/,
    "must be a Docker image reference such as registry/repo:tag or repo@sha256:<digest>",
  );

export const containerNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, "must match [A-Za-z0-9][A-Za-z0-9_.-]* (at most 128 characters)");

/** A lone UTF-16 surrogate has no UTF-8 form: it would reach the host as U+FFFD, not as given. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** True when the URL carries a user or a password (`https://user:password@host/…`): then it is treated as a secret. */
export function urlHasCredentials(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== "" || u.password !== "";
  } catch {
    return false;
  }
}

export const remoteWriteUrlSchema = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      const url = new URL(u);
      return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
    } catch {
      return false;
    }
  }, "must be an http(s) URL")
  .refine((u) => !/[\s\u0000-\u001f\u007f]/.test(u), "must not contain whitespace or control characters")
  .refine((u) => !LONE_SURROGATE.test(u), "must be valid Unicode (no lone surrogate)");

/** Variables the component sets itself from the typed client settings. */
export const RESERVED_ENV = [
  "REMOTE_WRITE_URL",
  "SCRAPE_INTERVAL_S",
  "PUSH_INTERVAL_S",
  "MAX_RETRY_BATCHES",
  "SERVICE_LABEL",
  "LOG_LEVEL",
] as const;

export const envKeySchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
  .refine((k) => !(RESERVED_ENV as readonly string[]).includes(k), "is set from a typed client setting; use that instead");

export const envValueSchema = z
  .string()
  .max(4096)
  .refine((v) => !v.includes("\u0000"), "must not contain NUL")
  .refine((v) => !LONE_SURROGATE.test(v), "must be valid Unicode (no lone surrogate)");

/** Extra environment. zod's record skips an own "__proto__" key without a word, so that key is refused first. */
export const envSchema = z
  .unknown()
  .refine((e) => !(typeof e === "object" && e !== null && Object.hasOwn(e, "__proto__")), "must not name a variable __proto__")
  .pipe(z.record(envKeySchema, envValueSchema));

export const logLevelSchema = z.enum(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]);

/** One argument of the healthcheck command: it reaches Docker as an exec argv, never a shell line. */
const healthArgSchema = z
  .string()
  .min(1, "must not be empty")
  .max(1024)
  .refine((v) => !/[\u0000\n\r]/.test(v), "must not contain NUL or line breaks")
  .refine((v) => !LONE_SURROGATE.test(v), "must be valid Unicode (no lone surrogate)");

export const healthcheckSchema = z
  .object({
    command: z.array(healthArgSchema).min(1, "needs the command to run").max(64),
    intervalS: z.number().int().min(1).max(3600).optional(),
    retries: z.number().int().min(1).max(100).optional(),
    timeoutS: z.number().int().min(1).max(600).optional(),
    startPeriodS: z.number().int().min(0).max(3600).optional(),
  })
  .strict();

export const HEALTHCHECK_DEFAULTS = { intervalS: 10, retries: 3, timeoutS: 5, startPeriodS: 0 } as const;

export const clientSchema = z.object({
  remoteWriteUrl: remoteWriteUrlSchema,
  image: imageSchema.optional(),
  containerName: containerNameSchema.optional(),
  scrapeIntervalS: z.number().min(0.01).max(3600).optional(),
  pushIntervalS: z.number().min(0.1).max(86400).optional(),
  maxRetryBatches: z.number().int().min(0).max(10000).optional(),
  serviceLabel: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, "must match [A-Za-z0-9][A-Za-z0-9_.:-]*")
    .optional(),
  logLevel: logLevelSchema.optional(),
  env: envSchema.optional(),
  healthcheck: healthcheckSchema.optional(),
});

export const profileArgsSchema = z.object({
  name: ownProfileName.optional(),
  extraReadPaths: z.array(readOnlyPath).max(64).optional(),
});

export { ownProfileName as profileNameSchema, readOnlyPath as readOnlyPathSchema };

export type Connection = z.infer<typeof connectionSchema>;
export type Client = z.infer<typeof clientSchema>;
export type ProfileSettings = z.infer<typeof profileArgsSchema>;

/** What provision.sh prints after the kernel confirmed the profile. */
export const verifiedProfileSchema = z.object({
  name: profileName,
  mode: z.literal("enforce"),
  sha256: z.string().regex(/^[a-f0-9]{64}$/),
  path: z.string().startsWith("/etc/apparmor.d/containers/"),
  loader: z.string().min(1),
  parserVersion: z.string(),
  dockerVersion: z.string(),
  kernel: z.string(),
  host: z.string(),
});

/** What attest.sh prints about the running client container. */
export const attestationSchema = z.object({
  host: z.string(),
  container: z.string(),
  running: z.boolean(),
  apparmorProfile: z.string(),
  procAttrCurrent: z.string(),
  privileged: z.boolean(),
  addedCapabilities: z.number().int(),
  classPowercapReadOnly: z.boolean(),
  devicesPowercapReadOnly: z.boolean(),
  raplZone: z.string(),
  raplReadable: z.boolean(),
  raplEnergyIncreasing: z.boolean(),
  raplEnergyDeltaUj: z.number().int(),
  profileSha256: z.string().regex(/^([a-f0-9]{64})?$/),
  denials: z.object({
    sources: z.string(),
    since: z.number().int(),
    count: z.number().int().nonnegative(),
    first: z.array(z.object({ operation: z.string(), name: z.string() })).max(5),
  }),
  ok: z.boolean(),
});
