/* Kubernetes-style Services in berth's nftables table: a virtual IP
 * (ClusterIP) and, optionally, node ports on the host, load-balanced per new
 * connection across a set of endpoints by DNAT in the kernel. No userspace
 * proxy is on the data path.
 *
 * A service is NAME (e.g. "web.default": [a-z0-9] then [a-z0-9.-], at most
 * SERVICE_NAME_MAX bytes), a ClusterIP from the host-wide service range
 * SERVICE_RANGE, up to SERVICE_PORTS_MAX ports (TCP or UDP, each with a
 * target port and, for NodePort, a node port in SERVICE_NODE_PORT_MIN-MAX
 * claimed with hostnet's port claims, so `-p` cannot take it), an optional
 * ClientIP session affinity, and its endpoints: the IPv4 addresses of ready
 * backends. The owner of the service calls service_set_endpoints() whenever
 * the set of ready endpoints changes; every change is one nftables
 * transaction (one netlink batch), so a connection never sees a half-made
 * set.
 *
 * In `table inet berth` (beside nft.h's sets and maps), all named from NAME:
 *
 *   service_ips        VIP . proto . port : goto svc-NAME-PROTO-PORT
 *   service_nodeports  proto . node port : goto np-NAME-PROTO-NODEPORT
 *   service_vips       VIP                 (reject what was not DNATed)
 *   service_node_ports proto . node port   (reject what was not DNATed)
 *   chain svc-NAME-PROTO-PORT: affinity rules (ip saddr @aff-... goto ep-...)
 *       and `numgen random mod N vmap { 0 : goto ep-..., ... }`
 *   chain ep-NAME-PROTO-PORT-IPHEX: (update @aff-... { ip saddr timeout T })
 *       and the DNAT to the endpoint's address and target port
 *   set aff-NAME-PROTO-PORT-IPHEX: clients of that endpoint (affinity only)
 *   chain np-NAME-PROTO-NODEPORT: goto svc-NAME-PROTO-PORT
 *
 * hooked by base chains of their own (svc_prerouting, svc_output at dstnat
 * - 1, before the published ports; svc_forward, svc_input, svc_output_filter
 * rejecting at once, with a TCP reset or ICMP port unreachable, traffic to a
 * VIP or node port that nothing DNATed: no endpoints, or a port the
 * service does not have).
 *
 * Host-wide records, in hostnet's directory (hostnet.h), under
 * services/lock:
 *
 *   services/NAME.json  the service: owner, ClusterIP, ports, affinity,
 *                       endpoints, and "Stale": earlier states whose
 *                       objects may still be in the kernel
 *   ports/PROTO_*_PORT  "service:NAME" for each node port
 *
 * A record is written before the kernel is changed, with the state it
 * replaces kept in "Stale" until the transaction is confirmed: a command
 * killed at any point leaves a record from which the next call on the
 * service (or service_remove) deletes whatever may exist. Deleting uses
 * nftables' add-then-delete, so it never fails on something already gone.
 * A service whose owner path (the store that made it) is gone is removed by
 * service_sweep().
 *
 * The caller must have berth's table with a bridge network (nft.h), IPv4
 * forwarding on, and the service range routed (service_route_ensure: the
 * host's own connections to a VIP need a route before the output hook can
 * DNAT them). IPv4 only. */
#ifndef BERTH_NETWORK_SERVICE_H
#define BERTH_NETWORK_SERVICE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "network/hostnet.h"
#include "util/error.h"

#define SERVICE_RANGE			 "10.96.0.0/16"
#define SERVICE_NAME_MAX		 100
#define SERVICE_PORTS_MAX		 16
#define SERVICE_ENDPOINTS_MAX		 1024
#define SERVICE_NODE_PORT_MIN		 30000
#define SERVICE_NODE_PORT_MAX		 32767
#define SERVICE_AFFINITY_TIMEOUT_DEFAULT 10800 /* seconds, as Kubernetes */
#define SERVICE_CLAIM_PREFIX		 "service:"

typedef struct service_port {
	char name[64];	      /* "" or the port's name (Kubernetes: ports[].name) */
	int proto;	      /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;	      /* on the ClusterIP */
	uint16_t target_port; /* on the endpoints; 0: the same as port */
	uint16_t node_port;   /* 0: none (or, with node_ports, any free one) */
} service_port;

/* What the owner asks for. */
typedef struct service_spec {
	char name[SERVICE_NAME_MAX + 1];
	char owner[256];		  /* who made it: a store, a kube namespace (shown, compared) */
	char owner_path[512];		  /* "" or a path whose removal means the owner is gone */
	char cluster_ip[INET_ADDRSTRLEN]; /* "" : the first free one of the range */
	bool node_ports;		  /* type NodePort: every port gets a node port */
	unsigned affinity_timeout;	  /* 0: no affinity; else ClientIP, seconds */
	size_t n_ports;
	service_port ports[SERVICE_PORTS_MAX];
} service_spec;

