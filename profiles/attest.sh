#!/bin/sh
# Attest, from the host, how a running container is confined. Runs as root on the target host.
#
#   attest.sh PROFILE CONTAINER REQUIRE_RAPL [HEALTH_WAIT_S]        (REQUIRE_RAPL: yes | no)
#
# With HEALTH_WAIT_S > 0 (the container has a healthcheck) it first waits up to that many seconds for
# Docker to report the container healthy, and fails with the client's last log lines if it turns
# unhealthy, exits or restarts first.
#
# Prints one JSON line of what it saw. Exits non-zero, naming every wrong answer, unless: the container
# runs, Docker reports PROFILE for it, its PID 1 is in "PROFILE (enforce)", it is not privileged and has
# no added capabilities, both powercap trees are mounted read-only, and (when required) a RAPL zone's
# energy_uj is readable inside it and has moved on from the value the host read just before.
# One `docker exec` in all (each costs seconds on a small host): the confinement of PID 1 is read from the
# host's /proc, the counter's first read is the host's own.
# Also reported, not checked here: the sha256 of the installed profile file (the components compare it with
# the verified one), and the AppArmor denials the host logged for PROFILE since the container started
# (plain `deny` rules are silent; `audit deny` rules and accesses no rule allows are logged).
set -eu

# PYJOULES_TEST_ROOT lets the unit tests run this script against a fake filesystem; empty on hosts.
R=${PYJOULES_TEST_ROOT:-}
host=$(hostname 2>/dev/null || uname -n)
die() {
	printf 'pyjoules: %s: %s\n' "$host" "$*" >&2
	exit 1
}
token() { tr -cd 'A-Za-z0-9._+~:/() -'; }
MAX_DENIALS_LISTED=5

[ $# -eq 3 ] || [ $# -eq 4 ] || die "usage: attest.sh PROFILE CONTAINER yes|no [HEALTH_WAIT_S]"
profile=$1
container=$2
require_rapl=$3
health_wait=${4-0}
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
case $health_wait in
'' | *[!0-9]* | ??????*) die "HEALTH_WAIT_S must be a number of seconds (at most 5 digits)" ;;
esac

# The client's last log lines, on one line of inert characters.
last_logs() {
	timeout 30 docker logs --tail 8 "$container" 2>&1 | tr '\n' '|' | tr -cd 'A-Za-z0-9._+~:/()=, |-' | cut -c 1-800
}
# Waits until Docker reports the container healthy; any other end fails with its last log lines.
wait_healthy() {
	deadline=$(($(date +%s) + health_wait))
	while :; do
		st=$(timeout 60 docker inspect --format \
			'{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}} {{.RestartCount}}' \
			"$container" 2>&1) || die "cannot inspect container $container: $st"
		read -r status health code restarts <<STATE
$st
STATE
		case "$status $health" in
		"running healthy") return 0 ;;
		"running unhealthy") die "client container $container is unhealthy (its healthcheck failed); last log lines: $(last_logs)" ;;
		"running none") die "client container $container has no healthcheck to wait for" ;;
		"running starting") [ "$restarts" = 0 ] || die "client container $container exited and was restarted by Docker (restarts: $restarts) before it became healthy; last log lines: $(last_logs)" ;;
		*) die "client container $container is $status (exit code $code) before it became healthy; last log lines: $(last_logs)" ;;
		esac
		[ "$(date +%s)" -lt "$deadline" ] ||
			die "client container $container did not become healthy within $health_wait s (health: $health); last log lines: $(last_logs)"
		sleep 1
	done
}
[ "$health_wait" = 0 ] || wait_healthy

facts=$(timeout 60 docker inspect --format \
	'{{.State.Running}}|{{.State.StartedAt}}|{{.AppArmorProfile}}|{{.HostConfig.Privileged}}|{{len .HostConfig.CapAdd}}|{{.State.Pid}}|{{range .Mounts}}{{.Destination}}={{.RW}} {{end}}' \
	"$container" 2>&1) || die "cannot inspect container $container: $facts"
IFS='|' read -r running started_at apparmor privileged capadd pid mounts <<FACTS
$facts
FACTS

capadd_count=$(printf '%s' "$capadd" | tr -cd 0-9)
# The container's PID 1 as the host sees it: the same process, the same confinement as inside.
current=""
case $pid in
'' | 0 | *[!0-9]*) ;;
*) current=$({ token <"$R/proc/$pid/attr/current"; } 2>/dev/null || true) ;;
esac

mount_ro() {
	case " $mounts " in
	*" $1=false "*) echo true ;;
	*) echo false ;;
	esac
}
class_ro=$(mount_ro /sys/class/powercap)
devices_ro=$(mount_ro /sys/devices/virtual/powercap)

# number TEXT: TEXT when it is a plain number, else nothing.
number() {
	case $1 in
	'' | *[!0-9]* | ???????????????????*) ;; # 19+ digits would overflow the shell's arithmetic
	*) printf '%s' "$1" ;;
	esac
}
# energy_delta FIRST SECOND MAX: how far the counter moved; it wraps to 0 after MAX (max_energy_range_uj).
energy_delta() {
	if [ "$2" -ge "$1" ]; then
		echo $(($2 - $1))
	else
		case $3 in
		'' | *[!0-9]* | ???????????????????*) echo "$2" ;;
		*) if [ "$3" -ge "$1" ]; then echo $(($3 - $1 + $2)); else echo "$2"; fi ;;
		esac
	fi
}

