// Real consumers of the package in TypeScript, Python, Go and YAML, through the real CLI (test/engine), set up the
// way a user sets them up (test/consumers/projects.ts). TypeScript and Python go all the way: `pulumi up` against a
// Debian 13 VM, the attestation read, `pulumi destroy` leaving the host clean. Go: `pulumi preview`. Each language
// also shows what a host without connection.host gives: the component's one line naming it. YAML cannot run here:
// see docs/multi-language.md ("YAML and the toolchain").
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { changed, EngineRunError, EngineStack, errorLines, requireEngine, type EngineRun } from "../engine";
import { generatedNames, goProject, packTarball, pythonInvalidProject, pythonProject, tempDir, typescriptProject } from "../consumers/projects";
import { CONTAINER_NAME, PROFILE_NAME, REMOTE_WRITE_URL, secs } from "../posture/fleet";
import { bootVm, ensureImage, tailLines, TEST_CLIENT_IMAGE, type Vm } from "../vm";
import { suiteSteps } from "./steps";

const log = (s: string) => console.log(`[consumers] ${s}`);
/** What every language must print for a PyJoulesHost "h1" whose connection has no host. */
const NO_HOST = 'PyJoulesHost "h1": invalid connection.host: Invalid input: expected string, received undefined';
const DOC = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "multi-language.md"), "utf8");
/** Every name the generated SDK defines is in docs/multi-language.md. */
const expectDocumented = (sdkDir: string, language: "python" | "go") => {
  const names = generatedNames(sdkDir, language);
  log(`${language} SDK defines: ${names.join(", ")}`);
  expect(names.length).toBeGreaterThan(10);
  expect(names.filter((n) => !DOC.includes(n)), `missing from docs/multi-language.md (${language})`).toEqual([]);
};

