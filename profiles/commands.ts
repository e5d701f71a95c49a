import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "./render";
import { ownProfileName } from "./validation";

/**
 * Builds the exact command lines that run the host-side scripts over SSH, and the stdin they read.
 *
 * The scripts travel on stdin, not on the command line: pulumi-command reports a failed command as
 * `running "<whole command line>":` before the host's one `pyjoules: HOST: cause` line, so the line must
 * stay short. It names the script, where the script sits in stdin (bytes to skip, its length) and its
 * sha256; READ_SCRIPT reads exactly those bytes and runs nothing unless they hash right. Every other
 * argument is validated first and single-quoted; the profile text follows provision.sh on stdin, never on
 * a command line.
 */

const readScript = (file: string) => readFileSync(join(__dirname, file), "utf8");
export const PROVISION_SH = readScript("provision.sh");
export const REMOVE_SH = readScript("remove.sh");
export const ATTEST_SH = readScript("attest.sh");

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
 * Runs first, as the SSH user, as `sh -c WRAPPER NAME SKIP LENGTH SHA256 ARGS...`: skips SKIP bytes of
 * stdin, reads the next LENGTH bytes into $s and leaves the rest of stdin for the script. `dd bs=1` reads
 * one byte at a time, so it never takes more than that from a pipe; `echo .` keeps the script's trailing
 * newlines through the command substitution. A short or altered read (no stdin, a cut connection, other
 * bytes) fails with one line and runs nothing.
 */
export const READ_SCRIPT = [
  "n=$1 l=$2 h=$3; shift 3",
  's=$(dd bs=1 skip="$n" count="$l" 2>/dev/null; echo .); s=${s%.}',
  'if [ "$(printf %s "$s" | sha256sum)" != "$h  -" ]; then',
  '  printf "pyjoules: %s: the host script arrived incomplete on stdin (%s: %s of %s bytes, or other bytes)\\n" "$(hostname)" "$0" "$(printf %s "$s" | wc -c | tr -cd 0-9)" "$l" >&2',
  "  exit 1",
  "fi",
].join("\n");

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
 * The command line that runs `script` as root with `args`, the script read from stdin after `skip` bytes
 * (READ_SCRIPT). `prelude` runs before BECOME_ROOT, as the SSH user, in the same shell (it may append
 * arguments for the script). The script name, skip, length and sha256 are inert words, unquoted.
 */
export function asRoot(scriptName: string, script: string, skip: number, args: readonly string[], prelude = ""): string {
  if (!INERT_WORD.test(scriptName)) throw new Error(`invalid script name ${JSON.stringify(scriptName)}`);
  if (!Number.isSafeInteger(skip) || skip < 0) throw new Error(`invalid stdin offset ${skip}`);
  const wrapper = [READ_SCRIPT, ...(prelude === "" ? [] : [prelude]), BECOME_ROOT].join("\n");
  const where = [String(skip), String(Buffer.byteLength(script, "utf8")), sha256Hex(script)];
  return ["/bin/sh", "-c", shellQuote(wrapper), scriptName, ...where, ...args.map(shellQuote)].join(" ");
}

const yesNo = (b: boolean) => (b ? "yes" : "no");
const checkedName = (name: string) => ownProfileName.parse(name);

/**
 * The provision resource's stdin: remove.sh, provision.sh, then the profile text (what provision.sh reads).
 * pulumi-command runs `delete` with the stdin stored for `create`, so both scripts must be in it.
 */
export function provisionStdin(profileText: string): string {
  return REMOVE_SH + PROVISION_SH + profileText;
}

/** Reads provision.sh from provisionStdin; the SSH user's docker facts are added on the host (USER_DOCKER_FACTS). */
export function provisionCommand(name: string, requireRapl: boolean): string {
  const skip = Buffer.byteLength(REMOVE_SH, "utf8");
  return asRoot("pyjoules-provision", PROVISION_SH, skip, [checkedName(name), yesNo(requireRapl)], USER_DOCKER_FACTS);
}

/** Reads remove.sh from the start of provisionStdin; remove.sh leaves the rest of stdin alone. */
export function removeCommand(name: string): string {
  return asRoot("pyjoules-remove", REMOVE_SH, 0, [checkedName(name)]);
}

/** What attestCommand reads on stdin. */
export const ATTEST_STDIN = ATTEST_SH;

/** healthWaitS > 0: first wait that long for the container's healthcheck to report healthy. */
export function attestCommand(name: string, container: string, requireRapl: boolean, healthWaitS = 0): string {
  if (!INERT_WORD.test(container)) throw new Error(`invalid container name ${JSON.stringify(container)}`);
  if (!Number.isInteger(healthWaitS) || healthWaitS < 0 || healthWaitS > 99999) throw new Error(`invalid health wait ${healthWaitS}`);
  const args = [checkedName(name), container, yesNo(requireRapl)];
  return asRoot("pyjoules-attest", ATTEST_SH, 0, healthWaitS > 0 ? [...args, String(healthWaitS)] : args);
}

/** The provision resource's create: its command line and stdin. */
export function provisionInvocation(name: string, requireRapl: boolean, profileText: string): HostInvocation {
  return { command: provisionCommand(name, requireRapl), stdin: provisionStdin(profileText) };
}

/** The provision resource's delete, with the scripts of its stdin (remove.sh needs no profile text). */
export function removeInvocation(name: string): HostInvocation {
  return { command: removeCommand(name), stdin: provisionStdin("") };
}

/** The attest resource's create: its command line and stdin. */
export function attestInvocation(name: string, container: string, requireRapl: boolean, healthWaitS = 0): HostInvocation {
  return { command: attestCommand(name, container, requireRapl, healthWaitS), stdin: ATTEST_STDIN };
}
