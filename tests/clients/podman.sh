#!/bin/bash
# podman driving berth-runtime (podman --runtime PATH, conmon between them).
# All podman state (graph root, run root, tmp dir, CNI config and IPAM
# state, runtime --root) lives under one temp dir; see lib.sh.
#
#   tests/clients/podman.sh        TAP-like output, exit 1 if a scenario failed
. "$(dirname "$0")/lib.sh"

IMAGE=localhost/berth-busybox:latest

need_packages podman:podman conmon:conmon /usr/lib/cni/bridge:containernetworking-plugins \
	iptables:iptables curl:curl script:bsdutils jq:jq busybox:busybox-static newuidmap:uidmap ss:iproute2 || {
	echo "Bail out! cannot install podman"
	exit 1
}

setup_tmp podman

# A bridge and subnet of our own, so parallel runs and other tests on the
# machine do not collide: bx<pid mod 10000> and 10.<200-249>.<0-255>.0/24.
BRIDGE="bxp$(($$ % 10000))"
SUBNET_OCTETS="10.$((200 + $$ % 50)).$(((RANDOM + $$) % 256))"

# Root has no CAP_SYS_RESOURCE on these VMs, so the container's rlimits must
# fit under the hard limits podman runs with (it caps its own nproc at 32768).
limit() {
	local hard
	hard=$(ulimit "-H$1")
	if [ "$hard" = unlimited ] || [ "$hard" -gt "$2" ]; then echo "$2"; else echo "$hard"; fi
}
NOFILE=$(limit n 20000)
NPROC=$(limit u 32768)

