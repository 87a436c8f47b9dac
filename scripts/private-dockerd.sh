# shellcheck shell=bash
# A private dockerd for tests and benchmarks that leaves nothing on the
# host. Sourced (bash) by tests/integration/dockerd.bash and bench/api.sh.
#
#   private_dockerd_start DIR CGROUP_PARENT
#       starts Debian's /usr/sbin/dockerd with everything below DIR (made
#       if missing): --data-root DIR/data, --exec-root DIR/exec, --pidfile,
#       the socket DIR/docker.sock, its own containerd (started by dockerd
#       below the exec-root). It runs in a network namespace of its own
#       (docker0 and its iptables rules exist only there) and a mount
#       namespace of its own, where /run is a fresh tmpfs (no system
#       containerd is picked up, /run/docker is private) and /etc/docker an
#       overlay (dockerd writes its key.json there). Containers go beneath
#       CGROUP_PARENT, a path relative to the caller's own cgroup (as
#       `--cgroup-parent` of berth and docker). Sets PRIVATE_DOCKERD_PID
#       (dockerd's pid), PRIVATE_DOCKERD_SOCK and PRIVATE_DOCKERD_DIR;
#       waits until it answers. Returns 1 (its log on stderr) if it did not.
#   private_dockerd_netns CMD...
#       CMD in dockerd's network namespace (to reach published ports).
#   private_dockerd_stop
#       removes its containers, stops it by pid (TERM, then KILL after
#       20 s), kills what its containerd left (shims: by the exec-root in
#       their argv), waits until no process of it is left (the mount
#       namespace goes with the last one), removes the (empty) cgroup
#       CGROUP_PARENT in every hierarchy, then removes DIR.

PRIVATE_DOCKERD_PID=${PRIVATE_DOCKERD_PID:-}
PRIVATE_DOCKERD_SOCK=${PRIVATE_DOCKERD_SOCK:-}
PRIVATE_DOCKERD_DIR=${PRIVATE_DOCKERD_DIR:-}
PRIVATE_DOCKERD_CGROUP_PARENT=${PRIVATE_DOCKERD_CGROUP_PARENT:-}

private_dockerd_start() {
	local dir=$1 cgparent=$2 i
	[ -x /usr/sbin/dockerd ] || {
		echo "private_dockerd_start: no /usr/sbin/dockerd (Debian's docker.io)" >&2
		return 1
	}
	mkdir -p "$dir/etc-upper" "$dir/etc-work" "$dir/data" "$dir/exec"
	PRIVATE_DOCKERD_DIR=$dir
	PRIVATE_DOCKERD_CGROUP_PARENT=$cgparent
	PRIVATE_DOCKERD_SOCK="$dir/docker.sock"
	# nofile: root here may lack CAP_SYS_RESOURCE, and docker's own
	# default (1048576) would then fail in runc's setrlimit
	local nofile
	nofile=$(ulimit -Hn)
	cat >"$dir/daemon.json" <<EOF
{
  "data-root": "$dir/data",
  "exec-root": "$dir/exec",
  "pidfile": "$dir/dockerd.pid",
  "hosts": ["unix://$PRIVATE_DOCKERD_SOCK"],
  "storage-driver": "overlay2",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "cgroup-parent": "$cgparent",
  "default-ulimits": {"nofile": {"Name": "nofile", "Hard": $nofile, "Soft": $nofile}},
  "log-driver": "json-file",
  "userland-proxy": true,
  "ip6tables": false
}
EOF
	# unshare execs the shell, which execs dockerd: $! is dockerd's pid
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --net --propagation private -- /bin/sh -ec '
		ip link set lo up
		mount -t tmpfs -o mode=0755,size=64m private-dockerd-run /run
		if [ -d /etc/docker ]; then
			mount -t overlay private-dockerd-etc \
				-o "lowerdir=/etc/docker,upperdir=$1/etc-upper,workdir=$1/etc-work" /etc/docker
		fi
		exec /usr/sbin/dockerd --config-file "$1/daemon.json"
	' private-dockerd "$dir" </dev/null >"$dir/dockerd.log" 2>&1 3>&- &
	PRIVATE_DOCKERD_PID=$!
	for ((i = 0; i < 300; i++)); do
		if [ -S "$PRIVATE_DOCKERD_SOCK" ] &&
			curl -sf --unix-socket "$PRIVATE_DOCKERD_SOCK" http://dockerd/_ping >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$PRIVATE_DOCKERD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "private_dockerd_start: dockerd did not come up; its log:" >&2
	tail -30 "$dir/dockerd.log" >&2
	return 1
}

