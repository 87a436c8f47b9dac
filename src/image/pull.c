/* image_pull: manifest (through an index to the platform's), the config,
 * then the layers in parallel, each unpacked as it downloads, then name. */
#include "image/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/byte_pipe.h"
#include "image/images.h"
#include "image/reference.h"
#include "image/registry_http.h"
#include "util/cleanup.h"
#include "util/log.h"

#define BLOB_ATTEMPTS 4		 /* the first try and 3 retries */
#define STREAM_BUFFER (4u << 20) /* compressed bytes between a download and its unpack */

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
	char *display;	/* "HOST/REPO:TAG" or "HOST/REPO@DIGEST" as asked */
	char *identity; /* for the signature policy: "HOST/REPO:TAG" or "HOST/REPO@DIGEST" */
	trust_policy policy;
	trust_signatures signatures;	    /* what the policy check read */
	char top_digest[DIGEST_STRING_MAX]; /* the manifest the signatures sign */
	struct pull_task *todo;
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

/* A blob to download; a layer with CHAIN_ID set is unpacked as it arrives
 * into that snapshot, whose DIFF_ID the config gives. */
typedef struct pull_task {
	const oci_descriptor *d;
	const char *chain_id;
	const char *diff_id;
} pull_task;

/* The unpack of one download attempt: a thread reading PIPE into the
 * snapshot temp dir TMP. */
typedef struct layer_stream {
	pull_state *st;
	byte_pipe *pipe;
	char *tmp;
	int dirfd;
	pthread_t thread;
	bool running;
	int ret;
	berth_error *err;
	unpack_result res;
} layer_stream;

static ssize_t stream_read(void *ctx, const void **buf)
{
	return byte_pipe_read(ctx, buf);
}

static void stream_tee(void *ctx, const void *data, size_t len)
{
	byte_pipe_write(ctx, data, len);
}

static void *stream_unpack(void *arg)
{
	layer_stream *ls = arg;
	layer_source src = { .read = stream_read, .ctx = ls->pipe };

	ls->ret = layer_unpack_from(&src, ls->dirfd, &ls->st->opts->unpack, &ls->res, &ls->err);
	/* what the download still sends is dropped; it is verified all the same */
	byte_pipe_reader_done(ls->pipe);
	return NULL;
}

/* Waits for the unpack thread, frees what it used; the snapshot temp dir
 * stays (ls->tmp) for the caller to commit or abort. */
static void stream_join(layer_stream *ls)
{
	if (ls->running) {
		byte_pipe_close(ls->pipe, ECONNABORTED); /* no-op after a close by the download */
		pthread_join(ls->thread, NULL);
		ls->running = false;
	}
	byte_pipe_free(ls->pipe);
	ls->pipe = NULL;
	cleanup_closep(&ls->dirfd);
}

/* Throws the attempt's unpack away: the temp dir is removed, never renamed. */
static void stream_discard(layer_stream *ls)
{
	stream_join(ls);
	if (ls->tmp)
		store_snapshot_abort(ls->st->s, ls->tmp);
	free(ls->tmp);
	berth_error_free(&ls->err);
	*ls = (layer_stream){ .dirfd = -EBADF };
}

static int stream_start(pull_state *st, layer_stream *ls, berth_error **err)
{
	int ret;

	*ls = (layer_stream){ .st = st, .dirfd = -EBADF };
	ls->pipe = byte_pipe_new(STREAM_BUFFER);
	if (ls->pipe == NULL)
		return berth_error_set(err, ENOMEM, "unpack stream");
	ls->dirfd = store_snapshot_begin(st->s, &ls->tmp, err);
	if (ls->dirfd < 0) {
		stream_discard(ls);
		return -1;
	}
	ret = pthread_create(&ls->thread, NULL, stream_unpack, ls);
	if (ret != 0) {
		stream_discard(ls);
		return berth_error_set(err, ret, "start the unpack thread");
	}
	ls->running = true;
	return 0;
}

/* The download is complete and its blob verified: the unpack must have
 * succeeded with the config's diff_id, then the snapshot goes in under its
 * chain id. Anything else discards it. */
static int stream_finish(pull_task *t, layer_stream *ls, berth_error **err)
{
	int ret = 0;

	stream_join(ls);
	if (ls->ret < 0) {
		berth_error_free(err);
		*err = move_ptr(ls->err);
		ret = berth_error_wrap(err, "unpack layer %s", t->d->digest);
	} else if (strcmp(ls->res.diff_id, t->diff_id) != 0) {
		ret = berth_error_set(err, EBADMSG,
				      "layer %s: uncompressed content hashes to %s, but the image config says %s",
				      t->d->digest, ls->res.diff_id, t->diff_id);
	} else if ((ret = store_snapshot_commit(ls->st->s, ls->tmp, t->chain_id, err)) == 0) {
		berth_debug("unpacked layer %s (%llu bytes, %llu entries) as snapshot %.19s while downloading",
			    t->d->digest, (unsigned long long)ls->res.size, (unsigned long long)ls->res.entries,
			    t->chain_id);
		free(move_ptr(ls->tmp)); /* renamed: nothing to remove */
	}
	stream_discard(ls);
	return ret;
}

