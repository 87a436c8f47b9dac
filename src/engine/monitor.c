#include "engine/monitor.h"
#include "engine/monitor_spawner.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/container.h"
#include "engine/health.h"
#include "engine/attach.h"
#include "engine/events.h"
#include "engine/logfile.h"
#include "engine/network.h"
#include "engine/oom.h"
#include "engine/record_sweep.h"
#include "engine/runtime_call.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/proc.h"
#include "util/proctitle.h"

#define CONSOLE_SOCKET "console.sock"
/* the stack the supervision loop keeps below run_loop (copy_output's
 * buffer, a health probe's fork, an event's record write) */
#define MONITOR_STACK_KEEP (8 * 1024)

typedef struct mon {
	const engine_paths *p;
	container *c;
	const char *runtime;
	char *bundle;
	bool foreground, tty, interactive;
	bool no_monitor; /* record "NoMonitor": this process exits once it runs */
	int events;	 /* to berth: S/E/X lines */
	int sigfd;
	logfile log;
	int in_w, out_r, err_r, master;
	bool stdin_open;
	pid_t init;
	int exit_code;
	int attach_fd;	       /* attach.h: hands the input to `berth attach` */
	int oom_fd;	       /* oom.h: the counter of the container's memory cgroup */
	uint64_t ooms;	       /* its value at the start */
	bool oom_killed;       /* the last run ended by the OOM killer */
	bool announced;	       /* the record names this monitor (on_monitor_start) */
	bool claimed;	       /* holds RUN_ROOT/monitors/ID (claim_monitor) */
	health_monitor health; /* health.c: probes run from the poll loop */
} mon;

