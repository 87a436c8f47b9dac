/* Host-wide bookkeeping of berth's networks.
 *
 * Bridges, berth's nftables table, IP leases and published ports belong to
 * the host (its network namespace), not to one store: every store on the
 * host (`berth --root`) shares them. Their records live in one directory
 * per network namespace, the host-wide directory:
 *
 *   $BERTH_NETWORK_RUNDIR when set (tests, a second host in a netns);
 *   /run/berth/network in the network namespace of PID 1;
 *   /run/berth/network/netns-COOKIE in any other (SO_NETNS_COOKIE: never
 *   reused while the host runs), so a namespace never sees another's state.
 *
 * Inside it:
 *
 *   lock                  flock: bridges, subnets and nftables networks
 *   bridges/BRIDGE.json   a bridge, its subnets and its owner (the network
 *                         definition that made it; "" for the default
 *                         bridge, which every store shares)
 *   leases/BRIDGE/        the bridge's address leases (ipam.h), owned by
 *                         container ids
 *   ports/lock            flock of every port claim and release
 *   ports/PROTO_IP_PORT   the id of the container publishing the port, or
 *                         "service:NAME" for a service's node port
 *   owners/ID.json        what exists on the host for container ID
 *   hosts/BRIDGE/ID       ID's line for the other containers' hosts files,
 *                         and the path of its own hosts file
 *   services/             Services: ClusterIPs and their records (service.h)
 *
 * Every resource of a container is written into owners/ID.json before it
 * is made, so a command killed at any point leaves a record that names
 * everything it made: hostnet_teardown() undoes it from that record alone,
 * whatever state the container's own record is in. A container is dead
 * when its store record directory is gone, or when the command that made
 * its network died before saving the record with it ("Creator"): a port it still claims is taken
 * back by the next command that wants the port, and hostnet_sweep() takes
 * down everything of every dead owner. */
#ifndef BERTH_NETWORK_HOSTNET_H
#define BERTH_NETWORK_HOSTNET_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "network/nft.h"
#include "util/error.h"

#define HOSTNET_ENV	    "BERTH_NETWORK_RUNDIR"
#define HOSTNET_DEFAULT_DIR "/run/berth/network"
/* the claimant of a service's node port: this and the service's name */
#define HOSTNET_SERVICE_CLAIM "service:"

typedef struct hostnet {
	char *dir;
	int dirfd;
} hostnet;

/* The host-wide directory of this process's network namespace (heap).
 * ROOTLESS_RUN_ROOT: for an engine without root, whose namespaces are its
 * own: the directory is ROOTLESS_RUN_ROOT/network. */
char *hostnet_default_dir(const char *rootless_run_root);

/* Opens (creating) DIR. */
int hostnet_open(const char *dir, hostnet *out, berth_error **err);
void hostnet_close(hostnet *h);
#define _cleanup_hostnet_ __attribute__((cleanup(hostnet_close)))

/* The exclusive host-wide lock of bridges and subnets; the fd to close. */
int hostnet_lock(const hostnet *h, berth_error **err);

/* ---- bridges (call with hostnet_lock held) ---- */

typedef struct hostnet_bridge {
	char name[IFNAMSIZ];
	char subnet[64], gateway[64];
	char subnet6[64], gateway6[64]; /* "" without IPv6 */
	bool internal;
	char owner[512]; /* "" for the shared default bridge */
} hostnet_bridge;

/* Loads bridges/NAME.json: 0, -ENOENT when there is none. */
int hostnet_bridge_load(const hostnet *h, const char *name, hostnet_bridge *out, berth_error **err);

/* Records B. An existing record of B's name must have B's subnet and
 * owner (else EEXIST naming its owner); it is kept then. */
int hostnet_bridge_claim(const hostnet *h, const hostnet_bridge *b, berth_error **err);

/* Forgets bridges/NAME.json and the bridge's leases and hosts entries. */
void hostnet_bridge_forget(const hostnet *h, const char *name);

/* The bridge whose subnet (IPv4 or IPv6) overlaps CIDR, into OWNER_BRIDGE
 * (IFNAMSIZ): 1 when one does, 0 when none. EXCEPT: a bridge not to count. */
int hostnet_subnet_overlap(const hostnet *h, const char *cidr, const char *except, char *owner_bridge);

/* Whether the host routes part of the IPv4 subnet CIDR through an interface
 * other than EXCEPT (a LAN, a VPN, another engine's bridge). */
bool hostnet_subnet_routed(const char *cidr, const char *except);

/* Whether the main table has a route of exactly CIDR (IPv4) through DEV:
 * then DEV exists too. */
bool hostnet_route_via(const char *cidr, const char *dev);

