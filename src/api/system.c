/* _ping, version, info, events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "api/http.h"
#include "engine/events.h"
#include "engine/logfile.h"
#include "engine/runtime_call.h"
#include "image/images.h"
#include "util/cleanup.h"

void api_ping(api_request *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(2, (void *)"OK", MHD_RESPMEM_PERSISTENT);

	if (resp == NULL) {
		r->result = MHD_NO;
		r->answered = true;
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Api-Version", API_VERSION);
	MHD_add_response_header(resp, "Docker-Experimental", "false");
	MHD_add_response_header(resp, "Ostype", "linux");
	MHD_add_response_header(resp, "Builder-Version", "1");
	MHD_add_response_header(resp, "Cache-Control", "no-cache, no-store, must-revalidate");
	MHD_add_response_header(resp, "Pragma", "no-cache");
	r->result = MHD_queue_response(r->conn, 200, resp);
	MHD_destroy_response(resp);
	r->answered = true;
}

static const char *go_arch(const char *machine)
{
	if (strcmp(machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(machine, "aarch64") == 0)
		return "arm64";
	return machine;
}

void api_version(api_request *r)
{
	const char *v = r->server->options->version ?: "0.0.0";
	struct utsname u;
	json_t *j;

	uname(&u);
	j = json_pack("{s:{s:s}, s:[{s:s, s:s, s:{s:s, s:s}}], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		      "Platform", "Name", "berth", "Components", "Name", "Engine", "Version", v, "Details",
		      "ApiVersion", API_VERSION, "MinAPIVersion", API_MIN_VERSION, "Version", v, "ApiVersion",
		      API_VERSION, "MinAPIVersion", API_MIN_VERSION, "GitCommit", "", "GoVersion", "none (C)", "Os",
		      "linux", "Arch", go_arch(u.machine), "KernelVersion", u.release, "BuildTime", "");
	api_reply_json(r, 200, j);
}

static const char *cgroup_version(void)
{
	struct statfs st;

	if (statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
		return "2";
	return "1";
}

void api_info(api_request *r)
{
	const engine_paths *p = &r->server->paths;
	container **list = NULL;
	image_info *images = NULL;
	size_t n = 0, ni = 0, running = 0, paused = 0, stopped = 0;
	store *s = NULL;
	berth_error *e = NULL;
	struct utsname u;
	char host[256] = "";
	long cpus = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	json_t *j;

	if (record_list(p, &list, &n, &e) < 0) {
		api_reply_berth_error(r, &e);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (record_refresh(p, list[i], &e) < 0)
			berth_error_free(&e);
		if (strcmp(list[i]->state.status, "running") == 0)
			running++;
		else if (strcmp(list[i]->state.status, "paused") == 0)
			paused++;
		else
			stopped++;
	}
	record_list_free(list, n);
	if (store_open(r->server->options->store_root, &s, &e) == 0 && image_list(s, &images, &ni, &e) == 0)
		image_list_free(images, ni);
	berth_error_free(&e);
	if (s)
		store_close(s);
	uname(&u);
	gethostname(host, sizeof(host) - 1);
	j = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:s, "
		      "s:s, s:b, s:[]}",
		      "ID", "berth", "Containers", (int)n, "ContainersRunning", (int)running, "ContainersPaused",
		      (int)paused, "ContainersStopped", (int)stopped, "Images", (int)ni, "Driver", "overlay",
		      "LoggingDriver", "k8s-file", "CgroupDriver", "cgroupfs", "CgroupVersion", cgroup_version(),
		      "KernelVersion", u.release, "OperatingSystem", "berth", "OSType", "linux", "Architecture",
		      go_arch(u.machine), "NCPU", (int)cpus, "MemTotal", (json_int_t)pages * psize, "DockerRootDir",
		      r->server->options->store_root, "Name", host, "ServerVersion",
		      r->server->options->version ?: "0.0.0", "DefaultRuntime", "berth-runtime", "Debug", false,
		      "Warnings");
	json_object_set_new(j, "Runtimes", json_pack("{s:{s:s}}", "berth-runtime", "path", "berth-runtime"));
	json_object_set_new(
	    j, "Plugins",
	    json_pack("{s:[s], s:[s,s,s], s:[]}", "Volume", "local", "Network", "bridge", "host", "null", "Log"));
	api_reply_json(r, 200, j);
}

/* ---- events ---- */

