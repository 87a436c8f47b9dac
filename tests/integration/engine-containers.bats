#!/usr/bin/env bats
# berth's containers (issue 7): run/create/start, the per-container monitor,
# ps/logs/stop/kill/rm/inspect/wait/exec, restart policies, and that nothing
# is left behind: no mount, monitor, runtime state, cgroup or name.
#
# Every test has its own --root/--runroot under $BATS_TEST_TMPDIR and puts
# its containers' cgroups beneath its own cgroup (berth-test/TAG/<id>). The
# monitor and the containers carry BERTH_IT_TAG=TAG in their environment,
# so teardown finds any that survive.

load engine

DOCKER_DEFAULT_CAPS=00000000a80425fb

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bite
}

teardown() {
	engine_teardown
}

@test "engine: run in the foreground prints the output and exits with the container's code" {
	run brun --rm bb sh -c 'echo out; echo err >&2; exit 3'
	assert_failure 3
	assert_output_contains out
	assert_output_contains err
	run brun -d --name killed bb sleep 30
	assert_success
	b kill killed >/dev/null
	run b wait killed
	assert_output 137
	run brun --rm bb true
	assert_success
	[ -z "$output" ]
}

@test "engine: run -d, ps, logs, stop, rm" {
	run brun -d --name web bb sh -c 'echo started; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done'
	assert_success
	id=${lines[-1]}
	[[ "$id" =~ ^[0-9a-f]{64}$ ]]
	run b ps
	assert_success
	assert_output_contains "${id:0:12}"
	assert_output_contains web
	# the docker CLI's wording: "Up Less than a second", "Up 1 second", "Up 2 seconds"
	[[ "$output" =~ Up\ (Less\ than\ a\ second|1\ second|[0-9]+\ seconds)\  ]]
	[ "$(b ps -q)" = "${id:0:12}" ]
	[ "$(b ps --format json | jq -r '.[0].State')" = running ]
	for _ in $(seq 50); do b logs web | grep -q started && break; sleep 0.05; done
	run b logs web
	assert_output started
	run b logs -t web
	[[ "$output" =~ ^20[0-9-]+T[0-9:.]+Z\ started$ ]]
	run b stop -t 5 web
	assert_success
	assert_output web
	[ "$(state_of web State.Status)" = exited ]
	[ "$(state_of web State.ExitCode)" = 0 ]
	run b logs --tail 1 web
	assert_output bye
	run b ps -q
	[ -z "$output" ]
	run b rm web
	assert_success
	run b ps -aq
	[ -z "$output" ]
}

@test "engine: --rm leaves nothing behind" {
	run brun --rm --name gone bb sh -c 'echo hi > /written; echo hi'
	assert_success
	assert_output hi
	# out of every listing, its name free, its rootfs unmounted at once
	run b ps -aq
	assert_success
	[ -z "$output" ]
	[ -z "$(ls -A "$STORE/containers/names")" ]
	[ -z "$(grep -F "$STORE/containers" /proc/self/mountinfo)" ]
	# its files, runtime state and cgroup go right after
	wait_removed
	[ "$(ls -A "$STORE/containers")" = names ]
	[ -z "$(ls "$RUNROOT/runtime")" ]
	for d in $(cgroup_dirs "$TAG"); do
		[ -z "$(find "$d" -mindepth 1 -type d)" ]
	done
	run brun --rm --name gone bb true
	assert_success
	wait_removed
}

