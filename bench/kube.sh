#!/usr/bin/env bash
# Replicas on one host: the time from `berth kube apply` of a 10-replica
# Deployment with a readiness probe to all 10 ready, side by side in one run
# with `docker service create --replicas 10` on a one-node Docker swarm and
# `podman kube play` of one pod (podman makes one pod per Deployment: its
# figure is per pod); then the memory of berth's controller (idle and with
# the 10 replicas) and what a pod costs beyond its containers (the holder's
# pause process and the container's monitor; the holder has none).
#
#   bench/kube.sh [--quick] [--out FILE] [--berth PATH] [--no-docker] [--no-podman]
#
#   --quick        2 rounds; full: 5 (each round runs every engine once, in
#                  an order that rotates)
#   --out FILE     also write the report (markdown) to FILE
#   --berth PATH   berth binary (default $BERTH or build/src/cmd/berth/berth)
#
# Needs root, jq, busybox-static, unshare/nsenter; Debian's docker.io
# (dockerd 20.10 and its /usr/bin/docker client) and podman for their
# columns. It installs nothing. A manual benchmark: not for CI.
#
# The script re-runs itself in a private mount and network namespace
# (unshare -m -n, lo and a dummy interface for swarm's advertise address):
# berth0, the veths, nftables, docker0 and docker_gwbridge exist only there.
# Everything else is in one mktemp -d directory, removed at the end: berth's
# store and run roots, dockerd's data-root, exec-root, pidfile and socket
# (it starts its own containerd below its exec-root), podman's roots.
# dockerd is stopped at the end, its containers first.
#
# The workload is the same everywhere: busybox httpd on port 8080 of a
# one-layer busybox image imported into each engine, ready when
# `wget -q -O- http://127.0.0.1:8080/` answers (berth: a readinessProbe
# httpGet with periodSeconds 1 (Kubernetes' smallest), whose first run is
# at the start; swarm: a health check every second, the same cadence (docker
# runs the first one an interval after the start), which swarm waits for
# before a task counts as running; podman: a
# readinessProbe as well, but podman 4.3 ignores it, so its figure is until
# the pod runs). Every engine is polled every 50 ms by its own CLI: berth
# `kube get deployment -o json` (readyReplicas), docker `service ls`
# (REPLICAS 10/10), podman until `kube play` returned and `pod ps` shows the
# pod Running.
set -eEuo pipefail
trap 'echo "bench/kube.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
rounds=5 out="" berth="${BERTH:-$repo/build/src/cmd/berth/berth}" docker=1 podman=1
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) rounds=2 ;;
	--out) out=$2 && shift ;;
	--berth) berth=$2 && shift ;;
	--no-docker) docker=0 ;;
	--no-podman) podman=0 ;;
	--inner) inner=1 ;;
	*) echo "usage: bench/kube.sh [--quick] [--out FILE] [--berth PATH] [--no-docker] [--no-podman]" >&2 && exit 2 ;;
	esac
	shift
done

