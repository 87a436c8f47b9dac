#!/usr/bin/env bats
# berth build: Containerfiles into images in the test's own store. The base
# image is the engine tests' busybox ("bb", made locally); RUN steps run as
# containers beneath the test's cgroup (--cgroup-parent berth-test/TAG) in
# the test's network namespace.

load engine
load registry

setup_file() {
	engine_make_rootfs
}

setup() {
	engine_setup bbld
	CTX="$TEST_DIR/ctx"
	mkdir -p "$CTX"
	CLEANUPS=() # run by teardown, last first (a registry, a mount)
}

teardown() {
	local failed=0 i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	engine_teardown || failed=1
	if [ -n "$(ls -A "$STORE/build-tmp" 2>/dev/null)" ]; then
		echo "teardown: build temp dirs left: $(ls -A "$STORE/build-tmp")" >&2
		failed=1
	fi
	return $failed
}

# bbuild ARGS...: berth build with the test's cgroup parent.
bbuild() {
	b build --cgroup-parent "berth-test/$TAG" "$@"
}

# config NAME JQ: a field of the image's config.
config() {
	b image inspect "$1" | jq -c ".[0].Config$2"
}

# raw_config NAME: the image's config blob as stored (all fields).
raw_config() {
	local m c
	m=$(jq -r --arg n "docker.io/library/$1:latest" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$STORE/index.json")
	c=$(jq -r .config.digest "$STORE/blobs/sha256/${m#sha256:}")
	cat "$STORE/blobs/sha256/${c#sha256:}"
}

# ran MARKER: the output has MARKER as a line of its own (a RUN's output,
# not the progress line that names the command).
ran() {
	grep -qx "$1" <<<"$output"
}

# diff_ids NAME: the image's layer diff ids, one line.
diff_ids() {
	b image inspect "$1" | jq -r '.[0].RootFS.Layers | join(" ")'
}

@test "build: multi-stage with COPY --from, ARG/ENV, shell and exec RUN, heredoc; the result runs as configured" {
	cat >"$CTX/Containerfile" <<'EOF'
# syntax=docker/dockerfile:1.4
ARG BASE=bb
FROM $BASE AS builder
ARG GREETING=hello
ENV TARGET=/out
RUN mkdir -p $TARGET && echo "$GREETING from the builder" > $TARGET/msg
RUN ["sh", "-c", "echo exec-form > /out/exec"]
RUN <<SCRIPT
echo "heredoc $GREETING" > /out/heredoc
rm /bin/vi
SCRIPT

FROM ${BASE}
LABEL stage=final
COPY --from=builder /out/ /opt/out/
WORKDIR /opt
WORKDIR out
ENV WHO="the app"
USER app
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat msg exec heredoc; id -un; pwd; echo $WHO"]
EOF
	run -0 bbuild -t app --build-arg GREETING=hi "$CTX"
	[[ "$output" == *'#0 NOTE: "# syntax=docker/dockerfile:1.4" is ignored'* ]]
	[[ "$output" == *"#1 [builder 1/6] FROM bb"* ]]
	[[ "$output" == *"#3 [builder 3/6] ENV TARGET=/out"* ]]
	[[ "$output" == *"#4 DONE "* ]]
	[[ "$output" == *"naming to docker.io/library/app:latest"* ]]
	id=$(printf '%s\n' "$output" | tail -n 1)
	[[ "$id" == sha256:* ]]

	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none app
	[ "${lines[0]}" = "hi from the builder" ]
	[ "${lines[1]}" = "exec-form" ]
	[ "${lines[2]}" = "heredoc hi" ]
	[ "${lines[3]}" = "app" ]
	[ "${lines[4]}" = "/opt/out" ]
	[ "${lines[5]}" = "the app" ]

	[ "$(config app .User)" = '"app"' ]
	[ "$(config app .WorkingDir)" = '"/opt/out"' ]
	[ "$(config app .Entrypoint)" = '["/bin/sh","-c"]' ]
	[ "$(config app .Cmd)" = '["cat msg exec heredoc; id -un; pwd; echo $WHO"]' ]
	[ "$(config app .Labels.stage)" = '"final"' ]
	config app .Env | grep -q '"WHO=the app"'
	# ARG values are not kept in the image; ENV of another stage neither
	! config app .Env | grep -q 'GREETING\|TARGET'
	[ "$(b image inspect app | jq -r '.[0].Id')" = "$id" ]
	# one layer more than the base: only the final stage's COPY
	[ "$(b image inspect app | jq '.[0].RootFS.Layers | length')" = 2 ]

	# the builder stage by --target: vi deleted through a whiteout, the
	# runtime's mount points (/proc, /sys, /dev, /etc/resolv.conf, /etc/hosts)
	# not in the layer
	run -0 bbuild -q --target builder -t builder "$CTX"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none builder sh -c 'ls /bin/vi; ls /out'
	[[ "$output" == *"No such file"* ]]
	m=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/builder:latest") | .digest' "$STORE/index.json")
	layers=$(jq -r '.layers[1:][].digest' "$STORE/blobs/sha256/${m#sha256:}")
	listing=$(for l in $layers; do tar -tzf "$STORE/blobs/sha256/${l#sha256:}"; done)
	echo "$listing" | grep -qx 'bin/.wh.vi'
	! echo "$listing" | grep -q '^proc\|^sys\|^dev\|^etc'
}

@test "build: independent stages run at the same time; a failing one fails the build after the others end" {
	cat >"$CTX/Containerfile" <<'EOF'
FROM bb AS a
RUN sleep 2 && echo a > /a
FROM bb AS b
RUN sleep 2 && echo a > /a
FROM bb AS c
RUN sleep 2 && echo c > /c
FROM bb
COPY --from=a /a /a
COPY --from=b /a /b
COPY --from=c /c /c
RUN cat /a /b /c
EOF
	start=$(date +%s%N)
	run -0 bbuild --no-cache -t par "$CTX"
	elapsed=$((($(date +%s%N) - start) / 1000000))
	echo "elapsed ${elapsed} ms" >&3
	# one after the other would take 6 s
	[ "$elapsed" -lt 5000 ]
	grep -qx a <<<"$output"
	grep -qx c <<<"$output"

	printf 'FROM bb AS bad\nRUN exit 3\nFROM bb AS slow\nRUN sleep 1\nFROM bb\nCOPY --from=bad /etc/passwd /p\nCOPY --from=slow /etc/passwd /q\n' >"$CTX/Containerfile"
	# two RUNs write their configs at once: once in ~100 builds a
	# capability name was read half-written ("CAP_FO", fixed in
	# spec/names.c; unit-spec-threads)
	run -125 bbuild --no-cache -t failed "$CTX"
	[[ "$output" == *"Containerfile:2: RUN: the command exited with code 3"* ]] || fail "unexpected build output: $output"
	# the slow stage's RUN ended before the error was reported
	num=$(grep -o '^#[0-9]* \[slow 2/2\]' <<<"$output" | cut -d' ' -f1)
	grep -q "^$num DONE" <<<"$output"
	[ -z "$(b images -q --filter reference=failed 2>/dev/null)" ]
	! b image inspect failed >/dev/null 2>&1
}

@test "build: an unchanged second build runs no RUN; --no-cache does; a changed source reruns from its COPY on" {
	echo one >"$CTX/data.txt"
	cat >"$CTX/Containerfile" <<'EOF'
FROM bb
RUN echo RAN-FIRST && cat /proc/sys/kernel/random/uuid > /stamp1
COPY data.txt /data.txt
RUN echo RAN-SECOND && cat /proc/sys/kernel/random/uuid > /stamp2
EOF
	run -0 bbuild -t c1 "$CTX"
	ran RAN-FIRST && ran RAN-SECOND
	first=$(diff_ids c1)

	# the RUNs' output is absent and their layers (with a random uuid
	# written by the RUN) are the same blobs: nothing ran
	run -0 bbuild -t c2 "$CTX"
	! ran RAN-FIRST && ! ran RAN-SECOND
	[ "$(grep -c CACHED <<<"$output")" = 3 ]
	[ "$(diff_ids c2)" = "$first" ]

	run -0 bbuild --no-cache -t c3 "$CTX"
	ran RAN-FIRST && ran RAN-SECOND
	[ "$(diff_ids c3)" != "$first" ]

	# a touched file with the same content is still a hit (digests, not mtimes)
	touch -d '2001-01-01' "$CTX/data.txt"
	run -0 bbuild -t c4 "$CTX"
	! ran RAN-FIRST && ! ran RAN-SECOND

	echo two >"$CTX/data.txt"
	run -0 bbuild -t c5 "$CTX"
	! ran RAN-FIRST
	ran RAN-SECOND
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none c5 cat /data.txt
	[ "$output" = two ]

	# a --build-arg a RUN sees changes its key
	printf 'FROM bb\nARG V=1\nRUN echo RAN-ARG-$V\n' >"$CTX/Argfile"
	run -0 bbuild -f "$CTX/Argfile" "$CTX"
	ran RAN-ARG-1
	run -0 bbuild -f "$CTX/Argfile" "$CTX"
	! ran RAN-ARG-1
	run -0 bbuild -f "$CTX/Argfile" --build-arg V=2 "$CTX"
	ran RAN-ARG-2
}

@test "build: builder prune drops dangling cache and the layers only it holds; image prune keeps the cache; --all drops all" {
	cat >"$CTX/Containerfile" <<'EOF'
FROM bb AS one
RUN echo RAN-ONE && echo one > /one && echo scratch > /scratch
FROM bb
RUN echo RAN-TWO && echo two > /two
COPY --from=one /one /one
EOF
	run -0 bbuild -t pr "$CTX"
	ran RAN-ONE && ran RAN-TWO
	[ "$(ls "$STORE/build-cache" | wc -l)" = 3 ]
	# stage one's layer is in no image: its entry is dangling
	one=$(for f in "$STORE"/build-cache/*; do jq -r '"\(.diff_id) \(.digest)"' "$f"; done |
		grep -vF -f <(b image inspect pr | jq -r '.[0].RootFS.Layers[]') | cut -d' ' -f2)
	[ "$(wc -l <<<"$one")" = 1 ]
	[ -f "$STORE/blobs/sha256/${one#sha256:}" ]

	# plain image prune leaves the cache's layers alone (docker's rule)
	run -0 b image prune -f
	run -0 bbuild -t pr "$CTX"
	! ran RAN-ONE && ! ran RAN-TWO

	# a bad filter changes nothing
	run -125 b builder prune -f --filter label=x
	[[ "$output" == *"only until=TIME"* ]]
	# entries used just now are not older than an hour
	run -0 b builder prune -a -f --filter until=1h
	[[ "$output" != *"Deleted build cache objects"* ]]
	[ "$(ls "$STORE/build-cache" | wc -l)" = 3 ]

	run -0 b builder prune -f
	[[ "$output" == *"Deleted build cache objects:"* ]]
	[ "$(ls "$STORE/build-cache" | wc -l)" = 2 ]
	[ ! -e "$STORE/blobs/sha256/${one#sha256:}" ]
	# the image's steps are still cached; stage one runs again
	run -0 bbuild -t pr "$CTX"
	ran RAN-ONE && ! ran RAN-TWO

	# image prune --build-cache --all: every entry (and the images)
	run -0 b image prune -f --build-cache --all
	[ -z "$(ls "$STORE/build-cache")" ]
	[[ "$output" == *"Total reclaimed space:"* ]]
	b import "$BATS_FILE_TMPDIR/rootfs.tar" bb --change 'CMD ["sh"]' >/dev/null
	run -0 bbuild -t pr "$CTX"
	ran RAN-ONE && ran RAN-TWO
	# system prune takes the dangling cache too
	run -0 b system prune -f
	[[ "$output" == *"Deleted build cache objects:"* ]]
	[ "$(ls "$STORE/build-cache" | wc -l)" = 2 ]
}

@test "build: RUN's default network is the engine's bridge (an address, the engine's resolv.conf), host and none as asked; nothing left" {
	cat >"$CTX/Containerfile" <<'EOF'
FROM bb
RUN ip -4 -o addr show > /addrs; hostname > /hn; cat /etc/resolv.conf > /resolv
RUN --network=none ip -o link show > /none
RUN --network=host ip -o link show > /host
EOF
	run -0 bbuild --no-cache -t netdef "$CTX"
	run -0 brun --rm --network none netdef sh -c 'cat /addrs; echo "hn $(cat /hn)"; echo NONE; cat /none; echo HOST; cat /host'
	# the bridge's address, not the test's "host" namespace (only lo there)
	grep -q 'eth0 *inet 10\.77\.' <<<"$output" || fail "no bridge address: $output"
	grep -qx 'hn buildkitsandbox' <<<"$output" || fail "hostname: $output"
	[ "$(sed -n '/^NONE$/,/^HOST$/p' <<<"$output" | grep -c ': ')" = 1 ]
	! sed -n '/^HOST$/,$p' <<<"$output" | grep -q eth0
	# the files RUN saw are not in the layers
	layers=$(b image inspect netdef | jq -r '.[0].RootFS.Layers | length')
	[ "$layers" = 4 ]
	for l in $(jq -r '.layers[].digest' "$STORE/blobs/sha256/$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/netdef:latest") | .digest' "$STORE/index.json" | cut -d: -f2)"); do
		! tar -tzf "$STORE/blobs/sha256/${l#sha256:}" | grep -q '^etc/resolv.conf$\|^etc/hosts$\|^etc/hostname$'
	done
	# no veth, lease or namespace of a RUN is left (engine_teardown checks too)
	[ -z "$(in_host ip -o link show type veth)" ]
	[ -z "$(ls -A "$RUNROOT/netns" 2>/dev/null)" ]
	# --network host: the old behaviour for every RUN
	run -0 bbuild --no-cache --network host -t nethost "$CTX"
}

@test "build: ADD of an http URL: the file (0600, its name from the URL), --checksum checked, keyed by content; errors" {
	mkdir -p "$TEST_DIR/www"
	echo "remote content" >"$TEST_DIR/www/file.txt"
	# nsenter execs python: $! is the server's pid (fd 3 closed, or bats waits for it)
	nsenter --net="$HOSTNS" python3 -m http.server 8000 --bind 127.0.0.1 --directory "$TEST_DIR/www" \
		</dev/null >/dev/null 2>&1 3>&- &
	server=$!
	CLEANUPS+=("kill $server")
	for ((i = 0; i < 50; i++)); do in_host sh -c 'exec 3<>/dev/tcp/127.0.0.1/8000' 2>/dev/null && break; sleep 0.1; done
	sum=$(sha256sum "$TEST_DIR/www/file.txt" | cut -d' ' -f1)
	cat >"$CTX/Containerfile" <<EOF
FROM bb
ADD --checksum=sha256:$sum http://127.0.0.1:8000/file.txt /opt/
ADD http://127.0.0.1:8000/file.txt?x=1 /renamed
EOF
	run -0 bbuild -t addurl "$CTX"
	run -0 brun --rm --network none addurl sh -c 'cat /opt/file.txt /renamed; stat -c "%a %u" /opt/file.txt /renamed'
	[ "$output" = "remote content
remote content
600 0
600 0" ] || fail "$output"
	# unchanged content: cached; changed: the ADD runs again
	run -0 bbuild -t addurl "$CTX"
	[ "$(grep -c CACHED <<<"$output")" = 2 ]
	echo "changed" >"$TEST_DIR/www/file.txt"
	printf 'FROM bb\nADD http://127.0.0.1:8000/file.txt /f\n' >"$CTX/Containerfile"
	run -0 bbuild -t addurl2 "$CTX"
	run -0 brun --rm --network none addurl2 cat /f
	[ "$output" = changed ]

	printf 'FROM bb\nADD --checksum=sha256:%s http://127.0.0.1:8000/file.txt /f\n' "$sum" >"$CTX/Containerfile"
	run -125 bbuild -t badsum "$CTX"
	[[ "$output" == *"checksum mismatch: expected sha256:$sum, got sha256:"* ]]
	printf 'FROM bb\nADD http://127.0.0.1:8000/missing /f\n' >"$CTX/Containerfile"
	run -125 bbuild -t missing "$CTX"
	[[ "$output" == *"the server answered 404"* ]]
	printf 'FROM bb\nADD --checksum=md5:x http://127.0.0.1:8000/file.txt /f\n' >"$CTX/Containerfile"
	run -125 bbuild -t badflag "$CTX"
	[[ "$output" == *"Containerfile:2: ADD: --checksum=md5:x: expected sha256:<64 hex digits>"* ]]
	printf 'FROM bb\nADD --checksum=sha256:%s Containerfile /f\n' "$sum" >"$CTX/Containerfile"
	run -125 bbuild -t local "$CTX"
	[[ "$output" == *"only for ADD of one http(s) URL"* ]]
	! b image inspect badsum >/dev/null 2>&1
	[ -z "$(ls -A "$STORE/build-tmp")" ]
}

@test "build: with SOURCE_DATE_EPOCH, two builds from scratch give the same image" {
	echo data >"$CTX/data.txt"
	printf 'FROM bb\nCOPY data.txt /data.txt\nRUN echo made > /made && rm /bin/vi\nWORKDIR /new/dir\nENV A=1\n' >"$CTX/Containerfile"
	SOURCE_DATE_EPOCH=1700000000 run -0 bbuild -q --no-cache -t r1 "$CTX"
	first=$output
	sleep 1.1 # other mtimes and times of day
	touch "$CTX/data.txt"
	SOURCE_DATE_EPOCH=1700000000 run -0 bbuild -q --no-cache -t r2 "$CTX"
	[ "$output" = "$first" ]
	[ "$(raw_config r1 | jq -r .created)" = "2023-11-14T22:13:20Z" ]
	[ "$(raw_config r1 | jq -r '[.history[-4:][].created] | unique | join(" ")')" = "2023-11-14T22:13:20Z" ]
	# without it, the times are the build's
	run -0 bbuild -q --no-cache -t r3 "$CTX"
	[ "$output" != "$first" ]
}

@test "build: .dockerignore excludes files, '!' keeps exceptions, ** matches across directories" {
	mkdir -p "$CTX/src/deep" "$CTX/secret"
	echo a >"$CTX/src/a.c"
	echo h >"$CTX/src/deep/x.h"
	echo pw >"$CTX/secret/key"
	echo keep >"$CTX/secret/keep.txt"
	echo log >"$CTX/debug.log"
	printf '# comment\nsecret\n!secret/keep.txt\n**/*.h\n*.log\n' >"$CTX/.dockerignore"
	printf 'FROM bb\nCOPY . /ctx/\n' >"$CTX/Containerfile"
	run -0 bbuild -q -t ign "$CTX"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none ign find /ctx -type f
	[[ "$output" == *"/ctx/src/a.c"* ]]
	[[ "$output" == *"/ctx/secret/keep.txt"* ]]
	[[ "$output" != *"key"* ]]
	[[ "$output" != *"x.h"* ]]
	[[ "$output" != *"debug.log"* ]]
	# Containerfile.dockerignore beside the file wins over the context's
	printf 'src\n' >"$CTX/Containerfile.dockerignore"
	run -0 bbuild -q -t ign2 "$CTX"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none ign2 find /ctx -type f
	[[ "$output" != *"/ctx/src/"* ]]
	[[ "$output" == *"/ctx/secret/key"* && "$output" == *"debug.log"* ]]
	rm "$CTX/Containerfile.dockerignore"
	# an excluded file is not in the context at all
	printf 'FROM bb\nCOPY debug.log /\n' >"$CTX/Containerfile"
	run -125 bbuild "$CTX"
	[[ "$output" == *'Containerfile:2: COPY: "debug.log": no such file or directory'* ]]
}

@test "build: COPY and ADD: globs, directory contents, trailing slash, --chown/--chmod, tar extraction, heredoc" {
	mkdir -p "$CTX/dir/sub" "$TEST_DIR/tarsrc/pkg"
	echo 1 >"$CTX/one.txt"
	echo 2 >"$CTX/two.txt"
	echo s >"$CTX/dir/sub/s"
	ln -s one.txt "$CTX/link"
	echo intar >"$TEST_DIR/tarsrc/pkg/f"
	tar -C "$TEST_DIR/tarsrc" -czf "$CTX/pkg.tar.gz" pkg
	cat >"$CTX/Containerfile" <<'EOF'
FROM bb
ARG NAME=app.conf
COPY *.txt /globbed/
COPY one.txt /renamed
COPY dir /contents
COPY link /links/
COPY --chown=app:app --chmod=0640 one.txt /owned
ADD pkg.tar.gz /unpacked/
WORKDIR /w
COPY one.txt relative/
COPY <<CONF /etc/$NAME
name=$NAME
CONF
EOF
	run -0 bbuild -q -t cp "$CTX"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none cp sh -c \
		'ls /globbed; cat /renamed; ls /contents; ls -l /links | tail -n 1; stat -c "%U:%G %a" /owned; cat /unpacked/pkg/f; cat /w/relative/one.txt; cat /etc/app.conf'
	[ "${lines[0]}" = "one.txt" ]
	[ "${lines[1]}" = "two.txt" ]
	[ "${lines[2]}" = "1" ]
	[ "${lines[3]}" = "sub" ] # the directory's contents, not the directory
	[[ "${lines[4]}" == *"link"* && "${lines[4]}" != *"->"* ]] # a source symlink is followed
	[ "${lines[5]}" = "app:app 640" ]
	[ "${lines[6]}" = "intar" ]
	[ "${lines[7]}" = "1" ]
	[ "${lines[8]}" = "name=app.conf" ]

	printf 'FROM bb\nCOPY one.txt two.txt /notadir\n' >"$CTX/Containerfile"
	run -125 bbuild "$CTX"
	[[ "$output" == *"Containerfile:2: COPY: with more than one source file, the destination must be a directory"* ]]
	printf 'FROM bb\nCOPY ../outside /x\n' >"$CTX/Containerfile"
	run -125 bbuild "$CTX"
	[[ "$output" == *"forbidden path outside the build context"* ]]
}

@test "build: COPY follows the image's directory symlinks inside the rootfs, never out of it" {
	mkdir -p "$CTX/tree/lib" "$TEST_DIR/hostdir"
	echo lib >"$CTX/tree/lib/libx.so"
	echo f >"$CTX/f"
	cat >"$CTX/Containerfile" <<EOF
FROM bb
RUN mkdir -p /usr/lib && ln -s usr/lib /lib && ln -s $TEST_DIR/hostdir /escape && ln -s /nowhere/file /dangling
COPY tree/ /
COPY f /escape/f
COPY f /escape/sub/
COPY f /dangling
EOF
	run -0 bbuild -q -t links "$CTX"
	# nothing was written on the host through the image's absolute symlink
	[ -z "$(ls -A "$TEST_DIR/hostdir")" ]
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none links sh -c \
		"readlink /lib; cat /usr/lib/libx.so; cat $TEST_DIR/hostdir/f $TEST_DIR/hostdir/sub/f; ls -l /dangling"
	[ "${lines[0]}" = usr/lib ]
	[ "${lines[1]}" = lib ]
	[ "${lines[2]}" = f ]
	[ "${lines[3]}" = f ]
	[[ "${lines[4]}" == *"/dangling"* && "${lines[4]}" != *"->"* ]] # the link is replaced by the file
}

@test "build: RUN --mount: a cache kept across builds, binds of the context and of a stage, tmpfs" {
	mkdir -p "$CTX/src"
	echo one >"$CTX/src/a"
	cat >"$CTX/Containerfile" <<'EOF'
FROM bb AS tools
RUN echo from-tools > /tool
FROM bb
ARG RUNS=1
RUN --mount=type=cache,target=/cache,id=test-cache echo "run $RUNS" >> /cache/log && cat /cache/log > /seen
RUN --mount=type=bind,source=src,target=/mnt/src cat /mnt/src/a > /copied
RUN --mount=type=bind,from=tools,source=/tool,target=/t cat /t > /from-tools
RUN --mount=type=tmpfs,target=/scratch,size=1m echo x > /scratch/x && df -k /scratch | tail -n 1 | tr -s ' ' | cut -d' ' -f2 > /tmpfs-size
RUN --mount=type=cache,target=/home/app/.cache,uid=1000,mode=0700 stat -c '%u %a' /home/app/.cache > /cache-owner
EOF
	run -0 bbuild -q -t mnt "$CTX"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none mnt sh -c \
		'cat /seen /copied /from-tools /tmpfs-size /cache-owner; ls /cache /mnt /scratch 2>&1; true'
	[ "${lines[0]}" = "run 1" ]
	[ "${lines[1]}" = one ]
	[ "${lines[2]}" = from-tools ]
	[ "${lines[3]}" = 1024 ]
	[ "${lines[4]}" = "1000 700" ]
	# the mount points are not in the image
	[[ "$output" == *"/cache: No such file"* && "$output" == *"/mnt: No such file"* ]]
	[[ "$output" == *"/scratch: No such file"* ]]
	# the cache outlives the build: a rerun appends to the same log
	run -0 bbuild -q --build-arg RUNS=2 -t mnt2 "$CTX"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none mnt2 cat /seen
	[ "${lines[0]}" = "run 1" ]
	[ "${lines[1]}" = "run 2" ]
	# a changed file under a bind mount reruns the step (and those after it)
	echo two >"$CTX/src/a"
	run -0 bbuild -t mnt3 "$CTX"
	[ "$(grep -c CACHED <<<"$output")" = 2 ] # the tools stage, the cache RUN; the steps after it rerun
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none mnt3 cat /copied
	[ "$output" = two ]
}

@test "build: --secret reaches RUN --mount=type=secret only, never a layer or the cache key's content" {
	printf 's3cret' >"$TEST_DIR/token"
	cat >"$CTX/Containerfile" <<'EOF'
FROM bb
RUN --mount=type=secret,id=token [ "$(cat /run/secrets/token)" = s3cret ] && stat -c '%a %u' /run/secrets/token && echo SECRET-SEEN
RUN --mount=type=secret,id=token,target=/etc/app/token,mode=0440,uid=1000 stat -c '%a %u' /etc/app/token
RUN --mount=type=secret,id=absent cat /run/secrets/absent || echo OPTIONAL-ABSENT
EOF
	run -0 bbuild --no-cache --secret "id=token,src=$TEST_DIR/token" -t sec "$CTX"
	grep -qx SECRET-SEEN <<<"$output"
	grep -qx "400 0" <<<"$output"
	grep -qx "440 1000" <<<"$output"
	grep -qx OPTIONAL-ABSENT <<<"$output"
	m=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/sec:latest") | .digest' "$STORE/index.json")
	for l in $(jq -r '.layers[1:][].digest' "$STORE/blobs/sha256/${m#sha256:}"); do
		! tar -xzOf "$STORE/blobs/sha256/${l#sha256:}" | grep -q s3cret
		! tar -tzf "$STORE/blobs/sha256/${l#sha256:}" | grep -q 'secrets\|token'
	done
	! grep -rq s3cret "$STORE/build-cache" "$STORE/build-tmp"
	# another secret value is still a cache hit (BuildKit's rule)
	printf 'other' >"$TEST_DIR/token"
	run -0 bbuild --secret "id=token,src=$TEST_DIR/token" -t sec2 "$CTX"
	! grep -qx SECRET-SEEN <<<"$output"
	# from the environment; a required one missing fails the step
	printf 'FROM bb\nRUN --mount=type=secret,id=envtok,required [ "$(cat /run/secrets/envtok)" = fromenv ]\n' >"$CTX/Containerfile"
	ENVTOK=fromenv run -0 bbuild -q --no-cache --secret id=envtok,env=ENVTOK "$CTX"
	run -125 bbuild "$CTX"
	[[ "$output" == *'Containerfile:2: RUN: --mount: secret "envtok" is required but the build has none'* ]]
	run -125 bbuild --secret id=x,src=/nonexistent "$CTX"
	[[ "$output" == *"--secret id=x"*"/nonexistent"* ]]
}

@test "build: ONBUILD triggers of the base image run first in the child's context, and are not inherited" {
	echo from-child-context >"$CTX/input.txt"
	printf 'FROM bb\nONBUILD COPY input.txt /in.txt\nONBUILD RUN echo TRIGGER-RAN && cat /in.txt > /out.txt\n' >"$TEST_DIR/Parent"
	run -0 bbuild -q -f "$TEST_DIR/Parent" -t parent "$CTX"
	[ "$(raw_config parent | jq -c .config.OnBuild)" = '["COPY input.txt /in.txt","RUN echo TRIGGER-RAN && cat /in.txt > /out.txt"]' ]
	# image inspect shows them, as docker does
	[ "$(config parent .OnBuild)" = '["COPY input.txt /in.txt","RUN echo TRIGGER-RAN && cat /in.txt > /out.txt"]' ]
	printf 'FROM parent\nRUN cat /out.txt\n' >"$CTX/Containerfile"
	run -0 bbuild -t child "$CTX"
	[[ "$output" == *"[stage-0 ONBUILD] COPY input.txt /in.txt"* ]]
	grep -qx TRIGGER-RAN <<<"$output"
	grep -qx from-child-context <<<"$output"
	[ "$(raw_config child | jq -c .config.OnBuild)" = null ]
	printf 'FROM bb\nSHELL ["/bin/sh", "-e", "-c"]\nONBUILD RUN exit 4\n' >"$TEST_DIR/Parent"
	run -0 bbuild -q -f "$TEST_DIR/Parent" -t parent2 "$CTX"
	[ "$(config parent2 .Shell)" = '["/bin/sh","-e","-c"]' ]
	printf 'FROM parent2\n' >"$CTX/Containerfile"
	run -125 bbuild "$CTX"
	[[ "$output" == *"ONBUILD trigger of parent2: Containerfile:1: RUN: the command exited with code 4"* ]]
}

@test "build: a base image missing from the store is pulled; --pull takes the registry's newer one" {
	registry_start
	CLEANUPS+=("registry_stop")
	# berth on the host's network here: the registry listens on its
	# 127.0.0.1; RUN on the host's network too (the default bridge would be
	# made in the host's namespace, which tests never touch)
	bh() { "$BERTH_BIN" --root "$STORE" --runroot "$RUNROOT" "$@"; }
	bhbuild() { bh build --cgroup-parent "berth-test/$TAG" --tls-verify=false --network host "$@"; }
	printf 'FROM bb\nCOPY v.txt /v.txt\n' >"$TEST_DIR/Base"
	printf 'FROM %s/base:1\nRUN cat /v.txt > /seen\n' "$REGISTRY" >"$CTX/Containerfile"
	echo v2 >"$CTX/v.txt"
	bhbuild -q -f "$TEST_DIR/Base" -t "$REGISTRY/base:1" "$CTX" >/dev/null
	bh push -q --tls-verify=false "$REGISTRY/base:1"
	bh rmi "$REGISTRY/base:1" >/dev/null
	run -0 bhbuild -q -t fromreg "$CTX"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none fromreg cat /seen
	[ "$output" = v2 ]
	# the store's base is older than the registry's: a plain build keeps
	# the stored one, --pull fetches the registry's
	echo v1 >"$CTX/v.txt"
	bhbuild -q -f "$TEST_DIR/Base" -t "$REGISTRY/base:1" "$CTX" >/dev/null
	run -0 bhbuild -q -t stale "$CTX"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none stale cat /seen
	[ "$output" = v1 ]
	run -0 bhbuild -q --pull -t fresh "$CTX"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none fresh cat /seen
	[ "$output" = v2 ]
}

@test "build: a bad Containerfile names the file, the line and the instruction, and leaves nothing" {
	before=$(b images -q | sort)
	printf 'FROM bb\nRUN echo one\n\n# a comment\nENV A=1\nCOPY onlyone\n' >"$CTX/Containerfile"
	run -125 bbuild -t bad "$CTX"
	[[ "$output" == *"Containerfile:6: COPY: requires at least two arguments"* ]]
	# nothing ran: the error came before the first step
	[[ "$output" != *"#1"* ]]
	printf 'FROM bb\nFROBNICATE x\n' >"$CTX/Dockerfile"
	rm "$CTX/Containerfile"
	run -125 bbuild -t bad "$CTX"
	[[ "$output" == *"Dockerfile:2: unknown instruction: FROBNICATE"* ]]
	printf 'FROM --platform=linux/s390x bb\n' >"$CTX/Dockerfile"
	run -125 bbuild -t bad "$CTX"
	[[ "$output" == *"Dockerfile:1: FROM: --platform=linux/s390x: berth builds for this host's platform"* ]]
	printf 'FROM bb\nRUN --mount=type=ssh true\n' >"$CTX/Dockerfile"
	run -125 bbuild -t bad "$CTX"
	[[ "$output" == *"Dockerfile:2: RUN: --mount: type=ssh is not supported"* ]]
	[ "$(b images -q | sort)" = "$before" ]
}

@test "build: a failing RUN shows its output and exit code; no image, mount or temp dir is left" {
	before=$(b images -q | sort)
	printf 'FROM bb\nRUN echo partial > /partial && echo SEEN-OUTPUT && exit 7\n' >"$CTX/Containerfile"
	run -125 bbuild -t failed "$CTX"
	grep -qx SEEN-OUTPUT <<<"$output"
	[[ "$output" == *"Containerfile:2: RUN: the command exited with code 7"* ]]
	run -125 bbuild -q -t failed "$CTX"
	grep -qx SEEN-OUTPUT <<<"$output" # -q still shows a failing step's output
	[ "$(b images -q | sort)" = "$before" ]
	[ -z "$(ls -A "$STORE/build-tmp")" ]
	! grep -q "$STORE" /proc/self/mountinfo
}

@test "build: what a killed build left in the store's temp dir is swept by the next build" {
	mkdir -p "$STORE/build-tmp"
	true &
	dead=$!
	wait $dead
	stale="$STORE/build-tmp/step-$dead-1-abcdef"
	mkdir -p "$stale/rootfs" "$stale/upper" "$stale/work"
	mount -t tmpfs tmpfs "$stale/rootfs"
	CLEANUPS+=("umount '$stale/rootfs'")
	# a live build's dir (this shell's pid and start time) stays
	live="$STORE/build-tmp/step-$$-$(cut -d' ' -f22 /proc/$$/stat)-abcdef"
	mkdir -p "$live"
	printf 'FROM bb\nCOPY Containerfile /\n' >"$CTX/Containerfile"
	run -0 bbuild -q "$CTX"
	[ ! -e "$stale" ]
	! grep -q "$stale" /proc/self/mountinfo
	[ -d "$live" ]
	rmdir "$live"
}

@test "build: -f, a context on stdin, --iidfile, --label, --network none, -q and berth image build" {
	echo hi >"$CTX/f.txt"
	printf 'FROM bb\nCOPY f.txt /f.txt\nRUN ip -o link | grep -v " lo:" | wc -l > /links\n' >"$TEST_DIR/Other"
	run -0 b image build --cgroup-parent "berth-test/$TAG" -q -f "$TEST_DIR/Other" --iidfile "$TEST_DIR/iid" \
		--label a=b --label c=d -t one -t two --network none "$CTX"
	[ "${#lines[@]}" = 1 ]
	[ "$output" = "$(cat "$TEST_DIR/iid")" ]
	[ "$(config one .Labels)" = '{"a":"b","c":"d"}' ]
	[ "$(b image inspect two | jq -r '.[0].Id')" = "$output" ]
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none one cat /f.txt /links
	[ "${lines[0]}" = hi ]
	[ "${lines[1]}" = 0 ] # only lo inside RUN --network none

	cp "$TEST_DIR/Other" "$CTX/Containerfile"
	tar -C "$CTX" -cf - . | b build --cgroup-parent "berth-test/$TAG" -q -t fromstdin - >"$TEST_DIR/out"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none fromstdin cat /f.txt
	[ "$output" = hi ]
	run -125 bbuild --network bridge "$CTX"
	[[ "$output" == *"--network: expected none, default or host"* ]]
}

@test "build: --output writes the rootfs to a directory, or the image as an OCI or docker archive" {
	echo hi >"$CTX/f.txt"
	printf 'FROM bb\nCOPY --chown=1000:1000 f.txt /app/f.txt\nRUN rm /bin/vi\nCMD ["cat", "/app/f.txt"]\n' >"$CTX/Containerfile"
	run -0 bbuild -q -o "type=local,dest=$TEST_DIR/out" -t loc "$CTX"
	[ "$(cat "$TEST_DIR/out/app/f.txt")" = hi ]
	[ "$(stat -c %u:%g "$TEST_DIR/out/app/f.txt")" = 1000:1000 ]
	[ -e "$TEST_DIR/out/bin/busybox" ]
	[ ! -e "$TEST_DIR/out/bin/vi" ]
	run -0 bbuild -q --output "type=oci,dest=$TEST_DIR/img.tar" -t arch "$CTX"
	b rmi arch >/dev/null
	run -0 b load -i "$TEST_DIR/img.tar"
	run -0 b run --rm --cgroup-parent "berth-test/$TAG" --network none arch
	[ "$output" = hi ]
	run -0 bbuild -q --output "type=docker,dest=$TEST_DIR/docker.tar" "$CTX"
	tar -tf "$TEST_DIR/docker.tar" | grep -qx manifest.json
	run -125 bbuild --output type=zip,dest=x "$CTX"
	[[ "$output" == *'--output: unknown type "zip"'* ]]
}

# tree DIR: every entry of DIR (path, type, mode, owner, size, link target,
# sha256 of a file's content), sorted; no times.
tree() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %U:%G %s %l\n' | sort &&
		find . -type f -exec sha256sum {} + | sort -k 2)
}

