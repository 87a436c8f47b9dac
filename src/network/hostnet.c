/* Host-wide bookkeeping of berth's networks (see hostnet.h). */
#include "network/hostnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "network/ipam.h"
#include "network/netlink.h"
#include "network/netns.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* ---- the directory ---- */

static bool same_netns_as_init(void)
{
	struct stat self, init;

	return stat("/proc/self/ns/net", &self) == 0 && stat("/proc/1/ns/net", &init) == 0 &&
	       self.st_dev == init.st_dev && self.st_ino == init.st_ino;
}

char *hostnet_default_dir(const char *rootless_run_root)
{
	const char *env = getenv(HOSTNET_ENV);
	unsigned long long cookie = 0;
	socklen_t len = sizeof(cookie);
	char *out = NULL;
	int fd;

	if (env && env[0])
		return strdup(env);
	if (rootless_run_root)
		return fs_path_join(rootless_run_root, "network");
	if (same_netns_as_init())
		return strdup(HOSTNET_DEFAULT_DIR);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) == 0) {
		if (asprintf(&out, "%s/netns-%llu", HOSTNET_DEFAULT_DIR, cookie) < 0)
			out = NULL;
	} else {
		struct stat st;
		/* kernels before 5.14: the inode, which a later namespace may reuse */
		if (stat("/proc/self/ns/net", &st) == 0 &&
		    asprintf(&out, "%s/netns-ino-%llu", HOSTNET_DEFAULT_DIR, (unsigned long long)st.st_ino) < 0)
			out = NULL;
	}
	if (fd >= 0)
		close(fd);
	return out;
}

int hostnet_open(const char *dir, hostnet *out, berth_error **err)
{
	static const char *const subdirs[] = { "bridges", "leases", "ports", "owners", "hosts", "services" };

	out->dir = NULL;
	out->dirfd = -EBADF;
	if (fs_mkdir_p(dir, 0700, err) < 0)
		return berth_error_wrap(err, "host-wide network directory");
	out->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (out->dirfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", dir);
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if (mkdirat(out->dirfd, subdirs[i], 0700) < 0 && errno != EEXIST) {
			berth_error_set(err, errno, "mkdir \"%s/%s\"", dir, subdirs[i]);
			hostnet_close(out);
			return -1;
		}
	out->dir = strdup(dir);
	if (out->dir == NULL) {
		hostnet_close(out);
		return berth_error_set(err, ENOMEM, "host-wide network directory");
	}
	return 0;
}

void hostnet_close(hostnet *h)
{
	free(h->dir);
	h->dir = NULL;
	cleanup_closep(&h->dirfd);
}

static int lock_at(int dirfd, const char *name, const char *what, berth_error **err)
{
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return berth_error_set(err, errno, "lock %s", what);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int saved = errno;
			close(fd);
			return berth_error_set(err, saved, "lock %s", what);
		}
	return fd;
}

int hostnet_lock(const hostnet *h, berth_error **err)
{
	return lock_at(h->dirfd, "lock", h->dir, err);
}

static json_t *load_json_at(int dirfd, const char *name)
{
	_cleanup_free_ char *text = NULL;

	if (fs_read_file_at(dirfd, name, &text, NULL, NULL) < 0)
		return NULL;
	return json_loads(text, 0, NULL);
}

/* Replaces SUB/NAME of DIRFD (the temp file beside it, in SUB). */
static int save_json_at(int dirfd, const char *sub, const char *name, json_t *j, const char *what, berth_error **err)
{
	_cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
	_cleanup_close_ int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (text == NULL)
		return berth_error_set(err, ENOMEM, "%s", what);
	if (fd < 0)
		return berth_error_set(err, errno, "%s: open %s", what, sub);
	return fs_write_file_replace(fd, name, text, strlen(text), 0600, err);
}

/* ---- bridges ---- */

static void copy_string(char *out, size_t len, json_t *j, const char *key)
{
	snprintf(out, len, "%s", json_string_value(json_object_get(j, key)) ?: "");
}