static void send_event(mon *m, char kind, const char *text)
{
	char buf[4096];
	int n;

	if (m->events < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%c %s\n", kind, text);
	if (write(m->events, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1)) < 0)
		return;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- state.json changes (under the lock) ---- */

/* Returns false when it changed nothing (nothing is written then). */
typedef bool (*state_change)(mon *m, container_state *s, void *arg);

static void on_monitor_start(mon *m, container_state *s)
{
	s->monitor_pid = getpid();
	s->monitor_start = proc_pid_start_time(getpid());
	s->stopped_by_user = false;
	s->restart_count = 0;
	s->exit_code = 0;
	free(s->error);
	s->error = NULL;
}

/* The first change also records this monitor (on_monitor_start): one
 * write where there were two, the first on the way to the container's
 * start. Until then the record says "created" without a monitor, which is
 * what it is. */
static void change_state(mon *m, state_change fn, void *arg)
{
	berth_error *err = NULL;
	int lock = record_lock(m->c, &err);

	if (lock >= 0 && record_load_state(m->c, &err) == 0) {
		bool changed = !m->announced;
		if (!m->announced)
			on_monitor_start(m, &m->c->state);
		changed |= fn(m, &m->c->state, arg);
		if (changed && record_save_state(m->c, &err) == 0)
			m->announced = true;
	}
	record_unlock(lock);
	berth_error_free(&err);
}

static void set_status(container_state *s, const char *status)
{
	snprintf(s->status, sizeof(s->status), "%s", status);
}

static bool on_running(mon *m, container_state *s, void *arg)
{
	char now[40];

	set_status(s, "running");
	s->pid = m->init;
	if (m->no_monitor) {
		/* none stays: the runtime says whether it runs (record.h) */
		s->monitor_pid = 0;
		s->monitor_start = 0;
	}
	s->oom_killed = false;
	free(s->started_at);
	s->started_at = strdup(engine_now_rfc3339(now));
	free(s->finished_at);
	s->finished_at = NULL;
	free(s->error);
	s->error = NULL;
	return true;
}

static bool on_exited(mon *m, container_state *s, void *arg)
{
	char now[40];
	const char *error = arg;

	set_status(s, "exited");
	s->pid = 0;
	s->exit_code = m->exit_code;
	s->oom_killed = m->oom_killed;
	free(s->finished_at);
	s->finished_at = strdup(engine_now_rfc3339(now));
	if (error) {
		free(s->error);
		s->error = strdup(error);
	}
	return true;
}

static bool on_restarting(mon *m, container_state *s, void *arg)
{
	set_status(s, "restarting");
	return true;
}

static bool on_restart(mon *m, container_state *s, void *arg)
{
	s->restart_count++;
	return true;
}

/* ---- one monitor per container ---- */

/* RUN_ROOT/monitors/ID -> "PID-START": the claim of the container's one
 * monitor, made before it touches the runtime and dropped when it exits.
 * A claim whose owner is gone is taken over (under a lock on the
 * directory, so two takers never both win). Returns 0, -EBUSY when
 * another monitor lives, or another -errno (then there is no claim). */
static int claim_monitor(const engine_paths *p, const char *id)
{
	_cleanup_free_ char *dir = fs_path_join(p->run_root, "monitors");
	_cleanup_close_ int dirfd = -EBADF;
	unsigned long long start, other_start;
	char me[48], other[48], again[48];
	pid_t pid;
	int other_pid;

	if (dir == NULL)
		return -ENOMEM;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 && errno == ENOENT) {
		berth_error *e = NULL;
		/* the runroot itself may not exist yet */
		if (fs_mkdir_p(dir, 0700, &e) < 0) {
			int code = e->code ? e->code : EIO;
			berth_error_free(&e);
			return -code;
		}
		dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dirfd < 0)
		return -errno;
	record_owner_self(&pid, &start);
	snprintf(me, sizeof(me), "%d-%llu", (int)pid, start);
	for (int attempt = 0; attempt < 2; attempt++) {
		ssize_t n;
		if (symlinkat(me, dirfd, id) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
		n = readlinkat(dirfd, id, other, sizeof(other) - 1);
		other[n > 0 ? n : 0] = '\0';
		if (sscanf(other, "%d-%llu", &other_pid, &other_start) == 2 &&
		    record_owner_alive((pid_t)other_pid, other_start))
			return -EBUSY;
		while (flock(dirfd, LOCK_EX) < 0)
			if (errno != EINTR)
				return -errno;
		n = readlinkat(dirfd, id, again, sizeof(again) - 1);
		if (n > 0 && (size_t)n == strlen(other) && memcmp(again, other, (size_t)n) == 0)
			unlinkat(dirfd, id, 0);
		flock(dirfd, LOCK_UN);
	}
	return -EBUSY;
}

/* claim_monitor; while another monitor holds the claim, waits up to 3 s
 * for it to go (the one of a container just stopped finishes its exit),
 * unless the record shows it supervising the running container. */
static int claim_monitor_waiting(mon *m)
{
	const struct timespec tick = { 0, 10 * 1000000L };
	berth_error *ignored = NULL;
	int claim;

	for (int i = 0; (claim = claim_monitor(m->p, m->c->id)) == -EBUSY && i < 300; i++) {
		if (record_load_state(m->c, &ignored) == 0 && engine_status_is_live(m->c->state.status) &&
		    record_monitor_alive(m->c))
			break;
		berth_error_free(&ignored);
		nanosleep(&tick, NULL);
	}
	berth_error_free(&ignored);
	return claim;
}

void monitor_forget(const engine_paths *p, const char *id)
{
	_cleanup_free_ char *dir = fs_path_join(p->run_root, "monitors");
	_cleanup_free_ char *link = dir ? fs_path_join(dir, id) : NULL;
	unsigned long long start;
	char target[48];
	int pid;
	ssize_t n = link ? readlink(link, target, sizeof(target) - 1) : -1;

	if (n <= 0)
		return;
	target[n] = '\0';
	if (sscanf(target, "%d-%llu", &pid, &start) != 2 || !record_owner_alive((pid_t)pid, start))
		unlink(link);
}

/* Whether the runtime has the container (ROOT/ID: a create killed before
 * its state.json was written counts too). */
static bool runtime_leftover(mon *m)
{
	_cleanup_free_ char *status = runtime_status(m->runtime, m->p->runtime_root, m->c->id);
	_cleanup_free_ char *dir = status ? NULL : fs_path_join(m->p->runtime_root, m->c->id);

	return status != NULL || (dir && access(dir, F_OK) == 0);
}

static void release_monitor(mon *m)
{
	_cleanup_free_ char *dir = fs_path_join(m->p->run_root, "monitors");
	_cleanup_free_ char *link = dir ? fs_path_join(dir, m->c->id) : NULL;
	unsigned long long start;
	char me[48], target[48];
	pid_t pid;
	ssize_t n;

	if (!m->claimed || link == NULL)
		return;
	record_owner_self(&pid, &start);
	snprintf(me, sizeof(me), "%d-%llu", (int)pid, start);
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0 && (size_t)n == strlen(me) && memcmp(target, me, (size_t)n) == 0)
		unlink(link);
	m->claimed = false;
}

