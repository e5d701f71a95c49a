import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

/** Fields whose values never appear in an error message. */
const UNSHOWN = new Set(["privateKey", "privateKeyPassword", "password", "env", "remoteWriteUrl"]);

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v: any = value;
  for (const key of path) v = v == null ? undefined : v[key as any];
  return v;
}

/**
 * Parses `value` or throws one error naming where (component and host) and every bad field. It is a
 * pulumi.RunError: a user's input error, which the SDK reports as its message alone, without a stack trace.
 * `label` spells a field's path as the user wrote it (e.g. a stack config key).
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
  prefix = "",
  label: (path: string) => string = (p) => p,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = label([prefix, ...issue.path.map(String)].filter(Boolean).join("."));
    // The prefix counts too: a secret given as an Output is validated on its own, with a prefix such as
    // "connection.privateKey" or "client.env" and an issue path that no longer names the field.
    const hidden = [...prefix.split("."), ...issue.path.map(String)].some((k) => UNSHOWN.has(k));
    const got = valueAt(value, issue.path);
    const shown = hidden || got === undefined ? "" : ` (got ${JSON.stringify(got)})`;
    return `${path || "value"}: ${issue.message}${shown}`;
  });
  throw new pulumi.RunError(`${where}: invalid ${problems.join("; ")}`);
}

/** True when `value` holds no Output or Promise anywhere, so it can be validated right now. */
export function isPlain(value: unknown): boolean {
  if (pulumi.Output.isInstance(value) || value instanceof Promise) return false;
  if (Array.isArray(value)) return value.every(isPlain);
  if (value !== null && typeof value === "object") return Object.values(value).every(isPlain);
  return true;
}

/**
 * Validates an Input: plain values at once (the constructor throws before any child exists), Outputs
 * when they resolve (every child input derives from the validated Output, so nothing runs on a host
 * with an invalid value).
 */
export function validated<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
  prefix = "",
): pulumi.Output<z.output<S>> {
  type Out = pulumi.Output<z.output<S>>;
  if (isPlain(value)) return pulumi.output(parseOrThrow(schema, value, where, prefix)) as Out;
  const input = value as pulumi.Input<any>;
  return pulumi.output(input).apply((v: unknown) => parseOrThrow(schema, v, where, prefix)) as Out;
}

/** `obj[key]` for an Input object: direct for a plain object, through apply for an Output. */
export function fieldOf<T extends object, K extends keyof T>(obj: pulumi.Input<T> | undefined, key: K): unknown {
  if (obj === undefined) return undefined;
  if (pulumi.Output.isInstance(obj) || obj instanceof Promise) {
    return pulumi.output(obj as pulumi.Input<T>).apply((o) => (o as any)?.[key]);
  }
  return (obj as T)[key];
}

/** Validates the parts of `value` that are already known; a constructor calls it before it registers anything. */
export function precheck<S extends z.ZodType>(schema: S, value: unknown, where: string, prefix: string): void {
  if (value !== undefined && isPlain(value)) parseOrThrow(schema, value, where, prefix);
}
