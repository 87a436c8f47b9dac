/* berth ps: the containers, their status made truthful first (a container
 * whose monitor died is not shown as running unless the runtime says so). */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/engine_cmd.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "all", 'a', false, "show every container (default: running ones)" },
	{ "quiet", 'q', false, "only ids" },
	{ "format", 0, true, "table or json" },
	{ "no-trunc", 0, false, "full ids and commands" },
	{ "filter", 'f', true,
	  "KEY=VALUE: status, name, id, exited, ancestor, health, label (K or K=V); repeatable (all must match; "
	  "the same key repeated: any of them)" },
	{ NULL, 0, false, NULL },
};

static const char *const filter_keys[] = { "status", "name", "id", "exited", "ancestor", "health", "label", NULL };

/* Checks every --filter has a known KEY=VALUE form before anything is listed. */
static int check_filters(const option_value *f, berth_error **err)
{
	for (int i = 0; i < f->count; i++) {
		const char *eq = strchr(f->all[i], '=');
		bool known = false;
		for (int k = 0; eq && filter_keys[k]; k++)
			known = known || (strlen(filter_keys[k]) == (size_t)(eq - f->all[i]) &&
					  strncmp(f->all[i], filter_keys[k], (size_t)(eq - f->all[i])) == 0);
		if (!known)
			return berth_error_set(err, EINVAL,
					       "ps --filter \"%s\": expected KEY=VALUE with KEY one of status, name, "
					       "id, exited, ancestor, health, label",
					       f->all[i]);
		if (strncmp(f->all[i], "name=", 5) == 0) {
			regex_t re;
			char text[256];
			int rc = regcomp(&re, f->all[i] + 5, REG_EXTENDED | REG_NOSUB);
			if (rc != 0) {
				regerror(rc, &re, text, sizeof(text));
				return berth_error_request(err, EINVAL, "ps --filter \"%s\": %s", f->all[i], text);
			}
			regfree(&re);
		}
	}
	return 0;
}

/* docker: name=REGEX, unanchored, against the name (and "/NAME", the way
 * docker writes names, so "^/web$" works too) */
static bool name_matches(const char *name, const char *pattern)
{
	_cleanup_free_ char *slashed = NULL;
	regex_t re;
	bool m;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	m = regexec(&re, name, 0, NULL, 0) == 0 ||
	    (asprintf(&slashed, "/%s", name) > 0 && regexec(&re, slashed, 0, NULL, 0) == 0);
	regfree(&re);
	return m;
}

static bool filter_matches(const container *c, const char *key, const char *value)
{
	if (strcmp(key, "status") == 0)
		return strcmp(c->state.status, value) == 0;
	if (strcmp(key, "name") == 0)
		return name_matches(c->name, value);
	if (strcmp(key, "id") == 0)
		return strncmp(c->id, value, strlen(value)) == 0;
	if (strcmp(key, "exited") == 0)
		return strcmp(c->state.status, "exited") == 0 && c->state.exit_code == atoi(value);
	if (strcmp(key, "label") == 0) {
		/* label=K: the container has K; label=K=V: K is V */
		const char *eq = strchr(value, '=');
		_cleanup_free_ char *k = eq ? strndup(value, (size_t)(eq - value)) : strdup(value);
		json_t *l = k ? json_object_get(json_object_get(c->config, "Labels"), k) : NULL;
		return l && (!eq || strcmp(json_string_value(l) ?: "", eq + 1) == 0);
	}
	if (strcmp(key, "health") == 0)
		return strcmp(c->state.health ? c->state.health : "none", value) == 0;
	if (strcmp(key, "ancestor") == 0) {
		const char *image = record_config_string(c, "Image"), *id = record_config_string(c, "ImageId");
		return (image && strcmp(image, value) == 0) ||
		       (id &&
			(strcmp(id, value) == 0 || (strlen(value) >= 3 && strncmp(id + 7, value, strlen(value)) == 0)));
	}
	return false;
}

