/* The runtime's own binary, seen from inside a container (CVE-2019-5736,
 * CVE-2016-9962).
 *
 * The processes the runtime puts into a container (the init until start,
 * the exec process until its execve) run the runtime's image, so the
 * container can reach the host's binary through /proc/PID/exe, or make the
 * runtime execute it ("#!/proc/self/exe"), and reopen it for writing once
 * nothing runs it. Two guards:
 *
 *  - exe_guard_reexec_sealed(): create, run and exec re-execute the runtime
 *    from a read-only bind mount of its binary that is never attached to
 *    any mount namespace (open_tree + mount_setattr: no mount event on the
 *    host), or from a sealed memfd copy where that is not permitted. Every
 *    /proc/PID/exe a container could see then names a file that cannot be
 *    opened for writing (EROFS, or sealed). Costs one execve.
 *  - exe_guard_make_undumpable(): the runtime's processes inside a
 *    container's pid namespace are non-dumpable, so a container process
 *    without CAP_SYS_PTRACE in the host's user namespace cannot open their
 *    /proc/PID/exe, fds, cwd, environ or memory. */
#ifndef BERTH_RUNTIME_EXE_GUARD_H
#define BERTH_RUNTIME_EXE_GUARD_H

#include <stdbool.h>

#include "util/error.h"

/* Whether /proc/self/exe is on a read-only mount or a write-sealed memfd. */
bool exe_guard_is_sealed(void);

/* Returns 0 when already sealed; otherwise re-executes ARGV from a sealed
 * binary and does not return, or fails with the reason. */
int exe_guard_reexec_sealed(char **argv, berth_error **err);

/* An fd (O_PATH or a memfd, close-on-exec) of the binary PATH (NULL: this
 * process's own) on a detached read-only mount, or a sealed copy: what
 * exe_guard_reexec_sealed executes. A program that starts the runtime
 * (berth's monitor) can execveat() it and spare the runtime its re-exec. */
int exe_guard_open_sealed(const char *path, berth_error **err);

int exe_guard_make_undumpable(berth_error **err);

#endif
