# Shared setup of the berth engine's bats files (engine-containers, -health,
# -stats, -cp): a busybox image imported into a store of the test's own, the
# containers' cgroups beneath the test's cgroup (berth-test/TAG/<id>), the
# monitor and the containers tagged BERTH_IT_TAG=TAG, and a teardown that
# removes every container and fails the test when anything is left: runtime
# state, container records or names, mounts, cgroups, processes.
#
# A file does `load engine`, then in its own setup_file/setup/teardown calls
# engine_make_rootfs, engine_setup PREFIX and engine_teardown.

load helpers
bats_require_minimum_version 1.5.0

BERTH_BIN=$(realpath "${BERTH:-$REPO_ROOT/build/src/cmd/berth/berth}")

# engine_make_rootfs: $BATS_FILE_TMPDIR/rootfs.tar, busybox with every applet,
# users root and app (1000), empty /tmp, /data and /home/app, and
# /bin/noexec (a script without the x bit).
engine_make_rootfs() {
	local dir="$BATS_FILE_TMPDIR/rootfs" a
	mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/home/app" "$dir/data"
	cp /bin/busybox "$dir/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' >"$dir/etc/passwd"
	printf 'root:x:0:\napp:x:1000:\n' >"$dir/etc/group"
	printf '#!/bin/sh\necho not executable\n' >"$dir/bin/noexec"
	chmod 644 "$dir/bin/noexec"
	tar -C "$dir" -cf "$BATS_FILE_TMPDIR/rootfs.tar" .
}

# engine_setup PREFIX: the test's dirs and tag; the image is "bb" (CMD sh).
# berth runs in a network namespace of the test's own (HOSTNS, `lo` up): the
# default bridge, its nftables table and sysctls stay in there, and the
# host-wide network records in HOSTNET (BERTH_NETWORK_RUNDIR).
engine_setup() {
	TEST_DIR="$BATS_TEST_TMPDIR"
	TAG="$1$$n${BATS_SUITE_TEST_NUMBER}"
	CG_NAME="$TAG"
	CLEANUPS=() # `defer CMD` (helpers.bash): run by engine_teardown, last first
	STORE="$TEST_DIR/store"
	RUNROOT="$TEST_DIR/run"
	HOSTNS="$TEST_DIR/hostns"
	HOSTNET="$TEST_DIR/hostnet"
	# also for berth run directly in HOSTNS (else the namespace's own
	# /run/berth/network/netns-COOKIE would outlive the test)
	export BERTH_NETWORK_RUNDIR="$HOSTNET"
	touch "$HOSTNS"
	unshare --net="$HOSTNS" true
	in_host ip link set lo up
	b import "$BATS_FILE_TMPDIR/rootfs.tar" bb --change 'CMD ["sh"]' >/dev/null
}

# in_host CMD...: CMD in the test's "host" network namespace.
in_host() {
	nsenter --net="$HOSTNS" "$@"
}

# wait_removed: the monitor of a --rm container finishes removing it just
# after berth returns (docs/engine.md, "The monitor"); waits up to 5 s for
# the last .removing-ID directory to go. Fails when one stays.
wait_removed() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -z "$(find "$STORE/containers" -mindepth 1 -maxdepth 1 -name '.removing-*' 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	echo "still being removed: $(ls -A "$STORE/containers")" >&2
	return 1
}

