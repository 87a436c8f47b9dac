#!/usr/bin/env bats
# Process privileges (noNewPrivileges, oomScoreAdj, sysctl, personality,
# ioPriority, scheduler, AppArmor/SELinux) and the runc/crun security
# history as named regression tests.

load helpers

status_field() {
	awk -v f="$2:" '$1 == f { print $2 }' <<<"$1"
}

# ---------------------------------------------------------------------------
# privileges

@test "noNewPrivileges: NoNewPrivs is 1 when asked, 0 when not" {
	set_args grep NoNewPrivs /proc/self/status
	update_config '.process.noNewPrivileges = true'
	run berth run c1
	assert_success
	assert_equal "$(status_field "$output" NoNewPrivs)" 1

	update_config '.process.noNewPrivileges = false'
	run berth run c2
	assert_success
	assert_equal "$(status_field "$output" NoNewPrivs)" 0
}

@test "oomScoreAdj: the container process has the score adjustment of the spec" {
	set_args cat /proc/self/oom_score_adj
	update_config '.process.oomScoreAdj = 527'
	run berth run c1
	assert_success
	assert_output 527

	# lowering the score needs CAP_SYS_RESOURCE (not every host has it)
	update_config '.process.oomScoreAdj = -250'
	run berth run c2
	if grep -q "^CapEff:.*" /proc/self/status && (( 0x$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status) & (1 << 24) )); then
		assert_success
		assert_output -250
	else
		assert_one_line_error 'process.oomScoreAdj: lowering it needs CAP_SYS_RESOURCE'
	fi

	# not set: inherited from the runtime
	update_config 'del(.process.oomScoreAdj)'
	run berth run c3
	assert_success
	assert_output "$(cat /proc/self/oom_score_adj)"
}

@test "sysctl: net.ipv4.ip_forward in the container's network namespace, the host's unchanged" {
	local host_before
	host_before=$(cat /proc/sys/net/ipv4/ip_forward)
	local want=1
	[ "$host_before" = 1 ] && want=0
	set_args cat /proc/sys/net/ipv4/ip_forward
	update_config '.linux.sysctl = {"net.ipv4.ip_forward": $v}' --arg v "$want"
	run berth run c1
	assert_success
	assert_output "$want"
	assert_equal "$(cat /proc/sys/net/ipv4/ip_forward)" "$host_before" "host ip_forward"
}

@test "sysctl: kernel.shmmax in the container's ipc namespace, the host's unchanged" {
	local host_before
	host_before=$(cat /proc/sys/kernel/shmmax)
	set_args cat /proc/sys/kernel/shmmax
	update_config '.linux.sysctl = {"kernel.shmmax": "123456789"}'
	run berth run c1
	assert_success
	assert_output 123456789
	assert_equal "$(cat /proc/sys/kernel/shmmax)" "$host_before" "host shmmax"
}

@test "sysctl: a non-namespaced sysctl (kernel.panic) is refused at create" {
	local host_before
	host_before=$(cat /proc/sys/kernel/panic)
	update_config '.linux.sysctl = {"kernel.panic": "17"}'
	run berth create c1
	assert_one_line_error 'linux.sysctl: "kernel.panic" is not namespaced'
	[ ! -e "$ROOT/c1" ]
	assert_equal "$(cat /proc/sys/kernel/panic)" "$host_before" "host kernel.panic"
}

@test "sysctl: a net.* sysctl without a private network namespace is refused" {
	update_config '.linux.namespaces |= map(select(.type != "network")) | .linux.sysctl = {"net.ipv4.ip_forward": "1"}'
	run berth create c1
	assert_one_line_error 'needs a private network namespace'
	[ ! -e "$ROOT/c1" ]
}

@test "personality: LINUX32 makes uname -m report i686" {
	[ "$(uname -m)" = x86_64 ] || skip "LINUX32 test written for x86_64 hosts"
	set_args uname -m
	update_config '.linux.personality = {domain: "LINUX32"}'
	run berth run c1
	assert_success
	assert_output i686

	update_config '.linux.personality = {domain: "LINUX"}'
	run berth run c2
	assert_success
	assert_output x86_64
}

@test "ioPriority: the process has the class and level of the spec" {
	set_args ionice -p 1
	update_config '.process.ioPriority = {class: "IOPRIO_CLASS_BE", priority: 6}'
	run berth run c1
	assert_success
	assert_output_contains "best-effort"
	assert_output_contains "prio 6"

	update_config '.process.ioPriority = {class: "IOPRIO_CLASS_IDLE", priority: 0}'
	run berth run c2
	assert_success
	assert_output_contains "idle"
}

