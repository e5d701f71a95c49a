// One broken host in a fleet, through the real engine: two VMs at once in one stack, Debian 13 (good) and Debian 12
// booted with AppArmor off on its kernel command line (broken). What `pulumi up` does with and without
// --continue-on-error, that nothing is left half-done, that the next `up` after the fix touches only the broken host,
// and that a failing canary in wave 0 leaves wave 1 untouched.
import { afterAll, beforeAll, describe, expect } from "vitest";
import { PyJoulesFleet } from "../../components";
import { changed, EngineRunError, EngineStack, errorLines, requireEngine, type EngineRun } from "../engine";
import { PROFILE_NAME, secs } from "../posture/fleet";
import { bootVm, ensureImage, freeLoopbackPort, tailLines, TEST_CLIENT_IMAGE, type Vm } from "../vm";
import { REMOTE_WRITE_URL, snapshot, vmConnection } from "./faults/helpers";
import { suiteSteps } from "./steps";

const log = (s: string) => console.log(`[fleet-failure] ${s}`);
const CONTAINER = "pyjoules-client";

interface Member {
  name: string;
  wave: number;
  connection: ReturnType<typeof vmConnection>;
}

/** The product as a user deploys it: one PyJoulesFleet, one entry per member. */
const fleetProgram = (members: Member[]) => async () => {
  const fleet = new PyJoulesFleet("fleet", {
    defaults: { client: { remoteWriteUrl: REMOTE_WRITE_URL, image: TEST_CLIENT_IMAGE } },
    hosts: members.map((m) => ({ name: m.name, wave: m.wave, connection: m.connection })),
  });
  return { verifiedProfiles: fleet.verifiedProfiles, attestations: fleet.attestations };
};

