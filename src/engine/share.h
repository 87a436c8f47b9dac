/* --ipc and --pid of `berth run`: a container's IPC and PID namespaces.
 *
 *   --ipc private      its own IPC namespace and /dev/shm (the default)
 *   --ipc shareable    the same, and its /dev/shm is a tmpfs of the host
 *                      mounted on STORE/containers/<id>/shm (64 MiB, as
 *                      docker's), so that others can join both
 *   --ipc host         the host's IPC namespace and /dev/shm
 *   --ipc container:ID the IPC namespace and /dev/shm of ID, which runs and
 *                      is shareable (docker's rule)
 *   --pid private      its own PID namespace (the default)
 *   --pid host         the host's
 *   --pid container:ID the PID namespace of ID, which runs
 *
 * The record keeps "IpcMode" and "PidMode" (container:<full id>). A pod's
 * holder is shareable and its containers join it. */
#ifndef BERTH_ENGINE_SHARE_H
#define BERTH_ENGINE_SHARE_H

#include <jansson.h>

#include "engine/record.h"
#include "util/error.h"

/* Checks the words of --ipc and --pid (NULL: not given). */
int engine_share_validate(const char *ipc, const char *pid, berth_error **err);

/* Applies IPC and PID to CFG, the container C's config.json; mounts the
 * shareable /dev/shm. */
int engine_share_setup(const engine_paths *p, container *c, const char *ipc, const char *pid, json_t *cfg,
		       berth_error **err);

/* Before a start of C: a namespace joined with container:ID is that of ID's
 * process now (which runs: a pod's holder started again has a new one);
 * rewrites the path in C's bundle config.json when it changed. */
int engine_share_refresh(const engine_paths *p, const container *c, berth_error **err);

/* Unmounts C's shareable /dev/shm (C->dir/shm) when there is one. */
void engine_share_teardown(const container *c);

#endif