@test "scheduler: SCHED_BATCH with nice 7 shows in /proc/self/stat" {
	# field 19 of /proc/PID/stat is nice, field 41 the policy (3 = SCHED_BATCH)
	set_args sh -c 'cut -d" " -f19,41 /proc/self/stat'
	update_config '.process.scheduler = {policy: "SCHED_BATCH", nice: 7}'
	run berth run c1
	assert_success
	assert_output "7 3"

	update_config '.process.scheduler = {policy: "SCHED_IDLE"}'
	run berth run c2
	assert_success
	assert_equal "$(cut -d' ' -f2 <<<"$output")" 5 "SCHED_IDLE policy"
}

@test "scheduler: SCHED_FIFO either applies or fails create with a clear error" {
	set_args sh -c 'cut -d" " -f40,41 /proc/self/stat'
	update_config '.process.scheduler = {policy: "SCHED_FIFO", priority: 10}'
	run berth run c1
	if [ "$status" -eq 0 ]; then
		# field 40 is rt_priority, 41 the policy (1 = SCHED_FIFO)
		assert_output "10 1"
	else
		# v1 cpu cgroups give a new group no realtime budget
		assert_one_line_error 'process.scheduler: sched_setattr'
	fi
}

@test "apparmorProfile: refused at create with a clear error on a host without AppArmor" {
	[ ! -e /sys/kernel/security/apparmor ] || skip "this host has AppArmor"
	update_config '.process.apparmorProfile = "berth-test-profile"'
	run berth create c1
	assert_one_line_error 'process.apparmorProfile: AppArmor is not enabled on this host'
	[ ! -e "$ROOT/c1" ]
	for d in $(cgroup_dirs "$CG_NAME"); do
		[ ! -e "$d" ] || fail "cgroup $d created"
	done

	# exec --apparmor and a process.json with a profile: the same check
	update_config 'del(.process.apparmorProfile)'
	set_args sleep 100
	berth_bg run -d c2
	run berth exec --apparmor berth-test-profile c2 true
	assert_one_line_error 'process.apparmorProfile: AppArmor is not enabled on this host'
	jq '.process | .args = ["true"] | .apparmorProfile = "p"' config.json >"$TEST_DIR/process.json"
	run berth exec --process "$TEST_DIR/process.json" c2
	assert_one_line_error 'process.apparmorProfile: AppArmor is not enabled on this host'
}

@test "selinuxLabel: refused at create with a clear error on a host without SELinux" {
	[ ! -e /sys/fs/selinux/enforce ] || skip "this host has SELinux"
	update_config '.process.selinuxLabel = "system_u:system_r:container_t:s0"'
	run berth create c1
	assert_one_line_error 'process.selinuxLabel: SELinux is not enabled on this host'
	[ ! -e "$ROOT/c1" ]

	update_config 'del(.process.selinuxLabel)'
	set_args sleep 100
	berth_bg run -d c2
	run berth exec --process-label system_u:system_r:container_t:s0 c2 true
	assert_one_line_error 'process.selinuxLabel: SELinux is not enabled on this host'
}

# ---------------------------------------------------------------------------
# CVE regression tests

# runtime_copy: a copy of the runtime binary for tests that try to
# overwrite it, so a failing test cannot damage the build.
runtime_copy() {
	mkdir -p "$TEST_DIR/bin"
	cp "$BERTH_RUNTIME" "$TEST_DIR/bin/berth-runtime"
	RT="$TEST_DIR/bin/berth-runtime"
}

rt() {
	env BERTH_IT_TAG="$TAG" "$RT" --root "$ROOT" "$@"
}

# no_runtime_running: waits until no process executes the copy $RT (a
# held fd can only be written once nothing executes the file). By inode:
# a guarded runtime runs from a bind mount whose path reads differently.
no_runtime_running() {
	local i p found id
	id=$(stat -c %d:%i "$RT")
	for ((i = 0; i < 100; i++)); do
		found=
		for p in /proc/[0-9]*; do
			[ "$(stat -L -c %d:%i "$p/exe" 2>/dev/null)" = "$id" ] && found=1 && break
		done
		[ -z "$found" ] && return 0
		sleep 0.05
	done
	return 1
}

