#!/usr/bin/env bats
# cgroups on this host's hierarchies (v1 controllers, or v2 where the
# machine has it): resources, cgroupsPath, the cgroup namespace and mount,
# update, pause/resume, events --stats, ps and kill --all. Every cgroup is
# created beneath the test process's own cgroup.

load helpers

setup() {
	berth_setup
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		CGROUP_V2=1
	else
		CGROUP_V2=
	fi
}

# requires_v1: these tests read v1 knobs; a cgroup v2 host needs its own.
requires_v1() {
	[ -z "$CGROUP_V2" ] || skip "cgroup v1 knobs; this host has a unified (v2) hierarchy"
}

# cg_dir CONTROLLER [NAME]: the container's cgroup directory (berth-test/NAME,
# NAME defaulting to the test's) in the v1 hierarchy that has CONTROLLER.
cg_dir() {
	local d
	for d in $(cgroup_dirs "${2:-$CG_NAME}"); do
		case "$d" in
		/sys/fs/cgroup/$1/* | /sys/fs/cgroup/$1,*/* | /sys/fs/cgroup/*,$1/* | /sys/fs/cgroup/*,$1,*/*)
			echo "$d"
			return 0
			;;
		esac
	done
	return 1
}

has_controller() {
	grep -Eq "^[0-9]+:([^:]*,)?$1(,[^:]*)?:" /proc/self/cgroup
}

# own_cgroup CONTROLLER: this process's cgroup path in that hierarchy.
own_cgroup() {
	awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup
}

@test "cgroups: memory limit, reservation, swap, swappiness and disableOOMKiller land in the memory cgroup" {
	requires_v1
	set_args sleep 100
	update_config '.linux.resources.memory = {limit: 67108864, reservation: 33554432, swap: 67108864, swappiness: 10, disableOOMKiller: true}'
	berth_bg create c1
	local d
	d=$(cg_dir memory)
	assert_equal "$(cat "$d/memory.limit_in_bytes")" 67108864 limit
	assert_equal "$(cat "$d/memory.soft_limit_in_bytes")" 33554432 reservation
	if [ -f "$d/memory.memsw.limit_in_bytes" ]; then
		assert_equal "$(cat "$d/memory.memsw.limit_in_bytes")" 67108864 swap
	fi
	assert_equal "$(cat "$d/memory.swappiness")" 10 swappiness
	grep -qx "oom_kill_disable 1" "$d/memory.oom_control"
	grep -qx "$(pid_of c1)" "$d/cgroup.procs"
}

@test "cgroups: the memory limit is enforced: a process that touches more is OOM-killed" {
	requires_v1
	# memory+swap equal to memory: no swap to escape to
	update_config '.linux.resources.memory = {limit: 33554432, swap: 33554432}'
	set_args dd if=/dev/zero of=/dev/null bs=64M count=1
	run berth run c1
	assert_failure 137
	set_args dd if=/dev/zero of=/dev/null bs=8M count=1
	run berth run c2
	assert_success
}

@test "cgroups: cpu shares, quota, period, burst, cpus and mems" {
	requires_v1
	set_args sleep 100
	update_config '.linux.resources.cpu = {shares: 512, quota: 50000, period: 100000, burst: 10000, cpus: "0", mems: "0"}'
	berth_bg create c1
	local d
	d=$(cg_dir cpu)
	assert_equal "$(cat "$d/cpu.shares")" 512 shares
	assert_equal "$(cat "$d/cpu.cfs_quota_us")" 50000 quota
	assert_equal "$(cat "$d/cpu.cfs_period_us")" 100000 period
	if [ -f "$d/cpu.cfs_burst_us" ]; then
		assert_equal "$(cat "$d/cpu.cfs_burst_us")" 10000 burst
	fi
	d=$(cg_dir cpuset)
	assert_equal "$(cat "$d/cpuset.cpus")" 0 cpus
	assert_equal "$(cat "$d/cpuset.mems")" 0 mems
	# the init runs on CPU 0 only
	grep -q "^Cpus_allowed_list:[[:space:]]*0$" "/proc/$(pid_of c1)/status"
}

