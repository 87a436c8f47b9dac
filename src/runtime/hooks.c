#include "runtime/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

static int pidfd_open_compat(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/* Collects up to LEN-1 bytes of the hook's stderr for the error message. */
static void read_stderr(int fd, char *buf, size_t len)
{
	size_t used = strlen(buf);
	ssize_t n;
	while (used < len - 1 && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += n;
	buf[used] = '\0';
	while (used > 0 && (buf[used - 1] == '\n' || buf[used - 1] == ' '))
		buf[--used] = '\0';
}

static int run_one(const spec_hook *h, const char *name, size_t index, const char *state_json, berth_error **err)
{
	_cleanup_close_ int pidfd = -EBADF;
	int in[2], errpipe[2], status;
	char errbuf[1024] = "";
	pid_t pid;
	struct timespec start, now;

	if (pipe2(in, O_CLOEXEC) < 0)
		return berth_error_set(err, errno, "hook %s[%zu]: pipe", name, index);
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return berth_error_set(err, errno, "hook %s[%zu]: pipe", name, index);
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(in[0]);
		close(in[1]);
		close(errpipe[0]);
		close(errpipe[1]);
		return berth_error_set(err, e, "hook %s[%zu]: fork", name, index);
	}
	if (pid == 0) {
		char *default_args[] = { h->path, NULL };
		/* without "env" the hook inherits ours, as with runc and crun
		 * (hooks call programs by name); "env": [] is an empty one */
		char *const *env = h->env ? h->env : environ;
		/* its own process group: a timeout kills what it started too */
		setpgid(0, 0);
		dup2(in[0], STDIN_FILENO);
		dup2(errpipe[1], STDERR_FILENO);
		if (!isatty(STDOUT_FILENO) && fcntl(STDOUT_FILENO, F_GETFD) < 0)
			dup2(errpipe[1], STDOUT_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execve(h->path, h->args && h->args[0] ? h->args : default_args, env);
		fprintf(stderr, "exec \"%s\": %s", h->path, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* whichever of us runs first */
	close(in[0]);
	close(errpipe[1]);
	pidfd = pidfd_open_compat(pid);
	/* The hook may not read stdin at all: ignore EPIPE. */
	{
		void (*old)(int) = signal(SIGPIPE, SIG_IGN);
		size_t len = strlen(state_json), off = 0;
		while (off < len) {
			ssize_t n = write(in[1], state_json + off, len - off);
			if (n <= 0)
				break;
			off += n;
		}
		signal(SIGPIPE, old);
	}
	close(in[1]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int wait_ms = -1;
		if (h->timeout > 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
			wait_ms = h->timeout * 1000 - elapsed;
			if (wait_ms <= 0) {
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				close(errpipe[0]);
				return berth_error_set(err, ETIMEDOUT, "hook %s[%zu] \"%s\" timed out after %d s", name,
						       index, h->path, h->timeout);
			}
		}
		if (pidfd < 0)
			break;
		if (poll(&p, 1, wait_ms) < 0 && errno != EINTR)
			break;
		if (p.revents & POLLIN)
			break;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			close(errpipe[0]);
			return berth_error_set(err, errno, "hook %s[%zu]: wait", name, index);
		}
	read_stderr(errpipe[0], errbuf, sizeof(errbuf));
	close(errpipe[0]);
	if (WIFSIGNALED(status))
		return berth_error_set(err, 0, "hook %s[%zu] \"%s\" was killed by signal %d%s%s", name, index, h->path,
				       WTERMSIG(status), errbuf[0] ? ": " : "", errbuf);
	if (WEXITSTATUS(status) != 0)
		return berth_error_set(err, 0, "hook %s[%zu] \"%s\" exited with status %d%s%s", name, index, h->path,
				       WEXITSTATUS(status), errbuf[0] ? ": " : "", errbuf);
	return 0;
}

int hooks_run(const spec *s, enum spec_hook_kind kind, const char *state_json, berth_error **err)
{
	const spec_hook_list *list = &s->hooks[kind];

	/* runtime-spec 1.3: only a failing poststop hook is a warning */
	bool warn_only = kind == HOOK_POSTSTOP;

	for (size_t i = 0; i < list->n; i++) {
		_cleanup_error_ berth_error *hook_err = NULL;
		berth_debug("running hook %s[%zu] %s", spec_hook_kind_name(kind), i, list->hooks[i].path);
		if (run_one(&list->hooks[i], spec_hook_kind_name(kind), i, state_json, &hook_err) == 0)
			continue;
		if (!warn_only) {
			*err = hook_err;
			hook_err = NULL;
			return -1;
		}
		berth_log(BERTH_LOG_WARNING, "%s", hook_err->msg);
	}
	return 0;
}
