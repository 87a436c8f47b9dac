#include "build/layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "build/strv.h"
#include "util/cleanup.h"
#include "util/fs.h"

typedef struct hardlink {
	dev_t dev;
	ino_t ino;
	char *path;
} hardlink;

typedef struct layer_writer {
	struct archive *tar, *gz;
	store_writer *w;
	digester diff;
	berth_error *write_err;
	bool userxattr;
	int64_t clamp; /* <0: none */
	hardlink *links;
	size_t n_links;
	char *const *exclude; /* paths (no leading "/") left out with what is below */
	int out_fd;	      /* >= 0: a plain tar to this fd, no gzip, no store */
} layer_writer;

/* The tar stream: hashed (diff_id), then fed to the gzip writer. */
static la_ssize_t tar_out(struct archive *a, void *ctx, const void *data, size_t len)
{
	layer_writer *lw = ctx;

	if (lw->out_fd >= 0) {
		for (size_t done = 0; done < len;) {
			ssize_t n = write(lw->out_fd, (const char *)data + done, len - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				archive_set_error(a, errno ? errno : EIO, "write: %s", strerror(errno ? errno : EIO));
				return -1;
			}
			done += (size_t)n;
		}
		return (la_ssize_t)len;
	}
	digester_update(&lw->diff, data, len);
	if (archive_write_data(lw->gz, data, len) != (la_ssize_t)len) {
		archive_set_error(a, EIO, "gzip: %s", archive_error_string(lw->gz));
		return -1;
	}
	return (la_ssize_t)len;
}

static la_ssize_t gz_out(struct archive *a, void *ctx, const void *data, size_t len)
{
	layer_writer *lw = ctx;

	if (store_writer_write(lw->w, data, len, &lw->write_err) < 0) {
		archive_set_error(a, EIO, "%s", lw->write_err ? lw->write_err->msg : "write");
		return -1;
	}
	return (la_ssize_t)len;
}

static int open_writers(layer_writer *lw, berth_error **err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	lw->gz = archive_write_new();
	lw->tar = archive_write_new();
	if (e == NULL || lw->gz == NULL || lw->tar == NULL) {
		archive_entry_free(e);
		return berth_error_set(err, ENOMEM, "layer");
	}
	if (lw->out_fd >= 0) {
		archive_entry_free(e);
		e = NULL;
		goto tar;
	}
	archive_entry_set_pathname(e, "layer.tar");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	r = archive_write_add_filter_gzip(lw->gz);
	if (r == ARCHIVE_OK)
		r = archive_write_set_format_raw(lw->gz);
	if (r == ARCHIVE_OK)
		r = archive_write_set_filter_option(lw->gz, "gzip", "timestamp", NULL);
	if (r == ARCHIVE_OK)
		r = archive_write_set_bytes_in_last_block(lw->gz, 1);
	if (r == ARCHIVE_OK)
		r = archive_write_open(lw->gz, lw, NULL, gz_out, NULL);
	if (r == ARCHIVE_OK)
		r = archive_write_header(lw->gz, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return berth_error_set(err, 0, "layer: gzip: %s", archive_error_string(lw->gz));
tar:
	r = archive_write_set_format_pax_restricted(lw->tar);
	if (r == ARCHIVE_OK)
		r = archive_write_set_bytes_in_last_block(lw->tar, 1);
	if (r == ARCHIVE_OK)
		r = archive_write_open(lw->tar, lw, NULL, tar_out, NULL);
	if (r != ARCHIVE_OK)
		return berth_error_set(err, 0, "layer: tar: %s", archive_error_string(lw->tar));
	return 0;
}

static int write_header(layer_writer *lw, struct archive_entry *e, const char *path, berth_error **err)
{
	if (archive_write_header(lw->tar, e) != ARCHIVE_OK)
		return berth_error_set(err, 0, "layer: \"%s\": %s", path, archive_error_string(lw->tar));
	return 0;
}

static void set_times(const layer_writer *lw, struct archive_entry *e, const struct stat *st)
{
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	if (lw->clamp < 0)
		return;
	archive_entry_unset_atime(e);
	archive_entry_unset_ctime(e);
	archive_entry_unset_birthtime(e);
	if (st->st_mtim.tv_sec >= lw->clamp)
		archive_entry_set_mtime(e, (time_t)lw->clamp, 0);
}

static int write_whiteout(layer_writer *lw, const char *dir, const char *name, const struct stat *st, berth_error **err)
{
	_cleanup_free_ char *path = NULL;
	struct archive_entry *e;
	int ret;

	if (asprintf(&path, "%s%s.wh.%s", dir, dir[0] ? "/" : "", name) < 0)
		return berth_error_set(err, ENOMEM, "layer");
	e = archive_entry_new();
	if (e == NULL)
		return berth_error_set(err, ENOMEM, "layer");
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0);
	archive_entry_set_size(e, 0);
	set_times(lw, e, st);
	ret = write_header(lw, e, path, err);
	archive_entry_free(e);
	return ret;
}

