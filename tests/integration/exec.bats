#!/usr/bin/env bats
# exec: a new process in a created or running container, with the flags
# containerd's shim and podman's conmon pass.

load helpers

setup() {
	berth_setup
	set_args sleep 100
	update_config '.process.env += ["FROM_CONFIG=yes"] | .hostname = "exec-host"'
}

status_field() {
	awk -v f="$2:" '$1 == f { print $2 }' <<<"$1"
}

start_receiver() {
	[ -x "$CONSOLE_RECEIVER" ] || fail "console-receiver not built at $CONSOLE_RECEIVER"
	SOCK="$TEST_DIR/console.sock"
	rm -f "$SOCK"
	"$CONSOLE_RECEIVER" "$@" "$SOCK" >"$TEST_DIR/console.out" 2>"$TEST_DIR/console.err" &
	RECEIVER_PID=$!
	track_pid "$RECEIVER_PID"
	wait_for_file "$SOCK"
}

wait_receiver() {
	local i
	for ((i = 0; i < 200; i++)); do
		kill -0 "$RECEIVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	wait "$RECEIVER_PID" || fail "console-receiver failed: $(cat "$TEST_DIR/console.err")"
	console=$(tr -d '\r' <"$TEST_DIR/console.out")
}

@test "exec: runs in the container's namespaces and cgroup with the config's process defaults" {
	berth_bg run -d c1
	local pid
	pid=$(pid_of c1)
	run berth exec c1 sh -c 'hostname; echo "$FROM_CONFIG"; readlink /proc/self/ns/mnt; readlink /proc/self/ns/net; readlink /proc/self/ns/pid; cat /proc/self/cgroup; echo $$'
	assert_success
	assert_equal "${lines[0]}" exec-host
	assert_equal "${lines[1]}" yes
	assert_equal "${lines[2]}" "$(readlink "/proc/$pid/ns/mnt")"
	assert_equal "${lines[3]}" "$(readlink "/proc/$pid/ns/net")"
	assert_equal "${lines[4]}" "$(readlink "/proc/$pid/ns/pid")"
	# in the container's cgroup (the namespace's root) and not pid 1
	local n line
	n=$(wc -l </proc/self/cgroup)
	for line in "${lines[@]:5:$n}"; do
		[[ "$line" == *:/ ]] || fail "not in the container's cgroup: $line"
	done
	grep -q "/berth-test/$CG_NAME\$" "/proc/$pid/cgroup"
	[ "${lines[-1]}" -gt 1 ]
	# the config's capabilities and no_new_privs apply
	run berth exec c1 cat /proc/self/status
	assert_equal "$(status_field "$output" CapEff)" 0000000020000420
	assert_equal "$(status_field "$output" NoNewPrivs)" 1
}

@test "exec: the exit code and signal of the process are the exit code of exec" {
	berth_bg run -d c1
	run berth exec c1 sh -c 'exit 7'
	assert_failure 7
	run berth exec c1 sh -c 'kill -TERM $$'
	assert_failure 143
	run berth exec c1 true
	assert_success
	run berth exec c1 /nonexistent
	assert_failure
	assert_output_contains "/nonexistent"
	run berth exec c1 no-such-command
	assert_failure
	assert_output_contains "executable file not found"
}

@test "exec: into a created container, before start" {
	berth_bg create c1
	run berth exec c1 sh -c 'cat /proc/1/cmdline >/dev/null 2>&1; echo in-created'
	assert_success
	assert_output in-created
	assert_equal "$(status_of c1)" created
}

@test "exec: --process JSON gives args, env, cwd, user, capabilities and noNewPrivileges" {
	berth_bg run -d c1
	cat >"$TEST_DIR/process.json" <<'EOF'
{
	"terminal": false,
	"user": {"uid": 1000, "gid": 1000, "additionalGids": [5]},
	"args": ["sh", "-c", "echo \"$ONLY_HERE ${FROM_CONFIG:-unset}\"; pwd; id -u; id -g; id -G; grep -E '^(CapBnd|CapEff|NoNewPrivs)' /proc/self/status"],
	"env": ["PATH=/bin", "ONLY_HERE=from-process-json"],
	"cwd": "/home/user",
	"capabilities": {"bounding": ["CAP_KILL", "CAP_NET_RAW"], "effective": [], "permitted": []},
	"noNewPrivileges": false
}
EOF
	run berth exec --process "$TEST_DIR/process.json" c1
	assert_success
	assert_equal "${lines[0]}" "from-process-json unset"
	assert_equal "${lines[1]}" /home/user
	assert_equal "${lines[2]}" 1000
	assert_equal "${lines[3]}" 1000
	assert_equal "${lines[4]}" "1000 5"
	assert_equal "$(status_field "$output" CapBnd)" 0000000000002020
	assert_equal "$(status_field "$output" CapEff)" 0000000000000000
	assert_equal "$(status_field "$output" NoNewPrivs)" 0

	# a process.json that does not parse: the JSON path in the error
	echo '{"args": "not-an-array", "cwd": "/"}' >"$TEST_DIR/bad.json"
	run berth exec --process "$TEST_DIR/bad.json" c1
	assert_one_line_error "args"
}

