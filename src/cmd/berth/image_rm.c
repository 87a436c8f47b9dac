/* berth image rm: remove names or whole images, then free what nothing
 * references any more (blobs and snapshots), like docker rmi. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/commands.h"
#include "cmd/berth/engine_cmd.h"
#include "image/images.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "force", 'f', false, "remove an image with several names by id, or one that containers use" },
	{ NULL, 0, false, NULL },
};

/* Like podman (exit 2) and docker (409): an image that TEXT would delete,
 * not only untag, is refused while a container (in any state) uses it. */
static int check_unused(const berth_globals *g, store *s, const char *text, berth_error **err)
{
	engine_paths paths = { 0 };
	container **list = NULL;
	size_t n = 0, names = 0;
	image_info info;
	int ret = 0;

	if (image_resolve(s, text, &info, err) < 0)
		return -1; /* image_remove words it */
	for (char **nm = info.names; nm && *nm; nm++)
		names++;
	if (names <= 1 && berth_engine_open(g, &paths, err) == 0 && record_list(&paths, &list, &n, err) == 0) {
		for (size_t i = 0; i < n && ret == 0; i++) {
			if (strcmp(record_config_string(list[i], "ImageId") ?: "", info.id) == 0)
				ret = berth_error_set(err, 0,
						      "image \"%s\" is in use by container %s (%.12s): remove the "
						      "container first, or rmi --force",
						      text, list[i]->name, list[i]->id);
		}
	}
	if (*err && ret == 0)
		ret = -1;
	record_list_free(list, n);
	engine_paths_free(&paths);
	image_info_free(&info);
	return ret;
}

int cmd_image_rm(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[2] = { 0 };
	_cleanup_free_ char **pos = NULL;
	store *s = NULL;
	_cleanup_strv_ char **in_use = NULL;
	int npos, ret;

	ret = berth_parse("image rm", "image rm [--force] IMAGE...", specs, argc, argv, false, v, &pos, &npos, 1, -1,
			  err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (berth_open_store(g, &s, err) < 0)
		return 125;
	ret = 0;
	for (int i = 0; i < npos && ret == 0; i++) {
		char **removed = NULL;
		if (!option_bool(&v[0]) && check_unused(g, s, pos[i], err) < 0) {
			ret = *err && strstr((*err)->msg, "in use by container") ? 2 : 1;
			break;
		}
		if (image_remove(s, pos[i], option_bool(&v[0]), &removed, err) < 0) {
			ret = 1;
			break;
		}
		for (char **r = removed; r && *r; r++) {
			printf("%s: %s\n", strncmp(*r, "sha256:", 7) == 0 ? "Deleted" : "Untagged", *r);
			free(*r);
		}
		free(removed);
	}
	if (ret == 0 && (storage_snapshots_in_use(s, &in_use, err) < 0 || image_gc(s, in_use, NULL, NULL, err) < 0))
		ret = 125;
	store_close(s);
	return ret;
}
