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
