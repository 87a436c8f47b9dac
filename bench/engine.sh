#!/usr/bin/env bash
# `berth run --rm IMAGE true` against `podman run --rm --network none IMAGE true`,
# side by side, plus what berth's engine costs over its runtime.
#
#   bench/engine.sh [--quick] [--out FILE] [--berth PATH]
#
#   --quick        1 round of 10 runs (about 1 minute); full: 3 rounds of 20
#   --out FILE     also write the report (markdown) to FILE; nothing else is written
#                  outside the temporary directory
#   --berth PATH   berth binary (default $BERTH or build/src/cmd/berth/berth); its
#                  berth-runtime is the one next to it (BUILD/src/cmd/runtime/berth-runtime)
#
# Needs root and: hyperfine, podman (with conmon and crun or runc), skopeo, jq,
# unshare (util-linux), busybox-static; strace for the timeline (optional).
# It installs nothing.
#
# Everything lives in one temporary directory (mktemp -d, removed on exit) and
# runs inside a private mount namespace (unshare -m): berth and podman mount
# overlays below their roots, and those mounts must not reach the host. On a
# hybrid cgroup host /sys/fs/cgroup/unified is unmounted inside that namespace
# (crun 1.8.1, podman's runtime, refuses the hybrid layout), as bench/run.sh
# does; the host's mounts are never changed. /var/lib is an overlay whose upper
# layer is in the temporary directory and /dev/shm a private tmpfs, so what
# podman writes there (blob-info cache, lock file) goes away with the run.
#
# The image: scripts/make-oci-image.sh (busybox-static, Cmd sh) copied by
# skopeo to a docker-archive, then `berth load` and `podman load`. podman gets
# its own graphroot, runroot and tmp dir, overlay storage, and a
# containers.conf with cgroup_manager=cgroupfs, events_logger=file and
# default_ulimits under this machine's hard limits (root may lack
# CAP_SYS_RESOURCE; see tests/clients/podman.sh). berth gets its own --root and
# --runroot. What lives in /run on a real host (both runroots, the runtimes'
# state, podman's tmp_dir and events log) is on a tmpfs at TMP/run, as /run
# is; the stores are on the disk of TMP. Both put their containers' cgroups
# below one parent made beforehand beneath this script's own cgroup
# (--cgroup-parent, absolute).
#
# Timed with hyperfine -N, all side by side in one invocation per round:
#   berth                  berth run --rm --network none IMAGE true
#   berth, seccomp off     berth run --rm --security-opt seccomp=unconfined IMAGE true
#   berth-runtime alone    berth-runtime run of the bundle `berth create` prepared
#                          (same config.json, same mounted rootfs, no engine)
#   podman                 podman run --rm --network none IMAGE true
# Then the RSS of a `berth run -d IMAGE sleep 30` monitor (/proc/PID/status and
# smaps_rollup), and, with strace, a timeline of the programs one
# `berth run --rm` executes and `strace -c -f` of it.
set -eEuo pipefail
trap 'echo "bench/engine.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

# shellcheck source=bench/lib/engines.sh
. "$here/lib/engines.sh"
engines_args engine.sh "$@"

# ---------------------------------------------------------------- outer: checks, then re-exec in a private mount namespace
if [ "$inner" = 0 ]; then
	engines_check_tools
	[ -x "$berth" ] || die "$berth is not built (meson setup build && ninja -C build)"
	[ -x "$runtime" ] || die "no berth-runtime next to $berth"
	command -v strace >/dev/null || log "strace is missing: no timeline"
	if [ -n "$out" ] && ! { [ -d "$(dirname "$out")" ] && [ -w "$(dirname "$out")" ]; }; then
		die "cannot write $out (its directory must exist)"
	fi
	exec unshare -m --propagation private -- bash "$0" --inner "${orig_args[@]}"
fi

# ---------------------------------------------------------------- inner
if [ "$quick" = 1 ]; then
	ROUNDS=1 RUNS=10 WARMUP=2
