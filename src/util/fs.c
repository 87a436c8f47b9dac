#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <limits.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

int fs_read_file_at(int dirfd, const char *name, char **out, size_t *len, berth_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t used = 0, cap = 0;

	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", name);
	for (;;) {
		ssize_t n;
		if (cap - used < 4096) {
			char *grown;
			cap = cap ? cap * 2 : 8192;
			grown = realloc(buf, cap + 1);
			if (grown == NULL)
				return berth_error_set(err, ENOMEM, "read \"%s\"", name);
			buf = grown;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berth_error_set(err, errno, "read \"%s\"", name);
		}
		if (n == 0)
			break;
		used += n;
	}
	if (buf == NULL) {
		buf = strdup("");
		if (buf == NULL)
			return berth_error_set(err, ENOMEM, "read \"%s\"", name);
	}
	buf[used] = '\0';
	if (len)
		*len = used;
	*out = move_ptr(buf);
	return 0;
}

int fs_read_file(const char *path, char **out, size_t *len, berth_error **err)
{
	return fs_read_file_at(AT_FDCWD, path, out, len, err);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= n;
	}
	return 0;
}

int fs_write_file_at(int dirfd, const char *name, const char *data, size_t len, berth_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	int ret;

	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", name);
	ret = write_all(fd, data, len);
	if (ret < 0)
		return berth_error_set(err, -ret, "write \"%s\" to \"%s\"", data, name);
	return 0;
}

static bool is_tmpfs(int fd)
{
	struct statfs sf;
	return fstatfs(fd, &sf) == 0 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC);
}

static int write_replace(int dirfd, const char *name, const char *data, size_t len, mode_t mode, bool durable,
			 berth_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	int ret;

	if (asprintf(&tmp, ".%s.tmp%d", name, (int)getpid()) < 0)
		return berth_error_set(err, ENOMEM, "write \"%s\"", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return berth_error_set(err, errno, "create \"%s\"", tmp);
	ret = write_all(fd, data, len);
	/* tmpfs (the runtime's state in /run) has nothing to flush */
	if (ret == 0 && durable && !is_tmpfs(fd) && fsync(fd) < 0)
		ret = -errno;
	if (ret == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		ret = -errno;
	if (ret < 0) {
		unlinkat(dirfd, tmp, 0);
		return berth_error_set(err, -ret, "write \"%s\"", name);
	}
	return 0;
}

int fs_write_file_atomic(int dirfd, const char *name, const char *data, size_t len, mode_t mode, berth_error **err)
{
	return write_replace(dirfd, name, data, len, mode, true, err);
}

int fs_write_file_replace(int dirfd, const char *name, const char *data, size_t len, mode_t mode, berth_error **err)
{
	return write_replace(dirfd, name, data, len, mode, false, err);
}

int fs_write_file_fresh(int dirfd, const char *name, const char *data, size_t len, mode_t mode, berth_error **err)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	int ret;

	if (fd < 0 && errno == EEXIST)
		return write_replace(dirfd, name, data, len, mode, false, err);
	if (fd < 0)
		return berth_error_set(err, errno, "create \"%s\"", name);
	ret = write_all(fd, data, len);
	close(fd);
	if (ret < 0) {
		unlinkat(dirfd, name, 0);
		return berth_error_set(err, -ret, "write \"%s\"", name);
	}
	return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(path);
	char *p;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "mkdir \"%s\"", path);
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return berth_error_set(err, errno, "mkdir \"%s\"", copy);
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return berth_error_set(err, errno, "mkdir \"%s\"", copy);
	return 0;
}

static int openat2_resolve(int rootfd, const char *path, int flags, mode_t mode, unsigned long long resolve)
{
	struct open_how how = {
		.flags = flags,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve,
	};
	return syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

static int openat2_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	return openat2_resolve(rootfd, path, flags, mode, 0);
}

/* Component walk for kernels without openat2: every intermediate component
 * is opened with O_NOFOLLOW; a symlink is resolved by hand against ROOTFD. */
