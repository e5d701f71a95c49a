// The lifecycle of the ROOT PROGRAM against a real target host, per distro, like Molecule:
// converge -> idempotence -> change -> posture -> reboot -> destroy. The program runs in-process through
// the provider emulator (test/emulator), which performs the command and docker providers' work on the VM.
//
//   flock /tmp/pyj-vm.lock npx vitest run --project integration test/integration/lifecycle.test.ts
//   PYJOULES_DISTROS=trixie ...   (only some distros; default: trixie then bookworm)
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stackProgram } from "../../components/stack";
import { attestCommand } from "../../profiles/commands";
import { renderDockerDefault, renderPyJoulesProfile, sha256Hex } from "../../profiles/render";
import { Emulator, type RunResult } from "../emulator";
import { clientUnderBaselineCommand, energyIncreasing, parseBaselineRun, parseClientSamples, type ClientSample } from "../posture/client";
import { RAPL_ENERGY } from "../posture/probes";
import { CONTAINER_NAME, emulatorConfig, NAMES, PROFILE_NAME, PROJECT, secs, type FleetOptions } from "../posture/fleet";
import { loadProfile, MOBY_BASELINE_PROFILE, runMatrix, unloadProfile, writePostureDoc } from "../posture/matrix";
import { bootVm, ensureImage, tailLines, type Distro, type Vm } from "../vm";

const ALL: readonly Distro[] = ["trixie", "bookworm"];
const wanted = (process.env.PYJOULES_DISTROS ?? ALL.join(",")).split(",").map((s) => s.trim());
const EXTRA_RO = "/tmp/pyjoules-ro";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

