/* Named volumes of the local driver, like Docker's.
 *
 *   STORE/volumes/<name>/_data        the content (mode 0755 at creation);
 *                                     bind-mounted into containers
 *   STORE/volumes/<name>/volume.json  {"Name", "Driver": "local", "CreatedAt"
 *                                     (RFC 3339), "Labels", "Options",
 *                                     "Anonymous", "Populated"}
 *
 * A volume appears whole or not at all: it is built in a hidden temporary
 * directory and renamed into place; removal renames it away first. Every
 * change to one volume holds an flock on its directory.
 *
 * Names follow Docker's rule [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 255
 * bytes); anonymous volumes get 64 random hex digits.
 *
 * "In use" means a container record refers to the volume: the engine writes
 * in STORE/containers/<id>/config.json a top-level array
 *   "Mounts": [{"Type": "volume", "Name": "<volume>", "Destination": "/data"}, ...]
 * (other fields and other Types are ignored). A record counts, whatever the
 * state of its container, until the record is removed. The engine should write
 * its record before calling volume_prepare_mount(), so that a concurrent
 * `volume rm` sees the use. */
#ifndef BERTH_STORAGE_VOLUME_H
#define BERTH_STORAGE_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/error.h"

#define VOLUME_DRIVER_LOCAL "local"

typedef struct volume_info {
	char *name;
	char *driver;	  /* "local" */
	char *created;	  /* RFC 3339 */
	char *mountpoint; /* STORE/volumes/<name>/_data (computed, not stored) */
	json_t *labels;	  /* object of strings, owned, never NULL */
	json_t *options;  /* object of strings, owned, never NULL */
	bool anonymous;	  /* created without a name */
	bool populated;	  /* mounted once: never filled from an image again */
} volume_info;

void volume_info_free(volume_info *v);
/* What `volume inspect` prints for V (Docker's fields: CreatedAt, Driver,
 * Labels, Mountpoint, Name, Options, Scope). */
json_t *volume_info_to_json(const volume_info *v);

/* True when NAME follows [a-zA-Z0-9][a-zA-Z0-9_.-]* and has 1-255 bytes. */
bool volume_name_valid(const char *name);

/* Creates the volume NAME (NULL: an anonymous volume with a random name).
 * LABELS is NULL or a NULL-terminated list of "KEY=VALUE" (or "KEY", an
 * empty value). An existing volume of that name is returned as it is (its
 * labels unchanged, like `docker volume create x` run twice) unless
 * EXCLUSIVE, which makes it an EEXIST error. OUT (may be NULL) receives the
 * volume. A bad name is an EINVAL error naming the rule. */
int volume_create(const char *store_root, const char *name, const char *const *labels, bool exclusive, volume_info *out,
		  berth_error **err);

/* volume_create with docker's local driver OPTIONS ("KEY=VALUE": type=tmpfs
 * [o=MOUNT OPTIONS], or type=none|bind o=bind device=/DIR), checked first and
 * kept in "Options": a tmpfs volume is a fresh tmpfs in each container that
 * mounts it, a bind volume is DIR itself. */
int volume_create_with_options(const char *store_root, const char *name, const char *const *labels,
			       const char *const *options, bool exclusive, volume_info *out, berth_error **err);

/* Loads the volume NAME. A missing one is the error `no such volume: NAME`
 * with code ENOENT. */
int volume_inspect(const char *store_root, const char *name, volume_info *out, berth_error **err);

/* Every volume, sorted by name. A missing STORE/volumes is an empty list. */
int volume_list(const char *store_root, volume_info **out, size_t *n, berth_error **err);
void volume_list_free(volume_info *list, size_t n);

/* Sets *USED when some STORE/containers/<id>/config.json lists NAME in its
 * "Mounts" (see above). Unreadable records are skipped. */
int volume_in_use(const char *store_root, const char *name, bool *used, berth_error **err);

/* Removes the volume NAME and its content. A volume in use is refused
 * (EBUSY, `volume NAME is in use by container <id12>`), with or without
 * FORCE; FORCE only makes a missing volume not an error (docker volume rm -f).
 * Content with a mount under it is not crossed: the removal fails. */
int volume_remove(const char *store_root, const char *name, bool force, berth_error **err);

/* Removes the volumes no container uses: only anonymous ones unless ALL
 * (Docker 23+'s `volume prune` and `volume prune --all`). REMOVED (may be
 * NULL) gets the NULL-terminated heap list of removed names, RECLAIMED (may
 * be NULL) the bytes their content used. */
int volume_prune(const char *store_root, bool all, char ***removed, uint64_t *reclaimed, berth_error **err);

/* Readies the volume NAME to be bind-mounted at DEST (an absolute path in
 * the container) and returns its _data path in *HOST_DATA_PATH (heap).
 *
 * The volume is created when missing (an anonymous volume: create it first
 * with volume_create(NULL) and pass its name). On the volume's first mount
 * ("Populated" false) with an empty _data and IMAGE_ROOTFS (the directory of
 * the container's mounted rootfs, the merged overlay view, not a snapshot;
 * NULL for none) holding a directory at DEST, that directory's content is
 * copied into _data like Docker does: modes, ownership, times, symlinks,
 * hard links, device nodes and xattrs kept where the caller may set them
 * (ownership and devices need privilege; what is refused is skipped). _data
 * itself takes the mode, owner and times of DEST. DEST is resolved inside
 * IMAGE_ROOTFS (fs_open_in_root): symlinks never lead out of it, and the
 * copy never follows a symlink. Then "Populated" is set, also when nothing
 * was copied, so a volume is filled at most once. */
int volume_prepare_mount(const char *store_root, const char *name, const char *image_rootfs, const char *dest,
			 char **host_data_path, berth_error **err);

#endif
