// Pure part of the toolchain builder: which binaries, from which Go modules at which versions, built how,
// and the cache key over all of it. No I/O here (build.ts and index.ts do the process wiring).
import { createHash } from "node:crypto";

/** Bump when the way binaries are built changes, so old cache entries are not reused. */
export const RECIPE_VERSION = 1;

/** Upstream build flags (pulumi/pulumi's goreleaser: CGO off, -trimpath, these tags). */
export const GO_BUILD_TAGS = ["osusergo", "grpcnotrace"];

/**
 * Commits of upstream release tags, by "<repo>@<npm version>". The Go module proxy cannot resolve a tag of
 * a nested module that has no tags of its own (pulumi-language-nodejs/python, pulumi-command/provider), so
 * those are fetched by pseudo-version = v<major>.0.0-<commit time UTC>-<first 12 hex of the commit>.
 * Source: the tags of the upstream repositories (github.com/pulumi/pulumi tag pkg/v3.248.0,
 * github.com/pulumi/pulumi-command tag v1.2.1), read there; not resolvable from here.
 */
export const UPSTREAM_TAG_COMMITS: Record<string, UpstreamCommit> = {
  "pulumi@3.248.0": { tag: "pkg/v3.248.0", time: "20260624180030", commit: "dc7edd58bc13" },
  "pulumi-command@1.2.1": { tag: "v1.2.1", time: "20260303235922", commit: "7f3eb6f3b77cd0fa3895ba437a695dd393f7dd25" },
};

/**
 * pulumi-language-yaml has no npm package to pin it: it is a separately versioned language plugin. This is the
 * newest version the proxy lists (`go list -m -versions github.com/pulumi/pulumi-yaml` → v1.11.1 v1.25.0);
 * the exact version upstream bundles with the CLI is not visible from here. Only used to check the CLI.
 */
export const PULUMI_YAML_VERSION = "1.25.0";

export interface UpstreamCommit {
  tag: string;
  /** Commit time, UTC, yyyymmddhhmmss (as in a Go pseudo-version). */
  time: string;
  /** Full or ≥12-hex-digit prefix of the commit. */
  commit: string;
}

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

