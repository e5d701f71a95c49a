// Pure part of the toolchain builder: which binaries, from which sources (Go module proxy or upstream release
// archive) at which versions, built by which exact steps, and the cache key over all of it. No I/O here
// (build.ts, upstream.ts and index.ts do the process wiring).
import { createHash } from "node:crypto";

/** Bump when the way binaries are built changes in a way the specs below do not show. */
export const RECIPE_VERSION = 3;

/** Upstream build tags of the CLI (pulumi/pulumi's goreleaser). The archive builds need none. */
export const GO_BUILD_TAGS = ["osusergo", "grpcnotrace"];

/**
 * pulumi-language-yaml has no npm package to pin it: it is a separately versioned language plugin. This is the
 * newest version the proxy lists (`go list -m -versions github.com/pulumi/pulumi-yaml` → v1.11.1 v1.25.0).
 * Only used to check the CLI with YAML programs, so it is optional.
 */
export const PULUMI_YAML_VERSION = "1.25.0";

/** One upstream source archive (in the upstream dir, see upstream.ts): typed here once, checked before use. */
export interface UpstreamArchive {
  file: string;
  /** GitHub owner/name. */
  repo: string;
  tag: string;
  commit: string;
  /** The version of the piece it builds (compared with what the npm SDKs ask for). */
  version: string;
  sha256: string;
  /** The single top-level folder inside the archive. */
  root: string;
  /** pulumi-docker only: its patches/ for the terraform provider, applied in this (name) order. */
  patches?: string[];
}

/** The archives of /work/shared/upstream/README.md (sha256 checked there and by every build). */
export const UPSTREAM_ARCHIVES: readonly UpstreamArchive[] = [
  {
    file: "pulumi-command-v1.2.1.tar.gz", repo: "pulumi/pulumi-command", tag: "v1.2.1", commit: "7f3eb6f3b77c", version: "1.2.1",
    sha256: "dd4a9d36808baf4067703b040631d96df47d6a804a1d3b735b62898e7b050846", root: "pulumi-command",
  },
  {
    file: "pulumi-docker-v4.11.0.tar.gz", repo: "pulumi/pulumi-docker", tag: "v4.11.0", commit: "d8e789826ba1", version: "4.11.0",
    sha256: "4fc61f4f581c1ed3a4e1a9f4cd651c5a41abfb76bbe08795d2eb76d6827bc027", root: "pulumi-docker",
    patches: [
      "0001-Add-shim.NewProvider-to-expose-internal-provider.New.patch",
      "0002-Smarter-default-Docker-client-behavior.patch",
      "0003-Fix-typos.patch",
      "0004-Remove-service-default.patch",
    ],
  },
  {
    // The `upstream` submodule of pulumi-docker v4.11.0.
    file: "terraform-provider-docker-d7d7ff7f.tar.gz", repo: "kreuzwerker/terraform-provider-docker", tag: "v3.9.0", commit: "d7d7ff7f8977",
    version: "3.9.0", sha256: "b61d803aa0cb1aa940943d9c6b298180aabefb013297f0c69e852e0173231855", root: "terraform-provider-docker",
  },
  {
    file: "pulumi-language-hosts-v3.248.0.tar.gz", repo: "pulumi/pulumi", tag: "pkg/v3.248.0", commit: "dc7edd58bc13", version: "3.248.0",
    sha256: "ae86bee36f43d1806668cbd9ae3bbdc5cdd08dc7a0140afdfab3715c86971506", root: "pulumi",
  },
];

/** pulumi-docker → the archive of its `upstream` submodule, at the pulumi-docker version it belongs to. */
export const DOCKER_SUBMODULE: Record<string, { repo: string; version: string }> = {
  "4.11.0": { repo: "kreuzwerker/terraform-provider-docker", version: "3.9.0" },
};

/** What the npm SDKs ask for, read from package-lock.json and the SDKs' package.json. */
export interface SdkVersions {
  pulumi: string;
  command: string;
  docker: string;
}

export interface ModuleRef {
  path: string;
  version: string;
}

