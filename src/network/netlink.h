/* Links, addresses and routes over rtnetlink (libmnl).
 *
 * The bridge of a network and the veth pair of each container: the host end
 * is a port of the bridge, the peer lives in the container's network
 * namespace as `eth0` with the container's addresses and default routes.
 * Every function opens one netlink socket for its whole batch of requests
 * and works in the calling thread's network namespace unless told otherwise
 * (a namespace fd). Nothing here runs `ip`. */
#ifndef BERTH_NETWORK_NETLINK_H
#define BERTH_NETWORK_NETLINK_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define NETLINK_MAC_LEN 6

/* A network's bridge. A zero MTU leaves the kernel's default. With HAS_MAC
 * the bridge gets MAC as its own address (made with it, or set on an
 * existing one): the kernel then never changes it, where a bridge without
 * one takes the lowest MAC of its ports and changes with them. */
typedef struct netlink_bridge_config {
	const char *name;
	unsigned int mtu;
	bool has_mac;
	unsigned char mac[NETLINK_MAC_LEN];
	bool has_ipv4;
	struct in_addr ipv4_gateway; /* the bridge's own address */
	unsigned int ipv4_prefix;
	bool has_ipv6;
	struct in6_addr ipv6_gateway;
	unsigned int ipv6_prefix;
} netlink_bridge_config;

/* Creates the bridge if it is missing (an existing link of that name must
 * be a bridge), sets its MTU (and MAC), adds the gateway addresses (IPv6 without DAD;
 * an address already there is fine) and brings it up. Idempotent. */
int netlink_bridge_ensure(const netlink_bridge_config *cfg, berth_error **err);

/* One container on a bridge. A zero MTU leaves the kernel's default; an
 * all-zero MAC lets the kernel pick one; a zero gateway (0.0.0.0, ::) adds
 * no default route for that family. */
typedef struct netlink_attach_config {
	const char *bridge;	      /* existing bridge in the caller's namespace */
	const char *host_ifname;      /* host end, e.g. from netlink_veth_name() */
	const char *container_ifname; /* the peer's name inside NETNS_FD, "eth0" */
	int netns_fd;		      /* the container's network namespace */
	unsigned int mtu;	      /* both ends */
	unsigned char mac[NETLINK_MAC_LEN];
	bool has_ipv4;
	struct in_addr ipv4;
	unsigned int ipv4_prefix;
	struct in_addr ipv4_gateway;
	bool has_ipv6;
	struct in6_addr ipv6; /* added with IFA_F_NODAD: usable at once */
	unsigned int ipv6_prefix;
	struct in6_addr ipv6_gateway;
} netlink_attach_config;

/* Creates the veth pair with the peer made directly inside NETNS_FD, the
 * host end enslaved to the bridge and up, the peer configured (name, MAC,
 * MTU, addresses, up, default routes). On error everything it created is
 * deleted; a host end that already existed is left alone (EEXIST). */
int netlink_attach(const netlink_attach_config *cfg, berth_error **err);

/* Deletes the host end of a container's veth pair, which deletes the peer.
 * A missing link is not an error. The kernel makes this wait for the device
 * to go (~20 ms); when the container's namespace goes too, netns_remove()
 * alone returns at once and the kernel deletes the pair in the background. */
int netlink_detach(const char *host_ifname, berth_error **err);

/* Deletes the link NAME (a bridge, a veth). A missing link is not an error. */
int netlink_link_delete(const char *name, berth_error **err);

/* 1 when a link NAME exists, 0 when not, negative on error. */
int netlink_link_exists(const char *name, berth_error **err);

/* Brings the existing link NAME up. */
int netlink_link_set_up(const char *name, berth_error **err);

/* The host end's name for a container: "vb" and the first 10 characters of
 * the (hex) id. OUT must hold IFNAMSIZ bytes. */
int netlink_veth_name(const char *container_id, char out[IFNAMSIZ], berth_error **err);

/* A locally administered unicast MAC from an IPv4 address, 02:42:a:b:c:d
 * (as docker does), so a container's MAC follows its address. */
void netlink_mac_from_ipv4(struct in_addr addr, unsigned char mac[NETLINK_MAC_LEN]);

/* Routes DST/PREFIX (IPv4) through the link DEV, scope link, in the main
 * table; replaces a route to the same destination. */
int netlink_route_ensure(const char *dev, struct in_addr dst, unsigned int prefix, berth_error **err);

/* Writes VALUE to the sysctl KEY of the calling thread's network namespace
 * (/proc/sys/net is per namespace of the opener). KEY is either dotted
 * ("net.ipv4.ip_forward") or, when an interface name in it may contain
 * dots, a path below /proc/sys ("net/ipv4/conf/berth0/route_localnet"). Only
 * keys under net. are accepted. */
int netlink_sysctl_set(const char *key, const char *value, berth_error **err);

#endif
