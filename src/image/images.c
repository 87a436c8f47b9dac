#include "image/images.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/reference.h"
#include "image/trust.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define _cleanup_refs_ __attribute__((cleanup(store_refs_free)))

static int add_name(char ***names, const char *name)
{
	size_t n = 0;
	char **grown;

	while (*names && (*names)[n])
		n++;
	grown = realloc(*names, (n + 2) * sizeof(char *));
	if (grown == NULL)
		return -ENOMEM;
	*names = grown;
	grown[n + 1] = NULL;
	if ((grown[n] = strdup(name)) == NULL)
		return -ENOMEM;
	return 0;
}

static int load_info(store *s, const store_refs *refs, const char *manifest_digest, image_info *out, berth_error **err)
{
	_cleanup_free_ char *mbody = NULL, *cbody = NULL;
	size_t mlen, clen;

	memset(out, 0, sizeof(*out));
	if (store_blob_read(s, manifest_digest, MANIFEST_MAX_SIZE, &mbody, &mlen, err) < 0 ||
	    manifest_parse(mbody, mlen, &out->manifest, err) < 0)
		goto fail;
	if (store_blob_read(s, out->manifest.config.digest, MANIFEST_MAX_SIZE, &cbody, &clen, err) < 0 ||
	    image_config_parse(cbody, clen, &out->config, err) < 0)
		goto fail;
	out->manifest_digest = strdup(manifest_digest);
	out->manifest_media_type = strdup(out->manifest.media_type);
	out->manifest_size = (int64_t)mlen;
	out->id = strdup(out->manifest.config.digest);
	out->names = calloc(1, sizeof(char *));
	if (!out->manifest_digest || !out->manifest_media_type || !out->id || !out->names) {
		berth_error_set(err, ENOMEM, "image");
		goto fail;
	}
	for (size_t i = 0; i < refs->n; i++)
		if (refs->refs[i].name && strcmp(refs->refs[i].digest, manifest_digest) == 0 &&
		    add_name(&out->names, refs->refs[i].name) < 0) {
			berth_error_set(err, ENOMEM, "image");
			goto fail;
		}
	for (size_t i = 0; i < out->manifest.n_layers; i++)
		out->size += out->manifest.layers[i].size;
	return 0;
fail:
	berth_error_wrap(err, "image %s", manifest_digest);
	image_info_free(out);
	return -1;
}

int image_load_info(store *s, const char *manifest_digest, image_info *out, berth_error **err)
{
	_cleanup_refs_ store_refs refs = { 0 };

	if (store_refs_load(s, &refs, err) < 0)
		return -1;
	return load_info(s, &refs, manifest_digest, out, err);
}

void image_info_free(image_info *info)
{
	free(info->manifest_digest);
	free(info->manifest_media_type);
	free(info->id);
	strv_free(info->names);
	image_manifest_free(&info->manifest);
	image_config_free(&info->config);
	memset(info, 0, sizeof(*info));
}

static bool is_hex_prefix(const char *t)
{
	size_t n = strlen(t);

	if (n < 3 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)t[i]) || isupper((unsigned char)t[i]))
			return false;
	return true;
}

static const char *find_name(const store_refs *refs, const char *name)
{
	for (size_t i = 0; i < refs->n; i++)
		if (refs->refs[i].name && strcmp(refs->refs[i].name, name) == 0)
			return refs->refs[i].digest;
	return NULL;
}

