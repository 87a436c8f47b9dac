/* berth stats: CPU, memory, block I/O and pids of running containers, from
 * their cgroups, as docker stats shows them. Each sample is
 * `RUNTIME events --stats ID` (runc's JSON of the cgroup's counters).
 *
 * CPU % is the CPU time used between two samples over the wall time between
 * them (100% per busy CPU); the first sample of a container is measured
 * from its start, as podman does, so --no-stream needs no second sample.
 * Memory usage leaves out the inactive page cache, as docker does; an
 * unlimited container shows the host's memory as its limit. Without
 * --no-stream the table is redrawn every second until interrupted; with no
 * CONTAINER every running container is shown (the list is read again at
 * every refresh). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/container.h"
#include "engine/logfile.h"
#include "engine/runtime_call.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "no-stream", 0, false, "print one sample and exit" },
	{ "format", 0, true, "table (default) or json (one object a line)" },
	{ "all", 'a', false, "also list stopped containers (their values are empty)" },
	{ "no-trunc", 0, false, "full container ids" },
	{ NULL, 0, false, NULL },
};

enum { S_NO_STREAM, S_FORMAT, S_ALL, S_NO_TRUNC, S_COUNT };

/* One container's numbers; valid is false when it is not running. */
typedef struct stats_sample {
	bool valid;
	int64_t cpu_ns;	    /* cumulative CPU time of the cgroup */
	int64_t wall_ns;    /* CLOCK_REALTIME of the sample */
	double cpu_percent; /* since the previous sample (or the start) */
	int64_t mem_usage, mem_limit;
	int64_t block_read, block_write;
	int64_t pids;
} stats_sample;

/* The previous sample of each container id, for the CPU delta. */
typedef struct stats_history {
	char **ids;
	stats_sample *samples;
	size_t n;
} stats_history;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t json_path_int(json_t *j, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(j, a);

	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int64_t host_memory(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return 0;
	return (int64_t)si.totalram * (int64_t)si.mem_unit;
}

/* Sums the Read and Write entries of blkio.ioServiceBytesRecursive. */
static void block_io(json_t *data, int64_t *read, int64_t *write)
{
	json_t *arr = json_object_get(json_object_get(data, "blkio"), "ioServiceBytesRecursive"), *e;
	size_t i;

	*read = *write = 0;
	json_array_foreach(arr, i, e) {
		const char *op = json_string_value(json_object_get(e, "op"));
		json_t *value = json_object_get(e, "value");
		if (op == NULL || !json_is_integer(value))
			continue;
		if (strcasecmp(op, "read") == 0)
			*read += (int64_t)json_integer_value(value);
		else if (strcasecmp(op, "write") == 0)
			*write += (int64_t)json_integer_value(value);
	}
}

/* Fills S from the `data` object of `events --stats`. */
static void sample_from_json(json_t *data, stats_sample *s)
{
	json_t *raw = json_object_get(json_object_get(data, "memory"), "raw");
	/* inactive_file (v2) or total_inactive_file (v1): cache the kernel can drop */
	json_t *inactive = json_object_get(raw, "total_inactive_file") ?: json_object_get(raw, "inactive_file");
	int64_t host = host_memory();

	s->valid = true;
	s->cpu_ns = json_path_int(data, "cpu", "usage", "total");
	s->mem_usage = json_path_int(data, "memory", "usage", "usage");
	if (json_is_integer(inactive) && json_integer_value(inactive) < s->mem_usage)
		s->mem_usage -= (int64_t)json_integer_value(inactive);
	s->mem_limit = json_path_int(data, "memory", "usage", "limit");
	if (s->mem_limit <= 0 || (host > 0 && s->mem_limit > host))
		s->mem_limit = host;
	s->pids = json_path_int(data, "pids", "current", NULL);
	block_io(data, &s->block_read, &s->block_write);
}

/* One sample of C; a container that is not running (or that stopped
 * meanwhile) gives an invalid sample and no error. */
static void sample_container(const engine_paths *p, const container *c, stats_sample *s)
{
	const char *args[] = { "events", "--stats", c->id, NULL };
	runtime_io io = { RUNTIME_NULL, RUNTIME_CAPTURE, RUNTIME_CAPTURE, NULL, NULL, NULL };
	berth_error *e = NULL;
	json_t *j = NULL;

	memset(s, 0, sizeof(*s));
	if (strcmp(c->state.status, "running") != 0 && strcmp(c->state.status, "paused") != 0)
		return;
	s->wall_ns = now_ns();
	if (runtime_call(engine_container_runtime(c), p->runtime_root, args, &io, &e) == 0 && io.out_text)
		j = json_loads(io.out_text, 0, NULL);
	if (j)
		sample_from_json(json_object_get(j, "data"), s);
	json_decref(j);
	berth_error_free(&e);
	free(io.out_text);
	free(io.err_text);
}

/* CPU % of S over the previous sample of C (or over C's run time). */
static void compute_cpu(stats_history *h, const container *c, stats_sample *s)
{
	int64_t cpu0 = 0, wall0 = -1;
	size_t i;

	if (!s->valid)
		return;
	for (i = 0; i < h->n && strcmp(h->ids[i], c->id) != 0; i++)
		;
	if (i < h->n && h->samples[i].valid && h->samples[i].cpu_ns <= s->cpu_ns) {
		cpu0 = h->samples[i].cpu_ns;
		wall0 = h->samples[i].wall_ns;
	} else if (c->state.started_at) {
		wall0 = logfile_time_ns(c->state.started_at, strlen(c->state.started_at));
	}
	if (wall0 > 0 && s->wall_ns > wall0)
		s->cpu_percent = (double)(s->cpu_ns - cpu0) * 100.0 / (double)(s->wall_ns - wall0);
	if (i == h->n) {
		char **ids = realloc(h->ids, (h->n + 1) * sizeof(char *));
		stats_sample *samples;
		if (ids == NULL)
			return;
		h->ids = ids;
		samples = realloc(h->samples, (h->n + 1) * sizeof(stats_sample));
		if (samples == NULL || (ids[h->n] = strdup(c->id)) == NULL) {
			if (samples)
				h->samples = samples;
			return;
		}
		h->samples = samples;
		h->n++;
	}
	h->samples[i] = *s;
}

static void history_free(stats_history *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->ids[i]);
	free(h->ids);
	free(h->samples);
}

