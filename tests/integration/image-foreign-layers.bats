#!/usr/bin/env bats
# Layers other tools write, through berth load and berth pull:
#   - umoci insert --image I DIR /   entries "/", "bin/", ...; umoci 0.4.7 also
#                                    ends the layer without the last entry's
#                                    padding and the end blocks
#   - GNU tar -P                     entries "/", "/bin/", "/bin/busybox", with
#                                    a hardlink to "/bin/busybox"
# podman, docker, containerd and umoci read the leading "/" as the layer root;
# berth must too, and put nothing outside the snapshot. Each test has its own
# store; one local registry (registry.bash) serves the file.

bats_require_minimum_version 1.5.0

REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
BERTH="${BERTH:-$REPO/build/src/cmd/berth/berth}"

load registry

# A small rootfs: busybox, a symlink, an absolute symlink, a hardlink, a marker.
make_rootfs() {
	local dir=$1
	mkdir -p "$dir/bin" "$dir/etc"
	cp /bin/busybox "$dir/bin/busybox"
	ln -s busybox "$dir/bin/sh"
	ln -s /bin/busybox "$dir/bin/abs-sh"
	ln "$dir/bin/busybox" "$dir/bin/busybox-link"
	echo "$2" >"$dir/etc/marker"
	chmod 0750 "$dir"
}

# The umoci image: an OCI layout LAYOUT:t with one layer from umoci insert.
make_umoci_image() {
	local layout=$1 rootfs="$BATS_FILE_TMPDIR/umoci-rootfs"
	make_rootfs "$rootfs" umoci
	umoci init --layout "$layout"
	umoci new --image "$layout:t"
	umoci insert --image "$layout:t" "$rootfs" /
}

# The GNU tar -P image: a docker-archive ARCHIVE (tar-p:1) whose one layer has
# absolute member names.
make_tar_p_image() {
	local archive=$1 dir="$BATS_FILE_TMPDIR/tar-p" diff cfg
	make_rootfs "$dir/rootfs" tar-p
	# ".", "./bin" ... become "/", "/bin" ...; -P keeps the leading "/"; S: not in symlink targets
	tar -P --transform 's,^\.,,S' --numeric-owner -C "$dir/rootfs" -cf "$dir/layer.tar" .
	diff=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
	jq -n --arg d "sha256:$diff" '{architecture: "amd64", os: "linux", config: {Cmd: ["/bin/sh"]},
		rootfs: {type: "layers", diff_ids: [$d]}}' >"$dir/config.json"
	cfg=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
	mv "$dir/config.json" "$dir/$cfg.json"
	jq -n --arg c "$cfg.json" '[{Config: $c, RepoTags: ["tar-p:1"], Layers: ["layer.tar"]}]' >"$dir/manifest.json"
	tar -C "$dir" -cf "$archive" manifest.json "$cfg.json" layer.tar
}

setup_file() {
	local tool
	for tool in umoci skopeo jq tar; do
		command -v "$tool" >/dev/null || { echo "$tool is missing (scripts/install-deps.sh installs it)" >&2; return 1; }
	done
	[ -x "$BERTH" ] || { echo "berth not built at $BERTH" >&2; return 1; }
	UMOCI_LAYOUT="$BATS_FILE_TMPDIR/umoci-layout"
	TAR_P_ARCHIVE="$BATS_FILE_TMPDIR/tar-p.tar"
	make_umoci_image "$UMOCI_LAYOUT"
	make_tar_p_image "$TAR_P_ARCHIVE"
	registry_start
	skopeo copy -q --dest-tls-verify=false "oci:$UMOCI_LAYOUT:t" "docker://$REGISTRY/foreign/umoci:1" >/dev/null
	skopeo copy -q --dest-tls-verify=false "docker-archive:$TAR_P_ARCHIVE" "docker://$REGISTRY/foreign/tar-p:1" >/dev/null
	export UMOCI_LAYOUT TAR_P_ARCHIVE REGISTRY REGISTRY_DIR
}

