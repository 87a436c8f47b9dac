/* Saving images: resolve every image first, then write to a temp file (or
 * temp directory) beside the output and rename it into place, so a failed
 * save leaves nothing behind. Stdout ("-") is written directly. */
#include "image/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/archive_internal.h"
#include "image/reference.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct archive_sink {
	struct archive *tar; /* tar formats */
	int dirfd;	     /* oci-dir: the temp directory */
};

/* ---- sink ---- */

static int tar_header(archive_sink *k, const char *path, mode_t type, int64_t size, berth_error **err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	if (e == NULL)
		return berth_error_set(err, ENOMEM, "write \"%s\"", path);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, type == AE_IFDIR ? 0 : size);
	archive_entry_set_mtime(e, 0, 0);
	r = archive_write_header(k->tar, e);
	archive_entry_free(e);
	if (r < ARCHIVE_WARN)
		return berth_error_set(err, 0, "write \"%s\": %s", path, archive_error_string(k->tar));
	return 0;
}

static int sink_write(archive_sink *k, int fd, const char *path, const void *data, size_t len, berth_error **err)
{
	const char *p = data;

	if (k->tar) {
		la_ssize_t n = archive_write_data(k->tar, data, len);
		if (n < 0 || (size_t)n != len)
			return berth_error_set(err, 0, "write \"%s\": %s", path, archive_error_string(k->tar));
		return 0;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_error_set(err, errno, "write \"%s\"", path);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Starts the entry PATH of SIZE bytes: a tar header, or a new file whose fd
 * goes to *FD. */
static int sink_begin(archive_sink *k, const char *path, int64_t size, int *fd, berth_error **err)
{
	*fd = -EBADF;
	if (k->tar)
		return tar_header(k, path, AE_IFREG, size, err);
	*fd = openat(k->dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (*fd < 0)
		return berth_error_set(err, errno, "create \"%s\"", path);
	return 0;
}

int archive_sink_add_dir(archive_sink *k, const char *path, berth_error **err)
{
	if (k->tar)
		return tar_header(k, path, AE_IFDIR, 0, err);
	if (mkdirat(k->dirfd, path, 0755) < 0 && errno != EEXIST)
		return berth_error_set(err, errno, "mkdir \"%s\"", path);
	return 0;
}

int archive_sink_add_buffer(archive_sink *k, const char *path, const void *data, size_t len, berth_error **err)
{
	_cleanup_close_ int fd = -EBADF;

	if (sink_begin(k, path, (int64_t)len, &fd, err) < 0)
		return -1;
	return sink_write(k, fd, path, data, len, err);
}

int archive_sink_add_blob(archive_sink *k, const char *path, store *s, const char *digest, int64_t size,
			  berth_error **err)
{
	_cleanup_close_ int in = store_blob_open(s, digest, err), out = -EBADF;
	_cleanup_free_ char *buf = malloc(1 << 16);
	struct stat st;
	int64_t done = 0;

	if (in < 0)
		return -1;
	if (buf == NULL)
		return berth_error_set(err, ENOMEM, "write \"%s\"", path);
	if (fstat(in, &st) < 0)
		return berth_error_set(err, errno, "stat blob %s", digest);
	if (size >= 0 && st.st_size != size)
		return berth_error_set(err, 0, "blob %s is %lld bytes, its descriptor says %lld", digest,
				       (long long)st.st_size, (long long)size);
	if (sink_begin(k, path, st.st_size, &out, err) < 0)
		return -1;
	while (done < st.st_size) {
		ssize_t n = read(in, buf, 1 << 16);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return berth_error_set(err, n < 0 ? errno : EIO, "read blob %s", digest);
		if (done + n > st.st_size)
			n = st.st_size - done;
		if (sink_write(k, out, path, buf, (size_t)n, err) < 0)
			return -1;
		done += n;
	}
	return 0;
}

typedef struct sink_stream {
	archive_sink *k;
	int fd;
	const char *path;
	uint64_t written, size;
} sink_stream;

static int stream_block(void *ctx, const void *data, size_t len, berth_error **err)
{
	sink_stream *st = ctx;

	if (st->written + len > st->size)
		return berth_error_set(err, 0, "write \"%s\": the blob changed while being read", st->path);
	st->written += len;
	return sink_write(st->k, st->fd, st->path, data, len, err);
}

int archive_sink_add_decompressed(archive_sink *k, const char *path, store *s, const char *digest, uint64_t size,
				  berth_error **err)
{
	_cleanup_close_ int in = store_blob_open(s, digest, err), out = -EBADF;
	char what[DIGEST_STRING_MAX + 8];
	sink_stream st = { .k = k, .path = path, .size = size };

	if (in < 0 || sink_begin(k, path, (int64_t)size, &out, err) < 0)
		return -1;
	st.fd = out;
	snprintf(what, sizeof(what), "blob %s", digest);
	if (archive_decompress_fd(in, what, stream_block, &st, err) < 0)
		return -1;
	if (st.written != size)
		return berth_error_set(err, 0, "write \"%s\": the blob changed while being read", path);
	return 0;
}

/* ---- resolving the images ---- */

static void save_images_free(archive_save_image *images, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		image_info_free(&images[i].info);
		cleanup_strvp(&images[i].tags);
	}
	free(images);
}

static bool is_tag_name(const char *name)
{
	return strchr(name, '@') == NULL;
}

/* The names to record for TEXT: the name it is, when it is one of the
 * image's, else (an id) every tagged name of the image. */
static int save_tags(const char *text, const image_info *info, char ***tags, size_t *n, berth_error **err)
{
	_cleanup_free_ char *name = NULL;
	image_ref ref = { 0 };

	if (image_ref_parse(text, &ref, NULL) == 0) {
		name = image_ref_name(&ref);
		image_ref_free(&ref);
	}
	if (name && is_tag_name(name) && archive_strv_contains(info->names, name))
		return archive_strv_contains(*tags, name) || archive_strv_add(tags, n, name) == 0
			   ? 0
			   : berth_error_set(err, ENOMEM, "save");
	for (char **t = info->names; t && *t; t++)
		if (is_tag_name(*t) && !archive_strv_contains(*tags, *t) && archive_strv_add(tags, n, *t) < 0)
			return berth_error_set(err, ENOMEM, "save");
	return 0;
}

static size_t strv_length(char **v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static int resolve_images(store *s, char *const *texts, archive_save_image **out, size_t *n_out, berth_error **err)
{
	archive_save_image *images = NULL;
	size_t n = 0, count = 0;

	while (texts && texts[count])
		count++;
	if (count == 0)
		return berth_error_set(err, 0, "no image to save");
	images = calloc(count, sizeof(*images));
	if (images == NULL)
		return berth_error_set(err, ENOMEM, "save");
	for (size_t i = 0; i < count; i++) {
		image_info info = { 0 };
		archive_save_image *img = NULL;
		size_t n_tags;

		if (image_resolve(s, texts[i], &info, err) < 0) {
			save_images_free(images, n);
			return -1;
		}
		for (size_t j = 0; j < n && img == NULL; j++)
			if (strcmp(images[j].info.manifest_digest, info.manifest_digest) == 0)
				img = &images[j];
		if (img == NULL) {
			img = &images[n++];
			img->info = info;
		} else {
			image_info_free(&info);
		}
		n_tags = strv_length(img->tags);
		if (save_tags(texts[i], &img->info, &img->tags, &n_tags, err) < 0) {
			save_images_free(images, n);
			return -1;
		}
	}
	*out = images;
	*n_out = n;
	return 0;
}

/* ---- output ---- */

/* "DIR/.BASE.tmp-XXXXXX" beside PATH (heap). */
static char *temp_template(const char *path)
{
	_cleanup_free_ char *a = strdup(path), *b = strdup(path);
	char *out = NULL;

	if (a == NULL || b == NULL || asprintf(&out, "%s/.%s.tmp-XXXXXX", dirname(a), basename(b)) < 0)
		return NULL;
	return out;
}

static int write_format(archive_sink *k, store *s, image_archive_format format, archive_save_image *images, size_t n,
			berth_error **err)
{
	if (format == ARCHIVE_FORMAT_DOCKER)
		return archive_docker_write(k, s, images, n, err);
	return archive_oci_write(k, s, images, n, err);
}

static void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
	*a = NULL;
}

static int write_tar_fd(int fd, store *s, image_archive_format format, archive_save_image *images, size_t n,
			berth_error **err)
{
	__attribute__((cleanup(archive_write_freep))) struct archive *a = archive_write_new();
	archive_sink k = { .tar = a, .dirfd = -EBADF };

	if (a == NULL)
		return berth_error_set(err, ENOMEM, "save");
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK)
		return berth_error_set(err, 0, "write: %s", archive_error_string(a));
	if (write_format(&k, s, format, images, n, err) < 0)
		return -1;
	if (archive_write_close(a) != ARCHIVE_OK)
		return berth_error_set(err, 0, "write: %s", archive_error_string(a));
	return 0;
}

static int save_tar(store *s, image_archive_format format, archive_save_image *images, size_t n, const char *output,
		    berth_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	int ret;

	if (strcmp(output, "-") == 0)
		return write_tar_fd(STDOUT_FILENO, s, format, images, n, err);
	tmp = temp_template(output);
	if (tmp == NULL)
		return berth_error_set(err, ENOMEM, "save");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "create a temp file beside \"%s\"", output);
	ret = fchmod(fd, 0644) < 0 ? berth_error_set(err, errno, "chmod \"%s\"", tmp) : 0;
	if (ret == 0)
		ret = write_tar_fd(fd, s, format, images, n, err);
	if (ret == 0 && fsync(fd) < 0)
		ret = berth_error_set(err, errno, "fsync \"%s\"", tmp);
	if (ret == 0 && rename(tmp, output) < 0)
		ret = berth_error_set(err, errno, "rename to \"%s\"", output);
	if (ret < 0)
		unlink(tmp);
	return ret;
}

