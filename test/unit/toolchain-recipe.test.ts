// The pure part of the toolchain builder (test/toolchain/recipe.ts): versions come from the lock file and the
// SDKs, an archive at another version is an error naming both, the -X stamps are checked in the build info,
// and the cache key moves with every input.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  archiveFor, buildInfoProblems, parseBuildInfo, sdkVersions, toolchainKey, toolchainSpecs, UPSTREAM_ARCHIVES, type GoEnvInfo,
} from "../toolchain/recipe";
import { archiveProblem } from "../toolchain/upstream";

const SDK = { pulumi: "3.248.0", command: "1.2.1", docker: "4.11.0" };
const GO: GoEnvInfo = { GOVERSION: "go1.26.8", GOOS: "linux", GOARCH: "amd64", GOFLAGS: "" };
const spec = (name: string, sdk = SDK) => toolchainSpecs(sdk).find((s) => s.name === name)!;

describe("toolchain recipe", () => {
  it("reads the plugin versions from the SDKs and refuses a node_modules that differs from the lock", () => {
    const lock = { packages: { "node_modules/@pulumi/pulumi": { version: "3.248.0" }, "node_modules/@pulumi/command": { version: "1.2.1" }, "node_modules/@pulumi/docker": { version: "4.11.0" } } };
    const command = { version: "1.2.1", pulumi: { version: "1.2.1" } };
    expect(sdkVersions(lock, command, { version: "4.11.0", pulumi: { version: "4.11.0" } })).toEqual(SDK);
    expect(() => sdkVersions(lock, command, { version: "5.2.0", pulumi: { version: "5.2.0" } })).toThrow(/node_modules\/@pulumi\/docker is 5\.2\.0 but package-lock\.json says 4\.11\.0: run npm ci/);
  });

  it("an SDK asking for a version no archive holds is an error naming both, and nothing is built for it", () => {
    const r = archiveFor(UPSTREAM_ARCHIVES, "pulumi/pulumi-docker", "5.2.0", "@pulumi/docker asks for plugin docker");
    expect(r.error).toBe(
      "@pulumi/docker asks for plugin docker 5.2.0, but the upstream archive is pulumi-docker-v4.11.0.tar.gz (4.11.0): add the matching archive and its sha256 to UPSTREAM_ARCHIVES in test/toolchain/recipe.ts",
    );
    const docker = spec("pulumi-resource-docker", { ...SDK, docker: "5.2.0" });
    expect(docker.unavailable).toBe(r.error);
    expect(docker.steps).toEqual([]);
  });

  it("builds each piece at the version its SDK asks for, from the archives, stamped, without -trimpath", () => {
    const docker = spec("pulumi-resource-docker");
    expect(docker.plugin).toEqual({ name: "docker", version: "4.11.0" });
    expect(docker.extract.map((e) => e.file)).toEqual(["pulumi-docker-v4.11.0.tar.gz", "terraform-provider-docker-d7d7ff7f.tar.gz"]);
    expect(docker.expect.ldflagsX).toEqual(["github.com/pulumi/pulumi-docker/provider/v4/pkg/version.Version=4.11.0"]);
    expect(spec("pulumi-resource-command").expect.ldflagsX).toEqual(["github.com/pulumi/pulumi-command/provider/pkg/version.Version=1.2.1"]);
    expect(spec("pulumi-language-python").companions.map((c) => path.basename(c))).toEqual(["pulumi-language-python-exec", "pulumi-resource-pulumi-python"]);
    // -trimpath would drop -ldflags from the build info, where the stamps are checked (go.dev/issue/52372)
    for (const s of toolchainSpecs(SDK)) expect(s.steps.flatMap((st) => st.argv)).not.toContain("-trimpath");
  });

  it("finds a missing -X stamp and a wrong module version in `go version -m` output", () => {
    const cli = spec("pulumi");
    const info = (ldflags: string, sdk = "v3.248.0") =>
      parseBuildInfo(
        [
          "/x/pulumi: go1.26.8",
          "\tpath\tgithub.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
          "\tdep\tgithub.com/pulumi/pulumi/pkg/v3\tv3.248.0\th1:x=",
          `\tdep\tgithub.com/pulumi/pulumi/sdk/v3\t${sdk}\th1:y=`,
          "\tbuild\tCGO_ENABLED=0",
          ...(ldflags ? [`\tbuild\t-ldflags=${JSON.stringify(ldflags)}`] : []),
        ].join("\n"),
      );
    expect(buildInfoProblems(cli, info("-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v3.248.0"))).toEqual([]);
    expect(buildInfoProblems(cli, info(""))).toEqual([
      'stamp -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v3.248.0 missing (-ldflags "")',
    ]);
    expect(buildInfoProblems(cli, info("-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v3.248.0", "v3.247.0"))).toEqual([
      "github.com/pulumi/pulumi/sdk/v3 is v3.247.0 (want v3.248.0)",
    ]);
  });

  it("keys the cache on every input: an archive's sha256, a step, the Go version", () => {
    const base = toolchainKey(GO, toolchainSpecs(SDK));
    expect(toolchainKey(GO, toolchainSpecs(SDK))).toBe(base);
    const otherSha = UPSTREAM_ARCHIVES.map((a, i) => (i === 0 ? { ...a, sha256: "0".repeat(64) } : a));
    expect(toolchainKey(GO, toolchainSpecs(SDK, otherSha))).not.toBe(base);
    const otherStep = toolchainSpecs(SDK).map((s, i) => (i === 0 ? { ...s, steps: [...s.steps, { cwd: ".", argv: ["true"] }] } : s));
    expect(toolchainKey(GO, otherStep)).not.toBe(base);
    expect(toolchainKey({ ...GO, GOVERSION: "go1.26.9" }, toolchainSpecs(SDK))).not.toBe(base);
  });

  it("checks an archive's sha256 before use, naming the file, the expected and the actual digest", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pyj-upstream-"));
    try {
      fs.writeFileSync(path.join(dir, "a.tar.gz"), "not the archive");
      const actual = "0f0e0c4a7fd6b1c94ae7c5a79f4b6a4d5b5e8d9fd7d0bbcc9e8f0ed6ddaa5b7f";
      const problem = archiveProblem(dir, { file: "a.tar.gz", sha256: actual });
      expect(problem).toMatch(new RegExp(`^sha256 mismatch for ${dir}/a\\.tar\\.gz: expected ${actual}, actual [0-9a-f]{64}$`));
      expect(archiveProblem(dir, { file: "b.tar.gz", sha256: actual })).toBe(`upstream archive ${dir}/b.tar.gz does not exist`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
