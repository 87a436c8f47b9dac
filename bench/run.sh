#!/usr/bin/env bash
# Start latency and memory of berth-runtime, crun and runc, side by side.
#
#   bench/run.sh [--quick] [--rounds N] [--runs N] [--out FILE] [--berth PATH] [--work DIR] [--only LIST]
#
#   --quick        fewer runs and containers (under 2 minutes); full: about 5 minutes
#   --rounds N     hyperfine rounds per benchmark (default 10, --quick 1): every round runs
#                  all commands of a benchmark in turn, so on a loaded machine many short
#                  rounds spread load bursts over all of them
#   --runs N       runs per command and round (default 5, --quick 8)
#   --out FILE     results file (default bench/results/<date>-<host>[-quick].md)
#   --berth PATH   berth-runtime binary (default build/src/cmd/runtime/berth-runtime)
#   --work DIR     scratch directory for the bundles (default /tmp/berth-bench)
#   --only LIST    comma-separated subset of: run,paired,lifecycle,exec,phases,rss,idle,many,profile
#                  (profile is not in the default set: perf trace phase marks and
#                  strace -c of berth-runtime alone)
#   --pairs N      rounds of the paired part (default 300, --quick 60): berth and crun
#                  run in turn, one run each per round (bench/lib/paired.c, built here
#                  with cc), so that a change of load hits both alike
#
# Needs root and: hyperfine, runc, crun, /usr/bin/time (package "time"), jq,
# unshare (util-linux), perl, busybox-static; perf for the CPU and context switch columns
# of run (optional). It installs nothing.
#
# Everything runs inside one private mount namespace (unshare -m) where
# /sys/fs/cgroup/unified is unmounted when present (crun 1.8.1 refuses the
# hybrid layout otherwise); the host's own mounts are never changed. All three
# runtimes run in that same namespace, on the same busybox bundle, with the
# same cgroupsPath below the benchmark's own cgroup (see CG_PARENT), and state
# roots on a tmpfs mounted inside the namespace (like /run on a normal host).
# The script is a child subreaper (prctl via perl) so the container processes
# that runtimes leave behind are reaped, like under a shim. Every container is
# deleted (delete --force, by id) and every cgroup removed after each part.
# Results: a markdown report on stdout and in bench/results/; the raw
# hyperfine JSON and a log stay in the --work directory.
set -eEuo pipefail
trap 'echo "bench/run.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

quick=0
out=""
berth="$repo/build/src/cmd/runtime/berth-runtime"
work=/tmp/berth-bench
only="run,paired,lifecycle,exec,phases,rss,idle,many"
pairs=""
rounds=""
runs=""
inner=0
orig_args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; shift ;;
	--rounds) rounds="$2"; shift 2 ;;
	--runs) runs="$2"; shift 2 ;;
	--out) out="$2"; shift 2 ;;
	--berth) berth="$2"; shift 2 ;;
	--work) work="$2"; shift 2 ;;
	--only) only="$2"; shift 2 ;;
	--pairs) pairs="$2"; shift 2 ;;
	--inner) inner=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$berth" in /*) ;; *) berth="$PWD/$berth" ;; esac
