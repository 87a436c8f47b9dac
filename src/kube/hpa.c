/* Kubernetes' HPA algorithm (pkg/controller/podautoscaler: replica_calculator.go
 * and horizontal.go), on numbers. */
#include "kube/hpa.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the replica calculator */

static bool within(double ratio, double tolerance)
{
	return fabs(1.0 - ratio) <= tolerance;
}

/* What each pod counts as: its metric, or (filled in) a fallback. */
typedef struct counted {
	bool in; /* part of the ratio */
	int64_t value;
} counted;

/* The usage ratio over the counted pods: GetResourceUtilizationRatio
 * (the sums against the sums of requests) or GetMetricUsageRatio (the
 * average against the target). */
static double usage_ratio(const kube_hpa_metric *m, const kube_hpa_pod *pods, const counted *c, size_t n,
			  int *utilization, int64_t *average)
{
	int64_t total = 0, requests = 0;
	size_t entries = 0;

	for (size_t i = 0; i < n; i++) {
		if (!c[i].in)
			continue;
		total += c[i].value;
		requests += pods[i].request;
		entries++;
	}
	if (entries == 0)
		return 0;
	*average = total / (int64_t)entries;
	if (m->utilization) {
		if (requests <= 0)
			return 0;
		*utilization = (int)(total * 100 / requests);
		return (double)*utilization / (double)m->target_percent;
	}
	return (double)*average / (double)m->target_value;
}

int kube_hpa_calculate(const kube_hpa_metric *m, const kube_hpa_pod *pods, size_t n, int current, double tolerance,
		       kube_hpa_result *r)
{
	const char *resource = m->resource == KUBE_HPA_CPU ? "cpu" : "memory";
	counted *c = calloc(n ? n : 1, sizeof(*c));
	size_t ready = 0, unready = 0, missing = 0, with_metrics = 0;
	double ratio, fresh;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if (c == NULL) {
		snprintf(r->error, sizeof(r->error), "%s", strerror(ENOMEM));
		return -1;
	}
	if (n == 0) {
		snprintf(r->error, sizeof(r->error), "no pods returned by selector while calculating replica count");
		ret = -1;
		goto out;
	}
	/* groupPods: pending pods and (for cpu) unready ones are left out,
	 * pods without a metric are missing */
	for (size_t i = 0; i < n; i++) {
		const kube_hpa_pod *p = &pods[i];
		if (!p->running) {
			unready++;
		} else if (!p->has_metric) {
			missing++;
		} else if (m->resource == KUBE_HPA_CPU && !p->ready) {
			unready++;
		} else {
			c[i] = (counted){ true, p->usage };
			ready++;
		}
	}
	with_metrics = ready;
	if (with_metrics == 0) {
		snprintf(r->error, sizeof(r->error),
			 "did not receive metrics for targeted pods (pods might be unready)");
		ret = -1;
		goto out;
	}
	if (m->utilization) {
		/* calculatePodRequests: every container needs a request */
		for (size_t i = 0; i < n; i++)
			if (pods[i].missing_request) {
				snprintf(r->error, sizeof(r->error), "missing request for %s in container %s of Pod %s",
					 resource, pods[i].missing_request, pods[i].name);
				ret = -1;
				goto out;
			}
	}
	ratio = usage_ratio(m, pods, c, n, &r->utilization, &r->average);
	if (m->utilization && ratio == 0 && r->utilization == 0) {
		int64_t requests = 0;
		for (size_t i = 0; i < n; i++)
			requests += c[i].in ? pods[i].request : 0;
		if (requests <= 0) {
			snprintf(r->error, sizeof(r->error), "no metrics returned matched known pods");
			ret = -1;
			goto out;
		}
	}
	if (!(unready > 0 && ratio > 1.0) && missing == 0) {
		r->replicas = within(ratio, tolerance) ? current : (int)ceil(ratio * (double)ready);
		goto out;
	}
	/* the conservative fill-in: missing pods use 0 on a scale-up, 100% of
	 * their request (or the target, when above) on a scale-down; unready
	 * pods use 0 on a scale-up */
	for (size_t i = 0; i < n; i++) {
		const kube_hpa_pod *p = &pods[i];
		bool is_missing = p->running && !p->has_metric;
		bool is_unready = !p->running || (p->has_metric && m->resource == KUBE_HPA_CPU && !p->ready);
		if (is_missing && ratio < 1.0) {
			int64_t fallback;
			if (m->utilization) {
				int pct = m->target_percent > 100 ? m->target_percent : 100;
				fallback = p->request * pct / 100;
			} else {
				fallback = m->target_value;
			}
			c[i] = (counted){ true, fallback };
		} else if (is_missing && ratio > 1.0) {
			c[i] = (counted){ true, 0 };
		} else if (is_unready && ratio > 1.0) {
			c[i] = (counted){ true, 0 };
		}
	}
	{
		int ignored_util;
		int64_t ignored_avg;
		size_t counted_pods = 0;
		int proposal;
		fresh = usage_ratio(m, pods, c, n, &ignored_util, &ignored_avg);
		for (size_t i = 0; i < n; i++)
			counted_pods += c[i].in;
		if (within(fresh, tolerance) || (ratio < 1.0 && fresh > 1.0) || (ratio > 1.0 && fresh < 1.0)) {
			r->replicas = current;
			goto out;
		}
		proposal = (int)ceil(fresh * (double)counted_pods);
		if ((fresh < 1.0 && proposal > current) || (fresh > 1.0 && proposal < current))
			proposal = current;
		r->replicas = proposal;
	}
out:
	free(c);
	return ret;
}

