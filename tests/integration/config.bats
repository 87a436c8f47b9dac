#!/usr/bin/env bats
# Bad inputs: each fails with a clear one-line message and leaves nothing
# behind: no state dir, no mount, no cgroup, no process.

load helpers

# create_fails ID TEXT: `create ID` fails with a one-line error containing
# TEXT and nothing is left behind.
create_fails() {
	run berth_bg create "$1"
	assert_one_line_error "$2"
	assert_nothing_left "$1"
}

@test "config: missing config.json" {
	rm "$BUNDLE/config.json"
	create_fails c1 "config.json\": No such file or directory"
}

@test "config: --config names another file; a missing one is an error" {
	set_args echo other-config
	mv "$BUNDLE/config.json" "$BUNDLE/other.json"
	run berth run --config "$BUNDLE/other.json" c1
	assert_success
	assert_output other-config
	run berth_bg create --config "$BUNDLE/nope.json" c2
	assert_one_line_error 'nope.json'
	assert_nothing_left c2
}

@test "config: invalid JSON names the line and column" {
	printf '{\n  "ociVersion": "1.2.0",\n  bad\n}\n' >"$BUNDLE/config.json"
	create_fails c1 "invalid JSON at line 3"
}

@test "config: not a JSON object" {
	echo '[1, 2]' >"$BUNDLE/config.json"
	run berth_bg create c1
	assert_one_line_error "config.json"
	assert_nothing_left c1
}

@test "config: bad field types name the JSON path" {
	update_config '.process.args = "sh"'
	create_fails c1 'process.args: expected an array'

	reset_config
	update_config '.process.user.uid = "root"'
	create_fails c1 'process.user.uid: expected an integer'

	reset_config
	update_config '.mounts[2].options = "ro"'
	create_fails c1 'mounts[2].options: expected an array'

	reset_config
	update_config '.process.env = [1]'
	create_fails c1 'process.env[0]'

	reset_config
	update_config '.root = "rootfs"'
	create_fails c1 'root: expected an object'

	reset_config
	update_config '.linux.namespaces = {}'
	create_fails c1 'linux.namespaces: expected an array'

	reset_config
	update_config '.process.user.uid = -1'
	create_fails c1 'process.user.uid'
}

@test "config: missing required fields" {
	update_config 'del(.process)'
	create_fails c1 'process: required'

	reset_config
	update_config 'del(.ociVersion)'
	create_fails c1 'ociVersion'

	reset_config
	update_config '.process.args = []'
	create_fails c1 'process.args'

	reset_config
	update_config 'del(.root)'
	create_fails c1 'root'
}

@test "config: unsupported ociVersion; 1.0, 1.1 and 1.3 are accepted" {
	update_config '.ociVersion = "2.0.0"'
	create_fails c1 'ociVersion: unsupported version "2.0.0"'

	set_args true
	for v in 1.0.0 1.0.2 1.1.0 1.3.0; do
		update_config '.ociVersion = $v' --arg v "$v"
		run berth run "c-$v"
		[ "$status" -eq 0 ] || fail "ociVersion $v: $output"
	done
}

@test "config: unknown fields are ignored (as runc does)" {
	set_args echo ok
	update_config '.unknownTopLevel = {"x": 1} | .process.unknownField = true | .linux.notInSpec = [1]'
	run berth run c1
	assert_success
	assert_output ok
}

@test "config: unknown namespace type names linux.namespaces[N]" {
	update_config '.linux.namespaces += [{"type": "foo"}]'
	n=$(jq '.linux.namespaces | length - 1' "$BUNDLE/config.json")
	create_fails c1 "linux.namespaces[$n].type: unknown namespace type \"foo\""
}

@test "config: duplicate namespace type" {
	update_config '.linux.namespaces += [{"type": "uts"}]'
	create_fails c1 'linux.namespaces['
}

@test "config: unknown capability names process.capabilities.bounding[N]" {
	update_config '.process.capabilities.bounding += ["CAP_FOO"]'
	n=$(jq '.process.capabilities.bounding | length - 1' "$BUNDLE/config.json")
	create_fails c1 "process.capabilities.bounding[$n]: unknown capability \"CAP_FOO\""

	reset_config
	update_config '.process.capabilities.effective = ["CAP_KILL", "NOT_A_CAP"]'
	create_fails c1 'process.capabilities.effective[1]: unknown capability "NOT_A_CAP"'
}

