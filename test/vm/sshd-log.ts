// Counts the SSH connections a run opened to a guest, from the guest's own sshd log: the one measure of "how
// many SSH sessions" that does not trust the client. With sshd at LogLevel DEBUG1 each connection also names
// the client's software ("Go" = pulumi-resource-command's x/crypto, "OpenSSH_…" = the docker provider's ssh).
// The test harness's own multiplexed connection is left out by its client port ($SSH_CLIENT).
import { shellQuote } from "../../profiles/commands";
import type { Vm } from "./vm";

export interface SshdConnections {
  /** Authenticated connections, harness excluded. */
  total: number;
  /** By client software ("Go", "OpenSSH", "unknown"). */
  byClient: Record<string, number>;
}

const CURSOR = /^-- cursor: (.+)$/m;
const JOURNAL = "journalctl --no-pager -o short-iso _COMM=sshd _COMM=sshd-session _COMM=sshd-auth";

/** Raises the guest's sshd to LogLevel DEBUG1 (client software per connection); a reload keeps sessions. */
export async function sshdDebugLogging(vm: Vm): Promise<void> {
  await vm.ssh(
    "sudo -n sh -c 'echo \"LogLevel DEBUG1\" > /etc/ssh/sshd_config.d/00-pyjoules-debug.conf && (systemctl reload ssh || systemctl reload sshd)'",
  );
}

/** A journal cursor: connections are counted from here. */
export async function sshdMark(vm: Vm): Promise<string> {
  const out = (await vm.ssh(`sudo -n ${JOURNAL} -n 0 --show-cursor`)).stdout;
  const m = CURSOR.exec(out);
  if (!m) throw new Error(`no journal cursor in ${JSON.stringify(out.slice(0, 300))}`);
  return m[1]!.trim();
}

/** The raw sshd journal since `cursor`, and the harness's own client port (to be left out of any count). */
export async function sshdJournalSince(vm: Vm, cursor: string): Promise<{ log: string; harnessPort?: string }> {
  const out = (await vm.ssh(`echo "client: $SSH_CLIENT"; sudo -n ${JOURNAL} --after-cursor=${shellQuote(cursor)}`)).stdout;
  return { log: out, harnessPort: /^client: \S+ (\d+) /m.exec(out)?.[1] };
}

/** The connections since `cursor`, without the harness's own. */
export async function sshdConnectionsSince(vm: Vm, cursor: string): Promise<SshdConnections> {
  const { log, harnessPort } = await sshdJournalSince(vm, cursor);
  return countConnections(log, harnessPort);
}

/** Pure: counts "Accepted … port P" lines (not the harness's port), classified by the same pid's client software. */
export function countConnections(log: string, harnessPort?: string): SshdConnections {
  const software = new Map<string, string>();
  const accepted: string[] = [];
  for (const line of log.split("\n")) {
    const pid = /\[(\d+)\]:/.exec(line)?.[1];
    if (!pid) continue;
    const sw = /remote software version (\S+)/.exec(line)?.[1];
    if (sw) software.set(pid, sw.startsWith("OpenSSH") ? "OpenSSH" : sw);
    const acc = /Accepted \S+ for \S+ from \S+ port (\d+)/.exec(line);
    if (acc && acc[1] !== harnessPort) accepted.push(pid);
  }
  const byClient: Record<string, number> = {};
  for (const pid of accepted) {
    const k = software.get(pid) ?? "unknown";
    byClient[k] = (byClient[k] ?? 0) + 1;
  }
  return { total: accepted.length, byClient };
}
