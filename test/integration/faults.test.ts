// Fault suite against real trixie VMs, through the REAL Pulumi engine and providers (test/engine).
//
// One VM serves cases 2-11 (state restored between cases); a second boot with apparmor=0 serves case 1.
// The product is driven either as PyJoulesHost components in an inline program run by `pulumi up` (where the
// component's behaviour matters: nothing started, the error names host and cause) or with the exact
// command lines and stdin of profiles/commands.ts over ssh (cases 3, 8, 9: the host script's own guarantees).
// Every failure's error diagnostic is printed as `pulumi up` printed it, for the closing table.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { dockerSshOpts } from "../../components/dockerSsh";
import { provisionInvocation, removeInvocation } from "../../profiles/commands";
import { DEFAULT_PROFILE_NAME, renderPyJoulesProfile, sha256Hex } from "../../profiles/render";
import { EngineRunError, EngineStack, errorLines, requireEngine, type EngineRun } from "../engine";
import { TEST_CLIENT_HEALTHCHECK } from "../posture/fleet";
import { bootVm, ensureImage, freeLoopbackPort, sshOptions, tailLines, type Vm, type VmImage } from "../vm";
import {
  causeLine,
  hostsProgram,
  record,
  runSsh,
  sleep,
  snapshot,
  timeFailure,
  timings,
  vmConnection,
} from "./faults/helpers";

const PROJECT = "pyj-faults";
const CONTAINER = "pyjoules-client";
const PROFILE = DEFAULT_PROFILE_NAME;
const RACE = "pyj-faults-race";
const INTERRUPT = "pyj-faults-int";
const STATE_DIR = "/var/lib/pulumi-pyjoules";
const CONTAINERS_DIR = "/etc/apparmor.d/containers";
const suiteStart = performance.now();

let image: VmImage;
let keyDir: string;
let stackNo = 0;
const stacks: EngineStack[] = [];
/** A new stack (project PROJECT) running `program` through the real engine. */
async function newStack(program: () => unknown): Promise<EngineStack> {
  const s = await EngineStack.create({ project: PROJECT, stack: `s${++stackNo}`, program: async () => program() as Record<string, unknown> });
  stacks.push(s);
  return s;
}
/** `pulumi up` of `program` on `stack` (the same stack keeps its state: a re-run updates, never duplicates). */
const upWith = (stack: EngineStack, program: () => unknown) => stack.up({ program: async () => program() as Record<string, unknown> });
/** `pulumi up` with flags on a fresh stack. */
const upWithFlags = async (program: () => unknown, flags: { continueOnError?: boolean }) =>
  (await newStack(program)).up({ ...flags, program: async () => program() as Record<string, unknown> });
/** "Running Profile StartedAt" of the client container on the host. */
const attestedOnHost = async (vm: Vm) =>
  (await vm.ssh(`docker inspect -f '{{.State.Running}} {{.AppArmorProfile}} {{.State.StartedAt}}' ${CONTAINER}`, { allowFail: true })).stdout.trim();
/** `pulumi up` that must fail: the partial run, the error as printed, and how long it took. */
async function failingUp(program: () => unknown, on?: EngineStack): Promise<{ ms: number; error: EngineRunError; stack: EngineStack }> {
  const stack = on ?? (await newStack(program));
  const { ms, error } = await timeFailure(() => upWith(stack, program));
  expect(error).toBeInstanceOf(EngineRunError);
  console.log(`[faults] pulumi up printed:\n  ${errorLines((error as EngineRunError).run).join("\n  ")}`);
  return { ms, error: error as EngineRunError, stack };
}

beforeAll(async () => {
  requireEngine();
  image = await ensureImage("trixie");
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "pyj-faults-keys-"));
  process.env.PULUMI_PYJOULES_SSH_DIR = keyDir; // the docker path's key file, not in $HOME
});
afterAll(async () => {
  for (const st of stacks) await st.cleanup();
  if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
  console.log(`\nFault suite: time to fail per case (total ${((performance.now() - suiteStart) / 1000).toFixed(0)} s)`);
  console.table(timings);
});

function watch(vm: () => Vm | undefined) {
  onTestFailed(() => {
    const v = vm();
    if (v) console.log(`--- serial log tail (${v.serialLogPath}) ---\n${tailLines(v.serialLog(), 60)}`);
  });
}

