import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { AppArmorProfile, PyJoulesFleet, PyJoulesHost, PyJoulesHostArgs } from "../../components";
import { stackProgram } from "../../components/stack";
import { ATTEST_SH, provisionStdin, shellQuote } from "../../profiles/commands";
import { renderPyJoulesProfile, sha256Hex } from "../../profiles/render";
import { collectRejections, healthyHostOutputs, provisionedText, runWithMocks, settle, TEST_HOST_KEY, TEST_URL, testKey, TYPES } from "./helpers/mocks";

const KEY = testKey("UNIT-TEST-ONLY");
const HOST_KEY = TEST_HOST_KEY;
const URL = TEST_URL;
const T = TYPES;

beforeAll(() => {
  process.env.PULUMI_PYJOULES_SSH_DIR = join(mkdtempSync(join(tmpdir(), "pyj-keys-")), "ssh");
});

const hostArgs = (over: Partial<PyJoulesHostArgs> = {}): PyJoulesHostArgs => ({
  connection: { host: "10.0.0.7", user: "deploy", privateKey: pulumi.secret(KEY), hostKey: HOST_KEY },
  client: { remoteWriteUrl: URL },
  ...over,
});
const oneHost = (args = hostArgs(), o = {}) => runWithMocks((o) => new PyJoulesHost("h1", args, o), o);

