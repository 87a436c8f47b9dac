/* A container's network (network.h): namespace, address, ports, the hosts
 * and resolv.conf files, and undoing all of it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "engine/network_internal.h"
#include "engine/rootless_netns.h"
#include "engine/userns.h"
#include "network/ipam.h"
#include "network/netlink.h"
#include "network/netns.h"
#include "network/nft.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"

#define HOSTS_BASE "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

/* ---- the bridge and its rules, once per boot ---- */

/* The bridge's own MAC, 02:b3: + its IPv4 gateway: fixed, so a bridge
 * never takes the lowest MAC of its ports (and changes it when that port
 * goes), and the same whenever the bridge is made again. */
static void bridge_mac(struct in_addr gateway, unsigned char mac[NETLINK_MAC_LEN])
{
	const unsigned char *g = (const unsigned char *)&gateway.s_addr;

	mac[0] = 0x02;
	mac[1] = 0xb3;
	memcpy(mac + 2, g, 4);
}

/* The bridge with its gateway and MAC, forwarding on, and berth's nftables
 * rules for the network, under the host-wide lock. A marker in the
 * host-wide directory (gone at reboot) skips the work while the bridge is
 * there. */
int network_ensure_bridge(const engine_paths *p, const hostnet *h, const network_def *d, berth_error **err)
{
	_cleanup_free_ char *owner = network_bridge_owner(p, d);
	_cleanup_close_ int lock = -EBADF, fd = -EBADF;
	netlink_bridge_config bc = { .name = d->bridge, .mtu = d->mtu, .has_mac = true };
	ipam_subnet sub4, sub6;
	const char *subnets[3] = { d->subnet, d->subnet6, NULL };
	struct nft_network nn = { .bridge = d->bridge, .subnets = subnets, .internal = d->internal };
	hostnet_bridge claim = { .internal = d->internal };
	char key[96], marker[IFNAMSIZ + 16];

	snprintf(marker, sizeof(marker), "bridges/%s.ready", d->bridge);
	if (faccessat(h->dirfd, marker, F_OK, 0) == 0 && netlink_link_exists(d->bridge, NULL) == 1)
		return 0;
	if (owner == NULL)
		return berth_error_set(err, ENOMEM, "network %s", d->name);
	if (ipam_subnet_parse(d->subnet, &sub4, err) < 0)
		return berth_error_wrap(err, "network %s", d->name);
	bc.has_ipv4 = true;
	bc.ipv4_prefix = sub4.prefix;
	if (inet_pton(AF_INET, d->gateway, &bc.ipv4_gateway) != 1)
		return berth_error_set(err, EINVAL, "network %s: bad gateway \"%s\"", d->name, d->gateway);
	bridge_mac(bc.ipv4_gateway, bc.mac);
	if (d->subnet6) {
		if (ipam_subnet_parse(d->subnet6, &sub6, err) < 0)
			return berth_error_wrap(err, "network %s", d->name);
		bc.has_ipv6 = true;
		bc.ipv6_prefix = sub6.prefix;
		if (inet_pton(AF_INET6, d->gateway6, &bc.ipv6_gateway) != 1)
			return berth_error_set(err, EINVAL, "network %s: bad gateway \"%s\"", d->name, d->gateway6);
	}
	lock = hostnet_lock(h, err);
	if (lock < 0)
		return berth_error_wrap(err, "network %s", d->name);
	/* a definition older than the host-wide records, or one made before a
	 * reboot emptied them: its bridge is claimed again, unless another
	 * network has it */
	snprintf(claim.name, sizeof(claim.name), "%s", d->bridge);
	snprintf(claim.subnet, sizeof(claim.subnet), "%s", d->subnet);
	snprintf(claim.gateway, sizeof(claim.gateway), "%s", d->gateway);
	snprintf(claim.subnet6, sizeof(claim.subnet6), "%s", d->subnet6 ?: "");
	snprintf(claim.gateway6, sizeof(claim.gateway6), "%s", d->gateway6 ?: "");
	snprintf(claim.owner, sizeof(claim.owner), "%s", owner);
	if (hostnet_bridge_claim(h, &claim, err) < 0)
		return berth_error_wrap(err, "network %s", d->name);
	if (netlink_bridge_ensure(&bc, err) < 0)
		return berth_error_wrap(err, "network %s", d->name);
	/* 127.0.0.1:PORT reaches a container through DNAT in the output hook;
	 * the packet then leaves through the bridge from 127.0.0.1 */
	snprintf(key, sizeof(key), "net/ipv4/conf/%s/route_localnet", d->bridge);
	if ((!d->internal && netlink_sysctl_set("net.ipv4.ip_forward", "1", err) < 0) ||
	    netlink_sysctl_set(key, "1", err) < 0 ||
	    (d->subnet6 && !d->internal && netlink_sysctl_set("net.ipv6.conf.all.forwarding", "1", err) < 0))
		return berth_error_wrap(err, "network %s", d->name);
	if (nft_network_add(&nn, err) < 0)
		return berth_error_wrap(err, "network %s", d->name);
	fd = openat(h->dirfd, marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	return 0;
}

/* ---- files ---- */

int network_owner_note(const hostnet *h, const container *c, const char *key, json_t *value, berth_error **err)
{
	json_t *owner = hostnet_owner_load(h, c->id), *old;
	int ret;

	json_object_set_new(owner, "Record", json_string(c->dir));
	json_object_set_new(owner, "Creator", json_integer(getpid()));
	json_object_set_new(owner, "CreatorStart", json_integer((json_int_t)proc_pid_start_time(getpid())));
	if (key && json_is_array(value) && json_is_array(old = json_object_get(owner, key))) {
		json_array_extend(old, value);
		json_decref(value);
	} else if (key) {
		json_object_set_new(owner, key, value);
	}
	ret = hostnet_owner_save(h, c->id, owner, err);
	json_decref(owner);
	return ret;
}

char *network_netns_make(const engine_paths *p, const container *c, json_t *settings, berth_error **err)
{
	_cleanup_free_ char *dir = fs_path_join(p->run_root, "netns");
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	char *path = dir ? fs_path_join(dir, c->id) : NULL;

	if (path == NULL) {
		berth_error_set(err, ENOMEM, "network namespace");
		return NULL;
	}
	/* recorded before it exists: a kill before the record is saved
	 * leaves nothing the host-wide record does not name */
	if (network_hostnet_open(p, &h, err) < 0 || network_owner_note(&h, c, "NetNS", json_string(path), err) < 0 ||
	    fs_mkdir_p(dir, 0700, err) < 0 || netns_create(path, err) < 0) {
		free(path);
		return NULL;
	}
	json_object_set_new(settings, "NetNS", json_string(path));
	json_object_set_new(settings, "HostNet", json_string(h.dir));
	return path;
}

/* The host's resolv.conf for a container: nameservers on loopback (a local
 * stub resolver) cannot be reached from its namespace and are dropped;
 * with none left, public resolvers as docker uses. --dns replaces them. */
static char *resolv_conf(const network_request *r, bool host_network)
{
	_cleanup_free_ char *host = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	bool any = false;

	if (f == NULL)
		return NULL;
	fs_read_file("/etc/resolv.conf", &host, NULL, NULL);
	for (char *line = host ? strtok(host, "\n") : NULL; line; line = strtok(NULL, "\n")) {
		char addr[64];
		bool ns = sscanf(line, "nameserver %63s", addr) == 1;
		if (ns && (r->dns || (!host_network && (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0))))
			continue;
		any |= ns;
		fprintf(f, "%s\n", line);
	}
	for (const char *const *d = r->dns; d && *d; d++, any = true)
		fprintf(f, "nameserver %s\n", *d);
	if (!any)
		fprintf(f, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	fclose(f);
	return out;
}

/* "IP NAME [HOSTNAME] # berth:ID12@NETWORK": the marker finds the line again. */
char *network_hosts_line(const char *ip, const container *c, const char *hostname, const char *network)
{
	_cleanup_free_ char *aliases = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&aliases, &len);
	char *out = NULL;
	json_t *a;
	size_t i;

	if (f == NULL)
		return NULL;
	/* --network-alias: more names of C for its peers */
	json_array_foreach(json_object_get(c->config, "NetworkAliases"), i, a) {
		if (json_is_string(a))
			fprintf(f, " %s", json_string_value(a));
	}
	fclose(f);
	if (hostname == NULL || strcmp(hostname, c->name) == 0)
		hostname = "";
	if (asprintf(&out, "%s\t%s%s%s%s\t# berth:%.12s@%s\n", ip, c->name, hostname[0] ? " " : "", hostname,
		     aliases ? aliases : "", c->id, network) < 0)
		return NULL;
	return out;
}

/* C's address on NETWORK (its first network or one connected later), or NULL. */
const char *network_ip_on(const container *c, const char *network)
{
	json_t *ns = json_object_get(c->config, "NetworkSettings");
	const char *net = json_string_value(json_object_get(ns, "Network"));

	if (net && strcmp(net, network) == 0)
		return json_string_value(json_object_get(ns, "IPAddress"));
	return json_string_value(
	    json_object_get(json_object_get(json_object_get(ns, "Networks"), network), "IPAddress"));
}

static int write_record_file(const container *c, const char *name, const char *text, berth_error **err)
{
	_cleanup_close_ int dirfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0 || text == NULL)
		return berth_error_set(err, dirfd < 0 ? errno : ENOMEM, "%s of container %s", name, c->name);
	return fs_write_file_fresh(dirfd, name, text, strlen(text), 0644, err);
}

