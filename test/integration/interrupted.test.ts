// Interrupted runs through the real engine (Debian 13): `pulumi up` of the root program stopped by SIGINT (what
// Ctrl-C or the Automation API's abort sends the CLI) or SIGKILL (the CLI and its plugins, as when a CI runner or
// the machine dies) at the moment the engine starts the profile provision, the container create or the attestation.
// After each: never a container under a profile that is not loaded; what the engine left (lock, pending operations);
// and the steps that converge, which the README's reliability section lists.
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { changed, EngineRunError, errorLines, requireEngine, type EngineRun } from "../engine";
import { CONTAINER_NAME, fleetStack, NAMES, PROFILE_NAME, secs, type FleetStack } from "../posture/fleet";
import { bootVm, ensureImage, tailLines, type Vm } from "../vm";
import { suiteSteps } from "./steps";

const log = (s: string) => console.log(`[interrupted] ${s}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Pids of the `pulumi` CLI running `stack` and of everything it started (language host, plugins). */
function cliTree(stack: string): number[] {
  const procs = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map((d) => {
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      const ppid = Number(fs.readFileSync(`/proc/${d}/stat`, "utf8").replace(/^.*\) /, "").split(" ")[1]);
      return { pid: Number(d), ppid, argv };
    } catch {
      return undefined;
    }
  }).filter((p) => p !== undefined);
  const roots = procs.filter((p) => /(^|\/)pulumi$/.test(p.argv[0] ?? "") && p.argv.includes(stack)).map((p) => p.pid);
  const tree = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (tree.has(p.ppid) && !tree.has(p.pid)) tree.add(p.pid), (grew = true);
  }
  return [...tree];
}

const WORK_OPS = new Set(["create", "create-replacement", "update"]);

interface Interruption {
  signal: "SIGINT" | "SIGKILL";
  /** The resource whose step start triggers the signal. */
  at: string;
  /** Extra wait after the step started (the step is then under way on the host). */
  afterMs: number;
}

describe("interrupted pulumi up (Debian 13)", () => {
  let vm: Vm | undefined;
  let stack: FleetStack | undefined;
  const get = () => {
    if (!vm || !stack) throw new Error("the VM did not boot");
    return { vm, stack };
  };
  const findings: string[] = [];
  const { step, failed } = suiteSteps({ chained: true, done: (name, ms) => log(`${name}: ${secs(ms)}`) });

  beforeAll(async () => {
    requireEngine(log);
    vm = await bootVm(await ensureImage("trixie"), { log });
    stack = await fleetStack(vm, "interrupted");
  });
  afterAll(async () => {
    if (failed() && vm) console.log(`[interrupted] serial log tail:\n${tailLines(vm.serialLog(), 40)}`);
    log(`findings:\n  ${findings.join("\n  ")}`);
    await stack?.cleanup();
    await vm?.stop();
  });

  /** Never a container under a profile the kernel does not have loaded in enforce mode. */
  const assertNoUnverifiedContainer = async (what: string) => {
    const { vm } = get();
    const out = (await vm.ssh(
      `sudo -n sh -c 'grep -c "^${PROFILE_NAME} (enforce)$" /sys/kernel/security/apparmor/profiles; docker inspect -f "{{.State.Status}} {{.AppArmorProfile}}" ${CONTAINER_NAME} 2>/dev/null | grep . || echo none'`,
      { allowFail: true },
    )).stdout.trim().split("\n");
    const [loaded, container] = [out[0], out[1] ?? "none"];
    findings.push(`${what}: profile loaded ${loaded === "1" ? "yes" : "no"}; container: ${container}`);
    if (container !== "none") {
      expect(container.split(" ")[1], "a container exists only under the profile").toBe(PROFILE_NAME);
      expect(loaded, "a container exists only while the profile is loaded").toBe("1");
    }
  };

  /** Runs `up` and interrupts it when the engine starts a step of `at`; returns the failed run. */
  const interruptedUp = async (o: Interruption): Promise<EngineRun> => {
    const { stack } = get();
    const abort = new AbortController();
    let fired = false;
    const watch = (e: EngineEvent) => {
      const pre = e.resourcePreEvent?.metadata;
      // the step that does the work: not the delete half of a replacement (delete-replaced), which comes first
      if (fired || !pre || !pre.urn.endsWith(`::${o.at}`) || !WORK_OPS.has(pre.op)) return;
      fired = true;
      log(`${o.signal} ${o.afterMs} ms after the engine started "${pre.op} ${o.at}"`);
      void sleep(o.afterMs).then(() => {
        if (o.signal === "SIGINT") return abort.abort();
        const pids = cliTree(stack.stack.name);
        log(`SIGKILL to the CLI and its children: ${pids.length} processes`);
        for (const pid of pids) process.kill(pid, "SIGKILL");
      });
    };
    const err = await stack.up({ signal: abort.signal, watch }).then(() => undefined, (e: unknown) => e);
    expect(fired, `the run never started a step of ${o.at}`).toBe(true);
    expect(err, "the interrupted run should fail").toBeInstanceOf(EngineRunError);
    const run = (err as EngineRunError).run;
    const printed = run.output.split("\n").filter((l) => /cancel|interrupt|signal|killed|error/i.test(l)).slice(0, 6);
    findings.push(`${o.signal} at ${o.at}: pulumi printed ${JSON.stringify(printed)}; steps ${changed(run).join("; ")}`);
    return run;
  };

  /** What the engine left: the lock and the pending operations in the stack's state. */
  const leftBehind = async (what: string) => {
    const { stack } = get();
    const locks = fs.readdirSync(stack.stateDir, { recursive: true }).map(String).filter((f) => f.includes("locks/") && f.endsWith(".json"));
    const state = (await stack.stack.exportStack()) as { deployment?: { pending_operations?: Array<{ type: string; resource: { urn: string } }> } };
    const pending = (state.deployment?.pending_operations ?? []).map((p) => ({ type: p.type, urn: p.resource.urn, name: p.resource.urn.split("::").pop()! }));
    findings.push(`${what}: ${locks.length} lock file(s); pending operations: ${pending.map((p) => `${p.type} ${p.name}`).join(", ") || "none"}`);
    return { locks: locks.length, pending };
  };

  /**
   * The steps a user takes, as the README lists them: `pulumi cancel` when the run died holding the stack's lock;
   * `pulumi refresh --clear-pending-creates`; when the pending create was the container and the killed run had
   * created it (on the host, under the verified profile, but in no state), `docker rm -f` it on the host (measured:
   * `--import-pending-creates <urn> <id>` did not take, the next `up` still created it and failed on the name);
   * then `pulumi up`.
   */
  const converge = async (what: string) => {
    const { stack, vm } = get();
    const left = await leftBehind(what);
    if (left.locks) {
      const blocked = await stack.up().then(() => undefined, (e: unknown) => e as EngineRunError);
      expect(blocked?.message, "a run after a killed one meets the lock").toMatch(/currently locked/);
      findings.push(`${what}: next up printed ${JSON.stringify(blocked?.message.split("\n").find((l) => /locked/.test(l)))}`);
      await stack.stack.cancel();
    }
    if (left.pending.length) findings.push(`${what}: refresh --clear-pending-creates ${secs((await stack.refresh({ clearPendingCreates: true })).ms)}`);
    if (left.pending.some((p) => p.type === "creating" && p.name === NAMES.container)) {
      const orphan = (await vm.ssh(`docker inspect -f '{{.AppArmorProfile}}' ${CONTAINER_NAME} 2>/dev/null`, { allowFail: true })).stdout.trim();
      findings.push(`${what}: the killed create left a container in no state: ${orphan ? `yes, under ${orphan}; docker rm -f` : "no"}`);
      if (orphan) await vm.ssh(`docker rm -f ${CONTAINER_NAME} >/dev/null`);
    }
    const up = await stack.up().catch((e: unknown) => {
      if (e instanceof EngineRunError) findings.push(`${what}: up after the steps failed: ${errorLines(e.run).join(" | ")}`);
      throw e;
    });
    findings.push(`${what}: up converged in ${secs(up.ms)}; ${changed(up).join("; ")}`);
    const att = (up.outputs.attestations as Record<string, { ok: boolean }>).vm;
    expect(att?.ok).toBe(true);
    await assertNoUnverifiedContainer(`${what}, converged`);
  };

  const kase = (signal: Interruption["signal"], at: string, afterMs: number, change: Record<string, unknown>, label: string) =>
    step(`${signal} during ${label}: the host stays safe, the listed steps converge`, async () => {
      const { stack } = get();
      await stack.setFleet(change);
      await interruptedUp({ signal, at, afterMs });
      await assertNoUnverifiedContainer(`${signal} during ${label}`);
      await converge(`${signal} during ${label}`);
    });

  // Each case changes something so that the step it interrupts runs: a new client env replaces the container
  // (and so re-attests); a new read path re-provisions the profile.
  kase("SIGKILL", NAMES.provision, 3000, {}, "the first provision");
  kase("SIGINT", NAMES.container, 1500, { client: { env: { HOST_LABEL: "vm", CASE: "2" } } }, "the container create");
  kase("SIGKILL", NAMES.container, 1500, { client: { env: { HOST_LABEL: "vm", CASE: "3" } } }, "the container create");
  kase("SIGINT", NAMES.attest, 3000, { client: { env: { HOST_LABEL: "vm", CASE: "4" } } }, "the attestation");
  kase("SIGKILL", NAMES.attest, 3000, { client: { env: { HOST_LABEL: "vm", CASE: "5" } } }, "the attestation");
  kase("SIGINT", NAMES.provision, 3000, { client: { env: { HOST_LABEL: "vm", CASE: "5" } }, profile: { extraReadPaths: ["/tmp/pyjoules-ro/**"] } }, "a profile change");

  step("two stacks against one host at once: both converge; destroying one keeps the profile the other's container needs", async () => {
    const { vm, stack: a } = get();
    const b = await fleetStack(vm, "second", { client: { containerName: "pyjoules-client-b" } });
    try {
      await a.setFleet({ client: { env: { HOST_LABEL: "vm", CASE: "6" } } });
      const [ra, rb] = await Promise.all([a.up(), b.up()]);
      findings.push(`two stacks at once: A ${secs(ra.ms)} (${changed(ra).join("; ")}), B ${secs(rb.ms)} (${changed(rb).join("; ")})`);
      for (const r of [ra, rb]) expect((r.outputs.attestations as Record<string, { ok: boolean }>).vm?.ok).toBe(true);
      const confined = async () => (await vm.ssh(`docker ps --format '{{.Names}}' | sort | xargs -r docker inspect -f '{{.Name}} {{.AppArmorProfile}}'`)).stdout.trim();
      expect(await confined()).toBe(`/pyjoules-client ${PROFILE_NAME}\n/pyjoules-client-b ${PROFILE_NAME}`);
      const d = await b.destroy();
      findings.push(`destroy of B while A runs: ${secs(d.ms)}; ${changed(d).join("; ")}`);
      expect(await confined()).toBe(`/pyjoules-client ${PROFILE_NAME}`);
      await assertNoUnverifiedContainer("after B's destroy");
      expect(await vm.ssh(`sudo -n grep -c '^${PROFILE_NAME} (enforce)$' /sys/kernel/security/apparmor/profiles`).then((r) => r.stdout.trim())).toBe("1");
    } finally {
      await b.cleanup();
    }
  });
});
