#!/usr/bin/env bats
# Image trust against skopeo, both ways: containers-policy.json with signedBy
# (GPG "simple signing"), reject and insecureAcceptAnything, signatures in a
# lookaside directory named by a registries.d file, the local docker-registry.
# The GPG keys are throwaway ones in this file's temp dir (its own GNUPGHOME,
# whose agent teardown_file stops).

bats_require_minimum_version 1.5.0

REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
BERTH="${BERTH:-$REPO/build/src/cmd/berth/berth}"
MAKE_OCI="$REPO/scripts/make-oci-image.sh"

load registry

# A key without a passphrase in GNUPGHOME: prints its fingerprint.
make_key() {
	gpg --batch --passphrase '' --quick-gen-key "$1 <$1@berth.invalid>" ed25519 sign never 2>/dev/null
	gpg --list-keys --with-colons "$1@berth.invalid" | awk -F: '/^fpr/ { print $10; exit }'
}

setup_file() {
	[ -x "$BERTH" ] || { echo "berth not built at $BERTH" >&2; return 1; }
	T=$BATS_FILE_TMPDIR
	export GNUPGHOME="$T/gnupg"
	mkdir -m 700 "$GNUPGHOME"
	KEY=$(make_key trusted)
	OTHER_KEY=$(make_key other)
	gpg --export "$KEY" >"$T/trusted.gpg"
	export KEY OTHER_KEY

	OCI="$T/oci"
	V1_DIGEST=$("$MAKE_OCI" "$OCI" --tag v1)
	V2_DIGEST=$("$MAKE_OCI" "$OCI" --tag v2 --layers 1 --layer-mb 1)
	registry_start
	mkdir "$T/registries.d"
	cat >"$T/registries.d/test.yaml" <<-EOF
		docker:
		  $REGISTRY:
		    lookaside: file://$T/lookaside
	EOF
	sko() { skopeo copy -q --dest-tls-verify=false --registries.d "$T/registries.d" "$@" >/dev/null; }
	sko --sign-by "$KEY" "oci:$OCI:v1" "docker://$REGISTRY/team/signed:v1"
	sko --sign-by "$OTHER_KEY" "oci:$OCI:v1" "docker://$REGISTRY/team/other-key:v1"
	sko "oci:$OCI:v1" "docker://$REGISTRY/team/unsigned:v1"
	sko "oci:$OCI:v2" "docker://$REGISTRY/team/swapped:v1"
	sko "oci:$OCI:v1" "docker://$REGISTRY/open/app:v1"
	# a valid signature of v1 put where v2's would be
	mkdir -p "$T/lookaside/team/swapped@sha256=${V2_DIGEST#sha256:}"
	cp "$T/lookaside/team/signed@sha256=${V1_DIGEST#sha256:}/signature-1" \
		"$T/lookaside/team/swapped@sha256=${V2_DIGEST#sha256:}/signature-1"

	cat >"$T/policy.json" <<-EOF
		{"default": [{"type": "reject"}],
		 "transports": {"docker": {
		   "$REGISTRY/team": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "$T/trusted.gpg",
		                       "signedIdentity": {"type": "matchRepository"}}],
		   "$REGISTRY/open": [{"type": "insecureAcceptAnything"}]}}}
	EOF
	echo '{"default": [{"type": "reject"}]}' >"$T/reject.json"
	export T OCI V1_DIGEST V2_DIGEST
}

teardown_file() {
	registry_stop
	gpgconf --kill gpg-agent 2>/dev/null || true
}

setup() {
	STORE="$BATS_TEST_TMPDIR/store"
	RUNROOT="$BATS_TEST_TMPDIR/run"
}

teardown() {
	if [ -n "${HTTPD_PID:-}" ]; then
		kill "$HTTPD_PID" 2>/dev/null || true
		wait "$HTTPD_PID" 2>/dev/null || true
	fi
	rm -rf "$STORE" "$RUNROOT"
}

b() {
	"$BERTH" --root "$STORE" --runroot "$RUNROOT" "$@"
}

bpull() {
	b pull -q --tls-verify=false --registries.d "$T/registries.d" --signature-policy "$T/policy.json" "$@"
}

