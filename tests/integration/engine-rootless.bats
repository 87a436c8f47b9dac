#!/usr/bin/env bats
# The engine run by an unprivileged user (berthtest, with /etc/subuid and
# /etc/subgid ranges): berth joins a user and mount namespace held by its
# pause process (src/engine/userns.c), unpacks with the real owners, mounts
# the overlay with userxattr and runs containers there. Each test has its own
# XDG dirs; the teardown removes the containers, kills the pause process it
# caused and checks that nothing is left.

load engine

setup_file() {
	engine_make_rootfs
	# a file of another owner, to see ids map through the subuid range
	local dir="$BATS_FILE_TMPDIR/rootfs"
	echo app >"$dir/home/app/owned"
	chown -R 1000:1000 "$dir/home/app"
	tar -C "$dir" -cf "$BATS_FILE_TMPDIR/rootfs.tar" .
}

setup() {
	ensure_rootless_user
	TAG="brl$$n${BATS_SUITE_TEST_NUMBER}"
	CG_NAME="$TAG" # assert_nothing_left: no cgroup of this test's name
	TEST_DIR="$BATS_TEST_TMPDIR"
	RL_HOME=$(mktemp -d /tmp/berth-rl.XXXXXX)
	chmod 711 "$RL_HOME"
	mkdir -m 700 "$RL_HOME/run" "$RL_HOME/data"
	cp "$BATS_FILE_TMPDIR/rootfs.tar" "$RL_HOME/rootfs.tar"
	chown -R "$ROOTLESS_UID:$ROOTLESS_GID" "$RL_HOME"
	rb import "$RL_HOME/rootfs.tar" bb --change 'CMD ["sh"]' >/dev/null
}

teardown() {
	local id failed=0 pid i
	cd / || true
	# a --rm container's monitor finishes removing it just after berth returns
	for ((i = 0; i < 100; i++)); do
		[ -z "$(find "$RL_HOME/data/berth/containers" -mindepth 1 -maxdepth 1 -name '.removing-*' 2>/dev/null)" ] && break
		sleep 0.05
	done
	if [ -d "$RL_HOME/run/berth/kube" ]; then
		rb kube delete all --all >/dev/null 2>&1 || failed=1
		for ((i = 0; i < 100; i++)); do
			[ -z "$(rootless_controller_pid)" ] && break
			sleep 0.1
		done
		if [ -n "$(rootless_controller_pid)" ]; then
			echo "teardown: the kube controller $(rootless_controller_pid) did not exit" >&2
			kill -KILL "$(rootless_controller_pid)"
			failed=1
		fi
	fi
	# a second store of a test's own
	if [ -n "${RB_OTHER_STORE:-}" ]; then
		for id in $(rb --root "$RB_OTHER_STORE" ps -aq --no-trunc 2>/dev/null); do
			rb --root "$RB_OTHER_STORE" rm -f "$id" >/dev/null 2>&1 || failed=1
		done
	fi
	for id in $(rb ps -aq --no-trunc 2>/dev/null); do
		rb rm -f "$id" >/dev/null 2>&1 || {
			echo "teardown: rm -f $id failed" >&2
			failed=1
		}
	done
	if [ -n "$(find "$RL_HOME/data/berth/containers" -mindepth 1 -maxdepth 1 ! -name names 2>/dev/null)" ]; then
		echo "teardown: container records left" >&2
		failed=1
	fi
	pid=$(pause_pid)
	if [ -n "$pid" ]; then
		if grep -F "$RL_HOME/data/berth/containers" "/proc/$pid/mountinfo" >&2; then
			echo "teardown: container mounts (above) left in the rootless namespace" >&2
			failed=1
		fi
	fi
	kill_rootless_pause "$RL_HOME/run/berth/pause.pid"
	[ -z "${MR_USER:-}" ] || multi_range_user_remove
	if [ -n "${RB_NETNS:-}" ]; then
		umount "$RB_NETNS" 2>/dev/null || true
		rm -f "$RB_NETNS"
	fi
	rm -rf "$RL_HOME"
	assert_nothing_left || failed=1
	return $failed
}

# rb ARGS...: berth as the unprivileged user with this test's XDG dirs.
rb() {
	${RB_NETNS:+nsenter --net="$RB_NETNS"} setpriv --reuid="$ROOTLESS_UID" --regid="$ROOTLESS_GID" --init-groups --reset-env -- \
		env PATH="${RB_PATH:-/usr/sbin:/usr/bin:/sbin:/bin}" HOME="$RL_HOME" XDG_RUNTIME_DIR="$RL_HOME/run" \
		XDG_DATA_HOME="$RL_HOME/data" BERTH_IT_TAG="$TAG" "$BERTH_BIN" "$@"
}

