/* Loading images from a file: read the input once into members (see
 * archive_internal.h), let the format's resolver commit the blobs of its
 * images, then unpack every image and only then name them. */
#include "image/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/archive_internal.h"
#include "image/manifest.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define READ_CHUNK (1u << 16)

/* ---- members ---- */

static void member_free(archive_member *m)
{
	if (m == NULL)
		return;
	free(m->name);
	free(m->link);
	free(m->data);
	store_writer_abort(m->writer);
	free(m);
}

void archive_loader_init(archive_loader *l, store *s)
{
	memset(l, 0, sizeof(*l));
	l->s = s;
	l->dirfd = -EBADF;
}

void archive_loader_free(archive_loader *l)
{
	for (size_t i = 0; i < l->n_members; i++)
		member_free(l->members[i]);
	free(l->members);
	for (size_t i = 0; i < l->n_images; i++) {
		free(l->images[i].media_type);
		cleanup_strvp(&l->images[i].names);
	}
	free(l->images);
	if (l->dirfd >= 0)
		close(l->dirfd);
	archive_loader_init(l, l->s);
}

void archive_loader_drop_pending(archive_loader *l)
{
	for (size_t i = 0; i < l->n_members; i++) {
		archive_member *m = l->members[i];
		if (m->writer != NULL) {
			store_writer_abort(m->writer);
			m->writer = NULL;
			l->pending--;
		}
	}
}

static archive_member *member_lookup(archive_loader *l, const char *name)
{
	for (size_t i = 0; i < l->n_members; i++)
		if (strcmp(l->members[i]->name, name) == 0)
			return l->members[i];
	return NULL;
}

/* A new member NAME; an older entry of the same name (a tar may repeat
 * one) is replaced, as tar itself would. */
static archive_member *member_add(archive_loader *l, const char *name)
{
	archive_member *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->name = strdup(name)) == NULL) {
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < l->n_members; i++) {
		archive_member *old = l->members[i];
		if (strcmp(old->name, name) != 0)
			continue;
		if (old->writer)
			l->pending--;
		if (old->data)
			l->json_bytes -= old->size;
		member_free(old);
		l->members[i] = m;
		return m;
	}
	if (l->n_members == l->cap_members) {
		size_t cap = l->cap_members ? l->cap_members * 2 : 32;
		archive_member **grown = realloc(l->members, cap * sizeof(*grown));
		if (grown == NULL) {
			member_free(m);
			return NULL;
		}
		l->members = grown;
		l->cap_members = cap;
	}
	l->members[l->n_members++] = m;
	return m;
}

/* NAME as a path relative to the archive root: no leading "/" or "./",
 * "." and ".." resolved lexically (never above the root). */
static char *normalise_name(const char *name)
{
	_cleanup_free_ char *copy = strdup(name);
	char *out = calloc(1, strlen(name) + 1), *save = NULL, *part;
	size_t len = 0;

	if (copy == NULL || out == NULL) {
		free(out);
		return NULL;
	}
	for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0) {
			char *slash = strrchr(out, '/');
			len = slash ? (size_t)(slash - out) : 0;
			out[len] = '\0';
			continue;
		}
		if (len)
			out[len++] = '/';
		strcpy(out + len, part);
		len += strlen(part);
	}
	return out;
}

/* The target of the symlink NAME -> TARGET, as an archive path. */
static char *symlink_target(const char *name, const char *target)
{
	_cleanup_free_ char *joined = NULL;
	const char *slash = strrchr(name, '/');

	if (target[0] == '/' || slash == NULL)
		return normalise_name(target);
	if (asprintf(&joined, "%.*s/%s", (int)(slash - name), name, target) < 0)
		return NULL;
	return normalise_name(joined);
}

