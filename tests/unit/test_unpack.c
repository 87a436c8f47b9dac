/* image/unpack: layer tarballs into overlay lower dirs.
 *
 * Every layer is built here with libarchive's writer so each case is
 * explicit. Each test unpacks into a mkdtemp'd snapshot dir three levels
 * down a mkdtemp'd jail ("JAIL/d1/d2/snap-XXXXXX") next to a canary file, so
 * a hostile entry that escaped ("../..", a symlink, a hardlink) would leave
 * something in the jail that check_jail() finds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <locale.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/byte_pipe.h"
#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define CANARY	     "canary: must stay as it is\n"
#define DEFAULT_TIME 1500000000

typedef struct buffer {
	char *data;
	size_t len, cap;
} buffer;

static void buffer_append(buffer *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 4096;
		b->data = realloc(b->data, b->cap);
		assert_non_null(b->data);
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

static la_ssize_t buffer_write(struct archive *a, void *data, const void *buf, size_t len)
{
	buffer_append(data, buf, len);
	return (la_ssize_t)len;
}

/* One tar entry; zero fields take defaults (root owned, DEFAULT_TIME). */
typedef struct tent {
	const char *name;
	mode_t mode; /* file type | permissions */
	const char *data;
	size_t zeros; /* or: a regular file of this many zero bytes */
	const char *symlink;
	const char *hardlink;
	int64_t uid, gid;
	time_t mtime;
	const char *xattr, *xattr_value;
	dev_t rdev;
} tent;

static void add_entry(struct archive *a, const tent *t)
{
	struct archive_entry *e = archive_entry_new();
	size_t size = t->data ? strlen(t->data) : t->zeros;

	archive_entry_set_pathname(e, t->name);
	archive_entry_set_mode(e, t->mode);
	archive_entry_set_uid(e, t->uid);
	archive_entry_set_gid(e, t->gid);
	archive_entry_set_mtime(e, t->mtime ? t->mtime : DEFAULT_TIME, 0);
	if (t->symlink)
		archive_entry_set_symlink(e, t->symlink);
	if (t->hardlink)
		archive_entry_set_hardlink(e, t->hardlink);
	if (t->xattr)
		archive_entry_xattr_add_entry(e, t->xattr, t->xattr_value, strlen(t->xattr_value));
	if (t->rdev)
		archive_entry_set_rdev(e, t->rdev);
	archive_entry_set_size(e, S_ISREG(t->mode) && !t->hardlink ? (la_int64_t)size : 0);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (t->data)
		assert_int_equal(archive_write_data(a, t->data, size), (la_ssize_t)size);
	for (size_t left = t->zeros; left > 0;) {
		static const char zeros[1 << 16];
		size_t n = left < sizeof(zeros) ? left : sizeof(zeros);
		assert_int_equal(archive_write_data(a, zeros, n), (la_ssize_t)n);
		left -= n;
	}
	archive_entry_free(e);
}

/* An uncompressed pax tar of ENTRIES, padded to 10240 bytes like GNU tar
 * does: the padding after the end blocks is part of the diff_id. */
static buffer build_tar(const tent *entries, size_t n)
{
	/* names are UTF-8 in the test source; the unpacker runs in "C" */
	locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	locale_t old = uselocale(utf8);
	struct archive *a = archive_write_new();
	buffer out = { 0 };

	assert_int_equal(archive_write_set_format_pax(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open(a, &out, NULL, buffer_write, NULL), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++)
		add_entry(a, &entries[i]);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	uselocale(old);
	freelocale(utf8);
	return out;
}

enum compression { NONE, GZIP, ZSTD };

static buffer compress(const buffer *in, enum compression c)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	buffer out = { 0 };

	if (c == NONE) {
		buffer_append(&out, in->data, in->len);
		archive_entry_free(e);
		archive_write_free(a);
		return out;
	}
	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	assert_int_equal(c == GZIP ? archive_write_add_filter_gzip(a) : archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_per_block(a, 0), ARCHIVE_OK);
	assert_int_equal(archive_write_open(a, &out, NULL, buffer_write, NULL), ARCHIVE_OK);
	archive_entry_set_pathname(e, "layer");
	archive_entry_set_mode(e, AE_IFREG | 0644);
	archive_entry_set_size(e, (la_int64_t)in->len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, in->data, in->len), (la_ssize_t)in->len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(e);
	archive_write_free(a);
	return out;
}

/* The blob as an fd positioned at its start. */
static int blob_fd(const buffer *blob)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, blob->data, blob->len), (ssize_t)blob->len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

typedef struct fixture {
	char jail[64];
	char d2[96];
	char dest[128];
	int destfd;
} fixture;

/* A fresh snapshot dir in JAIL/d1/d2 (tests that unpack more than once). */
static void new_dest(fixture *f)
{
	if (f->destfd >= 0)
		close(f->destfd);
	snprintf(f->dest, sizeof(f->dest), "%s/snap-XXXXXX", f->d2);
	assert_non_null(mkdtemp(f->dest));
	f->destfd = open(f->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->destfd >= 0);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char path[160];
	int fd;

	assert_non_null(f);
	f->destfd = -1;
	snprintf(f->jail, sizeof(f->jail), "/tmp/berth-unpack-XXXXXX");
	assert_non_null(mkdtemp(f->jail));
	snprintf(path, sizeof(path), "%s/canary", f->jail);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, CANARY, strlen(CANARY)), (ssize_t)strlen(CANARY));
	close(fd);
	snprintf(path, sizeof(path), "%s/d1", f->jail);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(f->d2, sizeof(f->d2), "%s/d1/d2", f->jail);
	assert_int_equal(mkdir(f->d2, 0755), 0);
	new_dest(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	if (f->destfd >= 0)
		close(f->destfd);
	assert_int_equal(fs_remove_tree(f->jail, NULL), 0);
	free(f);
	return 0;
}

/* Number of entries in DIR besides "." and "..". */
static int count_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	return n;
}

/* Nothing escaped: the jail holds the canary (unchanged) and d1, d1 holds
 * d2 (and EXTRA_D1 files the test put there), d2 the snapshot dirs. */
