/**
 * The components as other languages get them: through the component provider's `construct`, with the
 * inputs deserialized the way the provider server deserializes a ConstructRequest (real SDK code,
 * `deserializeInputs` of @pulumi/pulumi/provider/server). Each case must register the same children with
 * the same inputs and resolve the same outputs as the TypeScript API.
 */
import * as pulumi from "@pulumi/pulumi";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import * as providerServer from "@pulumi/pulumi/provider/server";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { AppArmorProfile, PyJoulesFleet, PyJoulesFleetArgs, PyJoulesHost, PyJoulesHostArgs } from "../../components";
import { renderPyJoulesProfile } from "../../profiles/render";
import { collectRejections, healthyHostOutputs, MockRun, provisionedText, runWithMocks, settle, TEST_HOST_KEY, TEST_URL, testKey, TYPES } from "./helpers/mocks";

const ROOT = join(__dirname, "..", "..");
const KEY = testKey("CONSTRUCT-TEST-ONLY");
const HOST_KEY = TEST_HOST_KEY;
const URL = TEST_URL;
/** A resource of the consuming program that some inputs depend on (e.g. the VM that got the address). */
const VM_URN = "urn:pulumi:test::consumer::vm:index:Machine::vm1";
const T = TYPES;

// ---- the wire format of a ConstructRequest's inputs ----------------------------------------------
const { specialSigKey, specialSecretSig, specialOutputValueSig } = pulumi.runtime;
/** An output value, as an SDK that keeps output values sends a (nested) Output. */
const outputValue = (value: unknown, o: { secret?: boolean; deps?: string[] } = {}) => ({
  [specialSigKey]: specialOutputValueSig,
  value,
  ...(o.secret ? { secret: true } : {}),
  ...(o.deps ? { dependencies: o.deps } : {}),
});
/** A whole value marked secret (what an SDK sends for a secret without output-value support). */
const secretValue = (value: unknown) => ({ [specialSigKey]: specialSecretSig, value });

type DeserializeInputs = (
  struct: { toJavaScript(): Record<string, unknown> },
  deps: { get(key: string): { getUrnsList(): string[] } | undefined },
) => Promise<pulumi.Inputs>;
const deserializeInputs = (providerServer as unknown as { deserializeInputs?: DeserializeInputs }).deserializeInputs;

/** The inputs exactly as the provider server hands them to `construct`. */
async function asConstructInputs(wire: Record<string, unknown>, deps: Record<string, string[]> = {}): Promise<pulumi.Inputs> {
  expect(typeof deserializeInputs, "@pulumi/pulumi/provider/server still exports deserializeInputs").toBe("function");
  const struct = { toJavaScript: () => JSON.parse(JSON.stringify(wire)) as Record<string, unknown> };
  const depMap = new Map(Object.entries(deps).map(([k, urns]) => [k, { getUrnsList: () => urns }]));
  return deserializeInputs!(struct, depMap);
}

/** The options the provider server builds from a ConstructRequest without options. */
const serverOptions = (): pulumi.ComponentResourceOptions => ({
  aliases: [],
  dependsOn: [],
  protect: false,
  providers: {},
  parent: undefined,
  ignoreChanges: [],
  replaceOnChanges: [],
  customTimeouts: undefined,
  retainOnDelete: false,
});

// ---- fixtures -----------------------------------------------------------------------------------
let provider: ComponentProvider;
beforeAll(async () => {
  process.env.PULUMI_PYJOULES_SSH_DIR = join(mkdtempSync(join(tmpdir(), "pyj-construct-")), "ssh");
  provider = new ComponentProvider({ components: [AppArmorProfile, PyJoulesHost, PyJoulesFleet], name: "pyjoules", dirname: ROOT });
  await provider.getSchema(); // analyse once, outside the mocked runs
}, 120_000);

const hostArgs = (): PyJoulesHostArgs => ({
  connection: { host: "10.0.0.7", user: "deploy", privateKey: pulumi.secret(KEY), hostKey: HOST_KEY },
  client: { remoteWriteUrl: URL, scrapeIntervalS: 0.5, logLevel: "DEBUG", env: { TZ: "UTC" } },
  profile: { extraReadPaths: ["/etc/pyjoules/**"] },
  requireRapl: true,
});
const plainConnection = { host: "10.0.0.7", user: "deploy", privateKey: KEY, hostKey: HOST_KEY };
const plainClient = { remoteWriteUrl: URL, scrapeIntervalS: 0.5, logLevel: "DEBUG", env: { TZ: "UTC" } };
const plainProfile = { extraReadPaths: ["/etc/pyjoules/**"] };

/** `provider.construct` under mocks, with the options the provider server would pass. */
async function construct(name: string, type: string, inputs: pulumi.Inputs) {
  const run = await runWithMocks((o) => provider.construct(name, type, inputs, { ...serverOptions(), ...o }));
  const result = await run.result;
  return { run, result };
}