/** One command of a build, run in `cwd` (relative to the binary's src dir). `OUT` in argv is the output path. */
export interface Step {
  cwd: string;
  argv: string[];
  env?: Record<string, string>;
}

/** An archive to extract: its `root` folder ends up as `<src>/<into>`. */
export interface Extract {
  file: string;
  sha256: string;
  root: string;
  into: string;
  /** These must be exactly the `*.patch` files of `<src>/<dir>` after extraction (the archive's patches/). */
  patches?: { dir: string; files: string[] };
}

export interface BinarySpec {
  /** File name of the binary, e.g. pulumi-resource-command. */
  name: string;
  kind: "cli" | "language" | "resource";
  /** The version this binary is (what it reports / is installed as). */
  version: string;
  /** Where it lands in the cache dir. */
  dir: "bin" | "providers";
  /** Where it comes from, for the log line and status.json. */
  origin: string;
  /** Archives extracted into the src dir (empty for the Go module proxy builds). */
  extract: Extract[];
  /** Files written into the src dir before the steps (the wrapper module of a proxy build). */
  files: Record<string, string>;
  steps: Step[];
  /** Checked in `go version -m OUT`: modules at exactly these versions, and these -X stamps. */
  expect: { modules: ModuleRef[]; ldflagsX: string[] };
  /** Scripts shipped next to the binary (paths inside the src dir), installed executable beside it. */
  companions: string[];
  /** Why this recipe cannot build it (e.g. no archive at the requested version); never built then. */
  unavailable?: string;
  /** Set for resource plugins: `pulumi plugin install resource NAME VERSION --file BIN`. */
  plugin?: { name: string; version: string };
  /** Optional binaries do not make the toolchain incomplete. */
  optional?: boolean;
}

interface LockFile {
  packages?: Record<string, { version?: string }>;
}

interface SdkPackageJson {
  name?: string;
  version?: string;
  pulumi?: { name?: string; version?: string };
}

/** Versions from package-lock.json plus node_modules/@pulumi/{command,docker}/package.json (`pulumi.version`). */
export function sdkVersions(lock: LockFile, command: SdkPackageJson, docker: SdkPackageJson): SdkVersions {
  const locked = (name: string): string => {
    const v = lock.packages?.[`node_modules/${name}`]?.version;
    if (!v) throw new Error(`package-lock.json has no version for ${name}`);
    return v;
  };
  const plugin = (name: string, pkg: SdkPackageJson): string => {
    if (pkg.version !== locked(name)) {
      throw new Error(`node_modules/${name} is ${pkg.version ?? "missing"} but package-lock.json says ${locked(name)}: run npm ci`);
    }
    const v = pkg.pulumi?.version;
    if (!v) throw new Error(`node_modules/${name}/package.json has no pulumi.version`);
    return v;
  };
  return { pulumi: locked("@pulumi/pulumi"), command: plugin("@pulumi/command", command), docker: plugin("@pulumi/docker", docker) };
}

/**
 * The archive of `repo` at exactly `version`, or an error that names what was asked for and what there is:
 * "@pulumi/command asks for plugin command 1.2.2, but the upstream archive is pulumi-command-v1.2.1.tar.gz (1.2.1)".
 */
export function archiveFor(
  archives: readonly UpstreamArchive[], repo: string, version: string, asker: string,
): { archive: UpstreamArchive; error?: undefined } | { archive?: undefined; error: string } {
  const ofRepo = archives.filter((a) => a.repo === repo);
  const hit = ofRepo.find((a) => a.version === version);
  if (hit) return { archive: hit };
  const have = ofRepo.map((a) => `${a.file} (${a.version})`).join(", ");
  const there = ofRepo.length === 1 ? `the upstream archive is ${have}` : ofRepo.length ? `the upstream archives are ${have}` : `no upstream archive of ${repo} is recorded`;
  return { error: `${asker} ${version}, but ${there}: add the matching archive and its sha256 to UPSTREAM_ARCHIVES in test/toolchain/recipe.ts` };
}

const extractOf = (a: UpstreamArchive, into = a.root): Extract => ({ file: a.file, sha256: a.sha256, root: a.root, into });
const originOf = (extract: Extract[]): string => `upstream archive ${extract.map((e) => e.file).join(" + ")}`;