/* The manifest digest a name as typed refers to, or NULL. */
static const char *resolve_name(const store_refs *refs, const char *text)
{
	image_ref ref;
	berth_error *ignored = NULL;
	const char *found = NULL;
	_cleanup_free_ char *name = NULL, *repo = NULL, *local = NULL;

	if (image_ref_parse(text, &ref, &ignored) < 0) {
		berth_error_free(&ignored);
		return NULL;
	}
	name = image_ref_name(&ref);
	repo = image_ref_repository(&ref);
	if (name)
		found = find_name(refs, name);
	if (found && ref.digest && strcmp(found, ref.digest) != 0)
		found = NULL; /* "name:tag@digest" must agree */
	if (!found && ref.digest) {
		/* "repo@sha256:..." matches any name of that repository with that digest */
		for (size_t i = 0; repo && i < refs->n && !found; i++) {
			const char *n = refs->refs[i].name;
			size_t l = strlen(repo);
			if (n && strcmp(refs->refs[i].digest, ref.digest) == 0 && strncmp(n, repo, l) == 0 &&
			    (n[l] == ':' || n[l] == '@'))
				found = refs->refs[i].digest;
		}
	}
	/* a short name ("app:1") also finds images loaded or built as localhost/app:1 */
	if (!found && strcmp(ref.domain, "docker.io") == 0 && strchr(text, '/') == NULL) {
		const char *path = strncmp(ref.path, "library/", 8) == 0 ? ref.path + 8 : ref.path;
		if (ref.tag && asprintf(&local, "localhost/%s:%s", path, ref.tag) >= 0)
			found = find_name(refs, local);
	}
	image_ref_free(&ref);
	return found;
}

int image_resolve(store *s, const char *text, image_info *out, berth_error **err)
{
	_cleanup_refs_ store_refs refs = { 0 };
	const char *digest, *prefix = text;
	const char *match = NULL;

	if (store_refs_load(s, &refs, err) < 0)
		return -1;
	digest = resolve_name(&refs, text);
	if (digest)
		return load_info(s, &refs, digest, out, err);
	if (strncmp(prefix, "sha256:", 7) == 0)
		prefix += 7;
	if (is_hex_prefix(prefix)) {
		size_t l = strlen(prefix);
		for (size_t i = 0; i < refs.n; i++) {
			image_info info;
			berth_error *ignored = NULL;
			bool hit = strncmp(digest_hex(refs.refs[i].digest), prefix, l) == 0;
			if (!hit && load_info(s, &refs, refs.refs[i].digest, &info, &ignored) == 0) {
				hit = strncmp(digest_hex(info.id), prefix, l) == 0;
				image_info_free(&info);
			}
			berth_error_free(&ignored);
			if (!hit)
				continue;
			if (match && strcmp(match, refs.refs[i].digest) != 0)
				return berth_error_set(err, EINVAL,
						       "image id \"%s\" is ambiguous: more than one image "
						       "starts with it",
						       text);
			match = refs.refs[i].digest;
		}
		if (match)
			return load_info(s, &refs, match, out, err);
	}
	return berth_error_set(err, 0, "image \"%s\" not known (berth image ls lists them; berth pull gets one)", text);
}

int image_list(store *s, image_info **out, size_t *n, berth_error **err)
{
	_cleanup_refs_ store_refs refs = { 0 };
	image_info *list;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (store_refs_load(s, &refs, err) < 0)
		return -1;
	list = calloc(refs.n + 1, sizeof(image_info));
	if (list == NULL)
		return berth_error_set(err, ENOMEM, "image list");
	for (size_t i = 0; i < refs.n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(refs.refs[j].digest, refs.refs[i].digest) == 0;
		if (seen)
			continue;
		berth_error *e = NULL;
		if (load_info(s, &refs, refs.refs[i].digest, &list[count], &e) < 0) {
			/* one broken image must not hide the others */
			berth_log(BERTH_LOG_WARNING, "%s", e->msg);
			berth_error_free(&e);
			continue;
		}
		count++;
	}
	*out = list;
	*n = count;
	return 0;
}

void image_list_free(image_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		image_info_free(&list[i]);
	free(list);
}

static int unpack_one(store *s, const oci_descriptor *layer, const char *diff_id, const char *chain_id,
		      const unpack_options *opts, berth_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int blob = -EBADF, dir = -EBADF;
	unpack_result res = { 0 };

	if (!layer_media_type_supported(layer->media_type))
		return berth_error_set(err, ENOTSUP, "layer %s: unsupported media type \"%s\"", layer->digest,
				       layer->media_type);
	blob = store_blob_open(s, layer->digest, err);
	if (blob < 0)
		return -1;
	dir = store_snapshot_begin(s, &tmp, err);
	if (dir < 0)
		return -1;
	if (layer_unpack(blob, dir, opts, &res, err) < 0) {
		store_snapshot_abort(s, tmp);
		return berth_error_wrap(err, "unpack layer %s", layer->digest);
	}
	if (strcmp(res.diff_id, diff_id) != 0) {
		store_snapshot_abort(s, tmp);
		return berth_error_set(err, EBADMSG,
				       "layer %s: uncompressed content hashes to %s, but the image config says %s",
				       layer->digest, res.diff_id, diff_id);
	}
	if (store_snapshot_commit(s, tmp, chain_id, err) < 0) {
		store_snapshot_abort(s, tmp);
		return -1;
	}
	berth_debug("unpacked layer %s (%llu bytes, %llu entries) as snapshot %.19s", layer->digest,
		    (unsigned long long)res.size, (unsigned long long)res.entries, chain_id);
	return 0;
}

