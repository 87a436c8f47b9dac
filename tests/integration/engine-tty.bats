#!/usr/bin/env bats
# `berth run -t` and berth's own terminal (issue 19, item 5): the
# container's pty already turns \n into \r\n, so berth's terminal must not
# add a second \r, whether or not stdin is a terminal; and the terminal is
# as it was afterwards. `script` gives berth a terminal.

load engine

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup btty
}

teardown() {
	engine_teardown
}

# in_pty CMD: CMD (a shell line) with a terminal as stdin and stdout;
# prints what reached the terminal, every byte as od -c shows it.
in_pty() {
	script -qec "$1" /dev/null | od -An -c | tr -s ' \n' ' '
}

berth_line() {
	echo "nsenter --net=$HOSTNS env BERTH_IT_TAG=$TAG BERTH_NETWORK_RUNDIR=$HOSTNET $BERTH_BIN --root $STORE --runroot $RUNROOT run --cgroup-parent berth-test/$TAG --rm -t bb"
}

@test "tty: run -t writes \\r\\n once, with stdin a terminal or not, stdout a terminal or a pipe" {
	# stdout a pipe, stdin not a terminal
	run bash -c "$(berth_line) echo hi </dev/null | od -An -c | tr -s ' \n' ' '"
	assert_success
	assert_output " h i \r \n "
	# stdout a terminal, stdin not one
	run in_pty "$(berth_line) echo hi </dev/null"
	assert_success
	assert_output " h i \r \n "
	# both a terminal
	run in_pty "$(berth_line) printf 'a\nb\n'"
	assert_success
	assert_output " a \r \n b \r \n "
}

@test "tty: berth's terminal is as it was after run -t" {
	run script -qec "stty -g; $(berth_line) true </dev/null; stty -g; $(berth_line) true; stty -g" /dev/null
	assert_success
	local lines_=()
	mapfile -t lines_ < <(tr -d '\r' <<<"$output" | grep -v '^$')
	[ "${#lines_[@]}" = 3 ]
	[ "${lines_[0]}" = "${lines_[1]}" ]
	[ "${lines_[0]}" = "${lines_[2]}" ]
}
