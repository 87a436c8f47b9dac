/* Shared between the lifecycle files; not part of libberth's interface. */
#ifndef BERTH_RUNTIME_CONTAINER_INTERNAL_H
#define BERTH_RUNTIME_CONTAINER_INTERNAL_H

#include <signal.h>
#include <sys/types.h>

#include "runtime/container.h"
#include "runtime/state.h"

/* create up to "created". FOREGROUND allows a terminal without a console
 * socket: the pty master is returned in *MASTER_OUT (-1 otherwise).
 * With EXEC_FD_OUT (`run`) there is no exec fifo and no "created" phase:
 * the init goes on to exec the process once it is ready and the state says
 * "running"; *EXEC_FD_OUT is then an fd that reads EOF once the process
 * runs when the spec has poststart hooks, else -1. With KEPT (`run`, may be
 * NULL), the state as written and the state directory's fd are handed over
 * for the delete that follows (no second read of state.json). */
typedef struct create_kept {
	container_state *state;
	int dirfd;
} create_kept;
int container_create_internal(const runtime_globals *g, const create_options *opts, bool foreground, int *exec_fd_out,
			      pid_t *pid_out, int *master_out, create_kept *kept, berth_error **err);

/* Blocks the signals container_wait_foreground() forwards (*SET), saving
 * the mask in *OLD (may be NULL): blocked before a process starts, none
 * arriving meanwhile is lost. */
void container_block_forwarded_signals(sigset_t *set, sigset_t *old);

/* Forwards the usual terminal and job signals to PID (a child) and waits
 * for it; proxies the pty when MASTER >= 0. *EXIT_CODE is its exit status,
 * 128+N when killed by signal N. For `run` and a foreground `exec`. */
int container_wait_foreground(pid_t pid, int master, int *exit_code, berth_error **err);

#endif
