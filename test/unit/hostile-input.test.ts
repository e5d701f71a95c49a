/**
 * Hostile input (issue 5): every string that reaches a shell, a file path or a profile rule is either
 * rejected by validation with a message naming the field, or reaches the host only as data.
 *
 * - fast-check generates ≥ 1,000 values per field (valid values, valid values with a nasty token spliced
 *   in, nasty-token soup, very long strings); each is classified by the exported zod schemas exactly as
 *   the components' precheck does (parseOrThrow), and accepted values are checked where they land.
 * - Every generated value (NUL aside: no argv can carry it, and every field rejects it) is EXECUTED as an
 *   argument of asRoot(...) — the same builder the provisioning commands use — under /bin/sh, bash and
 *   busybox sh, with `sudo`, `id` and `hostname` replaced by recorders and the host script replaced by a
 *   recorder (on stdin, as the real scripts travel): each must arrive as exactly one argument, byte for
 *   byte, at sudo and at the script, and no payload may run (payloads touch files in a canary directory
 *   that must stay empty).
 * - The real provisionCommand/removeCommand/attestCommand strings run the same way (the script on stdin
 *   swapped for the recorder, its length and sha256 on the line with it); the docker provider's ssh inputs
 *   go through the real `ssh -G`.
 * - Profile-rule injection: extraReadPaths and profile names either fail validation or add exactly their
 *   own rules, leaving every other rule as it was; the real apparmor_parser compiles a sample.
 * - A sample per field goes through PyJoulesHost under Pulumi mocks.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppArmorProfile, PyJoulesHost, PyJoulesHostArgs } from "../../components";
import { dockerHostUrl, dockerSshOpts, materializePrivateKey } from "../../components/dockerSsh";
import { clientEnv } from "../../components/pyJoulesHost";
import { clientSchema, connectionSchema, profileArgsSchema } from "../../components/schemas";
import { parseOrThrow } from "../../components/validate";
import {
  ATTEST_SH, PROVISION_SH, REMOVE_SH, asRoot, attestInvocation, provisionCommand, provisionInvocation, provisionStdin, removeCommand, shellQuote,
  stageLoader, type HostInvocation,
} from "../../profiles/commands";
import { renderPyJoulesProfile } from "../../profiles/render";
import { hostile, spliced, validValues } from "./fixtures/hostile/arbitraries";
import { RECORDER_SCRIPT, SHELLS, Sandbox, batches } from "./fixtures/hostile/sandbox";
import { runWithMocks } from "./helpers/mocks";

const N = 1100; // generated values per field: ≥ 1,000 of them reach the sandbox (NUL cannot, and is refused)
const SEED = 0x5e1f; // fixed: the run is reproducible; change it to explore
const MOCK_SAMPLE = 50; // values per field through the full component under mocks
const MOCK_ACCEPTED = 8; // of which at most this many accepted ones (each costs ~65 ms under mocks)
const REAL_COMMANDS = 18; // profile names through the real provision/remove/attest command strings
const COMPILE_SAMPLE = 30; // profiles through the real apparmor_parser
const SSH_SAMPLE = 50; // docker ssh inputs through the real `ssh -G`

const WHERE = 'PyJoulesHost "h"';
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAHOSTILE-TEST-ONLY\n-----END OPENSSH PRIVATE KEY-----\n";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvbS6YQ5WlM3LL+7xcF8tJ0cPq3+1bc8cF7mQX9yHcd";
const URL_OK = "https://prom.example.com/api/v1/write";
const FEATURES = "/usr/share/apparmor-features/features";

const sandbox = new Sandbox();
const canary = sandbox.canary;
const enc = (s: string) => Buffer.from(s, "utf8");
const hasNul = (s: string) => s.includes("\u0000");

/** The stage a command line reads (after `skip` bytes of its stdin), and what comes before and after it. */
function stageOf(inv: HostInvocation): { skip: number; before: string; stage: string; rest: string } {
  const m = /dd bs=1(?: skip=(\d+))? count=(\d+) /.exec(inv.command);
  if (!m) throw new Error(`no stage loader in ${inv.command}`);
  const [skip, count] = [Number(m[1] ?? 0), Number(m[2])];
  const bytes = enc(inv.stdin);
  return { skip, before: bytes.subarray(0, skip).toString(), stage: bytes.subarray(skip, skip + count).toString(), rest: bytes.subarray(skip + count).toString() };
}

/** The command line is exactly the loader of its stage, and the stage sets the arguments on one line: `setLine`. */
function loadsStage(inv: HostInvocation, scriptName: string, setLine: string): void {
  const s = stageOf(inv);
  eq(inv.command, stageLoader(scriptName, s.skip, s.stage), `${scriptName} command line`);
  if (!s.stage.startsWith(`{\n${setLine}\ns='`)) throw new Error(`${scriptName}: the stage does not start with ${setLine}`);
}

/**
 * The invocation with `script` swapped for the recorder inside its stage: first checks that the command line
 * is exactly the loader of that stage and that the stage holds the script once, quoted.
 */
function swapScript(inv: HostInvocation, scriptName: string, script: string): HostInvocation & { rest: string } {
  const s = stageOf(inv);
  eq(inv.command, stageLoader(scriptName, s.skip, s.stage), `${scriptName} command line`);
  if (s.stage.split(shellQuote(script)).length !== 2) throw new Error(`${scriptName}: the stage does not hold its script exactly once`);
  const stage = s.stage.replace(shellQuote(script), () => shellQuote(RECORDER_SCRIPT));
  return { command: stageLoader(scriptName, s.skip, stage), stdin: s.before + stage + s.rest, rest: s.rest };
}

