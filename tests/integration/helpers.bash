# Shared setup, teardown and assertions of the berth-runtime integration
# suite. Every test gets its own --root, bundle, cgroup name and container
# ids below its own temporary directory; teardown deletes what the test
# created and fails the test when anything is left behind (state dir,
# mount, cgroup, process).
#
# Environment:
#   BERTH_RUNTIME         the binary under test (default: REPO/build/src/cmd/runtime/berth-runtime)
#   BERTH_CONSOLE_RECEIVER  tests/helpers/console-receiver (default: next to the runtime's build dir)
#   BERTH_TEST_IMAGE      a directory with the busybox bundles built once (run.sh sets it);
#                         default: built into the run's temporary directory

REPO_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
BERTH_RUNTIME="${BERTH_RUNTIME:-$REPO_ROOT/build/src/cmd/runtime/berth-runtime}"
case "$BERTH_RUNTIME" in
*/src/cmd/runtime/berth-runtime) BERTH_BUILD_DIR="${BERTH_RUNTIME%/src/cmd/runtime/berth-runtime}" ;;
*) BERTH_BUILD_DIR="$REPO_ROOT/build" ;;
esac
CONSOLE_RECEIVER="${BERTH_CONSOLE_RECEIVER:-$BERTH_BUILD_DIR/tests/helpers/console-receiver}"
MAKE_TEST_IMAGE="$REPO_ROOT/scripts/make-test-image.sh"
TEST_IMAGE="${BERTH_TEST_IMAGE:-$BATS_RUN_TMPDIR/image}"
ROOTLESS_USER=berthtest

# ---------------------------------------------------------------------------
# image and bundles

# Builds the root and rootless busybox bundles once per run (or uses
# BERTH_TEST_IMAGE, which run.sh fills once for all files).
ensure_image() {
	local kind tmpl
	[ -f "$TEST_IMAGE/root/config.template.json" ] && [ -f "$TEST_IMAGE/rootless/config.template.json" ] &&
		return 0
	[ -x "$BERTH_RUNTIME" ] || {
		echo "berth-runtime not found at $BERTH_RUNTIME (build it or set BERTH_RUNTIME)" >&2
		return 1
	}
	mkdir -p "$TEST_IMAGE"
	(
		flock 9
		if [ ! -f "$TEST_IMAGE/root/config.json" ]; then
			"$MAKE_TEST_IMAGE" --runtime "$BERTH_RUNTIME" "$TEST_IMAGE/root.tmp" sh >/dev/null &&
				mv "$TEST_IMAGE/root.tmp" "$TEST_IMAGE/root" || exit 1
		fi
		if [ ! -f "$TEST_IMAGE/rootless/config.json" ]; then
			"$MAKE_TEST_IMAGE" --rootless --runtime "$BERTH_RUNTIME" "$TEST_IMAGE/rootless.tmp" sh >/dev/null &&
				mv "$TEST_IMAGE/rootless.tmp" "$TEST_IMAGE/rootless" || exit 1
		fi
		# make_bundle fills these in with sed: a jq call costs ~50 ms
		for kind in root rootless; do
			tmpl="$TEST_IMAGE/$kind/config.template.json"
			[ -f "$tmpl" ] && continue
			jq '.linux.cgroupsPath = "berth-test/@CG_NAME@" | .process.env += ["BERTH_IT_TAG=@TAG@"]' \
				"$TEST_IMAGE/$kind/config.json" >"$tmpl.tmp" && mv "$tmpl.tmp" "$tmpl" || exit 1
		done
	) 9>"$TEST_IMAGE/.lock"
}

