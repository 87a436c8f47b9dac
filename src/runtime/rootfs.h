/* The container's root filesystem, built inside its new mount namespace.
 *
 * Every destination is resolved inside the rootfs (fs_open_in_root) and
 * mounted onto through /proc/self/fd/N of the fd opened that way, so a
 * symlink planted in the image (or swapped in while we work, CVE-2021-30465)
 * cannot redirect a mount to the host. */
#ifndef BERTH_RUNTIME_ROOTFS_H
#define BERTH_RUNTIME_ROOTFS_H

#include <stdbool.h>

#include "runtime/cgroup.h"
#include "spec/spec.h"
#include "util/error.h"

typedef struct rootfs_context {
	const spec *spec;
	const char *rootfs; /* absolute host path */
	int rootfd;	    /* O_PATH fd of the rootfs after it is bind-mounted */
	bool in_userns;	    /* cannot mknod; locked mount flags must be kept */
	bool terminal;
	int console_master; /* set by rootfs_setup_console */
	/* Detached idmapped trees by mount index (runtime/idmap_mount.h), -1
	 * where none; NULL when no mount is idmapped. */
	const int *idmap_fds;
	/* Called before the first cgroup mount (the init's cgroup must be
	 * joined by then); NULL when it is already. */
	int (*cgroup_ready)(struct rootfs_context *ctx, berth_error **err);
	void *cgroup_ready_arg;
	int *source_fds;  /* per mount: its bind source opened early, or -1; may be NULL */
	int caller_mntns; /* -1, or the mount namespace to return to (see below) */
	/* see cgroup_mount_in_rootfs */
	const cgroup_mount *cgroup_mounts;
	size_t n_cgroup_mounts;
	bool new_cgroupns;
	/* rootfs_mount_all leaves the cgroup mounts to rootfs_mount_deferred */
	bool defer_cgroup_mounts;
} rootfs_context;

/* Without a mount namespace of its own (linux.namespaces does not list one,
 * so the init inherits the caller's), the rootfs is still built in a private
 * one: rootfs_enter_setup_namespace keeps the caller's in ctx->caller_mntns
 * and unshares. After rootfs_finalize, rootfs_leave_setup_namespace clones
 * the finished tree (open_tree, detached: in no namespace), goes back into
 * the caller's namespace and chroots into the clone. So no mount of the
 * container is ever made in the caller's namespace, and none is left there
 * after delete; the container's own /proc/self/mountinfo lists nothing (its
 * mounts belong to no namespace) and later host mounts do not propagate
 * in. A no-op when ctx->caller_mntns is -1. */
int rootfs_enter_setup_namespace(rootfs_context *ctx, berth_error **err);
int rootfs_leave_setup_namespace(rootfs_context *ctx, berth_error **err);

/* Makes "/" a slave (or linux.rootfsPropagation; "unbindable" starts private
 * and the requested mode is applied in rootfs_finalize) and bind-mounts the rootfs
 * onto itself so it can be pivoted to. Opens ctx->rootfd. */
int rootfs_prepare(rootfs_context *ctx, berth_error **err);

/* Opens the source of every bind mount into ctx->source_fds, with the
 * caller's credentials: the init calls it before it takes the container's
 * ids in a user namespace, so sources below root-only host directories
 * (volumes) can be mounted, as with runc and crun. */
int rootfs_open_bind_sources(rootfs_context *ctx, berth_error **err);

/* Mounts every entry of spec.mounts in order (bind sources from
 * ctx->source_fds when opened early; each is closed once mounted). */
int rootfs_mount_all(rootfs_context *ctx, berth_error **err);

/* Whether the cgroup mounts of S can come last, after pivot_root (so that
 * the old root's unmount, which waits for an RCU grace period, overlaps
 * the runtime's cgroup work instead of following it): no later mount lies
 * on or below one, and a procfs is mounted on /proc (the mounts go through
 * /proc/self/fd). */
bool rootfs_cgroup_mounts_deferrable(const spec *s);

/* The cgroup mounts rootfs_mount_all left (ctx->defer_cgroup_mounts), in
 * their order, after pivot_root. */
int rootfs_mount_deferred(rootfs_context *ctx, berth_error **err);

/* Default /dev nodes, linux.devices, /dev symlinks and /dev/ptmx. */
int rootfs_create_devices(rootfs_context *ctx, berth_error **err);

/* Opens a pty in the container's devpts and binds its peer on /dev/console.
 * The master is left in ctx->console_master; *PEER gets the peer fd. */
int rootfs_setup_console(rootfs_context *ctx, int *peer, berth_error **err);

/* pivot_root into the rootfs, or MS_MOVE + chroot when NO_PIVOT. */
int rootfs_pivot(rootfs_context *ctx, bool no_pivot, berth_error **err);

/* After pivot: creates process.cwd (and its parents) inside the rootfs when
 * it is missing, as runc and crun do: owned by the container's root, 0755
 * less the umask. */
int rootfs_create_cwd(rootfs_context *ctx, const char *cwd, berth_error **err);

/* After pivot: linux.sysctl, maskedPaths, readonlyPaths, root.readonly, then
 * linux.rootfsPropagation on "/". */
int rootfs_finalize(rootfs_context *ctx, berth_error **err);

/* True when PATH is /proc or below and not one of the files lxcfs-style
 * tools may cover (CVE-2019-16884 class: a bind over /proc hides it). */
bool rootfs_is_proc_destination(const char *path);

#endif
