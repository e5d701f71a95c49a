// What community.docker's docker_container needs on the target (Python 3 + requests; community.docker 3.x
// talks to the Docker API itself, without the Docker SDK), checked with dpkg on the guest; missing Debian
// packages are downloaded on this machine for the guest's own release (apt-get download with a private
// sources list) and installed in the guest with dpkg -i (the VM's disk is a snapshot overlay: nothing stays).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Vm } from "../vm";

/** python3-requests and its Depends (Debian 12 and 13). */
export const ANSIBLE_TARGET_PACKAGES = [
  "python3-requests", "python3-urllib3", "python3-idna", "python3-certifi",
  "python3-charset-normalizer", "python3-chardet", "ca-certificates", "openssl",
];

/** Pure: package names that `dpkg-query -W -f '${Package} ${Status}\n'` output does not show installed. */
export function missingPackages(dpkgOut: string, wanted: readonly string[]): string[] {
  const ok = new Set(dpkgOut.split("\n").filter((l) => / install ok installed$/.test(l)).map((l) => l.split(" ")[0]));
  return wanted.filter((p) => !ok.has(p));
}

function aptDir(codename: string): { dir: string; opts: string[] } {
  const dir = path.join(os.homedir(), ".cache/pulumi-pyjoules/bench-apt", codename);
  for (const d of ["lists/partial", "cache/archives/partial", "debs"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.writeFileSync(path.join(dir, "sources.list"), `deb http://deb.debian.org/debian ${codename} main\n`);
  const opts = [
    `Dir::Etc::sourcelist=${dir}/sources.list`, "Dir::Etc::sourceparts=/dev/null", `Dir::State::Lists=${dir}/lists`,
    `Dir::Cache=${dir}/cache`, "Dir::State::status=/dev/null", "APT::Get::List-Cleanup=0",
  ].flatMap((o) => ["-o", o]);
  return { dir, opts };
}

/** Downloads `pkgs` for `codename` (cached) and returns the .deb paths. */
export function downloadDebs(codename: string, pkgs: readonly string[], log: (s: string) => void): string[] {
  const { dir, opts } = aptDir(codename);
  const debs = path.join(dir, "debs");
  const have = () => fs.readdirSync(debs).filter((f) => pkgs.some((p) => f.startsWith(`${p}_`)));
  if (have().length < pkgs.length) {
    log(`apt-get download for ${codename}: ${pkgs.join(" ")}`);
    if (!fs.existsSync(path.join(dir, "lists", "lock")) || fs.readdirSync(path.join(dir, "lists")).length < 3) {
      execFileSync("apt-get", ["-q", ...opts, "update"], { stdio: "pipe" });
    }
    execFileSync("apt-get", ["-q", ...opts, "download", ...pkgs], { cwd: debs, stdio: "pipe" });
  }
  return have().map((f) => path.join(debs, f));
}

/**
 * Debian 12's ansible ships community.docker 3.4.7, which fails with requests >= 2.32 ("Not supported URL
 * scheme http+docker"; fixed in community.docker 3.10.2). Debian 13 ships requests 2.32.3, so on a newer
 * guest python3-requests comes from bookworm (2.28.1; its Depends are met by the guest's own packages).
 */
export const REQUESTS_RELEASE = "bookworm";

function debsFor(codename: string, missing: string[], log: (s: string) => void): string[] {
  const pinned = codename !== REQUESTS_RELEASE && missing.includes("python3-requests");
  const rest = pinned ? missing.filter((p) => p !== "python3-requests") : missing;
  const own = rest.length ? downloadDebs(codename, rest, log) : [];
  return pinned ? [...own, ...downloadDebs(REQUESTS_RELEASE, ["python3-requests"], log)] : own;
}

/** Makes the guest ready for ansible's docker_container; returns what was missing (and installed). */
export async function ensureAnsibleTarget(vm: Vm, log: (s: string) => void): Promise<{ missing: string[]; installed: string[] }> {
  const q = await vm.ssh(`dpkg-query -W -f '\${Package} \${Status}\\n' ${ANSIBLE_TARGET_PACKAGES.join(" ")} 2>/dev/null; . /etc/os-release; echo "codename $VERSION_CODENAME"`, { allowFail: true });
  const missing = missingPackages(q.stdout, ANSIBLE_TARGET_PACKAGES);
  const codename = /^codename (\S+)/m.exec(q.stdout)?.[1] ?? "trixie";
  log(`guest (${codename}) lacks for community.docker: ${missing.join(", ") || "nothing"}`);
  if (missing.length === 0) return { missing, installed: [] };
  const debs = debsFor(codename, missing, log);
  const tar = execFileSync("tar", ["-c", ...debs.flatMap((d) => ["-C", path.dirname(d), path.basename(d)])], { maxBuffer: 256 << 20 });
  await vm.ssh("rm -rf /tmp/pyj-debs && mkdir /tmp/pyj-debs && base64 -d | tar -x -C /tmp/pyj-debs", { stdin: tar.toString("base64") });
  const r = await vm.ssh("sudo -n dpkg -i /tmp/pyj-debs/*.deb 2>&1 | tail -n 5", { allowFail: true });
  const after = await vm.ssh(`dpkg-query -W -f '\${Package} \${Status}\\n' ${missing.join(" ")} 2>/dev/null`, { allowFail: true });
  const still = missingPackages(after.stdout, missing);
  if (still.length) throw new Error(`dpkg -i in the guest left ${still.join(", ")} uninstalled: ${r.stdout}`);
  return { missing, installed: debs.map((d) => path.basename(d)) };
}