/* docker's sizes: memory in binary units ("1.5MiB", %.4g), I/O in decimal
 * ones ("12.3kB", %.3g). BUF holds 32 bytes. */
static const char *size_text(int64_t bytes, bool binary, char *buf)
{
	static const char *const decimal[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	static const char *const iec[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes, base = binary ? 1024.0 : 1000.0;
	int u = 0;

	while (v >= base && u < 5) {
		v /= base;
		u++;
	}
	snprintf(buf, 32, binary ? "%.4g%s" : "%.3g%s", v, binary ? iec[u] : decimal[u]);
	return buf;
}

static json_t *sample_json(const container *c, const stats_sample *s)
{
	char a[32], b[32], text[80], pct[32], mem_pct[32], pids[32];
	double mp = s->mem_limit > 0 ? (double)s->mem_usage * 100.0 / (double)s->mem_limit : 0;
	json_t *j;

	if (!s->valid)
		return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID", c->id, "Name", c->name, "CPUPerc", "--",
				 "MemUsage", "-- / --", "MemPerc", "--", "BlockIO", "-- / --", "PIDs", "--");
	snprintf(pct, sizeof(pct), "%.2f%%", s->cpu_percent);
	snprintf(mem_pct, sizeof(mem_pct), "%.2f%%", mp);
	snprintf(pids, sizeof(pids), "%lld", (long long)s->pids);
	snprintf(text, sizeof(text), "%s / %s", size_text(s->mem_usage, true, a), size_text(s->mem_limit, true, b));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ID", c->id, "Name", c->name, "CPUPerc", pct, "MemUsage", text,
		      "MemPerc", mem_pct, "PIDs", pids);
	snprintf(text, sizeof(text), "%s / %s", size_text(s->block_read, false, a),
		 size_text(s->block_write, false, b));
	json_object_set_new(j, "BlockIO", json_string(text));
	/* the numbers themselves, for scripts */
	json_object_set_new(j, "CPU", json_real(s->cpu_percent));
	json_object_set_new(j, "MemUsageBytes", json_integer(s->mem_usage));
	json_object_set_new(j, "MemLimitBytes", json_integer(s->mem_limit));
	json_object_set_new(j, "BlockReadBytes", json_integer(s->block_read));
	json_object_set_new(j, "BlockWriteBytes", json_integer(s->block_write));
	json_object_set_new(j, "PIDsCurrent", json_integer(s->pids));
	return j;
}

