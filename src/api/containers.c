/* /containers: list, create, inspect, start, stop, restart, kill, pause,
 * unpause, wait, remove, resize. Each calls the engine functions the berth
 * commands call. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>

#include "api/containers.h"
#include "api/create.h"
#include "api/http.h"
#include "engine/attach.h"
#include "engine/container.h"
#include "engine/inspect.h"
#include "engine/monitor.h"
#include "image/images.h"
#include "util/cleanup.h"
#include "util/log.h"

/* A monitor is forked from this threaded process: one at a time, so no
 * other thread of ours is inside the fork's path meanwhile. The monitors
 * are our children (a berth command exits and leaves them to init): a
 * thread reaps them when they exit. */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *monitors;
static size_t n_monitors;
static pthread_once_t reaper_once = PTHREAD_ONCE_INIT;

static void *reap_monitors(void *arg)
{
	const struct timespec tick = { 0, 200 * 1000000L };

	for (;;) {
		nanosleep(&tick, NULL);
		pthread_mutex_lock(&fork_lock);
		for (size_t i = 0; i < n_monitors;) {
			if (waitpid(monitors[i], NULL, WNOHANG) != 0)
				monitors[i] = monitors[--n_monitors];
			else
				i++;
		}
		pthread_mutex_unlock(&fork_lock);
	}
	return NULL;
}

static void start_reaper(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, reap_monitors, NULL) == 0)
		pthread_detach(t);
}

int api_start_monitor(const engine_paths *p, container *c, berth_error **err)
{
	pid_t pid = 0;
	int ret;

	pthread_once(&reaper_once, start_reaper);
	pthread_mutex_lock(&fork_lock);
	ret = monitor_start(p, c, false, NULL, &pid, err);
	if (pid > 0) {
		pid_t *more = realloc(monitors, (n_monitors + 1) * sizeof(pid_t));
		if (more) {
			monitors = more;
			monitors[n_monitors++] = pid;
		}
	}
	pthread_mutex_unlock(&fork_lock);
	return ret;
}

