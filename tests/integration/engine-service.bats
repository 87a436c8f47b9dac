#!/usr/bin/env bats
# Services (src/network/service.h) driven by `berth network service`, with
# real traffic: busybox httpd containers as endpoints, a ClusterIP spread
# across them from the host and from containers (hairpin included), an
# endpoint taken out of rotation, ClientIP affinity, UDP, NodePort from
# 127.0.0.1 and from another network namespace, a service without endpoints
# refusing at once, and nothing left after rm (engine_teardown checks the
# records and berth's nftables table).
#
# Every berth command runs inside a network namespace the test makes (the
# "host" here, engine.bash).

load engine

setup_file() {
	engine_make_rootfs
	# udp-echo (tests/helpers, static): busybox's nc has no UDP
	cp "$BERTH_BUILD_DIR/tests/helpers/udp-echo" "$BATS_FILE_TMPDIR/rootfs/bin/udp-echo"
	tar -C "$BATS_FILE_TMPDIR/rootfs" -cf "$BATS_FILE_TMPDIR/rootfs.tar" .
}

setup() {
	engine_setup bsvc
}

teardown() {
	local failed=0
	[ -z "${OUTSIDE:-}" ] || {
		umount "$OUTSIDE" 2>/dev/null
		rm -f "$OUTSIDE"
	}
	engine_teardown || failed=1
	return $failed
}

# httpd NAME: a detached busybox httpd on port 80 answering "NAME".
httpd() {
	brun -d --name "$1" bb sh -c "mkdir -p /www && echo $1 >/www/index.html && exec httpd -f -p 80 -h /www" >/dev/null
}

ip_of() {
	b inspect "$1" | jq -r '.[0].NetworkSettings.IPAddress'
}

# three httpd endpoints w1 w2 w3; their addresses in W1 W2 W3.
three_endpoints() {
	httpd w1
	httpd w2
	httpd w3
	W1=$(ip_of w1)
	W2=$(ip_of w2)
	W3=$(ip_of w3)
}

# vip NAME: the ClusterIP of service NAME.
vip() {
	b network service ls --format json | jq -r ".[] | select(.Name == \"$1\") | .ClusterIP"
}

# get URL [N]: N (default 1) HTTP GETs from the host namespace, one answer a
# line ("ERR" for a failure).
get() {
	local i
	for ((i = 0; i < ${2:-1}; i++)); do
		in_host curl -sS -m 3 "$1" 2>/dev/null || echo ERR
	done
}

# count WORD TEXT: how many lines of TEXT are WORD.
count() {
	grep -cx "$1" <<<"$2" || true
}

