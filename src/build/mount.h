/* RUN --mount=...: the mounts a RUN step gets for its duration only.
 *
 *   type=bind   (the default) SOURCE (default "/") of the context, or of a
 *               stage or image with from=; read-only
 *   type=cache  a directory kept across builds in STORE/build-cache-mounts,
 *               named by id= (default: the target); mode=, uid=, gid= for
 *               its creation; ro/readonly
 *   type=tmpfs  an empty tmpfs; size= in bytes (k, m, g suffixes)
 *   type=secret the --secret of id= (default: the target's base name) as a
 *               read-only file at target= (default /run/secrets/ID), with
 *               mode= (0400), uid=, gid=; required=true fails the step
 *               when the build was given no such secret
 *
 * target= (also dst=, destination=) is required (but for secrets) and
 * absolute. type=ssh and rw binds are refused with a clear error. Pure:
 * parsing and validation only. */
#ifndef BERTH_BUILD_MOUNT_H
#define BERTH_BUILD_MOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

typedef enum build_mount_type {
	BUILD_MOUNT_BIND,
	BUILD_MOUNT_CACHE,
	BUILD_MOUNT_TMPFS,
	BUILD_MOUNT_SECRET,
} build_mount_type;

typedef struct build_mount {
	build_mount_type type;
	char *target;
	char *source; /* bind: the path in the context or FROM (default "/") */
	char *from;   /* bind: a stage or image, NULL for the context */
	char *id;     /* cache: the cache's name (default: the target) */
	bool readonly;
	mode_t mode; /* cache: of the directory when created (0755); secret: of the file (0400) */
	bool mode_given;
	uid_t uid;
	gid_t gid;
	uint64_t size; /* tmpfs: bytes, 0 for the kernel's default */
	bool required; /* secret */
} build_mount;

/* Parses one --mount value ("type=cache,target=/root/.cache"). */
int build_mount_parse(const char *spec, build_mount *out, berth_error **err);
void build_mount_free(build_mount *m);

#endif
