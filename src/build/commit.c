#include "build/commit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "build/dockerfile.h"
#include "build/executor_internal.h"
#include "build/layer.h"
#include "build/plan.h"
#include "build/strv.h"
#include "engine/container.h"
#include "engine/copy.h"
#include "engine/userns.h"
#include "image/images.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* The mount destinations of C's bundle, without the leading "/": the
 * runtime's mount points, left out of diff and commit. */
static char **mount_points(const container *c)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *file = NULL;
	char **out = calloc(1, sizeof(char *));
	json_t *cfg, *m;
	size_t i;

	if (out == NULL || bundle == NULL || (file = fs_path_join(bundle, "config.json")) == NULL)
		return out;
	cfg = json_load_file(file, 0, NULL);
	json_array_foreach(json_object_get(cfg, "mounts"), i, m) {
		const char *d = json_string_value(json_object_get(m, "destination"));
		_cleanup_free_ char *clean = NULL;
		size_t len;
		if (d == NULL)
			continue;
		while (*d == '/')
			d++;
		clean = strdup(d);
		len = clean ? strlen(clean) : 0;
		while (len > 0 && clean[len - 1] == '/')
			clean[--len] = '\0';
		if (len > 0)
			build_strv_add(&out, clean, (size_t)-1);
	}
	json_decref(cfg);
	return out;
}

