/* Unit tests of runtime/cgroup: path computation, conversions and the eBPF
 * device program here; the v1 and v2 managers against fake cgroupfs trees
 * in test_cgroup_v1.c and test_cgroup_v2.c. */
#include <errno.h>
#include <setjmp.h>
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
int test_cgroup_v2_run(void);

static void expect_request(const char *path, const char *id, bool systemd, const char *want, bool want_absolute)
{
	cgroup_options o = { .cgroups_path = path, .container_id = id, .systemd = systemd };
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *got = NULL;
	bool absolute = !want_absolute;

	if (cgroup_compute_request(&o, &got, &absolute, &err) < 0)
		fail_msg("%s: %s", path ? path : "(null)", err->msg);
	assert_string_equal(got, want);
	assert_int_equal(absolute, want_absolute);
}

static void expect_request_error(const char *path, bool systemd, const char *fragment)
{
	cgroup_options o = { .cgroups_path = path, .container_id = "c1", .systemd = systemd };
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *got = NULL;
	bool absolute;

	assert_true(cgroup_compute_request(&o, &got, &absolute, &err) < 0);
	assert_null(got);
	if (strstr(err->msg, fragment) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err->msg, fragment);
}

static void test_request_paths(void **state)
{
	(void)state;
	expect_request("/a/b", "c1", false, "a/b", true);
	expect_request("//a/./b/", "c1", false, "a/b", true);
	expect_request("x/y", "c1", false, "x/y", false);
	expect_request(NULL, "c1", false, "c1", false);
	expect_request("", "c2", false, "c2", false);
	expect_request("system.slice:berth:c1", "c1", true, "system.slice/berth-c1.scope", true);
	expect_request("a-b.slice:pfx:name", "c1", true, "a.slice/a-b.slice/pfx-name.scope", true);
	expect_request(":pfx:name", "c1", true, "system.slice/pfx-name.scope", true);
	expect_request("-.slice::name", "c1", true, "name.scope", true);
	expect_request("a.slice:p:sub-x.slice", "c1", true, "sub.slice/sub-x.slice", true);
	expect_request(NULL, "c9", true, "system.slice/berth-c9.scope", true);
}

static void test_request_errors(void **state)
{
	(void)state;
	expect_request_error("../escape", false, "\"..\" is not allowed");
	expect_request_error("/a/../../b", false, "\"..\" is not allowed");
	expect_request_error("a/..", false, "\"..\" is not allowed");
	expect_request_error("/", false, "root of the hierarchy");
	expect_request_error("/./", false, "root of the hierarchy");
	expect_request_error("/plain/path", true, "slice:prefix:name");
	expect_request_error("system.slice:p:..", true, "invalid unit name");
	expect_request_error("system.slice:p:a/b", true, "invalid unit name");
	expect_request_error("a--b.slice:p:n", true, "invalid dashes");
	expect_request_error("notaslice:p:n", true, "expected a name like");
	{
		cgroup_options o = { 0 };
		_cleanup_error_ berth_error *err = NULL;
		char *got = NULL;
		bool absolute;
		assert_true(cgroup_compute_request(&o, &got, &absolute, &err) < 0);
	}
}

static void test_expand_slice(void **state)
{
	static const char *const cases[][2] = { { "-.slice", "" },
						{ "system.slice", "system.slice" },
						{ "a-b-c.slice", "a.slice/a-b.slice/a-b-c.slice" } };
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		_cleanup_free_ char *out = NULL;
		assert_int_equal(cgroup_expand_slice(cases[i][0], &out, NULL), 0);
		assert_string_equal(out, cases[i][1]);
	}
	{
		char *out = NULL;
		assert_true(cgroup_expand_slice("-a.slice", &out, NULL) < 0);
		assert_true(cgroup_expand_slice("a-.slice", &out, NULL) < 0);
		assert_true(cgroup_expand_slice("a/b.slice", &out, NULL) < 0);
		assert_true(cgroup_expand_slice("slice", &out, NULL) < 0);
	}
}

