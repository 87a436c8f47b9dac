#!/usr/bin/env bash
# What a Service hop costs: requests/s through a ClusterIP (and a NodePort on
# 127.0.0.1) against the same endpoint's pod IP, side by side in one run.
#
#   bench/service.sh [--quick] [--rounds N] [--requests N] [--server fixed|busybox] [--out FILE]
#                    [--berth PATH]
#
#   --quick        8 rounds; full: 24 rounds (--rounds N: N)
#   --server S     fixed (default): tests/helpers/http-fixed, one process that
#                  does not fork; busybox: busybox httpd, a fork per connection
#   --out FILE     also write the report (markdown) to FILE
#   --berth PATH   berth binary (default $BERTH or build/src/cmd/berth/berth)
#   BENCH_VERBOSE=1  each run's requests/s on stderr
#
# Needs root, ab (apache2-utils), jq, busybox-static, unshare/nsenter, and
# the build's tests/helpers/http-fixed (static) for the default server. It
# installs nothing. A manual benchmark: not for CI.
#
# The script re-runs itself in a private mount and network namespace
# (unshare -m -n, only lo): berth0, the veths, berth's nftables table, the
# route of the service range and the sysctls exist only there. The store,
# run root and host-wide network directory are in one mktemp -d directory,
# removed at the end.
#
# One container is the only endpoint of a service with a NodePort. Each
# round runs `ab -n N -c 8` (N: 3000 with http-fixed, 1000 with busybox, about
# a third of a second each here; --requests N) against
#   pod        http://POD_IP:80/          the container directly
#   clusterip  http://10.96.0.1:80/       DNAT in svc_output (nat, output hook)
#   nodeport   http://127.0.0.1:NODEPORT/ DNAT, then masquerade of 127.0.0.1
# in the order pod, clusterip, nodeport, nodeport, clusterip, pod (ABCCBA:
# a load that rises or falls steadily through the round weighs the same on
# each target), or its mirror image every other round. Every request is a
# new connection (ab without -k), so each pays the conntrack/NAT setup of a
# new flow: the worst case for a service hop. The machine is shared and its
# load swings within seconds, so a round is short and its runs back to
# back; the report gives, per target, the median over the rounds of the
# round's target/pod ratio (each target's two runs summed), the quartiles
# and extremes of those ratios (the spread the noise leaves), and the plain
# medians of requests/s. Compare ratios within one run, not figures across
# runs.
set -eEuo pipefail
trap 'echo "bench/service.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
rounds=24 requests="" out="" server=fixed berth="${BERTH:-$repo/build/src/cmd/berth/berth}"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) rounds=8 ;;
	--rounds) rounds=$2 && shift ;;
	--server) server=$2 && shift ;;
	--requests) requests=$2 && shift ;;
	--out) out=$2 && shift ;;
	--berth) berth=$2 && shift ;;
	--inner) inner=1 ;;
	*) echo "usage: bench/service.sh [--quick] [--rounds N] [--requests N] [--server fixed|busybox] [--out FILE] [--berth PATH]" >&2 && exit 2 ;;
	esac
	shift
done

if [ "${inner:-0}" = 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench/service.sh: needs root" >&2 && exit 2; }
	for t in ab jq busybox unshare; do
		command -v "$t" >/dev/null || { echo "bench/service.sh: $t is missing" >&2 && exit 2; }
	done
	[ -x "$berth" ] || { echo "bench/service.sh: no berth at $berth (build it first)" >&2 && exit 2; }
	case "$server" in
	fixed) [ -x "$repo/build/tests/helpers/http-fixed" ] || { echo "bench/service.sh: build/tests/helpers/http-fixed is not built" >&2 && exit 2; } ;;
	busybox) ;;
	*) echo "bench/service.sh: --server fixed or busybox" >&2 && exit 2 ;;
	esac
	[ -n "$requests" ] || { [ "$server" = fixed ] && requests=3000 || requests=1000; }
	args=(--inner --berth "$(realpath "$berth")" --rounds "$rounds" --server "$server" --requests "$requests")
	[ -z "$out" ] || args+=(--out "$(realpath -m "$out")")
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
# ab closes each connection first, so its ports wait in TIME_WAIT for 60 s:
# at thousands of connections a second the default range (28k ports) runs out
# within a few rounds and requests/s collapse. In this namespace only: reuse
# them (TCP timestamps make that safe) from a wider range.
sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"

