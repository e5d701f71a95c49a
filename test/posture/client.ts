// The VM test client (test/vm/client/pyjoules_client.py: the real pyJoules library) as the tests see it:
// its log lines parsed, and a run of the same image under a baseline profile that must not read RAPL.
import { TEST_CLIENT_IMAGE } from "../vm";
import { POWERCAP_MOUNTS } from "./matrix";

export interface ClientSample {
  n: number;
  domain: string;
  /** The raw RAPL counter pyJoules read at the end of the sample. */
  counterUj: number;
  /** What pyJoules computed for the sample (end − start). */
  energyUj: number;
}

const SAMPLE = /^pyjoules-client: sample=(\d+) domain=(\S+) counter_uj=(\d+) energy_uj=(-?\d+) duration_s=[\d.]+$/;

/** The sample lines of the client's log, in order (other lines are ignored). */
export function parseClientSamples(log: string): ClientSample[] {
  return log.split("\n").flatMap((line) => {
    const m = SAMPLE.exec(line.trim());
    return m ? [{ n: Number(m[1]), domain: m[2]!, counterUj: Number(m[3]), energyUj: Number(m[4]) }] : [];
  });
}

/** True when there are at least `min` samples of `domain` and every one shows energy going up. */
export function energyIncreasing(samples: readonly ClientSample[], domain: string, min = 2): boolean {
  const own = samples.filter((s) => s.domain === domain);
  if (own.length < min) return false;
  return own.every((s, i) => s.energyUj > 0 && (i === 0 || s.counterUj > own[i - 1]!.counterUj));
}

/**
 * Runs the client image once, with both read-only powercap mounts, under Docker's default confinement
 * (`apparmor=<baselineProfile>` when given, default masking). Returns its exit code and log.
 */
export function clientUnderBaselineCommand(baselineProfile?: string): string {
  const opt = baselineProfile ? ` --security-opt apparmor=${baselineProfile}` : "";
  return `timeout 120 docker run --rm ${POWERCAP_MOUNTS}${opt} -e PYJOULES_TEST_SAMPLE_S=0.5 ${TEST_CLIENT_IMAGE} 2>&1; echo "exit=$?"`;
}

/** The exit code and the client's lines from `clientUnderBaselineCommand`'s output. */
export function parseBaselineRun(stdout: string): { exit: number; log: string } {
  const m = /exit=(\d+)\s*$/.exec(stdout);
  return { exit: m ? Number(m[1]) : -1, log: stdout.replace(/exit=\d+\s*$/, "").trim() };
}
