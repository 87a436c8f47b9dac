#!/usr/bin/env bats
# berth system service on TCP with TLS and client certificates
# (--tlscacert/--tlscert/--tlskey), driven by `docker --tlsverify`; the
# certificates are made here with openssl. The service and the clients run
# in the test's network namespace.

load api

setup_file() {
	engine_make_rootfs
}

setup() {
	api_setup bapit
	CERTS="$TEST_DIR/certs"
	mkdir -p "$CERTS"
	make_certs
	TLS_PID=
}

teardown() {
	if [ -n "$TLS_PID" ]; then
		kill "$TLS_PID" 2>/dev/null || true
		wait "$TLS_PID" 2>/dev/null || true
	fi
	api_teardown
}

# A CA, the service's certificate for 127.0.0.1, a client certificate of
# that CA, and a client certificate of another CA.
make_certs() {
	cd "$CERTS"
	local ca
	for ca in ca other; do
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$ca" -keyout "$ca-key.pem" -out "$ca.pem" 2>/dev/null
	done
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server-key.pem -out server.csr 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -extfile server.ext \
		-out server.pem 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\n' >client.ext
	for ca in ca other; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=client-$ca" -keyout "key-$ca.pem" -out "client-$ca.csr" 2>/dev/null
		openssl x509 -req -in "client-$ca.csr" -CA "$ca.pem" -CAkey "$ca-key.pem" -CAcreateserial -days 2 \
			-extfile client.ext -out "cert-$ca.pem" 2>/dev/null
	done
	cd - >/dev/null
}

# tls_start PORT: the service on tcp://127.0.0.1:PORT with TLS.
tls_start() {
	TLS_PORT=$1
	(exec nsenter --net="$HOSTNS" env BERTH_IT_TAG="$TAG" BERTH_NETWORK_RUNDIR="$HOSTNET" "$BERTH_BIN" \
		--root "$STORE" --runroot "$RUNROOT" system service --listen "tcp://127.0.0.1:$TLS_PORT" \
		--tlscacert "$CERTS/ca.pem" --tlscert "$CERTS/server.pem" --tlskey "$CERTS/server-key.pem" \
		</dev/null >"$TEST_DIR/tls.log" 2>&1 3>&-) &
	TLS_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q listening "$TEST_DIR/tls.log" 2>/dev/null && return 0
		kill -0 "$TLS_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$TEST_DIR/tls.log" >&2
	return 1
}

# dtls CA ARGS...: docker --tlsverify with the client certificate of CA.
dtls() {
	local ca=$1
	shift
	in_host timeout -s KILL 60 "$DOCKER_BIN" --tlsverify --tlscacert "$CERTS/ca.pem" --tlscert "$CERTS/cert-$ca.pem" \
		--tlskey "$CERTS/key-$ca.pem" -H "tcp://127.0.0.1:$TLS_PORT" "$@"
}

@test "api tls: docker --tlsverify with a client certificate of the CA; others refused" {
	tls_start 23760
	run dtls ca version --format '{{.Server.APIVersion}}'
	assert_success
	assert_output 1.41
	run dtls ca run --rm --network none --cgroup-parent "berth-test/$TAG" -e BERTH_IT_TAG="$TAG" bb echo over-tls
	assert_success
	assert_output over-tls
	# a client certificate of another CA, none at all, plain HTTP: refused
	run dtls other version --format '{{.Server.APIVersion}}'
	assert_failure
	run in_host curl -s --cacert "$CERTS/ca.pem" "https://127.0.0.1:$TLS_PORT/_ping"
	[[ "$output" != OK ]]
	assert_output_contains "client certificate"
	run in_host curl -s -m 5 "http://127.0.0.1:$TLS_PORT/_ping"
	[[ "$output" != OK ]]
	run in_host curl -s --cacert "$CERTS/ca.pem" --cert "$CERTS/cert-ca.pem" --key "$CERTS/key-ca.pem" \
		"https://127.0.0.1:$TLS_PORT/_ping"
	assert_output OK
}

@test "api tls: the flags go together, TLS only on TCP, plain TCP only on loopback" {
	run timeout -s KILL 20 "$BERTH_BIN" --root "$STORE" system service --listen tcp://127.0.0.1:0 \
		--tlscacert "$CERTS/ca.pem" 3>&-
	assert_failure
	assert_output_contains "go together"
	run timeout -s KILL 20 "$BERTH_BIN" --root "$STORE" system service --listen "unix://$TEST_DIR/x.sock" \
		--tlscacert "$CERTS/ca.pem" --tlscert "$CERTS/server.pem" --tlskey "$CERTS/server-key.pem" 3>&-
	assert_failure
	assert_output_contains "TLS is for"
	run timeout -s KILL 20 "$BERTH_BIN" --root "$STORE" system service --listen tcp://10.1.2.3:2376 3>&-
	assert_failure
	assert_output_contains "--tlscacert"
	run timeout -s KILL 20 "$BERTH_BIN" --root "$STORE" system service --listen tcp://127.0.0.1:0 \
		--tlscacert "$CERTS/nosuch.pem" --tlscert "$CERTS/server.pem" --tlskey "$CERTS/server-key.pem" 3>&-
	assert_failure
	assert_output_contains "nosuch.pem"
}