static void bind_file(json_t *cfg, const container *c, const char *name, const char *dest)
{
	_cleanup_free_ char *src = record_path(c, name);
	json_t *mounts = json_object_get(cfg, "mounts");

	if (src)
		json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dest, "type",
							"bind", "source", src, "options", "bind", "nosuid", "nodev"));
}

/* docker's "host-gateway" of --add-host: the host as the container reaches
 * it, its bridge network's gateway (the host itself with --network host). */
static int host_gateway(const engine_paths *p, const char *network, bool host_network, char **out, berth_error **err)
{
	network_def d = { 0 };

	if (host_network) {
		*out = strdup("127.0.0.1");
		return *out ? 0 : berth_error_set(err, ENOMEM, "host-gateway");
	}
	if (network == NULL)
		return berth_error_request(err, EINVAL, "host-gateway needs a bridge network or --network host");
	if (network_load(p, network, &d, err) < 0)
		return -1;
	*out = d.gateway ? strndup(d.gateway, strcspn(d.gateway, "/")) : NULL;
	network_def_free(&d);
	if (*out == NULL)
		return berth_error_request(err, EINVAL, "network %s has no gateway for host-gateway", network);
	return 0;
}

/* hosts, resolv.conf and hostname in C's directory, bound into CFG. */
static int write_files(const engine_paths *p, container *c, const network_request *r, const char *ip,
		       const char *network, bool host_network, json_t *cfg, berth_error **err)
{
	_cleanup_free_ char *hosts = NULL, *resolv = resolv_conf(r, host_network), *hostname = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&hosts, &len);

	if (f == NULL)
		return berth_error_set(err, ENOMEM, "hosts");
	fputs(HOSTS_BASE, f);
	for (const char *const *h = r->add_hosts; h && *h; h++) {
		const char *colon = strchr(*h, ':');
		_cleanup_free_ char *gateway = NULL;
		if (strcmp(colon + 1, "host-gateway") == 0 &&
		    host_gateway(p, network, host_network, &gateway, err) < 0) {
			fclose(f);
			return berth_error_wrap(err, "--add-host %s", *h);
		}
		fprintf(f, "%s\t%.*s\n", gateway ? gateway : colon + 1, (int)(colon - *h), *h);
	}
	if (ip) {
		_cleanup_free_ char *own = network_hosts_line(ip, c, r->hostname, network);
		if (own)
			fputs(own, f);
	} else if (!host_network) {
		fprintf(f, "127.0.1.1\t%s\n", r->hostname);
	}
	fclose(f);
	if (asprintf(&hostname, "%s\n", r->hostname) < 0)
		hostname = NULL;
	if (write_record_file(c, "hosts", hosts, err) < 0 || write_record_file(c, "resolv.conf", resolv, err) < 0 ||
	    write_record_file(c, "hostname", hostname, err) < 0)
		return -1;
	bind_file(cfg, c, "hosts", "/etc/hosts");
	bind_file(cfg, c, "resolv.conf", "/etc/resolv.conf");
	bind_file(cfg, c, "hostname", "/etc/hostname");
	return 0;
}