case "$work" in /*) ;; *) work="$PWD/$work" ;; esac

die() { echo "bench/run.sh: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------- outer: checks, then re-exec in a private mount namespace
if [ "$inner" = 0 ]; then
	[ "$(id -u)" = 0 ] || die "must run as root (runtimes create namespaces and cgroups)"
	missing=""
	for t in hyperfine runc crun jq unshare perl; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	[ -x /usr/bin/time ] || missing="$missing /usr/bin/time(time)"
	if ! /bin/busybox --list >/dev/null 2>&1 || ldd /bin/busybox >/dev/null 2>&1; then
		missing="$missing busybox-static"
	fi
	[ -z "$missing" ] || die "missing:$missing (apt-get install -y hyperfine runc crun time jq busybox-static)"
	[ -x "$berth" ] || die "$berth is not built (meson setup build && ninja -C build)"
	case "$(uname -m)" in
	x86_64) prctl_nr=157 ;;
	aarch64) prctl_nr=167 ;;
	*) die "unknown prctl syscall number for $(uname -m)" ;;
	esac
	# PR_SET_CHILD_SUBREAPER (36) survives execve; bash then reaps orphans.
	exec unshare -m --propagation private -- \
		perl -e 'syscall('"$prctl_nr"', 36, 1, 0, 0, 0) == 0 or die "prctl: $!\n"; exec @ARGV or die "exec: $!\n"' \
		bash "$0" --inner "${orig_args[@]}"
fi

# ---------------------------------------------------------------- inner
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] ||
	die "not in a private mount namespace; refusing to touch mounts"

if [ "$quick" = 1 ]; then
	ROUNDS=1 RUNS=8 WARMUP=2 PHASE_N=8 RSS_N=3 IDLE_N=8 MANY_N=50 MANY_K=15
else
	ROUNDS=10 RUNS=5 WARMUP=2 PHASE_N=30 RSS_N=5 IDLE_N=20 MANY_N=200 MANY_K=50
fi
for n in "$rounds" "$runs"; do
	case "$n" in "" | [1-9] | [1-9][0-9] | [1-9][0-9][0-9]) ;; *) die "--rounds and --runs take a number from 1 to 999" ;; esac
done
case "$pairs" in "" | [1-9] | [1-9][0-9] | [1-9][0-9][0-9] | [1-9][0-9][0-9][0-9]) ;; *) die "--pairs takes a number from 1 to 9999" ;; esac
ROUNDS=${rounds:-$ROUNDS}
RUNS=${runs:-$RUNS}
PAIRS=${pairs:-$([ "$quick" = 1 ] && echo 60 || echo 300)}

cgroup_mode() {
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
		echo "v2 (unified)"
	elif [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		echo "hybrid (v1 controllers, v2 without controllers at /sys/fs/cgroup/unified)"
	else
		echo "v1"
	fi
}
host_cgroup_mode=$(cgroup_mode)
if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] && [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
	umount /sys/fs/cgroup/unified # only in this private namespace
	# crun 1.8.1 still writes cgroup.procs files below /sys/fs/cgroup/unified when
	# it is a plain directory; that directory is the host's /sys/fs/cgroup tmpfs,
	# so give it a tmpfs of its own that goes away with this namespace.
	mount -t tmpfs -o mode=0755,size=1m berth-bench-unified /sys/fs/cgroup/unified
fi
bench_cgroup_mode=$(cgroup_mode)

# Benchmark a copy: a rebuild of build/ during the run must not break it or mix versions.
mkdir -p "$work"
berth_src=$berth
cp "$berth_src" "$work/berth-runtime.bench.tmp"
mv "$work/berth-runtime.bench.tmp" "$work/berth-runtime"
berth="$work/berth-runtime"
declare -A RT=([berth]="$berth" [crun]=crun [runc]=runc)
RTS=(berth crun runc)

mkdir -p "$work"
state="$work/state"
mkdir -p "$state"
mount -t tmpfs -o mode=0700,size=256m berth-bench "$state" # private to this namespace
for r in "${RTS[@]}"; do mkdir -p "$state/$r"; done
jsondir="$work/json"
rm -rf "$jsondir" "$work/b"
mkdir -p "$jsondir" "$work/b"
logf="$work/bench.log"
: >"$logf"

tag=$(date -u +%Y%m%d-%H%M)
if [ -z "$out" ]; then
	mkdir -p "$here/results"
	suffix=""
	[ "$quick" = 0 ] || suffix=-quick
	out="$here/results/$tag-$(hostname -s)$suffix.md"
fi

# ---------------------------------------------------------------- cgroup bookkeeping and cleanup
# shellcheck source=bench/cgroup.sh
. "$here/cgroup.sh"
cg_setup berth-bench

cleanup_containers() { # delete --force every container in our state roots, by id
	local r id
	for r in "${RTS[@]}"; do
		for id in $(ls "$state/$r" 2>/dev/null); do
			[ -d "$state/$r/$id" ] || continue
			"${RT[$r]}" --root "$state/$r" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	rm -f "$state"/*.pid
	rmdir_cgroups
}
final_cleanup() {
	cleanup_containers
	cg_unprepare
	umount "$state" 2>/dev/null || true
}
trap final_cleanup EXIT
trap 'exit 130' INT TERM
cg_prepare

# ---------------------------------------------------------------- bundles
log "building the busybox image in $work/img"
"$repo/scripts/make-test-image.sh" --runtime "$berth" "$work/img" /bin/true >>"$logf" 2>&1 ||
	die "make-test-image.sh failed (see $logf)"
rootfs="$work/img/rootfs"
rootfs_userns="$work/img/rootfs-userns"
rm -rf "$rootfs_userns"
cp -a "$rootfs" "$rootfs_userns"
chown -R -h 100000:100000 "$rootfs_userns"
seccomp_profile="$repo/data/seccomp-default.json"
[ -r "$seccomp_profile" ] || die "$seccomp_profile missing"

# jq filters applied to the config.json of make-test-image.sh (berth-runtime spec).
declare -A VARIANT=(
	[base]='.'
	[nonet]='.linux.namespaces |= map(select(.type != "network"))'
	[seccomp]='.linux.seccomp = $seccomp[0]'
	[userns]='.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .root.path = $rootfs_userns'
	[limits]='.linux.resources.memory = {"limit": 268435456}
		| .linux.resources.pids = {"limit": 1024}
		| .linux.resources.cpu = {"shares": 512, "quota": 50000, "period": 100000}'
)
# mkbundle NAME VARIANT ARGS_JSON: bundle dir $work/b/NAME, cgroupsPath CG_PARENT/NAME.
# ociVersion 1.0.2: crun 1.8.1 rejects newer versions; all three accept it.
mkbundle() {
	local name=$1 variant=$2 args=$3 d="$work/b/$1"
	mkdir -p "$d"
	jq --argjson args "$args" --arg cg "$CG_PARENT/$name" --arg rootfs "$rootfs" \
		--arg rootfs_userns "$rootfs_userns" --slurpfile seccomp "$seccomp_profile" \
		'.ociVersion = "1.0.2" | .root.path = $rootfs | .process.args = $args
		 | .linux.cgroupsPath = $cg | '"${VARIANT[$variant]}" \
		"$work/img/config.json" >"$d/config.json"
}
TRUE='["/bin/true"]'
SLEEP='["/bin/sleep", "1000"]'

# ---------------------------------------------------------------- helpers
CMDS=()                    # exact commands, for the report
declare -A OK=()           # OK[variant/runtime]=1 when a probe run worked
probe() {                  # probe VARIANT RUNTIME: one run, to exclude what fails
	local v=$1 r=$2 b="$work/b/probe-$1-$2"
	mkbundle "probe-$v-$r" "$v" "$TRUE"
	if "${RT[$r]}" --root "$state/$r" run --bundle "$b" "probe-$v-$r" </dev/null >>"$logf" 2>&1; then
		OK[$v/$r]=1
	else
		log "  $r fails the $v variant (see $logf); left out of it"
		echo "probe $v $r: FAILED" >>"$logf"
	fi
	cleanup_containers
}

# shellcheck source=bench/lib/quote.sh
. "$here/lib/quote.sh"

# hf BENCH NAME1 CMD1 [NAME2 CMD2 ...] [-- extra hyperfine args]: all commands
# side by side in one hyperfine invocation, repeated ROUNDS times (so that a
# burst of load on the machine hits every runtime, not just one), the samples
# of all rounds merged into $jsondir/BENCH.json.
hf() {
	local bench=$1; shift
	local args=() extra=() round ok=1
	while [ $# -gt 0 ]; do
		if [ "$1" = -- ]; then shift; extra=("$@"); break; fi
		args+=(-n "$1" "$2"); shift 2
	done
	log "hyperfine: $bench ($ROUNDS x $RUNS runs)"
	for ((round = 1; round <= ROUNDS; round++)); do
		local cmd=(hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS"
			--export-json "$jsondir/$bench.r$round.json" "${extra[@]}" "${args[@]}")
		[ "$round" = 1 ] && CMDS+=("$(quote "${cmd[@]}")  # x$ROUNDS rounds, samples merged")
		echo "== $bench round $round" >>"$logf"
		if ! "${cmd[@]}" >>"$logf" 2>&1; then
			log "  hyperfine failed for $bench (see $logf)"
			ok=0
			break
		fi
	done
	cleanup_containers
	if [ "$ok" = 1 ]; then
		jq -s '{results: (map(.results) | transpose | map({
			command: .[0].command,
			times: (map(.times) | add | sort)} | .times as $t | ($t | length) as $n
			| (($t | add) / $n) as $mean
			| . + {mean: $mean, min: $t[0], max: $t[-1],
				median: (if $n % 2 == 1 then $t[($n - 1) / 2] else ($t[$n / 2 - 1] + $t[$n / 2]) / 2 end),
				stddev: (if $n > 1 then (($t | map((. - $mean) * (. - $mean)) | add) / ($n - 1) | sqrt) else 0 end)}))}' \
			"$jsondir/$bench".r*.json >"$jsondir/$bench.json"
	fi
}

rtcmd() { echo "${RT[$1]} --root $state/$1"; }

# cpu_stat BENCH NAME1 CMD1 [NAME2 CMD2 ...]: CPU time (task-clock of the
# command and every process it starts, the container's included) and context
# switches per run, from `perf stat -r RUNS`, the commands in turn in each of
# ROUNDS rounds; CPU[BENCH/NAME] gets the medians of the rounds' means,
# "ms switches". Needs a usable `perf stat`; without one the columns say n/a.
declare -A CPU=()
PERF_STAT=0
if command -v perf >/dev/null && perf stat -x, -e task-clock -- /bin/true >/dev/null 2>&1; then PERF_STAT=1; fi
cpu_stat() {
	local bench=$1; shift
	local names=() cmds=() i round f
	[ "$PERF_STAT" = 1 ] || return 0
	while [ $# -gt 0 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
	log "perf stat: $bench ($ROUNDS x $RUNS runs)"
	for ((round = 1; round <= ROUNDS; round++)); do
		for i in "${!names[@]}"; do
			f="$jsondir/$bench.cpu.$i.r$round"
			# shellcheck disable=SC2086 # the command is split into words, as hyperfine -N does
			perf stat -x, -r "$RUNS" -e task-clock,context-switches -o "$f" -- ${cmds[$i]} \
				</dev/null >/dev/null 2>>"$logf" || rm -f "$f"
		done
	done
	CMDS+=("perf stat -x, -r $RUNS -e task-clock,context-switches -- CMD   # each command of $bench, x$ROUNDS rounds, median of the means")
	for i in "${!names[@]}"; do
		local ms cs
		ms=$(cat "$jsondir/$bench.cpu.$i".r* 2>/dev/null | awk -F, '$3 == "task-clock" {print $1}' | median)
		cs=$(cat "$jsondir/$bench.cpu.$i".r* 2>/dev/null | awk -F, '$3 == "context-switches" {print $1}' | median)
		CPU[$bench/${names[$i]}]="$ms $cs"
	done
	cleanup_containers
}


# median of numbers on stdin (one per line)
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

bench_enabled() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

start_s=$SECONDS
load0=$(cut -d" " -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 1. run of /bin/true, per variant
if bench_enabled run; then
	for v in base nonet seccomp userns limits; do
		for r in "${RTS[@]}"; do probe "$v" "$r"; done
	done
	for v in base nonet seccomp userns limits; do
		set --
		for r in "${RTS[@]}"; do
			[ -n "${OK[$v/$r]:-}" ] || continue
			mkbundle "$v-$r" "$v" "$TRUE"
			set -- "$@" "$r" "$(rtcmd "$r") run --bundle $work/b/$v-$r $v-$r"
		done
		extra=()
		if [ "$v" = base ]; then
			set -- "$@" "floor: unshare" "unshare -m -u -i -p -n -f /bin/true" "floor: /bin/true" "/bin/true"
		fi
		if [ "$v" = seccomp ] && [ -n "${OK[$v/berth]:-}" ]; then
			# berth caches the compiled filter in ROOT/.seccomp-cache; the first row
			# is warm (the warmup runs fill the cache), this one empties it each run.
			set -- "$@" "berth (cold cache)" "$(rtcmd berth) run --bundle $work/b/$v-berth $v-berth"
			for r in "${RTS[@]}"; do [ -n "${OK[$v/$r]:-}" ] && extra+=(--prepare true); done
			extra+=(--prepare "rm -rf $state/berth/.seccomp-cache")
		fi
		[ $# -gt 0 ] && hf "run-$v" "$@" -- "${extra[@]}"
		# CPU and context switches: the runtimes (and the unshare floor), not the cold-cache row
		cs_args=()
		while [ $# -gt 0 ]; do
			case "$1" in "berth (cold cache)" | "floor: /bin/true") ;; *) cs_args+=("$1" "$2") ;; esac
			shift 2
		done
		[ "${#cs_args[@]}" -gt 0 ] && cpu_stat "run-$v" "${cs_args[@]}"
	done
fi

# ---------------------------------------------------------------- 1b. run, paired: berth and crun in turn, run by run
declare -A PAIRED=()       # PAIRED[variant/runtime]="p25 median p75 mean cpu" (ms)
PAIRED_NA=""
if bench_enabled paired; then
	if ! command -v cc >/dev/null || ! cc -O2 -o "$work/paired" "$here/lib/paired.c" 2>>"$logf"; then
		PAIRED_NA="no C compiler (cc) to build bench/lib/paired.c"
		log "  paired: $PAIRED_NA"
	else
		for v in base nonet userns limits; do
			[ -z "${OK[$v/berth]:-}" ] && ! bench_enabled run && probe "$v" berth
			[ -z "${OK[$v/crun]:-}" ] && ! bench_enabled run && probe "$v" crun
			[ -n "${OK[$v/berth]:-}" ] && [ -n "${OK[$v/crun]:-}" ] || continue
			set --
			for r in berth crun; do
				mkbundle "pr-$v-$r" "$v" "$TRUE"
				set -- "$@" "$r" "$(rtcmd "$r") run --bundle $work/b/pr-$v-$r pr-$v-$r"
			done
			log "paired: run-$v ($PAIRS rounds)"
			[ "$v" = base ] && CMDS+=("$(quote "$work/paired" "$PAIRS" "$@")  # and so for each variant")
			if "$work/paired" "$PAIRS" "$@" >"$jsondir/paired-$v.tsv" 2>>"$logf"; then
				while IFS=$'\t' read -r name _ p25 med p75 mean cpu; do
					PAIRED[$v/$name]="$p25 $med $p75 $mean $cpu"
				done <"$jsondir/paired-$v.tsv"
			else
				log "  paired run-$v failed (see $logf)"
			fi
			cleanup_containers
		done
	fi
fi

# ---------------------------------------------------------------- 2. create + start + wait + delete as separate invocations
if bench_enabled lifecycle; then
	set --
	for r in "${RTS[@]}"; do
		mkbundle "lc-$r" base "$TRUE"
		set -- "$@" "$r" "sh $here/lib/lifecycle.sh ${RT[$r]} $state/$r lc-$r $work/b/lc-$r"
	done
	hf lifecycle "$@"
fi

# ---------------------------------------------------------------- 3. exec of /bin/true into a running container
EXEC_NA=""
if bench_enabled exec; then
	set --
	for r in "${RTS[@]}"; do
		if ! "${RT[$r]}" exec --help >/dev/null 2>&1; then
			EXEC_NA="$EXEC_NA $r"
			log "  $r has no exec command: n/a"
			continue
		fi
		mkbundle "exec-$r" base "$SLEEP"
		"${RT[$r]}" --root "$state/$r" create --bundle "$work/b/exec-$r" "exec-$r" </dev/null >>"$logf" 2>&1 &&
			"${RT[$r]}" --root "$state/$r" start "exec-$r" >>"$logf" 2>&1 || {
			log "  $r: could not start the exec target container"; EXEC_NA="$EXEC_NA $r"; continue; }
		set -- "$@" "$r" "$(rtcmd "$r") exec exec-$r /bin/true"
	done
	[ $# -gt 0 ] && hf exec "$@"
fi

# ---------------------------------------------------------------- 4. phases: create, start, delete timed one by one
declare -A PH=()
if bench_enabled phases; then
	log "phases: create / start / delete, $PHASE_N each"
	for r in "${RTS[@]}"; do
		mkbundle "ph-$r" base "$TRUE"
		c=() s=() d=()
		for ((i = 0; i < PHASE_N; i++)); do
			t0=${EPOCHREALTIME/./}
			"${RT[$r]}" --root "$state/$r" create --bundle "$work/b/ph-$r" --pid-file "$state/ph.pid" "ph-$r" </dev/null >/dev/null 2>>"$logf" || break
			t1=${EPOCHREALTIME/./}
			"${RT[$r]}" --root "$state/$r" start "ph-$r" >/dev/null 2>>"$logf" || break
			t2=${EPOCHREALTIME/./}
			pid=$(cat "$state/ph.pid")
			while [ -e "/proc/$pid" ]; do
				read -r _ _ st _ 2>/dev/null <"/proc/$pid/stat" || break
				[ "$st" = Z ] && break
			done
			t3=${EPOCHREALTIME/./}
			"${RT[$r]}" --root "$state/$r" delete "ph-$r" >/dev/null 2>>"$logf" || break
			t4=${EPOCHREALTIME/./}
			c+=($((t1 - t0))) s+=($((t2 - t1))) d+=($((t4 - t3)))
		done
		if [ "${#d[@]}" -eq "$PHASE_N" ]; then
			PH[$r/create]=$(printf '%s\n' "${c[@]}" | median)
			PH[$r/start]=$(printf '%s\n' "${s[@]}" | median)
			PH[$r/delete]=$(printf '%s\n' "${d[@]}" | median)
		else
			log "  $r failed during the phase loop (see $logf)"
		fi
		cleanup_containers
	done
fi

# ---------------------------------------------------------------- 5. peak RSS of the runtime (run, /usr/bin/time -v)
declare -A RSS=()
if bench_enabled rss; then
	log "peak RSS: /usr/bin/time -v, $RSS_N runs each"
	for v in base seccomp; do
		for r in "${RTS[@]}"; do
			mkbundle "rss-$v-$r" "$v" "$TRUE"
			vals=()
			for ((i = 0; i < RSS_N; i++)); do
				m=$(/usr/bin/time -v "${RT[$r]}" --root "$state/$r" run --bundle "$work/b/rss-$v-$r" "rss-$v-$r" \
					</dev/null 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')
				[ -n "$m" ] && vals+=("$m")
			done
			cleanup_containers
			[ "${#vals[@]}" -gt 0 ] || continue
			RSS[$v/$r]="$(printf '%s\n' "${vals[@]}" | median) $(printf '%s\n' "${vals[@]}" | sort -n | tail -1)"
		done
	done
	CMDS+=("/usr/bin/time -v RUNTIME --root ROOT run --bundle BUNDLE ID   # x$RSS_N, 'Maximum resident set size'")
fi

# ---------------------------------------------------------------- 6. host memory per idle detached container
declare -A IDLE=()
cg_memory_dir() { # cg_memory_dir PID: the memory cgroup directory of PID
	local id ctrls path
	while IFS=: read -r id ctrls path; do
		case ",$ctrls," in
		*,memory,*) echo "/sys/fs/cgroup/memory$path"; return ;;
		,,) [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && { echo "/sys/fs/cgroup$path"; return; } ;;
		esac
	done <"/proc/$1/cgroup"
}
mem_avail_kb() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
runtime_procs() { # runtime processes left behind: they would be reparented to us (subreaper)
	local p e ppid n=0
	for p in /proc/[0-9]*; do
		ppid=$(awk '/^PPid:/ {print $2}' "$p/status" 2>/dev/null) || continue
		[ "$ppid" = "$$" ] || continue
		e=$(readlink "$p/exe" 2>/dev/null) || continue
		case "$e" in "$berth" | */berth-runtime* | */crun | */runc) n=$((n + 1)) ;; esac
	done
	echo "$n"
}
if bench_enabled idle; then
	log "idle memory: $IDLE_N detached 'sleep 1000' containers per runtime"
	for r in "${RTS[@]}"; do
		sync
		a0=$(mem_avail_kb)
		cgsum=0 psssum=0 nproc=0 n=0
		for ((i = 0; i < IDLE_N; i++)); do
			id="idle-$r-$i"
			mkbundle "$id" base "$SLEEP"
			"${RT[$r]}" --root "$state/$r" create --bundle "$work/b/$id" --pid-file "$state/idle.pid" "$id" </dev/null >/dev/null 2>>"$logf" &&
				"${RT[$r]}" --root "$state/$r" start "$id" >/dev/null 2>>"$logf" || break
			n=$((n + 1))
		done
		sleep 1
		a1=$(mem_avail_kb)
		leftover=$(runtime_procs)
		for ((i = 0; i < n; i++)); do
			id="idle-$r-$i"
			pid=$("${RT[$r]}" --root "$state/$r" state "$id" | jq -r .pid)
			cg=$(cg_memory_dir "$pid")
			u=$(cat "$cg/memory.usage_in_bytes" 2>/dev/null || cat "$cg/memory.current" 2>/dev/null || echo 0)
			cgsum=$((cgsum + u))
			for p in $(cat "$cg/cgroup.procs"); do
				nproc=$((nproc + 1))
				pss=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
				psssum=$((psssum + ${pss:-0}))
			done
		done
		cleanup_containers
		if [ "$n" -gt 0 ]; then
			IDLE[$r]="$n $((cgsum / n / 1024)) $((psssum / n)) $(((a0 - a1) / n)) $(awk -v a="$nproc" -v b="$n" 'BEGIN {printf "%.1f", a/b}') $leftover"
		fi
	done
