/* /images: push (X-Registry-Auth read), get (save: a docker-archive
 * streamed), load (the body, written to a file as it arrives) and prune;
 * /networks/prune, /volumes/prune and /system/df. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/containers.h"
#include "api/http.h"
#include "api/parse.h"
#include "engine/network.h"
#include "image/archive.h"
#include "image/images.h"
#include "image/registry.h"
#include "storage/rootfs.h"
#include "storage/volume.h"
#include "util/cleanup.h"
#include "util/fs.h"

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

static void send_line(int fd, json_t *j)
{
	api_write_json_line(fd, j, "\r\n");
}

static void send_error(int fd, const char *msg)
{
	send_line(fd, json_pack("{s:{s:s}, s:s}", "errorDetail", "message", msg, "error", msg));
}

/* ---- push ---- */

typedef struct push_job {
	char *store_root, *reference, *creds;
} push_job;

static void push_job_free(void *arg)
{
	push_job *j = arg;

	free(j->store_root);
	free(j->reference);
	if (j->creds)
		explicit_bzero(j->creds, strlen(j->creds));
	free(j->creds);
	free(j);
}

/* docker's line of a blob as it is done (registry_options.on_blob, from
 * the transfer threads: one write per line). */
static void push_blob_line(void *arg, const char *verb, const char *digest, int64_t size)
{
	const char *status = strcmp(verb, "Blob exists") == 0	 ? "Layer already exists"
			     : strcmp(verb, "Mounted blob") == 0 ? "Mounted from another repository"
								 : "Pushed";

	api_write_json_line(
	    *(int *)arg,
	    json_pack("{s:s, s:s%, s:{}}", "status", status, "id", digest, strnlen(digest, 12), "progressDetail"),
	    "\r\n");
}

static void push_produce(int fd, void *arg)
{
	push_job *j = arg;
	push_options opts = { 0 };
	char digest[DIGEST_STRING_MAX] = "", *line = NULL;
	const char *colon = strrchr(j->reference, ':'), *slash = strrchr(j->reference, '/');
	const char *tag = colon && (!slash || colon > slash) ? colon + 1 : "latest";
	image_info info = { 0 };
	berth_error *e = NULL;
	store *s = NULL;

	opts.registry.tls_verify = !api_loopback_registry(j->reference);
	opts.registry.quiet = true;
	opts.registry.creds = j->creds;
	opts.registry.on_blob = push_blob_line;
	opts.registry.on_blob_arg = &fd;
	if (asprintf(&line, "The push refers to repository [%.*s]",
		     (int)(colon && (!slash || colon > slash) ? colon - j->reference : (long)strlen(j->reference)),
		     j->reference) >= 0)
		send_line(fd, json_pack("{s:s}", "status", line));
	free(line);
	line = NULL;
	if (store_open(j->store_root, &s, &e) < 0 || image_resolve(s, j->reference, &info, &e) < 0 ||
	    image_push(s, j->reference, NULL, &opts, digest, &e) < 0) {
		const char *msg = e && e->msg ? e->msg : "push failed";
		send_error(fd, msg);
	} else {
		if (asprintf(&line, "%s: digest: %s size: %lld", tag, digest, (long long)info.manifest_size) >= 0)
			send_line(fd, json_pack("{s:s, s:{}}", "status", line, "progressDetail"));
		send_line(fd, json_pack("{s:s, s:{}, s:{s:s, s:s, s:I}}", "progress", "", "progressDetail", "aux",
					"Tag", tag, "Digest", digest, "Size", (json_int_t)info.manifest_size));
		free(line);
	}
	berth_error_free(&e);
	image_info_free(&info);
	if (s)
		store_close(s);
}

void api_image_push(api_request *r)
{
	const char *tag = api_query(r, "tag");
	berth_error *e = NULL;
	push_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		api_reply_error(r, 500, "out of memory");
		return;
	}
	if (api_registry_auth(api_header(r, "X-Registry-Auth"), &j->creds, &e) < 0) {
		push_job_free(j);
		api_reply_berth_error(r, &e);
		return;
	}
	j->store_root = strdup(r->server->options->store_root);
	if (tag && *tag) {
		if (asprintf(&j->reference, "%s:%s", r->params[0], tag) < 0)
			j->reference = NULL;
	} else {
		j->reference = strdup(r->params[0]);
	}
	if (j->store_root == NULL || j->reference == NULL) {
		push_job_free(j);
		api_reply_error(r, 500, "out of memory");
		return;
	}
	api_reply_stream(r, 200, "application/json", push_produce, j, push_job_free);
}

/* POST /auth (docker login): the credentials are checked against the
 * registry and not kept; the client sends them with each push or pull
 * (X-Registry-Auth). */
