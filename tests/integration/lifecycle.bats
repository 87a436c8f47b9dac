#!/usr/bin/env bats
# The OCI lifecycle: create, start, state, kill, delete, run, list, spec,
# features, and the state at every step.

load helpers

# A createRuntime hook that records `state ID` while create is still
# running (status "creating") and the state the hook gets on stdin.
add_state_hook() {
	cat >"$TEST_DIR/hook.sh" <<EOF
#!/bin/sh
cat >"$TEST_DIR/hook-stdin.json"
"$BERTH_RUNTIME" --root "$ROOT" state "\$1" >"$TEST_DIR/hook-state.json"
EOF
	chmod +x "$TEST_DIR/hook.sh"
	update_config '.hooks.createRuntime = [{path: $p, args: ["hook.sh", $id]}]' --arg p "$TEST_DIR/hook.sh" \
		--arg id "$1"
}

@test "lifecycle: creating -> created -> running -> stopped, state.json and pid-file at every step" {
	set_args sleep 100
	add_state_hook c1

	run berth_bg create --pid-file "$TEST_DIR/c1.pid" c1
	assert_success

	# creating: seen by the hook while create was running
	assert_equal "$(jq -r .status "$TEST_DIR/hook-state.json")" creating "state during createRuntime"
	assert_equal "$(jq -r .status "$TEST_DIR/hook-stdin.json")" creating "hook stdin"
	assert_equal "$(jq -r .id "$TEST_DIR/hook-stdin.json")" c1

	# created
	run berth state c1
	assert_success
	assert_equal "$(jq -r .status <<<"$output")" created
	assert_equal "$(jq -r .id <<<"$output")" c1
	assert_equal "$(jq -r .bundle <<<"$output")" "$BUNDLE"
	assert_equal "$(jq -r .ociVersion <<<"$output")" 1.2.0
	pid=$(jq -r .pid <<<"$output")
	[ "$pid" -gt 1 ]
	assert_equal "$(cat "$TEST_DIR/c1.pid")" "$pid" "pid file"
	assert_equal "$(jq -r .status "$ROOT/c1/state.json")" created "state.json on disk"
	# the init waits before exec: it is still the runtime's binary
	[[ "$(tr "\0" " " <"/proc/$pid/cmdline")" == *" create "* ]] || fail "init cmdline: $(tr "\0" " " <"/proc/$pid/cmdline")"
	# it is in the container's cgroup already
	grep -q "/berth-test/$CG_NAME\$" "/proc/$pid/cgroup"

	# running
	run berth start c1
	assert_success
	assert_output ""
	assert_equal "$(status_of c1)" running
	assert_equal "$(jq -r .status "$ROOT/c1/state.json")" running
	assert_equal "$(pid_of c1)" "$pid"
	for i in $(seq 50); do
		[[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" == "sleep 100 " ]] && break
		sleep 0.02
	done
	assert_equal "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "sleep 100 " "the init execs the process"

	# stopped
	run berth kill c1 KILL
	assert_success
	wait_for_status c1 stopped
	run berth state c1
	assert_equal "$(jq -r .status <<<"$output")" stopped
	[ ! -e "/proc/$pid" ] || [ "$(awk '{print $3}' "/proc/$pid/stat")" = Z ] || fail "init $pid still alive"

	run berth delete c1
	assert_success
	[ ! -e "$ROOT/c1" ]
	run berth state c1
	assert_one_line_error 'container "c1" does not exist'
	assert_nothing_left c1
}

@test "lifecycle: a process that exits on its own leaves the container stopped" {
	set_args true
	berth_bg create c1
	berth start c1
	wait_for_status c1 stopped
	berth delete c1
	assert_nothing_left c1
}

@test "lifecycle: start blocks the process until start; state pid stays the init" {
	add_out_mount
	set_args sh -c 'echo started >/out/marker'
	update_config '.process.args[2] += "; sleep 100"'
	berth_bg create c1
	pid=$(pid_of c1)
	sleep 0.2
	[ ! -e "$TEST_DIR/out/marker" ] || fail "the process ran before start"
	berth start c1
	wait_for_file "$TEST_DIR/out/marker"
	assert_equal "$(cat "$TEST_DIR/out/marker")" started
	assert_equal "$(pid_of c1)" "$pid"
}

@test "kill: by name, by number, with and without SIG prefix; default is SIGTERM" {
	add_out_mount
	set_args sh -c 'trap "echo usr1 >>/out/sig" USR1; trap "echo usr2 >>/out/sig" USR2; trap "echo hup >>/out/sig" HUP; trap "echo term >>/out/sig; exit 0" TERM; echo ready >/out/ready; while :; do sleep 0.05; done'
	berth_bg create c1
	berth start c1
	wait_for_file "$TEST_DIR/out/ready"

	run berth kill c1 USR1
	assert_success
	run berth kill c1 SIGUSR2
	assert_success
	run berth kill c1 1
	assert_success
	for i in $(seq 100); do
		[ "$(wc -l <"$TEST_DIR/out/sig")" -ge 3 ] && break
		sleep 0.05
	done
	assert_equal "$(sort "$TEST_DIR/out/sig" | tr '\n' ' ')" "hup usr1 usr2 "

	run berth kill c1 NOSUCHSIG
	assert_one_line_error 'unknown signal "NOSUCHSIG"'

	run berth kill c1
	assert_success
	wait_for_status c1 stopped
	assert_equal "$(tail -n1 "$TEST_DIR/out/sig")" term

	# a stopped container cannot be signalled
	run berth kill c1 KILL
	assert_one_line_error "not running"
}

@test "kill --all: signals every process of the container, not only the init" {
	add_out_mount
	# the init (pid 1 of its namespace) ignores SIGTERM; its children do not
	set_args sh -c 'sleep 100 & sleep 100 & echo ready >/out/ready; while :; do sleep 1; done'
	berth_bg create c1
	berth start c1
	wait_for_file "$TEST_DIR/out/ready"
	init=$(pid_of c1)
	[ "$(tagged_pids "$TAG" | wc -l)" -ge 3 ]

	run berth kill --all c1 TERM
	assert_success
	for i in $(seq 100); do
		[ "$(pgrep -P "$init" -x sleep -c || true)" -le 1 ] && break
		sleep 0.05
	done
	# only the init's own foreground `sleep 1` may have been started since
	[ "$(pgrep -P "$init" -x sleep -c || true)" -le 1 ]
	assert_equal "$(status_of c1)" running

	run berth kill --all c1 KILL
	assert_success
	wait_for_status c1 stopped
	for i in $(seq 100); do
		[ -z "$(tagged_pids "$TAG")" ] && break
		sleep 0.05
	done
	[ -z "$(tagged_pids "$TAG")" ] || fail "processes survived kill --all: $(tagged_pids "$TAG")"
}

@test "delete --force: kills a running container and removes everything" {
	set_args sleep 100
	berth_bg create c1
	berth start c1
	pid=$(pid_of c1)
	run berth delete --force c1
	assert_success
	[ ! -e "$ROOT/c1" ]
	[ ! -e "/proc/$pid" ] || [ "$(awk '{print $3}' "/proc/$pid/stat")" = Z ]
	assert_nothing_left c1
	# --force on a missing container is not an error (as runc)
	run berth delete --force c1
	assert_success
}

@test "delete --force: a created container that never started" {
	set_args sleep 100
	berth_bg create c1
	run berth delete -f c1
	assert_success
	assert_nothing_left c1
}

@test "run: attached, stdout and stderr of the container, exit code 0" {
	set_args sh -c 'echo out; echo err >&2'
	run berth run c1
	assert_success
	[ "${lines[0]}" = out ] && [ "${lines[1]}" = err ] || fail "output: $output"
	# deleted after it exits
	[ ! -e "$ROOT/c1" ]
	assert_nothing_left c1
}

@test "run: exits with the container's exit code" {
	set_args sh -c 'exit 7'
	run berth run c1
	assert_failure 7
	assert_nothing_left c1
}

@test "run: exit code 128+N when the process is killed by signal N" {
	# without a pid namespace the shell can kill itself
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args sh -c 'kill -USR1 $$; sleep 10'
	run berth run c1
	assert_failure 138
	assert_nothing_left c1
}

@test "run: 137 when the container is killed with SIGKILL from outside" {
	set_args sleep 100
	(
		rc=0
		berth run c1 >/dev/null 2>&1 || rc=$?
		echo $rc >"$TEST_DIR/rc"
	) &
	track_pid $!
	wait_for_status c1 running
	berth kill c1 9
	wait_for_file "$TEST_DIR/rc"
	assert_equal "$(cat "$TEST_DIR/rc")" 137
}

@test "run --detach: returns at once, the container keeps running" {
	set_args sleep 100
	start=$(date +%s%N)
	run berth_bg run --detach --pid-file "$TEST_DIR/pid" c1
	assert_success
	[ $(($(date +%s%N) - start)) -lt 3000000000 ]
	assert_equal "$(status_of c1)" running
	pid=$(cat "$TEST_DIR/pid")
	assert_equal "$(pid_of c1)" "$pid"
	[ -d "/proc/$pid" ]
	berth kill c1 KILL
	wait_for_status c1 stopped
	berth delete c1
	assert_nothing_left c1
}

@test "run -d: short flag" {
	set_args sleep 100
	run berth_bg run -d c1
	assert_success
	assert_equal "$(status_of c1)" running
}

@test "run: no exec fifo, and the runtime binary sealed by the init, without a detached tree of the runtime's" {
	command -v strace >/dev/null || skip "strace is not installed"
	set_args true
	# run is create+start in one process: the init execs once ready, with
	# no exec fifo to block on (docs/architecture.md); and with a new pid
	# namespace the init seals the binary in its own mount namespace, so
	# the runtime makes no detached tree whose close waits for a grace period
	run strace -f -qq -o "$TEST_DIR/strace.log" -e trace=execve,mknodat,open_tree,move_mount env BERTH_IT_TAG="$TAG" \
		"$BERTH_RUNTIME" --root "$ROOT" run c1
	assert_success
	local runtime_pid
	runtime_pid=$(awk 'NR == 1 {print $1}' "$TEST_DIR/strace.log")
	! grep -q 'exec\.fifo' "$TEST_DIR/strace.log" || fail "run made an exec fifo: $(cat "$TEST_DIR/strace.log")"
	! grep -q "^$runtime_pid open_tree" "$TEST_DIR/strace.log" ||
		fail "the runtime sealed itself: $(cat "$TEST_DIR/strace.log")"
	grep -q 'move_mount(.*MOVE_MOUNT_F_EMPTY_PATH) = 0' "$TEST_DIR/strace.log" ||
		fail "the init did not bind the binary: $(cat "$TEST_DIR/strace.log")"
	assert_nothing_left c1
}

@test "run: network, IPC and UTS namespaces made on a thread beside the runtime's work and joined by the init; by the clone on one CPU" {
	command -v strace >/dev/null || skip "strace is not installed"
	command -v taskset >/dev/null || skip "taskset is not installed"
	[ "$(nproc)" -ge 2 ] || skip "one CPU"
	# the loopback is up (flags: IFF_UP) in a network namespace of its own
	set_args sh -c 'cat /sys/class/net/lo/flags; for t in net ipc uts; do readlink /proc/self/ns/$t; done'
	# one file per process (-ff): the thread and the runtime's own work run
	# at once, and -f would split their calls into unfinished/resumed lines
	run strace -ff -qq -o "$TEST_DIR/strace" -e trace=unshare,setns,clone3 env BERTH_IT_TAG="$TAG" \
		"$BERTH_RUNTIME" --root "$ROOT" run c1
	cat "$TEST_DIR"/strace.[0-9]* >"$TEST_DIR/strace.log"
	assert_success
	assert_equal "$(( ${lines[0]} & 1 ))" 1 "IFF_UP of lo (flags ${lines[0]})"
	[ "${lines[1]}" != "$(readlink /proc/self/ns/net)" ] || fail "the host's network namespace"
	[ "${lines[2]}" != "$(readlink /proc/self/ns/ipc)" ] || fail "the host's IPC namespace"
	[ "${lines[3]}" != "$(readlink /proc/self/ns/uts)" ] || fail "the host's UTS namespace"
	grep -Eq 'unshare\(CLONE_NEWUTS\|CLONE_NEWIPC\|CLONE_NEWNET\) += 0' "$TEST_DIR/strace.log" ||
		fail "no thread made them: $(cat "$TEST_DIR/strace.log")"
	! grep 'clone3(' "$TEST_DIR/strace.log" | grep -v CLONE_THREAD | grep -q CLONE_NEWNET ||
		fail "the clone made a network namespace too: $(cat "$TEST_DIR/strace.log")"
	grep -Eq 'setns\(.*CLONE_NEWNET\) += 0' "$TEST_DIR/strace.log" ||
		fail "the init did not join it: $(cat "$TEST_DIR/strace.log")"
	assert_nothing_left c1

	# one CPU: no thread, the clone makes them
	run taskset -c 0 strace -f -qq -o "$TEST_DIR/strace1.log" -e trace=unshare,setns,clone3 env BERTH_IT_TAG="$TAG" \
		"$BERTH_RUNTIME" --root "$ROOT" run c1
	assert_success
	assert_equal "$(( ${lines[0]} & 1 ))" 1 "IFF_UP of lo (flags ${lines[0]})"
	! grep -q 'CLONE_THREAD' "$TEST_DIR/strace1.log" || fail "a thread on one CPU: $(cat "$TEST_DIR/strace1.log")"
	grep 'clone3(' "$TEST_DIR/strace1.log" | grep -q 'CLONE_NEWNET' ||
		fail "the clone made no network namespace: $(cat "$TEST_DIR/strace1.log")"
	assert_nothing_left c1
}

@test "run: the cgroup mounts found without mountinfo, the delete made from the state in memory" {
	command -v strace >/dev/null || skip "strace is not installed"
	# listmount(2) and statmount(2) with mount options came in Linux 6.11
	local major minor
	IFS=. read -r major minor _ <<<"$(uname -r)"
	[ "$major" -gt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -ge 11 ]; } || skip "kernel older than 6.11"
	set_args true
	mkdir -p "$ROOT"
	# mountinfo makes the kernel print every mount of the host; the state
	# create wrote is still in memory at the delete, and the state root
	# exists: no mkdir of each of its components
	run strace -f -qq -o "$TEST_DIR/strace.log" -e trace=open,openat,mkdir env BERTH_IT_TAG="$TAG" \
		"$BERTH_RUNTIME" --root "$ROOT" run c1
	assert_success
	! grep -q 'mountinfo' "$TEST_DIR/strace.log" || fail "run read mountinfo: $(cat "$TEST_DIR/strace.log")"
	! grep -q '"state.json", O_RDONLY' "$TEST_DIR/strace.log" ||
		fail "run read state.json back: $(cat "$TEST_DIR/strace.log")"
	! grep -q "mkdir(\"$ROOT\"" "$TEST_DIR/strace.log" ||
		fail "run made the existing state root: $(cat "$TEST_DIR/strace.log")"
	assert_nothing_left c1
}

@test "run: a container deleted by another command while it runs is left alone at the end" {
	set_args sleep 100
	env BERTH_IT_TAG="$TAG" "$BERTH_RUNTIME" --root "$ROOT" run c1 </dev/null >/dev/null 2>&1 &
	local runner=$!
	defer "kill -CONT $runner 2>/dev/null; kill $runner 2>/dev/null || true"
	wait_for_status c1 running
	# the foreground run stopped while another command deletes its
	# container and a new one takes the same id: once it goes on, its own
	# delete must not touch the new container
	kill -STOP "$runner"
	run berth delete --force c1
	assert_success
	run berth_bg run -d c1
	assert_success
	kill -CONT "$runner"
	wait "$runner" || true
	assert_equal "$(status_of c1)" running
	run berth delete --force c1
	assert_success
	assert_nothing_left c1
}

@test "run --keep: the stopped container stays until deleted" {
	set_args sh -c 'exit 3'
	run berth run --keep c1
	assert_failure 3
	assert_equal "$(status_of c1)" stopped
	[ -d "$ROOT/c1" ]
	# the cgroup is still there while the container is kept
	for d in $(cgroup_dirs "$CG_NAME"); do
		[ -d "$d" ] || fail "cgroup $d missing while the container is kept"
	done
	run berth delete c1
	assert_success
	assert_nothing_left c1
}

@test "run: --bundle/-b from another directory" {
	set_args echo from-bundle
	cd "$TEST_DIR"
	run berth run -b "$BUNDLE" c1
	assert_success
	assert_output from-bundle
	run berth run --bundle="$BUNDLE" c2
	assert_success
	assert_output from-bundle
}

@test "run --config: a relative path is taken from the bundle and recorded absolute; exec and delete work from anywhere" {
	printf '#!/bin/sh\ncat >"%s/poststop.json"\n' "$TEST_DIR" >"$TEST_DIR/poststop.sh"
	chmod +x "$TEST_DIR/poststop.sh"
	set_args sleep 100
	update_config '.hooks.poststop = [{path: $p}] | .process.env += ["WHICH=alt"]' --arg p "$TEST_DIR/poststop.sh"
	mv "$BUNDLE/config.json" "$BUNDLE/alt.json"
	cd "$BUNDLE"
	berth_bg run -d --config alt.json c1
	cd /
	assert_equal "$(jq -r .configPath "$ROOT/c1/state.json")" "$BUNDLE/alt.json"
	run berth exec c1 sh -c 'echo $WHICH'
	assert_success
	assert_output alt
	berth kill c1 KILL
	wait_for_status c1 stopped
	run berth delete c1
	assert_success
	refute_output_contains "reload config"
	assert_equal "$(jq -r .id "$TEST_DIR/poststop.json")" c1

	# with --bundle from elsewhere: still the bundle's file
	cd "$TEST_DIR"
	berth_bg create -b "$BUNDLE" --config alt.json c2
	assert_equal "$(jq -r .configPath "$ROOT/c2/state.json")" "$BUNDLE/alt.json"
	berth delete --force c2
	assert_nothing_left c1 c2
}

@test "list: table, json and quiet" {
	set_args sleep 100
	berth_bg create c1
	# a second bundle: two live containers cannot share a cgroup
	make_bundle "$TEST_DIR/$TAG-2"
	(BUNDLE="$TEST_DIR/$TAG-2" && set_args sleep 100)
	berth_bg run -d -b "$TEST_DIR/$TAG-2" c2

	run berth list
	assert_success
	[[ "${lines[0]}" == ID*PID*STATUS*BUNDLE*CREATED*OWNER ]] || fail "header: ${lines[0]}"
	[[ "$output" == *$'\n'"c1 "*created*"$BUNDLE"* ]] || fail "c1 row: $output"
	[[ "$output" == *$'\n'"c2 "*running*"$TEST_DIR/$TAG-2"* ]] || fail "c2 row: $output"

	run berth list --format json
	assert_success
	assert_equal "$(jq -r 'map(.id) | sort | join(",")' <<<"$output")" c1,c2
	assert_equal "$(jq -r '.[] | select(.id == "c1") | .status' <<<"$output")" created
	assert_equal "$(jq -r '.[] | select(.id == "c2") | .status' <<<"$output")" running
	assert_equal "$(jq -r '.[] | select(.id == "c2") | .pid' <<<"$output")" "$(pid_of c2)"

	run berth list -q
	assert_success
	assert_equal "$(echo "$output" | sort | tr '\n' ' ')" "c1 c2 "

	run berth list --format yaml
	assert_one_line_error 'expected table or json'
}

@test "list: an empty or missing root lists nothing" {
	run berth list -q
	assert_success
	assert_output ""
	run berth list --format json
	assert_success
	assert_equal "$(jq length <<<"$output")" 0
}

@test "state: annotations of the config are reported" {
	set_args sleep 100
	update_config '.annotations = {"org.example.key": "value"}'
	berth_bg create c1
	run berth state c1
	assert_equal "$(jq -r '.annotations["org.example.key"]' <<<"$output")" value
}

@test "features: runtime-spec features JSON" {
	run berth features
	assert_success
	jq -e . <<<"$output" >/dev/null
	assert_equal "$(jq -r .ociVersionMin <<<"$output")" 1.0.0
	[[ "$(jq -r .ociVersionMax <<<"$output")" == 1.* ]]
	for ns in cgroup ipc mount network pid time user uts; do
		jq -e --arg ns "$ns" '.linux.namespaces | index($ns)' <<<"$output" >/dev/null || fail "namespace $ns"
	done
	jq -e '.linux.capabilities | index("CAP_SYS_ADMIN")' <<<"$output" >/dev/null
	jq -e '.hooks | index("createRuntime")' <<<"$output" >/dev/null
	for o in ro nosuid nodev noexec rbind rprivate rshared; do
		jq -e --arg o "$o" '.mountOptions | index($o)' <<<"$output" >/dev/null || fail "mount option $o"
	done
}

@test "spec: writes a valid default config.json, refuses to overwrite; --rootless adds a user namespace" {
	mkdir "$TEST_DIR/spec"
	cd "$TEST_DIR/spec"
	run berth spec
	assert_success
	jq -e '.ociVersion and .process.args and .root.path == "rootfs"' config.json >/dev/null
	jq -e '[.linux.namespaces[].type] | index("user") | not' config.json >/dev/null

	run berth spec
	assert_one_line_error "already exists"

	mkdir "$TEST_DIR/spec2"
	run berth spec --rootless --bundle "$TEST_DIR/spec2"
	assert_success
	jq -e '[.linux.namespaces[].type] | index("user")' "$TEST_DIR/spec2/config.json" >/dev/null
	jq -e '.linux.uidMappings[0].containerID == 0 and .linux.uidMappings[0].size == 1' \
		"$TEST_DIR/spec2/config.json" >/dev/null

	# the generated config runs (with the busybox rootfs of this bundle)
	cp "$TEST_DIR/spec/config.json" "$BUNDLE/config.json"
	update_config '.process.terminal = false | .process.args = ["echo", "spec-ok"] | .linux.cgroupsPath = $cg' \
		--arg cg "berth-test/$CG_NAME"
	cd "$BUNDLE"
	run berth run c1
	assert_success
	assert_output spec-ok
}

@test "global flags: --log, --log-format json, --debug, --systemd-cgroup accepted" {
	set_args echo hi
	run berth --log "$TEST_DIR/log.json" --log-format json --debug run c1
	assert_success
	assert_output hi
	[ -s "$TEST_DIR/log.json" ] || fail "no debug log written"
	head -n1 "$TEST_DIR/log.json" | jq -e '.level and .msg' >/dev/null || fail "not JSON: $(head -n1 "$TEST_DIR/log.json")"

	run berth --log-format xml list
	assert_one_line_error 'expected text or json'

	run "$BERTH_RUNTIME" --version
	assert_success
	assert_output_contains "berth-runtime version"
}

@test "run: stdin is the container's stdin when there is no terminal" {
	set_args sh -c 'read a; read b; echo "got $b $a"'
	run berth run c1 <<<$'one\ntwo'
	assert_success
	assert_output "got two one"
}

@test "run: signals sent to the runtime are forwarded to the container" {
	add_out_mount
	set_args sh -c 'trap "echo got-term >/out/sig; exit 9" TERM; echo ready >/out/ready; while :; do sleep 0.05; done'
	env BERTH_IT_TAG="$TAG" "$BERTH_RUNTIME" --root "$ROOT" run c1 </dev/null >/dev/null 2>&1 &
	runtime_pid=$!
	track_pid "$runtime_pid"
	wait_for_file "$TEST_DIR/out/ready"
	kill -TERM "$runtime_pid"
	rc=0
	wait "$runtime_pid" || rc=$?
	assert_equal "$rc" 9 "run's exit code"
	assert_equal "$(cat "$TEST_DIR/out/sig")" got-term
	assert_nothing_left c1
}

@test "kill: a created container that never started can be killed and deleted" {
	set_args sleep 100
	berth_bg create c1
	pid=$(pid_of c1)
	run berth kill c1 KILL
	assert_success
	wait_for_status c1 stopped
	run berth start c1
	assert_failure
	run berth delete c1
	assert_success
	assert_nothing_left c1
}

@test "delete: processes left behind by an init that exited are killed" {
	add_out_mount
	# without a pid namespace the init's children outlive it
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args sh -c 'sleep 100 & echo $! >/out/child; exit 0'
	berth_bg create c1
	berth start c1
	wait_for_status c1 stopped
	wait_for_file "$TEST_DIR/out/child"
	child=$(cat "$TEST_DIR/out/child")
	[ -n "$child" ]
	[ -n "$(tagged_pids "$TAG")" ] || fail "the orphan is not running"
	run berth delete c1
	assert_success
	assert_nothing_left c1
}

@test "kill --all: reaches the processes of a container whose init exited" {
	add_out_mount
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args sh -c 'sleep 100 & echo started >/out/child; exit 0'
	berth_bg create c1
	berth start c1
	wait_for_status c1 stopped
	wait_for_file "$TEST_DIR/out/child"
	[ -n "$(tagged_pids "$TAG")" ]
	run berth kill --all c1 KILL
	assert_success
	for i in $(seq 100); do
		[ -z "$(tagged_pids "$TAG")" ] && break
		sleep 0.05
	done
	[ -z "$(tagged_pids "$TAG")" ] || fail "still running: $(tagged_pids "$TAG")"
}

@test "hooks: prestart, poststart and poststop run with the state on stdin" {
	for h in prestart poststart poststop; do
		printf '#!/bin/sh\ncat >"%s/%s.json"\n' "$TEST_DIR" "$h" >"$TEST_DIR/$h.sh"
		chmod +x "$TEST_DIR/$h.sh"
	done
	update_config '.hooks = {"prestart": [{"path": ($d + "/prestart.sh")}],
		"poststart": [{"path": ($d + "/poststart.sh")}], "poststop": [{"path": ($d + "/poststop.sh")}]}' \
		--arg d "$TEST_DIR"
	set_args sleep 100
	berth_bg create c1
	[ -f "$TEST_DIR/prestart.json" ]
	[ ! -e "$TEST_DIR/poststart.json" ]
	assert_equal "$(jq -r .status "$TEST_DIR/prestart.json")" creating
	berth start c1
	assert_equal "$(jq -r .status "$TEST_DIR/poststart.json")" running
	assert_equal "$(jq -r .pid "$TEST_DIR/poststart.json")" "$(pid_of c1)"
	[ ! -e "$TEST_DIR/poststop.json" ]
	berth delete --force c1
	assert_equal "$(jq -r .status "$TEST_DIR/poststop.json")" stopped
	assert_equal "$(jq -r .id "$TEST_DIR/poststop.json")" c1
}

