// What one engine operation did, read from the Automation API's engine events: the steps in the order the
// engine started them, the keys it diffed, and the error diagnostics per resource. Pure except collectRun.
import type { EngineEvent, OutputMap } from "@pulumi/pulumi/automation";

export interface Step {
  op: string;
  urn: string;
  /** The resource name (last URN segment). */
  name: string;
  type: string;
  /** Keys that changed (update) or forced the replacement (replace). */
  keys: string[];
  failed: boolean;
  /** For refresh: the properties the provider's read changed in state (from the step's outputs event). */
  readDiffs?: string[];
}

export interface EngineRun {
  kind: "up" | "preview" | "refresh" | "destroy";
  /** Every step, in the order the engine announced it (resourcePreEvent). */
  steps: Step[];
  /** Error diagnostics: resource name ("" for the stack or the CLI) and the message as printed. */
  errors: Array<{ name: string; message: string }>;
  outputs: Record<string, unknown>;
  /** The engine's own summary (`same`, `update`, `create`, … counts). */
  changes: Record<string, number>;
  /** The CLI's output, as `pulumi up` printed it. */
  output: string;
  ms: number;
}

export class EngineRunError extends Error {
  constructor(readonly run: EngineRun, cause: Error) {
    super(`pulumi ${run.kind} failed:\n${errorLines(run).join("\n") || cause.message}`);
  }
}

const nameOf = (urn: string) => urn.split("::").pop() ?? urn;
const SUB_STEPS = new Set(["create-replacement", "delete-replaced", "discard-replaced", "remove-pending-replace"]);

/** "op name [keys]" for every step that is not `same` (a replacement counted once, as `replace`). */
export function changed(r: EngineRun): string[] {
  return r.steps
    .filter((s) => s.op !== "same" && !SUB_STEPS.has(s.op) && !s.type.startsWith("pulumi:pulumi:Stack"))
    .map((s) => `${s.op} ${s.name}${s.keys.length ? ` [${s.keys.join(",")}]` : ""}`);
}

/** The replacement sub-steps of one resource, in engine order (tells delete-before-replace from create-first). */
export function replaceSequence(r: EngineRun, name: string): string[] {
  return r.steps.filter((s) => s.name === name && (SUB_STEPS.has(s.op) || s.op === "replace")).map((s) => s.op);
}

/** For a refresh: "name [props]" of each resource whose state the read changed. */
export function refreshed(r: EngineRun): string[] {
  return r.steps.filter((s) => s.readDiffs?.length).map((s) => `${s.name} [${s.readDiffs!.join(",")}]`);
}

/** The error diagnostics, one "name: first line" each (what a user reads first). */
export function errorLines(r: EngineRun): string[] {
  return r.errors.map((e) => `${e.name || "(stack)"}: ${e.message.trim()}`);
}

function plainOutputs(o: OutputMap | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, v.value]));
}

/** Folds one engine event into the run. */
export function applyEvent(run: EngineRun, e: EngineEvent): void {
  const pre = e.resourcePreEvent?.metadata;
  if (pre) {
    const keys = pre.op === "replace" || pre.op === "create-replacement" ? (pre.keys ?? pre.diffs ?? []) : (pre.diffs ?? []);
    run.steps.push({ op: pre.op, urn: pre.urn, name: nameOf(pre.urn), type: pre.type, keys: [...keys].sort(), failed: false });
  }
  const done = e.resOutputsEvent?.metadata;
  if (done && run.kind === "refresh" && done.diffs?.length) {
    const step = [...run.steps].reverse().find((s) => s.urn === done.urn);
    if (step) step.readDiffs = [...done.diffs].sort();
  }
  const failed = e.resOpFailedEvent?.metadata;
  if (failed) {
    const step = [...run.steps].reverse().find((s) => s.urn === failed.urn);
    if (step) step.failed = true;
  }
  const d = e.diagnosticEvent;
  if (d && d.severity === "error") run.errors.push({ name: d.urn ? nameOf(d.urn) : "", message: d.message });
}

/** Runs one operation, collecting its events and output; a failure becomes EngineRunError with the partial run. */
export async function collectRun(
  kind: EngineRun["kind"],
  echo: boolean,
  fn: (onEvent: (e: EngineEvent) => void, onOutput: (s: string) => void) => Promise<unknown>,
  watch?: (e: EngineEvent, run: EngineRun) => void,
): Promise<EngineRun> {
  const run: EngineRun = { kind, steps: [], errors: [], outputs: {}, changes: {}, output: "", ms: 0 };
  const t0 = Date.now();
  const onOutput = (s: string) => {
    run.output += s;
    if (echo) process.stdout.write(s);
  };
  try {
    const result = (await fn((e) => (applyEvent(run, e), watch?.(e, run)), onOutput)) as { outputs?: OutputMap; summary?: { resourceChanges?: Record<string, number> }; changeSummary?: Record<string, number> };
    run.outputs = plainOutputs(result.outputs);
    run.changes = result.summary?.resourceChanges ?? result.changeSummary ?? {};
    return run;
  } catch (e) {
    throw new EngineRunError(run, e as Error);
  } finally {
    run.ms = Date.now() - t0;
  }
}

/** JSON paths (`$.a[0].b`) of the strings in `value` that contain `needle`: where a secret leaked to. */
export function pathsContaining(value: unknown, needle: string, path = "$"): string[] {
  if (typeof value === "string") return value.includes(needle) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => pathsContaining(v, needle, `${path}[${i}]`));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => pathsContaining(v, needle, `${path}.${k}`));
  return [];
}
