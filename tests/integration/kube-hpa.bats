#!/usr/bin/env bats
# berth kube (issue 15): the HorizontalPodAutoscaler. A Deployment whose
# pods burn CPU while an HTTP endpoint is loaded scales 1 -> 3 or more under
# load and back to 1 once the load stops and the (shortened) scale-down
# window passes; no CPU request gives the condition Kubernetes reports;
# bad input is refused before anything is stored. The sync period is
# shortened to 2 s with the annotation autoscaling.berth.io/sync-period-seconds.

load kube

setup_file() {
	engine_make_rootfs
}

setup() {
	kube_setup khpa
	LOADER=
}

teardown() {
	[ -n "$LOADER" ] && kill "$LOADER" 2>/dev/null && wait "$LOADER" 2>/dev/null
	kube_teardown
}

# write_burner [REQUEST]: a Deployment "burn" (1 replica) whose httpd runs
# a CGI script that spins the CPU for a while per request; REQUEST is its
# cpu request ("none": no resources at all).
write_burner() {
	local resources="resources: {requests: {cpu: ${1:-20m}}, limits: {cpu: 200m}}"
	[ "${1:-}" = none ] && resources=""
	cat >"$MANIFESTS/burn.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: burn
spec:
  replicas: 1
  selector:
    matchLabels: {app: burn}
  template:
    metadata:
      labels: {app: burn}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: burn
        image: bb
        command:
        - sh
        - -c
        - |
          mkdir -p /tmp/www/cgi-bin
          printf '#!/bin/sh\necho Content-Type: text/plain\necho\ni=0\nwhile [ \$i -lt 30000 ]; do i=\$((i+1)); done\necho burnt\n' >/tmp/www/cgi-bin/burn
          chmod +x /tmp/www/cgi-bin/burn
          echo ok >/tmp/www/index.html
          exec httpd -f -p 8080 -h /tmp/www
        $resources
        readinessProbe:
          httpGet: {path: /index.html, port: 8080}
          periodSeconds: 1
YAML
}

# write_hpa [MIN] [MAX] [DOWN_WINDOW]: an HPA on burn at 50% cpu (and
# 100Mi of memory a pod, far above what they use: cpu decides).
write_hpa() {
	cat >"$MANIFESTS/hpa.yaml" <<YAML
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: burn
  annotations:
    autoscaling.berth.io/sync-period-seconds: "2"
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burn}
  minReplicas: ${1:-1}
  maxReplicas: ${2:-4}
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 50}
  - type: Resource
    resource:
      name: memory
      target: {type: AverageValue, averageValue: 100Mi}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: ${3:-6}
YAML
}

# replicas: the Deployment's stored replicas.
replicas() {
	kb get deployment burn -o json | jq -r '.spec.replicas'
}