# multi_range_user: MR_USER (berthmr), a user of this file's own with two
# subordinate ranges in /etc/subuid and /etc/subgid (other entries are left
# as they are; multi_range_user_remove takes its lines out again). From
# then on rb runs as it, with a fresh store.
multi_range_user() {
	MR_USER=berthmr
	id -u "$MR_USER" >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin "$MR_USER" 2>/dev/null ||
		id -u "$MR_USER" >/dev/null || return 1
	(
		flock 9
		sed -i "/^$MR_USER:/d" /etc/subuid /etc/subgid
		printf '%s:500000:1000\n%s:600000:65536\n' "$MR_USER" "$MR_USER" >>/etc/subuid
		printf '%s:500000:1000\n%s:600000:65536\n' "$MR_USER" "$MR_USER" >>/etc/subgid
	) 9>>/etc/subuid.berth-test.lock
	kill_rootless_pause "$RL_HOME/run/berth/pause.pid"
	rm -rf "$RL_HOME/run/berth" "$RL_HOME/data/berth"
	ROOTLESS_UID=$(id -u "$MR_USER")
	ROOTLESS_GID=$(id -g "$MR_USER")
	chown -R "$ROOTLESS_UID:$ROOTLESS_GID" "$RL_HOME"
	rb import "$RL_HOME/rootfs.tar" bb --change 'CMD ["sh"]' >/dev/null
}

multi_range_user_remove() {
	(
		flock 9
		sed -i "/^$MR_USER:/d" /etc/subuid /etc/subgid
	) 9>>/etc/subuid.berth-test.lock
}