static bool is_opaque(int dirfd, const char *name, bool userxattr)
{
	char value[4] = { 0 }, proc[64];
	_cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = getxattr(proc, userxattr ? "user.overlay.opaque" : "trusted.overlay.opaque", value, sizeof(value) - 1);
	return n == 1 && value[0] == 'y';
}

static void add_capability(struct archive_entry *e, int fd)
{
	char buf[256];
	ssize_t n = fgetxattr(fd, "security.capability", buf, sizeof(buf));

	if (n > 0)
		archive_entry_xattr_add_entry(e, "security.capability", buf, (size_t)n);
}

static int write_data(layer_writer *lw, int fd, const char *path, berth_error **err)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(lw->tar, buf, (size_t)n) != n)
			return berth_error_set(err, 0, "layer: \"%s\": %s", path, archive_error_string(lw->tar));
	if (n < 0)
		return berth_error_set(err, errno, "layer: read \"%s\"", path);
	return 0;
}

static const char *hardlink_of(layer_writer *lw, const struct stat *st, const char *path)
{
	hardlink *p;

	for (size_t i = 0; i < lw->n_links; i++)
		if (lw->links[i].dev == st->st_dev && lw->links[i].ino == st->st_ino)
			return lw->links[i].path;
	p = realloc(lw->links, (lw->n_links + 1) * sizeof(hardlink));
	if (p == NULL)
		return NULL;
	lw->links = p;
	lw->links[lw->n_links++] = (hardlink){ st->st_dev, st->st_ino, strdup(path) };
	return NULL;
}

static int walk(layer_writer *lw, int dirfd, const char *dir, berth_error **err);

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int write_entry(layer_writer *lw, int dirfd, const char *dir, const char *name, berth_error **err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct archive_entry *e;
	struct stat st;
	int ret = 0;

	if (lw->exclude) {
		_cleanup_free_ char *full = NULL;
		if (asprintf(&full, "%s%s%s", dir, dir[0] ? "/" : "", name) < 0)
			return berth_error_set(err, ENOMEM, "layer");
		for (size_t i = 0; lw->exclude[i]; i++)
			if (strcmp(lw->exclude[i], full) == 0)
				return 0;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_set(err, errno, "layer: stat \"%s/%s\"", dir, name);
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
		return write_whiteout(lw, dir, name, &st, err);
	if (asprintf(&path, "%s%s%s", dir, dir[0] ? "/" : "", name) < 0)
		return berth_error_set(err, ENOMEM, "layer");
	e = archive_entry_new();
	if (e == NULL)
		return berth_error_set(err, ENOMEM, "layer");
	archive_entry_copy_stat(e, &st);
	set_times(lw, e, &st);
	archive_entry_set_pathname(e, path);
	archive_entry_set_uname(e, "");
	archive_entry_set_gname(e, "");
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(dirfd, name, target, PATH_MAX);
		if (n < 0)
			ret = berth_error_set(err, errno, "layer: readlink \"%s\"", path);
		else
			target[n] = '\0', archive_entry_set_symlink(e, target);
	} else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
		if (fd < 0)
			ret = berth_error_set(err, errno, "layer: open \"%s\"", path);
		else
			add_capability(e, fd);
	}
	if (ret == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1) {
		const char *first = hardlink_of(lw, &st, path);
		if (first) {
			archive_entry_set_hardlink(e, first);
			archive_entry_set_size(e, 0);
			ret = write_header(lw, e, path, err);
			archive_entry_free(e);
			return ret;
		}
	}
	if (ret == 0)
		ret = write_header(lw, e, path, err);
	archive_entry_free(e);
	if (ret == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		ret = write_data(lw, fd, path, err);
	if (ret == 0 && S_ISDIR(st.st_mode)) {
		if (is_opaque(dirfd, name, lw->userxattr)) {
			struct stat opq = st;
			ret = write_whiteout(lw, path, ".wh..opq", &opq, err);
		}
		if (ret == 0)
			ret = walk(lw, fd, path, err);
	}
	return ret;
}

