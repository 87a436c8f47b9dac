#!/usr/bin/env bats
# berth cp: files and trees between the host and a container's rootfs,
# docker's DEST rules, tar in and out, and the symlink attacks of
# CVE-2019-14271 / CVE-2018-15664: a symlink inside the container must never
# make berth read or write a host file.
#
# Every test has its own --root/--runroot under $BATS_TEST_TMPDIR and puts
# its containers' cgroups beneath its own cgroup (berth-test/TAG/<id>).

load engine

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bcp
	H="$TEST_DIR/host"
	mkdir -p "$H"
}

teardown() {
	engine_teardown
}

# start NAME [FLAGS...]: a container that sleeps.
start() {
	local name=$1
	shift
	b run -d --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG --name "$name" "$@" bb sleep 300 >/dev/null
}

# inside NAME SCRIPT: sh -c SCRIPT in the container.
inside() {
	b exec "$1" sh -c "$2"
}

# A tree in the container: /data/f (640, 2001-09-09), /data/sub/g, /data/link -> f.
make_data() {
	inside "$1" 'mkdir -p /data/sub && echo hello >/data/f && echo deep >/data/sub/g &&
		chmod 640 /data/f && touch -d "2001-09-09 01:46:40" /data/f && ln -s f /data/link'
}

@test "cp: a file and a tree out of a running container, modes and times kept" {
	start c
	make_data c
	run b cp c:/data/f "$H/f"
	assert_success
	[ -z "$output" ]
	assert_equal "$(cat "$H/f")" hello
	assert_equal "$(stat -c %a "$H/f")" 640
	assert_equal "$(stat -c %Y "$H/f")" "$(inside c 'stat -c %Y /data/f')"
	# a missing DEST is created; an existing directory receives SRC inside it
	run b cp c:/data "$H/new"
	assert_success
	assert_equal "$(cat "$H/new/sub/g")" deep
	assert_equal "$(readlink "$H/new/link")" f
	mkdir "$H/dir"
	b cp c:/data "$H/dir"
	assert_equal "$(cat "$H/dir/data/f")" hello
	# a file into an existing directory; a file over a file
	b cp c:/data/sub/g "$H/dir"
	assert_equal "$(cat "$H/dir/g")" deep
	b cp c:/data/f "$H/dir/g"
	assert_equal "$(cat "$H/dir/g")" hello
	# relative container paths are relative to its /
	b cp c:data/sub/g "$H/g2"
	assert_equal "$(cat "$H/g2")" deep
	# an exited container's rootfs is still there
	b stop -t 0 c >/dev/null
	b cp c:/data/sub/g "$H/g3"
	assert_equal "$(cat "$H/g3")" deep
	[ -z "$(find "$H" -name '.berth-cp-*')" ]
}

@test "cp: files and trees into a container, which sees them" {
	start c
	mkdir -p "$H/tree/sub"
	echo one >"$H/tree/a"
	echo two >"$H/tree/sub/b"
	chmod 754 "$H/tree/a"
	chmod 711 "$H/tree/sub"
	touch -d @1000000000 "$H/tree/a" "$H/tree/sub"
	run b cp "$H/tree/a" c:/tmp/
	assert_success
	run inside c 'cat /tmp/a; stat -c "%a %Y %u" /tmp/a'
	assert_output "one
754 1000000000 0"
	run b cp "$H/tree" c:/tmp
	assert_success
	run inside c 'cat /tmp/tree/sub/b; stat -c "%a %Y" /tmp/tree/sub'
	assert_output "two
711 1000000000"
	# a missing DEST directory is created
	b cp "$H/tree" c:/made
	assert_equal "$(inside c 'cat /made/a')" one
	# a file onto a file
	echo three >"$H/c"
	b cp "$H/c" c:/made/a
	assert_equal "$(inside c 'cat /made/a; ls -a /made | grep -c berth-cp')" "three
0"
}

@test "cp: SRC/. copies the content, DEST/ must be a directory" {
	start c
	make_data c
	mkdir "$H/into"
	b cp c:/data/. "$H/into"
	assert_equal "$(cat "$H/into/f" "$H/into/sub/g")" "hello
deep"
	[ ! -e "$H/into/data" ]
	b cp c:/data/. "$H/fresh"
	assert_equal "$(cat "$H/fresh/f")" hello
	mkdir -p "$H/t/x"
	echo in >"$H/t/x/y"
	b cp "$H/t/." c:/data
	assert_equal "$(inside c 'cat /data/x/y')" in
	run b cp c:/data/f "$H/nodir/"
	assert_failure 125
	[ ! -e "$H/nodir" ]
	run b cp c:/data/f/. "$H/x"
	assert_failure 125
}

