/* Simple-signing signatures on disk and on the web: the lookaside layout
 * of containers/image (BASE@sha256=HEX/signature-N, N from 1, the first
 * missing one ends the list), and the copy berth keeps in its store. */
#include "image/trust_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/digest.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define HTTP_TIMEOUT_S 30L

/* "BASE@sha256=HEX" (heap) */
static char *signature_dir(const char *base, const char *digest, berth_error **err)
{
	const char *colon = strchr(digest, ':');
	char *out = NULL;

	if (colon == NULL) {
		berth_error_request(err, EINVAL, "invalid digest \"%s\"", digest);
		return NULL;
	}
	if (asprintf(&out, "%s@%.*s=%s", base, (int)(colon - digest), digest, colon + 1) < 0) {
		berth_error_set(err, ENOMEM, "signatures");
		return NULL;
	}
	return out;
}

/* Reads DIR/signature-1, -2, ... from the file system. */
static int read_dir_signatures(const char *dir, trust_signatures *out, berth_error **err)
{
	for (size_t i = 1; i <= TRUST_SIGNATURES_MAX + 1; i++) {
		_cleanup_free_ char *path = NULL, *data = NULL;
		size_t len = 0;

		if (asprintf(&path, "%s/signature-%zu", dir, i) < 0)
			return berth_error_set(err, ENOMEM, "signatures");
		if (fs_read_file(path, &data, &len, err) < 0) {
			if ((*err)->code != ENOENT)
				return -1;
			berth_error_free(err);
			return 0;
		}
		if (len > TRUST_SIGNATURE_MAX_SIZE)
			return berth_error_request(err, EFBIG, "signature \"%s\": too large", path);
		if (trust_signatures_add(out, data, len, err) < 0)
			return -1;
	}
	return 0;
}

typedef struct http_body {
	char *data;
	size_t len;
	bool too_large;
} http_body;

static size_t http_write(char *ptr, size_t size, size_t n, void *userdata)
{
	http_body *b = userdata;
	size_t add = size * n;
	char *grown;

	if (b->len + add > TRUST_SIGNATURE_MAX_SIZE) {
		b->too_large = true;
		return 0;
	}
	grown = realloc(b->data, b->len + add + 1);
	if (grown == NULL)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, ptr, add);
	b->len += add;
	return add;
}

/* GET URL: 0 with the body, 1 when the server says 404, <0 otherwise. */
static int http_get(CURL *curl, const char *url, http_body *body, berth_error **err)
{
	long status = 0;
	CURLcode rc;

	*body = (http_body){ 0 };
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, HTTP_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		free(body->data);
		if (body->too_large)
			return berth_error_request(err, EFBIG, "signature %s: too large", url);
		return berth_error_request(err, EIO, "signature %s: %s", url, curl_easy_strerror(rc));
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 404) {
		free(body->data);
		return 1;
	}
	if (status != 200) {
		free(body->data);
		return berth_error_request(err, EIO, "signature %s: HTTP %ld", url, status);
	}
	return 0;
}

static int read_http_signatures(const char *dir, trust_signatures *out, berth_error **err)
{
	CURL *curl;
	int ret = 0;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (curl = curl_easy_init()) == NULL)
		return berth_error_request(err, ENOTSUP, "lookaside %s: %s", dir,
					   curl_easy_strerror(CURLE_FAILED_INIT));
	for (size_t i = 1; i <= TRUST_SIGNATURES_MAX + 1 && ret == 0; i++) {
		_cleanup_free_ char *url = NULL;
		http_body body;
		if (asprintf(&url, "%s/signature-%zu", dir, i) < 0) {
			ret = berth_error_set(err, ENOMEM, "signatures");
			break;
		}
		ret = http_get(curl, url, &body, err);
		if (ret == 0) {
			ret = trust_signatures_add(out, body.data ? body.data : "", body.len, err);
			free(body.data);
		}
		curl_easy_reset(curl);
	}
	curl_easy_cleanup(curl);
	return ret < 0 ? ret : 0;
}

int trust_lookaside_fetch(const char *base, const char *digest, trust_signatures *out, berth_error **err)
{
	_cleanup_free_ char *dir = signature_dir(base, digest, err);

	if (dir == NULL)
		return -1;
	if (strncmp(dir, "file:///", 8) == 0)
		return read_dir_signatures(dir + 7, out, err);
	if (strncmp(dir, "http://", 7) == 0 || strncmp(dir, "https://", 8) == 0)
		return read_http_signatures(dir, out, err);
	return berth_error_request(err, EINVAL, "lookaside \"%s\": only file:///, http:// and https:// are supported",
				   base);
}

int trust_lookaside_store(const char *base, const char *digest, const char *sig, size_t len, berth_error **err)
{
	_cleanup_free_ char *dir = signature_dir(base, digest, err);
	trust_signatures existing = { 0 };
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int fd = -1;
	int ret;

	if (dir == NULL)
		return -1;
	if (strncmp(dir, "file:///", 8) != 0)
		return berth_error_request(err, ENOTSUP, "lookaside-staging \"%s\": berth writes only to file:/// URLs",
					   base);
	if (fs_mkdir_p(dir + 7, 0755, err) < 0 || read_dir_signatures(dir + 7, &existing, err) < 0) {
		trust_signatures_free(&existing);
		return -1;
	}
	ret = asprintf(&name, "signature-%zu", existing.n + 1) < 0 ? berth_error_set(err, ENOMEM, "signature") : 0;
	trust_signatures_free(&existing);
	if (ret == 0 && (fd = open(dir + 7, O_DIRECTORY | O_RDONLY | O_CLOEXEC)) < 0)
		ret = berth_error_set(err, errno, "lookaside \"%s\"", dir + 7);
	if (ret == 0 && (ret = fs_write_file_atomic(fd, name, sig, len, 0644, err)) < 0)
		berth_error_wrap(err, "lookaside \"%s\"", dir + 7);
	return ret;
}