# unpack_layers OCI_DIR MANIFEST DEST: the manifest's layers applied in
# order, OCI whiteouts included (.wh.NAME deletes NAME, .wh..wh..opq empties
# the directory of what earlier layers put there).
unpack_layers() {
	local l layer wh dir
	mkdir -p "$3"
	for l in $(jq -r '.layers[].digest' "$1/blobs/sha256/${2#sha256:}"); do
		layer=$(mktemp -d "$3.layer.XXXXXX")
		tar -C "$layer" --numeric-owner -xpf "$1/blobs/sha256/${l#sha256:}"
		while IFS= read -r -d '' wh; do
			dir=$(dirname "${wh#"$layer"}")
			if [ "$(basename "$wh")" = .wh..wh..opq ]; then
				find "$3$dir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
			else
				rm -rf "$3$dir/$(basename "$wh" | sed 's/^\.wh\.//')"
			fi
			rm -f "$wh"
		done < <(find "$layer" -name '.wh.*' -print0)
		cp -a "$layer/." "$3/"
		rm -rf "$layer"
	done
}

@test "build: the image config and rootfs equal buildah's for the same Containerfile" {
	BUILDAH=${BUILDAH:-buildah}
	command -v "$BUILDAH" >/dev/null || skip "buildah is not installed"
	mkdir -p "$CTX/d/sub"
	echo data >"$CTX/data.txt"
	echo x >"$CTX/d/sub/x"
	chmod 700 "$CTX/d/sub"
	ln -s ../data.txt "$CTX/d/link"
	cat >"$CTX/Containerfile" <<'EOF'
FROM scratch
ARG PORT=8080
COPY data.txt /srv/data.txt
COPY d /srv/d/
COPY --chown=10:20 --chmod=0755 data.txt /opt/bin/tool
ENV A=1 B="two words"
ENV PATHX=/opt:$A
WORKDIR /srv
WORKDIR sub
USER 1000:1000
EXPOSE $PORT 53/udp
VOLUME ["/data", "/cache"]
LABEL k=v "with space"="a b"
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["/bin/true"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
EOF
	bh() { "$BUILDAH" --root "$TEST_DIR/bh/root" --runroot "$TEST_DIR/bh/run" --storage-driver vfs "$@"; }
	CLEANUPS+=("rm -rf '$TEST_DIR/bh'")
	bh bud --format docker -q -t cmp "$CTX" >/dev/null || skip "buildah bud does not work on this host"
	bh push -q cmp "oci:$TEST_DIR/bh-oci" >/dev/null
	theirs=$(bh inspect --type image cmp | jq -S '.Docker.config | {User, Env, Entrypoint, Cmd, WorkingDir, Labels: (.Labels | del(.["io.buildah.version"])), ExposedPorts, Volumes, StopSignal, Healthcheck}')
	rm -rf "$TEST_DIR/bh"
	id=$(bbuild -q -t cmp "$CTX")
	ours=$(b image inspect "$id" | jq -S '.[0].Config')
	diff <(echo "$ours") <(echo "$theirs")

	# the same files, modes, owners, links and contents
	unpack_layers "$TEST_DIR/bh-oci" "$(jq -r '.manifests[0].digest' "$TEST_DIR/bh-oci/index.json")" "$TEST_DIR/theirs"
	unpack_layers "$STORE" "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/cmp:latest") | .digest' "$STORE/index.json")" "$TEST_DIR/ours"
	diff <(tree "$TEST_DIR/ours") <(tree "$TEST_DIR/theirs")
}

