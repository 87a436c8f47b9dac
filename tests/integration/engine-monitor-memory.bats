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

# Private_Dirty of the monitor's [stack] mapping, in kB
stack_dirty() {
	awk '/ \[stack\]$/ {s = 1; next} /^[0-9a-f]+-[0-9a-f]+ / {s = 0} s && /^Private_Dirty/ {print $2}' \
		"/proc/$(mon_of "$1")/smaps"
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
	local none_stack bridge_stack
	none_stack=$(stack_dirty "c$((count - 2))")
	bridge_stack=$(stack_dirty "c$((count - 1))")
	echo "# monitors' Private_Dirty: none $none_early -> $none_last kB, bridge $bridge_early -> $bridge_last kB" \
		"(stack $none_stack and $bridge_stack kB); run -d median ${early} ms (containers 3-12) -> ${late} ms (last 10)" >&3
	[ "$none_last" -le $((none_early * 110 / 100)) ]
	[ "$bridge_last" -le $((bridge_early * 110 / 100)) ]
	# a ceiling with a margin over what was measured (272 and 304 kB on
	# Debian's glibc, docs/benchmarks.md): the monitor is forked from
	# `berth run` and keeps what it inherits, so a new allocation or a
	# bigger frame on that path shows here
	[ "$none_last" -le 320 ]
	[ "$bridge_last" -le 352 ]
	# the deep frames of the start (the in-process create) are handed
	# back once the container runs (28 kB measured, 40-44 before)
	[ "$none_stack" -le 34 ]
	[ "$bridge_stack" -le 34 ]
	# the start times are shown, not judged: on a shared machine other
	# work moves them by more than 2x between the first and the last ten
}