/* "sha256:<hex>" when NAME is "blobs/sha256/<hex>", else "". */
static void expected_from_name(const char *name, char out[DIGEST_STRING_MAX])
{
	out[0] = '\0';
	if (strncmp(name, "blobs/sha256/", 13) != 0 || strlen(name + 13) != 64)
		return;
	snprintf(out, DIGEST_STRING_MAX, "sha256:%s", name + 13);
	if (!digest_is_valid(out))
		out[0] = '\0';
}

/* ---- reading an entry into a member ---- */

typedef int (*member_read_fn)(void *ctx, void *buf, size_t len, size_t *got, berth_error **err);

static bool looks_like_json(const unsigned char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')
			continue;
		return data[i] == '{' || data[i] == '[';
	}
	return false;
}

static int read_full(const char *name, member_read_fn rd, void *ctx, char *buf, size_t len, size_t *got,
		     berth_error **err)
{
	*got = 0;
	while (*got < len) {
		size_t n = 0;
		if (rd(ctx, buf + *got, len - *got, &n, err) < 0)
			return berth_error_wrap(err, "\"%s\"", name);
		if (n == 0)
			break;
		*got += n;
	}
	return 0;
}

static int ingest_to_memory(archive_loader *l, archive_member *m, const char *first, size_t first_len, uint64_t size,
			    member_read_fn rd, void *ctx, digester *d, berth_error **err)
{
	size_t got = 0;
	char extra;

	m->data = malloc(size + 1);
	if (m->data == NULL)
		return berth_error_set(err, ENOMEM, "read \"%s\"", m->name);
	memcpy(m->data, first, first_len);
	if (read_full(m->name, rd, ctx, m->data + first_len, size - first_len, &got, err) < 0)
		return -1;
	if (first_len + got != size || read_full(m->name, rd, ctx, &extra, 1, &got, err) < 0 || got != 0)
		return berth_error_set(err, 0, "read \"%s\": size does not match the header", m->name);
	m->data[size] = '\0';
	m->size = size;
	l->json_bytes += size;
	digester_update(d, m->data, size);
	return 0;
}

static int ingest_to_writer(archive_loader *l, archive_member *m, const char *expected, char *buf, size_t first_len,
			    int64_t size, member_read_fn rd, void *ctx, digester *d, berth_error **err)
{
	size_t n = first_len;

	if (store_writer_open(l->s, expected[0] ? expected : NULL, size, &m->writer, err) < 0)
		return -1;
	l->pending++;
	m->compression = archive_sniff_compression((unsigned char *)buf, first_len);
	while (n > 0) {
		digester_update(d, buf, n);
		if (store_writer_write(m->writer, buf, n, err) < 0)
			return berth_error_wrap(err, "store \"%s\"", m->name);
		if (read_full(m->name, rd, ctx, buf, READ_CHUNK, &n, err) < 0)
			return -1;
	}
	m->size = d->size;
	return 0;
}

/* Reads one entry (SIZE bytes, <0 unknown) into M: small JSON into memory,
 * anything else into a store writer, hashing it either way. A blob whose
 * path names its digest must have that digest. */
static int member_ingest(archive_loader *l, archive_member *m, int64_t size, member_read_fn rd, void *ctx,
			 berth_error **err)
{
	_cleanup_free_ char *buf = malloc(READ_CHUNK);
	char expected[DIGEST_STRING_MAX];
	size_t first_len = 0;
	digester d;
	int ret;

	if (buf == NULL)
		return berth_error_set(err, ENOMEM, "read \"%s\"", m->name);
	expected_from_name(m->name, expected);
	digester_init(&d);
	if (read_full(m->name, rd, ctx, buf, READ_CHUNK, &first_len, err) < 0)
		return -1;
	if (size >= 0 && (uint64_t)size <= MANIFEST_MAX_SIZE && first_len <= (uint64_t)size &&
	    l->json_bytes + size <= ARCHIVE_MAX_JSON_BYTES && looks_like_json((unsigned char *)buf, first_len))
		ret = ingest_to_memory(l, m, buf, first_len, size, rd, ctx, &d, err);
	else
		ret = ingest_to_writer(l, m, expected, buf, first_len, size, rd, ctx, &d, err);
	if (ret < 0)
		return ret;
	digester_final(&d, m->digest);
	if (expected[0] && strcmp(expected, m->digest) != 0)
		return berth_error_set(err, 0, "digest mismatch in blob \"%s\": the content is %s", m->name, m->digest);
	if (m->writer && l->pending > ARCHIVE_MAX_PENDING)
		return archive_member_commit(l, m, err);
	return 0;
}

