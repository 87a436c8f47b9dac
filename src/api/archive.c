/* GET/HEAD /containers/{id}/archive?path=: `docker cp CONTAINER:PATH -`,
 * a tar of PATH (engine/copy.h: every path resolved inside the container)
 * with docker's X-Docker-Container-Path-Stat header. A running container is
 * read through its init's root (its mounts too), a stopped one through its
 * rootfs, as `berth cp` does. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/containers.h"
#include "api/http.h"
#include "engine/container.h"
#include "engine/copy.h"
#include "engine/live_root.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* base64 (RFC 4648, with padding) of LEN bytes; heap */
static char *base64(const unsigned char *in, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);
		*o++ = abc[(v >> 18) & 63];
		*o++ = abc[(v >> 12) & 63];
		*o++ = i + 1 < len ? abc[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? abc[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* Go's os.FileMode of ST (the permission bits plus its type bits). */
static json_int_t go_file_mode(const struct stat *st)
{
	json_int_t m = st->st_mode & 07777 & ~(S_ISUID | S_ISGID | S_ISVTX);

	if (S_ISDIR(st->st_mode))
		m |= (json_int_t)1 << 31;
	else if (S_ISLNK(st->st_mode))
		m |= (json_int_t)1 << 27;
	if (st->st_mode & S_ISUID)
		m |= (json_int_t)1 << 23;
	if (st->st_mode & S_ISGID)
		m |= (json_int_t)1 << 22;
	if (st->st_mode & S_ISVTX)
		m |= (json_int_t)1 << 20;
	return m;
}

typedef struct archive_job {
	int rootfd;
	char *path;
} archive_job;

static void archive_job_free(void *arg)
{
	archive_job *j = arg;

	if (j->rootfd >= 0)
		close(j->rootfd);
	free(j->path);
	free(j);
}

static void archive_produce(int fd, void *arg)
{
	archive_job *j = arg;
	copy_location src = { .rootfd = j->rootfd, .path = j->path, .label = j->path };
	copy_options o = { .archive = true };
	berth_error *e = NULL;

	if (copy_to_tar(&src, fd, &o, &e) < 0)
		berth_error_free(&e); /* the tar ends short: the client sees a broken archive */
}

void api_container_archive(api_request *r)
{
	const char *path = api_query(r, "path");
	_cleanup_free_ char *bundle = NULL, *rootfs = NULL, *stat_b64 = NULL, *stat_text = NULL;
	_cleanup_close_ int rootfd = -EBADF, target = -EBADF;
	berth_error *e = NULL;
	container *c = NULL;
	archive_job *j;
	struct stat st;
	const char *base;
	bool live;

	if (path == NULL || *path == '\0') {
		api_reply_error(r, 400, "path: required");
		return;
	}
	if (api_open_container(r, &c) < 0)
		return;
	live = (strcmp(c->state.status, "running") == 0 || strcmp(c->state.status, "paused") == 0) &&
	       record_monitor_alive(c);
	if (live) {
		rootfd = engine_live_root_open(c, &e);
	} else {
		bundle = engine_container_bundle(c);
		if (bundle && asprintf(&rootfs, "%s/rootfs", bundle) >= 0)
			rootfd = copy_open_rootfs(rootfs, &e);
	}
	container_free(c);
	if (rootfd < 0) {
		if (e == NULL)
			berth_error_set(&e, ENOMEM, "archive");
		api_reply_berth_error(r, &e);
		return;
	}
	target = fs_open_in_root(rootfd, path, O_PATH | O_CLOEXEC, 0, false, &e);
	if (target < 0 || fstat(target, &st) < 0) {
		berth_error_free(&e);
		api_reply_error(r, 404, "Could not find the file %s in container %s", path, r->params[0]);
		return;
	}
	base = strrchr(path, '/');
	base = base && base[1] ? base + 1 : base ? "/" : path;
	{
		json_t *s = json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", base, "size", (json_int_t)st.st_size, "mode",
				      go_file_mode(&st), "mtime", "0001-01-01T00:00:00Z", "linkTarget", "");
		stat_text = json_dumps(s, JSON_COMPACT);
		json_decref(s);
	}
	stat_b64 = stat_text ? base64((const unsigned char *)stat_text, strlen(stat_text)) : NULL;
	r->extra_header = "X-Docker-Container-Path-Stat";
	r->extra_value = move_ptr(stat_b64);
	if (strcmp(r->method, "HEAD") == 0) {
		api_reply_data(r, 200, "application/x-tar", "", 0);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL || (j->path = strdup(path)) == NULL) {
		free(j);
		api_reply_error(r, 500, "archive: out of memory");
		return;
	}
	j->rootfd = move_fd(rootfd);
	api_reply_stream(r, 200, "application/x-tar", archive_produce, j, archive_job_free);
}

/* ---- PUT: `docker cp SRC CONTAINER:DIR`, the tar streamed in ---- */

struct api_upload {
	int rootfd, pipe_w, pipe_r;
	char *path;
	pthread_t thread;
	bool started;
	unsigned status; /* of an error found before the body, 0: none */
	char *message;
	berth_error *err; /* of the extraction */
};

static void *extract_main(void *arg)
{
	api_upload *u = arg;
	copy_location dest = { .rootfd = u->rootfd, .path = u->path, .label = u->path };
	copy_options o = { .archive = true };

	copy_from_tar(u->pipe_r, &dest, &o, &u->err);
	/* what is left of the body is discarded */
	close(u->pipe_r);
	u->pipe_r = -1;
	return NULL;
}

static bool rootfs_read_only(const container *c)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *path = NULL;
	json_t *cfg;
	bool ro;

	if (bundle == NULL || asprintf(&path, "%s/config.json", bundle) < 0)
		return false;
	cfg = json_load_file(path, 0, NULL);
	ro = json_is_true(json_object_get(json_object_get(cfg, "root"), "readonly"));
	json_decref(cfg);
	return ro;
}

