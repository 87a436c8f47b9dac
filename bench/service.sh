#!/usr/bin/env bash
# What a Service hop costs: requests/s through a ClusterIP (and a NodePort on
# 127.0.0.1) against the same endpoint's pod IP, side by side in one run.
#
#   bench/service.sh [--quick] [--out FILE] [--berth PATH]
#
#   --quick        5 rounds of 1000 requests per target; full: 15 rounds
#   --out FILE     also write the report (markdown) to FILE
#   --berth PATH   berth binary (default $BERTH or build/src/cmd/berth/berth)
#
# Needs root, ab (apache2-utils), jq, busybox-static, unshare/nsenter. It
# installs nothing. A manual benchmark: not for CI.
#
# The script re-runs itself in a private mount and network namespace
# (unshare -m -n, only lo): berth0, the veths, berth's nftables table, the
# route of the service range and the sysctls exist only there. The store,
# run root and host-wide network directory are in one mktemp -d directory,
# removed at the end.
#
# One busybox httpd container (it forks a child per connection) is the only
# endpoint of a service with a NodePort. Each round runs `ab -n N -c 8`
# against, in an order that rotates every round:
#   pod        http://POD_IP:80/          the container directly
#   clusterip  http://10.96.0.1:80/       DNAT in svc_output (nat, output hook)
#   nodeport   http://127.0.0.1:NODEPORT/ DNAT, then masquerade of 127.0.0.1
# Every request is a new connection (ab without -k), so each pays the
# conntrack/NAT setup of a new flow: the worst case for a service hop. The
# machine is shared and its load swings within seconds, so the three runs of
# a round are short and back to back, and the report's ratio is the median
# over the rounds of each round's target/pod ratio (beside the plain medians
# of requests/s). Compare ratios within one run, not figures across runs.
set -eEuo pipefail
trap 'echo "bench/service.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
rounds=15 requests=1000 out="" berth="${BERTH:-$repo/build/src/cmd/berth/berth}"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) rounds=5 ;;
	--out) out=$2 && shift ;;
	--berth) berth=$2 && shift ;;
	--inner) inner=1 ;;
	*) echo "usage: bench/service.sh [--quick] [--out FILE] [--berth PATH]" >&2 && exit 2 ;;
	esac
	shift
done

if [ "${inner:-0}" = 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench/service.sh: needs root" >&2 && exit 2; }
	for t in ab jq busybox unshare; do
		command -v "$t" >/dev/null || { echo "bench/service.sh: $t is missing" >&2 && exit 2; }
	done
	[ -x "$berth" ] || { echo "bench/service.sh: no berth at $berth (build it first)" >&2 && exit 2; }
	args=(--inner --berth "$(realpath "$berth")")
	[ -z "$out" ] || args+=(--out "$(realpath -m "$out")")
	[ "$rounds" = 15 ] || args+=(--quick)
	exec unshare -m -n --propagation private "$0" "${args[@]}"
fi

# ---------------------------------------------------------------- inner: in the private namespaces
tmp=$(mktemp -d /tmp/berth-bench-service.XXXXXX)
B() { BERTH_NETWORK_RUNDIR="$tmp/hostnet" "$berth" --root "$tmp/store" --runroot "$tmp/run" "$@"; }
cleanup() {
	B rm -f web >/dev/null 2>&1 || true
	B network service rm web >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip link set lo up

rootfs="$tmp/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/www"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in sh httpd mkdir; do ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
head -c 512 /dev/zero | tr '\0' x >"$rootfs/www/index.html"
tar -C "$rootfs" -cf "$tmp/rootfs.tar" .
B import "$tmp/rootfs.tar" bb >/dev/null
B run -d --name web bb httpd -f -p 80 -h /www >/dev/null
pod=$(B inspect web | jq -r '.[0].NetworkSettings.IPAddress')
read -r _ vip ports < <(B network service create web -p 80 --type NodePort)
nodeport=${ports#80:}
nodeport=${nodeport%/TCP}
B network service set-endpoints web "$pod"

declare -A url=([pod]="http://$pod:80/" [clusterip]="http://$vip:80/" [nodeport]="http://127.0.0.1:$nodeport/")
targets=(pod clusterip nodeport)
for t in "${targets[@]}"; do
	curl -sf -m 3 -o /dev/null "${url[$t]}" || { echo "bench/service.sh: $t (${url[$t]}) does not answer" >&2 && exit 1; }
done

declare -A results ratios round
for ((r = 0; r < rounds; r++)); do
	for ((k = 0; k < ${#targets[@]}; k++)); do
		t=${targets[$(((k + r) % ${#targets[@]}))]}
		rps=$(ab -q -n "$requests" -c 8 "${url[$t]}" 2>/dev/null | awk '/^Requests per second/ {print $4}')
		failed=$(ab -q -n 200 -c 8 "${url[$t]}" 2>/dev/null | awk '/^Failed requests/ {print $3}')
		[ "${failed:-1}" = 0 ] || echo "bench/service.sh: $t: $failed failed requests" >&2
		results[$t]="${results[$t]:-} $rps"
		round[$t]=$rps
	done
	for t in "${targets[@]}"; do
		ratios[$t]="${ratios[$t]:-} $(awk -v a="${round[$t]}" -v b="${round[pod]}" 'BEGIN {printf "%.3f", a / b}')"
	done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
{
	echo "Service hop, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "(shared, loaded machine: compare the ratios, not the absolute figures)."
	echo "ab -n $requests -c 8, a new connection per request, $rounds rounds; ratio: median of the rounds' target/pod:"
	echo
	echo "| target | requests/s (median) | ratio to pod IP (median of rounds) | per-round ratios |"
	echo "|---|---|---|---|"
	for t in "${targets[@]}"; do
		printf '| %s | %.0f | %s |%s |\n' "$t" "$(median "${results[$t]}")" "$(median "${ratios[$t]}")" "${ratios[$t]}"
	done
} | tee "${out:-/dev/null}"