export interface BinarySpec {
  /** File name of the binary, e.g. pulumi-resource-command. */
  name: string;
  kind: "cli" | "language" | "resource";
  /** The version this binary is (what it reports / is installed as). */
  version: string;
  /** Where it lands in the cache dir. */
  dir: "bin" | "providers";
  /** Modules that must be downloadable; the first one holds the main package. */
  modules: ModuleRef[];
  /** Main package to build. */
  pkg: string;
  /** Extra requirements pinned in the wrapper module (beyond `modules`). */
  pins: ModuleRef[];
  /** Non-local replace directives repeated from upstream go.mod files. */
  replaces: string[];
  tags: string[];
  /** -X stamps. */
  ldflagsX: string[];
  /** Scripts shipped next to the binary upstream, copied from a module's zip (paths inside that module). */
  companions?: { module: ModuleRef; files: string[] };
  /** Set when this recipe cannot build it even if every module is served. */
  notImplemented?: string;
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

/** A Go pseudo-version for a commit of a module with no tags: v<major>.0.0-<time>-<12 hex>. */
export function pseudoVersion(major: number, c: UpstreamCommit): string {
  if (!/^\d{14}$/.test(c.time) || !/^[0-9a-f]{12,40}$/.test(c.commit)) throw new Error(`bad upstream commit ${JSON.stringify(c)}`);
  return `v${major}.0.0-${c.time}-${c.commit.slice(0, 12)}`;
}

export function upstreamCommit(repo: string, version: string): UpstreamCommit {
  const c = UPSTREAM_TAG_COMMITS[`${repo}@${version}`];
  if (!c) {
    throw new Error(`no upstream commit recorded for ${repo} ${version}: add the commit of its release tag to UPSTREAM_TAG_COMMITS in test/toolchain/recipe.ts`);
  }
  return c;
}

const PULUMI = "github.com/pulumi/pulumi";
const CLIPBOARD_REPLACE = "github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e";

function pulumiSpecs(v: string): BinarySpec[] {
  const pin = [{ path: `${PULUMI}/pkg/v3`, version: `v${v}` }, { path: `${PULUMI}/sdk/v3`, version: `v${v}` }];
  const stamp = [`${PULUMI}/sdk/v3/go/common/version.Version=v${v}`];
  const hostVersion = pseudoVersion(3, upstreamCommit("pulumi", v));
  const host = (lang: string, files: string[]): BinarySpec => {
    const mod = `${PULUMI}/sdk/${lang}/cmd/pulumi-language-${lang}/v3`;
    return {
      name: `pulumi-language-${lang}`, kind: "language", version: v, dir: "bin", modules: [{ path: mod, version: hostVersion }],
      pkg: mod, pins: pin, replaces: [CLIPBOARD_REPLACE], tags: GO_BUILD_TAGS, ldflagsX: stamp,
      companions: { module: pin[1], files },
    };
  };
  const cli: BinarySpec = {
    name: "pulumi", kind: "cli", version: v, dir: "bin", modules: pin, pkg: `${PULUMI}/pkg/v3/cmd/pulumi`,
    pins: [], replaces: [CLIPBOARD_REPLACE], tags: GO_BUILD_TAGS, ldflagsX: stamp,
  };
  // Scripts in the sdk/v3 module zip that upstream's release puts next to the language hosts.
  const nodejs = host("nodejs", ["nodejs/dist/pulumi-resource-pulumi-nodejs"]);
  const python = host("python", ["python/cmd/pulumi-language-python-exec", "python/dist/pulumi-resource-pulumi-python"]);
  return [cli, nodejs, python];
}

function yamlSpec(): BinarySpec {
  const mod = "github.com/pulumi/pulumi-yaml";
  return {
    name: "pulumi-language-yaml", kind: "language", version: PULUMI_YAML_VERSION, dir: "bin", optional: true,
    modules: [{ path: mod, version: `v${PULUMI_YAML_VERSION}` }], pkg: `${mod}/cmd/pulumi-language-yaml`, pins: [], replaces: [],
    tags: GO_BUILD_TAGS, ldflagsX: [`${mod}/pkg/version.Version=${PULUMI_YAML_VERSION}`],
  };
}

function commandSpec(v: string): BinarySpec {
  const mod = "github.com/pulumi/pulumi-command/provider";
  return {
    name: "pulumi-resource-command", kind: "resource", version: v, dir: "providers", plugin: { name: "command", version: v },
    modules: [{ path: mod, version: pseudoVersion(0, upstreamCommit("pulumi-command", v)) }], pkg: `${mod}/cmd/pulumi-resource-command`,
    pins: [], replaces: [], tags: [], ldflagsX: [`${mod}/pkg/version.Version=v${v}`],
  };
}

function dockerSpec(v: string): BinarySpec {
  const mod = "github.com/pulumi/pulumi-docker/provider/v5";
  return {
    name: "pulumi-resource-docker", kind: "resource", version: v, dir: "providers", plugin: { name: "docker", version: v },
    // The provider module, and the root module (served as +incompatible) that carries patches/ for ../upstream.
    modules: [{ path: mod, version: `v${v}` }, { path: "github.com/pulumi/pulumi-docker", version: `v${v}+incompatible` }],
    pkg: `${mod}/cmd/pulumi-resource-docker`, pins: [], replaces: [], tags: ["no_compose"], ldflagsX: [`${mod}/pkg/version.Version=${v}`],
    notImplemented:
      "the docker recipe (kreuzwerker/terraform-provider-docker fetched by commit as ../upstream, pulumi's patches/ applied, " +
      "schema-embed.json generated) is not implemented: it cannot be written and tested while the proxy refuses the provider module",
  };
}

/** Every binary the project wants, in build order (the CLI first: it installs the providers). */
export function toolchainSpecs(v: SdkVersions): BinarySpec[] {
  return [...pulumiSpecs(v.pulumi), yamlSpec(), commandSpec(v.command), dockerSpec(v.docker)];
}

/** The wrapper module that builds one binary: requires its modules, repeats upstream's non-local replaces. */
export function wrapperGoMod(spec: BinarySpec): string {
  const reqs = [...spec.modules, ...spec.pins].filter((m, i, all) => all.findIndex((o) => o.path === m.path) === i);
  const lines = [`module pyjoules.local/toolchain/${spec.name}`, "", "go 1.24", "", "require (", ...reqs.map((m) => `\t${m.path} ${m.version}`), ")"];
  if (spec.replaces.length) lines.push("", ...spec.replaces.map((r) => `replace ${r}`));
  return lines.join("\n") + "\n";
}

export function wrapperToolsGo(spec: BinarySpec): string {
  return `//go:build tools\n\npackage tools\n\nimport _ "${spec.pkg}"\n`;
}

export function goBuildArgs(spec: BinarySpec, out: string): string[] {
  const args = ["build", "-trimpath"];
  if (spec.tags.length) args.push("-tags", spec.tags.join(","));
  if (spec.ldflagsX.length) args.push("-ldflags", spec.ldflagsX.map((x) => `-X ${x}`).join(" "));
  return [...args, "-o", out, spec.pkg];
}

/** Environment overrides for every go invocation (upstream builds static binaries). */
export const GO_ENV = { CGO_ENABLED: "0" };

export interface GoEnvInfo {
  GOVERSION: string;
  GOOS: string;
  GOARCH: string;
  GOFLAGS: string;
}

/** Cache key: sha256 over every input (Go, modules, wrapper go.mod texts, flags, recipe version). */
export function toolchainKey(go: GoEnvInfo, specs: BinarySpec[]): string {
  const inputs = {
    recipe: RECIPE_VERSION,
    go,
    goEnv: GO_ENV,
    binaries: specs.map((s) => ({ ...s, goMod: wrapperGoMod(s), toolsGo: wrapperToolsGo(s), args: goBuildArgs(s, "OUT") })),
  };
  return createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 16);
}

export interface DownloadResult {
  path: string;
  version: string;
  ok: boolean;
  error?: string;
  dir?: string;
}

/** Parses `go mod download -json A@x B@y` output: a stream of concatenated JSON objects, one per module. */
export function parseGoModDownload(stdout: string): DownloadResult[] {
  const out: DownloadResult[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < stdout.length; i++) {
    const ch = stdout[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === "{" && depth++ === 0) start = i;
    else if (ch === "}" && --depth === 0) out.push(downloadResult(JSON.parse(stdout.slice(start, i + 1))));
  }
  return out;
}

function downloadResult(o: { Path?: string; Version?: string; Error?: string; Dir?: string }): DownloadResult {
  return { path: o.Path ?? "?", version: o.Version ?? "?", ok: !o.Error, error: o.Error, dir: o.Dir };
}

/** "403 Forbidden: This module version is not available." from a proxy error, or the error's first line. */
export function shortGoError(error: string): string {
  const status = /: (\d{3} [A-Za-z ]+)\n\s*server response: (.*)/.exec(error);
  if (status) return `${status[1]}: ${status[2].trim()}`;
  const notFound = /: (\d{3} [A-Za-z ]+)$/m.exec(error);
  return notFound ? notFound[1] : error.split("\n")[0];
}
