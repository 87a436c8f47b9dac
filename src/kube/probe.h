/* One run of a Kubernetes probe (exec, httpGet, tcpSocket) against a pod's
 * container, from the controller (controller.h). Each run waits at most the
 * probe's timeoutSeconds (default 1); an exec probe that overruns is killed.
 *
 * exec:      RUNTIME --root RUNTIME_ROOT exec ID COMMAND...: exit 0 passes
 * httpGet:   GET PATH from HOST (the pod's IP) :PORT (a number or the name
 *            of a container port): a status of 200-399 passes
 * tcpSocket: a connection to HOST:PORT passes */
#ifndef BERTH_KUBE_PROBE_H
#define BERTH_KUBE_PROBE_H

#include <stdbool.h>

#include <jansson.h>

/* Runs COMMAND (a JSON array of strings) in container ID through
 * `RUNTIME --root RUNTIME_ROOT exec`, killed after TIMEOUT_MS; true when it
 * exits with 0. */
bool kube_exec_in(const char *runtime, const char *runtime_root, const char *id, json_t *command, int timeout_ms);

/* PROBE: the probe object; SPEC: the container's spec (named ports); CTR:
 * the container as kube_pod_list() shows it; NETNS: the pod's network
 * namespace when its IP is not reachable from here (pasta, slirp4netns:
 * rootless), where httpGet and tcpSocket then connect from (a child joins
 * it), else NULL; RUNTIME_ROOT: the engine's. */
bool kube_probe_run(json_t *probe, json_t *spec, json_t *ctr, const char *pod_ip, const char *netns,
		    const char *runtime_root);

#endif
