/* The root directory of a running container as its own processes see it:
 * /proc/PID/root of its init, which shows the container's mount namespace
 * (volumes, bind mounts, tmpfs), unlike the overlay at DIR/bundle/rootfs. */
#ifndef BERTH_ENGINE_LIVE_ROOT_H
#define BERTH_ENGINE_LIVE_ROOT_H

#include "engine/record.h"
#include "util/error.h"

/* An O_PATH fd of C's root as its init sees it. C must be running or paused
 * with a live monitor (record_refresh first); the init must still be the
 * monitor's child, so a pid reused since is never opened. */
int engine_live_root_open(const container *c, berth_error **err);

/* Exit code docker gives a command that cannot start in the container whose
 * root is ROOTFD: 127 when ARGV0 (searched in PATH_ENV, or the default PATH,
 * when it has no '/') or the directory CWD does not exist, 126 when ARGV0 is
 * not an executable regular file; 0 when it looks runnable. ERR names what
 * failed (worded like the runtime's). */
int engine_exec_check(int rootfd, const char *cwd, const char *argv0, const char *path_env, berth_error **err);

#endif
