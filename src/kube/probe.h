/* Runs of Kubernetes probes (exec, httpGet, tcpSocket) against a pod's
 * container, from the controller (controller.h). A run never blocks its
 * caller: it is a non-blocking socket, or a child, that the controller
 * polls beside everything else, so that many runs are in flight at once and
 * a slow one delays no other. Each run lasts at most the probe's
 * timeoutSeconds (default 1); an exec that overruns is killed.
 *
 * exec:      RUNTIME --root RUNTIME_ROOT exec ID COMMAND... in a child:
 *            exit 0 passes
 * httpGet:   GET PATH from HOST (the pod's IP) :PORT (a number or the name
 *            of a container port): a status of 200-399 passes
 * tcpSocket: a connection to HOST:PORT passes */
#ifndef BERTH_KUBE_PROBE_H
#define BERTH_KUBE_PROBE_H

#include <poll.h>
#include <stdbool.h>

#include <jansson.h>

/* Runs COMMAND (a JSON array of strings) in container ID through
 * `RUNTIME --root RUNTIME_ROOT exec`, killed after TIMEOUT_MS; true when it
 * exits with 0. Blocks: for preStop hooks, which run in a child anyway. */
bool kube_exec_in(const char *runtime, const char *runtime_root, const char *id, json_t *command, int timeout_ms);

/* What a probe runs against. SPEC: the container's spec (named ports);
 * RUNTIME and ID: the container's runtime and id (exec); POD_IP: the pod's
 * address; NETNS: the pod's network namespace when its IP is not reachable
 * from here (pasta, slirp4netns: rootless), where httpGet and tcpSocket then
 * connect from (a child joins it), else NULL; RUNTIME_ROOT: the engine's. */
typedef struct kube_probe_target {
	json_t *spec;
	const char *runtime, *id, *pod_ip, *netns, *runtime_root;
} kube_probe_target;

typedef struct kube_probe_job kube_probe_job;

enum { KUBE_PROBE_RUNNING = -1, KUBE_PROBE_FAILED = 0, KUBE_PROBE_PASSED = 1 };

/* Starts one run of PROBE (its object: exec, httpGet or tcpSocket and
 * timeoutSeconds) against T at NOW_MS (CLOCK_MONOTONIC). NULL only without
 * memory; a run that cannot even start (no such port, fork failed) is a job
 * that fails at its first step. */
kube_probe_job *kube_probe_job_start(json_t *probe, const kube_probe_target *t, long long now_ms);

/* The descriptor to poll for J and its events (fd -1: none now). */
void kube_probe_job_pollfd(const kube_probe_job *j, struct pollfd *p);

/* When J wants a step at the latest (its deadline, or sooner to look at a
 * child without a pidfd), ms. */
long long kube_probe_job_wake(const kube_probe_job *j);

/* Advances J (after a poll, whatever it returned); a run past its deadline
 * fails. KUBE_PROBE_RUNNING, KUBE_PROBE_PASSED or KUBE_PROBE_FAILED. */
int kube_probe_job_step(kube_probe_job *j, long long now_ms);

/* Ends J: its child is killed and reaped, its descriptors closed. */
void kube_probe_job_free(kube_probe_job *j);

/* In a child of the controller that goes on without J (it made a pod, a
 * monitor may be forked from it): J's descriptors are closed; its child is
 * left to the controller. */
void kube_probe_job_forget(kube_probe_job *j);

#endif