# rootless_controller_pid: the pid of the default namespace's kube
# controller of this test's user, when it lives.
rootless_controller_pid() {
	local pid
	pid=$(cat "$RL_HOME"/run/berth/kube/*/default.lock 2>/dev/null | head -1)
	[ -n "$pid" ] && [ -d "/proc/$pid" ] && echo "$pid"
	return 0
}

pause_pid() {
	local pid start
	[ -f "$RL_HOME/run/berth/pause.pid" ] || return 0
	read -r pid start <"$RL_HOME/run/berth/pause.pid"
	[ -d "/proc/$pid" ] && echo "$pid"
	return 0
}

@test "engine rootless: run maps root to the user and other owners through /etc/subuid" {
	run rb run --rm bb sh -c 'cat /proc/self/uid_map; id -u; stat -c "%u:%g" /home/app/owned; touch /tmp/f && chown 4242:4242 /tmp/f && stat -c "%u:%g" /tmp/f'
	assert_success
	# the container's root is the user itself, 1.. the subordinate range
	[[ "$output" =~ 0[[:space:]]+$ROOTLESS_UID[[:space:]]+1 ]]
	[[ "$output" =~ 1[[:space:]]+400000[[:space:]]+65536 ]]
	[ "${lines[2]}" = 0 ]
	[ "${lines[3]}" = 1000:1000 ]
	[ "${lines[4]}" = 4242:4242 ]
	# on the host the image file belongs to the mapped id
	local owned
	owned=$(find "$RL_HOME/data/berth/snapshots" -name owned -printf '%U:%G\n' | head -1)
	[ "$owned" = "$((400000 + 999)):$((400000 + 999))" ]
}

@test "engine rootless: every subordinate range of the user is mapped, one after another" {
	multi_range_user
	run rb run --rm bb sh -c 'cat /proc/self/uid_map /proc/self/gid_map'
	assert_success
	# 0 the user, 1-1000 the first range, 1001- the second
	[[ "$output" =~ 0[[:space:]]+$ROOTLESS_UID[[:space:]]+1[[:space:]] ]]
	[ "$(grep -cE '^ *1 +500000 +1000$' <<<"$output")" = 2 ]
	[ "$(grep -cE '^ *1001 +600000 +65536$' <<<"$output")" = 2 ]
	# an id past the first range exists, and is the second range's on the host
	run rb run --rm -u 30000:30001 bb sh -c 'id -u; id -g'
	assert_success
	[ "${lines[0]}" = 30000 ]
	[ "${lines[1]}" = 30001 ]
	run rb run --name mr bb sh -c 'touch /tmp/mr && chown 30000:30001 /tmp/mr'
	assert_success
	[ "$(find "$RL_HOME/data/berth/containers" -path '*/upper/tmp/mr' -printf '%U:%G\n')" = "$((600000 + 30000 - 1001)):$((600000 + 30001 - 1001))" ]
}

@test "engine rootless: a detached container is listed, exec'd, logged, stopped and removed" {
	run rb run -d --name web bb sh -c 'echo started; exec sleep 1000'
	assert_success
	run rb ps --format json
	assert_success
	[ "$(jq -r '.[0].Name' <<<"$output")" = web ]
	[ "$(jq -r '.[0].State' <<<"$output")" = running ]
	run rb exec web sh -c 'echo in-$(hostname)'
	assert_success
	[[ "$output" == in-* ]]
	run rb logs web
	assert_output started
	run rb top web
	assert_success
	[[ "$output" == *"sleep 1000"* ]]
	run rb stop -t 1 web
	assert_success
	run rb inspect web
	[ "$(jq -r '.[0].State.Status' <<<"$output")" = exited ]
	run rb rm web
	assert_success
	run rb ps -aq
	assert_output ""
}

@test "engine rootless: a named volume keeps its data across containers" {
	run rb run --rm -v data1:/data bb sh -c 'echo kept >/data/f; chown 1000 /data/f'
	assert_success
	run rb run --rm -v data1:/data:ro bb stat -c '%u %n' /data/f
	assert_success
	assert_output "1000 /data/f"
	run rb run --rm -v data1:/data:ro bb sh -c 'echo no >/data/g'
	assert_failure
	run rb volume rm data1
	assert_success
	run rb volume ls -q
	assert_output ""
}

@test "engine rootless: the restart policy and the exit code work from the monitor" {
	run rb run -d --name flaky --restart on-failure:2 bb sh -c 'exit 3'
	assert_success
	local i status
	for ((i = 0; i < 100; i++)); do
		status=$(rb inspect flaky | jq -r '"\(.[0].State.Status) \(.[0].RestartCount)"')
		[ "$status" = "exited 2" ] && break
		sleep 0.1
	done
	[ "$status" = "exited 2" ]
	run rb inspect flaky
	[ "$(jq -r '.[0].State.ExitCode' <<<"$output")" = 3 ]
}

@test "engine rootless: one pause process serves every command and is replaced when killed" {
	run rb run --rm bb true
	assert_success
	local first
	first=$(pause_pid)
	[ -n "$first" ]
	run rb run --rm bb true
	assert_success
	[ "$(pause_pid)" = "$first" ]
	kill -9 "$first"
	run rb run --rm bb echo again
	assert_success
	assert_output again
	[ -n "$(pause_pid)" ]
	[ "$(pause_pid)" != "$first" ]
}

@test "engine rootless: a killed pause process is replaced inside the namespaces its containers hold" {
	run rb run -d --name keeper bb sleep 1000
	assert_success
	local first
	first=$(pause_pid)
	kill -9 "$first"
	# exec reaches the old container: berth joined it through its monitor
	run rb exec keeper echo still-here
	assert_success
	assert_output still-here
	[ -n "$(pause_pid)" ]
	[ "$(pause_pid)" != "$first" ]
	[ "$(readlink "/proc/$(pause_pid)/ns/user")" = "$(readlink "/proc/$(rb inspect keeper | jq -r '.[0].State.MonitorPid')/ns/user")" ]
	run rb rm -f keeper
	assert_success
}

@test "engine rootless: berth unshare runs a command as root of the user's namespace" {
	run rb unshare sh -c 'id -u; stat -c %u "$XDG_DATA_HOME"/berth/snapshots/*/home/app/owned | head -1'
	assert_success
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 1000 ]
	run -127 rb unshare /nonexistent
	[[ "$output" == *nonexistent* ]]
}

@test "engine rootless: a bad image or flag fails clearly and leaves no record" {
	run rb run --rm nosuchimage true
	assert_failure 125
	[[ "$output" == *nosuchimage* ]]
	run rb run --rm --memory lots bb true
	assert_failure 125
	[[ "$output" == *"--memory"* ]]
	[ -z "$(find "$RL_HOME/data/berth/containers" -mindepth 1 -maxdepth 1 ! -name names 2>/dev/null)" ]
}

