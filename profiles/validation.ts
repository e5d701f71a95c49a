import { z } from "zod";

/**
 * Values that end up inside an AppArmor profile or on a remote command line. Each pattern admits only
 * characters that are inert both in AppArmor policy syntax and in a single-quoted shell word.
 */

/** AppArmor profile names we create: safe as a file name, a systemd instance name and a policy name. */
export const profileName = z
  .string()
  .max(64, "at most 64 characters")
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must match [A-Za-z0-9][A-Za-z0-9_.-]* (letters, digits, _ . -)");

/**
 * Names Docker gives a meaning of its own, so a profile of ours must never take them: `apparmor=unconfined`
 * switches AppArmor off for the container, and `docker-default` confines every other container on the host
 * (ours would replace it and open the RAPL counters to all of them).
 */
export const RESERVED_PROFILE_NAMES = ["unconfined", "docker-default"] as const;

/** A profile name this package may install, load, remove and put in `apparmor=` on a host. */
export const ownProfileName = profileName.refine(
  (n) => !(RESERVED_PROFILE_NAMES as readonly string[]).includes(n),
  "must not be unconfined or docker-default (Docker gives those names a meaning of its own)",
);

/** The daemon's own AppArmor label (moby reads it from /proc/self/attr/current); `unconfined` by default. */
export const daemonProfileName = z
  .string()
  .max(128, "at most 128 characters")
  .regex(/^[A-Za-z0-9/][A-Za-z0-9_./-]*$/, "must be an AppArmor profile name (letters, digits, _ . - /)");

const PATH_SEGMENT = "[A-Za-z0-9_.:+-]+";
const READ_PATH = new RegExp(`^(?:/${PATH_SEGMENT})+(?:/\\*\\*)?$`);

/**
 * An extra read-only path: absolute, literal (no AppArmor globs, variables, alternations, quotes or
 * whitespace), no `.`/`..` segments; one trailing `/**` may name a whole tree.
 */
export const readOnlyPath = z
  .string()
  .max(255, "at most 255 characters")
  .regex(
    READ_PATH,
    "must be an absolute path of letters, digits and _ . : + - (optionally ending in /**), with no globs, quotes or spaces",
  )
  .refine((p) => !p.split("/").some((seg) => seg === "." || seg === ".."), "must not contain . or .. segments");
