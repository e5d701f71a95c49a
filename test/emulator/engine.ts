// The in-process "engine": runs a Pulumi program against the SDK's mock monitor, but answers
// every RegisterResource by performing the resource for real (see command.ts, docker.ts) and
// keeps state between runs like `pulumi up` does.
//
// The monitor's RegisterResourceRequest is intercepted directly (not mocks.newResource): it
// carries everything the real engine gets — parent, provider reference, dependencies (explicit
// dependsOn merged with the implicit ones from inputs), propertyDependencies, deleteBeforeReplace,
// ignoreChanges, replaceOnChanges, retainOnDelete, protect, additionalSecretOutputs.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { remoteCommand } from "./command";
import { container, dockerProvider, remoteImage } from "./docker";
import { Counters, type HostCount } from "./ssh";
import type { ProviderContext, ResourceImpl, ResourceOpts, ResourceState } from "./types";
import { PartialCreateError } from "./types";
import { containsUnknown, SECRET_SIG, SIG_KEY, UNKNOWN, unwrapSecrets } from "./util";

/* eslint-disable @typescript-eslint/no-require-imports */
const settings = require("@pulumi/pulumi/runtime/settings") as {
  getMonitor(): MonitorLike;
  waitForRPCs(): Promise<void>;
};
const rpc = require("@pulumi/pulumi/runtime/rpc") as {
  deserializeProperties(s: unknown, keepUnknowns?: boolean): Record<string, unknown>;
  serializeProperties(label: string, props: Record<string, unknown>): Promise<Record<string, unknown>>;
};
const outputMod = require("@pulumi/pulumi/output") as { isUnknown(v: unknown): boolean };
const resproto = require("@pulumi/pulumi/proto/resource_pb") as {
  RegisterResourceResponse: new () => {
    setUrn(u: string): void;
    setId(i: string): void;
    setObject(o: unknown): void;
  };
};
const structproto = require("google-protobuf/google/protobuf/struct_pb") as {
  Struct: { fromJavaScript(o: Record<string, unknown>): unknown };
};
/* eslint-enable @typescript-eslint/no-require-imports */

type Callback = (err: Error | null, resp?: unknown) => void;
interface MonitorLike {
  registerResource(req: RegisterRequest, cb: Callback): void;
  registerResourceOutputs(req: { getUrn(): string; getOutputs(): unknown }, cb: Callback): void;
  readResource(req: unknown, cb: Callback): void;
  invoke(req: { getTok(): string }, cb: Callback): void;
  call?(req: unknown, cb: Callback): void;
}
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getObject(): { toJavaScript(): unknown } | undefined;
  getProvider(): string;
  getDependenciesList(): string[];
  getDeletebeforereplace(): boolean;
  getDeletebeforereplacedefined(): boolean;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getRetainondelete(): boolean | undefined;
  getProtect(): boolean | undefined;
  getAdditionalsecretoutputsList(): string[];
  getPropertydependenciesMap(): { forEach(cb: (v: { getUrnsList(): string[] }, k: string) => void): void };
  getImportid(): string;
}

export interface EmulatorOptions {
  /** Persist state between Emulator instances (JSON, mode 0600; secrets are stored in clear). */
  stateFile?: string;
  log?: (line: string) => void;
}

export interface Step {
  op: "create" | "update" | "replace" | "delete" | "same";
  type: string;
  name: string;
  urn: string;
  changedKeys?: string[];
  error?: string;
}

export interface RunResult {
  outputs: Record<string, unknown>;
  steps: Step[];
  perHost: Record<string, HostCount>;
  resources: Array<{
    type: string;
    name: string;
    urn: string;
    inputs: Record<string, unknown>;
    outputs: Record<string, unknown>;
    secretInputs: string[];
    opts: { dependsOn: string[]; deleteBeforeReplace?: boolean; parent?: string; provider?: string };
  }>;
}

/** Rejection of `run`/`destroy`: carries what was done up to the failure. */
export class EmulatorRunError extends Error {
  constructor(message: string, readonly result: RunResult) {
    super(message);
  }
}

