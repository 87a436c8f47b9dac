#include "runtime/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/cgroup_mount.h"
#include "runtime/idmap_mount.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif

struct mount_attr_compat {
	unsigned long long attr_set, attr_clr, propagation, userns_fd;
};

/* Decodes the octal escapes (\040 for a space) of a mountinfo field. */
static void unescape_mountinfo(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The mount point that PATH (absolute, resolved) lives on. */
static char *find_parent_mount(const char *path, berth_error **err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	char *best = NULL;
	size_t cap = 0, best_len = 0;

	if (f == NULL)
		return berth_error_set(err, errno, "open /proc/self/mountinfo"), NULL;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *field = strtok_r(line, " ", &save);
		size_t len;

		/* the fifth field is the mount point */
		for (int i = 1; field != NULL && i < 5; i++)
			field = strtok_r(NULL, " ", &save);
		if (field == NULL)
			continue;
		unescape_mountinfo(field);
		len = strlen(field);
		if (strcmp(field, "/") == 0)
			len = 0;
		else if (strncmp(path, field, len) != 0 || (path[len] != '/' && path[len] != '\0'))
			continue;
		if (best == NULL || len >= best_len) {
			free(best);
			best = strdup(field);
			best_len = len;
			if (best == NULL)
				return berth_error_set(err, ENOMEM, "mount point of \"%s\"", path), NULL;
		}
	}
	if (best == NULL)
		berth_error_set(err, ENOENT, "no mount point holds \"%s\"", path);
	return best;
}

int rootfs_enter_setup_namespace(rootfs_context *ctx, berth_error **err)
{
	ctx->caller_mntns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (ctx->caller_mntns < 0)
		return berth_error_set(err, errno, "open the caller's mount namespace");
	if (unshare(CLONE_NEWNS) < 0)
		return berth_error_set(err, errno, "create a mount namespace to set up the rootfs in");
	return 0;
}

int rootfs_leave_setup_namespace(rootfs_context *ctx, berth_error **err)
{
	_cleanup_close_ int tree = -EBADF;

	if (ctx->caller_mntns < 0)
		return 0;
	/* A copy of the finished tree that belongs to no namespace: it lives
	 * as long as a process has its root in it, and nothing of it shows
	 * in (or is left behind in) the caller's namespace. */
	tree = syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return berth_error_set(err, errno, "detach a copy of the rootfs");
	if (setns(ctx->caller_mntns, CLONE_NEWNS) < 0)
		return berth_error_set(err, errno, "return to the caller's mount namespace");
	close(ctx->caller_mntns);
	ctx->caller_mntns = -1;
	if (fchdir(tree) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return berth_error_set(err, errno, "chroot to the detached rootfs");
	close(ctx->rootfd);
	ctx->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx->rootfd < 0)
		return berth_error_set(err, errno, "open the detached rootfs");
	return 0;
}