describe("PyJoulesHost resources", () => {
  it("creates exactly the host component, the profile component, two commands, a docker provider and the container", async () => {
    const run = await oneHost();
    const counts = Object.fromEntries(
      [T.host, T.profile, T.command, T.provider, T.container].map((t) => [t, run.ofType(t).length]),
    );
    expect(counts).toEqual({ [T.host]: 1, [T.profile]: 1, [T.command]: 2, [T.provider]: 1, [T.container]: 1 });
    for (const r of run.resources.filter((r) => r.type !== T.host && r.type !== "pulumi:pulumi:Stack")) {
      expect(r.opts.parent, `${r.name} has a parent`).toBeDefined();
    }
  });

  it("runs the client container with exactly the restricted options", async () => {
    const run = await oneHost(
      hostArgs({
        client: {
          remoteWriteUrl: URL, image: "registry.example.com/pyj@sha256:" + "a".repeat(64), scrapeIntervalS: 0.5,
          pushIntervalS: 8, maxRetryBatches: 3, serviceLabel: "node-7", logLevel: "DEBUG", env: { TZ: "UTC" },
        },
      }),
    );
    const c = run.byName("h1-client").inputs;
    expect(c.securityOpts).toEqual(["apparmor=docker-pyjoules", "systempaths=unconfined"]);
    expect(c.mounts).toEqual([
      { type: "bind", source: "/sys/class/powercap", target: "/sys/class/powercap", readOnly: true },
      { type: "bind", source: "/sys/devices/virtual/powercap", target: "/sys/devices/virtual/powercap", readOnly: true },
    ]);
    expect(c.privileged).toBe(false);
    expect(c.capabilities).toBeUndefined();
    expect(c.volumes).toBeUndefined();
    expect(c.devices).toBeUndefined();
    expect(c.restart).toBe("unless-stopped");
    expect(c.hosts).toEqual([{ host: "host.docker.internal", ip: "host-gateway" }]);
    expect(c.logDriver).toBe("json-file");
    expect(c.logOpts).toEqual({ "max-size": "10m", "max-file": "3" });
    expect(c.image).toBe("registry.example.com/pyj@sha256:" + "a".repeat(64));
    expect(c.name).toBe("pyjoules-client");
    expect(c.envs).toEqual([
      "LOG_LEVEL=DEBUG", "MAX_RETRY_BATCHES=3", "PUSH_INTERVAL_S=8", `REMOTE_WRITE_URL=${URL}`,
      "SCRAPE_INTERVAL_S=0.5", "SERVICE_LABEL=node-7", "TZ=UTC",
    ]);
    // Measured through the real docker provider (lifecycle step 2b): after `pulumi refresh` the read-back
    // securityOpts lacks systempaths=unconfined; without this the next preview replaces the container.
    expect(run.byName("h1-client").opts.ignoreChanges).toEqual(["securityOpts"]);
    expect(run.byName("h1-client").opts.deleteBeforeReplace).toBe(true);
    const known = ["name", "image", "envs", "mounts", "securityOpts", "privileged", "restart", "hosts", "logDriver", "logOpts"];
    expect(Object.keys(c).sort()).toEqual(known.sort());
  });

  it("passes a client healthcheck to the container (exec form) and makes the attestation wait for healthy", async () => {
    const run = await oneHost(hostArgs({ client: { remoteWriteUrl: URL, healthcheck: { command: ["test", "-f", "/tmp/ok"], intervalS: 4, retries: 2 } } }));
    expect(run.byName("h1-client").inputs.healthcheck).toEqual({ tests: ["CMD", "test", "-f", "/tmp/ok"], interval: "4s", timeout: "5s", startPeriod: "0s", retries: 2 });
    // start period 0 + (4 + 5) s x (2 + 1) checks + 30 s margin
    expect(run.byName("h1-attest").inputs.stdin).toContain("\nset -- 'docker-pyjoules' 'pyjoules-client' 'yes' '57'\n");
    const plain = await oneHost();
    expect(plain.byName("h1-client").inputs.healthcheck).toBeUndefined();
    expect(plain.byName("h1-attest").inputs.stdin).toContain("\nset -- 'docker-pyjoules' 'pyjoules-client' 'yes'\n");
  });

  it("rejects a bad healthcheck, naming the host and the field", async () => {
    for (const [healthcheck, field] of [
      [{ command: [] }, "client.healthcheck.command"],
      [{ command: ["true"], intervalS: 0 }, "client.healthcheck.intervalS"],
      [{ command: ["a\nb"] }, "client.healthcheck.command.0"],
      [{ command: ["true"], every: 3 }, "client.healthcheck"],
    ] as const) {
      const err = await oneHost(hostArgs({ client: { remoteWriteUrl: URL, healthcheck: healthcheck as never } })).catch((e: Error) => e);
      expect(String(err)).toContain(`PyJoulesHost "h1": invalid ${field}`);
    }
  });

  it("defaults the image to the seed's client", async () => {
    const run = await oneHost();
    expect(run.byName("h1-client").inputs.image).toBe("aimilefth/cpu-pyjoules");
  });

  it("provisions through sudo -n with the scripts and the rendered profile on stdin", async () => {
    const run = await oneHost(hostArgs({ profile: { extraReadPaths: ["/etc/pyjoules/**"] } }));
    const p = run.byName("h1-profile-provision");
    // the remove stage, the provision stage, then the profile: delete runs with the same stdin, so it carries both.
    expect(p.inputs.stdin).toBe(provisionStdin("docker-pyjoules", true, renderPyJoulesProfile({ extraReadPaths: ["/etc/pyjoules/**"] })));
    expect(provisionedText(p.inputs)).toBe(renderPyJoulesProfile({ extraReadPaths: ["/etc/pyjoules/**"] }));
    expect(p.inputs.stdin).toContain("exec sudo -n /bin/sh -c");
    expect(p.inputs.stdin).toContain("\nset -- 'docker-pyjoules' 'yes'\n");
    expect(p.inputs.create).toMatch(/ pyjoules-provision$/);
    expect(p.inputs.create).not.toContain("/etc/pyjoules"); // the profile text never rides on a command line
    expect(p.inputs.delete).toContain("pyjoules-remove");
    // The scripts are on stdin: the lines pulumi prints with a failure stay short.
    for (const line of [p.inputs.create, p.inputs.delete]) expect(line.length).toBeLessThan(450);
    expect(p.inputs.addPreviousOutputInEnv).toBe(false);
    expect(p.inputs.triggers).toEqual(["10.0.0.7", 22, "docker-pyjoules"]);
    expect(p.opts.deleteBeforeReplace).toBe(true);
    const a = run.byName("h1-attest");
    expect(a.inputs.create).toMatch(/ pyjoules-attest$/);
    expect(a.inputs.create.length).toBeLessThan(450);
    expect(a.inputs.stdin).toContain("\nset -- 'docker-pyjoules' 'pyjoules-client' 'yes'\n");
    expect(a.inputs.stdin).toContain(shellQuote(ATTEST_SH));
    // The container id, and the verified profile's sha256: a profile change (same container) is attested again.
    expect(a.inputs.triggers).toEqual(["h1-client-id", sha256Hex(renderPyJoulesProfile({ extraReadPaths: ["/etc/pyjoules/**"] }))]);
  });

  it("passes requireRapl=false through to both scripts", async () => {
    const run = await oneHost(hostArgs({ requireRapl: false }));
    expect(run.byName("h1-profile-provision").inputs.stdin).toContain("\nset -- 'docker-pyjoules' 'no'\n");
    expect(run.byName("h1-attest").inputs.stdin).toContain("\nset -- 'docker-pyjoules' 'pyjoules-client' 'no'\n");
  });

  it("pins the host key on both SSH paths when given", async () => {
    const run = await oneHost();
    expect(run.byName("h1-profile-provision").inputs.connection.hostKey).toBe(HOST_KEY);
    expect(run.byName("h1-attest").inputs.connection.hostKey).toBe(HOST_KEY);
    const d = run.byName("h1-docker").inputs;
    expect(d.host).toBe("ssh://deploy@10.0.0.7:22");
    const opts: string[] = JSON.parse(d.sshOpts);
    expect(opts).toContain("StrictHostKeyChecking=yes");
    expect(opts).toContain(`KnownHostsCommand=/bin/echo %H ${HOST_KEY}`);
    expect(opts).toContain("UserKnownHostsFile=/dev/null");
    expect(opts.join(" ")).not.toMatch(/StrictHostKeyChecking=no/);
  });

  it("configures the docker path from the same credential: agent socket", async () => {
    const run = await oneHost(hostArgs({ connection: { host: "node.example.com", port: 2222, agentSocketPath: "/run/user/1000/ssh-agent.sock" } }));
    const d = run.byName("h1-docker").inputs;
    expect(d.host).toBe("ssh://root@node.example.com:2222");
    expect(JSON.parse(d.sshOpts)).toContain("IdentityAgent=/run/user/1000/ssh-agent.sock");
    expect(run.byName("h1-profile-provision").inputs.connection.agentSocketPath).toBe("/run/user/1000/ssh-agent.sock");
  });

  it("sends the docker path through the same bastion (ProxyJump, IPv6 bracketed)", async () => {
    const run = await oneHost(hostArgs({ connection: { host: "10.0.0.7", privateKey: KEY, proxy: { host: "fd00::1", user: "jump", port: 2200 } } }));
    expect(JSON.parse(run.byName("h1-docker").inputs.sshOpts)).toContain("ProxyJump=jump@[fd00::1]:2200");
    expect(run.byName("h1-profile-provision").inputs.connection.proxy).toMatchObject({ host: "fd00::1", user: "jump", port: 2200 });
  });

  it("brackets IPv6 hosts in the docker URL", async () => {
    const run = await oneHost(hostArgs({ connection: { host: "fd00::7", privateKey: KEY } }));
    expect(run.byName("h1-docker").inputs.host).toBe("ssh://root@[fd00::7]:22");
  });

  it("skips the docker daemon check so preview needs no SSH", async () => {
    const run = await oneHost();
    expect(run.byName("h1-docker").inputs.disableDockerDaemonCheck).toBe("true");
  });
});

