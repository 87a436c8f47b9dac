/* berth image prune: drop unnamed images (--all: every image) and free the
 * blobs and snapshots nothing references. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/berth/commands.h"
#include "image/images.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "all", 'a', false, "remove every image, not only unnamed ones" },
	{ "force", 'f', false, "do not ask for confirmation" },
	{ NULL, 0, false, NULL },
};

int cmd_image_prune(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	store *s = NULL;
	uint64_t freed = 0;
	size_t removed = 0;
	_cleanup_strv_ char **in_use = NULL;
	char size[32];
	int npos, ret;

	ret =
	    berth_parse("image prune", "image prune [--all] [-f]", specs, argc, argv, false, v, &pos, &npos, 0, 0, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret =
	    berth_confirm("image prune",
			  option_bool(&v[0]) ? "This will remove all images without at least one container associated "
					       "to them."
					     : "This will remove all dangling images.",
			  option_bool(&v[1]), err);
	if (ret <= 0)
		return ret < 0 ? 125 : 0;
	if (berth_open_store(g, &s, err) < 0)
		return 125;
	if (storage_snapshots_in_use(s, &in_use, err) < 0) {
		store_close(s);
		return 125;
	}
	ret = image_prune(s, option_bool(&v[0]), in_use, &freed, &removed, err) < 0 ? 125 : 0;
	if (ret == 0)
		printf("Removed %zu blobs and snapshots, %s of blobs freed\n", removed,
		       berth_human_size((int64_t)freed, size));
	store_close(s);
	return ret;
}
