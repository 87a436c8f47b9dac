#!/usr/bin/env bats
# berth pull, push, login and logout against real registries: Debian's
# docker-registry on 127.0.0.1 (plain http; one with htpasswd; one with a
# self-signed certificate), images made locally by make-oci-image.sh and
# pushed with skopeo. Each test has its own store and auth file.

bats_require_minimum_version 1.5.0

REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
BERTH="${BERTH:-$REPO/build/src/cmd/berth/berth}"
MAKE_OCI="$REPO/scripts/make-oci-image.sh"

load registry

# skopeo copy into one of the registries: skocopy [skopeo flags] SRC DEST
skocopy() {
	skopeo copy -q --dest-tls-verify=false "$@" >/dev/null
}

setup_file() {
	[ -x "$BERTH" ] || { echo "berth not built at $BERTH" >&2; return 1; }
	OCI="$BATS_FILE_TMPDIR/oci"
	V1_DIGEST=$("$MAKE_OCI" "$OCI" --tag v1)
	ARM_DIGEST=$("$MAKE_OCI" "$OCI" --tag arm --arch arm64 --variant v8 --layers 1 --layer-mb 1)
	MULTI_DIGEST=$("$MAKE_OCI" "$OCI" --tag multi --index v1,arm)
	"$MAKE_OCI" "$OCI" --tag big --layers 4 --layer-mb 2 >/dev/null
	V1_ID=$(jq -r .config.digest "$OCI/blobs/sha256/${V1_DIGEST#sha256:}")
	export OCI V1_DIGEST ARM_DIGEST MULTI_DIGEST V1_ID

	# one registry with htpasswd, one with TLS, and the plain one as REGISTRY
	registry_start --htpasswd alice s3cret
	AUTH_REGISTRY=$REGISTRY AUTH_REGISTRY_DIR=$REGISTRY_DIR
	skocopy --dest-creds alice:s3cret "oci:$OCI:v1" "docker://$AUTH_REGISTRY/private/busybox:v1"
	registry_start --token bob t0ken
	TOKEN_REGISTRY=$REGISTRY TOKEN_REGISTRY_DIR=$REGISTRY_DIR
	skocopy --dest-creds bob:t0ken "oci:$OCI:v1" "docker://$TOKEN_REGISTRY/team/busybox:v1"
	registry_start --tls
	TLS_REGISTRY=$REGISTRY TLS_REGISTRY_DIR=$REGISTRY_DIR TLS_CERT_DIR=$REGISTRY_CERT_DIR
	skocopy "oci:$OCI:v1" "docker://$TLS_REGISTRY/tls/busybox:v1"
	registry_start
	skocopy "oci:$OCI:v1" "docker://$REGISTRY/test/busybox:v1"
	skocopy --format v2s2 "oci:$OCI:v1" "docker://$REGISTRY/test/docker:v1"
	skocopy --all "oci:$OCI:multi" "docker://$REGISTRY/test/multi:1"
	skocopy "oci:$OCI:big" "docker://$REGISTRY/test/big:1"
	export AUTH_REGISTRY AUTH_REGISTRY_DIR TOKEN_REGISTRY TOKEN_REGISTRY_DIR TLS_REGISTRY TLS_REGISTRY_DIR TLS_CERT_DIR
}

teardown_file() {
	registry_stop
	REGISTRY_DIR=${AUTH_REGISTRY_DIR:-} registry_stop
	REGISTRY_DIR=${TLS_REGISTRY_DIR:-} registry_stop
	REGISTRY_DIR=${TOKEN_REGISTRY_DIR:-} registry_stop
}

setup() {
	STORE="$BATS_TEST_TMPDIR/store"
	export REGISTRY_AUTH_FILE="$BATS_TEST_TMPDIR/auth.json"
}

teardown() {
	if [ -n "${PULL_PID:-}" ]; then
		kill "$PULL_PID" 2>/dev/null || true
		wait "$PULL_PID" 2>/dev/null || true
	fi
	registry_gate_stop
	rm -rf "$STORE" "$REGISTRY_AUTH_FILE"
	if [ -n "${ROOTLESS_PAUSE_FILE:-}" ] && [ -f "$ROOTLESS_PAUSE_FILE" ]; then
		# the pause process this test's berth started (pid, start time)
		local pid start
		read -r pid start <"$ROOTLESS_PAUSE_FILE"
		[ "$(cut -d' ' -f22 "/proc/$pid/stat" 2>/dev/null)" != "$start" ] || kill -9 "$pid"
	fi
	rm -rf "${ROOTLESS_HOME:-}"
}

