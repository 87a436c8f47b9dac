#!/bin/sh
# Installs every build and test dependency of berth from Debian 12's archive.
#   scripts/install-deps.sh            build + unit/integration test deps
#   scripts/install-deps.sh --all      also the real clients and benchmark tools
set -eu

if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: run as root (apt-get)" >&2
	exit 1
fi

build="meson ninja-build pkg-config gcc libc6-dev libmicrohttpd-dev libseccomp-dev libcap-dev libjansson-dev libmd-dev libarchive-dev nettle-dev libzstd-dev liblzma-dev libbz2-dev zlib1g-dev libcurl4-openssl-dev libmnl-dev libnftables-dev libgpgme-dev librnp-dev libyaml-dev libssl-dev"
test="libcmocka-dev docker.io docker-compose python3-docker debootstrap bats jq busybox-static uidmap iproute2 util-linux procps clang-format clang libfuzzer-14-dev docker-registry skopeo umoci apache2-utils zstd curl openssl nftables passt slirp4netns containernetworking-plugins gnupg"
extra="runc crun buildah hyperfine time strace podman catatonit containerd docker.io curl ca-certificates"

pkgs="$build $test"
[ "${1:-}" = "--all" ] && pkgs="$pkgs $extra"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends $missing
fi
echo "install-deps.sh: all dependencies present"
