/* Network definitions in the store and the -p syntax (network.h). The
 * container side is in network_attach.c. */
#include "engine/network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/network_internal.h"
#include "engine/userns.h"
#include "network/ipam.h"
#include "network/netlink.h"
#include "network/nft.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* Whether NAME is an executable file in a directory of $PATH, where
 * pasta and slirp4netns are executed from. */
static bool in_path(const char *name)
{
	const char *path = getenv("PATH") ?: "/usr/local/bin:/usr/bin:/bin";

	for (const char *dir = path;;) {
		size_t len = strcspn(dir, ":");
		char file[PATH_MAX];
		int n = snprintf(file, sizeof(file), "%.*s/%s", (int)len, dir, name);
		if (len > 0 && n > 0 && (size_t)n < sizeof(file) && access(file, X_OK) == 0)
			return true;
		if (dir[len] == '\0')
			return false;
		dir += len + 1;
	}
}

/* Why a rootless container gets no user-mode network ("" when it gets one):
 * the binary that is missing, or the tun device they need. */
static char usermode_why[256];

const char *engine_network_default(void)
{
	static bool said;
	bool pasta, slirp;
	struct stat st;
	size_t used = 0;

	if (!engine_rootless())
		return NETWORK_DEFAULT;
	usermode_why[0] = '\0';
	pasta = in_path("pasta");
	slirp = !pasta && in_path("slirp4netns");
	if (!pasta && !slirp)
		used += (size_t)snprintf(usermode_why, sizeof(usermode_why),
					 "neither pasta (package passt) nor slirp4netns is in PATH");
	/* pasta and slirp4netns need the tun device; some hosts keep it 0600 */
	if (stat("/dev/net/tun", &st) < 0)
		snprintf(usermode_why + used, sizeof(usermode_why) - used, "%s/dev/net/tun: %s", used ? "; " : "",
			 strerror(errno));
	else if (access("/dev/net/tun", R_OK | W_OK) < 0)
		snprintf(usermode_why + used, sizeof(usermode_why) - used,
			 "%s/dev/net/tun is not readable and writable by this user (mode %04o; 0666 is usual)",
			 used ? "; " : "", (unsigned)(st.st_mode & 07777));
	if (usermode_why[0] == '\0')
		return pasta ? "pasta" : "slirp4netns";
	if (!said)
		berth_debug("%s: containers get no network (--network none)", usermode_why);
	said = true;
	return "none";
}

const char *engine_network_default_why(void)
{
	return engine_rootless() && strcmp(engine_network_default(), "none") == 0 ? usermode_why : NULL;
}

/* ---- -p ---- */

static int parse_port_range(const char *text, size_t len, unsigned *first, unsigned *last)
{
	char buf[32], *end;
	unsigned long a, b;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	a = strtoul(buf, &end, 10);
	b = a;
	if (*end == '-')
		b = strtoul(end + 1, &end, 10);
	if (*end != '\0' || buf[0] == '-' || a == 0 || a > 65535 || b < a || b > 65535)
		return -1;
	*first = (unsigned)a;
	*last = (unsigned)b;
	return 0;
}

