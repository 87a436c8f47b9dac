/* config.json parser and validator: good documents parse into the right
 * structs, bad ones fail with the JSON path in the message. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <linux/capability.h>
#include <sched.h>

#include "spec/spec.h"
#include "util/cleanup.h"

/* A minimal valid document with a hole ("%s") inside the top-level object. */
static const char *const base_doc = "{\"ociVersion\":\"%s\",\"root\":{\"path\":\"rootfs\"},"
				    "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}},"
				    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"pid\"}]}%s}";

static char *doc(const char *version, const char *extra)
{
	char *out = NULL;
	if (asprintf(&out, base_doc, version, extra) < 0)
		return NULL;
	return out;
}

/* Parses TEXT expecting failure whose message contains NEEDLE. */
static void expect_error(const char *text, const char *needle)
{
	_cleanup_error_ berth_error *err = NULL;
	spec *s = NULL;
	int ret = spec_parse(text, &s, &err);

	if (ret == 0) {
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
	spec *s = NULL;
	if (spec_parse(text, &s, &err) < 0)
		fail_msg("unexpected error: %s", err->msg);
	return s;
}

static void test_minimal_document(void **state)
{
	_cleanup_free_ char *text = doc("1.2.0", "");
	spec *s = expect_ok(text);

	assert_string_equal(s->root_path, "rootfs");
	assert_string_equal(s->process->args[0], "sh");
	assert_null(s->process->args[1]);
	assert_true(s->namespaces[NS_MOUNT].requested);
	assert_true(s->namespaces[NS_PID].requested);
	assert_false(s->namespaces[NS_NETWORK].requested);
	assert_false(s->process->has_capabilities);
	spec_free(s);
	(void)state;
}

static void test_versions(void **state)
{
	static const char *const good[] = { "1.0.0", "1.0.2", "1.1.0", "1.2.0", "1.2.1", "1.3.0" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		_cleanup_free_ char *text = doc(good[i], "");
		spec_free(expect_ok(text));
	}
	_cleanup_free_ char *v2 = doc("2.0.0", "");
	expect_error(v2, "ociVersion: unsupported version \"2.0.0\"");
	_cleanup_free_ char *v0 = doc("0.9", "");
	expect_error(v0, "ociVersion");
	(void)state;
}

static void test_unknown_fields_are_ignored(void **state)
{
	_cleanup_free_ char *text = doc("1.2.0", ",\"vm\":{\"kernel\":{}},\"futureField\":[1,2,3]");
	spec_free(expect_ok(text));
	(void)state;
}

static void test_invalid_json(void **state)
{
	expect_error("{\"ociVersion\": ", "invalid JSON at line 1");
	expect_error("[1,2]", "expected a JSON object");
	(void)state;
}

static void test_type_errors_name_the_path(void **state)
{
	expect_error("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":\"sh\",\"cwd\":\"/\"},"
		     "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
		     "process.args: expected an array, got string");
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\",3],\"cwd\":\"/\"},"
	    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
	    "process.args[1]: expected a string, got integer");
	expect_error("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
		     "\"user\":{\"uid\":-1}},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
		     "process.user.uid: -1 is out of range");
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"tmp\"},"
	    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
	    "process.cwd: \"tmp\" is not an absolute path");
	expect_error("{\"ociVersion\":\"1.2.0\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}}", "root: required");
	(void)state;
}

