#!/usr/bin/env bats
# berth kube (issue 14): Pods from Kubernetes YAML on one host. apply is
# idempotent, a pod's containers share its network (localhost), probes
# restart a container, bad input creates nothing, delete leaves nothing.
# The controller of the namespace is forked by the commands; the teardown
# waits for it to exit.

load kube

setup_file() {
	engine_make_rootfs
}

setup() {
	kube_setup kpod
}

teardown() {
	kube_teardown
}

write_two() {
	cat >"$MANIFESTS/two.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: two
  labels:
    app: two
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: bb
    command: ["sh", "-c"]
    args: ["echo hi-from-web > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
  - name: client
    image: bb
    command: ["sleep", "1000"]
    env:
    - name: MY_POD
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: MY_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
YAML
}

@test "kube apply: a pod is created once; applying it again changes nothing" {
	write_two
	run kb apply -f "$MANIFESTS/two.yaml"
	assert_success
	[ "$output" = "pod/two created" ]
	wait_ready 1
	ids=$(b ps -q --no-trunc | sort | tr '\n' ' ')
	[ "$(b ps -q | wc -l)" = 3 ] # the holder and two containers
	run kb apply -f "$MANIFESTS/two.yaml"
	assert_success
	[ "$output" = "pod/two unchanged" ]
	sleep 1
	[ "$(b ps -q --no-trunc | sort | tr '\n' ' ')" = "$ids" ]
	run kb get pods
	assert_success
	[[ "${lines[1]}" =~ ^two\ +2/2\ +Running\ +0\  ]]
}

@test "kube pod: two containers share localhost, the pod's hostname and IP; labels name the pod" {
	write_two
	kb apply -f "$MANIFESTS/two.yaml"
	wait_ready 1
	run kb exec two -c client -- wget -qO- http://127.0.0.1:8080/index.html
	assert_success
	[ "$output" = hi-from-web ]
	ip=$(kb get pods two -o json | jq -r .status.podIP)
	[[ "$ip" =~ ^10\.77\. ]]
	run kb exec two -c client -- sh -c 'echo $MY_POD $MY_IP; hostname'
	assert_success
	[ "${lines[0]}" = "two $ip" ]
	[ "${lines[1]}" = two ]
	# the pod's IP answers from the host
	run in_host busybox wget -qO- "http://$ip:8080/index.html"
	assert_success
	[ "$output" = hi-from-web ]
	labels=$(b inspect k8s_web_two_default | jq -c '.[0].Config.Labels')
	[ "$(jq -r '."io.kubernetes.pod.name"' <<<"$labels")" = two ]
	[ "$(jq -r '."io.kubernetes.pod.namespace"' <<<"$labels")" = default ]
	[ "$(jq -r '."io.kubernetes.container.name"' <<<"$labels")" = web ]
	[ "$(jq -r .app <<<"$labels")" = two ]
	[[ "$(b inspect k8s_POD_two_default | jq -r '.[0].Config.Image')" =~ ^localhost/berth-pause:[0-9] ]]
	run kb logs two -c web
	assert_success
}

@test "kube pod: the containers share the holder's IPC namespace and /dev/shm; shareProcessNamespace their PIDs" {
	write_two
	kb apply -f "$MANIFESTS/two.yaml"
	wait_ready 1
	holder_ipc=$(readlink "/proc/$(pid_of_container k8s_POD_two_default)/ns/ipc")
	run kb exec two -c web -- sh -c 'readlink /proc/self/ns/ipc; echo shared >/dev/shm/note'
	assert_success
	[ "${lines[0]}" = "$holder_ipc" ]
	run kb exec two -c client -- sh -c 'readlink /proc/self/ns/ipc; cat /dev/shm/note'
	assert_success
	[ "${lines[0]}" = "$holder_ipc" ]
	[ "${lines[1]}" = shared ]
	# without shareProcessNamespace each container has its PID namespace
	run kb exec two -c client -- ps -o args
	refute_output_contains httpd
	kb delete pod two
	sed 's/^spec:$/spec:\n  shareProcessNamespace: true/' "$MANIFESTS/two.yaml" >"$MANIFESTS/shared.yaml"
	kb apply -f "$MANIFESTS/shared.yaml"
	wait_ready 1
	# the holder's /pause is pid 1 of the pod; one container sees the other's processes
	run kb exec two -c client -- ps -o pid,args
	assert_success
	assert_output_contains "httpd -f -p 8080"
	assert_output_contains "/pause"
	[ "$(kb exec two -c client -- sh -c 'cat /proc/1/cmdline | tr "\0" " "')" = "/pause --pause " ]
}

@test "kube pod: init containers run first; ConfigMap and Secret reach env and files" {
	cat >"$MANIFESTS/cfg.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  GREETING: hello
  app.conf: |
    key=value
---
apiVersion: v1
kind: Secret
metadata:
  name: sec
data:
  password: czNjcmV0
---
apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: prepare
    image: bb
    command: ["sh", "-c", "echo prepared > /work/marker"]
    volumeMounts:
    - {name: work, mountPath: /work}
  containers:
  - name: app
    image: bb
    command: ["sleep", "1000"]
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef: {name: cfg, key: GREETING}
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {name: sec, key: password}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: cfg}
    volumeMounts:
    - {name: work, mountPath: /work}
    - {name: conf, mountPath: /etc/app}
  volumes:
  - name: work
    emptyDir: {}
  - name: conf
    configMap:
      name: cfg
YAML
	run kb apply -f "$MANIFESTS/cfg.yaml"
	assert_success
	[ "${lines[0]}" = "configmap/cfg created" ]
	[ "${lines[1]}" = "secret/sec created" ]
	[ "${lines[2]}" = "pod/app created" ]
	wait_ready 1
	run kb exec app -- sh -c 'cat /work/marker; echo $GREETING $PASSWORD $CFG_GREETING; cat /etc/app/app.conf'
	assert_success
	[ "${lines[0]}" = prepared ]
	[ "${lines[1]}" = "hello s3cret hello" ]
	[ "${lines[2]}" = "key=value" ]
	# the init container is gone once it completed
	[ "$(b ps -aq | wc -l)" = 2 ]
}