@test "cp: - writes a tar of SRC to stdout and reads a tar from stdin" {
	start c
	make_data c
	b cp c:/data - >"$H/out.tar"
	run tar -tvf "$H/out.tar"
	assert_success
	assert_output_contains "data/sub/g"
	assert_output_contains "data/link -> f"
	mkdir "$H/x"
	tar -C "$H/x" -xf "$H/out.tar"
	assert_equal "$(cat "$H/x/data/f")" hello
	assert_equal "$(stat -c '%a %Y' "$H/x/data/f")" "640 $(inside c 'stat -c %Y /data/f')"
	mkdir -p "$H/src/d"
	echo piped >"$H/src/d/p"
	tar -C "$H/src" -cf - . | b cp - c:/tmp
	assert_equal "$(inside c 'cat /tmp/d/p')" piped
	# the DEST of a tar must be a directory
	run b cp - c:/nonexistent <"$H/out.tar"
	assert_failure 125
	[ "${#lines[@]}" -eq 1 ]
}

@test "cp: -a keeps uid and gid, otherwise the caller's; -L follows a symlink SRC" {
	start c
	make_data c
	inside c 'chown 1000:1000 /data/f && chmod 4755 /data/f'
	b cp c:/data/f "$H/plain"
	assert_equal "$(stat -c '%u:%g %a' "$H/plain")" "$(id -u):$(id -g) 755"
	b cp -a c:/data/f "$H/kept"
	assert_equal "$(stat -c '%u:%g %a' "$H/kept")" "1000:1000 4755"
	b cp c:/data/link "$H/l"
	[ -L "$H/l" ]
	b cp -L c:/data/link "$H/l2"
	[ ! -L "$H/l2" ]
	assert_equal "$(cat "$H/l2")" hello
	echo x >"$H/owned"
	chown 1234:1234 "$H/owned"
	b cp -a "$H/owned" c:/tmp/owned
	b cp "$H/owned" c:/tmp/rooted
	assert_equal "$(inside c 'stat -c %u:%g /tmp/owned /tmp/rooted')" "1234:1234
0:0"
}

@test "cp: bad input fails with one line and exit 125, leaving nothing" {
	start c
	make_data c
	echo x >"$H/file"
	for args in "nosuch:/data $H/n1" "c:/nosuch $H/n2" "$H/file $H/n3" "c:/data c:/tmp" "c:/data $H/file" \
		"$H/nosuch c:/tmp/n4" "c:/data/f $H/nodir/n5" "$H/file c:/nodir/n6" ":/x $H/n7"; do
		# shellcheck disable=SC2086
		run b cp $args
		[ "$status" -eq 125 ] || fail "cp $args: status $status: $output"
		[ "${#lines[@]}" -eq 1 ] || fail "cp $args: $output"
		[[ "$output" == "berth: "* ]] || fail "cp $args: $output"
	done
	run b cp nosuch:/data "$H/n1"
	assert_output "berth: no such container: nosuch"
	[ ! -e "$H/n1" ]
	[ ! -e "$H/n2" ]
	[ ! -e "$H/n3" ]
	[ ! -e "$H/nodir" ]
	assert_equal "$(cat "$H/file")" x
	assert_equal "$(inside c 'ls /tmp /nodir 2>&1 | grep -c n[0-9]')" 0
	# a directory in the way of a file, and a file in the way of a directory
	mkdir -p "$H/f"
	run b cp c:/data/f "$H"
	assert_failure 125
	assert_output_contains "cannot overwrite directory"
	[ -z "$(find "$H" -name '.berth-cp-*')" ]
	# docker refuses to write into a --read-only rootfs
	start ro --read-only
	run b cp "$H/file" ro:/tmp/
	assert_failure 125
	assert_output_contains "read-only"
}

@test "cp: CVE-2019-14271 class: symlinks in the container never make berth read host files" {
	start c
	mkdir -p "$H/secret"
	echo host-secret >"$H/secret/marker"
	inside c "echo container-shadow >/etc/shadow; ln -s / /escape; ln -s /../../.. /up;
		mkdir /data/t; ln -s $H/secret /data/t/abs; ln -s ../../../../../../../..$H/secret /data/t/rel"
	run b cp c:/escape/etc/shadow "$H/s1"
	assert_success
	assert_equal "$(cat "$H/s1")" container-shadow
	run b cp c:/up/etc/shadow "$H/s2"
	assert_success
	assert_equal "$(cat "$H/s2")" container-shadow
	# through a symlink to a host path: the container has no such file
	run b cp c:/data/t/abs/marker "$H/s3"
	assert_failure 125
	[ ! -e "$H/s3" ]
	run b cp -L c:/data/t/rel "$H/s4"
	assert_failure 125
	# a tree with such links holds the links, not the host's files
	b cp c:/data/t "$H/tree"
	b cp c:/data/t - >"$H/t.tar"
	[ -L "$H/tree/abs" ]
	[ -L "$H/tree/rel" ]
	[ -z "$(find "$H/tree" -name marker)" ]
	! tar -tf "$H/t.tar" | grep -q marker
}