static int walk_in_root(int rootfd, const char *path, int flags, mode_t mode, int depth)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int cur = -EBADF;
	char *save = NULL, *comp, *next;

	if (copy == NULL)
		return -ENOMEM;
	if (depth > 40)
		return -ELOOP;
	cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	comp = strtok_r(copy, "/", &save);
	while (comp != NULL) {
		int fd;
		bool last;
		next = strtok_r(NULL, "/", &save);
		last = next == NULL;
		if (strcmp(comp, ".") == 0) {
			comp = next;
			continue;
		}
		if (strcmp(comp, "..") == 0) {
			/* ".." never climbs above the root: compare with rootfd */
			struct stat st_cur, st_root;
			if (fstat(cur, &st_cur) == 0 && fstat(rootfd, &st_root) == 0 &&
			    st_cur.st_dev == st_root.st_dev && st_cur.st_ino == st_root.st_ino)
				fd = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
			else
				fd = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		} else if (last) {
			fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			if (fd < 0 && errno == ELOOP && !(flags & O_NOFOLLOW)) {
				char target[4096];
				ssize_t n = readlinkat(cur, comp, target, sizeof(target) - 1);
				if (n < 0)
					return -errno;
				target[n] = '\0';
				if (target[0] == '/')
					return walk_in_root(rootfd, target, flags, mode, depth + 1);
				/* relative link: resolve from the current directory */
				return walk_in_root(cur, target, flags, mode, depth + 1);
			}
		} else {
			fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
				char target[4096];
				_cleanup_free_ char *rest = NULL;
				ssize_t n = readlinkat(cur, comp, target, sizeof(target) - 1);
				if (n < 0)
					return -ENOTDIR;
				target[n] = '\0';
				if (asprintf(&rest, "%s/%s%s%s", target, next, save && *save ? "/" : "",
					     save ? save : "") < 0)
					return -ENOMEM;
				return walk_in_root(target[0] == '/' ? rootfd : cur, rest, flags, mode, depth + 1);
			}
		}
		if (fd < 0)
			return -errno;
		close(cur);
		cur = fd;
		comp = next;
	}
	if (!(flags & O_PATH) && !(flags & O_DIRECTORY))
		return openat(cur, ".", flags | O_CLOEXEC) < 0 ? -errno : -EISDIR;
	return move_fd(cur);
}

int fs_open_in_root(int rootfd, const char *path, int flags, mode_t mode, bool follow_last, berth_error **err)
{
	static int have_openat2 = -1;
	int fd;

	flags |= O_CLOEXEC;
	if (!follow_last)
		flags |= O_NOFOLLOW;
	if (have_openat2 != 0) {
		fd = openat2_in_root(rootfd, path, flags, mode);
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS)
			return berth_error_set(err, errno, "open \"%s\" inside the rootfs", path);
		have_openat2 = 0;
	}
	fd = walk_in_root(rootfd, path, flags, mode, 0);
	if (fd < 0)
		return berth_error_set(err, -fd, "open \"%s\" inside the rootfs", path);
	return fd;
}

/* The most symlinks followed by hand while creating a path (as the kernel's
 * MAXSYMLINKS). */
#define FS_MAX_SYMLINKS 40

/* PARENT/NAME's symlink target as a path inside the root: an absolute target
 * is taken from the root, a relative one from PARENT; REST follows it. */
static char *symlink_in_root(int parentfd, const char *name, const char *parent, const char *rest, berth_error **err)
{
	char target[PATH_MAX];
	char *out = NULL;
	ssize_t n = readlinkat(parentfd, name, target, sizeof(target) - 1);

	if (n < 0)
		return berth_error_set(err, errno, "read the symlink \"%s/%s\" inside the rootfs", parent, name), NULL;
	target[n] = '\0';
	if (asprintf(&out, "%s%s%s%s%s", target[0] == '/' ? "" : parent, target[0] == '/' ? "" : "/", target,
		     *rest ? "/" : "", rest) < 0)
		return berth_error_set(err, ENOMEM, "symlink \"%s\"", name), NULL;
	return out;
}