/* Layers unpack into snapshots of their own, so they go in parallel: a few
 * threads take the missing ones in order. */
#define UNPACK_THREADS 3

typedef struct unpack_pool {
	store *s;
	const image_info *info;
	const unpack_options *opts;
	char (*chains)[DIGEST_STRING_MAX];
	size_t *todo, n_todo;
	pthread_mutex_t lock; /* guards what follows */
	size_t next;
	size_t failed_at; /* the first layer (in image order) that failed, or n_todo */
	berth_error *err;
} unpack_pool;

static void *unpack_worker(void *arg)
{
	unpack_pool *p = arg;

	for (;;) {
		berth_error *e = NULL;
		size_t i, layer;

		pthread_mutex_lock(&p->lock);
		i = p->next++;
		pthread_mutex_unlock(&p->lock);
		if (i >= p->n_todo)
			return NULL;
		layer = p->todo[i];
		if (unpack_one(p->s, &p->info->manifest.layers[layer], p->info->config.diff_ids[layer],
			       p->chains[layer], p->opts, &e) == 0)
			continue;
		pthread_mutex_lock(&p->lock);
		if (i < p->failed_at) {
			berth_error_free(&p->err);
			p->err = move_ptr(e);
			p->failed_at = i;
		}
		p->next = p->n_todo; /* take no more */
		pthread_mutex_unlock(&p->lock);
		berth_error_free(&e);
	}
}

