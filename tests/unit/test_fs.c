/* util/fs: paths inside a root. Symlinks in the root are followed inside it
 * (absolute ones from the root, ".." never above it), dangling ones get
 * their target created inside it, and nothing outside the root is touched. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/cleanup.h"
#include "util/fs.h"

typedef struct fixture {
	char dir[64];	/* the temporary directory */
	char root[128]; /* DIR/root */
	int rootfd;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/berth-test-fs.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
	if (mkdir(f->root, 0755) < 0)
		return -1;
	f->rootfd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	*state = f;
	return f->rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	fs_remove_tree(f->dir, NULL);
	close(f->rootfd);
	free(f);
	return 0;
}

/* The path of FD relative to the fixture's root ("/..."). */
static void assert_fd_at(const fixture *f, int fd, const char *want)
{
	char link[32], path[PATH_MAX];
	ssize_t n = readlink(fs_proc_fd_path(fd, link), path, sizeof(path) - 1);
	size_t len = strlen(f->root);

	assert_true(n > 0);
	path[n] = '\0';
	if (strncmp(path, f->root, len) != 0)
		fail_msg("fd %d is at \"%s\", outside the root \"%s\"", fd, path, f->root);
	assert_string_equal(path[len] ? path + len : "/", want);
}

static void in_root(const fixture *f, const char *rel, char *out)
{
	snprintf(out, PATH_MAX, "%s/%s", f->root, rel);
}

static void test_resolve_mountpoint_follows_symlinks_inside(void **state)
{
	fixture *f = *state;
	char p[PATH_MAX], outside[PATH_MAX];
	_cleanup_error_ berth_error *err = NULL;
	bool written = true;
	int fd;

	/* an absolute link to a directory of the host: the root's is used */
	snprintf(outside, sizeof(outside), "%s/host-only", f->dir);
	in_root(f, "abs", p);
	assert_int_equal(symlink(outside, p), 0);
	fd = fs_resolve_mountpoint_in_root(f->rootfd, "/abs", true, &written, &err);
	assert_true(fd >= 0);
	assert_fd_at(f, fd, outside);
	assert_false(written);
	close(fd);
	assert_int_equal(access(outside, F_OK), -1);

	/* a relative link that climbs: stops at the root */
	in_root(f, "etc", p);
	assert_int_equal(mkdir(p, 0755), 0);
	in_root(f, "etc/up", p);
	assert_int_equal(symlink("../../../../../../up-target", p), 0);
	fd = fs_resolve_mountpoint_in_root(f->rootfd, "/etc/up", false, &written, &err);
	assert_true(fd >= 0);
	assert_fd_at(f, fd, "/up-target");
	close(fd);
	in_root(f, "up-target", p);
	{
		struct stat st;
		assert_int_equal(stat(p, &st), 0);
		assert_true(S_ISREG(st.st_mode));
	}

	/* a chain: link -> link -> missing dir in a missing parent */
	in_root(f, "a", p);
	assert_int_equal(symlink("b", p), 0);
	in_root(f, "b", p);
	assert_int_equal(symlink("/c/d", p), 0);
	fd = fs_resolve_mountpoint_in_root(f->rootfd, "/a", true, &written, &err);
	assert_true(fd >= 0);
	assert_fd_at(f, fd, "/c/d");
	close(fd);

	/* a loop ends with ELOOP */
	in_root(f, "loop1", p);
	assert_int_equal(symlink("loop2", p), 0);
	in_root(f, "loop2", p);
	assert_int_equal(symlink("/loop1", p), 0);
	assert_true(fs_resolve_mountpoint_in_root(f->rootfd, "/loop1", true, &written, &err) < 0);
	assert_non_null(strstr(err->msg, "too many symlinks"));
}

/* The caller takes the path as written only when no symlink was followed:
 * an existing target reached directly, not one behind a linked parent. */
static void test_resolve_mountpoint_says_when_no_symlink_was_followed(void **state)
{
	fixture *f = *state;
	char p[PATH_MAX];
	_cleanup_error_ berth_error *err = NULL;
	bool written = false;
	int fd;

	in_root(f, "srv", p);
	assert_int_equal(mkdir(p, 0755), 0);
	in_root(f, "srv/data", p);
	assert_int_equal(mkdir(p, 0755), 0);
	fd = fs_resolve_mountpoint_in_root(f->rootfd, "/srv/data", true, &written, &err);
	assert_true(fd >= 0);
	assert_true(written);
	assert_fd_at(f, fd, "/srv/data");
	close(fd);

	/* made here, in a parent made here too */
	fd = fs_resolve_mountpoint_in_root(f->rootfd, "/srv/new/dir", true, &written, &err);
	assert_true(fd >= 0);
	assert_true(written);
	assert_fd_at(f, fd, "/srv/new/dir");
	close(fd);

	/* a symlink as the last component, to a missing target */
	in_root(f, "dangling", p);
	assert_int_equal(symlink("/srv/made", p), 0);
	fd = fs_resolve_mountpoint_in_root(f->rootfd, "/dangling", true, &written, &err);
	assert_true(fd >= 0);
	assert_false(written);
	assert_fd_at(f, fd, "/srv/made");
	close(fd);

	/* a symlinked parent: the same directory, but not as written */
	in_root(f, "link", p);
	assert_int_equal(symlink("srv", p), 0);
	fd = fs_resolve_mountpoint_in_root(f->rootfd, "/link/data", true, &written, &err);
	assert_true(fd >= 0);
	assert_false(written);
	assert_fd_at(f, fd, "/srv/data");
	close(fd);
}

static void test_ensure_mountpoint_refuses_symlinks(void **state)
{
	fixture *f = *state;
	char p[PATH_MAX];
	_cleanup_error_ berth_error *err = NULL;

	in_root(f, "console", p);
	assert_int_equal(symlink("/etc/shadow", p), 0);
	assert_true(fs_ensure_mountpoint_in_root(f->rootfd, "/console", false, &err) < 0);
	assert_non_null(strstr(err->msg, "is a symlink"));
	in_root(f, "etc", p);
	assert_int_equal(access(p, F_OK), -1);
}

static void test_mkdir_p_creates_dangling_targets_inside(void **state)
{
	fixture *f = *state;
	char p[PATH_MAX], outside[PATH_MAX];
	_cleanup_error_ berth_error *err = NULL;
	int fd;

	snprintf(outside, sizeof(outside), "%s/host-dir", f->dir);
	in_root(f, "work", p);
	assert_int_equal(symlink(outside, p), 0);
	fd = fs_mkdir_p_in_root(f->rootfd, "/work/x/y", 0755, &err);
	assert_true(fd >= 0);
	assert_fd_at(f, fd, strcat(outside, "/x/y"));
	close(fd);
	snprintf(outside, sizeof(outside), "%s/host-dir", f->dir);
	assert_int_equal(access(outside, F_OK), -1);

	in_root(f, "rel", p);
	assert_int_equal(symlink("../../../var/lib", p), 0);
	fd = fs_mkdir_p_in_root(f->rootfd, "/rel/app", 0755, &err);
	assert_true(fd >= 0);
	assert_fd_at(f, fd, "/var/lib/app");
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolve_mountpoint_follows_symlinks_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_mountpoint_says_when_no_symlink_was_followed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ensure_mountpoint_refuses_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_p_creates_dangling_targets_inside, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