@test "engine: a --rm container whose monitor died while removing it goes with the next listing" {
	local id mon pid state i
	# --network none: the monitor tears the network down before it
	# renames the record
	brun -d --network none --name orphan bb sleep 1000 >/dev/null
	id=$(state_of orphan Id)
	mon=$(state_of orphan State.MonitorPid)
	pid=$(state_of orphan State.Pid)
	# what a --rm monitor killed between its report to berth and its
	# cleanup leaves (record_retire): the record renamed, the name gone;
	# here also a live container and a mounted rootfs
	kill -9 "$mon"
	rm "$STORE/containers/names/orphan"
	mv "$STORE/containers/$id" "$STORE/containers/.removing-$id"
	run b ps -aq
	assert_success
	[ -z "$output" ]
	# left alone while its remover may still be at work
	[ -d "$STORE/containers/.removing-$id" ]
	[ -d "$RUNROOT/runtime/$id" ]
	sleep 10.2
	run b ps -a
	assert_success
	[ ! -e "$STORE/containers/.removing-$id" ]
	[ ! -e "$RUNROOT/runtime/$id" ]
	[ -z "$(grep -F "$STORE/containers" /proc/self/mountinfo)" ]
	# killed by the runtime's delete (a zombie until something reaps it)
	for ((i = 0; i < 50; i++)); do
		state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || true
		[ -z "$state" ] || [ "$state" = Z ] || {
			sleep 0.1
			continue
		}
		break
	done
	[ -z "$state" ] || [ "$state" = Z ]
}

@test "engine: the container's process gets no blocked, ignored or caught signal and no fd but its stdio" {
	# create may run in berth's monitor, which blocks signals (it reads them
	# from a signalfd), ignores SIGPIPE and holds fds of its own: none of
	# that may reach the container (fd 3 is ls's own directory)
	local want
	want=$(printf 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n0\n1\n2\n3')
	run brun --rm bb sh -c 'grep -E "^Sig(Blk|Ign|Cgt):" /proc/self/status; exec ls /proc/self/fd'
	assert_success
	assert_output "$want"
	# SIGPIPE at its default: yes ends when head is done
	run timeout 10 env BERTH_IT_TAG="$TAG" nsenter --net="$HOSTNS" "$BERTH_BIN" --root "$STORE" --runroot "$RUNROOT" run --rm --cgroup-parent "berth-test/$TAG" bb sh -c 'yes | head -1'
	assert_success
	assert_output y
	run brun --rm -t bb sh -c 'grep -E "^Sig(Blk|Ign|Cgt):" /proc/self/status; exec ls -1 /proc/self/fd' </dev/null
	assert_success
	[ "$(printf '%s' "$output" | tr -d '\r')" = "$want" ]
}

@test "engine: a name in use is refused, and the refused container leaves nothing" {
	run brun -d --name same bb sleep 30
	assert_success
	id=${lines[-1]}
	run brun -d --name same bb sleep 30
	assert_failure 125
	assert_output "berth: name \"same\" is already in use by container ${id:0:12}"
	[ "$(ls "$STORE/containers" | grep -vc names)" = 1 ]
	run b rm same
	assert_failure 125
	assert_output_contains "is running"
	b rm -f same
}

@test "engine: env, env-file, workdir, user, entrypoint, hostname" {
	echo 'FROM_FILE=yes' >"$TEST_DIR/env"
	export HOSTVAR=fromhost
	run brun --rm -e A=1 -e HOSTVAR --env-file "$TEST_DIR/env" -w /tmp -u app --hostname box bb \
		sh -c 'echo $A $HOSTVAR $FROM_FILE; pwd; id -u; id -g; hostname'
	assert_success
	assert_output "$(printf '1 fromhost yes\n/tmp\n1000\n1000\nbox')"
	run brun --rm --entrypoint echo bb one two
	assert_success
	assert_output "one two"
	run brun --rm -u 0:0 bb sh -c 'hostname | wc -c'
	assert_output 13
}

@test "engine: --read-only, bind mounts ro and rw, --tmpfs" {
	mkdir -p "$TEST_DIR/host"
	echo data >"$TEST_DIR/host/file"
	run brun --rm --read-only bb touch /x
	assert_failure
	assert_output_contains "Read-only file system"
	run brun --rm --read-only --tmpfs /scratch bb sh -c 'touch /scratch/x && echo ok'
	assert_output ok
	run brun --rm -v "$TEST_DIR/host:/h:ro" bb sh -c 'cat /h/file; touch /h/new'
	assert_failure
	assert_output_contains data
	assert_output_contains "Read-only file system"
	run brun --rm -v "$TEST_DIR/host:/h" bb sh -c 'echo w >/h/new'
	assert_success
	[ "$(cat "$TEST_DIR/host/new")" = w ]
}

@test "engine: --init runs berth-init as PID 1: it reaps zombies, forwards signals, passes the exit code" {
	# the orphaned sleeps exit under PID 1; then a scan of /proc for zombies
	run brun --rm --init bb sh -c '
		head -c 9 /proc/1/cmdline; echo
		/dev/init --help 2>&1 | head -n 1
		touch /dev/init 2>/dev/null && echo writable
		(sleep 0.1 &); (sleep 0.1 &)
		sleep 0.5
		for f in /proc/[0-9]*/stat; do
			read -r l <$f
			case "$l" in *") Z "*) echo "zombie: $l";; esac
		done
		exit 7'
	assert_failure 7
	assert_output "$(printf '/dev/init\nusage: berth-init [--] COMMAND [ARG...] | berth-init --pause')"
	run -127 brun --rm --init bb no-such-command
	run brun -d --init --name initd bb sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done'
	assert_success
	[ "$(state_of initd HostConfig.Init)" = true ]
	[ "$(b inspect initd | jq -c '.[0].Config.Cmd')" = '["sh","-c","trap \"exit 3\" TERM; while :; do sleep 0.1; done"]' ]
	sleep 0.3
	run b stop -t 5 initd
	assert_success
	[ "$(state_of initd State.ExitCode)" = 3 ]
}

