// Disposable target-host VMs for the pulumi-pyjoules integration tests. See README.md.
export { DISTROS, ensureImage, imageDir, recipeHash, vmCacheRoot } from "./image";
export type { Distro, VmImage } from "./image";
export { bootVm, freeLoopbackPort, tailLines, TEST_CLIENT_IMAGE } from "./vm";
export type { BootOptions, Vm, VmSshOptions } from "./vm";
export { closeMaster, knownHostsPattern, normaliseHostKey, sshExec, sshOptions, writeKnownHosts } from "./ssh";
export type { SshExecOptions, SshResult, SshTarget } from "./ssh";
export { countConnections, sshdConnectionsSince, sshdDebugLogging, sshdJournalSince, sshdMark } from "./sshd-log";
export type { SshdConnections } from "./sshd-log";
export { queryPrometheus, startPrometheus, stopPrometheus, waitForQuery } from "./prometheus";
export type { PromSample } from "./prometheus";