int api_open_container(api_request *r, container **out)
{
	berth_error *e = NULL;

	if (record_open(&r->server->paths, r->params[0], out, &e) < 0 ||
	    record_refresh(&r->server->paths, *out, &e) < 0) {
		if (e && e->code == ENOENT) {
			berth_error_free(&e);
			api_reply_error(r, 404, "No such container: %s", r->params[0]);
		} else {
			api_reply_berth_error(r, &e);
		}
		container_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int api_watch_record(const container *c)
{
	_cleanup_free_ char *dir = record_path(c, ".");
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (fd < 0)
		return -1;
	if (dir == NULL ||
	    inotify_add_watch(fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_MOVE_SELF | IN_DELETE_SELF | IN_ONLYDIR) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int api_wait_record(int sock, int watch, int ms)
{
	struct pollfd p[2] = { { .fd = sock, .events = 0 }, { .fd = watch, .events = POLLIN } };
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0;

	if (poll(p, watch >= 0 ? 2 : 1, ms) <= 0)
		return 0;
	if (p[0].revents & (POLLHUP | POLLERR))
		return 1;
	if (watch >= 0 && (p[1].revents & POLLIN)) {
		while (read(watch, buf, sizeof(buf)) > 0)
			changed = 2;
	}
	return changed;
}

int64_t api_unix_time(const char *rfc3339)
{
	struct tm tm = { 0 };

	if (rfc3339 == NULL || strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

/* berth's NetworkSettings (Network, IPAddress, Ports as a list) in docker's
 * shape (Networks by name, Ports by "PORT/PROTO"). */
json_t *api_network_settings(const container *c)
{
	json_t *ns = json_object_get(c->config, "NetworkSettings"), *ports = json_object(), *p;
	const char *net = json_string_value(json_object_get(ns, "Network")) ?: record_config_string(c, "Network");
	const char *ip = json_string_value(json_object_get(ns, "IPAddress")) ?: "";
	const char *gw = json_string_value(json_object_get(ns, "Gateway")) ?: "";
	const char *mac = json_string_value(json_object_get(ns, "MacAddress")) ?: "";
	const char *name;
	json_t *out, *nets = json_object();
	char id12[13];
	size_t i;

	json_array_foreach(json_object_get(ns, "Ports"), i, p) {
		char key[32], hp[16];
		json_t *list;
		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT "/%s",
			 json_integer_value(json_object_get(p, "ContainerPort")),
			 json_string_value(json_object_get(p, "Protocol")) ?: "tcp");
		snprintf(hp, sizeof(hp), "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(p, "HostPort")));
		list = json_object_get(ports, key);
		if (list == NULL) {
			list = json_array();
			json_object_set_new(ports, key, list);
		}
		json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp",
						      json_string_value(json_object_get(p, "HostIp")) ?: "0.0.0.0",
						      "HostPort", hp));
	}
	if (net && *net && strcmp(net, "none") != 0 && strcmp(net, "host") != 0)
		json_object_set_new(nets, net,
				    json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:[s,s]}", "NetworkID", net, "EndpointID",
					      c->id, "IPAddress", ip, "Gateway", gw, "MacAddress", mac, "IPPrefixLen",
					      *ip ? 16 : 0, "Aliases", c->name, c->id + 0));
	out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:i}", "Bridge", "", "IPAddress", ip, "Gateway", gw,
			"MacAddress", mac, "Ports", ports, "Networks", nets, "IPPrefixLen", *ip ? 16 : 0);
	/* Aliases: name and short id, as docker's */
	snprintf(id12, sizeof(id12), "%s", c->id);
	if (json_object_get(nets, net))
		json_array_set_new(json_object_get(json_object_get(nets, net), "Aliases"), 1, json_string(id12));
	/* the networks joined by `network connect` (engine/network_connect.c) */
	json_object_foreach(json_object_get(ns, "Networks"), name, p) {
		if (json_object_get(nets, name))
			continue;
		json_object_set_new(
		    nets, name,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:[s,s]}", "NetworkID", name, "EndpointID", c->id,
			      "IPAddress", json_string_value(json_object_get(p, "IPAddress")) ?: "", "Gateway",
			      json_string_value(json_object_get(p, "Gateway")) ?: "", "MacAddress",
			      json_string_value(json_object_get(p, "MacAddress")) ?: "", "IPPrefixLen",
			      json_integer_value(json_object_get(p, "IPPrefixLen")), "Aliases", c->name, id12));
	}
	return out;
}

/* HostConfig.PortBindings from the record's published ports, as docker's:
 * {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}. The host
 * port is the one in use (docker keeps "" for one it picked). */
static json_t *port_bindings_json(const container *c)
{
	json_t *out = json_object(), *p, *list;
	char key[32], port[8];
	size_t i;

	json_array_foreach(json_object_get(json_object_get(c->config, "NetworkSettings"), "Ports"), i, p) {
		snprintf(key, sizeof(key), "%lld/%s",
			 (long long)json_integer_value(json_object_get(p, "ContainerPort")),
			 json_string_value(json_object_get(p, "Protocol")) ?: "tcp");
		snprintf(port, sizeof(port), "%lld", (long long)json_integer_value(json_object_get(p, "HostPort")));
		list = json_object_get(out, key);
		if (list == NULL) {
			list = json_array();
			json_object_set_new(out, key, list);
		}
		json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp",
						      json_string_value(json_object_get(p, "HostIp")) ?: "", "HostPort",
						      port));
	}
	return out;
}

/* docker's inspect JSON of C: berth's, with the shapes docker's clients
 * decode (Name with its slash, NetworkSettings, PortBindings). */
