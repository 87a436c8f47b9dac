/* storage/volume: names, create/inspect/list/rm/prune on a scratch store,
 * the in-use check through container records, and filling a new volume
 * from an image rootfs (metadata kept, symlinks never followed). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/volume.h"
#include "util/cleanup.h"
#include "util/fs.h"

static char *scratch(void)
{
	char tmpl[] = "/tmp/berth-test-volume.XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	return strdup(dir);
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	_cleanup_free_ char *path = fs_path_join(dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static char *read_text(const char *dir, const char *name)
{
	_cleanup_free_ char *path = fs_path_join(dir, name);
	char *out = NULL;
	size_t len;
	berth_error *err = NULL;
	if (fs_read_file(path, &out, &len, &err) < 0) {
		berth_error_free(&err);
		return NULL;
	}
	return out;
}

/* A container record that mounts VOLUME (the field volume_in_use reads). */
static void fake_container(const char *store, const char *id, const char *volume)
{
	_cleanup_free_ char *dir = NULL, *text = NULL;
	berth_error *err = NULL;
	assert_true(asprintf(&dir, "%s/containers/%s", store, id) > 0);
	assert_int_equal(fs_mkdir_p(dir, 0700, &err), 0);
	assert_true(asprintf(&text,
			     "{\"Id\": \"%s\", \"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/x\", \"Destination\": "
			     "\"/x\"}, {\"Type\": \"volume\", \"Name\": \"%s\", \"Destination\": \"/data\"}]}",
			     id, volume) > 0);
	write_file(dir, "config.json", text, 0600);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(volume_name_valid("a"));
	assert_true(volume_name_valid("data_1.backup-x"));
	assert_true(volume_name_valid("0abc"));
	assert_false(volume_name_valid(""));
	assert_false(volume_name_valid(NULL));
	assert_false(volume_name_valid("_x"));
	assert_false(volume_name_valid(".x"));
	assert_false(volume_name_valid("-x"));
	assert_false(volume_name_valid("a/b"));
	assert_false(volume_name_valid(".."));
	assert_false(volume_name_valid("a b"));
	assert_false(volume_name_valid("a:b"));
	char long_name[300];
	memset(long_name, 'a', sizeof(long_name));
	long_name[255] = '\0';
	assert_true(volume_name_valid(long_name));
	long_name[255] = 'a';
	long_name[256] = '\0';
	assert_false(volume_name_valid(long_name));
}