b() {
	"$BERTH" --root "$STORE" "$@"
}

# The manifest digest index.json records for NAME (empty when none).
store_digest() {
	jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' \
		"$STORE/index.json" 2>/dev/null
}

ingest_empty() {
	[ -z "$(ls -A "$STORE/ingest" 2>/dev/null)" ]
}

# ---- pull ----

@test "pull: an OCI image pushed by skopeo; prints the id, names it, stores every blob" {
	run --separate-stderr b pull --tls-verify=false "$REGISTRY/test/busybox:v1"
	[ "$status" -eq 0 ]
	[ "$output" = "${V1_ID#sha256:}" ]
	[ -z "$stderr" ] # not a terminal: no progress
	[ "$(store_digest "$REGISTRY/test/busybox:v1")" = "$V1_DIGEST" ]
	for d in $(jq -r '.config.digest, .layers[].digest' "$OCI/blobs/sha256/${V1_DIGEST#sha256:}") "$V1_DIGEST"; do
		cmp "$STORE/blobs/sha256/${d#sha256:}" "$OCI/blobs/sha256/${d#sha256:}"
	done
	ingest_empty
	run b image inspect "$REGISTRY/test/busybox:v1"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '.[0].Id')" = "$V1_ID" ]
	[ "$(echo "$output" | jq -r '.[0].Digest')" = "$V1_DIGEST" ]
	[ "$(echo "$output" | jq -r '.[0].Config.Cmd[0]')" = sh ]
	# the layer is unpacked
	chain=$(jq -r '.rootfs.diff_ids[0]' "$OCI/blobs/sha256/${V1_ID#sha256:}")
	[ -x "$STORE/snapshots/${chain#sha256:}/bin/busybox" ]
}

@test "pull: also as berth image pull, with docker:// and --quiet" {
	run --separate-stderr b image pull -q --tls-verify=false "docker://$REGISTRY/test/busybox:v1"
	[ "$status" -eq 0 ]
	[ "$output" = "${V1_ID#sha256:}" ]
	[ "$(store_digest "$REGISTRY/test/busybox:v1")" = "$V1_DIGEST" ]
}

@test "pull: a Docker v2 schema 2 manifest" {
	run b pull --tls-verify=false "$REGISTRY/test/docker:v1"
	[ "$status" -eq 0 ]
	[ "$(jq -r --arg n "$REGISTRY/test/docker:v1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .mediaType' "$STORE/index.json")" = application/vnd.docker.distribution.manifest.v2+json ]
	run b image inspect "$REGISTRY/test/docker:v1"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '.[0].Config.Cmd[0]')" = sh ]
}

@test "pull: by digest pin records name@digest; a wrong pin fails and leaves nothing" {
	run b pull --tls-verify=false "$REGISTRY/test/busybox@$V1_DIGEST"
	[ "$status" -eq 0 ]
	[ "$(store_digest "$REGISTRY/test/busybox@$V1_DIGEST")" = "$V1_DIGEST" ]

	rm -rf "$STORE"
	wrong=sha256:$(printf 'nope' | sha256sum | cut -d' ' -f1)
	run b pull --tls-verify=false "$REGISTRY/test/busybox@$wrong"
	[ "$status" -ne 0 ]
	[[ "$output" == *"manifest unknown: $REGISTRY/test/busybox@$wrong"* ]]
	[ -z "$(store_digest "$REGISTRY/test/busybox@$wrong")" ]
	ingest_empty
	# a pin on the wrong repository's tag: the tag's manifest is not the pin
	run b pull --tls-verify=false "$REGISTRY/test/busybox:v1@$ARM_DIGEST"
	[ "$status" -ne 0 ]
	[ "$(jq '.manifests | length' "$STORE/index.json" 2>/dev/null || echo 0)" = 0 ]
}

