#!/usr/bin/env bats
# Hooks: prestart, createRuntime, createContainer, startContainer,
# poststart and poststop: order, the state on stdin, args, env, the
# namespace each runs in, timeouts, and which failures are fatal.

load helpers

setup() {
	berth_setup
	add_out_mount
	# one script for every hook: records its name, args, env, mount
	# namespace and stdin; run on the host from TEST_DIR and in the
	# container (startContainer resolves its path there) from /
	HOOK="$TEST_DIR/hook.sh"
	cat >"$HOOK" <<'EOF'
#!/bin/sh
name=$1
out=$2
stdin=$(cat)
{
	echo "args=$*"
	echo "env=$(env | grep '^HOOK_' | sort | tr '\n' ' ')"
	echo "mntns=$(readlink /proc/self/ns/mnt)"
	echo "pidns=$(readlink /proc/self/ns/pid)"
	echo "stdin=$stdin"
	echo "cwd=$PWD"
} >"$out/$name.txt"
echo "$name" >>"$out/order"
EOF
	chmod +x "$HOOK"
	cp "$HOOK" "$BUNDLE/rootfs/hook.sh"
}

# hook_json NAME [PATH [OUT]]: a hook entry that runs the script as NAME.
hook_json() {
	jq -nc --arg p "${2:-$HOOK}" --arg n "$1" --arg o "${3:-$TEST_DIR/out}" --arg t "BERTH_IT_TAG=$TAG" \
		'{path: $p, args: ["hook.sh", $n, $o], env: ["HOOK_NAME=" + $n, "HOOK_EXTRA=x y", $t]}'
}

hook_field() {
	sed -n "s/^$2=//p" "$TEST_DIR/out/$1.txt"
}

hook_state() {
	hook_field "$1" stdin | jq -r "$2"
}

@test "hooks: all six run in order with the state on stdin, their args and env" {
	set_args sh -c 'echo ran >>/out/order; sleep 100'
	update_config '.hooks = {
		prestart: [$pre], createRuntime: [$cr], createContainer: [$cc],
		startContainer: [$sc], poststart: [$ps], poststop: [$stop]}' \
		--argjson pre "$(hook_json prestart)" --argjson cr "$(hook_json createRuntime)" \
		--argjson cc "$(hook_json createContainer)" \
		--argjson sc "$(hook_json startContainer /hook.sh /out)" \
		--argjson ps "$(hook_json poststart)" --argjson stop "$(hook_json poststop)"

	berth_bg create c1
	local pid
	pid=$(pid_of c1)
	assert_equal "$(tr '\n' ' ' <"$TEST_DIR/out/order")" "prestart createRuntime createContainer "
	berth start c1
	for ((i = 0; i < 100; i++)); do
		grep -q ran "$TEST_DIR/out/order" && grep -q poststart "$TEST_DIR/out/order" && break
		sleep 0.05
	done
	berth kill c1 KILL
	wait_for_status c1 stopped
	berth delete c1
	# poststart runs after the process started (the order of "ran" and
	# poststart between them is not fixed), poststop last
	assert_equal "$(sed -n 1,4p "$TEST_DIR/out/order" | tr '\n' ' ')" \
		"prestart createRuntime createContainer startContainer "
	assert_equal "$(sed -n 5,6p "$TEST_DIR/out/order" | sort | tr '\n' ' ')" "poststart ran "
	assert_equal "$(sed -n 7p "$TEST_DIR/out/order")" poststop

	local h
	for h in prestart createRuntime createContainer startContainer poststart poststop; do
		assert_equal "$(hook_field $h args)" "$h $([ $h = startContainer ] && echo /out || echo "$TEST_DIR/out")" "$h args"
		assert_equal "$(hook_field $h env)" "HOOK_EXTRA=x y HOOK_NAME=$h " "$h env"
		assert_equal "$(hook_state $h .id)" c1 "$h state id"
		assert_equal "$(hook_state $h .bundle)" "$BUNDLE" "$h state bundle"
		assert_equal "$(hook_state $h .ociVersion)" "$(jq -r .ociVersion "$BUNDLE/config.json")"
	done
	for h in prestart createRuntime createContainer; do
		assert_equal "$(hook_state $h .status)" creating "$h status"
		assert_equal "$(hook_state $h .pid)" "$pid" "$h pid"
	done
	assert_equal "$(hook_state startContainer .status)" created "startContainer status"
	assert_equal "$(hook_state poststart .status)" running "poststart status"
	assert_equal "$(hook_state poststart .pid)" "$pid" "poststart pid"
	assert_equal "$(hook_state poststop .status)" stopped "poststop status"
}

