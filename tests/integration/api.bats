#!/usr/bin/env bats
# berth system service (issue 17): the Docker Engine API on a socket,
# driven by the real docker CLI (Debian's docker.io, no dockerd anywhere)
# and by curl for the raw endpoints. Each test has its own store, run root
# and network namespace (engine.bash) and its own service on a socket in
# its temporary directory.

load api

setup_file() {
	engine_make_rootfs
}

setup() {
	api_setup bapi
}

teardown() {
	api_teardown
}

@test "api: _ping, version negotiation, a socket 0660 of group berth" {
	run api_curl /_ping -i
	assert_success
	assert_output_contains "Api-Version: 1.41"
	assert_output_contains "OK"
	run d version --format '{{.Server.APIVersion}} {{.Client.APIVersion}}'
	assert_success
	assert_output "1.41 1.41"
	run api_curl /v1.99/version
	assert_output_contains "client version 1.99 is too new. Maximum supported API version is 1.41"
	run api_curl /v1.41/version
	assert_output_contains '"ApiVersion":"1.41"'
	run api_curl /v1.41/nothing/here -o /dev/null -w '%{http_code}'
	assert_output 404
	run stat -c '%a %G' "$API_SOCK"
	assert_output "660 berth"
	run d info --format '{{.Images}}'
	assert_output 1
}

@test "api: docker run prints the output and returns the container's exit code; --rm removes it" {
	run drun --rm bb echo hi
	assert_success
	assert_output hi
	run drun --rm bb sh -c 'echo out; echo err >&2; exit 3'
	assert_failure 3
	assert_output_contains out
	assert_output_contains err
	run --separate-stderr drun --rm bb sh -c 'echo err >&2'
	[ -z "$output" ]
	[ "$stderr" = err ]
	run bash -c "echo from-stdin | $DOCKER_BIN -H unix://$API_SOCK run --cgroup-parent berth-test/$TAG -e BERTH_IT_TAG=$TAG --rm -i bb cat"
	assert_success
	assert_output from-stdin
	wait_removed
	run b ps -aq
	[ -z "$output" ]
}

@test "api: docker run -t gets a terminal (raw stream); a missing command is 127" {
	run timeout -s KILL 60 script -eqc "$DOCKER_BIN -H unix://$API_SOCK run --rm -t --cgroup-parent berth-test/$TAG -e BERTH_IT_TAG=$TAG bb sh -c 'tty; echo tty-ok; exit 2'" /dev/null
	assert_failure 2
	assert_output_contains /dev/pts/
	assert_output_contains tty-ok
	run -127 drun --rm bb nosuchcmd
	assert_failure 127
	assert_output_contains 'exec "nosuchcmd"'
	wait_removed
}

