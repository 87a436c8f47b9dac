/* The rootless network namespace: where rootless berth is root of a network
 * (as podman's rootless-netns), so that its containers can share a bridge
 * and reach Services.
 *
 * Rootless berth cannot make bridges or nftables rules in the host's
 * network namespace. It keeps one network namespace per run root (per
 * user: every store of the user shares it, as root's stores share the
 * host), made by its user namespace and bind-mounted on
 * RUN_ROOT/rootless-netns in the user's mount namespace. There berth is
 * root: the bridges of its networks, berth's nftables table (Services,
 * published ports) and the host ends of the containers' veth pairs live
 * there, and the bookkeeping is the host-wide directory RUN_ROOT/network
 * (network/hostnet.h). pasta sits on its edge: one pasta with the host's
 * address and routes on the interface "eth0" for outbound traffic
 * (RUN_ROOT/network/rootless-netns.pasta.pid), and one pasta per
 * published port (a node port, a hostPort, -p) that forwards the host's
 * port into the namespace, where berth's nftables DNAT takes it on
 * (RUN_ROOT/network/rootless-ports/PROTO-PORT.pid).
 *
 * Nothing but the mount holds it: engine_rootless_netns_release() removes it
 * once no container has a network record and no service is left there,
 * and its pastas quit with it. Every step leaves a file the next command
 * reads (the mount, the pid files), so a command killed at any point
 * leaves nothing that is not found, reused or removed later.
 *
 * Network namespaces are per thread: the work runs in a thread that joins
 * the namespace and ends there, since rootless berth could not come back
 * to the host's namespace; what it forks (the nftables helper) is in the
 * namespace too. pasta is started from the calling thread, in the host's. */
#ifndef BERTH_ENGINE_ROOTLESS_NETNS_H
#define BERTH_ENGINE_ROOTLESS_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/network.h"
#include "engine/record.h"
#include "util/error.h"

/* Whether this rootless berth can have the namespace: pasta is usable
 * (engine_network_default() is "pasta"). False for real root. */
bool engine_rootless_netns_available(void);

/* The namespace's path (heap). */
char *engine_rootless_netns_path(const engine_paths *p);

/* Runs FN(ARG, ERR) inside the rootless namespace (in a thread of its own),
 * with CREATE making the namespace and its outbound pasta first when
 * missing; without CREATE and without a namespace, FN runs where the
 * caller is. For real root FN just runs. The namespace is kept (a shared
 * lock) until FN returned. */
int engine_rootless_netns_run(const engine_paths *p, bool create, int (*fn)(void *arg, berth_error **err), void *arg,
			      berth_error **err);

/* Forwards the host's ports PORTS (their host_port, any address) into the
 * namespace with one pasta each, to the same port there; a port whose
 * pasta runs already is kept. The namespace must exist. */
int engine_rootless_netns_publish(const engine_paths *p, const net_port *ports, size_t n, berth_error **err);

/* Stops the pastas of PORTS (quiet when gone). */
void engine_rootless_netns_unpublish(const engine_paths *p, const net_port *ports, size_t n);

/* Removes the namespace, its pastas and their pid files when no live
 * container of any store has a network record in RUN_ROOT/network and no
 * service is recorded there (after the commands using it right now). */
void engine_rootless_netns_release(const engine_paths *p);

#endif
