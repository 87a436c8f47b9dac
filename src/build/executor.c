#include "build/executor.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build/executor_internal.h"
#include "build/strv.h"
#include "engine/runtime_call.h"
#include "image/archive.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "image/registry.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/proc.h"

/* stands for the image being built in messages of the storage layer */
#define BUILD_STAGE_ID "(build stage)"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SOURCE_DATE_EPOCH (seconds), or -1 when unset or invalid. */
static int64_t source_date_epoch(void)
{
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;

	if (epoch == NULL || *epoch == '\0')
		return -1;
	v = strtoll(epoch, &end, 10);
	return *end == '\0' && v >= 0 ? (int64_t)v : -1;
}

/* RFC 3339 of now, or of SOURCE_DATE_EPOCH when set (reproducible builds). */
static void created_time(char buf[32])
{
	int64_t epoch = source_date_epoch();
	time_t t = epoch >= 0 ? (time_t)epoch : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- stage state ---- */

json_t *stage_config(stage_state *si)
{
	json_t *cfg = json_object_get(si->image, "config");

	if (!json_is_object(cfg)) {
		cfg = json_object();
		json_object_set_new(si->image, "config", cfg);
	}
	return cfg;
}

static json_t *diff_ids(stage_state *si)
{
	json_t *rootfs = json_object_get(si->image, "rootfs"), *ids;

	if (!json_is_object(rootfs)) {
		rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
		json_object_set_new(si->image, "rootfs", rootfs);
	}
	ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids)) {
		ids = json_array();
		json_object_set_new(rootfs, "diff_ids", ids);
	}
	return ids;
}

static void stage_free(stage_state *si)
{
	json_decref(si->image);
	json_decref(si->layers);
	json_decref(si->triggers);
	memset(si, 0, sizeof(*si));
}

static char **json_strings(json_t *a)
{
	char **v = calloc(json_array_size(a) + 1, sizeof(char *));
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e) {
		if (v)
			v[i] = (char *)json_string_value(e);
	}
	return v;
}

int stage_info(stage_state *si, image_info *info, berth_error **err)
{
	json_t *ids = diff_ids(si), *cfg = stage_config(si), *l;
	size_t i;

	memset(info, 0, sizeof(*info));
	info->id = (char *)BUILD_STAGE_ID;
	info->manifest_digest = (char *)BUILD_STAGE_ID;
	info->names = calloc(1, sizeof(char *));
	info->manifest.layers = calloc(json_array_size(si->layers) + 1, sizeof(oci_descriptor));
	info->config.diff_ids = json_strings(ids);
	info->config.n_diff_ids = json_array_size(ids);
	info->manifest.n_layers = json_array_size(si->layers);
	info->config.env = json_strings(json_object_get(cfg, "Env"));
	info->config.user = (char *)json_string_value(json_object_get(cfg, "User"));
	info->config.working_dir = (char *)json_string_value(json_object_get(cfg, "WorkingDir"));
	if (info->names == NULL || info->manifest.layers == NULL || info->config.diff_ids == NULL ||
	    info->config.env == NULL) {
		stage_info_release(info);
		return berth_error_set(err, ENOMEM, "build");
	}
	json_array_foreach(si->layers, i, l) {
		info->manifest.layers[i].media_type = (char *)json_string_value(json_object_get(l, "mediaType"));
		info->manifest.layers[i].digest = (char *)json_string_value(json_object_get(l, "digest"));
		info->manifest.layers[i].size = json_integer_value(json_object_get(l, "size"));
	}
	return 0;
}

void stage_info_release(image_info *info)
{
	free(info->names);
	free(info->manifest.layers);
	free(info->config.diff_ids);
	free(info->config.env);
	memset(info, 0, sizeof(*info));
}

void stage_chain_id(stage_state *si, char out[DIGEST_STRING_MAX])
{
	json_t *ids = diff_ids(si);
	size_t n = json_array_size(ids);
	_cleanup_free_ char **v = json_strings(ids);
	char(*chains)[DIGEST_STRING_MAX];

	out[0] = '\0';
	if (n == 0 || v == NULL)
		return;
	chains = calloc(n, DIGEST_STRING_MAX);
	if (chains == NULL)
		return;
	image_chain_ids(v, n, chains);
	memcpy(out, chains[n - 1], DIGEST_STRING_MAX);
	free(chains);
}

