// The provision and attest stages of a first deploy, run by hand on a clean host with a timestamped xtrace
// (phases.ts): what each phase costs inside the remote step. The container is started in between with
// `docker run` and the VM test client's healthcheck, so the attestation first waits for "healthy" (what a
// stack with client.healthcheck does), then once more without the wait (what the bench stack does).
import { ATTEST_SH, PROVISION_SH, attestInvocation, provisionInvocation, type HostInvocation } from "../../profiles/commands";
import { renderPyJoulesProfile } from "../../profiles/render";
import { TEST_CLIENT_IMAGE, type Vm } from "../vm";
import { cleanHost } from "./host-clean";
import { BENCH_URL } from "./manual";
import { attestPhaser, parseTrace, phaseTimes, provisionPhaser, tracedInvocation, type TraceLine } from "./phases";

export interface PhaseRun {
  wallMs: number;
  code: number;
  /** Seconds per phase inside the root script (guest clock). */
  phases: Record<string, number>;
  /** ssh connect + loader + user part + sudo + bash start: wall minus the traced root part. */
  outsideScriptS: number;
  /** Stage start to "become root" (the SSH user's part, e.g. its docker facts). */
  userPartS?: number;
  stderrTail?: string;
}

async function traced(vm: Vm, inv: HostInvocation, phaser: (l: TraceLine, i: number) => string): Promise<PhaseRun> {
  const t = tracedInvocation(inv);
  const t0 = performance.now();
  const r = await vm.ssh(t.command, { stdin: t.stdin, multiplex: false, allowFail: true, timeoutMs: 600_000 });
  const wallMs = performance.now() - t0;
  const { lines, marks } = parseTrace(r.stderr);
  const phases = phaseTimes(lines, phaser);
  const span = lines.length ? lines[lines.length - 1]!.t - lines[0]!.t : 0;
  return {
    wallMs,
    code: r.code,
    phases,
    outsideScriptS: wallMs / 1000 - span,
    userPartS: marks.become !== undefined && marks.stage !== undefined ? marks.become - marks.stage : undefined,
    stderrTail: r.code === 0 ? undefined : r.stderr.split("\n").filter((l) => !/^\++ \d/.test(l)).slice(-8).join("\n"),
  };
}

const DOCKER_RUN_HEALTHY = [
  "docker run -d --name pyjoules-client --restart unless-stopped",
  "-v /sys/class/powercap:/sys/class/powercap:ro -v /sys/devices/virtual/powercap:/sys/devices/virtual/powercap:ro",
  "--security-opt apparmor=docker-pyjoules --security-opt systempaths=unconfined",
  `--health-cmd 'test -n "$(find /tmp/pyjoules-client.healthy -mmin -1 2>/dev/null)"' --health-interval 3s --health-retries 3 --health-timeout 10s --health-start-period 60s`,
  `-e REMOTE_WRITE_URL=${BENCH_URL} ${TEST_CLIENT_IMAGE}`,
].join(" ");

export async function runPhases(vm: Vm, log: (s: string) => void) {
  await cleanHost(vm);
  const provision = await traced(vm, provisionInvocation("docker-pyjoules", true, renderPyJoulesProfile()), provisionPhaser(PROVISION_SH));
  log(`phases: provision ${provision.wallMs.toFixed(0)} ms (exit ${provision.code}) ${JSON.stringify(provision.phases)}`);
  const t0 = performance.now();
  await vm.ssh(DOCKER_RUN_HEALTHY, { multiplex: false });
  const dockerRunMs = performance.now() - t0;
  const attestHealth = await traced(vm, attestInvocation("docker-pyjoules", "pyjoules-client", true, 120), attestPhaser(ATTEST_SH));
  log(`phases: attest (health wait) ${attestHealth.wallMs.toFixed(0)} ms ${JSON.stringify(attestHealth.phases)}`);
  const attestNoWait = await traced(vm, attestInvocation("docker-pyjoules", "pyjoules-client", true, 0), attestPhaser(ATTEST_SH));
  log(`phases: attest (no wait) ${attestNoWait.wallMs.toFixed(0)} ms ${JSON.stringify(attestNoWait.phases)}`);
  await cleanHost(vm);
  return { provision, dockerRunMs, attestHealth, attestNoWait };
}
