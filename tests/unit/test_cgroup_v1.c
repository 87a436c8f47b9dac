/* The cgroup manager on a fake v1 (and hybrid) tree. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/cgroup/cgroup_internal.h"
#include "test_cgroup_fake.h"
#include "util/cleanup.h"

int test_cgroup_v1_run(void);

typedef struct fixture {
	char *root;
	char *self;
} fixture;

static int setup_v1(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->root = fake_new_root();
	f->self = fake_v1_tree(f->root, false);
	*state = f;
	return 0;
}

static int setup_hybrid(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->root = fake_new_root();
	f->self = fake_v1_tree(f->root, true);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	fake_record_stop();
	fake_cleanup(f->root);
	free(f->self);
	free(f);
	return 0;
}

static cgroup_manager *create(fixture *f, enum cgroup_mode mode, const char *path)
{
	cgroup_options o = fake_options(f->root, f->self, mode, path);
	_cleanup_error_ berth_error *err = NULL;
	cgroup_manager *m = NULL;

	if (cgroup_manager_create(&o, &m, &err) < 0)
		fail_msg("create: %s", err->msg);
	return m;
}

static void destroy(cgroup_manager *m)
{
	_cleanup_error_ berth_error *err = NULL;

	if (cgroup_manager_destroy(m, &err) < 0)
		fail_msg("destroy: %s", err->msg);
	cgroup_manager_free(m);
}

static void assert_file(fixture *f, const char *rel, const char *want)
{
	_cleanup_free_ char *got = fake_read(f->root, rel);

	if (got == NULL)
		fail_msg("%s: missing", rel);
	if (strcmp(got, want) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", rel, got, want);
}

static void test_create_relative_destroy(void **state)
{
	fixture *f = *state;
	_cleanup_free_ char *before = fake_snapshot(f->root);
	_cleanup_free_ char *after = NULL;
	cgroup_manager *m = create(f, CGROUP_MODE_V1, "berth/c1");

	/* Below the process's own cgroup of each hierarchy. */
	assert_true(fake_exists(f->root, "memory/user.slice/sess/berth/c1"));
	assert_true(fake_exists(f->root, "systemd/user.slice/sess/berth/c1"));
	assert_true(fake_exists(f->root, "pids/berth/c1"));
	assert_true(fake_exists(f->root, "cpu,cpuacct/berth/c1"));
	assert_true(fake_exists(f->root, "net_cls,net_prio/berth/c1"));
	assert_false(fake_exists(f->root, "unified"));
	assert_int_equal(cgroup_manager_v2_fd(m), -1);
	assert_int_equal(cgroup_manager_mode(m), CGROUP_MODE_V1);
	assert_string_equal(cgroup_manager_path(m), "/berth/c1"); /* the pids hierarchy */
	/* cpuset levels made by us got the parent's cpus and mems only where
	 * the files exist (a fake dir has none). */
	destroy(m);
	after = fake_snapshot(f->root);
	assert_string_equal(before, after);
}

static void test_create_keeps_existing_parents(void **state)
{
	fixture *f = *state;
	_cleanup_free_ char *before = NULL;
	_cleanup_free_ char *after = NULL;
	_cleanup_error_ berth_error *err = NULL;
	cgroup_manager *m;
	json_t *j;

	fake_mkdir(f->root, "memory/pre/existing");
	fake_mkdir(f->root, "pids/pre");
	before = fake_snapshot(f->root);
	m = create(f, CGROUP_MODE_V1, "/pre/existing/c1");
	assert_true(fake_exists(f->root, "memory/pre/existing/c1"));
	assert_true(fake_exists(f->root, "pids/pre/existing/c1"));
	assert_true(fake_exists(f->root, "freezer/pre/existing/c1"));
	j = cgroup_manager_to_json(m);
	assert_non_null(j);
	/* memory: one level made; pids: two; freezer: three. */
	for (size_t i = 0; i < json_array_size(json_object_get(j, "hierarchies")); i++) {
		json_t *h = json_array_get(json_object_get(j, "hierarchies"), i);
		const char *c = json_string_value(json_object_get(h, "controllers"));
		json_int_t levels = json_integer_value(json_object_get(h, "created_levels"));
		if (strcmp(c, "memory") == 0)
			assert_int_equal(levels, 1);
		else if (strcmp(c, "pids") == 0)
			assert_int_equal(levels, 2);
		else
			assert_int_equal(levels, 3);
	}
	json_decref(j);
	assert_int_equal(cgroup_manager_destroy(m, &err), 0);
	cgroup_manager_free(m);
	after = fake_snapshot(f->root);
	assert_string_equal(before, after);
	assert_true(fake_exists(f->root, "memory/pre/existing"));
}