mkdir -p "$T/cni" "$T/tmp" "$T/berth-root"
cat >"$T/containers.conf" <<EOF
[containers]
# root has no CAP_SYS_RESOURCE here: rlimits must fit under the hard limits
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=$NPROC:$NPROC"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$T/tmp"
runtime = "berth"
[engine.runtimes]
berth = ["$T/bin/berth-runtime-wrapper"]
[network]
network_backend = "cni"
network_config_dir = "$T/cni"
default_network = "berthtest"
EOF
cat >"$T/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$T/runroot"
graphroot = "$T/graph"
EOF
cat >"$T/cni/berthtest.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "berthtest",
  "plugins": [
    { "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$T/cni-ipam", "routes": [{ "dst": "0.0.0.0/0" }],
                "ranges": [[{ "subnet": "$SUBNET_OCTETS.0/24", "gateway": "$SUBNET_OCTETS.1" }]] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
export CONTAINERS_CONF="$T/containers.conf" CONTAINERS_STORAGE_CONF="$T/storage.conf"
# The runtime's own state (its --root) under $T too: podman does not pass
# --runtime-flag on to the `podman container cleanup` that conmon runs when a
# container exits, so a wrapper adds --root to every call.
make_root_wrapper "$T/berth-root"
PODMAN=(podman --runtime "$T/bin/berth-runtime-wrapper")

p() {
	"${PODMAN[@]}" "$@"
}

# What podman leaves on the host outside $T, removed when this run made it:
# the blob-info cache of `podman import` (containers/image keeps it in
# /var/lib/containers/cache for root), libcni's cache dir and the portmap
# plugin's iptables chains; then the bridge.
host_leftovers() {
	local t c
	[ -n "$HAD_BLOBCACHE" ] || rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
	rmdir /var/lib/containers/cache /var/lib/containers /var/lib/cni/results /var/lib/cni 2>/dev/null
	ip link del "$BRIDGE" 2>/dev/null
	# podman's cgroup parent and conmon's cgroup (the runtime removed the
	# containers' libpod-ID ones)
	[ -n "$HAD_LIBPOD_PARENT" ] || rmdir /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent \
		/sys/fs/cgroup/libpod_parent/conmon /sys/fs/cgroup/libpod_parent 2>/dev/null
	[ -n "$HAD_CNI_CHAINS" ] && return 0
	# only chains that hold nothing but the plugin's fixed rules
	[ "$(iptables -t nat -S CNI-HOSTPORT-DNAT 2>/dev/null | wc -l)" = 1 ] || return 0
	iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
	iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
	iptables -t nat -D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
	for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do
		iptables -t nat -F "$c" && iptables -t nat -X "$c"
	done
}
# The nat tables that iptables-nft (the query below, podman's CNI plugins)
# makes when they are missing: removed at the end if they were not there
# and hold no rule.
nat_tables_left() {
	local family
	for family in ip ip6; do
		grep -qx "table $family nat" <<<"$HAD_NAT_TABLES" && continue
		nft list table "$family" nat 2>/dev/null | grep -vqE '^[[:space:]]*(table |chain |type |\}|$)' && continue
		nft delete table "$family" nat 2>/dev/null
	done
}
HAD_NAT_TABLES=$(nft list tables 2>/dev/null)
HAD_BLOBCACHE=$(ls /var/lib/containers/cache/blob-info-cache-v1.boltdb 2>/dev/null)
HAD_CNI_CHAINS=$(iptables -t nat -S CNI-HOSTPORT-DNAT 2>/dev/null)
HAD_LIBPOD_PARENT=$(ls -d /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent 2>/dev/null)

# Everything podman started: containers (and their conmons) go with
# `rm -af`, then what it left on the host.
defer nat_tables_left
defer host_leftovers
defer "p rm -a -f -t 0"
defer rootless_cleanup

log "runtime $BIN ($("$BIN" --version | head -1)), podman $(podman --version | awk '{print $3}'), temp dir $T"
make_rootfs_tar "$T/rootfs.tar" || { echo "Bail out! cannot build the test image"; exit 1; }
p import -q "$T/rootfs.tar" "$IMAGE" >/dev/null || { echo "Bail out! podman import failed"; exit 1; }

# ---------------------------------------------------------------------------

run_rm() {
	out=$(p run --rm "$IMAGE" echo hello from berth)
	expect_eq "output" "$out" "hello from berth"
	# the exit code of the container is the exit code of podman run
	rc=0
	p run --rm "$IMAGE" sh -c 'exit 7' || rc=$?
	expect_eq "exit code" "$rc" 7
	# a missing command is podman's 127, as with runc
	rc=0
	p run --rm "$IMAGE" /no/such/command || rc=$?
	expect_eq "exit code of a missing command" "$rc" 127
	# stdin goes through conmon to the container, and to an exec
	out=$(echo piped-in | p run --rm -i "$IMAGE" cat)
	expect_eq "stdin" "$out" "piped-in"
	[ -z "$(p ps -aq)" ] || { p ps -a; echo "--rm left a container" >&2; return 1; }
}

logs_say_started() {
	p logs det 2>/dev/null | grep -q started
}

run_detached() {
	# sh as pid 1 ignores SIGTERM unless it traps it
	p run -d --name det "$IMAGE" sh -c 'trap "exit 0" TERM; echo started; while :; do sleep 0.1; done' >/dev/null
	retry 25 logs_say_started
	out=$(p exec det sh -c 'echo exec-ok $(id -u)')
	expect_eq "exec output" "$out" "exec-ok 0"
	rc=0
	p exec det sh -c 'exit 5' || rc=$?
	expect_eq "exec exit code" "$rc" 5
	out=$(p exec -e FOO=bar -w /tmp -u 1000 det sh -c 'echo $FOO $(pwd) $(id -u)')
	expect_eq "exec with env/workdir/user" "$out" "bar /tmp 1000"
	out=$(echo piped-exec | p exec -i det cat)
	expect_eq "exec stdin" "$out" "piped-exec"
	out=$(p logs det)
	expect_eq "logs" "$out" "started"
	start=$(date +%s)
	p stop -t 10 det >/dev/null
	[ $(($(date +%s) - start)) -lt 8 ] || { echo "stop took the SIGKILL path" >&2; return 1; }
	expect_eq "status after stop" "$(p inspect -f '{{.State.Status}} {{.State.ExitCode}}' det)" "exited 0"
	p rm det >/dev/null
	[ -z "$(ls "$T/berth-root")" ] || { echo "runtime state left: $(ls "$T/berth-root")" >&2; return 1; }
}

run_tty() {
	# podman -it needs a terminal on its side: script(1) gives it one
	out=$(in_terminal "podman --runtime $T/bin/berth-runtime-wrapper run -it --rm $IMAGE sh -c 'tty; test -t 0 && echo stdin-is-a-tty; stty -a | head -1'")
	echo "$out"
	expect_contains "tty" "$out" "/dev/pts/0"
	expect_contains "stdin" "$out" "stdin-is-a-tty"
	# exec -it into a running container as well
	p run -d --name tty1 "$IMAGE" sleep 1000 >/dev/null
	out=$(in_terminal "podman --runtime $T/bin/berth-runtime-wrapper exec -it tty1 sh -c 'tty; echo exec-tty-ok'")
	echo "$out"
	p rm -f -t 0 tty1 >/dev/null
	expect_contains "exec tty" "$out" "/dev/pts/"
	expect_contains "exec tty" "$out" "exec-tty-ok"
}

run_network_none() {
	out=$(p run --rm --network none "$IMAGE" sh -c 'ls /sys/class/net | tr "\n" " "')
	expect_eq "interfaces" "$out" "lo "
	# runc and crun bring lo up in a network namespace they create
	out=$(p run --rm --network none "$IMAGE" ping -c 1 -W 2 127.0.0.1)
	expect_contains "ping 127.0.0.1" "$out" "1 packets received"
}

run_port() {
	port=$(free_port)
	p run -d --name web -p "127.0.0.1:$port:8080" "$IMAGE" \
		sh -c 'mkdir -p /www && echo hello-httpd >/www/index.html && exec httpd -f -p 8080 -h /www' >/dev/null
	out=""
	for i in $(seq 50); do
		out=$(curl -sS -m 2 "http://127.0.0.1:$port/index.html" 2>&1) && break
		sleep 0.2
	done
	p rm -f -t 0 web >/dev/null
	expect_eq "curl" "$out" "hello-httpd"
	# the container had a real interface on the bridge
	out=$(p run --rm "$IMAGE" sh -c 'ip -o -4 addr show eth0')
	expect_contains "eth0" "$out" "$SUBNET_OCTETS."
}

run_limits() {
	out=$(p run --rm --memory 64m --pids-limit 42 "$IMAGE" sh -c '
		if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
			cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max
		else
			cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
		fi' | tr '\n' ' ')
	expect_eq "memory and pids limits" "$out" "67108864 42 "
	# podman update goes through `update --resources`
	p run -d --name lim --memory 64m "$IMAGE" sleep 1000 >/dev/null
	rc=0
	p update --memory 96m lim >/dev/null 2>&1 || rc=$?
	if [ $rc -eq 0 ]; then
		out=$(p exec lim sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max')
		expect_eq "memory after update" "$out" "100663296"
	fi
	p rm -f -t 0 lim >/dev/null
}

# read_count FILE: the counter a container rewrites (echo >FILE truncates
# first, so a read can fall between the truncate and the write: retry).
read_count() {
	local v i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		v=$(cat "$1" 2>/dev/null)
		[ -n "$v" ] && { echo "$v"; return 0; }
		sleep 0.01
	done
	return 1
}

run_pause() {
	# written aside and renamed: a pause between a truncate and its write
	# would leave the file empty for as long as the container is frozen
	p run -d --name pz "$IMAGE" sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/count; sleep 0.05; done' >/dev/null
	sleep 0.3
	p pause pz >/dev/null
	expect_eq "status" "$(p inspect -f '{{.State.Status}}' pz)" "paused"
	a=$(read_count "$(p mount pz)/tmp/count")
	sleep 0.4
	b=$(read_count "$(p mount pz)/tmp/count")
	expect_eq "counter while paused" "$b" "$a"
	p unpause pz >/dev/null
	expect_eq "status" "$(p inspect -f '{{.State.Status}}' pz)" "running"
	sleep 0.4
	c=$(read_count "$(p mount pz)/tmp/count")
	[ "$c" -gt "$b" ] || { echo "counter did not move after unpause ($b -> $c)" >&2; return 1; }
	p unmount pz >/dev/null
	p rm -f -t 0 pz >/dev/null
}

run_top() {
	p run -d --name topc "$IMAGE" sh -c 'sleep 1001 & sleep 1002' >/dev/null
	sleep 0.3
	out=$(p top topc)
	echo "$out"
	expect_contains "top" "$out" "sleep 1001"
	expect_contains "top" "$out" "sleep 1002"
	out=$(p top topc pid args)
	expect_contains "top with descriptors" "$out" "sleep 1002"
	p rm -f -t 0 topc >/dev/null
}

run_security() {
	# --device and --privileged write fileMode with the file type bits
	out=$(p run --rm --device /dev/null:/dev/mynull "$IMAGE" stat -c '%A %t,%T' /dev/mynull)
	expect_eq "device" "$out" "crw-rw-rw- 1,3"
	out=$(p run --rm --privileged "$IMAGE" sh -c 'test -c /dev/kmsg && echo has-kmsg; grep CapEff /proc/self/status')
	expect_contains "privileged devices" "$out" has-kmsg
	expect_contains "privileged caps" "$out" "$(grep CapBnd /proc/self/status | awk '{print $2}')"
	# a user namespace (podman writes the maps into the spec)
	out=$(p run --rm --uidmap 0:200000:65536 --gidmap 0:200000:65536 "$IMAGE" sh -c 'id -u; cat /proc/self/uid_map' | tr -s ' \n' ' ')
	expect_eq "user namespace" "$out" "0 0 200000 65536 "
	out=$(p run --rm --read-only --cap-drop ALL "$IMAGE" sh -c 'touch /x 2>&1; grep CapEff /proc/self/status')
	expect_contains "read-only" "$out" "Read-only file system"
	expect_contains "no caps" "$out" "0000000000000000"
}

# Rootless podman runs the runtime as uid 0 in a user namespace of its own,
# with a config that has no user namespace. The user is the integration
# suite's (berthtest, subordinate ids 400000:65536); its podman state, run
# dir and the runtime's state (XDG_RUNTIME_DIR/berth-runtime) are under $T.
RL_USER=berthtest
rootless_setup() {
	if ! id -u "$RL_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$RL_USER" 2>/dev/null || id -u "$RL_USER" >/dev/null || return 1
	fi
	(
		flock 9
		grep -q "^$RL_USER:" /etc/subuid 2>/dev/null || echo "$RL_USER:400000:65536" >>/etc/subuid
		grep -q "^$RL_USER:" /etc/subgid 2>/dev/null || echo "$RL_USER:400000:65536" >>/etc/subgid
	) 9>>/etc/subuid.berth-test.lock
	mkdir -p "$T/rootless/run" "$T/rootless/home"
	chmod 700 "$T/rootless/run"
	cp "$T/rootfs.tar" "$T/rootless/rootfs.tar"
	chown -R "$RL_USER" "$T/rootless"
	chmod 755 "$T/rootless"
}

# rl CMD...: CMD as the rootless user, with its own HOME and XDG_RUNTIME_DIR
rl() {
	setpriv --reuid="$RL_USER" --regid="$(id -g "$RL_USER")" --init-groups --reset-env -- \
		env HOME="$T/rootless/home" XDG_RUNTIME_DIR="$T/rootless/run" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		podman --cgroup-manager cgroupfs --events-backend file --runtime "$BIN" "$@"
}

# the user namespace keeper ("pause process") podman leaves behind
rootless_cleanup() {
	local pid
	[ -d "$T/rootless/run" ] || return 0
	rl rm -a -f -t 0 >/dev/null 2>&1
	pid=$(cat "$T/rootless/run/libpod/tmp/pause.pid" 2>/dev/null)
	[ -n "$pid" ] && stop_pid "$pid" 5
	return 0
}

run_rootless() {
	command -v newuidmap >/dev/null || { echo "newuidmap missing (uidmap)" >&2; return 1; }
	rootless_setup
	cd "$T/rootless"
	rl import -q rootfs.tar localhost/bb:latest >/dev/null
	out=$(rl run --rm --network none localhost/bb sh -c 'id -u; grep -c . /proc/self/uid_map; echo x >/dev/null && echo dev-null-ok')
	expect_eq "rootless run" "$(echo $out)" "0 2 dev-null-ok"
	rl run -d --name rl1 --network none localhost/bb sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
	out=$(rl exec rl1 sh -c 'echo exec-ok')
	expect_eq "rootless exec" "$out" exec-ok
	rl stop -t 5 rl1 >/dev/null
	rl rm rl1 >/dev/null
	# the runtime kept its state below the user's XDG_RUNTIME_DIR
	[ -d "$T/rootless/run/berth-runtime" ] || { echo "no $T/rootless/run/berth-runtime" >&2; return 1; }
	[ -z "$(ls "$T/rootless/run/berth-runtime")" ] || { echo "state left: $(ls "$T/rootless/run/berth-runtime")" >&2; return 1; }
}

run_lifecycle_edges() {
	# kill/stop of a container that already exited; restart; create + rm of
	# a never-started container
	p run -d --name edge "$IMAGE" true >/dev/null
	p wait edge >/dev/null
	p stop edge >/dev/null
	p start -a edge >/dev/null
	p restart -t 0 edge >/dev/null
	p rm -f -t 0 edge >/dev/null
	p create --name never "$IMAGE" true >/dev/null
	p rm never >/dev/null
	# `podman init` leaves a runtime container "created"; rm deletes it
	# (podman always passes --force), start -a runs it later
	p create --name init1 "$IMAGE" true >/dev/null
	p init init1 >/dev/null
	expect_eq "initialized" "$(p inspect -f '{{.State.Status}}' init1)" initialized
	p rm init1 >/dev/null
	p create --name init2 "$IMAGE" echo started-later >/dev/null
	p init init2 >/dev/null
	expect_eq "start after init" "$(p start -a init2)" started-later
	p rm init2 >/dev/null
	p run -d --name kil "$IMAGE" sleep 1000 >/dev/null
	p kill kil >/dev/null
	p wait kil >/dev/null
	p rm kil >/dev/null
	# podman's cleanup (conmon -> podman container cleanup) deletes the runtime
	# state asynchronously: give it a moment on a loaded machine
	for _ in $(seq 50); do
		[ -z "$(ls "$T/berth-root")" ] && break
		sleep 0.1
	done
	[ -z "$(ls "$T/berth-root")" ] || { echo "runtime state left: $(ls "$T/berth-root")" >&2; return 1; }
}

scenario "podman run --rm with output and exit codes" run_rm
scenario "podman run -d, exec, logs, stop, rm" run_detached
scenario "podman run -it and exec -it through a pty" run_tty
scenario "podman run --network none" run_network_none
scenario "podman run -p HOST:CTR reached by curl on 127.0.0.1" run_port
scenario "podman run --memory/--pids-limit visible inside, podman update" run_limits
scenario "podman pause/unpause" run_pause
scenario "podman top" run_top
scenario "podman run --privileged, --device, --uidmap, --read-only, --cap-drop" run_security
scenario "rootless podman (an unprivileged user, --network none)" run_rootless
scenario "podman kill/stop/restart/rm of exited, never-started and initialized containers" run_lifecycle_edges

finish
