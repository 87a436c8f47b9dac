/* berth pull [flags] IMAGE: pull from a registry, print the image id. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/commands.h"
#include "image/registry.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "platform", 0, true, "os/arch[/variant] to pick from a multi-platform image (default: this host's)" },
	BERTH_REGISTRY_FLAGS("parallel blob downloads (default 3)"),
	BERTH_TRUST_FLAGS,
	{ NULL, 0, false, NULL },
};

enum { O_PLATFORM, O_REGISTRY, O_TRUST = O_REGISTRY + 6, O_COUNT = O_TRUST + BERTH_TRUST_FLAG_COUNT };

static int options_from_values(const berth_globals *g, const option_value *v, pull_options *opts, berth_error **err)
{
	opts->platform = v[O_PLATFORM].value;
	opts->unpack.rootless = g->rootless;
	opts->unpack.userxattr = g->rootless;
	berth_trust_options(g, &v[O_TRUST], &opts->trust);
	return berth_registry_options("pull", &v[O_REGISTRY], &opts->registry, err);
}

static int run_pull(const berth_globals *g, const char *reference, const pull_options *opts, berth_error **err)
{
	image_info info = { 0 };
	store *s = NULL;
	int ret;

	if (berth_open_store(g, &s, err) < 0)
		return -1;
	ret = image_pull(s, reference, opts, &info, err);
	if (ret == 0)
		printf("%s\n", digest_hex(info.id));
	image_info_free(&info);
	store_close(s);
	return ret;
}

int cmd_pull(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[O_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	pull_options opts = { 0 };
	int npos = 0, ret;

	ret = berth_parse("pull", "pull [flags] IMAGE", specs, argc, argv, false, v, &pos, &npos, 1, 1, err);
	if (ret == 0)
		ret = options_from_values(g, v, &opts, err);
	if (ret == 0)
		ret = run_pull(g, pos[0], &opts, err);
	options_free_values(v, O_COUNT);
	return ret < 0 ? -1 : 0;
}
