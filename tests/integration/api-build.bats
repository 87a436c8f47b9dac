#!/usr/bin/env bats
# POST /build (docker's classic builder) through `berth build`, driven by
# the docker CLI 20.10 with DOCKER_BUILDKIT=0 and by docker-compose 1.29.

load api

setup_file() {
	engine_make_rootfs
}

setup() {
	api_setup bapib
	CTX="$TEST_DIR/ctx"
	mkdir -p "$CTX"
	export DOCKER_BUILDKIT=0
}

teardown() {
	local failed=0 m
	api_stop
	# a build cut by the service's end leaves its overlay mounted (the next
	# build sweeps it; this store has none)
	for m in $(awk -v p="$STORE/build-tmp/" 'index($2, p) == 1 { print $2 }' /proc/mounts); do
		umount -l "$m" || true
		failed=1
	done
	api_teardown || failed=1
	if [ -n "$(ls -A "$STORE/build-tmp" 2>/dev/null)" ]; then
		echo "teardown: build temp dirs left: $(ls -A "$STORE/build-tmp")" >&2
		failed=1
	fi
	return $failed
}

# dbuild ARGS...: docker build with the test's cgroup parent.
dbuild() {
	timeout -s KILL 120 "$DOCKER_BIN" -H "unix://$API_SOCK" build --cgroup-parent "berth-test/$TAG" "$@"
}

@test "api build: docker build -t, two tags, build args, labels, target, RUN output streamed" {
	cat >"$CTX/Dockerfile" <<'EOF2'
FROM bb AS base
ARG GREETING=unset
RUN echo "run-says-$GREETING"
COPY hello.txt /hello.txt
FROM base AS final
RUN echo never-built
EOF2
	echo hello-from-context >"$CTX/hello.txt"
	run dbuild -t one:v1 -t two --build-arg GREETING=hi --label team=berth --target base "$CTX"
	assert_success
	assert_output_contains "run-says-hi"
	assert_output_contains "Successfully built"
	assert_output_contains "Successfully tagged one:v1"
	assert_output_contains "Successfully tagged two:latest"
	[[ "$output" != *never-built* ]]
	run d run --rm --network none --cgroup-parent "berth-test/$TAG" two cat /hello.txt
	assert_output hello-from-context
	run d image inspect -f '{{index .Config.Labels "team"}}' one:v1
	assert_output berth
	# -q prints only the id (from the aux message); a second build is cached
	run dbuild -q -t one:v1 --build-arg GREETING=hi --target base "$CTX"
	assert_success
	echo "$output"; [[ "$output" == sha256:* ]]
	[ "$(d image inspect -f '{{.Id}}' one:v1)" = "$output" ]
}

@test "api build: -f names a Dockerfile in the context; a failing RUN is the client's error" {
	mkdir "$CTX/sub"
	printf 'FROM bb\nRUN echo about-to-fail; exit 3\n' >"$CTX/sub/Other.df"
	run dbuild -f "$CTX/sub/Other.df" -t bad "$CTX"
	assert_failure
	assert_output_contains "about-to-fail"
	assert_output_contains "exited with code 3"
	run d image inspect bad
	assert_failure
	# a Dockerfile that is a symlink out of the context is read inside it
	ln -s /etc/shadow "$CTX/Dockerfile"
	run dbuild -t esc "$CTX"
	assert_failure
	[[ "$output" != *root:* ]]
	# a missing one, and a remote build, are clear errors
	rm "$CTX/Dockerfile"
	run dbuild -t none "$CTX"
	assert_failure
	assert_output_contains "Dockerfile"
	run api_curl "/build?remote=https://example.com/x.git" -X POST
	assert_output_contains "not supported"
}

@test "api build: RUN gets the engine's bridge (an eth0 with an address), --network none as asked" {
	cat >"$CTX/Dockerfile" <<'EOF2'
FROM bb
RUN ip -4 -o addr show > /addrs
EOF2
	run dbuild --no-cache -t netdef "$CTX"
	assert_success
	run d run --rm --network none --cgroup-parent "berth-test/$TAG" netdef cat /addrs
	assert_success
	# the bridge's address, not the service's namespace (only lo there)
	grep -q 'eth0 *inet 10\.77\.' <<<"$output" || { echo "no bridge address: $output"; false; }
	run dbuild --no-cache --network none -t netnone "$CTX"
	assert_success
	run d run --rm --network none --cgroup-parent "berth-test/$TAG" netnone cat /addrs
	[[ "$output" != *eth0* ]] || { echo "$output"; false; }
	# no veth or namespace of a RUN is left (engine_teardown checks too)
	[ -z "$(ls -A "$RUNROOT/netns" 2>/dev/null)" ]
}

