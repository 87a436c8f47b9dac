#!/usr/bin/env bash
# What networking costs a `berth run --rm IMAGE true`, side by side with podman.
#
#   bench/network.sh [--quick] [--out FILE] [--berth PATH]
#
#   --quick        1 round of 10 runs (about 1 minute); full: 3 rounds of 20
#   --out FILE     also write the report (markdown) to FILE; nothing else is written
#                  outside the temporary directory
#   --berth PATH   berth binary (default $BERTH or build/src/cmd/berth/berth)
#
# Needs root and: hyperfine, podman (with conmon, crun or runc, and the CNI
# plugins in /usr/lib/cni), skopeo, jq, ip (iproute2), nft, unshare
# (util-linux), busybox-static. It installs nothing. A manual benchmark: not
# for CI.
#
# Everything runs inside a private mount namespace AND a private network
# namespace (unshare -m -n) with only lo, brought up: the bridges (berth0,
# cni-podman0), veths, nftables tables and iptables rules, and the net.*
# sysctls that berth and podman set exist only there and go with it. The
# rest is bench/engine.sh's setup (bench/lib/engines.sh): one mktemp -d
# directory with both engines' stores, /var/lib an overlay and /dev/shm a
# tmpfs private to the run, the hybrid cgroup2 unmounted in the namespace,
# one cgroup parent for all containers. In addition /run is an overlay (upper
# in the temporary directory), so podman's netns files (/run/netns) and
# iptables' lock stay off the host's /run.
#
# Timed with hyperfine -N, all side by side in one invocation per round:
#   berth none             berth run --rm --network none IMAGE true
#   berth bridge           berth run --rm --network berth IMAGE true
#   berth bridge + port    berth run --rm --network berth -p 18080:80 IMAGE true
#   podman none            podman run --rm --network none IMAGE true
#   podman default         podman run --rm IMAGE true  (podman's default network)
# A row that fails its probe is left out and named in the report. After the
# run, the outer script checks the host: no berth0/cni-podman0/podman0 link,
# no table inet berth, no process left in the benchmark's namespaces, no
# cgroup and no temporary directory left.
set -eEuo pipefail
trap 'echo "bench/network.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

# shellcheck source=bench/lib/engines.sh
. "$here/lib/engines.sh"
engines_args network.sh "$@"

HOST_LINKS="berth0 cni-podman0 podman0"

# host_net_state: what the run must not change on the host, one item a line
host_net_state() {
	local l
	for l in $HOST_LINKS; do
		! ip link show "$l" >/dev/null 2>&1 || echo "link $l"
	done
	nft list tables 2>/dev/null | grep -x 'table inet berth' || true
}

