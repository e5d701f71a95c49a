#!/usr/bin/env bash
# Build a bootable Debian target-host image for the pulumi-pyjoules VM tests.
#
#   build-image.sh --distro trixie|bookworm --out DIR --pyjoules-wheel WHL [--apt-cache DIR] [--mirror URL]
#
# WHL is the pyJoules wheel from PyPI (image.ts downloads it and checks its sha256); it goes into the
# test client image with client/pyjoules_client.py and the guest's own python3. The guest fetches nothing.
#
# Produces DIR/{vmlinuz,initrd.img,disk.img,id_ed25519,id_ed25519.pub,host_ed25519.pub,
# pyjpw.password,image.json,.complete}. DIR is built as a sibling temp dir and renamed into
# place atomically; DIR.lock (flock) serialises builders of the same DIR and the apt cache
# lock serialises builders sharing one package cache. No loop mounts: the disk is made with
# `mkfs.ext4 -d`. Needs root (debootstrap, chroot). See README.md in this directory.
set -euo pipefail

die() { echo "build-image: error: $*" >&2; exit 1; }
START=$(date +%s)
step() { echo "==> [$(( $(date +%s) - START ))s] $*"; }

DISTRO=""
OUT=""
APT_CACHE=""
WHEEL=""
MIRROR="${PYJOULES_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
while [ $# -gt 0 ]; do
  case "$1" in
    --distro) DISTRO="${2:-}"; shift 2 ;;
    --out) OUT="${2:-}"; shift 2 ;;
    --apt-cache) APT_CACHE="${2:-}"; shift 2 ;;
    --pyjoules-wheel) WHEEL="${2:-}"; shift 2 ;;
    --mirror) MIRROR="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

case "$DISTRO" in
  trixie) EXTRA_PKGS=",docker-cli" ;;
  bookworm) EXTRA_PKGS="" ;;
  *) die "--distro must be trixie or bookworm" ;;
esac
[ -n "$OUT" ] || die "--out is required"
[ -f "$WHEEL" ] || die "--pyjoules-wheel must name the pyJoules wheel file"
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap/chroot)"
for tool in debootstrap mkfs.ext4 ssh-keygen flock dpkg-deb tar findmnt; do
  command -v "$tool" >/dev/null 2>&1 || die "missing host tool: $tool (see test/vm/README.md)"
done

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$(realpath -m "$OUT")"
PARENT="$(dirname "$OUT")"
mkdir -p "$PARENT"
[ -n "$APT_CACHE" ] || APT_CACHE="$PARENT/apt-cache/$DISTRO"
APT_CACHE="$(realpath -m "$APT_CACHE")"
mkdir -p "$APT_CACHE"

# Unmount everything below $1 (deepest first), then delete it without crossing filesystems.
safe_rm() {
  local dir="$1" m
  [ -e "$dir" ] || return 0
  dir="$(realpath "$dir")"
  case "$dir" in /|"") die "refusing to remove '$dir'" ;; esac
  for m in $(findmnt -rn -o TARGET | awk -v d="$dir" 'index($0, d "/") == 1' | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  if findmnt -rn -o TARGET | awk -v d="$dir" 'index($0, d "/") == 1' | grep -q .; then
    die "mounts remain below $dir; not removing it"
  fi
  rm -rf --one-file-system "$dir"
}

# --- lock, and skip if another process finished the same image meanwhile -----------------
exec 9>"$OUT.lock"
step "waiting for lock $OUT.lock"
flock -w 3600 9 || die "timed out waiting for $OUT.lock"
if [ -f "$OUT/.complete" ]; then
  step "already built: $OUT"
  exit 0
fi
[ -e "$OUT" ] && safe_rm "$OUT"   # incomplete leftover (never produced by the rename below)
for stale in "$OUT".tmp.*; do
  [ -e "$stale" ] && { step "removing stale $stale"; safe_rm "$stale"; }
done
exec 8>"$APT_CACHE.lock"
flock -w 3600 8 || die "timed out waiting for $APT_CACHE.lock"

