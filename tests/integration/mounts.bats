#!/usr/bin/env bats
# Mounts and the root filesystem: bind/rbind with options, tmpfs, the
# read-only root, --no-pivot, propagation, /dev and its nodes.

load helpers

# add_mount DEST TYPE SOURCE OPTION...
add_mount() {
	local dest="$1" type="$2" src="$3" opts
	shift 3
	opts=$(json_array "$@")
	update_config '.mounts += [{destination: $d, type: $t, source: $s, options: $o}]' \
		--arg d "$dest" --arg t "$type" --arg s "$src" --argjson o "$opts"
}

# mount_opts DEST: the options of DEST in the container's /proc/mounts
# (printed by the container as "MOUNTS" lines in $output).
mount_line() {
	awk -v d="$1" '$2 == d' <<<"$output" | tail -n1
}

has_opt() {
	[[ ",$(awk '{print $4}' <<<"$1")," == *",$2,"* ]]
}

@test "mounts: bind with ro, nosuid, nodev, noexec shows in /proc/mounts and is enforced" {
	mkdir "$TEST_DIR/src"
	echo data >"$TEST_DIR/src/file"
	printf '#!/bin/sh\necho ran\n' >"$TEST_DIR/src/script"
	chmod +x "$TEST_DIR/src/script"
	add_mount /mnt/ro bind "$TEST_DIR/src" bind ro nosuid nodev noexec
	add_mount /mnt/rw bind "$TEST_DIR/src" bind
	set_args sh -c 'cat /proc/mounts; cat /mnt/ro/file; touch /mnt/ro/new 2>/dev/null && echo ro-writable; /mnt/ro/script 2>/dev/null || echo noexec-ok; /mnt/rw/script; echo x >/mnt/rw/new'
	run berth run c1
	assert_success
	line=$(mount_line /mnt/ro)
	[ -n "$line" ] || fail "/mnt/ro not in /proc/mounts: $output"
	for o in ro nosuid nodev noexec; do
		has_opt "$line" "$o" || fail "/mnt/ro lacks $o: $line"
	done
	line=$(mount_line /mnt/rw)
	has_opt "$line" rw || fail "/mnt/rw: $line"
	! has_opt "$line" noexec || fail "/mnt/rw: $line"
	assert_output_contains data
	refute_output_contains ro-writable
	assert_output_contains noexec-ok
	assert_output_contains ran
	[ -f "$TEST_DIR/src/new" ]
	[ ! -e "$TEST_DIR/src/new.ro" ]
}

@test "mounts: rbind takes submounts along, bind does not" {
	mkdir -p "$TEST_DIR/tree/sub"
	mount -t tmpfs -o size=1m berth-it-sub "$TEST_DIR/tree/sub"
	defer umount -l "$TEST_DIR/tree/sub"
	echo in-submount >"$TEST_DIR/tree/sub/file"
	add_mount /mnt/r bind "$TEST_DIR/tree" rbind ro
	add_mount /mnt/b bind "$TEST_DIR/tree" bind
	set_args sh -c 'cat /proc/mounts; cat /mnt/r/sub/file; ls /mnt/b/sub | wc -l'
	run berth run c1
	assert_success
	[ -n "$(mount_line /mnt/r/sub)" ] || fail "rbind lost the submount: $output"
	[ -z "$(mount_line /mnt/b/sub)" ] || fail "bind took the submount: $output"
	assert_output_contains in-submount
	assert_equal "${lines[-1]}" 0 "the plain bind shows the empty directory under the submount"
	umount "$TEST_DIR/tree/sub"
}

@test "mounts: a single file can be bind mounted" {
	echo file-content >"$TEST_DIR/one-file"
	add_mount /etc/one bind "$TEST_DIR/one-file" rbind ro
	set_args cat /etc/one
	run berth run c1
	assert_success
	assert_output file-content
}

