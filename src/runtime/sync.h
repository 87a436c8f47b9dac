/* The socketpair protocol between the runtime and the container init while
 * it is being set up.  Messages are fixed-size headers with an optional text
 * payload and an optional fd (SCM_RIGHTS). */
#ifndef BERTH_RUNTIME_SYNC_H
#define BERTH_RUNTIME_SYNC_H

#include <stddef.h>

#include "util/error.h"

enum sync_type {
	SYNC_GO = 1,	     /* parent -> init: maps and resources written */
	SYNC_CONSOLE,	     /* init -> parent: the pty master (fd attached) */
	SYNC_HOOKS,	     /* init -> parent: rootfs mounted, run createRuntime hooks */
	SYNC_HOOKS_DONE,     /* parent -> init: payload is the state JSON for hooks */
	SYNC_SECCOMP,	     /* init -> parent: the seccomp listener fd */
	SYNC_SECCOMP_DONE,   /* parent -> init */
	SYNC_READY,	     /* init -> parent: waiting on the exec fifo */
	SYNC_ERROR,	     /* init -> parent: payload is the error message */
	SYNC_GRANDCHILD_PID, /* intermediate -> parent: value is the init pid */
	SYNC_USERNS,	     /* init -> parent: user namespace unshared, write the maps */
	SYNC_MAPS_DONE,	     /* parent -> init */
	SYNC_CGROUP_JOIN,    /* parent -> init, before SYNC_GO: the v1 "tasks" files to join (fds), their paths
				in the payload, one a line */
	SYNC_START,	     /* parent -> init (`run` with linux.netDevices): the devices are in, exec */
};

/* The most fds one message carries. */
#define SYNC_FDS_MAX 32

typedef struct sync_msg {
	int type;
	int value;
	size_t len;
} sync_msg;

/* Sends TYPE with VALUE, PAYLOAD (may be NULL) and FD (-1 for none). */
int sync_send(int sock, int type, int value, const char *payload, int fd, berth_error **err);

/* As sync_send, with N_FDS (at most SYNC_FDS_MAX) FDS. */
int sync_send_fds(int sock, int type, int value, const char *payload, const int *fds, size_t n_fds, berth_error **err);

/* Receives one message. *PAYLOAD (heap, may be NULL) and *FD (-1 if none). */
int sync_recv(int sock, sync_msg *msg, char **payload, int *fd, berth_error **err);

/* As sync_recv, keeping up to MAX_FDS fds in FDS (*N_FDS; more are closed).
 * On failure none is left open. */
int sync_recv_fds(int sock, sync_msg *msg, char **payload, int *fds, size_t max_fds, size_t *n_fds, berth_error **err);

/* Receives and checks the type; a SYNC_ERROR payload becomes the error. */
int sync_expect(int sock, int type, char **payload, int *fd, berth_error **err);

/* Sends an fd alone over a unix socket (console socket protocol). */
int sync_send_fd(int sock, int fd, const char *name, berth_error **err);
int sync_recv_fd(int sock, int *fd, berth_error **err);
/* Receives what sync_send_fd sent: its name into NAME (SIZE bytes, NUL
 * terminated, cut short if longer) and its fd (-1 for none); returns the
 * name's length, 0 once the peer is gone, or -errno. */
int sync_recv_named_fd(int sock, char *name, size_t size, int *fd);

#endif