/* ---- namespaces in the config ---- */

static void set_netns_path(json_t *cfg, const char *path)
{
	json_t *ns = json_object_get(json_object_get(cfg, "linux"), "namespaces"), *v;
	size_t i;

	json_array_foreach(ns, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "type")) ?: "", "network") == 0) {
			json_object_set_new(v, "path", json_string(path));
			return;
		}
	}
	json_array_append_new(ns, json_pack("{s:s, s:s}", "type", "network", "path", path));
}

/* ---- ports ---- */

/* A free port of PROTO chosen by the kernel (bind to port 0). */
static uint16_t free_port(const char *proto)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, (strcmp(proto, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	uint16_t port = 0;

	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* -p values plus, with -P, every exposed port of the image. */
int network_collect_ports(const network_request *r, net_port **out, size_t *n, berth_error **err)
{
	const char *key;
	json_t *v;

	*out = NULL;
	*n = 0;
	if (r->n_ports) {
		*out = calloc(r->n_ports, sizeof(net_port));
		if (*out == NULL)
			return berth_error_set(err, ENOMEM, "ports");
		memcpy(*out, r->ports, r->n_ports * sizeof(net_port));
		*n = r->n_ports;
	}
	if (r->publish_all)
		json_object_foreach(r->exposed, key, v) {
			if (network_parse_publish(key, out, n, err) < 0)
				return berth_error_wrap(err, "-P: the image's exposed port");
		}
	for (size_t i = 0; i < *n; i++)
		if ((*out)[i].host_port == 0 && ((*out)[i].host_port = free_port((*out)[i].proto)) == 0)
			return berth_error_set(err, EADDRNOTAVAIL, "no free host port for %u/%s", (*out)[i].ctr_port,
					       (*out)[i].proto);
	return 0;
}

json_t *network_ports_json(const net_port *ports, size_t n, const char *ctr_ip)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:s, s:i}", "Protocol", ports[i].proto, "HostIp",
						     ports[i].host_ip, "HostPort", ports[i].host_port, "ContainerIp",
						     ctr_ip, "ContainerPort", ports[i].ctr_port));
	return arr;
}