@test "cgroups: cpu realtime runtime and period: applied, or a clear error on this host" {
	requires_v1
	set_args sleep 100
	update_config '.linux.resources.cpu = {realtimeRuntime: 1000, realtimePeriod: 100000}'
	run berth_bg create c1
	if [ "$status" -eq 0 ]; then
		local d
		d=$(cg_dir cpu)
		assert_equal "$(cat "$d/cpu.rt_runtime_us")" 1000
		assert_equal "$(cat "$d/cpu.rt_period_us")" 100000
	else
		# the parent cgroup has no realtime budget to hand out
		assert_one_line_error "cpu.rt_"
		[ ! -e "$ROOT/c1" ]
	fi
}

@test "cgroups: pids limit caps a fork bomb" {
	requires_v1
	update_config '.linux.resources.pids = {limit: 10}'
	# the forks run in a subshell: a shell that cannot fork gives up
	set_args sh -c '(i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i + 1)); done) 2>/dev/null
		n=0; for p in /proc/[0-9]*; do n=$((n + 1)); done; echo "running $n"; kill -9 -1; true'
	run berth run c1
	assert_success
	local n
	n=$(awk '$1 == "running" { print $2 }' <<<"$output")
	[ "$n" -le 10 ] || fail "$n processes in a container limited to 10"
	[ "$n" -ge 5 ] || fail "only $n processes: the limit did not let any fork through"
}

@test "cgroups: pids.max is written" {
	requires_v1
	set_args sleep 100
	update_config '.linux.resources.pids = {limit: 42}'
	berth_bg create c1
	assert_equal "$(cat "$(cg_dir pids)/pids.max")" 42
}

@test "cgroups: blockIO weight: applied, or a clear error where the kernel has no weight knob" {
	requires_v1
	set_args sleep 100
	update_config '.linux.resources.blockIO = {weight: 300}'
	run berth_bg create c1
	local d
	if [ "$status" -eq 0 ]; then
		d=$(cg_dir blkio)
		grep -q 300 "$d/blkio.weight" 2>/dev/null || grep -q 300 "$d/blkio.bfq.weight"
	else
		assert_one_line_error "blkio.weight"
		[ ! -e "$ROOT/c1" ]
	fi
}

