#include "runtime/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "runtime/container_internal.h"
#include "runtime/cpu_affinity.h"
#include "runtime/exe_guard.h"
#include "runtime/lsm.h"
#include "runtime/memory_policy.h"
#include "runtime/namespaces.h"
#include "runtime/process.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Order of joining: the user namespace first (the others belong to it),
 * the mount namespace last (it changes our root). */
static const enum spec_ns_type join_order[] = { NS_USER, NS_IPC,    NS_UTS,  NS_NETWORK,
						NS_PID,	 NS_CGROUP, NS_TIME, NS_MOUNT };

int exec_default_process(const runtime_globals *g, const char *id, spec_process **out, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_state_ container_state *st = NULL;
	_cleanup_free_ char *text = NULL;
	json_t *root, *proc;
	json_error_t jerr;
	int ret;

	if (spec_validate_container_id(id, err) < 0)
		return -1;
	dirfd = state_dir_open(g->root, id, err);
	if (dirfd < 0 || state_read(dirfd, &st, err) < 0)
		return -1;
	if (st->config_path == NULL || fs_read_file(st->config_path, &text, NULL, err) < 0)
		return berth_error_wrap(err, "read the container's config");
	root = json_loads(text, 0, &jerr);
	proc = root ? json_object_get(root, "process") : NULL;
	if (proc == NULL) {
		json_decref(root);
		return berth_error_set(err, EINVAL, "the container's config has no process");
	}
	{
		_cleanup_free_ char *ptext = json_dumps(proc, JSON_COMPACT);
		ret = spec_parse_process(ptext, out, err);
	}
	json_decref(root);
	return ret;
}

typedef struct exec_plan {
	const exec_options *opts;
	spec *config; /* the container's config: namespaces, seccomp, personality */
	int ns_fds[NS_TYPES];
	seccomp_filter filter;
	bool has_filter;
	bool in_userns;
	int sync_fd;
	int cgroup_fd;
	int root_fd; /* the init's root, when it has no mount namespace of its own */
} exec_plan;

/* In the intermediate, single-threaded: joins the container's cgroup, the
 * v1 hierarchies by writing "0" into their tasks files, the unified one by
 * its pid unless CLONE_INTO_CGROUP placed it there. */
static int enter_cgroup_self(cgroup_manager *cg, bool in_cgroup, berth_error **err)
{
	cgroup_self_join join = { .n = 0 };
	int ret;

	if (!in_cgroup && cgroup_manager_enter_unified(cg, getpid(), err) < 0)
		return -1;
	if (cgroup_manager_open_join(cg, &join, err) < 0)
		return -1;
	ret = cgroup_join_self(&join, err);
	cgroup_join_close(&join);
	return ret;
}

_Noreturn static void exec_fail(int sock, berth_error **err)
{
	sync_send(sock, SYNC_ERROR, 0, (*err && (*err)->msg) ? (*err)->msg : "exec failed", -1, NULL);
	_exit(1);
}

