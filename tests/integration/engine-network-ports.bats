#!/usr/bin/env bats
# Published ports of containers that stop and start again (issue 19): as
# docker does, a stopped container holds no host port, another container
# may publish it meanwhile, and a start publishes the ports again, or fails
# naming the container that has one now.
#
# Every berth command runs inside a network namespace the test makes
# (engine.bash), so nothing touches the machine's own network.

load engine

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bport
}

teardown() {
	engine_teardown
}

# httpd NAME [FLAGS...]: a detached busybox httpd answering "NAME".
httpd() {
	local name=$1
	shift
	brun -d --name "$name" "$@" bb sh -c "mkdir -p /www && echo $name >/www/index.html && exec httpd -f -p 80 -h /www"
}

fetch() {
	in_host curl -sS -m 3 "$1"
}

published() {
	in_host nft list table inet berth | grep -c "$1" || true
}

@test "ports: a stopped or killed container releases its ports; start publishes them again or says who has them" {
	run httpd one -p 8090:80
	assert_success
	run fetch http://127.0.0.1:8090/
	assert_output one
	run b stop -t 1 one
	assert_success
	# released at once: no element, no claim
	[ "$(published 8090)" = 0 ]
	[ -z "$(ls "$HOSTNET/ports" | grep 8090)" ]
	run fetch http://127.0.0.1:8090/
	assert_failure
	# ps shows none, as docker's
	run b ps -a --format json
	[ "$(jq -r '.[] | select(.Name == "one") | .Ports | length' <<<"$output")" = 0 ]
	# another container may have the port meanwhile
	run httpd two -p 8090:80
	assert_success
	run fetch http://127.0.0.1:8090/
	assert_output two
	# the first cannot start while the second has it, and says why
	run b start one
	assert_failure
	[[ "$output" == *8090*"already published by container"* ]]
	[ "$(state_of one State.Status)" = exited ]
	run fetch http://127.0.0.1:8090/
	assert_output two
	# a killed container releases it too; then the first starts with it
	run b kill two
	assert_success
	wait_state two State.Status exited
	[ "$(published 8090)" = 0 ]
	run b start one
	assert_success
	run fetch http://127.0.0.1:8090/
	assert_output one
	[ "$(published 8090)" = 1 ]
	run b ps
	[[ "$output" == *"0.0.0.0:8090->80/tcp"* ]]
	# and rm of the stopped second container leaves the first's port alone
	run b rm two
	assert_success
	run fetch http://127.0.0.1:8090/
	assert_output one
	# restart: stop and start again with the same port
	run b restart -t 1 one
	assert_success
	run fetch http://127.0.0.1:8090/
	assert_output one
}

@test "ports: a restart by the restart policy publishes the ports again, released in between" {
	# exits 3 four times (the monitor's backoff: 0.1, 0.2, 0.4, 0.8 s), then serves
	run brun -d --name pol --restart on-failure -p 8091:80 bb sh -c \
		'mkdir -p /www && echo pol >/www/index.html; n=$(cat /n 2>/dev/null || echo 0); echo $((n + 1)) >/n; [ "$n" -ge 4 ] && exec httpd -f -p 80 -h /www; exit 3'
	assert_success
	local i seen=0 before pub after
	for ((i = 0; i < 200; i++)); do
		before=$(state_of pol State.Status)
		pub=$(published 8091)
		after=$(state_of pol State.Status)
		# between two runs (restarting before and after the look): released
		if [ "$before" = restarting ] && [ "$after" = restarting ] && [ "$pub" = 0 ]; then
			seen=1
		fi
		[ "$after" = running ] && [ "$(state_of pol RestartCount)" -ge 4 ] && break
		sleep 0.02
	done
	[ "$seen" = 1 ]
	[ "$(state_of pol State.Status)" = running ]
	for ((i = 0; i < 30; i++)); do
		fetch http://127.0.0.1:8091/ >/dev/null 2>&1 && break
		sleep 0.1
	done
	run fetch http://127.0.0.1:8091/
	assert_success
	assert_output pol
	[ "$(published 8091)" = 1 ]
}
