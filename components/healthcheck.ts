import { z } from "zod";
import { HEALTHCHECK_DEFAULTS, healthcheckSchema } from "./schemas";

type Healthcheck = z.output<typeof healthcheckSchema>;

/** The docker provider's `healthcheck` input: exec form (no shell), every duration explicit. */
export function containerHealthcheck(h: Healthcheck | undefined) {
  if (h === undefined) return undefined;
  const c = { ...HEALTHCHECK_DEFAULTS, ...h };
  return {
    tests: ["CMD", ...c.command],
    interval: `${c.intervalS}s`,
    timeout: `${c.timeoutS}s`,
    startPeriod: `${c.startPeriodS}s`,
    retries: c.retries,
  };
}

/**
 * How long the attestation waits for "healthy" (0 = no healthcheck): the start period, then every
 * allowed failure plus one success, each a full interval and timeout, and a margin for a slow host.
 */
export function healthWaitSeconds(h: Healthcheck | undefined): number {
  if (h === undefined) return 0;
  const c = { ...HEALTHCHECK_DEFAULTS, ...h };
  return c.startPeriodS + (c.intervalS + c.timeoutS) * (c.retries + 1) + 30;
}
