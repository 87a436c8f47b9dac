/* NAT, isolation and port publishing in nftables.
 *
 * berth owns one table, `table inet berth`. Its sets, maps and chains are
 * fixed; networks and published ports are elements of those sets and maps,
 * so every change is one small nftables transaction (all or nothing) that
 * adds or deletes exactly the elements of one network or one container:
 *
 *   bridges      ifname                        every berth bridge
 *   internal     ifname                        bridges of internal networks
 *   same_bridge  ifname . ifname               "br" . "br" for every bridge
 *   subnets4/6   addr/prefix . ifname          each subnet on its own bridge
 *   masq4/6      addr/prefix                   subnets of non-internal networks
 *   dnat4/6      proto . port : addr . port    published on every host address
 *   dnat4/6_ip   addr . proto . port : addr . port   published on one address
 *
 * Rules (written by nft_network_add, idempotently):
 *   - packets to a local address (prerouting, and output for the host's own
 *     connections, 127.0.0.1 included) are DNATed through the dnat maps;
 *   - sources in masq4/6 are masqueraded unless they leave through their own
 *     bridge; DNATed packets sent back into the bridge they came from
 *     (hairpin) and 127.0.0.0/8 sources leaving through a berth bridge are
 *     masqueraded; nothing else is, so a client from another host keeps its
 *     address;
 *   - forwarding between two different berth bridges is dropped (except to a
 *     published port), internal bridges forward nothing in or out; other
 *     forwarded traffic of the host is not judged.
 *
 * The engine must set, on the host: net.ipv4.ip_forward=1 (and
 * net.ipv6.conf.all.forwarding=1 for IPv6 subnets), and for published ports
 * reached from the host at 127.0.0.1, net.ipv4.conf.<bridge>.route_localnet=1
 * (the kernel otherwise drops a packet with a 127/8 source routed out of a
 * non-loopback device, before the masquerade could rewrite it).
 *
 * libnftables is opened with dlopen on the first call; when it is missing,
 * every function fails with a message that says so, except nft_ports_add
 * and nft_ports_remove: they are on the path of every `berth run -p` and
 * `berth rm`, and send their elements to the kernel over netlink (libmnl)
 * themselves, in well under a millisecond. Calls that change
 * networks (add, remove) must be serialized by the caller (the engine's
 * network lock): nft_network_remove deletes the table when the last network
 * goes, which is a check followed by a delete. Port calls need no lock. */
#ifndef BERTH_NETWORK_NFT_H
#define BERTH_NETWORK_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "util/error.h"

#define NFT_TABLE_NAME "berth"

struct nft_network {
	const char *bridge;	    /* interface name, e.g. "berth0" */
	const char *const *subnets; /* NULL-terminated "10.88.0.0/16", "fd00::/64" (host bits zero) */
	bool internal;		    /* no masquerade, nothing forwarded in or out */
};

struct nft_port {
	int proto;		  /* IPPROTO_TCP or IPPROTO_UDP */
	const char *host_ip;	  /* NULL or "": every host address; else only this one */
	uint16_t host_port;	  /* 1-65535 */
	const char *container_ip; /* IPv4 or IPv6, the family of host_ip when given */
	uint16_t container_port;  /* 1-65535 */
};

/* A published port as nft_ports_list() reads it back. */
struct nft_port_entry {
	int proto;
	char host_ip[INET6_ADDRSTRLEN]; /* "" when published on every address */
	uint16_t host_port;
	char container_ip[INET6_ADDRSTRLEN];
	uint16_t container_port;
};

/* Creates the berth table, its sets and chains when missing (rewriting the
 * rules of an existing one) and adds network N, in one transaction. Adding
 * a network that is already there again is not an error. */
int nft_network_add(const struct nft_network *n, berth_error **err);

/* Deletes the elements of network N (ENOENT error, nothing changed, when
 * one of them is missing); then, when no bridge and no service is left,
 * the whole table. */
int nft_network_remove(const struct nft_network *n, berth_error **err);

/* Publishes the N ports in one transaction: all or none. A port already
 * published with the same protocol, host port and host address (or both on
 * every address) is an EEXIST error that names it. The networks must exist. */
int nft_ports_add(const struct nft_port *ports, size_t n, berth_error **err);

/* Unpublishes the N ports (found by protocol, host address and host port;
 * the container side is not compared) in one transaction; an ENOENT error
 * naming the port, and nothing changed, when one is not published. */
int nft_ports_remove(const struct nft_port *ports, size_t n, berth_error **err);

/* Every published port, in *OUT (free() it), *N entries. No table: none. */
int nft_ports_list(struct nft_port_entry **out, size_t *n, berth_error **err);

/* Runs CMDS (nft commands, one a line) through libnftables as one
 * transaction; an error names WHAT and nftables' reason (the whole text
 * goes to the debug log). For callers that write their own objects into
 * the table (service.h). */
int nft_run_transaction(const char *cmds, const char *what, berth_error **err);

/* Deletes the berth table when no bridge and no service is left in it
 * (callers serialize as for nft_network_remove). */
int nft_table_remove_unused(berth_error **err);

/* Deletes the berth table with everything in it; no table is not an error. */
int nft_table_remove(berth_error **err);

/* Formats "tcp/8080", "udp/127.0.0.1:53" or "tcp/[::1]:80" for P into BUF. */
void nft_port_describe(const struct nft_port *p, char *buf, size_t size);

#endif
