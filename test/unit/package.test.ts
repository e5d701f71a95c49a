/**
 * The package as a consumer gets it: `npm pack` (its prepare script builds bin/), the tarball installed
 * into a fresh project outside the repository, then used with plain node (require, import, the bin, a
 * PyJoulesFleet under Pulumi mocks) and from TypeScript against the shipped declarations only.
 */
import { execFileSync, type ExecFileSyncOptions } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import * as ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attestInvocation, provisionInvocation, removeInvocation, shellQuote } from "../../profiles/commands";
import { renderPyJoulesProfile } from "../../profiles/render";

const ROOT = resolve(__dirname, "..", "..");
const FIXTURES = join(__dirname, "fixtures", "package");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; version: string; bin: Record<string, string> };
const LOCK = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> };
const lockVersion = (name: string) => LOCK.packages[`node_modules/${name}`]!.version;
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const POWERCAP_MOUNTS = [
  { type: "bind", source: "/sys/class/powercap", target: "/sys/class/powercap", readOnly: true },
  { type: "bind", source: "/sys/devices/virtual/powercap", target: "/sys/devices/virtual/powercap", readOnly: true },
];

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}
interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

/** npm's lifecycle variables of an enclosing `npm test` would point a child npm at this repository. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_(package|lifecycle|config_local_prefix)|INIT_CWD$)/i.test(k)));
  return { ...env, ...extra };
}

/** Runs a command; a failure throws with its exit status, stdout and stderr (loud, never a skip). */
function run(file: string, args: string[], opts: ExecFileSyncOptions & { cwd: string }): string {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 180_000, env: childEnv(), ...opts }) as string;
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string; message: string };
    throw new Error(`${[file, ...args].join(" ")} (in ${opts.cwd}) failed (${err.status ?? err.message}):\n${err.stdout ?? ""}\n${err.stderr ?? ""}`);
  }
}
const node = (cwd: string, args: string[], env: Record<string, string> = {}) => run(process.execPath, args, { cwd, env: childEnv(env) });

/** `npm pack` in the repository; its JSON report is the tarball's real file list. */
function pack(dest: string): Packed {
  mkdirSync(dest, { recursive: true });
  const out = run("npm", ["pack", "--json", "--pack-destination", dest], { cwd: ROOT });
  const [report] = JSON.parse(out) as Packed[];
  if (!report) throw new Error(`npm pack printed no report:\n${out}`);
  return report;
}

/** A fresh project outside the repository: the tarball, @pulumi/pulumi and @types/node at the lock's versions. */
function installConsumer(dir: string, tarball: string): void {
  mkdirSync(dir, { recursive: true });
  const dependencies = { [PKG.name]: `file:${tarball}`, "@pulumi/pulumi": lockVersion("@pulumi/pulumi") };
  const devDependencies = { "@types/node": lockVersion("@types/node") };
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "pyjoules-consumer", private: true, dependencies, devDependencies }, null, 2));
  run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: dir, timeout: 200_000 });
}

/** The repository's healthy-host mocks, as CommonJS for the consumer's plain-JS fleet program. */
function writeMocks(dir: string): void {
  const source = readFileSync(join(__dirname, "helpers", "mocks.ts"), "utf8");
  const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true };
  writeFileSync(join(dir, "mocks.cjs"), ts.transpileModule(source, { compilerOptions: options }).outputText);
}

/** The consumer's TypeScript: examples/fleet as a user would have it, plus consumer.ts. */
function writeTypeScriptConsumer(dir: string): void {
  for (const f of ["index.ts", "program.ts"]) copyFileSync(join(ROOT, "examples", "fleet", f), join(dir, f));
  copyFileSync(join(FIXTURES, "consumer.ts"), join(dir, "consumer.ts"));
  const tsconfig = JSON.parse(readFileSync(join(ROOT, "examples", "fleet", "tsconfig.json"), "utf8"));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ ...tsconfig, files: ["index.ts", "consumer.ts"] }, null, 2));
}

let work: string;
let consumer: string;
let packed: Packed;
const paths = () => packed.files.map((f) => f.path);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "pyj-package-"));
  consumer = join(work, "consumer");
  packed = pack(join(work, "pack"));
  installConsumer(consumer, join(work, "pack", packed.filename));
  writeTypeScriptConsumer(consumer);
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("holds the compiled build, its declarations, the host scripts and the profile, and nothing else", () => {
    const files = paths();
    for (const f of ["package.json", "README.md", "bin/components/index.js", "bin/components/index.d.ts", "bin/profiles/commands.js"]) {
      expect(files, f).toContain(f);
    }
    for (const f of ["provision.sh", "remove.sh", "attest.sh", "docker-pyjoules"]) expect(files, f).toContain(`bin/profiles/${f}`);
    for (const f of files) {
      expect(f, f).toMatch(/^(package\.json|README\.md|LICENSE|bin\/(components|profiles)\/[^/]+\.(js|d\.ts|sh)|bin\/profiles\/docker-pyjoules)$/);
      expect(f.endsWith(".ts") && !f.endsWith(".d.ts"), `${f}: TypeScript source`).toBe(false);
      expect(f.startsWith("test/") || f.startsWith("examples/"), f).toBe(false);
    }
  });

  it("lists the bin, and every compiled module has its declaration", () => {
    const files = paths();
    expect(PKG.bin).toEqual({ "pyjoules-render-profile": "bin/profiles/render-cli.js" });
    expect(files).toContain("bin/profiles/render-cli.js");
    for (const js of files.filter((f) => f.endsWith(".js"))) expect(files, js).toContain(js.replace(/\.js$/, ".d.ts"));
  });

  it("is small", () => {
    expect(packed.size).toBeLessThan(100_000);
    expect(packed.files.length).toBeLessThan(60);
  });
});

