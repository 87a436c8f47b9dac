/* /containers: top, stats (a stream of samples or one), rename, update
 * (the resources berth changes live) and prune. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "api/containers.h"
#include "api/http.h"
#include "api/parse.h"
#include "engine/container.h"
#include "engine/runtime_call.h"
#include "util/cleanup.h"

static bool running(const container *c)
{
	return strcmp(c->state.status, "running") == 0 || strcmp(c->state.status, "paused") == 0;
}

/* ---- top ---- */

/* "ps_args" split at blanks into ARGS after "ps" and ID (borrowed from
 * COPY). */
static int top_args(const container *c, char *copy, const char ***out)
{
	size_t n = 2;
	char *save = NULL;
	const char **a = calloc(strlen(copy) / 2 + 4, sizeof(char *));

	if (a == NULL)
		return -1;
	a[0] = "ps";
	a[1] = c->id;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		a[n++] = w;
	if (n == 2)
		a[n++] = "-ef";
	*out = a;
	return 0;
}

/* ps(1)'s table as docker's {Titles, Processes}: the last column takes the
 * rest of each line (a command with spaces). */
static json_t *ps_table(const char *text)
{
	json_t *titles = json_array(), *procs = json_array();
	size_t ncols = 0;
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		_cleanup_free_ char *copy = strndup(line, len);
		json_t *row = ncols ? json_array() : titles;
		char *p = copy;
		size_t col = 0;
		while (p && *p) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\0')
				break;
			if (ncols && col == ncols - 1) {
				json_array_append_new(row, json_string(p));
				col++;
				break;
			}
			char *w = p + strcspn(p, " \t");
			json_array_append_new(row, json_stringn(p, (size_t)(w - p)));
			col++;
			p = w;
		}
		if (ncols == 0)
			ncols = col;
		else if (col > 0)
			json_array_append_new(procs, row);
		else
			json_decref(row);
		line = end ? end + 1 : NULL;
	}
	return json_pack("{s:o, s:o}", "Titles", titles, "Processes", procs);
}

void api_container_top(api_request *r)
{
	const char *ps_args = api_query(r, "ps_args");
	_cleanup_free_ char *copy = strdup(ps_args ? ps_args : "");
	_cleanup_free_ const char **args = NULL;
	runtime_io io = { RUNTIME_NULL, RUNTIME_CAPTURE, RUNTIME_CAPTURE, NULL, NULL, NULL };
	berth_error *e = NULL;
	container *c = NULL;
	int rc;

	if (api_open_container(r, &c) < 0)
		return;
	if (!running(c)) {
		api_reply_error(r, 409, "Container %s is not running", c->id);
	} else if (copy == NULL || top_args(c, copy, &args) < 0) {
		api_reply_error(r, 500, "out of memory");
	} else if ((rc = runtime_call(engine_container_runtime(c), r->server->paths.runtime_root, args, &io, &e)) < 0) {
		api_reply_berth_error(r, &e);
	} else if (rc != 0) {
		api_reply_error(r, 500, "ps: %s", io.err_text ? io.err_text : "failed");
	} else {
		api_reply_json(r, 200, ps_table(io.out_text ? io.out_text : ""));
	}
	free(io.out_text);
	free(io.err_text);
	container_free(c);
}

/* ---- stats ---- */

typedef struct stats_job {
	engine_paths paths;
	char *store_root, *run_root, *id;
	bool stream, one_shot;
} stats_job;

static void stats_job_free(void *arg)
{
	stats_job *j = arg;

	engine_paths_free(&j->paths);
	free(j->store_root);
	free(j->run_root);
	free(j->id);
	free(j);
}

/* The host's CPU time in ns (docker's system_cpu_usage: /proc/stat's cpu
 * line in clock ticks). */
static uint64_t system_cpu_ns(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/stat", "re");
	unsigned long long v[8] = { 0 };
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t sum = 0;

	if (f == NULL || hz <= 0 ||
	    fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		   &v[7]) != 8)
		return 0;
	for (int i = 0; i < 8; i++)
		sum += v[i];
	return sum * (1000000000ULL / (uint64_t)hz);
}

/* /proc/PID/net/dev of the container's init: its network namespace's
 * interfaces but lo, as docker's "networks". */
