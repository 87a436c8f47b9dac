/* berth cp: files and trees between a container and the host, docker's
 * way (engine/copy.h does the copying, safely against the container's
 * symlinks).
 *
 *   berth cp [-a] [-L] CONTAINER:SRC DEST|-
 *   berth cp [-a] [-L] SRC|- CONTAINER:DEST
 *
 * A running (or paused) container is reached through its init's root
 * (engine/live_root.h): the files as the container sees them, its volumes,
 * bind mounts and tmpfs mounts included. A stopped one has only its rootfs
 * as the host sees it (the overlay at DIR/bundle/rootfs): a path below one
 * of its mounts is the directory underneath in its own filesystem. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/container.h"
#include "engine/live_root.h"
#include "engine/copy.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "archive", 'a', false, "keep uid/gid (otherwise the caller's; set-id bits are dropped on the host)" },
	{ "follow-link", 'L', false, "follow a symlink given as SRC" },
	{ NULL, 0, false, NULL },
};

enum { C_ARCHIVE, C_FOLLOW, C_COUNT };

#define CP_USAGE                                                                                                       \
	"cp [-a] [-L] CONTAINER:SRC DEST|-  or  cp [-a] [-L] SRC|- CONTAINER:DEST\n"                                   \
	"  (the container's own filesystem: its bind mounts and tmpfs mounts are not reached)"

/* Docker's rule: "-", absolute paths and paths starting with "." are
 * local; otherwise NAME:PATH names a container. */
static bool split_container_arg(char *arg, char **name, char **path)
{
	char *colon = strchr(arg, ':');

	if (arg[0] == '/' || arg[0] == '.' || colon == NULL)
		return false;
	*colon = '\0';
	*name = arg;
	*path = colon + 1;
	return true;
}

/* Docker refuses to copy into a --read-only rootfs; berth writes the
 * overlay directly, so it checks the bundle's root.readonly itself. */
static bool rootfs_read_only(const container *c)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *path = NULL;
	json_t *cfg;
	bool ro;

	if (bundle == NULL || asprintf(&path, "%s/config.json", bundle) < 0)
		return false;
	cfg = json_load_file(path, 0, NULL);
	ro = json_is_true(json_object_get(json_object_get(cfg, "root"), "readonly"));
	json_decref(cfg);
	return ro;
}

/* Whether PATH (as typed) lies on one of the mounts of C's bundle (a
 * volume, bind or tmpfs; lexically: the kernel has the last word). */
static bool on_a_mount(const container *c, const char *path)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *file = NULL;
	json_t *cfg, *m;
	bool found = false;
	size_t i;

	if (bundle == NULL || asprintf(&file, "%s/config.json", bundle) < 0)
		return false;
	cfg = json_load_file(file, 0, NULL);
	json_array_foreach(json_object_get(cfg, "mounts"), i, m) {
		const char *d = json_string_value(json_object_get(m, "destination"));
		size_t len = d ? strlen(d) : 0;
		while (len > 1 && d[len - 1] == '/')
			len--;
		if (d && len > 1 && strncmp(path, d, len) == 0 && (path[len] == '\0' || path[len] == '/'))
			found = true;
	}
	json_decref(cfg);
	return found;
}

static int open_container_rootfs(const berth_globals *g, const char *name, bool for_writing, const char *path,
				 berth_error **err)
{
	_cleanup_free_ char *bundle = NULL, *rootfs = NULL;
	engine_paths paths = { 0 };
	container *c = NULL;
	bool live;
	int fd = -1;

	if (berth_engine_open(g, &paths, err) < 0 || record_open(&paths, name, &c, err) < 0 ||
	    record_refresh(&paths, c, err) < 0)
		goto out;
	live = (strcmp(c->state.status, "running") == 0 || strcmp(c->state.status, "paused") == 0) &&
	       record_monitor_alive(c);
	/* a running container's mounts are reached, and may be writable */
	if (for_writing && rootfs_read_only(c) && !(live && on_a_mount(c, path))) {
		berth_error_set(err, EROFS, "copy to container %s: its rootfs is marked read-only", name);
		goto out;
	}
	if (live) {
		/* the container's own view: its volumes, bind and tmpfs mounts
		 * too; a read-only rootfs is read-only there */
		fd = engine_live_root_open(c, err);
		if (fd < 0)
			berth_error_wrap(err, "cp");
		goto out;
	}
	bundle = engine_container_bundle(c);
	if (bundle == NULL || asprintf(&rootfs, "%s/rootfs", bundle) < 0) {
		berth_error_set(err, ENOMEM, "cp");
		goto out;
	}
	fd = copy_open_rootfs(rootfs, err);
	if (fd < 0)
		berth_error_wrap(err, "container %s", name);
out:
	container_free(c);
	engine_paths_free(&paths);
	return fd;
}

int cmd_cp(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[C_COUNT + 1] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL, *src_arg = NULL, *dest_arg = NULL;
	_cleanup_close_ int rootfd = -EBADF;
	char *name, *src_name = NULL, *dest_name = NULL, *src_path, *dest_path;
	copy_location src, dest;
	copy_options o;
	bool src_in, dest_in;
	int npos, ret;

	ret = berth_parse_grouped("cp", CP_USAGE, specs, argc, argv, false, v, &pos, &npos, 2, 2, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	o = (copy_options){ .archive = option_bool(&v[C_ARCHIVE]), .follow_link = option_bool(&v[C_FOLLOW]) };
	src_arg = strdup(pos[0]);
	dest_arg = strdup(pos[1]);
	if (src_arg == NULL || dest_arg == NULL)
		return berth_error_set(err, ENOMEM, "cp"), 125;
	src_path = src_arg;
	dest_path = dest_arg;
	src_in = split_container_arg(src_arg, &src_name, &src_path);
	dest_in = split_container_arg(dest_arg, &dest_name, &dest_path);
	name = src_in ? src_name : dest_name;
	if (src_in && dest_in)
		return berth_error_set(err, 0, "cp: copying between containers is not supported"), 125;
	if (!src_in && !dest_in)
		return berth_error_set(err, 0, "cp: one of SRC and DEST must be CONTAINER:PATH"), 125;
	if (*name == '\0')
		return berth_error_set(err, 0, "cp: \"%s\" has no container name", src_in ? pos[0] : pos[1]), 125;
	if ((src_in && strcmp(dest_path, "-") != 0 && *dest_path == '\0') ||
	    (dest_in && strcmp(src_path, "-") != 0 && *src_path == '\0'))
		return berth_error_set(err, 0, "cp: an empty path"), 125;

	rootfd = open_container_rootfs(g, name, dest_in, dest_path, err);
	if (rootfd < 0)
		return 125;
	src = (copy_location){ .rootfd = src_in ? rootfd : -1, .path = src_path, .label = pos[0] };
	dest = (copy_location){ .rootfd = dest_in ? rootfd : -1, .path = dest_path, .label = pos[1] };
	if (!src_in && strcmp(src_path, "-") == 0)
		ret = copy_from_tar(STDIN_FILENO, &dest, &o, err);
	else if (!dest_in && strcmp(dest_path, "-") == 0) {
		if (isatty(STDOUT_FILENO))
			return berth_error_set(err, 0, "cp: refusing to write a tar to a terminal"), 125;
		ret = copy_to_tar(&src, STDOUT_FILENO, &o, err);
	} else
		ret = copy_paths(&src, &dest, &o, err);
	return ret < 0 ? 125 : 0;
}
