#!/usr/bin/env bats
# berth commit, diff, export and image history (issue 16, item 6): docker's
# output, compared with podman's on the same content where podman is there
# (it runs with a --root of its own under the test's directory; podman
# cannot run containers on this VM, so its changes are made through
# `podman mount`, berth's by a container).

load engine

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bcmt
	PODMAN_ROOT="$TEST_DIR/podman"
}

teardown() {
	if [ -d "$PODMAN_ROOT" ]; then
		pod ps -aq 2>/dev/null | while read -r id; do
			pod umount "$id" >/dev/null 2>&1 || true
			pod rm -f "$id" >/dev/null 2>&1 || true
		done
		pod rmi -af >/dev/null 2>&1 || true
		rm -rf "$PODMAN_ROOT"
	fi
	engine_teardown
}

pod() {
	podman --root "$PODMAN_ROOT/root" --runroot "$PODMAN_ROOT/run" --storage-driver vfs --cgroup-manager cgroupfs \
		--events-backend none "$@"
}

CHANGES='echo hi > /tmp/new; rm /bin/vi; echo x >> /etc/passwd; mkdir -p /srv/sub; echo y > /srv/sub/f; rm -r /home/app'

@test "diff: A, C and D lines sorted as docker's, without the runtime's mount points; the same as podman's" {
	run -0 brun --network none --name c1 bb sh -c "$CHANGES"
	run -0 b diff c1
	expected='C /bin
D /bin/vi
C /etc
C /etc/passwd
C /home
D /home/app
A /srv
A /srv/sub
A /srv/sub/f
C /tmp
A /tmp/new'
	[ "$output" = "$expected" ] || fail "diff: $output"
	run -0 b container diff c1
	[ "$output" = "$expected" ]
	# /etc holds only the runtime's mount points (hosts, resolv.conf...):
	# docker's init layer has those, so /etc is no change
	run -0 brun --network none --name c1b bb sh -c 'echo x > /tmp/only'
	run -0 b diff c1b
	[ "$output" = "C /tmp
A /tmp/only" ] || fail "diff: $output"
	run -125 b diff nosuch
	if ! command -v podman >/dev/null; then
		skip "podman is not installed: compared with docker's documented output only"
	fi
	pod import "$BATS_FILE_TMPDIR/rootfs.tar" localhost/bb >/dev/null
	pod create --network none --name pc localhost/bb sh >/dev/null
	mnt=$(pod mount pc)
	chroot "$mnt" /bin/sh -c "$CHANGES"
	pod umount pc >/dev/null
	# podman lists in its walk's order; docker sorts by path
	run -0 pod diff pc
	[ "$(LC_ALL=C sort -k2 <<<"$output")" = "$expected" ] || fail "podman diff differs: $output"
}

@test "commit: the container's changes and command, -m/-a/--change; the image runs as configured; a bad change commits nothing" {
	run -0 brun -d --network none --name c2 bb sh -c "$CHANGES; exec sleep 60"
	for ((i = 0; i < 50; i++)); do b exec c2 test -e /tmp/new && break; sleep 0.1; done
	n_images=$(b images -q | wc -l)
	run -125 b commit -c 'RUN echo no' c2 bad
	[[ "$output" == *'--change "RUN echo no": RUN is not allowed'* ]]
	run -125 b commit -c 'FROM bb' c2 bad
	run -125 b commit c2 'Bad:Name:x'
	[ "$(b images -q | wc -l)" = "$n_images" ]

	run -0 b commit -m "the message" -a "Ann <ann@example.org>" -c 'ENV GREETING=hello' \
		-c 'CMD ["sh", "-c", "cat /tmp/new; echo $GREETING"]' -c 'LABEL k=v' -c 'EXPOSE 8080' \
		-c 'WORKDIR /srv' -c 'USER app' -c 'STOPSIGNAL SIGINT' -c 'VOLUME /data' c2 committed
	id=$output
	[[ "$id" == sha256:* ]]
	# paused while the layer was written, running again
	[ "$(state_of c2 State.Status)" = running ]
	run -0 b image inspect committed
	cfg=$(jq -c '.[0].Config' <<<"$output")
	[ "$(jq -r '.User' <<<"$cfg")" = app ]
	[ "$(jq -r '.WorkingDir' <<<"$cfg")" = /srv ]
	[ "$(jq -c '.Cmd' <<<"$cfg")" = '["sh","-c","cat /tmp/new; echo $GREETING"]' ]
	jq -e '.Env | index("GREETING=hello")' <<<"$cfg" >/dev/null
	[ "$(jq -c '.Labels' <<<"$cfg")" = '{"k":"v"}' ]
	[ "$(jq -c '.ExposedPorts' <<<"$cfg")" = '{"8080/tcp":{}}' ]
	[ "$(jq -c '.Volumes' <<<"$cfg")" = '{"/data":{}}' ]
	[ "$(jq -r '.StopSignal' <<<"$cfg")" = SIGINT ]
	[ "$(jq -r '.[0].Author' <<<"$output")" = "Ann <ann@example.org>" ] ||
		[ "$(raw_author committed)" = "Ann <ann@example.org>" ]
	# one more layer, without the runtime's mount points
	[ "$(jq '.[0].RootFS.Layers | length' <<<"$output")" = 2 ]
	run brun --rm --network none --user root committed
	[ "$status" = 0 ] || fail "run committed: $output"
	[ "$output" = "hi
hello" ]
	run -0 brun --rm --network none --user root committed sh -c 'test ! -e /bin/vi && cat /srv/sub/f && ! test -e /home/app'
	[ "$output" = y ]

	# without a name: an untagged image; a stopped container; the container's own command
	run -0 brun --network none --name c3 bb sh -c 'echo three > /three'
	run -0 b commit c3
	run -0 brun --rm --network none "$output" cat /three
	[ "$output" = three ]
	run -0 b history --no-trunc --format json "$(b commit c3)"
	[ "$(head -1 <<<"$output" | jq -r .CreatedBy)" = "sh -c echo three > /three" ]
	b rm -f c2 >/dev/null
}

raw_author() {
	local m c
	m=$(jq -r --arg n "docker.io/library/$1:latest" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$STORE/index.json")
	c=$(jq -r .config.digest "$STORE/blobs/sha256/${m#sha256:}")
	jq -r .author "$STORE/blobs/sha256/${c#sha256:}"
}

@test "export: the container's rootfs as a flat tar, to -o FILE or a pipe, never to a terminal" {
	run -0 brun --network none --name c4 bb sh -c "$CHANGES"
	b export c4 >"$TEST_DIR/out.tar"
	listing=$(tar -tf "$TEST_DIR/out.tar")
	grep -qx 'bin/busybox' <<<"$listing"
	grep -qx 'tmp/new' <<<"$listing"
	grep -qx 'srv/sub/f' <<<"$listing"
	! grep -q '^\./\|^/' <<<"$listing"
	! grep -qx 'bin/vi' <<<"$listing"
	! grep -q '\.wh\.' <<<"$listing"
	[ "$(tar -xOf "$TEST_DIR/out.tar" tmp/new)" = hi ]
	run -0 b export -o "$TEST_DIR/o.tar" c4
	cmp "$TEST_DIR/out.tar" "$TEST_DIR/o.tar"
	[ -z "$(ls "$TEST_DIR" | grep 'o.tar.tmp')" ]
	run -125 b export nosuch
	# a tar is no terminal's business (script gives the command a pty)
	if command -v script >/dev/null; then
		run script -qec "$BERTH_BIN --root $STORE --runroot $RUNROOT export c4" /dev/null
		[[ "$output" == *"refusing to write a tar to a terminal"* ]]
	fi
}

@test "history: docker's columns, <missing> below the image, --no-trunc, -q, --format json; CreatedBy and Comment as podman's" {
	mkdir -p "$TEST_DIR/ctx"
	echo data >"$TEST_DIR/ctx/data.txt"
	cat >"$TEST_DIR/ctx/Containerfile" <<'EOF'
FROM bb
ENV A=1
RUN echo a-rather-long-command-line-that-docker-cuts-at-forty-five-characters > /long
COPY data.txt /data.txt
EOF
	run -0 b build --cgroup-parent "berth-test/$TAG" -q -t hist "$TEST_DIR/ctx"
	id=$output
	run -0 b history hist
	[ "$(head -1 <<<"$output" | tr -s ' ')" = "IMAGE CREATED CREATED BY SIZE COMMENT" ]
	[ "$(sed -n 2p <<<"$output" | cut -c1-12)" = "${id:7:12}" ]
	[ "$(sed -n '3,$p' <<<"$output" | grep -c '^<missing> ')" = 3 ]
	grep -q 'RUN /bin/sh -c echo a-rather-long-command-li…' <<<"$output"
	run -0 b image history --no-trunc hist
	grep -q "^$id " <<<"$output"
	grep -q 'cuts-at-forty-five-characters > /long' <<<"$output"
	run -0 b history -q hist
	[ "$(head -1 <<<"$output")" = "${id:7:12}" ]
	run -0 b history --format json hist
	[ "$(wc -l <<<"$output")" = 4 ]
	[ "$(head -1 <<<"$output" | jq -r 'keys | join(",")')" = "Comment,CreatedAt,CreatedBy,CreatedSince,ID,Size" ]
	if ! command -v podman >/dev/null; then
		skip "podman is not installed"
	fi
	b save -o "$TEST_DIR/hist.tar" hist
	pod load -q -i "$TEST_DIR/hist.tar" >/dev/null
	ours=$(b history --no-trunc --format json hist | jq -r '"\(.CreatedBy // "")|\(.Comment // "")"')
	theirs=$(pod history --no-trunc --format json docker.io/library/hist:latest | jq -r '.[] | "\(.CreatedBy // "")|\(.comment // "")"')
	[ "$ours" = "$theirs" ] || fail "history differs from podman's: ours
$ours
theirs
$theirs"
}

@test "image inspect: an unset User and WorkingDir are \"\", unset Labels null, as docker prints them" {
	run -0 b image inspect bb
	[ "$(jq -c '.[0].Config | [.User, .WorkingDir, .Labels]' <<<"$output")" = '["","",null]' ]
}