json_t *api_container_json(const container *c)
{
	json_t *j = engine_container_inspect_json(c), *cfg = json_object_get(j, "Config"), *hc;
	char *name = NULL;

	if (asprintf(&name, "/%s", c->name) >= 0)
		json_object_set_new(j, "Name", json_string(name));
	free(name);
	json_object_set_new(j, "NetworkSettings", api_network_settings(c));
	hc = json_object_get(cfg, "Healthcheck");
	if (hc && !json_is_array(json_object_get(hc, "Test")))
		json_object_del(cfg, "Healthcheck");
	json_object_set_new(cfg, "AttachStdin", json_false());
	json_object_set_new(cfg, "AttachStdout", json_true());
	json_object_set_new(cfg, "AttachStderr", json_true());
	json_object_set_new(cfg, "StdinOnce", json_false());
	json_object_set_new(json_object_get(j, "HostConfig"), "PortBindings", port_bindings_json(c));
	/* berth's log is a k8s-file; read through /logs it is what clients of
	 * docker's json-file get (docker-compose reads only logs it knows) */
	json_object_set_new(json_object_get(j, "HostConfig"), "LogConfig",
			    json_pack("{s:s, s:{}}", "Type", "json-file", "Config"));
	json_object_set_new(j, "Driver", json_string("overlay"));
	json_object_set_new(j, "Platform", json_string("linux"));
	json_object_set_new(j, "ResolvConfPath", json_string(""));
	json_object_set_new(j, "HostnamePath", json_string(""));
	json_object_set_new(j, "HostsPath", json_string(""));
	return j;
}

void api_container_inspect(api_request *r)
{
	container *c = NULL;

	if (api_open_container(r, &c) < 0)
		return;
	api_reply_json(r, 200, api_container_json(c));
	container_free(c);
}

/* ---- list ---- */

static void human_duration(int64_t secs, char *buf, size_t size)
{
	if (secs < 1)
		snprintf(buf, size, "Less than a second");
	else if (secs < 60)
		snprintf(buf, size, "%lld second%s", (long long)secs, secs == 1 ? "" : "s");
	else if (secs < 3600)
		snprintf(buf, size, "%lld minute%s", (long long)(secs / 60), secs / 60 == 1 ? "" : "s");
	else if (secs < 48 * 3600)
		snprintf(buf, size, "%lld hour%s", (long long)(secs / 3600), secs / 3600 == 1 ? "" : "s");
	else
		snprintf(buf, size, "%lld days", (long long)(secs / 86400));
}

static void status_text(const container *c, char *buf, size_t size)
{
	const container_state *s = &c->state;
	char d[64];
	time_t now = time(NULL);

	if (strcmp(s->status, "running") == 0 || strcmp(s->status, "paused") == 0) {
		human_duration(now - api_unix_time(s->started_at), d, sizeof(d));
		snprintf(buf, size, "Up %s%s%s%s%s", d, strcmp(s->status, "paused") == 0 ? " (Paused)" : "",
			 s->health ? " (" : "", s->health ? s->health : "", s->health ? ")" : "");
	} else if (strcmp(s->status, "exited") == 0) {
		human_duration(now - api_unix_time(s->finished_at), d, sizeof(d));
		snprintf(buf, size, "Exited (%d) %s ago", s->exit_code, d);
	} else if (strcmp(s->status, "created") == 0) {
		snprintf(buf, size, "Created");
	} else {
		snprintf(buf, size, "%s", s->status);
	}
}

static json_t *list_json(const container *c)
{
	json_t *cmd = json_object_get(c->config, "Command"), *a, *ports = json_array(), *p;
	char status[128], command[1024] = "", *name = NULL;
	size_t i, len = 0;
	json_t *j, *settings;

	json_array_foreach(cmd, i, a) {
		int n =
		    snprintf(command + len, sizeof(command) - len, "%s%s", i ? " " : "", json_string_value(a) ?: "");
		if (n < 0 || (size_t)n >= sizeof(command) - len)
			break;
		len += (size_t)n;
	}
	json_array_foreach(json_object_get(json_object_get(c->config, "NetworkSettings"), "Ports"), i, p) {
		json_array_append_new(ports,
				      json_pack("{s:s, s:I, s:I, s:s}", "IP",
						json_string_value(json_object_get(p, "HostIp")) ?: "0.0.0.0",
						"PrivatePort", json_integer_value(json_object_get(p, "ContainerPort")),
						"PublicPort", json_integer_value(json_object_get(p, "HostPort")),
						"Type", json_string_value(json_object_get(p, "Protocol")) ?: "tcp"));
	}
	status_text(c, status, sizeof(status));
	if (asprintf(&name, "/%s", c->name) < 0)
		name = NULL;
	j = json_pack("{s:s, s:[s], s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:O, s:{s:s}}", "Id", c->id, "Names",
		      name ?: c->name, "Image", record_config_string(c, "Image") ?: "", "ImageID",
		      record_config_string(c, "ImageId") ?: "", "Command", command, "Created",
		      (json_int_t)api_unix_time(record_config_string(c, "Created")), "State", c->state.status, "Status",
		      status, "Ports", ports, "Labels", json_object_get(c->config, "Labels") ?: json_object(),
		      "HostConfig", "NetworkMode", record_config_string(c, "Network") ?: "default");
	free(name);
	if (json_is_null(json_object_get(j, "Labels")) || json_object_get(j, "Labels") == NULL)
		json_object_set_new(j, "Labels", json_object());
	settings = api_network_settings(c);
	json_object_set_new(j, "NetworkSettings",
			    json_pack("{s:O}", "Networks", json_object_get(settings, "Networks")));
	json_decref(settings);
	json_object_set_new(j, "Mounts", json_array());
	return j;
}

