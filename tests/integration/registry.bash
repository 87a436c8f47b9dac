# A local registry for the image tests: Debian's docker-registry (the CNCF
# distribution) on 127.0.0.1, with its storage in a temporary directory.
#
#   registry_start [--htpasswd USER PASSWORD | --token USER PASSWORD] [--tls]
#       starts one in the background, waits until /v2/ answers and exports
#       REGISTRY=127.0.0.1:PORT, REGISTRY_DIR (its files; the log is
#       $REGISTRY_DIR/log) and, with --tls, REGISTRY_CERT_DIR (a directory
#       with the self-signed CA as ca.crt, for --cert-dir).
#       --token: bearer tokens, as Docker Hub or ghcr.io do: the registry's
#       401 names a realm served by busybox httpd, whose CGI hands out JWTs
#       signed by a key the registry trusts, granting what the scope asks,
#       to USER:PASSWORD only (basic auth on the realm).
#   registry_stop
#       stops that registry (its pid only) and removes its directory.
#
# Use them from setup_file/teardown_file so one registry serves a file.

REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}

# A TCP port of 127.0.0.1 nobody listens on.
registry_free_port() {
	local port tries=0
	while [ "$tries" -lt 100 ]; do
		port=$((20000 + RANDOM % 40000))
		if [ -z "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; then
			echo "$port"
			return 0
		fi
		tries=$((tries + 1))
	done
	echo "registry_free_port: no free port found" >&2
	return 1
}

# Writes a self-signed certificate for 127.0.0.1 to DIR/server.{crt,key}
# and the same certificate as DIR/certs/ca.crt (a cert dir).
registry_make_cert() {
	local dir=$1
	mkdir -p "$dir/certs"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$dir/server.key" -out "$dir/server.crt" 2>/dev/null
	cp "$dir/server.crt" "$dir/certs/ca.crt"
}

# The realm's CGI: a JWT for the scopes asked, signed with DIR/token.key
# (its certificate goes in the x5c header; the registry trusts it).
registry_write_token_cgi() {
	local dir=$1
	mkdir -p "$dir/www/cgi-bin"
	cat >"$dir/www/cgi-bin/token" <<-EOF
		#!/bin/sh
		PATH=/usr/sbin:/usr/bin:/sbin:/bin
		dir=$dir
	EOF
	cat >>"$dir/www/cgi-bin/token" <<-'EOF'
		b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
		urldecode() { echo "$1" | sed 's/+/ /g; s/%20/ /g; s/%3[Aa]/:/g; s/%2[Cc]/,/g; s/%2[Ff]/\//g'; }
		service="" scopes=""
		for kv in $(echo "$QUERY_STRING" | tr '&' ' '); do
			case "$kv" in
			service=*) service=$(urldecode "${kv#service=}") ;;
			scope=*) scopes="$scopes $(urldecode "${kv#scope=}")" ;;
			esac
		done
		echo "$QUERY_STRING" >>"$dir/token-requests"
		access=$(for s in $scopes; do echo "$s"; done | jq -R 'split(":") | {type: .[0], name: .[1], actions: (.[2] | split(","))}' | jq -s -c .)
		now=$(date +%s)
		x5c=$(openssl x509 -in "$dir/token.crt" -outform DER | base64 -w0)
		header=$(jq -n -c --arg x "$x5c" '{typ: "JWT", alg: "RS256", x5c: [$x]}' | b64url)
		claims=$(jq -n -c --arg iss berth-test-issuer --arg sub "${REMOTE_USER:-}" --arg aud "$service" \
			--argjson now "$now" --argjson access "${access:-[]}" --arg jti "$now-$$" \
			'{iss: $iss, sub: $sub, aud: $aud, exp: ($now + 300), nbf: ($now - 10), iat: $now, jti: $jti, access: $access}' | b64url)
		sig=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -sign "$dir/token.key" | b64url)
		printf 'Content-Type: application/json\r\n\r\n'
		jq -n -c --arg t "$header.$claims.$sig" '{access_token: $t, expires_in: 300}'
	EOF
	chmod 755 "$dir/www/cgi-bin/token"
}

