#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "runtime/cgroup/cgroup_internal.h"
#include "test_cgroup_fake.h"
#include "util/cleanup.h"
#include "util/fs.h"

char *fake_new_root(void)
{
	char *root = strdup("/tmp/berth-cgroup-unit-XXXXXX");

	assert_non_null(root);
	assert_non_null(mkdtemp(root));
	return root;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void fake_cleanup(char *root)
{
	if (root == NULL)
		return;
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(root);
}

char *fake_path(const char *root, const char *rel)
{
	size_t len = strlen(root) + strlen(rel) + 2;
	char *out = malloc(len);

	assert_non_null(out);
	snprintf(out, len, "%s/%s", root, rel);
	return out;
}

void fake_mkdir(const char *root, const char *rel)
{
	_cleanup_free_ char *p = fake_path(root, rel);

	assert_int_equal(fs_mkdir_p(p, 0755, NULL), 0);
}

void fake_file(const char *root, const char *rel, const char *content)
{
	_cleanup_free_ char *p = fake_path(root, rel);
	_cleanup_free_ char *parent = strndup(p, (size_t)(strrchr(p, '/') - p));
	_cleanup_close_ int fd = -1;

	assert_non_null(parent);
	assert_int_equal(fs_mkdir_p(parent, 0755, NULL), 0);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
}

char *fake_read(const char *root, const char *rel)
{
	_cleanup_free_ char *p = fake_path(root, rel);
	char *text = NULL;

	if (fs_read_file(p, &text, NULL, NULL) < 0)
		return NULL;
	return text;
}

bool fake_exists(const char *root, const char *rel)
{
	_cleanup_free_ char *p = fake_path(root, rel);
	return access(p, F_OK) == 0;
}

void fake_knobs(const char *root, const char *dir, const char *const *names)
{
	for (size_t i = 0; names[i] != NULL; i++) {
		_cleanup_free_ char *rel = NULL;
		assert_true(asprintf(&rel, "%s/%s", dir, names[i]) >= 0);
		fake_file(root, rel, "");
	}
}

void fake_clear_files(const char *root, const char *dir)
{
	_cleanup_free_ char *p = fake_path(root, dir);
	_cleanup_closedir_ DIR *d = opendir(p);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_type == DT_REG)
			unlinkat(dirfd(d), de->d_name, 0);
}

static char **snapshot_items;
static size_t snapshot_n;
static size_t snapshot_root_len;

static int snapshot_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	snapshot_items = realloc(snapshot_items, (snapshot_n + 1) * sizeof(char *));
	snapshot_items[snapshot_n++] = strdup(path + snapshot_root_len);
	return 0;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *fake_snapshot(const char *root)
{
	char *out = strdup("");

	snapshot_items = NULL;
	snapshot_n = 0;
	snapshot_root_len = strlen(root);
	assert_int_equal(nftw(root, snapshot_entry, 16, FTW_PHYS), 0);
	qsort(snapshot_items, snapshot_n, sizeof(char *), compare_strings);
	for (size_t i = 0; i < snapshot_n; i++) {
		char *joined = NULL;
		assert_true(asprintf(&joined, "%s%s\n", out, snapshot_items[i]) >= 0);
		free(out);
		free(snapshot_items[i]);
		out = joined;
	}
	free(snapshot_items);
	snapshot_items = NULL;
	return out;
}

static char *recorded;
static const char *record_root;

static void record_write(const char *path, const char *value)
{
	size_t rl = strlen(record_root);
	char *joined = NULL;

	if (strncmp(path, record_root, rl) == 0 && path[rl] == '/')
		path += rl + 1;
	assert_true(asprintf(&joined, "%s%s=%s\n", recorded ? recorded : "", path, value) >= 0);
	free(recorded);
	recorded = joined;
}

void fake_record_start(const char *root)
{
	free(recorded);
	recorded = strdup("");
	record_root = root;
	cgroup_write_observer = record_write;
}

const char *fake_recorded(void)
{
	return recorded ? recorded : "";
}

void fake_record_stop(void)
{
	cgroup_write_observer = NULL;
	free(recorded);
	recorded = NULL;
}

char *fake_v1_tree(const char *root, bool hybrid)
{
	static const char *const dirs[] = { "memory",	  "cpu,cpuacct", "cpuset",
					    "pids",	  "blkio",	 "hugetlb",
					    "devices",	  "freezer",	 "net_cls,net_prio",
					    "perf_event", "systemd" };
	char *self = fake_path(root, "self-cgroup");

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		fake_mkdir(root, dirs[i]);
	fake_mkdir(root, "memory/user.slice/sess");
	fake_mkdir(root, "systemd/user.slice/sess");
	fake_file(root, "cpuset/cpuset.cpus", "0-3\n");
	fake_file(root, "cpuset/cpuset.mems", "0\n");
	if (hybrid)
		fake_mkdir(root, "unified/user.slice/sess");
	fake_file(root, "self-cgroup",
		  "12:pids:/\n11:memory:/user.slice/sess\n10:cpu,cpuacct:/\n9:cpuset:/\n8:blkio:/\n7:hugetlb:/\n"
		  "6:devices:/\n5:freezer:/\n4:net_cls,net_prio:/\n3:perf_event:/\n1:name=systemd:/user.slice/sess\n"
		  "0::/user.slice/sess\n");
	return self;
}

char *fake_v2_tree(const char *root)
{
	char *self = fake_path(root, "self-cgroup");

	fake_file(root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
	fake_file(root, "cgroup.subtree_control", "cpu memory pids\n");
	fake_file(root, "user.slice/cgroup.controllers", "cpu memory pids\n");
	fake_file(root, "user.slice/cgroup.subtree_control", "cpu memory pids\n");
	fake_file(root, "user.slice/sess/cgroup.controllers", "cpu memory pids\n");
	fake_file(root, "user.slice/sess/cgroup.subtree_control", "memory\n");
	fake_file(root, "self-cgroup", "0::/user.slice/sess\n");
	return self;
}

cgroup_options fake_options(const char *root, const char *self, enum cgroup_mode mode, const char *path)
{
	return (cgroup_options){
		.fs_root = root,
		.self_cgroup = self,
		.cgroups_path = path,
		.container_id = "c1",
		.force_mode = true,
		.forced_mode = mode,
	};
}

void fake_resources(const char *json, spec_resources *out)
{
	berth_error *err = NULL;

	if (spec_parse_resources(json, out, &err) < 0)
		fail_msg("resources: %s", err->msg);
}