/* ---- the normalization */

static int sample_append(kube_hpa_sample **list, size_t *n, int64_t at, int value)
{
	kube_hpa_sample *grown = realloc(*list, (*n + 1) * sizeof(**list));

	if (grown == NULL)
		return -ENOMEM;
	*list = grown;
	grown[(*n)++] = (kube_hpa_sample){ at, value };
	return 0;
}

/* stabilizeRecommendationWithBehaviors */
static int stabilize(const kube_hpa_spec *spec, kube_hpa_history *h, int current, int proposed, int64_t now,
		     kube_hpa_decision *out)
{
	int64_t up_cutoff = now - (int64_t)spec->up.window_s * 1000;
	int64_t down_cutoff = now - (int64_t)spec->down.window_s * 1000;
	int up = proposed, down = proposed, recommendation = current;
	bool found_old = false;
	size_t old = 0;

	for (size_t i = 0; i < h->n_recommendations; i++) {
		kube_hpa_sample *s = &h->recommendations[i];
		if (s->at_ms > up_cutoff && s->value < up)
			up = s->value;
		if (s->at_ms > down_cutoff && s->value > down)
			down = s->value;
		if (s->at_ms < up_cutoff && s->at_ms < down_cutoff) {
			found_old = true;
			old = i;
		}
	}
	if (recommendation < up)
		recommendation = up;
	if (recommendation > down)
		recommendation = down;
	if (found_old)
		h->recommendations[old] = (kube_hpa_sample){ now, proposed };
	else if (sample_append(&h->recommendations, &h->n_recommendations, now, proposed) < 0)
		return -ENOMEM;
	if (recommendation != proposed) {
		out->able_reason = proposed >= current ? "ScaleUpStabilized" : "ScaleDownStabilized";
		out->able_message = proposed >= current
					? "recent recommendations were lower than current one, applying "
					  "the lowest recent recommendation"
					: "recent recommendations were higher than current one, "
					  "applying the highest recent recommendation";
	} else {
		out->able_reason = "ReadyForNewScale";
		out->able_message = "recommended size matches current size";
	}
	return recommendation;
}

/* getReplicasChangePerPeriod */
static int change_in_period(int period_s, const kube_hpa_sample *events, size_t n, int64_t now)
{
	int64_t cutoff = now - (int64_t)period_s * 1000;
	int sum = 0;

	for (size_t i = 0; i < n; i++)
		if (events[i].at_ms > cutoff)
			sum += events[i].value;
	return sum;
}

/* calculateScaleUpLimitWithScalingRules and
 * calculateScaleDownLimitWithBehaviors */
static int rate_limit(const kube_hpa_rules *rules, const kube_hpa_history *h, int current, bool up, int64_t now)
{
	bool min_change = rules->select == KUBE_HPA_SELECT_MIN;
	/* up: Max takes the largest proposal, Min the smallest; down the
	 * other way round (the largest change is the smallest count) */
	bool take_larger = up != min_change;
	int result = take_larger ? INT_MIN : INT_MAX;

	if (rules->select == KUBE_HPA_SELECT_DISABLED)
		return current;
	for (size_t i = 0; i < rules->n_policies; i++) {
		const kube_hpa_policy *p = &rules->policies[i];
		int added = change_in_period(p->period_s, h->up_events, h->n_up, now);
		int deleted = change_in_period(p->period_s, h->down_events, h->n_down, now);
		int start = current - added + deleted, proposed;
		if (up)
			proposed = p->type == KUBE_HPA_PODS ? start + p->value
							    : (int)ceil((double)start * (1.0 + p->value / 100.0));
		else
			proposed = p->type == KUBE_HPA_PODS ? start - p->value
							    : (int)((double)start * (1.0 - p->value / 100.0));
		if (take_larger ? proposed > result : proposed < result)
			result = proposed;
	}
	return result;
}

