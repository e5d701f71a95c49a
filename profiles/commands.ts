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

export function asRoot(scriptName: string, script: string, args: readonly string[]): string {
  return ["/bin/sh", "-c", shellQuote(BECOME_ROOT), scriptName, shellQuote(script), ...args.map(shellQuote)].join(" ");
}

const yesNo = (b: boolean) => (b ? "yes" : "no");
const checkedName = (name: string) => ownProfileName.parse(name);
const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** stdin: the profile text. */
export function provisionCommand(name: string, requireRapl: boolean): string {
  return asRoot("pyjoules-provision", PROVISION_SH, [checkedName(name), yesNo(requireRapl)]);
}

export function removeCommand(name: string): string {
  return asRoot("pyjoules-remove", REMOVE_SH, [checkedName(name)]);
}

export function attestCommand(name: string, container: string, requireRapl: boolean): string {
  if (!CONTAINER_NAME.test(container)) throw new Error(`invalid container name ${JSON.stringify(container)}`);
  return asRoot("pyjoules-attest", ATTEST_SH, [checkedName(name), container, yesNo(requireRapl)]);
}
