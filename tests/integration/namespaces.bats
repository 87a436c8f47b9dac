#!/usr/bin/env bats
# Namespaces: created (compared with the host's /proc/self/ns links), joined
# by path, hostname and domainname, user namespaces with id mappings.

load helpers

ALL_NS="cgroup ipc mnt net pid time uts"

# ns_links: "TYPE LINK" lines of the container's namespaces.
print_ns_cmd='for n in cgroup ipc mnt net pid time uts user; do echo "$n $(readlink /proc/self/ns/$n)"; done'

ns_of() {
	awk -v t="$1" '$1 == t { print $2 }' <<<"$2"
}

# allow_userns_access: a user namespace root must traverse the path to the
# bundle (its host uid owns nothing there).
allow_userns_access() {
	chmod o+x "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$TEST_DIR"
}

@test "namespaces: pid, uts, ipc, net, mount, cgroup and time are new" {
	update_config '.linux.namespaces += [{"type": "time"}]'
	set_args sh -c "$print_ns_cmd; echo pid1 \$\$"
	run berth run c1
	assert_success
	for t in $ALL_NS; do
		inside=$(ns_of "$t" "$output")
		[ -n "$inside" ] || fail "no $t namespace link: $output"
		[ "$inside" != "$(readlink /proc/self/ns/$t)" ] || fail "$t namespace is the host's ($inside)"
	done
	# no user namespace was asked for
	assert_equal "$(ns_of user "$output")" "$(readlink /proc/self/ns/user)"
	assert_output_contains "pid1 1"
}

@test "namespaces: a type left out is shared with the host" {
	update_config '.linux.namespaces |= map(select(.type != "network" and .type != "ipc"))'
	set_args sh -c "$print_ns_cmd"
	run berth run c1
	assert_success
	assert_equal "$(ns_of net "$output")" "$(readlink /proc/self/ns/net)"
	assert_equal "$(ns_of ipc "$output")" "$(readlink /proc/self/ns/ipc)"
	[ "$(ns_of uts "$output")" != "$(readlink /proc/self/ns/uts)" ]
}

@test "namespaces: without a mount namespace the caller's is inherited, and no mount is made or left in it" {
	mkdir "$TEST_DIR/vol"
	echo vol-data >"$TEST_DIR/vol/file"
	update_config '.linux.namespaces |= map(select(.type != "mount"))
		| .mounts += [{destination: "/vol", type: "bind", source: $s, options: ["rbind", "ro"]}]' \
		--arg s "$TEST_DIR/vol"
	set_args sleep 100
	berth_bg run -d c1
	pid=$(pid_of c1)
	assert_equal "$(readlink "/proc/$pid/ns/mnt")" "$(readlink /proc/self/ns/mnt)"
	# the container's mounts (rootfs, /proc, /dev, /vol...) are not in
	# the caller's namespace, not even while it runs
	! grep -F "$TEST_DIR" /proc/self/mountinfo || fail "the container's mounts are in the caller's namespace"
	# exec finds the container's root, its mounts and the same namespace
	run berth exec c1 sh -c 'cat /etc/hostname /vol/file; readlink /proc/self/ns/mnt; ls /dev/null /proc/self/status; ls /'
	assert_success
	assert_equal "${lines[0]}" berth-test
	assert_equal "${lines[1]}" vol-data
	assert_equal "${lines[2]}" "$(readlink /proc/self/ns/mnt)"
	refute_output_contains work
	# also from another mount namespace than create's
	run unshare -m env BERTH_IT_TAG="$TAG" "$BERTH_RUNTIME" --root "$ROOT" exec c1 cat /etc/hostname /vol/file
	assert_success
	assert_output "berth-test
vol-data"
	berth delete --force c1
	! grep -F "$TEST_DIR" /proc/self/mountinfo || fail "mounts left behind after delete"

	# no namespace at all: every one is the caller's
	update_config '.linux.namespaces = [] | del(.hostname)'
	set_args sh -c "$print_ns_cmd; cat /etc/hostname"
	run berth run c2
	assert_success
	for t in $ALL_NS user; do
		assert_equal "$(ns_of "$t" "$output")" "$(readlink /proc/self/ns/$t)" "$t namespace"
	done
	assert_equal "${lines[-1]}" berth-test

	# a user namespace cannot set up a rootfs in the caller's
	update_config '.linux.namespaces = [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	run berth_bg create c3
	assert_one_line_error "a user namespace needs a mount namespace"
	assert_nothing_left c1 c2 c3
}

@test "namespaces: cgroup namespace roots the container's /proc/self/cgroup" {
	set_args cat /proc/self/cgroup
	run berth run c1
	assert_success
	# every hierarchy reads "/" inside (the host sees berth-test/NAME)
	while IFS=: read -r _ _ path; do
		assert_equal "$path" / "cgroup line in the container"
	done <<<"$output"

	update_config '.linux.namespaces |= map(select(.type != "cgroup"))'
	run berth run c2
	assert_success
	assert_output_contains "/berth-test/$CG_NAME"
}