teardown_file() {
	registry_stop
}

setup() {
	STORE="$BATS_TEST_TMPDIR/store"
}

b() {
	"$BERTH" --root "$STORE" "$@"
}

# The one snapshot of the image NAME (its single layer's chain id is its diff_id).
snapshot_of() {
	local diff
	diff=$(b image inspect "$1" | jq -r '.[0].RootFS.Layers[0]')
	echo "$STORE/snapshots/${diff#sha256:}"
}

# What SNAP must hold: the tree of make_rootfs with MARKER, the root's mode
# from the "/" entry, and nothing of it outside the snapshot.
check_snapshot() {
	local snap=$1 marker=$2
	[ -x "$snap/bin/busybox" ]
	[ "$(cat "$snap/etc/marker")" = "$marker" ]
	[ "$(readlink "$snap/bin/sh")" = busybox ]
	[ "$(readlink "$snap/bin/abs-sh")" = /bin/busybox ]
	[ "$(stat -c %i "$snap/bin/busybox")" = "$(stat -c %i "$snap/bin/busybox-link")" ]
	[ "$(stat -c %a "$snap")" = 750 ]
	"$snap/bin/busybox" true
	# nothing went where the names point on the host
	[ ! -e /etc/marker ]
	[ ! -e "$STORE/etc" ] && [ ! -e "$STORE/bin" ]
	[ -z "$(find "$STORE/snapshots" -maxdepth 1 -name '.tmp-*')" ]
	[ -z "$(ls -A "$STORE/ingest")" ]
}

@test "foreign layers: the umoci layer really has \"/\" and ends without padding" {
	local m layer
	m=$(jq -r '.manifests[0].digest' "$UMOCI_LAYOUT/index.json")
	layer=$(jq -r '.layers[0].digest' "$UMOCI_LAYOUT/blobs/sha256/${m#sha256:}")
	# what this test file is about; if a newer umoci changes it, the tests below still hold
	run -0 bash -c "gzip -dc '$UMOCI_LAYOUT/blobs/sha256/${layer#sha256:}' | head -c 100 | tr -d '\\0'"
	[ "$output" = / ]
	# no padding after the last file's data: the stream is not whole 512-byte blocks
	run -0 bash -c "gzip -dc '$UMOCI_LAYOUT/blobs/sha256/${layer#sha256:}' | wc -c"
	[ $((output % 512)) -ne 0 ]
}

@test "foreign layers: load an OCI layout made by umoci insert ... /" {
	run b load -i "$UMOCI_LAYOUT"
	[ "$status" -eq 0 ]
	[ "$output" = "Loaded image: localhost/t:latest" ]
	check_snapshot "$(snapshot_of localhost/t)" umoci
}

@test "foreign layers: pull the umoci insert image from a registry" {
	run b pull --tls-verify=false -q "$REGISTRY/foreign/umoci:1"
	[ "$status" -eq 0 ]
	check_snapshot "$(snapshot_of "$REGISTRY/foreign/umoci:1")" umoci
}

@test "foreign layers: load a docker-archive whose layer GNU tar -P wrote" {
	run tar -P -tvf "$BATS_FILE_TMPDIR/tar-p/layer.tar"
	[[ "$output" == *" /bin/busybox"* ]]
	[[ "$output" == *" /bin/busybox-link link to /bin/busybox"* ]]
	run b load -i "$TAR_P_ARCHIVE"
	[ "$status" -eq 0 ]
	[ "$output" = "Loaded image: docker.io/library/tar-p:1" ]
	check_snapshot "$(snapshot_of tar-p:1)" tar-p
}

@test "foreign layers: pull the GNU tar -P image from a registry" {
	run b pull --tls-verify=false -q "$REGISTRY/foreign/tar-p:1"
	[ "$status" -eq 0 ]
	check_snapshot "$(snapshot_of "$REGISTRY/foreign/tar-p:1")" tar-p
}