const IMPLS: Record<string, ResourceImpl> = {
  "command:remote:Command": remoteCommand,
  "pulumi:providers:docker": dockerProvider,
  "docker:index/container:Container": container,
  "docker:index/remoteImage:RemoteImage": remoteImage,
};
const NOOP_PROVIDER: ResourceImpl = { ...dockerProvider, check: (i) => i };

function implFor(type: string): ResourceImpl {
  const impl = IMPLS[type];
  if (impl) return impl;
  if (type === "pulumi:providers:command") return NOOP_PROVIDER;
  throw new Error(`emulator: resource type ${type} is not supported by the emulator`);
}

const STACK_TYPE = "pulumi:pulumi:Stack";

/** The engine's URN: the parent's qualified type prefixes the type, except for the root stack. */
export function makeUrn(stack: string, project: string, parentUrn: string | undefined, type: string, name: string): string {
  let qualified = type;
  if (parentUrn) {
    const parentQualified = parentUrn.split("::")[2] ?? "";
    const parentType = parentQualified.split("$").pop();
    if (parentType !== STACK_TYPE) qualified = `${parentQualified}$${type}`;
  }
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

function providerUrn(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  const i = ref.lastIndexOf("::");
  return i > 0 ? ref.slice(0, i) : ref;
}

/** Everything `b` must outlive (its dependencies, parent and provider). */
function dependenciesOf(s: ResourceState): Set<string> {
  const d = new Set(s.opts.dependsOn);
  if (s.opts.parent) d.add(s.opts.parent);
  if (s.opts.provider) d.add(s.opts.provider);
  for (const urns of Object.values(s.opts.propertyDependencies ?? {})) for (const u of urns) d.add(u);
  return d;
}

/** Dependents first; among independent ones, the most recently created first. */
export function deletionOrder(items: ResourceState[], creationIndex: (s: ResourceState) => number): ResourceState[] {
  const remaining = [...items].sort((a, b) => creationIndex(b) - creationIndex(a));
  const out: ResourceState[] = [];
  while (remaining.length) {
    const idx = remaining.findIndex((cand) => !remaining.some((other) => other !== cand && dependenciesOf(other).has(cand.urn)));
    const pick = remaining.splice(idx === -1 ? 0 : idx, 1)[0]!;
    out.push(pick);
  }
  return out;
}

/** The SDK's deserialised unknown sentinel -> UNKNOWN (a plain string, comparable and serialisable). */
function markUnknowns(v: unknown): unknown {
  if (outputMod.isUnknown(v)) return UNKNOWN;
  if (Array.isArray(v)) return v.map(markUnknowns);
  if (typeof v === "object" && v !== null && !Buffer.isBuffer(v)) {
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, markUnknowns(e)]));
  }
  return v;
}

let runLock: Promise<unknown> = Promise.resolve();

export class Emulator {
  private state: ResourceState[] = [];
  private readonly log: (line: string) => void;

  constructor(private readonly opts: EmulatorOptions = {}) {
    this.log = opts.log ?? (() => undefined);
    if (opts.stateFile && fs.existsSync(opts.stateFile)) {
      const data = JSON.parse(fs.readFileSync(opts.stateFile, "utf8")) as { version: number; resources: ResourceState[] };
      if (data.version !== 1) throw new Error(`emulator: unsupported state file version ${data.version}`);
      this.state = data.resources;
    }
  }

  /** The current state (a copy). */
  snapshot(): ResourceState[] {
    return JSON.parse(JSON.stringify(this.state)) as ResourceState[];
  }

  run(
    program: () => unknown,
    opts: { project: string; stack: string; config?: Record<string, string>; preview?: boolean },
  ): Promise<RunResult> {
    const next = runLock.then(() => this.runLocked(program, opts));
    runLock = next.catch(() => undefined);
    return next;
  }

  destroy(): Promise<RunResult> {
    const next = runLock.then(() => this.destroyLocked());
    runLock = next.catch(() => undefined);
    return next;
  }