static bool excluded(char *const *mounts, const char *path)
{
	for (size_t i = 0; mounts && mounts[i]; i++) {
		size_t n = strlen(mounts[i]);
		if (strncmp(path, mounts[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

/* ---- diff ---- */

typedef struct diff_walk {
	int *lowers; /* the image's snapshots, top first */
	size_t n_lowers;
	char **mounts;
	json_t *changes;
} diff_walk;

/* Whether the image (its snapshots) has PATH: the topmost layer that has
 * it or a whiteout of it decides. */
static bool lower_has(const diff_walk *w, const char *path)
{
	for (size_t i = 0; i < w->n_lowers; i++) {
		berth_error *ignored = NULL;
		_cleanup_close_ int fd = fs_open_in_root(w->lowers[i], path, O_PATH | O_CLOEXEC, 0, false, &ignored);
		struct stat st;
		berth_error_free(&ignored);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
			return false; /* deleted there */
		return true;
	}
	return false;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The changes below DIR; *ONLY_MOUNTS is set when DIR has entries and
 * every one is a mount point of the container (or holds only those). */
static int diff_dir(diff_walk *w, int dirfd, const char *dir, bool *only_mounts, berth_error **err)
{
	size_t seen = 0, mounts = 0;
	_cleanup_strv_ char **names = calloc(1, sizeof(char *));
	_cleanup_closedir_ DIR *d = NULL;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;

	if (fd < 0 || names == NULL || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return berth_error_set(err, errno ? errno : ENOMEM, "diff: read \"/%s\"", dir);
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    build_strv_add(&names, de->d_name, (size_t)-1) < 0)
			return berth_error_set(err, ENOMEM, "diff");
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *path = NULL, *abs = NULL;
		struct stat st;
		int kind;
		if (asprintf(&path, "%s%s%s", dir, dir[0] ? "/" : "", names[i]) < 0 || asprintf(&abs, "/%s", path) < 0)
			return berth_error_set(err, ENOMEM, "diff");
		seen++;
		if (excluded(w->mounts, path)) {
			mounts++;
			continue;
		}
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
			kind = CHANGE_DELETED;
		else
			kind = lower_has(w, path) ? CHANGE_MODIFIED : CHANGE_ADDED;
		json_array_append_new(w->changes, json_pack("{s:s, s:i}", "Path", abs, "Kind", kind));
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub =
			    openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			size_t at = json_array_size(w->changes) - 1;
			bool sub_mounts = false;
			if (sub < 0)
				return berth_error_set(err, errno, "diff: open \"%s\"", abs);
			if (diff_dir(w, sub, path, &sub_mounts, err) < 0)
				return -1;
			/* a directory in the upper layer only for the runtime's
			 * mount points (/etc for /etc/hosts): docker keeps those in
			 * its init layer, so it is no change */
			if (sub_mounts) {
				json_array_remove(w->changes, at);
				mounts++;
			}
		}
	}
	*only_mounts = seen > 0 && mounts == seen;
	return 0;
}

static int sort_changes(json_t *changes)
{
	size_t n = json_array_size(changes);
	_cleanup_free_ char **paths = calloc(n + 1, sizeof(char *));
	json_t *sorted = json_array(), *e;
	size_t i;

	if (paths == NULL || sorted == NULL) {
		json_decref(sorted);
		return -ENOMEM;
	}
	json_array_foreach(changes, i, e) {
		paths[i] = (char *)json_string_value(json_object_get(e, "Path"));
	}
	qsort(paths, n, sizeof(char *), compare_strings);
	for (size_t k = 0; k < n; k++)
		json_array_foreach(changes, i, e) {
			if (json_string_value(json_object_get(e, "Path")) == paths[k]) {
				json_array_append(sorted, e);
				break;
			}
		}
	json_array_clear(changes);
	json_array_extend(changes, sorted);
	json_decref(sorted);
	return 0;
}

/* The upper dir of C's rootfs, opened. */
static int open_upper(const container *c, berth_error **err)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *upper = NULL;
	int fd;

	if (bundle == NULL || (upper = fs_path_join(bundle, "upper")) == NULL)
		return berth_error_set(err, ENOMEM, "container %s", c->name);
	fd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "container %s: open \"%s\"", c->name, upper);
	return fd;
}

int build_container_diff(store *s, const container *c, json_t **out, berth_error **err)
{
	const char *image = record_config_string(c, "ImageId");
	_cleanup_close_ int upper = -EBADF;
	_cleanup_strv_ char **chains = NULL;
	diff_walk w = { 0 };
	bool only_mounts = false;
	image_info info;
	int ret;

	*out = NULL;
	if (image == NULL || image_resolve(s, image, &info, err) < 0)
		return image ? berth_error_wrap(err, "container %s", c->name)
			     : berth_error_set(err, EINVAL, "container %s: no image", c->name);
	chains = storage_image_chain_ids(&info);
	w.n_lowers = info.config.n_diff_ids;
	image_info_free(&info);
	if ((upper = open_upper(c, err)) < 0)
		return -1;
	w.lowers = calloc(w.n_lowers + 1, sizeof(int));
	w.mounts = mount_points(c);
	w.changes = json_array();
	if (chains == NULL || w.lowers == NULL || w.mounts == NULL || w.changes == NULL)
		ret = berth_error_set(err, ENOMEM, "diff");
	else
		ret = 0;
	for (size_t i = 0; ret == 0 && i < w.n_lowers; i++) {
		_cleanup_free_ char *snap = store_snapshot_path(s, chains[w.n_lowers - 1 - i]);
		/* a layer not unpacked (yet) has nothing to say */
		w.lowers[i] = snap ? open(snap, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	}
	if (ret == 0)
		ret = diff_dir(&w, upper, "", &only_mounts, err);
	if (ret == 0 && sort_changes(w.changes) < 0)
		ret = berth_error_set(err, ENOMEM, "diff");
	for (size_t i = 0; w.lowers && i < w.n_lowers; i++)
		if (w.lowers[i] >= 0)
			close(w.lowers[i]);
	free(w.lowers);
	strv_free(w.mounts);
	if (ret == 0)
		*out = move_ptr(w.changes);
	json_decref(w.changes);
	return ret;
}

/* ---- commit ---- */

static const df_kind commit_kinds[] = { DF_CMD,	 DF_ENTRYPOINT, DF_ENV,	   DF_LABEL,	  DF_EXPOSE,
					DF_USER, DF_WORKDIR,	DF_VOLUME, DF_STOPSIGNAL, DF_ONBUILD };

/* O's changes as one Containerfile ("FROM scratch" and the changes). */
static int parse_changes(const build_commit_options *o, df_file *f, berth_error **err)
{
	_cleanup_free_ char *text = strdup("FROM scratch\n");
	size_t n = 0;

	for (size_t i = 0; text && o->changes && o->changes[i]; i++) {
		char *more = NULL;
		if (strchr(o->changes[i], '\n'))
			return berth_error_request(err, EINVAL, "--change \"%s\": one instruction per --change",
						   o->changes[i]);
		if (asprintf(&more, "%s%s\n", text, o->changes[i]) < 0)
			more = NULL;
		free(text);
		text = more;
		n++;
	}
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "commit");
	if (df_parse("--change", text, strlen(text), f, err) < 0)
		return -1;
	for (size_t i = 0; i < f->stages[0].n_steps; i++) {
		const df_instruction *in = &f->stages[0].steps[i];
		bool ok = false;
		for (size_t k = 0; k < sizeof(commit_kinds) / sizeof(commit_kinds[0]); k++)
			ok = ok || in->kind == commit_kinds[k];
		if (!ok) {
			berth_error_request(err, EINVAL,
					    "--change \"%s\": %s is not allowed (CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, "
					    "USER, WORKDIR, VOLUME, STOPSIGNAL, ONBUILD)",
					    in->original, df_kind_name(in->kind));
			df_file_free(f);
			return -1;
		}
	}
	if (f->n_stages != 1 || f->stages[0].n_steps != n) {
		df_file_free(f);
		return berth_error_request(err, EINVAL, "--change: FROM is not allowed");
	}
	return 0;
}

/* docker's strslice: an array of strings, a string (one word), or null */
static bool is_strslice(const json_t *v)
{
	const json_t *e;
	size_t i;

	if (v == NULL || json_is_null(v) || json_is_string(v))
		return true;
	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return false;
	}
	return true;
}

static bool is_string_map(const json_t *v, bool values_are_strings)
{
	const char *k;
	const json_t *e;

	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_object(v))
		return false;
	json_object_foreach((json_t *)v, k, e) {
		if (values_are_strings && !json_is_string(e))
			return false;
	}
	return true;
}