@test "CVE-2019-5736 runtime binary cannot be overwritten" {
	runtime_copy
	local before
	before=$(sha256sum <"$RT")
	add_out_mount
	# The attacker opens /proc/PID/exe of every process it sees that is not
	# the container's own busybox (read-only: a write open of a running
	# binary fails with ETXTBSY), keeps the fds, and keeps trying to
	# reopen them for writing through /proc/self/fd until the runtime
	# binary no longer runs anywhere.
	cat >"$BUNDLE/rootfs/attack.sh" <<'EOF'
#!/bin/sh
fd=3
seen=" "
end=$(($(date +%s) + 12))
while [ "$(date +%s)" -lt "$end" ]; do
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		case "$seen" in *" $pid "*) continue ;; esac
		[ "$pid" = "$$" ] && continue
		target=$(readlink "$p/exe" 2>/dev/null) || { echo "denied $pid" >>/out/log; seen="$seen$pid "; continue; }
		seen="$seen$pid "
		[ "$target" = /bin/busybox ] && continue
		[ "$fd" -le 9 ] || continue
		if eval "exec $fd<$p/exe" 2>/dev/null; then
			echo "opened $pid $target as fd $fd" >>/out/log
			fd=$((fd + 1))
		else
			echo "denied open $pid" >>/out/log
		fi
	done
	i=3
	while [ "$i" -lt "$fd" ]; do
		if eval "printf '#PWNED' >>/proc/self/fd/$i" 2>/dev/null; then
			echo "WROTE fd $i" >>/out/log
			echo done >>/out/log
			exit 0
		fi
		i=$((i + 1))
	done
	[ -e /out/stop ] && break
	sleep 0.05
done
echo done >>/out/log
EOF
	chmod +x "$BUNDLE/rootfs/attack.sh"
	set_args sleep 100

	# created: the init waits as pid 1 in the container, still the runtime
	rt create c1
	rt exec -d c1 /attack.sh
	# exec'd processes are visible in the container's pid namespace too
	for i in $(seq 5); do
		rt exec c1 true
	done
	rt start c1
	for i in $(seq 5); do
		rt exec c1 true
	done
	# nothing executes the runtime any more: a held fd could be written now
	no_runtime_running
	sleep 1
	touch "$TEST_DIR/out/stop"
	wait_for_file "$TEST_DIR/out/stop"
	for ((i = 0; i < 100; i++)); do
		grep -q '^done' "$TEST_DIR/out/log" 2>/dev/null && break
		sleep 0.1
	done
	cat "$TEST_DIR/out/log" >&2
	grep -q '^done' "$TEST_DIR/out/log" || fail "the attacker did not finish"
	# it saw the init (pid 1) at least
	grep -Eq '^(denied|opened) 1( |$)' "$TEST_DIR/out/log" || grep -q '^denied open 1$' "$TEST_DIR/out/log" ||
		fail "the attacker never saw the init"
	! grep -q WROTE "$TEST_DIR/out/log" || fail "the runtime binary was written from the container"
	assert_equal "$(sha256sum <"$RT")" "$before" "sha256 of the runtime binary"
	rt delete --force c1
}