/* ---- starting the container ---- */

static int console_listen(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	unlink(CONSOLE_SOCKET);
	strcpy(addr.sun_path, CONSOLE_SOCKET);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int console_receive(int listen_fd)
{
	struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
	char data[1], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { data, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int conn, fd = -1;

	if (poll(&pfd, 1, 5000) <= 0)
		return -1;
	conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return -1;
	if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) >= 0 && (cm = CMSG_FIRSTHDR(&msg)) != NULL &&
	    cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	close(conn);
	return fd;
}

static void resize_pty(mon *m)
{
	struct winsize ws;

	if (m->master >= 0 && m->foreground && ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(m->master, TIOCSWINSZ, &ws);
}

static char *read_available(int fd)
{
	char buf[4096];
	ssize_t n;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	n = read(fd, buf, sizeof(buf) - 1);
	fcntl(fd, F_SETFL, 0);
	if (n <= 0)
		return NULL;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return strdup(buf);
}

static pid_t read_pid_file(void)
{
	char buf[32] = "";
	int fd = open("init.pid", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? (pid_t)strtol(buf, NULL, 10) : -1;
}

static int runtime_create(mon *m, char **errmsg)
{
	const char *args[] = { "create", "--bundle", m->bundle, "--pid-file", "init.pid", m->c->id, NULL, NULL, NULL };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 }, listen_fd = -1, rc;
	runtime_io io = { RUNTIME_NULL, RUNTIME_NULL, RUNTIME_CAPTURE, NULL, NULL, &m->init };
	berth_error *err = NULL;

	m->init = 0;
	if (m->no_monitor) {
		/* nobody reads its output once this process is gone */
		io.err = RUNTIME_NULL;
	} else if (m->tty) {
		listen_fd = console_listen();
		args[5] = "--console-socket";
		args[6] = CONSOLE_SOCKET;
		args[7] = m->c->id;
	} else if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		return -1;
	} else {
		io.out = out[1];
		io.err = errp[1];
	}
	if (m->interactive && !m->tty && pipe2(in, O_CLOEXEC) == 0)
		io.in = in[0];
	rc = runtime_call(m->runtime, m->p->runtime_root, args, &io, &err);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&errp[1]);
	m->in_w = in[1];
	m->out_r = out[0];
	m->err_r = errp[0];
	if (rc == 0 && m->tty) {
		m->master = console_receive(listen_fd);
		if (m->master < 0)
			*errmsg = strdup("no pty from the runtime on the console socket");
	} else if (rc != 0) {
		*errmsg = err ? strdup(err->msg) : io.err_text ? strdup(io.err_text) : read_available(m->err_r);
	}
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(CONSOLE_SOCKET);
	}
	free(io.err_text);
	berth_error_free(&err);
	return rc == 0 && *errmsg == NULL ? 0 : -1;
}

static int runtime_start(mon *m, char **errmsg)
{
	const char *args[] = { "start", m->c->id, NULL };
	runtime_io io = { RUNTIME_NULL, RUNTIME_NULL, RUNTIME_CAPTURE, NULL, NULL, NULL };
	berth_error *err = NULL;
	int rc = runtime_call(m->runtime, m->p->runtime_root, args, &io, &err);

	if (rc != 0)
		*errmsg = strdup(err ? err->msg : io.err_text ? io.err_text : "start failed");
	free(io.err_text);
	berth_error_free(&err);
	return rc == 0 ? 0 : -1;
}

static void close_container_fds(mon *m)
{
	close_fd(&m->in_w);
	close_fd(&m->out_r);
	close_fd(&m->err_r);
	close_fd(&m->master);
}

