/* start, kill, delete, state, list and run. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "runtime/exe_guard.h"
#include "runtime/container_internal.h"
#include "runtime/hooks.h"
#include "runtime/terminal.h"
#include "runtime/state.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

static int open_locked(const runtime_globals *g, const char *id, int *dirfd, int *lockfd, container_state **st,
		       berth_error **err)
{
	if (spec_validate_container_id(id, err) < 0)
		return -1;
	*dirfd = state_dir_open(g->root, id, err);
	if (*dirfd < 0)
		return -1;
	*lockfd = state_lock(*dirfd, err);
	if (*lockfd < 0)
		return -1;
	return state_read(*dirfd, st, err);
}

/* The config saved at create time, for hooks that run after it. */
static spec *load_saved_spec(const container_state *st)
{
	spec *s = NULL;
	_cleanup_error_ berth_error *err = NULL;
	if (st->config_path == NULL || spec_load(st->config_path, &s, &err) < 0) {
		if (err)
			berth_log(BERTH_LOG_WARNING, "reload config for hooks: %s", err->msg);
		return NULL;
	}
	return s;
}

/* Runs the poststart or poststop hooks saved in config.json. A failing
 * poststop hook is a warning; a failing poststart hook is an error
 * (runtime-spec 1.3). The config is only read again when create recorded
 * that it has such hooks: start and delete stay cheap. */
static int run_saved_hooks(const container_state *st, enum spec_hook_kind kind, enum container_status status,
			   berth_error **err)
{
	_cleanup_error_ berth_error *hook_err = NULL;
	_cleanup_free_ char *state_json = NULL;
	bool wanted = kind == HOOK_POSTSTART ? st->has_poststart_hooks : st->has_poststop_hooks;
	spec *s;
	int ret = 0;

	if (!wanted || (s = load_saved_spec(st)) == NULL)
		return 0;
	state_json = state_to_oci_string(st, status);
	if (hooks_run(s, kind, state_json, &hook_err) < 0) {
		if (kind == HOOK_POSTSTOP || err == NULL) {
			berth_log(BERTH_LOG_WARNING, "%s", hook_err->msg);
		} else {
			*err = hook_err;
			hook_err = NULL;
			ret = -1;
		}
	}
	spec_free(s);
	return ret;
}

static bool wait_init_gone(const container_state *st, int timeout_ms);
static int signal_init(const container_state *st, int signo, berth_error **err);

/* The init keeps its end of the fifo open until its execve: EOF means the
 * process runs (or the init is gone). */
static void wait_init_exec(int fd, const container_state *st)
{
	_cleanup_close_ int pidfd = syscall(SYS_pidfd_open, st->pid, 0);

	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
		char c;
		ssize_t n;

		if (poll(p, pidfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pidfd >= 0 && p[1].revents)
			return;
		n = read(fd, &c, 1);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return;
	}
}

/* Reads the byte the init writes once it is released, then waits for it to
 * exec the process. */
static int consume_exec_fifo(int dirfd, const container_state *st, berth_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, STATE_EXEC_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	_cleanup_close_ int pidfd = syscall(SYS_pidfd_open, st->pid, 0);
	struct timespec start, now;

	if (fd < 0)
		return berth_error_set(err, errno, "open the exec fifo");
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n == 1) {
			wait_init_exec(fd, st);
			return 0;
		}
		if (n < 0 && errno == EAGAIN) {
			/* the writer is connected and about to write */
			struct pollfd p = { .fd = fd, .events = POLLIN };
			poll(&p, 1, 100);
			continue;
		}
		if (n < 0 && errno != EINTR)
			return berth_error_set(err, errno, "read the exec fifo");
		/* n == 0: no writer yet (it is opening) or the init died */
		if (!state_init_alive(st))
			return berth_error_set(err, ESRCH, "the container init exited before start");
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10)
			return berth_error_set(err, ETIMEDOUT, "the container init did not answer on the exec fifo");
		/* Until a writer connects the fifo polls neither readable nor
		 * hung up: sleep until the init writes or exits. */
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
		if (poll(p, pidfd >= 0 ? 2 : 1, 100) > 0 && (p[0].revents & POLLHUP))
			usleep(200); /* a writer came and went: no busy loop */
	}
}

