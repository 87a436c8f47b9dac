#!/bin/sh
# Builds an OCI image layout locally, without network: a busybox-static
# rootfs (Debian's /bin/busybox plus symlinks for a few applets) as the
# first layer, then N layers of M MiB of random data each (for transfer
# benchmarks). The config has rootfs.diff_ids and Cmd ["sh"].
#
#   scripts/make-oci-image.sh OUT_DIR [--tag T] [--layers N] [--layer-mb M]
#                             [--arch A] [--variant V]
#   scripts/make-oci-image.sh OUT_DIR --tag T --index TAG1,TAG2,...
#
# Running it again on the same OUT_DIR adds the image (replacing an image of
# the same tag), so one layout can hold several images. --arch only writes
# the config's architecture (the busybox binary stays this host's): enough
# to build multi-platform test images. --index makes an OCI image index
# named T of the images already tagged TAG1, TAG2, ... with their
# platforms. The busybox layer is reproducible (fixed mtimes, gzip -n), so
# images built on one host share it. Prints the manifest (or index) digest.
set -eu

usage() {
	echo "usage: make-oci-image.sh OUT_DIR [--tag T] [--layers N] [--layer-mb M] [--arch A] [--variant V] [--index TAGS]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
out=$1
shift
tag=latest
layers=0
layer_mb=1
arch=""
variant=""
index=""
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case "$1" in
	--tag) tag=$2 ;;
	--layers) layers=$2 ;;
	--layer-mb) layer_mb=$2 ;;
	--arch) arch=$2 ;;
	--variant) variant=$2 ;;
	--index) index=$2 ;;
	*) usage ;;
	esac
	shift 2
done
case "$layers$layer_mb" in
*[!0-9]*) echo "make-oci-image.sh: --layers and --layer-mb take numbers" >&2; exit 2 ;;
esac
for tool in jq sha256sum tar gzip; do
	command -v "$tool" >/dev/null || { echo "make-oci-image.sh: $tool is required" >&2; exit 1; }
done

mkdir -p "$out/blobs/sha256"
[ -f "$out/oci-layout" ] || printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
[ -f "$out/index.json" ] || printf '{"schemaVersion":2,"manifests":[]}' >"$out/index.json"

work=$(mktemp -d "${TMPDIR:-/tmp}/make-oci-image.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# Moves FILE into the layout's blobs; prints its hex digest.
put_blob() {
	hex=$(sha256sum "$1" | cut -d' ' -f1)
	mv "$1" "$out/blobs/sha256/$hex"
	echo "$hex"
}

# Names descriptor JSON FILE as TAG in index.json (replacing that tag).
set_tag() {
	jq --arg tag "$tag" --slurpfile d "$1" \
		'.manifests = ([.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] != $tag)]
			+ [$d[0] + {annotations: {"org.opencontainers.image.ref.name": $tag}}])' \
		"$out/index.json" >"$work/index.json"
	mv "$work/index.json" "$out/index.json"
}

# Tars DIR reproducibly into $work/layer.tar.
tar_dir() {
	(cd "$1" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort) >"$work/top"
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		-C "$1" -cf "$work/layer.tar" -T "$work/top"
}

# Adds $work/layer.tar (compressed with gzip LEVEL) as a layer.
add_layer() {
	diff=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
	gzip -n "-$1" -c "$work/layer.tar" >"$work/layer.tar.gz"
	rm -f "$work/layer.tar"
	size=$(stat -c %s "$work/layer.tar.gz")
	hex=$(put_blob "$work/layer.tar.gz")
	echo "sha256:$diff" >>"$work/diff_ids"
	jq -n --arg d "sha256:$hex" --argjson s "$size" \
		'{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}' >>"$work/layers"
}

make_index() {
	: >"$work/entries"
	for t in $(echo "$index" | tr ',' ' '); do
		desc=$(jq -c --arg t "$t" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)][0]
			| select(. != null) | del(.annotations)' "$out/index.json")
		[ -n "$desc" ] || { echo "make-oci-image.sh: no image tagged $t in $out" >&2; exit 1; }
		mhex=$(echo "$desc" | jq -r '.digest | sub("^sha256:"; "")')
		chex=$(jq -r '.config.digest | sub("^sha256:"; "")' "$out/blobs/sha256/$mhex")
		jq -c --argjson d "$desc" '$d + {platform: ({os: .os, architecture: .architecture}
			+ (if .variant then {variant: .variant} else {} end))}' "$out/blobs/sha256/$chex" >>"$work/entries"
	done
	jq -s '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: .}' \
		"$work/entries" >"$work/idx.json"
	size=$(stat -c %s "$work/idx.json")
	hex=$(put_blob "$work/idx.json")
	jq -n --arg d "sha256:$hex" --argjson s "$size" \
		'{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s}' >"$work/desc.json"
	set_tag "$work/desc.json"
	echo "sha256:$hex"
}

if [ -n "$index" ]; then
	make_index
	exit 0
fi

busybox=/bin/busybox
if ! "$busybox" --list >/dev/null 2>&1 || ldd "$busybox" >/dev/null 2>&1; then
	echo "make-oci-image.sh: $busybox is missing or not static: apt-get install busybox-static" >&2
	exit 1
fi
if [ -z "$arch" ]; then
	case "$(uname -m)" in
	x86_64) arch=amd64 ;;
	aarch64) arch=arm64 ;;
	armv7l) arch=arm; variant=${variant:-v7} ;;
	*) arch=$(uname -m) ;;
	esac
fi

# the busybox layer
rootfs="$work/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root"
cp "$busybox" "$rootfs/bin/busybox"
for applet in sh ls cat echo true false env id sleep uname mkdir rm wc head tail grep sed ps mount hostname; do
	ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"
: >"$work/diff_ids"
: >"$work/layers"
tar_dir "$rootfs"
add_layer 6

# the data layers
i=1
while [ "$i" -le "$layers" ]; do
	mkdir -p "$work/data$i/data"
	dd if=/dev/urandom of="$work/data$i/data/layer$i.bin" bs=1M count="$layer_mb" status=none
	tar_dir "$work/data$i"
	rm -rf "$work/data$i"
	add_layer 1
	i=$((i + 1))
done

# config and manifest
jq -n --arg arch "$arch" --arg variant "$variant" --rawfile diffs "$work/diff_ids" '{
	created: "2024-01-01T00:00:00Z",
	architecture: $arch,
	os: "linux",
	config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"], WorkingDir: "/"},
	rootfs: {type: "layers", diff_ids: ($diffs | split("\n") | map(select(length > 0)))},
	history: [($diffs | split("\n") | map(select(length > 0)))[] | {created: "2024-01-01T00:00:00Z",
		created_by: "make-oci-image.sh"}]
} + (if $variant != "" then {variant: $variant} else {} end)' >"$work/config.json"
csize=$(stat -c %s "$work/config.json")
chex=$(put_blob "$work/config.json")
jq -n --arg c "sha256:$chex" --argjson cs "$csize" --slurpfile layers "$work/layers" '{
	schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
	layers: $layers
}' >"$work/manifest.json"
msize=$(stat -c %s "$work/manifest.json")
mhex=$(put_blob "$work/manifest.json")
jq -n --arg d "sha256:$mhex" --argjson s "$msize" \
	'{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s}' >"$work/desc.json"
set_tag "$work/desc.json"
echo "sha256:$mhex"
