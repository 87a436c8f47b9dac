/* image_pull: manifest (through an index to the platform's), then config and
 * layers in parallel into store writers, then unpack and name. */
#include "image/registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/reference.h"
#include "image/registry_http.h"
#include "util/cleanup.h"
#include "util/log.h"

#define BLOB_ATTEMPTS 4 /* the first try and 3 retries */

typedef struct fetched_manifest {
	char *body;
	size_t len;
	char digest[DIGEST_STRING_MAX];
	char *media_type;
	manifest_kind kind;
} fetched_manifest;

typedef struct pull_state {
	store *s;
	registry_client *client;
	const pull_options *opts;
	image_ref ref;
	char *display; /* "HOST/REPO:TAG" or "HOST/REPO@DIGEST" as asked */
	const oci_descriptor **todo;
	size_t n_todo;
} pull_state;

static void fetched_manifest_free(fetched_manifest *m)
{
	free(m->body);
	free(m->media_type);
	*m = (fetched_manifest){ 0 };
}

static char *display_name(const image_ref *ref)
{
	char *out = NULL;

	if (asprintf(&out, "%s/%s%s%s%s%s", ref->domain, ref->path, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
		     ref->digest ? "@" : "", ref->digest ? ref->digest : "") < 0)
		return NULL;
	return out;
}

/* GET the manifest REFERENCE (a tag or digest); with PIN, its digest must be
 * PIN, and a manifest already in the store is read from there. */
static int manifest_download(pull_state *st, registry_conn *conn, const char *reference, const char *pin,
			     fetched_manifest *out, char **content_type, berth_error **err)
{
	_cleanup_free_ char *path = registry_path(st->client, "manifests", reference);
	registry_request req = { .method = "GET",
				 .accept = REGISTRY_MANIFEST_ACCEPT,
				 .upload_fd = -1,
				 .max_body = MANIFEST_MAX_SIZE,
				 .what = "manifest" };
	registry_response resp = { 0 };
	char code[64];

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "manifest");
	req.url = path;
	if (registry_do(conn, &req, &resp, err) < 0)
		return -1;
	if (resp.status == 404) {
		registry_error_code(&resp, code, sizeof(code));
		registry_response_free(&resp);
		if (strcmp(code, "NAME_UNKNOWN") == 0)
			return registry_error(err, ENOENT, "repository unknown: %s/%s", st->ref.domain, st->ref.path);
		return registry_error(err, ENOENT, "manifest unknown: %s", st->display);
	}
	if (resp.status != 200) {
		int ret = registry_status_error(&resp, "manifest", err);
		registry_response_free(&resp);
		return ret;
	}
	digest_buffer(resp.body ? resp.body : "", resp.len, out->digest);
	if (pin == NULL && resp.docker_content_digest && strcmp(resp.docker_content_digest, out->digest) != 0)
		berth_log(BERTH_LOG_WARNING, "%s: the registry says the manifest is %s, its bytes hash to %s",
			  st->display, resp.docker_content_digest, out->digest);
	out->body = resp.body ? move_ptr(resp.body) : strdup("");
	out->len = resp.len;
	*content_type = move_ptr(resp.content_type);
	registry_response_free(&resp);
	if (pin && strcmp(pin, out->digest) != 0)
		return registry_error(err, EBADMSG, "digest mismatch: the registry sent a manifest with digest %s",
				      out->digest);
	return 0;
}

static int manifest_fetch(pull_state *st, registry_conn *conn, const char *reference, const char *pin,
			  fetched_manifest *out, berth_error **err)
{
	_cleanup_free_ char *content_type = NULL;

	*out = (fetched_manifest){ 0 };
	if (pin && store_blob_exists(st->s, pin)) {
		if (store_blob_read(st->s, pin, MANIFEST_MAX_SIZE, &out->body, &out->len, err) < 0)
			return -1;
		snprintf(out->digest, sizeof(out->digest), "%s", pin);
	} else if (manifest_download(st, conn, reference, pin, out, &content_type, err) < 0) {
		fetched_manifest_free(out);
		return -1;
	}
	if (manifest_detect(content_type, out->body, out->len, &out->kind, &out->media_type, err) < 0) {
		fetched_manifest_free(out);
		return berth_error_wrap(err, "manifest %s", out->digest);
	}
	return 0;
}