/* docker's filters ({"label": ["a=b"], "status": ["running"]}): every key
 * must match one of its values, and every label given must be there. */
static bool passes(const container *c, json_t *filters)
{
	const char *key;
	json_t *vals, *v;
	size_t i;

	json_object_foreach(filters, key, vals) {
		bool any = false, every_label = true;
		json_t *list = vals;
		json_t *tmp = NULL;
		if (json_is_object(vals)) { /* {"a=b": true} */
			const char *k2;
			json_t *x;
			tmp = json_array();
			json_object_foreach(vals, k2, x)
				json_array_append_new(tmp, json_string(k2));
			list = tmp;
		}
		json_array_foreach(list, i, v) {
			const char *s = json_string_value(v) ?: "";
			if (strcmp(key, "label") == 0) {
				const char *eq = strchr(s, '=');
				json_t *labels = json_object_get(c->config, "Labels");
				bool has;
				if (eq == NULL) {
					has = json_object_get(labels, s) != NULL;
				} else {
					_cleanup_free_ char *k = strndup(s, (size_t)(eq - s));
					const char *have = json_string_value(json_object_get(labels, k ?: ""));
					has = have && strcmp(have, eq + 1) == 0;
				}
				any = true;
				every_label = every_label && has;
			} else if (strcmp(key, "name") == 0) {
				any = any || strstr(c->name, *s == '/' ? s + 1 : s) != NULL;
			} else if (strcmp(key, "id") == 0) {
				any = any || strncmp(c->id, s, strlen(s)) == 0;
			} else if (strcmp(key, "status") == 0) {
				any = any || strcmp(c->state.status, s) == 0;
			} else if (strcmp(key, "exited") == 0) {
				/* docker's: a container that ran and exited with that code */
				any = any || (strcmp(c->state.status, "exited") == 0 &&
					      c->state.exit_code == (int)strtol(s, NULL, 10));
			} else if (strcmp(key, "ancestor") == 0) {
				const char *img = record_config_string(c, "Image") ?: "";
				any = any || strcmp(img, s) == 0 || strstr(record_config_string(c, "ImageId") ?: "", s);
			} else {
				any = true; /* unknown keys are refused before the loop */
			}
		}
		json_decref(tmp);
		if (!any || !every_label)
			return false;
	}
	return true;
}

/* the values of an "exited" filter, ["5"] or {"5": true}: integers */
static bool exit_codes_valid(json_t *vals)
{
	const char *k;
	json_t *v;
	size_t i;
	char *end;

	if (json_is_object(vals)) {
		json_object_foreach(vals, k, v) {
			if (*k == '\0' || (strtol(k, &end, 10), *end != '\0'))
				return false;
		}
		return true;
	}
	json_array_foreach(vals, i, v) {
		k = json_string_value(v);
		if (k == NULL || *k == '\0' || (strtol(k, &end, 10), *end != '\0'))
			return false;
	}
	return json_is_array(vals);
}

