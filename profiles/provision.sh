#!/bin/sh
# Install, load and verify one AppArmor profile for containers. Runs as root on the target host.
#
#   provision.sh NAME REQUIRE_RAPL [verify CONTAINER PROFILE_TOKEN CONTAINER_TOKEN] [USER_DOCKER] < PROFILE_TEXT
#                                                                    (REQUIRE_RAPL: yes | no)
#
# With verifyOnEveryRun the components pass "verify" and the two drift tokens (components/drift.ts); after the
# verification they are recorded for verify.sh, which returns them while the host stays as provisioned.
#
# USER_DOCKER is what the SSH user's own docker CLI saw before sudo (profiles/commands.ts,
# USER_DOCKER_FACTS): "root", or "USER STATE DAEMON_ID ROOTLESS". The docker provider creates the container
# as that user, so that user's daemon is the one that must apply apparmor=. Left out when run by hand.
#
# All-or-nothing: preflight, compile check without loading, atomic install, load (rolled back on
# failure), boot-time loader, verification from the kernel's own profile list. Prints exactly one JSON
# line on success; one line on stderr naming the cause on failure. Re-running with the same profile
# changes nothing and prints the same line.
set -eu
umask 022

# PYJOULES_TEST_ROOT lets the unit tests run this script against a fake filesystem; empty on hosts.
R=${PYJOULES_TEST_ROOT:-}
PARSER=$R/sbin/apparmor_parser # Docker looks for exactly this path; without it apparmor= is ignored.
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
token() { tr -cd 'A-Za-z0-9._+~:-'; }

usage="usage: provision.sh NAME yes|no < profile (the components may add: verify CONTAINER PROFILE_TOKEN CONTAINER_TOKEN, then the SSH user's docker facts)"
[ $# -ge 2 ] || die "$usage"
name=$1
require_rapl=$2
shift 2
verify_container="" verify_profile_token="" verify_container_token=""
if [ "${1:-}" = verify ]; then
	[ $# -ge 4 ] || die "$usage"
	verify_container=$2 verify_profile_token=$3 verify_container_token=$4
	shift 4
	case $verify_container in
	'' | [!A-Za-z0-9]* | *[!A-Za-z0-9_.-]*) die "invalid container name '$verify_container'" ;;
	esac
	for t in "$verify_profile_token" "$verify_container_token"; do
		case $t in
		'' | *[!A-Za-z0-9._+~:/\(\)@,\ -]*) die "invalid drift token '$t'" ;;
		esac
		[ ${#t} -le 300 ] || die "drift token longer than 300 characters"
	done
fi
[ $# -le 1 ] || die "$usage"
user_docker=root
[ $# -eq 0 ] || user_docker=$1
case $name in
'' | [!A-Za-z0-9]* | *[!A-Za-z0-9_.-]*) die "invalid profile name '$name'" ;;
esac
case $require_rapl in
yes | no) ;;
*) die "REQUIRE_RAPL must be yes or no, not '$require_rapl'" ;;
esac
ud_user="" ud_state="" ud_id="" ud_rootless=""
if [ "$user_docker" != root ]; then
	case $user_docker in
	*[!A-Za-z0-9_.:\ -]*) die "invalid user docker facts '$user_docker'" ;;
	esac
	read -r ud_user ud_state ud_id ud_rootless ud_extra <<FACTS
$user_docker
FACTS
	case $ud_state in ok | denied | missing | down) ;; *) ud_state=invalid ;; esac
	case $ud_rootless in yes | no) ;; *) ud_state=invalid ;; esac
	{ [ -n "$ud_user" ] && [ -n "$ud_id" ] && [ -z "$ud_extra" ] && [ "$ud_state" != invalid ]; } ||
		die "invalid user docker facts '$user_docker'"
fi
[ "$(id -u)" -eq 0 ] || die "must run as root"

# selinux_mode: "Enforcing", "Permissive" or "mode unknown" when the host runs SELinux, else empty.
selinux_mode() {
	mode=$(getenforce 2>/dev/null || true)
	case $mode in
	Enforcing | Permissive) printf '%s' "$mode" ;;
	*) if [ -d "$R/sys/fs/selinux" ]; then
		# A kernel booted with apparmor=0 may bring up selinuxfs in permissive mode with no policy at
		# all (Debian): that is SELinux only when enforcing or configured.
		case $(cat "$R/sys/fs/selinux/enforce" 2>/dev/null || true) in
		1) printf Enforcing ;;
		0) [ ! -e "$R/etc/selinux/config" ] || printf Permissive ;;
		*) [ ! -e "$R/etc/selinux/config" ] || printf 'mode unknown' ;;
		esac
	fi ;;
	esac
}
# no_apparmor MESSAGE: Docker ignores apparmor= without AppArmor; an SELinux host is named as such.
no_apparmor() {
	selinux=$(selinux_mode)
	[ -z "$selinux" ] || die "AppArmor is not enabled, this host runs SELinux instead ($selinux): Docker ignores apparmor=$name there and would run the container without this profile; use a host with AppArmor"
	die "$1"
}