# make_bundle DIR [--rootless]: a fresh copy of the busybox bundle whose
# cgroupsPath is berth-test/<basename DIR> and whose process carries the
# test's tag in its environment (to find leftover processes). Name extra
# bundles "$TEST_DIR/$TAG-something": teardown checks the cgroups
# berth-test/$TAG and berth-test/$TAG-* are gone.
make_bundle() {
	local dir="$1" kind=root name
	[ "${2:-}" = --rootless ] && kind=rootless
	mkdir -p "$dir"
	rm -rf "$dir/rootfs"
	cp -a "$TEST_IMAGE/$kind/rootfs" "$dir/rootfs"
	name=$(basename "$dir")
	[[ "$name$TAG" =~ ^[A-Za-z0-9._+-]+$ ]] || {
		echo "make_bundle: use a plain name for $dir" >&2
		return 1
	}
	sed -e "s|@CG_NAME@|$name|" -e "s|@TAG@|$TAG|" "$TEST_IMAGE/$kind/config.template.json" >"$dir/config.json"
}

# reset_config [--rootless]: a fresh config.json for $BUNDLE, rootfs kept.
reset_config() {
	local kind=root
	[ "${1:-}" = --rootless ] && kind=rootless
	sed -e "s|@CG_NAME@|$(basename "$BUNDLE")|" -e "s|@TAG@|$TAG|" "$TEST_IMAGE/$kind/config.template.json" \
		>"$BUNDLE/config.json"
}

# update_config JQ_FILTER [ARGS...]: edits $BUNDLE/config.json in place.
update_config() {
	local filter="$1"
	shift
	jq "$@" "$filter" "$BUNDLE/config.json" >"$BUNDLE/config.json.tmp" &&
		mv "$BUNDLE/config.json.tmp" "$BUNDLE/config.json"
}

# set_args ARG...: process.args of $BUNDLE.
set_args() {
	local i=0 a jqargs=()
	for a in "$@"; do
		jqargs+=(--arg "a$i" "$a")
		i=$((i + 1))
	done
	update_config '.process.args = [range(0; $n) as $i | $ARGS.named["a\($i)"]]' --argjson n "$i" "${jqargs[@]}"
}

# json_array ARG...: a JSON array of the arguments, each kept whole (jq 1.6
# has neither a working "--args --" nor NUL-separated raw input).
json_array() {
	local i=0 a jqargs=()
	for a in "$@"; do
		jqargs+=(--arg "a$i" "$a")
		i=$((i + 1))
	done
	jq -cn --argjson n "$i" "${jqargs[@]}" '[range(0; $n) as $i | $ARGS.named["a\($i)"]]'
}

# add_out_mount: binds TEST_DIR/out read-write on /out in the container, to
# see what the container wrote.
add_out_mount() {
	mkdir -p "$TEST_DIR/out"
	update_config '.mounts += [{destination: "/out", type: "bind", source: $s, options: ["rbind", "rw"]}]' \
		--arg s "$TEST_DIR/out"
}

# ---------------------------------------------------------------------------
# setup and teardown

berth_setup() {
	TEST_DIR="$BATS_TEST_TMPDIR"
	# unique on the machine: other sessions may run the suite beside us
	TAG="bit$$n${BATS_SUITE_TEST_NUMBER}"
	ROOT="$TEST_DIR/state"
	BUNDLE="$TEST_DIR/$TAG"
	CG_NAME="$TAG"
	CLEANUPS=()
	STARTED_PIDS=()
	ensure_image
	make_bundle "$BUNDLE"
	cd "$BUNDLE" || return 1
}

# defer COMMAND...: runs COMMAND (eval'd) in teardown, last registered first.
defer() {
	CLEANUPS+=("$*")
}

# track_pid PID: a background process this test started; teardown kills it.
track_pid() {
	STARTED_PIDS+=("$1")
}

berth_teardown() {
	local failed=0 id i pid why
	cd / || true
	# setup did not get far enough to create anything
	[ -n "${TAG:-}" ] && [ -n "${TEST_DIR:-}" ] || return 0
	if [ -d "$ROOT" ]; then
		for id in $("$BERTH_RUNTIME" --root "$ROOT" list -q 2>/dev/null); do
			why=$("$BERTH_RUNTIME" --root "$ROOT" delete --force "$id" 2>&1 >/dev/null) ||
				{ echo "teardown: delete --force $id failed: $why" >&2; failed=1; }
		done
	fi
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	for pid in "${STARTED_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ -d "$ROOT" ] && [ -n "$(state_dirs "$ROOT")" ]; then
		echo "teardown: state dirs left in $ROOT: $(state_dirs "$ROOT")" >&2
		failed=1
	fi
	assert_nothing_left || failed=1
	return $failed
}

