/**
 * The package as other languages see it: the schema Pulumi infers from the TypeScript types (produced
 * in-process by the SDK's component provider, the same code `pulumi package add` runs), and the YAML and
 * Python examples checked against that schema so that they cannot drift.
 */
import { ComponentProvider, getPulumiComponents } from "@pulumi/pulumi/provider/experimental";
import { load } from "js-yaml";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as entryPoint from "../../components";
import { AppArmorProfile, PyJoulesFleet, PyJoulesHost } from "../../components";

const ROOT = join(__dirname, "..", "..");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; version: string; description: string; main: string };
const NAME = "pyjoules";
const TOKEN = (t: string) => `${NAME}:index:${t}`;
const REF_PREFIX = `#/types/${NAME}:index:`;

// ---- the schema's shape, as far as these tests read it --------------------------------------------
interface Prop {
  type?: string;
  $ref?: string;
  items?: Prop;
  additionalProperties?: Prop;
  plain?: boolean;
  optional?: boolean;
  description?: string;
}
interface Resource {
  isComponent?: boolean;
  description?: string;
  inputProperties: Record<string, Prop>;
  requiredInputs: string[];
  properties: Record<string, Prop>;
  required: string[];
}
interface ObjectType {
  type: string;
  properties: Record<string, Prop>;
  required: string[];
  description?: string;
}
interface Schema {
  name: string;
  version: string;
  description?: string;
  resources: Record<string, Resource>;
  types: Record<string, ObjectType>;
}

/** "Connection", "string", "map<VerifiedProfile>", "(plain FleetHost)[]", "plain Profile", ... */
function typeOf(p: Prop): string {
  let base: string;
  if (p.$ref !== undefined) {
    if (!p.$ref.startsWith(REF_PREFIX)) throw new Error(`foreign or malformed $ref ${p.$ref}`);
    base = p.$ref.slice(REF_PREFIX.length);
  } else if (p.type === "array" && p.items) {
    const inner = typeOf(p.items);
    base = `${inner.includes(" ") ? `(${inner})` : inner}[]`;
  } else if (p.type === "object" && p.additionalProperties) {
    base = `map<${typeOf(p.additionalProperties)}>`;
  } else {
    base = String(p.type);
  }
  return p.plain ? `plain ${base}` : base;
}
/** The expected notation: "?" marks an optional property. */
const shapeOf = (props: Record<string, Prop>) =>
  Object.fromEntries(Object.entries(props).map(([k, p]) => [k, `${p.optional ? "?" : ""}${typeOf(p)}`]));
const requiredOf = (shape: Record<string, string>) => Object.keys(shape).filter((k) => !shape[k]!.startsWith("?")).sort();

