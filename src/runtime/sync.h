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
	SYNC_CGROUP_JOIN,    /* parent -> init, before SYNC_GO: a v1 "tasks" file to join (fd), path in payload */
	SYNC_START,	     /* parent -> init (`run` with linux.netDevices): the devices are in, exec */
};

typedef struct sync_msg {
	int type;
	int value;
	size_t len;
} sync_msg;

/* Sends TYPE with VALUE, PAYLOAD (may be NULL) and FD (-1 for none). */
int sync_send(int sock, int type, int value, const char *payload, int fd, berth_error **err);

/* Receives one message. *PAYLOAD (heap, may be NULL) and *FD (-1 if none). */
int sync_recv(int sock, sync_msg *msg, char **payload, int *fd, berth_error **err);

/* Receives and checks the type; a SYNC_ERROR payload becomes the error. */
int sync_expect(int sock, int type, char **payload, int *fd, berth_error **err);

/* Sends an fd alone over a unix socket (console socket protocol). */
int sync_send_fd(int sock, int fd, const char *name, berth_error **err);
int sync_recv_fd(int sock, int *fd, berth_error **err);

#endif
