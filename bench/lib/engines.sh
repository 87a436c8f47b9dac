# Sourced by bench/engine.sh and bench/network.sh: berth against podman,
# each with stores of its own in one temporary directory, inside the private
# mount namespace the caller runs in.
#
# The caller sets `here` and `repo`, calls engines_args NAME "$@" first
# (it sets quick, out, berth, runtime, inner and orig_args, and defines die()
# and log()), sets TMP (the temporary directory), logf (the log), ROUNDS,
# RUNS and WARMUP, then:
#
#   engines_check_tools [TOOL...]   dies naming what is missing: hyperfine, podman,
#                                   conmon, skopeo, jq, unshare, crun or runc,
#                                   busybox-static, and the extra TOOLs
#   engines_mount_private           /var/lib an overlay (upper in TMP), /dev/shm a
#                                   tmpfs, TMP/run a tmpfs (RUN: the engines' run roots,
#                                   as /run is on a real host), the hybrid cgroup2 at
#                                   /sys/fs/cgroup/unified replaced by a small tmpfs;
#                                   sets cgroup_layout
#   engines_unmount_private         undoes that, then unmounts everything below TMP
#   engines_podman_setup            containers.conf and storage.conf in TMP/podman,
#                                   exported; sets P (podman with its roots) and
#                                   podman_runtime; write_podman_conf rewrites them
#                                   after podman_runtime changed
#   engines_load_image B...         IMAGE built by scripts/make-oci-image.sh, loaded
#                                   into berth (the command B...) and podman
#   quote ARGS...                   a shell command line, quoted only where needed
#   engines_hyperfine NAME CMD ...  ROUNDS hyperfine invocations, all commands side by
#                                   side, samples merged into TMP/json/all.json
#   stat_of NAME KEY                median, mean, stddev, min or max (seconds)
#   ms SECONDS                      in ms, one decimal
#
# Why the mounts: run as root, podman writes a blob-info cache below
# /var/lib/containers and a lock file in /dev/shm; they go away with the
# run. crun 1.8.1, podman's runtime, refuses the hybrid cgroup layout, and
# still writes below /sys/fs/cgroup/unified when it is a plain directory of
# the host's /sys/fs/cgroup tmpfs. The host's own mounts are never changed.

IMAGE=localhost/berth-bench:latest
P=()
podman_runtime=crun
cgroup_layout=""
_engines_varlib=""
_engines_shm=""
_engines_unified=""

