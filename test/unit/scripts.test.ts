/**
 * Unit tests for the host-side POSIX sh scripts (profiles/provision.sh, remove.sh, attest.sh) and for the
 * command lines and stdin profiles/commands.ts builds around them.
 *
 * Each test gets its own fake host in a temp dir: a fake filesystem root (PYJOULES_TEST_ROOT) with
 * /sys/module/apparmor/parameters/enabled, /sys/kernel/security/apparmor/profiles, /etc/apparmor.d/abi/3.0,
 * a RAPL zone and a fake /sbin/apparmor_parser that wraps the real parser (offline compile with -M) and edits
 * the fake kernel profile list; plus stub docker, systemctl, hostname, journalctl and dmesg first on PATH. The
 * stubs live in test/unit/fixtures/scripts and log every call under <fixture>/log.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { release, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, test, type ExpectStatic } from "vitest";
import {
  ATTEST_SH, PROVISION_SH, REMOVE_SH, USER_DOCKER_FACTS, asRoot, attestInvocation, provisionCommand, provisionInvocation, provisionStdin,
  removeCommand, removeInvocation, rootStage, shellQuote, stageLoader, verifyInvocation, type HostInvocation,
} from "../../profiles/commands";
import { DEFAULT_PROFILE_NAME, renderPyJoulesProfile, sha256Hex } from "../../profiles/render";

const REPO = resolve(__dirname, "..", "..");
const STUBS = join(__dirname, "fixtures", "scripts");
const SCRIPTS = {
  verify: join(REPO, "profiles", "verify.sh"),
  provision: join(REPO, "profiles", "provision.sh"),
  remove: join(REPO, "profiles", "remove.sh"),
  attest: join(REPO, "profiles", "attest.sh"),
} as const;
/** No /usr/local/bin: the real docker CLI installed there must never be found. */
const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";
const FEATURES = "/usr/share/apparmor-features/features";
const REAL_PARSER = spawnSync("/bin/sh", ["-c", "command -v apparmor_parser"], { env: { PATH: SYSTEM_PATH }, encoding: "utf8" }).stdout.trim();
const REAL_PARSER_VERSION = /version (\d+\.\d+\.\d+)/.exec(
  spawnSync(REAL_PARSER, ["--version"], { encoding: "utf8" }).stdout,
)?.[1];
const HAS_BASH = spawnSync("/bin/sh", ["-c", "command -v bash"], { env: { PATH: SYSTEM_PATH } }).status === 0;
const LOGIN_SHELLS = HAS_BASH ? (["/bin/sh", "bash"] as const) : (["/bin/sh"] as const);

const NAME = DEFAULT_PROFILE_NAME;
const TEXT = renderPyJoulesProfile();
const UNIT = `pyjoules-apparmor@${NAME}.service`;
const TEMPLATE = "pyjoules-apparmor@.service";
const HOST = "fakehost-1";
const DOCKER_VERSION = "29.4.3";
const SECURITY_OPTIONS = '["name=apparmor","name=seccomp,profile=builtin","name=cgroupns"]';
const DAEMON_ID = "4c1f2a9e-6b7d-4e3a-8f21-5d9c0b7a1e64";
/** What USER_DOCKER_FACTS reports for the fake user "deploy" whose docker reaches root's daemon. */
const USER_FACTS_OK = `deploy ok ${DAEMON_ID} no`;
/** When the client container started (docker inspect .State.StartedAt), and as Unix time. */
const STARTED_AT = "2026-11-25T10:00:00.123456789Z";
const STARTED = Date.parse(STARTED_AT) / 1000 | 0;
/** A kernel line of a host's journal that is no denial. */
const BENIGN_KERNEL_LINE = "virtio_net virtio1 enp0s2: renamed from eth0";
const LOAD_FAILS_PATH = "/opt/pyjoules-load-fails";

