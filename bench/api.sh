#!/usr/bin/env bash
# The docker CLI through berth's API service against the same CLI through a
# real dockerd (issue 17), side by side in one run: `docker run --rm bb true`,
# `docker ps` and `docker create` + `start -a` + `rm`.
#
#   bench/api.sh [--quick] [--out FILE] [--berth PATH]
#
#   --quick        3 rounds of 3 runs per command and target; full: 5 of 5
#   --out FILE     also write the report (markdown) to FILE
#   --berth PATH   berth binary (default $BERTH or build/src/cmd/berth/berth)
#
# Needs root, hyperfine, jq, busybox-static, unshare/nsenter, Debian's
# docker.io (/usr/sbin/dockerd, its containerd and runc, /usr/bin/docker).
# It installs nothing. A manual benchmark: not for CI.
#
# The script re-runs itself in a private mount and network namespace
# (unshare -m -n, only lo): berth's bridge and nftables table exist only
# there. dockerd is the private one of scripts/private-dockerd.sh (its own
# roots, containerd, socket, network and mount namespaces). Everything is in
# one mktemp -d directory, removed at the end; both engines' containers go
# beneath one cgroup below ours, removed at the end. Both engines get the
# same one-layer busybox image: imported into berth, `berth save`d, and
# `docker load`ed into dockerd.
#
# The machine is shared and its load swings, so each round runs the two
# targets of a command back to back (hyperfine, the order rotating every
# round), and the report's ratio is the median over the rounds of each
# round's dockerd/berth ratio of medians, beside the plain medians.
set -eEuo pipefail
trap 'echo "bench/api.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
rounds=5 runs=5 out="" berth="${BERTH:-$repo/build/src/cmd/berth/berth}"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) rounds=3 runs=3 ;;
	--out) out=$2 && shift ;;
	--berth) berth=$2 && shift ;;
	--inner) inner=1 ;;
	*) echo "usage: bench/api.sh [--quick] [--out FILE] [--berth PATH]" >&2 && exit 2 ;;
	esac
	shift
done

if [ "${inner:-0}" = 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench/api.sh: needs root" >&2 && exit 2; }
	for t in hyperfine jq busybox unshare nsenter curl /usr/sbin/dockerd /usr/bin/docker; do
		command -v "$t" >/dev/null || { echo "bench/api.sh: $t is missing" >&2 && exit 2; }
	done
	[ -x "$berth" ] || { echo "bench/api.sh: no berth at $berth (build it first)" >&2 && exit 2; }
	args=(--inner --berth "$(realpath "$berth")")
	[ -z "$out" ] || args+=(--out "$(realpath -m "$out")")
	[ "$rounds" = 5 ] || args+=(--quick)
	exec unshare -m -n --propagation private "$0" "${args[@]}"
fi

# ---------------------------------------------------------------- inner: in the private namespaces
# shellcheck source=scripts/private-dockerd.sh
. "$repo/scripts/private-dockerd.sh"
tmp=$(mktemp -d /tmp/berth-bench-api.XXXXXX)
cg="berth-bench-api-$$"
service_pid=""
B() { BERTH_NETWORK_RUNDIR="$tmp/hostnet" "$berth" --root "$tmp/store" --runroot "$tmp/run" "$@"; }
cleanup() {
	set +e
	trap - ERR
	for id in $(B ps -aq 2>/dev/null); do B rm -f "$id" >/dev/null 2>&1; done
	if [ -n "$service_pid" ]; then
		kill "$service_pid" 2>/dev/null
		wait "$service_pid" 2>/dev/null
	fi
	private_dockerd_stop
	_private_dockerd_rmdir_cgroups "$cg"
	rm -rf "$tmp"
}
trap cleanup EXIT
ip link set lo up
export DOCKER_CONFIG="$tmp/docker-config"
mkdir -p "$DOCKER_CONFIG"

rootfs="$tmp/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in sh true; do ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
tar -C "$rootfs" -cf "$tmp/rootfs.tar" .
B import "$tmp/rootfs.tar" bb >/dev/null
B save -o "$tmp/bb.tar" bb

B system service --listen "unix://$tmp/berth.sock" </dev/null >"$tmp/service.log" 2>&1 &
service_pid=$!
private_dockerd_start "$tmp/dockerd" "$cg/dockerd" || exit 1
declare -A sock=([berth]="$tmp/berth.sock" [dockerd]="$PRIVATE_DOCKERD_SOCK")
for t in berth dockerd; do
	for _ in $(seq 100); do
		curl -sf --unix-socket "${sock[$t]}" http://x/_ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	/usr/bin/docker -H "unix://${sock[$t]}" version --format '{{.Server.Version}}' >/dev/null
done
/usr/bin/docker -H "unix://$PRIVATE_DOCKERD_SOCK" load -i "$tmp/bb.tar" >/dev/null

# cmd OP TARGET: the shell command hyperfine runs
cmd() {
	local D="/usr/bin/docker -H unix://${sock[$2]}"
	case "$1" in
	run) echo "$D run --rm --cgroup-parent $cg/$2 bb true" ;;
	ps) echo "$D ps" ;;
	create-start-rm) echo "id=\$($D create --cgroup-parent $cg/$2 bb true) && $D start -a \$id && $D rm \$id >/dev/null" ;;
	esac
}
for op in run ps create-start-rm; do
	for t in berth dockerd; do
		sh -c "$(cmd "$op" "$t")" >/dev/null || { echo "bench/api.sh: $op through $t failed" >&2 && exit 1; }
	done
