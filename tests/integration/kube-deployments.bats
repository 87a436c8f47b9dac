#!/usr/bin/env bats
# berth kube (issue 14): Deployments. Replicas, a replica killed is
# replaced, the controller killed harms nothing, scale, a rolling update
# that keeps every replica serving (maxUnavailable 0), Recreate, rollout
# history and undo.

load kube

setup_file() {
	engine_make_rootfs
}

setup() {
	kube_setup kdep
}

teardown() {
	kube_teardown
}

# write_web VERSION [REPLICAS] [STRATEGY]: a Deployment "web" whose pods
# serve VERSION on :8080, ready once httpd answers.
write_web() {
	local strategy="rollingUpdate: {maxSurge: 1, maxUnavailable: 0}"
	[ "${3:-}" = Recreate ] && strategy="type: Recreate"
	cat >"$MANIFESTS/web.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: ${2:-3}
  selector:
    matchLabels:
      app: web
  strategy:
    $strategy
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: bb
        command: ["sh", "-c", "echo $1 > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
        ports:
        - containerPort: 8080
          name: http
        readinessProbe:
          httpGet: {path: /index.html, port: http}
          periodSeconds: 1
YAML
}

@test "kube deployment: 3 replicas, ready, named after the template; get shows them" {
	write_web v1
	run kb apply -f "$MANIFESTS/web.yaml"
	assert_success
	[ "$output" = "deployment.apps/web created" ]
	wait_ready 3
	run kb get deployments
	assert_success
	[[ "${lines[1]}" =~ ^web\ +3/3\ +3\ +3\  ]]
	for name in $(pod_names); do
		[[ "$name" =~ ^web-[0-9a-f]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$ ]]
	done
	# every replica serves, each on its own address
	for ip in $(kb get pods -o json | jq -r '.items[].status.podIP'); do
		[ "$(in_host busybox wget -qO- "http://$ip:8080/index.html")" = v1 ]
	done
	[ "$(kb get pods -o json | jq -r '.items[].status.podIP' | sort -u | wc -l)" = 3 ]
	run kb get deployment web -o json
	[ "$(jq .status.readyReplicas <<<"$output")" = 3 ]
	# the template is stored as written (the pods' names are not put in it)
	[ "$(jq -c .spec.template.metadata <<<"$output")" = '{"labels":{"app":"web"}}' ]
	run kb get deployment web -o yaml
	assert_output_contains "name: web"
	run kb apply -f "$MANIFESTS/web.yaml"
	[ "$output" = "deployment.apps/web unchanged" ]
}

@test "kube deployment: kill -9 of a replica's process or holder: a ready replica again within 2 s" {
	write_web v1
	kb apply -f "$MANIFESTS/web.yaml"
	wait_ready 3
	id=$(kb get pods -o json | jq -r '.items[0].status.containerStatuses[0].containerID' | sed 's|berth://||')
	kill -9 "$(pid_of_container "$id")"
	wait_ready 3 2
	before=$(pod_names)
	holder=$(b inspect "k8s_POD_$(kb get pods -o json | jq -r '.items[1].metadata.name')_default" | jq -r '.[0].State.Pid')
	# the holder has no monitor (nothing of berth's waits for it): the
	# controller sees its end through the process itself
	[ "$(b inspect "k8s_POD_$(kb get pods -o json | jq -r '.items[1].metadata.name')_default" | jq -r '.[0].State.MonitorPid')" = 0 ]
	kill -9 "$holder"
	sleep 0.3
	wait_ready 3 2
	# the dead pod shows as Terminating until its removal is done
	for ((i = 0; i < 50; i++)); do
		[ "$(kb get pods -o json | jq '.items | length')" = 3 ] && break
		sleep 0.1
	done
	[ "$(kb get pods -o json | jq '.items | length')" = 3 ]
	[ "$(pod_names)" != "$before" ]
	[ "$(b ps -q | wc -l)" = 6 ]
}

@test "kube deployment: kill -9 of the controller: nothing duplicated or lost, a new one adopts the pods" {
	write_web v1
	kb apply -f "$MANIFESTS/web.yaml"
	wait_ready 3
	old=$(controller_pid)
	[ -n "$old" ]
	before=$(pod_names)
	ids=$(b ps -q --no-trunc | sort | tr '\n' ' ')
	kill -9 "$old"
	sleep 0.2
	# the containers keep running without it
	[ "$(b ps -q --no-trunc | sort | tr '\n' ' ')" = "$ids" ]
	kb get pods >/dev/null # starts another
	new=$(controller_pid)
	[ -n "$new" ] && [ "$new" != "$old" ]
	sleep 1.5
	[ "$(pod_names)" = "$before" ]
	[ "$(b ps -q --no-trunc | sort | tr '\n' ' ')" = "$ids" ]
	wait_ready 3
	# and it still does its work
	kb scale deployment/web --replicas 4
	wait_ready 4
}

@test "kube scale: up and down" {
	write_web v1 2
	kb apply -f "$MANIFESTS/web.yaml"
	wait_ready 2
	run kb scale deployment/web --replicas 4
	assert_success
	[ "$output" = "deployment.apps/web scaled" ]
	wait_ready 4
	kb scale deploy web --replicas 1
	for ((i = 0; i < 100; i++)); do
		[ "$(kb get pods -o json | jq '.items | length')" = 1 ] && break
		sleep 0.1
	done
	[ "$(kb get pods -o json | jq '.items | length')" = 1 ]
	[ "$(b ps -q | wc -l)" = 2 ]
	run kb get deploy
	[[ "${lines[1]}" =~ ^web\ +1/1\  ]]
}

@test "kube rollout: a new template rolls out with no replica short (maxUnavailable 0); history and undo" {
	write_web v1
	kb apply -f "$MANIFESTS/web.yaml"
	wait_ready 3
	write_web v2
	run kb apply -f "$MANIFESTS/web.yaml"
	[ "$output" = "deployment.apps/web configured" ]
	# a client polls the ready pods while the rollout runs
	(
		while [ ! -e "$TEST_DIR/done" ]; do
			ready_pods >>"$TEST_DIR/ready-counts"
			sleep 0.1
		done
	) &
	poller=$!
	run kb rollout status deployment/web --timeout 60
	touch "$TEST_DIR/done"
	wait "$poller"
	assert_success
	assert_output_contains 'deployment "web" successfully rolled out'
	min=$(sort -n "$TEST_DIR/ready-counts" | head -1)
	[ "$min" -ge 3 ] || fail "ready pods fell to $min during the rollout: $(tr '\n' ' ' <"$TEST_DIR/ready-counts")"
	for ip in $(kb get pods -o json | jq -r '.items[].status.podIP'); do
		[ "$(in_host busybox wget -qO- "http://$ip:8080/index.html")" = v2 ]
	done
	[ "$(kb get pods -o json | jq '.items | length')" = 3 ]
	run kb rollout history deployment/web
	assert_output_contains "1 "
	assert_output_contains "2 "
	run kb rollout undo deployment/web
	assert_success
	kb rollout status deployment/web --timeout 60
	for ip in $(kb get pods -o json | jq -r '.items[].status.podIP'); do
		[ "$(in_host busybox wget -qO- "http://$ip:8080/index.html")" = v1 ]
	done
}

@test "kube rollout: Recreate removes the old pods before it makes new ones" {
	write_web v1 2 Recreate
	kb apply -f "$MANIFESTS/web.yaml"
	wait_ready 2
	old=$(pod_names)
	write_web v2 2 Recreate
	kb apply -f "$MANIFESTS/web.yaml"
	run kb rollout status deployment/web --timeout 60
	assert_success
	for name in $old; do
		[[ " $(pod_names) " != *" $name "* ]]
	done
	grep -q "scaled down" "$RUNROOT"/kube/*/default.log
	# no new pod was made before the last old one was asked to go
	last_old=$(grep -n "scaled down" "$RUNROOT"/kube/*/default.log | tail -1 | cut -d: -f1)
	first_new=$(grep -n "creating" "$RUNROOT"/kube/*/default.log | sed -n 3p | cut -d: -f1)
	[ "$first_new" -gt "$last_old" ]
}

@test "kube deployment: minReadySeconds: a ready pod counts as available only after it" {
	write_web v1 2
	sed -i 's/^  replicas: 2/  replicas: 2\n  minReadySeconds: 3/' "$MANIFESTS/web.yaml"
	kb apply -f "$MANIFESTS/web.yaml"
	wait_ready 2
	run kb get deployment web -o json
	[ "$(jq .status.readyReplicas <<<"$output")" = 2 ]
	[ "$(jq .status.availableReplicas <<<"$output")" = 0 ]
	run kb rollout status deployment/web --timeout 30
	assert_success
	[ "$(kb get deployment web -o json | jq .status.availableReplicas)" = 2 ]
}

@test "kube deployment: a container stopped by hand (its monitor ends) gets its pod replaced" {
	write_web v1 2
	kb apply -f "$MANIFESTS/web.yaml"
	wait_ready 2
	before=$(pod_names)
	victim=$(kb get pods -o json | jq -r '.items[0].metadata.name')
	b stop -t 1 "k8s_web_${victim}_default" >/dev/null
	for ((i = 0; i < 50; i++)); do
		[[ " $(pod_names) " != *" $victim "* ]] && [ "$(ready_pods)" = 2 ] && break
		sleep 0.1
	done
	[[ " $(pod_names) " != *" $victim "* ]]
	wait_ready 2
	[ "$(pod_names)" != "$before" ]
	grep -q "pod $victim: it cannot run" "$RUNROOT"/kube/*/default.log
}

# spawner_pid: the monitor spawner of the namespace's controller
spawner_pid() {
	local p ctl
	ctl=$(controller_pid)
	[ -n "$ctl" ] || return 0
	for p in $(pgrep -P "$ctl"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q '^berth-monitor-spawner' && echo "$p"
	done
	return 0
}

# alive PID: runs (a zombie does not)
alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st:0:1}" != Z ] && [ "${st:0:1}" != X ]
}

@test "kube deployment: the monitors come from the controller's spawner; killed, the monitors are forked as before" {
	local spawner ctl id
	write_web v1 2
	kb apply -f "$MANIFESTS/web.yaml"
	wait_ready 2
	spawner=$(spawner_pid)
	[ -n "$spawner" ]
	ctl=$(controller_pid)
	# the spawner holds no fd of the controller's (its lock above all)
	run sh -c "ls -l /proc/$spawner/fd | grep -F .lock"
	assert_failure
	# it runs from the sealed view of berth's binary (a detached read-only
	# bind: its exe reads "/berth"), and so do the monitors it forked
	[ "$(readlink "/proc/$spawner/exe")" = /berth ]
	for id in $(b ps -q --no-trunc --filter label=io.kubernetes.container.name=web); do
		[ "$(readlink "/proc/$(b inspect "$id" | jq -r '.[0].State.MonitorPid')/exe")" = /berth ]
	done
	kill -9 "$spawner"
	kb scale deployment/web --replicas 3
	wait_ready 3
	[ "$(controller_pid)" = "$ctl" ]
	for id in $(b ps -q --no-trunc); do
		[ "$(b inspect "$id" | jq -r '.[0].Config.Labels["io.kubernetes.container.name"]')" = POD ] && continue
		[ "$(b inspect "$id" | jq -r '.[0].State.Status')" = running ]
		alive "$(b inspect "$id" | jq -r '.[0].State.MonitorPid')"
	done
	# a new controller makes a new spawner; the controller killed, the spawner goes with it
	kill -9 "$ctl"
	for _ in $(seq 50); do alive "$spawner" || break; sleep 0.1; done
	run alive "$spawner"
	assert_failure
	kb get pods >/dev/null
	for _ in $(seq 50); do [ -n "$(spawner_pid)" ] && break; sleep 0.1; done
	spawner=$(spawner_pid)
	[ -n "$spawner" ]
	kill -9 "$(controller_pid)"
	for _ in $(seq 50); do alive "$spawner" || break; sleep 0.1; done
	run alive "$spawner"
	assert_failure
}

# private_kib PID...: Private_Clean + Private_Dirty (smaps_rollup), summed
private_kib() {
	local p sum=0
	for p in "$@"; do
		[ "$p" -gt 0 ] || continue
		sum=$((sum + $(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s + 0}' "/proc/$p/smaps_rollup")))
	done
	echo "$sum"
}

@test "kube deployment: a pod costs little beyond its containers (its /pause and one monitor)" {
	local id json holders=() monitors=() pods=0 holder_kib monitor_kib
	write_web v1 3
	kb apply -f "$MANIFESTS/web.yaml"
	wait_ready 3
	sleep 1 # a few probes of every pod
	for id in $(b ps -q --no-trunc); do
		json=$(b inspect "$id")
		monitors+=("$(jq -r '.[0].State.MonitorPid' <<<"$json")")
		if [ "$(jq -r '.[0].Config.Labels["io.kubernetes.container.name"]' <<<"$json")" = POD ]; then
			holders+=("$(jq -r '.[0].State.Pid' <<<"$json")")
			pods=$((pods + 1))
		fi
	done
	[ "$pods" = 3 ]
	holder_kib=$(private_kib "${holders[@]}")
	monitor_kib=$(private_kib "${monitors[@]}")
	echo "# per pod beyond its containers: $(((holder_kib + monitor_kib) / pods)) KiB private" \
		"(holder $((holder_kib / pods)), monitors $((monitor_kib / pods)))" >&3
	# issue 14's target is 300 KB: the holder has no monitor, and the
	# container's is forked from the controller's small spawner, sealed
	# once for all (202 KiB measured, 798 before: docs/benchmarks.md)
	[ $(((holder_kib + monitor_kib) / pods)) -le 260 ]
}

@test "kube deployment: the controller's heap does not hold every pod record of a pass" {
	local ctl dirty
	write_web v1 10
	kb apply -f "$MANIFESTS/web.yaml"
	wait_ready 10 30
	sleep 3 # passes and probes of every pod
	ctl=$(controller_pid)
	dirty=$(awk '/^Private_Dirty:/ {print $2}' "/proc/$ctl/smaps_rollup")
	echo "# controller with 10 ready replicas: Private_Dirty $dirty KiB" >&3
	# a pass reads the container records one at a time (424-428 KiB
	# measured; 576-592 when it held all ten records' JSON at once and
	# left the heap fragmented by them: docs/benchmarks.md)
	[ "$dirty" -le 500 ]
}