int hostnet_bridge_load(const hostnet *h, const char *name, hostnet_bridge *out, berth_error **err)
{
	char file[IFNAMSIZ + 16];
	json_t *j;

	memset(out, 0, sizeof(*out));
	snprintf(file, sizeof(file), "bridges/%s.json", name);
	j = load_json_at(h->dirfd, file);
	if (j == NULL) {
		if (faccessat(h->dirfd, file, F_OK, 0) < 0)
			return -ENOENT;
		return berth_error_set(err, EINVAL, "%s/%s: not a bridge record", h->dir, file);
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	copy_string(out->subnet, sizeof(out->subnet), j, "Subnet");
	copy_string(out->gateway, sizeof(out->gateway), j, "Gateway");
	copy_string(out->subnet6, sizeof(out->subnet6), j, "Subnet6");
	copy_string(out->gateway6, sizeof(out->gateway6), j, "Gateway6");
	copy_string(out->owner, sizeof(out->owner), j, "Owner");
	out->internal = json_is_true(json_object_get(j, "Internal"));
	json_decref(j);
	return 0;
}

int hostnet_bridge_claim(const hostnet *h, const hostnet_bridge *b, berth_error **err)
{
	hostnet_bridge old;
	char file[IFNAMSIZ + 16];
	json_t *j;
	int ret = hostnet_bridge_load(h, b->name, &old, err);

	if (ret == 0) {
		if (strcmp(old.subnet, b->subnet) != 0 || strcmp(old.owner, b->owner) != 0)
			return berth_error_request(err, EEXIST, "bridge %s is already %s's, with subnet %s", b->name,
						   old.owner[0] ? old.owner : "the default network", old.subnet);
		return 0;
	}
	if (ret != -ENOENT)
		return -1;
	j = json_pack("{s:s, s:s, s:s, s:b, s:s}", "Subnet", b->subnet, "Gateway", b->gateway, "Owner", b->owner,
		      "Internal", b->internal, "Bridge", b->name);
	if (j && b->subnet6[0]) {
		json_object_set_new(j, "Subnet6", json_string(b->subnet6));
		json_object_set_new(j, "Gateway6", json_string(b->gateway6));
	}
	snprintf(file, sizeof(file), "%s.json", b->name);
	ret = j ? save_json_at(h->dirfd, "bridges", file, j, "bridge record", err)
		: berth_error_set(err, ENOMEM, "bridge");
	json_decref(j);
	return ret;
}

void hostnet_bridge_forget(const hostnet *h, const char *name)
{
	char file[IFNAMSIZ + 16];

	snprintf(file, sizeof(file), "leases/%s", name);
	fs_remove_tree_at(h->dirfd, file);
	snprintf(file, sizeof(file), "hosts/%s", name);
	fs_remove_tree_at(h->dirfd, file);
	snprintf(file, sizeof(file), "bridges/%s.ready", name);
	unlinkat(h->dirfd, file, 0);
	snprintf(file, sizeof(file), "bridges/%s.json", name);
	unlinkat(h->dirfd, file, 0);
}

static bool overlap(const char *a, const char *b)
{
	ipam_subnet x, y;
	unsigned prefix;

	if (a == NULL || b == NULL || !a[0] || !b[0] || ipam_subnet_parse(a, &x, NULL) < 0 ||
	    ipam_subnet_parse(b, &y, NULL) < 0 || x.family != y.family)
		return false;
	/* equal under the shorter of the two prefixes */
	prefix = x.prefix < y.prefix ? x.prefix : y.prefix;
	for (unsigned i = 0; i < prefix; i++) {
		unsigned char bit = (unsigned char)(0x80 >> (i % 8));
		if ((x.network.bytes[i / 8] & bit) != (y.network.bytes[i / 8] & bit))
			return false;
	}
	return true;
}

/* Calls FN for every entry of the subdirectory SUB with the suffix SUFFIX
 * (dropped from the name given); stops when FN returns non-zero. */
static int for_each_entry(int dirfd, const char *sub, const char *suffix, int (*fn)(const char *name, void *data),
			  void *data)
{
	_cleanup_closedir_ DIR *d = fdopendir(openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	size_t slen = suffix ? strlen(suffix) : 0;
	struct dirent *e;
	int ret = 0;

	while (ret == 0 && d && (e = readdir(d)) != NULL) {
		char name[256];
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l <= slen || (slen && strcmp(e->d_name + l - slen, suffix) != 0))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(l - slen), e->d_name);
		ret = fn(name, data);
	}
	return ret;
}

struct overlap_query {
	const hostnet *h;
	const char *cidr, *except;
	char *found;
};

