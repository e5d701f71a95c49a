import { z } from "zod";
import { attestationSchema, verifiedProfileSchema } from "./schemas";
import { Attestation, VerifiedProfile } from "./types";

// The interfaces (for the schema) and the zod schemas (for checking) must describe the same shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameVerified: Same<z.infer<typeof verifiedProfileSchema>, Omit<VerifiedProfile, "mode"> & { mode: "enforce" }> = true;
const sameAttestation: Same<z.infer<typeof attestationSchema>, Attestation> = true;
void sameVerified;
void sameAttestation;

function lastJsonLine(stdout: string, what: string, where: string): unknown {
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (line === undefined) throw new Error(`${where}: the host printed no ${what} JSON line (stdout: ${JSON.stringify(stdout.slice(0, 200))})`);
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`${where}: the ${what} line is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
  }
}

function check<S extends z.ZodType>(schema: S, value: unknown, what: string, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new Error(`${where}: unexpected ${what}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return r.data;
}

/** Parses provision.sh's line and checks it confirms exactly the profile that was sent. */
export function parseVerifiedProfile(stdout: string, expected: { name: string; sha256: string }, where: string): VerifiedProfile {
  const v = check(verifiedProfileSchema, lastJsonLine(stdout, "verified-profile", where), "verified profile", where);
  if (v.name !== expected.name) throw new Error(`${where}: the host verified profile ${v.name}, not ${expected.name}`);
  if (v.sha256 !== expected.sha256) {
    throw new Error(`${where}: the installed profile has sha256 ${v.sha256}, but the text sent has ${expected.sha256}`);
  }
  return v;
}

/**
 * Parses attest.sh's line; any wrong answer fails the deployment of that host. `profileSha256`, when given,
 * is the sha256 the host verified at provisioning: the installed file must still be that one.
 */
export function parseAttestation(
  stdout: string,
  expected: { profile: string; container: string; requireRapl: boolean; profileSha256?: string },
  where: string,
): Attestation {
  const a = check(attestationSchema, lastJsonLine(stdout, "attestation", where), "attestation", where);
  const wrong: string[] = [];
  if (!a.running) wrong.push("container is not running");
  if (a.container !== expected.container) wrong.push(`attested container ${a.container}, not ${expected.container}`);
  if (a.apparmorProfile !== expected.profile) wrong.push(`AppArmor profile is ${a.apparmorProfile}`);
  if (a.procAttrCurrent !== `${expected.profile} (enforce)`) wrong.push(`/proc/1/attr/current is "${a.procAttrCurrent}"`);
  if (a.privileged) wrong.push("container is privileged");
  if (a.addedCapabilities !== 0) wrong.push("container has added capabilities");
  if (!a.classPowercapReadOnly || !a.devicesPowercapReadOnly) wrong.push("a powercap mount is not read-only");
  if (expected.requireRapl && !a.raplReadable) wrong.push("RAPL is not readable inside the container");
  else if (expected.requireRapl && !a.raplEnergyIncreasing) wrong.push("RAPL energy_uj does not increase inside the container");
  if (expected.profileSha256 !== undefined && a.profileSha256 !== expected.profileSha256) {
    wrong.push(`the installed profile has sha256 "${a.profileSha256}", not the verified ${expected.profileSha256}`);
  }
  if (!a.ok) wrong.push("the host reported a failed check");
  if (wrong.length > 0) throw new Error(`${where}: attestation failed: ${wrong.join("; ")}`);
  return a;
}
