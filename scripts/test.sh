#!/bin/sh
# The whole test run: format check, -Werror build, unit tests (also under
# ASan+UBSan), the integration suite with real containers, the real clients
# (podman, containerd, docker), a bounded fuzz run of the config parser and
# the set-up itself in a clean debootstrap'd Debian 12 root (tests/fresh).
#   scripts/test.sh            everything
#   scripts/test.sh --quick    format, build, unit and integration tests only
set -eu
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

if [ $quick = 1 ]; then scripts/install-deps.sh; else scripts/install-deps.sh --all; fi
step() { printf '\n==== %s\n' "$*"; }

step "format check"
scripts/check-format.sh

step "build (-Wall -Wextra -Werror)"
scripts/build.sh

step "unit tests"
meson test -C build --print-errorlogs

step "unit tests under ASan+UBSan"
asan_opts="-Dstatic_runtime=false -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true"
if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan $asan_opts >/dev/null
else
	# ASan cannot link the static runtime: make sure an old dir agrees
	meson configure build-asan $asan_opts >/dev/null
fi
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C build-asan --print-errorlogs

step "integration tests (bats, real containers)"
tests/integration/run.sh

if [ $quick = 0 ]; then
	if [ -x tests/clients/run-all.sh ]; then
		step "real clients: podman, containerd, docker"
		tests/clients/run-all.sh
	fi
	if [ -x tests/fuzz/run.sh ]; then
		step "fuzzing the config.json parser (bounded)"
		tests/fuzz/run.sh 60
	fi
	step "the README's set-up in a clean Debian 12 root (debootstrap)"
	tests/fresh/run.sh
fi
step "all tests passed"