@test "namespaces: time namespace applies linux.timeOffsets" {
	update_config '.linux.namespaces += [{"type": "time"}] | .linux.timeOffsets = {"boottime": {"secs": 1000000}}'
	set_args cat /proc/uptime
	run berth run c1
	assert_success
	up=${output%%.*}
	[ "$up" -ge 1000000 ] || fail "uptime inside $output, expected the 1000000 s boottime offset"
	host=$(cut -d. -f1 /proc/uptime)
	[ "$up" -lt $((host + 1000000 + 60)) ]

	update_config 'del(.linux.namespaces[] | select(.type == "time"))'
	run berth_bg create c2
	assert_one_line_error 'linux.timeOffsets'
	assert_nothing_left c2
}

@test "namespaces: network namespace joined by path (ip netns add)" {
	ip netns add "$TAG"
	defer ip netns del "$TAG"
	ip -n "$TAG" link set lo up
	update_config '(.linux.namespaces[] | select(.type == "network")) |= {"type": "network", "path": $p}' \
		--arg p "/run/netns/$TAG"
	set_args sh -c "$print_ns_cmd; ip -o link show lo"
	run berth run c1
	assert_success
	want=$(ip netns exec "$TAG" readlink /proc/self/ns/net)
	assert_equal "$(ns_of net "$output")" "$want"
	[ "$want" != "$(readlink /proc/self/ns/net)" ]
	# lo was set up in that namespace, not in a new one
	assert_output_contains "UP"
}

@test "namespaces: network namespace joined by path (unshare --net=FILE bind mount)" {
	touch "$TEST_DIR/netns"
	unshare --net="$TEST_DIR/netns" true
	defer umount "$TEST_DIR/netns"
	want="net:[$(stat -L -c %i "$TEST_DIR/netns")]"
	update_config '(.linux.namespaces[] | select(.type == "network")) |= {"type": "network", "path": $p}' \
		--arg p "$TEST_DIR/netns"
	set_args readlink /proc/self/ns/net
	run berth run c1
	assert_success
	assert_output "$want"
	umount "$TEST_DIR/netns"
}

@test "namespaces: a second container joins the first one's pid, ipc, uts and net namespaces" {
	set_args sleep 100
	update_config '.hostname = "shared-host"'
	berth_bg create c1
	berth start c1
	pid=$(pid_of c1)

	# its own cgroup: deleting a container kills everything in its cgroup
	BUNDLE="$TEST_DIR/$TAG-2"
	make_bundle "$BUNDLE"
	cd "$BUNDLE"
	update_config 'del(.hostname) | .linux.namespaces = [
		{"type": "pid", "path": "/proc/\($pid)/ns/pid"},
		{"type": "ipc", "path": "/proc/\($pid)/ns/ipc"},
		{"type": "uts", "path": "/proc/\($pid)/ns/uts"},
		{"type": "network", "path": "/proc/\($pid)/ns/net"},
		{"type": "mount"}]' --arg pid "$pid"
	set_args sh -c "$print_ns_cmd; hostname; ps -o pid,args"
	run berth run c2
	assert_success
	for t in pid ipc uts net; do
		assert_equal "$(ns_of "$t" "$output")" "$(readlink "/proc/$pid/ns/$t")" "$t"
	done
	[ "$(ns_of mnt "$output")" != "$(readlink "/proc/$pid/ns/mnt")" ]
	assert_output_contains shared-host
	# the first container's init is pid 1 of the shared pid namespace
	[[ "$output" == *$'\n'"    1 sleep 100"* ]] || [[ "$output" == *" 1 sleep 100"* ]] || fail "ps: $output"
	# deleting the second did not touch the first
	assert_equal "$(status_of c1)" running
}

@test "namespaces: joining a path that is not a namespace, or of another type, fails cleanly" {
	update_config '(.linux.namespaces[] | select(.type == "network")) |= {"type": "network", "path": "/etc/hostname"}'
	run berth_bg create c1
	assert_one_line_error 'is not a namespace file'
	assert_nothing_left c1

	update_config '(.linux.namespaces[] | select(.type == "network")) |= {"type": "network", "path": "/proc/self/ns/uts"}'
	run berth_bg create c1
	assert_one_line_error 'is not a network namespace'
	assert_nothing_left c1

	update_config '(.linux.namespaces[] | select(.type == "network")) |= {"type": "network", "path": "/nonexistent/ns"}'
	run berth_bg create c1
	assert_one_line_error '/nonexistent/ns'
	assert_nothing_left c1
}