const PULUMI = "github.com/pulumi/pulumi";
const CLIPBOARD_REPLACE = "github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e";
// No -trimpath: with it, Go leaves -ldflags out of the build info (go.dev/issue/52372), and the -X stamps are
// checked there (buildInfoProblems).
const goBuild = (ldflagsX: string[], pkg: string, tags: string[] = []): string[] => [
  "go", "build", ...(tags.length ? ["-tags", tags.join(",")] : []),
  "-ldflags", ldflagsX.map((x) => `-X ${x}`).join(" "), "-o", "OUT", pkg,
];

/** The wrapper module that builds one binary from the proxy: requires its modules, repeats upstream's replaces. */
export function wrapperGoMod(name: string, modules: ModuleRef[], replaces: string[]): string {
  const lines = [`module pyjoules.local/toolchain/${name}`, "", "go 1.24", "", "require (", ...modules.map((m) => `\t${m.path} ${m.version}`), ")"];
  if (replaces.length) lines.push("", ...replaces.map((r) => `replace ${r}`));
  return lines.join("\n") + "\n";
}

function proxySpec(name: string, version: string, modules: ModuleRef[], pkg: string, ldflagsX: string[], replaces: string[]): BinarySpec {
  return {
    name, kind: name === "pulumi" ? "cli" : "language", version, dir: "bin",
    origin: `the Go module proxy (${modules.map((m) => `${m.path}@${m.version}`).join(", ")})`,
    extract: [],
    files: { "go.mod": wrapperGoMod(name, modules, replaces), "tools.go": `//go:build tools\n\npackage tools\n\nimport _ "${pkg}"\n` },
    steps: [{ cwd: ".", argv: ["go", "mod", "tidy"] }, { cwd: ".", argv: goBuild(ldflagsX, pkg, GO_BUILD_TAGS) }],
    expect: { modules, ldflagsX }, companions: [],
  };
}

function cliSpec(v: string): BinarySpec {
  const modules = [{ path: `${PULUMI}/pkg/v3`, version: `v${v}` }, { path: `${PULUMI}/sdk/v3`, version: `v${v}` }];
  return proxySpec("pulumi", v, modules, `${PULUMI}/pkg/v3/cmd/pulumi`, [`${PULUMI}/sdk/v3/go/common/version.Version=v${v}`], [CLIPBOARD_REPLACE]);
}

function yamlSpec(): BinarySpec {
  const mod = "github.com/pulumi/pulumi-yaml";
  const modules = [{ path: mod, version: `v${PULUMI_YAML_VERSION}` }];
  return { ...proxySpec("pulumi-language-yaml", PULUMI_YAML_VERSION, modules, `${mod}/cmd/pulumi-language-yaml`, [`${mod}/pkg/version.Version=${PULUMI_YAML_VERSION}`], []), optional: true };
}

/** A spec that cannot be built: recorded as missing with `why`. */
function unavailableSpec(base: Pick<BinarySpec, "name" | "kind" | "version" | "dir" | "plugin">, why: string): BinarySpec {
  return { ...base, origin: "nowhere", extract: [], files: {}, steps: [], expect: { modules: [], ldflagsX: [] }, companions: [], unavailable: why };
}