static void test_self_parse(void **state)
{
	cgroup_self_entry *e = NULL;
	size_t n = 0;
	_cleanup_error_ berth_error *err = NULL;

	(void)state;
	assert_int_equal(
	    cgroup_self_parse("4:memory:/a/b\n2:cpu,cpuacct:/\n1:name=systemd:/x:y\n0::/u\n", &e, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(e[0].controllers, "memory");
	assert_string_equal(e[0].path, "/a/b");
	assert_string_equal(e[1].controllers, "cpu,cpuacct");
	assert_string_equal(e[2].controllers, "name=systemd");
	assert_string_equal(e[2].path, "/x:y");
	assert_string_equal(e[3].controllers, "");
	assert_string_equal(e[3].path, "/u");
	cgroup_self_free(e, n);
	assert_true(cgroup_self_parse("garbage\n", &e, &n, &err) < 0);
	assert_non_null(strstr(err->msg, "line 1"));
	assert_true(cgroup_controllers_overlap("cpu,cpuacct", "cpuacct"));
	assert_true(cgroup_controllers_overlap("name=systemd", "name=systemd"));
	assert_false(cgroup_controllers_overlap("cpu,cpuacct", "cpuset"));
	assert_false(cgroup_controllers_overlap("net_cls,net_prio", "net"));
}

/* exec --cgroup arguments, as runc reads them. */
static void test_sub_cgroup_syntax(void **state)
{
	static const struct {
		const char *args[3];
		enum cgroup_mode mode;
		const char *error; /* NULL: accepted */
	} cases[] = {
		{ { "sub", NULL }, CGROUP_MODE_V2, NULL },
		{ { "a/b", NULL }, CGROUP_MODE_V1, NULL },
		{ { "memory:a", "cpu,cpuacct:b" }, CGROUP_MODE_V1, NULL },
		{ { "memory:a", NULL }, CGROUP_MODE_V2, "cgroup v2 has one hierarchy" },
		{ { "a", "memory:b" }, CGROUP_MODE_V1, "each names its controllers" },
		{ { "memory:a", "memory,pids:b" }, CGROUP_MODE_V1, "named twice" },
		{ { ":a", NULL }, CGROUP_MODE_V1, "empty controller" },
		{ { "memory,:a", NULL }, CGROUP_MODE_V1, "empty controller" },
		{ { "", NULL }, CGROUP_MODE_V2, "relative path" },
		{ { "/abs", NULL }, CGROUP_MODE_V2, "relative path" },
		{ { "a/../..", NULL }, CGROUP_MODE_V2, "relative path" },
		{ { "./a", NULL }, CGROUP_MODE_V2, "relative path" },
		{ { "a/", NULL }, CGROUP_MODE_V2, "relative path" },
		{ { "memory:", NULL }, CGROUP_MODE_V1, "relative path" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_error_ berth_error *err = NULL;
		int ret = cgroup_check_sub_cgroups(cases[i].args, cases[i].mode, &err);
		if (cases[i].error == NULL && ret != 0)
			fail_msg("case %zu: %s", i, err->msg);
		if (cases[i].error != NULL && (ret == 0 || strstr(err->msg, cases[i].error) == NULL))
			fail_msg("case %zu: want \"%s\", got %s", i, cases[i].error, ret == 0 ? "success" : err->msg);
	}
}

static void test_hugepage_names(void **state)
{
	static const char *const cases[][2] = { { "2MB", "2MB" },   { "2M", "2MB" },	 { "2048KB", "2MB" },
						{ "1GB", "1GB" },   { "1G", "1GB" },	 { "2097152", "2MB" },
						{ "64KB", "64KB" }, { "1024MB", "1GB" }, { "16GB", "16GB" } };
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cgroup_hugepage_size_name(cases[i][0], buf, sizeof(buf), NULL), 0);
		assert_string_equal(buf, cases[i][1]);
	}
	assert_true(cgroup_hugepage_size_name("2XB", buf, sizeof(buf), NULL) < 0);
	assert_true(cgroup_hugepage_size_name("", buf, sizeof(buf), NULL) < 0);
	assert_true(cgroup_hugepage_size_name("512", buf, sizeof(buf), NULL) < 0);
}

static void test_conversions(void **state)
{
	int64_t swap = 0;
	bool set = false;
	_cleanup_error_ berth_error *err = NULL;

	(void)state;
	/* runc: 1 + ((shares - 2) * 9999) / 262142 */
	assert_int_equal(cgroup_v2_cpu_weight_from_shares(1024), 39);
	assert_int_equal(cgroup_v2_cpu_weight_from_shares(2), 1);
	assert_int_equal(cgroup_v2_cpu_weight_from_shares(512), 20);
	assert_int_equal(cgroup_v2_cpu_weight_from_shares(262144), 10000);
	/* runc: 1 + (weight - 10) * 9999 / 990 */
	assert_int_equal(cgroup_v2_io_weight_from_blkio(500), 4950);
	assert_int_equal(cgroup_v2_io_weight_from_blkio(10), 1);
	assert_int_equal(cgroup_v2_io_weight_from_blkio(1000), 10000);
	assert_int_equal(cgroup_v2_io_weight_from_blkio(100), 910);

	assert_int_equal(cgroup_v2_swap_from_memsw(2048, 1024, &swap, &set, &err), 0);
	assert_int_equal(swap, 1024);
	assert_int_equal(cgroup_v2_swap_from_memsw(1024, 1024, &swap, &set, &err), 0);
	assert_int_equal(swap, 0);
	assert_int_equal(cgroup_v2_swap_from_memsw(-1, 1024, &swap, &set, &err), 0);
	assert_int_equal(swap, -1);
	assert_int_equal(cgroup_v2_swap_from_memsw(0, -1, &swap, &set, &err), 0);
	assert_int_equal(swap, -1);
	assert_true(set);
	assert_int_equal(cgroup_v2_swap_from_memsw(0, 1024, &swap, &set, &err), 0);
	assert_false(set);
	assert_true(cgroup_v2_swap_from_memsw(2048, 0, &swap, &set, &err) < 0);
	assert_non_null(strstr(err->msg, "needs a memory limit"));
	assert_true(cgroup_v2_swap_from_memsw(512, 1024, &swap, &set, &err) < 0);
	assert_non_null(strstr(err->msg, "below the memory limit"));
}

#define DEV_RULE(a, t, maj, min, acc)                                                                                  \
	((spec_device_rule){ .allow = (a), .type = (t), .major = (maj), .minor = (min), .access = acc })

static void test_ebpf_program(void **state)
{
	spec_device_rule rules[] = {
		DEV_RULE(false, 'a', -1, -1, "rwm"), DEV_RULE(true, 'c', 1, 3, "rwm"), DEV_RULE(true, 'c', -1, -1, "m"),
		DEV_RULE(false, 'b', 8, 0, "rw"),    DEV_RULE(true, 'c', 5, -1, ""),
	};
	_cleanup_free_ struct bpf_insn *insns = NULL;
	_cleanup_error_ berth_error *err = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(cgroup_ebpf_build(rules, 5, &insns, &n, &err), 0);
	/* prologue 6; rules from last: "c 5:* ''" matches nothing (skipped);
	 * b 8:0 rw: type + 3 access + major + minor + 2 = 8;
	 * c *:* m: type + 3 access + 2 = 6; c 1:3 rwm: type + major + minor + 2 = 5;
	 * "a" deny: 2 and nothing after it (the default is unreachable). */
	assert_int_equal(n, 6 + 8 + 6 + 5 + 2);
	/* The block of "b 8:0 rw": type check jumps over the 7 that follow. */
	assert_int_equal(insns[6].code, BPF_JMP | BPF_JNE | BPF_K);
	assert_int_equal(insns[6].imm, BPF_DEVCG_DEV_BLOCK);
	assert_int_equal(insns[6].off, 7);
	assert_int_equal(insns[9].code, BPF_JMP | BPF_JNE | BPF_X);
	assert_int_equal(insns[9].off, 4);
	assert_int_equal(insns[10].imm, 8);
	assert_int_equal(insns[11].imm, 0);
	assert_int_equal(insns[12].imm, 0); /* deny */
	assert_int_equal(insns[13].code, BPF_JMP | BPF_EXIT);
	/* "a" deny-all block last: r0 = 0; exit. */
	assert_int_equal(insns[n - 2].imm, 0);
	assert_int_equal(insns[n - 1].code, BPF_JMP | BPF_EXIT);

	/* The verifier of the running kernel accepts it (needs root). */
	if (geteuid() == 0) {
		int fd = cgroup_ebpf_load(insns, n, &err);
		if (fd < 0)
			fail_msg("%s", err->msg);
		close(fd);
	}
}

static void test_ebpf_allow_all_stops(void **state)
{
	spec_device_rule rules[] = { DEV_RULE(true, 'c', 1, 3, "rwm"), DEV_RULE(true, 'a', -1, -1, "rwm"),
				     DEV_RULE(false, 'c', 1, 5, "w") };
	_cleanup_free_ struct bpf_insn *insns = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(cgroup_ebpf_build(rules, 3, &insns, &n, NULL), 0);
	/* c 1:5 w (type + 3 + major + minor + 2 = 8), then "a" allow (2); the
	 * c 1:3 rule before it is unreachable and left out. */
	assert_int_equal(n, 6 + 8 + 2);
	assert_int_equal(insns[n - 2].imm, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_paths),	     cmocka_unit_test(test_request_errors),
		cmocka_unit_test(test_expand_slice),	     cmocka_unit_test(test_self_parse),
		cmocka_unit_test(test_hugepage_names),	     cmocka_unit_test(test_conversions),
		cmocka_unit_test(test_sub_cgroup_syntax),    cmocka_unit_test(test_ebpf_program),
		cmocka_unit_test(test_ebpf_allow_all_stops),
	};
	int failed = cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);

	failed += test_cgroup_v1_run();
	failed += test_cgroup_v2_run();
	return failed ? 1 : 0;
}
