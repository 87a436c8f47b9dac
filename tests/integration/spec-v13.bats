#!/usr/bin/env bats
# runtime-spec 1.2/1.3 fields: idmapped bind mounts (idmap, ridmap, a
# mount's uidMappings/gidMappings), linux.memoryPolicy, linux.netDevices,
# and what `features` and `--version` claim about them.

load helpers

# add_mount DEST SOURCE OPTIONS_JSON [EXTRA_JQ]: a bind mount, EXTRA_JQ added
# to the mount object (uidMappings...).
add_bind() {
	update_config ".mounts += [{destination: \$d, type: \"bind\", source: \$s, options: \$o} ${4:++ $4}]" \
		--arg d "$1" --arg s "$2" --argjson o "$3"
}

# a directory with files owned by host uid/gid 1000 and 0
make_owned_files() {
	mkdir -p "$TEST_DIR/owned"
	touch "$TEST_DIR/owned/u1000" "$TEST_DIR/owned/u0"
	chown 1000:1000 "$TEST_DIR/owned/u1000"
	chmod 755 "$TEST_DIR/owned"
}

# the container's root is host uid 100000: it must reach the rootfs
use_userns() {
	local d="$BUNDLE"
	chown -R 100000:100000 "$BUNDLE/rootfs"
	while [ "$d" != / ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	update_config '.linux.namespaces += [{type: "user"}]
		| .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]'
}

@test "idmap: a mount's own mappings show a host file of uid 1000 as the mapped owner (no user namespace)" {
	make_owned_files
	local maps='{uidMappings: [{containerID: 1000, hostID: 3000, size: 10}], gidMappings: [{containerID: 1000, hostID: 4000, size: 10}]}'
	add_bind /idm "$TEST_DIR/owned" '["bind", "idmap"]' "$maps"
	add_bind /plain "$TEST_DIR/owned" '["bind"]'
	set_args sh -c 'ls -ln /idm | sed "s/^/idm /"; ls -ln /plain | sed "s/^/plain /"'
	run berth run c1
	assert_success
	assert_equal "$(grep '^idm ' <<<"$output" | awk '$NF == "u1000" {print $4 ":" $5}')" 3000:4000 "idmapped owner"
	# outside the mapping: the overflow ids
	assert_equal "$(grep '^idm ' <<<"$output" | awk '$NF == "u0" {print $4 ":" $5}')" 65534:65534 "unmapped owner"
	assert_equal "$(grep '^plain ' <<<"$output" | awk '$NF == "u1000" {print $4 ":" $5}')" 1000:1000 "plain bind"
}

@test "idmap: ridmap without mappings takes the container's user namespace mappings" {
	make_owned_files
	use_userns
	add_bind /idm "$TEST_DIR/owned" '["rbind", "ridmap"]'
	add_bind /plain "$TEST_DIR/owned" '["bind"]'
	set_args sh -c 'ls -ln /idm | sed "s/^/idm /"; ls -ln /plain | sed "s/^/plain /"; touch /idm/by-root'
	run berth run c1
	assert_success
	assert_equal "$(grep '^idm ' <<<"$output" | awk '$NF == "u1000" {print $4 ":" $5}')" 1000:1000 "idmapped owner"
	assert_equal "$(grep '^idm ' <<<"$output" | awk '$NF == "u0" {print $4 ":" $5}')" 0:0 "idmapped root"
	assert_equal "$(grep '^plain ' <<<"$output" | awk '$NF == "u1000" {print $4 ":" $5}')" 65534:65534 "plain bind"
	# the container's root writes through the mount as host root
	assert_equal "$(stat -c %u:%g "$TEST_DIR/owned/by-root")" 0:0
}

@test "idmap: a filesystem that cannot be idmapped, or no mapping at all, is refused naming the mount" {
	# sysfs has no idmapped mounts
	local maps='{uidMappings: [{containerID: 0, hostID: 3000, size: 10}], gidMappings: [{containerID: 0, hostID: 3000, size: 10}]}'
	add_bind /sysk /sys/kernel '["bind", "idmap"]' "$maps"
	local n=$(($(jq '.mounts | length' "$BUNDLE/config.json") - 1))
	run berth run c1
	assert_one_line_error "mounts[$n]: idmap \"/sys/kernel\" for \"/sysk\""
	assert_output_contains "cannot idmap"
	[ ! -e "$ROOT/c1" ]

	# idmap without mappings and without a user namespace (runtime-spec: an error)
	reset_config
	make_owned_files
	add_bind /idm "$TEST_DIR/owned" '["bind", "idmap"]'
	run berth run c1
	assert_one_line_error "\"idmap\" without uidMappings/gidMappings takes the container's user namespace mappings"
	# and on a tmpfs
	reset_config
	update_config '.mounts += [{destination: "/t", type: "tmpfs", source: "tmpfs", options: ["idmap"], uidMappings: [{containerID: 0, hostID: 1, size: 1}], gidMappings: [{containerID: 0, hostID: 1, size: 1}]}]'
	run berth run c1
	assert_one_line_error "idmapped mounts are supported for bind mounts only"
}