describe("secrets", () => {
  it("keeps the private key secret in every resource that holds it and out of every output", async () => {
    let host!: PyJoulesHost;
    const run = await runWithMocks((o) => (host = new PyJoulesHost("h1", hostArgs({ connection: { host: "10.0.0.7", privateKey: pulumi.secret(KEY), password: pulumi.secret("pw-UNIT"), agentSocketPath: "/run/a.sock" } }), o)));
    const [verified, attestation, containerName] = await Promise.all([settle(host.verifiedProfile), settle(host.attestation), settle(host.containerName)]);
    const outputs = JSON.stringify({ verified, attestation, containerName });
    expect(outputs).not.toContain("UNIT-TEST-ONLY");
    expect(outputs).not.toContain("pw-UNIT");
    for (const r of run.resources) {
      const text = JSON.stringify(r.inputs);
      const holds = text.includes("UNIT-TEST-ONLY") || text.includes("pw-UNIT");
      if (r.type === T.command) {
        expect(holds, `${r.name} gets the credential`).toBe(true);
        expect(await (pulumi.output(r.props.connection) as any).isSecret, r.name).toBe(true);
      } else {
        expect(holds, `${r.name} must not hold the credential`).toBe(false);
      }
      if (r.type === T.command) {
        expect(r.inputs.create).not.toContain("UNIT-TEST-ONLY");
        expect(r.inputs.stdin ?? "").not.toContain("UNIT-TEST-ONLY");
      }
    }
  });

  it("writes the key for the docker path only to a private file and keeps that path secret", async () => {
    const run = await oneHost();
    const opts: string[] = JSON.parse(run.byName("h1-docker").inputs.sshOpts);
    const file = opts.find((o) => o.startsWith("IdentityFile="))!.slice("IdentityFile=".length);
    expect(readFileSync(file, "utf8")).toBe(KEY);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(file, "..")).mode & 0o777).toBe(0o700);
    expect(await (pulumi.output(run.byName("h1-docker").props.sshOpts) as any).isSecret).toBe(true);
  });
});