int rootfs_prepare(rootfs_context *ctx, berth_error **err)
{
	unsigned long requested = ctx->spec->rootfs_propagation;
	/* An unbindable "/" could not give the rootfs bind below: it starts
	 * private; rootfs_finalize applies the requested mode. */
	unsigned long propagation = requested == 0		  ? MS_SLAVE | MS_REC
				    : (requested & MS_UNBINDABLE) ? MS_PRIVATE | MS_REC
								  : requested;

	/* Nothing mounted from here on may propagate back to the host (unless
	 * the spec asks for shared propagation). */
	if (mount(NULL, "/", NULL, propagation | MS_REC, NULL) < 0)
		return berth_error_set(err, errno, "set the propagation of \"/\"");
	if (propagation & MS_SHARED) {
		/* pivot_root refuses a new root, or a parent of it, that is
		 * shared: make the mount holding the rootfs private (as runc
		 * does); rootfsPropagation is applied to "/" after the pivot. */
		_cleanup_free_ char *parent = find_parent_mount(ctx->rootfs, err);
		if (parent == NULL)
			return berth_error_wrap(err, "linux.rootfsPropagation");
		if (mount(NULL, parent, NULL, MS_PRIVATE, NULL) < 0)
			return berth_error_set(err, errno, "linux.rootfsPropagation: make \"%s\" private", parent);
	}
	if (mount(ctx->rootfs, ctx->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return berth_error_set(err, errno, "bind mount the rootfs \"%s\"", ctx->rootfs);
	ctx->rootfd = open(ctx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx->rootfd < 0)
		return berth_error_set(err, errno, "open the rootfs \"%s\"", ctx->rootfs);
	return 0;
}

int rootfs_open_bind_sources(rootfs_context *ctx, berth_error **err)
{
	const spec *s = ctx->spec;

	if (s->n_mounts == 0)
		return 0;
	ctx->source_fds = malloc(s->n_mounts * sizeof(int));
	if (ctx->source_fds == NULL)
		return berth_error_set(err, ENOMEM, "mounts");
	for (size_t i = 0; i < s->n_mounts; i++) {
		ctx->source_fds[i] = -1;
		if (!s->mounts[i].bind)
			continue;
		ctx->source_fds[i] = open(s->mounts[i].source, O_PATH | O_CLOEXEC);
		if (ctx->source_fds[i] < 0)
			return berth_error_set(err, errno, "mounts[%zu]: bind source \"%s\"", i, s->mounts[i].source);
	}
	return 0;
}

bool rootfs_is_proc_destination(const char *path)
{
	static const char *const allowed[] = {
		"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo",  "/proc/stat",    "/proc/swaps",
		"/proc/uptime",	 "/proc/loadavg",   "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"
	};
	if (strncmp(path, "/proc", 5) != 0 || (path[5] != '\0' && path[5] != '/'))
		return false;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(path, allowed[i]) == 0)
			return false;
	return true;
}

/* Whether PATH is absolute with no empty, "." or ".." component and no
 * trailing slash: opened without following a symlink, it is then the path
 * of what was opened. */
static bool path_is_plain(const char *path)
{
	const char *c = path;

	if (*c != '/')
		return false;
	if (c[1] == '\0')
		return true;
	while (*c == '/') {
		const char *next = strchrnul(c + 1, '/');
		size_t len = next - (c + 1);
		if (len == 0 || (len == 1 && c[1] == '.') || (len == 2 && c[1] == '.' && c[2] == '.'))
			return false;
		c = next;
	}
	return true;
}

/* The path inside the rootfs that TARGET (opened inside it, symlinks
 * resolved) names: a destination may be a symlink in the image, and the
 * /proc checks and the reopen after mounting must see where it led. When
 * DESTINATION was opened as written (AS_WRITTEN: no symlink followed) and is
 * plain, it is that path, and the kernel is not asked. DEST holds PATH_MAX
 * bytes. */
static int target_path_in_root(const rootfs_context *ctx, int target, const char *destination, bool as_written,
			       char *dest, berth_error **err)
{
	char link[32], host[PATH_MAX];
	size_t len = strcmp(ctx->rootfs, "/") == 0 ? 0 : strlen(ctx->rootfs);
	ssize_t n;

	if (as_written && path_is_plain(destination) && strlen(destination) < PATH_MAX) {
		snprintf(dest, PATH_MAX, "%s", destination);
		return 0;
	}
	n = readlink(fs_proc_fd_path(target, link), host, sizeof(host) - 1);
	if (n < 0)
		return berth_error_set(err, errno, "readlink \"%s\"", link);
	host[n] = '\0';
	if (strncmp(host, ctx->rootfs, len) != 0 || (host[len] != '/' && host[len] != '\0'))
		return berth_error_set(err, EXDEV, "the mount target \"%s\" is outside the rootfs", host);
	snprintf(dest, PATH_MAX, "%s", host[len] ? host + len : "/");
	return 0;
}

/* Flags a bind remount must keep: in a user namespace, the kernel refuses to
 * clear the "locked" flags of the source mount. */
static unsigned long locked_flags(int fd)
{
	struct statvfs sv;
	unsigned long flags = 0;

	if (fstatvfs(fd, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		flags |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		flags |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		flags |= MS_NOEXEC;
	if (sv.f_flag & ST_RDONLY)
		flags |= MS_RDONLY;
	if (sv.f_flag & ST_NOATIME)
		flags |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		flags |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		flags |= MS_RELATIME;
	return flags;
}

/* Binds M's source (SRCFD, taken, or opened here when -1) on its
 * destination; DEST gets the destination's path inside the rootfs, symlinks
 * resolved. */
static int mount_bind(rootfs_context *ctx, const spec_mount *m, size_t index, int srcfd, char *dest, berth_error **err)
{
	_cleanup_close_ int src = srcfd;
	_cleanup_close_ int target = -EBADF;
	_cleanup_close_ int mounted = -EBADF;
	char srcpath[32];
	struct stat st;
	unsigned long flags;
	bool as_written;

	if (src < 0)
		src = open(m->source, O_PATH | O_CLOEXEC);
	if (src < 0)
		return berth_error_set(err, errno, "mounts[%zu]: bind source \"%s\"", index, m->source);
	if (fstat(src, &st) < 0)
		return berth_error_set(err, errno, "mounts[%zu]: stat \"%s\"", index, m->source);
	if (rootfs_is_proc_destination(m->destination)) {
		struct statfs sf;
		if (fstatfs(src, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
			return berth_error_set(err, EINVAL,
					       "mounts[%zu]: refusing to bind \"%s\" over \"%s\": only procfs may be "
					       "mounted on /proc",
					       index, m->source, m->destination);
	}
	target = fs_resolve_mountpoint_in_root(ctx->rootfd, m->destination, S_ISDIR(st.st_mode), &as_written, err);
	if (target < 0 || target_path_in_root(ctx, target, m->destination, as_written, dest, err) < 0)
		return berth_error_wrap(err, "mounts[%zu]", index);
	if (strcmp(dest, m->destination) != 0 && rootfs_is_proc_destination(dest)) {
		struct statfs sf;
		if (fstatfs(src, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
			return berth_error_set(err, EINVAL,
					       "mounts[%zu]: refusing to bind \"%s\" over \"%s\" (\"%s\" inside the "
					       "rootfs): only procfs may be mounted on /proc",
					       index, m->source, m->destination, dest);
	}
	if (ctx->idmap_fds != NULL && ctx->idmap_fds[index] >= 0) {
		if (idmap_mount_attach(ctx->idmap_fds[index], target, err) < 0)
			return berth_error_wrap(err, "mounts[%zu]: \"%s\" on \"%s\"", index, m->source, m->destination);
	} else if (fs_mount_on_fd(fs_proc_fd_path(src, srcpath), target, NULL, NULL, MS_BIND | (m->rbind ? MS_REC : 0),
				  NULL) < 0) {
		return berth_error_set(err, errno, "mounts[%zu]: bind \"%s\" on \"%s\"", index, m->source,
				       m->destination);
	}
	flags = m->flags & ~(MS_REMOUNT | MS_BIND | MS_REC);
	if (flags != 0) {
		/* Reopen the destination: the fd still names the covered inode. */
		mounted = fs_open_in_root(ctx->rootfd, dest, O_PATH, 0, false, err);
		if (mounted < 0)
			return berth_error_wrap(err, "mounts[%zu]", index);
		if (ctx->in_userns)
			flags |= locked_flags(mounted) & ~MS_RDONLY;
		if (fs_mount_on_fd(NULL, mounted, NULL, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
			return berth_error_set(err, errno, "mounts[%zu]: remount \"%s\" with its options", index,
					       m->destination);
	}
	if (m->has_recursive_ro) {
		struct mount_attr_compat attr = { .attr_set = MOUNT_ATTR_RDONLY };
		int fd = mounted >= 0 ? mounted : target;
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
			return berth_error_set(err, errno, "mounts[%zu]: make \"%s\" recursively read-only", index,
					       m->destination);
	}
	return 0;
}

/* Filesystems that an unprivileged user namespace may not mount without
 * owning the matching namespace: bind the host's instead, as runc does. */
static int mount_fallback_bind(rootfs_context *ctx, const spec_mount *m, size_t index, const char *host_path,
			       char *dest, berth_error **err)
{
	spec_mount copy = *m;
	copy.source = (char *)host_path;
	copy.rbind = true;
	copy.bind = true;
	/* the host's submounts (/sys/fs/cgroup and its hierarchies) come
	 * along: a read-only mount is read-only all the way down */
	if (m->flags & MS_RDONLY)
		copy.has_recursive_ro = true;
	return mount_bind(ctx, &copy, index, -1, dest, err);
}

/* A tmpfs without "mode=" over a directory of the image keeps that
 * directory's mode, as runc does (a new directory gets tmpfs's 1777):
 * *DATA is the options with the mode put first, so a later one wins. */
static int tmpfs_keep_mode(rootfs_context *ctx, const spec_mount *m, char **data, berth_error **err)
{
	_cleanup_close_ int dir = -EBADF;
	struct stat st;

	if (m->data != NULL && (strncmp(m->data, "mode=", 5) == 0 || strstr(m->data, ",mode=") != NULL))
		return 0;
	dir = fs_open_in_root(ctx->rootfd, m->destination, O_PATH | O_DIRECTORY, 0, true, NULL);
	if (dir < 0 || fstat(dir, &st) < 0)
		return 0; /* made below, or not a directory: that fails there */
	if (asprintf(data, "mode=%04o%s%s", (unsigned)(st.st_mode & 07777), m->data ? "," : "",
		     m->data ? m->data : "") < 0) {
		*data = NULL;
		return berth_error_set(err, ENOMEM, "tmpfs options");
	}
	return 0;
}

/* Mounts a filesystem (not a bind) on M's destination; DEST as mount_bind. */
static int mount_special(rootfs_context *ctx, const spec_mount *m, size_t index, char *dest, berth_error **err)
{
	_cleanup_close_ int target = -EBADF;
	const char *type = m->type;
	unsigned long flags = m->flags & ~MS_REMOUNT;
	_cleanup_free_ char *data = NULL;
	bool as_written;

	if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0) {
		if (ctx->cgroup_ready && ctx->cgroup_ready(ctx, err) < 0)
			return -1;
		return cgroup_mount_in_rootfs(ctx->rootfd, m, index, ctx->cgroup_mounts, ctx->n_cgroup_mounts,
					      ctx->new_cgroupns, err);
	}
	if (rootfs_is_proc_destination(m->destination) && strcmp(type, "proc") != 0)
		return berth_error_set(err, EINVAL,
				       "mounts[%zu]: refusing to mount %s over \"%s\": only procfs may be "
				       "mounted on /proc",
				       index, type, m->destination);
	if (strcmp(type, "tmpfs") == 0 && tmpfs_keep_mode(ctx, m, &data, err) < 0)
		return berth_error_wrap(err, "mounts[%zu]", index);
	target = fs_resolve_mountpoint_in_root(ctx->rootfd, m->destination, true, &as_written, err);
	if (target < 0 || target_path_in_root(ctx, target, m->destination, as_written, dest, err) < 0)
		return berth_error_wrap(err, "mounts[%zu]", index);
	if (strcmp(dest, m->destination) != 0 && rootfs_is_proc_destination(dest) && strcmp(type, "proc") != 0)
		return berth_error_set(err, EINVAL,
				       "mounts[%zu]: refusing to mount %s over \"%s\" (\"%s\" inside the rootfs): only "
				       "procfs may be mounted on /proc",
				       index, type, m->destination, dest);
	if (strcmp(type, "proc") == 0) {
		struct statfs sf;
		/* The destination must be a plain directory of the image, not
		 * something already mounted there (CVE-2019-16884). */
		if (fstatfs(target, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC)
			return berth_error_set(err, EINVAL, "mounts[%zu]: \"%s\" is already procfs", index,
					       m->destination);
	}
	if (fs_mount_on_fd(m->source ? m->source : type, target, NULL, type, flags, data ? data : m->data) < 0) {
		int e = errno;
		if ((e == EPERM || e == EINVAL || e == EBUSY) && ctx->in_userns) {
			if (strcmp(type, "sysfs") == 0)
				return mount_fallback_bind(ctx, m, index, "/sys", dest, err);
			if (strcmp(type, "mqueue") == 0)
				return mount_fallback_bind(ctx, m, index, "/dev/mqueue", dest, err);
		}
		return berth_error_set(err, e, "mounts[%zu]: mount %s on \"%s\"", index, type, m->destination);
	}
	return 0;
}

static bool is_cgroup_mount(const spec_mount *m)
{
	return !m->bind && (strcmp(m->type, "cgroup") == 0 || strcmp(m->type, "cgroup2") == 0);
}

bool rootfs_cgroup_mounts_deferrable(const spec *s)
{
	bool proc = false;

	for (size_t i = 0; i < s->n_mounts; i++) {
		const spec_mount *m = &s->mounts[i];
		size_t len = strlen(m->destination);

		if (!m->bind && strcmp(m->type, "proc") == 0 && strcmp(m->destination, "/proc") == 0)
			proc = true;
		if (!is_cgroup_mount(m))
			continue;
		while (len > 1 && m->destination[len - 1] == '/')
			len--;
		for (size_t j = i + 1; j < s->n_mounts; j++) {
			const char *d = s->mounts[j].destination;
			if (is_cgroup_mount(&s->mounts[j]))
				continue;
			if (strncmp(d, m->destination, len) == 0 && (d[len] == '\0' || d[len] == '/'))
				return false;
		}
	}
	return proc;
}

static int mount_one(rootfs_context *ctx, size_t i, berth_error **err)
{
	const spec_mount *m = &ctx->spec->mounts[i];
	char dest[PATH_MAX];
	int ret;

	snprintf(dest, sizeof(dest), "%s", m->destination);
	if (m->bind) {
		int srcfd = ctx->source_fds ? ctx->source_fds[i] : -1;
		if (ctx->source_fds)
			ctx->source_fds[i] = -1;
		ret = mount_bind(ctx, m, i, srcfd, dest, err);
	} else {
		ret = mount_special(ctx, m, i, dest, err);
	}
	if (ret < 0)
		return ret;
	if (m->propagation != 0) {
		_cleanup_close_ int fd = fs_open_in_root(ctx->rootfd, dest, O_PATH, 0, false, err);
		char path[32];
		if (fd < 0)
			return berth_error_wrap(err, "mounts[%zu]", i);
		if (mount(NULL, fs_proc_fd_path(fd, path), NULL, m->propagation, NULL) < 0)
			return berth_error_set(err, errno, "mounts[%zu]: set propagation of \"%s\"", i, m->destination);
	}
	return 0;
}

int rootfs_mount_all(rootfs_context *ctx, berth_error **err)
{
	for (size_t i = 0; i < ctx->spec->n_mounts; i++) {
		if (ctx->defer_cgroup_mounts && is_cgroup_mount(&ctx->spec->mounts[i]))
			continue;
		if (mount_one(ctx, i, err) < 0)
			return -1;
	}
	free(ctx->source_fds);
	ctx->source_fds = NULL;
	return 0;
}

int rootfs_mount_deferred(rootfs_context *ctx, berth_error **err)
{
	if (!ctx->defer_cgroup_mounts)
		return 0;
	for (size_t i = 0; i < ctx->spec->n_mounts; i++)
		if (is_cgroup_mount(&ctx->spec->mounts[i]) && mount_one(ctx, i, err) < 0)
			return -1;
	return 0;
}

int rootfs_create_cwd(rootfs_context *ctx, const char *cwd, berth_error **err)
{
	_cleanup_close_ int fd = fs_open_in_root(ctx->rootfd, cwd, O_PATH, 0, true, NULL);

	if (fd != -ENOENT)
		return 0; /* there, or an error that chdir will report */
	fd = fs_mkdir_p_in_root(ctx->rootfd, cwd, 0755, err);
	return fd < 0 ? berth_error_wrap(err, "process.cwd") : 0;
}

int rootfs_pivot(rootfs_context *ctx, bool no_pivot, berth_error **err)
{
	_cleanup_close_ int oldroot = -EBADF;

	if (!no_pivot) {
		oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (oldroot < 0)
			return berth_error_set(err, errno, "open the old root");
	}
	if (fchdir(ctx->rootfd) < 0)
		return berth_error_set(err, errno, "chdir to the rootfs");
	if (no_pivot) {
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
			return berth_error_set(err, errno, "move the rootfs to \"/\"");
		if (chroot(".") < 0)
			return berth_error_set(err, errno, "chroot to the rootfs");
	} else {
		/* pivot_root(".", ".") stacks the old root on top of the new one;
		 * detaching it leaves only the container's tree. The old root is
		 * named through its own fd: "." may resolve to the new root, and
		 * making that a slave would turn the container's shared mounts
		 * private. */
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			return berth_error_set(err, errno, "pivot_root to \"%s\"", ctx->rootfs);
		if (fchdir(oldroot) < 0)
			return berth_error_set(err, errno, "chdir to the old root");
		if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
			return berth_error_set(err, errno, "make the old root a slave");
		if (umount2(".", MNT_DETACH) < 0)
			return berth_error_set(err, errno, "detach the old root");
	}
	if (chdir("/") < 0)
		return berth_error_set(err, errno, "chdir to \"/\"");
	close(ctx->rootfd);
	ctx->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx->rootfd < 0)
		return berth_error_set(err, errno, "open the new root");
	return 0;
}
