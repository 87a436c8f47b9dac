/* The monitor: one small process per running container, forked from berth
 * (no helper binary), detached with setsid and a double fork so no berth
 * command has to stay. It is PR_SET_CHILD_SUBREAPER, so the container init
 * (forked by `RUNTIME create`, which then exits) is reparented to it. It
 *
 *   - runs `RUNTIME create` (stdio: pipes it holds, or a pty received on a
 *     console socket) and `RUNTIME start`, and records pid and start time;
 *   - writes the output to the k8s-file log (logfile.h) and, for a
 *     foreground `berth run`, to berth's stdout/stderr (stdin from berth's
 *     with -i; a pty proxied with -t);
 *   - forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT it receives to the container
 *     and SIGWINCH as a new window size of the pty;
 *   - on exit records the exit code (128+N for signal N) and finish time,
 *     runs `RUNTIME delete`, and restarts the container by its policy with
 *     exponential backoff (100 ms doubling to 10 s, reset after 10 s of
 *     running) unless state.json says StoppedByUser (SIGUSR1 makes it look
 *     again during the backoff);
 *   - with AutoRemove removes the container at the end.
 *
 * berth hears from the monitor through a pipe of lines:
 *   "S PID"   the container started (PID: the monitor)
 *   "E TEXT"  it could not start (TEXT: the runtime's error); the monitor
 *             has cleaned up and exits
 *   "B TEXT"  another monitor holds the container (RUN_ROOT/monitors/ID,
 *             the claim of its one monitor): this one touched nothing
 *   "X CODE"  the container exited (after --rm's cleanup), foreground only */
#ifndef BERTH_ENGINE_MONITOR_H
#define BERTH_ENGINE_MONITOR_H

#include <stdbool.h>
#include <sys/types.h>

#include "engine/record.h"
#include "util/error.h"

/* Forks the monitor of C and waits until the container started. On
 * failure the error is the runtime's message and the container is left in
 * "exited" (or removed with AutoRemove). FOREGROUND: the monitor inherits
 * berth's stdio and *EVENTS_FD is kept open for the "X CODE" line;
 * otherwise EVENTS_FD may be NULL. *MONITOR_PID (may be NULL) gets the
 * forked monitor's pid, also when the start fails (the monitor then exits
 * on its own; a caller that does not exit must reap it). */
int monitor_start(const engine_paths *p, container *c, bool foreground, int *events_fd, pid_t *monitor_pid,
		  berth_error **err);

/* Turns this process into C's detached monitor, reporting on EVENTS_W as
 * monitor_start's does; never returns. For the spawner
 * (monitor_spawner.h). */
_Noreturn void monitor_become_detached(const engine_paths *p, container *c, int events_w);

/* Drops the monitor claim of container ID (RUN_ROOT/monitors/ID, made by
 * its monitor, which drops it when it exits) when its monitor was killed:
 * for the removal of the container. */
void monitor_forget(const engine_paths *p, const char *id);

/* Reads one "X CODE" line from FD: the container's exit code, or -1. */
int monitor_wait_exit(int fd);

#endif