/* The process itself, after the namespaces are joined. */
_Noreturn static void exec_final(const exec_plan *plan)
{
	_cleanup_error_ berth_error *err = NULL;
	const spec_process *p = plan->opts->process;
	_cleanup_free_ char *exe = NULL;
	int listener = -1;
	bool nnp = p->no_new_privileges;

	if (plan->in_userns && setresgid(0, 0, 0) == 0)
		setresuid(0, 0, 0);
	if (p->terminal) {
		_cleanup_close_ int ptmx = open("/dev/ptmx", O_PATH | O_CLOEXEC);
		int master, peer;
		if (ptmx < 0 ||
		    terminal_open_pty(ptmx, p->console_height, p->console_width, &master, &peer, &err) < 0) {
			if (err == NULL)
				berth_error_set(&err, errno, "terminal: open /dev/ptmx in the container");
			exec_fail(plan->sync_fd, &err);
		}
		if (sync_send(plan->sync_fd, SYNC_CONSOLE, 0, NULL, master, &err) < 0)
			exec_fail(plan->sync_fd, &err);
		close(master);
		if (terminal_make_controlling(peer, p->user.uid, &err) < 0)
			exec_fail(plan->sync_fd, &err);
		close(peer);
	} else {
		/* A session and process group of its own, as runc: the
		 * runtime's are outside the container (getpgrp() would read 0
		 * in its pid namespace), and a foreground runtime forwards
		 * the signals. */
		setsid();
	}
	if (process_find_executable(p, &exe, &err) < 0 ||
	    process_apply_limits(p, &plan->config->personality, &err) < 0 ||
	    memory_policy_apply(&plan->config->memory_policy, &err) < 0)
		exec_fail(plan->sync_fd, &err);
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		berth_error_set(&err, errno, "process.noNewPrivileges");
		exec_fail(plan->sync_fd, &err);
	}
	if (process_enter_cwd(p, &err) < 0 || lsm_apply_exec_labels(p, &err) < 0)
		exec_fail(plan->sync_fd, &err);
	if (plan->has_filter && !nnp && seccomp_filter_load(&plan->filter, &listener, &err) < 0)
		exec_fail(plan->sync_fd, &err);
	if (process_set_identity(p, plan->in_userns, &err) < 0)
		exec_fail(plan->sync_fd, &err);
	if (plan->has_filter && nnp && seccomp_filter_load(&plan->filter, &listener, &err) < 0)
		exec_fail(plan->sync_fd, &err);
	if (listener >= 0)
		close(listener);
	process_prepare_fds(plan->opts->preserve_fds, NULL);
	/* the sync socket closes on exec: the runtime reads that as success */
	{
		char **env = process_build_env(p, 0);
		execve(exe, p->args, env ? env : p->env);
	}
	berth_error_set(&err, errno, "exec \"%s\"", exe);
	exec_fail(plan->sync_fd, &err);
}

/* The intermediate: joins the cgroup and namespaces, then forks the process
 * (a joined pid namespace applies to children only). */
_Noreturn static void exec_intermediate(exec_plan *plan)
{
	_cleanup_error_ berth_error *err = NULL;
	pid_t pid;

	/* Our child is visible in the container until its execve: in the
	 * host's user namespace, hide its /proc/PID/exe and fds (see init.c). */
	if (plan->ns_fds[NS_USER] < 0 && exe_guard_make_undumpable(&err) < 0)
		exec_fail(plan->sync_fd, &err);
	for (size_t i = 0; i < sizeof(join_order) / sizeof(join_order[0]); i++) {
		enum spec_ns_type t = join_order[i];
		if (plan->ns_fds[t] < 0)
			continue;
		if (setns(plan->ns_fds[t], spec_ns_clone_flag(t)) < 0) {
			berth_error_set(&err, errno, "join the container's %s namespace", spec_ns_name(t));
			exec_fail(plan->sync_fd, &err);
		}
		close(plan->ns_fds[t]);
		plan->ns_fds[t] = -1;
	}
	/* A container without a mount namespace of its own lives in a
	 * detached tree (rootfs.h): enter it by the init's root. */
	if (plan->root_fd >= 0 && (fchdir(plan->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)) {
		berth_error_set(&err, errno, "enter the container's root");
		exec_fail(plan->sync_fd, &err);
	}
	pid = fork();
	if (pid < 0) {
		berth_error_set(&err, errno, "fork the exec process");
		exec_fail(plan->sync_fd, &err);
	}
	if (pid == 0)
		exec_final(plan);
	sync_send(plan->sync_fd, SYNC_GRANDCHILD_PID, pid, NULL, -1, NULL);
	_exit(0);
}

static bool same_namespace(pid_t pid, const char *name)
{
	char a[64], b[64];
	struct stat sa, sb;
	snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, name);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", name);
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

static int open_container_namespaces(const container_state *st, exec_plan *plan, berth_error **err)
{
	static const char *const proc_names[NS_TYPES] = {
		[NS_PID] = "pid", [NS_NETWORK] = "net", [NS_MOUNT] = "mnt",	[NS_IPC] = "ipc",
		[NS_UTS] = "uts", [NS_USER] = "user",	[NS_CGROUP] = "cgroup", [NS_TIME] = "time",
	};
	for (int t = 0; t < NS_TYPES; t++) {
		char path[64];
		plan->ns_fds[t] = -1;
		if (same_namespace(st->pid, proc_names[t]))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)st->pid, proc_names[t]);
		plan->ns_fds[t] = open(path, O_RDONLY | O_CLOEXEC);
		if (plan->ns_fds[t] < 0) {
			if (errno == ENOENT)
				continue; /* kernel without this namespace type */
			return berth_error_set(err, errno, "open \"%s\"", path);
		}
	}
	plan->in_userns = plan->ns_fds[NS_USER] >= 0;
	/* Without a mount namespace made for it, the init's root is not the
	 * root of its mount namespace (a detached tree, see rootfs.h), also
	 * when exec runs in another mount namespace than create did. */
	if (!plan->config->namespaces[NS_MOUNT].requested || plan->config->namespaces[NS_MOUNT].path != NULL) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/root", (int)st->pid);
		plan->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (plan->root_fd < 0)
			return berth_error_set(err, errno, "open \"%s\"", path);
	}
	return 0;
}

