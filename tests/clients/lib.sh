# Shared helpers of the client tests (podman.sh, containerd.sh, docker.sh).
# Sourced, not run. Bash.
#
# Environment:
#   BERTH_RUNTIME      the runtime under test (default: REPO/build/src/cmd/runtime/berth-runtime)
#   BERTH_CLIENTS_KEEP=1  keep the temp dir (for debugging); daemons are still stopped
#   BERTH_CLIENTS_NO_INSTALL=1  fail instead of running apt-get when a client is missing
#   BERTH_CLIENTS_ONLY=REGEX  run only the scenarios whose name matches
#
# Every script keeps ALL its state under one temp dir ($T), starts its daemons
# in the background, records their pids and stops them by pid in an EXIT trap
# (never pkill/killall): other tests may run beside us on the same machine.

set -u

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BERTH_RUNTIME_SRC="${BERTH_RUNTIME:-$REPO_ROOT/build/src/cmd/runtime/berth-runtime}"
MAKE_TEST_IMAGE="$REPO_ROOT/scripts/make-test-image.sh"

TAP_N=0
TAP_FAILED=0
STARTED_PIDS=()
CLEANUPS=()
T=""

# ---------------------------------------------------------------------------
# output

log() { echo "# $*"; }

# ok NAME / not_ok NAME [DETAIL...]: one TAP line, details as "# " comments.
ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1"
}

not_ok() {
	local name="$1" line
	shift
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $name"
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
}

# scenario NAME FUNCTION: runs FUNCTION in a subshell (its own process
# group, so a hung client is killed whole after SCENARIO_TIMEOUT seconds,
# default 90) with its output captured; prints ok/not ok, and the output on
# failure. FUNCTION fails on its first failing command (set -e).
scenario() {
	local name="$1" fn="$2" rc start end pid wd out="$T/scenario.out"
	if [ -n "${BERTH_CLIENTS_ONLY:-}" ] && ! [[ "$name" =~ $BERTH_CLIENTS_ONLY ]]; then
		echo "# skip $name (BERTH_CLIENTS_ONLY)"
		return 0
	fi
	start=$(date +%s%N)
	set -m
	(
		set -e
		"$fn"
	) >"$out" 2>&1 </dev/null &
	pid=$!
	(
		sleep "${SCENARIO_TIMEOUT:-90}"
		echo "(timed out after ${SCENARIO_TIMEOUT:-90}s)" >>"$out"
		kill -TERM -- "-$pid" 2>/dev/null
		sleep 5
		kill -KILL -- "-$pid" 2>/dev/null
	) >/dev/null 2>&1 &
	wd=$!
	set +m
	wait "$pid"
	rc=$?
	kill -KILL -- "-$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	end=$(date +%s%N)
	if [ $rc -eq 0 ]; then
		ok "$name ($(((end - start) / 1000000)) ms)"
	else
		not_ok "$name" "exit status $rc" "$(tail -n 40 "$out")"
	fi
	return 0
}

# expect_eq WHAT GOT WANT
expect_eq() {
	if [ "$2" != "$3" ]; then
		echo "$1: expected \"$3\", got \"$2\"" >&2
		return 1
	fi
}

# expect_contains WHAT HAYSTACK NEEDLE
expect_contains() {
	case "$2" in
	*"$3"*) return 0 ;;
	esac
	echo "$1: expected to contain \"$3\", got \"$2\"" >&2
	return 1
}