@test "--root: a missing root directory is created private; --pid-file may be relative" {
	set_args true
	ROOT="$TEST_DIR/a/b/root"
	cd "$TEST_DIR"
	run berth_bg create -b "$BUNDLE" --pid-file rel.pid c1
	assert_success
	[ -d "$ROOT/c1" ]
	assert_equal "$(stat -c %a "$ROOT")" 700
	assert_equal "$(cat "$TEST_DIR/rel.pid")" "$(pid_of c1)"
	berth delete --force c1
}

@test "create killed half-way (SIGKILL during a hook): delete --force removes its cgroup, init and state" {
	printf '#!/bin/sh\nkill -KILL $PPID\n' >"$TEST_DIR/kill-runtime.sh"
	chmod +x "$TEST_DIR/kill-runtime.sh"
	update_config '.hooks.createRuntime = [{"path": $p}]' --arg p "$TEST_DIR/kill-runtime.sh"
	set_args sleep 100
	run berth_bg create c1
	assert_failure 137
	# the cgroup was made before the runtime died
	for d in $(cgroup_dirs "$CG_NAME"); do
		[ -d "$d" ] || fail "expected the cgroup $d of the killed create"
	done
	run berth delete --force c1
	assert_success
	assert_nothing_left c1
}

@test "delete --force: a state dir without state.json, or with a corrupt one, is removed; the id is usable again" {
	mkdir -p "$ROOT/c1" "$ROOT/c2"
	echo '{corrupt' >"$ROOT/c2/state.json"
	run berth delete c2
	assert_one_line_error "corrupt state.json"
	[ -d "$ROOT/c2" ]
	run berth delete --force c1
	assert_success
	run berth delete --force c2
	assert_success
	[ ! -e "$ROOT/c1" ]
	[ ! -e "$ROOT/c2" ]
	set_args true
	run berth run c1
	assert_success
}
