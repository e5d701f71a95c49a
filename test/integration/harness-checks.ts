// What every VM suite relies on in a target-host image (test/vm), checked as the first steps of the lifecycle
// suite on each distro's VM (formerly a separate smoke suite with its own boots): AppArmor on in the kernel and in
// Docker, the fake RAPL zone, the pyJoules test client image, sudo for both test users, the pinned host key.
// That the disk, the RAPL zone and the image survive a reboot is shown by the lifecycle's reboot step.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "vitest";
import { TEST_CLIENT_IMAGE, writeKnownHosts, type Vm } from "../vm";

const RAPL = "/sys/class/powercap/intel-rapl:0";

export function harnessChecks(get: () => Vm, step: (name: string, fn: () => Promise<void>) => void): void {
  step("0 harness: has AppArmor enabled in the kernel and in docker", async () => {
    const enabled = await get().ssh("cat /sys/module/apparmor/parameters/enabled");
    expect(enabled.stdout.trim()).toBe("Y");
    const sec = await get().ssh("docker info --format '{{json .SecurityOptions}}'");
    const opts = JSON.parse(sec.stdout) as string[];
    expect(opts).toContain("name=apparmor");
  });

  step("0 harness: exposes a fake RAPL package zone like intel_rapl does", async () => {
    const link = await get().ssh(`test -L ${RAPL} && readlink -f ${RAPL}`);
    expect(link.stdout.trim()).toBe("/sys/devices/virtual/powercap/intel-rapl/intel-rapl:0");
    const st = await get().ssh(`stat -L -c '%a %U' ${RAPL}/energy_uj; cat ${RAPL}/name ${RAPL}/max_energy_range_uj`);
    const [mode, name, range] = st.stdout.trim().split("\n");
    expect(mode).toBe("400 root");
    expect(name).toBe("package-0");
    expect(BigInt(range!)).toBeGreaterThan(0n);
    // Not readable by an ordinary user (0400 root) ...
    const asUser = await get().ssh(`cat ${RAPL}/energy_uj`, { allowFail: true });
    expect(asUser.code).not.toBe(0);
    // ... readable as root, and counting up.
    const r = await get().ssh(`sudo -n cat ${RAPL}/energy_uj; sleep 1; sudo -n cat ${RAPL}/energy_uj`);
    const [a, b] = r.stdout.trim().split("\n").map((s) => BigInt(s));
    expect(b!).toBeGreaterThan(a!);
  });

  step("0 harness: has the pyJoules test client image, runnable under docker-default", async () => {
    const img = await get().ssh(`docker image inspect --format '{{json .Config.Cmd}}' ${TEST_CLIENT_IMAGE}`);
    expect(img.stdout).toContain("pyjoules_client.py");
    const run = await get().ssh(`docker run --rm ${TEST_CLIENT_IMAGE} cat /proc/1/attr/current`);
    expect(run.stdout.trim()).toBe("docker-default (enforce)");
    // the real library from PyPI, on the guest's own python3
    const py = await get().ssh(
      `docker run --rm ${TEST_CLIENT_IMAGE} python3 -c 'import sys, pyJoules; print(pyJoules.__version__, sys.version_info[0])'`,
    );
    expect(py.stdout.trim().split("\n").pop()).toBe("0.5.1 3");
  });

  step("0 harness: gives pyj passwordless sudo and makes sudo -n fail fast for pyjpw", async () => {
    const ok = await get().ssh("sudo -n true");
    expect(ok.code).toBe(0);
    const t0 = Date.now();
    const denied = await get().ssh("sudo -n true", { user: get().image.users.passwordSudo, allowFail: true });
    expect(denied.code).not.toBe(0);
    expect(denied.code).not.toBe(255); // sudo refused, not an ssh failure
    expect(denied.stderr).toMatch(/password is required/);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  step("0 harness: pins the guest host key", async () => {
    const v = get();
    const fresh = await v.ssh("true", { multiplex: false });
    expect(fresh.code).toBe(0);
    const scanned = execFileSync("ssh-keyscan", ["-T", "20", "-t", "ed25519", "-p", String(v.port), "127.0.0.1"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    expect(scanned).toContain(v.image.hostKey);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pyjoules-wrongkey-"));
    try {
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
      const wrongKey = fs.readFileSync(path.join(dir, "k.pub"), "utf8");
      const kh = writeKnownHosts(path.join(dir, "known_hosts"), v.port, wrongKey);
      expect(fs.statSync(kh).mode & 0o777).toBe(0o600);
      const bad = await v.ssh("echo reached", { knownHostsFile: kh, allowFail: true });
      expect(bad.code).toBe(255);
      expect(bad.stdout).not.toContain("reached");
      expect(bad.stderr).toMatch(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