/* A ready backend. */
typedef struct service_endpoint {
	char ip[INET_ADDRSTRLEN];
	/* per port of the service (same order): 0 takes the port's target_port;
	 * a named targetPort can resolve differently per pod */
	uint16_t target_ports[SERVICE_PORTS_MAX];
	/* bit I set: the backend does not serve port I (Kubernetes: a pod
	 * lacking port I's named targetPort leaves that port's endpoints only) */
	uint32_t absent;
} service_endpoint;

/* A service as recorded (and as the kernel has it, once applied). */
typedef struct service {
	service_spec spec; /* cluster_ip and node ports filled in */
	size_t n_endpoints;
	service_endpoint *endpoints; /* heap */
} service;

void service_clear(service *s);

/* ---- pure parts (no I/O): validation, allocation, planning ---- */

/* Checks S as given by a caller: name, ports (unique protocol and port,
 * unique names), node ports in range and unique, the requested ClusterIP
 * inside SERVICE_RANGE. */
int service_spec_validate(const service_spec *s, berth_error **err);

/* Checks endpoints (IPv4 addresses, no duplicates, at most
 * SERVICE_ENDPOINTS_MAX) of service S. */
int service_endpoints_validate(const service_spec *s, const service_endpoint *eps, size_t n, berth_error **err);

/* The first address of RANGE ("A.B.C.D/P", neither the network nor the
 * broadcast address) that is not in USED (N addresses), into OUT. ENOSPC
 * when none is left. */
int service_vip_next(const char *range, const char *const *used, size_t n, char out[INET_ADDRSTRLEN],
		     berth_error **err);

/* The port endpoint K of S listens on for S's port I. */
uint16_t service_target_port(const service *s, size_t i, size_t k);

/* Whether endpoint E serves port I of its service. */
bool service_endpoint_serves(const service_endpoint *e, size_t i);

/* Whether ADDR lies inside RANGE. */
bool service_range_contains(const char *range, const char *addr);

/* Writes to F the nftables commands (one transaction) that take the kernel
 * from any of the STALE states (their objects may or may not exist) to
 * NEW (NULL: the service removed): base objects, objects of the stale states
 * that NEW does not have deleted, NEW's chains rewritten. */
int service_plan(FILE *f, const service *const *stale, size_t n_stale, const service *new);

/* The declarations of the service sets, maps and base chains (idempotent;
 * rewrites the base chains' rules). */
void service_plan_base(FILE *f);

/* ---- records and the kernel ---- */

/* Records and applies SPEC: creates the service, or updates one of the same
 * name and owner (its ClusterIP stays; requested node ports are claimed,
 * others released; endpoints stay). The name of another owner's service
 * is an EEXIST error naming it. OUT (may be NULL) receives the result. */
int service_apply(const hostnet *h, const service_spec *spec, service *out, berth_error **err);

/* Replaces the endpoints of service NAME in one transaction. OWNER: NULL or
 * the owner that must have it. */
int service_set_endpoints(const hostnet *h, const char *name, const char *owner, const service_endpoint *eps, size_t n,
			  berth_error **err);

/* Removes NAME: every nftables object, its node port claims, its record.
 * ENOENT when there is none. OWNER: NULL or the owner that must have it. */
int service_remove(const hostnet *h, const char *name, const char *owner, berth_error **err);

/* Loads NAME's record: 0, -ENOENT when there is none. */
int service_load(const hostnet *h, const char *name, service *out, berth_error **err);

/* Every recorded service, sorted by name (free each with service_clear,
 * then the array). */
int service_list(const hostnet *h, service **out, size_t *n, berth_error **err);

/* When a record was last made, replaced or removed (the records
 * directory's mtime; zero when there is none yet): a cheap look whether
 * the services changed. */
int service_records_changed_at(const hostnet *h, struct timespec *out, berth_error **err);

/* Removes the services whose owner_path is gone (and the temporary files
 * of killed writers). Returns how many services. */
int service_sweep(const hostnet *h);

/* Routes SERVICE_RANGE through BRIDGE (idempotent), so the host's own
 * connections to a VIP get a source address and reach the output hook. */
int service_route_ensure(const char *bridge, berth_error **err);

/* The record's JSON (new reference) and back: for `ls --format json` and
 * the records. */
json_t *service_to_json(const service *s);
int service_from_json(json_t *j, service *out, berth_error **err);

#endif
