import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import * as ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";
import { AppArmorProfile, PyJoulesHost } from "../../components";
import { DEFAULT_CONTAINER_NAME, DEFAULT_IMAGE, LOG_OPTS } from "../../components/pyJoulesHost";
import { EnergyNode, embeddedProgram } from "../../examples/embedded";
import { fleetProgram, HOSTS } from "../../examples/fleet/program";
import { renderPyJoulesProfile } from "../../profiles/render";
import { healthyHostOutputs, provisionedText, Registered, runWithMocks, settle, TEST_HOST_KEY, TEST_URL, TYPES } from "./helpers/mocks";

const root = resolve(__dirname, "..", "..");
const examples = join(root, "examples");
const read = (...p: string[]) => readFileSync(join(root, ...p), "utf8");

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAEXAMPLES-TEST-ONLY\n-----END OPENSSH PRIVATE KEY-----\n";
const HOST_KEY = TEST_HOST_KEY;
const URL = TEST_URL;
const POWERCAP_MOUNTS = [
  { type: "bind", source: "/sys/class/powercap", target: "/sys/class/powercap", readOnly: true },
  { type: "bind", source: "/sys/devices/virtual/powercap", target: "/sys/devices/virtual/powercap", readOnly: true },
];
const T = { ...TYPES, node: "acme:platform:EnergyNode" };

beforeAll(() => {
  // The docker path writes the key to a private file; keep it out of the home directory.
  process.env.PULUMI_PYJOULES_SSH_DIR = join(mkdtempSync(join(tmpdir(), "pyj-examples-")), "ssh");
});

const count = (run: { ofType(t: string): Registered[] }, types: string[]) =>
  Object.fromEntries(types.map((t) => [t, run.ofType(t).length]));
/** Names of the resources in a recorded dependsOn (sorted). */
const depNames = (r: Registered) =>
  (([] as pulumi.Resource[]).concat((r.opts.dependsOn as pulumi.Resource[] | undefined) ?? []))
    .map((d: any) => d.__name as string)
    .sort();
const isSecret = (v: unknown): Promise<boolean> => (pulumi.output(v) as any).isSecret;
const yamlConfig = (file: string) => {
  const doc = load(read(file)) as { config: Record<string, unknown> };
  return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
};