static bool retryable(const registry_response *resp, const berth_error *e)
{
	if (e)
		return e->code != ECANCELED && e->code != EACCES && e->code != ENOMEM && e->code != ENOSPC;
	return resp->status >= 500 || resp->status == 408 || resp->status == 429;
}

/* One GET of a blob into W (and PIPE, when not NULL); <0 with *RETRY saying
 * whether to try again. */
static int blob_attempt(pull_state *st, registry_conn *conn, const oci_descriptor *d, store_writer *w, byte_pipe *pipe,
			bool *retry, berth_error **err)
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
	if (pipe) {
		req.tee = stream_tee;
		req.tee_ctx = pipe;
	}
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

/* Downloads T's blob, retrying, and unpacks it on the way when T says so:
 * each attempt streams into a fresh snapshot temp dir. The blob is
 * verified (digest and size) before the snapshot is considered; a
 * mismatch, like any failure, leaves neither. */
static int blob_fetch(pull_state *st, registry_conn *conn, pull_task *t, berth_error **err)
{
	const oci_descriptor *d = t->d;
	layer_stream ls = { .dirfd = -EBADF };
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
		if (t->chain_id && stream_start(st, &ls, err) < 0)
			break;
		ret = blob_attempt(st, conn, d, w, ls.pipe, &retry, err);
		if (ret == 0)
			break;
		stream_discard(&ls); /* the next attempt starts over */
	}
	if (ret < 0) {
		store_writer_abort(w);
		return ret;
	}
	if (ls.pipe)
		byte_pipe_close(ls.pipe, 0);	 /* the end: the unpack finishes while the blob is synced */
	ret = store_writer_commit(w, NULL, err); /* the store names the blob and both digests */
	if (ret < 0)
		stream_discard(&ls);
	else if (ls.pipe)
		ret = stream_finish(t, &ls, err);
	if (ret < 0)
		return ret;
	registry_blob_done(st->client, "Copied blob", d->digest + 7, d->size);
	return 0;
}

static int blob_download(void *ctx, registry_conn *conn, size_t i, berth_error **err)
{
	pull_state *st = ctx;

	return blob_fetch(st, conn, &st->todo[i], err);
}

static bool todo_has(const pull_state *st, const char *digest)
{
	for (size_t i = 0; i < st->n_todo; i++)
		if (strcmp(st->todo[i].d->digest, digest) == 0)
			return true;
	return false;
}

/* Checks what the manifest names before anything is fetched. */
static int check_manifest(const image_manifest *m, berth_error **err)
{
	if (digest_validate(m->config.digest, err) < 0)
		return berth_error_wrap(err, "manifest");
	if (m->config.size > (int64_t)MANIFEST_MAX_SIZE)
		return registry_error(err, EFBIG, "config of %lld bytes is too large", (long long)m->config.size);
	for (size_t i = 0; i < m->n_layers; i++) {
		const oci_descriptor *d = &m->layers[i];
		if (digest_validate(d->digest, err) < 0)
			return berth_error_wrap(err, "manifest");
		if (!layer_media_type_supported(d->media_type))
			return registry_error(err, ENOTSUP, "unsupported media type \"%s\" of layer %s",
					      d->media_type ? d->media_type : "", d->digest);
	}
	return 0;
}

/* The config: from the store, else downloaded first (its diff_ids name the
 * snapshots the layers unpack into). */
static int pull_config(pull_state *st, const image_manifest *m, image_config *out, berth_error **err)
{
	_cleanup_free_ char *body = NULL;
	size_t len;
	pull_task t = { .d = &m->config };
	registry_conn conn;
	int ret = 0;

	if (!store_blob_exists(st->s, m->config.digest)) {
		registry_progress_add_total(st->client->progress, m->config.size);
		if (registry_conn_init(&conn, st->client, err) < 0)
			return -1;
		ret = blob_fetch(st, &conn, &t, err);
		registry_conn_cleanup(&conn);
	}
	if (ret == 0)
		ret = store_blob_read(st->s, m->config.digest, MANIFEST_MAX_SIZE, &body, &len, err);
	if (ret == 0 && (ret = image_config_parse(body, len, out, err)) < 0)
		berth_error_wrap(err, "config %s", m->config.digest);
	if (ret == 0 && out->n_diff_ids != m->n_layers)
		ret = registry_error(err, EINVAL, "image %s: %zu layers but %zu diff_ids in its config",
				     m->config.digest, m->n_layers, out->n_diff_ids);
	return ret;
}

