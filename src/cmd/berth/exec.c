/* berth exec: a process in a running container, through `RUNTIME exec`
 * (which joins the namespaces and cgroup, proxies a terminal with -t and
 * waits for the process, exiting with its code). berth execs the runtime:
 * nothing of berth stays in between. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/container.h"
#include "engine/live_root.h"
#include "storage/bundle.h"
#include "util/fs.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "interactive", 'i', false, "keep stdin open" },
	{ "tty", 't', false, "allocate a pseudo-terminal" },
	{ "env", 'e', true, "KEY=VALUE; repeatable" },
	{ "user", 'u', true, "USER[:GROUP], names or ids (names from the container's /etc/passwd)" },
	{ "workdir", 'w', true, "working directory" },
	{ "detach", 'd', false, "run in the background" },
	{ "privileged", 0, false, "(accepted; the container's capabilities apply)" },
	{ NULL, 0, false, NULL },
};

enum { E_INTERACTIVE, E_TTY, E_ENV, E_USER, E_WORKDIR, E_DETACH, E_PRIVILEGED, E_COUNT };

/* -u NAME[:GROUP] as the runtime wants it: numeric, names resolved in the
 * container's own /etc/passwd and /etc/group. */
static int numeric_user(const container *c, const char *spec, char out[64], berth_error **err)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c);
	_cleanup_free_ char *rootfs = bundle ? fs_path_join(bundle, "rootfs") : NULL;
	_cleanup_close_ int fd = rootfs ? open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC) : -EBADF;
	long uid, gid;

	if (fd < 0)
		return berth_error_set(err, errno, "exec -u: rootfs of %s", c->name);
	if (bundle_resolve_user(spec, fd, &uid, &gid, err) < 0)
		return berth_error_wrap(err, "exec -u");
	snprintf(out, 64, "%ld:%ld", uid, gid);
	return 0;
}

/* The container's process env and cwd from its bundle's config.json. */
static json_t *bundle_process(const container *c)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c);
	_cleanup_free_ char *path = bundle ? fs_path_join(bundle, "config.json") : NULL;
	json_t *cfg = path ? json_load_file(path, 0, NULL) : NULL;
	json_t *process = json_incref(json_object_get(cfg, "process"));

	json_decref(cfg);
	return process;
}

static const char *env_value(json_t *env, const char *key)
{
	size_t i, len = strlen(key);
	json_t *e;

	json_array_foreach(env, i, e) {
		const char *s = json_string_value(e);
		if (s && strncmp(s, key, len) == 0 && s[len] == '=')
			return s + len + 1;
	}
	return NULL;
}

static bool env_given(const option_value *v, const char *key)
{
	size_t len = strlen(key);

	for (int i = 0; i < v->count; i++)
		if (strncmp(v->all[i], key, len) == 0 && (v->all[i][len] == '=' || v->all[i][len] == '\0'))
			return true;
	return false;
}

/* docker's exit codes for a command that cannot start: 127 when it (or the
 * -w directory) does not exist, 126 when it is not executable. Checked in
 * the container's own view of its files (its mounts included); 0 when the
 * runtime should go ahead. */
static int check_command(const container *c, const option_value *v, const char *argv0, berth_error **err)
{
	_cleanup_close_ int rootfd = -EBADF;
	json_t *process = bundle_process(c);
	const char *path = NULL, *cwd;
	int code;

	rootfd = engine_live_root_open(c, err);
	if (rootfd < 0) {
		json_decref(process);
		berth_error_free(err); /* the runtime reports it */
		return 0;
	}
	for (int i = 0; i < v[E_ENV].count; i++)
		if (strncmp(v[E_ENV].all[i], "PATH=", 5) == 0)
			path = v[E_ENV].all[i] + 5;
	if (path == NULL)
		path = env_value(json_object_get(process, "env"), "PATH");
	cwd = v[E_WORKDIR].value ? v[E_WORKDIR].value : json_string_value(json_object_get(process, "cwd"));
	code = engine_exec_check(rootfd, cwd, argv0, path, err);
	json_decref(process);
	if (code != 0)
		berth_error_wrap(err, "exec %s", c->name);
	return code;
}

static const char **build_args(const engine_paths *p, const container *c, const option_value *v, const char *user,
			       char **cmd, int ncmd)
{
	const char **a = calloc((size_t)(16 + 2 * v[E_ENV].count + ncmd), sizeof(char *));
	int n = 0;

	if (a == NULL)
		return NULL;
	a[n++] = engine_container_runtime(c);
	a[n++] = "--root";
	a[n++] = p->runtime_root;
	a[n++] = "exec";
	if (option_bool(&v[E_TTY]))
		a[n++] = "--tty";
	if (option_bool(&v[E_TTY]) && !env_given(&v[E_ENV], "TERM")) {
		a[n++] = "--env";
		a[n++] = "TERM=xterm";
	}
	if (option_bool(&v[E_DETACH]))
		a[n++] = "--detach";
	for (int i = 0; i < v[E_ENV].count; i++) {
		a[n++] = "--env";
		a[n++] = v[E_ENV].all[i];
	}
	if (user) {
		a[n++] = "--user";
		a[n++] = user;
	}
	if (v[E_WORKDIR].value) {
		a[n++] = "--cwd";
		a[n++] = v[E_WORKDIR].value;
	}
	a[n++] = c->id;
	for (int i = 0; i < ncmd; i++)
		a[n++] = cmd[i];
	return a;
}

int cmd_exec(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[E_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_free_ const char **args = NULL;
	engine_paths paths = { 0 };
	container *c = NULL;
	char user[64];
	int npos, ret;
	_cleanup_free_ char **expanded = berth_expand_short_flags(specs, argc, argv, true, &argc);

	if (expanded == NULL)
		return berth_error_set(err, ENOMEM, "exec"), 125;
	argv = expanded;
	ret = berth_parse("exec", "exec [flags] CONTAINER COMMAND [ARG...]", specs, argc, argv, true, v, &pos, &npos, 2,
			  -1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (berth_engine_open(g, &paths, err) < 0 || record_open(&paths, pos[0], &c, err) < 0 ||
	    record_refresh(&paths, c, err) < 0)
		goto fail;
	if (strcmp(c->state.status, "running") != 0) {
		berth_error_set(err, 0, "container %s is not running", c->name);
		goto fail;
	}
	if (v[E_USER].value && numeric_user(c, v[E_USER].value, user, err) < 0)
		goto fail;
	if ((ret = check_command(c, v, pos[1], err)) != 0) {
		container_free(c);
		engine_paths_free(&paths);
		options_free_values(v, E_COUNT);
		return ret;
	}
	args = build_args(&paths, c, v, v[E_USER].value ? user : NULL, pos + 1, npos - 1);
	if (args == NULL)
		goto fail;
	if (!option_bool(&v[E_INTERACTIVE]) && !option_bool(&v[E_TTY]) && !option_bool(&v[E_DETACH]))
		freopen("/dev/null", "r", stdin);
	fflush(stdout);
	execvp(args[0], (char *const *)args);
	berth_error_set(err, errno, "exec %s", args[0]);
fail:
	container_free(c);
	engine_paths_free(&paths);
	options_free_values(v, E_COUNT);
	return 125;
}