@test "engine: docker's default capabilities, --cap-drop ALL, --cap-add" {
	run brun --rm bb sh -c 'grep CapEff /proc/self/status'
	assert_success
	assert_output "CapEff:	$DOCKER_DEFAULT_CAPS"
	run brun --rm --cap-drop ALL bb sh -c 'grep CapEff /proc/self/status'
	assert_output "CapEff:	0000000000000000"
	run brun --rm --cap-drop ALL --cap-add net_admin bb sh -c 'grep CapEff /proc/self/status'
	assert_output "CapEff:	0000000000001000"
	run brun --rm bb sh -c 'grep Seccomp: /proc/self/status; grep NoNewPrivs /proc/self/status'
	assert_output_contains "Seccomp:	2"
}

@test "engine: --network none has only lo; --network host shares the host's" {
	run brun --rm --network none bb sh -c 'ls /sys/class/net'
	assert_success
	assert_output lo
	# the "host" is the test's network namespace (engine.bash)
	run brun --rm --network host bb sh -c 'ls /sys/class/net | wc -l'
	[ "$output" -eq "$(in_host ip -o link | wc -l)" ]
}

@test "engine: restart on-failure:2 restarts twice, then stays exited" {
	run brun -d --name flaky --restart on-failure:2 bb sh -c 'echo try; exit 1'
	assert_success
	wait_state flaky RestartCount 2
	wait_state flaky State.Status exited
	sleep 0.5
	[ "$(state_of flaky RestartCount)" = 2 ]
	[ "$(state_of flaky State.ExitCode)" = 1 ]
	[ "$(b logs flaky | grep -c try)" = 3 ]
}

@test "engine: restart always restarts after an exit; stop prevents it" {
	run brun -d --name always --restart always bb sh -c 'sleep 0.2'
	assert_success
	wait_state always RestartCount 1
	run b stop -t 1 always
	assert_success
	[ "$(state_of always State.Status)" = exited ]
	n=$(state_of always RestartCount)
	sleep 0.6
	[ "$(state_of always RestartCount)" = "$n" ]
	[ "$(state_of always State.Status)" = exited ]
}