@test "build: RUN's layers give the rootfs buildah's give (deletions, opaque dirs, modes, links)" {
	BUILDAH=${BUILDAH:-buildah}
	command -v "$BUILDAH" >/dev/null || skip "buildah is not installed"
	cat >"$CTX/Containerfile" <<'EOF'
FROM bb
RUN mkdir -p /app/sub && echo hi > /app/f && chmod 600 /app/f && ln -s f /app/l && ln /app/f /app/hard && rm /bin/vi
RUN rm -r /tmp && mkdir /tmp && chmod 1777 /tmp && echo new > /tmp/n && rm -r /app/sub && chown 1000:1000 /app
EOF
	bh() { "$BUILDAH" --root "$TEST_DIR/bh/root" --runroot "$TEST_DIR/bh/run" --storage-driver vfs "$@"; }
	CLEANUPS+=("rm -rf '$TEST_DIR/bh'")
	b save -o "$TEST_DIR/bb.tar" --format oci-archive bb
	bh pull -q "oci-archive:$TEST_DIR/bb.tar" >/dev/null || skip "buildah cannot read the base image"
	bh bud --isolation chroot --pull-never -q -t runcmp "$CTX" >/dev/null || skip "buildah bud with RUN does not work on this host"
	bh push -q runcmp "oci:$TEST_DIR/bh-oci" >/dev/null
	rm -rf "$TEST_DIR/bh"
	run -0 bbuild -q -t runcmp "$CTX"
	unpack_layers "$TEST_DIR/bh-oci" "$(jq -r '.manifests[0].digest' "$TEST_DIR/bh-oci/index.json")" "$TEST_DIR/theirs"
	unpack_layers "$STORE" "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/runcmp:latest") | .digest' "$STORE/index.json")" "$TEST_DIR/ours"
	# buildah 1.28 leaves the mount points of RUN (/dev, /proc, /sys, /run,
	# empty /etc/hosts, /etc/hostname, /etc/resolv.conf) in the image;
	# berth takes them out as BuildKit does
	diff <(tree "$TEST_DIR/ours") <(tree "$TEST_DIR/theirs" |
		grep -v '^\./\(dev\|proc\|sys\|run\|etc/hostname\|etc/hosts\|etc/resolv\.conf\) \|  \./etc/\(hostname\|hosts\|resolv\.conf\)$')
}