@test "cp: CVE-2018-15664 class: symlinks in the container never make berth write host files" {
	local name="berth-cp-pwned-$$-$RANDOM"
	start c
	mkdir -p "$H/victim" "$H/tree/sub"
	echo payload >"$H/p"
	echo payload >"$H/tree/sub/$name"
	inside c "ln -s / /escape; ln -s /../../.. /up; ln -s /tmp /tmplink; ln -s $H/victim /data/sub"
	b cp "$H/p" "c:/escape/tmp/$name"
	b cp "$H/p" "c:/up/tmp/$name-2"
	[ ! -e "/tmp/$name" ]
	[ ! -e "/tmp/$name-2" ]
	assert_equal "$(inside c "cat /tmp/$name /tmp/$name-2")" "payload
payload"
	# a directory of the tree that is a symlink in the container: refused
	run b cp "$H/tree/." c:/data
	assert_failure 125
	[ -z "$(ls -A "$H/victim")" ]
	# a symlink as DEST is replaced, not written through
	b cp "$H/p" c:/tmplink
	[ -z "$(ls -A "$H/victim")" ]
	# tar input: ".." and a path through a symlink it made itself
	mkdir -p "$H/t1" "$H/t2/lnk"
	ln -s "$H/victim" "$H/t1/lnk"
	echo payload >"$H/t2/lnk/$name"
	tar -C "$H/t1" -cf "$H/evil.tar" lnk
	tar -C "$H/t2" -rf "$H/evil.tar" "lnk/$name"
	run b cp - c:/tmp <"$H/evil.tar"
	assert_failure 125
	tar -C "$H/t2/lnk" -cf "$H/dotdot.tar" -P --transform "s|^|../../../../../../../../tmp/|" "$name"
	tar -tPf "$H/dotdot.tar" | grep -q '^\.\./'

	run b cp - c:/tmp <"$H/dotdot.tar"
	assert_failure 125
	[ -z "$(ls -A "$H/victim")" ]
	[ ! -e "/tmp/$name" ]
}

@test "cp: a symlink swapped in during a copy is not followed" {
	local name="berth-cp-race-$$-$RANDOM" i
	start c
	mkdir -p "$H/victim" "$H/race/d"
	echo payload >"$H/race/d/$name"
	echo host-secret >"$H/victim/marker"
	# the container swaps /race/d between a directory and a link to the host's victim
	b exec -d c sh -c "mkdir -p /race; while :; do mkdir /race/d 2>/dev/null; echo in >/race/d/marker;
		rm -rf /race/d; ln -s $H/victim /race/d; rm -f /race/d; done"
	for ((i = 0; i < 25; i++)); do
		b cp "$H/race/." c:/race >/dev/null 2>&1 || true
		b cp c:/race "$H/out$i" >/dev/null 2>&1 || true
	done
	assert_equal "$(ls -A "$H/victim")" marker
	[ -z "$(find "$H"/out* -name marker -exec grep -l host-secret {} + 2>/dev/null)" ]
}

@test "cp: into and out of a running container's volumes, bind mounts and tmpfs mounts" {
	mkdir -p "$H/bound"
	echo from-host >"$H/bound/h"
	echo payload >"$H/p"
	b volume create vv >/dev/null
	start m -v vv:/vol -v "$H/bound:/bind" --tmpfs /tm --read-only
	b cp "$H/p" m:/vol/p
	b cp "$H/p" m:/bind/p
	b cp "$H/p" m:/tm/p
	assert_equal "$(inside m 'cat /vol/p /bind/p /tm/p')" "payload
payload
payload"
	# the bind mount's source and the volume on the host have it
	assert_equal "$(cat "$H/bound/p")" payload
	assert_equal "$(cat "$STORE/volumes/vv/_data/p")" payload
	# and out again, trees too
	inside m 'mkdir -p /tm/d && echo in-tmpfs >/tm/d/f'
	b cp m:/tm/d "$H/out"
	assert_equal "$(cat "$H/out/f")" in-tmpfs
	b cp m:/bind/h "$H/h2"
	assert_equal "$(cat "$H/h2")" from-host
	b cp m:/tm - | tar -tf - | grep -q '^tm/d/f$'
	# the read-only rootfs itself is still refused
	run b cp "$H/p" m:/etc/
	assert_failure 125
	assert_output_contains "read-only"
	# the rootfs underneath the tmpfs got nothing
	[ ! -e "$(b inspect -f '{{.Bundle}}' m)/rootfs/tm/p" ]
	b rm -f m >/dev/null
	b volume rm vv >/dev/null
}