int network_parse_publish(const char *text, net_port **ports, size_t *n, berth_error **err)
{
	const char *proto = "tcp", *slash = strrchr(text, '/'), *ctr, *host = NULL, *colon;
	char ip[64] = "";
	size_t body = slash ? (size_t)(slash - text) : strlen(text);
	unsigned cfirst, clast, hfirst = 0, hlast = 0;
	net_port *grown;

	if (slash) {
		proto = slash + 1;
		if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
			return berth_error_set(err, EINVAL, "-p \"%s\": protocol \"%s\": expected tcp or udp", text,
					       proto);
	}
	/* [IP:][HOST:]CTR, IPv6 addresses in brackets */
	ctr = text;
	if (text[0] == '[') {
		const char *close = memchr(text, ']', body);
		if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(ip))
			return berth_error_set(err, EINVAL, "-p \"%s\": unterminated [IPv6 address]", text);
		memcpy(ip, text + 1, (size_t)(close - text - 1));
		host = close + 2;
	} else {
		const char *c1 = memchr(text, ':', body),
			   *c2 = c1 ? memchr(c1 + 1, ':', body - (size_t)(c1 + 1 - text)) : NULL;
		if (c2) {
			if ((size_t)(c1 - text) >= sizeof(ip))
				return berth_error_set(err, EINVAL, "-p \"%s\": bad host address", text);
			memcpy(ip, text, (size_t)(c1 - text));
			host = c1 + 1;
		} else if (c1) {
			host = text;
		}
	}
	if (host) {
		colon = memchr(host, ':', body - (size_t)(host - text));
		if (colon == NULL)
			return berth_error_set(err, EINVAL, "-p \"%s\": expected [IP:][HOST:]CONTAINER[/PROTO]", text);
		if (colon > host && parse_port_range(host, (size_t)(colon - host), &hfirst, &hlast) < 0)
			return berth_error_set(err, EINVAL, "-p \"%s\": bad host port \"%.*s\" (1-65535 or A-B)", text,
					       (int)(colon - host), host);
		ctr = colon + 1;
	}
	if (parse_port_range(ctr, body - (size_t)(ctr - text), &cfirst, &clast) < 0)
		return berth_error_set(err, EINVAL, "-p \"%s\": bad container port \"%.*s\" (1-65535 or A-B)", text,
				       (int)(body - (size_t)(ctr - text)), ctr);
	if (ip[0]) {
		unsigned char buf[16];
		if (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1)
			return berth_error_set(err, EINVAL, "-p \"%s\": \"%s\" is not an IP address", text, ip);
		if (strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0)
			ip[0] = '\0';
	}
	if (hfirst && hlast - hfirst != clast - cfirst)
		return berth_error_set(err, EINVAL, "-p \"%s\": the host and container ranges differ in length", text);
	grown = realloc(*ports, (*n + (clast - cfirst + 1)) * sizeof(net_port));
	if (grown == NULL)
		return berth_error_set(err, ENOMEM, "-p");
	*ports = grown;
	for (unsigned i = 0; i <= clast - cfirst; i++) {
		net_port *pt = &(*ports)[(*n)++];
		memset(pt, 0, sizeof(*pt));
		snprintf(pt->proto, sizeof(pt->proto), "%s", proto);
		snprintf(pt->host_ip, sizeof(pt->host_ip), "%s", ip);
		pt->host_port = (uint16_t)(hfirst ? hfirst + i : 0);
		pt->ctr_port = (uint16_t)(cfirst + i);
	}
	return 0;
}

/* ---- definitions ---- */

void network_def_free(network_def *d)
{
	free(d->name);
	free(d->driver);
	free(d->bridge);
	free(d->subnet);
	free(d->gateway);
	free(d->subnet6);
	free(d->gateway6);
	free(d->cni_config);
	free(d->created);
	json_decref(d->raw);
	memset(d, 0, sizeof(*d));
}

char *network_dir(const engine_paths *p)
{
	return fs_path_join(p->store_root, "networks");
}

static char *dup_or_null(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	return s ? strdup(s) : NULL;
}

static int def_from_json(json_t *j, network_def *d, const char *file, berth_error **err)
{
	memset(d, 0, sizeof(*d));
	d->name = dup_or_null(j, "Name");
	d->driver = dup_or_null(j, "Driver");
	d->bridge = dup_or_null(j, "Bridge");
	d->subnet = dup_or_null(j, "Subnet");
	d->gateway = dup_or_null(j, "Gateway");
	d->subnet6 = dup_or_null(j, "Subnet6");
	d->gateway6 = dup_or_null(j, "Gateway6");
	d->cni_config = dup_or_null(j, "CNIConfig");
	d->created = dup_or_null(j, "Created");
	d->internal = json_is_true(json_object_get(j, "Internal"));
	d->mtu = (unsigned)json_integer_value(json_object_get(j, "MTU"));
	d->raw = json_incref(j);
	if (d->name == NULL || d->driver == NULL ||
	    (strcmp(d->driver, "bridge") == 0 && (d->bridge == NULL || d->subnet == NULL || d->gateway == NULL)) ||
	    (strcmp(d->driver, "cni") == 0 && d->cni_config == NULL)) {
		network_def_free(d);
		return berth_error_set(err, EINVAL, "network definition \"%s\" is incomplete", file);
	}
	if (d->mtu == 0)
		d->mtu = 1500;
	return 0;
}

json_t *network_def_json(const network_def *d)
{
	return json_deep_copy(d->raw);
}

static bool valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64 ||
	    !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
	      (name[0] >= '0' && name[0] <= '9')))
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
		      *c == '.' || *c == '-'))
			return false;
	return true;
}

