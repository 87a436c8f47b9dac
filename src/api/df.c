/* GET /system/df: the images, containers, volumes and build cache with
 * their sizes, in the shapes `docker system df` (and -v) reads. Sizes are
 * the bytes of the files (a layer's snapshot, a container's upper
 * directory, a volume's content), walked without crossing mounts; a build
 * cache entry's is its layer's blob. POST /build/prune: `docker builder
 * prune` through build/cache.h. */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/containers.h"
#include "api/http.h"
#include "build/cache.h"
#include "image/images.h"
#include "image/manifest.h"
#include "storage/rootfs.h"
#include "storage/volume.h"
#include "util/cleanup.h"

/* nftw has no argument for its callback: one walk at a time */
static pthread_mutex_t walk_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t walked_bytes;

static int add_bytes(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_F || type == FTW_SL)
		walked_bytes += st->st_size;
	return 0;
}

static int64_t tree_size(const char *path)
{
	int64_t n;

	if (path == NULL)
		return 0;
	pthread_mutex_lock(&walk_lock);
	walked_bytes = 0;
	nftw(path, add_bytes, 16, FTW_PHYS | FTW_MOUNT);
	n = walked_bytes;
	pthread_mutex_unlock(&walk_lock);
	return n;
}

static int image_containers(container **list, size_t n, const char *id)
{
	int count = 0;

	for (size_t i = 0; i < n; i++)
		count += strcmp(record_config_string(list[i], "ImageId") ?: "", id) == 0;
	return count;
}

/* Each image's size is its layers' snapshots; a snapshot two images share
 * is counted in SharedSize and once in LayersSize. */
static json_t *images_json(store *s, image_info *images, size_t ni, container **list, size_t n, int64_t *layers)
{
	json_t *out = json_array(), *count = json_object(), *bytes = json_object();

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < ni; i++) {
			size_t nd = images[i].config.n_diff_ids;
			_cleanup_free_ char(*chains)[DIGEST_STRING_MAX] = nd ? calloc(nd, DIGEST_STRING_MAX) : NULL;
			int64_t size = 0, shared = 0;
			if (nd && chains == NULL)
				continue;
			if (nd)
				image_chain_ids(images[i].config.diff_ids, nd, chains);
			for (size_t k = 0; k < nd; k++) {
				json_t *c = json_object_get(count, chains[k]);
				if (pass == 0) {
					json_object_set_new(count, chains[k], json_integer(json_integer_value(c) + 1));
					if (c == NULL) {
						_cleanup_free_ char *path = store_snapshot_path(s, chains[k]);
						int64_t b = tree_size(path);
						json_object_set_new(bytes, chains[k], json_integer(b));
						*layers += b;
					}
					continue;
				}
				int64_t b = json_integer_value(json_object_get(bytes, chains[k]));
				size += b;
				if (json_integer_value(c) > 1)
					shared += b;
			}
			if (pass == 1)
				json_array_append_new(
				    out, json_pack("{s:s, s:s, s:[], s:[], s:I, s:I, s:I, s:I, s:{}, s:i}", "Id",
						   images[i].id, "ParentId", "", "RepoTags", "RepoDigests", "Created",
						   (json_int_t)api_unix_time(images[i].config.created), "Size",
						   (json_int_t)size, "SharedSize", (json_int_t)shared, "VirtualSize",
						   (json_int_t)size, "Labels", "Containers",
						   image_containers(list, n, images[i].id)));
		}
	json_decref(count);
	json_decref(bytes);
	return out;
}

static json_t *containers_json(container **list, size_t n)
{
	json_t *out = json_array();

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *upper = record_path(list[i], "bundle/upper");
		json_t *c = api_container_json(list[i]), *row;
		row = json_pack("{s:s, s:[s+], s:s, s:s, s:s, s:I, s:I, s:I}", "Id", list[i]->id, "Names", "/",
				list[i]->name, "Image", record_config_string(list[i], "Image") ?: "", "State",
				list[i]->state.status, "Status", list[i]->state.status, "Created",
				(json_int_t)api_unix_time(json_string_value(json_object_get(c, "Created"))), "SizeRw",
				(json_int_t)tree_size(upper), "SizeRootFs", (json_int_t)0);
		json_decref(c);
		json_array_append_new(out, row);
	}
	return out;
}

static json_t *volumes_json(const char *store_root, volume_info *vols, size_t nv)
{
	json_t *out = json_array();

	for (size_t i = 0; i < nv; i++) {
		berth_error *ignored = NULL;
		bool used = false;
		if (volume_in_use(store_root, vols[i].name, &used, &ignored) < 0)
			berth_error_free(&ignored);
		json_array_append_new(
		    out, json_pack("{s:s, s:s, s:s, s:s, s:{s:I, s:i}}", "Name", vols[i].name, "Driver", "local",
				   "Mountpoint", vols[i].mountpoint ?: "", "Scope", "local", "UsageData", "Size",
				   (json_int_t)tree_size(vols[i].mountpoint), "RefCount", used ? 1 : 0));
	}
	return out;
}

/* UTC ns as RFC 3339 with nanoseconds (Go's time.Time in JSON) */
static json_t *rfc3339_json(int64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	char day[32], out[64];
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, sizeof(out), "%s.%09lldZ", day, (long long)(ns % 1000000000LL));
	return json_string(out);
}

/* docker's BuildCache records; *SIZE the bytes pruning could free (the
 * entries whose layer no image has) */
