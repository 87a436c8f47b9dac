/* berth network connect/disconnect: a running container joins or leaves
 * another bridge network (network.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/network_internal.h"
#include "network/ipam.h"
#include "network/netlink.h"
#include "network/netns.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* ---- connect, disconnect ---- */

/* Rereads C's config.json under its lock (another command may have changed it). */
static int reload_config(container *c, berth_error **err)
{
	_cleanup_free_ char *path = record_path(c, "config.json");
	json_error_t jerr;
	json_t *j = path ? json_load_file(path, 0, &jerr) : NULL;

	if (j == NULL)
		return berth_error_set(err, EIO, "config of container %s: %s", c->name, path ? jerr.text : "no memory");
	json_decref(c->config);
	c->config = j;
	return 0;
}

/* The network namespace of C to attach to: its own file, else its init's. */
static int open_container_netns(const container *c, berth_error **err)
{
	json_t *ns = json_object_get(c->config, "NetworkSettings");
	const char *mode = json_string_value(json_object_get(ns, "Mode"));
	const char *path = json_string_value(json_object_get(ns, "NetNS"));
	char proc[64];

	if (mode && (strcmp(mode, "host") == 0 || strcmp(mode, "container") == 0 || strcmp(mode, "pasta") == 0))
		return berth_error_set(err, EINVAL, "container %s uses --network %s: it cannot join networks", c->name,
				       mode);
	if (path == NULL) {
		if (!engine_status_is_live(c->state.status) || c->state.pid <= 0)
			return berth_error_set(err, EINVAL, "container %s is not running", c->name);
		snprintf(proc, sizeof(proc), "/proc/%d/ns/net", (int)c->state.pid);
		path = proc;
	}
	return netns_open(path, err);
}

int engine_network_connect(const engine_paths *p, container *c, const char *network, const char *ip, berth_error **err)
{
	_cleanup_free_ char *leases = NULL, *line = NULL, *own = record_path(c, "hosts");
	_cleanup_close_ int nsfd = -EBADF;
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	network_def d = { 0 };
	netlink_attach_config ac = { .container_ifname = NULL };
	json_t *ns, *nets, *entry;
	char addr[INET6_ADDRSTRLEN], veth[IFNAMSIZ], ifname[IFNAMSIZ], mac[24];
	ipam_subnet sub;
	int lock = -1, ret = -1;
	unsigned ifnum;

	if (network_load(p, network, &d, err) < 0)
		return -1;
	if (strcmp(d.driver, "bridge") != 0) {
		berth_error_set(err, ENOTSUP, "network connect: %s is a %s network; only bridge networks can be joined",
				d.name, d.driver);
		goto out;
	}
	lock = record_lock(c, err);
	if (lock < 0 || reload_config(c, err) < 0 || record_load_state(c, err) < 0)
		goto out;
	ns = json_object_get(c->config, "NetworkSettings");
	if (ns == NULL) {
		ns = json_object();
		json_object_set_new(c->config, "NetworkSettings", ns);
	}
	if (network_ip_on(c, d.name)) {
		berth_error_set(err, EEXIST, "container %s is already on network %s", c->name, d.name);
		goto out;
	}
	nsfd = open_container_netns(c, err);
	if (nsfd < 0 || network_hostnet_open(p, &h, err) < 0 || (leases = hostnet_leases_dir(&h, d.bridge)) == NULL ||
	    network_ensure_bridge(p, &h, &d, err) < 0 || ipam_subnet_parse(d.subnet, &sub, err) < 0)
		goto out;
	nets = json_object_get(ns, "Networks");
	if (nets == NULL) {
		nets = json_object();
		json_object_set_new(ns, "Networks", nets);
	}
	/* eth0 is the first network's; the next free ethN for this one */
	for (ifnum = json_object_get(ns, "Network") ? 1 : 0;; ifnum++) {
		const char *name;
		json_t *v;
		bool used = false;
		snprintf(ifname, sizeof(ifname), "eth%u", ifnum % 10000);
		json_object_foreach(nets, name, v)
			used |= strcmp(json_string_value(json_object_get(v, "IfName")) ?: "", ifname) == 0;
		if (!used)
			break;
	}
	/* host end: "vb" + 7 of the id + the interface's number */
	snprintf(veth, sizeof(veth), "vb%.7s%u", c->id, ifnum % 10000);
	if (network_owner_note(&h, c, "Links", json_pack("[{s:s, s:s}]", "Bridge", d.bridge, "Veth", veth), err) < 0)
		goto out;
	if (ipam_allocate(leases, d.subnet, c->id, ip, addr, sizeof(addr), err) < 0) {
		berth_error_wrap(err, "network connect %s", d.name);
		goto out;
	}
	ac.bridge = d.bridge;
	ac.host_ifname = veth;
	ac.container_ifname = ifname;
	ac.netns_fd = nsfd;
	ac.mtu = d.mtu;
	ac.has_ipv4 = true;
	ac.ipv4_prefix = sub.prefix;
	inet_pton(AF_INET, addr, &ac.ipv4);
	/* the default route stays with the first network; a container without
	 * one (--network none) gets it here */
	if (json_object_get(ns, "Network") == NULL && json_object_size(nets) == 0)
		inet_pton(AF_INET, d.gateway, &ac.ipv4_gateway);
	netlink_mac_from_ipv4(ac.ipv4, ac.mac);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ac.mac[0], ac.mac[1], ac.mac[2], ac.mac[3],
		 ac.mac[4], ac.mac[5]);
	if (netlink_attach(&ac, err) < 0) {
		berth_error *ignored = NULL;
		if (ipam_release(leases, c->id, &ignored) < 0)
			berth_error_free(&ignored);
		berth_error_wrap(err, "network connect %s", d.name);
		goto out;
	}
	entry =
	    json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "IPAddress", addr, "IPPrefixLen", (int)sub.prefix,
		      "Gateway", d.gateway, "MacAddress", mac, "HostVeth", veth, "IfName", ifname, "Leases", leases);
	json_object_set_new(nets, d.name, entry);
	if (record_save_config(c, err) < 0)
		goto out;
	line = network_hosts_line(addr, c, json_string_value(json_object_get(ns, "Hostname")), d.name);
	if (line && own)
		hostnet_hosts_join(&h, d.bridge, c->id, own, line);
	ret = 0;