// ---- what the schema must say ---------------------------------------------------------------------
const CONNECTION_COMMON = {
  port: "?number",
  user: "?string",
  privateKey: "?string",
  privateKeyPassword: "?string",
  password: "?string",
  agentSocketPath: "?string",
};
const CLIENT_OPTIONAL = {
  image: "?string",
  containerName: "?string",
  scrapeIntervalS: "?number",
  pushIntervalS: "?number",
  maxRetryBatches: "?number",
  serviceLabel: "?string",
  logLevel: "?string",
  env: "?map<string>",
  healthcheck: "?Healthcheck",
};
const EXPECTED_RESOURCES: Record<string, { inputs: Record<string, string>; outputs: Record<string, string> }> = {
  AppArmorProfile: {
    inputs: { connection: "plain Connection", profileName: "string", profileText: "string", requireRapl: "?boolean" },
    outputs: { verified: "VerifiedProfile", profileName: "string" },
  },
  PyJoulesHost: {
    inputs: {
      connection: "plain Connection",
      client: "plain Client",
      profile: "?plain Profile",
      requireRapl: "?boolean",
      verifyOnEveryRun: "?boolean",
    },
    outputs: { verifiedProfile: "VerifiedProfile", attestation: "Attestation", containerName: "string" },
  },
  PyJoulesFleet: {
    inputs: { hosts: "plain (plain FleetHost)[]", defaults: "?plain FleetDefaults" },
    outputs: { verifiedProfiles: "map<VerifiedProfile>", attestations: "map<Attestation>" },
  },
};
const EXPECTED_TYPES: Record<string, Record<string, string>> = {
  ProxyConnection: { host: "string", ...CONNECTION_COMMON, hostKey: "?string" },
  Connection: {
    host: "string",
    ...CONNECTION_COMMON,
    hostKey: "?string",
    proxy: "?ProxyConnection",
    dialErrorLimit: "?number",
    perDialTimeout: "?number",
  },
  Client: { remoteWriteUrl: "string", ...CLIENT_OPTIONAL },
  Profile: { name: "?string", extraReadPaths: "?string[]" },
  Healthcheck: { command: "string[]", intervalS: "?number", retries: "?number", timeoutS: "?number", startPeriodS: "?number" },
  FleetConnectionDefaults: { ...CONNECTION_COMMON, proxy: "?ProxyConnection", dialErrorLimit: "?number", perDialTimeout: "?number" },
  FleetClientDefaults: { remoteWriteUrl: "?string", ...CLIENT_OPTIONAL },
  FleetDefaults: {
    connection: "?plain FleetConnectionDefaults",
    client: "?plain FleetClientDefaults",
    profile: "?plain Profile",
    requireRapl: "?boolean",
    verifyOnEveryRun: "?boolean",
  },
  FleetHost: {
    // name and wave must be known when the fleet is constructed (resource names, ordering): plain.
    name: "plain string",
    connection: "plain Connection",
    client: "?plain FleetClientDefaults",
    profile: "?plain Profile",
    requireRapl: "?boolean",
    verifyOnEveryRun: "?boolean",
    wave: "?plain number",
  },
  VerifiedProfile: {
    name: "string",
    mode: "string",
    sha256: "string",
    path: "string",
    loader: "string",
    parserVersion: "string",
    dockerVersion: "string",
    kernel: "string",
    host: "string",
  },
  Attestation: {
    host: "string",
    container: "string",
    running: "boolean",
    apparmorProfile: "string",
    procAttrCurrent: "string",
    privileged: "boolean",
    addedCapabilities: "number",
    classPowercapReadOnly: "boolean",
    devicesPowercapReadOnly: "boolean",
    raplZone: "string",
    raplReadable: "boolean",
    raplEnergyIncreasing: "boolean",
    raplEnergyDeltaUj: "number",
    profileSha256: "string",
    denials: "AttestationDenials",
    ok: "boolean",
  },
  AttestationDenials: { sources: "string", since: "number", count: "number", first: "Denial[]" },
  Denial: { operation: "string", name: "string" },
};

let schema: Schema;
beforeAll(async () => {
  const provider = new ComponentProvider({ components: [AppArmorProfile, PyJoulesHost, PyJoulesFleet], name: NAME, dirname: ROOT });
  schema = JSON.parse(await provider.getSchema()) as Schema;
}, 120_000);

describe("component package layout", () => {
  it("has PulumiPlugin.yaml with runtime nodejs at the package root", () => {
    expect(load(readFileSync(join(ROOT, "PulumiPlugin.yaml"), "utf8"))).toEqual({ runtime: "nodejs" });
  });

  it("package.json main is the compiled component entry point and exports exactly the three components", () => {
    // run-plugin requires main (bin/ is built by `npm ci`/`npm install` through the prepare script). The
    // schema analyzer maps main back to a .ts file of the program; bin/components/index.ts is none, so it
    // falls back to the root index.ts and follows its imports to the components (the schema below).
    expect(PKG.main).toBe("bin/components/index.js");
    expect(existsSync(join(ROOT, "components", "index.ts"))).toBe(true);
    expect(existsSync(join(ROOT, "index.ts"))).toBe(true);
    // What pulumi-language-nodejs's run-plugin discovers in the entry module's exports.
    expect(getPulumiComponents(entryPoint).map((c) => c.name).sort()).toEqual(["AppArmorProfile", "PyJoulesFleet", "PyJoulesHost"]);
  });

  // `pulumi package add` names the package after package.json's "name" (run-plugin: scope dropped, other
  // characters outside [-a-zA-Z0-9_] become "-"); it must equal the token prefix the components register.
  it("the CLI derives the package name pyjoules from package.json", () => {
    const m = /^(@.*?\/)?(.+)$/.exec(PKG.name)!;
    expect(m[2]!.replace(/[^-a-zA-Z0-9_]/g, "-")).toBe(NAME);
  });
});

