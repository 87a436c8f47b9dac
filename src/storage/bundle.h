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

/* Mounts the rootfs and writes config.json into DIR (created; must not hold a
 * config.json yet). On error nothing is left mounted and DIR's new entries
 * are removed. */
int bundle_create(store *s, const image_info *image, const char *dir, const bundle_options *opts, berth_error **err);

/* Unmounts DIR/rootfs and removes what bundle_create made (DIR itself too when
 * it is then empty). */
int bundle_remove(const char *dir, berth_error **err);

#endif
