#!/usr/bin/env bats
# berth-init, the init of `berth run --init`: run directly (it makes itself
# a subreaper outside a PID namespace) and as PID 1 of a berth-runtime
# container. Exit codes pass through (128+N for a signal), signals reach the
# command, and orphaned zombies are reaped.

load helpers
bats_require_minimum_version 1.5.0

BERTH_INIT="${BERTH_INIT:-$BERTH_BUILD_DIR/src/init/berth-init}"

setup() {
	TEST_DIR="$BATS_TEST_TMPDIR"
	# every process a test starts carries the tag, so teardown finds strays
	INIT_TAG="binit$$n${BATS_SUITE_TEST_NUMBER}"
	[ -x "$BERTH_INIT" ] || fail "berth-init not built at $BERTH_INIT (ninja -C build, or set BERTH_INIT)"
}

teardown() {
	local pid
	for pid in $(tagged_pids "$INIT_TAG"); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	[ -z "${TAG:-}" ] || berth_teardown
}

# init ARGS...: berth-init with the test's tag in its environment. In the
# background, call it as `init_bg ARGS... &`: exec makes $! berth-init's pid.
init() {
	env BERTH_IT_TAG="$INIT_TAG" "$BERTH_INIT" "$@"
}

init_bg() {
	exec env BERTH_IT_TAG="$INIT_TAG" "$BERTH_INIT" "$@"
}

# zombie_children PID: the pids of PID's children in Z state.
zombie_children() {
	local f line rest
	for f in /proc/[0-9]*/stat; do
		read -r line <"$f" 2>/dev/null || continue
		rest=${line##*) }
		# "STATE PPID ..."
		[ "${rest%% *}" = Z ] || continue
		rest=${rest#* }
		[ "${rest%% *}" = "$1" ] && echo "${f//[!0-9]/}"
	done
	return 0
}

@test "init: the command's exit code passes through" {
	run init -- sh -c 'exit 7'
	assert_failure 7
	run init sh -c 'exit 0'
	assert_success
	run init -- true
	assert_success
}

@test "init: exits with the command, 0, not waiting for its background children" {
	local start=$SECONDS rc=0
	# not through `run`: the sleeps would hold its pipe open
	init -- sh -c 'sleep 100 & sleep 100 & exec sleep 0.2' >/dev/null 2>&1 3>&- || rc=$?
	assert_equal "$rc" 0
	((SECONDS - start < 10)) || fail "berth-init waited for the background sleeps"
}

@test "init: a command killed by a signal gives 128+N" {
	run init -- sh -c 'kill -KILL $$'
	assert_failure 137
	run init -- sh -c 'kill -SEGV $$'
	assert_failure 139
}

@test "init: a command that cannot be run is 127, no arguments is a usage error" {
	run -127 init -- /nonexistent/command
	assert_output_contains "berth-init: exec \"/nonexistent/command\""
	run init --
	assert_failure 125
	assert_output_contains usage
}

@test "init: SIGTERM, SIGHUP and SIGUSR1 sent to berth-init reach the command" {
	local sig code pid
	for sig in TERM:3 HUP:4 USR1:5; do
		code=${sig#*:}
		sig=${sig%:*}
		rm -f "$TEST_DIR/ready"
		init_bg -- sh -c "trap 'exit $code' $sig; touch '$TEST_DIR/ready'; while :; do sleep 0.05; done" &
		pid=$!
		wait_for_file "$TEST_DIR/ready"
		kill -"$sig" "$pid"
		rc=0
		wait "$pid" || rc=$?
		assert_equal "$rc" "$code" "exit code after SIG$sig"
	done
}

@test "init: orphaned grandchildren are reaped while the command runs" {
	local pid zombies
	# the subshells exit at once; their sleeps are orphans that come to
	# berth-init (a subreaper) and exit while the command still runs
	init_bg -- sh -c '(sleep 0.1 &); (sleep 0.1 &); (exit 0 &); sleep 1; exit 6' &
	pid=$!
	sleep 0.5
	zombies=$(zombie_children "$pid")
	# the command itself (sh) is still running: nothing of berth-init is a zombie
	[ -z "$zombies" ] || fail "zombie children of berth-init: $zombies"
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 6
}

@test "init: a zombie is reaped even while berth-init has nothing else to do" {
	local pid zombies i
	# the orphan exits long after its parent (a subshell) is gone, while the
	# command sleeps: only its SIGCHLD wakes berth-init
	init_bg -- sh -c '(sh -c "sleep 0.3; exit 1" &); sleep 1.2' &
	pid=$!
	for i in 1 2 3 4 5 6 7 8; do
		sleep 0.1
		zombies=$(zombie_children "$pid")
		[ -z "$zombies" ] || fail "zombie children of berth-init: $zombies"
	done
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
}

@test "init --pause: runs nothing, stays until SIGTERM (0), ignores other signals; --pause with a command is a command" {
	local pid rc
	init_bg --pause &
	pid=$!
	sleep 0.2
	kill -USR1 "$pid"
	kill -CHLD "$pid"
	sleep 0.2
	kill -0 "$pid" || fail "berth-init --pause ended on SIGUSR1 or SIGCHLD"
	# it has no child: nothing runs under it
	[ -z "$(cat /proc/"$pid"/task/*/children)" ] || fail "berth-init --pause started a child"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	# `-- --pause` is a command named --pause, not the mode
	run -127 init -- --pause
}

@test "init: PID 1 of a berth-runtime container reaps orphans and passes the exit code" {
	[ -x "$BERTH_RUNTIME" ] || skip "berth-runtime not built at $BERTH_RUNTIME"
	[ "$(id -u)" = 0 ] || skip "needs root"
	berth_setup
	cp "$BERTH_INIT" "$BUNDLE/rootfs/berth-init"
	# orphans that exit under PID 1, then a scan of /proc for zombies
	set_args /berth-init -- sh -c '
		[ $$ = 2 ] || exit 20
		[ "$(cat /proc/1/comm)" = berth-init ] || exit 21
		(sleep 0.1 &); (sleep 0.1 &)
		sleep 0.5
		for f in /proc/[0-9]*/stat; do
			read -r l <$f
			case "$l" in *") Z "*) echo "zombie: $l"; exit 22;; esac
		done
		exit 9'
	run berth run c1
	assert_failure 9
	# a signal to PID 1 from the host reaches the command
	update_config '.root.readonly = false'
	set_args /berth-init -- sh -c 'trap "touch /tmp/got-term; exit 3" TERM; touch /tmp/ready; while :; do sleep 0.05; done'
	berth_bg run -d c2
	for ((i = 0; i < 100; i++)); do
		[ -e "$BUNDLE/rootfs/tmp/ready" ] && break
		sleep 0.05
	done
	[ -e "$BUNDLE/rootfs/tmp/ready" ] || fail "the container did not start"
	berth kill c2 TERM
	wait_for_status c2 stopped
	[ -e "$BUNDLE/rootfs/tmp/got-term" ] || fail "SIGTERM did not reach the command"
	berth delete c2
}