@test "hooks: createContainer and startContainer run in the container's namespaces, the others in the runtime's" {
	set_args sleep 100
	update_config '.hooks = {prestart: [$pre], createRuntime: [$cr], createContainer: [$cc], startContainer: [$sc], poststart: [$ps]}' \
		--argjson pre "$(hook_json prestart)" --argjson cr "$(hook_json createRuntime)" \
		--argjson cc "$(hook_json createContainer)" \
		--argjson sc "$(hook_json startContainer /hook.sh /out)" --argjson ps "$(hook_json poststart)"
	berth_bg create c1
	local pid mnt host_mnt
	pid=$(pid_of c1)
	mnt=$(readlink "/proc/$pid/ns/mnt")
	host_mnt=$(readlink /proc/self/ns/mnt)
	[ "$mnt" != "$host_mnt" ]
	assert_equal "$(hook_field createContainer mntns)" "$mnt" "createContainer mount namespace"
	assert_equal "$(hook_field prestart mntns)" "$host_mnt" "prestart mount namespace"
	assert_equal "$(hook_field createRuntime mntns)" "$host_mnt" "createRuntime mount namespace"
	berth start c1
	wait_for_file "$TEST_DIR/out/poststart.txt"
	assert_equal "$(hook_field startContainer mntns)" "$mnt" "startContainer mount namespace"
	assert_equal "$(hook_field startContainer pidns)" "$(readlink "/proc/$pid/ns/pid")" "startContainer pid namespace"
	assert_equal "$(hook_field poststart mntns)" "$host_mnt" "poststart mount namespace"
	# startContainer found its path inside the container: /hook.sh exists
	# only in the rootfs
	[ ! -e /hook.sh ]
}

@test "hooks: createContainer runs in the runtime's working directory, like createRuntime, after the mounts" {
	set_args true
	update_config '.hooks = {createRuntime: [$cr], createContainer: [$cc]}' \
		--argjson cr "$(hook_json createRuntime)" --argjson cc "$(hook_json createContainer)"
	mkdir "$TEST_DIR/wd"
	cd "$TEST_DIR/wd"
	run berth run --bundle "$BUNDLE" c1
	assert_success
	assert_equal "$(hook_field createRuntime cwd)" "$TEST_DIR/wd"
	assert_equal "$(hook_field createContainer cwd)" "$TEST_DIR/wd"
}

@test "hooks: a timeout kills a sleeping hook and its children and fails create clearly" {
	cat >"$TEST_DIR/sleeper.sh" <<EOF
#!/bin/sh
echo started >>"$TEST_DIR/out/sleeper"
sleep 60
echo finished >>"$TEST_DIR/out/sleeper"
EOF
	chmod +x "$TEST_DIR/sleeper.sh"
	update_config '.hooks.createRuntime = [{path: $p, env: [$t], timeout: 1}]' \
		--arg p "$TEST_DIR/sleeper.sh" --arg t "BERTH_IT_TAG=$TAG"
	local start end
	start=$(date +%s)
	run berth_bg create c1
	end=$(date +%s)
	assert_one_line_error 'hook createRuntime[0]'
	assert_output_contains "timed out after 1 s"
	[ $((end - start)) -lt 10 ] || fail "create took $((end - start)) s"
	[ ! -e "$ROOT/c1" ]
	assert_equal "$(cat "$TEST_DIR/out/sleeper")" started
	# the hook's sleep (tagged through the hook's env) is gone too
	sleep 0.2
	[ -z "$(tagged_pids "$TAG")" ] || fail "left running: $(tagged_pids "$TAG")"
}

@test "hooks: a failing prestart, createRuntime or createContainer hook fails create and leaves nothing" {
	local h
	for h in prestart createRuntime createContainer; do
		update_config '.hooks = {($h): [{path: "/bin/sh", args: ["sh", "-c", "echo bad-hook >&2; exit 3"]}]}' --arg h "$h"
		run berth_bg create c1
		assert_one_line_error "hook $h[0]"
		assert_output_contains "exited with status 3"
		assert_output_contains "bad-hook"
		[ ! -e "$ROOT/c1" ]
		assert_nothing_left c1
	done
}

@test "hooks: a failing startContainer hook stops the container before its process runs" {
	set_args sh -c 'echo ran >/out/ran'
	update_config '.hooks.startContainer = [{path: "/bin/sh", args: ["sh", "-c", "exit 4"]}]'
	berth_bg create c1
	run berth start c1
	wait_for_status c1 stopped
	[ ! -e "$TEST_DIR/out/ran" ] || fail "the process ran after a failed startContainer hook"
}