static net_port *ports_of_record(json_t *ports, size_t *n);

/* ---- setup ---- */

/* Every step is named in C's host-wide owner record before it is made:
 * namespace, link (bridge, veth; its lease is owned by C's id), ports. */
static int setup_bridge(const engine_paths *p, container *c, const network_def *d, const network_request *r,
			json_t *settings, berth_error **err)
{
	_cleanup_free_ char *leases = NULL, *nspath = NULL;
	_cleanup_free_ net_port *ports = NULL;
	_cleanup_free_ struct nft_port *nports = NULL;
	_cleanup_close_ int nsfd = -EBADF;
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	netlink_attach_config ac = { .bridge = d->bridge, .container_ifname = "eth0", .mtu = d->mtu };
	char ip[INET6_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN] = "", veth[IFNAMSIZ], mac[24];
	ipam_subnet sub;
	size_t n_ports = 0, n_nports;
	berth_error *first = NULL;

	if (network_hostnet_open(p, &h, err) < 0)
		return -1;
	if ((leases = hostnet_leases_dir(&h, d->bridge)) == NULL)
		return berth_error_set(err, ENOMEM, "network");
	if (network_collect_ports(r, &ports, &n_ports, err) < 0 || network_ensure_bridge(p, &h, d, err) < 0)
		return -1;
	if (netlink_veth_name(c->id, veth, err) < 0)
		return -1;
	if ((nspath = network_netns_make(p, c, settings, err)) == NULL)
		return -1;
	if (network_owner_note(&h, c, "Links", json_pack("[{s:s, s:s}]", "Bridge", d->bridge, "Veth", veth), err) < 0)
		return -1;
	if (ipam_allocate(leases, d->subnet, c->id, r->ip, ip, sizeof(ip), err) < 0)
		return berth_error_wrap(err, "network %s", d->name);
	json_object_set_new(settings, "Leases", json_string(leases));
	json_object_set_new(settings, "Bridge", json_string(d->bridge));
	if (d->subnet6 && ipam_allocate(leases, d->subnet6, c->id, NULL, ip6, sizeof(ip6), err) < 0)
		return berth_error_wrap(err, "network %s", d->name);
	if (ipam_subnet_parse(d->subnet, &sub, err) < 0)
		return -1;
	ac.has_ipv4 = true;
	ac.ipv4_prefix = sub.prefix;
	inet_pton(AF_INET, ip, &ac.ipv4);
	inet_pton(AF_INET, d->gateway, &ac.ipv4_gateway);
	if (ip6[0]) {
		ipam_subnet sub6;
		if (ipam_subnet_parse(d->subnet6, &sub6, err) < 0)
			return -1;
		ac.has_ipv6 = true;
		ac.ipv6_prefix = sub6.prefix;
		inet_pton(AF_INET6, ip6, &ac.ipv6);
		inet_pton(AF_INET6, d->gateway6, &ac.ipv6_gateway);
	}
	netlink_mac_from_ipv4(ac.ipv4, ac.mac);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ac.mac[0], ac.mac[1], ac.mac[2], ac.mac[3],
		 ac.mac[4], ac.mac[5]);
	nsfd = netns_open(nspath, err);
	if (nsfd < 0)
		return -1;
	ac.netns_fd = nsfd;
	ac.host_ifname = veth;
	if (netlink_attach(&ac, &first) < 0) {
		if (first->code != EEXIST) {
			int ret = berth_error_request(err, first->code, "network %s: %s", d->name, first->msg);
			berth_error_free(&first);
			return ret;
		}
		/* the name is this container's: a pair of its earlier namespace,
		 * which the kernel deletes in the background (a start after a
		 * reboot, a namespace just unmounted) */
		berth_error_free(&first);
		if (netlink_detach(veth, &first) < 0)
			berth_error_free(&first);
		if (netlink_attach(&ac, err) < 0)
			return berth_error_wrap(err, "network %s", d->name);
	}
	json_object_set_new(settings, "HostVeth", json_string(veth));
	json_object_set_new(settings, "IPAddress", json_string(ip));
	json_object_set_new(settings, "IPPrefixLen", json_integer(sub.prefix));
	json_object_set_new(settings, "Gateway", json_string(d->gateway));
	json_object_set_new(settings, "MacAddress", json_string(mac));
	if (ip6[0]) {
		json_object_set_new(settings, "GlobalIPv6Address", json_string(ip6));
		json_object_set_new(settings, "IPv6Gateway", json_string(d->gateway6));
	}
	json_object_set_new(settings, "Ports", network_ports_json(ports, n_ports, ip));
	nports = hostnet_ports_of(json_object_get(settings, "Ports"), &n_nports);
	if (nports == NULL)
		return berth_error_set(err, ENOMEM, "ports");
	if (n_nports &&
	    (network_owner_note(&h, c, "Ports", json_deep_copy(json_object_get(settings, "Ports")), err) < 0 ||
	     hostnet_ports_publish(&h, c->id, nports, n_nports, err) < 0))
		return berth_error_wrap(err, "publish ports of %s", c->name);
	return 0;
}