static void check_jail(const fixture *f, int extra_d1, int snapshots)
{
	_cleanup_free_ char *text = NULL;
	char path[160];

	assert_int_equal(count_entries(f->jail), 2);
	snprintf(path, sizeof(path), "%s/canary", f->jail);
	assert_int_equal(fs_read_file(path, &text, NULL, NULL), 0);
	assert_string_equal(text, CANARY);
	snprintf(path, sizeof(path), "%s/d1", f->jail);
	assert_int_equal(count_entries(path), 1 + extra_d1);
	assert_int_equal(count_entries(f->d2), snapshots);
}

static int unpack_blob(fixture *f, const buffer *blob, const unpack_options *opts, unpack_result *res,
		       berth_error **err)
{
	_cleanup_close_ int fd = blob_fd(blob);

	return layer_unpack(fd, f->destfd, opts, res, err);
}

static void unpack_ok(fixture *f, const tent *entries, size_t n, const unpack_options *opts)
{
	_cleanup_error_ berth_error *err = NULL;
	buffer tar = build_tar(entries, n);
	unpack_result res;

	if (unpack_blob(f, &tar, opts, &res, &err) < 0)
		fail_msg("unpack failed: %s", err->msg);
	assert_int_equal(res.entries, n);
	free(tar.data);
}

/* Unpacking fails with an error containing NEEDLE (callers then check_jail). */
static void unpack_refused(fixture *f, const tent *entries, size_t n, const char *needle)
{
	_cleanup_error_ berth_error *err = NULL;
	buffer tar = build_tar(entries, n);
	unpack_result res;

	if (unpack_blob(f, &tar, NULL, &res, &err) == 0)
		fail_msg("unpacked but should fail with \"%s\"", needle);
	assert_non_null(err);
	if (strstr(err->msg, needle) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err->msg, needle);
	free(tar.data);
}

static void stat_in(const fixture *f, const char *name, struct stat *st)
{
	if (fstatat(f->destfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		fail_msg("stat \"%s\": %s", name, strerror(errno));
}

static bool exists_in(const fixture *f, const char *name)
{
	struct stat st;
	return fstatat(f->destfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void assert_file(const fixture *f, const char *name, const char *content)
{
	_cleanup_free_ char *text = NULL;

	if (fs_read_file_at(f->destfd, name, &text, NULL, NULL) < 0)
		fail_msg("read \"%s\" failed", name);
	assert_string_equal(text, content);
}

/* The xattr KEY of NAME (not following a symlink), "" when absent. */
static void assert_xattr(const fixture *f, const char *name, const char *key, const char *value)
{
	char path[256], buf[256];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", f->dest, name);
	n = lgetxattr(path, key, buf, sizeof(buf) - 1);
	if (n < 0) {
		if (*value == '\0' && errno == ENODATA)
			return;
		fail_msg("getxattr \"%s\" of \"%s\": %s", key, name, strerror(errno));
	}
	buf[n] = '\0';
	assert_string_equal(buf, value);
}

static void test_types_and_metadata(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "./", .mode = AE_IFDIR | 0751, .mtime = 1111 },
		{ .name = "./etc/", .mode = AE_IFDIR | 0750, .mtime = 2222 },
		{ .name = "./etc/passwd",
		  .mode = AE_IFREG | 0640,
		  .data = "root:x:0:0::/root:/bin/sh\n",
		  .uid = 1234,
		  .gid = 5678,
		  .mtime = 1234567890,
		  .xattr = "user.berth.test",
		  .xattr_value = "hello" },
		{ .name = "usr",
		  .mode = AE_IFDIR | 0755,
		  .mtime = 5555,
		  .xattr = "trusted.berth",
		  .xattr_value = "dir" },
		{ .name = "usr/bin/su", .mode = AE_IFREG | 04755, .data = "#!su\n" },
		{ .name = "usr/bin/sg", .mode = AE_IFREG | 06755, .data = "#!sg\n", .uid = 1000, .gid = 1000 },
		{ .name = "usr/bin/sh",
		  .mode = AE_IFLNK | 0777,
		  .symlink = "/bin/busybox",
		  .uid = 42,
		  .gid = 43,
		  .mtime = 4242 },
		{ .name = "usr/bin/dangling", .mode = AE_IFLNK | 0777, .symlink = "../../nowhere/../.." },
		{ .name = "usr/bin/ln", .mode = AE_IFREG | 0640, .hardlink = "./etc/passwd" },
		{ .name = "run/fifo", .mode = AE_IFIFO | 0620, .uid = 7, .gid = 8 },
		{ .name = "dev/null", .mode = AE_IFCHR | 0666, .rdev = makedev(1, 3) },
		{ .name = "dev/loop0", .mode = AE_IFBLK | 0660, .rdev = makedev(7, 0), .gid = 6 },
		{ .name = "tmp/", .mode = AE_IFDIR | 01777 },
		{ .name = "deep/a/b/c/file", .mode = AE_IFREG | 0600, .data = "deep" },
		{ .name = "caf\xc3\xa9", .mode = AE_IFREG | 0644, .data = "utf-8 name" },
		{ .name = "big", .mode = AE_IFREG | 0644, .zeros = 3 << 20 },
	};
	struct stat st;
	char target[64];

	unpack_ok(f, entries, sizeof(entries) / sizeof(entries[0]), NULL);

	assert_int_equal(fstat(f->destfd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	assert_int_equal(st.st_mtime, 1111);

	stat_in(f, "etc", &st);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_mtime, 2222); /* set after its contents */

	stat_in(f, "etc/passwd", &st);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(st.st_mtime, 1234567890);
	assert_int_equal(st.st_nlink, 2);
	assert_file(f, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
	assert_xattr(f, "etc/passwd", "user.berth.test", "hello");

	stat_in(f, "usr", &st);
	assert_int_equal(st.st_mtime, 5555);
	assert_xattr(f, "usr", "trusted.berth", "dir");
	stat_in(f, "usr/bin", &st); /* implicit parent */
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);

	stat_in(f, "usr/bin/su", &st);
	assert_int_equal(st.st_mode & 07777, 04755);
	stat_in(f, "usr/bin/sg", &st); /* chmod after chown keeps setuid/setgid */
	assert_int_equal(st.st_mode & 07777, 06755);
	assert_int_equal(st.st_uid, 1000);

	stat_in(f, "usr/bin/sh", &st);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_uid, 42);
	assert_int_equal(st.st_gid, 43);
	assert_int_equal(st.st_mtime, 4242);
	assert_int_equal(readlinkat(f->destfd, "usr/bin/sh", target, sizeof(target)), 12);
	assert_memory_equal(target, "/bin/busybox", 12);
	assert_int_equal(readlinkat(f->destfd, "usr/bin/dangling", target, sizeof(target)), 19);
	assert_memory_equal(target, "../../nowhere/../..", 19);

	{
		struct stat link;
		stat_in(f, "usr/bin/ln", &link);
		stat_in(f, "etc/passwd", &st);
		assert_int_equal(link.st_ino, st.st_ino);
	}

	stat_in(f, "run/fifo", &st);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0620);
	assert_int_equal(st.st_uid, 7);
	assert_int_equal(st.st_gid, 8);

	if (geteuid() == 0) {
		stat_in(f, "dev/null", &st);
		assert_true(S_ISCHR(st.st_mode));
		assert_int_equal(st.st_rdev, makedev(1, 3));
		assert_int_equal(st.st_mode & 07777, 0666);
		stat_in(f, "dev/loop0", &st);
		assert_true(S_ISBLK(st.st_mode));
		assert_int_equal(st.st_rdev, makedev(7, 0));
		assert_int_equal(st.st_gid, 6);
	}

	stat_in(f, "tmp", &st);
	assert_int_equal(st.st_mode & 07777, 01777);
	assert_file(f, "deep/a/b/c/file", "deep");
	stat_in(f, "deep/a/b", &st);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_file(f, "caf\xc3\xa9", "utf-8 name");
	stat_in(f, "big", &st);
	assert_int_equal(st.st_size, 3 << 20);
	check_jail(f, 0, 1);
}

/* "path mode uid:gid size mtime [target]" of every entry below DIR, sorted. */
static void tree_lines(int dirfd, const char *prefix, char ***lines, size_t *n)
{
	_cleanup_closedir_ DIR *d = fdopendir(dup(dirfd));
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[512], target[256] = "";
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		assert_int_equal(fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW), 0);
		snprintf(path, sizeof(path), "%s%s", prefix, de->d_name);
		if (S_ISLNK(st.st_mode))
			assert_true(readlinkat(dirfd, de->d_name, target, sizeof(target) - 1) > 0);
		*lines = realloc(*lines, (*n + 1) * sizeof(char *));
		assert_true(asprintf(&(*lines)[(*n)++], "%s %o %u:%u %lld %lld %s", path, st.st_mode, st.st_uid,
				     st.st_gid, (long long)st.st_size, (long long)st.st_mtime, target) > 0);
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			strcat(path, "/");
			tree_lines(sub, path, lines, n);
		}
	}
}

