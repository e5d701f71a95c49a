/**
 * Secrets (issue 5): privateKey, privateKeyPassword, password, a secret env value and a secret
 * remoteWriteUrl are Pulumi secrets in every resource that holds them, appear in no component output, in
 * no command line or stdin (the commands log stdout and stderr, and nothing secret may reach the target's
 * files that way), and in no error message; the key file the docker path needs is private (0600 in 0700).
 */
import * as pulumi from "@pulumi/pulumi";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { AppArmorProfile, PyJoulesFleet, PyJoulesHost, PyJoulesHostArgs } from "../../components";
import { materializePrivateKey } from "../../components/dockerSsh";
import { stackProgram } from "../../components/stack";
import { ATTEST_SH, PROVISION_SH, REMOVE_SH, shellQuote } from "../../profiles/commands";
import { renderPyJoulesProfile } from "../../profiles/render";
import { MockRun, Registered, collectRejections, provisionedText, runWithMocks, settle } from "./helpers/mocks";

const M = {
  key: "SECRETKEYBODYxUNITxONLY",
  keyPassword: "secret-passphrase-UNIT-ONLY",
  password: "secret-password-UNIT-ONLY",
  env: "secret-env-value-UNIT-ONLY",
  url: "secret-url-token-UNIT-ONLY",
};
const KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA${M.key}\n-----END OPENSSH PRIVATE KEY-----\n`;
const SECRET_URL = `https://metrics:${M.url}@prom.example.com/api/v1/write`;
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvbS6YQ5WlM3LL+7xcF8tJ0cPq3+1bc8cF7mQX9yHcd";
const MARKERS = Object.values(M);
const T = {
  command: "command:remote:Command",
  container: "docker:index/container:Container",
  provider: "pulumi:providers:docker",
};
const COMMAND_INPUTS = ["addPreviousOutputInEnv", "connection", "create", "delete", "logging", "stdin", "triggers"];

let keyDir: string;
beforeAll(() => {
  keyDir = join(mkdtempSync(join(tmpdir(), "pyj-secret-keys-")), "ssh");
  process.env.PULUMI_PYJOULES_SSH_DIR = keyDir;
});

const isSecret = (v: unknown): Promise<boolean> => (pulumi.output(v) as any).isSecret;
const holds = (v: unknown, markers = MARKERS) => {
  const text = JSON.stringify(v ?? null);
  return markers.filter((m) => text.includes(m));
};

/** Every secret connection field, as secret Outputs, plus a secret env value and a secret URL. */
const allSecrets = (): PyJoulesHostArgs => ({
  connection: {
    host: "10.0.0.7",
    user: "deploy",
    hostKey: HOST_KEY,
    privateKey: pulumi.secret(KEY),
    privateKeyPassword: pulumi.secret(M.keyPassword),
    password: pulumi.secret(M.password),
  },
  client: { remoteWriteUrl: pulumi.secret(SECRET_URL), env: { TOKEN: pulumi.secret(M.env), TZ: "UTC" } },
  profile: { extraReadPaths: ["/etc/pyjoules/**"] },
});

/**
 * The rules for every resource of a run: each input that holds a secret value is a secret; a command holds
 * secrets only in its connection, the container only in its envs, the docker provider none at all (its
 * sshOpts name a key file, and are secret too); nothing secret is on a command line or stdin.
 */
async function checkResources(run: MockRun<unknown>, expectSecretEnvs: boolean) {
  const where: string[] = [];
  for (const r of run.resources) {
    for (const [k, v] of Object.entries(r.inputs)) {
      if (holds(v).length === 0) continue;
      where.push(`${r.type} ${k}`);
      expect(await isSecret(r.props[k]), `${r.name}.${k} holds ${holds(v).join(", ")} and must be secret`).toBe(true);
    }
    if (r.type === T.command) checkCommand(r);
  }
  const expected = new Set([`${T.command} connection`, ...(expectSecretEnvs ? [`${T.container} envs`] : [])]);
  expect(new Set(where)).toEqual(expected);
  for (const p of run.ofType(T.provider)) {
    if (p.inputs.sshOpts.includes("IdentityFile=")) expect(await isSecret(p.props.sshOpts), `${p.name}.sshOpts`).toBe(true);
  }
  for (const c of run.ofType(T.container)) {
    if (expectSecretEnvs) expect(await isSecret(c.props.envs), `${c.name}.envs`).toBe(true);
    // The secret taints only the envs, not the container's other inputs.
    expect(await isSecret(c.props.name)).toBe(false);
    expect(await isSecret(c.props.image)).toBe(false);
  }
}

