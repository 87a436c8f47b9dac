#!/usr/bin/env bats
# The container process: args, env, cwd, user, umask, rlimits, oomScoreAdj,
# --preserve-fds and LISTEN_FDS, and the terminal over --console-socket.

load helpers

# have_cap N: the test process has capability number N in its effective set.
have_cap() {
	local eff
	eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
	(((0x$eff >> $1) & 1))
}

@test "process: args, env and cwd" {
	update_config '.process.env = ["PATH=/bin", "FOO=bar baz", "EMPTY="] | .process.cwd = "/home/user"'
	set_args sh -c 'echo "args:$0:$1"; echo "FOO=$FOO"; env | sort; pwd' first second
	HOME=/runtime-home run berth run c1
	assert_success
	assert_equal "${lines[0]}" "args:first:second"
	assert_equal "${lines[1]}" "FOO=bar baz"
	assert_output_contains $'\nEMPTY=\n'
	assert_output_contains $'\nPATH=/bin\n'
	assert_equal "${lines[-1]}" /home/user
	# nothing of the runtime's environment leaks in
	refute_output_contains BERTH_IT_TAG
	refute_output_contains /runtime-home
	# HOME comes from the container's /etc/passwd, as with runc
	assert_output_contains $'\nHOME=/root\n'
}

@test "process.cwd: a missing cwd is created inside the rootfs, owned by the container's root" {
	local name="berth-cwd-$TAG"
	# through a symlink to an absolute path: resolved inside the rootfs
	ln -s "/$name" "$BUNDLE/rootfs/cwdlink"
	update_config '.process.cwd = "/cwdlink/a/b" | .process.user = {uid: 1000, gid: 1000} | .root.readonly = true'
	set_args sh -c 'pwd; stat -c "%u:%g %a" .; touch x 2>/dev/null || echo read-only'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" "/$name/a/b"
	assert_equal "${lines[1]}" "0:0 755"
	assert_equal "${lines[2]}" read-only
	[ -d "$BUNDLE/rootfs/$name/a/b" ]
	[ ! -e "/$name" ] || fail "/$name was created on the host"
}

@test "process: args[0] is looked up in the container's PATH" {
	update_config '.process.env = ["PATH=/nonexistent:/usr/bin"]'
	set_args busybox echo via-path
	run berth run c1
	assert_success
	assert_output via-path
}

@test "process: user uid, gid, additionalGids and umask" {
	update_config '.process.user = {"uid": 1000, "gid": 1001, "additionalGids": [5, 100, 2000], "umask": 63}'
	set_args sh -c 'id -u; id -g; id -G; umask; touch /tmp/f; stat -c "%a %u %g" /tmp/f; sleep 100'
	update_config '.root.readonly = false'
	berth_bg create c1
	berth start c1
	pid=$(pid_of c1)
	for i in $(seq 100); do
		[ "$(wc -l <"$TEST_DIR/stdout")" -ge 5 ] && break
		sleep 0.05
	done
	mapfile -t out <"$TEST_DIR/stdout"
	assert_equal "${out[0]}" 1000
	assert_equal "${out[1]}" 1001
	assert_equal "${out[2]}" "1001 5 100 2000"
	assert_equal "${out[3]}" 0077
	assert_equal "${out[4]}" "600 1000 1001"
	# and on the host
	assert_equal "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")" "1000 1000 1000 1000"
	assert_equal "$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")" "1001 1001 1001 1001"
	assert_equal "$(awk '/^Groups:/ {$1 = ""; print}' "/proc/$pid/status" | xargs)" "5 100 2000"
}

@test "process: the default umask is 0022 and a uid without a passwd entry works" {
	update_config '.process.user = {"uid": 4242, "gid": 4242}'
	set_args sh -c 'umask; id -u; id -G'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" 0022
	assert_equal "${lines[1]}" 4242
	# no supplementary groups of the runtime's are kept
	assert_equal "${lines[2]}" 4242
}

