/* /containers/{id}/exec and /exec/{id}: a process in a running container
 * through the runtime's exec, as `berth exec` runs it. The exec instances
 * live in this service's memory (docker's do too, in its daemon). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/containers.h"
#include "api/http.h"
#include "engine/container.h"
#include "engine/runtime_call.h"
#include "storage/bundle.h"
#include "util/cleanup.h"
#include "util/fs.h"

typedef struct exec_instance {
	char id[65];
	char *container_id;
	json_t *config; /* the create body */
	bool running, started;
	int exit_code;
	struct exec_instance *next;
} exec_instance;

static pthread_mutex_t exec_lock = PTHREAD_MUTEX_INITIALIZER;
static exec_instance *execs;

#define EXEC_MAX 1024 /* finished instances beyond this are dropped, oldest first */

static exec_instance *exec_find(const char *id)
{
	for (exec_instance *e = execs; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static void exec_trim(void)
{
	size_t n = 0;

	for (exec_instance **p = &execs; *p;) {
		exec_instance *e = *p;
		if (++n > EXEC_MAX && !e->running) {
			*p = e->next;
			free(e->container_id);
			json_decref(e->config);
			free(e);
			continue;
		}
		p = &e->next;
	}
}

/* USER ("name", "uid", "name:group", "uid:gid") as the runtime takes it,
 * numeric, names looked up in the container's own /etc/passwd and
 * /etc/group (inside its rootfs, as `berth exec -u`); kept in BODY as
 * "berth.NumericUser" (User stays as given, for inspect). */
static int exec_numeric_user(const container *c, const char *user, json_t *body, berth_error **err)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c);
	_cleanup_free_ char *rootfs = bundle ? fs_path_join(bundle, "rootfs") : NULL;
	_cleanup_close_ int fd = rootfs ? open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC) : -EBADF;
	char numeric[64];
	long uid, gid;

	if (fd < 0)
		return berth_error_set(err, errno ? errno : ENOMEM, "exec: the rootfs of %s", c->name);
	if (bundle_resolve_user(user, fd, &uid, &gid, err) < 0)
		return berth_error_wrap(err, "exec: User");
	snprintf(numeric, sizeof(numeric), "%ld:%ld", uid, gid);
	json_object_set_new(body, "berth.NumericUser", json_string(numeric));
	return 0;
}