/** A command: only known inputs, nothing secret in what is run, sent on stdin or logged. */
function checkCommand(r: Registered) {
  expect(Object.keys(r.inputs).filter((k) => !["id", "urn"].includes(k)).sort()).toEqual(
    COMMAND_INPUTS.filter((k) => r.inputs[k] !== undefined),
  );
  expect(r.inputs.logging).toBe("stdoutAndStderr");
  expect(r.inputs.addPreviousOutputInEnv).toBe(false);
  expect(r.inputs.environment).toBeUndefined();
  for (const k of ["create", "delete", "stdin", "triggers"]) {
    expect(holds(r.inputs[k]), `${r.name}.${k} carries a secret to the host`).toEqual([]);
  }
  // stdin is the package's own scripts, verbatim, in their stages, then the profile text (provision) or nothing (attest).
  const stdin = String(r.inputs.stdin);
  const scripts = [ATTEST_SH, REMOVE_SH, PROVISION_SH].filter((sh) => stdin.includes(shellQuote(sh)));
  expect(stdin.startsWith("{\nset -- ") && scripts.length > 0, `${r.name}.stdin starts with a stage of the host scripts`).toBe(true);
}

async function outputsOf(host: PyJoulesHost) {
  return [await settle(host.verifiedProfile), await settle(host.attestation), await settle(host.containerName)];
}

