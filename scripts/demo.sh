#!/bin/bash
# One command from a fresh Debian 12 machine to a running container from a
# registry: installs the dependencies, builds berth and berth-runtime, makes a
# busybox image locally, serves it from a local registry (Debian's
# docker-registry on 127.0.0.1), pulls it with berth, mounts it as an OCI
# bundle and runs it with berth-runtime. Cleans up everything it made.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
scripts/install-deps.sh
scripts/build.sh

BERTH=$repo/build/src/cmd/berth/berth
RUNTIME=$repo/build/src/cmd/runtime/berth-runtime
tmp=$(mktemp -d /tmp/berth-demo.XXXXXX)
registry_pid=""
cleanup() {
	"$BERTH" --root "$tmp/store" bundle --remove "$tmp/bundle" >/dev/null 2>&1 || true
	if [ -n "$registry_pid" ]; then
		kill "$registry_pid" 2>/dev/null || true
		wait "$registry_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# a registry of our own on a free port of 127.0.0.1
port=$((20000 + RANDOM % 40000))
while [ -n "$(ss -Htln "sport = :$port")" ]; do port=$((20000 + RANDOM % 40000)); done
cat >"$tmp/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: "$tmp/registry"
http:
  addr: 127.0.0.1:$port
YML
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
	curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
	sleep 0.1
done

echo "==> an image made locally, pushed to 127.0.0.1:$port with skopeo"
scripts/make-oci-image.sh "$tmp/oci" --tag 1 >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$tmp/oci:1" "docker://127.0.0.1:$port/demo/busybox:1"

echo "==> berth pull"
"$BERTH" --root "$tmp/store" pull --tls-verify=false "127.0.0.1:$port/demo/busybox:1"
"$BERTH" --root "$tmp/store" images

echo "==> berth bundle + berth-runtime run"
"$BERTH" --root "$tmp/store" bundle "127.0.0.1:$port/demo/busybox:1" "$tmp/bundle" -- \
	sh -c 'echo "hello from a berth container: $(hostname), pid $$, $(id)"; ls /'
# one cgroup level, removed with the container
jq '.linux.cgroupsPath = "berth-demo"' "$tmp/bundle/config.json" >"$tmp/config.json"
mv "$tmp/config.json" "$tmp/bundle/config.json"
"$RUNTIME" --root "$tmp/state" run --bundle "$tmp/bundle" demo