static int start_locked(int dirfd, container_state *st, berth_error **err)
{
	enum container_status status = state_current_status(dirfd, st);

	if (status != STATUS_CREATED)
		return berth_error_set(err, EINVAL, "cannot start a container that is %s (only a created one)",
				       state_status_name(status));
	if (consume_exec_fifo(dirfd, st, err) < 0)
		return -1;
	unlinkat(dirfd, STATE_EXEC_FIFO, 0);
	st->status = STATUS_RUNNING;
	if (state_write(dirfd, st, err) < 0)
		return -1;
	if (run_saved_hooks(st, HOOK_POSTSTART, STATUS_RUNNING, err) < 0) {
		/* runtime-spec 1.3 (and runc): a failing poststart hook fails
		 * start and stops the container; delete removes it. */
		if (signal_init(st, SIGKILL, NULL) == 0)
			wait_init_gone(st, 5000);
		return -1;
	}
	return 0;
}

int container_start(const runtime_globals *g, const char *id, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_close_ int lockfd = -EBADF;
	_cleanup_state_ container_state *st = NULL;

	if (open_locked(g, id, &dirfd, &lockfd, &st, err) < 0 || start_locked(dirfd, st, err) < 0)
		return berth_error_wrap(err, "start %s", id);
	return 0;
}

static int signal_init(const container_state *st, int signo, berth_error **err)
{
	_cleanup_close_ int pidfd = syscall(SYS_pidfd_open, st->pid, 0);

	/* The pidfd pins the process: check it is still our init before
	 * signalling, so a recycled pid is never hit. */
	if (pidfd < 0 || !state_init_alive(st))
		return berth_error_set(err, ESRCH, "the container init is not running");
	if (syscall(SYS_pidfd_send_signal, pidfd, signo, NULL, 0) < 0)
		return berth_error_set(err, errno, "send signal %d to pid %d", signo, (int)st->pid);
	return 0;
}

int container_kill(const runtime_globals *g, const char *id, int signo, bool all, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_close_ int lockfd = -EBADF;
	_cleanup_state_ container_state *st = NULL;
	_cleanup_cgroup_manager_ cgroup_manager *cg = NULL;
	enum container_status status;

	if (open_locked(g, id, &dirfd, &lockfd, &st, err) < 0)
		return berth_error_wrap(err, "kill %s", id);
	status = state_current_status(dirfd, st);
	if (status == STATUS_STOPPED && !all)
		return berth_error_set(err, ESRCH, "kill %s: container is not running", id);
	if (all) {
		if (st->cgroup == NULL || cgroup_manager_from_json(st->cgroup, &cg, err) < 0 ||
		    cgroup_manager_kill_all(cg, signo, err) < 0)
			return berth_error_wrap(err, "kill %s", id);
		return 0;
	}
	if (signal_init(st, signo, err) < 0)
		return berth_error_wrap(err, "kill %s", id);
	if (status == STATUS_PAUSED && signo == SIGKILL && st->cgroup &&
	    cgroup_manager_from_json(st->cgroup, &cg, NULL) == 0)
		cgroup_manager_freeze(cg, false, NULL);
	return 0;
}

/* Waits up to TIMEOUT_MS for the init to be gone. */
static bool wait_init_gone(const container_state *st, int timeout_ms)
{
	_cleanup_close_ int pidfd = syscall(SYS_pidfd_open, st->pid, 0);
	if (pidfd < 0)
		return !state_init_alive(st);
	if (!state_init_alive(st))
		return true;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	poll(&p, 1, timeout_ms);
	return !state_init_alive(st) || (p.revents & POLLIN);
}