@test "pull: a multi-arch index gives the host's platform by default, --platform picks another" {
	[ "$(uname -m)" = x86_64 ] || skip "the default-platform half assumes an amd64 host"
	run b pull --tls-verify=false "$REGISTRY/test/multi:1"
	[ "$status" -eq 0 ]
	[ "$(store_digest "$REGISTRY/test/multi:1")" = "$V1_DIGEST" ]
	[ -f "$STORE/blobs/sha256/${MULTI_DIGEST#sha256:}" ] # the index is kept too

	run b pull --tls-verify=false --platform linux/arm64 "$REGISTRY/test/multi:1"
	[ "$status" -eq 0 ]
	[ "$(store_digest "$REGISTRY/test/multi:1")" = "$ARM_DIGEST" ]
	run b image inspect "$REGISTRY/test/multi:1"
	[ "$(echo "$output" | jq -r '.[0].Architecture')" = arm64 ]

	# pinned to the index: the platform's manifest under name@index-digest
	run b pull --tls-verify=false --platform linux/arm64/v8 "$REGISTRY/test/multi@$MULTI_DIGEST"
	[ "$status" -eq 0 ]
	[ "$(store_digest "$REGISTRY/test/multi@$MULTI_DIGEST")" = "$ARM_DIGEST" ]
}

@test "pull: a platform the index lacks is an error that lists what it has" {
	run b pull --tls-verify=false --platform linux/s390x "$REGISTRY/test/multi:1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"linux/s390x"* ]]
	[[ "$output" == *"linux/amd64"* ]]
	[[ "$output" == *"linux/arm64"* ]]
	ingest_empty
	run b pull --tls-verify=false --platform linux "$REGISTRY/test/multi:1"
	[ "$status" -ne 0 ]
}

