/* Rootless berth: one user namespace and mount namespace per user, kept
 * alive by a pause process, joined by every berth command.
 *
 * An unprivileged user cannot mount an overlay or chown image files to
 * other ids. So the first rootless command forks a pause process that
 * unshares a user namespace (the caller's uid mapped to 0, and its
 * /etc/subuid and /etc/subgid ranges from 1 on, written by newuidmap and
 * newgidmap) and a mount namespace. Its pid is kept in RUN_ROOT/pause.pid;
 * later commands join both namespaces with setns, where they are root:
 * layers unpack with their real owners, overlays mount with userxattr, and
 * the containers' mounts outlive the command that made them. */
#ifndef BERTH_ENGINE_USERNS_H
#define BERTH_ENGINE_USERNS_H

#include <stdbool.h>

#include "util/error.h"

/* True when berth runs without real root: not uid 0, or uid 0 of a user
 * namespace other than the initial one (after engine_userns_join). */
bool engine_rootless(void);

/* Joins the rootless namespaces of RUN_ROOT (made 0700 when missing),
 * starting the pause process first when none is alive. When it was killed
 * while containers of STORE_ROOT still run, their monitors' namespaces are
 * joined instead and a new pause process is forked there, so those
 * containers stay reachable. Must be called while the process has one
 * thread. A no-op for real root and when already inside a user namespace.
 * The working directory is kept. */
int engine_userns_join(const char *run_root, const char *store_root, berth_error **err);

#endif