static int compare_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *tree_signature(int dirfd)
{
	char **lines = NULL, *out = NULL;
	size_t n = 0, len = 0;

	tree_lines(dirfd, "", &lines, &n);
	qsort(lines, n, sizeof(char *), compare_lines);
	for (size_t i = 0; i < n; i++) {
		out = realloc(out, len + strlen(lines[i]) + 2);
		len += (size_t)sprintf(out + len, "%s\n", lines[i]);
		free(lines[i]);
	}
	free(lines);
	return out;
}

static void test_compressions(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "bin/", .mode = AE_IFDIR | 0755, .mtime = 100 },
		{ .name = "bin/busybox", .mode = AE_IFREG | 0755, .data = "\177ELF...", .mtime = 200 },
		{ .name = "bin/sh", .mode = AE_IFLNK | 0777, .symlink = "busybox" },
		{ .name = "bin/ash", .mode = AE_IFREG | 0755, .hardlink = "bin/busybox" },
		{ .name = "etc/hostname", .mode = AE_IFREG | 0644, .data = "berth\n", .uid = 3, .gid = 4 },
		{ .name = "zeros", .mode = AE_IFREG | 0600, .zeros = 200000 },
	};
	const enum compression kinds[] = { NONE, GZIP, ZSTD };
	buffer tar = build_tar(entries, sizeof(entries) / sizeof(entries[0]));
	char expected[DIGEST_STRING_MAX];
	_cleanup_free_ char *first = NULL;

	digest_buffer(tar.data, tar.len, expected);
	for (size_t i = 0; i < 3; i++) {
		_cleanup_error_ berth_error *err = NULL;
		_cleanup_free_ char *signature = NULL;
		buffer blob = compress(&tar, kinds[i]);
		unpack_result res;

		if (i > 0) {
			new_dest(f);
			assert_true(blob.len < tar.len);
		}
		if (unpack_blob(f, &blob, NULL, &res, &err) < 0)
			fail_msg("unpack (compression %zu) failed: %s", i, err->msg);
		assert_string_equal(res.diff_id, expected);
		assert_int_equal(res.size, tar.len);
		assert_int_equal(res.entries, sizeof(entries) / sizeof(entries[0]));
		signature = tree_signature(f->destfd);
		if (first == NULL)
			first = move_ptr(signature);
		else
			assert_string_equal(signature, first);
		free(blob.data);
	}
	assert_non_null(strstr(first, "bin/sh 120777 0:0 7 1500000000 busybox\n"));
	assert_non_null(strstr(first, "etc/hostname 100644 3:4 6 1500000000"));
	check_jail(f, 0, 3);
	free(tar.data);
}

static void test_empty_layer(void **state)
{
	fixture *f = *state;
	_cleanup_error_ berth_error *err = NULL;
	buffer tar = build_tar(NULL, 0), blob = compress(&tar, GZIP);
	char expected[DIGEST_STRING_MAX];
	unpack_result res;

	digest_buffer(tar.data, tar.len, expected);
	if (unpack_blob(f, &blob, NULL, &res, &err) < 0)
		fail_msg("unpack failed: %s", err->msg);
	assert_string_equal(res.diff_id, expected);
	assert_int_equal(res.entries, 0);
	assert_int_equal(count_entries(f->dest), 0);
	free(tar.data);
	free(blob.data);
}