/** Provision over ssh with the exact command line and stdin the component sends. */
const provision = (vm: Vm, name: string, text: string, allowFail = true) => {
  const inv = provisionInvocation(name, true, text);
  return vm.ssh(inv.command, { stdin: inv.stdin, allowFail, timeoutMs: 240_000 });
};

async function removeAll(vm: Vm): Promise<void> {
  await vm.ssh(`docker rm -f ${CONTAINER} >/dev/null 2>&1 || true`, { allowFail: true });
  for (const n of [PROFILE, RACE, INTERRUPT]) {
    const inv = removeInvocation(n);
    const r = await vm.ssh(inv.command, { stdin: inv.stdin, allowFail: true });
    expect(r.code, `remove ${n}: ${r.stderr}`).toBe(0);
  }
}

async function fileState(vm: Vm, name: string) {
  const r = await vm.ssh(
    `sudo -n sh -c 'sha256sum ${CONTAINERS_DIR}/${name} 2>/dev/null | cut -d" " -f1; echo "|"; cat ${STATE_DIR}/${name}.loaded 2>/dev/null; echo "|"; grep -cxF "${name} (enforce)" /sys/kernel/security/apparmor/profiles; echo "|"; cat /sys/kernel/security/apparmor/policy/profiles/${name}.*/sha256 2>/dev/null; echo "|"; ls -A ${CONTAINERS_DIR} | grep -c "^\\.${name}\\." ; true'`,
  );
  const [file, stamp, loaded, kernelHash, leftovers] = r.stdout.split("|").map((s) => s.trim());
  return { file, stamp, loaded: loaded === "1", kernelHash, leftovers: Number(leftovers) };
}

/** The failed resource is named, the host's cause line is there, and no container step ran. */
function expectFailedRun(err: EngineRunError, { resource, cause, hostname }: { resource: string; cause: RegExp; hostname?: string }) {
  const r: EngineRun = err.run;
  const printed = errorLines(r).join("\n");
  expect(r.errors.map((e) => e.name)).toContain(resource);
  if (hostname) {
    const said = printed.split("\n").filter((l) => l.startsWith(`pyjoules: ${hostname}: `));
    expect(said.length, printed.slice(-1500)).toBeGreaterThan(0);
    expect(said.join("\n")).toMatch(cause);
  } else {
    expect(printed).toMatch(cause);
  }
  // the error is short: no script source, no stack trace
  expect(printed.length, printed).toBeLessThan(2500);
  expect(printed).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
  // nothing was started on the docker side
  expect(r.steps.filter((s) => s.type === "docker:index/container:Container" && s.op !== "same" && !s.failed)).toEqual([]);
}