static int overlap_one(const char *name, void *data)
{
	struct overlap_query *q = data;
	hostnet_bridge b;

	if ((q->except && strcmp(name, q->except) == 0) || hostnet_bridge_load(q->h, name, &b, NULL) < 0)
		return 0;
	if (!overlap(b.subnet, q->cidr) && !overlap(b.subnet6, q->cidr))
		return 0;
	if (q->found)
		snprintf(q->found, IFNAMSIZ, "%s", name);
	return 1;
}

int hostnet_subnet_overlap(const hostnet *h, const char *cidr, const char *except, char *owner_bridge)
{
	struct overlap_query q = { h, cidr, except, owner_bridge };

	return for_each_entry(h->dirfd, "bridges", ".json", overlap_one, &q);
}

/* Whether a route of this thread's network namespace (IPv4) matches CIDR
 * by MATCH, given the route's interface, destination and mask and CIDR's
 * network and mask (network byte order). */
static bool route_matching(const char *cidr, const char *other,
			   bool (*match)(const char *iface, uint32_t dest, uint32_t mask, uint32_t net, uint32_t maskn,
					 const char *other))
{
	_cleanup_fclose_ FILE *f = fopen("/proc/thread-self/net/route", "re");
	char line[256], iface[IFNAMSIZ + 1];
	unsigned int dest, mask, prefix;
	struct in_addr net;
	char addr[32];
	uint32_t maskn;

	if (f == NULL || sscanf(cidr, "%31[^/]/%u", addr, &prefix) != 2 || prefix > 32 ||
	    inet_pton(AF_INET, addr, &net) != 1)
		return false;
	maskn = prefix ? htonl(~0U << (32 - prefix)) : 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%16s %x %*x %*x %*d %*d %*d %x", iface, &dest, &mask) == 3 &&
		    match(iface, dest, mask, net.s_addr, maskn, other))
			return true;
	return false;
}

/* overlap: equal under the shorter of the two masks (EXCEPT's routes and
 * the default route aside) */
static bool overlaps(const char *iface, uint32_t dest, uint32_t mask, uint32_t net, uint32_t maskn, const char *except)
{
	return mask != 0 && !(except && strcmp(iface, except) == 0) && ((dest ^ net) & (mask & maskn)) == 0;
}

bool hostnet_subnet_routed(const char *cidr, const char *except)
{
	return route_matching(cidr, except, overlaps);
}

static bool is_route_via(const char *iface, uint32_t dest, uint32_t mask, uint32_t net, uint32_t maskn, const char *dev)
{
	return strcmp(iface, dev) == 0 && mask == maskn && dest == (net & maskn);
}

bool hostnet_route_via(const char *cidr, const char *dev)
{
	return route_matching(cidr, dev, is_route_via);
}

int hostnet_next_bridge(const hostnet *h, char out[IFNAMSIZ], berth_error **err)
{
	for (unsigned k = 1; k < 10000; k++) {
		char file[IFNAMSIZ + 16];
		snprintf(out, IFNAMSIZ, "berth%u", k);
		snprintf(file, sizeof(file), "bridges/%s.json", out);
		if (faccessat(h->dirfd, file, F_OK, 0) < 0 && netlink_link_exists(out, NULL) != 1)
			return 0;
	}
	return berth_error_set(err, ENOSPC, "no free bridge name berth1..berth9999");
}

int hostnet_next_subnet(const hostnet *h, char *out, size_t len, berth_error **err)
{
	for (unsigned k = 0; k < 256 * 8; k++) {
		snprintf(out, len, "10.%u.%u.0/24", 78 + k / 256, k % 256);
		if (!hostnet_subnet_overlap(h, out, NULL, NULL) && !hostnet_subnet_routed(out, NULL))
			return 0;
	}
	return berth_error_set(err, ENOSPC, "no free subnet in 10.78.0.0/13; give --subnet");
}

char *hostnet_leases_dir(const hostnet *h, const char *bridge)
{
	char *out = NULL;

	return asprintf(&out, "%s/leases/%s", h->dir, bridge) < 0 ? NULL : out;
}

/* ---- owners ---- */

static void owner_file(const char *id, char *out, size_t len)
{
	snprintf(out, len, "owners/%.64s.json", id);
}

json_t *hostnet_owner_load(const hostnet *h, const char *id)
{
	char file[96];
	json_t *j;

	owner_file(id, file, sizeof(file));
	j = load_json_at(h->dirfd, file);
	return json_is_object(j) ? j : (json_decref(j), json_object());
}

