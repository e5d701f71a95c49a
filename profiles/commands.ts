import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ownProfileName } from "./validation";

/**
 * Builds the exact command lines that run the host-side scripts over SSH. The scripts travel as one
 * single-quoted argument; every other argument is validated first and single-quoted too; the profile
 * text itself goes on stdin, never on a command line.
 */

const readScript = (file: string) => readFileSync(join(__dirname, file), "utf8");
export const PROVISION_SH = readScript("provision.sh");
export const REMOVE_SH = readScript("remove.sh");
export const ATTEST_SH = readScript("attest.sh");

/** POSIX single-quoting: the result is one literal word for sh, bash, dash, ksh and zsh. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs `$1` (a script) as root: directly when the SSH user is root, else through `sudo -n`, which never
 * prompts. A sudo that wants a password (or a tty) fails at once with a message saying so.
 */
export const BECOME_ROOT = [
  's=$1; shift',
  'if [ "$(id -u)" -eq 0 ]; then exec /bin/sh -c "$s" "$0" "$@"; fi',
  'if ! err=$(sudo -n true 2>&1); then',
  "  printf 'pyjoules: %s: user %s needs passwordless sudo (sudo -n cannot prompt for a password): %s\\n' \"$(hostname)\" \"$(id -un)\" \"$err\" >&2",
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
  "  u=$(id -un 2>/dev/null | tr -cd 'A-Za-z0-9_.-')",
  '  u=${u:-uid$(id -u)}',
  '  command -v docker >/dev/null 2>&1 || { echo "$u missing - no"; return; }',
  "  o=$(timeout 60 docker info --format 'pyjoules-docker-id:{{.ID}} {{json .SecurityOptions}}' 2>&1) || true",
  "  l=$(printf '%s\\n' \"$o\" | sed -n 's/^pyjoules-docker-id://p' | head -n 1)",
  "  i=$(printf '%s' \"${l%% *}\" | tr -cd 'A-Za-z0-9:-')",
  "  r=no",
  "  case $l in *name=rootless*) r=yes ;; esac",
  '  if [ -n "$i" ]; then echo "$u ok $i $r"; return; fi',
  '  case $o in *"ermission denied"*) echo "$u denied - no" ;; *) echo "$u down - no" ;; esac',
  "}",
  'set -- "$@" "$(pyjoules_user_docker)"',
].join("\n");

/** `prelude` runs first, as the SSH user, in the same shell (it may append arguments for the script). */
export function asRoot(scriptName: string, script: string, args: readonly string[], prelude = ""): string {
  const wrapper = prelude === "" ? BECOME_ROOT : `${prelude}\n${BECOME_ROOT}`;
  return ["/bin/sh", "-c", shellQuote(wrapper), scriptName, shellQuote(script), ...args.map(shellQuote)].join(" ");
}

const yesNo = (b: boolean) => (b ? "yes" : "no");
const checkedName = (name: string) => ownProfileName.parse(name);
const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** stdin: the profile text. The SSH user's docker facts are added on the host (USER_DOCKER_FACTS). */
export function provisionCommand(name: string, requireRapl: boolean): string {
  return asRoot("pyjoules-provision", PROVISION_SH, [checkedName(name), yesNo(requireRapl)], USER_DOCKER_FACTS);
}

export function removeCommand(name: string): string {
  return asRoot("pyjoules-remove", REMOVE_SH, [checkedName(name)]);
}

/** healthWaitS > 0: first wait that long for the container's healthcheck to report healthy. */
export function attestCommand(name: string, container: string, requireRapl: boolean, healthWaitS = 0): string {
  if (!CONTAINER_NAME.test(container)) throw new Error(`invalid container name ${JSON.stringify(container)}`);
  if (!Number.isInteger(healthWaitS) || healthWaitS < 0 || healthWaitS > 99999) throw new Error(`invalid health wait ${healthWaitS}`);
  const args = [checkedName(name), container, yesNo(requireRapl)];
  return asRoot("pyjoules-attest", ATTEST_SH, healthWaitS > 0 ? [...args, String(healthWaitS)] : args);
}