int stage_mount(build_ctx *c, stage_state *si, char **dir, berth_error **err)
{
	_cleanup_free_ char *tmpl = NULL;
	rootfs_options ro = { .userxattr = c->o->rootless, .rootless = c->o->rootless, .self_contained_upper = true };
	image_info info;
	int ret;

	if (asprintf(&tmpl, "%s/step-%d-%llu-XXXXXX", c->tmp_root, (int)getpid(), proc_pid_start_time(getpid())) < 0)
		return berth_error_set(err, ENOMEM, "build");
	if (mkdtemp(tmpl) == NULL)
		return berth_error_set(err, errno, "mkdtemp \"%s\"", tmpl);
	if (stage_info(si, &info, err) < 0) {
		rmdir(tmpl);
		return -1;
	}
	ret = storage_rootfs_mount(c->s, &info, tmpl, &ro, NULL, err);
	stage_info_release(&info);
	if (ret < 0) {
		stage_unmount(tmpl);
		return -1;
	}
	*dir = move_ptr(tmpl);
	return 0;
}

void stage_unmount(const char *dir)
{
	berth_error *ignored = NULL;

	if (storage_rootfs_unmount(dir, true, &ignored) < 0)
		berth_error_free(&ignored);
	if (fs_remove_tree(dir, &ignored) < 0)
		berth_error_free(&ignored);
}

/* Removes what killed builds left in STORE/build-tmp: "step-PID-START-*"
 * and "context-PID-START-*" of processes that are gone (their overlay is
 * unmounted first). A running build's dirs are left alone. */
static void sweep_tmp(const char *tmp_root)
{
	_cleanup_closedir_ DIR *d = opendir(tmp_root);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		unsigned long long start;
		_cleanup_free_ char *path = NULL;
		int pid;
		if ((sscanf(de->d_name, "step-%d-%llu-", &pid, &start) != 2 &&
		     sscanf(de->d_name, "context-%d-%llu-", &pid, &start) != 2) ||
		    (pid > 0 && proc_pid_start_time(pid) == start))
			continue;
		path = fs_path_join(tmp_root, de->d_name);
		if (path)
			stage_unmount(path);
	}
}

static json_t *history_entry(const char *created_by, bool empty)
{
	char created[32];
	json_t *h;

	created_time(created);
	h = json_pack("{s:s, s:s, s:s}", "created", created, "created_by", created_by, "comment", "berth build");
	if (h && empty)
		json_object_set_new(h, "empty_layer", json_true());
	return h;
}

static int add_history(stage_state *si, const char *created_by, bool empty, berth_error **err)
{
	json_t *hist = json_object_get(si->image, "history");

	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(si->image, "history", hist);
	}
	if (json_array_append_new(hist, history_entry(created_by, empty)) < 0)
		return berth_error_set(err, ENOMEM, "history");
	return 0;
}

int stage_add_layer(stage_state *si, const build_layer *layer, const char *created_by, berth_error **err)
{
	if (json_array_append_new(si->layers, json_pack("{s:s, s:s, s:I}", "mediaType", MEDIA_OCI_LAYER_GZIP, "digest",
							layer->digest, "size", (json_int_t)layer->size)) < 0 ||
	    json_array_append_new(diff_ids(si), json_string(layer->diff_id)) < 0)
		return berth_error_set(err, ENOMEM, "build");
	return add_history(si, created_by, false, err);
}

/* ---- cache ---- */

static int add_history(stage_state *si, const char *created_by, bool empty, berth_error **err);

/* The entry's file name: the key, and SOURCE_DATE_EPOCH when set (a layer
 * built without it has other timestamps). */
static void cache_entry_name(const char *key, char name[DIGEST_STRING_MAX])
{
	int64_t epoch = source_date_epoch();
	char text[DIGEST_STRING_MAX + 32];

	if (epoch < 0) {
		snprintf(name, DIGEST_STRING_MAX, "%s", digest_hex(key));
		return;
	}
	snprintf(text, sizeof(text), "%s %lld", key, (long long)epoch);
	digest_buffer(text, strlen(text), name);
	memmove(name, digest_hex(name), strlen(digest_hex(name)) + 1);
}

