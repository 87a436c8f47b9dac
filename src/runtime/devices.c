/* /dev inside the container: default nodes, linux.devices, symlinks, ptmx
 * and the console. In a user namespace nodes cannot be created, so the host's
 * nodes are bind-mounted onto empty files instead (as runc does). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/rootfs.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const spec_device default_devices[] = {
	{ .type = 'c', .path = "/dev/null", .major = 1, .minor = 3, .has_file_mode = true, .file_mode = 0666 },
	{ .type = 'c', .path = "/dev/zero", .major = 1, .minor = 5, .has_file_mode = true, .file_mode = 0666 },
	{ .type = 'c', .path = "/dev/full", .major = 1, .minor = 7, .has_file_mode = true, .file_mode = 0666 },
	{ .type = 'c', .path = "/dev/random", .major = 1, .minor = 8, .has_file_mode = true, .file_mode = 0666 },
	{ .type = 'c', .path = "/dev/urandom", .major = 1, .minor = 9, .has_file_mode = true, .file_mode = 0666 },
	{ .type = 'c', .path = "/dev/tty", .major = 5, .minor = 0, .has_file_mode = true, .file_mode = 0666 },
};

/* The parent directory of the last node or link made, kept open: most are
 * in /dev, which is then resolved once. */
typedef struct {
	char *path;
	int fd;
} parent_cache;

static void parent_cache_clear(parent_cache *c)
{
	free(c->path);
	c->path = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -EBADF;
}

/* PATH's parent, made inside the root when missing, as an fd that CACHE
 * owns; BASE gets the last component. */
static int split_parent(int rootfd, const char *path, char **base, parent_cache *cache, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(path);
	const char *parent;
	char *slash;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "%s", path);
	slash = strrchr(copy, '/');
	if (slash == NULL || slash[1] == '\0')
		return berth_error_set(err, EINVAL, "invalid device path \"%s\"", path);
	*base = strdup(slash + 1);
	if (*base == NULL)
		return berth_error_set(err, ENOMEM, "%s", path);
	*slash = '\0';
	parent = copy[0] ? copy : "/";
	if (cache->path != NULL && strcmp(cache->path, parent) == 0)
		return cache->fd;
	parent_cache_clear(cache);
	cache->fd = fs_mkdir_p_in_root(rootfd, parent, 0755, err);
	if (cache->fd < 0) {
		free(*base);
		*base = NULL;
		return -1;
	}
	cache->path = strdup(parent);
	if (cache->path == NULL) {
		parent_cache_clear(cache);
		return berth_error_set(err, ENOMEM, "%s", path);
	}
	return cache->fd;
}