void api_containers_list(api_request *r)
{
	const engine_paths *p = &r->server->paths;
	const char *ftext = api_query(r, "filters"), *key;
	bool all = api_query_bool(r, "all", false);
	long limit = api_query_long(r, "limit", -1);
	container **list = NULL;
	berth_error *e = NULL;
	json_t *filters = NULL, *out, *v;
	size_t n = 0;

	if (ftext) {
		filters = json_loads(ftext, 0, NULL);
		if (!json_is_object(filters)) {
			json_decref(filters);
			api_reply_error(r, 400, "filters: malformed JSON");
			return;
		}
		json_object_foreach(filters, key, v) {
			if (strcmp(key, "label") && strcmp(key, "name") && strcmp(key, "id") && strcmp(key, "status") &&
			    strcmp(key, "ancestor") && strcmp(key, "exited")) {
				api_reply_error(
				    r, 400, "invalid filter '%s' (berth: label, name, id, status, exited, ancestor)",
				    key);
				json_decref(filters);
				return;
			}
			if (strcmp(key, "exited") == 0 && !exit_codes_valid(v)) {
				api_reply_error(r, 400, "invalid filter 'exited': an exit code is an integer");
				json_decref(filters);
				return;
			}
		}
	}
	if (record_list(p, &list, &n, &e) < 0) {
		json_decref(filters);
		api_reply_berth_error(r, &e);
		return;
	}
	out = json_array();
	for (size_t i = 0; i < n; i++) {
		if (record_refresh(p, list[i], &e) < 0) {
			berth_error_free(&e);
			continue;
		}
		if (!all && !engine_status_is_live(list[i]->state.status) && !json_object_get(filters, "status"))
			continue;
		if (filters && !passes(list[i], filters))
			continue;
		if (limit >= 0 && (long)json_array_size(out) >= limit)
			break;
		json_array_append_new(out, list_json(list[i]));
	}
	record_list_free(list, n);
	json_decref(filters);
	api_reply_json(r, 200, out);
}

/* ---- create ---- */

void api_container_create(api_request *r)
{
	const engine_paths *p = &r->server->paths;
	create_strings keep = { 0 };
	run_options o;
	run_plan plan = { 0 };
	const char *image;
	berth_error *e = NULL;
	container *c = NULL;
	image_info info = { 0 };
	store *s = NULL;
	json_t *body = api_body_json(r, &e);

	if (body == NULL || api_create_options(body, api_query(r, "name"), &o, &image, &keep, &e) < 0 ||
	    run_options_validate(&o, &plan, &e) < 0) {
		if (e && e->code != ENOMEM)
			e->code = EINVAL;
		api_reply_berth_error(r, &e);
		goto out;
	}
	if (store_open(r->server->options->store_root, &s, &e) < 0) {
		api_reply_berth_error(r, &e);
		goto out;
	}
	/* docker's clients pull on a 404 themselves (with progress) */
	if (image_resolve(s, image, &info, &e) < 0) {
		berth_error_free(&e);
		api_reply_error(r, 404, "No such image: %s", image);
		goto out;
	}
	if (engine_container_create(p, s, image, &o, &plan, &c, &e) < 0) {
		/* not 404: docker's clients would pull the image again */
		if (e && e->code == ENOENT)
			e->code = EINVAL;
		api_reply_berth_error(r, &e);
		goto out;
	}
	api_reply_json(r, 201, json_pack("{s:s, s:[]}", "Id", c->id, "Warnings"));
out:
	image_info_free(&info);
	if (s)
		store_close(s);
	container_free(c);
	run_plan_free(&plan);
	create_strings_free(&keep);
	json_decref(body);
}

/* ---- lifecycle ---- */

void api_container_start(api_request *r)
{
	container *c = NULL;
	berth_error *e = NULL;

	if (api_open_container(r, &c) < 0)
		return;
	if (engine_status_is_live(c->state.status))
		api_reply_json(r, 304, NULL);
	else if (api_start_monitor(&r->server->paths, c, &e) < 0)
		api_reply_error(r, 500, "%s", e && e->msg ? e->msg : "start failed");
	else
		api_reply_json(r, 204, NULL);
	berth_error_free(&e);
	container_free(c);
}

static int stop_timeout(api_request *r, const container *c)
{
	long t = api_query_long(r, "t", -1);

	return t >= 0 ? (int)t : (int)record_config_int(c, "StopTimeout", 10);
}

