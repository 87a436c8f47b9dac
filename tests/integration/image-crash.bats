#!/usr/bin/env bats
# A store that loads after kill -9 at any moment: pulls (and imports) are
# killed at random points; every time the store must still load, list and
# verify (each blob hashes to its name, index.json parses, no half snapshot
# is visible under a chain id, though layers unpack while they download), and
# a final pull must complete with whole layers.

REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
BERTH="${BERTH:-$REPO/build/src/cmd/berth/berth}"
MAKE_OCI="$REPO/scripts/make-oci-image.sh"
LAYER_MB=6

load registry

setup_file() {
	OCI="$BATS_FILE_TMPDIR/oci"
	"$MAKE_OCI" "$OCI" --tag crash --layers 4 --layer-mb $LAYER_MB >/dev/null
	registry_start
	skopeo copy -q --dest-tls-verify=false "oci:$OCI:crash" "docker://$REGISTRY/crash/img:1" >/dev/null
	export OCI REGISTRY REGISTRY_DIR
}

teardown_file() {
	registry_stop
}

setup() {
	STORE="$BATS_TEST_TMPDIR/store"
	PIDS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

bi() {
	"$BERTH" --root "$STORE" "$@"
}

# The store must load and be consistent.
check_store() {
	local f name got
	jq -e '.manifests | type == "array"' "$STORE/index.json" >/dev/null
	bi images >/dev/null
	for f in "$STORE"/blobs/sha256/*; do
		[ -e "$f" ] || continue
		name=$(basename "$f")
		got=$(sha256sum "$f" | cut -d' ' -f1)
		[ "$got" = "$name" ] || {
			echo "blob $name hashes to $got" >&2
			return 1
		}
	done
	# a snapshot under a chain id is whole: layers unpack as they download,
	# and only a verified one is renamed from its .tmp-* dir
	local half
	half=$(find "$STORE/snapshots" -mindepth 3 -maxdepth 3 -path '*/data/layer*.bin' -not -path '*/.tmp-*' \
		-not -size "${LAYER_MB}M" 2>/dev/null)
	[ -z "$half" ] || {
		echo "snapshot with a partial layer file: $half" >&2
		return 1
	}
	# every named image is whole: its blobs are there
	for name in $(jq -r '.manifests[].digest' "$STORE/index.json"); do
		[ -f "$STORE/blobs/sha256/${name#sha256:}" ]
	done
}

@test "crash: kill -9 of pulls at random points leaves a store that loads; the next pull completes" {
	local i pid delay
	for i in $(seq 1 14); do
		bi pull --tls-verify=false -q "$REGISTRY/crash/img:1" >/dev/null 2>&1 &
		pid=$!
		PIDS+=("$pid")
		# 0 to ~0.7 s: from before the manifest to the middle of unpacking
		delay=$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", (r % 700) / 1000 }')
		sleep "$delay"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		check_store
		# a pull that finished is a complete image; start over to crash again
		if jq -e '.manifests | length > 0' "$STORE/index.json" >/dev/null; then
			rm -rf "$STORE"
		fi
	done
	run bi pull --tls-verify=false -q "$REGISTRY/crash/img:1"
	[ "$status" -eq 0 ]
	check_store
	# whole layers: each random-data file has its full size
	run bash -c "find '$STORE/snapshots' -name 'layer*.bin' -size ${LAYER_MB}M | wc -l"
	[ "$output" = 4 ]
	# leftovers of the killed pulls go with a prune, the image stays
	bi image prune -f >/dev/null
	[ -z "$(ls -A "$STORE/ingest")" ]
	[ -z "$(find "$STORE/snapshots" -maxdepth 1 -name '.tmp-*')" ]
	bi image inspect "$REGISTRY/crash/img:1" >/dev/null
}

@test "crash: a retried pull reuses the verified blobs of a killed one" {
	local pid n
	bi pull --tls-verify=false -q "$REGISTRY/crash/img:1" >/dev/null 2>&1 &
	pid=$!
	PIDS+=("$pid")
	# wait until at least one layer blob is in, then kill
	for n in $(seq 1 200); do
		[ "$(find "$STORE/blobs/sha256" -type f -size +1M 2>/dev/null | wc -l)" -ge 1 ] && break
		sleep 0.02
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	have=$(find "$STORE/blobs/sha256" -type f -size +1M | wc -l)
	[ "$have" -ge 1 ]
	before=$(registry_blob_gets "$REGISTRY_DIR")
	run bi pull --tls-verify=false -q "$REGISTRY/crash/img:1"
	[ "$status" -eq 0 ]
	after=$(registry_blob_gets "$REGISTRY_DIR")
	# 5 layers + config at most; the blobs already verified are not fetched again
	[ $((after - before)) -le $((6 - have)) ]
	check_store
}

# kill_in_unpack: pulls into an empty store and kills them until one dies
# with a snapshot half unpacked (a .tmp-* dir), before the image is named.
kill_in_unpack() {
	local i pid
	for i in $(seq 1 40); do
		rm -rf "$STORE"
		# berth itself as $! (bi in the background would be a subshell)
		"$BERTH" --root "$STORE" pull --tls-verify=false -q "$REGISTRY/crash/img:1" >/dev/null 2>&1 &
		pid=$!
		PIDS+=("$pid")
		for _ in $(seq 1 400); do
			[ -n "$(find "$STORE/snapshots" -mindepth 1 -maxdepth 1 -name '.tmp-*' 2>/dev/null)" ] && break
			sleep 0.005
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		if [ -n "$(find "$STORE/snapshots" -mindepth 1 -maxdepth 1 -name '.tmp-*' 2>/dev/null)" ] &&
			jq -e '.manifests | length == 0' "$STORE/index.json" >/dev/null; then
			return 0
		fi
	done
	echo "no pull was killed while unpacking" >&2
	return 1
}

@test "crash: a pull killed while unpacking leaves no snapshot temp dir after the next pull" {
	kill_in_unpack
	run bi pull --tls-verify=false -q "$REGISTRY/crash/img:1"
	[ "$status" -eq 0 ]
	[ -z "$(find "$STORE/snapshots" -maxdepth 1 -name '.tmp-*')" ]
	check_store
}

@test "crash: image prune removes and counts the snapshot temp dir of a killed pull" {
	local n
	kill_in_unpack
	# nothing is named: prune removes every blob, snapshot and temp entry
	n=$(($(ls -A "$STORE/blobs/sha256" | wc -l) + $(ls -A "$STORE/snapshots" | wc -l) +
		$(ls -A "$STORE/ingest" 2>/dev/null | wc -l)))
	run bi image prune -f
	[ "$status" -eq 0 ]
	[[ "$output" == "Removed $n blobs and snapshots,"* ]] || {
		echo "expected $n removed: $output" >&2
		return 1
	}
	[ -z "$(ls -A "$STORE/snapshots")" ]
}
