// The tests of a VM suite share a VM and build on each other: each is a step. A failed step is remembered (the
// suite's afterAll then prints the guest's serial log); with `chained`, the later steps fail at once instead of
// running on a host in an unknown state. Each step's time goes to `done`.
import { it } from "vitest";

export interface StepOptions {
  /** After a failure, the later steps fail without running ("not run: an earlier step failed"). */
  chained?: boolean;
  /** Runs after every step, failed or not (e.g. a cleanup on the host). */
  after?: () => Promise<unknown>;
  /** Called with each step's name and wall time. */
  done?: (name: string, ms: number) => void;
}

export function suiteSteps(o: StepOptions = {}) {
  let failed = false;
  const step = (name: string, fn: () => Promise<void>) =>
    it(name, async () => {
      if (o.chained && failed) throw new Error("not run: an earlier step failed");
      const t0 = Date.now();
      try {
        await fn();
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        await o.after?.();
        o.done?.(name, Date.now() - t0);
      }
    });
  return { step, failed: () => failed };
}
