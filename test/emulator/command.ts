// command:remote:Command, after pulumi-command v1.2.1 (provider/pkg/provider/remote/commandController.go).
//  - Diff (pulumi-go-provider infer): old *inputs* vs new inputs; any change -> Update;
//    `triggers` is replaceOnChanges (the SDK also sets the option replaceOnChanges: ["triggers[*]"]).
//  - Create: runs `create` (if set). Update: runs `update`, else `create` (if set).
//    Delete: runs the *old* `delete` (if set) with the old connection.
//  - PULUMI_COMMAND_STDOUT/STDERR = previous stdout/stderr when addPreviousOutputInEnv != false
//    and they are non-empty (so never on the first create).
//  - Outputs = inputs + stdout/stderr (trailing "\n" trimmed). A failed create records nothing.
import { randomBytes } from "node:crypto";
import { runRemoteCommand, validateConnection, type Connection } from "./ssh";
import type { ProviderContext, ResourceImpl, ResourceState } from "./types";
import { deepEqual, UNKNOWN } from "./util";

const INPUT_KEYS = new Set([
  "connection", "create", "update", "delete", "triggers", "stdin", "environment", "logging", "addPreviousOutputInEnv",
]);
const LOGGING = new Set(["stdout", "stderr", "stdoutAndStderr", "none"]);

interface CommandInputs {
  connection: Connection;
  create?: string;
  update?: string;
  delete?: string;
  triggers?: unknown[];
  stdin?: string;
  environment?: Record<string, string>;
  logging?: string;
  addPreviousOutputInEnv?: boolean;
}

async function run(
  ctx: ProviderContext,
  name: string,
  state: CommandInputs & { stdout?: string; stderr?: string },
  cmd: string,
): Promise<{ stdout: string; stderr: string }> {
  const optional: Record<string, string> = {};
  if (state.addPreviousOutputInEnv !== false) {
    if (state.stdout) optional.PULUMI_COMMAND_STDOUT = state.stdout;
    if (state.stderr) optional.PULUMI_COMMAND_STDERR = state.stderr;
  }
  const r = await runRemoteCommand(state.connection, cmd, {
    stdin: state.stdin,
    environment: state.environment,
    optionalEnvironment: optional,
    counters: ctx.counters,
    log: (l) => ctx.log(`[${name}] ${l}`),
  });
  const logging = state.logging ?? "stdoutAndStderr";
  if ((logging === "stdout" || logging === "stdoutAndStderr") && r.stdout) ctx.log(`[${name}] stdout: ${r.stdout}`);
  if ((logging === "stderr" || logging === "stdoutAndStderr") && r.stderr) ctx.log(`[${name}] stderr: ${r.stderr}`);
  return r;
}

export const remoteCommand: ResourceImpl = {
  check(inputs) {
    for (const k of Object.keys(inputs)) {
      if (!INPUT_KEYS.has(k)) throw new Error(`emulator: command:remote:Command input "${k}" is not supported by the emulator`);
    }
    validateConnection(inputs.connection);
    for (const k of ["create", "update", "delete", "stdin"]) {
      if (inputs[k] !== undefined && typeof inputs[k] !== "string") throw new Error(`emulator: command:remote:Command input "${k}" must be a string`);
    }
    if (inputs.logging !== undefined && !LOGGING.has(inputs.logging as string)) {
      throw new Error(`emulator: command:remote:Command logging must be one of ${[...LOGGING].join(", ")}`);
    }
    if (inputs.environment !== undefined) {
      for (const [k, v] of Object.entries(inputs.environment as Record<string, unknown>)) {
        if (typeof v !== "string") throw new Error(`emulator: environment.${k} must be a string`);
      }
    }
    return inputs;
  },

  diff(old: ResourceState, news) {
    const keys = new Set([...Object.keys(old.inputs), ...Object.keys(news)]);
    const changed = [...keys].filter((k) => !deepEqual(old.inputs[k], news[k])).sort();
    return { changed, replaces: changed.filter((k) => k === "triggers") };
  },

  async create(ctx, name, inputs) {
    const i = inputs as unknown as CommandInputs;
    // resource.NewUniqueHex(name, 8, 0)
    const id = `${name}${randomBytes(4).toString("hex")}`;
    let out = { stdout: "", stderr: "" };
    if (i.create !== undefined) out = await run(ctx, name, i, i.create);
    return { id, outputs: { ...inputs, ...out } };
  },

  async update(ctx, old, news) {
    const i = news as unknown as CommandInputs;
    const state = { ...i, stdout: old.outputs.stdout as string | undefined, stderr: old.outputs.stderr as string | undefined };
    let out = { stdout: state.stdout ?? "", stderr: state.stderr ?? "" };
    if (i.update !== undefined) out = await run(ctx, old.name, state, i.update);
    else if (i.create !== undefined) out = await run(ctx, old.name, state, i.create);
    return { ...news, ...out };
  },

  async delete(ctx, old) {
    const s = old.outputs as unknown as CommandInputs & { stdout?: string; stderr?: string };
    if (s.delete === undefined) return;
    await run(ctx, old.name, s, s.delete);
  },

  previewOutputs(inputs, old) {
    // infer: Create(preview) returns no stdout/stderr -> unknown; Update(preview) keeps the old ones.
    if (old) return { ...inputs, stdout: old.outputs.stdout ?? "", stderr: old.outputs.stderr ?? "" };
    return { ...inputs, stdout: UNKNOWN, stderr: UNKNOWN };
  },
};
