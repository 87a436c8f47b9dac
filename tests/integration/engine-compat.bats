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

@test "compat: inspect --format takes Go templates; OOMKilled, Path, Args, Entrypoint, resources" {
	brun -d --name web --network none -m 64m --cpus 1.5 --pids-limit 50 -l tier=front -e FOO=bar \
		--entrypoint /bin/sh bb -c 'sleep 100' >/dev/null
	run b inspect -f '{{.State.Status}} {{.Name}} {{.State.OOMKilled}}' web
	assert_success
	assert_output "running web false"
	run b inspect --format '{{.Path}} {{json .Args}} {{json .Config.Entrypoint}} {{json .Config.Cmd}}' web
	assert_output '/bin/sh ["-c","sleep 100"] ["/bin/sh"] ["-c","sleep 100"]'
	run b inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}' web
	assert_output "67108864 1500000000 50"

	[ "$(b inspect -f '{{json .Config}}' web | jq -r .Labels.tier)" = front ]
	# Config.Env is the process's: the image's PATH, HOSTNAME, the flags'
	run b inspect -f '{{range .Config.Env}}{{println .}}{{end}}' web
	assert_output_contains "PATH=/"
	assert_output_contains "HOSTNAME=$(b inspect -f '{{.Config.Hostname}}' web)"
	assert_output_contains "FOO=bar"
	[ "$(b inspect -f '{{.NetworkSettings.IPAddress}}' web)" = "<no value>" ] ||
		[ -z "$(b inspect -f '{{.NetworkSettings.IPAddress}}' web)" ]
	# one line per container
	brun -d --name db --network none bb sleep 100 >/dev/null
	run b inspect -f '{{.Name}}' web db
	assert_output "web
db"
	run b inspect -f '{{.Name' web
	assert_failure 125
	assert_output_contains "unclosed action"
	[ "$(b inspect web | jq -r '.[0].State.OOMKilled')" = false ]
}