@test "config: unknown rlimit and bad mount option values" {
	update_config '.process.rlimits = [{"type": "RLIMIT_FOO", "hard": 1, "soft": 1}]'
	create_fails c1 'process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"'

	reset_config
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 20}]'
	create_fails c1 'process.rlimits[0]'

	reset_config
	update_config '.mounts += [{"destination": "", "type": "tmpfs", "source": "tmpfs"}]'
	n=$(jq '.mounts | length - 1' "$BUNDLE/config.json")
	create_fails c1 "mounts[$n].destination: required"
}

@test "config: bad container ids" {
	for id in 'a/b' '..' '.hidden' 'sp ace' "$(printf 'x%.0s' $(seq 1100))"; do
		run berth_bg create "$id"
		assert_one_line_error "container id" || fail "id \"$id\""
		[ ! -e "$ROOT/$id" ]
	done
	run berth_bg create ''
	assert_one_line_error "container id"
	assert_nothing_left
	[ -z "$(state_dirs "$ROOT")" ]
	# the other commands validate ids too (no path traversal)
	for cmd in start state delete kill; do
		run berth $cmd ../x
		assert_one_line_error 'invalid container id "../x"' || fail "$cmd"
	done
}

@test "config: duplicate id: the second create fails and the first container is untouched" {
	set_args sleep 100
	berth_bg create c1
	pid=$(pid_of c1)
	run berth_bg create c1
	assert_one_line_error 'container "c1" already exists'
	assert_equal "$(status_of c1)" created
	assert_equal "$(pid_of c1)" "$pid"
	[ -p "$ROOT/c1/exec.fifo" ]
	# the cgroup of the first is still there
	for d in $(cgroup_dirs "$CG_NAME"); do
		[ -d "$d" ] || fail "cgroup $d of the first container was removed"
	done
	berth start c1
	assert_equal "$(status_of c1)" running
	# the same with run
	run berth run c1
	assert_one_line_error 'already exists'
	assert_equal "$(status_of c1)" running
}

@test "config: missing rootfs" {
	rm -rf "$BUNDLE/rootfs"
	create_fails c1 'root.path: rootfs'

	make_bundle "$BUNDLE"
	update_config '.root.path = "/nonexistent/rootfs"'
	create_fails c1 '/nonexistent/rootfs'

	make_bundle "$BUNDLE"
	rm -rf "$BUNDLE/rootfs"
	touch "$BUNDLE/rootfs"
	create_fails c1 'root.path'
}

@test "config: missing bundle directory" {
	run berth_bg create -b "$TEST_DIR/nope" c1
	assert_one_line_error "nope"
	assert_nothing_left c1
}

@test "lifecycle errors: start of a running or stopped container" {
	set_args sleep 100
	berth_bg create c1
	berth start c1
	run berth start c1
	assert_one_line_error 'cannot start a container that is running'
	assert_equal "$(status_of c1)" running

	berth kill c1 KILL
	wait_for_status c1 stopped
	run berth start c1
	assert_one_line_error 'stopped'

	run berth start nope
	assert_one_line_error 'container "nope" does not exist'
}

@test "lifecycle errors: delete of a running container without --force" {
	set_args sleep 100
	berth_bg create c1
	berth start c1
	pid=$(pid_of c1)
	run berth delete c1
	assert_one_line_error 'container is running'
	assert_equal "$(status_of c1)" running
	[ -d "/proc/$pid" ]
	[ -d "$ROOT/c1" ]
	run berth delete nope
	assert_one_line_error 'container "nope" does not exist'
	run berth kill nope
	assert_one_line_error 'container "nope" does not exist'
	run berth state nope
	assert_one_line_error 'container "nope" does not exist'
}

