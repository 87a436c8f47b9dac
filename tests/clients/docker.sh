#!/bin/bash
# dockerd (Debian's docker.io) driving berth-runtime, registered as
# `runtimes: {berth: {path: ...}}` in daemon.json and picked with
# `docker run --runtime berth`. dockerd talks to a containerd of our own
# (socket, root and state under the temp dir), whose runc v2 shim runs
# berth-runtime. No iptables: the containers sit on a bridge this script
# makes, and -p goes through docker-proxy on 127.0.0.1.
#
#   tests/clients/docker.sh        TAP-like output, exit 1 if a scenario failed
. "$(dirname "$0")/lib.sh"

IMAGE=berth-busybox:latest

need_packages dockerd:docker.io /usr/bin/docker:docker.io docker-proxy:docker.io containerd:containerd \
	curl:curl script:bsdutils jq:jq busybox:busybox-static ip:iproute2 ss:iproute2 || {
	echo "Bail out! cannot install docker.io"
	exit 1
}

setup_tmp docker

BRIDGE="bxd$(($$ % 10000))"
SUBNET_OCTETS="10.$((200 + $$ % 50)).$(((RANDOM + $$ + 128) % 256))"
HAD_SHIM_DIR=$(ls -d /run/containerd/s 2>/dev/null)
HAD_ETC_DOCKER=$(ls -d /etc/docker 2>/dev/null)
HAD_KEY_JSON=$(ls /etc/docker/key.json 2>/dev/null)
HAD_RUN_DOCKER=$(ls -d /run/docker 2>/dev/null)
HAD_DOCKER_CGROUP=$(ls -d /sys/fs/cgroup/memory/docker /sys/fs/cgroup/docker 2>/dev/null)

cat >"$T/containerd.toml" <<EOF
version = 2
root = "$T/containerd-root"
state = "$T/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$T/containerd.sock"

[ttrpc]
  address = "$T/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
EOF

cat >"$T/daemon.json" <<EOF
{
  "data-root": "$T/data",
  "exec-root": "$T/exec",
  "pidfile": "$T/dockerd.pid",
  "hosts": ["unix://$T/docker.sock"],
  "containerd": "$T/containerd.sock",
  "bridge": "$BRIDGE",
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": true,
  "storage-driver": "overlay2",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "runtimes": {
    "berth": { "path": "$BIN" }
  }
}
EOF

ip link add "$BRIDGE" type bridge && ip addr add "$SUBNET_OCTETS.1/24" dev "$BRIDGE" && ip link set "$BRIDGE" up ||
	{ echo "Bail out! cannot create bridge $BRIDGE"; exit 1; }
defer "ip link del $BRIDGE"

start_daemon containerd containerd --config "$T/containerd.toml"
wait_for_socket "$T/containerd.sock" 30 "$PID_containerd" || { echo "Bail out! containerd did not start"; exit 1; }
start_daemon dockerd dockerd --config-file "$T/daemon.json"
wait_for_socket "$T/docker.sock" 60 "$PID_dockerd" || {
	tail -20 "$T/dockerd.log" | sed 's/^/# /'
	echo "Bail out! dockerd did not start"
	exit 1
}

# Debian's client (the daemon's version), its config under $T
export DOCKER_CONFIG="$T/docker-cli"
DOCKER=(/usr/bin/docker -H "unix://$T/docker.sock")

d() {
	"${DOCKER[@]}" "$@"
}

# Containers, then dockerd, then containerd and any shim left (by the
# socket in its argv, by pid); then what dockerd left outside $T.
cleanup_docker() {
	local ids pid
	ids=$(d ps -aq 2>/dev/null)
	[ -n "$ids" ] && d rm -f $ids
	stop_pid "$PID_dockerd" 15
	stop_pid "$PID_containerd" 10
	for pid in $(grep -lsF -- "$T/containerd.sock" /proc/[0-9]*/cmdline | cut -d/ -f3); do
		[ "$(awk '{print $2}' "/proc/$pid/stat" 2>/dev/null)" = "(containerd-shim)" ] && kill -KILL "$pid"
	done
	[ -n "$HAD_SHIM_DIR" ] || rmdir /run/containerd/s /run/containerd 2>/dev/null
	[ -n "$HAD_KEY_JSON" ] || rm -f /etc/docker/key.json
	[ -n "$HAD_ETC_DOCKER" ] || rmdir /etc/docker 2>/dev/null
	[ -n "$HAD_RUN_DOCKER" ] || rmdir /run/docker/plugins /run/docker 2>/dev/null
	# the cgroup parent /docker (the runtime removed /docker/ID)
	[ -n "$HAD_DOCKER_CGROUP" ] || rmdir /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker 2>/dev/null
}
defer cleanup_docker

log "runtime $BIN ($("$BIN" --version | head -1)), $(dockerd --version), temp dir $T"
make_rootfs_tar "$T/rootfs.tar" || { echo "Bail out! cannot build the test image"; exit 1; }
d import "$T/rootfs.tar" "$IMAGE" >/dev/null || { echo "Bail out! docker import failed"; exit 1; }

# ---------------------------------------------------------------------------

