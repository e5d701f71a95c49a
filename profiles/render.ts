import { createHash } from "node:crypto";
import {
  ABI_LINE,
  BodyLine,
  DOCKER_DEFAULT_BODY,
  HEADER_IMPORTS,
  INNER_IMPORTS,
  MOBY_GENERATOR_COMMENT,
  MOBY_TEMPLATE_VERSION,
  POWERCAP_DENY,
  PROFILE_FLAGS,
} from "./docker-default";
import { MASKED_PATHS, READ_ONLY_PATHS } from "./oci-defaults";
import { daemonProfileName, profileName, readOnlyPath } from "./validation";

export const DEFAULT_PROFILE_NAME = "docker-pyjoules";
export const DEFAULT_DAEMON_PROFILE = "unconfined";
/** Both RAPL trees: /sys/class/powercap/* are symlinks into /sys/devices/virtual/powercap. */
export const POWERCAP_PATHS = ["/sys/class/powercap", "/sys/devices/virtual/powercap"] as const;

export interface ProfileOptions {
  /** Profile name (`docker-pyjoules` by default). */
  name?: string;
  /** The Docker daemon's own AppArmor label; moby's default is `unconfined`. */
  daemonProfile?: string;
  /** Further absolute paths the container may read but never write (sorted, de-duplicated). */
  extraReadPaths?: readonly string[];
}

interface Resolved {
  name: string;
  daemon: string;
  extraReadPaths: string[];
}

function resolve(options: ProfileOptions): Resolved {
  const field = <T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } } }, value: unknown, what: string): T => {
    const r = schema.safeParse(value);
    if (!r.success) throw new Error(`profile ${what}: ${JSON.stringify(value)} ${r.error.issues[0]!.message}`);
    return r.data;
  };
  const name = field(profileName, options.name ?? DEFAULT_PROFILE_NAME, "name");
  const daemon = field(daemonProfileName, options.daemonProfile ?? DEFAULT_DAEMON_PROFILE, "daemonProfile");
  const extra = (options.extraReadPaths ?? []).map((p) => field(readOnlyPath, p, "extraReadPaths entry"));
  return { name, daemon, extraReadPaths: [...new Set(extra)].sort() };
}

function renderProfile(generatorComment: string, body: readonly BodyLine[], { name, daemon }: Resolved): string {
  const fill = (s: string) => s.replaceAll("{{name}}", name).replaceAll("{{daemon}}", daemon);
  const lines = [
    generatorComment,
    ABI_LINE,
    "",
    ...HEADER_IMPORTS,
    "",
    `profile "${name}" ${PROFILE_FLAGS} {`,
    ...INNER_IMPORTS.map((i) => `  ${i}`),
    "",
    ...body.map((l) =>
      l.kind === "blank" ? "" : l.kind === "comment" ? `  # ${fill(l.text)}` : `  ${fill(l.text)}${l.comment ?? ""}`,
    ),
    "}",
  ];
  return lines.join("\n") + "\n";
}

/** Docker's own docker-default, as moby/profiles renders it on an AppArmor 3+ host (the posture baseline). */
export function renderDockerDefault(options: ProfileOptions = {}): string {
  return renderProfile(MOBY_GENERATOR_COMMENT, DOCKER_DEFAULT_BODY, resolve({ name: "docker-default", ...options }));
}

const note = (text: string): BodyLine => ({ kind: "comment", text });
const rule = (text: string): BodyLine => ({ kind: "rule", text });

/** What docker-pyjoules puts where docker-default had the powercap deny; every change is commented. */
function pyjoulesChanges(extraReadPaths: readonly string[]): BodyLine[] {
  const lines: BodyLine[] = [
    note(`pulumi-pyjoules change 1/3: removed \`${POWERCAP_DENY}\` (docker-default).`),
    note("pulumi-pyjoules change 2/3: read-only access to the RAPL counters (r only: no w, k, l or x)."),
    ...POWERCAP_PATHS.map((p) => rule(`${p}/** r,`)).reverse(),
  ];
  if (extraReadPaths.length > 0) {
    lines.push(note("extra read-only paths (profile option extraReadPaths): readable, never writable."));
    for (const p of extraReadPaths) lines.push(rule(`${p} r,`), rule(`deny ${p} wklx,`));
  }
  lines.push(
    note("pulumi-pyjoules change 3/3: re-mask. The container runs with systempaths=unconfined, which drops every"),
    note("path Docker masks or mounts read-only by default; these rules keep each of them closed."),
  );
  for (const m of MASKED_PATHS) {
    if (m.rule) {
      lines.push(note(`masked ${m.path}:`), rule(m.rule));
    } else if (m.exception) {
      lines.push(note(`masked ${m.path}: ${m.exception} by \`${m.coveredBy}\``));
    } else {
      lines.push(note(`masked ${m.path}: already denied by \`${m.coveredBy}\``));
    }
  }
  for (const r of READ_ONLY_PATHS) {
    if (r.rule) {
      lines.push(note(`read-only ${r.path}: ${r.gap}:`), rule(r.rule));
    } else {
      lines.push(note(`read-only ${r.path}: writes already denied by \`${r.coveredBy}\``));
    }
  }
  return lines;
}

/**
 * docker-pyjoules: docker-default minus the powercap deny, plus read-only powercap access and the re-mask
 * rules. A pure function of its options: the same options give byte-identical text on every host.
 */
export function renderPyJoulesProfile(options: ProfileOptions = {}): string {
  const resolved = resolve(options);
  const body = DOCKER_DEFAULT_BODY.flatMap((l) =>
    l.kind === "rule" && l.text === POWERCAP_DENY ? pyjoulesChanges(resolved.extraReadPaths) : [l],
  );
  const generator = `# profile generated by pulumi-pyjoules from github.com/moby/profiles/apparmor (${MOBY_TEMPLATE_VERSION} template).`;
  return renderProfile(generator, body, resolved);
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
