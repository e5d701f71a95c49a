/**
 * verifyOnEveryRun: the drift tokens (pure), the local ssh command and its parsing, and the wiring under
 * Pulumi mocks (one read per host, only when on; the tokens in the provision step, the container label and
 * the attestation's triggers). The read itself (profiles/verify.sh) is tested on the fake host in
 * scripts.test.ts, and the whole path through the real CLI on a VM in test/integration/lifecycle.test.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { PyJoulesFleet, PyJoulesHost, PyJoulesHostArgs } from "../../components";
import { DRIFT_LABEL, driftTokens, parseDriftRun, sshReadCommand, type DriftRead } from "../../components/drift";
import { fleetArgsFromConfig } from "../../components/stack";
import { provisionStdin, VERIFY_SH } from "../../profiles/commands";
import { renderPyJoulesProfile } from "../../profiles/render";
import { collectRejections, runWithMocks, TEST_HOST_KEY, TEST_URL, testKey, TYPES } from "./helpers/mocks";

beforeAll(() => {
  process.env.PULUMI_PYJOULES_SSH_DIR = join(mkdtempSync(join(tmpdir(), "pyj-keys-")), "ssh");
});

const read = (over: Partial<DriftRead> = {}): DriftRead => ({ recordedProfile: "5", recordedContainer: "4", profile: [], container: [], ...over });

describe("driftToken", () => {
  it("first read (nothing recorded): generation 1 for both, whatever the host shows", () => {
    expect(driftTokens(read({ recordedProfile: "", recordedContainer: "", profile: ["x"], container: ["y"] }))).toEqual({ profile: "1", container: "1" });
  });

  it("no drift: the recorded tokens, so nothing changes", () => {
    expect(driftTokens(read())).toEqual({ profile: "5", container: "4" });
  });

  it("drift: one above every recorded generation, with the reasons; the other part unchanged", () => {
    expect(driftTokens(read({ profile: ["profile p is not loaded in enforce mode", "boot-time loader u is not enabled"] }))).toEqual({
      profile: "6 drift: profile p is not loaded in enforce mode + boot-time loader u is not enabled",
      container: "4",
    });
    expect(driftTokens(read({ recordedProfile: "9 drift: a", container: ["container c does not exist"] }))).toEqual({
      profile: "9 drift: a",
      container: "10 drift: container c does not exist",
    });
  });

  it("the same drift seen again after its repair is a change again", () => {
    const first = driftTokens(read({ container: ["container c does not exist"] }));
    const again = driftTokens(read({ recordedProfile: first.profile, recordedContainer: first.container, container: ["container c does not exist"] }));
    expect(again.container).not.toBe(first.container);
  });

  it("a long list of reasons is cut to a token provision.sh accepts, on a stdin line preview --diff shows whole", () => {
    const t = driftTokens(read({ profile: Array.from({ length: 16 }, (_, i) => `reason ${i} `.repeat(20).trim()) }));
    expect(t.profile.length).toBeLessThanOrEqual(140);
    const stdin = provisionStdin("docker-pyjoules", true, "x", { container: "pyjoules-client", profileToken: t.profile, containerToken: t.container });
    const line = stdin.split("\n").find((l) => l.includes(t.profile))!;
    expect(line).toBe(`'${t.profile}' \\`);
    // Pulumi's diff display cuts a line of a multi-line string at 150 characters (backend/display/object_diff.go).
    expect(line.length).toBeLessThanOrEqual(150);
  });

  it("over random histories: a part's token changes exactly when that part drifted, and is stable after the repair", () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let host = { recordedProfile: "", recordedContainer: "" };
    let state = driftTokens({ ...host, profile: [], container: [] }); // the first deploy
    host = { recordedProfile: state.profile, recordedContainer: state.container };
    for (let i = 0; i < 500; i++) {
      const profile = rand() < 0.3 ? ["profile drift"] : [];
      const container = rand() < 0.3 ? ["container drift"] : [];
      const next = driftTokens({ ...host, profile, container });
      expect(next.profile !== state.profile, `step ${i} profile`).toBe(profile.length > 0);
      expect(next.container !== state.container, `step ${i} container`).toBe(container.length > 0);
      // `up` applies the new tokens (the engine stores them) and provision.sh records them on the host.
      state = next;
      host = { recordedProfile: next.profile, recordedContainer: next.container };
      expect(driftTokens({ ...host, profile: [], container: [] }), `step ${i}: clean read after the repair`).toEqual(state);
    }
  });
});

describe("the read's local command", () => {
  const fakeSsh = (script: string) => {
    const dir = mkdtempSync(join(tmpdir(), "pyj-fake-ssh-"));
    writeFileSync(join(dir, "ssh"), `#!/bin/sh\nfor a in "$@"; do printf '%s\\0' "$a"; done >"${dir}/argv"\ncat >"${dir}/stdin"\n${script}\n`);
    chmodSync(join(dir, "ssh"), 0o755);
    return dir;
  };
  const runLocal = (dir: string, command: string, stdin: string) =>
    spawnSync("/bin/sh", ["-c", command], { input: stdin, encoding: "utf8", env: { PATH: `${dir}:/usr/bin:/bin` } });

  it("hands ssh every option and the remote command as single arguments, stdin intact, and reports ssh's exit", () => {
    const dir = fakeSsh(`echo '{"recordedProfile":"","recordedContainer":"","profile":[],"container":[]}'`);
    const opts = ["-o", "KnownHostsCommand=/bin/echo %H ssh-ed25519 AAAA", "-o", "IdentityFile=~/.pulumi-pyjoules/ssh/id-1"];
    const remote = "/bin/sh -c 'a=$(dd bs=1 count=3); eval \"$a\"' pyjoules-verify";
    const r = runLocal(dir, sshReadCommand(opts, "deploy", "10.0.0.7", 2222, remote), "the stage\n");
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, "argv"), "utf8").split("\0").slice(0, -1)).toEqual([...opts, "-p", "2222", "-l", "deploy", "--", "10.0.0.7", remote]);
    expect(readFileSync(join(dir, "stdin"), "utf8")).toBe("the stage\n");
    expect(parseDriftRun(r.stdout, r.stderr, "H")).toEqual({ recordedProfile: "", recordedContainer: "", profile: [], container: [] });
  });

  it("a failed ssh becomes one error naming the host and ssh's last line", () => {
    const dir = fakeSsh(`echo 'ssh: connect to host 10.0.0.7 port 22: Connection refused' >&2; exit 255`);
    const r = runLocal(dir, sshReadCommand([], "root", "10.0.0.7", 22, "true"), "");
    expect(r.status).toBe(0);
    expect(() => parseDriftRun(r.stdout, r.stderr, 'PyJoulesHost "h1"')).toThrow(
      'PyJoulesHost "h1": verifyOnEveryRun: cannot read the host: ssh: connect to host 10.0.0.7 port 22: Connection refused',
    );
  });

  it("refuses an answer that is not verify.sh's inert JSON line", () => {
    const ok = "pyjoules-verify-exit:0";
    expect(() => parseDriftRun(`hello\n${ok}\n`, "", "H")).toThrow(/H: verifyOnEveryRun: the host's verify.sh printed no JSON line/);
    expect(() => parseDriftRun(`{"recordedProfile":"$(x)","recordedContainer":"","profile":[],"container":[]}\n${ok}\n`, "", "H")).toThrow(
      /unexpected answer from verify.sh: must be inert characters/,
    );
    expect(() => parseDriftRun(`{"recordedProfile":"","recordedContainer":"","profile":[]}\n${ok}\n`, "", "H")).toThrow(/unexpected answer/);
    expect(() => parseDriftRun('{"recordedProfile":"","recordedContainer":"","profile":[],"container":[]}\n', "", "H")).toThrow(
      /cannot read the host: exit status \?, no message/,
    );
  });
});

const KEY = testKey("DRIFT-UNIT");
const hostArgs = (over: Partial<PyJoulesHostArgs> = {}): PyJoulesHostArgs => ({
  connection: { host: "10.0.0.7", user: "deploy", privateKey: pulumi.secret(KEY), hostKey: TEST_HOST_KEY },
  client: { remoteWriteUrl: TEST_URL },
  ...over,
});
/** A host's answer: verify.sh's line for `r`, then the exit mark sshReadCommand appends. */
const answer = (r: DriftRead, exit = 0, stderr = "") => () => ({
  stdout: `${exit === 0 ? `${JSON.stringify(r)}\n` : ""}pyjoules-verify-exit:${exit}\n`,
  stderr,
});
const TEXT = renderPyJoulesProfile();