static void test_create_failure_rolls_back(void **state)
{
	fixture *f = *state;
	_cleanup_free_ char *before = NULL;
	_cleanup_free_ char *after = NULL;
	_cleanup_error_ berth_error *err = NULL;
	cgroup_options o = fake_options(f->root, f->self, CGROUP_MODE_V1, "/blocked/c1");
	cgroup_manager *m = NULL;

	/* A plain file where a directory must go: mkdir fails (ENOTDIR). */
	fake_file(f->root, "freezer/blocked", "");
	before = fake_snapshot(f->root);
	assert_true(cgroup_manager_create(&o, &m, &err) < 0);
	assert_null(m);
	assert_non_null(strstr(err->msg, "freezer/blocked/c1"));
	after = fake_snapshot(f->root);
	assert_string_equal(before, after);
}

static void test_create_rootless_degrades(void **state)
{
	fixture *f = *state;
	_cleanup_free_ char *before = NULL;
	_cleanup_free_ char *after = NULL;
	_cleanup_error_ berth_error *err = NULL;
	cgroup_options o = fake_options(f->root, f->self, CGROUP_MODE_V1, "/blocked/c1");
	spec_resources r;
	cgroup_manager *m = NULL;

	fake_file(f->root, "freezer/blocked", "");
	before = fake_snapshot(f->root);
	o.rootless = true;
	assert_int_equal(cgroup_manager_create(&o, &m, &err), 0);
	assert_true(fake_exists(f->root, "memory/blocked/c1"));
	/* Freezing needs the freezer cgroup that could not be made. */
	assert_true(cgroup_manager_freeze(m, true, &err) < 0);
	assert_non_null(strstr(err->msg, "freezer"));
	berth_error_free(&err);
	/* Nothing to write for a disabled hierarchy (no devices knobs here). */
	fake_resources("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}", &r);
	assert_int_equal(cgroup_manager_apply(m, &r, &err), 0);
	spec_resources_clear(&r);
	destroy(m);
	after = fake_snapshot(f->root);
	assert_string_equal(before, after);
}

static void test_cpuset_copied_into_empty_levels(void **state)
{
	fixture *f = *state;
	cgroup_manager *m;

	fake_file(f->root, "cpuset/pre/cpuset.cpus", "");
	fake_file(f->root, "cpuset/pre/cpuset.mems", "\n");
	m = create(f, CGROUP_MODE_V1, "/pre/c1");
	assert_file(f, "cpuset/pre/cpuset.cpus", "0-3");
	assert_file(f, "cpuset/pre/cpuset.mems", "0");
	destroy(m);
	assert_true(fake_exists(f->root, "cpuset/pre/cpuset.cpus"));
}

static const char *const memory_knobs[] = { "memory.limit_in_bytes",
					    "memory.memsw.limit_in_bytes",
					    "memory.soft_limit_in_bytes",
					    "memory.swappiness",
					    "memory.oom_control",
					    "cgroup.procs",
					    NULL };
static const char *const cpu_knobs[] = { "cpu.shares",	      "cpu.cfs_quota_us",
					 "cpu.cfs_period_us", "cpu.rt_runtime_us",
					 "cpu.rt_period_us",  "cpu.cfs_burst_us",
					 "cgroup.procs",      NULL };
static const char *const blkio_knobs[] = { "blkio.weight",
					   "blkio.leaf_weight",
					   "blkio.weight_device",
					   "blkio.throttle.read_bps_device",
					   "blkio.throttle.write_bps_device",
					   "blkio.throttle.read_iops_device",
					   "blkio.throttle.write_iops_device",
					   "cgroup.procs",
					   NULL };
typedef struct knob_dir {
	const char *dir;
	const char *const *knobs;
} knob_dir;