fi

# ---------------------------------------------------------------- 7. many containers: create+start N, then delete N
# The runtimes are interleaved (container i of berth, of crun, of runc, then
# i+1...), so a change of the machine's load hits all three alike; at the end
# 3 x N containers run.
declare -A MANY=()
if bench_enabled many; then
	log "many: $MANY_N containers of 'sleep 1000' per runtime (interleaved), created+started, then deleted one by one"
	declare -A UPT=() DOWNT=() MFAIL=()
	for r in "${RTS[@]}"; do
		mkbundle "many-$r-@" base "$SLEEP"
		for ((i = 0; i < MANY_N; i++)); do
			mkdir -p "$work/b/many-$r-$i"
			sed "s|$CG_PARENT/many-$r-@|$CG_PARENT/many-$r-$i|" "$work/b/many-$r-@/config.json" >"$work/b/many-$r-$i/config.json"
		done
	done
	for ((i = 0; i < MANY_N; i++)); do
		for r in "${RTS[@]}"; do
			[ -z "${MFAIL[$r]:-}" ] || continue
			id="many-$r-$i"
			t0=${EPOCHREALTIME/./}
			if "${RT[$r]}" --root "$state/$r" create --bundle "$work/b/$id" "$id" </dev/null >/dev/null 2>>"$logf" &&
				"${RT[$r]}" --root "$state/$r" start "$id" >/dev/null 2>>"$logf"; then
				t1=${EPOCHREALTIME/./}
				UPT[$r,$i]=$((t1 - t0))
			else
				MFAIL[$r]="create+start of container $i"
			fi
		done
	done
	for ((i = 0; i < MANY_N; i++)); do
		for r in "${RTS[@]}"; do
			[ -z "${MFAIL[$r]:-}" ] || continue
			t0=${EPOCHREALTIME/./}
			if "${RT[$r]}" --root "$state/$r" delete --force "many-$r-$i" >/dev/null 2>>"$logf"; then
				t1=${EPOCHREALTIME/./}
				DOWNT[$r,$i]=$((t1 - t0))
			else
				MFAIL[$r]="delete of container $i"
			fi
		done
	done
	cleanup_containers
	for r in "${RTS[@]}"; do
		up=() down=()
		for ((i = 0; i < MANY_N; i++)); do
			[ -n "${UPT[$r,$i]:-}" ] && up+=("${UPT[$r,$i]}")
			[ -n "${DOWNT[$r,$i]:-}" ] && down+=("${DOWNT[$r,$i]}")
		done
		printf '%s\n' "${up[@]}" >"$jsondir/many-$r-up.txt"
		printf '%s\n' "${down[@]}" >"$jsondir/many-$r-down.txt"
		if [ -z "${MFAIL[$r]:-}" ]; then
			MANY[$r]="$(printf '%s\n' "${up[@]:0:MANY_K}" | median) $(printf '%s\n' "${up[@]: -MANY_K}" | median)"
			MANY[$r]+=" $(printf '%s\n' "${down[@]:0:MANY_K}" | median) $(printf '%s\n' "${down[@]: -MANY_K}" | median)"
		else
			log "  $r failed: ${MFAIL[$r]} (see $logf)"
		fi
	done
