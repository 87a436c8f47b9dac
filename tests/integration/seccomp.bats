#!/usr/bin/env bats
# linux.seccomp: every action, errno values, argument conditions,
# architectures, flags, SCMP_ACT_NOTIFY with listenerPath/listenerMetadata,
# the compiled-BPF cache, and the default profile shipped in data/.

load helpers

SECCOMP_AGENT="${BERTH_SECCOMP_AGENT:-$BERTH_BUILD_DIR/tests/helpers/seccomp-agent}"
DEFAULT_PROFILE="$REPO_ROOT/data/seccomp-default.json"

setup() {
	berth_setup
	# the rootfs is read-only: a tmpfs to write into
	update_config '.mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"]}]'
}

# seccomp_rules DEFAULT_ACTION RULES_JSON: linux.seccomp with the native
# architectures and the given syscalls array.
seccomp_rules() {
	update_config '.linux.seccomp = {defaultAction: $d, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"], syscalls: $r}' \
		--arg d "$1" --argjson r "$(jq -nc "$2")"
}

# block ACTION [EXTRA_JSON]: mkdir and mkdirat get ACTION (plus EXTRA fields).
block_mkdir() {
	seccomp_rules SCMP_ACT_ALLOW "[{names: [\"mkdir\", \"mkdirat\"], action: \"$1\"} + ${2:-{\}}]"
}

@test "seccomp: SCMP_ACT_ERRNO fails the syscall with errnoRet, EPERM without it" {
	set_args sh -c 'mkdir /tmp/a; echo "mkdir=$?"; ls /tmp'
	seccomp_rules SCMP_ACT_ALLOW '[{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 122}]'
	run berth run c1
	assert_success
	assert_output_contains "Disk quota exceeded"
	assert_output_contains "mkdir=1"
	refute_output_contains "a"$'\n'

	block_mkdir SCMP_ACT_ERRNO
	run berth run c2
	assert_success
	assert_output_contains "Operation not permitted"

	# without the profile the same command works
	update_config 'del(.linux.seccomp)'
	run berth run c3
	assert_success
	assert_output_contains "mkdir=0"
}

@test "seccomp: defaultAction SCMP_ACT_ERRNO with defaultErrnoRet, an allow list for the rest" {
	set_args sh -c 'mkdir /tmp/a; echo "mkdir=$?"'
	# everything busybox needs is allowed by the default profile; take
	# its allow list and make mkdir fall through to the default action
	update_config '.linux.seccomp = ($p | .defaultAction = "SCMP_ACT_ERRNO" | .defaultErrnoRet = 95
		| .syscalls |= map(.names -= ["mkdir", "mkdirat"]))' --argjson p "$(cat "$DEFAULT_PROFILE")"
	run berth run c1
	assert_success
	assert_output_contains "not supported"
	assert_output_contains "mkdir=1"
}

@test "seccomp: SCMP_ACT_KILL_PROCESS kills the process with SIGSYS (exit 159)" {
	set_args mkdir /tmp/a
	block_mkdir SCMP_ACT_KILL_PROCESS
	run berth run c1
	assert_failure 159
}

@test "seccomp: SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD kill with SIGSYS" {
	set_args mkdir /tmp/a
	block_mkdir SCMP_ACT_KILL
	run berth run c1
	assert_failure 159
	block_mkdir SCMP_ACT_KILL_THREAD
	run berth run c2
	assert_failure 159
}

@test "seccomp: SCMP_ACT_TRAP delivers SIGSYS" {
	# the shell survives (its child is the one trapped) and reports the signal
	set_args sh -c 'mkdir /tmp/a; echo "status=$?"'
	block_mkdir SCMP_ACT_TRAP
	run berth run c1
	assert_success
	assert_output_contains "status=159"
}

@test "seccomp: SCMP_ACT_TRACE without a tracer fails the syscall with ENOSYS" {
	set_args sh -c 'mkdir /tmp/a; echo "status=$?"'
	block_mkdir SCMP_ACT_TRACE '{errnoRet: 1}'
	run berth run c1
	assert_success
	assert_output_contains "Function not implemented"
}

@test "seccomp: SCMP_ACT_LOG allows the syscall" {
	set_args sh -c 'mkdir /tmp/a && echo made'
	block_mkdir SCMP_ACT_LOG
	run berth run c1
	assert_success
	assert_output made
}

