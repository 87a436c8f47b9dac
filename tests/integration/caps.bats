#!/usr/bin/env bats
# Capabilities: the five sets of process.capabilities, ambient caps, and
# inheritable caps that stay empty unless the spec asks (CVE-2022-29162).
# Each test reads /proc/self/status in the container and compares the
# hex masks with the ones computed here from the capability numbers.

load helpers

# cap_number NAME: the kernel's number of a capability.
cap_number() {
	case "$1" in
	CAP_CHOWN) echo 0 ;;
	CAP_DAC_OVERRIDE) echo 1 ;;
	CAP_FOWNER) echo 3 ;;
	CAP_KILL) echo 5 ;;
	CAP_SETGID) echo 6 ;;
	CAP_SETUID) echo 7 ;;
	CAP_NET_BIND_SERVICE) echo 10 ;;
	CAP_NET_RAW) echo 13 ;;
	CAP_SYS_ADMIN) echo 21 ;;
	CAP_SYS_PTRACE) echo 19 ;;
	CAP_AUDIT_WRITE) echo 29 ;;
	*) fail "cap_number: add $1" ;;
	esac
}

# cap_mask NAME...: the 16-digit hex mask /proc/self/status prints.
cap_mask() {
	local mask=0 name
	for name in "$@"; do
		mask=$((mask | (1 << $(cap_number "$name"))))
	done
	printf '%016x' "$mask"
}

# status_field OUTPUT FIELD: the value of "FIELD:\tVALUE" in OUTPUT.
status_field() {
	awk -v f="$2:" '$1 == f { print $2 }' <<<"$1"
}

