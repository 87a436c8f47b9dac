/* /images: list, inspect, create (pull, with docker's JSON progress lines),
 * tag, remove. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/containers.h"
#include "api/http.h"
#include "api/parse.h"
#include "image/digest.h"
#include "image/images.h"
#include "image/registry.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"

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

const char *api_image_familiar_name(const char *name)
{
	if (strncmp(name, "docker.io/library/", 18) == 0)
		return name + 18;
	if (strncmp(name, "docker.io/", 10) == 0)
		return name + 10;
	return name;
}

static json_t *names_json(const image_info *img, bool digests)
{
	json_t *a = json_array();

	for (char **full = img->names; full && *full; full++) {
		const char *name = api_image_familiar_name(*full);
		if (digests) {
			const char *colon = strrchr(name, ':'), *slash = strrchr(name, '/');
			_cleanup_free_ char *repo =
			    colon && (!slash || colon > slash) ? strndup(name, (size_t)(colon - name)) : strdup(name);
			char *d = NULL;
			if (repo && asprintf(&d, "%s@%s", repo, img->manifest_digest) >= 0)
				json_array_append_new(a, json_string(d));
			free(d);
		} else {
			json_array_append_new(a, json_string(name));
		}
	}
	return a;
}

void api_images_list(api_request *r)
{
	berth_error *e = NULL;
	image_info *list = NULL;
	size_t n = 0;
	store *s = open_store(r);
	json_t *out;

	if (s == NULL)
		return;
	if (image_list(s, &list, &n, &e) < 0) {
		store_close(s);
		api_reply_berth_error(r, &e);
		return;
	}
	out = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *labels = list[i].config.labels;
		json_array_append_new(
		    out,
		    json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:O, s:i}", "Id", list[i].id, "ParentId", "",
			      "RepoTags", names_json(&list[i], false), "RepoDigests", names_json(&list[i], true),
			      "Created", (json_int_t)api_unix_time(list[i].config.created), "Size",
			      (json_int_t)list[i].size, "SharedSize", (json_int_t)-1, "VirtualSize",
			      (json_int_t)list[i].size, "Labels", labels ? labels : json_null(), "Containers", -1));
	}
	image_list_free(list, n);
	store_close(s);
	api_reply_json(r, 200, out);
}

void api_image_inspect(api_request *r)
{
	berth_error *e = NULL;
	image_info info = { 0 };
	store *s = open_store(r);
	json_t *j;

	if (s == NULL)
		return;
	if (image_resolve(s, r->params[0], &info, &e) < 0) {
		store_close(s);
		berth_error_free(&e);
		api_reply_error(r, 404, "No such image: %s", r->params[0]);
		return;
	}
	j = image_info_to_json(&info);
	/* docker's Id is "sha256:HEX"; its tags and digests as docker names them */
	json_object_set_new(j, "Id", json_string(info.id));
	json_object_set_new(j, "RepoTags", names_json(&info, false));
	json_object_set_new(j, "RepoDigests", names_json(&info, true));
	json_object_set_new(j, "Created", json_string(info.config.created ?: "0001-01-01T00:00:00Z"));
	json_object_set_new(j, "VirtualSize", json_integer(info.size));
	json_object_set_new(j, "Parent", json_string(""));
	json_object_set_new(j, "Comment", json_string(""));
	json_object_set_new(j, "DockerVersion", json_string(""));
	image_info_free(&info);
	store_close(s);
	api_reply_json(r, 200, j);
}

/* ---- pull ---- */

typedef struct pull_job {
	char *store_root;
	char *reference;
	char *creds; /* from X-Registry-Auth, or NULL */
	bool rootless;
} pull_job;

static void pull_job_free(void *arg)
{
	pull_job *j = arg;

	free(j->store_root);
	free(j->reference);
	if (j->creds)
		explicit_bzero(j->creds, strlen(j->creds));
	free(j->creds);
	free(j);
}

/* docker treats registries on loopback as plain http ones */
bool api_loopback_registry(const char *reference)
{
	const char *slash = strchr(reference, '/');
	size_t n = slash ? (size_t)(slash - reference) : 0;

	if (slash == NULL)
		return false;
	return (n >= 9 && strncmp(reference, "localhost", 9) == 0 && (n == 9 || reference[9] == ':')) ||
	       strncmp(reference, "127.", 4) == 0 || strncmp(reference, "[::1]", 5) == 0;
}

static void send_line(int fd, json_t *j)
{
	api_write_json_line(fd, j, "\r\n");
}

/* docker's line of a blob as it is done (registry_options.on_blob, from
 * the transfer threads); blobs the store had are not downloaded, so not
 * reported. */
static void pull_blob_line(void *arg, const char *verb, const char *digest, int64_t size)
{
	api_write_json_line(*(int *)arg,
			    json_pack("{s:s, s:s%, s:{}}", "status", "Pull complete", "id", digest, strnlen(digest, 12),
				      "progressDetail"),
			    "\r\n");
}

