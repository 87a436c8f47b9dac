#include "runtime/cgroup_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

/* Finds the cgroup path of this process in the hierarchy whose
 * /proc/self/cgroup controller list is CONTROLLERS ("" for v2). */
static char *own_cgroup_path(const char *controllers)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];

	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2;
		if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		*c2 = '\0';
		line[strcspn(c2 + 1, "\n") + (c2 + 1 - line)] = '\0';
		if (strcmp(c1 + 1, controllers) == 0)
			return strdup(c2 + 1);
	}
	return NULL;
}

static unsigned long mount_flags(const spec_mount *m)
{
	return (m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME)) | MS_NOSUID | MS_NODEV |
	       MS_NOEXEC;
}

/* Binds SRC on PARENT/NAME and remounts it with FLAGS. The remount goes
 * through a fresh fd: one opened before the bind names the covered dir. */
static int bind_ro(const char *src, int parent, const char *name, unsigned long flags, berth_error **err)
{
	_cleanup_close_ int before = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int after = -EBADF;

	if (before < 0)
		return berth_error_set(err, errno, "open \"%s\"", name);
	if (fs_mount_on_fd(src, before, NULL, NULL, MS_BIND | MS_REC, NULL) < 0)
		return berth_error_set(err, errno, "bind \"%s\"", src);
	after = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (after < 0)
		return berth_error_set(err, errno, "open \"%s\"", name);
	if (fs_mount_on_fd(NULL, after, NULL, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
		return berth_error_set(err, errno, "remount \"%s\"", src);
	return 0;
}

static int mount_v2(int rootfd, const spec_mount *m, size_t index, berth_error **err)
{
	_cleanup_close_ int target = fs_ensure_mountpoint_in_root(rootfd, m->destination, true, err);
	_cleanup_close_ int parent = -EBADF;
	_cleanup_free_ char *dest = strdup(m->destination);
	_cleanup_free_ char *own = NULL;
	_cleanup_free_ char *host = NULL;

	if (target < 0)
		return berth_error_wrap(err, "mounts[%zu]", index);
	if (fs_mount_on_fd("cgroup2", target, NULL, "cgroup2", mount_flags(m), NULL) == 0)
		return 0;
	/* Without a cgroup namespace of our own: bind the container's cgroup. */
	own = own_cgroup_path("");
	if (own == NULL || asprintf(&host, "/sys/fs/cgroup%s", own) < 0)
		return berth_error_set(err, ENOENT, "mounts[%zu]: find the container's cgroup", index);
	{
		char *slash = dest ? strrchr(dest, '/') : NULL;
		if (slash == NULL)
			return berth_error_set(err, EINVAL, "mounts[%zu]: cgroup destination", index);
		*slash = '\0';
		parent = fs_open_in_root(rootfd, dest[0] ? dest : "/", O_PATH | O_DIRECTORY, 0, true, err);
		if (parent < 0 || bind_ro(host, parent, slash + 1, mount_flags(m), err) < 0)
			return berth_error_wrap(err, "mounts[%zu]: cgroup", index);
	}
	return 0;
}

/* In a cgroup namespace a new mount of the hierarchy has the container's
 * cgroup (the namespace's root) as its root, as runc mounts it. PARENT is
 * the tmpfs this process has just mounted and NAME the directory it has
 * just made there (one component, from the host's mount table): nothing
 * of the container can have put a link on that path, so it is mounted on
 * by name below PARENT, with no fd of its own. */
static int mount_v1_fresh(int parent, const char *name, const char *controllers, unsigned long flags)
{
	_cleanup_close_ int dir = -EBADF;

	if (strchr(name, '/') == NULL)
		return fs_mount_on_fd("cgroup", parent, name, "cgroup", flags, controllers);
	dir = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -1;
	return fs_mount_on_fd("cgroup", dir, NULL, "cgroup", flags, controllers);
}

/* Mounts each v1 hierarchy of MOUNTS afresh below TARGET (see
 * cgroup_mount_in_rootfs); one that fails is bound from the host instead,
 * as the mountinfo walk below does for a root above the namespace's. */
static int mount_v1_known(int target, const spec_mount *m, size_t index, const cgroup_mount *mounts, size_t n,
			  berth_error **err)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *own = NULL;
		_cleanup_free_ char *host = NULL;
		const char *name;

		if (mounts[i].unified || strncmp(mounts[i].mount, "/sys/fs/cgroup/", 15) != 0)
			continue;
		name = mounts[i].mount + 15;
		if (mkdirat(target, name, 0755) < 0 && errno != EEXIST)
			return berth_error_set(err, errno, "mounts[%zu]: mkdir cgroup \"%s\"", index, name);
		if (mount_v1_fresh(target, name, mounts[i].controllers, mount_flags(m)) == 0)
			continue;
		own = own_cgroup_path(mounts[i].controllers);
		if (own == NULL)
			continue;
		if (asprintf(&host, "%s%s", mounts[i].mount, own) < 0)
			return berth_error_set(err, ENOMEM, "mounts[%zu]", index);
		if (bind_ro(host, target, name, mount_flags(m), err) < 0)
			return berth_error_wrap(err, "mounts[%zu]: cgroup %s", index, name);
	}
	return 0;
}

