#!/usr/bin/env bats
# The API's container top/stats/rename/update/prune, system df, images
# save/load/push/prune, network and volume prune, driven by the docker CLI
# 20.10 (no dockerd anywhere) and curl.

load api

setup_file() {
	engine_make_rootfs
}

setup() {
	api_setup bapie
}

teardown() {
	api_teardown
}

@test "api endpoints: top, stats --no-stream and the stats stream, rename, update" {
	run drun -d --name w1 bb sh -c 'sleep 300'
	assert_success
	run d top w1
	assert_success
	assert_output_contains "PID"
	assert_output_contains "sleep 300"
	run d top w1 -o pid,comm
	assert_success
	assert_output_contains "COMMAND"
	run d stats --no-stream --format '{{.Name}} {{.MemUsage}} {{.PIDs}}' w1
	assert_success
	[[ "$output" =~ ^w1\ [0-9.]+[KMG]?i?B\ /\ [0-9.]+[KMGT]iB\ [0-9]+$ ]] || { echo "$output"; false; }
	# the stream: samples a second apart until the client leaves
	run timeout 3 curl -sN --unix-socket "$API_SOCK" http://x/containers/w1/stats
	[ "${#lines[@]}" -ge 2 ] || { echo "$output"; false; }
	echo "${lines[0]}" | jq -e '.cpu_stats.cpu_usage.total_usage > 0 and .pids_stats.current >= 1 and .memory_stats.usage > 0'
	run api_curl "/containers/w1/stats?stream=false"
	echo "$output" | jq -e '.precpu_stats.system_cpu_usage > 0'
	run d rename w1 w2
	assert_success
	run d inspect -f '{{.Name}}' w2
	assert_output /w2
	run d inspect w1
	assert_failure
	run d update --memory 64m --pids-limit 50 w2
	assert_success
	run d inspect -f '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}' w2
	assert_output "67108864 50"
	run d update --kernel-memory 64m w2
	assert_failure
	run d rm -f w2
	assert_success
	wait_removed
}

@test "api endpoints: container prune keeps running ones; system df counts" {
	drun --name done1 bb true
	drun --name done2 -l keep=yes bb true
	drun -d --name live bb sleep 300 >/dev/null
	run d system df
	assert_success
	assert_output_contains "Images"
	[[ "$(d system df --format '{{.Type}} {{.TotalCount}} {{.Active}}')" == *"Containers 3 1"* ]] || {
		d system df
		false
	}
	run d container prune -f --filter label=keep=yes
	assert_success
	run d ps -a --format '{{.Names}}'
	assert_output_contains done1
	[[ "$output" != *done2* ]]
	run d container prune -f
	assert_success
	run d ps -a --format '{{.Names}}'
	assert_output live
	d rm -f live
	wait_removed
}

@test "api endpoints: save and load (one and two images), image prune" {
	d tag bb other:v2
	run d save -o "$TEST_DIR/two.tar" bb other:v2
	assert_success
	# one image with two names (docker.io/library/ as berth's archives write them)
	[ "$(tar -xOf "$TEST_DIR/two.tar" manifest.json | jq -r '[.[].RepoTags[] | sub("^docker.io/library/"; "")] | sort | join(",")')" = "bb:latest,other:v2" ]
	run d save nosuch
	assert_failure
	assert_output_contains "No such image"
	run d rmi other:v2 bb
	assert_success
	run d images -q
	[ -z "$output" ]
	run d load -i "$TEST_DIR/two.tar"
	assert_success
	assert_output_contains "Loaded image: "
	run d images --format '{{.Repository}}:{{.Tag}}'
	assert_output_contains "other:v2"
	run drun --rm --network none other:v2 echo loaded
	assert_output loaded
	# a load of something that is not an archive is an error, not a crash
	echo garbage >"$TEST_DIR/bad.tar"
	run d load -i "$TEST_DIR/bad.tar"
	assert_failure
	# prune -a removes what no container uses; bb stays for its container
	d tag bb unused:x
	drun --name user --network none bb true
	run d image prune -a -f
	assert_success
	run d images --format '{{.Repository}}:{{.Tag}}'
	assert_output_contains "bb:latest"
	d rm user
}