/* An index: store it, pick the platform's manifest and fetch that. */
static int resolve_index(pull_state *st, registry_conn *conn, const oci_platform *want, fetched_manifest *m,
			 berth_error **err)
{
	image_index idx = { 0 };
	const oci_descriptor *pick = NULL;
	fetched_manifest child = { 0 };
	_cleanup_free_ char *plat = platform_string(want), *digest = NULL;
	int ret;

	if (index_parse(m->body, m->len, &idx, err) < 0)
		return berth_error_wrap(err, "index %s", m->digest);
	ret = index_select(&idx, want, &pick, err);
	if (ret == 0 && (digest = strdup(pick->digest)) == NULL)
		ret = berth_error_set(err, ENOMEM, "index");
	image_index_free(&idx);
	if (ret < 0)
		return ret;
	berth_debug("pull %s: %s is %s", st->display, plat ? plat : "platform", digest);
	if (!store_blob_exists(st->s, m->digest) && store_blob_put(st->s, m->body, m->len, m->digest, NULL, err) < 0)
		return berth_error_wrap(err, "store the index");
	if (manifest_fetch(st, conn, digest, digest, &child, err) < 0)
		return -1;
	if (child.kind != MANIFEST_KIND_IMAGE) {
		fetched_manifest_free(&child);
		return registry_error(err, EINVAL, "the index entry for %s is another index",
				      plat ? plat : "the platform");
	}
	fetched_manifest_free(m);
	*m = child;
	return 0;
}

/* ---- blobs ---- */

static bool retryable(const registry_response *resp, const berth_error *e)
{
	if (e)
		return e->code != ECANCELED && e->code != EACCES && e->code != ENOMEM && e->code != ENOSPC;
	return resp->status >= 500 || resp->status == 408 || resp->status == 429;
}

/* One GET of a blob into W; <0 with *RETRY saying whether to try again. */
static int blob_attempt(pull_state *st, registry_conn *conn, const oci_descriptor *d, store_writer *w, bool *retry,
			berth_error **err)
{
	_cleanup_free_ char *path = registry_path(st->client, "blobs", d->digest), *what = NULL;
	registry_request req = { .method = "GET", .upload_fd = -1, .sink = w };
	registry_response resp = { 0 };
	int ret;

	*retry = false;
	if (path == NULL || asprintf(&what, "blob %s", d->digest) < 0)
		return berth_error_set(err, ENOMEM, "blob");
	req.url = path;
	req.what = what;
	ret = registry_do(conn, &req, &resp, err);
	if (ret < 0) {
		*retry = retryable(&resp, *err);
	} else if (resp.status != 200) {
		*retry = retryable(&resp, NULL);
		ret = registry_status_error(&resp, what, err);
		if (resp.status == 404)
			ret = registry_error(err, ENOENT, "%s/%s: blob unknown: %s", st->ref.domain, st->ref.path,
					     d->digest);
	} else if (d->size >= 0 && store_writer_written(w) != (uint64_t)d->size) {
		*retry = true;
		ret = registry_error(err, EIO, "%s: got %llu of %lld bytes", what,
				     (unsigned long long)store_writer_written(w), (long long)d->size);
	}
	registry_response_free(&resp);
	return ret;
}

static int blob_download(void *ctx, registry_conn *conn, size_t i, berth_error **err)
{
	pull_state *st = ctx;
	const oci_descriptor *d = st->todo[i];
	store_writer *w = NULL;
	bool retry = true;
	int ret = -1;

	if (store_writer_open(st->s, d->digest, d->size, &w, err) < 0)
		return berth_error_wrap(err, "blob %s", d->digest);
	for (int attempt = 1; attempt <= BLOB_ATTEMPTS && retry; attempt++) {
		if (attempt > 1) {
			long ms = 250L * attempt;
			struct timespec pause = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
			berth_log(BERTH_LOG_WARNING, "pull %s: %s; retrying (%d of %d)", st->display, (*err)->msg,
				  attempt - 1, BLOB_ATTEMPTS - 1);
			berth_error_free(err);
			nanosleep(&pause, NULL);
			if (store_writer_reset(w, err) < 0)
				break;
		}
		ret = blob_attempt(st, conn, d, w, &retry, err);
		if (ret == 0)
			break;
	}
	if (ret < 0) {
		store_writer_abort(w);
		return ret;
	}
	if (store_writer_commit(w, NULL, err) < 0)
		return -1; /* the store names the blob and both digests */
	registry_progress_done(st->client->progress, "Copied blob", d->digest + 7, d->size);
	return 0;
}

static bool todo_has(const pull_state *st, const char *digest)
{
	for (size_t i = 0; i < st->n_todo; i++)
		if (strcmp(st->todo[i]->digest, digest) == 0)
			return true;
	return false;
}

/* The config and layers not in the store yet, each digest once. */
static int plan_blobs(pull_state *st, const image_manifest *m, berth_error **err)
{
	st->todo = calloc(m->n_layers + 1, sizeof(*st->todo));
	if (st->todo == NULL)
		return berth_error_set(err, ENOMEM, "pull");
	for (size_t i = 0; i <= m->n_layers; i++) {
		const oci_descriptor *d = i == 0 ? &m->config : &m->layers[i - 1];
		if (digest_validate(d->digest, err) < 0)
			return berth_error_wrap(err, "manifest");
		if (i > 0 && !layer_media_type_supported(d->media_type))
			return registry_error(err, ENOTSUP, "unsupported media type \"%s\" of layer %s",
					      d->media_type ? d->media_type : "", d->digest);
		if (i == 0 && d->size > (int64_t)MANIFEST_MAX_SIZE)
			return registry_error(err, EFBIG, "config of %lld bytes is too large", (long long)d->size);
		if (store_blob_exists(st->s, d->digest) || todo_has(st, d->digest))
			continue;
		st->todo[st->n_todo++] = d;
		registry_progress_add_total(st->client->progress, d->size);
	}
	return 0;
}