for (const distro of ALL) {
  describe.skipIf(!wanted.includes(distro))(`lifecycle of the root program: ${distro}`, () => {
    let vm: Vm | undefined;
    let emu: Emulator;
    let tmp: string;
    let failed = false;
    const timings: Array<[string, number]> = [];
    const log = (s: string) => console.log(`[lifecycle ${distro}] ${s}`);

    const get = (): Vm => {
      if (!vm) throw new Error("VM did not boot");
      return vm;
    };
    const sh = async (cmd: string, stdin?: string) => (await get().ssh(cmd, { stdin })).stdout;
    const shTry = (cmd: string) => get().ssh(cmd, { allowFail: true });
    const run = (o: FleetOptions = {}) =>
      emu.run(() => stackProgram(new pulumi.Config()), { project: PROJECT, stack: distro, config: emulatorConfig(get(), o) });
    const changed = (r: RunResult) => r.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}${s.changedKeys ? ` [${s.changedKeys.join(",")}]` : ""}`);
    const remoteCommands = (r: RunResult) => Object.values(r.perHost).reduce((n, h) => n + h.remoteCommands, 0);
    const containerId = async () => (await sh(`docker inspect -f '{{.Id}}' ${CONTAINER_NAME}`)).trim();
    /** The client's pyJoules samples, waiting (bounded) until there are at least `min`. */
    const clientSamples = async (min: number) => {
      let samples: ClientSample[] = [];
      for (let i = 0; i < 60 && samples.length < min; i++) {
        samples = parseClientSamples(await sh(`docker logs ${CONTAINER_NAME} 2>&1 | tail -n 50`));
        if (samples.length < min) await sleep(2000);
      }
      return samples;
    };

    /** One lifecycle step: timed; after a failure the later steps fail fast (they depend on it). */
    const step = (name: string, fn: () => Promise<void>) =>
      it(name, async () => {
        if (failed) throw new Error(`not run: an earlier step of ${distro} failed`);
        const t0 = Date.now();
        try {
          await fn();
        } catch (e) {
          failed = true;
          throw e;
        } finally {
          timings.push([name, Date.now() - t0]);
          log(`${name}: ${secs(Date.now() - t0)}`);
        }
      });

    beforeAll(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), `pyj-lifecycle-${distro}-`));
      emu = new Emulator({ stateFile: path.join(tmp, "state.json"), log: (l) => log(`[emulator] ${l}`) });
      const t0 = Date.now();
      const image = await ensureImage(distro);
      vm = await bootVm(image, { log });
      timings.push(["boot (image + qemu + ssh + docker)", Date.now() - t0]);
      log(`boot: ssh ${secs(vm.bootTimings.sshMs)}, docker ${secs(vm.bootTimings.dockerMs)}, total ${secs(Date.now() - t0)}`);
    });

    afterAll(async () => {
      if (failed && vm) {
        console.log(`[lifecycle ${distro}] a step failed; guest serial log tail (${vm.serialLogPath}):\n${tailLines(vm.serialLog(), 80)}`);
        const j = await vm.ssh("sudo -n journalctl -b --no-pager -n 60 -u docker -u 'pyjoules-apparmor@*' 2>&1; sudo -n dmesg | grep -i apparmor | tail -n 20", { allowFail: true, timeoutMs: 30_000 }).catch(() => undefined);
        if (j) console.log(`[lifecycle ${distro}] guest journal/dmesg:\n${j.stdout}${j.stderr}`);
      }
      await vm?.stop();
      log(`timings:\n${timings.map(([n, ms]) => `  ${n.padEnd(40)} ${secs(ms)}`).join("\n")}`);
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    step("1 converge: profile verified in enforce mode, attested, the client reads RAPL", async () => {
      const r = await run();
      log(`converge steps: ${changed(r).join("; ")}; per host ${JSON.stringify(r.perHost)}`);
      const vp = (r.outputs.verifiedProfiles as Record<string, Record<string, unknown>>).vm!;
      const att = (r.outputs.attestations as Record<string, Record<string, unknown>>).vm!;
      log(`verifiedProfile ${JSON.stringify(vp)}`);
      log(`attestation ${JSON.stringify(att)}`);
      expect(vp).toMatchObject({ name: PROFILE_NAME, mode: "enforce", sha256: sha256Hex(renderPyJoulesProfile()), path: `/etc/apparmor.d/containers/${PROFILE_NAME}` });
      expect((await sh(`sudo -n sha256sum /etc/apparmor.d/containers/${PROFILE_NAME}`)).split(" ")[0]).toBe(vp.sha256);
      expect(att).toMatchObject({ ok: true, running: true, apparmorProfile: PROFILE_NAME, procAttrCurrent: `${PROFILE_NAME} (enforce)`, raplReadable: true, raplEnergyIncreasing: true, raplZone: "intel-rapl:0", privileged: false, addedCapabilities: 0, profileSha256: vp.sha256 });
      expect((await sh(`docker exec ${CONTAINER_NAME} cat ${RAPL_ENERGY}`)).trim()).toMatch(/^\d+$/);
      // the client itself is the real pyJoules library: its log shows samples with rising energy
      const samples = await clientSamples(3);
      log(`pyJoules samples: ${JSON.stringify(samples.slice(-3))}`);
      expect(energyIncreasing(samples, "package_0", 3)).toBe(true);
    });

    step("1b denials: the client produces none; a read of /proc/keys under the profile is reported", async () => {
      const attest = async () => JSON.parse((await get().ssh(attestCommand(PROFILE_NAME, CONTAINER_NAME, true))).stdout) as { ok: boolean; denials: { count: number; first: { operation: string; name: string }[]; sources: string } };
      const clean = await attest();
      log(`denials before: ${JSON.stringify(clean.denials)}`);
      expect(clean.ok).toBe(true);
      expect(clean.denials.count).toBe(0);
      const keys = await shTry(`docker exec ${CONTAINER_NAME} cat /proc/keys`);
      expect(keys.code).not.toBe(0);
      expect(keys.stderr + keys.stdout).toMatch(/permission denied/i);
      let after = clean;
      for (let i = 0; i < 10 && after.denials.count === 0; i++) {
        await sleep(1000); // the kernel log reaches the journal asynchronously
        after = await attest();
      }
      log(`denials after reading /proc/keys: ${JSON.stringify(after.denials)}`);
      expect(after.denials.count).toBeGreaterThanOrEqual(1);
      expect(after.denials.first).toContainEqual(expect.objectContaining({ name: "/proc/keys" }));
    });

    step("2 idempotence: a second run executes zero remote commands and changes nothing", async () => {
      const r = await run();
      expect(changed(r)).toEqual([]);
      expect(r.steps.every((s) => s.op === "same")).toBe(true);
      expect(remoteCommands(r)).toBe(0);
      expect(r.perHost).toEqual({});
    });

    step("3a change a client setting: only the container (and its attestation) change", async () => {
      const before = await containerId();
      const r = await run({ client: { logLevel: "DEBUG" } });
      log(`client change: ${changed(r).join("; ")}`);
      const ops = r.steps.filter((s) => s.op !== "same");
      expect(ops.map((s) => s.name).sort()).toEqual([NAMES.attest, NAMES.container].sort());
      expect(ops.find((s) => s.name === NAMES.container)).toMatchObject({ op: "replace", changedKeys: ["envs"] });
      expect(r.steps.find((s) => s.name === NAMES.provision)?.op).toBe("same");
      expect(await containerId()).not.toBe(before);
      expect(await sh(`docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' ${CONTAINER_NAME}`)).toContain("LOG_LEVEL=DEBUG");
      expect((r.outputs.attestations as Record<string, { ok: boolean }>).vm!.ok).toBe(true);
      const again = await run({ client: { logLevel: "DEBUG" } });
      expect(changed(again)).toEqual([]);
      expect(remoteCommands(again)).toBe(0);
    });

    step("3b change the profile (one extra read-only path): only provisioning runs, same container, new rule in force", async () => {
      const before = await containerId();
      // before: the path is an ordinary writable directory inside the container
      await sh(`docker exec ${CONTAINER_NAME} sh -c 'mkdir -p ${EXTRA_RO} && echo before > ${EXTRA_RO}/before'`);
      const profile = { extraReadPaths: [`${EXTRA_RO}/**`] };
      const r = await run({ client: { logLevel: "DEBUG" }, profile });
      log(`profile change: ${changed(r).join("; ")}; per host ${JSON.stringify(r.perHost)}`);
      // the profile is reloaded under the running container, and the container is attested again
      expect(changed(r).sort()).toEqual([`replace ${NAMES.attest} [triggers]`, `update ${NAMES.provision} [stdin]`]);
      const vp = (r.outputs.verifiedProfiles as Record<string, { sha256: string }>).vm!;
      expect(vp.sha256).toBe(sha256Hex(renderPyJoulesProfile(profile)));
      const att = (r.outputs.attestations as Record<string, { ok: boolean; profileSha256: string }>).vm!;
      expect(att).toMatchObject({ ok: true, profileSha256: vp.sha256 });
      expect(await containerId()).toBe(before);
      const w = await shTry(`docker exec ${CONTAINER_NAME} sh -c 'echo after > ${EXTRA_RO}/after'`);
      expect(w.code).not.toBe(0);
      expect(w.stderr + w.stdout).toMatch(/permission denied/i);
      expect((await sh(`docker exec ${CONTAINER_NAME} cat ${EXTRA_RO}/before`)).trim()).toBe("before");
      const again = await run({ client: { logLevel: "DEBUG" }, profile });
      expect(changed(again)).toEqual([]);
      expect(remoteCommands(again)).toBe(0);
    });

    step("4 posture: ours differs from docker-default only in reading powercap", async () => {
      const m = await runMatrix((c, stdin) => sh(c, stdin), {
        distro,
        ourContainer: CONTAINER_NAME,
        baselineProfile: distro === "bookworm" ? MOBY_BASELINE_PROFILE : undefined,
      });
      writePostureDoc(m);
      const { rows, cols } = m;
      const line = (i: number) =>
        `  ${rows[i]!.id.padEnd(58)} ${[cols.baseline, cols.seed, cols.ours].map((c) => `${c.results[i]!.outcome}(${c.results[i]!.detail})`.padEnd(34)).join(" ")}`;
      log(`posture matrix (baseline | seed | ours), profiles ${JSON.stringify(m.labels)}:\n${rows.map((_, i) => line(i)).join("\n")}`);
      log(`absent on this kernel: ${rows.filter((_, i) => cols.ours.results[i]!.outcome === "absent").map((r) => r.path).join(", ") || "none"}`);
      log(`seed vs baseline: ${m.seedVsBaseline.map((p) => p.id).join("; ") || "none"}`);
      log(`ours vs baseline: ${m.oursVsBaseline.map((p) => p.id).join("; ") || "none"}`);

      expect(m.labels.baseline).toBe(`${distro === "bookworm" ? MOBY_BASELINE_PROFILE : "docker-default"} (enforce)`);
      expect(m.labels.ours).toBe(`${PROFILE_NAME} (enforce)`);
      const energy = rows.findIndex((r) => r.kind === "read" && r.path === RAPL_ENERGY);
      expect(cols.ours.results[energy]!.outcome).toBe("exposed");
      expect(cols.baseline.results[energy]!.outcome).toBe("blocked");
      // Every difference is a powercap read, or ours is stricter where this Docker release does not yet
      // mask a path that current moby masks (e.g. /proc/interrupts before Docker 28).
      const allowed = (p: (typeof rows)[number]) => {
        const i = rows.indexOf(p);
        if (p.powercapRead) return true;
        return cols.baseline.results[i]!.outcome === "exposed" && cols.ours.results[i]!.outcome === "blocked";
      };
      const unexpected = m.oursVsBaseline.filter((p) => !allowed(p)).map((p) => p.id);
      expect(unexpected).toEqual([]);
      const stricter = m.oursVsBaseline.filter((p) => !p.powercapRead).map((p) => p.id);
      if (stricter.length) log(`ours is stricter than this Docker's defaults on: ${stricter.join("; ")}`);
      // nothing is exposed or writable in ours except the powercap reads
      rows.forEach((r, i) => {
        if (!r.powercapRead) expect([r.id, cols.ours.results[i]!.outcome]).not.toEqual([r.id, expect.stringMatching(/exposed|written/)]);
      });
    });

    step("4b the same pyJoules image under Docker's default confinement cannot read RAPL", async () => {
      // bookworm's Docker 20.10 neither masks nor denies powercap; current moby's docker-default does.
      const baseline = distro === "bookworm" ? MOBY_BASELINE_PROFILE : undefined;
      if (baseline) await loadProfile(sh, renderDockerDefault({ name: baseline }));
      try {
        const r = parseBaselineRun(await sh(clientUnderBaselineCommand(baseline)));
        log(`pyJoules under ${baseline ?? "docker-default"}: exit ${r.exit}: ${r.log.split("\n").slice(-2).join(" | ")}`);
        expect(parseClientSamples(r.log)).toEqual([]);
        expect([1, 2]).toContain(r.exit);
        expect(r.log).toMatch(/pyjoules-client: (no RAPL domain found|cannot read RAPL)/);
      } finally {
        if (baseline) await unloadProfile(sh, baseline);
      }
      // ...while ours, still running, keeps sampling
      expect(energyIncreasing(await clientSamples(2), "package_0")).toBe(true);
    });

    step("5 reboot: the profile is loaded before docker starts and the container runs again", async () => {
      const t0 = Date.now();
      await get().reboot();
      log(`reboot: ssh ${secs(get().bootTimings.sshMs)}, docker ${secs(get().bootTimings.dockerMs)}, total ${secs(Date.now() - t0)}`);
      expect((await sh("sudo -n cat /sys/kernel/security/apparmor/profiles")).split("\n")).toContain(`${PROFILE_NAME} (enforce)`);
      expect((await shTry(`systemctl is-active pyjoules-apparmor@${PROFILE_NAME}`)).stdout.trim()).toBe("active");
      const mono = async (unit: string, prop: string) =>
        Number((await sh(`systemctl show -p ${prop} --value ${unit}`)).trim());
      const loaderUp = await mono(`pyjoules-apparmor@${PROFILE_NAME}`, "ActiveEnterTimestampMonotonic");
      const dockerStart = await mono("docker.service", "InactiveExitTimestampMonotonic");
      log(`loader active at ${(loaderUp / 1e6).toFixed(2)} s, docker.service started at ${(dockerStart / 1e6).toFixed(2)} s (monotonic)`);
      expect(loaderUp).toBeGreaterThan(0);
      expect(loaderUp).toBeLessThanOrEqual(dockerStart);
      let state = "";
      for (let i = 0; i < 90 && state !== "true"; i++) {
        state = (await shTry(`docker inspect -f '{{.State.Running}}' ${CONTAINER_NAME}`)).stdout.trim();
        if (state !== "true") await sleep(2000);
      }
      expect(state).toBe("true");
      expect((await sh(`docker exec ${CONTAINER_NAME} cat /proc/1/attr/current`)).trim()).toBe(`${PROFILE_NAME} (enforce)`);
      expect((await sh(`docker exec ${CONTAINER_NAME} cat ${RAPL_ENERGY}`)).trim()).toMatch(/^\d+$/);
      // the profile loaded at boot is the changed one
      const w = await shTry(`docker exec ${CONTAINER_NAME} sh -c 'mkdir -p ${EXTRA_RO}; echo x > ${EXTRA_RO}/x'`);
      expect(w.code).not.toBe(0);
    });

    step("6 destroy: no container, no loader, profile unloaded, file gone", async () => {
      const r = await emu.destroy();
      log(`destroy: ${changed(r).join("; ")}`);
      expect((await sh(`docker ps -aq --filter name=^/${CONTAINER_NAME}$`)).trim()).toBe("");
      expect((await shTry(`systemctl is-enabled pyjoules-apparmor@${PROFILE_NAME}`)).stdout.trim()).not.toBe("enabled");
      expect((await shTry("test -e /etc/systemd/system/pyjoules-apparmor@.service")).code).not.toBe(0);
      expect((await sh("sudo -n cat /sys/kernel/security/apparmor/profiles")).split("\n").filter((l) => l.startsWith(`${PROFILE_NAME} (`))).toEqual([]);
      expect((await shTry(`sudo -n test -e /etc/apparmor.d/containers/${PROFILE_NAME}`)).code).not.toBe(0);
    });
  });
}