@test "mounts: tmpfs with size and mode" {
	add_mount /scratch tmpfs tmpfs size=1m mode=1770 nosuid
	set_args sh -c 'cat /proc/mounts; stat -c %a /scratch; echo x >/scratch/f && echo writable'
	run berth run c1
	assert_success
	line=$(mount_line /scratch)
	[[ "$line" == "tmpfs /scratch tmpfs "* ]] || fail "no tmpfs on /scratch: $output"
	has_opt "$line" size=1024k || fail "size: $line"
	has_opt "$line" mode=1770 || fail "mode: $line"
	has_opt "$line" nosuid || fail "nosuid: $line"
	assert_output_contains $'\n1770\n'
	assert_output_contains writable
}

@test "mounts: a relative destination is taken from / (runtime-spec 1.0)" {
	add_mount relative/dir tmpfs tmpfs size=1m
	set_args sh -c 'cat /proc/mounts'
	run berth run c1
	assert_success
	[ -n "$(mount_line /relative/dir)" ] || fail "$output"
}

@test "mounts: a destination that is a symlink in the rootfs is resolved inside it; a missing target is created" {
	echo zone >"$TEST_DIR/localtime"
	echo "nameserver 192.0.2.1" >"$TEST_DIR/resolv.conf"
	# as images ship them: absolute and relative links, targets missing
	ln -s /usr/share/zoneinfo/Etc/UTC "$BUNDLE/rootfs/etc/localtime"
	ln -s ../run/systemd/resolve/stub-resolv.conf "$BUNDLE/rootfs/etc/resolv.conf"
	ln -s /srv/data "$BUNDLE/rootfs/data"
	add_mount /etc/localtime bind "$TEST_DIR/localtime" bind ro
	add_mount /etc/resolv.conf bind "$TEST_DIR/resolv.conf" bind
	add_mount /data tmpfs tmpfs size=1m
	set_args sh -c 'cat /etc/localtime /etc/resolv.conf; readlink /etc/localtime; awk "{print \$5}" /proc/self/mountinfo; echo x >/data/f && cat /srv/data/f'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" zone
	assert_equal "${lines[1]}" "nameserver 192.0.2.1"
	assert_equal "${lines[2]}" /usr/share/zoneinfo/Etc/UTC
	assert_output_contains $'\n/usr/share/zoneinfo/Etc/UTC\n'
	assert_output_contains $'\n/run/systemd/resolve/stub-resolv.conf\n'
	assert_output_contains $'\n/srv/data\n'
	assert_equal "${lines[-1]}" x
	# the targets were made in the rootfs, the links left as they were
	[ -f "$BUNDLE/rootfs/usr/share/zoneinfo/Etc/UTC" ]
	[ -f "$BUNDLE/rootfs/run/systemd/resolve/stub-resolv.conf" ]
	[ -d "$BUNDLE/rootfs/srv/data" ]
	[ -L "$BUNDLE/rootfs/etc/localtime" ] && [ -L "$BUNDLE/rootfs/data" ]
}

@test "root.readonly: the root is read-only; false makes it writable" {
	update_config '.root.readonly = true'
	set_args sh -c 'cat /proc/mounts; touch /newfile 2>&1; echo rc=$?'
	run berth run c1
	assert_success
	has_opt "$(mount_line /)" ro || fail "/ is not ro: $output"
	assert_output_contains "Read-only file system"
	[ ! -e "$BUNDLE/rootfs/newfile" ]

	update_config '.root.readonly = false'
	set_args sh -c 'cat /proc/mounts; touch /newfile && echo created'
	run berth run c2
	assert_success
	has_opt "$(mount_line /)" rw || fail "/ is not rw: $output"
	assert_output_contains created
	[ -e "$BUNDLE/rootfs/newfile" ]
}

@test "--no-pivot: chroot into the rootfs" {
	set_args sh -c 'cat /etc/hostname; ls /'
	run berth run --no-pivot c1
	assert_success
	assert_equal "${lines[0]}" berth-test "the root is the bundle's rootfs"
	# the host's directories are not reachable
	refute_output_contains work
	[[ "$output" == *bin* ]]
	assert_nothing_left c1
}

