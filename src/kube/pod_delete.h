/* `berth kube delete pod NAME` of a pod that a Deployment owns: there is no
 * stored object to delete, so the command leaves a request for the
 * namespace's controller, which removes the pod as it removes any other
 * (out of its services' endpoints first, then preStop, SIGTERM and the
 * grace period) and makes the replacement in the same pass.
 *
 *   RUN_ROOT/kube/<store>/<namespace>.delete/<pod>   an empty file */
#ifndef BERTH_KUBE_POD_DELETE_H
#define BERTH_KUBE_POD_DELETE_H

#include <jansson.h>

#include "kube/pod.h"
#include "util/error.h"

/* Leaves the request to delete pod NAME of NAMESPACE. */
int kube_pod_request_delete(const kube_context *k, const char *namespace, const char *name, berth_error **err);

/* The names of the pods whose deletion was requested, a JSON array (empty
 * when there is none or the directory cannot be read). */
json_t *kube_pod_delete_requests(const kube_context *k, const char *namespace);

/* Forgets the request for pod NAME (done, or its pod is gone). */
void kube_pod_delete_request_done(const kube_context *k, const char *namespace, const char *name);

#endif