/** The three language hosts from the pulumi/pulumi archive; go.mod points pkg/sdk at the proxy's v<v>. */
function languageHostSpecs(v: string, archives: readonly UpstreamArchive[]): BinarySpec[] {
  const hosts = [
    { lang: "nodejs", dir: "sdk/nodejs/cmd/pulumi-language-nodejs", companions: ["sdk/nodejs/dist/pulumi-resource-pulumi-nodejs"] },
    { lang: "python", dir: "sdk/python/cmd/pulumi-language-python", companions: ["sdk/python/cmd/pulumi-language-python-exec", "sdk/python/dist/pulumi-resource-pulumi-python"] },
    { lang: "go", dir: "sdk/go/pulumi-language-go", companions: [] },
  ];
  const found = archiveFor(archives, "pulumi/pulumi", v, "@pulumi/pulumi asks for the language hosts");
  const pins = [`${PULUMI}/pkg/v3`, `${PULUMI}/sdk/v3`];
  const stamp = [`${PULUMI}/sdk/v3/go/common/version.Version=v${v}`];
  return hosts.map((h) => {
    const base = { name: `pulumi-language-${h.lang}`, kind: "language" as const, version: v, dir: "bin" as const };
    if (!found.archive) return unavailableSpec(base, found.error);
    const extract = [extractOf(found.archive)];
    const cwd = `${found.archive.root}/${h.dir}`;
    const edit = ["go", "mod", "edit", ...pins.flatMap((p) => ["-dropreplace", p]), ...pins.flatMap((p) => ["-require", `${p}@v${v}`])];
    return {
      ...base, origin: originOf(extract), extract, files: {},
      steps: [{ cwd, argv: edit }, { cwd, argv: ["go", "mod", "tidy"] }, { cwd, argv: goBuild(stamp, ".") }],
      expect: { modules: pins.map((path) => ({ path, version: `v${v}` })), ldflagsX: stamp },
      companions: h.companions.map((c) => `${found.archive.root}/${c}`),
    };
  });
}

function commandSpec(v: string, archives: readonly UpstreamArchive[]): BinarySpec {
  const base = { name: "pulumi-resource-command", kind: "resource" as const, version: v, dir: "providers" as const, plugin: { name: "command", version: v } };
  const found = archiveFor(archives, "pulumi/pulumi-command", v, "@pulumi/command asks for plugin command");
  if (!found.archive) return unavailableSpec(base, found.error);
  const extract = [extractOf(found.archive)];
  // Stamp without "v", as upstream's README recipe (main.go trims a leading "v" anyway; see test/toolchain/README.md).
  const stamp = [`github.com/pulumi/pulumi-command/provider/pkg/version.Version=${v}`];
  return {
    ...base, origin: originOf(extract), extract, files: {},
    steps: [{ cwd: `${found.archive.root}/provider`, argv: goBuild(stamp, "./cmd/pulumi-resource-command") }],
    expect: { modules: [], ldflagsX: stamp }, companions: [],
  };
}

/** pulumi-docker + its terraform provider as `upstream/`, patches applied, schema-embed.json generated, built. */
function dockerSpec(v: string, archives: readonly UpstreamArchive[]): BinarySpec {
  const base = { name: "pulumi-resource-docker", kind: "resource" as const, version: v, dir: "providers" as const, plugin: { name: "docker", version: v } };
  const found = archiveFor(archives, "pulumi/pulumi-docker", v, "@pulumi/docker asks for plugin docker");
  if (!found.archive) return unavailableSpec(base, found.error);
  const sub = DOCKER_SUBMODULE[v];
  const tf = sub ? archiveFor(archives, sub.repo, sub.version, `pulumi-docker ${v} needs its upstream submodule ${sub.repo}`) : undefined;
  if (!tf?.archive) return unavailableSpec(base, tf?.error ?? `DOCKER_SUBMODULE in test/toolchain/recipe.ts has no entry for pulumi-docker ${v}`);
  const root = found.archive.root;
  const patchList = found.archive.patches ?? [];
  const extract = [{ ...extractOf(found.archive), patches: { dir: `${root}/patches`, files: patchList } }, extractOf(tf.archive, `${root}/upstream`)];
  const major = v.split(".")[0];
  const stamp = [`github.com/pulumi/pulumi-docker/provider/v${major}/pkg/version.Version=${v}`];
  const patches = patchList.map((p) => ({ cwd: `${root}/upstream`, argv: ["patch", "-p1", "--forward", "--batch", "-i", `../patches/${p}`] }));
  return {
    ...base, origin: originOf(extract), extract, files: {},
    steps: [
      ...patches,
      { cwd: `${root}/provider/cmd/pulumi-resource-docker`, argv: ["go", "run", "generate.go"], env: { VERSION: v } },
      { cwd: `${root}/provider`, argv: goBuild(stamp, "./cmd/pulumi-resource-docker") },
    ],
    expect: { modules: [], ldflagsX: stamp }, companions: [],
  };
}

