/* The content store: an OCI image layout on disk plus unpacked layers.
 *
 *   ROOT/oci-layout, ROOT/index.json   an OCI image layout: every image the
 *                                      store knows is a manifest descriptor in
 *                                      index.json, named by the annotation
 *                                      org.opencontainers.image.ref.name
 *                                      ("docker.io/library/busybox:latest")
 *   ROOT/blobs/sha256/<hex>            blobs, only ever visible once verified
 *   ROOT/ingest/                       blobs being written (temp files)
 *   ROOT/snapshots/<chain-id hex>/     a layer chain unpacked (one per chain id)
 *   ROOT/snapshots/.tmp-*              snapshots being unpacked
 *   ROOT/index.lock, ROOT/gc.lock      flock(2) locks
 *
 * Crash safety: blobs and index.json are written to a temp file, fsynced and
 * renamed; a snapshot is unpacked into a temp dir, syncfs'ed and renamed. A
 * kill -9 at any point leaves either the old or the new state plus temp
 * files, which store_open ignores and prune removes.
 *
 * Concurrency: index.json is only changed under the exclusive index lock
 * (read, modify, atomic write). Anything that adds blobs or snapshots that
 * index.json does not reference yet (a pull, a load, a mount) holds the gc
 * lock shared for its whole duration; removing blobs or snapshots (rm, prune)
 * takes it exclusive, so a prune never deletes what a pull is writing. */
#ifndef BERTH_IMAGE_STORE_H
#define BERTH_IMAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"
#include "util/error.h"

#define STORE_REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"

typedef struct store store;

/* Opens (creating it if needed) the store at ROOT. */
int store_open(const char *root, store **out, berth_error **err);
void store_close(store *s);
const char *store_root(const store *s);
/* An O_PATH|O_DIRECTORY fd of ROOT, owned by the store. */
int store_root_fd(const store *s);

/* The gc lock (see above). Blocking; released by store_gc_unlock or close.
 * Counted per handle: the threads of one process may share a handle, and
 * the lock is released when its last holder unlocks. */
int store_gc_lock(store *s, bool exclusive, berth_error **err);
void store_gc_unlock(store *s);

/* ---- blobs ---- */

bool store_blob_exists(store *s, const char *digest);
/* "ROOT/blobs/sha256/<hex>" (heap). */
char *store_blob_path(const store *s, const char *digest);
/* Opens a blob O_RDONLY|O_CLOEXEC; a missing blob is ENOENT naming the digest. */
int store_blob_open(store *s, const char *digest, berth_error **err);
/* Size of a stored blob, or <0. */
int store_blob_size(store *s, const char *digest, int64_t *size, berth_error **err);
/* Reads a whole blob of at most MAX bytes (manifests, configs), verifying
 * its digest. */
int store_blob_read(store *s, const char *digest, size_t max, char **data, size_t *len, berth_error **err);
/* Stores DATA; with EXPECTED set, refuses data of another digest. OUT may be NULL. */
int store_blob_put(store *s, const void *data, size_t len, const char *expected, char out[DIGEST_STRING_MAX],
		   berth_error **err);
/* Removes a blob (caller holds the gc lock exclusive). Missing is not an error. */
int store_blob_remove(store *s, const char *digest, berth_error **err);

/* A blob being written: bytes are hashed as they arrive; commit verifies the
 * digest (and size, when given), fsyncs and renames into blobs/. Writers are
 * independent of each other and may run in parallel threads. */
typedef struct store_writer store_writer;

/* EXPECTED may be NULL (the digest is whatever was written); EXPECTED_SIZE <0
 * means unknown. Writing more than EXPECTED_SIZE bytes fails at once. */
int store_writer_open(store *s, const char *expected, int64_t expected_size, store_writer **out, berth_error **err);
int store_writer_write(store_writer *w, const void *data, size_t len, berth_error **err);
/* Starts over (a retried download): truncates and resets the hash. */
int store_writer_reset(store_writer *w, berth_error **err);
uint64_t store_writer_written(const store_writer *w);
/* Verifies, fsyncs, renames; OUT (may be NULL) gets the digest. Always frees W. */
int store_writer_commit(store_writer *w, char out[DIGEST_STRING_MAX], berth_error **err);
/* Removes the temp file and frees W (NULL is fine). */
void store_writer_abort(store_writer *w);

/* ---- index.json: the named images ---- */

typedef struct store_ref {
	char *name;	  /* NULL for an image without a name */
	char *digest;	  /* of the manifest (or index) */
	char *media_type; /* of that blob */
	int64_t size;
} store_ref;

typedef struct store_refs {
	store_ref *refs;
	size_t n;
} store_refs;

/* Reads index.json (no lock needed: it is replaced atomically). */
int store_refs_load(store *s, store_refs *out, berth_error **err);
void store_refs_free(store_refs *r);

/* Points NAME at the descriptor (adds or replaces), under the index lock. A
 * NULL NAME records an unnamed image unless that digest is already present. */
int store_ref_set(store *s, const char *name, const char *digest, const char *media_type, int64_t size,
		  berth_error **err);
/* Removes NAME; ENOENT when the store has no such name. */
int store_ref_remove(store *s, const char *name, berth_error **err);
/* Removes every entry (named or not) that points at DIGEST. */
int store_ref_remove_digest(store *s, const char *digest, berth_error **err);

/* ---- snapshots: unpacked layer chains ---- */

/* snapshots/.tmp-PID-START-XXXXXX: an unpack by PID (with START, field 22
 * of /proc/PID/stat) in progress; .tmp-rm-HEX: a removal */
#define SNAPSHOT_TMP_PREFIX ".tmp-"

bool store_snapshot_exists(store *s, const char *chain_id);
/* "ROOT/snapshots/<hex>" (heap). */
char *store_snapshot_path(const store *s, const char *chain_id);
/* Creates a fresh temp dir for unpacking; returns an O_DIRECTORY fd and its
 * path (heap). */
int store_snapshot_begin(store *s, char **tmp_path, berth_error **err);
/* syncfs + rename TMP_PATH to the chain id's snapshot. When another process
 * made the same snapshot first, TMP_PATH is removed and that is success. */
int store_snapshot_commit(store *s, const char *tmp_path, const char *chain_id, berth_error **err);
/* Removes the temp dirs of unpacks whose process is gone (a killed pull)
 * and returns how many; the caller holds the gc lock (shared will do). */
size_t store_snapshot_sweep(store *s);
/* Removes a temp dir of store_snapshot_begin after a failure. */
void store_snapshot_abort(store *s, const char *tmp_path);
/* Removes a snapshot (caller holds the gc lock exclusive). */
int store_snapshot_remove(store *s, const char *chain_id, berth_error **err);

#endif
