// VM part of `npm run bench`, run by run.ts under `flock /tmp/pyj-vm.lock` (one VM process of ours at a time).
// Parts (--only compare,phases,two-hosts; default all):
//   compare    on one VM, per repeat in alternating order, each from a clean host: the seed's manual flow, the
//              Ansible playbook (first converge, no-op re-run) and our stack through the real engine (first deploy,
//              no-op up, preview, profile change, client change, destroy); sessions + remote commands from sshd's log.
//   phases     the provision and attest scripts run by hand under a timestamped xtrace (phases.ts).
//   two-hosts  a second VM (bookworm): one-host vs two-host first deploy of one stack, interleaved.
// Prints progress on stderr and one line `BENCH_JSON {...}` on stdout.
import { bootVm, ensureImage, sshdDebugLogging, sshdMark, type Distro, type Vm } from "../vm";
import { requireEngine } from "../engine";
import { cleanHost } from "./host-clean";
import { ansibleTarget, runPlaybook, type AnsibleRun } from "./ansible";
import { ensureAnsibleTarget } from "./guest-debs";
import { BENCH_URL, manualFlow, seedProfile, type ManualRun } from "./manual";
import { ours, type OursRun } from "./ours";
import { runPhases } from "./vm-phases";
import { twoHosts } from "./two-hosts";
import { activitySince, type SshdActivity } from "./sshd-exec";
import { TEST_CLIENT_IMAGE } from "../vm";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(name) && args[args.indexOf(name) + 1] ? args[args.indexOf(name) + 1]! : dflt);
const REPEATS = Number(opt("--repeats", "3"));
const DISTRO = opt("--distro", "trixie") as Distro;
const ONLY = new Set(opt("--only", "compare,phases,two-hosts").split(","));
const log = (s: string) => process.stderr.write(`[vm-bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

type Measured<T> = T & { ssh: SshdActivity };
async function withSsh<T extends object>(vm: Vm, f: () => Promise<T>): Promise<Measured<T>> {
  const mark = await sshdMark(vm);
  const r = await f();
  return { ...r, ssh: await activitySince(vm, mark) };
}

export interface CompareRepeat {
  order: string[];
  manual: Measured<ManualRun>;
  ansible: { first: Measured<AnsibleRun>; noop: Measured<AnsibleRun> };
  ours: OursRun;
  errors?: Record<string, string>;
}

async function compareOnce(vm: Vm, i: number, profile: string): Promise<CompareRepeat> {
  const order = i % 2 === 0 ? ["manual", "ansible", "ours"] : ["ours", "ansible", "manual"];
  const out: Partial<CompareRepeat> = { order };
  const target = ansibleTarget(vm, profile, TEST_CLIENT_IMAGE, BENCH_URL);
  try {
    for (const side of order) {
      await cleanHost(vm);
      try {
        if (side === "manual") out.manual = await withSsh(vm, () => manualFlow(vm, profile));
        if (side === "ansible") {
          const first = await withSsh(vm, () => runPlaybook(target));
          const noop = await withSsh(vm, () => runPlaybook(target));
          out.ansible = { first, noop };
        }
        if (side === "ours") out.ours = await ours(vm, log);
        log(`repeat ${i + 1} ${side} done`);
      } catch (e) {
        (out.errors ??= {})[side] = String((e as Error)?.message ?? e).slice(0, 2000);
        log(`repeat ${i + 1} ${side} FAILED: ${out.errors[side]}`);
      }
    }
  } finally {
    target.cleanup();
    await cleanHost(vm);
  }
  return out as CompareRepeat;
}

async function guestFacts(vm: Vm, bootMs: number) {
  const facts = (await vm.ssh(
    ". /etc/os-release; echo \"$PRETTY_NAME\"; uname -r; docker version -f '{{.Server.Version}}'; /sbin/apparmor_parser --version 2>&1 | head -1; nproc",
  )).stdout.trim().split("\n");
  return { distro: facts[0], kernel: facts[1], docker: facts[2], apparmor: facts[3], cores: Number(facts[4]), bootMs };
}

async function main() {
  log(`engine: ${requireEngine(log)}`);
  const image = await ensureImage(DISTRO, log);
  const t0 = performance.now();
  const vm = await bootVm(image, { log });
  const bootMs = performance.now() - t0;
  const result: Record<string, unknown> = {};
  try {
    await sshdDebugLogging(vm);
    result.guest = await guestFacts(vm, bootMs);
    log(`guest: ${JSON.stringify(result.guest)}`);
    const profile = seedProfile();
    const part = async (name: string, f: () => Promise<unknown>) => {
      if (!ONLY.has(name)) return;
      try {
        result[name] = await f();
      } catch (e) {
        result[`${name}Error`] = String((e as Error)?.stack ?? e).slice(0, 3000);
        log(`${name} FAILED: ${result[`${name}Error`]}`);
      }
    };
    await part("compare", async () => {
      result.ansibleDeps = await ensureAnsibleTarget(vm, log).catch((e) => ({ error: String(e) }));
      const repeats: CompareRepeat[] = [];
      for (let i = 0; i < REPEATS; i++) repeats.push(await compareOnce(vm, i, profile));
      return repeats;
    });
    await part("phases", () => runPhases(vm, log));
    await part("two-hosts", () => twoHosts(vm, log));
    process.stdout.write(`BENCH_JSON ${JSON.stringify(result)}\n`);
  } finally {
    await vm.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    log(`failed: ${(e as Error)?.stack ?? e}`);
    process.exit(1);
  },
);
