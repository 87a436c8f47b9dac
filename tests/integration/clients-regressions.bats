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

# ---------------------------------------------------------------------------
# docker run: the CLI maps a start error to exit status 127 when it contains
# "no such file or directory" or "executable file not found", and to 126 for
# "permission denied", case-sensitively (Go's lower-case errno text, as runc
# prints it). Docker's daemon matches the command name in it too.

@test "clients: a missing command fails create with runc's wording (docker run exit status 127)" {
	set_args /no/such/command
	run berth create c1
	assert_failure
	assert_output_contains 'exec "/no/such/command": stat /no/such/command: no such file or directory'
	[ ! -e "$ROOT/c1" ]
	set_args nosuchcommand
	run berth create c1
	assert_failure
	assert_output_contains 'exec "nosuchcommand": executable file not found in $PATH'
}

@test "clients: a command that is not executable fails create with \"permission denied\" (docker run exit status 126)" {
	set_args /etc/passwd
	run berth create c1
	assert_failure
	assert_output_contains 'exec "/etc/passwd": permission denied'
	run berth --log "$TEST_DIR/log.json" --log-format json create c1
	assert_failure
	assert_equal "$(jq -r 'select(.level == "error") | .msg' "$TEST_DIR/log.json" | tail -1 | grep -c 'permission denied')" 1
}

@test "clients: exec of a missing command in a running container is worded like runc's" {
	set_args sleep 100
	# (a detached container holds the stdout it got: not through `run`)
	berth run -d c1 >/dev/null 2>&1
	wait_for_status c1 running
	run berth exec c1 /no/such/command
	assert_failure
	assert_output_contains 'exec "/no/such/command": stat /no/such/command: no such file or directory'
	berth delete --force c1
}

# ---------------------------------------------------------------------------
# podman --device/--privileged and docker --device write the host device's
# whole st_mode as fileMode (S_IFCHR|0666 = 8630), which runc and crun take.

@test "clients: linux.devices[].fileMode with the file type bits (podman --device, --privileged)" {
	update_config '.linux.devices = [{path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 8630, uid: 0, gid: 0},
		{path: "/dev/myfifo", type: "p", fileMode: 4516}]'
	set_args sh -c 'stat -c "%A %t,%T" /dev/mynull /dev/myfifo; echo hi >/dev/mynull && echo written'
	run berth run c1
	assert_success
	assert_output_contains "crw-rw-rw- 1,3"
	assert_output_contains "prw-r--r--"
	assert_output_contains "written"
}

@test "clients: linux.devices[].fileMode whose type bits contradict the type is refused" {
	# S_IFBLK|0666 for a character device
	update_config '.linux.devices = [{path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 25014}]'
	run berth create c1
	assert_one_line_error 'linux.devices[0].fileMode: file type bits'
	[ ! -e "$ROOT/c1" ]
	update_config '.linux.devices = [{path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 65536}]'
	run berth create c1
	assert_one_line_error 'linux.devices[0].fileMode'
}

# ---------------------------------------------------------------------------
# podman --cap-drop ALL writes "capabilities": {}. Like runc, a set missing
# from the object is empty; a bounding set left whole gave a root process
# every capability back at execve.

@test "clients: \"capabilities\": {} leaves a root process no capability at all (podman --cap-drop ALL)" {
	update_config '.process.capabilities = {}'
	set_args sh -c 'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status'
	run berth run c1
	assert_success
	assert_equal "$(grep -c ':\s*0000000000000000$' <<<"$output")" 5 "$output"
}

@test "clients: a process.capabilities without \"bounding\" has an empty bounding set" {
	update_config '.process.capabilities = {effective: ["CAP_KILL"], permitted: ["CAP_KILL"]}'
	set_args sh -c 'grep -E "^Cap(Eff|Bnd)" /proc/self/status'
	run berth run c1
	assert_success
	assert_output_contains "CapBnd:	0000000000000000"
	# CAP_KILL is not in the (empty) bounding set: it is gone after exec
	assert_output_contains "CapEff:	0000000000000000"
}

@test "clients: exec --process with \"capabilities\": {} runs without capabilities" {
	update_config '.process.capabilities = {}'
	set_args sleep 100
	berth run -d c1 >/dev/null 2>&1
	wait_for_status c1 running
	jq '.process | .args = ["grep", "-E", "^Cap(Eff|Bnd)", "/proc/self/status"]' "$BUNDLE/config.json" >"$TEST_DIR/process.json"
	run berth exec --process "$TEST_DIR/process.json" c1
	assert_success
	assert_output_contains "CapEff:	0000000000000000"
	assert_output_contains "CapBnd:	0000000000000000"
	berth delete --force c1
}

# ---------------------------------------------------------------------------
# rootless podman runs the runtime as uid 0 in a user namespace of its own
# (mapping the user to 0) with a config that has no user namespace. runc
# counts that as rootless: state below $XDG_RUNTIME_DIR, cgroup errors are not
# fatal, and devices are bind-mounted from the host since mknod is refused.

@test "clients: uid 0 in a user namespace of its own is rootless: XDG_RUNTIME_DIR state, bind-mounted devices (rootless podman)" {
	ensure_rootless_user
	chmod o+x "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$TEST_DIR"
	local rl="$TEST_DIR/rl"
	ROOTLESS_XDG="$rl/xdg"
	mkdir -p "$ROOTLESS_XDG"
	chmod 700 "$ROOTLESS_XDG"
	BUNDLE="$rl/$TAG"
	make_bundle "$BUNDLE" --rootless
	update_config '.linux.namespaces = [.linux.namespaces[] | select(.type != "user")] | del(.linux.uidMappings, .linux.gidMappings)'
	set_args sh -c 'stat -c "%t,%T" /dev/null; echo x >/dev/null && echo dev-null-ok; id -u'
	chown -hR "$ROOTLESS_UID:$ROOTLESS_GID" "$rl"
	cd "$BUNDLE"
	# no --root: the default must be the user's, not /run/berth-runtime
	run as_rootless unshare --user --map-root-user -- "$BERTH_RUNTIME" run "$TAG"
	assert_success
	assert_output_contains "1,3"
	assert_output_contains "dev-null-ok"
	assert_equal "${lines[${#lines[@]} - 1]}" 0
	[ -d "$ROOTLESS_XDG/berth-runtime" ]
	[ -z "$(state_dirs "$ROOTLESS_XDG/berth-runtime")" ]
	[ ! -e "/run/berth-runtime/$TAG" ]
}