setup() {
	berth_setup
}

teardown() {
	berth_teardown
}

# ---------------------------------------------------------------------------
# the runtime

# berth ARGS...: the runtime with this test's --root; the tag in its
# environment is inherited by the container init until it execs.
berth() {
	env BERTH_IT_TAG="$TAG" "$BERTH_RUNTIME" --root "$ROOT" "$@"
}

# berth_bg ARGS...: for `create` and `run --detach`, whose container keeps
# the caller's stdio open: a pipe (bats `run`, $(...)) would wait for the
# container to exit. The container's stdout goes to TEST_DIR/stdout, its
# stderr to TEST_DIR/stderr; what the runtime itself printed is printed.
berth_bg() {
	local rc=0 before
	before=$(stat -c %s "$TEST_DIR/stderr" 2>/dev/null || echo 0)
	berth "$@" </dev/null >>"$TEST_DIR/stdout" 2>>"$TEST_DIR/stderr" || rc=$?
	tail -c +$((before + 1)) "$TEST_DIR/stderr"
	return $rc
}

# status_of ID: the status field of `state ID`.
status_of() {
	state_field "$1" status
}

pid_of() {
	state_field "$1" pid
}

# state_field ID FIELD: a string or number field of `state ID` (without jq:
# these are polled).
state_field() {
	local out
	out=$(berth state "$1") || return 1
	[[ "$out" =~ \"$2\":\ *\"?([^\",]*) ]] || return 1
	echo "${BASH_REMATCH[1]}"
}

# wait_for_status ID STATUS: polls for up to 5 seconds.
wait_for_status() {
	local i s
	for ((i = 0; i < 100; i++)); do
		s=$(status_of "$1" 2>/dev/null) || true
		[ "$s" = "$2" ] && return 0
		sleep 0.05
	done
	echo "container $1 is \"$s\", not \"$2\"" >&2
	return 1
}

# wait_for_file PATH: polls for up to 5 seconds.
wait_for_file() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	echo "$1 did not appear" >&2
	return 1
}

# ---------------------------------------------------------------------------
# leftovers

state_dirs() {
	find "$1" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f ' 2>/dev/null
}

# cgroup_dirs NAME: where the container's cgroup berth-test/NAME lands in
# every hierarchy, beneath this process's own cgroup.
cgroup_dirs() {
	local id ctrls path mnt
	while IFS=: read -r id ctrls path; do
		if [ -z "$ctrls" ]; then
			if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
				mnt=/sys/fs/cgroup
			elif [ -d /sys/fs/cgroup/unified ]; then
				mnt=/sys/fs/cgroup/unified
			else
				continue
			fi
		else
			mnt="/sys/fs/cgroup/${ctrls#name=}"
			[ -d "$mnt" ] || continue
		fi
		echo "$mnt${path%/}/berth-test/$1"
	done </proc/self/cgroup
}

# tagged_pids TAG: live processes whose environment holds BERTH_IT_TAG=TAG
# (the runtime, a container init before exec, a container process after).
tagged_pids() {
	local f pid
	for f in $(grep -lsxzF "BERTH_IT_TAG=$1" /proc/[0-9]*/environ 2>/dev/null); do
		pid=${f#/proc/}
		pid=${pid%/environ}
		# zombies read as empty; skip our own subshells
		[ "$pid" = "$BASHPID" ] || echo "$pid"
	done
}

# assert_nothing_left [ID...]: no state dir for the ids, no mount that
# mentions the test's directory, no cgroup of the bundle, no tagged process.
assert_nothing_left() {
	local failed=0 id d pids
	for id in "$@"; do
		if [ -e "$ROOT/$id" ]; then
			echo "leftover state dir $ROOT/$id" >&2
			failed=1
		fi
	done
	if grep -F "$TEST_DIR" /proc/self/mountinfo >&2; then
		echo "leftover mounts (above) mention $TEST_DIR" >&2
		failed=1
	fi
	# the bundle's cgroup and those of extra bundles named "$TAG-*"
	for d in $(cgroup_dirs "$CG_NAME"); do
		for d in "$d" "$d"-*; do
			if [ -e "$d" ]; then
				echo "leftover cgroup $d" >&2
				failed=1
			fi
		done
	done
	pids=$(tagged_pids "$TAG")
	if [ -n "$pids" ]; then
		echo "leftover processes of this test: $pids" >&2
		ps -o pid,ppid,stat,args -p "$(echo $pids | tr ' ' ,)" >&2 || true
		failed=1
	fi
	return $failed
}

# ---------------------------------------------------------------------------
# assertions (bats `run` sets $status, $output, $lines)

fail() {
	echo "$*" >&2
	return 1
}

assert_success() {
	[ "$status" -eq 0 ] || fail "expected success, got status $status; output: $output"
}

# assert_failure [STATUS]
assert_failure() {
	if [ $# -gt 0 ]; then
		[ "$status" -eq "$1" ] || fail "expected status $1, got $status; output: $output"
	else
		[ "$status" -ne 0 ] || fail "expected failure, got success; output: $output"
	fi
}

assert_output() {
	[ "$output" = "$1" ] || fail "expected output \"$1\", got \"$output\""
}

assert_output_contains() {
	[[ "$output" == *"$1"* ]] || fail "expected output to contain \"$1\", got \"$output\""
}

refute_output_contains() {
	[[ "$output" != *"$1"* ]] || fail "expected output not to contain \"$1\", got \"$output\""
}

# assert_one_line_error TEXT: a failure whose message is one line starting
# with "berth-runtime: " and containing TEXT.
assert_one_line_error() {
	assert_failure || return 1
	[ "${#lines[@]}" -eq 1 ] || fail "expected a one-line error, got ${#lines[@]} lines: $output" || return 1
	[[ "${lines[0]}" == "berth-runtime: "* ]] || fail "error does not start with \"berth-runtime: \": $output" || return 1
	assert_output_contains "$1"
}

assert_equal() {
	[ "$1" = "$2" ] || fail "expected \"$2\", got \"$1\"${3:+ ($3)}"
}

# ---------------------------------------------------------------------------
# rootless

# ensure_rootless_user: the unprivileged user with subordinate id ranges.
ensure_rootless_user() {
	if ! id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$ROOTLESS_USER" 2>/dev/null ||
			id -u "$ROOTLESS_USER" >/dev/null || return 1
	fi
	(
		flock 9
		grep -q "^$ROOTLESS_USER:" /etc/subuid 2>/dev/null || echo "$ROOTLESS_USER:400000:65536" >>/etc/subuid
		grep -q "^$ROOTLESS_USER:" /etc/subgid 2>/dev/null || echo "$ROOTLESS_USER:400000:65536" >>/etc/subgid
	) 9>>/etc/subuid.berth-test.lock
	ROOTLESS_UID=$(id -u "$ROOTLESS_USER")
	ROOTLESS_GID=$(id -g "$ROOTLESS_USER")
}

# kill_rootless_pause FILE: kills the pause process that an unprivileged
# berth started (its pid and start time are in FILE), if it still runs.
kill_rootless_pause() {
	local pid start now
	[ -f "$1" ] || return 0
	read -r pid start <"$1" || return 0
	now=$(cut -d' ' -f22 "/proc/$pid/stat" 2>/dev/null) || return 0
	[ "$now" = "$start" ] && kill -9 "$pid" 2>/dev/null
	return 0
}

# as_rootless CMD...: runs CMD as the unprivileged user with its own
# XDG_RUNTIME_DIR and the test's tag.
as_rootless() {
	setpriv --reuid="$ROOTLESS_UID" --regid="$ROOTLESS_GID" --init-groups --reset-env -- \
		env XDG_RUNTIME_DIR="$ROOTLESS_XDG" HOME="$ROOTLESS_XDG" BERTH_IT_TAG="$TAG" "$@"
}

berth_rootless() {
	as_rootless "$BERTH_RUNTIME" --root "$ROOTLESS_ROOT" "$@"
}
