/* berth top: the processes of a running container, as docker top shows
 * them. `RUNTIME ps ID [PS ARGS...]` runs ps(1) on the host (default
 * options -ef) and keeps the lines of the pids in the container's cgroup;
 * its output goes straight to our stdout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/container.h"
#include "engine/runtime_call.h"
#include "util/cleanup.h"

static const option_spec specs[] = { { NULL, 0, false, NULL } };

/* "ps" ID PS_ARGS... NULL, the strings borrowed. */
static const char **ps_args(const container *c, char **ps_options, int n)
{
	const char **a = calloc((size_t)n + 3, sizeof(char *));

	if (a == NULL)
		return NULL;
	a[0] = "ps";
	a[1] = c->id;
	for (int i = 0; i < n; i++)
		a[2 + i] = ps_options[i];
	return a;
}

static int top_container(const engine_paths *p, container *c, char **ps_options, int n, berth_error **err)
{
	_cleanup_free_ const char **args = NULL;
	runtime_io io = { RUNTIME_NULL, STDOUT_FILENO, RUNTIME_CAPTURE, NULL, NULL, NULL };
	int rc;

	if (strcmp(c->state.status, "running") != 0 && strcmp(c->state.status, "paused") != 0)
		return berth_error_set(err, 0, "container %s is not running", c->name);
	args = ps_args(c, ps_options, n);
	if (args == NULL)
		return berth_error_set(err, ENOMEM, "top %s", c->name);
	fflush(stdout);
	rc = runtime_call(engine_container_runtime(c), p->runtime_root, args, &io, err);
	if (rc > 0)
		berth_error_set(err, 0, "top %s: %s", c->name, io.err_text ? io.err_text : "runtime ps failed");
	free(io.err_text);
	return rc == 0 ? 0 : -1;
}

int cmd_top(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	container *c = NULL;
	int npos, ret;

	ret = berth_parse("top", "top CONTAINER [ps OPTIONS]", specs, argc, argv, true, v, &pos, &npos, 1, -1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = 0;
	if (berth_engine_open(g, &paths, err) < 0 || record_open(&paths, pos[0], &c, err) < 0 ||
	    record_refresh(&paths, c, err) < 0 || top_container(&paths, c, pos + 1, npos - 1, err) < 0)
		ret = 125;
	container_free(c);
	engine_paths_free(&paths);
	return ret;
}
