/* berth bundle IMAGE DIR [-- CMD...]: an OCI bundle (overlay rootfs plus a
 * config.json from the image) for berth-runtime, runc or crun;
 * berth bundle --remove DIR takes it down again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/berth/commands.h"
#include "image/images.h"
#include "storage/bundle.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "remove", 0, false, "unmount and remove the bundle DIR" },
	{ "tty", 't', false, "process.terminal true" },
	{ NULL, 0, false, NULL },
};

int cmd_bundle(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	bundle_options bo = { 0 };
	image_info info;
	store *s = NULL;
	int npos, ret;

	ret = berth_parse("bundle", "bundle [-t] IMAGE DIR [-- COMMAND...] | bundle --remove DIR", specs, argc, argv,
			  false, v, &pos, &npos, 1, -1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (option_bool(&v[0])) {
		if (npos != 1)
			return berth_error_set(err, EINVAL, "bundle --remove: expected one DIR");
		return bundle_remove(pos[0], err) < 0 ? 125 : 0;
	}
	if (npos < 2)
		return berth_error_set(err, EINVAL, "bundle: expected IMAGE DIR (usage: berth bundle IMAGE DIR)");
	bo.args = npos > 2 ? pos + 2 : NULL;
	bo.terminal = option_bool(&v[1]);
	bo.rootless = g->rootless;
	if (berth_open_store(g, &s, err) < 0)
		return 125;
	ret = image_resolve(s, pos[0], &info, err);
	if (ret == 0) {
		ret = bundle_create(s, &info, pos[1], &bo, err);
		image_info_free(&info);
	}
	store_close(s);
	return ret < 0 ? 125 : 0;
}
