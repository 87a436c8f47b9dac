/* Unit tests of berth build's context handling and layer writer: ignore
 * files (Docker's pattern rules), source globs, path cleaning, content
 * digests that ignore mtimes, and layers from an overlay upper dir
 * (whiteouts, opaque dirs, hard links, sorted entries). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "build/context.h"
#include "build/layer.h"
#include "build/strv.h"
#include "image/store.h"
#include "util/cleanup.h"
#include "util/fs.h"

static char *tmp_dir(void)
{
	char *dir = strdup("/tmp/test_build_context.XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void rm_tree(const char *dir)
{
	berth_error *err = NULL;

	if (fs_remove_tree(dir, &err) < 0)
		berth_error_free(&err);
}

static void put(const char *dir, const char *rel, const char *content)
{
	_cleanup_free_ char *path = fs_path_join(dir, rel);
	_cleanup_free_ char *parent = strdup(path);
	berth_error *err = NULL;
	FILE *f;

	*strrchr(parent, '/') = '\0';
	assert_int_equal(fs_mkdir_p(parent, 0755, &err), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static build_ignore *ignore(const char *text)
{
	build_ignore *ig = NULL;
	berth_error *err = NULL;

	if (build_ignore_parse(text, &ig, &err) < 0)
		fail_msg("%s", err->msg);
	return ig;
}

static void test_ignore_patterns(void **state)
{
	build_ignore *ig = ignore("# comment\n\n*.log\n/build\nsecret\n!secret/keep\n**/*.o\ndocs/**/draft*\n?.tmp\n");

	assert_true(build_ignore_match(ig, "debug.log"));
	assert_false(build_ignore_match(ig, "sub/debug.log")); /* '*' stays within one component */
	assert_true(build_ignore_match(ig, "build"));
	assert_true(build_ignore_match(ig, "build/out/x")); /* a parent matches */
	assert_true(build_ignore_match(ig, "secret/key"));
	assert_false(build_ignore_match(ig, "secret/keep"));
	assert_true(build_ignore_match(ig, "a.o"));
	assert_true(build_ignore_match(ig, "src/deep/a.o"));
	assert_true(build_ignore_match(ig, "docs/draft1"));
	assert_true(build_ignore_match(ig, "docs/a/b/draft2"));
	assert_false(build_ignore_match(ig, "docs/final"));
	assert_true(build_ignore_match(ig, "x.tmp"));
	assert_false(build_ignore_match(ig, "xy.tmp"));
	assert_false(build_ignore_match(ig, "src/main.c"));
	assert_false(build_ignore_match(NULL, "anything"));
	build_ignore_free(ig);
	/* the last matching pattern decides */
	ig = ignore("!a.txt\n*.txt\n");
	assert_true(build_ignore_match(ig, "a.txt"));
	build_ignore_free(ig);
	ig = ignore("*\n!src\n");
	assert_false(build_ignore_match(ig, "src/x"));
	assert_true(build_ignore_match(ig, "other"));
	build_ignore_free(ig);
	(void)state;
}

static void test_clean_path(void **state)
{
	struct {
		const char *in, *out;
	} cases[] = { { "/a/b", "a/b" }, { "./a//b/", "a/b" }, { "a/../b", "b" }, { ".", "" },
		      { "/", "" },	 { "a/./b/..", "a" },  { "..", NULL },	  { "a/../../x", NULL } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *got = build_clean_path(cases[i].in);
		if (cases[i].out == NULL)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].out);
	}
	(void)state;
}

static void test_glob(void **state)
{
	_cleanup_free_ char *dir = tmp_dir();
	_cleanup_close_ int fd = -EBADF;
	build_ignore *ig = ignore("src/skip.c\n");
	berth_error *err = NULL;
	char **m = NULL;

	put(dir, "src/a.c", "a");
	put(dir, "src/b.c", "b");
	put(dir, "src/skip.c", "s");
	put(dir, "src/c.h", "c");
	put(dir, "lib/x/y.c", "y");
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(build_glob(fd, "src/*.c", ig, &m, &err), 0);
	assert_int_equal(build_strv_len(m), 2);
	assert_string_equal(m[0], "src/a.c");
	assert_string_equal(m[1], "src/b.c");
	strv_free(m);
	assert_int_equal(build_glob(fd, "/*/?/y.[abc]", NULL, &m, &err), 0);
	assert_int_equal(build_strv_len(m), 1);
	assert_string_equal(m[0], "lib/x/y.c");
	strv_free(m);
	assert_int_equal(build_glob(fd, ".", NULL, &m, &err), 0);
	assert_string_equal(m[0], ".");
	strv_free(m);
	assert_true(build_glob(fd, "src/*.go", NULL, &m, &err) < 0);
	assert_non_null(strstr(err->msg, "\"src/*.go\": no such file or directory"));
	berth_error_free(&err);
	assert_true(build_glob(fd, "src/skip.c", ig, &m, &err) < 0); /* excluded: not in the context */
	berth_error_free(&err);
	assert_true(build_glob(fd, "../etc/passwd", NULL, &m, &err) < 0);
	assert_non_null(strstr(err->msg, "outside the build context"));
	berth_error_free(&err);
	build_ignore_free(ig);
	rm_tree(dir);
	(void)state;
}

static void hash_of(int fd, const char *path, char out[DIGEST_STRING_MAX])
{
	berth_error *err = NULL;
	digester d;

	digester_init(&d);
	if (build_hash_tree(fd, path, NULL, &d, &err) < 0)
		fail_msg("%s", err->msg);
	digester_final(&d, out);
}

