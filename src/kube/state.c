#include "kube/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sha2.h>

#include "kube/kube_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define HISTORY_SUFFIX ".history"

static int state_lock(const char *store_root, berth_error **err)
{
	_cleanup_free_ char *dir = fs_path_join(store_root, "kube");
	if (dir == NULL)
		return berth_error_set(err, ENOMEM, "path");
	if (fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	_cleanup_free_ char *path = fs_path_join(dir, "lock");
	int fd = path ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (fd < 0)
		return berth_error_set(err, errno, "open %s", path ? path : "kube/lock");
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return berth_error_set(err, e, "lock %s", path);
		}
	}
	return fd;
}

static char *kind_dir(const char *store_root, const char *namespace, const char *kind)
{
	char *out = NULL;
	if (asprintf(&out, "%s/kube/%s/%s", store_root, namespace, kind) < 0)
		return NULL;
	return out;
}

static char *lower(const char *s)
{
	char *out = strdup(s);
	for (char *p = out; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

static int not_found(const char *kind, const char *namespace, const char *name, berth_error **err)
{
	_cleanup_free_ char *k = lower(kind);
	return berth_error_request(err, ENOENT, "%s \"%s\" not found in namespace %s", k ? k : kind, name, namespace);
}

static int read_json(const char *path, json_t **out, berth_error **err)
{
	json_error_t jerr;
	*out = json_load_file(path, 0, &jerr);
	if (*out == NULL) {
		if (access(path, F_OK) < 0 && errno == ENOENT)
			return -ENOENT;
		return berth_error_set(err, 0, "%s: %s", path, jerr.text);
	}
	return 0;
}

static int write_json(const char *dir, const char *name, json_t *value, berth_error **err)
{
	if (fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	_cleanup_free_ char *text = json_dumps(value, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "json");
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_error_set(err, errno, "open %s", dir);
	_cleanup_free_ char *with_newline = NULL;
	int len = asprintf(&with_newline, "%s\n", text);
	if (len < 0)
		return berth_error_set(err, ENOMEM, "json");
	return fs_write_file_atomic(dfd, name, with_newline, (size_t)len, 0600, err);
}

void kube_template_hash(json_t *template, char out[11])
{
	_cleanup_free_ char *text = json_dumps(template, JSON_COMPACT | JSON_SORT_KEYS);
	char hex[SHA256_DIGEST_STRING_LENGTH];
	SHA256Data((const uint8_t *)(text ? text : ""), text ? strlen(text) : 0, hex);
	memcpy(out, hex, 10);
	out[10] = '\0';
}

static json_t *template_of(json_t *deployment)
{
	return json_object_get(json_object_get(deployment, "spec"), "template");
}

/* A copy without what berth adds, for "is it the same as applied?". */
static json_t *comparable(json_t *object)
{
	json_t *copy = json_deep_copy(object);
	json_t *meta = json_object_get(copy, "metadata");
	json_object_del(meta, "uid");
	json_object_del(meta, "generation");
	json_object_del(meta, "creationTimestamp");
	json_t *annotations = json_object_get(meta, "annotations");
	json_object_del(annotations, KUBE_REVISION_ANNOTATION);
	if (json_is_object(annotations) && json_object_size(annotations) == 0)
		json_object_del(meta, "annotations");
	return copy;
}

static int set_annotation(json_t *object, const char *key, const char *value)
{
	json_t *meta = json_object_get(object, "metadata");
	json_t *annotations = json_object_get(meta, "annotations");
	if (!json_is_object(annotations)) {
		annotations = json_object();
		if (annotations == NULL || json_object_set_new(meta, "annotations", annotations) < 0)
			return -1;
	}
	return json_object_set_new(annotations, key, json_string(value));
}

static void new_uid(char out[37])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)((ts.tv_nsec >> (i % 8)) ^ (getpid() << i));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void now_rfc3339(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- deployment history */

static char *history_dir(const char *store_root, const char *namespace, const char *name)
{
	char *out = NULL;
	if (asprintf(&out, "%s/kube/%s/Deployment/%s%s", store_root, namespace, name, HISTORY_SUFFIX) < 0)
		return NULL;
	return out;
}

/* Sorts the N items of the JSON array LIST with CMP (over json_t **). */
static int sort_array(json_t *list, int (*cmp)(const void *, const void *))
{
	size_t n = json_array_size(list);
	json_t **items = calloc(n ? n : 1, sizeof(*items));
	if (items == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(list, i));
	qsort(items, n, sizeof(*items), cmp);
	json_array_clear(list);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, items[i]);
	free(items);
	return 0;
}

static int revision_compare(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "revision"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "revision"));
	return x < y ? -1 : x > y;
}

