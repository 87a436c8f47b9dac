/* `berth cp`: files and trees between the host and a container's rootfs, or
 * a tar stream in and out.
 *
 * Every path inside the container is attacker controlled. The container
 * side of a copy is resolved once with fs_open_in_root (RESOLVE_IN_ROOT, no
 * magic links) relative to an O_PATH fd of the rootfs; below that, entries
 * are read and created with *at() calls on directory fds, one component at a
 * time with O_NOFOLLOW, so no symlink of the container (/etc -> /,
 * ../../..) can make berth read or write a host file. Regular files are read
 * through a reopened O_PATH fd once fstat says they are regular (a device
 * node is never opened), written to a temporary name and renamed into place,
 * and metadata is applied to fds, never to names that could be swapped for
 * a symlink.
 *
 * ROOTFD is the rootfs as the host sees it (copy_open_rootfs), where the
 * container's mounts are not, or the root of a running container
 * (engine/live_root.h), where they are. */
#ifndef BERTH_ENGINE_COPY_H
#define BERTH_ENGINE_COPY_H

#include <stdbool.h>

#include "util/error.h"

typedef struct copy_options {
	bool archive;	  /* -a: keep uid/gid; otherwise the caller's, and setuid/setgid bits are
			     dropped from what lands on the host */
	bool follow_link; /* -L: a symlink given as the source is followed */
} copy_options;

/* One side of a copy: a host path (ROOTFD < 0) or a path inside the rootfs
 * whose O_PATH fd is ROOTFD. LABEL is the argument as typed, for messages. */
typedef struct copy_location {
	int rootfd;
	const char *path;
	const char *label;
} copy_location;

/* Opens DIR (a container's bundle/rootfs) as an O_PATH fd after checking
 * that it is a mount point, so a copy never lands in the bare directory
 * under an unmounted rootfs. */
int copy_open_rootfs(const char *dir, berth_error **err);

/* Copies SRC to DEST with docker's rules: a directory DEST receives SRC
 * inside it (or only its content when SRC ends in "/."), a missing DEST is
 * created (its parent must exist), a file DEST is replaced. Mode and times
 * are kept. Errors that the arguments can be judged by (missing SRC, a
 * directory onto a file, a missing parent) come before anything is written. */
int copy_paths(const copy_location *src, const copy_location *dest, const copy_options *o, berth_error **err);

/* Writes SRC as a pax tar to OUT_FD, its entries named by SRC's base name. */
int copy_to_tar(const copy_location *src, int out_fd, const copy_options *o, berth_error **err);

/* Extracts the tar read from IN_FD into DEST, an existing directory. Entries
 * with ".." components or hard links are refused. */
int copy_from_tar(int in_fd, const copy_location *dest, const copy_options *o, berth_error **err);

#endif
