// Runs the posture probe matrix on a VM: the same probes in three containers of the stand-in client
// image, and writes the result into docs/posture.md (one section per distro).
import * as fs from "node:fs";
import * as path from "node:path";
import { renderDockerDefault } from "../../profiles/render";
import { TEST_CLIENT_IMAGE } from "../vm";
import {
  differences,
  HOST_FACTS_SCRIPT,
  hostExistsScript,
  markdownTable,
  parseHostExists,
  parseHostFacts,
  parseProbeOutput,
  Probe,
  probes,
  probeScript,
  ProbeResult,
  renderSeedProfile,
  type Column,
} from "./probes";

export type Ssh = (command: string, stdin?: string) => Promise<string>;

export const SEED_PROFILE = "docker-pyjoules-seed";
export const MOBY_BASELINE_PROFILE = "docker-default-moby";
/** `docker run` arguments: both powercap trees bind-mounted read-only, as the product mounts them. */
export const POWERCAP_MOUNTS = "-v /sys/class/powercap:/sys/class/powercap:ro -v /sys/devices/virtual/powercap:/sys/devices/virtual/powercap:ro";

/** Loads (or replaces) a profile on the host from its text. */
export const loadProfile = (ssh: Ssh, text: string) => ssh("sudo -n apparmor_parser -r -W 2>&1", text);
/** Unloads a profile by name; nothing happens when it is not loaded. */
export const unloadProfile = (ssh: Ssh, name: string) => ssh(`printf 'profile %s {}\\n' ${name} | sudo -n apparmor_parser -R 2>&1 || true`);

export interface Matrix {
  distro: string;
  dockerVersion: string;
  kernel: string;
  rows: Probe[];
  cols: { baseline: Column; seed: Column; ours: Column };
  /** Profile each column's process ran under (/proc/self/attr/current). */
  labels: { baseline: string; seed: string; ours: string };
  /** Rows where ours and the baseline disagree. */
  oursVsBaseline: Probe[];
  /** Rows where the seed's setup and the baseline disagree. */
  seedVsBaseline: Probe[];
}

function splitLabel(stdout: string): { label: string; body: string } {
  const m = /^label\|(.*)$/m.exec(stdout);
  return { label: m ? m[1]!.trim() : "?", body: stdout };
}

/**
 * baselineProfile: undefined = Docker's own docker-default (no apparmor= option); otherwise the name of
 * a profile the caller wants as baseline (rendered here from profiles/render.ts and loaded).
 */
export async function runMatrix(
  ssh: Ssh,
  opts: { distro: string; ourContainer: string; baselineProfile?: string },
): Promise<Matrix> {
  const facts = parseHostFacts(await ssh("sudo -n sh -s", HOST_FACTS_SCRIPT));
  const rows = probes(facts);
  const onHost = parseHostExists(rows, await ssh("sudo -n sh -s", hostExistsScript(rows)));
  const script = `echo "label|$(cat /proc/self/attr/current)"\n${probeScript(rows)}`;

  if (opts.baselineProfile) await loadProfile(ssh, renderDockerDefault({ name: opts.baselineProfile }));
  await loadProfile(ssh, renderSeedProfile(SEED_PROFILE));
  const run = async (dockerArgs: string) => splitLabel(await ssh(`docker run --rm -i ${dockerArgs} ${TEST_CLIENT_IMAGE} sh -s`, script));
  const baseline = await run(`${POWERCAP_MOUNTS}${opts.baselineProfile ? ` --security-opt apparmor=${opts.baselineProfile}` : ""}`);
  const seed = await run(`${POWERCAP_MOUNTS} --security-opt apparmor=${SEED_PROFILE} --security-opt systempaths=unconfined`);
  const ours = splitLabel(await ssh(`docker exec -i ${opts.ourContainer} sh -s`, script));
  for (const p of [SEED_PROFILE, ...(opts.baselineProfile ? [opts.baselineProfile] : [])]) await unloadProfile(ssh, p);
  const [dockerVersion, kernel] = (await ssh("docker version --format '{{.Server.Version}}'; uname -r")).trim().split("\n");

  const res = (s: { body: string }): ProbeResult[] => parseProbeOutput(rows, s.body, onHost);
  const cols = {
    baseline: {
      key: "baseline",
      title: opts.baselineProfile
        ? `(a) baseline: \`${opts.baselineProfile}\` (current moby docker-default, rendered), default masking`
        : "(a) baseline: Docker's own `docker-default`, default masking",
      results: res(baseline),
    },
    seed: { key: "seed", title: "(b) seed: docker-default minus the powercap deny + 2 read allows, `systempaths=unconfined`", results: res(seed) },
    ours: { key: "ours", title: "(c) ours: deployed `docker-pyjoules` container, `systempaths=unconfined`", results: res(ours) },
  };
  return {
    distro: opts.distro,
    dockerVersion: dockerVersion ?? "?",
    kernel: kernel ?? "?",
    rows,
    cols,
    labels: { baseline: baseline.label, seed: seed.label, ours: ours.label },
    oursVsBaseline: differences(rows, cols.baseline.results, cols.ours.results),
    seedVsBaseline: differences(rows, cols.baseline.results, cols.seed.results),
  };
}

