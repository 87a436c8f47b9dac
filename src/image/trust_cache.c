/* What GPG verification keeps in the store between commands, so that a
 * pull, run or create under a signedBy scope does not load librnp and check
 * again what was verified before:
 *
 *   STORE/trust/verified/HEX    one signature verified with one key set:
 *                               HEX is the digest of (key set digest,
 *                               signature digest); the file holds both
 *                               digests, the payload the signature signs and
 *                               until when the result holds
 *
 * A result is a cryptographic fact about exact bytes: these signature bytes
 * were made by a key of these key bytes and sign this payload. The checks on
 * the payload (manifest digest, identity rule) run again every time, so a
 * result cannot accept another manifest, name or key set. A key that
 * expires ends its results (notAfter); a revoked or replaced key changes the
 * key bytes, hence the digest, and finds no result. */
#include "image/trust_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image/digest.h"
#include "spec/json_read.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

void trust_keys_free(trust_keys *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->items[i].what);
		free(k->items[i].data);
	}
	free(k->items);
	*k = (trust_keys){ 0 };
}

static int keys_add(trust_keys *k, const char *what, char *data, size_t len, berth_error **err)
{
	trust_key_source *grown = realloc(k->items, (k->n + 1) * sizeof(*grown));

	if (grown == NULL) {
		free(data);
		return berth_error_set(err, ENOMEM, "keys");
	}
	k->items = grown;
	k->items[k->n] = (trust_key_source){ .what = strdup(what), .data = data, .len = len };
	if (k->items[k->n].what == NULL) {
		free(data);
		return berth_error_set(err, ENOMEM, "keys");
	}
	k->n++;
	return 0;
}

int trust_keys_read(const trust_requirement *req, trust_keys *out, berth_error **err)
{
	digester d;
	int ret = 0;

	*out = (trust_keys){ 0 };
	for (char **p = req->key_paths; ret == 0 && p && *p; p++) {
		_cleanup_free_ char *what = NULL;
		char *data = NULL;
		size_t len = 0;
		if (asprintf(&what, "key file \"%s\"", *p) < 0)
			ret = berth_error_set(err, ENOMEM, "keys");
		else if ((ret = fs_read_file(*p, &data, &len, err)) == 0)
			ret = keys_add(out, what, data, len, err);
	}
	if (ret == 0 && req->key_data) {
		char *data = malloc(req->key_data_len ? req->key_data_len : 1);
		if (data == NULL)
			ret = berth_error_set(err, ENOMEM, "keys");
		else {
			memcpy(data, req->key_data, req->key_data_len);
			ret = keys_add(out, "keyData", data, req->key_data_len, err);
		}
	}
	if (ret < 0) {
		trust_keys_free(out);
		return ret;
	}
	/* each key's length, then its bytes: two sets that differ in how the
	 * bytes are split over files differ in digest */
	digester_init(&d);
	for (size_t i = 0; i < out->n; i++) {
		char size[32];
		int n = snprintf(size, sizeof(size), "%zu\n", out->items[i].len);
		digester_update(&d, size, (size_t)n);
		digester_update(&d, out->items[i].data, out->items[i].len);
	}
	digester_final(&d, out->digest);
	return 0;
}

/* STORE/trust/verified/HEX for (KEYS_DIGEST, SIG_DIGEST). */
static char *verified_path(const char *cache_dir, const char *keys_digest, const char *sig_digest)
{
	char key[2 * DIGEST_STRING_MAX + 8], entry[DIGEST_STRING_MAX];
	char *path = NULL;
	int n = snprintf(key, sizeof(key), "%s\n%s", keys_digest, sig_digest);

	digest_buffer(key, (size_t)n, entry);
	if (asprintf(&path, "%s/verified/%s", cache_dir, digest_hex(entry)) < 0)
		return NULL;
	return path;
}

int trust_verified_lookup(const char *cache_dir, const char *keys_digest, const void *sig, size_t len, char **payload,
			  size_t *payload_len)
{
	char sig_digest[DIGEST_STRING_MAX];
	_cleanup_free_ char *path = NULL, *text = NULL;
	_cleanup_json_ json_t *j = NULL;
	const char *keys = NULL, *signature = NULL, *p = NULL;
	json_int_t not_after = 0;
	berth_error *ignored = NULL;
	size_t text_len = 0, plen = 0;

	*payload = NULL;
	digest_buffer(sig, len, sig_digest);
	if ((path = verified_path(cache_dir, keys_digest, sig_digest)) == NULL)
		return 0;
	if (fs_read_file(path, &text, &text_len, &ignored) < 0) {
		berth_error_free(&ignored);
		return 0;
	}
	j = json_loadb(text, text_len, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL ||
	    json_unpack(j, "{s:s, s:s, s:s%, s:I}", "keys", &keys, "signature", &signature, "payload", &p, &plen,
			"notAfter", &not_after) < 0 ||
	    strcmp(keys, keys_digest) != 0 || strcmp(signature, sig_digest) != 0) {
		berth_debug("trust: \"%s\" is not a verification result, ignored", path);
		return 0;
	}
	if (not_after != 0 && (json_int_t)time(NULL) >= not_after) {
		berth_debug("trust: the verification result \"%s\" ended at %lld", path, (long long)not_after);
		return 0;
	}
	*payload = malloc(plen + 1);
	if (*payload == NULL)
		return 0;
	memcpy(*payload, p, plen);
	(*payload)[plen] = '\0';
	*payload_len = plen;
	return 1;
}