// ---------------------------------------------------------------------------------------------------------
// Fields

type Parsed = { ok: true; value: string } | { ok: false; message: string };
const classify = (f: () => string): Parsed => {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
};

interface FieldSpec {
  /** Field as the error message names it. */
  path: string;
  arb: fc.Arbitrary<unknown>;
  /** Validates `v` exactly as the component's precheck does; returns the value that goes on. */
  parse(v: unknown): string;
  /** The message must not show the value. */
  secret?: boolean;
  /** Where an accepted value lands (pure builders); throws on a violation. */
  accepted(value: string, raw: unknown): void;
  /** A PyJoulesHost whose only unusual argument is `v`. */
  hostArgs(v: unknown): PyJoulesHostArgs;
  /** Checks, on the resources of an accepted host, that the value is where it belongs. */
  placed(inputs: (resource: string) => any, value: string): void;
}

const conn = (over: Record<string, unknown>) =>
  ({ connection: { host: "10.0.0.7", user: "deploy", privateKey: KEY, hostKey: HOST_KEY, ...over }, client: { remoteWriteUrl: URL_OK } }) as unknown as PyJoulesHostArgs;
const client = (over: Record<string, unknown>) =>
  ({ connection: { host: "10.0.0.7", user: "deploy", privateKey: KEY, hostKey: HOST_KEY }, client: { remoteWriteUrl: URL_OK, ...over } }) as unknown as PyJoulesHostArgs;
const profile = (over: Record<string, unknown>) => ({ ...conn({}), profile: over }) as unknown as PyJoulesHostArgs;

const parseConn = (over: Record<string, unknown>) => parseOrThrow(connectionSchema, { host: "10.0.0.7", ...over }, WHERE, "connection");
const parseClient = (over: Record<string, unknown>) => parseOrThrow(clientSchema, { remoteWriteUrl: URL_OK, ...over }, WHERE, "client");
const parseProfile = (over: Record<string, unknown>) => parseOrThrow(profileArgsSchema, over, WHERE, "profile");