describe("inferred schema", () => {
  it("names and describes the package", () => {
    expect(schema.name).toBe(NAME);
    expect(schema.version).toBe(PKG.version);
    expect(schema.description).toBe(PKG.description);
  });

  it("has exactly the three component resources", () => {
    expect(Object.keys(schema.resources).sort()).toEqual(Object.keys(EXPECTED_RESOURCES).map(TOKEN).sort());
  });

  describe.each(Object.entries(EXPECTED_RESOURCES))("%s", (name, expected) => {
    const r = () => schema.resources[TOKEN(name)]!;
    it("is a described component", () => {
      expect(r().isComponent).toBe(true);
      expect(r().description?.trim()).toBeTruthy();
    });
    it("has exactly these inputs, types and required inputs", () => {
      expect(shapeOf(r().inputProperties)).toEqual(expected.inputs);
      expect(r().requiredInputs).toEqual(requiredOf(expected.inputs));
    });
    it("has exactly these outputs, all always present", () => {
      expect(shapeOf(r().properties)).toEqual(expected.outputs);
      expect(r().required).toEqual(Object.keys(expected.outputs).sort());
    });
  });

  it("has exactly these object types, none named ...Args (the SDKs add that suffix to input types)", () => {
    expect(Object.keys(schema.types).sort()).toEqual(Object.keys(EXPECTED_TYPES).map(TOKEN).sort());
    for (const t of Object.keys(schema.types)) expect(t, t).not.toMatch(/Args$/);
  });

  it.each(Object.entries(EXPECTED_TYPES))("type %s has exactly these properties", (name, expected) => {
    const t = schema.types[TOKEN(name)]!;
    expect(t.type).toBe("object");
    expect(shapeOf(t.properties)).toEqual(expected);
    expect(t.required).toEqual(requiredOf(expected));
  });

  it("describes every property of every resource and type (from the doc comments)", () => {
    const missing: string[] = [];
    const visit = (where: string, props: Record<string, Prop>) => {
      for (const [k, p] of Object.entries(props)) if (!p.description?.trim()) missing.push(`${where}.${k}`);
    };
    for (const [t, r] of Object.entries(schema.resources)) {
      visit(`${t} input`, r.inputProperties);
      visit(`${t} output`, r.properties);
    }
    for (const [t, o] of Object.entries(schema.types)) visit(t, o.properties);
    expect(missing).toEqual([]);
    // Spot checks that the text is the doc comment of the TypeScript declaration.
    expect(schema.types[TOKEN("Client")]!.properties.remoteWriteUrl!.description).toBe(
      "Prometheus remote-write endpoint the client pushes to (http or https).",
    );
    expect(schema.resources[TOKEN("PyJoulesHost")]!.properties.attestation!.description).toBe(
      "How the running client container is confined, as checked on the host.",
    );
    expect(schema.resources[TOKEN("PyJoulesFleet")]!.description).toMatch(/^Many hosts with shared defaults/);
  });

  it("every $ref points to a type of this package; nothing is untyped (Any)", () => {
    const refs: string[] = [];
    JSON.stringify(schema, (k, v) => (k === "$ref" && refs.push(v), v));
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref, ref).toMatch(new RegExp(`^${REF_PREFIX}`));
      expect(schema.types[ref.slice("#/types/".length)], ref).toBeDefined();
    }
  });
});

