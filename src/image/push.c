/* image_push: blobs (skipped when present, mounted from another repository
 * of the same registry when the image came from one, else uploaded), then
 * the manifest with its exact stored bytes so that its digest is kept. */
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

#define PUSH_ATTEMPTS 4 /* the first try and 3 retries */

typedef struct push_state {
	store *s;
	registry_client *client;
	image_ref ref;
	char *display;
	char *mount_from; /* another repository of the same registry holding the image, or NULL */
	const oci_descriptor **blobs;
	size_t n_blobs;
	trust_pending_signature signature; /* --sign-by: made before the upload */
} push_state;

/* URL with "digest=sha256%3A..." appended to LOCATION. */
static char *upload_url(const char *location, const char *digest)
{
	char *out = NULL;

	if (asprintf(&out, "%s%sdigest=sha256%%3A%s", location, strchr(location, '?') ? "&" : "?", digest_hex(digest)) <
	    0)
		return NULL;
	return out;
}

/* HEAD: does the registry have the blob in this repository? */
static int blob_present(push_state *st, registry_conn *conn, const oci_descriptor *d, bool *present, berth_error **err)
{
	_cleanup_free_ char *path = registry_path(st->client, "blobs", d->digest);
	registry_request req = { .method = "HEAD", .upload_fd = -1 };
	registry_response resp = { 0 };
	int ret = 0;

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "push");
	req.url = path;
	if (registry_do(conn, &req, &resp, err) < 0)
		return -1;
	*present = resp.status == 200;
	if (resp.status != 200 && resp.status != 404)
		ret = registry_status_error(&resp, d->digest, err);
	registry_response_free(&resp);
	return ret;
}

/* POST an upload (with a mount attempt when possible). *MOUNTED, or
 * *LOCATION for the upload to go on. */
static int upload_start(push_state *st, registry_conn *conn, const oci_descriptor *d, bool try_mount, bool *mounted,
			char **location, berth_error **err)
{
	_cleanup_free_ char *url = NULL;
	registry_request req = { .method = "POST", .upload_fd = -1 };
	registry_response resp = { 0 };
	int ret = 0;

	*mounted = false;
	if (try_mount ? asprintf(&url, "/v2/%s/blobs/uploads/?mount=sha256%%3A%s&from=%s", st->ref.path,
				 digest_hex(d->digest), st->mount_from) < 0
		      : asprintf(&url, "/v2/%s/blobs/uploads/", st->ref.path) < 0)
		return berth_error_set(err, ENOMEM, "push");
	req.url = url;
	if (registry_do(conn, &req, &resp, err) < 0)
		return -1;
	if (resp.status == 201 && try_mount)
		*mounted = true;
	else if (resp.status == 202 && resp.location)
		*location = move_ptr(resp.location);
	else
		ret = registry_status_error(&resp, "start upload", err);
	registry_response_free(&resp);
	return ret;
}

static int upload_put(push_state *st, registry_conn *conn, const oci_descriptor *d, const char *location,
		      berth_error **err)
{
	_cleanup_free_ char *url = upload_url(location, d->digest), *what = NULL;
	_cleanup_close_ int fd = -EBADF;
	registry_request req = { .method = "PUT", .content_type = "application/octet-stream" };
	registry_response resp = { 0 };
	int64_t size = 0;
	int ret = 0;

	if (url == NULL || asprintf(&what, "blob %s", d->digest) < 0)
		return berth_error_set(err, ENOMEM, "push");
	if (store_blob_size(st->s, d->digest, &size, err) < 0 || (fd = store_blob_open(st->s, d->digest, err)) < 0)
		return -1;
	req.url = url;
	req.upload_fd = fd;
	req.upload_size = size;
	req.what = what;
	if (registry_do(conn, &req, &resp, err) < 0)
		return -1;
	if (resp.status != 201 && resp.status != 204)
		ret = registry_status_error(&resp, what, err);
	registry_response_free(&resp);
	return ret;
}