@test "exec: --env adds and overrides, --cwd, --user with and without a group" {
	berth_bg run -d c1
	run berth exec --env NEW=1 -e FROM_CONFIG=overridden --cwd /tmp --user 1000:1001 c1 \
		sh -c 'echo "$NEW $FROM_CONFIG"; pwd; id -u; id -g'
	assert_success
	assert_equal "${lines[0]}" "1 overridden"
	assert_equal "${lines[1]}" /tmp
	assert_equal "${lines[2]}" 1000
	assert_equal "${lines[3]}" 1001
	run berth exec --user 65534 c1 id -u
	assert_success
	assert_output 65534
	run berth exec --cwd /does-not-exist c1 true
	assert_one_line_error "process.cwd"
	run berth exec --env NOEQUALS c1 true
	assert_one_line_error "NOEQUALS"
	run berth exec --user nobody:x c1 true
	assert_failure
}

@test "exec: --cap adds a capability, --no-new-privs sets no_new_privs" {
	update_config '.process.noNewPrivileges = false'
	berth_bg run -d c1
	run berth exec c1 cat /proc/self/status
	assert_equal "$(status_field "$output" NoNewPrivs)" 0
	assert_equal "$(status_field "$output" CapEff)" 0000000020000420
	run berth exec --cap CAP_NET_RAW --cap CAP_SYS_ADMIN --no-new-privs c1 cat /proc/self/status
	assert_success
	# CAP_NET_RAW (13) and CAP_SYS_ADMIN (21) on top of the config's
	assert_equal "$(status_field "$output" CapEff)" 0000000020202420
	assert_equal "$(status_field "$output" CapBnd)" 0000000020202420
	assert_equal "$(status_field "$output" CapInh)" 0000000000000000
	assert_equal "$(status_field "$output" NoNewPrivs)" 1
	run berth exec --cap CAP_NOPE c1 true
	assert_one_line_error 'unknown capability "CAP_NOPE"'
}

