// The Debian/Ubuntu packages the tests and the demo need on the machine that runs them. Missing ones are
// installed with apt-get when running as root (printing exactly what), otherwise the run stops with the
// one `sudo apt-get install …` line to run. Nothing is skipped for a missing tool.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";

/** A tool, how to tell it is there, and the package that brings it. */
export interface HostNeed {
  package: string;
  /** A command on PATH, an absolute file, or an argv that must exit 0. */
  probe: string | readonly string[];
  why: string;
}

const need = (pkg: string, probe: HostNeed["probe"], why: string): HostNeed => ({ package: pkg, probe, why });

/** `npm test`: the unit suite. */
export const UNIT_NEEDS: readonly HostNeed[] = [
  need("apparmor", "apparmor_parser", "compiles the profiles offline"),
  need("shellcheck", "shellcheck", "lints the host scripts"),
  need("openssh-client", "ssh", "the docker path's ssh options (ssh -G)"),
  need("openssh-client", "ssh-keygen", "test keys"),
  need("busybox-static", "busybox", "hostile-input tests run command lines under busybox sh"),
];

/** `npm run test:integration` and `npm run demo`: building and booting the target-host VMs. */
export const VM_NEEDS: readonly HostNeed[] = [
  need("qemu-system-x86", "qemu-system-x86_64", "boots the target-host VMs"),
  need("debootstrap", "debootstrap", "builds the VM images"),
  need("debian-archive-keyring", "/usr/share/keyrings/debian-archive-keyring.gpg", "verifies the Debian archive"),
  need("e2fsprogs", "mkfs.ext4", "makes the VM disk (mkfs.ext4 -d)"),
  need("util-linux", "flock", "serialises image builds"),
  need("openssh-client", "ssh", "reaches the VMs"),
  need("openssh-client", "ssh-keygen", "VM keys"),
  need("python3-pip", ["python3", "-m", "pip", "--version"], "downloads the pyJoules wheel from PyPI"),
  need("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "HTTPS to the package registries"),
];

function present(probe: HostNeed["probe"]): boolean {
  if (typeof probe !== "string") return spawnSync(probe[0]!, probe.slice(1), { stdio: "ignore" }).status === 0;
  if (probe.startsWith("/")) return fs.existsSync(probe);
  return spawnSync("/bin/sh", ["-c", 'command -v "$1" >/dev/null 2>&1', "sh", probe]).status === 0;
}

/** Packages (deduplicated, in order) whose probe fails. */
export function missingPackages(needs: readonly HostNeed[], isPresent = present): string[] {
  return [...new Set(needs.filter((n) => !isPresent(n.probe)).map((n) => n.package))];
}

/** The one command a non-root user has to run. */
export const sudoLine = (pkgs: readonly string[]) => `sudo apt-get install -y --no-install-recommends ${pkgs.join(" ")}`;

function apt(args: string[]): void {
  const r = spawnSync("apt-get", args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (exit ${r.status ?? r.signal})`);
}

/**
 * Makes sure every need is met: installs what is missing with apt-get as root, or throws with the line
 * to run. `what` names the job in the messages ("npm test", "npm run demo").
 */
export function ensureHostPackages(needs: readonly HostNeed[], what: string, log: (s: string) => void = console.log): void {
  const missing = missingPackages(needs);
  if (missing.length === 0) return;
  const reasons = needs.filter((n) => missing.includes(n.package)).map((n) => `${n.package} (${n.why})`);
  const hasApt = present("apt-get");
  if (process.getuid?.() !== 0 || !hasApt) {
    throw new Error(
      `${what} needs these packages: ${[...new Set(reasons)].join(", ")}.\n` +
        (hasApt ? `Run: ${sudoLine(missing)}` : "Install them with your system's package manager (apt-get was not found)."),
    );
  }
  log(`[setup] ${what}: installing with apt-get: ${missing.join(" ")}`);
  apt(["update", "-qq"]);
  apt(["install", "-y", "-qq", "--no-install-recommends", ...missing]);
  const still = missingPackages(needs);
  if (still.length) throw new Error(`${what}: still missing after apt-get install: ${still.join(" ")}`);
}