static int destroy_locked(const runtime_globals *g, int dirfd, container_state *st, berth_error **err)
{
	_cleanup_cgroup_manager_ cgroup_manager *cg = NULL;

	if (st->cgroup != NULL && cgroup_manager_from_json(st->cgroup, &cg, err) < 0)
		return -1;
	if (cg != NULL) {
		/* Leftover processes (no pid namespace, or daemons that escaped
		 * the init) are killed; an empty cgroup skips the freeze cycle. */
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;
		if (cgroup_manager_pids(cg, &pids, &n, NULL) < 0 || n > 0)
			cgroup_manager_kill_all(cg, SIGKILL, NULL);
	}
	run_saved_hooks(st, HOOK_POSTSTOP, STATUS_STOPPED, NULL);
	if (cg != NULL && cgroup_manager_destroy(cg, err) < 0)
		return -1;
	(void)dirfd;
	return state_dir_remove(g->root, st->id, err);
}

int container_delete(const runtime_globals *g, const char *id, bool force, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_close_ int lockfd = -EBADF;
	_cleanup_state_ container_state *st = NULL;
	enum container_status status;

	if (spec_validate_container_id(id, err) < 0)
		return berth_error_wrap(err, "delete");
	dirfd = state_dir_open(g->root, id, err);
	if (dirfd < 0) {
		/* like runc, --force on a missing container is not an error */
		if (force && (*err)->code == ENOENT) {
			berth_error_free(err);
			return 0;
		}
		return berth_error_wrap(err, "delete");
	}
	lockfd = state_lock(dirfd, err);
	if (lockfd < 0)
		return berth_error_wrap(err, "delete %s", id);
	if (state_read(dirfd, &st, err) < 0) {
		/* A create killed before it wrote state.json, or a damaged one:
		 * as runc does, --force removes what is left so that the id can
		 * be used again. */
		if (force && ((*err)->code == ENOENT || (*err)->code == EINVAL)) {
			berth_log(BERTH_LOG_WARNING, "delete %s: %s; removing its state directory", id, (*err)->msg);
			berth_error_free(err);
			if (state_dir_remove(g->root, id, err) < 0)
				return berth_error_wrap(err, "delete %s", id);
			return 0;
		}
		return berth_error_wrap(err, "delete %s", id);
	}
	status = state_current_status(dirfd, st);
	if (status != STATUS_STOPPED) {
		if (!force)
			return berth_error_set(err, 0, "delete %s: container is %s; stop it first or use --force", id,
					       state_status_name(status));
		if (st->pid > 0 && state_init_alive(st)) {
			signal_init(st, SIGKILL, NULL);
			if (status == STATUS_PAUSED && st->cgroup) {
				_cleanup_cgroup_manager_ cgroup_manager *cg = NULL;
				if (cgroup_manager_from_json(st->cgroup, &cg, NULL) == 0) {
					cgroup_manager_kill_all(cg, SIGKILL, NULL);
					cgroup_manager_freeze(cg, false, NULL);
				}
			}
			if (!wait_init_gone(st, 5000))
				return berth_error_set(err, ETIMEDOUT, "delete %s: the init did not exit after SIGKILL",
						       id);
		}
	}
	if (destroy_locked(g, dirfd, st, err) < 0)
		return berth_error_wrap(err, "delete %s", id);
	return 0;
}

int container_state_json(const runtime_globals *g, const char *id, json_t **out, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_state_ container_state *st = NULL;

	if (spec_validate_container_id(id, err) < 0)
		return berth_error_wrap(err, "state");
	dirfd = state_dir_open(g->root, id, err);
	if (dirfd < 0 || state_read(dirfd, &st, err) < 0)
		return berth_error_wrap(err, "state");
	*out = state_to_oci_json(st, state_current_status(dirfd, st));
	return 0;
}

int container_list_json(const runtime_globals *g, json_t **out, berth_error **err)
{
	_cleanup_strv_ char **ids = NULL;
	size_t n = 0;
	json_t *arr;

	if (state_list_ids(g->root, &ids, &n, err) < 0)
		return -1;
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int dirfd = state_dir_open(g->root, ids[i], NULL);
		_cleanup_state_ container_state *st = NULL;
		json_t *obj;
		if (dirfd < 0 || state_read(dirfd, &st, NULL) < 0)
			continue;
		obj = state_to_oci_json(st, state_current_status(dirfd, st));
		json_object_set_new(obj, "owner", json_integer(st->owner));
		json_array_append_new(arr, obj);
	}
	*out = arr;
	return 0;
}

static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