static void test_create_inspect_list_remove(void **state)
{
	_cleanup_free_ char *store = scratch();
	const char *labels[] = { "a=1", "empty", NULL };
	const char *bad_labels[] = { "=x", NULL };
	volume_info info = { 0 }, again = { 0 }, anon = { 0 };
	volume_info *list = NULL;
	size_t n = 0;
	berth_error *err = NULL;
	struct stat st;
	(void)state;

	/* nothing yet: an empty list, not an error */
	assert_int_equal(volume_list(store, &list, &n, &err), 0);
	assert_int_equal(n, 0);
	volume_list_free(list, n);

	assert_int_equal(volume_create(store, "v1", labels, false, &info, &err), 0);
	assert_string_equal(info.name, "v1");
	assert_string_equal(info.driver, "local");
	assert_string_equal(json_string_value(json_object_get(info.labels, "a")), "1");
	assert_string_equal(json_string_value(json_object_get(info.labels, "empty")), "");
	assert_false(info.anonymous);
	assert_false(info.populated);
	assert_int_equal(stat(info.mountpoint, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(strlen(info.created), 20); /* 2024-01-02T03:04:05Z */

	/* twice: the same volume, labels unchanged; exclusive: EEXIST */
	assert_int_equal(volume_create(store, "v1", NULL, false, &again, &err), 0);
	assert_string_equal(json_string_value(json_object_get(again.labels, "a")), "1");
	volume_info_free(&again);
	assert_int_equal(volume_create(store, "v1", NULL, true, NULL, &err), -EEXIST);
	berth_error_free(&err);

	assert_int_equal(volume_create(store, "bad/name", NULL, false, NULL, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "invalid volume name \"bad/name\""));
	berth_error_free(&err);
	assert_int_equal(volume_create(store, "v2", bad_labels, false, NULL, &err), -EINVAL);
	berth_error_free(&err);

	assert_int_equal(volume_create(store, NULL, NULL, false, &anon, &err), 0);
	assert_int_equal(strlen(anon.name), 64);
	assert_int_equal(strspn(anon.name, "0123456789abcdef"), 64);
	assert_true(anon.anonymous);

	assert_int_equal(volume_inspect(store, "v1", &again, &err), 0);
	assert_string_equal(again.mountpoint, info.mountpoint);
	volume_info_free(&again);
	assert_int_equal(volume_inspect(store, "nope", &again, &err), -ENOENT);
	assert_string_equal(err->msg, "no such volume: nope");
	assert_int_equal(err->code, ENOENT);
	berth_error_free(&err);

	assert_int_equal(volume_list(store, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	volume_list_free(list, n);

	assert_int_equal(volume_remove(store, "v1", false, &err), 0);
	assert_int_equal(stat(info.mountpoint, &st), -1);
	assert_int_equal(volume_remove(store, "v1", false, &err), -ENOENT);
	berth_error_free(&err);
	assert_int_equal(volume_remove(store, "v1", true, &err), 0);
	assert_int_equal(volume_remove(store, anon.name, false, &err), 0);
	volume_info_free(&info);
	volume_info_free(&anon);
	fs_remove_tree(store, NULL);
}

static void test_in_use_and_prune(void **state)
{
	_cleanup_free_ char *store = scratch();
	_cleanup_strv_ char **removed = NULL;
	volume_info anon_used = { 0 }, anon_free = { 0 };
	berth_error *err = NULL;
	uint64_t reclaimed = 0;
	bool used = true;
	(void)state;

	assert_int_equal(volume_create(store, "named-used", NULL, false, NULL, &err), 0);
	assert_int_equal(volume_create(store, "named-free", NULL, false, NULL, &err), 0);
	assert_int_equal(volume_create(store, NULL, NULL, false, &anon_used, &err), 0);
	assert_int_equal(volume_create(store, NULL, NULL, false, &anon_free, &err), 0);
	write_file(anon_free.mountpoint, "blob", "0123456789", 0644);
	fake_container(store, "c0ffee0123456789", "named-used");
	fake_container(store, "beef", anon_used.name);
	/* the engine's name reservations live beside the records */
	{
		_cleanup_free_ char *names = fs_path_join(store, "containers/names");
		assert_int_equal(mkdir(names, 0700), 0);
		_cleanup_free_ char *link = fs_path_join(names, "x");
		assert_int_equal(symlink("c0ffee0123456789", link), 0);
	}

	assert_int_equal(volume_in_use(store, "named-used", &used, &err), 0);
	assert_true(used);
	assert_int_equal(volume_in_use(store, "named-free", &used, &err), 0);
	assert_false(used);

	/* refused, with or without force */
	assert_int_equal(volume_remove(store, "named-used", false, &err), -EBUSY);
	assert_non_null(strstr(err->msg, "in use by container c0ffee012345"));
	berth_error_free(&err);
	assert_int_equal(volume_remove(store, "named-used", true, &err), -EBUSY);
	berth_error_free(&err);

	/* default prune: unused anonymous volumes only */
	assert_int_equal(volume_prune(store, false, &removed, &reclaimed, &err), 0);
	assert_non_null(removed[0]);
	assert_string_equal(removed[0], anon_free.name);
	assert_null(removed[1]);
	assert_int_equal(reclaimed, 10);
	cleanup_strvp(&removed);
	volume_info_free(&anon_free);

	/* --all: named ones too, never used ones */
	assert_int_equal(volume_prune(store, true, &removed, &reclaimed, &err), 0);
	assert_string_equal(removed[0], "named-free");
	assert_null(removed[1]);
	assert_int_equal(volume_inspect(store, "named-used", &anon_free, &err), 0);
	volume_info_free(&anon_free);
	assert_int_equal(volume_inspect(store, anon_used.name, &anon_free, &err), 0);
	volume_info_free(&anon_free);
	volume_info_free(&anon_used);
	fs_remove_tree(store, NULL);
}

/* An image rootfs with /data holding a bit of everything. */
static char *make_image(const char *base, const char *outside)
{
	_cleanup_free_ char *data = NULL, *sub = NULL, *path = NULL, *escape = NULL;
	char *root = fs_path_join(base, "rootfs");
	struct timespec times[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };
	berth_error *err = NULL;

	data = fs_path_join(root, "data");
	sub = fs_path_join(data, "sub");
	assert_int_equal(fs_mkdir_p(sub, 0755, &err), 0);
	write_file(data, "hello", "hello from the image\n", 0640);
	write_file(sub, "deep", "deep\n", 0600);
	path = fs_path_join(data, "hello");
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	free(path);
	path = fs_path_join(data, "hardlink");
	{
		_cleanup_free_ char *target = fs_path_join(data, "hello");
		assert_int_equal(link(target, path), 0);
	}
	free(path);
	/* a symlink to the host's /etc: copied as a link, never followed */
	path = fs_path_join(data, "etc-link");
	assert_int_equal(symlink("/etc", path), 0);
	free(path);
	path = fs_path_join(data, "fifo");
	assert_int_equal(mkfifo(path, 0620), 0);
	assert_int_equal(chmod(path, 0620), 0); /* whatever the umask */
	free(path);
	path = fs_path_join(data, "sub");
	assert_int_equal(chmod(path, 0710), 0);
	if (geteuid() == 0) {
		_cleanup_free_ char *f = fs_path_join(data, "hello");
		assert_int_equal(chown(f, 1234, 5678), 0);
		assert_int_equal(lchown(path, 42, 43), 0);
	}
	free(path);
	path = fs_path_join(data, "hello");
	setxattr(path, "user.berth", "x1", 2, 0); /* where the file system has user xattrs */
	assert_int_equal(chmod(data, 0750), 0);
	/* /escape -> an absolute host directory: resolved inside the rootfs it does not exist */
	escape = fs_path_join(root, "escape");
	assert_int_equal(symlink(outside, escape), 0);
	return root;
}

static void test_prepare_mount_populates(void **state)
{
	_cleanup_free_ char *store = scratch(), *base = scratch(), *outside = fs_path_join(base, "outside");
	_cleanup_free_ char *root = NULL, *data = NULL, *text = NULL, *path = NULL;
	volume_info info = { 0 };
	berth_error *err = NULL;
	struct stat st, st2;
	char buf[16];
	ssize_t n;
	(void)state;

	assert_int_equal(mkdir(outside, 0700), 0);
	write_file(outside, "secret", "host secret\n", 0600);
	root = make_image(base, outside);

	assert_int_equal(volume_prepare_mount(store, "filled", root, "/data", &data, &err), 0);
	text = read_text(data, "hello");
	assert_non_null(text);
	assert_string_equal(text, "hello from the image\n");
	free(text);
	text = read_text(data, "sub/deep");
	assert_string_equal(text, "deep\n");

	/* _data takes the mode of /data; files keep mode, times, owner, links */
	assert_int_equal(stat(data, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	path = fs_path_join(data, "hello");
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	assert_int_equal(st.st_nlink, 2);
	if (geteuid() == 0) {
		assert_int_equal(st.st_uid, 1234);
		assert_int_equal(st.st_gid, 5678);
	}
	n = getxattr(path, "user.berth", buf, sizeof(buf));
	if (n >= 0) {
		assert_int_equal(n, 2);
		assert_memory_equal(buf, "x1", 2);
	}
	free(path);
	path = fs_path_join(data, "hardlink");
	assert_int_equal(lstat(path, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	free(path);
	path = fs_path_join(data, "sub");
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0710);
	if (geteuid() == 0)
		assert_int_equal(st.st_uid, 42);
	free(path);
	path = fs_path_join(data, "etc-link");
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	n = readlink(path, buf, sizeof(buf));
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "/etc", 4);
	free(path);
	path = fs_path_join(data, "fifo");
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0620);
	free(path);

	assert_int_equal(volume_inspect(store, "filled", &info, &err), 0);
	assert_true(info.populated);
	volume_info_free(&info);

	/* populated once only: what the container deleted does not come back */
	path = fs_path_join(data, "hello");
	assert_int_equal(unlink(path), 0);
	free(data);
	assert_int_equal(volume_prepare_mount(store, "filled", root, "/data", &data, &err), 0);
	assert_int_equal(lstat(path, &st), -1);
	free(path);
	path = NULL;
	free(data);
	data = NULL;

	/* a destination that leaves the rootfs through a symlink copies nothing from the host */
	assert_int_equal(volume_prepare_mount(store, "escaped", root, "/escape", &data, &err), 0);
	free(text);
	text = read_text(data, "secret");
	assert_null(text);
	free(data);
	data = NULL;
	/* also through ".." */
	assert_int_equal(
	    volume_prepare_mount(store, "dotdot", root, "/../../../../../../../../tmp/../etc", &data, &err), 0);
	free(data);
	data = NULL;

	/* missing in the image: an empty, populated volume */
	assert_int_equal(volume_prepare_mount(store, "empty", root, "/nothing/here", &data, &err), 0);
	assert_int_equal(volume_inspect(store, "empty", &info, &err), 0);
	assert_true(info.populated);
	volume_info_free(&info);
	free(data);
	data = NULL;

	/* a volume that already has content is not overwritten */
	assert_int_equal(volume_create(store, "preset", NULL, true, &info, &err), 0);
	write_file(info.mountpoint, "hello", "mine\n", 0644);
	assert_int_equal(volume_prepare_mount(store, "preset", root, "/data", &data, &err), 0);
	text = read_text(data, "hello");
	assert_string_equal(text, "mine\n");
	path = fs_path_join(data, "sub");
	assert_int_equal(lstat(path, &st), -1);
	volume_info_free(&info);

	/* no image: just the path */
	free(data);
	assert_int_equal(volume_prepare_mount(store, "plain", NULL, NULL, &data, &err), 0);
	assert_int_equal(stat(data, &st), 0);
	free(data);
	data = NULL;
	assert_int_equal(volume_prepare_mount(store, "../x", NULL, NULL, &data, &err), -EINVAL);
	berth_error_free(&err);

	fs_remove_tree(store, NULL);
	fs_remove_tree(base, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_create_inspect_list_remove),
		cmocka_unit_test(test_in_use_and_prune),
		cmocka_unit_test(test_prepare_mount_populates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