/** Characters with no meaning to sh, ssh's %/$/~ expansion or AppArmor, and no leading "-". */
const inert = (value: string, chars: RegExp, what: string) => {
  if (!chars.test(value) || value.startsWith("-")) throw new Error(`${what} ${JSON.stringify(value)} holds a character it must not`);
};
const envEntry = (envs: string[], key: string) => {
  const hits = envs.filter((e) => e.slice(0, e.indexOf("=")) === key);
  if (hits.length !== 1) throw new Error(`expected exactly one ${key}= entry, got ${JSON.stringify(hits)}`);
  return hits[0]!.slice(key.length + 1);
};
const eq = (a: unknown, b: unknown, what: string) => {
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${what}: ${JSON.stringify(a)} !== ${JSON.stringify(b)}`);
};
const sshOptsOf = (inputs: (r: string) => any): string[] => JSON.parse(inputs("h-docker").sshOpts);
const RESERVED_NAMES = ["unconfined", "docker-default"];
/** How ssh prints a host: names lower-cased, IPv6 literals in canonical form (zone kept). */
const canonicalHost = (h: string) => {
  if (isIP(h) !== 6) return h.toLowerCase();
  const [addr, zone] = h.split("%");
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1) + (zone === undefined ? "" : `%${zone}`);
};

const portArb = fc.oneof(
  { arbitrary: fc.integer({ min: -100_000, max: 200_000 }), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 65535 }), weight: 3 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 22.5, 65536, 1e21), weight: 1 },
  { arbitrary: hostile(validValues.port, canary), weight: 2 },
);

const FIELDS: FieldSpec[] = [
  {
    path: "connection.host",
    arb: hostile(validValues.host, canary),
    parse: (v) => parseConn({ host: v }).host,
    accepted(h) {
      inert(h, /^[A-Za-z0-9.:%-]+$/, "host");
      if (h.includes("%") && isIP(h) !== 6) throw new Error(`% outside an IPv6 zone: ${h}`);
      const m = /^ssh:\/\/([a-z0-9_-]+)@(\[[^\]]+\]|[^:[\]@/]+):(\d+)$/.exec(dockerHostUrl("deploy", h, 22));
      if (!m || m[1] !== "deploy" || m[2]!.replace(/^\[(.*)\]$/, "$1") !== h || m[3] !== "22") throw new Error(`docker URL does not carry ${h} intact`);
    },
    hostArgs: (v) => conn({ host: v }),
    placed(inputs, h) {
      eq(inputs("h-profile-provision").connection.host, h, "provision connection.host");
      eq(inputs("h-attest").connection.host, h, "attest connection.host");
      eq(inputs("h-docker").host, dockerHostUrl("deploy", h, 22), "docker host");
    },
  },
  {
    path: "connection.user",
    arb: hostile(validValues.user, canary),
    parse: (v) => parseConn({ user: v }).user!,
    accepted: (u) => inert(u, /^[a-z_][a-z0-9_-]{0,31}$/, "user"),
    hostArgs: (v) => conn({ user: v }),
    placed(inputs, u) {
      eq(inputs("h-profile-provision").connection.user, u, "connection.user");
      eq(inputs("h-docker").host, `ssh://${u}@10.0.0.7:22`, "docker host");
    },
  },
  {
    path: "connection.port",
    arb: portArb,
    parse: (v) => String(parseConn({ port: v }).port),
    accepted(p, raw) {
      if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 1 || raw > 65535) throw new Error(`port ${String(raw)} accepted`);
      inert(p, /^[1-9][0-9]{0,4}$/, "port");
    },
    hostArgs: (v) => conn({ port: v }),
    placed(inputs, p) {
      eq(inputs("h-profile-provision").connection.port, Number(p), "connection.port");
      eq(inputs("h-docker").host, `ssh://deploy@10.0.0.7:${p}`, "docker host");
    },
  },
  {
    path: "connection.hostKey",
    arb: hostile(validValues.hostKey, canary),
    parse: (v) => parseConn({ hostKey: v }).hostKey!,
    accepted(k, raw) {
      inert(k, /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}$/, "hostKey");
      eq(k, String(raw).trim().split(/\s+/).slice(0, 2).join(" "), "hostKey keeps type and key, drops the comment");
      const opt = dockerSshOpts({ hostKey: k }).find((o) => o.startsWith("KnownHostsCommand="));
      eq(opt, `KnownHostsCommand=/bin/echo %H ${k}`, "KnownHostsCommand");
    },
    hostArgs: (v) => conn({ hostKey: v }),
    placed(inputs, k) {
      eq(inputs("h-profile-provision").connection.hostKey, k, "connection.hostKey");
      if (!sshOptsOf(inputs).includes(`KnownHostsCommand=/bin/echo %H ${k}`)) throw new Error("docker path does not pin the key");
    },
  },
  {
    path: "connection.agentSocketPath",
    arb: hostile(validValues.agentSocketPath, canary),
    parse: (v) => parseConn({ agentSocketPath: v }).agentSocketPath!,
    accepted: (p) => inert(p, /^\/[A-Za-z0-9_.@:+/-]+$/, "agentSocketPath"),
    hostArgs: (v) => conn({ agentSocketPath: v, privateKey: undefined }),
    placed(inputs, p) {
      eq(inputs("h-profile-provision").connection.agentSocketPath, p, "connection.agentSocketPath");
      if (!sshOptsOf(inputs).includes(`IdentityAgent=${p}`)) throw new Error("docker path does not use the agent");
    },
  },
  {
    path: "profile.name",
    arb: hostile(validValues.profileName, canary, RESERVED_NAMES),
    parse: (v) => parseProfile({ name: v }).name!,
    accepted(n) {
      inert(n, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "profile name");
      if (RESERVED_NAMES.includes(n)) throw new Error(`reserved profile name ${n} accepted`);
      const provision = provisionInvocation(n, true, "");
      loadsStage(provision, "pyjoules-provision", `set -- ${shellQuote(n)} 'yes'`);
      loadsStage({ command: removeCommand(n), stdin: provision.stdin }, "pyjoules-remove", `set -- ${shellQuote(n)}`);
      loadsStage(attestInvocation(n, "pyjoules-client", false), "pyjoules-attest", `set -- ${shellQuote(n)} 'pyjoules-client' 'no'`);
    },
    hostArgs: (v) => profile({ name: v }),
    placed(inputs, n) {
      const p = inputs("h-profile-provision");
      eq(p.create, provisionCommand(n, true), "provision create");
      eq(p.delete, removeCommand(n), "provision delete");
      eq(p.stdin, provisionStdin(n, true, renderPyJoulesProfile({ name: n })), "provision stdin");
      eq(inputs("h-client").securityOpts, [`apparmor=${n}`, "systempaths=unconfined"], "securityOpts");
      eq(inputs("h-attest").create, attestInvocation(n, "pyjoules-client", true).command, "attest create");
      eq(inputs("h-attest").stdin, attestInvocation(n, "pyjoules-client", true).stdin, "attest stdin");
    },
  },
  {
    path: "profile.extraReadPaths.0",
    arb: hostile(validValues.readPath, canary, ["/", "/**", "/a/**/b", "/a/../etc/shadow", "/a/./b", "/a//b"]),
    parse: (v) => parseProfile({ extraReadPaths: [v] }).extraReadPaths![0]!,
    accepted(p) {
      inert(p, /^(?:\/[A-Za-z0-9_.:+-]+)+(?:\/\*\*)?$/, "extra read path");
      if (p.split("/").some((s) => s === "." || s === "..")) throw new Error(`dot segment in ${p}`);
    },
    hostArgs: (v) => profile({ extraReadPaths: [v] }),
    placed(inputs, p) {
      const prov = inputs("h-profile-provision");
      eq(prov.stdin, provisionStdin("docker-pyjoules", true, renderPyJoulesProfile({ extraReadPaths: [p] })), "provision stdin");
      eq(prov.create, provisionCommand("docker-pyjoules", true), "the path never rides on the command line");
    },
  },
  {
    path: "client.image",
    arb: hostile(validValues.image, canary),
    parse: (v) => parseClient({ image: v }).image!,
    accepted: (i) => inert(i, /^[A-Za-z0-9._:/@-]{1,512}$/, "image"),
    hostArgs: (v) => client({ image: v }),
    placed: (inputs, i) => eq(inputs("h-client").image, i, "container image"),
  },
  {
    path: "client.containerName",
    arb: hostile(validValues.containerName, canary),
    parse: (v) => parseClient({ containerName: v }).containerName!,
    accepted(c) {
      inert(c, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, "container name");
      loadsStage(attestInvocation("docker-pyjoules", c, true), "pyjoules-attest", `set -- 'docker-pyjoules' ${shellQuote(c)} 'yes'`);
    },
    hostArgs: (v) => client({ containerName: v }),
    placed(inputs, c) {
      eq(inputs("h-client").name, c, "container name");
      eq(inputs("h-attest").create, attestInvocation("docker-pyjoules", c, true).command, "attest create");
      eq(inputs("h-attest").stdin, attestInvocation("docker-pyjoules", c, true).stdin, "attest stdin");
    },
  },
  {
    path: "client.env",
    arb: hostile(validValues.envKey, canary),
    parse: (v) => {
      const c = parseClient({ env: { [String(v)]: "x" } });
      return Object.keys(c.env ?? {}).join("\u0001");
    },
    accepted(k, raw) {
      eq(k, raw, "env key kept as given");
      inert(k, /^[A-Za-z_][A-Za-z0-9_]*$/, "env key");
      eq(envEntry(clientEnv(parseClient({ env: { [k]: "x" } })), k), "x", "env entry");
    },
    hostArgs: (v) => client({ env: { [String(v)]: "x" } }),
    placed: (inputs, k) => eq(envEntry(inputs("h-client").envs, k), "x", "container env"),
  },
  {
    path: "client.env.EXTRA",
    secret: true,
    arb: hostile(validValues.envValue, canary),
    parse: (v) => parseClient({ env: { EXTRA: v } }).env!.EXTRA!,
    accepted(v) {
      if (hasNul(v) || /[\uD800-\uDFFF]/u.test(v)) throw new Error("NUL or lone surrogate accepted");
      eq(envEntry(clientEnv(parseClient({ env: { EXTRA: v } })), "EXTRA"), v, "env value byte for byte");
      eq(enc(v).toString("utf8"), v, "UTF-8 round trip");
    },
    hostArgs: (v) => client({ env: { EXTRA: v } }),
    placed: (inputs, v) => eq(envEntry(inputs("h-client").envs, "EXTRA"), v, "container env"),
  },
  {
    path: "client.serviceLabel",
    arb: hostile(validValues.serviceLabel, canary),
    parse: (v) => parseClient({ serviceLabel: v }).serviceLabel!,
    accepted(l) {
      inert(l, /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, "service label");
      eq(envEntry(clientEnv(parseClient({ serviceLabel: l })), "SERVICE_LABEL"), l, "SERVICE_LABEL");
    },
    hostArgs: (v) => client({ serviceLabel: v }),
    placed: (inputs, l) => eq(envEntry(inputs("h-client").envs, "SERVICE_LABEL"), l, "container env"),
  },
  {
    path: "client.logLevel",
    arb: hostile(validValues.logLevel, canary),
    parse: (v) => parseClient({ logLevel: v }).logLevel!,
    accepted: (l) => eq(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].includes(l), true, `log level ${l}`),
    hostArgs: (v) => client({ logLevel: v }),
    placed: (inputs, l) => eq(envEntry(inputs("h-client").envs, "LOG_LEVEL"), l, "container env"),
  },
  {
    path: "client.remoteWriteUrl",
    secret: true,
    arb: hostile(validValues.remoteWriteUrl, canary),
    parse: (v) => parseClient({ remoteWriteUrl: v }).remoteWriteUrl,
    accepted(u) {
      if (/[\s\u0000-\u001f\u007f\uD800-\uDFFF]/u.test(u)) throw new Error("whitespace, control character or lone surrogate accepted");
      if (!/^https?:$/.test(new URL(u).protocol)) throw new Error(`scheme of ${u}`);
      eq(envEntry(clientEnv(parseClient({ remoteWriteUrl: u })), "REMOTE_WRITE_URL"), u, "REMOTE_WRITE_URL");
    },
    hostArgs: (v) => client({ remoteWriteUrl: v }),
    placed: (inputs, u) => eq(envEntry(inputs("h-client").envs, "REMOTE_WRITE_URL"), u, "container env"),
  },
];

