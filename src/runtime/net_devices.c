#include "runtime/net_devices.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "util/cleanup.h"

#define REQUEST_SIZE  512
#define MAX_ADDRESSES 64

typedef struct nl_request {
	struct nlmsghdr h;
	char space[REQUEST_SIZE];
} nl_request;

/* A permanent address of global scope, kept across the move. */
typedef struct saved_address {
	struct ifaddrmsg msg;
	unsigned char local[16], address[16];
	size_t local_len, address_len;
} saved_address;

static void add_attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int rtnl_open(berth_error **err)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return berth_error_set(err, errno, "open an rtnetlink socket");
	return fd;
}

/* Sends H and waits for its acknowledgement; returns 0 or -errno. */
static int rtnl_talk(int fd, struct nlmsghdr *h)
{
	char buf[4096];
	ssize_t n;

	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (send(fd, h, h->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *r = (struct nlmsghdr *)buf; NLMSG_OK(r, (size_t)n); r = NLMSG_NEXT(r, n))
			if (r->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(r))->error;
	}
}

/* The permanent addresses of global scope of IFINDEX. */
static int save_addresses(int fd, int ifindex, saved_address *out, size_t *n_out, berth_error **err)
{
	nl_request req = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
				  .nlmsg_type = RTM_GETADDR,
				  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP } };
	char buf[16384];
	ssize_t n;

	*n_out = 0;
	if (send(fd, &req, req.h.nlmsg_len, 0) < 0)
		return berth_error_set(err, errno, "list addresses");
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_error_set(err, errno, "list addresses");
		for (struct nlmsghdr *r = (struct nlmsghdr *)buf; NLMSG_OK(r, (size_t)n); r = NLMSG_NEXT(r, n)) {
			struct ifaddrmsg *ifa = NLMSG_DATA(r);
			unsigned int flags;
			saved_address a = { 0 };
			int len;

			if (r->nlmsg_type == NLMSG_DONE)
				return 0;
			if (r->nlmsg_type == NLMSG_ERROR)
				return berth_error_set(err, -((struct nlmsgerr *)NLMSG_DATA(r))->error,
						       "list addresses");
			if (r->nlmsg_type != RTM_NEWADDR || (int)ifa->ifa_index != ifindex ||
			    ifa->ifa_scope != RT_SCOPE_UNIVERSE)
				continue;
			flags = ifa->ifa_flags;
			len = IFA_PAYLOAD(r);
			for (struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
				size_t sz = RTA_PAYLOAD(rta);
				if (rta->rta_type == IFA_FLAGS && sz >= sizeof(unsigned int))
					memcpy(&flags, RTA_DATA(rta), sizeof(flags));
				else if (rta->rta_type == IFA_LOCAL && sz <= sizeof(a.local))
					memcpy(a.local, RTA_DATA(rta), a.local_len = sz);
				else if (rta->rta_type == IFA_ADDRESS && sz <= sizeof(a.address))
					memcpy(a.address, RTA_DATA(rta), a.address_len = sz);
			}
			if (!(flags & IFA_F_PERMANENT) || *n_out >= MAX_ADDRESSES)
				continue;
			a.msg = *ifa;
			out[(*n_out)++] = a;
		}
	}
}

static int restore_addresses(int fd, int ifindex, const saved_address *addrs, size_t n, const char *name,
			     berth_error **err)
{
	for (size_t i = 0; i < n; i++) {
		nl_request req = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
					  .nlmsg_type = RTM_NEWADDR,
					  .nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE } };
		struct ifaddrmsg *ifa = NLMSG_DATA(&req.h);
		char text[INET6_ADDRSTRLEN] = "?";
		int ret;

		*ifa = addrs[i].msg;
		ifa->ifa_index = (unsigned)ifindex;
		if (addrs[i].local_len)
			add_attr(&req.h, IFA_LOCAL, addrs[i].local, addrs[i].local_len);
		if (addrs[i].address_len)
			add_attr(&req.h, IFA_ADDRESS, addrs[i].address, addrs[i].address_len);
		ret = rtnl_talk(fd, &req.h);
		if (ret < 0) {
			inet_ntop(ifa->ifa_family, addrs[i].address_len ? addrs[i].address : addrs[i].local, text,
				  sizeof(text));
			return berth_error_set(err, -ret, "add address %s/%u to \"%s\"", text, ifa->ifa_prefixlen,
					       name);
		}
	}
	return 0;
}

