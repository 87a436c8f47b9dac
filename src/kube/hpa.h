/* The HorizontalPodAutoscaler (autoscaling/v2; autoscaling/v1 is read as
 * v2): its spec with Kubernetes' defaults, and the algorithm of Kubernetes'
 * HPA controller (pkg/controller/podautoscaler), as pure functions over
 * numbers so that the tests can drive them with any clock:
 *
 *  - the replica calculator: desired = ceil(current x currentMetric /
 *    target) over the pods with metrics, nothing done within the 10%
 *    tolerance, pods not ready (cpu) or without metrics filled in
 *    conservatively (0% on a scale-up, 100% of the request or the target on
 *    a scale-down) and no change when that flips the direction;
 *  - the normalization: the stabilization windows over the recent
 *    recommendations (the highest of the scale-down window, the lowest of
 *    the scale-up window), then the policies (Pods/Percent per period over
 *    the recent scale events, selectPolicy Max/Min/Disabled) and
 *    minReplicas/maxReplicas, with the condition Kubernetes reports.
 *
 * The controller's side (metrics from the pods' cgroups, status, events,
 * scaling the Deployment) is hpa_sync.c. */
#ifndef BERTH_KUBE_HPA_H
#define BERTH_KUBE_HPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/error.h"

#define KUBE_HPA_TOLERANCE	 0.1
#define KUBE_HPA_MAX_METRICS	 8
#define KUBE_HPA_MAX_POLICIES	 8
#define KUBE_HPA_DEFAULT_UTIL	 80  /* no metrics given: cpu at 80% */
#define KUBE_HPA_DOWN_WINDOW_S	 300 /* the controller's default */
#define KUBE_HPA_SYNC_PERIOD_S	 15  /* --horizontal-pod-autoscaler-sync-period */
#define KUBE_HPA_SYNC_ANNOTATION "autoscaling.berth.io/sync-period-seconds"
#define KUBE_HPA_SYNC_ENV	 "BERTH_KUBE_HPA_SYNC_SECONDS"
#define KUBE_HPA_KIND		 "HorizontalPodAutoscaler"

typedef enum kube_hpa_resource {
	KUBE_HPA_CPU,	 /* millicores */
	KUBE_HPA_MEMORY, /* bytes */
} kube_hpa_resource;

typedef struct kube_hpa_metric {
	kube_hpa_resource resource;
	bool utilization;     /* averageUtilization, else averageValue */
	int target_percent;   /* utilization */
	int64_t target_value; /* averageValue: millicores or bytes */
} kube_hpa_metric;

typedef enum kube_hpa_policy_type { KUBE_HPA_PODS, KUBE_HPA_PERCENT } kube_hpa_policy_type;
typedef enum kube_hpa_select { KUBE_HPA_SELECT_MAX, KUBE_HPA_SELECT_MIN, KUBE_HPA_SELECT_DISABLED } kube_hpa_select;

typedef struct kube_hpa_policy {
	kube_hpa_policy_type type;
	int value;
	int period_s;
} kube_hpa_policy;

typedef struct kube_hpa_rules {
	int window_s;
	kube_hpa_select select;
	kube_hpa_policy policies[KUBE_HPA_MAX_POLICIES];
	size_t n_policies;
} kube_hpa_rules;

typedef struct kube_hpa_spec {
	char target[254]; /* the Deployment's name */
	int min_replicas, max_replicas;
	kube_hpa_metric metrics[KUBE_HPA_MAX_METRICS];
	size_t n_metrics;
	kube_hpa_rules up, down;
} kube_hpa_spec;

/* ---- the object */

/* Kubernetes' API rules for an HPA (after the schema check); an
 * autoscaling/v1 object is rewritten in place as autoscaling/v2 first
 * (targetCPUUtilizationPercentage -> a cpu Utilization metric). */
int kube_validate_hpa(json_t *hpa, berth_error **err);

/* The spec of a validated (v2) object with the defaults filled in:
 * minReplicas 1, cpu at 80% when no metric is given, scaleUp (window 0,
 * Pods 4 and Percent 100 per 15 s, Max), scaleDown (window 300, Percent
 * 100 per 15 s, Max). */
int kube_hpa_spec_read(json_t *hpa, kube_hpa_spec *out, berth_error **err);

/* ---- the replica calculator */

typedef struct kube_hpa_pod {
	const char *name;
	bool running;		     /* not pending */
	bool ready;		     /* counts for cpu only, as in Kubernetes */
	bool has_metric;	     /* a usage was measured */
	int64_t usage;		     /* millicores or bytes */
	int64_t request;	     /* the sum of its containers' requests */
	const char *missing_request; /* a container without a request, or NULL */
} kube_hpa_pod;

typedef struct kube_hpa_result {
	int replicas;	 /* the proposal */
	int utilization; /* percent of the requests (utilization targets) */
	int64_t average; /* the average usage per pod with a metric */
	char error[512]; /* when the call returns -1 */
} kube_hpa_result;

/* The proposal of METRIC for PODS while CURRENT replicas run; -1 with
 * RESULT->error ("missing request for cpu in container app of Pod web-1",
 * "did not receive metrics for targeted pods (pods might be unready)"). */
int kube_hpa_calculate(const kube_hpa_metric *metric, const kube_hpa_pod *pods, size_t n, int current, double tolerance,
		       kube_hpa_result *result);

/* ---- the normalization */

typedef struct kube_hpa_sample {
	int64_t at_ms; /* wall clock */
	int value;     /* a recommendation, or the size of a scale event */
} kube_hpa_sample;

typedef struct kube_hpa_history {
	kube_hpa_sample *recommendations;
	size_t n_recommendations;
	kube_hpa_sample *up_events, *down_events;
	size_t n_up, n_down;
} kube_hpa_history;

typedef struct kube_hpa_decision {
	int replicas;
	/* the AbleToScale reason (ReadyForNewScale, ScaleUpStabilized,
	 * ScaleDownStabilized) and the ScalingLimited one (DesiredWithinRange,
	 * ScaleUpLimit, ScaleDownLimit, TooManyReplicas, TooFewReplicas) with
	 * Kubernetes' messages */
	const char *able_reason, *able_message;
	bool limited;
	const char *limit_reason, *limit_message;
} kube_hpa_decision;

/* Stabilizes PROPOSED (records it in H) and limits it by the policies and
 * min/max, as normalizeDesiredReplicasWithBehaviors does. */
int kube_hpa_normalize(const kube_hpa_spec *spec, kube_hpa_history *h, int current, int proposed, int64_t now_ms,
		       kube_hpa_decision *out);

/* Records a scale from FROM to TO at NOW_MS in H (for the policies) and
 * forgets the events older than the longest period. */
int kube_hpa_record_scale(const kube_hpa_spec *spec, kube_hpa_history *h, int from, int to, int64_t now_ms);

void kube_hpa_history_free(kube_hpa_history *h);

/* H as JSON {"recommendations": [[ms, n]...], "scaleUp": [...],
 * "scaleDown": [...]} and back (what is not understood is skipped). */
json_t *kube_hpa_history_to_json(const kube_hpa_history *h);
void kube_hpa_history_from_json(json_t *j, kube_hpa_history *h);

#endif