static void test_not_a_tar(void **state)
{
	fixture *f = *state;
	_cleanup_error_ berth_error *err = NULL;
	buffer junk = { 0 };
	unpack_result res;

	for (int i = 0; i < 100; i++)
		buffer_append(&junk, "this is not a tar archive\n", 26);
	assert_true(unpack_blob(f, &junk, NULL, &res, &err) < 0);
	assert_non_null(strstr(err->msg, "read layer"));
	free(junk.data);
}

static void assert_whiteout(const fixture *f, const char *name)
{
	struct stat st;

	stat_in(f, name, &st);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
}

static void test_whiteouts(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "a/old", .mode = AE_IFREG | 0644, .data = "lower" },
		{ .name = "a/.wh.old", .mode = AE_IFREG | 0600 },
		{ .name = "dir/sub/x", .mode = AE_IFREG | 0644, .data = "x" },
		{ .name = ".wh.dir", .mode = AE_IFREG | 0600 },
		{ .name = ".wh.gone", .mode = AE_IFREG | 0600 },
		{ .name = "new/.wh.missing-parent", .mode = AE_IFREG | 0600 },
		{ .name = "opaque/", .mode = AE_IFDIR | 0755 },
		{ .name = "opaque/.wh..wh..opq", .mode = AE_IFREG | 0600 },
		{ .name = ".wh..wh.plnk/", .mode = AE_IFDIR | 0700 },
		{ .name = ".wh..wh.plnk/123.456", .mode = AE_IFREG | 0600, .data = "aufs" },
		{ .name = ".wh..wh.aufs", .mode = AE_IFREG | 0600 },
	};

	unpack_ok(f, entries, sizeof(entries) / sizeof(entries[0]), NULL);
	assert_whiteout(f, "a/old");
	assert_whiteout(f, "dir");
	assert_whiteout(f, "gone");
	assert_whiteout(f, "new/missing-parent");
	assert_false(exists_in(f, "a/.wh.old"));
	assert_xattr(f, "opaque", "trusted.overlay.opaque", "y");
	assert_false(exists_in(f, "opaque/.wh..wh..opq"));
	assert_false(exists_in(f, ".wh..wh.plnk"));
	assert_false(exists_in(f, ".wh..wh.aufs"));
	assert_int_equal(count_entries(f->dest), 5); /* a dir gone new opaque */
	check_jail(f, 0, 1);
}

static void test_opaque_userxattr(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "d/.wh..wh..opq", .mode = AE_IFREG | 0600 },
		{ .name = ".wh..wh..opq", .mode = AE_IFREG | 0600 },
	};
	const unpack_options opts = { .userxattr = true };

	unpack_ok(f, entries, 2, &opts);
	assert_xattr(f, "d", "user.overlay.opaque", "y");
	assert_xattr(f, "d", "trusted.overlay.opaque", "");
	assert_xattr(f, ".", "user.overlay.opaque", "y");
}

/* A layer cannot set the engine's own overlay xattrs on its entries. */
static void test_reserved_xattrs_skipped(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "d/", .mode = AE_IFDIR | 0755, .xattr = "trusted.overlay.redirect", .xattr_value = "/etc" },
		{ .name = "f",
		  .mode = AE_IFREG | 0644,
		  .data = "",
		  .xattr = "user.overlay.opaque",
		  .xattr_value = "y" },
	};

	unpack_ok(f, entries, 2, NULL);
	assert_xattr(f, "d", "trusted.overlay.redirect", "");
	assert_xattr(f, "f", "user.overlay.opaque", "");
}

static void test_repeated_entries_replace(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "x", .mode = AE_IFREG | 0644, .data = "one" },
		{ .name = "x", .mode = AE_IFREG | 0600, .data = "two" },
		{ .name = "y", .mode = AE_IFLNK | 0777, .symlink = "x" },
		{ .name = "y", .mode = AE_IFREG | 0644, .data = "not through the link" },
		{ .name = "d/f", .mode = AE_IFREG | 0644, .data = "in d" },
		{ .name = "d", .mode = AE_IFREG | 0644, .data = "d is a file now" },
		{ .name = "e/", .mode = AE_IFDIR | 0755 },
		{ .name = "e/keep", .mode = AE_IFREG | 0644, .data = "kept" },
		{ .name = "e/", .mode = AE_IFDIR | 0700, .mtime = 777 },
		{ .name = "s/", .mode = AE_IFDIR | 0755 },
		{ .name = "s", .mode = AE_IFLNK | 0777, .symlink = "../../.." },
		{ .name = "t", .mode = AE_IFLNK | 0777, .symlink = "../../.." },
		{ .name = "t/", .mode = AE_IFDIR | 0750 },
		{ .name = "t/inside", .mode = AE_IFREG | 0644, .data = "inside" },
		{ .name = "h", .mode = AE_IFREG | 0644, .data = "old h" },
		{ .name = "h", .mode = AE_IFREG | 0644, .hardlink = "x" },
	};
	struct stat st;

	unpack_ok(f, entries, sizeof(entries) / sizeof(entries[0]), NULL);
	assert_file(f, "x", "two");
	stat_in(f, "x", &st);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_nlink, 2);
	stat_in(f, "y", &st);
	assert_true(S_ISREG(st.st_mode));
	assert_file(f, "y", "not through the link");
	assert_file(f, "d", "d is a file now");
	stat_in(f, "e", &st);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_mtime, 777);
	assert_file(f, "e/keep", "kept");
	stat_in(f, "s", &st);
	assert_true(S_ISLNK(st.st_mode));
	stat_in(f, "t", &st);
	assert_true(S_ISDIR(st.st_mode));
	assert_file(f, "t/inside", "inside");
	assert_file(f, "h", "two");
	check_jail(f, 0, 1);
}

static void test_refuse_dotdot(void **state)
{
	fixture *f = *state;
	const tent entries[] = { { .name = "../escape", .mode = AE_IFREG | 0644, .data = "x" } };

	unpack_refused(f, entries, 1, "layer entry \"../escape\": path leaves the layer");
	check_jail(f, 0, 1);
}