/** Every field's generated values with their verdicts, generated once (fixed seed). */
interface Generated {
  raw: unknown;
  text: string;
  verdict: Parsed;
}
const generated = new Map<string, Generated[]>();
const stats = new Map<string, { generated: number; accepted: number; executed: number; viaComponent: number }>();
const stat = (path: string) => {
  if (!stats.has(path)) stats.set(path, { generated: 0, accepted: 0, executed: 0, viaComponent: 0 });
  return stats.get(path)!;
};

beforeAll(() => {
  process.env.PULUMI_PYJOULES_SSH_DIR = join(mkdtempSync(join(tmpdir(), "pyj-hostile-keys-")), "ssh");
});

afterAll(() => {
  const rows = [...stats].map(([f, s]) => `${f.padEnd(28)} generated ${s.generated}  accepted ${s.accepted}  executed in the sandbox ${s.executed}  via PyJoulesHost ${s.viaComponent}`);
  console.log(`hostile input (seed ${SEED}), ${sandbox.executions} sandbox executions:\n  ${rows.join("\n  ")}`);
});

// ---------------------------------------------------------------------------------------------------------

describe("validation: each value is rejected naming its field, or accepted in an inert form", () => {
  it.each(FIELDS.map((f) => [f.path, f] as const))("%s", (_, spec) => {
    const all: Generated[] = [];
    fc.assert(
      fc.property(spec.arb, (raw) => {
        const verdict = classify(() => spec.parse(raw));
        const text = typeof raw === "string" ? raw : String(raw);
        all.push({ raw, text, verdict });
        if (verdict.ok) {
          spec.accepted(verdict.value, raw);
        } else {
          // One error for the component and the field, before anything is registered.
          expect(verdict.message.startsWith(`${WHERE}: invalid ${spec.path}`), verdict.message).toBe(true);
          if (spec.secret) expect(verdict.message).not.toContain("(got");
        }
        // NUL can reach no shell, no file name and no environment: every field refuses it.
        if (typeof raw === "string" && hasNul(raw)) expect(verdict.ok).toBe(false);
      }),
      { numRuns: N, seed: SEED },
    );
    generated.set(spec.path, all);
    const s = stat(spec.path);
    s.generated = all.length;
    s.accepted = all.filter((g) => g.verdict.ok).length;
    expect(s.generated).toBeGreaterThanOrEqual(N);
    expect(all.filter((g) => !hasNul(g.text)).length).toBeGreaterThanOrEqual(1000);
    // Both outcomes are exercised.
    expect(s.accepted).toBeGreaterThan(N / 20);
    expect(s.generated - s.accepted).toBeGreaterThan(N / 20);
  });

  it("the command builders refuse exactly the profile names validation refuses", () => {
    for (const g of generated.get("profile.name")!) {
      const name = g.text;
      const built = classify(() => [provisionCommand(name, true), removeCommand(name), attestInvocation(name, "c", true).command].join(""));
      expect(built.ok, JSON.stringify(name)).toBe(g.verdict.ok);
    }
    for (const g of generated.get("client.containerName")!) {
      if (g.verdict.ok) expect(() => attestInvocation("docker-pyjoules", g.text, true)).not.toThrow();
    }
  });

  it("the renderer refuses exactly the names and paths validation refuses", () => {
    for (const g of generated.get("profile.name")!) {
      if (RESERVED_NAMES.includes(g.text)) continue; // the renderer also renders docker-default itself
      const r = classify(() => renderPyJoulesProfile({ name: g.text }));
      expect(r.ok, JSON.stringify(g.text)).toBe(g.verdict.ok);
      if (!r.ok) expect(r.message).toMatch(/^profile name: /);
    }
    for (const g of generated.get("profile.extraReadPaths.0")!) {
      const r = classify(() => renderPyJoulesProfile({ extraReadPaths: [g.text] }));
      expect(r.ok, JSON.stringify(g.text)).toBe(g.verdict.ok);
      if (!r.ok) expect(r.message).toMatch(/^profile extraReadPaths entry: /);
    }
  });
});