int archive_member_commit(archive_loader *l, archive_member *m, berth_error **err)
{
	char got[DIGEST_STRING_MAX];

	if (m->committed)
		return 0;
	if (m->data) {
		if (store_blob_put(l->s, m->data, m->size, m->digest, NULL, err) < 0)
			return berth_error_wrap(err, "store \"%s\"", m->name);
	} else if (m->writer) {
		store_writer *w = m->writer;
		m->writer = NULL;
		l->pending--;
		if (store_writer_commit(w, got, err) < 0)
			return berth_error_wrap(err, "store \"%s\"", m->name);
		if (strcmp(got, m->digest) != 0)
			return berth_error_set(err, 0, "store \"%s\": stored as %s, read as %s", m->name, got,
					       m->digest);
	} else {
		return berth_error_set(err, 0, "\"%s\" is not a file", m->name);
	}
	m->committed = true;
	return 0;
}

int archive_member_json(const archive_member *m, const char **data, berth_error **err)
{
	if (m->data == NULL)
		return berth_error_set(err, 0, "\"%s\" is not a JSON document of at most %u bytes", m->name,
				       MANIFEST_MAX_SIZE);
	*data = m->data;
	return 0;
}

/* ---- finding members ---- */

static int fd_read(void *ctx, void *buf, size_t len, size_t *got, berth_error **err)
{
	ssize_t n;

	do
		n = read(*(int *)ctx, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return berth_error_set(err, errno, "read");
	*got = (size_t)n;
	return 0;
}

/* An OCI layout directory: reads NAME from it (resolved beneath it). */
static int member_from_dir(archive_loader *l, const char *name, archive_member **out, berth_error **err)
{
	_cleanup_close_ int fd = fs_open_in_root(l->dirfd, name, O_RDONLY, 0, true, NULL);
	archive_member *m;
	struct stat st;

	*out = NULL;
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return berth_error_set(err, -fd, "open \"%s\"", name);
	if (fstat(fd, &st) < 0)
		return berth_error_set(err, errno, "stat \"%s\"", name);
	if (!S_ISREG(st.st_mode))
		return berth_error_set(err, 0, "\"%s\" is not a regular file", name);
	m = member_add(l, name);
	if (m == NULL)
		return berth_error_set(err, ENOMEM, "read \"%s\"", name);
	if (member_ingest(l, m, st.st_size, fd_read, &fd, err) < 0)
		return -1;
	*out = m;
	return 0;
}

int archive_loader_find(archive_loader *l, const char *name, archive_member **out, berth_error **err)
{
	_cleanup_free_ char *current = normalise_name(name);

	*out = NULL;
	if (current == NULL)
		return berth_error_set(err, ENOMEM, "find \"%s\"", name);
	for (int depth = 0; depth < 16; depth++) {
		archive_member *m = member_lookup(l, current);
		if (m == NULL && l->dirfd >= 0)
			return member_from_dir(l, current, out, err);
		if (m == NULL || m->link == NULL) {
			*out = m;
			return 0;
		}
		free(current);
		current = strdup(m->link);
		if (current == NULL)
			return berth_error_set(err, ENOMEM, "find \"%s\"", name);
	}
	return berth_error_set(err, 0, "\"%s\": too many levels of links", name);
}

int archive_loader_need(archive_loader *l, const char *name, const char *what, archive_member **out, berth_error **err)
{
	if (archive_loader_find(l, name, out, err) < 0)
		return -1;
	if (*out == NULL)
		return berth_error_set(err, 0, "%s references missing file \"%s\"", what, name);
	return 0;
}

int archive_loader_add_image(archive_loader *l, const char *digest, const char *media_type, int64_t size,
			     const char *name, berth_error **err)
{
	archive_image *img = NULL;

	for (size_t i = 0; i < l->n_images && img == NULL; i++)
		if (strcmp(l->images[i].digest, digest) == 0)
			img = &l->images[i];
	if (img == NULL) {
		if (l->n_images == l->cap_images) {
			size_t cap = l->cap_images ? l->cap_images * 2 : 8;
			archive_image *grown = realloc(l->images, cap * sizeof(*grown));
			if (grown == NULL)
				return berth_error_set(err, ENOMEM, "load");
			l->images = grown;
			l->cap_images = cap;
		}
		img = &l->images[l->n_images];
		memset(img, 0, sizeof(*img));
		snprintf(img->digest, sizeof(img->digest), "%s", digest);
		img->media_type = strdup(media_type);
		img->size = size;
		if (img->media_type == NULL)
			return berth_error_set(err, ENOMEM, "load");
		l->n_images++;
	}
	if (name && !archive_strv_contains(img->names, name) && archive_strv_add(&img->names, &img->n_names, name) < 0)
		return berth_error_set(err, ENOMEM, "load");
	return 0;
}

/* ---- a tar stream ---- */

static int tar_read(void *ctx, void *buf, size_t len, size_t *got, berth_error **err)
{
	la_ssize_t n = archive_read_data(ctx, buf, len);

	if (n < 0)
		return berth_error_set(err, 0, "%s", archive_error_string(ctx));
	*got = (size_t)n;
	return 0;
}

static int tar_entry(archive_loader *l, struct archive *a, struct archive_entry *entry, berth_error **err)
{
	_cleanup_free_ char *name = normalise_name(archive_entry_pathname(entry) ?: "");
	const char *hardlink = archive_entry_hardlink(entry);
	archive_member *m;

	if (name == NULL)
		return berth_error_set(err, ENOMEM, "read entry");
	if (name[0] == '\0')
		return 0;
	if (hardlink || archive_entry_filetype(entry) == AE_IFLNK) {
		m = member_add(l, name);
		if (m == NULL)
			return berth_error_set(err, ENOMEM, "read \"%s\"", name);
		m->link =
		    hardlink ? normalise_name(hardlink) : symlink_target(name, archive_entry_symlink(entry) ?: "");
		if (m->link == NULL)
			return berth_error_set(err, ENOMEM, "read \"%s\"", name);
		return 0;
	}
	if (archive_entry_filetype(entry) != AE_IFREG)
		return 0;
	m = member_add(l, name);
	if (m == NULL)
		return berth_error_set(err, ENOMEM, "read \"%s\"", name);
	return member_ingest(l, m, archive_entry_size_is_set(entry) ? archive_entry_size(entry) : -1, tar_read, a, err);
}

static void archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
	*a = NULL;
}

