/* A "cgroup" entry of spec.mounts: on cgroup v2 a cgroup2 mount (in a new
 * cgroup namespace) or a bind of the container's cgroup; on v1 a tmpfs with
 * one bind per hierarchy of the container's own cgroup, like runc. The
 * container's cgroups are read from /proc/self/cgroup of the init, which
 * has already been moved into them. */
#ifndef BERTH_RUNTIME_CGROUP_MOUNT_H
#define BERTH_RUNTIME_CGROUP_MOUNT_H

#include <stddef.h>

#include "spec/spec.h"
#include "util/error.h"

int cgroup_mount_in_rootfs(int rootfd, const spec_mount *m, size_t index, berth_error **err);

#endif
