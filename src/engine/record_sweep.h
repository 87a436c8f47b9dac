/* What a killed command leaves in STORE/containers, and how the next
 * command that meets it finishes the job. Every record is either complete
 * or recognisably unfinished, with the process that works on it named by
 * its pid and start time (field 22 of /proc/PID/stat: the pair names one
 * process for good):
 *
 *   .creating-PID-START-ID   a record being made, before it has a name;
 *                            renamed to ID with config.json and state.json
 *                            in it
 *   ID                       with "Creating": {"Pid", "StartTime"} in its
 *                            config.json: named, its bundle, mounts and
 *                            network being made; complete once create drops
 *                            the key (record_commit)
 *   .removing-PID-START-ID   a record being removed (record_retire), out
 *                            of every listing
 *   .removing-ID             the same, from an older berth: its remover is
 *                            unknown, so it is left alone for 10 seconds
 *   names/NAME -> ID         a name claim; it is stale once no directory ID
 *                            exists (a record is renamed into place before
 *                            its name is claimed and away before the claim
 *                            goes)
 *
 * Whatever belongs to an owner that is gone is removed: the runtime's
 * container (state, cgroup, processes), the network, the rootfs mount, the
 * name, the anonymous volumes of an unfinished or --rm record, the files. */
#ifndef BERTH_ENGINE_RECORD_SWEEP_H
#define BERTH_ENGINE_RECORD_SWEEP_H

#include <stdbool.h>
#include <sys/types.h>

#include "engine/record.h"

#define RECORD_CREATING_PREFIX ".creating-"
#define RECORD_TRASH_PREFIX    ".removing-"

/* This process as an owner. */
void record_owner_self(pid_t *pid, unsigned long long *start);
/* Whether the owner PID/START still runs (a zombie does not). */
bool record_owner_alive(pid_t pid, unsigned long long start);

/* NAME, an entry of STORE/containers (DIRFD) that starts with a dot: a
 * leftover whose owner is gone is finished now. */
void record_sweep_hidden(const engine_paths *p, int dirfd, const char *name);

/* Removes the record ID, unfinished and without a living owner, with
 * everything it made. Returns false when another process got there
 * first. */
bool record_sweep_unfinished(const engine_paths *p, const char *id);

/* After a stale claim of ID was met: finishes a removal of ID whose remover
 * is gone. */
void record_sweep_removing(const engine_paths *p, const char *id);

/* Drops the claim NAME when it still names ID (under the names lock, so a
 * claim made meanwhile by someone else stays). */
void record_release_name(const engine_paths *p, const char *name, const char *id);

#endif