int image_unpack(store *s, const image_info *info, const unpack_options *opts, berth_error **err)
{
	const image_manifest *m = &info->manifest;
	_cleanup_free_ char(*chains)[DIGEST_STRING_MAX] = NULL;
	_cleanup_free_ size_t *todo = NULL;
	unpack_pool p = { .s = s, .info = info, .opts = opts };
	pthread_t threads[UNPACK_THREADS];
	size_t n_threads = 0;

	if (m->n_layers != info->config.n_diff_ids)
		return berth_error_set(err, EINVAL, "image %s: %zu layers but %zu diff_ids in its config", info->id,
				       m->n_layers, info->config.n_diff_ids);
	if (m->n_layers == 0)
		return 0;
	chains = calloc(m->n_layers, DIGEST_STRING_MAX);
	todo = calloc(m->n_layers, sizeof(*todo));
	if (chains == NULL || todo == NULL)
		return berth_error_set(err, ENOMEM, "image");
	image_chain_ids(info->config.diff_ids, m->n_layers, chains);
	for (size_t i = 0; i < m->n_layers; i++)
		if (!store_snapshot_exists(s, chains[i]))
			todo[p.n_todo++] = i;
	p.chains = chains;
	p.todo = todo;
	p.failed_at = p.n_todo;
	pthread_mutex_init(&p.lock, NULL);
	while (n_threads + 1 < UNPACK_THREADS && n_threads + 1 < p.n_todo &&
	       pthread_create(&threads[n_threads], NULL, unpack_worker, &p) == 0)
		n_threads++;
	unpack_worker(&p); /* this thread is one of them */
	for (size_t i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (p.err) {
		berth_error_free(err);
		*err = move_ptr(p.err);
		return berth_error_wrap(err, "image %.19s", info->id);
	}
	return 0;
}

int image_tag(store *s, const char *text, const char *name, berth_error **err)
{
	image_info info;
	image_ref ref;
	_cleanup_free_ char *full = NULL;
	int ret;

	if (image_ref_parse(name, &ref, err) < 0)
		return -1;
	if (ref.digest) {
		image_ref_free(&ref);
		return berth_error_set(err, EINVAL, "tag \"%s\": a name to give cannot carry a digest", name);
	}
	full = image_ref_name(&ref);
	image_ref_free(&ref);
	if (full == NULL)
		return berth_error_set(err, ENOMEM, "tag");
	if (image_resolve(s, text, &info, err) < 0)
		return -1;
	ret = store_ref_set(s, full, info.manifest_digest, info.manifest_media_type, info.manifest_size, err);
	image_info_free(&info);
	return ret;
}

int image_remove(store *s, const char *text, bool force, char ***removed, berth_error **err)
{
	_cleanup_refs_ store_refs refs = { 0 };
	image_info info;
	const char *by_name;
	int ret = 0;

	*removed = NULL;
	if (store_refs_load(s, &refs, err) < 0 || image_resolve(s, text, &info, err) < 0)
		return -1;
	by_name = resolve_name(&refs, text);
	if (by_name && info.names[0] && info.names[1]) {
		/* one of several names: untag only */
		for (char **n = info.names; *n; n++) {
			image_ref ref;
			berth_error *ignored = NULL;
			_cleanup_free_ char *full = NULL;
			if (image_ref_parse(text, &ref, &ignored) == 0) {
				full = image_ref_name(&ref);
				image_ref_free(&ref);
			}
			berth_error_free(&ignored);
			if (full && strcmp(*n, full) == 0) {
				ret = store_ref_remove(s, *n, err);
				if (ret == 0 && add_name(removed, *n) < 0)
					ret = berth_error_set(err, ENOMEM, "rm");
				image_info_free(&info);
				return ret;
			}
		}
	}
	if (!by_name && info.names[0] && info.names[1] && !force) {
		size_t count = 0;
		while (info.names[count])
			count++;
		ret = berth_error_set(err, EBUSY,
				      "image %.12s has %zu names; remove them one by one or use --force to remove all",
				      digest_hex(info.id), count);
		image_info_free(&info);
		return ret;
	}
	ret = store_ref_remove_digest(s, info.manifest_digest, err);
	for (char **n = info.names; ret == 0 && *n; n++)
		if (add_name(removed, *n) < 0)
			ret = berth_error_set(err, ENOMEM, "rm");
	if (ret == 0 && add_name(removed, info.id) < 0)
		ret = berth_error_set(err, ENOMEM, "rm");
	image_info_free(&info);
	return ret;
}

/* ---- garbage collection ---- */

typedef struct keep_set {
	char **items;
	size_t n, cap;
} keep_set;

static int keep_add(keep_set *k, const char *digest)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		char **grown = realloc(k->items, cap * sizeof(char *));
		if (grown == NULL)
			return -ENOMEM;
		k->items = grown;
		k->cap = cap;
	}
	if ((k->items[k->n] = strdup(digest_is_valid(digest) ? digest_hex(digest) : digest)) == NULL)
		return -ENOMEM;
	k->n++;
	return 0;
}

static bool keep_has(const keep_set *k, const char *hex)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->items[i], hex) == 0)
			return true;
	return false;
}

static void keep_free(keep_set *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->items[i]);
	free(k->items);
}

static int mark(store *s, keep_set *blobs, keep_set *snaps, char *const *in_use, berth_error **err)
{
	_cleanup_refs_ store_refs refs = { 0 };

	if (store_refs_load(s, &refs, err) < 0)
		return -1;
	for (char *const *u = in_use; u && *u; u++)
		if (keep_add(snaps, *u) < 0)
			return berth_error_set(err, ENOMEM, "gc");
	for (size_t i = 0; i < refs.n; i++) {
		image_info info;
		berth_error *e = NULL;
		if (keep_add(blobs, refs.refs[i].digest) < 0)
			return berth_error_set(err, ENOMEM, "gc");
		if (load_info(s, &refs, refs.refs[i].digest, &info, &e) < 0) {
			/* keep what we cannot read rather than guess */
			berth_log(BERTH_LOG_WARNING, "gc: %s", e->msg);
			berth_error_free(&e);
			continue;
		}
		int ret = keep_add(blobs, info.id);
		for (size_t l = 0; ret == 0 && l < info.manifest.n_layers; l++)
			ret = keep_add(blobs, info.manifest.layers[l].digest);
		if (ret == 0 && info.config.n_diff_ids > 0) {
			char(*chains)[DIGEST_STRING_MAX] = calloc(info.config.n_diff_ids, DIGEST_STRING_MAX);
			if (chains == NULL)
				ret = -ENOMEM;
			else
				image_chain_ids(info.config.diff_ids, info.config.n_diff_ids, chains);
			for (size_t l = 0; ret == 0 && l < info.config.n_diff_ids; l++)
				ret = keep_add(snaps, chains[l]);
			free(chains);
		}
		image_info_free(&info);
		if (ret < 0)
			return berth_error_set(err, ENOMEM, "gc");
	}
	return 0;
}