if [ "${inner:-0}" = 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench/kube.sh: needs root" >&2 && exit 2; }
	for t in jq busybox unshare; do
		command -v "$t" >/dev/null || { echo "bench/kube.sh: $t is missing" >&2 && exit 2; }
	done
	[ -x "$berth" ] || { echo "bench/kube.sh: no berth at $berth (build it first)" >&2 && exit 2; }
	[ "$docker" = 0 ] || { [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ]; } ||
		{ echo "bench/kube.sh: Debian's docker.io is missing (or pass --no-docker)" >&2 && exit 2; }
	[ "$podman" = 0 ] || command -v podman >/dev/null ||
		{ echo "bench/kube.sh: podman is missing (or pass --no-podman)" >&2 && exit 2; }
	args=(--inner --berth "$(realpath "$berth")")
	[ -z "$out" ] || args+=(--out "$(realpath -m "$out")")
	[ "$rounds" = 5 ] || args+=(--quick)
	[ "$docker" = 1 ] || args+=(--no-docker)
	[ "$podman" = 1 ] || args+=(--no-podman)
	exec unshare -m -n --propagation private "$0" "${args[@]}"
fi

# ---------------------------------------------------------------- inner: in the private namespaces
TMP=$(mktemp -d /tmp/berth-bench-kube.XXXXXX)
tmp=$TMP
logf="$tmp/log"
die() { echo "bench/kube.sh: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
# shellcheck source=bench/lib/engines.sh
. "$here/lib/engines.sh"
# shellcheck source=bench/cgroup.sh
. "$here/cgroup.sh"
# copies laid out as in the build tree (berth finds berth-runtime and
# berth-init beside it): a rebuild during the run must not mix versions
mkdir -p "$tmp/build/src/cmd/berth" "$tmp/build/src/cmd/runtime" "$tmp/build/src/init"
cp "$berth" "$tmp/build/src/cmd/berth/berth"
cp "$(dirname "$berth")/../runtime/berth-runtime" "$tmp/build/src/cmd/runtime/berth-runtime"
cp "$(dirname "$berth")/../../init/berth-init" "$tmp/build/src/init/berth-init"
berth="$tmp/build/src/cmd/berth/berth"
B() { BERTH_NETWORK_RUNDIR="$tmp/hostnet" "$berth" --root "$tmp/store" --runroot "$RUN/berth" "$@"; }
D() { DOCKER_CONFIG="$tmp/docker-cli" /usr/bin/docker -H "unix://$tmp/docker.sock" "$@"; }
dockerd_pid=""
cleanup() {
	set +e
	trap - ERR
	B kube delete all --all >/dev/null 2>&1
	if [ -n "$dockerd_pid" ]; then
		D service rm web >/dev/null 2>&1
		D swarm leave --force >/dev/null 2>&1
		kill -TERM "$dockerd_pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$dockerd_pid" 2>/dev/null
	fi
	[ "$podman" = 0 ] || [ "${#P[@]}" = 0 ] || "${P[@]}" pod rm -af >/dev/null 2>&1
	# what dockerd's containerd left: its shims, by the socket in their argv
	grep -lsF -- "$RUN/docker" /proc/[0-9]*/cmdline | cut -d/ -f3 | while read -r pid; do
		[ "$pid" != $$ ] && kill -KILL "$pid" 2>/dev/null
	done
	cg_unprepare
	for m in /run /etc; do umount "$m" 2>/dev/null || umount -l "$m"; done
	engines_unmount_private
	rm -rf "$tmp"
}
trap cleanup EXIT
ip link set lo up
# swarm wants an address to advertise that is not loopback
ip link add bench0 type bridge && ip addr add 10.213.0.1/24 dev bench0 && ip link set bench0 up
# /var/lib (an overlay), /dev/shm, RUN, the cgroup2 of a hybrid host: as
# bench/engine.sh; and dockerd's /etc/docker and /run/docker: /etc an
# overlay, /run a tmpfs, in this namespace only
engines_mount_private
mkdir -p "$tmp/etc/upper" "$tmp/etc/work"
mount -t overlay berth-bench-etc -o "lowerdir=/etc,upperdir=$tmp/etc/upper,workdir=$tmp/etc/work" /etc
mount -t tmpfs -o mode=0755,size=64m berth-bench-kube-slashrun /run
# every engine's cgroups below one parent beneath our own cgroup
cg_setup "berth-bench-kube-$$"
cg_prepare
export BERTH_KUBE_CGROUP_PARENT="$CG_PARENT"

rootfs="$tmp/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/www" "$rootfs/tmp"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in sh httpd wget sleep cat; do ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo ok >"$rootfs/www/index.html"
tar --numeric-owner -C "$rootfs" -cf "$tmp/rootfs.tar" .
B import "$tmp/rootfs.tar" localhost/bb:latest >>"$logf"

cat >"$tmp/deploy.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 10
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: localhost/bb:latest
        imagePullPolicy: Never
        command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
EOF

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }

# berth_round: prints the seconds to 10 ready; leaves nothing.
berth_round() {
	local t0 n=0 s
	t0=$(now)
	B kube apply -f "$tmp/deploy.yaml" >>"$logf"
	while [ "$n" != 10 ]; do
		sleep 0.05
		n=$(B kube get deployment web -o json 2>>"$logf" | jq -r '.status.readyReplicas // 0')
		[ "$(since "$t0" | cut -d. -f1)" -lt 120 ] || { echo "bench/kube.sh: berth: $n ready after 120 s" >&2 && exit 1; }
	done
	s=$(since "$t0")
	B kube delete -f "$tmp/deploy.yaml" >>"$logf"
	echo "$s"
}

docker_setup() {
	log "starting dockerd (its own containerd, data-root and exec-root in $tmp)"
	cat >"$tmp/daemon.json" <<EOF
{
  "data-root": "$tmp/docker",
  "exec-root": "$RUN/docker",
  "pidfile": "$RUN/dockerd.pid",
  "hosts": ["unix://$tmp/docker.sock"],
  "iptables": false,
  "ip6tables": false,
  "ip-masq": false,
  "storage-driver": "overlay2",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "cgroup-parent": "$CG_PARENT"
}
EOF
	/usr/sbin/dockerd --config-file "$tmp/daemon.json" >"$tmp/dockerd.log" 2>&1 &
	dockerd_pid=$!
	for _ in $(seq 300); do D version >/dev/null 2>&1 && break; sleep 0.2; done
	D version >/dev/null 2>&1 || { tail -20 "$tmp/dockerd.log" >&2 && echo "bench/kube.sh: dockerd did not start" >&2 && exit 1; }
	D import "$tmp/rootfs.tar" localhost/bb:latest >>"$logf"
	D swarm init --advertise-addr 10.213.0.1 >>"$logf" 2>&1 ||
		{ tail -20 "$tmp/dockerd.log" >&2 && echo "bench/kube.sh: docker swarm init failed" >&2 && exit 1; }
}

docker_round() {
	local t0 r="" s
	t0=$(now)
	D service create --detach --quiet --name web --replicas 10 --stop-grace-period 1s \
		--health-cmd 'wget -q -O- http://127.0.0.1:8080/' --health-interval 1s --health-start-period 0s \
		localhost/bb:latest httpd -f -p 8080 -h /www >>"$logf" 2>&1
	while [ "$r" != 10/10 ]; do
		sleep 0.05
		r=$(D service ls --filter name=web --format '{{.Replicas}}' 2>>"$logf")
		[ "$(since "$t0" | cut -d. -f1)" -lt 300 ] || { echo "bench/kube.sh: swarm: $r after 300 s" >&2 && exit 1; }
	done
	s=$(since "$t0")
	D service rm web >>"$logf"
	# the service's containers go after the command returned
	for _ in $(seq 600); do [ -z "$(D ps -aq)" ] && break; sleep 0.1; done
	echo "$s"
}

podman_setup() {
	local h mnt d
	engines_podman_setup
	# podman (cgroupfs) puts a pod below /libpod_parent of every hierarchy,
	# and kube play takes no --cgroup-parent: it runs in a mount namespace of
	# its own where each hierarchy's root is CG_PARENT/podman, below ours
	for h in "${CG_H[@]}"; do
		mnt=${h%% *}
		d="$mnt$CG_PARENT/podman"
		mkdir -p "$d"
		if [ -f "$mnt$CG_PARENT/cpuset.cpus" ]; then
			cat "$mnt$CG_PARENT/cpuset.cpus" >"$d/cpuset.cpus"
			cat "$mnt$CG_PARENT/cpuset.mems" >"$d/cpuset.mems"
		fi
		echo "mount --bind '$d' '$mnt'"
	done >"$tmp/podman-cgroups.sh"
	{
		echo 'set -e'
		cat "$tmp/podman-cgroups.sh"
		echo 'exec "$@"'
	} >"$tmp/podman-in-own-cgroup.sh"
	P=(unshare -m --propagation private sh "$tmp/podman-in-own-cgroup.sh" "${P[@]}")
	"${P[@]}" import "$tmp/rootfs.tar" localhost/bb:latest >>"$logf" 2>&1
	# one replica: podman makes one pod of a Deployment anyway
	sed 's/replicas: 10/replicas: 1/' "$tmp/deploy.yaml" >"$tmp/deploy1.yaml"
}

podman_round() {
	local t0 st="" s
	t0=$(now)
	"${P[@]}" kube play "$tmp/deploy1.yaml" >>"$logf" 2>&1 || { tail -5 "$logf" >&2 && die "podman kube play failed"; }
	while [ "$st" != Running ]; do
		st=$("${P[@]}" pod ps --filter name=web-pod --format '{{.Status}}' 2>>"$logf")
		[ "$st" = Running ] || sleep 0.05
		[ "$(since "$t0" | cut -d. -f1)" -lt 120 ] || { echo "bench/kube.sh: podman: $st after 120 s" >&2 && exit 1; }
	done
	s=$(since "$t0")
	"${P[@]}" kube down "$tmp/deploy1.yaml" >>"$logf" 2>&1
	echo "$s"
}

engines=(berth)
if [ "$docker" = 1 ]; then docker_setup && engines+=(swarm); fi
if [ "$podman" = 1 ]; then podman_setup && engines+=(podman); fi

declare -A times
for ((r = 0; r < rounds; r++)); do
	for ((k = 0; k < ${#engines[@]}; k++)); do
		e=${engines[$(((k + r) % ${#engines[@]}))]}
		log "round $((r + 1))/$rounds: $e"
		case $e in
		berth) t=$(berth_round) ;;
		swarm) t=$(docker_round) ;;
		podman) t=$(podman_round) ;;
		esac
		times[$e]="${times[$e]:-} $t"
	done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- memory
# private memory (Private_Clean + Private_Dirty of smaps_rollup) of PIDS, in KiB
private_kib() {
	local p sum=0 v
	for p in "$@"; do
		[ "$p" -gt 0 ] 2>/dev/null || continue # no process (a holder has no monitor)
		v=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s + 0}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
		sum=$((sum + v))
	done
	echo "$sum"
}
# Private_Dirty alone (the clean part is the berth binary's text, which is
# private only while no other berth process maps it)
dirty_kib() { awk '/^Private_Dirty:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
controller_pid() { cat "$RUN/berth/kube"/*/default.lock 2>/dev/null | head -1; }
log "memory: 10 replicas"
B kube apply -f "$tmp/deploy.yaml" >>"$logf"
B kube rollout status deployment/web --timeout 120 >>"$logf"
sleep 5 # a few passes and probes of every pod
ctl=$(controller_pid)
ctl_busy=$(private_kib "$ctl")
# the controller's monitor spawner (its child), one per namespace
spawner=0
for p in $(pgrep -P "$ctl"); do
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q '^berth-monitor-spawner' && spawner=$p
done
spawner_kib=$(private_kib "$spawner")
ctl_busy_dirty=$(dirty_kib "$ctl")
holders=() monitors=() pods=0
for id in $(B ps -q --no-trunc --filter label=io.kubernetes.pod.namespace=default); do
	json=$(B inspect "$id")
	monitors+=("$(jq -r '.[0].State.MonitorPid' <<<"$json")")
	if [ "$(jq -r '.[0].Config.Labels["io.kubernetes.container.name"]' <<<"$json")" = POD ]; then
		holders+=("$(jq -r '.[0].State.Pid' <<<"$json")")
		pods=$((pods + 1))
	fi
done
holder_kib=$(private_kib "${holders[@]}")
monitor_kib=$(private_kib "${monitors[@]}")
log "memory: scaled to 0"
B kube scale deployment/web --replicas 0 >>"$logf"
for _ in $(seq 600); do [ -z "$(B ps -q)" ] && break; sleep 0.1; done
sleep 2
ctl_idle=$(private_kib "$(controller_pid)")
ctl_idle_dirty=$(dirty_kib "$(controller_pid)")
B kube delete -f "$tmp/deploy.yaml" >>"$logf"

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
berth_med=$(median "${times[berth]}")
{
	echo "berth kube, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) CPUs, load at the end $load1"
	echo "(shared machine: compare within the run.) $rounds rounds, engines in a rotating order; seconds from the command to ready:"
	echo
	echo "| engine | what | median s | rounds |"
	echo "|---|---|---|---|"
	echo "| berth | \`kube apply\` of 10 replicas to 10 ready | $berth_med |${times[berth]} |"
	if [ -n "${times[swarm]:-}" ]; then
		sw=$(median "${times[swarm]}")
		echo "| docker swarm (dockerd $(/usr/sbin/dockerd --version | awk '{print $3}' | tr -d ,)) | \`service create --replicas 10\` to 10/10 | $sw |${times[swarm]} |"
	fi
	if [ -n "${times[podman]:-}" ]; then
		echo "| podman $(podman --version | awk '{print $3}') | \`kube play\` of one replica to Running (per pod) | $(median "${times[podman]}") |${times[podman]} |"
	fi
	echo
	[ -z "${sw:-}" ] || echo "berth is $(awk -v a="$sw" -v b="$berth_med" 'BEGIN {printf "%.1f", a / b}')x faster than swarm (target: 5x)."
	echo "Controller private memory (Private_Clean + Private_Dirty): $ctl_busy KiB with 10 ready replicas, $ctl_idle KiB with none (the deployment scaled to 0) (target: 1024); Private_Dirty alone $ctl_busy_dirty and $ctl_idle_dirty KiB. Its monitor spawner (one per namespace): $spawner_kib KiB."
	echo "Per pod beyond its containers: $(((holder_kib + monitor_kib) / pods)) KiB private (holder $((holder_kib / pods)) KiB, the monitors $((monitor_kib / pods)) KiB; $pods pods) (target: 300)."
} | tee "${out:-/dev/null}"