describe("examples type-check", () => {
  const diagnostics = (program: ts.Program) =>
    ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file ? `${relative(root, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : "";
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
  const parseConfig = (file: string) => {
    const parsed = ts.getParsedCommandLineOfConfigFile(file, { noEmit: true }, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    });
    if (!parsed) throw new Error(`cannot parse ${file}`);
    expect(parsed.errors).toEqual([]);
    return parsed;
  };
  const checked = new Set<string>();
  const check = (rootNames: string[], options: ts.CompilerOptions) => {
    const program = ts.createProgram(rootNames, { ...options, noEmit: true });
    for (const f of program.getSourceFiles()) checked.add(resolve(f.fileName));
    return diagnostics(program);
  };

  it("examples/fleet type-checks with its own tsconfig.json (as `tsc --noEmit -p examples/fleet`)", () => {
    const parsed = parseConfig(join(examples, "fleet", "tsconfig.json"));
    expect(parsed.fileNames.map((f) => relative(examples, f))).toEqual([join("fleet", "index.ts")]);
    // "pyjoules" is the installed package there; here it is the sources (package.test.ts checks the build).
    expect(check(parsed.fileNames, { ...parsed.options, paths: { pyjoules: [join(root, "components", "index.ts")] } })).toEqual([]);
  });

  it("every other example type-checks with the repository's tsconfig.json, and none is left out", () => {
    const parsed = parseConfig(join(root, "tsconfig.json"));
    const all = (dir: string): string[] =>
      readdirSync(dir).flatMap((e) => {
        const p = join(dir, e);
        if (e === "node_modules" || e === "bin") return [];
        return statSync(p).isDirectory() ? all(p) : p.endsWith(".ts") ? [p] : [];
      });
    const files = all(examples);
    expect(files.length).toBeGreaterThanOrEqual(3);
    // The root tsconfig includes examples/**/*.ts, so `tsc --noEmit -p .` checks them too.
    for (const f of files) expect(parsed.fileNames.map((n) => resolve(n)), relative(root, f)).toContain(resolve(f));
    expect(check(files, parsed.options)).toEqual([]);
    for (const f of files) expect(checked.has(resolve(f)), relative(root, f)).toBe(true);
  });
});

describe("examples/fleet", () => {
  const project = load(read("examples/fleet/Pulumi.yaml")) as { name: string; runtime: { name: string }; main: string };
  const fleetConfig = () => ({ ...yamlConfig("examples/fleet/Pulumi.dev.yaml"), [`${project.name}:sshPrivateKey`]: KEY });
  const runFleet = () =>
    runWithMocks((o) => fleetProgram(new pulumi.Config(project.name), o), {
      config: fleetConfig(),
      secretConfigKeys: [`${project.name}:sshPrivateKey`],
    });
  const names = HOSTS.map((h) => h.name);

  it("is a nodejs Pulumi project that depends on this package by a relative path, installed as a copy", () => {
    expect(project.runtime.name).toBe("nodejs");
    expect(project.main).toBe("index.ts");
    const pkg = JSON.parse(read("examples/fleet/package.json"));
    expect(pkg.main).toBe("index.ts");
    const dep: string = pkg.dependencies["pyjoules"];
    expect(dep).toMatch(/^file:\.\.?\//);
    const target = resolve(examples, "fleet", dep.slice("file:".length));
    expect(target).toBe(root);
    expect(JSON.parse(read("package.json")).name).toBe("pyjoules");
    expect(pkg.dependencies["@pulumi/pulumi"]).toBeDefined();
    // Installed as a packed copy (the compiled build), not a symlink to the sources, and imported by name.
    expect(read("examples/fleet/.npmrc")).toMatch(/^install-links=true$/m);
    for (const f of ["index.ts", "program.ts"]) expect(read("examples/fleet", f), f).not.toMatch(/from "\.\.\/\.\.\//);
    expect(read("examples/fleet/program.ts")).toContain('from "pyjoules";');
    // Stack config belongs to this project, and the secret is not in the file in clear.
    const keys = Object.keys(yamlConfig("examples/fleet/Pulumi.dev.yaml"));
    for (const k of keys) expect(k.startsWith(`${project.name}:`), k).toBe(true);
    expect(keys).not.toContain(`${project.name}:sshPrivateKey`);
    expect(existsSync(join(examples, "fleet", "README.md"))).toBe(true);
  });

  it("creates one PyJoulesHost per inventory host, each with the full set of children", async () => {
    const run = await runFleet();
    expect(count(run, [T.fleet, T.host, T.profile, T.command, T.provider, T.container])).toEqual({
      [T.fleet]: 1,
      [T.host]: 4,
      [T.profile]: 4,
      [T.command]: 8,
      [T.provider]: 4,
      [T.container]: 4,
    });
    expect(run.ofType(T.host).map((r) => r.name).sort()).toEqual(names.map((n) => `lab-${n}`).sort());
    for (const n of names) {
      const c = run.byName(`lab-${n}-client`).inputs;
      expect(c.securityOpts, n).toEqual(["apparmor=docker-pyjoules", "systempaths=unconfined"]);
      expect(c.mounts, n).toEqual(POWERCAP_MOUNTS);
      expect(c.privileged, n).toBe(false);
      expect(c.capabilities, n).toBeUndefined();
      expect(c.image, n).toBe("aimilefth/cpu-pyjoules");
      expect(c.envs, n).toContain(`REMOTE_WRITE_URL=https://prometheus.example.com/api/v1/write`);
      expect(c.envs, n).toContain("SITE=fra1");
    }
  });

  it("applies the per-host overrides on top of the defaults", async () => {
    const run = await runFleet();
    expect(run.byName("lab-canary-client").inputs.envs).toEqual(expect.arrayContaining(["SERVICE_LABEL=canary", "LOG_LEVEL=DEBUG", "PUSH_INTERVAL_S=4"]));
    expect(run.byName("lab-rack1-node2-client").inputs.envs).toEqual(expect.arrayContaining(["RACK=rack1", "SITE=fra1"]));
    expect(run.byName("lab-rack1-node3-docker").inputs.host).toBe("ssh://deploy@10.20.0.13:2222");
    expect(run.byName("lab-rack1-node2-docker").inputs.host).toBe("ssh://deploy@node2.rack1.example.com:22");
    expect(run.byName("lab-gpu-01-docker").inputs.host).toBe("ssh://pyjoules@gpu-01.lab.example.com:22");
    expect(run.byName("lab-gpu-01-client").inputs.envs).toEqual(expect.arrayContaining(["PUSH_INTERVAL_S=2", "SERVICE_LABEL=gpu-01"]));
    expect(provisionedText(run.byName("lab-gpu-01-profile-provision").inputs)).toBe(renderPyJoulesProfile({ extraReadPaths: ["/etc/pyjoules/**"] }));
    expect(provisionedText(run.byName("lab-canary-profile-provision").inputs)).toBe(renderPyJoulesProfile());
  });

  it("pins every host key on both SSH paths", async () => {
    const run = await runFleet();
    for (const h of HOSTS) {
      const hostKey = h.connection.hostKey as string;
      expect(hostKey, h.name).toMatch(/^ssh-ed25519 /);
      expect(run.byName(`lab-${h.name}-profile-provision`).inputs.connection.hostKey).toBe(hostKey);
      expect(run.byName(`lab-${h.name}-attest`).inputs.connection.hostKey).toBe(hostKey);
      const opts: string[] = JSON.parse(run.byName(`lab-${h.name}-docker`).inputs.sshOpts);
      expect(opts).toContain("StrictHostKeyChecking=yes");
      expect(opts).toContain(`KnownHostsCommand=/bin/echo %H ${hostKey}`);
    }
  });

  it("keeps the key from config.requireSecret secret, and refuses to run without it", async () => {
    const run = await runFleet();
    for (const r of run.resources) {
      const holds = JSON.stringify(r.inputs).includes("EXAMPLES-TEST-ONLY");
      expect(holds, r.name).toBe(r.type === T.command);
      if (r.type === T.command) expect(await isSecret(r.props.connection), r.name).toBe(true);
      if (r.type === T.provider) expect(await isSecret(r.props.sshOpts), r.name).toBe(true);
    }
    const outputs = JSON.stringify(await Promise.all([settle(run.result.verifiedProfiles), settle(run.result.attestations)]));
    expect(outputs).not.toContain("EXAMPLES-TEST-ONLY");
    const { [`${project.name}:sshPrivateKey`]: _key, ...withoutKey } = fleetConfig();
    await expect(runWithMocks((o) => fleetProgram(new pulumi.Config(project.name), o), { config: withoutKey })).rejects.toThrow(
      /sshPrivateKey/,
    );
  });

  it("rolls out in waves: each wave's provisioning waits for every host of the earlier waves", async () => {
    const run = await runFleet();
    const provision = (n: string) => depNames(run.byName(`lab-${n}-profile-provision`));
    expect(provision("canary")).toEqual([]);
    expect(provision("rack1-node2")).toEqual(["lab-canary"]);
    expect(provision("rack1-node3")).toEqual(["lab-canary"]);
    expect(provision("gpu-01")).toEqual(["lab-canary", "lab-rack1-node2", "lab-rack1-node3"]);
    expect(depNames(run.byName("lab-gpu-01"))).toEqual(["lab-canary", "lab-rack1-node2", "lab-rack1-node3"]);
    // Within a host the container still waits for its own verified profile.
    expect((run.byName("lab-gpu-01-client").opts.dependsOn as pulumi.Resource[]).some((d) => d instanceof AppArmorProfile)).toBe(true);
  });

  it("exports the verified profiles and attestations of every host", async () => {
    const run = await runFleet();
    const profiles = await settle(run.result.verifiedProfiles);
    const attestations = await settle(run.result.attestations);
    expect(Object.keys(profiles).sort()).toEqual([...names].sort());
    expect(Object.values(profiles).every((p) => p.mode === "enforce" && p.name === "docker-pyjoules")).toBe(true);
    expect(Object.values(attestations).every((a) => a.ok && a.procAttrCurrent === "docker-pyjoules (enforce)")).toBe(true);
  });

  it("index.ts (the project's entry point) runs the same program and exports its outputs", async () => {
    // Under mocks the project is this repository's ("pulumi-pyjoules"), so the config keys are renamed.
    const config = Object.fromEntries(Object.entries(fleetConfig()).map(([k, v]) => [k.replace(`${project.name}:`, "pulumi-pyjoules:"), v]));
    const types: string[] = [];
    let loaded!: Promise<typeof import("../../examples/fleet/index")>;
    await runWithMocks(
      () => {
        loaded = import("../../examples/fleet/index");
      },
      {
        config,
        secretConfigKeys: ["pulumi-pyjoules:sshPrivateKey"],
        outputs: (type, inputs) => (types.push(type), healthyHostOutputs(type, inputs)),
      },
    );
    const mod = await loaded;
    expect(Object.keys(await settle(mod.verifiedProfiles)).sort()).toEqual([...names].sort());
    expect(Object.keys(await settle(mod.attestations)).sort()).toEqual([...names].sort());
    expect(types.filter((t) => t === T.container).length).toBe(4);
  });
});

