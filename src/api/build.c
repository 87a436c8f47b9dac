/* POST /build: docker's classic builder API served by `berth build`
 * (src/build). The body, a tar of the context, is written to an unnamed
 * file in STORE/build-tmp as it arrives (any size); at its end the context
 * is unpacked (hostile entries refused as in a layer), the Dockerfile named
 * by `dockerfile` is read inside it, and the build runs in a producer thread
 * whose progress and RUN output stream back as {"stream": ...} lines, then
 * {"aux": {"ID": ...}} and "Successfully built/tagged" (docker-compose 1.29
 * reads the image id from those), or {"errorDetail", "error"}. A client
 * that goes away stops the build before its next step. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/http.h"
#include "build/context.h"
#include "build/executor.h"
#include "build/strv.h"
#include "image/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/proc.h"

typedef struct build_job {
	char *store_root, *run_root, *runtime_root, *cgroup_parent;
	int body_fd;
	char **tags, **args, **labels;
	char *dockerfile, *target, *network;
	bool no_cache, pull, quiet;
} build_job;

static void build_job_free(void *arg)
{
	build_job *j = arg;

	free(j->store_root);
	free(j->run_root);
	free(j->runtime_root);
	free(j->cgroup_parent);
	if (j->body_fd >= 0)
		close(j->body_fd);
	strv_free(j->tags);
	strv_free(j->args);
	strv_free(j->labels);
	free(j->dockerfile);
	free(j->target);
	free(j->network);
	free(j);
}

int api_body_file_open(api_server *s, berth_error **err)
{
	_cleanup_free_ char *dir = fs_path_join(s->options->store_root, "build-tmp");
	int fd;

	if (dir == NULL)
		return berth_error_set(err, ENOMEM, "build");
	if (fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_error_set(err, errno, "build context: open a file in \"%s\"", dir);
	return fd;
}

static void send_line(int fd, json_t *j)
{
	api_write_json_line(fd, j, "\r\n");
}

/* TEXT as {"stream": TEXT}; bytes that are not UTF-8 become '?'. */
static void send_stream(int fd, const char *text, size_t len)
{
	json_t *s = json_stringn(text, len);

	if (s == NULL) {
		_cleanup_free_ char *copy = malloc(len);
		if (copy == NULL)
			return;
		for (size_t i = 0; i < len; i++)
			copy[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
		s = json_stringn(copy, len);
	}
	send_line(fd, json_pack("{s:o}", "stream", s));
}

static void send_error(int fd, const char *msg)
{
	send_line(fd, json_pack("{s:{s:s}, s:s}", "errorDetail", "message", msg, "error", msg));
}

/* The build's output (progress and RUN) read from a pipe and sent on as
 * stream lines, a line at a time (or 16 KiB of a longer one). */
typedef struct relay {
	int in, out;
} relay;

static void *relay_main(void *arg)
{
	relay *rl = arg;
	char buf[16384];
	size_t have = 0;

	for (;;) {
		ssize_t n = read(rl->in, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		size_t start = 0;
		for (char *nl; (nl = memchr(buf + start, '\n', have - start)) != NULL;) {
			send_stream(rl->out, buf + start, (size_t)(nl - buf - start) + 1);
			start = (size_t)(nl - buf) + 1;
		}
		if (start == 0 && have == sizeof(buf)) {
			send_stream(rl->out, buf, have);
			start = have;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	if (have > 0)
		send_stream(rl->out, buf, have);
	return NULL;
}

/* The Dockerfile DOCKERFILE (relative to CONTEXT, resolved inside it) copied
 * to DIR/its base name, which the build reads; *PATH gets that. */
static int take_dockerfile(const char *context, const char *dockerfile, const char *dir, char **path, berth_error **err)
{
	_cleanup_free_ char *clean = build_clean_path(dockerfile), *text = NULL;
	_cleanup_close_ int root = -EBADF, fd = -EBADF, dfd = -EBADF;
	char proc[64];
	struct stat st;
	const char *base;
	size_t len;

	if (clean == NULL || clean[0] == '\0' || strcmp(clean, ".") == 0)
		return berth_error_request(err, EINVAL, "dockerfile \"%s\": not a path inside the context", dockerfile);
	root = open(context, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return berth_error_set(err, errno, "open \"%s\"", context);
	fd = fs_open_in_root(root, clean, O_RDONLY, 0, true, err);
	if (fd < 0) {
		if ((*err)->code == ENOENT) {
			berth_error_free(err);
			return berth_error_request(
			    err, ENOENT, "Cannot locate specified Dockerfile: %s (not in the context)", dockerfile);
		}
		return berth_error_wrap(err, "dockerfile \"%s\"", dockerfile);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return berth_error_request(err, EINVAL, "dockerfile \"%s\": not a regular file", dockerfile);
	if (fs_read_file(fs_proc_fd_path(fd, proc), &text, &len, err) < 0)
		return berth_error_wrap(err, "dockerfile \"%s\"", dockerfile);
	base = strrchr(clean, '/') ? strrchr(clean, '/') + 1 : clean;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", dir);
	if (fs_write_file_fresh(dfd, base, text, len, 0600, err) < 0)
		return -1;
	*path = fs_path_join(dir, base);
	return *path ? 0 : berth_error_set(err, ENOMEM, "build");
}

static void remove_dir(const char *dir)
{
	berth_error *ignored = NULL;

	if (dir && fs_remove_tree(dir, &ignored) < 0)
		berth_error_free(&ignored);
}

/* Whether the client of the answer (the stream's pipe, *ARG) went away. */
static bool client_gone(void *arg)
{
	return api_stream_closed(*(int *)arg);
}

/* Unpacks, builds; the progress goes to PIPE_FD (and its FILE); the build
 * stops before its next step once the client of OUT_FD went away. */
static int run_build(build_job *j, const char *tmp, int pipe_fd, int *out_fd, char id[DIGEST_STRING_MAX],
		     berth_error **err)
{
	_cleanup_free_ char *context = NULL, *file = NULL;
	build_options o = { 0 };
	engine_paths paths = { 0 };
	FILE *progress = NULL;
	store *s = NULL;
	int ret;

	if (lseek(j->body_fd, 0, SEEK_SET) < 0)
		return berth_error_set(err, errno, "build context");
	if (build_context_from_tar(j->body_fd, tmp, &context, err) < 0)
		return berth_error_wrap(err, "build context");
	if (take_dockerfile(context, j->dockerfile, tmp, &file, err) < 0)
		return -1;
	/* RUN's "default" network is the engine's bridge, as `berth build`'s
	 * (docker's classic builder gives RUN the default bridge) */
	if (engine_paths_init(&paths, j->store_root, j->run_root, err) < 0) {
		engine_paths_free(&paths);
		return -1;
	}
	if (store_open(j->store_root, &s, err) < 0) {
		engine_paths_free(&paths);
		return -1;
	}
	if (!j->quiet) {
		int fd = fcntl(pipe_fd, F_DUPFD_CLOEXEC, 3);
		progress = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (progress == NULL) {
			if (fd >= 0)
				close(fd);
			store_close(s);
			engine_paths_free(&paths);
			return berth_error_set(err, errno, "build progress");
		}
	}
	o = (build_options){ .context = context,
			     .file = file,
			     .tags = j->tags,
			     .build_args = j->args,
			     .labels = j->labels,
			     .target = j->target,
			     .network = j->network,
			     .no_cache = j->no_cache,
			     .pull = j->pull,
			     .quiet = j->quiet,
			     .runtime_root = j->runtime_root,
			     .engine = &paths,
			     .cgroup_parent = j->cgroup_parent,
			     .progress = progress,
			     .run_output_fd = pipe_fd,
			     .cancelled = client_gone,
			     .cancel_arg = out_fd };
	ret = build_image(s, &o, id, err);
	if (progress)
		fclose(progress);
	store_close(s);
	engine_paths_free(&paths);
	return ret;
}

static void build_produce(int fd, void *arg)
{
	build_job *j = arg;
	_cleanup_free_ char *parent = fs_path_join(j->store_root, "build-tmp"), *tmp = NULL;
	char id[DIGEST_STRING_MAX] = "";
	berth_error *e = NULL;
	relay rl = { .out = fd };
	pthread_t t;
	int p[2], ret = -1;

	/* named as build's own temporaries, so a killed service's is swept */
	if (parent == NULL ||
	    asprintf(&tmp, "%s/context-%d-%llu-apiXXXXXX", parent, (int)getpid(), proc_pid_start_time(getpid())) < 0) {
		send_error(fd, "out of memory");
		return;
	}
	if (mkdtemp(tmp) == NULL) {
		char *msg = NULL;
		if (asprintf(&msg, "build: mkdtemp \"%s\": %s", tmp, strerror(errno)) >= 0)
			send_error(fd, msg);
		free(msg);
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		send_error(fd, "build: pipe failed");
		remove_dir(tmp);
		return;
	}
	rl.in = p[0];
	if (pthread_create(&t, NULL, relay_main, &rl) != 0) {
		close(p[0]);
		close(p[1]);
		send_error(fd, "build: cannot start a thread");
		remove_dir(tmp);
		return;
	}
	ret = run_build(j, tmp, p[1], &fd, id, &e);
	close(p[1]);
	pthread_join(t, NULL);
	close(p[0]);
	remove_dir(tmp);
	if (ret < 0) {
		send_error(fd, e && e->msg ? e->msg : "build failed");
		berth_error_free(&e);
		return;
	}
	send_line(fd, json_pack("{s:{s:s}}", "aux", "ID", id));
	if (j->quiet) {
		/* the docker CLI's -q prints the stream, which is the id alone */
		char line[DIGEST_STRING_MAX + 1];
		snprintf(line, sizeof(line), "%s\n", id);
		send_stream(fd, line, strlen(line));
	} else {
		char line[128];
		snprintf(line, sizeof(line), "Successfully built %.12s\n", digest_hex(id));
		send_stream(fd, line, strlen(line));
		for (char **t2 = j->tags; t2 && *t2; t2++) {
			char *msg = NULL;
			if (asprintf(&msg, "Successfully tagged %s%s\n", *t2,
				     strchr(strrchr(*t2, '/') ? strrchr(*t2, '/') : *t2, ':') ? "" : ":latest") >= 0)
				send_stream(fd, msg, strlen(msg));
			free(msg);
		}
	}
}

/* ---- the request: parse and validate everything before answering ---- */

typedef struct tag_list {
	char ***tags;
	bool failed;
} tag_list;

static enum MHD_Result collect_tag(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	tag_list *tl = cls;

	if (strcmp(key, "t") == 0 && value && *value) {
		char *copy = strdup(value);
		if (copy == NULL || build_strv_take(tl->tags, copy) < 0)
			tl->failed = true;
	}
	return MHD_YES;
}

/* A query parameter holding a JSON object of strings as "KEY=VALUE"
 * (null values left out, as docker does for buildargs). */
static int query_pairs(api_request *r, const char *name, char ***out, berth_error **err)
{
	const char *text = api_query(r, name), *key;
	json_error_t je;
	json_t *obj, *v;

	*out = calloc(1, sizeof(char *));
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "build");
	if (text == NULL || *text == '\0')
		return 0;
	obj = json_loads(text, 0, &je);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return berth_error_request(err, EINVAL, "%s: expected a JSON object of strings", name);
	}
	json_object_foreach(obj, key, v) {
		char *pair = NULL;
		if (json_is_null(v))
			continue;
		if (!json_is_string(v) || *key == '\0') {
			json_decref(obj);
			return berth_error_request(err, EINVAL, "%s.%s: expected a string", name, key);
		}
		if (asprintf(&pair, "%s=%s", key, json_string_value(v)) < 0 || build_strv_take(out, pair) < 0) {
			json_decref(obj);
			return berth_error_set(err, ENOMEM, "build");
		}
	}
	json_decref(obj);
	return 0;
}

/* docker's networkmode as berth build's --network: its default is a
 * bridge, berth's RUN gets the service's network ("default"). */
static int network_mode(const char *mode, char **out, berth_error **err)
{
	if (mode == NULL || *mode == '\0' || strcmp(mode, "default") == 0 || strcmp(mode, "bridge") == 0)
		*out = NULL;
	else if (strcmp(mode, "host") == 0 || strcmp(mode, "none") == 0)
		*out = strdup(mode);
	else
		return berth_error_request(err, EINVAL, "networkmode \"%s\": berth builds with default, host or none",
					   mode);
	return 0;
}

static int parse_job(api_request *r, build_job *j, berth_error **err)
{
	tag_list tl = { .tags = &j->tags };
	const char *remote = api_query(r, "remote"), *file = api_query(r, "dockerfile");
	const char *version = api_query(r, "version"), *platform = api_query(r, "platform");

	if (r->server->options->rootless)
		return berth_error_request(err, ENOTSUP, "build: rootless builds are not supported yet");
	if (remote && *remote)
		return berth_error_request(err, ENOTSUP, "remote: a build from a URL is not supported by berth");
	if (version && strcmp(version, "1") != 0)
		return berth_error_request(err, ENOTSUP,
					   "version %s: berth serves the classic builder (1) only; BuildKit's "
					   "sessions are not supported (DOCKER_BUILDKIT=0)",
					   version);
	if (platform && *platform)
		return berth_error_request(err, ENOTSUP, "platform \"%s\": berth builds for this host only", platform);
	j->tags = calloc(1, sizeof(char *));
	if (j->tags == NULL)
		return berth_error_set(err, ENOMEM, "build");
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_tag, &tl);
	if (tl.failed)
		return berth_error_set(err, ENOMEM, "build");
	if (query_pairs(r, "buildargs", &j->args, err) < 0 || query_pairs(r, "labels", &j->labels, err) < 0)
		return -1;
	if (network_mode(api_query(r, "networkmode"), &j->network, err) < 0)
		return -1;
	j->dockerfile = strdup(file && *file ? file : "Dockerfile");
	j->target = api_query(r, "target") && *api_query(r, "target") ? strdup(api_query(r, "target")) : NULL;
	j->cgroup_parent =
	    api_query(r, "cgroupparent") && *api_query(r, "cgroupparent") ? strdup(api_query(r, "cgroupparent")) : NULL;
	j->no_cache = api_query_bool(r, "nocache", false);
	j->pull = api_query_bool(r, "pull", false);
	j->quiet = api_query_bool(r, "q", false);
	j->store_root = strdup(r->server->options->store_root);
	j->run_root = strdup(r->server->paths.run_root);
	j->runtime_root = strdup(r->server->paths.runtime_root);
	if (j->dockerfile == NULL || j->store_root == NULL || j->run_root == NULL || j->runtime_root == NULL)
		return berth_error_set(err, ENOMEM, "build");
	return 0;
}

void api_build(api_request *r)
{
	berth_error *e = NULL;
	build_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		api_reply_error(r, 500, "out of memory");
		return;
	}
	j->body_fd = -1;
	if (r->body_error) {
		build_job_free(j);
		api_reply_error(r, 500, "%s", r->body_error);
		return;
	}
	if (parse_job(r, j, &e) < 0) {
		build_job_free(j);
		api_reply_berth_error(r, &e);
		return;
	}
	if (r->body_fd < 0) {
		build_job_free(j);
		api_reply_error(r, 400, "build: the body must be a tar of the context");
		return;
	}
	j->body_fd = r->body_fd;
	r->body_fd = -1;
	api_reply_stream(r, 200, "application/json", build_produce, j, build_job_free);
}