static json_t *networks_json(pid_t pid)
{
	char path[64];
	char line[512];
	json_t *out = json_object();
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
	f = pid > 0 ? fopen(path, "re") : NULL;
	while (f && fgets(line, sizeof(line), f)) {
		char name[64];
		unsigned long long v[16];
		char *colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		if (sscanf(line, " %63s", name) != 1 || strcmp(name, "lo") == 0)
			continue;
		if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12],
			   &v[13], &v[14], &v[15]) != 16)
			continue;
		json_object_set_new(out, name,
				    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rx_bytes", (json_int_t)v[0],
					      "rx_packets", (json_int_t)v[1], "rx_errors", (json_int_t)v[2],
					      "rx_dropped", (json_int_t)v[3], "tx_bytes", (json_int_t)v[8],
					      "tx_packets", (json_int_t)v[9], "tx_errors", (json_int_t)v[10],
					      "tx_dropped", (json_int_t)v[11]));
	}
	return out;
}

static json_t *path_get(json_t *j, const char *a, const char *b, const char *c)
{
	j = json_object_get(j, a);
	if (b)
		j = json_object_get(j, b);
	if (c)
		j = json_object_get(j, c);
	return j;
}

static json_int_t path_int(json_t *j, const char *a, const char *b, const char *c)
{
	json_t *v = path_get(j, a, b, c);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static json_t *cpu_stats(json_t *data, uint64_t system_ns)
{
	json_t *percpu = path_get(data, "cpu", "usage", "percpu");
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	return json_pack("{s:{s:I, s:O, s:I, s:I}, s:I, s:i, s:{s:i, s:i, s:i}}", "cpu_usage", "total_usage",
			 path_int(data, "cpu", "usage", "total"), "percpu_usage",
			 json_is_array(percpu) ? percpu : json_array(), "usage_in_kernelmode",
			 path_int(data, "cpu", "usage", "kernel"), "usage_in_usermode",
			 path_int(data, "cpu", "usage", "user"), "system_cpu_usage", (json_int_t)system_ns,
			 "online_cpus", (int)(online > 0 ? online : 1), "throttling_data", "periods", 0,
			 "throttled_periods", 0, "throttled_time", 0);
}

/* runc's `events --stats` data in docker's shapes (what docker stats and
 * docker-py read): cpu_stats/precpu_stats, memory_stats (usage, limit, the
 * cgroup's stats with the inactive file cache), blkio_stats, pids_stats,
 * networks. */
static json_t *stats_json(const container *c, json_t *data, json_t *pre, uint64_t sys_now, uint64_t sys_pre)
{
	struct sysinfo si;
	json_int_t limit = path_int(data, "memory", "usage", "limit"), host = 0;
	json_t *raw = path_get(data, "memory", "raw", NULL), *blkio = json_array(), *e;
	json_t *io = path_get(data, "blkio", "ioServiceBytesRecursive", NULL);
	char now[64], name[300];
	struct timespec ts;
	struct tm tm;
	size_t i;

	if (sysinfo(&si) == 0)
		host = (json_int_t)si.totalram * (json_int_t)si.mem_unit;
	if (limit <= 0 || (host > 0 && limit > host))
		limit = host;
	json_array_foreach(io, i, e) {
		json_array_append_new(blkio,
				      json_pack("{s:I, s:I, s:s, s:I}", "major", path_int(e, "major", NULL, NULL),
						"minor", path_int(e, "minor", NULL, NULL), "op",
						json_string_value(json_object_get(e, "op")) ?: "", "value",
						path_int(e, "value", NULL, NULL)));
	}
	snprintf(name, sizeof(name), "/%s", c->name);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(now, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(now + strlen(now), sizeof(now) - strlen(now), ".%09ldZ", ts.tv_nsec);
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:o, s:o, s:{s:I, s:I, s:I, s:O}, s:{s:o}, s:{s:I}, s:o}", "read", now, "preread",
	    "0001-01-01T00:00:00Z", "name", name, "id", c->id, "cpu_stats", cpu_stats(data, sys_now), "precpu_stats",
	    cpu_stats(pre, sys_pre), "memory_stats", "usage", path_int(data, "memory", "usage", "usage"), "max_usage",
	    path_int(data, "memory", "usage", "max"), "limit", limit, "stats",
	    json_is_object(raw) ? raw : json_object(), "blkio_stats", "io_service_bytes_recursive", blkio, "pids_stats",
	    "current", path_int(data, "pids", "current", NULL), "networks", networks_json(c->state.pid));
}

