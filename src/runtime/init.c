#include "runtime/init.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/sched.h>

#include "runtime/cpu_affinity.h"
#include "runtime/exe_guard.h"
#include "runtime/hooks.h"
#include "runtime/lsm.h"
#include "runtime/memory_policy.h"
#include "runtime/namespaces.h"
#include "runtime/process.h"
#include "runtime/rootfs.h"
#include "runtime/state.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/log.h"

#define KEYCTL_JOIN_SESSION_KEYRING 1

/* The state for hooks run after create (startContainer: "created", as runc
 * reports it), rewritten in place; "{}" when there is none. */
static const char *state_with_status(char **state_json, const char *status)
{
	json_t *obj = *state_json ? json_loads(*state_json, 0, NULL) : NULL;
	char *text;

	if (obj == NULL)
		return *state_json ? *state_json : "{}";
	json_object_set_new(obj, "status", json_string(status));
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text != NULL) {
		free(*state_json);
		*state_json = text;
	}
	return *state_json;
}

_Noreturn static void init_fail(const init_config *cfg, berth_error **err)
{
	sync_send(cfg->sync_fd, SYNC_ERROR, 0, (*err && (*err)->msg) ? (*err)->msg : "container init failed", -1, NULL);
	_exit(1);
}

static int join_namespaces(const init_config *cfg, berth_error **err)
{
	/* pid and time are joined by the parent (they apply to children); the
	 * user namespace last, while we still hold the host's privileges. */
	for (int t = 0; t < NS_TYPES; t++) {
		if (cfg->ns_fds[t] < 0 || t == NS_PID || t == NS_TIME || t == NS_USER)
			continue;
		if (setns(cfg->ns_fds[t], spec_ns_clone_flag(t)) < 0)
			return berth_error_set(err, errno, "join %s namespace \"%s\"", spec_ns_name(t),
					       cfg->spec->namespaces[t].path ? cfg->spec->namespaces[t].path
									     : "(made for the container)");
	}
	if (cfg->ns_fds[NS_USER] >= 0 && setns(cfg->ns_fds[NS_USER], CLONE_NEWUSER) < 0)
		return berth_error_set(err, errno, "join user namespace \"%s\"", cfg->spec->namespaces[NS_USER].path);
	for (int t = 0; t < NS_TYPES; t++)
		if (cfg->ns_fds[t] >= 0)
			close(cfg->ns_fds[t]);
	return 0;
}

static int set_names(const spec *s, berth_error **err)
{
	if (s->has_hostname && s->namespaces[NS_UTS].requested && sethostname(s->hostname, strlen(s->hostname)) < 0)
		return berth_error_set(err, errno, "hostname: sethostname \"%s\"", s->hostname);
	if (s->has_domainname && s->namespaces[NS_UTS].requested &&
	    setdomainname(s->domainname, strlen(s->domainname)) < 0)
		return berth_error_set(err, errno, "domainname: setdomainname \"%s\"", s->domainname);
	return 0;
}

/* Like runc and crun: a network namespace the runtime creates gets its
 * loopback interface up (podman --network none, ctr run without --net-host
 * and every CNI plugin rely on it). A joined namespace is left alone. */
static int loopback_up(const spec *s, berth_error **err)
{
	struct ifreq ifr = { 0 };
	_cleanup_close_ int fd = -EBADF;

	if (!s->namespaces[NS_NETWORK].requested || s->namespaces[NS_NETWORK].path != NULL)
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return berth_error_set(err, errno, "bring up lo: socket");
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return berth_error_set(err, errno, "bring up lo: SIOCGIFFLAGS");
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return berth_error_set(err, errno, "bring up lo: SIOCSIFFLAGS");
	return 0;
}

/* Blocks until `start` opens the other end for reading, writes the byte,
 * and keeps the fifo open until execve closes it: `start` reads EOF once
 * the process runs (or the init died), so poststart hooks run after the
 * startContainer hooks and the exec (runtime-spec). The fd is moved above
 * the preserved fds, which lose O_CLOEXEC before the exec. */
