"""The pyJoules client on two hosts from Python: one PyJoulesFleet, the canary first.

Layout rule (test/unit/schema.test.ts checks this file against the component schema with regexes):
every use of the package is a call `pyjoules.Name(...)` with keyword arguments, and outputs are read
as `<variable>.<output>` on the variable the component was assigned to.
"""

import pulumi
import pulumi_pyjoules as pyjoules

config = pulumi.Config()
ssh_private_key = config.require_secret("sshPrivateKey")
remote_write_url = config.require("remoteWriteUrl")

fleet = pyjoules.PyJoulesFleet(
    "pyjoules",
    defaults=pyjoules.FleetDefaultsArgs(
        connection=pyjoules.FleetConnectionDefaultsArgs(
            user="deploy",
            private_key=ssh_private_key,
            dial_error_limit=5,
        ),
        client=pyjoules.FleetClientDefaultsArgs(
            remote_write_url=remote_write_url,
            image="aimilefth/cpu-pyjoules",
            push_interval_s=4,
            env={"SITE": "lab"},
        ),
        require_rapl=True,
    ),
    hosts=[
        # Wave 0: must verify (profile loaded, container attested) before wave 1 is touched.
        pyjoules.FleetHostArgs(
            name="canary",
            wave=0,
            connection=pyjoules.ConnectionArgs(
                host="10.20.0.11",
                host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvbS6YQ5WlM3LL+7xcF8tJ0cPq3+1bc8cF7mQX9yHcd",
            ),
            client=pyjoules.FleetClientDefaultsArgs(
                service_label="canary",
                log_level="DEBUG",
            ),
        ),
        pyjoules.FleetHostArgs(
            name="rack1-node2",
            wave=1,
            connection=pyjoules.ConnectionArgs(
                host="node2.rack1.example.com",
                port=2222,
                host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1fR4tZk0q3l9C2xWm8p6Q0yq7mWz5n3V4tQ2s1uA8e",
            ),
            client=pyjoules.FleetClientDefaultsArgs(
                service_label="rack1-node2",
                env={"RACK": "rack1"},
            ),
            profile=pyjoules.ProfileArgs(
                extra_read_paths=["/etc/pyjoules/**"],
            ),
        ),
    ],
)

pulumi.export("verifiedProfiles", fleet.verified_profiles)
pulumi.export("attestations", fleet.attestations)