static const knob_dir knob_dirs[] = {
	{ "memory/user.slice/sess/c1", memory_knobs },
	{ "cpu,cpuacct/c1", cpu_knobs },
	{ "blkio/c1", blkio_knobs },
	{ "pids/c1", (const char *const[]){ "cgroup.procs", "pids.max", NULL } },
	{ "cpuset/c1", (const char *const[]){ "cgroup.procs", "cpuset.cpus", "cpuset.mems", NULL } },
	{ "hugetlb/c1",
	  (const char *const[]){ "cgroup.procs", "hugetlb.2MB.limit_in_bytes", "hugetlb.1GB.limit_in_bytes", NULL } },
	{ "devices/c1", (const char *const[]){ "cgroup.procs", "devices.allow", "devices.deny", NULL } },
	{ "freezer/c1", (const char *const[]){ "cgroup.procs", "freezer.state", NULL } },
	{ "net_cls,net_prio/c1",
	  (const char *const[]){ "cgroup.procs", "net_cls.classid", "net_prio.ifpriomap", NULL } },
	{ "perf_event/c1", (const char *const[]){ "cgroup.procs", NULL } },
	{ "systemd/user.slice/sess/c1", (const char *const[]){ "cgroup.procs", NULL } },
};

/* What the kernel would put into the new cgroup "c1". */
static void populate(fixture *f)
{
	for (size_t i = 0; i < sizeof(knob_dirs) / sizeof(knob_dirs[0]); i++)
		fake_knobs(f->root, knob_dirs[i].dir, knob_dirs[i].knobs);
	fake_file(f->root, "memory/user.slice/sess/c1/memory.limit_in_bytes", "9223372036854771712\n");
}

static void unpopulate(fixture *f)
{
	for (size_t i = 0; i < sizeof(knob_dirs) / sizeof(knob_dirs[0]); i++)
		fake_clear_files(f->root, knob_dirs[i].dir);
}

static const char full_resources[] =
    "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,"
    "\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\",\"access\":\"m\"},{\"allow\":false,\"type\":\"b\","
    "\"major\":8,\"minor\":0,\"access\":\"w\"}],"
    "\"memory\":{\"limit\":67108864,\"reservation\":33554432,\"swap\":134217728,\"swappiness\":10,"
    "\"disableOOMKiller\":true,\"kernel\":1048576},"
    "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"realtimeRuntime\":950,\"realtimePeriod\":1000,"
    "\"burst\":1000,\"cpus\":\"0-1\",\"mems\":\"0\"},"
    "\"pids\":{\"limit\":10},"
    "\"blockIO\":{\"weight\":500,\"leafWeight\":300,\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":200}],"
    "\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1048576}],"
    "\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":16,\"rate\":100}]},"
    "\"hugepageLimits\":[{\"pageSize\":\"2M\",\"limit\":4194304},{\"pageSize\":\"1GB\",\"limit\":0}],"
    "\"network\":{\"classID\":1048577,\"priorities\":[{\"name\":\"eth0\",\"priority\":5}]}}";