# rootless_net_setup: the "host" for rootless networking, a network
# namespace of the test's own with an uplink (pasta copies its addresses and
# routes), and a usable /dev/net/tun in the user's namespaces.
rootless_net_setup() {
	# the "host" is a network namespace of the test's own
	RB_NETNS="$TEST_DIR/hostns"
	touch "$RB_NETNS"
	unshare --net="$RB_NETNS" true
	nsenter --net="$RB_NETNS" ip link set lo up
	# pasta copies the addresses and routes of the host's uplink: give the
	# namespace one (a veth pair, documentation addresses)
	nsenter --net="$RB_NETNS" ip link add up0 type veth peer name up1
	nsenter --net="$RB_NETNS" ip addr add 192.0.2.10/24 dev up0
	nsenter --net="$RB_NETNS" ip link set up1 up
	nsenter --net="$RB_NETNS" ip link set up0 up
	nsenter --net="$RB_NETNS" ip route add default via 192.0.2.1
	rb images >/dev/null
	# pasta needs /dev/net/tun read-write; some hosts (this VM) keep it 0600.
	# Then the user's mount namespace gets a 0666 node of the same device,
	# as a udev rule would make; the host's node is not changed.
	if ! setpriv --reuid="$ROOTLESS_UID" --regid="$ROOTLESS_GID" --init-groups test -w /dev/net/tun; then
		mknod -m 666 "$RL_HOME/tun" c 10 200
		nsenter -t "$(pause_pid)" --mount mount --bind "$RL_HOME/tun" /dev/net/tun
	fi
}

@test "engine rootless: pasta gives the container a network and publishes a port on loopback" {
	rootless_net_setup
	run rb run -d --name web -p 127.0.0.1:18080:80 bb sh -c 'mkdir -p /www && echo rootless-web >/www/index.html && exec httpd -f -p 80 -h /www'
	assert_success
	run rb inspect web
	[ "$(jq -r '.[0].NetworkSettings.Mode' <<<"$output")" = pasta ]
	local pasta
	pasta=$(jq -r '.[0].NetworkSettings.HelperPid' <<<"$output")
	[ -d "/proc/$pasta" ]
	run nsenter --net="$RB_NETNS" curl -sS -m 3 http://127.0.0.1:18080/
	assert_success
	assert_output rootless-web
	run rb exec web ip -o -4 addr show eth0
	assert_success
	run rb rm -f web
	assert_success
	local i
	for ((i = 0; i < 50; i++)); do
		[ -d "/proc/$pasta" ] || break
		sleep 0.05
	done
	[ ! -d "/proc/$pasta" ]
	run nsenter --net="$RB_NETNS" curl -sS -m 2 http://127.0.0.1:18080/
	assert_failure
}

@test "engine rootless: -p without a usable pasta or slirp4netns says why" {
	[ -n "$(pause_pid)" ]
	# a tun device this user cannot open (the host's node is not changed:
	# only the user's mount namespace gets another one)
	mknod -m 600 "$RL_HOME/tun0600" c 10 200
	nsenter -t "$(pause_pid)" --mount mount --bind "$RL_HOME/tun0600" /dev/net/tun
	run rb run --rm -p 18082:80 bb true
	assert_failure
	[[ "$output" == *"pasta or slirp4netns"*"/dev/net/tun is not readable and writable by this user (mode 0600"* ]]
	# a usable one, but neither binary in PATH
	mknod -m 666 "$RL_HOME/tun0666" c 10 200
	nsenter -t "$(pause_pid)" --mount mount --bind "$RL_HOME/tun0666" /dev/net/tun
	mkdir "$RL_HOME/bin"
	RB_PATH="$RL_HOME/bin" run rb run --rm -p 18082:80 bb true
	assert_failure
	[[ "$output" == *"neither pasta (package passt) nor slirp4netns is in PATH"* ]]
	[[ "$output" != *"/dev/net/tun"* ]]
	run rb ps -aq
	assert_output ""
}

@test "engine rootless: slirp4netns connects a container and publishes a port" {
	rootless_net_setup
	run rb run -d --name web --network slirp4netns -p 127.0.0.1:18081:80 bb sh -c 'mkdir -p /www && echo slirp-web >/www/index.html && exec httpd -f -p 80 -h /www'
	assert_success
	run rb inspect web
	[ "$(jq -r '.[0].NetworkSettings.IPAddress' <<<"$output")" = 10.0.2.100 ]
	local helper
	helper=$(jq -r '.[0].NetworkSettings.HelperPid' <<<"$output")
	[ -d "/proc/$helper" ]
	run nsenter --net="$RB_NETNS" curl -sS -m 3 http://127.0.0.1:18081/
	assert_success
	assert_output slirp-web
	run rb rm -f web
	assert_success
	local i
	for ((i = 0; i < 50; i++)); do
		[ -d "/proc/$helper" ] || break
		sleep 0.05
	done
	[ ! -d "/proc/$helper" ]
}