void api_container_stop(api_request *r)
{
	container *c = NULL;
	berth_error *e = NULL;

	if (api_open_container(r, &c) < 0)
		return;
	if (!engine_status_is_live(c->state.status))
		api_reply_json(r, 304, NULL);
	else if (engine_container_stop(&r->server->paths, c, stop_timeout(r, c), &e) < 0)
		api_reply_berth_error(r, &e);
	else
		api_reply_json(r, 204, NULL);
	container_free(c);
}

void api_container_restart(api_request *r)
{
	const engine_paths *p = &r->server->paths;
	container *c = NULL;
	berth_error *e = NULL;
	int code;

	if (api_open_container(r, &c) < 0)
		return;
	if (engine_status_is_live(c->state.status) && engine_container_stop(p, c, stop_timeout(r, c), &e) < 0) {
		api_reply_berth_error(r, &e);
		container_free(c);
		return;
	}
	if (c->state.monitor_pid > 0 && record_monitor_alive(c) && engine_container_wait(p, c, 5000, &code, &e) < 0)
		berth_error_free(&e);
	if (api_start_monitor(p, c, &e) < 0)
		api_reply_berth_error(r, &e);
	else
		api_reply_json(r, 204, NULL);
	container_free(c);
}

void api_container_kill(api_request *r)
{
	container *c = NULL;
	berth_error *e = NULL;

	if (api_open_container(r, &c) < 0)
		return;
	if (!engine_status_is_live(c->state.status))
		api_reply_error(r, 409, "Container %s is not running", c->name);
	else if (engine_container_kill(&r->server->paths, c, api_query(r, "signal") ?: "SIGKILL", &e) < 0)
		api_reply_berth_error(r, &e);
	else
		api_reply_json(r, 204, NULL);
	container_free(c);
}

static void pause_or_unpause(api_request *r, bool pause)
{
	container *c = NULL;
	berth_error *e = NULL;

	if (api_open_container(r, &c) < 0)
		return;
	if (engine_container_pause(&r->server->paths, c, pause, &e) < 0)
		api_reply_berth_error(r, &e);
	else
		api_reply_json(r, 204, NULL);
	container_free(c);
}

void api_container_pause(api_request *r)
{
	pause_or_unpause(r, true);
}

void api_container_unpause(api_request *r)
{
	pause_or_unpause(r, false);
}

void api_container_remove(api_request *r)
{
	container *c = NULL;
	berth_error *e = NULL;
	bool force = api_query_bool(r, "force", false);

	if (api_open_container(r, &c) < 0)
		return;
	if (engine_status_is_live(c->state.status) && !force) {
		api_reply_error(
		    r, 409,
		    "You cannot remove a running container %s. Stop the container before attempting removal "
		    "or force remove",
		    c->id);
	} else if (engine_container_remove(&r->server->paths, c, force, &e) < 0 ||
		   (api_query_bool(r, "v", false) &&
		    engine_container_remove_anonymous_volumes(&r->server->paths, c, &e) < 0)) {
		api_reply_berth_error(r, &e);
	} else {
		api_reply_json(r, 204, NULL);
	}
	container_free(c);
}

/* ?h=&w=: the size of a TTY container's terminal, set on the pty master
 * its monitor hands to an attach client (engine/attach.h; for a TTY the
 * monitor keeps its own, so nothing changes hands). Not a TTY, not running
 * or no size: accepted, nothing done. */
void api_container_resize(api_request *r)
{
	long h = api_query_long(r, "h", 0), w = api_query_long(r, "w", 0);
	berth_error *e = NULL;
	container *c = NULL;
	int master = -1;
	bool tty = false;

	if (h < 0 || w < 0 || h > 65535 || w > 65535) {
		api_reply_error(r, 400, "resize: h and w must be 0 to 65535");
		return;
	}
	if (api_open_container(r, &c) < 0)
		return;
	if (h > 0 && w > 0 && record_config_bool(c, "Tty") && strcmp(c->state.status, "running") == 0) {
		if (attach_connect(c, &master, &tty, &e) < 0) {
			berth_debug("api: resize %s: %s", c->name, e && e->msg ? e->msg : "no monitor");
			berth_error_free(&e);
		} else if (tty && master >= 0) {
			struct winsize ws = { .ws_row = (unsigned short)h, .ws_col = (unsigned short)w };
			if (ioctl(master, TIOCSWINSZ, &ws) < 0)
				berth_debug("api: resize %s: %s", c->name, strerror(errno));
		}
		if (master >= 0)
			close(master);
	}
	api_reply_json(r, 200, NULL);
	container_free(c);
}

