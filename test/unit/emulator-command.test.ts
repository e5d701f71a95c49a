// remote.Command through the emulator against a real local OpenSSH server (no VM).
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Emulator, EmulatorRunError } from "../emulator";
import { startSshd, type TestSshd } from "../emulator/testing/sshd";

const unexpected = (): never => {
  throw new Error("expected the run to fail");
};
const PROJECT = "emu";
const STACK = "test";

describe("emulator: command:remote:Command over OpenSSH", () => {
  let sshd: TestSshd;
  let conn: remote.CommandArgs["connection"];

  beforeAll(async () => {
    sshd = await startSshd({ acceptEnv: ["PYJ_*", "PULUMI_COMMAND_*"] });
    conn = { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey, hostKey: sshd.hostKey, dialErrorLimit: 0 };
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  const run = (emu: Emulator, program: () => unknown) => emu.run(program, { project: PROJECT, stack: STACK });

  it("passes stdin byte-for-byte, trims one trailing newline of stdout/stderr, marks connection secret", async () => {
    const stdin = "line one\n\ttab and 'quotes' \"double\" $HOME `x`\n\u00e9\u4e2d\r\nno-final-newline\\";
    const emu = new Emulator();
    const res = await run(emu, () => {
      const c = new remote.Command("cat", { connection: conn, create: "cat; printf 'err\\n\\n' >&2", stdin });
      return { stdout: c.stdout, stderr: c.stderr };
    });
    expect(res.outputs.stdout).toBe(stdin);
    expect(res.outputs.stderr).toBe("err\n");
    const r = res.resources.find((x) => x.name === "cat")!;
    expect(r.secretInputs).toContain("connection");
    expect(r.urn).toBe(`urn:pulumi:${STACK}::${PROJECT}::command:remote:Command::cat`);
    const host = `${sshd.host}:${sshd.port}`;
    expect(res.perHost[host]).toEqual({ sshSessions: 1, remoteCommands: 1 });
  });

  it("only trims a single trailing newline and keeps binary-ish output intact", async () => {
    const emu = new Emulator();
    const res = await run(emu, () => {
      const c = new remote.Command("nl", { connection: conn, create: "printf 'a\\n\\n'" });
      return { stdout: c.stdout };
    });
    expect(res.outputs.stdout).toBe("a\n");
  });

  it("a failing command rejects the run with the provider's message including its output", async () => {
    const emu = new Emulator();
    const err = await run(emu, () => {
      new remote.Command("ok", { connection: conn, create: "echo fine" });
      new remote.Command("bad", { connection: conn, create: "echo to-stdout; echo to-stderr >&2; exit 3" });
    }).then(unexpected, (e: unknown) => e);
    expect(err).toBeInstanceOf(EmulatorRunError);
    const msg = (err as Error).message;
    expect(msg).toContain('Process exited with status 3: running "echo to-stdout; echo to-stderr >&2; exit 3":');
    expect(msg).toContain("to-stdout");
    expect(msg).toContain("to-stderr");
    // partial state: the command that succeeded is recorded, the failed one is not
    const names = emu.snapshot().map((s) => s.name);
    expect(names).toContain("ok");
    expect(names).not.toContain("bad");
    const result = (err as EmulatorRunError).result;
    expect(result.steps.find((s) => s.name === "bad")?.error).toContain("exited with status 3");
  });

  it("pins hostKey: the right key connects, a wrong key is refused (no retry with dialErrorLimit 0)", async () => {
    const emu = new Emulator();
    await run(emu, () => {
      new remote.Command("pinned", { connection: conn, create: "true" });
    });
    const emu2 = new Emulator();
    const err = await run(emu2, () => {
      new remote.Command("wrong", { connection: { ...(conn as object), hostKey: sshd.otherHostKey } as never, create: "touch should-not-run" });
    }).then(unexpected, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/after 0 failed attempts: .*Host key verification failed/s);
    expect((err as EmulatorRunError).result.perHost[`${sshd.host}:${sshd.port}`]).toEqual({ sshSessions: 1, remoteCommands: 1 });
  });

  it("retries dial failures up to dialErrorLimit (N+1 attempts), never a failed command", async () => {
    const emu = new Emulator();
    const err = await run(emu, () => {
      new remote.Command("retry", { connection: { ...(conn as object), hostKey: sshd.otherHostKey, dialErrorLimit: 2 } as never, create: "true" });
    }).then(unexpected, (e: unknown) => e as EmulatorRunError);
    expect(err.message).toContain("after 2 failed attempts");
    expect(err.result.perHost[`${sshd.host}:${sshd.port}`]).toEqual({ sshSessions: 3, remoteCommands: 1 });

    const emu2 = new Emulator();
    const err2 = await run(emu2, () => {
      new remote.Command("fails", { connection: { ...(conn as object), dialErrorLimit: 5 } as never, create: "exit 255" });
    }).then(unexpected, (e: unknown) => e as EmulatorRunError);
    expect(err2.message).toContain("Process exited with status 255");
    expect(err2.result.perHost[`${sshd.host}:${sshd.port}`]).toEqual({ sshSessions: 1, remoteCommands: 1 });
  });

  it("without hostKey any host key is accepted (as the provider does)", async () => {
    const emu = new Emulator();
    const res = await run(emu, () => {
      const c = new remote.Command("nohk", {
        connection: { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey },
        create: "echo ok",
      });
      return { out: c.stdout };
    });
    expect(res.outputs.out).toBe("ok");
  });

  it("decrypts privateKey with privateKeyPassword; an encrypted key without it fails like x/crypto", async () => {
    const emu = new Emulator();
    const res = await run(emu, () => {
      const c = new remote.Command("enc", { connection: { ...(conn as object), privateKey: sshd.encryptedKey, privateKeyPassword: sshd.encryptedKeyPassword } as never, create: "echo enc" });
      return { out: c.stdout };
    });
    expect(res.outputs.out).toBe("enc");
    const err = await run(new Emulator(), () => {
      new remote.Command("enc2", { connection: { ...(conn as object), privateKey: sshd.encryptedKey } as never, create: "true" });
    }).then(unexpected, (e: unknown) => e as Error);
    expect(err.message).toContain("this private key is passphrase protected");
  });

  it("environment via SSH env requests (AcceptEnv) and PULUMI_COMMAND_STDOUT on update/delete", async () => {
    const marker = path.join(sshd.dir, "env-trace");
    const emu = new Emulator();
    const prog = (v: string) => () => {
      new remote.Command("env", {
        connection: conn,
        environment: { PYJ_VALUE: v },
        create: `printf 'create %s|%s\\n' "$PYJ_VALUE" "\${PULUMI_COMMAND_STDOUT-unset}" >> ${marker}; echo "out-$PYJ_VALUE"`,
        delete: `printf 'delete %s\\n' "$PULUMI_COMMAND_STDOUT" >> ${marker}`,
      });
    };
    await run(emu, prog("multi word\nline"));
    await run(emu, prog("second"));
    await emu.destroy();
    expect(fs.readFileSync(marker, "utf8")).toBe("create multi word\nline|unset\ncreate second|out-multi word\nline\ndelete out-second\n");
  });

  it("an environment variable sshd does not accept fails like the provider's Setenv", async () => {
    const err = await run(new Emulator(), () => {
      new remote.Command("rejected", { connection: conn, environment: { NOT_ACCEPTED: "x" }, create: "echo hi" });
    }).then(unexpected, (e: unknown) => e as Error);
    expect(err.message).toContain('could not set environment variable "NOT_ACCEPTED"');
  });

  it("connects through connection.proxy (bastion) with its own key and pinned host key", async () => {
    const res = await run(new Emulator(), () => {
      const c = new remote.Command("viaproxy", {
        connection: { ...(conn as object), proxy: { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey, hostKey: sshd.hostKey } } as never,
        create: "echo through-proxy",
      });
      return { out: c.stdout };
    });
    expect(res.outputs.out).toBe("through-proxy");
  });

  it("rejects unsupported connection fields loudly", async () => {
    const err = await run(new Emulator(), () => {
      new remote.Command("pw", { connection: { host: sshd.host, port: sshd.port, user: sshd.user, password: "x" }, create: "true" });
    }).then(unexpected, (e: unknown) => e as Error);
    expect(err.message).toContain("password authentication is not supported");
  });

  it("keeps pulumi secrets: outputs of secret inputs come back as secrets", async () => {
    const emu = new Emulator();
    let secretness: boolean | undefined;
    await run(emu, () => {
      const c = new remote.Command("sec", { connection: conn, create: "echo s", stdin: pulumi.secret("hidden") });
      void pulumi.isSecret(c.stdin).then((s) => (secretness = s));
    });
    expect(secretness).toBe(true);
    expect(emu.snapshot().find((s) => s.name === "sec")!.secretInputs).toEqual(expect.arrayContaining(["connection", "stdin"]));
  });
});
