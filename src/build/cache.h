/* The build cache as a whole: what `berth builder prune`, `berth image prune
 * --build-cache` and `berth system prune` do with it.
 *
 * The cache is STORE/build-cache/: one small file per step key (executor.h)
 * naming the layer the step made ({"digest", "diff_id", "size"}), or
 * {"empty": true} for a step that changed nothing. A file's mtime is when
 * the entry was last used (made or hit). An entry is dangling when no image
 * in the store has its layer (docker's "dangling build cache"): the layers
 * of intermediate stages, of replaced images, of failed builds.
 *
 * Every function here holds the store's gc lock exclusive while it reads the
 * entries: a build holds it shared from start to end, so neither sees the
 * other half-done. */
#ifndef BERTH_BUILD_CACHE_H
#define BERTH_BUILD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"
#include "image/store.h"
#include "util/error.h"

typedef struct build_cache_prune_options {
	bool all;	     /* every entry, not only dangling ones */
	int64_t until_ns;    /* only entries last used before this (UTC ns); 0: any */
	char *const *in_use; /* chain ids of containers' rootfs (kept by the gc) */
} build_cache_prune_options;

typedef struct build_cache_prune_result {
	char **removed;	      /* the removed entries' ids (NULL-terminated, heap) */
	uint64_t freed_bytes; /* blobs and snapshots removed afterwards */
} build_cache_prune_result;

/* Parses one docker filter for build cache pruning into O: "until=T" (RFC
 * 3339, Unix seconds, or a duration before now: "24h", "30m", "10s"). */
int build_cache_filter_parse(const char *filter, build_cache_prune_options *o, berth_error **err);

/* Removes the entries O selects, then the blobs and snapshots that nothing
 * holds any more: no image, no remaining entry (image_gc_keeping). */
int build_cache_prune(store *s, const build_cache_prune_options *o, build_cache_prune_result *r, berth_error **err);
void build_cache_prune_result_free(build_cache_prune_result *r);

/* One entry as `docker system df` shows the build cache. */
typedef struct build_cache_record {
	char id[DIGEST_STRING_MAX];	/* the entry's name (its step key, 64 hex) */
	char digest[DIGEST_STRING_MAX]; /* its layer's blob, "" for a step that changed nothing */
	int64_t size;			/* the layer's blob size (0: none) */
	int64_t created_ns, used_ns;	/* UTC ns: made (birth time, else mtime), last used (mtime) */
	bool shared;			/* an image in the store has the layer: pruning it frees nothing */
} build_cache_record;

/* The entries of the cache (the gc lock held shared: a build may run, a
 * prune is waited for). */
int build_cache_list(store *s, build_cache_record **out, size_t *n, berth_error **err);

/* `berth image prune`: image_prune that keeps the cache's layers (docker's
 * image prune leaves the build cache alone). */
int build_image_prune(store *s, bool all, char *const *in_use, uint64_t *freed_bytes, size_t *removed,
		      berth_error **err);

#endif