describe("installed in a fresh project", () => {
  it("has one @pulumi/pulumi (the project's), not a copy of its own", () => {
    expect(existsSync(join(consumer, "node_modules", PKG.name, "bin", "components", "index.js"))).toBe(true);
    expect(existsSync(join(consumer, "node_modules", PKG.name, "node_modules", "@pulumi", "pulumi"))).toBe(false);
  });

  it("require() and import() give the same components, with named ESM exports (plain node)", () => {
    copyFileSync(join(FIXTURES, "imports.mjs"), join(consumer, "imports.mjs"));
    const out = JSON.parse(node(consumer, ["imports.mjs"]));
    expect(out.named).toEqual(["function", "function", "function", "function"]);
    expect(out.sameClass).toBe(true);
    expect(out.esmKeys).toEqual(out.requireKeys);
    expect(out.requireKeys).toEqual(
      ["AppArmorProfile", "DEFAULT_PROFILE_NAME", "PyJoulesFleet", "PyJoulesHost", "renderDockerDefault", "renderPyJoulesProfile"],
    );
    expect(relative(consumer, out.resolved)).toBe(join("node_modules", PKG.name, "bin", "components", "index.js"));
  });

  it("builds a PyJoulesFleet under Pulumi mocks, its scripts read from the installed package", () => {
    copyFileSync(join(FIXTURES, "fleet.cjs"), join(consumer, "fleet.cjs"));
    writeMocks(consumer);
    const out = JSON.parse(node(consumer, ["fleet.cjs"], { PULUMI_PYJOULES_SSH_DIR: join(work, "ssh") })) as {
      registered: Registered[];
      profiles: Record<string, { mode: string; name: string }>;
      attestations: Record<string, { ok: boolean }>;
    };
    const byName = (n: string) => out.registered.find((r) => r.name === n)?.inputs ?? expect.fail(`no ${n} in ${out.registered.map((r) => r.name)}`);
    const container = byName("lab-canary-client");
    expect(container.securityOpts).toEqual(["apparmor=docker-pyjoules", "systempaths=unconfined"]);
    expect(container.mounts).toEqual(POWERCAP_MOUNTS);
    expect(container.privileged).toBe(false);
    const provision = byName("lab-canary-profile-provision");
    // The scripts travel on stdin, each quoted in its stage (the remove stage first: delete gets the same stdin),
    // read from the installed package: the lines and stdin are exactly what this checkout's builders make.
    const script = (f: string) => shellQuote(readFileSync(join(ROOT, "profiles", f), "utf8"));
    const want = provisionInvocation("docker-pyjoules", true, renderPyJoulesProfile());
    expect([provision.create, provision.stdin]).toEqual([want.command, want.stdin]);
    expect(provision.delete).toBe(removeInvocation("docker-pyjoules").command);
    for (const f of ["remove.sh", "provision.sh"]) expect(provision.stdin).toContain(script(f));
    const attest = byName("lab-canary-attest");
    expect([attest.create, attest.stdin]).toEqual(Object.values(attestInvocation("docker-pyjoules", "pyjoules-client", true)));
    expect(attest.stdin).toContain(script("attest.sh"));
    expect(out.profiles.canary).toMatchObject({ name: "docker-pyjoules", mode: "enforce" });
    expect(out.attestations.canary?.ok).toBe(true);
  });

  it("runs the pyjoules-render-profile bin", () => {
    const bin = join(consumer, "node_modules", ".bin", "pyjoules-render-profile");
    expect(run(bin, ["--name", "docker-x", "--extra-read-path", "/etc/x/**"], { cwd: consumer })).toBe(
      renderPyJoulesProfile({ name: "docker-x", extraReadPaths: ["/etc/x/**"] }),
    );
  });

  it("type-checks TypeScript consumers (examples/fleet and consumer.ts) against the shipped .d.ts", () => {
    // tsc prints its diagnostics on stdout and exits non-zero: run() then fails with them.
    expect(run(process.execPath, [TSC, "--noEmit", "-p", consumer], { cwd: consumer })).toBe("");
    // Nothing resolved to the repository's sources: the program saw only the installed package.
    const listed = run(process.execPath, [TSC, "--noEmit", "--listFilesOnly", "-p", consumer], { cwd: consumer });
    const ours = listed.split("\n").filter((f) => f.includes(`node_modules/${PKG.name}/`));
    expect(ours.length).toBeGreaterThan(0);
    for (const f of ours) expect(f, f).toMatch(/\.d\.ts$/);
    expect(listed).not.toContain(`${ROOT}/components/`);
  });
});
