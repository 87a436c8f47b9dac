#!/usr/bin/env bats
# HOME defaults like runc's: from the container's /etc/passwd for the
# process user when the env has none, for the init and for exec.

load helpers

@test "env: HOME comes from the container's /etc/passwd when unset" {
	update_config '.process.env = ["PATH=/bin"]'
	set_args sh -c 'echo "$HOME"'
	run berth run h1
	assert_success
	assert_output /root

	update_config '.process.user.uid = 1000 | .process.user.gid = 1000'
	run berth run h2
	assert_success
	assert_output /home/user

	update_config '.process.user.uid = 4242'
	run berth run h3
	assert_success
	assert_output /

	update_config '.process.env = ["PATH=/bin", "HOME=/elsewhere"]'
	run berth run h4
	assert_success
	assert_output /elsewhere
	assert_nothing_left h1 h2 h3 h4
}

@test "env: exec gets HOME too" {
	update_config '.process.env = ["PATH=/bin"]'
	set_args sleep 100
	run berth_bg run -d h5
	assert_success
	run berth exec -u 1000:1000 h5 sh -c 'echo "$HOME"'
	assert_success
	assert_output /home/user
	run berth delete --force h5
	assert_success
	assert_nothing_left h5
}
