/* Layer unpacking: a hostile tarball into an overlayfs lower directory.
 *
 * Two libarchive readers are chained: RAW only decompresses the blob (format
 * "raw"), TAR parses what RAW yields through tar_read(), which hashes and
 * counts every uncompressed byte on the way (diff_id, size limit). Entries
 * are then written by hand, fd-relative: each parent is opened with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) below DEST and the last component is
 * created relative to that fd with O_EXCL/O_NOFOLLOW semantics, so neither
 * ".." nor a symlink planted by an earlier entry can lead a write outside. */
#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define WHITEOUT_PREFIX	     ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define WHITEOUT_OPAQUE	     ".wh..wh..opq"
#define OWNER_XATTR	     "user.berth.owner"

/* A directory whose mode and times are applied once the whole layer is
 * written: creating its children changes its mtime, and a read-only mode
 * would stop an unprivileged unpacker from filling it. */
typedef struct dir_fixup {
	char *path; /* normalised, "" for DEST itself */
	mode_t mode;
	struct timespec times[2];
} dir_fixup;

typedef struct unpacker {
	int dest;
	const unpack_options *opts;
	uint64_t max_size;
	struct archive *raw; /* decompresses the blob */
	struct archive *tar; /* parses the uncompressed stream read from RAW */
	digester digest;     /* over the uncompressed stream; .size counts it */
	bool over_limit;
	/* The current entry's data is all read: a stream that ends here may
	 * lack the entry's padding (see tar_read). */
	bool data_complete;
	bool padded;
	const layer_source *src; /* layer_unpack_from: where the blob comes from */
	int source_error;	 /* the errno SRC failed with */
	uint64_t entries;
	/* The parent opened for the previous entry: tars list a directory's
	 * children together. Only children of the current parent are ever
	 * removed, so the cached fd cannot go stale. */
	char *parent_path;
	int parent_fd;
	dir_fixup *dirs;
	size_t n_dirs, cap_dirs;
} unpacker;

