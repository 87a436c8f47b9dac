#!/usr/bin/env bats
# berth kube (issue 15): Services with real traffic in the test's network
# namespace. A ClusterIP spreads 300 requests over 3 ready replicas (by a
# named targetPort); a replica whose readiness fails leaves the rotation
# within a probe period and a replica being removed leaves it before its
# container is signalled; ClientIP affinity; UDP; NodePort from 127.0.0.1;
# a selector matching nothing is refused at once; a Service without
# selector takes its Endpoints object's addresses; bad input (a node port
# another service holds, a port name no container declares) as Kubernetes
# reports it, with nothing left.

load kube

setup_file() {
	engine_make_rootfs
	# udp-echo (tests/helpers, static): busybox's nc has no UDP
	cp "$BERTH_BUILD_DIR/tests/helpers/udp-echo" "$BATS_FILE_TMPDIR/rootfs/bin/udp-echo"
	tar -C "$BATS_FILE_TMPDIR/rootfs" -cf "$BATS_FILE_TMPDIR/rootfs.tar" .
}

setup() {
	kube_setup ksvc
}

teardown() {
	local i
	# the namespace "other" some tests use
	if [ -n "${OTHER_NS:-}" ]; then
		kb delete all --all -n other >/dev/null 2>&1 || true
		for ((i = 0; i < 100; i++)); do
			[ -z "$(controller_pid other)" ] && break
			sleep 0.1
		done
	fi
	kube_teardown
}

# write_web [REPLICAS] [READY_PERIOD]: Deployment "web" whose pods answer
# their own name on :8080 (port name "http"), ready while /www/ready exists.
write_web() {
	cat >"$MANIFESTS/web.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${1:-3}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: bb
        command: ["sh", "-c", "mkdir -p /www && hostname >/www/index.html && touch /www/ready && exec httpd -f -p 8080 -h /www"]
        ports:
        - {containerPort: 8080, name: http}
        readinessProbe:
          httpGet: {path: /ready, port: http}
          periodSeconds: ${2:-1}
          failureThreshold: 1
YAML
}

# write_svc NAME [EXTRA SPEC LINES...]: Service NAME selecting app=web,
# port 80 to the pods' "http".
write_svc() {
	local name=$1
	shift
	{
		cat <<YAML
apiVersion: v1
kind: Service
metadata:
  name: $name
spec:
  selector: {app: web}
  ports:
  - {name: web, port: 80, targetPort: http}
YAML
		for line in "$@"; do echo "  $line"; done
	} >"$MANIFESTS/$name-svc.yaml"
}

vip() {
	kb get svc "$1" -o json | jq -r .spec.clusterIP
}

# get URL [N]: N (default 1) GETs from the host namespace, an answer a line
# ("ERR" for a failure).
get() {
	local i
	for ((i = 0; i < ${2:-1}; i++)); do
		in_host curl -sS -m 3 "$1" 2>/dev/null || echo ERR
	done
}

# wait_endpoints SVC N: until the service has N endpoints (10 s).
wait_endpoints() {
	local i n
	for ((i = 0; i < 100; i++)); do
		n=$(kb get endpoints "$1" -o json | jq '[.subsets[]?.addresses[]?] | length')
		[ "$n" = "$2" ] && return 0
		sleep 0.1
	done
	kb get endpoints >&2
	fail "$1 has $n endpoints, not $2"
}

@test "kube service: 300 requests through the ClusterIP spread over 3 ready replicas; get, describe" {
	write_web 3
	write_svc web
	run kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web-svc.yaml"
	assert_success
	[[ "$output" == *"service/web created"* ]]
	wait_ready 3
	wait_endpoints web 3
	local ip out names n
	ip=$(vip web)
	[[ "$ip" == 10.96.* ]]
	run kb get svc
	assert_success
	[[ "${lines[0]}" =~ ^NAME\ +TYPE\ +CLUSTER-IP\ +EXTERNAL-IP\ +PORT\(S\)\ +AGE$ ]]
	[[ "${lines[1]}" =~ ^web\ +ClusterIP\ +$ip\ +\<none\>\ +80/TCP\ + ]]
	run kb get endpoints
	assert_success
	[[ "${lines[1]}" =~ ^web\ +[0-9.]+:8080,[0-9.]+:8080,[0-9.]+:8080\ + ]]
	out=$(get "http://$ip/" 300)
	[ "$(grep -c ERR <<<"$out")" = 0 ]
	names=$(kb get pods -o json | jq -r '.items[].metadata.name')
	[ "$(wc -l <<<"$names")" = 3 ]
	for name in $names; do
		n=$(grep -cx "$name" <<<"$out" || true)
		echo "$name: $n"
		# 100 each expected; 40 is far below what random choice gives
		[ "$n" -ge 40 ]
	done
	run kb describe service web
	assert_success
	[[ "$output" == *"Selector:          app=web"* ]]
	[[ "$output" == *"TargetPort:        http/TCP"* ]]
	[[ "$output" == *"IP:                $ip"* ]]
	run kb get all
	[[ "$output" == *"web "*ClusterIP*"$ip"* ]]
	# delete takes the ClusterIP away: refused at once, then unrouted
	run kb delete service web
	assert_success
	assert_output 'service "web" deleted'
	[ -z "$(find "$HOSTNET/services" -name '*.json')" ]
}

