#!/usr/bin/env bats
# A killed berth command leaves nothing stuck (issue 19): `run`, `create`,
# `start` and `rm` killed at random instants with SIGKILL or SIGTERM; after
# each kill the name is reusable, `rm -f` works, and once a listing has run
# no record, name, mount, runtime state, cgroup or process is left. Also a
# killed monitor (stop, start, ps) and the --rm container under stop, rm -f
# and wait.
#
# The containers use --network none: what a kill leaves of the network
# (veth, leases, ports) is engine-network's part.

load engine

ROUNDS=${BERTH_KILL_ROUNDS:-40}

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bkill
	# `read -t` on a fifo nobody writes: a sleep of sub-millisecond
	# resolution without a fork
	mkfifo "$TEST_DIR/never"
	exec {NEVER}<>"$TEST_DIR/never"
}

teardown() {
	exec {NEVER}>&-
	engine_teardown
}

# berth_bg ARGS...: berth in the background as $! itself (no subshell in
# between), so the kill reaches berth and nothing else.
berth_bg() {
	nsenter --net="$HOSTNS" env BERTH_IT_TAG="$TAG" "$BERTH_BIN" --root "$STORE" --runroot "$RUNROOT" "$@" \
		</dev/null >/dev/null 2>&1 &
}

# kill_after PID [MAX_MS]: waits a random 0-MAX_MS ms (default 50; half of
# the rounds 0-8 ms, where `run` makes its record), then SIGKILL or
# SIGTERM, and reaps PID.
kill_after() {
	local pid=$1 max_us=$((${2:-50} * 1000)) us
	if ((RANDOM % 2)); then us=$((RANDOM % 8000)); else us=$(((RANDOM * 32768 + RANDOM) % max_us)); fi
	read -r -t "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))" -u "$NEVER" || true
	if ((RANDOM % 2)); then kill -KILL "$pid" 2>/dev/null || true; else kill -TERM "$pid" 2>/dev/null || true; fi
	wait "$pid" 2>/dev/null || true
}

# rm_gone NAME: `rm -f NAME` removes whatever is there (a container, or a
# half-made one), or says there is none.
rm_gone() {
	run b rm -f "$1"
	[ "$status" -eq 0 ] || [[ "$output" == *"no such container"* ]] ||
		fail "rm -f $1: status $status: $output"
}

# assert_clean WHAT: after a listing, nothing of any container is left.
assert_clean() {
	local d left
	b ps -aq >/dev/null
	left=$(ls -A "$STORE/containers" | grep -v '^names$' || true)
	[ -z "$left" ] || fail "$1: records left: $left: $(cd "$STORE/containers" && find . -maxdepth 3)"
	[ -z "$(ls -A "$STORE/containers/names")" ] || fail "$1: names left: $(ls -A "$STORE/containers/names")"
	! grep -F "$STORE/containers" /proc/self/mountinfo >&2 || fail "$1: mounts left (above)"
	left=$(find "$RUNROOT/runtime" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null || true)
	[ -z "$left" ] || fail "$1: runtime state left: $left"
	for d in $(cgroup_dirs "$TAG"); do
		left=$(find "$d" -mindepth 1 -type d 2>/dev/null || true)
		[ -z "$left" ] || fail "$1: cgroups left: $left"
	done
	left=$(tagged_pids "$TAG")
	[ -z "$left" ] || fail "$1: processes left: $left"
}

# reuse NAME: the name can be taken again, and given back.
reuse() {
	run brun -d --network none --name "$1" bb true
	assert_success
	run b rm -f "$1"
	assert_success
}

@test "kill anywhere: run -d and create killed at random instants leave nothing stuck" {
	local i cmd
	for ((i = 0; i < ROUNDS; i++)); do
		cmd=run
		((i % 4 == 3)) && cmd=create
		if [ $cmd = run ]; then
			berth_bg run --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG -d --network none --name k bb sleep 100
		else
			berth_bg create --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG --network none --name k bb sleep 100
		fi
		kill_after $!
		rm_gone k
		assert_clean "round $i ($cmd)"
		reuse k
	done
}

@test "kill anywhere: a half-made container is hidden, and its name comes back with any command" {
	local i found=0
	# kill until one is caught half-made (named, record unfinished)
	for ((i = 0; i < 200 && found == 0; i++)); do
		berth_bg run --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG -d --network none --name half bb sleep 100
		kill_after $!
		if [ -L "$STORE/containers/names/half" ] &&
			jq -e .Creating "$STORE/containers/$(readlink "$STORE/containers/names/half")/config.json" \
				>/dev/null 2>&1; then
			found=1
			break
		fi
		rm_gone half
	done
	[ "$found" = 1 ] || skip "no kill landed while the record was unfinished"
	# ps does not show it, and removes it (with its mount)
	run b ps -aq
	assert_success
	[ -z "$output" ]
	[ ! -e "$STORE/containers/names/half" ]
	assert_clean "after ps"
	reuse half
}