// ---------------------------------------------------------------------------------------------------------
// Running things

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(argv: readonly string[], env: NodeJS.ProcessEnv, stdin = "", timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin.on("error", () => {}); // a script that exits before reading stdin (EPIPE) is fine
    child.stdin.end(stdin);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// The fake host

interface ContainerSpec {
  id: string;
  running: boolean;
  apparmor: string;
  privileged: boolean;
  capAdd: number;
  mounts: { destination: string; rw: boolean }[];
  /** Confinement of the container's PID 1 (/proc/PID/attr/current on the host); null: unreadable. */
  attrCurrent: string | null;
  /** energy_uj of intel-rapl:0 inside: one value per read (the last one repeats); null: missing; "denied": EACCES. */
  raplEnergy: string[] | string | null;
  /** energy_uj of intel-rapl:0 as the host reads it (written when the host has the zone). */
  hostEnergy: string;
  /** docker inspect .State.StartedAt */
  startedAt: string;
}

const GOOD_CONTAINER: Omit<ContainerSpec, "id"> = {
  running: true,
  apparmor: NAME,
  privileged: false,
  capAdd: 0,
  mounts: [
    { destination: "/sys/class/powercap", rw: false },
    { destination: "/sys/devices/virtual/powercap", rw: false },
    { destination: "/etc/pyjoules", rw: true },
  ],
  attrCurrent: `${NAME} (enforce)\n`,
  raplEnergy: ["123556789"],
  hostEnergy: "123456789\n",
  startedAt: STARTED_AT,
};

const fixtureDirs: string[] = [];
afterAll(() => {
  for (const d of fixtureDirs) rmSync(d, { recursive: true, force: true });
}, 120_000);

type Tool = "parser" | "docker" | "systemctl" | "sudo" | "journalctl" | "dmesg";

class FakeHost {
  readonly dir = mkdtempSync(join(tmpdir(), "pyjoules-scripts-"));
  readonly root = join(this.dir, "root");
  readonly bin = join(this.dir, "bin");
  readonly sudoBin = join(this.dir, "sudo-bin");
  readonly idBin = join(this.dir, "id-bin");
  readonly logDir = join(this.dir, "log");
  readonly state = join(this.dir, "state");
  readonly dockerState = join(this.state, "docker");

  constructor() {
    fixtureDirs.push(this.dir);
    for (const d of [this.bin, this.sudoBin, this.idBin, this.logDir, join(this.dockerState, "containers")]) mkdirSync(d, { recursive: true });
    this.write("/sys/module/apparmor/parameters/enabled", "Y\n");
    this.write("/sys/kernel/security/apparmor/profiles", "");
    this.write("/etc/apparmor.d/abi/3.0", "# fake ABI 3.0 marker\n");
    this.write("/sys/class/powercap/intel-rapl:0/name", "package-0\n");
    this.write("/sys/class/powercap/intel-rapl:0/energy_uj", "987654321\n");
    this.install("fake-apparmor_parser", this.path("/sbin/apparmor_parser"));
    this.install("fake-docker", join(this.bin, "docker"));
    this.install("fake-systemctl", join(this.bin, "systemctl"));
    this.install("fake-hostname", join(this.bin, "hostname"));
    this.install("fake-journalctl", join(this.bin, "journalctl"));
    this.install("fake-dmesg", join(this.bin, "dmesg"));
    this.install("fake-sudo", join(this.sudoBin, "sudo"));
    this.install("fake-id", join(this.idBin, "id"));
    writeFileSync(join(this.state, "real-parser"), `${REAL_PARSER}\n`);
    writeFileSync(join(this.state, "parser-features"), `${FEATURES}\n`);
    writeFileSync(join(this.dockerState, "server-version"), `${DOCKER_VERSION}\n`);
    writeFileSync(join(this.dockerState, "daemon-id"), `${DAEMON_ID}\n`);
    writeFileSync(join(this.state, "journal"), `${BENIGN_KERNEL_LINE}\n`);
    writeFileSync(join(this.dockerState, "security-options"), `${SECURITY_OPTIONS}\n`);
  }

  private install(stub: string, to: string) {
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(STUBS, stub), to);
    chmodSync(to, 0o755);
  }

  /** A host path (e.g. /etc/apparmor.d) inside the fake root. */
  path(hostPath: string): string {
    return join(this.root, hostPath);
  }

  write(hostPath: string, content: string) {
    mkdirSync(dirname(this.path(hostPath)), { recursive: true });
    writeFileSync(this.path(hostPath), content);
  }

  read(hostPath: string): string {
    return readFileSync(this.path(hostPath), "utf8");
  }

  exists(hostPath: string): boolean {
    return existsSync(this.path(hostPath));
  }

  remove(hostPath: string) {
    rmSync(this.path(hostPath), { recursive: true, force: true });
  }

  env(pathPrefix: readonly string[] = []): NodeJS.ProcessEnv {
    return { PATH: [...pathPrefix, this.bin, SYSTEM_PATH].join(":"), PYJOULES_TEST_ROOT: this.root, LC_ALL: "C", HOME: this.dir };
  }

  provision(text: string = TEXT, args: readonly string[] = [NAME, "yes"]) {
    return run(["/bin/sh", SCRIPTS.provision, ...args], this.env(), text);
  }

  removeProfile(args: readonly string[] = [NAME]) {
    return run(["/bin/sh", SCRIPTS.remove, ...args], this.env());
  }

  attest(args: readonly string[]) {
    return run(["/bin/sh", SCRIPTS.attest, ...args], this.env());
  }

  verify(args: readonly string[] = [NAME, "pyjoules-client"]) {
    return run(["/bin/sh", SCRIPTS.verify, ...args], this.env());
  }

  /** The provision command line and stdin as sshd runs them: as the fake user "deploy" (through the fake sudo), or as root. */
  provisionCommandLine(as: "deploy" | "root", text: string = TEXT) {
    const inv = provisionInvocation(NAME, true, text);
    return run(["/bin/sh", "-c", inv.command], this.env(as === "deploy" ? [this.idBin, this.sudoBin] : [this.sudoBin]), inv.stdin);
  }

  /** Which daemon the SSH user's docker reaches (see fixtures/scripts/fake-docker). */
  userDaemon(kind: "rootless" | "other" | "denied" | "down") {
    writeFileSync(join(this.dockerState, "user-daemon"), `${kind}\n`);
  }

  /** Kernel log lines: the journal's (null: a host without one) and dmesg's (null: dmesg fails). */
  kernelLog(journal: string[] | null, dmesg: string[] | null = null) {
    for (const [file, lines] of [["journal", journal], ["dmesg", dmesg]] as const) {
      if (lines === null) rmSync(join(this.state, file), { force: true });
      else writeFileSync(join(this.state, file), lines.map((l) => `${l}\n`).join(""));
    }
  }

  calls(tool: Tool): string[] {
    const file = join(this.logDir, `${tool}.log`);
    return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l !== "") : [];
  }

  clearLogs() {
    for (const f of readdirSync(this.logDir)) rmSync(join(this.logDir, f));
  }

  kernelProfiles(): string[] {
    return this.read("/sys/kernel/security/apparmor/profiles").split("\n").filter((l) => l !== "");
  }

  /** Makes the fake parser's -r fail for any file that contains `marker`. */
  failLoadsContaining(marker: string) {
    writeFileSync(join(this.state, "fail-load-if-contains"), marker);
  }

  addContainer(name: string, spec: Partial<ContainerSpec> = {}) {
    const c: ContainerSpec = { id: createHash("sha256").update(name).digest("hex").slice(0, 12), ...GOOD_CONTAINER, ...spec };
    const d = join(this.dockerState, "containers", name);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(join(d, "fs"), { recursive: true });
    const put = (file: string, content: string) => {
      mkdirSync(dirname(join(d, file)), { recursive: true });
      writeFileSync(join(d, file), content);
    };
    put("id", `${c.id}\n`);
    // The container's PID 1 as the host sees it, with the same confinement as inside.
    const pid = 1000 + Number.parseInt(c.id.slice(0, 4), 16);
    put("pid", `${pid}\n`);
    if (c.attrCurrent !== null) this.write(`/proc/${pid}/attr/current`, c.attrCurrent);
    if (this.exists("/sys/class/powercap/intel-rapl:0/energy_uj")) this.write("/sys/class/powercap/intel-rapl:0/energy_uj", c.hostEnergy);
    put("running", `${c.running}\n`);
    put("apparmor", `${c.apparmor}\n`);
    put("privileged", `${c.privileged}\n`);
    put("capadd", `${c.capAdd}\n`);
    put("started-at", `${c.startedAt}\n`);
    put("mounts", c.mounts.map((m) => `${m.destination}=${m.rw} `).join("") + "\n");
    const energy = "fs/sys/class/powercap/intel-rapl:0/energy_uj";
    if (c.raplEnergy === "denied") put(`${energy}.denied`, "");
    else if (Array.isArray(c.raplEnergy)) put(`${energy}.reads`, c.raplEnergy.map((v) => `${v}\n`).join(""));
    else if (c.raplEnergy !== null) put(energy, c.raplEnergy);
  }

  /** Every path under the fake root with its type, mode and content (file), target (link): "nothing touched". */
  snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (dir: string) => {
      for (const e of readdirSync(dir).sort()) {
        const p = join(dir, e);
        const rel = p.slice(this.root.length);
        const st = lstatSync(p);
        const mode = (st.mode & 0o7777).toString(8);
        if (st.isSymbolicLink()) out[rel] = `link -> ${readlinkSync(p)}`;
        else if (st.isDirectory()) {
          out[rel] = `dir ${mode}`;
          walk(p);
        } else out[rel] = `file ${mode} ${sha256Hex(readFileSync(p, "utf8"))}`;
      }
    };
    walk(this.root);
    return out;
  }

  /** Lets an unprivileged user (setpriv) traverse the fixture and append to its logs. */
  openToEveryone() {
    spawnSync("chmod", ["-R", "a+rX", this.dir]);
    chmodSync(this.logDir, 0o777);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Shared assertions

/** Exactly one line on stderr, in the scripts' "pyjoules: HOST: ..." form; returns it. */
function oneErrorLine(expect: ExpectStatic, r: RunResult): string {
  expect(r.stderr, "stderr must be exactly one line").toMatch(/^pyjoules: [^\n]+\n$/);
  return r.stderr.trimEnd();
}

function expectFailure(expect: ExpectStatic, r: RunResult, message: RegExp) {
  expect(r.signal, "the script must not be killed by the test timeout").toBeNull();
  expect(r.code, `expected failure, got stdout ${JSON.stringify(r.stdout)}`).not.toBe(0);
  expect(oneErrorLine(expect, r)).toMatch(message);
}

function expectSuccess(expect: ExpectStatic, r: RunResult) {
  expect(r.signal).toBeNull();
  expect(r.stderr, "no stderr on success").toBe("");
  expect(r.code).toBe(0);
}

/** provision.sh's single stdout line, parsed. */
function provisionFacts(expect: ExpectStatic, r: RunResult): Record<string, unknown> {
  expectSuccess(expect, r);
  expect(r.stdout.split("\n"), "exactly one stdout line").toHaveLength(2);
  expect(r.stdout.endsWith("\n")).toBe(true);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const loads = (h: FakeHost) => h.calls("parser").filter((c) => c.startsWith("-r "));
const unloads = (h: FakeHost) => h.calls("parser").filter((c) => c === "-R");

// ---------------------------------------------------------------------------------------------------------

describe("environment", () => {
  test("the real apparmor_parser is there and compiles the rendered profile offline", ({ expect }) => {
    expect(REAL_PARSER).not.toBe("");
    expect(REAL_PARSER_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(existsSync(FEATURES)).toBe(true);
  });
});

describe("shellcheck", () => {
  const shellcheck = (files: string[]) => spawnSync("shellcheck", ["-s", "sh", ...files], { encoding: "utf8" });

  test("passes on every profiles/*.sh", ({ expect }) => {
    const files = readdirSync(join(REPO, "profiles"))
      .filter((f) => f.endsWith(".sh"))
      .map((f) => join(REPO, "profiles", f));
    expect(files.map((f) => f.slice(REPO.length + 1)).sort()).toEqual(expect.arrayContaining(["profiles/attest.sh", "profiles/provision.sh", "profiles/remove.sh"]));
    const r = shellcheck(files);
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test("passes on the command-line loader, a stage (USER_DOCKER_FACTS, BECOME_ROOT) and the test stubs", ({ expect }) => {
    const dir = mkdtempSync(join(tmpdir(), "pyjoules-shellcheck-"));
    fixtureDirs.push(dir);
    // The loader runs as `sh -c LOADER NAME`, the stage through its eval; shellcheck sees each as a script.
    const line = stageLoader("pyjoules-x", 7, "{\n}");
    const loader = join(dir, "loader.sh");
    writeFileSync(loader, `#!/bin/sh\n${line.slice("/bin/sh -c '".length, line.lastIndexOf("' pyjoules-x"))}\n`);
    const stage = join(dir, "stage.sh");
    writeFileSync(stage, `#!/bin/sh\n${rootStage("echo hi\n", ["a b", "it's"], USER_DOCKER_FACTS)}\n`);
    const stubs = readdirSync(STUBS)
      .filter((f) => f.startsWith("fake-"))
      .map((f) => join(STUBS, f));
    const r = shellcheck([loader, stage, ...stubs]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test("is live: a bad snippet fails", ({ expect }) => {
    const dir = mkdtempSync(join(tmpdir(), "pyjoules-shellcheck-"));
    fixtureDirs.push(dir);
    const bad = join(dir, "bad.sh");
    writeFileSync(bad, '#!/bin/sh\nif [[ $1 == yes ]]; then\n  rm -rf $2/*\nfi\n');
    const r = shellcheck([bad]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/SC3010/); // [[ ]] is not POSIX sh
  });
});

describe.concurrent("provision.sh", () => {
  test("success: one JSON line of verified facts, file, unit, kernel list", async ({ expect }) => {
    const h = new FakeHost();
    const r = await h.provision();
    const facts = provisionFacts(expect, r);
    expect(facts).toEqual({
      name: NAME,
      mode: "enforce",
      sha256: sha256Hex(TEXT),
      path: `/etc/apparmor.d/containers/${NAME}`,
      loader: UNIT,
      parserVersion: REAL_PARSER_VERSION,
      dockerVersion: DOCKER_VERSION,
      kernel: release(),
      host: HOST,
    });
    // The profile file: exact bytes, 0644, nothing else left in containers/.
    expect(h.read(`/etc/apparmor.d/containers/${NAME}`)).toBe(TEXT);
    expect(statSync(h.path(`/etc/apparmor.d/containers/${NAME}`)).mode & 0o777).toBe(0o644);
    expect(readdirSync(h.path("/etc/apparmor.d/containers"))).toEqual([NAME]);
    expect(h.read(`/var/lib/pulumi-pyjoules/${NAME}.loaded`)).toBe(`${sha256Hex(TEXT)}\n`);
    // The boot-time loader: the template unit, and the instance enabled through its WantedBy= targets.
    const unitText = h.read(`/etc/systemd/system/${TEMPLATE}`);
    expect(unitText).toContain("ExecStart=/sbin/apparmor_parser -r -W /etc/apparmor.d/containers/%i\n");
    expect(unitText).toContain("ConditionPathExists=/etc/apparmor.d/containers/%i\n");
    expect(unitText).toMatch(/^After=apparmor\.service$/m);
    expect(unitText).toMatch(/^Before=docker\.service containerd\.service$/m);
    expect(unitText).toMatch(/^WantedBy=multi-user\.target docker\.service$/m);
    for (const target of ["multi-user.target", "docker.service"]) {
      expect(readlinkSync(h.path(`/etc/systemd/system/${target}.wants/${UNIT}`))).toBe(`../${TEMPLATE}`);
    }
    // Enabled without a daemon-reload (the unit runs at the next boot; a reload costs seconds on a small host).
    expect(h.calls("systemctl").filter((c) => !c.startsWith("is-enabled"))).toEqual([`--no-reload enable ${UNIT}`]);
    // Compiled before it was installed, then loaded once; the kernel lists it in enforce mode.
    const parser = h.calls("parser");
    expect(parser[0]).toMatch(new RegExp(`^-Q -K ${h.path("/etc/apparmor.d/containers")}/\\.${NAME}\\.\\w+$`));
    expect(loads(h)).toEqual([`-r -W ${h.path(`/etc/apparmor.d/containers/${NAME}`)}`]);
    expect(parser.indexOf(loads(h)[0]!)).toBeGreaterThan(0);
    expect(h.kernelProfiles()).toEqual([`${NAME} (enforce)`]);
  });

  test("idempotent: same text again gives the same line and changes nothing", async ({ expect }) => {
    const h = new FakeHost();
    const first = await h.provision();
    provisionFacts(expect, first);
    const file = h.path(`/etc/apparmor.d/containers/${NAME}`);
    const past = new Date("2020-01-01T00:00:00Z");
    utimesSync(file, past, past);
    const before = statSync(file);
    const snapshot = h.snapshot();
    h.clearLogs();

    const second = await h.provision();
    provisionFacts(expect, second);
    expect(second.stdout).toBe(first.stdout);
    expect(loads(h), "no load").toEqual([]);
    expect(h.calls("systemctl").filter((c) => !c.startsWith("is-enabled")), "only reads").toEqual([]);
    const after = statSync(file);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.ino).toBe(before.ino);
    expect(h.snapshot()).toEqual(snapshot);
  });

  test("same text, but the kernel no longer has it in enforce mode: loads it again", async ({ expect }) => {
    const h = new FakeHost();
    provisionFacts(expect, await h.provision());
    h.write("/sys/kernel/security/apparmor/profiles", `docker-default (enforce)\n${NAME} (complain)\n`);
    h.clearLogs();
    provisionFacts(expect, await h.provision());
    expect(loads(h)).toHaveLength(1);
    expect(h.kernelProfiles()).toEqual(["docker-default (enforce)", `${NAME} (enforce)`]);
  });

  test("refuses to take over a profile of that name it did not install", async ({ expect }) => {
    const h = new FakeHost();
    h.write("/sys/kernel/security/apparmor/profiles", `docker-default (enforce)\n${NAME} (enforce)\n`);
    const snapshot = h.snapshot();
    expectFailure(expect, await h.provision(), /already loaded on this host and was not installed by pulumi-pyjoules/);
    expect(loads(h)).toEqual([]);
    expect(h.snapshot()).toEqual(snapshot);
  });

  test("changed text: installed, reloaded, new sha", async ({ expect }) => {
    const h = new FakeHost();
    const first = provisionFacts(expect, await h.provision());
    const changed = renderPyJoulesProfile({ extraReadPaths: ["/etc/hostname"] });
    expect(changed).not.toBe(TEXT);
    h.clearLogs();
    const second = provisionFacts(expect, await h.provision(changed));
    expect(second.sha256).toBe(sha256Hex(changed));
    expect(second.sha256).not.toBe(first.sha256);
    expect(second).toEqual({ ...first, sha256: sha256Hex(changed) });
    expect(loads(h)).toEqual([`-r -W ${h.path(`/etc/apparmor.d/containers/${NAME}`)}`]);
    expect(h.read(`/etc/apparmor.d/containers/${NAME}`)).toBe(changed);
    expect(h.read(`/var/lib/pulumi-pyjoules/${NAME}.loaded`)).toBe(`${sha256Hex(changed)}\n`);
    expect(readdirSync(h.path("/etc/apparmor.d/containers"))).toEqual([NAME]);
    expect(h.kernelProfiles()).toEqual([`${NAME} (enforce)`]);
    expect(h.calls("systemctl").filter((c) => !c.startsWith("is-enabled")), "the loader was already enabled").toEqual([]);
  });

  test("facts from the host are reduced to inert characters", async ({ expect }) => {
    const h = new FakeHost();
    writeFileSync(join(h.dockerState, "server-version"), '29.4.3","evil":"x\\\n');
    const facts = provisionFacts(expect, await h.provision());
    expect(facts.dockerVersion).toBe("29.4.3evil:x");
  });

  describe.concurrent("preflight failures: one stderr line, nothing installed", () => {
    const cases: { what: string; setup: (h: FakeHost) => void; message: RegExp; rapl?: "yes" | "no" }[] = [
      {
        what: "AppArmor disabled (enabled=N)",
        setup: (h) => h.write("/sys/module/apparmor/parameters/enabled", "N\n"),
        message: /AppArmor is not enabled in the kernel .*is 'N'/,
      },
      {
        what: "AppArmor module absent (no enabled file)",
        setup: (h) => h.remove("/sys/module/apparmor"),
        message: /AppArmor is not enabled in the kernel .*is 'missing'/,
      },
      {
        what: "securityfs apparmor dir missing",
        setup: (h) => h.remove("/sys/kernel/security/apparmor"),
        message: /AppArmor is not enabled: \/sys\/kernel\/security\/apparmor is missing/,
      },
      {
        what: "/sbin/apparmor_parser missing",
        setup: (h) => h.remove("/sbin/apparmor_parser"),
        message: /\/sbin\/apparmor_parser is missing: Docker would silently run the container unconfined/,
      },
      {
        what: "abi/3.0 missing",
        setup: (h) => h.remove("/etc/apparmor.d/abi/3.0"),
        message: /AppArmor older than 3\.0 \(\/etc\/apparmor\.d\/abi\/3\.0 is missing\)/,
      },
      {
        what: "docker missing",
        setup: (h) => rmSync(join(h.bin, "docker")),
        message: /: docker is missing$/,
      },
      {
        what: "docker info failing (daemon down)",
        setup: (h) => writeFileSync(join(h.dockerState, "daemon-down"), ""),
        message: /docker info failed \(is the Docker daemon running\?\): Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock/,
      },
      {
        what: "docker info without name=apparmor",
        setup: (h) => writeFileSync(join(h.dockerState, "security-options"), '["name=seccomp,profile=builtin","name=cgroupns"]\n'),
        message: /docker info does not list apparmor among its security options: Docker would ignore apparmor=docker-pyjoules/,
      },
      {
        what: "no RAPL zone with REQUIRE_RAPL=yes",
        setup: (h) => h.remove("/sys/class/powercap"),
        message: /no RAPL zone under \/sys\/class\/powercap/,
      },
      {
        what: "RAPL zone without intel-rapl:* name with REQUIRE_RAPL=yes",
        setup: (h) => {
          h.remove("/sys/class/powercap");
          h.write("/sys/class/powercap/dtpm/name", "dtpm\n");
        },
        message: /no RAPL zone under \/sys\/class\/powercap/,
      },
    ];
    for (const c of cases) {
      test(c.what, async ({ expect }) => {
        const h = new FakeHost();
        c.setup(h);
        const before = h.snapshot();
        const r = await h.provision(TEXT, [NAME, c.rapl ?? "yes"]);
        expectFailure(expect, r, c.message);
        expect(oneErrorLine(expect, r)).toMatch(new RegExp(`^pyjoules: ${HOST}: `));
        expect(r.stdout).toBe("");
        expect(h.snapshot(), "nothing installed or created").toEqual(before);
        expect(h.exists("/etc/apparmor.d/containers")).toBe(false);
        expect(h.exists(`/etc/systemd/system/${TEMPLATE}`)).toBe(false);
        expect(loads(h)).toEqual([]);
        expect(h.calls("systemctl")).toEqual([]);
      });
    }

    test("no RAPL zone with REQUIRE_RAPL=no succeeds", async ({ expect }) => {
      const h = new FakeHost();
      h.remove("/sys/class/powercap");
      const facts = provisionFacts(expect, await h.provision(TEXT, [NAME, "no"]));
      expect(facts.sha256).toBe(sha256Hex(TEXT));
      expect(h.kernelProfiles()).toEqual([`${NAME} (enforce)`]);
    });
  });

  describe.concurrent("preflight: Docker would not confine the container (one line, host untouched)", () => {
    const OTHER_ID = "7b3f0c2e-1d4a-4c5b-9e8f-000000000002";
    const cases: { what: string; setup: (h: FakeHost) => void; run: (h: FakeHost) => Promise<RunResult>; message: RegExp }[] = [
      {
        what: "the SSH user's docker is rootless",
        setup: (h) => h.userDaemon("rootless"),
        run: (h) => h.provisionCommandLine("deploy"),
        message: /^pyjoules: fakehost-1: user deploy's docker talks to a rootless Docker daemon, and apparmor= is ignored by rootless Docker: the container would run without this profile; let deploy use the system daemon/,
      },
      {
        what: "only a rootless daemon exists (root reaches none)",
        setup: (h) => {
          h.userDaemon("rootless");
          writeFileSync(join(h.dockerState, "daemon-down"), "");
        },
        run: (h) => h.provisionCommandLine("deploy"),
        message: /: user deploy's docker talks to a rootless Docker daemon, and apparmor= is ignored by rootless Docker/,
      },
      {
        what: "the SSH user's docker reaches another daemon than root's",
        setup: (h) => h.userDaemon("other"),
        run: (h) => h.provisionCommandLine("deploy"),
        message: new RegExp(`: user deploy's docker talks to another Docker daemon \\(ID ${OTHER_ID}\\) than root's \\(ID ${DAEMON_ID}\\)`),
      },
      {
        what: "the SSH user may not use the Docker socket",
        setup: (h) => h.userDaemon("denied"),
        run: (h) => h.provisionCommandLine("deploy"),
        message: /: user deploy cannot use the Docker daemon \(permission denied on its socket\), but the docker provider connects as deploy: add deploy to the docker group \(usermod -aG docker deploy\), or connect as root$/,
      },
      {
        what: "the SSH user's docker reaches no daemon",
        setup: (h) => h.userDaemon("down"),
        run: (h) => h.provisionCommandLine("deploy"),
        message: /: user deploy's docker reaches no Docker daemon, but the docker provider connects as deploy: check DOCKER_HOST/,
      },
      {
        what: "docker is not on the SSH user's PATH",
        setup: () => {},
        run: (h) => h.provision(TEXT, [NAME, "yes", "deploy missing - no"]),
        message: /: docker is not on user deploy's PATH, but the docker provider runs 'docker system dial-stdio' as deploy over SSH$/,
      },
      {
        what: "root's own docker is rootless (SSH user root)",
        setup: (h) => writeFileSync(join(h.dockerState, "security-options"), '["name=apparmor","name=seccomp,profile=builtin","name=rootless"]\n'),
        run: (h) => h.provisionCommandLine("root"),
        message: /: root's docker talks to a rootless Docker daemon, and apparmor= is ignored by rootless Docker: use the system daemon$/,
      },
      {
        what: "SELinux instead of AppArmor (/sys/fs/selinux, enforcing)",
        setup: (h) => {
          h.remove("/sys/module/apparmor");
          h.remove("/sys/kernel/security/apparmor");
          h.write("/sys/fs/selinux/enforce", "1");
        },
        run: (h) => h.provisionCommandLine("deploy"),
        message: /^pyjoules: fakehost-1: AppArmor is not enabled, this host runs SELinux instead \(Enforcing\): Docker ignores apparmor=docker-pyjoules there and would run the container without this profile; use a host with AppArmor$/,
      },
      {
        what: "apparmor=0 on a kernel that brings up selinuxfs without a policy (Debian): not called SELinux",
        setup: (h) => {
          h.write("/sys/module/apparmor/parameters/enabled", "N\n");
          h.write("/sys/fs/selinux/enforce", "0");
        },
        run: (h) => h.provision(),
        message: /: AppArmor is not enabled in the kernel \(\/sys\/module\/apparmor\/parameters\/enabled is 'N'\)$/,
      },
      {
        what: "SELinux instead of AppArmor (permissive, configured in /etc/selinux/config)",
        setup: (h) => {
          h.write("/sys/module/apparmor/parameters/enabled", "N\n");
          h.write("/sys/fs/selinux/enforce", "0");
          h.write("/etc/selinux/config", "SELINUX=permissive\n");
        },
        run: (h) => h.provision(),
        message: /: AppArmor is not enabled, this host runs SELinux instead \(Permissive\)/,
      },
      {
        what: "SELinux instead of AppArmor (getenforce: Permissive; AppArmor module present but off)",
        setup: (h) => {
          h.write("/sys/module/apparmor/parameters/enabled", "N\n");
          writeFileSync(join(h.bin, "getenforce"), "#!/bin/sh\necho Permissive\n", { mode: 0o755 });
        },
        run: (h) => h.provision(),
        message: /: AppArmor is not enabled, this host runs SELinux instead \(Permissive\)/,
      },
    ];
    for (const c of cases) {
      test(c.what, async ({ expect }) => {
        const h = new FakeHost();
        c.setup(h);
        const before = h.snapshot();
        const r = await c.run(h);
        expectFailure(expect, r, c.message);
        expect(r.stdout).toBe("");
        expect(h.snapshot(), "nothing installed or created").toEqual(before);
        expect(h.calls("parser")).toEqual([]);
        expect(h.calls("systemctl")).toEqual([]);
      });
    }

    test("the SSH user's facts are read as that user, before sudo, and reach provision.sh as one argument", async ({ expect }) => {
      const h = new FakeHost();
      provisionFacts(expect, await h.provisionCommandLine("deploy"));
      expect(h.calls("docker")[0]).toBe("info --format pyjoules-docker-id:{{.ID}} {{json .SecurityOptions}}");
      expect(h.calls("sudo")[1]!.endsWith(` pyjoules-provision ${NAME} yes ${USER_FACTS_OK}`)).toBe(true);
      expect(h.calls("docker")[1]).toBe("info --format {{.ServerVersion}} {{.ID}} {{json .SecurityOptions}}");
    });

    test("SSH user root: the user-side facts are just 'root', and root's own daemon is checked", async ({ expect }) => {
      const h = new FakeHost();
      provisionFacts(expect, await h.provisionCommandLine("root"));
      expect(h.calls("sudo")).toEqual([]);
      expect(h.calls("docker").filter((c) => c.startsWith("info"))).toEqual(["info --format {{.ServerVersion}} {{.ID}} {{json .SecurityOptions}}"]);
    });

    test("SELinux tooling on an AppArmor host changes nothing", async ({ expect }) => {
      const h = new FakeHost();
      writeFileSync(join(h.bin, "getenforce"), "#!/bin/sh\necho Disabled\n", { mode: 0o755 });
      provisionFacts(expect, await h.provision());
    });
  });

  describe.concurrent("rejected texts leave a working profile alone", () => {
    const bad: { what: string; text: string; message: RegExp }[] = [
      { what: "truncated (does not compile)", text: TEXT.slice(0, Math.floor(TEXT.length / 2)), message: /profile docker-pyjoules does not compile: .*error/ },
      { what: "garbage (does not compile)", text: "garbage {\n", message: /profile docker-pyjoules does not compile/ },
      {
        what: "defines another profile name",
        text: renderPyJoulesProfile({ name: "other-profile" }),
        message: /the profile text must define exactly the profile 'docker-pyjoules', not: other-profile/,
      },
      {
        what: "defines a second profile",
        text: `${TEXT}\nprofile extra-one {\n}\n`,
        message: /the profile text must define exactly the profile 'docker-pyjoules', not: docker-pyjoules extra-one/,
      },
      { what: "empty stdin", text: "", message: /(does not compile|must define exactly the profile 'docker-pyjoules')/ },
    ];
    for (const b of bad) {
      test(`${b.what}: rejected on a fresh host, nothing installed`, async ({ expect }) => {
        const h = new FakeHost();
        const r = await h.provision(b.text);
        expectFailure(expect, r, b.message);
        expect(r.stdout).toBe("");
        expect(readdirSync(h.path("/etc/apparmor.d/containers")), "no temp file left").toEqual([]);
        expect(h.exists(`/etc/systemd/system/${TEMPLATE}`)).toBe(false);
        expect(h.exists(`/var/lib/pulumi-pyjoules/${NAME}.loaded`)).toBe(false);
        expect(loads(h)).toEqual([]);
        expect(h.kernelProfiles()).toEqual([]);
      });

      test(`${b.what}: the installed profile stays byte-identical and loaded`, async ({ expect }) => {
        const h = new FakeHost();
        provisionFacts(expect, await h.provision());
        const before = h.snapshot();
        h.clearLogs();
        const r = await h.provision(b.text);
        expectFailure(expect, r, b.message);
        expect(h.read(`/etc/apparmor.d/containers/${NAME}`)).toBe(TEXT);
        expect(h.snapshot()).toEqual(before);
        expect(h.kernelProfiles()).toEqual([`${NAME} (enforce)`]);
        expect(loads(h)).toEqual([]);
        expect(unloads(h)).toEqual([]);
      });
    }
  });

  describe.concurrent("load failure", () => {
    const failing = renderPyJoulesProfile({ extraReadPaths: [LOAD_FAILS_PATH] });

    test("previous file restored and reloaded", async ({ expect }) => {
      const h = new FakeHost();
      provisionFacts(expect, await h.provision());
      const before = h.snapshot();
      h.failLoadsContaining(LOAD_FAILS_PATH);
      h.clearLogs();
      const r = await h.provision(failing);
      expectFailure(expect, r, /loading profile docker-pyjoules failed \(previous profile restored\): .*Permission denied/);
      expect(r.stdout).toBe("");
      const target = `-r -W ${h.path(`/etc/apparmor.d/containers/${NAME}`)}`;
      expect(loads(h), "the failed load, then the reload of the previous text").toEqual([target, target]);
      expect(h.read(`/etc/apparmor.d/containers/${NAME}`)).toBe(TEXT);
      expect(h.snapshot(), "file, stamp, unit: all as before; no .previous left").toEqual(before);
      expect(h.kernelProfiles()).toEqual([`${NAME} (enforce)`]);
    });

    test("no previous file: target removed, nothing claimed restored", async ({ expect }) => {
      const h = new FakeHost();
      h.failLoadsContaining(LOAD_FAILS_PATH);
      const r = await h.provision(failing);
      expectFailure(expect, r, /loading profile docker-pyjoules failed .*Permission denied/);
      expect(oneErrorLine(expect, r)).not.toMatch(/previous profile restored/);
      expect(loads(h)).toHaveLength(1);
      expect(readdirSync(h.path("/etc/apparmor.d/containers"))).toEqual([]);
      expect(h.exists(`/var/lib/pulumi-pyjoules/${NAME}.loaded`)).toBe(false);
      expect(h.exists(`/etc/systemd/system/${TEMPLATE}`)).toBe(false);
      expect(h.calls("systemctl")).toEqual([]);
      expect(h.kernelProfiles()).toEqual([]);
    });
  });

  describe.concurrent("argument validation: rejected, nothing touched", () => {
    const cases: { args: string[]; message: RegExp }[] = [
      ...["../x", "a b", "-x", "x;rm", "", ".hidden", "x/y", "x\ny", "$(id)"].map((name) => ({
        args: [name, "yes"],
        message: /invalid profile name '/,
      })),
      ...["maybe", "YES", "", "true"].map((rapl) => ({ args: [NAME, rapl], message: /REQUIRE_RAPL must be yes or no, not '/ })),
      { args: [NAME], message: /usage: provision\.sh NAME yes\|no < profile/ },
      { args: [NAME, "yes", USER_FACTS_OK, "extra"], message: /usage: provision\.sh/ },
      ...["extra", "deploy ok", "deploy maybe - no", `${USER_FACTS_OK} extra`, "deploy ok x maybe", "a'b ok x no", "deploy ok $(id) no", "", "deploy\tok x no"].map(
        (facts) => ({ args: [NAME, "yes", facts], message: /invalid user docker facts '/ }),
      ),
    ];
    for (const c of cases) {
      test(`provision.sh ${JSON.stringify(c.args)}`, async ({ expect }) => {
        const h = new FakeHost();
        const before = h.snapshot();
        const r = await h.provision(TEXT, c.args);
        expect(r.code).not.toBe(0);
        // A name with a newline is echoed back and may span two lines; every other message is one line.
        if (c.args[0]?.includes("\n")) expect(r.stderr).toMatch(c.message);
        else expectFailure(expect, r, c.message);
        expect(h.snapshot()).toEqual(before);
        for (const tool of ["parser", "docker", "systemctl"] as const) expect(h.calls(tool)).toEqual([]);
      });
    }
    for (const name of ["../x", "a b", "-x", "x;rm", ""]) {
      test(`remove.sh ${JSON.stringify(name)}`, async ({ expect }) => {
        const h = new FakeHost();
        const before = h.snapshot();
        const r = await h.removeProfile([name]);
        expectFailure(expect, r, /invalid profile name/);
        expect(h.snapshot()).toEqual(before);
        for (const tool of ["parser", "docker", "systemctl"] as const) expect(h.calls(tool)).toEqual([]);
      });
    }
    for (const args of [
      ["../x", "pyjoules", "yes"],
      [NAME, "a b", "yes"],
      [NAME, "-x", "yes"],
      [NAME, "pyjoules", "maybe"],
      [NAME, "pyjoules"],
    ]) {
      test(`attest.sh ${JSON.stringify(args)}`, async ({ expect }) => {
        const h = new FakeHost();
        const r = await h.attest(args);
        expectFailure(expect, r, /invalid (profile|container) name|REQUIRE_RAPL must be yes or no|usage: attest\.sh/);
        expect(h.calls("docker")).toEqual([]);
      });
    }
  });
});

describe.concurrent("remove.sh", () => {
  test("keeps the profile (and succeeds) while a running container is confined by it", async ({ expect }) => {
    const h = new FakeHost();
    provisionFacts(expect, await h.provision());
    h.addContainer("pyjoules-client");
    h.addContainer("web", { apparmor: "docker-default", attrCurrent: "docker-default (enforce)\n" });
    h.addContainer("old-client", { running: false });
    const before = h.snapshot();
    h.clearLogs();
    const r = await h.removeProfile();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('{"name":"docker-pyjoules","removed":false}');
    expect(r.stderr).toMatch(/profile docker-pyjoules kept: it still confines running container\(s\): \/pyjoules-client\n/);
    expect(r.stderr).not.toMatch(/web|old-client/);
    expect(h.snapshot(), "file, stamp, unit and enablement untouched").toEqual(before);
    expect(h.kernelProfiles()).toEqual([`${NAME} (enforce)`]);
    expect(unloads(h)).toEqual([]);
    expect(h.calls("systemctl")).toEqual([]);
  });

  test("disables, unloads, deletes; the template goes with the last instance; twice is fine", async ({ expect }) => {
    const h = new FakeHost();
    provisionFacts(expect, await h.provision());
    h.write("/sys/kernel/security/apparmor/profiles", `docker-default (enforce)\n${NAME}-old (enforce)\n${h.read("/sys/kernel/security/apparmor/profiles")}`);
    h.addContainer("pyjoules-client", { running: false });
    h.addContainer("web", { apparmor: "docker-default" });
    h.clearLogs();

    const r = await h.removeProfile();
    expectSuccess(expect, r);
    expect(r.stdout).toBe(`{"name":"${NAME}","removed":true}\n`);
    expect(h.calls("systemctl")).toEqual([`--no-reload disable ${UNIT}`, "daemon-reload"]);
    expect(unloads(h)).toEqual(["-R"]);
    expect(h.calls("parser")).toContain(`stdin: profile ${NAME} {} `);
    expect(h.kernelProfiles(), "only this profile unloaded").toEqual(["docker-default (enforce)", `${NAME}-old (enforce)`]);
    expect(readdirSync(h.path("/etc/apparmor.d/containers"))).toEqual([]);
    expect(h.exists(`/var/lib/pulumi-pyjoules/${NAME}.loaded`)).toBe(false);
    expect(h.exists(`/etc/systemd/system/${TEMPLATE}`)).toBe(false);
    expect(h.exists(`/etc/systemd/system/multi-user.target.wants/${UNIT}`)).toBe(false);
    expect(h.exists(`/etc/systemd/system/docker.service.wants/${UNIT}`)).toBe(false);

    const before = h.snapshot();
    h.clearLogs();
    const again = await h.removeProfile();
    expectSuccess(expect, again);
    expect(again.stdout).toBe(r.stdout);
    expect(unloads(h), "nothing left to unload").toEqual([]);
    expect(h.calls("systemctl")).not.toContain("daemon-reload");
    expect(h.snapshot()).toEqual(before);
  });

  test("the template unit stays while another profile still uses it", async ({ expect }) => {
    const h = new FakeHost();
    const a = renderPyJoulesProfile({ name: "prof-a" });
    const b = renderPyJoulesProfile({ name: "prof-b" });
    provisionFacts(expect, await h.provision(a, ["prof-a", "yes"]));
    provisionFacts(expect, await h.provision(b, ["prof-b", "yes"]));
    expect(h.kernelProfiles()).toEqual(["prof-a (enforce)", "prof-b (enforce)"]);

    h.clearLogs();
    expectSuccess(expect, await h.removeProfile(["prof-a"]));
    expect(h.exists(`/etc/systemd/system/${TEMPLATE}`)).toBe(true);
    expect(h.calls("systemctl")).toEqual(["--no-reload disable pyjoules-apparmor@prof-a.service"]);
    expect(h.kernelProfiles()).toEqual(["prof-b (enforce)"]);
    expect(h.read("/etc/apparmor.d/containers/prof-b")).toBe(b);
    expect(existsSync(h.path("/etc/systemd/system/multi-user.target.wants/pyjoules-apparmor@prof-b.service"))).toBe(true);

    h.clearLogs();
    expectSuccess(expect, await h.removeProfile(["prof-b"]));
    expect(h.exists(`/etc/systemd/system/${TEMPLATE}`)).toBe(false);
    expect(h.calls("systemctl")).toEqual(["--no-reload disable pyjoules-apparmor@prof-b.service", "daemon-reload"]);
    expect(h.kernelProfiles()).toEqual([]);
  });
});

describe.concurrent("attest.sh", () => {
  const GOOD_FACTS = {
    host: HOST,
    container: "pyjoules",
    running: true,
    apparmorProfile: NAME,
    procAttrCurrent: `${NAME} (enforce)`,
    privileged: false,
    addedCapabilities: 0,
    classPowercapReadOnly: true,
    devicesPowercapReadOnly: true,
    raplZone: "intel-rapl:0",
    raplReadable: true,
    raplEnergyIncreasing: true,
    raplEnergyDeltaUj: 100000,
    profileSha256: "",
    denials: { sources: "journal", since: STARTED, count: 0, first: [] as { operation: string; name: string }[] },
    ok: true,
  };
  const NOT_MEASURED = { raplEnergyIncreasing: false, raplEnergyDeltaUj: -1 };

  const attestJson = (expect: ExpectStatic, r: RunResult) => {
    expect(r.stdout.split("\n"), "exactly one stdout line").toHaveLength(2);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  test("all good: ok:true", async ({ expect }) => {
    const h = new FakeHost();
    h.addContainer("pyjoules");
    const r = await h.attest([NAME, "pyjoules", "yes"]);
    expectSuccess(expect, r);
    expect(attestJson(expect, r)).toEqual(GOOD_FACTS);
    expect(h.calls("docker")).toContain("exec pyjoules cat /sys/class/powercap/intel-rapl:0/energy_uj");
  });

  const wrong: { what: string; spec?: Partial<ContainerSpec>; host?: (h: FakeHost) => void; rapl?: "yes" | "no"; message: RegExp; facts: Partial<typeof GOOD_FACTS> | Record<string, unknown>; only?: boolean }[] = [
    {
      what: "not running",
      spec: { running: false },
      message: /; container is not running/,
      facts: { running: false, procAttrCurrent: "", raplReadable: false, ...NOT_MEASURED },
      only: false,
    },
    {
      what: "other profile",
      spec: { apparmor: "docker-default", attrCurrent: "docker-default (enforce)\n" },
      message: /docker reports AppArmor profile 'docker-default', not 'docker-pyjoules'.*the container's PID 1 runs as 'docker-default \(enforce\)' \(\/proc\/\d+\/attr\/current\)/,
      facts: { apparmorProfile: "docker-default", procAttrCurrent: "docker-default (enforce)" },
      only: false,
    },
    {
      what: "attr/current in complain mode",
      spec: { attrCurrent: `${NAME} (complain)\n` },
      message: /the container's PID 1 runs as 'docker-pyjoules \(complain\)' \(\/proc\/\d+\/attr\/current\), not 'docker-pyjoules \(enforce\)'/,
      facts: { procAttrCurrent: `${NAME} (complain)` },
    },
    {
      what: "attr/current unconfined",
      spec: { attrCurrent: "unconfined\n" },
      message: /the container's PID 1 runs as 'unconfined'/,
      facts: { procAttrCurrent: "unconfined" },
    },
    { what: "privileged", spec: { privileged: true }, message: /; container is privileged/, facts: { privileged: true } },
    { what: "capability added", spec: { capAdd: 1 }, message: /; container has added capabilities/, facts: { addedCapabilities: 1 } },
    {
      what: "/sys/class/powercap mounted RW",
      spec: { mounts: [{ destination: "/sys/class/powercap", rw: true }, { destination: "/sys/devices/virtual/powercap", rw: false }] },
      message: /; \/sys\/class\/powercap is not mounted read-only/,
      facts: { classPowercapReadOnly: false },
    },
    {
      what: "/sys/devices/virtual/powercap mounted RW",
      spec: { mounts: [{ destination: "/sys/class/powercap", rw: false }, { destination: "/sys/devices/virtual/powercap", rw: true }] },
      message: /; \/sys\/devices\/virtual\/powercap is not mounted read-only/,
      facts: { devicesPowercapReadOnly: false },
    },
    {
      what: "/sys/devices/virtual/powercap not mounted",
      spec: { mounts: [{ destination: "/sys/class/powercap", rw: false }] },
      message: /; \/sys\/devices\/virtual\/powercap is not mounted read-only/,
      facts: { devicesPowercapReadOnly: false },
    },
    {
      what: "RAPL energy_uj unreadable inside (EACCES), REQUIRE_RAPL=yes",
      spec: { raplEnergy: "denied" },
      message: /; no RAPL energy_uj is readable inside the container/,
      facts: { raplReadable: false, ...NOT_MEASURED },
    },
    {
      what: "RAPL energy_uj not a number inside, REQUIRE_RAPL=yes",
      spec: { raplEnergy: "\n" },
      message: /; no RAPL energy_uj is readable inside the container/,
      facts: { raplReadable: false, ...NOT_MEASURED },
    },
    {
      what: "no RAPL zone on the host, REQUIRE_RAPL=yes",
      host: (h) => h.remove("/sys/class/powercap"),
      message: /; no RAPL energy_uj is readable inside the container/,
      facts: { raplZone: "", raplReadable: false, ...NOT_MEASURED },
    },
    {
      what: "RAPL energy_uj does not increase, REQUIRE_RAPL=yes",
      spec: { raplEnergy: ["123456789"] },
      message: /; RAPL energy_uj did not move between the host's read and the container's \(123456789, then 123456789\)$/,
      facts: { raplEnergyIncreasing: false, raplEnergyDeltaUj: 0 },
    },
    {
      what: "the host cannot read its own counter, REQUIRE_RAPL=yes",
      spec: { hostEnergy: "x\n" },
      message: /; RAPL energy_uj did not move between the host's read and the container's \(-1, then 123556789\)$/,
      facts: { ...NOT_MEASURED },
    },
  ];
  for (const w of wrong) {
    test(`wrong: ${w.what}`, async ({ expect }) => {
      const h = new FakeHost();
      h.addContainer("pyjoules", w.spec);
      w.host?.(h);
      const r = await h.attest([NAME, "pyjoules", w.rapl ?? "yes"]);
      expectFailure(expect, r, new RegExp(`attestation of pyjoules failed.*${w.message.source}`));
      if (w.only !== false) expect(r.stderr.split(";"), "exactly this one wrong answer").toHaveLength(2);
      expect(attestJson(expect, r)).toEqual({ ...GOOD_FACTS, ...w.facts, ok: false });
    });
  }

  test("RAPL unreadable is fine with REQUIRE_RAPL=no", async ({ expect }) => {
    const h = new FakeHost();
    h.addContainer("pyjoules", { raplEnergy: "denied" });
    const r = await h.attest([NAME, "pyjoules", "no"]);
    expectSuccess(expect, r);
    expect(attestJson(expect, r)).toEqual({ ...GOOD_FACTS, raplReadable: false, ...NOT_MEASURED });
  });

  test("a counter that does not move is reported, and fine with REQUIRE_RAPL=no", async ({ expect }) => {
    const h = new FakeHost();
    h.addContainer("pyjoules", { raplEnergy: "5", hostEnergy: "5\n" });
    const r = await h.attest([NAME, "pyjoules", "no"]);
    expectSuccess(expect, r);
    expect(attestJson(expect, r)).toEqual({ ...GOOD_FACTS, raplEnergyIncreasing: false, raplEnergyDeltaUj: 0 });
  });

  test("one docker exec in all: the energy read inside; PID 1's confinement comes from the host's /proc", async ({ expect }) => {
    const h = new FakeHost();
    h.addContainer("pyjoules");
    const r = await h.attest([NAME, "pyjoules", "yes"]);
    expectSuccess(expect, r);
    expect(h.calls("docker").filter((c) => c.startsWith("exec "))).toEqual(["exec pyjoules cat /sys/class/powercap/intel-rapl:0/energy_uj"]);
  });

  test("energy: a wrap at max_energy_range_uj counts as an increase", async ({ expect }) => {
    const h = new FakeHost();
    h.write("/sys/class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
    h.addContainer("pyjoules", { hostEnergy: "262143300000\n", raplEnergy: "71150" });
    const r = await h.attest([NAME, "pyjoules", "yes"]);
    expectSuccess(expect, r);
    expect(attestJson(expect, r)).toMatchObject({ raplEnergyIncreasing: true, raplEnergyDeltaUj: 262143328850 - 262143300000 + 71150, ok: true });
  });

  test("energy: a wrap without a readable max_energy_range_uj still counts; the delta is the new value", async ({ expect }) => {
    const h = new FakeHost();
    h.addContainer("pyjoules", { hostEnergy: "900\n", raplEnergy: "40" });
    const r = await h.attest([NAME, "pyjoules", "yes"]);
    expectSuccess(expect, r);
    expect(attestJson(expect, r)).toMatchObject({ raplEnergyIncreasing: true, raplEnergyDeltaUj: 40 });
  });

  test("reports the sha256 of the installed profile file", async ({ expect }) => {
    const h = new FakeHost();
    provisionFacts(expect, await h.provision());
    h.addContainer("pyjoules");
    const r = await h.attest([NAME, "pyjoules", "yes"]);
    expectSuccess(expect, r);
    expect(attestJson(expect, r).profileSha256).toBe(sha256Hex(TEXT));
  });

  describe.concurrent("denials", () => {
    /** A kernel audit line as printk writes it (journal -o cat, dmesg); audit.log has `msg=audit(...)`. */
    const denied = (at: number, serial: number, profile: string, operation: string, name: string, prefix = "audit: type=1400 ") =>
      `${prefix}audit(${at}.512:${serial}): apparmor="DENIED" operation="${operation}" class="file" profile="${profile}" name="${name}" pid=4242 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`;
    const allowed = (at: number, serial: number) =>
      `audit: type=1400 audit(${at}.1:${serial}): apparmor="ALLOWED" operation="open" class="file" profile="${NAME}" name="/etc/x" pid=1 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`;
    const attested = async (expect: ExpectStatic, setup: (h: FakeHost) => void) => {
      const h = new FakeHost();
      h.addContainer("pyjoules");
      setup(h);
      const r = await h.attest([NAME, "pyjoules", "yes"]);
      expectSuccess(expect, r);
      return { h, facts: attestJson(expect, r) };
    };

    test("none logged: count 0, and the journal is asked for messages since the container started", async ({ expect }) => {
      const { h, facts } = await attested(expect, () => {});
      expect(facts.denials).toEqual({ sources: "journal", since: STARTED, count: 0, first: [] });
      expect(h.calls("journalctl")).toContain(`-q -k --since=@${STARTED} -o cat`);
      expect(facts.ok).toBe(true);
    });

    test("from the journal: only this profile's, only since the container started; reported, not a failure", async ({ expect }) => {
      const { facts } = await attested(expect, (h) =>
        h.kernelLog([
          BENIGN_KERNEL_LINE,
          denied(STARTED - 60, 1, NAME, "open", "/proc/old-container"), // before this container started
          denied(STARTED + 5, 2, NAME, "open", "/proc/keys"),
          denied(STARTED + 6, 3, "docker-default", "open", "/proc/other-profile"),
          denied(STARTED + 7, 4, `${NAME}-old`, "open", "/proc/prefix-of-name"),
          allowed(STARTED + 8, 5),
          denied(STARTED + 9, 6, NAME, "open", "/proc/timer_list"),
        ]),
      );
      expect(facts.denials).toEqual({
        sources: "journal",
        since: STARTED,
        count: 2,
        first: [
          { operation: "open", name: "/proc/keys" },
          { operation: "open", name: "/proc/timer_list" },
        ],
      });
      expect(facts.ok).toBe(true);
    });

    test("at most five listed, all counted; a hex-encoded name and hostile characters arrive inert", async ({ expect }) => {
      const lines = [1, 2, 3, 4, 5, 6, 7].map((i) => denied(STARTED + i, 10 + i, NAME, "open", `/proc/p${i}`));
      lines[0] = lines[0]!.replace('name="/proc/p1"', "name=2F746D702F6120620A");
      lines[1] = lines[1]!.replace('name="/proc/p2"', 'name="/x\\",\\"evil\\":\\"1"');
      const { facts } = await attested(expect, (h) => h.kernelLog(lines));
      const d = facts.denials as { count: number; first: { operation: string; name: string }[] };
      expect(d.count).toBe(7);
      expect(d.first).toEqual([
        { operation: "open", name: "2F746D702F6120620A" },
        { operation: "open", name: "/x" }, // the value ends at the first quote; nothing after it leaks
        { operation: "open", name: "/proc/p3" },
        { operation: "open", name: "/proc/p4" },
        { operation: "open", name: "/proc/p5" },
      ]);
    });

    test("without a journal: dmesg, filtered by the audit stamp", async ({ expect }) => {
      const { h, facts } = await attested(expect, (h) =>
        h.kernelLog(null, ["[    0.000000] Linux version 6.12.0", denied(STARTED - 1, 1, NAME, "open", "/proc/old"), denied(STARTED + 1, 2, NAME, "open", "/proc/keys")]),
      );
      expect(facts.denials).toEqual({ sources: "dmesg", since: STARTED, count: 1, first: [{ operation: "open", name: "/proc/keys" }] });
      expect(h.calls("dmesg")).toEqual(["(no arguments)", "(no arguments)"]); // the probe, then the read
    });

    test("auditd's audit.log is read too, and a record in two sources counts once", async ({ expect }) => {
      const { facts } = await attested(expect, (h) => {
        h.kernelLog(null, [denied(STARTED + 1, 7, NAME, "open", "/proc/keys")]);
        h.write(
          "/var/log/audit/audit.log",
          [
            denied(STARTED + 1, 7, NAME, "open", "/proc/keys", "type=AVC msg="), // the same record as in dmesg
            denied(STARTED + 2, 8, NAME, "mknod", "/proc/sys/kernel/shmmax", "type=AVC msg="),
            denied(STARTED - 9, 3, NAME, "open", "/proc/long-ago", "type=AVC msg="),
          ].join("\n") + "\n",
        );
      });
      expect(facts.denials).toEqual({
        sources: "dmesg+audit.log",
        since: STARTED,
        count: 2,
        first: [
          { operation: "open", name: "/proc/keys" },
          { operation: "mknod", name: "/proc/sys/kernel/shmmax" },
        ],
      });
    });

    test("no readable source: reported as such, still ok", async ({ expect }) => {
      const { facts } = await attested(expect, (h) => h.kernelLog(null, null));
      expect(facts.denials).toEqual({ sources: "", since: STARTED, count: 0, first: [] });
      expect(facts.ok).toBe(true);
    });
  });

  describe("waiting for a healthy client (HEALTH_WAIT_S)", () => {
    const LOGS = "pyjoules-client: domains package_0\npyjoules-client: failing at start as asked\n";
    const withHealth = (states: string[]) => {
      const h = new FakeHost();
      h.addContainer("pyjoules");
      const d = join(h.dockerState, "containers", "pyjoules");
      writeFileSync(join(d, "health"), states.map((l) => `${l}\n`).join(""));
      writeFileSync(join(d, "logs"), LOGS);
      return h;
    };
    const healthCalls = (h: FakeHost) => h.calls("docker").filter((c) => c.includes(".State.Health")).length;

    test("waits through 'starting' until healthy, then attests", async ({ expect }) => {
      const h = withHealth(["running starting 0 0", "running starting 0 0", "running healthy 0 0"]);
      const r = await h.attest([NAME, "pyjoules", "yes", "30"]);
      expectSuccess(expect, r);
      expect(attestJson(expect, r)).toEqual(GOOD_FACTS);
      expect(healthCalls(h)).toBe(3);
    });

    for (const [what, states, message] of [
      ["unhealthy", ["running starting 0 0", "running unhealthy 0 0"], /client container pyjoules is unhealthy \(its healthcheck failed\); last log lines: pyjoules-client: domains package_0\|pyjoules-client: failing at start as asked\|$/],
      ["exited at start", ["exited starting 3 0"], /client container pyjoules is exited \(exit code 3\) before it became healthy; last log lines: .*failing at start as asked/],
      ["restarting", ["restarting starting 3 1"], /client container pyjoules is restarting \(exit code 3\) before it became healthy/],
      ["restarted by its policy, starting again", ["running starting 3 2"], /client container pyjoules exited and was restarted by Docker \(restarts: 2\) before it became healthy; last log lines: .*failing at start as asked/],
      ["no healthcheck", ["running none 0 0"], /client container pyjoules has no healthcheck to wait for/],
      ["never healthy within the wait", ["running starting 0 0"], /client container pyjoules did not become healthy within 2 s \(health: starting\); last log lines: /],
    ] as const) {
      test(`fails with the client's last log lines: ${what}`, async ({ expect }) => {
        const h = withHealth([...states]);
        const r = await h.attest([NAME, "pyjoules", "yes", what.startsWith("never") ? "2" : "30"]);
        expectFailure(expect, r, message);
        expect(r.stdout).toBe("");
      });
    }

    test("no wait without HEALTH_WAIT_S or with 0", async ({ expect }) => {
      for (const args of [[NAME, "pyjoules", "yes"], [NAME, "pyjoules", "yes", "0"]]) {
        const h = withHealth(["running unhealthy 0 0"]);
        expectSuccess(expect, await h.attest(args));
        expect(healthCalls(h)).toBe(0);
      }
    });

    for (const bad of ["-1", "1.5", "x", "123456", ""]) {
      test(`HEALTH_WAIT_S ${JSON.stringify(bad)} is refused`, async ({ expect }) => {
        const r = await new FakeHost().attest([NAME, "pyjoules", "yes", bad]);
        expectFailure(expect, r, /HEALTH_WAIT_S must be a number of seconds/);
      });
    }
  });

  test("unknown container", async ({ expect }) => {
    const h = new FakeHost();
    const r = await h.attest([NAME, "nope", "no"]);
    expectFailure(expect, r, /cannot inspect container nope: Error: No such object: nope/);
  });
});

describe.concurrent("command lines from profiles/commands.ts, run for real", () => {
  /** Runs a command line the way sshd does: the login shell gets it as `-c` text, stdin attached. */
  const viaLoginShell = (shell: string, inv: HostInvocation, env: NodeJS.ProcessEnv, prefix: readonly string[] = []) =>
    run([...prefix, shell, "-c", inv.command], env, inv.stdin);
  /** The provision resource's delete: its line with the stdin stored for create (scripts and profile). */
  const deleteAsPulumiRunsIt = (text: string = TEXT): HostInvocation => ({ command: removeCommand(NAME), stdin: provisionStdin(NAME, true, text) });

  const TRICKY_ARGS = [
    "it's",
    "a b  c",
    "$(touch CANARY)",
    "`touch CANARY`",
    '"double" \\"quotes\\"',
    "*",
    "back\\slash\\n",
    "semi;colon && echo hi | cat > CANARY",
    "line1\nline2",
    "",
    "$HOME ${PATH}",
    "-n",
    "'",
    "''",
    "\t",
  ];
  /** Prints $0 and the arguments NUL-terminated, then the rest of stdin. */
  const PRINT_ARGS = `printf '%s\\000' "$0" "$@"; cat\n`;

  for (const shell of LOGIN_SHELLS) {
    test(`${shell}: as root the script runs directly (no sudo)`, async ({ expect }) => {
      const h = new FakeHost();
      const env = h.env([h.sudoBin]);
      const p = await viaLoginShell(shell, provisionInvocation(NAME, true, TEXT), env);
      const facts = provisionFacts(expect, p);
      expect(facts.sha256).toBe(sha256Hex(TEXT));
      expect(h.read(`/etc/apparmor.d/containers/${NAME}`)).toBe(TEXT);

      h.addContainer("pyjoules");
      const a = await viaLoginShell(shell, attestInvocation(NAME, "pyjoules", true), env);
      expectSuccess(expect, a);
      expect(JSON.parse(a.stdout)).toMatchObject({ ok: true, container: "pyjoules" });

      h.addContainer("pyjoules", { running: false });
      const rm = await viaLoginShell(shell, deleteAsPulumiRunsIt(), env);
      expectSuccess(expect, rm);
      expect(rm.stdout).toBe(`{"name":"${NAME}","removed":true}\n`);
      expect(h.kernelProfiles()).toEqual([]);
      expect(h.calls("sudo")).toEqual([]);
    });

    test(`${shell}: as a non-root user the script runs through sudo -n, with the rest of stdin`, async ({ expect }) => {
      const h = new FakeHost();
      const env = h.env([h.idBin, h.sudoBin]);
      const p = await viaLoginShell(shell, provisionInvocation(NAME, false, TEXT), env);
      provisionFacts(expect, p);
      expect(h.read(`/etc/apparmor.d/containers/${NAME}`)).toBe(TEXT);
      const sudo = h.calls("sudo");
      expect(sudo).toHaveLength(2);
      expect(sudo[0]).toBe("-n true");
      // provision.sh itself, trailing newline and all (the fake sudo logs newlines as spaces).
      expect(sudo[1]).toBe(`-n /bin/sh -c ${PROVISION_SH.replaceAll("\n", " ")} pyjoules-provision ${NAME} no ${USER_FACTS_OK}`);

      h.clearLogs();
      const rm = await viaLoginShell(shell, deleteAsPulumiRunsIt(), env);
      expectSuccess(expect, rm);
      expect(rm.stdout).toBe(`{"name":"${NAME}","removed":true}\n`);
      expect(h.exists(`/etc/apparmor.d/containers/${NAME}`)).toBe(false);
      expect(h.calls("sudo")[1]).toBe(`-n /bin/sh -c ${REMOVE_SH.replaceAll("\n", " ")} pyjoules-remove ${NAME}`);
    });

    test(`${shell}: a sudo that wants a password fails at once, saying so`, async ({ expect }) => {
      const h = new FakeHost();
      writeFileSync(join(h.state, "sudo-needs-password"), "");
      const before = h.snapshot();
      const r = await viaLoginShell(shell, provisionInvocation(NAME, true, TEXT), h.env([h.idBin, h.sudoBin]));
      expect(r.ms).toBeLessThan(1000);
      expectFailure(expect, r, /^pyjoules: fakehost-1: user deploy needs passwordless sudo \(sudo -n cannot prompt for a password\): sudo: a password is required$/);
      expect(r.stdout).toBe("");
      expect(h.calls("sudo")).toEqual(["-n true"]);
      expect(h.snapshot()).toEqual(before);
      expect(h.calls("parser")).toEqual([]);
    });

    for (const via of ["root", "sudo"] as const) {
      test(`${shell} (${via}): every argument arrives as one literal word, and the rest of stdin byte for byte`, async ({ expect }) => {
        const h = new FakeHost();
        const args = TRICKY_ARGS.map((a) => a.replaceAll("CANARY", join(h.dir, "canary")));
        const env = via === "root" ? h.env([h.sudoBin]) : h.env([h.idBin, h.sudoBin]);
        const [lead, rest] = ["bytes before the script\n", "the rest of stdin, 'quoted' $(not run)\n\n"];
        // The stage after `lead` (as the provision stage follows the remove stage), then the rest of stdin.
        const stage = rootStage(PRINT_ARGS, args);
        const command = stageLoader("print-args", Buffer.byteLength(lead), stage);
        const r = await viaLoginShell(shell, { command, stdin: lead + stage + rest }, env);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout.split("\0")).toEqual(["print-args", ...args, rest]);
        expect(existsSync(join(h.dir, "canary")), "nothing was executed").toBe(false);
        expect(h.calls("sudo").length).toBe(via === "root" ? 0 : 2);
      });
    }
  }

  test("a real unprivileged user (setpriv, uid 65534) with a sudo that wants a password", async ({ expect }) => {
    const h = new FakeHost();
    writeFileSync(join(h.state, "sudo-needs-password"), "");
    h.openToEveryone();
    const prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
    const r = await viaLoginShell("/bin/sh", provisionInvocation(NAME, true, TEXT), h.env([h.sudoBin]), prefix);
    expect(r.ms).toBeLessThan(1000);
    expectFailure(expect, r, /user nobody needs passwordless sudo .*: sudo: a password is required$/);
    expect(h.calls("sudo")).toEqual(["-n true"]);
    expect(h.exists("/etc/apparmor.d/containers")).toBe(false);
  });

  test("removeInvocation, run by hand over ssh (no profile text on stdin), removes the profile", async ({ expect }) => {
    const h = new FakeHost();
    const env = h.env([h.idBin, h.sudoBin]);
    provisionFacts(expect, await viaLoginShell("/bin/sh", provisionInvocation(NAME, true, TEXT), env));
    const rm = await viaLoginShell("/bin/sh", removeInvocation(NAME), env);
    expectSuccess(expect, rm);
    expect(rm.stdout).toBe(`{"name":"${NAME}","removed":true}\n`);
    expect(h.kernelProfiles()).toEqual([]);
  });

  test("remove.sh neither reads nor waits for the rest of stdin (provision.sh and a 1 MiB profile)", async ({ expect }) => {
    const h = new FakeHost();
    const env = h.env([h.idBin, h.sudoBin]);
    provisionFacts(expect, await viaLoginShell("/bin/sh", provisionInvocation(NAME, true, TEXT), env));
    const big = `${TEXT}${"# padding\n".repeat((1 << 20) / 10)}`;
    const rm = await viaLoginShell("/bin/sh", deleteAsPulumiRunsIt(big), env);
    expectSuccess(expect, rm);
    expect(rm.stdout).toBe(`{"name":"${NAME}","removed":true}\n`);
    expect(rm.ms).toBeLessThan(5000);
  });

  test("the builders refuse unsafe names before anything runs", ({ expect }) => {
    for (const bad of ["../x", "a b", "-x", "x;rm", "", "x'y"]) {
      expect(() => provisionCommand(bad, true)).toThrow();
      expect(() => provisionInvocation(bad, true, TEXT)).toThrow();
      expect(() => removeCommand(bad)).toThrow();
      expect(() => removeInvocation(bad)).toThrow();
      expect(() => attestInvocation(bad, "pyjoules", true)).toThrow();
      expect(() => attestInvocation(NAME, bad, true)).toThrow();
      expect(() => asRoot(bad, PRINT_ARGS, [])).toThrow(/invalid script name/);
    }
    for (const skip of [-1, 1.5, NaN, Infinity]) expect(() => stageLoader("x", skip, "{\n}")).toThrow(/invalid stdin offset/);
  });
});

describe.concurrent("the scripts travel on stdin: short command lines", () => {
  const PROVISION = provisionInvocation(NAME, true, TEXT);
  const REMOVE = removeInvocation(NAME);
  const ATTEST = attestInvocation(NAME, "pyjoules-client", true, 99999);
  const LINES = { provision: PROVISION.command, remove: REMOVE.command, attest: ATTEST.command };
  /** Lines of `text` long enough to be recognisable (short ones like `fi` or `exit 1` are in the wrapper too). */
  const distinctive = (text: string) => [...new Set(text.split("\n").map((l) => l.trim()).filter((l) => l.length >= 12))];
  const bytes = (s: string) => Buffer.byteLength(s);

  test("each line is under 450 characters and carries no script, no profile text and no argument", ({ expect }) => {
    console.log(`command line lengths: ${Object.entries(LINES).map(([k, v]) => `${k} ${v.length}`).join(", ")}`);
    for (const [what, line] of Object.entries(LINES)) {
      expect(line.length, what).toBeLessThan(450);
      for (const script of [PROVISION_SH, REMOVE_SH, ATTEST_SH]) {
        expect(distinctive(script).length).toBeGreaterThan(30);
        expect(distinctive(script).filter((l) => line.includes(l)), what).toEqual([]);
      }
      expect(distinctive(TEXT).filter((l) => line.includes(l)), what).toEqual([]);
      expect(line, what).not.toContain(NAME);
    }
  });

  test("each line loads its stage: where it sits in stdin, its length and sha256, the script's name last", ({ expect }) => {
    const removeStage = REMOVE.stdin;
    const provisionStage = PROVISION.stdin.slice(removeStage.length, PROVISION.stdin.length - TEXT.length);
    expect(PROVISION.stdin).toBe(removeStage + provisionStage + TEXT);
    expect(LINES.remove).toBe(stageLoader("pyjoules-remove", 0, removeStage));
    expect(LINES.provision).toBe(stageLoader("pyjoules-provision", bytes(removeStage), provisionStage));
    expect(LINES.attest).toBe(stageLoader("pyjoules-attest", 0, ATTEST.stdin));
    expect(LINES.provision).toContain(` skip=${bytes(removeStage)} count=${bytes(provisionStage)} `);
    expect(LINES.provision).toContain(`"${sha256Hex(provisionStage)}  -"`);
    // each stage: its arguments quoted, its script verbatim (quoted), nothing else of ours
    expect(removeStage).toBe(rootStage(REMOVE_SH, [NAME]));
    expect(provisionStage).toBe(rootStage(PROVISION_SH, [NAME, "yes"], USER_DOCKER_FACTS));
    expect(ATTEST.stdin).toBe(rootStage(ATTEST_SH, [NAME, "pyjoules-client", "yes", "99999"]));
    expect(provisionStage).toContain(`\nset -- '${NAME}' 'yes'\ns=${shellQuote(PROVISION_SH)}\n`);
    for (const stage of [removeStage, provisionStage, ATTEST.stdin]) expect([stage.startsWith("{\n"), stage.endsWith("\n}")]).toEqual([true, true]);
  });

  test("a profile change changes only the provision stdin; the remove stage comes first in it, the provision stage next", ({ expect }) => {
    const other = renderPyJoulesProfile({ extraReadPaths: ["/etc/pyjoules/**"] });
    const b = provisionInvocation(NAME, true, other);
    expect(b.command).toBe(PROVISION.command);
    expect(b.stdin).not.toBe(PROVISION.stdin);
    expect(b.stdin).toBe(provisionStdin(NAME, true, other));
    expect(b.stdin.startsWith(REMOVE.stdin)).toBe(true);
    expect(b.stdin.endsWith(other)).toBe(true);
    expect(removeCommand(NAME)).toBe(LINES.remove);
    expect(attestInvocation(NAME, "pyjoules-client", true, 99999)).toEqual(ATTEST);
  });
});

describe.concurrent("the scripts travel on stdin: a truncated or altered stdin fails closed", () => {
  const INCOMPLETE = /^pyjoules: fakehost-1: the host script arrived incomplete on stdin \((pyjoules-[a-z]+): (\d+) of (\d+) bytes, or other bytes\)$/;
  const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === "x" ? "y" : "x") + s.slice(at + 1);
  const full = provisionStdin(NAME, true, TEXT);
  const removeStage = removeInvocation(NAME).stdin;
  const R = Buffer.byteLength(removeStage);
  const provisionStage = full.slice(R, full.length - TEXT.length);
  const P = Buffer.byteLength(provisionStage);
  const attest = attestInvocation(NAME, "pyjoules", true);
  const A = Buffer.byteLength(attest.stdin);
  /** [what, command, stdin, script name, where the stage starts in stdin, stage length] */
  const cases: [string, string, string, string, number, number][] = [
    ["provision: no stdin", provisionCommand(NAME, true), "", "pyjoules-provision", R, P],
    ["provision: only the remove stage", provisionCommand(NAME, true), removeStage, "pyjoules-provision", R, P],
    ["provision: cut inside its stage", provisionCommand(NAME, true), full.slice(0, R + 1000), "pyjoules-provision", R, P],
    ["provision: one byte short (no closing brace)", provisionCommand(NAME, true), full.slice(0, R + P - 1), "pyjoules-provision", R, P],
    ["provision: cut right after a newline", provisionCommand(NAME, true), full.slice(0, full.lastIndexOf("\n", R + P - 3) + 1), "pyjoules-provision", R, P],
    ["provision: one byte of provision.sh altered", provisionCommand(NAME, true), flip(full, R + 1500), "pyjoules-provision", R, P],
    ["provision: the stages in the other order", provisionCommand(NAME, true), provisionStage + removeStage + TEXT, "pyjoules-provision", R, P],
    ["provision: the profile alone (an old stdin)", provisionCommand(NAME, true), TEXT, "pyjoules-provision", R, P],
    ["remove: no stdin", removeCommand(NAME), "", "pyjoules-remove", 0, R],
    ["remove: cut inside its stage", removeCommand(NAME), full.slice(0, R - 10), "pyjoules-remove", 0, R],
    ["remove: one byte of remove.sh altered", removeCommand(NAME), flip(full, 200), "pyjoules-remove", 0, R],
    ["attest: no stdin", attest.command, "", "pyjoules-attest", 0, A],
    ["attest: cut inside its stage", attest.command, attest.stdin.slice(0, A / 2), "pyjoules-attest", 0, A],
    ["attest: one byte of attest.sh altered", attest.command, flip(attest.stdin, A - 20), "pyjoules-attest", 0, A],
  ];
  for (const [what, command, stdin, script, skip, length] of cases) {
    const got = Math.min(length, Math.max(0, Buffer.byteLength(stdin) - skip));
    for (const as of ["deploy", "root"] as const) {
      test(`${what} (as ${as}): one line, nothing run`, async ({ expect }) => {
        const h = new FakeHost();
        h.addContainer("pyjoules");
        const before = h.snapshot();
        const r = await run(["/bin/sh", "-c", command], h.env(as === "deploy" ? [h.idBin, h.sudoBin] : [h.sudoBin]), stdin);
        expectFailure(expect, r, INCOMPLETE);
        expect(r.code).toBe(1);
        expect(INCOMPLETE.exec(r.stderr.trimEnd())!.slice(1)).toEqual([script, String(got), String(length)]);
        expect(r.stdout).toBe("");
        expect(h.snapshot()).toEqual(before);
        for (const tool of ["sudo", "docker", "parser", "systemctl"] as const) expect(h.calls(tool), tool).toEqual([]);
      });
    }
  }
});

describe.concurrent("the wrapper under other shells and a busybox userland", () => {
  const BUSYBOX = spawnSync("/bin/sh", ["-c", "command -v busybox"], { env: { PATH: SYSTEM_PATH }, encoding: "utf8" }).stdout.trim();
  /** A busybox userland for the wrapper's tools (as on Alpine): dd, sha256sum, wc and tr from busybox. */
  const busyboxTools = (h: FakeHost) => {
    const dir = join(h.dir, "busybox-bin");
    mkdirSync(dir);
    for (const tool of ["dd", "sha256sum", "wc", "tr"]) symlinkSync(BUSYBOX, join(dir, tool));
    return dir;
  };
  // busybox sh runs its own id and hostname applets before PATH: there the test's real uid (root) and host name count.
  const VARIANTS: { what: string; shell: string; busybox: boolean; as: readonly ("deploy" | "root")[] }[] = [
    { what: "dash", shell: "dash", busybox: false, as: ["deploy", "root"] },
    ...(HAS_BASH ? [{ what: "bash", shell: "bash", busybox: false, as: ["deploy", "root"] } as const] : []),
    ...(BUSYBOX === "" || process.getuid?.() !== 0 ? [] : [{ what: "busybox sh", shell: `${BUSYBOX} sh`, busybox: false, as: ["root"] } as const]),
    ...(BUSYBOX === "" ? [] : [{ what: "dash with busybox dd, sha256sum, wc, tr", shell: "dash", busybox: true, as: ["deploy", "root"] } as const]),
  ];
  // Ends in blank lines: a stage that lost the script's trailing newlines would run another script.
  const PROBE = `printf '%s\\000' "$0" "$@"; cat\n\n\n`;
  const LEAD = "x".repeat(3000);
  const REST = "profile text\n\n";

  test("the variants are there", ({ expect }) => {
    expect(BUSYBOX).not.toBe("");
    expect(VARIANTS.length).toBe(process.getuid?.() === 0 ? 4 : 3);
  });

  for (const v of VARIANTS) {
    for (const as of v.as) {
      test(`${v.what} (as ${as}): reads exactly the script, then runs it with the rest of stdin; a short read fails closed`, async ({ expect }) => {
        const h = new FakeHost();
        const env = h.env([...(v.busybox ? [busyboxTools(h)] : []), ...(as === "deploy" ? [h.idBin] : []), h.sudoBin]);
        // The loader runs under the variant's shell instead of /bin/sh.
        const stage = rootStage(PROBE, ["a b", "it's"]);
        const command = stageLoader("pyjoules-probe", LEAD.length, stage).replace(/^\/bin\/sh /, `${v.shell} `);
        const ok = await run(["/bin/sh", "-c", command], env, LEAD + stage + REST);
        expect(ok.stderr).toBe("");
        expect(ok.code).toBe(0);
        expect(ok.stdout.split("\0")).toEqual(["pyjoules-probe", "a b", "it's", REST]);
        expect(h.calls("sudo").length).toBe(as === "root" ? 0 : 2);
        h.clearLogs();
        const short = await run(["/bin/sh", "-c", command], env, LEAD + stage.slice(0, -1));
        expectFailure(expect, short, /^pyjoules: [^:]+: the host script arrived incomplete on stdin \(pyjoules-probe: (\d+) of (\d+) bytes, or other bytes\)$/);
        expect(/(\d+) of (\d+) bytes/.exec(short.stderr)!.slice(1)).toEqual([String(stage.length - 1), String(stage.length)]);
        expect(short.stdout).toBe("");
        expect(h.calls("sudo")).toEqual([]);
      });
    }
  }
});

describe.concurrent("verify.sh (verifyOnEveryRun's read)", () => {
  const CLIENT = "pyjoules-client";
  const TOKENS = [NAME, "yes", "verify", CLIENT, "3", "2 drift: container pyjoules-client does not exist"] as const;
  const verifyRead = (expect: ExpectStatic, r: RunResult) => {
    expectSuccess(expect, r);
    expect(r.stdout.split("\n"), "exactly one stdout line").toHaveLength(2);
    return JSON.parse(r.stdout) as { recordedProfile: string; recordedContainer: string; profile: string[]; container: string[] };
  };
  /** A host provisioned with drift tokens and running the client under the profile. */
  const provisioned = async (expect: ExpectStatic) => {
    const h = new FakeHost();
    provisionFacts(expect, await h.provision(TEXT, TOKENS));
    h.addContainer(CLIENT);
    return h;
  };

  test("a host as provisioned: no drift, the tokens provision.sh recorded, nothing written", async ({ expect }) => {
    const h = await provisioned(expect);
    h.clearLogs();
    const before = h.snapshot();
    expect(verifyRead(expect, await h.verify())).toEqual({
      recordedProfile: "3",
      recordedContainer: "2 drift: container pyjoules-client does not exist",
      profile: [],
      container: [],
    });
    expect(h.snapshot()).toEqual(before);
    expect(h.calls("systemctl").every((c) => c.startsWith("is-enabled "))).toBe(true);
    expect(h.calls("docker")).toEqual([`inspect --format {{.State.Status}} {{.State.Pid}} {{.AppArmorProfile}} ${CLIENT}`]);
  });

  test("a fresh host: nothing recorded, every part missing", async ({ expect }) => {
    const h = new FakeHost();
    expect(verifyRead(expect, await h.verify())).toEqual({
      recordedProfile: "",
      recordedContainer: "",
      profile: [
        `profile ${NAME} is not loaded in enforce mode`,
        `installed file /etc/apparmor.d/containers/${NAME} is missing`,
        `boot-time loader ${UNIT} is not enabled`,
      ],
      container: [`container ${CLIENT} does not exist (pulumi up --refresh recreates it)`],
    });
  });

  const cases: { name: string; drift: (h: FakeHost) => void | Promise<unknown>; profile: string[]; container: string[] }[] = [
    {
      name: "profile unloaded under the running container (it is left unconfined)",
      drift: (h) => {
        h.write("/sys/kernel/security/apparmor/profiles", "");
        h.addContainer(CLIENT, { attrCurrent: "unconfined\n" });
      },
      profile: [`profile ${NAME} is not loaded in enforce mode`],
      container: [`container ${CLIENT} runs as unconfined, not ${NAME} (enforce)`],
    },
    {
      name: "installed file edited",
      drift: (h) => h.write(`/etc/apparmor.d/containers/${NAME}`, `${TEXT}# edited by hand\n`),
      profile: [`installed file /etc/apparmor.d/containers/${NAME} is not the one loaded (changed on the host)`],
      container: [],
    },
    {
      name: "boot-time loader disabled",
      drift: (h) => run(["/bin/sh", "-c", `systemctl disable ${UNIT}`], h.env()),
      profile: [`boot-time loader ${UNIT} is not enabled`],
      container: [],
    },
    {
      name: "container removed",
      drift: (h) => rmSync(join(h.dockerState, "containers", CLIENT), { recursive: true }),
      profile: [],
      container: [`container ${CLIENT} does not exist (pulumi up --refresh recreates it)`],
    },
    {
      name: "container stopped",
      drift: (h) => h.addContainer(CLIENT, { running: false }),
      profile: [],
      container: [`container ${CLIENT} is exited`],
    },
    {
      name: "container re-created by hand under docker-default",
      drift: (h) => h.addContainer(CLIENT, { apparmor: "docker-default", attrCurrent: "docker-default (enforce)\n" }),
      profile: [],
      container: [`container ${CLIENT} was created with AppArmor profile docker-default`],
    },
  ];
  for (const c of cases) {
    test(`drift: ${c.name}`, async ({ expect }) => {
      const h = await provisioned(expect);
      await c.drift(h);
      const before = h.snapshot();
      const read = verifyRead(expect, await h.verify());
      expect({ profile: read.profile, container: read.container }).toEqual({ profile: c.profile, container: c.container });
      expect(read.recordedProfile).toBe("3");
      expect(h.snapshot(), "read-only").toEqual(before);
    });
  }

  test("provision.sh repairs what verify.sh reported, records the new tokens, and the next read is clean", async ({ expect }) => {
    const h = await provisioned(expect);
    h.write(`/etc/apparmor.d/containers/${NAME}`, `${TEXT}# edited by hand\n`);
    await run(["/bin/sh", "-c", `systemctl disable ${UNIT}`], h.env());
    expect(verifyRead(expect, await h.verify()).profile).toHaveLength(2);
    provisionFacts(expect, await h.provision(TEXT, [NAME, "yes", "verify", CLIENT, "4 drift: edited", "2 drift: container pyjoules-client does not exist"]));
    expect(verifyRead(expect, await h.verify())).toEqual({
      recordedProfile: "4 drift: edited",
      recordedContainer: "2 drift: container pyjoules-client does not exist",
      profile: [],
      container: [],
    });
  });

  test("a hostile recorded file and hostile docker answers still give one valid, inert JSON line", async ({ expect }) => {
    const h = await provisioned(expect);
    h.write(`/var/lib/pulumi-pyjoules/${NAME}.${CLIENT}.verify`, `x"],"profile":[]}\n$(reboot)\`id\`\n`);
    h.addContainer(CLIENT, { apparmor: 'evil"]}', attrCurrent: "unconfined\n" });
    const read = verifyRead(expect, await h.verify());
    expect(read.recordedProfile).toBe("x,profile:"); // only inert characters survive
    expect(read.recordedContainer).toBe("(reboot)id");
    expect(read.container).toEqual([`container ${CLIENT} was created with AppArmor profile evil`]);
  });

  test("through the components' command line and stdin (long tokens one per line, as deploy via sudo) the tokens are recorded whole", async ({ expect }) => {
    const h = new FakeHost();
    const long = `7 drift: installed file /etc/apparmor.d/containers/${NAME} is not the one loaded (changed on the host) + boot-time loader`;
    const inv = provisionInvocation(NAME, true, TEXT, { container: CLIENT, profileToken: long, containerToken: "6" });
    expect(inv.stdin).toContain(`\n'${long}' \\\n'6'\n`);
    provisionFacts(expect, await run(["/bin/sh", "-c", inv.command], h.env([h.idBin, h.sudoBin]), inv.stdin));
    h.addContainer(CLIENT);
    expect(verifyRead(expect, await h.verify())).toMatchObject({ recordedProfile: long, recordedContainer: "6", profile: [] });
  });

  test("the verify stage, as the components send it over ssh, runs verify.sh as root through sudo", async ({ expect }) => {
    const h = new FakeHost();
    const inv = verifyInvocation(NAME, CLIENT);
    const r = await run(["/bin/sh", "-c", inv.command], h.env([h.idBin, h.sudoBin]), inv.stdin);
    expect(verifyRead(expect, r).container).toEqual([`container ${CLIENT} does not exist (pulumi up --refresh recreates it)`]);
    expect(h.calls("sudo").length).toBeGreaterThan(0);
  });

  test("bad arguments and a non-root user are refused in one line", async ({ expect }) => {
    const h = new FakeHost();
    expectFailure(expect, await h.verify([NAME]), /usage: verify\.sh PROFILE CONTAINER/);
    expectFailure(expect, await h.verify([NAME, "-rf"]), /invalid name '-rf'/);
    expectFailure(expect, await h.verify(["bad name", CLIENT]), /invalid name 'bad name'/);
    const asUser = await run(["/bin/sh", SCRIPTS.verify, NAME, CLIENT], h.env([h.idBin]));
    expectFailure(expect, asUser, /must run as root/);
  });

  test("provision.sh refuses malformed verify arguments before touching anything", async ({ expect }) => {
    for (const args of [
      [NAME, "yes", "verify", CLIENT, "3"],
      [NAME, "yes", "verify", "-x", "3", "1"],
      [NAME, "yes", "verify", CLIENT, "3; reboot", "1"],
      [NAME, "yes", "verify", CLIENT, "", "1"],
      [NAME, "yes", "verify", CLIENT, "1", "x".repeat(301)],
    ]) {
      const h = new FakeHost();
      const before = h.snapshot();
      const r = await h.provision(TEXT, args);
      expect(r.code, JSON.stringify(args)).not.toBe(0);
      expect(oneErrorLine(expect, r)).toMatch(/usage: provision\.sh|invalid container name|invalid drift token|longer than 300/);
      expect(h.snapshot()).toEqual(before);
    }
  });

  test("remove.sh deletes the recorded tokens with the profile", async ({ expect }) => {
    const h = await provisioned(expect);
    rmSync(join(h.dockerState, "containers", CLIENT), { recursive: true });
    expectSuccess(expect, await h.removeProfile());
    expect(h.exists(`/var/lib/pulumi-pyjoules/${NAME}.${CLIENT}.verify`)).toBe(false);
  });
});
