/* The default config.json (what `berth-runtime spec` writes and the base of
 * the configs berth generates from images). */
#include "spec/default.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

static json_t *mount_entry(const char *dest, const char *type, const char *source, const char *opts)
{
	json_t *m = json_pack("{s:s, s:s, s:s}", "destination", dest, "type", type, "source", source);
	json_t *arr = json_array();
	_cleanup_free_ char *copy = strdup(opts);
	for (char *save = NULL, *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save))
		json_array_append_new(arr, json_string(o));
	json_object_set_new(m, "options", arr);
	return m;
}

json_t *spec_default_config(bool rootless)
{
	static const char *const caps[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" };
	static const char *const masked[] = { "/proc/acpi",
					      "/proc/asound",
					      "/proc/kcore",
					      "/proc/keys",
					      "/proc/latency_stats",
					      "/proc/timer_list",
					      "/proc/timer_stats",
					      "/proc/sched_debug",
					      "/sys/firmware",
					      "/proc/scsi",
					      "/sys/devices/virtual/powercap" };
	static const char *const readonly[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
						"/proc/sysrq-trigger" };
	json_t *capset = json_array(), *mounts = json_array(), *ns = json_array(), *arr;
	json_t *cfg, *linux_obj, *process;

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		json_array_append_new(capset, json_string(caps[i]));
	process = json_pack("{s:b, s:{s:i, s:i}, s:[s], s:[s, s], s:s, s:{s:O, s:O, s:O}, s:[{s:s, s:i, s:i}], s:b}",
			    "terminal", 1, "user", "uid", 0, "gid", 0, "args", "sh", "env",
			    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "cwd",
			    "/", "capabilities", "bounding", capset, "effective", capset, "permitted", capset,
			    "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024, "noNewPrivileges", 1);
	json_decref(capset);
	json_array_append_new(mounts, mount_entry("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(mounts, mount_entry("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(mounts,
			      mount_entry("/dev/pts", "devpts", "devpts",
					  rootless ? "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"
						   : "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	json_array_append_new(mounts,
			      mount_entry("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
	json_array_append_new(mounts, mount_entry("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	if (rootless)
		json_array_append_new(mounts, mount_entry("/sys", "none", "/sys", "rbind,nosuid,noexec,nodev,ro"));
	else
		json_array_append_new(mounts, mount_entry("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	json_array_append_new(mounts,
			      mount_entry("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro"));
	for (const char *const *t = (const char *const[]){ "pid", "network", "ipc", "uts", "mount", "cgroup", NULL };
	     *t; t++)
		json_array_append_new(ns, json_pack("{s:s}", "type", *t));
	linux_obj = json_pack("{s:o}", "namespaces", ns);
	if (rootless) {
		json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
		json_object_set_new(
		    linux_obj, "uidMappings",
		    json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID", (int)geteuid(), "size", 1));
		json_object_set_new(
		    linux_obj, "gidMappings",
		    json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID", (int)getegid(), "size", 1));
	} else {
		json_object_set_new(linux_obj, "resources",
				    json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm"));
	}
	arr = json_array();
	for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++)
		json_array_append_new(arr, json_string(masked[i]));
	json_object_set_new(linux_obj, "maskedPaths", arr);
	arr = json_array();
	for (size_t i = 0; i < sizeof(readonly) / sizeof(readonly[0]); i++)
		json_array_append_new(arr, json_string(readonly[i]));
	json_object_set_new(linux_obj, "readonlyPaths", arr);
	cfg = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.2.0", "process", process, "root",
			"path", "rootfs", "readonly", 1, "hostname", "berth", "mounts", mounts, "linux", linux_obj);
	return cfg;
}