done

ops=(run ps create-start-rm)
targets=(berth dockerd)
declare -A all ratios
for ((r = 0; r < rounds; r++)); do
	for op in "${ops[@]}"; do
		order=("${targets[@]}")
		((r % 2 == 0)) || order=(dockerd berth)
		hyperfine --style none --warmup 1 --runs "$runs" --export-json "$tmp/h.json" \
			-n "${order[0]}" "$(cmd "$op" "${order[0]}")" -n "${order[1]}" "$(cmd "$op" "${order[1]}")" >/dev/null 2>&1
		declare -A med=()
		for t in berth dockerd; do
			med[$t]=$(jq -r --arg n "$t" '.results[] | select(.command == $n) | .median' "$tmp/h.json")
			all[$op.$t]="${all[$op.$t]:-} $(jq -r --arg n "$t" '.results[] | select(.command == $n) | .times | map(tostring) | join(" ")' "$tmp/h.json")"
		done
		ratios[$op]="${ratios[$op]:-} $(awk -v a="${med[dockerd]}" -v b="${med[berth]}" 'BEGIN {printf "%.1f", a / b}')"
	done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1000}'; }
{
	echo "docker CLI $(/usr/bin/docker --version | awk '{print $3}' | tr -d ,) through berth's service vs dockerd $(/usr/sbin/dockerd --version | awk '{print $3}' | tr -d ,) (its containerd, runc $(runc --version 2>/dev/null | awk 'NR==1 {print $3}'), overlay2, cgroupfs),"
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: compare the ratios)."
	echo "hyperfine, $rounds rounds of $runs runs (+1 warmup) per command and target, the order alternating;"
	echo "ratio: median over the rounds of each round's dockerd/berth ratio of medians."
	echo
	echo "| command | berth (median ms) | dockerd (median ms) | dockerd / berth | per-round ratios |"
	echo "|---|---|---|---|---|"
	for op in "${ops[@]}"; do
		case "$op" in
		run) label='`docker run --rm bb true`' ;;
		ps) label='`docker ps` (no containers)' ;;
		create-start-rm) label='`docker create` + `start -a` + `rm`' ;;
		esac
		echo "| $label | $(ms "$(median "${all[$op.berth]}")") | $(ms "$(median "${all[$op.dockerd]}")") | $(median "${ratios[$op]}") |${ratios[$op]} |"
	done
} | tee "${out:-/dev/null}"