/* Removes entries of DIRPATH not in KEEP (and any temp entry). */
static int sweep(store *s, const char *sub, const keep_set *keep, bool blobs, uint64_t *freed, size_t *removed,
		 berth_error **err)
{
	_cleanup_free_ char *path = fs_path_join(store_root(s), sub);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "gc");
	d = opendir(path);
	if (d == NULL)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "open \"%s\"", path);
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		_cleanup_free_ char *full = NULL;
		bool temp = e->d_name[0] == '.';
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (keep && !temp && keep_has(keep, e->d_name))
			continue;
		full = fs_path_join(path, e->d_name);
		if (full == NULL)
			return berth_error_set(err, ENOMEM, "gc");
		if (lstat(full, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) ? fs_remove_tree(full, err) < 0 : (unlink(full) < 0 && errno != ENOENT))
			return *err ? -1 : berth_error_set(err, errno, "remove \"%s\"", full);
		if (blobs)
			*freed += (uint64_t)st.st_size;
		/* a temp entry too: what a killed pull or import left */
		(*removed)++;
	}
	return 0;
}

/* The signatures kept with images (image/trust.h) whose manifest is gone. */
static int sweep_signatures(store *s, const keep_set *blobs, berth_error **err)
{
	_cleanup_free_ char *path = fs_path_join(store_root(s), "signatures");
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "gc");
	d = opendir(path);
	if (d == NULL)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "open \"%s\"", path);
	while ((e = readdir(d)) != NULL) {
		_cleanup_free_ char *full = NULL;
		if (e->d_name[0] == '.' || (strncmp(e->d_name, "sha256-", 7) == 0 && keep_has(blobs, e->d_name + 7)))
			continue;
		if ((full = fs_path_join(path, e->d_name)) == NULL)
			return berth_error_set(err, ENOMEM, "gc");
		if (fs_remove_tree(full, err) < 0)
			return -1;
	}
	return 0;
}

int image_gc(store *s, char *const *in_use, uint64_t *freed_bytes, size_t *removed, berth_error **err)
{
	return image_gc_keeping(s, in_use, NULL, freed_bytes, removed, err);
}

int image_gc_keeping(store *s, char *const *in_use, char *const *keep_blobs, uint64_t *freed_bytes, size_t *removed,
		     berth_error **err)
{
	keep_set blobs = { 0 }, snaps = { 0 };
	uint64_t freed = 0;
	size_t count = 0;
	int ret;

	if (store_gc_lock(s, true, err) < 0)
		return -1;
	ret = mark(s, &blobs, &snaps, in_use, err);
	for (char *const *k = keep_blobs; ret == 0 && k && *k; k++)
		if (keep_add(&blobs, *k) < 0)
			ret = berth_error_set(err, ENOMEM, "gc");
	if (ret == 0)
		ret = sweep(s, "blobs/sha256", &blobs, true, &freed, &count, err);
	if (ret == 0)
		ret = sweep(s, "snapshots", &snaps, false, &freed, &count, err);
	if (ret == 0) /* nobody writes: the gc lock is exclusive */
		ret = sweep(s, "ingest", NULL, true, &freed, &count, err);
	if (ret == 0)
		ret = sweep_signatures(s, &blobs, err);
	if (ret == 0)
		ret = trust_cache_sweep(store_root(s), err);
	store_gc_unlock(s);
	keep_free(&blobs);
	keep_free(&snaps);
	if (freed_bytes)
		*freed_bytes = freed;
	if (removed)
		*removed = count;
	return ret;
}