describe("examples/embedded", () => {
  const settings = {
    host: "edge-01.example.com",
    hostKey: HOST_KEY,
    agentSocketPath: "/run/user/1000/ssh-agent.sock",
    remoteWriteUrl: URL,
    exporterImage: "registry.example.com/acme/rapl-exporter:1.4.2",
  };
  const runEmbedded = () => runWithMocks((o) => embeddedProgram(settings, o));

  it("creates our components under a custom parent, next to resources that are not ours", async () => {
    const run = await runEmbedded();
    expect(count(run, [T.node, T.host, T.profile, T.command, T.provider, T.container])).toEqual({
      [T.node]: 1,
      [T.host]: 1,
      [T.profile]: 2, // the host's own, and the exporter's standalone one
      [T.command]: 4, // bootstrap, the host's provision + attest, the exporter's provision
      [T.provider]: 2,
      [T.container]: 2,
    });
    const node = run.byName("edge-01");
    expect(node.opts.parent).toBeUndefined();
    for (const name of ["edge-01-bootstrap", "edge-01-pyjoules", "edge-01-exporter-profile", "edge-01-docker", "edge-01-exporter"]) {
      expect(run.byName(name).opts.parent, name).toBeInstanceOf(EnergyNode);
    }
    expect(run.byName("edge-01-pyjoules-client").opts.parent).toBeInstanceOf(PyJoulesHost);
  });

  it("uses one connection (agent, pinned host key) for its own command and both components", async () => {
    const run = await runEmbedded();
    const bootstrap = run.byName("edge-01-bootstrap").inputs;
    expect(bootstrap.create).toContain("sudo -n");
    expect(bootstrap.create).not.toContain("pyjoules");
    for (const name of ["edge-01-bootstrap", "edge-01-pyjoules-profile-provision", "edge-01-pyjoules-attest", "edge-01-exporter-profile-provision"]) {
      const c = run.byName(name).inputs.connection;
      expect({ host: c.host, user: c.user, hostKey: c.hostKey, agentSocketPath: c.agentSocketPath }, name).toEqual({
        host: settings.host,
        user: "deploy",
        hostKey: HOST_KEY,
        agentSocketPath: settings.agentSocketPath,
      });
      expect(c.privateKey, name).toBeUndefined();
    }
    for (const name of ["edge-01-docker", "edge-01-pyjoules-docker"]) {
      const p = run.byName(name).inputs;
      expect(p.host, name).toBe("ssh://deploy@edge-01.example.com:22");
      expect(p.disableDockerDaemonCheck, name).toBe("true");
      const opts: string[] = JSON.parse(p.sshOpts);
      expect(opts, name).toEqual(expect.arrayContaining([
        "StrictHostKeyChecking=yes",
        "UserKnownHostsFile=/dev/null",
        `KnownHostsCommand=/bin/echo %H ${HOST_KEY}`,
        `IdentityAgent=${settings.agentSocketPath}`,
      ]));
      expect(opts.join(" "), name).not.toMatch(/StrictHostKeyChecking=no/);
    }
  });

  it("passes dependsOn through: nothing of pyJoules is provisioned before the bootstrap command", async () => {
    const run = await runEmbedded();
    expect(depNames(run.byName("edge-01-pyjoules"))).toEqual(["edge-01-bootstrap"]);
    expect(depNames(run.byName("edge-01-pyjoules-profile-provision"))).toEqual(["edge-01-bootstrap"]);
    expect(depNames(run.byName("edge-01-exporter-profile-provision"))).toEqual(["edge-01-bootstrap"]);
    expect(depNames(run.byName("edge-01-pyjoules-client"))).toEqual(["edge-01-pyjoules-profile"]);
  });

  it("runs the pyJoules client with the restricted options", async () => {
    const run = await runEmbedded();
    const c = run.byName("edge-01-pyjoules-client").inputs;
    expect(c.securityOpts).toEqual(["apparmor=docker-pyjoules", "systempaths=unconfined"]);
    expect(c.mounts).toEqual(POWERCAP_MOUNTS);
    expect(c.privileged).toBe(false);
    expect(c.envs).toEqual([`REMOTE_WRITE_URL=${URL}`, "SERVICE_LABEL=edge-01"]);
  });

  it("confines the exporter with AppArmorProfile alone: its own rendered profile, verified before the container", async () => {
    const run = await runEmbedded();
    const p = run.byName("edge-01-exporter-profile-provision");
    expect(provisionedText(p.inputs)).toBe(renderPyJoulesProfile({ name: "docker-rapl-exporter", extraReadPaths: ["/etc/rapl-exporter/**"] }));
    expect(p.inputs.stdin).toContain('profile "docker-rapl-exporter" ');
    expect(p.inputs.stdin).toContain("\nset -- 'docker-rapl-exporter' 'yes'\n");
    expect(p.inputs.stdin).toContain("exec sudo -n /bin/sh -c");
    expect(p.inputs.delete).toContain("pyjoules-remove");

    const e = run.byName("edge-01-exporter");
    expect(e.inputs.name).toBe("rapl-exporter");
    expect(e.inputs.image).toBe(settings.exporterImage);
    expect(e.inputs.securityOpts).toEqual(["apparmor=docker-rapl-exporter", "systempaths=unconfined"]);
    expect(e.inputs.mounts).toEqual([
      ...POWERCAP_MOUNTS,
      { type: "bind", source: "/etc/rapl-exporter", target: "/etc/rapl-exporter", readOnly: true },
    ]);
    expect(e.inputs.privileged).toBe(false);
    expect(e.inputs.capabilities).toBeUndefined();
    expect(e.inputs.restart).toBe("unless-stopped");
    expect(e.inputs.logOpts).toEqual({ ...LOG_OPTS });
    // Ordered after (and deleted before) its profile; on its own provider, not the host component's.
    const deps = e.opts.dependsOn as pulumi.Resource[];
    expect(deps.some((d) => d instanceof AppArmorProfile && (d as any).__name === "edge-01-exporter-profile")).toBe(true);
    expect((e.opts.provider as any).__name).toBe("edge-01-docker");
    expect(e.opts.deleteBeforeReplace).toBe(true);
    // The apparmor= value is derived from the profile's verified name (a data dependency too).
    expect(await settle(e.props.securityOpts[0])).toBe("apparmor=docker-rapl-exporter");

    const out = run.result;
    const verified = await settle(out.exporterProfile);
    expect(verified).toMatchObject({ name: "docker-rapl-exporter", mode: "enforce", loader: "pyjoules-apparmor@docker-rapl-exporter.service" });
    expect((await settle(out.pyjoulesAttestation)).ok).toBe(true);
    expect(await settle(out.exporterName)).toBe("rapl-exporter");
  });

  it("has a README", () => {
    expect(read("examples/embedded/README.md")).toContain("AppArmorProfile");
  });
});

