/* berth stop, kill, restart, rm, wait, container prune. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/container.h"
#include "engine/monitor.h"
#include "util/cleanup.h"
#include "util/log.h"

static int parse_seconds(const option_value *v, int *out, berth_error **err)
{
	char *end;

	*out = -1;
	if (!v->value)
		return 0;
	*out = (int)strtol(v->value, &end, 10);
	if (*end != '\0' || end == v->value || *out < 0)
		return berth_error_set(err, EINVAL, "-t: invalid number of seconds \"%s\"", v->value);
	return 0;
}

static int stop_fn(const engine_paths *p, container *c, void *arg, berth_error **err)
{
	int timeout = *(int *)arg;

	if (timeout < 0)
		timeout = (int)record_config_int(c, "StopTimeout", 10);
	if (engine_container_stop(p, c, timeout, err) < 0)
		return -1;
	printf("%s\n", c->name);
	return 0;
}

static const option_spec stop_specs[] = {
	{ "time", 't', true, "seconds to wait before SIGKILL (default the container's, 10)" },
	{ NULL, 0, false, NULL },
};

static int with_timeout(const berth_globals *g, const char *name, int argc, char **argv, berth_container_fn fn,
			berth_error **err)
{
	option_value v[2] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	char usage[64];
	int npos, ret, timeout;

	snprintf(usage, sizeof(usage), "%s [-t SECONDS] CONTAINER...", name);
	ret = berth_parse_grouped(name, usage, stop_specs, argc, argv, false, v, &pos, &npos, 1, -1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (parse_seconds(&v[0], &timeout, err) < 0 || berth_engine_open(g, &paths, err) < 0)
		return 125;
	ret = berth_for_each_container(&paths, pos, npos, fn, &timeout);
	engine_paths_free(&paths);
	return ret ? 125 : 0;
}

int cmd_stop(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return with_timeout(g, "stop", argc, argv, stop_fn, err);
}

static int restart_fn(const engine_paths *p, container *c, void *arg, berth_error **err)
{
	int timeout = *(int *)arg;

	if (timeout < 0)
		timeout = (int)record_config_int(c, "StopTimeout", 10);
	if (engine_container_stop(p, c, timeout, err) < 0)
		return -1;
	if (c->state.monitor_pid > 0 && record_monitor_alive(c)) {
		int code;
		engine_container_wait(p, c, 5000, &code, err);
	}
	if (monitor_start(p, c, false, NULL, NULL, err) < 0)
		return -1;
	printf("%s\n", c->name);
	return 0;
}

int cmd_restart(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return with_timeout(g, "restart", argc, argv, restart_fn, err);
}

static int kill_fn(const engine_paths *p, container *c, void *arg, berth_error **err)
{
	if (record_refresh(p, c, err) < 0 || engine_container_kill(p, c, arg, err) < 0)
		return -1;
	printf("%s\n", c->name);
	return 0;
}

static const option_spec kill_specs[] = {
	{ "signal", 's', true, "signal name or number (default SIGKILL)" },
	{ NULL, 0, false, NULL },
};

int cmd_kill(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[2] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	int npos, ret;

	ret = berth_parse_grouped("kill", "kill [-s SIGNAL] CONTAINER...", kill_specs, argc, argv, false, v, &pos,
				  &npos, 1, -1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (berth_engine_open(g, &paths, err) < 0)
		return 125;
	ret = berth_for_each_container(&paths, pos, npos, kill_fn, (void *)(v[0].value ? v[0].value : "SIGKILL"));
	engine_paths_free(&paths);
	return ret ? 125 : 0;
}

struct rm_flags {
	bool force, volumes;
};

static int pause_fn(const engine_paths *p, container *c, void *arg, berth_error **err)
{
	if (engine_container_pause(p, c, *(bool *)arg, err) < 0)
		return -1;
	printf("%s\n", c->name);
	return 0;
}

static int pause_command(const berth_globals *g, const char *name, bool pause, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { NULL, 0, false, NULL } };
	option_value v[1] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	char usage[64];
	int npos, ret;

	snprintf(usage, sizeof(usage), "%s CONTAINER...", name);
	ret = berth_parse_grouped(name, usage, specs, argc, argv, false, v, &pos, &npos, 1, -1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (berth_engine_open(g, &paths, err) < 0)
		return 125;
	ret = berth_for_each_container(&paths, pos, npos, pause_fn, &pause);
	engine_paths_free(&paths);
	return ret ? 125 : 0;
}

int cmd_pause(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return pause_command(g, "pause", true, argc, argv, err);
}

int cmd_unpause(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return pause_command(g, "unpause", false, argc, argv, err);
}

static int rm_fn(const engine_paths *p, container *c, void *arg, berth_error **err)
{
	const struct rm_flags *f = arg;

	if (engine_container_remove(p, c, f->force, err) < 0)
		return -1;
	printf("%s\n", c->name);
	return f->volumes ? engine_container_remove_anonymous_volumes(p, c, err) : 0;
}

static const option_spec rm_specs[] = {
	{ "force", 'f', false, "kill a running container first" },
	{ "volumes", 'v', false, "remove the container's anonymous volumes" },
	{ NULL, 0, false, NULL },
};

int cmd_rm(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	struct rm_flags flags;
	int npos, ret;

	ret = berth_parse_grouped("rm", "rm [-f] [-v] CONTAINER...", rm_specs, argc, argv, false, v, &pos, &npos, 1, -1,
				  &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	flags.force = option_bool(&v[0]);
	flags.volumes = option_bool(&v[1]);
	if (berth_engine_open(g, &paths, err) < 0)
		return 125;
	for (int i = 0; i < npos; i++) {
		berth_error *e = NULL;
		container *c = NULL;
		if (record_open(&paths, pos[i], &c, &e) < 0 && e->code == ESTALE) {
			/* half-made by a killed command: removed on the way */
			berth_debug("%s", e->msg);
			berth_error_free(&e);
			printf("%s\n", pos[i]);
		} else if (e || rm_fn(&paths, c, &flags, &e) < 0) {
			berth_error_report("berth", &e);
			ret = 1;
		}
		container_free(c);
	}
	engine_paths_free(&paths);
	return ret ? 125 : 0;
}