int kube_state_history(const char *store_root, const char *namespace, const char *name, json_t **out, berth_error **err)
{
	_cleanup_free_ char *dir = history_dir(store_root, namespace, name);
	_cleanup_json_ json_t *list = json_array();
	if (dir == NULL || list == NULL)
		return berth_error_set(err, ENOMEM, "history");
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (d == NULL && errno != ENOENT)
		return berth_error_set(err, errno, "open %s", dir);
	for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		_cleanup_free_ char *path = fs_path_join(dir, e->d_name);
		json_t *entry = NULL;
		if (path == NULL || read_json(path, &entry, err) < 0)
			return path ? -1 : berth_error_set(err, ENOMEM, "path");
		json_array_append_new(list, entry);
	}
	if (sort_array(list, revision_compare) < 0)
		return berth_error_set(err, ENOMEM, "history");
	*out = move_ptr(list);
	return 0;
}

/* Records TEMPLATE (hash HASH) as the newest revision and returns its
 * number: an old revision with the same template moves to the top, as
 * Kubernetes does when a rollout goes back to an earlier template. Keeps
 * LIMIT old revisions besides the newest. */
static int history_push(const char *store_root, const char *namespace, const char *name, json_t *template,
			const char *hash, json_int_t limit, json_int_t *revision, berth_error **err)
{
	_cleanup_json_ json_t *history = NULL;
	if (kube_state_history(store_root, namespace, name, &history, err) < 0)
		return -1;
	_cleanup_free_ char *dir = history_dir(store_root, namespace, name);
	if (dir == NULL)
		return berth_error_set(err, ENOMEM, "path");
	json_int_t newest = 0;
	size_t i;
	json_t *entry;
	json_array_foreach(history, i, entry) {
		json_int_t r = json_integer_value(json_object_get(entry, "revision"));
		newest = r > newest ? r : newest;
	}
	*revision = newest + 1;
	_cleanup_json_ json_t *record =
	    json_pack("{sIsssO}", "revision", *revision, "hash", hash, "template", template);
	char file[32];
	snprintf(file, sizeof(file), "%lld.json", (long long)*revision);
	if (record == NULL || write_json(dir, file, record, err) < 0)
		return record ? -1 : berth_error_set(err, ENOMEM, "history");

	/* drop the same template's older entry and what is beyond the limit */
	size_t kept = 0;
	for (size_t j = json_array_size(history); j-- > 0;) {
		entry = json_array_get(history, j);
		const char *h = json_string_value(json_object_get(entry, "hash"));
		bool same = h != NULL && strcmp(h, hash) == 0;
		if (!same && kept < (size_t)limit) {
			kept++;
			continue;
		}
		snprintf(file, sizeof(file), "%lld.json",
			 (long long)json_integer_value(json_object_get(entry, "revision")));
		_cleanup_free_ char *path = fs_path_join(dir, file);
		if (path != NULL)
			unlink(path);
	}
	return 0;
}

/* ---- objects */

static int load_object(const char *store_root, const char *kind, const char *namespace, const char *name, json_t **out,
		       berth_error **err)
{
	_cleanup_free_ char *dir = kind_dir(store_root, namespace, kind);
	_cleanup_free_ char *file = NULL;
	if (dir == NULL || asprintf(&file, "%s/%s.json", dir, name) < 0)
		return berth_error_set(err, ENOMEM, "path");
	return read_json(file, out, err);
}

static int save_object(const char *store_root, json_t *object, berth_error **err)
{
	const char *kind = json_string_value(json_object_get(object, "kind"));
	json_t *meta = json_object_get(object, "metadata");
	const char *namespace = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	if (kind == NULL || namespace == NULL || name == NULL)
		return berth_error_set(err, EINVAL, "kube object without kind, namespace or name");
	_cleanup_free_ char *dir = kind_dir(store_root, namespace, kind);
	_cleanup_free_ char *file = NULL;
	if (dir == NULL || asprintf(&file, "%s.json", name) < 0)
		return berth_error_set(err, ENOMEM, "path");
	return write_json(dir, file, object, err);
}

