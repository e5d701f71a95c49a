import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";

/** Resource type tokens the components create. */
export const TYPES = {
  command: "command:remote:Command",
  container: "docker:index/container:Container",
  provider: "pulumi:providers:docker",
  host: "pyjoules:index:PyJoulesHost",
  profile: "pyjoules:index:AppArmorProfile",
  fleet: "pyjoules:index:PyJoulesFleet",
} as const;
export const TEST_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvbS6YQ5WlM3LL+7xcF8tJ0cPq3+1bc8cF7mQX9yHcd";
export const TEST_URL = "https://prom.example.com/api/v1/write";
/** A syntactically plausible private key with a marker, so tests can search for leaks of it. */
export const testKey = (marker: string) =>
  `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA${marker}\n-----END OPENSSH PRIVATE KEY-----\n`;

export interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** Resource options as a stack transformation saw them (mocks alone do not show them). */
  opts: pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions;
  custom: boolean;
  /** Inputs as the program passed them (Outputs intact, so secretness can be checked). */
  props: Record<string, any>;
}

export interface MockRun<T> {
  result: T;
  resources: Registered[];
  byName(name: string): Registered;
  ofType(type: string): Registered[];
  /** Every invoke, in order. */
  calls: Invoked[];
}

/** The attest stage's arguments: `set -- 'PROFILE' 'CONTAINER' ...` on its own line of the stdin. */
const QUOTED_ARGS = /^set -- '([^']*)' '([^']*)'/m;

/**
 * What provision.sh reads as the profile on a host: the provision command's stdin after its stage, which the
 * command line places (`dd bs=1 skip=SKIP count=COUNT ... pyjoules-provision`); "" when the line names none.
 */
export function provisionedText(inputs: { create?: string; stdin?: string }): string {
  const m = /dd bs=1 skip=(\d+) count=(\d+) .* pyjoules-provision$/.exec(inputs.create ?? "");
  return m ? Buffer.from(inputs.stdin ?? "", "utf8").subarray(Number(m[1]) + Number(m[2])).toString("utf8") : "";
}

/** What a healthy host prints: provision.sh's and attest.sh's JSON lines, consistent with the inputs. */
export function healthyHostOutputs(type: string, inputs: any): Record<string, unknown> {
  if (type !== "command:remote:Command") return {};
  const create: string = inputs.create ?? "";
  if (create.includes("pyjoules-provision")) {
    const text = provisionedText(inputs);
    const name = /profile "([^"]+)"/.exec(text)?.[1] ?? "unknown";
    const sha256 = createHash("sha256").update(text).digest("hex");
    return {
      stdout: JSON.stringify({
        name, mode: "enforce", sha256, path: `/etc/apparmor.d/containers/${name}`, loader: `pyjoules-apparmor@${name}.service`,
        parserVersion: "4.1.0", dockerVersion: "26.1.5", kernel: "6.12.0", host: inputs.connection?.host ?? "h",
      }),
      stderr: "",
    };
  }
  if (create.includes("pyjoules-attest")) {
    const m = QUOTED_ARGS.exec(inputs.stdin ?? "");
    const [profile, container] = [m?.[1] ?? "?", m?.[2] ?? "?"];
    return {
      stdout: JSON.stringify({
        host: "h", container, running: true, apparmorProfile: profile, procAttrCurrent: `${profile} (enforce)`,
        privileged: false, addedCapabilities: 0, classPowercapReadOnly: true, devicesPowercapReadOnly: true,
        raplZone: "intel-rapl:0", raplReadable: true, raplEnergyIncreasing: true, raplEnergyDeltaUj: 12345678,
        // The attestation's triggers carry the verified profile's sha256; a healthy host has that file installed.
        profileSha256: inputs.triggers?.[1] ?? "", denials: { sources: "journal", since: 1764000000, count: 0, first: [] }, ok: true,
      }),
      stderr: "",
    };
  }
  return { stdout: "", stderr: "" };
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Mocks receive secrets wrapped in Pulumi's secret envelope; tests want the values. */
export function unwrapSecrets(v: any): any {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v !== null && typeof v === "object") {
    if (v[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270") return unwrapSecrets(v.value);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/**
 * Runs `fn` while collecting unhandled rejections instead of letting them fail the test run: a failed
 * registration makes every dependent registration reject too, which is how Pulumi fails a program.
 */
export async function collectRejections(fn: () => Promise<void>): Promise<unknown[]> {
  const saved = process.listeners("unhandledRejection");
  const seen: unknown[] = [];
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", (e) => seen.push(e));
  try {
    await fn();
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  } finally {
    process.removeAllListeners("unhandledRejection");
    for (const l of saved) process.on("unhandledRejection", l);
  }
  return seen;
}

export interface MockOptions {
  preview?: boolean;
  config?: Record<string, string>;
  secretConfigKeys?: string[];
  /** Make the mock "provider" fail this resource (by name). */
  fail?: (type: string, name: string) => boolean;
  outputs?: (type: string, inputs: any) => Record<string, unknown>;
  /** The answer to an invoke (e.g. command:local:run); by default its inputs come back. */
  call?: (token: string, inputs: any) => Record<string, unknown>;
}

/** One invoke the program made. */
export interface Invoked {
  token: string;
  inputs: any;
}

/** Resolves an Output (or rejects with its error) — mocks never reject silently this way. */
export function settle<T>(o: pulumi.Input<T>): Promise<T> {
  return (pulumi.output(o) as any).promise();
}

/**
 * Runs `program` under Pulumi mocks. The program passes `opts` to its top-level component: a resource
 * transformation there sees every child with its options (mocks alone do not show dependsOn & co).
 */
export async function runWithMocks<T>(program: (opts: pulumi.ComponentResourceOptions) => T, o: MockOptions = {}): Promise<MockRun<T>> {
  const recorded = new Map<string, Omit<Registered, "inputs"> & { inputs?: any }>();
  const calls: Invoked[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(raw) {
        const args = { ...raw, inputs: unwrapSecrets(raw.inputs) };
        if (o.fail?.(args.type, args.name)) throw new Error(`mock host failure for ${args.name}`);
        const r = recorded.get(`${args.type}::${args.name}`);
        if (r) r.inputs = args.inputs;
        const outputs = (o.outputs ?? healthyHostOutputs)(args.type, args.inputs);
        return { id: `${args.name}-id`, state: { ...args.inputs, ...outputs } };
      },
      call: (args) => {
        calls.push({ token: args.token, inputs: args.inputs });
        return o.call ? o.call(args.token, args.inputs) : args.inputs;
      },
    },
    "pulumi-pyjoules",
    "test",
    o.preview ?? false,
  );
  pulumi.runtime.setAllConfig(o.config ?? {}, o.secretConfigKeys);
  const record: pulumi.ResourceTransformation = (args) => {
    recorded.set(`${args.type}::${args.name}`, {
      type: args.type,
      name: args.name,
      opts: args.opts as any,
      props: args.props,
      custom: !(args.resource instanceof pulumi.ComponentResource),
    });
    return undefined;
  };
  const result = program({ transformations: [record] });
  // Let every registration (and registerOutputs) finish before the next test replaces the mock monitor.
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
  const resources = [...recorded.values()].map((r) => ({ ...r, inputs: r.inputs ?? {} }) as Registered);
  return {
    result,
    resources,
    byName(name) {
      const r = resources.find((x) => x.name === name);
      if (!r) throw new Error(`no resource ${name}; have ${resources.map((x) => x.name).join(", ")}`);
      return r;
    },
    ofType: (type) => resources.filter((r) => r.type === type),
    calls,
  };
}