@test "kube service: a replica whose readiness fails leaves the rotation within a probe period, and comes back" {
	write_web 3
	write_svc web
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web-svc.yaml" >/dev/null
	wait_ready 3
	wait_endpoints web 3
	local ip victim out i start gone=
	ip=$(vip web)
	victim=$(kb get pods -o json | jq -r '.items[0].metadata.name')
	kb exec "$victim" -- rm /www/ready
	start=$(date +%s%N)
	# the probe runs every second and fails once: out of the endpoints
	# within 1 s, plus a controller pass (0.25 s) and margin
	for ((i = 0; i < 50; i++)); do
		if ! kb get endpoints web -o json | jq -r '.subsets[].addresses[].ip' |
			grep -qx "$(kb get pod "$victim" -o json | jq -r .status.podIP)"; then
			gone=$((($(date +%s%N) - start) / 1000000))
			break
		fi
		sleep 0.1
	done
	echo "left the endpoints after ${gone:-never} ms"
	[ -n "$gone" ] && [ "$gone" -le 2500 ]
	out=$(get "http://$ip/" 60)
	[ "$(grep -c ERR <<<"$out")" = 0 ]
	[ "$(grep -cx "$victim" <<<"$out" || true)" = 0 ]
	kb exec "$victim" -- touch /www/ready
	wait_endpoints web 3
	out=$(get "http://$ip/" 60)
	[ "$(grep -cx "$victim" <<<"$out" || true)" -ge 1 ]
}

