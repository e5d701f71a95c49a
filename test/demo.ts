// npm run demo [-- --keep]
// Boots a disposable Debian 13 VM (built on first use) and deploys one host to it end to end with the root
// program, exactly as `pulumi up` in a checkout runs it: the real Pulumi CLI, pulumi-language-nodejs and the
// command/docker plugins (yours when your `pulumi` has both plugins, else the toolchain `npm run toolchain`
// builds, which the demo runs first when neither is there), a local file backend. Prints the verified profile
// and the attestation, and how to ssh in. Stops the VM on exit (Ctrl-C included) unless --keep.
import { spawn } from "node:child_process";
import { EngineStack, requireEngine, rootProjectDir } from "./engine";
import { REPO_ROOT, resolvePulumi } from "./toolchain";
import { HOST_NAME, plainConfig, PROJECT, secretConfig, secs } from "./posture/fleet";
import { demoSummary } from "./demo-summary";
import { ensureHostPackages, VM_NEEDS } from "./setup/host-packages";
import { bootVm, ensureImage, startPrometheus, waitForQuery, type Vm } from "./vm";

const keep = process.argv.includes("--keep");
let vm: Vm | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (vm && !keep) {
      console.log("[demo] stopping the VM");
      await vm.stop().catch(() => undefined);
    }
  }
  process.exit(code);
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    console.log(`\n[demo] ${sig}: cleaning up`);
    keepAliveOff();
    void shutdown(130);
  });
}
let keepAlive: NodeJS.Timeout | undefined;
const keepAliveOff = () => keepAlive && clearInterval(keepAlive);

/** `npm run toolchain`, its lines prefixed; rejects when it fails (it names what is missing). */
function buildToolchain(): Promise<void> {
  console.log("[demo] no usable pulumi yet: building the real Pulumi toolchain (`npm run toolchain`; ~10-16 min the first time, then cached)");
  return new Promise((resolve, reject) => {
    const p = spawn("npm", ["run", "--silent", "toolchain"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const prefix = (d: Buffer) => process.stdout.write(d.toString().replace(/^(?=.)/gm, "[demo] "));
    p.stdout.on("data", prefix);
    p.stderr.on("data", prefix);
    p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`npm run toolchain exited ${code} (see above)`))));
  });
}

/** What a user asks their Prometheus: the host's energy counter, and its rate as power. */
const ENERGY_QUERY = `pyjoules_energy_microjoules_total{host="${HOST_NAME}"}`;
const WATTS_QUERY = `rate(pyjoules_energy_microjoules_total{host="${HOST_NAME}"}[1m]) / 1e6`;

async function main(): Promise<void> {
  ensureHostPackages(VM_NEEDS, "npm run demo", (l) => console.log(l));
  const t0 = Date.now();
  // Without a usable pulumi, the real toolchain is built first, beside the image (both cached afterwards).
  const toolchain = resolvePulumi(() => undefined).source === "none" ? buildToolchain() : Promise.resolve();
  console.log("[demo] preparing the Debian 13 (trixie) image (first run builds it: a few minutes)");
  const image = await ensureImage("trixie", (l) => console.log(`[demo] ${l}`));
  console.log(`[demo] image ready in ${secs(Date.now() - t0)}: ${image.dir}`);
  await toolchain;
  vm = await bootVm(image, { log: (l) => console.log(`[demo] ${l}`) });

  console.log(`[demo] engine: ${requireEngine((l) => console.log(`[demo] ${l}`))}`);
  console.log("[demo] starting the VM's Prometheus (remote-write receiver) for the client to push to");
  await startPrometheus(vm);
  const project = rootProjectDir();
  const cli = await EngineStack.create({ project: PROJECT, stack: "demo", workDir: project.dir, echo: true });
  await cli.setConfig(plainConfig(vm), secretConfig(vm));
  const t1 = Date.now();
  console.log(`[demo] pulumi up of the root program (${project.dir} → this checkout's index.ts)`);
  const up = await cli.up();
  const outputs = up.outputs;
  console.log(`[demo] state: ${cli.stateDir} (PULUMI_CONFIG_PASSPHRASE=pyjoules-test)`);
  console.log(`[demo] deployed in ${secs(Date.now() - t1)}`);
  console.log(`\n[demo] summary\n${demoSummary(outputs)}\n`);
  console.log("[demo] verifiedProfiles and attestations (full JSON):");
  console.log(JSON.stringify({ verifiedProfiles: outputs.verifiedProfiles, attestations: outputs.attestations }, null, 2));
  const [energy] = await waitForQuery(vm, ENERGY_QUERY, (r) => r.length > 0 && r[0]!.value > 0);
  const [watts] = await waitForQuery(vm, WATTS_QUERY, (r) => r.length > 0);
  console.log(`[demo] the energy reached the VM's Prometheus by remote write:\n  ${ENERGY_QUERY} = ${energy!.value.toFixed(0)} µJ\n  ${WATTS_QUERY} = ${watts?.value.toFixed(2)} W`);
  const sshLine =
    `ssh -F /dev/null -i ${image.userKeyPath} -o IdentitiesOnly=yes -o UserKnownHostsFile=${vm.knownHostsPath} ` +
    `-o StrictHostKeyChecking=yes -p ${vm.port} ${vm.user}@${vm.host}`;
  if (!keep) console.log("[demo] run `npm run demo -- --keep` to keep the VM up and get an ssh line into it");
  else console.log(`[demo] get in:\n  ${sshLine}\n  then e.g.: docker logs pyjoules-client; sudo aa-status; cat /etc/apparmor.d/containers/docker-pyjoules`);
  if (keep) {
    console.log(`[demo] --keep: the VM stays up while this process runs (serial log ${vm.serialLogPath}); Ctrl-C stops it`);
    keepAlive = setInterval(() => undefined, 1 << 30);
    return;
  }
  await shutdown(0);
}

main().catch(async (e: unknown) => {
  console.error(`[demo] failed: ${(e as Error)?.stack ?? String(e)}`);
  keepAliveOff();
  await shutdown(1);
});