describe("fail closed and ordering", () => {
  it("the container depends on the verified profile (option and data)", async () => {
    const run = await oneHost();
    const deps = run.byName("h1-client").opts.dependsOn as pulumi.Resource[];
    expect(deps.some((d) => d instanceof AppArmorProfile)).toBe(true);
    const attestDeps = run.byName("h1-attest").opts.dependsOn as pulumi.Resource[];
    expect(attestDeps.length).toBe(1);
  });

  it("touches no host when a client setting that arrives as a secret Output is invalid", async () => {
    const registered: string[] = [];
    const errors = await collectRejections(async () => {
      const args = hostArgs({ client: { remoteWriteUrl: pulumi.secret("ftp://user:pw@prom.example.com/w") } });
      await runWithMocks((o) => new PyJoulesHost("h1", args, o), {
        outputs: (type, inputs) => (registered.push(type), healthyHostOutputs(type, inputs)),
      });
      await new Promise((r) => setTimeout(r, 500));
    });
    // the program fails (an unhandled rejection under mocks), naming the field, before any command or container
    expect(errors.map(String).join("\n")).toMatch(/PyJoulesHost "h1": invalid client\.remoteWriteUrl: must be an http\(s\) URL/);
    expect(registered.filter((t) => t === T.command || t === T.container)).toEqual([]);
    expect(errors.map(String).join("\n")).not.toContain("user:pw");
  });

  it("creates no container and no attestation when provisioning fails on the host", async () => {
    const registered: string[] = [];
    const errors = await collectRejections(async () => {
      const run = await runWithMocks((o) => new PyJoulesHost("h1", hostArgs(), o), {
        fail: (type, name) => type === T.command && name === "h1-profile-provision",
        outputs: (type, inputs) => (registered.push(type), healthyHostOutputs(type, inputs)),
      });
      await expect(settle(run.result.verifiedProfile)).rejects.toThrow(/mock host failure/);
    });
    expect(registered).not.toContain(T.container);
    expect(registered.filter((t) => t === T.command)).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => String(e).includes("mock host failure for h1-profile-provision"))).toBe(true);
  });

  it("fails the host when the host reports another sha256 than the text sent", async () => {
    const errors = await collectRejections(async () => {
      const run = await runWithMocks((o) => new PyJoulesHost("h1", hostArgs(), o), {
        outputs: (type, inputs) =>
          type === T.command && String(inputs.create).includes("pyjoules-provision")
            ? { stdout: JSON.stringify({ name: "docker-pyjoules", mode: "enforce", sha256: "0".repeat(64), path: "/etc/apparmor.d/containers/docker-pyjoules", loader: "x", parserVersion: "", dockerVersion: "", kernel: "", host: "" }) }
            : healthyHostOutputs(type, inputs),
      });
      await expect(settle(run.result.verifiedProfile)).rejects.toThrow(/installed profile has sha256 0{64}, but the text sent has/);
    });
    expect(errors.every((e) => /sha256/.test(String(e)))).toBe(true);
  });

  it("fails the host on a wrong attestation", async () => {
    const errors = await collectRejections(async () => {
      const run = await runWithMocks((o) => new PyJoulesHost("h1", hostArgs(), o), {
        outputs: (type, inputs) =>
          type === T.command && String(inputs.create).includes("pyjoules-attest")
            ? { stdout: JSON.stringify({ host: "h", container: "pyjoules-client", running: true, apparmorProfile: "unconfined", procAttrCurrent: "unconfined", privileged: false, addedCapabilities: 0, classPowercapReadOnly: true, devicesPowercapReadOnly: true, raplZone: "intel-rapl:0", raplReadable: true, raplEnergyIncreasing: true, raplEnergyDeltaUj: 1, profileSha256: inputs.triggers[1], denials: { sources: "journal", since: 0, count: 0, first: [] }, ok: false }) }
            : healthyHostOutputs(type, inputs),
      });
      await expect(settle(run.result.attestation)).rejects.toThrow(/attestation failed.*AppArmor profile is unconfined/);
    });
    expect(errors.every((e) => /attestation failed/.test(String(e)))).toBe(true);
  });

  /** Runs one host whose attest.sh line is the healthy one with `over` applied. */
  const attestedWith = (over: Record<string, unknown>, args = hostArgs()) =>
    runWithMocks((o) => new PyJoulesHost("h1", args, o), {
      outputs: (type, inputs) => {
        const out = healthyHostOutputs(type, inputs);
        if (type !== T.command || !String(inputs.create).includes("pyjoules-attest")) return out;
        return { ...out, stdout: JSON.stringify({ ...JSON.parse(String(out.stdout)), ...over }) };
      },
    });

  it("reports the new attestation fields of a healthy host", async () => {
    const run = await attestedWith({ denials: { sources: "journal", since: 1764000000, count: 1, first: [{ operation: "open", name: "/proc/keys" }] } });
    const a = await settle(run.result.attestation);
    expect(a.profileSha256).toBe(sha256Hex(renderPyJoulesProfile()));
    expect(a.raplEnergyIncreasing).toBe(true);
    // Denials are reported, never a failure.
    expect(a.denials).toEqual({ sources: "journal", since: 1764000000, count: 1, first: [{ operation: "open", name: "/proc/keys" }] });
  });

  it("fails the host when the installed profile file is not the one the host verified", async () => {
    const errors = await collectRejections(async () => {
      const run = await attestedWith({ profileSha256: "0".repeat(64) });
      await expect(settle(run.result.attestation)).rejects.toThrow(
        new RegExp(`attestation failed: the installed profile has sha256 "0{64}", not the verified ${sha256Hex(renderPyJoulesProfile())}$`),
      );
    });
    expect(errors.every((e) => /attestation failed/.test(String(e)))).toBe(true);
  });

  it("fails the host when RAPL energy does not increase, unless requireRapl is false", async () => {
    const errors = await collectRejections(async () => {
      const run = await attestedWith({ raplEnergyIncreasing: false, raplEnergyDeltaUj: 0 });
      await expect(settle(run.result.attestation)).rejects.toThrow(/attestation failed: RAPL energy_uj does not increase inside the container$/);
    });
    expect(errors.every((e) => /attestation failed/.test(String(e)))).toBe(true);
    const relaxed = await attestedWith({ raplEnergyIncreasing: false, raplEnergyDeltaUj: 0 }, hostArgs({ requireRapl: false }));
    expect((await settle(relaxed.result.attestation)).raplEnergyIncreasing).toBe(false);
  });

  it("a profile change re-runs the attestation (its triggers) without touching the container", async () => {
    const a = await oneHost();
    const b = await oneHost(hostArgs({ profile: { extraReadPaths: ["/etc/hostname"] } }));
    expect(b.byName("h1-client").inputs).toEqual(a.byName("h1-client").inputs);
    const [ta, tb] = [a.byName("h1-attest").inputs.triggers, b.byName("h1-attest").inputs.triggers];
    expect(ta[0]).toBe(tb[0]);
    expect(ta[1]).toBe(sha256Hex(renderPyJoulesProfile()));
    expect(tb[1]).toBe(sha256Hex(renderPyJoulesProfile({ extraReadPaths: ["/etc/hostname"] })));
  });
});