fi
# ---------------------------------------------------------------- 8. profile of berth-runtime run (opt-in: --only profile)
# Phase marks from `perf trace` (only ~40 marker syscalls are traced, so the
# overhead is small), medians over PROF_N runs; syscall counts from strace -c.
PROF_MARKS=()
declare -A PROF_AT=() PROF_SEG=()
PROF_STRACE=""
if bench_enabled profile; then
	PROF_N=$([ "$quick" = 1 ] && echo 5 || echo 15)
	trace_set=brk,execve,execveat,flock,socketpair,clone3,sendmsg,unshare,sethostname,pivot_root,capset,close_range,exit_group,wait4,rmdir,unlinkat
	for v in base seccomp; do
		mkbundle "prof-$v" "$v" "$TRUE"
		"$berth" --root "$state/berth" run --bundle "$work/b/prof-$v" "prof-$v" </dev/null >>"$logf" 2>&1 || true # warms the seccomp cache
		if command -v perf >/dev/null && perf trace -e brk -- /bin/true >/dev/null 2>&1; then
			log "profile ($v): perf trace, $PROF_N runs"
			rm -f "$work/prof-$v".*.marks
			for ((i = 0; i < PROF_N; i++)); do
				perf trace -o "$work/prof-$v.trace" -e "$trace_set" -- \
					"$berth" --root "$state/berth" run --bundle "$work/b/prof-$v" "prof-$v" </dev/null >/dev/null 2>>"$logf" || true
				awk -f "$here/lib/phases.awk" "$work/prof-$v.trace" >"$work/prof-$v.$i.marks"
			done
			while IFS=$'\t' read -r m _; do
				PROF_MARKS+=("$v/$m")
				PROF_AT[$v/$m]=$(cat "$work/prof-$v".*.marks | awk -F'\t' -v m="$m" '$1 == m {print $2}' | median)
			done <"$work/prof-$v.0.marks"
			# segment = median over runs of (this mark - previous mark)
			prev=""
			while IFS=$'\t' read -r m _; do
				if [ -z "$prev" ]; then
					PROF_SEG[$v/$m]=${PROF_AT[$v/$m]}
				else
					PROF_SEG[$v/$m]=$(for f in "$work/prof-$v".*.marks; do
						awk -F'\t' -v m="$m" -v p="$prev" '$1 == m {a = $2} $1 == p {b = $2} END {if (a != "" && b != "") print a - b}' "$f"
					done | median)
				fi
				prev=$m
			done <"$work/prof-$v.0.marks"
			CMDS+=("perf trace -e $trace_set -- $berth --root $state/berth run --bundle $work/b/prof-$v prof-$v   # x$PROF_N, bench/lib/phases.awk")
		else
			log "profile: perf trace is not usable here; phase marks skipped"
		fi
		if command -v strace >/dev/null; then
			strace -f -c -o "$work/prof-$v.strace-c" "$berth" --root "$state/berth" run --bundle "$work/b/prof-$v" "prof-$v" </dev/null >/dev/null 2>>"$logf" || true
			PROF_STRACE+="$v: $(awk '$NF == "total" {print $(NF-2) " syscalls, " $(NF-1) " errors"}' "$work/prof-$v.strace-c"); top: $(awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {print $4, $NF}' "$work/prof-$v.strace-c" | sort -rn | awk 'NR <= 8' | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')"$'\n'
			CMDS+=("strace -f -c $berth --root $state/berth run --bundle $work/b/prof-$v prof-$v")
		fi
		cleanup_containers
	done