@test "engine rootless: berth kube applies a Deployment of 2 replicas, gets them Ready, deletes them" {
	rootless_net_setup
	cat >"$RL_HOME/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: bb
        imagePullPolicy: Never
        command: ["sh", "-c", "mkdir -p /www && echo rootless-pod >/www/index.html && exec httpd -f -p 8080 -h /www"]
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
YAML
	chown "$ROOTLESS_UID:$ROOTLESS_GID" "$RL_HOME/web.yaml"
	run rb kube apply -f "$RL_HOME/web.yaml"
	assert_success
	assert_output "deployment.apps/web created"
	local i n=0
	for ((i = 0; i < 150; i++)); do
		n=$(rb kube get deployment web -o json | jq -r '.status.readyReplicas // 0')
		[ "$n" = 2 ] && break
		sleep 0.2
	done
	if [ "$n" != 2 ]; then
		rb kube get pods >&2
		cat "$RL_HOME"/run/berth/kube/*/default.log >&2
	fi
	[ "$n" = 2 ]
	# each pod: a holder on berth's network inside the rootless network
	# namespace and its container in the holder's namespaces; the
	# controller probes from inside the pod's network namespace
	[ "$(rb ps -q | wc -l)" = 4 ]
	pod=$(rb kube get pods -o json | jq -r '.items[0].metadata.name')
	run rb kube exec "$pod" -- wget -qO- http://127.0.0.1:8080/
	assert_success
	assert_output rootless-pod
	run rb kube delete -f "$RL_HOME/web.yaml"
	assert_success
	[ -z "$(rb ps -aq)" ]
	for ((i = 0; i < 100; i++)); do
		[ -z "$(rootless_controller_pid)" ] && break
		sleep 0.1
	done
	[ -z "$(rootless_controller_pid)" ]
	rootless_netns_gone
}

# rootless_web_yaml TYPE: a Service "web" of TYPE (ClusterIP or NodePort,
# node port 30080) over a Deployment of 3 replicas answering their pod's
# name, into RL_HOME/web.yaml (the Service first: the pods get its
# variables).
rootless_web_yaml() {
	local node=""
	[ "$1" = NodePort ] && node="    nodePort: 30080"
	cat >"$RL_HOME/web.yaml" <<YAML
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: $1
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
$node
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: bb
        imagePullPolicy: Never
        command: ["sh", "-c", "mkdir -p /www && hostname >/www/index.html && exec httpd -f -p 8080 -h /www"]
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
YAML
	chown "$ROOTLESS_UID:$ROOTLESS_GID" "$RL_HOME/web.yaml"
}

# rootless_web_ready: waits until the 3 replicas of web are Ready.
rootless_web_ready() {
	local i n=0
	for ((i = 0; i < 200; i++)); do
		n=$(rb kube get deployment web -o json | jq -r '.status.readyReplicas // 0')
		[ "$n" = 3 ] && break
		sleep 0.2
	done
	if [ "$n" != 3 ]; then
		rb kube get pods >&2
		cat "$RL_HOME"/run/berth/kube/*/default.log >&2
	fi
	[ "$n" = 3 ]
}

# rootless_netns_gone: after the last pod and service went, the rootless
# network namespace, its pastas and their files are gone too.
rootless_netns_gone() {
	local i pids
	[ ! -e "$RL_HOME/run/berth/rootless-netns" ] ||
		fail "the rootless network namespace is left; records: $(ls "$RL_HOME/run/berth/network/owners" "$RL_HOME/run/berth/network/services" 2>&1)"
	[ ! -e "$RL_HOME/run/berth/network/rootless-netns.pasta.pid" ] || fail "pasta's pid file is left"
	[ ! -e "$RL_HOME/run/berth/network/rootless-ports" ] || fail "the port pastas' directory is left"
	for ((i = 0; i < 50; i++)); do
		pids=$(pgrep -u "$ROOTLESS_UID" -f "pasta.*$RL_HOME/run/berth/rootless-netns" || true)
		[ -z "$pids" ] && break
		sleep 0.1
	done
	[ -z "$pids" ] || fail "pasta processes left: $pids"
}

