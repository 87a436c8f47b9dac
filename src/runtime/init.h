/* The container init: the child the runtime clones.  It joins or already
 * owns its namespaces, builds the rootfs, reports ready over the sync
 * socket, blocks on the exec fifo until `start` (not in `run`), then execs
 * the process. */
#ifndef BERTH_RUNTIME_INIT_H
#define BERTH_RUNTIME_INIT_H

#include <stdbool.h>

#include "runtime/cgroup.h"
#include "runtime/seccomp.h"
#include "spec/spec.h"

typedef struct init_config {
	const spec *spec;
	const char *id;
	const char *rootfs;
	int sync_fd;
	int state_dirfd; /* O_PATH fd of ROOT/ID, for the exec fifo */
	/* `run`: no exec fifo; exec the process as soon as SYNC_READY is
	 * sent (with linux.netDevices, once SYNC_START follows: the runtime
	 * moves them meanwhile), keeping the sync socket open until the execve */
	bool start_now;
	/* the runtime is not sealed: the init seals itself right after
	 * rootfs_prepare (exe_guard_seal_in_mount_ns) */
	bool seal_exe;
	int ns_fds[NS_TYPES];
	bool no_pivot;
	bool no_new_keyring;
	bool new_userns;
	/* Joining namespaces owned by the host together with a new user
	 * namespace: join first, then unshare the user namespace (the runtime
	 * writes its maps), then unshare LATE_FLAGS and fork the real init.
	 * With a joined user namespace: join it, then unshare LATE_FLAGS (so
	 * that it owns the new namespaces) and fork. */
	bool late_userns;
	int late_flags;
	/* The runtime writes the cgroup's resources while the init builds
	 * its rootfs: SYNC_GO comes before the cgroup namespace, the cgroup
	 * mounts and the device nodes instead of before everything (with a
	 * new user namespace, SYNC_MAPS_DONE before everything). Not on v2,
	 * not with a late user namespace, not rootless with a user namespace. */
	bool early_setup;
	/* the CPUs to run on until the cgroups are joined (off but with early
	 * setup: cpu_spread_plan) */
	const struct cpu_spread *spread;
	/* the runtime's fd of the unified cgroup (CLONE_INTO_CGROUP), closed
	 * first thing, or -1 */
	int cgroup_clone_fd;
	/* the cgroup hierarchies the runtime read (cgroup_mount_in_rootfs) */
	const cgroup_mount *cgroup_mounts;
	size_t n_cgroup_mounts;

	int preserve_fds; /* fds 3.. to keep (LISTEN_FDS included) */
	int listen_fds;
	const seccomp_filter *seccomp; /* NULL when no linux.seccomp */
	const int *idmap_fds;	       /* by mount index, see rootfs_context */
} init_config;

/* Never returns: execs the process or exits non-zero after sending the
 * error over the sync socket. */
_Noreturn void container_init_main(const init_config *cfg);

#endif

/* Whether the init stops before pivot_root for the runtime to run
 * prestart/createRuntime hooks and to receive the state for container hooks. */
static inline bool init_wants_hook_sync(const spec *s)
{
	return s->hooks[HOOK_PRESTART].n > 0 || s->hooks[HOOK_CREATE_RUNTIME].n > 0 ||
	       s->hooks[HOOK_CREATE_CONTAINER].n > 0 || s->hooks[HOOK_START_CONTAINER].n > 0;
}