static void test_capabilities(void **state)
{
	_cleanup_free_ char *good = doc("1.2.0", ",\"x\":0");
	spec_free(expect_ok(good));
	const char *caps =
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
	    "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"]}},"
	    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}";
	spec *s = expect_ok(caps);
	assert_true(s->process->has_capabilities);
	assert_true(s->process->capabilities.present[CAP_SET_BOUNDING]);
	assert_false(s->process->capabilities.present[CAP_SET_INHERITABLE]);
	assert_int_equal(s->process->capabilities.sets[CAP_SET_BOUNDING], (1ULL << CAP_CHOWN) | (1ULL << CAP_KILL));
	assert_int_equal(s->process->capabilities.sets[CAP_SET_EFFECTIVE], 1ULL << CAP_KILL);
	spec_free(s);
	expect_error("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
		     "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_NET_RAW\",\"CAP_FOO\"]}},"
		     "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
		     "process.capabilities.bounding[3]: unknown capability \"CAP_FOO\"");
	expect_error("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
		     "\"capabilities\":{\"ambient\":[\"chown\"]}},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
		     "process.capabilities.ambient[0]: unknown capability \"chown\"");
	assert_int_equal(spec_capability_from_name("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
	assert_string_equal(spec_capability_name(CAP_NET_BIND_SERVICE), "CAP_NET_BIND_SERVICE");
	(void)state;
}

static void test_rlimits(void **state)
{
	const char *ok =
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
	    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":4096},"
	    "{\"type\":\"RLIMIT_CORE\",\"soft\":18446744073709551615,\"hard\":18446744073709551615}]},"
	    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}";
	spec *s = expect_ok(ok);
	assert_int_equal(s->process->n_rlimits, 2);
	assert_int_equal(s->process->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(s->process->rlimits[0].soft, 1024);
	assert_true(s->process->rlimits[1].hard == UINT64_MAX);
	spec_free(s);
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
	    "\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]},\"linux\":{\"namespaces\":[{\"type\":"
	    "\"mount\"}]}}",
	    "process.rlimits[0].type: unknown rlimit \"RLIMIT_BOGUS\"");
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
	    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":10,\"hard\":1}]},\"linux\":{\"namespaces\":[{\"type\":"
	    "\"mount\"}]}}",
	    "process.rlimits[0]: soft limit 10 is above hard limit 1");
	(void)state;
}

static void test_mount_options(void **state)
{
	_cleanup_free_ char *text =
	    doc("1.2.0",
		",\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/tmp\",\"options\":[\"rbind\","
		"\"ro\",\"nosuid\",\"nodev\",\"noexec\",\"rslave\"]},{\"destination\":\"/t\",\"type\":\"tmpfs\","
		"\"source\":\"tmpfs\",\"options\":[\"mode=755\",\"size=1m\",\"nosuid\",\"rw\"]},"
		"{\"destination\":\"rel\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}]");
	spec *s = expect_ok(text);
	assert_int_equal(s->n_mounts, 3);
	assert_true(s->mounts[0].bind && s->mounts[0].rbind);
	assert_int_equal(s->mounts[0].flags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	assert_int_equal(s->mounts[0].propagation, MS_SLAVE | MS_REC);
	assert_string_equal(s->mounts[1].data, "mode=755,size=1m");
	assert_int_equal(s->mounts[1].flags, MS_NOSUID);
	assert_string_equal(s->mounts[2].destination, "/rel");
	spec_free(s);
	_cleanup_free_ char *bad = doc("1.2.0", ",\"mounts\":[{\"destination\":\"/x\",\"options\":[\"bind\"]}]");
	expect_error(bad, "mounts[0].source: required for a bind mount");
	_cleanup_free_ char *notype = doc("1.2.0", ",\"mounts\":[{\"destination\":\"/x\",\"source\":\"x\"}]");
	expect_error(notype, "mounts[0].type: required");
	(void)state;
}

static void test_namespaces(void **state)
{
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"},"
	    "{\"type\":\"bogus\"}]}}",
	    "linux.namespaces[1].type: unknown namespace type \"bogus\"");
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"},"
	    "{\"type\":\"mount\"}]}}",
	    "linux.namespaces[1].type: duplicate namespace \"mount\"");
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"},"
	    "{\"type\":\"network\",\"path\":\"relative\"}]}}",
	    "linux.namespaces[1].path: \"relative\" is not an absolute path");
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"},"
	    "{\"type\":\"user\"}]}}",
	    "linux.uidMappings: required for a new user namespace");
	expect_error("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"hostname\":\"h\",\"linux\":{\"namespaces\":"
		     "[{\"type\":\"mount\"}]}}",
		     "hostname: setting a hostname needs a private uts namespace");
	spec *s = expect_ok("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":"
			    "\"mount\"},{\"type\":\"user\"},{\"type\":\"network\",\"path\":\"/var/run/netns/x\"}],"
			    "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
			    "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}}");
	assert_int_equal(spec_ns_clone_flag(NS_USER), CLONE_NEWUSER);
	assert_string_equal(s->namespaces[NS_NETWORK].path, "/var/run/netns/x");
	assert_int_equal(s->uid_mappings[0].host_id, 100000);
	assert_int_equal(s->gid_mappings[0].size, 65536);
	assert_null(s->process);
	spec_free(s);
	(void)state;
}