void trust_verified_save(const char *cache_dir, const char *keys_digest, const void *sig, size_t len,
			 const char *payload, size_t payload_len, long long not_after)
{
	char sig_digest[DIGEST_STRING_MAX];
	_cleanup_free_ char *path = NULL, *dir = NULL, *text = NULL;
	_cleanup_json_ json_t *j = NULL;
	_cleanup_close_ int fd = -1;
	berth_error *err = NULL;

	digest_buffer(sig, len, sig_digest);
	path = verified_path(cache_dir, keys_digest, sig_digest);
	dir = fs_path_join(cache_dir, "verified");
	j = json_pack("{s:s, s:s, s:s%, s:I}", "keys", keys_digest, "signature", sig_digest, "payload", payload,
		      payload_len, "notAfter", (json_int_t)not_after);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (path == NULL || dir == NULL || text == NULL)
		return;
	/* a cache: a file a crash leaves torn does not parse and is a miss,
	 * so no fsync */
	if (fs_mkdir_p(dir, 0700, &err) == 0 && (fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC)) < 0)
		berth_error_set(&err, errno, "open \"%s\"", dir);
	if (err == NULL)
		fs_write_file_replace(fd, strrchr(path, '/') + 1, text, strlen(text), 0600, &err);
	if (err) {
		berth_debug("trust: verification result not kept: %s", err->msg);
		berth_error_free(&err);
	}
}

/* Adds the digest of every STORE/signatures/IMAGE/signature-N to *KEPT. */
static int kept_signatures(const char *store_root, char ***kept, size_t *n, berth_error **err)
{
	_cleanup_free_ char *top = fs_path_join(store_root, "signatures");
	_cleanup_closedir_ DIR *d = top ? opendir(top) : NULL;
	struct dirent *e;

	if (top == NULL)
		return berth_error_set(err, ENOMEM, "signatures");
	if (d == NULL)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "open \"%s\"", top);
	while ((e = readdir(d)) != NULL) {
		_cleanup_free_ char *dir = e->d_name[0] == '.' ? NULL : fs_path_join(top, e->d_name);

		if (dir == NULL)
			continue;
		for (size_t i = 1; i <= TRUST_SIGNATURES_MAX; i++) {
			_cleanup_free_ char *path = NULL, *data = NULL;
			char digest[DIGEST_STRING_MAX], **grown;
			berth_error *ignored = NULL;
			size_t len = 0;
			if (asprintf(&path, "%s/signature-%zu", dir, i) < 0)
				return berth_error_set(err, ENOMEM, "signatures");
			if (fs_read_file(path, &data, &len, &ignored) < 0) {
				berth_error_free(&ignored);
				break;
			}
			digest_buffer(data, len, digest);
			grown = realloc(*kept, (*n + 2) * sizeof(char *));
			if (grown == NULL)
				return berth_error_set(err, ENOMEM, "signatures");
			*kept = grown;
			if ((grown[*n] = strdup(digest)) == NULL)
				return berth_error_set(err, ENOMEM, "signatures");
			grown[++*n] = NULL;
		}
	}
	return 0;
}

/* STORE/trust/keyrings: the gpg key rings earlier versions kept (librnp
 * reads the keys in memory), removed by the next gc. */
static int remove_old_keyrings(const char *store_root, berth_error **err)
{
	_cleanup_free_ char *trust = fs_path_join(store_root, "trust");
	_cleanup_close_ int fd = -1;
	int ret;

	if (trust == NULL)
		return berth_error_set(err, ENOMEM, "gc");
	if ((fd = open(trust, O_DIRECTORY | O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "open \"%s\"", trust);
	if ((ret = fs_remove_tree_at(fd, "keyrings")) < 0)
		return berth_error_set(err, -ret, "remove \"%s/keyrings\"", trust);
	return 0;
}

int trust_cache_sweep(const char *store_root, berth_error **err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_strv_ char **kept = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;
	size_t n = 0;
	int dfd;

	if (remove_old_keyrings(store_root, err) < 0)
		return -1;
	if (asprintf(&dir, "%s/trust/verified", store_root) < 0)
		return berth_error_set(err, ENOMEM, "gc");
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "open \"%s\"", dir);
	if (kept_signatures(store_root, &kept, &n, err) < 0)
		return -1;
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		_cleanup_free_ char *text = NULL;
		_cleanup_json_ json_t *j = NULL;
		const char *signature = NULL;
		berth_error *ignored = NULL;
		bool keep = false;
		size_t len = 0;

		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
			continue;
		if (fs_read_file_at(dfd, e->d_name, &text, &len, &ignored) == 0 &&
		    (j = json_loadb(text, len, 0, NULL)) != NULL &&
		    json_unpack(j, "{s:s}", "signature", &signature) == 0)
			for (char **k = kept; k && *k && !keep; k++)
				keep = strcmp(*k, signature) == 0;
		berth_error_free(&ignored);
		if (!keep && unlinkat(dfd, e->d_name, 0) < 0 && errno != ENOENT)
			return berth_error_set(err, errno, "remove \"%s/%s\"", dir, e->d_name);
	}
	return 0;
}
