import { z } from "zod";
import { HEALTHCHECK_DEFAULTS, healthcheckSchema } from "./schemas";

type Healthcheck = z.output<typeof healthcheckSchema>;

const withDefaults = (h: Healthcheck) => ({ ...HEALTHCHECK_DEFAULTS, ...h });

/**
 * Whole seconds as Go's time.Duration prints them ("45s", "1m0s", "1h0m0s"): the docker provider reads
 * the healthcheck back from the daemon in that form, so any other spelling ("60s") would show as a diff
 * on every run.
 */
export function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** The docker provider's `healthcheck` input: exec form (no shell), every duration explicit. */
export function containerHealthcheck(h: Healthcheck | undefined) {
  if (h === undefined) return undefined;
  const c = withDefaults(h);
  return {
    tests: ["CMD", ...c.command],
    interval: goDuration(c.intervalS),
    timeout: goDuration(c.timeoutS),
    startPeriod: goDuration(c.startPeriodS),
    retries: c.retries,
  };
}

/**
 * How long the attestation waits for "healthy" (0 = no healthcheck): the start period, then every
 * allowed failure plus one success, each a full interval and timeout, and a margin for a slow host.
 */
export function healthWaitSeconds(h: Healthcheck | undefined): number {
  if (h === undefined) return 0;
  const c = withDefaults(h);
  return c.startPeriodS + (c.intervalS + c.timeoutS) * (c.retries + 1) + 30;
}
