#!/usr/bin/env bats
# The image store and its commands: ls/inspect/tag/rm/prune, an image as an
# OCI bundle run by berth-runtime, concurrent commands, and a store that
# survives kill -9 at any moment.

load helpers

BERTH_BIN="${BERTH:-$REPO_ROOT/build/src/cmd/berth/berth}"

setup_file() {
	local dir="$BATS_FILE_TMPDIR/rootfs"
	mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp"
	cp /bin/busybox "$dir/bin/busybox"
	for a in sh echo cat ls id true false sleep touch; do ln -s busybox "$dir/bin/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' >"$dir/etc/passwd"
	printf 'root:x:0:\napp:x:1000:\n' >"$dir/etc/group"
	echo base >"$dir/etc/marker"
	tar -C "$dir" -cf "$BATS_FILE_TMPDIR/rootfs.tar" .
	export ROOTFS_TAR="$BATS_FILE_TMPDIR/rootfs.tar"
}

setup() {
	berth_setup
	STORE="$TEST_DIR/store"
}

teardown() {
	# bundles made from images: unmount before the generic checks
	for b in "$TEST_DIR"/bundle*; do
		[ -d "$b" ] && "$BERTH_BIN" --root "$STORE" bundle --remove "$b" >/dev/null 2>&1
	done
	berth_teardown
}

bi() {
	"$BERTH_BIN" --root "$STORE" "$@"
}

# import_busybox NAME: a one-layer image from the rootfs tarball; prints the id
import_busybox() {
	bi import "$ROOTFS_TAR" "$1" --change 'CMD ["sh"]'
}

@test "image: import, then ls, inspect and resolve by name, short name and id prefix" {
	run import_busybox localhost/bb:1
	[ "$status" -eq 0 ]
	id=$(echo "$output" | tail -1)
	[[ "$id" =~ ^(sha256:)?[0-9a-f]{64}$ ]]
	id=${id#sha256:}
	run bi image ls
	[ "$status" -eq 0 ]
	[[ "$output" == *"localhost/bb"*"1"*"${id:0:12}"* ]]
	run bi image inspect bb:1
	[ "$status" -eq 0 ]
	# with its "sha256:", as docker prints it
	[ "$(echo "$output" | jq -r '.[0].Id')" = "sha256:$id" ]
	[ "$(echo "$output" | jq -r '.[0].RepoTags[0]')" = "localhost/bb:1" ]
	[ "$(echo "$output" | jq -r '.[0].Config.Cmd[0]')" = sh ]
	[ "$(echo "$output" | jq -r '.[0].RootFS.Layers | length')" = 1 ]
	run bi image inspect "${id:0:8}"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '.[0].Id')" = "sha256:$id" ]
	run bi images --format json
	[ "$(echo "$output" | jq -r 'length')" = 1 ]
	run bi images -q
	[ "$output" = "${id:0:12}" ]
	# the store is an OCI image layout skopeo can read
	run skopeo inspect "oci:$STORE:localhost/bb:1"
	[ "$status" -eq 0 ]
}

