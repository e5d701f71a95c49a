// Peak RSS and PSS of a process tree, by role, polled from /proc: the Pulumi CLI, the language host, the node
// program, and the provider plugins (summed per plugin, with the most processes seen at once). RSS counts the
// pages a process shares (e.g. the text of 100 identical pulumi-resource-docker binaries) once per process;
// PSS divides each shared page among its sharers, so a sum of PSS is the memory the tree really takes.
import * as fs from "node:fs";

export type Role = "cli" | "language-host" | "program" | "provider-command" | "provider-docker" | "other";
export interface RolePeak {
  peakRssMb: number;
  peakPssMb: number;
  maxProcs: number;
}
export type TreePeaks = Record<Role, RolePeak> & { totalPeakMb: number; totalPeakPssMb: number; samples: number; otherNames: string[] };

/** Pure: the role of a process from its command line (argv joined by spaces). */
export function roleOf(cmdline: string): Role {
  const exe = cmdline.split(" ")[0] ?? "";
  const base = exe.split("/").pop() ?? "";
  if (base === "pulumi") return "cli";
  if (base.startsWith("pulumi-language-")) return "language-host";
  if (base === "pulumi-resource-command") return "provider-command";
  if (base === "pulumi-resource-docker") return "provider-docker";
  if (base === "node" || base.startsWith("node")) return "program";
  return "other";
}

function children(): Map<number, number[]> {
  const kids = new Map<number, number[]>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = kids.get(ppid) ?? [];
      list.push(Number(d));
      kids.set(ppid, list);
    } catch {
      /* gone */
    }
  }
  return kids;
}

function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** RSS and PSS in kB from /proc/PID/smaps_rollup (Linux 4.14+); PSS = RSS when it cannot be read. */
function memKb(pid: number): { rss: number; pss: number } {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const rss = Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    return { rss, pss: Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? rss) };
  } catch {
    const rss = rssKb(pid);
    return { rss, pss: rss };
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

const ROLES: Role[] = ["cli", "language-host", "program", "provider-command", "provider-docker", "other"];

/** Polls the tree under `root` every `everyMs` until stop() is called; returns the peaks. */
export function watchTree(root: number, everyMs = 200): { stop: () => TreePeaks } {
  const peaks = Object.fromEntries(ROLES.map((r) => [r, { peakRssMb: 0, peakPssMb: 0, maxProcs: 0 }])) as Record<Role, RolePeak>;
  let totalPeakMb = 0;
  let totalPeakPssMb = 0;
  let samples = 0;
  const otherNames = new Set<string>();
  const sample = () => {
    const kids = children();
    const sum: Record<string, { kb: number; pssKb: number; n: number }> = {};
    const stack = [root];
    while (stack.length) {
      const pid = stack.pop()!;
      const cmd = cmdline(pid);
      const r = roleOf(cmd);
      if (r === "other") otherNames.add((cmd.split(" ")[0] ?? "").split("/").pop() ?? "");
      const s = (sum[r] ??= { kb: 0, pssKb: 0, n: 0 });
      const m = memKb(pid);
      s.kb += m.rss;
      s.pssKb += m.pss;
      s.n++;
      stack.push(...(kids.get(pid) ?? []));
    }
    let total = 0;
    let totalPss = 0;
    for (const [r, s] of Object.entries(sum)) {
      const p = peaks[r as Role];
      p.peakRssMb = Math.max(p.peakRssMb, s.kb / 1024);
      p.peakPssMb = Math.max(p.peakPssMb, s.pssKb / 1024);
      p.maxProcs = Math.max(p.maxProcs, s.n);
      total += s.kb / 1024;
      totalPss += s.pssKb / 1024;
    }
    totalPeakMb = Math.max(totalPeakMb, total);
    totalPeakPssMb = Math.max(totalPeakPssMb, totalPss);
    samples++;
  };
  const timer = setInterval(sample, everyMs);
  sample();
  return { stop: () => (clearInterval(timer), { ...peaks, totalPeakMb, totalPeakPssMb, samples, otherNames: [...otherNames] }) };
}

/** Total RSS (MB) of the tree under `root` right now (a memory guard). */
export function treeRssMb(root: number): number {
  const kids = children();
  let kb = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    kb += rssKb(pid);
    stack.push(...(kids.get(pid) ?? []));
  }
  return kb / 1024;
}
