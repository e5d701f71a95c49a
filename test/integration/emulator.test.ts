// The provider emulator against a real VM (test/vm): remote.Command over OpenSSH and a docker
// Container through pulumi-docker's ssh:// transport (local ssh + the guest's docker dial-stdio).
import * as docker from "@pulumi/docker";
import { remote } from "@pulumi/command";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Emulator, type RunResult } from "../emulator";
import { bootVm, ensureImage, TEST_CLIENT_IMAGE, type Vm } from "../vm";

const PROJECT = "emu-it";
const STACK = "vm";
const NAME = "pyj-emulator-it";
/** These containers test the provider's inputs, not the client: no powercap mounts, so idle instead of pyJoules. */
const IDLE = ["/bin/sh", "-c", "while :; do sleep 5; done"];
const DISTRO = (process.env.PYJOULES_EMULATOR_DISTRO as "bookworm" | "trixie" | undefined) ?? "bookworm";

describe("emulator against a VM", () => {
  let vm: Vm;

  beforeAll(async () => {
    const image = await ensureImage(DISTRO);
    vm = await bootVm(image);
    await vm.waitForDocker();
  });
  afterAll(async () => {
    await vm?.stop();
  });

  const program = (restart: string, mode: string) => () => {
    const profile = new remote.Command("profile", {
      connection: { host: vm.host, port: vm.port, user: vm.user, privateKey: vm.image.userKey, hostKey: vm.image.hostKey },
      create: "echo profile-loaded",
    });
    const provider = new docker.Provider("vm-docker", {
      host: `ssh://${vm.user}@${vm.host}:${vm.port}`,
      sshOpts: [
        "-o", "StrictHostKeyChecking=yes",
        "-o", `UserKnownHostsFile=${vm.knownHostsPath}`,
        "-o", `IdentityFile=${vm.image.userKeyPath}`,
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
      ],
    });
    const c = new docker.Container(
      "client",
      { name: NAME, image: TEST_CLIENT_IMAGE, command: IDLE, restart, envs: [`PYJ_MODE=${mode}`], securityOpts: ["no-new-privileges"] },
      { provider, dependsOn: [profile] },
    );
    return { id: c.id, profile: profile.stdout };
  };
  const ops = (r: RunResult) => r.steps.filter((s) => s.name === "client").map((s) => `${s.op}${s.changedKeys ? ` [${s.changedKeys.join(",")}]` : ""}`);
  const ps = async () => (await vm.ssh(`docker ps -a --filter name=^/${NAME}$ --format '{{.ID}} {{.Status}}'`)).stdout.trim();
  const inspect = async (fmt: string) => (await vm.ssh(`docker inspect -f '${fmt}' ${NAME}`)).stdout.trim();

  it("creates, updates restart in place, replaces on envs, is idempotent, destroys", async () => {
    const emu = new Emulator({ log: (l) => console.log(`[emulator] ${l}`) });
    const run = (p: () => unknown) => emu.run(p, { project: PROJECT, stack: STACK });
    const hostKey = `${vm.host}:${vm.port}`;

    const r1 = await run(program("no", "a"));
    expect(ops(r1)).toEqual(["create"]);
    expect(r1.outputs.profile).toBe("profile-loaded");
    const id1 = r1.outputs.id as string;
    expect(await ps()).toMatch(new RegExp(`^${id1.slice(0, 12)} Up`));
    expect(await inspect("{{.HostConfig.RestartPolicy.Name}}")).toBe("no");
    const ctr = r1.resources.find((r) => r.name === "client")!;
    expect(ctr.opts.dependsOn).toContain(`urn:pulumi:${STACK}::${PROJECT}::command:remote:Command::profile`);
    expect(r1.perHost[hostKey]!.remoteCommands).toBeGreaterThanOrEqual(5); // 1 command + 4 docker API calls

    const r2 = await run(program("always", "a"));
    expect(ops(r2)).toEqual(["update [restart]"]);
    expect(r2.outputs.id).toBe(id1);
    expect(await inspect("{{.HostConfig.RestartPolicy.Name}}")).toBe("always");

    const r3 = await run(program("always", "b"));
    expect(ops(r3)).toEqual(["replace [envs]"]);
    const id2 = r3.outputs.id as string;
    expect(id2).not.toBe(id1);
    expect(await ps()).toMatch(new RegExp(`^${id2.slice(0, 12)} Up`));
    expect(await inspect("{{range .Config.Env}}{{println .}}{{end}}")).toContain("PYJ_MODE=b");
    expect(await inspect("{{.HostConfig.RestartPolicy.Name}}")).toBe("always");

    const r4 = await run(program("always", "b"));
    expect(ops(r4)).toEqual(["same"]);
    expect(r4.perHost).toEqual({});

    await emu.destroy();
    expect(await ps()).toBe("");
  });

  it("a realistic hardened Container reads back without drift; systempaths=unconfined is applied and then forces a replace", async () => {
    const emu = new Emulator({ log: (l) => console.log(`[emulator] ${l}`) });
    const run = (p: () => unknown, preview = false) => emu.run(p, { project: PROJECT, stack: `${STACK}-hardened`, preview });
    const prog = (securityOpts: string[]) => () => {
      const provider = new docker.Provider("vm-docker", {
        host: `ssh://${vm.user}@${vm.host}:${vm.port}`,
        sshOpts: ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${vm.knownHostsPath}`, "-o", `IdentityFile=${vm.image.userKeyPath}`, "-o", "IdentitiesOnly=yes"],
      });
      const c = new docker.Container(
        "hardened",
        {
          name: `${NAME}-hardened`,
          image: TEST_CLIENT_IMAGE,
          command: IDLE,
          envs: ["PYJ_INTERVAL=5"],
          restart: "unless-stopped",
          securityOpts,
          capabilities: { drops: ["ALL"] },
          readOnly: true,
          user: "65534:65534",
          init: true,
          hosts: [{ host: "collector", ip: "10.0.2.2" }],
          mounts: [{ type: "bind", source: "/sys/class/powercap", target: "/sys/class/powercap", readOnly: true }],
          labels: [{ label: "app", value: "pyjoules" }],
          logDriver: "json-file",
          logOpts: { "max-size": "1m", "max-file": "2" },
          memory: 64,
          healthcheck: { tests: ["CMD", "true"], interval: "30s", timeout: "5s", retries: 3 },
        },
        { provider },
      );
      return { id: c.id };
    };
    try {
      await run(prog(["no-new-privileges"]));
      // dockerd fills HostConfig.MemorySwap = 2 x memory; Read stores it, and memory_swap is Optional
      // (not Computed) in the schema, so the bridged provider plans one in-place update to "unset" it...
      const second = await run(prog(["no-new-privileges"]));
      expect(second.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name} ${s.changedKeys}`)).toEqual(["update hardened memorySwap"]);
      // ...after which (Update does not re-read) nothing drifts: every other input reads back identically
      const again = await run(prog(["no-new-privileges"]), true);
      expect(again.steps.filter((s) => s.op !== "same")).toEqual([]);

      const r = await run(prog(["no-new-privileges", "systempaths=unconfined"]));
      expect(r.steps.find((s) => s.name === "hardened")).toMatchObject({ op: "replace", changedKeys: ["securityOpts"] });
      expect(await vm.ssh(`docker inspect -f '{{json .HostConfig.MaskedPaths}} {{json .HostConfig.SecurityOpt}}' ${NAME}-hardened`).then((x) => x.stdout.trim())).toBe('[] ["no-new-privileges"]');
      // the state read back lacks systempaths=unconfined: the bridged provider plans a replacement every
      // time (memorySwap shows again because the new container's state was read back after create)
      const p = await run(prog(["no-new-privileges", "systempaths=unconfined"]), true);
      expect(p.steps.find((s) => s.name === "hardened")).toMatchObject({ op: "replace", changedKeys: ["memorySwap", "securityOpts"] });
    } finally {
      await emu.destroy();
    }
    expect((await vm.ssh(`docker ps -aq --filter name=^/${NAME}-hardened$`)).stdout.trim()).toBe("");
  });
});