describe("consumers of the package through the real CLI", () => {
  let vm: Vm | undefined;
  const dirs: string[] = [];
  const stacks: EngineStack[] = [];

  const newStack = async (workDir: string, stack = "dev") => {
    const s = await EngineStack.create({ project: "", stack, workDir });
    stacks.push(s);
    return s;
  };
  const target = () => {
    if (!vm) throw new Error("the VM did not boot");
    return vm;
  };
  /** The engine run of a failing operation (anything else fails the test). */
  const failure = async (op: () => Promise<EngineRun>): Promise<EngineRun> => {
    const e = await op().then(() => undefined, (err: unknown) => err);
    expect(e, "the operation should fail").toBeInstanceOf(EngineRunError);
    return (e as EngineRunError).run;
  };
  /** The host is clean: no client container, the profile not loaded. */
  const expectClean = async () => {
    expect((await target().ssh(`docker ps -aq --filter name=^/${CONTAINER_NAME}$`)).stdout.trim()).toBe("");
    expect((await target().ssh("sudo -n cat /sys/kernel/security/apparmor/profiles")).stdout).not.toContain(`${PROFILE_NAME} (`);
  };
  const { step, failed } = suiteSteps({ done: (name, ms) => log(`${name}: ${secs(ms)}`) });

  beforeAll(async () => {
    log(`engine: ${requireEngine(log)}`);
    vm = await bootVm(await ensureImage("trixie"), { log });
  });
  afterAll(async () => {
    if (failed() && vm) console.log(`[consumers] serial log tail:\n${tailLines(vm.serialLog(), 60)}`);
    for (const s of stacks) await s.cleanup();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    await vm?.stop();
  });

  step("TypeScript: a fresh project with the packed tarball: preview, up (attested), destroy leaves the host clean", async () => {
    const packDir = tempDir("pack");
    dirs.push(packDir);
    const dir = await typescriptProject(await packTarball(packDir));
    dirs.push(dir);
    const v = target();
    const s = await newStack(dir);
    const config = { target: { host: v.host, port: v.port, user: v.image.users.admin, hostKey: v.image.hostKey }, remoteWriteUrl: REMOTE_WRITE_URL, image: TEST_CLIENT_IMAGE };
    await s.setConfig(config, { sshPrivateKey: v.image.userKey });
    const preview = await s.preview({ diff: true });
    log(`typescript preview: ${secs(preview.ms)} ${JSON.stringify(preview.changes)}`);
    expect(preview.changes.create).toBe(8);
    const up = await s.up();
    log(`typescript up: ${secs(up.ms)} ${JSON.stringify(up.changes)}`);
    const att = (up.outputs.attestations as Record<string, Record<string, unknown>>).vm!;
    const vp = (up.outputs.verifiedProfiles as Record<string, Record<string, unknown>>).vm!;
    log(`typescript attestation: ${JSON.stringify(att)}`);
    expect(vp).toMatchObject({ name: PROFILE_NAME, mode: "enforce" });
    expect(att).toMatchObject({ ok: true, procAttrCurrent: `${PROFILE_NAME} (enforce)`, raplEnergyIncreasing: true, profileSha256: vp.sha256 });
    expect(changed(await s.preview({ diff: true }))).toEqual([]);
    await s.destroy();
    await expectClean();

    await s.setConfig({ ...config, invalid: true }, { sshPrivateKey: v.image.userKey });
    const bad = await failure(() => s.preview());
    const printed = errorLines(bad).join("\n");
    log(`typescript, a host without connection.host, pulumi preview printed:\n  ${printed}`);
    expect(printed).toContain(NO_HOST);
    expect(printed).not.toMatch(/^\s+at /m);
  });

  let pythonDir: string | undefined;
  step("Python: examples/python with `pulumi package add`: up against the VM, the attestation read, destroy", async () => {
    pythonDir = await pythonProject();
    dirs.push(pythonDir);
    expectDocumented(path.join(pythonDir, "sdks", "pyjoules", "pulumi_pyjoules"), "python");
    const v = target();
    const s = await newStack(pythonDir);
    const hosts = [{ name: "vm", host: v.host, port: v.port, user: v.image.users.admin, hostKey: v.image.hostKey }];
    await s.setConfig({ hosts, remoteWriteUrl: REMOTE_WRITE_URL, image: TEST_CLIENT_IMAGE }, { sshPrivateKey: v.image.userKey });
    const up = await s.up();
    log(`python up: ${secs(up.ms)} ${JSON.stringify(up.changes)}`);
    const att = (up.outputs.attestations as Record<string, Record<string, unknown>>).vm!;
    log(`python attestation: ${JSON.stringify(att)}`);
    // the Python SDK's output types spell their fields in snake_case, also in the stack outputs
    expect(att).toMatchObject({ ok: true, proc_attr_current: `${PROFILE_NAME} (enforce)`, rapl_energy_increasing: true });
    expect((await target().ssh(`docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' ${CONTAINER_NAME}`)).stdout).toContain("SERVICE_LABEL=vm");
    expect(changed(await s.preview({ diff: true }))).toEqual([]);
    await s.destroy();
    await expectClean();

    const invalid = pythonInvalidProject(pythonDir);
    dirs.push(invalid);
    const bad = await failure(async () => (await newStack(invalid)).preview());
    const printed = errorLines(bad).join("\n");
    log(`python, a host without connection.host, pulumi preview printed (first lines):\n  ${printed.split("\n").slice(0, 3).join("\n  ")}`);
    expect(printed.split("\n")[0]).toContain(NO_HOST);
  });

  step("Go: `pulumi package add`, a program built against the generated SDK, preview", async () => {
    const dir = await goProject();
    dirs.push(dir);
    expectDocumented(path.join(dir, "sdks", "pyjoules"), "go");
    const v = target();
    const s = await newStack(dir);
    const config = { host: v.host, hostKey: v.image.hostKey, remoteWriteUrl: REMOTE_WRITE_URL };
    await s.setConfig(config, { sshPrivateKey: v.image.userKey });
    const preview = await s.preview({ diff: true });
    log(`go preview: ${secs(preview.ms)} ${JSON.stringify(preview.changes)}; outputs ${JSON.stringify(preview.outputs)}`);
    expect(preview.changes.create).toBe(7);
    expect(preview.steps.filter((x) => x.type === "pyjoules:index:PyJoulesHost").map((x) => x.name)).toEqual(["h1"]);

    await s.setConfig({ ...config, invalid: true }, { sshPrivateKey: v.image.userKey });
    const printed = errorLines(await failure(() => s.preview())).join("\n");
    log(`go, a host without connection.host, pulumi preview printed:\n  ${printed}`);
    expect(printed).toContain(NO_HOST);
  });
});
