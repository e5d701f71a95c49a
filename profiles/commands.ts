import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "./render";
import { ownProfileName } from "./validation";

/**
 * Builds the exact command lines that run the host-side scripts over SSH, and the stdin they read.
 *
 * Everything travels on stdin, not on the command line: pulumi-command reports a failed command as
 * `running "<whole command line>":` before the host's one `pyjoules: HOST: cause` line, so the line must be
 * short. It only reads a *stage* from stdin (COUNT bytes after SKIP), checks the stage's sha256 and evals it;
 * a short or altered read runs nothing and says so in one line. The stage sets the (validated, single-quoted)
 * arguments, holds the script, and runs it as root. The profile text follows the stages on stdin, never on a
 * command line.
 */

const readScript = (file: string) => readFileSync(join(__dirname, file), "utf8");
export const PROVISION_SH = readScript("provision.sh");
export const REMOVE_SH = readScript("remove.sh");
export const ATTEST_SH = readScript("attest.sh");
export const VERIFY_SH = readScript("verify.sh");

/** A command line and the stdin it needs. */
export interface HostInvocation {
  command: string;
  stdin: string;
}

/** POSIX single-quoting: the result is one literal word for sh, bash, dash, ksh and zsh. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs the script in $s as root, with the rest of stdin: directly when the SSH user is root, else through
 * `sudo -n`, which never prompts. A sudo that wants a password (or a tty) fails at once with a message
 * saying so.
 */
export const BECOME_ROOT = [
  'if [ "$(id -u)" -eq 0 ]; then exec /bin/sh -c "$s" "$0" "$@"; fi',
  'if ! err=$(sudo -n true 2>&1); then',
  '  printf "pyjoules: %s: user %s needs passwordless sudo (sudo -n cannot prompt for a password): %s\\n" "$(hostname)" "$(id -un)" "$err" >&2',
  "  exit 1",
  "fi",
  'exec sudo -n /bin/sh -c "$s" "$0" "$@"',
].join("\n");

/**
 * Runs as the SSH user before BECOME_ROOT, for provisioning only. The docker provider creates the container
 * as the SSH user (`ssh USER@HOST docker system dial-stdio`), so provision.sh must know which daemon that
 * user's docker reaches; root (after sudo) may see another one. Appends one argument, reduced to inert
 * characters: "root", or "USER STATE DAEMON_ID ROOTLESS" (STATE ok | denied | missing | down; DAEMON_ID "-"
 * unless ok; ROOTLESS yes | no). provision.sh validates it again.
 */
export const USER_DOCKER_FACTS = [
  "pyjoules_user_docker() {",
  '  if [ "$(id -u)" -eq 0 ]; then echo root; return; fi',
  "  u=$(id -un 2>/dev/null | tr -cd A-Za-z0-9_.-)",
  '  u=${u:-uid$(id -u)}',
  '  command -v docker >/dev/null 2>&1 || { echo "$u missing - no"; return; }',
  '  o=$(timeout 60 docker info --format "pyjoules-docker-id:{{.ID}} {{json .SecurityOptions}}" 2>&1) || true',
  '  l=$(printf "%s\\n" "$o" | sed -n "s/^pyjoules-docker-id://p" | head -n 1)',
  '  i=$(printf %s "${l%% *}" | tr -cd A-Za-z0-9:-)',
  "  r=no",
  "  case $l in *name=rootless*) r=yes ;; esac",
  '  if [ -n "$i" ]; then echo "$u ok $i $r"; return; fi',
  '  case $o in *"ermission denied"*) echo "$u denied - no" ;; *) echo "$u down - no" ;; esac',
  "}",
  'set -- "$@" "$(pyjoules_user_docker)"',
].join("\n");

/** A script or container name: no shell meaning, no leading "-". */
const INERT_WORD = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The stage that runs `script` as root with `args`: one `{ … }` group (so a shell that is handed only part of
 * it parses nothing), `prelude` first as the SSH user (it may append arguments), then BECOME_ROOT. It ends in
 * "}" with no newline, so a command substitution keeps it byte for byte.
 */
export function rootStage(script: string, args: readonly string[], prelude = "", argPerLine = false): string {
  return ["{", setArgs(args, argPerLine), `s=${shellQuote(script)}`, ...(prelude === "" ? [] : [prelude]), BECOME_ROOT, "}"].join("\n");
}

/**
 * `set -- ARGS`, on one line or one argument per line: `preview --diff` shows the changed lines of a stdin but
 * cuts each at 150 characters, and a drift token must be read whole there.
 */
function setArgs(args: readonly string[], argPerLine: boolean): string {
  return `set -- ${args.map(shellQuote).join(argPerLine ? " \\\n" : " ")}`;
}

/**
 * The command line: `sh -c LOADER NAME` reads `stage` from stdin after `skip` bytes, checks its length and
 * sha256, and evals it ("$0" is NAME in every message). `dd bs=1` reads one byte at a time, so it never takes
 * more than the stage from a pipe; what follows stays for the script. `echo .` keeps a cut stage's trailing
 * newlines, so the message counts the bytes that really came.
 */
