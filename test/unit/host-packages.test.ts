import { describe, expect, it } from "vitest";
import { missingPackages, sudoLine, UNIT_NEEDS, VM_NEEDS, type HostNeed } from "../setup/host-packages";

describe("host packages the tests and the demo need", () => {
  const needs: HostNeed[] = [
    { package: "openssh-client", probe: "ssh", why: "" },
    { package: "openssh-client", probe: "ssh-keygen", why: "" },
    { package: "shellcheck", probe: "shellcheck", why: "" },
    { package: "python3-pip", probe: ["python3", "-m", "pip", "--version"], why: "" },
  ];

  it("names each missing package once, in order", () => {
    const absent = new Set(["ssh", "ssh-keygen", "shellcheck"]);
    expect(missingPackages(needs, (p) => typeof p !== "string" || !absent.has(p))).toEqual(["openssh-client", "shellcheck"]);
    expect(missingPackages(needs, () => true)).toEqual([]);
  });

  it("gives a non-root user one line to run", () => {
    expect(sudoLine(["qemu-system-x86", "debootstrap"])).toBe("sudo apt-get install -y --no-install-recommends qemu-system-x86 debootstrap");
  });

  it("finds every tool of the unit list with the real probes", () => {
    // globalSetup installed them before this suite ran; a missing one here means a wrong probe.
    expect(missingPackages(UNIT_NEEDS)).toEqual([]);
  });

  it("lists the VM tools by package", () => {
    expect(VM_NEEDS.map((n) => n.package)).toEqual(expect.arrayContaining(["qemu-system-x86", "debootstrap", "python3-pip"]));
  });
});