describe("sandbox: values reach the host only as quoted data", () => {
  const SCRIPT_NAME = "pyjoules-hostile";

  // Every value under dash (/bin/sh) and bash; busybox ash takes every third batch (time budget).
  it.each(SHELLS.map((s) => [s.join(" "), s] as const))("every generated value is one literal argument under %s", (_, shell) => {
    let batchNo = 0;
    for (const spec of FIELDS) {
      const values = generated.get(spec.path)!.map((g) => g.text).filter((t) => !hasNul(t));
      for (const batch of batches(values)) {
        const n = batchNo++;
        if (shell[0] === "busybox" && n % 3 !== 0) continue;
        const startUid = n % 2 === 0 ? "1000" : "0";
        const stdin = Buffer.concat(batch.map((v) => Buffer.concat([enc(v), Buffer.from([0])])));
        const inv = asRoot(SCRIPT_NAME, RECORDER_SCRIPT, batch);
        // The stage (arguments and script) travels on stdin first; the recorder must see the rest, byte for byte.
        const r = sandbox.run(shell, inv.command, { stdin: Buffer.concat([enc(inv.stdin), stdin]), startUid });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.uid).toBe("0");
        // $0 and the arguments, byte for byte, one per value.
        expect(r.argv.length).toBe(batch.length + 1);
        expect(r.argv[0]!.equals(enc(SCRIPT_NAME))).toBe(true);
        batch.forEach((v, i) => expect(r.argv[i + 1]!.equals(enc(v)), `${spec.path} ${JSON.stringify(v)}`).toBe(true));
        expect(r.stdin.equals(stdin)).toBe(true);
        // At the sudo boundary too: `sudo -n true`, then `sudo -n /bin/sh -c SCRIPT NAME ARGS...` verbatim.
        if (startUid === "1000") {
          expect(r.sudoCalls.length).toBe(2);
          expect(r.sudoCalls[0]!.map(String)).toEqual(["-n", "true"]);
          const call = r.sudoCalls[1]!;
          expect(call.slice(0, 5).map(String)).toEqual(["-n", "/bin/sh", "-c", RECORDER_SCRIPT, SCRIPT_NAME]);
          expect(call.length).toBe(batch.length + 5);
          batch.forEach((v, i) => expect(call[i + 5]!.equals(enc(v))).toBe(true));
        } else {
          expect(r.sudoCalls).toEqual([]);
        }
        if (shell === SHELLS[0]) stat(spec.path).executed += batch.length;
      }
    }
    expect(sandbox.pwned()).toEqual([]);
  });

  it("the real provision/remove/attest command strings, script on stdin swapped for the recorder, carry names as data", () => {
    const names = generated.get("profile.name")!.filter((g) => g.verdict.ok).map((g) => g.text);
    const containers = generated.get("client.containerName")!.filter((g) => g.verdict.ok).map((g) => g.text);
    const paths = generated.get("profile.extraReadPaths.0")!.filter((g) => g.verdict.ok).map((g) => g.text);
    expect(names.length).toBeGreaterThan(REAL_COMMANDS);
    const sample = names.slice(0, REAL_COMMANDS);
    sample.forEach((name, i) => {
      const shell = SHELLS[i % SHELLS.length]!;
      const startUid = i % 2 === 0 ? "1000" : "0";
      const container = containers[i % containers.length]!;
      const rapl = i % 3 !== 0;
      const text = renderPyJoulesProfile({ name, extraReadPaths: paths.slice(i, i + 3) });
      // The provision prelude adds the SSH user's docker facts (no docker on the sandbox's PATH).
      const userDocker = startUid === "0" ? "root" : "deploy missing - no";
      const provision = provisionInvocation(name, rapl, text);
      // delete runs with create's stdin: the remove stage first, and the rest (provision stage, profile) it leaves alone
      const remove = { command: removeCommand(name), stdin: provision.stdin };
      // [invocation with the recorder in the script's place, script name, arguments]
      const runs: Array<[HostInvocation & { rest: string }, string, string[]]> = [
        [swapScript(provision, "pyjoules-provision", PROVISION_SH), "pyjoules-provision", [name, rapl ? "yes" : "no", userDocker]],
        [swapScript(remove, "pyjoules-remove", REMOVE_SH), "pyjoules-remove", [name]],
        [swapScript(attestInvocation(name, container, rapl), "pyjoules-attest", ATTEST_SH), "pyjoules-attest", [name, container, rapl ? "yes" : "no"]],
      ];
      expect(runs[0]![0].rest).toBe(text);
      for (const [inv, script, args] of runs) {
        const r = sandbox.run(shell, inv.command, { stdin: inv.stdin, startUid });
        expect(r.status, r.stderr).toBe(0);
        expect(r.argv.map(String)).toEqual([script, ...args]);
        expect(r.stdin.equals(enc(inv.rest))).toBe(true);
        expect(r.uid).toBe("0");
      }
      // The real scripts are only accepted in their own places: the unswapped line refuses the recorder.
      const refused = sandbox.run(shell, provision.command, { stdin: runs[0]![0].stdin, startUid });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/^pyjoules: sandbox-host: the host script arrived incomplete on stdin \(pyjoules-provision: \d+ of \d+ bytes, or other bytes\)\n$/);
      expect(refused.argv).toEqual([]);
      expect(refused.sudoCalls).toEqual([]);
    });
    expect(sandbox.pwned()).toEqual([]);
  });

  it("the docker provider's ssh reads host, user, port, pinned key and agent socket as exactly the values given", () => {
    const pool = (path: string) => generated.get(path)!.filter((g) => g.verdict.ok).map((g) => (g.verdict as { value: string }).value);
    const [hosts, users, ports, keys, agents] = ["connection.host", "connection.user", "connection.port", "connection.hostKey", "connection.agentSocketPath"].map(pool);
    const identityFile = materializePrivateKey(KEY);
    for (let i = 0; i < SSH_SAMPLE; i++) {
      const [host, user, port, hostKey, agent] = [hosts![i % hosts!.length]!, users![i % users!.length]!, ports![i % ports!.length]!, keys![i % keys!.length]!, agents![i % agents!.length]!];
      const url = dockerHostUrl(user, host, Number(port));
      // What docker's connhelper does with the provider's host and sshOpts: ssh OPTS -l USER -p PORT -- HOST docker system dial-stdio
      const m = /^ssh:\/\/([^@]+)@(\[[^\]]+\]|[^:]+):(\d+)$/.exec(url)!;
      const sshOpts = dockerSshOpts({ hostKey, agentSocketPath: agent, identityFile });
      const argv = ["-F", "/dev/null", "-G", ...sshOpts, "-l", m[1]!, "-p", m[3]!, "--", m[2]!.replace(/^\[(.*)\]$/, "$1"), "docker", "system", "dial-stdio"];
      const out = execFileSync("ssh", argv, { encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: sandbox.dir } });
      const conf = new Map(out.split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)] as [string, string]));
      expect(conf.get("hostname")).toBe(canonicalHost(host));
      expect(conf.get("user")).toBe(user);
      expect(conf.get("port")).toBe(port);
      expect(conf.get("identityagent")).toBe(agent);
      expect(conf.get("identityfile")).toBe(identityFile);
      expect(conf.get("knownhostscommand")).toBe(`/bin/echo %H ${hostKey}`);
      expect(conf.get("stricthostkeychecking")).toBe("true");
      expect(conf.get("batchmode")).toBe("yes");
      sandbox.executions++;
    }
    expect(sandbox.pwned()).toEqual([]);
  });
});

