import * as pulumi from "@pulumi/pulumi";
import { local } from "@pulumi/command";
import { z } from "zod";
import { DRIFT_TEXT_CHARS, shellQuote, verifyInvocation, type DriftTokens } from "../profiles/commands";
import { ResolvedConnection } from "./connection";

/**
 * verifyOnEveryRun (docs/drift.md): in `preview` and `up` each host is read once over the docker provider's
 * pinned OpenSSH path (profiles/verify.sh), and what it finds becomes two tokens that the provision step
 * (profile) and the client container's label (container) carry. Pulumi diffs inputs against the last run's,
 * so a token must stay the same while the host is as provisioned, change on drift, and stay the same again
 * after the repair: the host remembers the tokens the last provision recorded, and verify.sh returns them.
 */

const INERT = new RegExp(`^[${DRIFT_TEXT_CHARS}]*$`);
const inert = (max: number) => z.string().max(max).regex(INERT, "must be inert characters");

/** verify.sh's JSON line. */
export const driftReadSchema = z
  .object({
    recordedProfile: inert(300),
    recordedContainer: inert(300),
    profile: z.array(inert(400)).max(16),
    container: z.array(inert(400)).max(16),
  })
  .strict();
export type DriftRead = z.infer<typeof driftReadSchema>;

/** Label of the client container that carries the container token (a label change replaces the container). */
export const DRIFT_LABEL = "pulumi-pyjoules.drift-token";
/** Read whole in `preview --diff`, which cuts a line at 150 characters (the token is one line of stdin there). */
const MAX_TOKEN = 140;

const generation = (token: string) => Number.parseInt(/^(\d{1,9})/.exec(token)?.[1] ?? "0", 10);

/**
 * The tokens for this run. Nothing recorded yet (first deploy with verifyOnEveryRun): "1" for both. No drift:
 * the recorded token. Drift: "<n> drift: <reasons>", n one above every recorded generation, so the same drift
 * seen again after a repair is still a change.
 */
export function driftTokens(read: DriftRead): { profile: string; container: string } {
  if (read.recordedProfile === "" && read.recordedContainer === "") return { profile: "1", container: "1" };
  const next = Math.max(generation(read.recordedProfile), generation(read.recordedContainer)) + 1;
  const token = (recorded: string, reasons: string[]) => {
    if (reasons.length === 0 && recorded !== "") return recorded;
    const text = reasons.length === 0 ? `${next}` : `${next} drift: ${reasons.join(" + ")}`;
    return text.length <= MAX_TOKEN ? text : `${text.slice(0, MAX_TOKEN - 3)}...`;
  };
  return { profile: token(read.recordedProfile, read.profile), container: token(read.recordedContainer, read.container) };
}

const EXIT_MARK = "pyjoules-verify-exit:";

/**
 * The local command: OpenSSH with the docker provider's options runs the read-only verify stage on the host.
 * It always exits 0 and reports ssh's status on a last line, so a failed read is reported by us, naming the
 * host, rather than as a failed invoke.
 */
export function sshReadCommand(sshOpts: readonly string[], user: string, host: string, port: number, remoteCommand: string): string {
  const argv = ["ssh", ...sshOpts, "-p", String(port), "-l", user, "--", host, remoteCommand];
  return `${argv.map(shellQuote).join(" ")}; echo "${EXIT_MARK}$?"`;
}

/** Parses what the local command printed; a failed read throws, naming the host and ssh's or the host's last line. */
export function parseDriftRun(stdout: string, stderr: string, where: string): DriftRead {
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  const exit = lines.at(-1)?.startsWith(EXIT_MARK) ? lines.at(-1)!.slice(EXIT_MARK.length) : "?";
  const lastError = stderr.split("\n").filter((l) => l.trim() !== "").at(-1) ?? `exit status ${exit}, no message`;
  if (exit !== "0") throw new Error(`${where}: verifyOnEveryRun: cannot read the host: ${lastError}`);
  const json = lines.find((l) => l.startsWith("{"));
  let parsed: unknown;
  try {
    parsed = JSON.parse(json ?? "");
  } catch {
    throw new Error(`${where}: verifyOnEveryRun: the host's verify.sh printed no JSON line (got ${JSON.stringify(stdout.slice(0, 200))})`);
  }
  const r = driftReadSchema.safeParse(parsed);
  if (!r.success) throw new Error(`${where}: verifyOnEveryRun: unexpected answer from verify.sh: ${r.error.issues[0]!.message}`);
  return r.data;
}

/** Reads one host (one SSH session) and returns the tokens provision.sh records and the container label carries. */
export function readDriftTokens(
  c: ResolvedConnection,
  sshOpts: pulumi.Output<string[]>,
  profileName: pulumi.Output<string>,
  container: pulumi.Output<string>,
  where: string,
  parent: pulumi.Resource,
): pulumi.Output<DriftTokens> {
  const inv = pulumi.all([profileName, container]).apply(([p, n]) => verifyInvocation(p, n));
  const command = pulumi
    .all([sshOpts, c.user, c.host, c.port, inv])
    .apply(([opts, user, host, port, i]) => sshReadCommand(opts, user, host, port, i.command));
  // The command is secret when it names the key file (the docker provider's sshOpts are kept secret), which
  // would make the tokens secret and hide the reasons in `preview --diff`; verify.sh prints inert text only.
  const result = pulumi.unsecret(local.runOutput({ command, stdin: inv.stdin }, { parent }));
  return pulumi
    .all([result, container])
    .apply(([r, name]) => {
      const t = driftTokens(parseDriftRun(r.stdout, r.stderr, where));
      return { container: name, profileToken: t.profile, containerToken: t.container };
    });
}