int hostnet_owner_save(const hostnet *h, const char *id, json_t *owner, berth_error **err)
{
	char file[96];

	snprintf(file, sizeof(file), "%.64s.json", id);
	return save_json_at(h->dirfd, "owners", file, owner, "network record", err);
}

/* Whether the container record RECORD was saved with its network: the
 * command that set the network up finished. */
static bool record_has_network(const char *record)
{
	_cleanup_free_ char *path = fs_path_join(record, "config.json"), *text = NULL;

	return path && fs_read_file(path, &text, NULL, NULL) == 0 && strstr(text, "\"NetworkSettings\"") != NULL;
}

bool hostnet_owner_alive(const hostnet *h, const char *id)
{
	json_t *j = hostnet_owner_load(h, id);
	const char *record = json_string_value(json_object_get(j, "Record"));
	pid_t creator = (pid_t)json_integer_value(json_object_get(j, "Creator"));
	unsigned long long start = (unsigned long long)json_integer_value(json_object_get(j, "CreatorStart"));
	struct stat st;
	bool alive = record && stat(record, &st) == 0 && S_ISDIR(st.st_mode) &&
		     ((creator > 0 && start && proc_pid_start_time(creator) == start) || record_has_network(record));

	json_decref(j);
	return alive;
}

static bool lease_owner_alive(const char *owner, void *data)
{
	return hostnet_owner_alive(data, owner);
}