@test "hooks: a failing poststart hook fails start and stops the container (runtime-spec 1.3); poststop only warns" {
	set_args sleep 100
	update_config '.hooks = {poststart: [{path: "/bin/sh", args: ["sh", "-c", "echo poststart-failed >&2; exit 1"]}],
		poststop: [{path: "/bin/sh", args: ["sh", "-c", "echo poststop-failed >&2; exit 1"]}, $stop]}' \
		--argjson stop "$(hook_json poststop)"
	berth_bg create c1
	run berth start c1
	assert_one_line_error "hook poststart[0]"
	assert_output_contains "poststart-failed"
	assert_equal "$(status_of c1)" stopped
	run berth delete c1
	assert_success
	assert_output_contains "poststop-failed"
	[ ! -e "$ROOT/c1" ]
	# a failing poststop hook does not keep the next one from running
	wait_for_file "$TEST_DIR/out/poststop.txt"
}

@test "hooks: a failing poststart hook fails run, which cleans up; later poststart hooks do not run" {
	set_args sleep 100
	update_config '.hooks = {poststart: [{path: "/bin/sh", args: ["sh", "-c", "exit 1"]}, $ps]}' \
		--argjson ps "$(hook_json poststart)"
	run berth run -d c1
	assert_failure
	assert_output_contains "hook poststart[0]"
	[ ! -e "$TEST_DIR/out/poststart.txt" ] || fail "a poststart hook ran after a failed one"
	[ ! -e "$ROOT/c1" ]
	assert_nothing_left c1
}

@test "hooks: without env a hook inherits the runtime's environment; env [] is empty" {
	set_args true
	# the hooks the runtime runs and the one the container init runs
	update_config '.hooks = {
		createRuntime: [{path: "/bin/sh", args: ["sh", "-c", "env >\($o)/createRuntime.env"]}],
		startContainer: [{path: "/bin/sh", args: ["sh", "-c", "env >/out/startContainer.env"]}],
		poststop: [{path: "/bin/sh", args: ["sh", "-c", "cat >/dev/null; env >\($o)/poststop.env"]},
			{path: "/bin/sh", args: ["sh", "-c", "env >\($o)/empty.env"], env: []}]}' --arg o "$TEST_DIR/out"
	HOOK_INHERITED=from-runtime PATH="/usr/sbin:/usr/bin:/sbin:/bin" run berth run c1
	assert_success
	local f
	for f in createRuntime startContainer poststop; do
		grep -qx "HOOK_INHERITED=from-runtime" "$TEST_DIR/out/$f.env" || fail "$f: $(cat "$TEST_DIR/out/$f.env")"
		grep -qx "PATH=/usr/sbin:/usr/bin:/sbin:/bin" "$TEST_DIR/out/$f.env" || fail "$f: no PATH"
	done
	! grep -q HOOK_INHERITED "$TEST_DIR/out/empty.env" || fail "env [] inherited: $(cat "$TEST_DIR/out/empty.env")"
}

@test "hooks: run (create+start+wait+delete) runs every hook once" {
	set_args true
	update_config '.hooks = {createRuntime: [$cr], poststart: [$ps], poststop: [$stop]}' \
		--argjson cr "$(hook_json createRuntime)" --argjson ps "$(hook_json poststart)" \
		--argjson stop "$(hook_json poststop)"
	run berth run c1
	assert_success
	assert_equal "$(tr '\n' ' ' <"$TEST_DIR/out/order")" "createRuntime poststart poststop "
}

@test "hooks: poststart runs once the process was executed, after startContainer" {
	cat >"$TEST_DIR/poststart.sh" <<EOF
#!/bin/sh
pid=\$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
tr '\0' ' ' <"/proc/\$pid/cmdline" >"$TEST_DIR/out/cmdline"
[ -e "$TEST_DIR/out/startContainer.txt" ] && echo after >"$TEST_DIR/out/after-startContainer"
EOF
	chmod +x "$TEST_DIR/poststart.sh"
	# a slow startContainer hook: poststart must still come after it
	printf '#!/bin/sh\nsleep 0.5\n/hook.sh startContainer /out\n' >"$BUNDLE/rootfs/slow-hook.sh"
	chmod +x "$BUNDLE/rootfs/slow-hook.sh"
	set_args sleep 100
	update_config '.hooks = {startContainer: [{path: "/slow-hook.sh"}], poststart: [{path: $p}]}' \
		--arg p "$TEST_DIR/poststart.sh"
	berth_bg create c1
	berth start c1
	assert_equal "$(cat "$TEST_DIR/out/cmdline")" "sleep 100 "
	assert_equal "$(cat "$TEST_DIR/out/after-startContainer")" after
}
