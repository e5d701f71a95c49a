// Engine behaviour across runs (same / update / replace / delete / preview), against a local sshd.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Emulator, EmulatorRunError, type RunResult } from "../emulator";
import { startSshd, type TestSshd } from "../emulator/testing/sshd";

const unexpected = (): never => {
  throw new Error("expected the run to fail");
};
const PROJECT = "emu";
const STACK = "engine";
const urn = (type: string, name: string) => `urn:pulumi:${STACK}::${PROJECT}::${type}::${name}`;
const CMD = "command:remote:Command";

describe("emulator engine", () => {
  let sshd: TestSshd;
  let conn: remote.CommandArgs["connection"];
  let trace: string;
  const host = () => `${sshd.host}:${sshd.port}`;
  const lines = () => (fs.existsSync(trace) ? fs.readFileSync(trace, "utf8").trim().split("\n").filter(Boolean) : []);

  beforeAll(async () => {
    sshd = await startSshd();
    conn = { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey, hostKey: sshd.hostKey };
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  beforeEach(() => {
    trace = path.join(sshd.dir, `trace-${Math.random().toString(36).slice(2)}`);
  });

  const run = (emu: Emulator, program: () => unknown, preview = false) => emu.run(program, { project: PROJECT, stack: STACK, preview });
  const cmd = (name: string, v: string, extra: Partial<remote.CommandArgs> = {}, opts?: pulumi.CustomResourceOptions) =>
    new remote.Command(
      name,
      { connection: conn, create: `echo "create ${name} ${v}" >> ${trace}; echo ${v}`, delete: `echo "delete ${name} ${v}" >> ${trace}`, ...extra },
      opts,
    );
  const ops = (r: RunResult) => r.steps.filter((s) => s.type !== "pulumi:pulumi:Stack").map((s) => `${s.op} ${s.name}${s.changedKeys ? ` [${s.changedKeys.join(",")}]` : ""}`);

  it("identical second run: every step 'same', zero SSH sessions and commands", async () => {
    const emu = new Emulator();
    const program = () => {
      const a = cmd("a", "1");
      cmd("b", "2", {}, { dependsOn: [a] });
    };
    const first = await run(emu, program);
    expect(ops(first)).toEqual(["create a", "create b"]);
    expect(first.perHost[host()]).toEqual({ sshSessions: 2, remoteCommands: 2 });
    const second = await run(emu, program);
    expect(ops(second)).toEqual(["same a", "same b"]);
    expect(second.perHost).toEqual({});
    expect(lines()).toEqual(["create a 1", "create b 2"]);
  });

  it("changed `create` re-runs create as an update (no `update` command)", async () => {
    const emu = new Emulator();
    await run(emu, () => { cmd("a", "1"); });
    const r = await run(emu, () => { cmd("a", "2"); });
    expect(ops(r)).toEqual(["update a [create,delete]"]);
    expect(lines()).toEqual(["create a 1", "create a 2"]);
    expect(r.resources.find((x) => x.name === "a")!.outputs.stdout).toBe("2");
  });

  it("`update` command runs instead of create when given, with PULUMI_COMMAND_STDOUT of the previous run", async () => {
    const emu = new Emulator();
    const prog = (v: string) => () => {
      cmd("a", v, { update: `echo "update a ${v} prev=$PULUMI_COMMAND_STDOUT" >> ${trace}; echo u${v}` });
    };
    await run(emu, prog("1"));
    await run(emu, prog("2"));
    // PULUMI_COMMAND_STDOUT only arrives if sshd AcceptEnv allows it; this sshd does not -> empty
    expect(lines()).toEqual(["create a 1", "update a 2 prev="]);
  });

  it("changed triggers replace, create-before-delete by default", async () => {
    const emu = new Emulator();
    await run(emu, () => { cmd("a", "1", { triggers: ["t1"] }); });
    const r = await run(emu, () => { cmd("a", "2", { triggers: ["t2"] }); });
    expect(ops(r)).toEqual(["replace a [create,delete,triggers]"]);
    // new one created first, then the old one's delete command (its *old* delete) ran
    expect(lines()).toEqual(["create a 1", "create a 2", "delete a 1"]);
    expect(emu.snapshot().filter((s) => s.name === "a")).toHaveLength(1);
  });

  it("changed triggers with deleteBeforeReplace deletes first", async () => {
    const emu = new Emulator();
    await run(emu, () => { cmd("a", "1", { triggers: ["t1"] }, { deleteBeforeReplace: true }); });
    const r = await run(emu, () => { cmd("a", "2", { triggers: ["t2"] }, { deleteBeforeReplace: true }); });
    expect(ops(r)).toEqual(["replace a [create,delete,triggers]"]);
    expect(lines()).toEqual(["create a 1", "delete a 1", "create a 2"]);
    expect(r.resources.find((x) => x.name === "a")!.opts.deleteBeforeReplace).toBe(true);
  });

  it("removed resources are deleted after the program, dependents first", async () => {
    const emu = new Emulator();
    await run(emu, () => {
      const a = cmd("a", "1");
      const b = cmd("b", "1", {}, { dependsOn: [a] });
      // c depends on b through an input (implicit dependency)
      new remote.Command("c", { connection: conn, create: pulumi.interpolate`echo "create c from ${b.stdout}" >> ${trace}`, delete: `echo "delete c" >> ${trace}` });
      cmd("keep", "1");
    });
    const r = await run(emu, () => { cmd("keep", "1"); });
    expect(ops(r)).toEqual(["same keep", "delete c", "delete b", "delete a"]);
    expect(lines().slice(-3)).toEqual(["delete c", "delete b 1", "delete a 1"]);
    expect(emu.snapshot().map((s) => s.name).filter((n) => n !== `${PROJECT}-${STACK}`)).toEqual(["keep"]);
    const d = await emu.destroy();
    expect(d.steps.map((s) => `${s.op} ${s.name}`)).toContain("delete keep");
    expect(emu.snapshot()).toEqual([]);
  });

  it("preview reports planned steps and changed keys without executing anything", async () => {
    const emu = new Emulator();
    await run(emu, () => {
      cmd("a", "1");
      cmd("b", "1", { triggers: [1] });
      cmd("gone", "1");
    });
    const before = lines();
    const p = await run(
      emu,
      () => {
        cmd("a", "2");
        cmd("b", "1", { triggers: [2] });
        cmd("new", "1");
      },
      true,
    );
    // independent resources register in no fixed order; deletions come last
    expect(ops(p).slice(0, 3).sort()).toEqual(["create new", "replace b [triggers]", "update a [create,delete]"]);
    expect(ops(p)[3]).toBe("delete gone");
    expect(p.perHost).toEqual({});
    expect(lines()).toEqual(before);
    // state untouched by a preview
    const again = await run(emu, () => {
      cmd("a", "1");
      cmd("b", "1", { triggers: [1] });
      cmd("gone", "1");
    });
    expect(ops(again).sort()).toEqual(["same a", "same b", "same gone"]);
  });

  it("preview with outputs of not-yet-created resources reports unknown-dependent inputs as changes", async () => {
    const emu = new Emulator();
    await run(emu, () => {
      new remote.Command("dep", { connection: conn, create: "echo x" });
    });
    const p = await run(
      emu,
      () => {
        const fresh = new remote.Command("fresh", { connection: conn, create: "echo y" });
        new remote.Command("dep", { connection: conn, create: pulumi.interpolate`echo ${fresh.stdout}` });
      },
      true,
    );
    expect(ops(p)).toEqual(["create fresh", "update dep [create]"]);
  });

  it("records resource options: dependsOn, parent (component), provider, and computes child URNs", async () => {
    class Thing extends pulumi.ComponentResource {
      constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
        super("pyj:test:Thing", name, {}, opts);
        const profile = new remote.Command(`${name}-profile`, { connection: conn, create: "true" }, { parent: this });
        const provider = new docker.Provider(`${name}-docker`, { host: `ssh://${sshd.user}@${sshd.host}:${sshd.port}` }, { parent: this });
        new docker.Container(`${name}-ctr`, { image: "busybox", restart: "no" }, { parent: this, provider, dependsOn: [profile] });
        this.registerOutputs({});
      }
    }
    const emu = new Emulator();
    const p = await run(emu, () => new Thing("h1"), true);
    const comp = "pyj:test:Thing";
    const find = (n: string) => p.resources.find((r) => r.name === n)!;
    expect(find("h1").urn).toBe(urn(comp, "h1"));
    expect(find("h1-profile").urn).toBe(urn(`${comp}$${CMD}`, "h1-profile"));
    expect(find("h1-profile").opts.parent).toBe(urn(comp, "h1"));
    const ctr = find("h1-ctr");
    expect(ctr.urn).toBe(urn(`${comp}$docker:index/container:Container`, "h1-ctr"));
    expect(ctr.opts.dependsOn).toContain(urn(`${comp}$${CMD}`, "h1-profile"));
    expect(ctr.opts.provider).toBe(urn(`${comp}$pulumi:providers:docker`, "h1-docker"));
    expect(ctr.opts.parent).toBe(urn(comp, "h1"));
    expect(ops(p)).toContain("create h1-ctr");
    expect(p.perHost).toEqual({});
  });

  it("fails loudly on a Container input the emulator does not map (also in preview)", async () => {
    const prog = () => {
      const provider = new docker.Provider("d", { host: `ssh://${sshd.user}@${sshd.host}:${sshd.port}` });
      new docker.Container("c", { image: "busybox", networksAdvanced: [{ name: "n" }] }, { provider });
    };
    for (const preview of [true, false]) {
      const err = await run(new Emulator(), prog, preview).then(unexpected, (e: unknown) => e as EmulatorRunError);
      expect(err).toBeInstanceOf(EmulatorRunError);
      expect(err.message).toContain('input "networksAdvanced" is not mapped by the emulator');
      expect(err.result.perHost).toEqual({});
    }
    const nested = await run(new Emulator(), () => {
      const provider = new docker.Provider("d", { host: `ssh://${sshd.user}@${sshd.host}:${sshd.port}` });
      new docker.Container("c", { image: "busybox", uploads: [{ file: "/x", content: "y", owner: "root" }] }, { provider });
    }, true).then(unexpected, (e: unknown) => e as Error);
    expect(nested.message).toContain('input "uploads[0].owner" is not mapped');
  });

  it("persists state to a file and continues from it in a new Emulator", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "emu-state-"));
    const stateFile = path.join(dir, "state.json");
    await run(new Emulator({ stateFile }), () => { cmd("a", "1"); });
    expect((fs.statSync(stateFile).mode & 0o777).toString(8)).toBe("600");
    const r = await run(new Emulator({ stateFile }), () => { cmd("a", "1"); });
    expect(ops(r)).toEqual(["same a"]);
    await new Emulator({ stateFile }).destroy();
    expect(lines()).toEqual(["create a 1", "delete a 1"]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a failure stops the run: later steps and deletions do not happen, completed ones stay in state", async () => {
    const emu = new Emulator();
    await run(emu, () => {
      cmd("old", "1");
    });
    const err = await run(emu, () => {
      const a = cmd("a", "1");
      const bad = new remote.Command("bad", { connection: conn, create: "echo boom >&2; false" }, { dependsOn: [a] });
      cmd("after", "1", {}, { dependsOn: [bad] });
    }).then(unexpected, (e: unknown) => e as EmulatorRunError);
    expect(err.message).toContain("boom");
    const names = emu.snapshot().map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(["a", "old"]));
    expect(names).not.toContain("bad");
    expect(names).not.toContain("after");
    expect(lines()).toEqual(["create old 1", "create a 1"]);
    // next run: `a` is same, `old` is finally deleted
    const r = await run(emu, () => { cmd("a", "1"); });
    expect(ops(r)).toEqual(["same a", "delete old"]);
  });
});