int image_prune(store *s, bool all, char *const *in_use, uint64_t *freed_bytes, size_t *removed, berth_error **err)
{
	return image_prune_keeping(s, all, in_use, NULL, freed_bytes, removed, err);
}

int image_prune_keeping(store *s, bool all, char *const *in_use, char *const *keep_blobs, uint64_t *freed_bytes,
			size_t *removed, berth_error **err)
{
	image_info *list = NULL;
	size_t n = 0;
	int ret;

	if (image_list(s, &list, &n, err) < 0)
		return -1;
	ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++)
		if (all || list[i].names[0] == NULL)
			ret = store_ref_remove_digest(s, list[i].manifest_digest, err);
	image_list_free(list, n);
	if (ret < 0)
		return -1;
	return image_gc_keeping(s, in_use, keep_blobs, freed_bytes, removed, err);
}

/* ---- inspect ---- */

static json_t *strv_json(char **v)
{
	json_t *a = json_array();

	for (char **p = v; a && p && *p; p++)
		json_array_append_new(a, json_string(*p));
	return a;
}

static json_t *keys_json(char **v)
{
	json_t *o = json_object();

	for (char **p = v; o && p && *p; p++)
		json_object_set_new(o, *p, json_object());
	return o;
}

static json_t *repo_digests(const image_info *info)
{
	json_t *a = json_array();

	for (char **n = info->names; a && *n; n++) {
		image_ref ref;
		berth_error *ignored = NULL;
		_cleanup_free_ char *repo = NULL, *rd = NULL;
		if (image_ref_parse(*n, &ref, &ignored) < 0) {
			berth_error_free(&ignored);
			continue;
		}
		repo = image_ref_repository(&ref);
		image_ref_free(&ref);
		if (repo && asprintf(&rd, "%s@%s", repo, info->manifest_digest) >= 0) {
			bool dup = false;
			size_t i;
			json_t *v;
			json_array_foreach(a, i, v)
				dup = dup || strcmp(json_string_value(v), rd) == 0;
			if (!dup)
				json_array_append_new(a, json_string(rd));
		}
	}
	return a;
}

json_t *image_info_to_json(const image_info *info)
{
	const image_config *c = &info->config;
	json_t *layers = json_array();
	/* docker prints "" for an unset User and WorkingDir, null for Labels */
	json_t *config = json_pack(
	    "{s:s, s:o, s:o?, s:o?, s:s, s:O?, s:o, s:o, s:s?, s:O?}", "User", c->user ?: "", "Env", strv_json(c->env),
	    "Entrypoint", c->entrypoint ? strv_json(c->entrypoint) : NULL, "Cmd", c->cmd ? strv_json(c->cmd) : NULL,
	    "WorkingDir", c->working_dir ?: "", "Labels", c->labels, "ExposedPorts", keys_json(c->exposed_ports),
	    "Volumes", keys_json(c->volumes), "StopSignal", c->stop_signal, "Healthcheck", c->healthcheck);

	/* as docker's build writes them; absent when the image has none */
	if (config && c->shell)
		json_object_set(config, "Shell", c->shell);
	if (config && c->on_build)
		json_object_set(config, "OnBuild", c->on_build);
	for (size_t i = 0; layers && i < info->manifest.n_layers; i++)
		json_array_append_new(layers, oci_descriptor_to_json(&info->manifest.layers[i]));
	return json_pack("{s:s, s:s, s:o, s:o, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:o, s:{s:s, s:o}, s:s, s:o}", "Id",
			 digest_hex(info->id), "Digest", info->manifest_digest, "RepoTags", strv_json(info->names),
			 "RepoDigests", repo_digests(info), "Created", c->created, "Author", c->author, "Architecture",
			 c->architecture, "Os", c->os, "Variant", c->variant, "Size", (json_int_t)info->size, "Config",
			 config, "RootFS", "Type", "layers", "Layers", strv_json(c->diff_ids), "ManifestMediaType",
			 info->manifest_media_type, "ManifestLayers", layers);
}
