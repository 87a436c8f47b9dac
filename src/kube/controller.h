/* The controller of one kube namespace: a small process forked from berth
 * like the container monitor (setsid, no helper binary), no daemon.
 *
 *   RUN_ROOT/kube/<store>/<namespace>.lock     flock held while it runs
 *   RUN_ROOT/kube/<store>/<namespace>.status   what it knows of the pods'
 *       readiness: {"pods": {"NAME": {"ready": B, "available": B,
 *       "containers": {"NAME": B}}}, "errors": {"POD" or "Deployment/NAME":
 *       "why its last pod could not be made"}, "terminating": {"POD": PID of
 *       its remover}}, rewritten atomically on a change
 *   RUN_ROOT/kube/<store>/<namespace>.log      its errors
 *   RUN_ROOT/kube/<store>/<namespace>.delete/  `kube delete pod` of a
 *       Deployment's pods, for its next pass (pod_delete.h)
 * (<store>: 12 hex digits of the sha256 of the store's path, so stores that
 * share a run root have a controller each.)
 *
 * Every pass of its loop (every 250 ms, sooner when a pod made, a container
 * ended or a probe's result changed a readiness) reads
 * the desired state (state.h) and the pods (pod.h, from the container
 * records: nothing is kept loaded between passes but the probes' counters)
 * and acts: a Pod object without its pod gets one, a pod whose holder ended
 * is replaced, a pod whose object is gone is removed; a Deployment gets its
 * replicas of the current template (pods named <name>-<template hash>-<5
 * random>), by Recreate or by a rolling update within maxSurge and
 * maxUnavailable, counting a pod available once it has been ready for
 * minReadySeconds. Probes (exec, httpGet, tcpSocket) run from the loop on
 * their own schedules, between passes too, many at once and none blocking
 * (controller_probes.c); a failed liveness probe kills the container, whose
 * monitor restarts it by the pod's restartPolicy.
 *
 * Killing it stops nothing: the containers keep their monitors, and the
 * next `berth kube` command (kube_controller_ensure) starts another one,
 * which finds the pods by their labels. When the namespace has no Pod or
 * Deployment left and no pod runs, it exits. */
#ifndef BERTH_KUBE_CONTROLLER_H
#define BERTH_KUBE_CONTROLLER_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "kube/pod.h"
#include "util/error.h"

/* Starts the controller of NAMESPACE unless one holds its lock; *PID (may
 * be NULL) gets the new one's pid, 0 when one ran already. */
int kube_controller_ensure(const kube_context *k, const char *namespace, pid_t *pid, berth_error **err);

/* The pid of the controller holding NAMESPACE's lock, or 0. */
pid_t kube_controller_pid(const kube_context *k, const char *namespace);

/* The status file's content ({"pods": {}} when there is none). */
json_t *kube_controller_status(const kube_context *k, const char *namespace);

/* RUN_ROOT/kube/<store>/<namespace>.SUFFIX, heap. */
char *kube_controller_file(const kube_context *k, const char *namespace, const char *suffix);

#endif
