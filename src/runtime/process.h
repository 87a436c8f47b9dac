/* The last steps before a container process execs, shared by the init of
 * `create` and by `exec`: limits, scheduling, identity, capabilities,
 * no_new_privs, seccomp, the working directory and the fd table. */
#ifndef BERTH_RUNTIME_PROCESS_H
#define BERTH_RUNTIME_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "runtime/seccomp.h"
#include "spec/spec.h"
#include "util/error.h"

/* Finds ARGS[0] in the PATH of the process env (or the default PATH) and
 * checks it is an executable regular file. *PATH is heap. */
int process_find_executable(const spec_process *p, char **path, berth_error **err);

/* rlimits, oom_score_adj, scheduler, I/O priority, umask, personality. */
int process_apply_limits(const spec_process *p, const spec_personality *pers, berth_error **err);

/* chdir to the cwd and verify it is inside the container's root
 * (CVE-2024-21626: a leaked host fd as /proc/self/fd/N must not work). */
int process_enter_cwd(const spec_process *p, berth_error **err);

/* Bounding set, uid/gid/groups, then the other capability sets. */
int process_set_identity(const spec_process *p, bool in_userns, berth_error **err);

/* Marks every fd from 3 + PRESERVE_FDS upwards close-on-exec and clears it
 * on the preserved ones, so only stdio and those reach the new program. */
int process_prepare_fds(int preserve_fds, berth_error **err);

/* The environment for execve: HOME from the container's /etc/passwd when
 * the env has none (as runc), LISTEN_FDS/LISTEN_PID when asked. */
char **process_build_env(const spec_process *p, int listen_fds);

/* Gives the stdio pipes and sockets of the calling runtime (fds 0-2, which
 * the container process inherits) to the process's UID and GID, as crun
 * does, so that a non-root process can reopen /proc/self/fd/1 or
 * /dev/stdout. The ids are the container's, translated through the user
 * namespace of PID (the init). Files, fifos on a file system and ttys are
 * left alone; so is what the runtime may not chown (rootless). */
int process_chown_stdio(pid_t pid, uid_t uid, gid_t gid, berth_error **err);

#endif
