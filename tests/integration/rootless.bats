#!/usr/bin/env bats
# Rootless: berth-runtime run by an unprivileged user (berthtest), with a
# user namespace mapping its own ids, and multi-range mappings through
# newuidmap/newgidmap and /etc/subuid, /etc/subgid.

load helpers

setup() {
	berth_setup
	ensure_rootless_user
	# the unprivileged user must reach its bundle below the test directory
	chmod o+x "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$TEST_DIR"
	RL_DIR="$TEST_DIR/rl"
	ROOTLESS_XDG="$RL_DIR/xdg"
	ROOTLESS_ROOT="$RL_DIR/root"
	mkdir -p "$ROOTLESS_XDG"
	chmod 700 "$ROOTLESS_XDG"
	BUNDLE="$RL_DIR/$TAG"
	make_bundle "$BUNDLE" --rootless
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": $u, "size": 1}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": $g, "size": 1}]' \
		--argjson u "$ROOTLESS_UID" --argjson g "$ROOTLESS_GID"
	chown -hR "$ROOTLESS_UID:$ROOTLESS_GID" "$RL_DIR"
	cd "$BUNDLE"
	defer rootless_cleanup
}

teardown() {
	local failed=0
	berth_teardown || failed=1
	if [ -n "$(state_dirs "$ROOTLESS_ROOT")" ] || [ -n "$(state_dirs "$ROOTLESS_XDG/berth-runtime")" ]; then
		echo "teardown: rootless state dirs left: $(state_dirs "$ROOTLESS_ROOT") $(state_dirs "$ROOTLESS_XDG/berth-runtime")" >&2
		failed=1
	fi
	return $failed
}

rootless_cleanup() {
	local root id
	for root in "$ROOTLESS_ROOT" "$ROOTLESS_XDG/berth-runtime"; do
		[ -d "$root" ] || continue
		for id in $(as_rootless "$BERTH_RUNTIME" --root "$root" list -q 2>/dev/null); do
			as_rootless "$BERTH_RUNTIME" --root "$root" delete --force "$id"
		done
	done
}

# berth_rootless_bg ARGS...: berth_bg for the unprivileged user.
berth_rootless_bg() {
	local rc=0 before
	before=$(stat -c %s "$TEST_DIR/stderr" 2>/dev/null || echo 0)
	berth_rootless "$@" </dev/null >>"$TEST_DIR/stdout" 2>>"$TEST_DIR/stderr" || rc=$?
	tail -c +$((before + 1)) "$TEST_DIR/stderr"
	return $rc
}

rootless_status() {
	berth_rootless state "$1" | jq -r .status
}

# subid_range FILE: "START COUNT" of the rootless user in /etc/subuid or /etc/subgid.
subid_range() {
	awk -F: -v u="$ROOTLESS_USER" -v id="$ROOTLESS_UID" '$1 == u || $1 == id { print $2, $3; exit }' "$1"
}

@test "rootless: run as an unprivileged user; root inside is the user's uid outside" {
	set_args sh -c 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin/busybox'
	run berth_rootless run c1
	assert_success
	out=$(grep -v '^berth-runtime: warning: cgroup' <<<"$output")
	mapfile -t l <<<"$out"
	assert_equal "${l[0]}" 0 "uid inside"
	assert_equal "${l[1]}" 0 "gid inside"
	assert_equal "$(echo ${l[2]})" "0 $ROOTLESS_UID 1"
	assert_equal "$(echo ${l[3]})" "0 $ROOTLESS_GID 1"
	# the rootfs the user owns is root's inside
	assert_equal "${l[4]}" 0:0
	[ ! -e "$ROOTLESS_ROOT/c1" ]
}

@test "rootless: create, start, state, kill, delete; the process runs as the user on the host" {
	set_args sleep 100
	run berth_rootless_bg create --pid-file "$RL_DIR/pid" c1
	assert_success
	assert_equal "$(rootless_status c1)" created
	pid=$(cat "$RL_DIR/pid")
	assert_equal "$(berth_rootless state c1 | jq -r .pid)" "$pid"
	# the state belongs to the user
	assert_equal "$(stat -c %u "$ROOTLESS_ROOT/c1")" "$ROOTLESS_UID"
	assert_equal "$(jq -r .owner "$ROOTLESS_ROOT/c1/state.json")" "$ROOTLESS_UID"
	assert_equal "$(jq -r .rootless "$ROOTLESS_ROOT/c1/state.json")" true

	berth_rootless start c1
	assert_equal "$(rootless_status c1)" running
	assert_equal "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" "$ROOTLESS_UID"
	assert_equal "$(awk '/^Gid:/ {print $2}' "/proc/$pid/status")" "$ROOTLESS_GID"
	[ "$(readlink "/proc/$pid/ns/user")" != "$(readlink /proc/self/ns/user)" ]

	run berth_rootless list -q
	assert_output c1

	berth_rootless kill c1 KILL
	for i in $(seq 100); do
		[ "$(rootless_status c1)" = stopped ] && break
		sleep 0.05
	done
	assert_equal "$(rootless_status c1)" stopped
	run berth_rootless delete c1
	assert_success
	[ ! -e "$ROOTLESS_ROOT/c1" ]
	assert_nothing_left c1
}