out:
	if (lock >= 0)
		record_unlock(lock);
	network_def_free(&d);
	return ret;
}

/* The link of ENTRY (its hosts entries, then the link itself) out of C's
 * host-wide owner record. */
static void forget_link(const engine_paths *p, const container *c, json_t *entry)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	const char *veth = json_string_value(json_object_get(entry, "HostVeth"));
	json_t *owner, *links, *v;
	berth_error *e = NULL;
	size_t i;

	if (network_hostnet_open(p, &h, &e) < 0) {
		berth_error_free(&e);
		return;
	}
	owner = hostnet_owner_load(&h, c->id);
	links = json_object_get(owner, "Links");
	json_array_foreach(links, i, v) {
		const char *bridge = json_string_value(json_object_get(v, "Bridge"));
		if (veth == NULL || strcmp(json_string_value(json_object_get(v, "Veth")) ?: "", veth) != 0)
			continue;
		if (bridge)
			hostnet_hosts_leave(&h, bridge, c->id);
		json_array_remove(links, i);
		if (hostnet_owner_save(&h, c->id, owner, &e) < 0)
			berth_error_free(&e);
		break;
	}
	json_decref(owner);
}

int engine_network_disconnect(const engine_paths *p, container *c, const char *network, berth_error **err)
{
	json_t *ns, *entry;
	berth_error *e = NULL;
	const char *name = strcmp(network, "bridge") == 0 ? NETWORK_DEFAULT : network;
	int lock = record_lock(c, err);

	if (lock < 0)
		return -1;
	if (reload_config(c, err) < 0) {
		record_unlock(lock);
		return -1;
	}
	ns = json_object_get(c->config, "NetworkSettings");
	entry = json_object_get(json_object_get(ns, "Networks"), name);
	if (entry == NULL) {
		const char *first = json_string_value(json_object_get(ns, "Network"));
		record_unlock(lock);
		if (first && strcmp(first, name) == 0)
			return berth_error_set(err, EINVAL,
					       "network disconnect: %s is the first network of %s (it goes with rm)",
					       name, c->name);
		return berth_error_set(err, ENOENT, "container %s is not on network %s", c->name, name);
	}
	if (netlink_detach(json_string_value(json_object_get(entry, "HostVeth")), &e) < 0) {
		berth_debug("network disconnect: %s", e->msg);
		berth_error_free(&e);
	}
	if (ipam_release(json_string_value(json_object_get(entry, "Leases")), c->id, &e) < 0) {
		berth_debug("network disconnect: %s", e->msg);
		berth_error_free(&e);
	}
	forget_link(p, c, entry);
	{
		/* the other containers of NAME out of C's hosts file */
		_cleanup_free_ char *hosts = record_path(c, "hosts");
		char suffix[96];
		snprintf(suffix, sizeof(suffix), "@%s\n", name);
		if (hosts)
			hostnet_hosts_drop(hosts, suffix);
	}
	json_object_del(json_object_get(ns, "Networks"), name);
	int ret = record_save_config(c, err);
	record_unlock(lock);
	return ret;
}
