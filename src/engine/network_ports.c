/* The published ports of a container that stops and starts again
 * (network.h): released when it stops, published again when it starts, as
 * docker does, so a stopped container holds no host port. */
#include <errno.h>
#include <string.h>

#include "engine/network_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

/* C's published ports when it has some on a bridge network: its host-wide
 * directory opened in H, the ports in *PORTS (strings borrowed from C's
 * config). 1: it has, 0: none (a CNI network's portmap and pasta keep
 * theirs), -1: error. */
static int bridge_ports(const container *c, hostnet *h, struct nft_port **ports, size_t *n, berth_error **err)
{
	json_t *s = json_object_get(c->config, "NetworkSettings");
	const char *dir = json_string_value(json_object_get(s, "HostNet"));
	const char *driver = json_string_value(json_object_get(s, "Driver"));
	json_t *list = json_object_get(s, "Ports");

	/* rootless, the ports are pasta's and the rules in the rootless
	 * namespace, made and undone with the network (rootless_netns.h) */
	if (dir == NULL || driver == NULL || strcmp(driver, "bridge") != 0 || json_array_size(list) == 0 ||
	    json_is_true(json_object_get(s, "RootlessNetNS")))
		return 0;
	if ((*ports = hostnet_ports_of(list, n)) == NULL)
		return berth_error_set(err, ENOMEM, "ports of %s", c->name);
	return hostnet_open(dir, h, err) < 0 ? -1 : 1;
}

int engine_network_ports_publish(const container *c, berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	_cleanup_free_ struct nft_port *ports = NULL;
	size_t n = 0;
	int ret = bridge_ports(c, &h, &ports, &n, err);

	if (ret <= 0)
		return ret;
	if (hostnet_ports_publish(&h, c->id, ports, n, err) < 0)
		return berth_error_wrap(err, "publish ports of %s", c->name);
	return 0;
}

void engine_network_ports_release(const container *c)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	_cleanup_free_ struct nft_port *ports = NULL;
	berth_error *e = NULL;
	size_t n = 0;

	if (bridge_ports(c, &h, &ports, &n, &e) <= 0) {
		if (e)
			berth_debug("network of %s: %s", c->name, e->msg);
		berth_error_free(&e);
		return;
	}
	hostnet_ports_unpublish(&h, c->id, ports, n);
}