@test "memoryPolicy: set for the init and exec'd processes, as numa_maps shows" {
	local cases=(
		'{"mode":"MPOL_BIND","nodes":"0"}' bind:0
		'{"mode":"MPOL_INTERLEAVE","nodes":"0","flags":["MPOL_F_STATIC_NODES"]}' interleave=static:0
		'{"mode":"MPOL_PREFERRED_MANY","nodes":"0-3","flags":["MPOL_F_RELATIVE_NODES"]}' "prefer (many)=relative:0"
		'{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_NUMA_BALANCING"]}' bind=balancing:0
		'{"mode":"MPOL_LOCAL"}' local
	)
	local i want got
	[ -e /proc/self/numa_maps ] || skip "no NUMA in this kernel (no /proc/self/numa_maps)"
	for ((i = 0; i < ${#cases[@]}; i += 2)); do
		update_config '.linux.memoryPolicy = $mp' --argjson mp "${cases[$i]}"
		set_args sh -c 'grep -m1 heap /proc/self/numa_maps'
		run berth run c1
		assert_success
		want=${cases[$((i + 1))]}
		got=$(awk '/heap/ { $1 = ""; sub(/^ /, ""); sub(/ heap.*/, ""); print }' <<<"$output")
		assert_equal "$got" "$want" "${cases[$i]}"
	done
	if [ -d /sys/kernel/mm/mempolicy/weighted_interleave ]; then
		update_config '.linux.memoryPolicy = {mode: "MPOL_WEIGHTED_INTERLEAVE", nodes: "0"}'
		run berth run c1
		assert_success
		assert_output_contains "weighted interleave:0 heap"
	fi
	# exec'd processes get the container's policy too
	update_config '.linux.memoryPolicy = {mode: "MPOL_BIND", nodes: "0"}'
	set_args sleep 100
	berth_bg run -d c2
	run berth exec c2 sh -c 'grep -m1 heap /proc/self/numa_maps'
	assert_success
	assert_output_contains "bind:0 heap"
	berth delete -f c2
}

@test "memoryPolicy: invalid policies and nodes beyond the host are refused before anything runs" {
	local online highest
	online=$(cat /sys/devices/system/node/online 2>/dev/null || echo 0)
	highest=$(tr ',-' '\n\n' <<<"$online" | sort -n | tail -n1)
	update_config '.linux.memoryPolicy = {mode: "MPOL_BIND", nodes: ($n | tostring)}' --argjson n $((highest + 1))
	run berth run c1
	assert_one_line_error "linux.memoryPolicy.nodes: node $((highest + 1)) of \"$((highest + 1))\" is not on this host"
	[ ! -e "$ROOT/c1" ]
	update_config '.linux.memoryPolicy = {mode: "MPOL_LOCAL", nodes: "0"}'
	run berth run c1
	assert_one_line_error "linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes"
	update_config '.linux.memoryPolicy = {mode: "MPOL_BIND"}'
	run berth run c1
	assert_one_line_error "linux.memoryPolicy.nodes: required with MPOL_BIND"
	update_config '.linux.memoryPolicy = {mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}'
	run berth run c1
	assert_one_line_error "exclude each other"
	update_config '.linux.memoryPolicy = {mode: "MPOL_SOMETIMES"}'
	run berth run c1
	assert_one_line_error "linux.memoryPolicy.mode: unknown mode \"MPOL_SOMETIMES\""
}

# in_netns SCRIPT: runs SCRIPT with bash in a network namespace of its own
# (the runtime and the interfaces it moves never see the machine's); the
# namespace and its devices go with the process.
in_netns() {
	unshare -n bash -c "$1"
}

@test "netDevices: interfaces are moved in, renamed, up, with their addresses; not moved back" {
	update_config '.linux.netDevices = {"veth-a": {name: "ctr0"}, "veth-c": {}, "veth-e": {name: "tpl%d"}}'
	set_args sh -c 'ls /sys/class/net; ip -o addr show ctr0; cat /sys/class/net/ctr0/flags /sys/class/net/veth-c/flags'
	run in_netns "
		set -e
		ip link add veth-a type veth peer name veth-b
		ip link add veth-c type veth peer name veth-d
		ip link add veth-e type veth peer name veth-f
		ip addr add 10.123.0.7/24 dev veth-a
		ip addr add fd00:123::7/64 dev veth-a
		ip link set veth-a up
		BERTH_IT_TAG=$TAG $BERTH_RUNTIME --root $ROOT run c1
		echo '== after'
		ip -o link show
	"
	assert_success
	local inside=${output%%== after*} after=${output#*== after}
	for n in ctr0 veth-c tpl0 lo; do
		grep -qx "$n" <<<"$inside" || fail "$n not in the container: $output"
	done
	grep -q 'inet 10.123.0.7/24 .*scope global' <<<"$inside" || fail "IPv4 address lost: $output"
	grep -q 'inet6 fd00:123::7/64 scope global' <<<"$inside" || fail "IPv6 address lost: $output"
	# both devices up (IFF_UP is bit 0 of the flags)
	for f in $(grep -x '0x[0-9a-f]*' <<<"$inside"); do
		(($f & 1)) || fail "a moved device is not up: $output"
	done
	# runtime-spec 1.3: not moved back on delete
	! grep -qE ': (veth-a|veth-c|veth-e)[@:]' <<<"$after" || fail "a device came back: $after"
}

@test "netDevices: a missing device or a name taken inside is refused; nothing is moved" {
	update_config '.linux.netDevices = {"nope0": {}}'
	run in_netns "BERTH_IT_TAG=$TAG $BERTH_RUNTIME --root $ROOT run c1"
	assert_one_line_error "linux.netDevices.nope0: no such interface in the runtime's network namespace"
	update_config '.linux.netDevices = {"veth-a": {name: "lo"}}'
	run in_netns "
		ip link add veth-a type veth peer name veth-b
		BERTH_IT_TAG=$TAG $BERTH_RUNTIME --root $ROOT run c1 2>&1; echo rc=\$?
		ip -o link show veth-a >/dev/null && echo still-here
	"
	assert_output_contains 'linux.netDevices.veth-a: "lo" is already the name of a device in the container'
	assert_output_contains rc=1
	assert_output_contains still-here
	[ ! -e "$ROOT/c1" ]
	# no network namespace: the devices would stay on the host
	update_config '.linux.netDevices = {"veth-a": {}} | .linux.namespaces |= map(select(.type != "network"))'
	run berth run c1
	assert_one_line_error "linux.netDevices: needs a network namespace"
}

@test "execCPUAffinity: an exec'd process runs on the final CPUs, the init is left alone" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	update_config '.process.execCPUAffinity = {initial: "0", final: "1"}'
	set_args sleep 100
	berth_bg run -d c1
	run berth exec c1 sh -c 'grep Cpus_allowed_list /proc/self/status /proc/1/status'
	assert_success
	assert_output_contains "/proc/self/status:Cpus_allowed_list:	1"
	refute_output_contains "/proc/1/status:Cpus_allowed_list:	1"
	berth delete -f c1
	update_config '.process.execCPUAffinity = {final: "0-"}'
	run berth run c2
	assert_one_line_error 'process.execCPUAffinity.final: invalid CPU list "0-"'
}

@test "features and --version: runtime-spec 1.3 fields" {
	run berth features
	assert_success
	assert_equal "$(jq -r .ociVersionMax <<<"$output")" 1.3.0
	jq -e '.linux.mountExtensions.idmap.enabled == true' <<<"$output" >/dev/null || fail "idmap: $output"
	jq -e '.linux.netDevices.enabled == true' <<<"$output" >/dev/null || fail "netDevices: $output"
	for m in MPOL_DEFAULT MPOL_BIND MPOL_INTERLEAVE MPOL_WEIGHTED_INTERLEAVE MPOL_PREFERRED MPOL_PREFERRED_MANY MPOL_LOCAL; do
		jq -e --arg m "$m" '.linux.memoryPolicy.modes | index($m)' <<<"$output" >/dev/null || fail "mode $m"
	done
	for f in MPOL_F_NUMA_BALANCING MPOL_F_RELATIVE_NODES MPOL_F_STATIC_NODES; do
		jq -e --arg f "$f" '.linux.memoryPolicy.flags | index($f)' <<<"$output" >/dev/null || fail "flag $f"
	done
	for o in idmap ridmap; do
		jq -e --arg o "$o" '.mountOptions | index($o)' <<<"$output" >/dev/null || fail "mount option $o"
	done
	run berth --version
	assert_success
	assert_output_contains "spec: 1.3.0"
	# a 1.3.0 config runs
	update_config '.ociVersion = "1.3.0"'
	set_args true
	run berth run c1
	assert_success
}
