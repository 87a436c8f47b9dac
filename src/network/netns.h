/* Persistent network namespaces.
 *
 * A container's network namespace outlives the processes in it: it is
 * bind-mounted on a file (like `ip netns add`), so the engine can configure
 * it before the container starts and tear it down after the container died.
 * Entering one is per thread (setns), and every function here leaves the
 * calling thread in the network namespace it started in. */
#ifndef BERTH_NETWORK_NETNS_H
#define BERTH_NETWORK_NETNS_H

#include "util/error.h"

/* Creates a new network namespace with `lo` up and bind-mounts it on PATH.
 * PATH must not exist (it is created, its parent must exist); the mount is
 * made in the caller's mount namespace. The calling thread's own network
 * namespace is unchanged afterwards. On error nothing is left: no file, no
 * mount. */
int netns_create(const char *path, berth_error **err);

/* Unmounts (MNT_DETACH) and unlinks PATH. A missing PATH is not an error;
 * a PATH that exists but is not mounted is just unlinked. */
int netns_remove(const char *path, berth_error **err);

/* Opens the network namespace mounted on PATH (O_RDONLY|O_CLOEXEC) and
 * checks that it is one. Returns the fd. */
int netns_open(const char *path, berth_error **err);

/* Moves the calling thread into the network namespace NSFD. *SAVED gets an
 * fd of the namespace it was in, for netns_leave(). */
int netns_enter_fd(int nsfd, int *saved, berth_error **err);

/* netns_enter_fd() on the namespace mounted on PATH. */
int netns_enter(const char *path, int *saved, berth_error **err);

/* Moves the calling thread back into SAVED (from netns_enter) and closes it.
 * SAVED < 0 does nothing. Failing to come back is reported: the caller must
 * not go on as if it were home. */
int netns_leave(int saved, berth_error **err);

#endif
