/* berth image rm: remove names or whole images, then free what nothing
 * references any more (blobs and snapshots), like docker rmi. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/commands.h"
#include "image/images.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "force", 'f', false, "remove an image with several names by id" },
	{ NULL, 0, false, NULL },
};

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