static void unpacker_free(unpacker *u)
{
	if (u->tar)
		archive_read_free(u->tar);
	if (u->raw)
		archive_read_free(u->raw);
	free(u->parent_path);
	if (u->parent_fd >= 0)
		close(u->parent_fd);
	for (size_t i = 0; i < u->n_dirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
}

/* Sets `layer entry "NAME": MESSAGE[: strerror]`. */
static int entry_error(berth_error **err, const char *name, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int entry_error(berth_error **err, const char *name, int errno_value, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (ret < 0)
		msg = NULL;
	return berth_error_set(err, errno_value, "layer entry \"%s\": %s", name, msg ? msg : "(out of memory)");
}

static int limit_error(unpacker *u, berth_error **err)
{
	berth_error_set(err, 0, "layer exceeds the limit of %" PRIu64 " bytes uncompressed", u->max_size);
	if (err && *err)
		(*err)->code = EFBIG;
	return -EFBIG;
}

/* The error of a failed libarchive call on A, or the size limit that made
 * tar_read() fail. NAME is the entry being read, or NULL. */
static int archive_failure(unpacker *u, struct archive *a, const char *name, berth_error **err)
{
	const char *msg = archive_error_string(a);

	if (u->over_limit)
		return limit_error(u, err);
	if (u->source_error) /* the decompressor says "truncated input" instead */
		return berth_error_set(err, u->source_error, "read layer");
	if (msg == NULL)
		msg = "unknown error";
	if (name)
		return entry_error(err, name, 0, "read: %s", msg);
	return berth_error_set(err, 0, "read layer: %s", msg);
}

/* Hashes and counts LEN uncompressed bytes; fails past the size limit. */
static int account(unpacker *u, const void *data, size_t len)
{
	if (len > u->max_size - u->digest.size) {
		u->over_limit = true;
		return -EFBIG;
	}
	digester_update(&u->digest, data, len);
	return 0;
}

/* At the end of the stream: when it stops right after an entry's data,
 * without the padding to a 512-byte block (umoci 0.4's "insert" writes
 * such layers), hands TAR the missing zeros, which are not hashed: the
 * layer then ends there, as Go's archive/tar (podman, docker, containerd)
 * reads it. A stream cut inside an entry's data or header still fails. */
static la_ssize_t pad_last_block(unpacker *u, const void **buf)
{
	static const char zeros[512];
	size_t partial = (size_t)(u->digest.size % sizeof(zeros));

	if (!u->data_complete || u->padded || partial == 0)
		return 0;
	u->padded = true;
	berth_debug("layer ends without the padding of its last entry; read as the end of the layer");
	*buf = zeros;
	return (la_ssize_t)(sizeof(zeros) - partial);
}

/* TAR's read callback: the next block of decompressed bytes from RAW. The
 * block stays valid until the next call, as libarchive requires. */
static la_ssize_t tar_read(struct archive *a, void *data, const void **buf)
{
	unpacker *u = data;
	la_int64_t offset;
	size_t len = 0;
	int r;

	r = archive_read_data_block(u->raw, buf, &len, &offset);
	if (r == ARCHIVE_EOF)
		return pad_last_block(u, buf);
	if (r < ARCHIVE_WARN) {
		archive_set_error(a, archive_errno(u->raw), "%s", archive_error_string(u->raw));
		return -1;
	}
	if (account(u, *buf, len) < 0) {
		archive_set_error(a, EFBIG, "layer exceeds the limit of %" PRIu64 " bytes uncompressed", u->max_size);
		return -1;
	}
	return (la_ssize_t)len;
}

/* RAW's read callback for layer_unpack_from. */
static la_ssize_t source_read(struct archive *a, void *data, const void **buf)
{
	unpacker *u = data;
	ssize_t n = u->src->read(u->src->ctx, buf);

	if (n < 0) {
		u->source_error = (int)-n;
		archive_set_error(a, (int)-n, "%s", strerror((int)-n));
		return -1;
	}
	return (la_ssize_t)n;
}

/* Only the compressions layers use, decoded in process. Not
 * archive_read_support_filter_all(): it adds filters that run external
 * programs (lrzip, lzop, grzip) on the hostile bytes. The blob comes from
 * BLOB_FD, or from SRC when it is not NULL. */
static int open_layer(unpacker *u, int blob_fd, const layer_source *src, berth_error **err)
{
	struct archive_entry *entry;
	int r;

	u->raw = archive_read_new();
	u->tar = archive_read_new();
	if (u->raw == NULL || u->tar == NULL)
		return berth_error_set(err, ENOMEM, "read layer");
	if (archive_read_support_filter_gzip(u->raw) < ARCHIVE_WARN ||
	    archive_read_support_filter_zstd(u->raw) < ARCHIVE_WARN ||
	    archive_read_support_format_raw(u->raw) != ARCHIVE_OK)
		return archive_failure(u, u->raw, NULL, err);
	u->src = src;
	if (src)
		r = archive_read_open(u->raw, u, NULL, source_read, NULL);
	else
		r = archive_read_open_fd(u->raw, blob_fd, 1 << 16);
	if (r != ARCHIVE_OK)
		return archive_failure(u, u->raw, NULL, err);
	if (archive_read_next_header(u->raw, &entry) != ARCHIVE_OK)
		return archive_failure(u, u->raw, NULL, err);

	if (archive_read_support_format_tar(u->tar) != ARCHIVE_OK)
		return archive_failure(u, u->tar, NULL, err);
	if (archive_read_open(u->tar, u, NULL, tar_read, NULL) != ARCHIVE_OK)
		return archive_failure(u, u->tar, NULL, err);
	return 0;
}

/* Reads what follows the last tar entry (end blocks, record padding) so the
 * diff_id covers the whole stream. */
static int drain_layer(unpacker *u, berth_error **err)
{
	for (;;) {
		const void *buf;
		la_int64_t offset;
		size_t len = 0;
		int r = archive_read_data_block(u->raw, &buf, &len, &offset);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return archive_failure(u, u->raw, NULL, err);
		if (account(u, buf, len) < 0)
			return limit_error(u, err);
	}
}

/* Normalises a tar path: "./a//b/" -> "a/b"; "." and "" -> "" (the layer
 * root). A leading "/" names the layer root too, as podman, docker,
 * containerd, umoci and GNU tar read it ("umoci insert ... /" and "tar -P"
 * write "/", "/bin/sh"): "/bin/sh" -> "bin/sh". Refuses ".." components,
 * also where the kernel would stop them at the root ("/../x"). */
static int normalise_path(const char *name, char **out, const char **why)
{
	_cleanup_free_ char *copy = strdup(name);
	_cleanup_free_ char *path = calloc(1, strlen(name) + 1);
	char *save = NULL, *part;
	size_t len = 0;

	if (copy == NULL || path == NULL) {
		*why = "out of memory";
		return -ENOMEM;
	}
	for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0) {
			*why = "path leaves the layer";
			return -EINVAL;
		}
		if (len > 0)
			path[len++] = '/';
		memcpy(path + len, part, strlen(part));
		len += strlen(part);
	}
	path[len] = '\0';
	*out = move_ptr(path);
	return 0;
}