@test "kill anywhere: start killed at random instants: start again and rm -f work" {
	local i
	for ((i = 0; i < ROUNDS / 2; i++)); do
		run b create --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG --network none --name s bb sleep 100
		assert_success
		berth_bg start s
		kill_after $!
		run b start s
		assert_success
		[ "$(state_of s State.Status)" = running ] || fail "round $i: $(b ps -a)"
		rm_gone s
		assert_clean "round $i"
	done
}

@test "kill anywhere: rm killed at random instants: rm -f works and nothing is left" {
	local i
	for ((i = 0; i < ROUNDS / 2; i++)); do
		# files in its upper layer, so that removing them takes a while
		run brun -d --network none --name r bb sh -c 'mkdir /tmp/f && cd /tmp/f && seq 2000 | xargs touch && touch /tmp/done && exec sleep 100'
		assert_success
		for _ in $(seq 100); do
			[ -e "$STORE/containers/$output/bundle/upper/tmp/done" ] && break
			sleep 0.05
		done
		berth_bg rm -f r
		kill_after $! 150
		rm_gone r
		assert_clean "round $i"
		reuse r
	done
}

@test "kill anywhere: pod create killed at random instants: pod rm -f works and nothing is left" {
	local i
	# the pause image first (made once, by the first pod)
	b pod create --name kp --network none --cgroup-parent "berth-test/$TAG" >/dev/null
	b pod rm -f kp >/dev/null
	for ((i = 0; i < ROUNDS / 4; i++)); do
		berth_bg pod create --name "kp$i" --network none --cgroup-parent "berth-test/$TAG"
		kill_after $! 150
		run b pod rm -f "kp$i"
		[ "$status" -eq 0 ] || [[ "$output" == *"no such pod"* ]] || fail "pod rm -f kp$i: status $status: $output"
		assert_clean "pod create round $i"
	done
}

@test "a killed monitor: ps invents no exit code, stop then start works" {
	run brun -d --network none --name orphan bb sleep 100
	assert_success
	mon=$(state_of orphan State.MonitorPid)
	kill -9 "$mon"
	for _ in $(seq 50); do [ -d "/proc/$mon" ] || break; sleep 0.02; done
	run b ps
	assert_output_contains "(no monitor)"
	run b stop -t 0 orphan
	assert_success
	run b ps -a
	assert_output_contains "Exited (unknown)"
	[ "$(state_of orphan State.ExitCode)" = -1 ]
	run b start orphan
	assert_success
	[ "$(state_of orphan State.Status)" = running ]
	run b stop -t 0 orphan
	assert_success
	run b ps -a
	assert_output_contains "Exited (137)"
	[[ "$output" =~ Exited\ \(137\)\ (Less\ than\ a\ second|1\ second|[0-9]+\ seconds)\ ago ]]
	run b rm orphan
	assert_success
	assert_clean "after rm"
}

@test "a monitor killed before the container was recorded running: start works" {
	local id
	run b create --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG --network none --name early bb sleep 100
	assert_success
	id=$(state_of early Id)
	# what a monitor killed between the runtime's create and its first
	# record leaves: the runtime's container, the record still "created"
	nsenter --net="$HOSTNS" env BERTH_IT_TAG="$TAG" "$BERTH_RUNTIME" --root "$RUNROOT/runtime" \
		create --bundle "$STORE/containers/$id/bundle" "$id" </dev/null >/dev/null 2>&1
	[ -d "$RUNROOT/runtime/$id" ]
	run b start early
	assert_success
	[ "$(state_of early State.Status)" = running ]
	run b rm -f early
	assert_success
	assert_clean "after rm"
}

@test "--rm: stop, rm -f and wait succeed, wait with the real exit code" {
	run brun -d --rm --network none --name w bb sh -c 'sleep 0.5; exit 7'
	assert_success
	run b wait w
	assert_success
	assert_output 7
	run brun -d --rm --network none --name st bb sleep 100
	assert_success
	run b stop -t 1 st
	assert_success
	assert_output st
	run brun -d --rm --network none --name f bb sleep 100
	assert_success
	run b rm -f f
	assert_success
	run brun -d --rm --network none --name w2 bb sleep 100
	assert_success
	(
		sleep 0.3
		b kill w2 >/dev/null
	) &
	run b wait w2
	assert_success
	assert_output 137
	wait
	# the monitors finish removing their containers just after the exit
	for _ in $(seq 100); do
		[ -z "$(ls -A "$STORE/containers" | grep -v '^names$')" ] && break
		sleep 0.05
	done
	assert_clean "after --rm"
}
