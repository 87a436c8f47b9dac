/* The monitor spawner (monitor_spawner.h). */
#include "engine/monitor_spawner.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/monitor.h"
#include "engine/runtime_call.h"
#include "runtime/exe_guard.h"
#include "runtime/sync.h"
#include "util/proctitle.h"

/* this process's end of the spawner's socket, -1 without one */
static int spawner_fd = -1;

/* The grandchild: loads the record (written before the request) and
 * becomes the monitor; a record it cannot load is an "E" line. */
static _Noreturn void spawn_monitor(const engine_paths *p, const char *id, int events_w)
{
	container *c = NULL;
	berth_error *err = NULL;

	if (record_open(p, id, &c, &err) < 0) {
		dprintf(events_w, "E %s\n", err && err->msg ? err->msg : "the container's record is gone");
		_exit(1);
	}
	monitor_become_detached(p, c, events_w);
}

static _Noreturn void spawner_main(const engine_paths *p, int sock, pid_t parent)
{
	char id[RECORD_ID_LEN + 2];
	berth_error *err = NULL;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	prctl(PR_SET_NAME, "berth-spawner");
	proctitle_set("berth-monitor-spawner");
	/* only its socket: no lock or store fd of the caller stays held */
	if (sock > 3)
		close_range(3, (unsigned)sock - 1, 0);
	close_range((unsigned)sock + 1, ~0U, 0);
	/* what the caller freed before the fork goes back: every monitor
	 * shares the rest with this process */
	malloc_trim(0);
	/* the monitors' in-process create runs from a sealed view of berth's
	 * binary (runtime_call.c): moved here once, the moved mappings (RELRO
	 * and .data, 64 kB) are shared with every monitor, which finds itself
	 * sealed, instead of each monitor copying its own. Where it cannot be
	 * done, each monitor tries on its own as before. */
	engine_exe_dir();
	if (exe_guard_seal_in_place(&err) < 0)
		berth_error_free(&err);
	for (;;) {
		/* a request: the id and the events fd; 0 when every sender is gone */
		int n = sync_recv_named_fd(sock, id, sizeof(id), &fd);
		pid_t pid;
		if (n == 0)
			_exit(0);
		if (n < 0)
			_exit(1);
		if (fd < 0)
			continue;
		pid = fork();
		if (pid == 0) {
			/* twice: the monitor is reparented at once, none to reap here */
			close(sock);
			if (fork() == 0)
				spawn_monitor(p, id, fd);
			_exit(0);
		}
		close(fd);
		/* a failed fork closes the caller's events pipe: it hears of it */
		while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

int monitor_spawner_start(const engine_paths *p, berth_error **err)
{
	pid_t parent = getpid(), pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return berth_error_set(err, errno, "monitor spawner: socketpair");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return berth_error_set(err, errno, "monitor spawner: fork");
	}
	if (pid == 0) {
		close(sv[0]);
		spawner_main(p, sv[1], parent);
	}
	close(sv[1]);
	if (spawner_fd >= 0)
		close(spawner_fd);
	spawner_fd = sv[0];
	return 0;
}

int monitor_spawner_request(const char *id, int events_w)
{
	berth_error *e = NULL;
	size_t len = strlen(id);

	if (spawner_fd < 0 || len == 0 || len > RECORD_ID_LEN) {
		errno = ENOENT;
		return -1;
	}
	if (sync_send_fd(spawner_fd, events_w, id, &e) < 0) {
		errno = e->code;
		berth_error_free(&e);
		return -1;
	}
	return 0;
}