describe("profile-rule injection", () => {
  const DEFAULT = renderPyJoulesProfile();
  const isRule = (l: string) => l.trim() !== "" && !l.trim().startsWith("#");
  const rules = (text: string) => text.split("\n").filter(isRule);
  const ANCHOR = "  /sys/class/powercap/** r,"; // the last powercap rule: the extra paths follow it
  const expectedRules = (paths: readonly string[]) => {
    const base = rules(DEFAULT);
    const i = base.indexOf(ANCHOR);
    const extra = [...new Set(paths)].sort().flatMap((p) => [`  ${p} r,`, `  deny ${p} wklx,`]);
    return [...base.slice(0, i + 1), ...extra, ...base.slice(i + 1)];
  };
  /** The rule lines of `text` are the default's with exactly two per path inserted, in order. */
  const checkPaths = (paths: readonly string[]) => {
    const text = renderPyJoulesProfile({ extraReadPaths: paths });
    expect(rules(text)).toEqual(expectedRules(paths));
    for (const p of paths) {
      expect(p).toMatch(/^(?:\/[A-Za-z0-9_.:+-]+)+(?:\/\*\*)?$/);
      expect(p.split("/").some((s) => s === "." || s === "..")).toBe(false);
    }
    return text;
  };
  const INJECT = [",", "}", "{", "\n", "#include <abstractions/base>", "#", "**", "@{", "@{HOME}", "..", "/..", "\r", " ", "\""];
  const injected = fc
    .tuple(validValues.readPath, fc.subarray(INJECT, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { minLength: 3, maxLength: 3 }))
    .map(([p, tokens, at]) => tokens.reduce((s, t, k) => {
      const i = at[k]! % (s.length + 1);
      return s.slice(0, i) + t + s.slice(i);
    }, p));

  it(`${N} paths with , } newline #include ** @{ .. spliced in never add or widen a rule`, () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(injected, spliced(validValues.readPath, canary)), (p) => {
        const r = profileArgsSchema.safeParse({ extraReadPaths: [p] });
        if (!r.success) {
          expect(() => renderPyJoulesProfile({ extraReadPaths: [p] })).toThrow(/extraReadPaths entry/);
          return;
        }
        accepted++;
        checkPaths([p]);
        // What survives validation of those tokens: only a literal "..." style name or one trailing /**.
        if (p.includes("**")) expect(p.endsWith("/**") && p.indexOf("**") === p.length - 2).toBe(true);
        expect(p).not.toMatch(/[,{}\n#@"\s]/);
      }),
      { numRuns: N, seed: SEED },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it(`${N} lists of extra paths: rejected as a whole, or exactly two rules per distinct path`, () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(validValues.readPath, injected), { maxLength: 5 }), (paths) => {
        const r = profileArgsSchema.safeParse({ extraReadPaths: paths });
        if (!r.success) expect(() => renderPyJoulesProfile({ extraReadPaths: paths })).toThrow(/extraReadPaths entry/);
        else checkPaths(paths);
      }),
      { numRuns: N, seed: SEED },
    );
  });

  it("profile names change only the name, in its three quoted places", () => {
    for (const g of generated.get("profile.name")!) {
      if (!g.verdict.ok) continue;
      const n = g.verdict.value;
      const text = renderPyJoulesProfile({ name: n });
      expect(text).toBe(DEFAULT.replaceAll('"docker-pyjoules"', `"${n}"`));
    }
  });

  it(`the real apparmor_parser compiles a sample of ${COMPILE_SAMPLE} accepted names and paths, each defining exactly its one profile`, async () => {
    const names = generated.get("profile.name")!.filter((g) => g.verdict.ok).map((g) => g.text);
    const paths = [
      ...generated.get("profile.extraReadPaths.0")!.filter((g) => g.verdict.ok).map((g) => g.text),
      ...fc.sample(injected, { numRuns: 400, seed: SEED }).filter((p) => profileArgsSchema.safeParse({ extraReadPaths: [p] }).success),
    ];
    const dir = mkdtempSync(join(tmpdir(), "pyj-hostile-aa-"));
    const run = promisify(execFile);
    await Promise.all(
      Array.from({ length: COMPILE_SAMPLE }, async (_, i) => {
        const name = names[(i * 7) % names.length]!;
        const extra = paths.slice(i * 4, i * 4 + 4);
        const text = checkPaths(extra).replaceAll('"docker-pyjoules"', `"${name}"`);
        expect(text).toBe(renderPyJoulesProfile({ name, extraReadPaths: extra }));
        const file = join(dir, `p${i}`);
        writeFileSync(file, text);
        const compiled = await run("apparmor_parser", ["-Q", "-K", "-M", FEATURES, file], { encoding: "utf8" });
        expect(compiled.stderr).toBe("");
        const listed = await run("apparmor_parser", ["-N", "-M", FEATURES, file], { encoding: "utf8" });
        expect(listed.stdout.trim().split("\n")).toEqual([name]);
      }),
    );
  });
});