@test "api build: docker system df shows the build cache; docker builder prune (dangling, --filter until, -a)" {
	printf 'FROM bb\nRUN echo one > /one\nRUN echo two > /two\n' >"$CTX/Dockerfile"
	run dbuild -t cached "$CTX"
	assert_success
	[ "$(ls "$STORE/build-cache" | wc -l)" = 2 ]
	# two entries, their layers in an image: nothing to reclaim
	run d system df --format '{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Reclaimable}}'
	assert_success
	assert_output_contains "Build Cache|2|0|0B"
	run d system df -v
	assert_success
	assert_output_contains "Build cache usage:"
	[ "$(grep -c ' regular ' <<<"$output")" = 2 ] || { echo "$output"; false; }
	# nothing is dangling yet: prune keeps both
	run d builder prune -f
	assert_success
	assert_output_contains "Total reclaimed space: 0B"
	[ "$(ls "$STORE/build-cache" | wc -l)" = 2 ]
	# the image removed, both entries are dangling: reclaimable
	d rmi cached >/dev/null
	run d system df --format '{{.Type}}|{{.TotalCount}}|{{.Reclaimable}}'
	[[ "$output" == *"Build Cache|2|"* && "$output" != *"Build Cache|2|0B"* ]] || { echo "$output"; false; }
	run d builder prune -f --filter until=24h
	assert_success
	[ "$(ls "$STORE/build-cache" | wc -l)" = 2 ]
	run d builder prune -f
	assert_success
	assert_output_contains "Deleted build cache objects:"
	[ -z "$(ls -A "$STORE/build-cache")" ]
	run d system df --format '{{.Type}}|{{.TotalCount}}'
	assert_output_contains "Build Cache|0"
	# -a takes the entries of images that exist too; bad filters are refused
	run dbuild -t cached2 "$CTX"
	assert_success
	run d builder prune -f --filter type=regular
	assert_failure
	assert_output_contains "not supported"
	run d builder prune -f -a
	assert_success
	assert_output_contains "Deleted build cache objects:"
	[ -z "$(ls -A "$STORE/build-cache")" ]
	d image inspect cached2 >/dev/null
}

@test "api build: docker-compose build: and up with the built image" {
	command -v docker-compose >/dev/null || skip "docker-compose (Debian's 1.29) not installed"
	mkdir "$TEST_DIR/proj"
	printf 'FROM bb\nRUN echo built-by-compose >/msg\nCMD ["cat", "/msg"]\n' >"$TEST_DIR/proj/Dockerfile"
	cat >"$TEST_DIR/proj/docker-compose.yml" <<YAML
version: "3"
services:
  app:
    build:
      context: .
    image: bapib_app:latest
    network_mode: none
    cgroup_parent: berth-test/$TAG
    environment: [BERTH_IT_TAG=$TAG]
YAML
	cd "$TEST_DIR/proj"
	export DOCKER_HOST="unix://$API_SOCK"
	run timeout -s KILL 120 docker-compose -p bapib build
	assert_success
	run d image inspect -f '{{.Id}}' bapib_app:latest
	assert_success
	run timeout -s KILL 120 docker-compose -p bapib up
	assert_success
	assert_output_contains built-by-compose
	run timeout -s KILL 120 docker-compose -p bapib down -t 1
	assert_success
}

@test "api build: a client that goes away stops the build before its next step" {
	printf 'FROM bb\nRUN sleep 2\nRUN sleep 30\n' >"$CTX/Dockerfile"
	tar -C "$CTX" -cf "$TEST_DIR/ctx.tar" .
	run api_curl "/build?t=gone&cgroupparent=berth-test/$TAG" -X POST -H 'Content-Type: application/x-tar' \
		--data-binary "@$TEST_DIR/ctx.tar" -m 1
	# the first RUN ends, the second does not start: the build's temp
	# dirs go long before its 30 s
	local i
	for ((i = 0; i < 100; i++)); do
		[ -z "$(ls -A "$STORE/build-tmp" 2>/dev/null)" ] && break
		sleep 0.1
	done
	[ -z "$(ls -A "$STORE/build-tmp" 2>/dev/null)" ]
	run d image inspect gone
	assert_failure
}

@test "api build: docker-py images.build and images.get/load round trip" {
	python3 -c 'import docker' 2>/dev/null || skip "python3-docker not installed"
	printf 'FROM bb\nLABEL from=py\nRUN echo py-build-ran\n' >"$CTX/Dockerfile"
	cat >"$TEST_DIR/build.py" <<PY
import docker
c = docker.DockerClient(base_url="unix://$API_SOCK")
# docker-py has no cgroup parent: RUN goes below the service's cgroup, the test's
img, logs = c.images.build(path="$CTX", tag="pyb:1")
print(img.labels["from"], "pyb:1" in img.tags)
print(any("py-build-ran" in l.get("stream", "") for l in logs))
data = b"".join(c.images.get("pyb:1").save())
c.images.remove("pyb:1")
print([t for i in c.images.load(data) for t in i.tags])
PY
	run timeout -s KILL 120 python3 "$TEST_DIR/build.py"
	assert_success
	assert_output "py True
True
['pyb:1']"
}