describe("secrets in resources, outputs and command lines", () => {
  it("every secret is secret where it is held, and nowhere else", async () => {
    let host!: PyJoulesHost;
    const run = await runWithMocks((o) => (host = new PyJoulesHost("h1", allSecrets(), o)));
    // The values do arrive where they are needed.
    const conn = run.byName("h1-profile-provision").inputs.connection;
    expect([conn.privateKey, conn.privateKeyPassword, conn.password]).toEqual([KEY, M.keyPassword, M.password]);
    expect(run.byName("h1-client").inputs.envs).toEqual(expect.arrayContaining([`TOKEN=${M.env}`, `REMOTE_WRITE_URL=${SECRET_URL}`, "TZ=UTC"]));
    await checkResources(run, true);
    const outputs = await outputsOf(host);
    expect(holds(outputs)).toEqual([]);
    for (const o of [host.verifiedProfile, host.attestation, host.containerName]) expect(await isSecret(o)).toBe(false);
  });

  it("a secret profile text stays secret on stdin behind the scripts, and off the command lines", async () => {
    const text = `${renderPyJoulesProfile()}# ${M.env}\n`;
    const run = await runWithMocks(
      (o) => new AppArmorProfile("p", { connection: { host: "10.0.0.7", privateKey: KEY }, profileName: "docker-pyjoules", profileText: pulumi.secret(text) }, o),
    );
    const p = run.byName("p-provision");
    expect(provisionedText(p.inputs)).toBe(text);
    expect(await isSecret(p.props.stdin)).toBe(true);
    for (const k of ["create", "delete"]) {
      expect(holds(p.inputs[k]), k).toEqual([]);
      expect(await isSecret(p.props[k]), k).toBe(false);
    }
  });

  it("credentials given as plain strings are made secret all the same", async () => {
    const run = await runWithMocks(
      (o) =>
        new PyJoulesHost(
          "h1",
          { connection: { host: "10.0.0.7", privateKey: KEY, privateKeyPassword: M.keyPassword, password: M.password }, client: { remoteWriteUrl: "https://prom.example.com/w" } },
          o,
        ),
    );
    await checkResources(run, false);
    expect(await isSecret(run.byName("h1-docker").props.sshOpts)).toBe(true);
  });

  it("a connection given as one secret Output stays secret", async () => {
    const run = await runWithMocks(
      (o) =>
        new PyJoulesHost(
          "h1",
          { connection: pulumi.secret({ host: "10.0.0.7", privateKey: KEY, password: M.password }) as any, client: { remoteWriteUrl: "https://prom.example.com/w" } },
          o,
        ),
    );
    await checkResources(run, false);
    expect(await isSecret(run.byName("h1-docker").props.sshOpts)).toBe(true);
  });

  it("only a secret env value or URL makes the container's envs secret (the whole list, acceptably)", async () => {
    const plain = await runWithMocks((o) => new PyJoulesHost("h1", { connection: { host: "10.0.0.7", privateKey: KEY }, client: { remoteWriteUrl: "https://prom.example.com/w", env: { TZ: "UTC" } } }, o));
    expect(await isSecret(plain.byName("h1-client").props.envs)).toBe(false);
    for (const client of [
      { remoteWriteUrl: "https://prom.example.com/w", env: { TOKEN: pulumi.secret(M.env) } },
      { remoteWriteUrl: pulumi.secret(SECRET_URL) },
      // a URL with credentials is a secret even when it was given as plain text
      { remoteWriteUrl: SECRET_URL },
      { remoteWriteUrl: "https://prom.example.com/w", env: pulumi.secret({ TOKEN: M.env }) },
    ]) {
      const run = await runWithMocks((o) => new PyJoulesHost("h1", { connection: { host: "10.0.0.7", privateKey: KEY }, client }, o));
      await checkResources(run, true);
    }
  });

  it("a fleet and the root program (secret config key sshPrivateKey) keep them secret on every host", async () => {
    let fleet!: PyJoulesFleet;
    const run = await runWithMocks(
      (o) =>
        (fleet = new PyJoulesFleet(
          "f",
          {
            defaults: { connection: { user: "deploy", privateKey: pulumi.secret(KEY), password: pulumi.secret(M.password) }, client: { remoteWriteUrl: pulumi.secret(SECRET_URL), env: { TOKEN: pulumi.secret(M.env) } } },
            hosts: [
              { name: "a", connection: { host: "10.0.0.1" } },
              { name: "b", connection: { host: "10.0.0.2" }, wave: 1, client: { env: { B: "2" } } },
            ],
          },
          o,
        )),
    );
    await checkResources(run, true);
    expect(holds([await settle(fleet.verifiedProfiles), await settle(fleet.attestations)])).toEqual([]);

    const config = {
      "pulumi-pyjoules:hosts": JSON.stringify([{ name: "n1", host: "10.0.0.1" }, { name: "n2", host: "10.0.0.2", port: 2222 }]),
      "pulumi-pyjoules:ssh": JSON.stringify({ user: "deploy" }),
      "pulumi-pyjoules:client": JSON.stringify({ remoteWriteUrl: "https://prom.example.com/w" }),
      "pulumi-pyjoules:sshPrivateKey": KEY,
    };
    let outputs: any;
    const stack = await runWithMocks((o) => (outputs = stackProgram(new pulumi.Config(), o)), { config, secretConfigKeys: ["pulumi-pyjoules:sshPrivateKey"] });
    expect(stack.ofType(T.command).length).toBe(4);
    await checkResources(stack, false);
    for (const p of stack.ofType(T.provider)) expect(await isSecret(p.props.sshOpts)).toBe(true);
    expect(holds([await settle(outputs.verifiedProfiles), await settle(outputs.attestations)])).toEqual([]);
  });

  it("the root program's secret config key remoteWriteUrl reaches only the containers' envs, as a secret", async () => {
    const config = {
      "pulumi-pyjoules:hosts": JSON.stringify([{ name: "n1", host: "10.0.0.1" }, { name: "n2", host: "10.0.0.2" }]),
      "pulumi-pyjoules:client": JSON.stringify({ serviceLabel: "lab" }),
      "pulumi-pyjoules:sshPrivateKey": KEY,
      "pulumi-pyjoules:remoteWriteUrl": SECRET_URL,
    };
    const secretConfigKeys = ["pulumi-pyjoules:sshPrivateKey", "pulumi-pyjoules:remoteWriteUrl"];
    let outputs: any;
    const stack = await runWithMocks((o) => (outputs = stackProgram(new pulumi.Config(), o)), { config, secretConfigKeys });
    await checkResources(stack, true);
    for (const c of stack.ofType(T.container)) expect(c.inputs.envs).toContain(`REMOTE_WRITE_URL=${SECRET_URL}`);
    expect(holds([await settle(outputs.verifiedProfiles), await settle(outputs.attestations)])).toEqual([]);

    const both = { ...config, "pulumi-pyjoules:client": JSON.stringify({ remoteWriteUrl: "https://prom.example.com/w" }) };
    await expect(runWithMocks((o) => stackProgram(new pulumi.Config(), o), { config: both, secretConfigKeys })).rejects.toThrow(
      "stack config (every key is documented in Pulumi.example.yaml): invalid pulumi-pyjoules:remoteWriteUrl: set it or pulumi-pyjoules:client.remoteWriteUrl, not both",
    );
  });
});

