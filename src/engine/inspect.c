/* docker inspect's JSON of a container, shared by `berth inspect` and the
 * API service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/container.h"
#include "engine/inspect.h"
#include "util/cleanup.h"

static json_t *state_json(const container *c)
{
	const container_state *s = &c->state;
	json_t *j = json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s, s:i}", "Status", s->status,
			      "Running", strcmp(s->status, "running") == 0, "Paused", strcmp(s->status, "paused") == 0,
			      "OOMKilled", s->oom_killed, "Restarting", strcmp(s->status, "restarting") == 0,
			      "Unsupervised", s->unsupervised, "Pid", (int)s->pid, "ExitCode", s->exit_code, "Error",
			      s->error ?: "", "StartedAt", s->started_at ?: "0001-01-01T00:00:00Z", "FinishedAt",
			      s->finished_at ?: "0001-01-01T00:00:00Z", "MonitorPid", (int)s->monitor_pid);
	if (s->health)
		json_object_set_new(j, "Health",
				    json_pack("{s:s, s:i, s:o}", "Status", s->health, "FailingStreak",
					      s->health_failures, "Log",
					      s->health_log ? json_incref(s->health_log) : json_array()));
	return j;
}

/* docker's Config.Env and Config.Hostname are what the process gets: the
 * image's environment with the flags', HOSTNAME..., from the bundle. */
static void bundle_view(const container *c, json_t *j)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *path = NULL;
	json_t *cfg, *env;

	if (bundle == NULL || asprintf(&path, "%s/config.json", bundle) < 0)
		return;
	cfg = json_load_file(path, 0, NULL);
	env = json_object_get(json_object_get(cfg, "process"), "env");
	if (json_is_array(env))
		json_object_set(j, "Env", env);
	if (json_is_string(json_object_get(cfg, "hostname")))
		json_object_set(j, "Hostname", json_object_get(cfg, "hostname"));
	json_decref(cfg);
}

static json_t *config_json(const container *c)
{
	json_t *cfg = c->config;
	json_t *j = json_pack(
	    "{s:s, s:s, s:O, s:O, s:b, s:b, s:s, s:s}", "Hostname", record_config_string(c, "Hostname") ?: "", "User",
	    record_config_string(c, "User") ?: "", "Env", json_object_get(cfg, "Env") ?: json_null(), "Cmd",
	    json_object_get(cfg, "Cmd") ?: json_object_get(cfg, "Command") ?: json_null(), "Tty", record_config_bool(c, "Tty"), "OpenStdin",
	    record_config_bool(c, "Interactive"), "Image", record_config_string(c, "Image") ?: "", "StopSignal",
	    record_config_string(c, "StopSignal") ?: "SIGTERM");
	bundle_view(c, j);
	json_object_set(j, "Entrypoint", json_object_get(cfg, "Entrypoint") ?: json_null());
	json_object_set(j, "WorkingDir", json_object_get(cfg, "Cwd") ?: json_string(""));
	if (json_object_get(cfg, "Healthcheck"))
		json_object_set(j, "Healthcheck", json_object_get(cfg, "Healthcheck"));
	json_object_set_new(
	    j, "Labels", json_object_get(cfg, "Labels") ? json_incref(json_object_get(cfg, "Labels")) : json_object());
	return j;
}

/* docker's Mounts: Type, Name (volumes), Source, Destination, Mode, RW. */
static json_t *mounts_json(const container *c)
{
	json_t *out = json_array(), *m;
	size_t i;

	json_array_foreach(json_object_get(c->config, "Mounts"), i, m) {
		json_t *e =
		    json_pack("{s:s, s:s, s:s, s:s, s:b}", "Type", json_string_value(json_object_get(m, "Type")) ?: "",
			      "Source", json_string_value(json_object_get(m, "Source")) ?: "", "Destination",
			      json_string_value(json_object_get(m, "Destination")) ?: "", "Mode",
			      json_is_false(json_object_get(m, "RW")) ? "ro" : "", "RW",
			      !json_is_false(json_object_get(m, "RW")));
		if (json_object_get(m, "Name")) {
			json_object_set(e, "Name", json_object_get(m, "Name"));
			json_object_set_new(e, "Driver", json_string("local"));
		}
		json_array_append_new(out, e);
	}
	return out;
}

/* docker's HostConfig resource names (0: no limit). */
static void resources_json(const container *c, json_t *host)
{
	static const char *const keys[] = { "Memory", "NanoCpus", "CpuShares", "PidsLimit", "MemorySwap" };
	json_t *r = json_object_get(c->config, "Resources");

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_set_new(host, keys[i], json_integer(json_integer_value(json_object_get(r, keys[i]))));
}

/* Path and Args: the process as the runtime starts it, before --init. */
static void path_args_json(const container *c, json_t *j)
{
	json_t *cmd = json_object_get(c->config, "Command"), *args = json_array(), *a;
	size_t i;

	json_array_foreach(cmd, i, a) {
		if (i > 0)
			json_array_append(args, a);
	}
	json_object_set_new(j, "Path", json_string(json_string_value(json_array_get(cmd, 0)) ?: ""));
	json_object_set_new(j, "Args", args);
}

json_t *engine_container_inspect_json(const container *c)
{
	_cleanup_free_ char *log = record_path(c, "ctr.log"), *bundle = record_path(c, "bundle");
	json_t *j =
	    json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:s, s:s, s:s}", "Id", c->id, "Name", c->name, "Created",
		      record_config_string(c, "Created") ?: "", "Image", record_config_string(c, "ImageId") ?: "",
		      "State", state_json(c), "Config", config_json(c), "RestartCount", c->state.restart_count,
		      "LogPath", log, "Bundle", bundle, "Runtime", record_config_string(c, "Runtime") ?: "");
	json_object_set_new(j, "HostConfig",
			    json_pack("{s:{s:s, s:I}, s:b, s:s, s:O, s:b}", "RestartPolicy", "Name",
				      record_config_string(c, "RestartPolicy") ?: "no", "MaximumRetryCount",
				      (json_int_t)record_config_int(c, "RestartMax", 0), "AutoRemove",
				      record_config_bool(c, "AutoRemove"), "NetworkMode",
				      record_config_string(c, "Network") ?: "none", "Binds",
				      json_object_get(c->config, "Volumes") ?: json_null(), "Init",
				      record_config_bool(c, "Init")));
	/* docker's words: IpcMode "private" by default, PidMode "" */
	json_object_set_new(json_object_get(j, "HostConfig"), "IpcMode",
			    json_string(record_config_string(c, "IpcMode") ?: "private"));
	json_object_set_new(json_object_get(j, "HostConfig"), "PidMode",
			    json_string(record_config_string(c, "PidMode") ?: ""));
	resources_json(c, json_object_get(j, "HostConfig"));
	path_args_json(c, j);
	json_object_set_new(j, "Mounts", mounts_json(c));
	json_object_set_new(j, "NetworkSettings",
			    json_deep_copy(json_object_get(c->config, "NetworkSettings")) ?: json_object());
	return j;
}