@test "rlimits: lower limits are applied" {
	update_config '.process.rlimits = [
		{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
		{"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
		{"type": "RLIMIT_NPROC", "soft": 1000, "hard": 2000}]'
	set_args sh -c 'ulimit -Sn; ulimit -Hn; ulimit -Sc; ulimit -Hc; ulimit -Su; ulimit -Hu'
	run berth run c1
	assert_success
	assert_equal "$(echo $output)" "100 200 0 0 1000 2000"
}

@test "rlimits: a hard limit above the current one fails with a clear error naming the rlimit" {
	have_cap 24 && skip "the test process has CAP_SYS_RESOURCE: raising is allowed here"
	hard=$(ulimit -Hn)
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": ($h + 1000)}]' \
		--argjson h "$hard"
	run berth_bg create c1
	assert_one_line_error "process.rlimits[0]: raise RLIMIT_NOFILE hard limit from $hard to $((hard + 1000))"
	assert_output_contains CAP_SYS_RESOURCE
	assert_nothing_left c1

	run berth run c1
	assert_one_line_error "RLIMIT_NOFILE"
	assert_nothing_left c1
}

@test "rlimits: the current hard limit itself can be kept" {
	hard=$(ulimit -Hn)
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": $h, "hard": $h}]' --argjson h "$hard"
	set_args sh -c 'ulimit -n'
	run berth run c1
	assert_success
	assert_output "$hard"
}

@test "oomScoreAdj: raising the score works" {
	current=$(cat /proc/self/oom_score_adj)
	want=$((current < 900 ? current + 100 : 1000))
	update_config '.process.oomScoreAdj = $v' --argjson v "$want"
	set_args cat /proc/self/oom_score_adj
	run berth run c1
	assert_success
	assert_output "$want"
	# the runtime's own score is unchanged
	assert_equal "$(cat /proc/self/oom_score_adj)" "$current"
}

@test "oomScoreAdj: lowering it without CAP_SYS_RESOURCE fails cleanly" {
	have_cap 24 && skip "the test process has CAP_SYS_RESOURCE: lowering is allowed here"
	current=$(cat /proc/self/oom_score_adj)
	[ "$current" -gt -1000 ] || skip "oom_score_adj is already -1000"
	update_config '.process.oomScoreAdj = $v' --argjson v "$((current - 100))"
	run berth_bg create c1
	assert_one_line_error "process.oomScoreAdj"
	assert_nothing_left c1
}

@test "--preserve-fds: fds 3.. are passed, others are not" {
	echo three >"$TEST_DIR/f3"
	echo four >"$TEST_DIR/f4"
	echo five >"$TEST_DIR/f5"
	set_args sh -c 'cat <&3; cat <&4; if test -e /proc/self/fd/5; then echo fd5-open; else echo fd5-closed; fi'
	run berth run --preserve-fds 2 c1 3<"$TEST_DIR/f3" 4<"$TEST_DIR/f4" 5<"$TEST_DIR/f5"
	assert_success
	assert_equal "$(echo $output)" "three four fd5-closed"

	set_args sh -c 'test -e /proc/self/fd/3 && echo fd3-open; test -e /proc/self/fd/5 && echo fd5-open; echo done'
	run berth run c3 3<"$TEST_DIR/f3" 5<"$TEST_DIR/f5"
	assert_success
	assert_output done
}

@test "--preserve-fds with create/start: the fds survive until start" {
	echo three >"$TEST_DIR/f3"
	set_args sh -c 'cat <&3'
	berth_bg create --preserve-fds 1 c1 3<"$TEST_DIR/f3"
	berth start c1
	wait_for_status c1 stopped
	assert_equal "$(cat "$TEST_DIR/stdout")" three
}

@test "LISTEN_FDS: socket activation fds are passed with LISTEN_FDS and LISTEN_PID=1" {
	echo three >"$TEST_DIR/f3"
	echo four >"$TEST_DIR/f4"
	set_args sh -c 'echo "LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID"; cat <&3; cat <&4'
	LISTEN_FDS=2 run berth run c1 3<"$TEST_DIR/f3" 4<"$TEST_DIR/f4"
	assert_success
	assert_equal "${lines[0]}" "LISTEN_FDS=2 LISTEN_PID=1"
	assert_equal "${lines[1]}" three
	assert_equal "${lines[2]}" four
}

@test "LISTEN_FDS with --preserve-fds: the preserved fds follow the socket activation ones" {
	echo three >"$TEST_DIR/f3"
	echo four >"$TEST_DIR/f4"
	set_args sh -c 'echo "LISTEN_FDS=$LISTEN_FDS"; cat <&3; cat <&4'
	LISTEN_FDS=1 run berth run --preserve-fds 1 c1 3<"$TEST_DIR/f3" 4<"$TEST_DIR/f4"
	assert_success
	assert_equal "$(echo $output)" "LISTEN_FDS=1 three four"
}

@test "LISTEN_FDS: honoured when LISTEN_PID is the runtime's pid, ignored when it names another process" {
	echo three >"$TEST_DIR/f3"
	set_args sh -c 'echo "LISTEN_FDS=$LISTEN_FDS"; test -e /proc/self/fd/3 && echo fd3-open; true'
	# inherited from an ancestor that was socket-activated: not ours
	LISTEN_FDS=1 LISTEN_PID=1 run berth run c1 3<"$TEST_DIR/f3"
	assert_success
	assert_equal "$(echo $output)" "LISTEN_FDS="
	run bash -c 'export LISTEN_FDS=1 LISTEN_PID=$$; exec "$0" --root "$1" run c2 3<"$2"' \
		"$BERTH_RUNTIME" "$ROOT" "$TEST_DIR/f3"
	assert_success
	assert_equal "$(echo $output)" "LISTEN_FDS=1 fd3-open"
}

# ---------------------------------------------------------------------------
# terminal

# start_receiver [ARGS...]: console-receiver on $TEST_DIR/console.sock,
# its stdout in $TEST_DIR/console.out.
start_receiver() {
	[ -x "$CONSOLE_RECEIVER" ] || fail "console-receiver not built at $CONSOLE_RECEIVER"
	SOCK="$TEST_DIR/console.sock"
	"$CONSOLE_RECEIVER" "$@" "$SOCK" >"$TEST_DIR/console.out" 2>"$TEST_DIR/console.err" &
	RECEIVER_PID=$!
	track_pid "$RECEIVER_PID"
	wait_for_file "$SOCK"
}

# wait_receiver: waits up to 10 s for the receiver to see EOF; console output
# without the pty's carriage returns in $console.
wait_receiver() {
	local i
	for ((i = 0; i < 200; i++)); do
		kill -0 "$RECEIVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	wait "$RECEIVER_PID" || fail "console-receiver failed: $(cat "$TEST_DIR/console.err")"
	console=$(tr -d '\r' <"$TEST_DIR/console.out")
}

@test "terminal: the pty master arrives on --console-socket; stdio and /dev/console are the pty" {
	update_config '.process.terminal = true'
	set_args sh -c 'tty; test -t 0 && echo is-a-tty; test -t 1 && test -t 2 && echo all-ttys
		echo "console $(stat -c %d:%i /dev/console) stdin $(stat -L -c %d:%i /proc/self/fd/0)"
		stat -c "%t,%T" /dev/console; grep " /dev/console " /proc/self/mountinfo | wc -l'
	start_receiver -n "$TEST_DIR/pty-name"
	berth_bg create --console-socket "$SOCK" c1
	berth start c1
	wait_for_status c1 stopped
	wait_receiver
	mapfile -t out <<<"$console"
	assert_equal "${out[0]}" "$(cat "$TEST_DIR/pty-name")" "tty names the pty the receiver got"
	[[ "${out[0]}" == /dev/pts/* ]]
	assert_equal "${out[1]}" is-a-tty
	assert_equal "${out[2]}" all-ttys
	read -r _ console_id _ stdin_id <<<"${out[3]}"
	assert_equal "$console_id" "$stdin_id" "/dev/console is the pty"
	# a pty peer: major 136 (0x88)
	[[ "${out[4]}" == 88,* ]] || fail "/dev/console is not a pty: ${out[4]}"
	assert_equal "${out[5]}" 1 "/dev/console is a bind mount"
	# nothing of the container's output went to the runtime's stdio
	[ ! -s "$TEST_DIR/stdout" ]
}

@test "terminal: input written into the pty reaches the process" {
	update_config '.process.terminal = true'
	set_args sh -c 'read line; echo "got:$line"'
	start_receiver -i $'hello pty\n'
	berth_bg create --console-socket "$SOCK" c1
	berth start c1
	wait_for_status c1 stopped
	wait_receiver
	[[ "$console" == *"got:hello pty"* ]] || fail "console output: $console"
}

@test "terminal: consoleSize sets the window size" {
	update_config '.process.terminal = true | .process.consoleSize = {"height": 42, "width": 113}'
	set_args stty size
	start_receiver
	berth_bg run -d --console-socket "$SOCK" c1
	wait_receiver
	assert_equal "$console" "42 113"
}

@test "terminal: run in the foreground with --console-socket returns the exit code" {
	update_config '.process.terminal = true'
	set_args sh -c 'echo on-the-pty; exit 5'
	start_receiver
	run berth run --console-socket "$SOCK" c1
	assert_failure 5
	assert_output ""
	wait_receiver
	assert_equal "$console" on-the-pty
	assert_nothing_left c1
}

@test "terminal: run in the foreground without a socket proxies the pty" {
	update_config '.process.terminal = true'
	set_args sh -c 'test -t 0 && echo is-a-tty; exit 3'
	run berth run c1 </dev/null
	assert_failure 3
	[[ "$(tr -d '\r' <<<"$output")" == is-a-tty ]] || fail "output: $output"
}

@test "terminal: false gives the process the runtime's stdio, no pty" {
	set_args sh -c 'test -t 0 || echo not-a-tty; test -e /dev/console || echo no-console'
	run berth run c1
	assert_success
	assert_equal "$(echo $output)" "not-a-tty no-console"
}

@test "process: a non-root user can reopen its stdio pipes (/proc/self/fd/1, /dev/stdout)" {
	update_config '.process.user = {"uid": 1000, "gid": 1001}'
	set_args sh -c 'echo one >/proc/self/fd/1 && echo two >/dev/stdout && echo three >/dev/stderr && stat -L -c "%u:%g" /dev/stdout'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" one
	assert_equal "${lines[1]}" two
	assert_equal "${lines[2]}" three
	assert_equal "${lines[3]}" 1000:1001
	# with a user namespace: the pipe goes to the mapped host ids
	chmod o+x "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$TEST_DIR"
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" one
	assert_equal "${lines[1]}" two
	assert_equal "${lines[3]}" 1000:1001
	# a file given as stdout is left to its owner
	set_args true
	berth run c1 >"$TEST_DIR/run-out"
	assert_equal "$(stat -c %u "$TEST_DIR/run-out")" 0
}

@test "terminal: the pty is given to process.user" {
	update_config '.process.terminal = true | .process.user = {"uid": 1000, "gid": 1000}'
	set_args sh -c 'stat -c "owner=%u" $(tty); echo reopened >$(tty) && echo reopen-ok'
	run berth run c1 </dev/null
	assert_success
	assert_output_contains "owner=1000"
	assert_output_contains "reopen-ok"
}

@test "process: the container runs on the runtime's CPUs, not on those its init was set up on" {
	[ "$(nproc --all)" -ge 2 ] || skip "needs two CPUs"
	set_args sleep 100
	# the init may be set up on the runtime's other CPUs (cpu_spread);
	# it takes the runtime's CPUs back before it joins its cgroups
	berth_bg create c1
	assert_equal "$(grep Cpus_allowed_list "/proc/$(pid_of c1)/status")" \
		"$(grep Cpus_allowed_list /proc/self/status)"
	berth start c1
	assert_equal "$(grep Cpus_allowed_list "/proc/$(pid_of c1)/status")" \
		"$(grep Cpus_allowed_list /proc/self/status)"
}
