/* Services of the engine: the glue between a store and the host-wide
 * Services of src/network/service.h (a ClusterIP and node ports
 * load-balanced across endpoints by nftables DNAT).
 *
 * Each call opens the host-wide network directory of this engine, makes
 * sure the default network's bridge exists (its nftables table, forwarding,
 * route_localnet) and routes the service range through it, then calls the
 * library. A service made here is owned by the store ("store:ROOT", with
 * ROOT as the owner path, so removing the store lets the next call sweep
 * it); a caller that owns services otherwise (a kube namespace) sets
 * spec->owner itself. Root only: rootless berth has no nftables.
 *
 * For berth kube (a Service of namespace NS, name NAME):
 *   spec.name = "NAME.NS"; spec.owner = e.g. "kube:STORE/NS", owner_path the
 *   namespace's directory in the store; ports from spec.ports (targetPort by
 *   number here, by name resolved per pod into service_endpoint.target_ports);
 *   type NodePort: spec.node_ports, nodePort into ports[].node_port;
 *   sessionAffinity ClientIP: affinity_timeout (timeoutSeconds, default
 *   SERVICE_AFFINITY_TIMEOUT_DEFAULT). engine_service_apply on every apply
 *   (the ClusterIP stays), engine_service_set_endpoints(NAME.NS, owner, the
 *   ready pods' IPs) whenever readiness changes, before a pod is stopped,
 *   and after it turns ready; engine_service_remove on delete. */
#ifndef BERTH_ENGINE_SERVICE_H
#define BERTH_ENGINE_SERVICE_H

#include "engine/record.h"
#include "network/service.h"
#include "util/error.h"

/* The owner tag of services made for store P ("store:ROOT"), into OUT. */
void engine_service_owner(const engine_paths *p, char *out, size_t len);

/* Creates or updates SPEC (owner and owner path default to the store's). */
int engine_service_apply(const engine_paths *p, service_spec *spec, service *out, berth_error **err);

/* Replaces the endpoints of NAME (one nftables transaction). OWNER: NULL
 * for any, else the owner that must have it. */
int engine_service_set_endpoints(const engine_paths *p, const char *name, const char *owner,
				 const service_endpoint *eps, size_t n, berth_error **err);

/* Removes NAME (OWNER as above). */
int engine_service_remove(const engine_paths *p, const char *name, const char *owner, berth_error **err);

/* Every service on the host (of every store), after sweeping those whose
 * store is gone. */
int engine_service_list(const engine_paths *p, service **out, size_t *n, berth_error **err);

/* Who holds PROTO/PORT on the host, other than EXCEPT (hostnet.h,
 * hostnet_port_holder): 1 with the claimant into OUT, 0 when nobody. */
int engine_service_port_holder(const engine_paths *p, int proto, uint16_t port, const char *except, char *out,
			       size_t len, berth_error **err);

/* When a service record of the host last changed (service.h,
 * service_records_changed_at). */
int engine_service_changed_at(const engine_paths *p, struct timespec *out, berth_error **err);

#endif