/* ---- the pull ---- */

static void warn_platform(pull_state *st, const image_info *info, const oci_platform *want)
{
	const image_config *c = &info->config;

	if (st->opts->platform == NULL || c->os == NULL || c->architecture == NULL)
		return;
	if (strcmp(c->os, want->os) != 0 || strcmp(c->architecture, want->architecture) != 0)
		berth_log(BERTH_LOG_WARNING, "pull %s: the image is %s/%s, not the requested %s", st->display, c->os,
			  c->architecture, st->opts->platform);
}

static int pull_manifest(pull_state *st, registry_conn *conn, const oci_platform *want, fetched_manifest *m,
			 berth_error **err)
{
	if (manifest_fetch(st, conn, image_ref_registry_reference(&st->ref), st->ref.digest, m, err) < 0)
		return -1;
	if (m->kind == MANIFEST_KIND_INDEX && resolve_index(st, conn, want, m, err) < 0)
		return -1;
	return 0;
}

static int pull_locked(pull_state *st, const oci_platform *want, image_info *out, berth_error **err)
{
	_cleanup_free_ char *name = image_ref_name(&st->ref);
	fetched_manifest m = { 0 };
	image_manifest parsed = { 0 };
	image_info info = { 0 };
	registry_conn conn;
	int ret;

	if (name == NULL)
		return berth_error_set(err, ENOMEM, "pull");
	if (registry_conn_init(&conn, st->client, err) < 0)
		return -1;
	ret = pull_manifest(st, &conn, want, &m, err);
	registry_conn_cleanup(&conn);
	if (ret == 0 && (ret = manifest_parse(m.body, m.len, &parsed, err)) < 0)
		berth_error_wrap(err, "manifest %s", m.digest);
	if (ret == 0)
		ret = plan_blobs(st, &parsed, err);
	if (ret == 0)
		ret = registry_parallel(st->client, st->n_todo, st->opts->registry.jobs, blob_download, st, err);
	if (ret == 0 && !store_blob_exists(st->s, m.digest) &&
	    (ret = store_blob_put(st->s, m.body, m.len, m.digest, NULL, err)) < 0)
		berth_error_wrap(err, "store the manifest");
	if (ret == 0 && (ret = image_load_info(st->s, m.digest, &info, err)) == 0) {
		warn_platform(st, &info, want);
		registry_progress_note(st->client->progress, "Unpacking %zu layers", info.manifest.n_layers);
		ret = image_unpack(st->s, &info, &st->opts->unpack, err);
		image_info_free(&info);
	}
	if (ret == 0)
		ret = store_ref_set(st->s, name, m.digest, m.media_type, (int64_t)m.len, err);
	if (ret == 0 && out)
		ret = image_load_info(st->s, m.digest, out, err);
	if (ret < 0)
		berth_error_wrap(err, "pull %s", st->display);
	image_manifest_free(&parsed);
	fetched_manifest_free(&m);
	return ret;
}

int image_pull(store *s, const char *reference, const pull_options *opts, image_info *out, berth_error **err)
{
	pull_state st = { .s = s, .opts = opts };
	oci_platform want = { 0 };
	int ret;

	if (strncmp(reference, "docker://", 9) == 0)
		reference += 9;
	if (image_ref_parse(reference, &st.ref, err) < 0)
		return berth_error_wrap(err, "pull");
	if (platform_parse(opts->platform, &want, err) < 0) {
		image_ref_free(&st.ref);
		return berth_error_wrap(err, "pull");
	}
	st.display = display_name(&st.ref);
	ret = st.display ? store_gc_lock(s, false, err) : berth_error_set(err, ENOMEM, "pull");
	if (ret == 0) {
		/* what a killed pull left half unpacked */
		store_snapshot_sweep(s);
		ret = registry_client_open(st.ref.domain, st.ref.path, false, &opts->registry, NULL, &st.client, err);
		if (ret < 0)
			berth_error_wrap(err, "pull %s", st.display);
		else {
			st.client->progress = registry_progress_new(opts->registry.quiet);
			registry_progress_note(st.client->progress, "Pulling %s", st.display);
			ret = pull_locked(&st, &want, out, err);
			registry_progress_free(st.client->progress);
		}
		store_gc_unlock(s);
	}
	registry_client_free(st.client);
	free(st.todo);
	free(st.display);
	platform_free(&want);
	image_ref_free(&st.ref);
	return ret;
}