@test "engine: kill -9 of the monitor: ps tells the truth and rm cleans up" {
	run brun -d --name orphan bb sleep 60
	assert_success
	mon=$(state_of orphan State.MonitorPid)
	[ "$mon" -gt 0 ]
	kill -9 "$mon"
	for _ in $(seq 50); do [ -d "/proc/$mon" ] || break; sleep 0.02; done
	# the container still runs, unsupervised: ps says so
	run b ps
	assert_output_contains "(no monitor)"
	[ "$(state_of orphan State.Unsupervised)" = true ]
	# once it is killed, it is exited, never "running"
	b kill orphan
	wait_state orphan State.Status exited
	run b ps -a
	assert_output_contains Exited
	run b rm orphan
	assert_success
	[ -z "$(ls "$RUNROOT/runtime")" ]
}

@test "engine: exec runs in the container with its code, env, user and cwd" {
	run brun -d --name ex bb sleep 60
	assert_success
	run b exec ex sh -c 'echo $$ inside; exit 4'
	assert_failure 4
	assert_output_contains inside
	run b exec -e X=y -u 1000 -w /tmp ex sh -c 'echo $X $(id -u) $(pwd)'
	assert_output "y 1000 /tmp"
	run -127 b exec ex nosuch
	assert_failure 127
	run b stop -t 0 ex
	run b exec ex true
	assert_failure 125
	assert_output_contains "is not running"
}

@test "engine: logs -f follows until the container stops" {
	run brun -d --name chatty bb sh -c 'for i in 1 2 3 4 5 6; do echo line$i; sleep 0.2; done'
	assert_success
	run timeout 10 "$BERTH_BIN" --root "$STORE" --runroot "$RUNROOT" logs -f chatty
	assert_success
	assert_output "$(printf 'line1\nline2\nline3\nline4\nline5\nline6')"
}

@test "engine: wait, inspect and kill -s" {
	run brun -d --name w bb sh -c 'trap "exit 9" USR1; while :; do sleep 0.1; done'
	assert_success
	[ "$(state_of w Config.Image)" = bb ]
	[ "$(state_of w State.Running)" = true ]
	[ "$(state_of w LogPath)" = "$STORE/containers/$(state_of w Id)/ctr.log" ]
	sleep 0.2
	b kill -s USR1 w
	run b wait w
	assert_success
	assert_output 9
	[ "$(state_of w State.FinishedAt)" != "0001-01-01T00:00:00Z" ]
}

@test "engine: create, then start, then restart" {
	run b create --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG --name later bb sh -c 'echo hi; sleep 30'
	assert_success
	[ "$(state_of later State.Status)" = created ]
	run b start later
	assert_success
	wait_state later State.Status running
	pid=$(state_of later State.Pid)
	run b restart -t 0 later
	assert_success
	wait_state later State.Status running
	[ "$(state_of later State.Pid)" != "$pid" ]
	b rm -f later
}

@test "engine: --log-opt max-size rotates the log, keeping one old file" {
	run brun --name big --log-opt max-size=2k bb sh -c 'for i in $(seq 200); do echo line$i; done'
	assert_success
	dir="$STORE/containers/$(state_of big Id)"
	[ -f "$dir/ctr.log.1" ]
	[ "$(stat -c %s "$dir/ctr.log")" -le 2048 ]
	run b logs --tail 1 big
	assert_output line200
}

@test "engine: bad input fails with one line and exit 125, 126 or 127, leaving nothing" {
	run brun --rm nosuch/image:1 true
	assert_failure 125
	[ "${#lines[@]}" -eq 1 ]
	assert_output_contains "nosuch/image:1"
	run brun --restart sometimes bb true
	assert_failure 125
	assert_output_contains "--restart"
	run brun --memory lots bb true
	assert_failure 125
	run brun --cap-add CAP_FOO bb true
	assert_failure 125
	assert_output_contains CAP_FOO
	run brun -v ./relative:/x bb true
	assert_failure 125
	assert_output_contains "not a valid volume name"
	run brun -v vol:relative bb true
	assert_failure 125
	run brun --mount type=tmpfs,dst=/x bb true
	assert_failure 125
	run brun --no-such-flag bb true
	assert_failure 125
	run brun --name 'bad/name' bb true
	assert_failure 125
	run -127 brun bb no-such-command
	assert_failure 127
	assert_output_contains no-such-command
	run brun bb /bin/noexec
	assert_failure 126
	run b logs nosuch
	assert_failure 125
	assert_output "berth: no such container: nosuch"
	[ -z "$(ls -A "$STORE/containers/names")" ]
	[ "$(ls -A "$STORE/containers")" = names ]
}