@test "api: run -d, ps, logs, exec, inspect, stop, rm through the docker CLI" {
	run drun -d --name web -l app=web bb sh -c 'echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'
	assert_success
	id=$output
	[ ${#id} -eq 64 ]
	run d ps --format '{{.Names}} {{.Status}}'
	assert_output_contains "web Up"
	run d ps -q --filter label=app=web --no-trunc
	assert_output "$id"
	run d ps -q --filter label=app=other
	[ -z "$output" ]
	sleep 1
	run d logs web
	assert_success
	[ "${lines[0]}" = started ]
	assert_output_contains "tick 2"
	run d logs --tail 1 -t web
	[ ${#lines[@]} -eq 1 ]
	[[ "${lines[0]}" =~ ^20[0-9-]+T[0-9:.]+Z\ tick\ [0-9]+$ ]]
	run d exec web sh -c 'echo in exec; exit 4'
	assert_failure 4
	assert_output "in exec"
	run bash -c "echo piped | $DOCKER_BIN -H unix://$API_SOCK exec -i web cat"
	assert_output piped
	run d inspect -f '{{.State.Status}} {{.Name}} {{.Config.Labels.app}}' web
	assert_output "running /web web"
	run d stop -t 1 web
	assert_success
	run d inspect -f '{{.State.Status}}' web
	assert_output exited
	run d ps -a --format '{{.Names}} {{.Status}}'
	assert_output_contains "web Exited"
	run d rm web
	assert_success
	run d ps -aq
	[ -z "$output" ]
	run d inspect web
	assert_failure
	assert_output_contains "No such"
}

@test "api: docker logs -f streams until the container exits; wait gives its code" {
	drun -d --name short bb sh -c 'for i in 1 2 3; do echo line $i; sleep 0.3; done; exit 7' >/dev/null
	run d logs -f short
	assert_success
	assert_output "line 1
line 2
line 3"
	run d wait short
	assert_output 7
	d rm short >/dev/null
}

@test "api: a field berth does not support is a 400 naming it; malformed JSON too" {
	run api_curl /v1.41/containers/create -X POST -H 'Content-Type: application/json' \
		-d '{"Image":"bb","HostConfig":{"Devices":[{"PathOnHost":"/dev/kvm"}]}}' -w ' %{http_code}'
	assert_output_contains "HostConfig.Devices is not supported by berth"
	assert_output_contains " 400"
	run api_curl /v1.41/containers/create -X POST -H 'Content-Type: application/json' -d '{"Image":' -w ' %{http_code}'
	assert_output_contains "malformed JSON"
	assert_output_contains " 400"
	run api_curl /v1.41/containers/create -X POST -H 'Content-Type: application/json' -d '{"Image":"nosuch"}' \
		-w ' %{http_code}'
	assert_output_contains "No such image: nosuch"
	assert_output_contains " 404"
	run b ps -aq
	[ -z "$output" ]
}

@test "api: volumes: create, ls, a container writes and another reads, inspect, rm" {
	run d volume create vol1
	assert_output vol1
	run d volume ls --format '{{.Driver}} {{.Name}}'
	assert_output "local vol1"
	drun --rm -v vol1:/data bb sh -c 'echo saved >/data/f'
	run drun --rm -v vol1:/data bb cat /data/f
	assert_output saved
	run d volume inspect -f '{{.Name}} {{.Driver}}' vol1
	assert_output "vol1 local"
	wait_removed
	run d volume rm vol1
	assert_success
	run d volume inspect vol1
	assert_failure
}

@test "api: docker cp into a container (PUT archive): a tree, a renamed file, over the body limit" {
	drun -d --name cpi bb sleep 60 >/dev/null
	mkdir -p "$TEST_DIR/src/dir"
	echo one >"$TEST_DIR/src/dir/a"
	head -c 6000000 /dev/urandom >"$TEST_DIR/src/big"
	run d cp "$TEST_DIR/src/dir" cpi:/tmp/
	assert_success
	run d cp "$TEST_DIR/src/dir/a" cpi:/tmp/renamed
	assert_success
	run d cp "$TEST_DIR/src/big" cpi:/data/big
	assert_success
	run d exec cpi sh -c 'cat /tmp/dir/a /tmp/renamed; wc -c </data/big'
	assert_output "one
one
6000000"
	run d cp "$TEST_DIR/src/dir" cpi:/nonexist/x
	assert_failure
	d rm -f cpi >/dev/null
}

@test "api: docker cp out of a container (GET archive), paths resolved inside it" {
	drun -d --name cpc bb sh -c 'mkdir -p /d/sub; echo content >/d/sub/f; ln -s / /d/up; sleep 60' >/dev/null
	sleep 0.5
	mkdir "$TEST_DIR/out"
	run d cp cpc:/d/sub/f "$TEST_DIR/out/f1"
	assert_success
	run cat "$TEST_DIR/out/f1"
	assert_output content
	run d cp cpc:/d "$TEST_DIR/out/"
	assert_success
	[ -f "$TEST_DIR/out/d/sub/f" ]
	# the container's symlink to / is its own root, not the host's
	run d cp cpc:/d/up/etc/passwd "$TEST_DIR/out/passwd"
	assert_success
	run cat "$TEST_DIR/out/passwd"
	assert_output "root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh"
	run d cp cpc:/nope "$TEST_DIR/out/x"
	assert_failure
	d rm -f cpc >/dev/null
}

@test "api: events stream as containers change" {
	d events --format '{{.Action}} {{.Actor.Attributes.name}}' --filter container=ev >"$TEST_DIR/events" &
	local pid=$!
	sleep 0.5
	drun --rm --name ev bb true
	wait_removed
	sleep 1
	kill "$pid"
	wait "$pid" || true
	run cat "$TEST_DIR/events"
	assert_output_contains "create ev"
	assert_output_contains "start ev"
	assert_output_contains "die ev"
}

@test "api: the service killed with SIGKILL leaves the containers running; a new one serves them" {
	drun -d --name keep bb sleep 60 >/dev/null
	kill -9 "$API_PID"
	wait "$API_PID" 2>/dev/null || true
	API_PID=
	run b inspect -f '{{.State.Status}}' keep
	assert_output running
	api_start
	run d ps --format '{{.Names}}'
	assert_output keep
	d rm -f keep >/dev/null
}

@test "api: images, pull from a local registry, tag, rmi" {
	load registry
	registry_start
	# the registry listens on the host's loopback: the service runs there,
	# its containers without a network
	api_stop
	api_start --host-netns
	"$BERTH_BIN" --root "$STORE" --runroot "$RUNROOT" push --tls-verify=false bb "$REGISTRY/test/bb:v1" >/dev/null
	run d images --format '{{.Repository}}:{{.Tag}}'
	assert_output_contains "bb:latest"
	run d pull "$REGISTRY/test/bb:v1"
	assert_success
	assert_output_contains "Downloaded newer image for $REGISTRY/test/bb:v1"
	run d image inspect -f '{{.Id}}' "$REGISTRY/test/bb:v1"
	[[ "$output" == sha256:* ]]
	run drun --rm --network none "$REGISTRY/test/bb:v1" echo pulled
	assert_output pulled
	d tag bb mine:x
	run d images --format '{{.Repository}}:{{.Tag}}'
	assert_output_contains "mine:x"
	run d rmi mine:x
	assert_success
	assert_output_contains "Untagged"
	run d pull "$REGISTRY/test/nosuch:v1"
	assert_failure
	registry_stop
	wait_removed
}

@test "api: --timeout exits when idle; TCP only on loopback with --insecure-loopback" {
	api_stop
	run timeout -s KILL 20 "$BERTH_BIN" --root "$STORE" --runroot "$RUNROOT" system service \
		--listen "unix://$TEST_DIR/t.sock" --timeout 1 3>&-
	assert_success
	[ ! -e "$TEST_DIR/t.sock" ]
	run timeout -s KILL 20 "$BERTH_BIN" --root "$STORE" system service --listen tcp://127.0.0.1:0 3>&-
	assert_failure
	assert_output_contains "--insecure-loopback"
	run timeout -s KILL 20 "$BERTH_BIN" --root "$STORE" system service --listen tcp://10.1.2.3:2375 \
		--insecure-loopback 3>&-
	assert_failure
	assert_output_contains "loopback addresses only"
	api_start
}

@test "api: docker-compose brings a two-service project with a named volume up and down" {
	command -v docker-compose >/dev/null || skip "docker-compose (Debian's 1.29) not installed"
	mkdir "$TEST_DIR/proj"
	cat >"$TEST_DIR/proj/docker-compose.yml" <<YAML
version: "3"
services:
  web:
    image: bb
    cgroup_parent: berth-test/$TAG
    environment: [BERTH_IT_TAG=$TAG]
    volumes: [www:/www]
    command: sh -c 'echo hello-from-web >/www/index.html && httpd -f -p 8080 -h /www'
  client:
    image: bb
    cgroup_parent: berth-test/$TAG
    environment: [BERTH_IT_TAG=$TAG]
    depends_on: [web]
    command: sh -c 'sleep 1; wget -qO- http://web:8080/; sleep 60'
volumes:
  www: {}
YAML
	cd "$TEST_DIR/proj"
	export DOCKER_HOST="unix://$API_SOCK"
	run timeout -s KILL 120 docker-compose -p bapi up -d
	assert_success
	run timeout -s KILL 30 docker-compose -p bapi ps
	assert_output_contains "bapi_web_1"
	assert_output_contains "bapi_client_1"
	local i
	for ((i = 0; i < 50; i++)); do
		run timeout -s KILL 30 docker-compose -p bapi logs client
		[[ "$output" == *hello-from-web* ]] && break
		sleep 0.2
	done
	assert_output_contains hello-from-web
	run b volume ls -q
	assert_output bapi_www
	run timeout -s KILL 120 docker-compose -p bapi down -t 1 -v
	assert_success
	run b volume ls -q
	[ -z "$output" ]
	run b ps -aq
	[ -z "$output" ]
	run b network ls -q
	[[ "$output" != *bapi_default* ]]
}

@test "api: docker-py (python3-docker) runs, execs, stops and lists" {
	python3 -c 'import docker' 2>/dev/null || skip "python3-docker not installed"
	cat >"$TEST_DIR/client.py" <<PY
import docker
c = docker.DockerClient(base_url="unix://$API_SOCK")
print(c.version()["ApiVersion"])
print(c.containers.run("bb", ["sh", "-c", "echo py-hello"], remove=True,
                      cgroup_parent="berth-test/$TAG", environment=["BERTH_IT_TAG=$TAG"]).decode().strip())
ct = c.containers.run("bb", ["sleep", "30"], detach=True, name="pyc",
                      cgroup_parent="berth-test/$TAG", environment=["BERTH_IT_TAG=$TAG"])
print(c.containers.get("pyc").status)
r = ct.exec_run(["sh", "-c", "echo exec-py; exit 2"])
print(r.exit_code, r.output.decode().strip())
ct.stop(timeout=1)
ct.reload()
print(ct.status, ct.wait()["StatusCode"])
ct.remove()
print([t for i in c.images.list() for t in i.tags])
PY
	run timeout -s KILL 60 python3 "$TEST_DIR/client.py"
	assert_success
	assert_output "1.41
py-hello
running
2 exec-py
exited 137
['bb:latest']"
	wait_removed
}
