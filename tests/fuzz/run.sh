#!/bin/sh
# Builds the config.json parser fuzzer with clang (libFuzzer + ASan +
# UBSan) straight from the sources it needs, and runs it for a bounded
# time on a copy of the seed corpus. CI calls this script.
#
#   tests/fuzz/run.sh [SECONDS]        (default: $FUZZ_TIME or 60)
#
# Needs clang with libFuzzer (Debian: apt-get install -y clang
# libfuzzer-14-dev) and the -dev packages of jansson, libseccomp, libcap
# and OpenSSL. A crash leaves its input in $FUZZ_OUT (default: a temporary
# directory, printed) and makes the script fail.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
seconds=${1:-${FUZZ_TIME:-60}}
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/berth-fuzz.XXXXXX")}
cc=${CLANG:-clang}

command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (apt-get install -y clang libfuzzer-14-dev)" >&2; exit 1; }
mkdir -p "$out/corpus" "$out/artifacts"
cp "$here"/corpus/spec/* "$out/corpus/"

# shellcheck disable=SC2046
"$cc" -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$repo/src" -o "$out/fuzz_spec" "$here/fuzz_spec.c" "$repo"/src/spec/*.c "$repo"/src/util/*.c \
	$(pkg-config --cflags --libs jansson libseccomp libcap libmd)

echo "fuzz: running $out/fuzz_spec for ${seconds}s (corpus and crashes under $out)"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
	"$out/fuzz_spec" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-dict="$here/json.dict" -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$out/corpus"
# A clean run keeps nothing (a crash fails above, under set -e, and leaves
# its input); a FUZZ_OUT given by the caller is theirs to keep.
if [ -z "${FUZZ_OUT:-}" ]; then
	rm -rf "$out"
	echo "fuzz: no crash; removed $out"
fi