/* One create + start. On failure *ERRMSG says why and nothing runs. */
static int start_container(mon *m, char **errmsg)
{
	m->oom_killed = false;
	if (runtime_create(m, errmsg) < 0)
		goto fail;
	if (m->init <= 0) /* not created in this process */
		m->init = read_pid_file();
	if (m->init <= 0) {
		*errmsg = strdup("the runtime wrote no pid file");
		goto fail;
	}
	resize_pty(m);
	close_fd(&m->oom_fd);
	m->oom_fd = engine_oom_open(m->init);
	m->ooms = engine_oom_kills(m->oom_fd);
	if (runtime_start(m, errmsg) < 0)
		goto fail;
	change_state(m, on_running, NULL);
	engine_event(m->p, m->c, "start", NULL, NULL);
	health_container_started(&m->health);
	return 0;
fail:
	engine_container_runtime_delete(m->p, m->c);
	engine_network_ports_release(m->c);
	close_container_fds(m);
	return -1;
}

/* ---- while it runs ---- */

static void copy_output(mon *m, int *fd, const char *stream, int to)
{
	char buf[16384];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close_fd(fd);
		return;
	}
	logfile_write(&m->log, stream, buf, (size_t)n);
	if (m->foreground && write(to, buf, (size_t)n) < 0)
		m->foreground = m->foreground; /* berth went away: keep logging */
}

static void copy_input(mon *m)
{
	char buf[4096];
	ssize_t n = read(0, buf, sizeof(buf));
	int to = m->tty ? m->master : m->in_w;

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		m->stdin_open = false;
		if (!m->tty)
			close_fd(&m->in_w);
		return;
	}
	if (to >= 0 && write(to, buf, (size_t)n) < 0)
		m->stdin_open = false;
}

/* Handles one signal; true when the init exited. */
static bool handle_signal(mon *m)
{
	struct signalfd_siginfo si;
	bool exited = false;
	int status;
	pid_t pid;

	if (read(m->sigfd, &si, sizeof(si)) != sizeof(si))
		return false;
	switch (si.ssi_signo) {
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != m->init) {
				health_reaped(&m->health, pid, status);
				continue;
			}
			m->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			exited = true;
		}
		break;
	case SIGWINCH:
		resize_pty(m);
		break;
	case SIGUSR1:
		break;
	default:
		if (m->init > 0)
			kill(m->init, (int)si.ssi_signo);
	}
	return exited;
}

static void wait_container(mon *m)
{
	bool exited = false;
	int grace_ms = 2000;

	for (;;) {
		struct pollfd p[7] = {
			{ .fd = m->sigfd, .events = POLLIN },
			{ .fd = m->out_r, .events = POLLIN },
			{ .fd = m->err_r, .events = POLLIN },
			{ .fd = m->master, .events = POLLIN },
			{ .fd = m->stdin_open ? 0 : -1, .events = POLLIN },
			{ .fd = health_poll_fd(&m->health), .events = POLLIN },
			{ .fd = m->attach_fd, .events = POLLIN },
		};
		int n;
		if (exited && m->out_r < 0 && m->err_r < 0 && m->master < 0)
			break;
		n = poll(p, 7, exited ? 100 : health_poll_timeout(&m->health));
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0 && exited && (grace_ms -= 100) <= 0)
			break;
		if (p[0].revents && handle_signal(m))
			exited = true;
		if (p[1].revents)
			copy_output(m, &m->out_r, "stdout", 1);
		if (p[2].revents)
			copy_output(m, &m->err_r, "stderr", 2);
		if (p[3].revents)
			copy_output(m, &m->master, "stdout", 1);
		if (p[4].revents)
			copy_input(m);
		if (p[5].revents)
			health_read_output(&m->health);
		/* StdinOnce: the attacher holds the only write end of stdin now */
		if (p[6].revents && attach_serve(m->attach_fd, m->tty ? m->master : m->in_w, m->tty) > 0 && !m->tty &&
		    record_config_bool(m->c, "StdinOnce"))
			close_fd(&m->in_w);
		if (!exited)
			health_tick(&m->health);
	}
	close_container_fds(m);
}