/* The index and name of the moved device inside: its index is kept unless
 * taken there, so look it up by index first, then by NAME. */
static int find_moved(int fd, int old_index, const char *name, char found[IFNAMSIZ])
{
	nl_request req;
	char buf[8192];
	ssize_t n;

	for (int attempt = 0; attempt < 2; attempt++) {
		struct ifinfomsg *ifi;

		memset(&req, 0, sizeof(req));
		req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
		req.h.nlmsg_type = RTM_GETLINK;
		req.h.nlmsg_flags = NLM_F_REQUEST;
		ifi = NLMSG_DATA(&req.h);
		ifi->ifi_family = AF_UNSPEC;
		if (attempt == 0)
			ifi->ifi_index = old_index;
		else if (strchr(name, '%') == NULL)
			add_attr(&req.h, IFLA_IFNAME, name, strlen(name) + 1);
		else
			break;
		if (send(fd, &req, req.h.nlmsg_len, 0) < 0)
			return -errno;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *r = (struct nlmsghdr *)buf; NLMSG_OK(r, (size_t)n); r = NLMSG_NEXT(r, n)) {
			struct ifinfomsg *info = NLMSG_DATA(r);
			int len = IFLA_PAYLOAD(r);

			if (r->nlmsg_type != RTM_NEWLINK)
				continue;
			for (struct rtattr *rta = IFLA_RTA(info); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
				const char *pct = strchr(name, '%');
				if (rta->rta_type != IFLA_IFNAME)
					continue;
				snprintf(found, IFNAMSIZ, "%s", (const char *)RTA_DATA(rta));
				/* the same device: its name is NAME, or fits the template */
				if (pct == NULL ? strcmp(found, name) == 0
						: strncmp(found, name, (size_t)(pct - name)) == 0)
					return info->ifi_index;
			}
		}
	}
	return -ENODEV;
}

/* The index of link NAME in the namespace of FD, or -errno. */
static int link_index(int fd, const char *name)
{
	nl_request req = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
				  .nlmsg_type = RTM_GETLINK,
				  .nlmsg_flags = NLM_F_REQUEST } };
	char buf[8192];
	ssize_t n;

	((struct ifinfomsg *)NLMSG_DATA(&req.h))->ifi_family = AF_UNSPEC;
	add_attr(&req.h, IFLA_IFNAME, name, strlen(name) + 1);
	if (send(fd, &req, req.h.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	for (struct nlmsghdr *r = (struct nlmsghdr *)buf; NLMSG_OK(r, (size_t)n); r = NLMSG_NEXT(r, n)) {
		if (r->nlmsg_type == RTM_NEWLINK)
			return ((struct ifinfomsg *)NLMSG_DATA(r))->ifi_index;
		if (r->nlmsg_type == NLMSG_ERROR)
			return ((struct nlmsgerr *)NLMSG_DATA(r))->error;
	}
	return -ENODEV;
}

/* Moves link INDEX of FD's namespace into TO_NETNS, named NAME there. */
static int move_link(int fd, int index, int to_netns, const char *name)
{
	nl_request req = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)), .nlmsg_type = RTM_NEWLINK } };
	struct ifinfomsg *ifi = NLMSG_DATA(&req.h);
	uint32_t fd32 = (uint32_t)to_netns;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	add_attr(&req.h, IFLA_NET_NS_FD, &fd32, sizeof(fd32));
	add_attr(&req.h, IFLA_IFNAME, name, strlen(name) + 1);
	return rtnl_talk(fd, &req.h);
}

static int set_up(int fd, int ifindex)
{
	nl_request req = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)), .nlmsg_type = RTM_NEWLINK } };
	struct ifinfomsg *ifi = NLMSG_DATA(&req.h);

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return rtnl_talk(fd, &req.h);
}

/* Moves D into NETNS. *INSIDE_INDEX is the device's index there once it
 * has moved (also when a later step fails), else 0. */
