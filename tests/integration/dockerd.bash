# The API scenarios of api-targets.bats run against two targets in one run:
# berth's service (api.bash) and a private dockerd (scripts/private-dockerd.sh:
# its own roots, socket, containerd, network and mount namespaces, nothing
# left on the host). A test's name starts with its target ("berth: ...",
# "dockerd: ..."); setup picks it from there.
#
#   target_setup_file      the rootfs tarball; dockerd started once per file
#                          (its image "bb" loaded from berth's `save` of it)
#   target_teardown_file   dockerd stopped, its directory and cgroup removed
#   target_setup PREFIX    engine_setup, then API_SOCK of the target (berth:
#                          its own service for the test)
#   target_teardown        dockerd: every container, network, volume and image
#                          but bb removed (a test fails if it left any); then
#                          api_teardown (berth's checks: processes, cgroups
#                          beneath berth-test/TAG, mounts, records)
#   t_net CMD...           CMD in the target's network namespace (ports
#                          published there)
#   TARGET                 berth or dockerd

load api
# shellcheck source=scripts/private-dockerd.sh
. "$REPO_ROOT/scripts/private-dockerd.sh"

target_setup_file() {
	engine_make_rootfs
	command -v /usr/sbin/dockerd >/dev/null || return 0
	local store="$BATS_FILE_TMPDIR/save-store"
	"$BERTH_BIN" --root "$store" --runroot "$BATS_FILE_TMPDIR/save-run" import "$BATS_FILE_TMPDIR/rootfs.tar" bb \
		--change 'CMD ["sh"]' >/dev/null
	"$BERTH_BIN" --root "$store" --runroot "$BATS_FILE_TMPDIR/save-run" save -o "$BATS_FILE_TMPDIR/bb.tar" bb
	rm -rf "$store" "$BATS_FILE_TMPDIR/save-run"
	private_dockerd_start "$BATS_FILE_TMPDIR/dockerd" "berth-test/dockerd$$" || {
		private_dockerd_stop
		return 1
	}
	export PRIVATE_DOCKERD_PID PRIVATE_DOCKERD_SOCK PRIVATE_DOCKERD_DIR PRIVATE_DOCKERD_CGROUP_PARENT
	DOCKER_CONFIG="$BATS_FILE_TMPDIR/docker-config" timeout -s KILL 60 /usr/bin/docker \
		-H "unix://$PRIVATE_DOCKERD_SOCK" load -i "$BATS_FILE_TMPDIR/bb.tar" >/dev/null
}

target_teardown_file() {
	private_dockerd_stop
}

target_setup() {
	TARGET=${BATS_TEST_DESCRIPTION%%:*}
	engine_setup "$1"
	export DOCKER_CONFIG="$TEST_DIR/docker-config"
	mkdir -p "$DOCKER_CONFIG"
	if [ "$TARGET" = dockerd ]; then
		[ -n "$PRIVATE_DOCKERD_PID" ] || skip "no dockerd (Debian's docker.io) installed"
		API_SOCK=$PRIVATE_DOCKERD_SOCK
	else
		api_start
	fi
}

t_net() {
	if [ "$TARGET" = dockerd ]; then
		private_dockerd_netns "$@"
	else
		in_host "$@"
	fi
}

# dockerd_clean: what a test left in dockerd, removed and named; 1 if any
dockerd_clean() {
	local left="" ids
	ids=$(d ps -aq)
	if [ -n "$ids" ]; then
		left="$left containers:$(echo $ids)"
		d rm -f $ids >/dev/null
	fi
	ids=$(d network ls -q --filter type=custom)
	if [ -n "$ids" ]; then
		left="$left networks:$(echo $ids)"
		d network rm $ids >/dev/null
	fi
	ids=$(d volume ls -q)
	if [ -n "$ids" ]; then
		left="$left volumes:$(echo $ids)"
		d volume rm -f $ids >/dev/null
	fi
	ids=$(d images --format '{{.Repository}}:{{.Tag}}' | grep -vx 'bb:latest')
	if [ -n "$ids" ]; then
		left="$left images:$(echo $ids)"
		d rmi -f $ids >/dev/null
	fi
	[ -z "$left" ] || {
		echo "teardown: left in dockerd:$left" >&2
		return 1
	}
}

target_teardown() {
	local failed=0
	if [ "${TARGET:-}" = dockerd ] && [ -n "$PRIVATE_DOCKERD_PID" ]; then
		cd / || true
		dockerd_clean || failed=1
	fi
	api_teardown || failed=1
	return $failed
}