# wait_replicas OP N SECONDS: until `replicas OP N` (-ge, -eq) holds.
wait_replicas() {
	local i n
	for ((i = 0; i < $3 * 2; i++)); do
		n=$(replicas)
		[ "$n" "$1" "$2" ] && return 0
		sleep 0.5
	done
	kb get hpa >&2
	kb describe hpa burn >&2
	tail -20 "$RUNROOT"/kube/*/default.log >&2
	fail "replicas $n, not $1 $2 after $3 s"
}

# load_first_pod: requests to the burning endpoint of the (only) pod, two
# at a time, until killed; its pid in LOADER.
load_first_pod() {
	local ip
	ip=$(kb get pods -o json | jq -r '.items[0].status.podIP')
	[ -n "$ip" ] && [ "$ip" != null ]
	(
		while :; do
			in_host busybox wget -qO- "http://$ip:8080/cgi-bin/burn" >/dev/null 2>&1 &
			in_host busybox wget -qO- "http://$ip:8080/cgi-bin/burn" >/dev/null 2>&1
			wait
		done
	) 3>&- &
	LOADER=$!
}

@test "kube hpa: under load 1 -> 3 or more replicas within 60 s, back to 1 after the load and the window" {
	write_burner 20m
	write_hpa 1 4 6
	run kb apply -f "$MANIFESTS"
	[ "$status" -eq 0 ]
	[[ "$output" == *"horizontalpodautoscaler.autoscaling/burn created"* ]]
	wait_ready 1 30
	# idle: utilization far below 50% keeps 1 replica
	sleep 5
	[ "$(replicas)" -eq 1 ]
	run kb get hpa
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"NAME"*"REFERENCE"*"TARGETS"*"MINPODS"*"MAXPODS"*"REPLICAS"*"AGE"* ]]
	[[ "${lines[1]}" =~ ^burn\ +Deployment/burn\ +cpu:\ [0-9]+%/50%,\ memory:\ [0-9]+(Ki|Mi)?/100Mi\ +1\ +4\ +1 ]]

	load_first_pod
	SECONDS=0
	wait_replicas -ge 3 60
	echo "scaled up to $(replicas) in $SECONDS s" >&3
	run kb describe hpa burn
	[[ "$output" == *"SuccessfulRescale"*"New size:"*"above target"* ]]
	run kb get hpa burn -o json
	[ "$(jq -r '.status.lastScaleTime != null' <<<"$output")" = true ]
	[ "$(jq -r '.status.currentMetrics[0].resource.name' <<<"$output")" = cpu ]
	[ "$(jq -r '.status.currentMetrics[1].resource.name' <<<"$output")" = memory ]
	[[ "$(jq -r '.status.currentMetrics[1].resource.current.averageValue' <<<"$output")" =~ ^[0-9]+(Ki|Mi)?$ ]]
	[ "$(jq -r '[.status.conditions[].type] | sort | join(",")' <<<"$output")" = AbleToScale,ScalingActive,ScalingLimited ]
	run kb top pods
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"NAME"*"CPU(cores)"*"MEMORY(bytes)"* ]]
	[[ "$output" =~ burn-[a-z0-9]+-[a-z0-9]+\ +[0-9]+m\ +[0-9]+Mi ]]
	run kb top deployments
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"NAME"*"PODS"*"CPU(cores)"*"MEMORY(bytes)"* ]]
	[[ "${lines[1]}" =~ ^burn\ +[0-9]+\ +[0-9]+m\ +[0-9]+Mi ]]

	# a controller killed meanwhile: the next one goes on with the HPA's
	# events and recommendations (kept in the status file)
	kill -9 "$(controller_pid)"

	kill "$LOADER"
	wait "$LOADER" 2>/dev/null || true
	LOADER=
	SECONDS=0
	wait_replicas -eq 1 60
	echo "scaled down to 1 in $SECONDS s" >&3
	run kb describe hpa burn
	[[ "$output" == *"All metrics below target"* ]]
	[[ "$output" == *"above target"* ]]
}

@test "kube hpa: no cpu request: ScalingActive False, FailedGetResourceMetric, missing request for cpu" {
	# `autoscale` sets no annotation: the controller's variable shortens the sync
	export BERTH_KUBE_HPA_SYNC_SECONDS=2
	write_burner none
	run kb apply -f "$MANIFESTS/burn.yaml"
	[ "$status" -eq 0 ]
	run kb autoscale deployment/burn --min 1 --max 3 --cpu-percent 50
	[ "$status" -eq 0 ]
	[ "$output" = "horizontalpodautoscaler.autoscaling/burn autoscaled" ]
	run kb autoscale deployment/burn --max 3
	[ "$status" -ne 0 ]
	[[ "$output" == *'horizontalpodautoscalers.autoscaling "burn" already exists'* ]]
	wait_ready 1 30
	local i cond
	# (a sync before the pod ran says "did not receive metrics" first)
	for ((i = 0; i < 40; i++)); do
		cond=$(kb get hpa burn -o json | jq -c '.status.conditions[]? | select(.type == "ScalingActive")')
		[[ "$cond" == *"missing request"* ]] && break
		sleep 0.5
	done
	[ "$(jq -r .status <<<"$cond")" = False ]
	[ "$(jq -r .reason <<<"$cond")" = FailedGetResourceMetric ]
	[[ "$(jq -r .message <<<"$cond")" == "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container burn of Pod burn-"* ]]
	run kb describe hpa burn
	[[ "$output" == *"ScalingActive"*"False"*"FailedGetResourceMetric"*"missing request for cpu"* ]]
	[[ "$output" == *"Warning"*"FailedGetResourceMetric"* ]]
	[ "$(replicas)" -eq 1 ]
	run kb get hpa
	[[ "${lines[1]}" == *"cpu: <unknown>/50%"* ]]
}

@test "kube hpa: autoscaling/v1 is served as v2; delete hpa" {
	write_burner 20m
	cat >"$MANIFESTS/hpa.yaml" <<YAML
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: burn}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burn}
  maxReplicas: 3
  targetCPUUtilizationPercentage: 70
YAML
	run kb apply -f "$MANIFESTS"
	[ "$status" -eq 0 ]
	run kb get hpa burn -o yaml
	[[ "$output" == *"apiVersion: autoscaling/v2"* ]]
	[[ "$output" == *"averageUtilization: 70"* ]]
	run kb apply -f "$MANIFESTS/hpa.yaml"
	[ "$output" = "horizontalpodautoscaler.autoscaling/burn unchanged" ]
	run kb get all
	[[ "$output" == *"REFERENCE"*"burn"*"Deployment/burn"*"cpu: "*"/70%"* ]]
	run kb delete hpa burn
	[ "$status" -eq 0 ]
	[ "$output" = 'horizontalpodautoscaler.autoscaling "burn" deleted' ]
	run kb get hpa
	[[ "$output" == *"No resources found"* ]]
}

@test "kube hpa: bad input is refused, naming the field, and nothing is stored" {
	write_burner 20m
	bad() {
		cat >"$MANIFESTS/hpa.yaml"
		run kb apply -f "$MANIFESTS"
		[ "$status" -ne 0 ]
		[[ "$output" == *"$1"* ]] || fail "expected '$1' in: $output"
		[ -z "$(ls "$STORE/kube/default" 2>/dev/null)" ] || fail "something was stored: $(ls -R "$STORE/kube")"
	}
	head='apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: h}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burn}'
	bad "spec.metrics[0].pods: not supported by berth" <<<"$head
  maxReplicas: 3
  metrics:
  - type: Pods
    pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: 10}}"
	bad "spec.metrics[0].external: not supported by berth" <<<"$head
  maxReplicas: 3
  metrics:
  - type: External
    external: {metric: {name: q}, target: {type: Value, value: 10}}"
	bad "spec.metrics[0].containerResource: not supported by berth" <<<"$head
  maxReplicas: 3
  metrics:
  - type: ContainerResource
    containerResource: {name: cpu, container: app, target: {type: Utilization, averageUtilization: 50}}"
	bad "spec.maxReplicas: must be greater than or equal to \`minReplicas\`" <<<"$head
  minReplicas: 5
  maxReplicas: 3"
	bad "spec.maxReplicas: required" <<<"$head"
	bad "spec.metrics[0].resource.target.averageUtilization: must be greater than 0" <<<"$head
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 0}}"
	bad "spec.behavior.scaleDown.policies[0].type: Unsupported value: \"Nodes\"" <<<"$head
  maxReplicas: 3
  behavior:
    scaleDown:
      policies: [{type: Nodes, value: 1, periodSeconds: 15}]"
	bad "spec.behavior.scaleUp.selectPolicy: Unsupported value: \"Fastest\"" <<<"$head
  maxReplicas: 3
  behavior:
    scaleUp: {selectPolicy: Fastest}"
	bad "spec.scaleTargetRef.kind: berth scales Deployments, not StatefulSet" <<<'apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: h}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  maxReplicas: 3'
	rm -f "$MANIFESTS/hpa.yaml"
	run kb autoscale deployment/nothere --max 3
	[ "$status" -ne 0 ]
	[[ "$output" == *'deployment "nothere" not found'* ]]
	run kb autoscale deployment/burn --min 2
	[ "$status" -ne 0 ]
	[[ "$output" == *"--max"* ]]
}
