// Shared by the lifecycle test and the demo: the stack config of a one-host fleet
// pointed at a test VM, and the names the root program gives that host's resources.
import * as pulumi from "@pulumi/pulumi";
import { stackProgram } from "../../components/stack";
import { EngineStack } from "../engine";
import type { Vm } from "../vm";
import { TEST_CLIENT_IMAGE } from "../vm";

export const PROJECT = "pulumi-pyjoules";
export const HOST_NAME = "vm";
export const CONTAINER_NAME = "pyjoules-client";
export const PROFILE_NAME = "docker-pyjoules";
/**
 * The guest's Prometheus (`pyjoules-prometheus.service`, test/vm/build-image.sh) as the client container reaches it
 * (host-gateway), with credentials: they make the URL a secret, which must reach the container's env and nothing
 * else. Prometheus ignores them; the test client sends them as basic auth. Without the service started the client
 * logs failed pushes and retries (the fault suite's hosts never start it).
 */
export const REMOTE_WRITE_PASSWORD = "rw-secret-TEST-ONLY";
export const REMOTE_WRITE_URL = `http://pyjoules:${REMOTE_WRITE_PASSWORD}@host.docker.internal:9090/api/v1/write`;

/** Resource names the root program gives the host "vm" (fleet "pyjoules"). */
export const NAMES = {
  host: `pyjoules-${HOST_NAME}`,
  provision: `pyjoules-${HOST_NAME}-profile-provision`,
  container: `pyjoules-${HOST_NAME}-client`,
  attest: `pyjoules-${HOST_NAME}-attest`,
  provider: `pyjoules-${HOST_NAME}-docker`,
};

/**
 * The VM test client's healthcheck: its heartbeat file (written after every pyJoules sample) is fresher
 * than a minute. Start period: python3 and the first sample take a while under software emulation.
 */
export const TEST_CLIENT_HEALTHCHECK = {
  command: ["/bin/sh", "-c", 'test -n "$(find /tmp/pyjoules-client.healthy -mmin -1 2>/dev/null)"'],
  intervalS: 3,
  retries: 3,
  timeoutS: 10,
  startPeriodS: 60,
};

export interface FleetOptions {
  client?: Record<string, unknown>;
  profile?: Record<string, unknown>;
  verifyOnEveryRun?: boolean;
}

/** Plain (non-secret) config values, keyed without the project prefix. */
export function plainConfig(vm: Vm, o: FleetOptions = {}): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    hosts: [{ name: HOST_NAME, host: vm.host, port: vm.port, user: vm.image.users.admin, hostKey: vm.image.hostKey }],
    // HOST_LABEL: the test client's host label on every sample (default: the container's hostname)
    client: { image: TEST_CLIENT_IMAGE, healthcheck: TEST_CLIENT_HEALTHCHECK, env: { HOST_LABEL: HOST_NAME }, ...o.client },
  };
  if (o.profile) cfg.profile = o.profile;
  if (o.verifyOnEveryRun !== undefined) cfg.verifyOnEveryRun = o.verifyOnEveryRun;
  return cfg;
}

/** The secret config values: the SSH key and the remote-write URL with its credentials. */
export function secretConfig(vm: Vm): Record<string, string> {
  return { sshPrivateKey: vm.image.userKey, remoteWriteUrl: REMOTE_WRITE_URL };
}

/** An inline-program stack of the root program (through the real engine), configured for one VM host. */
export async function fleetStack(vm: Vm, stack: string, o: FleetOptions = {}): Promise<FleetStack> {
  const s = (await EngineStack.create({ project: PROJECT, stack, program: async () => stackProgram(new pulumi.Config()) })) as FleetStack;
  s.setFleet = (f: FleetOptions = {}) => s.setConfig(plainConfig(vm, f), secretConfig(vm));
  await s.setFleet(o);
  return s;
}

export type FleetStack = EngineStack & { setFleet(o?: FleetOptions): Promise<void> };

export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