static void test_apply_writes_v1_knobs(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, CGROUP_MODE_V1, "c1");
	_cleanup_error_ berth_error *err = NULL;
	spec_resources r;

	populate(f);
	fake_resources(full_resources, &r);
	fake_record_start(f->root);
	if (cgroup_manager_apply(m, &r, &err) < 0)
		fail_msg("apply: %s", err->msg);
	/* the spec's list starts with "deny all": written once */
	assert_string_equal(fake_recorded(), "devices/c1/devices.deny=a\n"
					     "devices/c1/devices.allow=c 1:3 rwm\n"
					     "devices/c1/devices.allow=c *:* m\n"
					     "devices/c1/devices.deny=b 8:0 w\n"
					     "memory/user.slice/sess/c1/memory.limit_in_bytes=67108864\n"
					     "memory/user.slice/sess/c1/memory.memsw.limit_in_bytes=134217728\n"
					     "memory/user.slice/sess/c1/memory.soft_limit_in_bytes=33554432\n"
					     "memory/user.slice/sess/c1/memory.swappiness=10\n"
					     "memory/user.slice/sess/c1/memory.oom_control=1\n"
					     "cpu,cpuacct/c1/cpu.shares=512\n"
					     "cpu,cpuacct/c1/cpu.cfs_period_us=100000\n"
					     "cpu,cpuacct/c1/cpu.cfs_quota_us=50000\n"
					     "cpu,cpuacct/c1/cpu.cfs_burst_us=1000\n"
					     "cpu,cpuacct/c1/cpu.rt_period_us=1000\n"
					     "cpu,cpuacct/c1/cpu.rt_runtime_us=950\n"
					     "cpuset/c1/cpuset.cpus=0-1\n"
					     "cpuset/c1/cpuset.mems=0\n"
					     "pids/c1/pids.max=10\n"
					     "blkio/c1/blkio.weight=500\n"
					     "blkio/c1/blkio.leaf_weight=300\n"
					     "blkio/c1/blkio.weight_device=8:0 200\n"
					     "blkio/c1/blkio.throttle.read_bps_device=8:0 1048576\n"
					     "blkio/c1/blkio.throttle.write_iops_device=8:16 100\n"
					     "hugetlb/c1/hugetlb.2MB.limit_in_bytes=4194304\n"
					     "hugetlb/c1/hugetlb.1GB.limit_in_bytes=0\n"
					     "net_cls,net_prio/c1/net_cls.classid=1048577\n"
					     "net_cls,net_prio/c1/net_prio.ifpriomap=eth0 5\n");
	assert_file(f, "memory/user.slice/sess/c1/memory.limit_in_bytes", "67108864");
	assert_file(f, "pids/c1/pids.max", "10");
	spec_resources_clear(&r);

	/* pids: 0 and -1 mean no limit. */
	fake_resources("{\"pids\":{\"limit\":-1}}", &r);
	assert_int_equal(cgroup_manager_apply(m, &r, &err), 0);
	assert_file(f, "pids/c1/pids.max", "max");
	spec_resources_clear(&r);
	unpopulate(f);
	destroy(m);
}

static void test_memory_swap_order(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, CGROUP_MODE_V1, "c1");
	_cleanup_error_ berth_error *err = NULL;
	spec_resources r;

	populate(f);
	/* Raising above the current limit: memory+swap first. */
	fake_file(f->root, "memory/user.slice/sess/c1/memory.limit_in_bytes", "1048576\n");
	fake_resources("{\"memory\":{\"limit\":2097152,\"swap\":4194304}}", &r);
	fake_record_start(f->root);
	assert_int_equal(cgroup_manager_apply(m, &r, &err), 0);
	assert_string_equal(fake_recorded(), "memory/user.slice/sess/c1/memory.memsw.limit_in_bytes=4194304\n"
					     "memory/user.slice/sess/c1/memory.limit_in_bytes=2097152\n");
	spec_resources_clear(&r);
	/* Unlimited swap: memsw first as well. */
	fake_resources("{\"memory\":{\"limit\":1048576,\"swap\":-1}}", &r);
	fake_record_start(f->root);
	assert_int_equal(cgroup_manager_apply(m, &r, &err), 0);
	assert_string_equal(fake_recorded(), "memory/user.slice/sess/c1/memory.memsw.limit_in_bytes=-1\n"
					     "memory/user.slice/sess/c1/memory.limit_in_bytes=1048576\n");
	spec_resources_clear(&r);
	unpopulate(f);
	destroy(m);
}

static void test_missing_knob_names_file(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, CGROUP_MODE_V1, "c1");
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *want = NULL;
	_cleanup_free_ char *dir = fake_path(f->root, "memory/user.slice/sess/c1");
	spec_resources r;

	/* No knob files at all in the new fake dir. */
	fake_resources("{\"memory\":{\"swappiness\":60}}", &r);
	assert_true(cgroup_manager_apply(m, &r, &err) < 0);
	assert_true(asprintf(&want,
			     "cgroup \"memory.swappiness\": write \"60\" to \"%s/memory.swappiness\": No such file or "
			     "directory",
			     dir) >= 0);
	assert_string_equal(err->msg, want);
	assert_int_equal(err->code, ENOENT);
	spec_resources_clear(&r);
	berth_error_free(&err);

	/* A controller that is not mounted, and unified on v1. */
	fake_resources("{\"unified\":{\"memory.high\":\"1G\"}}", &r);
	assert_true(cgroup_manager_apply(m, &r, &err) < 0);
	assert_non_null(strstr(err->msg, "needs cgroup v2"));
	spec_resources_clear(&r);
	berth_error_free(&err);
	destroy(m);
}