@test "kube pod: a failing liveness probe restarts the container" {
	cat >"$MANIFESTS/live.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: live
spec:
  terminationGracePeriodSeconds: 5
  volumes:
  - name: data
    emptyDir: {}
  containers:
  - name: app
    image: bb
    command: ["sh", "-c", "trap 'echo term >>/data/log; exit 0' TERM; touch /tmp/alive; while :; do sleep 0.1; done"]
    volumeMounts: [{name: data, mountPath: /data}]
    lifecycle:
      preStop:
        exec: {command: ["sh", "-c", "echo prestop >>/data/log"]}
    livenessProbe:
      exec:
        command: ["test", "-e", "/tmp/alive"]
      periodSeconds: 1
      failureThreshold: 2
YAML
	kb apply -f "$MANIFESTS/live.yaml"
	wait_ready 1
	sleep 2.5 # passing probes restart nothing
	[ "$(kb get pods live -o json | jq '.status.containerStatuses[0].restartCount')" = 0 ]
	kb exec live -- rm /tmp/alive
	for ((i = 0; i < 100; i++)); do
		n=$(kb get pods live -o json | jq '.status.containerStatuses[0].restartCount')
		[ "$n" = 1 ] && break
		sleep 0.1
	done
	[ "$n" = 1 ]
	grep -q "liveness probe of k8s_app_live_default failed" "$RUNROOT"/kube/*/default.log || { cat "$RUNROOT"/kube/*/default.log >&3; false; }
	# ended as the kubelet ends it: the preStop hook, then SIGTERM (which it
	# handled), well within the grace period: no SIGKILL
	[ "$(kb exec live -- cat /data/log | tr '\n' ' ')" = "prestop term " ]
	wait_ready 1
	# the restarted container made its file again: no more restarts
	sleep 3
	[ "$(kb get pods live -o json | jq '.status.containerStatuses[0].restartCount')" = 1 ]
}

@test "kube apply: bad input leaves nothing created" {
	write_two
	cat >"$MANIFESTS/bad.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
data:
  a: b
---
apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
  - name: app
    image: bb
    imagee: typo
YAML
	run kb apply -f "$MANIFESTS/two.yaml" -f "$MANIFESTS/bad.yaml"
	assert_failure
	assert_output_contains "bad.yaml:16: document 2 (Pod bad): spec.containers[0].imagee: unknown field"
	# an error only the engine finds (a capability that does not exist)
	cat >"$MANIFESTS/cap.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: cap
spec:
  containers:
  - name: app
    image: bb
    securityContext:
      capabilities:
        add: ["NOT_A_CAP"]
YAML
	run kb apply -f "$MANIFESTS/two.yaml" -f "$MANIFESTS/cap.yaml"
	assert_failure
	assert_output_contains "cap.yaml"
	assert_output_contains "NOT_A_CAP"
	run kb get all
	[ -z "$(kb get pods -o json | jq -r '.items[].metadata.name')" ]
	[ -z "$(kb get configmaps -o json | jq -r '.items[].metadata.name')" ]
	[ -z "$(b ps -aq)" ]
	[ -z "$(find "$STORE/kube" -name '*.json' 2>/dev/null)" ]
}

