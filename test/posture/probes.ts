// Posture probes: what a process inside a container can read, write and mount, compared across
// AppArmor profiles / masking setups. Used by test/integration/lifecycle.test.ts; the result is the
// Markdown matrix in docs/posture.md.
import { shellQuote } from "../../profiles/commands";
import { MASKED_PATHS, READ_ONLY_PATHS } from "../../profiles/oci-defaults";
import { POWERCAP_DENY } from "../../profiles/docker-default";
import { POWERCAP_PATHS, renderDockerDefault } from "../../profiles/render";

export type ProbeKind = "read" | "write" | "mount";
export type Outcome = "exposed" | "written" | "blocked" | "absent";

export interface Probe {
  id: string;
  kind: ProbeKind;
  path: string;
  /** Where the row comes from (shown in the table). */
  why: string;
  /** A powercap read: the one place where docker-pyjoules is meant to differ from docker-default. */
  powercapRead?: boolean;
}

export interface ProbeResult {
  outcome: Outcome;
  /** How: "masked", "EACCES", "EROFS", "EPERM", ... */
  detail: string;
}

const RAPL_ZONE = "/sys/class/powercap/intel-rapl:0";
export const RAPL_ENERGY = `${RAPL_ZONE}/energy_uj`;

/** Things the probe list needs to know about the host (paths are chosen on the host, as root). */
export interface HostFacts {
  cpus: string[];
  /** A file under each read-only directory, e.g. /proc/irq -> /proc/irq/default_smp_affinity. */
  fileUnder: Record<string, string | undefined>;
  /** A writable-by-mode powercap attribute of the RAPL zone, if any. */
  powercapWritable?: string;
}

/** Shell run on the host (root) that prints the facts as `key=value` lines. */
export const HOST_FACTS_SCRIPT = [
  "for c in /sys/devices/system/cpu/cpu[0-9]*; do echo cpu=${c##*/}; done",
  ...READ_ONLY_PATHS.map((r) => r.path)
    .filter((p) => p !== "/proc/sysrq-trigger" && p !== "/proc/sys")
    .map(
      (p) =>
        `f=$(find ${p} -type f -perm -u+w 2>/dev/null | sort | head -n 1); [ -n "$f" ] || f=$(find ${p} -type f 2>/dev/null | sort | head -n 1); echo "under:${p}=$f"`,
    ),
  `for f in ${RAPL_ZONE}/enabled ${RAPL_ZONE}/constraint_0_power_limit_uw; do if [ -e "$f" ] && [ -n "$(find "$f" -perm -u+w)" ]; then echo "pcw=$f"; break; fi; done`,
].join("\n");

export function parseHostFacts(stdout: string): HostFacts {
  const facts: HostFacts = { cpus: [], fileUnder: {} };
  for (const line of stdout.split("\n")) {
    const [k, ...rest] = line.split("=");
    const v = rest.join("=").trim();
    if (k === "cpu" && v) facts.cpus.push(v);
    else if (k?.startsWith("under:")) facts.fileUnder[k.slice(6)] = v || undefined;
    else if (k === "pcw" && v) facts.powercapWritable = v;
  }
  return facts;
}

/** The probe matrix rows. */
export function probes(f: HostFacts): Probe[] {
  const rows: Probe[] = [];
  for (const m of MASKED_PATHS) {
    const paths = m.path.includes("cpuN") ? f.cpus.map((c) => m.path.replace("cpuN", c)) : [m.path];
    for (const p of paths) {
      rows.push({ id: `read ${p}`, kind: "read", path: p, why: "masked by Docker", powercapRead: p.startsWith("/sys/devices/virtual/powercap") });
    }
  }
  for (const r of READ_ONLY_PATHS) {
    if (r.path === "/proc/sys") {
      for (const p of ["/proc/sys/kernel/shmmax", "/proc/sys/kernel/sem", "/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches"]) {
        rows.push({ id: `write ${p}`, kind: "write", path: p, why: "read-only in Docker (/proc/sys)" });
      }
    } else if (r.path === "/proc/sysrq-trigger") {
      rows.push({ id: `write ${r.path}`, kind: "write", path: r.path, why: "read-only in Docker" });
    } else {
      const p = f.fileUnder[r.path] ?? `${r.path}/.probe`;
      rows.push({ id: `write ${r.path}/…`, kind: "write", path: p, why: `read-only in Docker (${r.path})` });
    }
  }
  rows.push({ id: `write ${RAPL_ENERGY}`, kind: "write", path: RAPL_ENERGY, why: "powercap" });
  if (f.powercapWritable) rows.push({ id: `write ${f.powercapWritable}`, kind: "write", path: f.powercapWritable, why: "powercap (mode u+w)" });
  rows.push({ id: "mount -t tmpfs none /mnt", kind: "mount", path: "/mnt", why: "mount" });
  rows.push({ id: `read ${RAPL_ENERGY}`, kind: "read", path: RAPL_ENERGY, why: "RAPL counter", powercapRead: true });
  return rows;
}

/**
 * A busybox-sh script printing `index|outcome|detail` per probe. Writes only *open* the file for
 * writing (`: >>`, O_APPEND, zero bytes written): that is where AppArmor and read-only mounts say no,
 * and nothing on the host changes when it is allowed. The mount probe mounts an empty tmpfs on /mnt
 * inside the container and unmounts it again.
 */