/* A namespace left out is inherited: without a mount namespace the rootfs is
 * built in a private one (runtime); a user namespace cannot do that. */
static void test_inherited_mount_namespace(void **state)
{
	spec_free(expect_ok("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":["
			    "{\"type\":\"pid\"}]}}"));
	spec_free(expect_ok("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[]}}"));
	spec_free(expect_ok("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"}}"));
	expect_error("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":"
		     "\"user\"}],\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
		     "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}}",
		     "linux.namespaces: a user namespace needs a mount namespace too");
	expect_error("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"mounts\":[{\"destination\":\"/m\","
		     "\"type\":\"bind\",\"source\":\"/tmp\",\"options\":[\"rbind\",\"runbindable\"]}],"
		     "\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}",
		     "mounts[0]: unbindable propagation needs a mount namespace");
	expect_error("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"rootfsPropagation\":"
		     "\"shared\",\"namespaces\":[{\"type\":\"pid\"}]}}",
		     "linux.rootfsPropagation: needs a private mount namespace");
	(void)state;
}

static void test_sysctl_must_be_namespaced(void **state)
{
	spec_free(expect_ok("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":"
			    "\"mount\"},{\"type\":\"ipc\"},{\"type\":\"network\"}],\"sysctl\":{\"kernel.shmmax\":\"1\","
			    "\"net.ipv4.ip_forward\":\"1\",\"fs.mqueue.msg_max\":\"20\"}}}"));
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}],"
	    "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}}}",
	    "\"net.ipv4.ip_forward\" needs a private network namespace");
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"},"
	    "{\"type\":\"ipc\"}],\"sysctl\":{\"kernel.panic\":\"1\"}}}",
	    "\"kernel.panic\" is not namespaced");
	(void)state;
}

static void test_sysctl_hostname_conflicts(void **state)
{
	static const char *const fmt =
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},%s\"linux\":{\"namespaces\":[{\"type\":"
	    "\"mount\"},{\"type\":\"uts\"}],\"sysctl\":{%s}}}";
	char text[512];

	snprintf(text, sizeof(text), fmt, "\"hostname\":\"a\",", "\"kernel.hostname\":\"b\"");
	expect_error(text, "linux.sysctl: \"kernel.hostname\" (\"b\") conflicts with hostname (\"a\")");
	snprintf(text, sizeof(text), fmt, "\"domainname\":\"a\",", "\"kernel.domainname\":\"b\"");
	expect_error(text, "conflicts with domainname (\"a\")");
	/* the same value, or only one of the two, is no conflict */
	snprintf(text, sizeof(text), fmt, "\"hostname\":\"a\",", "\"kernel.hostname\":\"a\"");
	spec_free(expect_ok(text));
	snprintf(text, sizeof(text), fmt, "", "\"kernel.hostname\":\"b\",\"kernel.domainname\":\"c\"");
	spec_free(expect_ok(text));
	(void)state;
}