@test "build: a C program compiled with gcc in a Debian stage (debootstrap), copied into busybox: rootfs and config equal buildah's" {
	BUILDAH=${BUILDAH:-buildah}
	command -v "$BUILDAH" >/dev/null || skip "buildah is not installed"
	# bookworm minbase + gcc, made once and cached (/var/cache/berth-fresh);
	# exit 3: debootstrap cannot make it here (no network, no debootstrap)
	local rc=0
	debian=$("$REPO_ROOT/scripts/debian-rootfs.sh" --include=gcc,libc6-dev 2>"$TEST_DIR/debian.err") || rc=$?
	[ $rc != 3 ] || skip "no cached Debian root with gcc, and debootstrap cannot make one here: $(grep -v '^debian-rootfs.sh:' "$TEST_DIR/debian.err" | tail -n 1)"
	[ $rc = 0 ] || fail "scripts/debian-rootfs.sh failed ($rc): $(cat "$TEST_DIR/debian.err")"
	run -0 b import "$debian" debgcc
	cat >"$CTX/hello.c" <<'EOF'
#include <stdio.h>
int main(int argc, char **argv)
{
	printf("hello, %s\n", argc > 1 ? argv[1] : "nobody");
	return 0;
}
EOF
	cat >"$CTX/Containerfile" <<'EOF'
FROM debgcc AS build
WORKDIR /src
COPY hello.c .
RUN gcc -O2 -static -o hello hello.c && ./hello build > /src/out.txt

FROM bb
COPY --from=build /src/hello /usr/local/bin/hello
COPY --from=build --chown=1000:1000 /src/out.txt /home/app/
ENV GREETING=hi
WORKDIR /home/app
USER 1000:1000
EXPOSE 8080/tcp
LABEL org.example.app=hello
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hello"]
CMD ["world"]
EOF
	run -0 bbuild -q -t gcchello "$CTX"
	run -0 brun --rm --network none gcchello
	[ "$output" = "hello, world" ]
	run -0 brun --rm --network none --entrypoint cat gcchello /home/app/out.txt
	[ "$output" = "hello, build" ]

	bh() { "$BUILDAH" --root "$TEST_DIR/bh/root" --runroot "$TEST_DIR/bh/run" --storage-driver vfs "$@"; }
	CLEANUPS+=("rm -rf '$TEST_DIR/bh'")
	b save -o "$TEST_DIR/bb.tar" --format oci-archive bb
	b save -o "$TEST_DIR/debgcc.tar" --format oci-archive debgcc
	bh pull -q "oci-archive:$TEST_DIR/bb.tar" >/dev/null
	bh pull -q "oci-archive:$TEST_DIR/debgcc.tar" >/dev/null
	rm "$TEST_DIR/debgcc.tar"
	bh bud --format docker --isolation chroot --pull-never -q -t gcchello "$CTX" >/dev/null
	bh push -q gcchello "oci:$TEST_DIR/bh-oci" >/dev/null
	fields='{User, Env, Entrypoint, Cmd, WorkingDir, Labels: ((.Labels // {}) | del(.["io.buildah.version"])), ExposedPorts, Volumes, StopSignal, Healthcheck}'
	theirs=$(bh inspect --type image gcchello | jq -S ".Docker.config | $fields")
	rm -rf "$TEST_DIR/bh"
	ours=$(b image inspect gcchello | jq -S ".[0].Config | $fields")
	diff <(echo "$ours") <(echo "$theirs")

	unpack_layers "$TEST_DIR/bh-oci" "$(jq -r '.manifests[0].digest' "$TEST_DIR/bh-oci/index.json")" "$TEST_DIR/theirs"
	unpack_layers "$STORE" "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/gcchello:latest") | .digest' "$STORE/index.json")" "$TEST_DIR/ours"
	# the compiled program is there, byte for byte the same as buildah's
	[ -x "$TEST_DIR/ours/usr/local/bin/hello" ]
	diff <(tree "$TEST_DIR/ours") <(tree "$TEST_DIR/theirs")
}

