/* An OCI bundle from an image: DIR/rootfs (the overlay of storage/rootfs.h)
 * and DIR/config.json generated from the image config on top of the
 * runtime's defaults, ready for `berth-runtime run -b DIR`. */
#ifndef BERTH_STORAGE_BUNDLE_H
#define BERTH_STORAGE_BUNDLE_H

#include <stdbool.h>

#include <jansson.h>

#include "image/images.h"
#include "image/store.h"
#include "util/error.h"

typedef struct bundle_options {
	char *const *args; /* the command (NULL: the image's entrypoint + cmd) */
	bool terminal;	   /* process.terminal */
	bool rootless;	   /* a user namespace mapping the caller to 0 */
} bundle_options;

/* The config.json for IMAGE. ROOTFS_FD (an fd of the mounted rootfs, or -1)
 * resolves a user name of the image config through the image's
 * /etc/passwd and /etc/group (opened inside the rootfs). */
int bundle_config_from_image(const image_info *image, int rootfs_fd, const bundle_options *opts, json_t **out,
			     berth_error **err);

/* "user", "uid", "user:group", "uid:gid" into numeric ids, names looked up
 * in the image's /etc/passwd and /etc/group opened inside ROOTFS_FD (never
 * following links out of it); a user without a group gets its primary
 * group. An unknown name is an error naming it. */
int bundle_resolve_user(const char *spec, int rootfs_fd, long *uid, long *gid, berth_error **err);

/* Mounts the rootfs and writes config.json into DIR (created; must not hold a
 * config.json yet). On error nothing is left mounted and DIR's new entries
 * are removed. */
int bundle_create(store *s, const image_info *image, const char *dir, const bundle_options *opts, berth_error **err);

/* Unmounts DIR/rootfs and removes what bundle_create made (DIR itself too when
 * it is then empty). */
int bundle_remove(const char *dir, berth_error **err);

#endif
