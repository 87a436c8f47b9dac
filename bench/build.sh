#!/usr/bin/env bash
# berth build against buildah bud, side by side, on the same Containerfiles
# and the same base image (the busybox-static rootfs the tests use).
#
#   bench/build.sh [--quick] [--out FILE] [--berth PATH] [--buildah PATH]
#
#   --quick         1 timed run per case (default 3), for a smoke run
#   --out FILE      also write the report (markdown) to FILE
#   --berth PATH    berth binary (default $BERTH or build/src/cmd/berth/berth)
#   --buildah PATH  buildah binary (default $BUILDAH or buildah)
#
# Cases (each tool builds every one; the median wall time of the runs):
#   multi-stage  three independent stages with a RUN each (some shell work),
#                COPY --from of all three into a fourth: cold (no cache)
#   many-runs    10 small RUN steps: cold, then fully cached
#   copy-heavy   COPY of a 2000-file context (8 MiB) and a RUN over it: cold
#   one-change   copy-heavy rebuilt with the cache after one source file changed
# berth: `berth build [--no-cache]` (RUN on its default network, the
# bridge); buildah 1.28: `buildah bud --layers [--no-cache] --isolation
# chroot --pull-never` with the vfs storage driver (overlay does not work
# for it on this VM; chroot isolation: RUN shares the network namespace).
# Both run as root with stores of their own in one temporary directory
# (removed on exit), inside a private mount and network namespace so that
# nothing they mount or attach reaches the host. The report goes to stdout:
# milliseconds and the ratio buildah/berth per case.
#
# Needs root, buildah, busybox-static, jq; installs nothing.
set -eEuo pipefail
trap 'echo "bench/build.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
quick=0
out=""
berth="${BERTH:-$repo/build/src/cmd/berth/berth}"
buildah="${BUILDAH:-buildah}"
inner=0
orig_args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; shift ;;
	--out) out="$2"; shift 2 ;;
	--berth) berth="$2"; shift 2 ;;
	--buildah) buildah="$2"; shift 2 ;;
	--inner) inner=1; shift ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$berth" in /*) ;; *) berth="$PWD/$berth" ;; esac
