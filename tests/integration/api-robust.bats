#!/usr/bin/env bats
# The API service under bad input and clients that go away: streams whose
# client left end at once (no thread or fd left behind), a monitor whose
# start failed is reaped, a body over the limit is a 413.

load api

setup_file() {
	engine_make_rootfs
}

setup() {
	api_setup bapir
}

teardown() {
	api_teardown
}

# raw_send TEXT: TEXT (printf escapes) on a connection to the service,
# which is then closed after at most 1 s.
raw_send() {
	timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.settimeout(1)
try:
    s.recv(65536)
except OSError:
    pass
s.close()
' "$API_SOCK" "$1"
}

# counts: the service's threads and open fds, "T F".
counts() {
	echo "$(ls "/proc/$API_PID/task" | wc -l) $(ls "/proc/$API_PID/fd" | wc -l)"
}

# back_to BASE: waits up to 5 s for counts to come back to BASE.
back_to() {
	local i now
	for ((i = 0; i < 50; i++)); do
		now=$(counts)
		[ "$now" = "$1" ] && return 0
		sleep 0.1
	done
	echo "threads and fds: $now, expected $1" >&2
	return 1
}

@test "api robust: clients leaving events, logs -f and stats streams leave no thread or fd behind" {
	drun -d --name talker bb sh -c 'while true; do echo tick; sleep 0.2; done' >/dev/null
	# a first round of each, so lazily made threads (the monitor reaper) exist
	api_curl /_ping >/dev/null
	sleep 0.5
	local base
	base=$(counts)
	# /events with no event coming: the client leaves after 1 s
	run timeout 1 curl -sN --unix-socket "$API_SOCK" http://x/events
	back_to "$base"
	run timeout 1 curl -sN --unix-socket "$API_SOCK" "http://x/containers/talker/logs?follow=1&stdout=1"
	[[ "$output" == *tick* ]]
	back_to "$base"
	run timeout 2 curl -sN --unix-socket "$API_SOCK" http://x/containers/talker/stats
	back_to "$base"
	# the docker CLI's own streams, cut by a signal
	timeout -s INT 1 "$DOCKER_BIN" -H "unix://$API_SOCK" events >/dev/null || true
	timeout -s INT 1 "$DOCKER_BIN" -H "unix://$API_SOCK" logs -f talker >/dev/null || true
	back_to "$base"
	d rm -f talker >/dev/null
	wait_removed
}

@test "api robust: a client leaving an export mid-tar leaves no thread or fd behind" {
	drun --network none --name big bb dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null
	api_curl /_ping >/dev/null
	# the run's wait and attach threads end just after the client has its
	# answers (the container's exit wakes them at once): let them go
	sleep 0.5
	local base
	base=$(counts)
	# the tar comes as it is written: the first MiB arrives, the client goes
	n=$(curl -sN --unix-socket "$API_SOCK" http://x/containers/big/export | head -c 1048576 | wc -c)
	[ "$n" = 1048576 ]
	back_to "$base"
	# and a whole one still comes
	[ "$(d export big | tar -t | grep -c '^big$')" = 1 ]
	back_to "$base"
	d rm big >/dev/null
}

@test "api robust: a monitor whose start failed is reaped (no zombie of the service)" {
	d create --name bad bb /no/such/command >/dev/null
	run d start bad
	assert_failure
	local i z
	for ((i = 0; i < 30; i++)); do
		z=$(ps -o stat= --ppid "$API_PID" | tr -d ' ' | grep -c '^Z' || true)
		[ "$z" = 0 ] && break
		sleep 0.1
	done
	ps -o pid=,stat=,comm= --ppid "$API_PID" >&2 || true
	[ "$z" = 0 ]
	d rm bad
}

@test "api robust: a body over the limit is a 413; bad requests answer, the service lives on" {
	head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$TEST_DIR/big"
	run api_curl /containers/create -X POST -H 'Content-Type: application/json' --data-binary "@$TEST_DIR/big" \
		-o /dev/null -w '%{http_code}'
	assert_output 413
	run api_curl /containers/create -X POST -H 'Content-Type: application/json' -d '{"Image": [1' -w ' %{http_code}'
	assert_output_contains 400
	run api_curl /v1.41/containers/x/y/z/json -w ' %{http_code}'
	assert_output_contains 404
	run api_curl "/v99999999999.1/_ping" -w ' %{http_code}'
	assert_output_contains 400
	# a request line that is not HTTP, then a client that sends half a body and goes
	raw_send 'NOT HTTP AT ALL\r\n\r\n'
	raw_send 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"Im'
	run api_curl /_ping
	assert_output OK
	run d ps -a -q
	[ -z "$output" ]
}