static void test_missing_controller(void **state)
{
	fixture *f = *state;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *hugetlb = fake_path(f->root, "hugetlb");
	cgroup_manager *m;
	spec_resources r;

	rmdir(hugetlb);
	m = create(f, CGROUP_MODE_V1, "c1");
	fake_resources("{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":1}]}", &r);
	assert_true(cgroup_manager_apply(m, &r, &err) < 0);
	assert_string_equal(
	    err->msg,
	    "cgroup \"hugetlb.limit_in_bytes\": the hugetlb controller is not mounted: No such file or directory");
	spec_resources_clear(&r);
	berth_error_free(&err);
	/* A bad page size is rejected before anything is written. */
	fake_resources("{\"pids\":{\"limit\":5},\"hugepageLimits\":[{\"pageSize\":\"3B\",\"limit\":1}]}", &r);
	fake_record_start(f->root);
	assert_true(cgroup_manager_apply(m, &r, &err) < 0);
	assert_string_equal(fake_recorded(), "");
	spec_resources_clear(&r);
	destroy(m);
}

static void test_enter_freeze_pids(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, CGROUP_MODE_V1, "c1");
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	bool frozen = true;

	populate(f);
	assert_int_equal(cgroup_manager_enter(m, 4242, &err), 0);
	assert_file(f, "memory/user.slice/sess/c1/cgroup.procs", "4242");
	assert_file(f, "cpu,cpuacct/c1/cgroup.procs", "4242");
	assert_file(f, "systemd/user.slice/sess/c1/cgroup.procs", "4242");

	assert_int_equal(cgroup_manager_is_frozen(m, &frozen, &err), 0);
	assert_false(frozen);
	assert_int_equal(cgroup_manager_freeze(m, true, &err), 0);
	assert_file(f, "freezer/c1/freezer.state", "FROZEN");
	assert_int_equal(cgroup_manager_is_frozen(m, &frozen, &err), 0);
	assert_true(frozen);
	assert_int_equal(cgroup_manager_freeze(m, false, &err), 0);
	assert_file(f, "freezer/c1/freezer.state", "THAWED");

	/* pids come from the pids hierarchy, children included. */
	fake_file(f->root, "pids/c1/cgroup.procs", "30\n7\n");
	fake_file(f->root, "pids/c1/sub/cgroup.procs", "7\n12\n");
	assert_int_equal(cgroup_manager_pids(m, &pids, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pids[0], 7);
	assert_int_equal(pids[1], 12);
	assert_int_equal(pids[2], 30);
	fake_clear_files(f->root, "pids/c1/sub");
	unpopulate(f);
	destroy(m);
}

/* exec --cgroup on v1: CONTROLLER:PATH moves only that hierarchy, a bare
 * PATH every one; nothing changes when a sub-cgroup is missing. */
static void test_exec_sub_cgroup(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, CGROUP_MODE_V1, "c1");
	_cleanup_error_ berth_error *err = NULL;
	const char *const memory_only[] = { "memory,pids:sub", NULL };
	const char *const missing[] = { "pids:nosuch", NULL };
	const char *const unknown[] = { "nosuchctl:sub", NULL };
	json_t *j = cgroup_manager_to_json(m);
	cgroup_manager *joiner = NULL;

	populate(f);
	fake_file(f->root, "memory/user.slice/sess/c1/sub/cgroup.procs", "");
	fake_file(f->root, "pids/c1/sub/cgroup.procs", "");
	assert_int_equal(cgroup_manager_from_json(j, &joiner, &err), 0);
	assert_true(cgroup_manager_select_sub(joiner, missing, &err) < 0);
	assert_non_null(strstr(err->msg, "pids/c1/nosuch"));
	berth_error_free(&err);
	assert_true(cgroup_manager_select_sub(joiner, unknown, &err) < 0);
	assert_non_null(strstr(err->msg, "the container has no nosuchctl cgroup"));
	berth_error_free(&err);
	assert_int_equal(cgroup_manager_select_sub(joiner, memory_only, &err), 0);
	assert_int_equal(cgroup_manager_enter(joiner, 4242, &err), 0);
	assert_file(f, "memory/user.slice/sess/c1/sub/cgroup.procs", "4242");
	assert_file(f, "pids/c1/sub/cgroup.procs", "4242");
	assert_file(f, "cpu,cpuacct/c1/cgroup.procs", "4242");
	assert_file(f, "memory/user.slice/sess/c1/cgroup.procs", "");
	cgroup_manager_free(joiner);
	json_decref(j);
	fake_clear_files(f->root, "memory/user.slice/sess/c1/sub");
	fake_clear_files(f->root, "pids/c1/sub");
	unpopulate(f);
	destroy(m);
}