@test "pivot_root: the host's root is not visible in the container's mount table" {
	set_args cat /proc/self/mountinfo
	run berth run c1
	assert_success
	refute_output_contains "/work"
	# the first mount is the rootfs itself
	[[ "${lines[0]}" == *" $BUNDLE/rootfs / "* ]] || fail "${lines[0]}"
}

@test "rootfsPropagation: shared, private and the rslave default" {
	update_config '.linux.rootfsPropagation = "shared"'
	set_args awk '$5 == "/"' /proc/self/mountinfo
	run berth run c1
	assert_success
	[[ "$output" == *" shared:"* ]] || fail "/ is not shared: $output"

	update_config '.linux.rootfsPropagation = "private"'
	run berth run c2
	assert_success
	[[ "$output" != *" shared:"* && "$output" != *" master:"* ]] || fail "/ is not private: $output"

	update_config '.linux.rootfsPropagation = "bogus"'
	run berth_bg create c3
	assert_one_line_error 'rootfsPropagation'
	assert_nothing_left c3
}

@test "rootfsPropagation: shared, slave, private and unbindable, seen from the host in the init's mountinfo" {
	set_args sleep 100
	local mode pid line
	# a shared rootfs on the host, so that a slave has a master to follow
	mount --bind "$BUNDLE/rootfs" "$BUNDLE/rootfs"
	defer umount -l "$BUNDLE/rootfs"
	mount --make-shared "$BUNDLE/rootfs"
	for mode in shared slave private unbindable runbindable; do
		update_config '.linux.rootfsPropagation = $m' --arg m "$mode"
		berth_bg create "c-$mode"
		pid=$(pid_of "c-$mode")
		# the container's root as the host reads it: mount point field "/"
		line=$(awk '$5 == "/"' "/proc/$pid/mountinfo")
		[ -n "$line" ] || fail "$mode: no / in /proc/$pid/mountinfo"
		case $mode in
		shared) [[ "$line" == *" shared:"* ]] ;;
		slave) [[ "$line" == *" master:"* && "$line" != *" shared:"* ]] ;;
		private) [[ "$line" != *" shared:"* && "$line" != *" master:"* && "$line" != *" unbindable "* ]] ;;
		unbindable | runbindable) [[ "$line" == *" unbindable "* ]] ;;
		esac || fail "$mode: the container's / is not $mode: $line"
		berth delete --force "c-$mode"
	done
	umount "$BUNDLE/rootfs"
	assert_nothing_left c-shared c-slave c-private c-unbindable c-runbindable
}

@test "mounts: propagation options on a bind mount" {
	mkdir "$TEST_DIR/p"
	add_mount /mnt/shared bind "$TEST_DIR/p" rbind rshared
	add_mount /mnt/private bind "$TEST_DIR/p" rbind rprivate
	set_args cat /proc/self/mountinfo
	run berth run c1
	assert_success
	[[ "$(grep ' /mnt/shared ' <<<"$output")" == *" shared:"* ]] || fail "$output"
	[[ "$(grep ' /mnt/private ' <<<"$output")" != *" shared:"* ]] || fail "$output"
}

@test "mounts: nothing mounted in the container propagates to the host" {
	mkdir "$TEST_DIR/p"
	add_mount /mnt/p bind "$TEST_DIR/p" rbind
	update_config '.process.capabilities.bounding += ["CAP_SYS_ADMIN"] | .process.capabilities.effective += ["CAP_SYS_ADMIN"] | .process.capabilities.permitted += ["CAP_SYS_ADMIN"]'
	set_args sh -c 'mount -t tmpfs inner /mnt/p && echo mounted'
	run berth run c1
	assert_success
	assert_output mounted
	! grep -q inner /proc/self/mountinfo || fail "the container's mount reached the host"
}

