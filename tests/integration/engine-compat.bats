#!/usr/bin/env bats
# docker's behaviour where scripts rely on it (issue 19, item 5): exit codes,
# inspect --format, rmi of an image in use, the environment and user of a
# container, --privileged, ps filters, prune confirmations, messages.

load engine

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bcmp
}

teardown() {
	engine_teardown
}

@test "compat: run exit codes 127/126 like docker, -w creates the directory" {
	run -127 brun --rm --network none bb /nonexistent
	assert_failure 127
	assert_output_contains "no such file or directory"
	run -127 brun --rm --network none bb nothere
	assert_failure 127
	run brun --rm --network none bb /bin/noexec
	assert_failure 126
	run brun --rm --network none -w /missing/sub bb pwd
	assert_success
	assert_output /missing/sub
}

@test "compat: exec exit codes 127/126, -w of a missing directory is 127" {
	brun -d --name x --network none bb sleep 100 >/dev/null
	run -127 b exec x /nonexistent
	assert_failure 127
	assert_output_contains "/nonexistent"
	run -127 b exec x nothere
	assert_failure 127
	assert_output_contains "executable file not found"
	run b exec x /bin/noexec
	assert_failure 126
	run -127 b exec -w /missing x pwd
	assert_failure 127
	assert_output_contains /missing
	# the command's own failure keeps its code
	run b exec x sh -c 'exit 1'
	assert_failure 1
	run b exec -w /tmp x pwd
	assert_success
	assert_output /tmp
}