/* The init joins the v1 hierarchies itself: "0" into each "tasks" file,
 * through fds opened before it exists. */
static void test_join_self(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, CGROUP_MODE_V1, "c1");
	_cleanup_error_ berth_error *err = NULL;
	cgroup_self_join j = { .n = 0 };
	size_t n = sizeof(knob_dirs) / sizeof(knob_dirs[0]);

	populate(f);
	/* a kernel's v1 dir always has "tasks"; without it the open fails */
	assert_true(cgroup_manager_open_join(m, &j, &err) < 0);
	assert_non_null(strstr(err->msg, "/tasks"));
	assert_int_equal(j.n, 0);
	berth_error_free(&err);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *tasks = NULL;
		assert_true(asprintf(&tasks, "%s/tasks", knob_dirs[i].dir) >= 0);
		fake_file(f->root, tasks, "");
	}
	if (cgroup_manager_open_join(m, &j, &err) < 0)
		fail_msg("open join: %s", err->msg);
	assert_int_equal(j.n, n);
	if (cgroup_join_self(&j, &err) < 0)
		fail_msg("join: %s", err->msg);
	cgroup_join_close(&j);
	assert_int_equal(j.n, 0);
	assert_file(f, "memory/user.slice/sess/c1/tasks", "0");
	assert_file(f, "cpu,cpuacct/c1/tasks", "0");
	assert_file(f, "systemd/user.slice/sess/c1/tasks", "0");
	/* no pid was written for anyone */
	assert_file(f, "pids/c1/cgroup.procs", "");
	/* v1 only: nothing for CLONE_INTO_CGROUP */
	assert_int_equal(cgroup_manager_v2_fd(m), -1);
	assert_int_equal(cgroup_manager_enter_unified(m, 4242, &err), 0);
	unpopulate(f);
	destroy(m);
}

static void test_freeze_error_names_file(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, CGROUP_MODE_V1, "c1");
	_cleanup_error_ berth_error *err = NULL;
	bool frozen = true;

	/* No freezer.state in the fake dir: the error names it. */
	assert_true(cgroup_manager_freeze(m, true, &err) < 0);
	assert_non_null(strstr(err->msg, "cgroup \"freezer.state\": write \"FROZEN\""));
	/* A cgroup without the file reads as not frozen. */
	assert_int_equal(cgroup_manager_is_frozen(m, &frozen, NULL), 0);
	assert_false(frozen);
	destroy(m);
}

