import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import { z } from "zod";
import { provisionCommand, provisionStdin, removeCommand, type DriftTokens } from "../profiles/commands";
import { sha256Hex } from "../profiles/render";
import { resolveConnection } from "./connection";
import { parseVerifiedProfile } from "./parse";
import { connectionSchema, profileNameSchema } from "./schemas";
import { ConnectionArgs, VerifiedProfile } from "./types";
import { precheck, validated } from "./validate";

const PROFILE_TEXT = z.string().min(1, "must not be empty").max(1 << 20, "at most 1 MiB");

/** Arguments of an AppArmorProfile. */
export interface AppArmorProfileArgs {
  /** SSH connection to the target host. */
  connection: ConnectionArgs;
  /** Name of the profile; the text must define exactly this profile. */
  profileName: pulumi.Input<string>;
  /** Full AppArmor profile text. It reaches the host on stdin, never on a command line. */
  profileText: pulumi.Input<string>;
  /** Also require a RAPL zone under /sys/class/powercap (default false). */
  requireRapl?: pulumi.Input<boolean>;
}

/**
 * Installs, loads and verifies one AppArmor profile for containers on one host, in a single SSH session:
 * preflight, compile check, atomic install, load, boot-time loader, verification from the kernel's list.
 * Deleting it removes the profile again (refused while a running container is confined by it).
 */
export class AppArmorProfile extends pulumi.ComponentResource {
  /** What the kernel confirmed: name, mode, sha256 of the installed file, path, versions, host. */
  public readonly verified: pulumi.Output<VerifiedProfile>;
  /**
   * The profile name, available only once the host verified the profile. Use it as the `apparmor=`
   * value of a container so that the container cannot be created before.
   */
  public readonly profileName: pulumi.Output<string>;

  /**
   * `driftTokens` is PyJoulesHost's (verifyOnEveryRun, components/drift.ts): recorded on the host after the
   * verification, and part of the provision step's stdin, so drift shows as an update of that step.
   */
  constructor(
    name: string,
    args: AppArmorProfileArgs,
    opts?: pulumi.ComponentResourceOptions,
    driftTokens: pulumi.Output<DriftTokens | undefined> = pulumi.output(undefined),
  ) {
    const where = `AppArmorProfile "${name}"`;
    precheck(connectionSchema, args.connection, where, "connection");
    precheck(profileNameSchema, args.profileName, where, "profileName");
    precheck(PROFILE_TEXT, args.profileText, where, "profileText");
    precheck(z.boolean(), args.requireRapl, where, "requireRapl");
    super("pyjoules:index:AppArmorProfile", name, {}, opts);
    const connection = resolveConnection(args.connection, where);
    const profileName = validated(profileNameSchema, args.profileName, where, "profileName");
    const text = validated(PROFILE_TEXT, args.profileText, where, "profileText");
    const requireRapl = validated(z.boolean(), args.requireRapl ?? false, where, "requireRapl");

    const provision = new remote.Command(
      `${name}-provision`,
      {
        connection: connection.command,
        // The scripts and the profile text travel on stdin (delete gets the same stdin); the command lines
        // do not depend on the text, so a profile change is a change of stdin only.
        create: pulumi.all([profileName, requireRapl, driftTokens]).apply(([n, r, d]) => provisionCommand(n, r, d)),
        delete: profileName.apply(removeCommand),
        stdin: pulumi.all([profileName, requireRapl, text, driftTokens]).apply(([n, r, t, d]) => provisionStdin(n, r, t, d)),
        // Another host, port or profile name is another profile: replace, removing the old one first
        // so that a load/unload pair never unloads what was just loaded.
        triggers: [connection.host, connection.port, profileName],
        addPreviousOutputInEnv: false,
        logging: "stdoutAndStderr",
      },
      { parent: this, deleteBeforeReplace: true, dependsOn: opts?.dependsOn },
    );

    this.verified = pulumi
      .all([provision.stdout, profileName, text])
      .apply(([stdout, n, t]) => parseVerifiedProfile(stdout, { name: n, sha256: sha256Hex(t) }, where));
    // The command's id resolves only after the command succeeded (the host verified the profile), and it
    // stays the same across updates, so a profile change does not ripple into dependants.
    this.profileName = pulumi.all([provision.id, profileName]).apply(([, n]) => n);
    this.registerOutputs({ verified: this.verified, profileName: this.profileName });
  }
}
