/* berth image prune: drop unnamed images (--all: every image) and free the
 * blobs and snapshots nothing references (the build cache's layers stay);
 * --build-cache prunes the build cache too. berth builder prune: the build
 * cache alone (build/cache.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/cache.h"
#include "cmd/berth/commands.h"
#include "image/images.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"

/* The build cache entries ALL or FILTERS select, removed from S; prints what
 * went as docker's builder prune does. */
static int prune_build_cache(store *s, bool all, const option_value *filters, char *const *in_use, berth_error **err)
{
	build_cache_prune_options o = { .all = all, .in_use = in_use };
	build_cache_prune_result r = { 0 };
	char size[32];

	for (int i = 0; filters->all && filters->all[i]; i++)
		if (build_cache_filter_parse(filters->all[i], &o, err) < 0)
			return -1;
	if (build_cache_prune(s, &o, &r, err) < 0) {
		build_cache_prune_result_free(&r);
		return -1;
	}
	if (r.removed[0])
		printf("Deleted build cache objects:\n");
	for (size_t i = 0; r.removed[i]; i++)
		printf("%s\n", r.removed[i]);
	printf("%sTotal reclaimed space: %s\n", r.removed[0] ? "\n" : "",
	       berth_human_size((int64_t)r.freed_bytes, size));
	build_cache_prune_result_free(&r);
	return 0;
}

static const option_spec specs[] = {
	{ "all", 'a', false, "remove every image, not only unnamed ones (with --build-cache: all of the cache)" },
	{ "force", 'f', false, "do not ask for confirmation" },
	{ "build-cache", 0, false, "prune the build cache too (dangling entries; --all: every entry)" },
	{ "filter", 0, true, "with --build-cache: until=TIME (entries last used before)" },
	{ NULL, 0, false, NULL },
};

int cmd_image_prune(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[5] = { 0 };
	_cleanup_free_ char **pos = NULL;
	store *s = NULL;
	uint64_t freed = 0;
	size_t removed = 0;
	_cleanup_strv_ char **in_use = NULL;
	char size[32];
	bool all, cache;
	int npos, ret;

	ret = berth_parse("image prune", "image prune [--all] [-f] [--build-cache [--filter until=T]]", specs, argc,
			  argv, false, v, &pos, &npos, 0, 0, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	all = option_bool(&v[0]);
	cache = option_bool(&v[2]);
	ret = 125;
	if (v[3].set && !cache) {
		berth_error_request(err, EINVAL, "image prune: --filter needs --build-cache");
		goto out;
	}
	ret = berth_confirm("image prune",
			    all ? (cache ? "This will remove all images without at least one container associated "
					   "to them and all build cache."
					 : "This will remove all images without at least one container associated "
					   "to them.")
				: (cache ? "This will remove all dangling images and all dangling build cache."
					 : "This will remove all dangling images."),
			    option_bool(&v[1]), err);
	if (ret <= 0) {
		ret = ret < 0 ? 125 : 0;
		goto out;
	}
	ret = 125;
	if (berth_open_store(g, &s, err) < 0 || storage_snapshots_in_use(s, &in_use, err) < 0)
		goto out;
	if (cache && prune_build_cache(s, all, &v[3], in_use, err) < 0)
		goto out;
	if (build_image_prune(s, all, in_use, &freed, &removed, err) < 0)
		goto out;
	printf("Removed %zu blobs and snapshots, %s of blobs freed\n", removed, berth_human_size((int64_t)freed, size));
	ret = 0;
out:
	if (s)
		store_close(s);
	options_free_values(v, 5);
	return ret;
}

static const option_spec builder_specs[] = {
	{ "all", 'a', false, "remove every entry, not only dangling ones (and RUN's cache mounts)" },
	{ "force", 'f', false, "do not ask for confirmation" },
	{ "filter", 0, true, "until=TIME: entries last used before TIME (RFC 3339, Unix seconds, 24h)" },
	{ NULL, 0, false, NULL },
};

static int builder_prune(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_strv_ char **in_use = NULL;
	store *s = NULL;
	int npos, ret;

	ret = berth_parse("builder prune", "builder prune [-a] [-f] [--filter until=T]", builder_specs, argc, argv,
			  false, v, &pos, &npos, 0, 0, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = berth_confirm("builder prune",
			    option_bool(&v[0]) ? "This will remove all build cache."
					       : "This will remove all dangling build cache.",
			    option_bool(&v[1]), err);
	if (ret <= 0) {
		options_free_values(v, 3);
		return ret < 0 ? 125 : 0;
	}
	ret = 125;
	if (berth_open_store(g, &s, err) == 0 && storage_snapshots_in_use(s, &in_use, err) == 0 &&
	    prune_build_cache(s, option_bool(&v[0]), &v[2], in_use, err) == 0)
		ret = 0;
	if (s)
		store_close(s);
	options_free_values(v, 3);
	return ret;
}

static const berth_command builder_commands[] = {
	{ "prune", "builder prune [-a] [-f] [--filter until=T]", "remove build cache", builder_prune },
	{ "build", "builder build [flags] CONTEXT|-", "build an image from a Containerfile", cmd_build },
	{ NULL, NULL, NULL, NULL },
};

int cmd_builder(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: berth builder COMMAND [flags]\n\ncommands:\n");
		for (int i = 0; builder_commands[i].name; i++)
			printf("   %-10s %s\n", builder_commands[i].name, builder_commands[i].summary);
		return argc < 1 ? 125 : 0;
	}
	for (int i = 0; builder_commands[i].name; i++)
		if (strcmp(builder_commands[i].name, argv[0]) == 0)
			return builder_commands[i].run(g, argc - 1, argv + 1, err);
	return berth_error_set(err, 0, "builder: unknown command \"%s\" (see berth builder --help)", argv[0]), 125;
}