static void test_stats_v1(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, CGROUP_MODE_V1, "c1");
	_cleanup_error_ berth_error *err = NULL;
	json_t *s = NULL;

	fake_file(f->root, "cpu,cpuacct/c1/cpuacct.usage", "123456\n");
	fake_file(f->root, "cpu,cpuacct/c1/cpuacct.usage_percpu", "100000 23456 \n");
	fake_file(f->root, "cpu,cpuacct/c1/cpuacct.stat", "user 2\nsystem 3\n");
	fake_file(f->root, "cpu,cpuacct/c1/cpu.stat", "nr_periods 10\nnr_throttled 2\nthrottled_time 500\n");
	fake_file(f->root, "memory/user.slice/sess/c1/memory.usage_in_bytes", "4096\n");
	fake_file(f->root, "memory/user.slice/sess/c1/memory.limit_in_bytes", "67108864\n");
	fake_file(f->root, "memory/user.slice/sess/c1/memory.max_usage_in_bytes", "8192\n");
	fake_file(f->root, "memory/user.slice/sess/c1/memory.failcnt", "1\n");
	fake_file(f->root, "memory/user.slice/sess/c1/memory.stat", "cache 100\nrss 200\n");
	fake_file(f->root, "pids/c1/pids.current", "3\n");
	fake_file(f->root, "pids/c1/pids.max", "max\n");
	fake_file(f->root, "blkio/c1/blkio.throttle.io_service_bytes", "8:0 Read 10\n8:0 Write 20\nTotal 30\n");
	fake_file(f->root, "hugetlb/c1/hugetlb.2MB.usage_in_bytes", "2097152\n");
	fake_file(f->root, "hugetlb/c1/hugetlb.2MB.failcnt", "0\n");
	assert_int_equal(cgroup_manager_stats(m, &s, &err), 0);
	{
		json_t *cpu = json_object_get(s, "cpu"), *usage = json_object_get(cpu, "usage");
		json_t *mem = json_object_get(s, "memory");
		json_t *bytes = json_object_get(json_object_get(s, "blkio"), "ioServiceBytesRecursive");
		long tick = sysconf(_SC_CLK_TCK);
		assert_int_equal(json_integer_value(json_object_get(usage, "total")), 123456);
		assert_int_equal(json_array_size(json_object_get(usage, "percpu")), 2);
		assert_int_equal(json_integer_value(json_array_get(json_object_get(usage, "percpu"), 1)), 23456);
		assert_int_equal(json_integer_value(json_object_get(usage, "user")), 2 * (1000000000 / tick));
		assert_int_equal(json_integer_value(json_object_get(usage, "kernel")), 3 * (1000000000 / tick));
		assert_int_equal(
		    json_integer_value(json_object_get(json_object_get(cpu, "throttling"), "throttledPeriods")), 2);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(mem, "usage"), "usage")), 4096);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(mem, "usage"), "limit")), 67108864);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(mem, "usage"), "max")), 8192);
		assert_int_equal(json_integer_value(json_object_get(mem, "cache")), 100);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(mem, "raw"), "rss")), 200);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "pids"), "current")), 3);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "pids"), "limit")), 0);
		assert_int_equal(json_array_size(bytes), 2);
		assert_string_equal(json_string_value(json_object_get(json_array_get(bytes, 1), "op")), "Write");
		assert_int_equal(json_integer_value(json_object_get(json_array_get(bytes, 1), "value")), 20);
		assert_int_equal(
		    json_integer_value(json_object_get(json_object_get(json_object_get(s, "hugetlb"), "2MB"), "usage")),
		    2097152);
	}
	json_decref(s);
	unpopulate(f);
	fake_clear_files(f->root, "hugetlb/c1");
	destroy(m);
}

static void test_json_round_trip(void **state)
{
	fixture *f = *state;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *before = fake_snapshot(f->root);
	_cleanup_free_ char *after = NULL;
	_cleanup_free_ char *text1 = NULL;
	_cleanup_free_ char *text2 = NULL;
	cgroup_manager *m = create(f, CGROUP_MODE_HYBRID, "berth/c1");
	cgroup_manager *again = NULL;
	json_t *j = cgroup_manager_to_json(m), *j2;

	assert_string_equal(json_string_value(json_object_get(j, "mode")), "hybrid");
	assert_true(fake_exists(f->root, "unified/user.slice/sess/berth/c1"));
	cgroup_manager_free(m);
	/* Reopening creates nothing: remove a dir, reopen, it stays gone. */
	{
		_cleanup_free_ char *p = fake_path(f->root, "pids/berth/c1");
		assert_int_equal(rmdir(p), 0);
	}
	assert_int_equal(cgroup_manager_from_json(j, &again, &err), 0);
	assert_false(fake_exists(f->root, "pids/berth/c1"));
	assert_int_equal(cgroup_manager_mode(again), CGROUP_MODE_HYBRID);
	assert_string_equal(cgroup_manager_path(again), "/berth/c1");
	j2 = cgroup_manager_to_json(again);
	text1 = json_dumps(j, JSON_SORT_KEYS);
	text2 = json_dumps(j2, JSON_SORT_KEYS);
	assert_string_equal(text1, text2);
	destroy(again);
	after = fake_snapshot(f->root);
	assert_string_equal(before, after);
	json_decref(j);
	json_decref(j2);

	/* Broken state is refused. */
	j = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s, s:b, s:b}]}", "mode", "v1", "path", "/x", "hierarchies",
		      "controllers", "memory", "mount", "/sys/fs/cgroup/memory", "dir", "/sys/fs/cgroup/memory/../x",
		      "unified", 0, "created", 1);
	assert_true(cgroup_manager_from_json(j, &again, &err) < 0);
	json_decref(j);
	j = json_pack("{s:s, s:s, s:[]}", "mode", "v7", "path", "/x", "hierarchies");
	assert_true(cgroup_manager_from_json(j, &again, &err) < 0);
	json_decref(j);
}