/* One `RUNTIME events --stats` sample's data object, or NULL. */
static json_t *sample(const engine_paths *p, const container *c)
{
	const char *args[] = { "events", "--stats", c->id, NULL };
	runtime_io io = { RUNTIME_NULL, RUNTIME_CAPTURE, RUNTIME_CAPTURE, NULL, NULL, NULL };
	berth_error *e = NULL;
	json_t *j = NULL, *data = NULL;

	if (runtime_call(engine_container_runtime(c), p->runtime_root, args, &io, &e) == 0 && io.out_text)
		j = json_loads(io.out_text, 0, NULL);
	data = json_incref(json_object_get(j, "data"));
	json_decref(j);
	berth_error_free(&e);
	free(io.out_text);
	free(io.err_text);
	return data;
}

static bool send_json(int fd, json_t *j)
{
	return api_write_json_line(fd, j, "\n");
}

/* Sleeps MS, or less when the client went; false then. */
static bool pause_ms(int fd, int ms)
{
	for (int waited = 0; waited < ms; waited += 100) {
		const struct timespec tick = { 0, 100 * 1000000L };
		if (api_stream_closed(fd))
			return false;
		nanosleep(&tick, NULL);
	}
	return !api_stream_closed(fd);
}

static void stats_produce(int fd, void *arg)
{
	stats_job *j = arg;
	json_t *pre = json_object();
	uint64_t sys_pre = 0;
	bool first = true;

	for (;;) {
		container *c = NULL;
		berth_error *e = NULL;
		json_t *data = NULL;
		uint64_t sys_now;
		if (record_open(&j->paths, j->id, &c, &e) < 0 || record_refresh(&j->paths, c, &e) < 0) {
			berth_error_free(&e);
			container_free(c);
			break;
		}
		if (running(c))
			data = sample(&j->paths, c);
		sys_now = system_cpu_ns();
		/* a one-time answer without one-shot has a previous sample, as
		 * docker's (which waits for its collector's next round) */
		if (first && !j->stream && !j->one_shot && data) {
			json_decref(pre);
			pre = data;
			sys_pre = sys_now;
			first = false;
			container_free(c);
			if (!pause_ms(fd, 500))
				break;
			continue;
		}
		bool ok = send_json(fd, stats_json(c, data ? data : json_object(), pre, sys_now, sys_pre));
		container_free(c);
		json_decref(pre);
		pre = data ? data : json_object();
		sys_pre = sys_now;
		first = false;
		if (!ok || !j->stream || !pause_ms(fd, 1000))
			break;
	}
	json_decref(pre);
}

void api_container_stats(api_request *r)
{
	container *c = NULL;
	berth_error *e = NULL;
	stats_job *j;

	if (api_open_container(r, &c) < 0)
		return;
	j = calloc(1, sizeof(*j));
	if (j == NULL || (j->store_root = strdup(r->server->options->store_root)) == NULL ||
	    (j->run_root = strdup(r->server->options->run_root)) == NULL || (j->id = strdup(c->id)) == NULL ||
	    engine_paths_init(&j->paths, j->store_root, j->run_root, &e) < 0) {
		berth_error_free(&e);
		if (j)
			stats_job_free(j);
		container_free(c);
		api_reply_error(r, 500, "out of memory");
		return;
	}
	container_free(c);
	j->stream = api_query_bool(r, "stream", true);
	j->one_shot = api_query_bool(r, "one-shot", false);
	api_reply_stream(r, 200, "application/json", stats_produce, j, stats_job_free);
}

/* ---- rename, update ---- */

