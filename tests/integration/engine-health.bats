#!/usr/bin/env bats
# Health checks (issue 7), run by the container's monitor: --health-cmd and
# friends, State.Health in inspect (Status, FailingStreak, Log) and the
# health in ps. Fast: intervals of 200-300 ms. Same setup and teardown as
# engine-containers.bats (own store, cgroups beneath berth-test/TAG).

load engine

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bhlt
}

teardown() {
	engine_teardown
}

# health_of NAME: "STATUS STREAK" from one inspect.
health_of() {
	b inspect "$1" | jq -r '.[0].State.Health | "\(.Status) \(.FailingStreak)"'
}

@test "health: starting, then healthy after a passing probe; inspect and ps show it" {
	run brun -d --name ok --health-cmd 'echo fine' --health-interval 300ms bb sleep 30
	assert_success
	[ "$(state_of ok State.Health.Status)" = starting ]
	run b ps
	assert_output_contains "(health: starting)"
	wait_state ok State.Health.Status healthy
	[ "$(state_of ok State.Health.FailingStreak)" = 0 ]
	[ "$(state_of ok 'State.Health.Log[0].ExitCode')" = 0 ]
	[ "$(state_of ok 'State.Health.Log[0].Output')" = fine ]
	[[ "$(state_of ok 'State.Health.Log[0].Start')" =~ ^20[0-9-]+T[0-9:.]+Z$ ]]
	[[ "$(state_of ok 'State.Health.Log[0].End')" =~ ^20[0-9-]+T[0-9:.]+Z$ ]]
	[ "$(state_of ok Config.Healthcheck.Interval)" = 300000000 ]
	[ "$(b inspect ok | jq -c '.[0].Config.Healthcheck.Test')" = '["CMD-SHELL","echo fine"]' ]
	run b ps
	assert_output_contains "(healthy)"
	[ "$(b ps --format json | jq -r '.[0].Health')" = healthy ]
	# the log keeps the last 5 results
	for _ in $(seq 60); do
		[ "$(b inspect ok | jq '.[0].State.Health.Log | length')" = 5 ] && break
		sleep 0.1
	done
	sleep 0.7
	[ "$(b inspect ok | jq '.[0].State.Health.Log | length')" = 5 ]
}

@test "health: unhealthy after RETRIES consecutive failures, FailingStreak RETRIES" {
	local i h
	run brun -d --name bad --health-cmd 'echo broken; exit 1' --health-interval 300ms --health-retries 2 bb sleep 30
	assert_success
	for ((i = 0; i < 100; i++)); do
		h=$(health_of bad)
		[ "${h% *}" = unhealthy ] && break
		[ "$h" = "starting 0" ] || [ "$h" = "starting 1" ] || fail "unexpected health: $h"
		sleep 0.05
	done
	assert_equal "$h" "unhealthy 2"
	[ "$(state_of bad 'State.Health.Log[1].ExitCode')" = 1 ]
	[ "$(state_of bad 'State.Health.Log[1].Output')" = broken ]
	run b ps
	assert_output_contains "(unhealthy)"
	# it keeps counting
	for ((i = 0; i < 60; i++)); do
		[ "$(state_of bad State.Health.FailingStreak)" -ge 3 ] && break
		sleep 0.05
	done
	[ "$(state_of bad State.Health.FailingStreak)" -ge 3 ]
	[ "$(state_of bad State.Status)" = running ]
}

@test "health: a probe that hangs is killed after the timeout and counts as a failure" {
	run brun -d --name hang --health-cmd 'sleep 60' --health-interval 200ms --health-timeout 300ms \
		--health-retries 2 bb sleep 30
	assert_success
	wait_state hang State.Health.Status unhealthy
	[ "$(state_of hang 'State.Health.Log[0].ExitCode')" = -1 ]
	[ "$(state_of hang 'State.Health.Log[0].Output')" = "Health check exceeded timeout (300ms)" ]
	# killed, not piling up: at most the probe running now is left
	[ "$(b exec hang sh -c 'ps | grep -c "[s]leep 60"')" -le 1 ]
	start=$(date -d "$(state_of hang 'State.Health.Log[0].Start')" +%s%N)
	end=$(date -d "$(state_of hang 'State.Health.Log[0].End')" +%s%N)
	(((end - start) / 1000000 < 2000)) || fail "the probe ran $(((end - start) / 1000000)) ms"
}

@test "health: failures in the start period do not count, then they do" {
	local i h
	run brun -d --name slow --health-cmd 'exit 1' --health-interval 200ms --health-retries 1 \
		--health-start-period 1500ms bb sleep 30
	assert_success
	sleep 1
	[ "$(b inspect slow | jq '.[0].State.Health.Log | length')" -ge 2 ]
	assert_equal "$(health_of slow)" "starting 0"
	wait_state slow State.Health.Status unhealthy
	[ "$(state_of slow State.Health.FailingStreak)" -ge 1 ]
}

@test "health: the probe runs inside the container" {
	# a file the container makes, under the container's hostname
	run brun -d --name inside --hostname probe-box \
		--health-cmd '[ "$(hostname)" = probe-box ] && cat /tmp/ready' --health-interval 200ms --health-retries 100 \
		bb sh -c 'sleep 0.8; echo made-inside >/tmp/ready; sleep 30'
	assert_success
	[ ! -e /tmp/ready ] || [ "$(cat /tmp/ready)" != made-inside ]
	sleep 0.5
	[ "$(state_of inside State.Health.Status)" = starting ]
	wait_state inside State.Health.Status healthy
	[ "$(state_of inside 'State.Health.Log[-1].Output')" = made-inside ]
}

@test "health: durations like docker's, --no-healthcheck, bad values" {
	run b create --cgroup-parent "berth-test/$TAG" --name d --health-cmd true --health-interval 1m30s \
		--health-timeout 1.5s --health-start-period 500ms --health-retries 4 bb
	assert_success
	[ "$(state_of d Config.Healthcheck.Interval)" = 90000000000 ]
	[ "$(state_of d Config.Healthcheck.Timeout)" = 1500000000 ]
	[ "$(state_of d Config.Healthcheck.StartPeriod)" = 500000000 ]
	[ "$(state_of d Config.Healthcheck.Retries)" = 4 ]
	b rm d >/dev/null
	run b create --name n --no-healthcheck bb
	assert_success
	[ "$(b inspect n | jq -c '.[0].Config.Healthcheck.Test')" = '["NONE"]' ]
	b rm n >/dev/null
	run brun -d --name none bb sleep 30
	[ "$(b inspect none | jq -c '.[0].State.Health')" = null ]
	for bad in "--health-interval 10" "--health-interval 5x" "--health-timeout -1s" "--health-retries -1" \
		"--no-healthcheck --health-cmd true"; do
		# shellcheck disable=SC2086
		run b create $bad bb
		assert_failure 125
		[ "${#lines[@]}" -eq 1 ] || fail "$bad: $output"
	done
	[ "$(ls -A "$STORE/containers" | grep -vc names)" = 1 ]
}