void hostnet_bridge_users(const hostnet *h, const char *bridge, char *buf, size_t len)
{
	_cleanup_free_ char *dir = hostnet_leases_dir(h, bridge);
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_close_ int dfd = -EBADF;
	berth_error *e = NULL;
	struct dirent *ent;
	size_t used = 0;

	buf[0] = '\0';
	if (dir == NULL)
		return;
	if (ipam_sweep(dir, lease_owner_alive, (void *)h, &e) < 0)
		berth_error_free(&e);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = dfd >= 0 ? fdopendir(openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) : NULL;
	while (d && (ent = readdir(d)) != NULL) {
		_cleanup_free_ char *owner = NULL;
		ipam_address addr;
		int family;
		if (ipam_address_parse(ent->d_name, &family, &addr, NULL) < 0 ||
		    fs_read_file_at(dfd, ent->d_name, &owner, NULL, NULL) < 0)
			continue;
		owner[strcspn(owner, "\n")] = '\0';
		if (used + 16 < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%.12s", used ? ", " : "", owner);
	}
}

/* ---- ports ---- */

static void port_file(const struct nft_port *p, char *out, size_t len)
{
	snprintf(out, len, "ports/%s_%s_%u", p->proto == IPPROTO_UDP ? "udp" : "tcp",
		 p->host_ip && p->host_ip[0] ? p->host_ip : "*", p->host_port);
}

/* The id claiming P into OWNER (80 bytes): 1, 0 when unclaimed. */
static int port_claimant(const hostnet *h, const struct nft_port *p, char *owner, size_t len)
{
	_cleanup_free_ char *text = NULL;
	char file[INET6_ADDRSTRLEN + 32];

	port_file(p, file, sizeof(file));
	if (fs_read_file_at(h->dirfd, file, &text, NULL, NULL) < 0)
		return 0;
	text[strcspn(text, "\n")] = '\0';
	snprintf(owner, len, "%s", text);
	return 1;
}

static bool is_service_claim(const char *owner)
{
	return strncmp(owner, HOSTNET_SERVICE_CLAIM, strlen(HOSTNET_SERVICE_CLAIM)) == 0;
}

/* A node port claim whose service has no record: its command was killed
 * between the two (the record is written first, so not while it runs). */
static bool service_claim_dead(const hostnet *h, const char *owner)
{
	char file[300];

	if (!is_service_claim(owner))
		return false;
	snprintf(file, sizeof(file), "services/%.200s.json", owner + strlen(HOSTNET_SERVICE_CLAIM));
	return faccessat(h->dirfd, file, F_OK, 0) < 0 && errno == ENOENT;
}

/* With the ports lock held: P's element out of nftables and its claim
 * gone, when OWNER claims it. */
static void port_release_locked(const hostnet *h, const struct nft_port *p, const char *owner)
{
	char file[INET6_ADDRSTRLEN + 32], claimant[80];
	berth_error *e = NULL;

	if (port_claimant(h, p, claimant, sizeof(claimant)) != 1 || strcmp(claimant, owner) != 0)
		return;
	if (owner[0] && !is_service_claim(owner) && nft_ports_remove(p, 1, &e) < 0) {
		if (e->code != ENOENT)
			berth_debug("network of %.12s: %s", owner, e->msg);
		berth_error_free(&e);
	}
	port_file(p, file, sizeof(file));
	unlinkat(h->dirfd, file, 0);
}

static int ports_lock(const hostnet *h, berth_error **err)
{
	return lock_at(h->dirfd, "ports/lock", "published ports", err);
}

int hostnet_ports_publish(const hostnet *h, const char *id, const struct nft_port *ports, size_t n, berth_error **err)
{
	_cleanup_free_ bool *fresh = NULL;
	_cleanup_free_ struct nft_port *add = NULL;
	_cleanup_close_ int lock = -EBADF;
	char owner[80], file[INET6_ADDRSTRLEN + 32], what[80];
	size_t n_add = 0;
	int ret = 0;

	if (n == 0)
		return 0;
	/* a port a dead container still claims: its whole network goes first */
	for (size_t i = 0; i < n; i++)
		if (port_claimant(h, &ports[i], owner, sizeof(owner)) == 1 && strcmp(owner, id) != 0 && owner[0] &&
		    !is_service_claim(owner) && !hostnet_owner_alive(h, owner)) {
			berth_debug("port %u: container %.12s is gone; taking down its network", ports[i].host_port,
				    owner);
			hostnet_teardown(h, owner);
		}
	fresh = calloc(n, sizeof(*fresh));
	add = calloc(n, sizeof(*add));
	if (fresh == NULL || add == NULL)
		return berth_error_set(err, ENOMEM, "publish ports");
	lock = ports_lock(h, err);
	if (lock < 0)
		return -1;
	for (size_t i = 0; i < n && ret == 0; i++) {
		_cleanup_close_ int fd = -EBADF;
		port_file(&ports[i], file, sizeof(file));
		nft_port_describe(&ports[i], what, sizeof(what));
		if (port_claimant(h, &ports[i], owner, sizeof(owner)) == 1) {
			if (owner[0] == '\0' || service_claim_dead(h, owner)) /* its claimant died writing it */
				port_release_locked(h, &ports[i], owner);
			else if (strcmp(owner, id) == 0)
				continue;
			else if (is_service_claim(owner))
				ret = berth_error_request(err, EEXIST,
							  "publish port %s: already the node port of service %s", what,
							  owner + strlen(HOSTNET_SERVICE_CLAIM));
			else
				ret = berth_error_request(
				    err, EEXIST, "publish port %s: already published by container %.12s", what, owner);
		}
		if (ret < 0)
			break;
		fd = openat(h->dirfd, file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || write(fd, id, strlen(id)) != (ssize_t)strlen(id)) {
			ret = berth_error_set(err, errno ? errno : EIO, "publish port %s: claim %s/%s", what, h->dir,
					      file);
			if (fd >= 0)
				unlinkat(h->dirfd, file, 0);
			break;
		}
		fresh[i] = true;
		add[n_add++] = ports[i];
	}
	/* a port ID claims already is published already (a start of a
	 * container whose ports were kept) */
	if (ret == 0 && n_add && nft_ports_add(add, n_add, err) < 0)
		ret = -1;
	if (ret < 0)
		for (size_t i = 0; i < n; i++)
			if (fresh[i]) {
				port_file(&ports[i], file, sizeof(file));
				unlinkat(h->dirfd, file, 0);
			}
	return ret;
}

void hostnet_ports_unpublish(const hostnet *h, const char *id, const struct nft_port *ports, size_t n)
{
	_cleanup_close_ int lock = -EBADF;
	berth_error *e = NULL;

	if (n == 0)
		return;
	lock = ports_lock(h, &e);
	if (lock < 0) {
		berth_debug("network of %.12s: %s", id, e->msg);
		berth_error_free(&e);
		return;
	}
	for (size_t i = 0; i < n; i++)
		port_release_locked(h, &ports[i], id);
}

int hostnet_port_claim(const hostnet *h, const char *claimant, int proto, uint16_t port, berth_error **err)
{
	struct nft_port p = { .proto = proto, .host_port = port };
	_cleanup_close_ int lock = -EBADF, fd = -EBADF;
	char owner[80], file[INET6_ADDRSTRLEN + 32], what[80];

	nft_port_describe(&p, what, sizeof(what));
	if (port_claimant(h, &p, owner, sizeof(owner)) == 1 && owner[0] && strcmp(owner, claimant) != 0 &&
	    !is_service_claim(owner) && !hostnet_owner_alive(h, owner))
		hostnet_teardown(h, owner);
	lock = ports_lock(h, err);
	if (lock < 0)
		return -1;
	if (port_claimant(h, &p, owner, sizeof(owner)) == 1) {
		if (strcmp(owner, claimant) == 0)
			return 0;
		if (owner[0] != '\0' && !service_claim_dead(h, owner)) {
			if (is_service_claim(owner))
				return berth_error_request(err, EEXIST, "port %s: already the node port of service %s",
							   what, owner + strlen(HOSTNET_SERVICE_CLAIM));
			return berth_error_request(err, EEXIST, "port %s: already published by container %.12s", what,
						   owner);
		}
		port_release_locked(h, &p, owner);
	}
	port_file(&p, file, sizeof(file));
	fd = openat(h->dirfd, file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, claimant, strlen(claimant)) != (ssize_t)strlen(claimant)) {
		int saved = errno ? errno : EIO;
		if (fd >= 0)
			unlinkat(h->dirfd, file, 0);
		return berth_error_set(err, saved, "port %s: claim %s/%s", what, h->dir, file);
	}
	return 0;
}