# read_count: the counter file a container rewrites (a read can fall between
# the shell's truncate and its write: retry)
read_count() {
	local v i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		v=$(cat "$STORE"/containers/*/bundle/upper/tmp/count 2>/dev/null)
		[ -n "$v" ] && { echo "$v"; return 0; }
		sleep 0.01
	done
	return 1
}

@test "engine: pause freezes the container, unpause thaws it; ps and inspect say so" {
	# written aside and renamed: frozen between a truncate and its write,
	# the file would stay empty
	brun -d --name p1 bb sh -c 'i=0; while true; do i=$((i+1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/count; sleep 0.05; done' >/dev/null
	wait_state p1 State.Status running
	sleep 0.3
	run b pause p1
	assert_success
	[ "$(b inspect p1 | jq -r '.[0].State.Status')" = paused ]
	run b ps
	assert_output_contains "Paused"
	c1=$(read_count)
	sleep 0.5
	c2=$(read_count)
	[ "$c1" = "$c2" ]
	run b pause p1
	assert_failure 125
	assert_output_contains "is paused, not running"
	run b unpause p1
	assert_success
	[ "$(b inspect p1 | jq -r '.[0].State.Status')" = running ]
	sleep 0.5
	c3=$(read_count)
	[ "$c3" -gt "$c2" ]
	# a paused container can still be removed by force
	b pause p1 >/dev/null
	run b rm -f p1
	assert_success
}

@test "engine: exec -u takes names from the container's /etc/passwd and /etc/group" {
	brun -d --name e1 bb sleep 100 >/dev/null
	wait_state e1 State.Status running
	run b exec -u app e1 id
	assert_success
	assert_output_contains "uid=1000(app) gid=1000(app)"
	run b exec -u app:root e1 id -g
	assert_output "0"
	run b exec -u 1000 e1 id -u
	assert_output "1000"
	run b exec -u nobody-here e1 id
	assert_failure 125
	assert_output_contains 'user "nobody-here": not in the image'
}

@test "engine: ps --filter by status, name, id, exited, ancestor and health" {
	brun -d --name fa-run bb sleep 100 >/dev/null
	brun --name fa-ok bb true
	run brun --name fa-bad bb sh -c 'exit 3'
	wait_state fa-run State.Status running
	run b ps -q --filter status=running
	assert_output "$(b inspect fa-run | jq -r '.[0].Id[:12]')"
	run b ps --format json --filter status=exited
	[ "$(echo "$output" | jq -r '[.[].Name] | sort | join(",")')" = "fa-bad,fa-ok" ]
	run b ps --format json --filter exited=3
	[ "$(echo "$output" | jq -r '.[].Name')" = fa-bad ]
	# two of one key: either; different keys: both
	run b ps --format json -a --filter name=fa-ok --filter name=fa-bad
	[ "$(echo "$output" | jq 'length')" = 2 ]
	run b ps --format json -a --filter name=fa- --filter exited=0
	[ "$(echo "$output" | jq -r '.[].Name')" = fa-ok ]
	id=$(b inspect fa-bad | jq -r '.[0].Id')
	run b ps -aq --no-trunc --filter "id=${id:0:8}"
	assert_output "$id"
	run b ps -aq --filter ancestor=bb
	[ "$(echo "$output" | wc -l)" = 3 ]
	run b ps -aq --filter health=healthy
	assert_output ""
	run b ps --filter colour=red
	assert_failure 125
	assert_output_contains "KEY one of status"
}

@test "engine: --label over the image's labels, in inspect and ps --filter label=" {
	b import "$BATS_FILE_TMPDIR/rootfs.tar" labelled --change 'CMD ["sh"]' --change 'LABEL tier=base team=core' >/dev/null
	brun -d --name l1 -l tier=web --label owner labelled sleep 100 >/dev/null
	brun -d --name l2 labelled sleep 100 >/dev/null
	run b inspect l1
	[ "$(echo "$output" | jq -r '.[0].Config.Labels.tier')" = web ]
	[ "$(echo "$output" | jq -r '.[0].Config.Labels.team')" = core ]
	[ "$(echo "$output" | jq -r '.[0].Config.Labels.owner')" = "" ]
	run b ps --format json --filter label=tier=web
	[ "$(echo "$output" | jq -r '.[].Name')" = l1 ]
	run b ps --format json --filter label=team
	[ "$(echo "$output" | jq 'length')" = 2 ]
	run b ps --format json --filter label=owner
	[ "$(echo "$output" | jq -r '.[].Name')" = l1 ]
}

@test "engine: a relative --root and --runroot are taken from the current directory" {
	local rel
	# the same store and run root, named relative to their parent
	cd "$TEST_DIR"
	rel() {
		nsenter --net="$HOSTNS" env BERTH_IT_TAG="$TAG" BERTH_NETWORK_RUNDIR="$HOSTNET" "$BERTH_BIN" \
			--root store --runroot run "$@"
	}
	run rel run --rm --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG bb echo relative
	assert_success
	assert_output relative
	run rel run -d --name relc --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG bb sleep 100
	assert_success
	# found again from elsewhere, by the absolute paths
	cd /
	run b exec relc true
	assert_success
	run b rm -f relc
	assert_success
}

@test "engine: --ipc container: and --pid container: join a running container's namespaces and /dev/shm" {
	brun -d --name base --ipc shareable bb sh -c 'echo from-base >/dev/shm/f; sleep 30' >/dev/null
	for _ in $(seq 50); do [ "$(state_of base State.Status)" = running ] && break; sleep 0.05; done
	base_ipc=$(b exec base readlink /proc/self/ns/ipc)
	base_pid=$(b exec base readlink /proc/self/ns/pid)
	# the same IPC namespace and /dev/shm, both ways
	run brun --rm --ipc container:base bb sh -c 'readlink /proc/self/ns/ipc; cat /dev/shm/f; echo from-joiner >/dev/shm/g'
	assert_success
	assert_output "$base_ipc
from-base"
	run b exec base cat /dev/shm/g
	assert_output from-joiner
	# a private one is not
	run brun --rm bb sh -c 'readlink /proc/self/ns/ipc; ls /dev/shm'
	assert_success
	[ "${lines[0]}" != "$base_ipc" ]
	[ "${#lines[@]}" = 1 ]
	# the PID namespace: base's sleep is seen, its init is pid 1 there
	run brun --rm --pid container:base bb sh -c 'readlink /proc/self/ns/pid; ps -o pid,args'
	assert_success
	[ "${lines[0]}" = "$base_pid" ]
	assert_output_contains "sleep 30"
	# joining one that is not shareable, or not running, or bad words: refused before anything is made
	brun -d --name plain bb sleep 30 >/dev/null
	run brun --rm --ipc container:plain bb true
	assert_failure
	assert_output_contains "--ipc container:plain: the container's IPC namespace is not shareable"
	run brun --rm --ipc bogus bb true
	assert_failure
	assert_output_contains '--ipc "bogus": expected private, shareable, host or container:ID'
	run brun --rm --pid container:nosuch bb true
	assert_failure
	assert_output_contains "no such container: nosuch"
	b rm -f plain >/dev/null
	# the shareable /dev/shm is unmounted with its container
	shm="$STORE/containers/$(b inspect base | jq -r '.[0].Id')/shm"
	grep -q " $shm " /proc/self/mountinfo
	b rm -f base >/dev/null
	! grep -q " $shm " /proc/self/mountinfo
}