@test "cgroups: blockIO throttles land in blkio.throttle.*" {
	requires_v1
	local dev majmin
	dev=$(awk '$2 == "/" { print $1 }' /proc/self/mounts | head -1)
	majmin=$(stat -L -c '%t:%T' "$dev" 2>/dev/null) || skip "no block device for /"
	local major=$((16#${majmin%:*})) minor=$((16#${majmin#*:}))
	# throttles apply to whole disks
	[ -e "/sys/dev/block/$major:$minor/partition" ] && minor=0
	set_args sleep 100
	update_config '.linux.resources.blockIO = {throttleReadBpsDevice: [{major: $ma, minor: $mi, rate: 1048576}],
		throttleWriteIOPSDevice: [{major: $ma, minor: $mi, rate: 100}]}' --argjson ma "$major" --argjson mi "$minor"
	berth_bg create c1
	local d
	d=$(cg_dir blkio)
	grep -qx "$major:$minor 1048576" "$d/blkio.throttle.read_bps_device"
	grep -qx "$major:$minor 100" "$d/blkio.throttle.write_iops_device"
}

@test "cgroups: hugepageLimits: applied, or a clear error without the hugetlb controller" {
	requires_v1
	set_args sleep 100
	update_config '.linux.resources.hugepageLimits = [{pageSize: "2MB", limit: 20971520}]'
	run berth_bg create c1
	if has_controller hugetlb; then
		assert_success
		assert_equal "$(cat "$(cg_dir hugetlb)/hugetlb.2MB.limit_in_bytes")" 20971520
	else
		assert_one_line_error "hugetlb"
		[ ! -e "$ROOT/c1" ]
	fi
}

@test "cgroups: network classID and priorities: applied, or a clear error without net_cls/net_prio" {
	requires_v1
	set_args sleep 100
	update_config '.linux.resources.network = {classID: 1048577}'
	run berth_bg create c1
	if has_controller net_cls; then
		assert_success
		assert_equal "$(cat "$(cg_dir net_cls)/net_cls.classid")" 1048577
		berth delete --force c1
	else
		assert_one_line_error "net_cls"
		[ ! -e "$ROOT/c1" ]
	fi
	update_config '.linux.resources.network = {priorities: [{name: "lo", priority: 5}]}'
	run berth_bg create c2
	if has_controller net_prio; then
		assert_success
		grep -qx "lo 5" "$(cg_dir net_prio)/net_prio.ifpriomap"
	else
		assert_one_line_error "net_prio"
		[ ! -e "$ROOT/c2" ]
	fi
}

@test "cgroups: devices: a device the rules do not allow cannot be opened; an allow rule opens it" {
	requires_v1
	# /dev/fuse (c 10:229) is no default device: made with mknod (allowed
	# for every device, as runc does), opened only where a rule allows it
	update_config '.process.capabilities.bounding += ["CAP_MKNOD"] | .process.capabilities.effective += ["CAP_MKNOD"]
		| .process.capabilities.permitted += ["CAP_MKNOD"]
		| .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid"]}]'
	set_args sh -c 'mknod /tmp/fuse c 10 229 && echo made; (exec 3</tmp/fuse) && echo read-ok; (exec 3>/tmp/fuse) && echo write-ok; head -c1 /dev/zero | od -An -tx1'
	run berth run c1
	assert_success
	assert_output_contains made
	refute_output_contains read-ok
	refute_output_contains write-ok
	assert_output_contains "Operation not permitted"
	# the default devices stay usable
	assert_output_contains " 00"

	# read access only
	update_config '.linux.resources.devices += [{allow: true, type: "c", major: 10, minor: 229, access: "r"}]'
	run berth run c2
	assert_success
	assert_output_contains read-ok
	refute_output_contains write-ok

	# the rules land in devices.list
	set_args sleep 100
	berth_bg create c3
	grep -qx "c 10:229 r" "$(cg_dir devices)/devices.list"
	! grep -q "^a " "$(cg_dir devices)/devices.list"
}

@test "cgroups: devices: a deny rule after an allow rule takes the device back" {
	requires_v1
	update_config '.process.capabilities.bounding += ["CAP_MKNOD"] | .process.capabilities.effective += ["CAP_MKNOD"]
		| .process.capabilities.permitted += ["CAP_MKNOD"]
		| .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid"]}]
		| .linux.resources.devices = [{allow: true, access: "rwm"}, {allow: false, type: "c", major: 10, minor: 229, access: "rw"}]'
	set_args sh -c 'mknod /tmp/fuse c 10 229; (exec 3</tmp/fuse) && echo read-ok; mknod /tmp/lc c 10 237; (exec 3</tmp/lc) && echo other-ok'
	run berth run c1
	assert_success
	refute_output_contains read-ok
	# everything else is allowed: /dev/loop-control (c 10:237) opens
	assert_output_contains other-ok
}

@test "cgroups: a relative cgroupsPath lands beneath the runtime's own cgroup in every hierarchy" {
	set_args sleep 100
	berth_bg create c1
	local pid line own
	pid=$(pid_of c1)
	while IFS=: read -r _ ctrls path; do
		own=$(awk -F: -v c="$ctrls" '$2 == c { print $3 }' /proc/self/cgroup)
		[ "$path" = "${own%/}/berth-test/$CG_NAME" ] || fail "hierarchy \"$ctrls\": $path, not ${own%/}/berth-test/$CG_NAME"
	done <"/proc/$pid/cgroup"
}

@test "cgroups: an absolute cgroupsPath is taken from the hierarchy root (here: beneath our own memory cgroup)" {
	requires_v1
	local own name abs d
	own=$(own_cgroup memory)
	name="berth-abs-$TAG"
	abs="${own%/}/$name"
	update_config '.linux.cgroupsPath = $p | .linux.resources.memory = {limit: 50331648}' --arg p "$abs"
	set_args sleep 100
	berth_bg create c1
	d="/sys/fs/cgroup/memory$abs"
	[ -d "$d" ] || fail "no $d"
	assert_equal "$(cat "$d/memory.limit_in_bytes")" 50331648
	grep -qx "$(pid_of c1)" "$d/cgroup.procs"
	# in a hierarchy where we are at "/", the same absolute path
	[ -d "/sys/fs/cgroup/pids$abs" ] || fail "no /sys/fs/cgroup/pids$abs"
	grep -q ":memory:$abs\$" "/proc/$(pid_of c1)/cgroup"
	berth delete --force c1
	[ ! -e "$d" ] || fail "$d left behind"
	[ ! -e "/sys/fs/cgroup/pids$abs" ] || fail "/sys/fs/cgroup/pids$abs left behind"
}

@test "cgroups: the cgroup namespace: the container sees its own cgroup as /" {
	set_args cat /proc/self/cgroup
	run berth run c1
	assert_success
	local line
	for line in "${lines[@]}"; do
		[ "${line##*:}" = / ] || fail "not / in the container: $line"
	done

	# without a cgroup namespace the host path shows
	update_config '.linux.namespaces |= map(select(.type != "cgroup"))'
	run berth run c2
	assert_success
	assert_output_contains "/berth-test/$CG_NAME"
}

@test "cgroups: a cgroup mount shows the container's own cgroups, read-only" {
	requires_v1
	update_config '.linux.resources.memory = {limit: 41943040} | .linux.resources.pids = {limit: 33}'
	set_args sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
		ls /sys/fs/cgroup | sort | tr "\n" " "; echo
		mkdir /sys/fs/cgroup/memory/sub 2>&1; echo 1 >/sys/fs/cgroup/pids/pids.max 2>&1; grep " /sys/fs/cgroup/memory " /proc/mounts'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" 41943040
	assert_equal "${lines[1]}" 33
	assert_output_contains "memory"
	assert_output_contains "pids"
	assert_output_contains "Read-only file system"
	assert_output_contains " ro,"
}

@test "cgroups: a cgroup mount without a cgroup namespace binds the container's cgroups from the host" {
	requires_v1
	# no cgroup namespace (podman's default on v1): the hierarchies are the
	# host's, bound before pivot_root, not mounted afresh after it
	update_config '.linux.namespaces |= map(select(.type != "cgroup"))
		| .linux.resources.memory = {limit: 41943040} | .linux.resources.pids = {limit: 33}'
	set_args sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" 41943040
	assert_equal "${lines[1]}" 33
}

@test "update: changes memory, cpu and pids limits of a running container (flags and -r JSON)" {
	requires_v1
	set_args sleep 100
	update_config '.linux.resources.memory = {limit: 33554432} | .linux.resources.cpu = {shares: 100} | .linux.resources.pids = {limit: 20}'
	berth_bg run -d c1
	run berth update --memory 67108864 --cpu-share 300 --pids-limit 30 --cpu-quota 20000 --cpu-period 100000 c1
	assert_success
	assert_equal "$(cat "$(cg_dir memory)/memory.limit_in_bytes")" 67108864
	assert_equal "$(cat "$(cg_dir cpu)/cpu.shares")" 300
	assert_equal "$(cat "$(cg_dir cpu)/cpu.cfs_quota_us")" 20000
	assert_equal "$(cat "$(cg_dir pids)/pids.max")" 30

	echo '{"memory": {"limit": 50331648}, "pids": {"limit": 25}}' >"$TEST_DIR/r.json"
	run berth update -r "$TEST_DIR/r.json" c1
	assert_success
	assert_equal "$(cat "$(cg_dir memory)/memory.limit_in_bytes")" 50331648
	assert_equal "$(cat "$(cg_dir pids)/pids.max")" 25
	# untouched by the second update
	assert_equal "$(cat "$(cg_dir cpu)/cpu.shares")" 300

	echo '{"pids": {"limit": 26}}' | berth update -r - c1
	assert_equal "$(cat "$(cg_dir pids)/pids.max")" 26

	run berth update --memory nonsense c1
	assert_failure
	run berth update --pids-limit 5 nosuchcontainer
	assert_one_line_error "nosuchcontainer"
}

@test "pause/resume: the freezer stops the processes; resume lets them go on" {
	add_out_mount
	# the counter file is replaced whole: frozen halfway, it is never empty
	set_args sh -c 'i=0; while true; do i=$((i + 1)); echo $i >/out/c.tmp; mv /out/c.tmp /out/counter; sleep 0.05; done'
	berth_bg run -d c1
	wait_for_file "$TEST_DIR/out/counter"
	run berth pause c1
	assert_success
	assert_equal "$(status_of c1)" paused
	if [ -z "$CGROUP_V2" ]; then
		assert_equal "$(cat "$(cg_dir freezer)/freezer.state")" FROZEN
	fi
	local a b
	sleep 0.3
	a=$(cat "$TEST_DIR/out/counter")
	sleep 0.5
	b=$(cat "$TEST_DIR/out/counter")
	assert_equal "$b" "$a" "counter while paused"
	# exec into a paused container is refused
	run berth exec c1 true
	assert_failure
	assert_output_contains "paused"
	run berth pause c1
	assert_failure

	run berth resume c1
	assert_success
	assert_equal "$(status_of c1)" running
	if [ -z "$CGROUP_V2" ]; then
		assert_equal "$(cat "$(cg_dir freezer)/freezer.state")" THAWED
	fi
	sleep 0.5
	b=$(cat "$TEST_DIR/out/counter")
	[ "$b" -gt "$a" ] || fail "counter did not advance after resume ($a -> $b)"
	run berth resume c1
	assert_failure

	# a paused container can be killed and deleted
	berth pause c1
	run berth delete --force c1
	assert_success
}

@test "events --stats: one JSON sample in runc's shape" {
	set_args sh -c 'sleep 100 & sleep 100'
	update_config '.linux.resources.memory = {limit: 67108864} | .linux.resources.pids = {limit: 50}'
	berth_bg run -d c1
	run berth events --stats c1
	assert_success
	[ "${#lines[@]}" -eq 1 ] || fail "expected one line, got: $output"
	assert_equal "$(jq -r .type <<<"$output")" stats
	assert_equal "$(jq -r .id <<<"$output")" c1
	[ "$(jq -r .data.pids.current <<<"$output")" -ge 2 ]
	assert_equal "$(jq -r .data.pids.limit <<<"$output")" 50
	[ "$(jq -r .data.memory.usage.usage <<<"$output")" -gt 0 ]
	assert_equal "$(jq -r .data.memory.usage.limit <<<"$output")" 67108864
	jq -e '.data.cpu.usage.total | numbers' <<<"$output" >/dev/null
	jq -e '.data.memory.raw | objects' <<<"$output" >/dev/null

	run berth events --stats nosuch
	assert_one_line_error "nosuch"
}

@test "ps: JSON and table list every process of the container" {
	set_args sh -c 'sleep 100 & sleep 100 & wait'
	berth_bg run -d c1
	local init
	init=$(pid_of c1)
	for ((i = 0; i < 50; i++)); do
		[ "$(berth ps --format json c1 | jq length)" -ge 3 ] && break
		sleep 0.1
	done
	run berth ps --format json c1
	assert_success
	assert_equal "$(jq length <<<"$output")" 3
	jq -e --argjson p "$init" 'index($p) != null' <<<"$output" >/dev/null
	local pid
	for pid in $(jq -r '.[]' <<<"$output"); do
		grep -q "/berth-test/$CG_NAME\$" "/proc/$pid/cgroup" || fail "$pid is not in the container's cgroup"
	done

	run berth ps c1
	assert_success
	[[ "${lines[0]}" == *PID* ]] || fail "no header: ${lines[0]}"
	[ "${#lines[@]}" -eq 4 ] || fail "expected a header and 3 processes: $output"
	grep -q "^[^ ]* *$init " <<<"$output" || grep -qw "$init" <<<"$output"
	assert_output_contains sleep

	run berth ps -f json nosuch
	assert_one_line_error "nosuch"
}

@test "kill --all: every process of the container gets the signal" {
	add_out_mount
	# each process says ready once its trap is set
	set_args sh -c 'trap "echo init-usr1 >>/out/log" USR1
		(trap "echo child-usr1 >>/out/log; exit 0" USR1; echo ready >/out/child-ready; while true; do sleep 0.05; done) &
		echo ready >/out/ready
		while true; do sleep 0.05; done'
	berth_bg run -d c1
	wait_for_file "$TEST_DIR/out/ready"
	wait_for_file "$TEST_DIR/out/child-ready"
	run berth kill --all c1 USR1
	assert_success
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l <"$TEST_DIR/out/log" 2>/dev/null)" = 2 ] && break
		sleep 0.05
	done
	grep -qx init-usr1 "$TEST_DIR/out/log"
	grep -qx child-usr1 "$TEST_DIR/out/log"

	berth kill --all c1 KILL
	wait_for_status c1 stopped
	[ -z "$(berth ps --format json c1 | jq '.[]')" ]
}

@test "cgroups: create refuses a cgroup that already has processes and leaves its owner alone" {
	set_args sleep 100
	berth_bg run -d c1
	local pid
	pid=$(pid_of c1)
	# same bundle, same cgroupsPath
	run berth_bg create c2
	assert_one_line_error "already has 1 process(es)"
	[ ! -e "$ROOT/c2" ]
	assert_equal "$(status_of c1)" running
	kill -0 "$pid"
	for d in $(cgroup_dirs "$CG_NAME"); do
		[ -d "$d" ] || fail "$d was removed"
	done
	grep -q "/berth-test/$CG_NAME\$" "/proc/$pid/cgroup"
}
