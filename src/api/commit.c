/* A container's filesystem and an image's history through the API
 * (build/commit.h, image/history.h, as `berth diff`, `commit`, `export` and
 * `image history`): GET /containers/{id}/changes, POST /commit,
 * GET /containers/{id}/export (streamed as it is written) and
 * GET /images/{name}/history. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/containers.h"
#include "api/http.h"
#include "build/commit.h"
#include "build/strv.h"
#include "engine/copy.h"
#include "image/history.h"
#include "engine/container.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

static store *open_store(api_request *r)
{
	berth_error *e = NULL;
	store *s = NULL;

	if (store_open(r->server->options->store_root, &s, &e) < 0) {
		api_reply_berth_error(r, &e);
		return NULL;
	}
	return s;
}

/* GET /containers/{id}/changes: [{"Path", "Kind"}] (docker diff) */
void api_container_changes(api_request *r)
{
	berth_error *e = NULL;
	container *c = NULL;
	json_t *changes = NULL;
	store *s;

	if (api_open_container(r, &c) < 0)
		return;
	s = open_store(r);
	if (s && build_container_diff(s, c, &changes, &e) < 0)
		api_reply_berth_error(r, &e);
	else if (s)
		api_reply_json(r, 200, changes);
	if (s)
		store_close(s);
	container_free(c);
}

/* ---- commit ---- */

typedef struct change_list {
	char **changes; /* NULL-terminated */
	bool failed;
} change_list;

/* Each `changes` value (the docker CLI sends one per -c; docker-py may
 * join them with newlines): one instruction per line. */
static enum MHD_Result collect_change(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
	change_list *cl = arg;
	const char *line = value;

	(void)kind;
	if (strcmp(key, "changes") != 0 || value == NULL)
		return MHD_YES;
	while (!cl->failed && *line) {
		size_t n = strcspn(line, "\n");
		size_t len = n > 0 && line[n - 1] == '\r' ? n - 1 : n;
		if (strspn(line, " \t\r") < n && build_strv_add(&cl->changes, line, len) < 0)
			cl->failed = true;
		line += n + (line[n] == '\n');
	}
	return MHD_YES;
}

/* The body of POST /commit: a container config (docker's Config), or
 * nothing ("null", what the docker CLI sends). */
static int commit_body(const api_request *r, json_t **out, berth_error **err)
{
	json_error_t je;

	*out = NULL;
	if (r->body == NULL || r->body_len == 0)
		return 0;
	*out = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &je);
	if (*out == NULL)
		return berth_error_request(err, EINVAL, "malformed JSON body: %s (line %d, column %d)", je.text,
					   je.line, je.column);
	if (json_is_null(*out)) {
		json_decref(*out);
		*out = NULL;
	} else if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return berth_error_request(err, EINVAL, "the JSON body must be an object");
	}
	return 0;
}

/* repo[:tag] as a reference, NULL when no repo is given (untagged). */
static int commit_reference(const api_request *r, char **out, berth_error **err)
{
	const char *repo = api_query(r, "repo"), *tag = api_query(r, "tag");

	*out = NULL;
	if (repo == NULL || *repo == '\0')
		return 0;
	if (asprintf(out, "%s%s%s", repo, tag && *tag ? ":" : "", tag && *tag ? tag : "") < 0) {
		*out = NULL;
		return berth_error_set(err, ENOMEM, "commit");
	}
	return 0;
}

/* POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=:
 * 201 {"Id": "sha256:..."}. Every input is checked before the container is
 * touched. */