# retry N CMD...: runs CMD up to N times, 0.2 s apart.
retry() {
	local n="$1" i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

# ---------------------------------------------------------------------------
# setup and cleanup

# need_packages CMD:PACKAGE...: installs the Debian packages of missing
# commands (apt-get, --no-install-recommends).
need_packages() {
	local want=() spec cmd pkg
	for spec in "$@"; do
		cmd="${spec%%:*}"
		pkg="${spec#*:}"
		if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "$cmd" ]; then
			want+=("$pkg")
		fi
	done
	[ ${#want[@]} -eq 0 ] && return 0
	if [ "${BERTH_CLIENTS_NO_INSTALL:-0}" = 1 ]; then
		echo "missing packages: ${want[*]} (BERTH_CLIENTS_NO_INSTALL=1)" >&2
		return 1
	fi
	log "installing ${want[*]}"
	(
		flock 9
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y --no-install-recommends "${want[@]}" >/dev/null 2>&1 ||
			{ apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "${want[@]}" >/dev/null; }
	) 9>/tmp/.berth-clients-apt.lock
}

# setup_tmp NAME: the temp dir $T, and $BIN: a private copy of the runtime
# (a concurrent rebuild of build/ must not swap the binary under a daemon).
setup_tmp() {
	[ "$(id -u)" = 0 ] || { echo "Bail out! the client tests need root" >&2; exit 1; }
	[ -x "$BERTH_RUNTIME_SRC" ] || { echo "Bail out! berth-runtime not found at $BERTH_RUNTIME_SRC" >&2; exit 1; }
	T=$(mktemp -d "/tmp/berth-$1.XXXXXX")
	chmod 755 "$T"
	trap cleanup_all EXIT
	trap 'exit 130' INT TERM HUP
	mkdir -p "$T/bin"
	cp "$BERTH_RUNTIME_SRC" "$T/bin/berth-runtime"
	BIN="$T/bin/berth-runtime"
	export T BIN
}

# make_root_wrapper ROOT: $T/bin/berth-runtime-wrapper, which runs the
# runtime with --root ROOT and logs every argv to $T/runtime-argv.log. For
# clients that cannot pass --root to every runtime call (podman does not pass
# --runtime-flag to its `container cleanup` exit command).
make_root_wrapper() {
	cat >"$T/bin/berth-runtime-wrapper" <<EOF
#!/bin/sh
echo "\$(date +%T.%N) \$*" >>"$T/runtime-argv.log"
exec "$BIN" --root "$1" "\$@"
EOF
	chmod 755 "$T/bin/berth-runtime-wrapper"
}

# defer COMMAND: eval'd by cleanup_all, last registered first.
defer() {
	CLEANUPS+=("$*")
}

# start_daemon NAME CMD...: runs CMD in the background (its own session,
# output to $T/NAME.log) and records its pid.
start_daemon() {
	local name="$1"
	shift
	setsid "$@" >"$T/$name.log" 2>&1 </dev/null &
	local pid=$!
	STARTED_PIDS+=("$pid")
	echo "$pid" >"$T/$name.daemon-pid"
	eval "PID_${name//[^a-zA-Z0-9]/_}=$pid"
}

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 10).
stop_pid() {
	local pid="$1" secs="${2:-10}" i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		# a zombie child of ours counts as gone
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# wait_for_socket PATH [SECONDS [PID]]: gives up early when PID died.
wait_for_socket() {
	local i
	for ((i = 0; i < ${2:-30} * 10; i++)); do
		[ -S "$1" ] && return 0
		if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
			echo "the daemon (pid $3) exited before $1 appeared" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "socket $1 did not appear" >&2
	return 1
}

# umount_under DIR: lazily unmounts whatever is still mounted below DIR,
# deepest first (overlay rootfs, shm, netns left by a crashed daemon).
umount_under() {
	local m
	awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
}

cleanup_all() {
	local rc=$? i pid
	trap - EXIT INT TERM HUP
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${STARTED_PIDS[$i]}" 10
	done
	if [ -n "$T" ] && [ -d "$T" ]; then
		umount_under "$T"
		if [ "${BERTH_CLIENTS_KEEP:-0}" = 1 ]; then
			log "kept $T"
		else
			rm -rf "$T" 2>/dev/null || { sleep 1; umount_under "$T"; rm -rf "$T"; } ||
				echo "# could not remove $T" >&2
		fi
	fi
	exit $rc
}

# finish: the summary line and the exit status of the script.
finish() {
	echo "1..$TAP_N"
	if [ "$TAP_FAILED" -ne 0 ]; then
		echo "# $TAP_FAILED of $TAP_N failed"
		exit 1
	fi
	echo "# all $TAP_N passed"
	exit 0
}

# ---------------------------------------------------------------------------
# the image

# make_rootfs_tar OUT: a tar of the busybox test rootfs.
make_rootfs_tar() {
	local dir="$T/image-bundle"
	"$MAKE_TEST_IMAGE" --runtime "$BIN" "$dir" sh >/dev/null || return 1
	tar --numeric-owner -C "$dir/rootfs" -cf "$1" .
}

# make_oci_archive ROOTFS_TAR OUT NAME: a one-layer OCI image layout as a tar
# (for `ctr images import`), written by hand with sha256sum. NAME is the
# full reference, e.g. docker.io/library/berth-busybox:latest.
make_oci_archive() {
	local layer="$1" out="$2" name="$3" dir="$T/oci-layout" ldig lsize cdig csize mdig msize
	rm -rf "$dir"
	mkdir -p "$dir/blobs/sha256"
	ldig=$(sha256sum "$layer" | cut -d' ' -f1)
	lsize=$(stat -c %s "$layer")
	cp "$layer" "$dir/blobs/sha256/$ldig"
	printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$ldig" >"$dir/config.json"
	cdig=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
	csize=$(stat -c %s "$dir/config.json")
	mv "$dir/config.json" "$dir/blobs/sha256/$cdig"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$cdig" "$csize" "$ldig" "$lsize" >"$dir/manifest.json"
	mdig=$(sha256sum "$dir/manifest.json" | cut -d' ' -f1)
	msize=$(stat -c %s "$dir/manifest.json")
	mv "$dir/manifest.json" "$dir/blobs/sha256/$mdig"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
		"$mdig" "$msize" "$name" "${name##*:}" >"$dir/index.json"
	tar -C "$dir" -cf "$out" oci-layout index.json blobs
}

# free_port: a TCP port nobody listens on (from a range unlikely to be
# used by other tests).
free_port() {
	local p
	for p in $(shuf -i 20000-29999 -n 50); do
		if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# in_terminal CMD: run CMD in a terminal of its own (script(1)) and print its
# output without carriage returns. The terminal's input stays open and empty,
# like a user who types nothing. With input at its end, script(1) hands the
# client an end-of-file that podman forwards to conmon as a byte of stdin; when
# the container has already exited, conmon closes the attach socket with that
# byte unread, the kernel resets the connection, and podman drops the output
# still queued for it (the container's log has it). Seen with runc as well, more
# often the sooner the container runs after `start`.
in_terminal() {
	local input="$T/terminal-input"
	[ -p "$input" ] || mkfifo "$input"
	script -qec "$1" /dev/null <>"$input" | tr -d '\r'
}