static api_upload *upload_refused(api_upload *u, unsigned status, const char *message)
{
	u->status = status;
	u->message = strdup(message);
	return u;
}

api_upload *api_upload_begin(api_server *s, const char *id, const char *path)
{
	api_upload *u = calloc(1, sizeof(*u));
	berth_error *e = NULL;
	container *c = NULL;
	int p[2];
	bool live;

	if (u == NULL)
		return NULL;
	u->rootfd = u->pipe_r = u->pipe_w = -1;
	if (path == NULL || *path == '\0')
		return upload_refused(u, 400, "path: required");
	if (record_open(&s->paths, id, &c, &e) < 0 || record_refresh(&s->paths, c, &e) < 0) {
		berth_error_free(&e);
		container_free(c);
		return upload_refused(u, 404, "No such container");
	}
	live = (strcmp(c->state.status, "running") == 0 || strcmp(c->state.status, "paused") == 0) &&
	       record_monitor_alive(c);
	if (rootfs_read_only(c)) {
		container_free(c);
		return upload_refused(u, 403, "container rootfs is marked read-only");
	}
	if (live) {
		u->rootfd = engine_live_root_open(c, &e);
	} else {
		_cleanup_free_ char *bundle = engine_container_bundle(c), *rootfs = NULL;
		if (bundle && asprintf(&rootfs, "%s/rootfs", bundle) >= 0)
			u->rootfd = copy_open_rootfs(rootfs, &e);
	}
	container_free(c);
	if (u->rootfd < 0) {
		upload_refused(u, 500, e && e->msg ? e->msg : "cannot open the container's files");
		berth_error_free(&e);
		return u;
	}
	u->path = strdup(path);
	if (u->path == NULL || pipe2(p, O_CLOEXEC) < 0)
		return upload_refused(u, 500, "archive: out of memory");
	u->pipe_r = p[0];
	u->pipe_w = p[1];
	if (pthread_create(&u->thread, NULL, extract_main, u) != 0)
		return upload_refused(u, 500, "archive: no thread");
	u->started = true;
	return u;
}

void api_upload_data(api_upload *u, const char *data, size_t len)
{
	if (u->pipe_w >= 0 && !api_write_all(u->pipe_w, data, len)) {
		close(u->pipe_w); /* the extraction stopped: the rest is dropped */
		u->pipe_w = -1;
	}
}

void api_upload_end(api_request *r, api_upload *u)
{
	if (u->pipe_w >= 0)
		close(u->pipe_w);
	u->pipe_w = -1;
	if (u->started)
		pthread_join(u->thread, NULL);
	u->started = false;
	if (u->status)
		api_reply_error(r, u->status, "%s", u->message ? u->message : "archive refused");
	else if (u->err) {
		if (u->err->code == 0 || u->err->code == ENOENT || u->err->code == ENOTDIR)
			u->err->code = u->err->code == ENOENT ? ENOENT : EINVAL;
		api_reply_berth_error(r, &u->err);
	} else
		api_reply_json(r, 200, NULL);
}

void api_upload_free(api_upload *u)
{
	if (u == NULL)
		return;
	if (u->pipe_w >= 0)
		close(u->pipe_w);
	if (u->started)
		pthread_join(u->thread, NULL);
	if (u->pipe_r >= 0)
		close(u->pipe_r);
	if (u->rootfd >= 0)
		close(u->rootfd);
	berth_error_free(&u->err);
	free(u->message);
	free(u->path);
	free(u);
}
