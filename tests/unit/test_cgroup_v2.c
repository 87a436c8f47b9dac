/* The cgroup manager on a fake unified (v2) tree. No v2 host is needed:
 * the knobs are plain files the test makes where the kernel would. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/cgroup/cgroup_internal.h"
#include "test_cgroup_fake.h"
#include "util/cleanup.h"

int test_cgroup_v2_run(void);

typedef struct fixture {
	char *root;
	char *self;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->root = fake_new_root();
	f->self = fake_v2_tree(f->root);
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

static cgroup_manager *create(fixture *f, const char *path)
{
	cgroup_options o = fake_options(f->root, f->self, CGROUP_MODE_V2, path);
	_cleanup_error_ berth_error *err = NULL;
	cgroup_manager *m = NULL;

	if (cgroup_manager_create(&o, &m, &err) < 0)
		fail_msg("create: %s", err->msg);
	return m;
}

static void destroy(fixture *f, cgroup_manager *m, const char *dir)
{
	_cleanup_error_ berth_error *err = NULL;

	if (dir != NULL)
		fake_clear_files(f->root, dir);
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

static const char *const v2_knobs[] = {
	"cgroup.procs", "cgroup.freeze", "cgroup.events", "memory.max",	     "memory.low",  "memory.swap.max",
	"cpu.weight",	"cpu.max",	 "cpu.max.burst", "cpu.idle",	     "cpuset.cpus", "cpuset.mems",
	"pids.max",	"io.weight",	 "io.max",	  "hugetlb.2MB.max", "memory.high", NULL
};

static void test_create_enables_controllers(void **state)
{
	fixture *f = *state;
	_cleanup_free_ char *before = fake_snapshot(f->root);
	_cleanup_free_ char *after = NULL;
	cgroup_manager *m;

	fake_record_start(f->root);
	m = create(f, "berth/c1");
	assert_true(fake_exists(f->root, "user.slice/sess/berth/c1"));
	assert_string_equal(cgroup_manager_path(m), "/user.slice/sess/berth/c1");
	assert_true(cgroup_manager_v2_fd(m) >= 0);
	/* Only below the process's own cgroup, only what is missing, one by
	 * one; the new "berth" level has no files in a fake tree. */
	assert_string_equal(fake_recorded(), "user.slice/sess/cgroup.subtree_control=+cpu\n"
					     "user.slice/sess/cgroup.subtree_control=+pids\n");
	assert_file(f, "cgroup.subtree_control", "cpu memory pids\n");
	destroy(f, m, NULL);
	/* The fake subtree_control holds the last write; restore to compare. */
	fake_file(f->root, "user.slice/sess/cgroup.subtree_control", "memory\n");
	after = fake_snapshot(f->root);
	assert_string_equal(before, after);
}

static void test_create_absolute_enables_from_root(void **state)
{
	fixture *f = *state;
	cgroup_manager *m;

	fake_record_start(f->root);
	m = create(f, "/machine.slice/c1");
	assert_true(fake_exists(f->root, "machine.slice/c1"));
	assert_string_equal(fake_recorded(), "cgroup.subtree_control=+cpuset\n"
					     "cgroup.subtree_control=+io\n"
					     "cgroup.subtree_control=+hugetlb\n");
	destroy(f, m, NULL);
	assert_false(fake_exists(f->root, "machine.slice"));
}