struct bridge_job {
	const engine_paths *p;
	container *c;
	const network_def *d;
	const network_request *r;
	json_t *settings;
};

static int bridge_job_run(void *arg, berth_error **err)
{
	struct bridge_job *j = arg;
	return setup_bridge(j->p, j->c, j->d, j->r, j->settings, err);
}

/* setup_bridge(); rootless, inside the rootless network namespace
 * (rootless_netns.h), with a pasta per published port on its edge. */
static int setup_bridge_where(const engine_paths *p, container *c, const network_def *d, const network_request *r,
			      json_t *settings, berth_error **err)
{
	struct bridge_job job = { p, c, d, r, settings };
	_cleanup_free_ net_port *ports = NULL;
	size_t n = 0;

	if (!engine_rootless())
		return setup_bridge(p, c, d, r, settings, err);
	if (!engine_rootless_netns_available())
		return berth_error_request(
		    err, EPERM, "network %s: a rootless bridge network needs pasta (%s); use --network pasta", d->name,
		    engine_network_default_why() ?: "unavailable");
	json_object_set_new(settings, "RootlessNetNS", json_true());
	if (engine_rootless_netns_run(p, true, bridge_job_run, &job, err) < 0)
		return -1;
	ports = ports_of_record(json_object_get(settings, "Ports"), &n);
	if (ports == NULL)
		return berth_error_set(err, ENOMEM, "ports");
	return engine_rootless_netns_publish(p, ports, n, err);
}

static char *cni_cache_dir(const engine_paths *p)
{
	_cleanup_free_ char *dir = network_dir(p);
	char *out = NULL;
	return dir && asprintf(&out, "%s/cni-cache", dir) >= 0 ? out : NULL;
}

static int setup_cni(const engine_paths *p, container *c, const network_def *d, const network_request *r,
		     json_t *settings, berth_error **err)
{
	_cleanup_free_ char *dir = network_dir(p), *conf = NULL, *nspath = NULL, *cache = cni_cache_dir(p);
	_cleanup_free_ net_port *ports = NULL;
	cni_network *net = NULL;
	cni_runtime rt = { 0 };
	cni_result_info info = { 0 };
	json_t *result = NULL, *caps = json_object(), *pm = NULL;
	size_t n_ports = 0;
	int ret = -1;

	if (dir == NULL || cache == NULL || asprintf(&conf, "%s/%s", dir, d->cni_config) < 0) {
		json_decref(caps);
		return berth_error_set(err, ENOMEM, "network");
	}
	if (network_collect_ports(r, &ports, &n_ports, err) < 0 || cni_network_load(conf, &net, err) < 0 ||
	    (nspath = network_netns_make(p, c, settings, err)) == NULL)
		goto out;
	if (n_ports) {
		cni_port_mapping *m = calloc(n_ports, sizeof(*m));
		for (size_t i = 0; m && i < n_ports; i++) {
			m[i].host_port = ports[i].host_port;
			m[i].container_port = ports[i].ctr_port;
			m[i].protocol = ports[i].proto;
			m[i].host_ip = ports[i].host_ip[0] ? ports[i].host_ip : NULL;
		}
		if (m == NULL || cni_port_mappings_to_json(m, n_ports, &pm, err) < 0) {
			free(m);
			goto out;
		}
		free(m);
		json_object_set_new(caps, "portMappings", pm);
	}
	rt.container_id = c->id;
	rt.netns_path = nspath;
	rt.ifname = "eth0";
	rt.cache_dir = cache;
	rt.capability_args = caps;
	if (cni_add(net, &rt, &result, err) < 0)
		goto out;
	json_object_set_new(settings, "CNIConfig", json_string(conf));
	if (cni_result_get_info(result, "eth0", &info, err) < 0)
		goto out;
	if (info.ipv4)
		json_object_set_new(settings, "IPAddress", json_string(info.ipv4));
	if (info.ipv4_gateway)
		json_object_set_new(settings, "Gateway", json_string(info.ipv4_gateway));
	if (info.mac)
		json_object_set_new(settings, "MacAddress", json_string(info.mac));
	json_object_set_new(settings, "Ports", network_ports_json(ports, n_ports, info.ipv4 ? info.ipv4 : ""));
	ret = 0;
out:
	cni_result_info_free(&info);
	json_decref(result);
	json_decref(caps);
	cni_network_free(net);
	return ret;
}