# Starts busybox httpd serving the token CGI to USER:PASSWORD; prints its port.
registry_start_token_server() {
	local dir=$1 user=$2 password=$3 port
	port=$(registry_free_port) || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=berth-test-token" \
		-keyout "$dir/token.key" -out "$dir/token.crt" 2>/dev/null
	registry_write_token_cgi "$dir"
	echo "/cgi-bin:$user:$password" >"$dir/httpd.conf"
	busybox httpd -f -p "127.0.0.1:$port" -h "$dir/www" -c "$dir/httpd.conf" </dev/null >"$dir/httpd.log" 2>&1 &
	echo $! >"$dir/httpd.pid"
	echo "$port"
}

registry_start() {
	local user="" password="" token="" tls="" port dir scheme=http token_port=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--htpasswd) user=$2 password=$3; shift 3 ;;
		--token) user=$2 password=$3 token=1; shift 3 ;;
		--tls) tls=1; shift ;;
		*) echo "registry_start: unknown flag $1" >&2; return 2 ;;
		esac
	done
	[ -x "$REGISTRY_BIN" ] || { echo "registry_start: $REGISTRY_BIN missing (apt-get install docker-registry)" >&2; return 1; }
	dir=$(mktemp -d "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/registry.XXXXXX")
	port=$(registry_free_port) || return 1
	mkdir -p "$dir/data"
	if [ -n "$token" ]; then
		token_port=$(registry_start_token_server "$dir" "$user" "$password") || return 1
	fi
	{
		echo "version: 0.1"
		echo "log:"
		echo "  level: info"
		echo "  accesslog:"
		echo "    disabled: false"
		echo "storage:"
		echo "  filesystem:"
		echo "    rootdirectory: \"$dir/data\""
		echo "  delete:"
		echo "    enabled: true"
		echo "http:"
		echo "  addr: 127.0.0.1:$port"
		echo "  secret: berth-test-secret"
		if [ -n "$tls" ]; then
			registry_make_cert "$dir"
			echo "  tls:"
			echo "    certificate: \"$dir/server.crt\""
			echo "    key: \"$dir/server.key\""
			scheme=https
		fi
		if [ -n "$token" ]; then
			echo "auth:"
			echo "  token:"
			echo "    realm: http://127.0.0.1:$token_port/cgi-bin/token"
			echo "    service: berth-test-registry"
			echo "    issuer: berth-test-issuer"
			echo "    rootcertbundle: \"$dir/token.crt\""
		elif [ -n "$user" ]; then
			htpasswd -Bbn "$user" "$password" >"$dir/htpasswd"
			echo "auth:"
			echo "  htpasswd:"
			echo "    realm: berth-test"
			echo "    path: \"$dir/htpasswd\""
		fi
	} >"$dir/config.yml"
	# a clean environment: the registry reads REGISTRY_* variables as configuration
	# (REGISTRY_AUTH_FILE of a test would become its auth section)
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$REGISTRY_BIN" serve "$dir/config.yml" >"$dir/log" 2>&1 </dev/null &
	echo $! >"$dir/pid"
	REGISTRY=127.0.0.1:$port
	REGISTRY_DIR=$dir
	export REGISTRY REGISTRY_DIR
	[ -z "$tls" ] || { REGISTRY_CERT_DIR=$dir/certs; export REGISTRY_CERT_DIR; }
	for _ in $(seq 100); do
		# 200 anonymous, 401 with htpasswd: either way it is up
		case "$(curl -sk -o /dev/null -w '%{http_code}' "$scheme://$REGISTRY/v2/" 2>/dev/null)" in
		200 | 401) return 0 ;;
		esac
		kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "registry_start: the registry did not come up; its log:" >&2
	cat "$dir/log" >&2
	registry_stop
	return 1
}