@test "rootless: without --root the state goes to \$XDG_RUNTIME_DIR/berth-runtime" {
	set_args sleep 100
	run as_rootless sh -c 'exec "$0" run -d c1 </dev/null >/dev/null 2>&1' "$BERTH_RUNTIME"
	assert_success
	[ -f "$ROOTLESS_XDG/berth-runtime/c1/state.json" ] || fail "no state in $ROOTLESS_XDG/berth-runtime"
	run as_rootless "$BERTH_RUNTIME" delete --force c1
	assert_success
	[ ! -e "$ROOTLESS_XDG/berth-runtime/c1" ]
}

@test "rootless: spec --rootless run by the user maps the user's own ids" {
	mkdir "$RL_DIR/spec"
	chown "$ROOTLESS_UID:$ROOTLESS_GID" "$RL_DIR/spec"
	run as_rootless "$BERTH_RUNTIME" spec --rootless --bundle "$RL_DIR/spec"
	assert_success
	assert_equal "$(jq -c '.linux.uidMappings' "$RL_DIR/spec/config.json")" \
		"[{\"containerID\":0,\"hostID\":$ROOTLESS_UID,\"size\":1}]"
	assert_equal "$(jq -c '.linux.gidMappings' "$RL_DIR/spec/config.json")" \
		"[{\"containerID\":0,\"hostID\":$ROOTLESS_GID,\"size\":1}]"
}

@test "rootless: multi-range mappings through newuidmap/newgidmap" {
	read -r ustart ucount <<<"$(subid_range /etc/subuid)"
	read -r gstart gcount <<<"$(subid_range /etc/subgid)"
	[ -n "$ustart" ] && [ "$ucount" -ge 2000 ] || fail "no /etc/subuid range for $ROOTLESS_USER"
	[ -n "$gstart" ] && [ "$gcount" -ge 2000 ] || fail "no /etc/subgid range for $ROOTLESS_USER"
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": $u, "size": 1}, {"containerID": 1, "hostID": $us, "size": $uc}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": $g, "size": 1}, {"containerID": 1, "hostID": $gs, "size": $gc}]
		| .process.user = {"uid": 1000, "gid": 1000, "additionalGids": [5]}' \
		--argjson u "$ROOTLESS_UID" --argjson g "$ROOTLESS_GID" --argjson us "$ustart" --argjson uc "$ucount" \
		--argjson gs "$gstart" --argjson gc "$gcount"
	# a directory owned by container uid 1000
	chown "$((ustart + 999)):$((gstart + 999))" "$BUNDLE/rootfs/home/user"
	set_args sh -c 'id -u; id -g; id -G; cat /proc/self/uid_map; cat /proc/self/gid_map; stat -c %u:%g /home/user; sleep 100'
	run berth_rootless_bg create c1
	assert_success
	pid=$(berth_rootless state c1 | jq -r .pid)
	berth_rootless start c1
	for i in $(seq 100); do
		[ "$(grep -vc '^berth-runtime' "$TEST_DIR/stdout")" -ge 8 ] && break
		sleep 0.05
	done
	mapfile -t l <"$TEST_DIR/stdout"
	assert_equal "${l[0]}" 1000
	assert_equal "${l[1]}" 1000
	assert_equal "${l[2]}" "1000 5"
	assert_equal "$(echo ${l[3]})" "0 $ROOTLESS_UID 1"
	assert_equal "$(echo ${l[4]})" "1 $ustart $ucount"
	assert_equal "$(echo ${l[5]})" "0 $ROOTLESS_GID 1"
	assert_equal "$(echo ${l[6]})" "1 $gstart $gcount"
	assert_equal "${l[7]}" 1000:1000
	# on the host the process runs as the subordinate ids
	assert_equal "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" "$((ustart + 999))"
	assert_equal "$(awk '/^Gid:/ {print $2}' "/proc/$pid/status")" "$((gstart + 999))"
}