@test "api endpoints: network prune and volume prune leave what is in use" {
	d network create --label team=berth --label tier=web n1 >/dev/null
	d network create n2 >/dev/null
	# labels are kept (docker-compose tells its networks by them)
	run d network inspect -f '{{.Labels.team}} {{.Labels.tier}}' n1
	assert_output "berth web"
	run api_curl /networks/create -X POST -H 'Content-Type: application/json' -d '{"Name":"n3","Labels":{"a":1}}'
	assert_output_contains "Labels: expected an object of strings"
	d volume create v1 >/dev/null
	d volume create v2 >/dev/null
	drun -d --name holder --network n1 -v v1:/data bb sleep 300 >/dev/null
	run d network prune -f
	assert_success
	assert_output_contains n2
	run d network ls --format '{{.Name}}'
	assert_output_contains n1
	[[ "$output" != *n2* ]]
	run d volume prune -f
	assert_success
	assert_output_contains v2
	run d volume ls -q
	assert_output v1
	d rm -f holder >/dev/null
	d network rm n1
	d volume rm v1
	wait_removed
}

@test "api endpoints: docker push to a local registry, with X-Registry-Auth" {
	load registry
	registry_start --htpasswd puser ppass
	api_stop
	api_start --host-netns
	d tag bb "$REGISTRY/t/pushed:v1"
	run d push "$REGISTRY/t/pushed:v1"
	assert_failure
	echo ppass | d login -u puser --password-stdin "$REGISTRY"
	run d push "$REGISTRY/t/pushed:v1"
	assert_success
	assert_output_contains "v1: digest: sha256:"
	# a line per layer as it is done: pushed, then already there
	assert_output_contains ": Pushed"
	run d push "$REGISTRY/t/pushed:v1"
	assert_success
	assert_output_contains ": Layer already exists"
	run curl -s -u puser:ppass "http://$REGISTRY/v2/t/pushed/tags/list"
	assert_output_contains '"v1"'
	# and a pull with the same credentials (X-Registry-Auth)
	d rmi "$REGISTRY/t/pushed:v1" bb >/dev/null
	run d pull "$REGISTRY/t/pushed:v1"
	assert_success
	assert_output_contains ": Pull complete"
	d logout "$REGISTRY"
	d rmi "$REGISTRY/t/pushed:v1" >/dev/null
	run d pull "$REGISTRY/t/pushed:v1"
	assert_failure
	registry_stop
}

@test "api endpoints: exec -u takes names from the container's /etc/passwd" {
	drun -d --name ex bb sleep 300 >/dev/null
	run d exec -u app ex id
	assert_success
	assert_output_contains "uid=1000(app) gid=1000(app)"
	run d exec -u app:root ex id -g
	assert_output 0
	run d exec -u 1000 ex id -u
	assert_output 1000
	run d exec -u nosuchuser ex id
	assert_failure
	assert_output_contains nosuchuser
	run d exec -u app ex sh -c 'echo $(id -un)'
	assert_output app
	d rm -f ex >/dev/null
	wait_removed
}

@test "api endpoints: resize sets a TTY container's terminal size" {
	drun -dt --name tt bb sh -c 'while true; do stty size; sleep 0.2; done' >/dev/null
	run api_curl "/containers/tt/resize?h=33&w=111" -X POST -w '%{http_code}'
	assert_output 200
	local i
	for ((i = 0; i < 50; i++)); do
		run d logs tt
		[[ "$output" == *"33 111"* ]] && break
		sleep 0.1
	done
	assert_output_contains "33 111"
	run api_curl "/containers/tt/resize?h=-1&w=5" -X POST -w ' %{http_code}'
	assert_output_contains 400
	d rm -f tt >/dev/null
	wait_removed
}