export function stageLoader(scriptName: string, skip: number, stage: string): string {
  if (!INERT_WORD.test(scriptName)) throw new Error(`invalid script name ${JSON.stringify(scriptName)}`);
  if (!Number.isSafeInteger(skip) || skip < 0) throw new Error(`invalid stdin offset ${skip}`);
  const count = Buffer.byteLength(stage, "utf8");
  const loader =
    `s=$(dd bs=1${skip > 0 ? ` skip=${skip}` : ""} count=${count} 2>/dev/null; echo .); s=\${s%.}; ` +
    `[ "$(printf %s "$s" | sha256sum)" = "${sha256Hex(stage)}  -" ] || { ` +
    `printf "pyjoules: %s: the host script arrived incomplete on stdin (%s: %s of ${count} bytes, or other bytes)\\n" "$(hostname)" "$0" "$(printf %s "$s" | wc -c | tr -cd 0-9)" >&2; exit 1; }; ` +
    'eval "$s"';
  return ["/bin/sh", "-c", shellQuote(loader), scriptName].join(" ");
}

/** Runs `script` as root with `args`: the stage first on stdin, then `rest` (what the script reads). */
export function asRoot(scriptName: string, script: string, args: readonly string[], prelude = "", rest = ""): HostInvocation {
  const stage = rootStage(script, args, prelude);
  return { command: stageLoader(scriptName, 0, stage), stdin: stage + rest };
}

const yesNo = (b: boolean) => (b ? "yes" : "no");
const checkedName = (name: string) => ownProfileName.parse(name);

/** With verifyOnEveryRun: the client container and the drift tokens provision.sh records for verify.sh. */
export interface DriftTokens {
  container: string;
  profileToken: string;
  containerToken: string;
}

/** The characters of verify.sh's answers and of drift tokens (verify.sh's `inert`, provision.sh's token check). */
export const DRIFT_TEXT_CHARS = "A-Za-z0-9._+~:/()@, -";
/** A drift token (components/drift.ts) as provision.sh accepts it: inert characters, at most 300. */
const DRIFT_TOKEN = new RegExp(`^[${DRIFT_TEXT_CHARS}]{1,300}$`);

function verifyArgs(v: DriftTokens | undefined): string[] {
  if (v === undefined) return [];
  if (!INERT_WORD.test(v.container)) throw new Error(`invalid container name ${JSON.stringify(v.container)}`);
  for (const t of [v.profileToken, v.containerToken]) {
    if (!DRIFT_TOKEN.test(t)) throw new Error(`invalid drift token ${JSON.stringify(t)}`);
  }
  return ["verify", v.container, v.profileToken, v.containerToken];
}

const removeStage = (name: string) => rootStage(REMOVE_SH, [checkedName(name)]);
const provisionStage = (name: string, requireRapl: boolean, verify?: DriftTokens) =>
  rootStage(PROVISION_SH, [checkedName(name), yesNo(requireRapl), ...verifyArgs(verify)], USER_DOCKER_FACTS, verify !== undefined);

/**
 * The provision resource's stdin: the remove stage, the provision stage, then the profile text (what
 * provision.sh reads). pulumi-command runs `delete` with the stdin stored for `create`, so both are in it.
 */
export function provisionStdin(name: string, requireRapl: boolean, profileText: string, verify?: DriftTokens): string {
  return removeStage(name) + provisionStage(name, requireRapl, verify) + profileText;
}

/** Skips the remove stage, runs the provision stage; the SSH user's docker facts are added on the host (USER_DOCKER_FACTS). */
export function provisionCommand(name: string, requireRapl: boolean, verify?: DriftTokens): string {
  return stageLoader("pyjoules-provision", Buffer.byteLength(removeStage(name), "utf8"), provisionStage(name, requireRapl, verify));
}

/** Runs the remove stage at the start of provisionStdin; remove.sh leaves the rest of stdin alone. */
export function removeCommand(name: string): string {
  return stageLoader("pyjoules-remove", 0, removeStage(name));
}

const attestStage = (name: string, container: string, requireRapl: boolean, healthWaitS: number) => {
  if (!INERT_WORD.test(container)) throw new Error(`invalid container name ${JSON.stringify(container)}`);
  if (!Number.isInteger(healthWaitS) || healthWaitS < 0 || healthWaitS > 99999) throw new Error(`invalid health wait ${healthWaitS}`);
  const args = [checkedName(name), container, yesNo(requireRapl)];
  return rootStage(ATTEST_SH, healthWaitS > 0 ? [...args, String(healthWaitS)] : args);
};

/** The attest resource's create: healthWaitS > 0 first waits that long for the container's healthcheck to report healthy. */
export function attestInvocation(name: string, container: string, requireRapl: boolean, healthWaitS = 0): HostInvocation {
  const stage = attestStage(name, container, requireRapl, healthWaitS);
  return { command: stageLoader("pyjoules-attest", 0, stage), stdin: stage };
}

/** The provision resource's create: its command line and stdin. */
export function provisionInvocation(name: string, requireRapl: boolean, profileText: string, verify?: DriftTokens): HostInvocation {
  return { command: provisionCommand(name, requireRapl, verify), stdin: provisionStdin(name, requireRapl, profileText, verify) };
}

/** The read-only drift read of verifyOnEveryRun (verify.sh), run over the docker provider's OpenSSH path. */
export function verifyInvocation(name: string, container: string): HostInvocation {
  if (!INERT_WORD.test(container)) throw new Error(`invalid container name ${JSON.stringify(container)}`);
  const stage = rootStage(VERIFY_SH, [checkedName(name), container]);
  return { command: stageLoader("pyjoules-verify", 0, stage), stdin: stage };
}

/** The provision resource's delete, run by hand: the remove stage alone (remove.sh needs no profile text). */
export function removeInvocation(name: string): HostInvocation {
  return { command: removeCommand(name), stdin: removeStage(name) };
}