static int bind_host_device(int parentfd, const char *base, const spec_device *d, berth_error **err)
{
	_cleanup_close_ int target = -EBADF;
	_cleanup_close_ int src = -EBADF;
	char tgt[32], srcp[32];
	struct stat st;

	target = openat(parentfd, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (target < 0 && errno == EISDIR)
		return berth_error_set(err, EISDIR, "device \"%s\": a directory is in the way", d->path);
	if (target < 0) {
		/* an existing node: open it as a path */
		target = openat(parentfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (target < 0)
			return berth_error_set(err, errno, "device \"%s\": create mount point", d->path);
	}
	if (fstat(target, &st) < 0 || S_ISLNK(st.st_mode))
		return berth_error_set(err, ELOOP, "device \"%s\": target is a symlink", d->path);
	src = open(d->path, O_PATH | O_CLOEXEC);
	if (src < 0)
		return berth_error_set(err, errno, "device \"%s\": open the host device to bind", d->path);
	if (mount(fs_proc_fd_path(src, srcp), fs_proc_fd_path(target, tgt), NULL, MS_BIND, NULL) < 0)
		return berth_error_set(err, errno, "device \"%s\": bind the host device", d->path);
	return 0;
}

static int create_device(rootfs_context *ctx, const spec_device *d, parent_cache *cache, berth_error **err)
{
	_cleanup_free_ char *base = NULL;
	int parentfd = split_parent(ctx->rootfd, d->path, &base, cache, err);
	mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
	mode_t mode = d->has_file_mode ? d->file_mode : 0666;
	struct stat st;

	if (parentfd < 0)
		return berth_error_wrap(err, "device \"%s\"", d->path);
	if (ctx->in_userns && d->type != 'p')
		return bind_host_device(parentfd, base, d, err);
	/* Replace whatever the image has there (a symlink must not redirect;
	 * mknodat follows none). Mostly /dev is a fresh tmpfs: nothing there. */
	if (mknodat(parentfd, base, type | (mode & 07777), makedev(d->major, d->minor)) < 0) {
		if (errno != EEXIST || fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_error_set(err, errno, "device \"%s\": mknod", d->path);
		if (S_ISDIR(st.st_mode))
			return berth_error_set(err, EISDIR, "device \"%s\": a directory is in the way", d->path);
		if (unlinkat(parentfd, base, 0) < 0)
			return berth_error_set(err, errno, "device \"%s\": remove the existing file", d->path);
		if (mknodat(parentfd, base, type | (mode & 07777), makedev(d->major, d->minor)) < 0)
			return berth_error_set(err, errno, "device \"%s\": mknod", d->path);
	}
	/* The umask is 0 here, but a default ACL of the parent could still
	 * change the mode: set it exactly where it differs. */
	if (fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || (st.st_mode & 07777) != (mode & 07777)) {
		_cleanup_close_ int fd = openat(parentfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		char path[32];
		if (fd < 0)
			return berth_error_set(err, errno, "device \"%s\": open", d->path);
		if (chmod(fs_proc_fd_path(fd, path), mode & 07777) < 0)
			return berth_error_set(err, errno, "device \"%s\": chmod", d->path);
	}
	if ((d->has_uid || d->has_gid) && fchownat(parentfd, base, d->has_uid ? d->uid : (uid_t)-1,
						   d->has_gid ? d->gid : (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_set(err, errno, "device \"%s\": chown", d->path);
	return 0;
}

static int make_symlink(int rootfd, const char *target, const char *path, parent_cache *cache, berth_error **err)
{
	_cleanup_free_ char *base = NULL;
	int parentfd = split_parent(rootfd, path, &base, cache, err);
	struct stat st;

	if (parentfd < 0)
		return -1;
	if (symlinkat(target, parentfd, base) == 0)
		return 0;
	/* something is there already: a link or a node is replaced, anything
	 * else (a file, a directory a mount made) is left alone */
	if (errno != EEXIST)
		return berth_error_set(err, errno, "symlink \"%s\" -> \"%s\"", path, target);
	if (fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISLNK(st.st_mode) && !S_ISCHR(st.st_mode))
			return 0;
		if (unlinkat(parentfd, base, 0) < 0)
			return berth_error_set(err, errno, "replace \"%s\"", path);
	}
	if (symlinkat(target, parentfd, base) < 0 && errno != EEXIST)
		return berth_error_set(err, errno, "symlink \"%s\" -> \"%s\"", path, target);
	return 0;
}

static bool spec_lists_device(const spec *s, const char *path)
{
	for (size_t i = 0; i < s->n_devices; i++)
		if (strcmp(s->devices[i].path, path) == 0)
			return true;
	return false;
}

static bool dev_is_bind_mounted(const spec *s)
{
	for (size_t i = 0; i < s->n_mounts; i++)
		if (strcmp(s->mounts[i].destination, "/dev") == 0 && s->mounts[i].bind)
			return true;
	return false;
}

static bool has_devpts(const spec *s)
{
	for (size_t i = 0; i < s->n_mounts; i++)
		if (strcmp(s->mounts[i].destination, "/dev/pts") == 0 && s->mounts[i].type &&
		    strcmp(s->mounts[i].type, "devpts") == 0)
			return true;
	return false;
}

static int create_nodes(rootfs_context *ctx, parent_cache *cache, berth_error **err)
{
	const spec *s = ctx->spec;
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },
		{ "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" },
		{ "/proc/self/fd/2", "/dev/stderr" },
	};

	if (!dev_is_bind_mounted(s)) {
		for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
			if (spec_lists_device(s, default_devices[i].path))
				continue;
			if (create_device(ctx, &default_devices[i], cache, err) < 0)
				return -1;
		}
		for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
			if (make_symlink(ctx->rootfd, links[i][0], links[i][1], cache, err) < 0)
				return -1;
		if (access("/proc/kcore", F_OK) == 0 &&
		    make_symlink(ctx->rootfd, "/proc/kcore", "/dev/core", cache, err) < 0)
			return -1;
		if (has_devpts(s) && make_symlink(ctx->rootfd, "pts/ptmx", "/dev/ptmx", cache, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < s->n_devices; i++)
		if (create_device(ctx, &s->devices[i], cache, err) < 0)
			return berth_error_wrap(err, "linux.devices[%zu]", i);
	return 0;
}

int rootfs_create_devices(rootfs_context *ctx, berth_error **err)
{
	parent_cache cache = { .path = NULL, .fd = -EBADF };
	/* nodes get their mode as given, without a chmod each */
	mode_t old_umask = umask(0);
	int ret = create_nodes(ctx, &cache, err);

	umask(old_umask);
	parent_cache_clear(&cache);
	return ret;
}

int rootfs_setup_console(rootfs_context *ctx, int *peer, berth_error **err)
{
	_cleanup_close_ int ptmx = -EBADF;
	_cleanup_close_ int console = -EBADF;
	const spec_process *p = ctx->spec->process;
	char src[32], tgt[32];
	struct stat st;
	int master = -1, slave = -1;

	ptmx = fs_open_in_root(ctx->rootfd, "/dev/pts/ptmx", O_PATH, 0, false, NULL);
	if (ptmx < 0) /* no devpts of its own: use the host's */
		ptmx = open("/dev/ptmx", O_PATH | O_CLOEXEC);
	if (ptmx < 0)
		return berth_error_set(err, errno, "terminal: open ptmx");
	if (fstat(ptmx, &st) < 0 || !S_ISCHR(st.st_mode))
		return berth_error_set(err, EINVAL, "terminal: /dev/pts/ptmx is not a character device");
	if (terminal_open_pty(ptmx, p ? p->console_height : 0, p ? p->console_width : 0, &master, &slave, err) < 0)
		return berth_error_wrap(err, "terminal");
	/* The console target must be a plain file of our making, never a
	 * symlink planted in the image (CVE-2025-52565). */
	console = fs_ensure_mountpoint_in_root(ctx->rootfd, "/dev/console", false, err);
	if (console < 0) {
		close(master);
		close(slave);
		return berth_error_wrap(err, "terminal");
	}
	if (fstat(console, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
		close(master);
		close(slave);
		return berth_error_set(err, EINVAL, "terminal: /dev/console is neither a file nor a device");
	}
	if (mount(fs_proc_fd_path(slave, src), fs_proc_fd_path(console, tgt), NULL, MS_BIND, NULL) < 0) {
		int e = errno;
		close(master);
		close(slave);
		return berth_error_set(err, e, "terminal: bind the pty on /dev/console");
	}
	ctx->console_master = master;
	*peer = slave;
	return 0;
}
