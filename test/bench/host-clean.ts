// Back to a clean host between the sides of a repeat: every container and profile any side may have left.
import { removeInvocation } from "../../profiles/commands";
import type { Vm } from "../vm";
import { ANSIBLE_CLEAN } from "./ansible";
import { MANUAL_CLEAN } from "./manual";

export async function cleanHost(vm: Vm): Promise<void> {
  const rm = removeInvocation("docker-pyjoules");
  await vm.ssh("docker rm -f pyjoules-client pyjoules-manual >/dev/null 2>&1 || true", { allowFail: true });
  await vm.ssh(rm.command, { stdin: rm.stdin, allowFail: true });
  await vm.ssh(`${MANUAL_CLEAN}; ${ANSIBLE_CLEAN}`, { allowFail: true });
}