const children = (run: MockRun<unknown>) => run.resources.map((r) => `${r.type}::${r.name}`).sort();
const inputsByName = (run: MockRun<unknown>) => Object.fromEntries(run.resources.map((r) => [r.name, r.inputs]));
const isSecret = async (v: unknown) => (await (pulumi.output(v) as any).isSecret) === true;

describe("construct PyJoulesHost (multi-language path) = new PyJoulesHost (TypeScript)", () => {
  let ts: MockRun<PyJoulesHost>;
  beforeAll(async () => {
    ts = await runWithMocks((o) => new PyJoulesHost("h1", hostArgs(), o));
  });

  it("the TypeScript run registers the expected children (sanity check of the reference)", () => {
    expect(children(ts)).toEqual(
      [
        `${T.command}::h1-attest`,
        `${T.command}::h1-profile-provision`,
        `${T.container}::h1-client`,
        `${T.host}::h1`,
        `${T.profile}::h1-profile`,
        `${T.provider}::h1-docker`,
      ].sort(),
    );
  });

  const cases: Array<[string, () => Promise<pulumi.Inputs>, { hostIsSecret: boolean }]> = [
    [
      "output values: plain objects with a nested secret key and a nested dependent value (current SDKs)",
      () =>
        asConstructInputs(
          {
            connection: { ...plainConnection, privateKey: outputValue(KEY, { secret: true }) },
            client: { ...plainClient, remoteWriteUrl: outputValue(URL, { deps: [VM_URN] }) },
            profile: plainProfile,
            requireRapl: true,
          },
          { client: [VM_URN] },
        ),
      { hostIsSecret: false },
    ],
    [
      "whole-value Outputs: a secret connection and every other input depending on a resource",
      () =>
        asConstructInputs(
          { connection: secretValue(plainConnection), client: plainClient, profile: plainProfile, requireRapl: true },
          { client: [VM_URN], profile: [VM_URN], requireRapl: [VM_URN] },
        ),
      // A connection that arrives as one secret value is secret as a whole (components/connection.ts).
      { hostIsSecret: true },
    ],
  ];

  it.each(cases)("%s", async (_, makeInputs, expected) => {
    const inputs = await makeInputs();
    const shape = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, pulumi.Output.isInstance(v) ? "Output" : "plain"]));
    const { run, result } = await construct("h1", T.host, inputs);

    // Same children, same inputs (secrets unwrapped), same outputs.
    expect(children(run)).toEqual(children(ts));
    expect(inputsByName(run)).toEqual(inputsByName(ts));
    expect(await settle(result.urn)).toBe(`urn:pulumi:test::pulumi-pyjoules::${T.host}::h1`);
    expect(Object.keys(result.state ?? {}).sort()).toEqual(["attestation", "containerName", "verifiedProfile"]);
    const state = result.state as Record<string, pulumi.Output<unknown>>;
    expect(await settle(state.verifiedProfile!)).toEqual(await settle(ts.result.verifiedProfile));
    expect(await settle(state.attestation!)).toEqual(await settle(ts.result.attestation));
    expect(await settle(state.containerName!)).toBe("pyjoules-client");

    // The key stays secret wherever it goes; it never reaches an output.
    for (const r of [run.byName("h1-profile-provision"), run.byName("h1-attest")]) {
      expect(await isSecret(r.props.connection), `${r.name} connection is secret`).toBe(true);
    }
    expect(await isSecret(run.byName("h1-docker").props.sshOpts)).toBe(true);
    expect(await isSecret(run.byName("h1-docker").props.host)).toBe(expected.hostIsSecret);
    expect(JSON.stringify(await settle(pulumi.all(state)))).not.toContain("CONSTRUCT-TEST-ONLY");
    // The case really exercised what it says (guards the fixture, not the component).
    expect(shape).toEqual(
      expected.hostIsSecret
        ? { connection: "Output", client: "Output", profile: "Output", requireRapl: "Output" }
        : { connection: "plain", client: "plain", profile: "plain", requireRapl: "plain" },
    );
  });

  it("an invalid value that arrives inside an Output fails the deployment before anything reaches the host", async () => {
    const inputs = await asConstructInputs(
      { connection: secretValue({ ...plainConnection, host: "bad host;rm" }), client: plainClient },
      { client: [VM_URN] },
    );
    const created: string[] = [];
    const errors = await collectRejections(async () => {
      await runWithMocks((o) => provider.construct("h1", T.host, inputs, { ...serverOptions(), ...o }), {
        outputs: (type, i) => (created.push(type), healthyHostOutputs(type, i)),
      });
    });
    // Only the two component resources (no inputs of their own) reach the engine; no command, no docker.
    expect(created.sort()).toEqual([T.profile, T.host].sort());
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => /invalid connection\.host: must be an RFC 1123 host name/.test(String(e)))).toBe(true);
  });
});