@test "engine rootless: pods reach a ClusterIP Service by name and variables, spread over 3 replicas" {
	rootless_net_setup
	rootless_web_yaml ClusterIP
	run rb kube apply -f "$RL_HOME/web.yaml"
	assert_success
	rootless_web_ready
	local vip pod pods answers
	vip=$(rb kube get svc web -o json | jq -r '.spec.clusterIP')
	[[ "$vip" == 10.96.* ]] || fail "ClusterIP: $vip"
	# the pods have addresses of their own on berth's bridge, inside the
	# rootless network namespace, not the host's
	pods=$(rb kube get pods -o json | jq -r '.items[].status.podIP' | sort -u | grep -c '^10\.')
	[ "$pods" = 3 ]
	[ -e "$RL_HOME/run/berth/rootless-netns" ]
	pod=$(rb kube get pods -o json | jq -r '.items[0].metadata.name')
	run rb kube exec "$pod" -- sh -c 'echo "$WEB_SERVICE_HOST:$WEB_SERVICE_PORT"'
	assert_success
	assert_output "$vip:80"
	# 60 requests by name from a pod: every replica answers a share
	run rb kube exec "$pod" -- sh -c 'for i in $(seq 60); do timeout 3 wget -qO- http://web.default.svc.cluster.local/ || echo FAIL; done'
	assert_success
	[[ "$output" != *FAIL* ]] || fail "failed requests: $output"
	answers=$(sort -u <<<"$output" | wc -l)
	[ "$answers" = 3 ] || fail "answers from $answers replicas: $(sort <<<"$output" | uniq -c)"
	run rb kube exec "$pod" -- timeout 3 wget -qO- "http://$vip/"
	assert_success
	run rb kube delete -f "$RL_HOME/web.yaml"
	assert_success
	[ -z "$(rb ps -aq)" ]
	rootless_netns_gone
}

