"""The pyJoules client on a fleet from Python: one PyJoulesFleet, the inventory from the stack config.

Stack config (Pulumi.dev.yaml shows every key):
  hosts           the inventory: name, host, hostKey, and optionally port, user, wave, extraReadPaths
  remoteWriteUrl  the Prometheus remote-write endpoint of every client
  sshUser, image, site (optional)
  sshPrivateKey   secret: pulumi config set --secret sshPrivateKey -- < ~/.ssh/pyjoules_ed25519

Layout rule (test/unit/schema.test.ts checks this file against the component schema with regexes, and
test/integration/consumers.test.ts runs it against a VM with the SDK `pulumi package add` generates): every
use of the package is a call `pyjoules.Name(...)` with keyword arguments, and outputs are read as
`<variable>.<output>` on the variable the component was assigned to.
"""

import pulumi
import pulumi_pyjoules as pyjoules

config = pulumi.Config()
inventory = config.require_object("hosts")

fleet = pyjoules.PyJoulesFleet(
    "pyjoules",
    defaults=pyjoules.FleetDefaultsArgs(
        connection=pyjoules.FleetConnectionDefaultsArgs(
            user=config.get("sshUser") or "deploy",
            private_key=config.require_secret("sshPrivateKey"),
            dial_error_limit=5,
        ),
        client=pyjoules.FleetClientDefaultsArgs(
            remote_write_url=config.require("remoteWriteUrl"),
            # Pin a digest in production (repo@sha256:...); unset, the component uses aimilefth/cpu-pyjoules.
            image=config.get("image"),
            push_interval_s=4,
            env={"SITE": config.get("site") or "lab"},
        ),
        require_rapl=True,
    ),
    # Wave 0 (the canary) must verify (profile loaded, container attested) before wave 1 is touched.
    hosts=[
        pyjoules.FleetHostArgs(
            name=h["name"],
            wave=h.get("wave", 0),
            connection=pyjoules.ConnectionArgs(
                host=h["host"],
                port=h.get("port"),
                user=h.get("user"),
                host_key=h["hostKey"],
            ),
            client=pyjoules.FleetClientDefaultsArgs(
                service_label=h["name"],
            ),
            profile=pyjoules.ProfileArgs(
                extra_read_paths=h.get("extraReadPaths"),
            ),
        )
        for h in inventory
    ],
)

pulumi.export("verifiedProfiles", fleet.verified_profiles)
pulumi.export("attestations", fleet.attestations)