@test "api endpoints: docker diff, commit -c/-m/-a, the history of the result, export streamed" {
	drun --network none --name c1 bb sh -c 'echo hi > /tmp/new; rm /bin/vi; mkdir -p /srv/sub; echo y > /srv/sub/f'
	run d diff c1
	assert_success
	[ "$output" = 'C /bin
D /bin/vi
A /srv
A /srv/sub
A /srv/sub/f
C /tmp
A /tmp/new' ] || { echo "$output"; false; }
	run d diff nosuch
	assert_failure
	assert_output_contains "No such container: nosuch"

	n_images=$(d images -aq | wc -l)
	run d commit -c 'RUN echo no' c1 bad
	assert_failure
	assert_output_contains "RUN is not allowed"
	[ "$(d images -aq | wc -l)" = "$n_images" ]
	run d commit -m "the message" -a "Ann <ann@example.org>" -c 'ENV GREETING=hello' \
		-c 'CMD ["sh", "-c", "cat /tmp/new; echo $GREETING"]' -c 'LABEL k=v' -c 'EXPOSE 8080' c1 committed:v1
	assert_success
	[[ "$output" == sha256:* ]] || { echo "$output"; false; }
	id=$output
	run d image inspect -f '{{json .Config.Cmd}} {{.Config.Labels.k}} {{json .Config.ExposedPorts}} {{.Author}}' committed:v1
	assert_output '["sh","-c","cat /tmp/new; echo $GREETING"] v {"8080/tcp":{}} Ann <ann@example.org>'
	run drun --rm --network none committed:v1
	assert_success
	assert_output "hi
hello"

	# docker history: the commit on top (its id, command, comment), then the image's own
	run d history committed:v1
	assert_success
	[ "$(head -1 <<<"$output" | tr -s ' ')" = "IMAGE CREATED CREATED BY SIZE COMMENT" ]
	[ "$(sed -n 2p <<<"$output" | cut -c1-12)" = "${id:7:12}" ]
	sed -n 2p <<<"$output" | grep -q 'the message'
	sed -n '3,$p' <<<"$output" | grep -q '^<missing> '
	run d image history --no-trunc --format '{{.ID}}|{{.CreatedBy}}|{{.Comment}}' committed:v1
	assert_success
	[ "$(head -1 <<<"$output")" = "$id|sh -c echo hi > /tmp/new; rm /bin/vi; mkdir -p /srv/sub; echo y > /srv/sub/f|the message" ] ||
		{ echo "$output"; false; }
	run d history nosuch
	assert_failure
	assert_output_contains "No such image: nosuch"

	# export: a flat tar of the rootfs, sent as it is written (chunked)
	d export c1 | tar t >"$TEST_DIR/list"
	grep -qx 'bin/busybox' "$TEST_DIR/list"
	grep -qx 'srv/sub/f' "$TEST_DIR/list"
	grep -qx 'tmp/new' "$TEST_DIR/list"
	! grep -qx 'bin/vi' "$TEST_DIR/list"
	! grep -q '\.wh\.' "$TEST_DIR/list"
	[ "$(d export c1 | tar -xOf - tmp/new)" = hi ]
	api_curl /containers/c1/export -o /dev/null -D "$TEST_DIR/headers"
	grep -qi '^Transfer-Encoding: chunked' "$TEST_DIR/headers" || { cat "$TEST_DIR/headers"; false; }
	grep -q '^HTTP/1.1 200' "$TEST_DIR/headers"
	run d export -o "$TEST_DIR/x.tar" nosuch
	assert_failure
	assert_output_contains "No such container: nosuch"
	d rm c1 >/dev/null
}

@test "api endpoints: POST /commit merges the body's config as docker does; bad input commits nothing" {
	drun --network none --name c2 -e KEEP=1 -l from=container bb sh -c 'mkdir -p /srv/sub; echo y > /srv/sub/f'
	n_images=$(d images -aq | wc -l)
	run api_curl "/commit?container=c2&repo=x" -X POST -H 'Content-Type: application/json' -d '{"Cmd": 5}'
	echo "$output" | jq -e '.message | contains("Cmd")'
	run api_curl "/commit?container=c2&repo=x" -X POST -H 'Content-Type: application/json' -d '{"Cmd": '
	echo "$output" | jq -e '.message | contains("malformed JSON")'
	run api_curl "/commit?container=c2&repo=x&changes=FROM%20bb" -X POST
	echo "$output" | jq -e '.message | contains("FROM")'
	run api_curl "/commit?container=nosuch&repo=x" -X POST -w '%{http_code}'
	[[ "$output" == *404 ]] || { echo "$output"; false; }
	[ "$(d images -aq | wc -l)" = "$n_images" ]

	body='{"Entrypoint": ["cat"], "Env": ["A=1", "KEEP=2"], "Labels": {"l": "x"}, "ExposedPorts": {"9090/tcp": {}},
	  "WorkingDir": "/srv", "User": "nobody", "Hostname": "ignored"}'
	run api_curl "/commit?container=c2&repo=fromapi&tag=t1&comment=c&changes=USER%20root&changes=ENV%20B%3D2%0ALABEL%20m%3Dy" \
		-X POST -H 'Content-Type: application/json' -d "$body" -w ' %{http_code}'
	[[ "$output" == *'"Id":"sha256:'*' 201' ]] || { echo "$output"; false; }
	run d image inspect fromapi:t1
	cfg=$(jq -c '.[0].Config' <<<"$output")
	[ "$(jq -c .Entrypoint <<<"$cfg")" = '["cat"]' ]
	# an Entrypoint without a Cmd leaves none (docker's merge)
	[ "$(jq -c '.Cmd // []' <<<"$cfg")" = '[]' ]
	[ "$(jq -r .WorkingDir <<<"$cfg")" = /srv ]
	# the changes come after the body
	[ "$(jq -r .User <<<"$cfg")" = root ]
	[ "$(jq -c '[.Env[] | select(test("^(A|B|KEEP)="))] | sort' <<<"$cfg")" = '["A=1","B=2","KEEP=2"]' ]
	[ "$(jq -c '.Labels' <<<"$cfg")" = '{"from":"container","l":"x","m":"y"}' ]
	[ "$(jq -c '.ExposedPorts' <<<"$cfg")" = '{"9090/tcp":{}}' ]
	run drun --rm --network none fromapi:t1 sub/f
	assert_success
	assert_output y
	d rm c2 >/dev/null
}

