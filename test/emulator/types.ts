import type { Counters } from "./ssh";

export interface ResourceOpts {
  dependsOn: string[];
  deleteBeforeReplace?: boolean;
  parent?: string;
  provider?: string;
  ignoreChanges?: string[];
  replaceOnChanges?: string[];
  retainOnDelete?: boolean;
  protect?: boolean;
  additionalSecretOutputs?: string[];
  /** Input key -> URNs its value came from (the SDK's propertyDependencies). */
  propertyDependencies?: Record<string, string[]>;
}

export interface ResourceState {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  id?: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  secretInputs: string[];
  opts: ResourceOpts;
  /** Set when a create half-succeeded (the engine's "initErrors"); such a resource is replaced next time. */
  initErrors?: string[];
  /** An old version kept after a create-before-delete replacement whose deletion did not happen yet. */
  pendingDelete?: boolean;
}

export interface ProviderContext {
  counters: Counters;
  log: (line: string) => void;
  /** Inputs of the provider resource `urn`, or (undefined) the default provider's `<pkg>:*` config. */
  providerConfig(pkg: string, urn: string | undefined): Record<string, unknown>;
  /** Per-run cache for provider clients (closed at the end of the run). */
  cache: Map<string, { close(): void }>;
}

export interface DiffResult {
  /** Input keys that differ. */
  changed: string[];
  /** The subset of `changed` that forces replacement. */
  replaces: string[];
}

/** What the emulator knows about one resource type: the provider's CRUD, done for real. */
export interface ResourceImpl {
  /** Validates (throws loudly on unmapped inputs) and applies provider defaults (Check). */
  check(inputs: Record<string, unknown>, name: string, old: ResourceState | undefined): Record<string, unknown>;
  diff(old: ResourceState, news: Record<string, unknown>): DiffResult;
  /** The provider's own delete-before-replace answer (e.g. pulumi-docker's Container). */
  deleteBeforeReplace?: boolean;
  create(ctx: ProviderContext, name: string, inputs: Record<string, unknown>, opts: ResourceOpts): Promise<{ id: string; outputs: Record<string, unknown> }>;
  update(ctx: ProviderContext, old: ResourceState, news: Record<string, unknown>, opts: ResourceOpts): Promise<Record<string, unknown>>;
  delete(ctx: ProviderContext, old: ResourceState): Promise<void>;
  /** Outputs reported during preview (unknowns as UNKNOWN). */
  previewOutputs(inputs: Record<string, unknown>, old: ResourceState | undefined): Record<string, unknown>;
}

/** Thrown by create when the resource exists but the create failed (partial state). */
export class PartialCreateError extends Error {
  constructor(message: string, readonly id: string, readonly outputs: Record<string, unknown>) {
    super(message);
  }
}
