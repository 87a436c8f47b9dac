#!/usr/bin/env bash
# Pull + unpack of a multi-layer image from a local registry: berth against
# skopeo copy + umoci unpack and against podman pull, side by side.
#
#   bench/pull.sh [--quick] [--out FILE] [--berth PATH] [--layers N] [--layer-mb M]
#   bench/pull.sh --debian [--rootfs DIR] [--quick] [--out FILE] [--berth PATH]
#   (either with [--tmpdir DIR])
#
#   --quick         fewer runs (1 round of 3, warmup 1: about 1.5 minutes); full: 4 rounds
#                   of 3, warmup 1 each (about 2 minutes on 2 vCPUs)
#   --out FILE      also write the report (markdown) to FILE; nothing else is written
#                   outside the temporary directory
#   --berth PATH    berth binary (default $BERTH or build/src/cmd/berth/berth)
#   --layers N      random-data layers besides the busybox layer (default 4)
#   --layer-mb M    MiB of random data per layer (default 32)
#   --debian        a realistic image instead: a Debian 12 rootfs made with
#                   `debootstrap --variant=minbase bookworm` (it reaches Debian's
#                   archive; needs debootstrap), split into 5 gzip layers as a
#                   Dockerfile would make them: the base system, usr/lib,
#                   usr/share, var/lib/apt and var/cache
#   --rootfs DIR    with --debian: use this rootfs (one debootstrap made) instead of
#                   running debootstrap; it is only read (tar), never changed
#   --tmpdir DIR    where the temporary directory (registry, stores) goes, default
#                   /tmp: another file system (a journaled ext4, xfs) to compare on
#
# Needs root and: docker-registry (Debian's distribution 2.8), skopeo, umoci,
# podman, hyperfine, curl, jq, ss (iproute2), gzip, sha256sum, tar,
# /usr/bin/time (package "time"), unshare (util-linux), busybox-static.
# It installs nothing.
#
# Everything lives in one temporary directory (mktemp -d, removed on exit) and
# runs inside a private mount namespace (unshare -m): podman's overlay driver
# mounts below its --root, and those mounts must not reach the host. The
# script starts the registry on 127.0.0.1:<free port> with its storage in the
# temporary directory, builds the test image there (scripts/make-oci-image.sh
# when it is present and works, otherwise with tar/gzip/sha256sum/jq below:
# a busybox layer plus N layers of M MiB from /dev/urandom, gzip-compressed;
# with --debian the Debian rootfs in 5 layers, gzip -6 like docker push),
# pushes it with skopeo, then times with hyperfine, each run from an empty
# destination (--prepare unmounts what is mounted below it and removes it):
#   berth          berth --root R --runroot S pull --tls-verify=false -q REF
#   skopeo + umoci skopeo copy docker://REF oci:DIR:TAG && umoci unpack --image DIR:TAG BUNDLE
#   podman         podman --root R --runroot S ... pull --tls-verify=false -q docker://REF
#                  (overlay storage driver; vfs when overlay does not work here, said so)
# A tool whose first pull fails is left out of the timing and reported as such.
# The report (markdown) goes to stdout: mean ± σ of each and the ratio to berth,
# the image's size, and each tool's peak RSS over one pull (/usr/bin/time).
set -eEuo pipefail
trap 'echo "bench/pull.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

quick=0
out=""
berth="${BERTH:-$repo/build/src/cmd/berth/berth}"
layers=4
layer_mb=32
debian=0
rootfs=""
tmpdir=/tmp
inner=0
orig_args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; shift ;;
	--out) out="$2"; shift 2 ;;
	--berth) berth="$2"; shift 2 ;;
	--layers) layers="$2"; shift 2 ;;
	--layer-mb) layer_mb="$2"; shift 2 ;;
	--debian) debian=1; shift ;;
	--rootfs) rootfs="$2"; shift 2 ;;
	--tmpdir) tmpdir="$2"; shift 2 ;;
	--inner) inner=1; shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/pull.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$berth" in /*) ;; *) berth="$PWD/$berth" ;; esac
