// VM part of `npm run bench`: boots one VM (test/vm), then per repeat, in alternating order so load
// noise hits both sides:
//   - the seed's manual flow (its setup script's steps as one ssh session, then `docker run` with the
//     seed's options as a second session; fresh connections, as a user would run them), then cleanup;
//   - our stack program (components/stack.ts stackProgram, one host) through the real Pulumi engine and
//     providers (test/engine): first deploy, no-op deploy, profile change (one extra read path), destroy;
//     SSH connections counted in the guest's sshd log (by client: Go = command provider, OpenSSH = docker).
// Prints progress on stderr and one line `BENCH_JSON {...}` on stdout. Run by run.ts under
// `flock /tmp/pyj-vm.lock` (one VM at a time on this machine).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { stackProgram } from "../../components/stack";
import { changed, EngineStack, requireEngine, type EngineRun } from "../engine";
import { bootVm, ensureImage, sshdConnectionsSince, sshdDebugLogging, sshdMark, TEST_CLIENT_IMAGE, type Distro, type Vm } from "../vm";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const REPEATS = Number(opt("--repeats", "3"));
const DISTRO = opt("--distro", "trixie") as Distro;
const PROJECT = "pulumi-pyjoules";
const URL = "http://host.docker.internal:9/api/v1/write";
const MANUAL_NAME = "pyjoules-manual";
const EXTRA_READ_PATH = "/sys/devices/system/cpu/**";
const log = (s: string) => process.stderr.write(`[vm-bench] ${s}\n`);

// The seed's profile: the committed copy (the working tree may be mid-edit by someone else).
function seedProfile(): string {
  try {
    return execFileSync("git", ["show", "HEAD:profiles/docker-pyjoules"], { cwd: path.join(__dirname, "../.."), encoding: "utf8" });
  } catch {
    return fs.readFileSync(path.join(__dirname, "../../profiles/docker-pyjoules"), "utf8");
  }
}

// setup_docker-pyjoules.sh, as the seed's README describes it: copy into /etc/apparmor.d/containers,
// load with apparmor_parser -r -W, check with aa-status. The file travels on stdin of the same session.
const SETUP = [
  "set -e",
  "sudo mkdir -p /etc/apparmor.d/containers",
  "sudo tee /etc/apparmor.d/containers/docker-pyjoules >/dev/null",
  "sudo apparmor_parser -r -W /etc/apparmor.d/containers/docker-pyjoules",
  "sudo aa-status | grep -q docker-pyjoules",
].join(" && ");
const DOCKER_RUN = [
  "docker run -d --name",
  MANUAL_NAME,
  "--restart unless-stopped",
  "-v /sys/class/powercap:/sys/class/powercap:ro",
  "-v /sys/devices/virtual/powercap:/sys/devices/virtual/powercap:ro",
  "--security-opt apparmor=docker-pyjoules",
  "--security-opt systempaths=unconfined",
  `-e REMOTE_WRITE_URL=${URL}`,
  TEST_CLIENT_IMAGE,
].join(" ");
const MANUAL_CLEAN = [
  `docker rm -f ${MANUAL_NAME} >/dev/null 2>&1 || true`,
  "sudo apparmor_parser -R /etc/apparmor.d/containers/docker-pyjoules >/dev/null 2>&1 || true",
  "sudo rm -f /etc/apparmor.d/containers/docker-pyjoules",
].join("; ");

const now = () => performance.now();

async function manualFlow(vm: Vm, profile: string) {
  const t0 = now();
  await vm.ssh(SETUP, { stdin: profile, multiplex: false });
  const t1 = now();
  await vm.ssh(DOCKER_RUN, { multiplex: false });
  const t2 = now();
  const confined = (await vm.ssh(`docker inspect -f '{{.AppArmorProfile}} {{.State.Running}}' ${MANUAL_NAME}`)).stdout.trim();
  if (confined !== "docker-pyjoules true") throw new Error(`manual flow: container is "${confined}"`);
  await vm.ssh(MANUAL_CLEAN);
  return { setupMs: t1 - t0, runMs: t2 - t1, totalMs: t2 - t0, sshSessions: 2, remoteCommands: 2 };
}

/** One engine operation, timed, with the SSH connections it opened (guest sshd log). */
async function measured(vm: Vm, op: () => Promise<EngineRun>) {
  const mark = await sshdMark(vm);
  const t0 = now();
  const r = await op();
  const ms = now() - t0;
  const ssh = await sshdConnectionsSince(vm, mark);
  return { ms, sshSessions: ssh.total, byClient: ssh.byClient, changes: changed(r) };
}

async function ours(vm: Vm, withChange: boolean) {
  const stack = await EngineStack.create({ project: PROJECT, stack: "bench", program: async () => stackProgram(new pulumi.Config()) });
  const setConfig = (extra: boolean) =>
    stack.setConfig(
      {
        hosts: [{ name: "vm", host: vm.host, port: vm.port, hostKey: vm.image.hostKey }],
        ssh: { user: vm.user },
        client: { remoteWriteUrl: URL, image: TEST_CLIENT_IMAGE },
        ...(extra ? { profile: { extraReadPaths: [EXTRA_READ_PATH] } } : {}),
      },
      { sshPrivateKey: vm.image.userKey },
    );
  const run = async (extra: boolean) => (await setConfig(extra), measured(vm, () => stack.up()));
  try {
    const first = await run(false);
    const noop = await run(false);
    const change = withChange ? await run(true) : undefined;
    const destroy = await measured(vm, () => stack.destroy());
    return { first, noop, change, destroy };
  } catch (e) {
    await stack.destroy().catch(() => undefined);
    throw e;
  } finally {
    await stack.cleanup();
  }
}

async function main() {
  log(`engine: ${requireEngine(log)}`);
  const image = await ensureImage(DISTRO, log);
  const tBoot = now();
  const vm = await bootVm(image, { log });
  const bootMs = now() - tBoot;
  await sshdDebugLogging(vm);
  try {
    const facts = (await vm.ssh(
      ". /etc/os-release; echo \"$PRETTY_NAME\"; uname -r; docker version -f '{{.Server.Version}}'; /sbin/apparmor_parser --version 2>&1 | head -1",
    )).stdout.trim().split("\n");
    const guest = { distro: facts[0], kernel: facts[1], docker: facts[2], apparmor: facts[3], cores: 2, bootMs };
    log(`guest: ${JSON.stringify(guest)}`);
    const profile = seedProfile();
    await vm.ssh(MANUAL_CLEAN);
    const repeats: unknown[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const manualFirst = i % 2 === 0;
      let manual: Awaited<ReturnType<typeof manualFlow>> | undefined;
      let ourRun: Awaited<ReturnType<typeof ours>> | undefined;
      if (manualFirst) manual = await manualFlow(vm, profile);
      ourRun = await ours(vm, true);
      if (!manualFirst) manual = await manualFlow(vm, profile);
      log(`repeat ${i + 1}/${REPEATS}: manual ${manual!.totalMs.toFixed(0)} ms, first ${ourRun.first.ms.toFixed(0)} ms, no-op ${ourRun.noop.ms.toFixed(0)} ms, change ${ourRun.change?.ms.toFixed(0)} ms, destroy ${ourRun.destroy.ms.toFixed(0)} ms`);
      repeats.push({ order: manualFirst ? "manual,ours" : "ours,manual", manual, ours: ourRun });
    }
    process.stdout.write(`BENCH_JSON ${JSON.stringify({ guest, repeats })}\n`);
  } finally {
    await vm.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    log(`failed: ${(e as Error)?.stack ?? e}`);
    process.exit(1);
  },
);
