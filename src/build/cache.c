#include "build/cache.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "build/strv.h"
#include "engine/logfile.h"
#include "image/images.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* One entry of STORE/build-cache. */
typedef struct cache_entry {
	char name[DIGEST_STRING_MAX];
	char digest[DIGEST_STRING_MAX]; /* "" for an empty step */
	int64_t size;			/* of the layer's blob */
	int64_t used_ns, created_ns;
} cache_entry;

static bool is_entry_name(const char *name)
{
	size_t n = strlen(name);

	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)name[i]) || isupper((unsigned char)name[i]))
			return false;
	return true;
}

/* The entries of DIRFD (STORE/build-cache) into *OUT; an unreadable one is
 * kept with an empty digest and no time (it matches only --all). */
static int cache_entries(int dirfd, cache_entry **out, size_t *n, berth_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL)
		return berth_error_set(err, errno, "build cache: list");
	fd = -EBADF; /* the DIR owns it */
	while ((de = readdir(d)) != NULL) {
		_cleanup_free_ char *text = NULL;
		berth_error *ignored = NULL;
		json_t *j = NULL;
		struct statx stx;
		struct stat st;
		cache_entry *e;
		size_t len;
		if (!is_entry_name(de->d_name) || fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (*n == cap) {
			cache_entry *grown = realloc(*out, (cap ? cap * 2 : 64) * sizeof(cache_entry));
			if (grown == NULL)
				return berth_error_set(err, ENOMEM, "build cache");
			*out = grown;
			cap = cap ? cap * 2 : 64;
		}
		e = &(*out)[(*n)++];
		memset(e, 0, sizeof(*e));
		memcpy(e->name, de->d_name, 65); /* is_entry_name: 64 hex digits */
		e->used_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
		/* made: its birth time where the filesystem keeps one */
		e->created_ns = e->used_ns;
		if (statx(dirfd, de->d_name, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &stx) == 0 &&
		    (stx.stx_mask & STATX_BTIME))
			e->created_ns = (int64_t)stx.stx_btime.tv_sec * 1000000000LL + stx.stx_btime.tv_nsec;
		if (fs_read_file_at(dirfd, de->d_name, &text, &len, &ignored) < 0) {
			berth_error_free(&ignored);
			continue;
		}
		j = json_loadb(text, len, 0, NULL);
		const char *digest = json_string_value(json_object_get(j, "digest"));
		if (digest && digest_is_valid(digest)) {
			snprintf(e->digest, sizeof(e->digest), "%s", digest);
			e->size = json_integer_value(json_object_get(j, "size"));
		}
		json_decref(j);
	}
	return 0;
}

/* The layer digests of every image in the store, as a JSON set. */
static int image_layers(store *s, json_t **out, berth_error **err)
{
	image_info *list = NULL;
	size_t n = 0;

	if (image_list(s, &list, &n, err) < 0)
		return -1;
	*out = json_object();
	for (size_t i = 0; *out && i < n; i++)
		for (size_t l = 0; l < list[i].manifest.n_layers; l++)
			json_object_set_new(*out, list[i].manifest.layers[l].digest, json_true());
	image_list_free(list, n);
	return *out ? 0 : berth_error_set(err, ENOMEM, "build cache");
}

static bool entry_selected(store *s, const cache_entry *e, const json_t *layers, const build_cache_prune_options *o)
{
	if (o->until_ns > 0 && e->used_ns >= o->until_ns)
		return false;
	if (o->all)
		return true;
	if (e->digest[0] == '\0')
		return false; /* an empty step: holds nothing */
	/* a layer no image has, or one already gone (a miss anyway) */
	return json_object_get(layers, e->digest) == NULL || !store_blob_exists(s, e->digest);
}

static int open_cache_dir(store *s, int *fd, berth_error **err)
{
	_cleanup_free_ char *path = fs_path_join(store_root(s), "build-cache");

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "build cache");
	*fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0 && errno != ENOENT)
		return berth_error_set(err, errno, "open \"%s\"", path);
	return 0;
}

/* The layers of the entries left in the cache (under the gc lock). */
static int remaining_layers(int dirfd, char ***out, berth_error **err)
{
	cache_entry *entries = NULL;
	size_t n = 0;
	int ret = 0;

	*out = calloc(1, sizeof(char *));
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "build cache");
	if (dirfd < 0)
		return 0;
	if (cache_entries(dirfd, &entries, &n, err) < 0)
		ret = -1;
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (entries[i].digest[0] && build_strv_add(out, entries[i].digest, (size_t)-1) < 0)
			ret = berth_error_set(err, ENOMEM, "build cache");
	free(entries);
	return ret;
}

/* --all: the directories of RUN --mount=type=cache too (docker's builder
 * prune --all drops its cache mounts). */
static int remove_cache_mounts(store *s, build_cache_prune_result *r, berth_error **err)
{
	_cleanup_free_ char *path = fs_path_join(store_root(s), "build-cache-mounts");
	_cleanup_closedir_ DIR *d = path ? opendir(path) : NULL;
	struct dirent *de;

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "build cache");
	if (d == NULL)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "open \"%s\"", path);
	while ((de = readdir(d)) != NULL) {
		if (!is_entry_name(de->d_name))
			continue;
		int rc = fs_remove_tree_at(dirfd(d), de->d_name);
		if (rc < 0)
			return berth_error_set(err, -rc, "build cache: remove cache mount %s", de->d_name);
		if (build_strv_add(&r->removed, de->d_name, (size_t)-1) < 0)
			return berth_error_set(err, ENOMEM, "build cache");
	}
	return 0;
}

