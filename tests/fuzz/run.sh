#!/bin/sh
# Builds the config.json parser fuzzer, the image trust parsers' fuzzer
# (containers-policy.json, signature payloads, registries.d) and the API
# service's request fuzzer (routing, create/update bodies, X-Registry-Auth)
# with clang (libFuzzer + ASan + UBSan) straight from the sources they need,
# and runs them for a bounded time (a half, a quarter and a quarter of
# SECONDS) on copies of their seed corpora. CI calls this script.
#
#   tests/fuzz/run.sh [SECONDS]        (default: $FUZZ_TIME or 60)
#
# Needs clang with libFuzzer (Debian: apt-get install -y clang
# libfuzzer-14-dev) and the -dev packages of jansson, libseccomp, libcap
# OpenSSL and libyaml. A crash leaves its input in $FUZZ_OUT (default: a temporary
# directory, printed) and makes the script fail.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
seconds=${1:-${FUZZ_TIME:-60}}
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/berth-fuzz.XXXXXX")}
cc=${CLANG:-clang}

command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (apt-get install -y clang libfuzzer-14-dev)" >&2; exit 1; }
mkdir -p "$out/corpus" "$out/artifacts" "$out/corpus-trust" "$out/corpus-api"
cp "$here"/corpus/spec/* "$out/corpus/"
cp "$here"/corpus/trust/* "$out/corpus-trust/"
cp "$here"/corpus/api/* "$out/corpus-api/"
spec_seconds=$((seconds / 2))
trust_seconds=$((seconds / 4))
api_seconds=$((seconds - spec_seconds - trust_seconds))

# shellcheck disable=SC2046
"$cc" -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$repo/src" -o "$out/fuzz_spec" "$here/fuzz_spec.c" "$repo"/src/spec/*.c "$repo"/src/util/*.c \
	$(pkg-config --cflags --libs jansson libseccomp libcap libmd)

# shellcheck disable=SC2046
"$cc" -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$repo/src" -o "$out/fuzz_trust" "$here/fuzz_trust.c" "$repo"/src/image/trust_policy.c \
	"$repo"/src/image/trust_identity.c "$repo"/src/image/trust_payload.c "$repo"/src/image/trust_registries.c \
	"$repo"/src/image/reference.c "$repo"/src/image/digest.c "$repo"/src/util/*.c \
	$(pkg-config --cflags --libs jansson libseccomp libcap libmd nettle yaml-0.1) -lresolv

# shellcheck disable=SC2046
"$cc" -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$repo/src" -o "$out/fuzz_api" "$here/fuzz_api.c" "$repo"/src/api/route.c "$repo"/src/api/parse.c \
	"$repo"/src/api/create.c "$repo"/src/util/*.c \
	$(pkg-config --cflags --libs jansson libseccomp libcap libmd) -lresolv

echo "fuzz: running $out/fuzz_spec for ${spec_seconds}s (corpus and crashes under $out)"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
	"$out/fuzz_spec" -max_total_time="$spec_seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-dict="$here/json.dict" -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$out/corpus"
echo "fuzz: running $out/fuzz_trust for ${trust_seconds}s"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
	"$out/fuzz_trust" -max_total_time="$trust_seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-dict="$here/json.dict" -artifact_prefix="$out/artifacts/trust-" -print_final_stats=1 "$out/corpus-trust"
echo "fuzz: running $out/fuzz_api for ${api_seconds}s"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
	"$out/fuzz_api" -max_total_time="$api_seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-dict="$here/json.dict" -artifact_prefix="$out/artifacts/api-" -print_final_stats=1 "$out/corpus-api"
# A clean run keeps nothing (a crash fails above, under set -e, and leaves
# its input); a FUZZ_OUT given by the caller is theirs to keep.
if [ -z "${FUZZ_OUT:-}" ]; then
	rm -rf "$out"
	echo "fuzz: no crash; removed $out"
fi
