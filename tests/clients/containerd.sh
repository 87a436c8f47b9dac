#!/bin/bash
# containerd + ctr driving berth-runtime: the path Kubernetes uses
# (containerd's runc v2 shim runs the runtime binary with
# `--root R --log L --log-format json`). containerd runs from a config under
# the temp dir (root, state, gRPC socket, plugin dirs) that also registers
# berth for CRI (runtime_type io.containerd.runc.v2, BinaryName); ctr points
# the shim at the same binary with --runc-binary.
#
#   tests/clients/containerd.sh    TAP-like output, exit 1 if a scenario failed
. "$(dirname "$0")/lib.sh"

IMAGE=docker.io/library/berth-busybox:latest
# the namespace is also the parent cgroup of the tasks (/NS/ID): one per run
NS=berthtest$$

need_packages containerd:containerd ctr:containerd containerd-shim-runc-v2:containerd curl:curl script:bsdutils \
	jq:jq busybox:busybox-static || {
	echo "Bail out! cannot install containerd"
	exit 1
}

setup_tmp containerd
HAD_SHIM_DIR=$(ls -d /run/containerd/s 2>/dev/null)

cat >"$T/config.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"

[grpc]
  address = "$T/containerd.sock"

[ttrpc]
  address = "$T/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"

# berth-runtime for Kubernetes (CRI): a RuntimeClass with handler "berth"
# selects this entry; default_runtime_name makes it the default.
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "berth"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth.options]
  BinaryName = "$BIN"
  Root = "$T/berth-root"
EOF

start_daemon containerd containerd --config "$T/config.toml"
wait_for_socket "$T/containerd.sock" 30 "$PID_containerd" || {
	tail -20 "$T/containerd.log" | sed 's/^/# /'
	echo "Bail out! containerd did not start"
	exit 1
}

CTR=(ctr --address "$T/containerd.sock" --namespace "$NS")
# ctr's stdio fifos default to /run/containerd/fifo: keep them under $T too
RUNC_OPTS=(--runc-binary "$BIN" --runc-root "$T/berth-root" --fifo-dir "$T/fifo")

c() {
	"${CTR[@]}" "$@"
}