@test "kube service: ClientIP affinity keeps a client on one replica; UDP" {
	write_web 3
	write_svc web "sessionAffinity: ClientIP" "sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}"
	cat >"$MANIFESTS/dns.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: dns}
spec:
  replicas: 2
  selector: {matchLabels: {app: dns}}
  template:
    metadata: {labels: {app: dns}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: dns
        image: bb
        command: ["sh", "-c", "exec udp-echo serve 5353 $(hostname)"]
        ports: [{containerPort: 5353, protocol: UDP, name: dns}]
---
apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  selector: {app: dns}
  ports: [{port: 53, protocol: UDP, targetPort: dns}]
YAML
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web-svc.yaml" -f "$MANIFESTS/dns.yaml" >/dev/null
	wait_ready 5
	wait_endpoints web 3
	wait_endpoints dns 2
	local out
	out=$(get "http://$(vip web)/" 30)
	[ "$(grep -c ERR <<<"$out")" = 0 ]
	[ "$(sort -u <<<"$out" | wc -l)" = 1 ]
	run kb describe svc web
	[[ "$output" == *"Session Affinity:  ClientIP"* ]]
	[[ "$output" == *"Affinity Timeout:  60s"* ]]
	# UDP: both replicas answer
	local i dip
	dip=$(vip dns)
	out=$(for ((i = 0; i < 30; i++)); do in_host "$BERTH_BUILD_DIR/tests/helpers/udp-echo" ask "$dip" 53 || echo ERR; done)
	[ "$(grep -c ERR <<<"$out")" = 0 ]
	[ "$(sort -u <<<"$out" | wc -l)" = 2 ]
	run kb get svc dns
	[[ "${lines[1]}" == *"53/UDP"* ]]
}

@test "kube service: NodePort answers on 127.0.0.1 and from a pod; a selector matching nothing is refused at once" {
	write_web 2
	write_svc web "type: NodePort"
	sed -i 's/targetPort: http}/targetPort: http, nodePort: 30080}/' "$MANIFESTS/web-svc.yaml"
	cat >"$MANIFESTS/none.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: none}
spec:
  selector: {app: nothing}
  ports: [{port: 80, targetPort: 8080}]
YAML
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web-svc.yaml" -f "$MANIFESTS/none.yaml" >/dev/null
	wait_ready 2
	wait_endpoints web 2
	run kb get svc web
	[[ "${lines[1]}" =~ ^web\ +NodePort\ +10\.96\.[0-9.]+\ +\<none\>\ +80:30080/TCP\ + ]]
	local out
	out=$(get "http://127.0.0.1:30080/" 20)
	[ "$(grep -c ERR <<<"$out")" = 0 ]
	[ "$(sort -u <<<"$out" | wc -l)" = 2 ]
	# from another network namespace: a pod, through the host's bridge address
	local pod gw
	pod=$(kb get pods -o json | jq -r '.items[0].metadata.name')
	gw=$(kb exec "$pod" -- ip route | awk '/^default/ {print $3}')
	[ -n "$gw" ]
	run kb exec "$pod" -- timeout 3 wget -qO- "http://$gw:30080/"
	assert_success
	[[ "$output" == web-* ]]
	run kb get endpoints none
	[[ "${lines[1]}" =~ ^none\ +\<none\>\ + ]]
	SECONDS=0
	run in_host curl -sS -m 5 "http://$(vip none)/"
	[ "$status" = 7 ] # couldn't connect: refused, not a timeout (28)
	[ "$SECONDS" -le 1 ]
}

@test "kube service: without a selector, an Endpoints object gives the addresses" {
	write_web 1
	kb apply -f "$MANIFESTS/web.yaml" >/dev/null
	wait_ready 1
	local pod_ip
	pod_ip=$(kb get pods -o json | jq -r '.items[0].status.podIP')
	cat >"$MANIFESTS/ext.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: ext}
subsets:
- addresses: [{ip: "$pod_ip"}]
  ports: [{name: http, port: 8080}]
YAML
	run kb apply -f "$MANIFESTS/ext.yaml"
	assert_success
	[[ "$output" == *"service/ext created"*"endpoints/ext created"* ]]
	[ "$(get "http://$(vip ext)/")" = "$(kb get pods -o json | jq -r '.items[0].metadata.name')" ]
	run kb get ep ext
	[[ "${lines[1]}" =~ ^ext\ +$pod_ip:8080\ + ]]
	kb delete endpoints ext >/dev/null
	run in_host curl -sS -m 5 "http://$(vip ext)/"
	[ "$status" = 7 ] # refused, not a timeout
}

@test "kube service: bad input is reported as the API server does and leaves nothing" {
	write_web 1
	write_svc web "type: NodePort"
	sed -i 's/targetPort: http}/targetPort: http, nodePort: 30080}/' "$MANIFESTS/web-svc.yaml"
	kb apply -f "$MANIFESTS/web-svc.yaml" >/dev/null
	# another service on the same node port: refused before anything is stored
	sed 's/name: web$/name: web2/' "$MANIFESTS/web-svc.yaml" >"$MANIFESTS/web2.yaml"
	run kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web2.yaml"
	assert_failure
	[[ "$output" == *'web2.yaml, document 1 (Service web2): The Service "web2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated (the node port of service web.default)'* ]]
	run kb get deployments
	[[ "$output" != *web* ]]
	[ "$(kb get svc -o json | jq -r '[.items[].metadata.name] | join(" ")')" = web ]
	# a node port a container publishes (berth run -p): refused the same way
	# before anything is stored
	brun -d --name pub -p 30082:80 bb sleep 100 >/dev/null
	sed 's/name: web$/name: web3/; s/nodePort: 30080/nodePort: 30082/' "$MANIFESTS/web-svc.yaml" >"$MANIFESTS/web3.yaml"
	run kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web3.yaml"
	assert_failure
	[[ "$output" == *'web3.yaml, document 1 (Service web3): The Service "web3" is invalid: spec.ports[0].nodePort: Invalid value: 30082: provided port is already allocated (published by container '* ]]
	run kb get deployments
	[[ "$output" != *web* ]]
	[ "$(kb get svc -o json | jq -r '[.items[].metadata.name] | join(" ")')" = web ]
	[ "$(find "$HOSTNET/services" -name 'web3*' | wc -l)" = 0 ]
	b rm -f pub >/dev/null
	# a node port out of range, one on a ClusterIP service, two ports without names
	run kb apply -f - <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  type: NodePort
  ports: [{port: 80, nodePort: 80}]
YAML
	assert_failure
	[[ "$output" == *"spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"* ]]
	run kb apply -f - <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  ports: [{port: 80, nodePort: 30081}]
YAML
	assert_failure
	[[ "$output" == *"spec.ports[0].nodePort: Forbidden: may not be used when \`type\` is 'ClusterIP'"* ]]
	run kb apply -f - <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  ports: [{port: 80}, {port: 81}]
YAML
	assert_failure
	[[ "$output" == *"spec.ports[0].name: Required value"* ]]
	run kb apply -f - <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  clusterIP: 10.0.0.1
  ports: [{port: 80}]
YAML
	assert_failure
	[[ "$output" == *"the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/16"* ]]
	[ "$(kb get svc -o json | jq -r '[.items[].metadata.name] | join(" ")')" = web ]
	[ "$(find "$HOSTNET/services" -name '*.json' | wc -l)" = 1 ]

	# a targetPort name no container declares: the pod is left out, and
	# describe says why
	write_svc named
	sed -i 's/targetPort: http}/targetPort: nosuch}/' "$MANIFESTS/named-svc.yaml"
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/named-svc.yaml" >/dev/null
	wait_ready 1
	sleep 0.5
	run kb get endpoints named
	[[ "${lines[1]}" =~ ^named\ +\<none\>\ + ]]
	run kb describe svc named
	[[ "$output" == *'left out: no container port named "nosuch"'* ]]
}

@test "kube service: in a multi-port service a pod lacking a named targetPort leaves that port only; EndpointSlices" {
	write_web 2
	# a third pod of app=web that also declares "metrics" (8081)
	cat >"$MANIFESTS/full.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: full
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: bb
    command: ["sh", "-c", "mkdir -p /www && hostname >/www/index.html && touch /www/ready && httpd -p 8081 -h /www && exec httpd -f -p 8080 -h /www"]
    ports:
    - {containerPort: 8080, name: http}
    - {containerPort: 8081, name: metrics}
    readinessProbe:
      httpGet: {path: /ready, port: http}
      periodSeconds: 1
YAML
	write_svc multi "- {name: metrics, port: 81, targetPort: metrics}"
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/full.yaml" -f "$MANIFESTS/multi-svc.yaml" >/dev/null
	wait_ready 3
	wait_endpoints multi 3
	local ip full_ip out name
	ip=$(vip multi)
	full_ip=$(kb get pod full -o json | jq -r .status.podIP)
	# Endpoints group addresses by the ports they serve, as Kubernetes'
	run kb get endpoints multi -o json
	assert_success
	[ "$(jq -c '[.subsets[] | {a: ([.addresses[].ip] | length), p: ([.ports[].name] | sort)}] | sort_by(.a)' <<<"$output")" = \
		'[{"a":1,"p":["metrics","web"]},{"a":2,"p":["web"]}]' ]
	[ "$(jq -r '.subsets[] | select(.ports | length == 2) | .addresses[0].ip' <<<"$output")" = "$full_ip" ]
	# port 80 spreads over all three pods, port 81 reaches the one that has it
	out=$(get "http://$ip/" 60)
	[ "$(grep -c ERR <<<"$out")" = 0 ]
	for name in $(kb get pods -o json | jq -r '.items[].metadata.name'); do
		grep -qx "$name" <<<"$out" || fail "$name got none of 60 requests on port 80"
	done
	out=$(get "http://$ip:81/" 20)
	[ "$(sort -u <<<"$out")" = full ]
	run kb describe svc multi
	[[ "$output" == *'left out of port metrics: no container port named "metrics"'* ]]
	# EndpointSlices (discovery.k8s.io/v1) mirror them: one per port set
	run kb get endpointslices -o json
	assert_success
	[ "$(jq -c '[.items[] | select(.metadata.labels["kubernetes.io/service-name"] == "multi") | {n: (.endpoints | length), p: ([.ports[].port] | sort), t: .addressType}] | sort_by(.n)' <<<"$output")" = \
		'[{"n":1,"p":[8080,8081],"t":"IPv4"},{"n":2,"p":[8080],"t":"IPv4"}]' ]
	[ "$(jq -r '.items[] | select(.ports | length == 2) | .endpoints[0].addresses[0]' <<<"$output")" = "$full_ip" ]
	run kb get endpointslices
	assert_success
	[[ "${lines[0]}" =~ ^NAME\ +ADDRESSTYPE\ +PORTS\ +ENDPOINTS\ +AGE$ ]]
	[[ "$output" =~ multi-[a-z0-9]{5}\ +IPv4\ +8080,8081\ +$full_ip\  ]]
}

@test "kube service: a rolling update of 4 replicas under load from ab on the NodePort fails no request" {
	command -v ab >/dev/null || skip "ab (apache2-utils) is not installed"
	write_web 4
	# leave the endpoints, then finish what is in flight: preStop sleeps
	# a second before SIGTERM, as one does on Kubernetes
	sed -i 's/      terminationGracePeriodSeconds: 2/      terminationGracePeriodSeconds: 5/' "$MANIFESTS/web.yaml"
	cat >>"$MANIFESTS/web.yaml" <<'YAML'
        lifecycle:
          preStop: {sleep: {seconds: 1}}
        env: [{name: VERSION, value: "1"}]
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
YAML
	write_svc web "type: NodePort"
	sed -i 's/targetPort: http}/targetPort: http, nodePort: 30090}/' "$MANIFESTS/web-svc.yaml"
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web-svc.yaml" >/dev/null
	wait_ready 4
	wait_endpoints web 4
	local before
	before=$(kb get pods -o json | jq -r '[.items[].metadata.name] | sort | join(" ")')
	# 30 s of load; the rollout takes about 10
	nsenter --net="$HOSTNS" ab -r -q -c 4 -t 30 -n 10000000 http://127.0.0.1:30090/ >"$TEST_DIR/ab.out" 2>&1 3>&- &
	local ab=$!
	sleep 1
	sed -i 's/value: "1"/value: "2"/' "$MANIFESTS/web.yaml"
	kb apply -f "$MANIFESTS/web.yaml" >/dev/null
	run kb rollout status deployment/web --timeout 25
	assert_success
	wait "$ab" || true
	cat "$TEST_DIR/ab.out"
	# every old replica was replaced while ab ran
	for name in $before; do
		[[ " $(pod_names) " != *" $name "* ]]
	done
	grep -E '^Complete requests: +[0-9]+' "$TEST_DIR/ab.out"
	[ "$(awk '/^Complete requests:/ {print $3}' "$TEST_DIR/ab.out")" -ge 200 ]
	grep -E '^Failed requests: +0$' "$TEST_DIR/ab.out"
	! grep -q 'Non-2xx' "$TEST_DIR/ab.out"
}

@test "kube service: pods find services by name (hosts file, rewritten on changes) and by environment variables" {
	write_web 2
	write_svc web
	kb apply -f "$MANIFESTS/web-svc.yaml" >/dev/null
	local ip
	ip=$(vip web)
	# pods made after the service get its variables (enableServiceLinks)
	cat >"$MANIFESTS/client.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: bb, command: ["sleep", "3600"], env: [{name: WEB_SERVICE_PORT, value: "own"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: nolinks}
spec:
  enableServiceLinks: false
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: bb, command: ["sleep", "3600"]}
YAML
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/client.yaml" >/dev/null
	wait_ready 4
	wait_endpoints web 2
	run kb exec client -- env
	assert_success
	[[ "$output" == *"WEB_SERVICE_HOST=$ip"* ]]
	[[ "$output" == *"WEB_SERVICE_PORT_WEB=80"* ]]
	[[ "$output" == *"WEB_PORT=tcp://$ip:80"* ]]
	[[ "$output" == *"WEB_PORT_80_TCP_ADDR=$ip"* ]]
	# the container's own variable wins
	[[ "$output" == *"WEB_SERVICE_PORT=own"* ]]
	run kb exec nolinks -- env
	[[ "$output" != *WEB_SERVICE_HOST* ]]
	# every name of the service, from a pod
	local name
	for name in web web.default web.default.svc web.default.svc.cluster.local; do
		run kb exec client -- timeout 3 wget -qO- "http://$name/"
		assert_success
		[[ "$output" == web-* ]]
	done
	run kb exec client -- cat /etc/resolv.conf
	[[ "$output" == *"search default.svc.cluster.local svc.cluster.local cluster.local"* ]]
	# a service added later is in the running pods' hosts files within a
	# pass or two; a deleted one leaves them
	write_svc web2
	kb apply -f "$MANIFESTS/web2-svc.yaml" >/dev/null
	local i found=
	for ((i = 0; i < 30; i++)); do
		kb exec client -- grep -q "web2.default.svc.cluster.local" /etc/hosts && found=1 && break
		sleep 0.1
	done
	[ -n "$found" ]
	run kb exec client -- timeout 3 wget -qO- http://web2/
	assert_success
	kb delete svc web2 >/dev/null
	for ((i = 0; i < 30; i++)); do
		kb exec client -- grep -q web2 /etc/hosts || break
		sleep 0.1
	done
	run kb exec client -- grep web2 /etc/hosts
	assert_failure
}

@test "kube service: pods of another namespace find a service by NAME.NS, NAME.NS.svc and NAME.NS.svc.cluster.local" {
	OTHER_NS=1
	write_web 1
	write_svc web
	cat >"$MANIFESTS/client.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: bb, command: ["sleep", "3600"]}
YAML
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web-svc.yaml" >/dev/null
	kb apply -n other -f "$MANIFESTS/client.yaml" >/dev/null
	wait_ready 1
	wait_endpoints web 1
	local i name ok=
	for ((i = 0; i < 50; i++)); do
		[ "$(kb get pods -n other -o json | jq -r '.items[0].status.phase')" = Running ] && ok=1 && break
		sleep 0.1
	done
	[ -n "$ok" ]
	for name in web.default web.default.svc web.default.svc.cluster.local; do
		run kb exec -n other client -- timeout 3 wget -qO- "http://$name/"
		assert_success
		[[ "$output" == web-* ]]
	done
	# the bare name is the pod's own namespace's only
	run kb exec -n other client -- grep -E "[[:space:]]web([[:space:]]|$)" /etc/hosts
	assert_failure
	# a service made later in "default" reaches the running pod in "other";
	# a deleted one leaves it
	write_svc web2
	kb apply -f "$MANIFESTS/web2-svc.yaml" >/dev/null
	ok=
	for ((i = 0; i < 30; i++)); do
		kb exec -n other client -- grep -q "web2.default.svc.cluster.local" /etc/hosts && ok=1 && break
		sleep 0.1
	done
	[ -n "$ok" ]
	kb delete svc web2 >/dev/null
	for ((i = 0; i < 30; i++)); do
		kb exec -n other client -- grep -q web2 /etc/hosts || break
		sleep 0.1
	done
	run kb exec -n other client -- grep web2 /etc/hosts
	assert_failure
	kb delete pod client -n other >/dev/null
}

@test "kube service: a headless service's name resolves to its ready pods" {
	write_web 2
	write_svc hl "clusterIP: None"
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/hl-svc.yaml" >/dev/null
	wait_ready 2
	run kb get svc hl
	[[ "${lines[1]}" =~ ^hl\ +ClusterIP\ +None\ + ]]
	local ips i got=
	ips=$(kb get pods -o json | jq -r '[.items[].status.podIP] | sort | join(" ")')
	for ((i = 0; i < 30; i++)); do
		got=$(kb exec "$(kb get pods -o json | jq -r '.items[0].metadata.name')" -- grep 'hl.default.svc.cluster.local' /etc/hosts | awk '{print $1}' | sort | xargs || true)
		[ "$got" = "$ips" ] && break
		sleep 0.2
	done
	[ "$got" = "$ips" ]
	# no ClusterIP: no engine service, no variables
	[ -z "$(find "$HOSTNET/services" -name '*.json')" ]
}

@test "kube service: kill -9 of a replica under load from ab: its pod leaves the endpoints at once, few requests fail" {
	command -v ab >/dev/null || skip "ab (apache2-utils) is not installed"
	write_web 3
	write_svc web "type: NodePort"
	sed -i 's/targetPort: http}/targetPort: http, nodePort: 30091}/' "$MANIFESTS/web-svc.yaml"
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web-svc.yaml" >/dev/null
	wait_ready 3
	wait_endpoints web 3
	local victim pid
	victim=$(kb get pods -o json | jq -r '.items[0].metadata.name')
	pid=$(pid_of_container "k8s_web_${victim}_default")
	nsenter --net="$HOSTNS" ab -r -q -c 4 -t 6 -n 10000000 http://127.0.0.1:30091/ >"$TEST_DIR/ab.out" 2>&1 3>&- &
	local ab=$!
	sleep 2
	kill -9 "$pid"
	wait "$ab" || true
	cat "$TEST_DIR/ab.out"
	local failed
	failed=$(awk '/^Failed requests:/ {print $3}' "$TEST_DIR/ab.out")
	echo "# kill -9 under load: $failed failed of $(awk '/^Complete requests:/ {print $3}' "$TEST_DIR/ab.out")" >&3
	[ "$(awk '/^Complete requests:/ {print $3}' "$TEST_DIR/ab.out")" -ge 200 ]
	# the connections the replica held, and those made while its endpoint
	# is taken out (one engine call, ~12 ms here: 6-34 failed of ~17000
	# in runs here; 789 when the controller only looked every 250 ms)
	[ "$failed" -le 150 ]
}

@test "kube service: a pod scaled down or deleted leaves the endpoints before its preStop hook and SIGTERM" {
	write_web 2
	sed -i 's/      terminationGracePeriodSeconds: 2/      terminationGracePeriodSeconds: 10/' "$MANIFESTS/web.yaml"
	cat >>"$MANIFESTS/web.yaml" <<'YAML'
        lifecycle:
          preStop: {sleep: {seconds: 3}}
YAML
	write_svc web
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web-svc.yaml" >/dev/null
	wait_ready 2
	wait_endpoints web 2
	local before after gone ip i
	# "NAME IP" of each pod
	before=$(kb get pods -o json | jq -r '.items[] | "\(.metadata.name) \(.status.podIP)"')
	run kb scale deployment/web --replicas 1
	assert_success
	for ((i = 0; i < 50; i++)); do
		after=$(kb get endpoints web -o json | jq -r '[.subsets[]?.addresses[]?.ip] | length')
		[ "$after" = 1 ] && break
		sleep 0.1
	done
	[ "$after" = 1 ]
	# the pod that left is still serving: its preStop sleeps, no SIGTERM yet
	ip=$(kb get endpoints web -o json | jq -r '.subsets[0].addresses[0].ip')
	gone=$(awk -v ip="$ip" '$2 != ip {print $1}' <<<"$before")
	[ -n "$gone" ]
	[ "$(state_of "k8s_web_${gone}_default" State.Status)" = running ]
	# kube delete pod: the same order, for a Pod of its own behind the service
	cat >"$MANIFESTS/solo.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: web
    image: bb
    command: ["sh", "-c", "mkdir -p /www && hostname >/www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080, name: http}]
    lifecycle:
      preStop: {sleep: {seconds: 3}}
YAML
	kb apply -f "$MANIFESTS/solo.yaml" >/dev/null
	wait_endpoints web 2
	ip=$(kb get pod solo -o json | jq -r .status.podIP)
	kb delete pod solo --wait=false >/dev/null
	for ((i = 0; i < 50; i++)); do
		kb get endpoints web -o json | jq -r '.subsets[]?.addresses[]?.ip' | grep -qx "$ip" || break
		sleep 0.1
	done
	[ "$i" -lt 50 ]
	[ "$(state_of k8s_web_solo_default State.Status)" = running ]
}

@test "kube service: kube delete pod of a Deployment's pod under load from ab: it leaves gracefully, is replaced, no request fails" {
	command -v ab >/dev/null || skip "ab (apache2-utils) is not installed"
	write_web 3
	sed -i 's/      terminationGracePeriodSeconds: 2/      terminationGracePeriodSeconds: 5/' "$MANIFESTS/web.yaml"
	cat >>"$MANIFESTS/web.yaml" <<'YAML'
        lifecycle:
          preStop: {sleep: {seconds: 2}}
YAML
	write_svc web "type: NodePort"
	sed -i 's/targetPort: http}/targetPort: http, nodePort: 30092}/' "$MANIFESTS/web-svc.yaml"
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web-svc.yaml" >/dev/null
	wait_ready 3
	wait_endpoints web 3
	local first second ip i
	first=$(kb get pods -o json | jq -r '.items[0].metadata.name')
	second=$(kb get pods -o json | jq -r '.items[1].metadata.name')
	ip=$(kb get pod "$first" -o json | jq -r .status.podIP)
	nsenter --net="$HOSTNS" ab -r -q -c 4 -t 15 -n 10000000 http://127.0.0.1:30092/ >"$TEST_DIR/ab.out" 2>&1 3>&- &
	local ab=$!
	sleep 1
	run kb delete pod "$first" --wait=false
	assert_success
	assert_output "pod \"$first\" deleted"
	# it leaves the endpoints while its preStop still runs (no SIGTERM yet)
	for ((i = 0; i < 50; i++)); do
		kb get endpoints web -o json | jq -r '.subsets[]?.addresses[]?.ip' | grep -qx "$ip" || break
		sleep 0.1
	done
	[ "$i" -lt 50 ]
	[ "$(state_of "k8s_web_${first}_default" State.Status)" = running ]
	# the controller makes a replacement, which joins once ready
	wait_ready 3 15
	wait_endpoints web 3
	# and the deleted one goes once its grace period ends
	for ((i = 0; i < 100; i++)); do
		[[ " $(pod_names) " != *" $first "* ]] && break
		sleep 0.1
	done
	[ "$i" -lt 100 ]
	# delete pod/NAME waits until the pod is gone
	run kb delete "pod/$second"
	assert_success
	assert_output "pod \"$second\" deleted"
	[[ " $(pod_names) " != *" $second "* ]]
	wait_ready 3 15
	wait_endpoints web 3
	wait "$ab" || true
	cat "$TEST_DIR/ab.out"
	grep -E '^Complete requests: +[0-9]+' "$TEST_DIR/ab.out"
	[ "$(awk '/^Complete requests:/ {print $3}' "$TEST_DIR/ab.out")" -ge 200 ]
	grep -E '^Failed requests: +0$' "$TEST_DIR/ab.out"
	if grep -q "Non-2xx" "$TEST_DIR/ab.out"; then fail "answers other than 2xx"; fi
	# a name that is no pod is still not found
	run kb delete pod nosuch
	assert_failure
	[[ "$output" == *'pod "nosuch" not found'* ]]
}

@test "kube service: a container whose liveness probe fails leaves the endpoints before it is killed" {
	cat >"$MANIFESTS/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: bb
        command: ["sh", "-c", "rm -f /tmp/die && mkdir -p /www && hostname >/www/index.html && touch /www/ready && exec httpd -f -p 8080 -h /www"]
        ports: [{containerPort: 8080, name: http}]
        readinessProbe:
          httpGet: {path: /ready, port: http}
          initialDelaySeconds: 2
          periodSeconds: 1
        livenessProbe:
          exec: {command: ["sh", "-c", "test ! -f /tmp/die"]}
          periodSeconds: 1
          failureThreshold: 1
YAML
	write_svc web
	kb apply -f "$MANIFESTS/web.yaml" -f "$MANIFESTS/web-svc.yaml" >/dev/null
	wait_ready 2 20
	wait_endpoints web 2
	local pod ip pid record="$HOSTNET/services/web.default.json" line current i seen_dead=0 violations=0
	pod=$(kb get pods -o json | jq -r '.items[0].metadata.name')
	ip=$(kb get pod "$pod" -o json | jq -r .status.podIP)
	pid=$(pid_of_container "k8s_web_${pod}_default")
	[[ "$(<"$record")" == *"\"$ip\""* ]]
	kb exec "$pod" -- touch /tmp/die
	# builtins only (a look every 1-2 ms here): is the container's
	# process gone, and then is its address still among the endpoints the
	# service's record has (before its "Stale" part)? Its replacement is
	# not ready for 2 s, so the address cannot be back meanwhile. Looks
	# for 300 ms after the end (up to 20 s in all). httpd ends at once on
	# SIGTERM, so a wrong order would open a window of milliseconds only:
	# this catches it sometimes (1 of 3 runs with the kill moved first).
	local start=${EPOCHREALTIME/./} dead_at=0 now
	for ((i = 0; ; i++)); do
		now=${EPOCHREALTIME/./}
		((now - start < 20000000)) || break
		((dead_at == 0 || now - dead_at < 300000)) || break
		if ! kill -0 "$pid" 2>/dev/null; then
			((dead_at > 0)) || dead_at=$now
			seen_dead=$((seen_dead + 1))
			read -r line <"$record" || true
			current=${line%%\"Stale\"*}
			[[ "$current" == *"\"$ip\""* ]] && violations=$((violations + 1))
		fi
	done
	echo "# liveness kill: $seen_dead looks after the process ended, $violations with its address still an endpoint" >&3
	[ "$dead_at" -gt 0 ]
	[ "$seen_dead" -ge 20 ]
	[ "$violations" = 0 ]
	# the pod is not removed: its container restarts in place and comes back
	wait_endpoints web 2
	[ "$(kb get pod "$pod" -o json | jq -r '.status.containerStatuses[0].restartCount')" -ge 1 ]
}
