#include "storage/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

char **storage_image_chain_ids(const image_info *image)
{
	size_t n = image->config.n_diff_ids;
	char(*chains)[DIGEST_STRING_MAX] = n ? calloc(n, DIGEST_STRING_MAX) : NULL;
	char **out = calloc(n + 1, sizeof(char *));

	if (out == NULL || (n && chains == NULL)) {
		free(chains);
		free(out);
		return NULL;
	}
	if (n)
		image_chain_ids(image->config.diff_ids, n, chains);
	for (size_t i = 0; i < n; i++)
		if ((out[i] = strdup(chains[i])) == NULL) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			free(chains);
			return NULL;
		}
	free(chains);
	return out;
}

static int mkdir_in(const char *dir, const char *name, mode_t mode, char **path, berth_error **err)
{
	*path = fs_path_join(dir, name);
	if (*path == NULL)
		return berth_error_set(err, ENOMEM, "rootfs");
	if (mkdir(*path, mode) < 0 && errno != EEXIST)
		return berth_error_set(err, errno, "mkdir \"%s\"", *path);
	return 0;
}

/* The redirect_dir value that creates no redirects. "off" reads as
 * "follow" on kernels built with OVERLAY_FS_REDIRECT_ALWAYS_FOLLOW, and
 * the kernel refuses "follow" with userxattr (rootless): "nofollow" there,
 * which neither creates nor follows them (berth's own layers have none). */
static const char *self_contained_redirect(bool userxattr)
{
	return userxattr ? "nofollow" : "off";
}

/* The new mount API takes each lower dir separately ("lowerdir+", Linux
 * 6.8), so the number of layers is not limited by the page-sized option
 * string. Returns -ENOSYS/-EINVAL when the kernel lacks it. */