  private persist(): void {
    if (!this.opts.stateFile) return;
    fs.mkdirSync(path.dirname(this.opts.stateFile), { recursive: true });
    const tmp = `${this.opts.stateFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ version: 1, resources: this.state }, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, this.opts.stateFile);
  }

  private async runLocked(
    program: () => unknown,
    opts: { project: string; stack: string; config?: Record<string, string>; preview?: boolean },
  ): Promise<RunResult> {
    const r = new Deployment(this.state, opts, this.log);
    await pulumi.runtime.setMocks({ newResource: () => ({ id: undefined, state: {} }), call: () => ({}) }, opts.project, opts.stack, !!opts.preview);
    pulumi.runtime.setAllConfig(opts.config ?? {}, []);
    const monitor = settings.getMonitor();
    monitor.registerResource = (req, cb) => void r.register(req, cb);
    monitor.registerResourceOutputs = (_req, cb) => cb(null, {});
    monitor.readResource = (_req, cb) => cb(new Error("emulator: reading existing resources (Resource.get / read) is not supported"));
    monitor.invoke = (req, cb) => cb(new Error(`emulator: invoke ${req.getTok()} is not supported`));

    let outputs: Record<string, unknown> = {};
    let programError: unknown;
    const onUnhandled = (e: unknown) => r.noteUnhandled(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      try {
        outputs = ((await pulumi.runtime.runInPulumiStack(async () => (await program()) as Record<string, unknown> | undefined)) ?? {}) as Record<string, unknown>;
      } catch (e) {
        programError = e;
      }
      await settings.waitForRPCs();
      await r.settle();
    } finally {
      // give the SDK a tick to surface rejections of failed registrations, then detach
      await new Promise((res) => setImmediate(res));
      process.off("unhandledRejection", onUnhandled);
    }
    try {
      if (!r.failed && !programError) await r.deleteLeftovers();
    } finally {
      r.closeClients();
    }
    const result = r.result(unwrapSecrets(outputs).value as Record<string, unknown>);
    if (!opts.preview) {
      this.state = r.finalState();
      this.persist();
    }
    const errors = [...r.errors];
    if (programError && !errors.length) errors.push(`program failed: ${(programError as Error)?.stack ?? String(programError)}`);
    if (errors.length) throw new EmulatorRunError(`update failed:\n${errors.join("\n")}`, result);
    return result;
  }

  private async destroyLocked(): Promise<RunResult> {
    const r = new Deployment(this.state, { project: "", stack: "" }, this.log);
    r.markAllForDeletion();
    try {
      await r.deleteLeftovers();
    } finally {
      r.closeClients();
    }
    this.state = r.finalState();
    this.persist();
    const result = r.result({});
    if (r.errors.length) throw new EmulatorRunError(`destroy failed:\n${r.errors.join("\n")}`, result);
    return result;
  }
}

/** One run (update, preview or destroy). */
class Deployment {
  readonly counters = new Counters();
  readonly steps: Step[] = [];
  readonly errors: string[] = [];
  failed = false;
  private readonly old: Map<string, ResourceState>;
  private readonly oldList: ResourceState[];
  private readonly deleted = new Set<ResourceState>();
  private readonly oldIndex: Map<ResourceState, number> = new Map();
  /** URN -> state after this run (registered resources). */
  private readonly next = new Map<string, ResourceState>();
  /** Old versions to delete at the end (create-before-delete replacements). */
  private readonly replaced: ResourceState[] = [];
  private readonly registered = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private readonly cache = new Map<string, { close(): void }>();
  private deleteAll = false;
  private readonly preview: boolean;

  constructor(
    oldState: ResourceState[],
    private readonly opts: { project: string; stack: string; config?: Record<string, string>; preview?: boolean },
    private readonly log: (l: string) => void,
  ) {
    this.oldList = oldState;
    this.old = new Map(oldState.filter((s) => !s.pendingDelete).map((s) => [s.urn, s]));
    oldState.forEach((s, i) => this.oldIndex.set(s, i));
    this.preview = !!opts.preview;
  }

  noteUnhandled(e: unknown): void {
    // Rejections of outputs of resources that failed; the failure itself is in `errors`.
    this.log(`(unhandled rejection after a failed registration: ${(e as Error)?.message ?? String(e)})`);
  }

  private ctx(): ProviderContext {
    return {
      counters: this.counters,
      log: this.log,
      cache: this.cache,
      providerConfig: (pkg, urn) => {
        if (urn) {
          const p = this.next.get(urn) ?? this.old.get(urn) ?? this.oldList.find((s) => s.urn === urn);
          if (!p) throw new Error(`emulator: unknown provider ${urn}`);
          return p.inputs;
        }
        // default provider: "<pkg>:<key>" configuration
        const cfg: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(this.opts.config ?? {})) {
          if (k.startsWith(`${pkg}:`)) cfg[k.slice(pkg.length + 1)] = v;
        }
        return cfg;
      },
    };
  }

  register(req: RegisterRequest, cb: Callback): Promise<void> {
    const p = this.doRegister(req, cb).finally(() => this.pending.delete(p));
    this.pending.add(p);
    return p;
  }

  async settle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  private async doRegister(req: RegisterRequest, cb: Callback): Promise<void> {
    const type = req.getType();
    const name = req.getName();
    const parent = req.getParent() || undefined;
    const urn = makeUrn(pulumi.getStack(), pulumi.getProject(), parent, type, name);
    try {
      if (this.registered.has(urn)) throw new Error(`Duplicate resource URN '${urn}'; try giving it a unique name`);
      this.registered.add(urn);
      if (req.getImportid()) throw new Error(`emulator: import is not supported (${urn})`);
      const raw = markUnknowns(rpc.deserializeProperties(req.getObject(), true)) as Record<string, unknown>;
      const secretInputs: string[] = [];
      const inputs: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(raw)) {
        const u = unwrapSecrets(v);
        if (u.secret) secretInputs.push(k);
        if (u.value !== undefined) inputs[k] = u.value;
      }
      const propertyDependencies: Record<string, string[]> = {};
      req.getPropertydependenciesMap().forEach((v, k) => {
        propertyDependencies[k] = v.getUrnsList();
      });
      const ropts: ResourceOpts = {
        dependsOn: req.getDependenciesList(),
        parent,
        provider: providerUrn(req.getProvider() || undefined),
        ...(req.getDeletebeforereplacedefined() ? { deleteBeforeReplace: req.getDeletebeforereplace() } : {}),
        ignoreChanges: req.getIgnorechangesList(),
        replaceOnChanges: req.getReplaceonchangesList(),
        retainOnDelete: !!req.getRetainondelete(),
        protect: !!req.getProtect(),
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        propertyDependencies,
      };
      const old = this.old.get(urn);
      let entry: ResourceState;
      if (!req.getCustom()) {
        entry = { urn, type, name, custom: false, inputs, outputs: inputs, secretInputs, opts: ropts };
        this.steps.push({ op: old ? "same" : "create", type, name, urn });
        this.next.set(urn, entry);
        await this.respond(cb, entry, "");
        return;
      }
      entry = await this.step(urn, type, name, inputs, secretInputs, ropts, old, req.getProvider() || undefined);
      await this.respond(cb, entry, entry.id ?? "");
    } catch (e) {
      const msg = (e as Error)?.message ?? String(e);
      this.failed = true;
      this.errors.push(`${urn}: ${msg}`);
      this.log(`error: ${urn}: ${msg}`);
      cb(e instanceof Error ? e : new Error(msg));
    }
  }

  private async respond(cb: Callback, s: ResourceState, id: string): Promise<void> {
    const secret = new Set([...s.secretInputs, ...(s.opts.additionalSecretOutputs ?? [])]);
    const obj: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s.outputs)) {
      if (v === undefined) continue;
      obj[k] = secret.has(k) ? { [SIG_KEY]: SECRET_SIG, value: v } : v;
    }
    const resp = new resproto.RegisterResourceResponse();
    resp.setUrn(s.urn);
    resp.setId(id);
    resp.setObject(structproto.Struct.fromJavaScript(await rpc.serializeProperties("", obj)));
    cb(null, resp);
  }

  /** Create / same / update / replace for one custom resource. */
  private async step(
    urn: string,
    type: string,
    name: string,
    rawInputs: Record<string, unknown>,
    secretInputs: string[],
    ropts: ResourceOpts,
    old: ResourceState | undefined,
    providerRef: string | undefined,
  ): Promise<ResourceState> {
    const impl = implFor(type);
    const ctx = this.ctx();
    const mk = (inputs: Record<string, unknown>, outputs: Record<string, unknown>, id: string | undefined): ResourceState => ({
      urn, type, name, custom: true, id, inputs, outputs, secretInputs, opts: ropts,
    });
    void providerRef;

    // ignoreChanges: the engine copies the old values over the new inputs before Check/Diff.
    let inputs = { ...rawInputs };
    if (old) {
      for (const p of ropts.ignoreChanges ?? []) {
        if (!/^[A-Za-z0-9_]+$/.test(p)) throw new Error(`emulator: ignoreChanges path "${p}" is not supported (top-level property names only)`);
        if (old.inputs[p] === undefined) delete inputs[p];
        else inputs[p] = old.inputs[p];
      }
    }
    inputs = impl.check(inputs, name, old);

    if (!old) {
      if (this.failed) throw new Error("emulator: not created because an earlier step failed");
      this.steps.push({ op: "create", type, name, urn });
      if (this.preview) {
        const e = mk(inputs, impl.previewOutputs(inputs, undefined), undefined);
        this.next.set(urn, e);
        return e;
      }
      return this.doCreate(impl, ctx, urn, type, name, inputs, ropts, mk);
    }

    // The engine also hands ignoreChanges to the provider's Diff, and the Terraform bridge drops diffs on
    // those properties (so an input the provider reads back differently, e.g. a client-side-only security
    // option, does not show up as a change).
    const ignored = new Set(ropts.ignoreChanges ?? []);
    const raw = impl.diff(old, inputs);
    const d = { changed: raw.changed.filter((k) => !ignored.has(k)), replaces: raw.replaces.filter((k) => !ignored.has(k)) };
    const changed = new Set(d.changed);
    for (const [k, v] of Object.entries(inputs)) if (containsUnknown(v)) changed.add(k);
    const replaces = new Set(d.replaces.filter((k) => changed.has(k)));
    for (const pattern of ropts.replaceOnChanges ?? []) {
      const top = pattern.split(/[.[]/)[0]!;
      for (const k of changed) if (top === "*" || top === k) replaces.add(k);
    }
    if ((old.opts.provider ?? "") !== (ropts.provider ?? "")) {
      changed.add("__provider");
      replaces.add("__provider");
    }
    if (old.initErrors?.length && replaces.size === 0) {
      replaces.add(d.changed[0] ?? "__initErrors");
      changed.add(d.changed[0] ?? "__initErrors");
    }
    const changedKeys = [...changed].sort();

    if (changed.size === 0) {
      this.steps.push({ op: "same", type, name, urn });
      const e: ResourceState = { ...old, inputs, secretInputs, opts: ropts };
      this.next.set(urn, e);
      return e;
    }
    if (this.failed) {
      this.next.set(urn, old);
      throw new Error("emulator: not updated because an earlier step failed");
    }

    if (replaces.size === 0) {
      this.steps.push({ op: "update", type, name, urn, changedKeys });
      if (this.preview) {
        const e = mk(inputs, impl.previewOutputs(inputs, old), old.id);
        this.next.set(urn, e);
        return e;
      }
      try {
        const outputs = await impl.update(ctx, old, inputs, ropts);
        const e = mk(inputs, outputs, old.id);
        this.next.set(urn, e);
        return e;
      } catch (err) {
        this.next.set(urn, old);
        this.markStepError(urn, err);
        throw err;
      }
    }

    // Replacement.
    const dbr = ropts.deleteBeforeReplace ?? impl.deleteBeforeReplace ?? false;
    this.steps.push({ op: "replace", type, name, urn, changedKeys });
    if (this.preview) {
      const e = mk(inputs, impl.previewOutputs(inputs, undefined), undefined);
      this.next.set(urn, e);
      return e;
    }
    if (dbr) {
      this.log(`replace ${urn} (delete before replace): deleting the old one`);
      try {
        await this.deleteOne(old);
        this.deleted.add(old);
      } catch (err) {
        this.next.set(urn, old);
        this.markStepError(urn, err);
        throw err;
      }
      return this.doCreate(impl, ctx, urn, type, name, inputs, ropts, mk);
    }
    this.log(`replace ${urn} (create before delete): creating the replacement`);
    try {
      const e = await this.doCreate(impl, ctx, urn, type, name, inputs, ropts, mk, true);
      this.replaced.push(old);
      return e;
    } catch (err) {
      this.next.set(urn, old);
      throw err;
    }
  }

  private async doCreate(
    impl: ResourceImpl,
    ctx: ProviderContext,
    urn: string,
    _type: string,
    name: string,
    inputs: Record<string, unknown>,
    ropts: ResourceOpts,
    mk: (i: Record<string, unknown>, o: Record<string, unknown>, id: string | undefined) => ResourceState,
    keepOldOnError = false,
  ): Promise<ResourceState> {
    try {
      const { id, outputs } = await impl.create(ctx, name, inputs, ropts);
      const e = mk(inputs, outputs, id);
      this.next.set(urn, e);
      return e;
    } catch (err) {
      if (err instanceof PartialCreateError && !keepOldOnError) {
        this.next.set(urn, { ...mk(inputs, err.outputs, err.id), initErrors: [err.message] });
      }
      this.markStepError(urn, err);
      throw err;
    }
  }

  private markStepError(urn: string, err: unknown): void {
    const s = [...this.steps].reverse().find((x) => x.urn === urn);
    if (s) s.error = (err as Error)?.message ?? String(err);
  }

  private async deleteOne(s: ResourceState): Promise<void> {
    if (!s.custom) return;
    if (s.opts.protect) throw new Error(`resource "${s.urn}" cannot be deleted because it is protected`);
    if (s.opts.retainOnDelete) {
      this.log(`retainOnDelete: ${s.urn} dropped from state without deleting it`);
      return;
    }
    await implFor(s.type).delete(this.ctx(), s);
  }

  markAllForDeletion(): void {
    this.deleteAll = true;
  }

  /** Deletes CBD-replaced old versions and resources that were not registered, dependents first. */
  async deleteLeftovers(): Promise<void> {
    const gone = this.oldList.filter((s) => s.pendingDelete || this.deleteAll || !this.registered.has(s.urn));
    const items = [...gone, ...this.replaced];
    const order = deletionOrder(items, (s) => this.oldIndex.get(s) ?? -1);
    for (const s of order) {
      const isReplaced = this.replaced.includes(s) || !!s.pendingDelete;
      if (!isReplaced) this.steps.push({ op: "delete", type: s.type, name: s.name, urn: s.urn });
      if (this.preview || this.failed) continue; // like the engine: nothing more after a failure
      try {
        this.log(`delete ${s.urn}${isReplaced ? " (replaced)" : ""}`);
        await this.deleteOne(s);
        this.deleted.add(s);
      } catch (err) {
        this.failed = true;
        const msg = (err as Error)?.message ?? String(err);
        this.errors.push(`${s.urn}: ${msg}`);
        if (!isReplaced) this.markStepError(s.urn, err);
      }
    }
  }

  finalState(): ResourceState[] {
    const out: ResourceState[] = [...this.next.values()];
    for (const s of this.oldList) {
      if (this.deleted.has(s) || out.includes(s)) continue;
      if (this.replaced.includes(s) || s.pendingDelete) out.push({ ...s, pendingDelete: true });
      else if (this.deleteAll || !this.registered.has(s.urn)) out.push(s);
    }
    return out;
  }

  closeClients(): void {
    for (const c of this.cache.values()) c.close();
    this.cache.clear();
  }

  result(outputs: Record<string, unknown>): RunResult {
    const resources = (this.preview ? [...this.next.values()] : this.finalState().filter((s) => !s.pendingDelete)).map((s) => ({
      type: s.type,
      name: s.name,
      urn: s.urn,
      inputs: s.inputs,
      outputs: s.outputs,
      secretInputs: s.secretInputs,
      opts: {
        dependsOn: s.opts.dependsOn,
        ...(s.opts.deleteBeforeReplace !== undefined ? { deleteBeforeReplace: s.opts.deleteBeforeReplace } : {}),
        ...(s.opts.parent ? { parent: s.opts.parent } : {}),
        ...(s.opts.provider ? { provider: s.opts.provider } : {}),
      },
    }));
    return { outputs, steps: this.steps, perHost: this.counters.perHost, resources };
  }
}