static void test_hash_ignores_mtime(void **state)
{
	_cleanup_free_ char *dir = tmp_dir(), *file = NULL;
	_cleanup_close_ int fd = -EBADF;
	char h1[DIGEST_STRING_MAX], h2[DIGEST_STRING_MAX], h3[DIGEST_STRING_MAX], h4[DIGEST_STRING_MAX];
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	put(dir, "t/a", "one");
	put(dir, "t/sub/b", "two");
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	hash_of(fd, "t", h1);
	file = fs_path_join(dir, "t/a");
	assert_int_equal(utimensat(AT_FDCWD, file, old, 0), 0);
	hash_of(fd, "t", h2);
	assert_string_equal(h1, h2);
	put(dir, "t/a", "ONE");
	hash_of(fd, "t", h3);
	assert_string_not_equal(h1, h3);
	put(dir, "t/a", "one");
	chmod(file, 0600);
	hash_of(fd, "t", h4);
	assert_string_not_equal(h1, h4); /* the mode counts */
	rm_tree(dir);
	(void)state;
}

/* ---- layers ---- */

typedef struct entry {
	char path[256];
	mode_t type;
	char link[256];
	char hardlink[256];
	int64_t size;
} entry;

/* Reads blob DIGEST of S (a gzip tar) into ENTRIES; returns the count. */
static size_t read_layer(store *s, const char *digest, entry *entries, size_t max)
{
	berth_error *err = NULL;
	int fd = store_blob_open(s, digest, &err);
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	size_t n = 0;

	assert_true(fd >= 0);
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_fd(a, fd, 65536), ARCHIVE_OK);
	while (n < max && archive_read_next_header(a, &e) == ARCHIVE_OK) {
		snprintf(entries[n].path, sizeof(entries[n].path), "%s", archive_entry_pathname(e));
		entries[n].type = archive_entry_filetype(e);
		snprintf(entries[n].link, sizeof(entries[n].link), "%s", archive_entry_symlink(e) ?: "");
		snprintf(entries[n].hardlink, sizeof(entries[n].hardlink), "%s", archive_entry_hardlink(e) ?: "");
		entries[n].size = archive_entry_size(e);
		n++;
	}
	archive_read_free(a);
	close(fd);
	return n;
}

static void test_layer_from_upper(void **state)
{
	_cleanup_free_ char *dir = tmp_dir(), *upper = NULL, *root = NULL, *p = NULL;
	_cleanup_close_ int fd = -EBADF;
	berth_error *err = NULL;
	build_layer layer;
	entry e[32];
	store *s = NULL;
	size_t n;

	upper = fs_path_join(dir, "upper");
	root = fs_path_join(dir, "store");
	put(dir, "upper/b/file", "hello");
	put(dir, "upper/a", "x");
	put(dir, "upper/opq/new", "n");
	p = fs_path_join(dir, "upper/b/hard");
	{
		_cleanup_free_ char *target = fs_path_join(dir, "upper/b/file");
		assert_int_equal(link(target, p), 0);
	}
	free(p);
	p = fs_path_join(dir, "upper/link");
	assert_int_equal(symlink("b/file", p), 0);
	free(p);
	p = fs_path_join(dir, "upper/b/gone");
	if (mknod(p, S_IFCHR | 0, makedev(0, 0)) < 0)
		skip(); /* whiteouts need CAP_MKNOD (or Linux 5.8+ unprivileged) */
	free(p);
	p = fs_path_join(dir, "upper/opq");
	assert_int_equal(setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
	assert_int_equal(store_open(root, &s, &err), 0);
	fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (build_layer_write(s, fd, false, -1, &layer, &err) < 0)
		fail_msg("%s", err->msg);
	assert_true(store_blob_exists(s, layer.digest));
	assert_string_not_equal(layer.digest, layer.diff_id);
	n = read_layer(s, layer.digest, e, 32);
	/* name order; whiteouts and the opaque marker in OCI form */
	const char *want[] = { "a",    "b/",   "b/file",	   "b/.wh.gone", "b/hard",
			       "link", "opq/", "opq/.wh..wh..opq", "opq/new" };
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		/* libarchive may or may not show a directory's trailing '/' */
		if (strcmp(e[i].path, want[i]) != 0 &&
		    !(want[i][strlen(want[i]) - 1] == '/' && strncmp(e[i].path, want[i], strlen(want[i]) - 1) == 0))
			fail_msg("entry %zu: \"%s\", expected \"%s\"", i, e[i].path, want[i]);
	}
	assert_int_equal(e[3].type, AE_IFREG);
	assert_int_equal(e[3].size, 0);
	assert_string_equal(e[4].hardlink, "b/file");
	assert_string_equal(e[5].link, "b/file");
	/* the same tree gives the same layer (no timestamps in the gzip header) */
	{
		build_layer again;
		assert_int_equal(build_layer_write(s, fd, false, -1, &again, &err), 0);
		assert_string_equal(again.digest, layer.digest);
	}
	/* SOURCE_DATE_EPOCH: every mtime capped, so a touched tree gives the same layer */
	{
		build_layer a, b;
		_cleanup_free_ char *f = fs_path_join(dir, "upper/a");
		assert_int_equal(build_layer_write(s, fd, false, 1000, &a, &err), 0);
		assert_int_equal(utimensat(AT_FDCWD, f, NULL, 0), 0);
		assert_int_equal(build_layer_write(s, fd, false, 1000, &b, &err), 0);
		assert_string_equal(a.digest, b.digest);
		assert_string_not_equal(a.digest, layer.digest);
	}
	store_close(s);
	rm_tree(dir);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ignore_patterns),
		cmocka_unit_test(test_clean_path),
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_hash_ignores_mtime),
		cmocka_unit_test(test_layer_from_upper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
