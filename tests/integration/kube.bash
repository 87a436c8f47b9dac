# Shared setup of the `berth kube` bats files (kube-pods, kube-deployments):
# engine.bash's store, run root and network namespace of the test's own,
# the pods' cgroups beneath berth-test/TAG (BERTH_KUBE_CGROUP_PARENT), and
# a teardown that deletes every object, waits for the namespace's
# controller to exit, then runs the engine teardown (nothing may be left).

load engine

# kb ARGS...: berth kube with the test's store, run root and cgroup parent.
kb() {
	nsenter --net="$HOSTNS" env BERTH_IT_TAG="$TAG" BERTH_KUBE_CGROUP_PARENT="berth-test/$TAG" \
		"$BERTH_BIN" --root "$STORE" --runroot "$RUNROOT" kube "$@"
}

kube_setup() {
	engine_setup "$1"
	MANIFESTS="$TEST_DIR/manifests"
	mkdir -p "$MANIFESTS"
}

# controller_pid [NS]: the pid in the namespace's lock file when it lives.
controller_pid() {
	local f pid
	f=$(ls "$RUNROOT"/kube/*/"${1:-default}.lock" 2>/dev/null | head -1)
	[ -n "$f" ] || return 0
	pid=$(cat "$f" 2>/dev/null)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
	return 0
}

kube_teardown() {
	local i failed=0
	kb delete all --all >/dev/null 2>&1 || failed=1
	for ((i = 0; i < 100; i++)); do
		[ -z "$(controller_pid)" ] && break
		sleep 0.1
	done
	if [ -n "$(controller_pid)" ]; then
		echo "teardown: the controller $(controller_pid) did not exit" >&2
		tail -20 "$RUNROOT"/kube/*/default.log >&2
		failed=1
	fi
	if [ -n "$(ls -A "$STORE/kube-pods/default" 2>/dev/null)" ]; then
		echo "teardown: pod directories left: $(ls -A "$STORE/kube-pods/default")" >&2
		failed=1
	fi
	engine_teardown || failed=1
	return $failed
}

# ready_pods: how many pods `get pods -o json` shows Ready.
ready_pods() {
	kb get pods -o json | jq '[.items[] | select(.status.conditions[0].status == "True")] | length'
}

# pod_names: the pods' names, sorted, on one line.
pod_names() {
	kb get pods -o json | jq -r '[.items[].metadata.name] | sort | join(" ")'
}

# wait_ready N [SECONDS]: until N pods are ready (default 10 s).
wait_ready() {
	local i n limit=$((${2:-10} * 10))
	for ((i = 0; i < limit; i++)); do
		n=$(ready_pods)
		[ "$n" = "$1" ] && return 0
		sleep 0.1
	done
	kb get pods >&2
	tail -20 "$RUNROOT"/kube/*/default.log >&2
	fail "$n pods ready, not $1"
}

# pid_of_container ID: the container's main process.
pid_of_container() {
	b inspect "$1" | jq -r '.[0].State.Pid'
}