run_rm() {
	out=$(d run --rm --runtime berth "$IMAGE" echo hello from berth)
	expect_eq "output" "$out" "hello from berth"
	rc=0
	d run --rm --runtime berth "$IMAGE" sh -c 'exit 7' || rc=$?
	expect_eq "exit code" "$rc" 7
	# docker's 127 for a missing command comes from the runtime's message
	rc=0
	d run --rm --runtime berth "$IMAGE" /no/such/command || rc=$?
	expect_eq "exit code of a missing command" "$rc" 127
	out=$(echo piped-in | d run --rm -i --runtime berth "$IMAGE" cat)
	expect_eq "stdin" "$out" "piped-in"
	expect_eq "runtime of a container" "$(d inspect -f '{{.HostConfig.Runtime}}' "$(d create --runtime berth "$IMAGE" true)")" berth
	d rm "$(d ps -aq)" >/dev/null
}

run_port() {
	port=$(free_port)
	d run -d --runtime berth --name web -p "127.0.0.1:$port:8080" "$IMAGE" \
		sh -c 'trap "exit 0" TERM; mkdir -p /www && echo hello-httpd >/www/index.html && httpd -p 8080 -h /www; while :; do sleep 0.1; done' >/dev/null
	out=""
	for i in $(seq 50); do
		out=$(curl -sS -m 2 "http://127.0.0.1:$port/index.html" 2>&1) && break
		sleep 0.2
	done
	expect_eq "curl" "$out" "hello-httpd"
}

run_exec() {
	out=$(d exec web sh -c 'echo exec-ok $(id -u)')
	expect_eq "exec output" "$out" "exec-ok 0"
	rc=0
	d exec web sh -c 'exit 5' || rc=$?
	expect_eq "exec exit code" "$rc" 5
	out=$(d exec -e FOO=bar -w /tmp -u 1000 web sh -c 'echo $FOO $(pwd) $(id -u)')
	expect_eq "exec with env/workdir/user" "$out" "bar /tmp 1000"
	out=$(echo piped-exec | d exec -i web cat)
	expect_eq "exec stdin" "$out" "piped-exec"
	out=$(in_terminal "/usr/bin/docker -H unix://$T/docker.sock exec -it web sh -c 'tty; echo exec-tty-ok'")
	expect_contains "exec -it" "$out" "/dev/pts/"
	expect_contains "exec -it" "$out" "exec-tty-ok"
}

run_top() {
	out=$(d top web)
	echo "$out"
	expect_contains "top" "$out" "httpd -p 8080"
	expect_contains "top" "$out" "sleep"
}

run_stop() {
	start=$(date +%s)
	d stop -t 10 web >/dev/null
	[ $(($(date +%s) - start)) -lt 8 ] || { echo "stop took the SIGKILL path" >&2; return 1; }
	expect_eq "state after stop" "$(d inspect -f '{{.State.Status}} {{.State.ExitCode}}' web)" "exited 0"
	# and it starts again
	d start web >/dev/null
	expect_eq "state after start" "$(d inspect -f '{{.State.Status}}' web)" running
	d rm -f web >/dev/null
}

run_more() {
	# --network none (lo only, up), limits visible inside, pause/unpause
	out=$(d run --rm --runtime berth --network none "$IMAGE" sh -c 'ls /sys/class/net | tr "\n" " "; ip -o link show lo')
	expect_contains "interfaces" "$out" "lo "
	expect_contains "lo up" "$out" "LOOPBACK,UP"
	out=$(d run --rm --runtime berth --memory 64m --pids-limit 42 "$IMAGE" sh -c '
		if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
			cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max
		else
			cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
		fi' | tr '\n' ' ')
	expect_eq "memory and pids limits" "$out" "67108864 42 "
	d run -d --runtime berth --name pz "$IMAGE" sleep 1000 >/dev/null
	d pause pz >/dev/null
	expect_eq "paused" "$(d inspect -f '{{.State.Status}}' pz)" paused
	d unpause pz >/dev/null
	expect_eq "running" "$(d inspect -f '{{.State.Status}}' pz)" running
	d update --memory 96m --memory-swap 192m pz >/dev/null
	expect_eq "memory after update" "$(d exec pz sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max')" 100663296
	d rm -f pz >/dev/null
	# --device writes fileMode with the file type bits
	out=$(d run --rm --runtime berth --device /dev/null:/dev/mynull "$IMAGE" stat -c '%A %t,%T' /dev/mynull)
	expect_eq "device" "$out" "crw-rw-rw- 1,3"
	out=$(in_terminal "/usr/bin/docker -H unix://$T/docker.sock run --rm -it --runtime berth $IMAGE sh -c 'tty; echo run-tty-ok'")
	expect_contains "run -it" "$out" "/dev/pts/0"
	expect_contains "run -it" "$out" "run-tty-ok"
}

scenario "docker run --rm --runtime berth with output and exit codes" run_rm
scenario "docker run -d -p HOST:CTR reached by curl on 127.0.0.1" run_port
scenario "docker exec (and exec -it through a pty)" run_exec
scenario "docker top" run_top
scenario "docker stop (and start again)" run_stop
scenario "docker --network none, --memory/--pids-limit, pause/unpause, update, --device, run -it" run_more

finish
