/* Pieces shared by load, save and import: formats, compression sniffing,
 * decompressing a blob, synthesised manifests. */
#include "image/archive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/archive_internal.h"
#include "image/manifest.h"
#include "util/cleanup.h"

int archive_format_parse(const char *text, image_archive_format *out, berth_error **err)
{
	if (text == NULL || strcmp(text, "docker-archive") == 0)
		*out = ARCHIVE_FORMAT_DOCKER;
	else if (strcmp(text, "oci-archive") == 0)
		*out = ARCHIVE_FORMAT_OCI_ARCHIVE;
	else if (strcmp(text, "oci-dir") == 0 || strcmp(text, "oci") == 0)
		*out = ARCHIVE_FORMAT_OCI_DIR;
	else
		return berth_error_set(err, 0, "unknown format \"%s\" (docker-archive, oci-archive or oci-dir)", text);
	return 0;
}

blob_compression archive_sniff_compression(const unsigned char *data, size_t len)
{
	if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		return BLOB_COMPRESSION_GZIP;
	if (len >= 4 && data[0] == 0x28 && data[1] == 0xb5 && data[2] == 0x2f && data[3] == 0xfd)
		return BLOB_COMPRESSION_ZSTD;
	if (len >= 6 && memcmp(data,
			       "\xfd"
			       "7zXZ\0",
			       6) == 0)
		return BLOB_COMPRESSION_OTHER;
	if (len >= 3 && memcmp(data, "BZh", 3) == 0)
		return BLOB_COMPRESSION_OTHER;
	return BLOB_COMPRESSION_NONE;
}

const char *archive_layer_media_type(blob_compression c)
{
	switch (c) {
	case BLOB_COMPRESSION_NONE:
		return MEDIA_OCI_LAYER;
	case BLOB_COMPRESSION_GZIP:
		return MEDIA_OCI_LAYER_GZIP;
	case BLOB_COMPRESSION_ZSTD:
		return MEDIA_OCI_LAYER_ZSTD;
	default:
		return NULL;
	}
}

static void archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
	*a = NULL;
}

/* Only decoders built into libarchive: filter_all would also run external
 * programs (lrzip, lzop, ...) on untrusted bytes. */
static void support_decoders(struct archive *a)
{
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_bzip2(a);
}

int archive_decompress_fd(int fd, const char *what, archive_data_fn fn, void *ctx, berth_error **err)
{
	__attribute__((cleanup(archive_read_freep))) struct archive *a = archive_read_new();
	_cleanup_free_ char *buf = malloc(1 << 16);
	struct archive_entry *entry;
	int r;

	if (a == NULL || buf == NULL)
		return berth_error_set(err, ENOMEM, "read %s", what);
	support_decoders(a);
	archive_read_support_format_raw(a);
	archive_read_support_format_empty(a);
	if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK)
		return berth_error_set(err, 0, "read %s: %s", what, archive_error_string(a));
	r = archive_read_next_header(a, &entry);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r < ARCHIVE_WARN)
		return berth_error_set(err, 0, "read %s: %s", what, archive_error_string(a));
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, 1 << 16);
		if (n == 0)
			return 0;
		if (n < 0)
			return berth_error_set(err, 0, "read %s: %s", what, archive_error_string(a));
		if (fn(ctx, buf, (size_t)n, err) < 0)
			return -1;
	}
}

static int hash_block(void *ctx, const void *data, size_t len, berth_error **err)
{
	digester_update(ctx, data, len);
	return 0;
}

int archive_blob_diff_id(store *s, const char *digest, char out[DIGEST_STRING_MAX], uint64_t *size, berth_error **err)
{
	_cleanup_close_ int fd = store_blob_open(s, digest, err);
	char what[DIGEST_STRING_MAX + 8];
	digester d;

	if (fd < 0)
		return -1;
	snprintf(what, sizeof(what), "blob %s", digest);
	digester_init(&d);
	if (archive_decompress_fd(fd, what, hash_block, &d, err) < 0)
		return -1;
	if (size)
		*size = d.size;
	digester_final(&d, out);
	return 0;
}

json_t *archive_descriptor_json(const char *media_type, const char *digest, int64_t size)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest, "size", (json_int_t)size);
}

int archive_put_manifest(store *s, const char *config_digest, int64_t config_size, json_t *layers,
			 char out[DIGEST_STRING_MAX], int64_t *size, berth_error **err)
{
	json_t *manifest =
	    json_pack("{s:i, s:s, s:o, s:O}", "schemaVersion", 2, "mediaType", MEDIA_OCI_MANIFEST, "config",
		      archive_descriptor_json(MEDIA_OCI_CONFIG, config_digest, config_size), "layers", layers);
	_cleanup_free_ char *text = NULL;

	if (manifest == NULL)
		return berth_error_set(err, ENOMEM, "write manifest");
	text = json_dumps(manifest, JSON_COMPACT);
	json_decref(manifest);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "write manifest");
	if (store_blob_put(s, text, strlen(text), NULL, out, err) < 0)
		return berth_error_wrap(err, "store manifest");
	*size = (int64_t)strlen(text);
	return 0;
}

char *archive_blob_path(const char *digest)
{
	char *path = NULL;

	if (asprintf(&path, "blobs/sha256/%s", digest_hex(digest)) < 0)
		return NULL;
	return path;
}

int archive_strv_add(char ***v, size_t *n, const char *s)
{
	char **grown = realloc(*v, (*n + 2) * sizeof(char *));
	char *copy = strdup(s);

	if (grown == NULL || copy == NULL) {
		free(copy);
		if (grown) {
			grown[*n] = NULL;
			*v = grown;
		}
		return -ENOMEM;
	}
	grown[*n] = copy;
	grown[*n + 1] = NULL;
	*v = grown;
	(*n)++;
	return 0;
}

bool archive_strv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}
