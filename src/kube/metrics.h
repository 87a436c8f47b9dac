/* Resource usage of pods, as metrics-server reports it, read from their
 * containers' cgroups through the runtime's `events --stats ID` (cgroup v1,
 * v2 and hybrid alike, and with any OCI runtime that has the command):
 *
 *   cpu: the cgroup's cumulative CPU time (cpuacct.usage on v1,
 *        cpu.stat usage_usec on v2); a rate needs two samples;
 *   memory: the working set, usage less the inactive page cache
 *        (total_inactive_file on v1, inactive_file on v2), as the kubelet
 *        computes it.
 *
 * A pod's usage is the sum of its containers' (the holder is left out, as
 * Kubernetes leaves out the pause container). */
#ifndef BERTH_KUBE_METRICS_H
#define BERTH_KUBE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "kube/pod.h"

typedef struct kube_usage {
	bool valid;	      /* every container of the pod was measured */
	int64_t cpu_ns;	      /* cumulative CPU time */
	int64_t at_ns;	      /* CLOCK_MONOTONIC of the sample */
	int64_t memory_bytes; /* working set */
	/* the cpu used since the containers started, for a pod sampled for
	 * the first time (the rate between two samples is better) */
	int64_t start_millicores;
} kube_usage;

/* One sample of POD (an entry of kube_pod_list); invalid when a container
 * does not run or could not be read. */
void kube_metrics_sample_pod(const kube_context *k, json_t *pod, kube_usage *out);

/* Millicores used between BEFORE and AFTER; -1 when they cannot be
 * compared (a container restarted: the counter went back). */
int64_t kube_metrics_millicores(const kube_usage *before, const kube_usage *after);

/* The cpu time (ns) and working set (bytes) in DATA, the `data` of
 * `events --stats` (runc's shape, from v1 or v2 files); false when either
 * is missing. */
bool kube_metrics_from_stats(json_t *data, int64_t *cpu_ns, int64_t *working_set);

/* A sample as JSON {"cpu": ns, "at": ns, "memory": bytes} and back. */
json_t *kube_usage_to_json(const kube_usage *u);
void kube_usage_from_json(json_t *j, kube_usage *u);

#endif