describe("examples/compose", () => {
  type Service = Record<string, any>;
  const doc = load(read("examples/compose/docker-compose.yml")) as { services: Record<string, Service> };
  const profileName = /^profile "([^"]+)"/m.exec(read("profiles/docker-pyjoules"))?.[1];
  const svc = () => doc.services["pyjoules-client"]!;
  const readme = read("examples/compose/README.md");

  it("has exactly one service, with only the expected keys (no privileged, no cap_add)", () => {
    expect(Object.keys(doc.services)).toEqual(["pyjoules-client"]);
    expect(Object.keys(svc()).sort()).toEqual(
      ["container_name", "environment", "extra_hosts", "image", "logging", "restart", "security_opt", "volumes"].sort(),
    );
    for (const k of ["privileged", "cap_add", "devices", "pid", "ipc", "network_mode", "userns_mode"]) expect(svc()[k], k).toBeUndefined();
  });

  it("mounts both powercap trees read-only at the same paths, and nothing else", () => {
    const volumes: string[] = svc().volumes;
    expect(volumes).toEqual(POWERCAP_MOUNTS.map((m) => `${m.source}:${m.target}:ro`));
    for (const v of volumes) {
      const [src, dst, mode] = v.split(":");
      expect(src).toBe(dst);
      expect(mode).toBe("ro");
    }
  });

  it("sets exactly apparmor=<the profile in profiles/docker-pyjoules> and systempaths=unconfined", () => {
    expect(profileName).toBe("docker-pyjoules");
    expect(svc().security_opt).toEqual([`apparmor=${profileName}`, "systempaths=unconfined"]);
  });

  it("matches the component's container: restart, host gateway, log rotation, env, image, name", () => {
    expect(svc().restart).toBe("unless-stopped");
    expect(svc().extra_hosts).toEqual(["host.docker.internal:host-gateway"]);
    expect(svc().logging).toEqual({ driver: "json-file", options: { ...LOG_OPTS } });
    expect(svc().container_name).toBe(DEFAULT_CONTAINER_NAME);
    expect(svc().image).toBe(`\${PYJOULES_IMAGE:-${DEFAULT_IMAGE}}`);
    const env: Record<string, string> = svc().environment;
    expect(Object.keys(env).sort()).toEqual(
      ["LOG_LEVEL", "MAX_RETRY_BATCHES", "PUSH_INTERVAL_S", "REMOTE_WRITE_URL", "SCRAPE_INTERVAL_S", "SERVICE_LABEL"],
    );
    expect(env.REMOTE_WRITE_URL).toMatch(/^\$\{REMOTE_WRITE_URL:\?/); // required: compose refuses to start without it
    expect(read("examples/compose/.env.example")).toMatch(/^REMOTE_WRITE_URL=https?:\/\//m);
  });

  it("README gives the exact commands, matching the scripts' usage", () => {
    const provision = `sudo sh profiles/provision.sh ${profileName} yes < profiles/${profileName}`;
    expect(readme).toContain(provision);
    expect(read("profiles/provision.sh")).toContain('usage: provision.sh NAME yes|no < profile');
    expect(readme).toContain("docker compose up -d");
    expect(readme).toContain(`sudo sh profiles/attest.sh ${profileName} ${DEFAULT_CONTAINER_NAME} yes`);
    expect(read("profiles/attest.sh")).toContain("usage: attest.sh PROFILE CONTAINER yes|no");
    expect(readme).toContain(`sudo sh profiles/remove.sh ${profileName}`);
    // The boot-time loader the README names is the unit provision.sh enables.
    expect(read("profiles/provision.sh")).toContain("unit=pyjoules-apparmor@$name.service");
    expect(readme).toContain(`pyjoules-apparmor@${profileName}.service`);
    expect(readme).toMatch(/re-mask/);
  });
});