case "$out" in "" | /*) ;; *) out="$PWD/$out" ;; esac

die() { echo "bench/build.sh: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

if [ "$inner" = 0 ]; then
	[ "$(id -u)" = 0 ] || die "must run as root"
	command -v "$buildah" >/dev/null || die "buildah is missing (apt-get install -y buildah)"
	command -v jq >/dev/null || die "jq is missing"
	/bin/busybox --list >/dev/null 2>&1 && ! ldd /bin/busybox >/dev/null 2>&1 || die "busybox-static is missing"
	[ -x "$berth" ] || die "$berth is not built (scripts/build.sh)"
	exec unshare -m -n --propagation private -- bash "$0" --inner "${orig_args[@]}"
fi

runs=3
[ "$quick" = 0 ] || runs=1
TMP=$(mktemp -d /tmp/berth-build-bench.XXXXXX)
# berth's bridge for RUN lives in this private network namespace, its
# host-wide records in TMP
ip link set lo up
export BERTH_NETWORK_RUNDIR="$TMP/hostnet"
logf="$TMP/bench.log"
cleanup() {
	local rc=$?
	set +e
	awk -v d="$TMP" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	[ "$rc" = 0 ] || tail -n 30 "$logf" >&2
	rm -rf "$TMP"
}
trap cleanup EXIT

B() { "$berth" --root "$TMP/berth/store" --runroot "$TMP/berth/run" "$@"; }
H() { "$buildah" --root "$TMP/buildah/root" --runroot "$TMP/buildah/run" --storage-driver vfs "$@"; }

# the base image: the tests' busybox rootfs, in both stores
rootfs="$TMP/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
tar -C "$rootfs" -cf "$TMP/rootfs.tar" .
B import "$TMP/rootfs.tar" localhost/bb --change 'CMD ["sh"]' >>"$logf"
B save --format oci-archive -o "$TMP/bb.tar" localhost/bb
H pull -q "oci-archive:$TMP/bb.tar" >>"$logf" 2>&1
H tag "$(H images -q | head -1)" localhost/bb >>"$logf" 2>&1
base=localhost/bb

# the contexts
ctx() { mkdir -p "$TMP/ctx/$1"; echo "$TMP/ctx/$1"; }
c=$(ctx multi-stage)
cat >"$c/Containerfile" <<EOF
FROM $base AS a
RUN i=0; while [ \$i -lt 3000 ]; do echo a\$i; i=\$((i+1)); done > /a
FROM $base AS b
RUN i=0; while [ \$i -lt 3000 ]; do echo b\$i; i=\$((i+1)); done > /b
FROM $base AS c
RUN i=0; while [ \$i -lt 3000 ]; do echo c\$i; i=\$((i+1)); done > /c
FROM $base
COPY --from=a /a /a
COPY --from=b /b /b
COPY --from=c /c /c
RUN cat /a /b /c | wc -l
EOF
c=$(ctx many-runs)
{
	echo "FROM $base"
	for i in 1 2 3 4 5 6 7 8 9 10; do echo "RUN echo $i > /f$i"; done
} >"$c/Containerfile"
c=$(ctx copy-heavy)
mkdir -p "$c/src"
for d in $(seq 1 20); do
	mkdir -p "$c/src/d$d"
	for f in $(seq 1 100); do head -c 4096 /dev/urandom >"$c/src/d$d/f$f"; done
done
printf 'FROM %s\nCOPY src/ /src/\nRUN find /src -type f | wc -l\n' "$base" >"$c/Containerfile"

# time_ms CMD...: wall time of one run in ms (the command's output to the log)
time_ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >>"$logf" 2>&1 || die "failed: $*"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

berth_build() { B build -q "$@"; }
buildah_build() { H bud --layers --isolation chroot --pull-never -q "$@"; }

declare -A result
# measure CASE PREP TOOL ARGS...: RUNS runs of the TOOL's build, PREP before each
measure() {
	local name=$1 prep=$2 tool=$3
	shift 3
	local samples=""
	for ((r = 0; r < runs; r++)); do
		$prep
		samples="$samples $(time_ms "$tool" "$@")"
	done
	result[$name]=$(tr ' ' '\n' <<<"$samples" | grep . | median)
	log "$name: ${samples# } ms"
}
noop() { :; }

for tool in berth buildah; do
	fn=${tool}_build
	log "$tool: multi-stage, cold"
	measure "$tool multi-stage" noop $fn --no-cache -t ms "$TMP/ctx/multi-stage"
	log "$tool: many-runs, cold, then cached"
	measure "$tool many-runs" noop $fn --no-cache -t mr "$TMP/ctx/many-runs"
	$fn -t mr "$TMP/ctx/many-runs" >>"$logf" 2>&1
	measure "$tool many-runs-cached" noop $fn -t mr "$TMP/ctx/many-runs"
	log "$tool: copy-heavy, cold, then one source changed"
	measure "$tool copy-heavy" noop $fn --no-cache -t ch "$TMP/ctx/copy-heavy"
	$fn -t ch "$TMP/ctx/copy-heavy" >>"$logf" 2>&1
	change_one() { head -c 4096 /dev/urandom >"$TMP/ctx/copy-heavy/src/d7/f42"; }
	measure "$tool one-change" change_one $fn -t ch "$TMP/ctx/copy-heavy"
done

{
	echo "bench/build.sh at $(date -u +%H:%M) UTC, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
		"$runs run(s) per case (median); $("$buildah" --version | cut -d' ' -f1-3), vfs"
	echo
	echo "| case | berth (ms) | buildah (ms) | buildah / berth |"
	echo "|---|---:|---:|---:|"
	for c in multi-stage many-runs many-runs-cached copy-heavy one-change; do
		b=${result["berth $c"]} h=${result["buildah $c"]}
		echo "| $c | $b | $h | $(awk -v b="$b" -v h="$h" 'BEGIN {printf "%.1fx", (b > 0 ? h / b : 0)}') |"
	done
} | tee "${out:-/dev/null}"
