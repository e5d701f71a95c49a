// The guest's own Prometheus (pyjoules-prometheus.service from build-image.sh: Debian's prometheus package, the
// remote-write receiver on, listening on docker0's address only, data in /run). Started on demand; queried from
// inside the guest with its python3, so nothing but SSH crosses to the guest.
import { shellQuote } from "../../profiles/commands";
import type { Vm } from "./vm";

const UNIT = "pyjoules-prometheus";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** GET http://<docker0>:9090<path> inside the guest: the body, or throws with Prometheus' error. */
async function get(vm: Vm, pathAndQuery: string): Promise<string> {
  const py = [
    "import subprocess, sys, urllib.request",
    "a = subprocess.run(['ip', '-4', '-o', 'addr', 'show', 'dev', 'docker0'], capture_output=True, text=True).stdout.split()[3].split('/')[0]",
    "sys.stdout.write(urllib.request.urlopen('http://%s:9090%s' % (a, sys.argv[1]), timeout=10).read().decode())",
  ].join("\n");
  const r = await vm.ssh(`python3 -c ${shellQuote(py)} ${shellQuote(pathAndQuery)}`, { allowFail: true, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`prometheus ${pathAndQuery}: ${(r.stderr || r.stdout).trim().split("\n").pop()}`);
  return r.stdout;
}

/** Starts the guest's Prometheus and waits (bounded) until it answers ready. */
export async function startPrometheus(vm: Vm, timeoutMs = 120_000): Promise<void> {
  await vm.ssh(`sudo -n systemctl start ${UNIT}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = await get(vm, "/-/ready").then((b) => b.includes("Ready"), () => false);
    if (ready) return;
    if (Date.now() > deadline) {
      const status = await vm.ssh(`systemctl status --no-pager -n 20 ${UNIT} 2>&1`, { allowFail: true });
      throw new Error(`Prometheus in the guest was not ready within ${timeoutMs / 1000} s:\n${status.stdout}`);
    }
    await sleep(2000);
  }
}

export async function stopPrometheus(vm: Vm): Promise<void> {
  await vm.ssh(`sudo -n systemctl stop ${UNIT}`);
}

export interface PromSample {
  labels: Record<string, string>;
  value: number;
  /** Unix seconds of the evaluation. */
  at: number;
}

/** An instant query: one entry per series. */
export async function queryPrometheus(vm: Vm, promql: string): Promise<PromSample[]> {
  const body = JSON.parse(await get(vm, `/api/v1/query?query=${encodeURIComponent(promql)}`)) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== "success") throw new Error(`query ${promql}: ${JSON.stringify(body)}`);
  return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]), at: r.value[0] }));
}

/** Polls `promql` (bounded) until `ok` accepts the result; returns it. */
export async function waitForQuery(vm: Vm, promql: string, ok: (r: PromSample[]) => boolean, timeoutMs = 90_000): Promise<PromSample[]> {
  const deadline = Date.now() + timeoutMs;
  let last: PromSample[] = [];
  for (;;) {
    last = await queryPrometheus(vm, promql);
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`query ${promql}: no acceptable result within ${timeoutMs / 1000} s; last ${JSON.stringify(last)}`);
    await sleep(2000);
  }
}
