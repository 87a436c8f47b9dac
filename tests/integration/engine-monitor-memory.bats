#!/usr/bin/env bats
# A monitor's memory and a container's start do not grow with the number of
# containers already on the host (issue 19, item 4): the monitor is forked
# from `berth run` and keeps the heap it and berth ever used, so nothing on
# the way from `berth run` to the running container may read something that
# grows with the containers (records, name lists, mountinfo) into memory
# at once.

load engine

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bmem
}

teardown() {
	engine_teardown
}

mon_of() {
	b inspect "$1" | jq -r '.[0].State.MonitorPid'
}

private_dirty() {
	awk '/^Private_Dirty/ {print $2}' "/proc/$(mon_of "$1")/smaps_rollup"
}

# median of the numbers on stdin
median() {
	sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

@test "monitor memory: flat over 100 containers, with --network none and on the bridge" {
	local i count=100 t0 t1 net
	local -a ms
	# even: --network none, odd: the default bridge (c1 makes it)
	for ((i = 0; i < count; i++)); do
		net=none
		((i % 2)) && net=berth
		t0=$(date +%s%N)
		brun -d --network "$net" --name "c$i" bb sleep 1000 >/dev/null
		t1=$(date +%s%N)
		ms[i]=$(((t1 - t0) / 1000000))
	done
	local none_early none_last bridge_early bridge_last early late
	none_early=$(private_dirty c2)
	none_last=$(private_dirty "c$((count - 2))")
	bridge_early=$(private_dirty c3)
	bridge_last=$(private_dirty "c$((count - 1))")
	early=$(printf '%s\n' "${ms[@]:2:10}" | median)
	late=$(printf '%s\n' "${ms[@]:$((count - 10)):10}" | median)
	echo "# monitors' Private_Dirty: none $none_early -> $none_last kB, bridge $bridge_early -> $bridge_last kB;" \
		"run -d median ${early} ms (containers 3-12) -> ${late} ms (last 10)" >&3
	[ "$none_last" -le $((none_early * 110 / 100)) ]
	[ "$bridge_last" -le $((bridge_early * 110 / 100)) ]
	# the start times are shown, not judged: on a shared machine other
	# work moves them by more than 2x between the first and the last ten
}