describe("examples/ci", () => {
  type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; if?: string };
  const wf = load(read("examples/ci/preview.yml")) as {
    on: Record<string, unknown>;
    permissions: Record<string, string>;
    env: Record<string, string>;
    jobs: Record<string, { env?: Record<string, string>; steps: Step[] }>;
  };
  const steps = () => Object.values(wf.jobs).flatMap((j) => j.steps);

  it("runs `pulumi preview --diff` on pull requests, without refresh", () => {
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    const preview = steps().filter((s) => /\bpulumi preview --diff\b/.test(s.run ?? ""));
    expect(preview.length).toBe(1);
    expect(preview[0]!.run).toContain("--refresh=false");
    expect(preview[0]!.run).toContain("--non-interactive");
    expect(preview[0]!.run).toContain('--stack "$PULUMI_STACK"');
    expect(wf.env.PULUMI_STACK).toBeTruthy();
  });

  it("sets up Node 22, npm ci, the Pulumi CLI and a backend; the SSH key is no GitHub secret", () => {
    const s = steps();
    const node = s.find((x) => x.uses?.startsWith("actions/setup-node@"));
    expect(String(node?.with?.["node-version"])).toBe("22");
    const order = (pred: (x: Step) => boolean) => s.findIndex(pred);
    const npmCi = order((x) => x.run === "npm ci");
    const cli = order((x) => x.uses?.startsWith("pulumi/actions@") ?? false);
    const preview = order((x) => /pulumi preview/.test(x.run ?? ""));
    expect(npmCi).toBeGreaterThan(order((x) => x === node));
    expect(cli).toBeGreaterThan(-1);
    expect(s[cli]!.with?.command).toBeUndefined(); // install only; the preview is the explicit step
    expect(preview).toBeGreaterThan(Math.max(npmCi, cli));
    const env = Object.values(wf.jobs)[0]!.env ?? {};
    expect(env.PULUMI_ACCESS_TOKEN).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
    expect(read("examples/ci/preview.yml")).toContain("PULUMI_BACKEND_URL");
    expect(JSON.stringify(wf)).not.toMatch(/secrets\.[A-Z_]*(SSH|KEY)/i);
  });

  it("comments on the pull request", () => {
    expect(wf.permissions["pull-requests"]).toBe("write");
    const comment = steps().find((x) => x.uses?.startsWith("actions/github-script@"));
    expect(String(comment?.with?.script)).toMatch(/createComment|updateComment/);
  });

  it("has a README explaining why preview needs no SSH", () => {
    const readme = read("examples/ci/README.md");
    expect(readme).toContain("disableDockerDaemonCheck");
    expect(readme).toMatch(/Remote commands do not run in preview/);
  });
});

