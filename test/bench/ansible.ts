// The Ansible baseline: test/bench/ansible/playbook.yml run by Debian's ansible-playbook against the VM,
// with the VM's pinned host key and the test user's key. Each run gets its own ControlPath dir, so a run
// opens its own SSH connection(s) (Ansible's default ControlPersist would otherwise reuse the last run's).
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Vm } from "../vm";

const DIR = path.join(__dirname, "ansible");

export interface AnsibleRun {
  ms: number;
  recap: { ok: number; changed: number; failed: number };
}

export interface AnsibleTarget {
  inventory: string;
  extraVars: string;
  cleanup: () => void;
}

/** Inventory, key and known_hosts for one VM; the profile text and client settings as extra vars. */
export function ansibleTarget(vm: Vm, profileText: string, image: string, url: string): AnsibleTarget {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pyj-bench-ansible-"));
  const key = path.join(tmp, "id");
  fs.writeFileSync(key, vm.image.userKey.endsWith("\n") ? vm.image.userKey : `${vm.image.userKey}\n`, { mode: 0o600 });
  const known = path.join(tmp, "known_hosts");
  fs.writeFileSync(known, `[${vm.host}]:${vm.port} ${vm.image.hostKey}\n`);
  const profile = path.join(tmp, "docker-pyjoules");
  fs.writeFileSync(profile, profileText);
  const inventory = path.join(tmp, "inventory.ini");
  fs.writeFileSync(
    inventory,
    `[pyjoules]\nvm ansible_host=${vm.host} ansible_port=${vm.port} ansible_user=${vm.user} ansible_ssh_private_key_file=${key} ` +
      `ansible_ssh_common_args='-o UserKnownHostsFile=${known} -o StrictHostKeyChecking=yes'\n`,
  );
  const extraVars = JSON.stringify({ profile_src: profile, client_image: image, remote_write_url: url });
  return { inventory, extraVars, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

/** Pure: the PLAY RECAP numbers of one host. */
export function parseRecap(out: string): AnsibleRun["recap"] {
  const m = /ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)/.exec(out);
  if (!m) throw new Error(`no PLAY RECAP in ansible output: ${out.slice(-800)}`);
  return { ok: Number(m[1]), changed: Number(m[2]), failed: Number(m[3]) };
}

/** One `ansible-playbook` run, wall time from spawn to exit. */
export function runPlaybook(t: AnsibleTarget): Promise<AnsibleRun> {
  const cp = fs.mkdtempSync(path.join(os.tmpdir(), "pyj-ans-cp-"));
  const env = { ...process.env, ANSIBLE_CONFIG: path.join(DIR, "ansible.cfg"), ANSIBLE_SSH_CONTROL_PATH_DIR: cp, ANSIBLE_NOCOLOR: "1" };
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile("ansible-playbook", ["-i", t.inventory, "-e", t.extraVars, path.join(DIR, "playbook.yml")], { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const ms = performance.now() - t0;
      fs.rmSync(cp, { recursive: true, force: true });
      if ((err as NodeJS.ErrnoException | null)?.code === "ENOENT") {
        reject(new Error("ansible-playbook is not installed: apt-get install ansible (Debian's, with community.docker)"));
        return;
      }
      try {
        const recap = parseRecap(stdout);
        if (err || recap.failed) throw new Error(`ansible-playbook failed: ${stdout.slice(-1500)}${stderr.slice(-500)}`);
        resolve({ ms, recap });
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** What the playbook leaves on the host, removed (container, loaded profile, file). */
export const ANSIBLE_CLEAN = [
  "docker rm -f pyjoules-client >/dev/null 2>&1 || true",
  "sudo -n apparmor_parser -R /etc/apparmor.d/containers/docker-pyjoules >/dev/null 2>&1 || true",
  "sudo -n rm -f /etc/apparmor.d/containers/docker-pyjoules",
].join("; ");