/* ---- restart policy ---- */

static bool want_restart(mon *m)
{
	const char *policy = record_config_string(m->c, "RestartPolicy") ?: "no";
	int max = (int)record_config_int(m->c, "RestartMax", 0);
	berth_error *err = NULL;

	if (strcmp(policy, "no") == 0)
		return false;
	if (record_load_state(m->c, &err) < 0) {
		berth_error_free(&err);
		return false;
	}
	if (m->c->state.stopped_by_user)
		return false;
	if (strcmp(policy, "on-failure") == 0)
		return m->exit_code != 0 && (max == 0 || m->c->state.restart_count < max);
	return true; /* always, unless-stopped */
}

/* Sleeps DELAY_MS unless the user stops the container meanwhile. */
static bool backoff(mon *m, int delay_ms)
{
	struct timespec start, now;

	change_state(m, on_restarting, NULL);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { .fd = m->sigfd, .events = POLLIN };
		long elapsed;
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= delay_ms)
			break;
		if (poll(&p, 1, (int)(delay_ms - elapsed)) > 0) {
			m->init = 0;
			handle_signal(m);
			if (!want_restart(m))
				return false;
		}
	}
	return want_restart(m);
}

static void detach_stdio(mon *m)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
	m->foreground = false;
	m->stdin_open = false;
}

static bool on_final(mon *m, container_state *s, void *arg)
{
	if (strcmp(s->status, "restarting") != 0)
		return false;
	set_status(s, "exited");
	return true;
}

/* --rm (never with a restart policy) */
static bool auto_remove(mon *m)
{
	return record_config_bool(m->c, "AutoRemove");
}

static void finish(mon *m)
{
	_cleanup_free_ char *trash = NULL;
	char code[16];
	berth_error *err = NULL;

	change_state(m, on_final, NULL);
	/* --rm: berth returns once the container is gone from the listing,
	 * its network and mounts with it; the runtime's state and cgroup and
	 * the files (the upper layer with everything it wrote) go after. A
	 * monitor killed meanwhile leaves them to the next listing
	 * (record_list). */
	if (auto_remove(m) && engine_container_retire(m->p, m->c, &trash, &err) < 0)
		berth_error_free(&err);
	snprintf(code, sizeof(code), "%d", m->exit_code);
	detach_stdio(m);
	send_event(m, 'X', code);
	logfile_close(&m->log);
	if (auto_remove(m))
		engine_container_runtime_delete(m->p, m->c);
	if (trash && fs_remove_tree(trash, &err) < 0)
		berth_error_free(&err);
	release_monitor(m);
	_exit(0);
}

static void fail_start(mon *m, char *errmsg)
{
	berth_error *err = NULL;

	m->exit_code = 127;
	if (errmsg && (strstr(errmsg, "ermission denied") || strstr(errmsg, "EACCES")))
		m->exit_code = 126;
	record_save_exit_code(m->p, m->c, m->exit_code);
	change_state(m, on_exited, errmsg);
	if (record_config_bool(m->c, "AutoRemove") && engine_container_destroy(m->p, m->c, &err) < 0)
		berth_error_free(&err);
	release_monitor(m);
	send_event(m, 'E', errmsg ? errmsg : "start failed");
	_exit(1);
}

/* A restart publishes the ports released when the container stopped; one
 * another container publishes meanwhile makes it a failed start. */
static int restore_ports(mon *m, char **errmsg)
{
	berth_error *err = NULL;

	if (engine_network_ports_publish(m->c, &err) == 0)
		return 0;
	*errmsg = strdup(err->msg);
	berth_error_free(&err);
	return -1;
}

/* A container without a monitor runs: this process goes, and the init
 * with it goes to the nearest subreaper (or init), which reaps it. */
static _Noreturn void leave_running(mon *m)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	close_container_fds(m);
	close_fd(&m->oom_fd);
	logfile_close(&m->log);
	release_monitor(m);
	send_event(m, 'S', pid);
	_exit(0);
}