static void test_device_paths_are_cleaned(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/dev/fuse/", "/dev/fuse" }, { "//dev//sub/./x", "/dev/sub/x" },
		{ "/dev/a/../b", "/dev/b" },   { "/../../dev/x", "/dev/x" },
		{ "/dev/x", "/dev/x" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		spec *s;

		snprintf(text, sizeof(text),
			 "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":"
			 "\"mount\"}],\"devices\":[{\"path\":\"%s\",\"type\":\"c\",\"major\":1,\"minor\":3}]}}",
			 cases[i].in);
		s = expect_ok(text);
		assert_string_equal(s->devices[0].path, cases[i].out);
		spec_free(s);
	}
	expect_error("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":"
		     "\"mount\"}],\"devices\":[{\"path\":\"/dev/..\",\"type\":\"c\",\"major\":1,\"minor\":3}]}}",
		     "linux.devices[0].path: names no device");
}

static void test_resources(void **state)
{
	spec_resources r;
	_cleanup_error_ berth_error *err = NULL;

	assert_int_equal(
	    spec_parse_resources("{\"memory\":{\"limit\":1048576,\"swap\":2097152,\"swappiness\":-1},"
				 "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"cpus\":\"0\"},"
				 "\"pids\":{\"limit\":10},\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
				 "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3}],"
				 "\"unified\":{\"memory.high\":\"1M\"}}",
				 &r, &err),
	    0);
	assert_true(r.has_memory_limit);
	assert_int_equal(r.memory_limit, 1048576);
	assert_false(r.has_memory_swappiness);
	assert_int_equal(r.cpu_shares, 512);
	assert_string_equal(r.cpu_cpus, "0");
	assert_int_equal(r.pids_limit, 10);
	assert_int_equal(r.n_devices, 2);
	assert_int_equal(r.devices[0].type, 'a');
	assert_int_equal(r.devices[0].major, -1);
	assert_string_equal(r.devices[1].access, "rwm");
	assert_string_equal(r.unified[0].key, "memory.high");
	spec_resources_clear(&r);
	assert_true(spec_parse_resources("{\"memory\":{\"limit\":2097152,\"swap\":1048576}}", &r, &err) < 0);
	assert_non_null(strstr(err->msg, "resources.memory.swap"));
	berth_error_free(&err);
	assert_true(spec_parse_resources("{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}", &r, &err) < 0);
	assert_non_null(strstr(err->msg, "resources.devices[0].access"));
	berth_error_free(&err);
	assert_true(spec_parse_resources("{\"unified\":{\"../x\":\"1\"}}", &r, &err) < 0);
	assert_non_null(strstr(err->msg, "is not a cgroup v2 file name"));
	(void)state;
}

static void test_hooks(void **state)
{
	_cleanup_free_ char *text = doc("1.2.0", ",\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\",\"args\":[\"true\","
						 "\"a\"],\"env\":[\"A=1\"],\"timeout\":5}],\"poststop\":[{\"path\":"
						 "\"/bin/false\"}]}");
	spec *s = expect_ok(text);
	assert_int_equal(s->hooks[HOOK_PRESTART].n, 1);
	assert_int_equal(s->hooks[HOOK_PRESTART].hooks[0].timeout, 5);
	assert_string_equal(s->hooks[HOOK_PRESTART].hooks[0].args[1], "a");
	assert_int_equal(s->hooks[HOOK_POSTSTOP].n, 1);
	spec_free(s);
	_cleanup_free_ char *bad = doc("1.2.0", ",\"hooks\":{\"createRuntime\":[{\"path\":\"true\"}]}");
	expect_error(bad, "hooks.createRuntime[0].path: an absolute path is required");
	_cleanup_free_ char *badt = doc("1.2.0", ",\"hooks\":{\"poststart\":[{\"path\":\"/x\",\"timeout\":0}]}");
	expect_error(badt, "hooks.poststart[0].timeout");
	(void)state;
}

