// Helpers for test/integration/faults.test.ts: host-state snapshots, timing table, programs.
import { spawn } from "node:child_process";
import { PyJoulesHost } from "../../../components/pyJoulesHost";
import type { ClientArgs, ConnectionArgs } from "../../../components/types";
import { TEST_CLIENT_IMAGE, type Vm } from "../../vm";

export const REMOTE_WRITE_URL = "http://collector.invalid:9090/api/v1/write";

/** One row of the closing table. */
export interface Timing {
  case: string;
  test: string;
  timeToFailS: string;
  note: string;
}

export const timings: Timing[] = [];
export function record(c: string, test: string, ms: number | undefined, note = ""): void {
  timings.push({ case: c, test, timeToFailS: ms === undefined ? "-" : (ms / 1000).toFixed(2), note });
}

/** Runs `fn`, returns how long it took and what it threw (fails the test when it did not throw). */
export async function timeFailure<T>(fn: () => Promise<T>): Promise<{ ms: number; error: Error & { result?: unknown } }> {
  const t0 = performance.now();
  try {
    await fn();
  } catch (e) {
    return { ms: performance.now() - t0, error: e as Error };
  }
  throw new Error("expected a failure, but the run succeeded");
}

/**
 * Everything provisioning may leave on a host, as root: files (with sha256) under containers/ and the
 * state dir, the boot-time loader units, the kernel's profile list, and all containers.
 */
export const SNAPSHOT = [
  "sudo -n sh -c '",
  "echo [files]; find /etc/apparmor.d/containers /var/lib/pulumi-pyjoules -type f -exec sha256sum {} + 2>/dev/null | sort;",
  "echo [units]; find /etc/systemd/system -name \"pyjoules-apparmor@*\" 2>/dev/null | sort;",
  "echo [kernel]; grep -v \"^/\" /sys/kernel/security/apparmor/profiles 2>/dev/null | grep -v \"^docker-default \" | sort;",
  "echo [containers]; docker ps -a --format \"{{.Names}} {{.State}} {{.ID}}\" 2>&1 | sort",
  "'",
].join(" ");

export async function snapshot(vm: Vm): Promise<string> {
  return (await vm.ssh(SNAPSHOT, { timeoutMs: 90_000 })).stdout;
}

export function vmConnection(vm: Vm, extra: Partial<ConnectionArgs> = {}): ConnectionArgs {
  return {
    host: vm.host,
    port: vm.port,
    user: vm.image.users.admin,
    privateKey: vm.image.userKey,
    hostKey: vm.image.hostKey,
    ...extra,
  };
}

/** A fleet of PyJoulesHost components (the product), one per entry; outputs per host. */
export function hostsProgram(hosts: Array<{ name: string; connection: ConnectionArgs; client?: Partial<ClientArgs> }>) {
  return () => {
    const out: Record<string, unknown> = {};
    for (const h of hosts) {
      const host = new PyJoulesHost(h.name, {
        connection: h.connection,
        client: { remoteWriteUrl: REMOTE_WRITE_URL, image: TEST_CLIENT_IMAGE, ...h.client },
        requireRapl: true,
      });
      out[`${h.name}Verified`] = host.verifiedProfile;
      out[`${h.name}Attestation`] = host.attestation;
    }
    return out;
  };
}

/** Runs ssh with the given arguments; resolves with exit code and output. */
export function runSsh(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 255, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Last non-empty line of the error that starts with `pyjoules:` (the host-side cause), for the report. */
export function causeLine(message: string): string {
  const lines = message.split("\n").filter((l) => /pyjoules: |failed attempts|Host key/.test(l));
  return (lines.pop() ?? message.split("\n").slice(-1)[0] ?? "").slice(0, 200);
}