bool cache_lookup(build_ctx *c, const char *key, stage_state *si, const char *created_by)
{
	_cleanup_free_ char *text = NULL;
	json_auto_t *j = NULL;
	berth_error *ignored = NULL;
	build_layer layer = { 0 };
	size_t len;

	if (c->o->no_cache || c->cache_fd < 0)
		return false;
	char name[DIGEST_STRING_MAX];

	cache_entry_name(key, name);
	if (fs_read_file_at(c->cache_fd, name, &text, &len, &ignored) < 0) {
		berth_error_free(&ignored);
		return false;
	}
	/* the entry's mtime says when it was last used (builder prune's until) */
	utimensat(c->cache_fd, name, NULL, 0);
	j = json_loads(text, 0, NULL);
	if (json_is_true(json_object_get(j, "empty"))) {
		/* the step made no change (WORKDIR of an existing directory) */
		if (add_history(si, created_by, true, &ignored) < 0) {
			berth_error_free(&ignored);
			return false;
		}
		return true;
	}
	const char *digest = json_string_value(json_object_get(j, "digest"));
	const char *diff_id = json_string_value(json_object_get(j, "diff_id"));
	json_int_t size = json_integer_value(json_object_get(j, "size"));
	if (!digest_is_valid(digest ?: "") || !digest_is_valid(diff_id ?: "") || !store_blob_exists(c->s, digest))
		return false;
	snprintf(layer.digest, sizeof(layer.digest), "%s", digest);
	snprintf(layer.diff_id, sizeof(layer.diff_id), "%s", diff_id);
	layer.size = size;
	if (stage_add_layer(si, &layer, created_by, &ignored) < 0) {
		berth_error_free(&ignored);
		return false;
	}
	return true;
}

void cache_store(build_ctx *c, const char *key, const build_layer *layer)
{
	_cleanup_free_ char *text = NULL;
	berth_error *ignored = NULL;
	json_auto_t *j = layer ? json_pack("{s:s, s:s, s:I}", "digest", layer->digest, "diff_id", layer->diff_id,
					   "size", (json_int_t)layer->size)
			       : json_pack("{s:b}", "empty", 1);

	if (c->cache_fd < 0 || j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL)
		return;
	char name[DIGEST_STRING_MAX];

	cache_entry_name(key, name);
	if (fs_write_file_atomic(c->cache_fd, name, text, strlen(text), 0644, &ignored) < 0)
		berth_error_free(&ignored);
}

int stage_commit_upper(build_ctx *c, stage_state *si, const char *dir, const char *key, const char *created_by,
		       berth_error **err)
{
	_cleanup_free_ char *upper = fs_path_join(dir, "upper");
	_cleanup_close_ int fd = -EBADF;
	build_layer layer;

	if (storage_rootfs_unmount(dir, false, err) < 0)
		return -1;
	fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", upper);
	if (build_layer_write(c->s, fd, c->o->rootless, source_date_epoch(), &layer, err) < 0)
		return -1;
	cache_store(c, key, &layer);
	return stage_add_layer(si, &layer, created_by, err);
}

/* ---- cache keys ---- */

void cache_key_add(digester *d, const char *label, const char *value)
{
	digester_update(d, label, strlen(label) + 1);
	digester_update(d, value ? value : "", strlen(value ? value : "") + 1);
}

void cache_key_add_strv(digester *d, const char *label, char *const *v)
{
	digester_update(d, label, strlen(label) + 1);
	for (size_t k = 0; v && v[k]; k++)
		digester_update(d, v[k], strlen(v[k]) + 1);
	digester_update(d, "", 1);
}

/* ---- WORKDIR ---- */

/* WORKDIR makes its directory when the rootfs lacks it (root-owned, 0755),
 * as Docker and buildah do: a layer then, else only the config changes. */
static int do_workdir(build_ctx *c, stage_state *si, const char *dir, const char *created_by, bool *cached,
		      berth_error **err)
{
	_cleanup_free_ char *mount_dir = NULL, *rootfs = NULL;
	_cleanup_close_ int root = -EBADF;
	char chain[DIGEST_STRING_MAX], key[DIGEST_STRING_MAX];
	digester d;
	int ret = 0, fd;

	stage_chain_id(si, chain);
	digester_init(&d);
	cache_key_add(&d, "WORKDIR", chain);
	cache_key_add(&d, "dir", dir);
	digester_final(&d, key);
	if (cache_lookup(c, key, si, created_by)) {
		*cached = true;
		return 0;
	}
	if (stage_mount(c, si, &mount_dir, err) < 0)
		return -1;
	rootfs = fs_path_join(mount_dir, "rootfs");
	root = rootfs ? open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	if (root < 0)
		ret = berth_error_set(err, errno, "open \"%s\"", rootfs ? rootfs : "rootfs");
	if (ret == 0 && build_is_dir_in_root(root, dir)) {
		cache_store(c, key, NULL);
		ret = add_history(si, created_by, true, err);
	} else if (ret == 0 && (fd = fs_mkdir_p_in_root(root, dir, 0755, err)) >= 0) {
		close(fd);
		ret = stage_commit_upper(c, si, mount_dir, key, created_by, err);
	} else if (ret == 0) {
		ret = berth_error_wrap(err, "\"%s\"", dir);
	}
	stage_unmount(mount_dir);
	return ret;
}

