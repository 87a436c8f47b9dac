#!/bin/sh
# The README's set-up on a fresh Debian 12: a clean root made with
# `debootstrap --variant=minbase bookworm` (no sudo, no compiler, none of
# the packages a developer's machine collected by hand), the checkout copied
# in, then inside it, as root:
#   1. scripts/demo.sh (the README's first command: install-deps.sh, build.sh,
#      a local registry, berth pull, berth-runtime run)
#   2. scripts/install-deps.sh --all, then every tool scripts/test.sh and the
#      suites call is looked up, and the unit tests and a small bats file run
# Fails when any step fails, e.g. a package missing from install-deps.sh.
#
#   tests/fresh/run.sh [--keep]
#
# The debootstrap result is cached as a tarball in $BERTH_FRESH_CACHE
# (default /var/cache/berth-fresh), keyed by suite, variant and mirror; the
# packages of install-deps.sh are always installed afresh. Everything runs in
# a private mount namespace, so a killed run leaves no mount on the host; the
# root itself goes at exit (--keep leaves it for a look).
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)

suite=bookworm
variant=minbase
mirror=${BERTH_FRESH_MIRROR:-http://deb.debian.org/debian}
cache=${BERTH_FRESH_CACHE:-/var/cache/berth-fresh}
keep=0
[ "${1:-}" = "--keep" ] && keep=1

if [ "$(id -u)" != 0 ]; then
	echo "fresh/run.sh: needs root (debootstrap, chroot)" >&2
	exit 2
fi
for tool in debootstrap unshare chroot tar git sha256sum; do
	command -v "$tool" >/dev/null || {
		echo "fresh/run.sh: $tool is missing (scripts/install-deps.sh installs it)" >&2
		exit 2
	}
done

work=$(mktemp -d /var/tmp/berth-fresh.XXXXXX)
cleanup() {
	if [ $keep = 1 ]; then
		echo "fresh/run.sh: root kept in $work/root"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
root=$work/root
mkdir "$root"

key=$(printf '%s %s %s\n' "$suite" "$variant" "$mirror" | sha256sum | cut -c1-16)
tarball=$cache/$suite-$variant-$key.tar
if [ -f "$tarball" ]; then
	echo "==> clean $suite root from the cache ($tarball)"
	tar -C "$root" -xpf "$tarball"
else
	echo "==> debootstrap --variant=$variant $suite"
	debootstrap --variant="$variant" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
		tail -20 "$work/debootstrap.log" >&2
		echo "fresh/run.sh: debootstrap failed (log above)" >&2
		exit 1
	}
	mkdir -p "$cache"
	tar -C "$root" -cpf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
fi
# proof that the root is fresh: nothing a build needs is there yet
for absent in gcc meson sudo; do
	if chroot "$root" sh -c "command -v $absent" >/dev/null 2>&1; then
		echo "fresh/run.sh: the clean root already has $absent: not a fresh machine" >&2
		exit 1
	fi
done

# the checkout as CI sees it: tracked files (with their changes), no build dirs
mkdir -p "$root/berth"
git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -cf - | tar -C "$root/berth" -xf -
cp /etc/resolv.conf "$root/etc/resolv.conf"

# inside: what a new user types, as root, from the checkout
cat >"$root/fresh-steps.sh" <<'EOF'
#!/bin/sh
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
cd /berth
echo "==> [fresh] scripts/demo.sh"
scripts/demo.sh
echo "==> [fresh] scripts/install-deps.sh --all"
scripts/install-deps.sh --all
echo "==> [fresh] the tools scripts/test.sh and the suites call"
missing=""
for t in meson ninja gcc clang clang-format bats jq busybox newuidmap newgidmap ip nsenter \
	unshare setpriv ps docker-registry skopeo umoci htpasswd ab zstd curl openssl nft pasta \
	slirp4netns runc crun buildah hyperfine strace podman containerd docker ss flock timeout debootstrap; do
	command -v "$t" >/dev/null || missing="$missing $t"
done
[ -x /usr/lib/cni/bridge ] || missing="$missing containernetworking-plugins"
if [ -n "$missing" ]; then
	echo "fresh: not installed by scripts/install-deps.sh --all:$missing" >&2
	exit 1
fi
echo "==> [fresh] unit tests"
meson test -C build --print-errorlogs >/dev/null
echo "==> [fresh] one integration file"
tests/integration/run.sh tests/integration/lifecycle.bats
EOF
chmod 755 "$root/fresh-steps.sh"

# A private mount namespace: /proc, /sys, /dev and /run exist only for the
# chroot and vanish with it. The root is a mount point of its own so that
# berth-runtime's pivot_root works inside the chroot.
echo "==> inside the clean root"
unshare --mount --propagation private sh -eu -c '
	root=$1
	mount --bind "$root" "$root"
	mount -t proc proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o mode=755 tmpfs "$root/run"
	mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
	exec chroot "$root" /fresh-steps.sh
' fresh "$root"
echo "==> fresh Debian 12 root: the README's set-up works"