else
	ROUNDS=3 RUNS=20 WARMUP=3
fi

TMP=$(mktemp -d /tmp/berth-engine.XXXXXX)
logf="$TMP/bench.log"
: >"$logf"
# shellcheck source=bench/cgroup.sh
. "$here/cgroup.sh"
B=()          # berth with its roots
monitor_pid=""

cleanup() {
	local rc=$? id d i
	set +e
	trap - ERR
	if [ "${#B[@]}" -gt 0 ]; then
		for id in $("${B[@]}" ps -aq --no-trunc 2>/dev/null); do "${B[@]}" rm -f "$id" >/dev/null 2>&1; done
		for id in $(ls "$TMP/run/rt" 2>/dev/null); do "$runtime" --root "$TMP/run/rt" delete --force "$id" >/dev/null 2>&1; done
	fi
	[ "${#P[@]}" -eq 0 ] || "${P[@]}" rm -af -t 0 >/dev/null 2>&1
	if [ "$rc" != 0 ] && [ -s "$logf" ]; then
		echo "bench/engine.sh: failed; last lines of the log:" >&2
		tail -n 30 "$logf" >&2
	fi
	cg_unprepare
	engines_unmount_private
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- mounts private to this namespace
export TMPDIR="$TMP/tmp"
mkdir -p "$TMPDIR"
engines_mount_private

# ---------------------------------------------------------------- cgroups: one parent below our own cgroup
# Absolute (podman's --cgroup-parent with cgroupfs wants one), below our own
# cgroup in every hierarchy; made beforehand so no engine pays for it.
cg_setup "berth-engine-bench-$$"
cg_prepare

# ---------------------------------------------------------------- binaries (copies: a rebuild during the run must not mix versions)
mkdir -p "$TMP/bin"
cp "$berth" "$TMP/bin/berth"
cp "$runtime" "$TMP/bin/berth-runtime"
berth_src=$berth
berth="$TMP/bin/berth"
runtime="$TMP/bin/berth-runtime"
B=("$berth" --root "$TMP/berth/root" --runroot "$RUN/berth")

# ---------------------------------------------------------------- podman's configuration
engines_podman_setup

# ---------------------------------------------------------------- the image
engines_load_image "${B[@]}"

# ---------------------------------------------------------------- the commands
RUNTIME_ROOT="$RUN/rt"
mkdir -p "$RUNTIME_ROOT"
berth_cmd=("${B[@]}" run --rm --network none --cgroup-parent "$CG_PARENT" "$IMAGE" true)
berth_nosec_cmd=("${B[@]}" run --rm --network none --cgroup-parent "$CG_PARENT" --security-opt seccomp=unconfined "$IMAGE" true)
podman_cmd=("${P[@]}" run --rm --network none --cgroup-parent "$CG_PARENT" "$IMAGE" true)

log "probing"
"${berth_cmd[@]}" >>"$logf" 2>&1 || die "berth run failed"
if ! "${podman_cmd[@]}" >>"$logf" 2>&1; then
	[ "$podman_runtime" = crun ] && command -v runc >/dev/null || die "podman run failed"
	log "podman with crun failed (see the log); trying runc"
	podman_runtime=runc
	write_podman_conf
	"${podman_cmd[@]}" >>"$logf" 2>&1 || die "podman run failed with runc too"
fi
# berth-runtime alone: the bundle `berth create` made, as berth run would use it
"${B[@]}" create --name prepared --network none --cgroup-parent "$CG_PARENT" "$IMAGE" true >>"$logf" 2>&1 ||
	die "berth create failed"
bundle=$("${B[@]}" inspect prepared | jq -r '.[0].Bundle')
[ -f "$bundle/config.json" ] || die "no config.json in $bundle"
runtime_cmd=("$runtime" --root "$RUNTIME_ROOT" run --bundle "$bundle" bench-rt)
"${runtime_cmd[@]}" </dev/null >>"$logf" 2>&1 || die "berth-runtime run of the prepared bundle failed"

NAMES=("berth" "berth, seccomp=unconfined" "berth-runtime alone" "podman")
CMDS=("$(quote "${berth_cmd[@]}")" "$(quote "${berth_nosec_cmd[@]}")" "$(quote "${runtime_cmd[@]}")"
	"$(quote "${podman_cmd[@]}")")

# ---------------------------------------------------------------- timing
load0=$(cut -d" " -f1-3 /proc/loadavg)
hf_args=()
for i in "${!NAMES[@]}"; do hf_args+=("${NAMES[i]}" "${CMDS[i]}"); done
engines_hyperfine "${hf_args[@]}"
load1=$(cut -d" " -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- the monitor's memory
log "monitor RSS"
mon_id=$("${B[@]}" run -d --network none --cgroup-parent "$CG_PARENT" "$IMAGE" sleep 30 2>>"$logf" | tail -n 1)
monitor_pid=$("${B[@]}" inspect "$mon_id" | jq -r '.[0].State.MonitorPid')
sleep 0.3
kib() { awk -v k="$1" '$1 == k":" {print $2}' "$2"; }
vmrss=$(kib VmRSS "/proc/$monitor_pid/status")
rss=$(kib Rss "/proc/$monitor_pid/smaps_rollup")
pss=$(kib Pss "/proc/$monitor_pid/smaps_rollup")
pdirty=$(kib Private_Dirty "/proc/$monitor_pid/smaps_rollup")
"${B[@]}" rm -f "$mon_id" >>"$logf" 2>&1

# ---------------------------------------------------------------- where the time goes (strace)
timeline=""
syscalls=""
# exec_offsets TRACE: "PROGRAM<TAB>MS" per successful execve, MS after the first one
exec_offsets() {
	awk '$3 ~ /^execve\(/ && $0 !~ / = -1 / {
		if (t0 == "") t0 = $2
		line = $0; sub(/^[^[]*\[/, "", line); sub(/\].*$/, "", line); gsub(/"/, "", line)
		n = split(line, a, ", "); cmd = ""
		for (i = 1; i <= n; i++) {
			w = a[i]
			if (w ~ /^\//) { m = split(w, p, "/"); w = p[m] }
			if (i > 1 && a[i - 1] ~ /^--(root|runroot|bundle|cgroup-parent)$/) w = "…"
			if (length(w) == 64 && w ~ /^[0-9a-f]+$/) w = substr(w, 1, 12)
			cmd = cmd (i > 1 ? " " : "") w
		}
		printf "%s\t%.1f\n", cmd, ($2 - t0) * 1000
	}' "$1"
}
if command -v strace >/dev/null; then
	log "strace of one berth run (seccomp on and off)"
	strace -f -ttt -qq -s 512 -e trace=execve -e signal=none -o "$TMP/trace" "${berth_cmd[@]}" >>"$logf" 2>&1 || true
	strace -f -ttt -qq -s 512 -e trace=execve -e signal=none -o "$TMP/trace-nosec" "${berth_nosec_cmd[@]}" \
		>>"$logf" 2>&1 || true
	# rows matched by position: both runs execute the same programs
	timeline=$(paste <(exec_offsets "$TMP/trace") <(exec_offsets "$TMP/trace-nosec" | cut -f2) |
		awk -F'\t' '{printf "| `%s` | %s | %s |\n", $1, $2, $3}')
	strace -f -c -o "$TMP/strace-c" "${berth_cmd[@]}" >>"$logf" 2>&1 || true
	# waits (the parent waiting for a child) left out: they count the child's time again
	syscalls=$(awk '/^------/ {sep++; next} sep == 1 && NF >= 5 {print}' "$TMP/strace-c" |
		grep -Ev ' (wait4|waitid|poll|ppoll|pselect6|select|epoll_wait|epoll_pwait|rt_sigsuspend|rt_sigtimedwait)$' |
		sort -k2 -g -r | awk 'NR <= 8' | awk '{printf "| %s | %s | %s |\n", $NF, $2, $4}')
	strace_total=$(awk '/^------/ {sep++; next} sep == 2 {print $2 " s in " $4 " calls"}' "$TMP/strace-c")
fi

# ---------------------------------------------------------------- report
report() {
	local bm pm i name med mean sd mn ratio
	bm=$(stat_of berth median)
	pm=$(stat_of podman median)
	echo "# berth run against podman ($(date -u +%Y-%m-%d), $(hostname -s))"
	echo
	echo "- host: $(nproc) CPUs, $(uname -r), cgroup $cgroup_layout; load average $load0 before, $load1 after"
	echo "- berth: \`$(in_repo "$berth_src")\` ($("$berth" --version)), berth-runtime next to it"
	echo "- podman: $(podman --version | sed 's/^podman version //') with $podman_runtime $("$podman_runtime" --version | awk 'NR == 1 {print $NF}'), conmon $(conmon --version | awk 'NR == 1 {print $NF}'), overlay storage, cgroupfs"
	echo "- image: scripts/make-oci-image.sh (busybox-static) loaded into both from one docker-archive"
	echo "- hyperfine -N, $ROUNDS round(s) of $RUNS runs after $WARMUP warmups, the four side by side each round"
	echo
	echo "| command | median (ms) | mean ± σ (ms) | min (ms) | podman / this |"
	echo "|---|---:|---:|---:|---:|"
	for i in "${!NAMES[@]}"; do
		name=${NAMES[i]}
		med=$(stat_of "$name" median)
		mean=$(stat_of "$name" mean)
		sd=$(stat_of "$name" stddev)
		mn=$(stat_of "$name" min)
		ratio=$(awk -v p="$pm" -v m="$med" 'BEGIN {printf "%.1fx", p / m}')
		echo "| $name | $(ms "$med") | $(ms "$mean") ± $(ms "$sd") | $(ms "$mn") | $ratio |"
	done
	echo
	local target ok
	target=$(awk -v p="$pm" -v b="$bm" 'BEGIN {print (p >= 10 * b) ? "met" : "**not met**"}')
	ok=$(awk -v p="$pm" -v b="$bm" 'BEGIN {printf "%.1fx", p / b}')
	echo "Target: berth at least 10x faster than podman (medians): $ok, $target."
	echo "Engine overhead over the runtime alone: $(awk -v b="$bm" -v r="$(stat_of "berth-runtime alone" median)" 'BEGIN {printf "%+.1f ms", (b - r) * 1000}') (medians)."
	echo
	echo "Monitor of \`berth run -d IMAGE sleep 30\` (pid $monitor_pid): VmRSS $vmrss KiB; smaps_rollup Rss $rss KiB, Pss $pss KiB, Private_Dirty $pdirty KiB."
	if [ -n "$timeline" ]; then
		echo
		echo "Programs one \`berth run --rm IMAGE true\` executes, ms after berth's exec (strace -f -ttt; strace slows"
		echo "every step, so read the gaps, not the totals):"
		echo
		echo "| program | berth | berth, seccomp=unconfined |"
		echo "|---|---:|---:|"
		echo "$timeline"
		echo
		echo "Top syscalls by time, \`strace -c -f\` of one run without the waits ($strace_total in all):"
		echo
		echo "| syscall | seconds | calls |"
		echo "|---|---:|---:|"
		echo "$syscalls"
	fi
	echo
	echo "Commands (TMP = the temporary directory):"
	echo
	echo '```'
	for i in "${!NAMES[@]}"; do echo "${CMDS[i]//$TMP/TMP}"; done
	echo '```'
}
if [ -n "$out" ]; then
	report | tee "$out"
else
	report
fi