static int not_an_archive(struct archive *a, berth_error **err)
{
	return berth_error_set(err, 0,
			       "not a known archive format (docker-archive, oci-archive or an OCI layout "
			       "directory): %s",
			       archive_error_string(a));
}

static int read_tar(archive_loader *l, int fd, berth_error **err)
{
	__attribute__((cleanup(archive_read_freep))) struct archive *a = archive_read_new();
	struct archive_entry *entry;
	size_t entries = 0;

	if (a == NULL)
		return berth_error_set(err, ENOMEM, "read");
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, READ_CHUNK) != ARCHIVE_OK)
		return not_an_archive(a, err);
	for (;;) {
		int r = archive_read_next_header(a, &entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN && entries == 0)
			return not_an_archive(a, err);
		if (r < ARCHIVE_WARN)
			return berth_error_set(err, 0, "read: %s", archive_error_string(a));
		entries++;
		if (tar_entry(l, a, entry, err) < 0)
			return -1;
	}
	return 0;
}

static int resolve_tar(archive_loader *l, berth_error **err)
{
	archive_member *m;

	if (archive_loader_find(l, "manifest.json", &m, err) < 0)
		return -1;
	if (m != NULL)
		return archive_docker_resolve(l, err);
	if (archive_loader_find(l, "index.json", &m, err) < 0)
		return -1;
	if (m != NULL)
		return archive_oci_resolve(l, err);
	return berth_error_set(err, 0,
			       "not a known archive format: a tar without manifest.json (docker-archive) or "
			       "index.json (oci-archive)");
}