/* An existing output directory must be empty (it is replaced). */
static int check_output_dir(const char *output, bool *exists, berth_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(output);
	struct dirent *e;

	*exists = d != NULL;
	if (d == NULL)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "open \"%s\"", output);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			return berth_error_set(err, 0, "\"%s\" exists and is not empty", output);
	return 0;
}

static int save_dir(store *s, archive_save_image *images, size_t n, const char *output, berth_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	archive_sink k = { .tar = NULL, .dirfd = -EBADF };
	bool exists;
	int ret;

	if (strcmp(output, "-") == 0)
		return berth_error_set(err, 0, "oci-dir needs an output directory (-o DIR)");
	if (check_output_dir(output, &exists, err) < 0)
		return -1;
	tmp = temp_template(output);
	if (tmp == NULL)
		return berth_error_set(err, ENOMEM, "save");
	if (mkdtemp(tmp) == NULL)
		return berth_error_set(err, errno, "create a temp directory beside \"%s\"", output);
	k.dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = k.dirfd < 0 ? berth_error_set(err, errno, "open \"%s\"", tmp) : 0;
	if (ret == 0)
		ret = archive_oci_write(&k, s, images, n, err);
	if (ret == 0 && (chmod(tmp, 0755) < 0 || syncfs(k.dirfd) < 0))
		ret = berth_error_set(err, errno, "sync \"%s\"", tmp);
	if (ret == 0 && exists && rmdir(output) < 0)
		ret = berth_error_set(err, errno, "replace \"%s\"", output);
	if (ret == 0 && rename(tmp, output) < 0)
		ret = berth_error_set(err, errno, "rename to \"%s\"", output);
	if (k.dirfd >= 0)
		close(k.dirfd);
	if (ret < 0)
		fs_remove_tree(tmp, NULL);
	return ret;
}

