/* The build context and the files COPY and ADD read from it (or from
 * another stage's or image's rootfs).
 *
 *   - .containerignore, else .dockerignore: Docker's pattern rules (paths
 *     relative to the context, '*' and '?' within one component, '**' across
 *     components, "!" exceptions, the last matching pattern decides, a
 *     pattern matching a parent directory excludes what is below it);
 *   - source patterns: Go filepath.Match globs per component, matched inside
 *     the source root; a path that leaves it ("..") is refused;
 *   - content digests of sources for the build cache: names, types, modes,
 *     link targets and bytes, never mtimes;
 *   - copying into a rootfs: every destination is resolved inside the
 *     rootfs (fs_open_in_root), entries are created without following
 *     symlinks, modes and mtimes are kept, owners are 0:0 (or --chown) for
 *     the context and kept for --from sources. */
#ifndef BERTH_BUILD_CONTEXT_H
#define BERTH_BUILD_CONTEXT_H

#include <stdbool.h>
#include <sys/types.h>

#include "image/digest.h"
#include "util/error.h"

typedef struct build_ignore build_ignore;

/* Reads CONTEXT_FD's .containerignore or .dockerignore (none: *OUT NULL). */
int build_ignore_load(int context_fd, build_ignore **out, berth_error **err);
/* From pattern lines (tests). */
int build_ignore_parse(const char *text, build_ignore **out, berth_error **err);
void build_ignore_free(build_ignore *ig);
/* Is PATH (relative to the context, no leading "/") excluded? NULL IG: no. */
bool build_ignore_match(const build_ignore *ig, const char *path);

/* The paths (relative to ROOT_FD, sorted) PATTERN matches, without
 * excluded ones. No match is an error naming PATTERN. */
int build_glob(int root_fd, const char *pattern, const build_ignore *ig, char ***out, berth_error **err);

/* Adds the tree at PATH (relative to ROOT_FD) to D. */
int build_hash_tree(int root_fd, const char *path, const build_ignore *ig, digester *d, berth_error **err);

typedef struct build_copy_options {
	bool chown; /* set UID/GID on everything copied */
	uid_t uid;
	gid_t gid;
	bool keep_owner; /* else 0:0 */
	bool chmod;	 /* set MODE on everything copied */
	mode_t mode;
	const build_ignore *ignore; /* context sources only */
} build_copy_options;

/* Copies SRC (relative to SRC_ROOT) to DEST (absolute, inside DST_ROOT): a
 * directory's contents into DEST, anything else to DEST itself. */
int build_copy(int src_root, const char *src, int dst_root, const char *dest, const build_copy_options *o,
	       berth_error **err);

/* Writes DATA as the file DEST inside DST_ROOT (a COPY heredoc). */
int build_copy_data(int dst_root, const char *dest, const char *data, const build_copy_options *o, berth_error **err);

/* Is DEST (absolute) an existing directory inside DST_ROOT? */
bool build_is_dir_in_root(int dst_root, const char *dest);

/* Unpacks a context tarball read from FD (plain or compressed; `berth build
 * -`) into a new directory below PARENT; *DIR gets its path. Hostile entries
 * are refused as in a layer (image/unpack.h). */
int build_context_from_tar(int fd, const char *parent, char **dir, berth_error **err);

/* Cleans a relative source path: no leading "/", "." and ".." resolved;
 * NULL when it leaves the root. */
char *build_clean_path(const char *path);

#endif