static void test_apply_writes_v2_knobs(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, "c1");
	_cleanup_error_ berth_error *err = NULL;
	spec_resources r;

	fake_knobs(f->root, "user.slice/sess/c1", v2_knobs);
	fake_resources("{\"memory\":{\"limit\":1073741824,\"reservation\":536870912,\"swap\":2147483648,"
		       "\"swappiness\":10},"
		       "\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000,\"burst\":2000,\"idle\":1,"
		       "\"cpus\":\"0-1\",\"mems\":\"0\"},"
		       "\"pids\":{\"limit\":0},"
		       "\"blockIO\":{\"weight\":500,\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":100}],"
		       "\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1048576}],"
		       "\"throttleWriteBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":2097152},"
		       "{\"major\":8,\"minor\":16,\"rate\":0}],"
		       "\"throttleReadIOPSDevice\":[{\"major\":8,\"minor\":16,\"rate\":300}],"
		       "\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":0,\"rate\":400}]},"
		       "\"hugepageLimits\":[{\"pageSize\":\"2048KB\",\"limit\":4194304}],"
		       "\"unified\":{\"memory.high\":\"805306368\"}}",
		       &r);
	fake_record_start(f->root);
	if (cgroup_manager_apply(m, &r, &err) < 0)
		fail_msg("apply: %s", err->msg);
	assert_string_equal(fake_recorded(), "user.slice/sess/c1/memory.swap.max=1073741824\n"
					     "user.slice/sess/c1/memory.max=1073741824\n"
					     "user.slice/sess/c1/memory.low=536870912\n"
					     "user.slice/sess/c1/cpu.weight=39\n"
					     "user.slice/sess/c1/cpu.max=50000 100000\n"
					     "user.slice/sess/c1/cpu.max.burst=2000\n"
					     "user.slice/sess/c1/cpu.idle=1\n"
					     "user.slice/sess/c1/cpuset.cpus=0-1\n"
					     "user.slice/sess/c1/cpuset.mems=0\n"
					     "user.slice/sess/c1/pids.max=max\n"
					     "user.slice/sess/c1/io.weight=4950\n"
					     "user.slice/sess/c1/io.weight=8:0 910\n"
					     "user.slice/sess/c1/io.max=8:0 rbps=1048576 wbps=2097152 wiops=400\n"
					     "user.slice/sess/c1/io.max=8:16 wbps=max riops=300\n"
					     "user.slice/sess/c1/hugetlb.2MB.max=4194304\n"
					     "user.slice/sess/c1/memory.high=805306368\n");
	assert_file(f, "user.slice/sess/c1/memory.max", "1073741824");
	assert_file(f, "user.slice/sess/c1/cpu.max", "50000 100000");
	spec_resources_clear(&r);

	/* -1 is "max"; swap equal to the limit is no swap; quota -1 keeps the period. */
	fake_resources("{\"memory\":{\"limit\":-1},\"cpu\":{\"quota\":-1,\"period\":250000}}", &r);
	fake_record_start(f->root);
	assert_int_equal(cgroup_manager_apply(m, &r, &err), 0);
	assert_string_equal(fake_recorded(), "user.slice/sess/c1/memory.swap.max=max\n"
					     "user.slice/sess/c1/memory.max=max\n"
					     "user.slice/sess/c1/cpu.max=max 250000\n");
	spec_resources_clear(&r);
	fake_resources("{\"memory\":{\"limit\":1048576,\"swap\":1048576},\"cpu\":{\"quota\":20000}}", &r);
	fake_record_start(f->root);
	assert_int_equal(cgroup_manager_apply(m, &r, &err), 0);
	assert_string_equal(fake_recorded(), "user.slice/sess/c1/memory.swap.max=0\n"
					     "user.slice/sess/c1/memory.max=1048576\n"
					     "user.slice/sess/c1/cpu.max=20000\n");
	spec_resources_clear(&r);
	/* Only a new period: the quota in place is kept. */
	fake_file(f->root, "user.slice/sess/c1/cpu.max", "30000 100000\n");
	fake_resources("{\"cpu\":{\"period\":50000}}", &r);
	assert_int_equal(cgroup_manager_apply(m, &r, &err), 0);
	assert_file(f, "user.slice/sess/c1/cpu.max", "30000 50000");
	spec_resources_clear(&r);
	destroy(f, m, "user.slice/sess/c1");
}