static int validate_config(const json_t *cfg, berth_error **err)
{
	static const char *const strings[] = { "User", "WorkingDir", "StopSignal" };
	static const char *const slices[] = { "Cmd", "Entrypoint", "Env" };
	const json_t *v;

	if (cfg == NULL || json_is_null(cfg))
		return 0;
	if (!json_is_object(cfg))
		return berth_error_request(err, EINVAL, "commit: the config must be a JSON object");
	for (size_t i = 0; i < 3; i++) {
		v = json_object_get(cfg, strings[i]);
		if (v && !json_is_null(v) && !json_is_string(v))
			return berth_error_request(err, EINVAL, "commit: config.%s: not a string", strings[i]);
		v = json_object_get(cfg, slices[i]);
		if (!is_strslice(v) || (i == 2 && json_is_string(v)))
			return berth_error_request(err, EINVAL, "commit: config.%s: not a list of strings", slices[i]);
	}
	if (!is_string_map(json_object_get(cfg, "Labels"), true))
		return berth_error_request(err, EINVAL, "commit: config.Labels: not an object of strings");
	if (!is_string_map(json_object_get(cfg, "ExposedPorts"), false))
		return berth_error_request(err, EINVAL, "commit: config.ExposedPorts: not an object");
	if (!is_string_map(json_object_get(cfg, "Volumes"), false))
		return berth_error_request(err, EINVAL, "commit: config.Volumes: not an object");
	return 0;
}

int build_commit_validate(const build_commit_options *o, berth_error **err)
{
	df_file f;

	if (validate_config(o->config, err) < 0)
		return -1;

	if (o->reference) {
		image_ref ref;
		if (image_ref_parse(o->reference, &ref, err) < 0)
			return berth_error_wrap(err, "commit: \"%s\"", o->reference);
		image_ref_free(&ref);
	}
	if (parse_changes(o, &f, err) < 0)
		return -1;
	df_file_free(&f);
	return 0;
}

/* KEY's entry in ENV ("KEY=VALUE"), or NULL. */
static json_t *env_find(json_t *env, const char *key, size_t klen)
{
	json_t *e;
	size_t i;

	json_array_foreach(env, i, e) {
		const char *o = json_string_value(e);
		if (o && strncmp(o, key, klen) == 0 && o[klen] == '=')
			return e;
	}
	return NULL;
}

/* KEY=VALUE entries of ADD replace those of ENV with the same key; a bare
 * KEY (`-e KEY`, taken from berth's environment at create) is the value
 * the container got, from RESOLVED (its bundle's process.env). */
static void env_merge(json_t *env, json_t *add, json_t *resolved)
{
	json_t *e, *old;
	size_t i, k;

	json_array_foreach(add, i, e) {
		const char *kv = json_string_value(e);
		size_t klen = kv ? strcspn(kv, "=") : 0;
		bool replaced = false;
		if (kv == NULL)
			continue;
		if (kv[klen] != '=' && (e = env_find(resolved, kv, klen)) == NULL)
			continue;
		json_array_foreach(env, k, old) {
			const char *o = json_string_value(old);
			if (o && strncmp(o, kv, klen) == 0 && (o[klen] == '=' || o[klen] == '\0')) {
				json_array_set(env, k, e);
				replaced = true;
				break;
			}
		}
		if (!replaced)
			json_array_append(env, e);
	}
}

