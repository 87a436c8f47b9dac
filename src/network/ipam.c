/* IP address management in a directory of lease files (see ipam.h). */
#include "network/ipam.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define LOCK_NAME "lock"
/* an owner is a container id or a name: one line, not a file's worth */
#define OWNER_MAX 256
/* the most candidate addresses one allocation tries */
#define SCAN_MAX (1u << 24)

/* Addresses as numbers: IPv4 in the low 32 bits. */
__extension__ typedef unsigned __int128 u128;

static unsigned int family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static u128 address_to_number(int family, const ipam_address *addr)
{
	size_t len = family_bits(family) / 8;
	u128 n = 0;

	for (size_t i = 0; i < len; i++)
		n = (n << 8) | addr->bytes[i];
	return n;
}

static void number_to_address(int family, u128 n, ipam_address *addr)
{
	size_t len = family_bits(family) / 8;

	memset(addr, 0, sizeof(*addr));
	for (size_t i = len; i > 0; i--) {
		addr->bytes[i - 1] = (unsigned char)(n & 0xff);
		n >>= 8;
	}
}

/* The host part's mask of a prefix: all ones below the prefix. */
static u128 host_mask(int family, unsigned int prefix)
{
	unsigned int host_bits = family_bits(family) - prefix;

	return host_bits >= 128 ? ~(u128)0 : (((u128)1 << host_bits) - 1);
}

static void format_address(int family, const ipam_address *addr, char *out, size_t outlen)
{
	if (inet_ntop(family, addr, out, outlen) == NULL && outlen > 0)
		out[0] = '\0';
}

int ipam_address_parse(const char *text, int *family, ipam_address *out, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	if (text != NULL && inet_pton(AF_INET, text, &out->v4) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (text != NULL && inet_pton(AF_INET6, text, &out->v6) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return berth_error_request(err, EINVAL, "invalid IP address \"%s\"", text ? text : "");
}

int ipam_subnet_parse(const char *cidr, ipam_subnet *out, berth_error **err)
{
	_cleanup_free_ char *copy = NULL;
	char *slash, *end;
	unsigned long prefix;
	u128 n, mask;

	memset(out, 0, sizeof(*out));
	copy = strdup(cidr ? cidr : "");
	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "parse subnet");
	slash = strchr(copy, '/');
	if (slash == NULL)
		return berth_error_request(err, EINVAL, "invalid subnet \"%s\": no /prefix", copy);
	*slash = '\0';
	if (ipam_address_parse(copy, &out->family, &out->network, NULL) < 0)
		return berth_error_request(err, EINVAL, "invalid subnet \"%s\": \"%s\" is not an IP address", cidr,
					   copy);
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno != 0 || prefix > family_bits(out->family))
		return berth_error_request(err, EINVAL,
					   "invalid subnet \"%s\": prefix length \"%s\" is not within 0..%u", cidr,
					   slash + 1, family_bits(out->family));
	out->prefix = (unsigned int)prefix;
	/* network, gateway, one address, (IPv4) broadcast */
	if (family_bits(out->family) - out->prefix < 2)
		return berth_error_request(err, EINVAL, "subnet %s is too small: it leaves no address for a container",
					   cidr);
	mask = host_mask(out->family, out->prefix);
	n = address_to_number(out->family, &out->network);
	if ((n & mask) != 0) {
		char net[IPAM_ADDRESS_MAX];
		number_to_address(out->family, n & ~mask, &out->network);
		format_address(out->family, &out->network, net, sizeof(net));
		return berth_error_request(err, EINVAL,
					   "invalid subnet \"%s\": host bits are set (the network is %s/%u)", cidr, net,
					   out->prefix);
	}
	number_to_address(out->family, n + 1, &out->gateway);
	return 0;
}

bool ipam_subnet_contains(const ipam_subnet *subnet, int family, const ipam_address *addr)
{
	u128 mask = host_mask(subnet->family, subnet->prefix);

	return family == subnet->family &&
	       (address_to_number(family, addr) & ~mask) == address_to_number(family, &subnet->network);
}

