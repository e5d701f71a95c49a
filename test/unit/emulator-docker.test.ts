// The Container path end to end without a VM: real ssh (provider sshOpts) -> real
// `docker system dial-stdio` on the "remote" (this machine's sshd) -> a fake Engine API socket.
import * as fs from "node:fs";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Emulator, EmulatorRunError, type RunResult } from "../emulator";
import { FakeDocker } from "../emulator/testing/fake-docker";
import { startSshd, type TestSshd } from "../emulator/testing/sshd";

const unexpected = (): never => {
  throw new Error("expected the run to fail");
};
const PROJECT = "emu";
const STACK = "docker";

describe("emulator: docker Container over ssh:// + dial-stdio (fake daemon)", () => {
  let sshd: TestSshd;
  let fake: FakeDocker;
  let sshOpts: string[];
  let sock: string;

  beforeAll(async () => {
    // the socket path must be known before sshd starts (SetEnv DOCKER_HOST=...)
    const tmp = fs.mkdtempSync("/tmp/emu-fake-docker-");
    sock = path.join(tmp, "docker.sock");
    sshd = await startSshd({ setEnv: { DOCKER_HOST: `unix://${sock}` } });
    const kh = path.join(sshd.dir, "known_hosts");
    fs.writeFileSync(kh, `[${sshd.host}]:${sshd.port} ${sshd.hostKey}\n`, { mode: 0o600 });
    sshOpts = ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${kh}`, "-o", `IdentityFile=${sshd.privateKeyPath}`, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"];
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  beforeEach(async () => {
    await fake?.stop();
    fake = new FakeDocker(sock);
    await fake.start();
  });

  const hostUrl = () => `ssh://${sshd.user}@${sshd.host}:${sshd.port}`;
  const run = (emu: Emulator, program: () => unknown, preview = false) => emu.run(program, { project: PROJECT, stack: STACK, preview });
  const ops = (r: RunResult) => r.steps.filter((s) => s.type === "docker:index/container:Container").map((s) => `${s.op}${s.changedKeys ? ` [${s.changedKeys.join(",")}]` : ""}`);

  const program = (over: Partial<docker.ContainerArgs> = {}, opts: { sshOpts?: string[] } = {}) => () => {
    const provider = new docker.Provider("host1", { host: hostUrl(), sshOpts: opts.sshOpts ?? sshOpts });
    const c = new docker.Container(
      "pyj",
      {
        name: "pyjoules",
        image: "pyjoules-test-client:latest",
        envs: ["A=1", "B=2"],
        restart: "unless-stopped",
        securityOpts: ["apparmor=pyjoules", "no-new-privileges"],
        capabilities: { drops: ["ALL"] },
        readOnly: true,
        user: "1000:1000",
        init: true,
        hosts: [{ host: "metrics", ip: "10.0.0.5" }],
        mounts: [{ type: "bind", source: "/sys/class/powercap", target: "/sys/class/powercap", readOnly: true }],
        volumes: [{ hostPath: "/var/lib/pyj", containerPath: "/data", readOnly: false }],
        labels: [{ label: "app", value: "pyjoules" }],
        logDriver: "json-file",
        logOpts: { "max-size": "10m" },
        command: ["pyjoules", "--interval", "1"],
        memory: 128,
        healthcheck: { tests: ["CMD", "true"], interval: "30s", retries: 3 },
        ...over,
      },
      { provider },
    );
    return { id: c.id, name: c.name };
  };

  it("creates with the provider's Engine API body over ssh:// with sshOpts; identical rerun does nothing", async () => {
    const emu = new Emulator();
    const r1 = await run(emu, program());
    expect(ops(r1)).toEqual(["create"]);
    expect(r1.outputs.name).toBe("pyjoules");
    expect(r1.outputs.id).toMatch(/^c+1$/);
    expect(fake.calls()).toEqual([
      "GET /images/pyjoules-test-client%3Alatest/json",
      "POST /containers/create",
      `POST /containers/${r1.outputs.id}/start`,
      `GET /containers/${r1.outputs.id}/json`,
    ]);
    const create = fake.requests.find((x) => x.path.includes("/containers/create"))!;
    expect(create.path).toContain("name=pyjoules");
    const body = create.body as Record<string, any>;
    expect(body.Env).toEqual(["A=1", "B=2"]);
    expect(body.Cmd).toEqual(["pyjoules", "--interval", "1"]);
    expect(body.User).toBe("1000:1000");
    expect(body.Labels).toEqual({ app: "pyjoules" });
    expect(body.Healthcheck).toEqual({ Test: ["CMD", "true"], Interval: 30e9, Timeout: 0, StartPeriod: 0, StartInterval: 0, Retries: 3 });
    const hc = body.HostConfig;
    expect(hc.SecurityOpt).toEqual(["apparmor=pyjoules", "no-new-privileges"]);
    expect(hc.MaskedPaths).toBeUndefined();
    expect(hc.RestartPolicy).toEqual({ Name: "unless-stopped", MaximumRetryCount: 0 });
    expect(hc.ExtraHosts).toEqual(["metrics:10.0.0.5"]);
    expect(hc.Binds).toEqual(["/var/lib/pyj:/data:rw"]);
    expect(hc.Mounts).toEqual([{ Type: "bind", Target: "/sys/class/powercap", Source: "/sys/class/powercap", ReadOnly: true }]);
    expect(hc.CapDrop).toEqual(["ALL"]);
    expect(hc.CapAdd).toEqual([]);
    expect(hc.ReadonlyRootfs).toBe(true);
    expect(hc.Init).toBe(true);
    expect(hc.Privileged).toBe(false);
    expect(hc.Memory).toBe(128 * 1024 * 1024);
    expect(hc.LogConfig).toEqual({ Type: "json-file", Config: { "max-size": "10m" } });
    expect(hc.NetworkMode).toBe("bridge");
    const h = `${sshd.host}:${sshd.port}`;
    // ping + version are not counted as commands; 4 API calls over pooled dial-stdio sessions
    expect(r1.perHost[h]!.remoteCommands).toBe(4);
    expect(r1.perHost[h]!.sshSessions).toBeGreaterThanOrEqual(1);

    fake.requests.length = 0;
    const r2 = await run(emu, program());
    expect(ops(r2)).toEqual(["same"]);
    expect(r2.perHost).toEqual({});
    expect(fake.requests).toEqual([]);
  });

  it("restart updates in place (ContainerUpdate); envs replace delete-before-create; destroy removes", async () => {
    const emu = new Emulator();
    const r1 = await run(emu, program());
    const id1 = r1.outputs.id as string;

    fake.requests.length = 0;
    const r2 = await run(emu, program({ restart: "always" }));
    expect(ops(r2)).toEqual(["update [restart]"]);
    expect(r2.outputs.id).toBe(id1);
    expect(fake.calls()).toEqual([`POST /containers/${id1}/update`]);
    expect((fake.requests.find((x) => x.path.includes("/update"))!.body as any).RestartPolicy).toEqual({ Name: "always", MaximumRetryCount: 0 });
    expect(fake.containers.get(id1)!.HostConfig.RestartPolicy).toEqual({ Name: "always", MaximumRetryCount: 0 });

    fake.requests.length = 0;
    const r3 = await run(emu, program({ restart: "always", envs: ["A=1", "B=3"] }));
    expect(ops(r3)).toEqual(["replace [envs]"]);
    const id2 = r3.outputs.id as string;
    expect(id2).not.toBe(id1);
    // pulumi-docker marks Container DeleteBeforeReplace: the old one goes first (same name)
    expect(fake.calls()).toEqual([
      `POST /containers/${id1}/stop`,
      `DELETE /containers/${id1}`,
      `POST /containers/${id1}/wait`,
      "GET /images/pyjoules-test-client%3Alatest/json",
      "POST /containers/create",
      `POST /containers/${id2}/start`,
      `GET /containers/${id2}/json`,
    ]);
    // envs order does not matter (TF set)
    const r4 = await run(emu, program({ restart: "always", envs: ["B=3", "A=1"] }));
    expect(ops(r4)).toEqual(["same"]);

    fake.requests.length = 0;
    const d = await emu.destroy();
    expect(d.steps.map((s) => `${s.op} ${s.name}`)).toEqual(["delete pyj", "delete host1", `delete ${PROJECT}-${STACK}`]);
    expect(fake.containers.size).toBe(0);
  });

  it("systempaths=unconfined is handled client-side; the read-back state lacks it, so the next run replaces", async () => {
    const emu = new Emulator();
    const prog = program({ securityOpts: ["apparmor=pyjoules", "systempaths=unconfined"] });
    await run(emu, prog);
    const hc = (fake.requests.find((x) => x.path.includes("/containers/create"))!.body as any).HostConfig;
    expect(hc.SecurityOpt).toEqual(["apparmor=pyjoules"]);
    expect(hc.MaskedPaths).toEqual([]);
    expect(hc.ReadonlyPaths).toEqual([]);
    const p = await run(emu, prog, true);
    expect(ops(p)).toEqual(["replace [securityOpts]"]);
  });

  it("healthcheck is not ForceNew and the provider's Update ignores it (state-only update)", async () => {
    const emu = new Emulator();
    await run(emu, program());
    fake.requests.length = 0;
    const r = await run(emu, program({ healthcheck: { tests: ["CMD", "true"], interval: "10s", retries: 3 } }));
    expect(ops(r)).toEqual(["update [healthcheck]"]);
    expect(fake.calls()).toEqual([]);
  });

  it("a host key not matching the provider's sshOpts known_hosts fails like the provider", async () => {
    const bad = path.join(sshd.dir, "bad_known_hosts");
    fs.writeFileSync(bad, `[${sshd.host}]:${sshd.port} ${sshd.otherHostKey}\n`, { mode: 0o600 });
    const opts = sshOpts.map((o) => (o.startsWith("UserKnownHostsFile=") ? `UserKnownHostsFile=${bad}` : o));
    const err = await run(new Emulator(), program({}, { sshOpts: opts })).then(unexpected, (e: unknown) => e as EmulatorRunError);
    expect(err).toBeInstanceOf(EmulatorRunError);
    expect(err.message).toContain("Host key verification failed");
    expect(fake.calls()).toEqual([]);
  });

  it("preview performs nothing and opens no SSH session (the provider pings lazily, not on configure)", async () => {
    const r = await run(new Emulator(), program(), true);
    expect(ops(r)).toEqual(["create"]);
    expect(r.perHost).toEqual({});
    expect(fake.requests).toEqual([]);
  });
});