describe("verifyOnEveryRun under mocks", () => {
  it("off (the default): no read, and the host's resources are exactly as without the feature", async () => {
    const run = await runWithMocks((o) => new PyJoulesHost("h1", hostArgs(), o));
    expect(run.calls).toEqual([]);
    expect(run.byName("h1-profile-provision").inputs.stdin).toBe(provisionStdin("docker-pyjoules", true, TEXT));
    expect(run.byName("h1-client").inputs.labels).toBeUndefined();
    expect(run.byName("h1-attest").inputs.triggers).toHaveLength(2);
  });

  it("on, host as provisioned: one read over the pinned OpenSSH path; the recorded tokens go to the provision step, the label and the attestation", async () => {
    const run = await runWithMocks((o) => new PyJoulesHost("h1", hostArgs({ verifyOnEveryRun: true }), o), { call: answer(read()) });
    expect(run.calls.map((c) => c.token)).toEqual(["command:local:run"]);
    const { command, stdin } = run.calls[0]!.inputs;
    expect(command).toMatch(/^'ssh' '-o' 'BatchMode=yes' /);
    expect(command).toContain(`'KnownHostsCommand=/bin/echo %H ${TEST_HOST_KEY}'`);
    expect(command).toMatch(/'-o' 'IdentityFile=[^']+' '-o' 'IdentitiesOnly=yes' '-p' '22' '-l' 'deploy' '--' '10\.0\.0\.7' '\/bin\/sh -c /);
    expect(command).not.toContain("DRIFT-UNIT");
    expect(stdin).toContain(VERIFY_SH.slice(0, 200).replaceAll("'", `'\\''`));
    expect(stdin).toMatch(/^set -- 'docker-pyjoules' 'pyjoules-client'$/m);
    const provision = run.byName("h1-profile-provision").inputs;
    expect(provision.stdin).toBe(provisionStdin("docker-pyjoules", true, TEXT, { container: "pyjoules-client", profileToken: "5", containerToken: "4" }));
    expect(run.byName("h1-client").inputs.labels).toEqual([{ label: DRIFT_LABEL, value: "4" }]);
    expect(run.byName("h1-attest").inputs.triggers.slice(2)).toEqual(["5", "4"]);
    // The read's command names the key file (secret, like the docker provider's sshOpts); the tokens carry no
    // secret and must stay readable in `preview --diff` (measured: a secret token hid the reasons).
    expect(await pulumi.isSecret(run.byName("h1-profile-provision").props.stdin)).toBe(false);
    expect(await pulumi.isSecret(run.byName("h1-client").props.labels)).toBe(false);
  });

  it("on, with drift: the reason is in the provision step's stdin; only container drift changes the label", async () => {
    const profileDrift = await runWithMocks((o) => new PyJoulesHost("h1", hostArgs({ verifyOnEveryRun: true }), o), {
      call: answer(read({ profile: ["profile docker-pyjoules is not loaded in enforce mode"] })),
    });
    expect(profileDrift.byName("h1-profile-provision").inputs.stdin).toContain("\n'6 drift: profile docker-pyjoules is not loaded in enforce mode' \\\n'4'\n");
    expect(profileDrift.byName("h1-client").inputs.labels).toEqual([{ label: DRIFT_LABEL, value: "4" }]);
    const containerDrift = await runWithMocks((o) => new PyJoulesHost("h1", hostArgs({ verifyOnEveryRun: true }), o), {
      call: answer(read({ container: ["container pyjoules-client does not exist"] })),
    });
    expect(containerDrift.byName("h1-client").inputs.labels).toEqual([{ label: DRIFT_LABEL, value: "6 drift: container pyjoules-client does not exist" }]);
  });

  it("a host that cannot be read fails, naming it and the cause; nothing is provisioned there", async () => {
    const registered: string[] = [];
    const errors = await collectRejections(async () => {
      await runWithMocks((o) => new PyJoulesHost("h1", hostArgs({ verifyOnEveryRun: true }), o), {
        call: answer(read(), 255, "ssh: connect to host 10.0.0.7 port 22: Connection refused\n"),
        outputs: (type) => (registered.push(type), {}),
      });
      await new Promise((r) => setTimeout(r, 500));
    });
    // The program fails (an unhandled rejection under mocks) before any command or container.
    expect(errors.map(String).join("\n")).toContain(
      'PyJoulesHost "h1": verifyOnEveryRun: cannot read the host: ssh: connect to host 10.0.0.7 port 22: Connection refused',
    );
    expect(registered.filter((t) => t === TYPES.command || t === TYPES.container)).toEqual([]);
  });

  it("refuses a non-boolean setting, naming the field", () => {
    expect(() => new PyJoulesHost("h1", hostArgs({ verifyOnEveryRun: "yes" as unknown as boolean }))).toThrow(
      /PyJoulesHost "h1": invalid verifyOnEveryRun/,
    );
  });

  it("fleet: the default applies to every host, a host's own setting overrides it; one read per reading host", async () => {
    const run = await runWithMocks(
      (o) =>
        new PyJoulesFleet(
          "f",
          {
            defaults: { verifyOnEveryRun: true, client: { remoteWriteUrl: TEST_URL }, connection: { privateKey: pulumi.secret(KEY) } },
            hosts: [
              { name: "a", connection: { host: "10.0.0.1" } },
              { name: "b", connection: { host: "10.0.0.2" } },
              { name: "c", connection: { host: "10.0.0.3" }, verifyOnEveryRun: false },
            ],
          },
          o,
        ),
      { call: answer(read()) },
    );
    const readHosts = run.calls.map((c) => /'--' '([^']+)'/.exec(c.inputs.command)?.[1]).sort();
    expect(readHosts).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("stack config: verifyOnEveryRun fleet-wide and per host", () => {
    const args = fleetArgsFromConfig(
      { verifyOnEveryRun: true, client: { remoteWriteUrl: TEST_URL }, hosts: [{ name: "a", host: "10.0.0.1", verifyOnEveryRun: false }] },
      undefined,
    );
    expect(args.defaults?.verifyOnEveryRun).toBe(true);
    expect(args.hosts[0]!.verifyOnEveryRun).toBe(false);
    expect(() => fleetArgsFromConfig({ verifyOnEveryRun: "yes", hosts: [{ name: "a", host: "10.0.0.1" }] }, undefined)).toThrow(
      /pulumi-pyjoules:verifyOnEveryRun/,
    );
  });
});
