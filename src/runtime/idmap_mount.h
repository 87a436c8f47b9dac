/* Idmapped bind mounts (runtime-spec 1.2: the "idmap" and "ridmap" mount
 * options, a mount's uidMappings/gidMappings).
 *
 * The runtime makes them before it clones the init, as detached mount trees
 * that nothing on the host sees: open_tree(OPEN_TREE_CLONE) of the source,
 * then mount_setattr(MOUNT_ATTR_IDMAP) with a user namespace that carries the
 * mapping (the mount's own, else the container's: a namespace made with the
 * same maps, or the joined user namespace itself). The init inherits the fds
 * and attaches each tree onto its destination inside the rootfs with
 * move_mount. Where the kernel or the filesystem cannot idmap a mount, create
 * fails naming it: the option is never ignored. */
#ifndef BERTH_RUNTIME_IDMAP_MOUNT_H
#define BERTH_RUNTIME_IDMAP_MOUNT_H

#include <stdbool.h>

#include "spec/spec.h"
#include "util/error.h"

/* One fd per spec mount: the detached idmapped tree, or -1. */
typedef struct idmap_mounts {
	int *fds;
	size_t n;
} idmap_mounts;

/* Makes the tree of every idmapped mount of S. JOINED_USERNS is the fd of
 * linux.namespaces' user path (-1 when none); ROOTLESS maps through
 * newuidmap/newgidmap. Nothing to do (OUT stays empty) when no mount asks. */
int idmap_mounts_prepare(const spec *s, int joined_userns, bool rootless, idmap_mounts *out, berth_error **err);
void idmap_mounts_clear(idmap_mounts *im);

/* Attaches the detached TREE onto TARGET (an O_PATH fd inside the rootfs). */
int idmap_mount_attach(int tree, int target, berth_error **err);

#endif