@test "image: tag adds names; rm untags one name, refuses an id with several names, --force removes all" {
	import_busybox localhost/bb:1 >/dev/null
	bi tag localhost/bb:1 localhost/bb:2 example.com/team/bb:x
	run bi image inspect localhost/bb:1
	[ "$(echo "$output" | jq -r '.[0].RepoTags | length')" = 3 ]
	id=$(echo "$output" | jq -r '.[0].Id')
	id=${id#sha256:}
	run bi rmi localhost/bb:2
	[ "$status" -eq 0 ]
	[[ "$output" == *"Untagged: localhost/bb:2"* ]]
	[ -n "$(ls "$STORE/snapshots")" ]
	run bi rmi "${id:0:12}"
	[ "$status" -ne 0 ]
	[[ "$output" == *"has 2 names"*"--force"* ]]
	run bi rmi --force "${id:0:12}"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Deleted: sha256:$id"* ]]
	# nothing references the blobs and the snapshot any more: rm freed them
	[ -z "$(ls "$STORE/blobs/sha256")" ]
	[ -z "$(ls "$STORE/snapshots")" ]
	[ "$(jq '.manifests | length' "$STORE/index.json")" = 0 ]
}

@test "image: prune drops unnamed images and keeps snapshots a mounted bundle uses" {
	import_busybox localhost/keep:1 >/dev/null
	id2=$(bi import "$ROOTFS_TAR" --change 'CMD ["echo","two"]' --message other | tail -1)
	bi bundle localhost/keep:1 "$TEST_DIR/bundle1"
	run bi images -q
	[ "$(echo "$output" | wc -l)" = 2 ]
	run bi image prune -f
	[ "$status" -eq 0 ]
	run bi images -q
	[ "$output" != "" ]
	[ "$(echo "$output" | wc -l)" = 1 ]
	run bi image inspect "$id2"
	[ "$status" -ne 0 ]
	# --all removes the named image too, but not the snapshot the bundle mounts
	run bi image prune -f --all
	[ "$status" -eq 0 ]
	[ "$(jq '.manifests | length' "$STORE/index.json")" = 0 ]
	[ -n "$(ls "$STORE/snapshots")" ]
	[ -x "$TEST_DIR/bundle1/rootfs/bin/busybox" ]
	bi bundle --remove "$TEST_DIR/bundle1"
	bi image prune -f --all
	[ -z "$(ls "$STORE/snapshots")" ]
}

@test "image: a bundle from an image runs with berth-runtime; writes go to the container's upper dir" {
	import_busybox localhost/bb:1 >/dev/null
	b="$TEST_DIR/bundle1"
	run bi bundle localhost/bb:1 "$b" -- sh -c 'echo hello from the image; cat /etc/marker; echo changed >/etc/marker; id -u'
	[ "$status" -eq 0 ]
	grep -q "overlay $b/rootfs" /proc/self/mounts
	[ "$(jq -r '.process.args[0]' "$b/config.json")" = sh ]
	[ "$(jq -r '.root.readonly' "$b/config.json")" = false ]
	jq --arg cg "berth-test/$TAG" '.linux.cgroupsPath = $cg | .process.terminal = false' "$b/config.json" >"$b/c.tmp"
	mv "$b/c.tmp" "$b/config.json"
	run berth run -b "$b" "$TAG"
	[ "$status" -eq 0 ]
	[[ "$output" == *"hello from the image"* ]]
	[[ "$output" == *"base"* ]]
	[ "$(cat "$b/upper/etc/marker")" = changed ]
	# the image's snapshot is untouched
	snap=$(ls -d "$STORE"/snapshots/[0-9a-f]*)
	[ "$(cat "$snap/etc/marker")" = base ]
	run bi bundle --remove "$b"
	[ "$status" -eq 0 ]
	! grep -q " $b/rootfs " /proc/self/mounts
	[ ! -e "$b" ]
}

@test "image: bundle runs the image's user and working dir" {
	bi import "$ROOTFS_TAR" localhost/u:1 --change 'USER app' --change 'WORKDIR /tmp' --change 'CMD ["id","-u"]' >/dev/null
	bi bundle localhost/u:1 "$TEST_DIR/bundle1"
	[ "$(jq -r '.process.user.uid' "$TEST_DIR/bundle1/config.json")" = 1000 ]
	[ "$(jq -r '.process.user.gid' "$TEST_DIR/bundle1/config.json")" = 1000 ]
	[ "$(jq -r '.process.cwd' "$TEST_DIR/bundle1/config.json")" = /tmp ]
}

@test "image: bad input is refused clearly and leaves nothing behind" {
	import_busybox localhost/bb:1 >/dev/null
	run bi image inspect nosuch:1
	[ "$status" -ne 0 ]
	[[ "$output" == *'image "nosuch:1" not known'* ]]
	run bi tag localhost/bb:1 'Bad:Name'
	[ "$status" -ne 0 ]
	[[ "$output" == *"must be lowercase"* ]]
	run bi rmi nosuch
	[ "$status" -ne 0 ]
	run bi bundle nosuch "$TEST_DIR/bundle1"
	[ "$status" -ne 0 ]
	[ ! -e "$TEST_DIR/bundle1" ]
	# an image without a command: the bundle says so and unmounts again
	bi import "$ROOTFS_TAR" localhost/nocmd:1 >/dev/null
	run bi bundle localhost/nocmd:1 "$TEST_DIR/bundle2"
	[ "$status" -ne 0 ]
	[[ "$output" == *"has no command"* ]]
	! grep -q "$TEST_DIR/bundle2" /proc/self/mounts
	[ ! -e "$TEST_DIR/bundle2" ]
	# an existing config.json is not overwritten
	mkdir "$TEST_DIR/bundle3"
	echo '{}' >"$TEST_DIR/bundle3/config.json"
	run bi bundle localhost/bb:1 "$TEST_DIR/bundle3"
	[ "$status" -ne 0 ]
	[[ "$output" == *"config.json already exists"* ]]
	[ "$(cat "$TEST_DIR/bundle3/config.json")" = '{}' ]
	rm -rf "$TEST_DIR/bundle3"
	run bi images --format yaml
	[ "$status" -ne 0 ]
	[ -z "$(ls -A "$STORE/ingest")" ]
}

@test "image: concurrent tag commands all land in index.json" {
	import_busybox localhost/bb:1 >/dev/null
	pids=()
	for i in $(seq 1 12); do
		bi tag localhost/bb:1 "localhost/bb:t$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	[ "$(jq '.manifests | length' "$STORE/index.json")" = 13 ]
	run bi image inspect localhost/bb:1
	[ "$(echo "$output" | jq -r '.[0].RepoTags | length')" = 13 ]
}
