// Our stack program (components/stack.ts stackProgram, one host) through the real Pulumi CLI and providers
// (test/engine, inline program on a file backend): first deploy, no-op up, preview with no changes, profile
// change, client change, destroy. Each operation is timed, its SSH sessions and remote commands are read from
// the guest's sshd log, and the engine events' arrival times give each resource's step interval.
import * as pulumi from "@pulumi/pulumi";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { stackProgram } from "../../components/stack";
import { changed, EngineStack, type EngineRun } from "../engine";
import { sshdMark, TEST_CLIENT_IMAGE, type Vm } from "../vm";
import { BENCH_URL } from "./manual";
import { activitySince, type SshdActivity } from "./sshd-exec";

export const PROJECT = "pulumi-pyjoules";
const EXTRA_READ_PATH = "/sys/devices/system/cpu/**";

/** One resource step: [start, end] in ms since the operation began (engine event arrival times). */
export interface StepSpan {
  name: string;
  type: string;
  op: string;
  startMs: number;
  endMs?: number;
}

export interface OpRun {
  ms: number;
  ssh: SshdActivity;
  changes: string[];
  spans: StepSpan[];
}

export interface HostSpec {
  name: string;
  vm: Vm;
}

export interface StackVariant {
  extraReadPath?: boolean;
  logLevel?: string;
}

export function benchConfig(hosts: HostSpec[], v: StackVariant = {}): Record<string, unknown> {
  return {
    hosts: hosts.map((h) => ({ name: h.name, host: h.vm.host, port: h.vm.port, user: h.vm.user, hostKey: h.vm.image.hostKey })),
    client: { remoteWriteUrl: BENCH_URL, image: TEST_CLIENT_IMAGE, ...(v.logLevel ? { logLevel: v.logLevel } : {}) },
    ...(v.extraReadPath ? { profile: { extraReadPaths: [EXTRA_READ_PATH] } } : {}),
  };
}

/** Pure: folds engine events (with their arrival time) into per-resource step spans. */
export function spanRecorder(t0: number) {
  const spans = new Map<string, StepSpan>();
  const onEvent = (e: EngineEvent, at: number) => {
    const pre = e.resourcePreEvent?.metadata;
    if (pre && !spans.has(pre.urn)) {
      spans.set(pre.urn, { name: pre.urn.split("::").pop()!, type: pre.type, op: pre.op, startMs: at - t0 });
    }
    const done = e.resOutputsEvent?.metadata ?? e.resOpFailedEvent?.metadata;
    const urn = done?.urn;
    if (urn && spans.has(urn)) spans.get(urn)!.endMs = at - t0;
  };
  return { onEvent, spans: () => [...spans.values()] };
}

/** One engine operation on the stack, measured. */
export async function measuredOp(vms: Vm[], op: (watch: (e: EngineEvent) => void) => Promise<EngineRun>): Promise<OpRun> {
  const marks = await Promise.all(vms.map((vm) => sshdMark(vm)));
  const t0 = performance.now();
  const rec = spanRecorder(t0);
  const r = await op((e) => rec.onEvent(e, performance.now()));
  const ms = performance.now() - t0;
  const acts = await Promise.all(vms.map((vm, i) => activitySince(vm, marks[i]!)));
  return { ms, ssh: mergeActivity(acts), changes: changed(r), spans: rec.spans() };
}

function mergeActivity(a: SshdActivity[]): SshdActivity {
  const out: SshdActivity = { sessions: 0, commands: 0, bySoftware: {} };
  for (const x of a) {
    out.sessions += x.sessions;
    out.commands += x.commands;
    for (const [k, v] of Object.entries(x.bySoftware)) {
      const b = (out.bySoftware[k] ??= { sessions: 0, commands: 0 });
      b.sessions += v.sessions;
      b.commands += v.commands;
    }
  }
  return out;
}

export async function createStack(name: string): Promise<EngineStack> {
  return EngineStack.create({ project: PROJECT, stack: name, program: async () => stackProgram(new pulumi.Config()) });
}

export async function configure(stack: EngineStack, hosts: HostSpec[], v: StackVariant = {}): Promise<void> {
  await stack.setConfig(benchConfig(hosts, v), { sshPrivateKey: hosts[0]!.vm.image.userKey });
}

export interface OursRun {
  first: OpRun;
  noop: OpRun;
  preview: OpRun;
  profileChange: OpRun;
  clientChange: OpRun;
  destroy: OpRun;
}

/** The whole sequence on one host, from a clean host back to a clean host. */
export async function ours(vm: Vm, log: (s: string) => void): Promise<OursRun> {
  const stack = await createStack("bench");
  const hosts = [{ name: "vm", vm }];
  const up = () => measuredOp([vm], (w) => stack.up({ watch: (e) => w(e) }));
  try {
    await configure(stack, hosts);
    const first = await up();
    log(`ours: first deploy ${first.ms.toFixed(0)} ms`);
    const noop = await up();
    const preview = await measuredOp([vm], () => stack.preview({ diff: false }));
    await configure(stack, hosts, { extraReadPath: true });
    const profileChange = await up();
    await configure(stack, hosts, { extraReadPath: true, logLevel: "DEBUG" });
    const clientChange = await up();
    const destroy = await measuredOp([vm], () => stack.destroy());
    return { first, noop, preview, profileChange, clientChange, destroy };
  } catch (e) {
    await stack.destroy().catch(() => undefined);
    throw e;
  } finally {
    await stack.cleanup();
  }
}
