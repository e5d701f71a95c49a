// SSH sessions AND remote commands per operation, from the guest's own sshd log (journal), by client
// software: "Go" = pulumi-resource-command (x/crypto), "OpenSSH" = the docker provider's ssh, ansible's
// ssh and the manual flow's ssh. Nothing here trusts the client's own bookkeeping.
//
// With LogLevel DEBUG1 (test/vm/sshd-log.ts sshdDebugLogging), per connection sshd logs
//   "Connection from A port P on …", "remote software version X", "Accepted publickey for U from A port P …"
// and per channel request of a session (exec, shell, subsystem):
//   "Starting session: command for U from A port P id N"        (INFO, one per exec'd command)
//   "Starting session: subsystem 'sftp' for U from A port P …"  (sftp: ansible's file transfer)
//   "Starting session: shell on pts/0 for U from A port P …"
// A command is counted once per "Starting session:" line; its connection is found by the client port. The journal
// is marked and read with test/vm/sshd-log.ts (sshdMark, sshdJournalSince), as the VM suites count connections.
import { sshdJournalSince, type Vm } from "../vm";

export interface SshdActivity {
  /** Authenticated connections (harness excluded). */
  sessions: number;
  /** Remote commands: exec/subsystem/shell requests on those connections. */
  commands: number;
  bySoftware: Record<string, { sessions: number; commands: number }>;
}

/** Pure: counts connections and remote commands in an sshd journal excerpt, leaving out the harness's port. */
export function countSshdActivity(log: string, harnessPort?: string): SshdActivity {
  const softwareByPid = new Map<string, string>();
  const portByPid = new Map<string, string>();
  const softwareByPort = new Map<string, string>();
  const out: SshdActivity = { sessions: 0, commands: 0, bySoftware: {} };
  const bucket = (sw: string) => (out.bySoftware[sw] ??= { sessions: 0, commands: 0 });
  for (const line of log.split("\n")) {
    const pid = /\[(\d+)\]:/.exec(line)?.[1] ?? "";
    const from = /Connection from \S+ port (\d+)/.exec(line);
    if (from && pid) portByPid.set(pid, from[1]!);
    const sw = /remote software version (\S+)/.exec(line)?.[1];
    if (sw && pid) softwareByPid.set(pid, sw.startsWith("OpenSSH") ? "OpenSSH" : sw.replace(/[_-].*$/, ""));
    const acc = /Accepted \S+ for \S+ from \S+ port (\d+)/.exec(line);
    if (acc && acc[1] !== harnessPort) {
      const s = softwareByPid.get(pid) ?? softwareByPid.get(pidOfPort(portByPid, acc[1]!) ?? "") ?? "unknown";
      softwareByPort.set(acc[1]!, s);
      out.sessions++;
      bucket(s).sessions++;
    }
    const start = /Starting session: .* from \S+ port (\d+)/.exec(line);
    if (start && start[1] !== harnessPort) {
      const s = softwareByPort.get(start[1]!) ?? "unknown";
      out.commands++;
      bucket(s).commands++;
    }
  }
  return out;
}

function pidOfPort(portByPid: Map<string, string>, port: string): string | undefined {
  for (const [pid, p] of portByPid) if (p === port) return pid;
  return undefined;
}

/** Sessions and remote commands since `cursor`. */
export async function activitySince(vm: Vm, cursor: string): Promise<SshdActivity> {
  // journald may flush the last lines a moment after the connection closed
  await new Promise((r) => setTimeout(r, 300));
  const { log, harnessPort } = await sshdJournalSince(vm, cursor);
  return countSshdActivity(log, harnessPort);
}

/** "3 (Go 2, OpenSSH 1)" */
export function describeBy(a: SshdActivity, key: "sessions" | "commands"): string {
  const parts = Object.entries(a.bySoftware).filter(([, v]) => v[key] > 0).map(([k, v]) => `${k} ${v[key]}`);
  return parts.length ? `${a[key]} (${parts.join(", ")})` : `${a[key]}`;
}
