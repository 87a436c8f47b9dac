/* Images as files: docker-archive tarballs (`docker save`), OCI archives
 * (a tarred OCI layout) and OCI layout directories, and plain rootfs
 * tarballs (`berth import`). */
#ifndef BERTH_IMAGE_ARCHIVE_H
#define BERTH_IMAGE_ARCHIVE_H

#include <stdbool.h>

#include "image/images.h"
#include "image/store.h"
#include "util/error.h"

typedef enum image_archive_format {
	ARCHIVE_FORMAT_DOCKER,	    /* docker-archive: manifest.json + layer tars */
	ARCHIVE_FORMAT_OCI_ARCHIVE, /* tar of an OCI image layout */
	ARCHIVE_FORMAT_OCI_DIR,	    /* an OCI image layout directory */
} image_archive_format;

/* "docker-archive", "oci-archive", "oci-dir" (also "oci"). */
int archive_format_parse(const char *text, image_archive_format *out, berth_error **err);

/* Loads every image of PATH ("-" is stdin), detecting the format: a
 * directory is an OCI layout, a tar with manifest.json a docker archive,
 * one with index.json + oci-layout an OCI archive. Blobs are verified; the
 * layers are unpacked. *LOADED gets the names (or ids of unnamed images). */
int image_archive_load(store *s, const char *path, const unpack_options *unpack, char ***loaded, berth_error **err);

/* Writes IMAGES (names or ids) to OUTPUT ("-" is stdout) in FORMAT. */
int image_archive_save(store *s, char *const *images, image_archive_format format, const char *output,
		       berth_error **err);
/* Writes IMAGES as a tar in FORMAT (not ARCHIVE_FORMAT_OCI_DIR) to FD, a
 * pipe or socket as well (the API's GET /images/get streams it). */
int image_archive_save_fd(store *s, char *const *images, image_archive_format format, int fd, berth_error **err);

typedef struct import_options {
	const char *name;     /* reference to name the image, or NULL */
	char *const *changes; /* Dockerfile-like "CMD ...", "ENV K=V", "WORKDIR /x", ... or NULL */
	const char *message;  /* history comment, or NULL */
	const char *platform; /* NULL: this host's */
	unpack_options unpack;
} import_options;

/* Makes a one-layer image from the rootfs tarball PATH ("-" is stdin;
 * uncompressed, gzip or zstd). OUT_ID gets the image id. */
int image_import(store *s, const char *path, const import_options *opts, char out_id[DIGEST_STRING_MAX],
		 berth_error **err);

#endif