/* ---- metadata ---- */

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; a && v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *object_member(json_t *cfg, const char *key)
{
	json_t *o = json_object_get(cfg, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(cfg, key, o);
	}
	return o;
}

static void set_pairs(json_t *obj, char *const *pairs)
{
	for (size_t i = 0; pairs && pairs[i]; i++) {
		_cleanup_free_ char *key = strndup(pairs[i], strcspn(pairs[i], "="));
		const char *eq = strchr(pairs[i], '=');
		if (key)
			json_object_set_new(obj, key, json_string(eq ? eq + 1 : ""));
	}
}

static char *join_workdir(const char *old, const char *dir)
{
	char *out = NULL;

	if (dir[0] == '/')
		out = strdup(dir);
	else if (asprintf(&out, "%s/%s", old && old[0] ? old : "/", dir) < 0)
		out = NULL;
	if (out) {
		/* clean "//" and a trailing "/" */
		char *w = out;
		for (char *r = out; *r; r++)
			if (!(r[0] == '/' && (r[1] == '/' || (r[1] == '\0' && r != out))))
				*w++ = *r;
		*w = '\0';
		if (out[0] == '\0')
			strcpy(out, "/");
	}
	return out;
}

int build_apply_config(stage_state *si, const build_scope *scope, const build_step *st, berth_error **err)
{
	json_t *cfg = stage_config(si);
	const char *w0 = st->words && st->words[0] ? st->words[0] : "";

	switch (st->kind) {
	case DF_ENV:
		json_object_set_new(cfg, "Env", strv_json(scope->env));
		break;
	case DF_LABEL:
		set_pairs(object_member(cfg, "Labels"), st->pairs);
		break;
	case DF_USER:
		json_object_set_new(cfg, "User", json_string(w0));
		break;
	case DF_WORKDIR: {
		/* a build's WORKDIR also makes the directory (do_workdir) */
		_cleanup_free_ char *dir = join_workdir(json_string_value(json_object_get(cfg, "WorkingDir")), w0);
		if (dir == NULL)
			return berth_error_set(err, ENOMEM, "WORKDIR");
		json_object_set_new(cfg, "WorkingDir", json_string(dir));
		break;
	}
	case DF_EXPOSE:
		for (size_t i = 0; st->words[i]; i++) {
			_cleanup_free_ char *port = NULL;
			if (asprintf(&port, strchr(st->words[i], '/') ? "%s" : "%s/tcp", st->words[i]) < 0)
				return berth_error_set(err, ENOMEM, "EXPOSE");
			json_object_set_new(object_member(cfg, "ExposedPorts"), port, json_object());
		}
		break;
	case DF_VOLUME:
		for (size_t i = 0; st->words[i]; i++)
			json_object_set_new(object_member(cfg, "Volumes"), st->words[i], json_object());
		break;
	case DF_ENTRYPOINT:
		json_object_set_new(cfg, "Entrypoint", strv_json(st->command));
		if (!si->cmd_set)
			json_object_del(cfg, "Cmd");
		break;
	case DF_CMD:
		json_object_set_new(cfg, "Cmd", strv_json(st->command));
		si->cmd_set = true;
		break;
	case DF_HEALTHCHECK: {
		json_t *h = json_pack("{s:o}", "Test", strv_json(st->health.test));
		if (!st->health.none) {
			if (st->health.interval_ns)
				json_object_set_new(h, "Interval", json_integer(st->health.interval_ns));
			if (st->health.timeout_ns)
				json_object_set_new(h, "Timeout", json_integer(st->health.timeout_ns));
			if (st->health.start_period_ns)
				json_object_set_new(h, "StartPeriod", json_integer(st->health.start_period_ns));
			if (st->health.start_interval_ns)
				json_object_set_new(h, "StartInterval", json_integer(st->health.start_interval_ns));
			if (st->health.retries)
				json_object_set_new(h, "Retries", json_integer(st->health.retries));
		}
		json_object_set_new(cfg, "Healthcheck", h);
		break;
	}
	case DF_SHELL:
		json_object_set_new(cfg, "Shell", strv_json(st->words));
		break;
	case DF_STOPSIGNAL:
		json_object_set_new(cfg, "StopSignal", json_string(w0));
		break;
	case DF_ONBUILD: {
		json_t *ob = json_object_get(cfg, "OnBuild");
		if (!json_is_array(ob)) {
			ob = json_array();
			json_object_set_new(cfg, "OnBuild", ob);
		}
		json_array_append_new(ob, json_string(st->trigger));
		break;
	}
	case DF_MAINTAINER:
		json_object_set_new(si->image, "author", json_string(w0));
		break;
	default:
		break;
	}
	return 0;
}

