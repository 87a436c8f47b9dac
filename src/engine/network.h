/* Networks of the engine: their definitions in the store, the -p syntax,
 * and a container's network (its namespace, address, published ports,
 * /etc/hosts and /etc/resolv.conf).
 *
 * A network is STORE/networks/NAME.json. Driver "bridge": a Linux bridge
 * with the gateway address, veth pairs into the containers, masquerade and
 * DNAT in berth's nftables table (src/network/). Driver "cni": a CNI
 * conflist run with the CNI plugins. The network "berth" (bridge berth0,
 * 10.77.0.0/16) is made on first use, and shared by every store of the
 * host. Bridges, subnets, leases of addresses, published ports and hosts
 * entries are kept host-wide (src/network/hostnet.h), not in the store.
 *
 * Names between containers resolve through /etc/hosts: every container of a
 * network gets a line in the hosts file of every other one, updated in place
 * when one comes or goes. No DNS server runs: berth has no daemon. */
#ifndef BERTH_ENGINE_NETWORK_H
#define BERTH_ENGINE_NETWORK_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/record.h"
#include "util/error.h"

#define NETWORK_DEFAULT	       "berth"
#define NETWORK_DEFAULT_BRIDGE "berth0"
#define NETWORK_DEFAULT_SUBNET "10.77.0.0/16"

/* The network of a container without --network: the bridge network
 * "berth" for root, "pasta" rootless (when pasta is installed, else
 * "none"). */
const char *engine_network_default(void);
/* Rootless without a user-mode network: why (the binary missing, or the tun
 * device); else NULL. */
const char *engine_network_default_why(void);

/* One published port: host [IP:]PORT to the container's PORT. */
typedef struct net_port {
	char proto[4];	    /* "tcp" or "udp" */
	char host_ip[46];   /* "" for every address */
	uint16_t host_port; /* 0: chosen when the container is created */
	uint16_t ctr_port;
} net_port;

/* Appends the mappings of one -p value ([IP:][HOST[-END]:]CTR[-END][/PROTO])
 * to *PORTS. */
int network_parse_publish(const char *text, net_port **ports, size_t *n, berth_error **err);

typedef struct network_def {
	char *name, *driver, *bridge;
	char *subnet, *gateway;	  /* IPv4 CIDR and address */
	char *subnet6, *gateway6; /* NULL without IPv6 */
	bool internal;		  /* no masquerade, no way out */
	unsigned mtu;
	char *cni_config; /* driver "cni": the conflist (a copy in the store) */
	char *created;
	json_t *raw;
} network_def;

void network_def_free(network_def *d);

typedef struct network_create_options {
	const char *driver; /* bridge (default) or cni */
	const char *subnet, *gateway, *subnet6;
	const char *cni_config; /* a conflist file to copy */
	bool internal, ipv6;
	unsigned mtu;
	json_t *labels; /* an object of strings kept as the record's "Labels" (borrowed; NULL: none) */
} network_create_options;

/* Loads NAME (the default network is made when missing). */
int network_load(const engine_paths *p, const char *name, network_def *out, berth_error **err);
int network_create(const engine_paths *p, const char *name, const network_create_options *o, network_def *out,
		   berth_error **err);
/* Every network, the default one included once it exists. */
int network_list(const engine_paths *p, network_def **out, size_t *n, berth_error **err);
/* Refuses a network a container uses; removes its bridge, rules, leases. */
int network_remove(const engine_paths *p, const char *name, berth_error **err);
/* The network definition as `network inspect` shows it (new reference). */
json_t *network_def_json(const network_def *d);

/* The container side: what the record keeps under "NetworkSettings". */
typedef struct network_request {
	const char *mode; /* none, host, container:ID, or a network name */
	const char *ip;	  /* --ip */
	const char *const *dns, *const *add_hosts;
	net_port *ports;
	size_t n_ports;
	bool publish_all; /* -P: the image's exposed ports to free host ports */
	json_t *exposed;  /* the image's ExposedPorts (borrowed) */
	const char *hostname;
} network_request;

/* Sets up the network of C before its config.json is written: a network
 * namespace (a file in RUN_ROOT/netns), the address, the ports; writes DIR/
 * hosts, DIR/resolv.conf and DIR/hostname, adds their binds and the
 * namespace path to CFG and "NetworkSettings" to C's config. On error
 * nothing of it is left. */
int engine_network_setup(const engine_paths *p, container *c, const network_request *r, json_t *cfg, berth_error **err);
/* Joins C (running, or with a namespace of its own) to the bridge network
 * NETWORK as its next ethN (IP: a requested address or NULL), and updates
 * the hosts files on both sides. */
int engine_network_connect(const engine_paths *p, container *c, const char *network, const char *ip, berth_error **err);
/* Takes C off NETWORK (joined with connect; the first network goes with rm). */
int engine_network_disconnect(const engine_paths *p, container *c, const char *network, berth_error **err);

/* Before a start: when C's network namespace is gone (a reboot emptied the
 * runroot), makes its network again from the record (same address, same
 * ports; networks joined with connect are dropped) and sets *CHANGED: the
 * caller saves C's config. */
int engine_network_restore(const engine_paths *p, container *c, bool *changed, berth_error **err);

/* The published ports of C on a bridge network, claimed and published
 * again for a start (those C still claims stay as they are): an EEXIST
 * error naming the container that publishes one meanwhile. */
int engine_network_ports_publish(const container *c, berth_error **err);
/* Releases them when C stops, so that another container may publish them
 * while C is stopped; the owner record keeps them for the next start. */
void engine_network_ports_release(const container *c);

/* Undoes engine_network_setup and connect from what C's record and its
 * host-wide owner record say; quiet when parts are gone already (kill -9
 * at any point, a second rm). */
void engine_network_teardown(const engine_paths *p, const container *c);

/* Tears down everything of the network the host-wide owner record of the
 * container ID names (namespace, veths, leases, published ports, hosts
 * entries), whatever state ID's own record is in, even without one: for
 * a container that a killed command left half made. (A CNI network's DEL
 * and a pasta helper need the record: engine_network_teardown.) */
void engine_network_teardown_id(const engine_paths *p, const char *id);

#endif