describe("fail closed and converge on one trixie VM", () => {
  let vm: Vm;
  let hostname: string;

  beforeAll(async () => {
    vm = await bootVm(image);
    hostname = (await vm.ssh("hostname")).stdout.trim();
  });
  afterAll(async () => {
    if (vm) {
      await removeAll(vm).catch(() => undefined);
      await vm.stop();
    }
  });

  it("4: sudo demands a password -> fails within seconds, says passwordless sudo is needed", async () => {
    watch(() => vm);
    await removeAll(vm);
    const before = await snapshot(vm);
    const { ms, error } = await failingUp(hostsProgram([{ name: "pw", connection: vmConnection(vm, { user: image.users.passwordSudo }) }]));
    expectFailedRun(error, { resource: "pw-profile-provision", cause: /user pyjpw needs passwordless sudo \(sudo -n cannot prompt for a password\)/, hostname });
    expect(ms).toBeLessThan(10_000);
    expect(await snapshot(vm)).toBe(before);
    record("4", "sudo needs a password (pyjpw)", ms, causeLine(error.message));
  });

  it("2: /sbin/apparmor_parser absent -> fails closed, says Docker would run unconfined", async () => {
    watch(() => vm);
    await removeAll(vm);
    const parser = (await vm.ssh("readlink -f /sbin/apparmor_parser")).stdout.trim();
    const before = await snapshot(vm);
    await vm.ssh(`sudo -n mv ${parser} ${parser}.faults-away`);
    try {
      const { ms, error } = await failingUp(hostsProgram([{ name: "noparser", connection: vmConnection(vm) }]));
      expectFailedRun(error, {
        resource: "noparser-profile-provision",
        cause: /\/sbin\/apparmor_parser is missing: Docker would silently run the container unconfined/,
        hostname,
      });
      expect(await snapshot(vm)).toBe(before);
      record("2", "apparmor_parser moved away", ms, causeLine(error.message));
    } finally {
      await vm.ssh(`sudo -n mv ${parser}.faults-away ${parser}`);
    }
  });

  it("6: host key mismatch -> refused on the remote.Command path and on the docker provider's ssh", async () => {
    watch(() => vm);
    await removeAll(vm);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pyj-faults-hk-"));
    try {
      const gen = spawn("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.join(dir, "k")]);
      await new Promise((r) => gen.on("close", r));
      const wrongKey = fs.readFileSync(path.join(dir, "k.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
      expect(wrongKey).toMatch(/^ssh-ed25519 /);
      const before = await snapshot(vm);

      // remote.Command path (pulumi-resource-command pins the key with x/crypto's FixedHostKey)
      const { ms, error } = await failingUp(
        hostsProgram([{ name: "mitm", connection: vmConnection(vm, { hostKey: wrongKey, dialErrorLimit: 1, perDialTimeout: 10 }) }]),
      );
      expectFailedRun(error, { resource: "mitm-profile-provision", cause: /host key mismatch/i });
      expect(await snapshot(vm)).toBe(before);
      record("6", "host key mismatch, remote.Command (dialErrorLimit 1)", ms, causeLine(error.message));

      // docker provider path: exactly the ssh options components/dockerSsh.ts produces, argv as docker's connhelper
      const dockerArgv = (hostKey: string, cmd: string[]) => [
        ...dockerSshOpts({ hostKey, identityFile: image.userKeyPath }),
        "-l", image.users.admin, "-p", String(vm.port), "--", vm.host, ...cmd,
      ];
      const ok = await runSsh(dockerArgv(image.hostKey, ["docker", "version", "--format", "{{.Server.Version}}"]));
      expect(ok.code, ok.stderr).toBe(0); // control: the right pin is accepted
      const bad = await runSsh(dockerArgv(wrongKey, ["docker", "system", "dial-stdio"]));
      expect(bad.code).toBe(255);
      expect(bad.stderr).toContain("Host key verification failed");
      expect(await snapshot(vm)).toBe(before);
      record("6", "host key mismatch, docker ssh (dockerSshOpts)", bad.ms, "Host key verification failed");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("7: docker daemon down -> clear error, nothing installed; docker back -> a re-run converges", async () => {
    watch(() => vm);
    await removeAll(vm);
    const before = await snapshot(vm);
    const program = hostsProgram([{ name: "nodocker", connection: vmConnection(vm) }]);
    const stack = await newStack(program);
    await vm.ssh("sudo -n systemctl stop docker.socket docker.service");
    try {
      const { ms, error } = await failingUp(program, stack);
      expectFailedRun(error, { resource: "nodocker-profile-provision", cause: /docker info failed \(is the Docker daemon running\?\)/, hostname });
      const after = (await snapshot(vm)).replace(/\[containers\][\s\S]*$/, "");
      expect(after).toBe(before.replace(/\[containers\][\s\S]*$/, ""));
      record("7", "docker.service + docker.socket stopped", ms, causeLine(error.message));
    } finally {
      await vm.ssh("sudo -n systemctl start docker.socket docker.service");
      await vm.waitForDocker();
    }
    expect(await snapshot(vm)).toBe(before);
    const r = await upWith(stack, program);
    const v = r.outputs.nodockerVerified as { sha256: string; mode: string };
    expect(v.sha256).toBe(sha256Hex(renderPyJoulesProfile()));
    expect(v.mode).toBe("enforce");
    expect(r.outputs.nodockerAttestation).toMatchObject({ ok: true, running: true, procAttrCurrent: `${PROFILE} (enforce)` });
    // leave the converged host for case 3
  });

  it("3: a profile that does not compile is rejected before install; the loaded profile and the running container stay", async () => {
    watch(() => vm);
    // precondition: converged host (profile loaded, container running under it)
    const base = await fileState(vm, PROFILE);
    if (!base.loaded || base.stamp !== sha256Hex(renderPyJoulesProfile())) {
      await removeAll(vm);
      const base = hostsProgram([{ name: "base", connection: vmConnection(vm) }]);
      await upWith(await newStack(base), base);
    }
    const ctr = async () =>
      (await vm.ssh(`docker inspect -f '{{.State.Running}} {{.AppArmorProfile}} {{.State.StartedAt}}' ${CONTAINER} && docker exec ${CONTAINER} cat /proc/1/attr/current`)).stdout.trim();
    const ctrBefore = await ctr();
    expect(ctrBefore).toMatch(new RegExp(`^true ${PROFILE} \\S+\\n${PROFILE} \\(enforce\\)$`));
    const before = await snapshot(vm);
    const good = renderPyJoulesProfile({ extraReadPaths: ["/etc/pyjoules/config.yaml"] });
    expect(good).toContain("  /etc/pyjoules/config.yaml r,\n");
    const variants: Array<[string, string]> = [
      ["corrupted stdin (text cut in half)", good.slice(0, Math.floor(good.length / 2))],
      ["corrupted stdin (bytes flipped)", good.replace("profile \"docker-pyjoules\" flags", "profile \"docker-pyjoules\" flag$")],
      ["bad extraReadPaths-like rule injected", good.replace("  /etc/pyjoules/config.yaml r,\n", "  /etc/pyjoules/config.yaml r,\n  /etc/pyjoules/@{NO_SUCH_VAR}/** r,\n")],
    ];
    for (const [what, text] of variants) {
      expect(text).not.toBe(good);
      const t0 = performance.now();
      const r = await provision(vm, PROFILE, text);
      const ms = performance.now() - t0;
      expect(r.code, what).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`pyjoules: ${hostname}: profile ${PROFILE} does not compile`));
      expect(r.stdout).toBe("");
      expect(await snapshot(vm), what).toBe(before);
      const st = await fileState(vm, PROFILE);
      expect(st.loaded).toBe(true);
      expect(st.file).toBe(sha256Hex(renderPyJoulesProfile()));
      expect(st.leftovers).toBe(0);
      expect(await ctr(), what).toBe(ctrBefore);
      record("3", what, ms, causeLine(r.stderr));
    }
  });

  it("5: one unreachable host of a two-host fleet fails within its dial limits, naming it; the VM host converges", async () => {
    watch(() => vm);
    await removeAll(vm);
    const closedPort = await freeLoopbackPort();
    const good = { name: "vmhost", connection: vmConnection(vm) };
    const dead = {
      name: "deadhost",
      connection: { ...vmConnection(vm), port: closedPort, dialErrorLimit: 1, perDialTimeout: 2 },
    };
    const refused = new RegExp(`after 1 failed attempts: .*127\\.0\\.0\\.1:${closedPort}.*connection refused`, "is");
    // the dead host alone: its own time to fail (1 dial of <= 2 s)
    const alone = await failingUp(hostsProgram([dead]));
    expectFailedRun(alone.error, { resource: "deadhost-profile-provision", cause: refused });
    expect(alone.ms).toBeLessThan(30_000);
    record("5", "dead host alone (127.0.0.1:closed port, dialErrorLimit 1, perDialTimeout 2)", alone.ms, causeLine(alone.error.message));
    // both hosts, plain `pulumi up`: the engine starts nothing new after the failure; in-flight steps finish
    const fleet = hostsProgram([good, dead]);
    const { ms, error } = await failingUp(fleet);
    expectFailedRun(error, { resource: "deadhost-profile-provision", cause: refused });
    console.log(`case 5 partial run steps: ${JSON.stringify(error.run.steps.map((s) => `${s.op} ${s.name}${s.failed ? " FAILED" : ""}`))}`);
    // the VM host is consistent after the partial run: either untouched or fully provisioned, no container
    const st = await fileState(vm, PROFILE);
    expect(st.leftovers).toBe(0);
    if (st.file) expect([st.stamp, st.loaded]).toEqual([st.file, true]);
    else expect([st.stamp, st.loaded]).toEqual(["", false]);
    record("5", "two-host fleet, pulumi up (VM + dead host), until the run failed", ms, causeLine(error.message));
    // `pulumi up --continue-on-error`: the healthy host converges in the same run, which still fails
    const t0 = performance.now();
    const cont = await timeFailure(() => upWithFlags(fleet, { continueOnError: true }));
    const run = (cont.error as EngineRunError).run;
    expect(run.errors.map((e) => e.name)).toContain("deadhost-profile-provision");
    expect(run.steps.filter((s) => s.name.startsWith("vmhost-") && s.failed)).toEqual([]);
    const att = await attestedOnHost(vm);
    expect(att).toMatch(new RegExp(`^true ${PROFILE} `));
    record("5", "the same fleet, pulumi up --continue-on-error", performance.now() - t0, "vmhost converged and attested; deadhost failed; exit non-zero");
    await removeAll(vm);
  });

  it("10: a client that dies at start fails the deploy with its last log lines; fixed, the next run converges", async () => {
    watch(() => vm);
    await removeAll(vm);
    const broken = { healthcheck: TEST_CLIENT_HEALTHCHECK, env: { PYJOULES_TEST_CLIENT_FAIL: "start" } };
    const { ms, error, stack } = await failingUp(hostsProgram([{ name: "dies", connection: vmConnection(vm), client: broken }]));
    expect(error.run.errors.map((e) => e.name)).toContain("dies-attest");
    const said = error.message.split("\n").filter((l) => l.startsWith(`pyjoules: ${hostname}: `)).join("\n");
    expect(said).toMatch(/client container pyjoules-client (is (restarting|exited) \(exit code 3\)|exited and was restarted by Docker \(restarts: \d+\)) before it became healthy.*last log lines: .*failing at start as asked/);
    record("10", "client exits at start (healthcheck set)", ms, causeLine(error.message));
    // the same stack with a working client: the container is replaced and the host attests
    const r = await upWith(stack, hostsProgram([{ name: "dies", connection: vmConnection(vm), client: { healthcheck: TEST_CLIENT_HEALTHCHECK } }]));
    expect(r.outputs.diesAttestation).toMatchObject({ ok: true, running: true, raplEnergyIncreasing: true });
    expect((await vm.ssh(`docker inspect -f '{{.State.Health.Status}}' ${CONTAINER}`)).stdout.trim()).toBe("healthy");
    await stack.destroy();
  });

  it("11: the SSH user cannot use docker (not in the docker group) -> fails closed, naming the user and the fix", async () => {
    watch(() => vm);
    await removeAll(vm);
    const user = image.users.admin;
    const before = await snapshot(vm);
    // pulumi-resource-command opens a fresh ssh login per command, so the group change applies to it at once
    await vm.ssh(`sudo -n gpasswd -d ${user} docker`);
    try {
      const { ms, error } = await failingUp(hostsProgram([{ name: "nogroup", connection: vmConnection(vm) }]));
      expectFailedRun(error, {
        resource: "nogroup-profile-provision",
        cause: new RegExp(`user ${user} cannot use the Docker daemon \\(permission denied on its socket\\), but the docker provider connects as ${user}: add ${user} to the docker group`),
        hostname,
      });
      expect(await snapshot(vm)).toBe(before);
      record("11", "SSH user not in the docker group (root's docker works)", ms, causeLine(error.message));
    } finally {
      await vm.ssh(`sudo -n gpasswd -a ${user} docker`);
    }
  });

  it("8: provisioning session killed mid-run -> host fully old or fully new; the next run converges", async () => {
    watch(() => vm);
    await removeAll(vm);
    const oldText = renderPyJoulesProfile({ name: INTERRUPT });
    const newText = renderPyJoulesProfile({ name: INTERRUPT, extraReadPaths: ["/etc/pyjoules/interrupted.yaml"] });
    const [oldSha, newSha] = [sha256Hex(oldText), sha256Hex(newText)];
    const first = await provision(vm, INTERRUPT, oldText, false);
    expect(JSON.parse(first.stdout).sha256).toBe(oldSha);
    const old = await fileState(vm, INTERRUPT);
    expect([old.file, old.stamp, old.loaded]).toEqual([oldSha, oldSha, true]);

    // a separate, unmultiplexed ssh session we can kill
    const args = [
      ...sshOptions({ host: vm.host, port: vm.port, user: image.users.admin, keyPath: image.userKeyPath, knownHostsFile: vm.knownHostsPath }),
      vm.host, "--", provisionInvocation(INTERRUPT, true, newText).command,
    ];
    const t0 = performance.now();
    const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
    let exited = false;
    const closed = new Promise<void>((r) => child.on("close", () => ((exited = true), r())));
    child.stdin.on("error", () => undefined);
    child.stdin.end(provisionInvocation(INTERRUPT, true, newText).stdin);
    let killedAt = "";
    const deadline = Date.now() + 120_000;
    while (!exited && Date.now() < deadline) {
      const f = (await vm.ssh(`sudo -n sha256sum ${CONTAINERS_DIR}/${INTERRUPT} | cut -d' ' -f1`, { allowFail: true })).stdout.trim();
      if (f === newSha) {
        child.kill("SIGKILL");
        const at = ((performance.now() - t0) / 1000).toFixed(2);
        const stamp = (await fileState(vm, INTERRUPT)).stamp; // informational: how far the run was
        killedAt = `killed ${at} s in, as soon as the new file was seen (stamp a moment later: ${stamp === newSha ? "new" : "old"})`;
        break;
      }
      await sleep(100);
    }
    if (!killedAt) killedAt = "run ended before the new file was seen (not interrupted)";
    await closed;
    console.log(`case 8: ssh session killed: ${killedAt}`);
    // wait until the host-side run is over (it ignores HUP/PIPE once it started installing)
    const settleDeadline = Date.now() + 180_000;
    while ((await vm.ssh("pgrep -f '[p]yjoules-provision' || true")).stdout.trim() !== "") {
      expect(Date.now()).toBeLessThan(settleDeadline);
      await sleep(500);
    }
    const mid = await fileState(vm, INTERRUPT);
    expect(mid.leftovers).toBe(0);
    expect(mid.loaded).toBe(true);
    const fullyOld = mid.file === oldSha && mid.stamp === oldSha && mid.kernelHash === old.kernelHash;
    const fullyNew = mid.file === newSha && mid.stamp === newSha;
    expect(fullyOld || fullyNew, JSON.stringify({ mid, oldSha, newSha })).toBe(true);
    // the next run converges: verified JSON with the new sha
    const next = await provision(vm, INTERRUPT, newText, false);
    expect(JSON.parse(next.stdout)).toMatchObject({ name: INTERRUPT, mode: "enforce", sha256: newSha });
    const fin = await fileState(vm, INTERRUPT);
    expect([fin.file, fin.stamp, fin.loaded]).toEqual([newSha, newSha, true]);
    if (fullyNew && mid.kernelHash) expect(fin.kernelHash).toBe(mid.kernelHash); // already new: no reload
    if (old.kernelHash) expect(fin.kernelHash).not.toBe(old.kernelHash);
    record("8", "ssh session SIGKILLed mid-run", undefined, `${killedAt}; after: ${fullyNew ? "fully new" : "fully old"}; next run converged`);
  });

  it("9: two provisioning runs at once -> both finish, final state consistent", async () => {
    watch(() => vm);
    await removeAll(vm);
    const a = renderPyJoulesProfile({ name: RACE, extraReadPaths: ["/etc/pyjoules/a.yaml"] });
    const b = renderPyJoulesProfile({ name: RACE, extraReadPaths: ["/etc/pyjoules/b.yaml"] });
    const t0 = performance.now();
    const [ra, rb] = await Promise.all([provision(vm, RACE, a), provision(vm, RACE, b)]);
    const ms = performance.now() - t0;
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    expect(JSON.parse(ra.stdout).sha256).toBe(sha256Hex(a));
    expect(JSON.parse(rb.stdout).sha256).toBe(sha256Hex(b));
    const st = await fileState(vm, RACE);
    expect([sha256Hex(a), sha256Hex(b)]).toContain(st.file);
    expect(st.stamp).toBe(st.file);
    expect(st.loaded).toBe(true);
    expect(st.leftovers).toBe(0);
    // re-running the winning text is a no-op and verifies the same sha
    const winner = st.file === sha256Hex(a) ? a : b;
    const again = await provision(vm, RACE, winner, false);
    expect(JSON.parse(again.stdout).sha256).toBe(st.file);
    expect((await fileState(vm, RACE)).kernelHash).toBe(st.kernelHash);
    record("9", "two concurrent runs, different texts", undefined, `both ok in ${(ms / 1000).toFixed(1)} s; final = text ${winner === a ? "A" : "B"}`);
  });
});

describe("fail closed with AppArmor disabled at boot (apparmor=0)", () => {
  let vm: Vm | undefined;
  beforeAll(async () => {
    vm = await bootVm(image, { extraKernelArgs: "apparmor=0" });
  });
  afterAll(async () => {
    await vm?.stop();
  });

  it("1: apparmor=0 -> fails closed, nothing started", async () => {
    watch(() => vm);
    const v = vm!;
    const hostname = (await v.ssh("hostname")).stdout.trim();
    expect((await v.ssh("cat /sys/module/apparmor/parameters/enabled")).stdout.trim()).toBe("N");
    const before = await snapshot(v);
    const { ms, error } = await failingUp(hostsProgram([{ name: "noaa", connection: vmConnection(v) }]));
    expectFailedRun(error, { resource: "noaa-profile-provision", cause: /AppArmor is not enabled in the kernel/, hostname });
    expect(await snapshot(v)).toBe(before);
    record("1", "apparmor=0 on the kernel command line", ms, causeLine(error.message));
  });
});
