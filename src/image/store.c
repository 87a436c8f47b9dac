#include "image/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"

struct store {
	char *root;
	int rootfd;   /* O_PATH|O_DIRECTORY */
	int blobsfd;  /* blobs/sha256, O_DIRECTORY */
	int ingestfd; /* ingest/, O_DIRECTORY */
	int snapfd;   /* snapshots/, O_DIRECTORY */
	int gc_lockfd;
	/* threads of one process share a handle (parallel build stages): the
	 * flock is one for all of them, taken by the first and released by
	 * the last holder */
	pthread_mutex_t gc_mutex;
	unsigned gc_holders;
};

struct store_writer {
	store *s;
	int fd;
	char tmp_name[64];
	char *expected;
	int64_t expected_size;
	digester d;
};

static const char empty_index[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
				  "\"manifests\":[]}\n";
static const char layout_file[] = "{\"imageLayoutVersion\":\"1.0.0\"}\n";

static int open_dir_at(int dirfd, const char *name, int *out, berth_error **err)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return berth_error_set(err, errno, "mkdir \"%s\"", name);
	*out = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (*out < 0)
		return berth_error_set(err, errno, "open \"%s\"", name);
	return 0;
}

/* Runs FN with the index lock held exclusive. */
static int with_index_lock(store *s, int (*fn)(store *, void *, berth_error **), void *arg, berth_error **err)
{
	_cleanup_close_ int fd = openat(s->rootfd, "index.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int ret;

	if (fd < 0)
		return berth_error_set(err, errno, "store \"%s\": open index.lock", s->root);
	while ((ret = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (ret < 0)
		return berth_error_set(err, errno, "store \"%s\": lock index.lock", s->root);
	return fn(s, arg, err); /* the lock goes with the fd */
}

static int init_files(store *s, void *arg, berth_error **err)
{
	struct stat st;

	if (fstatat(s->rootfd, "oci-layout", &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    fs_write_file_atomic(s->rootfd, "oci-layout", layout_file, sizeof(layout_file) - 1, 0600, err) < 0)
		return -1;
	if (fstatat(s->rootfd, "index.json", &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    fs_write_file_atomic(s->rootfd, "index.json", empty_index, sizeof(empty_index) - 1, 0600, err) < 0)
		return -1;
	return 0;
}

int store_open(const char *root, store **out, berth_error **err)
{
	store *s = calloc(1, sizeof(*s));
	_cleanup_close_ int blobs = -EBADF;

	if (s == NULL)
		return berth_error_set(err, ENOMEM, "store \"%s\"", root);
	s->rootfd = s->blobsfd = s->ingestfd = s->snapfd = s->gc_lockfd = -EBADF;
	pthread_mutex_init(&s->gc_mutex, NULL);
	s->root = strdup(root);
	if (s->root == NULL || fs_mkdir_p(root, 0700, err) < 0)
		goto fail;
	s->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		berth_error_set(err, errno, "open \"%s\"", root);
		goto fail;
	}
	if (open_dir_at(s->rootfd, "blobs", &blobs, err) < 0 || open_dir_at(blobs, "sha256", &s->blobsfd, err) < 0 ||
	    open_dir_at(s->rootfd, "ingest", &s->ingestfd, err) < 0 ||
	    open_dir_at(s->rootfd, "snapshots", &s->snapfd, err) < 0 || with_index_lock(s, init_files, NULL, err) < 0)
		goto fail;
	fs_mark_top_dir(s->snapfd);
	*out = s;
	return 0;
fail:
	if (*err == NULL)
		berth_error_set(err, ENOMEM, "store");
	berth_error_wrap(err, "open store \"%s\"", root);
	store_close(s);
	return -1;
}

void store_close(store *s)
{
	if (s == NULL)
		return;
	cleanup_closep(&s->rootfd);
	cleanup_closep(&s->blobsfd);
	cleanup_closep(&s->ingestfd);
	cleanup_closep(&s->snapfd);
	cleanup_closep(&s->gc_lockfd);
	pthread_mutex_destroy(&s->gc_mutex);
	free(s->root);
	free(s);
}

const char *store_root(const store *s)
{
	return s->root;
}

int store_root_fd(const store *s)
{
	return s->rootfd;
}

int store_gc_lock(store *s, bool exclusive, berth_error **err)
{
	int ret = 0;

	pthread_mutex_lock(&s->gc_mutex);
	if (s->gc_lockfd < 0)
		s->gc_lockfd = openat(s->rootfd, "gc.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->gc_lockfd < 0) {
		ret = berth_error_set(err, errno, "store \"%s\": open gc.lock", s->root);
	} else if (exclusive || s->gc_holders == 0) {
		while ((ret = flock(s->gc_lockfd, exclusive ? LOCK_EX : LOCK_SH)) < 0 && errno == EINTR)
			;
		if (ret < 0)
			ret = berth_error_set(err, errno, "store \"%s\": lock gc.lock", s->root);
	}
	if (ret == 0)
		s->gc_holders++;
	pthread_mutex_unlock(&s->gc_mutex);
	return ret;
}

void store_gc_unlock(store *s)
{
	pthread_mutex_lock(&s->gc_mutex);
	if (s->gc_holders > 0 && --s->gc_holders == 0 && s->gc_lockfd >= 0)
		flock(s->gc_lockfd, LOCK_UN);
	pthread_mutex_unlock(&s->gc_mutex);
}

/* ---- blobs ---- */

bool store_blob_exists(store *s, const char *digest)
{
	struct stat st;

	return digest_is_valid(digest) && fstatat(s->blobsfd, digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

char *store_blob_path(const store *s, const char *digest)
{
	char *out = NULL;

	if (asprintf(&out, "%s/blobs/sha256/%s", s->root, digest_hex(digest)) < 0)
		return NULL;
	return out;
}

int store_blob_open(store *s, const char *digest, berth_error **err)
{
	int fd;

	if (digest_validate(digest, err) < 0)
		return -1;
	fd = openat(s->blobsfd, digest_hex(digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return berth_error_set(err, errno, "blob %s", digest);
	return fd;
}

int store_blob_size(store *s, const char *digest, int64_t *size, berth_error **err)
{
	struct stat st;

	if (digest_validate(digest, err) < 0)
		return -1;
	if (fstatat(s->blobsfd, digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_set(err, errno, "blob %s", digest);
	*size = st.st_size;
	return 0;
}

int store_blob_read(store *s, const char *digest, size_t max, char **data, size_t *len, berth_error **err)
{
	_cleanup_close_ int fd = store_blob_open(s, digest, err);
	_cleanup_free_ char *buf = NULL;
	char got[DIGEST_STRING_MAX];
	struct stat st;
	size_t done = 0;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return berth_error_set(err, errno, "blob %s", digest);
	if ((uint64_t)st.st_size > max)
		return berth_error_set(err, EFBIG, "blob %s: %lld bytes, more than the %zu allowed", digest,
				       (long long)st.st_size, max);
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return berth_error_set(err, ENOMEM, "blob %s", digest);
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return berth_error_set(err, n < 0 ? errno : EIO, "read blob %s", digest);
		done += (size_t)n;
	}
	buf[done] = '\0';
	digest_buffer(buf, done, got);
	if (strcmp(got, digest) != 0)
		return berth_error_set(err, EBADMSG, "blob %s is corrupt: its content hashes to %s", digest, got);
	*len = done;
	*data = move_ptr(buf);
	return 0;
}

int store_blob_put(store *s, const void *data, size_t len, const char *expected, char out[DIGEST_STRING_MAX],
		   berth_error **err)
{
	store_writer *w = NULL;

	if (store_writer_open(s, expected, expected ? (int64_t)len : -1, &w, err) < 0)
		return -1;
	if (store_writer_write(w, data, len, err) < 0) {
		store_writer_abort(w);
		return -1;
	}
	return store_writer_commit(w, out, err);
}

int store_blob_remove(store *s, const char *digest, berth_error **err)
{
	if (digest_validate(digest, err) < 0)
		return -1;
	if (unlinkat(s->blobsfd, digest_hex(digest), 0) < 0 && errno != ENOENT)
		return berth_error_set(err, errno, "remove blob %s", digest);
	return 0;
}

/* ---- writers ---- */

int store_writer_open(store *s, const char *expected, int64_t expected_size, store_writer **out, berth_error **err)
{
	_cleanup_free_ store_writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return berth_error_set(err, ENOMEM, "store writer");
	if (expected && digest_validate(expected, err) < 0)
		return -1;
	w->s = s;
	w->expected_size = expected_size;
	{
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/ingest/blob-XXXXXX", s->root) < 0)
			return berth_error_set(err, ENOMEM, "store writer");
		w->fd = mkostemp(path, O_CLOEXEC);
		if (w->fd < 0)
			return berth_error_set(err, errno, "store \"%s\": create ingest file", s->root);
		snprintf(w->tmp_name, sizeof(w->tmp_name), "%s", strrchr(path, '/') + 1);
	}
	if (expected && (w->expected = strdup(expected)) == NULL) {
		store_writer_abort(move_ptr(w));
		return berth_error_set(err, ENOMEM, "store writer");
	}
	digester_init(&w->d);
	*out = move_ptr(w);
	return 0;
}

static const char *writer_what(const store_writer *w)
{
	return w->expected ? w->expected : "blob";
}

int store_writer_write(store_writer *w, const void *data, size_t len, berth_error **err)
{
	const char *p = data;

	if (w->expected_size >= 0 && w->d.size + len > (uint64_t)w->expected_size)
		return berth_error_set(err, EFBIG, "%s: more than the %lld bytes announced", writer_what(w),
				       (long long)w->expected_size);
	digester_update(&w->d, data, len);
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_error_set(err, errno, "%s: write to ingest", writer_what(w));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int store_writer_reset(store_writer *w, berth_error **err)
{
	if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
		return berth_error_set(err, errno, "%s: reset ingest file", writer_what(w));
	digester_init(&w->d);
	return 0;
}

uint64_t store_writer_written(const store_writer *w)
{
	return w->d.size;
}

int store_writer_commit(store_writer *w, char out[DIGEST_STRING_MAX], berth_error **err)
{
	char got[DIGEST_STRING_MAX];
	int ret = 0;

	digester_final(&w->d, got);
	if (w->expected_size >= 0 && w->d.size != (uint64_t)w->expected_size)
		ret = berth_error_set(err, EBADMSG, "%s: got %llu bytes, expected %lld", writer_what(w),
				      (unsigned long long)w->d.size, (long long)w->expected_size);
	else if (w->expected && strcmp(got, w->expected) != 0)
		ret = berth_error_set(err, EBADMSG, "blob %s: content does not match its digest (hashes to %s)",
				      w->expected, got);
	else if (fsync(w->fd) < 0)
		ret = berth_error_set(err, errno, "%s: fsync", writer_what(w));
	else if (fchmod(w->fd, 0644) < 0 || renameat(w->s->ingestfd, w->tmp_name, w->s->blobsfd, digest_hex(got)) < 0)
		ret = berth_error_set(err, errno, "blob %s: move into the store", got);
	if (ret == 0 && out)
		memcpy(out, got, DIGEST_STRING_MAX);
	if (ret == 0)
		w->tmp_name[0] = '\0'; /* renamed: nothing to remove */
	store_writer_abort(w);
	return ret;
}

void store_writer_abort(store_writer *w)
{
	if (w == NULL)
		return;
	if (w->tmp_name[0])
		unlinkat(w->s->ingestfd, w->tmp_name, 0);
	cleanup_closep(&w->fd);
	free(w->expected);
	free(w);
}

/* ---- index.json ---- */

static int refs_from_json(json_t *root, store_refs *out, berth_error **err)
{
	json_t *manifests = json_object_get(root, "manifests"), *m;
	size_t i;

	if (!json_is_array(manifests))
		return berth_error_set(err, EINVAL, "index.json: \"manifests\" is not an array");
	out->refs = calloc(json_array_size(manifests) + 1, sizeof(store_ref));
	if (out->refs == NULL)
		return berth_error_set(err, ENOMEM, "index.json");
	json_array_foreach(manifests, i, m) {
		const char *digest = json_string_value(json_object_get(m, "digest"));
		const char *mt = json_string_value(json_object_get(m, "mediaType"));
		const char *name =
		    json_string_value(json_object_get(json_object_get(m, "annotations"), STORE_REF_NAME_ANNOTATION));
		store_ref *r = &out->refs[out->n];

		if (!digest_is_valid(digest)) {
			berth_log(BERTH_LOG_WARNING, "index.json: manifests[%zu]: skipping an invalid digest", i);
			continue;
		}
		r->digest = strdup(digest);
		r->media_type = strdup(mt ? mt : "application/vnd.oci.image.manifest.v1+json");
		r->name = name ? strdup(name) : NULL;
		r->size = json_integer_value(json_object_get(m, "size"));
		out->n++;
		if (r->digest == NULL || r->media_type == NULL || (name && r->name == NULL))
			return berth_error_set(err, ENOMEM, "index.json");
	}
	return 0;
}

static int load_index_json(store *s, json_t **out, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	size_t len;

	if (fs_read_file_at(s->rootfd, "index.json", &text, &len, err) < 0)
		return berth_error_wrap(err, "store \"%s\"", s->root);
	*out = json_loadb(text, len, 0, &jerr);
	if (*out == NULL || !json_is_object(*out)) {
		json_decref(*out);
		return berth_error_set(err, EINVAL, "store \"%s\": index.json: %s", s->root,
				       *out ? "not an object" : jerr.text);
	}
	return 0;
}

int store_refs_load(store *s, store_refs *out, berth_error **err)
{
	json_t *root = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	if (load_index_json(s, &root, err) < 0)
		return -1;
	ret = refs_from_json(root, out, err);
	json_decref(root);
	if (ret < 0) {
		store_refs_free(out);
		return berth_error_wrap(err, "store \"%s\"", s->root);
	}
	return 0;
}

void store_refs_free(store_refs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->refs[i].name);
		free(r->refs[i].digest);
		free(r->refs[i].media_type);
	}
	free(r->refs);
	r->refs = NULL;
	r->n = 0;
}

static int save_index_json(store *s, json_t *root, berth_error **err)
{
	_cleanup_free_ char *text = json_dumps(root, JSON_INDENT(1));
	_cleanup_free_ char *line = NULL;

	if (text == NULL || asprintf(&line, "%s\n", text) < 0)
		return berth_error_set(err, ENOMEM, "index.json");
	return fs_write_file_atomic(s->rootfd, "index.json", line, strlen(line), 0600, err);
}

enum ref_op { REF_SET, REF_REMOVE_NAME, REF_REMOVE_DIGEST };

struct ref_change {
	enum ref_op op;
	const char *name, *digest, *media_type;
	int64_t size;
};

static const char *entry_name(json_t *m)
{
	return json_string_value(json_object_get(json_object_get(m, "annotations"), STORE_REF_NAME_ANNOTATION));
}

static json_t *make_entry(const struct ref_change *c)
{
	json_t *m =
	    json_pack("{s:s, s:s, s:I}", "mediaType", c->media_type, "digest", c->digest, "size", (json_int_t)c->size);
	if (m && c->name)
		json_object_set_new(m, "annotations", json_pack("{s:s}", STORE_REF_NAME_ANNOTATION, c->name));
	return m;
}

static int apply_ref_change(store *s, void *arg, berth_error **err)
{
	const struct ref_change *c = arg;
	json_t *root = NULL, *manifests, *m;
	bool found = false, has_digest = false;
	size_t i;
	int ret;

	if (load_index_json(s, &root, err) < 0)
		return -1;
	manifests = json_object_get(root, "manifests");
	if (!json_is_array(manifests)) {
		json_decref(root);
		return berth_error_set(err, EINVAL, "store \"%s\": index.json: \"manifests\" is not an array", s->root);
	}
	for (i = 0; i < json_array_size(manifests);) {
		const char *name, *digest;
		m = json_array_get(manifests, i);
		name = entry_name(m);
		digest = json_string_value(json_object_get(m, "digest"));
		bool drop = false;
		if (c->op == REF_REMOVE_DIGEST)
			drop = digest && strcmp(digest, c->digest) == 0;
		else if (c->name && name && strcmp(name, c->name) == 0)
			drop = true; /* the name moves (set) or goes (remove) */
		else if (c->op == REF_SET && name == NULL && digest && strcmp(digest, c->digest) == 0)
			drop = c->name != NULL; /* an unnamed entry of the same image gets the name */
		if (drop) {
			found = true;
			json_array_remove(manifests, i);
			continue;
		}
		if (digest && c->digest && strcmp(digest, c->digest) == 0)
			has_digest = true;
		i++;
	}
	if (c->op == REF_SET && (c->name || !has_digest))
		json_array_append_new(manifests, make_entry(c));
	if (c->op == REF_REMOVE_NAME && !found) {
		json_decref(root);
		return berth_error_set(err, ENOENT, "no image named \"%s\"", c->name);
	}
	ret = save_index_json(s, root, err);
	json_decref(root);
	return ret;
}

int store_ref_set(store *s, const char *name, const char *digest, const char *media_type, int64_t size,
		  berth_error **err)
{
	struct ref_change c = { REF_SET, name, digest, media_type, size };

	if (digest_validate(digest, err) < 0)
		return -1;
	return with_index_lock(s, apply_ref_change, &c, err);
}

int store_ref_remove(store *s, const char *name, berth_error **err)
{
	struct ref_change c = { REF_REMOVE_NAME, name, NULL, NULL, 0 };

	return with_index_lock(s, apply_ref_change, &c, err);
}

int store_ref_remove_digest(store *s, const char *digest, berth_error **err)
{
	struct ref_change c = { REF_REMOVE_DIGEST, NULL, digest, NULL, 0 };

	if (digest_validate(digest, err) < 0)
		return -1;
	return with_index_lock(s, apply_ref_change, &c, err);
}

/* ---- snapshots ---- */

bool store_snapshot_exists(store *s, const char *chain_id)
{
	struct stat st;

	return digest_is_valid(chain_id) && fstatat(s->snapfd, digest_hex(chain_id), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

char *store_snapshot_path(const store *s, const char *chain_id)
{
	char *out = NULL;

	if (asprintf(&out, "%s/snapshots/%s", s->root, digest_hex(chain_id)) < 0)
		return NULL;
	return out;
}

int store_snapshot_begin(store *s, char **tmp_path, berth_error **err)
{
	_cleanup_free_ char *path = NULL;
	int fd;

	/* the unpacker's pid and start time in the name: a temp dir of a
	 * killed pull is known as such (store_snapshot_sweep) */
	if (asprintf(&path, "%s/snapshots/" SNAPSHOT_TMP_PREFIX "%d-%llu-XXXXXX", s->root, (int)getpid(),
		     proc_pid_start_time(getpid())) < 0)
		return berth_error_set(err, ENOMEM, "snapshot");
	if (mkdtemp(path) == NULL)
		return berth_error_set(err, errno, "create \"%s\"", path);
	/* mkdtemp makes it 0700; a snapshot's root is the image's "/" */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fchmod(fd, 0755) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		rmdir(path);
		return berth_error_set(err, saved, "open \"%s\"", path);
	}
	*tmp_path = move_ptr(path);
	return fd;
}

int store_snapshot_commit(store *s, const char *tmp_path, const char *chain_id, berth_error **err)
{
	_cleanup_close_ int fd = open(tmp_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	const char *base = strrchr(tmp_path, '/');

	if (digest_validate(chain_id, err) < 0)
		return -1;
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", tmp_path);
	if (syncfs(fd) < 0)
		return berth_error_set(err, errno, "syncfs \"%s\"", tmp_path);
	if (renameat2(s->snapfd, base ? base + 1 : tmp_path, s->snapfd, digest_hex(chain_id), RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			/* another process unpacked the same chain first */
			store_snapshot_abort(s, tmp_path);
			return 0;
		}
		return berth_error_set(err, errno, "snapshot %s: rename", chain_id);
	}
	return 0;
}

#define SNAPSHOT_TMP_LEGACY_AGE_S 600

/* Whether the temp entry NAME of snapshots/ belongs to a process that is
 * gone. NAME: .tmp-PID-START-XXXXXX (an unpack), or an older berth's
 * .tmp-XXXXXX (its unpacker unknown: gone after 10 minutes), or
 * .tmp-rm-HEX (a removal; only made under the exclusive gc lock, which
 * the caller's shared lock rules out). */
static bool snapshot_tmp_stale(int dirfd, const char *name)
{
	const char *rest = name + strlen(SNAPSHOT_TMP_PREFIX);
	unsigned long long start;
	struct stat st;
	char *end;
	long pid;

	if (strncmp(rest, "rm-", 3) == 0)
		return true;
	pid = strtol(rest, &end, 10);
	if (end != rest && *end == '-' && pid > 0) {
		start = strtoull(end + 1, &end, 10);
		if (*end == '-')
			return proc_pid_start_time((pid_t)pid) != start;
	}
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       time(NULL) - st.st_mtime > SNAPSHOT_TMP_LEGACY_AGE_S;
}

size_t store_snapshot_sweep(store *s)
{
	int fd = openat(s->snapfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	size_t removed = 0;

	if (d == NULL && fd >= 0)
		close(fd);
	while (d && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, SNAPSHOT_TMP_PREFIX, strlen(SNAPSHOT_TMP_PREFIX)) != 0 ||
		    !snapshot_tmp_stale(dirfd(d), e->d_name))
			continue;
		if (fs_remove_tree_at(dirfd(d), e->d_name) == 0) {
			berth_debug("removed %s/snapshots/%s, left by a killed unpack", s->root, e->d_name);
			removed++;
		}
	}
	return removed;
}

void store_snapshot_abort(store *s, const char *tmp_path)
{
	berth_error *err = NULL;

	if (tmp_path && fs_remove_tree(tmp_path, &err) < 0) {
		berth_log(BERTH_LOG_WARNING, "store \"%s\": %s", s->root, err->msg);
		berth_error_free(&err);
	}
}

int store_snapshot_remove(store *s, const char *chain_id, berth_error **err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *doomed = NULL;

	if (digest_validate(chain_id, err) < 0)
		return -1;
	/* rename first so a crash mid-removal leaves a temp dir, not a half snapshot */
	if (asprintf(&doomed, SNAPSHOT_TMP_PREFIX "rm-%s", digest_hex(chain_id)) < 0)
		return berth_error_set(err, ENOMEM, "snapshot");
	if (renameat(s->snapfd, digest_hex(chain_id), s->snapfd, doomed) < 0)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "remove snapshot %s", chain_id);
	if (asprintf(&path, "%s/snapshots/%s", s->root, doomed) < 0)
		return berth_error_set(err, ENOMEM, "snapshot");
	return fs_remove_tree(path, err);
}
