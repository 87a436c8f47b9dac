#!/usr/bin/env bats
# Runtime-level regression tests for incompatibilities found by driving
# berth-runtime with real clients (tests/clients/: podman, containerd + ctr,
# dockerd). Each test names the client that found it; docs/compatibility.md
# lists them.

load helpers

# ---------------------------------------------------------------------------
# podman --network none: runc and crun bring lo up in a network namespace
# they create; without it nothing in the container can reach 127.0.0.1.

@test "clients: a network namespace the runtime creates has lo up (podman --network none)" {
	update_config '.linux.namespaces = ([.linux.namespaces[] | select(.type != "network")] + [{type: "network"}])'
	set_args sh -c 'ip -o link show lo; ip -o -4 addr show lo'
	run berth run c1
	assert_success
	assert_output_contains "<LOOPBACK,UP,LOWER_UP>"
	assert_output_contains "inet 127.0.0.1/8"
}

@test "clients: a joined network namespace keeps its lo as it was" {
	unshare -n sleep 1000 &
	local holder=$!
	track_pid "$holder"
	wait_for_file "/proc/$holder/ns/net"
	sleep 0.1
	update_config '.linux.namespaces = ([.linux.namespaces[] | select(.type != "network")] + [{type: "network", path: $p}])' \
		--arg p "/proc/$holder/ns/net"
	set_args ip -o link show lo
	run berth run c1
	assert_success
	refute_output_contains ",UP"
}