@test "flags: unknown flags and commands, missing arguments" {
	run berth_bg create --bogus c1
	assert_one_line_error 'unknown flag "--bogus"'
	assert_nothing_left c1
	run berth_bg run --nope c1
	assert_one_line_error 'unknown flag "--nope"'
	assert_nothing_left c1
	run berth delete --frce c1
	assert_one_line_error 'unknown flag "--frce"'
	run berth kill -x c1
	assert_one_line_error 'unknown flag "-x"'
	run berth list --all
	assert_one_line_error 'unknown flag "--all"'
	run "$BERTH_RUNTIME" --no-such-global list
	assert_one_line_error 'unknown flag "--no-such-global"'
	run berth create
	assert_one_line_error 'missing argument'
	run berth state a b
	assert_one_line_error 'unexpected argument "b"'
	run berth_bg create --preserve-fds abc c1
	assert_one_line_error '--preserve-fds'
	assert_nothing_left c1
	run "$BERTH_RUNTIME" --rootless maybe list
	assert_one_line_error 'expected true, false or auto'
	run berth_bg create --pid-file
	assert_failure
}

@test "flags: unknown command and unknown global flag: one line, one prefix" {
	run berth frobnicate
	assert_one_line_error 'unknown command "frobnicate"'
	run "$BERTH_RUNTIME" --no-such-global list
	assert_one_line_error 'unknown flag "--no-such-global"'
	refute_output_contains 'berth-runtime: berth-runtime:'
}

@test "flags: runc spellings: -b, --bundle=, --pid-file=, --no-new-keyring, --no-pivot, --pidfd-socket" {
	set_args echo ok
	cd "$TEST_DIR"
	run berth run -b "$BUNDLE" --pid-file="$TEST_DIR/p" --no-new-keyring --no-pivot c1
	assert_success
	assert_output ok
	[ -s "$TEST_DIR/p" ]
}

@test "late failures roll back: missing executable" {
	set_args /bin/does-not-exist
	create_fails c1 'exec "/bin/does-not-exist"'
	set_args does-not-exist
	create_fails c1 'executable file not found in $PATH'
	run berth run c1
	assert_one_line_error 'executable file not found'
	assert_nothing_left c1
}

@test "late failures roll back: bad cwd, bad bind source, failing hook" {
	# a missing cwd is created (runc, crun); one below a file cannot be
	update_config '.process.cwd = "/etc/hostname/not-a-dir"'
	create_fails c1 'process.cwd'

	reset_config
	update_config '.mounts += [{"destination": "/mnt", "type": "bind", "source": "/nonexistent/src", "options": ["bind"]}]'
	create_fails c1 '/nonexistent/src'

	reset_config
	update_config '.hooks.createRuntime = [{"path": "/bin/false"}]'
	create_fails c1 'createRuntime'

	reset_config
	update_config '.hooks.createContainer = [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]'
	create_fails c1 'createContainer'
}

@test "terminal: --console-socket is required when process.terminal is true" {
	update_config '.process.terminal = true'
	create_fails c1 '--console-socket is required'
	reset_config
	run berth_bg create --console-socket "$TEST_DIR/sock" c1
	assert_one_line_error 'process.terminal is false'
	assert_nothing_left c1
	update_config '.process.terminal = true'
	run berth_bg create --console-socket "$TEST_DIR/no-such-socket" c1
	assert_one_line_error 'no-such-socket'
	assert_nothing_left c1
}

@test "config: linux.sysctl kernel.hostname or kernel.domainname conflicting with hostname/domainname is refused" {
	update_config '.hostname = "from-field" | .linux.sysctl = {"kernel.hostname": "from-sysctl"}'
	run berth_bg create c1
	assert_one_line_error 'linux.sysctl: "kernel.hostname" ("from-sysctl") conflicts with hostname ("from-field")'
	assert_nothing_left c1
	update_config '.domainname = "dom-field" | .linux.sysctl = {"kernel.domainname": "dom-sysctl"}'
	run berth_bg create c1
	assert_one_line_error 'conflicts with domainname ("dom-field")'
	assert_nothing_left c1
	# the same value twice is no conflict; the sysctl alone sets it
	update_config '.hostname = "same" | .domainname = "dom" | .linux.sysctl = {"kernel.hostname": "same", "kernel.domainname": "dom"}'
	set_args sh -c 'hostname; cat /proc/sys/kernel/domainname'
	run berth run c1
	assert_success
	assert_equal "$(echo $output)" "same dom"
	update_config 'del(.hostname) | .linux.sysctl = {"kernel.hostname": "only-sysctl"}'
	set_args hostname
	run berth run c1
	assert_success
	assert_output only-sysctl
}
