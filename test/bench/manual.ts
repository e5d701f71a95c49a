// The seed's manual flow: its setup script's steps (copy into /etc/apparmor.d/containers, apparmor_parser
// -r -W, aa-status | grep) as one ssh session with the profile on stdin, then `docker run` with the seed's
// options as a second session; fresh connections, as a user would type them.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { TEST_CLIENT_IMAGE, type Vm } from "../vm";

export const BENCH_URL = "http://host.docker.internal:9/api/v1/write";
export const MANUAL_NAME = "pyjoules-manual";

/** The seed's profile: the committed copy (the working tree may be mid-edit by someone else). */
export function seedProfile(): string {
  const root = path.join(__dirname, "../..");
  try {
    return execFileSync("git", ["show", "HEAD:profiles/docker-pyjoules"], { cwd: root, encoding: "utf8" });
  } catch {
    return fs.readFileSync(path.join(root, "profiles/docker-pyjoules"), "utf8");
  }
}

const SETUP = [
  "set -e",
  "sudo mkdir -p /etc/apparmor.d/containers",
  "sudo tee /etc/apparmor.d/containers/docker-pyjoules >/dev/null",
  "sudo apparmor_parser -r -W /etc/apparmor.d/containers/docker-pyjoules",
  "sudo aa-status | grep -q docker-pyjoules",
].join(" && ");

const DOCKER_RUN = [
  "docker run -d --name", MANUAL_NAME, "--restart unless-stopped",
  "-v /sys/class/powercap:/sys/class/powercap:ro",
  "-v /sys/devices/virtual/powercap:/sys/devices/virtual/powercap:ro",
  "--security-opt apparmor=docker-pyjoules", "--security-opt systempaths=unconfined",
  `-e REMOTE_WRITE_URL=${BENCH_URL}`, TEST_CLIENT_IMAGE,
].join(" ");

export const MANUAL_CLEAN = [
  `docker rm -f ${MANUAL_NAME} >/dev/null 2>&1 || true`,
  "sudo apparmor_parser -R /etc/apparmor.d/containers/docker-pyjoules >/dev/null 2>&1 || true",
  "sudo rm -f /etc/apparmor.d/containers/docker-pyjoules",
].join("; ");

export interface ManualRun {
  setupMs: number;
  runMs: number;
  totalMs: number;
}

/** The two ssh sessions, timed; checks the container is confined, then removes everything. */
export async function manualFlow(vm: Vm, profile: string): Promise<ManualRun> {
  const t0 = performance.now();
  await vm.ssh(SETUP, { stdin: profile, multiplex: false });
  const t1 = performance.now();
  await vm.ssh(DOCKER_RUN, { multiplex: false });
  const t2 = performance.now();
  const confined = (await vm.ssh(`docker inspect -f '{{.AppArmorProfile}} {{.State.Running}}' ${MANUAL_NAME}`)).stdout.trim();
  if (confined !== "docker-pyjoules true") throw new Error(`manual flow: container is "${confined}"`);
  return { setupMs: t1 - t0, runMs: t2 - t1, totalMs: t2 - t0 };
}