static bool is_symlink_at(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

static int mkdir_p_in_root(int rootfd, const char *path, mode_t mode, int depth, berth_error **err)
{
	_cleanup_free_ char *partial = calloc(1, strlen(path) + 2);
	const char *p = path;

	if (partial == NULL)
		return berth_error_set(err, ENOMEM, "mkdir \"%s\"", path);
	if (depth > FS_MAX_SYMLINKS)
		return berth_error_set(err, ELOOP, "mkdir \"%s\" inside the rootfs", path);
	/* Each prefix is resolved inside the root, so a symlinked component
	 * is followed only within the rootfs; mkdirat acts on that fd. A
	 * dangling symlink gets its target created, inside the root too. */
	for (;;) {
		_cleanup_close_ int parentfd = -EBADF;
		_cleanup_close_ int dirfd = -EBADF;
		const char *end;
		size_t used = strlen(partial);
		char name[NAME_MAX + 1];

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = strchrnul(p, '/');
		parentfd = fs_open_in_root(rootfd, used ? partial : "/", O_PATH | O_DIRECTORY, 0, true, err);
		if (parentfd < 0)
			return berth_error_wrap(err, "mkdir \"%s\"", path);
		if ((size_t)(end - p) > NAME_MAX)
			return berth_error_set(err, ENAMETOOLONG, "mkdir \"%s\"", path);
		memcpy(name, p, end - p);
		name[end - p] = '\0';
		partial[used] = '/';
		memcpy(partial + used + 1, p, end - p);
		partial[used + 1 + (end - p)] = '\0';
		p = end;
		if (strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
			continue;
		if (mkdirat(parentfd, name, mode) == 0)
			continue;
		if (errno != EEXIST)
			return berth_error_set(err, errno, "mkdir \"%s\" inside the rootfs", partial);
		if (!is_symlink_at(parentfd, name))
			continue;
		/* fs_open_in_root returns -errno */
		dirfd = fs_open_in_root(rootfd, partial, O_PATH | O_DIRECTORY, 0, true, NULL);
		if (dirfd == -ENOENT) {
			_cleanup_free_ char *next = NULL;
			partial[used] = '\0';
			next = symlink_in_root(parentfd, name, partial, p, err);
			if (next == NULL)
				return -1;
			return mkdir_p_in_root(rootfd, next, mode, depth + 1, err);
		}
	}
	return fs_open_in_root(rootfd, partial[0] ? partial : "/", O_PATH | O_DIRECTORY, 0, true, err);
}

int fs_mkdir_p_in_root(int rootfd, const char *path, mode_t mode, berth_error **err)
{
	/* Most parents exist already (/dev, /proc, /sys): one openat2, which
	 * resolves as the walk below would, instead of a step per component */
	int fd = openat2_in_root(rootfd, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);

	if (fd >= 0)
		return fd;
	return mkdir_p_in_root(rootfd, path, mode, 0, err);
}

static int ensure_mountpoint_in_root(int rootfd, const char *path, bool is_dir, bool follow, int depth,
				     bool *as_written, berth_error **err)
{
	_cleanup_free_ char *parent = strdup(path);
	_cleanup_close_ int parentfd = -EBADF;
	const char *base;
	char *slash;
	struct stat st;
	int fd;

	if (parent == NULL)
		return berth_error_set(err, ENOMEM, "mount target \"%s\"", path);
	if (depth > FS_MAX_SYMLINKS)
		return berth_error_set(err, ELOOP, "mount target \"%s\": too many symlinks", path);
	/* Most targets exist already (proc, sys, dev): one openat2 instead of
	 * a walk that makes each parent; a symlink takes the walk below. No
	 * symlink on the way is the common case, and then PATH names what was
	 * opened (AS_WRITTEN): the caller need not ask the kernel where it is. */
	fd = openat2_resolve(rootfd, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS);
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode)) {
			if (as_written != NULL)
				*as_written = true;
			return fd;
		}
		close(fd);
	} else if (errno == ELOOP) {
		fd = openat2_in_root(rootfd, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd >= 0) {
			if (fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode))
				return fd;
			close(fd);
		}
	}
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash != parent)
		*slash = '\0';
	slash = strrchr(parent, '/');
	if (slash == NULL) {
		base = parent;
		parentfd = fs_mkdir_p_in_root(rootfd, ".", 0755, err);
	} else {
		*slash = '\0';
		base = slash + 1;
		parentfd = fs_mkdir_p_in_root(rootfd, parent[0] ? parent : "/", 0755, err);
	}
	if (parentfd < 0)
		return berth_error_wrap(err, "mount target \"%s\"", path);
	if (*base == '\0')
		return fcntl(parentfd, F_DUPFD_CLOEXEC, 3);
	if (is_dir) {
		if (mkdirat(parentfd, base, 0755) < 0 && errno != EEXIST)
			return berth_error_set(err, errno, "mkdir mount target \"%s\"", path);
	} else {
		int f = openat(parentfd, base, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (f >= 0)
			close(f);
		else if (errno != EEXIST)
			return berth_error_set(err, errno, "create mount target \"%s\"", path);
	}
	/* just made (nothing of the container runs yet): reached without a
	 * symlink, it is the path as written */
	if (as_written != NULL) {
		fd = openat2_resolve(rootfd, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS);
		if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode)) {
			*as_written = true;
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}
	fd = openat(parentfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open mount target \"%s\"", path);
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return berth_error_set(err, e, "stat mount target \"%s\"", path);
	}
	if (S_ISLNK(st.st_mode) && !follow) {
		close(fd);
		return berth_error_set(err, ELOOP, "mount target \"%s\" is a symlink", path);
	}
	if (S_ISLNK(st.st_mode)) {
		/* Followed by hand, inside the root: the target is made like
		 * the destination itself, and the mount goes onto the fd of
		 * what was opened, never onto a path (CVE-2021-30465). */
		_cleanup_free_ char *next = NULL;
		close(fd);
		if (slash != NULL)
			*slash = '\0';
		next = symlink_in_root(parentfd, base, slash != NULL ? parent : "", "", err);
		if (next == NULL)
			return berth_error_wrap(err, "mount target \"%s\"", path);
		return ensure_mountpoint_in_root(rootfd, next, is_dir, true, depth + 1, NULL, err);
	}
	return fd;
}

