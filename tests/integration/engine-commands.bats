#!/usr/bin/env bats
# Commands a docker user reaches for (issue 19, item 6): port, rename, info,
# version, system df/prune, network prune, update, events, volume create
# --opt, --add-host NAME:host-gateway.

load engine

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bcmd
}

teardown() {
	engine_teardown
}

@test "commands: version and info, plain and with --format" {
	run b version
	assert_success
	assert_output_contains "Version:"
	run b version -f '{{.Client.Version}}'
	assert_success
	[[ "$output" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]
	[ "$(b version --format json | jq -r .Client.Os)" = linux ]
	brun -d --name up --network none bb sleep 100 >/dev/null
	b create --name down --network none bb true >/dev/null
	run b info -f '{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}}'
	assert_output "2 1 1 1"
	[ "$(b info --format json | jq -r .DockerRootDir)" = "$STORE" ]
	run b info
	assert_output_contains "Storage Driver: overlay"
	assert_output_contains "Running: 1"
	run b system info -f '{{.Driver}}'
	assert_output overlay
}

@test "commands: port lists the published ports" {
	brun -d --name web -p 127.0.0.1:18080:80 -p 19090:90/udp bb sleep 100 >/dev/null
	run b port web
	assert_success
	assert_output "80/tcp -> 127.0.0.1:18080
90/udp -> 0.0.0.0:19090"
	run b port web 80
	assert_output "127.0.0.1:18080"
	run b port web 90/udp
	assert_output "0.0.0.0:19090"
	run b port web 81
	assert_failure 125
	assert_output_contains "no public port"
}

@test "commands: rename frees the old name and refuses a taken one" {
	id=$(brun -d --name old --network none bb sleep 100)
	b create --name other --network none bb true >/dev/null
	run b rename old other
	assert_failure 125
	assert_output_contains "already in use"
	run b rename old new
	assert_success
	[ "$(b inspect -f '{{.Name}}' new)" = new ]
	[ "$(b inspect -f '{{.Id}}' new)" = "$id" ]
	run b inspect old
	assert_failure 125
	# the old name is free again
	b create --name old --network none bb true >/dev/null
	run b rename new "bad/name"
	assert_failure 125
	assert_output_contains "invalid container name"
	b stop -t 1 new >/dev/null
}

@test "commands: system df counts, system prune and network prune remove what nothing uses" {
	brun -d --name keep --network none bb sleep 100 >/dev/null
	b create --name gone --network none bb true >/dev/null
	b network create unused-net >/dev/null
	b network create used-net >/dev/null
	b create --name on-net --network used-net bb true >/dev/null
	run b system df
	assert_success
	assert_output_contains "Images"
	[ "$(b system df --format json | jq -r 'select(.Type == "Containers") | "\(.TotalCount) \(.Active)"')" = "3 1" ]
	run b network prune </dev/null
	assert_failure 125
	run b network prune -f
	assert_success
	assert_output_contains unused-net
	run b network ls -q
	assert_output_contains used-net
	! b network ls -q | grep -q unused-net
	b rm on-net >/dev/null
	run b system prune </dev/null
	assert_failure 125
	[ "$(b ps -aq | wc -l)" = 2 ]
	run b system prune -f
	assert_success
	[ "$(b ps -aq)" = "$(b ps -q)" ]
	! b network ls -q | grep -q used-net
	# the image the running container uses stays
	b images -q | grep -q .
}

# the file F of the container's cgroup in the memory/pids hierarchy (v1) or
# the unified one (v2)
cg_file() {
	local pid=$1 ctrl=$2 file=$3 path
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		path=$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")
		cat "/sys/fs/cgroup$path/$file"
	else
		path=$(awk -F: -v c="$ctrl" '$2 ~ "(^|,)" c "(,|$)" {print $3}' "/proc/$pid/cgroup")
		cat "/sys/fs/cgroup/$ctrl$path/$file"
	fi
}

@test "commands: update changes the limits of a running container, kept for the next start" {
	brun -d --name u -m 64m --network none bb sleep 300 >/dev/null
	run b update --memory 128m --pids-limit 77 --cpus 0.5 u
	assert_success
	assert_output u
	pid=$(b inspect -f '{{.State.Pid}}' u)
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		[ "$(cg_file "$pid" memory memory.max)" = 134217728 ]
	else
		[ "$(cg_file "$pid" memory memory.limit_in_bytes)" = 134217728 ]
	fi
	[ "$(cg_file "$pid" pids pids.max)" = 77 ]
	run b inspect -f '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}' u
	assert_output "134217728 77 500000000"
	b stop -t 1 u >/dev/null
	b start u >/dev/null
	pid=$(b inspect -f '{{.State.Pid}}' u)
	[ "$(cg_file "$pid" pids pids.max)" = 77 ]
	run b update u
	assert_failure 125
	assert_output_contains "nothing to change"
	run b update -m 100 u
	assert_failure 125
	assert_output_contains minimum
}

@test "commands: events from the records: create, start, die, kill, stop, rename, destroy; --since/--until/--filter" {
	t0=$(date +%s.%N)
	run brun --name e1 --network none -l team=a bb sh -c 'exit 3'
	assert_failure 3
	brun -d --name e2 --network none bb sleep 100 >/dev/null
	b pause e2 >/dev/null
	b unpause e2 >/dev/null
	b stop -t 1 e2 >/dev/null
	b rename e2 e3
	b rm e1 e3 >/dev/null
	t1=$(date +%s.%N)
	run b events --since "$t0" --until "$t1" --format '{{.Action}} {{.Actor.Attributes.name}}'
	assert_success
	assert_output "create e1
start e1
die e1
create e2
start e2
pause e2
unpause e2
kill e2
kill e2
die e2
stop e2
rename e3
destroy e1
destroy e3"
	run b events --since "$t0" --until "$t1" -f event=die --format '{{.Actor.Attributes.name}}={{.Actor.Attributes.exitCode}}'
	assert_output "e1=3
e2=137"
	run b events --since "$t0" --until "$t1" -f container=e1 -f label=team=a --format json
	[ "${#lines[@]}" = 4 ]
	[ "$(echo "${lines[0]}" | jq -r .Type)" = container ]
	run b events --since "$t0" --until "$t1"
	assert_output_contains "container die"
	assert_output_contains "exitCode=3"
	# nothing before --since
	[ -z "$(b events --since "$t1" --until "$(date +%s.%N)")" ]
	run b events --filter bogus=1 --until 1s
	assert_failure 125
	# health changes are events too
	t2=$(date +%s.%N)
	brun -d --name hc --network none --health-cmd true --health-interval 200ms bb sleep 100 >/dev/null
	wait_state hc State.Health.Status healthy
	run b events --since "$t2" --until "$(date +%s.%N)" -f event=health_status --format '{{.Action}}'
	assert_output "health_status: healthy"
}

@test "commands: events follows new events until --until" {
	until=$(($(date +%s) + 3))
	b events --since 0 --until "$until" --format '{{.Action}} {{.Actor.Attributes.name}}' >"$TEST_DIR/ev" &
	pid=$!
	sleep 1
	b create --name late --network none bb true >/dev/null
	wait "$pid"
	grep -qx "create late" "$TEST_DIR/ev"
	b rm late >/dev/null
}

@test "commands: volume create --opt type=tmpfs and type=none,o=bind,device=DIR" {
	mkdir -p "$TEST_DIR/dir"
	echo on-host >"$TEST_DIR/dir/f"
	b volume create --opt type=tmpfs --opt o=size=1m tv >/dev/null
	b volume create --opt type=none --opt o=bind --opt device="$TEST_DIR/dir" bv >/dev/null
	[ "$(b volume inspect tv | jq -r '.[0].Options.type')" = tmpfs ]
	run brun --rm --network none -v tv:/t -v bv:/b bb sh -c \
		'grep " /t " /proc/mounts | cut -d" " -f3,4; cat /b/f; echo from-ctr >/b/g'
	assert_success
	assert_output_contains "tmpfs rw,nosuid,nodev"
	assert_output_contains "size=1024k"
	assert_output_contains on-host
	[ "$(cat "$TEST_DIR/dir/g")" = from-ctr ]
	run b volume create --opt type=nfs x
	assert_failure 125
	run b volume create --opt type=none --opt o=bind --opt device=/no/such/dir y
	assert_failure 125
	run b volume ls -q
	assert_output "bv
tv"
	b volume rm tv bv >/dev/null
	# the bound directory is left alone
	[ "$(cat "$TEST_DIR/dir/f")" = on-host ]
}

@test "commands: --add-host NAME:host-gateway and --network-alias" {
	run brun --rm --add-host gw:host-gateway bb sh -c 'grep -w gw /etc/hosts | cut -f1; ip route | grep default'
	assert_success
	gw=${lines[0]}
	[[ "${lines[1]}" == "default via $gw "* ]]
	run brun --rm --network host --add-host gw:host-gateway bb grep -w gw /etc/hosts
	assert_output_contains 127.0.0.1
	run brun --rm --network none --add-host gw:host-gateway bb true
	assert_failure 125
	assert_output_contains host-gateway
	b network create aliasnet >/dev/null
	brun -d --name srv --network aliasnet --network-alias db --network-alias cache.local bb sleep 100 >/dev/null
	run brun --rm --network aliasnet bb sh -c 'ping -c1 -W2 db >/dev/null && ping -c1 -W2 cache.local >/dev/null && echo reached'
	assert_output reached
	run brun --rm --network none --network-alias x bb true
	assert_failure 125
	b rm -f srv >/dev/null
}

@test "commands: attach passes input and output, exits with the container's code, detaches on the keys" {
	brun -d -i --name a1 --network none bb sh -c 'read x; echo got $x; exit 4' >/dev/null
	sleep 0.3
	run b attach a1 <<<abc
	assert_failure 4
	assert_output "got abc"
	brun -d -i --name a2 --network none bb cat >/dev/null
	run bash -c "(printf 'one\n'; sleep 1; printf '\x10\x11') | timeout 10 $BERTH_BIN --root $STORE --runroot $RUNROOT attach a2"
	assert_success
	assert_output_contains one
	assert_output_contains detached
	[ "$(b inspect -f '{{.State.Status}}' a2)" = running ]
	# other keys
	run bash -c "(sleep 0.5; printf 'x') | timeout 10 $BERTH_BIN --root $STORE --runroot $RUNROOT attach --detach-keys x a2"
	assert_success
	run b attach --detach-keys ctrl-1,x a2
	assert_failure 125
	if command -v script >/dev/null; then
		brun -d -it --name a3 --network none bb sh >/dev/null
		sleep 0.3
		run bash -c "(sleep 0.5; printf 'echo hi-\$((6*7))\r'; sleep 0.5; printf 'stty size\r'; sleep 0.5; printf '\x10\x11') |
			timeout 10 script -qec 'stty cols 99 rows 33; $BERTH_BIN --root $STORE --runroot $RUNROOT attach a3' /dev/null"
		assert_output_contains hi-42
		assert_output_contains "33 99"
	fi
	b create --name a4 --network none bb true >/dev/null
	run b attach a4
	assert_failure 125
	assert_output_contains "not running"
}
