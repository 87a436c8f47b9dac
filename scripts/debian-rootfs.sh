#!/bin/sh
# A Debian 12 root made with `debootstrap --variant=minbase bookworm`, plus
# the packages asked for, as a tarball in a cache; prints the tarball's path.
#
#   scripts/debian-rootfs.sh [--include=PKG,PKG...]
#
# The cache is $BERTH_FRESH_CACHE (default /var/cache/berth-fresh), shared
# with tests/fresh/run.sh: the tarball is keyed by suite, variant, mirror and
# the sorted package list (no packages: the same key as tests/fresh/run.sh's).
# The .debs of the minbase tarball, when it is cached, seed debootstrap's
# package cache, so only the added packages are downloaded. The apt archive
# of the result is emptied (as `apt-get clean`). Needs root and, when the
# tarball is not cached yet, the network: exit 3 when debootstrap fails, so
# a caller can tell "cannot be made here" from other errors.
set -eu

suite=bookworm
variant=minbase
mirror=${BERTH_FRESH_MIRROR:-http://deb.debian.org/debian}
cache=${BERTH_FRESH_CACHE:-/var/cache/berth-fresh}
include=""
case "${1:-}" in
--include=*) include=$(printf '%s\n' "${1#--include=}" | tr ',' '\n' | sort -u | paste -sd, -) ;;
"") ;;
*)
	echo "debian-rootfs.sh: usage: debian-rootfs.sh [--include=PKG,PKG...]" >&2
	exit 2
	;;
esac

if [ -z "$include" ]; then
	key=$(printf '%s %s %s\n' "$suite" "$variant" "$mirror" | sha256sum | cut -c1-16)
	tarball=$cache/$suite-$variant-$key.tar
else
	key=$(printf '%s %s %s %s\n' "$suite" "$variant" "$mirror" "$include" | sha256sum | cut -c1-16)
	tarball=$cache/$suite-$variant-$(printf '%s' "$include" | tr ',' '+' | cut -c1-40)-$key.tar
fi
if [ -f "$tarball" ]; then
	echo "$tarball"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "debian-rootfs.sh: needs root (debootstrap)" >&2
	exit 2
fi
command -v debootstrap >/dev/null || {
	echo "debian-rootfs.sh: debootstrap is missing (scripts/install-deps.sh installs it)" >&2
	exit 3
}
mkdir -p "$cache"
work=$(mktemp -d /var/tmp/berth-debian.XXXXXX)
trap 'rm -rf "$work" "$tarball.tmp.$$"' EXIT
trap 'exit 130' INT TERM
mkdir "$work/root" "$work/debs"

base=$cache/$suite-$variant-$(printf '%s %s %s\n' "$suite" "$variant" "$mirror" | sha256sum | cut -c1-16).tar
if [ -n "$include" ] && [ -f "$base" ]; then
	tar -C "$work/debs" --wildcards --strip-components=5 -xf "$base" './var/cache/apt/archives/*.deb' 2>/dev/null || true
fi
set -- --variant="$variant"
[ -n "$include" ] && set -- "$@" --include="$include" --cache-dir="$work/debs"
# a mount namespace of its own: the /proc and /sys debootstrap mounts in the
# root go with it, also when it is killed
if ! unshare --mount --propagation private debootstrap "$@" "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1; then
	tail -20 "$work/debootstrap.log" >&2
	echo "debian-rootfs.sh: debootstrap $suite with \"$include\" failed (log above)" >&2
	exit 3
fi
[ -n "$include" ] && rm -f "$work/root"/var/cache/apt/archives/*.deb
tar -C "$work/root" -cpf "$tarball.tmp.$$" . && mv "$tarball.tmp.$$" "$tarball"
echo "$tarball"