describe("secrets never in an error message", () => {
  /** Runs a host that must fail and returns every error text it produced (thrown or rejected). */
  async function failures(args: () => PyJoulesHostArgs): Promise<string[]> {
    const seen: string[] = [];
    const rejections = await collectRejections(async () => {
      try {
        const run = await runWithMocks((o) => new PyJoulesHost("h1", args(), o));
        await Promise.race([
          Promise.allSettled([settle(run.result.verifiedProfile), settle(run.result.attestation)]).then((rs) =>
            rs.forEach((r) => r.status === "rejected" && seen.push(String(r.reason?.stack ?? r.reason))),
          ),
          new Promise((r) => setTimeout(r, 500)),
        ]);
      } catch (e) {
        seen.push(String((e as Error).stack ?? e));
      }
    });
    return [...seen, ...rejections.map((e) => String((e as Error)?.stack ?? e))];
  }
  const conn = (over: Record<string, unknown>) => ({ host: "10.0.0.7", privateKey: KEY, ...over }) as any;
  const url = "https://prom.example.com/w";

  it.each([
    ["privateKey (plain)", () => ({ connection: conn({ privateKey: `not-a-key ${M.key}` }), client: { remoteWriteUrl: url } }), /connection\.privateKey/],
    ["privateKey (secret Output)", () => ({ connection: conn({ privateKey: pulumi.secret(`not-a-key ${M.key}`) }), client: { remoteWriteUrl: url } }), /connection\.privateKey/],
    ["privateKeyPassword (secret Output)", () => ({ connection: conn({ privateKeyPassword: pulumi.secret({ pass: M.keyPassword }) }), client: { remoteWriteUrl: url } }), /connection\.privateKeyPassword/],
    ["password (plain)", () => ({ connection: conn({ password: { pw: M.password } }), client: { remoteWriteUrl: url } }), /connection\.password/],
    ["password (secret Output)", () => ({ connection: conn({ password: pulumi.secret([M.password]) }), client: { remoteWriteUrl: url } }), /connection\.password/],
    ["proxy privateKey (secret Output)", () => ({ connection: conn({ proxy: pulumi.secret({ host: "bastion.example.com", privateKey: `nokey ${M.key}` }) }), client: { remoteWriteUrl: url } }), /connection\.proxy\.privateKey/],
    ["env value (plain)", () => ({ connection: conn({}), client: { remoteWriteUrl: url, env: { TOKEN: `${M.env}\u0000` } } }), /client\.env\.TOKEN/],
    ["env value (secret Output)", () => ({ connection: conn({}), client: { remoteWriteUrl: url, env: { TOKEN: pulumi.secret(`${M.env}\u0000`) } } }), /client\.env\.TOKEN/],
    ["env (one secret Output)", () => ({ connection: conn({}), client: { remoteWriteUrl: url, env: pulumi.secret({ TOKEN: `${M.env}\u0000` }) } }), /client\.env\.TOKEN/],
    ["remoteWriteUrl (plain)", () => ({ connection: conn({}), client: { remoteWriteUrl: `ftp://u:${M.url}@x` } }), /client\.remoteWriteUrl/],
    ["remoteWriteUrl (secret Output)", () => ({ connection: conn({}), client: { remoteWriteUrl: pulumi.secret(`ftp://u:${M.url}@x`) } }), /client\.remoteWriteUrl/],
  ] as const)("an invalid %s is refused without showing it", async (_, args, field) => {
    const errors = await failures(args as () => PyJoulesHostArgs);
    expect(errors.length, "the host must fail").toBeGreaterThan(0);
    expect(errors.some((e) => field.test(e)), errors.join("\n")).toBe(true);
    for (const e of errors) expect(holds(e), e).toEqual([]);
  });

  it("a fleet's secret defaults are not shown either", async () => {
    const errors: string[] = [];
    const rejections = await collectRejections(async () => {
      try {
        await runWithMocks((o) => new PyJoulesFleet("f", { defaults: { client: { remoteWriteUrl: url, env: { TOKEN: `${M.env}\u0000` } }, connection: { privateKey: `bad ${M.key}` } }, hosts: [{ name: "a", connection: { host: "10.0.0.1" } }] }, o));
      } catch (e) {
        errors.push(String((e as Error).stack ?? e));
      }
    });
    const all = [...errors, ...rejections.map(String)];
    expect(all.join("\n")).toMatch(/connection\.privateKey/);
    for (const e of all) expect(holds(e), e).toEqual([]);
  });
});