# ---------------------------------------------------------------- outer: checks, the run in private namespaces, then the host check
if [ "$inner" = 0 ]; then
	engines_check_tools ip nft
	[ -d /usr/lib/cni ] || die "missing: the CNI plugins in /usr/lib/cni (apt-get install -y containernetworking-plugins)"
	[ -x "$berth" ] || die "$berth is not built (meson setup build && ninja -C build)"
	[ -x "$runtime" ] || die "no berth-runtime next to $berth"
	if [ -n "$out" ] && ! { [ -d "$(dirname "$out")" ] && [ -w "$(dirname "$out")" ]; }; then
		die "cannot write $out (its directory must exist)"
	fi
	before=$(host_net_state)
	ruleset_before=$(nft list ruleset 2>/dev/null | sha256sum)
	# the inner run writes its namespaces, cgroup parent and directory here
	ids=$(mktemp /tmp/berth-network-ids.XXXXXX)
	rc=0
	BENCH_IDS="$ids" unshare -m -n --propagation private -- bash "$0" --inner "${orig_args[@]}" || rc=$?
	problems=()
	after=$(host_net_state)
	[ "$after" = "$before" ] || problems+=("host network changed: $(echo "$after" | tr '\n' ' ')")
	[ "$(nft list ruleset 2>/dev/null | sha256sum)" = "$ruleset_before" ] ||
		log "note: the host's nftables ruleset changed during the run (not a berth table; other work on the machine?)"
	netns="" mntns="" cgparent="" tmpdir=""
	# shellcheck disable=SC1090
	[ ! -s "$ids" ] || . "$ids"
	rm -f "$ids"
	if [ -n "$netns" ]; then
		for p in /proc/[0-9]*; do
			n=$(readlink "$p/ns/net" 2>/dev/null) || continue
			m=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
			if [ "$n" = "$netns" ] || [ "$m" = "$mntns" ]; then
				problems+=("process ${p#/proc/} ($(cat "$p/comm" 2>/dev/null)) left in the benchmark's namespaces")
			fi
		done
	else
		problems+=("the inner run did not record its namespaces")
	fi
	if [ -n "$cgparent" ]; then
		for d in /sys/fs/cgroup/*"$cgparent"; do
			[ ! -d "$d" ] || problems+=("cgroup $d left")
		done
	fi
	[ -z "$tmpdir" ] || [ ! -e "$tmpdir" ] || problems+=("$tmpdir left")
	if [ "${#problems[@]}" -gt 0 ]; then
		printf 'bench/network.sh: after the run: %s\n' "${problems[@]}" >&2
		exit 1
	fi
	log "host checked: no ${HOST_LINKS// //} link, no table inet berth, no process, cgroup or directory left"
	exit "$rc"
fi

# ---------------------------------------------------------------- inner
[ "$(readlink /proc/self/ns/net)" != "$(readlink /proc/1/ns/net)" ] ||
	die "not in a private network namespace; refusing to make bridges"
ip link set lo up

if [ "$quick" = 1 ]; then
	ROUNDS=1 RUNS=10 WARMUP=2
else
	ROUNDS=3 RUNS=20 WARMUP=3
fi

TMP=$(mktemp -d /tmp/berth-network.XXXXXX)
logf="$TMP/bench.log"
: >"$logf"
# shellcheck source=bench/cgroup.sh
. "$here/cgroup.sh"
cg_setup "berth-network-bench-$$"
cat >"$BENCH_IDS" <<EOF
netns='$(readlink /proc/self/ns/net)'
mntns='$(readlink /proc/self/ns/mnt)'
cgparent='$CG_PARENT'
tmpdir='$TMP'
EOF
B=()
run_mounted=""

cleanup() {
	local rc=$? id
	set +e
	trap - ERR
	if [ "${#B[@]}" -gt 0 ]; then
		for id in $("${B[@]}" ps -aq --no-trunc 2>/dev/null); do "${B[@]}" rm -f "$id" >/dev/null 2>&1; done
	fi
	[ "${#P[@]}" -eq 0 ] || "${P[@]}" rm -af -t 0 >/dev/null 2>&1
	if [ "$rc" != 0 ] && [ -s "$logf" ]; then
		echo "bench/network.sh: failed; last lines of the log:" >&2
		tail -n 30 "$logf" >&2
	fi
	cg_unprepare
	if [ -n "$run_mounted" ]; then
		awk '$5 ~ "^/run/" {print "mount left below /run: " $5}' /proc/self/mountinfo >>"$logf"
		umount -R /run || umount -l /run
	fi
	engines_unmount_private
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- mounts private to this namespace
export TMPDIR="$TMP/tmp"
mkdir -p "$TMPDIR" "$TMP/run/upper" "$TMP/run/work"
engines_mount_private
mount -t overlay berth-network-run -o "lowerdir=/run,upperdir=$TMP/run/upper,workdir=$TMP/run/work" /run
run_mounted=1
cg_prepare

# ---------------------------------------------------------------- binaries, stores, image
mkdir -p "$TMP/bin"
cp "$berth" "$TMP/bin/berth"
cp "$runtime" "$TMP/bin/berth-runtime"
berth_src=$berth
berth="$TMP/bin/berth"
B=("$berth" --root "$TMP/berth/root" --runroot "$RUN/berth")
engines_podman_setup
engines_load_image "${B[@]}"

# ---------------------------------------------------------------- the commands, each probed
PORT=18080
bn=("${B[@]}" run --rm --cgroup-parent "$CG_PARENT")
pn=("${P[@]}" run --rm --cgroup-parent "$CG_PARENT")
ALL_NAMES=("berth none" "berth bridge" "berth bridge + port" "podman none" "podman default")
ALL_CMDS=(
	"$(quote "${bn[@]}" --network none "$IMAGE" true)"
	"$(quote "${bn[@]}" --network berth "$IMAGE" true)"
	"$(quote "${bn[@]}" --network berth -p "$PORT:80" "$IMAGE" true)"
	"$(quote "${pn[@]}" --network none "$IMAGE" true)"
	"$(quote "${pn[@]}" "$IMAGE" true)"
)

# probe CMD: runs the row's command once with busybox `ip -4 -o addr` as the
# workload; prints the container's IPv4 addresses
probe() {
	bash -c "${1% true} busybox ip -4 -o addr show" 2>>"$logf" | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $4}'
}
log "probing"
if ! probe "${ALL_CMDS[3]}" >/dev/null && [ "$podman_runtime" = crun ] && command -v runc >/dev/null; then
	log "podman with crun failed (see the log); trying runc"
	podman_runtime=runc
	write_podman_conf
fi
NAMES=() CMDS=() SKIPPED=() ADDRS=()
for i in "${!ALL_NAMES[@]}"; do
	if a=$(probe "${ALL_CMDS[i]}") && [ -n "$a" ]; then
		NAMES+=("${ALL_NAMES[i]}")
		CMDS+=("${ALL_CMDS[i]}")
		ADDRS+=("$a")
		echo "probe ${ALL_NAMES[i]}: $a" >>"$logf"
	else
		log "${ALL_NAMES[i]} fails here (see the log); left out"
		SKIPPED+=("${ALL_NAMES[i]}")
	fi
done
has() { local n; for n in "${NAMES[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
has "berth none" && has "berth bridge" || die "berth run with --network none or berth fails"

# The published port really becomes a rule: one detached container, its
# element in the dnat4 map of table inet berth, gone after rm.
port_mapped() { nft list map inet berth dnat4 2>>"$logf" | grep -Eq "[. ]$PORT : "; }
port_rule="not checked"
if has "berth bridge + port"; then
	cid=$("${B[@]}" run -d --cgroup-parent "$CG_PARENT" --network berth -p "$PORT:80" "$IMAGE" sleep 30 2>>"$logf" | tail -n 1)
	if port_mapped; then
		port_rule="while a container ran, its port $PORT was in the dnat4 map of table inet berth"
	else
		port_rule="**port $PORT not found in the dnat4 map of table inet berth**"
	fi
	"${B[@]}" rm -f "$cid" >>"$logf" 2>&1
	if port_mapped; then port_rule="$port_rule, **still there after rm**"; else port_rule="$port_rule, gone after rm"; fi
fi

# ---------------------------------------------------------------- timing
load0=$(cut -d" " -f1-3 /proc/loadavg)
hf_args=()
for i in "${!NAMES[@]}"; do hf_args+=("${NAMES[i]}" "${CMDS[i]}"); done
engines_hyperfine "${hf_args[@]}"
load1=$(cut -d" " -f1-3 /proc/loadavg)

# what the runs left in the namespace: veths and netns files are per container
veths=$(ip -o link show type veth 2>/dev/null | wc -l)
netns_files=$(find "$RUN/berth/netns" -mindepth 1 2>/dev/null | wc -l)
berth_left=$("${B[@]}" ps -aq | wc -l)
podman_left=$("${P[@]}" ps -aq | wc -l)

# ---------------------------------------------------------------- report
version_of() { "$1" --version | awk 'NR == 1 {print $NF}'; }
report() {
	local i name med ref
	echo "# Networking: berth run against podman ($(date -u +%Y-%m-%d), $(hostname -s))"
	echo
	echo "- host: $(nproc) CPUs, $(uname -r), cgroup $cgroup_layout; load average $load0 before, $load1 after"
	echo "- berth: \`$(in_repo "$berth_src")\` ($("$berth" --version)); bridge network \`berth\` (berth0, nftables table inet berth)"
	echo "- podman: $(podman --version | sed 's/^podman version //') with $podman_runtime $(version_of "$podman_runtime"), conmon $(version_of conmon), network backend $("${P[@]}" info --format '{{.Host.NetworkBackend}}' 2>/dev/null) (CNI plugins $(dpkg-query -W -f '${Version}' containernetworking-plugins 2>/dev/null || echo '?'), $(iptables --version))"
	echo "- all inside a private network namespace (lo only at the start) and mount namespace"
	echo "- hyperfine -N, $ROUNDS round(s) of $RUNS runs after $WARMUP warmups, the rows side by side each round"
	echo
	echo "| command | median (ms) | mean ± σ (ms) | min (ms) | max (ms) | addresses in the container |"
	echo "|---|---:|---:|---:|---:|---|"
	for i in "${!NAMES[@]}"; do
		name=${NAMES[i]}
		echo "| $name | $(ms "$(stat_of "$name" median)") | $(ms "$(stat_of "$name" mean)") ± $(ms "$(stat_of "$name" stddev)") | $(ms "$(stat_of "$name" min)") | $(ms "$(stat_of "$name" max)") | ${ADDRS[i]} |"
	done
	for name in "${SKIPPED[@]}"; do echo "| $name | failed here, not measured | | | | |"; done
	echo
	ref=$(stat_of "berth none" median)
	for name in "berth bridge" "berth bridge + port"; do
		has "$name" || continue
		med=$(stat_of "$name" median)
		echo "- $name − berth none: $(awk -v a="$med" -v b="$ref" 'BEGIN {d = (a - b) * 1000; printf "%+.1f ms (target under 10 ms: %s)", d, d < 10 ? "met" : "**not met**"}')"
	done
	ratio() { # "A / B" of the medians, or why not
		if has "$1" && has "$2"; then
			awk -v a="$(stat_of "$1" median)" -v b="$(stat_of "$2" median)" 'BEGIN {printf "%.1fx", a / b}'
		else
			echo "n/a"
		fi
	}
	echo "- podman default / berth bridge: $(ratio "podman default" "berth bridge")"
	echo "- podman none / berth none: $(ratio "podman none" "berth none")"
	echo "- podman default − podman none: $(has "podman default" && awk -v a="$(stat_of "podman default" median)" -v b="$(stat_of "podman none" median)" 'BEGIN {printf "%+.1f ms", (a - b) * 1000}' || echo n/a)"
	echo
	echo "Published port: $port_rule. Left in the namespace after the rounds: $veths veth(s), $netns_files netns file(s) under berth's runroot, $berth_left berth and $podman_left podman container(s)."
	echo
	echo "Commands (TMP = the temporary directory):"
	echo
	echo '```'
	for i in "${!ALL_NAMES[@]}"; do echo "${ALL_CMDS[i]//$TMP/TMP}"; done
	echo '```'
}
if [ -n "$out" ]; then
	report | tee "$out"
else
	report
fi