static int apply_metadata(stage_state *si, build_scope *scope, const build_step *st, berth_error **err)
{
	if (build_apply_config(si, scope, st, err) < 0)
		return -1;
	return add_history(si, st->created_by, true, err);
}

/* ---- stages ---- */

#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int build_resolve_image(build_ctx *c, const char *text, image_info *info, berth_error **err)
{
	pull_options po = { .registry = { .tls_verify = !c->o->pull_insecure, .quiet = true } };
	store *s = c->s;

	if (image_resolve(s, text, info, err) == 0)
		return 0;
	if (*err == NULL || (*err)->code != 0 || strstr((*err)->msg, "not known") == NULL)
		return -1;
	berth_error_free(err);
	if (image_pull(s, text, &po, info, err) < 0)
		return berth_error_wrap(err, "image \"%s\" is not in the store and pulling it failed", text);
	return 0;
}

static int stage_from_image(build_ctx *c, const char *name, stage_state *si, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	image_info info;
	size_t len;
	int ret;

	if (c->o->pull) {
		pull_options po = { .registry = { .tls_verify = !c->o->pull_insecure, .quiet = true } };
		if (image_pull(c->s, name, &po, &info, err) < 0)
			return berth_error_wrap(err, "--pull");
	} else if (build_resolve_image(c, name, &info, err) < 0) {
		return -1;
	}
	ret = store_blob_read(c->s, info.id, MANIFEST_MAX_SIZE, &text, &len, err);
	if (ret == 0) {
		si->image = json_loadb(text, len, 0, NULL);
		si->layers = json_array();
		for (size_t i = 0; si->layers && i < info.manifest.n_layers; i++)
			json_array_append_new(si->layers, oci_descriptor_to_json(&info.manifest.layers[i]));
		if (!json_is_object(si->image) || si->layers == NULL)
			ret = berth_error_set(err, EINVAL, "image \"%s\": config %s", name, info.id);
	}
	image_info_free(&info);
	return ret;
}

static int stage_from_scratch(build_ctx *c, stage_state *si, berth_error **err)
{
	oci_platform host = { 0 };

	if (platform_parse(NULL, &host, err) < 0)
		return -1;
	si->image = json_pack("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture", host.architecture, "os", host.os,
			      "config", "rootfs", "type", "layers", "diff_ids", "history");
	if (si->image && host.variant)
		json_object_set_new(si->image, "variant", json_string(host.variant));
	platform_free(&host);
	si->layers = json_array();
	return si->image && si->layers ? 0 : berth_error_set(err, ENOMEM, "build");
}

static int stage_init(build_ctx *c, size_t i, berth_error **err)
{
	const build_plan_stage *ps = &c->plan->stages[i];
	stage_state *si = &c->stages[i];
	json_t *cfg, *env, *e;
	bool has_path = false;
	size_t k;
	int ret;

	if (ps->base_stage >= 0) {
		si->image = json_deep_copy(c->stages[ps->base_stage].image);
		si->layers = json_deep_copy(c->stages[ps->base_stage].layers);
		ret = si->image && si->layers ? 0 : berth_error_set(err, ENOMEM, "build");
	} else if (strcmp(ps->base, "scratch") == 0) {
		ret = stage_from_scratch(c, si, err);
	} else {
		ret = stage_from_image(c, ps->base, si, err);
	}
	if (ret < 0)
		return berth_error_wrap(err, "%s:%u: FROM %s", c->plan->file->path, c->plan->file->stages[i].line,
					ps->base);
	cfg = stage_config(si);
	/* the base's triggers run at the start of this stage, and are not
	 * inherited further (Docker's rule) */
	si->triggers = json_incref(json_object_get(cfg, "OnBuild"));
	json_object_del(cfg, "OnBuild");
	env = json_object_get(cfg, "Env");
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(cfg, "Env", env);
	}
	json_array_foreach(env, k, e) {
		has_path = has_path || strncmp(json_string_value(e) ?: "", "PATH=", 5) == 0;
	}
	if (!has_path)
		json_array_insert_new(env, 0, json_string(DEFAULT_PATH_ENV));
	return 0;
}

