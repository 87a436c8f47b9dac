/* Shared between network.c (definitions) and network_attach.c (containers). */
#ifndef BERTH_ENGINE_NETWORK_INTERNAL_H
#define BERTH_ENGINE_NETWORK_INTERNAL_H

#include <stdio.h>

#include "engine/network.h"
#include "network/cni.h"
#include "network/hostnet.h"

/* STORE/networks, heap. */
char *network_dir(const engine_paths *p);
/* Opens the host-wide network directory (network/hostnet.h) of this
 * engine: rootless, RUN_ROOT/network. */
/* the host-wide network directory of P's user and network namespace */
char *network_hostnet_dir(const engine_paths *p);
int network_hostnet_open(const engine_paths *p, hostnet *h, berth_error **err);
/* The host-wide owner of D's bridge: "" for the default network, else the
 * definition's path in the store (heap). */
char *network_bridge_owner(const engine_paths *p, const network_def *d);
/* The bridge, sysctls and nftables elements of D, once per boot; its
 * record in the host-wide directory. */
int network_ensure_bridge(const engine_paths *p, const hostnet *h, const network_def *d, berth_error **err);
/* Records in C's host-wide owner record that C's record directory owns
 * what follows, plus the KEY: VALUE given (VALUE stolen; a "Links" or
 * "Ports" array is appended to), before it is made. */
int network_owner_note(const hostnet *h, const container *c, const char *key, json_t *value, berth_error **err);
/* A new network namespace for C at RUNROOT/netns/ID, recorded as "NetNS"
 * in SETTINGS (and first in C's owner record); its path (heap), or NULL. */
char *network_netns_make(const engine_paths *p, const container *c, json_t *settings, berth_error **err);

/* -p values plus -P's exposed ports, free host ports chosen (heap array). */
int network_collect_ports(const network_request *r, net_port **out, size_t *n, berth_error **err);
/* The "Ports" of a record. */
json_t *network_ports_json(const net_port *ports, size_t n, const char *ctr_ip);

/* Hosts files: a container's line, and its address on NETWORK (or NULL). */
char *network_hosts_line(const char *ip, const container *c, const char *hostname, const char *network);
const char *network_ip_on(const container *c, const char *network);

/* network_usermode.c: the namespace of C connected by pasta or slirp4netns,
 * described in SETTINGS (its "NetNS", "HelperPid", "Ports"). */
int network_setup_pasta(const engine_paths *p, container *c, const network_request *r, json_t *settings,
			berth_error **err);
/* Starts pasta for the namespace NSPATH with the interface IFNAME there:
 * with CONFIG_NET it gives the namespace the host's addresses and routes;
 * it forwards PORTS from the host and forks to the background; it quits by
 * itself when NSPATH is unmounted and unlinked. Returns its pid (read from
 * PIDFILE). Must run in the host's network namespace. */
pid_t network_pasta_start(const char *nspath, const char *pidfile, const char *ifname, bool config_net,
			  const net_port *ports, size_t n_ports, berth_error **err);
int network_setup_slirp(const engine_paths *p, container *c, const network_request *r, json_t *settings,
			berth_error **err);

#endif
