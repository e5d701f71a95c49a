// status.json in the toolchain cache dir: what was built, from where, at which versions, what is missing and why.

export const STATUS_FILE = "status.json";

export type BinaryState = "built" | "cached" | "missing" | "failed";

export interface BinaryStatus {
  name: string;
  kind: "cli" | "language" | "resource";
  version: string;
  /** Where it comes from: the Go module proxy (module@version) or the upstream archive(s). */
  origin: string;
  /** The archives it is built from, with the sha256 they were checked against. */
  archives?: { file: string; sha256: string }[];
  state: BinaryState;
  optional: boolean;
  path?: string;
  buildSeconds?: number;
  log?: string;
  /** For missing/failed: each exact command that failed and its error. */
  failures?: Failure[];
  plugin?: { name: string; version: string; installed: boolean };
}

export interface Failure {
  command: string;
  error: string;
}

export interface ToolchainStatus {
  recipe: number;
  key: string;
  dir: string;
  updatedAt: string;
  go: { GOVERSION: string; GOOS: string; GOARCH: string; GOFLAGS: string };
  sdk: { pulumi: string; command: string; docker: string };
  /** The upstream archive directory; `absent` is the one-line message when it does not exist (nothing built then). */
  upstream: { dir: string; absent?: string };
  binaries: BinaryStatus[];
  /** Every non-optional binary is present and every provider is installed in PULUMI_HOME. */
  complete: boolean;
  /** Output of the built `pulumi version`, when it ran. */
  cliVersion?: string;
}

export function isPresent(b: BinaryStatus): boolean {
  return b.state === "built" || b.state === "cached";
}

export function isComplete(binaries: BinaryStatus[]): boolean {
  return binaries.every((b) => b.optional || (isPresent(b) && (!b.plugin || b.plugin.installed)));
}

export interface MissingOptions {
  /** Also list optional binaries. */
  optional?: boolean;
  /** Append the exact failing command (default true). */
  commands?: boolean;
}

/** One line per missing piece ("pulumi-resource-command 1.2.1: <why> — `cmd`"); just the one line when upstream is absent. */
export function missingLines(s: ToolchainStatus, o: MissingOptions = {}): string[] {
  if (s.upstream?.absent) return [s.upstream.absent];
  return s.binaries
    .filter((b) => !isPresent(b) || (b.plugin && !b.plugin.installed))
    .filter((b) => o.optional || !b.optional)
    .map((b) => `${b.name} ${b.version}${b.optional ? " (optional)" : ""}: ${whyMissing(b, o.commands ?? true)}`);
}

function whyMissing(b: BinaryStatus, commands: boolean): string {
  const fs = b.failures ?? [];
  if (!fs.length) return isPresent(b) ? `built but not installed as plugin ${b.plugin?.name} ${b.plugin?.version}` : "not built";
  return fs.map((f) => failureText(f, b.log, commands)).join("; ");
}

/** Human text for one failure: its error's first line, the command (unless none), the log. */
export function failureText(f: Failure, log?: string, command = true): string {
  const cmd = command && f.command ? ` — \`${f.command}\`` : "";
  return `${f.error.split("\n")[0]}${cmd}${log ? ` (log: ${log})` : ""}`;
}
