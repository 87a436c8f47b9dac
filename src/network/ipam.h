/* IP address management: the leases of one network, as files.
 *
 * A network's leases live in a directory of their own, given by the caller:
 * one file per leased address, named by the address ("10.88.0.2",
 * "fd00::2"), holding the owner's id (a container id). A lease file appears
 * atomically (written under a temporary name, then linked into place, which
 * fails when the address is taken), and every scan holds an exclusive flock
 * on the directory's "lock" file, so concurrent engines never hand out one
 * address twice. "last-NETWORK_PREFIX" remembers the last address handed
 * out in a subnet, so a released address is not reused at once (as CNI's
 * host-local does). */
#ifndef BERTH_NETWORK_IPAM_H
#define BERTH_NETWORK_IPAM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* Big enough for any address ipam writes, with its NUL. */
#define IPAM_ADDRESS_MAX INET6_ADDRSTRLEN

/* An IPv4 or IPv6 address in network byte order. */
typedef union ipam_address {
	struct in_addr v4;
	struct in6_addr v6;
	unsigned char bytes[16];
} ipam_address;

typedef struct ipam_subnet {
	int family; /* AF_INET or AF_INET6 */
	unsigned int prefix;
	ipam_address network;
	ipam_address gateway; /* the first host: network + 1 */
} ipam_subnet;

/* Parses "10.88.0.0/16" or "fd00:88::/64". Host bits must be zero (the
 * message names the network meant), and the subnet must leave at least one
 * address besides the network, the gateway and (IPv4) the broadcast
 * address: up to /30 for IPv4, /126 for IPv6. */
int ipam_subnet_parse(const char *cidr, ipam_subnet *out, berth_error **err);

/* Parses an IPv4 or IPv6 address (no prefix); *FAMILY gets AF_INET or
 * AF_INET6. */
int ipam_address_parse(const char *text, int *family, ipam_address *out, berth_error **err);

/* Whether ADDR of FAMILY lies in SUBNET. */
bool ipam_subnet_contains(const ipam_subnet *subnet, int family, const ipam_address *addr);

/* Formats SUBNET's network as "10.88.0.0/16" and its gateway as
 * "10.88.0.1". OUT holds IPAM_ADDRESS_MAX + 4 bytes. */
void ipam_subnet_format(const ipam_subnet *subnet, char *out, size_t outlen);
void ipam_subnet_gateway_format(const ipam_subnet *subnet, char *out, size_t outlen);

/* Leases an address of SUBNET_CIDR to OWNER in DIR (created if missing)
 * and writes it (without prefix) to OUT, which holds IPAM_ADDRESS_MAX bytes.
 * REQUESTED names the address wanted; it must be in the subnet, not its
 * network, gateway or broadcast address, and free. With REQUESTED NULL the
 * next free address after the last one handed out is leased, wrapping
 * around: IPv6 subnets are taken sequentially from their start, never
 * scanned whole. Each call makes one new lease. */
int ipam_allocate(const char *dir, const char *subnet_cidr, const char *owner, const char *requested, char *out,
		  size_t outlen, berth_error **err);

/* Releases every lease of OWNER in DIR (IPv4 and IPv6), and the temporary
 * files of allocations killed midway. A missing DIR holds no leases.
 * Returns the number released. */
int ipam_release(const char *dir, const char *owner, berth_error **err);

/* Says whether the owner of a lease still exists. Called with DIR locked:
 * it must not call ipam functions on the same directory. */
typedef bool (*ipam_owner_alive_fn)(const char *owner, void *data);

/* Releases the leases in DIR whose owner ALIVE says is gone (containers
 * killed without cleanup). Returns the number released. */
int ipam_sweep(const char *dir, ipam_owner_alive_fn alive, void *data, berth_error **err);

#endif
