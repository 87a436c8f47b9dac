/* Operations on containers shared by the berth commands and the monitor:
 * create from an image, stop, kill, wait, remove. Each takes the record
 * (record.h) of one container; state changes happen under its lock. */
#ifndef BERTH_ENGINE_CONTAINER_H
#define BERTH_ENGINE_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/record.h"
#include "engine/run_config.h"
#include "image/store.h"
#include "util/error.h"

/* `berth create`: resolves IMAGE (pulling it when missing), makes the
 * record, mounts the rootfs in DIR/bundle and writes its config.json from
 * the image and O. On error nothing is left (record, name, mount). */
int engine_container_create(const engine_paths *p, store *s, const char *image, const run_options *o,
			    const run_plan *plan, container **out, berth_error **err);

/* Before a start: makes again what a reboot took away (the overlay rootfs
 * mount, the network namespace and its network), from C's record. */
int engine_container_prepare_start(const engine_paths *p, container *c, berth_error **err);

/* The runtime of C (its "Runtime" or the default). */
const char *engine_container_runtime(const container *c);
/* DIR/bundle of C, heap. */
char *engine_container_bundle(const container *c);

/* Sends SIGNAL (a name or number) to the container's process. */
int engine_container_kill(const engine_paths *p, container *c, const char *signal, berth_error **err);
/* Freezes (PAUSE) or thaws every process of a running (paused) container and
 * records the status "paused" ("running"). Health probes are not run while
 * a container is paused. */
int engine_container_pause(const engine_paths *p, container *c, bool pause, berth_error **err);
/* Marks C stopped by the user (no restart), sends its stop signal, waits
 * TIMEOUT_S seconds, then SIGKILL; returns when it is no longer live (or
 * its record went: a --rm container). */
int engine_container_stop(const engine_paths *p, container *c, int timeout_s, berth_error **err);
/* Waits until C is no longer live (TIMEOUT_MS < 0: forever) and sets *CODE
 * to its exit code (C's state is reloaded; RECORD_EXIT_CODE_UNKNOWN when
 * nobody saw the exit). A record removed meanwhile (--rm, rm -f) gives the
 * code its monitor left in the runroot. <0 with ERR on timeout. */
int engine_container_wait(const engine_paths *p, container *c, int timeout_ms, int *code, berth_error **err);
/* Removes C: refuses a live one unless FORCE (then stops it with SIGKILL),
 * then runtime delete --force, unmount, record and name gone. */
int engine_container_remove(const engine_paths *p, container *c, bool force, berth_error **err);
/* The last step of remove, also used by the monitor for --rm: runtime
 * delete, unmount, record and name gone; with AutoRemove also the anonymous
 * volumes (docker's --rm). */
int engine_container_destroy(const engine_paths *p, container *c, berth_error **err);
/* engine_container_destroy but for the runtime's delete and removing the
 * files: the network and the rootfs mount are gone, C is out of every
 * listing and its name is free, and *TRASH (heap, NULL when there is
 * nothing) is left for fs_remove_tree. The monitor of a --rm container
 * reports the exit before the rest (its process is gone by then). */
int engine_container_retire(const engine_paths *p, container *c, char **trash, berth_error **err);
/* `RUNTIME delete --force ID`; errors (no such container) ignored. */
void engine_container_runtime_delete(const engine_paths *p, const container *c);
/* `rm -v`: removes the anonymous volumes of C's record ("Mounts" entries with
 * "Anonymous": true); call after C is removed. One still in use by another
 * container is kept and reported. */
int engine_container_remove_anonymous_volumes(const engine_paths *p, const container *c, berth_error **err);

/* `berth update`: resource limits, -1 for "unchanged". */
typedef struct engine_resources {
	int64_t memory;	   /* bytes */
	int64_t cpu_quota; /* us per 100 ms */
	int64_t pids_limit;
	int64_t cpu_shares;
} engine_resources;
/* The flags' values into OUT (NULL: unchanged); at least one is needed. */
int engine_update_parse(const char *memory, const char *cpus, const char *pids, const char *shares,
			engine_resources *out, berth_error **err);
/* Applies R to a running or paused C (`RUNTIME update`), then to its bundle
 * and record (HostConfig in inspect, the next start). */
int engine_container_update(const engine_paths *p, container *c, const engine_resources *r, berth_error **err);

/* `berth rename`: NAME (checked like --name) is reserved, the record says
 * it, then the old name goes. A taken name is refused. Hosts files of the
 * container's peers keep the old name until they are written again. */
int engine_container_rename(const engine_paths *p, container *c, const char *name, berth_error **err);

#endif