TMP="$OUT.tmp.$$"
ROOT="$TMP/rootfs"
DEST="$TMP/out"
cleanup() {
  local rc=$?
  if [ -d "$ROOT/proc" ] && mountpoint -q "$ROOT/proc"; then umount -l "$ROOT/proc" || true; fi
  if [ "${PYJOULES_VM_KEEP_FAILED:-}" = 1 ] && [ $rc -ne 0 ]; then
    echo "build-image: keeping failed build dir $TMP" >&2
  else
    safe_rm "$TMP" || true
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$ROOT" "$DEST"

in_root() {
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
cache_in() { find "$APT_CACHE" -maxdepth 1 -name '*.deb' -exec cp -l -t "$ROOT/var/cache/apt/archives/" {} + 2>/dev/null || true; }
cache_out() { find "$ROOT/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -l -n -t "$APT_CACHE/" {} + 2>/dev/null || true; }

# --- 1. debootstrap ---------------------------------------------------------------------
step "debootstrap $DISTRO from $MIRROR (package cache $APT_CACHE)"
debootstrap --variant=minbase --cache-dir="$APT_CACHE" \
  --include="systemd-sysv,udev,dbus,kmod,initramfs-tools,openssh-server,sudo,iproute2,util-linux,apparmor,docker.io$EXTRA_PKGS" \
  "$DISTRO" "$ROOT" "$MIRROR"

mount -t proc proc "$ROOT/proc"
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"

# --- 2. kernel (small MODULES=list initrd) + toolchain for the fake RAPL module -----------
step "kernel, headers and toolchain"
mkdir -p "$ROOT/etc/initramfs-tools/conf.d"
echo 'MODULES=list' > "$ROOT/etc/initramfs-tools/conf.d/pyjoules"
printf '%s\n' virtio_pci virtio_blk virtio_net ext4 >> "$ROOT/etc/initramfs-tools/modules"
cache_in
in_root apt-get -y -q --no-install-recommends install linux-image-amd64 linux-headers-amd64 gcc make python3 \
  python3-protobuf python3-snappy prometheus
in_root apt-get -y -q --no-install-recommends install --download-only busybox-static
cache_out
KVER="$(find "$ROOT/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1)"
if [ -z "$KVER" ] || [ ! -f "$ROOT/boot/vmlinuz-$KVER" ] || [ ! -f "$ROOT/boot/initrd.img-$KVER" ]; then
  die "kernel or initrd missing in chroot"
fi
step "kernel $KVER"

step "building fake_rapl.ko against $KVER headers"
rm -rf "$ROOT/tmp/fake-rapl"
mkdir -p "$ROOT/tmp/fake-rapl"
cp "$HERE/fake-rapl/fake_rapl.c" "$HERE/fake-rapl/Kbuild" "$ROOT/tmp/fake-rapl/"
in_root make -s -C "/usr/src/linux-headers-$KVER" M=/tmp/fake-rapl modules
install -D -m 0644 "$ROOT/tmp/fake-rapl/fake_rapl.ko" "$ROOT/lib/modules/$KVER/extra/fake_rapl.ko"
rm -rf "$ROOT/tmp/fake-rapl"
in_root depmod -a "$KVER"
echo fake_rapl > "$ROOT/etc/modules-load.d/fake-rapl.conf"
# The real driver must never claim the "intel-rapl" control type first.
printf 'blacklist intel_rapl_msr\nblacklist intel_rapl_common\n' > "$ROOT/etc/modprobe.d/pyjoules-no-rapl.conf"

step "purging toolchain"
in_root apt-get -y -q purge --autoremove linux-headers-amd64 gcc make
# Anything of the toolchain that autoremove kept (nothing expected).
# shellcheck disable=SC2016  # dpkg-query format, not shell expansion
mapfile -t LEFT < <(in_root dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' 2>/dev/null \
  | awk '$1 == "ii" && $2 ~ /^(linux-headers-|linux-kbuild-|linux-compiler-|gcc-[0-9]+$|cpp-[0-9]+$|make$|binutils)/ {print $2}')
[ "${#LEFT[@]}" -eq 0 ] || in_root apt-get -y -q purge --autoremove "${LEFT[@]}"
in_root apt-get -y -q clean

# --- 3. test client image: busybox + the guest's python3 (+ protobuf, snappy) + pyJoules + our client ------
step "test-client rootfs: busybox, python3, python3-protobuf, python3-snappy, pyJoules ($(basename "$WHEEL"))"
BBDEB="$(find "$APT_CACHE" -maxdepth 1 -name 'busybox-static_*.deb' -newer "$ROOT/etc/debian_version" -print -quit)"
[ -n "$BBDEB" ] || BBDEB="$(find "$APT_CACHE" -maxdepth 1 -name 'busybox-static_*.deb' | sort -V | tail -n 1)"
[ -n "$BBDEB" ] || die "busybox-static .deb not found in $APT_CACHE"
CLIENT="$TMP/client"
mkdir -p "$TMP/bb" "$CLIENT/bin"
dpkg-deb -x "$BBDEB" "$TMP/bb"
if [ -f "$TMP/bb/usr/bin/busybox" ]; then BB="$TMP/bb/usr/bin/busybox"; else BB="$TMP/bb/bin/busybox"; fi
install -m 0755 "$BB" "$CLIENT/bin/busybox"
for applet in $("$CLIENT/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$CLIENT/bin/$applet"
done
mkdir -p "$CLIENT/etc" "$CLIENT/proc" "$CLIENT/sys" "$CLIENT/dev" "$CLIENT/tmp"
chmod 1777 "$CLIENT/tmp"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$CLIENT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$CLIENT/etc/group"

# python3 from the guest itself: the interpreter, its stdlib (minus what a client never imports) and
# every shared library the interpreter and its extension modules link against, at the same paths.
PYBIN="$(readlink -f "$ROOT/usr/bin/python3")"
PYVER="$(basename "$PYBIN")"
[ -x "$PYBIN" ] || die "python3 missing in the chroot"
install -D -m 0755 "$PYBIN" "$CLIENT/usr/bin/$PYVER"
ln -s "$PYVER" "$CLIENT/usr/bin/python3"
mkdir -p "$CLIENT/usr/lib"
cp -a "$ROOT/usr/lib/$PYVER" "$CLIENT/usr/lib/"
for unused in test idlelib tkinter turtledemo ensurepip lib2to3 pydoc_data; do
  rm -rf "${CLIENT:?}/usr/lib/$PYVER/$unused"
done
rm -rf "$CLIENT/usr/lib/$PYVER"/config-*
# The remote-write client's modules from the guest's python3-protobuf and python3-snappy (Debian's python3
# finds /usr/lib/python3/dist-packages by itself).
DIST=/usr/lib/python3/dist-packages
for mod in google/protobuf snappy; do
  [ -d "$ROOT$DIST/$mod" ] || die "$DIST/$mod missing in the chroot (python3-protobuf, python3-snappy)"
done
mkdir -p "$CLIENT$DIST/google"
cp -a "$ROOT$DIST/google/protobuf" "$CLIENT$DIST/google/"
cp -a "$ROOT$DIST/snappy" "$CLIENT$DIST/"
mapfile -t LIBS < <(in_root sh -c "ldd /usr/bin/$PYVER /usr/lib/$PYVER/lib-dynload/*.so \$(find $DIST/google/protobuf $DIST/snappy -name '*.so') 2>/dev/null" \
  | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' | sort -u)
[ "${#LIBS[@]}" -gt 0 ] || die "ldd found no libraries for $PYVER"
for lib in "${LIBS[@]}"; do
  install -D -m 0644 "$(readlink -f "$ROOT$lib")" "$CLIENT$lib"
done
chmod 0755 "$CLIENT"/lib*/ld-linux* 2>/dev/null || true

# pyJoules (pure Python) from the wheel, and our client next to it.
rm -rf "$ROOT/tmp/whl" && mkdir -p "$ROOT/tmp/whl"
cp "$WHEEL" "$ROOT/tmp/whl/pyjoules.whl"
in_root python3 -m zipfile -e /tmp/whl/pyjoules.whl /tmp/whl/x
[ -f "$ROOT/tmp/whl/x/pyJoules/device/rapl_device.py" ] || die "the wheel holds no pyJoules package"
mkdir -p "$CLIENT/usr/local/lib/pyjoules-client"
cp -a "$ROOT/tmp/whl/x/pyJoules" "$CLIENT/usr/local/lib/pyjoules-client/"
install -m 0644 "$HERE/client/pyjoules_client.py" "$HERE/client/remote_write.py" "$CLIENT/usr/local/lib/pyjoules-client/"
rm -rf "$ROOT/tmp/whl"
# The image must run as built: import pyJoules and the client inside the client rootfs itself.
chroot "$CLIENT" /bin/env PYTHONPATH=/usr/local/lib/pyjoules-client /usr/bin/python3 -c \
  'import pyJoules.energy_meter, pyjoules_client, remote_write; remote_write.encode({frozenset({("a", "b")}): [(1, 2.0)]})' 2>"$TMP/pycheck" \
  || die "python3 in the client rootfs cannot import pyJoules or encode a remote write: $(tail -n 5 "$TMP/pycheck")"
mkdir -p "$ROOT/usr/local/share/pyjoules"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$CLIENT" \
  -cf "$ROOT/usr/local/share/pyjoules/test-client-rootfs.tar" .
step "test-client rootfs: $(du -sh "$CLIENT" | cut -f1), $PYVER, ${#LIBS[@]} libraries"

cat > "$ROOT/usr/local/sbin/pyjoules-import-test-image" <<'EOF'
#!/bin/sh
# Import the test client image (pyJoules; no registry reachable from the guest).
set -eu
IMG=pyjoules-test-client:latest
i=0
until docker info >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 120 ] || { echo "docker not ready" >&2; exit 1; }; sleep 1
done
docker image inspect "$IMG" >/dev/null 2>&1 && exit 0
docker import \
  --change 'ENV PYTHONPATH=/usr/local/lib/pyjoules-client' \
  --change 'CMD ["python3","-u","/usr/local/lib/pyjoules-client/pyjoules_client.py"]' \
  --change 'LABEL org.pulumi-pyjoules.test-client=1' \
  /usr/local/share/pyjoules/test-client-rootfs.tar "$IMG"
EOF
chmod 0755 "$ROOT/usr/local/sbin/pyjoules-import-test-image"
cat > "$ROOT/etc/systemd/system/pyjoules-test-image.service" <<'EOF'
[Unit]
Description=Import the pyjoules test client image (pyJoules) into docker
After=docker.service
Requires=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/pyjoules-import-test-image

[Install]
WantedBy=multi-user.target
EOF

# Prometheus with the remote-write receiver, for the tests that follow samples into it; started on demand
# (`systemctl start pyjoules-prometheus`), never at boot. It listens on docker0's address only, the one
# host.docker.internal (host-gateway) resolves to inside a container, and keeps its data in /run.
mkdir -p "$ROOT/etc/pyjoules-test"
printf 'global:\n  scrape_interval: 1h\n' > "$ROOT/etc/pyjoules-test/prometheus.yml"
cat > "$ROOT/usr/local/sbin/pyjoules-prometheus" <<'EOF'
#!/bin/sh
set -eu
i=0
until addr=$(ip -4 -o addr show dev docker0 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }') && [ -n "$addr" ]; do
  i=$((i + 1)); [ "$i" -lt 120 ] || { echo "docker0 has no IPv4 address" >&2; exit 1; }; sleep 1
done
exec /usr/bin/prometheus --config.file=/etc/pyjoules-test/prometheus.yml --storage.tsdb.path=/run/pyjoules-prometheus \
  --web.listen-address="$addr:9090" --web.enable-remote-write-receiver
EOF
chmod 0755 "$ROOT/usr/local/sbin/pyjoules-prometheus"
cat > "$ROOT/etc/systemd/system/pyjoules-prometheus.service" <<'EOF'
[Unit]
Description=Prometheus with the remote-write receiver on docker0 (pyjoules VM tests)
After=docker.service
Requires=docker.service

[Service]
User=prometheus
RuntimeDirectory=pyjoules-prometheus
ExecStart=/usr/local/sbin/pyjoules-prometheus
EOF

# --- 4. system configuration ----------------------------------------------------------
step "system configuration"
echo "pyj-$DISTRO" > "$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tpyj-%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$DISTRO" > "$ROOT/etc/hosts"
printf '/dev/vda\t/\text4\tdefaults\t0\t0\n' > "$ROOT/etc/fstab"
cat > "$ROOT/etc/systemd/network/20-en.network" <<'EOF'
[Match]
Name=en*

[Network]
DHCP=yes
EOF
in_root systemctl enable systemd-networkd.service pyjoules-test-image.service
in_root systemctl mask systemd-networkd-wait-online.service systemd-firstboot.service \
  apt-daily.timer apt-daily-upgrade.timer fstrim.timer e2scrub_all.timer e2scrub_reap.service \
  dpkg-db-backup.timer man-db.timer prometheus.service
in_root systemctl is-enabled docker.service apparmor.service ssh.service

# --- 5. users, keys, sshd ---------------------------------------------------------------
step "users and ssh keys"
ssh-keygen -q -t ed25519 -N '' -C "pyjoules-vm-test-$DISTRO" -f "$DEST/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$TMP/host_ed25519"
chmod 0600 "$DEST/id_ed25519"
awk '{print $1" "$2}' "$TMP/host_ed25519.pub" > "$DEST/host_ed25519.pub"
PYJPW_PASSWORD="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(umask 077; printf '%s\n' "$PYJPW_PASSWORD" > "$DEST/pyjpw.password")

in_root getent group docker >/dev/null || die "group docker missing (docker.io postinst?)"
in_root useradd -m -s /bin/bash -G docker pyj
in_root usermod -p '*' pyj   # no password, but not "locked" for sshd
in_root useradd -m -s /bin/bash -G sudo pyjpw
printf 'pyjpw:%s\n' "$PYJPW_PASSWORD" | in_root chpasswd
in_root passwd -l root >/dev/null
printf 'pyj ALL=(ALL:ALL) NOPASSWD: ALL\n' > "$ROOT/etc/sudoers.d/pyj"
chmod 0440 "$ROOT/etc/sudoers.d/pyj"
in_root visudo -cq
for u in pyj pyjpw; do
  install -d -m 0700 "$ROOT/home/$u/.ssh"
  install -m 0600 "$DEST/id_ed25519.pub" "$ROOT/home/$u/.ssh/authorized_keys"
  in_root chown -R "$u:$u" "/home/$u/.ssh"
done

rm -f "$ROOT"/etc/ssh/ssh_host_*
install -m 0600 "$TMP/host_ed25519" "$ROOT/etc/ssh/ssh_host_ed25519_key"
install -m 0644 "$TMP/host_ed25519.pub" "$ROOT/etc/ssh/ssh_host_ed25519_key.pub"
mkdir -p "$ROOT/etc/ssh/sshd_config.d"
cat > "$ROOT/etc/ssh/sshd_config.d/10-pyjoules.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
UseDNS no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
EOF
grep -q '^Include /etc/ssh/sshd_config.d/' "$ROOT/etc/ssh/sshd_config" \
  || die "sshd_config does not include sshd_config.d"
in_root mkdir -p /run/sshd
in_root /usr/sbin/sshd -t

# --- 6. tidy, disk image ------------------------------------------------------------------
step "tidy and make disk"
rm -f "$ROOT/usr/sbin/policy-rc.d"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/tmp/* "$ROOT"/var/tmp/* \
  "$ROOT/var/cache/apt/archives/"*.deb "$ROOT"/var/log/*.log "$ROOT/var/log/apt" "$ROOT/run/sshd"
# shellcheck disable=SC2016  # dpkg-query format, not shell expansion
VERSION_FMT='${Version}'
DOCKER_VER="$(in_root dpkg-query -W -f "$VERSION_FMT" docker.io)"
APPARMOR_VER="$(in_root dpkg-query -W -f "$VERSION_FMT" apparmor)"
umount "$ROOT/proc"

cp "$ROOT/boot/vmlinuz-$KVER" "$DEST/vmlinuz"
cp "$ROOT/boot/initrd.img-$KVER" "$DEST/initrd.img"
truncate -s 4G "$DEST/disk.img"
mkfs.ext4 -q -F -L pyjroot -d "$ROOT" "$DEST/disk.img"
USED_KB="$(du -sk "$DEST/disk.img" | cut -f1)"
safe_rm "$ROOT"
safe_rm "$TMP/bb"
safe_rm "$TMP/client"

cat > "$DEST/image.json" <<EOF
{
  "distro": "$DISTRO",
  "kernel": "$KVER",
  "dockerIo": "$DOCKER_VER",
  "apparmor": "$APPARMOR_VER",
  "mirror": "$MIRROR",
  "diskUsedKiB": $USED_KB,
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "buildSeconds": $(( $(date +%s) - START ))
}
EOF
touch "$DEST/.complete"
mv -T "$DEST" "$OUT"
step "done: $OUT (kernel $KVER, docker.io $DOCKER_VER, apparmor $APPARMOR_VER)"