# 1. Preflight: every condition under which Docker would not confine the container as asked.
enabled=$(cat "$R/sys/module/apparmor/parameters/enabled" 2>/dev/null || true)
case $enabled in
Y*) ;;
*) no_apparmor "AppArmor is not enabled in the kernel (/sys/module/apparmor/parameters/enabled is '${enabled:-missing}')" ;;
esac
[ -d "$SECURITYFS" ] || no_apparmor "AppArmor is not enabled: /sys/kernel/security/apparmor is missing"
[ -x "$PARSER" ] || die "/sbin/apparmor_parser is missing: Docker would silently run the container unconfined (install the apparmor package)"
[ -e "$R/etc/apparmor.d/abi/3.0" ] || die "AppArmor older than 3.0 (/etc/apparmor.d/abi/3.0 is missing); Debian 12+ or Ubuntu 22.04+ is required"
command -v docker >/dev/null 2>&1 || die "docker is missing"
# Rootless first: with only a rootless daemon, root's own docker info below would just fail.
[ "$ud_rootless" != yes ] ||
	die "user $ud_user's docker talks to a rootless Docker daemon, and apparmor= is ignored by rootless Docker: the container would run without this profile; let $ud_user use the system daemon (docker group, no DOCKER_HOST or rootless context)"
docker_facts=$(timeout 60 docker info --format '{{.ServerVersion}} {{.ID}} {{json .SecurityOptions}}' 2>&1) ||
	die "docker info failed (is the Docker daemon running?): $(printf '%s\n' "$docker_facts" | awk 'NF { l = $0 } END { print l }')"
# docker info (26.x) exits 0 when it cannot reach the daemon and prints an empty ServerVersion.
case $docker_facts in
[0-9]*) ;;
*) die "docker info failed (is the Docker daemon running?): $(printf '%s\n' "$docker_facts" | awk '/[Cc]annot connect|[Ee]rror/ { print; f = 1; exit } END { if (!f) print "it reports no server version" }')" ;;
esac
case $docker_facts in
*name=rootless*) die "root's docker talks to a rootless Docker daemon, and apparmor= is ignored by rootless Docker: use the system daemon" ;;
*name=apparmor*) ;;
*) die "docker info does not list apparmor among its security options: Docker would ignore apparmor=$name" ;;
esac
daemon_id=$(printf '%s' "$docker_facts" | awk '{ print $2; exit }')
case $ud_state in
missing) die "docker is not on user $ud_user's PATH, but the docker provider runs 'docker system dial-stdio' as $ud_user over SSH" ;;
denied) die "user $ud_user cannot use the Docker daemon (permission denied on its socket), but the docker provider connects as $ud_user: add $ud_user to the docker group (usermod -aG docker $ud_user), or connect as root" ;;
down) die "user $ud_user's docker reaches no Docker daemon, but the docker provider connects as $ud_user: check DOCKER_HOST and 'docker context' for $ud_user" ;;
ok) [ "$ud_id" = "$daemon_id" ] ||
	die "user $ud_user's docker talks to another Docker daemon (ID $ud_id) than root's (ID $daemon_id): the container would not be created by the daemon checked here; point $ud_user's docker at the system daemon (no DOCKER_HOST, 'docker context use default')" ;;
esac
if [ "$require_rapl" = yes ]; then
	set -- "$R"/sys/class/powercap/intel-rapl:*
	[ -e "$1" ] || die "no RAPL zone under /sys/class/powercap (intel-rapl:*); set requireRapl=false for hosts without RAPL"
fi
for tool in flock systemctl sha256sum cmp; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done

target=$CONTAINERS_DIR/$name
stamp=$STATE_DIR/$name.loaded
# Never take over a profile this tool did not install (e.g. a host's own profile of the same name).
if [ ! -e "$target" ] && [ ! -e "$stamp" ] &&
	awk -v p="$name (" 'index($0, p) == 1 { found = 1 } END { exit !found }' "$SECURITYFS/profiles"; then
	die "a profile named $name is already loaded on this host and was not installed by pulumi-pyjoules; choose another profile name"
fi

# Serialise runs on this host (two stacks, or a retry racing a dropped session).
mkdir -p "$(dirname "$LOCK_FILE")" "$CONTAINERS_DIR" "$STATE_DIR"
exec 9>"$LOCK_FILE"
flock -w 120 9 || die "another provisioning run has held $LOCK_FILE for 120 s"