describe("preview diffs", () => {
  const snapshot = async (args: PyJoulesHostArgs) =>
    Object.fromEntries((await oneHost(args)).resources.map((r) => [r.name, r.inputs]));

  it("identical inputs give identical resource inputs", async () => {
    expect(await snapshot(hostArgs())).toEqual(await snapshot(hostArgs()));
  });

  it("a profile change changes only the provisioning step's stdin and the attestation's triggers", async () => {
    const a = await snapshot(hostArgs());
    const b = await snapshot(hostArgs({ profile: { extraReadPaths: ["/etc/pyjoules/**"] } }));
    const changed = Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    expect(changed).toEqual(["h1-profile-provision", "h1-attest"]);
    const keys = (r: string) => Object.keys(a[r]!).filter((k) => JSON.stringify(a[r]![k]) !== JSON.stringify(b[r]![k]));
    expect(keys("h1-profile-provision")).toEqual(["stdin"]);
    // The profile's sha256: the running container is attested again under the reloaded profile.
    expect(keys("h1-attest")).toEqual(["triggers"]);
  });

  it("a client change touches only the container", async () => {
    const a = await snapshot(hostArgs());
    const b = await snapshot(hostArgs({ client: { remoteWriteUrl: URL, logLevel: "DEBUG" } }));
    expect(Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))).toEqual(["h1-client"]);
  });
});