describe("the root stack program's project (Pulumi.yaml)", () => {
  const project = load(read("Pulumi.yaml")) as { runtime: { name: string; options?: Record<string, unknown> }; main: string };
  const tsconfig = (file: string) => ts.readConfigFile(join(root, file), ts.sys.readFile).config as { extends?: string; compilerOptions: Record<string, unknown> };

  it("runs index.ts transpile-only: its tsconfig sets noCheck and repeats tsconfig.json's module settings", () => {
    expect(project.runtime.name).toBe("nodejs");
    expect(project.main).toBe("index.ts");
    const file = project.runtime.options?.tsconfig;
    expect(file, "runtime.options.tsconfig").toBe("tsconfig.pulumi.json");
    const pulumiTs = tsconfig(file as string);
    const base = tsconfig("tsconfig.json");
    expect(pulumiTs.extends).toBe("./tsconfig.json");
    expect(pulumiTs.compilerOptions.noCheck).toBe(true);
    // pulumi-language-nodejs spreads only this file's compilerOptions over its nodenext defaults.
    for (const k of ["target", "module", "moduleResolution"]) expect(pulumiTs.compilerOptions[k], k).toBe(base.compilerOptions[k]);
    expect(base.compilerOptions.noCheck, "npm run build still type-checks").toBeUndefined();
  });
});
