#!/usr/bin/env bats
# The Docker API scenarios that must behave the same on berth's service and
# on a real dockerd (issue 17): each scenario runs twice in the same run,
# "berth: ..." against `berth system service`, "dockerd: ..." against a
# private dockerd (dockerd.bash, scripts/private-dockerd.sh), both driven by
# Debian's docker CLI 20.10, docker-compose 1.29 and python3-docker. What
# they assert is what dockerd does; where berth differs on purpose,
# docs/api.md says so and the scenario leaves it out.

load dockerd

setup_file() {
	target_setup_file
}

teardown_file() {
	target_teardown_file
}

setup() {
	target_setup bt
}

teardown() {
	target_teardown
}

# ---------------------------------------------------------------------------

run_scenario() {
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
	run -127 drun --rm bb nosuchcmd
	assert_failure 127
	wait_removed
	run d ps -aq
	assert_output ""
}
@test "berth: run: output, exit codes, stderr apart, stdin, --rm" { run_scenario; }
@test "dockerd: run: output, exit codes, stderr apart, stdin, --rm" { run_scenario; }

detached_scenario() {
	run drun -d --name web -l app=web -e FOO=bar bb sh -c 'echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'
	assert_success
	id=$output
	[ ${#id} -eq 64 ]
	drun -d --name other -l app=other bb sh -c 'exit 5' >/dev/null
	run d wait other
	assert_output 5
	run d ps --format '{{.Names}} {{.Status}}'
	assert_output_contains "web Up"
	refute_output_contains other
	run d ps -q --filter label=app=web --no-trunc
	assert_output "$id"
	run d ps -a --format '{{.Names}}' --filter status=exited
	assert_output other
	run d ps -a --format '{{.Names}}' --filter name=we
	assert_output web
	run d ps -a --format '{{.Names}}' --filter exited=5
	assert_output other
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
	run d exec -e X=1 -w /tmp web sh -c 'echo $X $FOO $(pwd)'
	assert_output "1 bar /tmp"
	run d inspect -f '{{.State.Status}} {{.State.Running}} {{.Name}} {{.Config.Labels.app}} {{json .Config.Cmd}} {{.Config.Image}} {{.RestartCount}}' web
	assert_output 'running true /web web ["sh","-c","echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"] bb 0'
	run d inspect -f '{{.State.Pid}} {{.NetworkSettings.IPAddress}} {{.Id}}' web
	[[ "$output" =~ ^[1-9][0-9]*\ [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\ $id$ ]]
	run d inspect -f '{{range .Config.Env}}{{println .}}{{end}}' web
	assert_output_contains FOO=bar
	run d stop -t 1 web
	assert_success
	run d inspect -f '{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Pid}}' web
	assert_output "exited false 137 0"
	run d ps -a --format '{{.Names}} {{.Status}}' --filter name=web
	[[ "$output" == "web Exited (137) "* ]]
	run d rm web other
	assert_success
	run d ps -aq
	assert_output ""
	run d inspect web
	assert_failure
	assert_output_contains "No such"
	run d rm web
	assert_failure
	assert_output_contains "No such container: web"
}
@test "berth: run -d, ps filters, logs, exec, inspect fields, stop, rm" { detached_scenario; }
@test "dockerd: run -d, ps filters, logs, exec, inspect fields, stop, rm" { detached_scenario; }

ports_scenario() {
	drun -d --name pub -p 127.0.0.1:18080:8080 bb sh -c 'mkdir /www; echo served >/www/index.html; httpd -f -p 8080 -h /www' >/dev/null
	run d port pub
	assert_output "8080/tcp -> 127.0.0.1:18080"
	run d inspect -f '{{json .HostConfig.PortBindings}}' pub
	assert_output '{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":"18080"}]}'
	local i
	for ((i = 0; i < 50; i++)); do
		run t_net wget -qO- http://127.0.0.1:18080/
		[ "$output" = served ] && break
		sleep 0.1
	done
	assert_output served
	run d ps --format '{{.Ports}}'
	assert_output "127.0.0.1:18080->8080/tcp"
	d rm -f pub >/dev/null
}
@test "berth: run -p publishes a port; port, inspect and ps show it" { ports_scenario; }
@test "dockerd: run -p publishes a port; port, inspect and ps show it" { ports_scenario; }

cp_scenario() {
	drun -d --name cpc bb sh -c 'mkdir -p /d/sub; echo content >/d/sub/f; ln -s / /d/up; sleep 60' >/dev/null
	mkdir -p "$TEST_DIR/src/dir" "$TEST_DIR/out"
	echo one >"$TEST_DIR/src/dir/a"
	run d cp "$TEST_DIR/src/dir" cpc:/tmp/
	assert_success
	run d cp "$TEST_DIR/src/dir/a" cpc:/tmp/renamed
	assert_success
	run d exec cpc sh -c 'cat /tmp/dir/a /tmp/renamed'
	assert_output "one
one"
	run d cp "$TEST_DIR/src/dir" cpc:/nonexist/x
	assert_failure
	sleep 0.3
	run d cp cpc:/d/sub/f "$TEST_DIR/out/f1"
	assert_success
	run cat "$TEST_DIR/out/f1"
	assert_output content
	run d cp cpc:/d "$TEST_DIR/out/"
	assert_success
	[ -f "$TEST_DIR/out/d/sub/f" ]
	[ -L "$TEST_DIR/out/d/up" ]
	run d cp cpc:/d/up/etc/passwd "$TEST_DIR/out/passwd"
	assert_success
	run cat "$TEST_DIR/out/passwd"
	assert_output "root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh"
	run d cp cpc:/nope "$TEST_DIR/out/x"
	assert_failure
	assert_output_contains "No such container:path: cpc:/nope"
	d rm -f cpc >/dev/null
}
@test "berth: cp both ways, a symlink to / resolved inside" { cp_scenario; }
@test "dockerd: cp both ways, a symlink to / resolved inside" { cp_scenario; }

volume_network_scenario() {
	run d volume create vol1
	assert_output vol1
	run d volume ls --format '{{.Driver}} {{.Name}}'
	assert_output "local vol1"
	drun --rm -v vol1:/data bb sh -c 'echo saved >/data/f'
	run drun --rm -v vol1:/data bb cat /data/f
	assert_output saved
	run d volume inspect -f '{{.Name}} {{.Driver}} {{.Scope}}' vol1
	assert_output "vol1 local local"
	run d network create --label k=v n1
	assert_success
	run d network inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{.Labels.k}}' n1
	assert_output "n1 bridge local v"
	run d network ls --format '{{.Name}}' --filter name=n1
	assert_output n1
	drun -d --name srv --network n1 bb sh -c 'mkdir /www; echo by-name >/www/index.html; httpd -f -p 80 -h /www' >/dev/null
	run drun --rm --network n1 bb sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://srv/ && exit 0; sleep 0.2; done; exit 1'
	assert_success
	assert_output by-name
	drun -d --name late bb sleep 60 >/dev/null
	run d network connect n1 late
	assert_success
	run d inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' late
	assert_output_contains "n1 "
	[ ${#output} -gt 3 ] # and the default network (docker's "bridge", berth's "berth")
	run d network inspect -f '{{range .Containers}}{{.Name}} {{end}}' n1
	[[ "$output" == *late* && "$output" == *srv* ]]
	run d exec late sh -c 'wget -qO- http://srv/'
	assert_output by-name
	run d network disconnect n1 late
	assert_success
	run d network rm n1
	assert_failure
	d rm -f srv late >/dev/null
	run d network rm n1
	assert_success
	wait_removed
	run d volume rm vol1
	assert_success
	run d volume inspect vol1
	assert_failure
}
@test "berth: volume and network commands, names resolved on a user network" { volume_network_scenario; }
@test "dockerd: volume and network commands, names resolved on a user network" { volume_network_scenario; }

save_load_scenario() {
	d tag bb saved:v1
	run d save -o "$TEST_DIR/saved.tar" saved:v1
	assert_success
	run d rmi saved:v1
	assert_success
	run d load -i "$TEST_DIR/saved.tar"
	assert_success
	assert_output "Loaded image: saved:v1"
	run drun --rm saved:v1 echo loaded
	assert_output loaded
	run d image inspect -f '{{json .Config.Cmd}} {{.Os}} {{.Architecture}}' saved:v1
	assert_output "[\"sh\"] linux $(dpkg --print-architecture)"
	wait_removed
	run d rmi saved:v1
	assert_success
}
@test "berth: save and load" { save_load_scenario; }
@test "dockerd: save and load" { save_load_scenario; }

compose_scenario() {
	command -v docker-compose >/dev/null || skip "docker-compose (Debian's 1.29) not installed"
	mkdir "$TEST_DIR/proj"
	printf 'GREETING=hello-from-env\n' >"$TEST_DIR/proj/web.env"
	cat >"$TEST_DIR/proj/docker-compose.yml" <<YAML
version: "2.4"
services:
  db:
    image: bb
    cgroup_parent: berth-test/$TAG
    environment: [BERTH_IT_TAG=$TAG]
    volumes: [data:/data]
    networks: [back]
    command: sh -c 'sleep 1; echo ready >/data/ready; sleep 600'
    healthcheck:
      test: ["CMD", "test", "-f", "/data/ready"]
      interval: 1s
      retries: 30
  web:
    image: bb
    cgroup_parent: berth-test/$TAG
    environment: [BERTH_IT_TAG=$TAG]
    env_file: [web.env]
    volumes: [data:/data]
    networks: [back]
    ports: ["127.0.0.1:18081:8080"]
    depends_on:
      db: {condition: service_healthy}
    command: sh -c 'mkdir -p /www; echo "\$\$GREETING \$\$(cat /data/ready)" >/www/index.html; httpd -f -p 8080 -h /www'
  worker:
    image: bb
    cgroup_parent: berth-test/$TAG
    environment: [BERTH_IT_TAG=$TAG]
    networks: [back]
    depends_on: [web]
    command: sh -c 'until wget -qO- http://web:8080/; do sleep 0.2; done; sleep 600'
volumes:
  data: {}
networks:
  back: {}
YAML
	cd "$TEST_DIR/proj"
	export DOCKER_HOST="unix://$API_SOCK"
	run timeout -s KILL 180 docker-compose -p bt up -d
	assert_success
	run timeout -s KILL 30 docker-compose -p bt ps --services
	assert_output "db
web
worker"
	local i
	for ((i = 0; i < 50; i++)); do
		run t_net wget -qO- http://127.0.0.1:18081/
		[ "$output" = "hello-from-env ready" ] && break
		sleep 0.2
	done
	assert_output "hello-from-env ready"
	for ((i = 0; i < 50; i++)); do
		run timeout -s KILL 30 docker-compose -p bt logs --no-color worker
		[[ "$output" == *"hello-from-env ready"* ]] && break
		sleep 0.2
	done
	assert_output_contains "hello-from-env ready"
	run timeout -s KILL 120 docker-compose -p bt up -d --scale worker=2
	assert_success
	run d ps --format '{{.Names}}' --filter label=com.docker.compose.service=worker
	[ ${#lines[@]} -eq 2 ]
	run d volume ls -q
	assert_output bt_data
	run d network ls --format '{{.Name}}' --filter name=bt_
	assert_output bt_back
	run timeout -s KILL 120 docker-compose -p bt down -t 1 -v
	assert_success
	run d volume ls -q
	assert_output ""
	run d ps -aq
	assert_output ""
	run d network ls --format '{{.Name}}' --filter name=bt_
	assert_output ""
}
@test "berth: docker-compose: three services, user network, volume, ports, env_file, service_healthy, scale, logs" { compose_scenario; }
@test "dockerd: docker-compose: three services, user network, volume, ports, env_file, service_healthy, scale, logs" { compose_scenario; }

dockerpy_scenario() {
	python3 -c 'import docker' 2>/dev/null || skip "python3-docker not installed"
	cat >"$TEST_DIR/client.py" <<PY
import docker
c = docker.DockerClient(base_url="unix://$API_SOCK")
print(c.version()["ApiVersion"] >= "1.41")
print(c.containers.run("bb", ["sh", "-c", "echo py-hello"], remove=True,
                      cgroup_parent="berth-test/$TAG", environment=["BERTH_IT_TAG=$TAG"]).decode().strip())
ct = c.containers.run("bb", ["sleep", "30"], detach=True, name="pyc", labels={"a": "b"},
                      cgroup_parent="berth-test/$TAG", environment=["BERTH_IT_TAG=$TAG"])
print(c.containers.get("pyc").status)
print([x.name for x in c.containers.list(filters={"label": "a=b"})])
r = ct.exec_run(["sh", "-c", "echo exec-py; exit 2"])
print(r.exit_code, r.output.decode().strip())
ct.stop(timeout=1)
ct.reload()
print(ct.status, ct.wait()["StatusCode"])
ct.remove()
v = c.volumes.create("pyvol")
print(v.name, [x.name for x in c.volumes.list()])
v.remove()
n = c.networks.create("pynet")
print(n.name, n.attrs["Driver"])
n.remove()
print([t for i in c.images.list() for t in i.tags])
PY
	run timeout -s KILL 60 python3 "$TEST_DIR/client.py"
	assert_success
	assert_output "True
py-hello
running
['pyc']
2 exec-py
exited 137
pyvol ['pyvol']
pynet bridge
['bb:latest']"
	wait_removed
}
@test "berth: docker-py runs, execs, stops, lists; volumes and networks" { dockerpy_scenario; }
@test "dockerd: docker-py runs, execs, stops, lists; volumes and networks" { dockerpy_scenario; }