describe("validation", () => {
  const bad: Array<[string, PyJoulesHostArgs, RegExp]> = [
    ["host", hostArgs({ connection: { host: "bad host;rm", privateKey: KEY } }), /PyJoulesHost "h1": invalid connection\.host/],
    ["port", hostArgs({ connection: { host: "a.example", port: 70000, privateKey: KEY } }), /connection\.port/],
    ["user", hostArgs({ connection: { host: "a.example", user: "Root User", privateKey: KEY } }), /connection\.user/],
    ["host key", hostArgs({ connection: { host: "a.example", hostKey: "ssh-ed25519 AAA\nx", privateKey: KEY } }), /connection\.hostKey/],
    ["url", hostArgs({ client: { remoteWriteUrl: "ftp://x" } }), /client\.remoteWriteUrl/],
    ["interval", hostArgs({ client: { remoteWriteUrl: URL, scrapeIntervalS: 0 } }), /client\.scrapeIntervalS/],
    ["log level", hostArgs({ client: { remoteWriteUrl: URL, logLevel: "LOUD" } }), /client\.logLevel/],
    ["reserved env", hostArgs({ client: { remoteWriteUrl: URL, env: { REMOTE_WRITE_URL: "x" } } }), /client\.env/],
    ["env key", hostArgs({ client: { remoteWriteUrl: URL, env: { "A B": "x" } } }), /client\.env/],
    ["image", hostArgs({ client: { remoteWriteUrl: URL, image: "Bad Image;" } }), /client\.image/],
    ["profile name", hostArgs({ profile: { name: "../etc" } }), /profile\.name/],
    ["extra path", hostArgs({ profile: { extraReadPaths: ["/x, /** rw"] } }), /profile\.extraReadPaths/],
  ];
  it.each(bad)("rejects a bad %s before creating anything, naming host and field", async (_, args, message) => {
    let created = 0;
    await expect(
      runWithMocks((o) => new PyJoulesHost("h1", args, o), { outputs: () => (created++, {}) }),
    ).rejects.toThrow(message);
    expect(created).toBe(0);
  });

  it("never shows a secret value in an error", async () => {
    const err = await runWithMocks((o) =>
      new PyJoulesHost("h1", hostArgs({ connection: { host: "a.example", privateKey: "not-a-key SECRET-VALUE" } }), o),
    ).catch((e: Error) => e);
    expect(String(err)).toMatch(/connection\.privateKey/);
    expect(String(err)).not.toContain("SECRET-VALUE");
  });

  it("refuses a password-only connection (the docker path cannot use it)", async () => {
    await expect(oneHost(hostArgs({ connection: { host: "a.example", password: pulumi.secret("pw") } }))).rejects.toThrow(
      /invalid connection\.password: it works for the provisioning commands only/,
    );
  });
});