@test "rootless: a mapping outside the user's subordinate ranges fails cleanly" {
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": $u, "size": 1}, {"containerID": 1, "hostID": 1, "size": 100}]' \
		--argjson u "$ROOTLESS_UID"
	run berth_rootless_bg create c1
	assert_failure
	assert_output_contains "linux.uidMappings: newuidmap"
	assert_output_contains "/etc/subuid"
	assert_nothing_left c1
	[ ! -e "$ROOTLESS_ROOT/c1" ]
}

@test "rootless: a mapping of another user's uid without subordinate ids fails cleanly" {
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 0, "size": 1}]'
	run berth_rootless_bg create c1
	assert_failure
	assert_output_contains "linux.uidMappings"
	assert_nothing_left c1
	[ ! -e "$ROOTLESS_ROOT/c1" ]
}

@test "rootless: the user cannot use root's state directory" {
	set_args true
	mkdir -p "$TEST_DIR/root-owned"
	chmod 700 "$TEST_DIR/root-owned"
	run as_rootless "$BERTH_RUNTIME" --root "$TEST_DIR/root-owned" run c1
	assert_failure
	assert_output_contains "Permission denied"
	assert_nothing_left c1
}

@test "rootless: terminal over --console-socket" {
	[ -x "$CONSOLE_RECEIVER" ] || fail "console-receiver not built at $CONSOLE_RECEIVER"
	update_config '.process.terminal = true'
	set_args sh -c 'tty; id -u'
	sock="$RL_DIR/console.sock"
	as_rootless "$CONSOLE_RECEIVER" "$sock" >"$TEST_DIR/console.out" &
	receiver=$!
	track_pid "$receiver"
	wait_for_file "$sock"
	run berth_rootless_bg run -d --console-socket "$sock" c1
	assert_success
	wait "$receiver"
	mapfile -t l < <(tr -d '\r' <"$TEST_DIR/console.out")
	[[ "${l[0]}" == /dev/pts/* ]] || fail "tty: ${l[*]}"
	assert_equal "${l[1]}" 0
}

@test "rootless: default devices are the host's nodes bind-mounted; /proc, /sys and /dev/pts work" {
	set_args sh -c 'for d in null zero full random urandom tty; do stat -c "%n %t,%T" /dev/$d; done
		echo x >/dev/null && echo null-writable; head -c 2 /dev/zero | od -An -tx1
		test -d /proc/self/ns && echo proc-ok; ls /sys/class/net; grep " /sys " /proc/mounts
		exec 3<>/dev/ptmx; ls /dev/pts | tr "\n" " "'
	run berth_rootless run c1
	assert_success
	for d in "null 1,3" "zero 1,5" "full 1,7" "random 1,8" "urandom 1,9" "tty 5,0"; do
		assert_output_contains "/dev/${d% *} ${d#* }"
	done
	assert_output_contains null-writable
	assert_output_contains " 00 00"
	assert_output_contains proc-ok
	assert_output_contains $'\nlo\n'
	[[ "$(grep ' /sys ' <<<"$output")" == *" ro,"* ]] || fail "/sys: $output"
	assert_output_contains "0 ptmx"
}

@test "rootless: bind mounts keep their options, tmpfs works, the root is read-only" {
	mkdir "$RL_DIR/src"
	echo shared >"$RL_DIR/src/file"
	chown -R "$ROOTLESS_UID:$ROOTLESS_GID" "$RL_DIR/src"
	update_config '.root.readonly = true | .mounts += [
		{"destination": "/mnt/ro", "type": "bind", "source": $s, "options": ["rbind", "ro", "nosuid", "nodev"]},
		{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]' \
		--arg s "$RL_DIR/src"
	set_args sh -c 'cat /proc/mounts; cat /mnt/ro/file; touch /mnt/ro/x 2>/dev/null && echo ro-writable; touch /rootfile 2>/dev/null && echo root-writable; echo x >/scratch/f && echo tmpfs-writable'
	run berth_rootless run c1
	assert_success
	line=$(awk '$2 == "/mnt/ro"' <<<"$output")
	for o in ro nosuid nodev; do
		[[ ",$(awk '{print $4}' <<<"$line")," == *",$o,"* ]] || fail "/mnt/ro lacks $o: $line"
	done
	assert_output_contains shared
	refute_output_contains ro-writable
	refute_output_contains root-writable
	assert_output_contains tmpfs-writable
	# and with --no-pivot
	run berth_rootless run --no-pivot c2
	assert_success
	assert_output_contains tmpfs-writable
	refute_output_contains root-writable
}
