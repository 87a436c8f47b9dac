/* The monitor spawner: a small process that a long-lived process (the
 * kube controller) forks early, before its heap grows, and from which
 * monitor_start then forks the detached monitors instead of from itself.
 *
 * A monitor is forked, not exec'd: every heap page of the process it came
 * from that it does not share any more (that process exited, or wrote the
 * page) is its own, and glibc never gives back what is allocated in them,
 * nor the chunks its thread cache keeps. Forked from the controller's child
 * that made a pod, a monitor kept ~170 kB of that child's heap; forked
 * from the spawner, it shares the spawner's few pages and owns only what
 * it writes itself (its record, the in-process create, trimmed after).
 * The spawner also moves onto the sealed view of berth's binary that the
 * in-process create needs (exe_guard_seal_in_place) once for all: the
 * monitors inherit the moved mappings instead of each copying its own.
 *
 * The spawner is the caller's child, and ends with it (PR_SET_PDEATHSIG),
 * or when every copy of its socket is closed. A request is one
 * SOCK_SEQPACKET message: the container's id, with the write end of the
 * caller's events pipe (monitor.h) as SCM_RIGHTS. The spawner forks twice
 * (the monitor is no child of it) and the monitor loads the record itself,
 * so everything monitor_start's caller prepared must be on disk, as it is
 * (engine_container_prepare_start saves what it changes). Children the
 * caller forks afterwards (a pod's maker) inherit the socket and use it
 * too: each message is one request. When the spawner is gone, a request
 * fails and monitor_start forks the monitor itself, as without one. */
#ifndef BERTH_ENGINE_MONITOR_SPAWNER_H
#define BERTH_ENGINE_MONITOR_SPAWNER_H

#include "engine/record.h"
#include "util/error.h"

/* Forks the spawner for the containers of P (P must stay valid in this
 * process: the spawner has its copy) and uses it from here on in this
 * process and the children it forks afterwards. */
int monitor_spawner_start(const engine_paths *p, berth_error **err);

/* Asks the spawner to fork the monitor of container ID, which writes its
 * lines to EVENTS_W (not closed here). -1 (errno set) when there is no
 * spawner or it is gone: then the caller forks the monitor itself. */
int monitor_spawner_request(const char *id, int events_w);

#endif
