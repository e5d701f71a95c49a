// vitest globalSetup of the integration project: what building and booting the target-host VMs needs.
import { ensureHostPackages, VM_NEEDS } from "./host-packages";

export default function setup(): void {
  ensureHostPackages(VM_NEEDS, "npm run test:integration");
}