/* Opens (creating) STORE/networks and takes its lock (shared or exclusive). */
static int lock_networks(const engine_paths *p, bool exclusive, int *dirfd, berth_error **err)
{
	_cleanup_free_ char *dir = network_dir(p);
	int fd, lock;

	if (dir == NULL || fs_mkdir_p(dir, 0700, err) < 0)
		return berth_error_wrap(err, "networks");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", dir);
	lock = openat(fd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		berth_error_set(err, errno, "lock \"%s/.lock\"", dir);
		if (lock >= 0)
			close(lock);
		close(fd);
		return -1;
	}
	*dirfd = fd;
	return lock;
}

static int read_def(int dirfd, const char *name, network_def *out, berth_error **err)
{
	char file[96];
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	json_t *j;
	int ret;

	snprintf(file, sizeof(file), "%s.json", name);
	if (fs_read_file_at(dirfd, file, &text, NULL, NULL) < 0)
		return -ENOENT;
	j = json_loads(text, 0, &jerr);
	if (j == NULL)
		return berth_error_set(err, EINVAL, "network \"%s\": %s", name, jerr.text);
	ret = def_from_json(j, out, file, err);
	json_decref(j);
	return ret;
}

static int write_def(int dirfd, json_t *j, const char *name, berth_error **err)
{
	char file[96];
	_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2));

	snprintf(file, sizeof(file), "%s.json", name);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "network \"%s\"", name);
	return fs_write_file_atomic(dirfd, file, text, strlen(text), 0600, err);
}

char *network_hostnet_dir(const engine_paths *p)
{
	return hostnet_default_dir(engine_rootless() ? p->run_root : NULL);
}

int network_hostnet_open(const engine_paths *p, hostnet *h, berth_error **err)
{
	_cleanup_free_ char *dir = network_hostnet_dir(p);

	if (dir == NULL)
		return berth_error_set(err, ENOMEM, "host-wide network directory");
	return hostnet_open(dir, h, err);
}

char *network_bridge_owner(const engine_paths *p, const network_def *d)
{
	_cleanup_free_ char *dir = network_dir(p);
	char *out = NULL;

	if (strcmp(d->name, NETWORK_DEFAULT) == 0)
		return strdup("");
	return dir && asprintf(&out, "%s/%s.json", dir, d->name) >= 0 ? out : NULL;
}

/* A subnet for a new network, refused when it overlaps another berth
 * network of the host or a route of the host (a LAN, a VPN, another
 * engine's bridge): a network there would shadow it. */
static int check_subnet(const hostnet *h, const char *cidr, const char *own_bridge, berth_error **err)
{
	char other[IFNAMSIZ] = "";
	hostnet_bridge b;

	if (hostnet_subnet_overlap(h, cidr, own_bridge, other) == 1) {
		if (hostnet_bridge_load(h, other, &b, NULL) < 0)
			memset(&b, 0, sizeof(b));
		return berth_error_request(err, EEXIST, "subnet %s overlaps %s of berth network %s (bridge %s)", cidr,
					   strchr(cidr, ':') ? b.subnet6 : b.subnet,
					   b.owner[0] ? strrchr(b.owner, '/') + 1 : NETWORK_DEFAULT, other);
	}
	if (!strchr(cidr, ':') && hostnet_subnet_routed(cidr, own_bridge))
		return berth_error_request(err, EEXIST, "subnet %s overlaps a route of the host (ip route)", cidr);
	return 0;
}

/* The gateway of SUBNET: GIVEN when inside it, else its first host. */
static int gateway_of(const char *subnet, const char *given, char *out, size_t len, berth_error **err)
{
	ipam_subnet sub;
	ipam_address addr;
	int family;

	if (ipam_subnet_parse(subnet, &sub, err) < 0)
		return -1;
	if (given == NULL) {
		ipam_subnet_gateway_format(&sub, out, len);
		return 0;
	}
	if (ipam_address_parse(given, &family, &addr, err) < 0)
		return -1;
	if (!ipam_subnet_contains(&sub, family, &addr))
		return berth_error_set(err, EINVAL, "gateway %s is not in %s", given, subnet);
	snprintf(out, len, "%s", given);
	return 0;
}