struct holder_query {
	const hostnet *h;
	char prefix[8], suffix[8];
	const char *except;
	char *out;
	size_t len;
};

/* Claim file NAME ("PROTO_ADDR_PORT") of the port asked, held by a live
 * claimant: 1, which stops the walk. */
static int holder_one(const char *name, void *data)
{
	struct holder_query *q = data;
	size_t l = strlen(name), sl = strlen(q->suffix);
	struct nft_port p = { 0 };
	char owner[80], addr[INET6_ADDRSTRLEN + 1];

	if (strncmp(name, q->prefix, strlen(q->prefix)) != 0 || l <= strlen(q->prefix) + sl ||
	    strcmp(name + l - sl, q->suffix) != 0 || l - strlen(q->prefix) - sl >= sizeof(addr))
		return 0;
	snprintf(addr, sizeof(addr), "%.*s", (int)(l - strlen(q->prefix) - sl), name + strlen(q->prefix));
	p.proto = strcmp(q->prefix, "udp_") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
	p.host_ip = strcmp(addr, "*") == 0 ? NULL : addr;
	p.host_port = (uint16_t)atoi(q->suffix + 1);
	if (port_claimant(q->h, &p, owner, sizeof(owner)) != 1 || owner[0] == '\0' ||
	    (q->except && strcmp(owner, q->except) == 0))
		return 0;
	if (is_service_claim(owner) ? service_claim_dead(q->h, owner) : !hostnet_owner_alive(q->h, owner))
		return 0;
	snprintf(q->out, q->len, "%s", owner);
	return 1;
}

int hostnet_port_holder(const hostnet *h, int proto, uint16_t port, const char *except, char *out, size_t len)
{
	struct holder_query q = { .h = h, .except = except, .out = out, .len = len };

	out[0] = '\0';
	snprintf(q.prefix, sizeof(q.prefix), "%s_", proto == IPPROTO_UDP ? "udp" : "tcp");
	snprintf(q.suffix, sizeof(q.suffix), "_%u", port);
	return for_each_entry(h->dirfd, "ports", NULL, holder_one, &q) == 1 ? 1 : 0;
}

void hostnet_port_release(const hostnet *h, const char *claimant, int proto, uint16_t port)
{
	struct nft_port p = { .proto = proto, .host_port = port };
	_cleanup_close_ int lock = -EBADF;
	berth_error *e = NULL;

	lock = ports_lock(h, &e);
	if (lock < 0) {
		berth_debug("%s: %s", claimant, e->msg);
		berth_error_free(&e);
		return;
	}
	port_release_locked(h, &p, claimant);
}

struct nft_port *hostnet_ports_of(json_t *ports, size_t *n)
{
	struct nft_port *out = calloc(json_array_size(ports) + 1, sizeof(*out));
	json_t *v;
	size_t i;

