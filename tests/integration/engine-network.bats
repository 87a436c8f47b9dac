#!/usr/bin/env bats
# Networking of the engine: the default bridge, published ports (from
# 127.0.0.1, from the bridge, from another host with the client's address
# kept), names between containers, isolation of networks, shared network
# namespaces, CNI, and that nothing is left after rm.
#
# Every berth command runs inside a network namespace the test makes (the
# "host" here, engine.bash), so bridges, nftables rules and sysctls never
# touch the machine's own network.

load engine

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bnet
}

teardown() {
	local failed=0
	[ -z "${OUTSIDE:-}" ] || { umount "$OUTSIDE" 2>/dev/null; rm -f "$OUTSIDE"; }
	engine_teardown || failed=1
	return $failed
}

# httpd NAME [FLAGS...]: a detached busybox httpd answering "NAME".
httpd() {
	local name=$1
	shift
	brun -d --name "$name" "$@" bb sh -c "mkdir -p /www && echo $name >/www/index.html && exec httpd -f -vv -p 80 -h /www"
}

ip_of() {
	b inspect "$1" | jq -r '.[0].NetworkSettings.IPAddress'
}

# fetch URL [FROM]: an HTTP GET from the host namespace (or netns file
# FROM). (busybox wget -T crashes in Debian 12's busybox-static: `timeout`
# bounds the containers' wget instead, under --init: busybox's timeout execs
# the command itself, and as PID 1 wget would ignore its SIGTERM.)
# A refused connection is tried again for up to 2 s: `run -d` returns once
# the container runs, which can be before its server listens.
fetch() {
	local i rc
	for ((i = 0; i < 20; i++)); do
		rc=0
		nsenter --net="${2:-$HOSTNS}" curl -sS -m 3 "$1" 2>/dev/null || rc=$?
		[ "$rc" = 7 ] || break
		sleep 0.1
	done
	[ "$rc" = 0 ] || nsenter --net="${2:-$HOSTNS}" curl -sS -m 3 "$1"
}

@test "network: containers without a network make no host-wide network directory" {
	local saved=$HOSTNET
	HOSTNET="$TEST_DIR/never"
	run brun --rm --network none bb true
	assert_success
	run brun -d --name idle --network none bb sleep 60
	assert_success
	run b rm -f idle
	assert_success
	[ ! -e "$TEST_DIR/never" ] || fail "made $(find "$TEST_DIR/never")"
	HOSTNET=$saved
}

@test "network: -p publishes on 127.0.0.1 and the bridge; the container has its address, hosts and resolv.conf" {
	run httpd web -p 8080:80
	assert_success
	local ip
	ip=$(ip_of web)
	[[ "$ip" == 10.77.* ]]
	run fetch "http://127.0.0.1:8080/"
	assert_success
	assert_output web
	run fetch "http://$ip:80/"
	assert_success
	assert_output web
	run b exec web cat /etc/hosts
	assert_success
	[[ "$output" == *"$ip"*web* ]]
	run b exec web cat /etc/resolv.conf
	assert_success
	[[ "$output" == *nameserver* ]]
	run b inspect web
	[ "$(jq -r '.[0].NetworkSettings.Ports[0].HostPort' <<<"$output")" = 8080 ]
	run in_host nft list table inet berth
	assert_success
	[[ "$output" == *8080* ]]
	run b rm -f web
	assert_success
	run in_host nft list table inet berth
	[[ "$output" != *8080* ]]
	run fetch "http://127.0.0.1:8080/"
	assert_failure
}

@test "network: containers on one network find each other by name" {
	b network create apps >/dev/null
	run httpd api --network apps
	assert_success
	run brun --rm --init --network apps bb timeout 3 wget -q -O- http://api/
	assert_success
	assert_output api
	# a container that came later is in the earlier one's hosts file
	run brun -d --name client --network apps bb sleep 1000
	assert_success
	run b exec api cat /etc/hosts
	[[ "$output" == *client* ]]
	run b rm -f client
	run b exec api cat /etc/hosts
	[[ "$output" != *client* ]]
}

@test "network: a container of another network cannot reach the first" {
	b network create one >/dev/null
	b network create two >/dev/null
	run httpd srv --network one
	assert_success
	local ip
	ip=$(ip_of srv)
	run brun --rm --init --network one bb timeout 3 wget -q -O- "http://$ip/"
	assert_success
	assert_output srv
	run brun --rm --init --network two bb timeout 3 wget -q -O- "http://$ip/"
	assert_failure
}

