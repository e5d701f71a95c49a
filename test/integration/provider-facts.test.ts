// What the real docker provider (pulumi-resource-docker, Terraform-bridged kreuzwerker) does with the inputs
// the components rely on, measured against a Debian 13 VM through the real engine, one docker.Container at a
// time (no components): does `securityOpts` with `systempaths=unconfined` diff on the second run without
// `ignoreChanges` (and after a refresh), is the replacement of a fixed-name container delete-first (with and
// without the deleteBeforeReplace option), and how many SSH connections
// does the docker provider open per operation (guest sshd log). The answers are printed for the README.
import * as docker from "@pulumi/docker";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { dockerHostUrl, dockerSshOpts } from "../../components/dockerSsh";
import { changed, EngineRunError, EngineStack, replaceSequence, requireEngine, type EngineRun } from "../engine";
import { suiteSteps } from "./steps";
import { bootVm, ensureImage, sshdConnectionsSince, sshdDebugLogging, sshdMark, tailLines, TEST_CLIENT_IMAGE, type SshdConnections, type Vm } from "../vm";

const NAME = "pyj-provider-facts";
const IDLE = ["/bin/sh", "-c", "while :; do sleep 5; done"];
const OPTS = ["apparmor=docker-default", "systempaths=unconfined"];
const log = (s: string) => console.log(`[provider-facts] ${s}`);

interface Variant {
  env: string;
  ignoreSecurityOpts: boolean;
  deleteBeforeReplace?: boolean;
}