@test "build: the corpus of directives, ARG/ENV expansion, RUN forms and mounts, COPY/ADD forms equals buildah's" {
	BUILDAH=${BUILDAH:-buildah}
	command -v "$BUILDAH" >/dev/null || skip "buildah is not installed"
	mkdir -p "$CTX/files/sub" "$TEST_DIR/tarsrc/pkg"
	echo a >"$CTX/files/a.txt"
	echo b >"$CTX/files/b.txt"
	echo s >"$CTX/files/sub/s.dat"
	echo space >"$CTX/files/with space.txt"
	chmod 640 "$CTX/files/b.txt"
	echo packed >"$TEST_DIR/tarsrc/pkg/p"
	ln -s p "$TEST_DIR/tarsrc/pkg/plink"
	tar -C "$TEST_DIR/tarsrc" --owner=7 --group=8 --numeric-owner -czf "$CTX/files.tar.gz" pkg
	printf 's3cret' >"$TEST_DIR/tok"
	mkdir -p "$TEST_DIR/www"
	echo "remote content" >"$TEST_DIR/www/remote.txt"
	nsenter --net="$HOSTNS" python3 -m http.server 8000 --bind 127.0.0.1 --directory "$TEST_DIR/www" \
		</dev/null >/dev/null 2>&1 3>&- &
	CLEANUPS+=("kill $!")
	for ((i = 0; i < 50; i++)); do in_host sh -c 'exec 3<>/dev/tcp/127.0.0.1/8000' 2>/dev/null && break; sleep 0.1; done
	# escape=` : the backtick continues lines and a backslash is a plain character
	cat >"$CTX/Containerfile" <<'EOF'
# escape=`
# syntax=docker/dockerfile:1
ARG BASE=bb
FROM --platform=linux/amd64 ${BASE} AS tools
RUN ["/bin/sh", "-c", "mkdir -p /tool && echo tool > /tool/t"]
ONBUILD RUN echo never-run-here

FROM $BASE
ARG V
ARG EMPTY
ARG WITHDEFAULT=dflt
ENV A=${V:-none} B=${V:+set} C=${EMPTY:-fallback} D=${EMPTY:+never} E=${WITHDEFAULT} `
    F=back\slash
SHELL ["/bin/sh", "-e", "-c"]
# a comment
RUN echo "$A $B $C $D $E" > /vars `
    # a comment inside a continuation
    && echo "proxy=$HTTP_PROXY" >> /vars
RUN --mount=type=bind,source=files,target=/mnt/ctx cp /mnt/ctx/a.txt /bound
RUN --mount=type=bind,from=tools,source=/tool,target=/mnt/tool cp /mnt/tool/t /from-tools-mount
RUN --mount=type=tmpfs,target=/mnt/scratch touch /mnt/scratch/x && ls /mnt/scratch > /tmpfs
RUN --mount=type=cache,target=/var/cache/c echo c > /var/cache/c/c && cat /var/cache/c/c > /cached
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /secretlen
COPY files/*.txt /globbed/
COPY files /dir-contents
COPY files/a.txt /as-file
COPY files/a.txt /into-dir/
COPY ["files/with space.txt", "/json form/"]
ADD files.tar.gz /extracted/
COPY --from=tools /tool /tool-dir
COPY --from=bb /bin/busybox /from-image/busybox
ADD http://127.0.0.1:8000/remote.txt /remote/
ADD --chmod=644 --chown=5:6 http://127.0.0.1:8000/remote.txt /remote644
WORKDIR /work
COPY files/b.txt relative/
ONBUILD RUN echo triggered
EOF
	# buildah downloads in the test's "host" namespace, as berth does
	bh() { nsenter --net="$HOSTNS" env TMPDIR="$TEST_DIR/bh/tmp" "$BUILDAH" --root "$TEST_DIR/bh/root" --runroot "$TEST_DIR/bh/run" --storage-driver vfs "$@"; }
	CLEANUPS+=("rm -rf '$TEST_DIR/bh'")
	mkdir -p "$TEST_DIR/bh/tmp"
	args=(--build-arg V=given --build-arg HTTP_PROXY=http://proxy.invalid:3128 --secret "id=tok,src=$TEST_DIR/tok")
	b save -o "$TEST_DIR/bb.tar" --format oci-archive bb
	bh pull -q "oci-archive:$TEST_DIR/bb.tar" >/dev/null
	bh bud --format docker --isolation chroot --pull-never -q "${args[@]}" -t corpus "$CTX" >/dev/null
	bh push -q corpus "oci:$TEST_DIR/bh-oci" >/dev/null
	# buildah writes empty values ("", [], {}) where berth leaves the field
	# out: both read as unset
	fields='{User, Env, Entrypoint, Cmd, WorkingDir, Labels: ((.Labels // {}) | del(.["io.buildah.version"])), ExposedPorts, Volumes, StopSignal, Healthcheck, Shell, OnBuild} | map_values(if . == "" or . == [] or . == {} then null else . end)'
	# with "# escape=`" a backslash is a plain character (Docker's reference:
	# "COPY testfile.txt c:\"); buildah 1.28 still drops it ("backslash")
	theirs=$(bh inspect --type image corpus | jq -S ".Docker.config | $fields | .Env |= map(if . == \"F=backslash\" then \"F=back\\\\slash\" else . end)")
	rm -rf "$TEST_DIR/bh"
	run -0 bbuild -q "${args[@]}" -t corpus "$CTX"
	ours=$(raw_config corpus | jq -S ".config | $fields")
	diff <(echo "$ours") <(echo "$theirs")

	unpack_layers "$TEST_DIR/bh-oci" "$(jq -r '.manifests[0].digest' "$TEST_DIR/bh-oci/index.json")" "$TEST_DIR/theirs"
	unpack_layers "$STORE" "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/corpus:latest") | .digest' "$STORE/index.json")" "$TEST_DIR/ours"
	[ "$(cat "$TEST_DIR/ours/vars")" = 'given set fallback  dflt
proxy=http://proxy.invalid:3128' ]
	[ "$(cat "$TEST_DIR/ours/secretlen")" = 6 ]
	[ "$(stat -c %u:%g "$TEST_DIR/ours/extracted/pkg/p")" = 7:8 ]
	[ "$(readlink "$TEST_DIR/ours/extracted/pkg/plink")" = p ]
	[ -f "$TEST_DIR/ours/json form/with space.txt" ] && [ -f "$TEST_DIR/ours/work/relative/b.txt" ]
	[ -f "$TEST_DIR/ours/globbed/a.txt" ] && [ ! -e "$TEST_DIR/ours/globbed/s.dat" ]
	[ -f "$TEST_DIR/ours/dir-contents/sub/s.dat" ] && [ -f "$TEST_DIR/ours/into-dir/a.txt" ]
	[ "$(cat "$TEST_DIR/ours/from-tools-mount" "$TEST_DIR/ours/tool-dir/t")" = "tool
tool" ]
	[ "$(raw_config corpus | jq -c .config.OnBuild)" = '["RUN echo triggered"]' ]
	[ "$(stat -c '%a %u:%g' "$TEST_DIR/ours/remote/remote.txt" "$TEST_DIR/ours/remote644")" = "600 0:0
644 5:6" ]
	# buildah 1.28 leaves RUN's mount points in the image (/dev, /proc,
	# /sys, /run, /etc/hosts, ..., and those of RUN --mount); berth takes
	# them out as BuildKit does (with the parents it made for them: /var,
	# /var/cache of the cache mount)
	diff <(tree "$TEST_DIR/ours") <(tree "$TEST_DIR/theirs" |
		grep -v '^\./\(dev\|proc\|sys\|run\|mnt\|etc/hostname\|etc/hosts\|etc/resolv\.conf\|var\)\(/[^ ]*\)\? \|  \./\(etc/\(hostname\|hosts\|resolv\.conf\)\|var/.*\)$')
}
