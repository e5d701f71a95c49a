// The root program exactly as a user runs it in a checkout: `pulumi preview` / `pulumi up` / `pulumi destroy` of
// the project directory (Pulumi.yaml, index.ts), through pulumi-language-nodejs and ts-node, against a Debian 13
// VM. Also: a stack without `hosts` is a user error, reported as one line naming the key, not a crash.
import { afterAll, beforeAll, describe, expect } from "vitest";
import { changed, EngineRunError, EngineStack, errorLines, requireEngine, rootProjectDir } from "../engine";
import { CONTAINER_NAME, PROFILE_NAME, plainConfig, PROJECT, secretConfig, secs } from "../posture/fleet";
import { bootVm, ensureImage, tailLines, type Vm } from "../vm";
import { suiteSteps } from "./steps";

const log = (s: string) => console.log(`[root-program] ${s}`);

describe("the root program through pulumi-language-nodejs (trixie)", () => {
  let vm: Vm | undefined;
  let stack: EngineStack | undefined;
  let project: ReturnType<typeof rootProjectDir> | undefined;
  const { step, failed } = suiteSteps();

  beforeAll(async () => {
    log(`engine: ${requireEngine(log)}`);
    project = rootProjectDir();
    stack = await EngineStack.create({ project: PROJECT, stack: "root", workDir: project.dir });
  });
  afterAll(async () => {
    if (failed() && vm) console.log(`[root-program] serial log tail:\n${tailLines(vm.serialLog(), 60)}`);
    await stack?.cleanup();
    project?.cleanup();
    await vm?.stop();
  });

  step("no hosts in the stack config: one line naming pulumi-pyjoules:hosts and Pulumi.example.yaml, no stack trace", async () => {
      const err = await stack!.preview().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(EngineRunError);
      const printed = errorLines((err as EngineRunError).run).join("\n");
      log(`pulumi preview printed the error:\n  ${printed}\nand its output's tail:\n${tailLines((err as EngineRunError).run.output, 12)}`);
      expect(printed).toContain("invalid pulumi-pyjoules:hosts: Invalid input: expected array, received undefined");
      expect(printed).toContain("Pulumi.example.yaml");
      expect(printed).not.toMatch(/^\s+at /m);
      expect(printed).not.toMatch(/validate\.ts|ts-node|node:internal/);
    });

  step("a malformed remoteWriteUrl, plain or the secret key, is refused before anything runs: one line, the value not shown", async () => {
      const hosts = [{ name: "vm", host: "10.0.0.7", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvbS6YQ5WlM3LL+7xcF8tJ0cPq3+1bc8cF7mQX9yHcd" }];
      const key = { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAROOT-TEST-ONLY\n-----END OPENSSH PRIVATE KEY-----\n" };
      const cases: Array<[string, Record<string, unknown>, Record<string, string>, string]> = [
        ["plain", { hosts, client: { remoteWriteUrl: "ftp://user:bad-PLAIN@prom.example.com/w" } }, key, "invalid pulumi-pyjoules:client.remoteWriteUrl: must be an http(s) URL"],
        ["secret", { hosts }, { ...key, remoteWriteUrl: "ftp://user:bad-SECRET@prom.example.com/w" }, 'PyJoulesHost "pyjoules-vm": invalid client.remoteWriteUrl: must be an http(s) URL'],
      ];
      for (const [what, plain, secrets, message] of cases) {
        await stack!.setConfig(plain, secrets);
        const err = await stack!.preview().then(() => undefined, (e: unknown) => e);
        expect(err, what).toBeInstanceOf(EngineRunError);
        const run = (err as EngineRunError).run;
        const printed = errorLines(run).join("\n");
        log(`${what} remoteWriteUrl "ftp://…": pulumi preview printed:\n  ${printed}`);
        expect(printed).toContain(message);
        expect(printed + run.output).not.toMatch(/bad-(PLAIN|SECRET)/);
        expect(printed).not.toMatch(/^\s+at /m);
        expect(run.steps.filter((x) => x.type.startsWith("command:") || x.type.startsWith("docker:"))).toEqual([]);
      }
    });

  step("pulumi up converges, preview --diff is clean, destroy leaves the host clean", async () => {
      vm = await bootVm(await ensureImage("trixie"), { log });
      await stack!.setConfig(plainConfig(vm), secretConfig(vm));
      const up = await stack!.up();
      log(`up: ${secs(up.ms)} ${JSON.stringify(up.changes)}`);
      const att = (up.outputs.attestations as Record<string, { ok: boolean; procAttrCurrent: string }>).vm!;
      expect(att).toMatchObject({ ok: true, procAttrCurrent: `${PROFILE_NAME} (enforce)` });
      const preview = await stack!.preview({ diff: true });
      log(`preview --diff: ${secs(preview.ms)} ${JSON.stringify(preview.changes)}`);
      expect(changed(preview)).toEqual([]);
      const destroy = await stack!.destroy();
      log(`destroy: ${secs(destroy.ms)} ${JSON.stringify(destroy.changes)}`);
      expect((await vm.ssh(`docker ps -aq --filter name=^/${CONTAINER_NAME}$`)).stdout.trim()).toBe("");
      expect((await vm.ssh("sudo -n cat /sys/kernel/security/apparmor/profiles")).stdout).not.toContain(`${PROFILE_NAME} (`);
    });
});
