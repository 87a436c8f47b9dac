/* runtime-spec 1.2/1.3 fields of config.json: linux.memoryPolicy (mode,
 * nodes, flags and the rules between them), linux.netDevices, and idmapped
 * mounts (idmap/ridmap, a mount's uidMappings/gidMappings). Good documents
 * parse into the right structs, bad ones fail naming the JSON path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sched.h>
#include <linux/mempolicy.h>

#include "spec/spec.h"
#include "util/cleanup.h"

/* A valid document with LINUX_EXTRA inside "linux" (after the namespaces,
 * which are mount, pid, network and USER_NS when set) and TOP_EXTRA at the
 * top level. */
static char *doc(const char *linux_extra, const char *top_extra, bool user_ns)
{
	char *out = NULL;
	if (asprintf(
		&out,
		"{\"ociVersion\":\"1.3.0\",\"root\":{\"path\":\"rootfs\"},"
		"\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}}%s,"
		"\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"pid\"},{\"type\":\"network\"}%s]%s%s}}",
		top_extra, user_ns ? ",{\"type\":\"user\"}" : "",
		user_ns ? ",\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
			  "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]"
			: "",
		linux_extra) < 0)
		return NULL;
	return out;
}

static spec *parse(const char *text, berth_error **err)
{
	spec *s = NULL;
	if (spec_parse(text, &s, err) < 0)
		return NULL;
	return s;
}

static void expect_error(const char *text, const char *needle)
{
	_cleanup_error_ berth_error *err = NULL;
	spec *s = parse(text, &err);

	if (s != NULL) {
		spec_free(s);
		fail_msg("parsed but should fail with \"%s\": %s", needle, text);
	}
	assert_non_null(err);
	if (strstr(err->msg, needle) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err->msg, needle);
}

static spec *expect_ok(const char *text)
{
	_cleanup_error_ berth_error *err = NULL;
	spec *s = parse(text, &err);
	if (s == NULL)
		fail_msg("unexpected error: %s (%s)", err->msg, text);
	return s;
}

static bool node_set(const spec_memory_policy *mp, int n)
{
	const size_t bits = 8 * sizeof(unsigned long);
	return (mp->nodemask[n / bits] >> (n % bits)) & 1;
}

