# Shared setup of the API service's bats files (api*.bats): engine.bash's
# store, run root, network namespace and tag, plus `berth system service`
# on a socket in the test's directory, driven by the real docker CLI.
#
#   api_start [FLAGS...]   starts the service (pid in API_PID), waits for it
#   api_stop               kills it (its pid only) and waits
#   d ARGS...              docker (Debian's 20.10 client unless DOCKER_BIN)
#                          against the service
#   drun ARGS...           docker run with the test's cgroup parent and tag
#   api_curl PATH [ARGS]   curl of a raw endpoint over the socket

load engine

DOCKER_BIN=${DOCKER_BIN:-/usr/bin/docker}

# api_start [--host-netns] [FLAGS...]: in the test's network namespace, or
# with --host-netns in the host's (to reach a registry on 127.0.0.1; the
# containers then must run with --network none).
api_start() {
	local netns=(nsenter --net="$HOSTNS")
	if [ "${1:-}" = --host-netns ]; then
		netns=()
		shift
	fi
	API_SOCK="$TEST_DIR/d.sock"
	API_LOG="$TEST_DIR/service.log"
	export DOCKER_CONFIG="$TEST_DIR/docker-config"
	mkdir -p "$DOCKER_CONFIG"
	# exec: API_PID is the service's own pid; fd 3 closed, or bats waits for it
	(exec "${netns[@]}" env BERTH_IT_TAG="$TAG" BERTH_NETWORK_RUNDIR="$HOSTNET" "$BERTH_BIN" --root "$STORE" \
		--runroot "$RUNROOT" system service --listen "unix://$API_SOCK" "$@" </dev/null >"$API_LOG" 2>&1 3>&-) &
	API_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$API_SOCK" ] && curl -sf --unix-socket "$API_SOCK" http://berth/_ping >/dev/null 2>&1 && return 0
		kill -0 "$API_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "api_start: the service did not come up; its log:" >&2
	cat "$API_LOG" >&2
	return 1
}

api_stop() {
	[ -n "${API_PID:-}" ] || return 0
	kill "$API_PID" 2>/dev/null || true
	wait "$API_PID" 2>/dev/null || true
	API_PID=
}

d() {
	timeout -s KILL 60 "$DOCKER_BIN" -H "unix://$API_SOCK" "$@"
}

drun() {
	d run --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG="$TAG" "$@"
}

api_curl() {
	local path=$1
	shift
	curl -s -m 30 --unix-socket "$API_SOCK" "$@" "http://berth$path"
}

api_setup() {
	engine_setup "$1"
	api_start
}

api_teardown() {
	api_stop
	# a registry of a test that failed half-way (registry.bash)
	if declare -F registry_stop >/dev/null; then
		registry_stop
	fi
	engine_teardown
}
