// The pure parts of the real-engine harness: folding engine events into steps, and counting SSH connections
// in a guest's sshd log. The VM suites rely on both for their assertions.
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { describe, expect, it } from "vitest";
import { applyEvent, changed, errorLines, pathsContaining, replaceSequence, type EngineRun } from "../engine/events";
import { countConnections } from "../vm/sshd-log";

const URN = (type: string, name: string) => `urn:pulumi:s::p::pyjoules:index:PyJoulesHost$${type}::${name}`;
const pre = (op: string, type: string, name: string, extra: Record<string, unknown> = {}): EngineEvent =>
  ({ sequence: 0, timestamp: 0, resourcePreEvent: { metadata: { op, urn: URN(type, name), type, provider: "", ...extra } } }) as unknown as EngineEvent;
const emptyRun = (): EngineRun => ({ kind: "up", steps: [], errors: [], outputs: {}, changes: {}, output: "", ms: 0 });

describe("engine events", () => {
  it("lists changed steps once per replacement, with the keys that forced it, in engine order", () => {
    const run = emptyRun();
    const ctr = "docker:index/container:Container";
    for (const e of [
      pre("same", "command:remote:Command", "h-provision"),
      pre("delete-replaced", ctr, "h-client"),
      pre("replace", ctr, "h-client", { keys: ["envs"], diffs: ["envs", "logOpts"] }),
      pre("create-replacement", ctr, "h-client", { keys: ["envs"] }),
      pre("update", "command:remote:Command", "h-attest", { diffs: ["stdin"] }),
    ]) applyEvent(run, e);
    expect(changed(run)).toEqual(["replace h-client [envs]", "update h-attest [stdin]"]);
    expect(replaceSequence(run, "h-client")).toEqual(["delete-replaced", "replace", "create-replacement"]);
  });

  it("marks the failed step and keeps each error diagnostic with its resource", () => {
    const run = emptyRun();
    applyEvent(run, pre("create", "command:remote:Command", "h-provision"));
    applyEvent(run, { sequence: 1, timestamp: 0, resOpFailedEvent: { metadata: { op: "create", urn: URN("command:remote:Command", "h-provision") } } } as unknown as EngineEvent);
    applyEvent(run, { sequence: 2, timestamp: 0, diagnosticEvent: { urn: URN("command:remote:Command", "h-provision"), message: "pyjoules: h: AppArmor is off\n", severity: "error", color: "never" } } as unknown as EngineEvent);
    applyEvent(run, { sequence: 3, timestamp: 0, diagnosticEvent: { message: "chatter", severity: "info", color: "never" } } as unknown as EngineEvent);
    expect(run.steps[0]!.failed).toBe(true);
    expect(errorLines(run)).toEqual(["h-provision: pyjoules: h: AppArmor is off"]);
  });
});

describe("secret leak search", () => {
  it("names the JSON path of every string holding the secret, and nothing else", () => {
    const state = { a: [{ env: ["X=1", "URL=http://u:s3cret@h"] }, "s3cret"], b: { c: 1, d: "other", e: null } };
    expect(pathsContaining(state, "s3cret")).toEqual(["$.a[0].env[1]", "$.a[1]"]);
    expect(pathsContaining(state, "absent")).toEqual([]);
  });
});

describe("sshd log", () => {
  const LOG = [
    "2026-12-03T18:00:01+0000 pyj sshd-session[101]: debug1: Remote protocol version 2.0, remote software version Go",
    "2026-12-03T18:00:01+0000 pyj sshd-session[101]: Accepted publickey for pyj from 10.0.2.2 port 40001 ssh2: ED25519 SHA256:x",
    "2026-12-03T18:00:02+0000 pyj sshd-session[102]: debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2",
    "2026-12-03T18:00:02+0000 pyj sshd-session[102]: Accepted publickey for pyj from 10.0.2.2 port 40002 ssh2: ED25519 SHA256:x",
    "2026-12-03T18:00:03+0000 pyj sshd-session[103]: Accepted publickey for pyj from 10.0.2.2 port 40003 ssh2: ED25519 SHA256:x",
    "2026-12-03T18:00:04+0000 pyj sshd-session[104]: Connection closed by 10.0.2.2 port 40004 [preauth]",
  ].join("\n");

  it("counts authenticated connections by client software, leaving out the harness's port", () => {
    expect(countConnections(LOG)).toEqual({ total: 3, byClient: { Go: 1, OpenSSH: 1, unknown: 1 } });
    expect(countConnections(LOG, "40003")).toEqual({ total: 2, byClient: { Go: 1, OpenSSH: 1 } });
    expect(countConnections("")).toEqual({ total: 0, byClient: {} });
  });
});
