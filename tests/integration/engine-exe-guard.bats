#!/usr/bin/env bats
# CVE-2019-5736 through the engine: `berth run` creates the container in its
# monitor, without an exec of the runtime (docs/engine.md), so the init is
# cloned from berth's own binary on the host's filesystem. A container that
# makes a process of berth's execute /proc/self/exe or /proc/1/exe
# ("#!/proc/self/exe", or the entrypoint itself) runs that image with an ELF
# interpreter of its own choosing, which can open /proc/self/exe and hand
# the fd to a process that outlives the container (the file is busy while a
# monitor runs it, then writable). Each test runs a copy of the built berth
# and berth-runtime and checks, once the container is gone and nothing runs
# the copy, that the fd the container got cannot be reopened for writing
# and that both copies are byte-identical.

load engine

THIEF_INTERP="$BERTH_BUILD_DIR/tests/helpers/exe-thief-interp"
THIEF="$BERTH_BUILD_DIR/tests/helpers/exe-thief"

setup_file() {
	engine_make_rootfs
}

setup() {
	local built_berth=$BERTH_BIN interp
	[ -x "$THIEF_INTERP" ] && [ -x "$THIEF" ] || fail "tests/helpers/exe-thief* not built"
	TEST_DIR="$BATS_TEST_TMPDIR"
	# the copy keeps the build tree's layout: berth finds its runtime at
	# ../runtime/berth-runtime
	COPY="$TEST_DIR/copy"
	mkdir -p "$COPY/cmd/berth" "$COPY/cmd/runtime"
	cp "$built_berth" "$COPY/cmd/berth/berth"
	cp "$BERTH_RUNTIME" "$COPY/cmd/runtime/berth-runtime"
	BERTH_BIN="$COPY/cmd/berth/berth"
	RT_COPY="$COPY/cmd/runtime/berth-runtime"
	BERTH_SUM=$(sha256sum <"$BERTH_BIN")
	RT_SUM=$(sha256sum <"$RT_COPY")
	engine_setup beguard
	# the attacker is berth's ELF interpreter, bind-mounted at its
	# PT_INTERP path inside the container
	interp=$(readelf -l "$BERTH_BIN" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	[ -n "$interp" ] || skip "berth is linked statically"
	INTERP_DIR="$TEST_DIR/interp"
	INTERP_MOUNT=$(dirname "$interp")
	mkdir -p "$INTERP_DIR"
	cp "$THIEF_INTERP" "$INTERP_DIR/$(basename "$interp")"
	OUT="$TEST_DIR/out"
	mkdir -p "$OUT"
	# the container's attack: keep trying to write the fd exe-thief-interp
	# left as fd 3, and every /proc/PID/exe and map_files entry of another
	# binary than busybox it can open (with CAP_SYS_PTRACE and
	# CAP_CHECKPOINT_RESTORE, every one); then wait to be removed
	cat >"$OUT/attack.sh" <<'SCRIPT'
#!/bin/sh
echo "attack: fd 3 is $(readlink /proc/self/fd/3)" >>/out/log
end=$(($(date +%s) + 8))
while [ "$(date +%s)" -lt "$end" ]; do
	if printf '#PWNED' 2>>/out/log >>/proc/self/fd/3; then
		echo WROTE fd 3 >>/out/log
		break
	fi
	[ -e /out/noscan ] ||
	for link in /proc/[0-9]*/exe /proc/[0-9]*/map_files/*; do
		target=$(readlink "$link" 2>/dev/null) || continue
		[ "$target" = /bin/busybox ] && continue
		if printf '#PWNED' 2>/dev/null >>"$link"; then
			echo "WROTE $link $target" >>/out/log
		fi
	done
	[ -e /out/stop ] && break
	sleep 0.1
done
echo done >>/out/log
exec sleep 1000
SCRIPT
	printf '#!/proc/self/exe\n' >"$OUT/evil"
	chmod +x "$OUT/attack.sh" "$OUT/evil"
}

teardown() {
	[ -z "${RECEIVER:-}" ] || kill -KILL "$RECEIVER" 2>/dev/null || true
	engine_teardown
}

# copy_running [runtime]: whether a process executes either copy (or the
# runtime's), by inode: a sealed process's /proc/PID/exe reads another path.
copy_running() {
	local p ids id
	ids=$(stat -c %d:%i "$RT_COPY")
	[ "${1:-}" = runtime ] || ids="$ids $(stat -c %d:%i "$BERTH_BIN")"
	for p in /proc/[0-9]*; do
		id=$(stat -L -c %d:%i "$p/exe" 2>/dev/null) || continue
		case " $ids " in *" $id "*) return 0 ;; esac
	done
	return 1
}

# start_receiver: the accomplice outside, listening on /out/sock; it tries
# to write what it receives until $OUT/stop exists.
start_receiver() {
	env BERTH_IT_TAG="$TAG" "$THIEF" --receive "$OUT/sock" "$TEST_DIR/received" "$OUT/stop" &
	RECEIVER=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$OUT/sock" ] && return 0
		sleep 0.05
	done
	fail "exe-thief --receive did not listen"
}

# finish_attack: waits for the attacker to have sent its fd, removes the
# container, waits until nothing executes the copies, then lets the
# receiver try once more and checks that nothing was written.
finish_attack() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -s "$TEST_DIR/received" ] && grep -q '^attack' "$OUT/log" 2>/dev/null && break
		sleep 0.1
	done
	b rm -f victim >/dev/null
	for ((i = 0; i < 100; i++)); do
		copy_running || break
		sleep 0.05
	done
	! copy_running || fail "the copy of berth still runs"
	sleep 0.5
	touch "$OUT/stop"
	wait "$RECEIVER" || true
	RECEIVER=
	echo "# container:" >&2
	cat "$OUT/log" >&2 || true
	echo "# receiver:" >&2
	cat "$TEST_DIR/received" >&2 || true
	grep -q '^received ' "$TEST_DIR/received" || fail "the container never ran the image of berth's process"
	! grep -q WROTE "$TEST_DIR/received" "$OUT/log" || fail "a binary of the host was written from the container"
	assert_equal "$(sha256sum <"$BERTH_BIN")" "$BERTH_SUM" "sha256 of berth"
	assert_equal "$(sha256sum <"$RT_COPY")" "$RT_SUM" "sha256 of berth-runtime"
}

# run_victim FLAGS... -- ARGS...: the container, with the attack's files.
run_victim() {
	local flags=()
	while [ "$1" != -- ]; do
		flags+=("$1")
		shift
	done
	shift
	b run -d --name victim -v "$OUT:/out" -v "$INTERP_DIR:$INTERP_MOUNT:ro" "${flags[@]}" bb "$@" >/dev/null
}

@test "CVE-2019-5736 engine: an entrypoint #!/proc/self/exe gets no writable handle on berth (in-process create)" {
	start_receiver
	run_victim -- /out/evil
	finish_attack
	# the init was cloned from the monitor (berth's image, not the
	# runtime's), which had moved onto the read-only view of its binary
	grep -qx 'received /berth (read-only)' "$TEST_DIR/received" || fail "the init did not run berth's sealed image"
}

@test "CVE-2019-5736 engine: an entrypoint /proc/1/exe gets no writable handle on berth" {
	start_receiver
	run_victim -- /proc/1/exe
	finish_attack
}

@test "CVE-2019-5736 engine: --cap-add ALL, #!/proc/self/exe and map_files" {
	start_receiver
	run_victim --cap-add ALL -- /out/evil
	finish_attack
}

@test "CVE-2019-5736 engine: --privileged, /proc/self/exe and map_files" {
	start_receiver
	run_victim --privileged -- /proc/self/exe
	finish_attack
}

@test "CVE-2019-5736 engine: berth exec of #!/proc/self/exe gets no writable handle on berth-runtime" {
	# berth-runtime is static: no interpreter to take over. The exec
	# process runs the runtime's image instead, which blocks opening its
	# --log fifo in plain sight; the container opens its /proc/PID/exe and
	# writes once it exited (no monitor runs berth-runtime).
	mkfifo "$OUT/fifo"
	printf '#!/proc/self/exe --log=/out/fifo\n' >"$OUT/evil-rt"
	chmod +x "$OUT/evil-rt"
	cat >"$OUT/attack-rt.sh" <<'SCRIPT'
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
	elif printf '#PWNED' 2>>/out/log >>/proc/self/fd/3; then
		echo WROTE >>/out/log
		break
	fi
	[ -e /out/stop ] && break
	sleep 0.02
done
echo done >>/out/log
SCRIPT
	chmod +x "$OUT/attack-rt.sh"
	run_victim -- sleep 1000
	b exec -d victim /out/attack-rt.sh
	b exec -d victim /out/evil-rt
	for ((i = 0; i < 100; i++)); do
		grep -q '^opened' "$OUT/log" 2>/dev/null && break
		sleep 0.1
	done
	# release the runtime image blocked on the fifo; it exits
	timeout 5 cat "$OUT/fifo" >/dev/null
	for ((i = 0; i < 100; i++)); do
		copy_running runtime || break
		sleep 0.05
	done
	sleep 1
	touch "$OUT/stop"
	for ((i = 0; i < 100; i++)); do
		grep -q '^done' "$OUT/log" 2>/dev/null && break
		sleep 0.1
	done
	cat "$OUT/log" >&2
	grep -q '^opened' "$OUT/log" || fail "the runtime image never ran in the container"
	! grep -q WROTE "$OUT/log" || fail "berth-runtime was written from the container"
	assert_equal "$(sha256sum <"$RT_COPY")" "$RT_SUM" "sha256 of berth-runtime"
	assert_equal "$(sha256sum <"$BERTH_BIN")" "$BERTH_SUM" "sha256 of berth"
}
