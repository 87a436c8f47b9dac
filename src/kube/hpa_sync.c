#include "kube/hpa_sync.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/hpa.h"
#include "kube/metrics.h"
#include "kube/quantity.h"
#include "kube/state.h"
#include "spec/json_read.h"
#include "util/cleanup.h"

#define EVENTS_KEPT  20
#define PRESAMPLE_MS 1000 /* how long before a sync pods without a sample get one */

typedef void (*log_fn_t)(const char *fmt, ...);

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rfc3339(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

/* ---- pods and requests */

json_t *kube_hpa_target_pods(json_t *pods, const char *deployment)
{
	json_t *out = json_array(), *p;
	char owner[300];
	size_t i;

	snprintf(owner, sizeof(owner), "Deployment/%s", deployment);
	json_array_foreach(pods, i, p)
		if (!json_is_true(json_object_get(p, "removed")) && strcmp(str(p, "owner") ?: "", owner) == 0)
			json_array_append(out, p);
	return out;
}

int64_t kube_hpa_pod_request(json_t *pod, const char *resource, const char **missing)
{
	json_t *c;
	int64_t total = 0;
	size_t i;

	*missing = NULL;
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		json_t *res = json_object_get(c, "resources");
		json_t *q = json_object_get(json_object_get(res, "requests"), resource);
		berth_error *err = NULL;
		int64_t milli;
		if (q == NULL || json_is_null(q))
			q = json_object_get(json_object_get(res, "limits"), resource);
		if (q == NULL || json_is_null(q) || kube_quantity_from_json(q, resource, &milli, &err) < 0) {
			berth_error_free(&err);
			*missing = str(c, "name") ?: "";
			return -1;
		}
		total += strcmp(resource, "cpu") == 0 ? milli : (milli + 999) / 1000;
	}
	return total;
}

static bool pod_running(json_t *p)
{
	json_t *c;
	size_t i;

	if (strcmp(str(json_object_get(p, "holder"), "status") ?: "", "running") != 0 ||
	    json_array_size(json_object_get(p, "containers")) == 0)
		return false;
	json_array_foreach(json_object_get(p, "containers"), i, c)
		if (strcmp(str(c, "status") ?: "", "running") != 0)
			return false;
	return true;
}

/* ---- status: conditions and events */