static void test_seccomp_section(void **state)
{
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}],"
	    "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOPE\"}}}",
	    "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"");
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}],"
	    "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mount\"],"
	    "\"action\":\"SCMP_ACT_NOTIFY\"}]}}}",
	    "listenerPath: required when SCMP_ACT_NOTIFY is used");
	expect_error(
	    "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}],"
	    "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_Z80\"]}}}",
	    "linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_Z80\"");
	spec *a = expect_ok("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":"
			    "\"mount\"}],\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			    "[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}]}}}");
	spec *b = expect_ok("{\"linux\":{\"seccomp\":{\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38,"
			    "\"names\":[\"getppid\"]}],\"defaultAction\":\"SCMP_ACT_ALLOW\"},\"namespaces\":[{\"type\":"
			    "\"mount\"}]},\"root\":{\"path\":\"r\"},\"ociVersion\":\"1.2.0\"}");
	/* the cache key does not depend on key order */
	assert_string_equal(a->seccomp.source_hash, b->seccomp.source_hash);
	assert_int_equal(a->seccomp.rules[0].n_names, 1);
	spec_free(a);
	spec_free(b);
	(void)state;
}

static void test_signals_and_ids(void **state)
{
	assert_int_equal(spec_signal_from_string("KILL"), SIGKILL);
	assert_int_equal(spec_signal_from_string("SIGTERM"), SIGTERM);
	assert_int_equal(spec_signal_from_string("sigusr1"), SIGUSR1);
	assert_int_equal(spec_signal_from_string("9"), 9);
	assert_int_equal(spec_signal_from_string("RTMIN+1"), SIGRTMIN + 1);
	assert_int_equal(spec_signal_from_string("NOPE"), -1);
	assert_int_equal(spec_signal_from_string("0"), -1);
	assert_int_equal(spec_signal_from_string("9x"), -1);
	assert_int_equal(spec_validate_container_id("abc-1_2.3+x", NULL), 0);
	assert_true(spec_validate_container_id("", NULL) < 0);
	assert_true(spec_validate_container_id("../etc", NULL) < 0);
	assert_true(spec_validate_container_id("a/b", NULL) < 0);
	assert_true(spec_validate_container_id("-a", NULL) < 0);
	(void)state;
}

static void test_process_object(void **state)
{
	_cleanup_error_ berth_error *err = NULL;
	spec_process *p = NULL;

	assert_int_equal(
	    spec_parse_process("{\"args\":[\"ls\"],\"cwd\":\"/tmp\",\"env\":[\"A=B\"],\"terminal\":true,"
			       "\"user\":{\"uid\":1000,\"gid\":100,\"additionalGids\":[5,6],\"umask\":18}}",
			       &p, &err),
	    0);
	assert_true(p->terminal);
	assert_int_equal(p->user.uid, 1000);
	assert_int_equal(p->user.n_additional_gids, 2);
	assert_int_equal(p->user.umask, 022);
	spec_process_free(p);
	assert_true(spec_parse_process("{\"args\":[],\"cwd\":\"/\"}", &p, &err) < 0);
	assert_non_null(strstr(err->msg, "process.args: at least one argument is required"));
	berth_error_free(&err);
	assert_true(spec_parse_process("{\"args\":[\"x\"],\"env\":[\"NOEQUALS\"]}", &p, &err) < 0);
	assert_non_null(strstr(err->msg, "process.env[0]"));
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_document),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_unknown_fields_are_ignored),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_type_errors_name_the_path),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_rlimits),
		cmocka_unit_test(test_mount_options),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_inherited_mount_namespace),
		cmocka_unit_test(test_sysctl_must_be_namespaced),
		cmocka_unit_test(test_sysctl_hostname_conflicts),
		cmocka_unit_test(test_device_paths_are_cleaned),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_seccomp_section),
		cmocka_unit_test(test_signals_and_ids),
		cmocka_unit_test(test_process_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