/* What "umoci insert --image I DIR /" and "tar -P" write: "/" is the layer
 * root, "/bin/sh" its bin/sh, for entries, hardlink targets and whiteouts. */
static void test_absolute_names(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "/", .mode = AE_IFDIR | 0751, .uid = 7, .gid = 8 },
		{ .name = "/bin/", .mode = AE_IFDIR | 0755 },
		{ .name = "/bin/sh", .mode = AE_IFREG | 0755, .data = "#!sh\n" },
		{ .name = "/bin/ash", .mode = AE_IFREG | 0755, .hardlink = "/bin/sh" },
		{ .name = "//usr///lib/x", .mode = AE_IFREG | 0644, .data = "x" },
		{ .name = "/etc/.wh.gone", .mode = AE_IFREG | 0600 },
		{ .name = "/abs", .mode = AE_IFLNK | 0777, .symlink = "/bin/sh" },
	};
	struct stat sh, ash, root;

	unpack_ok(f, entries, sizeof(entries) / sizeof(entries[0]), NULL);
	assert_file(f, "bin/sh", "#!sh\n");
	stat_in(f, "bin/sh", &sh);
	stat_in(f, "bin/ash", &ash);
	assert_int_equal(sh.st_ino, ash.st_ino);
	assert_int_equal(sh.st_nlink, 2);
	assert_file(f, "usr/lib/x", "x");
	stat_in(f, "etc/gone", &sh);
	assert_true(S_ISCHR(sh.st_mode));
	assert_int_equal(fstat(f->destfd, &root), 0);
	assert_int_equal(root.st_mode & 07777, 0751);
	assert_int_equal(root.st_uid, 7);
	check_jail(f, 0, 1);
}

/* The offset just past the data of the last entry, whose content is DATA. */
static size_t end_of_data(const buffer *tar, const char *data)
{
	const char *hit = NULL;

	for (const char *p = tar->data; (p = memmem(p, tar->len - (size_t)(p - tar->data), data, strlen(data))); p++)
		hit = p;
	assert_non_null(hit);
	return (size_t)(hit - tar->data) + strlen(data);
}

/* umoci 0.4's "insert" ends its layers right after the last file's data:
 * no padding to 512 bytes, no end blocks. Read as the end of the layer (as
 * Go's archive/tar does), the diff_id over the bytes as they are. */
static void test_missing_final_padding(void **state)
{
	fixture *f = *state;
	_cleanup_error_ berth_error *err = NULL;
	const tent entries[] = {
		{ .name = "/", .mode = AE_IFDIR | 0755 },
		{ .name = "bin/", .mode = AE_IFDIR | 0755 },
		{ .name = "hello", .mode = AE_IFREG | 0644, .data = "umoci-insert-data" },
	};
	buffer tar = build_tar(entries, 3), blob;
	char expected[DIGEST_STRING_MAX];
	unpack_result res;

	tar.len = end_of_data(&tar, "umoci-insert-data");
	assert_true(tar.len % 512 != 0);
	digest_buffer(tar.data, tar.len, expected);
	blob = compress(&tar, GZIP);
	if (unpack_blob(f, &blob, NULL, &res, &err) < 0)
		fail_msg("unpack failed: %s", err->msg);
	assert_string_equal(res.diff_id, expected);
	assert_int_equal(res.size, tar.len);
	assert_int_equal(res.entries, 3);
	assert_file(f, "hello", "umoci-insert-data");
	check_jail(f, 0, 1);
	free(tar.data);
	free(blob.data);
}

/* A layer cut inside an entry's data is still an error, however close to
 * the end of the entry, and so is one cut inside a header. */
static void test_refuse_truncated(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "a", .mode = AE_IFREG | 0644, .data = "first-file" },
		{ .name = "b", .mode = AE_IFREG | 0644, .data = "second-file-data" },
	};
	buffer tar = build_tar(entries, 2);
	size_t cuts[] = { end_of_data(&tar, "second-file-data") - 1, end_of_data(&tar, "first-file") + 700 };

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		_cleanup_error_ berth_error *err = NULL;
		buffer cut = { .data = tar.data, .len = cuts[i] };
		unpack_result res;

		new_dest(f);
		if (unpack_blob(f, &cut, NULL, &res, &err) == 0)
			fail_msg("a layer cut at %zu of %zu bytes unpacked", cuts[i], tar.len);
		if (strstr(err->msg, "runcated") == NULL)
			fail_msg("error \"%s\" does not say truncated", err->msg);
	}
	check_jail(f, 0, 3);
	free(tar.data);
}

/* ---- streaming: layer_unpack_from and the byte pipe a pull feeds it by ---- */

/* A source handing out a buffer in blocks of STEP bytes; FAIL_AT > 0: fails
 * with -ECONNRESET once that many bytes are out. */
typedef struct chunked {
	const buffer *b;
	size_t off, step, fail_at;
} chunked;

static ssize_t chunked_read(void *ctx, const void **buf)
{
	chunked *c = ctx;
	size_t n = c->b->len - c->off;

	if (c->fail_at && c->off >= c->fail_at)
		return -ECONNRESET;
	if (n > c->step)
		n = c->step;
	*buf = c->b->data + c->off;
	c->off += n;
	return (ssize_t)n;
}

