#!/bin/sh
# Runs the bats integration suite of berth-runtime.
#
#   tests/integration/run.sh [BATS_ARGS...] [FILES...]
#
# Builds the busybox test bundles once (root and rootless) into a cache
# directory, then runs `bats --jobs 1` on tests/integration (or the FILES
# given). Exits non-zero when a test fails. Needs root: the suite creates
# namespaces, mounts, cgroups and an unprivileged user for the rootless tests.
#
# Environment:
#   BERTH_RUNTIME      binary under test (default: build/src/cmd/runtime/berth-runtime)
#   BERTH_TEST_IMAGE   reuse bundles built earlier into this directory
#   BERTH_IT_TIMEOUT   seconds before the whole run is stopped (default 1500)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BERTH_RUNTIME=${BERTH_RUNTIME:-$repo/build/src/cmd/runtime/berth-runtime}
export BERTH_RUNTIME

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: the integration suite needs root (it runs rootless tests through a user of its own)" >&2
	exit 2
fi
for tool in bats jq ip unshare setpriv newuidmap newgidmap; do
	command -v "$tool" >/dev/null || {
		echo "run.sh: $tool is missing (scripts/install-deps.sh installs it)" >&2
		exit 2
	}
done
if [ ! -x "$BERTH_RUNTIME" ]; then
	echo "run.sh: $BERTH_RUNTIME is not built (meson setup build && ninja -C build)" >&2
	exit 2
fi

cache=""
if [ -z "${BERTH_TEST_IMAGE:-}" ]; then
	cache=$(mktemp -d "${TMPDIR:-/tmp}/berth-it-image.XXXXXX")
	trap 'rm -rf "$cache"' EXIT INT TERM
	BERTH_TEST_IMAGE="$cache"
fi
export BERTH_TEST_IMAGE
if [ ! -f "$BERTH_TEST_IMAGE/root/config.json" ]; then
	"$repo/scripts/make-test-image.sh" --runtime "$BERTH_RUNTIME" "$BERTH_TEST_IMAGE/root" sh >/dev/null
fi
if [ ! -f "$BERTH_TEST_IMAGE/rootless/config.json" ]; then
	"$repo/scripts/make-test-image.sh" --rootless --runtime "$BERTH_RUNTIME" "$BERTH_TEST_IMAGE/rootless" sh >/dev/null
fi

# no FILES given: the whole directory
last=""
for arg in "$@"; do last=$arg; done
if [ -z "$last" ] || [ ! -e "$last" ]; then
	set -- "$@" "$here"
fi

# tests never set up berth's network in the suite's own namespace (the
# host's): engine_teardown fails a test that did, unless it was so before
if ip link show berth0 >/dev/null 2>&1 || nft list table inet berth >/dev/null 2>&1; then
	echo "run.sh: berth0 or table inet berth exists in this network namespace already; not checking for tests that make them" >&2
	export BERTH_IT_OUTER_NET_DIRTY=1
fi

# nor berth's host-wide run directory: tests name their own
# (BERTH_NETWORK_RUNDIR), and a container without a network makes none
had_rundir=false
[ ! -e /run/berth ] || had_rundir=true

status=0
timeout --foreground -k 10 "${BERTH_IT_TIMEOUT:-1500}" bats --jobs 1 "$@" || status=$?
if [ "$status" = 124 ]; then
	echo "run.sh: the suite did not finish in ${BERTH_IT_TIMEOUT:-1500} s" >&2
fi

if ! $had_rundir && [ -e /run/berth ]; then
	echo "run.sh: the suite made /run/berth (a test ran berth without BERTH_NETWORK_RUNDIR):" >&2
	find /run/berth -maxdepth 3 >&2
	[ "$status" != 0 ] || status=1
fi

# Every test's cgroupsPath is berth-test/NAME below this process's own
# cgroup; delete removes the leaf and, like runc, leaves a parent other
# containers may share. Remove the now empty parent in every hierarchy.
while IFS=: read -r _ ctrls path; do
	if [ -z "$ctrls" ]; then
		mnt=/sys/fs/cgroup
		[ -f "$mnt/cgroup.controllers" ] || mnt=/sys/fs/cgroup/unified
	else
		mnt="/sys/fs/cgroup/${ctrls#name=}"
	fi
	rmdir "$mnt${path%/}/berth-test" 2>/dev/null || true
done </proc/self/cgroup
exit "$status"
