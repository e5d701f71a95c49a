// status.json in the toolchain cache dir: what was built, at which versions, what is missing and why.
import { shortGoError } from "./recipe";

export const STATUS_FILE = "status.json";

export type BinaryState = "built" | "cached" | "missing" | "failed";

export interface BinaryStatus {
  name: string;
  kind: "cli" | "language" | "resource";
  version: string;
  modules: string[];
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

/** One line per missing piece: "pulumi-resource-command 1.2.1: the Go module proxy refuses M@V (403 …) — `cmd`". */
export function missingLines(s: ToolchainStatus, o: MissingOptions = {}): string[] {
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

/** Human text for one failure; a proxy refusal is named as such. */
export function failureText(f: Failure, log?: string, command = true): string {
  const cmd = command ? ` — \`${f.command}\`` : "";
  const probe = /^go mod download -json (\S+)$/.exec(f.command);
  if (probe && /: \d{3} /.test(f.error)) return `the Go module proxy refuses ${probe[1]} (${shortGoError(f.error)})${cmd}`;
  return `${f.error.split("\n")[0]}${cmd}${log ? ` (log: ${log})` : ""}`;
}
