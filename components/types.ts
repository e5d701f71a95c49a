import * as pulumi from "@pulumi/pulumi";

/**
 * Public argument shapes. They are named interfaces with doc comments (Pulumi's component schema
 * analyzer turns them into typed, described schema types) and contain no unions or callbacks, so the
 * same components can be served to every Pulumi language.
 *
 * The schema type takes the interface's own name, and every generated SDK appends "Args" to input types
 * (Python `pyjoules.ConnectionArgs`, Go `pyjoules.ConnectionArgs`, .NET `Inputs.ConnectionArgs`). The
 * interfaces are therefore named without the suffix (`Connection`), and the TypeScript API keeps its
 * `...Args` names as aliases of them. See docs/multi-language.md.
 */

/** A bastion host the SSH connection jumps through (same fields as the connection itself). */
export interface ProxyConnection {
  /** Bastion host name (RFC 1123) or IP address. */
  host: pulumi.Input<string>;
  /** SSH port of the bastion, an integer (default 22). */
  port?: pulumi.Input<number>;
  /** SSH user on the bastion (default root). */
  user?: pulumi.Input<string>;
  /** Private key for the bastion (kept secret). */
  privateKey?: pulumi.Input<string>;
  /** Passphrase of that private key (kept secret). */
  privateKeyPassword?: pulumi.Input<string>;
  /** Password for the bastion (kept secret). */
  password?: pulumi.Input<string>;
  /** Path to an ssh-agent socket to authenticate with. */
  agentSocketPath?: pulumi.Input<string>;
  /** The bastion's public host key ("ssh-ed25519 AAAA..."), pinned when given. */
  hostKey?: pulumi.Input<string>;
}

/** How to reach one target host over SSH; the same shape as @pulumi/command's connection. */
export interface Connection {
  /** Host name (RFC 1123) or IP address of the target. */
  host: pulumi.Input<string>;
  /** SSH port, an integer 1-65535 (default 22). */
  port?: pulumi.Input<number>;
  /** SSH user (default root). A non-root user needs passwordless sudo; the docker path needs docker access (docker group). */
  user?: pulumi.Input<string>;
  /** Private key (kept secret). Configures both the provisioning commands and the docker provider's ssh. */
  privateKey?: pulumi.Input<string>;
  /** Passphrase of the private key (kept secret). The docker path cannot use an encrypted key: use an agent there. */
  privateKeyPassword?: pulumi.Input<string>;
  /** SSH password (kept secret). Provisioning commands only; the docker path needs a key or an agent. */
  password?: pulumi.Input<string>;
  /** ssh-agent socket; used by both the provisioning commands and the docker provider's ssh (IdentityAgent). */
  agentSocketPath?: pulumi.Input<string>;
  /** The target's public host key ("ssh-ed25519 AAAA..."). When given, both SSH paths pin it. */
  hostKey?: pulumi.Input<string>;
  /** A bastion to connect through. */
  proxy?: pulumi.Input<ProxyConnection>;
  /** How many times to retry a failed dial, an integer 1-100 (default 10). */
  dialErrorLimit?: pulumi.Input<number>;
  /** Seconds per dial attempt, an integer 1-600 (default 15). */
  perDialTimeout?: pulumi.Input<number>;
}

/**
 * A container healthcheck for the client. When set, `pulumi up` waits (in the attestation step) until
 * Docker reports the container healthy, and fails with the client's last log lines if it turns
 * unhealthy or exits first.
 */
export interface Healthcheck {
  /** The check, exec form without a shell: e.g. ["test", "-f", "/tmp/ok"] (Docker's CMD form). */
  command: pulumi.Input<pulumi.Input<string>[]>;
  /** Seconds between checks, an integer 1-3600 (default 10). */
  intervalS?: pulumi.Input<number>;
  /** Consecutive failures that make the container unhealthy, an integer 1-100 (default 3). */
  retries?: pulumi.Input<number>;
  /** Seconds one check may take, an integer 1-600 (default 5). */
  timeoutS?: pulumi.Input<number>;
  /** Seconds after start during which failures do not count, an integer 0-3600 (default 0). */
  startPeriodS?: pulumi.Input<number>;
}