static void progress(build_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(build_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->out == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fflush(c->out);
}

static int run_step(build_ctx *c, size_t i, build_scope *scope, const df_instruction *in, bool *cached,
		    berth_error **err)
{
	stage_state *si = &c->stages[i];
	build_step st;
	int ret;

	if (build_step_eval(c->plan, in, scope, &st, err) < 0)
		return -1;
	switch (st.kind) {
	case DF_RUN:
		ret = build_do_run(c, i, &st, cached, err);
		break;
	case DF_COPY:
	case DF_ADD:
		ret = build_do_copy(c, i, &st, cached, err);
		break;
	case DF_ARG:
		ret = 0;
		break;
	case DF_WORKDIR: {
		json_t *cfg = stage_config(si);
		_cleanup_free_ char *dir =
		    join_workdir(json_string_value(json_object_get(cfg, "WorkingDir")), st.words[0]);
		if (dir == NULL) {
			ret = berth_error_set(err, ENOMEM, "WORKDIR");
			break;
		}
		json_object_set_new(cfg, "WorkingDir", json_string(dir));
		ret = do_workdir(c, si, dir, st.created_by, cached, err);
		break;
	}
	default:
		ret = apply_metadata(si, scope, &st, err);
		break;
	}
	build_step_free(&st);
	if (ret < 0)
		return berth_error_wrap(err, "%s:%u: %s", c->plan->file->path, in->line, df_kind_name(in->kind));
	return 0;
}

/* The next progress number (stages run in parallel threads). */
static unsigned next_number(unsigned *n)
{
	return __atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
}

/* The base image's ONBUILD triggers, in order, in the stage's context. */
static int run_triggers(build_ctx *c, size_t i, build_scope *scope, const char *label, unsigned *n, berth_error **err)
{
	const df_stage *ds = &c->plan->file->stages[i];
	json_t *t;
	size_t k;

	json_array_foreach(c->stages[i].triggers, k, t) {
		const char *text = json_string_value(t);
		df_instruction *in = NULL;
		bool cached = false;
		double t0 = now_s();
		int ret;
		if (text == NULL)
			continue;
		unsigned num = next_number(n);
		progress(c, "#%u [%sONBUILD] %s\n", num, label, text);
		if (df_parse_trigger(c->plan->file, ds->line, text, &in, err) < 0)
			return berth_error_wrap(err, "ONBUILD trigger of %s", c->plan->stages[i].base);
		ret = run_step(c, i, scope, in, &cached, err);
		df_instruction_free(in);
		if (ret < 0) {
			progress(c, "#%u ERROR\n", num);
			return berth_error_wrap(err, "ONBUILD trigger of %s", c->plan->stages[i].base);
		}
		progress(c, cached ? "#%u CACHED\n" : "#%u DONE %.1fs\n", num, now_s() - t0);
	}
	return 0;
}

int build_stage(build_ctx *c, size_t i, unsigned *n, berth_error **err)
{
	const df_stage *ds = &c->plan->file->stages[i];
	stage_state *si = &c->stages[i];
	char label[64];
	build_scope scope;
	_cleanup_free_ char **env = NULL;
	double t0 = now_s();
	unsigned num = next_number(n);
	int ret = 0;

	if (ds->name)
		snprintf(label, sizeof(label), "%s ", ds->name);
	else
		snprintf(label, sizeof(label), "stage-%zu ", i);
	progress(c, "#%u [%s1/%zu] FROM %s\n", num, label, ds->n_steps + 1, c->plan->stages[i].base);
	if (stage_init(c, i, err) < 0) {
		progress(c, "#%u ERROR\n", num);
		return -1;
	}
	progress(c, "#%u DONE %.1fs\n", num, now_s() - t0);
	env = json_strings(json_object_get(stage_config(si), "Env"));
	if (env == NULL || build_scope_init(&scope, env, err) < 0)
		return env ? -1 : berth_error_set(err, ENOMEM, "build");
	ret = run_triggers(c, i, &scope, label, n, err);
	for (size_t k = 0; ret == 0 && k < ds->n_steps; k++) {
		bool cached = false;
		t0 = now_s();
		num = next_number(n);
		if (c->o->cancelled && c->o->cancelled(c->o->cancel_arg)) {
			ret = berth_error_request(err, ECANCELED, "build cancelled");
			break;
		}
		progress(c, "#%u [%s%zu/%zu] %s\n", num, label, k + 2, ds->n_steps + 1, ds->steps[k].original);
		ret = run_step(c, i, &scope, &ds->steps[k], &cached, err);
		if (ret == 0 && cached)
			progress(c, "#%u CACHED\n", num);
		else if (ret == 0)
			progress(c, "#%u DONE %.1fs\n", num, now_s() - t0);
		else
			progress(c, "#%u ERROR\n", num);
	}
	build_scope_free(&scope);
	si->built = ret == 0;
	return ret;
}

/* ---- the result ---- */

static int write_image(build_ctx *c, stage_state *si, char *const *names, char id[DIGEST_STRING_MAX], berth_error **err)
{
	_cleanup_free_ char *config_text = NULL, *manifest_text = NULL;
	json_auto_t *manifest = NULL;
	char created[32], manifest_digest[DIGEST_STRING_MAX];
	json_t *cfg = stage_config(si);

	for (size_t i = 0; c->o->labels && c->o->labels[i]; i++) {
		char *const one[] = { c->o->labels[i], NULL };
		set_pairs(object_member(cfg, "Labels"), one);
	}
	created_time(created);
	json_object_set_new(si->image, "created", json_string(created));
	config_text = json_dumps(si->image, JSON_COMPACT);
	if (config_text == NULL)
		return berth_error_set(err, ENOMEM, "image config");
	if (store_blob_put(c->s, config_text, strlen(config_text), NULL, id, err) < 0)
		return -1;
	manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType", MEDIA_OCI_MANIFEST,
			     "config", "mediaType", MEDIA_OCI_CONFIG, "digest", id, "size",
			     (json_int_t)strlen(config_text), "layers", si->layers);
	manifest_text = manifest ? json_dumps(manifest, JSON_COMPACT) : NULL;
	if (manifest_text == NULL)
		return berth_error_set(err, ENOMEM, "manifest");
	if (store_blob_put(c->s, manifest_text, strlen(manifest_text), NULL, manifest_digest, err) < 0)
		return -1;
	if (names[0] == NULL)
		return store_ref_set(c->s, NULL, manifest_digest, MEDIA_OCI_MANIFEST, (int64_t)strlen(manifest_text),
				     err);
	for (size_t i = 0; names[i]; i++)
		if (store_ref_set(c->s, names[i], manifest_digest, MEDIA_OCI_MANIFEST, (int64_t)strlen(manifest_text),
				  err) < 0)
			return -1;
	return 0;
}