private_dockerd_netns() {
	nsenter --net="/proc/$PRIVATE_DOCKERD_PID/ns/net" "$@"
}

# _private_dockerd_pids: dockerd, its containerd and the shims (their argv
# names a path below the exec-root), containers' processes excluded
_private_dockerd_pids() {
	local f pid
	[ -n "$PRIVATE_DOCKERD_DIR" ] || return 0
	for f in $(grep -lsF -- "$PRIVATE_DOCKERD_DIR/" /proc/[0-9]*/cmdline 2>/dev/null); do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$pid" != $$ ] && [ "$pid" != "$BASHPID" ] && echo "$pid"
	done
}

# _private_dockerd_rmdir_cgroups REL: REL below our own cgroup in every
# mounted hierarchy, if empty
_private_dockerd_rmdir_cgroups() {
	local ctrls path mnt
	[ -n "$1" ] || return 0
	while IFS=: read -r _ ctrls path; do
		if [ -z "$ctrls" ]; then
			mnt=/sys/fs/cgroup/unified
			[ -f /sys/fs/cgroup/cgroup.controllers ] && mnt=/sys/fs/cgroup
		else
			mnt="/sys/fs/cgroup/${ctrls#name=}"
		fi
		[ -d "$mnt${path%/}/$1" ] && rmdir "$mnt${path%/}/$1" 2>/dev/null
	done </proc/self/cgroup
	return 0
}

private_dockerd_stop() {
	local ids i pid
	[ -n "$PRIVATE_DOCKERD_DIR" ] || return 0
	if [ -n "$PRIVATE_DOCKERD_PID" ] && kill -0 "$PRIVATE_DOCKERD_PID" 2>/dev/null; then
		ids=$(timeout -s KILL 30 /usr/bin/docker -H "unix://$PRIVATE_DOCKERD_SOCK" ps -aq 2>/dev/null)
		# shellcheck disable=SC2086
		[ -z "$ids" ] || timeout -s KILL 60 /usr/bin/docker -H "unix://$PRIVATE_DOCKERD_SOCK" rm -f $ids >/dev/null 2>&1
		kill -TERM "$PRIVATE_DOCKERD_PID" 2>/dev/null
		for ((i = 0; i < 200; i++)); do
			kill -0 "$PRIVATE_DOCKERD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$PRIVATE_DOCKERD_PID" 2>/dev/null
	fi
	[ -z "$PRIVATE_DOCKERD_PID" ] || wait "$PRIVATE_DOCKERD_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		pid=$(_private_dockerd_pids)
		[ -n "$pid" ] || break
		# shellcheck disable=SC2086
		kill -KILL $pid 2>/dev/null
		sleep 0.1
	done
	PRIVATE_DOCKERD_PID=""
	# the mount namespace went with its last process: nothing is mounted
	# below DIR any more, unless a mount propagated (none should)
	if grep -qF " $PRIVATE_DOCKERD_DIR/" /proc/self/mountinfo; then
		echo "private_dockerd_stop: mounts left below $PRIVATE_DOCKERD_DIR" >&2
		return 1
	fi
	_private_dockerd_rmdir_cgroups "$PRIVATE_DOCKERD_CGROUP_PARENT"
	rm -rf "$PRIVATE_DOCKERD_DIR"
	PRIVATE_DOCKERD_DIR=""
}
