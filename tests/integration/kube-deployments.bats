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