static int create_locked(const engine_paths *p, int dirfd, const char *name, const network_create_options *o,
			 network_def *out, berth_error **err)
{
	const char *driver = o->driver ? o->driver : "bridge";
	char subnet[64], gateway[64], subnet6[64] = "", gateway6[64] = "", bridge[16], now[40];
	_cleanup_free_ char *conflist = NULL, *owner = NULL, *dir = network_dir(p);
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	_cleanup_close_ int hlock = -EBADF;
	bool is_default = strcmp(name, NETWORK_DEFAULT) == 0;
	hostnet_bridge shared = { 0 }, claim = { 0 };
	ipam_subnet sub;
	json_t *j;
	int ret;

	if (strcmp(driver, "bridge") != 0 && strcmp(driver, "cni") != 0)
		return berth_error_set(err, EINVAL, "network create: driver \"%s\": expected bridge or cni", driver);
	if (strcmp(driver, "cni") == 0) {
		cni_network *net = NULL;
		char file[96];
		if (o->cni_config == NULL)
			return berth_error_set(err, EINVAL, "network create: --driver cni needs --cni-config FILE");
		if (cni_network_load(o->cni_config, &net, err) < 0)
			return -1;
		cni_network_free(net);
		if (fs_read_file(o->cni_config, &conflist, NULL, err) < 0)
			return -1;
		snprintf(file, sizeof(file), "%s.conflist", name);
		if (fs_write_file_atomic(dirfd, file, conflist, strlen(conflist), 0600, err) < 0)
			return -1;
		j = json_pack("{s:s, s:s, s:s, s:s}", "Name", name, "Driver", "cni", "CNIConfig", file, "Created",
			      engine_now_rfc3339(now));
		if (o->labels)
			json_object_set(j, "Labels", o->labels);
		ret = write_def(dirfd, j, name, err);
		if (ret == 0)
			ret = def_from_json(j, out, name, err);
		json_decref(j);
		return ret;
	}
	if (network_hostnet_open(p, &h, err) < 0 || (hlock = hostnet_lock(&h, err)) < 0)
		return berth_error_wrap(err, "network create %s", name);
	if (is_default && hostnet_bridge_load(&h, NETWORK_DEFAULT_BRIDGE, &shared, NULL) == 0) {
		/* another store made it: one default bridge per host */
		snprintf(subnet, sizeof(subnet), "%s", shared.subnet);
	} else if (o->subnet) {
		snprintf(subnet, sizeof(subnet), "%s", o->subnet);
		if (ipam_subnet_parse(subnet, &sub, err) < 0 || check_subnet(&h, subnet, NULL, err) < 0)
			return berth_error_wrap(err, "network create %s", name);
	} else if (is_default) {
		snprintf(subnet, sizeof(subnet), "%s", NETWORK_DEFAULT_SUBNET);
		if ((hostnet_subnet_routed(subnet, NETWORK_DEFAULT_BRIDGE) ||
		     hostnet_subnet_overlap(&h, subnet, NETWORK_DEFAULT_BRIDGE, NULL) == 1) &&
		    hostnet_next_subnet(&h, subnet, sizeof(subnet), NULL) == 0)
			berth_log(BERTH_LOG_WARNING, "network %s: the host routes %s already; using %s", name,
				  NETWORK_DEFAULT_SUBNET, subnet);
	} else if (hostnet_next_subnet(&h, subnet, sizeof(subnet), err) < 0) {
		return berth_error_wrap(err, "network create %s", name);
	}
	if (gateway_of(subnet, o->gateway, gateway, sizeof(gateway), err) < 0)
		return berth_error_wrap(err, "network create %s", name);
	if (o->ipv6 || o->subnet6) {
		/* a ULA /64 of its own, from the name, unless given */
		unsigned h6 = 0;
		for (const char *c = name; *c; c++)
			h6 = h6 * 31 + (unsigned char)*c;
		if (o->subnet6)
			snprintf(subnet6, sizeof(subnet6), "%s", o->subnet6);
		else
			snprintf(subnet6, sizeof(subnet6), "fd77:b3:%x::/64", h6 & 0xffff);
		if (gateway_of(subnet6, NULL, gateway6, sizeof(gateway6), err) < 0 ||
		    (!(is_default && shared.name[0]) && check_subnet(&h, subnet6, NULL, err) < 0))
			return berth_error_wrap(err, "network create %s", name);
	}
	if (is_default)
		snprintf(bridge, sizeof(bridge), "%s", NETWORK_DEFAULT_BRIDGE);
	else if (hostnet_next_bridge(&h, bridge, err) < 0)
		return berth_error_wrap(err, "network create %s", name);
	/* the bridge and its subnet are this network's from now on, for
	 * every store of the host */
	snprintf(claim.name, sizeof(claim.name), "%s", bridge);
	snprintf(claim.subnet, sizeof(claim.subnet), "%s", subnet);
	snprintf(claim.gateway, sizeof(claim.gateway), "%s", gateway);
	snprintf(claim.subnet6, sizeof(claim.subnet6), "%s", subnet6);
	snprintf(claim.gateway6, sizeof(claim.gateway6), "%s", gateway6);
	claim.internal = o->internal;
	if (!is_default && dir && asprintf(&owner, "%s/%s.json", dir, name) >= 0)
		snprintf(claim.owner, sizeof(claim.owner), "%s", owner);
	if (!(is_default && shared.name[0]) && hostnet_bridge_claim(&h, &claim, err) < 0)
		return berth_error_wrap(err, "network create %s", name);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:i, s:s}", "Name", name, "Driver", "bridge", "Bridge", bridge,
		      "Subnet", subnet, "Gateway", gateway, "Internal", o->internal, "MTU", o->mtu ? (int)o->mtu : 1500,
		      "Created", engine_now_rfc3339(now));
	if (gateway6[0]) {
		json_object_set_new(j, "Subnet6", json_string(subnet6));
		json_object_set_new(j, "Gateway6", json_string(gateway6));
	}
	if (o->labels)
		json_object_set(j, "Labels", o->labels);
	ret = write_def(dirfd, j, name, err);
	if (ret == 0)
		ret = def_from_json(j, out, name, err);
	json_decref(j);
	return ret;
}

