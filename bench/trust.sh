#!/usr/bin/env bash
# What a signature policy adds to a pull: `berth pull` of an image already in
# the store (manifest GET plus the policy check, no blob moves) under
# insecureAcceptAnything and under signedBy (one GPG signature made by skopeo,
# read from a file:// lookaside), N runs each, once with the verification
# results kept in the store removed before each run (a signature never
# verified before; an older build's gpg key ring is kept) and once with them;
# plus `berth run --rm IMAGE true` of the stored image under both policies
# (run and create check the policy again).
#
#   bench/trust.sh [--runs N] [--berth PATH] [--compare PATH] [--interleave N]
#
#   --compare PATH    another berth binary (an older build) timed beside it
#   --interleave N    instead: N rounds of the two pulls of a signature never
#                     verified before, each build in turn within a round (on
#                     a shared machine load comes in bursts, which hit one
#                     hyperfine series and not the next); median and min
#
# Needs root, docker-registry, skopeo, gpg, hyperfine, jq. Everything lives in
# one temporary directory (removed on exit); the registry listens on
# 127.0.0.1:<free port>; GNUPGHOME is a throwaway one whose agent is stopped.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BERTH="${BERTH:-$REPO/build/src/cmd/berth/berth}"
RUNS=20
COMPARE=
INTERLEAVE=0
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) RUNS=$2; shift 2 ;;
	--berth) BERTH=$2; shift 2 ;;
	--compare) COMPARE=$2; shift 2 ;;
	--interleave) INTERLEAVE=$2; shift 2 ;;
	*) echo "usage: $0 [--runs N] [--berth PATH] [--compare PATH] [--interleave N]" >&2; exit 2 ;;
	esac
done
T=$(mktemp -d)
export GNUPGHOME="$T/gnupg"
cleanup() {
	registry_stop 2>/dev/null || true
	gpgconf --kill gpg-agent 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=tests/integration/registry.bash
. "$REPO/tests/integration/registry.bash"
# shellcheck disable=SC2119 # no flags: a plain http registry
BATS_FILE_TMPDIR=$T registry_start >/dev/null

mkdir -m 700 "$GNUPGHOME"
gpg --batch --passphrase '' --quick-gen-key "bench <bench@berth.invalid>" ed25519 sign never 2>/dev/null
KEY=$(gpg --list-keys --with-colons bench@berth.invalid 2>/dev/null | awk -F: '/^fpr/ { print $10; exit }')
gpg --export "$KEY" >"$T/key.gpg"
"$REPO/scripts/make-oci-image.sh" "$T/oci" --tag v1 >/dev/null
mkdir "$T/rd"
printf 'docker:\n  %s:\n    lookaside: file://%s/lookaside\n' "$REGISTRY" "$T" >"$T/rd/r.yaml"
skopeo copy -q --dest-tls-verify=false --registries.d "$T/rd" --sign-by "$KEY" \
	"oci:$T/oci:v1" "docker://$REGISTRY/signed/app:v1" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$T/oci:v1" "docker://$REGISTRY/open/app:v1" >/dev/null
cat >"$T/policy.json" <<-J
	{"default": [{"type": "reject"}],
	 "transports": {"docker": {
	   "$REGISTRY/signed": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "$T/key.gpg"}],
	   "$REGISTRY/open": [{"type": "insecureAcceptAnything"}]}}}
J
b() { "$BERTH" --root "$T/store" --runroot "$T/run" "$@"; }
p() { b pull -q --tls-verify=false --registries.d "$T/rd" --signature-policy "$T/policy.json" "$@" >/dev/null; }
p "$REGISTRY/open/app:v1"
p "$REGISTRY/signed/app:v1"
echo "load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs each, hyperfine -N: median (min, mean user+sys CPU of the command and its children)"
# NAME LABEL BINARY: the hyperfine arguments of one command
cmd() {
	local B="$3 --root $T/store --runroot $T/run"
	case "$1" in
	pull-accept) echo "$B pull -q --tls-verify=false --registries.d $T/rd --signature-policy $T/policy.json $REGISTRY/open/app:v1" ;;
	pull-signedBy) echo "$B pull -q --tls-verify=false --registries.d $T/rd --signature-policy $T/policy.json $REGISTRY/signed/app:v1" ;;
	run-accept) echo "$B run --rm --network none --signature-policy $T/policy.json $REGISTRY/open/app:v1 true" ;;
	run-signedBy) echo "$B run --rm --network none --signature-policy $T/policy.json $REGISTRY/signed/app:v1 true" ;;
	esac
}
bench() { # TITLE PREPARE NAME...
	local title=$1 prepare=$2 args=() name label bin
	shift 2
	for name in "$@"; do
		for label in berth ${COMPARE:+compare}; do
			bin=$BERTH
			[ "$label" = compare ] && bin=$COMPARE
			args+=(-n "$name ($label)" "$(cmd "$name" "$label" "$bin")")
		done
	done
	hyperfine -N -r "$RUNS" -w 2 --style none --prepare "$prepare" --export-json "$T/h.json" "${args[@]}" >/dev/null
	echo "$title:"
	jq -r '.results[] | "  \(.command): \(.median*1000*10 | floor / 10) ms (min \(.min*1000*10 | floor / 10), CPU \((.user + .system)*1000*10 | floor / 10))"' "$T/h.json"
}
# NAME...: INTERLEAVE rounds, in each every NAME with each build once after
# removing the kept results; prints the median and min of each
interleave() {
	local name label bin i start line
	for ((i = 0; i < INTERLEAVE; i++)); do
		for name in "$@"; do
			for label in berth ${COMPARE:+compare}; do
				bin=$BERTH
				[ "$label" = compare ] && bin=$COMPARE
				rm -rf "$T/store/trust/verified"
				read -ra line <<<"$(cmd "$name" "$label" "$bin")"
				start=$EPOCHREALTIME
				"${line[@]}" >/dev/null
				echo "$name ($label) $start $EPOCHREALTIME"
			done
		done
	done | awk '{ printf "%s %s %.3f\n", $1, $2, ($4 - $3) * 1000 }' | sort -k1,2 -k3n |
		awk '{ k = $1 " " $2; v[k, ++n[k]] = $3 }
			END { for (k in n) printf "  %s: median %.1f ms (min %.1f, %d rounds)\n", k, v[k, int((n[k] + 1) / 2)], v[k, 1], n[k] }' |
		sort
}
if [ "$INTERLEAVE" -gt 0 ]; then
	echo "load $(cut -d' ' -f1-3 /proc/loadavg), $INTERLEAVE interleaved rounds, wall time: median (min)"
	echo "signature not verified before:"
	interleave pull-accept pull-signedBy
	exit 0
fi
# the verification results kept in the store are removed before every run:
# the cost of a signature not verified before (an older build's key ring is kept)
bench "signature not verified before" "rm -rf $T/store/trust/verified" pull-accept pull-signedBy
bench "signature verified before (kept result)" "true" pull-accept pull-signedBy run-accept run-signedBy
