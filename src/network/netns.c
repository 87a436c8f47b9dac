/* Persistent network namespaces (see netns.h). */
#include "network/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "network/netlink.h"
#include "util/cleanup.h"

/* per thread: setns and unshare move only the calling thread */
#define CURRENT_NETNS "/proc/thread-self/ns/net"

static int open_current_netns(berth_error **err)
{
	int fd = open(CURRENT_NETNS, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open %s", CURRENT_NETNS);
	return fd;
}

/* Inside the freshly unshared namespace: lo up, then the bind mount. */
static int setup_new_netns(const char *path, berth_error **err)
{
	if (netlink_link_set_up("lo", err) < 0)
		return berth_error_wrap(err, "bring lo up");
	if (mount(CURRENT_NETNS, path, NULL, MS_BIND, NULL) < 0)
		return berth_error_set(err, errno, "bind-mount the network namespace on %s", path);
	return 0;
}

struct create_job {
	const char *path;
	berth_error *err;
	int ret;
};

/* A thread of its own unshares the namespace, so the caller's thread never
 * leaves its own: returning there would need CAP_SYS_ADMIN over the
 * caller's namespace, which rootless berth (root only of its own user
 * namespace) lacks. The thread's namespace dies with it unless mounted. */
static void *create_in_thread(void *arg)
{
	struct create_job *job = arg;

	if (unshare(CLONE_NEWNET) < 0)
		job->ret = berth_error_set(&job->err, errno, "unshare");
	else
		job->ret = setup_new_netns(job->path, &job->err);
	return NULL;
}

int netns_create(const char *path, berth_error **err)
{
	struct create_job job = { .path = path };
	pthread_t thread;
	int fd, e;

	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return berth_error_set(err, errno, "create network namespace %s", path);
	close(fd);
	e = pthread_create(&thread, NULL, create_in_thread, &job);
	if (e != 0) {
		unlink(path);
		return berth_error_set(err, e, "create network namespace %s: thread", path);
	}
	pthread_join(thread, NULL);
	if (job.ret < 0) {
		unlink(path);
		if (err)
			*err = job.err;
		else
			berth_error_free(&job.err);
		return berth_error_wrap(err, "create network namespace %s", path);
	}
	return 0;
}

int netns_remove(const char *path, berth_error **err)
{
	/* EINVAL: not a mount point (a crash between create and mount) */
	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
		return berth_error_set(err, errno, "remove network namespace %s: unmount", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return berth_error_set(err, errno, "remove network namespace %s: unlink", path);
	return 0;
}

int netns_open(const char *path, berth_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	struct statfs sfs;
	int type;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open network namespace %s", path);
	if (fstatfs(fd, &sfs) < 0)
		return berth_error_set(err, errno, "open network namespace %s: fstatfs", path);
	if (sfs.f_type != NSFS_MAGIC)
		return berth_error_set(err, EINVAL, "open network namespace %s: not a namespace (not mounted?)", path);
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type >= 0 && type != CLONE_NEWNET)
		return berth_error_set(err, EINVAL, "open network namespace %s: a namespace, but not a network one",
				       path);
	return move_fd(fd);
}

int netns_enter_fd(int nsfd, int *saved, berth_error **err)
{
	_cleanup_close_ int current = -EBADF;

	*saved = -EBADF;
	current = open_current_netns(err);
	if (current < 0)
		return berth_error_wrap(err, "enter network namespace");
	if (setns(nsfd, CLONE_NEWNET) < 0)
		return berth_error_set(err, errno, "enter network namespace");
	*saved = move_fd(current);
	return 0;
}

int netns_enter(const char *path, int *saved, berth_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	int ret;

	*saved = -EBADF;
	fd = netns_open(path, err);
	if (fd < 0)
		return fd;
	ret = netns_enter_fd(fd, saved, NULL);
	if (ret < 0)
		return berth_error_set(err, -ret, "enter network namespace %s", path);
	return 0;
}

int netns_leave(int saved, berth_error **err)
{
	int ret = 0;

	if (saved < 0)
		return 0;
	if (setns(saved, CLONE_NEWNET) < 0)
		ret = berth_error_set(err, errno, "return to the original network namespace");
	close(saved);
	return ret;
}