@test "seccomp: argument conditions (SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ) select the calls" {
	# chmod to mode 0700 fails, any other mode works; kill with signal 10
	# (SIGUSR1) fails, others work
	set_args sh -c 'touch /tmp/f
		chmod 700 /tmp/f; echo "chmod700=$?"
		chmod 755 /tmp/f; echo "chmod755=$?"
		kill -USR1 $$; echo "usr1=$?"
		trap "echo got-usr2" USR2; kill -USR2 $$; echo "usr2=$?"'
	seccomp_rules SCMP_ACT_ALLOW '[
		{names: ["chmod", "fchmodat", "fchmod"], action: "SCMP_ACT_ERRNO", errnoRet: 13,
		 args: [{index: 1, value: 448, op: "SCMP_CMP_EQ"}]},
		{names: ["kill"], action: "SCMP_ACT_ERRNO", errnoRet: 1,
		 args: [{index: 1, value: 255, valueTwo: 10, op: "SCMP_CMP_MASKED_EQ"}]}]'
	run berth run c1
	assert_success
	assert_output_contains "chmod700=1"
	assert_output_contains "chmod755=0"
	assert_output_contains "usr1=1"
	assert_output_contains "got-usr2"
	assert_output_contains "usr2=0"
}

@test "seccomp: architectures: a profile without this host's architecture kills every syscall" {
	[ "$(uname -m)" = x86_64 ] || skip "written for x86_64 hosts"
	set_args true
	update_config '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_AARCH64"], syscalls: []}'
	run berth run c1
	assert_failure 159

	# the 32-bit x86 compat architecture alone: native calls are bad arch
	update_config '.linux.seccomp.architectures = ["SCMP_ARCH_X86"]'
	run berth run c2
	assert_failure 159

	update_config '.linux.seccomp.architectures = ["SCMP_ARCH_X86_64"]'
	run berth run c3
	assert_success

	update_config '.linux.seccomp.architectures = ["SCMP_ARCH_VAX"]'
	run berth_bg create c4
	assert_one_line_error 'linux.seccomp.architectures[0]'
	[ ! -e "$ROOT/c4" ]
}

@test "seccomp: flags are accepted and applied; an unknown flag is refused" {
	set_args grep -E '^Seccomp(_filters)?:' /proc/self/status
	block_mkdir SCMP_ACT_ERRNO
	update_config '.linux.seccomp.flags = ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]'
	run berth run c1
	assert_success
	assert_equal "$(awk '$1 == "Seccomp:" { print $2 }' <<<"$output")" 2 "seccomp mode filter"
	assert_equal "$(awk '$1 == "Seccomp_filters:" { print $2 }' <<<"$output")" 1 "one filter"

	update_config '.linux.seccomp.flags = ["SECCOMP_FILTER_FLAG_BOGUS"]'
	run berth_bg create c2
	assert_one_line_error 'linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_BOGUS"'
	[ ! -e "$ROOT/c2" ]
}

@test "seccomp: an unknown action or syscall name is handled at create" {
	block_mkdir SCMP_ACT_BOGUS
	run berth_bg create c1
	assert_one_line_error 'linux.seccomp.syscalls[0]'
	[ ! -e "$ROOT/c1" ]

	# syscalls of other kernels and architectures are skipped, like runc
	set_args sh -c 'mkdir /tmp/a; echo "mkdir=$?"'
	seccomp_rules SCMP_ACT_ALLOW '[{names: ["no_such_syscall_berth", "mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO"}]'
	run berth run c2
	assert_success
	assert_output_contains "mkdir=1"
}

# start_agent ARGS...: the seccomp agent on TEST_DIR/agent.sock.
start_agent() {
	rm -f "$TEST_DIR/agent.sock"
	"$SECCOMP_AGENT" -s "$TEST_DIR/agent-state.json" "$@" "$TEST_DIR/agent.sock" >"$TEST_DIR/agent.out" 2>&1 &
	AGENT_PID=$!
	track_pid "$AGENT_PID"
	wait_for_file "$TEST_DIR/agent.sock"
}

notify_profile() {
	seccomp_rules SCMP_ACT_ALLOW '[{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY"}]'
	update_config '.linux.seccomp.listenerPath = $p | .linux.seccomp.listenerMetadata = "berth-test-metadata"' \
		--arg p "$TEST_DIR/agent.sock"
}