# caps_json NAME...: a JSON array of capability names.
caps_json() {
	if [ $# -eq 0 ]; then
		echo '[]'
	else
		printf '%s\n' "$@" | jq -R . | jq -cs .
	fi
}

assert_caps() {
	local out="$1" bnd="$2" eff="$3" prm="$4" inh="$5" amb="$6"
	assert_equal "$(status_field "$out" CapBnd)" "$bnd" CapBnd || return 1
	assert_equal "$(status_field "$out" CapEff)" "$eff" CapEff || return 1
	assert_equal "$(status_field "$out" CapPrm)" "$prm" CapPrm || return 1
	assert_equal "$(status_field "$out" CapInh)" "$inh" CapInh || return 1
	assert_equal "$(status_field "$out" CapAmb)" "$amb" CapAmb
}

@test "caps: the default spec's three capabilities in bounding, effective and permitted" {
	set_args cat /proc/self/status
	run berth run c1
	assert_success
	local m
	m=$(cap_mask CAP_AUDIT_WRITE CAP_KILL CAP_NET_BIND_SERVICE)
	assert_equal "$m" 0000000020000420
	assert_caps "$output" "$m" "$m" "$m" 0000000000000000 0000000000000000
}

@test "caps: five different sets and ambient for a non-root user" {
	# Non-root and no file caps: after execve the kernel keeps the bounding
	# and inheritable sets as given and permitted = effective = ambient, so
	# every set the runtime applied is visible on its own.
	set_args cat /proc/self/status
	update_config '.process.user = {uid: 1000, gid: 1000}
		| .process.noNewPrivileges = false
		| .process.capabilities = {bounding: $b, effective: $e, permitted: $p, inheritable: $i, ambient: $a}' \
		--argjson b "$(caps_json CAP_CHOWN CAP_DAC_OVERRIDE CAP_KILL CAP_NET_BIND_SERVICE CAP_NET_RAW)" \
		--argjson e "$(caps_json CAP_CHOWN CAP_NET_RAW)" \
		--argjson p "$(caps_json CAP_CHOWN CAP_KILL CAP_NET_BIND_SERVICE CAP_NET_RAW)" \
		--argjson i "$(caps_json CAP_NET_BIND_SERVICE CAP_NET_RAW)" \
		--argjson a "$(caps_json CAP_NET_RAW)"
	run berth run c1
	assert_success
	assert_caps "$output" \
		"$(cap_mask CAP_CHOWN CAP_DAC_OVERRIDE CAP_KILL CAP_NET_BIND_SERVICE CAP_NET_RAW)" \
		"$(cap_mask CAP_NET_RAW)" "$(cap_mask CAP_NET_RAW)" \
		"$(cap_mask CAP_NET_BIND_SERVICE CAP_NET_RAW)" "$(cap_mask CAP_NET_RAW)"
}

@test "caps: root with noNewPrivileges keeps the given permitted set under a wider bounding set" {
	# For root, execve makes permitted = bounding | inheritable; with
	# no_new_privs the kernel caps that at the permitted set the runtime
	# left, so both sets the runtime applied are visible.
	set_args cat /proc/self/status
	update_config '.process.noNewPrivileges = true
		| .process.capabilities = {bounding: $b, effective: $p, permitted: $p}' \
		--argjson b "$(caps_json CAP_CHOWN CAP_KILL CAP_NET_RAW CAP_SYS_ADMIN)" \
		--argjson p "$(caps_json CAP_CHOWN CAP_KILL)"
	run berth run c1
	assert_success
	# root: P' = (bounding | inheritable), limited by no_new_privs to the
	# permitted set the runtime left before execve
	assert_caps "$output" "$(cap_mask CAP_CHOWN CAP_KILL CAP_NET_RAW CAP_SYS_ADMIN)" \
		"$(cap_mask CAP_CHOWN CAP_KILL)" "$(cap_mask CAP_CHOWN CAP_KILL)" \
		0000000000000000 0000000000000000
}

@test "caps: ambient caps need permitted and inheritable; an ambient-only cap is not raised" {
	set_args cat /proc/self/status
	update_config '.process.user = {uid: 1000, gid: 1000}
		| .process.noNewPrivileges = false
		| .process.capabilities = {bounding: $b, effective: $b, permitted: $b, inheritable: $i, ambient: $a}' \
		--argjson b "$(caps_json CAP_CHOWN CAP_KILL CAP_NET_RAW)" \
		--argjson i "$(caps_json CAP_KILL)" \
		--argjson a "$(caps_json CAP_KILL CAP_NET_RAW)"
	run berth run c1
	assert_success
	assert_equal "$(status_field "$output" CapAmb)" "$(cap_mask CAP_KILL)" CapAmb
	assert_equal "$(status_field "$output" CapEff)" "$(cap_mask CAP_KILL)" CapEff
}

@test "caps: an unknown capability name is refused at create, naming the JSON path" {
	update_config '.process.capabilities.bounding += ["CAP_NOT_A_CAP"]'
	run berth create c1
	assert_one_line_error 'process.capabilities.bounding[3]: unknown capability "CAP_NOT_A_CAP"'
	[ ! -e "$ROOT/c1" ]
}

@test "CVE-2022-29162 inheritable capabilities are empty by default" {
	set_args cat /proc/self/status
	# The runtime itself runs with inheritable (and so would pass them on
	# if it did not clear them): setpriv gives it CAP_SYS_ADMIN and
	# CAP_NET_RAW inheritable.
	run setpriv --inh-caps +sys_admin,+net_raw -- grep CapInh /proc/self/status
	assert_success
	assert_output_contains "$(cap_mask CAP_SYS_ADMIN CAP_NET_RAW)"

	# root with the default capabilities
	run setpriv --inh-caps +sys_admin,+net_raw -- env BERTH_IT_TAG="$TAG" "$BERTH_RUNTIME" --root "$ROOT" run c1
	assert_success
	assert_equal "$(status_field "$output" CapInh)" 0000000000000000 "root CapInh"
	assert_equal "$(status_field "$output" CapAmb)" 0000000000000000 "root CapAmb"
	assert_equal "$(status_field "$output" CapEff)" "$(cap_mask CAP_AUDIT_WRITE CAP_KILL CAP_NET_BIND_SERVICE)"

	# no capabilities object at all: the inheritable set is still cleared
	update_config 'del(.process.capabilities)'
	run setpriv --inh-caps +sys_admin,+net_raw -- env BERTH_IT_TAG="$TAG" "$BERTH_RUNTIME" --root "$ROOT" run c2
	assert_success
	assert_equal "$(status_field "$output" CapInh)" 0000000000000000 "no capabilities object: CapInh"
	assert_equal "$(status_field "$output" CapAmb)" 0000000000000000 "no capabilities object: CapAmb"

	# a non-root user with bounding/permitted/effective but no inheritable:
	# nothing may become inheritable (and so nothing ambient)
	update_config '.process.user = {uid: 1000, gid: 1000}
		| .process.capabilities = {bounding: $b, effective: $b, permitted: $b}' \
		--argjson b "$(caps_json CAP_CHOWN CAP_NET_RAW CAP_SYS_ADMIN)"
	run setpriv --inh-caps +sys_admin,+net_raw -- env BERTH_IT_TAG="$TAG" "$BERTH_RUNTIME" --root "$ROOT" run c3
	assert_success
	assert_equal "$(status_field "$output" CapInh)" 0000000000000000 "user 1000: CapInh"
	assert_equal "$(status_field "$output" CapPrm)" 0000000000000000 "user 1000: CapPrm"
	assert_equal "$(status_field "$output" CapEff)" 0000000000000000 "user 1000: CapEff"

	# exec --cap adds to bounding/effective/permitted, never inheritable
	update_config '.process.user = {uid: 0, gid: 0} | del(.process.capabilities)'
	set_args sleep 100
	berth_bg run -d c4
	run setpriv --inh-caps +sys_admin,+net_raw -- env BERTH_IT_TAG="$TAG" "$BERTH_RUNTIME" --root "$ROOT" \
		exec --cap CAP_SYS_ADMIN c4 cat /proc/self/status
	assert_success
	assert_equal "$(status_field "$output" CapInh)" 0000000000000000 "exec --cap: CapInh"
	assert_equal "$(status_field "$output" CapAmb)" 0000000000000000 "exec --cap: CapAmb"
}