previous=$CONTAINERS_DIR/.$name.previous
unit=pyjoules-apparmor@$name.service
tmp=$(mktemp "$CONTAINERS_DIR/.$name.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat >"$tmp"
chmod 0644 "$tmp"

# 2. Compile without loading: a broken profile never replaces a working one.
out=$("$PARSER" -Q -K "$tmp" 2>&1) || die "profile $name does not compile: $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
names=$("$PARSER" -N "$tmp" 2>&1) || die "cannot list the profiles in the new text: $names"
[ "$names" = "$name" ] || die "the profile text must define exactly the profile '$name', not: $(printf '%s' "$names" | tr '\n' ' ')"
new_sha=$(sha256sum "$tmp" | cut -d ' ' -f 1)


loaded() { grep -qxF "$name (enforce)" "$SECURITYFS/profiles"; }

# 3 + 4. Install atomically and load, unless exactly this text is already installed and loaded.
if cmp -s "$tmp" "$target" && [ "$(cat "$stamp" 2>/dev/null || true)" = "$new_sha" ] && loaded; then
	rm -f "$tmp"
else
	# From here a dropped SSH session must not stop us half-way: finish, then report.
	trap '' HUP PIPE INT TERM
	if [ -e "$target" ]; then cp -p "$target" "$previous"; else rm -f "$previous"; fi
	mv -f "$tmp" "$target"
	if ! out=$("$PARSER" -r -W "$target" 2>&1); then
		if [ -e "$previous" ]; then
			mv -f "$previous" "$target"
			"$PARSER" -r -W "$target" >/dev/null 2>&1 || true
			restored="previous profile restored"
		else
			rm -f "$target"
			restored="nothing installed"
		fi
		die "loading profile $name failed ($restored): $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
	fi
	rm -f "$previous"
	printf '%s\n' "$new_sha" >"$stamp"
fi

# 5. Survive reboots: apparmor.service loads only the top of /etc/apparmor.d, not containers/.
unit_text="[Unit]
Description=Load AppArmor profile %i for containers (pulumi-pyjoules)
After=apparmor.service
Before=docker.service containerd.service
ConditionPathExists=/etc/apparmor.d/containers/%i

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/apparmor_parser -r -W /etc/apparmor.d/containers/%i

[Install]
WantedBy=multi-user.target docker.service"
if [ "$(cat "$UNIT_DIR/$UNIT_TEMPLATE" 2>/dev/null || true)" != "$unit_text" ]; then
	mkdir -p "$UNIT_DIR"
	printf '%s\n' "$unit_text" >"$UNIT_DIR/.$UNIT_TEMPLATE.tmp"
	mv -f "$UNIT_DIR/.$UNIT_TEMPLATE.tmp" "$UNIT_DIR/$UNIT_TEMPLATE"
fi
# --no-reload: enable and is-enabled read the unit files from disk, and the unit only has to run at the next
# boot. A daemon-reload (enable does one by default) re-runs every generator: about 3 s each on the Debian 13 test VM.
if [ "$(systemctl is-enabled "$unit" 2>/dev/null || true)" != enabled ]; then
	systemctl --no-reload enable "$unit" >/dev/null 2>&1 || die "cannot enable the boot-time loader $unit"
fi
[ "$(systemctl is-enabled "$unit" 2>/dev/null || true)" = enabled ] || die "boot-time loader $unit is not enabled"

# 6. Verify from the kernel's own list (aa-status indents names; this file does not).
loaded || die "profile $name is not loaded in enforce mode according to /sys/kernel/security/apparmor/profiles"

# 7. What verify.sh compares the next runs against (verifyOnEveryRun): written only once all of the above held.
if [ -n "$verify_container" ]; then
	printf '%s\n%s\n' "$verify_profile_token" "$verify_container_token" >"$STATE_DIR/.$name.$verify_container.verify.tmp"
	mv -f "$STATE_DIR/.$name.$verify_container.verify.tmp" "$STATE_DIR/$name.$verify_container.verify"
fi

# 8. One JSON line of verified facts; every value is reduced to inert characters.
sha=$(sha256sum "$target" | cut -d ' ' -f 1)
parser_version=$("$PARSER" --version 2>/dev/null | head -n 1 | awk '{print $NF}' | token)
docker_version=$(printf '%s' "${docker_facts%% *}" | token)
kernel=$(uname -r | token)
printf '{"name":"%s","mode":"enforce","sha256":"%s","path":"%s","loader":"%s","parserVersion":"%s","dockerVersion":"%s","kernel":"%s","host":"%s"}\n' \
	"$name" "$sha" "/etc/apparmor.d/containers/$name" "$unit" "$parser_version" "$docker_version" "$kernel" "$(printf '%s' "$host" | token)"