fi
elapsed=$((SECONDS - start_s))

# ---------------------------------------------------------------- report
ms() { awk -v x="$1" 'BEGIN {if (x == "" || x == "nan") print "n/a"; else printf "%.2f", x * 1000}'; }
us_ms() { awk -v x="$1" 'BEGIN {if (x == "" || x == "nan") print "n/a"; else printf "%.2f", x / 1000}'; }
hf_median() { # hf_median BENCH NAME -> seconds
	[ -f "$jsondir/$1.json" ] || return 0
	jq -r --arg n "$2" '.results[] | select(.command == $n) | .median' "$jsondir/$1.json"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2fx", a / b}'; }

report() {
	echo "# berth-runtime benchmarks: $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$quick" = 0 ] || echo ' (--quick)')"
	echo
	echo "## Machine"
	echo
	echo "- CPUs: $(nproc) ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), memory $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "- kernel: $(uname -r) ($(uname -m))"
	echo "- cgroups: host $host_cgroup_mode; benchmark namespace: $bench_cgroup_mode"
	echo "- berth-runtime: $("$berth" --version 2>&1 | sed -n 1p), copied from $(in_repo "$berth_src") at the start ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD -- src 2>/dev/null || echo '+dirty'))"
	echo "- crun: $(crun --version | sed -n 1p); runc: $(runc --version | sed -n 1p); hyperfine: $(hyperfine --version)"
	echo "- hyperfine samples per command: $((ROUNDS * RUNS)) ($ROUNDS rounds of $RUNS, warmup $WARMUP each); total bench time ${elapsed}s"
	echo "- load average before / after: $load0 / $(cut -d" " -f1-3 /proc/loadavg) (other work on the machine adds noise; compare ratios within one invocation)"
	echo
	if bench_enabled run || bench_enabled lifecycle || bench_enabled exec; then
		echo "## Start latency (hyperfine, wall time in ms)"
		echo
		echo "Each benchmark is one hyperfine invocation with all runtimes side by side (repeated in rounds,"
		echo "samples merged); \"vs crun\" is the median over crun's median in the same benchmark."
		echo "run-*: \`run\` of /bin/true in the foreground (create, start, wait, delete in one process);"
		echo "base has the default spec's namespaces (pid, net, ipc, uts, mount, cgroup); nonet drops the"
		echo "network namespace; seccomp adds data/seccomp-default.json; userns adds a user namespace mapping"
		echo "0-65535 to 100000 (rootfs chowned); limits sets memory 256M, pids 1024, cpu shares/quota."
		echo "\"berth (cold cache)\" empties berth's compiled-filter cache before every run."
		echo "lifecycle: separate create, start, wait for exit, delete invocations (bench/lib/lifecycle.sh)."
		echo "exec: \`exec\` of /bin/true into a running container. floor: no runtime at all."
		echo
		echo "| benchmark | command | median | mean ± σ | min | max | vs crun |"
		echo "|---|---|---:|---:|---:|---:|---:|"
		local b f crun_med
		for b in run-base run-nonet run-seccomp run-userns run-limits lifecycle exec; do
			f="$jsondir/$b.json"
			if [ ! -f "$f" ]; then
				if bench_enabled "${b%%-*}" && ! { [ "$b" = exec ] && [ -n "$EXEC_NA" ]; }; then
					echo "| $b | (failed, see log) | | | | | |"
				fi
				continue
			fi
			crun_med=$(hf_median "$b" crun)
			jq -r --arg b "$b" --arg c "${crun_med:-0}" '.results[] |
				[$b, .command,
				 (.median * 1000 | . * 100 | round / 100 | tostring),
				 ((.mean * 1000 | . * 100 | round / 100 | tostring) + " ± " + (.stddev * 1000 | . * 100 | round / 100 | tostring)),
				 (.min * 1000 | . * 100 | round / 100 | tostring),
				 (.max * 1000 | . * 100 | round / 100 | tostring),
				 (if ($c | tonumber) > 0 then ((.median / ($c | tonumber)) * 100 | round / 100 | tostring) + "x" else "n/a" end)]
				| "| " + join(" | ") + " |"' "$f"
		done
		if bench_enabled exec; then
			for r in $EXEC_NA; do echo "| exec | $r | n/a (no exec command) | | | | |"; done
		fi
		for v in base nonet seccomp userns limits; do
			for r in "${RTS[@]}"; do
				if bench_enabled run && [ -z "${OK[$v/$r]:-}" ]; then echo "| run-$v | $r | fails (see log) | | | | |"; fi
			done
		done
		echo
	fi
	if bench_enabled run; then
		echo "## CPU and context switches per run (perf stat)"
		echo
		if [ "$PERF_STAT" = 1 ]; then
			echo "task-clock of the runtime and every process it starts (the container's /bin/true too),"
			echo "and its context switches, per run: \`perf stat -r $RUNS\` of each command in turn, $ROUNDS rounds,"
			echo "median of the rounds' means. Less sensitive to other load than wall time: a busy machine"
			echo "delays a run more than it makes it work more."
			echo
			echo "| benchmark | command | CPU ms | vs crun | context switches |"
			echo "|---|---|---:|---:|---:|"
			local k ms cs cms
			for b in run-base run-nonet run-seccomp run-userns run-limits; do
				cms=${CPU[$b/crun]:-}
				cms=${cms%% *}
				for k in berth crun runc "floor: unshare"; do
					[ -n "${CPU[$b/$k]:-}" ] || continue
					read -r ms cs <<<"${CPU[$b/$k]}"
					echo "| $b | $k | $(awk -v x="$ms" 'BEGIN {printf "%.2f", x}') | $(ratio "$ms" "$cms") | $(awk -v x="$cs" 'BEGIN {printf "%.1f", x}') |"
				done
			done
		else
			echo "perf stat is not usable here (perf missing or perf_event_paranoid): not measured."
		fi
		echo
	fi
	if bench_enabled paired; then
		echo "## Start latency, paired (wall time in ms)"
		echo
		if [ -n "$PAIRED_NA" ]; then
			echo "Not measured: $PAIRED_NA."
		else
			echo "\`run\` of /bin/true, berth and crun in turn ($PAIRS rounds of one run each, the order reversed"
			echo "every other round: bench/lib/paired.c), so that load changes hit both alike where hyperfine"
			echo "runs each command's samples in a block. CPU: the runtime and all it waited for, per run."
			echo
			echo "| benchmark | command | p25 | median | p75 | mean | CPU ms | median vs crun |"
			echo "|---|---|---:|---:|---:|---:|---:|---:|"
			local v k p25 med p75 mean cpu cmed
			for v in base nonet userns limits; do
				[ -n "${PAIRED[$v/crun]:-}" ] || continue
				read -r _ cmed _ <<<"${PAIRED[$v/crun]}"
				for k in berth crun; do
					read -r p25 med p75 mean cpu <<<"${PAIRED[$v/$k]}"
					echo "| run-$v | $k | $p25 | $med | $p75 | $mean | $cpu | $(ratio "$med" "$cmed") |"
				done
			done
		fi
		echo
	fi
	if bench_enabled phases; then
		echo "## Phases (median of $PHASE_N, ms; bash \$EPOCHREALTIME around each invocation)"
		echo
		echo "create returns once the init waits on the exec fifo; start returns once the process is released;"
		echo "delete of the exited container (cgroups, state)."
		echo
		echo "| runtime | create | start | delete | sum |"
		echo "|---|---:|---:|---:|---:|"
		for r in "${RTS[@]}"; do
			[ -n "${PH[$r/create]:-}" ] || { echo "| $r | fail | | | |"; continue; }
			echo "| $r | $(us_ms "${PH[$r/create]}") | $(us_ms "${PH[$r/start]}") | $(us_ms "${PH[$r/delete]}") | $(us_ms "$(awk -v a="${PH[$r/create]}" -v b="${PH[$r/start]}" -v c="${PH[$r/delete]}" 'BEGIN {print a+b+c}')") |"
		done
		echo
	fi
	if bench_enabled rss; then
		echo "## Peak RSS of the runtime (\`/usr/bin/time -v\` of \`run\`, KiB, median / max of $RSS_N)"
		echo
		echo "\"Maximum resident set size\": the largest RSS of the runtime process and the children it waited"
		echo "for (runc's and crun's re-executed init included)."
		echo
		echo "| variant | berth | crun | runc |"
		echo "|---|---:|---:|---:|"
		for v in base seccomp; do
			printf '| run-%s ' "$v"
			for r in "${RTS[@]}"; do
				set -- ${RSS[$v/$r]:-n/a n/a}
				printf '| %s / %s ' "$1" "$2"
			done
			echo "|"
		done
		echo
	fi
	if bench_enabled idle; then
		echo "## Host memory per idle detached container ($IDLE_N containers of \`sleep 1000\` each)"
		echo
		echo "After create+start no runtime process stays (last column: runtime processes reparented to the"
		echo "benchmark, a subreaper), so what a container holds is its workload and kernel objects: the memory cgroup's usage"
		echo "(memory.usage_in_bytes, v1, kernel memory included), the PSS of the processes in its cgroup, and"
		echo "the drop of MemAvailable over all $IDLE_N (namespaces, mounts and cgroups not charged to the cgroup)."
		echo
		echo "| runtime | memory cgroup usage (KiB) | PSS of the cgroup's processes (KiB) | MemAvailable drop (KiB) | processes in the cgroup | runtime processes left |"
		echo "|---|---:|---:|---:|---:|---:|"
		for r in "${RTS[@]}"; do
			[ -n "${IDLE[$r]:-}" ] || { echo "| $r | fail | | | | |"; continue; }
			set -- ${IDLE[$r]}
			drop=$4
			[ "$drop" -lt 0 ] && drop="n/a (grew: other load)"
			echo "| $r | $2 | $3 | $drop | $5 | $6 |"
		done
		echo
	fi
	if bench_enabled many; then
		echo "## $MANY_N containers: create+start each (all kept running), then delete --force each (median ms)"
		echo
		echo "The three runtimes interleaved (container i of each in turn; $((MANY_N * 3)) run at the end). Growth is"
		echo "the median of the last $MANY_K over the first $MANY_K; raw series in the work directory."
		echo
		echo "| runtime | create+start first $MANY_K | last $MANY_K | growth | delete first $MANY_K | last $MANY_K | growth |"
		echo "|---|---:|---:|---:|---:|---:|---:|"
		for r in "${RTS[@]}"; do
			[ -n "${MANY[$r]:-}" ] || { echo "| $r | fail | | | | | |"; continue; }
			set -- ${MANY[$r]}
			echo "| $r | $(us_ms "$1") | $(us_ms "$2") | $(ratio "$2" "$1") | $(us_ms "$3") | $(us_ms "$4") | $(ratio "$4" "$3") |"
		done
		echo
	fi

	if bench_enabled profile; then
		echo "## Profile of berth-runtime run (perf trace marks, median of ${PROF_N:-0} runs, ms since the exec)"
		echo
		echo "Each mark is a syscall that ends a phase; a segment is the time since the previous mark."
		echo
		echo "| mark | base: at | base: segment | seccomp (warm): at | seccomp: segment |"
		echo "|---|---:|---:|---:|---:|"
		local seenm=() m
		for m in "${PROF_MARKS[@]}"; do
			m=${m#*/}
			case " ${seenm[*]} " in *" $m "*) continue ;; esac
			seenm+=("$m")
			printf '| %s | %s | %s | %s | %s |\n' "$m" "${PROF_AT[base/$m]:-}" "${PROF_SEG[base/$m]:-}" "${PROF_AT[seccomp/$m]:-}" "${PROF_SEG[seccomp/$m]:-}"
		done
		echo
		if [ -n "$PROF_STRACE" ]; then
			echo "strace -f -c (syscalls of the runtime and the container init up to its exec):"
			echo
			printf '%s' "$PROF_STRACE" | sed 's/^/- /'
			echo
		fi
	fi
	echo "## Targets (issue 5)"
	echo
	echo "| target | measured | status |"
	echo "|---|---|---|"
	local bm cm fm sm wm
	bm=$(hf_median run-base berth); cm=$(hf_median run-base crun); fm=$(hf_median run-base "floor: unshare")
	sm=$(hf_median run-seccomp berth)
	target() { # DESCRIPTION MEASURED OK(1/0/"")
		local st="n/a"
		[ "$3" = 1 ] && st="met"
		[ "$3" = 0 ] && st="**not met**"
		echo "| $1 | $2 | $st |"
	}
	le() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || a == "n/a" || b == "n/a") print ""; else print (a <= b) ? 1 : 0}'; }
	target "run /bin/true ≤ 0.5x crun median" "berth $(ms "$bm") ms, crun $(ms "$cm") ms: $(ratio "$bm" "$cm")" \
		"$(le "$bm" "$(awk -v c="$cm" 'BEGIN {if (c != "") print c * 0.5}')")"
	target "run /bin/true ≤ 1.8x unshare floor" "floor $(ms "$fm") ms: $(ratio "$bm" "$fm")" \
		"$(le "$bm" "$(awk -v c="$fm" 'BEGIN {if (c != "") print c * 1.8}')")"
	local base_sm_d=""
	[ -n "$sm" ] && [ -n "$bm" ] && base_sm_d=$(awk -v a="$sm" -v b="$bm" 'BEGIN {print a - b}')
	target "seccomp (warm cache) ≤ +1 ms over no seccomp" "berth seccomp $(ms "$sm") ms: $(awk -v d="$base_sm_d" 'BEGIN {if (d == "") print "n/a"; else printf "%+.2f ms", d*1000}')" \
		"$(le "$base_sm_d" 0.001)"
	local br cr
	br=${RSS[base/berth]:-}; cr=${RSS[base/crun]:-}
	target "peak RSS ≤ crun's (run, max)" "berth ${br#* } KiB, crun ${cr#* } KiB" "$(le "${br#* }" "${cr#* }")"
	local g=""
	if [ -n "${MANY[berth]:-}" ]; then
		set -- ${MANY[berth]}
		g=$(awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN {print (b <= a * 1.2 && d <= c * 1.2) ? 1 : 0}')
		target "no per-container growth over $MANY_N (last/first $MANY_K ≤ 1.2x)" "create+start $(ratio "$2" "$1"), delete $(ratio "$4" "$3")" "$g"
	else
		target "no per-container growth over $MANY_N" "n/a" ""
	fi
	echo
	echo "## Commands"
	echo
	echo "Run from \`bench/run.sh$([ "$quick" = 0 ] || echo ' --quick')\` inside \`unshare -m --propagation private\` with"
	echo "/sys/fs/cgroup/unified unmounted (hybrid hosts; a private tmpfs put in its place), as a child subreaper;"
	echo "state roots on a tmpfs at $state. Bundles: \`scripts/make-test-image.sh\` busybox rootfs, config from"
	echo "\`berth-runtime spec\` (ociVersion set to 1.0.2 for crun 1.8.1), cgroupsPath \`$CG_PARENT/NAME\`"
	echo "(absolute, below the benchmark's own cgroup in every hierarchy), variants applied with jq (see bench/run.sh)."
	echo
	echo '```'
	local c
	for c in "${CMDS[@]}"; do in_repo "$c"; done
	echo '```'
}

report | tee "$out"
log "results: $out (log: $logf, raw hyperfine JSON: $jsondir)"