@test "seccomp: SCMP_ACT_NOTIFY: the agent gets the state and the fd, its errno reaches the container" {
	[ -x "$SECCOMP_AGENT" ] || fail "seccomp-agent not built at $SECCOMP_AGENT"
	set_args sh -c 'mkdir /tmp/a; echo "mkdir=$?"'
	notify_profile
	start_agent -e 122
	run berth run c1
	assert_success
	assert_output_contains "Disk quota exceeded"
	assert_output_contains "mkdir=1"
	wait "$AGENT_PID"
	# the state the runtime sent: runc's seccomp agent protocol
	local s="$TEST_DIR/agent-state.json"
	assert_equal "$(jq -r .metadata "$s")" berth-test-metadata
	assert_equal "$(jq -c .fds "$s")" '["seccompFd"]'
	assert_equal "$(jq -r .state.id "$s")" c1
	assert_equal "$(jq -r .state.status "$s")" creating
	assert_equal "$(jq -r .state.bundle "$s")" "$BUNDLE"
	[ "$(jq -r .pid "$s")" -gt 1 ]
	assert_equal "$(jq -r .ociVersion "$s")" "$(jq -r .ociVersion "$BUNDLE/config.json")"
	grep -Eq '^syscall (83|258) pid [0-9]+$' "$TEST_DIR/agent.out" || fail "agent: $(cat "$TEST_DIR/agent.out")"
}

@test "seccomp: SCMP_ACT_NOTIFY: a fake success from the agent, the syscall never ran" {
	set_args sh -c 'mkdir /tmp/b; echo "mkdir=$?"; [ -d /tmp/b ] && echo exists || echo absent'
	notify_profile
	start_agent -v 0
	run berth run c1
	assert_success
	assert_output_contains "mkdir=0"
	assert_output_contains "absent"
	wait "$AGENT_PID"
}

@test "seccomp: SCMP_ACT_NOTIFY without a listener on the socket fails create clearly" {
	notify_profile
	run berth_bg create c1
	assert_one_line_error 'linux.seccomp.listenerPath'
	[ ! -e "$ROOT/c1" ]
}

@test "seccomp: the compiled BPF is cached by profile hash and reused by the next container" {
	set_args sh -c 'mkdir /tmp/a; echo "mkdir=$?"'
	# the default profile (long: compiling it is what the cache saves),
	# with mkdir failing so the filter is visibly the one applied
	update_config '.linux.seccomp = ($p | .syscalls |= map(.names -= ["mkdir", "mkdirat"]))
		| .linux.seccomp.syscalls += [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 122}]' \
		--argjson p "$(cat "$DEFAULT_PROFILE")"
	[ ! -e "$ROOT/.seccomp-cache" ]
	run berth run c1
	assert_success
	assert_output_contains "Disk quota exceeded"
	local files
	files=$(find "$ROOT/.seccomp-cache" -name '*.bpf')
	[ "$(wc -l <<<"$files")" -eq 1 ] || fail "expected one cache file, got: $files"
	[[ "$(basename "$files")" =~ ^[0-9a-f]{64}\.bpf$ ]] || fail "cache file name: $files"
	local before
	before=$(stat -c '%i %Y.%y %s' "$files")
	sleep 1.1
	run berth --debug run c2
	assert_success
	assert_output_contains "Disk quota exceeded"
	assert_equal "$(stat -c '%i %Y.%y %s' "$files")" "$before" "the cache file was rewritten"
	[ "$(find "$ROOT/.seccomp-cache" -name '*.bpf' | wc -l)" -eq 1 ]

	# another profile: another cache entry
	update_config '.linux.seccomp.syscalls[-1].errnoRet = 121'
	run berth run c3
	assert_success
	[ "$(find "$ROOT/.seccomp-cache" -name '*.bpf' | wc -l)" -eq 2 ]

	# a corrupted entry is recompiled, not trusted
	printf 'garbage' >"$files"
	update_config '.linux.seccomp.syscalls[-1].errnoRet = 122'
	run berth run c4
	assert_success
	assert_output_contains "Disk quota exceeded"
	[ "$(stat -c %s "$files")" -gt 7 ]
}

@test "seccomp: the default profile blocks unshare -U and allows normal commands" {
	set_args sh -c 'unshare -U true && echo unshared; mkdir /tmp/d && ls -d /tmp/d && echo hello >/tmp/d/f && cat /tmp/d/f; id -u'
	# control: without a profile the container may create a user namespace
	run berth run c0
	assert_success
	assert_output_contains unshared

	update_config '.linux.seccomp = $p' --argjson p "$(cat "$DEFAULT_PROFILE")"
	run berth run c1
	assert_success
	refute_output_contains unshared
	assert_output_contains "Operation not permitted"
	assert_output_contains "/tmp/d"
	assert_output_contains hello
	assert_equal "${lines[-1]}" 0
}

@test "seccomp: exec'd processes get the container's filter" {
	set_args sleep 100
	block_mkdir SCMP_ACT_ERRNO '{errnoRet: 122}'
	berth_bg run -d c1
	run berth exec c1 mkdir /tmp/x
	assert_failure
	assert_output_contains "Disk quota exceeded"
	run berth exec --no-new-privs c1 mkdir /tmp/y
	assert_failure
	assert_output_contains "Disk quota exceeded"
}
