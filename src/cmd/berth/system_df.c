/* berth system df|prune|info: disk use of images, containers and volumes,
 * and one prune for all of them, as docker's. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/engine_cmd.h"
#include "image/images.h"
#include "image/manifest.h"
#include "storage/volume.h"
#include "util/cleanup.h"

static int64_t walked_bytes;

static int add_bytes(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_F || type == FTW_SL)
		walked_bytes += st->st_size;
	return 0;
}

/* The bytes of the files below PATH (not crossing mounts); 0 when missing. */
static int64_t tree_size(const char *path)
{
	walked_bytes = 0;
	if (path)
		nftw(path, add_bytes, 16, FTW_PHYS | FTW_MOUNT);
	return walked_bytes;
}

typedef struct df_row {
	const char *type;
	size_t total, active;
	int64_t size, reclaimable;
} df_row;

/* Whether a container record uses image ID. */
static bool image_used(container **list, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(record_config_string(list[i], "ImageId") ?: "", id) == 0)
			return true;
	return false;
}

/* Snapshots are shared between images: each is counted once, and is
 * reclaimable when no image in use has it. */
static void images_row(store *s, image_info *images, size_t ni, container **list, size_t n, df_row *r)
{
	json_t *seen = json_object(), *used = json_object();
	const char *key;
	json_t *v;

	for (size_t i = 0; i < ni; i++) {
		size_t nd = images[i].config.n_diff_ids;
		bool active = image_used(list, n, images[i].id);
		_cleanup_free_ char(*chains)[DIGEST_STRING_MAX] = nd ? calloc(nd, DIGEST_STRING_MAX) : NULL;
		r->active += active;
		if (chains == NULL)
			continue;
		image_chain_ids(images[i].config.diff_ids, nd, chains);
		for (size_t k = 0; k < nd; k++) {
			json_object_set_new(seen, chains[k], json_true());
			if (active)
				json_object_set_new(used, chains[k], json_true());
		}
	}
	r->total = ni;
	json_object_foreach(seen, key, v) {
		_cleanup_free_ char *path = store_snapshot_path(s, key);
		int64_t bytes = tree_size(path);
		r->size += bytes;
		if (!json_object_get(used, key))
			r->reclaimable += bytes;
	}
	json_decref(seen);
	json_decref(used);
}

static void containers_row(container **list, size_t n, df_row *r)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *upper = record_path(list[i], "bundle/upper");
		int64_t bytes = tree_size(upper);
		bool live = engine_status_is_live(list[i]->state.status) || list[i]->state.unsupervised;
		r->size += bytes;
		r->active += live;
		if (!live)
			r->reclaimable += bytes;
	}
	r->total = n;
}

static void volumes_row(const char *store_root, volume_info *vols, size_t nv, df_row *r)
{
	for (size_t i = 0; i < nv; i++) {
		berth_error *ignored = NULL;
		bool used = false;
		int64_t bytes = tree_size(vols[i].mountpoint);
		if (volume_in_use(store_root, vols[i].name, &used, &ignored) < 0)
			berth_error_free(&ignored);
		r->size += bytes;
		r->active += used;
		if (!used)
			r->reclaimable += bytes;
	}
	r->total = nv;
}

static int system_df(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { "format", 0, true, "table (default) or json" },
					     { NULL, 0, false, NULL } };
	option_value v[2] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	container **list = NULL;
	image_info *images = NULL;
	volume_info *vols = NULL;
	size_t n = 0, ni = 0, nv = 0;
	df_row rows[3] = { { .type = "Images" }, { .type = "Containers" }, { .type = "Local Volumes" } };
	store *s = NULL;
	bool json;
	int npos, ret = 125;

	if (berth_parse("system df", "system df [--format table|json]", specs, argc, argv, false, v, &pos, &npos, 0, 0,
			err) != 0)
		return *err ? 125 : 0;
	json = v[0].value && strcmp(v[0].value, "json") == 0;
	if (v[0].value && !json && strcmp(v[0].value, "table") != 0) {
		berth_error_request(err, EINVAL, "system df --format: table or json, not \"%s\"", v[0].value);
		goto out;
	}
	if (berth_engine_open(g, &paths, err) < 0 || record_list(&paths, &list, &n, err) < 0 ||
	    berth_open_store(g, &s, err) < 0 || image_list(s, &images, &ni, err) < 0 ||
	    volume_list(g->store_root, &vols, &nv, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		berth_error *ignored = NULL;
		if (record_refresh(&paths, list[i], &ignored) < 0)
			berth_error_free(&ignored);
	}
	images_row(s, images, ni, list, n, &rows[0]);
	containers_row(list, n, &rows[1]);
	volumes_row(g->store_root, vols, nv, &rows[2]);
	if (json) {
		for (int i = 0; i < 3; i++) {
			json_t *j = json_pack("{s:s, s:i, s:i, s:I, s:I}", "Type", rows[i].type, "TotalCount",
					      (int)rows[i].total, "Active", (int)rows[i].active, "Size",
					      (json_int_t)rows[i].size, "Reclaimable", (json_int_t)rows[i].reclaimable);
			char *text = json_dumps(j, JSON_COMPACT);
			puts(text ? text : "");
			free(text);
			json_decref(j);
		}
	} else {
		berth_table t = { .ncols = 5 };
		const char *head[] = { "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE" };
		berth_table_add(&t, head);
		for (int i = 0; i < 3; i++) {
			char total[24], active[24], size[32], recl[32], reclaimable[48];
			snprintf(total, sizeof(total), "%zu", rows[i].total);
			snprintf(active, sizeof(active), "%zu", rows[i].active);
			snprintf(reclaimable, sizeof(reclaimable), "%s (%d%%)",
				 berth_human_size(rows[i].reclaimable, recl),
				 rows[i].size ? (int)(rows[i].reclaimable * 100 / rows[i].size) : 0);
			const char *row[] = { rows[i].type, total, active, berth_human_size(rows[i].size, size),
					      reclaimable };
			berth_table_add(&t, row);
		}
		berth_table_print(&t);
	}
	ret = 0;
out:
	volume_list_free(vols, nv);
	if (images)
		image_list_free(images, ni);
	if (s)
		store_close(s);
	record_list_free(list, n);
	engine_paths_free(&paths);
	options_free_values(v, 1);
	return ret;
}