/* The network of every container a killed command left half made, or
 * whose record went without its network (hostnet_sweep): listing and
 * changing networks takes them down. */
static void sweep(const engine_paths *p)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	berth_error *e = NULL;
	int n;

	if (network_hostnet_open(p, &h, &e) < 0) {
		berth_debug("networks: %s", e->msg);
		berth_error_free(&e);
		return;
	}
	n = hostnet_sweep(&h);
	if (n > 0)
		berth_debug("networks: took down the network of %d container(s) gone", n);
}

int network_create(const engine_paths *p, const char *name, const network_create_options *o, network_def *out,
		   berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF, lock = -EBADF;
	network_def existing;

	if (!valid_name(name))
		return berth_error_set(
		    err, EINVAL, "network create: invalid name \"%s\" (letters, digits, _ . -; at most 64)", name);
	if (strcmp(name, "none") == 0 || strcmp(name, "host") == 0 || strcmp(name, "bridge") == 0)
		return berth_error_set(err, EINVAL, "network create: \"%s\" is a reserved name", name);
	sweep(p);
	lock = lock_networks(p, true, &dirfd, err);
	if (lock < 0)
		return -1;
	if (read_def(dirfd, name, &existing, NULL) == 0) {
		network_def_free(&existing);
		return berth_error_set(err, EEXIST, "network create: network \"%s\" already exists", name);
	}
	return create_locked(p, dirfd, name, o, out, err);
}

int network_load(const engine_paths *p, const char *name, network_def *out, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF, lock = -EBADF;
	network_create_options o = { 0 };
	int ret;

	if (strcmp(name, "bridge") == 0)
		name = NETWORK_DEFAULT; /* docker's name of the default */
	lock = lock_networks(p, false, &dirfd, err);
	if (lock < 0)
		return -1;
	ret = read_def(dirfd, name, out, err);
	if (ret != -ENOENT)
		return ret;
	if (strcmp(name, NETWORK_DEFAULT) != 0)
		return berth_error_set(err, ENOENT, "no such network: %s", name);
	/* the default network is made on first use, under the exclusive lock */
	close(lock);
	close(dirfd);
	lock = lock_networks(p, true, &dirfd, err);
	if (lock < 0)
		return -1;
	ret = read_def(dirfd, name, out, err);
	if (ret != -ENOENT)
		return ret;
	return create_locked(p, dirfd, name, &o, out, err);
}

int network_list(const engine_paths *p, network_def **out, size_t *n, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF, lock = -EBADF;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;
	network_def *list = NULL;
	size_t count = 0;

	sweep(p);
	lock = lock_networks(p, false, &dirfd, err);
	if (lock < 0)
		return -1;
	/* a new open file: a dup would share (and move) DIRFD's offset */
	d = fdopendir(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	while (d && (e = readdir(d)) != NULL) {
		char name[80];
		size_t l = strlen(e->d_name);
		network_def def, *grown;
		if (l < 6 || l - 5 >= sizeof(name) || strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), e->d_name);
		if (read_def(dirfd, name, &def, NULL) < 0)
			continue;
		grown = realloc(list, (count + 1) * sizeof(*list));
		if (grown == NULL) {
			network_def_free(&def);
			break;
		}
		list = grown;
		list[count++] = def;
	}
	*out = list;
	*n = count;
	return 0;
}