	*n = 0;
	if (out == NULL)
		return NULL;
	json_array_foreach(ports, i, v) {
		struct nft_port *pt = &out[(*n)++];
		pt->proto = strcmp(json_string_value(json_object_get(v, "Protocol")) ?: "tcp", "udp") == 0
				? IPPROTO_UDP
				: IPPROTO_TCP;
		pt->host_ip = json_string_value(json_object_get(v, "HostIp"));
		pt->host_port = (uint16_t)json_integer_value(json_object_get(v, "HostPort"));
		pt->container_ip = json_string_value(json_object_get(v, "ContainerIp"));
		pt->container_port = (uint16_t)json_integer_value(json_object_get(v, "ContainerPort"));
	}
	return out;
}

/* ---- hosts files ---- */

/* hosts/BRIDGE opened (made) and locked: its fd, the lock in *LOCK. */
static int hosts_dir_open(const hostnet *h, const char *bridge, int *lock)
{
	char sub[IFNAMSIZ + 8];
	int fd;

	snprintf(sub, sizeof(sub), "hosts/%s", bridge);
	if (mkdirat(h->dirfd, sub, 0700) < 0 && errno != EEXIST)
		return -1;
	fd = openat(h->dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	*lock = lock_at(fd, ".lock", sub, NULL);
	if (*lock < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One entry, "PATH\nLINE", read into BUF: *PATH and *LINE point into it. */
static bool entry_read(int dirfd, const char *name, char *buf, size_t len, char **path, char **line)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;
	char *nl;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	if (nl == NULL || nl[1] == '\0')
		return false;
	*nl = '\0';
	*path = buf;
	*line = nl + 1;
	return true;
}

static void append_text(int fd, const char *path, const char *text)
{
	if (fd >= 0 && write(fd, text, strlen(text)) < 0)
		berth_debug("hosts file %s: %s", path, strerror(errno));
}

void hostnet_hosts_join(const hostnet *h, const char *bridge, const char *id, const char *own_hosts, const char *line)
{
	_cleanup_close_ int lock = -EBADF, dirfd = hosts_dir_open(h, bridge, &lock), own = -EBADF;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ char *entry = NULL;
	struct dirent *e;
	char buf[1024];

	if (dirfd < 0 || asprintf(&entry, "%s\n%s", own_hosts, line) < 0)
		return;
	if (fs_write_file_replace(dirfd, id, entry, strlen(entry), 0600, NULL) < 0)
		return;
	own = open(own_hosts, O_WRONLY | O_APPEND | O_CLOEXEC);
	d = fdopendir(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	while (d && (e = readdir(d)) != NULL) {
		_cleanup_close_ int peer = -EBADF;
		char *path, *theirs;
		if (e->d_name[0] == '.' || strcmp(e->d_name, id) == 0 ||
		    !entry_read(dirfd, e->d_name, buf, sizeof(buf), &path, &theirs))
			continue;
		peer = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (peer < 0)
			continue; /* its container is being removed */
		append_text(peer, path, line);
		append_text(own, own_hosts, theirs);
	}
}

void hostnet_hosts_leave(const hostnet *h, const char *bridge, const char *id)
{
	_cleanup_close_ int lock = -EBADF, dirfd = hosts_dir_open(h, bridge, &lock);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;
	char buf[1024], needle[256], *path, *line, *marker;

	if (dirfd < 0 || !entry_read(dirfd, id, buf, sizeof(buf), &path, &line))
		return;
	marker = strstr(line, "# berth:");
	snprintf(needle, sizeof(needle), "%s", marker ? marker : line);
	unlinkat(dirfd, id, 0);
	d = fdopendir(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && entry_read(dirfd, e->d_name, buf, sizeof(buf), &path, &line))
			hostnet_hosts_drop(path, needle);
}

void hostnet_hosts_drop(const char *path, const char *needle)
{
	_cleanup_free_ char *text = NULL;
	char *w;
	int fd;

	if (fs_read_file(path, &text, NULL, NULL) < 0 || strstr(text, needle) == NULL)
		return;
	w = text;
	for (char *l = text, *next; *l; l = next) {
		next = strchr(l, '\n');
		next = next ? next + 1 : l + strlen(l);
		if (memmem(l, (size_t)(next - l), needle, strlen(needle)) == NULL) {
			memmove(w, l, (size_t)(next - l));
			w += next - l;
		}
	}
	/* in place: the file is bind-mounted into a container */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, text, (size_t)(w - text)) < 0)
		berth_debug("hosts file %s: %s", path, strerror(errno));
	close(fd);
}

/* ---- teardown ---- */

static void sweep_temps(int dirfd, const char *sub);

void hostnet_teardown(const hostnet *h, const char *id)
{
	json_t *j = hostnet_owner_load(h, id), *links = json_object_get(j, "Links"), *v;
	const char *nspath = json_string_value(json_object_get(j, "NetNS"));
	_cleanup_free_ struct nft_port *ports = NULL;
	berth_error *e = NULL;
	char file[96];
	bool detach = nspath == NULL;
	size_t i, n = 0;

	json_array_foreach(links, i, v) {
		const char *bridge = json_string_value(json_object_get(v, "Bridge"));
		if (bridge)
			hostnet_hosts_leave(h, bridge, id);
	}
	ports = hostnet_ports_of(json_object_get(j, "Ports"), &n);
	if (ports)
		hostnet_ports_unpublish(h, id, ports, n);
	/* the container ends go with the namespace, their host ends with them,
	 * in the background (deleting a veth here waits ~20 ms) */
	if (nspath && netns_remove(nspath, &e) < 0) {
		berth_debug("network of %.12s: %s", id, e->msg);
		berth_error_free(&e);
		detach = true;
	}
	json_array_foreach(links, i, v) {
		const char *bridge = json_string_value(json_object_get(v, "Bridge"));
		const char *veth = json_string_value(json_object_get(v, "Veth"));
		_cleanup_free_ char *leases = bridge ? hostnet_leases_dir(h, bridge) : NULL;
		if (veth && (detach || json_is_true(json_object_get(v, "Detach"))) && netlink_detach(veth, &e) < 0) {
			berth_debug("network of %.12s: %s", id, e->msg);
			berth_error_free(&e);
		}
		if (leases && ipam_release(leases, id, &e) < 0) {
			berth_debug("network of %.12s: %s", id, e->msg);
			berth_error_free(&e);
		}
	}
	json_decref(j);
	owner_file(id, file, sizeof(file));
	unlinkat(h->dirfd, file, 0);
}

struct sweep_state {
	const hostnet *h;
	int count;
};

static int sweep_one(const char *name, void *data)
{
	struct sweep_state *s = data;

	if (!hostnet_owner_alive(s->h, name)) {
		hostnet_teardown(s->h, name);
		s->count++;
	}
	return 0;
}

void hostnet_sweep_temps(const hostnet *h, const char *sub)
{
	sweep_temps(h->dirfd, sub);
}

/* The temporary files (".NAME.tmpPID", fs_write_file_replace) in SUB that
 * a killed writer left: those whose writer is gone. */
static void sweep_temps(int dirfd, const char *sub)
{
	_cleanup_close_ int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		const char *tmp = e->d_name[0] == '.' ? strstr(e->d_name, ".tmp") : NULL;
		char *end;
		long pid = tmp ? strtol(tmp + 4, &end, 10) : 0;
		if (pid > 0 && *end == '\0' && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			unlinkat(fd, e->d_name, 0);
	}
}

static int sweep_hosts_dir(const char *name, void *data)
{
	const hostnet *h = data;
	char sub[300];

	snprintf(sub, sizeof(sub), "hosts/%s", name);
	sweep_temps(h->dirfd, sub);
	return 0;
}

/* A claim left empty: its claimant was killed between making and writing
 * it (under the ports lock, which every claimant holds). */
static int sweep_empty_claim(const char *name, void *data)
{
	const hostnet *h = data;
	char file[300];
	struct stat st;

	snprintf(file, sizeof(file), "ports/%s", name);
	if (strcmp(name, "lock") != 0 && fstatat(h->dirfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_size == 0)
		unlinkat(h->dirfd, file, 0);
	return 0;
}

int hostnet_sweep(const hostnet *h)
{
	struct sweep_state s = { h, 0 };
	berth_error *e = NULL;
	int lock = ports_lock(h, &e);

	if (lock >= 0) {
		for_each_entry(h->dirfd, "ports", NULL, sweep_empty_claim, (void *)h);
		close(lock);
	} else {
		berth_error_free(&e);
	}

	for_each_entry(h->dirfd, "owners", ".json", sweep_one, &s);
	sweep_temps(h->dirfd, "owners");
	sweep_temps(h->dirfd, "bridges");
	for_each_entry(h->dirfd, "hosts", NULL, sweep_hosts_dir, (void *)h);
	return s.count;
}
