#!/usr/bin/env bats
# berth kube probes (issue 14): runs are concurrent (a hanging probe delays
# no other pod's probes or readiness) and keep Kubernetes' timing (the
# first run initialDelaySeconds after the container started, then one per
# periodSeconds). Each probe run notes the time (/proc/uptime, the same
# clock inside and outside: no time namespace) in a hostPath file.

load kube

setup_file() {
	engine_make_rootfs
}

setup() {
	kube_setup kprobe
	mkdir -p "$TEST_DIR/shared"
}

teardown() {
	kube_teardown
}

# uptime_of_started POD: the container's StartedAt as /proc/uptime seconds.
uptime_of_started() {
	local started
	started=$(kb get pods "$1" -o json | jq -r '.status.containerStatuses[0].state.running.startedAt')
	[ -n "$started" ] && [ "$started" != null ] || fail "pod $1 has no start time"
	awk -v up="$(cut -d' ' -f1 /proc/uptime)" -v now="$(date +%s.%N)" -v then="$(date -d "$started" +%s.%N)" \
		'BEGIN {printf "%.3f", up - (now - then)}'
}

# runs: how many probe runs the hostPath file has noted.
runs() {
	if [ -f "$TEST_DIR/shared/runs" ]; then wc -l <"$TEST_DIR/shared/runs"; else echo 0; fi
}

# pod_ready POD: whether get shows it ready.
pod_ready() {
	[ "$(kb get pods "$1" -o json | jq -r '.status.conditions[0].status')" = True ]
}

@test "kube probes: a hanging probe (timeoutSeconds 3) delays no other pod's probes or readiness" {
	cat >"$MANIFESTS/pods.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: a-slow
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: bb
    command: ["sleep", "1000"]
    readinessProbe:
      exec: {command: ["sleep", "30"]}
      periodSeconds: 1
      timeoutSeconds: 3
    livenessProbe:
      exec: {command: ["sleep", "30"]}
      periodSeconds: 1
      timeoutSeconds: 3
      failureThreshold: 1000
---
apiVersion: v1
kind: Pod
metadata:
  name: b-fast
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: shared
    hostPath: {path: $TEST_DIR/shared, type: Directory}
  containers:
  - name: app
    image: bb
    command: ["sleep", "1000"]
    volumeMounts: [{name: shared, mountPath: /shared}]
    readinessProbe:
      exec: {command: ["sh", "-c", "cut -d' ' -f1 /proc/uptime >>/shared/runs; test -e /shared/ready"]}
      periodSeconds: 1
YAML
	kb apply -f "$MANIFESTS/pods.yaml"
	for ((i = 0; i < 150; i++)); do
		[ "$(runs)" -ge 2 ] && break
		sleep 0.1
	done
	# the slow pod's two probes hang for 3 s on every period: run one after
	# the other, they held every other probe back for 6 s at a time
	if pod_ready a-slow || pod_ready b-fast; then fail "ready before its probe passed"; fi
	before=$(runs)
	sleep 8
	after=$(runs)
	echo "b-fast's probe ran $((after - before)) times in 8 s" >&3
	[ $((after - before)) -ge 6 ]
	# ready within its period and some, not after the slow probes' timeouts
	touch "$TEST_DIR/shared/ready"
	t0=$(cut -d' ' -f1 /proc/uptime)
	for ((i = 0; i < 100; i++)); do
		pod_ready b-fast && break
		sleep 0.05
	done
	took=$(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN {print b - a}')
	echo "b-fast ready ${took} s after its file appeared" >&3
	pod_ready b-fast
	awk -v t="$took" 'BEGIN {exit !(t < 2.5)}'
	if pod_ready a-slow; then fail "a-slow ready with a probe that never passes"; fi
}

@test "kube probes: the first run comes initialDelaySeconds after the start, then one per periodSeconds from the last start" {
	cat >"$MANIFESTS/delay.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: delay
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: shared
    hostPath: {path: $TEST_DIR/shared, type: Directory}
  containers:
  - name: app
    image: bb
    command: ["sleep", "1000"]
    volumeMounts: [{name: shared, mountPath: /shared}]
    readinessProbe:
      exec: {command: ["sh", "-c", "cut -d' ' -f1 /proc/uptime >>/shared/runs; sleep 0.8"]}
      initialDelaySeconds: 2
      periodSeconds: 1
      timeoutSeconds: 2
YAML
	kb apply -f "$MANIFESTS/delay.yaml"
	for ((i = 0; i < 150; i++)); do
		[ "$(runs)" -ge 5 ] && break
		sleep 0.1
	done
	started=$(uptime_of_started delay)
	echo "started at $started; runs at $(tr '\n' ' ' <"$TEST_DIR/shared/runs")" >&3
	# not before the delay (uptime has 10 ms steps), and not much after it
	awk -v s="$started" -v r="$(sed -n 1p "$TEST_DIR/shared/runs")" 'BEGIN {exit !(r - s >= 1.98 && r - s < 3)}'
	# then one a second, as the kubelet's ticker: never sooner, and a run
	# that takes 0.8 s does not push the next one back (a period counted
	# from its end would make it 1.8 s)
	awk 'NR > 1 {d = $1 - prev; if (d < 0.98 || d > 1.5) exit 1} {prev = $1} END {if (NR < 5) exit 1}' \
		"$TEST_DIR/shared/runs"
	pod_ready delay
}
