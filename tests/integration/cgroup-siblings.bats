#!/usr/bin/env bats
# Two containers whose cgroupsPath share a parent that the first create
# made (x/a and x/b, like containerd's /k8s.io/ID): deleting one must not
# try to remove the shared parent (it waited ~1 s on EBUSY and failed).

load helpers

@test "cgroups: delete while a sibling below the same new parent runs" {
	local second="$TEST_DIR/$TAG-b"
	make_bundle "$second"
	update_config '.linux.cgroupsPath = $p' --arg p "berth-test/$CG_NAME/a"
	set_args sleep 100
	jq --arg p "berth-test/$CG_NAME/b" '.linux.cgroupsPath = $p | .process.args = ["sleep", "100"]' \
		"$second/config.json" >"$second/config.json.tmp" && mv "$second/config.json.tmp" "$second/config.json"

	run berth_bg run -d a
	assert_success
	run berth_bg run -d -b "$second" b
	assert_success

	start=$(date +%s%N)
	run berth delete --force a
	assert_success
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	[ "$elapsed_ms" -lt 900 ] || fail "delete took ${elapsed_ms} ms (waited on the shared parent)"
	assert_equal "$(status_of b)" running

	for d in $(cgroup_dirs "$CG_NAME"); do
		[ ! -e "$d/a" ] || fail "leftover $d/a"
		[ -d "$d/b" ] || fail "the sibling's cgroup $d/b is gone"
	done
	run berth delete --force b
	assert_success
	# the shared parent stays, as with runc; it must be empty now
	for d in $(cgroup_dirs "$CG_NAME"); do
		rmdir "$d" || fail "the parent $d is not empty"
	done
	assert_nothing_left a b
}