describe("the real docker provider, one container on a Debian 13 VM", () => {
  let vm: Vm;
  const stacks: EngineStack[] = [];
  const facts: string[] = [];

  const program = (v: Variant) => async () => {
    const provider = new docker.Provider("vm", {
      host: dockerHostUrl(vm.user, vm.host, vm.port),
      sshOpts: dockerSshOpts({ hostKey: vm.image.hostKey, identityFile: vm.image.userKeyPath }),
      disableDockerDaemonCheck: true,
    });
    const c = new docker.Container(
      "ctr",
      { name: NAME, image: TEST_CLIENT_IMAGE, command: IDLE, envs: [`PYJ=${v.env}`], securityOpts: OPTS, restart: "unless-stopped" },
      { provider, ignoreChanges: v.ignoreSecurityOpts ? ["securityOpts"] : [], deleteBeforeReplace: v.deleteBeforeReplace },
    );
    return { id: c.id, securityOpts: c.securityOpts };
  };
  /** Runs `op` and counts the SSH connections it opened on the guest. */
  const counted = async (what: string, op: () => Promise<EngineRun>) => {
    const mark = await sshdMark(vm);
    const r = await op();
    const ssh: SshdConnections = await sshdConnectionsSince(vm, mark);
    log(`${what}: ${(r.ms / 1000).toFixed(1)} s, steps ${JSON.stringify(changed(r))}, ssh ${JSON.stringify(ssh)}`);
    return { r, ssh };
  };
  const newStack = async (name: string, v: Variant) => {
    const s = await EngineStack.create({ project: "pyj-provider-facts", stack: name, program: program(v) });
    stacks.push(s);
    return s;
  };
  const ids = async () => (await vm.ssh(`docker ps -aq --no-trunc --filter name=^/${NAME}$`)).stdout.trim();

  // Each measurement starts from a host without the container: whatever one leaves behind is removed.
  const { step, failed } = suiteSteps({ after: () => vm.ssh(`docker rm -f ${NAME} >/dev/null 2>&1 || true`, { allowFail: true }) });

  beforeAll(async () => {
    requireEngine(log);
    vm = await bootVm(await ensureImage("trixie"), { log });
    await sshdDebugLogging(vm);
  });
  afterAll(async () => {
    if (failed() && vm) console.log(`[provider-facts] serial log tail:\n${tailLines(vm.serialLog(), 60)}`);
    for (const s of stacks) await s.cleanup();
    await vm?.stop();
    console.log(`\n[provider-facts] measured:\n  ${facts.join("\n  ")}`);
  });

  step("securityOpts with systempaths=unconfined, no ignoreChanges: what the second run does", async () => {
    const s = await newStack("no-ignore", { env: "a", ignoreSecurityOpts: false });
    const create = await counted("create", () => s.up());
    const readBack = (create.r.outputs.securityOpts as string[] | undefined) ?? [];
    facts.push(`securityOpts read back after create: ${JSON.stringify(readBack)} (inputs ${JSON.stringify(OPTS)})`);
    facts.push(`SSH connections, create one container: ${JSON.stringify(create.ssh.byClient)}`);
    expect(create.ssh.byClient).toEqual({ OpenSSH: 1 });
    const preview = await counted("preview --diff", () => s.preview({ diff: true }));
    const second = await counted("second up", () => s.up());
    facts.push(`second run without ignoreChanges: preview ${JSON.stringify(changed(preview.r))}, up ${JSON.stringify(changed(second.r))}`);
    facts.push(`SSH connections: preview ${JSON.stringify(preview.ssh.byClient)}, second up ${JSON.stringify(second.ssh.byClient)}`);
    const hc = JSON.parse((await vm.ssh(`docker inspect -f '{{json .HostConfig}}' ${NAME}`)).stdout) as { SecurityOpt: string[]; MaskedPaths: string[]; ReadonlyPaths: string[] };
    facts.push(`daemon HostConfig: SecurityOpt ${JSON.stringify(hc.SecurityOpt)}, MaskedPaths ${JSON.stringify(hc.MaskedPaths)}, ReadonlyPaths ${JSON.stringify(hc.ReadonlyPaths)}`);
    expect(hc.SecurityOpt).toEqual(["apparmor=docker-default"]);
    expect([hc.MaskedPaths, hc.ReadonlyPaths]).toEqual([[], []]);
    // measured: the provider keeps the inputs as read back, so nothing diffs (the components need no ignoreChanges)
    expect(readBack).toEqual(OPTS);
    expect([changed(preview.r), changed(second.r), second.ssh.total]).toEqual([[], [], 0]);
    // and after a refresh, which reads the container back from the daemon (SecurityOpt holds only apparmor=)?
    const refresh = await counted("refresh", () => s.refresh());
    const afterRefresh = await counted("preview after refresh", () => s.preview({ diff: true }));
    const up3 = await counted("up after refresh", () => s.up());
    facts.push(
      `refresh, no ignoreChanges: ${JSON.stringify(refresh.r.changes)}; then preview ${JSON.stringify(changed(afterRefresh.r))}, ` +
        `up ${JSON.stringify(changed(up3.r))} (engine order ${replaceSequence(up3.r, "ctr").join(" -> ")}); SSH refresh ${JSON.stringify(refresh.ssh.byClient)}`,
    );
    // measured: the refresh stores the daemon's SecurityOpt (no systempaths), so the next run replaces the
    // container for nothing. This is why the components keep ignoreChanges: ["securityOpts"].
    expect([changed(afterRefresh.r), changed(up3.r)]).toEqual([["replace ctr [securityOpts]"], ["replace ctr [securityOpts]"]]);
    await counted("destroy", () => s.destroy());
    expect(await ids()).toBe("");
  });

  step("with ignoreChanges: [securityOpts] the second run and a refresh are no-ops", async () => {
    const s = await newStack("ignore", { env: "a", ignoreSecurityOpts: true });
    await counted("create", () => s.up());
    const second = await counted("second up", () => s.up({ expectNoChanges: true }));
    expect(changed(second.r)).toEqual([]);
    expect(second.ssh.total).toBe(0);
    const refresh = await counted("refresh", () => s.refresh());
    facts.push(`refresh of an unchanged container (ignoreChanges): ${JSON.stringify(refresh.r.changes)}, SSH ${JSON.stringify(refresh.ssh.byClient)}`);
    expect(Object.keys(refresh.r.changes).filter((k) => k !== "same")).toEqual([]);
    const after = await counted("preview after refresh", () => s.preview({ diff: true }));
    facts.push(`preview after refresh: ${JSON.stringify(changed(after.r))}`);
    expect(changed(after.r)).toEqual([]);
    await s.destroy();
  });

  step("replacing a fixed-name container: engine order with and without deleteBeforeReplace", async () => {
    for (const dbr of [true, false]) {
      const s = await newStack(dbr ? "dbr" : "no-dbr", { env: "a", ignoreSecurityOpts: true, deleteBeforeReplace: dbr });
      await s.up();
      const before = await ids();
      const replaced = await counted(`replace (deleteBeforeReplace ${dbr})`, () =>
        s.up({ program: program({ env: "b", ignoreSecurityOpts: true, deleteBeforeReplace: dbr }) }).catch((e: unknown) => {
          if (e instanceof EngineRunError) return e.run;
          throw e;
        }),
      );
      const seq = replaceSequence(replaced.r, "ctr");
      const after = await ids();
      facts.push(
        `env change, deleteBeforeReplace ${dbr}: engine order ${seq.join(" -> ")}; ${replaced.r.errors.length ? `failed: ${replaced.r.errors.map((e) => e.message.split("\n")[0]).join(" | ")}` : "ok"}; container ${after && after !== before ? "replaced" : "not replaced"}; SSH ${JSON.stringify(replaced.ssh.byClient)}`,
      );
      if (dbr) {
        expect(seq.indexOf("delete-replaced")).toBeLessThan(seq.indexOf("create-replacement"));
        expect(after).not.toBe(before);
      } else {
        // measured: create-first for an env change (pulumi-docker's DeleteBeforeReplace in its ResourceInfo does
        // not make it delete-first here): the new container cannot take the name; the old one stays, the run fails
        expect(seq[0]).toBe("create-replacement");
        expect(replaced.r.errors.map((e) => e.message).join("\n")).toMatch(/is already in use/);
        expect(after).toBe(before);
      }
      expect(replaced.ssh.byClient).toEqual({ OpenSSH: 1 });
      const destroy = await counted("destroy", () => s.destroy());
      facts.push(`SSH connections, delete one container: ${JSON.stringify(destroy.ssh.byClient)}`);
      expect(destroy.ssh.byClient).toEqual({ OpenSSH: 1 });
      expect(await ids()).toBe("");
    }
  });
});