static int blob_push_attempt(push_state *st, registry_conn *conn, const oci_descriptor *d, berth_error **err)
{
	_cleanup_free_ char *location = NULL;
	bool present = false, mounted = false;

	if (blob_present(st, conn, d, &present, err) < 0)
		return -1;
	if (present) {
		registry_progress_add_moved(st->client->progress, d->size);
		registry_blob_done(st->client, "Blob exists", d->digest + 7, d->size);
		return 0;
	}
	if (upload_start(st, conn, d, st->mount_from != NULL, &mounted, &location, err) < 0)
		return -1;
	if (mounted) {
		berth_debug("push %s: mounted blob %s from %s", st->display, d->digest, st->mount_from);
		registry_progress_add_moved(st->client->progress, d->size);
		registry_blob_done(st->client, "Mounted blob", d->digest + 7, d->size);
		return 0;
	}
	if (upload_put(st, conn, d, location, err) < 0)
		return -1;
	registry_blob_done(st->client, "Copied blob", d->digest + 7, d->size);
	return 0;
}

static int blob_push(void *ctx, registry_conn *conn, size_t i, berth_error **err)
{
	push_state *st = ctx;
	const oci_descriptor *d = st->blobs[i];
	int ret = -1;

	for (int attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
		if (attempt > 1) {
			long ms = 250L * attempt;
			struct timespec pause = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
			berth_log(BERTH_LOG_WARNING, "push %s: %s; retrying (%d of %d)", st->display, (*err)->msg,
				  attempt - 1, PUSH_ATTEMPTS - 1);
			berth_error_free(err);
			nanosleep(&pause, NULL);
		}
		ret = blob_push_attempt(st, conn, d, err);
		if (ret == 0 || (*err && ((*err)->code == ECANCELED || (*err)->code == EACCES ||
					  (*err)->code == ENOENT || (*err)->code == ENOMEM)))
			break;
	}
	return ret < 0 ? berth_error_wrap(err, "push %s", st->display) : 0;
}

static int put_manifest(push_state *st, const image_info *info, berth_error **err)
{
	_cleanup_free_ char *body = NULL, *path = NULL;
	registry_request req = { .method = "PUT", .upload_fd = -1, .content_type = info->manifest_media_type };
	registry_response resp = { 0 };
	registry_conn conn;
	size_t len = 0;
	int ret;

	if (store_blob_read(st->s, info->manifest_digest, MANIFEST_MAX_SIZE, &body, &len, err) < 0)
		return -1;
	path = registry_path(st->client, "manifests", st->ref.tag ? st->ref.tag : info->manifest_digest);
	if (path == NULL)
		return berth_error_set(err, ENOMEM, "push");
	req.url = path;
	req.data = body;
	req.data_len = len;
	if (registry_conn_init(&conn, st->client, err) < 0)
		return -1;
	ret = registry_do(&conn, &req, &resp, err);
	registry_conn_cleanup(&conn);
	if (ret == 0 && resp.status != 201 && resp.status != 200)
		ret = registry_status_error(&resp, "put manifest", err);
	if (ret == 0 && resp.docker_content_digest && strcmp(resp.docker_content_digest, info->manifest_digest) != 0)
		berth_log(BERTH_LOG_WARNING, "push %s: the registry recorded the manifest as %s, not %s", st->display,
			  resp.docker_content_digest, info->manifest_digest);
	registry_response_free(&resp);
	return ret;
}

/* ---- planning ---- */

/* A repository of the destination's registry that the image has a name in
 * (it was pulled from or pushed to there): blobs can be mounted from it. */
static char *mount_source(const push_state *st, const image_info *info)
{
	for (char **n = info->names; n && *n; n++) {
		image_ref other = { 0 };
		char *found = NULL;
		if (image_ref_parse(*n, &other, NULL) < 0)
			continue;
		if (strcmp(other.domain, st->ref.domain) == 0 && strcmp(other.path, st->ref.path) != 0)
			found = strdup(other.path);
		image_ref_free(&other);
		if (found)
			return found;
	}
	return NULL;
}

static int plan_push(push_state *st, const image_info *info, berth_error **err)
{
	const image_manifest *m = &info->manifest;

	st->blobs = calloc(m->n_layers + 1, sizeof(*st->blobs));
	if (st->blobs == NULL)
		return berth_error_set(err, ENOMEM, "push");
	for (size_t i = 0; i <= m->n_layers; i++) {
		const oci_descriptor *d = i == 0 ? &m->config : &m->layers[i - 1];
		bool dup = false;
		if (!store_blob_exists(st->s, d->digest))
			return registry_error(err, ENOENT, "push %s: blob %s is not in the store", st->display,
					      d->digest);
		for (size_t j = 0; j < st->n_blobs; j++)
			dup = dup || strcmp(st->blobs[j]->digest, d->digest) == 0;
		if (dup)
			continue;
		st->blobs[st->n_blobs++] = d;
	}
	return 0;
}