static void test_unpack_from_source(void **state)
{
	fixture *f = *state;
	_cleanup_error_ berth_error *err = NULL;
	const tent entries[] = {
		{ .name = "etc/", .mode = AE_IFDIR | 0755 },
		{ .name = "etc/hostname", .mode = AE_IFREG | 0644, .data = "streamed\n" },
		{ .name = "big", .mode = AE_IFREG | 0600, .zeros = 300000 },
	};
	buffer tar = build_tar(entries, 3), blob = compress(&tar, GZIP);
	chunked c = { .b = &blob, .step = 7 };
	layer_source src = { .read = chunked_read, .ctx = &c };
	char expected[DIGEST_STRING_MAX];
	unpack_result res;
	struct stat st;

	digest_buffer(tar.data, tar.len, expected);
	if (layer_unpack_from(&src, f->destfd, NULL, &res, &err) < 0)
		fail_msg("unpack failed: %s", err->msg);
	assert_string_equal(res.diff_id, expected);
	assert_int_equal(res.entries, 3);
	assert_file(f, "etc/hostname", "streamed\n");
	stat_in(f, "big", &st);
	assert_int_equal(st.st_size, 300000);

	/* the source fails half way: so does the unpack, with the source's errno */
	new_dest(f);
	c = (chunked){ .b = &blob, .step = 16, .fail_at = blob.len / 2 };
	berth_error_free(&err);
	assert_true(layer_unpack_from(&src, f->destfd, NULL, &res, &err) < 0);
	if (strstr(err->msg, strerror(ECONNRESET)) == NULL)
		fail_msg("error \"%s\" does not give the source's failure", err->msg);
	check_jail(f, 0, 2);
	free(tar.data);
	free(blob.data);
}

typedef struct pipe_writer {
	byte_pipe *p;
	size_t total;
	int close_error;
} pipe_writer;

static uint8_t pattern(size_t i)
{
	return (uint8_t)((i * 7) % 251);
}

/* Writes TOTAL bytes of the pattern in blocks of 1 to 2999 bytes, some
 * larger than the ring, then closes with CLOSE_ERROR. */
static void *pipe_writer_run(void *arg)
{
	pipe_writer *w = arg;
	uint8_t block[3000];
	size_t done = 0, n = 1;

	while (done < w->total) {
		n = (n * 37 + 11) % sizeof(block) + 1;
		if (n > w->total - done)
			n = w->total - done;
		for (size_t i = 0; i < n; i++)
			block[i] = pattern(done + i);
		assert_int_equal(byte_pipe_write(w->p, block, n), 0);
		done += n;
	}
	byte_pipe_close(w->p, w->close_error);
	return NULL;
}

static void test_byte_pipe(void **state)
{
	byte_pipe *p = byte_pipe_new(1000); /* small: every block wraps around the ring */
	pipe_writer w = { .p = p, .total = 1 << 20 };
	pthread_t t;
	size_t got = 0;
	ssize_t n;

	(void)state;
	assert_non_null(p);
	assert_int_equal(pthread_create(&t, NULL, pipe_writer_run, &w), 0);
	for (;;) {
		const void *buf;
		n = byte_pipe_read(p, &buf);
		assert_true(n >= 0);
		if (n == 0)
			break;
		assert_true(n <= 1000);
		for (ssize_t i = 0; i < n; i++)
			if (((const uint8_t *)buf)[i] != pattern(got + (size_t)i))
				fail_msg("byte %zu differs", got + (size_t)i);
		got += (size_t)n;
	}
	assert_int_equal(got, w.total);
	assert_int_equal(byte_pipe_read(p, &(const void *){ NULL }), 0);
	pthread_join(t, NULL);
	byte_pipe_free(p);
}

/* The writer's failure reaches the reader; a reader that is done drops
 * what is written, without blocking the writer. */
static void test_byte_pipe_ends(void **state)
{
	byte_pipe *p = byte_pipe_new(1000);
	pipe_writer w = { .p = p, .total = 100, .close_error = EIO };
	const void *buf;
	pthread_t t;

	(void)state;
	assert_non_null(p);
	assert_int_equal(pthread_create(&t, NULL, pipe_writer_run, &w), 0);
	pthread_join(t, NULL);
	assert_int_equal(byte_pipe_read(p, &buf), -EIO);
	byte_pipe_free(p);

	p = byte_pipe_new(1000);
	assert_non_null(p);
	byte_pipe_reader_done(p);
	w = (pipe_writer){ .p = p, .total = 1 << 20 }; /* 1000 times the ring: it would block */
	assert_int_equal(pthread_create(&t, NULL, pipe_writer_run, &w), 0);
	pthread_join(t, NULL);
	byte_pipe_free(p);
}

/* A leading "/" does not open a way out: ".." after it is refused. */
static void test_refuse_absolute_dotdot(void **state)
{
	fixture *f = *state;
	const tent up[] = { { .name = "/../escape", .mode = AE_IFREG | 0644, .data = "x" } };
	const tent inner[] = {
		{ .name = "/a/", .mode = AE_IFDIR | 0755 },
		{ .name = "/a/../../x", .mode = AE_IFREG | 0644, .data = "x" },
	};
	const tent link[] = { { .name = "/h", .mode = AE_IFREG | 0644, .hardlink = "/../../outside" } };

	unpack_refused(f, up, 1, "layer entry \"/../escape\": path leaves the layer");
	new_dest(f);
	unpack_refused(f, inner, 2, "layer entry \"/a/../../x\": path leaves the layer");
	new_dest(f);
	unpack_refused(f, link, 1, "layer entry \"/h\": hardlink target \"/../../outside\": path leaves the layer");
	check_jail(f, 0, 3);
}

/* "/link -> /" then "/link/tmp/x": the symlink is not followed, whether the
 * names are written absolute or not. */
static void test_refuse_absolute_write_through_symlink(void **state)
{
	fixture *f = *state;
	char name[64], host[64];
	const tent entries[] = {
		{ .name = "/root", .mode = AE_IFLNK | 0777, .symlink = "/" },
		{ .name = name, .mode = AE_IFREG | 0644, .data = "pwned" },
	};

	snprintf(name, sizeof(name), "/root/tmp/berth-unpack-pwned-%d", (int)getpid());
	snprintf(host, sizeof(host), "/tmp/berth-unpack-pwned-%d", (int)getpid());
	unpack_refused(f, entries, 2, "path goes through a symlink");
	assert_int_equal(access(host, F_OK), -1);
	check_jail(f, 0, 1);
}

static void test_refuse_inner_dotdot(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "a/", .mode = AE_IFDIR | 0755 },
		{ .name = "a/../../x", .mode = AE_IFREG | 0644, .data = "x" },
	};

	unpack_refused(f, entries, 2, "layer entry \"a/../../x\": path leaves the layer");
	check_jail(f, 0, 1);
}