static void test_missing_knob_names_file(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, "c1");
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *want = NULL;
	_cleanup_free_ char *dir = fake_path(f->root, "user.slice/sess/c1");
	spec_resources r;

	fake_resources("{\"memory\":{\"limit\":1048576}}", &r);
	assert_true(cgroup_manager_apply(m, &r, &err) < 0);
	assert_true(asprintf(&want,
			     "cgroup \"memory.max\": write \"1048576\" to \"%s/memory.max\": No such file or directory",
			     dir) >= 0);
	assert_string_equal(err->msg, want);
	spec_resources_clear(&r);
	berth_error_free(&err);

	/* A unified key that is not a file of the cgroup. */
	fake_resources("{\"unified\":{\"memory.nonexistent\":\"1\"}}", &r);
	assert_true(cgroup_manager_apply(m, &r, &err) < 0);
	assert_non_null(strstr(err->msg, "linux.resources.unified \"memory.nonexistent\""));
	spec_resources_clear(&r);
	berth_error_free(&err);

	/* Invalid swap is refused before anything is written. */
	fake_resources("{\"pids\":{\"limit\":3},\"memory\":{\"swap\":1048576}}", &r);
	fake_record_start(f->root);
	assert_true(cgroup_manager_apply(m, &r, &err) < 0);
	assert_non_null(strstr(err->msg, "memory.swap.max"));
	assert_string_equal(fake_recorded(), "");
	spec_resources_clear(&r);
	berth_error_free(&err);

	fake_resources("{\"cpu\":{\"realtimeRuntime\":1000}}", &r);
	assert_true(cgroup_manager_apply(m, &r, &err) < 0);
	assert_non_null(strstr(err->msg, "not supported on cgroup v2"));
	spec_resources_clear(&r);
	destroy(f, m, NULL);
}

static void test_freeze_and_kill(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, "c1");
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	struct timespec t0, t1;
	bool frozen = false;
	size_t n = 0;

	fake_knobs(f->root, "user.slice/sess/c1", v2_knobs);
	assert_int_equal(cgroup_manager_enter(m, 777, &err), 0);
	assert_file(f, "user.slice/sess/c1/cgroup.procs", "777");
	/* The kernel reports the new state in cgroup.events. */
	fake_file(f->root, "user.slice/sess/c1/cgroup.events", "populated 1\nfrozen 1\n");
	assert_int_equal(cgroup_manager_freeze(m, true, &err), 0);
	assert_file(f, "user.slice/sess/c1/cgroup.freeze", "1");
	assert_int_equal(cgroup_manager_is_frozen(m, &frozen, &err), 0);
	assert_true(frozen);
	/* Still "frozen 1" when thawing: the wait gives up after ~2 s. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(cgroup_manager_freeze(m, false, &err) < 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(err->msg, "did not report \"frozen 0\""));
	assert_true(t1.tv_sec - t0.tv_sec >= 1 && t1.tv_sec - t0.tv_sec <= 4);
	berth_error_free(&err);

	/* SIGKILL through cgroup.kill when the kernel has it. */
	fake_file(f->root, "user.slice/sess/c1/cgroup.kill", "");
	assert_int_equal(cgroup_manager_kill_all(m, SIGKILL, &err), 0);
	assert_file(f, "user.slice/sess/c1/cgroup.kill", "1");

	fake_file(f->root, "user.slice/sess/c1/cgroup.procs", "9\n4\n");
	assert_int_equal(cgroup_manager_pids(m, &pids, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pids[0], 4);
	destroy(f, m, "user.slice/sess/c1");
}

/* exec --cgroup: the process joins an existing sub-cgroup; a controller
 * prefix has no meaning on v2 and is refused, as is a missing one. */
static void test_exec_sub_cgroup(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, "c1");
	cgroup_manager *joiner = NULL;
	_cleanup_error_ berth_error *err = NULL;
	const char *const sub[] = { "sub/inner", NULL };
	const char *const prefixed[] = { "memory:sub", NULL };
	const char *const missing[] = { "nosuch", NULL };
	json_t *j = cgroup_manager_to_json(m);

	assert_int_equal(cgroup_manager_from_json(j, &joiner, &err), 0);
	json_decref(j);
	fake_file(f->root, "user.slice/sess/c1/sub/inner/cgroup.procs", "");
	assert_true(cgroup_manager_select_sub(joiner, prefixed, &err) < 0);
	assert_non_null(strstr(err->msg, "cgroup v2 has one hierarchy"));
	berth_error_free(&err);
	assert_true(cgroup_manager_select_sub(joiner, missing, &err) < 0);
	assert_non_null(strstr(err->msg, "user.slice/sess/c1/nosuch\": No such file or directory"));
	berth_error_free(&err);
	assert_int_equal(cgroup_manager_select_sub(joiner, sub, &err), 0);
	assert_int_equal(cgroup_manager_enter(joiner, 4242, &err), 0);
	assert_file(f, "user.slice/sess/c1/sub/inner/cgroup.procs", "4242");
	assert_false(fake_exists(f->root, "user.slice/sess/c1/cgroup.procs"));
	cgroup_manager_free(joiner);
	fake_clear_files(f->root, "user.slice/sess/c1/sub/inner");
	destroy(f, m, NULL);
}