int kube_state_apply(const char *store_root, const kube_object *o, kube_apply_result *result, berth_error **err)
{
	_cleanup_close_ int lock = state_lock(store_root, err);
	if (lock < 0)
		return -1;
	_cleanup_json_ json_t *stored = NULL;
	int r = load_object(store_root, o->kind, o->namespace, o->name, &stored, err);
	if (r < 0 && r != -ENOENT)
		return r;
	_cleanup_json_ json_t *object = json_deep_copy(o->object);
	if (object == NULL)
		return berth_error_set(err, ENOMEM, "object");
	json_t *meta = json_object_get(object, "metadata");

	if (stored != NULL) {
		_cleanup_json_ json_t *a = comparable(stored);
		_cleanup_json_ json_t *b = comparable(object);
		if (json_equal(a, b)) {
			*result = KUBE_APPLY_UNCHANGED;
			return 0;
		}
		json_t *old_meta = json_object_get(stored, "metadata");
		json_object_set(meta, "uid", json_object_get(old_meta, "uid"));
		json_object_set(meta, "creationTimestamp", json_object_get(old_meta, "creationTimestamp"));
		json_int_t generation = json_integer_value(json_object_get(old_meta, "generation"));
		json_object_set_new(meta, "generation", json_integer(generation + 1));
		*result = KUBE_APPLY_CONFIGURED;
	} else {
		char uid[37], now[32];
		new_uid(uid);
		now_rfc3339(now);
		json_object_set_new(meta, "uid", json_string(uid));
		json_object_set_new(meta, "creationTimestamp", json_string(now));
		json_object_set_new(meta, "generation", json_integer(1));
		*result = KUBE_APPLY_CREATED;
	}

	if (strcmp(o->kind, "Deployment") == 0) {
		char hash[11], old_hash[11] = "";
		kube_template_hash(template_of(object), hash);
		if (stored != NULL)
			kube_template_hash(template_of(stored), old_hash);
		const char *old_revision =
		    stored ? json_string_value(
				 json_object_get(json_object_get(json_object_get(stored, "metadata"), "annotations"),
						 KUBE_REVISION_ANNOTATION))
			   : NULL;
		if (old_revision != NULL && strcmp(hash, old_hash) == 0) {
			set_annotation(object, KUBE_REVISION_ANNOTATION, old_revision);
		} else {
			json_t *limit_v = json_object_get(json_object_get(object, "spec"), "revisionHistoryLimit");
			json_int_t limit = json_is_integer(limit_v) ? json_integer_value(limit_v) : 10;
			json_int_t revision;
			if (history_push(store_root, o->namespace, o->name, template_of(object), hash, limit, &revision,
					 err) < 0)
				return -1;
			char text[24];
			snprintf(text, sizeof(text), "%lld", (long long)revision);
			set_annotation(object, KUBE_REVISION_ANNOTATION, text);
		}
	}
	return save_object(store_root, object, err);
}

int kube_state_update(const char *store_root, json_t *object, berth_error **err)
{
	_cleanup_close_ int lock = state_lock(store_root, err);
	if (lock < 0)
		return -1;
	json_t *meta = json_object_get(object, "metadata");
	json_int_t generation = json_integer_value(json_object_get(meta, "generation"));
	json_object_set_new(meta, "generation", json_integer(generation + 1));
	if (strcmp(json_string_value(json_object_get(object, "kind")) ?: "", "Deployment") == 0) {
		/* a changed template (rollout undo) is a new revision */
		char hash[11];
		kube_template_hash(template_of(object), hash);
		_cleanup_json_ json_t *history = NULL;
		const char *namespace = json_string_value(json_object_get(meta, "namespace"));
		const char *name = json_string_value(json_object_get(meta, "name"));
		if (kube_state_history(store_root, namespace, name, &history, err) < 0)
			return -1;
		json_t *newest = json_array_get(history, json_array_size(history) - 1);
		const char *newest_hash = json_string_value(json_object_get(newest, "hash"));
		if (newest_hash == NULL || strcmp(newest_hash, hash) != 0) {
			json_t *limit_v = json_object_get(json_object_get(object, "spec"), "revisionHistoryLimit");
			json_int_t limit = json_is_integer(limit_v) ? json_integer_value(limit_v) : 10;
			json_int_t revision;
			if (history_push(store_root, namespace, name, template_of(object), hash, limit, &revision,
					 err) < 0)
				return -1;
			char text[24];
			snprintf(text, sizeof(text), "%lld", (long long)revision);
			set_annotation(object, KUBE_REVISION_ANNOTATION, text);
		}
	}
	return save_object(store_root, object, err);
}

int kube_state_scale(const char *store_root, const char *namespace, const char *name, int replicas, berth_error **err)
{
	_cleanup_close_ int lock = state_lock(store_root, err);
	_cleanup_json_ json_t *object = NULL;
	int r;

	if (lock < 0)
		return -1;
	r = load_object(store_root, "Deployment", namespace, name, &object, err);
	if (r == -ENOENT)
		return not_found("Deployment", namespace, name, err);
	if (r < 0)
		return r;
	json_t *meta = json_object_get(object, "metadata");
	json_object_set_new(json_object_get(object, "spec"), "replicas", json_integer(replicas));
	json_object_set_new(meta, "generation",
			    json_integer(json_integer_value(json_object_get(meta, "generation")) + 1));
	return save_object(store_root, object, err);
}