describe("the key file of the docker path", () => {
  const mode = (p: string) => statSync(p).mode & 0o777;

  it("is mode 0600 in a 0700 directory, readable by no one else, and the path in sshOpts is it", async () => {
    const run = await runWithMocks((o) => new PyJoulesHost("h1", allSecrets(), o));
    const opts: string[] = JSON.parse(run.byName("h1-docker").inputs.sshOpts);
    const file = opts.find((o) => o.startsWith("IdentityFile="))!.slice("IdentityFile=".length);
    expect(file.startsWith(keyDir + "/")).toBe(true);
    expect(file).not.toContain(M.key);
    expect(readFileSync(file, "utf8")).toBe(KEY);
    expect(mode(file)).toBe(0o600);
    expect(mode(keyDir)).toBe(0o700);
    expect(mode(file) & 0o077).toBe(0);
    expect(statSync(file).uid).toBe(process.getuid!());
    // Only key files live there (no known_hosts or other file: the host key is pinned via KnownHostsCommand).
    expect(readdirSync(keyDir).every((f) => /^id-[0-9a-f]{16}$/.test(f))).toBe(true);
    expect(opts).toContain("UserKnownHostsFile=/dev/null");
  });

  it("repairs a stale world-readable file and directory, whatever the umask", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "pyj-secret-stale-")), "ssh");
    const saved = process.env.PULUMI_PYJOULES_SSH_DIR;
    let oldMask: number | undefined;
    try {
      process.env.PULUMI_PYJOULES_SSH_DIR = dir;
      try {
        oldMask = process.umask(0);
      } catch {
        oldMask = undefined; // worker threads cannot change the umask; the check below still holds
      }
      const file = materializePrivateKey(KEY);
      expect([mode(dir), mode(file)]).toEqual([0o700, 0o600]);
      chmodSync(dir, 0o755);
      writeFileSync(file, "stale", { mode: 0o644 });
      chmodSync(file, 0o644);
      expect(materializePrivateKey(KEY)).toBe(file);
      expect([mode(dir), mode(file), readFileSync(file, "utf8")]).toEqual([0o700, 0o600, KEY]);
      // A key without its final newline lands in the same file, newline added.
      expect(materializePrivateKey(KEY.trimEnd())).toBe(file);
      // Another key, another file; both private.
      const other = materializePrivateKey(KEY.replace(M.key, "OTHERKEY"));
      expect(other).not.toBe(file);
      expect(mode(other)).toBe(0o600);
    } finally {
      if (oldMask !== undefined) process.umask(oldMask);
      process.env.PULUMI_PYJOULES_SSH_DIR = saved;
    }
  });
});