/* The layers not in the store yet, each digest once; a layer whose
 * snapshot is missing too is unpacked as it downloads. */
static int plan_layers(pull_state *st, const image_manifest *m, const image_config *c,
		       char (*chains)[DIGEST_STRING_MAX], berth_error **err)
{
	st->todo = calloc(m->n_layers + 1, sizeof(*st->todo));
	if (st->todo == NULL)
		return berth_error_set(err, ENOMEM, "pull");
	image_chain_ids(c->diff_ids, m->n_layers, chains);
	for (size_t i = 0; i < m->n_layers; i++) {
		const oci_descriptor *d = &m->layers[i];
		pull_task *t = &st->todo[st->n_todo];

		if (store_blob_exists(st->s, d->digest) || todo_has(st, d->digest))
			continue;
		t->d = d;
		if (!store_snapshot_exists(st->s, chains[i])) {
			t->chain_id = chains[i];
			t->diff_id = c->diff_ids[i];
		}
		st->n_todo++;
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
	/* the policy speaks of what the reference names (an index when it is
	 * one), and nothing of the image is stored before it agrees */
	if (trust_check_pull(&st->opts->trust, &st->policy, store_root(st->s), st->client, st->identity, m->digest,
			     &st->signatures, err) < 0)
		return -1;
	snprintf(st->top_digest, sizeof(st->top_digest), "%s", m->digest);
	if (m->kind == MANIFEST_KIND_INDEX && resolve_index(st, conn, want, m, err) < 0)
		return -1;
	return 0;
}

static int pull_locked(pull_state *st, const oci_platform *want, image_info *out, berth_error **err)
{
	_cleanup_free_ char *name = image_ref_name(&st->ref);
	_cleanup_free_ char(*chains)[DIGEST_STRING_MAX] = NULL;
	fetched_manifest m = { 0 };
	image_manifest parsed = { 0 };
	image_config config = { 0 };
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
		ret = check_manifest(&parsed, err);
	if (ret == 0)
		ret = pull_config(st, &parsed, &config, err);
	if (ret == 0 && (chains = calloc(parsed.n_layers + 1, DIGEST_STRING_MAX)) == NULL)
		ret = berth_error_set(err, ENOMEM, "pull");
	if (ret == 0)
		ret = plan_layers(st, &parsed, &config, chains, err);
	if (ret == 0)
		ret = registry_parallel(st->client, st->n_todo, st->opts->registry.jobs, blob_download, st, err);
	if (ret == 0 && !store_blob_exists(st->s, m.digest) &&
	    (ret = store_blob_put(st->s, m.body, m.len, m.digest, NULL, err)) < 0)
		berth_error_wrap(err, "store the manifest");
	if (ret == 0 && (ret = image_load_info(st->s, m.digest, &info, err)) == 0) {
		warn_platform(st, &info, want);
		/* what did not unpack on the way: a layer already in the store, or
		 * one the image repeats */
		ret = image_unpack(st->s, &info, &st->opts->unpack, err);
		image_info_free(&info);
	}
	if (ret == 0 &&
	    (ret = trust_record_save(store_root(st->s), m.digest, st->top_digest, &st->signatures, err)) < 0)
		berth_error_wrap(err, "keep the signatures");
	if (ret == 0)
		ret = store_ref_set(st->s, name, m.digest, m.media_type, (int64_t)m.len, err);
	if (ret == 0 && out)
		ret = image_load_info(st->s, m.digest, out, err);
	if (ret < 0)
		berth_error_wrap(err, "pull %s", st->display);
	image_config_free(&config);
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
	st.identity = st.display ? trust_identity_of(reference, err) : NULL;
	if (st.display == NULL)
		ret = berth_error_set(err, ENOMEM, "pull");
	else if (st.identity == NULL)
		ret = berth_error_wrap(err, "pull");
	/* a policy that does not parse, or refuses the name outright, fails
	 * before the registry is asked anything */
	else if ((ret = trust_policy_load(opts->trust.policy_path, opts->trust.rootless, &st.policy, err)) < 0 ||
		 (ret = trust_check_early(&st.policy, st.identity, err)) < 0)
		berth_error_wrap(err, "pull %s", st.display);
	else
		ret = store_gc_lock(s, false, err);
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
	free(st.identity);
	trust_policy_free(&st.policy);
	trust_signatures_free(&st.signatures);
	platform_free(&want);
	image_ref_free(&st.ref);
	return ret;
}