/* ---- wait ---- */

typedef struct wait_job {
	engine_paths paths;
	char *store_root, *run_root, *id, *first_start, *cond;
} wait_job;

static void wait_job_free(void *arg)
{
	wait_job *w = arg;

	engine_paths_free(&w->paths);
	free(w->store_root);
	free(w->run_root);
	free(w->id);
	free(w->first_start);
	free(w->cond);
	free(w);
}

static void wait_produce(int fd, void *arg)
{
	wait_job *w = arg;
	container *c = NULL;
	int watch = -2; /* made once the record is open */
	berth_error *e = NULL;
	bool seen_live = false;
	json_t *result;
	int code = 0;

	if (record_open(&w->paths, w->id, &c, &e) < 0) {
		berth_error_free(&e);
		if (!record_read_exit_code(&w->paths, &(container){ .id = w->id }, &code))
			code = RECORD_EXIT_CODE_UNKNOWN;
	} else {
		for (;;) {
			bool live;
			if (record_load_state(c, &e) < 0 || record_refresh(&w->paths, c, &e) < 0) {
				/* the record went (--rm, rm -f): its monitor left the code */
				berth_error_free(&e);
				if (!record_read_exit_code(&w->paths, c, &code))
					code = c->state.exit_code;
				break;
			}
			live = engine_status_is_live(c->state.status);
			seen_live = seen_live || live ||
				    (c->state.started_at &&
				     (w->first_start == NULL || strcmp(w->first_start, c->state.started_at) != 0));
			if (!live &&
			    (strcmp(w->cond, "not-running") == 0 || (seen_live && strcmp(w->cond, "next-exit") == 0))) {
				code = c->state.exit_code;
				break;
			}
			if (watch == -2)
				watch = api_watch_record(c);
			if (api_stream_closed(fd) || api_wait_record(fd, watch, 50) == 1) {
				container_free(c);
				if (watch >= 0)
					close(watch);
				return;
			}
		}
		container_free(c);
	}
	if (watch >= 0)
		close(watch);
	if (code == RECORD_EXIT_CODE_UNKNOWN)
		code = 255;
	result = json_pack("{s:i, s:n}", "StatusCode", code, "Error");
	api_write_json_line(fd, result, "\n");
}

/* condition: not-running (default) answers when C is not live; next-exit
 * when it exits after having run (docker's client asks before the start);
 * removed when its record went. The headers go at once (docker's client
 * waits for them before it starts the container), the code when known. */
void api_container_wait(api_request *r)
{
	const char *cond = api_query(r, "condition");
	berth_error *e = NULL;
	container *c = NULL;
	wait_job *w;

	if (cond == NULL || *cond == '\0')
		cond = "not-running";
	if (strcmp(cond, "not-running") && strcmp(cond, "next-exit") && strcmp(cond, "removed")) {
		api_reply_error(r, 400, "condition %s: expected not-running, next-exit or removed", cond);
		return;
	}
	if (api_open_container(r, &c) < 0)
		return;
	w = calloc(1, sizeof(*w));
	if (w == NULL || (w->store_root = strdup(r->server->options->store_root)) == NULL ||
	    (w->run_root = strdup(r->server->options->run_root)) == NULL || (w->id = strdup(c->id)) == NULL ||
	    (w->cond = strdup(cond)) == NULL ||
	    (c->state.started_at && (w->first_start = strdup(c->state.started_at)) == NULL) ||
	    engine_paths_init(&w->paths, w->store_root, w->run_root, &e) < 0) {
		berth_error_free(&e);
		if (w)
			wait_job_free(w);
		container_free(c);
		api_reply_error(r, 500, "wait: out of memory");
		return;
	}
	container_free(c);
	api_reply_stream(r, 200, "application/json", wait_produce, w, wait_job_free);
}