/** Settings of the pyJoules client container. */
export interface Client {
  /** Prometheus remote-write endpoint the client pushes to (http or https). */
  remoteWriteUrl: pulumi.Input<string>;
  /** Client image (default aimilefth/cpu-pyjoules). Pin a digest (repo@sha256:...) in production. */
  image?: pulumi.Input<string>;
  /** Container name on the host (default pyjoules-client). */
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
  /** Further environment variables for the client (names must not clash with the typed settings). */
  env?: pulumi.Input<{ [key: string]: pulumi.Input<string> }>;
  /** A healthcheck; when set, `pulumi up` waits for the client to be healthy. */
  healthcheck?: pulumi.Input<Healthcheck>;
}

/** Which AppArmor profile confines the client. */
export interface Profile {
  /** Profile name (default docker-pyjoules). */
  name?: pulumi.Input<string>;
  /** Further absolute paths the container may read but never write (optionally ending in /**). */
  extraReadPaths?: pulumi.Input<pulumi.Input<string>[]>;
}

/** What the kernel confirmed after provisioning, as printed by provision.sh on the host. */
export interface VerifiedProfile {
  /** Profile name. */
  name: string;
  /** Always "enforce": anything else fails the deployment. */
  mode: string;
  /** sha256 of the installed profile file (equals the sha256 of the text that was sent). */
  sha256: string;
  /** Where the profile file lives on the host. */
  path: string;
  /** The systemd unit that loads the profile at boot, before docker.service. */
  loader: string;
  /** apparmor_parser version on the host. */
  parserVersion: string;
  /** Docker server version on the host. */
  dockerVersion: string;
  /** Kernel release of the host. */
  kernel: string;
  /** The host's own name. */
  host: string;
}

/** How the running client container is confined, as seen from its host (attest.sh). */
export interface Attestation {
  /** The host's own name. */
  host: string;
  /** Container name. */
  container: string;
  /** The container is running. */
  running: boolean;
  /** AppArmor profile Docker reports for the container. */
  apparmorProfile: string;
  /** The confinement of the container's PID 1 (its /proc/PID/attr/current, read on the host), e.g. "docker-pyjoules (enforce)". */
  procAttrCurrent: string;
  /** The container is privileged (must be false). */
  privileged: boolean;
  /** Number of added capabilities, an integer (must be 0). */
  addedCapabilities: number;
  /** /sys/class/powercap is mounted read-only. */
  classPowercapReadOnly: boolean;
  /** /sys/devices/virtual/powercap is mounted read-only. */
  devicesPowercapReadOnly: boolean;
  /** The RAPL zone probed (e.g. intel-rapl:0), empty when none exists. */
  raplZone: string;
  /** energy_uj of that zone is readable inside the container. */
  raplReadable: boolean;
  /** energy_uj read inside the container had moved on from the host's read just before (a wrap counts as moving). */
  raplEnergyIncreasing: boolean;
  /** How far energy_uj moved between those two reads, in microjoules (an integer; -1 when either was unreadable). */
  raplEnergyDeltaUj: number;
  /** sha256 of the profile file installed on the host, empty when it is missing. */
  profileSha256: string;
  /** AppArmor denials the host logged for the profile since the container started (reported, not a failure). */
  denials: AttestationDenials;
  /** Every check passed. */
  ok: boolean;
}

/** AppArmor denials logged on the host for the container's profile (only `audit deny` and unexpected denials log). */
export interface AttestationDenials {
  /** Where they were read: "journal" or "dmesg", plus "audit.log" when auditd keeps one ("journal+audit.log"); empty when none could be read. */
  sources: string;
  /** Unix time the container started; denials logged before it are left out (0 when unknown: nothing left out). */
  since: number;
  /** Number of denials, an integer. */
  count: number;
  /** The first few (at most 5). */
  first: Denial[];
}

/** One logged AppArmor denial. */
export interface Denial {
  /** The denied operation, e.g. "open". */
  operation: string;
  /** The path (or other object) it was denied on, e.g. "/proc/keys". */
  name: string;
}

// The TypeScript names of the argument shapes (see the note at the top of this file).
/** @see ProxyConnection */
export type ProxyConnectionArgs = ProxyConnection;
/** @see Connection */
export type ConnectionArgs = Connection;
/** @see Client */
export type ClientArgs = Client;
/** @see Healthcheck */
export type HealthcheckArgs = Healthcheck;
/** @see Profile */
export type ProfileArgs = Profile;