int fs_ensure_mountpoint_in_root(int rootfd, const char *path, bool is_dir, berth_error **err)
{
	return ensure_mountpoint_in_root(rootfd, path, is_dir, false, 0, NULL, err);
}

int fs_resolve_mountpoint_in_root(int rootfd, const char *path, bool is_dir, bool *as_written, berth_error **err)
{
	if (as_written != NULL)
		*as_written = false;
	return ensure_mountpoint_in_root(rootfd, path, is_dir, true, 0, as_written, err);
}

const char *fs_proc_fd_path(int fd, char *buf)
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

int fs_mount_on_fd(const char *source, int fd, const char *name, const char *fstype, unsigned long flags,
		   const void *data)
{
	char path[64 + NAME_MAX];

	if (fchdir(fd) == 0)
		return mount(source, name ? name : ".", fstype, flags, data);
	if (name == NULL)
		return mount(source, fs_proc_fd_path(fd, path), fstype, flags, data);
	if ((size_t)snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", fd, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mount(source, path, fstype, flags, data);
}

static int remove_tree_at(int parentfd, const char *name, dev_t dev)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	int fd;

	if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parentfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (st.st_dev != dev)
		return -EBUSY;
	fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		int ret;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		ret = remove_tree_at(dirfd(d), de->d_name, dev);
		if (ret < 0)
			return ret;
	}
	if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int fs_remove_tree_at(int parentfd, const char *name)
{
	struct stat st;

	if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return remove_tree_at(parentfd, name, st.st_dev);
}

int fs_remove_tree(const char *path, berth_error **err)
{
	struct stat st;
	int ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "remove \"%s\"", path);
	ret = remove_tree_at(AT_FDCWD, path, st.st_dev);
	if (ret < 0)
		return berth_error_set(err, -ret, "remove \"%s\"", path);
	return 0;
}

char *fs_path_join(const char *a, const char *b)
{
	char *out = NULL;
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (asprintf(&out, "%.*s%s%s", (int)la, a, (la == 1 && a[0] == '/') ? "" : "/", b) < 0)
		return NULL;
	return out;
}

void fs_mark_top_dir(int dirfd)
{
	int flags = 0;

	if (ioctl(dirfd, FS_IOC_GETFLAGS, &flags) < 0 || (flags & FS_TOPDIR_FL))
		return;
	flags |= FS_TOPDIR_FL;
	if (ioctl(dirfd, FS_IOC_SETFLAGS, &flags) < 0)
		berth_debug("set FS_TOPDIR_FL: %s", strerror(errno));
}