static int load_input(archive_loader *l, const char *path, berth_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	if (strcmp(path, "-") == 0)
		return read_tar(l, STDIN_FILENO, err) < 0 ? -1 : resolve_tar(l, err);
	if (stat(path, &st) < 0)
		return berth_error_set(err, errno, "open \"%s\"", path);
	if (S_ISDIR(st.st_mode)) {
		l->dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (l->dirfd < 0)
			return berth_error_set(err, errno, "open \"%s\"", path);
		return archive_oci_resolve(l, err);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", path);
	if (read_tar(l, fd, err) < 0)
		return -1;
	return resolve_tar(l, err);
}

/* Unpacks every image, then names them: a failure leaves no new name.
 * *LOADED lists the names in archive order, ids for unnamed images. */
static int load_finish(archive_loader *l, const unpack_options *unpack, char ***loaded, berth_error **err)
{
	_cleanup_strv_ char **ids = NULL, **out = NULL;
	unpack_options defaults = { 0 };
	size_t n_ids = 0, n_out = 0;

	if (l->n_images == 0)
		return berth_error_set(err, 0, "the archive holds no image");
	for (size_t i = 0; i < l->n_images; i++) {
		image_info info = { 0 };
		int ret = image_load_info(l->s, l->images[i].digest, &info, err);
		if (ret == 0)
			ret = image_unpack(l->s, &info, unpack ? unpack : &defaults, err);
		if (ret == 0 && archive_strv_add(&ids, &n_ids, info.id) < 0)
			ret = berth_error_set(err, ENOMEM, "load");
		image_info_free(&info);
		if (ret < 0)
			return berth_error_wrap(err, "image %s", l->images[i].digest);
	}
	for (size_t i = 0; i < l->n_images; i++) {
		archive_image *img = &l->images[i];
		if (img->n_names == 0 && (store_ref_set(l->s, NULL, img->digest, img->media_type, img->size, err) < 0 ||
					  archive_strv_add(&out, &n_out, ids[i]) < 0))
			return err && *err ? -1 : berth_error_set(err, ENOMEM, "load");
		for (size_t j = 0; j < img->n_names; j++) {
			if (store_ref_set(l->s, img->names[j], img->digest, img->media_type, img->size, err) < 0)
				return -1;
			if (archive_strv_add(&out, &n_out, img->names[j]) < 0)
				return berth_error_set(err, ENOMEM, "load");
		}
	}
	if (loaded)
		*loaded = move_ptr(out);
	return 0;
}

int image_archive_load(store *s, const char *path, const unpack_options *unpack, char ***loaded, berth_error **err)
{
	__attribute__((cleanup(archive_loader_free))) archive_loader l;
	int ret;

	archive_loader_init(&l, s);
	if (store_gc_lock(s, false, err) < 0)
		return -1;
	ret = load_input(&l, path, err);
	archive_loader_drop_pending(&l);
	if (ret == 0)
		ret = load_finish(&l, unpack, loaded, err);
	store_gc_unlock(s);
	if (ret < 0)
		return berth_error_wrap(err, "load \"%s\"", strcmp(path, "-") == 0 ? "stdin" : path);
	return 0;
}