describe("construct AppArmorProfile = new AppArmorProfile", () => {
  it("output values: same children, same inputs, same outputs", async () => {
    const text = renderPyJoulesProfile();
    const ts = await runWithMocks(
      (o) =>
        new AppArmorProfile("p1", { connection: { ...plainConnection, privateKey: pulumi.secret(KEY) }, profileName: "docker-pyjoules", profileText: text, requireRapl: true }, o),
    );
    const inputs = await asConstructInputs(
      {
        connection: { ...plainConnection, privateKey: outputValue(KEY, { secret: true }) },
        profileName: "docker-pyjoules",
        profileText: outputValue(text, { deps: [VM_URN] }),
        requireRapl: true,
      },
      { profileText: [VM_URN] },
    );
    const { run, result } = await construct("p1", T.profile, inputs);
    expect(children(run)).toEqual([`${T.command}::p1-provision`, `${T.profile}::p1`]);
    expect(children(run)).toEqual(children(ts));
    expect(inputsByName(run)).toEqual(inputsByName(ts));
    // The text that came over the wire is what provision.sh reads, after the scripts on stdin.
    expect(provisionedText(run.byName("p1-provision").inputs)).toBe(text);
    const state = result.state as Record<string, pulumi.Output<unknown>>;
    expect(Object.keys(state).sort()).toEqual(["profileName", "verified"]);
    expect(await settle(state.verified!)).toEqual(await settle(ts.result.verified));
    expect(await settle(state.profileName!)).toBe("docker-pyjoules");
    expect(await isSecret(run.byName("p1-provision").props.connection)).toBe(true);
  });
});

describe("construct PyJoulesFleet = new PyJoulesFleet", () => {
  const fleetArgs = (): PyJoulesFleetArgs => ({
    defaults: { connection: { user: "deploy", privateKey: pulumi.secret(KEY) }, client: { remoteWriteUrl: URL, env: { A: "1" } } },
    hosts: [
      { name: "canary", connection: { host: "10.0.0.1", hostKey: HOST_KEY }, wave: 0 },
      { name: "b", connection: { host: "10.0.0.2" }, wave: 1, client: { logLevel: "DEBUG", env: { B: "2" } } },
    ],
  });
  const wireHosts = [
    { name: "canary", connection: { host: "10.0.0.1", hostKey: HOST_KEY }, wave: 0 },
    { name: "b", connection: { host: "10.0.0.2" }, wave: 1, client: { logLevel: "DEBUG", env: { B: "2" } } },
  ];

  it("output values (current SDKs): same children, same inputs, same outputs", async () => {
    const ts = await runWithMocks((o) => new PyJoulesFleet("f", fleetArgs(), o));
    const inputs = await asConstructInputs({
      defaults: { connection: { user: "deploy", privateKey: outputValue(KEY, { secret: true }) }, client: { remoteWriteUrl: URL, env: { A: "1" } } },
      hosts: wireHosts,
    });
    const { run, result } = await construct("f", T.fleet, inputs);
    expect(children(run)).toEqual(children(ts));
    expect(children(run).filter((c) => c.startsWith(T.host))).toEqual([`${T.host}::f-b`, `${T.host}::f-canary`]);
    expect(inputsByName(run)).toEqual(inputsByName(ts));
    const state = result.state as Record<string, pulumi.Output<unknown>>;
    expect(await settle(state.verifiedProfiles!)).toEqual(await settle(ts.result.verifiedProfiles));
    expect(await settle(state.attestations!)).toEqual(await settle(ts.result.attestations));
    expect(await isSecret(run.byName("f-b-profile-provision").props.connection)).toBe(true);
  });

  // Before the fix in PyJoulesFleet's constructor, a `defaults` that arrived as one Output was spread as
  // if it were the plain object (mergeHost saw the Output's own fields): "invalid client.remoteWriteUrl:
  // required" although it was set.
  it.each<[string, { defaults?: string[]; hosts?: string[] }]>([
    ["hosts and defaults", { defaults: [VM_URN], hosts: [VM_URN] }],
    ["defaults only", { defaults: [VM_URN] }],
    ["hosts only", { hosts: [VM_URN] }],
  ])("whole-value Outputs (%s depend on a resource): same children, same inputs", async (_, deps) => {
    const ts = await runWithMocks((o) => new PyJoulesFleet("f", fleetArgs(), o));
    const client = { remoteWriteUrl: URL, env: { A: "1" } };
    const defaults = deps.defaults
      ? { connection: { user: "deploy", privateKey: KEY }, client } // sent whole: dependent, no nested output values
      : { connection: { user: "deploy", privateKey: outputValue(KEY, { secret: true }) }, client };
    const inputs = await asConstructInputs({ defaults, hosts: wireHosts }, deps);
    expect([pulumi.Output.isInstance(inputs.hosts), pulumi.Output.isInstance(inputs.defaults)]).toEqual([!!deps.hosts, !!deps.defaults]);
    const { run, result } = await construct("f", T.fleet, inputs);
    expect(children(run)).toEqual(children(ts));
    expect(inputsByName(run)).toEqual(inputsByName(ts));
    const state = result.state as Record<string, pulumi.Output<unknown>>;
    expect(await settle(state.verifiedProfiles!)).toEqual(await settle(ts.result.verifiedProfiles));
  });
});