@test "service: 300 requests to the ClusterIP spread over 3 endpoints, from the host and from a container" {
	three_endpoints
	run b network service create web -p 80
	assert_success
	[[ "$output" == "web 10.96.0.1 80/TCP" ]]
	run b network service set-endpoints web "$W1" "$W2" "$W3"
	assert_success
	run b network service ls
	assert_success
	[[ "$output" == *"web"*"ClusterIP"*"10.96.0.1"*"80/TCP"*"$W1,$W2,$W3"* ]]

	local out n1 n2 n3
	out=$(get http://10.96.0.1/ 300)
	n1=$(count w1 "$out") n2=$(count w2 "$out") n3=$(count w3 "$out")
	echo "w1=$n1 w2=$n2 w3=$n3 errors=$(count ERR "$out")"
	[ $((n1 + n2 + n3)) -eq 300 ]
	# 100 each expected; 50 is far below what random choice gives
	[ "$n1" -ge 50 ] && [ "$n2" -ge 50 ] && [ "$n3" -ge 50 ]

	# a container on the bridge (an endpoint itself: hairpin) reaches all three
	run b exec w1 sh -c 'for i in $(seq 60); do wget -qO- http://10.96.0.1/ || echo ERR; done'
	assert_success
	[ "$(count ERR "$output")" = 0 ]
	[ "$(count w1 "$output")" -ge 5 ] && [ "$(count w2 "$output")" -ge 5 ] && [ "$(count w3 "$output")" -ge 5 ]
	[ "${#lines[@]}" = 60 ]
}

@test "service: an endpoint reaching its own service (hairpin); an endpoint removed gets no new connections" {
	three_endpoints
	b network service create web -p 8080:80 >/dev/null
	# w2 is the only endpoint: its connection to the service comes back to it
	run b network service set-endpoints web "$W2"
	assert_success
	run b exec w2 sh -c 'wget -qO- http://10.96.0.1:8080/ && wget -qO- http://10.96.0.1:8080/'
	assert_success
	assert_output "w2
w2"
	b network service set-endpoints web "$W1" "$W2" "$W3"
	run b network service set-endpoints web "$W1" "$W3"
	assert_success
	local out
	out=$(get http://10.96.0.1:8080/ 60)
	[ "$(count w2 "$out")" = 0 ]
	[ "$(count ERR "$out")" = 0 ]
	[ "$(count w1 "$out")" -ge 10 ] && [ "$(count w3 "$out")" -ge 10 ]
	run in_host nft list table inet berth
	[[ "$output" != *"$W2"* ]]
	[[ "$output" == *"numgen random mod 2"* ]]
}

@test "service: ClientIP affinity sticks to one endpoint per client" {
	three_endpoints
	run b network service create sticky -p 80 --session-affinity ClientIP --affinity-timeout 600
	assert_success
	b network service set-endpoints sticky "$W1" "$W2" "$W3"
	local out first
	out=$(get http://10.96.0.1/ 30)
	first=$(head -1 <<<"$out")
	[[ "$first" == w[123] ]]
	[ "$(count "$first" "$out")" = 30 ]
	# another client (a container) sticks too, to whichever it got first
	run b exec w3 sh -c 'for i in $(seq 20); do wget -qO- http://10.96.0.1/; done'
	assert_success
	[ "$(sort -u <<<"$output" | wc -l)" = 1 ]
	run in_host nft list table inet berth
	[[ "$output" == *"timeout 10m"* ]]
}

@test "service: UDP is spread and answered; no endpoints is refused at once" {
	brun -d --name u1 bb udp-echo serve 53 u1 >/dev/null
	brun -d --name u2 bb udp-echo serve 53 u2 >/dev/null
	run b network service create dns -p 53/udp
	assert_success
	[[ "$output" == *"53/UDP"* ]]
	b network service set-endpoints dns "$(ip_of u1)" "$(ip_of u2)"
	local out i
	out=$(for ((i = 0; i < 40; i++)); do in_host "$BERTH_BUILD_DIR/tests/helpers/udp-echo" ask 10.96.0.1 53 || echo ERR; done)
	[ "$(count ERR "$out")" = 0 ]
	[ "$(count u1 "$out")" -ge 5 ] && [ "$(count u2 "$out")" -ge 5 ]
	# from a container
	run b exec u1 udp-echo ask 10.96.0.1 53
	assert_success
	[[ "$output" == u[12] ]]
	# one flow (a fixed source port) sticks to its endpoint while it is in the
	# set; once that endpoint leaves, the flow's conntrack entry goes with it
	# and its next datagram goes to the other (the first still runs)
	local ask="$BERTH_BUILD_DIR/tests/helpers/udp-echo" first again left
	first=$(in_host "$ask" ask 10.96.0.1 53 40053)
	again=$(in_host "$ask" ask 10.96.0.1 53 40053)
	[ "$again" = "$first" ]
	if [ "$first" = u1 ]; then left=u2; else left=u1; fi
	b network service set-endpoints dns "$(ip_of "$left")"
	run in_host "$ask" ask 10.96.0.1 53 40053
	assert_success
	assert_output "$left"
	# no endpoints: refused (a host socket is told at once, EPERM)
	b network service set-endpoints dns
	SECONDS=0
	run in_host "$BERTH_BUILD_DIR/tests/helpers/udp-echo" ask 10.96.0.1 53
	assert_failure
	[ "$SECONDS" -le 2 ]
}

@test "service: without endpoints a connection is refused at once, from the host and from a container" {
	httpd w1
	b network service create empty -p 80 --type NodePort --node-port 30080 >/dev/null
	local start
	start=$(date +%s%N)
	run in_host curl -sS -m 5 http://10.96.0.1/
	[ "$status" = 7 ] # couldn't connect: refused, not a timeout (28)
	run in_host curl -sS -m 5 http://127.0.0.1:30080/
	[ "$status" = 7 ]
	run b exec w1 wget -qO- http://10.96.0.1/
	assert_failure
	[[ "$output" == *"refused"* ]]
	# all three well under the 5 s a hang would take
	[ $(($(date +%s%N) - start)) -lt 3000000000 ]
	# a port the service does not have is refused too
	b network service set-endpoints empty "$(ip_of w1)"
	run in_host curl -sS -m 5 http://10.96.0.1:81/
	[ "$status" = 7 ]
	run get http://10.96.0.1/
	assert_output w1
}

@test "service: NodePort from 127.0.0.1 and from another namespace; -p cannot take the node port" {
	three_endpoints
	run b network service create web -p 80 --type NodePort
	assert_success
	[[ "$output" == "web 10.96.0.1 80:30000/TCP" ]] # the first free node port
	b network service set-endpoints web "$W1" "$W2" "$W3"
	local out
	out=$(get http://127.0.0.1:30000/ 60)
	[ "$(count ERR "$out")" = 0 ]
	[ "$(count w1 "$out")" -ge 5 ] && [ "$(count w2 "$out")" -ge 5 ] && [ "$(count w3 "$out")" -ge 5 ]

	# "outside": a second namespace wired to the host namespace
	OUTSIDE="$TEST_DIR/outside"
	touch "$OUTSIDE"
	unshare --net="$OUTSIDE" true
	in_host ip link add vout type veth peer name vin
	in_host ip link set vin netns "$OUTSIDE"
	in_host ip addr add 10.200.0.1/24 dev vout
	in_host ip link set vout up
	nsenter --net="$OUTSIDE" ip addr add 10.200.0.2/24 dev vin
	nsenter --net="$OUTSIDE" ip link set vin up
	out=$(for i in $(seq 30); do nsenter --net="$OUTSIDE" curl -sS -m 3 http://10.200.0.1:30000/ || echo ERR; done)
	[ "$(count ERR "$out")" = 0 ]
	[ "$(count w1 "$out")" -ge 2 ] && [ "$(count w2 "$out")" -ge 2 ] && [ "$(count w3 "$out")" -ge 2 ]

	# the node port is claimed host-wide
	run brun -d --name clash -p 30000:80 bb sleep 100
	assert_failure
	[[ "$output" == *"already the node port of service web"* ]]
	# and a second service cannot ask for it
	run b network service create web2 -p 80 --type NodePort --node-port 30000
	assert_failure
	[[ "$output" == *"node port of service web"* ]]
	in_host ip link del vout
}

@test "service: rm takes every chain, set, element and claim; bad input changes nothing" {
	three_endpoints
	b network service create web -p http=80 -p metrics=9100:9100 --type NodePort --session-affinity ClientIP >/dev/null
	b network service set-endpoints web "$W1" "$W2:80,9101" "$W3"
	run in_host nft list table inet berth
	[[ "$output" == *"dnat ip to $W2:9101"* ]]
	[[ "$output" == *"set aff-web-tcp-80-"* ]]
	[ -n "$(ls "$HOSTNET/ports" | grep -v lock)" ]

	# bad input: refused before anything changes
	run b network service set-endpoints web 10.77.0.500
	assert_failure
	[[ "$output" == *"not an IPv4 address"* ]]
	run b network service create Bad -p 80
	assert_failure
	[[ "$output" == *"a name is"* ]]
	run b network service create web -p 80 --cluster-ip 10.96.0.9
	assert_failure
	[[ "$output" == *"cannot change"* ]]
	run b network service ls
	[[ "$output" == *"$W1,$W2,$W3"* ]]

	run b network service rm web
	assert_success
	run in_host nft list table inet berth
	[[ "$output" != *svc* && "$output" != *aff-* && "$output" != *service_ips* ]]
	[ -z "$(ls "$HOSTNET/ports" | grep -v lock)" ]
	[ -z "$(ls "$HOSTNET/services" | grep -v lock)" ]
	run b network service rm web
	assert_failure
	[[ "$output" == *"no such service"* ]]
	# traffic to the old VIP is not DNATed any more
	run in_host curl -sS -m 2 http://10.96.0.1/
	assert_failure
}

@test "service: a container reaches its own published port through the host's address (hairpin mode)" {
	brun -d --name self -p 8080:80 bb sh -c "mkdir -p /www && echo self >/www/index.html && exec httpd -f -p 80 -h /www" >/dev/null
	# 10.77.0.1: the host's address on the default bridge
	run b exec self wget -qO- http://10.77.0.1:8080/
	assert_success
	assert_output self
}

@test "service: set-endpoints killed at random points leaves a service the next call repairs, and rm leaves nothing" {
	three_endpoints
	b network service create web -p 80 --session-affinity ClientIP >/dev/null
	local sets=("$W1" "$W1 $W2" "$W2 $W3" "$W1 $W2 $W3" "$W3") i pid
	for ((i = 0; i < 12; i++)); do
		# shellcheck disable=SC2086 # the set is a list of addresses
		b network service set-endpoints web ${sets[$((i % 5))]} &
		pid=$!
		sleep "0.0$((RANDOM % 4))$((RANDOM % 10))"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	run b network service set-endpoints web "$W1" "$W3"
	assert_success
	run b network service ls
	[[ "$output" == *"$W1,$W3"* ]]
	# exactly the two endpoints' chains are left, and traffic reaches no other
	run in_host nft list table inet berth
	[ "$(grep -c 'chain ep-web-' <<<"$output")" = 2 ]
	[ "$(grep -c 'set aff-web-' <<<"$output")" = 2 ]
	[[ "$output" != *"$W2"* ]]
	run b network service ls -q
	assert_output web
	run b network service rm web
	assert_success
	[ -z "$(ls -A "$HOSTNET/services" | grep -v '^lock$')" ]
}

@test "service: a container on another network reaches the service's endpoints on the default bridge" {
	three_endpoints
	b network service create web -p 80 >/dev/null
	b network service set-endpoints web "$W1" "$W2" "$W3"
	b network create other >/dev/null
	brun -d --name client --network other bb sleep 1000 >/dev/null
	[[ "$(ip_of client)" != 10.77.* ]]
	run b exec client sh -c 'for i in $(seq 30); do wget -qO- http://10.96.0.1/ || echo ERR; done'
	assert_success
	[ "$(count ERR "$output")" = 0 ]
	[ "$(count w1 "$output")" -ge 2 ] && [ "$(count w2 "$output")" -ge 2 ] && [ "$(count w3 "$output")" -ge 2 ]
}
