// Provider emulator: runs a Pulumi program in-process (pulumi.runtime mocks) and performs each
// resource against real hosts the way its provider would. See README.md.
export { Emulator, EmulatorRunError, makeUrn } from "./engine";
export type { EmulatorOptions, RunResult, Step } from "./engine";
export type { ResourceState } from "./types";