static void test_stats_v2(void **state)
{
	fixture *f = *state;
	cgroup_manager *m = create(f, "c1");
	_cleanup_error_ berth_error *err = NULL;
	json_t *s = NULL, *mem, *bytes;

	fake_file(f->root, "user.slice/sess/c1/cpu.stat",
		  "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 5\nnr_throttled 1\nthrottled_usec 7\n");
	fake_file(f->root, "user.slice/sess/c1/memory.current", "4096\n");
	fake_file(f->root, "user.slice/sess/c1/memory.max", "max\n");
	fake_file(f->root, "user.slice/sess/c1/memory.events", "low 0\nhigh 0\nmax 3\noom 0\n");
	fake_file(f->root, "user.slice/sess/c1/memory.stat", "anon 100\nfile 200\n");
	fake_file(f->root, "user.slice/sess/c1/pids.current", "2\n");
	fake_file(f->root, "user.slice/sess/c1/pids.max", "20\n");
	fake_file(f->root, "user.slice/sess/c1/io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
	assert_int_equal(cgroup_manager_stats(m, &s, &err), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(json_object_get(s, "cpu"), "usage"), "total")), 100000);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(json_object_get(s, "cpu"), "usage"), "kernel")), 40000);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(s, "cpu"), "throttling"),
							    "throttledTime")),
			 7000);
	mem = json_object_get(s, "memory");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(mem, "usage"), "usage")), 4096);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(mem, "usage"), "limit")), INT64_MAX);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(mem, "usage"), "failcnt")), 3);
	assert_int_equal(json_integer_value(json_object_get(mem, "cache")), 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "pids"), "limit")), 20);
	bytes = json_object_get(json_object_get(s, "blkio"), "ioServiceBytesRecursive");
	assert_int_equal(json_array_size(bytes), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(bytes, 0), "value")), 10);
	assert_string_equal(json_string_value(json_object_get(json_array_get(bytes, 0), "op")), "Read");
	json_decref(s);
	destroy(f, m, "user.slice/sess/c1");
}

static void test_json_round_trip(void **state)
{
	fixture *f = *state;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *text1 = NULL;
	_cleanup_free_ char *text2 = NULL;
	cgroup_manager *m = create(f, "c1"), *again = NULL;
	json_t *j = cgroup_manager_to_json(m), *j2;

	cgroup_manager_free(m);
	assert_int_equal(cgroup_manager_from_json(j, &again, &err), 0);
	assert_int_equal(cgroup_manager_mode(again), CGROUP_MODE_V2);
	assert_true(cgroup_manager_v2_fd(again) >= 0);
	j2 = cgroup_manager_to_json(again);
	text1 = json_dumps(j, JSON_SORT_KEYS);
	text2 = json_dumps(j2, JSON_SORT_KEYS);
	assert_string_equal(text1, text2);
	assert_non_null(strstr(text1, "\"mode\": \"v2\""));
	destroy(f, again, NULL);
	assert_false(fake_exists(f->root, "user.slice/sess/c1"));
	assert_true(fake_exists(f->root, "user.slice/sess"));
	/* Reopened after the cgroup is gone: no fd, destroy is a no-op. */
	assert_int_equal(cgroup_manager_from_json(j, &again, &err), 0);
	assert_int_equal(cgroup_manager_v2_fd(again), -1);
	destroy(f, again, NULL);
	json_decref(j);
	json_decref(j2);
}

int test_cgroup_v2_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_enables_controllers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_absolute_enables_from_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_writes_v2_knobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_knob_names_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_and_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_sub_cgroup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_round_trip, setup, teardown),
	};
	return cmocka_run_group_tests_name("cgroup-v2", tests, NULL, NULL);
}