static void run_loop(mon *m)
{
	int delay_ms = 100;
	bool first = true;

	for (;;) {
		_cleanup_free_ char *errmsg = NULL;
		struct timespec t0, t1;
		char pid[32];
		if (!first && restore_ports(m, &errmsg) < 0) {
			m->exit_code = 127;
			change_state(m, on_exited, errmsg);
		} else if (start_container(m, &errmsg) < 0) {
			if (first)
				fail_start(m, errmsg);
			m->exit_code = 127;
			change_state(m, on_exited, errmsg);
		} else {
			if (m->no_monitor)
				leave_running(m);
			if (first) {
				snprintf(pid, sizeof(pid), "%d", (int)getpid());
				send_event(m, 'S', pid);
			}
			/* what `berth run` and the start allocated and freed
			 * (record lists, peers' hosts entries, JSON) stays dirty
			 * in the heap of this long-lived process unless handed
			 * back: a monitor costs the same beside 1 or 1,000
			 * containers; so do the deep frames of the in-process
			 * create on the stack (the loop below runs shallower) */
			proc_release_stack_below(MONITOR_STACK_KEEP);
			malloc_trim(0);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			wait_container(m);
			m->oom_killed = m->exit_code == 137 && engine_oom_kills(m->oom_fd) > m->ooms;
			if (m->oom_killed)
				engine_event(m->p, m->c, "oom", NULL, NULL);
			snprintf(pid, sizeof(pid), "%d", m->exit_code);
			engine_event(m->p, m->c, "die", "exitCode", pid);
			/* before the state says "exited": once `stop` returns,
			 * another container may publish them */
			engine_network_ports_release(m->c);
			health_container_stopped(&m->health);
			/* before the state says "exited", when a start may follow;
			 * none does after --rm, whose delete waits (finish) */
			if (!auto_remove(m))
				engine_container_runtime_delete(m->p, m->c);
			/* for a `wait` that finds the record gone (--rm, rm -f) */
			record_save_exit_code(m->p, m->c, m->exit_code);
			change_state(m, on_exited, NULL);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec >= 10)
				delay_ms = 100;
		}
		first = false;
		if (!want_restart(m))
			finish(m);
		if (m->foreground) {
			char code[16];
			snprintf(code, sizeof(code), "%d", m->exit_code);
			detach_stdio(m);
			send_event(m, 'X', code);
			close_fd(&m->events);
		}
		if (!backoff(m, delay_ms))
			finish(m);
		change_state(m, on_restart, NULL);
		delay_ms = delay_ms * 2 > 10000 ? 10000 : delay_ms * 2;
	}
}

/* "berth-monitor ID" in ps, over berth's argv (the id cut to 12 when the
 * room is short) */
static void set_title(const char *id)
{
	char title[96];

	snprintf(title, sizeof(title), "berth-monitor %s", id);
	if ((int)strlen(title) >= proctitle_room())
		snprintf(title, sizeof(title), "berth-monitor %.12s", id);
	proctitle_set(title);
}

static _Noreturn void monitor_main(mon *m)
{
	sigset_t set;
	int claim;
	_cleanup_free_ char *log = record_path(m->c, "ctr.log");

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_NAME, "berth-monitor");
	set_title(m->c->id);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (int s = 1; s < 32; s++)
		if (s != SIGKILL && s != SIGSTOP && s != SIGSEGV && s != SIGBUS && s != SIGPIPE && s != SIGTSTP &&
		    s != SIGTTIN && s != SIGTTOU && s != SIGCONT && s != SIGFPE && s != SIGILL && s != SIGABRT)
			sigaddset(&set, s);
	sigprocmask(SIG_BLOCK, &set, NULL);
	m->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (chdir(m->c->dir) < 0 || m->sigfd < 0)
		fail_start(m, strdup("monitor set-up failed"));
	claim = claim_monitor_waiting(m);
	if (claim == -EBUSY) {
		/* another start's monitor runs: the record stays as it is */
		send_event(m, 'B', "another monitor is starting or supervising it");
		_exit(1);
	}
	m->claimed = claim == 0;
	/* a monitor killed while it started the container (before the record
	 * said so) left the runtime's container: it goes, as that monitor
	 * would have deleted it (only with the claim: no other monitor runs) */
	if (m->claimed && runtime_leftover(m))
		engine_container_runtime_delete(m->p, m->c);
	logfile_open(&m->log, log, (uint64_t)record_config_int(m->c, "LogMaxSize", 0));
	health_init(&m->health, m->c, m->runtime, m->p->runtime_root);
	m->health.paths = m->p;
	if (!m->no_monitor)
		m->attach_fd = attach_listen();
	run_loop(m);
	_exit(1);
}