/* Valid policies: the mode and flags the kernel gets, the nodes. */
static void test_memory_policy_valid(void **state)
{
	static const struct {
		const char *policy;
		int mode;
		unsigned int flags;
		int highest;
	} cases[] = {
		{ "{\"mode\":\"MPOL_DEFAULT\"}", MPOL_DEFAULT, 0, -1 },
		{ "{\"mode\":\"MPOL_LOCAL\"}", MPOL_LOCAL, 0, -1 },
		{ "{\"mode\":\"MPOL_PREFERRED\"}", MPOL_PREFERRED, 0, -1 },
		{ "{\"mode\":\"MPOL_PREFERRED\",\"nodes\":\"1\"}", MPOL_PREFERRED, 0, 1 },
		{ "{\"mode\":\"MPOL_BIND\",\"nodes\":\"0-1,3\"}", MPOL_BIND, 0, 3 },
		{ "{\"mode\":\"MPOL_INTERLEAVE\",\"nodes\":\"2-3\",\"flags\":[\"MPOL_F_STATIC_NODES\"]}",
		  MPOL_INTERLEAVE, MPOL_F_STATIC_NODES, 3 },
		{ "{\"mode\":\"MPOL_WEIGHTED_INTERLEAVE\",\"nodes\":\"0,5\"}", 6, 0, 5 },
		{ "{\"mode\":\"MPOL_PREFERRED_MANY\",\"nodes\":\"0-3\",\"flags\":[\"MPOL_F_RELATIVE_NODES\"]}",
		  MPOL_PREFERRED_MANY, MPOL_F_RELATIVE_NODES, 3 },
		{ "{\"mode\":\"MPOL_BIND\",\"nodes\":\"0\",\"flags\":[\"MPOL_F_NUMA_BALANCING\"]}", MPOL_BIND,
		  MPOL_F_NUMA_BALANCING, 0 },
		{ "{\"mode\":\"MPOL_DEFAULT\",\"nodes\":\"\"}", MPOL_DEFAULT, 0, -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *extra = NULL;
		_cleanup_free_ char *text = NULL;
		spec *s;

		assert_true(asprintf(&extra, ",\"memoryPolicy\":%s", cases[i].policy) > 0);
		text = doc(extra, "", false);
		s = expect_ok(text);
		assert_true(s->memory_policy.present);
		assert_int_equal(s->memory_policy.mode, cases[i].mode);
		assert_int_equal(s->memory_policy.flags, cases[i].flags);
		assert_int_equal(s->memory_policy.highest_node, cases[i].highest);
		spec_free(s);
	}
	{
		_cleanup_free_ char *text =
		    doc(",\"memoryPolicy\":{\"mode\":\"MPOL_BIND\",\"nodes\":\"0-1,3,64\"}", "", false);
		spec *s = expect_ok(text);
		assert_true(node_set(&s->memory_policy, 0) && node_set(&s->memory_policy, 1));
		assert_false(node_set(&s->memory_policy, 2));
		assert_true(node_set(&s->memory_policy, 3) && node_set(&s->memory_policy, 64));
		assert_string_equal(s->memory_policy.nodes, "0-1,3,64");
		spec_free(s);
	}
	{
		_cleanup_free_ char *text = doc("", "", false);
		spec *s = expect_ok(text);
		assert_false(s->memory_policy.present);
		spec_free(s);
	}
	(void)state;
}

static void test_memory_policy_invalid(void **state)
{
	static const struct {
		const char *policy, *needle;
	} cases[] = {
		{ "{\"nodes\":\"0\"}", "linux.memoryPolicy.mode: required" },
		{ "{\"mode\":\"MPOL_FOO\"}", "linux.memoryPolicy.mode: unknown mode \"MPOL_FOO\"" },
		{ "{\"mode\":2}", "linux.memoryPolicy.mode: expected" },
		{ "{\"mode\":\"MPOL_BIND\"}", "linux.memoryPolicy.nodes: required with MPOL_BIND" },
		{ "{\"mode\":\"MPOL_INTERLEAVE\",\"nodes\":\"\"}",
		  "linux.memoryPolicy.nodes: required with MPOL_INTERLEAVE" },
		{ "{\"mode\":\"MPOL_WEIGHTED_INTERLEAVE\"}", "linux.memoryPolicy.nodes: required with MPOL_WEIGHTED" },
		{ "{\"mode\":\"MPOL_PREFERRED_MANY\"}", "linux.memoryPolicy.nodes: required with MPOL_PREFERRED_MANY" },
		{ "{\"mode\":\"MPOL_DEFAULT\",\"nodes\":\"0\"}",
		  "linux.memoryPolicy.nodes: MPOL_DEFAULT takes no nodes" },
		{ "{\"mode\":\"MPOL_LOCAL\",\"nodes\":\"0-1\"}",
		  "linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes" },
		{ "{\"mode\":\"MPOL_BIND\",\"nodes\":\"3-1\"}", "linux.memoryPolicy.nodes: invalid node list \"3-1\"" },
		{ "{\"mode\":\"MPOL_BIND\",\"nodes\":\"0,,1\"}", "linux.memoryPolicy.nodes: invalid node list" },
		{ "{\"mode\":\"MPOL_BIND\",\"nodes\":\"0,\"}", "linux.memoryPolicy.nodes: invalid node list" },
		{ "{\"mode\":\"MPOL_BIND\",\"nodes\":\"a\"}", "linux.memoryPolicy.nodes: invalid node list" },
		{ "{\"mode\":\"MPOL_BIND\",\"nodes\":\" 1\"}", "linux.memoryPolicy.nodes: invalid node list" },
		{ "{\"mode\":\"MPOL_BIND\",\"nodes\":\"1024\"}", "linux.memoryPolicy.nodes: invalid node list" },
		{ "{\"mode\":\"MPOL_BIND\",\"nodes\":\"0\",\"flags\":[\"MPOL_F_BOGUS\"]}",
		  "linux.memoryPolicy.flags[0]: unknown flag \"MPOL_F_BOGUS\"" },
		{ "{\"mode\":\"MPOL_BIND\",\"nodes\":\"0\",\"flags\":[\"MPOL_F_STATIC_NODES\",\"MPOL_F_RELATIVE_"
		  "NODES\"]}",
		  "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other" },
		{ "{\"mode\":\"MPOL_LOCAL\",\"flags\":[\"MPOL_F_STATIC_NODES\"]}",
		  "linux.memoryPolicy.flags: MPOL_LOCAL takes no nodes" },
		{ "{\"mode\":\"MPOL_DEFAULT\",\"flags\":[\"MPOL_F_RELATIVE_NODES\"]}",
		  "linux.memoryPolicy.flags: MPOL_DEFAULT takes no nodes" },
		{ "{\"mode\":\"MPOL_PREFERRED\",\"flags\":[\"MPOL_F_STATIC_NODES\"]}",
		  "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES need nodes" },
		{ "{\"mode\":\"MPOL_INTERLEAVE\",\"nodes\":\"0\",\"flags\":[\"MPOL_F_NUMA_BALANCING\"]}",
		  "MPOL_F_NUMA_BALANCING needs MPOL_BIND or MPOL_PREFERRED_MANY, not MPOL_INTERLEAVE" },
		{ "\"MPOL_BIND\"", "linux.memoryPolicy: expected an object" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *extra = NULL;
		_cleanup_free_ char *text = NULL;

		assert_true(asprintf(&extra, ",\"memoryPolicy\":%s", cases[i].policy) > 0);
		text = doc(extra, "", false);
		expect_error(text, cases[i].needle);
	}
	(void)state;
}

static void test_node_list(void **state)
{
	unsigned long mask[SPEC_MEMORY_POLICY_MAX_NODES / (8 * sizeof(unsigned long))] = { 0 };
	int highest;

	/* the form of /sys/devices/system/node/online */
	assert_int_equal(spec_node_list_parse("0-2,7\n", mask, &highest), 0);
	assert_int_equal(highest, 7);
	assert_int_equal(mask[0], 0x87UL);
	assert_int_equal(spec_node_list_parse("0\n\n", mask, &highest), -1);
	assert_int_equal(spec_node_list_parse("-1", mask, &highest), -1);
	(void)state;
}

static void test_net_devices(void **state)
{
	_cleanup_free_ char *text = doc(
	    ",\"netDevices\":{\"eth1\":{\"name\":\"ctr0\"},\"veth-x\":{},\"eth2\":{\"name\":\"net%d\"}}", "", false);
	spec *s = expect_ok(text);

	assert_int_equal(s->n_net_devices, 3);
	for (size_t i = 0; i < s->n_net_devices; i++) {
		const spec_net_device *d = &s->net_devices[i];
		if (strcmp(d->host_name, "eth1") == 0)
			assert_string_equal(d->name, "ctr0");
		else if (strcmp(d->host_name, "veth-x") == 0)
			assert_string_equal(d->name, "veth-x");
		else
			assert_string_equal(d->name, "net%d");
	}
	spec_free(s);

	static const struct {
		const char *devices, *needle;
	} bad[] = {
		{ "{\"eth1\":\"ctr0\"}", "linux.netDevices.eth1: expected an object" },
		{ "{\"eth1\":{\"name\":\"a/b\"}}", "linux.netDevices.eth1.name: invalid interface name \"a/b\"" },
		{ "{\"eth1\":{\"name\":\"sixteen-chars-xx\"}}", "linux.netDevices.eth1.name: invalid interface name" },
		{ "{\"eth1\":{\"name\":\"a%d%d\"}}", "linux.netDevices.eth1.name: invalid interface name" },
		{ "{\"eth1\":{\"name\":\"..\"}}", "linux.netDevices.eth1.name: invalid interface name" },
		{ "{\"e%d\":{}}", "linux.netDevices.e%d: invalid interface name" },
		{ "{\"eth1\":{\"name\":\"x0\"},\"eth2\":{\"name\":\"x0\"}}", "\"x0\" is also the name of" },
		{ "{\"eth1\":{\"name\":7}}", "linux.netDevices.eth1.name: expected" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_free_ char *extra = NULL;
		_cleanup_free_ char *t = NULL;
		assert_true(asprintf(&extra, ",\"netDevices\":%s", bad[i].devices) > 0);
		t = doc(extra, "", false);
		expect_error(t, bad[i].needle);
	}
	/* without a network namespace the devices would stay on the host */
	expect_error("{\"ociVersion\":\"1.3.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":"
		     "\"mount\"}],\"netDevices\":{\"eth1\":{}}}}",
		     "linux.netDevices: needs a network namespace");
	(void)state;
}

static void test_idmap_mounts(void **state)
{
	const char *maps = "\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":10}],"
			   "\"gidMappings\":[{\"containerID\":0,\"hostID\":2000,\"size\":5}]";
	_cleanup_free_ char *mounts = NULL;
	_cleanup_free_ char *text = NULL;
	spec *s;

	assert_true(
	    asprintf(&mounts,
		     ",\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"/tmp\",\"options\":"
		     "[\"rbind\",\"ridmap\"]},{\"destination\":\"/b\",\"type\":\"bind\",\"source\":\"/tmp\","
		     "\"options\":[\"bind\",\"idmap\"],%s},{\"destination\":\"/c\",\"type\":\"bind\",\"source\":"
		     "\"/tmp\",\"options\":[\"bind\"],%s},{\"destination\":\"/d\",\"type\":\"bind\",\"source\":"
		     "\"/tmp\",\"options\":[\"bind\"]}]",
		     maps, maps) > 0);
	text = doc("", mounts, true);
	s = expect_ok(text);
	assert_true(s->mounts[0].idmap && s->mounts[0].idmap_recursive);
	assert_int_equal(s->mounts[0].n_uid_mappings, 0);
	assert_true(s->mounts[1].idmap && !s->mounts[1].idmap_recursive);
	assert_int_equal(s->mounts[1].uid_mappings[0].host_id, 1000);
	assert_int_equal(s->mounts[1].gid_mappings[0].host_id, 2000);
	assert_int_equal(s->mounts[1].gid_mappings[0].size, 5);
	/* mappings without the option are not ignored */
	assert_true(s->mounts[2].idmap);
	assert_false(s->mounts[3].idmap);
	/* "idmap" is no filesystem data */
	assert_null(s->mounts[0].data);
	spec_free(s);

	/* the container's mappings are needed when the mount has none */
	_cleanup_free_ char *no_userns = doc("",
					     ",\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"/t\","
					     "\"options\":[\"bind\",\"idmap\"]}]",
					     false);
	expect_error(no_userns, "mounts[0]: \"idmap\" without uidMappings/gidMappings takes the container's");
	_cleanup_free_ char *own_maps = NULL;
	assert_true(asprintf(&own_maps,
			     ",\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"/t\",\"options\":"
			     "[\"bind\",\"idmap\"],%s}]",
			     maps) > 0);
	_cleanup_free_ char *own_text = doc("", own_maps, false);
	spec_free(expect_ok(own_text));
	_cleanup_free_ char *half = doc("",
					",\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"/t\","
					"\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}]",
					true);
	expect_error(half, "mounts[0]: uidMappings and gidMappings must be given together");
	_cleanup_free_ char *tmpfs = doc("",
					 ",\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
					 "\"options\":[\"idmap\"]}]",
					 true);
	expect_error(tmpfs, "mounts[0]: idmapped mounts are supported for bind mounts only");
	_cleanup_free_ char *badmap = doc("",
					  ",\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"/t\","
					  "\"uidMappings\":[{\"containerID\":0,\"hostID\":1}],\"gidMappings\":[]}]",
					  true);
	expect_error(badmap, "mounts[0].uidMappings[0]: containerID, hostID and size are required");
	(void)state;
}

static void test_exec_cpu_affinity(void **state)
{
	_cleanup_error_ berth_error *err = NULL;
	spec_process *p = NULL;
	cpu_set_t set;
	int highest;

	assert_int_equal(spec_parse_process("{\"args\":[\"sh\"],\"execCPUAffinity\":{\"initial\":\"7\","
					    "\"final\":\"0-3,7\"}}",
					    &p, &err),
			 0);
	assert_string_equal(p->exec_cpu_affinity_initial, "7");
	assert_string_equal(p->exec_cpu_affinity_final, "0-3,7");
	spec_process_free(p);
	p = NULL;
	/* empty: leave the affinity alone */
	assert_int_equal(spec_parse_process("{\"args\":[\"sh\"],\"execCPUAffinity\":{\"final\":\"\"}}", &p, &err), 0);
	assert_null(p->exec_cpu_affinity_final);
	assert_null(p->exec_cpu_affinity_initial);
	spec_process_free(p);
	p = NULL;
	assert_int_equal(spec_parse_process("{\"args\":[\"sh\"],\"execCPUAffinity\":{\"initial\":\"1-0\"}}", &p, &err),
			 -1);
	assert_non_null(strstr(err->msg, "process.execCPUAffinity.initial: invalid CPU list \"1-0\""));

	CPU_ZERO(&set);
	assert_int_equal(spec_cpu_list_parse("0-2,5", &set, sizeof(set), &highest), 0);
	assert_int_equal(highest, 5);
	assert_true(CPU_ISSET(0, &set) && CPU_ISSET(2, &set) && !CPU_ISSET(3, &set) && CPU_ISSET(5, &set));
	assert_int_equal(spec_cpu_list_parse("", NULL, 0, &highest), -1);
	assert_int_equal(spec_cpu_list_parse("0;1", NULL, 0, &highest), -1);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_policy_valid), cmocka_unit_test(test_memory_policy_invalid),
		cmocka_unit_test(test_node_list),	    cmocka_unit_test(test_net_devices),
		cmocka_unit_test(test_idmap_mounts),	    cmocka_unit_test(test_exec_cpu_affinity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