int kube_hpa_normalize(const kube_hpa_spec *spec, kube_hpa_history *h, int current, int proposed, int64_t now_ms,
		       kube_hpa_decision *out)
{
	int desired = stabilize(spec, h, current, proposed, now_ms, out);

	if (desired < 0)
		return desired;
	out->replicas = desired;
	out->limit_reason = "DesiredWithinRange";
	out->limit_message = "the desired count is within the acceptable range";
	if (desired > current) {
		int limit = rate_limit(&spec->up, h, current, true, now_ms), allowed = spec->max_replicas;
		const char *reason = "TooManyReplicas",
			   *message = "the desired replica count is more than the maximum replica count";
		if (limit < current)
			limit = current;
		if (allowed > limit) {
			allowed = limit;
			reason = "ScaleUpLimit";
			message = "the desired replica count is increasing faster than the maximum scale rate";
		}
		if (desired > allowed) {
			out->replicas = allowed;
			out->limit_reason = reason;
			out->limit_message = message;
		}
	} else if (desired < current) {
		int limit = rate_limit(&spec->down, h, current, false, now_ms), allowed = spec->min_replicas;
		const char *reason = "TooFewReplicas",
			   *message = "the desired replica count is less than the minimum replica count";
		if (limit > current)
			limit = current;
		if (allowed < limit) {
			allowed = limit;
			reason = "ScaleDownLimit";
			message = "the desired replica count is decreasing faster than the maximum scale rate";
		}
		if (desired < allowed) {
			out->replicas = allowed;
			out->limit_reason = reason;
			out->limit_message = message;
		}
	}
	out->limited = out->replicas != desired;
	return 0;
}

static int longest_period(const kube_hpa_rules *rules)
{
	int longest = 0;

	for (size_t i = 0; i < rules->n_policies; i++)
		if (rules->policies[i].period_s > longest)
			longest = rules->policies[i].period_s;
	return longest;
}

static void forget_before(kube_hpa_sample *list, size_t *n, int64_t cutoff)
{
	size_t kept = 0;

	for (size_t i = 0; i < *n; i++)
		if (list[i].at_ms > cutoff)
			list[kept++] = list[i];
	*n = kept;
}

int kube_hpa_record_scale(const kube_hpa_spec *spec, kube_hpa_history *h, int from, int to, int64_t now_ms)
{
	if (to > from) {
		forget_before(h->up_events, &h->n_up, now_ms - (int64_t)longest_period(&spec->up) * 1000);
		return sample_append(&h->up_events, &h->n_up, now_ms, to - from);
	}
	if (to < from) {
		forget_before(h->down_events, &h->n_down, now_ms - (int64_t)longest_period(&spec->down) * 1000);
		return sample_append(&h->down_events, &h->n_down, now_ms, from - to);
	}
	return 0;
}

void kube_hpa_history_free(kube_hpa_history *h)
{
	free(h->recommendations);
	free(h->up_events);
	free(h->down_events);
	memset(h, 0, sizeof(*h));
}

static json_t *samples_json(const kube_hpa_sample *list, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack("[I, i]", (json_int_t)list[i].at_ms, list[i].value));
	return a;
}

json_t *kube_hpa_history_to_json(const kube_hpa_history *h)
{
	return json_pack("{s:o, s:o, s:o}", "recommendations", samples_json(h->recommendations, h->n_recommendations),
			 "scaleUp", samples_json(h->up_events, h->n_up), "scaleDown",
			 samples_json(h->down_events, h->n_down));
}

static void samples_from_json(json_t *a, kube_hpa_sample **list, size_t *n)
{
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e) {
		json_t *at = json_array_get(e, 0), *v = json_array_get(e, 1);
		if (json_is_integer(at) && json_is_integer(v))
			sample_append(list, n, (int64_t)json_integer_value(at), (int)json_integer_value(v));
	}
}

void kube_hpa_history_from_json(json_t *j, kube_hpa_history *h)
{
	memset(h, 0, sizeof(*h));
	samples_from_json(json_object_get(j, "recommendations"), &h->recommendations, &h->n_recommendations);
	samples_from_json(json_object_get(j, "scaleUp"), &h->up_events, &h->n_up);
	samples_from_json(json_object_get(j, "scaleDown"), &h->down_events, &h->n_down);
}
