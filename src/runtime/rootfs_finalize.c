/* Steps after pivot_root: sysctls, masked and read-only paths, a read-only
 * root.  Targets are opened without following symlinks and checked with
 * fstat/fstatfs before anything is mounted on them (CVE-2025-31133,
 * CVE-2025-52565, CVE-2025-52881: a rootfs whose /dev/null, /dev/console or
 * /proc files are symlinks must not redirect these mounts or writes). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* Opens PATH ("/proc/sys/...") for writing below the container's procfs
 * without crossing a mount: a file bind-mounted over it (another procfs
 * file such as kernel/core_pattern passes the procfs check) must not
 * receive the write (CVE-2025-52881). */
static int open_sysctl_file(int rootfd, const char *key, const char *path, berth_error **err)
{
	struct open_how how = {
		.flags = O_WRONLY | O_TRUNC | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int procfd = fs_open_in_root(rootfd, "/proc", O_PATH | O_DIRECTORY, 0, false, err);
	struct statfs sf;
	int fd;

	if (procfd < 0)
		return berth_error_wrap(err, "linux.sysctl \"%s\"", key);
	if (fstatfs(procfd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
		return berth_error_set(err, EINVAL, "linux.sysctl \"%s\": /proc is not procfs", key);
	fd = syscall(SYS_openat2, procfd, path + strlen("/proc/"), &how, sizeof(how));
	if (fd >= 0)
		return fd;
	if (errno == EXDEV)
		return berth_error_set(err, 0,
				       "linux.sysctl \"%s\": \"%s\" is covered by another mount; refusing to write "
				       "through it",
				       key, path);
	if (errno != ENOSYS)
		return berth_error_set(err, errno, "linux.sysctl \"%s\": open \"%s\"", key, path);
	/* kernels before 5.6: no mount check; the procfs check below stays */
	fd = fs_open_in_root(rootfd, path, O_WRONLY | O_TRUNC, 0, false, err);
	return fd < 0 ? berth_error_wrap(err, "linux.sysctl \"%s\"", key) : fd;
}

/* Writes VALUE to /proc/sys/KEY after checking that what was opened is a
 * procfs file and not something a symlink pointed at. */
static int write_sysctl(int rootfd, const char *key, const char *value, berth_error **err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct statfs sf;
	char *p;

	if (asprintf(&path, "/proc/sys/%s", key) < 0)
		return berth_error_set(err, ENOMEM, "linux.sysctl");
	for (p = path + 10; *p; p++)
		if (*p == '.')
			*p = '/';
	fd = open_sysctl_file(rootfd, key, path, err);
	if (fd < 0)
		return -1;
	if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
		return berth_error_set(err, EINVAL, "linux.sysctl \"%s\": \"%s\" is not on procfs", key, path);
	if (write(fd, value, strlen(value)) < 0)
		return berth_error_set(err, errno, "linux.sysctl: write \"%s\" to \"%s\"", value, path);
	return 0;
}

/* Opens the container's /dev/null and proves it is the real null device. */
static int open_verified_devnull(int rootfd, berth_error **err)
{
	_cleanup_close_ int fd = fs_open_in_root(rootfd, "/dev/null", O_PATH, 0, false, err);
	struct stat st;

	if (fd < 0)
		return berth_error_wrap(err, "maskedPaths: /dev/null");
	if (fstat(fd, &st) < 0)
		return berth_error_set(err, errno, "maskedPaths: stat /dev/null");
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
		return berth_error_set(err, EINVAL,
				       "maskedPaths: /dev/null in the container is not the null device "
				       "(a symlink or another file); refusing to use it");
	return move_fd(fd);
}

/* What the masked and read-only paths share: whether the new mount API
 * works here, and the first masked directory's tmpfs, which the other
 * masked directories get copies of (one superblock to make and to tear
 * down instead of one each). */
typedef struct {
	bool legacy;
	int tmpfs; /* O_PATH fd of the first masked directory's tmpfs, or -1 */
} mask_state;

static void mask_state_done(mask_state *ms)
{
	if (ms->tmpfs >= 0)
		close(ms->tmpfs);
}

/* Attaches a copy of the mount at SRC (with the mounts below it when
 * RECURSIVE) onto TGT, read-only when asked; both are O_PATH fds, so no
 * path is resolved again. The new mount API does in three calls what
 * mount(2) does in a bind, a lookup and a remount through /proc/self/fd
 * (2.5-3x less time for the default masked and read-only paths). 1 when
 * attached; 0 where the kernel predates it (before 5.12: ENOSYS), and from
 * then on, for the caller to use mount(2); -1 with errno set. */
static int attach_copy(mask_state *ms, int src, int tgt, bool recursive, bool readonly)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	_cleanup_close_ int tree = -EBADF;

	if (ms->legacy)
		return 0;
	tree = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));
	if (tree >= 0 && (!readonly || mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) == 0) &&
	    move_mount(tree, "", tgt, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0)
		return 1;
	if (errno != ENOSYS)
		return -1;
	ms->legacy = true;
	return 0;
}

static int mask_dir(int rootfd, int fd, const char *path, const char *mount_label, mask_state *ms, berth_error **err)
{
	_cleanup_free_ char *data = NULL;
	int rc;

	if (ms->tmpfs >= 0 && (rc = attach_copy(ms, ms->tmpfs, fd, false, false)) != 0)
		return rc > 0 ? 0 : berth_error_set(err, errno, "maskedPaths: bind an empty tmpfs on \"%s\"", path);
	if (mount_label && asprintf(&data, "context=\"%s\"", mount_label) < 0)
		return berth_error_set(err, ENOMEM, "maskedPaths");
	if (fs_mount_on_fd("tmpfs", fd, NULL, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data) < 0)
		return berth_error_set(err, errno, "maskedPaths: mount tmpfs on \"%s\"", path);
	if (ms->tmpfs < 0 && !ms->legacy) {
		/* the tmpfs just mounted, to copy for the next masked directories */
		int mounted = fs_open_in_root(rootfd, path, O_PATH | O_DIRECTORY, 0, false, NULL);
		struct statfs sf;
		if (mounted >= 0 && fstatfs(mounted, &sf) == 0 && sf.f_type == TMPFS_MAGIC)
			ms->tmpfs = mounted;
		else if (mounted >= 0)
			close(mounted);
	}
	return 0;
}

