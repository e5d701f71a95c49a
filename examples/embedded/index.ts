// The components inside a larger stack: a platform team's own ComponentResource that prepares a node
// with its own remote.Command, runs PyJoulesHost on it after that command, and uses AppArmorProfile on
// its own to confine a second container (a RAPL exporter) under a profile of its own name.
//
// In your own project import from the package instead: `from "pyjoules"`.
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { AppArmorProfile, ConnectionArgs, PyJoulesHost, renderPyJoulesProfile } from "../../components";

/** Both powercap trees: /sys/class/powercap/* are symlinks into /sys/devices/virtual/powercap. */
const POWERCAP = ["/sys/class/powercap", "/sys/devices/virtual/powercap"];

export interface EnergyNodeArgs {
  /** Host name or address of the node. */
  host: string;
  /** SSH user (needs passwordless sudo and the docker group; default deploy). */
  user?: string;
  /** The node's public host key ("ssh-ed25519 AAAA..."): pinned on every SSH path. */
  hostKey: string;
  /** ssh-agent socket holding the deploy key. Keep it the same path on every machine that runs Pulumi. */
  agentSocketPath: string;
  /** Prometheus remote-write endpoint of the pyJoules client. */
  remoteWriteUrl: pulumi.Input<string>;
  /** Image of the RAPL exporter (a container that is not pyJoules but needs the same RAPL access). */
  exporterImage: string;
}

/** One node of the platform: prepared by our bootstrap, then pyJoules, then the exporter. */
export class EnergyNode extends pulumi.ComponentResource {
  /** The pyJoules host component (its verifiedProfile, attestation, containerName). */
  public readonly pyjoules: PyJoulesHost;
  /** What the node's kernel confirmed for the exporter's profile. */
  public readonly exporterProfile: AppArmorProfile;
  /** The exporter container. */
  public readonly exporter: docker.Container;

  constructor(name: string, args: EnergyNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("acme:platform:EnergyNode", name, {}, opts);
    const user = args.user ?? "deploy";

    // One connection object for everything on this node: our command and both pulumi-pyjoules components
    // take the same shape as @pulumi/command's connection.
    const connection: ConnectionArgs = {
      host: args.host,
      user,
      hostKey: args.hostKey,
      agentSocketPath: args.agentSocketPath,
    };

    // Not ours: the platform's own preparation of the node (AppArmor userspace, Docker, docker group).
    const bootstrap = new remote.Command(
      `${name}-bootstrap`,
      {
        connection,
        create: [
          "set -eu",
          "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -qq",
          "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apparmor docker.io",
          'sudo -n usermod -aG docker "$(id -un)"',
        ].join("\n"),
        addPreviousOutputInEnv: false,
      },
      { parent: this },
    );

    // pyJoules after the bootstrap: dependsOn reaches the host's provisioning step, so the profile (and
    // therefore the container) waits for the packages.
    this.pyjoules = new PyJoulesHost(
      `${name}-pyjoules`,
      { connection, client: { remoteWriteUrl: args.remoteWriteUrl, serviceLabel: name } },
      { parent: this, dependsOn: [bootstrap] },
    );

    // AppArmorProfile on its own: the same rendered profile under another name (plus the exporter's
    // config directory, read-only), for another container that reads RAPL.
    this.exporterProfile = new AppArmorProfile(
      `${name}-exporter-profile`,
      {
        connection,
        profileName: "docker-rapl-exporter",
        profileText: renderPyJoulesProfile({ name: "docker-rapl-exporter", extraReadPaths: ["/etc/rapl-exporter/**"] }),
        requireRapl: true,
      },
      { parent: this, dependsOn: [bootstrap] },
    );

    // PyJoulesHost keeps its docker provider to itself, so the exporter gets its own: the same ssh
    // credential (the agent) and the same pinned host key, no daemon check (preview needs no SSH).
    const dockerProvider = new docker.Provider(
      `${name}-docker`,
      {
        host: `ssh://${user}@${args.host}:22`,
        sshOpts: [
          "-o", "BatchMode=yes",
          "-o", "StrictHostKeyChecking=yes",
          "-o", "UserKnownHostsFile=/dev/null",
          "-o", "GlobalKnownHostsFile=/dev/null",
          "-o", `KnownHostsCommand=/bin/echo %H ${args.hostKey}`,
          "-o", `IdentityAgent=${args.agentSocketPath}`,
        ],
        disableDockerDaemonCheck: true,
      },
      { parent: this },
    );

    // Confined like the pyJoules client: read-only powercap mounts, apparmor=<verified name> (an Output
    // that resolves only once the node verified the profile), systempaths=unconfined (which the profile's
    // re-mask rules make safe), never privileged, no added capabilities.
    this.exporter = new docker.Container(
      `${name}-exporter`,
      {
        name: "rapl-exporter",
        image: args.exporterImage,
        mounts: [
          ...POWERCAP.map((p) => ({ type: "bind", source: p, target: p, readOnly: true })),
          { type: "bind", source: "/etc/rapl-exporter", target: "/etc/rapl-exporter", readOnly: true },
        ],
        securityOpts: [pulumi.interpolate`apparmor=${this.exporterProfile.profileName}`, "systempaths=unconfined"],
        privileged: false,
        ports: [{ internal: 9102, external: 9102 }],
        restart: "unless-stopped",
        logDriver: "json-file",
        logOpts: { "max-size": "10m", "max-file": "3" },
      },
      // dependsOn also orders the delete: the container goes before its profile is removed (remove.sh
      // refuses while a running container is confined by the profile).
      { parent: this, provider: dockerProvider, dependsOn: [this.exporterProfile], deleteBeforeReplace: true },
    );

    this.registerOutputs({
      attestation: this.pyjoules.attestation,
      exporterProfile: this.exporterProfile.verified,
    });
  }
}

/**
 * The stack program: one EnergyNode. `opts` go to the top-level component (the tests add a
 * transformation there). Call it from a stack's index.ts, e.g. with values from the stack config.
 */
export function embeddedProgram(settings: EnergyNodeArgs, opts?: pulumi.ComponentResourceOptions) {
  const node = new EnergyNode("edge-01", settings, opts);
  return {
    pyjoulesAttestation: node.pyjoules.attestation,
    pyjoulesProfile: node.pyjoules.verifiedProfile,
    exporterProfile: node.exporterProfile.verified,
    exporterName: node.exporter.name,
  };
}