/* The container's own settings over its image's (docker's commit). */
static void apply_container(json_t *cfg, const container *c)
{
	json_t *cmd = json_object_get(c->config, "Cmd"), *ep = json_object_get(c->config, "Entrypoint");
	json_t *env = json_object_get(cfg, "Env"), *labels = json_object_get(c->config, "Labels");
	const char *user = record_config_string(c, "User");
	_cleanup_free_ char *bundle = NULL, *file = NULL;
	json_auto_t *spec = NULL;

	if (json_is_array(ep))
		json_object_set(cfg, "Entrypoint", ep);
	if (json_is_array(cmd) && json_array_size(cmd) > 0)
		json_object_set(cfg, "Cmd", cmd);
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(cfg, "Env", env);
	}
	bundle = engine_container_bundle(c);
	file = bundle ? fs_path_join(bundle, "config.json") : NULL;
	spec = file ? json_load_file(file, 0, NULL) : NULL;
	env_merge(env, json_object_get(c->config, "Env"), json_object_get(json_object_get(spec, "process"), "env"));
	if (json_is_object(labels) && json_object_size(labels) > 0) {
		json_t *l = json_object_get(cfg, "Labels");
		if (!json_is_object(l)) {
			l = json_object();
			json_object_set_new(cfg, "Labels", l);
		}
		json_object_update(l, labels);
	}
	if (user && user[0])
		json_object_set_new(cfg, "User", json_string(user));
}

/* V (a validated strslice) as an array, or NULL when empty. */
static json_t *strslice_array(const json_t *v)
{
	if (json_is_string(v))
		return json_pack("[O]", v);
	if (json_is_array(v) && json_array_size(v) > 0)
		return json_copy((json_t *)v);
	return NULL;
}

/* The keys of ADD (an object) added to CFG's object KEY. */
static void object_add(json_t *cfg, const char *key, const json_t *add)
{
	json_t *to = json_object_get(cfg, key);

	if (!json_is_object(add) || json_object_size(add) == 0)
		return;
	if (!json_is_object(to)) {
		to = json_object();
		json_object_set_new(cfg, key, to);
	}
	json_object_update(to, (json_t *)add);
}

/* POST /commit's config over the container's (docker's merge): an
 * Entrypoint given without a Cmd leaves no Cmd. */
static void apply_config(json_t *cfg, const json_t *body)
{
	static const char *const strings[] = { "User", "WorkingDir", "StopSignal" };
	json_t *cmd = strslice_array(json_object_get(body, "Cmd"));
	json_t *ep = strslice_array(json_object_get(body, "Entrypoint"));
	json_t *env = json_object_get(body, "Env");

	if (ep) {
		json_object_set_new(cfg, "Entrypoint", ep);
		if (cmd == NULL)
			json_object_del(cfg, "Cmd");
	}
	if (cmd)
		json_object_set_new(cfg, "Cmd", cmd);
	if (json_is_array(env) && json_array_size(env) > 0) {
		json_t *to = json_object_get(cfg, "Env");
		if (!json_is_array(to)) {
			to = json_array();
			json_object_set_new(cfg, "Env", to);
		}
		env_merge(to, env, NULL);
	}
	object_add(cfg, "Labels", json_object_get(body, "Labels"));
	object_add(cfg, "ExposedPorts", json_object_get(body, "ExposedPorts"));
	object_add(cfg, "Volumes", json_object_get(body, "Volumes"));
	for (size_t i = 0; i < 3; i++) {
		const char *v = json_string_value(json_object_get(body, strings[i]));
		if (v && v[0])
			json_object_set_new(cfg, strings[i], json_string(v));
	}
}