@test "engine rootless: a NodePort Service answers from the host's 127.0.0.1 through pasta" {
	rootless_net_setup
	rootless_web_yaml NodePort
	run rb kube apply -f "$RL_HOME/web.yaml"
	assert_success
	rootless_web_ready
	[ "$(rb kube get svc web -o json | jq -r '.spec.ports[0].nodePort')" = 30080 ]
	local i out answers=""
	for ((i = 0; i < 30; i++)); do
		out=$(nsenter --net="$RB_NETNS" curl -s --max-time 3 http://127.0.0.1:30080/) || fail "request $i failed"
		answers+="$out"$'\n'
	done
	[ "$(sort -u <<<"${answers%$'\n'}" | wc -l)" -ge 2 ] || fail "answers: $answers"
	run rb kube delete -f "$RL_HOME/web.yaml"
	assert_success
	rootless_netns_gone
	# the host's port is free again
	run nsenter --net="$RB_NETNS" curl -s --max-time 2 http://127.0.0.1:30080/
	assert_failure
}

@test "engine rootless: killed pastas and a killed controller come back with the next apply; delete leaves nothing" {
	rootless_net_setup
	rootless_web_yaml NodePort
	run rb kube apply -f "$RL_HOME/web.yaml"
	assert_success
	rootless_web_ready
	nsenter --net="$RB_NETNS" curl -sf --max-time 3 http://127.0.0.1:30080/ >/dev/null
	local pids i ok=
	pids=$(pgrep -u "$ROOTLESS_UID" -f "pasta.*$RL_HOME/run/berth/rootless-netns")
	[ "$(wc -w <<<"$pids")" = 2 ] || fail "expected the outbound pasta and the node port's: $pids"
	# shellcheck disable=SC2086
	kill -9 $pids "$(rootless_controller_pid)"
	for ((i = 0; i < 50; i++)); do
		pgrep -u "$ROOTLESS_UID" -f "pasta.*$RL_HOME/run/berth/rootless-netns" >/dev/null || break
		sleep 0.1
	done
	run nsenter --net="$RB_NETNS" curl -s --max-time 2 http://127.0.0.1:30080/
	assert_failure
	run rb kube apply -f "$RL_HOME/web.yaml"
	assert_success
	for ((i = 0; i < 50; i++)); do
		nsenter --net="$RB_NETNS" curl -sf --max-time 2 http://127.0.0.1:30080/ >/dev/null && ok=1 && break
		sleep 0.1
	done
	[ -n "$ok" ] || fail "the node port did not come back"
	[ "$(pgrep -u "$ROOTLESS_UID" -f "pasta.*$RL_HOME/run/berth/rootless-netns" | wc -l)" = 2 ]
	run rb kube delete -f "$RL_HOME/web.yaml"
	assert_success
	rootless_netns_gone
}

@test "engine rootless: containers on berth's network reach each other by name, and -p publishes through pasta" {
	rootless_net_setup
	rb run -d --name a --network berth -p 18080:8080 bb sh -c 'mkdir -p /www && echo from-a >/www/index.html && exec httpd -f -p 8080 -h /www' >/dev/null
	rb run -d --name b --network berth bb sleep 300 >/dev/null
	local ip i out=
	ip=$(rb inspect a | jq -r '.[0].NetworkSettings.IPAddress')
	[[ "$ip" == 10.77.* ]] || fail "address of a: $ip"
	run rb exec b timeout 3 wget -qO- "http://$ip:8080/"
	assert_success
	assert_output from-a
	run rb exec b timeout 3 wget -qO- http://a:8080/
	assert_success
	assert_output from-a
	for ((i = 0; i < 50; i++)); do
		out=$(nsenter --net="$RB_NETNS" curl -s --max-time 2 http://127.0.0.1:18080/) && break
		sleep 0.1
	done
	[ "$out" = from-a ] || fail "published port: \"$out\""
	rb rm -f a b >/dev/null
	rootless_netns_gone
	run nsenter --net="$RB_NETNS" curl -s --max-time 2 http://127.0.0.1:18080/
	assert_failure
}

@test "engine rootless: two stores of the user share the rootless network namespace; it goes with the last container" {
	rootless_net_setup
	local other="$RL_HOME/data/other" ip
	RB_OTHER_STORE=$other
	rb --root "$other" import "$RL_HOME/rootfs.tar" bb --change 'CMD ["sh"]' >/dev/null
	rb run -d --name a --network berth bb sh -c 'mkdir -p /www && echo from-a >/www/index.html && exec httpd -f -p 8080 -h /www' >/dev/null
	rb --root "$other" run -d --name b --network berth bb sleep 300 >/dev/null
	ip=$(rb inspect a | jq -r '.[0].NetworkSettings.IPAddress')
	[ "$(rb --root "$other" inspect b | jq -r '.[0].NetworkSettings.IPAddress')" != "$ip" ]
	run rb --root "$other" exec b timeout 3 wget -qO- "http://$ip:8080/"
	assert_success
	assert_output from-a
	# the other store's container still uses it
	rb rm -f a >/dev/null
	[ -e "$RL_HOME/run/berth/rootless-netns" ]
	run rb --root "$other" exec b ip addr show eth0
	assert_success
	rb --root "$other" rm -f b >/dev/null
	rootless_netns_gone
}

# rootless_build_context: a context in RL_HOME/ctx owned by the user.
rootless_build_context() {
	mkdir "$RL_HOME/ctx"
	echo hi >"$RL_HOME/ctx/f.txt"
	cat >"$RL_HOME/ctx/Containerfile"
	chown -R "$ROOTLESS_UID:$ROOTLESS_GID" "$RL_HOME/ctx"
}

@test "engine rootless: berth build runs RUN as root of the user namespace; the layers keep the image's owners" {
	rootless_build_context <<'EOF'
FROM bb
RUN id -u > /who && mkdir /d && chown 1000:1000 /d && rm /bin/vi && stat -c %u:%g /home/app/owned > /owned
COPY --chown=1000:1000 f.txt /home/app/f.txt
EOF
	run rb build -t rlb "$RL_HOME/ctx"
	assert_success
	run rb run --rm --network none rlb sh -c 'cat /who /owned; stat -c "%u:%g" /d /home/app/f.txt; ls /bin/vi 2>&1; true'
	assert_success
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 1000:1000 ] # the base image's owner, seen by RUN
	[ "${lines[2]}" = 1000:1000 ]
	[ "${lines[3]}" = 1000:1000 ]
	[[ "${lines[4]}" == *"No such file"* ]]
	# the layers hold the image's ids, not the host's subordinate ones, and
	# the deletion as a whiteout
	local l listing=""
	for l in "$RL_HOME"/data/berth/blobs/sha256/*; do
		tar -tzf "$l" >/dev/null 2>&1 || continue
		listing+=$(tar --numeric-owner -tvzf "$l")$'\n'
	done
	grep -q ' 1000/1000 .* d/$' <<<"$listing" || fail "no d/ owned by 1000: $listing"
	grep -q ' 1000/1000 .* home/app/f.txt$' <<<"$listing"
	grep -q ' bin/.wh.vi$' <<<"$listing"
	! grep -q ' 40[0-9]\{4\}/' <<<"$listing"
	# a second build is a cache hit; nothing is left in the build's temp dir
	# or mounted in the user's namespace
	run rb build -t rlb "$RL_HOME/ctx"
	assert_success
	[ "$(grep -c CACHED <<<"$output")" = 2 ]
	[ -z "$(ls -A "$RL_HOME/data/berth/build-tmp")" ]
	! grep -F "$RL_HOME/data/berth/build-tmp" "/proc/$(pause_pid)/mountinfo"
	# a failing RUN: its code, no image
	printf 'FROM bb\nRUN exit 5\n' >"$RL_HOME/ctx/Containerfile"
	run rb build -t rlfail "$RL_HOME/ctx"
	[ "$status" = 125 ]
	[[ "$output" == *"Containerfile:2: RUN: the command exited with code 5"* ]]
	[ -z "$(ls -A "$RL_HOME/data/berth/build-tmp")" ]
}

@test "engine rootless: a rootless build's RUN gets the user-mode network (pasta), or none and host as asked" {
	rootless_net_setup
	rootless_build_context <<'EOF'
FROM bb
RUN ip -o -4 addr show > /addrs
RUN --network=none ip -o link show > /none
EOF
	run rb build --no-cache -t rlnet "$RL_HOME/ctx"
	assert_success
	run rb run --rm --network none rlnet sh -c 'cat /addrs; echo NONE; cat /none'
	assert_success
	# pasta copies the "host's" uplink address into RUN's namespace
	grep -q 'inet 192\.0\.2\.10/' <<<"$output" || fail "no pasta address in RUN: $output"
	[ "$(sed -n '/^NONE$/,$p' <<<"$output" | grep -c ': ')" = 1 ]
	run rb build --no-cache --network host -t rlhost "$RL_HOME/ctx"
	assert_success
}

@test "engine rootless: a rootless build's RUN --mount (cache, bind, from a stage, tmpfs, secret), independent stages, --output local" {
	rootless_build_context <<'EOF'
FROM bb AS tools
RUN mkdir /tool && echo tool > /tool/t
FROM bb AS other
RUN echo other > /o
FROM bb
RUN --mount=type=cache,target=/cache,uid=1000 echo c >> /cache/log && stat -c %u /cache > /cacheowner && wc -l < /cache/log > /cachelines
RUN --mount=type=bind,source=f.txt,target=/mnt/f cat /mnt/f > /bound
RUN --mount=type=bind,from=tools,source=/tool,target=/t cat /t/t > /tooled
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch > /tmpfs
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /secretcopy
COPY --from=other /o /o
EOF
	printf 'sec' >"$RL_HOME/tok"
	chown "$ROOTLESS_UID:$ROOTLESS_GID" "$RL_HOME/tok"
	run rb build -q --secret "id=tok,src=$RL_HOME/tok" -o "type=local,dest=$RL_HOME/out" -t rlmnt "$RL_HOME/ctx"
	assert_success
	local got
	got=$(cat "$RL_HOME"/out/{cacheowner,cachelines,bound,tooled,tmpfs,secretcopy,o})
	[ "$got" = "1000
1
hi
tool
x
secother" ] || fail "what RUN saw: $got"
	# --output local writes as root of the namespace: the user's own files
	[ "$(stat -c %u "$RL_HOME/out/o")" = "$ROOTLESS_UID" ]
	# the cache mount outlives the build (a --no-cache rebuild appends to it)
	run rb build -q --no-cache --secret "id=tok,src=$RL_HOME/tok" -t rlmnt "$RL_HOME/ctx"
	assert_success
	run rb run --rm --network none rlmnt sh -c 'cat /cachelines; ls /cache /scratch /run/secrets 2>&1; true'
	[ "${lines[0]}" = 2 ]
	[[ "$output" == *"/cache: No such file"* && "$output" == *"/scratch: No such file"* ]]
	[ -z "$(ls -A "$RL_HOME/data/berth/build-tmp")" ]
}