/** Every binary the project wants, in build order (the CLI first: it installs the providers). */
export function toolchainSpecs(v: SdkVersions, archives: readonly UpstreamArchive[] = UPSTREAM_ARCHIVES): BinarySpec[] {
  return [cliSpec(v.pulumi), ...languageHostSpecs(v.pulumi, archives), yamlSpec(), commandSpec(v.command, archives), dockerSpec(v.docker, archives)];
}

/** A step's argv with the output path in place of `OUT`. */
export const stepArgv = (s: Step, out: string): string[] => s.argv.map((a) => (a === "OUT" ? out : a));

/** Environment overrides for every go invocation (static binaries, as upstream builds them). */
export const GO_ENV = { CGO_ENABLED: "0" };

export interface GoEnvInfo {
  GOVERSION: string;
  GOOS: string;
  GOARCH: string;
  GOFLAGS: string;
}

/** Cache key: sha256 over every input (Go, archives and their sha256, files, steps, flags, stamps, recipe version). */
export function toolchainKey(go: GoEnvInfo, specs: BinarySpec[]): string {
  const inputs = { recipe: RECIPE_VERSION, go, goEnv: GO_ENV, binaries: specs };
  return createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 16);
}

/** `go version -m BIN`: modules (main and deps) by path, and build settings. */
export interface BuildInfo {
  modules: Map<string, string>;
  settings: Map<string, string>;
}

export function parseBuildInfo(text: string): BuildInfo {
  const info: BuildInfo = { modules: new Map(), settings: new Map() };
  for (const line of text.split("\n")) {
    const f = line.trim().split("\t");
    if ((f[0] === "mod" || f[0] === "dep") && f.length >= 3) info.modules.set(f[1], f[2]);
    if (f[0] === "build" && f[1]) {
      const eq = f[1].indexOf("=");
      const raw = f[1].slice(eq + 1);
      info.settings.set(f[1].slice(0, eq), raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
    }
  }
  return info;
}

/** What in the built binary differs from the spec (CGO off, module versions, -X stamps). */
export function buildInfoProblems(spec: BinarySpec, info: BuildInfo): string[] {
  const problems: string[] = [];
  if (info.settings.get("CGO_ENABLED") !== "0") problems.push(`CGO_ENABLED=${info.settings.get("CGO_ENABLED") ?? "?"} (want 0)`);
  for (const m of spec.expect.modules) {
    if (info.modules.get(m.path) !== m.version) problems.push(`${m.path} is ${info.modules.get(m.path) ?? "absent"} (want ${m.version})`);
  }
  const ldflags = info.settings.get("-ldflags") ?? "";
  for (const x of spec.expect.ldflagsX) if (!ldflags.includes(`-X ${x}`)) problems.push(`stamp -X ${x} missing (-ldflags ${JSON.stringify(ldflags)})`);
  return problems;
}

/** The one line printed and recorded when the upstream archives are not there. */
export function upstreamAbsentMessage(dir: string, fromEnv: boolean): string {
  const where = fromEnv ? `PYJOULES_UPSTREAM_DIR=${dir}` : `${dir} (set PYJOULES_UPSTREAM_DIR to use another directory)`;
  return (
    `the upstream source archives are not here: ${where}; the command/docker providers and the language hosts ` +
    "cannot be built in this checkout; a user with network access uses their own `pulumi`, which downloads the plugins"
  );
}

/** The first line of go's output that is an error, not a "# package" header or download progress. */
export function firstError(output: string): string | undefined {
  return output.split("\n").find((l) => l.trim() && !l.startsWith("#") && !/^go: (downloading|finding|extracting) /.test(l));
}

/** Why the `*.patch` files found differ from the list in the recipe, or undefined when they are the same. */
export function patchListProblem(listed: string[], found: string[]): string | undefined {
  const have = found.filter((f) => f.endsWith(".patch")).sort();
  if (have.join("\n") === listed.join("\n")) return undefined;
  return `the archive's patches are [${have.join(", ")}] but recipe.ts lists [${listed.join(", ")}] (in name order)`;
}