static int setup_container_mode(const engine_paths *p, container *c, const char *target, json_t *settings, json_t *cfg,
				berth_error **err)
{
	container *other = NULL;
	_cleanup_free_ char *path = NULL;
	json_t *ons;
	const char *nspath;
	int ret = -1;

	if (record_open(p, target, &other, err) < 0 || record_refresh(p, other, err) < 0)
		goto out;
	if (strcmp(other->state.status, "running") != 0 && strcmp(other->state.status, "paused") != 0) {
		berth_error_set(err, EINVAL, "--network container:%s: the container is not running", target);
		goto out;
	}
	ons = json_object_get(other->config, "NetworkSettings");
	nspath = json_string_value(json_object_get(ons, "NetNS"));
	if (nspath == NULL && asprintf(&path, "/proc/%d/ns/net", (int)other->state.pid) >= 0)
		nspath = path;
	set_netns_path(cfg, nspath);
	/* the same address, hosts and resolv.conf as the container joined */
	json_object_set_new(settings, "Container", json_string(other->id));
	if (json_object_get(ons, "IPAddress"))
		json_object_set(settings, "IPAddress", json_object_get(ons, "IPAddress"));
	{
		const char *files[][2] = { { "hosts", "/etc/hosts" }, { "resolv.conf", "/etc/resolv.conf" } };
		for (size_t i = 0; i < 2; i++) {
			_cleanup_free_ char *src = record_path(other, files[i][0]);
			if (src && access(src, F_OK) == 0)
				json_array_append_new(json_object_get(cfg, "mounts"),
						      json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination",
								files[i][1], "type", "bind", "source", src, "options",
								"bind", "nosuid", "nodev"));
		}
	}
	ret = 0;
out:
	container_free(other);
	return ret;
}

/* The key of D's containers in the host-wide hosts entries: its bridge,
 * or "cni.NAME". */
static void hosts_key(const network_def *d, char *out, size_t len)
{
	if (d->bridge)
		snprintf(out, len, "%s", d->bridge);
	else
		snprintf(out, len, "cni.%s", d->name);
}

/* C's line into the hosts files of the other containers of D, theirs into
 * C's: one entry file read per peer, nothing loaded whole. */
static int join_hosts(const engine_paths *p, const container *c, const network_def *d, const char *hostname,
		      const char *ip, berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	_cleanup_free_ char *line = network_hosts_line(ip, c, hostname, d->name), *own = record_path(c, "hosts");
	char key[96];

	if (line == NULL || own == NULL)
		return berth_error_set(err, ENOMEM, "hosts of %s", c->name);
	hosts_key(d, key, sizeof(key));
	if (network_hostnet_open(p, &h, err) < 0 ||
	    (d->bridge == NULL && network_owner_note(&h, c, "Links", json_pack("[{s:s}]", "Bridge", key), err) < 0))
		return -1;
	hostnet_hosts_join(&h, key, c->id, own, line);
	return 0;
}

int engine_network_setup(const engine_paths *p, container *c, const network_request *r, json_t *cfg, berth_error **err)
{
	const char *mode = r->mode ? r->mode : engine_network_default();
	json_t *settings = json_object();
	network_def d = { 0 };
	int ret;

	json_object_set_new(c->config, "NetworkSettings", settings);
	if (strncmp(mode, "container:", 10) == 0) {
		json_object_set_new(settings, "Mode", json_string("container"));
		return setup_container_mode(p, c, mode + 10, settings, cfg, err);
	}
	if (strcmp(mode, "pasta") == 0 || strcmp(mode, "slirp4netns") == 0) {
		json_object_set_new(settings, "Mode", json_string(mode));
		json_object_set_new(settings, "Network", json_string(mode));
		json_object_set_new(settings, "Hostname", json_string(r->hostname));
		ret = strcmp(mode, "pasta") == 0 ? network_setup_pasta(p, c, r, settings, err)
						 : network_setup_slirp(p, c, r, settings, err);
		if (ret == 0) {
			set_netns_path(cfg, json_string_value(json_object_get(settings, "NetNS")));
			ret = write_files(p, c, r, NULL, NULL, true, cfg, err);
		}
		if (ret < 0) {
			engine_network_teardown(p, c);
			json_object_del(c->config, "NetworkSettings");
		}
		return ret;
	}
	if (strcmp(mode, "none") == 0 || strcmp(mode, "host") == 0) {
		json_object_set_new(settings, "Mode", json_string(mode));
		return write_files(p, c, r, NULL, NULL, strcmp(mode, "host") == 0, cfg, err);
	}
	if (network_load(p, mode, &d, err) < 0)
		return -1;
	json_object_set_new(settings, "Mode", json_string("network"));
	json_object_set_new(settings, "Network", json_string(d.name));
	json_object_set_new(settings, "Hostname", json_string(r->hostname));
	json_object_set_new(settings, "Driver", json_string(d.driver));
	ret = strcmp(d.driver, "cni") == 0 ? setup_cni(p, c, &d, r, settings, err)
					   : setup_bridge_where(p, c, &d, r, settings, err);
	if (ret == 0) {
		set_netns_path(cfg, json_string_value(json_object_get(settings, "NetNS")));
		ret = write_files(p, c, r, json_string_value(json_object_get(settings, "IPAddress")), d.name, false,
				  cfg, err);
	}
	if (ret == 0 && json_object_get(settings, "IPAddress"))
		ret = join_hosts(p, c, &d, r->hostname, json_string_value(json_object_get(settings, "IPAddress")), err);
	network_def_free(&d);
	if (ret < 0) {
		engine_network_teardown(p, c);
		json_object_del(c->config, "NetworkSettings");
	}
	return ret;
}