void api_container_rename(api_request *r)
{
	const char *name = api_query(r, "name");
	berth_error *e = NULL;
	container *c = NULL;

	if (name == NULL || *name == '\0') {
		api_reply_error(r, 400, "name: required");
		return;
	}
	if (api_open_container(r, &c) < 0)
		return;
	if (engine_container_rename(&r->server->paths, c, name[0] == '/' ? name + 1 : name, &e) < 0)
		api_reply_berth_error(r, &e);
	else
		api_reply_json(r, 204, NULL);
	container_free(c);
}

void api_container_update(api_request *r)
{
	char *values[4] = { NULL, NULL, NULL, NULL };
	berth_error *e = NULL;
	engine_resources res;
	container *c = NULL;
	json_t *body = api_body_json(r, &e);

	if (body == NULL || api_update_values(body, values, &e) < 0 ||
	    engine_update_parse(values[0], values[1], values[2], values[3], &res, &e) < 0) {
		api_reply_berth_error(r, &e);
	} else if (api_open_container(r, &c) == 0) {
		if (engine_container_update(&r->server->paths, c, &res, &e) < 0)
			api_reply_berth_error(r, &e);
		else
			api_reply_json(r, 200, json_pack("{s:[]}", "Warnings"));
		container_free(c);
	}
	for (int i = 0; i < 4; i++)
		free(values[i]);
	json_decref(body);
}

/* ---- prune ---- */

/* docker's prune filters: "label" (K or K=V, every one must match) and
 * "until" are read; others refused. */
static int prune_filters(api_request *r, json_t **out, berth_error **err)
{
	const char *text = api_query(r, "filters"), *key;
	json_t *v;

	*out = text && *text ? json_loads(text, 0, NULL) : json_object();
	if (!json_is_object(*out))
		return berth_error_request(err, EINVAL, "filters: expected a JSON object");
	json_object_foreach(*out, key, v) {
		if (strcmp(key, "label") != 0 && strcmp(key, "dangling") != 0)
			return berth_error_request(err, EINVAL, "filters: \"%s\" is not supported by berth's prune",
						   key);
	}
	return 0;
}

/* Do C's labels match every "label" filter (K or K=V; a map or array)? */
static bool labels_match(const container *c, json_t *filters)
{
	json_t *want = json_object_get(filters, "label"), *labels = json_object_get(c->config, "Labels"), *v;
	const char *key;
	size_t i;

	if (json_is_object(want)) {
		json_object_foreach(want, key, v) {
			const char *eq = strchr(key, '=');
			_cleanup_free_ char *k = eq ? strndup(key, (size_t)(eq - key)) : strdup(key);
			json_t *have = k ? json_object_get(labels, k) : NULL;
			if (have == NULL || (eq && strcmp(json_string_value(have) ?: "", eq + 1) != 0))
				return false;
		}
	} else if (json_is_array(want)) {
		json_array_foreach(want, i, v) {
			const char *s = json_string_value(v) ?: "", *eq = strchr(s, '=');
			_cleanup_free_ char *k = eq ? strndup(s, (size_t)(eq - s)) : strdup(s);
			json_t *have = k ? json_object_get(labels, k) : NULL;
			if (have == NULL || (eq && strcmp(json_string_value(have) ?: "", eq + 1) != 0))
				return false;
		}
	}
	return true;
}

void api_containers_prune(api_request *r)
{
	container **list = NULL;
	berth_error *e = NULL;
	json_t *filters = NULL, *deleted;
	size_t n = 0;

	if (prune_filters(r, &filters, &e) < 0 || record_list(&r->server->paths, &list, &n, &e) < 0) {
		json_decref(filters);
		api_reply_berth_error(r, &e);
		return;
	}
	deleted = json_array();
	for (size_t i = 0; i < n; i++) {
		if (record_refresh(&r->server->paths, list[i], &e) < 0 ||
		    engine_status_is_live(list[i]->state.status) || list[i]->state.unsupervised ||
		    !labels_match(list[i], filters)) {
			berth_error_free(&e);
			continue;
		}
		if (engine_container_destroy(&r->server->paths, list[i], &e) < 0) {
			berth_error_free(&e);
			continue;
		}
		json_array_append_new(deleted, json_string(list[i]->id));
	}
	record_list_free(list, n);
	json_decref(filters);
	api_reply_json(r, 200, json_pack("{s:o, s:i}", "ContainersDeleted", deleted, "SpaceReclaimed", 0));
}
