// The demo's closing lines: one short readable block per host, from the stack outputs.
type Obj = Record<string, unknown>;

const yesNo = (v: unknown) => (v === true ? "yes" : v === false ? "NO" : "unknown");

/** One host: profile name, mode, sha256 prefix, loader, container confinement, RAPL readable, energy rising. */
export function hostSummary(host: string, verified: Obj | undefined, attestation: Obj | undefined): string {
  const v = verified ?? {};
  const a = attestation ?? {};
  const sha = typeof v.sha256 === "string" ? `${v.sha256.slice(0, 12)}…` : "?";
  const confinement =
    `${String(a.procAttrCurrent ?? "?")}, privileged ${a.privileged === false ? "no" : "YES"}, ` +
    `added capabilities ${String(a.addedCapabilities ?? "?")}, powercap mounts read-only ${yesNo(a.classPowercapReadOnly === true && a.devicesPowercapReadOnly === true)}`;
  return [
    `host ${host} (${String(v.host ?? a.host ?? "?")}): ${a.ok === true ? "OK" : "NOT OK"}`,
    `  profile      ${String(v.name ?? "?")} (${String(v.mode ?? "?")}), sha256 ${sha}`,
    `  loader       ${String(v.loader ?? "?")}`,
    `  container    ${String(a.container ?? "?")}: ${confinement}`,
    `  RAPL         ${String(a.raplZone || "no zone")}: readable ${yesNo(a.raplReadable)}, energy increasing ${yesNo(a.raplEnergyIncreasing)}`,
  ].join("\n");
}

/** Every host of `verifiedProfiles`/`attestations` (host name → …), sorted by name. */
export function demoSummary(outputs: Obj): string {
  const vps = (outputs.verifiedProfiles ?? {}) as Record<string, Obj>;
  const atts = (outputs.attestations ?? {}) as Record<string, Obj>;
  const hosts = [...new Set([...Object.keys(vps), ...Object.keys(atts)])].sort();
  if (hosts.length === 0) return "no hosts in the stack outputs";
  return hosts.map((h) => hostSummary(h, vps[h], atts[h])).join("\n");
}