engine_teardown() {
	local id failed=0 d net i
	cd / || true
	wait_removed || failed=1
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	CLEANUPS=()
	for id in $(b ps -aq --no-trunc 2>/dev/null); do
		b rm -f "$id" >/dev/null 2>&1 || {
			echo "teardown: rm -f $id failed" >&2
			failed=1
		}
	done
	for net in $(b network ls -q 2>/dev/null); do
		[ "$net" != berth ] || continue # the default network stays (refused)
		b network rm "$net" >/dev/null 2>&1 || {
			echo "teardown: network rm $net failed" >&2
			failed=1
		}
	done
	# services (berth network service): records, node port claims, and
	# their chains, sets and elements in berth's table
	for net in $(b network service ls -q 2>/dev/null); do
		b network service rm "$net" >/dev/null 2>&1 || {
			echo "teardown: network service rm $net failed" >&2
			failed=1
		}
	done
	if [ -n "$(find "$HOSTNET/services" -name '*.json' 2>/dev/null)" ]; then
		echo "teardown: service records left: $(ls -A "$HOSTNET/services")" >&2
		failed=1
	fi
	if [ -e "$HOSTNS" ] && in_host nft list table inet berth 2>/dev/null |
		grep -E 'chain (svc|ep|np)[-_]|set aff-|service_(ips|nodeports|vips|node_ports)' >&2; then
		echo "teardown: service objects left in nftables" >&2
		failed=1
	fi
	# a removed namespace takes its veth pair with it, in the background
	for ((i = 0; i < 50; i++)); do
		[ -e "$HOSTNS" ] && [ -n "$(in_host ip -o link show type veth 2>/dev/null)" ] || break
		sleep 0.1
	done
	if [ -e "$HOSTNS" ] && [ -n "$(in_host ip -o link show type veth 2>/dev/null)" ]; then
		in_host ip -o link show type veth >&2
		echo "teardown: veth left" >&2
		failed=1
	fi
	if [ -n "$(ls -A "$RUNROOT/netns" 2>/dev/null)" ]; then
		echo "teardown: netns files left: $(ls -A "$RUNROOT/netns")" >&2
		failed=1
	fi
	if [ -n "$(find "$STORE/networks" "$HOSTNET/leases" -mindepth 1 \( -path '*.leases/*' -o -path "$HOSTNET/leases/*/*" \) ! -name lock ! -name 'last-*' 2>/dev/null)" ]; then
		echo "teardown: leases left: $(find "$STORE/networks" "$HOSTNET/leases" -mindepth 1)" >&2
		failed=1
	fi
	if [ -n "$(find "$HOSTNET/owners" "$HOSTNET/ports" -mindepth 1 ! -name lock 2>/dev/null)" ]; then
		echo "teardown: host-wide network records left: $(find "$HOSTNET/owners" "$HOSTNET/ports" -mindepth 1)" >&2
		failed=1
	fi
	# the suite's own network namespace (the host's, as a rule) is never
	# berth's: a test that ran berth there without --network none left its
	# bridge or table (run.sh notes what was there before the suite)
	# (reported once: the first test to fail is the one that made them)
	if [ -z "${BERTH_IT_OUTER_NET_DIRTY:-}" ] && [ ! -e "$BATS_RUN_TMPDIR/outer-net-dirty" ] &&
		{ ip link show berth0 >/dev/null 2>&1 || nft list table inet berth >/dev/null 2>&1; }; then
		echo "teardown: berth0 or table inet berth made in the suite's own network namespace" >&2
		touch "$BATS_RUN_TMPDIR/outer-net-dirty"
		failed=1
	fi
	umount "$HOSTNS" 2>/dev/null || true
	rm -f "$HOSTNS"
	# the containers' cgroup parent: empty once every container is gone
	for d in $(cgroup_dirs "$TAG"); do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	if [ -n "$(find "$RUNROOT/runtime" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null)" ]; then
		echo "teardown: runtime state left in $RUNROOT/runtime" >&2
		failed=1
	fi
	if [ -n "$(find "$STORE/containers" -mindepth 1 -maxdepth 1 ! -name names 2>/dev/null)" ] ||
		[ -n "$(ls -A "$STORE/containers/names" 2>/dev/null)" ]; then
		echo "teardown: container records left: $(ls -A "$STORE/containers" "$STORE/containers/names")" >&2
		failed=1
	fi
	# mounts of the test's store or run root left in this (the host's)
	# mount namespace: container rootfs overlays, netns binds. Reported,
	# then detached so that the next test starts clean.
	local m mounts=""
	case "${TEST_DIR:-}" in
	"$BATS_RUN_TMPDIR"/?*) mounts=$(awk -v d="$TEST_DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r) ;;
	esac
	if [ -n "$mounts" ]; then
		echo "teardown: mounts left: ${mounts//$'\n'/ }" >&2
		for m in $mounts; do umount -l "$m" 2>/dev/null || true; done
		failed=1
	fi
	assert_nothing_left || failed=1
	return $failed
}

# b ARGS...: berth with this test's store, in the test's network namespace;
# the tag goes to the monitors.
b() {
	nsenter --net="$HOSTNS" env BERTH_IT_TAG="$TAG" BERTH_NETWORK_RUNDIR="$HOSTNET" "$BERTH_BIN" --root "$STORE" --runroot "$RUNROOT" "$@"
}

# brun ARGS...: berth run with the test's cgroup parent and tag.
brun() {
	b run --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG "$@"
}

state_of() {
	b inspect "$1" | jq -r ".[0].$2"
}

# wait_state NAME FIELD VALUE: polls inspect for up to 5 s.
wait_state() {
	local i v
	for ((i = 0; i < 100; i++)); do
		v=$(state_of "$1" "$2")
		[ "$v" = "$3" ] && return 0
		sleep 0.05
	done
	fail "$1: $2 is \"$v\", not \"$3\""
}
