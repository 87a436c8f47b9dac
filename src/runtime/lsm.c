#include "runtime/lsm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util/cleanup.h"

#ifndef SELINUX_MAGIC
#define SELINUX_MAGIC 0xf97cff8c
#endif

bool lsm_apparmor_enabled(void)
{
	return access("/sys/kernel/security/apparmor", F_OK) == 0;
}

bool lsm_selinux_enabled(void)
{
	struct statfs sf;
	return statfs("/sys/fs/selinux", &sf) == 0 && (unsigned long)sf.f_type == SELINUX_MAGIC;
}

int lsm_check_available(const spec_process *p, berth_error **err)
{
	if (p->apparmor_profile && p->apparmor_profile[0] && !lsm_apparmor_enabled())
		return berth_error_set(err, ENOTSUP, "process.apparmorProfile: AppArmor is not enabled on this host");
	if (p->selinux_label && p->selinux_label[0] && !lsm_selinux_enabled())
		return berth_error_set(err, ENOTSUP, "process.selinuxLabel: SELinux is not enabled on this host");
	return 0;
}

/* Whether FD lies on the mount of the container's /proc itself, not on a
 * procfs file bind-mounted over the attr file (kernels without
 * STATX_MNT_ID: assumed so). */
static bool on_proc_mount(int fd)
{
	_cleanup_close_ int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct statx a, b;

	if (proc < 0)
		return false;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &a) < 0 ||
	    statx(proc, "", AT_EMPTY_PATH, STATX_MNT_ID, &b) < 0 || !(a.stx_mask & STATX_MNT_ID) ||
	    !(b.stx_mask & STATX_MNT_ID))
		return true;
	return a.stx_mnt_id == b.stx_mnt_id;
}

/* Opens the first of PATHS that exists, for writing, and proves it is a
 * procfs file of the container's /proc mount: a container's /proc could
 * hold something else, or another procfs file mounted over it. */
static int open_proc_attr(const char *const *paths, size_t n, const char **opened, berth_error **err)
{
	struct statfs sf;
	int fd = -1;

	for (size_t i = 0; i < n && fd < 0; i++) {
		fd = open(paths[i], O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno != ENOENT)
			return berth_error_set(err, errno, "open \"%s\"", paths[i]);
		*opened = paths[i];
	}
	if (fd < 0)
		return berth_error_set(err, ENOENT, "open \"%s\"", paths[n - 1]);
	if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC || !on_proc_mount(fd)) {
		close(fd);
		return berth_error_set(err, EINVAL, "\"%s\" is not on procfs; refusing to write to it", *opened);
	}
	return fd;
}

static int write_attr(const char *const *paths, size_t n, const char *value, berth_error **err)
{
	const char *path = paths[0];
	_cleanup_close_ int fd = open_proc_attr(paths, n, &path, err);
	size_t len = strlen(value);

	if (fd < 0)
		return -1;
	if (write(fd, value, len) != (ssize_t)len)
		return berth_error_set(err, errno, "write \"%s\" to \"%s\"", value, path);
	return 0;
}

/* Runs inside the container, where /sys/kernel/security is usually not
 * mounted: availability was checked on the host by lsm_check_available(). */
int lsm_apply_exec_labels(const spec_process *p, berth_error **err)
{
	if (p->apparmor_profile && p->apparmor_profile[0]) {
		static const char *const paths[] = { "/proc/thread-self/attr/apparmor/exec", "/proc/self/attr/exec" };
		_cleanup_free_ char *value = NULL;
		if (asprintf(&value, "exec %s", p->apparmor_profile) < 0)
			return berth_error_set(err, ENOMEM, "process.apparmorProfile");
		if (write_attr(paths, 2, value, err) < 0)
			return berth_error_wrap(err, "process.apparmorProfile");
	}
	if (p->selinux_label && p->selinux_label[0]) {
		static const char *const paths[] = { "/proc/thread-self/attr/exec", "/proc/self/attr/exec" };
		if (write_attr(paths, 2, p->selinux_label, err) < 0)
			return berth_error_wrap(err, "process.selinuxLabel");
	}
	return 0;
}
