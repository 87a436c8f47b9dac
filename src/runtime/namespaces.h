/* Namespaces: opening the paths to join (validated before anything is
 * created) and writing uid/gid maps for a new user namespace. */
#ifndef BERTH_RUNTIME_NAMESPACES_H
#define BERTH_RUNTIME_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

/* Opens every namespace path of the spec into FDS (-1 where none) and checks
 * with NS_GET_NSTYPE that each is a namespace of the declared type. */
int namespaces_open_paths(const spec *s, int fds[NS_TYPES], berth_error **err);
void namespaces_close_fds(int fds[NS_TYPES]);

/* Clone flags for the namespaces to create (no path). */
int namespaces_clone_flags(const spec *s);

/* clone3 with FLAGS (namespaces), like fork otherwise, into the cgroup of
 * CGROUP_FD (a cgroup2 directory, -1: none) with CLONE_INTO_CGROUP.
 * *IN_CGROUP tells whether that worked: a kernel without CLONE_INTO_CGROUP
 * gets a plain clone and the caller must place the child. */
pid_t namespaces_clone(int flags, int cgroup_fd, bool *in_cgroup);

/* Writes PID's uid_map and gid_map. As root, the files are written
 * directly; rootless, a single mapping of the caller's own id is written
 * directly (with setgroups "deny"), anything else goes through
 * newuidmap/newgidmap. */
int namespaces_write_id_maps(pid_t pid, const spec *s, bool rootless, berth_error **err);

/* Whether the calling process runs in a user namespace other than the
 * initial one (its uid_map is not the identity map of every id): rootless
 * podman runs the runtime as uid 0 in a user namespace of its own. Read
 * once per process (and inherited by a clone): not for a process that has
 * entered another user namespace since. */
bool namespaces_in_user_namespace(void);

/* Writes /proc/self/timens_offsets for a time namespace unshared for children. */
int namespaces_write_time_offsets(const spec *s, berth_error **err);

#endif