static int wait_fn(const engine_paths *p, container *c, void *arg, berth_error **err)
{
	int code;

	if (engine_container_wait(p, c, -1, &code, err) < 0)
		return -1;
	printf("%d\n", code);
	*(int *)arg = code;
	return 0;
}

int cmd_wait(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec none[] = { { NULL, 0, false, NULL } };
	option_value v[1] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	int npos, ret, code = 0;

	ret = berth_parse_grouped("wait", "wait CONTAINER...", none, argc, argv, false, v, &pos, &npos, 1, -1, &keep,
				  err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (berth_engine_open(g, &paths, err) < 0)
		return 125;
	ret = berth_for_each_container(&paths, pos, npos, wait_fn, &code);
	engine_paths_free(&paths);
	return ret ? 125 : 0;
}

int cmd_container_prune(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { "force", 'f', false, "do not ask for confirmation" },
					     { NULL, 0, false, NULL } };
	option_value v[2] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	container **list = NULL;
	size_t n = 0;
	int npos, ret, failed = 0;

	ret = berth_parse_grouped("container prune", "container prune [-f]", specs, argc, argv, false, v, &pos, &npos,
				  0, 0, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = berth_confirm("container prune", "This will remove all stopped containers.", option_bool(&v[0]), err);
	if (ret <= 0)
		return ret < 0 ? 125 : 0;
	if (berth_engine_open(g, &paths, err) < 0 || record_list(&paths, &list, &n, err) < 0) {
		engine_paths_free(&paths);
		return 125;
	}
	for (size_t i = 0; i < n; i++) {
		berth_error *e = NULL;
		if (record_refresh(&paths, list[i], &e) < 0 || engine_status_is_live(list[i]->state.status) ||
		    list[i]->state.unsupervised) {
			berth_error_free(&e);
			continue;
		}
		if (engine_container_destroy(&paths, list[i], &e) < 0) {
			berth_error_report("berth", &e);
			failed = 1;
			continue;
		}
		printf("%s\n", list[i]->id);
	}
	record_list_free(list, n);
	engine_paths_free(&paths);
	return failed ? 125 : 0;
}
