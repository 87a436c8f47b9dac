#!/usr/bin/env bats
# Images as files: berth import (rootfs tarballs), berth load (docker-archive,
# oci-archive, OCI layout directories) and berth save (each format), checked
# against what skopeo and umoci make and read. Every test has its own store.

load helpers

BERTH_BIN="${BERTH:-$REPO_ROOT/build/src/cmd/berth/berth}"

# Made once per file: a busybox rootfs tarball, an OCI layout made by umoci
# (tag "t") and a docker-archive skopeo made from it (test/busybox:1).
setup_file() {
	local dir="$BATS_FILE_TMPDIR/rootfs" bundle="$BATS_FILE_TMPDIR/umoci-bundle" tool
	for tool in skopeo umoci jq gzip zstd; do
		command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh installs it)"
	done
	[ -x /bin/busybox ] || fail "/bin/busybox is missing (apt-get install busybox-static)"
	mkdir -p "$dir/bin" "$dir/etc"
	cp /bin/busybox "$dir/bin/busybox"
	for a in sh echo cat ls true; do ln -s busybox "$dir/bin/$a"; done
	echo base >"$dir/etc/marker"
	tar -C "$dir" -cf "$BATS_FILE_TMPDIR/rootfs.tar" .

	umoci init --layout "$BATS_FILE_TMPDIR/layout"
	umoci new --image "$BATS_FILE_TMPDIR/layout:t"
	umoci unpack --image "$BATS_FILE_TMPDIR/layout:t" "$bundle"
	mkdir -p "$bundle/rootfs/bin"
	cp /bin/busybox "$bundle/rootfs/bin/busybox"
	ln -s busybox "$bundle/rootfs/bin/sh"
	umoci repack --image "$BATS_FILE_TMPDIR/layout:t" "$bundle"
	rm -rf "$bundle"
	skopeo --insecure-policy copy --quiet "oci:$BATS_FILE_TMPDIR/layout:t" \
		"docker-archive:$BATS_FILE_TMPDIR/skopeo.tar:test/busybox:1"
	export ROOTFS_TAR="$BATS_FILE_TMPDIR/rootfs.tar" LAYOUT="$BATS_FILE_TMPDIR/layout"
	export SKOPEO_TAR="$BATS_FILE_TMPDIR/skopeo.tar"
}

setup() {
	TEST_DIR="$BATS_TEST_TMPDIR"
	STORE="$TEST_DIR/store"
	[ -x "$BERTH_BIN" ] || fail "berth not built at $BERTH_BIN (set BERTH)"
}

teardown() {
	:
}

bi() {
	"$BERTH_BIN" --root "$STORE" "$@"
}

# bi_in STORE ARGS...: berth on another store
bi_in() {
	local store=$1
	shift
	"$BERTH_BIN" --root "$store" "$@"
}

