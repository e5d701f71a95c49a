// vitest globalSetup of the unit project: the host tools the unit suite runs for real.
import { ensureHostPackages, UNIT_NEEDS } from "./host-packages";

export default function setup(): void {
  ensureHostPackages(UNIT_NEEDS, "npm test");
}