@test "exec: --detach returns at once, --pid-file names the process" {
	add_out_mount
	berth_bg run -d c1
	local start end pid
	start=$(date +%s%N)
	berth_bg exec --detach --pid-file "$TEST_DIR/exec.pid" c1 sh -c 'echo $$ >/out/inner; sleep 30'
	end=$(date +%s%N)
	[ $(((end - start) / 1000000)) -lt 5000 ]
	pid=$(cat "$TEST_DIR/exec.pid")
	[ "$pid" -gt 1 ]
	kill -0 "$pid"
	# the shell, or the sleep it execs last
	[[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" == @("sh -c"*|"sleep 30 ") ]] || fail "cmdline: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
	assert_equal "$(readlink "/proc/$pid/ns/pid")" "$(readlink "/proc/$(pid_of c1)/ns/pid")"
	grep -q "/berth-test/$CG_NAME\$" "/proc/$pid/cgroup"
	# the pid in the file is the host's pid of the process the container
	# knows by another
	wait_for_file "$TEST_DIR/out/inner"
	grep -q "^NSpid:[[:space:]]*$pid[[:space:]]*$(cat "$TEST_DIR/out/inner")\$" "/proc/$pid/status"
	# it is listed by ps and goes away with the container
	berth ps --format json c1 | jq -e --argjson p "$pid" 'index($p) != null' >/dev/null
	berth kill --all c1 KILL
	wait_for_status c1 stopped
}

@test "exec: --preserve-fds passes fds 3.., the others stay out" {
	berth_bg run -d c1
	echo three >"$TEST_DIR/f3"
	echo four >"$TEST_DIR/f4"
	run berth exec --preserve-fds 1 c1 sh -c 'cat <&3; test -e /proc/self/fd/4 && echo fd4-open; echo done' \
		3<"$TEST_DIR/f3" 4<"$TEST_DIR/f4"
	assert_success
	assert_equal "$(echo $output)" "three done"
}

@test "exec: -t with --console-socket gives the process a pty; input reaches it" {
	berth_bg run -d c1
	start_receiver -i $'typed\n'
	run berth exec -t --console-socket "$SOCK" c1 sh -c 'tty; test -t 0 && test -t 1 && echo tty-ok; read l; echo "got:$l"; exit 3'
	assert_failure 3
	wait_receiver
	[[ "$console" == *"/dev/pts/"* ]] || fail "console: $console"
	[[ "$console" == *tty-ok* ]] || fail "console: $console"
	[[ "$console" == *"got:typed"* ]] || fail "console: $console"

	# detached with a terminal: the pty goes to the socket, exec returns
	start_receiver
	berth_bg exec -t -d --console-socket "$SOCK" c1 sh -c 'echo detached-pty'
	wait_receiver
	[[ "$console" == *detached-pty* ]] || fail "console: $console"
	# a terminal without a socket cannot detach
	run berth exec -t -d c1 true
	assert_one_line_error "console-socket"
}

@test "exec: into a paused or stopped container is refused" {
	berth_bg run -d c1
	berth pause c1
	run berth exec c1 true
	assert_one_line_error "paused"
	berth resume c1
	run berth exec c1 true
	assert_success
	berth kill c1 KILL
	wait_for_status c1 stopped
	run berth exec c1 true
	assert_one_line_error "stopped"
	run berth exec nosuch true
	assert_one_line_error "nosuch"
}

@test "exec: --env replaces the config's variable instead of adding a second one" {
	berth_bg run -d c1
	run berth exec -e FROM_CONFIG=replaced -e NEW=1 -e NEW=2 c1 sh -c 'echo "$FROM_CONFIG $NEW"'
	assert_success
	assert_output "replaced 2"
	# the environment the process was given (a shell would hide duplicates)
	berth exec -e FROM_CONFIG=replaced -e NEW=1 -e NEW=2 c1 cat /proc/self/environ >"$TEST_DIR/environ"
	assert_equal "$(tr '\0' '\n' <"$TEST_DIR/environ" | grep '^FROM_CONFIG=')" FROM_CONFIG=replaced
	assert_equal "$(tr '\0' '\n' <"$TEST_DIR/environ" | grep '^NEW=')" NEW=2
	# PATH from --env is the one the command is looked up in
	mkdir -p "$BUNDLE/rootfs/opt/bin"
	printf '#!/bin/sh\necho found-in-opt\n' >"$BUNDLE/rootfs/opt/bin/only-in-opt"
	chmod +x "$BUNDLE/rootfs/opt/bin/only-in-opt"
	run berth exec -e PATH=/opt/bin:/bin c1 only-in-opt
	assert_success
	assert_output found-in-opt
	run berth exec -e =x c1 true
	assert_one_line_error "expected KEY=VALUE"
}

@test "exec: a non-tty process leads its own process group and session inside the container" {
	add_out_mount
	berth_bg run -d c1
	# fields 5 and 6 of stat: process group and session, in the
	# container's pid namespace (0 when they lie outside it)
	run berth exec c1 sh -c 'echo $$ $(cut -d" " -f5,6 /proc/$$/stat)'
	assert_success
	local pid pgrp sid
	read -r pid pgrp sid <<<"$output"
	[ "$pgrp" != 0 ] || fail "process group outside the container: $output"
	assert_equal "$pgrp" "$pid" "process group"
	assert_equal "$sid" "$pid" "session"
	# a foreground exec forwards the signals it gets to the process
	env BERTH_IT_TAG="$TAG" "$BERTH_RUNTIME" --root "$ROOT" exec c1 \
		sh -c 'trap "exit 7" TERM; touch /out/ready; while :; do sleep 0.1; done' </dev/null &
	local runtime=$!
	track_pid "$runtime"
	wait_for_file "$TEST_DIR/out/ready"
	kill -TERM "$runtime"
	local rc=0
	wait "$runtime" || rc=$?
	assert_equal "$rc" 7 "exit status of exec after SIGTERM"
}

@test "exec: -t -u UID gives the pty to UID" {
	berth_bg run -d c1
	start_receiver
	run berth exec -t -u 1000:1000 --console-socket "$SOCK" c1 sh -c 'stat -c "owner=%u" $(tty); echo reopened >$(tty) && echo reopen-ok'
	assert_success
	wait_receiver
	[[ "$console" == *"owner=1000"* ]] || fail "console: $console"
	[[ "$console" == *"reopen-ok"* ]] || fail "console: $console"
}

@test "exec: a non-root process can reopen its stdio pipes (/proc/self/fd/1, /dev/stdout, /dev/stdin)" {
	berth_bg run -d c1
	run berth exec -u 1000:1000 c1 sh -c 'echo one >/proc/self/fd/1 && echo two >/dev/stdout && stat -L -c "%u:%g" /dev/stdout'
	assert_success
	assert_equal "${lines[0]}" one
	assert_equal "${lines[1]}" two
	assert_equal "${lines[2]}" 1000:1000
	run sh -c "echo piped-in | env BERTH_IT_TAG=$TAG $BERTH_RUNTIME --root $ROOT exec -u 1000:1000 c1 cat /dev/stdin"
	assert_success
	assert_output piped-in
	# a file given as stdout is not the process's to own
	berth exec -u 1000:1000 c1 true >"$TEST_DIR/exec-out"
	assert_equal "$(stat -c %u "$TEST_DIR/exec-out")" 0
}

@test "exec: a process that cannot be started exits 255, as runc's exec" {
	berth_bg run -d c1
	run berth exec c1 no-such-command
	assert_failure 255
	assert_output_contains "executable file not found"
	run berth exec c1 /no/such/file
	assert_failure 255
	run berth exec --cwd /does-not-exist c1 true
	assert_failure 255
	run berth exec nosuch true
	assert_failure 255
	# the process's own status 255 and 1 are its own
	run berth exec c1 sh -c 'exit 1'
	assert_failure 1
	# a command line that does not parse is a usage error
	run berth exec c1
	assert_failure 1
	run berth exec --no-such-flag c1 true
	assert_failure 1
}

# cgroup_procs_dirs: where the container's cgroup lies in every hierarchy
# that has it.
container_cgroup_dirs() {
	local d
	for d in $(cgroup_dirs "$CG_NAME"); do
		[ -d "$d" ] && echo "$d"
	done
}

@test "exec: --cgroup SUB joins that sub-cgroup of the container's cgroup, or is refused" {
	berth_bg run -d c1
	local d dirs
	dirs=$(container_cgroup_dirs)
	[ -n "$dirs" ] || skip "no cgroup"
	for d in $dirs; do
		mkdir "$d/sub"
		# v1 cpuset: a new cgroup has no cpus or mems until given some
		if [ -f "$d/sub/cpuset.cpus" ]; then
			cat "$d/cpuset.cpus" >"$d/sub/cpuset.cpus"
			cat "$d/cpuset.mems" >"$d/sub/cpuset.mems"
		fi
	done
	run berth exec --cgroup sub c1 sh -c 'cat /proc/self/cgroup'
	assert_success
	local line
	for line in "${lines[@]}"; do
		[[ "$line" == *:/sub ]] || fail "not in the sub-cgroup: $line (of $output)"
	done
	# it was joined, not only named
	berth exec -d --pid-file "$TEST_DIR/sub.pid" --cgroup sub c1 sleep 30
	for d in $dirs; do
		grep -qx "$(cat "$TEST_DIR/sub.pid")" "$d/sub/cgroup.procs" || fail "not in $d/sub"
	done
	kill -9 "$(cat "$TEST_DIR/sub.pid")"

	# a missing sub-cgroup, a path that leaves the cgroup: refused, clearly
	run berth exec --cgroup nosuch c1 true
	assert_one_line_error 'sub-cgroup'
	assert_output_contains nosuch
	run berth exec --cgroup ../.. c1 true
	assert_one_line_error 'relative path below the container'
	run berth exec --cgroup /abs c1 true
	assert_one_line_error 'relative path below the container'

	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		# v2: one hierarchy, no controller prefix
		run berth exec --cgroup memory:sub c1 true
		assert_one_line_error 'cgroup v2 has one hierarchy'
	else
		# v1: CONTROLLER:PATH moves that hierarchy only
		run berth exec --cgroup pids:sub c1 cat /proc/self/cgroup
		assert_success
		for line in "${lines[@]}"; do
			case "$line" in
			*:pids:*) [[ "$line" == *:/sub ]] || fail "pids not in the sub-cgroup: $line" ;;
			*) [[ "$line" == *:/ ]] || fail "moved without being named: $line" ;;
			esac
		done
		run berth exec --cgroup nosuchctl:sub c1 true
		assert_one_line_error 'no nosuchctl cgroup'
		run berth exec --cgroup pids:sub --cgroup pids:sub c1 true
		assert_one_line_error 'named twice'
		run berth exec --cgroup sub --cgroup pids:sub c1 true
		assert_one_line_error 'CONTROLLER:PATH'
	fi
	berth kill c1 KILL
	wait_for_status c1 stopped
	berth delete c1
	for d in $dirs; do
		[ ! -e "$d" ] || fail "left behind: $d"
	done
}