describe("a fleet with one broken host (Debian 13 good, Debian 12 with apparmor=0)", () => {
  let good: Vm | undefined;
  let bad: Vm | undefined;
  const stacks: EngineStack[] = [];
  const vms = () => {
    if (!good || !bad) throw new Error("the VMs did not boot");
    return { good, bad };
  };
  const newStack = async (name: string) => {
    const s = await EngineStack.create({ project: "pyj-fleet-failure", stack: name, program: async () => ({}) });
    stacks.push(s);
    return s;
  };
  /** `pulumi up` that must fail: the partial run. */
  const failingUp = async (s: EngineStack, members: Member[], continueOnError = false): Promise<EngineRun> => {
    const e = await s.up({ program: fleetProgram(members), continueOnError }).then(() => undefined, (err: unknown) => err);
    expect(e, "the run should fail").toBeInstanceOf(EngineRunError);
    const run = (e as EngineRunError).run;
    log(`up${continueOnError ? " --continue-on-error" : ""}: ${secs(run.ms)}, failed; pulumi printed:\n  ${errorLines(run).join("\n  ")}`);
    log(`steps: ${run.steps.map((x) => `${x.op} ${x.name}${x.failed ? " FAILED" : ""}`).join(", ")}`);
    return run;
  };
  /** The good host: no container, or one running under the verified profile in enforce mode. */
  const containerState = async (vm: Vm) =>
    (await vm.ssh(`docker inspect -f '{{.State.Running}} {{.AppArmorProfile}}' ${CONTAINER} 2>/dev/null && docker exec ${CONTAINER} cat /proc/1/attr/current`, { allowFail: true })).stdout.trim();
  const { step, failed } = suiteSteps({ chained: true, done: (name, ms) => log(`${name}: ${secs(ms)}`) });

  beforeAll(async () => {
    requireEngine(log);
    const [trixie, bookworm] = await Promise.all([ensureImage("trixie"), ensureImage("bookworm")]);
    const t0 = Date.now();
    [good, bad] = await Promise.all([bootVm(trixie, { log }), bootVm(bookworm, { log, extraKernelArgs: "apparmor=0" })]);
    log(`two VMs up in ${secs(Date.now() - t0)}`);
  });
  afterAll(async () => {
    if (failed()) for (const v of [good, bad]) if (v) console.log(`[fleet-failure] serial log tail (${v.image.distro}):\n${tailLines(v.serialLog(), 40)}`);
    for (const s of stacks) await s.cleanup();
    await Promise.all([good?.stop(), bad?.stop()]);
  });

  let stack: EngineStack;
  let members: Member[];

  step("same wave, plain up: the broken host fails in one line; the run stops, nothing half-done on either host", async () => {
    const { good: g, bad: b } = vms();
    expect((await b.ssh("cat /sys/module/apparmor/parameters/enabled")).stdout.trim()).toBe("N");
    const badBefore = await snapshot(b);
    members = [{ name: "good", wave: 0, connection: vmConnection(g) }, { name: "bad", wave: 0, connection: vmConnection(b) }];
    stack = await newStack("same-wave");
    const run = await failingUp(stack, members);
    expect(run.errors.map((e) => e.name)).toContain("fleet-bad-profile-provision");
    expect(errorLines(run).join("\n")).toMatch(/pyjoules: pyj-bookworm: AppArmor is not enabled in the kernel/);
    expect(await snapshot(b)).toBe(badBefore);
    // the good host: untouched, or its profile verified (a container only ever under it)
    const c = await containerState(g);
    log(`good host after the plain up: container ${JSON.stringify(c) || "none"}`);
    if (c) expect(c).toBe(`true ${PROFILE_NAME}\n${PROFILE_NAME} (enforce)`);
  });

  step("same wave, --continue-on-error: the good host converges and attests; the broken one still fails in one line", async () => {
    const { good: g } = vms();
    const run = await failingUp(stack, members, true);
    expect(run.errors.map((e) => e.name)).toEqual(expect.arrayContaining(["fleet-bad-profile-provision"]));
    expect(run.steps.filter((x) => x.name.startsWith("fleet-good") && x.failed)).toEqual([]);
    expect(await containerState(g)).toBe(`true ${PROFILE_NAME}\n${PROFILE_NAME} (enforce)`);
  });

  step("fixed (booted with AppArmor on), the next up touches only the broken host and converges", async () => {
    const { bad: old } = vms();
    await old.stop();
    bad = await bootVm(old.image, { log });
    members = [members[0]!, { name: "bad", wave: 0, connection: vmConnection(bad) }];
    const run = await stack.up({ program: fleetProgram(members) });
    log(`up after the fix: ${secs(run.ms)}; ${changed(run).join("; ")}`);
    const touched = changed(run).map((c) => c.split(" ")[1]!);
    expect(touched.length).toBeGreaterThan(0);
    expect(touched.filter((n) => !n.startsWith("fleet-bad"))).toEqual([]);
    const att = run.outputs.attestations as Record<string, { ok: boolean; host: string }>;
    expect([att.good?.ok, att.bad?.ok, att.bad?.host]).toEqual([true, true, "pyj-bookworm"]);
    await stack.destroy();
  });

  step("waves: a failing canary in wave 0 leaves wave 1 untouched, also with --continue-on-error", async () => {
    const { good: g, bad: b } = vms();
    const goodBefore = await snapshot(g);
    const canary = { ...vmConnection(b), port: await freeLoopbackPort(), dialErrorLimit: 1, perDialTimeout: 2 };
    const waves = [{ name: "canary", wave: 0, connection: canary }, { name: "good", wave: 1, connection: vmConnection(g) }];
    const s = await newStack("waves");
    const run = await failingUp(s, waves, true);
    // The canary's line comes first. Measured with pulumi 3.248: the engine skips the wave-1 host (it depends on the
    // canary) and then also reports its container as "unknown provider '…fleet-good-docker…'" (the skipped provider);
    // gating only the profile instead made the skipped AppArmorProfile fail "cannot complete a resource … whose
    // registration isn't pending". Either way nothing reaches the wave-1 host, which is what is asserted below.
    expect(run.errors[0]?.name).toBe("fleet-canary-profile-provision");
    expect(run.errors.map((e) => e.name)).toContain("fleet-canary-profile-provision");
    expect(run.steps.filter((x) => x.name.startsWith("fleet-good-") && /command:|docker:index/.test(x.type))).toEqual([]);
    expect(await snapshot(g)).toBe(goodBefore);
  });
});
