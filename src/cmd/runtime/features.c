/* `features`: what this runtime supports, in runtime-spec features.md form. */
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cmd/runtime/commands.h"
#include "spec/spec.h"
#include "util/cleanup.h"

static const option_spec specs[] = { { NULL, 0, false, NULL } };

static json_t *strings(const char *const *list)
{
	json_t *arr = json_array();
	for (; *list; list++)
		json_array_append_new(arr, json_string(*list));
	return arr;
}

static json_t *capability_names(void)
{
	json_t *arr = json_array();
	for (int cap = 0; cap <= spec_capability_last(); cap++)
		json_array_append_new(arr, json_string(spec_capability_name(cap)));
	return arr;
}

int cmd_features(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	static const char *const hooks[] = {
		"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop", NULL
	};
	static const char *const mount_options[] = {
		"async",      "atime",	       "bind",	      "defaults",    "dev",	   "diratime",
		"dirsync",    "exec",	       "idmap",	      "lazytime",    "loud",	   "mand",
		"noatime",    "nodev",	       "nodiratime",  "noexec",	     "nolazytime", "nomand",
		"norelatime", "nostrictatime", "nosuid",      "nosymfollow", "private",	   "rbind",
		"relatime",   "remount",       "ridmap",      "ro",	     "rprivate",   "rro",
		"rshared",    "rslave",	       "runbindable", "rw",	     "shared",	   "silent",
		"slave",      "strictatime",   "suid",	      "symfollow",   "sync",	   "unbindable",
		NULL
	};
	static const char *const namespaces[] = { "cgroup", "ipc",  "mount", "network", "pid",
						  "time",   "user", "uts",   NULL };
	static const char *const actions[] = {
		"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO",  "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
		"SCMP_ACT_LOG",	  "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",		NULL
	};
	static const char *const operators[] = { "SCMP_CMP_EQ", "SCMP_CMP_GE",	      "SCMP_CMP_GT", "SCMP_CMP_LE",
						 "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", NULL };
	static const char *const archs[] = { "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",     "SCMP_ARCH_X32",
					     "SCMP_ARCH_X86",	  "SCMP_ARCH_X86_64",  "SCMP_ARCH_PPC64LE",
					     "SCMP_ARCH_S390X",	  "SCMP_ARCH_RISCV64", NULL };
	static const char *const flags[] = { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
					     "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
					     NULL };
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	json_t *out;
	int npos, ret = command_parse("features", "features", specs, argc, argv, false, v, &pos, &npos, 0, 0, err);
	bool apparmor = access("/sys/kernel/security/apparmor", F_OK) == 0;
	bool selinux = access("/sys/fs/selinux/enforce", F_OK) == 0;

	(void)g;
	if (ret != 0)
		return ret < 0 ? 1 : 0;
	out = json_pack("{s:s, s:s, s:o, s:o, s:{s:o, s:o, s:{s:b, s:b, s:b, s:b, s:b}, s:{s:b, s:o, s:o, s:o, s:o, "
			"s:o}, s:{s:b}, s:{s:b}, s:{s:b}, s:{s:{s:b}}}, s:{s:s, s:s}}",
			"ociVersionMin", "1.0.0", "ociVersionMax", "1.3.0", "hooks", strings(hooks), "mountOptions",
			strings(mount_options), "linux", "namespaces", strings(namespaces), "capabilities",
			capability_names(), "cgroup", "v1", 1, "v2", 1, "systemd", 0, "systemdUser", 0, "rdma", 0,
			"seccomp", "enabled", 1, "actions", strings(actions), "operators", strings(operators), "archs",
			strings(archs), "knownFlags", strings(flags), "supportedFlags", strings(flags), "apparmor",
			"enabled", apparmor, "selinux", "enabled", selinux, "intelRdt", "enabled", 0, "mountExtensions",
			"idmap", "enabled", 1, "annotations", "io.github.berth.runtime.version", BERTH_VERSION_STRING,
			"io.github.berth.runtime.checkpoint.enabled", "false");
	/* runtime-spec 1.3 */
	json_object_set_new(json_object_get(out, "linux"), "memoryPolicy",
			    json_pack("{s:o, s:o}", "modes", strings(spec_memory_policy_modes), "flags",
				      strings(spec_memory_policy_flags)));
	json_object_set_new(json_object_get(out, "linux"), "netDevices", json_pack("{s:b}", "enabled", 1));
	command_print_json(out, true);
	json_decref(out);
	return 0;
}
