/* Images in the store: resolve a name or id, list, inspect, unpack layers to
 * snapshots, remove and prune.
 *
 * An image is a manifest named in index.json. Its id is the digest of its
 * config, as in docker and podman; "berth image ls" shows 12 hex digits and
 * any unique prefix of the id (or of the manifest digest) selects it. */
#ifndef BERTH_IMAGE_IMAGES_H
#define BERTH_IMAGE_IMAGES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "image/manifest.h"
#include "image/store.h"
#include "image/unpack.h"
#include "util/error.h"

typedef struct image_info {
	char *manifest_digest;
	char *manifest_media_type;
	int64_t manifest_size;
	char *id;     /* config digest */
	char **names; /* NULL-terminated, possibly empty */
	image_manifest manifest;
	image_config config;
	int64_t size; /* sum of compressed layer sizes */
} image_info;

/* Finds the image TEXT names: a name as typed ("busybox" means
 * docker.io/library/busybox:latest), "name@sha256:..." or "sha256:...",
 * or a unique prefix (>= 3 hex) of an id or manifest digest. */
int image_resolve(store *s, const char *text, image_info *out, berth_error **err);
/* Loads the image whose manifest is DIGEST. */
int image_load_info(store *s, const char *manifest_digest, image_info *out, berth_error **err);
void image_info_free(image_info *info);

/* Every image (one entry per manifest, with all its names). */
int image_list(store *s, image_info **out, size_t *n, berth_error **err);
void image_list_free(image_info *list, size_t n);

/* Unpacks every layer of the image not yet in snapshots/ (each chain id
 * once, up to three at a time: each has a snapshot of its own), verifying
 * each layer's diff_id against the config. On failure the error is that of
 * the first failing layer in image order; the layers that did unpack stay. */
int image_unpack(store *s, const image_info *info, const unpack_options *opts, berth_error **err);

/* Adds NAME (normalised like a reference) for the image TEXT resolves to. */
int image_tag(store *s, const char *text, const char *name, berth_error **err);
/* Removes a name; when it was the image's last name (or TEXT is an id),
 * removes the image's manifest entry too. With FORCE, an id names every name
 * of the image. Blobs and snapshots are left to image_prune. */
int image_remove(store *s, const char *text, bool force, char ***removed, berth_error **err);
/* Deletes blobs, snapshots and stale temp files that no image in index.json
 * references, under the gc lock held exclusive. Chain ids in IN_USE
 * (NULL-terminated, may be NULL: containers' rootfs) are kept. FREED_BYTES
 * and REMOVED (may be NULL) count the blobs and snapshots removed. */
int image_gc(store *s, char *const *in_use, uint64_t *freed_bytes, size_t *removed, berth_error **err);
/* image_gc that also keeps the blobs KEEP_BLOBS names ("sha256:..."; the
 * build cache's layers). */
int image_gc_keeping(store *s, char *const *in_use, char *const *keep_blobs, uint64_t *freed_bytes, size_t *removed,
		     berth_error **err);
/* `berth image prune`: drops unnamed images (ALL: every image), then
 * image_gc with IN_USE. Snapshots in use stay on disk even when their image
 * entry goes; keeping the images of containers is the engine's job. */
int image_prune(store *s, bool all, char *const *in_use, uint64_t *freed_bytes, size_t *removed, berth_error **err);
/* image_prune keeping the blobs KEEP_BLOBS names too (image_gc_keeping). */
int image_prune_keeping(store *s, bool all, char *const *in_use, char *const *keep_blobs, uint64_t *freed_bytes,
			size_t *removed, berth_error **err);

/* `berth image inspect`: docker-like JSON of the image. */
json_t *image_info_to_json(const image_info *info);

#endif
