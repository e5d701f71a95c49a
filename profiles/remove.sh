#!/bin/sh
# Remove one container AppArmor profile installed by provision.sh. Runs as root on the target host.
#
#   remove.sh NAME
#
# While a running container is still confined by the profile (another stack's, on a shared host), keeps
# everything and says so (exit 0: that stack's delete must not leave its container unconfined, nor block this
# one's). Otherwise disables the boot-time loader, unloads the profile and deletes its file. Twice is fine.
#
# Its stdin is not read: the components' delete gets the provision command's stdin (provision.sh and the
# profile text after this script), so nothing here may consume or wait for it.
set -eu
exec </dev/null

R=${PYJOULES_TEST_ROOT:-}
PARSER=$R/sbin/apparmor_parser
CONTAINERS_DIR=$R/etc/apparmor.d/containers
UNIT_DIR=$R/etc/systemd/system
STATE_DIR=$R/var/lib/pulumi-pyjoules
LOCK_FILE=$R/run/lock/pulumi-pyjoules.lock
SECURITYFS=$R/sys/kernel/security/apparmor
UNIT_TEMPLATE=pyjoules-apparmor@.service

host=$(hostname 2>/dev/null || uname -n)
die() {
	printf 'pyjoules: %s: %s\n' "$host" "$*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: remove.sh NAME"
name=$1
case $name in
'' | [!A-Za-z0-9]* | *[!A-Za-z0-9_.-]*) die "invalid profile name '$name'" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root"

mkdir -p "$(dirname "$LOCK_FILE")"
exec 9>"$LOCK_FILE"
flock -w 120 9 || die "another provisioning run has held $LOCK_FILE for 120 s"

if command -v docker >/dev/null 2>&1 && ids=$(timeout 60 docker ps -q 2>/dev/null); then
	confined=""
	for id in $ids; do
		line=$(docker inspect --format '{{.AppArmorProfile}} {{.Name}}' "$id" 2>/dev/null || true)
		[ "${line%% *}" = "$name" ] && confined="$confined ${line#* }"
	done
	# Another stack's container on this host (the profile is shared by name): unloading would leave it
	# unconfined, so keep everything and say so; the last stack to go removes the profile.
	if [ -n "$confined" ]; then
		printf 'pyjoules: %s: profile %s kept: it still confines running container(s):%s\n' "$host" "$name" "$confined" >&2
		printf '{"name":"%s","removed":false}\n' "$name"
		exit 0
	fi
fi

unit=pyjoules-apparmor@$name.service
if command -v systemctl >/dev/null 2>&1; then
	systemctl --no-reload disable "$unit" >/dev/null 2>&1 || true
	# The template unit goes with the last profile that uses it.
	set -- "$UNIT_DIR"/*.wants/pyjoules-apparmor@*.service
	if [ ! -e "$1" ] && [ -e "$UNIT_DIR/$UNIT_TEMPLATE" ]; then
		rm -f "$UNIT_DIR/$UNIT_TEMPLATE"
		systemctl daemon-reload
	fi
fi

if [ -r "$SECURITYFS/profiles" ] && awk -v p="$name (" 'index($0, p) == 1 { found = 1 } END { exit !found }' "$SECURITYFS/profiles"; then
	# Unload by name, so this works even when the file is already gone.
	printf 'profile %s {}\n' "$name" | "$PARSER" -R >/dev/null 2>&1 ||
		die "cannot unload profile $name"
fi
rm -f "$CONTAINERS_DIR/$name" "$CONTAINERS_DIR/.$name.previous" "$STATE_DIR/$name.loaded" "$STATE_DIR/$name".*.verify
printf '{"name":"%s","removed":true}\n' "$name"