@test "CVE-2019-5736 #!/proc/self/exe: the runtime image run in the container cannot be reopened for writing" {
	runtime_copy
	local before
	before=$(sha256sum <"$RT")
	add_out_mount
	# /evil makes the exec process run the runtime's own image (the kernel
	# resolves the interpreter /proc/self/exe in the process that execs);
	# the runtime then blocks opening its --log fifo, in plain sight of the
	# attacker, which opens its /proc/PID/exe and writes once it exited.
	mkfifo "$BUNDLE/rootfs/tmp/fifo"
	printf '#!/proc/self/exe --log=/tmp/fifo\n' >"$BUNDLE/rootfs/evil"
	chmod +x "$BUNDLE/rootfs/evil"
	cat >"$BUNDLE/rootfs/attack.sh" <<'SCRIPT'
#!/bin/sh
end=$(($(date +%s) + 12))
held=
while [ "$(date +%s)" -lt "$end" ]; do
	if [ -z "$held" ]; then
		for p in /proc/[0-9]*; do
			[ "${p#/proc/}" = "$$" ] && continue
			target=$(readlink "$p/exe" 2>/dev/null) || continue
			[ "$target" = /bin/busybox ] && continue
			if exec 3<"$p/exe"; then
				held=${p#/proc/}
				echo "opened $held $target" >>/out/log
				break
			fi
		done
	else
		if printf '#PWNED' 2>>/out/log >>/proc/self/fd/3; then
			echo WROTE >>/out/log
			break
		fi
	fi
	[ -e /out/stop ] && break
	sleep 0.02
done
echo done >>/out/log
SCRIPT
	chmod +x "$BUNDLE/rootfs/attack.sh"
	set_args sleep 100
	rt run -d c1
	rt exec -d c1 /attack.sh
	rt exec -d c1 /evil
	for ((i = 0; i < 100; i++)); do
		grep -q '^opened' "$TEST_DIR/out/log" 2>/dev/null && break
		sleep 0.1
	done
	# release the runtime image blocked on the fifo; it exits
	timeout 5 cat "$BUNDLE/rootfs/tmp/fifo" >/dev/null
	no_runtime_running
	sleep 1
	touch "$TEST_DIR/out/stop"
	for ((i = 0; i < 100; i++)); do
		grep -q '^done' "$TEST_DIR/out/log" 2>/dev/null && break
		sleep 0.1
	done
	cat "$TEST_DIR/out/log" >&2
	grep -q '^opened' "$TEST_DIR/out/log" || fail "the runtime image never ran in the container"
	! grep -q WROTE "$TEST_DIR/out/log" || fail "the runtime binary was written from the container"
	assert_equal "$(sha256sum <"$RT")" "$before" "sha256 of the runtime binary"
}

# userns_exe_attack: with a user namespace mapping 0-65535 to 100000, the
# init execs #!/proc/self/exe, so that the container's pid 1 is the runtime
# image (blocked opening its --log fifo); a process exec'd into the
# container then tries to open /proc/1/exe for writing. Leaves the error in
# $output; the runtime's debug log is $TEST_DIR/run.log.
userns_exe_attack() {
	# the container's root must traverse the path to the bundle
	chmod o+x "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$TEST_DIR"
	update_config '.linux.namespaces = [.linux.namespaces[] | select(.type != "user")] + [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	mkfifo -m 0666 "$BUNDLE/rootfs/tmp/fifo"
	printf '#!/proc/self/exe --log=/tmp/fifo\n' >"$BUNDLE/rootfs/evil"
	chmod 0755 "$BUNDLE/rootfs/evil"
	set_args /evil
	rt --debug --log "$TEST_DIR/run.log" run -d c1
	local i pid id
	id=$(stat -c %d:%i "$RT")
	pid=$(pid_of c1)
	for ((i = 0; i < 100; i++)); do
		[ "$(stat -L -c %d:%i "/proc/$pid/exe" 2>/dev/null)" = "$id" ] && break
		[ "$(stat -L -c %i "/proc/$pid/exe" 2>/dev/null)" = "${id#*:}" ] && break
		sleep 0.05
	done
	run rt exec c1 sh -c 'readlink /proc/1/exe >/dev/null && exec 4>>/proc/1/exe && echo OPENED'
	# release the runtime image blocked on the fifo
	timeout 5 cat "$BUNDLE/rootfs/tmp/fifo" >/dev/null || true
	rt delete --force c1
}

@test "CVE-2019-5736 in a user namespace that maps neither the runtime's owner nor its group: no seal is needed, the binary stays unwritable" {
	runtime_copy
	local before
	before=$(sha256sum <"$RT")
	userns_exe_attack
	echo "$output" >&2
	refute_output_contains OPENED
	# refused by its permissions (a sealed binary would read EROFS)
	assert_output_contains "Permission denied"
	grep -q 'runtime binary: not sealed: the container.s user namespace maps neither' "$TEST_DIR/run.log" ||
		fail "no skip: $(cat "$TEST_DIR/run.log")"
	! grep -q 'sealed in place' "$TEST_DIR/run.log" || fail "sealed anyway: $(cat "$TEST_DIR/run.log")"
	assert_equal "$(sha256sum <"$RT")" "$before" "sha256 of the runtime binary"
}

@test "CVE-2019-5736 in a user namespace that maps the runtime's owner, or with a binary writable by others: sealed" {
	runtime_copy
	# the container's root owns this copy
	chown 100000:100000 "$RT"
	userns_exe_attack
	echo "$output" >&2
	refute_output_contains OPENED
	# its permissions let the container write it (busy while it runs):
	# only the seal keeps it from writes once it has exited
	assert_output_contains "Text file busy"
	grep -q 'sealed in place' "$TEST_DIR/run.log" || fail "not sealed: $(cat "$TEST_DIR/run.log")"

	# owned by root again but writable by others
	chown 0:0 "$RT"
	chmod 0757 "$RT"
	rm -f "$BUNDLE/rootfs/tmp/fifo" "$TEST_DIR/run.log"
	userns_exe_attack
	echo "$output" >&2
	refute_output_contains OPENED
	# its permissions let the container write it (busy while it runs):
	# only the seal keeps it from writes once it has exited
	assert_output_contains "Text file busy"
	grep -q 'sealed in place' "$TEST_DIR/run.log" || fail "not sealed: $(cat "$TEST_DIR/run.log")"
}

@test "CVE-2019-5736 with CAP_SYS_PTRACE: no /proc/PID/exe or map_files entry of the runtime is writable" {
	# A runtime on overlayfs, as in a kind node: there the kernel does not
	# notice a mapping of the binary left on the writable file when
	# /proc/self/exe is moved (PR_SET_MM_MAP), so each mapping must be moved.
	mkdir -p "$TEST_DIR/ovl/lower" "$TEST_DIR/ovl/upper" "$TEST_DIR/ovl/work" "$TEST_DIR/ovl/merged"
	cp "$BERTH_RUNTIME" "$TEST_DIR/ovl/lower/berth-runtime"
	mount -t overlay overlay -o "lowerdir=$TEST_DIR/ovl/lower,upperdir=$TEST_DIR/ovl/upper,workdir=$TEST_DIR/ovl/work" \
		"$TEST_DIR/ovl/merged"
	defer "umount '$TEST_DIR/ovl/merged'"
	RT="$TEST_DIR/ovl/merged/berth-runtime"
	local before
	before=$(sha256sum <"$RT")
	add_out_mount
	# non-dumpable runtime processes are open to CAP_SYS_PTRACE, and
	# /proc/PID/map_files to CAP_CHECKPOINT_RESTORE
	update_config '.process.capabilities |= with_entries(if .key == "bounding" or .key == "effective"
		or .key == "permitted" then .value += ["CAP_SYS_PTRACE", "CAP_CHECKPOINT_RESTORE"] else . end)'
	# The attacker opens /proc/PID/exe and every /proc/PID/map_files entry
	# of each process it sees that is not busybox, one fd per distinct link
	# target, and keeps trying to reopen them for writing.
	cat >"$BUNDLE/rootfs/attack.sh" <<'EOF'
#!/bin/sh
fd=3
held="|"
mapped=
end=$(($(date +%s) + 12))
while [ "$(date +%s)" -lt "$end" ]; do
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$$" ] && continue
		for link in "$p/exe" "$p"/map_files/*; do
			target=$(readlink "$link" 2>/dev/null) || continue
			[ "$target" = /bin/busybox ] && continue
			case "$link" in /proc/1/map_files/*)
				[ -n "$mapped" ] || echo "read 1/map_files: $target" >>/out/log
				mapped=1
				;;
			esac
			case "$held" in *"|$target|"*) continue ;; esac
			[ "$fd" -le 9 ] || continue
			if eval "exec $fd<$link" 2>/dev/null; then
				echo "opened ${link#/proc/} $target as fd $fd" >>/out/log
				held="$held$target|"
				fd=$((fd + 1))
			fi
		done
	done
	i=3
	while [ "$i" -lt "$fd" ]; do
		if eval "printf '#PWNED' >>/proc/self/fd/$i" 2>/dev/null; then
			echo "WROTE fd $i" >>/out/log
			echo done >>/out/log
			exit 0
		fi
		i=$((i + 1))
	done
	[ -e /out/stop ] && break
	sleep 0.05
done
echo done >>/out/log
EOF
	chmod +x "$BUNDLE/rootfs/attack.sh"
	set_args sleep 100

	# created: the init waits as pid 1 in the container, still the runtime
	rt create c1
	rt exec -d c1 /attack.sh
	for ((i = 0; i < 100; i++)); do
		grep -q '^read 1/map_files' "$TEST_DIR/out/log" 2>/dev/null && break
		sleep 0.05
	done
	for i in $(seq 3); do
		rt exec c1 true
	done
	rt start c1
	no_runtime_running
	sleep 1
	touch "$TEST_DIR/out/stop"
	for ((i = 0; i < 100; i++)); do
		grep -q '^done' "$TEST_DIR/out/log" 2>/dev/null && break
		sleep 0.1
	done
	cat "$TEST_DIR/out/log" >&2
	grep -q '^done' "$TEST_DIR/out/log" || fail "the attacker did not finish"
	grep -q '^read 1/map_files' "$TEST_DIR/out/log" || fail "the attacker never saw the init's mappings"
	! grep -q WROTE "$TEST_DIR/out/log" || fail "the runtime binary was written from the container"
	assert_equal "$(sha256sum <"$RT")" "$before" "sha256 of the runtime binary"
	rt delete --force c1
}

@test "CVE-2019-5736 guard: create, run and exec seal the runtime in place, without a second execve" {
	set_args true
	run berth --debug --log "$TEST_DIR/run.log" run c1
	assert_success
	grep -q 'runtime binary: sealed in place' "$TEST_DIR/run.log" || fail "run: $(cat "$TEST_DIR/run.log")"
	! grep -q 're-executing' "$TEST_DIR/run.log" || fail "run re-executed: $(cat "$TEST_DIR/run.log")"

	set_args sleep 100
	berth_bg --debug --log "$TEST_DIR/create.log" create c2
	grep -q 'runtime binary: sealed in place' "$TEST_DIR/create.log" || fail "create: $(cat "$TEST_DIR/create.log")"
	run berth --debug --log "$TEST_DIR/exec.log" exec c2 true
	assert_success
	grep -q 'runtime binary: sealed in place' "$TEST_DIR/exec.log" || fail "exec: $(cat "$TEST_DIR/exec.log")"
	# the init runs from the read-only view of the binary: same inode
	assert_equal "$(stat -L -c %i "/proc/$(pid_of c2)/exe")" "$(stat -c %i "$BERTH_RUNTIME")" "inode of the init's exe"

	# the fallback: one more execve of the sealed binary
	BERTH_EXE_GUARD=reexec berth --debug --log "$TEST_DIR/reexec.log" exec c2 true
	grep -q 're-executing' "$TEST_DIR/reexec.log" || fail "no re-exec: $(cat "$TEST_DIR/reexec.log")"
	berth delete --force c2
}

@test "CVE-2016-9962 the init's fds, cwd and memory are out of the container's reach before start" {
	set_args sleep 100
	berth_bg create c1
	# a process exec'd into the created container sees the init as pid 1
	run berth exec c1 sh -c 'ls /proc/1/fd; readlink /proc/1/cwd; head -c1 /proc/1/environ'
	assert_failure
	assert_output_contains "Permission denied"
	refute_output_contains "$ROOT"
	run berth exec c1 readlink /proc/1/exe
	assert_failure
	# the host (CAP_SYS_PTRACE) still sees it, and the process after start
	# is an ordinary one again
	local pid
	pid=$(pid_of c1)
	[ -n "$(ls "/proc/$pid/fd")" ]
	berth start c1
	run berth exec c1 readlink /proc/1/exe
	assert_success
	assert_output /bin/busybox
}

# core_pattern_guard: restores the host's core_pattern in teardown should a
# test (of a broken runtime) change it.
core_pattern_guard() {
	CORE_PATTERN_BEFORE=$(cat /proc/sys/kernel/core_pattern)
	printf '%s\n' "$CORE_PATTERN_BEFORE" >"$TEST_DIR/core_pattern.saved"
	defer "[ \"\$(cat /proc/sys/kernel/core_pattern)\" = \"\$(cat '$TEST_DIR/core_pattern.saved')\" ] || cat '$TEST_DIR/core_pattern.saved' >/proc/sys/kernel/core_pattern"
}

assert_core_pattern_unchanged() {
	assert_equal "$(cat /proc/sys/kernel/core_pattern)" "$CORE_PATTERN_BEFORE" "host kernel.core_pattern"
}

# dev_from_rootfs: no tmpfs on /dev: the image's own /dev is what the
# runtime finds there.
dev_from_rootfs() {
	update_config '.mounts |= map(select(.destination != "/dev" and .destination != "/dev/pts" and .destination != "/dev/shm" and .destination != "/dev/mqueue"))'
}

@test "CVE-2025-31133 /dev/null symlink does not redirect masking" {
	core_pattern_guard
	echo "host secret" >"$TEST_DIR/host-file"
	dev_from_rootfs
	ln -s /proc/sys/kernel/core_pattern "$BUNDLE/rootfs/dev/null"
	# every masked path would be a bind of core_pattern, writable: a write
	# to any of them would reach the host's kernel.core_pattern
	set_args sh -c 'for f in /proc/kcore /proc/keys /proc/timer_list; do
			[ -e "$f" ] || continue
			echo "$f $(stat -c %F:%t:%T "$f")"
			echo "|/tmp/pwn %p" >"$f" 2>/dev/null && echo "wrote $f"
		done; true'
	run berth run c1
	if [ "$status" -eq 0 ]; then
		# masked safely: every masked file present is the real null device
		[ "${#lines[@]}" -gt 0 ] || fail "no masked path found"
		for line in "${lines[@]}"; do
			case "$line" in
			wrote*) ;;
			*" character special file:1:3") ;;
			*) fail "not masked with the null device: $line" ;;
			esac
		done
	else
		assert_one_line_error "/dev/null"
	fi
	assert_core_pattern_unchanged
	assert_equal "$(cat "$TEST_DIR/host-file")" "host secret"

	# /dev bind mounted from the host side with a null symlink to a host
	# file: the runtime creates no nodes there, so it must refuse to mask
	mkdir -p "$TEST_DIR/devdir"
	ln -s /proc/sys/kernel/core_pattern "$TEST_DIR/devdir/null"
	update_config '.mounts += [{destination: "/dev", type: "bind", source: $s, options: ["rbind"]}]' \
		--arg s "$TEST_DIR/devdir"
	run berth run c2
	assert_one_line_error "maskedPaths: /dev/null in the container is not the null device"
	assert_core_pattern_unchanged
	[ ! -e "$ROOT/c2" ]
}

@test "CVE-2025-52565 /dev/console symlink" {
	core_pattern_guard
	echo "host secret" >"$TEST_DIR/host-file"
	dev_from_rootfs
	update_config '.process.terminal = true'
	set_args sh -c 'echo "|/tmp/pwn %p" >/dev/console; echo done'
	for target in /proc/sys/kernel/core_pattern "$TEST_DIR/host-file" /etc/hostname; do
		rm -f "$BUNDLE/rootfs/dev/console"
		ln -s "$target" "$BUNDLE/rootfs/dev/console"
		rm -f "$TEST_DIR/console.sock"
		"$CONSOLE_RECEIVER" "$TEST_DIR/console.sock" >"$TEST_DIR/console.out" 2>&1 &
		track_pid $!
		wait_for_file "$TEST_DIR/console.sock"
		run berth_bg run -d --console-socket "$TEST_DIR/console.sock" c1
		if [ "$status" -eq 0 ]; then
			# the pty went to /dev/console, not the symlink's target
			wait_for_status c1 stopped
			berth delete c1
		else
			assert_output_contains "/dev/console"
		fi
		assert_core_pattern_unchanged
		assert_equal "$(cat "$TEST_DIR/host-file")" "host secret"
		assert_equal "$(cat "$BUNDLE/rootfs/etc/hostname")" berth-test
	done
}

@test "CVE-2025-52881 sysctl write through a symlink or another procfs file" {
	core_pattern_guard
	# a bind of another procfs file over the sysctl's file: the write must
	# not be redirected to it
	update_config '.mounts += [{destination: "/proc/sys/net/ipv4/ip_forward", type: "bind", source: "/proc/sys/kernel/core_pattern", options: ["bind"]}]
		| .linux.sysctl = {"net.ipv4.ip_forward": "|/tmp/pwn %p"}'
	run berth_bg create c1
	assert_one_line_error 'linux.sysctl'
	assert_core_pattern_unchanged
	[ ! -e "$ROOT/c1" ]

	# names that would climb out of /proc/sys or follow /proc/self
	for key in "net/../../sys/kernel/core_pattern" "../../proc/sys/kernel/core_pattern" "net.ipv4.conf.all/../../../../self/attr/exec"; do
		update_config 'del(.mounts[] | select(.destination == "/proc/sys/net/ipv4/ip_forward")) | .linux.sysctl = {($k): "x"}' --arg k "$key"
		run berth_bg create c2
		assert_failure
		assert_output_contains "linux.sysctl"
		[ ! -e "$ROOT/c2" ]
	done
	assert_core_pattern_unchanged
}

@test "CVE-2021-30465 mount target swapped for a symlink" {
	mkdir -p "$TEST_DIR/src"
	echo marker >"$TEST_DIR/src/marker"
	local name="berth-cve-30465-$TAG"
	# an absolute symlink to the host's /etc and to /, and a relative one
	# that climbs: all resolve inside the rootfs
	ln -s /etc "$BUNDLE/rootfs/etclink"
	ln -s / "$BUNDLE/rootfs/rootlink"
	ln -s ../../../../../../../../etc "$BUNDLE/rootfs/uplink"
	update_config '.mounts += [
		{destination: ("/etclink/" + $n), type: "bind", source: $s, options: ["rbind"]},
		{destination: ("/rootlink/" + $n), type: "bind", source: $s, options: ["rbind"]},
		{destination: ("/uplink/" + $n + "-up"), type: "bind", source: $s, options: ["rbind"]}]' \
		--arg s "$TEST_DIR/src" --arg n "$name"
	set_args sh -c "cat /etc/$name/marker /$name/marker /etc/$name-up/marker"
	run berth run c1
	assert_success
	assert_output "marker
marker
marker"
	# nothing was created or mounted on the host
	[ ! -e "/etc/$name" ] || fail "/etc/$name created on the host"
	[ ! -e "/$name" ] || fail "/$name created on the host"
	[ ! -e "/etc/$name-up" ] || fail "/etc/$name-up created on the host"
	[ -d "$BUNDLE/rootfs/etc/$name" ]
	! grep -q "$name" /proc/self/mountinfo

	# the destination itself a symlink to the host's /etc, to a missing
	# absolute path, and one that climbs: resolved inside the rootfs, as
	# runc and crun do; targets created there, never on the host
	ln -s "/$name-missing/deep" "$BUNDLE/rootfs/dangling"
	ln -s "../../../../../../../$name-up-missing" "$BUNDLE/rootfs/var/updangling"
	update_config '.mounts = [.mounts[] | select(.destination | startswith("/etclink") or startswith("/rootlink") or startswith("/uplink") | not)]
		| .mounts += [{destination: "/etclink", type: "bind", source: $s, options: ["rbind"]},
			{destination: "/dangling", type: "tmpfs", source: "tmpfs", options: ["size=1m"]},
			{destination: "/var/updangling", type: "bind", source: ($s + "/marker"), options: ["bind"]}]' \
		--arg s "$TEST_DIR/src"
	set_args sh -c "cat /etc/marker; grep \" /$name-missing/deep \" /proc/self/mountinfo | wc -l; cat /$name-up-missing"
	run berth run c2
	assert_success
	assert_output "marker
1
marker"
	[ ! -e /etc/marker ] || fail "/etc/marker created on the host"
	[ ! -e "/$name-missing" ] || fail "/$name-missing created on the host"
	[ ! -e "/$name-up-missing" ] || fail "/$name-up-missing created on the host"
	[ -d "$BUNDLE/rootfs/$name-missing/deep" ]
	[ -f "$BUNDLE/rootfs/$name-up-missing" ]
	# the image's /etc was covered, not written
	[ ! -e "$BUNDLE/rootfs/etc/marker" ]
	! grep -q "$name" /proc/self/mountinfo
}

@test "CVE-2019-16884 volume over /proc" {
	mkdir -p "$TEST_DIR/fakeproc/self/attr"
	echo fake >"$TEST_DIR/fakeproc/self/attr/exec"
	update_config '.mounts += [{destination: "/proc", type: "bind", source: $s, options: ["rbind"]}]' \
		--arg s "$TEST_DIR/fakeproc"
	run berth_bg create c1
	assert_one_line_error 'only procfs may be mounted on /proc'
	[ ! -e "$ROOT/c1" ]

	# below /proc too, and a tmpfs on /proc
	update_config '.mounts[-1].destination = "/proc/self"'
	run berth_bg create c1
	assert_one_line_error 'only procfs may be mounted on /proc'
	update_config '.mounts[-1] = {destination: "/proc", type: "tmpfs", source: "tmpfs"}'
	run berth_bg create c1
	assert_one_line_error 'only procfs may be mounted on /proc'

	# through a symlink in the rootfs that points at /proc: followed inside
	# the rootfs, and the rule applies to where it leads
	ln -s /proc "$BUNDLE/rootfs/myproc"
	update_config '.mounts[-1] = {destination: "/myproc", type: "bind", source: $s, options: ["rbind"]}' \
		--arg s "$TEST_DIR/fakeproc"
	run berth_bg create c1
	assert_one_line_error 'only procfs may be mounted on /proc'
	[ ! -e "$ROOT/c1" ]
	update_config '.mounts[-1].destination = "/myproc/self"'
	run berth_bg create c1
	assert_failure
	[ ! -e "$ROOT/c1" ]
	update_config '.mounts[-1] = {destination: "/myproc", type: "tmpfs", source: "tmpfs"}'
	run berth_bg create c1
	assert_one_line_error 'only procfs may be mounted on /proc'
	[ ! -e "$ROOT/c1" ]
}

@test "CVE-2024-21626 no host fd survives exec" {
	set_args sh -c 'ls /proc/self/fd; echo; ls -l /proc/self/cwd'
	# fds the runtime was given (not --preserve-fds) stay out
	exec 7<"$TEST_DIR" 8</etc/hostname
	run berth run c1
	exec 7<&- 8<&-
	assert_success
	# 0 1 2 and ls's own directory fd
	assert_equal "$(sed -n 1,4p <<<"$output" | tr '\n' ' ')" "0 1 2 3 "
	[ "$(sed -n 5p <<<"$output")" = "" ]
	assert_output_contains "/proc/self/cwd -> /"

	# the same for exec
	set_args sleep 100
	berth_bg run -d c2
	exec 7<"$TEST_DIR"
	run berth exec c2 ls /proc/self/fd
	exec 7<&-
	assert_success
	assert_equal "$(echo $output)" "0 1 2 3"

	# a cwd through a leaked fd would be a directory of the host
	for n in 3 4 5 6 7 8 9 10; do
		update_config '.process.cwd = $c | .linux.cgroupsPath = $g' --arg c "/proc/self/fd/$n" \
			--arg g "berth-test/$CG_NAME-cwd$n"
		set_args pwd
		run berth_bg create "cwd$n"
		assert_failure
		assert_output_contains "process.cwd"
		[ ! -e "$ROOT/cwd$n" ]
		for d in $(cgroup_dirs "$CG_NAME-cwd$n"); do
			[ ! -e "$d" ] || fail "cgroup $d left behind"
		done
		run berth exec --cwd "/proc/self/fd/$n" c2 pwd
		assert_failure
		assert_output_contains "process.cwd"
	done
}