describe(`through PyJoulesHost under mocks (${MOCK_SAMPLE} values per field)`, () => {
  it.each(FIELDS.map((f) => [f.path, f] as const))("%s", async (_, spec) => {
    const all = generated.get(spec.path)!;
    // Some accepted (placement is checked), the rest rejected (nothing may be registered).
    const ok = all.filter((g) => g.verdict.ok);
    const bad = all.filter((g) => !g.verdict.ok);
    const sample = [...ok.slice(0, MOCK_ACCEPTED), ...bad.slice(0, MOCK_SAMPLE - Math.min(ok.length, MOCK_ACCEPTED))];
    const errors = new Map<number, string>();
    const run = await runWithMocks((opts) =>
      sample.map((g, i) => {
        try {
          return new PyJoulesHost(`h${i}`, spec.hostArgs(g.raw), opts);
        } catch (e) {
          errors.set(i, (e as Error).message);
          return undefined;
        }
      }),
    );
    sample.forEach((g, i) => {
      const mine = run.resources.filter((r) => r.name === `h${i}` || r.name.startsWith(`h${i}-`));
      if (g.verdict.ok) {
        expect(errors.get(i)).toBeUndefined();
        expect(mine.length).toBe(6);
        const inputs = (suffix: string) => run.byName(suffix.replace(/^h-/, `h${i}-`)).inputs;
        spec.placed(inputs, g.verdict.value);
        // Nothing of the value ever rides on a command line, except a validated profile or container name;
        // the lines stay short (the scripts are on stdin).
        for (const line of [inputs("h-profile-provision").create, inputs("h-profile-provision").delete, inputs("h-attest").create].map(String)) {
          expect(line.startsWith("/bin/sh -c '")).toBe(true);
          expect(line.length).toBeLessThan(1500);
        }
      } else {
        expect(errors.get(i), `${JSON.stringify(g.raw)} must be refused`).toBeDefined();
        expect(errors.get(i)!.startsWith(`PyJoulesHost "h${i}": invalid ${spec.path}`), errors.get(i)).toBe(true);
        if (spec.secret) expect(errors.get(i)).not.toContain("(got");
        expect(mine, "nothing is registered for a refused value").toEqual([]);
      }
    });
    stat(spec.path).viaComponent = sample.length;
  });
});

