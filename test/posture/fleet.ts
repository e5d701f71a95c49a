// Shared by the lifecycle test, the real-CLI test and the demo: the stack config of a one-host fleet
// pointed at a test VM, and the names the root program gives that host's resources.
import type { Vm } from "../vm";
import { TEST_CLIENT_IMAGE } from "../vm";

export const PROJECT = "pulumi-pyjoules";
export const HOST_NAME = "vm";
export const CONTAINER_NAME = "pyjoules-client";
export const PROFILE_NAME = "docker-pyjoules";
/** Nothing listens there: the stand-in client only reads RAPL; the real client would retry pushes. */
export const REMOTE_WRITE_URL = "http://127.0.0.1:9/api/v1/write";

/** Resource names the root program gives the host "vm" (fleet "pyjoules"). */
export const NAMES = {
  host: `pyjoules-${HOST_NAME}`,
  provision: `pyjoules-${HOST_NAME}-profile-provision`,
  container: `pyjoules-${HOST_NAME}-client`,
  attest: `pyjoules-${HOST_NAME}-attest`,
  provider: `pyjoules-${HOST_NAME}-docker`,
};

export interface FleetOptions {
  client?: Record<string, unknown>;
  profile?: Record<string, unknown>;
}

/** Plain (non-secret) config values, keyed without the project prefix. */
export function plainConfig(vm: Vm, o: FleetOptions = {}): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    hosts: [{ name: HOST_NAME, host: vm.host, port: vm.port, user: vm.image.users.admin, hostKey: vm.image.hostKey }],
    client: { image: TEST_CLIENT_IMAGE, remoteWriteUrl: REMOTE_WRITE_URL, ...o.client },
  };
  if (o.profile) cfg.profile = o.profile;
  return cfg;
}

/** Emulator config: full keys ("project:key"), JSON-encoded objects, the key as `sshPrivateKey`. */
export function emulatorConfig(vm: Vm, o: FleetOptions = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(plainConfig(vm, o))) out[`${PROJECT}:${k}`] = JSON.stringify(v);
  out[`${PROJECT}:sshPrivateKey`] = vm.image.userKey;
  return out;
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
