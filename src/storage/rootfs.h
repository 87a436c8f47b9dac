/* A container's root filesystem from an image: an overlayfs mount of the
 * image's snapshots (lowerdir, top layer first) plus the container's own
 * upper and work directories.
 *
 *   DIR/upper, DIR/work   the container's writable layer
 *   DIR/rootfs            the mount point
 *
 * With one snapshot and READ_ONLY, or for images with no layers, a bind of
 * the snapshot (or an empty dir) is used instead; overlay needs a lower dir. */
#ifndef BERTH_STORAGE_ROOTFS_H
#define BERTH_STORAGE_ROOTFS_H

#include <stdbool.h>

#include "image/images.h"
#include "image/store.h"
#include "util/error.h"

typedef struct rootfs_options {
	bool userxattr; /* rootless overlay inside a user namespace */
	bool rootless;	/* unpack: owners a chown refuses go to an xattr */
	/* overlay "volatile": no sync of the upper layer's filesystem, at
	 * unmount either, for a container whose changes are thrown away */
	bool volatile_upper;
	/* redirect_dir=off and metacopy=off: every change lands in the upper
	 * dir in full (no redirect xattrs, no metadata-only copy-ups), so the
	 * upper dir alone is the layer (berth build) */
	bool self_contained_upper;
} rootfs_options;

/* Unpacks missing layers, then mounts the image's rootfs at DIR/rootfs
 * (creating DIR/upper, DIR/work, DIR/rootfs). Holds the store's gc lock
 * shared while it works. ROOTFS_PATH (may be NULL) gets DIR/rootfs. */
int storage_rootfs_mount(store *s, const image_info *image, const char *dir, const rootfs_options *opts,
			 char **rootfs_path, berth_error **err);

/* Unmounts DIR/rootfs (lazily when busy) and, with REMOVE, deletes upper,
 * work and the mount point. Not mounted is not an error. */
int storage_rootfs_unmount(const char *dir, bool remove, berth_error **err);

/* The chain ids of IMAGE's snapshots (NULL-terminated, heap), for prune's
 * in-use list. */
char **storage_image_chain_ids(const image_info *image);

/* Chain ids of snapshots some overlay mount of this host uses (read from
 * /proc/self/mountinfo): prune keeps them. */
int storage_snapshots_in_use(store *s, char ***chain_ids, berth_error **err);

#endif
