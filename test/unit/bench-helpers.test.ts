// Unit tests of the bench's pure helpers (test/bench; no VM, no engine).
import assert from "node:assert/strict";
import { test } from "vitest";
import { parseRecap } from "../bench/ansible";
import { missingPackages } from "../bench/guest-debs";
import { attestPhaser, engineBreakdown, parseTrace, phaseTimes, provisionPhaser, tracedInvocation } from "../bench/phases";
import { roleOf } from "../bench/proc-tree";
import { firstCause } from "../bench/report-vm";
import { countSshdActivity } from "../bench/sshd-exec";
import { fmt, linearFit, pairedRatios, perHostGrowth, stats } from "../bench/stats";
import { attestInvocation, provisionInvocation, stageLoader } from "../../profiles/commands";

test("stats: min/median/max, even and odd, and formatting", () => {
  assert.deepEqual(stats([3, 1, 2]), { min: 1, med: 2, max: 3, n: 3 });
  assert.equal(stats([4, 1, 3, 2]).med, 2.5);
  assert.equal(fmt(stats([1, 2, 3]), 1, " s"), "1.0 / **2.0** / 3.0 s");
  assert.equal(fmt(stats([2]), 0), "**2**");
  assert.deepEqual(pairedRatios([2, 9], [1, 3]), [2, 3]);
  assert.deepEqual(perHostGrowth([10, 100, 1000], [1, 10, 100]), [0.1, 0.1]);
  assert.equal(linearFit([1, 2, 3], [2, 4, 6]).slope, 2);
});

const JOURNAL = `2026-12-07T08:00:00+0000 pyj-trixie sshd-session[100]: Connection from 10.0.2.2 port 5000 on 10.0.2.15 port 22 rdomain ""
2026-12-07T08:00:00+0000 pyj-trixie sshd-session[100]: debug1: Remote protocol version 2.0, remote software version Go
2026-12-07T08:00:00+0000 pyj-trixie sshd-session[100]: Accepted publickey for pyj from 10.0.2.2 port 5000 ssh2: ED25519 SHA256:x
2026-12-07T08:00:01+0000 pyj-trixie sshd-session[100]: Starting session: command for pyj from 10.0.2.2 port 5000 id 0
2026-12-07T08:00:02+0000 pyj-trixie sshd-session[100]: Starting session: command for pyj from 10.0.2.2 port 5000 id 1
2026-12-07T08:00:03+0000 pyj-trixie sshd-session[200]: debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2
2026-12-07T08:00:03+0000 pyj-trixie sshd-session[200]: Accepted publickey for pyj from 10.0.2.2 port 6000 ssh2: ED25519 SHA256:x
2026-12-07T08:00:03+0000 pyj-trixie sshd-session[200]: Starting session: command for pyj from 10.0.2.2 port 6000 id 0
2026-12-07T08:00:04+0000 pyj-trixie sshd-session[300]: Accepted publickey for pyj from 10.0.2.2 port 7000 ssh2: ED25519 SHA256:x
2026-12-07T08:00:04+0000 pyj-trixie sshd-session[300]: Starting session: command for pyj from 10.0.2.2 port 7000 id 0`;

test("sshd log: sessions and remote commands by client software, harness port left out", () => {
  const a = countSshdActivity(JOURNAL, "7000");
  assert.equal(a.sessions, 2);
  assert.equal(a.commands, 3);
  assert.deepEqual(a.bySoftware, { Go: { sessions: 1, commands: 2 }, OpenSSH: { sessions: 1, commands: 1 } });
});