int cgroup_mount_in_rootfs(int rootfd, const spec_mount *m, size_t index, const cgroup_mount *mounts, size_t n_mounts,
			   bool new_cgroupns, berth_error **err)
{
	_cleanup_fclose_ FILE *mi = NULL;
	_cleanup_close_ int target = -EBADF;
	struct statfs sf;
	char line[8192];

	/* MOUNTS are the v1 (or hybrid) host's hierarchies: no v2 to look for */
	if (mounts == NULL && statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
		return mount_v2(rootfd, m, index, err);
	target = fs_ensure_mountpoint_in_root(rootfd, m->destination, true, err);
	if (target < 0)
		return berth_error_wrap(err, "mounts[%zu]", index);
	if (fs_mount_on_fd("tmpfs", target, NULL, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0)
		return berth_error_set(err, errno, "mounts[%zu]: tmpfs on \"%s\"", index, m->destination);
	close(target);
	target = fs_open_in_root(rootfd, m->destination, O_PATH | O_DIRECTORY, 0, false, err);
	if (target < 0)
		return berth_error_wrap(err, "mounts[%zu]", index);
	if (mounts != NULL && new_cgroupns) {
		if (mount_v1_known(target, m, index, mounts, n_mounts, err) < 0)
			return -1;
		goto remount;
	}
	mi = fopen("/proc/self/mountinfo", "re");
	if (mi == NULL)
		return berth_error_set(err, errno, "mounts[%zu]: read mountinfo", index);
	/* mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - TYPE SOURCE SUPEROPTS */
	while (fgets(line, sizeof(line), mi)) {
		char root[4096], point[4096], type[64], super[1024], *dash;
		_cleanup_free_ char *own = NULL;
		_cleanup_free_ char *host = NULL;
		char controllers[1024] = "";
		const char *name;

		dash = strstr(line, " - ");
		if (dash == NULL || sscanf(line, "%*d %*d %*s %4095s %4095s", root, point) != 2 ||
		    sscanf(dash + 3, "%63s %*s %1023s", type, super) != 2)
			continue;
		if (strcmp(type, "cgroup") != 0 || strncmp(point, "/sys/fs/cgroup/", 15) != 0)
			continue;
		name = point + 15;
		/* controllers of this hierarchy, in /proc/self/cgroup's spelling */
		for (char *opt = strtok(super, ","); opt; opt = strtok(NULL, ",")) {
			if (strcmp(opt, "rw") == 0 || strcmp(opt, "ro") == 0 ||
			    strncmp(opt, "release_agent", 13) == 0 || strcmp(opt, "clone_children") == 0 ||
			    strcmp(opt, "noprefix") == 0 || strcmp(opt, "xattr") == 0 ||
			    strcmp(opt, "cpuset_v2_mode") == 0 || strcmp(opt, "memory_recursiveprot") == 0 ||
			    strcmp(opt, "favordynmods") == 0 || strcmp(opt, "nsdelegate") == 0 ||
			    strcmp(opt, "memory_localevents") == 0)
				continue;
			if (controllers[0])
				strncat(controllers, ",", sizeof(controllers) - strlen(controllers) - 1);
			strncat(controllers, opt, sizeof(controllers) - strlen(controllers) - 1);
		}
		if (mkdirat(target, name, 0755) < 0 && errno != EEXIST)
			return berth_error_set(err, errno, "mounts[%zu]: mkdir cgroup \"%s\"", index, name);
		/* A root above "/" means the host's mount lies outside our cgroup
		 * namespace, whose paths (/proc/self/cgroup says "/") no longer
		 * lead to our cgroup in it: mount the hierarchy afresh. A user
		 * namespace cannot mount v1 hierarchies: bind as before. */
		if (strncmp(root, "/..", 3) == 0 && mount_v1_fresh(target, name, controllers, mount_flags(m)) == 0)
			continue;
		own = own_cgroup_path(controllers);
		if (own == NULL)
			continue;
		/* host dir = mountpoint + (own path relative to the mount's root) */
		if (strncmp(own, root, strlen(root)) == 0 && strcmp(root, "/") != 0)
			memmove(own, own + strlen(root), strlen(own + strlen(root)) + 1);
		if (asprintf(&host, "%s%s", point, own) < 0)
			return berth_error_set(err, ENOMEM, "mounts[%zu]", index);
		if (bind_ro(host, target, name, mount_flags(m), err) < 0)
			return berth_error_wrap(err, "mounts[%zu]: cgroup %s", index, name);
	}
remount:
	if (m->flags & MS_RDONLY) {
		if (fs_mount_on_fd(NULL, target, NULL, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				   "mode=755") < 0)
			return berth_error_set(err, errno, "mounts[%zu]: remount the cgroup tmpfs read-only", index);
	}
	return 0;
}
