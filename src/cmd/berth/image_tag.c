/* berth image tag IMAGE NAME...: more names for an image. */
#include <stdlib.h>

#include "cmd/berth/commands.h"
#include "image/images.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ NULL, 0, false, NULL },
};

int cmd_image_tag(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	store *s = NULL;
	int npos, ret;

	ret = berth_parse("tag", "tag IMAGE NAME...", specs, argc, argv, false, v, &pos, &npos, 2, -1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (berth_open_store(g, &s, err) < 0)
		return 125;
	ret = 0;
	for (int i = 1; i < npos && ret == 0; i++)
		if (image_tag(s, pos[0], pos[i], err) < 0)
			ret = 125;
	store_close(s);
	return ret;
}
