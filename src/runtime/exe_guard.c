#include "runtime/exe_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

extern char **environ;

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

bool exe_guard_is_sealed(void)
{
	_cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	struct statvfs sv;
	int seals;

	if (fd < 0)
		return false;
	if (fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY))
		return true;
	seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SEAL);
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* A detached, read-only clone of the mount at PATH. */
static int readonly_detached_clone(const char *path)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	_cleanup_close_ int tree = syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

	if (tree < 0)
		return -1;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return -1;
	return move_fd(tree);
}

/* The binary PATH (the file SELF has open) through a read-only clone of its
 * directory (so /proc/PID/exe reads "/berth-runtime"), or of the file. */
static int open_readonly_binary(const char *path, int self)
{
	_cleanup_close_ int dir = -EBADF;
	char dircopy[PATH_MAX], basecopy[PATH_MAX];
	size_t n = path ? strlen(path) : 0;
	int fd;

	if (n > 0 && n < PATH_MAX && path[0] == '/') {
		memcpy(dircopy, path, n + 1);
		memcpy(basecopy, path, n + 1);
		dir = readonly_detached_clone(dirname(dircopy));
		if (dir >= 0) {
			fd = openat(dir, basename(basecopy), O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0 && same_file(fd, self))
				return fd;
			if (fd >= 0)
				close(fd);
		}
	}
	return readonly_detached_clone(path ? path : "/proc/self/exe");
}

static int sealed_memfd_copy(int self)
{
	_cleanup_close_ int memfd = memfd_create("berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct stat st;
	off_t off = 0;

	if (memfd < 0 || fstat(self, &st) < 0)
		return -1;
	while (off < st.st_size) {
		ssize_t n = sendfile(memfd, self, &off, st.st_size - off);
		if (n <= 0)
			return -1;
	}
	if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -1;
	return move_fd(memfd);
}

int exe_guard_open_sealed(const char *path, berth_error **err)
{
	char self_path[PATH_MAX];
	_cleanup_close_ int self = -EBADF;
	int sealed;

	if (path == NULL) {
		ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
		if (n > 0) {
			self_path[n] = '\0';
			path = self_path;
		}
		self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	} else {
		self = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (self < 0)
		return berth_error_set(err, errno, "open \"%s\"", path ? path : "/proc/self/exe");
	sealed = open_readonly_binary(path, self);
	if (sealed < 0) {
		berth_debug("read-only mount of the runtime binary: %s; using a sealed copy", strerror(errno));
		sealed = sealed_memfd_copy(self);
	}
	if (sealed < 0)
		return berth_error_set(err, errno,
				       "protect the runtime binary (CVE-2019-5736): no read-only or sealed copy");
	return sealed;
}

int exe_guard_reexec_sealed(char **argv, berth_error **err)
{
	_cleanup_close_ int self = -EBADF;
	_cleanup_close_ int sealed = -EBADF;

	if (exe_guard_is_sealed())
		return 0;
	sealed = exe_guard_open_sealed(NULL, err);
	if (sealed < 0)
		return -1;
	syscall(SYS_execveat, sealed, "", argv, environ, AT_EMPTY_PATH);
	return berth_error_set(err, errno, "protect the runtime binary (CVE-2019-5736): re-execute");
}

int exe_guard_make_undumpable(berth_error **err)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return berth_error_set(err, errno, "prctl(PR_SET_DUMPABLE, 0)");
	return 0;
}
