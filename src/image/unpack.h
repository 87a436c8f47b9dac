/* Unpacking one layer tarball into a snapshot directory.
 *
 * The tarball may be uncompressed, gzip or zstd (detected from the bytes).
 * While unpacking, the uncompressed stream is hashed: the result's diff_id
 * must match the image config's rootfs.diff_ids, which the caller checks.
 *
 * The output is an overlayfs lower layer: OCI whiteouts ".wh.NAME" become
 * 0:0 character devices and ".wh..wh..opq" sets the opaque xattr
 * ("trusted.overlay.opaque", or "user.overlay.opaque" with USERXATTR).
 *
 * Member names are relative to the layer root; a leading "/" ("/",
 * "/bin/sh", as umoci and GNU tar -P write them) names that root too, for
 * entries and hardlink targets alike, never the host's. A layer that ends
 * right after an entry's data, without the padding of the last 512-byte
 * block or the end-of-archive blocks (umoci 0.4's "insert" writes those),
 * ends there, as Go's archive/tar reads it; the diff_id is over the bytes
 * as they are.
 *
 * The layer is hostile until proven otherwise. Refused with an error naming
 * the entry, before anything is written outside DEST: ".." components
 * (also "/.."), writing through a symlink (every parent is opened with
 * RESOLVE_NO_SYMLINKS below DEST), hardlinks whose target is outside DEST or
 * not yet in it, and more than MAX_SIZE uncompressed bytes (decompression
 * bombs, error code EFBIG). Entries are created with O_EXCL/O_NOFOLLOW
 * semantics: an existing entry of the same name is replaced, never followed
 * (two directories merge). A name cannot carry a NUL: libarchive ends a pax
 * path at its first NUL, and the shortened name is checked like any other.
 *
 * Skipped rather than refused: aufs metadata (".wh..wh.*" other than the
 * opaque marker, and everything below such a directory) and xattrs the
 * engine owns ("trusted.overlay.*", "user.overlay.*", "user.berth.owner"),
 * which a layer could otherwise use to steer overlayfs. A hardlink entry
 * keeps the metadata of its target. Creating a whiteout needs no privilege
 * since Linux 5.8; before that a rootless unpack of a layer with whiteouts
 * fails with an error naming the entry. */
#ifndef BERTH_IMAGE_UNPACK_H
#define BERTH_IMAGE_UNPACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/digest.h"
#include "util/error.h"

/* Default limit on a layer's uncompressed size: 64 GiB. */
#define UNPACK_DEFAULT_MAX_SIZE (64ull << 30)

typedef struct unpack_options {
	uint64_t max_size; /* uncompressed bytes; 0 means UNPACK_DEFAULT_MAX_SIZE */
	/* Unprivileged (no CAP_CHOWN/CAP_MKNOD over the files): ownership the
	 * process cannot give is recorded in the xattr "user.berth.owner"
	 * ("UID:GID") instead of failing, device nodes other than whiteouts are
	 * skipped with a debug log, and security.* / trusted.* xattrs the
	 * kernel refuses are dropped. */
	bool rootless;
	bool userxattr; /* opaque xattr in the user. namespace (rootless overlay) */
} unpack_options;

typedef struct unpack_result {
	char diff_id[DIGEST_STRING_MAX]; /* sha256 of the uncompressed tar */
	uint64_t size;			 /* uncompressed bytes */
	uint64_t entries;
} unpack_result;

/* Unpacks the layer read from BLOB_FD (from its current offset) into the
 * directory DEST_DIRFD, which should be empty. On error DEST may hold a
 * partial tree: the caller removes it (store_snapshot_abort). */
int layer_unpack(int blob_fd, int dest_dirfd, const unpack_options *opts, unpack_result *res, berth_error **err);

/* The blob as it arrives (a download): READ gives the next block of the
 * compressed bytes, valid until its next call; it returns the block's
 * length, 0 at the end, or -errno when the source failed (the unpack then
 * fails with that errno's text). */
typedef struct layer_source {
	ssize_t (*read)(void *ctx, const void **buf);
	void *ctx;
} layer_source;

/* layer_unpack from SRC instead of a file. */
int layer_unpack_from(const layer_source *src, int dest_dirfd, const unpack_options *opts, unpack_result *res,
		      berth_error **err);

#endif