export function matrixSection(m: Matrix): string {
  const { rows, cols } = m;
  const idx = (p: Probe) => rows.indexOf(p);
  const diffLine = (p: Probe, other: Column) =>
    `\`${p.id}\`: ${cols.baseline.results[idx(p)]!.outcome} → ${other.results[idx(p)]!.outcome}`;
  return [
    `## ${m.distro} (Docker ${m.dockerVersion}, kernel ${m.kernel})`,
    "",
    `Profiles seen inside: (a) \`${m.labels.baseline}\`, (b) \`${m.labels.seed}\`, (c) \`${m.labels.ours}\`.`,
    "",
    markdownTable(rows, [cols.baseline, cols.seed, cols.ours]),
    "",
    `Ours vs baseline: ${m.oursVsBaseline.length ? m.oursVsBaseline.map((p) => diffLine(p, cols.ours)).join("; ") : "no difference"}.`,
    "",
    `Seed vs baseline: ${m.seedVsBaseline.length ? m.seedVsBaseline.map((p) => diffLine(p, cols.seed)).join("; ") : "no difference"}.`,
    "",
  ].join("\n");
}

const PREAMBLE = `# Posture matrix

Generated by \`test/integration/lifecycle.test.ts\` (step "posture") on the disposable test VMs; do not
edit by hand. The same probes run inside three containers of the stand-in client image, all with the
two read-only powercap bind mounts (\`/sys/class/powercap\`, \`/sys/devices/virtual/powercap\`):

- **(a) baseline** — a default Docker container: \`docker-default\` with Docker's masked and read-only
  paths. On Debian 12, Docker 20.10's own docker-default does not deny powercap, so the current moby
  docker-default is rendered (\`renderDockerDefault()\`), loaded and used instead.
- **(b) seed** — the manual recipe this project started from: docker-default with only the powercap deny
  replaced by \`/sys/devices/virtual/powercap/** r,\` and \`/sys/class/powercap/** r,\`, run with
  \`systempaths=unconfined\` (which drops Docker's masks and read-only remounts).
- **(c) ours** — the client container as deployed by the components: \`apparmor=docker-pyjoules\`,
  \`systempaths=unconfined\` (probes run with \`docker exec\` in it).

Rows: reads of every path Docker masks (\`cpuN\` expanded), writes to every path Docker mounts read-only
(a file under each directory; writes only *open* the file for writing, nothing is written), writes to
powercap, a tmpfs mount, and the RAPL counter read. Outcomes: **exposed** / **written** (allowed), blocked
(with how: \`masked\` = Docker's empty tmpfs or /dev/null, \`EACCES\` = AppArmor, \`EROFS\` = read-only mount,
\`hidden\` = not visible inside although present on the host), absent (the path does not exist on this
kernel, in every column).
`;

/** Replaces (or appends) this distro's section in docs/posture.md, keeping the other distros'. */
export function writePostureDoc(m: Matrix, file = path.join(__dirname, "..", "..", "docs", "posture.md")): void {
  const start = `<!-- posture:${m.distro}:start -->`;
  const end = `<!-- posture:${m.distro}:end -->`;
  const block = `${start}\n${matrixSection(m)}${end}`;
  const order = ["trixie", "bookworm"];
  const sections: Record<string, string> = {};
  const old = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  for (const d of order) {
    const re = new RegExp(`<!-- posture:${d}:start -->[\\s\\S]*?<!-- posture:${d}:end -->`);
    const hit = re.exec(old);
    if (hit) sections[d] = hit[0];
  }
  sections[m.distro] = block;
  const body = order.filter((d) => sections[d]).map((d) => sections[d]).join("\n\n");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${PREAMBLE}\n${body}\n`);
}