@test "pull: a second pull downloads no blob and rewrites none" {
	run b pull --tls-verify=false "$REGISTRY/test/big:1"
	[ "$status" -eq 0 ]
	before=$(registry_blob_gets)
	mtimes=$(stat -c '%n %Y.%y' "$STORE"/blobs/sha256/*)
	sleep 1
	run b pull --tls-verify=false "$REGISTRY/test/big:1"
	[ "$status" -eq 0 ]
	[ "$(registry_blob_gets)" = "$before" ]
	[ "$(stat -c '%n %Y.%y' "$STORE"/blobs/sha256/*)" = "$mtimes" ]
}

@test "pull: layers in parallel (--jobs), each verified" {
	run --separate-stderr b pull --tls-verify=false --jobs 4 "$REGISTRY/test/big:1"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	m=$(store_digest "$REGISTRY/test/big:1")
	for d in $(jq -r '.layers[].digest' "$STORE/blobs/sha256/${m#sha256:}"); do
		[ "$(sha256sum "$STORE/blobs/sha256/${d#sha256:}" | cut -d' ' -f1)" = "${d#sha256:}" ]
	done
	[ "$(jq '.layers | length' "$STORE/blobs/sha256/${m#sha256:}")" = 5 ]
	ingest_empty
}

@test "pull: an unsupported layer media type is refused" {
	local m
	m=$(jq -c '.layers[0].mediaType = "application/vnd.oci.image.layer.v1.tar+bzip2"' \
		"$OCI/blobs/sha256/${V1_DIGEST#sha256:}")
	curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "$m" \
		"http://$REGISTRY/v2/test/busybox/manifests/bzip2"
	run b pull --tls-verify=false "$REGISTRY/test/busybox:bzip2"
	[ "$status" -ne 0 ]
	[[ "$output" == *"unsupported media type"*"bzip2"* ]]
	ingest_empty
}

# The registry's file of blob DIGEST.
registry_blob_file() {
	local hex=${1#sha256:}
	echo "$REGISTRY_DIR/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}

@test "pull: a corrupted layer fails its digest check; a short one is retried, then fails" {
	local oci="$BATS_TEST_TMPDIR/oci" m layer
	"$MAKE_OCI" "$oci" --tag bad --layers 1 --layer-mb 1 >/dev/null
	skocopy "oci:$oci:bad" "docker://$REGISTRY/test/corrupt:1"
	m=$(jq -r '.manifests[0].digest' "$oci/index.json")
	layer=$(jq -r '.layers[1].digest' "$oci/blobs/sha256/${m#sha256:}")
	# same size, other bytes: the registry serves it; berth refuses it
	printf 'XXXXXXXX' | dd of="$(registry_blob_file "$layer")" bs=1 seek=100 conv=notrunc status=none
	run b pull --tls-verify=false "$REGISTRY/test/corrupt:1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$layer"* ]]
	[[ "$output" == *"digest"* ]]
	[ ! -e "$STORE/blobs/sha256/${layer#sha256:}" ]
	[ -z "$(store_digest "$REGISTRY/test/corrupt:1")" ]
	[ -z "$(named_snapshots_with layer1.bin)" ]
	[ -z "$(find "$STORE/snapshots" -maxdepth 1 -name '.tmp-*')" ]
	ingest_empty

	# cut short: every attempt gets too few bytes; four GETs, then the error
	"$MAKE_OCI" "$oci" --tag short --layers 1 --layer-mb 1 >/dev/null
	skocopy "oci:$oci:short" "docker://$REGISTRY/test/short:1"
	m=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "short") | .digest' "$oci/index.json")
	layer=$(jq -r '.layers[1].digest' "$oci/blobs/sha256/${m#sha256:}")
	truncate -s 1000 "$(registry_blob_file "$layer")"
	run b pull --tls-verify=false "$REGISTRY/test/short:1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$layer"* ]]
	[ "$(grep -c "\"GET /v2/test/short/blobs/$layer " "$REGISTRY_DIR/log")" -eq 4 ]
	[ ! -e "$STORE/blobs/sha256/${layer#sha256:}" ]
	# each attempt's partial unpack went with it
	[ -z "$(find "$STORE/snapshots" -maxdepth 1 -name '.tmp-*')" ]
	ingest_empty
}

# The manifest digest of TAG in the OCI layout DIR.
layout_digest() {
	jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$1/index.json"
}

# Snapshots with a file data/NAME (the random-data layers of make-oci-image.sh),
# under their chain id (no .tmp-*) or being unpacked (.tmp-* only).
named_snapshots_with() {
	find "$STORE/snapshots" -mindepth 3 -maxdepth 3 -path "*/data/$1" -not -path '*/.tmp-*'
}
temp_snapshots_with() {
	find "$STORE/snapshots" -mindepth 3 -maxdepth 3 -path "*/.tmp-*/data/$1"
}

@test "pull: a layer unpacks while it downloads; nothing of it is visible before its digest is verified" {
	local oci="$BATS_TEST_TMPDIR/oci" m layer i ref
	"$MAKE_OCI" "$oci" --tag stream --layers 1 --layer-mb 8 >/dev/null
	skocopy "oci:$oci:stream" "docker://$REGISTRY/test/stream:1"
	m=$(layout_digest "$oci" stream)
	layer=$(jq -r '.layers[1].digest' "$oci/blobs/sha256/${m#sha256:}")
	# the registry sends 3 of the layer's ~8 MiB, then holds the rest back
	registry_gate_start "$layer" $((3 << 20))
	ref=$GATE/test/stream:1
	b pull --tls-verify=false -q "$ref" >"$BATS_TEST_TMPDIR/pull.out" 2>&1 &
	PULL_PID=$!
	for i in $(seq 300); do
		[ -e "$GATE_DIR/paused" ] && [ -n "$(temp_snapshots_with layer1.bin)" ] && break
		sleep 0.1
	done
	# mid-download: the layer's file is being written in a temp snapshot ...
	[ -n "$(temp_snapshots_with layer1.bin)" ]
	[ "$(stat -c %s "$(temp_snapshots_with layer1.bin)")" -gt $((1 << 20)) ]
	# ... but neither the blob nor a snapshot under a chain id exists, no name
	[ ! -e "$STORE/blobs/sha256/${layer#sha256:}" ]
	[ -z "$(named_snapshots_with layer1.bin)" ]
	[ -z "$(store_digest "$ref")" ]
	registry_gate_open
	wait "$PULL_PID" || { cat "$BATS_TEST_TMPDIR/pull.out" >&2; false; }
	PULL_PID=""
	registry_gate_stop
	[ "$(stat -c %s "$(named_snapshots_with layer1.bin)")" -eq $((8 << 20)) ]
	[ -z "$(temp_snapshots_with layer1.bin)" ]
	[ -z "$(find "$STORE/snapshots" -maxdepth 1 -name '.tmp-*')" ]
	[ "$(sha256sum "$STORE/blobs/sha256/${layer#sha256:}" | cut -d' ' -f1)" = "${layer#sha256:}" ]
	[ "$(store_digest "$ref")" = "$m" ]
	ingest_empty
}

@test "pull: a layer that unpacks whole but fails its digest check leaves no snapshot, no blob, no name" {
	local oci="$BATS_TEST_TMPDIR/oci" m layer file
	"$MAKE_OCI" "$oci" --tag mtime --layers 1 --layer-mb 1 >/dev/null
	skocopy "oci:$oci:mtime" "docker://$REGISTRY/test/mtime:1"
	m=$(layout_digest "$oci" mtime)
	layer=$(jq -r '.layers[1].digest' "$oci/blobs/sha256/${m#sha256:}")
	file=$(registry_blob_file "$layer")
	# another gzip mtime: the same tar, a valid gzip stream, the same size, another digest
	printf '\001' | dd of="$file" bs=1 seek=4 conv=notrunc status=none
	gzip -t "$file"
	[ "$(sha256sum "$file" | cut -d' ' -f1)" != "${layer#sha256:}" ]
	run b pull --tls-verify=false "$REGISTRY/test/mtime:1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"blob $layer: content does not match its digest"* ]]
	[ "${#lines[@]}" -eq 1 ]
	[ ! -e "$STORE/blobs/sha256/${layer#sha256:}" ]
	[ -z "$(named_snapshots_with layer1.bin)" ]
	[ -z "$(find "$STORE/snapshots" -maxdepth 1 -name '.tmp-*')" ]
	[ -z "$(store_digest "$REGISTRY/test/mtime:1")" ]
	ingest_empty
}

# ---- push ----

@test "push: skopeo inspect shows the digest berth printed, the manifest bytes are kept" {
	run b pull --tls-verify=false "$REGISTRY/test/busybox:v1"
	[ "$status" -eq 0 ]
	run --separate-stderr b push --tls-verify=false "$REGISTRY/test/busybox:v1" "$REGISTRY/pushed/busybox:v2"
	[ "$status" -eq 0 ]
	[ "$output" = "$V1_DIGEST" ]
	run skopeo inspect --tls-verify=false "docker://$REGISTRY/pushed/busybox:v2"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .Digest)" = "$V1_DIGEST" ]
	# and it pulls back into a fresh store
	rm -rf "$STORE"
	run b pull --tls-verify=false "$REGISTRY/pushed/busybox:v2"
	[ "$status" -eq 0 ]
	[ "$output" = "${V1_ID#sha256:}" ]
}

@test "push: berth image push of an imported image, to its own name" {
	local dir="$BATS_TEST_TMPDIR/rootfs"
	mkdir -p "$dir/bin"
	cp /bin/busybox "$dir/bin/busybox"
	ln -s busybox "$dir/bin/sh"
	echo "$BATS_TEST_NAME $$" >"$dir/marker"
	tar -C "$dir" -cf "$BATS_TEST_TMPDIR/rootfs.tar" .
	run b import "$BATS_TEST_TMPDIR/rootfs.tar" "$REGISTRY/imported/app:1"
	[ "$status" -eq 0 ]
	run --separate-stderr b image push --tls-verify=false --digestfile "$BATS_TEST_TMPDIR/digest" "$REGISTRY/imported/app:1"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
	[ "$(cat "$BATS_TEST_TMPDIR/digest")" = "$output" ]
	[ "$(skopeo inspect --tls-verify=false "docker://$REGISTRY/imported/app:1" | jq -r .Digest)" = "$output" ]
}

@test "push: blobs the repository has are skipped, blobs of another repository are mounted" {
	run b pull --tls-verify=false "$REGISTRY/test/big:1"
	[ "$status" -eq 0 ]
	puts=$(grep -c '"PUT /v2/[^"]*/blobs/uploads/' "$REGISTRY_DIR/log" || true)
	run b push --tls-verify=false "$REGISTRY/test/big:1" "$REGISTRY/mounted/big:1"
	[ "$status" -eq 0 ]
	# every blob came from test/big by a mount, none was uploaded
	grep -q '"POST /v2/mounted/big/blobs/uploads/?mount=sha256%3A[0-9a-f]*&from=test%2Fbig HTTP/1.1" 201\|"POST /v2/mounted/big/blobs/uploads/?mount=sha256%3A[0-9a-f]*&from=test/big HTTP/1.1" 201' "$REGISTRY_DIR/log"
	[ "$(grep -c '"PUT /v2/[^"]*/blobs/uploads/' "$REGISTRY_DIR/log" || true)" = "$puts" ]
	# pushing again: every blob is there already (HEAD), nothing is posted
	posts=$(grep -c '"POST /v2/mounted/big/blobs/uploads/' "$REGISTRY_DIR/log" || true)
	run b push --tls-verify=false "$REGISTRY/test/big:1" "$REGISTRY/mounted/big:1"
	[ "$status" -eq 0 ]
	[ "$(grep -c '"POST /v2/mounted/big/blobs/uploads/' "$REGISTRY_DIR/log" || true)" = "$posts" ]
}

@test "push: an unknown local image and a bad destination fail clearly" {
	run b push --tls-verify=false "$REGISTRY/nothing/here:1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"nothing/here"* ]]
	run b pull --tls-verify=false "$REGISTRY/test/busybox:v1"
	run b push --tls-verify=false "$REGISTRY/test/busybox:v1" "$REGISTRY/Bad Name:1"
	[ "$status" -ne 0 ]
}

# ---- auth ----

@test "auth: pull without credentials fails, login then pull works, logout then it fails again" {
	run b pull --tls-verify=false "$AUTH_REGISTRY/private/busybox:v1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"authentication required: run berth login $AUTH_REGISTRY"* ]]
	ingest_empty

	run b login --tls-verify=false -u alice -p s3cret "$AUTH_REGISTRY"
	[ "$status" -eq 0 ]
	[ "$output" = "Login Succeeded!" ]
	[ "$(stat -c %a "$REGISTRY_AUTH_FILE")" = 600 ]
	[ "$(jq -r --arg h "$AUTH_REGISTRY" '.auths[$h].auth' "$REGISTRY_AUTH_FILE" | base64 -d)" = "alice:s3cret" ]

	run b pull --tls-verify=false "$AUTH_REGISTRY/private/busybox:v1"
	[ "$status" -eq 0 ]
	[ "$output" = "${V1_ID#sha256:}" ]

	run b logout "$AUTH_REGISTRY"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Removed login credentials for $AUTH_REGISTRY"* ]]
	[ "$(jq -r --arg h "$AUTH_REGISTRY" '.auths[$h] // "gone"' "$REGISTRY_AUTH_FILE")" = gone ]
	rm -rf "$STORE"
	run b pull --tls-verify=false "$AUTH_REGISTRY/private/busybox:v1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"authentication required"* ]]
	run b logout "$AUTH_REGISTRY"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not logged in to $AUTH_REGISTRY"* ]]
}

@test "auth: a wrong password is refused at login and stores nothing" {
	run b login --tls-verify=false -u alice -p wrong "$AUTH_REGISTRY"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$AUTH_REGISTRY"* ]]
	[[ "$output" == *"alice"* ]]
	[ ! -e "$REGISTRY_AUTH_FILE" ]
	# a stored wrong password: the pull names it
	printf '{"auths":{"%s":{"auth":"%s"}}}' "$AUTH_REGISTRY" "$(printf alice:wrong | base64)" >"$REGISTRY_AUTH_FILE"
	run b pull --tls-verify=false "$AUTH_REGISTRY/private/busybox:v1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"authentication failed"*"berth login $AUTH_REGISTRY"* ]]
}

@test "auth: --password-stdin, --authfile, logout --all, and other keys of the file are kept" {
	local file="$BATS_TEST_TMPDIR/other/auth.json"
	mkdir -p "$(dirname "$file")"
	echo '{"auths":{"reg.example":{"auth":"eDp5"}},"credHelpers":{"x.example":"secretservice"}}' >"$file"
	run b login --tls-verify=false --authfile "$file" -u alice --password-stdin "$AUTH_REGISTRY" <<<"s3cret"
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$file")" = 600 ]
	[ "$(jq -r '.credHelpers["x.example"]' "$file")" = secretservice ]
	[ "$(jq -r '.auths | keys | length' "$file")" = 2 ]
	[ ! -e "$REGISTRY_AUTH_FILE" ]
	run b pull --tls-verify=false --authfile "$file" "$AUTH_REGISTRY/private/busybox:v1"
	[ "$status" -eq 0 ]
	run b logout --authfile "$file" --all
	[ "$status" -eq 0 ]
	[ "$(jq -r '.auths | length' "$file")" = 0 ]
	[ "$(jq -r '.credHelpers["x.example"]' "$file")" = secretservice ]
}

@test "auth: --creds for pull and push without a login" {
	run b pull --tls-verify=false --creds alice:s3cret "$AUTH_REGISTRY/private/busybox:v1"
	[ "$status" -eq 0 ]
	run --separate-stderr b push --tls-verify=false --creds alice:s3cret "$AUTH_REGISTRY/private/busybox:v1" \
		"$AUTH_REGISTRY/private/copy:1"
	[ "$status" -eq 0 ]
	[ "$output" = "$V1_DIGEST" ]
	[ "$(skopeo inspect --tls-verify=false --creds alice:s3cret "docker://$AUTH_REGISTRY/private/copy:1" | jq -r .Digest)" = "$V1_DIGEST" ]
	run b push --tls-verify=false "$AUTH_REGISTRY/private/busybox:v1" "$AUTH_REGISTRY/private/copy:2"
	[ "$status" -ne 0 ]
	[[ "$output" == *"authentication required"* ]]
	run b pull --tls-verify=false --creds alice "$AUTH_REGISTRY/private/busybox:v1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"--creds"* ]]
}

@test "auth: bearer tokens from the realm, with the scope of each repository" {
	run b pull --tls-verify=false "$TOKEN_REGISTRY/team/busybox:v1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"authentication required: run berth login $TOKEN_REGISTRY"* ]]
	run b login --tls-verify=false -u bob -p wrong "$TOKEN_REGISTRY"
	[ "$status" -ne 0 ]
	[ ! -e "$REGISTRY_AUTH_FILE" ]
	run b login --tls-verify=false -u bob -p t0ken "$TOKEN_REGISTRY"
	[ "$status" -eq 0 ]
	: >"$TOKEN_REGISTRY_DIR/token-requests"
	run b pull --tls-verify=false "$TOKEN_REGISTRY/team/busybox:v1"
	[ "$status" -eq 0 ]
	[ "$output" = "${V1_ID#sha256:}" ]
	grep -q 'scope=repository%3Ateam%2Fbusybox%3Apull' "$TOKEN_REGISTRY_DIR/token-requests"
	grep -q 'service=berth-test-registry' "$TOKEN_REGISTRY_DIR/token-requests"
	# a push to another repository mounts from team/busybox: the registry asks
	# for both scopes, and the token is fetched again with them
	run --separate-stderr b push --tls-verify=false "$TOKEN_REGISTRY/team/busybox:v1" "$TOKEN_REGISTRY/other/busybox:v2"
	[ "$status" -eq 0 ]
	[ "$output" = "$V1_DIGEST" ]
	cat "$TOKEN_REGISTRY_DIR/token-requests" # shown when the test fails
	grep -q 'scope=repository%3Aother%2Fbusybox%3Apull%2Cpush' "$TOKEN_REGISTRY_DIR/token-requests"
	grep -qx 'service=berth-test-registry&scope=repository%3Aother%2Fbusybox%3Apull%2Cpush&scope=repository%3Ateam%2Fbusybox%3Apull' \
		"$TOKEN_REGISTRY_DIR/token-requests"
	grep -q '"POST /v2/other/busybox/blobs/uploads/?mount=[^"]*&from=team/busybox HTTP/1.1" 201' "$TOKEN_REGISTRY_DIR/log"
}

# ---- TLS ----

@test "tls: plain http needs --tls-verify=false" {
	run b pull "$REGISTRY/test/busybox:v1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"TLS"*"--tls-verify=false"* ]]
	ingest_empty
}

@test "tls: a self-signed registry works with --cert-dir or --tls-verify=false, not without" {
	run b pull "$TLS_REGISTRY/tls/busybox:v1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"TLS"* ]]
	run b pull --cert-dir "$TLS_CERT_DIR" "$TLS_REGISTRY/tls/busybox:v1"
	[ "$status" -eq 0 ]
	[ "$output" = "${V1_ID#sha256:}" ]
	rm -rf "$STORE"
	run b pull --tls-verify=false "$TLS_REGISTRY/tls/busybox:v1"
	[ "$status" -eq 0 ]
	run b push --cert-dir "$TLS_CERT_DIR" "$TLS_REGISTRY/tls/busybox:v1" "$TLS_REGISTRY/tls/copy:1"
	[ "$status" -eq 0 ]
	[ "$output" = "$V1_DIGEST" ]
}

# ---- bad input ----

@test "errors: unknown tag, unknown repository" {
	run b pull --tls-verify=false "$REGISTRY/test/busybox:nope"
	[ "$status" -ne 0 ]
	[[ "$output" == *"manifest unknown: $REGISTRY/test/busybox:nope"* ]]
	ingest_empty
	run b pull --tls-verify=false "$REGISTRY/no/such:1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$REGISTRY/no/such"* ]]
	ingest_empty
}

@test "errors: connection refused, unknown host" {
	port=$(registry_free_port)
	run b pull --tls-verify=false "127.0.0.1:$port/test/busybox:v1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"127.0.0.1:$port"*"refused"* ]]
	ingest_empty
	run b pull --tls-verify=false "no-such-host.invalid/test/busybox:v1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"no-such-host.invalid"*"unknown host"* ]]
}

@test "errors: bad references and flags" {
	run b pull "UPPER/Case:x"
	[ "$status" -ne 0 ]
	[[ "$output" == *"UPPER/Case:x"* ]]
	run b pull "$REGISTRY/test/busybox@sha256:1234"
	[ "$status" -ne 0 ]
	run b pull --tls-verify=false --platform linux/arm64/v8/x "$REGISTRY/test/multi:1"
	[ "$status" -ne 0 ]
	run b pull --jobs 0 "$REGISTRY/test/busybox:v1"
	[ "$status" -ne 0 ]
	run b pull
	[ "$status" -ne 0 ]
	run b login --tls-verify=false "$AUTH_REGISTRY" </dev/null
	[ "$status" -ne 0 ]
	[[ "$output" == *"-u"* ]]
	[ ! -e "$STORE/ingest" ] || ingest_empty
}

@test "rootless: an unprivileged user pulls into \$XDG_DATA_HOME/berth; the files are the user's" {
	local home
	# bats' own temp dirs are 0700: the user needs one it can reach
	home=$(mktemp -d /tmp/berth-rootless-pull.XXXXXX)
	chmod 755 "$home"
	mkdir -m 700 "$home/run"
	chown berthtest "$home" "$home/run"
	# berth joins (and so starts) the user's pause process (src/engine/userns.c)
	ROOTLESS_PAUSE_FILE="$home/run/berth/pause.pid" ROOTLESS_HOME=$home
	run su berthtest -s /bin/sh -c "cd '$home' && HOME='$home' XDG_DATA_HOME='$home/data' XDG_RUNTIME_DIR='$home/run' REGISTRY_AUTH_FILE='$home/auth.json' '$BERTH' pull --tls-verify=false -q '$REGISTRY/test/busybox:v1'"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "${lines[-1]}" = "${V1_ID#sha256:}" ]
	run su berthtest -s /bin/sh -c "HOME='$home' XDG_DATA_HOME='$home/data' XDG_RUNTIME_DIR='$home/run' '$BERTH' images -q"
	[ "$output" = "${V1_ID:7:12}" ]
	snap=$(ls -d "$home"/data/berth/snapshots/[0-9a-f]* | head -1)
	[ -x "$snap/bin/busybox" ]
	[ "$(stat -c %U "$snap/bin/busybox")" = berthtest ]
	# the store's own files are not root's
	[ -z "$(find "$home/data/berth" ! -user berthtest | head -1)" ]
}