// ---- the examples against the schema ----------------------------------------------------------------
const refType = (p: Prop) => (p.$ref ? schema.types[p.$ref.slice("#/types/".length)] : undefined);
const INTERPOLATION = /\$\{([^}]*)\}/g;

/** Checks a YAML value against a schema property; returns problems as "path: message". */
function checkYamlValue(value: unknown, p: Prop, path: string, refs: string[]): string[] {
  if (typeof value === "string" && /\$\{/.test(value)) {
    for (const m of value.matchAll(INTERPOLATION)) refs.push(m[1]!);
    return []; // the type of an interpolation is known only at run time
  }
  const t = refType(p);
  if (p.$ref !== undefined) {
    if (t === undefined) return [`${path}: unknown type ${p.$ref}`];
    if (value === null || typeof value !== "object" || Array.isArray(value)) return [`${path}: expected an object`];
    return checkYamlObject(value as Record<string, unknown>, t.properties, t.required, path, refs);
  }
  if (p.type === "array") {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((v, i) => checkYamlValue(v, p.items!, `${path}[${i}]`, refs));
  }
  if (p.type === "object" && p.additionalProperties) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return [`${path}: expected a map`];
    return Object.entries(value).flatMap(([k, v]) => checkYamlValue(v, p.additionalProperties!, `${path}.${k}`, refs));
  }
  return typeof value === p.type ? [] : [`${path}: expected ${p.type}, got ${JSON.stringify(value)}`];
}

function checkYamlObject(obj: Record<string, unknown>, props: Record<string, Prop>, required: string[], path: string, refs: string[]): string[] {
  const problems = required.filter((k) => !(k in obj)).map((k) => `${path}: missing required ${k}`);
  for (const [k, v] of Object.entries(obj)) {
    const p = props[k];
    if (p === undefined) problems.push(`${path}.${k}: no such property (have ${Object.keys(props).join(", ")})`);
    else problems.push(...checkYamlValue(v, p, `${path}.${k}`, refs));
  }
  return problems;
}

/** Follows `a.b.c` through output properties and object types. */
function checkOutputPath(props: Record<string, Prop>, path: string[], where: string): string[] {
  let current: Record<string, Prop> | undefined = props;
  for (const [i, key] of path.entries()) {
    const p: Prop | undefined = current?.[key];
    if (p === undefined) return [`${where}: no output ${path.slice(0, i + 1).join(".")}`];
    current = refType(p)?.properties;
  }
  return [];
}

interface YamlProgram {
  runtime?: unknown;
  packages?: Record<string, unknown>;
  config?: Record<string, unknown>;
  resources?: Record<string, { type: string; properties?: Record<string, unknown>; options?: Record<string, unknown> }>;
  outputs?: Record<string, unknown>;
}

/** Every problem of a Pulumi YAML program that uses this package (type tokens, properties, outputs, references). */
function checkYamlProgram(text: string): { problems: string[]; used: string[] } {
  const doc = load(text) as YamlProgram;
  const problems: string[] = [];
  const used: string[] = [];
  if (doc.runtime !== "yaml") problems.push(`runtime: expected yaml, got ${JSON.stringify(doc.runtime)}`);
  if (doc.packages?.[NAME] === undefined) problems.push(`packages: no entry ${NAME}`);
  const resources = doc.resources ?? {};
  const refs: string[] = [];
  for (const [name, r] of Object.entries(resources)) {
    if (!r.type.startsWith(`${NAME}:`)) continue;
    // Pulumi YAML accepts `pkg:Type` for `pkg:index:Type`.
    const token = r.type.split(":").length === 2 ? r.type.replace(":", ":index:") : r.type;
    used.push(token);
    const res = schema.resources[token];
    if (res === undefined) {
      problems.push(`${name}: unknown type ${r.type}`);
      continue;
    }
    problems.push(...checkYamlObject(r.properties ?? {}, res.inputProperties, res.requiredInputs, name, refs));
    JSON.stringify(r.options ?? {}, (_, v) => (typeof v === "string" && [...v.matchAll(INTERPOLATION)].forEach((m) => refs.push(m[1]!)), v));
  }
  JSON.stringify(doc.outputs ?? {}, (_, v) => (typeof v === "string" && [...v.matchAll(INTERPOLATION)].forEach((m) => refs.push(m[1]!)), v));
  for (const ref of refs) {
    const [head, ...path] = ref.split(".");
    const r = resources[head!];
    if (r === undefined) {
      if (!(head! in (doc.config ?? {}))) problems.push(`\${${ref}}: neither a resource nor a config key`);
      continue;
    }
    const res = schema.resources[r.type.split(":").length === 2 ? r.type.replace(":", ":index:") : r.type];
    if (res !== undefined && path.length > 0) problems.push(...checkOutputPath(res.properties, path, `\${${ref}}`));
  }
  return { problems, used };
}

