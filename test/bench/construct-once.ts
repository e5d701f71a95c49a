// One measurement: build a fleet of N hosts under Pulumi mocks, either through PyJoulesFleet or as the
// same raw @pulumi resources created directly. Prints one JSON line. Run by run.ts (one fresh process per measurement).
// Peak heap: heapUsed sampled every 25 registrations and every 20 ms while waiting.
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { PyJoulesFleet } from "../../components";
import { healthyHostOutputs, unwrapSecrets } from "../unit/helpers/mocks";

const [mode, hostsArg] = process.argv.slice(2);
const hosts = Number(hostsArg);
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----\n";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvbS6YQ5WlM3LL+7xcF8tJ0cPq3+1bc8cF7mQX9yHcd";
const URL = "https://prom.example.com/api/v1/write";

let peakHeap = 0;
const sampleHeap = () => {
  const h = process.memoryUsage().heapUsed;
  if (h > peakHeap) peakHeap = h;
};

async function main() {
  let registered = 0;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (++registered % 25 === 0) sampleHeap();
        const inputs = unwrapSecrets(args.inputs);
        return { id: `${args.name}-id`, state: { ...inputs, ...healthyHostOutputs(args.type, inputs) } };
      },
      call: (a) => a.inputs,
    },
    "bench",
    "bench",
    false,
  );
  const ips = Array.from({ length: hosts }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  const t0 = process.hrtime.bigint();
  let expected: number;
  if (mode === "component") {
    new PyJoulesFleet("f", {
      defaults: { connection: { user: "deploy", privateKey: pulumi.secret(KEY) }, client: { remoteWriteUrl: URL } },
      hosts: ips.map((ip, i) => ({ name: `h${i}`, connection: { host: ip, hostKey: HOST_KEY } })),
    });
    expected = 1 + hosts * 6;
  } else {
    // The same custom resources per host, without components: what a hand-written program would create.
    for (const [i, ip] of ips.entries()) {
      const connection = { host: ip, user: "deploy", privateKey: pulumi.secret(KEY), hostKey: HOST_KEY };
      const provision = new remote.Command(`h${i}-provision`, { connection, create: "provision", delete: "remove", stdin: "profile" });
      const provider = new docker.Provider(`h${i}-docker`, { host: `ssh://deploy@${ip}:22`, sshOpts: ["-o", "BatchMode=yes"], disableDockerDaemonCheck: true });
      const container = new docker.Container(
        `h${i}-client`,
        {
          name: "pyjoules-client",
          image: "aimilefth/cpu-pyjoules",
          envs: [`REMOTE_WRITE_URL=${URL}`],
          mounts: ["/sys/class/powercap", "/sys/devices/virtual/powercap"].map((p) => ({ type: "bind", source: p, target: p, readOnly: true })),
          securityOpts: [provision.id.apply(() => "apparmor=docker-pyjoules"), "systempaths=unconfined"],
          restart: "unless-stopped",
        },
        { provider, dependsOn: [provision] },
      );
      new remote.Command(`h${i}-attest`, { connection, create: container.name.apply((n) => `attest ${n}`), triggers: [container.id] }, { dependsOn: [container] });
    }
    expected = hosts * 4;
  }
  sampleHeap();
  const timer = setInterval(sampleHeap, 20);
  while (registered < expected) await new Promise((r) => setTimeout(r, 1));
  clearInterval(timer);
  sampleHeap();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(JSON.stringify({ mode, hosts, resources: registered, ms, peakRssMb: process.resourceUsage().maxRSS / 1024, peakHeapMb: peakHeap / 2 ** 20 }) + "\n");
  process.exit(0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