/* Splits the normalised PATH into a heap parent ("" at the top) and a
 * pointer to its last component. */
static int split_path(const char *path, char **parent, const char **base)
{
	const char *slash = strrchr(path, '/');

	*parent = slash ? strndup(path, slash - path) : strdup("");
	*base = slash ? slash + 1 : path;
	return *parent ? 0 : -ENOMEM;
}

/* True for aufs metadata (".wh..wh.plnk", ".wh..wh.aufs" and anything below
 * them), which has no meaning for overlayfs. */
static bool is_aufs_metadata(const char *path)
{
	const char *part = path;

	for (;;) {
		const char *slash = strchr(part, '/');

		if (strncmp(part, WHITEOUT_META_PREFIX, strlen(WHITEOUT_META_PREFIX)) == 0 &&
		    (slash != NULL || strcmp(part, WHITEOUT_OPAQUE) != 0))
			return true;
		if (slash == NULL)
			return false;
		part = slash + 1;
	}
}

/* Why the parent of NAME (or of its hardlink TARGET) could not be opened. */
static int resolve_error(berth_error **err, const char *name, const char *target, int errno_value)
{
	const char *why = NULL;

	if (errno_value == ELOOP)
		why = "path goes through a symlink";
	else if (errno_value == ENOTDIR)
		why = "a parent is not a directory";
	else if (errno_value == EXDEV)
		why = "path leaves the layer";
	if (target && why)
		return entry_error(err, name, 0, "hardlink target \"%s\": %s", target, why);
	if (target)
		return entry_error(err, name, errno_value, "hardlink target \"%s\"", target);
	if (why)
		return entry_error(err, name, 0, "%s", why);
	return entry_error(err, name, errno_value, "open the parent directory");
}

/* openat2 below AT_FD that refuses "..", absolute and any symlinks. */
static int open_beneath(int at_fd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, at_fd, path, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

static int chmod_fd(int fd, mode_t mode)
{
	char proc[32];

	return chmod(fs_proc_fd_path(fd, proc), mode) < 0 ? -errno : 0;
}

/* Creates the directory PATH below DEST like `mkdir -p` with mode 0755 (what
 * docker does for parents a layer does not list). Returns an O_PATH fd. */
static int mkdir_beneath(unpacker *u, const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int fd = fcntl(u->dest, F_DUPFD_CLOEXEC, 3);
	char *save = NULL, *part;

	if (copy == NULL)
		return -ENOMEM;
	if (fd < 0)
		return -errno;
	for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		int next = open_beneath(fd, part, O_PATH | O_DIRECTORY);

		if (next == -ENOENT) {
			if (mkdirat(fd, part, 0755) < 0 && errno != EEXIST)
				return -errno;
			next = open_beneath(fd, part, O_PATH | O_DIRECTORY);
			if (next >= 0 && chmod_fd(next, 0755) < 0) {
				int saved = errno;
				close(next);
				return -saved;
			}
		}
		if (next < 0)
			return next;
		close(fd);
		fd = next;
	}
	return move_fd(fd);
}