@test "api endpoints: --ipc shareable/container: and --pid container: from the docker CLI; inspect shows the modes" {
	drun -d --name holder --ipc shareable bb sleep 300 >/dev/null
	drun -d --name joiner --ipc container:holder --pid container:holder bb sleep 300 >/dev/null
	[ "$(d inspect -f '{{.HostConfig.IpcMode}}' holder)" = shareable ]
	[[ "$(d inspect -f '{{.HostConfig.IpcMode}}' joiner)" == container:* ]]
	[[ "$(d inspect -f '{{.HostConfig.PidMode}}' joiner)" == container:* ]]
	# one IPC and one PID namespace: the same inode from both, and the
	# holder's sleep is visible from the joiner
	[ "$(d exec holder readlink /proc/self/ns/ipc)" = "$(d exec joiner readlink /proc/self/ns/ipc)" ]
	[ "$(d exec holder readlink /proc/self/ns/pid)" = "$(d exec joiner readlink /proc/self/ns/pid)" ]
	d exec holder sh -c 'echo shared >/dev/shm/f'
	[ "$(d exec joiner cat /dev/shm/f)" = shared ]
	[ "$(d inspect -f '{{.HostConfig.IpcMode}}' "$(drun -d bb sleep 300)")" = private ]
	run drun --rm --ipc bogus bb true
	assert_failure
	assert_output_contains bogus
	d rm -f joiner holder >/dev/null
	d rm -f $(d ps -aq) >/dev/null
	wait_removed
}

@test "api endpoints: --network bridge (docker's default network's name) is berth's default network" {
	run drun --rm --network bridge bb sh -c 'ip -4 -o addr show eth0'
	assert_success
	assert_output_contains "inet 10."
}
