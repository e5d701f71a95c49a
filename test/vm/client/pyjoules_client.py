"""The VM suite's test client: the real pyJoules library (PyPI release, see image.ts) measuring RAPL, and the
samples pushed to Prometheus by remote write (remote_write.py), as the seed's pyjoules-metrics-client-remote-write.

It discovers RAPL domains the way pyJoules does (RaplDevice.available_domains: /sys/class/powercap/
intel-rapl/intel-rapl:N/name), then measures in a loop with pyJoules' EnergyMeter and logs one line per
sample, e.g.

    pyjoules-client: sample=3 domain=package_0 counter_uj=123456789 energy_uj=20001843 duration_s=2.000

counter_uj is the raw counter pyJoules read at the end of the sample (it grows), energy_uj what pyJoules
computed for the sample. After each good sample it touches HEARTBEAT, which the container healthcheck
tests. Exit codes: 2 no RAPL domain, 3 asked to fail at start (PYJOULES_TEST_CLIENT_FAIL=start),
1 RAPL could not be read.

Every sample also becomes a point of the counter pyjoules_energy_microjoules_total{host, domain, service} (the
energy pyJoules measured since the client started), pushed every PUSH_INTERVAL_S (default 4) to
REMOTE_WRITE_URL; a failed push is kept (MAX_RETRY_BATCHES, default 5) and retried with backoff, and logged
with the URL's credentials redacted. Labels: host = HOST_LABEL (default: the container's hostname), service =
SERVICE_LABEL (default cpu-pyjoules). SCRAPE_INTERVAL_S (else PYJOULES_TEST_SAMPLE_S, default 2) is the sample
length.
"""
import logging
import os
import socket
import sys
import time

# pyJoules warns at import that pynvml (NVIDIA) is missing; this client measures RAPL only.
logging.getLogger().setLevel(logging.ERROR)

from pyJoules.device.device_factory import DeviceFactory
from pyJoules.device.rapl_device import RaplDevice
from pyJoules.energy_meter import EnergyMeter
from pyJoules.exception import NoSuchDeviceError

import remote_write

HEARTBEAT = "/tmp/pyjoules-client.healthy"


def log(message):
    print("pyjoules-client: " + message, flush=True)


def discover():
    try:
        domains = RaplDevice.available_domains()
    except NoSuchDeviceError:
        log("no RAPL domain found (pyJoules NoSuchDeviceError: /sys/class/powercap/intel-rapl is missing)")
        sys.exit(2)
    except OSError as e:
        log("cannot read RAPL: %s" % e)
        sys.exit(1)
    if not domains:
        log("no RAPL domain found (no intel-rapl:N zone with a package-N name)")
        sys.exit(2)
    return domains


def measure_once(meter, devices, interval):
    meter.start(tag="sample")
    time.sleep(interval)
    meter.stop()
    sample = meter.get_trace()[0]
    names = [str(d) for device in devices for d in device.get_configured_domains()]
    counters = [value for device in devices for value in device.get_energy()]
    return sample, dict(zip(names, counters))


def pusher_from_env():
    url = os.environ.get("REMOTE_WRITE_URL", "")
    if not url:
        log("REMOTE_WRITE_URL is not set: samples are only logged")
        return None, {}
    labels = {
        "__name__": "pyjoules_energy_microjoules_total",
        "host": os.environ.get("HOST_LABEL") or socket.gethostname(),
        "service": os.environ.get("SERVICE_LABEL") or "cpu-pyjoules",
    }
    log("pushing to %s as host=%s service=%s" % (remote_write.redact(url), labels["host"], labels["service"]))
    return remote_write.Pusher(url, int(os.environ.get("MAX_RETRY_BATCHES") or 5), log), labels


def main():
    if os.environ.get("PYJOULES_TEST_CLIENT_FAIL") == "start":
        log("failing at start as asked (PYJOULES_TEST_CLIENT_FAIL=start)")
        sys.exit(3)
    interval = float(os.environ.get("SCRAPE_INTERVAL_S") or os.environ.get("PYJOULES_TEST_SAMPLE_S") or 2)
    push_every = float(os.environ.get("PUSH_INTERVAL_S") or 4)
    domains = discover()
    log("domains " + " ".join(str(d) for d in domains))
    devices = DeviceFactory.create_devices(domains)
    meter = EnergyMeter(devices)
    pusher, labels = pusher_from_env()
    totals = {}
    last_push = time.monotonic()
    n = 0
    while True:
        n += 1
        try:
            sample, counters = measure_once(meter, devices, interval)
        except OSError as e:
            log("cannot read RAPL: %s" % e)
            sys.exit(1)
        now_ms = int(time.time() * 1000)
        for domain, energy in sorted(sample.energy.items()):
            log("sample=%d domain=%s counter_uj=%d energy_uj=%d duration_s=%.3f" % (n, domain, counters[domain], energy, sample.duration))
            totals[domain] = totals.get(domain, 0.0) + energy
            if pusher:
                pusher.add(dict(labels, domain=domain), now_ms, totals[domain])
        try:
            with open(HEARTBEAT, "w") as f:
                f.write("%d\n" % n)
        except OSError as e:
            if n == 1:
                log("cannot write the heartbeat %s (a healthcheck on it will fail): %s" % (HEARTBEAT, e))
        if pusher and time.monotonic() - last_push >= push_every:
            pusher.flush()
            last_push = time.monotonic()


if __name__ == "__main__":
    main()
