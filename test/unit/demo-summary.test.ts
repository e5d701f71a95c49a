import { describe, expect, it } from "vitest";
import { demoSummary } from "../demo-summary";

const verified = { name: "docker-pyjoules", mode: "enforce", sha256: "0123456789abcdef".repeat(4), loader: "pyjoules-apparmor@docker-pyjoules.service", host: "pyj-trixie" };
const attestation = {
  host: "pyj-trixie", container: "pyjoules-client", ok: true, procAttrCurrent: "docker-pyjoules (enforce)", privileged: false,
  addedCapabilities: 0, classPowercapReadOnly: true, devicesPowercapReadOnly: true, raplZone: "intel-rapl:0", raplReadable: true, raplEnergyIncreasing: true,
};

describe("the demo's summary", () => {
  it("shows each host's profile, loader, confinement and RAPL in a few lines", () => {
    expect(demoSummary({ verifiedProfiles: { vm: verified }, attestations: { vm: attestation } })).toBe(
      [
        "host vm (pyj-trixie): OK",
        "  profile      docker-pyjoules (enforce), sha256 0123456789ab…",
        "  loader       pyjoules-apparmor@docker-pyjoules.service",
        "  container    pyjoules-client: docker-pyjoules (enforce), privileged no, added capabilities 0, powercap mounts read-only yes",
        "  RAPL         intel-rapl:0: readable yes, energy increasing yes",
      ].join("\n"),
    );
  });

  it("says plainly what is wrong or missing", () => {
    const s = demoSummary({ verifiedProfiles: { b: verified, a: verified }, attestations: { a: { ...attestation, ok: false, raplEnergyIncreasing: false, privileged: true } } });
    expect(s.split("\n")[0]).toBe("host a (pyj-trixie): NOT OK");
    expect(s).toContain("privileged YES");
    expect(s).toContain("energy increasing NO");
    expect(s).toContain("host b (pyj-trixie): NOT OK");
    expect(demoSummary({})).toBe("no hosts in the stack outputs");
  });
});
