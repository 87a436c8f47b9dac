#!/bin/sh
# Builds a busybox rootfs from Debian's busybox-static and an OCI bundle
# around it. No network is needed.
#
#   scripts/make-test-image.sh [--rootless] [--runtime PATH] BUNDLE_DIR [ARGS...]
#
# BUNDLE_DIR/rootfs gets busybox and one symlink per applet, /etc/passwd and
# /etc/group; BUNDLE_DIR/config.json is `berth-runtime spec` with
# terminal off, the given ARGS (default: sh) and a relative cgroupsPath, so
# cgroups land below the caller's own cgroup.
set -eu

rootless=""
runtime=""
while [ $# -gt 0 ]; do
	case "$1" in
	--rootless) rootless="--rootless"; shift ;;
	--runtime) runtime="$2"; shift 2 ;;
	--) shift; break ;;
	-*) echo "make-test-image.sh: unknown flag $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "usage: make-test-image.sh [--rootless] [--runtime PATH] BUNDLE_DIR [ARGS...]" >&2; exit 2; }
bundle="$1"; shift

busybox=/bin/busybox
if ! "$busybox" --list >/dev/null 2>&1 || ldd "$busybox" >/dev/null 2>&1; then
	echo "make-test-image.sh: $busybox is missing or not static: apt-get install busybox-static" >&2
	exit 1
fi
if [ -z "$runtime" ]; then
	here=$(cd "$(dirname "$0")/.." && pwd)
	runtime="$here/build/src/cmd/runtime/berth-runtime"
fi
[ -x "$runtime" ] || { echo "make-test-image.sh: runtime $runtime not built" >&2; exit 1; }
command -v jq >/dev/null || { echo "make-test-image.sh: jq is required" >&2; exit 1; }

mkdir -p "$bundle"
rootfs="$bundle/rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp" "$rootfs/root" \
	"$rootfs/var/tmp" "$rootfs/home/user"
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
mkdir -p "$rootfs/usr"
ln -sfn ../bin "$rootfs/usr/bin"
ln -sfn bin "$rootfs/sbin"
cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
tty:x:5:
user:x:1000:
nogroup:x:65534:
GROUP
echo "berth-test" >"$rootfs/etc/hostname"
chown 1000:1000 "$rootfs/home/user" 2>/dev/null || true

rm -f "$bundle/config.json"
"$runtime" spec $rootless --bundle "$bundle"
if [ $# -eq 0 ]; then set -- sh; fi
args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
id=$(basename "$bundle")
tmp="$bundle/config.json.tmp"
jq --argjson args "$args" --arg cg "berth-test/$id" \
	'.process.terminal = false | .process.args = $args | .linux.cgroupsPath = $cg' \
	"$bundle/config.json" >"$tmp"
mv "$tmp" "$bundle/config.json"
