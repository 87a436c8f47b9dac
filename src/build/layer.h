/* Layers from the overlay upper directory of a build step.
 *
 * The upper dir of an overlay holds exactly what the step changed: new and
 * modified files, whiteouts (0:0 character devices) for deletions and the
 * opaque xattr on directories that replaced a lower one. The layer is that
 * tree as an OCI layer tar: whiteouts become ".wh.NAME", an opaque
 * directory gets ".wh..wh..opq", hard links inside the layer are kept,
 * entries are sorted by name, and security.capability is kept; the tar is
 * gzipped (no gzip timestamp) into the store. */
#ifndef BERTH_BUILD_LAYER_H
#define BERTH_BUILD_LAYER_H

#include <stdbool.h>
#include <stdint.h>

#include "image/digest.h"
#include "image/store.h"
#include "util/error.h"

typedef struct build_layer {
	char digest[DIGEST_STRING_MAX];	 /* of the gzip blob */
	char diff_id[DIGEST_STRING_MAX]; /* of the tar */
	int64_t size;			 /* of the blob */
} build_layer;

/* Writes the tree of UPPER_FD (an O_DIRECTORY fd) as a layer blob. With
 * USERXATTR the opaque marker is user.overlay.opaque (rootless overlay).
 * CLAMP_MTIME >= 0 (SOURCE_DATE_EPOCH) caps every entry's mtime at that
 * second, as BuildKit's rewrite-timestamp does, and drops atime/ctime: the
 * same tree then gives the same layer whenever it is built. */
int build_layer_write(store *s, int upper_fd, bool userxattr, int64_t clamp_mtime, build_layer *out, berth_error **err);
/* build_layer_write leaving out the paths EXCLUDE names ("etc/hosts", no
 * leading "/"; NULL-terminated) and everything below them (a container's
 * mount points, for commit). */
int build_layer_write_excluding(store *s, int upper_fd, bool userxattr, int64_t clamp_mtime, char *const *exclude,
				build_layer *out, berth_error **err);

/* The tree of DIR_FD as a plain tar (no gzip, entries named without "./",
 * hard links kept, sorted) to OUT_FD: `berth export`. */
int build_tree_tar(int dir_fd, int out_fd, berth_error **err);

#endif