@test "hostname and domainname" {
	update_config '.hostname = "box1" | .domainname = "example.org"'
	set_args sh -c 'hostname; cat /proc/sys/kernel/domainname'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" box1
	assert_equal "${lines[1]}" example.org
	# the host's names are untouched
	[ "$(hostname)" != box1 ]

	update_config '.linux.namespaces |= map(select(.type != "uts"))'
	run berth_bg create c2
	assert_one_line_error 'hostname'
	assert_nothing_left c2
}

@test "user namespace as root: id mappings, container root is an unprivileged host uid" {
	allow_userns_access
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 200000, "size": 65536}]'
	set_args sh -c 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin/busybox; readlink /proc/self/ns/user; sleep 0.5'
	berth_bg create c1
	pid=$(pid_of c1)
	berth start c1
	wait_for_status c1 stopped
	out=$(cat "$TEST_DIR/stdout")
	lines=()
	mapfile -t lines <<<"$out"
	assert_equal "${lines[0]}" 0 "uid inside"
	assert_equal "${lines[1]}" 0 "gid inside"
	assert_equal "$(echo ${lines[2]})" "0 100000 65536"
	assert_equal "$(echo ${lines[3]})" "0 200000 65536"
	# files of the host's root are unmapped inside
	assert_equal "${lines[4]}" 65534:65534
	[ "${lines[5]}" != "$(readlink /proc/self/ns/user)" ]
}

@test "user namespace as root: the process runs as the mapped host ids" {
	allow_userns_access
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 1000}, {"containerID": 1000, "hostID": 300000, "size": 10}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .process.user = {"uid": 1000, "gid": 1000, "additionalGids": [5]}'
	set_args sleep 100
	berth_bg create c1
	berth start c1
	pid=$(pid_of c1)
	# host view of the container process
	assert_equal "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" 300000
	assert_equal "$(awk '/^Gid:/ {print $2}' "/proc/$pid/status")" 101000
	assert_equal "$(awk '/^Groups:/ {print $2}' "/proc/$pid/status")" 100005
	assert_equal "$(cat "/proc/$pid/uid_map" | tr -s ' ' | sed 's/^ //' | tr '\n' ';')" "0 100000 1000;1000 300000 10;"
}

@test "user namespace as root: bind sources below a root-only (0700) host directory are opened as the runtime" {
	allow_userns_access
	mkdir -p "$TEST_DIR/private/data"
	echo volume-data >"$TEST_DIR/private/data/file"
	chmod 0700 "$TEST_DIR/private"
	chmod 0755 "$TEST_DIR/private/data"
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .mounts += [{destination: "/tmp/vol", type: "bind", source: ($d + "/data"), options: ["rbind", "ro"]},
			{destination: "/tmp/one", type: "bind", source: ($d + "/data/file"), options: ["bind"]}]' \
		--arg d "$TEST_DIR/private"
	set_args sh -c 'cat /tmp/vol/file /tmp/one'
	run berth run c1
	assert_success
	assert_output "volume-data
volume-data"

	# the same when the user namespace is created after joining another
	# namespace (the init makes it itself)
	ip netns add "berth-it-$TAG"
	defer ip netns delete "berth-it-$TAG"
	update_config '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)' \
		--arg p "/run/netns/berth-it-$TAG"
	run berth run c2
	assert_success
	assert_output "volume-data
volume-data"
}

@test "user namespace: mappings without a user namespace are an error" {
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	run berth_bg create c1
	assert_one_line_error 'uidMappings'
	assert_nothing_left c1
}

@test "user namespace joined by path: the new namespaces belong to it (hostname, mounts, pid 1 work)" {
	allow_userns_access
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	set_args sleep 100
	berth_bg create c1
	pid=$(pid_of c1)

	BUNDLE="$TEST_DIR/$TAG-2"
	make_bundle "$BUNDLE"
	cd "$BUNDLE"
	update_config '.hostname = "joined-userns" | .linux.namespaces = [
		{"type": "user", "path": "/proc/\($pid)/ns/user"},
		{"type": "network", "path": "/proc/\($pid)/ns/net"},
		{"type": "mount"}, {"type": "pid"}, {"type": "uts"}, {"type": "ipc"}, {"type": "cgroup"}]' --arg pid "$pid"
	set_args sh -c "$print_ns_cmd; id -u; cat /proc/self/uid_map; hostname; echo pid \$\$"
	run berth run c2
	assert_success
	assert_equal "$(ns_of user "$output")" "$(readlink "/proc/$pid/ns/user")"
	assert_equal "$(ns_of net "$output")" "$(readlink "/proc/$pid/ns/net")"
	for t in uts ipc mnt pid; do
		[ "$(ns_of "$t" "$output")" != "$(readlink "/proc/$pid/ns/$t")" ] || fail "$t was joined, not created"
	done
	assert_output_contains $'\n0\n'
	[[ "$output" == *"0     100000      65536"* ]] || fail "uid_map: $output"
	assert_output_contains joined-userns
	assert_output_contains "pid 1"
}
