#!/bin/sh
# Attest, from the host, how a running container is confined. Runs as root on the target host.
#
#   attest.sh PROFILE CONTAINER REQUIRE_RAPL        (REQUIRE_RAPL: yes | no)
#
# Prints one JSON line of what it saw. Exits non-zero, naming every wrong answer, unless: the container
# runs, Docker reports PROFILE for it, its PID 1 is in "PROFILE (enforce)", it is not privileged and has
# no added capabilities, both powercap trees are mounted read-only, and (when required) a RAPL zone's
# energy_uj is readable inside it.
set -eu

# PYJOULES_TEST_ROOT lets the unit tests run this script against a fake filesystem; empty on hosts.
R=${PYJOULES_TEST_ROOT:-}
host=$(hostname 2>/dev/null || uname -n)
die() {
	printf 'pyjoules: %s: %s\n' "$host" "$*" >&2
	exit 1
}
token() { tr -cd 'A-Za-z0-9._+~:/() -'; }

[ $# -eq 3 ] || die "usage: attest.sh PROFILE CONTAINER yes|no"
profile=$1
container=$2
require_rapl=$3
case $profile in
'' | [!A-Za-z0-9]* | *[!A-Za-z0-9_.-]*) die "invalid profile name '$profile'" ;;
esac
case $container in
'' | [!A-Za-z0-9]* | *[!A-Za-z0-9_.-]*) die "invalid container name '$container'" ;;
esac
case $require_rapl in
yes | no) ;;
*) die "REQUIRE_RAPL must be yes or no" ;;
esac

facts=$(timeout 60 docker inspect --format \
	'{{.State.Running}}|{{.AppArmorProfile}}|{{.HostConfig.Privileged}}|{{len .HostConfig.CapAdd}}|{{range .Mounts}}{{.Destination}}={{.RW}} {{end}}' \
	"$container" 2>&1) || die "cannot inspect container $container: $facts"
IFS='|' read -r running apparmor privileged capadd mounts <<FACTS
$facts
FACTS

capadd_count=$(printf '%s' "$capadd" | tr -cd 0-9)
current=$(timeout 60 docker exec "$container" cat /proc/1/attr/current 2>/dev/null | token || true)

mount_ro() {
	case " $mounts " in
	*" $1=false "*) echo true ;;
	*) echo false ;;
	esac
}
class_ro=$(mount_ro /sys/class/powercap)
devices_ro=$(mount_ro /sys/devices/virtual/powercap)

rapl_zone=""
rapl_readable=false
for zone in "$R"/sys/class/powercap/intel-rapl:*; do
	[ -e "$zone/energy_uj" ] || continue
	rapl_zone=${zone##*/}
	value=$(timeout 60 docker exec "$container" cat "/sys/class/powercap/$rapl_zone/energy_uj" 2>/dev/null || true)
	case $value in
	'' | *[!0-9]*) ;;
	*) rapl_readable=true ;;
	esac
	break
done

wrong=""
[ "$running" = true ] || wrong="$wrong; container is not running"
[ "$apparmor" = "$profile" ] || wrong="$wrong; docker reports AppArmor profile '$apparmor', not '$profile'"
[ "$current" = "$profile (enforce)" ] || wrong="$wrong; /proc/1/attr/current inside is '$current', not '$profile (enforce)'"
[ "$privileged" = false ] || wrong="$wrong; container is privileged"
[ "$capadd" = 0 ] || wrong="$wrong; container has added capabilities"
[ "$class_ro" = true ] || wrong="$wrong; /sys/class/powercap is not mounted read-only"
[ "$devices_ro" = true ] || wrong="$wrong; /sys/devices/virtual/powercap is not mounted read-only"
if [ "$require_rapl" = yes ] && [ "$rapl_readable" != true ]; then
	wrong="$wrong; no RAPL energy_uj is readable inside the container"
fi

printf '{"host":"%s","container":"%s","running":%s,"apparmorProfile":"%s","procAttrCurrent":"%s","privileged":%s,"addedCapabilities":%s,"classPowercapReadOnly":%s,"devicesPowercapReadOnly":%s,"raplZone":"%s","raplReadable":%s,"ok":%s}\n' \
	"$(printf '%s' "$host" | token)" "$container" "$([ "$running" = true ] && echo true || echo false)" \
	"$(printf '%s' "$apparmor" | token)" "$current" "$([ "$privileged" = false ] && echo false || echo true)" \
	"${capadd_count:--1}" "$class_ro" "$devices_ro" "$rapl_zone" "$rapl_readable" \
	"$([ -z "$wrong" ] && echo true || echo false)"
[ -z "$wrong" ] || die "attestation of $container failed${wrong}"