int kube_state_get(const char *store_root, const char *kind, const char *namespace, const char *name, json_t **out,
		   berth_error **err)
{
	int r = load_object(store_root, kind, namespace, name, out, err);
	if (r == -ENOENT)
		return not_found(kind, namespace, name, err);
	return r;
}

static int name_compare(const void *a, const void *b)
{
	json_t *x = json_object_get(*(json_t *const *)a, "metadata");
	json_t *y = json_object_get(*(json_t *const *)b, "metadata");
	int c = strcmp(json_string_value(json_object_get(x, "namespace")) ?: "",
		       json_string_value(json_object_get(y, "namespace")) ?: "");
	return c ? c
		 : strcmp(json_string_value(json_object_get(x, "name")) ?: "",
			  json_string_value(json_object_get(y, "name")) ?: "");
}

int kube_state_namespaces(const char *store_root, json_t **out, berth_error **err)
{
	_cleanup_free_ char *dir = fs_path_join(store_root, "kube");
	_cleanup_json_ json_t *list = json_array();
	if (dir == NULL || list == NULL)
		return berth_error_set(err, ENOMEM, "namespaces");
	struct dirent **entries = NULL;
	int n = scandir(dir, &entries, NULL, alphasort);
	if (n < 0 && errno != ENOENT)
		return berth_error_set(err, errno, "read %s", dir);
	for (int i = 0; i < n; i++) {
		if (entries[i]->d_type == DT_DIR && entries[i]->d_name[0] != '.')
			json_array_append_new(list, json_string(entries[i]->d_name));
		free(entries[i]);
	}
	free(entries);
	*out = move_ptr(list);
	return 0;
}

static int list_kind_in(const char *store_root, const char *kind, const char *namespace, json_t *list,
			berth_error **err)
{
	_cleanup_free_ char *dir = kind_dir(store_root, namespace, kind);
	if (dir == NULL)
		return berth_error_set(err, ENOMEM, "path");
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "open %s", dir);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' || n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		_cleanup_free_ char *path = fs_path_join(dir, e->d_name);
		json_t *object = NULL;
		if (path == NULL)
			return berth_error_set(err, ENOMEM, "path");
		if (read_json(path, &object, err) < 0)
			return -1;
		json_array_append_new(list, object);
	}
	return 0;
}

int kube_state_list(const char *store_root, const char *kind, const char *namespace, json_t **out, berth_error **err)
{
	_cleanup_json_ json_t *list = json_array();
	if (list == NULL)
		return berth_error_set(err, ENOMEM, "list");
	if (namespace != NULL) {
		if (list_kind_in(store_root, kind, namespace, list, err) < 0)
			return -1;
	} else {
		_cleanup_json_ json_t *namespaces = NULL;
		size_t i;
		json_t *ns;
		if (kube_state_namespaces(store_root, &namespaces, err) < 0)
			return -1;
		json_array_foreach(namespaces, i, ns)
			if (list_kind_in(store_root, kind, json_string_value(ns), list, err) < 0)
				return -1;
	}
	if (sort_array(list, name_compare) < 0)
		return berth_error_set(err, ENOMEM, "list");
	*out = move_ptr(list);
	return 0;
}

int kube_state_delete(const char *store_root, const char *kind, const char *namespace, const char *name,
		      berth_error **err)
{
	_cleanup_close_ int lock = state_lock(store_root, err);
	if (lock < 0)
		return -1;
	_cleanup_free_ char *dir = kind_dir(store_root, namespace, kind);
	_cleanup_free_ char *file = NULL;
	if (dir == NULL || asprintf(&file, "%s/%s.json", dir, name) < 0)
		return berth_error_set(err, ENOMEM, "path");
	if (unlink(file) < 0) {
		if (errno == ENOENT)
			return not_found(kind, namespace, name, err);
		return berth_error_set(err, errno, "remove %s", file);
	}
	if (strcmp(kind, "Deployment") == 0) {
		_cleanup_free_ char *history = history_dir(store_root, namespace, name);
		berth_error *ignored = NULL;
		if (history != NULL && fs_remove_tree(history, &ignored) < 0)
			berth_error_free(&ignored);
	}
	/* empty kind and namespace directories go, so `get` of a namespace ends */
	rmdir(dir);
	_cleanup_free_ char *ns_dir = NULL;
	if (asprintf(&ns_dir, "%s/kube/%s", store_root, namespace) >= 0)
		rmdir(ns_dir);
	return 0;
}
