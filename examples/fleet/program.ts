// The fleet program, as a function so the repository's tests can run it under Pulumi mocks.
//
// "pyjoules" is the installed package (package.json: file:../.., installed as a packed copy, see .npmrc).
// Inside the repository, tsconfig.json and vitest map the name to the sources instead.
import * as pulumi from "@pulumi/pulumi";
import { FleetHostArgs, PyJoulesFleet } from "pyjoules";

/**
 * The inventory. Host keys are public: copy them from each host's /etc/ssh/ssh_host_ed25519_key.pub (or
 * an `ssh-keyscan` checked out of band). With a hostKey both SSH paths (the provisioning commands and the
 * docker provider's ssh) refuse any other key, so a spoofed address cannot receive the container.
 */
export const HOSTS: FleetHostArgs[] = [
  {
    // Wave 0, the canary: profile loaded and verified, container attested, before anything else moves.
    name: "canary",
    wave: 0,
    connection: {
      host: "10.20.0.11",
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvbS6YQ5WlM3LL+7xcF8tJ0cPq3+1bc8cF7mQX9yHcd",
    },
    client: { serviceLabel: "canary", logLevel: "DEBUG" },
  },
  {
    name: "rack1-node2",
    wave: 1,
    connection: {
      host: "node2.rack1.example.com",
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1fR4tZk0q3l9C2xWm8p6Q0yq7mWz5n3V4tQ2s1uA8e",
    },
    client: { env: { RACK: "rack1" } },
  },
  {
    // sshd on another port; same wave as rack1-node2, so the two roll out in parallel.
    name: "rack1-node3",
    wave: 1,
    connection: {
      host: "10.20.0.13",
      port: 2222,
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDq3mN7Xc0pL2s9Vt4kR8bW1yZ6uH5gF3eJ2aQ7nM0oP",
    },
    client: { env: { RACK: "rack1" } },
  },
  {
    // Last wave: another SSH user, faster pushes, and one extra read-only path in its profile.
    name: "gpu-01",
    wave: 2,
    connection: {
      host: "gpu-01.lab.example.com",
      user: "pyjoules",
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx7Qm2dP0aW9sL4kV1cR8tY3nB6uE5jF2gH0iK7oM9z",
    },
    client: { pushIntervalS: 2, serviceLabel: "gpu-01" },
    profile: { extraReadPaths: ["/etc/pyjoules/**"] },
  },
];

/** Builds the fleet from the stack config; `opts` go to the fleet (the tests add a transformation). */
export function fleetProgram(config = new pulumi.Config(), opts?: pulumi.ComponentResourceOptions) {
  // A secret in the stack config: `pulumi config set --secret sshPrivateKey -- < ~/.ssh/pyjoules_ed25519`.
  // It stays a secret Output: encrypted in the state, [secret] in every diff, never in a stack output.
  const sshPrivateKey = config.requireSecret("sshPrivateKey");
  const fleet = new PyJoulesFleet(
    "lab",
    {
      defaults: {
        connection: { user: config.get("sshUser") ?? "deploy", privateKey: sshPrivateKey },
        client: {
          remoteWriteUrl: config.require("remoteWriteUrl"),
          // Pin a digest in production (repo@sha256:...): a tag can move under the same input.
          image: config.get("image"),
          pushIntervalS: 4,
          // Merged key by key with each host's own env.
          env: { SITE: config.get("site") ?? "fra1" },
        },
      },
      hosts: HOSTS,
    },
    opts,
  );
  return { verifiedProfiles: fleet.verifiedProfiles, attestations: fleet.attestations };
}