int container_exec(const runtime_globals *g, const exec_options *opts, int *exit_code, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_close_ int console_sock = -EBADF;
	_cleanup_state_ container_state *st = NULL;
	_cleanup_cgroup_manager_ cgroup_manager *cg = NULL;
	_cleanup_free_ char *cache_dir = NULL;
	_cleanup_spec_ spec *config = NULL;
	exec_plan plan = { .opts = opts, .sync_fd = -1, .cgroup_fd = -1, .root_fd = -1 };
	enum container_status status;
	int sv[2] = { -1, -1 }, master = -1;
	pid_t inter, pid = 0;
	sigset_t forwarded, saved_mask;
	bool blocked = false, in_cgroup, has_subs;

	*exit_code = 0;
	for (int t = 0; t < NS_TYPES; t++)
		plan.ns_fds[t] = -1;
	if (spec_validate_container_id(opts->id, err) < 0)
		return berth_error_wrap(err, "exec");
	dirfd = state_dir_open(g->root, opts->id, err);
	if (dirfd < 0 || state_read(dirfd, &st, err) < 0)
		return berth_error_wrap(err, "exec %s", opts->id);
	status = state_current_status(dirfd, st);
	if (status != STATUS_RUNNING && status != STATUS_CREATED && !(status == STATUS_PAUSED && opts->ignore_paused))
		return berth_error_set(err, 0, "exec %s: cannot exec in a %s container", opts->id,
				       state_status_name(status));
	if (lsm_check_available(opts->process, err) < 0)
		return berth_error_wrap(err, "exec %s", opts->id);
	if (opts->process->terminal && opts->console_socket == NULL && opts->detach)
		return berth_error_set(err, EINVAL, "exec %s: a terminal with --detach needs --console-socket",
				       opts->id);
	if (st->config_path && spec_load(st->config_path, &config, err) < 0)
		return berth_error_wrap(err, "exec %s", opts->id);
	plan.config = config;
	cache_dir = fs_path_join(g->root, ".seccomp-cache");
	if (config->seccomp.present) {
		if (seccomp_filter_prepare(&config->seccomp, cache_dir, &plan.filter, err) < 0)
			return berth_error_wrap(err, "exec %s: linux.seccomp", opts->id);
		plan.has_filter = true;
	}
	if (open_container_namespaces(st, &plan, err) < 0)
		goto fail;
	if (st->cgroup && cgroup_manager_from_json(st->cgroup, &cg, err) < 0)
		goto fail;
	has_subs = opts->sub_cgroups != NULL && opts->sub_cgroups[0] != NULL;
	if (has_subs) {
		if (cg == NULL) {
			berth_error_set(err, ENOENT, "--cgroup: the container has no cgroup");
			goto fail;
		}
		if (cgroup_manager_select_sub(cg, opts->sub_cgroups, err) < 0)
			goto fail;
	}
	if (opts->console_socket) {
		console_sock = terminal_connect_console_socket(opts->console_socket, err);
		if (console_sock < 0)
			goto fail;
	}
	if (!opts->process->terminal &&
	    process_chown_stdio(st->pid, opts->process->user.uid, opts->process->user.gid, err) < 0)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		berth_error_set(err, errno, "socketpair");
		goto fail;
	}
	/* reap the process ourselves once the intermediate exits */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* a signal that arrives while the process starts is forwarded */
	if (!opts->detach) {
		container_block_forwarded_signals(&forwarded, &saved_mask);
		blocked = true;
	}
	/* Into the unified cgroup by CLONE_INTO_CGROUP (not a --cgroup
	 * sub-cgroup: the fd is the container's), and the v1 ones by itself:
	 * no write of its pid into cgroup.procs, which waits for an RCU grace
	 * period (cgroup_self_join). */
	inter = namespaces_clone(0, cg != NULL && !has_subs ? cgroup_manager_v2_fd(cg) : -1, &in_cgroup);
	if (inter < 0) {
		berth_error_set(err, errno, "fork");
		goto fail;
	}
	if (inter == 0) {
		exe_guard_release();
		if (!opts->detach)
			sigprocmask(SIG_SETMASK, &saved_mask, NULL);
		close(sv[0]);
		plan.sync_fd = sv[1];
		if (cpu_affinity_apply(opts->process->exec_cpu_affinity_initial, "process.execCPUAffinity.initial",
				       err) < 0 ||
		    (cg != NULL && enter_cgroup_self(cg, in_cgroup, err) < 0) ||
		    cpu_affinity_apply(opts->process->exec_cpu_affinity_final, "process.execCPUAffinity.final", err) <
			0)
			exec_fail(sv[1], err);
		exec_intermediate(&plan);
	}
	close(sv[1]);
	sv[1] = -1;
	for (;;) {
		_cleanup_free_ char *payload = NULL;
		sync_msg msg;
		int fd = -1;
		if (sync_recv(sv[0], &msg, &payload, &fd, err) < 0) {
			if (pid > 0) {
				/* closed on exec: the process is running */
				berth_error_free(err);
				break;
			}
			goto fail_child;
		}
		if (msg.type == SYNC_ERROR) {
			berth_error_set(err, 0, "%s", payload ? payload : "exec failed");
			goto fail_child;
		}
		if (msg.type == SYNC_GRANDCHILD_PID)
			pid = msg.value;
		else if (msg.type == SYNC_CONSOLE) {
			if (console_sock >= 0) {
				int ret = sync_send_fd(console_sock, fd, "console", err);
				close(fd);
				if (ret < 0)
					goto fail_child;
			} else {
				master = fd;
			}
		}
	}
	while (waitpid(inter, NULL, 0) < 0 && errno == EINTR)
		;
	close(sv[0]);
	sv[0] = -1;
	if (opts->pid_file && state_write_pid_file(opts->pid_file, pid, err) < 0) {
		kill(pid, SIGKILL);
		goto fail;
	}
	namespaces_close_fds(plan.ns_fds);
	seccomp_filter_clear(&plan.filter);
	if (plan.root_fd >= 0)
		close(plan.root_fd);
	if (opts->detach)
		return 0;
	/* the process runs: the wait for its exit covers the unmount */
	exe_guard_release();
	/* the process has a session of its own: signals reach it through us */
	return container_wait_foreground(pid, master, exit_code, err) < 0 ? berth_error_wrap(err, "exec %s", opts->id)
									  : 0;

fail_child:
	if (pid > 0)
		kill(pid, SIGKILL);
	kill(inter, SIGKILL);
	while (waitpid(inter, NULL, 0) < 0 && errno == EINTR)
		;
	if (pid > 0)
		waitpid(pid, NULL, 0);
fail:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (master >= 0)
		close(master);
	if (plan.root_fd >= 0)
		close(plan.root_fd);
	if (blocked)
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
	namespaces_close_fds(plan.ns_fds);
	seccomp_filter_clear(&plan.filter);
	return berth_error_wrap(err, "exec %s", opts->id);
}