static void pull_produce(int fd, void *arg)
{
	pull_job *j = arg;
	pull_options opts = { 0 };
	image_info info = { 0 };
	berth_error *e = NULL;
	store *s = NULL;

	opts.registry.tls_verify = !api_loopback_registry(j->reference);
	opts.registry.quiet = true;
	opts.registry.creds = j->creds;
	opts.registry.on_blob = pull_blob_line;
	opts.registry.on_blob_arg = &fd;
	opts.unpack.rootless = j->rootless;
	opts.unpack.userxattr = j->rootless;
	send_line(fd, json_pack("{s:s}", "status", "Pulling from registry"));
	if (store_open(j->store_root, &s, &e) < 0 || image_pull(s, j->reference, &opts, &info, &e) < 0) {
		const char *msg = e && e->msg ? e->msg : "pull failed";
		send_line(fd, json_pack("{s:{s:s}, s:s}", "errorDetail", "message", msg, "error", msg));
	} else {
		char *status = NULL;
		send_line(fd, json_pack("{s:s}", "status", info.manifest_digest ? info.manifest_digest : ""));
		if (asprintf(&status, "Status: Downloaded newer image for %s", j->reference) >= 0)
			send_line(fd, json_pack("{s:s}", "status", status));
		free(status);
	}
	berth_error_free(&e);
	image_info_free(&info);
	if (s)
		store_close(s);
}

void api_image_create(api_request *r)
{
	const char *from = api_query(r, "fromImage"), *tag = api_query(r, "tag");
	berth_error *e = NULL;
	pull_job *j;

	if (api_query(r, "fromSrc")) {
		api_reply_error(r, 501,
				"images/create?fromSrc (import) is not supported by berth's API: use berth import");
		return;
	}
	if (from == NULL || *from == '\0') {
		api_reply_error(r, 400, "fromImage: required");
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		api_reply_error(r, 500, "out of memory");
		return;
	}
	j->store_root = strdup(r->server->options->store_root);
	j->rootless = r->server->options->rootless;
	if (api_registry_auth(api_header(r, "X-Registry-Auth"), &j->creds, &e) < 0) {
		pull_job_free(j);
		api_reply_berth_error(r, &e);
		return;
	}
	if (tag && *tag && strchr(from + (strrchr(from, '/') ? strrchr(from, '/') - from : 0), ':') == NULL &&
	    strchr(from, '@') == NULL) {
		if (asprintf(&j->reference, "%s%s%s", from, strncmp(tag, "sha256:", 7) == 0 ? "@" : ":", tag) < 0)
			j->reference = NULL;
	} else {
		j->reference = strdup(from);
	}
	if (j->store_root == NULL || j->reference == NULL) {
		pull_job_free(j);
		api_reply_error(r, 500, "out of memory");
		return;
	}
	api_reply_stream(r, 200, "application/json", pull_produce, j, pull_job_free);
}

/* ---- tag, remove ---- */

void api_image_tag(api_request *r)
{
	const char *repo = api_query(r, "repo"), *tag = api_query(r, "tag");
	_cleanup_free_ char *name = NULL;
	berth_error *e = NULL;
	store *s;

	if (repo == NULL || *repo == '\0') {
		api_reply_error(r, 400, "repo: required");
		return;
	}
	if (asprintf(&name, "%s:%s", repo, tag && *tag ? tag : "latest") < 0) {
		api_reply_error(r, 500, "out of memory");
		return;
	}
	s = open_store(r);
	if (s == NULL)
		return;
	if (image_tag(s, r->params[0], name, &e) < 0) {
		if (e->code == ENOENT) {
			berth_error_free(&e);
			api_reply_error(r, 404, "No such image: %s", r->params[0]);
		} else {
			e->code = e->code ? e->code : EINVAL;
			api_reply_berth_error(r, &e);
		}
	} else {
		api_reply_json(r, 201, NULL);
	}
	store_close(s);
}

/* The id of an image a container uses (heap), or NULL. */
static char *image_user(api_request *r, const image_info *info)
{
	container **list = NULL;
	berth_error *e = NULL;
	size_t n = 0;
	char *out = NULL;

	if (record_list(&r->server->paths, &list, &n, &e) < 0) {
		berth_error_free(&e);
		return NULL;
	}
	for (size_t i = 0; i < n && out == NULL; i++)
		if (strcmp(record_config_string(list[i], "ImageId") ?: "", info->id) == 0)
			out = strndup(list[i]->id, 12);
	record_list_free(list, n);
	return out;
}

void api_image_remove(api_request *r)
{
	bool force = api_query_bool(r, "force", false);
	_cleanup_strv_ char **in_use = NULL;
	image_info info = { 0 };
	char **removed = NULL;
	berth_error *e = NULL;
	json_t *out;
	store *s = open_store(r);

	if (s == NULL)
		return;
	if (image_resolve(s, r->params[0], &info, &e) < 0) {
		berth_error_free(&e);
		store_close(s);
		api_reply_error(r, 404, "No such image: %s", r->params[0]);
		return;
	}
	if (!force && (info.names == NULL || info.names[0] == NULL || info.names[1] == NULL)) {
		_cleanup_free_ char *user = image_user(r, &info);
		if (user) {
			api_reply_error(
			    r, 409,
			    "conflict: unable to remove repository reference \"%s\" (must force) - container "
			    "%s is using its referenced image %.12s",
			    r->params[0], user, digest_hex(info.id));
			image_info_free(&info);
			store_close(s);
			return;
		}
	}
	image_info_free(&info);
	if (image_remove(s, r->params[0], force, &removed, &e) < 0) {
		store_close(s);
		api_reply_berth_error(r, &e);
		return;
	}
	out = json_array();
	for (char **x = removed; x && *x; x++) {
		json_array_append_new(out,
				      json_pack("{s:s}", strncmp(*x, "sha256:", 7) == 0 ? "Deleted" : "Untagged", *x));
		free(*x);
	}
	free(removed);
	if (storage_snapshots_in_use(s, &in_use, &e) < 0 || image_gc(s, in_use, NULL, NULL, &e) < 0)
		berth_error_free(&e);
	store_close(s);
	api_reply_json(r, 200, out);
}
