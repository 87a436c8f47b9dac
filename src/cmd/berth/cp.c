/* berth cp: files and trees between a container and the host, docker's
 * way (engine/copy.h does the copying, safely against the container's
 * symlinks).
 *
 *   berth cp [-a] [-L] CONTAINER:SRC DEST|-
 *   berth cp [-a] [-L] SRC|- CONTAINER:DEST
 *
 * The container's rootfs is used as the host sees it (the overlay at
 * DIR/bundle/rootfs): bind mounts (-v) and tmpfs mounts of the container
 * are not reached; a path below one of them is copied from or to the
 * directory underneath in the container's own filesystem. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/container.h"
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

static int open_container_rootfs(const berth_globals *g, const char *name, bool for_writing, berth_error **err)
{
	_cleanup_free_ char *bundle = NULL, *rootfs = NULL;
	engine_paths paths = { 0 };
	container *c = NULL;
	int fd = -1;

	if (berth_engine_open(g, &paths, err) < 0 || record_open(&paths, name, &c, err) < 0)
		goto out;
	if (for_writing && rootfs_read_only(c)) {
		berth_error_set(err, EROFS, "copy to container %s: its rootfs is marked read-only", name);
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

	rootfd = open_container_rootfs(g, name, dest_in, err);
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