/* Keeps fds 0-2 and KEEP, closes the rest (berth's store and lock fds). */
static void close_other_fds(int keep)
{
	if (keep > 3)
		close_range(3, (unsigned)keep - 1, 0);
	close_range((unsigned)keep + 1, ~0U, 0);
}

static int read_line(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return len > 0 ? 0 : -1;
}

int monitor_wait_exit(int fd)
{
	char line[64];

	if (read_line(fd, line, sizeof(line)) < 0 || line[0] != 'X')
		return -1;
	return atoi(line + 2);
}

/* This process becomes C's monitor; it never returns (run_loop ends in
 * _exit). */
static _Noreturn void become_monitor(const engine_paths *p, container *c, bool foreground, int events_w)
{
	mon m = { .p = p,
		  .c = c,
		  .runtime = engine_container_runtime(c),
		  .bundle = engine_container_bundle(c),
		  .foreground = foreground,
		  .tty = record_config_bool(c, "Tty"),
		  .interactive = record_config_bool(c, "Interactive"),
		  .no_monitor = record_config_bool(c, "NoMonitor"),
		  .events = events_w,
		  .in_w = -1,
		  .out_r = -1,
		  .err_r = -1,
		  .master = -1,
		  .oom_fd = -1,
		  .attach_fd = -1,
		  .stdin_open = foreground && (record_config_bool(c, "Interactive")) };

	setsid();
	close_other_fds(events_w);
	if (!m.foreground)
		detach_stdio(&m);
	if (m.bundle == NULL)
		fail_start(&m, strdup("out of memory"));
	monitor_main(&m);
	_exit(1);
}

void monitor_become_detached(const engine_paths *p, container *c, int events_w)
{
	become_monitor(p, c, false, events_w);
}

/* The monitor's first line on FD: 0 once the container started (*PID, may
 * be NULL: the monitor's pid), else the error. Apart from monitor_start so
 * that its buffer is not on the stack that a monitor forked there keeps. */
static __attribute__((noinline)) int await_start(int fd, const container *c, pid_t *pid, berth_error **err)
{
	char line[4096];

	if (read_line(fd, line, sizeof(line)) < 0 || line[0] != 'S') {
		if (line[0] == 'B')
			return berth_error_request(err, EBUSY, "container %s is being started by another command",
						   c->name);
		return berth_error_set(err, 0, "%s",
				       line[0] == 'E' ? line + 2 : "the monitor exited before the container started");
	}
	if (pid)
		*pid = (pid_t)strtol(line + 2, NULL, 10);
	return 0;
}

int monitor_start(const engine_paths *p, container *c, bool foreground, int *events_fd, pid_t *monitor_pid,
		  berth_error **err)
{
	int ev[2];
	pid_t pid = 0;

	if (engine_container_prepare_start(p, c, err) < 0)
		return -1;
	if (pipe2(ev, O_CLOEXEC) < 0)
		return berth_error_set(err, errno, "pipe");
	/* a detached monitor comes from the spawner when there is one: it
	 * then keeps the spawner's small heap, not this process's */
	if (foreground || monitor_spawner_request(c->id, ev[1]) < 0) {
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid < 0) {
			close(ev[0]);
			close(ev[1]);
			return berth_error_set(err, errno, "fork");
		}
		if (pid == 0) {
			close(ev[0]);
			become_monitor(p, c, foreground, ev[1]);
		}
	}
	close(ev[1]);
	/* set on failure too: a caller that lives on (the API service) reaps
	 * it (0: the spawner's, not a child of this process) */
	if (monitor_pid)
		*monitor_pid = pid;
	if (await_start(ev[0], c, monitor_pid, err) < 0) {
		close(ev[0]);
		return -1;
	}
	if (events_fd)
		*events_fd = ev[0];
	else
		close(ev[0]);
	return 0;
}