static int mount_overlay_fsconfig(char **lowers, const char *upper, const char *work, const char *target,
				  bool userxattr, bool volatile_upper, bool self_contained)
{
	_cleanup_close_ int fsfd = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	_cleanup_close_ int mntfd = -EBADF;

	if (fsfd < 0)
		return -errno;
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", "overlay", 0) < 0)
		return -errno;
	for (char **l = lowers; *l; l++)
		if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "lowerdir+", *l, 0) < 0)
			return -errno;
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
	    (userxattr && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0) ||
	    (volatile_upper && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0) ||
	    (self_contained && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "redirect_dir",
				       self_contained_redirect(userxattr), 0) < 0) ||
	    (self_contained && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "metacopy", "off", 0) < 0) ||
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mntfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
	if (mntfd < 0)
		return -errno;
	if (syscall(SYS_move_mount, mntfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

static int mount_overlay_string(char **lowers, const char *upper, const char *work, const char *target, bool userxattr,
				bool volatile_upper, bool self_contained)
{
	_cleanup_free_ char *opts = NULL;
	size_t len = 64 + strlen(upper) + strlen(work);
	char *p;

	for (char **l = lowers; *l; l++)
		len += strlen(*l) + 1;
	opts = malloc(len);
	if (opts == NULL)
		return -ENOMEM;
	p = opts + sprintf(opts, "lowerdir=");
	for (char **l = lowers; *l; l++)
		p += sprintf(p, "%s%s", l == lowers ? "" : ":", *l);
	sprintf(p, ",upperdir=%s,workdir=%s%s%s%s%s%s", upper, work, userxattr ? ",userxattr" : "",
		volatile_upper ? ",volatile" : "", self_contained ? ",redirect_dir=" : "",
		self_contained ? self_contained_redirect(userxattr) : "", self_contained ? ",metacopy=off" : "");
	if (mount("overlay", target, "overlay", 0, opts) < 0)
		return -errno;
	return 0;
}

int storage_rootfs_mount(store *s, const image_info *image, const char *dir, const rootfs_options *opts,
			 char **rootfs_path, berth_error **err)
{
	_cleanup_free_ char *upper = NULL, *work = NULL, *target = NULL, *empty = NULL;
	char **chains = NULL, **lowers = NULL;
	unpack_options uo = { 0 };
	size_t n = image->config.n_diff_ids;
	int ret;

	uo.rootless = opts && opts->rootless;
	uo.userxattr = opts && opts->userxattr;
	if (fs_mkdir_p(dir, 0700, err) < 0 || mkdir_in(dir, "upper", 0755, &upper, err) < 0 ||
	    mkdir_in(dir, "work", 0700, &work, err) < 0 || mkdir_in(dir, "rootfs", 0755, &target, err) < 0)
		return berth_error_wrap(err, "rootfs of image %.19s", image->id);
	if (store_gc_lock(s, false, err) < 0)
		return -1;
	ret = image_unpack(s, image, &uo, err);
	chains = ret == 0 ? storage_image_chain_ids(image) : NULL;
	lowers = ret == 0 ? calloc(n + 2, sizeof(char *)) : NULL;
	if (ret == 0 && (chains == NULL || lowers == NULL))
		ret = berth_error_set(err, ENOMEM, "rootfs");
	/* overlay wants the top layer first */
	for (size_t i = 0; ret == 0 && i < n; i++)
		if ((lowers[i] = store_snapshot_path(s, chains[n - 1 - i])) == NULL)
			ret = berth_error_set(err, ENOMEM, "rootfs");
	if (ret == 0 && n == 0) {
		ret = mkdir_in(dir, "empty", 0755, &empty, err);
		if (ret == 0)
			lowers[0] = strdup(empty);
	}
	if (ret == 0) {
		bool self_contained = opts && opts->self_contained_upper;
		int r = mount_overlay_fsconfig(lowers, upper, work, target, uo.userxattr, opts && opts->volatile_upper,
					       self_contained);
		if (r == -ENOSYS || r == -EINVAL) {
			berth_debug("overlay: lowerdir+ not supported (%s), using the option string", strerror(-r));
			r = mount_overlay_string(lowers, upper, work, target, uo.userxattr,
						 opts && opts->volatile_upper, self_contained);
		}
		if (r < 0)
			ret = berth_error_set(err, -r, "mount overlay on \"%s\"", target);
	}
	store_gc_unlock(s);
	strv_free(chains);
	strv_free(lowers);
	if (ret < 0)
		return berth_error_wrap(err, "rootfs of image %.19s", image->id);
	if (rootfs_path)
		*rootfs_path = move_ptr(target);
	return 0;
}

static bool is_mount_point(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return errno != ENOENT; /* unknown: let umount2 decide */
	if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return true;
	return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

int storage_rootfs_unmount(const char *dir, bool remove, berth_error **err)
{
	static const char *const parts[] = { "upper", "work", "empty" };
	_cleanup_free_ char *target = fs_path_join(dir, "rootfs");

	if (target == NULL)
		return berth_error_set(err, ENOMEM, "rootfs");
	if (!is_mount_point(target)) {
		/* nothing to unmount (and an unprivileged umount2 would say EPERM) */
	} else if (umount2(target, UMOUNT_NOFOLLOW) < 0) {
		if (errno == EBUSY) {
			if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
				return berth_error_set(err, errno, "unmount \"%s\"", target);
		} else if (errno != EINVAL && errno != ENOENT) {
			return berth_error_set(err, errno, "unmount \"%s\"", target);
		}
	}
	if (!remove)
		return 0;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		_cleanup_free_ char *p = fs_path_join(dir, parts[i]);
		if (p == NULL || fs_remove_tree(p, err) < 0)
			return p ? -1 : berth_error_set(err, ENOMEM, "rootfs");
	}
	if (rmdir(target) < 0 && errno != ENOENT)
		return berth_error_set(err, errno, "remove \"%s\"", target);
	return 0;
}

int storage_snapshots_in_use(store *s, char ***out, berth_error **err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL, *needle = NULL;
	size_t cap = 0, n = 0;
	char **list = calloc(1, sizeof(char *));

	if (f == NULL || list == NULL) {
		free(list);
		return berth_error_set(err, f ? ENOMEM : errno, "read /proc/self/mountinfo");
	}
	if (asprintf(&needle, "%s/snapshots/", store_root(s)) < 0) {
		free(list);
		return berth_error_set(err, ENOMEM, "mountinfo");
	}
	while (getline(&line, &cap, f) > 0) {
		if (strstr(line, " - overlay ") == NULL)
			continue;
		for (char *p = strstr(line, needle); p; p = strstr(p + 1, needle)) {
			char hex[65];
			char **grown;
			if (sscanf(p + strlen(needle), "%64[0-9a-f]", hex) != 1 || strlen(hex) != 64)
				continue;
			grown = realloc(list, (n + 2) * sizeof(char *));
			if (grown == NULL || asprintf(&grown[n], "sha256:%s", hex) < 0) {
				list = grown ? grown : list;
				list[n] = NULL;
				strv_free(list);
				return berth_error_set(err, ENOMEM, "mountinfo");
			}
			list = grown;
			list[++n] = NULL;
		}
	}
	*out = list;
	return 0;
}