@test "kube delete: every container of the pod goes, and the controller exits" {
	write_two
	kb apply -f "$MANIFESTS/two.yaml"
	wait_ready 1
	[ -n "$(controller_pid)" ]
	run kb delete -f "$MANIFESTS/two.yaml"
	assert_success
	[ "$output" = 'pod "two" deleted' ]
	[ -z "$(b ps -aq)" ]
	[ ! -e "$STORE/kube-pods/default/two" ]
	for ((i = 0; i < 50; i++)); do
		[ -z "$(controller_pid)" ] && break
		sleep 0.1
	done
	[ -z "$(controller_pid)" ]
	run kb delete pod two
	assert_failure
	assert_output_contains 'pod "two" not found in namespace default'
}

@test "kube generate: a Pod manifest from a container, which apply runs again" {
	mkdir -p "$TEST_DIR/shared"
	echo from-host >"$TEST_DIR/shared/file"
	brun -d --name gen -e FOO=bar -v "$TEST_DIR/shared:/shared:ro" -w /tmp bb sleep 1000 >/dev/null
	run kb generate gen --name gen
	assert_success
	printf '%s\n' "$output" >"$MANIFESTS/gen.yaml"
	assert_output_contains "kind: Pod"
	assert_output_contains "- name: FOO"
	b rm -f gen >/dev/null
	run kb apply -f "$MANIFESTS/gen.yaml"
	assert_success
	[ "$output" = "pod/gen created" ]
	wait_ready 1
	run kb exec gen -- sh -c 'echo $FOO; cat /shared/file; pwd'
	assert_success
	[ "${lines[0]}" = bar ]
	[ "${lines[1]}" = from-host ]
	[ "${lines[2]}" = /tmp ]
}

@test "kube pod: hostPort published on the host; runAsUser, readOnlyRootFilesystem, memory limit" {
	cat >"$MANIFESTS/hp.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: hp
spec:
  terminationGracePeriodSeconds: 1
  securityContext:
    fsGroup: 1000
  containers:
  - name: web
    image: bb
    command: ["sh", "-c", "echo published > /www/index.html; exec httpd -f -p 8080 -h /www"]
    ports:
    - containerPort: 8080
      hostPort: 18090
    securityContext:
      runAsUser: 1000
      runAsGroup: 1000
      readOnlyRootFilesystem: true
    resources:
      limits: {memory: 64Mi}
    volumeMounts:
    - {name: www, mountPath: /www}
  volumes:
  - name: www
    emptyDir: {}
YAML
	kb apply -f "$MANIFESTS/hp.yaml"
	wait_ready 1
	run in_host busybox wget -qO- http://127.0.0.1:18090/index.html
	assert_success
	[ "$output" = published ]
	run kb exec hp -- sh -c 'id -u; id -g; touch /x 2>&1; cat /sys/fs/cgroup/memory.max 2>/dev/null ||
		cat /sys/fs/cgroup/memory/memory.limit_in_bytes'
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 1000 ]
	[[ "${lines[2]}" == *"Read-only file system"* ]]
	[ "${lines[3]}" = 67108864 ]
}