static int wait_exec_fifo(const init_config *cfg, berth_error **err)
{
	int fd, kept;

	do
		fd = openat(cfg->state_dirfd, STATE_EXEC_FIFO, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return berth_error_set(err, errno, "open the exec fifo");
	if (write(fd, "0", 1) != 1) {
		int e = errno;
		close(fd);
		return berth_error_set(err, e, "write the exec fifo");
	}
	kept = fcntl(fd, F_DUPFD_CLOEXEC, 3 + (cfg->preserve_fds > 0 ? cfg->preserve_fds : 0));
	close(fd);
	if (kept < 0)
		return berth_error_set(err, errno, "keep the exec fifo open");
	close(cfg->state_dirfd);
	return 0;
}

/* `run`: no exec fifo, the process starts once ready. The sync socket stays
 * open (moved above the preserved fds) until execve closes it, so the
 * runtime reads EOF once the process runs, for its poststart hooks. */
static int keep_sync_fd_until_exec(const init_config *cfg, berth_error **err)
{
	int kept = fcntl(cfg->sync_fd, F_DUPFD_CLOEXEC, 3 + (cfg->preserve_fds > 0 ? cfg->preserve_fds : 0));

	close(cfg->sync_fd);
	if (kept < 0)
		return berth_error_set(err, errno, "keep the sync socket open");
	close(cfg->state_dirfd);
	return 0;
}

/* create and run of a runtime that is not sealed: the init moves its image
 * onto a read-only bind in its own mount namespace, before anything of the
 * container can see it (nothing else is in its new pid namespace yet). If
 * that cannot be done, a detached read-only tree, released at once: its
 * fd must not reach the container. */
static int seal_init_exe(berth_error **err)
{
	_cleanup_error_ berth_error *why = NULL;

	if (exe_guard_seal_in_mount_ns(&why) == 0)
		return 0;
	berth_debug("runtime binary: %s; sealing from a detached mount", why->msg);
	if (exe_guard_seal_in_place(err) < 0)
		return berth_error_wrap(err, "protect the runtime binary (CVE-2019-5736)");
	exe_guard_release();
	return 0;
}

/* The namespaces to join are joined; now create the user namespace (unless
 * one was joined) and the others, owned by it, and fork: a new pid namespace
 * takes effect for children only. The intermediate reports the init's pid
 * and exits; the init returns to continue the setup, a child of the runtime
 * (CLONE_PARENT). */
static void become_init_in_new_userns(const init_config *cfg)
{
	_cleanup_error_ berth_error *err = NULL;
	/* with CLONE_PARENT the exit signal is the caller's (SIGCHLD); clone3 refuses one */
	struct clone_args args = { .flags = CLONE_PARENT };
	pid_t pid;

	if (cfg->new_userns) {
		if (unshare(CLONE_NEWUSER) < 0) {
			berth_error_set(&err, errno, "create user namespace");
			init_fail(cfg, &err);
		}
		if (sync_send(cfg->sync_fd, SYNC_USERNS, 0, NULL, -1, &err) < 0 ||
		    sync_expect(cfg->sync_fd, SYNC_MAPS_DONE, NULL, NULL, &err) < 0)
			init_fail(cfg, &err);
	}
	/* still the runtime's ids (the init takes the container's root after
	 * opening the bind sources) */
	if (unshare(cfg->late_flags) < 0) {
		berth_error_set(&err, errno, "create namespaces in the new user namespace");
		init_fail(cfg, &err);
	}
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		berth_error_set(&err, errno, "fork the init in its namespaces");
		init_fail(cfg, &err);
	}
	if (pid > 0) {
		sync_send(cfg->sync_fd, SYNC_GRANDCHILD_PID, pid, NULL, -1, NULL);
		_exit(0);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Whether the init would build the rootfs in the caller's own mount
 * namespace: none is listed (inherited), or the one joined by path is the
 * caller's. pivot_root there would move the root of every process of the
 * host; the rootfs is built in a private one instead (rootfs.h). */
static bool needs_setup_namespace(const init_config *cfg)
{
	struct stat joined, own;

	if (!cfg->spec->namespaces[NS_MOUNT].requested)
		return true;
	return cfg->ns_fds[NS_MOUNT] >= 0 && fstat(cfg->ns_fds[NS_MOUNT], &joined) == 0 &&
	       stat("/proc/self/ns/mnt", &own) == 0 && joined.st_ino == own.st_ino && joined.st_dev == own.st_dev;
}

/* A container starts with every signal at its default action and none
 * blocked, whatever its parent's state: berth's monitor creates in-process
 * with the signals it handles blocked (it reads them from a signalfd) and
 * SIGPIPE ignored, and an ignored signal would stay ignored across the
 * container's execve (`yes | head -1` would never end). Actions go back to
 * default before the mask is cleared, so no handler of the parent's runs
 * here. */
static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
			continue;
		if (sa.sa_handler != SIG_DFL)
			signal(sig, SIG_DFL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The v1 cgroup files the runtime sent to join (SYNC_CGROUP_JOIN). */
static cgroup_self_join cgroup_to_join;

/* Keeps the fds and paths of a SYNC_CGROUP_JOIN (N fds, PATHS one a line). */
static int keep_cgroup_join(int *fds, size_t n, char *paths, berth_error **err)
{
	char *line = paths;

	for (size_t i = 0; i < n; i++) {
		char *nl = line ? strchr(line, '\n') : NULL;
		if (nl != NULL)
			*nl = '\0';
		cgroup_to_join.fds[i] = fds[i];
		cgroup_to_join.paths[i] = strdup(line && *line ? line : "tasks");
		cgroup_to_join.n = i + 1;
		if (cgroup_to_join.paths[i] == NULL) {
			for (size_t j = i + 1; j < n; j++)
				close(fds[j]);
			return berth_error_set(err, ENOMEM, "cgroup: join");
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* Waits for SYNC_GO, keeping the SYNC_CGROUP_JOIN fds that come first. */
static int wait_for_go(int sock, berth_error **err)
{
	for (;;) {
		_cleanup_free_ char *text = NULL;
		int fds[SYNC_FDS_MAX];
		size_t n = 0;
		sync_msg msg;

		if (sync_recv_fds(sock, &msg, &text, fds, SYNC_FDS_MAX, &n, err) < 0)
			return -1;
		if (msg.type == SYNC_GO && n == 0)
			return 0;
		if (msg.type != SYNC_CGROUP_JOIN || n == 0 || n > CGROUP_JOIN_MAX || cgroup_to_join.n > 0) {
			while (n > 0)
				close(fds[--n]);
			if (msg.type == SYNC_ERROR)
				return berth_error_set(err, 0, "%s", text ? text : "the runtime failed");
			return berth_error_set(err, EPROTO, "unexpected message %d from the runtime", msg.type);
		}
		if (keep_cgroup_join(fds, n, text, err) < 0)
			return -1;
	}
}

/* The init joins its cgroup's v1 hierarchies itself, through the files the
 * runtime sent, once SYNC_GO says the resources are written (the devices
 * rules come before any device node), and makes the cgroup namespace, with
 * that cgroup as its root. Runs once. */
static int enter_cgroup(rootfs_context *ctx, berth_error **err)
{
	const init_config *cfg = ctx->cgroup_ready_arg;
	const spec *s = cfg->spec;
	int ret;

	ctx->cgroup_ready = NULL;
	if (cfg->early_setup && wait_for_go(cfg->sync_fd, err) < 0)
		return -1;
	cpu_spread_end(cfg->spread);
	ret = cgroup_join_self(&cgroup_to_join, err);
	/* host files: gone before anything of the container runs */
	cgroup_join_close(&cgroup_to_join);
	if (ret < 0)
		return -1;
	if (s->namespaces[NS_CGROUP].requested && s->namespaces[NS_CGROUP].path == NULL && unshare(CLONE_NEWCGROUP) < 0)
		return berth_error_set(err, errno, "create cgroup namespace");
	return 0;
}

_Noreturn void container_init_main(const init_config *cfg)
{
	_cleanup_error_ berth_error *err = NULL;
	const spec *s = cfg->spec;
	const spec_process *p = s->process;
	rootfs_context ctx = { .spec = s,
			       .rootfs = cfg->rootfs,
			       .rootfd = -1,
			       .console_master = -1,
			       .idmap_fds = cfg->idmap_fds,
			       .caller_mntns = -1,
			       .cgroup_ready = cfg->early_setup ? enter_cgroup : NULL };
	_cleanup_free_ char *state_json = NULL;
	_cleanup_free_ char *exe = NULL;
	_cleanup_close_ int caller_cwd = -EBADF;
	int console_peer = -1, listener = -1;
	bool nnp = p->no_new_privileges;
	bool early_seccomp = cfg->seccomp && (!nnp || cfg->seccomp->needs_listener);
	bool setup_ns;

	cpu_spread_move(cfg->spread, 0);
	/* the runtime's copies keep the read-only view of its binary alive and
	 * the cgroup open: no host fd is left for /proc/1/fd */
	exe_guard_release();
	if (cfg->cgroup_clone_fd >= 0)
		close(cfg->cgroup_clone_fd);
	reset_signals();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* In the host's user namespace the container's root could otherwise
	 * open our /proc/1/exe, fds and cwd (the state directory) until start.
	 * In a user namespace it cannot write them, and the runtime must still
	 * open our /proc files (uid maps, rootless exec before start). */
	if (!cfg->new_userns && cfg->ns_fds[NS_USER] < 0 && exe_guard_make_undumpable(&err) < 0)
		_exit(1);
	if (!cfg->early_setup && wait_for_go(cfg->sync_fd, &err) < 0)
		_exit(1);
	/* early setup in a new user namespace: once it is mapped */
	if (cfg->early_setup && cfg->new_userns && sync_expect(cfg->sync_fd, SYNC_MAPS_DONE, NULL, NULL, &err) < 0)
		_exit(1);
	setup_ns = needs_setup_namespace(cfg);
	if (join_namespaces(cfg, &err) < 0)
		init_fail(cfg, &err);
	if (cfg->late_userns)
		become_init_in_new_userns(cfg);
	if (setup_ns && rootfs_enter_setup_namespace(&ctx, &err) < 0)
		init_fail(cfg, &err);
	/* with the runtime's uid, before the container's ids are taken (without
	 * a user namespace each is opened when it is mounted) */
	if ((cfg->new_userns || cfg->ns_fds[NS_USER] >= 0) && rootfs_open_bind_sources(&ctx, &err) < 0)
		init_fail(cfg, &err);
	/* Also when the runtime itself runs in a user namespace (rootless
	 * podman): no mknod there either, devices are bind-mounted, as runc. */
	ctx.in_userns = cfg->new_userns || cfg->ns_fds[NS_USER] >= 0 || namespaces_in_user_namespace();
	if (ctx.in_userns) {
		/* act as the container's root while setting up, if it is mapped */
		if (setresgid(0, 0, 0) == 0)
			setresuid(0, 0, 0);
	}
	/* the mounts below change the working directory (fs_mount_on_fd) */
	if (init_wants_hook_sync(s) && (caller_cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		berth_error_set(&err, errno, "open the working directory");
		init_fail(cfg, &err);
	}
	ctx.cgroup_ready_arg = (void *)cfg;
	ctx.cgroup_mounts = cfg->cgroup_mounts;
	ctx.n_cgroup_mounts = cfg->n_cgroup_mounts;
	ctx.new_cgroupns = s->namespaces[NS_CGROUP].requested && s->namespaces[NS_CGROUP].path == NULL;
	if (!cfg->early_setup && enter_cgroup(&ctx, &err) < 0)
		init_fail(cfg, &err);
	if (!cfg->no_new_keyring) {
		char name[128];
		snprintf(name, sizeof(name), "_ses.%.100s", cfg->id);
		if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name) < 0 && errno != ENOSYS && errno != EACCES &&
		    errno != EPERM && errno != EDQUOT) {
			berth_error_set(&err, errno, "join a new session keyring");
			init_fail(cfg, &err);
		}
	}
	if (set_names(s, &err) < 0 || loopback_up(s, &err) < 0)
		init_fail(cfg, &err);
	/* device nodes are made under the container's devices cgroup */
	/* With early setup and nothing else before pivot_root (no pty, no
	 * container hooks) the cgroup mounts and the device nodes come after
	 * it: the old root's unmount, which waits for an RCU grace period,
	 * then overlaps the runtime's cgroup work instead of following GO.
	 * Only where the hierarchies are mounted afresh in a new cgroup
	 * namespace: a bind of the host's cgroup needs the old root. */
	ctx.defer_cgroup_mounts = cfg->early_setup && !p->terminal && !init_wants_hook_sync(s) && !cfg->no_pivot &&
				  !ctx.in_userns && !setup_ns && ctx.new_cgroupns && ctx.cgroup_mounts != NULL &&
				  rootfs_cgroup_mounts_deferrable(s);
	if (rootfs_prepare(&ctx, &err) < 0 || (cfg->seal_exe && seal_init_exe(&err) < 0) ||
	    rootfs_mount_all(&ctx, &err) < 0)
		init_fail(cfg, &err);
	if (!ctx.defer_cgroup_mounts &&
	    ((ctx.cgroup_ready && ctx.cgroup_ready(&ctx, &err) < 0) || rootfs_create_devices(&ctx, &err) < 0))
		init_fail(cfg, &err);
	if (p->terminal) {
		if (rootfs_setup_console(&ctx, &console_peer, &err) < 0)
			init_fail(cfg, &err);
		if (sync_send(cfg->sync_fd, SYNC_CONSOLE, 0, NULL, ctx.console_master, &err) < 0)
			init_fail(cfg, &err);
		close(ctx.console_master);
	}
	if (init_wants_hook_sync(s)) {
		/* the hooks run where the runtime was started, as before the mounts */
		if (fchdir(caller_cwd) < 0) {
			berth_error_set(&err, errno, "chdir back to the runtime's working directory");
			init_fail(cfg, &err);
		}
		if (sync_send(cfg->sync_fd, SYNC_HOOKS, 0, NULL, -1, &err) < 0 ||
		    sync_expect(cfg->sync_fd, SYNC_HOOKS_DONE, &state_json, NULL, &err) < 0)
			init_fail(cfg, &err);
		if (hooks_run(s, HOOK_CREATE_CONTAINER, state_json ? state_json : "{}", &err) < 0)
			init_fail(cfg, &err);
	}
	if (rootfs_pivot(&ctx, cfg->no_pivot, &err) < 0)
		init_fail(cfg, &err);
	if (ctx.defer_cgroup_mounts &&
	    (rootfs_mount_deferred(&ctx, &err) < 0 || (ctx.cgroup_ready && ctx.cgroup_ready(&ctx, &err) < 0) ||
	     rootfs_create_devices(&ctx, &err) < 0))
		init_fail(cfg, &err);
	if (rootfs_create_cwd(&ctx, p->cwd, &err) < 0 || rootfs_finalize(&ctx, &err) < 0 ||
	    rootfs_leave_setup_namespace(&ctx, &err) < 0)
		init_fail(cfg, &err);
	/* the mounts left the working directory where they mounted last */
	if (chdir("/") < 0) {
		berth_error_set(&err, errno, "chdir to \"/\"");
		init_fail(cfg, &err);
	}
	close(ctx.rootfd);
	if (process_find_executable(p, &exe, &err) < 0 || process_apply_limits(p, &s->personality, &err) < 0 ||
	    memory_policy_apply(&s->memory_policy, &err) < 0)
		init_fail(cfg, &err);
	if (console_peer >= 0) {
		if (terminal_make_controlling(console_peer, p->user.uid, &err) < 0)
			init_fail(cfg, &err);
		close(console_peer);
	}
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		berth_error_set(&err, errno, "process.noNewPrivileges");
		init_fail(cfg, &err);
	}
	if (process_enter_cwd(p, &err) < 0 || lsm_apply_exec_labels(p, &err) < 0)
		init_fail(cfg, &err);
	if (early_seccomp) {
		/* Without no_new_privs loading a filter needs CAP_SYS_ADMIN,
		 * which the identity change below may drop. */
		if (seccomp_filter_load(cfg->seccomp, &listener, &err) < 0)
			init_fail(cfg, &err);
		if (listener >= 0) {
			if (sync_send(cfg->sync_fd, SYNC_SECCOMP, 0, NULL, listener, &err) < 0 ||
			    sync_expect(cfg->sync_fd, SYNC_SECCOMP_DONE, NULL, NULL, &err) < 0)
				init_fail(cfg, &err);
			close(listener);
		}
	}
	if (process_set_identity(p, ctx.in_userns, &err) < 0)
		init_fail(cfg, &err);
	prctl(PR_SET_PDEATHSIG, 0);
	if (sync_send(cfg->sync_fd, SYNC_READY, 0, NULL, -1, &err) < 0)
		_exit(1);
	if (cfg->start_now) {
		if ((s->n_net_devices > 0 && sync_expect(cfg->sync_fd, SYNC_START, NULL, NULL, &err) < 0) ||
		    keep_sync_fd_until_exec(cfg, &err) < 0)
			_exit(1);
	} else {
		close(cfg->sync_fd);
		if (wait_exec_fifo(cfg, &err) < 0)
			_exit(1);
	}
	if (s->hooks[HOOK_START_CONTAINER].n > 0 &&
	    hooks_run(s, HOOK_START_CONTAINER, state_with_status(&state_json, "created"), &err) < 0) {
		fprintf(stderr, "berth-runtime: %s\n", err->msg);
		_exit(1);
	}
	if (cfg->seccomp && !early_seccomp && seccomp_filter_load(cfg->seccomp, &listener, &err) < 0) {
		fprintf(stderr, "berth-runtime: %s\n", err->msg);
		_exit(1);
	}
	process_prepare_fds(cfg->preserve_fds, NULL);
	{
		char **env = process_build_env(p, cfg->listen_fds);
		execve(exe, p->args, env ? env : p->env);
		fprintf(stderr, "berth-runtime: exec \"%s\": %s\n", exe, strerror(errno));
	}
	_exit(127);
}