export function probeScript(rows: Probe[]): string {
  const lines = [
    "err() { sed -n '$p' \"$1\" | sed 's/.*: //' | tr -d '\\n|'; }",
    // Docker's mask: an empty read-only tmpfs over a directory, /dev/null bound over a file (a read-only
    // bind of the real tree, like the powercap mounts, is not a mask).
    "masked() { awk -v p=\"$1\" '$5 == p { for (i = 7; $i != \"-\"; i++) ; if ($(i + 1) == \"tmpfs\" || $4 ~ /\\/null$/) f = 1 } END { exit !f }' /proc/self/mountinfo; }",
  ];
  rows.forEach((r, i) => {
    const p = shellQuote(r.path);
    if (r.kind === "read") {
      lines.push(
        `if [ ! -e ${p} ]; then echo "${i}|missing|"; ` +
          `elif { if [ -d ${p} ]; then ls -A ${p}; else head -c 256 ${p}; fi; } >/tmp/.o 2>/tmp/.e; then ` +
          `if masked ${p}; then echo "${i}|blocked|masked"; else echo "${i}|exposed|$(head -c 40 /tmp/.o | tr '\\n|' '  ')"; fi; ` +
          `else echo "${i}|blocked|$(err /tmp/.e)"; fi`,
      );
    } else if (r.kind === "write") {
      lines.push(
        `if [ ! -e ${p} ]; then echo "${i}|missing|"; elif ( : >> ${p} ) 2>/tmp/.e; then echo "${i}|written|opened for writing"; else echo "${i}|blocked|$(err /tmp/.e)"; fi`,
      );
    } else {
      lines.push(`if mount -t tmpfs none /mnt 2>/tmp/.e; then umount /mnt; echo "${i}|written|mounted"; else echo "${i}|blocked|$(err /tmp/.e)"; fi`);
    }
  });
  return lines.join("\n") + "\n";
}

/**
 * Parses the script output. `onHost` says whether the path exists on the host: a path missing in the
 * container but present on the host is hidden (blocked), one missing on the host too is absent.
 */
export function parseProbeOutput(rows: Probe[], stdout: string, onHost: boolean[]): ProbeResult[] {
  const out: ProbeResult[] = rows.map(() => ({ outcome: "blocked", detail: "no answer" }));
  for (const line of stdout.split("\n")) {
    const m = /^(\d+)\|(\w+)\|(.*)$/.exec(line);
    if (!m) continue;
    const i = Number(m[1]);
    const detail = short(m[3]!.trim());
    if (m[2] === "missing") out[i] = onHost[i] ? { outcome: "blocked", detail: "hidden (not visible inside)" } : { outcome: "absent", detail: "not on this kernel" };
    else out[i] = { outcome: m[2] as Outcome, detail };
  }
  return out;
}

function short(d: string): string {
  if (/permission denied/i.test(d)) return "EACCES";
  if (/read-only file system/i.test(d)) return "EROFS";
  if (/operation not permitted/i.test(d)) return "EPERM";
  if (/no such file/i.test(d)) return "ENOENT";
  if (/invalid argument/i.test(d)) return "EINVAL";
  return d;
}

/** Host-side existence check for every probe path (run as root). */
export function hostExistsScript(rows: Probe[]): string {
  return rows.map((r, i) => `if [ -e ${shellQuote(r.path)} ]; then echo "${i}|yes"; else echo "${i}|no"; fi`).join("\n") + "\n";
}

export function parseHostExists(rows: Probe[], stdout: string): boolean[] {
  const res = rows.map(() => false);
  for (const line of stdout.split("\n")) {
    const m = /^(\d+)\|(yes|no)$/.exec(line.trim());
    if (m) res[Number(m[1])] = m[2] === "yes";
  }
  return res;
}

/** The seed's profile as the seed describes it: docker-default with only the powercap deny replaced by the two read allows. */
export function renderSeedProfile(name = "docker-pyjoules-seed"): string {
  const text = renderDockerDefault({ name });
  const deny = `  ${POWERCAP_DENY}\n`;
  if (!text.includes(deny)) throw new Error("docker-default has no powercap deny line to replace");
  return text.replace(deny, POWERCAP_PATHS.map((p) => `  ${p}/** r,\n`).reverse().join(""));
}

export interface Column {
  key: string;
  title: string;
  results: ProbeResult[];
}

const cell = (r: ProbeResult) => {
  const word = r.outcome === "exposed" ? "**exposed**" : r.outcome === "written" ? "**written**" : r.outcome;
  return r.detail && r.outcome !== "exposed" ? `${word} (${r.detail})` : word;
};

/** Markdown table: one row per probe, one column per setup. */
export function markdownTable(rows: Probe[], cols: Column[]): string {
  const head = `| probe | ${cols.map((c) => c.title).join(" | ")} |`;
  const sep = `| --- | ${cols.map(() => "---").join(" | ")} |`;
  const body = rows.map((r, i) => `| \`${r.id}\` | ${cols.map((c) => cell(c.results[i]!)).join(" | ")} |`);
  return [head, sep, ...body].join("\n");
}

/** Rows where two columns disagree on the outcome. */
export function differences(rows: Probe[], a: ProbeResult[], b: ProbeResult[]): Probe[] {
  return rows.filter((_, i) => a[i]!.outcome !== b[i]!.outcome);
}