void api_commit(api_request *r)
{
	const char *name = api_query(r, "container");
	_cleanup_free_ char *reference = NULL;
	change_list cl = { 0 };
	berth_error *e = NULL;
	json_t *config = NULL;
	container *c = NULL;
	char id[DIGEST_STRING_MAX];
	store *s = NULL;

	if (name == NULL || *name == '\0') {
		api_reply_error(r, 400, "container: required");
		return;
	}
	cl.changes = calloc(1, sizeof(char *));
	if (cl.changes == NULL) {
		api_reply_error(r, 500, "out of memory");
		return;
	}
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_change, &cl);
	build_commit_options o = { .comment = api_query(r, "comment"),
				   .author = api_query(r, "author"),
				   .pause = api_query_bool(r, "pause", true),
				   .changes = cl.changes };
	if (cl.failed) {
		api_reply_error(r, 500, "out of memory");
		goto out;
	}
	if (commit_body(r, &config, &e) < 0 || commit_reference(r, &reference, &e) < 0) {
		api_reply_berth_error(r, &e);
		goto out;
	}
	o.config = config;
	o.reference = reference;
	if (build_commit_validate(&o, &e) < 0) {
		api_reply_berth_error(r, &e);
		goto out;
	}
	if (record_open(&r->server->paths, name, &c, &e) < 0 || record_refresh(&r->server->paths, c, &e) < 0) {
		if (e && e->code == ENOENT) {
			berth_error_free(&e);
			api_reply_error(r, 404, "No such container: %s", name);
		} else {
			api_reply_berth_error(r, &e);
		}
		goto out;
	}
	s = open_store(r);
	if (s == NULL)
		goto out;
	if (build_commit(&r->server->paths, s, c, &o, id, &e) < 0)
		api_reply_berth_error(r, &e);
	else
		api_reply_json(r, 201, json_pack("{s:s}", "Id", id));
out:
	if (s)
		store_close(s);
	container_free(c);
	json_decref(config);
	strv_free(cl.changes);
}

/* ---- export ---- */

static void export_produce(int fd, void *arg)
{
	container *c = arg;
	berth_error *e = NULL;

	/* the answer has begun: an error cuts the tar short, which the client
	 * reports; the service's log says why */
	if (build_container_export(c, fd, &e) < 0) {
		if (!api_stream_closed(fd))
			berth_log(BERTH_LOG_WARNING, "%s", e->msg);
		berth_error_free(&e);
	}
}

static void export_free(void *arg)
{
	container_free(arg);
}

/* GET /containers/{id}/export: the container's rootfs as a flat tar,
 * written to the client as it is made. */
void api_container_export(api_request *r)
{
	_cleanup_free_ char *bundle = NULL, *rootfs = NULL;
	_cleanup_close_ int fd = -EBADF;
	berth_error *e = NULL;
	container *c = NULL;

	if (api_open_container(r, &c) < 0)
		return;
	/* the rootfs must be there before the answer starts: a 500 then, not
	 * an empty tar */
	bundle = engine_container_bundle(c);
	rootfs = bundle ? fs_path_join(bundle, "rootfs") : NULL;
	if (rootfs == NULL) {
		container_free(c);
		api_reply_error(r, 500, "out of memory");
		return;
	}
	fd = copy_open_rootfs(rootfs, &e);
	if (fd < 0) {
		container_free(c);
		berth_error_wrap(&e, "export %s", r->params[0]);
		e->code = e->code == ENOENT ? EIO : e->code;
		api_reply_berth_error(r, &e);
		return;
	}
	api_reply_stream(r, 200, "application/x-tar", export_produce, c, export_free);
}

/* ---- history ---- */

/* GET /images/{name}/history: newest first, as docker's */
void api_image_history(api_request *r)
{
	image_info info = { 0 };
	berth_error *e = NULL;
	json_t *rows = NULL;
	store *s = open_store(r);

	if (s == NULL)
		return;
	if (image_resolve(s, r->params[0], &info, &e) < 0) {
		/* as /images/{name}/json: docker's words for a name not found */
		berth_error_free(&e);
		api_reply_error(r, 404, "No such image: %s", r->params[0]);
		store_close(s);
		return;
	}
	if (image_history(s, &info, &rows, &e) < 0)
		api_reply_berth_error(r, &e);
	else
		api_reply_json(r, 200, rows);
	image_info_free(&info);
	store_close(s);
}
