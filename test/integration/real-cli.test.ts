// Opt-in: the same converge / idempotence / destroy as lifecycle.test.ts, but through the REAL Pulumi
// CLI and plugins (Automation API, inline program = the root program, local file backend in a temp dir)
// against a booted Debian 13 VM. Runs only when `pulumi` is on PATH and `pulumi plugin ls` lists the
// command and docker resource plugins; otherwise it is reported as skipped (never as passed), with why.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderPyJoulesProfile, sha256Hex } from "../../profiles/render";
import { cliStack, realCliUnavailable, type CliStack } from "../posture/cli";
import { CONTAINER_NAME, PROFILE_NAME, secs } from "../posture/fleet";
import { RAPL_ENERGY } from "../posture/probes";
import { bootVm, ensureImage, tailLines, type Vm } from "../vm";

const why = realCliUnavailable();
if (why) console.log(`[real-cli] SKIPPED: ${why}. The same lifecycle runs through the provider emulator in lifecycle.test.ts.`);

describe("lifecycle through the real Pulumi CLI (trixie)", () => {
  let vm: Vm | undefined;
  let cli: CliStack | undefined;
  let failed = false;
  const log = (s: string) => console.log(`[real-cli] ${s}`);
  const get = () => {
    if (!vm) throw new Error("VM did not boot");
    return vm;
  };

  beforeAll(async () => {
    if (why) return;
    vm = await bootVm(await ensureImage("trixie"), { log });
    cli = await cliStack(vm, "trixie");
  });
  afterAll(async () => {
    if (failed && vm) console.log(`[real-cli] serial log tail:\n${tailLines(vm.serialLog(), 80)}`);
    await cli?.cleanup();
    await vm?.stop();
  });

  it.skipIf(!!why)("converge, idempotence, destroy", async () => {
    try {
      const { stack } = cli!;
      let t0 = Date.now();
      const up1 = await stack.up({ onOutput: (o) => process.stdout.write(o) });
      log(`converge: ${secs(Date.now() - t0)} ${JSON.stringify(up1.summary.resourceChanges)}`);
      const vp = (up1.outputs.verifiedProfiles!.value as Record<string, { mode: string; sha256: string }>).vm!;
      const att = (up1.outputs.attestations!.value as Record<string, { ok: boolean; raplReadable: boolean }>).vm!;
      expect(vp).toMatchObject({ mode: "enforce", sha256: sha256Hex(renderPyJoulesProfile()) });
      expect(att).toMatchObject({ ok: true, raplReadable: true });
      expect((await get().ssh(`docker exec ${CONTAINER_NAME} cat ${RAPL_ENERGY}`)).stdout.trim()).toMatch(/^\d+$/);

      t0 = Date.now();
      const preview = await stack.preview({ diff: true });
      const up2 = await stack.up();
      log(`idempotence: ${secs(Date.now() - t0)} preview ${JSON.stringify(preview.changeSummary)} up ${JSON.stringify(up2.summary.resourceChanges)}`);
      expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);
      expect(Object.keys(up2.summary.resourceChanges ?? {}).filter((k) => k !== "same")).toEqual([]);

      t0 = Date.now();
      await stack.destroy({ onOutput: (o) => process.stdout.write(o) });
      log(`destroy: ${secs(Date.now() - t0)}`);
      expect((await get().ssh(`docker ps -aq --filter name=^/${CONTAINER_NAME}$`)).stdout.trim()).toBe("");
      expect((await get().ssh("sudo -n cat /sys/kernel/security/apparmor/profiles")).stdout).not.toContain(`${PROFILE_NAME} (`);
      expect((await get().ssh(`sudo -n test -e /etc/apparmor.d/containers/${PROFILE_NAME}`, { allowFail: true })).code).not.toBe(0);
    } catch (e) {
      failed = true;
      throw e;
    }
  });
});