/* The first free bridge name berth1, berth2, ... (no record, no link) and
 * the first free 10.78.x.0/24 .. 10.85.x.0/24 (no berth bridge overlaps it,
 * the host does not route it). */
int hostnet_next_bridge(const hostnet *h, char out[IFNAMSIZ], berth_error **err);
int hostnet_next_subnet(const hostnet *h, char *out, size_t len, berth_error **err);

/* The lease directory of BRIDGE (heap). */
char *hostnet_leases_dir(const hostnet *h, const char *bridge);

/* The ids of live containers holding a lease on BRIDGE, ", "-joined into
 * BUF (empty: none). Leases of dead owners are swept first. */
void hostnet_bridge_users(const hostnet *h, const char *bridge, char *buf, size_t len);

/* ---- a container's resources ---- */

/* owners/ID.json, the record of what exists for ID:
 *   {"Record": dir, "Creator": pid, "CreatorStart": start time,
 *    "NetNS": path, "Links": [{"Bridge", "Veth"}],
 *    "Ports": [{"Protocol", "HostIp", "HostPort", "ContainerIp", "ContainerPort"}]}
 * Loads it (a new object; {} when missing). */
json_t *hostnet_owner_load(const hostnet *h, const char *id);
/* Writes it (before the resources it adds are made). RECORD, the
 * container's directory in its store, says whether the owner lives. */
int hostnet_owner_save(const hostnet *h, const char *id, json_t *owner, berth_error **err);

/* Claims the N ports for ID (ports/) and publishes them in nftables: all
 * or none. A port claimed by a dead container is taken back from it (its
 * whole network goes: hostnet_teardown); one claimed by a live one is an
 * EEXIST error naming it. Ports ID claims already are left as they are
 * (published). The ports must be in ID's owner record already. */
int hostnet_ports_publish(const hostnet *h, const char *id, const struct nft_port *ports, size_t n, berth_error **err);
/* Unpublishes the ports ID claims among the N (quiet when gone). */
void hostnet_ports_unpublish(const hostnet *h, const char *id, const struct nft_port *ports, size_t n);

/* Claims PROTO/PORT on every host address for CLAIMANT (a service's
 * "service:NAME") without publishing anything: the port cannot be published
 * with -p, nor claimed by another, until released. A claim of a dead
 * container or of a service without a record is taken back; any other is
 * an EEXIST error naming its holder. CLAIMANT's own claim: 0. */
int hostnet_port_claim(const hostnet *h, const char *claimant, int proto, uint16_t port, berth_error **err);
/* Who holds PROTO/PORT on any host address (a live container's -p, a
 * service's node port), other than EXCEPT (NULL: none): 1 with the
 * claimant into OUT, 0 when nobody does. Claims nothing: a check made
 * before anything is changed. */
int hostnet_port_holder(const hostnet *h, int proto, uint16_t port, const char *except, char *out, size_t len);
/* Releases the claim of PROTO/PORT when CLAIMANT holds it. */
void hostnet_port_release(const hostnet *h, const char *claimant, int proto, uint16_t port);

/* The nft_port array of an owner record's "Ports" (heap; strings borrowed). */
struct nft_port *hostnet_ports_of(json_t *ports, size_t *n);

/* Hosts files between the containers of BRIDGE: ID's LINE (ending in a
 * newline, with the marker "# berth:ID12@NETWORK") goes into the hosts file
 * of every other container there and theirs into OWN_HOSTS. Each peer is
 * one small file read: nothing grows with the number of peers but time. */
void hostnet_hosts_join(const hostnet *h, const char *bridge, const char *id, const char *own_hosts, const char *line);
/* ID's line out of the others' hosts files; its entry goes. */
void hostnet_hosts_leave(const hostnet *h, const char *bridge, const char *id);

/* Drops, in place, the lines of the hosts file PATH holding NEEDLE. */
void hostnet_hosts_drop(const char *path, const char *needle);

/* Takes down everything owners/ID.json names: hosts entries, published
 * ports, the namespace (and with it the container ends of the veths), the
 * host ends, the leases; then the record. Quiet when parts are gone (kill
 * -9 at any point, a second call). No record: nothing to do. */
void hostnet_teardown(const hostnet *h, const char *id);

/* hostnet_teardown() of every owner whose store record is gone. Returns
 * how many. */
int hostnet_sweep(const hostnet *h);

/* Removes the temporary files a killed writer left in the subdirectory
 * SUB (".NAME.tmpPID" of a pid that is gone). */
void hostnet_sweep_temps(const hostnet *h, const char *sub);

/* Whether the owner ID lives: its owner record names a store record that
 * exists, and either that record's config.json has "NetworkSettings" (it
 * was saved after the network was made) or the creator still runs. */
bool hostnet_owner_alive(const hostnet *h, const char *id);

#endif
