#!/usr/bin/env bats
# berth top and berth stats: the processes and the cgroup numbers (CPU,
# memory, block I/O, pids) of running containers.
#
# As in engine-containers.bats: every test has its own --root/--runroot
# under $BATS_TEST_TMPDIR and puts its containers' cgroups beneath its own
# cgroup (berth-test/TAG/<id>); the monitor and the containers carry
# BERTH_IT_TAG=TAG so teardown finds any that survive.

load engine

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bste
}

teardown() {
	engine_teardown
}

# wait_pids NAME N: until the container's cgroup holds N processes (5 s).
wait_pids() {
	local i n
	for ((i = 0; i < 100; i++)); do
		n=$(b stats --no-stream --format json "$1" | jq -r .PIDsCurrent)
		[ "$n" = "$2" ] && return 0
		sleep 0.05
	done
	fail "$1: $n processes, not $2"
}

@test "engine: top shows the container's processes, with ps options" {
	run brun -d --name topped bb sh -c 'sleep 31 & sleep 32 & wait'
	assert_success
	wait_pids topped 3
	run b top topped
	assert_success
	[[ "${lines[0]}" =~ PID ]]
	assert_output_contains "sleep 31"
	assert_output_contains "sleep 32"
	[ "${#lines[@]}" -eq 4 ] # header, sh, two sleeps: nothing of the host's
	run b top topped -o pid,args
	assert_success
	[[ "${lines[0]}" =~ ^\ *PID\ +COMMAND ]]
	assert_output_contains "sleep 32"
	# the pids are the host's view of the container's processes
	pid=$(b inspect topped | jq -r '.[0].State.Pid')
	assert_output_contains "$pid sh -c"
}

@test "engine: stats --no-stream shows the memory limit and the pids" {
	run brun -d --name limited --memory 64m --pids-limit 50 bb sh -c 'sleep 30 & sleep 30 & wait'
	assert_success
	wait_pids limited 3
	run b stats --no-stream limited
	assert_success
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" =~ ^CONTAINER\ ID\ +NAME\ +CPU\ %\ +MEM\ USAGE\ /\ LIMIT\ +MEM\ %\ +BLOCK\ I/O\ +PIDS$ ]]
	[[ "${lines[1]}" =~ ^[0-9a-f]{12}\ +limited\ +[0-9.]+%\ +[0-9.]+[KMG]?i?B\ /\ 64MiB\ +[0-9.]+%\ +.*\ 3$ ]]
	# no names: every running container
	run b stats --no-stream
	assert_success
	assert_output_contains limited
}

@test "engine: stats --format json parses; CPU of a busy container" {
	run brun -d --name busy --memory 128m bb sh -c 'while :; do :; done'
	assert_success
	run brun -d --name idle bb sleep 30
	assert_success
	sleep 0.5
	run b stats --no-stream --format json busy idle
	assert_success
	[ "${#lines[@]}" -eq 2 ]
	echo "$output" | jq -e . >/dev/null
	[ "$(echo "${lines[0]}" | jq -r .Name)" = busy ]
	[ "$(echo "${lines[0]}" | jq -r .MemLimitBytes)" = 134217728 ]
	[ "$(echo "${lines[0]}" | jq -r .MemUsage)" = "$(echo "${lines[0]}" | jq -r '.MemUsage | split(" / ")[0]') / 128MiB" ]
	[ "$(echo "${lines[1]}" | jq -r .PIDsCurrent)" = 1 ]
	# a busy loop keeps (most of) one CPU; the idle one keeps none
	echo "${lines[0]}" | jq -e '.CPU > 20' >/dev/null
	echo "${lines[1]}" | jq -e '.CPU < 20' >/dev/null
	[ "$(echo "${lines[1]}" | jq -r .ID)" = "$(b inspect idle | jq -r '.[0].Id')" ]
}

@test "engine: stats streams until interrupted; a stopped container shows no numbers" {
	run brun -d --name streamed bb sleep 30
	assert_success
	run timeout --preserve-status -s INT 2.5 env BERTH_IT_TAG="$TAG" "$BERTH_BIN" --root "$STORE" --runroot "$RUNROOT" stats streamed
	assert_success
	[ "$(grep -c '^CONTAINER ID' <<<"$output")" -ge 2 ]
	[ "$(grep -c streamed <<<"$output")" -ge 2 ]
	b kill streamed >/dev/null
	b wait streamed >/dev/null
	run b stats --no-stream --format json streamed
	assert_success
	[ "$(echo "$output" | jq -r .CPUPerc)" = -- ]
	run b top streamed
	assert_failure 125
	assert_output_contains "is not running"
}

@test "engine: top and stats of an unknown container fail with 125" {
	run b top nosuch
	assert_failure 125
	assert_output_contains nosuch
	run b stats --no-stream nosuch
	assert_failure 125
	assert_output_contains nosuch
	run b stats --no-stream --format yaml
	assert_failure 125
	run b top
	assert_failure 125
}
