#!/usr/bin/env bash
# How long a replica that turns ready waits for its first connection through
# its Service's ClusterIP (issue 15's target: 100 ms).
#
#   bench/kube-traffic.sh [--quick] [--out FILE] [--berth PATH]
#
#   --quick        5 rounds; full: 15
#   --out FILE     also write the report (markdown) to FILE
#   --berth PATH   berth binary (default $BERTH or build/src/cmd/berth/berth)
#
# Needs root, jq, busybox-static, unshare. It installs nothing. A manual
# benchmark: not for CI.
#
# The script re-runs itself in a private mount and network namespace
# (unshare -m -n, only lo), as bench/service.sh: the bridge, berth's nftables
# table, the kube controller and the pods' monitors live only there. The
# store, run root and host-wide network directory are in one mktemp -d
# directory, removed at the end (after `kube delete all --all`, so the
# controller and the monitors exit).
#
# One Deployment of 1 replica (busybox httpd) behind a ClusterIP Service. Its
# readiness probe is an exec probe, every second, that passes while the file
# "flag" exists in a hostPath directory and then touches "probed" there.
# Each round: remove "flag" and wait until the ClusterIP refuses connections
# (the replica left the endpoints), wait a random part of a second (so rounds
# do not line up with the probe period), create "flag", then look in one
# loop of shell builtins (every ~0.1 ms) for "probed" (t_ready: the probe
# passed) and try a TCP connection to the ClusterIP (bash's /dev/tcp: no
# endpoints answer with a reset at once) until one is accepted (t_traffic).
# Reported: t_traffic - t_ready, per round and the median. It covers the
# probe's exec returning to the controller, the controller marking the pod
# ready, the endpoints update (one engine call, one nftables transaction)
# and the first accepted connection; not the wait for the probe period.
set -eEuo pipefail
trap 'echo "bench/kube-traffic.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
rounds=15 out="" berth="${BERTH:-$repo/build/src/cmd/berth/berth}"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) rounds=5 ;;
	--out) out=$2 && shift ;;
	--berth) berth=$2 && shift ;;
	--inner) inner=1 ;;
	*) echo "usage: bench/kube-traffic.sh [--quick] [--out FILE] [--berth PATH]" >&2 && exit 2 ;;
	esac
	shift
done

if [ "${inner:-0}" = 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench/kube-traffic.sh: needs root" >&2 && exit 2; }
	for t in jq busybox unshare; do
		command -v "$t" >/dev/null || { echo "bench/kube-traffic.sh: $t is missing" >&2 && exit 2; }
	done
	[ -x "$berth" ] || { echo "bench/kube-traffic.sh: no berth at $berth (build it first)" >&2 && exit 2; }
	args=(--inner --berth "$(realpath "$berth")")
	[ -z "$out" ] || args+=(--out "$(realpath -m "$out")")
	[ "$rounds" = 15 ] || args+=(--quick)
	exec unshare -m -n --propagation private "$0" "${args[@]}"
fi

# ---------------------------------------------------------------- inner: in the private namespaces
tmp=$(mktemp -d /tmp/berth-bench-kube-traffic.XXXXXX)
B() { BERTH_NETWORK_RUNDIR="$tmp/hostnet" "$berth" --root "$tmp/store" --runroot "$tmp/run" "$@"; }
cleanup() {
	B kube delete all --all >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip link set lo up

rootfs="$tmp/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/www" "$rootfs/state"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in sh httpd test touch; do ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo ok >"$rootfs/www/index.html"
tar -C "$rootfs" -cf "$tmp/rootfs.tar" .
B import "$tmp/rootfs.tar" bb >/dev/null
state="$tmp/state"
mkdir -p "$state"

cat >"$tmp/web.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      volumes: [{name: state, hostPath: {path: $state, type: Directory}}]
      containers:
      - name: web
        image: bb
        imagePullPolicy: Never
        command: ["httpd", "-f", "-p", "80", "-h", "/www"]
        ports: [{containerPort: 80}]
        volumeMounts: [{name: state, mountPath: /state}]
        readinessProbe:
          exec: {command: ["sh", "-c", "test -f /state/flag && touch /state/probed"]}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
YAML
touch "$state/flag"
B kube apply -f "$tmp/web.yaml" >/dev/null
vip=$(B kube get svc web -o json | jq -r .spec.clusterIP)

# connects VIP: 0 when a connection to VIP:80 is accepted (bash's /dev/tcp)
connects() { { : 3<>"/dev/tcp/$vip/80"; } 2>/dev/null; }
now_us() { echo $((${EPOCHREALTIME/./})); }

for ((i = 0; i < 300; i++)); do
	if connects; then break; fi
	sleep 0.1
done
connects || { echo "bench/kube-traffic.sh: the ClusterIP $vip never answered" >&2 && exit 1; }

results=()
for ((r = 0; r < rounds; r++)); do
	rm -f "$state/flag" "$state/probed"
	for ((i = 0; i < 100; i++)); do connects || break; sleep 0.05; done
	connects && { echo "bench/kube-traffic.sh: round $r: the replica did not leave the endpoints" >&2 && exit 1; }
	sleep "0.$((RANDOM % 10))"
	rm -f "$state/probed"
	touch "$state/flag"
	t_ready=0 t_traffic=0 start=$(now_us)
	while (($(now_us) - start < 10000000)); do
		if ((t_ready == 0)) && [ -e "$state/probed" ]; then t_ready=$(now_us); fi
		if connects; then
			t_traffic=$(now_us)
			break
		fi
	done
	((t_ready > 0 && t_traffic > 0)) || { echo "bench/kube-traffic.sh: round $r: no traffic within 10 s" >&2 && exit 1; }
	results+=("$(awk -v a="$t_traffic" -v b="$t_ready" 'BEGIN {printf "%.1f", (a - b) / 1000}')")
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
{
	echo "Ready to traffic through a ClusterIP, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "$rounds rounds; ms from the readiness probe passing to the first accepted connection through the ClusterIP:"
	echo
	echo "| median (ms) | min | max | per round |"
	echo "|---:|---:|---:|---|"
	printf '| %s | %s | %s | %s |\n' "$(median "${results[@]}")" "$(printf '%s\n' "${results[@]}" | sort -g | head -1)" \
		"$(printf '%s\n' "${results[@]}" | sort -g | tail -1)" "${results[*]}"
} | tee "${out:-/dev/null}"