# Tasks first (their shims exit with them), then containers, images and
# whatever shim is still alive (found by our socket in its argv, killed by pid).
cleanup_containerd() {
	local id pid
	for id in $(c task ls -q 2>/dev/null); do
		c task kill -a -s SIGKILL "$id" 2>/dev/null
		c task delete -f "$id" 2>/dev/null
	done
	for id in $(c container ls -q 2>/dev/null); do
		c container delete "$id" 2>/dev/null
	done
	stop_pid "$PID_containerd" 10
	for pid in $(grep -lsF -- "$T/containerd.sock" /proc/[0-9]*/cmdline | cut -d/ -f3); do
		[ "$(awk '{print $2}' "/proc/$pid/stat" 2>/dev/null)" = "(containerd-shim)" ] && kill -KILL "$pid"
	done
	# the shims' sockets live in /run/containerd/s whatever the config says
	[ -n "$HAD_SHIM_DIR" ] || rmdir /run/containerd/s /run/containerd 2>/dev/null
	# the parent cgroup /NS of the tasks' /NS/ID (the runtime removed those),
	# and the slice of the systemd-cgroup scenario
	rmdir /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/"$NS" 2>/dev/null
	rmdir /sys/fs/cgroup/*/"berthtest$$.slice" /sys/fs/cgroup/"berthtest$$.slice" 2>/dev/null
}
defer cleanup_containerd

log "runtime $BIN ($("$BIN" --version | head -1)), $(containerd --version | awk '{print $1, $3}'), temp dir $T"
make_rootfs_tar "$T/rootfs.tar" && make_oci_archive "$T/rootfs.tar" "$T/image-oci.tar" "$IMAGE" ||
	{ echo "Bail out! cannot build the test image"; exit 1; }
c images import "$T/image-oci.tar" >/dev/null || { echo "Bail out! ctr images import failed"; exit 1; }

# wait_task_status ID STATUS
wait_task_status() {
	local i s
	for ((i = 0; i < 50; i++)); do
		s=$(c task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }')
		[ "$s" = "$2" ] && return 0
		sleep 0.1
	done
	echo "task $1 is \"$s\", not \"$2\"" >&2
	return 1
}

# no_state_left ID...: the runtime's state dirs of the ids are gone.
no_state_left() {
	local id
	for id in "$@"; do
		[ ! -e "$T/berth-root/$NS/$id" ] || { echo "runtime state of $id left" >&2; return 1; }
	done
}

# host_memory_limit PID: the memory limit of PID's cgroup (v1 or v2).
host_memory_limit() {
	local path
	path=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$1/cgroup")
	if [ -n "$path" ]; then
		cat "/sys/fs/cgroup/memory$path/memory.limit_in_bytes"
	else
		path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup")
		cat "/sys/fs/cgroup$path/memory.max"
	fi
}

# ---------------------------------------------------------------------------

run_rm() {
	out=$(c run --rm "${RUNC_OPTS[@]}" "$IMAGE" t-rm echo hello from berth)
	expect_eq "output" "$out" "hello from berth"
	rc=0
	c run --rm "${RUNC_OPTS[@]}" "$IMAGE" t-rm sh -c 'exit 7' || rc=$?
	expect_eq "exit code" "$rc" 7
	# a missing command fails the create with the runtime's message
	rc=0
	out=$(c run --rm "${RUNC_OPTS[@]}" "$IMAGE" t-rm /no/such/command 2>&1) || rc=$?
	[ $rc -ne 0 ] || { echo "a missing command succeeded" >&2; return 1; }
	expect_contains "error from log.json" "$out" '/no/such/command'
	c container delete t-rm 2>/dev/null || true
	# stdin goes through the shim's fifos (ctr does not pass on its EOF, with
	# runc either: read one line)
	out=$(echo piped-in | c run --rm "${RUNC_OPTS[@]}" "$IMAGE" t-rm sh -c 'read line; echo $line')
	expect_eq "stdin" "$out" "piped-in"
	[ -z "$(c container ls -q)" ] || { c container ls; echo "--rm left a container" >&2; return 1; }
	no_state_left t-rm
}

run_detached() {
	c run -d "${RUNC_OPTS[@]}" "$IMAGE" t-det sh -c 'trap "exit 3" TERM; echo started; while :; do sleep 0.1; done' >/dev/null
	wait_task_status t-det RUNNING
	out=$(c task exec --fifo-dir "$T/fifo" --exec-id e1 t-det sh -c 'echo exec-ok $(id -u)')
	expect_eq "exec output" "$out" "exec-ok 0"
	rc=0
	c task exec --fifo-dir "$T/fifo" --exec-id e2 t-det sh -c 'exit 4' || rc=$?
	expect_eq "exec exit code" "$rc" 4
	out=$(c task exec --fifo-dir "$T/fifo" --exec-id e3 --cwd /tmp --user 1000 t-det sh -c 'echo $(pwd) $(id -u)')
	expect_eq "exec with cwd/user" "$out" "/tmp 1000"
	c task kill t-det
	wait_task_status t-det STOPPED
	c task delete t-det >/dev/null
	c container delete t-det
	no_state_left t-det
}

run_ps() {
	c run -d "${RUNC_OPTS[@]}" "$IMAGE" t-ps sh -c 'sleep 1001 & sleep 1002 & wait' >/dev/null
	wait_task_status t-ps RUNNING
	pid=$(c task ls | awk '$1 == "t-ps" { print $2 }')
	for i in $(seq 20); do
		out=$(c task ps t-ps)
		[ "$(echo "$out" | wc -l)" -ge 4 ] && break
		sleep 0.1
	done
	echo "$out"
	# the init and its two sleeps, as host pids
	expect_contains "task ps" "$out" "$pid"
	expect_eq "process count" "$(echo "$out" | tail -n +2 | wc -l)" 3
	for p in $(echo "$out" | tail -n +2 | awk '{ print $1 }'); do
		[ -d "/proc/$p" ] || { echo "pid $p is not a host pid" >&2; return 1; }
	done
	c task kill -s SIGKILL t-ps
	wait_task_status t-ps STOPPED
	c task delete t-ps >/dev/null
	c container delete t-ps
}

run_tty() {
	out=$(in_terminal "ctr --address $T/containerd.sock --namespace $NS run --rm -t ${RUNC_OPTS[*]} $IMAGE t-tty sh -c 'tty; test -t 0 && echo stdin-is-a-tty'")
	echo "$out"
	expect_contains "tty" "$out" "/dev/pts/0"
	expect_contains "stdin" "$out" "stdin-is-a-tty"
	c run -d "${RUNC_OPTS[@]}" "$IMAGE" t-tty2 sleep 1000 >/dev/null
	wait_task_status t-tty2 RUNNING
	out=$(in_terminal "ctr --address $T/containerd.sock --namespace $NS task exec -t --fifo-dir $T/fifo --exec-id x1 t-tty2 sh -c 'tty; echo exec-tty-ok'")
	echo "$out"
	c task delete -f t-tty2 >/dev/null
	c container delete t-tty2
	expect_contains "exec tty" "$out" "/dev/pts/"
	expect_contains "exec tty" "$out" "exec-tty-ok"
}

run_pause_kill_all() {
	c run -d "${RUNC_OPTS[@]}" "$IMAGE" t-pz sh -c 'sleep 1001 & sleep 1002 & wait' >/dev/null
	wait_task_status t-pz RUNNING
	c task pause t-pz
	wait_task_status t-pz PAUSED
	c task resume t-pz
	wait_task_status t-pz RUNNING
	# kill --all reaches every process of the container
	c task kill -a -s SIGKILL t-pz
	wait_task_status t-pz STOPPED
	# a kill of a stopped task is refused by containerd without a runtime error
	c task kill t-pz 2>/dev/null && { echo "kill of a stopped task succeeded" >&2; return 1; }
	c task delete t-pz >/dev/null
	c container delete t-pz
	# delete -f of a running task (kill, then delete)
	c run -d "${RUNC_OPTS[@]}" "$IMAGE" t-df sleep 1000 >/dev/null
	wait_task_status t-df RUNNING
	c task delete -f t-df >/dev/null
	c container delete t-df
	no_state_left t-pz t-df
}

run_limits() {
	c run -d "${RUNC_OPTS[@]}" --memory-limit 67108864 "$IMAGE" t-lim sleep 1000 >/dev/null
	wait_task_status t-lim RUNNING
	# ctr's spec mounts no cgroupfs in the container: read it on the host
	pid=$(c task ls | awk '$1 == "t-lim" { print $2 }')
	expect_eq "memory limit" "$(host_memory_limit "$pid")" 67108864
	# the shim finds the task's cgroups from its pid for `task metrics`
	out=$(c task metrics --format json t-lim)
	expect_eq "metrics memory limit" "$(echo "$out" | jq -r '.memory.usage.limit // .memory.usage_limit // .memory.max')" 67108864
	c task delete -f t-lim >/dev/null
	c container delete t-lim
}

run_pod() {
	# A Kubernetes pod as CRI builds it: a sandbox task, and a container that
	# joins its network, IPC, UTS and PID namespaces by /proc/PID/ns paths.
	c run -d "${RUNC_OPTS[@]}" --cap-add CAP_SYS_ADMIN "$IMAGE" t-sandbox sh -c 'hostname pod-1; exec sleep 1000' >/dev/null
	wait_task_status t-sandbox RUNNING
	spid=$(c task ls | awk '$1 == "t-sandbox" { print $2 }')
	ns=()
	want=""
	for t in network:net ipc:ipc uts:uts pid:pid; do
		ns+=(--with-ns "${t%%:*}:/proc/$spid/ns/${t#*:}")
		want="$want$(readlink "/proc/$spid/ns/${t#*:}") "
	done
	for i in $(seq 20); do
		[ "$(cat "/proc/$spid/root/proc/sys/kernel/hostname" 2>/dev/null)" = pod-1 ] && break
		sleep 0.1
	done
	out=$(c run --rm "${RUNC_OPTS[@]}" "${ns[@]}" "$IMAGE" t-app sh -c 'for n in net ipc uts pid; do printf "%s " $(readlink /proc/self/ns/$n); done; echo; hostname; ps -o args | grep -c "^sleep 1000"')
	echo "$out"
	c task delete -f t-sandbox >/dev/null
	c container delete t-sandbox
	c container delete t-app 2>/dev/null || true
	expect_eq "pod" "$out" "$want
pod-1
1"
}

run_systemd_cgroup() {
	# SystemdCgroup = true in the CRI config: --systemd-cgroup and a
	# "slice:prefix:name" cgroupsPath (mapped to slice/prefix-name.scope)
	slice="berthtest$$.slice"
	c run -d "${RUNC_OPTS[@]}" --runc-systemd-cgroup --cgroup "$slice:berth:t-sd" "$IMAGE" t-sd sleep 1000 >/dev/null
	wait_task_status t-sd RUNNING
	pid=$(c task ls | awk '$1 == "t-sd" { print $2 }')
	out=$(awk -F: '$2 == "memory" || $2 == "" { print $3 }' "/proc/$pid/cgroup" | sort -u)
	expect_eq "cgroup" "$out" "/$slice/berth-t-sd.scope"
	c task metrics t-sd >/dev/null
	c task delete -f t-sd >/dev/null
	c container delete t-sd
	for d in /sys/fs/cgroup/*/"$slice"/berth-t-sd.scope /sys/fs/cgroup/"$slice"/berth-t-sd.scope; do
		[ ! -e "$d" ] || { echo "cgroup $d left" >&2; return 1; }
	done
}

run_cri_config() {
	# the CRI plugin accepted the berth runtime entry of config.toml
	out=$(c plugins ls | awk '$2 == "cri" { print $NF }')
	expect_eq "cri plugin status" "$out" ok
}

scenario "ctr run --rm with output and exit codes" run_rm
scenario "ctr run -d, task exec, task kill, task delete" run_detached
scenario "ctr task ps" run_ps
scenario "ctr run -t and task exec -t through a pty" run_tty
scenario "ctr task pause/resume, kill --all, delete -f" run_pause_kill_all
scenario "ctr run --memory-limit, task metrics" run_limits
scenario "a pod: a task joining a sandbox's net/ipc/uts/pid namespaces" run_pod
scenario "ctr run --runc-systemd-cgroup (slice:prefix:name cgroupsPath)" run_systemd_cgroup
scenario "containerd loads the CRI runtime entry for berth" run_cri_config

finish