static int system_prune(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = {
		{ "all", 'a', false, "remove every image no container uses, not only unnamed ones" },
		{ "volumes", 0, false, "remove the volumes no container uses too" },
		{ "force", 'f', false, "do not ask for confirmation" },
		{ NULL, 0, false, NULL },
	};
	option_value v[4] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	char force[] = "-f", all[] = "--all", prune[] = "prune", cache[] = "--build-cache";
	char *volume_args[] = { prune, force, NULL };
	char *image_args[] = { force, cache, all, NULL }, *other_args[] = { force, NULL };
	bool a, vols;
	int npos, ret, status = 0;

	ret = berth_parse_grouped("system prune", "system prune [-a] [--volumes] [-f]", specs, argc, argv, false, v,
				  &pos, &npos, 0, 0, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	a = option_bool(&v[0]);
	vols = option_bool(&v[1]);
	ret = berth_confirm("system prune",
			    a ? (vols ? "This will remove all stopped containers, all networks not used by at least "
					"one container, all volumes not used by at least one container, all images "
					"without at least one container associated to them and all build cache."
				      : "This will remove all stopped containers, all networks not used by at least "
					"one container, all images without at least one container associated to "
					"them and all build cache.")
			      : (vols ? "This will remove all stopped containers, all networks not used by at least "
					"one container, all volumes not used by at least one container, all "
					"dangling images and all dangling build cache."
				      : "This will remove all stopped containers, all networks not used by at least "
					"one container, all dangling images and all dangling build cache."),
			    option_bool(&v[2]), err);
	if (ret <= 0)
		return ret < 0 ? 125 : 0;
	/* containers first: what they used is free for the rest */
	status |= cmd_container_prune(g, 1, other_args, err) != 0;
	if (*err)
		berth_error_report("berth", err);
	status |= cmd_network_prune(g, 1, other_args, err) != 0;
	if (*err)
		berth_error_report("berth", err);
	if (vols) {
		/* docker 23 on: the anonymous ones */
		status |= cmd_volume(g, 2, volume_args, err) != 0;
		if (*err)
			berth_error_report("berth", err);
	}
	/* images and the build cache (docker's system prune takes both) */
	status |= cmd_image_prune(g, a ? 3 : 2, image_args, err) != 0;
	if (*err)
		berth_error_report("berth", err);
	return status ? 125 : 0;
}

static const berth_command system_commands[] = {
	{ "df", "system df [--format table|json]", "disk use of images, containers and volumes", system_df },
	{ "prune", "system prune [-a] [--volumes] [-f]",
	  "remove stopped containers, unused networks, images and build cache", system_prune },
	{ "info", "system info [-f FORMAT]", "the engine, its store and the host (berth info)", cmd_info },
	{ "service", "system service [--listen ADDR] [--timeout S]", "serve the Docker Engine API (docs/api.md)",
	  cmd_system_service },
	{ NULL, NULL, NULL, NULL },
};

int cmd_system(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: berth system COMMAND [flags]\n\ncommands:\n");
		for (int i = 0; system_commands[i].name; i++)
			printf("   %-10s %s\n", system_commands[i].name, system_commands[i].summary);
		return argc < 1 ? 125 : 0;
	}
	for (int i = 0; system_commands[i].name; i++)
		if (strcmp(system_commands[i].name, argv[0]) == 0)
			return system_commands[i].run(g, argc - 1, argv + 1, err);
	return berth_error_set(err, 0, "system: unknown command \"%s\" (see berth system --help)", argv[0]), 125;
}