void api_exec_create(api_request *r)
{
	container *c = NULL;
	berth_error *e = NULL;
	json_t *body, *cmd, *v;
	unsigned char raw[32];
	exec_instance *x;
	size_t i;

	if (api_open_container(r, &c) < 0)
		return;
	if (strcmp(c->state.status, "running") != 0) {
		api_reply_error(r, 409, "Container %s is not running", c->id);
		container_free(c);
		return;
	}
	body = api_body_json(r, &e);
	if (body == NULL) {
		api_reply_berth_error(r, &e);
		container_free(c);
		return;
	}
	cmd = json_object_get(body, "Cmd");
	if (!json_is_array(cmd) || json_array_size(cmd) == 0) {
		api_reply_error(r, 400, "No exec command specified");
		goto out;
	}
	json_array_foreach(cmd, i, v) {
		if (!json_is_string(v)) {
			api_reply_error(r, 400, "Cmd[%zu]: expected a string", i);
			goto out;
		}
	}
	json_object_del(body, "berth.NumericUser"); /* ours, never the client's */
	v = json_object_get(body, "User");
	if (json_string_length(v) && exec_numeric_user(c, json_string_value(v), body, &e) < 0) {
		e->code = e->code == ENOENT ? EINVAL : e->code;
		api_reply_berth_error(r, &e);
		goto out;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL || getrandom(raw, sizeof(raw), 0) != sizeof(raw)) {
		free(x);
		api_reply_error(r, 500, "exec: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < sizeof(raw); i++)
		sprintf(x->id + 2 * i, "%02x", raw[i]);
	x->container_id = strdup(c->id);
	x->config = json_incref(body);
	pthread_mutex_lock(&exec_lock);
	x->next = execs;
	execs = x;
	exec_trim();
	pthread_mutex_unlock(&exec_lock);
	api_reply_json(r, 201, json_pack("{s:s}", "Id", x->id));
out:
	json_decref(body);
	container_free(c);
}

typedef struct exec_run {
	api_server *server;
	exec_instance *x;
	char *runtime;
	bool detach, tty, attach_stdin;
} exec_run;

static void exec_run_free(void *arg)
{
	exec_run *run = arg;

	free(run->runtime);
	free(run);
}

/* The runtime's argv of X (heap vector, strings borrowed). */
static const char **exec_args(const engine_paths *p, const char *runtime, const exec_instance *x, bool tty, bool detach)
{
	json_t *env = json_object_get(x->config, "Env"), *cmd = json_object_get(x->config, "Cmd"), *v;
	const char *user = json_string_value(json_object_get(x->config, "berth.NumericUser"));
	const char *cwd = json_string_value(json_object_get(x->config, "WorkingDir"));
	const char **a = calloc(16 + 2 * json_array_size(env) + json_array_size(cmd), sizeof(char *));
	size_t n = 0, i;

	if (a == NULL)
		return NULL;
	a[n++] = runtime;
	a[n++] = "--root";
	a[n++] = p->runtime_root;
	a[n++] = "exec";
	if (tty) {
		a[n++] = "--tty";
		a[n++] = "--env";
		a[n++] = "TERM=xterm";
	}
	if (detach)
		a[n++] = "--detach";
	json_array_foreach(env, i, v) {
		if (json_is_string(v)) {
			a[n++] = "--env";
			a[n++] = json_string_value(v);
		}
	}
	if (user && *user) {
		a[n++] = "--user";
		a[n++] = user;
	}
	if (cwd && *cwd) {
		a[n++] = "--cwd";
		a[n++] = cwd;
	}
	a[n++] = x->container_id;
	json_array_foreach(cmd, i, v)
		a[n++] = json_string_value(v);
	return a;
}

typedef struct frame_pump {
	int from, to, stream;
} frame_pump;

static void *pump_frames(void *arg)
{
	frame_pump *f = arg;
	char buf[32768];
	ssize_t n;

	while ((n = read(f->from, buf, sizeof(buf))) > 0)
		if (!api_write_frame(f->to, f->stream, buf, (size_t)n))
			break;
	return NULL;
}

static void exec_finish(exec_instance *x, int code)
{
	pthread_mutex_lock(&exec_lock);
	x->running = false;
	x->exit_code = code;
	pthread_mutex_unlock(&exec_lock);
}

/* Runs the exec with SOCK as its terminal (TTY) or its input and
 * multiplexed output. */
static void exec_serve(int sock, void *arg)
{
	exec_run *run = arg;
	_cleanup_free_ const char **args = exec_args(&run->server->paths, run->runtime, run->x, run->tty, false);
	runtime_io io = { .in = RUNTIME_NULL, .out = RUNTIME_NULL, .err = RUNTIME_NULL };
	berth_error *e = NULL;
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, code = 126;
	frame_pump po, pe;
	pthread_t to, te;

	if (args == NULL) {
		exec_finish(run->x, 126);
		return;
	}
	if (run->attach_stdin)
		io.in = sock;
	if (run->tty) {
		io.out = io.err = sock;
		code = runtime_call(run->runtime, run->server->paths.runtime_root, args + 3, &io, &e);
	} else if (pipe2(out, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0) {
		io.out = out[1];
		io.err = errp[1];
		po = (frame_pump){ out[0], sock, 1 };
		pe = (frame_pump){ errp[0], sock, 2 };
		pthread_create(&to, NULL, pump_frames, &po);
		pthread_create(&te, NULL, pump_frames, &pe);
		code = runtime_call(run->runtime, run->server->paths.runtime_root, args + 3, &io, &e);
		close(out[1]);
		close(errp[1]);
		pthread_join(to, NULL);
		pthread_join(te, NULL);
		close(out[0]);
		close(errp[0]);
	}
	if (code < 0) {
		const char *msg = e && e->msg ? e->msg : "exec failed";
		if (!run->tty)
			api_write_frame(sock, 2, msg, strlen(msg));
		code = 126;
	}
	berth_error_free(&e);
	free(io.out_text);
	free(io.err_text);
	exec_finish(run->x, code);
}

void api_exec_start(api_request *r)
{
	berth_error *e = NULL;
	json_t *body = api_body_json(r, &e);
	exec_instance *x;
	container *c = NULL;
	exec_run *run;

	if (body == NULL) {
		api_reply_berth_error(r, &e);
		return;
	}
	pthread_mutex_lock(&exec_lock);
	x = exec_find(r->params[0]);
	if (x && x->started) {
		pthread_mutex_unlock(&exec_lock);
		json_decref(body);
		api_reply_error(r, 409, "exec %s has already been started", r->params[0]);
		return;
	}
	if (x) {
		x->started = true;
		x->running = true;
	}
	pthread_mutex_unlock(&exec_lock);
	if (x == NULL) {
		json_decref(body);
		api_reply_error(r, 404, "No such exec instance: %s", r->params[0]);
		return;
	}
	if (record_open(&r->server->paths, x->container_id, &c, &e) < 0) {
		exec_finish(x, 126);
		json_decref(body);
		api_reply_berth_error(r, &e);
		return;
	}
	run = calloc(1, sizeof(*run));
	if (run == NULL || (run->runtime = strdup(engine_container_runtime(c))) == NULL) {
		free(run);
		container_free(c);
		exec_finish(x, 126);
		json_decref(body);
		api_reply_error(r, 500, "exec: out of memory");
		return;
	}
	container_free(c);
	run->server = r->server;
	run->x = x;
	run->detach = json_is_true(json_object_get(body, "Detach"));
	run->tty = json_is_true(json_object_get(body, "Tty")) || json_is_true(json_object_get(x->config, "Tty"));
	run->attach_stdin = json_is_true(json_object_get(x->config, "AttachStdin"));
	json_decref(body);
	if (run->detach) {
		_cleanup_free_ const char **args = exec_args(&r->server->paths, run->runtime, x, false, true);
		int code = args ? runtime_call(run->runtime, r->server->paths.runtime_root, args + 3, NULL, &e) : -1;
		exec_finish(x, code < 0 ? 126 : 0);
		exec_run_free(run);
		if (code != 0)
			api_reply_error(r, 500, "exec: %s", e && e->msg ? e->msg : "the runtime failed");
		else
			api_reply_json(r, 200, NULL);
		berth_error_free(&e);
		return;
	}
	api_reply_hijack(r, exec_serve, run, exec_run_free);
}

void api_exec_inspect(api_request *r)
{
	exec_instance *x;
	json_t *j = NULL;

	pthread_mutex_lock(&exec_lock);
	x = exec_find(r->params[0]);
	if (x) {
		json_t *cmd = json_object_get(x->config, "Cmd");
		json_t *args = json_deep_copy(cmd);
		json_array_remove(args, 0);
		j = json_pack("{s:s, s:b, s:o, s:s, s:b, s:b, s:b, s:b, s:b, s:{s:s, s:s, s:o, s:b, s:s}}", "ID", x->id,
			      "Running", x->running, "ExitCode",
			      x->started && !x->running ? json_integer(x->exit_code) : json_null(), "ContainerID",
			      x->container_id, "OpenStdin", json_is_true(json_object_get(x->config, "AttachStdin")),
			      "OpenStdout", true, "OpenStderr", true, "CanRemove", false, "Privileged", false,
			      "ProcessConfig", "entrypoint", json_string_value(json_array_get(cmd, 0)) ?: "", "user",
			      json_string_value(json_object_get(x->config, "User")) ?: "", "arguments", args, "tty",
			      json_is_true(json_object_get(x->config, "Tty")), "privileged", "");
		json_object_set_new(j, "Pid", json_integer(0));
		json_object_set_new(json_object_get(j, "ProcessConfig"), "privileged", json_false());
	}
	pthread_mutex_unlock(&exec_lock);
	if (j == NULL)
		api_reply_error(r, 404, "No such exec instance: %s", r->params[0]);
	else
		api_reply_json(r, 200, j);
}

void api_exec_resize(api_request *r)
{
	api_reply_json(r, 200, NULL);
}