static void test_hybrid_unified_best_effort(void **state)
{
	fixture *f = *state;
	_cleanup_free_ char *before = NULL;
	_cleanup_free_ char *after = NULL;
	_cleanup_error_ berth_error *err = NULL;
	cgroup_manager *m;
	json_t *j;

	fake_file(f->root, "unified/user.slice/sess/c1", ""); /* mkdir there fails */
	before = fake_snapshot(f->root);
	m = create(f, CGROUP_MODE_HYBRID, "c1/x");
	assert_true(fake_exists(f->root, "memory/user.slice/sess/c1/x"));
	j = cgroup_manager_to_json(m);
	for (size_t i = 0; i < json_array_size(json_object_get(j, "hierarchies")); i++) {
		json_t *h = json_array_get(json_object_get(j, "hierarchies"), i);
		bool unified = json_is_true(json_object_get(h, "unified"));
		assert_int_equal(json_is_true(json_object_get(h, "disabled")), unified);
	}
	json_decref(j);
	/* enter skips the disabled unified cgroup (no cgroup.procs files in
	 * the fake v1 dirs either: enter fails on the first v1 one). */
	assert_true(cgroup_manager_enter(m, 1, &err) < 0);
	assert_null(strstr(err->msg, "unified"));
	destroy(m);
	after = fake_snapshot(f->root);
	assert_string_equal(before, after);
}

static void test_systemd_path_and_root_slash(void **state)
{
	fixture *f = *state;
	_cleanup_free_ char *before = fake_snapshot(f->root);
	_cleanup_free_ char *after = NULL;
	_cleanup_free_ char *root_slash = NULL;
	_cleanup_error_ berth_error *err = NULL;
	cgroup_options o = fake_options(f->root, NULL, CGROUP_MODE_V1, "machine-web.slice:berth:c1");
	cgroup_manager *m = NULL;

	assert_true(asprintf(&root_slash, "%s//", f->root) >= 0);
	o.fs_root = root_slash;
	o.systemd = true;
	/* systemd paths are absolute: the own cgroup (and self_cgroup) is not read. */
	if (cgroup_manager_create(&o, &m, &err) < 0)
		fail_msg("create: %s", err->msg);
	assert_true(fake_exists(f->root, "memory/machine.slice/machine-web.slice/berth-c1.scope"));
	assert_true(fake_exists(f->root, "systemd/machine.slice/machine-web.slice/berth-c1.scope"));
	assert_string_equal(cgroup_manager_path(m), "/machine.slice/machine-web.slice/berth-c1.scope");
	destroy(m);
	after = fake_snapshot(f->root);
	assert_string_equal(before, after);
}

int test_cgroup_v1_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_relative_destroy, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_create_keeps_existing_parents, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_create_failure_rolls_back, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_create_rootless_degrades, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_cpuset_copied_into_empty_levels, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_apply_writes_v1_knobs, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_memory_swap_order, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_missing_knob_names_file, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_missing_controller, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_enter_freeze_pids, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_join_self, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_error_names_file, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_exec_sub_cgroup, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_stats_v1, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_systemd_path_and_root_slash, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_json_round_trip, setup_hybrid, teardown),
		cmocka_unit_test_setup_teardown(test_hybrid_unified_best_effort, setup_hybrid, teardown),
	};
	return cmocka_run_group_tests_name("cgroup-v1", tests, NULL, NULL);
}