static json_t *build_cache_json(store *s, int64_t *size, berth_error **err)
{
	build_cache_record *list = NULL;
	json_t *out;
	size_t n = 0;

	*size = 0;
	if (build_cache_list(s, &list, &n, err) < 0)
		return NULL;
	out = json_array();
	for (size_t i = 0; out && i < n; i++) {
		char desc[DIGEST_STRING_MAX + 32];
		snprintf(desc, sizeof(desc), "%s%s", list[i].digest[0] ? "layer " : "a step with no changes",
			 list[i].digest);
		json_array_append_new(
		    out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:o, s:o, s:i}", "ID", list[i].id, "Parent", "",
				   "Type", "regular", "Description", desc, "InUse", 0, "Shared", list[i].shared, "Size",
				   (json_int_t)list[i].size, "CreatedAt", rfc3339_json(list[i].created_ns),
				   "LastUsedAt", rfc3339_json(list[i].used_ns), "UsageCount", 1));
		if (!list[i].shared)
			*size += list[i].size;
	}
	free(list);
	if (out == NULL)
		berth_error_set(err, ENOMEM, "build cache");
	return out;
}

void api_system_df(api_request *r)
{
	container **list = NULL;
	image_info *images = NULL;
	volume_info *vols = NULL;
	size_t n = 0, ni = 0, nv = 0;
	berth_error *e = NULL;
	int64_t layers = 0, cache_size = 0;
	store *s = NULL;
	json_t *out, *cache;

	if (record_list(&r->server->paths, &list, &n, &e) < 0 ||
	    store_open(r->server->options->store_root, &s, &e) < 0 || image_list(s, &images, &ni, &e) < 0 ||
	    volume_list(r->server->options->store_root, &vols, &nv, &e) < 0) {
		api_reply_berth_error(r, &e);
		goto out;
	}
	cache = build_cache_json(s, &cache_size, &e);
	if (cache == NULL) {
		api_reply_berth_error(r, &e);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (record_refresh(&r->server->paths, list[i], &e) < 0)
			berth_error_free(&e);
	out = json_pack("{s:o, s:o, s:o, s:o}", "Images", images_json(s, images, ni, list, n, &layers), "Containers",
			containers_json(list, n), "Volumes", volumes_json(r->server->options->store_root, vols, nv),
			"BuildCache", cache);
	json_object_set_new(out, "LayersSize", json_integer(layers));
	json_object_set_new(out, "BuilderSize", json_integer(cache_size));
	api_reply_json(r, 200, out);
out:
	volume_list_free(vols, nv);
	if (images)
		image_list_free(images, ni);
	if (s)
		store_close(s);
	record_list_free(list, n);
}

/* docker's builder prune filters ({"until": {"24h": true}}, or a list):
 * "until" only, into O. */
static int build_prune_filters(api_request *r, build_cache_prune_options *o, berth_error **err)
{
	const char *text = api_query(r, "filters"), *key;
	json_auto_t *filters = text && *text ? json_loads(text, 0, NULL) : json_object();
	json_t *v;

	if (!json_is_object(filters))
		return berth_error_request(err, EINVAL, "filters: expected a JSON object");
	json_object_foreach(filters, key, v) {
		const char *value;
		json_t *e;
		size_t i;
		if (strcmp(key, "until") != 0)
			return berth_error_request(
			    err, EINVAL, "filters: \"%s\" is not supported by berth's builder prune (until)", key);
		if (json_is_object(v)) {
			json_object_foreach(v, value, e) {
				_cleanup_free_ char *f = NULL;
				if (asprintf(&f, "until=%s", value) < 0)
					return berth_error_set(err, ENOMEM, "filters");
				if (build_cache_filter_parse(f, o, err) < 0)
					return -1;
			}
		} else if (json_is_array(v)) {
			json_array_foreach(v, i, e) {
				_cleanup_free_ char *f = NULL;
				if (!json_is_string(e))
					return berth_error_request(err, EINVAL, "filters: until: not a string");
				if (asprintf(&f, "until=%s", json_string_value(e)) < 0)
					return berth_error_set(err, ENOMEM, "filters");
				if (build_cache_filter_parse(f, o, err) < 0)
					return -1;
			}
		} else {
			return berth_error_request(err, EINVAL, "filters: until: expected an object or a list");
		}
	}
	return 0;
}

/* POST /build/prune?all=&filters=&keep-storage=: {CachesDeleted,
 * SpaceReclaimed}. Dangling entries (their layer in no image), every entry
 * with all (and RUN's cache mounts), those last used before until. */
void api_build_prune(api_request *r)
{
	build_cache_prune_options o = { .all = api_query_bool(r, "all", false) };
	build_cache_prune_result res = { 0 };
	_cleanup_strv_ char **in_use = NULL;
	berth_error *e = NULL;
	json_t *deleted;
	store *s = NULL;

	if (api_query_long(r, "keep-storage", 0) != 0) {
		api_reply_error(r, 400, "keep-storage: not supported by berth's builder prune");
		return;
	}
	if (build_prune_filters(r, &o, &e) < 0 || store_open(r->server->options->store_root, &s, &e) < 0 ||
	    storage_snapshots_in_use(s, &in_use, &e) < 0) {
		api_reply_berth_error(r, &e);
		goto out;
	}
	o.in_use = in_use;
	if (build_cache_prune(s, &o, &res, &e) < 0) {
		api_reply_berth_error(r, &e);
		goto out;
	}
	deleted = json_array();
	for (size_t i = 0; deleted && res.removed[i]; i++)
		json_array_append_new(deleted, json_string(res.removed[i]));
	api_reply_json(
	    r, 200, json_pack("{s:o, s:I}", "CachesDeleted", deleted, "SpaceReclaimed", (json_int_t)res.freed_bytes));
out:
	build_cache_prune_result_free(&res);
	if (s)
		store_close(s);
}