void container_block_forwarded_signals(sigset_t *set, sigset_t *old)
{
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGPIPE };

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(set, forwarded[i]);
	sigprocmask(SIG_BLOCK, set, old);
}

int container_wait_foreground(pid_t pid, int master, int *exit_code, berth_error **err)
{
	_cleanup_close_ int pidfd = syscall(SYS_pidfd_open, pid, 0);
	_cleanup_close_ int sigfd = -EBADF;
	sigset_t set;
	int status;

	container_block_forwarded_signals(&set, NULL);
	sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = pidfd, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = master, .events = POLLIN },
		};
		if (master >= 0) {
			/* the proxy loop returns when the init exits */
			terminal_proxy(master, pidfd, err);
			break;
		}
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN)
			break;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGPIPE)
					kill(pid, si.ssi_signo);
		}
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return berth_error_set(err, errno, "wait for the container init");
	*exit_code = exit_code_of(status);
	return 0;
}

/* The process runs (EXEC_FD read EOF): the poststart hooks, as start runs
 * them; a failing one stops the container and fails `run`. */
static int run_poststart(const runtime_globals *g, const char *id, int exec_fd, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_close_ int lockfd = -EBADF;
	_cleanup_state_ container_state *st = NULL;
	char c;

	while (read(exec_fd, &c, 1) > 0 || errno == EINTR)
		;
	if (open_locked(g, id, &dirfd, &lockfd, &st, err) < 0)
		return -1;
	if (run_saved_hooks(st, HOOK_POSTSTART, STATUS_RUNNING, err) < 0) {
		if (signal_init(st, SIGKILL, NULL) == 0)
			wait_init_gone(st, 5000);
		return -1;
	}
	return 0;
}

/* The delete at the end of a foreground `run`, from the state its create
 * wrote (still in memory) and the state directory it kept open: the init
 * was reaped, so the container is stopped. A directory whose state.json is
 * gone was deleted by another command meanwhile: nothing is left to do
 * (and a container made since with the same id is another one). */
static int delete_after_run(const runtime_globals *g, int dirfd, container_state *st, berth_error **err)
{
	_cleanup_close_ int lockfd = state_lock(dirfd, err);
	struct stat sb;

	if (lockfd < 0 && (*err)->code == ENOENT) {
		berth_error_free(err); /* the directory is gone already */
		return 0;
	}
	if (lockfd < 0)
		return berth_error_wrap(err, "delete %s", st->id);
	if (fstatat(dirfd, STATE_FILE, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return berth_error_set(err, errno, "delete %s: state", st->id);
	}
	if (destroy_locked(g, dirfd, st, err) < 0)
		return berth_error_wrap(err, "delete %s", st->id);
	return 0;
}

/* create and start in one: the init execs the process as soon as it is
 * ready (no exec fifo, no second read of the state). */
int container_run(const runtime_globals *g, const create_options *opts, int *exit_code, berth_error **err)
{
	_cleanup_close_ int exec_fd = -EBADF;
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_state_ container_state *st = NULL;
	create_kept kept = { NULL, -1 };
	int master = -1;
	pid_t pid;

	*exit_code = 0;
	if (container_create_internal(g, opts, !opts->detach, &exec_fd, &pid, &master, &kept, err) < 0)
		return berth_error_wrap(err, "run %s", opts->id);
	st = kept.state;
	dirfd = kept.dirfd;
	if (exec_fd >= 0 && run_poststart(g, opts->id, exec_fd, err) < 0) {
		_cleanup_error_ berth_error *cleanup_err = NULL;
		container_delete(g, opts->id, true, &cleanup_err);
		if (master >= 0)
			close(master);
		return berth_error_wrap(err, "run %s", opts->id);
	}
	/* the process runs: the wait for its exit covers the unmount */
	exe_guard_release();
	if (opts->detach) {
		if (master >= 0)
			close(master);
		return 0;
	}
	if (container_wait_foreground(pid, master, exit_code, err) < 0)
		return berth_error_wrap(err, "run %s", opts->id);
	if (master >= 0)
		close(master);
	if (!opts->keep && delete_after_run(g, dirfd, st, err) < 0)
		return berth_error_wrap(err, "run %s", opts->id);
	return 0;
}