registry_stop() {
	local pid pidfile
	[ -n "${REGISTRY_DIR:-}" ] && [ -d "$REGISTRY_DIR" ] || return 0
	for pidfile in "$REGISTRY_DIR/httpd.pid" "$REGISTRY_DIR/pid"; do
		[ -f "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$REGISTRY_DIR"
	unset REGISTRY REGISTRY_DIR REGISTRY_CERT_DIR
}

# How many GETs of blobs the registry (of DIR, default $REGISTRY_DIR) has
# logged so far (its access log).
registry_blob_gets() {
	grep -c '"GET /v2/[^"]*/blobs/sha256:' "${1:-$REGISTRY_DIR}/log" || true
}

# A gate in front of the registry (of $REGISTRY), for watching a pull mid-way:
#   registry_gate_start DIGEST BYTES
#       starts a proxy (busybox nc running a script per connection) that
#       serves every GET from the registry, but sends only the first BYTES of
#       blob DIGEST, then creates $GATE_DIR/paused and waits for
#       registry_gate_open before it sends the rest. Exports GATE=127.0.0.1:PORT
#       and GATE_DIR. One request per connection ("Connection: close").
#   registry_gate_open
#   registry_gate_stop
registry_gate_start() {
	local digest=$1 bytes=$2 port dir
	dir=$(mktemp -d "${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}/gate.XXXXXX")
	port=$(registry_free_port) || return 1
	cat >"$dir/serve" <<-EOF
		#!/bin/bash
		upstream=$REGISTRY dir=$dir digest=$digest bytes=$bytes
	EOF
	cat >>"$dir/serve" <<-'EOF'
		echo $$ >>"$dir/serving"
		IFS=' ' read -r method path _ || exit 0
		headers=()
		while IFS= read -r line; do
			line=${line%$'\r'}
			[ -n "$line" ] || break
			case "${line,,}" in host:* | connection:*) ;; *) headers+=(-H "$line") ;; esac
		done
		[ "$method" = GET ] || exit 0
		req=$(mktemp -d "$dir/req.XXXXXX")
		curl -s -o "$req/body" -D "$req/head" "${headers[@]}" "http://$upstream$path" || exit 0
		grep -iv '^connection:' "$req/head" | tr -d '\r' | sed '/^$/d' | sed 's/$/\r/'
		printf 'Connection: close\r\n\r\n'
		case "$path" in
		*/blobs/"$digest")
			head -c "$bytes" "$req/body"
			touch "$dir/paused"
			while [ ! -e "$dir/open" ] && [ -d "$dir" ]; do sleep 0.05; done
			tail -c +$((bytes + 1)) "$req/body"
			;;
		*) cat "$req/body" ;;
		esac
		rm -rf "$req"
	EOF
	chmod 755 "$dir/serve"
	busybox nc -ll -p "$port" -e "$dir/serve" </dev/null >"$dir/log" 2>&1 3>&- &
	echo $! >"$dir/pid"
	GATE=127.0.0.1:$port
	GATE_DIR=$dir
	export GATE GATE_DIR
	for _ in $(seq 50); do
		[ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	echo "registry_gate_start: the proxy did not listen; its log:" >&2
	cat "$dir/log" >&2
	return 1
}

registry_gate_open() {
	touch "$GATE_DIR/open"
}

registry_gate_stop() {
	local pid
	[ -n "${GATE_DIR:-}" ] && [ -d "$GATE_DIR" ] || return 0
	touch "$GATE_DIR/open"
	pid=$(cat "$GATE_DIR/pid")
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# the scripts nc started, one per connection: let them finish, else end them
	for pid in $(cat "$GATE_DIR/serving" 2>/dev/null); do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || continue 2
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	rm -rf "$GATE_DIR"
	unset GATE GATE_DIR
}