static int move_one(int host_fd, int ns_fd, int netns, const spec_net_device *d, int *inside_index, berth_error **err)
{
	saved_address *addrs = calloc(MAX_ADDRESSES, sizeof(saved_address));
	char inside[IFNAMSIZ] = "";
	size_t n_addrs = 0;
	int index = (int)if_nametoindex(d->host_name), ret = -1, r;

	*inside_index = 0;
	if (addrs == NULL)
		return berth_error_set(err, ENOMEM, "linux.netDevices.%s", d->host_name);
	if (index == 0) {
		berth_error_set(err, errno, "linux.netDevices.%s: no such interface", d->host_name);
		goto out;
	}
	/* The kernel renames a device after moving it: a name taken inside
	 * would fail with the device already moved, under its host name. */
	if (strchr(d->name, '%') == NULL && link_index(ns_fd, d->name) > 0) {
		berth_error_set(err, 0,
				"linux.netDevices.%s: \"%s\" is already the name of a device in the container's "
				"network namespace",
				d->host_name, d->name);
		goto out;
	}
	if (save_addresses(host_fd, index, addrs, &n_addrs, err) < 0)
		goto wrap;
	r = move_link(host_fd, index, netns, d->name);
	if (r < 0) {
		if (link_index(host_fd, d->host_name) != index)
			*inside_index = find_moved(ns_fd, index, d->host_name, inside) > 0 ? index : 0;
		berth_error_set(err, -r, "linux.netDevices.%s: move into the container's network namespace as \"%s\"",
				d->host_name, d->name);
		goto out;
	}
	r = find_moved(ns_fd, index, d->name, inside);
	if (r < 0) {
		berth_error_set(err, -r, "linux.netDevices.%s: find \"%s\" in the container", d->host_name, d->name);
		goto out;
	}
	*inside_index = r;
	if (restore_addresses(ns_fd, r, addrs, n_addrs, inside, err) < 0)
		goto wrap;
	r = set_up(ns_fd, r);
	if (r < 0) {
		berth_error_set(err, -r, "linux.netDevices.%s: set \"%s\" up", d->host_name, inside);
		goto out;
	}
	ret = 0;
	goto out;
wrap:
	berth_error_wrap(err, "linux.netDevices.%s", d->host_name);
out:
	free(addrs);
	return ret;
}

int net_devices_check_host(const spec *s, berth_error **err)
{
	for (size_t i = 0; i < s->n_net_devices; i++)
		if (if_nametoindex(s->net_devices[i].host_name) == 0)
			return berth_error_set(err, errno == ENXIO ? ENODEV : errno,
					       "linux.netDevices.%s: no such interface in the runtime's network "
					       "namespace",
					       s->net_devices[i].host_name);
	return 0;
}

int net_devices_move(const spec *s, pid_t pid, berth_error **err)
{
	_cleanup_close_ int netns = -EBADF;
	_cleanup_close_ int self = -EBADF;
	_cleanup_close_ int host_fd = -EBADF;
	_cleanup_close_ int ns_fd = -EBADF;
	_cleanup_free_ int *inside = NULL;
	char path[64];

	if (s->n_net_devices == 0)
		return 0;
	inside = calloc(s->n_net_devices, sizeof(int));
	if (inside == NULL)
		return berth_error_set(err, ENOMEM, "linux.netDevices");
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	netns = open(path, O_RDONLY | O_CLOEXEC);
	if (netns < 0)
		return berth_error_set(err, errno, "linux.netDevices: open %s", path);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return berth_error_set(err, errno, "linux.netDevices: open /proc/self/ns/net");
	host_fd = rtnl_open(err);
	if (host_fd < 0)
		return -1;
	/* a socket stays in the namespace it was made in */
	if (setns(netns, CLONE_NEWNET) < 0)
		return berth_error_set(err, errno, "linux.netDevices: enter the container's network namespace");
	ns_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (setns(self, CLONE_NEWNET) < 0)
		return berth_error_set(err, errno, "linux.netDevices: return to the runtime's network namespace");
	if (ns_fd < 0)
		return berth_error_set(err, errno, "linux.netDevices: open an rtnetlink socket in the container");
	for (size_t i = 0; i < s->n_net_devices; i++) {
		if (move_one(host_fd, ns_fd, netns, &s->net_devices[i], &inside[i], err) == 0)
			continue;
		/* create fails: give back what was moved, under its own name */
		for (size_t k = 0; k <= i; k++)
			if (inside[k] > 0)
				move_link(ns_fd, inside[k], self, s->net_devices[k].host_name);
		return -1;
	}
	return 0;
}
