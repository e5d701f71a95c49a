#!/bin/sh
# Read, never change, whether a host still has what provision.sh and the container create left. Runs as
# root on the target host, from `pulumi preview` and `pulumi up` when verifyOnEveryRun is on (one SSH session).
#
#   verify.sh PROFILE CONTAINER
#
# Prints one JSON line:
#   {"recordedProfile":"…","recordedContainer":"…","profile":[reasons],"container":[reasons]}
# The recorded tokens are those the last provision wrote (empty when none); an empty list means no drift.
# Profile drift: not loaded in enforce mode, installed file missing or not the one loaded, boot-time loader
# not enabled. Container drift: missing, not running, created under another profile, or its process not
# confined by PROFILE (e.g. the profile was unloaded under it, which leaves it unconfined even after a
# reload). Reasons are reduced to inert characters. Exits non-zero only when it cannot look (bad
# arguments, not root).
set -eu
exec </dev/null

R=${PYJOULES_TEST_ROOT:-}
CONTAINERS_DIR=$R/etc/apparmor.d/containers
STATE_DIR=$R/var/lib/pulumi-pyjoules
SECURITYFS=$R/sys/kernel/security/apparmor

host=$(hostname 2>/dev/null || uname -n)
die() {
	printf 'pyjoules: %s: %s\n' "$host" "$*" >&2
	exit 1
}
inert() { tr -cd 'A-Za-z0-9._+~:/()@, -'; }

[ $# -eq 2 ] || die "usage: verify.sh PROFILE CONTAINER"
name=$1
container=$2
for v in "$name" "$container"; do
	case $v in
	'' | [!A-Za-z0-9]* | *[!A-Za-z0-9_.-]*) die "invalid name '$v'" ;;
	esac
done
[ "$(id -u)" -eq 0 ] || die "must run as root"

profile_drift=""
container_drift=""
add_profile() { profile_drift="$profile_drift${profile_drift:+,}\"$(printf '%s' "$*" | inert)\""; }
add_container() { container_drift="$container_drift${container_drift:+,}\"$(printf '%s' "$*" | inert)\""; }

grep -qxF "$name (enforce)" "$SECURITYFS/profiles" 2>/dev/null || add_profile "profile $name is not loaded in enforce mode"
target=$CONTAINERS_DIR/$name
if [ ! -f "$target" ]; then
	add_profile "installed file /etc/apparmor.d/containers/$name is missing"
elif [ "$(sha256sum "$target" | cut -d ' ' -f 1)" != "$(cat "$STATE_DIR/$name.loaded" 2>/dev/null || true)" ]; then
	add_profile "installed file /etc/apparmor.d/containers/$name is not the one loaded (changed on the host)"
fi
unit=pyjoules-apparmor@$name.service
[ "$(systemctl is-enabled "$unit" 2>/dev/null || true)" = enabled ] || add_profile "boot-time loader $unit is not enabled"

st=$(timeout 60 docker inspect --format '{{.State.Status}} {{.State.Pid}} {{.AppArmorProfile}}' "$container" 2>/dev/null) || st="missing"
read -r status pid apparmor <<STATE
$st
STATE
case $status in
# The docker provider cannot delete a container that is gone (it stops it by id first), so only a refresh
# (which drops it from the state) lets `up` create it again.
missing) add_container "container $container does not exist (pulumi up --refresh recreates it)" ;;
running)
	if [ "$apparmor" != "$name" ]; then
		add_container "container $container was created with AppArmor profile ${apparmor:-none}"
	else
		current=$({ inert <"$R/proc/$pid/attr/current"; } 2>/dev/null || true)
		[ "$current" = "$name (enforce)" ] || add_container "container $container runs as ${current:-unknown}, not $name (enforce)"
	fi
	;;
*) add_container "container $container is $status" ;;
esac

recorded_profile="" recorded_container=""
if [ -f "$STATE_DIR/$name.$container.verify" ]; then
	recorded_profile=$(sed -n 1p "$STATE_DIR/$name.$container.verify" | head -c 300 | inert)
	recorded_container=$(sed -n 2p "$STATE_DIR/$name.$container.verify" | head -c 300 | inert)
fi
printf '{"recordedProfile":"%s","recordedContainer":"%s","profile":[%s],"container":[%s]}\n' \
	"$recorded_profile" "$recorded_container" "$profile_drift" "$container_drift"