/* Filters of one key: any may match; different keys: all must. */
static bool passes_filters(const container *c, const option_value *f)
{
	for (int k = 0; filter_keys[k]; k++) {
		size_t kl = strlen(filter_keys[k]);
		bool seen = false, any = false;
		for (int i = 0; i < f->count; i++) {
			if (strncmp(f->all[i], filter_keys[k], kl) != 0 || f->all[i][kl] != '=')
				continue;
			seen = true;
			any = any || filter_matches(c, filter_keys[k], f->all[i] + kl + 1);
		}
		if (seen && !any)
			return false;
	}
	return true;
}

static char *command_text(const container *c, bool full)
{
	json_t *args = json_object_get(c->config, "Command"), *a;
	size_t i, len = 0;
	char *out = calloc(1, 4096);

	json_array_foreach(args, i, a) {
		if (out == NULL || len > 4000)
			break;
		len += (size_t)snprintf(out + len, 4096 - len, "%s%s", i ? " " : "", json_string_value(a));
	}
	if (out && !full && strlen(out) > 20)
		strcpy(out + 17, "...");
	return out;
}

static void status_text(const container *c, char *buf, size_t size)
{
	const container_state *s = &c->state;
	char since[64];

	if (strcmp(s->status, "running") == 0 || strcmp(s->status, "paused") == 0) {
		long up = berth_seconds_since(s->started_at);

		since[0] = '\0';
		if (up >= 0)
			berth_human_duration(up, since, sizeof(since));
		/* docker: "(healthy)", "(unhealthy)", "(health: starting)" */
		snprintf(buf, size, "Up %s%s%s%s%s%s", since[0] ? since : "",
			 strcmp(s->status, "paused") == 0 ? " (Paused)" : "", s->health ? " (" : "",
			 s->health && strcmp(s->health, "starting") == 0 ? "health: " : "", s->health ? s->health : "",
			 s->health ? ")" : "");
		if (s->unsupervised && !record_config_bool(c, "NoMonitor")) /* a pod's holder has none */
			snprintf(buf + strlen(buf), size - strlen(buf), " (no monitor)");
	} else if (strcmp(s->status, "exited") == 0) {
		berth_human_since(s->finished_at, since);
		if (s->exit_code == RECORD_EXIT_CODE_UNKNOWN) /* its monitor died: nobody saw it */
			snprintf(buf, size, "Exited (unknown) %s", since);
		else
			snprintf(buf, size, "Exited (%d) %s", s->exit_code, since);
	} else if (strcmp(s->status, "restarting") == 0) {
		snprintf(buf, size, "Restarting (%d)", s->exit_code);
	} else {
		snprintf(buf, size, "%s", strcmp(s->status, "created") == 0 ? "Created" : s->status);
	}
}

/* The published ports of C: none while it is exited or between two runs
 * (a stopped container holds no port: docs/networking.md). */
static json_t *published_ports(const container *c)
{
	if (strcmp(c->state.status, "exited") == 0 || strcmp(c->state.status, "restarting") == 0)
		return NULL;
	return json_object_get(json_object_get(c->config, "NetworkSettings"), "Ports");
}

