#!/bin/sh
# One command from a fresh Debian 12 machine to a running container:
# installs the dependencies, builds berth-runtime, makes the busybox test
# bundle and runs a container in it.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
bundle=$(mktemp -d /tmp/berth-demo.XXXXXX)
root=$(mktemp -d /tmp/berth-demo-root.XXXXXX)
trap 'rm -rf "$bundle" "$root"' EXIT
scripts/make-test-image.sh "$bundle/demo" sh -c 'echo "hello from a berth container: $(hostname), pid $$, $(id)"; cat /proc/self/cgroup | head -3'
# one cgroup level, removed with the container (no shared parent left)
jq '.linux.cgroupsPath = "berth-demo"' "$bundle/demo/config.json" >"$bundle/demo/config.json.tmp"
mv "$bundle/demo/config.json.tmp" "$bundle/demo/config.json"
cd "$bundle/demo"
"$OLDPWD/build/src/cmd/runtime/berth-runtime" --root "$root" run demo