@test "linux.devices: a node with type, major/minor, mode, uid and gid; a fifo" {
	update_config '.linux.devices = [
		{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 432, "uid": 1000, "gid": 5},
		{"path": "/dev/sub/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 438},
		{"path": "/dev/myfifo", "type": "p"}]'
	set_args sh -c 'stat -c "%n %F %t %T %a %u %g" /dev/mynull /dev/sub/zero /dev/myfifo; head -c 3 /dev/sub/zero | od -An -tx1'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" "/dev/mynull character special file 1 3 660 1000 5"
	assert_equal "${lines[1]}" "/dev/sub/zero character special file 1 5 666 0 0"
	assert_equal "${lines[2]}" "/dev/myfifo fifo 0 0 666 0 0"
	assert_equal "$(echo ${lines[3]})" "00 00 00"
}

@test "linux.devices: the device cgroup allows the listed devices" {
	update_config '.linux.devices = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]'
	set_args sh -c 'echo x >/dev/mynull && echo write-ok'
	run berth run c1
	assert_success
	assert_output write-ok
}

@test "/dev: default devices, symlinks, /dev/pts and /dev/ptmx" {
	set_args sh -c 'for d in null zero full random urandom tty; do stat -c "%n %F %t,%T %a" /dev/$d; done
		for l in fd stdin stdout stderr ptmx; do echo "/dev/$l -> $(readlink /dev/$l)"; done
		grep " /dev/pts " /proc/self/mountinfo
		echo hello >/dev/null; head -c 2 /dev/zero | od -An -tx1; head -c 8 /dev/urandom | wc -c
		exec 3<>/dev/ptmx; ls /dev/pts'
	run berth run c1
	assert_success
	assert_output_contains "/dev/null character special file 1,3 666"
	assert_output_contains "/dev/zero character special file 1,5 666"
	assert_output_contains "/dev/full character special file 1,7 666"
	assert_output_contains "/dev/random character special file 1,8 666"
	assert_output_contains "/dev/urandom character special file 1,9 666"
	assert_output_contains "/dev/tty character special file 5,0 666"
	assert_output_contains "/dev/fd -> /proc/self/fd"
	assert_output_contains "/dev/stdin -> /proc/self/fd/0"
	assert_output_contains "/dev/stdout -> /proc/self/fd/1"
	assert_output_contains "/dev/stderr -> /proc/self/fd/2"
	assert_output_contains "/dev/ptmx -> pts/ptmx"
	# a devpts of its own (newinstance) with ptmxmode=666
	line=$(grep ' /dev/pts ' <<<"$output")
	[[ "$line" == *" - devpts devpts "*ptmxmode=666* ]] || fail "devpts: $line"
	# opening ptmx allocated pty 0 in the container's own devpts
	assert_equal "$(echo ${lines[-4]})" "00 00"
	assert_equal "${lines[-3]}" 8
	assert_equal "${lines[-2]}" 0
	assert_equal "${lines[-1]}" ptmx
	# no console without a terminal
	set_args test -e /dev/console
	run berth run c2
	assert_failure 1
}

@test "/dev: a symlink planted in the rootfs /dev is replaced, not followed" {
	update_config '.mounts |= map(select(.destination != "/dev"))'
	ln -s /etc/passwd "$BUNDLE/rootfs/dev/null"
	set_args stat -c "%F %t,%T" /dev/null
	run berth run c1
	assert_success
	assert_output "character special file 1,3"
	# the image's target was not touched
	[ -f "$BUNDLE/rootfs/etc/passwd" ] && grep -q '^root:' "$BUNDLE/rootfs/etc/passwd"
}