static int walk(layer_writer *lw, int dirfd, const char *dir, berth_error **err)
{
	_cleanup_strv_ char **names = calloc(1, sizeof(char *));
	_cleanup_closedir_ DIR *d = NULL;
	int fd = dup(dirfd);
	struct dirent *de;
	size_t n;

	if (fd < 0 || names == NULL || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return berth_error_set(err, errno ? errno : ENOMEM, "layer: read \"%s\"", dir[0] ? dir : "/");
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (build_strv_add(&names, de->d_name, (size_t)-1) < 0)
			return berth_error_set(err, ENOMEM, "layer");
	}
	n = build_strv_len(names);
	qsort(names, n, sizeof(char *), compare_names);
	for (size_t i = 0; i < n; i++)
		if (write_entry(lw, dirfd, dir, names[i], err) < 0)
			return -1;
	return 0;
}

int build_layer_write(store *s, int upper_fd, bool userxattr, int64_t clamp_mtime, build_layer *out, berth_error **err)
{
	return build_layer_write_excluding(s, upper_fd, userxattr, clamp_mtime, NULL, out, err);
}

int build_tree_tar(int dir_fd, int out_fd, berth_error **err)
{
	layer_writer lw = { .clamp = -1, .out_fd = out_fd };
	int ret = open_writers(&lw, err);

	if (ret == 0)
		ret = walk(&lw, dir_fd, "", err);
	if (ret == 0 && archive_write_close(lw.tar) != ARCHIVE_OK)
		ret = berth_error_set(err, 0, "tar: %s", archive_error_string(lw.tar));
	if (lw.tar)
		archive_write_free(lw.tar);
	if (lw.gz)
		archive_write_free(lw.gz);
	for (size_t i = 0; i < lw.n_links; i++)
		free(lw.links[i].path);
	free(lw.links);
	return ret;
}

int build_layer_write_excluding(store *s, int upper_fd, bool userxattr, int64_t clamp_mtime, char *const *exclude,
				build_layer *out, berth_error **err)
{
	layer_writer lw = { .userxattr = userxattr, .clamp = clamp_mtime, .exclude = exclude, .out_fd = -1 };
	int ret;

	digester_init(&lw.diff);
	ret = store_writer_open(s, NULL, -1, &lw.w, err);
	if (ret == 0)
		ret = open_writers(&lw, err);
	if (ret == 0)
		ret = walk(&lw, upper_fd, "", err);
	if (ret == 0 && archive_write_close(lw.tar) != ARCHIVE_OK)
		ret = berth_error_set(err, 0, "layer: tar: %s", archive_error_string(lw.tar));
	if (ret == 0 && archive_write_close(lw.gz) != ARCHIVE_OK)
		ret = berth_error_set(err, 0, "layer: gzip: %s", archive_error_string(lw.gz));
	if (lw.tar)
		archive_write_free(lw.tar);
	if (lw.gz)
		archive_write_free(lw.gz);
	for (size_t i = 0; i < lw.n_links; i++)
		free(lw.links[i].path);
	free(lw.links);
	berth_error_free(&lw.write_err);
	if (ret < 0) {
		store_writer_abort(lw.w);
		return ret;
	}
	out->size = (int64_t)store_writer_written(lw.w);
	digester_final(&lw.diff, out->diff_id);
	return store_writer_commit(lw.w, out->digest, err);
}