static char *base64(const char *data, size_t len)
{
	size_t cap = (len + 2) / 3 * 4 + 1;
	char *out = malloc(cap);

	if (out && b64_ntop((const unsigned char *)data, len, out, cap) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* DIR/sigstore-N: {"payload": BASE64, "signature": BASE64} */
static int read_sigstore_record(const char *dir, trust_signatures *out, berth_error **err)
{
	for (size_t i = 1; i <= TRUST_SIGNATURES_MAX; i++) {
		_cleanup_free_ char *path = NULL, *text = NULL, *payload = NULL;
		const char *p64, *sig;
		size_t len = 0;
		json_t *j;
		int n = -1, ret;

		if (asprintf(&path, "%s/sigstore-%zu", dir, i) < 0)
			return berth_error_set(err, ENOMEM, "signatures");
		if (fs_read_file(path, &text, &len, err) < 0) {
			if ((*err)->code != ENOENT)
				return -1;
			berth_error_free(err);
			return 0;
		}
		j = json_loadb(text, len, 0, NULL);
		p64 = json_string_value(json_object_get(j, "payload"));
		sig = json_string_value(json_object_get(j, "signature"));
		if (p64 && sig && (payload = malloc(strlen(p64) + 1)))
			n = b64_pton(p64, (unsigned char *)payload, strlen(p64) + 1);
		ret = n < 0 || sig == NULL ? berth_error_request(err, EBADMSG, "\"%s\": not a sigstore record", path)
					   : trust_signatures_add_sigstore(out, payload, (size_t)n, sig, err);
		json_decref(j);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* STORE_ROOT/signatures/sha256-HEX */
static char *record_dir(const char *store_root, const char *digest, berth_error **err)
{
	const char *colon = strchr(digest, ':');
	char *out = NULL;

	if (colon == NULL ||
	    asprintf(&out, "%s/signatures/%.*s-%s", store_root, (int)(colon - digest), digest, colon + 1) < 0) {
		berth_error_set(err, colon ? ENOMEM : EINVAL, "signatures of %s", digest);
		return NULL;
	}
	return out;
}

int trust_record_save(const char *store_root, const char *digest, const char *signed_digest,
		      const trust_signatures *sigs, berth_error **err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -1;

	if (sigs->n == 0 && sigs->n_sigstore == 0)
		return 0;
	if ((dir = record_dir(store_root, digest, err)) == NULL || fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "signatures \"%s\"", dir);
	for (size_t i = 0; i < sigs->n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "signature-%zu", i + 1);
		if (fs_write_file_atomic(fd, name, sigs->data[i], sigs->len[i], 0600, err) < 0)
			return berth_error_wrap(err, "signatures \"%s\"", dir);
	}
	for (size_t i = 0; i < sigs->n_sigstore; i++) {
		_cleanup_free_ char *text = NULL,
				    *payload = base64(sigs->sigstore[i].payload, sigs->sigstore[i].payload_len);
		char name[32];
		json_t *j = payload
				? json_pack("{s:s, s:s}", "payload", payload, "signature", sigs->sigstore[i].signature)
				: NULL;
		text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (text == NULL)
			return berth_error_set(err, ENOMEM, "signatures");
		snprintf(name, sizeof(name), "sigstore-%zu", i + 1);
		if (fs_write_file_atomic(fd, name, text, strlen(text), 0600, err) < 0)
			return berth_error_wrap(err, "signatures \"%s\"", dir);
	}
	if (fs_write_file_atomic(fd, "signed-digest", signed_digest, strlen(signed_digest), 0600, err) < 0)
		return berth_error_wrap(err, "signatures \"%s\"", dir);
	return 0;
}

int trust_record_load(const char *store_root, const char *digest, char *signed_digest, trust_signatures *out,
		      berth_error **err)
{
	_cleanup_free_ char *dir = record_dir(store_root, digest, err), *path = NULL, *text = NULL;
	size_t len = 0;

	if (dir == NULL)
		return -1;
	snprintf(signed_digest, DIGEST_STRING_MAX, "%s", digest);
	if ((path = fs_path_join(dir, "signed-digest")) == NULL)
		return berth_error_set(err, ENOMEM, "signatures");
	if (fs_read_file(path, &text, &len, err) < 0) {
		if ((*err)->code != ENOENT)
			return -1;
		berth_error_free(err);
		return 0;
	}
	if (digest_validate(text, err) < 0)
		return berth_error_wrap(err, "\"%s\"", path);
	snprintf(signed_digest, DIGEST_STRING_MAX, "%s", text);
	if (read_dir_signatures(dir, out, err) < 0)
		return -1;
	return read_sigstore_record(dir, out, err);
}

json_t *trust_record_json(const char *store_root, const char *digest)
{
	char signed_digest[DIGEST_STRING_MAX];
	trust_signatures sigs = { 0 };
	berth_error *err = NULL;
	json_t *j = NULL;

	if (trust_record_load(store_root, digest, signed_digest, &sigs, &err) < 0)
		berth_error_free(&err);
	else if (sigs.n + sigs.n_sigstore > 0)
		j = json_pack("{s:s, s:I, s:I}", "SignedDigest", signed_digest, "SimpleSigning", (json_int_t)sigs.n,
			      "Sigstore", (json_int_t)sigs.n_sigstore);
	trust_signatures_free(&sigs);
	return j;
}