rootfs="$tmp/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/www"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in sh httpd mkdir; do ln -s busybox "$rootfs/bin/$a"; done
[ "$server" = busybox ] || cp "$repo/build/tests/helpers/http-fixed" "$rootfs/bin/http-fixed"
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
head -c 512 /dev/zero | tr '\0' x >"$rootfs/www/index.html"
tar -C "$rootfs" -cf "$tmp/rootfs.tar" .
B import "$tmp/rootfs.tar" bb >/dev/null
if [ "$server" = busybox ]; then
	B run -d --name web bb httpd -f -p 80 -h /www >/dev/null
else
	B run -d --name web bb http-fixed 80 512 >/dev/null
fi
pod=$(B inspect web | jq -r '.[0].NetworkSettings.IPAddress')
# The server closes each connection first (HTTP/1.0), so its sockets wait
# in TIME_WAIT for 60 s; a new connection from a client port that one of
# them still holds is answered by the old socket (timestamps are random per
# connection) and retries after a second: past ~15k connections requests/s
# collapse. In the pod's namespace only, few TIME_WAIT sockets are kept.
nsenter -t "$(B inspect web | jq -r '.[0].State.Pid')" -n sysctl -qw net.ipv4.tcp_max_tw_buckets=256
# and the flows' conntrack entries go 1 s after their end, not 120: the
# table is the host's, its limit shared with everyone else
sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=1
read -r _ vip ports < <(B network service create web -p 80 --type NodePort)
nodeport=${ports#80:}
nodeport=${nodeport%/TCP}
B network service set-endpoints web "$pod"

declare -A url=([pod]="http://$pod:80/" [clusterip]="http://$vip:80/" [nodeport]="http://127.0.0.1:$nodeport/")
targets=(pod clusterip nodeport)
for t in "${targets[@]}"; do
	for ((i = 0; i < 50; i++)); do
		curl -sf -m 3 -o /dev/null "${url[$t]}" && break
		sleep 0.1
	done
	curl -sf -m 3 -o /dev/null "${url[$t]}" || { echo "bench/service.sh: $t (${url[$t]}) does not answer" >&2 && exit 1; }
done

# one ab run: "REQUESTS_PER_S FAILED"
run_ab() {
	ab -q -n "$requests" -c 8 "$1" 2>/dev/null |
		awk '/^Requests per second/ {r = $4} /^Failed requests/ {f = $3} END {print r + 0, (f == "" ? -1 : f)}'
}

declare -A results ratios sum
failures=0
for ((r = 0; r < rounds; r++)); do
	order=(pod clusterip nodeport nodeport clusterip pod)
	((r % 2 == 0)) || order=(nodeport clusterip pod pod clusterip nodeport)
	for t in "${targets[@]}"; do sum[$t]=0; done
	for t in "${order[@]}"; do
		read -r rps failed < <(run_ab "${url[$t]}")
		[ "$failed" = 0 ] || { echo "bench/service.sh: $t: $failed failed requests" >&2 && failures=$((failures + 1)); }
		[ -z "${BENCH_VERBOSE:-}" ] || echo "$t $rps" >&2
		results[$t]="${results[$t]:-} $rps"
		sum[$t]=$(awk -v a="${sum[$t]}" -v b="$rps" 'BEGIN {print a + b}')
	done
	for t in "${targets[@]}"; do
		ratios[$t]="${ratios[$t]:-} $(awk -v a="${sum[$t]}" -v b="${sum[pod]}" 'BEGIN {printf "%.3f", a / b}')"
	done
done

# quantile Q (0-1) of a list of numbers, linear between neighbours
quantile() {
	tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g |
		awk -v q="$2" '{v[NR] = $1} END {p = 1 + q * (NR - 1); i = int(p); f = p - i; printf "%.3f", (i < NR) ? v[i] + f * (v[i + 1] - v[i]) : v[NR]}'
}
{
	echo "Service hop, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), server $server"
	echo "(shared machine: compare the ratios, not the absolute figures)."
	echo "ab -n $requests -c 8, a new connection per request; $rounds rounds of ABCCBA; ratio: the round's target/pod;"
	echo "$failures runs with failed requests."
	echo
	echo "| target | requests/s (median of runs) | ratio to pod IP: median | quartiles | min - max |"
	echo "|---|---:|---:|---|---|"
	for t in "${targets[@]}"; do
		printf '| %s | %.0f | %s | %s - %s | %s - %s |\n' "$t" "$(quantile "${results[$t]}" 0.5)" \
			"$(quantile "${ratios[$t]}" 0.5)" "$(quantile "${ratios[$t]}" 0.25)" "$(quantile "${ratios[$t]}" 0.75)" \
			"$(quantile "${ratios[$t]}" 0)" "$(quantile "${ratios[$t]}" 1)"
	done
	echo
	for t in clusterip nodeport; do
		echo "per-round $t/pod:${ratios[$t]}"
	done
} | tee "${out:-/dev/null}"
