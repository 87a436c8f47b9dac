# Phase marks of one `berth-runtime run` from `perf trace` output (see
# bench/run.sh --only profile). Prints "MARK<TAB>ms since the exec" lines in
# the order of the lifecycle; marks not seen are left out.
#
# perf trace -e brk,execve,execveat,flock,socketpair,clone3,sendmsg,unshare,\
#   sethostname,pivot_root,capset,close_range,exit_group,wait4,rmdir,unlinkat
function mark(name, t) {
	if (!(name in seen)) {
		seen[name] = 1
		order[++n] = name
		at[name] = t
	}
}
{
	# "   4.016 ( 0.012 ms): comm/pid syscall(args) = ret"
	if ($1 == "?" || $0 !~ /\): /)
		next
	t = $1 + 0
	dur = 0
	if (match($0, /\( *[0-9.]+ ms\)/)) {
		d = substr($0, RSTART + 1, RLENGTH - 5)
		gsub(/ /, "", d)
		dur = d + 0
	}
	rest = substr($0, index($0, "): ") + 3)
	split(rest, a, " ")
	split(a[1], cp, "/")
	pid = cp[length(cp)]
	call = a[2]
	sub(/\(.*/, "", call)
	if (call == "..." || call == "")
		next
	ret = ""
	if (match($0, /= -?[0-9]+/))
		ret = substr($0, RSTART + 2, RLENGTH - 2)
	if (parent == "")
		parent = pid
	if (pid == parent) {
		if (!("first syscall" in seen)) { mark("first syscall", t); next }
		if (call == "execveat" && !("re-exec (execveat)" in seen)) { mark("re-exec (execveat)", t); reexec = 1; next }
		if (reexec == 1) { mark("first syscall after re-exec", t); reexec = 2 }
		if (call == "flock" && !("clone3 returned" in seen)) { mark("state lock taken", t); next }
		if (call == "socketpair") { mark("cgroups created (socketpair)", t); next }
		if (call == "clone3" && ret != "" && ret + 0 > 0) { mark("clone3 returned", t + dur); child = ret; next }
		if (call == "flock" && ("clone3 returned" in seen)) { mark("parent: start (flock)", t); next }
		if (call == "wait4" && ret == child) { mark("parent: wait4 returned", t + dur); next }
		if (call == "rmdir" && ("parent: wait4 returned" in seen)) { mark("parent: first cgroup rmdir", t); next }
		if (call == "unlinkat" && ("parent: first cgroup rmdir" in seen)) { last_unlink = t + dur; next }
		if (call == "exit_group") {
			if (last_unlink) mark("parent: state removed", last_unlink)
			mark("parent: exit", t)
		}
		next
	}
	if (pid == child) {
		if (call == "unshare") mark("child: unshare(cgroupns), cgroups joined", t)
		else if (call == "sethostname") mark("child: sethostname", t)
		else if (call == "pivot_root") mark("child: pivot_root (mounts done)", t)
		else if (call == "capset") mark("child: capset (masked/ro paths done)", t)
		else if (call == "execve") mark("child: execve of the workload", t)
		else if (call == "exit_group") mark("workload: exit_group", t)
	}
}
END {
	for (i = 1; i <= n; i++)
		printf "%s\t%.3f\n", order[i], at[order[i]]
}