/* ---- the whole build ---- */

static int normalize_tags(char *const *tags, char ***out, berth_error **err)
{
	*out = calloc(1, sizeof(char *));
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "build");
	for (size_t i = 0; tags && tags[i]; i++) {
		image_ref ref;
		if (image_ref_parse(tags[i], &ref, err) < 0)
			return berth_error_wrap(err, "tag \"%s\"", tags[i]);
		char *name = image_ref_name(&ref);
		image_ref_free(&ref);
		if (build_strv_take(out, name) < 0)
			return berth_error_set(err, ENOMEM, "build");
	}
	return 0;
}

static int find_file(const build_options *o, char **path, berth_error **err)
{
	static const char *const names[] = { "Containerfile", "Dockerfile", NULL };

	if (o->file) {
		*path = strdup(o->file);
		return *path ? 0 : berth_error_set(err, ENOMEM, "build");
	}
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *p = fs_path_join(o->context, names[i]);
		if (p && access(p, F_OK) == 0) {
			*path = move_ptr(p);
			return 0;
		}
	}
	return berth_error_request(err, ENOENT, "no Containerfile or Dockerfile in \"%s\" (give one with -f)",
				   o->context);
}

/* FILE.dockerignore beside the Containerfile wins over the context's
 * .containerignore/.dockerignore (BuildKit's rule). */
static int load_ignore(build_ctx *c, const char *file, berth_error **err)
{
	_cleanup_free_ char *own = NULL, *text = NULL;
	size_t len;

	if (asprintf(&own, "%s.dockerignore", file) < 0)
		return berth_error_set(err, ENOMEM, "build");
	if (access(own, F_OK) != 0)
		return build_ignore_load(c->context_fd, &c->ignore, err);
	if (fs_read_file(own, &text, &len, err) < 0 || build_ignore_parse(text, &c->ignore, err) < 0)
		return berth_error_wrap(err, "\"%s\"", own);
	return 0;
}