@test "compat: State.OOMKilled after the OOM killer" {
	[ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || skip "no memory cgroup"
	run brun --name oom --network none -m 8m bb sh -c 'x=a; while :; do x="$x$x"; done'
	assert_failure 137
	[ "$(b inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' oom)" = "true 137" ]
}

@test "compat: rmi of an image a container uses is refused (exit 2) unless --force" {
	b create --name user --network none bb true >/dev/null
	run b rmi bb
	assert_failure 2
	assert_output_contains "in use by container user"
	b images -q | grep -q .
	# another name of it only untags
	b tag bb bb2
	run b rmi bb2
	assert_success
	assert_output_contains Untagged
	run b rmi --force bb
	assert_success
	assert_output_contains Deleted
	run b rm user
	assert_success
}

@test "compat: an image's VOLUME gets an anonymous volume (gone with --rm and rm -v)" {
	b import "$BATS_FILE_TMPDIR/rootfs.tar" vol --change 'CMD ["sh"]' --change 'VOLUME /data' >/dev/null
	brun --name v1 --network none vol sh -c 'echo kept > /data/f' >/dev/null
	[ "$(b inspect -f '{{(index .Mounts 0).Type}} {{(index .Mounts 0).Destination}}' v1)" = "volume /data" ]
	name=$(b inspect -f '{{(index .Mounts 0).Name}}' v1)
	run b volume ls -q
	assert_output "$name"
	[ "$(cat "$STORE/volumes/$name/_data/f")" = kept ]
	# a flag's mount at the same place wins
	run brun --rm --network none --tmpfs /data vol sh -c 'mount | grep " /data " | cut -d" " -f5'
	assert_output tmpfs
	brun --rm --network none vol true
	b rm -v v1 >/dev/null
	run b volume ls -q
	[ -z "$output" ]
}

@test "compat: -u UID unknown to the image gets gid 0; HOSTNAME and TERM (-t) in the environment" {
	run brun --rm --network none -u 4242 bb id
	assert_success
	assert_output "uid=4242 gid=0(root)"
	run brun --rm --network none --hostname box bb sh -c 'echo $HOSTNAME'
	assert_output box
	run brun --rm --network none bb sh -c 'echo ${TERM:-none}'
	assert_output none
	run brun --rm --network none -t bb sh -c 'echo $TERM' </dev/null
	assert_output_contains xterm
	id=$(brun -d --network none bb sleep 100)
	run b exec "$id" sh -c 'echo $HOSTNAME'
	assert_output "${id:0:12}"
	run b exec -t "$id" sh -c 'echo $TERM' </dev/null
	assert_output_contains xterm
	run b exec -t -e TERM=vt100 "$id" sh -c 'echo $TERM' </dev/null
	assert_output_contains vt100
}

@test "compat: --privileged and --cap-add ALL grant what berth holds; apparmor=unconfined and label=disable accepted" {
	# berth without CAP_SYS_TIME in its bounding set
	run nsenter --net="$HOSTNS" env BERTH_IT_TAG="$TAG" setpriv --bounding-set -sys_time "$BERTH_BIN" \
		--root "$STORE" --runroot "$RUNROOT" run --cgroup-parent "berth-test/$TAG" --rm --network none \
		--privileged bb grep CapEff /proc/self/status
	assert_success
	eff=$(echo "$output" | awk '{print $2}')
	(( (0x$eff >> 25) & 1 )) && fail "CAP_SYS_TIME granted: $eff"
	(( (0x$eff >> 21) & 1 )) || fail "CAP_SYS_ADMIN missing: $eff"
	run nsenter --net="$HOSTNS" env BERTH_IT_TAG="$TAG" setpriv --bounding-set -sys_time "$BERTH_BIN" \
		--root "$STORE" --runroot "$RUNROOT" run --cgroup-parent "berth-test/$TAG" --rm --network none \
		--cap-add ALL bb grep CapEff /proc/self/status
	assert_success
	run brun --rm --network none --security-opt apparmor=unconfined --security-opt label=disable \
		--security-opt label:disable bb true
	assert_success
	run brun --rm --network none --security-opt apparmor=myprofile bb true
	assert_failure 125
	assert_output_contains "AppArmor"
	run brun --rm --network none --security-opt label=type:foo_t bb true
	assert_failure 125
	assert_output_contains "SELinux"
}

@test "compat: ps --filter name= is a regular expression" {
	b create --name web1 --network none bb true >/dev/null
	b create --name web22 --network none bb true >/dev/null
	b create --name db --network none bb true >/dev/null
	run b ps -a --format json --filter 'name=^web[0-9]$'
	assert_success
	[ "$(echo "$output" | jq -r '.[].Name')" = web1 ]
	[ "$(b ps -a --format json --filter 'name=^/db$' | jq -r '.[].Name')" = db ]
	[ "$(b ps -a --format json --filter 'name=eb' | jq length)" = 2 ]
	run b ps -a --filter 'name=(['
	assert_failure 125
	assert_output_contains "name=(["
}

@test "compat: container, image and volume prune ask unless -f, and refuse without a terminal" {
	b create --name stopped --network none bb true >/dev/null
	b volume create spare >/dev/null
	run b container prune </dev/null
	assert_failure 125
	assert_output_contains "-f"
	run b volume prune --all </dev/null
	assert_failure 125
	run b image prune </dev/null
	assert_failure 125
	# nothing went
	[ "$(b ps -aq | wc -l)" = 1 ]
	[ "$(b volume ls -q)" = spare ]
	if command -v script >/dev/null; then
		# "n" on a terminal keeps them, "y" prunes
		run script -qec "$BERTH_BIN --root $STORE --runroot $RUNROOT container prune" /dev/null <<<n
		[ "$(b ps -aq | wc -l)" = 1 ]
		run script -qec "$BERTH_BIN --root $STORE --runroot $RUNROOT container prune" /dev/null <<<y
		assert_output_contains "Are you sure"
		[ "$(b ps -aq | wc -l)" = 0 ]
	fi
	b create --name stopped2 --network none bb true >/dev/null
	run b container prune -f
	assert_success
	[ "$(b ps -aq | wc -l)" = 0 ]
	run b volume prune -f --all
	assert_success
	assert_output_contains spare
}

@test "compat: messages: name limit, memory minimum, unknown flags, default network" {
	run brun --name "$(printf 'a%.0s' $(seq 129))" bb true
	assert_failure 125
	assert_output_contains "at most 128 characters"
	run brun --rm --network none -m 100 bb true
	assert_failure 125
	assert_output_contains "below the minimum"
	run b run --bogus bb true
	assert_failure 125
	assert_output_contains '"berth run --help"'
	run b ps --bogus
	assert_output_contains '"berth ps --help"'
	run b run --help
	assert_output_contains "default: berth"
	# a name of exactly 128 is fine
	name=$(printf 'b%.0s' $(seq 128))
	run b create --name "$name" --network none bb true
	assert_success
}

@test "compat: ps, network ls and images columns never run into each other; images shows the unpacked size" {
	b tag bb localhost/a-rather-long-repository-name/with-a-long-path/and-more-of-it:and-a-long-tag
	b create --name a-container-with-a-name-longer-than-the-column --network none \
		localhost/a-rather-long-repository-name/with-a-long-path/and-more-of-it:and-a-long-tag \
		sh -c 'echo a command longer than twenty characters' >/dev/null
	run b ps -a
	assert_success
	# every cell is followed by at least two spaces: the header's columns line up with the row's
	header=${lines[0]}
	row=${lines[1]}
	for col in IMAGE COMMAND CREATED STATUS PORTS NAMES; do
		prefix=${header%%"$col"*}
		[ "${row:${#prefix}-2:2}" = "  " ] || fail "column $col: \"${row:0:${#prefix}+5}\""
	done
	[[ "$row" == *"  a-container-with-a-name-longer-than-the-column" ]]
	b network create a-network-with-a-long-name-too >/dev/null
	run b network ls
	header=${lines[0]}
	prefix=${header%%DRIVER*}
	row=$(b network ls | grep a-network-with)
	[ "${row:${#prefix}-2:2}" = "  " ]
	# the size of the unpacked busybox (about 2 MB), not of the gzipped layer (about 1 MB)
	gzip -c "$BATS_FILE_TMPDIR/rootfs.tar" >"$TEST_DIR/rootfs.tar.gz"
	b import "$TEST_DIR/rootfs.tar.gz" gz >/dev/null
	run b images
	size=$(echo "$output" | awk '$1 ~ /library\/gz$/ {print $(NF-1) $NF}')
	[[ "$size" =~ ^(1\.9|2\.0)[0-9]*MB$ ]] || fail "size $size"
}

@test "compat: a monitor's process title is berth-monitor ID" {
	id=$(brun -d --network none bb sleep 100)
	pid=$(b inspect -f '{{.State.MonitorPid}}' "$id")
	run cat "/proc/$pid/cmdline"
	assert_output_contains "berth-monitor ${id:0:12}"
	[ "$(cat "/proc/$pid/comm")" = berth-monitor ]
}