void engine_network_teardown_id(const engine_paths *p, const char *id)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	_cleanup_free_ char *dir = network_hostnet_dir(p);
	berth_error *e = NULL;

	/* never made: nothing of ID's can be there (a container without a
	 * network must not leave the directory behind) */
	if (dir == NULL || (access(dir, F_OK) < 0 && errno == ENOENT))
		return;
	if (hostnet_open(dir, &h, &e) < 0) {
		berth_debug("network of %.12s: %s", id, e->msg);
		berth_error_free(&e);
		return;
	}
	hostnet_teardown(&h, id);
}

struct teardown_job {
	const engine_paths *p;
	const char *id;
};

static int teardown_job_run(void *arg, berth_error **err)
{
	struct teardown_job *j = arg;
	(void)err;
	engine_network_teardown_id(j->p, j->id);
	return 0;
}

void engine_network_teardown(const engine_paths *p, const container *c)
{
	json_t *s = json_object_get(c->config, "NetworkSettings");
	const char *network = json_string_value(json_object_get(s, "Network"));
	const char *nspath = json_string_value(json_object_get(s, "NetNS"));
	const char *leases = json_string_value(json_object_get(s, "Leases"));
	const char *conf = json_string_value(json_object_get(s, "CNIConfig"));
	const char *dir = json_string_value(json_object_get(s, "HostNet"));
	bool rootless = json_is_true(json_object_get(s, "RootlessNetNS"));
	size_t n_ports = 0;
	berth_error *e = NULL;

	if (network && (strcmp(network, "pasta") == 0 || strcmp(network, "slirp4netns") == 0)) {
		pid_t pid = (pid_t)json_integer_value(json_object_get(s, "HelperPid"));
		unsigned long long start = (unsigned long long)json_integer_value(json_object_get(s, "HelperStart"));
		/* pasta quits when the namespace goes; slirp4netns needs the signal */
		if (pid > 0 && start && proc_pid_start_time(pid) == start)
			kill(pid, SIGTERM);
	}
	if (conf) {
		_cleanup_free_ char *cache = cni_cache_dir(p);
		cni_network *net = NULL;
		cni_runtime rt = { .container_id = c->id, .netns_path = nspath, .ifname = "eth0", .cache_dir = cache };
		if (cni_network_load(conf, &net, &e) < 0 || cni_del(net, &rt, &e) < 0) {
			berth_log(BERTH_LOG_WARNING, "network of %s: %s", c->name, e->msg);
			berth_error_free(&e);
		}
		cni_network_free(net);
	}
	/* everything else from the host-wide record, which names what was
	 * made even when C's own record was never saved; rootless, inside the
	 * rootless namespace where it was made */
	if (rootless) {
		struct teardown_job job = { p, c->id };
		_cleanup_free_ net_port *ports = ports_of_record(json_object_get(s, "Ports"), &n_ports);
		if (ports)
			engine_rootless_netns_unpublish(p, ports, n_ports);
		if (engine_rootless_netns_run(p, false, teardown_job_run, &job, &e) < 0) {
			berth_debug("network of %s: %s", c->name, e->msg);
			berth_error_free(&e);
		}
	} else if (dir) {
		_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
		if (hostnet_open(dir, &h, &e) == 0)
			hostnet_teardown(&h, c->id);
		else
			berth_error_free(&e);
	} else {
		engine_network_teardown_id(p, c->id);
	}
	/* a lease of an older berth, in the store */
	if (leases && access(leases, F_OK) == 0 && ipam_release(leases, c->id, &e) < 0) {
		berth_debug("network of %s: %s", c->name, e->msg);
		berth_error_free(&e);
	}
	if (nspath && netns_remove(nspath, &e) < 0) {
		berth_debug("network of %s: %s", c->name, e->msg);
		berth_error_free(&e);
	}
	if (rootless)
		engine_rootless_netns_release(p);
}

