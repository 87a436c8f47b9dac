/* A "cgroup" entry of spec.mounts: on cgroup v2 a cgroup2 mount (in a new
 * cgroup namespace) or a bind of the container's cgroup; on v1 a tmpfs with
 * one bind per hierarchy of the container's own cgroup, like runc. The
 * container's cgroups are read from /proc/self/cgroup of the init, which
 * has already been moved into them. */
#ifndef BERTH_RUNTIME_CGROUP_MOUNT_H
#define BERTH_RUNTIME_CGROUP_MOUNT_H

#include <stddef.h>

#include "runtime/cgroup.h"
#include "spec/spec.h"
#include "util/error.h"

/* MOUNTS (may be NULL): the hierarchies as the runtime read them before the
 * clone (cgroup_read_mounts). With them, and a cgroup namespace the init
 * made itself (NEW_CGROUPNS), every v1 hierarchy is mounted afresh (or,
 * where that is refused, its host mount bound) without reading
 * /proc/self/mountinfo again: in that namespace the root of each host
 * mount lies above the init's cgroup, which is all the walk of mountinfo
 * would find out. MOUNTS are given only on a v1 or hybrid host (no cgroup2
 * at /sys/fs/cgroup is looked for then). */
int cgroup_mount_in_rootfs(int rootfd, const spec_mount *m, size_t index, const cgroup_mount *mounts, size_t n_mounts,
			   bool new_cgroupns, berth_error **err);

#endif
