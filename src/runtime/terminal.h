/* Terminals: the container's pty, the console socket protocol (the pty
 * master sent over SCM_RIGHTS, as runc and conmon expect), and the proxy used
 * by a foreground `run` with a terminal. */
#ifndef BERTH_RUNTIME_TERMINAL_H
#define BERTH_RUNTIME_TERMINAL_H

#include <sys/types.h>

#include "util/error.h"

/* Opens a new pty from the ptmx at PTMX_FD's path (the container's devpts)
 * and returns master and peer (slave) fds. */
int terminal_open_pty(int ptmx_fd, unsigned rows, unsigned cols, int *master, int *peer, berth_error **err);

/* Makes PEER, owned by uid OWNER, the controlling terminal and stdio of
 * the calling process. */
int terminal_make_controlling(int peer, uid_t owner, berth_error **err);

/* Connects to the console socket at PATH (a unix stream socket). */
int terminal_connect_console_socket(const char *path, berth_error **err);

/* Copies stdin -> MASTER and MASTER -> stdout until the master hangs up or
 * STOP_FD (e.g. a pidfd) becomes readable. Puts stdin in raw mode when it
 * is a terminal and restores it after. */
int terminal_proxy(int master, int stop_fd, berth_error **err);

#endif