/* The names of the containers whose record puts them on NAME. */
static int users_of(const engine_paths *p, const char *name, char *buf, size_t len, berth_error **err)
{
	container **list = NULL;
	size_t n = 0, used = 0;

	buf[0] = '\0';
	if (record_list(p, &list, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *net =
		    json_string_value(json_object_get(json_object_get(list[i]->config, "NetworkSettings"), "Network"));
		if (net && strcmp(net, name) == 0 && used + strlen(list[i]->name) + 3 < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", list[i]->name);
	}
	record_list_free(list, n);
	return 0;
}

/* Takes down the bridge of D and its rules and forgets them host-wide,
 * unless a container of any store still has an address on it, or the
 * bridge is another network's (under the host-wide lock). */
static int remove_bridge(const engine_paths *p, const network_def *d, berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	_cleanup_close_ int hlock = -EBADF;
	_cleanup_free_ char *owner = network_bridge_owner(p, d);
	const char *subnets[3] = { d->subnet, d->subnet6, NULL };
	struct nft_network net = { .bridge = d->bridge, .subnets = subnets, .internal = d->internal };
	hostnet_bridge b;
	char users[512];
	berth_error *e = NULL;

	if (owner == NULL || network_hostnet_open(p, &h, err) < 0 || (hlock = hostnet_lock(&h, err)) < 0)
		return -1;
	if (hostnet_bridge_load(&h, d->bridge, &b, NULL) == 0 && strcmp(b.owner, owner) != 0) {
		berth_log(BERTH_LOG_WARNING, "network %s: bridge %s is %s's now; left alone", d->name, d->bridge,
			  b.owner[0] ? b.owner : "the default network");
		return 0;
	}
	hostnet_bridge_users(&h, d->bridge, users, sizeof(users));
	if (users[0])
		return berth_error_request(err, EBUSY, "network %s is in use by container(s) %s", d->name, users);
	if (nft_network_remove(&net, &e) < 0) {
		berth_log(BERTH_LOG_WARNING, "network %s: %s", d->name, e->msg);
		berth_error_free(&e);
	}
	if (netlink_link_delete(d->bridge, &e) < 0) {
		berth_log(BERTH_LOG_WARNING, "network %s: %s", d->name, e->msg);
		berth_error_free(&e);
	}
	hostnet_bridge_forget(&h, d->bridge);
	return 0;
}

int network_remove(const engine_paths *p, const char *name, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF, lock = -EBADF;
	network_def def;
	char users[512], file[96];
	int ret;

	if (strcmp(name, NETWORK_DEFAULT) == 0 || strcmp(name, "bridge") == 0)
		return berth_error_request(
		    err, EPERM,
		    "network %s is the default network: it cannot be removed (every store of the "
		    "host shares its bridge %s)",
		    name, NETWORK_DEFAULT_BRIDGE);
	sweep(p);
	lock = lock_networks(p, true, &dirfd, err);
	if (lock < 0)
		return -1;
	ret = read_def(dirfd, name, &def, err);
	if (ret == -ENOENT)
		return berth_error_set(err, ENOENT, "no such network: %s", name);
	if (ret < 0)
		return -1;
	if (users_of(p, def.name, users, sizeof(users), err) < 0)
		goto out;
	if (users[0]) {
		ret = berth_error_set(err, EBUSY, "network %s is in use by container(s) %s", def.name, users);
		goto out;
	}
	if (strcmp(def.driver, "bridge") == 0) {
		if ((ret = remove_bridge(p, &def, err)) < 0)
			goto out;
	} else {
		snprintf(file, sizeof(file), "%s.conflist", def.name);
		unlinkat(dirfd, file, 0);
	}
	/* leases of an older berth, kept in the store */
	snprintf(file, sizeof(file), "%s.leases", def.name);
	fs_remove_tree_at(dirfd, file);
	snprintf(file, sizeof(file), "%s.json", def.name);
	if (unlinkat(dirfd, file, 0) < 0)
		ret = berth_error_set(err, errno, "remove network %s", def.name);
out:
	network_def_free(&def);
	return ret;
}