static int push_image(push_state *st, const image_info *info, const push_options *opts, berth_error **err)
{
	int ret;

	if (st->ref.digest && strcmp(st->ref.digest, info->manifest_digest) != 0)
		return registry_error(err, EINVAL, "push %s: the image's manifest is %s", st->display,
				      info->manifest_digest);
	if (plan_push(st, info, err) < 0)
		return -1;
	if (opts->sign_by && opts->sign_by_sigstore_key)
		return registry_error(err, EINVAL,
				      "push: --sign-by and --sign-by-sigstore-private-key exclude each other");
	if ((opts->sign_by || opts->sign_by_sigstore_key) && st->ref.tag == NULL)
		return registry_error(err, EINVAL, "push %s: a signature names a tag: push to NAME:TAG to sign",
				      st->display);
	if (opts->sign_by || opts->sign_by_sigstore_key) {
		_cleanup_free_ char *identity = trust_identity_of(st->display, err);
		if (identity == NULL ||
		    (opts->sign_by ? trust_sign_prepare(&opts->trust, opts->sign_by, identity, info->manifest_digest,
							&st->signature, err)
				   : trust_sign_prepare_sigstore(&opts->trust, opts->sign_by_sigstore_key, identity,
								 info->manifest_digest, &st->signature, err)) < 0)
			return berth_error_wrap(err, "push %s", st->display);
	}
	st->mount_from = mount_source(st, info);
	if (registry_client_open(st->ref.domain, st->ref.path, true, &opts->registry, NULL, &st->client, err) < 0)
		return berth_error_wrap(err, "push %s", st->display);
	st->client->progress = registry_progress_new(opts->registry.quiet);
	registry_progress_note(st->client->progress, "Pushing %s", st->display);
	for (size_t i = 0; i < st->n_blobs; i++)
		registry_progress_add_total(st->client->progress, st->blobs[i]->size);
	ret = registry_parallel(st->client, st->n_blobs, opts->registry.jobs, blob_push, st, err);
	if (ret == 0 && (ret = put_manifest(st, info, err)) < 0)
		berth_error_wrap(err, "push %s", st->display);
	if (ret == 0 && st->signature.digest && (ret = trust_sign_commit(&st->signature, st->client, err)) < 0)
		berth_error_wrap(err, "push %s", st->display);
	registry_progress_free(st->client->progress);
	st->client->progress = NULL;
	return ret;
}

int image_push(store *s, const char *source, const char *destination, const push_options *opts,
	       char out_digest[DIGEST_STRING_MAX], berth_error **err)
{
	push_state st = { .s = s };
	image_info info = { 0 };
	const char *dest = destination ? destination : source;
	int ret;

	if (strncmp(dest, "docker://", 9) == 0)
		dest += 9;
	if (image_ref_parse(dest, &st.ref, err) < 0)
		return berth_error_wrap(err, "push");
	if (asprintf(&st.display, "%s/%s%s%s", st.ref.domain, st.ref.path, st.ref.tag ? ":" : "",
		     st.ref.tag ? st.ref.tag : "") < 0) {
		image_ref_free(&st.ref);
		return berth_error_set(err, ENOMEM, "push");
	}
	ret = store_gc_lock(s, false, err);
	if (ret == 0) {
		ret = image_resolve(s, source, &info, err);
		if (ret < 0)
			berth_error_wrap(err, "push");
		else
			ret = push_image(&st, &info, opts, err);
		store_gc_unlock(s);
	}
	if (ret == 0 && out_digest)
		snprintf(out_digest, DIGEST_STRING_MAX, "%s", info.manifest_digest);
	image_info_free(&info);
	registry_client_free(st.client);
	free(st.blobs);
	free(st.mount_from);
	free(st.display);
	trust_pending_signature_free(&st.signature);
	image_ref_free(&st.ref);
	return ret;
}