static int mask_path(int rootfd, int devnull, const char *path, const char *mount_label, mask_state *ms,
		     berth_error **err)
{
	_cleanup_close_ int fd = fs_open_in_root(rootfd, path, O_PATH, 0, false, NULL);
	char tgt[32], src[32];
	struct stat st;
	int rc;

	if (fd < 0)
		return 0; /* nothing there to hide */
	if (fstat(fd, &st) < 0)
		return berth_error_set(err, errno, "maskedPaths: stat \"%s\"", path);
	if (S_ISLNK(st.st_mode))
		return 0; /* a symlink shows nothing of its own; never mount through it */
	if (S_ISDIR(st.st_mode))
		return mask_dir(rootfd, fd, path, mount_label, ms, err);
	rc = attach_copy(ms, devnull, fd, false, false);
	if (rc < 0 ||
	    (rc == 0 && mount(fs_proc_fd_path(devnull, src), fs_proc_fd_path(fd, tgt), NULL, MS_BIND, NULL) < 0))
		return berth_error_set(err, errno, "maskedPaths: bind /dev/null on \"%s\"", path);
	return 0;
}

static int readonly_path(int rootfd, const char *path, mask_state *ms, berth_error **err)
{
	_cleanup_close_ int fd = fs_open_in_root(rootfd, path, O_PATH, 0, false, NULL);
	_cleanup_close_ int mounted = -EBADF;
	char tgt[32];
	struct statvfs sv;
	struct stat st;
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
	int rc;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0)
		return berth_error_set(err, errno, "readonlyPaths: stat \"%s\"", path);
	if (S_ISLNK(st.st_mode))
		return 0;
	/* the path with what is mounted below it, its top mount read-only (the
	 * other flags of that mount stay) */
	rc = attach_copy(ms, fd, fd, true, true);
	if (rc != 0)
		return rc > 0 ? 0 : berth_error_set(err, errno, "readonlyPaths: bind \"%s\" read-only", path);
	if (mount(fs_proc_fd_path(fd, tgt), fs_proc_fd_path(fd, tgt), NULL, MS_BIND | MS_REC, NULL) < 0)
		return berth_error_set(err, errno, "readonlyPaths: bind \"%s\"", path);
	mounted = fs_open_in_root(rootfd, path, O_PATH, 0, false, err);
	if (mounted < 0)
		return berth_error_wrap(err, "readonlyPaths");
	if (fstatvfs(mounted, &sv) == 0) {
		flags |= (sv.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
		flags |= (sv.f_flag & ST_NODEV) ? MS_NODEV : 0;
		flags |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
	}
	if (mount(NULL, fs_proc_fd_path(mounted, tgt), NULL, flags, NULL) < 0)
		return berth_error_set(err, errno, "readonlyPaths: remount \"%s\" read-only", path);
	return 0;
}

/* linux.rootfsPropagation on the new root, last: masked and read-only paths
 * are bind mounts, which an unbindable tree would refuse. Shared, slave and
 * private apply to the whole tree; "unbindable" to "/" only, as asked
 * ("runbindable" for the tree), so the container can still bind below it. */
static int apply_rootfs_propagation(const spec *s, berth_error **err)
{
	unsigned long flags = s->rootfs_propagation;

	if (flags == 0)
		return 0;
	if (!(flags & MS_UNBINDABLE))
		flags |= MS_REC;
	if (mount(NULL, "/", NULL, flags, NULL) < 0 && errno != EINVAL)
		return berth_error_set(err, errno, "set linux.rootfsPropagation on \"/\"");
	return 0;
}

int rootfs_finalize(rootfs_context *ctx, berth_error **err)
{
	const spec *s = ctx->spec;
	_cleanup_close_ int devnull = -EBADF;
	__attribute__((cleanup(mask_state_done))) mask_state ms = { .legacy = false, .tmpfs = -1 };

	for (size_t i = 0; i < s->n_sysctl; i++)
		if (write_sysctl(ctx->rootfd, s->sysctl[i].key, s->sysctl[i].value, err) < 0)
			return -1;
	if (s->n_masked_paths > 0) {
		devnull = open_verified_devnull(ctx->rootfd, err);
		if (devnull < 0)
			return -1;
	}
	for (size_t i = 0; i < s->n_masked_paths; i++)
		if (mask_path(ctx->rootfd, devnull, s->masked_paths[i], s->mount_label, &ms, err) < 0)
			return -1;
	for (size_t i = 0; i < s->n_readonly_paths; i++)
		if (readonly_path(ctx->rootfd, s->readonly_paths[i], &ms, err) < 0)
			return -1;
	if (s->root_readonly) {
		struct statvfs sv;
		unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
		if (statvfs("/", &sv) == 0) {
			flags |= (sv.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
			flags |= (sv.f_flag & ST_NODEV) ? MS_NODEV : 0;
			flags |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
		}
		if (mount(NULL, "/", NULL, flags, NULL) < 0)
			return berth_error_set(err, errno, "root.readonly: remount \"/\" read-only");
	}
	return apply_rootfs_propagation(s, err);
}
