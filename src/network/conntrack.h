/* Conntrack entries over nfnetlink (libmnl).
 *
 * A UDP "connection" has no end the kernel sees: once a flow was DNATed to
 * an endpoint, its conntrack entry keeps sending the flow there, however
 * often it is refreshed, even after the endpoint left a service. As
 * kube-proxy does, the service code deletes those entries when an endpoint
 * goes, so the flow's next datagram is balanced again. (TCP connections are
 * left alone: they end, and an established one should finish.) */
#ifndef BERTH_NETWORK_CONNTRACK_H
#define BERTH_NETWORK_CONNTRACK_H

#include <netinet/in.h>
#include <stdint.h>

#include "util/error.h"

/* Deletes the IPv4 UDP entries of the calling thread's network namespace
 * whose reply comes from ENDPOINT:PORT and that were NATed to get there
 * (their original destination is another address). Returns how many, or
 * a negative value. */
int conntrack_delete_udp_to(struct in_addr endpoint, uint16_t port, berth_error **err);

#endif