describe("regressions for the gaps this suite found", () => {
  it("profile names Docker gives a meaning of its own are refused everywhere a name reaches a host", async () => {
    for (const name of RESERVED_NAMES) {
      expect(() => parseProfile({ name })).toThrow(/invalid profile\.name: must not be unconfined or docker-default/);
      expect(() => provisionCommand(name, true)).toThrow(/must not be unconfined or docker-default/);
      expect(() => removeCommand(name)).toThrow(/must not be unconfined or docker-default/);
      expect(() => attestInvocation(name, "pyjoules-client", true)).toThrow(/must not be unconfined or docker-default/);
      await expect(
        runWithMocks((o) => new AppArmorProfile("p", { connection: { host: "10.0.0.7", privateKey: KEY }, profileName: name, profileText: "x" }, o)),
      ).rejects.toThrow(/AppArmorProfile "p": invalid profileName: must not be unconfined/);
    }
  });

  it("host names of numbers only are refused: ssh would dial another address", () => {
    const dialled = (h: string) =>
      execFileSync("ssh", ["-F", "/dev/null", "-G", "--", h], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: sandbox.dir } })
        .split("\n")
        .find((l) => l.startsWith("hostname "))!
        .slice("hostname ".length);
    for (const [h, ip] of [["10.0.0.010", "10.0.0.8"], ["167772167", "10.0.0.7"], ["0x0a.0.0.0x7", "10.0.0.7"], ["6", "0.0.0.6"]] as const) {
      expect(dialled(h)).toBe(ip);
      expect(() => parseConn({ host: h })).toThrow(/invalid connection\.host: must not be a name of numbers only/);
    }
    for (const h of ["10.0.0.10", "node7", "7node.example", "fd00::7", "0x1f.example"]) expect(parseConn({ host: h }).host).toBe(h);
  });

  it("an env variable named __proto__ is refused, not dropped without a word", () => {
    const env = JSON.parse('{"__proto__":"x","A":"1"}');
    expect(() => parseClient({ env })).toThrow(/invalid client\.env: must not name a variable __proto__/);
    expect(envEntry(clientEnv(parseClient({ env: { constructor: "c", toString: "t" } })), "constructor")).toBe("c");
  });

  it("env values and URLs with a lone surrogate (no UTF-8 form) are refused", () => {
    expect(() => parseClient({ env: { A: "x\uD800y" } })).toThrow(/invalid client\.env\.A: must be valid Unicode/);
    expect(() => parseClient({ remoteWriteUrl: "https://x.example/\uDC00" })).toThrow(/invalid client\.remoteWriteUrl: must be valid Unicode/);
    expect(parseClient({ env: { A: "🙂 中文" } }).env!.A).toBe("🙂 中文");
  });
});

describe("sandbox canary", () => {
  it("negative control: the sandbox does see an injection when a value is quoted wrongly", () => {
    const control = new Sandbox();
    const payload = `$(touch ${control.canary}/control)`;
    // the value spliced into the stage's `set --` line without quoting
    const badStage = asRoot("x", RECORDER_SCRIPT, []).stdin.replace("\nset -- \n", `\nset -- "${payload}"\n`);
    const r = control.run(SHELLS[0]!, stageLoader("x", 0, badStage), { stdin: badStage });
    expect(control.pwned()).toEqual(["control"]);
    expect(r.argv.map(String)).toEqual(["x", ""]);
    const well = asRoot("x", RECORDER_SCRIPT, [payload.replace("control", "control2")]);
    const wellQuoted = control.run(SHELLS[0]!, well.command, { stdin: well.stdin });
    expect(wellQuoted.argv.map(String)).toEqual(["x", payload.replace("control", "control2")]);
    expect(control.pwned()).toEqual(["control"]);
  });

  it("no payload ever ran", () => {
    expect(sandbox.executions).toBeGreaterThan(100);
    expect(sandbox.pwned()).toEqual([]);
  });
});

