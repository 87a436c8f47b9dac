/* Internal to archive*.c and import.c: the pieces that loading a docker
 * archive, loading an OCI layout, saving and importing share.
 *
 * Loading reads the input once, front to back (it may be a pipe): every
 * entry becomes an archive_member. Small JSON entries (manifests, configs,
 * index.json) are kept in memory; every other entry is spooled into a
 * store_writer (ROOT/ingest) while it is hashed. Only when the whole input
 * has been read does the format's resolver decide which members are blobs
 * of which image: it commits those and the loader aborts the rest, so a
 * failed load leaves no ingest file, no blob it spooled but did not verify,
 * and no name. To stay within the fd limit, once ARCHIVE_MAX_PENDING writers
 * are open further entries are committed as soon as they are read (a
 * committed blob is verified content; prune removes it when unused). */
#ifndef BERTH_IMAGE_ARCHIVE_INTERNAL_H
#define BERTH_IMAGE_ARCHIVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <archive.h>
#include <archive_entry.h>

#include "image/archive.h"
#include "image/digest.h"
#include "image/store.h"
#include "util/error.h"

/* Writers kept open (uncommitted) before entries are committed eagerly. */
#define ARCHIVE_MAX_PENDING 256
/* JSON entries kept in memory, all together. */
#define ARCHIVE_MAX_JSON_BYTES (64u << 20)

typedef enum blob_compression {
	BLOB_COMPRESSION_NONE,
	BLOB_COMPRESSION_GZIP,
	BLOB_COMPRESSION_ZSTD,
	BLOB_COMPRESSION_OTHER, /* xz, bzip2, ...: not a layer berth stores */
} blob_compression;

/* What the first bytes of a blob say it is. */
blob_compression archive_sniff_compression(const unsigned char *data, size_t len);
/* The OCI layer media type of a layer compressed with C, or NULL. */
const char *archive_layer_media_type(blob_compression c);

typedef struct archive_member {
	char *name;			/* path inside the archive, without "./" */
	char *link;			/* for a symlink or hardlink: the (normalised) target */
	char digest[DIGEST_STRING_MAX]; /* of the bytes as stored */
	uint64_t size;			/* bytes as stored */
	blob_compression compression;	/* sniffed from the first bytes */
	char *data;			/* JSON-looking entries: the bytes (NUL-terminated) */
	store_writer *writer;		/* other entries: spooled, not yet committed */
	bool committed;			/* in blobs/ */
} archive_member;

/* An image the resolver found: committed, not yet unpacked or named. */
typedef struct archive_image {
	char digest[DIGEST_STRING_MAX]; /* of the manifest */
	char *media_type;
	int64_t size;
	char **names; /* NULL-terminated normalised names, may be empty */
	size_t n_names;
} archive_image;

typedef struct archive_loader {
	store *s;
	int dirfd;		  /* an OCI layout directory (members read on demand), or -1 */
	archive_member **members; /* pointers: stable while the array grows */
	size_t n_members, cap_members;
	size_t json_bytes, pending;
	archive_image *images;
	size_t n_images, cap_images;
} archive_loader;

void archive_loader_init(archive_loader *l, store *s);
/* Aborts every writer still pending and frees everything. */
void archive_loader_free(archive_loader *l);

/* The member NAME, following symlinks and hardlinks inside the archive; for
 * an OCI directory, read from the directory on first use. *OUT is NULL (and
 * 0 returned) when there is no such member. */
int archive_loader_find(archive_loader *l, const char *name, archive_member **out, berth_error **err);
/* Like find, but a missing member is an error: "WHAT references missing file "NAME"". */
int archive_loader_need(archive_loader *l, const char *name, const char *what, archive_member **out, berth_error **err);
/* The JSON bytes of M; an error when M was too large or not JSON. */
int archive_member_json(const archive_member *m, const char **data, berth_error **err);
/* Makes M a blob in the store (once). */
int archive_member_commit(archive_loader *l, archive_member *m, berth_error **err);
/* Adds NAME to the image whose manifest is DIGEST (adding the image when new);
 * NAME NULL only adds the image. */
int archive_loader_add_image(archive_loader *l, const char *digest, const char *media_type, int64_t size,
			     const char *name, berth_error **err);
/* Aborts the writers of members no resolver committed. */
void archive_loader_drop_pending(archive_loader *l);

/* The resolvers: each commits the blobs of the images it finds and adds the
 * images with archive_loader_add_image. */
int archive_docker_resolve(archive_loader *l, berth_error **err);
int archive_oci_resolve(archive_loader *l, berth_error **err);

/* Calls FN for every block of the blob read from FD, decompressed (gzip,
 * zstd, xz, bzip2 or none, detected from the bytes). WHAT names it in errors. */
typedef int (*archive_data_fn)(void *ctx, const void *data, size_t len, berth_error **err);
int archive_decompress_fd(int fd, const char *what, archive_data_fn fn, void *ctx, berth_error **err);
/* sha256 and size of the uncompressed content of the blob DIGEST. */
int archive_blob_diff_id(store *s, const char *digest, char out[DIGEST_STRING_MAX], uint64_t *size, berth_error **err);

/* A synthesised OCI manifest for CONFIG (an OCI config descriptor) and LAYERS
 * (an array of descriptors); stored, its digest and size in OUT and SIZE. */
int archive_put_manifest(store *s, const char *config_digest, int64_t config_size, json_t *layers,
			 char out[DIGEST_STRING_MAX], int64_t *size, berth_error **err);
json_t *archive_descriptor_json(const char *media_type, const char *digest, int64_t size);

/* ---- saving ---- */

/* Where a save writes: a tar stream or an OCI layout directory. */
typedef struct archive_sink archive_sink;

int archive_sink_add_dir(archive_sink *k, const char *path, berth_error **err);
int archive_sink_add_buffer(archive_sink *k, const char *path, const void *data, size_t len, berth_error **err);
/* Copies the blob DIGEST (SIZE bytes) as stored. */
int archive_sink_add_blob(archive_sink *k, const char *path, store *s, const char *digest, int64_t size,
			  berth_error **err);
/* Writes the blob DIGEST decompressed; SIZE is its uncompressed size. */
int archive_sink_add_decompressed(archive_sink *k, const char *path, store *s, const char *digest, uint64_t size,
				  berth_error **err);

/* An image to save: resolved, with the names to record. */
typedef struct archive_save_image {
	image_info info;
	char **tags; /* NULL-terminated names with a tag, may be empty */
} archive_save_image;

int archive_docker_write(archive_sink *k, store *s, archive_save_image *images, size_t n, berth_error **err);
int archive_oci_write(archive_sink *k, store *s, archive_save_image *images, size_t n, berth_error **err);

/* ---- small helpers ---- */

/* "blobs/sha256/<hex>" (heap). */
char *archive_blob_path(const char *digest);
/* Appends a heap copy of S to the NULL-terminated *V of *N entries. */
int archive_strv_add(char ***v, size_t *n, const char *s);
bool archive_strv_contains(char *const *v, const char *s);

#endif