@test "trust: an image signed by skopeo passes berth's signedBy policy, and run/create check it again" {
	run -0 bpull "$REGISTRY/team/signed:v1"
	[ -f "$STORE/signatures/sha256-${V1_DIGEST#sha256:}/signature-1" ]
	[ "$(b image inspect "$REGISTRY/team/signed:v1" | jq -c '.[0].Signatures')" = \
		"{\"SignedDigest\":\"$V1_DIGEST\",\"SimpleSigning\":1,\"Sigstore\":0}" ]
	# the policy of today decides: rejected now, accepted with the key
	run -125 b create --network none --signature-policy "$T/reject.json" "$REGISTRY/team/signed:v1" true
	[[ "$output" == *"rejected by the signature policy \"$T/reject.json\": default requirement 0 (reject)"* ]]
	run -0 b create --network none --signature-policy "$T/policy.json" "$REGISTRY/team/signed:v1" true
	b rm "${lines[-1]}"
	# the signatures go with the image
	b rmi "$REGISTRY/team/signed:v1"
	[ ! -e "$STORE/signatures/sha256-${V1_DIGEST#sha256:}" ]
}

@test "trust: unsigned, other-key and another digest's signature are refused and leave nothing in the store" {
	run -125 bpull "$REGISTRY/team/unsigned:v1"
	[[ "$output" == *"scope \"$REGISTRY/team\" requirement 0 (signedBy): the image has no signature"* ]]
	run -125 bpull "$REGISTRY/team/other-key:v1"
	[[ "$output" == *"no signature accepted: signature 1: signed by $OTHER_KEY, not by a key of the requirement"* ]]
	run -125 bpull "$REGISTRY/team/swapped:v1"
	[[ "$output" == *"signature 1: signed manifest $V1_DIGEST, not $V2_DIGEST"* ]]
	[ -z "$(ls -A "$STORE/blobs/sha256" 2>/dev/null)" ]
	[ "$(jq '.manifests | length' "$STORE/index.json" 2>/dev/null || echo 0)" = 0 ]
	# skopeo refuses the same three
	for name in unsigned other-key swapped; do
		run ! skopeo copy -q --src-tls-verify=false --policy "$T/policy.json" --registries.d "$T/registries.d" \
			"docker://$REGISTRY/team/$name:v1" "dir:$BATS_TEST_TMPDIR/$name"
	done
}

