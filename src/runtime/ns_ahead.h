/* The network, IPC and UTS namespaces of a container made ahead, on a
 * thread, while the runtime parses its bundle and prepares its state.
 *
 * Making a network namespace is the most expensive part of the init's
 * clone (every per-namespace part of the network stack is set up), and
 * the clone waits for everything before it. Where the init needs no user
 * namespace of its own, so that the host's user namespace owns them as it
 * would have owned the clone's, a thread makes them instead, beside the
 * runtime's work before the clone; the init then joins them by fd, as
 * namespaces named by path (and brings up the loopback: on the thread, it
 * made the runtime wait longer at the join than it saved the init). A
 * thread that fails leaves the clone to make them as before. */
#ifndef BERTH_RUNTIME_NS_AHEAD_H
#define BERTH_RUNTIME_NS_AHEAD_H

#include <pthread.h>
#include <stdbool.h>

#include "spec/spec.h"

typedef struct {
	pthread_t thread;
	void *stack; /* its own: glibc would keep a stack of its making cached */
	bool started;
	int flags;	   /* CLONE_NEW* the thread makes */
	int fds[NS_TYPES]; /* what it made, or -1 */
	int error;	   /* its errno, where it failed */
} ns_ahead;

/* Starts the thread for the namespaces of S that a clone with CLONE_FLAGS
 * would make and that can be made ahead (network, IPC, UTS). Nothing is
 * started where none can, or where the thread cannot be. */
void ns_ahead_start(ns_ahead *a, const spec *s, int clone_flags);

/* Joins the thread. Where it made its namespaces, their fds go into
 * NS_FDS (the init joins them) and their flags leave *CLONE_FLAGS. Must
 * come before any fork or clone of this process. */
void ns_ahead_finish(ns_ahead *a, int ns_fds[NS_TYPES], int *clone_flags);

/* Joins a thread still running and closes what it made (for every path
 * that does not reach ns_ahead_finish). */
void ns_ahead_cancel(ns_ahead *a);

#endif
