#include "kube/metrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/logfile.h"
#include "engine/runtime_call.h"
#include "spec/json_read.h"

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t int_at(json_t *j, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(json_object_get(json_object_get(j, a), b), c);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

bool kube_metrics_from_stats(json_t *data, int64_t *cpu_ns, int64_t *working_set)
{
	json_t *raw = json_object_get(json_object_get(data, "memory"), "raw");
	/* v1 names it total_inactive_file (with the children), v2 inactive_file */
	json_t *inactive = json_object_get(raw, "total_inactive_file") ?: json_object_get(raw, "inactive_file");
	int64_t usage = int_at(data, "memory", "usage", "usage");

	*cpu_ns = int_at(data, "cpu", "usage", "total");
	if (*cpu_ns < 0 || usage < 0)
		return false;
	if (json_is_integer(inactive) && json_integer_value(inactive) < usage)
		usage -= (int64_t)json_integer_value(inactive);
	else if (json_is_integer(inactive))
		usage = 0;
	*working_set = usage;
	return true;
}

/* CTR's cpu time and working set from `RUNTIME events --stats ID`. */
static bool sample_container(const kube_context *k, json_t *ctr, int64_t *cpu_ns, int64_t *memory)
{
	const char *id = json_string_value(json_object_get(ctr, "id"));
	const char *runtime = json_string_value(json_object_get(ctr, "runtime"));
	const char *args[] = { "events", "--stats", id, NULL };
	runtime_io io = { RUNTIME_NULL, RUNTIME_CAPTURE, RUNTIME_NULL, NULL, NULL, NULL };
	berth_error *err = NULL;
	_cleanup_json_ json_t *j = NULL;

	if (id == NULL || runtime == NULL ||
	    strcmp(json_string_value(json_object_get(ctr, "status")) ?: "", "running") != 0)
		return false;
	if (runtime_call(runtime, k->paths->runtime_root, args, &io, &err) == 0 && io.out_text)
		j = json_loads(io.out_text, 0, NULL);
	berth_error_free(&err);
	free(io.out_text);
	free(io.err_text);
	return kube_metrics_from_stats(json_object_get(j, "data"), cpu_ns, memory);
}

void kube_metrics_sample_pod(const kube_context *k, json_t *pod, kube_usage *out)
{
	struct timespec now;
	json_t *ctr;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &now);
	memset(out, 0, sizeof(*out));
	out->valid = json_array_size(json_object_get(pod, "containers")) > 0;
	json_array_foreach(json_object_get(pod, "containers"), i, ctr) {
		int64_t cpu = 0, memory = 0;
		if (!sample_container(k, ctr, &cpu, &memory)) {
			out->valid = false;
			break;
		}
		out->cpu_ns += cpu;
		out->memory_bytes += memory;
		{
			const char *started = json_string_value(json_object_get(ctr, "startedAt")) ?: "";
			int64_t since = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec -
					logfile_time_ns(started, strlen(started));
			if (since > 0 && logfile_time_ns(started, strlen(started)) > 0)
				out->start_millicores += (int64_t)((double)cpu * 1000.0 / (double)since + 0.5);
		}
	}
	out->at_ns = monotonic_ns();
}

int64_t kube_metrics_millicores(const kube_usage *before, const kube_usage *after)
{
	int64_t wall = after->at_ns - before->at_ns, cpu = after->cpu_ns - before->cpu_ns;

	if (!before->valid || !after->valid || wall <= 0 || cpu < 0)
		return -1;
	return (int64_t)((double)cpu * 1000.0 / (double)wall + 0.5);
}

json_t *kube_usage_to_json(const kube_usage *u)
{
	return json_pack("{s:I, s:I, s:I}", "cpu", (json_int_t)u->cpu_ns, "at", (json_int_t)u->at_ns, "memory",
			 (json_int_t)u->memory_bytes);
}

void kube_usage_from_json(json_t *j, kube_usage *u)
{
	memset(u, 0, sizeof(*u));
	if (!json_is_object(j))
		return;
	u->valid = true;
	u->cpu_ns = (int64_t)json_integer_value(json_object_get(j, "cpu"));
	u->at_ns = (int64_t)json_integer_value(json_object_get(j, "at"));
	u->memory_bytes = (int64_t)json_integer_value(json_object_get(j, "memory"));
}