static void test_refuse_write_through_symlink(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "link", .mode = AE_IFLNK | 0777, .symlink = "../../.." },
		{ .name = "link/pwned", .mode = AE_IFREG | 0644, .data = "pwned" },
	};

	unpack_refused(f, entries, 2, "layer entry \"link/pwned\": path goes through a symlink");
	check_jail(f, 0, 1);
}

static void test_refuse_write_through_root_symlink(void **state)
{
	fixture *f = *state;
	char name[64], host[64];
	const tent entries[] = {
		{ .name = "root", .mode = AE_IFLNK | 0777, .symlink = "/" },
		{ .name = name, .mode = AE_IFREG | 0644, .data = "pwned" },
	};

	snprintf(name, sizeof(name), "root/tmp/berth-unpack-pwned-%d", (int)getpid());
	snprintf(host, sizeof(host), "/tmp/berth-unpack-pwned-%d", (int)getpid());
	unpack_refused(f, entries, 2, "path goes through a symlink");
	assert_int_equal(access(host, F_OK), -1);
	check_jail(f, 0, 1);
}

/* Whiteouts delete and opaque markers set xattrs: neither through a link. */
static void test_refuse_whiteout_through_symlink(void **state)
{
	fixture *f = *state;
	const tent whiteout[] = {
		{ .name = "up", .mode = AE_IFLNK | 0777, .symlink = "../../.." },
		{ .name = "up/.wh.canary", .mode = AE_IFREG | 0600 },
	};
	const tent opaque[] = {
		{ .name = "up", .mode = AE_IFLNK | 0777, .symlink = "../../.." },
		{ .name = "up/.wh..wh..opq", .mode = AE_IFREG | 0600 },
	};

	unpack_refused(f, whiteout, 2, "layer entry \"up/.wh.canary\": path goes through a symlink");
	new_dest(f);
	unpack_refused(f, opaque, 2, "layer entry \"up/.wh..wh..opq\": path goes through a symlink");
	assert_int_equal(lgetxattr(f->jail, "trusted.overlay.opaque", NULL, 0), -1);
	check_jail(f, 0, 2);
}

static void test_refuse_parent_not_dir(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "f", .mode = AE_IFREG | 0644, .data = "file" },
		{ .name = "f/x", .mode = AE_IFREG | 0644, .data = "x" },
	};

	unpack_refused(f, entries, 2, "layer entry \"f/x\": a parent is not a directory");
	check_jail(f, 0, 1);
}

static void test_refuse_hardlink_dotdot(void **state)
{
	fixture *f = *state;
	const tent entries[] = { { .name = "h", .mode = AE_IFREG | 0644, .hardlink = "../../outside" } };
	char outside[160];
	struct stat st;
	int fd;

	/* a real target where "../../outside" would lead */
	snprintf(outside, sizeof(outside), "%s/d1/outside", f->jail);
	fd = open(outside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	unpack_refused(f, entries, 1, "layer entry \"h\": hardlink target \"../../outside\": path leaves the layer");
	assert_int_equal(stat(outside, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_false(exists_in(f, "h"));
	check_jail(f, 1, 1);
}

static void test_refuse_hardlink_absolute(void **state)
{
	fixture *f = *state;
	const tent entries[] = { { .name = "etc/shadow", .mode = AE_IFREG | 0644, .hardlink = "/etc/passwd" } };
	struct stat before, after;

	assert_int_equal(stat("/etc/passwd", &before), 0);
	/* "/etc/passwd" is the layer's, which it does not have: never the host's */
	unpack_refused(f, entries, 1, "hardlink target \"/etc/passwd\" is not in the layer (yet)");
	assert_int_equal(stat("/etc/passwd", &after), 0);
	assert_int_equal(after.st_nlink, before.st_nlink);
	assert_false(exists_in(f, "etc/shadow"));
	check_jail(f, 0, 1);
}

static void test_refuse_hardlink_through_symlink(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "up", .mode = AE_IFLNK | 0777, .symlink = "../../.." },
		{ .name = "h", .mode = AE_IFREG | 0644, .hardlink = "up/canary" },
	};

	unpack_refused(f, entries, 2, "hardlink target \"up/canary\": path goes through a symlink");
	check_jail(f, 0, 1);
}

static void test_refuse_hardlink_forward(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "first", .mode = AE_IFREG | 0644, .hardlink = "later" },
		{ .name = "later", .mode = AE_IFREG | 0644, .data = "x" },
	};

	unpack_refused(f, entries, 2, "layer entry \"first\": hardlink target \"later\" is not in the layer (yet)");
	check_jail(f, 0, 1);
}

static void test_refuse_whiteout_dotdot(void **state)
{
	fixture *f = *state;
	const tent entries[] = { { .name = "a/.wh..", .mode = AE_IFREG | 0644 } };

	unpack_refused(f, entries, 1, "layer entry \"a/.wh..\": invalid whiteout");
	check_jail(f, 0, 1);
}

/* A ustar header block for NAME of TYPE and SIZE, with its checksum. */
static void ustar_header(buffer *out, const char *name, char type, size_t size)
{
	unsigned char h[512] = { 0 };
	unsigned sum = 0;

	memcpy(h, name, strlen(name));
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 108, "0000000", 7);
	memcpy(h + 116, "0000000", 7);
	snprintf((char *)h + 124, 12, "%011zo", size);
	memcpy(h + 136, "13000000000", 11);
	memset(h + 148, ' ', 8);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	buffer_append(out, h, sizeof(h));
}

/* libarchive's writer cannot put a NUL in a name, so this tar is made by
 * hand: a pax "path" record "ok<NUL>/../../x" for a regular file. */
