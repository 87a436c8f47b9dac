/* The HPA controller inside a namespace's controller (controller.c): every
 * sync period (15 s as in Kubernetes; the annotation
 * autoscaling.berth.io/sync-period-seconds on the HPA or the variable
 * BERTH_KUBE_HPA_SYNC_SECONDS of the controller make it shorter) each
 * HorizontalPodAutoscaler of the namespace measures the pods of its
 * Deployment (metrics.h), computes the replicas (hpa.h), sets the
 * Deployment's replicas as `kube scale` does, and records its status
 * (currentReplicas, desiredReplicas, currentMetrics, conditions,
 * lastScaleTime) and its events.
 *
 * What it keeps lives in STATE, the "hpa" member of the controller's status
 * file: {"NAME": {"uid", "next" (ms, wall clock), "status": {...}, "events":
 * [...], "history": {...} (hpa.h), "samples": {"POD": usage}}}, so a new
 * controller (after kill -9) goes on with the recommendations, events and
 * last scale time of the one before. */
#ifndef BERTH_KUBE_HPA_SYNC_H
#define BERTH_KUBE_HPA_SYNC_H

#include <jansson.h>

#include "kube/pod.h"

/* Syncs each HPA of NAMESPACE that is due. PODS: kube_pod_list's (with
 * "removed" set on the pods being removed); DEPLOYMENTS: the stored ones;
 * READINESS: the controller's status ({"pods": {"NAME": {"ready"}}}).
 * Errors go to LOG_FN. */
void kube_hpa_sync(const kube_context *k, const char *namespace, json_t *state, json_t *pods, json_t *deployments,
		   json_t *readiness, void (*log_fn)(const char *fmt, ...));

/* The pods of the Deployment NAME in PODS that count (not being removed). */
json_t *kube_hpa_target_pods(json_t *pods, const char *deployment);

/* The sum of the requests of RESOURCE ("cpu": millicores, "memory": bytes)
 * of POD's containers (a limit stands for a missing request, as in
 * Kubernetes); -1 with *MISSING the first container without either. */
int64_t kube_hpa_pod_request(json_t *pod, const char *resource, const char **missing);

#endif