static void set_condition(json_t *status, const char *type, bool ok, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void set_condition(json_t *status, const char *type, bool ok, const char *reason, const char *fmt, ...)
{
	json_t *conditions = json_object_get(status, "conditions"), *c, *found = NULL;
	char message[600], now[32];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	rfc3339(now);
	if (!json_is_array(conditions))
		json_object_set_new(status, "conditions", conditions = json_array());
	json_array_foreach(conditions, i, c)
		if (strcmp(str(c, "type") ?: "", type) == 0)
			found = c;
	if (found == NULL) {
		found = json_pack("{s:s}", "type", type);
		json_array_append_new(conditions, found);
	}
	if (strcmp(str(found, "status") ?: "", ok ? "True" : "False") != 0)
		json_object_set_new(found, "lastTransitionTime", json_string(now));
	json_object_set_new(found, "status", json_string(ok ? "True" : "False"));
	json_object_set_new(found, "reason", json_string(reason));
	json_object_set_new(found, "message", json_string(message));
}

/* An event of the HPA, folded into the last one when it repeats (as
 * Kubernetes counts a repeated event). */
static void add_event(json_t *entry, log_fn_t log_fn, const char *name, bool warning, const char *reason,
		      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void add_event(json_t *entry, log_fn_t log_fn, const char *name, bool warning, const char *reason,
		      const char *fmt, ...)
{
	json_t *events = json_object_get(entry, "events"), *last;
	char message[600], now[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	rfc3339(now);
	if (!json_is_array(events))
		json_object_set_new(entry, "events", events = json_array());
	last = json_array_get(events, json_array_size(events) - 1);
	if (last && strcmp(str(last, "reason") ?: "", reason) == 0 &&
	    strcmp(str(last, "message") ?: "", message) == 0) {
		json_object_set_new(last, "count",
				    json_integer(json_integer_value(json_object_get(last, "count")) + 1));
		json_object_set_new(last, "lastTimestamp", json_string(now));
		return;
	}
	log_fn("horizontalpodautoscaler %s: %s: %s", name, reason, message);
	json_array_append_new(events, json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "type",
						warning ? "Warning" : "Normal", "reason", reason, "message", message,
						"count", 1, "firstTimestamp", now, "lastTimestamp", now));
	while (json_array_size(events) > EVENTS_KEPT)
		json_array_remove(events, 0);
}

/* ---- one HPA */

typedef struct sync_ctx {
	const kube_context *k;
	const char *ns, *name;
	json_t *entry, *status;
	log_fn_t log_fn;
} sync_ctx;

static const char *resource_name(kube_hpa_resource r)
{
	return r == KUBE_HPA_CPU ? "cpu" : "memory";
}

/* "12Mi" for memory at or above 1 Mi, else bytes; "25m" for cpu. */
static void quantity_text(kube_hpa_resource r, int64_t v, char out[32])
{
	if (r == KUBE_HPA_CPU)
		snprintf(out, 32, "%lldm", (long long)v);
	else if (v >= 1048576 && v % 1048576 == 0)
		snprintf(out, 32, "%lldMi", (long long)(v / 1048576));
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(out, 32, "%lldKi", (long long)(v / 1024));
	else
		snprintf(out, 32, "%lld", (long long)v);
}

/* The pods of the target, measured: PODS[i] borrows from TARGET. */
static kube_hpa_pod *measure(sync_ctx *s, const kube_hpa_metric *m, json_t *target, json_t *readiness,
			     json_t *fresh_samples, json_t **keep)
{
	size_t n = json_array_size(target), i;
	kube_hpa_pod *pods = calloc(n ? n : 1, sizeof(*pods));
	json_t *old_samples = json_object_get(s->entry, "samples"), *p;

	*keep = json_array(); /* the pod objects, alive as long as PODS */
	if (pods == NULL)
		return NULL;
	json_array_foreach(target, i, p) {
		const char *name = str(p, "name");
		json_t *pod = kube_pod_object(s->k, s->ns, name);
		json_t *sample = json_object_get(fresh_samples, name);
		kube_usage now, before;
		json_array_append_new(*keep, pod ? pod : json_object());
		pods[i].name = name;
		pods[i].running = pod_running(p);
		pods[i].ready =
		    json_is_true(json_object_get(json_object_get(json_object_get(readiness, "pods"), name), "ready"));
		pods[i].request = kube_hpa_pod_request(pod, resource_name(m->resource), &pods[i].missing_request);
		if (!pods[i].running)
			continue;
		if (sample == NULL) {
			kube_metrics_sample_pod(s->k, p, &now);
			sample = now.valid ? kube_usage_to_json(&now) : json_null();
			if (now.valid)
				json_object_set_new(sample, "startMillicores", json_integer(now.start_millicores));
			json_object_set_new(fresh_samples, name, sample);
		}
		if (!json_is_object(sample))
			continue;
		kube_usage_from_json(sample, &now);
		if (m->resource == KUBE_HPA_MEMORY) {
			pods[i].has_metric = true;
			pods[i].usage = now.memory_bytes;
			continue;
		}
		kube_usage_from_json(json_object_get(old_samples, name), &before);
		pods[i].usage = kube_metrics_millicores(&before, &now);
		if (pods[i].usage < 0) {
			/* no window measured since it started: its average since
			 * then, and not ready (as Kubernetes treats a sample not
			 * taken a whole window after the pod's start) */
			pods[i].usage = json_integer_value(json_object_get(sample, "startMillicores"));
			pods[i].ready = false;
		}
		pods[i].has_metric = true;
	}
	return pods;
}

static json_t *metric_status(const kube_hpa_metric *m, const kube_hpa_result *r, bool valid)
{
	char avg[32];
	json_t *current = json_object();

	quantity_text(m->resource, r->average, avg);
	if (valid) {
		if (m->utilization)
			json_object_set_new(current, "averageUtilization", json_integer(r->utilization));
		json_object_set_new(current, "averageValue", json_string(avg));
	}
	return json_pack("{s:s, s:{s:s, s:o}}", "type", "Resource", "resource", "name", resource_name(m->resource),
			 "current", current);
}

/* computeReplicasForMetrics: the largest proposal, or -1 when no metric
 * (or, scaling down, not every metric) could be computed. */
static int compute(sync_ctx *s, const kube_hpa_spec *spec, json_t *target, json_t *readiness, int current,
		   int spec_replicas, const char **metric_name)
{
	_cleanup_json_ json_t *samples = json_object(), *statuses = json_array();
	char first_error[700] = "";
	int best = -1, invalid = 0;
	static char name_buf[96];

	for (size_t i = 0; i < spec->n_metrics; i++) {
		const kube_hpa_metric *m = &spec->metrics[i];
		_cleanup_json_ json_t *keep = NULL;
		kube_hpa_result r = { 0 };
		kube_hpa_pod *pods = measure(s, m, target, readiness, samples, &keep);
		bool measured = pods != NULL;
		int rc = measured
			     ? kube_hpa_calculate(m, pods, json_array_size(target), current, KUBE_HPA_TOLERANCE, &r)
			     : -1;
		free(pods);
		json_array_append_new(statuses, metric_status(m, &r, rc == 0));
		if (rc < 0) {
			if (invalid++ == 0)
				snprintf(first_error, sizeof(first_error), "failed to get %s %s: %s",
					 resource_name(m->resource), m->utilization ? "utilization" : "usage",
					 measured ? r.error : "out of memory");
			continue;
		}
		if (r.replicas > best) {
			best = r.replicas;
			snprintf(name_buf, sizeof(name_buf), "%s resource%s", resource_name(m->resource),
				 m->utilization ? " utilization (percentage of request)" : "");
			*metric_name = name_buf;
		}
	}
	json_object_set(s->status, "currentMetrics", statuses);
	/* the samples of this sync are the base of the next one's rates */
	json_object_set(s->entry, "samples", samples);
	if (invalid >= (int)spec->n_metrics || (invalid > 0 && best < spec_replicas)) {
		set_condition(s->status, "ScalingActive", false, "FailedGetResourceMetric",
			      "the HPA was unable to compute the replica count: %s", first_error);
		add_event(s->entry, s->log_fn, s->name, true, "FailedGetResourceMetric", "%s", first_error);
		add_event(s->entry, s->log_fn, s->name, true, "FailedComputeMetricsReplicas",
			  "invalid metrics (%d invalid out of %zu), first error is: %s", invalid, spec->n_metrics,
			  first_error);
		return -1;
	}
	set_condition(s->status, "ScalingActive", true, "ValidMetricFound",
		      "the HPA was able to successfully calculate a replica count from %s", *metric_name);
	return best;
}

static json_t *find_deployment(json_t *deployments, const char *name)
{
	json_t *d;
	size_t i;

	json_array_foreach(deployments, i, d)
		if (strcmp(str(json_object_get(d, "metadata"), "name") ?: "", name) == 0)
			return d;
	return NULL;
}

static void sync_one(sync_ctx *s, json_t *hpa, json_t *deployments, json_t *pods, json_t *readiness)
{
	kube_hpa_spec spec;
	kube_hpa_history history = { 0 };
	kube_hpa_decision decision = { 0 };
	berth_error *err = NULL;
	json_t *d, *replicas_v;
	_cleanup_json_ json_t *target = NULL;
	const char *reason = "", *metric_name = "";
	int current, spec_replicas, desired;
	char reason_buf[160];

	if (kube_hpa_spec_read(hpa, &spec, &err) < 0) {
		s->log_fn("horizontalpodautoscaler %s: %s", s->name, err->msg);
		berth_error_free(&err);
		return;
	}
	json_object_set_new(
	    s->status, "observedGeneration",
	    json_integer(json_integer_value(json_object_get(json_object_get(hpa, "metadata"), "generation"))));
	d = find_deployment(deployments, spec.target);
	if (d == NULL) {
		set_condition(s->status, "AbleToScale", false, "FailedGetScale",
			      "the HPA controller was unable to get the target's current scale: deployments/scale.apps "
			      "\"%s\" not found",
			      spec.target);
		add_event(s->entry, s->log_fn, s->name, true, "FailedGetScale",
			  "deployments/scale.apps \"%s\" not found", spec.target);
		json_object_set_new(s->status, "currentReplicas", json_integer(0));
		json_object_set_new(s->status, "desiredReplicas", json_integer(0));
		return;
	}
	target = kube_hpa_target_pods(pods, spec.target);
	current = (int)json_array_size(target);
	replicas_v = json_object_get(json_object_get(d, "spec"), "replicas");
	spec_replicas = json_is_integer(replicas_v) ? (int)json_integer_value(replicas_v) : 1;
	set_condition(s->status, "AbleToScale", true, "SucceededGetScale",
		      "the HPA controller was able to get the target's current scale");
	kube_hpa_history_from_json(json_object_get(s->entry, "history"), &history);
	if (spec_replicas == 0) {
		set_condition(s->status, "ScalingActive", false, "ScalingDisabled",
			      "scaling is disabled since the replica count of the target is zero");
		desired = 0;
	} else if (current > spec.max_replicas) {
		reason = "Current number of replicas above Spec.MaxReplicas";
		desired = spec.max_replicas;
	} else if (current < spec.min_replicas) {
		reason = "Current number of replicas below Spec.MinReplicas";
		desired = spec.min_replicas;
	} else {
		int proposed = compute(s, &spec, target, readiness, current, spec_replicas, &metric_name);
		if (proposed < 0) {
			json_object_set_new(s->status, "currentReplicas", json_integer(current));
			json_object_set_new(s->status, "desiredReplicas", json_integer(spec_replicas));
			kube_hpa_history_free(&history);
			return;
		}
		snprintf(reason_buf, sizeof(reason_buf), "%s above target", metric_name);
		reason = proposed > current ? reason_buf : "All metrics below target";
		if (kube_hpa_normalize(&spec, &history, current, proposed, wall_ms(), &decision) < 0) {
			kube_hpa_history_free(&history);
			return;
		}
		set_condition(s->status, "AbleToScale", true, decision.able_reason, "%s", decision.able_message);
		set_condition(s->status, "ScalingLimited", decision.limited, decision.limit_reason, "%s",
			      decision.limit_message);
		desired = decision.replicas;
	}
	if (spec_replicas != 0 && desired != current && desired != spec_replicas) {
		if (kube_state_scale(s->k->paths->store_root, s->ns, spec.target, desired, &err) < 0) {
			set_condition(s->status, "AbleToScale", false, "FailedUpdateScale",
				      "the HPA controller was unable to update the target scale: %s", err->msg);
			add_event(s->entry, s->log_fn, s->name, true, "FailedRescale",
				  "New size: %d; reason: %s; error: %s", desired, reason, err->msg);
			berth_error_free(&err);
		} else {
			char now[32];
			rfc3339(now);
			set_condition(s->status, "AbleToScale", true, "SucceededRescale",
				      "the HPA controller was able to update the target scale to %d", desired);
			add_event(s->entry, s->log_fn, s->name, false, "SuccessfulRescale", "New size: %d; reason: %s",
				  desired, reason);
			kube_hpa_record_scale(&spec, &history, current, desired, wall_ms());
			json_object_set_new(s->status, "lastScaleTime", json_string(now));
		}
	} else if (spec_replicas != 0 && desired == current) {
		desired = current;
	}
	json_object_set_new(s->status, "currentReplicas", json_integer(current));
	json_object_set_new(s->status, "desiredReplicas", json_integer(desired));
	json_object_set_new(s->entry, "history", kube_hpa_history_to_json(&history));
	kube_hpa_history_free(&history);
}

/* The pods of HPA's target that have no sample yet (new pods, a new HPA)
 * get one now, shortly before the sync, which then measures their CPU over
 * that time rather than since they started (a start's burst). */
static void presample(const kube_context *k, json_t *entry, json_t *hpa, json_t *pods)
{
	const char *target = str(json_object_get(json_object_get(hpa, "spec"), "scaleTargetRef"), "name");
	_cleanup_json_ json_t *list = target ? kube_hpa_target_pods(pods, target) : NULL;
	json_t *samples = json_object_get(entry, "samples"), *p;
	size_t i;

	if (!json_is_object(samples))
		json_object_set_new(entry, "samples", samples = json_object());
	json_array_foreach(list, i, p) {
		kube_usage u;
		if (json_object_get(samples, str(p, "name")) || !pod_running(p))
			continue;
		kube_metrics_sample_pod(k, p, &u);
		if (u.valid)
			json_object_set_new(samples, str(p, "name"), kube_usage_to_json(&u));
	}
}

static int64_t sync_period_ms(json_t *hpa)
{
	const char *v = str(json_object_get(json_object_get(hpa, "metadata"), "annotations"), KUBE_HPA_SYNC_ANNOTATION);
	const char *env = getenv(KUBE_HPA_SYNC_ENV);
	long n = 0;

	if (v != NULL)
		n = strtol(v, NULL, 10);
	else if (env != NULL)
		n = strtol(env, NULL, 10);
	if (n < 1 || n > 3600)
		n = KUBE_HPA_SYNC_PERIOD_S;
	return (int64_t)n * 1000;
}

void kube_hpa_sync(const kube_context *k, const char *namespace, json_t *state, json_t *pods, json_t *deployments,
		   json_t *readiness, void (*log_fn)(const char *fmt, ...))
{
	_cleanup_json_ json_t *hpas = NULL;
	berth_error *err = NULL;
	const char *key;
	json_t *hpa, *v;
	void *tmp;
	size_t i;

	if (kube_state_list(k->paths->store_root, KUBE_HPA_KIND, namespace, &hpas, &err) < 0) {
		log_fn("%s", err->msg);
		berth_error_free(&err);
		return;
	}
	/* the state of HPAs deleted (or made anew) goes */
	json_object_foreach_safe(state, tmp, key, v)
	{
		bool kept = false;
		json_array_foreach(hpas, i, hpa)
			kept = kept ||
			       (strcmp(str(json_object_get(hpa, "metadata"), "name") ?: "", key) == 0 &&
				strcmp(str(json_object_get(hpa, "metadata"), "uid") ?: "", str(v, "uid") ?: "") == 0);
		if (!kept)
			json_object_del(state, key);
	}
	json_array_foreach(hpas, i, hpa) {
		const char *name = str(json_object_get(hpa, "metadata"), "name");
		json_t *entry = json_object_get(state, name);
		int64_t now = wall_ms();
		sync_ctx s = { .k = k, .ns = namespace, .name = name, .log_fn = log_fn };
		if (name == NULL)
			continue;
		if (entry == NULL) {
			entry =
			    json_pack("{s:s?, s:I, s:{}, s:[]}", "uid", str(json_object_get(hpa, "metadata"), "uid"),
				      "next", (json_int_t)(now + PRESAMPLE_MS), "status", "events");
			json_object_set_new(state, name, entry);
		}
		if (json_integer_value(json_object_get(entry, "next")) > now) {
			if (json_integer_value(json_object_get(entry, "next")) - now <= PRESAMPLE_MS)
				presample(k, entry, hpa, pods);
			continue;
		}
		json_object_set_new(entry, "next", json_integer(now + sync_period_ms(hpa)));
		s.entry = entry;
		s.status = json_object_get(entry, "status");
		sync_one(&s, hpa, deployments, pods, readiness);
	}
}