@test "network: a published port keeps the client's address from another host" {
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
	nsenter --net="$OUTSIDE" ip link set lo up
	run httpd web --network berth -p 8081:80
	assert_success
	run fetch "http://10.200.0.1:8081/" "$OUTSIDE"
	assert_success
	assert_output web
	run b logs web
	[[ "$output" == *10.200.0.2* ]]
	in_host ip link del vout
}

@test "network: --network container: shares the namespace; udp and port ranges publish" {
	run brun -d --name base --network berth -p 9000-9001:7000-7001 -p 9053:53/udp bb sleep 1000
	assert_success
	run b inspect base
	[ "$(jq -r '.[0].NetworkSettings.Ports | length' <<<"$output")" = 3 ]
	[ "$(jq -r '.[0].NetworkSettings.Ports[2].Protocol' <<<"$output")" = udp ]
	local ip
	ip=$(ip_of base)
	run brun --rm --network container:base bb ip -o -4 addr show eth0
	assert_success
	[[ "$output" == *"$ip/"* ]]
}

@test "network: no veth, namespace, rule or lease is left after kill -9 of a monitor, a failed start, or rm" {
	run httpd k9 --network berth -p 8082:80
	assert_success
	local mon
	mon=$(b inspect k9 | jq -r '.[0].State.MonitorPid // empty')
	[ -n "$mon" ] || mon=$(jq -r .monitor_pid "$STORE"/containers/*/state.json | head -1)
	kill -9 "$mon"
	run b rm -f k9
	assert_success
	# a start that fails (no such command) takes its network down again
	run -127 brun --rm --network berth -p 8083:80 bb /nonexistent
	run in_host nft list table inet berth
	[[ "$output" != *8082* ]]
	[[ "$output" != *8083* ]]
	# a port taken twice is refused, the second container leaves nothing
	run httpd first --network berth -p 8084:80
	assert_success
	run brun -d --name second --network berth -p 8084:80 bb sleep 100
	assert_failure
	[[ "$output" == *8084* ]]
	run b ps -a --format json
	[ "$(jq length <<<"$output")" = 1 ]
}

@test "network: create, ls, inspect, rm; one in use is refused; bad input is clear" {
	run b network create --subnet 10.123.0.0/24 lab
	assert_success
	run b network ls -q
	[[ "$output" == *lab* ]]
	run b network inspect lab
	[ "$(jq -r '.[0].Subnet' <<<"$output")" = 10.123.0.0/24 ]
	run b network create lab
	assert_failure
	[[ "$output" == *"already exists"* ]]
	run b network create --subnet 10.124.0.1/24 bad
	assert_failure
	[[ "$output" == *10.124.0.0/24* ]]
	run brun -d --name user --network lab bb sleep 100
	assert_success
	run b network rm lab
	assert_failure
	[[ "$output" == *"in use"*user* ]]
	b rm -f user >/dev/null
	run b network rm lab
	assert_success
	run in_host ip link show
	[[ "$output" != *berth1* ]]
	run brun --rm --network nosuch bb true
	assert_failure
	[[ "$output" == *"no such network: nosuch"* ]]
	run brun --rm -p 99999:80 --network berth bb true
	assert_failure
	[[ "$output" == *99999* ]]
}

@test "network: a CNI network (bridge, host-local, portmap) runs through the CNI plugins" {
	cat >"$TEST_DIR/cni.conflist" <<-EOF
		{"cniVersion": "0.4.0", "name": "cnitest", "plugins": [
		  {"type": "bridge", "bridge": "cnibr0", "isGateway": true, "ipMasq": false,
		   "ipam": {"type": "host-local", "subnet": "10.231.7.0/24", "dataDir": "$TEST_DIR/cni-ipam"}},
		  {"type": "portmap", "capabilities": {"portMappings": true}}]}
	EOF
	run b network create --driver cni --cni-config "$TEST_DIR/cni.conflist" cnitest
	assert_success
	run httpd cweb --network cnitest -p 8085:80
	assert_success
	local ip
	ip=$(ip_of cweb)
	[[ "$ip" == 10.231.7.* ]]
	run fetch "http://$ip/"
	assert_success
	assert_output cweb
	run b rm -f cweb
	assert_success
	[ -z "$(ls "$TEST_DIR/cni-ipam/cnitest" 2>/dev/null | grep -v -e lock -e last_reserved)" ]
	run b network rm cnitest
	assert_success
	in_host ip link del cnibr0 2>/dev/null || true
}

@test "network: connect joins a running container to a second network, disconnect takes it off" {
	b network create back >/dev/null
	run httpd db --network back
	assert_success
	run brun -d --name app bb sleep 1000
	assert_success
	run b exec app timeout 3 wget -q -O- http://db/
	assert_failure
	run b network connect back app
	assert_success
	run b exec app ip -o -4 addr show eth1
	assert_success
	[[ "$output" == *10.78.* ]]
	run b exec app timeout 3 wget -q -O- http://db/
	assert_success
	assert_output db
	run b exec db cat /etc/hosts
	[[ "$output" == *app* ]]
	run b network connect back app
	assert_failure
	[[ "$output" == *"already on network back"* ]]
	run b network disconnect back app
	assert_success
	run b exec app ip -o link show eth1
	assert_failure
	run b exec db cat /etc/hosts
	[[ "$output" != *app* ]]
	run b network disconnect berth app
	assert_failure
	[[ "$output" == *"first network"* ]]
}

@test "network: -P publishes the image's exposed ports on free host ports" {
	b import "$BATS_FILE_TMPDIR/rootfs.tar" web --change 'CMD ["sh"]' --change 'EXPOSE 80 53/udp' >/dev/null
	run brun -d --name pub -P web sh -c 'mkdir -p /www && echo exposed >/www/index.html && exec httpd -f -p 80 -h /www'
	assert_success
	run b inspect pub
	[ "$(jq -r '.[0].NetworkSettings.Ports | length' <<<"$output")" = 2 ]
	local port
	port=$(jq -r '.[0].NetworkSettings.Ports[] | select(.ContainerPort == 80) | .HostPort' <<<"$output")
	[ "$port" -gt 0 ]
	run fetch "http://127.0.0.1:$port/"
	assert_success
	assert_output exposed
	run b ps
	[[ "$output" == *"0.0.0.0:$port->80/tcp"* ]]
}

@test "network: an IPv6 network gives containers addresses that reach each other" {
	run b network create --ipv6 --subnet6 fd77:b3:99::/64 six
	assert_success
	run brun -d --name v6a --network six bb sleep 1000
	assert_success
	run b inspect v6a
	local a6
	a6=$(jq -r '.[0].NetworkSettings.GlobalIPv6Address' <<<"$output")
	[[ "$a6" == fd77:b3:99::* ]]
	run brun --rm --init --network six bb ping -6 -c 1 -W 2 "$a6"
	assert_success
	run brun --rm --network six bb ip -6 route show default
	[[ "$output" == *"fd77:b3:99::1"* ]]
}

@test "network: subnets the host already routes elsewhere are skipped" {
	# a "LAN" on 10.77.0.0/16 and 10.78.0.0/24 in the test's host namespace
	in_host ip link add lan0 type veth peer name lan1
	in_host ip addr add 10.77.0.1/16 dev lan0
	in_host ip addr add 10.78.0.1/24 dev lan0
	in_host ip link set lan0 up
	in_host ip link set lan1 up
	run b network create other
	assert_success
	run b network inspect other
	[ "$(jq -r '.[0].Subnet' <<<"$output")" = 10.78.1.0/24 ]
	run brun --rm bb true
	assert_success
	[[ "$output" == *"routes 10.77.0.0/16 already"* ]]
	run b network inspect berth
	[ "$(jq -r '.[0].Subnet' <<<"$output")" = 10.78.2.0/24 ]
	in_host ip link del lan0
}

@test "network: a stopped container starts again after a reboot took its mounts, namespace and bridge" {
	run httpd boot -p 8086:80
	assert_success
	local ip id
	ip=$(ip_of boot)
	id=$(b inspect boot | jq -r '.[0].Id')
	run b stop -t 1 boot
	assert_success
	# what a reboot takes: mounts, the runroot's tmpfs content, links, nftables
	umount "$STORE/containers/$id/bundle/rootfs"
	umount "$RUNROOT/netns/$id"
	rm -rf "$RUNROOT/netns" "$RUNROOT/networks" "$RUNROOT/runtime"
	in_host ip link del berth0
	in_host nft delete table inet berth
	run b start boot
	assert_success
	[ "$(ip_of boot)" = "$ip" ]
	run fetch "http://127.0.0.1:8086/"
	assert_success
	assert_output boot
}