test("traced invocation: still passes its own length + sha256 check, script line numbers kept", () => {
  const inv = provisionInvocation("docker-pyjoules", true, "profile text\n");
  const t = tracedInvocation(inv);
  const m = /dd bs=1 skip=(\d+) count=(\d+)/.exec(t.command)!;
  const stage = Buffer.from(t.stdin).subarray(Number(m[1]), Number(m[1]) + Number(m[2])).toString();
  assert.equal(stage, t.stage);
  assert.equal(t.command, stageLoader("pyjoules-provision", Number(m[1]), stage));
  assert.match(t.stage, /\/bin\/bash -c "\$s"/);
  assert.match(t.stage, /PYJ-T %s become\\n' "\$\(date \+%s\.%N\)" >&2\ns="exec 7>&2; [^\n]*\nif \[ "\$\(id -u\)" -eq 0 \]; then exec/, "traced at BECOME_ROOT, not in the prelude");
  assert.ok(t.stdin.endsWith("profile text\n"));
  assert.doesNotThrow(() => tracedInvocation(attestInvocation("docker-pyjoules", "pyjoules-client", true, 5)));
});

test("trace parsing and phase attribution", () => {
  const err = "PYJ-T 10.0 stage\nPYJ-T 10.5 become\n+ 11.0 2 set -e\n++ 11.5 3 docker info\n+ 13.0 9 done\nnoise";
  const { lines, marks } = parseTrace(err);
  assert.deepEqual(marks, { stage: 10, become: 10.5 });
  assert.deepEqual(phaseTimes(lines, (l) => (l.line < 3 ? "a" : "b")), { a: 0.5, b: 1.5 });
  const script = "#!/bin/sh\nf() { x; }\n# 1. Preflight\ncheck\n# 2. Compile\nparse\n# 3 + 4. Install\nmv\nload\n# 5. Boot\nenable\n";
  const p = provisionPhaser(script);
  const L = (line: number, cmd = "") => ({ t: 0, line, cmd });
  assert.equal(p(L(4)), "preflight");
  assert.equal(p(L(8, "mv a b")), "install");
  assert.equal(p(L(2, "x")), "install", "a function body belongs to the section reached");
  assert.equal(p(L(9, "/sbin/apparmor_parser -r -W /x")), "load (apparmor_parser -r -W)");
  assert.equal(p(L(11)), "boot-time loader");
  const a = attestPhaser("x\nwait_healthy() {\n\tsleep 1\n}\n[ \"$health_wait\" = 0 ] || wait_healthy\nfor zone in a; do\n\tread\ndone\n");
  assert.equal(a(L(3)), "healthcheck wait");
  assert.equal(a(L(7)), "energy reads (host read + 1 docker exec)");
  assert.equal(a(L(1)), "inspect + confinement checks");
});

test("engine breakdown: resource kinds and the time no step ran", () => {
  const s = (name: string, type: string, a: number, b: number) => ({ name, type, op: "create", startMs: a, endMs: b });
  const r = engineBreakdown(10_000, [
    s("h-profile-provision", "command:remote:Command", 1000, 4000),
    s("h-docker", "pulumi:providers:docker", 1000, 1500),
    s("h-client", "docker:index/container:Container", 4000, 6000),
    s("h-attest", "command:remote:Command", 6000, 8000),
    s("h", "pyjoules:index:PyJoulesHost", 500, 9000),
  ]);
  assert.deepEqual(r.byResource, { "provision step": 3000, "docker provider": 500, "container create": 2000, "attestation step": 2000 });
  assert.equal(r.engineMs, 3000);
});

test("small parsers: ansible recap, dpkg status, process roles", () => {
  assert.deepEqual(parseRecap("PLAY RECAP ***\nvm : ok=6 changed=3 unreachable=0 failed=0 skipped=0"), { ok: 6, changed: 3, failed: 0 });
  assert.deepEqual(missingPackages("python3-requests install ok installed\nopenssl deinstall ok config-files\n", ["python3-requests", "openssl", "x"]), ["openssl", "x"]);
  assert.equal(roleOf("/root/.cache/x/bin/pulumi preview"), "cli");
  assert.equal(roleOf("/x/plugins/resource-docker-v4.11.0/pulumi-resource-docker 127.0.0.1:1"), "provider-docker");
  assert.equal(roleOf("/usr/bin/node /x/run-main"), "program");
  assert.equal(firstCause('ansible-playbook failed: \nfatal: [vm]: FAILED! => {"changed": false, "msg": "Error connecting: x"}'), "Error connecting: x");
});
