/* File-system helpers.
 *
 * Paths inside a container's rootfs are attacker controlled: every helper
 * named *_in_root resolves its path as if ROOTFD were "/" (openat2 with
 * RESOLVE_IN_ROOT, or a component walk with O_NOFOLLOW where openat2 is
 * missing), so ".." and absolute symlinks never escape the rootfs. */
#ifndef BERTH_UTIL_FS_H
#define BERTH_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* Reads a whole file into a NUL-terminated heap buffer. */
int fs_read_file(const char *path, char **out, size_t *len, berth_error **err);
int fs_read_file_at(int dirfd, const char *name, char **out, size_t *len, berth_error **err);

/* Writes DATA to an existing file (cgroup knobs, /proc files): no create. */
int fs_write_file_at(int dirfd, const char *name, const char *data, size_t len, berth_error **err);

/* Replaces DIRFD/NAME atomically: temp file, fsync, rename. */
int fs_write_file_atomic(int dirfd, const char *name, const char *data, size_t len, mode_t mode, berth_error **err);

/* Replaces DIRFD/NAME atomically (temp file, rename) without fsync: for
 * run-time state that does not outlive the host (state.json, pid files). */
int fs_write_file_replace(int dirfd, const char *name, const char *data, size_t len, mode_t mode, berth_error **err);

/* As fs_write_file_replace, but a NAME that does not exist yet is created
 * and written in place: no temp file, no rename. For the files of a
 * directory that is still being made (a container's record and bundle),
 * whose readers skip what does not parse; on an ext4 without a journal
 * every temp file costs an inode allocation. */
int fs_write_file_fresh(int dirfd, const char *name, const char *data, size_t len, mode_t mode, berth_error **err);

/* mkdir -p on the host (trusted paths only). */
int fs_mkdir_p(const char *path, mode_t mode, berth_error **err);

/* Opens PATH resolved inside ROOTFD without following magic links. With
 * FOLLOW_LAST false, a symlink as the last component is not followed
 * (O_NOFOLLOW; with O_PATH the link itself is opened). Returns the fd or
 * -errno. */
int fs_open_in_root(int rootfd, const char *path, int flags, mode_t mode, bool follow_last, berth_error **err);

/* Creates the directory PATH and its parents inside ROOTFD and returns an
 * O_PATH fd of it. Symlinks are followed inside ROOTFD only; one whose
 * target is missing gets its target created (inside ROOTFD). */
int fs_mkdir_p_in_root(int rootfd, const char *path, mode_t mode, berth_error **err);

/* Makes sure PATH exists inside ROOTFD as a directory (IS_DIR) or a regular
 * file, creating parents, and returns an O_PATH|O_NOFOLLOW fd of it. An
 * existing symlink as the last component is refused (CVE-2021-30465 and
 * CVE-2025-52565 class: /dev/console). */
int fs_ensure_mountpoint_in_root(int rootfd, const char *path, bool is_dir, berth_error **err);

/* As fs_ensure_mountpoint_in_root, but a symlink as the last component is
 * resolved inside ROOTFD, as runc and crun do for mount destinations, and its
 * target created when missing. Nothing outside ROOTFD is ever reached; mount
 * onto the fd returned, never onto the path (CVE-2021-30465). AS_WRITTEN
 * (may be NULL) is set when the fd was reached without following any
 * symlink: then PATH, taken lexically from ROOTFD, names it. */
int fs_resolve_mountpoint_in_root(int rootfd, const char *path, bool is_dir, bool *as_written, berth_error **err);

/* "/proc/self/fd/N" for mounting onto an fd. BUF must hold 32 bytes. */
const char *fs_proc_fd_path(int fd, char *buf);

/* mount(2) onto what FD names, or onto NAME (one component) in it when FD
 * is a directory and NAME is not NULL. A directory is named relative to the
 * working directory after an fchdir to FD, which spares the kernel the walk
 * through /proc/self/fd; where that fchdir fails (a file, no search
 * permission), FD is named by its /proc/self/fd path. Leaves the working
 * directory at a directory FD: the caller restores its own. */
int fs_mount_on_fd(const char *source, int fd, const char *name, const char *fstype, unsigned long flags,
		   const void *data);

/* Removes a directory tree (trusted host paths only, does not cross mounts). */
int fs_remove_tree(const char *path, berth_error **err);
/* Removes NAME in PARENTFD (a file, or a directory with everything below
 * it) without following symlinks or crossing mounts (-EBUSY). A missing
 * NAME is not an error. Returns 0 or -errno. */
int fs_remove_tree_at(int parentfd, const char *name);

/* Marks DIRFD as the top of unrelated directory trees (chattr +T):
 * ext2/3/4's Orlov allocator then places each new subdirectory in a block
 * group of its own choosing instead of next to its siblings. Besides
 * spreading the trees, this keeps new files out of the groups a removal of
 * siblings just freed: without a journal, ext4 scans every inode freed in
 * the last 30 s before it reuses one, which made creating a file cost ~1 ms
 * there (the store's snapshots/, a build's step dirs). Best effort: other
 * file systems have no such flag. */
void fs_mark_top_dir(int dirfd);

/* Path join helper: returns heap "A/B" with exactly one slash between. */
char *fs_path_join(const char *a, const char *b);

#endif