static int apply_changes(const build_commit_options *o, stage_state *si, berth_error **err)
{
	json_t *cfg = stage_config(si);
	_cleanup_free_ char **env = calloc(json_array_size(json_object_get(cfg, "Env")) + 1, sizeof(char *));
	_cleanup_free_ char *platform = NULL;
	oci_platform host = { 0 };
	build_scope scope;
	build_plan plan;
	df_file f;
	json_t *e;
	size_t i;
	int ret = 0;

	if (env == NULL)
		return berth_error_set(err, ENOMEM, "commit");
	json_array_foreach(json_object_get(cfg, "Env"), i, e) {
		env[i] = (char *)json_string_value(e);
	}
	if (platform_parse(NULL, &host, err) < 0)
		return -1;
	platform = platform_string(&host);
	platform_free(&host);
	if (platform == NULL)
		return berth_error_set(err, ENOMEM, "platform");
	if (parse_changes(o, &f, err) < 0)
		return -1;
	if (build_plan_make(&f, NULL, NULL, platform, &plan, err) < 0) {
		df_file_free(&f);
		return -1;
	}
	if (build_scope_init(&scope, env, err) < 0) {
		build_plan_free(&plan);
		df_file_free(&f);
		return -1;
	}
	for (size_t k = 0; ret == 0 && k < f.stages[0].n_steps; k++) {
		build_step st;
		ret = build_step_eval(&plan, &f.stages[0].steps[k], &scope, &st, err);
		if (ret == 0) {
			ret = build_apply_config(si, &scope, &st, err);
			build_step_free(&st);
		}
		if (ret < 0)
			berth_error_wrap(err, "--change \"%s\"", f.stages[0].steps[k].original);
	}
	build_scope_free(&scope);
	build_plan_free(&plan);
	df_file_free(&f);
	return ret;
}

/* "sh -c echo hi": the container's entrypoint and command (docker's history
 * of a commit). */
static char *command_line(const container *c)
{
	char *out = strdup("");
	const char *keys[] = { "Entrypoint", "Cmd" };

	for (size_t k = 0; out && k < 2; k++) {
		json_t *a = json_object_get(c->config, keys[k]), *e;
		size_t i;
		json_array_foreach(a, i, e) {
			char *more = NULL;
			if (asprintf(&more, "%s%s%s", out, out[0] ? " " : "", json_string_value(e) ?: "") < 0)
				more = NULL;
			free(out);
			out = more;
			if (out == NULL)
				break;
		}
	}
	return out;
}

/* The new image's config and manifest into the store, named NAME. */
static int write_image(store *s, json_t *image, json_t *layers, const char *name, char id[DIGEST_STRING_MAX],
		       berth_error **err)
{
	_cleanup_free_ char *config_text = json_dumps(image, JSON_COMPACT), *manifest_text = NULL;
	json_auto_t *manifest = NULL;
	char manifest_digest[DIGEST_STRING_MAX];

	if (config_text == NULL)
		return berth_error_set(err, ENOMEM, "image config");
	if (store_blob_put(s, config_text, strlen(config_text), NULL, id, err) < 0)
		return -1;
	manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType", MEDIA_OCI_MANIFEST,
			     "config", "mediaType", MEDIA_OCI_CONFIG, "digest", id, "size",
			     (json_int_t)strlen(config_text), "layers", layers);
	manifest_text = manifest ? json_dumps(manifest, JSON_COMPACT) : NULL;
	if (manifest_text == NULL)
		return berth_error_set(err, ENOMEM, "manifest");
	if (store_blob_put(s, manifest_text, strlen(manifest_text), NULL, manifest_digest, err) < 0)
		return -1;
	return store_ref_set(s, name, manifest_digest, MEDIA_OCI_MANIFEST, (int64_t)strlen(manifest_text), err);
}

/* C's changes as a layer (C paused meanwhile when O says so). */
static int commit_layer(const engine_paths *p, store *s, container *c, const build_commit_options *o,
			build_layer *layer, berth_error **err)
{
	_cleanup_strv_ char **mounts = mount_points(c);
	_cleanup_close_ int upper = open_upper(c, err);
	bool paused = false;
	int ret;

	if (upper < 0)
		return -1;
	if (o->pause && strcmp(c->state.status, "running") == 0 && record_monitor_alive(c)) {
		if (engine_container_pause(p, c, true, err) < 0)
			return berth_error_wrap(err, "commit: pause");
		paused = true;
	}
	ret = build_layer_write_excluding(s, upper, engine_rootless(), -1, mounts, layer, err);
	if (paused) {
		berth_error *resume_err = NULL;
		if (engine_container_pause(p, c, false, &resume_err) < 0) {
			if (ret == 0) {
				*err = resume_err;
				ret = berth_error_wrap(err, "commit: unpause");
			} else {
				berth_error_free(&resume_err);
			}
		}
	}
	return ret;
}