void api_auth(api_request *r)
{
	berth_error *e = NULL;
	json_t *body = api_body_json(r, &e);
	const char *server, *user, *password;
	registry_options opts = { 0 };

	if (body == NULL) {
		api_reply_berth_error(r, &e);
		return;
	}
	server = json_string_value(json_object_get(body, "serveraddress"));
	user = json_string_value(json_object_get(body, "username"));
	password = json_string_value(json_object_get(body, "password"));
	if (server == NULL || *server == '\0') {
		server = "docker.io";
	} else {
		/* "https://host/v1/" as the CLI writes it: the host */
		if (strncmp(server, "https://", 8) == 0)
			server += 8;
		else if (strncmp(server, "http://", 7) == 0)
			server += 7;
	}
	_cleanup_free_ char *host = strndup(server, strcspn(server, "/")), *probe = NULL;
	if (host == NULL || asprintf(&probe, "%s/x", host) < 0) {
		json_decref(body);
		api_reply_error(r, 500, "out of memory");
		return;
	}
	opts.tls_verify = !api_loopback_registry(probe);
	opts.quiet = true;
	if (registry_check_login(host, user, password, &opts, &e) < 0) {
		api_reply_error(r, e && e->code == EINVAL ? 400 : 401, "%s", e && e->msg ? e->msg : "login failed");
		berth_error_free(&e);
	} else {
		api_reply_json(r, 200, json_pack("{s:s, s:s}", "Status", "Login Succeeded", "IdentityToken", ""));
	}
	json_decref(body);
}

/* ---- get (save), load ---- */

typedef struct save_job {
	char *store_root;
	char **names;
} save_job;

static void save_job_free(void *arg)
{
	save_job *j = arg;

	free(j->store_root);
	strv_free(j->names);
	free(j);
}

static void save_produce(int fd, void *arg)
{
	save_job *j = arg;
	berth_error *e = NULL;
	store *s = NULL;

	/* the headers are sent: an error can only cut the tar short */
	if (store_open(j->store_root, &s, &e) < 0 ||
	    image_archive_save_fd(s, j->names, ARCHIVE_FORMAT_DOCKER, fd, &e) < 0)
		berth_error_report("berth: api: images/get", &e);
	if (s)
		store_close(s);
}

typedef struct name_list {
	char **names;
	size_t n;
	bool failed;
} name_list;

static enum MHD_Result collect_name(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	name_list *nl = cls;
	char **more;

	if (strcmp(key, "names") != 0 || value == NULL || *value == '\0')
		return MHD_YES;
	more = realloc(nl->names, (nl->n + 2) * sizeof(char *));
	if (more == NULL || (more[nl->n] = strdup(value)) == NULL) {
		nl->failed = true;
		if (more)
			nl->names = more;
		return MHD_YES;
	}
	nl->names = more;
	nl->names[++nl->n] = NULL;
	return MHD_YES;
}

/* GET /images/get?names=A&names=B and GET /images/{name}/get. Every name
 * is resolved before the answer starts, so a missing one is a 404. */
void api_images_get(api_request *r)
{
	name_list nl = { 0 };
	save_job *j;
	store *s;

	if (r->params[0]) {
		nl.names = calloc(2, sizeof(char *));
		if (nl.names && (nl.names[0] = strdup(r->params[0])) != NULL)
			nl.n = 1;
		else
			nl.failed = true;
	} else {
		MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_name, &nl);
	}
	if (nl.failed || nl.n == 0) {
		strv_free(nl.names);
		api_reply_error(r, nl.failed ? 500 : 400, nl.failed ? "out of memory" : "names: required");
		return;
	}
	s = open_store(r);
	if (s == NULL) {
		strv_free(nl.names);
		return;
	}
	for (size_t i = 0; i < nl.n; i++) {
		image_info info = { 0 };
		berth_error *e = NULL;
		if (image_resolve(s, nl.names[i], &info, &e) < 0) {
			berth_error_free(&e);
			api_reply_error(r, 404, "No such image: %s", nl.names[i]);
			strv_free(nl.names);
			store_close(s);
			return;
		}
		image_info_free(&info);
	}
	store_close(s);
	j = calloc(1, sizeof(*j));
	if (j == NULL || (j->store_root = strdup(r->server->options->store_root)) == NULL) {
		free(j);
		strv_free(nl.names);
		api_reply_error(r, 500, "out of memory");
		return;
	}
	j->names = nl.names;
	api_reply_stream(r, 200, "application/x-tar", save_produce, j, save_job_free);
}

/* POST /images/load: the archive (docker or OCI) went to an unnamed file as
 * it arrived; loaded from /proc/self/fd/N of it. */
void api_images_load(api_request *r)
{
	bool quiet = api_query_bool(r, "quiet", false);
	unpack_options uo = { .rootless = r->server->options->rootless, .userxattr = r->server->options->rootless };
	char proc[64], **loaded = NULL;
	berth_error *e = NULL;
	json_t *out;
	store *s;

	if (r->body_error) {
		api_reply_error(r, 500, "%s", r->body_error);
		return;
	}
	if (r->body_fd < 0) {
		api_reply_error(r, 400, "load: the body must be an image archive");
		return;
	}
	s = open_store(r);
	if (s == NULL)
		return;
	if (image_archive_load(s, fs_proc_fd_path(r->body_fd, proc), &uo, &loaded, &e) < 0) {
		store_close(s);
		e->code = e->code == ENOENT ? EINVAL : e->code;
		api_reply_berth_error(r, &e);
		return;
	}
	store_close(s);
	/* docker answers JSON lines ({"stream": "Loaded image: NAME\n"}), or
	 * with quiet the same lines (the CLI prints them) */
	(void)quiet;
	out = json_array();
	for (char **n = loaded; n && *n; n++) {
		char *line = NULL;
		if (asprintf(&line, "Loaded image%s: %s\n", strncmp(*n, "sha256:", 7) == 0 ? " ID" : "",
			     api_image_familiar_name(*n)) >= 0)
			json_array_append_new(out, json_pack("{s:s}", "stream", line));
		free(line);
	}
	strv_free(loaded);
	api_reply_json_lines(r, out);
}