static void test_embedded_nul(void **state)
{
	fixture *f = *state;
	static const char body[] = "path=ok\0/../../x\n";
	static const char zeros[1024];
	_cleanup_error_ berth_error *err = NULL;
	char record[64];
	buffer tar = { 0 };
	unpack_result res;
	size_t len;

	len = (size_t)snprintf(record, sizeof(record), "%zu ", sizeof(body) - 1 + 3);
	memcpy(record + len, body, sizeof(body) - 1);
	len += sizeof(body) - 1;
	assert_int_equal(len, sizeof(body) - 1 + 3);
	ustar_header(&tar, "PaxHeaders/placeholder", 'x', len);
	buffer_append(&tar, record, len);
	buffer_append(&tar, zeros, 512 - len);
	ustar_header(&tar, "placeholder", '0', 0);
	buffer_append(&tar, zeros, sizeof(zeros));

	/* Refused, or (libarchive 3.6 ends the pax value at the NUL) unpacked
	 * as "ok": never anything outside. */
	if (unpack_blob(f, &tar, NULL, &res, &err) == 0) {
		assert_int_equal(count_entries(f->dest), 1);
		assert_file(f, "ok", "");
	}
	assert_false(exists_in(f, "placeholder"));
	check_jail(f, 0, 1);
	free(tar.data);
}

/* 64 MiB of zeros gzip to ~64 KiB: the limit stops it after 1 MiB. */
static void test_refuse_decompression_bomb(void **state)
{
	fixture *f = *state;
	const tent entries[] = { { .name = "bomb", .mode = AE_IFREG | 0644, .zeros = 64 << 20 } };
	const unpack_options opts = { .max_size = 1 << 20 };
	_cleanup_error_ berth_error *err = NULL;
	buffer tar = build_tar(entries, 1), blob = compress(&tar, GZIP);
	unpack_result res;
	struct stat st;

	free(tar.data);
	assert_true(blob.len < (1 << 20));
	assert_true(unpack_blob(f, &blob, &opts, &res, &err) < 0);
	assert_string_equal(err->msg, "layer exceeds the limit of 1048576 bytes uncompressed");
	assert_int_equal(err->code, EFBIG);
	if (exists_in(f, "bomb")) {
		stat_in(f, "bomb", &st);
		assert_true(st.st_size <= (1 << 20));
	}
	check_jail(f, 0, 1);
	free(blob.data);
}

/* The limit is on the whole uncompressed stream, end blocks included. */
static void test_limit_exact(void **state)
{
	fixture *f = *state;
	const tent entries[] = { { .name = "f", .mode = AE_IFREG | 0644, .data = "data" } };
	buffer tar = build_tar(entries, 1);
	unpack_options opts = { .max_size = tar.len };
	unpack_result res;

	{
		_cleanup_error_ berth_error *err = NULL;
		if (unpack_blob(f, &tar, &opts, &res, &err) < 0)
			fail_msg("unpack at the limit failed: %s", err->msg);
		assert_int_equal(res.size, tar.len);
	}
	{
		_cleanup_error_ berth_error *err = NULL;
		new_dest(f);
		opts.max_size = tar.len - 1;
		assert_true(unpack_blob(f, &tar, &opts, &res, &err) < 0);
		assert_non_null(strstr(err->msg, "exceeds the limit"));
	}
	free(tar.data);
}

/* Unprivileged (uid 65534, no capabilities): ownership goes to the
 * user.berth.owner xattr, devices are skipped, whiteouts still work
 * (Linux >= 5.8) and opaque dirs use user.overlay.opaque. */
static void test_rootless(void **state)
{
	fixture *f = *state;
	const tent entries[] = {
		{ .name = "etc/", .mode = AE_IFDIR | 0555 },
		{ .name = "etc/passwd", .mode = AE_IFREG | 0644, .data = "root", .uid = 0, .gid = 42 },
		{ .name = "mine", .mode = AE_IFREG | 0600, .data = "mine", .uid = 65534, .gid = 65534 },
		{ .name = "dev/null", .mode = AE_IFCHR | 0666, .rdev = makedev(1, 3) },
		{ .name = "fifo", .mode = AE_IFIFO | 0644, .uid = 65534, .gid = 65534 },
		{ .name = ".wh.gone", .mode = AE_IFREG | 0600 },
		{ .name = "etc/.wh..wh..opq", .mode = AE_IFREG | 0600 },
		{ .name = "bin/sh", .mode = AE_IFLNK | 0777, .symlink = "busybox" },
	};
	const unpack_options opts = { .rootless = true, .userxattr = true };
	buffer tar = build_tar(entries, sizeof(entries) / sizeof(entries[0]));
	struct stat st;
	int status;
	pid_t pid;

	assert_int_equal(fchown(f->destfd, 65534, 65534), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		_cleanup_error_ berth_error *err = NULL;
		unpack_result res;

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		prctl(PR_SET_DUMPABLE, 1); /* keep /proc/self/fd ours after setuid */
		if (unpack_blob(f, &tar, &opts, &res, &err) < 0) {
			fprintf(stderr, "rootless unpack: %s\n", err->msg);
			_exit(1);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	stat_in(f, "etc/passwd", &st);
	assert_int_equal(st.st_uid, 65534);
	assert_xattr(f, "etc/passwd", "user.berth.owner", "0:42");
	assert_xattr(f, "mine", "user.berth.owner", "");
	assert_false(exists_in(f, "dev/null"));
	stat_in(f, "fifo", &st);
	assert_true(S_ISFIFO(st.st_mode));
	assert_whiteout(f, "gone");
	assert_xattr(f, "etc", "user.overlay.opaque", "y");
	stat_in(f, "etc", &st);
	assert_int_equal(st.st_mode & 07777, 0555);
	stat_in(f, "bin/sh", &st);
	assert_true(S_ISLNK(st.st_mode));
	check_jail(f, 0, 1);
	free(tar.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_types_and_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compressions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_layer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_tar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whiteouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_opaque_userxattr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserved_xattrs_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated_entries_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_dotdot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absolute_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_absolute_dotdot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_final_padding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpack_from_source, setup, teardown),
		cmocka_unit_test(test_byte_pipe),
		cmocka_unit_test(test_byte_pipe_ends),
		cmocka_unit_test_setup_teardown(test_refuse_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_absolute_write_through_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_inner_dotdot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_write_through_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_write_through_root_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_whiteout_through_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_parent_not_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_hardlink_dotdot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_hardlink_absolute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_hardlink_through_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_hardlink_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_whiteout_dotdot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_embedded_nul, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_decompression_bomb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rootless, setup, teardown),
	};

	if (geteuid() != 0) {
		/* chown to other ids, device nodes and trusted.* xattrs */
		fprintf(stderr, "test_unpack: needs root, skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