@test "mounts: proc, sysfs read-only, mqueue, cgroup, masked and read-only paths" {
	set_args sh -c 'cat /proc/mounts; echo 1 >/proc/sys/kernel/domainname 2>/dev/null && echo sys-writable; cat /proc/keys | wc -c; ls /sys/firmware | wc -l'
	run berth run c1
	assert_success
	[[ "$(mount_line /proc)" == "proc /proc proc "* ]] || fail "$output"
	has_opt "$(mount_line /sys)" ro || fail "sysfs: $(mount_line /sys)"
	[[ "$(mount_line /dev/mqueue)" == "mqueue /dev/mqueue mqueue "* ]] || fail "$output"
	[ -n "$(mount_line /sys/fs/cgroup)" ] || fail "no /sys/fs/cgroup: $output"
	has_opt "$(mount_line /proc/sys)" ro || fail "/proc/sys: $(mount_line /proc/sys)"
	refute_output_contains sys-writable
	assert_equal "${lines[-2]}" 0 "/proc/keys is masked"
	assert_equal "${lines[-1]}" 0 "/sys/firmware is masked"
}

@test "masked and read-only paths: masked directories share one empty read-only tmpfs; a read-only path keeps its submounts" {
	mkdir -p "$BUNDLE/rootfs/hide1/x" "$BUNDLE/rootfs/hide2" "$BUNDLE/rootfs/tree/sub"
	echo secret >"$BUNDLE/rootfs/hide-file"
	add_mount /tree/sub tmpfs tmpfs nosuid
	update_config '.linux.maskedPaths = ["/hide1", "/hide2", "/hide-file", "/no/such/path"]
		| .linux.readonlyPaths = ["/tree"]'
	set_args sh -c 'cat /proc/mounts; echo entries $(ls -A /hide1; ls -A /hide2) end; echo bytes $(wc -c </hide-file)
		touch /hide1/y 2>/dev/null && echo hide1-writable; touch /hide2/y 2>/dev/null && echo hide2-writable
		touch /tree/y 2>/dev/null && echo tree-writable; touch /tree/sub/y && echo sub-writable
		echo dev $(stat -c %d /hide1) $(stat -c %d /hide2)'
	run berth run c1
	assert_success
	assert_output_contains "entries end"
	assert_output_contains "bytes 0"
	refute_output_contains hide1-writable
	refute_output_contains hide2-writable
	has_opt "$(mount_line /hide1)" ro || fail "/hide1: $(mount_line /hide1)"
	has_opt "$(mount_line /hide2)" ro || fail "/hide2: $(mount_line /hide2)"
	has_opt "$(mount_line /hide2)" nosuid || fail "/hide2: $(mount_line /hide2)"
	# one tmpfs, copied onto the second directory
	[[ "${lines[-1]}" =~ ^dev\ ([0-9]+)\ ([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] ||
		fail "masked directories on different filesystems: ${lines[-1]}"
	# only the top of a read-only path is made read-only, as with runc
	has_opt "$(mount_line /tree)" ro || fail "/tree: $(mount_line /tree)"
	refute_output_contains tree-writable
	assert_output_contains sub-writable
	has_opt "$(mount_line /tree/sub)" nosuid || fail "/tree/sub: $(mount_line /tree/sub)"
	# the image's files are untouched
	[ "$(cat "$BUNDLE/rootfs/hide-file")" = secret ] && [ -d "$BUNDLE/rootfs/hide1/x" ]
}

@test "mounts: rro makes submounts read-only too; noatime and nosymfollow" {
	mkdir -p "$TEST_DIR/tree/sub"
	mount -t tmpfs -o size=1m berth-it-sub "$TEST_DIR/tree/sub"
	defer umount -l "$TEST_DIR/tree/sub"
	ln -s /etc/hostname "$TEST_DIR/tree/link"
	add_mount /mnt/rro bind "$TEST_DIR/tree" rbind rro
	add_mount /mnt/ro bind "$TEST_DIR/tree" rbind ro
	add_mount /mnt/opts bind "$TEST_DIR/tree" bind noatime nosymfollow
	set_args sh -c 'cat /proc/mounts; touch /mnt/rro/sub/x 2>/dev/null && echo rro-sub-writable; touch /mnt/ro/sub/y 2>/dev/null && echo ro-sub-writable; cat /mnt/opts/link 2>/dev/null || echo symlink-refused'
	run berth run c1
	assert_success
	has_opt "$(mount_line /mnt/rro/sub)" ro || fail "rro: $(mount_line /mnt/rro/sub)"
	refute_output_contains rro-sub-writable
	# plain ro is not recursive (as the kernel's MS_RDONLY bind remount)
	assert_output_contains ro-sub-writable
	has_opt "$(mount_line /mnt/opts)" noatime || fail "noatime: $(mount_line /mnt/opts)"
	has_opt "$(mount_line /mnt/opts)" nosymfollow || fail "nosymfollow: $(mount_line /mnt/opts)"
	assert_output_contains symlink-refused
	umount "$TEST_DIR/tree/sub"
}

@test "mounts: a tmpfs without mode= keeps the mode of the directory it covers (runc)" {
	mkdir -m 0750 "$BUNDLE/rootfs/private"
	chmod 0750 "$BUNDLE/rootfs/private"
	add_mount /private tmpfs tmpfs size=1m
	add_mount /fresh tmpfs tmpfs size=1m
	add_mount /given tmpfs tmpfs size=1m mode=0711
	mkdir -m 0700 "$BUNDLE/rootfs/given"
	set_args sh -c 'stat -c "%n %a" /private /fresh /given; grep " /private " /proc/mounts'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" "/private 750"
	# a directory made for the mount: tmpfs's own default
	assert_equal "${lines[1]}" "/fresh 1777"
	assert_equal "${lines[2]}" "/given 711"
	has_opt "${lines[3]}" size=1024k || fail "size lost: ${lines[3]}"
}

@test "linux.devices: a path with a trailing slash or doubled slashes is cleaned (runc)" {
	update_config '.linux.devices = [{"path": "/dev/mynull/", "type": "c", "major": 1, "minor": 3, "fileMode": 438},
		{"path": "/dev//sub/./zero", "type": "c", "major": 1, "minor": 5, "fileMode": 438}]'
	set_args sh -c 'stat -c "%n %t %T" /dev/mynull /dev/sub/zero; echo x >/dev/mynull && echo write-ok'
	run berth run c1
	assert_success
	assert_equal "${lines[0]}" "/dev/mynull 1 3"
	assert_equal "${lines[1]}" "/dev/sub/zero 1 5"
	assert_equal "${lines[2]}" write-ok
	update_config '.linux.devices = [{"path": "/dev/..", "type": "c", "major": 1, "minor": 3}]'
	run berth run c1
	assert_one_line_error 'linux.devices[0].path'
}

@test "mounts: with a user namespace and no network namespace, a read-only /sys is read-only all the way down" {
	chmod o+x "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$TEST_DIR"
	# sysfs cannot be mounted without a network namespace of the user
	# namespace: the host's /sys is bound with its submounts (cgroups)
	update_config '.linux.namespaces = [.linux.namespaces[] | select(.type != "network")] + [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .mounts = [.mounts[] | select(.type != "cgroup")]'
	set_args sh -c 'grep " /sys" /proc/self/mountinfo'
	run berth run c1
	assert_success
	local line n=0
	for line in "${lines[@]}"; do
		n=$((n + 1))
		[[ "$(awk '{print $6}' <<<"$line")" == ro,* || "$(awk '{print $6}' <<<"$line")" == ro ]] ||
			fail "writable below /sys: $line"
	done
	# /sys itself and the cgroup mounts below it
	[ "$n" -gt 1 ] || fail "no submounts of /sys: $output"
	[[ "$output" == *" /sys/fs/cgroup "* ]] || fail "no /sys/fs/cgroup: $output"
}

@test "mounts: a relative process path is found from / once every mount is made" {
	# the mounts move the init's working directory; it is / again before
	# the process is looked up (and cwd / is where it runs)
	add_mount /mnt/t tmpfs tmpfs
	update_config '.process.cwd = "/"'
	set_args bin/sh -c pwd
	run berth run c1
	assert_success
	assert_equal "$output" /
}