/* An O_PATH fd of the directory PATH below DEST ("" is DEST itself), created
 * with its missing parents when CREATE. Negative errno on failure. */
static int open_dir(unpacker *u, const char *path, bool create)
{
	int fd;

	if (*path == '\0') {
		fd = fcntl(u->dest, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? -errno : fd;
	}
	fd = open_beneath(u->dest, path, O_PATH | O_DIRECTORY);
	if (fd == -ENOENT && create)
		fd = mkdir_beneath(u, path);
	return fd;
}

/* The parent directory of an entry, borrowed from the cache. */
static int entry_parent(unpacker *u, const char *parent)
{
	int fd;

	if (u->parent_fd >= 0 && strcmp(u->parent_path, parent) == 0)
		return u->parent_fd;
	fd = open_dir(u, parent, true);
	if (fd < 0)
		return fd;
	free(u->parent_path);
	if (u->parent_fd >= 0)
		close(u->parent_fd);
	u->parent_fd = fd;
	u->parent_path = strdup(parent);
	if (u->parent_path == NULL) {
		close(u->parent_fd);
		u->parent_fd = -EBADF;
		return -ENOMEM;
	}
	return fd;
}

/* Makes room for a new entry BASE in PARENTFD. Returns 1 when an existing
 * directory is kept (both are directories), 0 when BASE is free. */
static int make_room(int parentfd, const char *base, bool want_dir)
{
	struct stat st;

	if (fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (want_dir && S_ISDIR(st.st_mode))
		return 1;
	return fs_remove_tree_at(parentfd, base);
}

static void entry_times(struct archive_entry *entry, struct timespec times[2])
{
	times[1].tv_sec = 0;
	times[1].tv_nsec = UTIME_OMIT;
	if (archive_entry_mtime_is_set(entry)) {
		times[1].tv_sec = archive_entry_mtime(entry);
		times[1].tv_nsec = archive_entry_mtime_nsec(entry);
	}
	times[0] = times[1];
	if (archive_entry_atime_is_set(entry)) {
		times[0].tv_sec = archive_entry_atime(entry);
		times[0].tv_nsec = archive_entry_atime_nsec(entry);
	}
}

static int remember_dir(unpacker *u, const char *path, struct archive_entry *entry)
{
	dir_fixup *d;

	if (u->n_dirs == u->cap_dirs) {
		size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 64;
		dir_fixup *grown = realloc(u->dirs, cap * sizeof(*grown));

		if (grown == NULL)
			return -ENOMEM;
		u->dirs = grown;
		u->cap_dirs = cap;
	}
	d = &u->dirs[u->n_dirs];
	d->path = strdup(path);
	if (d->path == NULL)
		return -ENOMEM;
	d->mode = archive_entry_mode(entry) & 07777;
	entry_times(entry, d->times);
	u->n_dirs++;
	return 0;
}

/* Applies the remembered modes and times, in tar order so that a repeated
 * directory ends with its last entry's metadata. */
static int fix_dirs(unpacker *u, berth_error **err)
{
	for (size_t i = 0; i < u->n_dirs; i++) {
		const dir_fixup *d = &u->dirs[i];
		_cleanup_close_ int fd = open_beneath(u->dest, *d->path ? d->path : ".", O_RDONLY | O_DIRECTORY);

		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP) {
			/* replaced or deleted by a later entry */
			berth_debug("layer directory \"%s\" is gone, metadata not applied", d->path);
			continue;
		}
		if (fd < 0)
			return berth_error_set(err, -fd, "layer directory \"%s\": open", d->path);
		if (fchmod(fd, d->mode) < 0)
			return berth_error_set(err, errno, "layer directory \"%s\": chmod", d->path);
		if (futimens(fd, d->times) < 0)
			return berth_error_set(err, errno, "layer directory \"%s\": set times", d->path);
	}
	return 0;
}

/* Rootless: the owner the process could not give, kept for whoever maps
 * ids later. Best effort: symlinks and devices take no user xattrs. */
static void record_owner(int fd, uint32_t uid, uint32_t gid, const char *name)
{
	char proc[32], value[32];
	int len = snprintf(value, sizeof(value), "%" PRIu32 ":%" PRIu32, uid, gid);

	if (setxattr(fs_proc_fd_path(fd, proc), OWNER_XATTR, value, (size_t)len, 0) < 0)
		berth_debug("layer entry \"%s\": owner %s not recorded: %s", name, value, strerror(errno));
}

static int apply_owner(unpacker *u, int fd, const struct stat *st, struct archive_entry *entry, const char *name,
		       berth_error **err)
{
	la_int64_t uid = archive_entry_uid(entry), gid = archive_entry_gid(entry);

	/* (uid_t)-1 would mean "leave unchanged" to chown */
	if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
		return entry_error(err, name, 0, "owner %" PRId64 ":%" PRId64 " out of range", (int64_t)uid,
				   (int64_t)gid);
	if (st->st_uid == (uid_t)uid && st->st_gid == (gid_t)gid)
		return 0;
	if (fchownat(fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (!u->opts->rootless || (errno != EPERM && errno != EINVAL))
		return entry_error(err, name, errno, "chown to %" PRId64 ":%" PRId64, (int64_t)uid, (int64_t)gid);
	record_owner(fd, (uint32_t)uid, (uint32_t)gid, name);
	return 0;
}

/* The engine's own xattrs: a layer that sets them could make overlayfs
 * redirect lookups or hide lower directories behind our back. */
static bool is_reserved_xattr(const char *key)
{
	return strncmp(key, "trusted.overlay.", 16) == 0 || strncmp(key, "user.overlay.", 13) == 0 ||
	       strcmp(key, OWNER_XATTR) == 0;
}

/* Sets the entry's xattrs (pax SCHILY.xattr.*) through the O_PATH FD, which
 * acts on a symlink itself, never on its target. */
static int apply_xattrs(unpacker *u, int fd, struct archive_entry *entry, const char *name, berth_error **err)
{
	const char *key;
	const void *value;
	size_t size;
	char proc[32];

	if (archive_entry_xattr_reset(entry) == 0)
		return 0;
	fs_proc_fd_path(fd, proc);
	while (archive_entry_xattr_next(entry, &key, &value, &size) == ARCHIVE_OK) {
		bool privileged = strncmp(key, "security.", 9) == 0 || strncmp(key, "trusted.", 8) == 0;

		if (is_reserved_xattr(key)) {
			berth_debug("layer entry \"%s\": reserved xattr \"%s\" skipped", name, key);
			continue;
		}
		if (setxattr(proc, key, value, size, 0) == 0)
			continue;
		if (errno == ENOTSUP || (u->opts->rootless && errno == EPERM && privileged)) {
			berth_debug("layer entry \"%s\": xattr \"%s\" skipped: %s", name, key, strerror(errno));
			continue;
		}
		return entry_error(err, name, errno, "set xattr \"%s\"", key);
	}
	return 0;
}

/* Owner, xattrs, then mode (chown clears setuid) and times of the entry
 * just created as BASE in PARENTFD. Directories get mode and times at the
 * end (fix_dirs). */
static int apply_metadata(unpacker *u, int parentfd, const char *base, const char *path, struct archive_entry *entry,
			  const char *name, berth_error **err)
{
	_cleanup_close_ int fd = openat(parentfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct timespec times[2];
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return entry_error(err, name, errno, "open");
	r = apply_owner(u, fd, &st, entry, name, err);
	if (r == 0)
		r = apply_xattrs(u, fd, entry, name, err);
	if (r < 0)
		return r;
	if (S_ISDIR(st.st_mode)) {
		r = remember_dir(u, path, entry);
		return r < 0 ? entry_error(err, name, -r, "remember directory") : 0;
	}
	if (!S_ISLNK(st.st_mode) && chmod_fd(fd, archive_entry_mode(entry) & 07777) < 0)
		return entry_error(err, name, errno, "chmod");
	entry_times(entry, times);
	if (utimensat(parentfd, base, times, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_error(err, name, errno, "set times");
	return 0;
}

static int pwrite_all(int fd, const char *data, size_t len, off_t offset)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, data, len, offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
		offset += n;
	}
	return 0;
}

/* Writes the entry's data at the offsets libarchive gives, so holes of a
 * sparse file stay holes; the final size covers a trailing hole. */
static int create_regular(unpacker *u, int parentfd, const char *base, struct archive_entry *entry, const char *name,
			  berth_error **err)
{
	_cleanup_close_ int fd = openat(parentfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	bool dense = archive_entry_sparse_count(entry) == 0;
	la_int64_t got = 0;

	if (fd < 0)
		return entry_error(err, name, errno, "create");
	for (;;) {
		const void *buf;
		la_int64_t offset;
		size_t len = 0;
		int r;

		u->data_complete = dense && archive_entry_size_is_set(entry) && got == archive_entry_size(entry);
		r = archive_read_data_block(u->tar, &buf, &len, &offset);
		u->data_complete = false;
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return archive_failure(u, u->tar, name, err);
		r = pwrite_all(fd, buf, len, (off_t)offset);
		if (r < 0)
			return entry_error(err, name, -r, "write");
		got += (la_int64_t)len;
	}
	if (archive_entry_size_is_set(entry) && ftruncate(fd, (off_t)archive_entry_size(entry)) < 0)
		return entry_error(err, name, errno, "truncate");
	return 0;
}

/* Devices and fifos. Returns 1 when a device is skipped (rootless, or no
 * CAP_MKNOD): a container cannot use a device node from an image anyway. */
static int create_node(unpacker *u, int parentfd, const char *base, struct archive_entry *entry, const char *name,
		       berth_error **err)
{
	mode_t type = archive_entry_filetype(entry);
	dev_t rdev = type == AE_IFIFO ? 0 : archive_entry_rdev(entry);

	if (type != AE_IFIFO && u->opts->rootless) {
		berth_debug("layer entry \"%s\": device node skipped (rootless)", name);
		return 1;
	}
	if (mknodat(parentfd, base, type | 0600, rdev) == 0)
		return 0;
	if (errno == EPERM && type != AE_IFIFO) {
		berth_debug("layer entry \"%s\": device node skipped: %s", name, strerror(errno));
		return 1;
	}
	return entry_error(err, name, errno, "mknod");
}

/* A hard link to an entry already unpacked in DEST; the target is resolved
 * like a name, below DEST and through no symlink. */
static int create_hardlink(unpacker *u, int parentfd, const char *base, const char *path, const char *target,
			   const char *name, berth_error **err)
{
	_cleanup_free_ char *target_path = NULL, *target_parent = NULL;
	_cleanup_close_ int target_dir = -EBADF;
	const char *target_base, *why = NULL;
	struct stat st;
	int r;

	if (normalise_path(target, &target_path, &why) < 0)
		return entry_error(err, name, 0, "hardlink target \"%s\": %s", target, why);
	if (*target_path == '\0' || split_path(target_path, &target_parent, &target_base) < 0)
		return entry_error(err, name, 0, "hardlink target \"%s\" is not a file", target);
	if (strcmp(target_path, path) == 0) {
		berth_debug("layer entry \"%s\": hardlink to itself skipped", name);
		return 0;
	}
	target_dir = open_dir(u, target_parent, false);
	if (target_dir < 0 && target_dir != -ENOENT)
		return resolve_error(err, name, target, -target_dir);
	if (target_dir < 0 || fstatat(target_dir, target_base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_error(err, name, 0, "hardlink target \"%s\" is not in the layer (yet)", target);
	if (S_ISDIR(st.st_mode))
		return entry_error(err, name, 0, "hardlink target \"%s\" is a directory", target);
	r = make_room(parentfd, base, false);
	if (r < 0)
		return entry_error(err, name, -r, "replace the existing entry");
	if (linkat(target_dir, target_base, parentfd, base, 0) < 0)
		return entry_error(err, name, errno, "hardlink to \"%s\"", target);
	return 0;
}

static int create_entry(unpacker *u, int parentfd, const char *base, const char *path, struct archive_entry *entry,
			const char *name, berth_error **err)
{
	mode_t type = archive_entry_filetype(entry);
	const char *target;
	int r;

	if (archive_entry_hardlink(entry) != NULL)
		return create_hardlink(u, parentfd, base, path, archive_entry_hardlink(entry), name, err);
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR && type != AE_IFBLK &&
	    type != AE_IFIFO)
		return entry_error(err, name, 0, "unsupported file type 0%o", (unsigned)type);
	r = make_room(parentfd, base, type == AE_IFDIR);
	if (r < 0)
		return entry_error(err, name, -r, "replace the existing entry");
	switch (type) {
	case AE_IFREG:
		r = create_regular(u, parentfd, base, entry, name, err);
		break;
	case AE_IFDIR:
		if (r == 0 && mkdirat(parentfd, base, 0700) < 0)
			return entry_error(err, name, errno, "mkdir");
		r = 0;
		break;
	case AE_IFLNK:
		target = archive_entry_symlink(entry);
		if (target == NULL || *target == '\0')
			return entry_error(err, name, 0, "symlink without a target");
		if (symlinkat(target, parentfd, base) < 0)
			return entry_error(err, name, errno, "symlink");
		break;
	default:
		r = create_node(u, parentfd, base, entry, name, err);
		if (r > 0)
			return 0;
	}
	if (r < 0)
		return r;
	return apply_metadata(u, parentfd, base, path, entry, name, err);
}

/* ".wh.NAME": NAME of a lower layer is deleted, which overlayfs reads from a
 * 0:0 character device. Since Linux 5.8 creating one needs no CAP_MKNOD;
 * on older kernels a rootless unpack fails here. */
static int create_whiteout(int parentfd, const char *target, const char *name, berth_error **err)
{
	int r;

	if (*target == '\0' || strcmp(target, ".") == 0 || strcmp(target, "..") == 0)
		return entry_error(err, name, 0, "invalid whiteout");
	r = fs_remove_tree_at(parentfd, target);
	if (r < 0)
		return entry_error(err, name, -r, "whiteout: remove \"%s\"", target);
	if (mknodat(parentfd, target, S_IFCHR, makedev(0, 0)) < 0) {
		if (errno == EPERM)
			return entry_error(err, name, errno,
					   "whiteout: create the 0:0 character device overlayfs needs "
					   "(unprivileged whiteouts need Linux 5.8)");
		return entry_error(err, name, errno, "whiteout: mknod");
	}
	return 0;
}

/* ".wh..wh..opq": the directory hides everything of the lower layers. */
static int set_opaque(unpacker *u, int dir_fd, const char *name, berth_error **err)
{
	const char *key = u->opts->userxattr ? "user.overlay.opaque" : "trusted.overlay.opaque";
	char proc[32];

	if (setxattr(fs_proc_fd_path(dir_fd, proc), key, "y", 1, 0) < 0)
		return entry_error(err, name, errno, "set %s on the directory", key);
	return 0;
}

/* "." or "./": the metadata of the layer root goes to DEST itself. */
static int unpack_root(unpacker *u, struct archive_entry *entry, const char *name, berth_error **err)
{
	struct stat st;
	int r;

	if (archive_entry_filetype(entry) != AE_IFDIR || archive_entry_hardlink(entry) != NULL)
		return entry_error(err, name, 0, "the layer root must be a directory");
	if (fstat(u->dest, &st) < 0)
		return entry_error(err, name, errno, "stat");
	r = apply_owner(u, u->dest, &st, entry, name, err);
	if (r == 0)
		r = apply_xattrs(u, u->dest, entry, name, err);
	if (r == 0 && remember_dir(u, "", entry) < 0)
		r = entry_error(err, name, ENOMEM, "remember directory");
	return r;
}

static int unpack_entry(unpacker *u, struct archive_entry *entry, berth_error **err)
{
	_cleanup_free_ char *path = NULL, *parent = NULL;
	const char *name = archive_entry_pathname(entry);
	const char *base, *why = NULL;
	int parentfd;

	if (name == NULL)
		return berth_error_set(err, 0, "layer entry %" PRIu64 ": no path name", u->entries);
	if (normalise_path(name, &path, &why) < 0)
		return entry_error(err, name, 0, "%s", why);
	if (*path == '\0')
		return unpack_root(u, entry, name, err);
	if (is_aufs_metadata(path)) {
		berth_debug("layer entry \"%s\": aufs metadata skipped", name);
		return 0;
	}
	if (split_path(path, &parent, &base) < 0)
		return entry_error(err, name, ENOMEM, "split path");
	parentfd = entry_parent(u, parent);
	if (parentfd < 0)
		return resolve_error(err, name, NULL, -parentfd);
	if (strcmp(base, WHITEOUT_OPAQUE) == 0)
		return set_opaque(u, parentfd, name, err);
	if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
		return create_whiteout(parentfd, base + strlen(WHITEOUT_PREFIX), name, err);
	return create_entry(u, parentfd, base, path, entry, name, err);
}

static int unpack_entries(unpacker *u, berth_error **err)
{
	for (;;) {
		struct archive_entry *entry;
		int r = archive_read_next_header(u->tar, &entry);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r == ARCHIVE_WARN)
			berth_debug("layer entry: %s", archive_error_string(u->tar));
		else if (r != ARCHIVE_OK)
			return archive_failure(u, u->tar, NULL, err);
		u->entries++;
		r = unpack_entry(u, entry, err);
		if (r < 0)
			return r;
	}
}

static int unpack(int blob_fd, const layer_source *src, int dest_dirfd, const unpack_options *opts, unpack_result *res,
		  berth_error **err)
{
	static const unpack_options defaults;
	__attribute__((cleanup(unpacker_free))) unpacker u = {
		.dest = dest_dirfd,
		.opts = opts ? opts : &defaults,
		.parent_fd = -EBADF,
	};
	struct stat st;
	int r;

	u.max_size = u.opts->max_size ? u.opts->max_size : UNPACK_DEFAULT_MAX_SIZE;
	digester_init(&u.digest);
	if (fstat(dest_dirfd, &st) < 0)
		return berth_error_set(err, errno, "unpack layer: destination");
	if (!S_ISDIR(st.st_mode))
		return berth_error_set(err, ENOTDIR, "unpack layer: destination");
	r = open_layer(&u, blob_fd, src, err);
	if (r == 0)
		r = unpack_entries(&u, err);
	if (r == 0)
		r = drain_layer(&u, err);
	if (r == 0)
		r = fix_dirs(&u, err);
	if (r < 0)
		return r;
	if (res) {
		res->size = u.digest.size;
		res->entries = u.entries;
		digester_final(&u.digest, res->diff_id);
	}
	return 0;
}

int layer_unpack(int blob_fd, int dest_dirfd, const unpack_options *opts, unpack_result *res, berth_error **err)
{
	return unpack(blob_fd, NULL, dest_dirfd, opts, res, err);
}

int layer_unpack_from(const layer_source *src, int dest_dirfd, const unpack_options *opts, unpack_result *res,
		      berth_error **err)
{
	return unpack(-EBADF, src, dest_dirfd, opts, res, err);
}