const camel = (snake: string) => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snake = (camelCase: string) => camelCase.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The text between the bracket at `open` and its partner, skipping strings and comments. */
function bracketed(src: string, open: number): string {
  const pairs: Record<string, string> = { "(": ")", "[": "]", "{": "}" };
  const stack: string[] = [];
  for (let i = open; i < src.length; i++) {
    const c = src[i]!;
    if (c === '"' || c === "'") {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unterminated string at ${i}`);
      i = end;
    } else if (c === "#") {
      i = src.indexOf("\n", i);
      if (i < 0) break;
    } else if (pairs[c]) stack.push(pairs[c]);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return src.slice(open + 1, i);
    }
  }
  throw new Error(`unbalanced ${src[open]} at ${open}`);
}

/** Splits at commas that are not inside brackets or strings; drops comments and empty parts. */
function topLevelParts(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '"' || c === "'") i = body.indexOf(c, i + 1);
    else if (c === "#") i = body.indexOf("\n", i);
    else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (c === "," && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
    if (i < 0) break;
  }
  parts.push(body.slice(start));
  return parts.map((p) => p.replace(/^\s*#.*$/gm, "").trim()).filter(Boolean);
}

/** Checks a Python argument expression against a schema property (literals, lists, dicts, nested Args calls). */
function checkPythonValue(expr: string, p: Prop, path: string, alias: string): string[] {
  const call = new RegExp(`^${alias}\\.(\\w+)\\(`).exec(expr);
  if (call) {
    const want = p.$ref ? `${p.$ref.slice(REF_PREFIX.length)}Args` : undefined;
    return call[1] === want ? [] : [`${path}: ${call[1]} where the schema wants ${want ?? typeOf(p)}`];
  }
  if (expr.startsWith("[")) {
    if (p.type !== "array") return [`${path}: a list where the schema wants ${typeOf(p)}`];
    return topLevelParts(bracketed(expr, 0)).flatMap((e, i) => checkPythonValue(e, p.items!, `${path}[${i}]`, alias));
  }
  if (expr.startsWith("{")) {
    if (!(p.type === "object" && p.additionalProperties)) return [`${path}: a dict where the schema wants ${typeOf(p)}`];
    return topLevelParts(bracketed(expr, 0)).flatMap((kv) => {
      const m = /^(["'])(.*)\1\s*:\s*([\s\S]+)$/.exec(kv);
      return m ? checkPythonValue(m[3]!, p.additionalProperties!, `${path}[${m[2]}]`, alias) : [`${path}: cannot read ${kv}`];
    });
  }
  const literal = /^f?(["']).*\1$/s.test(expr) ? "string" : /^-?\d+(\.\d+)?$/.test(expr) ? "number" : /^(True|False)$/.test(expr) ? "boolean" : undefined;
  if (literal === undefined) return []; // a variable or an expression: known only at run time
  return literal === p.type ? [] : [`${path}: a ${literal} where the schema wants ${typeOf(p)}`];
}

/** The program without docstrings and comments (they may mention the API without using it). */
const codeOnly = (src: string) =>
  src
    .replace(/("""|''')[\s\S]*?\1/g, '""')
    .replace(/^\s*#.*$/gm, "")
    .replace(/\s+#[^"'\n]*$/gm, "");

/** Every problem of a Python program that uses the generated SDK in the layout of examples/python. */
function checkPythonProgram(program: string): { problems: string[]; used: string[] } {
  const src = codeOnly(program);
  const problems: string[] = [];
  const used: string[] = [];
  const imp = /^import (pulumi_\w+) as (\w+)$/m.exec(src);
  if (!imp) return { problems: ["no `import pulumi_<package> as <alias>` line"], used };
  const [, module, alias] = imp as unknown as [string, string, string];
  if (module !== `pulumi_${NAME.replace(/-/g, "_")}`) problems.push(`imports ${module}, the SDK module is pulumi_${NAME}`);
  const variables = new Map<string, Resource>();
  for (const m of src.matchAll(new RegExp(`\\b${alias}\\.(\\w+)(\\s*\\()?`, "g"))) {
    const [, cls, paren] = m as unknown as [string, string, string | undefined];
    if (!paren) {
      problems.push(`${alias}.${cls}: only calls are allowed in this layout`);
      continue;
    }
    const resource = schema.resources[TOKEN(cls)];
    const type = cls.endsWith("Args") ? schema.types[TOKEN(cls.slice(0, -"Args".length))] : undefined;
    if (!resource && !type) {
      problems.push(`${alias}.${cls}: neither a component nor an input type of the schema`);
      continue;
    }
    used.push(resource ? TOKEN(cls) : TOKEN(cls.slice(0, -"Args".length)));
    const props = resource ? resource.inputProperties : type!.properties;
    const required = resource ? resource.requiredInputs : type!.required;
    const args = topLevelParts(bracketed(src, m.index! + m[0].length - 1));
    const given = new Set<string>();
    for (const arg of args) {
      const kw = /^([a-z_][a-z0-9_]*)\s*=(?!=)\s*([\s\S]+)$/.exec(arg);
      if (!kw) continue; // the resource name (positional)
      const key = camel(kw[1]!);
      given.add(key);
      const p = props[key];
      if (p === undefined) problems.push(`${cls}(${kw[1]}=...): no property ${key}`);
      else if (snake(key) !== kw[1]) problems.push(`${cls}(${kw[1]}=...): the SDK spells it ${snake(key)}`);
      else problems.push(...checkPythonValue(kw[2]!.trim(), p, `${cls}.${kw[1]}`, alias));
    }
    for (const r of required) if (!given.has(r)) problems.push(`${cls}(...): missing required ${snake(r)}`);
    if (resource) {
      const assigned = new RegExp(`(\\w+)\\s*=\\s*$`).exec(src.slice(0, m.index).split("\n").pop()!);
      if (assigned) variables.set(assigned[1]!, resource);
    }
  }
  for (const [variable, resource] of variables) {
    for (const m of src.matchAll(new RegExp(`\\b${variable}\\.(\\w+)`, "g"))) {
      if (!(camel(m[1]!) in resource.properties)) problems.push(`${variable}.${m[1]}: no such output`);
    }
  }
  return { problems, used };
}

describe("examples use only what the schema has", () => {
  const yamlPath = join(ROOT, "examples", "yaml", "Pulumi.yaml");
  const pyPath = join(ROOT, "examples", "python", "__main__.py");

  it("examples/yaml: every type token, property and output reference exists, for two hosts", () => {
    const { problems, used } = checkYamlProgram(readFileSync(yamlPath, "utf8"));
    expect(problems).toEqual([]);
    expect(used).toEqual([TOKEN("PyJoulesHost"), TOKEN("PyJoulesHost")]);
  });

  it("examples/python: every class, keyword argument and output exists, for a fleet built from the inventory", () => {
    const src = readFileSync(pyPath, "utf8");
    const { problems, used } = checkPythonProgram(src);
    expect(problems).toEqual([]);
    expect(used.filter((t) => t === TOKEN("PyJoulesFleet")).length).toBe(1);
    expect(used.filter((t) => t === TOKEN("FleetHost")).length).toBe(1);
    expect(new Set(used)).toEqual(
      new Set(["PyJoulesFleet", "FleetDefaults", "FleetConnectionDefaults", "FleetClientDefaults", "FleetHost", "Connection", "Profile"].map(TOKEN)),
    );
  });

  it("examples/python: a Python project with the package listed", () => {
    const project = load(readFileSync(join(ROOT, "examples", "python", "Pulumi.yaml"), "utf8")) as { runtime: { name: string }; packages: Record<string, string> };
    expect(project.runtime.name).toBe("python");
    expect(project.packages[NAME]).toBe("../..");
    expect(readFileSync(join(ROOT, "examples", "python", "requirements.txt"), "utf8")).toMatch(/^pulumi>=3\.\d+/m);
  });

  // The checkers themselves: a drifted example must be caught.
  it.each([
    ["a renamed property", (s: string) => s.replace("remoteWriteUrl: ${remoteWriteUrl}", "remoteWriteURL: ${remoteWriteUrl}"), /no such property/],
    ["a wrong type token", (s: string) => s.replace("pyjoules:index:PyJoulesHost", "pyjoules:index:PyJoulesNode"), /unknown type/],
    ["a string for a number", (s: string) => s.replace("port: 2222", 'port: "2222"'), /expected number/],
    ["a missing required input", (s: string) => s.replace("        host: 10.20.0.11\n", ""), /missing required host/],
    ["an unknown output", (s: string) => s.replace("${canary.verifiedProfile.mode}", "${canary.verifiedProfile.state}"), /no output verifiedProfile\.state/],
    ["an unknown config key", (s: string) => s.replace("privateKey: ${sshPrivateKey}", "privateKey: ${sshKey}"), /neither a resource nor a config key/],
  ])("the YAML check catches %s", (_, mutate, message) => {
    const text = readFileSync(yamlPath, "utf8");
    const mutated = mutate(text);
    expect(mutated).not.toBe(text);
    expect(checkYamlProgram(mutated).problems.join("\n")).toMatch(message);
  });

  it.each([
    ["a renamed keyword", (s: string) => s.replace("remote_write_url=", "remote_write_uri="), /no property remoteWriteUri/],
    ["a wrong Args class", (s: string) => s.replace("profile=pyjoules.ProfileArgs(", "profile=pyjoules.ClientArgs("), /ClientArgs where the schema wants ProfileArgs/],
    ["an unknown class", (s: string) => s.replace("pyjoules.PyJoulesFleet(", "pyjoules.Fleet("), /neither a component nor an input type/],
    ["a string for a number", (s: string) => s.replace("push_interval_s=4", 'push_interval_s="4"'), /a string where the schema wants number/],
    ["a missing required argument", (s: string) => s.replace('name=h["name"],', ""), /missing required name/],
    ["an unknown output", (s: string) => s.replace("fleet.attestations", "fleet.attestation"), /fleet\.attestation: no such output/],
    ["a wrong SDK module", (s: string) => s.replace("import pulumi_pyjoules as", "import pulumi_pulumi_pyjoules as"), /the SDK module is pulumi_pyjoules/],
  ])("the Python check catches %s", (_, mutate, message) => {
    const text = readFileSync(pyPath, "utf8");
    const mutated = mutate(text);
    expect(mutated).not.toBe(text);
    expect(checkPythonProgram(mutated).problems.join("\n")).toMatch(message);
  });

  it("snake_case keywords map to the schema's camelCase names both ways", () => {
    for (const props of [
      ...Object.values(schema.types).map((t) => t.properties),
      ...Object.values(schema.resources).flatMap((r) => [r.inputProperties, r.properties]),
    ]) {
      for (const k of Object.keys(props)) expect(camel(snake(k)), k).toBe(k);
    }
    expect(snake("scrapeIntervalS")).toBe("scrape_interval_s");
    expect(camel("extra_read_paths")).toBe("extraReadPaths");
  });
});