describe("PyJoulesFleet", () => {
  const fleet = (opts: pulumi.ComponentResourceOptions) =>
    new PyJoulesFleet("f", {
      defaults: { connection: { user: "deploy", privateKey: pulumi.secret(KEY) }, client: { remoteWriteUrl: URL, env: { A: "1" } } },
      hosts: [
        { name: "canary", connection: { host: "10.0.0.1" }, wave: 0 },
        { name: "b", connection: { host: "10.0.0.2" }, wave: 1, client: { logLevel: "DEBUG", env: { B: "2" } } },
        { name: "c", connection: { host: "10.0.0.3", port: 2222 }, wave: 1, profile: { extraReadPaths: ["/etc/x"] } },
      ],
    }, opts);

  it("merges defaults with per-host overrides", async () => {
    const run = await runWithMocks(fleet);
    expect(run.byName("f-b-client").inputs.envs).toEqual(["A=1", "B=2", "LOG_LEVEL=DEBUG", `REMOTE_WRITE_URL=${URL}`]);
    expect(run.byName("f-c-docker").inputs.host).toBe("ssh://deploy@10.0.0.3:2222");
    expect(provisionedText(run.byName("f-c-profile-provision").inputs)).toBe(renderPyJoulesProfile({ extraReadPaths: ["/etc/x"] }));
    expect(provisionedText(run.byName("f-b-profile-provision").inputs)).toBe(renderPyJoulesProfile());
    const profiles = await settle(run.result.verifiedProfiles);
    expect(Object.keys(profiles).sort()).toEqual(["b", "c", "canary"]);
    expect(profiles.canary!.mode).toBe("enforce");
  });

  it("starts wave 1 only after every host of wave 0", async () => {
    const run = await runWithMocks(fleet);
    const depNames = (name: string) =>
      ((run.byName(name).opts.dependsOn as pulumi.Resource[] | undefined) ?? []).map((d: any) => d.__name ?? d.constructor.name);
    expect(depNames("f-canary-profile-provision")).toEqual([]);
    expect(depNames("f-b-profile-provision")).toEqual(["f-canary"]);
    expect(depNames("f-c-profile-provision")).toEqual(["f-canary"]);
  });

  it("rejects duplicate host names and missing remoteWriteUrl, naming the host", async () => {
    await expect(
      runWithMocks((o) => new PyJoulesFleet("f", { hosts: [{ name: "a", connection: { host: "h1" }, client: { remoteWriteUrl: URL } }, { name: "a", connection: { host: "h2" }, client: { remoteWriteUrl: URL } }] }, o)),
    ).rejects.toThrow(/host "a": invalid name: appears twice/);
    await expect(runWithMocks((o) => new PyJoulesFleet("f", { hosts: [{ name: "x", connection: { host: "h1" } }] }, o))).rejects.toThrow(
      /host "x": invalid client\.remoteWriteUrl/,
    );
  });
});

describe("root program", () => {
  const exampleConfig = () => {
    const doc = load(readFileSync(join(__dirname, "..", "..", "Pulumi.example.yaml"), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(
      Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    );
  };

  it("builds the fleet of Pulumi.example.yaml", async () => {
    const config = { ...exampleConfig(), "pulumi-pyjoules:sshPrivateKey": KEY };
    const run = await runWithMocks((o) => stackProgram(new pulumi.Config(), o), { config, secretConfigKeys: ["pulumi-pyjoules:sshPrivateKey"] });
    expect(run.ofType(T.host).map((r) => r.name).sort()).toEqual(["pyjoules-canary", "pyjoules-rack1-node2", "pyjoules-rack1-node3"]);
    expect(run.byName("pyjoules-rack1-node3-docker").inputs.host).toBe("ssh://deploy@10.20.0.13:2222");
    expect(run.byName("pyjoules-rack1-node2-client").inputs.envs).toContain("SERVICE_LABEL=rack1-node2");
    const verified = await settle(run.result.verifiedProfiles);
    expect(Object.keys(verified).length).toBe(3);
  });

  it("rejects a config with an unknown key or a bad host, naming it", async () => {
    const config = { ...exampleConfig(), "pulumi-pyjoules:hosts": JSON.stringify([{ name: "a", host: "-bad-" }]) };
    await expect(runWithMocks((o) => stackProgram(new pulumi.Config(), o), { config })).rejects.toThrow(/^stack config \(every key is documented in Pulumi\.example\.yaml\): invalid [\w-]+:hosts\[0\]\.host: /);
    // a user error, not a crash: the SDK prints a RunError's message without a stack trace
    const missing = await runWithMocks((o) => stackProgram(new pulumi.Config(), o), { config: {} }).catch((e: unknown) => e);
    expect(pulumi.RunError.isInstance(missing)).toBe(true);
    expect((missing as Error).message).toMatch(/invalid [\w-]+:hosts: Invalid input: expected array, received undefined/);
    const typo = { ...exampleConfig(), "pulumi-pyjoules:client": JSON.stringify({ remoteWriteURL: URL }) };
    await expect(runWithMocks((o) => stackProgram(new pulumi.Config(), o), { config: typo })).rejects.toThrow(/client/);
  });
});

describe("healthcheck durations", () => {
  it("are spelled as Go's time.Duration prints them (what the provider reads back)", async () => {
    const { goDuration } = await import("../../components/healthcheck");
    expect([0, 5, 59, 60, 61, 90, 3599, 3600, 3661].map(goDuration)).toEqual(["0s", "5s", "59s", "1m0s", "1m1s", "1m30s", "59m59s", "1h0m0s", "1h1m1s"]);
  });
});