static void print_table(container **cs, const stats_sample *samples, size_t n, bool no_trunc)
{
	int idw = no_trunc ? 64 : 12;

	printf("%-*s   %-20s   %-8s   %-22s   %-7s   %-20s   %s\n", idw, "CONTAINER ID", "NAME", "CPU %",
	       "MEM USAGE / LIMIT", "MEM %", "BLOCK I/O", "PIDS");
	for (size_t i = 0; i < n; i++) {
		json_t *j = sample_json(cs[i], &samples[i]);
		printf("%-*.*s   %-20s   %-8s   %-22s   %-7s   %-20s   %s\n", idw, idw, cs[i]->id, cs[i]->name,
		       json_string_value(json_object_get(j, "CPUPerc")),
		       json_string_value(json_object_get(j, "MemUsage")),
		       json_string_value(json_object_get(j, "MemPerc")),
		       json_string_value(json_object_get(j, "BlockIO")), json_string_value(json_object_get(j, "PIDs")));
		json_decref(j);
	}
}

static void print_json_lines(container **cs, const stats_sample *samples, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *j = sample_json(cs[i], &samples[i]);
		char *text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (text)
			puts(text);
		free(text);
		json_decref(j);
	}
}

/* The containers to show this round: NAMES (each must exist), or every
 * container (running ones unless ALL). States are refreshed. */
static int collect(const engine_paths *p, char **names, int nnames, bool all, container ***out, size_t *n,
		   berth_error **err)
{
	container **list = NULL;
	size_t count = 0, kept = 0;

	if (nnames > 0) {
		list = calloc((size_t)nnames, sizeof(container *));
		if (list == NULL)
			return berth_error_set(err, ENOMEM, "stats");
		for (count = 0; count < (size_t)nnames; count++)
			if (record_open(p, names[count], &list[count], err) < 0 ||
			    record_refresh(p, list[count], err) < 0) {
				record_list_free(list, count + 1);
				return -1;
			}
		*out = list;
		*n = count;
		return 0;
	}
	if (record_list(p, &list, &count, err) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		berth_error *e = NULL;
		if (record_refresh(p, list[i], &e) < 0)
			berth_error_free(&e);
		if (all || strcmp(list[i]->state.status, "running") == 0 ||
		    strcmp(list[i]->state.status, "paused") == 0)
			list[kept++] = list[i];
		else
			container_free(list[i]);
	}
	*out = list;
	*n = kept;
	return 0;
}

static int stats_round(const engine_paths *p, char **names, int nnames, const option_value *v, bool json,
		       stats_history *h, bool clear, berth_error **err)
{
	container **cs = NULL;
	_cleanup_free_ stats_sample *samples = NULL;
	size_t n = 0;

	if (collect(p, names, nnames, option_bool(&v[S_ALL]), &cs, &n, err) < 0)
		return -1;
	samples = calloc(n + 1, sizeof(stats_sample));
	if (samples == NULL) {
		record_list_free(cs, n);
		return berth_error_set(err, ENOMEM, "stats");
	}
	for (size_t i = 0; i < n; i++) {
		sample_container(p, cs[i], &samples[i]);
		compute_cpu(h, cs[i], &samples[i]);
	}
	if (clear)
		fputs("\033[2J\033[H", stdout);
	if (json)
		print_json_lines(cs, samples, n);
	else
		print_table(cs, samples, n, option_bool(&v[S_NO_TRUNC]));
	fflush(stdout);
	record_list_free(cs, n);
	return 0;
}

int cmd_stats(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[S_COUNT + 1] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	stats_history h = { 0 };
	const char *format;
	bool json, stream, tty = isatty(STDOUT_FILENO);
	int npos, ret;

	ret = berth_parse_grouped("stats", "stats [--no-stream] [--format table|json] [-a] [CONTAINER...]", specs, argc,
				  argv, false, v, &pos, &npos, 0, -1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	format = v[S_FORMAT].value ? v[S_FORMAT].value : "table";
	json = strcmp(format, "json") == 0;
	stream = !option_bool(&v[S_NO_STREAM]);
	if (!json && strcmp(format, "table") != 0) {
		berth_error_set(err, EINVAL, "stats: --format: expected table or json, not \"%s\"", format);
		goto out;
	}
	if (berth_engine_open(g, &paths, err) < 0)
		goto out;
	if (stream) {
		struct sigaction sa = { .sa_handler = on_signal };
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	for (;;) {
		int64_t next = now_ns() + 1000000000LL;
		if (stats_round(&paths, pos, npos, v, json, &h, stream && tty && !json, err) < 0)
			goto out;
		if (!stream)
			break;
		while (!interrupted && now_ns() < next)
			usleep(50000);
		if (interrupted)
			break;
	}
	ret = 0;
out:
	if (*err)
		ret = 125;
	history_free(&h);
	engine_paths_free(&paths);
	options_free_values(v, S_COUNT);
	return ret;
}