# engines_args NAME ARGS...: --quick, --out FILE, --berth PATH, --inner (the
# re-exec in the private namespaces), -h; paths made absolute.
engines_args() {
	local name=$1
	shift
	quick=0
	out=""
	berth="${BERTH:-$repo/build/src/cmd/berth/berth}"
	inner=0
	orig_args=("$@")
	eval "die() { echo \"bench/$name: \$*\" >&2; exit 1; }"
	log() { echo "bench: $*" >&2; }
	while [ $# -gt 0 ]; do
		case "$1" in
		--quick) quick=1; shift ;;
		--out) out="$2"; shift 2 ;;
		--berth) berth="$2"; shift 2 ;;
		--inner) inner=1; shift ;;
		-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		*) echo "bench/$name: unknown argument $1 (see --help)" >&2; exit 2 ;;
		esac
	done
	case "$berth" in /*) ;; *) berth="$PWD/$berth" ;; esac
	case "$out" in "" | /*) ;; *) out="$PWD/$out" ;; esac
	runtime="$(dirname "$berth")/../runtime/berth-runtime"
	[ -x "$runtime" ] || runtime="$(dirname "$berth")/berth-runtime"
}

engines_check_tools() {
	local t missing=""
	[ "$(id -u)" = 0 ] || die "must run as root (containers, overlay mounts, cgroups)"
	for t in hyperfine podman conmon skopeo jq unshare "$@"; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	command -v crun >/dev/null || command -v runc >/dev/null || missing="$missing crun|runc"
	if ! /bin/busybox --list >/dev/null 2>&1 || ldd /bin/busybox >/dev/null 2>&1; then
		missing="$missing busybox-static"
	fi
	[ -z "$missing" ] || die "missing:$missing (scripts/install-deps.sh --all, or apt-get install -y hyperfine podman conmon crun skopeo jq busybox-static)"
}

umount_below() { # every mount at or below DIR in this namespace, deepest first
	local m
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
}

engines_mount_private() {
	[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] ||
		die "not in a private mount namespace; refusing to mount"
	mkdir -p "$TMP/varlib/upper" "$TMP/varlib/work"
	mount -t overlay berth-bench-varlib \
		-o "lowerdir=/var/lib,upperdir=$TMP/varlib/upper,workdir=$TMP/varlib/work" /var/lib
	_engines_varlib=1
	mount -t tmpfs -o mode=1777,size=64m berth-bench-shm /dev/shm
	_engines_shm=1
	# run-time state (runroots, the runtimes' state, podman's tmp_dir and
	# events log) lives in /run, a tmpfs, on a real host; so it does here
	RUN="$TMP/run"
	mkdir -p "$RUN"
	mount -t tmpfs -o mode=0755,size=256m berth-bench-run "$RUN"
	cgroup_layout="v1"
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
		cgroup_layout="v2 (unified)"
	elif [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		cgroup_layout="hybrid (v1 controllers; the empty cgroup2 at /sys/fs/cgroup/unified unmounted in the namespace)"
		umount /sys/fs/cgroup/unified
		mount -t tmpfs -o mode=0755,size=1m berth-bench-unified /sys/fs/cgroup/unified
		_engines_unified=1
	fi
}

engines_unmount_private() {
	[ -z "$_engines_varlib" ] || umount /var/lib || umount -l /var/lib
	[ -z "$_engines_shm" ] || umount /dev/shm || umount -l /dev/shm
	umount_below "$TMP"
}

_engines_limit() { # the smaller of the hard limit of ulimit -FLAG and WANT
	local hard
	hard=$(ulimit "-H$1")
	if [ "$hard" = unlimited ] || [ "$hard" -gt "$2" ]; then echo "$2"; else echo "$hard"; fi
}

write_podman_conf() {
	local nofile nproc
	nofile=$(_engines_limit n 1048576)
	nproc=$(_engines_limit u 32768)
	mkdir -p "$RUN/libpod" "$TMP/podman/cni"
	cat >"$TMP/podman/containers.conf" <<EOF
[containers]
# root may lack CAP_SYS_RESOURCE: rlimits must fit under the hard limits
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$RUN/libpod/events.log"
tmp_dir = "$RUN/libpod"
runtime = "$podman_runtime"
[network]
network_backend = "cni"
network_config_dir = "$TMP/podman/cni"
EOF
	cat >"$TMP/podman/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$RUN/podman"
graphroot = "$TMP/podman/graph"
EOF
}

engines_podman_setup() {
	command -v crun >/dev/null || podman_runtime=runc
	write_podman_conf
	export CONTAINERS_CONF="$TMP/podman/containers.conf" CONTAINERS_STORAGE_CONF="$TMP/podman/storage.conf"
	P=(podman --root "$TMP/podman/graph" --runroot "$RUN/podman")
}

engines_load_image() {
	log "building the image"
	"$repo/scripts/make-oci-image.sh" "$TMP/oci" --tag latest >>"$logf" 2>&1 || die "make-oci-image.sh failed"
	skopeo copy "oci:$TMP/oci:latest" "docker-archive:$TMP/image.tar:$IMAGE" >>"$logf" 2>&1 ||
		die "skopeo copy to a docker-archive failed"
	"$@" load -i "$TMP/image.tar" >>"$logf" 2>&1 || die "berth load failed"
	"${P[@]}" load -i "$TMP/image.tar" >>"$logf" 2>&1 || die "podman load failed"
}

# shellcheck source=bench/lib/quote.sh
. "$here/lib/quote.sh"

engines_hyperfine() {
	local round args=() n=0
	while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); shift 2; n=$((n + 1)); done
	mkdir -p "$TMP/json"
	for ((round = 1; round <= ROUNDS; round++)); do
		log "hyperfine round $round/$ROUNDS ($n commands x $RUNS runs)"
		hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$TMP/json/r$round.json" \
			"${args[@]}" >>"$logf" 2>&1 || die "hyperfine failed"
	done
	jq -s '{results: (map(.results) | transpose | map({
		command: .[0].command,
		times: (map(.times) | add | sort)} | .times as $t | ($t | length) as $n
		| (($t | add) / $n) as $mean
		| . + {mean: $mean, min: $t[0], max: $t[-1],
			median: (if $n % 2 == 1 then $t[($n - 1) / 2] else ($t[$n / 2 - 1] + $t[$n / 2]) / 2 end),
			stddev: (if $n > 1 then (($t | map((. - $mean) * (. - $mean)) | add) / ($n - 1) | sqrt) else 0 end)}))}' \
		"$TMP/json"/r*.json >"$TMP/json/all.json"
}
stat_of() { jq -r --arg c "$1" --arg k "$2" '.results[] | select(.command == $c) | .[$k]' "$TMP/json/all.json"; }
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1000}'; }
