// pulumi up: the fleet of program.ts with this stack's config (see Pulumi.dev.yaml and README.md).
import { fleetProgram } from "./program";

const fleet = fleetProgram();

/** Host name → the profile as that host's kernel confirmed it (name, mode, sha256, loader, versions). */
export const verifiedProfiles = fleet.verifiedProfiles;
/** Host name → how the running client container is confined, as checked on the host. */
export const attestations = fleet.attestations;