@test "kube pod: a startupProbe holds readiness back; preStop runs before the stop" {
	mkdir -p "$TEST_DIR/shared"
	cat >"$MANIFESTS/hooks.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: hooks
spec:
  terminationGracePeriodSeconds: 5
  volumes:
  - name: shared
    hostPath: {path: $TEST_DIR/shared, type: Directory}
  containers:
  - name: app
    image: bb
    command: ["sh", "-c", "sleep 2; touch /tmp/started; exec sleep 1000"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
    startupProbe:
      exec: {command: ["test", "-e", "/tmp/started"]}
      periodSeconds: 1
      failureThreshold: 10
    lifecycle:
      preStop:
        exec: {command: ["sh", "-c", "echo bye > /shared/prestop; kill 1"]}
YAML
	kb apply -f "$MANIFESTS/hooks.yaml"
	sleep 1
	[ "$(ready_pods)" = 0 ] # started, not past its startup probe
	wait_ready 1
	run kb delete -f "$MANIFESTS/hooks.yaml"
	assert_success
	[ "$(cat "$TEST_DIR/shared/prestop")" = bye ]
}

@test "berth pod: create a pod, run containers in it (localhost, hostname, its port), ls, rm" {
	run b pod create --name p1 -p 18096:8080 --cgroup-parent "berth-test/$TAG"
	assert_success
	[ "$output" = p1 ]
	run b pod create --name p1
	assert_failure
	assert_output_contains "pod p1 exists already"
	brun -d --pod p1 --name p1web bb sh -c 'echo in-pod > /tmp/i.html; exec httpd -f -p 8080 -h /tmp' >/dev/null
	run brun --rm --pod p1 bb sh -c 'hostname; wget -qO- http://127.0.0.1:8080/i.html'
	assert_success
	[ "${lines[0]}" = p1 ]
	[ "${lines[1]}" = in-pod ]
	run in_host busybox wget -qO- http://127.0.0.1:18096/i.html
	[ "$output" = in-pod ]
	run b pod ls
	assert_success
	[[ "${lines[1]}" =~ ^p1\ +-\ +Running\  ]]
	[[ "${lines[1]}" =~ \ 2$ ]]
	[ "$(b pod inspect p1 | jq -r '.[0].containers[0].name')" = p1web ]
	run b pod rm p1
	assert_failure
	assert_output_contains "container p1web is running"
	run b pod rm -f -t 1 p1
	assert_success
	[ -z "$(b ps -aq)" ]
	run b pod ls -q
	[ -z "$output" ]
}

@test "berth pod: stop (containers, then holder), start (holder first), restart, kill, logs interleaved or -c" {
	b pod create --name p2 --cgroup-parent "berth-test/$TAG" >/dev/null
	# a-one, then b-one, then a-two: p2a waits for the file p2b makes in the
	# pod's shared /dev/shm after its line
	brun -d --pod p2 --name p2a bb sh -c 'echo a-one; until [ -e /dev/shm/go ]; do sleep 0.05; done; echo shm >/dev/shm/x; echo a-two; trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
	for _ in $(seq 100); do b logs p2a | grep -q a-one && break; sleep 0.05; done
	brun -d --pod p2 --name p2b bb sh -c 'echo b-one >&2; sleep 0.05; touch /dev/shm/go; trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
	for _ in $(seq 100); do b logs p2a | grep -q a-two && break; sleep 0.1; done
	# logs: every container, in the order of the lines' times, prefixed with its name
	run b pod logs p2
	assert_success
	[ "${lines[0]}" = "p2a a-one" ]
	[ "${lines[1]}" = "p2b b-one" ]
	[ "${lines[2]}" = "p2a a-two" ]
	run b pod logs -c p2b p2
	assert_success
	[ "$output" = b-one ]
	run b pod logs -c nosuch p2
	assert_failure
	assert_output_contains "no container nosuch in the pod"
	run b pod logs --tail 1 p2
	[ "${#lines[@]}" = 2 ]
	# stop: every container, the holder too; the pod shows Exited
	run b pod stop -t 2 p2
	assert_success
	[ "$output" = p2 ]
	[ -z "$(b ps -q)" ]
	[ "$(b pod ls --format json | jq -r '.[0].name')" = p2 ]
	[[ "$(b pod ls)" =~ p2\ +-\ +Exited ]]
	# start: the holder first (the containers join its new namespaces), then the containers
	run b pod start p2
	assert_success
	[ "$(b ps -q | wc -l)" = 3 ]
	[[ "$(b pod ls)" =~ p2\ +-\ +Running ]]
	holder_ipc=$(readlink "/proc/$(pid_of_container p2-infra)/ns/ipc")
	[ "$(b exec p2a readlink /proc/self/ns/ipc)" = "$holder_ipc" ]
	[ "$(b exec p2b cat /dev/shm/x)" = shm ]
	old=$(pid_of_container p2a)
	run b pod restart -t 2 p2
	assert_success
	[ "$(b ps -q | wc -l)" = 3 ]
	[ "$(pid_of_container p2a)" != "$old" ]
	# kill: SIGKILL (or -s) to every running container
	run b pod kill p2
	assert_success
	for _ in $(seq 50); do [ -z "$(b ps -q)" ] && break; sleep 0.1; done
	[ -z "$(b ps -q)" ]
	[ "$(b inspect p2a | jq -r '.[0].State.ExitCode')" = 137 ]
	run b pod start nosuch
	assert_failure
	assert_output_contains "no such pod: nosuch"
	b pod rm -f p2 >/dev/null
}

@test "berth pod: the holder has no monitor; kill -9 of it, start, rm" {
	b pod create --name p3 -p 18098:8080 --cgroup-parent "berth-test/$TAG" >/dev/null
	brun -d --pod p3 --name p3web bb sh -c 'echo in-pod > /tmp/i.html; exec httpd -f -p 8080 -h /tmp' >/dev/null
	# the holder runs with no process of berth's beside its /pause: the
	# runtime says whether it runs; ps shows it up, with no "(no monitor)"
	[ "$(b inspect p3-infra | jq -r '.[0].State.MonitorPid')" = 0 ]
	[ "$(b inspect p3-infra | jq -r '.[0].State.Status')" = running ]
	run grep -qs "berth-monitor $(b inspect p3-infra | jq -r '.[0].Id' | cut -c1-12)" /proc/[0-9]*/cmdline
	assert_failure
	run b ps --filter name=p3-infra
	assert_success
	[[ "${lines[1]}" =~ \ Up\  ]]
	[[ "${lines[1]}" != *"no monitor"* ]]
	[[ "$(b pod ls)" =~ p3\ +-\ +Running ]]
	run in_host busybox wget -qO- http://127.0.0.1:18098/i.html
	[ "$output" = in-pod ]
	# kill -9 of the holder: it shows exited (its code unknown, no error);
	# the pod's container runs on in the namespaces it keeps, as with a monitor
	kill -9 "$(pid_of_container p3-infra)"
	for _ in $(seq 50); do [ "$(b inspect p3-infra | jq -r '.[0].State.Status')" = exited ] && break; sleep 0.1; done
	[ "$(b inspect p3-infra | jq -r '.[0].State.Status')" = exited ]
	[ "$(b inspect p3-infra | jq -r '.[0].State.Error')" = "" ]
	[[ "$(b ps -a --filter name=p3-infra)" =~ Exited\ \(unknown\) ]]
	[ "$(b inspect p3web | jq -r '.[0].State.Status')" = running ]
	# start: the holder again (its port too), then stop, then rm leaves nothing
	run b pod start p3
	assert_success
	[ "$(b inspect p3-infra | jq -r '.[0].State.Status')" = running ]
	[ "$(b inspect p3-infra | jq -r '.[0].State.MonitorPid')" = 0 ]
	b rm -f p3web >/dev/null
	brun -d --pod p3 --name p3web bb sh -c 'echo again > /tmp/i.html; exec httpd -f -p 8080 -h /tmp' >/dev/null
	run in_host busybox wget -qO- http://127.0.0.1:18098/i.html
	[ "$output" = again ]
	run b pod stop -t 1 p3
	assert_success
	[ -z "$(b ps -q)" ]
	[[ "$(b pod ls)" =~ p3\ +-\ +Exited ]]
	run b pod rm -f p3
	assert_success
	[ -z "$(b ps -aq)" ]
}

@test "berth pod rm refuses the pods of berth kube" {
	write_two
	kb apply -f "$MANIFESTS/two.yaml"
	wait_ready 1
	run b pod ls -q
	[ "$output" = two ]
	run b pod rm -f two
	assert_failure
	assert_output_contains "pod two belongs to berth kube (namespace default): use berth kube delete"
	run b pod stop two
	assert_failure
	assert_output_contains "pod two belongs to berth kube (namespace default): its controller starts and stops it"
	[ "$(b ps -q | wc -l)" = 3 ]
}

@test "kube pod: hostNetwork puts the pod on the host's network (its ports are the host's)" {
	cat >"$MANIFESTS/hn.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: hn
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: bb
    command: ["sh", "-c", "echo hostnet > /tmp/i.html; exec httpd -f -p 18097 -h /tmp"]
    ports:
    - {containerPort: 18097, hostPort: 18097}
YAML
	run kb apply -f "$MANIFESTS/hn.yaml"
	assert_success
	wait_ready 1
	run in_host busybox wget -qO- http://127.0.0.1:18097/i.html
	assert_success
	[ "$output" = hostnet ]
}
