#!/bin/bash
# Runs the client tests (podman, containerd + ctr, dockerd) one after the
# other against berth-runtime and sums them up. Exit status 1 if any
# scenario of any client failed or a script bailed out.
#
#   tests/clients/run-all.sh [CLIENT...]     (default: podman containerd docker)
#
# BERTH_RUNTIME picks the binary (default build/src/cmd/runtime/berth-runtime);
# see lib.sh for the other variables.
set -u

here="$(cd "$(dirname "$0")" && pwd)"
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(podman containerd docker)

total_pass=0
total_fail=0
summary=()
status=0
start_all=$(date +%s)

for client in "${clients[@]}"; do
	script="$here/$client.sh"
	if [ ! -f "$script" ]; then
		echo "run-all: no script for client \"$client\"" >&2
		status=1
		continue
	fi
	echo "# ---- $client"
	start=$(date +%s)
	out=$(mktemp)
	bash "$script" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	pass=$(grep -c '^ok ' "$out")
	fail=$(grep -c '^not ok ' "$out")
	bail=$(grep -c '^Bail out!' "$out")
	rm -f "$out"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	line="$client: $pass passed, $fail failed, $(($(date +%s) - start)) s"
	if [ "$bail" -gt 0 ]; then
		line="$line (bailed out)"
	fi
	if [ "$rc" -ne 0 ]; then
		status=1
		[ "$fail" -eq 0 ] && [ "$bail" -eq 0 ] && line="$line (exit status $rc)"
	fi
	summary+=("$line")
done

echo "# ---- summary ($(($(date +%s) - start_all)) s)"
for line in "${summary[@]}"; do
	echo "# $line"
done
echo "$total_pass passed, $total_fail failed"
exit $status