int image_archive_save(store *s, char *const *images, image_archive_format format, const char *output,
		       berth_error **err)
{
	archive_save_image *list = NULL;
	size_t n = 0;
	int ret;

	if (resolve_images(s, images, &list, &n, err) < 0)
		return berth_error_wrap(err, "save");
	ret = store_gc_lock(s, false, err);
	if (ret == 0) {
		if (format == ARCHIVE_FORMAT_OCI_DIR)
			ret = save_dir(s, list, n, output, err);
		else
			ret = save_tar(s, format, list, n, output, err);
		store_gc_unlock(s);
	}
	save_images_free(list, n);
	if (ret < 0)
		return berth_error_wrap(err, "save");
	return 0;
}

int image_archive_save_fd(store *s, char *const *images, image_archive_format format, int fd, berth_error **err)
{
	archive_save_image *list = NULL;
	size_t n = 0;
	int ret;

	if (format == ARCHIVE_FORMAT_OCI_DIR)
		return berth_error_request(err, EINVAL, "save: an OCI directory cannot be streamed");
	if (resolve_images(s, images, &list, &n, err) < 0)
		return berth_error_wrap(err, "save");
	ret = store_gc_lock(s, false, err);
	if (ret == 0) {
		ret = write_tar_fd(fd, s, format, list, n, err);
		store_gc_unlock(s);
	}
	save_images_free(list, n);
	return ret < 0 ? berth_error_wrap(err, "save") : 0;
}