/* ---- prune: images, networks, volumes ---- */

/* filters={"dangling": ["false"]} (docker image prune -a): every image no
 * container uses; else unnamed images only. */
static bool prune_all(api_request *r)
{
	const char *text = api_query(r, "filters");
	json_t *f = text ? json_loads(text, 0, NULL) : NULL, *d = json_object_get(f, "dangling");
	bool all = false;

	if (json_is_array(d))
		all = json_string_value(json_array_get(d, 0)) &&
		      (strcmp(json_string_value(json_array_get(d, 0)), "false") == 0 ||
		       strcmp(json_string_value(json_array_get(d, 0)), "0") == 0);
	else if (json_is_object(d))
		all = json_object_get(d, "false") != NULL || json_object_get(d, "0") != NULL;
	json_decref(f);
	return all;
}

void api_images_prune(api_request *r)
{
	_cleanup_strv_ char **in_use = NULL;
	container **list = NULL;
	image_info *images = NULL;
	berth_error *e = NULL;
	uint64_t freed = 0;
	size_t removed = 0, n = 0, ni = 0;
	json_t *deleted = json_array();
	store *s = open_store(r);

	if (s == NULL) {
		json_decref(deleted);
		return;
	}
	if (prune_all(r)) {
		/* every image, except those of containers */
		if (record_list(&r->server->paths, &list, &n, &e) < 0 || image_list(s, &images, &ni, &e) < 0)
			goto fail;
		for (size_t i = 0; i < ni; i++) {
			bool used = false;
			char **gone = NULL;
			for (size_t k = 0; k < n && !used; k++)
				used = strcmp(record_config_string(list[k], "ImageId") ?: "", images[i].id) == 0;
			if (used || image_remove(s, images[i].id, true, &gone, &e) < 0) {
				berth_error_free(&e);
				continue;
			}
			for (char **g = gone; g && *g; g++)
				json_array_append_new(
				    deleted,
				    json_pack("{s:s}", strncmp(*g, "sha256:", 7) == 0 ? "Deleted" : "Untagged", *g));
			strv_free(gone);
		}
	}
	if (storage_snapshots_in_use(s, &in_use, &e) < 0 || image_prune(s, false, in_use, &freed, &removed, &e) < 0)
		goto fail;
	if (images)
		image_list_free(images, ni);
	record_list_free(list, n);
	store_close(s);
	api_reply_json(r, 200, json_pack("{s:o, s:I}", "ImagesDeleted", deleted, "SpaceReclaimed", (json_int_t)freed));
	return;
fail:
	if (images)
		image_list_free(images, ni);
	record_list_free(list, n);
	store_close(s);
	json_decref(deleted);
	api_reply_berth_error(r, &e);
}

void api_networks_prune(api_request *r)
{
	network_def *list = NULL;
	berth_error *e = NULL;
	json_t *deleted;
	size_t n = 0;

	if (network_list(&r->server->paths, &list, &n, &e) < 0) {
		api_reply_berth_error(r, &e);
		return;
	}
	deleted = json_array();
	for (size_t i = 0; i < n; i++) {
		/* docker's bridge network is never pruned; one in use stays */
		if (strcmp(list[i].name, NETWORK_DEFAULT) != 0 &&
		    network_remove(&r->server->paths, list[i].name, &e) == 0)
			json_array_append_new(deleted, json_string(list[i].name));
		berth_error_free(&e);
	}
	for (size_t i = 0; i < n; i++)
		network_def_free(&list[i]);
	free(list);
	api_reply_json(r, 200, json_pack("{s:o}", "NetworksDeleted", deleted));
}

/* API 1.41 (docker 20.10) prunes every unused local volume, named ones
 * too; 1.42 made that `all=true`. */
void api_volumes_prune(api_request *r)
{
	char **removed = NULL;
	uint64_t reclaimed = 0;
	berth_error *e = NULL;
	json_t *deleted;

	if (volume_prune(r->server->options->store_root, true, &removed, &reclaimed, &e) < 0) {
		api_reply_berth_error(r, &e);
		return;
	}
	deleted = json_array();
	for (char **v = removed; v && *v; v++)
		json_array_append_new(deleted, json_string(*v));
	strv_free(removed);
	api_reply_json(r, 200,
		       json_pack("{s:o, s:I}", "VolumesDeleted", deleted, "SpaceReclaimed", (json_int_t)reclaimed));
}
