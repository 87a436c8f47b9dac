/* `berth attach`: the container's input, handed over by its monitor.
 *
 * The monitor listens on DIR/attach.sock; a client that connects gets the
 * container's input over SCM_RIGHTS (the pty master with -t, the write end
 * of its stdin pipe with -i, nothing otherwise) and the connection closes.
 * The output comes from the log the monitor writes (ctr.log), so the
 * monitor never waits for a slow client. Only root of the store (the
 * directory is 0700) can connect. */
#ifndef BERTH_ENGINE_ATTACH_H
#define BERTH_ENGINE_ATTACH_H

#include <stdbool.h>

#include "engine/record.h"
#include "util/error.h"

#define ATTACH_SOCKET "attach.sock"

/* Monitor side: listens on ATTACH_SOCKET in the current directory (the
 * container's); a non-blocking fd, or -1. */
int attach_listen(void);
/* Monitor side: answers the waiting clients with INPUT (-1: none), TTY
 * telling what it is. Never blocks. Returns how many got INPUT. */
int attach_serve(int listen_fd, int input, bool tty);

/* Client side: connects to C's monitor; *INPUT is the container's input (or
 * -1), *TTY whether it is a terminal. */
int attach_connect(const container *c, int *input, bool *tty, berth_error **err);

/* "ctrl-p,ctrl-q" (docker's default), "ctrl-x", "a,b": the bytes; *N their
 * count (at most 8). */
int attach_parse_detach_keys(const char *text, unsigned char *keys, int *n, berth_error **err);

#endif
