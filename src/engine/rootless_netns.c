/* The rootless network namespace (rootless_netns.h). */
#include "engine/rootless_netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/network_internal.h"
#include "engine/userns.h"
#include "network/netns.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define NETNS_FILE  "rootless-netns"
#define LOCK_FILE   "rootless-netns.lock" /* in the host-wide directory */
#define PASTA_PID   "rootless-netns.pasta.pid"
#define PORTS_DIR   "rootless-ports"
#define EDGE_IFNAME "eth0"

bool engine_rootless_netns_available(void)
{
	return engine_rootless() && strcmp(engine_network_default(), "pasta") == 0;
}

char *engine_rootless_netns_path(const engine_paths *p)
{
	return fs_path_join(p->run_root, NETNS_FILE);
}

/* The pid in the pid file NAME of directory DIRFD when that process is a
 * pasta of the namespace NSPATH (its command line names it), else 0. */
static pid_t pasta_of(int dirfd, const char *name, const char *nspath)
{
	_cleanup_free_ char *text = NULL, *cmdline = NULL;
	char proc[64];
	size_t len = 0;
	pid_t pid;

	if (fs_read_file_at(dirfd, name, &text, NULL, NULL) < 0)
		return 0;
	pid = (pid_t)strtol(text, NULL, 10);
	if (pid <= 0)
		return 0;
	snprintf(proc, sizeof(proc), "/proc/%d/cmdline", (int)pid);
	if (fs_read_file(proc, &cmdline, &len, NULL) < 0)
		return 0;
	for (size_t i = 0; i + 1 < len; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	return strstr(cmdline, "pasta") && strstr(cmdline, nspath) ? pid : 0;
}

/* Stops the pasta of pid file NAME (when it is one of NSPATH) and removes
 * the file. */
static void pasta_stop(int dirfd, const char *name, const char *nspath)
{
	pid_t pid = pasta_of(dirfd, name, nspath);

	if (pid > 0)
		kill(pid, SIGTERM);
	unlinkat(dirfd, name, 0);
}

/* The namespace's lock in the host-wide directory, taken with OP (flock);
 * the fd, or -1 (with EWOULDBLOCK for LOCK_NB when it is busy). */
static int netns_lock(const hostnet *h, int op, berth_error **err)
{
	_cleanup_close_ int fd = openat(h->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return berth_error_set(err, errno, "%s/%s", h->dir, LOCK_FILE);
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return berth_error_set(err, errno, "lock %s/%s", h->dir, LOCK_FILE);
	return move_fd(fd);
}

/* The namespace mounted on NSPATH, made when missing (a file left by a
 * killed command, or by a mount namespace that is gone, is replaced), and
 * its outbound pasta, started when none runs. Under the exclusive lock. */
static int ensure_locked(const hostnet *h, const char *nspath, berth_error **err)
{
	_cleanup_free_ char *pidfile = fs_path_join(h->dir, PASTA_PID);
	_cleanup_close_ int fd = netns_open(nspath, NULL);
	pid_t pid;

	if (pidfile == NULL)
		return berth_error_set(err, ENOMEM, "rootless network namespace");
	if (fd < 0) {
		berth_debug("rootless network namespace %s: making it", nspath);
		if (netns_remove(nspath, err) < 0 || netns_create(nspath, err) < 0)
			return berth_error_wrap(err, "rootless network namespace");
	} else if (pasta_of(h->dirfd, PASTA_PID, nspath) > 0) {
		return 0;
	}
	pid = network_pasta_start(nspath, pidfile, EDGE_IFNAME, true, NULL, 0, err);
	if (pid < 0)
		return berth_error_wrap(err, "rootless network namespace %s", nspath);
	return 0;
}

struct run_job {
	int nsfd;
	int (*fn)(void *arg, berth_error **err);
	void *arg;
	berth_error *err;
	int ret;
};

static void *run_in_thread(void *data)
{
	struct run_job *job = data;

	if (setns(job->nsfd, CLONE_NEWNET) < 0)
		job->ret = berth_error_set(&job->err, errno, "enter the rootless network namespace");
	else
		job->ret = job->fn(job->arg, &job->err);
	return NULL;
}

int engine_rootless_netns_run(const engine_paths *p, bool create, int (*fn)(void *arg, berth_error **err), void *arg,
			      berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	_cleanup_free_ char *nspath = NULL;
	_cleanup_close_ int lock = -EBADF, nsfd = -EBADF;
	struct run_job job = { .fn = fn, .arg = arg };
	pthread_t thread;
	int e;

	if (!engine_rootless())
		return fn(arg, err);
	if ((nspath = engine_rootless_netns_path(p)) == NULL)
		return berth_error_set(err, ENOMEM, "rootless network namespace");
	if (network_hostnet_open(p, &h, err) < 0 || (lock = netns_lock(&h, LOCK_EX, err)) < 0)
		return -1;
	if (create && ensure_locked(&h, nspath, err) < 0)
		return -1;
	/* shared from here: kept, not removed, while FN runs */
	if (flock(lock, LOCK_SH) < 0)
		return berth_error_set(err, errno, "lock %s/%s", h.dir, LOCK_FILE);
	nsfd = netns_open(nspath, NULL);
	if (nsfd < 0)
		return fn(arg, err); /* none, and none asked for */
	job.nsfd = nsfd;
	e = pthread_create(&thread, NULL, run_in_thread, &job);
	if (e != 0)
		return berth_error_set(err, e, "rootless network namespace: thread");
	pthread_join(thread, NULL);
	if (job.ret < 0) {
		if (err)
			*err = job.err;
		else
			berth_error_free(&job.err);
	}
	return job.ret;
}

/* The pid file of PORT's pasta in the host-wide directory. */
static void port_pidfile(const net_port *port, char *out, size_t len)
{
	snprintf(out, len, PORTS_DIR "/%s-%s%s%u.pid", port->proto, port->host_ip, port->host_ip[0] ? "-" : "",
		 port->host_port);
}

int engine_rootless_netns_publish(const engine_paths *p, const net_port *ports, size_t n, berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	_cleanup_free_ char *nspath = engine_rootless_netns_path(p);
	_cleanup_close_ int lock = -EBADF;

	if (n == 0)
		return 0;
	if (nspath == NULL)
		return berth_error_set(err, ENOMEM, "rootless network namespace");
	if (network_hostnet_open(p, &h, err) < 0 || (lock = netns_lock(&h, LOCK_SH, err)) < 0)
		return -1;
	if (mkdirat(h.dirfd, PORTS_DIR, 0700) < 0 && errno != EEXIST)
		return berth_error_set(err, errno, "%s/%s", h.dir, PORTS_DIR);
	for (size_t i = 0; i < n; i++) {
		/* the same port inside, where berth's DNAT of the port waits */
		net_port fwd = ports[i];
		char name[128], ifname[16];
		_cleanup_free_ char *pidfile = NULL;

		fwd.ctr_port = fwd.host_port;
		port_pidfile(&fwd, name, sizeof(name));
		if (pasta_of(h.dirfd, name, nspath) > 0)
			continue;
		snprintf(ifname, sizeof(ifname), "bp%c%u", fwd.proto[0], fwd.host_port);
		if ((pidfile = fs_path_join(h.dir, name)) == NULL)
			return berth_error_set(err, ENOMEM, "publish");
		if (network_pasta_start(nspath, pidfile, ifname, false, &fwd, 1, err) < 0)
			return berth_error_wrap(err, "publish %s/%u from the host into the rootless network namespace",
						fwd.proto, fwd.host_port);
	}
	return 0;
}

void engine_rootless_netns_unpublish(const engine_paths *p, const net_port *ports, size_t n)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	_cleanup_free_ char *nspath = engine_rootless_netns_path(p);
	berth_error *e = NULL;

	if (n == 0 || nspath == NULL)
		return;
	if (network_hostnet_open(p, &h, &e) < 0) {
		berth_error_free(&e);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char name[128];
		port_pidfile(&ports[i], name, sizeof(name));
		pasta_stop(h.dirfd, name, nspath);
	}
}

/* Whether the host-wide subdirectory SUB holds a live user: an owner
 * record of a live container ("owners"), or any record ("services"). */
static bool has_users(const hostnet *h, const char *sub)
{
	_cleanup_closedir_ DIR *d = NULL;
	int fd = openat(h->dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;

	if (fd < 0)
		return false;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return false;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char id[128];
		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (strcmp(sub, "owners") != 0)
			return true;
		snprintf(id, sizeof(id), "%.*s", (int)(len - 5), de->d_name);
		if (hostnet_owner_alive(h, id))
			return true;
	}
	return false;
}

void engine_rootless_netns_release(const engine_paths *p)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	_cleanup_free_ char *nspath = NULL;
	_cleanup_close_ int lock = -EBADF, ports = -EBADF;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	berth_error *e = NULL;

	if (!engine_rootless() || (nspath = engine_rootless_netns_path(p)) == NULL || access(nspath, F_OK) < 0)
		return;
	/* waits for the commands that use it now (short: a network made or
	 * taken down, a service changed), then sees whether they left a user */
	if (network_hostnet_open(p, &h, &e) < 0 || (lock = netns_lock(&h, LOCK_EX, &e)) < 0) {
		berth_debug("rootless network namespace: %s", e->msg);
		berth_error_free(&e);
		return;
	}
	if (has_users(&h, "owners") || has_users(&h, "services"))
		return;
	berth_debug("rootless network namespace %s: no user left, removing it", nspath);
	ports = openat(h.dirfd, PORTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ports >= 0 && (d = fdopendir(ports)) != NULL) {
		int dfd = move_fd(ports);
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				pasta_stop(dfd, de->d_name, nspath);
		unlinkat(h.dirfd, PORTS_DIR, AT_REMOVEDIR);
	}
	if (netns_remove(nspath, &e) < 0) {
		berth_debug("%s", e->msg);
		berth_error_free(&e);
	}
	/* it quits by itself when the file goes; a signal is quicker */
	pasta_stop(h.dirfd, PASTA_PID, nspath);
}