case "$out" in "" | /*) ;; *) out="$PWD/$out" ;; esac
case "$rootfs" in "" | /*) ;; *) rootfs="$PWD/$rootfs" ;; esac
case "$tmpdir" in /*) ;; *) tmpdir="$PWD/$tmpdir" ;; esac

die() { echo "bench/pull.sh: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

case "$layers" in "" | *[!0-9]*) die "--layers wants a number" ;; esac
case "$layer_mb" in "" | *[!0-9]*) die "--layer-mb wants a number" ;; esac
[ -z "$rootfs" ] || [ "$debian" = 1 ] || die "--rootfs goes with --debian"
[ -d "$tmpdir" ] && [ -w "$tmpdir" ] || die "--tmpdir $tmpdir: not a writable directory"

# ---------------------------------------------------------------- outer: checks, then re-exec in a private mount namespace
if [ "$inner" = 0 ]; then
	[ "$(id -u)" = 0 ] || die "must run as root (umoci unpack and podman's overlay store need it)"
	missing=""
	for t in docker-registry skopeo umoci podman hyperfine curl jq ss gzip sha256sum tar unshare; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	[ -x /usr/bin/time ] || missing="$missing /usr/bin/time(time)"
	if [ "$debian" = 1 ] && [ -n "$rootfs" ]; then
		[ -d "$rootfs/usr/bin" ] && [ -f "$rootfs/etc/os-release" ] || die "--rootfs $rootfs: not a Debian rootfs (no usr/bin, etc/os-release)"
	elif [ "$debian" = 1 ]; then
		command -v debootstrap >/dev/null || missing="$missing debootstrap"
	fi
	if ! /bin/busybox --list >/dev/null 2>&1 || ldd /bin/busybox >/dev/null 2>&1; then
		missing="$missing busybox-static"
	fi
	[ -z "$missing" ] || die "missing:$missing (apt-get install -y docker-registry skopeo umoci podman hyperfine curl jq iproute2 time busybox-static)"
	[ -x "$berth" ] || log "warning: $berth is not built (meson setup build && ninja -C build); berth is left out"
	if [ -n "$out" ] && ! { [ -d "$(dirname "$out")" ] && [ -w "$(dirname "$out")" ]; }; then
		die "cannot write $out (its directory must exist)"
	fi
	exec unshare -m --propagation private -- bash "$0" --inner "${orig_args[@]}"
fi

# ---------------------------------------------------------------- inner
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] ||
	die "not in a private mount namespace; refusing to let podman mount"

if [ "$quick" = 1 ]; then
	ROUNDS=1 RUNS=3 WARMUP=1
else
	ROUNDS=4 RUNS=3 WARMUP=1
fi

TMP=$(mktemp -d "$tmpdir/berth-pull.XXXXXX")
reg_pid=""
varlib_mounted=""
shm_mounted=""
logf="$TMP/bench.log"
: >"$logf"
# umount_below DIR: every mount at or below DIR in this namespace, deepest first.
umount_below() {
	local m
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
}
cleanup() {
	local rc=$?
	set +e
	trap - ERR
	if [ -n "$reg_pid" ]; then
		kill "$reg_pid" 2>/dev/null
		wait "$reg_pid" 2>/dev/null
	fi
	if [ "$rc" != 0 ] && [ -s "$logf" ]; then
		echo "bench/pull.sh: failed; last lines of the log:" >&2
		tail -n 30 "$logf" >&2
	fi
	[ -z "$varlib_mounted" ] || umount /var/lib || umount -l /var/lib
	[ -z "$shm_mounted" ] || umount /dev/shm || umount -l /dev/shm
	umount_below "$TMP"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Temporary files of every tool (containers/image's big files, podman's copies) stay in $TMP.
export TMPDIR="$TMP/tmp"
mkdir -p "$TMPDIR"
# skopeo and podman run as root keep a blob-info cache in /var/lib/containers/cache
# and podman a lock in /dev/shm/libpod_lock. In this namespace /var/lib is an overlay
# whose upper layer is in $TMP, and /dev/shm a private tmpfs, so what they write
# there goes away with the run; the host's /var/lib and /dev/shm are not touched.
mkdir -p "$TMP/varlib/upper" "$TMP/varlib/work"
mount -t overlay berth-pull-varlib \
	-o "lowerdir=/var/lib,upperdir=$TMP/varlib/upper,workdir=$TMP/varlib/work" /var/lib
varlib_mounted=1
mount -t tmpfs -o mode=1777,size=64m berth-pull-shm /dev/shm
shm_mounted=1

# clean.sh DIR...: the --prepare of every run. Refuses paths outside $TMP; unmounts
# what is mounted at or below each DIR, removes it, and syncs the file system so no
# run pays for the previous one's writeback.
cat >"$TMP/clean.sh" <<EOF
#!/bin/bash
set -eu
for d; do
	case "\$d" in "$TMP"/?*) ;; *) echo "clean.sh: \$d is not below $TMP" >&2; exit 1 ;; esac
	awk -v d="\$d" '\$5 == d || index(\$5, d "/") == 1 {print \$5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount "\$m" 2>/dev/null || umount -l "\$m"; done
	rm -rf "\$d"
done
sync -f "$TMP"
EOF
chmod +x "$TMP/clean.sh"

# ---------------------------------------------------------------- registry
free_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 40000))
		ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	die "no free port found"
}
start_registry() {
	local _ i
	for _ in 1 2 3; do
		PORT=$(free_port)
		cat >"$TMP/registry.yml" <<-EOF
		version: 0.1
		log:
		  level: error
		  accesslog:
		    disabled: true
		storage:
		  filesystem:
		    rootdirectory: $TMP/registry
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:$PORT
		EOF
		docker-registry serve "$TMP/registry.yml" >"$TMP/registry.log" 2>&1 &
		reg_pid=$!
		for ((i = 0; i < 100; i++)); do
			if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v2/" 2>/dev/null; then
				return 0
			fi
			kill -0 "$reg_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$reg_pid" 2>/dev/null || true
		wait "$reg_pid" 2>/dev/null || true
		reg_pid=""
		cat "$TMP/registry.log" >>"$logf"
	done
	die "docker-registry did not answer on http://127.0.0.1:$PORT/v2/ (see the log above)"
}
log "starting docker-registry"
start_registry
log "registry on 127.0.0.1:$PORT (pid $reg_pid)"

# ---------------------------------------------------------------- test image
if [ "$debian" = 1 ]; then
	TAG=bookworm-minbase
	REF="127.0.0.1:$PORT/bench/debian:$TAG"
	CHECK_FILE=usr/bin/bash # what a pull must have unpacked
else
	TAG=l${layers}x${layer_mb}m
	REF="127.0.0.1:$PORT/bench/layers:$TAG"
	CHECK_FILE=bin/busybox
fi
img="$TMP/image"

case "$(uname -m)" in
x86_64) goarch=amd64 ;;
aarch64) goarch=arm64 ;;
*) goarch=$(uname -m) ;;
esac

# add_blob FILE: move FILE into $img/blobs/sha256 under its digest; prints the hex digest
add_blob() {
	local h
	h=$(sha256sum "$1" | cut -d" " -f1)
	mv "$1" "$img/blobs/sha256/$h"
	echo "$h"
}
# build_image: the OCI layout in $img, tag $TAG, built here
build_image() {
	local w="$TMP/image-build" i
	diff_ids=() digests=() sizes=() histories=()
	rm -rf "$img" "$w"
	mkdir -p "$img/blobs/sha256" "$w"
	# layer 0: busybox-static, one symlink per applet
	mkdir -p "$w/l0/bin" "$w/l0/etc" "$w/l0/tmp"
	cp /bin/busybox "$w/l0/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$w/l0/bin/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$w/l0/etc/passwd"
	echo "root:x:0:" >"$w/l0/etc/group"
	chmod 1777 "$w/l0/tmp"
	for ((i = 1; i <= layers; i++)); do
		mkdir -p "$w/l$i/data"
		head -c "$((layer_mb * 1024 * 1024))" /dev/urandom >"$w/l$i/data/layer$i.bin"
	done
	for ((i = 0; i <= layers; i++)); do
		tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$w/l$i" -cf "$w/l$i.tar" .
		if [ "$i" = 0 ]; then
			add_layer "$w/l$i.tar" 1 "busybox-static"
		else
			add_layer "$w/l$i.tar" 1 "$layer_mb MiB from /dev/urandom"
		fi
	done
	finish_image "$w"
}
# add_layer TAR LEVEL HISTORY: TAR gzip'ed as the next layer of the image being built
add_layer() {
	diff_ids+=("sha256:$(sha256sum "$1" | cut -d" " -f1)")
	gzip -n "-$2" "$1"
	sizes+=("$(stat -c %s "$1.gz")")
	digests+=("sha256:$(add_blob "$1.gz")")
	histories+=("$3")
}
# finish_image WORKDIR: config, manifest and index.json of the layers added
finish_image() {
	local w=$1 i
	jq -cn --arg arch "$goarch" \
		--args '{architecture: $arch, os: "linux", created: "1970-01-01T00:00:00Z",
			config: {Cmd: ["/bin/sh"], Env: ["PATH=/bin"]},
			rootfs: {type: "layers", diff_ids: $ARGS.positional[:($ARGS.positional | length / 2)]},
			history: ($ARGS.positional[($ARGS.positional | length / 2):] | map({created: "1970-01-01T00:00:00Z", created_by: .}))}' \
		"${diff_ids[@]}" "${histories[@]}" >"$w/config.json"
	local cfg_size cfg_digest
	cfg_size=$(stat -c %s "$w/config.json")
	cfg_digest="sha256:$(add_blob "$w/config.json")"
	local layers_json="[]"
	for ((i = 0; i < ${#digests[@]}; i++)); do
		layers_json=$(jq -c --arg d "${digests[i]}" --argjson s "${sizes[i]}" \
			'. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' <<<"$layers_json")
	done
	jq -cn --arg cd "$cfg_digest" --argjson cs "$cfg_size" --argjson l "$layers_json" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
		  layers: $l}' >"$w/manifest.json"
	local m_size m_digest
	m_size=$(stat -c %s "$w/manifest.json")
	m_digest="sha256:$(add_blob "$w/manifest.json")"
	jq -cn --arg d "$m_digest" --argjson s "$m_size" --arg tag "$TAG" \
		'{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
		  digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": $tag}}]}' >"$img/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$img/oci-layout"
	rm -rf "$w"
}

# build_debian_image: the Debian rootfs ($rootfs, or made here by debootstrap) in 5
# layers. The layers hold what a Dockerfile's steps might add, with their parent
# directories; /dev, /proc and /sys are left empty as in docker's Debian images.
build_debian_image() {
	local w="$TMP/image-build" src=$rootfs t
	diff_ids=() digests=() sizes=() histories=()
	rm -rf "$img" "$w"
	mkdir -p "$img/blobs/sha256" "$w"
	if [ -z "$src" ]; then
		src="$TMP/debootstrap"
		log "debootstrap --variant=minbase bookworm (reaches deb.debian.org)"
		debootstrap --variant=minbase bookworm "$src" >>"$logf" 2>&1 || die "debootstrap failed (see the log)"
	fi
	local parts=(usr/lib usr/share var/lib/apt var/cache)
	t=(tar --sort=name --numeric-owner --one-file-system --format=posix
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "$src")
	"${t[@]}" --anchored --exclude=./usr/lib --exclude=./usr/share --exclude=./var/lib/apt \
		--exclude=./var/cache --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
		-cf "$w/base.tar" . || die "tar of $src failed"
	add_layer "$w/base.tar" 6 "debootstrap --variant=minbase bookworm: the base system"
	for p in "${parts[@]}"; do
		[ -d "$src/$p" ] || continue
		# the parents as entries of their own, then the subtree
		"${t[@]}" --no-recursion "./${p%%/*}" $([ "${p%/*}" = "${p%%/*}" ] || echo "./${p%/*}") \
			--recursion "./$p" -cf "$w/${p//\//_}.tar" || die "tar of $src/$p failed"
		add_layer "$w/${p//\//_}.tar" 6 "debootstrap --variant=minbase bookworm: /$p"
	done
	finish_image "$w"
}

image_from=""
if [ "$debian" = 1 ]; then
	log "building the Debian image from ${rootfs:-debootstrap} (5 gzip -6 layers)"
	build_debian_image
	image_from="bench/pull.sh from ${rootfs:-a fresh debootstrap} (tar, gzip -6, sha256sum, jq)"
elif [ -x "$repo/scripts/make-oci-image.sh" ]; then
	log "building the test image with scripts/make-oci-image.sh"
	rm -rf "$img"
	if "$repo/scripts/make-oci-image.sh" "$img" --tag "$TAG" --layers "$layers" --layer-mb "$layer_mb" >>"$logf" 2>&1 &&
		skopeo inspect --raw "oci:$img:$TAG" >/dev/null 2>>"$logf"; then
		image_from="scripts/make-oci-image.sh"
	else
		log "  scripts/make-oci-image.sh failed (see the log); building the image here"
	fi
fi
if [ -z "$image_from" ]; then
	diff_ids=() digests=() sizes=() histories=()
	log "building the test image ($layers x $layer_mb MiB of random data + busybox)"
	build_image
	image_from="bench/pull.sh (tar, gzip -1, sha256sum, jq)"
fi
log "pushing it to $REF"
skopeo copy -q --dest-tls-verify=false "oci:$img:$TAG" "docker://$REF" >>"$logf" 2>&1 ||
	die "skopeo copy to the registry failed (see the log)"

manifest=$(skopeo inspect --raw --tls-verify=false "docker://$REF")
n_layers=$(jq '.layers | length' <<<"$manifest")
img_compressed=$(jq '[.layers[].size] | add + 0' <<<"$manifest")
img_uncompressed=0
n_entries=0
for d in $(jq -r '.layers[].digest' <<<"$manifest"); do
	s=$(gzip -dc "$img/blobs/sha256/${d#sha256:}" | wc -c)
	img_uncompressed=$((img_uncompressed + s))
	n=$(gzip -dc "$img/blobs/sha256/${d#sha256:}" | tar -t | wc -l)
	n_entries=$((n_entries + n))
done
rm -rf "$img" # only the registry's copy is needed from here on
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
log "image: $n_layers layers, $(mib "$img_compressed") compressed, $(mib "$img_uncompressed") unpacked"

# ---------------------------------------------------------------- the commands
# The blob-info cache of skopeo and podman (in the /var/lib overlay) persists from run
# to run, as on a real host; it maps digests, and with an empty destination every run
# there is nothing to reuse.
berth_store="$TMP/berth-store"
berth_run="$TMP/berth-run"
oci="$TMP/oci"
bundle="$TMP/bundle"
pod_root="$TMP/podman-root"
pod_run="$TMP/podman-run"
pod_tmp="$TMP/podman-tmp"
skopeo_cmd="skopeo copy -q --src-tls-verify=false docker://$REF oci:$oci:$TAG"
umoci_cmd="umoci unpack --image $oci:$TAG $bundle"
podman_cmd() { # podman_cmd DRIVER
	echo "podman --root $pod_root --runroot $pod_run --tmpdir $pod_tmp --events-backend none --storage-driver $1 pull --tls-verify=false -q docker://$REF"
}

declare -A CMD=() PREP=() NAME=()
TOOLS=()
NOTES=()
cleanup_all() { "$TMP/clean.sh" "$berth_store" "$berth_run" "$oci" "$bundle" "$pod_root" "$pod_run" "$pod_tmp"; }

# probe KEY LABEL CMD PREP: one pull from empty; in the timing only if it worked
probe() {
	local key=$1 label=$2 cmd=$3 prep=$4
	echo "== probe $label: $cmd" >>"$logf"
	$prep >>"$logf" 2>&1
	if bash -c "$cmd" >"$TMP/probe.out" 2>&1; then
		cat "$TMP/probe.out" >>"$logf"
		CMD[$key]=$cmd PREP[$key]=$prep NAME[$key]=$label
		TOOLS+=("$key")
		return 0
	fi
	cat "$TMP/probe.out" >>"$logf"
	echo "probe $label: FAILED" >>"$logf"
	return 1
}

if [ -x "$berth" ]; then
	# Benchmark a copy: a rebuild of build/ during the run must not change it.
	cp "$berth" "$TMP/berth"
	berth_cmd="$TMP/berth --root $berth_store --runroot $berth_run pull --tls-verify=false -q $REF"
	if ! probe berth berth "$berth_cmd" "$TMP/clean.sh $berth_store $berth_run"; then
		NOTES+=("berth: \`pull\` failed here ($(tail -n 2 "$TMP/probe.out" | tr '\n' ' ' | sed 's/|/\\|/g; s/ *$//')); left out")
		log "  berth pull fails (see the log); left out"
	fi
else
	NOTES+=("berth: $berth is not built; left out")
fi
if probe skopeo "skopeo + umoci" "sh -c '$skopeo_cmd && $umoci_cmd'" "$TMP/clean.sh $oci $bundle"; then
	[ -e "$bundle/rootfs/$CHECK_FILE" ] || die "umoci unpack left no $bundle/rootfs/$CHECK_FILE"
else
	NOTES+=("skopeo + umoci failed (see the log); left out")
fi
pod_prep="$TMP/clean.sh $pod_root $pod_run $pod_tmp"
if probe podman podman "$(podman_cmd overlay)" "$pod_prep"; then
	pod_driver=overlay
elif probe podman "podman (vfs)" "$(podman_cmd vfs)" "$pod_prep"; then
	pod_driver=vfs
	NOTES+=("podman: the overlay storage driver failed here (see the log); measured with vfs, which copies every layer in full")
	log "  podman's overlay driver fails here; using vfs"
else
	pod_driver=none
	NOTES+=("podman pull failed with overlay and vfs (see the log); left out")
fi
cleanup_all >>"$logf" 2>&1
[ "${#TOOLS[@]}" -gt 0 ] || die "no tool could pull the image"

# ---------------------------------------------------------------- peak RSS and disk use of one pull each, from empty
declare -A RSS=() DISK=()
declare -A DEST=([berth]="$berth_store" [skopeo]="$oci $bundle" [podman]="$pod_root")
rss_of() { # rss_of CMD...: KiB
	/usr/bin/time -f %M -o "$TMP/rss" "$@" >>"$logf" 2>&1 || { echo "fail"; return; }
	tail -n 1 "$TMP/rss"
}
kib_mib() { case "$1" in "" | fail) echo "${1:-n/a}" ;; *) awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}' ;; esac; }
log "peak RSS of one pull each"
for k in "${TOOLS[@]}"; do
	cleanup_all >>"$logf" 2>&1
	# shellcheck disable=SC2086 # the commands are split into words on purpose (no globs in them)
	case "$k" in
	berth) RSS[$k]="$(kib_mib "$(rss_of $berth_cmd)")" ;;
	skopeo)
		s=$(rss_of $skopeo_cmd)
		u=$(rss_of $umoci_cmd)
		RSS[$k]="$(kib_mib "$s") (skopeo) / $(kib_mib "$u") (umoci)"
		;;
	podman) RSS[$k]="$(kib_mib "$(rss_of ${CMD[podman]})")" ;;
	esac
	# shellcheck disable=SC2086 # DEST holds several paths
	d=$(du -scb ${DEST[$k]} 2>/dev/null | tail -n 1 | cut -f1)
	DISK[$k]=$(awk -v b="${d:-0}" 'BEGIN {printf "%.0f", b / 1048576}')
	if [ "${d:-0}" -lt "$((img_uncompressed * 9 / 10))" ]; then
		NOTES+=("${NAME[$k]}: the destination holds $(mib "${d:-0}") after a pull, less than the unpacked image: did it unpack?")
	fi
done
cleanup_all >>"$logf" 2>&1

# ---------------------------------------------------------------- hyperfine, side by side, in rounds
# hyperfine runs one command's runs back to back; several short rounds spread a burst of
# load on the machine over all tools. The samples of all rounds are merged.
jsondir="$TMP/json"
mkdir -p "$jsondir"
load0=$(cut -d" " -f1-3 /proc/loadavg)
start_s=$SECONDS
hf_cmd=(hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS")
for k in "${TOOLS[@]}"; do hf_cmd+=(--prepare "${PREP[$k]}"); done
for k in "${TOOLS[@]}"; do hf_cmd+=(-n "${NAME[$k]}" "${CMD[$k]}"); done
for ((round = 1; round <= ROUNDS; round++)); do
	log "hyperfine round $round of $ROUNDS (${#TOOLS[@]} tools x $((RUNS + WARMUP)) pulls)"
	echo "== hyperfine round $round" >>"$logf"
	"${hf_cmd[@]}" --export-json "$jsondir/r$round.json" >>"$logf" 2>&1 ||
		die "hyperfine failed (see the log)"
done
cleanup_all >>"$logf" 2>&1
elapsed=$((SECONDS - start_s))
# merge the rounds' samples per command
jq -s '{results: (map(.results) | transpose | map({
	command: .[0].command,
	times: (map(.times) | add | sort)} | .times as $t | ($t | length) as $n
	| (($t | add) / $n) as $mean
	| . + {mean: $mean, min: $t[0], max: $t[-1],
		median: (if $n % 2 == 1 then $t[($n - 1) / 2] else ($t[$n / 2 - 1] + $t[$n / 2]) / 2 end),
		stddev: (if $n > 1 then (($t | map((. - $mean) * (. - $mean)) | add) / ($n - 1) | sqrt) else 0 end)}))}' \
	"$jsondir"/r*.json >"$jsondir/pull.json"

# ---------------------------------------------------------------- report
ver() { "$@" 2>&1 | sed -n 1p; }
report() {
	local berth_mean k
	echo "# berth pull benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$quick" = 0 ] || echo ' (--quick)')"
	echo
	if [ "$debian" = 1 ]; then
		echo "- image: Debian 12 (debootstrap --variant=minbase bookworm), $n_layers gzip -6 layers (base, usr/lib, usr/share, var/lib/apt, var/cache), $n_entries entries, $(mib "$img_compressed") compressed, $(mib "$img_uncompressed") unpacked; built by $image_from, served by docker-registry on 127.0.0.1 (plain http)"
	else
		echo "- image: $n_layers gzip layers (busybox-static + $layers x $layer_mb MiB from /dev/urandom), $(mib "$img_compressed") compressed, $(mib "$img_uncompressed") unpacked; built by $image_from, served by docker-registry on 127.0.0.1 (plain http)"
	fi
	echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $TMP on $(findmnt -no FSTYPE,SOURCE -T "$TMP" 2>/dev/null | tr -s ' ' || stat -f -c %T "$TMP")"
	if [ -n "${CMD[berth]:-}" ]; then
		echo "- berth: $(ver "$TMP/berth" --version) ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD -- src 2>/dev/null || echo '+dirty'))"
	fi
	echo "- $(ver skopeo --version); umoci $(umoci --version | awk '{print $NF}'); $(ver podman --version) ($pod_driver driver); $(ver docker-registry --version | awk '{print $1, $NF}'); hyperfine $(hyperfine --version | awk '{print $NF}')"
	echo "- samples per tool: $((ROUNDS * RUNS)) ($ROUNDS round(s) of $RUNS, warmup $WARMUP each), every run from an empty destination; bench time ${elapsed}s; load average before / after: $load0 / $(cut -d" " -f1-3 /proc/loadavg)"
	echo
	echo "| tool | mean | ± σ | median | min | max | vs berth (mean) | peak RSS MiB | disk MiB |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	berth_mean=$(jq -r '.results[] | select(.command == "berth") | .mean' "$jsondir/pull.json")
	for k in "${TOOLS[@]}"; do
		jq -r --arg n "${NAME[$k]}" '.results[] | select(.command == $n) | "\(.mean) \(.stddev) \(.median) \(.min) \(.max)"' \
			"$jsondir/pull.json" | awk -v n="${NAME[$k]}" -v b="${berth_mean:-0}" -v rss="${RSS[$k]:-n/a}" \
			-v disk="${DISK[$k]:-n/a}" '{printf "| %s | %.2f s | %.2f s | %.2f s | %.2f s | %.2f s | %s | %s | %s |\n", n, $1, $2, $3, $4, $5,
			  (b > 0 ? sprintf("%.2fx", $1 / b) : "n/a"), rss, disk}'
	done
	if [ -z "${CMD[berth]:-}" ]; then echo "| berth | n/a | | | | | | | |"; fi
	echo
	echo "mean ± σ: wall time of one pull + unpack from an empty destination (hyperfine); peak RSS: one"
	echo "pull under /usr/bin/time (skopeo and umoci each); disk: what the destination holds after one pull"
	echo "(berth's store and skopeo's OCI dir keep the compressed blobs besides the unpacked layers;"
	echo "podman keeps only the unpacked layers)."
	echo
	for k in "${NOTES[@]}"; do echo "- $k"; done
	[ "${#NOTES[@]}" = 0 ] || echo
	echo "Commands (\`--prepare\` before every run: unmount and remove the destination, then \`sync -f\`):"
	echo
	echo '```'
	for k in "${TOOLS[@]}"; do echo "${NAME[$k]}: ${CMD[$k]}"; done
	echo '```'
}
report >"$TMP/report.md"
cat "$TMP/report.md"
[ -z "$out" ] || cp "$TMP/report.md" "$out"
