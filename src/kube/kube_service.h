/* Services of berth kube: a stored Service object (state.h) made into the
 * engine's service (engine/service.h, network/service.h: a ClusterIP and
 * node ports load-balanced by nftables), and its endpoints kept.
 *
 * The Service NAME of namespace NS is the engine's service "NAME.NS",
 * owned by "kube:STORE/NS" with the stored object's file as owner path (a
 * store removed, or an object deleted by a command killed halfway, lets
 * the next service call sweep it). A headless Service (clusterIP: None)
 * has no engine service: its names resolve to the ready pods' IPs.
 *
 *   apply:  kube_service_check() (node ports taken by other services, a
 *           changed clusterIP: before anything is stored), then
 *           kube_service_apply() after the object is stored;
 *   Endpoints objects: for a Service without selector, applied with
 *           kube_service_apply_endpoints();
 *   the controller: kube_service_sync() once per pass, after deciding
 *           which pods go and before they are stopped (service_sync.c);
 *   delete: kube_service_remove(). */
#ifndef BERTH_KUBE_KUBE_SERVICE_H
#define BERTH_KUBE_KUBE_SERVICE_H

#include <stdbool.h>

#include <jansson.h>

#include "kube/pod.h"
#include "network/service.h"
#include "util/error.h"

/* "NAME.NS" into OUT. */
void kube_service_engine_name(const char *namespace, const char *name, char out[SERVICE_NAME_MAX + 1]);

/* "kube:STORE/NS" into OUT. */
void kube_service_owner(const kube_context *k, const char *namespace, char *out, size_t len);

/* clusterIP (or clusterIPs[0]) is "None". */
bool kube_service_headless(json_t *svc);

/* The engine's spec of SVC (validated, not headless). */
int kube_service_spec(const kube_context *k, json_t *svc, service_spec *out, berth_error **err);

/* Checks the Services SVCS (N, of one manifest) against the services on
 * the host and the stored objects: a nodePort another service holds or a
 * container publishes (`berth run -p`, of any store), a clusterIP another
 * has or that differs from the one this service has (immutable), a
 * service of that name made by someone else. Changes nothing. On an
 * error, AT is the index of the Service it is about (0 when about none:
 * rootless). */
int kube_service_check(const kube_context *k, json_t *const *svcs, size_t n, size_t *at, berth_error **err);

/* Creates or updates the engine service of the stored SVC (its ClusterIP
 * stays); a Service without selector gets the addresses of its stored
 * Endpoints object. A headless one has nothing to make. OUT may be NULL. */
int kube_service_apply(const kube_context *k, json_t *svc, service *out, berth_error **err);

/* Sets the endpoints of the Service that Endpoints object EP names, when
 * that Service is stored, has no selector and is not headless. */
int kube_service_apply_endpoints(const kube_context *k, json_t *ep, berth_error **err);

/* The engine endpoints of SVC from Endpoints object EP (NULL: none):
 * subsets' addresses, ports matched by name (or the only one). */
int kube_service_endpoints_of(json_t *svc, json_t *ep, service_endpoint **out, size_t *n, berth_error **err);

/* Removes the engine service of NAMESPACE/NAME; quiet when there is none. */
int kube_service_remove(const kube_context *k, const char *namespace, const char *name, berth_error **err);

/* The engine's services of the host, by engine name ({"NAME.NS": service
 * JSON}, service_to_json's form); an empty object when there are none or
 * rootless. */
json_t *kube_service_records(const kube_context *k);

/* service_names.c: the {NAME}_SERVICE_HOST, _SERVICE_PORT,
 * _SERVICE_PORT_{PORT NAME} and docker-link style {NAME}_PORT... variables
 * of NAMESPACE's services that have a ClusterIP now, as "K=V" strings. */
json_t *kube_service_env(const kube_context *k, const char *namespace);

/* The hosts lines of NAMESPACE's services: the ClusterIP, or a headless
 * service's ready pods (STATUS: the controller's; NULL: its status file),
 * named NAME, NAME.NS, NAME.NS.svc and NAME.NS.svc.cluster.local; then the
 * ClusterIPs of the store's other namespaces' services, named all but NAME.
 * Heap. */
char *kube_service_hosts_block(const kube_context *k, const char *namespace, json_t *status);

/* Puts BLOCK in place of the service lines of POD's hosts file (in place:
 * it is bind-mounted) and, SEARCH, the search domains NS.svc.cluster.local
 * svc.cluster.local cluster.local first in its resolv.conf. Returns 1 when
 * the hosts file was rewritten, 0 when it had BLOCK already. */
int kube_service_pod_files(const kube_context *k, const char *namespace, const char *pod, const char *block,
			   bool search, berth_error **err);

/* service_sync.c: makes the endpoints of NAMESPACE's Services with a
 * selector the ready pods that match it (PODS: kube_pod_list's, with
 * "removed": true on those being removed; STATUS: the controller's, with
 * "pods": {NAME: {"ready": B}}), one engine call per service whose set
 * changed since CACHE (the caller's, kept between passes) says. Adds
 * STATUS "services": {NAME: {"endpoints": ["IP:PORT"...], "notes": [...]}}
 * (a pod left out for a port name it lacks, the last error), and rewrites
 * the pods' hosts files when the services' names or addresses changed. */
void kube_service_sync(const kube_context *k, const char *namespace, json_t *pods, json_t *status, json_t *cache);

#endif
