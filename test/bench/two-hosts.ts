// Two hosts (this VM + a bookworm VM) in one stack vs this host alone: first deploy wall time, interleaved.
// The stack has one sshPrivateKey, so the first VM's public key is added to the second VM's test user.
import * as fs from "node:fs";
import { bootVm, ensureImage, sshdDebugLogging, type Vm } from "../vm";
import { cleanHost } from "./host-clean";
import { configure, createStack, measuredOp, type HostSpec, type OpRun } from "./ours";

async function firstDeploy(hosts: HostSpec[], label: string): Promise<{ first: OpRun; destroyMs: number }> {
  const stack = await createStack(`bench-${label}`);
  try {
    await configure(stack, hosts);
    const vms = hosts.map((h) => h.vm);
    const first = await measuredOp(vms, (w) => stack.up({ watch: (e) => w(e) }));
    const t0 = performance.now();
    await stack.destroy();
    return { first, destroyMs: performance.now() - t0 };
  } catch (e) {
    await stack.destroy().catch(() => undefined);
    throw e;
  } finally {
    await stack.cleanup();
  }
}

export async function twoHosts(vm: Vm, log: (s: string) => void, repeats = Number(process.env.PYJ_BENCH_TWO_HOST_REPEATS ?? 1)) {
  const image = await ensureImage("bookworm", log);
  const t0 = performance.now();
  const second = await bootVm(image, { log });
  const bootMs = performance.now() - t0;
  try {
    await sshdDebugLogging(second);
    await second.ssh("cat >> ~/.ssh/authorized_keys", { stdin: fs.readFileSync(`${vm.image.userKeyPath}.pub`, "utf8") });
    const one = [{ name: "vm", vm }];
    const two = [...one, { name: "vm2", vm: second }];
    const runs: Array<{ one: Awaited<ReturnType<typeof firstDeploy>>; two: Awaited<ReturnType<typeof firstDeploy>> }> = [];
    for (let i = 0; i < repeats; i++) {
      const r: Partial<(typeof runs)[number]> = {};
      for (const which of i % 2 === 0 ? ["one", "two"] : ["two", "one"]) {
        await Promise.all([cleanHost(vm), cleanHost(second)]);
        r[which as "one" | "two"] = await firstDeploy(which === "one" ? one : two, which);
        log(`two-hosts #${i + 1}: ${which} host(s) first deploy ${r[which as "one" | "two"]!.first.ms.toFixed(0)} ms`);
      }
      runs.push(r as (typeof runs)[number]);
    }
    return { secondGuest: image.distro, bootMs, runs };
  } finally {
    await second.stop();
  }
}