/* ---- after a reboot ---- */

/* The record's "Ports" as -p values with their host ports. */
static net_port *ports_of_record(json_t *ports, size_t *n)
{
	net_port *out = calloc(json_array_size(ports) + 1, sizeof(*out));
	json_t *v;
	size_t i;

	*n = 0;
	if (out == NULL)
		return NULL;
	json_array_foreach(ports, i, v) {
		net_port *pt = &out[(*n)++];
		snprintf(pt->proto, sizeof(pt->proto), "%s",
			 json_string_value(json_object_get(v, "Protocol")) ?: "tcp");
		snprintf(pt->host_ip, sizeof(pt->host_ip), "%s", json_string_value(json_object_get(v, "HostIp")) ?: "");
		pt->host_port = (uint16_t)json_integer_value(json_object_get(v, "HostPort"));
		pt->ctr_port = (uint16_t)json_integer_value(json_object_get(v, "ContainerPort"));
	}
	return out;
}

int engine_network_restore(const engine_paths *p, container *c, bool *changed, berth_error **err)
{
	json_t *old = json_object_get(c->config, "NetworkSettings"), *fresh;
	const char *nspath = json_string_value(json_object_get(old, "NetNS"));
	const char *mode = json_string_value(json_object_get(old, "Mode"));
	const char *network = json_string_value(json_object_get(old, "Network"));
	const char *leases = json_string_value(json_object_get(old, "Leases"));
	_cleanup_free_ net_port *ports = NULL;
	network_request r = { 0 };
	network_def d = { 0 };
	struct statfs sf;
	const char *name;
	json_t *extra;
	berth_error *e = NULL;
	int ret;

	*changed = false;
	if (nspath == NULL || (statfs(nspath, &sf) == 0 && sf.f_type == NSFS_MAGIC))
		return 0; /* no namespace of its own, or it is still there */
	berth_debug("network of %s: namespace %s gone (reboot?); making it again", c->name, nspath);
	r.mode = network;
	r.ip = json_string_value(json_object_get(old, "IPAddress"));
	r.hostname = json_string_value(json_object_get(old, "Hostname"));
	ports = ports_of_record(json_object_get(old, "Ports"), &r.n_ports);
	r.ports = ports;
	/* what the host-wide record still names (nothing after a reboot), the
	 * old leases and namespace file; connected networks are dropped */
	engine_network_teardown_id(p, c->id);
	if (leases && ipam_release(leases, c->id, &e) < 0)
		berth_error_free(&e);
	json_object_foreach(json_object_get(old, "Networks"), name, extra) {
		const char *l = json_string_value(json_object_get(extra, "Leases"));
		berth_log(BERTH_LOG_WARNING, "container %s: network %s, joined with connect, is not joined again",
			  c->name, name);
		if (l && ipam_release(l, c->id, &e) < 0)
			berth_error_free(&e);
	}
	unlink(nspath);
	fresh = json_pack("{s:O, s:O, s:O, s:O}", "Mode", json_object_get(old, "Mode"), "Network",
			  json_object_get(old, "Network") ?: json_null(), "Driver",
			  json_object_get(old, "Driver") ?: json_null(), "Hostname",
			  json_object_get(old, "Hostname") ?: json_null());
	if (fresh == NULL)
		return berth_error_set(err, ENOMEM, "network of %s", c->name);
	if (strcmp(mode ?: "", "pasta") == 0)
		ret = network_setup_pasta(p, c, &r, fresh, err);
	else if (strcmp(mode ?: "", "slirp4netns") == 0)
		ret = network_setup_slirp(p, c, &r, fresh, err);
	else if ((ret = network_load(p, network ?: "", &d, err)) == 0)
		ret = strcmp(d.driver, "cni") == 0 ? setup_cni(p, c, &d, &r, fresh, err)
						   : setup_bridge_where(p, c, &d, &r, fresh, err);
	if (ret == 0 && d.name && json_object_get(fresh, "IPAddress"))
		ret = join_hosts(p, c, &d, r.hostname, json_string_value(json_object_get(fresh, "IPAddress")), err);
	network_def_free(&d);
	json_object_set_new(c->config, "NetworkSettings", fresh);
	if (ret < 0) {
		engine_network_teardown(p, c);
		return berth_error_wrap(err, "network of %s", c->name);
	}
	*changed = true;
	return 0;
}