rapl_zone=""
rapl_readable=false
rapl_first=-1
rapl_second=-1
rapl_delta=-1
for zone in "$R"/sys/class/powercap/intel-rapl:*; do
	[ -e "$zone/energy_uj" ] || continue
	rapl_zone=${zone##*/}
	# The host's read, then the container's: a live counter has moved on in between (a docker exec takes far
	# longer than the counter's tick), a stale copy has not; a masked one is not readable inside at all.
	first=$(number "$(cat "$zone/energy_uj" 2>/dev/null || true)")
	second=$(number "$(timeout 60 docker exec "$container" cat "/sys/class/powercap/$rapl_zone/energy_uj" 2>/dev/null || true)")
	if [ -n "$second" ]; then
		rapl_readable=true
		rapl_second=$second
		if [ -n "$first" ]; then
			rapl_first=$first
			rapl_delta=$(energy_delta "$first" "$second" "$(cat "$zone/max_energy_range_uj" 2>/dev/null || true)")
		fi
	fi
	break
done
# A wrap (second < first) counts as an increase; only an unchanged or unreadable counter does not.
rapl_increasing=false
[ "$rapl_first" = -1 ] || [ "$rapl_second" = -1 ] || [ "$rapl_second" = "$rapl_first" ] || rapl_increasing=true

profile_sha=$(sha256sum "$R/etc/apparmor.d/containers/$profile" 2>/dev/null | cut -d ' ' -f 1 | tr -cd 0-9a-f)

# Denials: kernel log (journal, else dmesg) plus audit.log, where auditd sends them while it runs.
# Records are keyed by their audit(TIME:SERIAL) stamp, so one seen in two sources counts once.
started=$(date -u -d "$started_at" +%s 2>/dev/null || true)
case $started in '' | -* | *[!0-9]*) started=0 ;; esac
kernel_log=""
if command -v journalctl >/dev/null 2>&1 && [ -n "$(timeout 60 journalctl -q -k -n 1 -o cat 2>/dev/null)" ]; then
	kernel_log=journal
elif timeout 60 dmesg >/dev/null 2>&1; then
	kernel_log=dmesg
fi
audit_log=$R/var/log/audit/audit.log
[ -r "$audit_log" ] || audit_log=""
denial_sources=$kernel_log${audit_log:+${kernel_log:++}audit.log}
denial_log() {
	case $kernel_log in
	journal) timeout 60 journalctl -q -k --since="@$started" -o cat 2>/dev/null || true ;;
	dmesg) timeout 60 dmesg 2>/dev/null || true ;;
	esac
	[ -z "$audit_log" ] || cat "$audit_log"
}
denials=$(denial_log | awk -v p="$profile" -v since="$started" -v max="$MAX_DENIALS_LISTED" '
	function field(k, v) {
		if (match($0, " " k "=\"[^\"]*\"")) v = substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 4)
		else if (match($0, " " k "=[^ ]+")) v = substr($0, RSTART + length(k) + 2, RLENGTH - length(k) - 2)
		gsub(/[^A-Za-z0-9._+~:\/() -]/, "", v)
		return v
	}
	index($0, "apparmor=\"DENIED\"") && (index($0, "profile=\"" p "\"") || index($0, "profile=\"" p "//")) {
		if (match($0, /audit\([0-9]+(\.[0-9]+)?:[0-9]+\)/)) {
			stamp = substr($0, RSTART + 6, RLENGTH - 7)
			if (stamp in seen || stamp + 0 < since) next
			seen[stamp] = 1
		}
		n++
		if (n <= max) list = list (n > 1 ? "," : "") "{\"operation\":\"" field("operation") "\",\"name\":\"" field("name") "\"}"
	}
	END { printf "\"count\":%d,\"first\":[%s]", n, list }')

wrong=""
[ "$running" = true ] || wrong="$wrong; container is not running (last log lines: $(last_logs))"
[ "$apparmor" = "$profile" ] || wrong="$wrong; docker reports AppArmor profile '$apparmor', not '$profile'"
[ "$current" = "$profile (enforce)" ] || wrong="$wrong; the container's PID 1 runs as '$current' (/proc/$pid/attr/current), not '$profile (enforce)'"
[ "$privileged" = false ] || wrong="$wrong; container is privileged"
[ "$capadd" = 0 ] || wrong="$wrong; container has added capabilities"
[ "$class_ro" = true ] || wrong="$wrong; /sys/class/powercap is not mounted read-only"
[ "$devices_ro" = true ] || wrong="$wrong; /sys/devices/virtual/powercap is not mounted read-only"
if [ "$require_rapl" = yes ] && [ "$rapl_readable" != true ]; then
	wrong="$wrong; no RAPL energy_uj is readable inside the container"
elif [ "$require_rapl" = yes ] && [ "$rapl_increasing" != true ]; then
	wrong="$wrong; RAPL energy_uj did not move between the host's read and the container's ($rapl_first, then $rapl_second)"
fi

printf '{"host":"%s","container":"%s","running":%s,"apparmorProfile":"%s","procAttrCurrent":"%s","privileged":%s,"addedCapabilities":%s,"classPowercapReadOnly":%s,"devicesPowercapReadOnly":%s,"raplZone":"%s","raplReadable":%s,"raplEnergyIncreasing":%s,"raplEnergyDeltaUj":%s,"profileSha256":"%s","denials":{"sources":"%s","since":%s,%s},"ok":%s}\n' \
	"$(printf '%s' "$host" | token)" "$container" "$([ "$running" = true ] && echo true || echo false)" \
	"$(printf '%s' "$apparmor" | token)" "$current" "$([ "$privileged" = false ] && echo false || echo true)" \
	"${capadd_count:--1}" "$class_ro" "$devices_ro" "$rapl_zone" "$rapl_readable" \
	"$rapl_increasing" "$rapl_delta" "$profile_sha" \
	"$denial_sources" "$started" "$denials" \
	"$([ -z "$wrong" ] && echo true || echo false)"
[ -z "$wrong" ] || die "attestation of $container failed${wrong}"