typedef struct events_job {
	engine_paths paths; /* a copy: the producer outlives the request */
	char *store_root, *run_root;
	int64_t since, until;
	json_t *filters;
	int fd;
} events_job;

static void events_job_free(void *arg)
{
	events_job *j = arg;

	engine_paths_free(&j->paths);
	free(j->store_root);
	free(j->run_root);
	json_decref(j->filters);
	free(j);
}

/* docker's filters: {"type": ["container"], "event": ["start"]}, or the
 * older {"event": {"start": true}}; KEY absent: anything passes. */
static bool filter_allows(json_t *filters, const char *key, const char *id, const char *value)
{
	json_t *f = json_object_get(filters, key), *v;
	const char *k;
	size_t i;

	if (f == NULL)
		return true;
	if (json_is_object(f)) {
		json_object_foreach(f, k, v) {
			if ((value && strcmp(value, k) == 0) || (id && *k && strncmp(id, k, strlen(k)) == 0))
				return true;
		}
		return false;
	}
	json_array_foreach(f, i, v) {
		const char *s = json_string_value(v) ?: "";
		if ((value && strcmp(value, s) == 0) || (id && *s && strncmp(id, s, strlen(s)) == 0))
			return true;
	}
	return false;
}

static int event_out(json_t *e, void *arg)
{
	events_job *j = arg;
	json_t *actor = json_object_get(e, "Actor"), *attrs = json_object_get(actor, "Attributes");

	if (e == NULL) /* waiting: stop once the client went */
		return api_stream_closed(j->fd) ? -1 : 0;
	if (!filter_allows(j->filters, "type", NULL, json_string_value(json_object_get(e, "Type"))) ||
	    !filter_allows(j->filters, "event", NULL, json_string_value(json_object_get(e, "Action"))) ||
	    !filter_allows(j->filters, "container", json_string_value(json_object_get(actor, "ID")),
			   json_string_value(json_object_get(attrs, "name"))) ||
	    !filter_allows(j->filters, "image", NULL, json_string_value(json_object_get(attrs, "image"))))
		return api_stream_closed(j->fd) ? -1 : 0;
	return api_write_json_line(j->fd, json_incref(e), "\n") ? 0 : -1;
}

static void events_produce(int fd, void *arg)
{
	events_job *j = arg;
	berth_error *e = NULL;

	j->fd = fd;
	if (engine_events_read(&j->paths, j->since, j->until, true, event_out, j, &e) < 0)
		berth_error_free(&e);
}

/* "1700000000", "1700000000.5", RFC 3339 or a duration -> ns; 0: none */
static int64_t event_time(const char *text)
{
	char *end;
	double secs;

	if (text == NULL || *text == '\0')
		return 0;
	secs = strtod(text, &end);
	if (*end == '\0')
		return (int64_t)(secs * 1e9);
	return logfile_parse_since(text);
}

void api_events(api_request *r)
{
	events_job *j = calloc(1, sizeof(*j));
	const char *filters = api_query(r, "filters");
	berth_error *e = NULL;
	struct timespec now;

	if (j == NULL) {
		api_reply_error(r, 500, "out of memory");
		return;
	}
	j->store_root = strdup(r->server->options->store_root);
	j->run_root = strdup(r->server->options->run_root);
	if (filters) {
		j->filters = json_loads(filters, 0, NULL);
		if (!json_is_object(j->filters)) {
			events_job_free(j);
			api_reply_error(r, 400, "filters: malformed JSON");
			return;
		}
	}
	j->since = event_time(api_query(r, "since"));
	j->until = event_time(api_query(r, "until"));
	if (j->since < 0 || j->until < 0) {
		events_job_free(j);
		api_reply_error(r, 400, "since/until: expected a unix time, an RFC 3339 time or a duration");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (api_query(r, "since") == NULL)
		j->since = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	if (engine_paths_init(&j->paths, j->store_root, j->run_root, &e) < 0) {
		events_job_free(j);
		api_reply_berth_error(r, &e);
		return;
	}
	api_reply_stream(r, 200, "application/json", events_produce, j, events_job_free);
}