/* "0.0.0.0:8080->80/tcp, 127.0.0.1:9053->53/udp" as docker shows them. */
static void ports_text(const container *c, char *buf, size_t size)
{
	json_t *ports = published_ports(c), *p;
	size_t i, len = 0;

	buf[0] = '\0';
	json_array_foreach(ports, i, p) {
		const char *ip = json_string_value(json_object_get(p, "HostIp"));
		int n = snprintf(buf + len, size - len, "%s%s:%" JSON_INTEGER_FORMAT "->%" JSON_INTEGER_FORMAT "/%s",
				 i ? ", " : "", ip && ip[0] ? ip : "0.0.0.0",
				 json_integer_value(json_object_get(p, "HostPort")),
				 json_integer_value(json_object_get(p, "ContainerPort")),
				 json_string_value(json_object_get(p, "Protocol")) ?: "tcp");
		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
}

static json_t *ps_json(const container *c)
{
	char status[128];
	json_t *j, *ports;

	status_text(c, status, sizeof(status));
	j = json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:i, s:i, s:s, s:i}", "Id", c->id, "Name", c->name, "Image",
		      record_config_string(c, "Image") ?: "", "Command",
		      json_object_get(c->config, "Command") ?: json_null(), "Created",
		      record_config_string(c, "Created") ?: "", "State", c->state.status, "Pid", (int)c->state.pid,
		      "ExitCode", c->state.exit_code, "StartedAt", c->state.started_at ?: "", "RestartCount",
		      c->state.restart_count);
	json_object_set_new(j, "Status", json_string(status));
	ports = published_ports(c);
	json_object_set_new(j, "Ports", ports ? json_incref(ports) : json_array());
	if (c->state.health)
		json_object_set_new(j, "Health", json_string(c->state.health));
	return j;
}

int cmd_ps(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[6] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	container **list = NULL;
	size_t n = 0;
	bool all, quiet, json, full;
	json_t *arr = NULL;
	berth_table table = { .ncols = 7 };
	int npos, ret;

	ret = berth_parse_grouped("ps", "ps [-a] [-q] [--format table|json] [--no-trunc] [--filter K=V]", specs, argc,
				  argv, false, v, &pos, &npos, 0, 0, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	all = option_bool(&v[0]);
	quiet = option_bool(&v[1]);
	full = option_bool(&v[3]);
	json = v[2].value && strcmp(v[2].value, "json") == 0;
	if (v[2].value && !json && strcmp(v[2].value, "table") != 0)
		return berth_error_set(err, EINVAL, "ps --format: table or json, not \"%s\"", v[2].value), 125;
	if (check_filters(&v[4], err) < 0) {
		options_free_values(v, 5);
		return 125;
	}
	/* as docker: status= and exited= look beyond the running containers */
	for (int i = 0; i < v[4].count; i++)
		if (strncmp(v[4].all[i], "status=", 7) == 0 || strncmp(v[4].all[i], "exited=", 7) == 0)
			all = true;
	if (berth_engine_open(g, &paths, err) < 0 || record_list(&paths, &list, &n, err) < 0) {
		engine_paths_free(&paths);
		options_free_values(v, 5);
		return 125;
	}
	if (json) {
		arr = json_array();
	} else if (!quiet) {
		const char *head[] = { "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES" };
		berth_table_add(&table, head);
	}
	for (size_t i = 0; i < n; i++) {
		container *c = list[i];
		char created[64], status[128], ports[512], id[RECORD_ID_LEN + 1];
		_cleanup_free_ char *cmd = NULL;
		berth_error *ignored = NULL;
		if (record_refresh(&paths, c, &ignored) < 0)
			berth_error_free(&ignored);
		if (!all && !engine_status_is_live(c->state.status))
			continue;
		if (!passes_filters(c, &v[4]))
			continue;
		if (json) {
			json_array_append_new(arr, ps_json(c));
			continue;
		}
		if (quiet) {
			printf("%.*s\n", full ? RECORD_ID_LEN : 12, c->id);
			continue;
		}
		cmd = command_text(c, full);
		status_text(c, status, sizeof(status));
		ports_text(c, ports, sizeof(ports));
		snprintf(id, sizeof(id), "%.*s", full ? RECORD_ID_LEN : 12, c->id);
		{
			const char *row[] = { id,
					      record_config_string(c, "Image") ?: "",
					      cmd ? cmd : "",
					      berth_human_since(record_config_string(c, "Created"), created),
					      status,
					      ports,
					      c->name };
			berth_table_add(&table, row);
		}
	}
	berth_table_print(&table);
	if (json) {
		berth_print_json(arr);
		json_decref(arr);
	}
	record_list_free(list, n);
	engine_paths_free(&paths);
	options_free_values(v, 5);
	return 0;
}
