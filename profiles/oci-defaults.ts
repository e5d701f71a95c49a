/**
 * The paths Docker masks or mounts read-only in every container by default (moby/moby
 * `daemon/pkg/oci/defaults.go`), and how docker-pyjoules keeps each one closed after
 * `systempaths=unconfined` has dropped Docker's masks and read-only remounts.
 *
 * `coveredBy` names the docker-default rule that already closes the path; `rule` is the re-mask rule
 * docker-pyjoules adds where docker-default leaves a gap.
 */

export interface MaskedPath {
  path: string;
  /** docker-default rule that already denies what the mask hid. */
  coveredBy?: string;
  /** Re-mask rule added by docker-pyjoules. */
  rule?: string;
  /** Why a masked path is deliberately left readable. */
  exception?: string;
}

export interface ReadOnlyPath {
  path: string;
  coveredBy?: string;
  rule?: string;
  gap?: string;
}

/** Masked: a directory gets an empty read-only tmpfs, a file gets /dev/null. */
export const MASKED_PATHS: readonly MaskedPath[] = [
  { path: "/proc/acpi", rule: "audit deny @{PROC}/acpi{,/**} rwklx," },
  { path: "/proc/asound", rule: "audit deny @{PROC}/asound{,/**} rwklx," },
  { path: "/proc/interrupts", rule: "audit deny @{PROC}/interrupts rwklx," },
  { path: "/proc/kcore", coveredBy: "deny @{PROC}/kcore rwklx," },
  { path: "/proc/keys", rule: "audit deny @{PROC}/keys rwklx," },
  { path: "/proc/latency_stats", rule: "audit deny @{PROC}/latency_stats rwklx," },
  { path: "/proc/sched_debug", rule: "audit deny @{PROC}/sched_debug rwklx," },
  { path: "/proc/scsi", rule: "audit deny @{PROC}/scsi{,/**} rwklx," },
  { path: "/proc/timer_list", rule: "audit deny @{PROC}/timer_list rwklx," },
  { path: "/proc/timer_stats", rule: "audit deny @{PROC}/timer_stats rwklx," },
  {
    path: "/sys/devices/virtual/powercap",
    coveredBy: "deny /sys/[^f]*/** wklx,",
    exception: "reads allowed on purpose (change 2); writes stay denied",
  },
  // docker-default's `deny /sys/firmware/** rwklx,` covers what is below, not the directory itself (`**`
  // never matches the empty string): without this the listing of /sys/firmware is readable.
  { path: "/sys/firmware", rule: "audit deny /sys/firmware/ r," },
  {
    path: "/sys/devices/system/cpu/cpuN/thermal_throttle",
    rule: "audit deny /sys/devices/system/cpu/cpu[0-9]*/thermal_throttle{,/**} rwklx,",
  },
];

/** Read-only: bind-mounted read-only over itself. */
export const READ_ONLY_PATHS: readonly ReadOnlyPath[] = [
  {
    path: "/proc/bus",
    rule: "audit deny @{PROC}/bus/** w,",
    gap: "docker-default's /proc/{...}/** w rule spares three-letter names ending in s (meant for sys), so /proc/bus stays writable",
  },
  {
    path: "/proc/fs",
    coveredBy: "deny @{PROC}/{[^1-9/],[^1-9/][^0-9/],[^1-9s/][^0-9y/][^0-9s/],[^1-9/][^0-9/][^0-9/][^0-9/]*}/** w,",
  },
  {
    path: "/proc/irq",
    coveredBy: "deny @{PROC}/{[^1-9/],[^1-9/][^0-9/],[^1-9s/][^0-9y/][^0-9s/],[^1-9/][^0-9/][^0-9/][^0-9/]*}/** w,",
  },
  {
    path: "/proc/sys",
    rule: "audit deny @{PROC}/sys/** w,",
    gap: "docker-default leaves /proc/sys/kernel/{s*,?h*,??m*} writable; Docker's read-only mount closed that",
  },
  { path: "/proc/sysrq-trigger", coveredBy: "deny @{PROC}/sysrq-trigger rwklx," },
];