@test "trust: verification runs in process (no gpg); a kept result is not reused for another manifest or key set" {
	# a signature never verified before: librnp checks it, no gpg (none on PATH)
	run -0 env PATH=/nonexistent LD_DEBUG=files LD_DEBUG_OUTPUT="$BATS_TEST_TMPDIR/ld-pull" \
		"$BERTH" --root "$STORE" --runroot "$RUNROOT" pull -q --tls-verify=false \
		--registries.d "$T/registries.d" --signature-policy "$T/policy.json" "$REGISTRY/team/signed:v1"
	grep -q 'file=librnp.so.0' "$BATS_TEST_TMPDIR"/ld-pull.*
	[ "$(ls "$STORE/trust/verified" | wc -l)" = 1 ]
	[ ! -e "$STORE/trust/keyrings" ]
	# run/create verify again from the kept result, without loading librnp
	run -0 env PATH=/nonexistent LD_DEBUG=files LD_DEBUG_OUTPUT="$BATS_TEST_TMPDIR/ld-create" \
		"$BERTH" --root "$STORE" --runroot "$RUNROOT" create --network none \
		--signature-policy "$T/policy.json" "$REGISTRY/team/signed:v1" true
	[ "$(cat "$BATS_TEST_TMPDIR"/ld-create.* | grep -c librnp)" = 0 ]
	b rm "${lines[-1]}"
	# the same signature bytes (v1's) offered for v2: the payload is checked again
	run -125 bpull "$REGISTRY/team/swapped:v1"
	[[ "$output" == *"signature 1: signed manifest $V1_DIGEST, not $V2_DIGEST"* ]]
	# another key set: no kept result, the signature is checked against it
	gpg --export "$OTHER_KEY" >"$BATS_TEST_TMPDIR/other.gpg"
	sed "s|\"keyPath\": \"$T/trusted.gpg\"|\"keyPath\": \"$BATS_TEST_TMPDIR/other.gpg\"|" "$T/policy.json" \
		>"$BATS_TEST_TMPDIR/other.json"
	run -125 b pull -q --tls-verify=false --registries.d "$T/registries.d" \
		--signature-policy "$BATS_TEST_TMPDIR/other.json" "$REGISTRY/team/signed:v1"
	[[ "$output" == *"signature 1: signed by $KEY, not by a key of the requirement"* ]]
	run -125 b create --network none --signature-policy "$BATS_TEST_TMPDIR/other.json" "$REGISTRY/team/signed:v1" true
	[[ "$output" == *"signature 1: signed by $KEY, not by a key of the requirement"* ]]
	[ "$(ls "$STORE/trust/verified" | wc -l)" = 1 ]
	# a broken result is a miss: verified again and replaced
	for f in "$STORE"/trust/verified/*; do echo '{' >"$f"; done
	run -0 bpull "$REGISTRY/team/signed:v1"
	run -0 jq -e .payload "$STORE"/trust/verified/*
	# gc keeps results only for the signatures kept with images, and removes
	# the gpg key rings earlier versions kept
	mkdir -p "$STORE/trust/keyrings/0123/private-keys-v1.d"
	b rmi "$REGISTRY/team/signed:v1"
	[ -z "$(ls -A "$STORE/trust/verified")" ]
	[ ! -e "$STORE/trust/keyrings" ]
}

@test "trust: reject and insecureAcceptAnything scopes; a malformed policy names the JSON path" {
	skopeo copy -q --dest-tls-verify=false "oci:$OCI:v1" "docker://$REGISTRY/elsewhere/x:v1"
	run -125 bpull "$REGISTRY/elsewhere/x:v1"
	[[ "$output" == *"default requirement 0 (reject): rejected"* ]]
	run -0 bpull "$REGISTRY/open/app:v1"
	echo '{"default": [{"type": "signedBy", "keyType": "GPGKeys"}]}' >"$BATS_TEST_TMPDIR/bad.json"
	run -125 b pull -q --tls-verify=false --signature-policy "$BATS_TEST_TMPDIR/bad.json" "$REGISTRY/open/app:v1"
	[[ "$output" == *"policy \"$BATS_TEST_TMPDIR/bad.json\": default[0]: exactly one of keyPath, keyPaths, keyData"* ]]
	# load: archives carry no signatures, so signedBy or reject refuse them
	b save -o "$BATS_TEST_TMPDIR/app.tar" "$REGISTRY/open/app:v1"
	run -125 "$BERTH" --root "$BATS_TEST_TMPDIR/store2" load -q -i "$BATS_TEST_TMPDIR/app.tar" \
		--signature-policy "$T/reject.json"
	[[ "$output" == *"load: docker-archive: rejected by the signature policy"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/store2/index.json" ]
}

@test "trust: berth push --sign-by signs what skopeo and berth then verify" {
	bpull "$REGISTRY/open/app:v1"
	run -0 b push -q --tls-verify=false --registries.d "$T/registries.d" --sign-by "$KEY" \
		"$REGISTRY/open/app:v1" "$REGISTRY/team/berth-signed:v1"
	[ -f "$T/lookaside/team/berth-signed@sha256=${V1_DIGEST#sha256:}/signature-1" ]
	skopeo copy -q --remove-signatures --src-tls-verify=false --policy "$T/policy.json" \
		--registries.d "$T/registries.d" "docker://$REGISTRY/team/berth-signed:v1" "dir:$BATS_TEST_TMPDIR/out"
	rm -rf "$STORE"
	run -0 bpull "$REGISTRY/team/berth-signed:v1"
	# a key that is not in the key ring fails before anything is uploaded
	run -125 b push -q --tls-verify=false --registries.d "$T/registries.d" --sign-by 0123456789ABCDEF \
		"$REGISTRY/team/berth-signed:v1" "$REGISTRY/team/never:v1"
	[[ "$output" == *"signing key \"0123456789ABCDEF\": no such secret key"* ]]
	run ! skopeo inspect --tls-verify=false "docker://$REGISTRY/team/never:v1"
}

# Debian's skopeo 1.9 and podman 4.3 are built with sigstore disabled ("Debian-local
# change: sigstore disabled"), so berth's sigstore signatures are checked by berth.
@test "trust: berth push --sign-by-sigstore-private-key attaches a signature that sigstoreSigned accepts" {
	openssl ecparam -name prime256v1 -genkey -noout -out "$BATS_TEST_TMPDIR/ec.key" 2>/dev/null
	openssl ec -in "$BATS_TEST_TMPDIR/ec.key" -pubout -out "$BATS_TEST_TMPDIR/ec.pub" 2>/dev/null
	openssl ecparam -name prime256v1 -genkey -noout -out "$BATS_TEST_TMPDIR/other.key" 2>/dev/null
	openssl ec -in "$BATS_TEST_TMPDIR/other.key" -pubout -out "$BATS_TEST_TMPDIR/other.pub" 2>/dev/null
	mkdir "$BATS_TEST_TMPDIR/rd"
	printf 'docker:\n  %s/sig:\n    use-sigstore-attachments: true\n' "$REGISTRY" >"$BATS_TEST_TMPDIR/rd/sig.yaml"
	for k in ec other; do
		printf '{"default": [{"type": "reject"}], "transports": {"docker": {"%s/sig": [{"type": "sigstoreSigned", "keyPath": "%s"}]}}}' \
			"$REGISTRY" "$BATS_TEST_TMPDIR/$k.pub" >"$BATS_TEST_TMPDIR/$k.json"
	done
	bpull "$REGISTRY/open/app:v1"
	run -0 b push -q --tls-verify=false --registries.d "$BATS_TEST_TMPDIR/rd" \
		--sign-by-sigstore-private-key "$BATS_TEST_TMPDIR/ec.key" "$REGISTRY/open/app:v1" "$REGISTRY/sig/app:v1"
	skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/sig/app:sha256-${V1_DIGEST#sha256:}.sig" |
		jq -e '.layers[0].annotations["dev.cosignproject.cosign/signature"]'
	rm -rf "$STORE"
	run -125 b pull -q --tls-verify=false --registries.d "$BATS_TEST_TMPDIR/rd" \
		--signature-policy "$BATS_TEST_TMPDIR/other.json" "$REGISTRY/sig/app:v1"
	[[ "$output" == *"(sigstoreSigned): no signature accepted: sigstore signature 1: the signature does not verify"* ]]
	run -0 b pull -q --tls-verify=false --registries.d "$BATS_TEST_TMPDIR/rd" \
		--signature-policy "$BATS_TEST_TMPDIR/ec.json" "$REGISTRY/sig/app:v1"
	[ -f "$STORE/signatures/sha256-${V1_DIGEST#sha256:}/sigstore-1" ]
	# without use-sigstore-attachments there is nothing to verify
	run -125 b push -q --tls-verify=false --registries.d "$T/registries.d" \
		--sign-by-sigstore-private-key "$BATS_TEST_TMPDIR/ec.key" "$REGISTRY/sig/app:v1" "$REGISTRY/sig/no:v1"
	[[ "$output" == *"sigstore attachments are not enabled"* ]]
}

@test "trust: signatures from an http lookaside; a lookaside that is down refuses the pull" {
	local port
	port=$(registry_free_port)
	mkdir "$BATS_TEST_TMPDIR/rd"
	printf 'docker:\n  %s:\n    lookaside: http://127.0.0.1:%s\n' "$REGISTRY" "$port" >"$BATS_TEST_TMPDIR/rd/http.yaml"
	busybox httpd -f -p "127.0.0.1:$port" -h "$T/lookaside" &
	HTTPD_PID=$!
	for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
	run -0 b pull -q --tls-verify=false --registries.d "$BATS_TEST_TMPDIR/rd" --signature-policy "$T/policy.json" \
		"$REGISTRY/team/signed:v1"
	kill "$HTTPD_PID"
	wait "$HTTPD_PID" || true
	HTTPD_PID=
	rm -rf "$STORE"
	run -125 b pull -q --tls-verify=false --registries.d "$BATS_TEST_TMPDIR/rd" --signature-policy "$T/policy.json" \
		"$REGISTRY/team/signed:v1"
	[[ "$output" == *"signatures of $REGISTRY/team/signed:v1: signature http://127.0.0.1:$port/team/signed@sha256="*"/signature-1: Couldn't connect"* ]]
	[ -z "$(ls -A "$STORE/blobs/sha256" 2>/dev/null)" ]
}

@test "trust: berth image sign signs what is in the registry; berth and skopeo verify it" {
	skopeo copy -q --dest-tls-verify=false "oci:$OCI:v1" "docker://$REGISTRY/team/later:v1"
	run -125 bpull "$REGISTRY/team/later:v1"
	[[ "$output" == *"the image has no signature"* ]]
	# GPG, to the lookaside registries.d names (as push --sign-by)
	run -0 b image sign --tls-verify=false --registries.d "$T/registries.d" --sign-by "$KEY" \
		"docker://$REGISTRY/team/later:v1"
	[ -f "$T/lookaside/team/later@sha256=${V1_DIGEST#sha256:}/signature-1" ]
	run -0 bpull "$REGISTRY/team/later:v1"
	skopeo copy -q --src-tls-verify=false --policy "$T/policy.json" --registries.d "$T/registries.d" \
		"docker://$REGISTRY/team/later:v1" "dir:$BATS_TEST_TMPDIR/out"
	# GPG, to --directory DIR/REPO@sha256=HEX/signature-N
	run -0 b image sign --tls-verify=false --sign-by "$KEY" --directory "$BATS_TEST_TMPDIR/sigs" \
		"$REGISTRY/team/later:v1"
	[ -f "$BATS_TEST_TMPDIR/sigs/team/later@sha256=${V1_DIGEST#sha256:}/signature-1" ]
	mkdir "$BATS_TEST_TMPDIR/rd"
	printf 'docker:\n  %s:\n    lookaside: file://%s/sigs\n' "$REGISTRY" "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/rd/d.yaml"
	rm -rf "$STORE"
	run -0 b pull -q --tls-verify=false --registries.d "$BATS_TEST_TMPDIR/rd" --signature-policy "$T/policy.json" \
		"$REGISTRY/team/later:v1"
	# sigstore, attached in the registry
	openssl ecparam -name prime256v1 -genkey -noout -out "$BATS_TEST_TMPDIR/ec.key" 2>/dev/null
	openssl ec -in "$BATS_TEST_TMPDIR/ec.key" -pubout -out "$BATS_TEST_TMPDIR/ec.pub" 2>/dev/null
	printf 'docker:\n  %s/team:\n    use-sigstore-attachments: true\n' "$REGISTRY" >"$BATS_TEST_TMPDIR/rd/d.yaml"
	printf '{"default": [{"type": "reject"}], "transports": {"docker": {"%s/team": [{"type": "sigstoreSigned", "keyPath": "%s"}]}}}' \
		"$REGISTRY" "$BATS_TEST_TMPDIR/ec.pub" >"$BATS_TEST_TMPDIR/ec.json"
	run -0 b image sign --tls-verify=false --registries.d "$BATS_TEST_TMPDIR/rd" \
		--sign-by-sigstore-private-key "$BATS_TEST_TMPDIR/ec.key" "$REGISTRY/team/later:v1"
	rm -rf "$STORE"
	run -0 b pull -q --tls-verify=false --registries.d "$BATS_TEST_TMPDIR/rd" \
		--signature-policy "$BATS_TEST_TMPDIR/ec.json" "$REGISTRY/team/later:v1"
	# bad input: nothing is signed
	run -125 b image sign --sign-by "$KEY" --sign-by-sigstore-private-key "$BATS_TEST_TMPDIR/ec.key" \
		"$REGISTRY/team/later:v1"
	[[ "$output" == *"exactly one of --sign-by and --sign-by-sigstore-private-key"* ]]
	run -125 b image sign --tls-verify=false --sign-by "$KEY" --directory "$BATS_TEST_TMPDIR/none" \
		"$REGISTRY/team/nothing-here:v1"
	[[ "$output" == *"manifest unknown"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/none" ]
}

@test "trust: image trust set edits policy.json atomically, keeps what it does not know; show prints it" {
	local pol=$BATS_TEST_TMPDIR/etc/policy.json ino
	# no file yet: it starts as berth's default, accept anything
	run -0 b image trust set --policypath "$pol" --type reject default
	run -0 b image trust set --policypath "$pol" -t signedBy -f "$T/trusted.gpg" "$REGISTRY/team"
	[ "$(jq -c '.default' "$pol")" = '[{"type":"reject"}]' ]
	[ "$(jq -c --arg s "$REGISTRY/team" '.transports.docker[$s]' "$pol")" = \
		"[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"$T/trusted.gpg\"}]" ]
	run -0 b pull -q --tls-verify=false --registries.d "$T/registries.d" --signature-policy "$pol" \
		"$REGISTRY/team/signed:v1"
	run -125 b pull -q --tls-verify=false --registries.d "$T/registries.d" --signature-policy "$pol" \
		"$REGISTRY/team/unsigned:v1"
	# fields berth does not understand stay; the file is replaced, not rewritten in place
	jq '.transports.docker["x.example/y"] = [{"type": "sigstoreSigned", "keyPath": "/k.pub", "fulcio": {"caPath": "/ca"}}]
	    | .transports["atomic"] = {"": [{"type": "reject"}]} | .future = {"x": 1}' "$pol" >"$pol.new"
	mv "$pol.new" "$pol"
	ino=$(stat -c %i "$pol")
	gpg --export "$OTHER_KEY" >"$BATS_TEST_TMPDIR/other.gpg"
	# a relative key file is made absolute
	(cd "$(dirname "$T")" && b image trust set --policypath "$pol" --type signedBy \
		--pubkeysfile "$(basename "$T")/trusted.gpg" --pubkeysfile "$BATS_TEST_TMPDIR/other.gpg" "$REGISTRY/open")
	[ "$(stat -c %i "$pol")" != "$ino" ]
	[ "$(jq -c '.future' "$pol")" = '{"x":1}' ]
	[ "$(jq -c '.transports.docker["x.example/y"][0].fulcio' "$pol")" = '{"caPath":"/ca"}' ]
	[ "$(jq -c '.transports.atomic' "$pol")" = '{"":[{"type":"reject"}]}' ]
	[ "$(jq -c --arg s "$REGISTRY/open" '.transports.docker[$s][0].keyPaths' "$pol")" = \
		"[\"$T/trusted.gpg\",\"$BATS_TEST_TMPDIR/other.gpg\"]" ]
	[ "$(ls -A "$(dirname "$pol")")" = policy.json ]
	# bad input changes nothing
	cp "$pol" "$BATS_TEST_TMPDIR/before.json"
	run -125 b image trust set --policypath "$pol" --type signedBy "$REGISTRY/team"
	[[ "$output" == *"--type signedBy needs --pubkeysfile"* ]]
	run -125 b image trust set --policypath "$pol" --type signedBy -f /nonexistent.gpg "$REGISTRY/team"
	[[ "$output" == *"--pubkeysfile \"/nonexistent.gpg\": No such file or directory"* ]]
	run -125 b image trust set --policypath "$pol" --type accept busybox
	[[ "$output" == *"invalid scope"* ]]
	run -125 b image trust set --policypath "$pol" --type maybe "$REGISTRY/team"
	cmp "$pol" "$BATS_TEST_TMPDIR/before.json"
	# show: the table, --json as podman's, --raw the file itself
	run -0 b image trust show --policypath "$T/policy.json" --registries.d "$T/registries.d"
	[[ "${lines[0]}" == "TRANSPORT"*"NAME"*"TYPE"*"ID"*"STORE" ]]
	[[ "$output" == *"repository   $REGISTRY/team   signed   $T/trusted.gpg   file://$T/lookaside"* ]]
	run -0 b image trust show --json --policypath "$T/policy.json" --registries.d "$T/registries.d"
	[ "$(jq -c '.[0]' <<<"$output")" = '{"transport":"all","name":"* (default)","repo_name":"default","type":"reject"}' ]
	[ "$(jq -r --arg s "$REGISTRY/open" '.[] | select(.name == $s) | .type' <<<"$output")" = accept ]
	run -0 b image trust show --raw --policypath "$T/policy.json"
	[ "$output" = "$(cat "$T/policy.json")" ]
}

@test "trust: podman pull accepts what berth push --sign-by signed, under a policy that requires it" {
	local P=$BATS_TEST_TMPDIR/podman
	bpull "$REGISTRY/open/app:v1"
	run -0 b push -q --tls-verify=false --registries.d "$T/registries.d" --sign-by "$KEY" \
		"$REGISTRY/open/app:v1" "$REGISTRY/team/for-podman:v1"
	# podman reads registries.d from $HOME/.config/containers when it exists (root too)
	mkdir -p "$P/home/.config/containers"
	cp -r "$T/registries.d" "$P/home/.config/containers/registries.d"
	pod() {
		HOME=$P/home podman --root "$P/root" --runroot "$P/run" --tmpdir "$P/tmp" --events-backend none \
			--storage-driver vfs pull -q --tls-verify=false --signature-policy "$T/policy.json" "$@"
	}
	run -0 pod "docker://$REGISTRY/team/for-podman:v1"
	[ "$output" = "$(b image inspect "$REGISTRY/open/app:v1" | jq -r '.[0].Id | sub("^sha256:"; "")')" ]
	# the same policy makes podman refuse the unsigned and the other key's
	run -125 pod "docker://$REGISTRY/team/unsigned:v1"
	[[ "$output" == *"A signature was required, but no signature exists"* ]]
	run -125 pod "docker://$REGISTRY/team/other-key:v1"
	[[ "$output" == *"rejected"* || "$output" == *"not accepted"* || "$output" == *"Invalid GPG signature"* ]]
}

# Signs a simple-signing payload of $REGISTRY/strict/NAME:v1 (v1's manifest)
# with gpg ARGS... into the lookaside, as signature-1, and pushes v1 there.
strict_image() { # NAME GPG-ARGS...
	local name=$1 dir
	shift
	dir="$T/lookaside/strict/$name@sha256=${V1_DIGEST#sha256:}"
	mkdir -p "$dir"
	printf '{"critical":{"identity":{"docker-reference":"%s"},"image":{"docker-manifest-digest":"%s"},"type":"atomic container signature"},"optional":{}}' \
		"$REGISTRY/strict/$name:v1" "$V1_DIGEST" >"$BATS_TEST_TMPDIR/$name.payload"
	gpg --batch "$@" --sign -o "$dir/signature-1" "$BATS_TEST_TMPDIR/$name.payload" 2>/dev/null
	skopeo copy -q --dest-tls-verify=false "oci:$OCI:v1" "docker://$REGISTRY/strict/$name:v1" >/dev/null
}

@test "trust: a key expired or revoked now, a revoked or non-signing subkey and a tampered signature are refused, as by skopeo (gpg)" {
	local S=$BATS_TEST_TMPDIR fpr sub usage_sub f
	fpr_of() { gpg --list-keys --with-colons "$1" | awk -F: '/^fpr/ { print $10 }' | sed -n "${2:-1}p"; }
	# a key that expired after it signed (made and used a year ago, valid for a day)
	gpg --batch --passphrase '' --faked-system-time "$(date -d '-1 year' +%s)" \
		--quick-gen-key "expired <expired@berth.invalid>" ed25519 sign 1d 2>/dev/null
	fpr=$(fpr_of expired@berth.invalid)
	strict_image expired --faked-system-time "$(date -d '-1 year +1 hour' +%s)" -u "$fpr"
	gpg --export "$fpr" >"$S/expired.gpg"
	# a key revoked after it signed
	fpr=$(make_key revoked)
	strict_image revoked -u "$fpr"
	sed 's/^:-----BEGIN/-----BEGIN/' "$GNUPGHOME/openpgp-revocs.d/$fpr.rev" | gpg --batch --import 2>/dev/null
	gpg --export "$fpr" >"$S/revoked.gpg"
	# a certify-only primary key whose signing subkey signs; then the subkey is revoked
	gpg --batch --passphrase '' --quick-gen-key "subkey <subkey@berth.invalid>" ed25519 cert never 2>/dev/null
	fpr=$(fpr_of subkey@berth.invalid)
	gpg --batch --passphrase '' --quick-add-key "$fpr" ed25519 sign never 2>/dev/null
	sub=$(fpr_of subkey@berth.invalid 2)
	strict_image subkey -u "$sub!"
	strict_image subkey-revoked -u "$sub!"
	gpg --export "$fpr" >"$S/subkey.gpg"
	printf 'key 1\nrevkey\ny\n0\n\ny\nsave\n' | gpg --batch --command-fd 0 --edit-key "$fpr" 2>/dev/null
	gpg --export "$fpr" >"$S/subkey-revoked.gpg"
	# a signing subkey that signs, then is made authentication-only
	gpg --batch --passphrase '' --quick-gen-key "usage <usage@berth.invalid>" ed25519 cert never 2>/dev/null
	fpr=$(fpr_of usage@berth.invalid)
	gpg --batch --passphrase '' --quick-add-key "$fpr" ed25519 sign never 2>/dev/null
	usage_sub=$(fpr_of usage@berth.invalid 2)
	strict_image auth-only -u "$usage_sub!"
	printf 'key 1\nchange-usage\nS\nA\nQ\nsave\n' | gpg --expert --batch --command-fd 0 --edit-key "$fpr" 2>/dev/null
	gpg --export "$fpr" >"$S/auth-only.gpg"
	# a valid signature with one byte of its signature packet changed
	strict_image tampered -u "$KEY"
	f="$T/lookaside/strict/tampered@sha256=${V1_DIGEST#sha256:}/signature-1"
	printf '\x55' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") - 3)) conv=notrunc 2>/dev/null
	{
		printf '{"default": [{"type": "reject"}], "transports": {"docker": {'
		for name in expired revoked subkey subkey-revoked auth-only; do
			printf '"%s": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "%s"}],' \
				"$REGISTRY/strict/$name" "$S/$name.gpg"
		done
		printf '"%s": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "%s"}]}}}' \
			"$REGISTRY/strict/tampered" "$T/trusted.gpg"
	} >"$S/strict.json"
	sp() {
		b pull -q --tls-verify=false --registries.d "$T/registries.d" --signature-policy "$S/strict.json" "$@"
	}
	sk() {
		skopeo copy -q --src-tls-verify=false --policy "$S/strict.json" --registries.d "$T/registries.d" \
			"docker://$REGISTRY/strict/$1:v1" "dir:$S/out-$1"
	}
	# the subkey's signature passes while the subkey is valid
	run -0 sp "$REGISTRY/strict/subkey:v1"
	# (skopeo 1.9 refuses it: containers/image 5.23 accepts primary key fingerprints only)
	run -125 sp "$REGISTRY/strict/expired:v1"
	[[ "$output" == *"signature 1: signature by "*": the key has expired"* ]]
	run -125 sp "$REGISTRY/strict/revoked:v1"
	[[ "$output" == *"signature 1: signature by "*": the key is revoked"* ]]
	[ "${#lines[@]}" = 1 ] # nothing from librnp on stderr
	run -125 sp "$REGISTRY/strict/subkey-revoked:v1"
	[[ "$output" == *"signature 1: signature by $sub: the key is revoked"* ]]
	run -125 sp "$REGISTRY/strict/auth-only:v1"
	[[ "$output" == *"signature 1: signature by $usage_sub: the key may not sign"* ]]
	run -125 sp "$REGISTRY/strict/tampered:v1"
	[[ "$output" == *"no signature accepted: signature 1: "* ]]
	[ "$(jq '.manifests | length' "$STORE/index.json")" = 1 ]
	[ "$(ls "$STORE/trust/verified" | wc -l)" = 1 ]
	for name in expired revoked subkey-revoked auth-only tampered; do
		run ! sk "$name"
	done
}