# image_id [STORE] IMAGE: the id inspect reports
image_id() {
	local store=$STORE
	[ $# -eq 2 ] && store=$1 && shift
	bi_in "$store" image inspect "$1" | jq -r '.[0].Id'
}

# assert_store_clean [STORE]: no image named or listed, no ingest temp file
assert_store_clean() {
	local store=${1:-$STORE} n
	if [ -f "$store/index.json" ]; then
		n=$(jq '.manifests | length' "$store/index.json")
		[ "$n" = 0 ] || fail "index.json has $n entries: $(cat "$store/index.json")" || return 1
	fi
	[ -z "$(ls -A "$store/ingest" 2>/dev/null)" ] || fail "ingest files left: $(ls -A "$store/ingest")"
}

# assert_store_clean_ingest: no ingest temp file in this test's store
assert_store_clean_ingest() {
	[ -z "$(ls -A "$STORE/ingest" 2>/dev/null)" ] || fail "ingest files left: $(ls -A "$STORE/ingest")"
}

# no_temp_files DIR: nothing a failed save leaves (".NAME.tmp-*")
no_temp_files() {
	[ -z "$(find "$1" -maxdepth 1 -name '.*.tmp-*')" ] || fail "temp files left: $(find "$1" -name '.*.tmp-*')"
}

@test "import: a busybox rootfs with --change; the config, the gzip layer and its diff_id" {
	run bi import --message "from bats" \
		--change 'CMD ["sh", "-c", "echo hi"]' --change 'ENTRYPOINT exec env' \
		--change 'ENV FOO=bar "B=two words"' --change 'ENV LEGACY value with blanks' \
		--change 'WORKDIR /srv' --change 'WORKDIR app' --change 'USER 1000:1000' \
		--change 'LABEL a=1 b="x y"' --change 'EXPOSE 80 53/udp' --change 'VOLUME ["/data"]' \
		--change 'STOPSIGNAL SIGTERM' "$ROOTFS_TAR" localhost/bb:1
	assert_success
	id=${lines[-1]}
	[[ "$id" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "import printed \"$output\""
	run bi image inspect localhost/bb:1
	assert_success
	j=$output
	assert_equal "$(jq -r '.[0].Id' <<<"$j")" "$id"
	assert_equal "$(jq -c '.[0].Config.Cmd' <<<"$j")" '["sh","-c","echo hi"]'
	assert_equal "$(jq -c '.[0].Config.Entrypoint' <<<"$j")" '["/bin/sh","-c","exec env"]'
	assert_equal "$(jq -c '.[0].Config.Env' <<<"$j")" '["FOO=bar","B=two words","LEGACY=value with blanks"]'
	assert_equal "$(jq -r '.[0].Config.WorkingDir' <<<"$j")" /srv/app
	assert_equal "$(jq -r '.[0].Config.User' <<<"$j")" 1000:1000
	assert_equal "$(jq -c '.[0].Config.Labels' <<<"$j")" '{"a":"1","b":"x y"}'
	assert_equal "$(jq -c '.[0].Config.ExposedPorts | keys' <<<"$j")" '["53/udp","80/tcp"]'
	assert_equal "$(jq -c '.[0].Config.Volumes | keys' <<<"$j")" '["/data"]'
	assert_equal "$(jq -r '.[0].Config.StopSignal' <<<"$j")" SIGTERM
	# diff_id over the tar, blob digest over the gzip bytes
	assert_equal "$(jq -r '.[0].RootFS.Layers[0]' <<<"$j")" "sha256:$(sha256sum <"$ROOTFS_TAR" | cut -d' ' -f1)"
	assert_equal "$(jq -r '.[0].ManifestLayers[0].mediaType' <<<"$j")" application/vnd.oci.image.layer.v1.tar+gzip
	blob=$(jq -r '.[0].ManifestLayers[0].digest' <<<"$j")
	gzip -t "$STORE/blobs/sha256/${blob#sha256:}"
	# the config records the platform and the message
	cfg=$(cat "$STORE/blobs/sha256/${id#sha256:}")
	assert_equal "$(jq -r .os <<<"$cfg")" linux
	assert_equal "$(jq -r '.history[0].comment' <<<"$cfg")" "from bats"
	# the layer is unpacked
	[ -x "$STORE/snapshots/$(jq -r '.[0].RootFS.Layers[0]' <<<"$j" | cut -d: -f2)/bin/busybox" ]
	run bi images
	assert_output_contains localhost/bb
}

@test "import: stdin, gzip and zstd tarballs give the same layer; no NAME leaves it unnamed" {
	diff="sha256:$(sha256sum <"$ROOTFS_TAR" | cut -d' ' -f1)"
	run bash -c "gzip -c '$ROOTFS_TAR' | '$BERTH_BIN' --root '$STORE' import - localhost/gz:1"
	assert_success
	run bash -c "zstd -q -c '$ROOTFS_TAR' | '$BERTH_BIN' --root '$STORE' import --platform linux/arm64/v8 -"
	assert_success
	zid=${lines[-1]}
	assert_equal "$(bi image inspect localhost/gz:1 | jq -r '.[0].RootFS.Layers[0]')" "$diff"
	run bi image inspect "$zid"
	assert_success
	assert_equal "$(jq -r '.[0].RootFS.Layers[0]' <<<"$output")" "$diff"
	assert_equal "$(jq -r '.[0].Architecture' <<<"$output")" arm64
	assert_equal "$(jq -r '.[0].RepoTags | length' <<<"$output")" 0
}

@test "import: refuses an unknown --change, a non-tar file and a missing file, leaving nothing" {
	run bi import --change 'FROM scratch' "$ROOTFS_TAR" localhost/x:1
	assert_failure
	assert_output_contains 'unsupported instruction "FROM"'
	run bi import --change 'EXPOSE 99999' "$ROOTFS_TAR"
	assert_failure
	assert_output_contains 'invalid port'
	head -c 100000 /dev/urandom >"$TEST_DIR/random.bin"
	run bi import "$TEST_DIR/random.bin" localhost/x:1
	assert_failure
	assert_output_contains "not a tar archive"
	run bi import "$TEST_DIR/nonexistent.tar"
	assert_failure
	assert_output_contains "No such file or directory"
	assert_store_clean
}

@test "load: a docker-archive made by skopeo: name, layer snapshot, images" {
	run bi load -i "$SKOPEO_TAR"
	assert_success
	assert_output "Loaded image: docker.io/test/busybox:1"
	run bi images
	assert_success
	assert_output_contains "docker.io/test/busybox"
	run bi image inspect test/busybox:1
	assert_success
	diff=$(jq -r '.[0].RootFS.Layers[0]' <<<"$output")
	# stored as it came: an uncompressed layer whose digest is its diff_id
	assert_equal "$(jq -r '.[0].ManifestLayers[0].mediaType' <<<"$output")" application/vnd.oci.image.layer.v1.tar
	assert_equal "$(jq -r '.[0].ManifestLayers[0].digest' <<<"$output")" "$diff"
	assert_equal "$(jq -r '.[0].ManifestMediaType' <<<"$output")" application/vnd.oci.image.manifest.v1+json
	[ -x "$STORE/snapshots/${diff#sha256:}/bin/busybox" ]
	# the image id is the config skopeo wrote
	cfg=$(tar -xOf "$SKOPEO_TAR" manifest.json | jq -r '.[0].Config')
	assert_equal "$(jq -r '.[0].Id' <<<"$output")" "sha256:${cfg%.json}"
	assert_store_clean_ingest
}

@test "load: an OCI layout directory made by umoci; a tag-only ref name becomes localhost/NAME" {
	run bi load -i "$LAYOUT"
	assert_success
	assert_output "Loaded image: localhost/t:latest"
	run bi image inspect localhost/t
	assert_success
	diff=$(jq -r '.[0].RootFS.Layers[0]' <<<"$output")
	[ -x "$STORE/snapshots/${diff#sha256:}/bin/busybox" ]
	# same config as the docker-archive skopeo made of it
	run bi load -i "$SKOPEO_TAR"
	assert_success
	assert_equal "$(image_id localhost/t)" "$(image_id test/busybox:1)"
	assert_store_clean_ingest
}

@test "load: gzip-compressed archives, stdin and the image load alias" {
	gzip -c "$SKOPEO_TAR" >"$TEST_DIR/skopeo.tar.gz"
	run bi image load -i "$TEST_DIR/skopeo.tar.gz"
	assert_success
	assert_output "Loaded image: docker.io/test/busybox:1"
	run bash -c "zstd -q -c '$SKOPEO_TAR' | '$BERTH_BIN' --root '$TEST_DIR/store2' load -q"
	assert_success
	assert_output "Loaded image: docker.io/test/busybox:1"
	assert_equal "$(image_id "$TEST_DIR/store2" test/busybox:1)" "$(image_id test/busybox:1)"
}

@test "save docker-archive: load into a fresh store gives the same id; skopeo reads it with the same layers" {
	bi import --change 'CMD ["sh"]' "$ROOTFS_TAR" localhost/bb:1 >/dev/null
	bi load -i "$SKOPEO_TAR" >/dev/null
	id=$(image_id localhost/bb:1)
	run bi save -o "$TEST_DIR/out.tar" localhost/bb:1
	assert_success
	# docker's layout: manifest.json, <config>.json, <diff_id>/layer.tar uncompressed
	run tar -xOf "$TEST_DIR/out.tar" manifest.json
	assert_equal "$(jq -c '.[0].RepoTags' <<<"$output")" '["localhost/bb:1"]'
	assert_equal "$(jq -r '.[0].Config' <<<"$output")" "${id#sha256:}.json"
	layer=$(jq -r '.[0].Layers[0]' <<<"$output")
	diff=$(bi image inspect localhost/bb:1 | jq -r '.[0].RootFS.Layers[0]')
	assert_equal "$layer" "${diff#sha256:}/layer.tar"
	assert_equal "sha256:$(tar -xOf "$TEST_DIR/out.tar" "$layer" | sha256sum | cut -d' ' -f1)" "$diff"
	run skopeo inspect "docker-archive:$TEST_DIR/out.tar"
	assert_success
	assert_equal "$(jq -c .Layers <<<"$output")" "[\"$diff\"]"
	run bi_in "$TEST_DIR/fresh" load -i "$TEST_DIR/out.tar"
	assert_success
	assert_output "Loaded image: localhost/bb:1"
	assert_equal "$(image_id "$TEST_DIR/fresh" localhost/bb:1)" "$id"
	# an image loaded from a docker-archive saves back to the same config and layers
	run bi save -o "$TEST_DIR/again.tar" test/busybox:1
	assert_success
	run skopeo inspect "docker-archive:$TEST_DIR/again.tar"
	assert_success
	assert_equal "$(jq -c .Layers <<<"$output")" "$(skopeo inspect "docker-archive:$SKOPEO_TAR" | jq -c .Layers)"
	no_temp_files "$TEST_DIR"
}

@test "save oci-archive: digests are preserved; skopeo reads it; load gives the same image" {
	bi import "$ROOTFS_TAR" localhost/bb:1 >/dev/null
	run bi image inspect localhost/bb:1
	id=$(jq -r '.[0].Id' <<<"$output")
	manifest=$(jq -r '.[0].Digest' <<<"$output")
	blob=$(jq -r '.[0].ManifestLayers[0].digest' <<<"$output")
	run bi save --format oci-archive -o "$TEST_DIR/out.tar" localhost/bb:1
	assert_success
	run tar -xOf "$TEST_DIR/out.tar" index.json
	assert_equal "$(jq -r '.manifests[0].digest' <<<"$output")" "$manifest"
	assert_equal "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' <<<"$output")" localhost/bb:1
	run skopeo inspect "oci-archive:$TEST_DIR/out.tar"
	assert_success
	assert_equal "$(jq -c .Layers <<<"$output")" "[\"$blob\"]"
	assert_equal "$(jq -r .Digest <<<"$output")" "$manifest"
	run bi_in "$TEST_DIR/fresh" load -i "$TEST_DIR/out.tar"
	assert_success
	assert_output "Loaded image: localhost/bb:1"
	run bi_in "$TEST_DIR/fresh" image inspect localhost/bb:1
	assert_equal "$(jq -r '.[0].Id' <<<"$output")" "$id"
	assert_equal "$(jq -r '.[0].Digest' <<<"$output")" "$manifest"
}

@test "save oci-dir: skopeo inspect and umoci unpack read it; load gives the same id" {
	bi import --change 'CMD ["sh"]' "$ROOTFS_TAR" example.com/team/bb:2 >/dev/null
	id=$(image_id example.com/team/bb:2)
	run bi save --format oci-dir -o "$TEST_DIR/dir" example.com/team/bb:2
	assert_success
	[ -f "$TEST_DIR/dir/oci-layout" ]
	[ -f "$TEST_DIR/dir/index.json" ]
	run skopeo inspect "oci:$TEST_DIR/dir"
	assert_success
	assert_equal "$(jq -r .Digest <<<"$output")" "$(bi image inspect example.com/team/bb:2 | jq -r '.[0].Digest')"
	run umoci unpack --image "$TEST_DIR/dir:example.com/team/bb:2" "$TEST_DIR/unpacked"
	assert_success
	[ -x "$TEST_DIR/unpacked/rootfs/bin/busybox" ]
	assert_equal "$(cat "$TEST_DIR/unpacked/rootfs/etc/marker")" base
	run bi_in "$TEST_DIR/fresh" load -i "$TEST_DIR/dir"
	assert_success
	assert_output "Loaded image: example.com/team/bb:2"
	assert_equal "$(image_id "$TEST_DIR/fresh" example.com/team/bb:2)" "$id"
	# a directory that is not empty is not overwritten
	run bi save --format oci-dir -o "$TEST_DIR/dir" example.com/team/bb:2
	assert_failure
	assert_output_contains "not empty"
	no_temp_files "$TEST_DIR"
}

@test "save: several images and names in one archive, shared layers once; an unnamed image loads by id" {
	bi import "$ROOTFS_TAR" localhost/a:1 >/dev/null
	bi tag localhost/a:1 localhost/a:2
	unnamed=$(bi import --message other "$ROOTFS_TAR" | tail -n1)
	run bash -c "'$BERTH_BIN' --root '$STORE' save localhost/a:1 localhost/a:2 '$unnamed' >'$TEST_DIR/multi.tar'"
	assert_success
	run tar -xOf "$TEST_DIR/multi.tar" manifest.json
	assert_equal "$(jq 'length' <<<"$output")" 2
	assert_equal "$(jq -c '.[0].RepoTags' <<<"$output")" '["localhost/a:1","localhost/a:2"]'
	assert_equal "$(jq -c '.[1].RepoTags' <<<"$output")" null
	assert_equal "$(tar -tf "$TEST_DIR/multi.tar" | grep -c layer.tar)" 1
	run bi_in "$TEST_DIR/fresh" load -i "$TEST_DIR/multi.tar"
	assert_success
	assert_equal "${lines[0]}" "Loaded image: localhost/a:1"
	assert_equal "${lines[1]}" "Loaded image: localhost/a:2"
	assert_equal "${lines[2]}" "Loaded image: $unnamed"
	run bi_in "$TEST_DIR/fresh" images
	assert_output_contains "<none>"
	assert_equal "$(image_id "$TEST_DIR/fresh" "$unnamed")" "$unnamed"
}

@test "load: a corrupted blob in an OCI layout is refused, nothing named, no ingest files" {
	bi import "$ROOTFS_TAR" localhost/bb:1 >/dev/null
	bi save --format oci-dir -o "$TEST_DIR/dir" localhost/bb:1
	blob=$(bi image inspect localhost/bb:1 | jq -r '.[0].ManifestLayers[0].digest')
	printf 'XYZ' | dd of="$TEST_DIR/dir/blobs/sha256/${blob#sha256:}" bs=1 seek=1000 conv=notrunc status=none
	run bi_in "$TEST_DIR/fresh" load -i "$TEST_DIR/dir"
	assert_failure
	assert_output_contains "digest mismatch in blob \"blobs/sha256/${blob#sha256:}\""
	assert_store_clean "$TEST_DIR/fresh"
	tar -C "$TEST_DIR/dir" -cf "$TEST_DIR/bad.tar" .
	run bi_in "$TEST_DIR/fresh" load -i "$TEST_DIR/bad.tar"
	assert_failure
	assert_output_contains "digest mismatch in blob"
	assert_store_clean "$TEST_DIR/fresh"
	[ -z "$(ls -A "$TEST_DIR/fresh/blobs/sha256")" ] || fail "blobs left: $(ls "$TEST_DIR/fresh/blobs/sha256")"
}

@test "load: refuses a random file, a missing file and a tar that is no image archive" {
	head -c 100000 /dev/urandom >"$TEST_DIR/random.bin"
	run bi load -i "$TEST_DIR/random.bin"
	assert_failure
	assert_output_contains "not a known archive format"
	run bi load -i "$TEST_DIR/nonexistent.tar"
	assert_failure
	assert_output_contains "No such file or directory"
	run bi load -i "$ROOTFS_TAR"
	assert_failure
	assert_output_contains "not a known archive format"
	assert_store_clean
}

@test "load: a docker-archive naming a missing layer, or a layer not matching its diff_id, is refused" {
	mkdir "$TEST_DIR/x"
	tar -C "$TEST_DIR/x" -xf "$SKOPEO_TAR"
	layer=$(jq -r '.[0].Layers[0]' "$TEST_DIR/x/manifest.json")
	mv "$TEST_DIR/x/$layer" "$TEST_DIR/layer.tar"
	tar -C "$TEST_DIR/x" -cf "$TEST_DIR/missing.tar" .
	run bi load -i "$TEST_DIR/missing.tar"
	assert_failure
	assert_output_contains "manifest.json references missing file \"$layer\""
	assert_store_clean
	# the layer is there but is not what the config says
	{ cat "$TEST_DIR/layer.tar"; echo garbage; } >"$TEST_DIR/x/$layer"
	tar -C "$TEST_DIR/x" -cf "$TEST_DIR/wrong.tar" .
	run bi load -i "$TEST_DIR/wrong.tar"
	assert_failure
	assert_output_contains "does not match the image config"
	assert_store_clean
}

@test "load: a docker-archive with a gzip layer keeps it compressed and checks its diff_id" {
	mkdir "$TEST_DIR/x"
	tar -C "$TEST_DIR/x" -xf "$SKOPEO_TAR"
	layer=$(jq -r '.[0].Layers[0]' "$TEST_DIR/x/manifest.json")
	diff="sha256:$(sha256sum <"$TEST_DIR/x/$layer" | cut -d' ' -f1)"
	gzip -n -c "$TEST_DIR/x/$layer" >"$TEST_DIR/layer.gz"
	cp "$TEST_DIR/layer.gz" "$TEST_DIR/x/$layer"
	tar -C "$TEST_DIR/x" -chf "$TEST_DIR/gz.tar" .
	run bi load -i "$TEST_DIR/gz.tar"
	assert_success
	run bi image inspect test/busybox:1
	assert_equal "$(jq -r '.[0].ManifestLayers[0].mediaType' <<<"$output")" application/vnd.oci.image.layer.v1.tar+gzip
	assert_equal "$(jq -r '.[0].RootFS.Layers[0]' <<<"$output")" "$diff"
	[ -x "$STORE/snapshots/${diff#sha256:}/bin/busybox" ]
	# saved back as docker-archive: decompressed, named by its diff_id
	run bi save -o "$TEST_DIR/back.tar" test/busybox:1
	assert_success
	assert_equal "sha256:$(tar -xOf "$TEST_DIR/back.tar" "${diff#sha256:}/layer.tar" | sha256sum | cut -d' ' -f1)" "$diff"
	# a gzip layer whose content is not the config's diff_id
	{ gunzip -c "$TEST_DIR/layer.gz"; echo garbage; } | gzip -n >"$TEST_DIR/x/$layer"
	tar -C "$TEST_DIR/x" -chf "$TEST_DIR/wrong.tar" .
	run bi_in "$TEST_DIR/fresh" load -i "$TEST_DIR/wrong.tar"
	assert_failure
	assert_output_contains "does not match the image config"
	assert_store_clean "$TEST_DIR/fresh"
}

@test "save: an unknown image, a bad format or a blob missing half way fail and leave no output" {
	bi import "$ROOTFS_TAR" localhost/bb:1 >/dev/null
	for format in docker-archive oci-archive oci-dir; do
		run bi save --format "$format" -o "$TEST_DIR/out-$format" localhost/bb:1 localhost/nosuch:1
		assert_failure
		assert_output_contains "nosuch"
		[ ! -e "$TEST_DIR/out-$format" ] || fail "$format: output left behind"
	done
	run bi save --format tarball -o "$TEST_DIR/out" localhost/bb:1
	assert_failure
	assert_output_contains 'unknown format "tarball"'
	# a failure half way (a blob gone from the store) leaves nothing either
	blob=$(bi image inspect localhost/bb:1 | jq -r '.[0].ManifestLayers[0].digest')
	rm "$STORE/blobs/sha256/${blob#sha256:}"
	for format in docker-archive oci-archive oci-dir; do
		run bi save --format "$format" -o "$TEST_DIR/out-$format" localhost/bb:1
		assert_failure
		assert_output_contains "$blob"
		[ ! -e "$TEST_DIR/out-$format" ] || fail "$format: output left behind"
	done
	no_temp_files "$TEST_DIR"
}
