/* Shared between network.c (definitions) and network_attach.c (containers). */
#ifndef BERTH_ENGINE_NETWORK_INTERNAL_H
#define BERTH_ENGINE_NETWORK_INTERNAL_H

#include <stdio.h>

#include "engine/network.h"
#include "network/cni.h"

/* STORE/networks, heap. */
char *network_dir(const engine_paths *p);
/* Forgets that NAME's bridge and rules were set up since boot (network rm). */
void network_ready_forget(const engine_paths *p, const char *name);
/* The bridge, sysctls and nftables elements of D, once per boot. */
int network_ensure_bridge(const engine_paths *p, const network_def *d, berth_error **err);
/* A new network namespace for C at RUNROOT/netns/ID, recorded as "NetNS"
 * in SETTINGS; its path (heap), or NULL with ERR. */
char *network_netns_make(const engine_paths *p, const container *c, json_t *settings, berth_error **err);

/* -p values plus -P's exposed ports, free host ports chosen (heap array). */
int network_collect_ports(const network_request *r, net_port **out, size_t *n, berth_error **err);
/* The "Ports" of a record. */
json_t *network_ports_json(const net_port *ports, size_t n, const char *ctr_ip);

/* Hosts files: a container's line, and its address on NETWORK (or NULL). */
char *network_hosts_line(const char *ip, const container *c, const char *hostname, const char *network);
const char *network_ip_on(const container *c, const char *network);
/* Under NETWORK's hosts lock: LINE (C's own) into the others' hosts files
 * and theirs into C's; or ID's line out of the others'. */
void network_join_peers(const engine_paths *p, const char *network, const container *c, const char *line);
void network_leave_peers(const engine_paths *p, const char *network, const char *id);
/* One hosts file, changed in place (it is bind-mounted): TEXT appended, or
 * the lines holding NEEDLE (with their newline) dropped. */
void network_hosts_append(const char *path, const char *text);
void network_hosts_drop(const char *path, const char *needle);

/* network_usermode.c: the namespace of C connected by pasta or slirp4netns,
 * described in SETTINGS (its "NetNS", "HelperPid", "Ports"). */
int network_setup_pasta(const engine_paths *p, container *c, const network_request *r, json_t *settings,
			berth_error **err);
int network_setup_slirp(const engine_paths *p, container *c, const network_request *r, json_t *settings,
			berth_error **err);

#endif