void ipam_subnet_format(const ipam_subnet *subnet, char *out, size_t outlen)
{
	char net[IPAM_ADDRESS_MAX];

	format_address(subnet->family, &subnet->network, net, sizeof(net));
	snprintf(out, outlen, "%s/%u", net, subnet->prefix);
}

void ipam_subnet_gateway_format(const ipam_subnet *subnet, char *out, size_t outlen)
{
	format_address(subnet->family, &subnet->gateway, out, outlen);
}

/* The lease directory, opened and locked; the lock goes with the fds. */
typedef struct lease_dir {
	int dirfd;
	int lockfd;
} lease_dir;

static void lease_dir_close(lease_dir *d)
{
	cleanup_closep(&d->lockfd);
	cleanup_closep(&d->dirfd);
}
#define _cleanup_lease_dir_ __attribute__((cleanup(lease_dir_close)))

/* Opens and locks DIR. With CREATE false a missing DIR returns -ENOENT and
 * sets no error. */
static int lease_dir_open(const char *dir, bool create, lease_dir *d, berth_error **err)
{
	d->dirfd = d->lockfd = -EBADF;
	if (create && fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	d->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->dirfd < 0) {
		if (errno == ENOENT && !create)
			return -ENOENT;
		return berth_error_set(err, errno, "open lease directory %s", dir);
	}
	d->lockfd = openat(d->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->lockfd < 0)
		return berth_error_set(err, errno, "open %s/%s", dir, LOCK_NAME);
	while (flock(d->lockfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return berth_error_set(err, errno, "lock %s/%s", dir, LOCK_NAME);
	return 0;
}

/* The owner recorded in the lease file NAME, trailing white space dropped. */
static int read_owner(int dirfd, const char *name, char **owner)
{
	char *text = NULL;
	size_t len;

	if (fs_read_file_at(dirfd, name, &text, &len, NULL) < 0)
		return -1;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	*owner = text;
	return 0;
}

static int check_owner(const char *owner, berth_error **err)
{
	if (owner == NULL || owner[0] == '\0' || strlen(owner) > OWNER_MAX || strpbrk(owner, "\n\r") != NULL)
		return berth_error_request(err, EINVAL, "invalid lease owner \"%s\": one line of 1 to %d bytes",
					   owner ? owner : "", OWNER_MAX);
	return 0;
}

/* State of one allocation: the temporary file holding the owner, linked to
 * each candidate address in turn. */
typedef struct allocation {
	const char *dir;
	int dirfd;
	const ipam_subnet *subnet;
	char tmp_name[64];
} allocation;

static int write_temp_lease(allocation *a, const char *owner, berth_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(owner);

	snprintf(a->tmp_name, sizeof(a->tmp_name), ".tmp-lease-%d", (int)getpid());
	unlinkat(a->dirfd, a->tmp_name, 0); /* a crashed allocation of a reused pid */
	fd = openat(a->dirfd, a->tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return berth_error_set(err, errno, "create %s/%s", a->dir, a->tmp_name);
	if (write(fd, owner, len) != (ssize_t)len) {
		int saved = errno ? errno : EIO;
		unlinkat(a->dirfd, a->tmp_name, 0);
		return berth_error_set(err, saved, "write %s/%s", a->dir, a->tmp_name);
	}
	return 0;
}

/* Links the temporary lease to ADDR's name: 0 when leased, -EEXIST when
 * taken, another -errno on failure. */
static int try_lease(allocation *a, const ipam_address *addr, char *name, size_t namelen)
{
	format_address(a->subnet->family, addr, name, namelen);
	if (linkat(a->dirfd, a->tmp_name, a->dirfd, name, 0) < 0)
		return -errno;
	return 0;
}

static void last_name(const ipam_subnet *subnet, char *out, size_t outlen)
{
	char net[IPAM_ADDRESS_MAX];

	format_address(subnet->family, &subnet->network, net, sizeof(net));
	snprintf(out, outlen, "last-%s_%u", net, subnet->prefix);
}

/* The last address handed out in the subnet, or 0 when none is known. */
static u128 read_last(allocation *a)
{
	_cleanup_free_ char *text = NULL;
	char name[IPAM_ADDRESS_MAX + 16];
	ipam_address addr;
	size_t len;
	int family;

	last_name(a->subnet, name, sizeof(name));
	if (fs_read_file_at(a->dirfd, name, &text, &len, NULL) < 0)
		return 0;
	text[strcspn(text, "\n")] = '\0';
	if (ipam_address_parse(text, &family, &addr, NULL) < 0 || !ipam_subnet_contains(a->subnet, family, &addr))
		return 0;
	return address_to_number(family, &addr);
}

static void write_last(allocation *a, const char *address)
{
	char name[IPAM_ADDRESS_MAX + 16];

	last_name(a->subnet, name, sizeof(name));
	/* only a hint: losing it costs an earlier reuse, not a conflict */
	fs_write_file_replace(a->dirfd, name, address, strlen(address), 0600, NULL);
}

static int allocate_requested(allocation *a, const char *requested, char *out, size_t outlen, berth_error **err)
{
	const ipam_subnet *s = a->subnet;
	u128 mask = host_mask(s->family, s->prefix), n;
	_cleanup_free_ char *holder = NULL;
	char subnet_text[IPAM_ADDRESS_MAX + 8];
	ipam_address addr;
	int family, ret;

	ipam_subnet_format(s, subnet_text, sizeof(subnet_text));
	if (ipam_address_parse(requested, &family, &addr, err) < 0)
		return -EINVAL;
	if (!ipam_subnet_contains(s, family, &addr))
		return berth_error_request(err, EINVAL, "address %s is not in subnet %s", requested, subnet_text);
	n = address_to_number(family, &addr);
	if ((n & mask) == 0)
		return berth_error_request(err, EINVAL, "address %s is the network address of %s", requested,
					   subnet_text);
	if ((n & mask) == 1)
		return berth_error_request(err, EINVAL, "address %s is the gateway of %s", requested, subnet_text);
	if (family == AF_INET && (n & mask) == mask)
		return berth_error_request(err, EINVAL, "address %s is the broadcast address of %s", requested,
					   subnet_text);
	ret = try_lease(a, &addr, out, outlen);
	if (ret == -EEXIST) {
		if (read_owner(a->dirfd, out, &holder) == 0)
			return berth_error_request(err, EADDRINUSE, "address %s is already in use by %s", requested,
						   holder);
		return berth_error_request(err, EADDRINUSE, "address %s is already in use", requested);
	}
	if (ret < 0)
		return berth_error_set(err, -ret, "lease %s in %s", out, a->dir);
	return 0;
}

static int allocate_next(allocation *a, char *out, size_t outlen, berth_error **err)
{
	const ipam_subnet *s = a->subnet;
	u128 mask = host_mask(s->family, s->prefix);
	u128 network = address_to_number(s->family, &s->network);
	/* skip the network and the gateway; IPv4 also the broadcast address */
	u128 first = network + 2, last = (network | mask) - (s->family == AF_INET ? 1 : 0);
	u128 previous = read_last(a), candidate, size = last - first + 1;
	char subnet_text[IPAM_ADDRESS_MAX + 8];
	ipam_address addr;
	u128 tries = size < SCAN_MAX ? size : SCAN_MAX;
	int ret;

	candidate = previous >= first && previous < last ? previous + 1 : first;
	for (u128 i = 0; i < tries; i++) {
		number_to_address(s->family, candidate, &addr);
		ret = try_lease(a, &addr, out, outlen);
		if (ret == 0) {
			write_last(a, out);
			return 0;
		}
		if (ret != -EEXIST)
			return berth_error_set(err, -ret, "lease %s in %s", out, a->dir);
		candidate = candidate == last ? first : candidate + 1;
	}
	ipam_subnet_format(s, subnet_text, sizeof(subnet_text));
	if (tries < size)
		return berth_error_request(err, ENOSPC, "no free address in subnet %s among the %u tried", subnet_text,
					   SCAN_MAX);
	return berth_error_request(err, ENOSPC, "no free address left in subnet %s (all %llu leased)", subnet_text,
				   (unsigned long long)size);
}

int ipam_allocate(const char *dir, const char *subnet_cidr, const char *owner, const char *requested, char *out,
		  size_t outlen, berth_error **err)
{
	_cleanup_lease_dir_ lease_dir d = { -EBADF, -EBADF };
	ipam_subnet subnet;
	allocation a = { .dir = dir };
	int ret;

	if (ipam_subnet_parse(subnet_cidr, &subnet, err) < 0 || check_owner(owner, err) < 0)
		return berth_error_wrap(err, "allocate an address for %s", owner ? owner : "");
	if (outlen < IPAM_ADDRESS_MAX)
		return berth_error_request(err, EINVAL, "allocate an address for %s: output buffer too small", owner);
	if (lease_dir_open(dir, true, &d, err) < 0)
		return berth_error_wrap(err, "allocate an address for %s", owner);
	a.dirfd = d.dirfd;
	a.subnet = &subnet;
	if (write_temp_lease(&a, owner, err) < 0)
		return berth_error_wrap(err, "allocate an address for %s", owner);
	if (requested != NULL)
		ret = allocate_requested(&a, requested, out, outlen, err);
	else
		ret = allocate_next(&a, out, outlen, err);
	unlinkat(a.dirfd, a.tmp_name, 0);
	if (ret < 0) {
		out[0] = '\0';
		return berth_error_wrap(err, "allocate an address for %s", owner);
	}
	return 0;
}

/* Removes the leases in the locked D for which DROP says so. Returns the
 * number removed. */
static int remove_leases(const char *dir, lease_dir *d, bool (*drop)(const char *owner, void *data), void *data,
			 berth_error **err)
{
	_cleanup_closedir_ DIR *listing = NULL;
	struct dirent *entry;
	int fd, removed = 0;

	fd = openat(d->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (listing = fdopendir(fd)) == NULL) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return berth_error_set(err, saved, "list %s", dir);
	}
	while ((errno = 0, entry = readdir(listing)) != NULL) {
		_cleanup_free_ char *owner = NULL;
		ipam_address addr;
		int family;

		if (strncmp(entry->d_name, ".tmp-lease-", 11) == 0 ||
		    (strncmp(entry->d_name, ".last-", 6) == 0 && strstr(entry->d_name, ".tmp"))) {
			/* under the lock no allocation runs: one killed left it */
			unlinkat(d->dirfd, entry->d_name, 0);
			continue;
		}
		if (ipam_address_parse(entry->d_name, &family, &addr, NULL) < 0)
			continue; /* the lock, the last-* hints */
		if (read_owner(d->dirfd, entry->d_name, &owner) < 0 || !drop(owner, data))
			continue;
		if (unlinkat(d->dirfd, entry->d_name, 0) < 0 && errno != ENOENT)
			return berth_error_set(err, errno, "remove lease %s/%s", dir, entry->d_name);
		removed++;
	}
	if (errno != 0)
		return berth_error_set(err, errno, "list %s", dir);
	return removed;
}

static bool owner_matches(const char *owner, void *data)
{
	return strcmp(owner, (const char *)data) == 0;
}

int ipam_release(const char *dir, const char *owner, berth_error **err)
{
	_cleanup_lease_dir_ lease_dir d = { -EBADF, -EBADF };
	int ret;

	if (check_owner(owner, err) < 0)
		return berth_error_wrap(err, "release the addresses of %s", owner ? owner : "");
	ret = lease_dir_open(dir, false, &d, err);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0 || (ret = remove_leases(dir, &d, owner_matches, (void *)owner, err)) < 0)
		return berth_error_wrap(err, "release the addresses of %s", owner);
	return ret;
}

typedef struct sweep_state {
	ipam_owner_alive_fn alive;
	void *data;
} sweep_state;

static bool owner_gone(const char *owner, void *data)
{
	sweep_state *s = data;

	return !s->alive(owner, s->data);
}

int ipam_sweep(const char *dir, ipam_owner_alive_fn alive, void *data, berth_error **err)
{
	_cleanup_lease_dir_ lease_dir d = { -EBADF, -EBADF };
	sweep_state state = { .alive = alive, .data = data };
	int ret;

	ret = lease_dir_open(dir, false, &d, err);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0 || (ret = remove_leases(dir, &d, owner_gone, &state, err)) < 0)
		return berth_error_wrap(err, "sweep the leases in %s", dir);
	return ret;
}
