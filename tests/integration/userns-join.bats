#!/usr/bin/env bats
# A new user namespace together with namespaces joined by path (Kubernetes
# pods with user namespaces, podman --userns): the joined network namespace
# is owned by the host, so it must be joined before the user namespace is
# created.

load helpers

@test "userns: new user namespace with a joined network namespace" {
	local ns="berth-it-$TAG"
	ip netns add "$ns"
	defer "ip netns del $ns"
	chown -R 100000:100000 "$BUNDLE/rootfs"
	# the container's root (host uid 100000) must be able to reach the
	# rootfs, as with runc: open the temporary directories for traversal
	local d="$BUNDLE"
	while [ "$d" != / ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	update_config '.linux.namespaces += [{type: "user"}]
		| .linux.namespaces |= map(if .type == "network" then .path = $p else . end)
		| .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]' \
		--arg p "/var/run/netns/$ns"
	set_args sh -c 'id -u; cat /proc/self/uid_map; readlink /proc/self/ns/net; readlink /proc/self/ns/user'

	run berth run u1
	assert_success
	lines_=("${lines[@]}")
	assert_equal "${lines_[0]}" 0 "uid inside"
	[[ "${lines_[1]}" =~ ^[[:space:]]*0[[:space:]]+100000[[:space:]]+65536$ ]]
	assert_equal "${lines_[2]}" "net:[$(stat -L -c %i "/var/run/netns/$ns")]" "joined netns"
	[ "${lines_[3]}" != "$(readlink /proc/self/ns/user)" ]
	assert_nothing_left u1
}

@test "userns: joining a pid namespace with a new user namespace and a joined netns is refused cleanly" {
	local ns="berth-it-$TAG"
	ip netns add "$ns"
	defer "ip netns del $ns"
	update_config '.linux.namespaces += [{type: "user"}]
		| .linux.namespaces |= map(if .type == "network" then .path = $p
		                           elif .type == "pid" then .path = "/proc/1/ns/pid" else . end)
		| .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]' \
		--arg p "/var/run/netns/$ns"

	run berth create u2
	assert_failure
	[[ "$output" == *"joining a pid namespace together with a new user namespace"* ]]
	assert_nothing_left u2
}
