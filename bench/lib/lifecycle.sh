#!/bin/sh
# One create + start + wait-for-exit + delete cycle, the way a shim drives a
# runtime (separate invocations), for hyperfine:
#
#   lifecycle.sh RUNTIME ROOT ID BUNDLE
#
# The container's stdout is a pipe that this script reads to EOF, so the read
# returns when the last holder of the pipe (the container process) has exited;
# then we wait until the init pid is gone or a zombie (bench/run.sh runs under
# a child subreaper that reaps it) and delete it. The same script drives all
# runtimes, so its own cost (one sh, one subshell) is the same for each.
set -eu
rt=$1 root=$2 id=$3 bundle=$4
pidfile="$root.$id.pid"   # beside ROOT, not in it (runc list reads every entry)

{
	"$rt" --root "$root" create --bundle "$bundle" --pid-file "$pidfile" "$id"
	"$rt" --root "$root" start "$id"
} </dev/null | while read -r _; do :; done

pid=$(cat "$pidfile")
rm -f "$pidfile"
# The workload has closed its stdout; it exits right after. Spin until gone.
while [ -e "/proc/$pid" ]; do
	read -r _ _ st _ 2>/dev/null <"/proc/$pid/stat" || break
	[ "$st" = Z ] && break
done
"$rt" --root "$root" delete "$id"