int build_cache_filter_parse(const char *filter, build_cache_prune_options *o, berth_error **err)
{
	const char *eq = strchr(filter, '=');
	const char *value = eq ? eq + 1 : "";
	bool numeric = value[0] != '\0';

	if (eq == NULL || (size_t)(eq - filter) != strlen("until") || strncmp(filter, "until", 5) != 0)
		return berth_error_request(err, EINVAL, "--filter \"%s\": only until=TIME is supported", filter);
	for (const char *c = value; *c; c++)
		numeric = numeric && (isdigit((unsigned char)*c) || *c == '.');
	if (numeric) {
		char *end;
		double sec = strtod(value, &end);
		o->until_ns = *end == '\0' ? (int64_t)(sec * 1e9) : -1;
	} else {
		o->until_ns = logfile_parse_since(value);
	}
	if (o->until_ns <= 0)
		return berth_error_request(err, EINVAL,
					   "--filter until=%s: not a time (RFC 3339, Unix seconds, or a duration "
					   "such as 24h)",
					   value);
	return 0;
}

int build_cache_prune(store *s, const build_cache_prune_options *o, build_cache_prune_result *r, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_strv_ char **keep = NULL;
	cache_entry *entries = NULL;
	json_t *layers = NULL;
	size_t n = 0;
	int ret;

	memset(r, 0, sizeof(*r));
	r->removed = calloc(1, sizeof(char *));
	if (r->removed == NULL)
		return berth_error_set(err, ENOMEM, "build cache");
	if (open_cache_dir(s, &dirfd, err) < 0)
		return -1;
	/* exclusive: no build runs while the entries are chosen */
	if (store_gc_lock(s, true, err) < 0)
		return -1;
	ret = dirfd >= 0 ? cache_entries(dirfd, &entries, &n, err) : 0;
	if (ret == 0 && n > 0)
		ret = image_layers(s, &layers, err);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (!entry_selected(s, &entries[i], layers, o))
			continue;
		if (unlinkat(dirfd, entries[i].name, 0) < 0 && errno != ENOENT)
			ret = berth_error_set(err, errno, "build cache: remove entry %s", entries[i].name);
		else if (build_strv_add(&r->removed, entries[i].name, (size_t)-1) < 0)
			ret = berth_error_set(err, ENOMEM, "build cache");
	}
	if (ret == 0 && o->all && o->until_ns <= 0)
		ret = remove_cache_mounts(s, r, err);
	if (ret == 0)
		ret = remaining_layers(dirfd, &keep, err);
	/* the layers only the removed entries held go (and any other garbage,
	 * as image prune's gc); the remaining entries' layers stay */
	if (ret == 0)
		ret = image_gc_keeping(s, o->in_use, keep, &r->freed_bytes, NULL, err);
	store_gc_unlock(s);
	json_decref(layers);
	free(entries);
	return ret;
}

void build_cache_prune_result_free(build_cache_prune_result *r)
{
	strv_free(r->removed);
	memset(r, 0, sizeof(*r));
}

int build_cache_list(store *s, build_cache_record **out, size_t *n, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	cache_entry *entries = NULL;
	json_t *layers = NULL;
	size_t count = 0;
	int ret;

	*out = NULL;
	*n = 0;
	if (open_cache_dir(s, &dirfd, err) < 0)
		return -1;
	if (dirfd < 0)
		return 0;
	if (store_gc_lock(s, false, err) < 0)
		return -1;
	ret = cache_entries(dirfd, &entries, &count, err);
	if (ret == 0 && count > 0)
		ret = image_layers(s, &layers, err);
	if (ret == 0 && count > 0 && (*out = calloc(count, sizeof(**out))) == NULL)
		ret = berth_error_set(err, ENOMEM, "build cache");
	for (size_t i = 0; ret == 0 && i < count; i++) {
		build_cache_record *r = &(*out)[i];
		snprintf(r->id, sizeof(r->id), "%s", entries[i].name);
		snprintf(r->digest, sizeof(r->digest), "%s", entries[i].digest);
		r->size = entries[i].size;
		r->created_ns = entries[i].created_ns;
		r->used_ns = entries[i].used_ns;
		r->shared = entries[i].digest[0] && json_object_get(layers, entries[i].digest) != NULL;
	}
	if (ret == 0)
		*n = count;
	store_gc_unlock(s);
	json_decref(layers);
	free(entries);
	return ret;
}

int build_image_prune(store *s, bool all, char *const *in_use, uint64_t *freed_bytes, size_t *removed,
		      berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_strv_ char **keep = NULL;
	int ret;

	if (open_cache_dir(s, &dirfd, err) < 0 || store_gc_lock(s, true, err) < 0)
		return -1;
	ret = remaining_layers(dirfd, &keep, err);
	if (ret == 0)
		ret = image_prune_keeping(s, all, in_use, keep, freed_bytes, removed, err);
	store_gc_unlock(s);
	return ret;
}