static int open_dirs(build_ctx *c, const char *file, berth_error **err)
{
	_cleanup_free_ char *cache = fs_path_join(store_root(c->s), "build-cache");

	c->tmp_root = fs_path_join(store_root(c->s), "build-tmp");
	if (c->tmp_root == NULL || cache == NULL)
		return berth_error_set(err, ENOMEM, "build");
	if (fs_mkdir_p(c->tmp_root, 0700, err) < 0 || fs_mkdir_p(cache, 0700, err) < 0)
		return -1;
	/* step dirs come and go by the thousand files: spread them (fs.h) */
	{
		_cleanup_close_ int tmpfd = open(c->tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tmpfd >= 0)
			fs_mark_top_dir(tmpfd);
	}
	sweep_tmp(c->tmp_root);
	c->cache_fd = open(cache, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->cache_fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", cache);
	c->context_fd = open(c->o->context, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->context_fd < 0)
		return berth_error_set(err, errno, "context \"%s\"", c->o->context);
	return load_ignore(c, file, err);
}

static int build_all(build_ctx *c, char *const *names, char id[DIGEST_STRING_MAX], berth_error **err)
{
	unsigned n = 0;
	double t0;

	if (build_stages(c, &n, err) < 0)
		return -1;
	t0 = now_s();
	progress(c, "#%u exporting to image\n", ++n);
	if (write_image(c, &c->stages[c->plan->target], names, id, err) < 0)
		return -1;
	progress(c, "#%u writing image %s done\n", n, id);
	for (size_t i = 0; names[i]; i++)
		progress(c, "#%u naming to %s done\n", n, names[i]);
	progress(c, "#%u DONE %.1fs\n", n, now_s() - t0);
	return 0;
}

int build_image(store *s, const build_options *o, char id[DIGEST_STRING_MAX], berth_error **err)
{
	_cleanup_free_ char *file = NULL, *text = NULL, *platform = NULL;
	_cleanup_strv_ char **names = NULL;
	build_ctx c = { .s = s, .o = o, .context_fd = -EBADF, .cache_fd = -EBADF };
	oci_platform host = { 0 };
	store *lock = NULL;
	output_spec output = { 0 };
	build_plan plan;
	df_file f;
	size_t len;
	int ret;

	c.out = o->quiet ? NULL : (o->progress ? o->progress : stderr);
	/* parse, validate and plan before anything is run */
	if (find_file(o, &file, err) < 0 || fs_read_file(file, &text, &len, err) < 0)
		return -1;
	if (df_parse(basename(file), text, len, &f, err) < 0)
		return -1;
	if (platform_parse(NULL, &host, err) < 0 || (platform = platform_string(&host)) == NULL) {
		platform_free(&host);
		df_file_free(&f);
		return berth_error_set(err, ENOMEM, "platform");
	}
	platform_free(&host);
	if (build_plan_make(&f, o->build_args, o->target, platform, &plan, err) < 0) {
		df_file_free(&f);
		return -1;
	}
	c.plan = &plan;
	ret = normalize_tags(o->tags, &names, err);
	if (ret == 0 && f.syntax)
		progress(&c, "#0 NOTE: \"# syntax=%s\" is ignored: berth parses the file itself\n", f.syntax);
	for (size_t i = 0; ret == 0 && plan.unused_args[i]; i++)
		progress(&c, "#0 WARNING: build argument %s is not consumed by any ARG\n", plan.unused_args[i]);
	if (ret == 0)
		ret = build_parse_output(o->output, &output, err);
	if (ret == 0)
		ret = build_parse_secrets(&c, err);
	if (ret == 0)
		ret = open_dirs(&c, file, err);
	if (ret == 0)
		ret = build_make_secrets_dir(&c, err);
	/* a second handle's gc lock, held shared for the whole build: prune
	 * waits until the layers written here are named */
	if (ret == 0)
		ret = store_open(store_root(s), &lock, err);
	if (ret == 0)
		ret = store_gc_lock(lock, false, err);
	if (ret == 0) {
		c.runtime = runtime_default_path();
		c.stages = calloc(plan.n_stages, sizeof(stage_state));
		if (c.runtime == NULL || c.stages == NULL)
			ret = berth_error_set(err, ENOMEM, "build");
	}
	if (ret == 0)
		ret = build_all(&c, names, id, err);
	if (ret == 0 && output.kind != OUTPUT_NONE) {
		progress(&c, "#0 writing the output to %s\n", output.dest);
		ret = build_write_output(&c, &output, names, id, err);
	}
	free(output.dest);
	if (ret == 0 && o->iidfile) {
		FILE *fp = fopen(o->iidfile, "we");
		if (fp == NULL || fputs(id, fp) < 0 || fclose(fp) != 0)
			ret = berth_error_set(err, errno, "--iidfile \"%s\"", o->iidfile);
	}
	for (size_t i = 0; c.stages && i < plan.n_stages; i++)
		stage_free(&c.stages[i]);
	free(c.stages);
	free(c.runtime);
	build_free_secrets(&c);
	free(c.tmp_root);
	build_ignore_free(c.ignore);
	if (c.context_fd >= 0)
		close(c.context_fd);
	if (c.cache_fd >= 0)
		close(c.cache_fd);
	if (lock)
		store_close(lock);
	build_plan_free(&plan);
	df_file_free(&f);
	return ret;
}