int build_commit(const engine_paths *p, store *s, container *c, const build_commit_options *o,
		 char id[DIGEST_STRING_MAX], berth_error **err)
{
	const char *image = record_config_string(c, "ImageId");
	_cleanup_free_ char *text = NULL, *created_by = NULL, *name = NULL;
	stage_state si = { 0 };
	build_layer layer;
	image_info info;
	char created[64];
	size_t len;
	int ret;

	if (build_commit_validate(o, err) < 0)
		return -1;
	if (o->reference) {
		image_ref ref;
		if (image_ref_parse(o->reference, &ref, err) < 0)
			return -1;
		name = image_ref_name(&ref);
		image_ref_free(&ref);
		if (name == NULL)
			return berth_error_set(err, ENOMEM, "commit");
	}
	if (image == NULL)
		return berth_error_set(err, EINVAL, "commit %s: the container has no image", c->name);
	/* a prune waits until the new blobs are named */
	if (store_gc_lock(s, false, err) < 0)
		return -1;
	ret = image_resolve(s, image, &info, err);
	if (ret == 0) {
		ret = store_blob_read(s, info.id, MANIFEST_MAX_SIZE, &text, &len, err);
		si.image = ret == 0 ? json_loadb(text, len, 0, NULL) : NULL;
		si.layers = json_array();
		for (size_t i = 0; si.layers && i < info.manifest.n_layers; i++)
			json_array_append_new(si.layers, oci_descriptor_to_json(&info.manifest.layers[i]));
		image_info_free(&info);
		if (ret == 0 && (!json_is_object(si.image) || si.layers == NULL))
			ret = berth_error_set(err, EINVAL, "image %s: bad config", image);
	}
	if (ret == 0) {
		apply_container(stage_config(&si), c);
		if (json_is_object(o->config))
			apply_config(stage_config(&si), o->config);
		ret = apply_changes(o, &si, err);
	}
	if (ret == 0)
		ret = commit_layer(p, s, c, o, &layer, err);
	if (ret == 0) {
		json_t *rootfs = json_object_get(si.image, "rootfs"), *hist = json_object_get(si.image, "history");
		json_t *h;
		created_by = command_line(c);
		engine_now_rfc3339(created);
		if (!json_is_object(rootfs)) {
			rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
			json_object_set_new(si.image, "rootfs", rootfs);
		}
		json_array_append_new(json_object_get(rootfs, "diff_ids"), json_string(layer.diff_id));
		json_array_append_new(si.layers, json_pack("{s:s, s:s, s:I}", "mediaType", MEDIA_OCI_LAYER_GZIP,
							   "digest", layer.digest, "size", (json_int_t)layer.size));
		if (!json_is_array(hist)) {
			hist = json_array();
			json_object_set_new(si.image, "history", hist);
		}
		h = json_pack("{s:s, s:s}", "created", created, "created_by", created_by ?: "");
		if (o->comment && o->comment[0])
			json_object_set_new(h, "comment", json_string(o->comment));
		if (o->author && o->author[0]) {
			json_object_set_new(h, "author", json_string(o->author));
			json_object_set_new(si.image, "author", json_string(o->author));
		}
		json_array_append_new(hist, h);
		json_object_set_new(si.image, "created", json_string(created));
		ret = write_image(s, si.image, si.layers, name, id, err);
	}
	store_gc_unlock(s);
	json_decref(si.image);
	json_decref(si.layers);
	if (ret < 0)
		return berth_error_wrap(err, "commit %s", c->name);
	return 0;
}

/* ---- export ---- */

int build_container_export(const container *c, int out_fd, berth_error **err)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *rootfs = NULL;
	_cleanup_close_ int path_fd = -EBADF, fd = -EBADF;

	if (bundle == NULL || (rootfs = fs_path_join(bundle, "rootfs")) == NULL)
		return berth_error_set(err, ENOMEM, "export %s", c->name);
	/* a mount point, so that an unmounted rootfs is an error, not an empty tar */
	path_fd = copy_open_rootfs(rootfs, err);
	if (path_fd < 0)
		return berth_error_wrap(err, "export %s", c->name);
	fd = openat(path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "export %s: open \"%s\"", c->name, rootfs);
	if (build_tree_tar(fd, out_fd, err) < 0)
		return berth_error_wrap(err, "export %s", c->name);
	return 0;
}
