/* Links, addresses and routes over rtnetlink (see netlink.h). */
#include "network/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "network/netns.h"
#include "util/cleanup.h"

/* replies to single-link requests are a few KiB (stats are skipped) */
#define NL_BUFFER_SIZE 16384
#define NL_EXTACK_MAX  160

/* One rtnetlink socket and its buffer: a batch of requests, one at a time. */
typedef struct nl_socket {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char extack[NL_EXTACK_MAX]; /* the kernel's message for the last error */
	char buf[NL_BUFFER_SIZE];
} nl_socket;

/* What a request's reply callbacks share. */
typedef struct nl_reply {
	nl_socket *nl;
	mnl_cb_t cb;
	void *cb_data;
} nl_reply;

static void nl_close(nl_socket *nl)
{
	if (nl == NULL)
		return;
	if (nl->sock != NULL)
		mnl_socket_close(nl->sock);
	free(nl);
}

static void cleanup_nl_socketp(nl_socket **nl)
{
	nl_close(*nl);
	*nl = NULL;
}
#define _cleanup_nl_ __attribute__((cleanup(cleanup_nl_socketp)))

/* Opens an rtnetlink socket in the calling thread's network namespace. */
static int nl_open(nl_socket **out, berth_error **err)
{
	_cleanup_nl_ nl_socket *nl = NULL;
	int one = 1;

	nl = calloc(1, sizeof(*nl));
	if (nl == NULL)
		return berth_error_set(err, ENOMEM, "netlink socket");
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl->sock == NULL)
		return berth_error_set(err, errno, "open netlink socket");
	/* the kernel's reason in error replies, without the request echoed */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		return berth_error_set(err, errno, "bind netlink socket");
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = 1;
	*out = move_ptr(nl);
	return 0;
}

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	nl_socket *nl = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(nl->extack, sizeof(nl->extack), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
	nl_reply *reply = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t offset = sizeof(*e);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			offset += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		mnl_attr_parse(nlh, offset, extack_attr_cb, reply->nl);
	}
	errno = -e->error;
	return MNL_CB_ERROR;
}

static int nl_data_cb(const struct nlmsghdr *nlh, void *data)
{
	nl_reply *reply = data;

	return reply->cb != NULL ? reply->cb(nlh, reply->cb_data) : MNL_CB_OK;
}

/* Sends the request in nl->buf and reads replies (handed to CB) up to its
 * acknowledgement. Returns 0 or -errno; nl->extack then holds the kernel's
 * reason when it gave one. */
static int nl_request(nl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *cb_data)
{
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = nl_error_cb };
	nl_reply reply = { .nl = nl, .cb = cb, .cb_data = cb_data };
	unsigned int seq = nlh->nlmsg_seq;
	ssize_t len;
	int ret;

	nl->extack[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		len = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (len < 0)
			return -errno;
		ret = mnl_cb_run2(nl->buf, len, seq, nl->portid, nl_data_cb, &reply, ctl, NLMSG_MIN_TYPE);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

/* A new request header in nl->buf: always acknowledged, one seq each. */
static struct nlmsghdr *nl_header(nl_socket *nl, unsigned short type, unsigned short flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = nl->seq++;
	return nlh;
}

/* Sets *err to "WHAT: strerror(CODE)", with the kernel's reason when it
 * gave one. Returns -CODE. */
__attribute__((format(printf, 4, 5))) static int nl_fail(nl_socket *nl, berth_error **err, int code, const char *fmt,
							 ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return berth_error_set(err, code, "netlink request");
	if (nl != NULL && nl->extack[0] != '\0')
		return berth_error_set(err, code, "%s (%s)", what, nl->extack);
	return berth_error_set(err, code, "%s", what);
}

/* The facts about a link that berth needs. */
typedef struct nl_link {
	int index;
	char kind[16]; /* IFLA_INFO_KIND, "" when none */
} nl_link;

static int linkinfo_attr_cb(const struct nlattr *attr, void *data)
{
	nl_link *link = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND && mnl_attr_validate(attr, MNL_TYPE_STRING) == 0)
		snprintf(link->kind, sizeof(link->kind), "%.*s", (int)mnl_attr_get_payload_len(attr),
			 (const char *)mnl_attr_get_payload(attr));
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == IFLA_LINKINFO && mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0)
		mnl_attr_parse_nested(attr, linkinfo_attr_cb, data);
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	nl_link *link = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return MNL_CB_OK;
	link->index = ifi->ifi_index;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, link);
	return MNL_CB_OK;
}

/* Looks up the link NAME. Returns 0, -ENODEV when there is none, or -errno. */
static int nl_get_link(nl_socket *nl, const char *name, nl_link *link)
{
	struct nlmsghdr *nlh = nl_header(nl, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	memset(link, 0, sizeof(*link));
	return nl_request(nl, nlh, link_cb, link);
}

/* Sets MTU (when non-zero) and MAC (when not NULL) and brings up the link
 * INDEX. */
static int nl_set_link_up_mac(nl_socket *nl, int index, const char *name, unsigned int mtu, const unsigned char *mac)
{
	struct nlmsghdr *nlh = nl_header(nl, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (index == 0)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu != 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, NETLINK_MAC_LEN, mac);
	return nl_request(nl, nlh, NULL, NULL);
}

static int nl_set_link_up(nl_socket *nl, int index, const char *name, unsigned int mtu)
{
	return nl_set_link_up_mac(nl, index, name, mtu, NULL);
}

static int nl_delete_link(nl_socket *nl, const char *name)
{
	struct nlmsghdr *nlh = nl_header(nl, RTM_DELLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	int ret;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	ret = nl_request(nl, nlh, NULL, NULL);
	return ret == -ENODEV ? 0 : ret;
}

/* Adds ADDR/PREFIX to the link INDEX. IPv6 addresses skip DAD so they are
 * usable at once. */
static int nl_add_address(nl_socket *nl, int index, int family, const void *addr, unsigned int prefix)
{
	struct nlmsghdr *nlh = nl_header(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	size_t len = family == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr);

	ifa->ifa_family = family;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = index;
	ifa->ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, len, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	if (family == AF_INET && prefix < 31) {
		struct in_addr brd = *(const struct in_addr *)addr;
		brd.s_addr |= prefix == 0 ? 0xffffffffu : htonl(0xffffffffu >> prefix);
		mnl_attr_put(nlh, IFA_BROADCAST, sizeof(brd), &brd);
	}
	return nl_request(nl, nlh, NULL, NULL);
}

/* Adds the default route of FAMILY via GATEWAY on the link INDEX. */
static int nl_add_default_route(nl_socket *nl, int index, int family, const void *gateway)
{
	struct nlmsghdr *nlh = nl_header(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = family;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_GATEWAY, family == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr), gateway);
	mnl_attr_put_u32(nlh, RTA_OIF, index);
	return nl_request(nl, nlh, NULL, NULL);
}

/* Kernel interface names: 1 to 15 bytes, no '/', ':' or white space, not
 * "." or "..". Checked before anything is sent, for a clear message. */
static int check_ifname(const char *what, const char *name, berth_error **err)
{
	if (name == NULL || name[0] == '\0')
		return berth_error_request(err, EINVAL, "%s: no interface name", what);
	if (strlen(name) >= IFNAMSIZ)
		return berth_error_request(err, EINVAL, "%s: interface name \"%s\" is longer than %d bytes", what, name,
					   IFNAMSIZ - 1);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strpbrk(name, "/: \t\n") != NULL)
		return berth_error_request(err, EINVAL, "%s: invalid interface name \"%s\"", what, name);
	return 0;
}

static int check_prefix(const char *what, int family, unsigned int prefix, berth_error **err)
{
	unsigned int max = family == AF_INET ? 32 : 128;

	if (prefix == 0 || prefix > max)
		return berth_error_request(err, EINVAL, "%s: prefix length %u is not within 1..%u", what, prefix, max);
	return 0;
}

static const char *ntop(int family, const void *addr, char *buf, size_t len)
{
	return inet_ntop(family, addr, buf, len) != NULL ? buf : "?";
}

static int bridge_add_address(nl_socket *nl, const netlink_bridge_config *cfg, int index, int family, const void *addr,
			      unsigned int prefix, berth_error **err)
{
	char text[INET6_ADDRSTRLEN];
	int ret = nl_add_address(nl, index, family, addr, prefix);

	if (ret < 0 && ret != -EEXIST)
		return nl_fail(nl, err, -ret, "bridge %s: add address %s/%u", cfg->name,
			       ntop(family, addr, text, sizeof(text)), prefix);
	return 0;
}

static int bridge_create(nl_socket *nl, const netlink_bridge_config *cfg)
{
	struct nlmsghdr *nlh = nl_header(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *linkinfo;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, cfg->name);
	if (cfg->mtu != 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, cfg->mtu);
	if (cfg->has_mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, NETLINK_MAC_LEN, cfg->mac);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, linkinfo);
	return nl_request(nl, nlh, NULL, NULL);
}

int netlink_bridge_ensure(const netlink_bridge_config *cfg, berth_error **err)
{
	_cleanup_nl_ nl_socket *nl = NULL;
	nl_link link;
	int ret;

	if (check_ifname("ensure bridge", cfg->name, err) < 0)
		return -EINVAL;
	if ((cfg->has_ipv4 && check_prefix(cfg->name, AF_INET, cfg->ipv4_prefix, err) < 0) ||
	    (cfg->has_ipv6 && check_prefix(cfg->name, AF_INET6, cfg->ipv6_prefix, err) < 0))
		return berth_error_wrap(err, "ensure bridge");
	if (nl_open(&nl, err) < 0)
		return berth_error_wrap(err, "ensure bridge %s", cfg->name);

	ret = nl_get_link(nl, cfg->name, &link);
	if (ret == -ENODEV) {
		ret = bridge_create(nl, cfg);
		if (ret < 0 && ret != -EEXIST) /* EEXIST: made by a racing engine */
			return nl_fail(nl, err, -ret, "create bridge %s", cfg->name);
		ret = nl_get_link(nl, cfg->name, &link);
	}
	if (ret < 0)
		return nl_fail(nl, err, -ret, "ensure bridge %s: look it up", cfg->name);
	if (strcmp(link.kind, "bridge") != 0)
		return berth_error_request(err, EEXIST,
					   "ensure bridge %s: a link of that name exists and is not a bridge (%s)",
					   cfg->name, link.kind[0] ? link.kind : "no kind");

	if (cfg->has_ipv4 &&
	    (ret = bridge_add_address(nl, cfg, link.index, AF_INET, &cfg->ipv4_gateway, cfg->ipv4_prefix, err)) < 0)
		return ret;
	if (cfg->has_ipv6 &&
	    (ret = bridge_add_address(nl, cfg, link.index, AF_INET6, &cfg->ipv6_gateway, cfg->ipv6_prefix, err)) < 0)
		return ret;
	/* also on a bridge made without its MAC (a berth before, another tool) */
	ret = nl_set_link_up_mac(nl, link.index, cfg->name, cfg->mtu, cfg->has_mac ? cfg->mac : NULL);
	if (ret < 0)
		return nl_fail(nl, err, -ret, "bridge %s: set MTU %u, MAC and up", cfg->name, cfg->mtu);
	return 0;
}

static int attach_validate(const netlink_attach_config *cfg, berth_error **err)
{
	if (check_ifname("bridge", cfg->bridge, err) < 0 || check_ifname("host end", cfg->host_ifname, err) < 0 ||
	    check_ifname("container end", cfg->container_ifname, err) < 0)
		return -EINVAL;
	if (cfg->netns_fd < 0)
		return berth_error_request(err, EBADF, "no network namespace");
	if (cfg->has_ipv4 && check_prefix("IPv4 address", AF_INET, cfg->ipv4_prefix, err) < 0)
		return -EINVAL;
	if (cfg->has_ipv6 && check_prefix("IPv6 address", AF_INET6, cfg->ipv6_prefix, err) < 0)
		return -EINVAL;
	return 0;
}

/* The pair in one request: the host end enslaved to the bridge and up, the
 * peer made inside the container's namespace with its name, MAC and MTU. */
static int veth_create(nl_socket *nl, const netlink_attach_config *cfg, int bridge_index)
{
	static const unsigned char no_mac[NETLINK_MAC_LEN];
	struct nlmsghdr *nlh = nl_header(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *linkinfo, *data, *peer;
	struct ifinfomsg *peer_ifi;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, cfg->host_ifname);
	mnl_attr_put_u32(nlh, IFLA_MASTER, bridge_index);
	if (cfg->mtu != 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, cfg->mtu);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* VETH_INFO_PEER holds an ifinfomsg followed by the peer's attributes */
	peer_ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*peer_ifi));
	peer_ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, cfg->container_ifname);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, cfg->netns_fd);
	if (cfg->mtu != 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, cfg->mtu);
	if (memcmp(cfg->mac, no_mac, sizeof(no_mac)) != 0)
		mnl_attr_put(nlh, IFLA_ADDRESS, NETLINK_MAC_LEN, cfg->mac);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return nl_request(nl, nlh, NULL, NULL);
}

/* Hairpin mode on the bridge port NAME: the bridge may send a frame back
 * out of the port it came in on. With br_netfilter loaded, a container's
 * connection to a service (or published port) that is DNATed back to the
 * container itself is bridged, not routed, back to its own port; without
 * hairpin mode the bridge drops it (kubelet sets the same, hairpin-veth). */
static int nl_set_hairpin(nl_socket *nl, const char *name)
{
	struct nlmsghdr *nlh = nl_header(nl, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *linkinfo, *data;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	data = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
	mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, 1);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return nl_request(nl, nlh, NULL, NULL);
}

/* A netlink socket inside the namespace NSFD: a socket stays in the
 * namespace it was made in, so the thread goes there only to make it. */
static int nl_open_in(int nsfd, nl_socket **out, berth_error **err)
{
	int saved = -EBADF;
	int ret;

	if (netns_enter_fd(nsfd, &saved, err) < 0)
		return -1;
	ret = nl_open(out, err);
	if (netns_leave(saved, ret < 0 ? NULL : err) < 0) {
		nl_close(*out);
		*out = NULL;
		return -1;
	}
	return ret;
}

static int container_configure(nl_socket *nl, const netlink_attach_config *cfg, berth_error **err)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
	const char *name = cfg->container_ifname;
	char text[INET6_ADDRSTRLEN];
	nl_link link;
	int ret;

	ret = nl_get_link(nl, name, &link);
	if (ret < 0)
		return nl_fail(nl, err, -ret, "look up %s in the container", name);
	ret = nl_set_link_up(nl, link.index, name, 0);
	if (ret < 0)
		return nl_fail(nl, err, -ret, "bring %s up", name);
	if (cfg->has_ipv4) {
		ret = nl_add_address(nl, link.index, AF_INET, &cfg->ipv4, cfg->ipv4_prefix);
		if (ret < 0)
			return nl_fail(nl, err, -ret, "%s: add address %s/%u", name,
				       ntop(AF_INET, &cfg->ipv4, text, sizeof(text)), cfg->ipv4_prefix);
	}
	if (cfg->has_ipv6) {
		ret = nl_add_address(nl, link.index, AF_INET6, &cfg->ipv6, cfg->ipv6_prefix);
		if (ret < 0)
			return nl_fail(nl, err, -ret, "%s: add address %s/%u", name,
				       ntop(AF_INET6, &cfg->ipv6, text, sizeof(text)), cfg->ipv6_prefix);
	}
	if (cfg->has_ipv4 && cfg->ipv4_gateway.s_addr != INADDR_ANY) {
		ret = nl_add_default_route(nl, link.index, AF_INET, &cfg->ipv4_gateway);
		if (ret < 0)
			return nl_fail(nl, err, -ret, "%s: add default route via %s", name,
				       ntop(AF_INET, &cfg->ipv4_gateway, text, sizeof(text)));
	}
	if (cfg->has_ipv6 && memcmp(&cfg->ipv6_gateway, &any6, sizeof(any6)) != 0) {
		ret = nl_add_default_route(nl, link.index, AF_INET6, &cfg->ipv6_gateway);
		if (ret < 0)
			return nl_fail(nl, err, -ret, "%s: add default route via %s", name,
				       ntop(AF_INET6, &cfg->ipv6_gateway, text, sizeof(text)));
	}
	return 0;
}

static int attach(const netlink_attach_config *cfg, berth_error **err)
{
	_cleanup_nl_ nl_socket *host = NULL, *container = NULL;
	nl_link bridge;
	int ret;

	if (attach_validate(cfg, err) < 0)
		return -EINVAL;
	if (nl_open(&host, err) < 0)
		return -1;
	ret = nl_get_link(host, cfg->bridge, &bridge);
	if (ret == -ENODEV)
		return berth_error_request(err, ENODEV, "bridge %s does not exist", cfg->bridge);
	if (ret < 0)
		return nl_fail(host, err, -ret, "look up bridge %s", cfg->bridge);
	if (strcmp(bridge.kind, "bridge") != 0)
		return berth_error_request(err, EINVAL, "%s is not a bridge (%s)", cfg->bridge,
					   bridge.kind[0] ? bridge.kind : "no kind");

	ret = veth_create(host, cfg, bridge.index);
	if (ret < 0)
		return nl_fail(host, err, -ret, "create veth pair %s/%s", cfg->host_ifname, cfg->container_ifname);

	/* from here on the pair is ours: any failure deletes it */
	ret = nl_set_hairpin(host, cfg->host_ifname);
	if (ret < 0)
		ret = nl_fail(host, err, -ret, "set hairpin mode on %s", cfg->host_ifname);
	if (ret == 0)
		ret = nl_open_in(cfg->netns_fd, &container, err);
	if (ret == 0)
		ret = container_configure(container, cfg, err);
	if (ret < 0)
		nl_delete_link(host, cfg->host_ifname);
	return ret;
}

int netlink_attach(const netlink_attach_config *cfg, berth_error **err)
{
	if (attach(cfg, err) < 0)
		return berth_error_wrap(err, "attach %s to bridge %s", cfg->host_ifname ? cfg->host_ifname : "(none)",
					cfg->bridge ? cfg->bridge : "(none)");
	return 0;
}

int netlink_link_delete(const char *name, berth_error **err)
{
	_cleanup_nl_ nl_socket *nl = NULL;
	int ret;

	if (check_ifname("delete link", name, err) < 0)
		return -EINVAL;
	if (nl_open(&nl, err) < 0)
		return berth_error_wrap(err, "delete link %s", name);
	ret = nl_delete_link(nl, name);
	if (ret < 0)
		return nl_fail(nl, err, -ret, "delete link %s", name);
	return 0;
}

int netlink_detach(const char *host_ifname, berth_error **err)
{
	if (netlink_link_delete(host_ifname, err) < 0)
		return berth_error_wrap(err, "detach");
	return 0;
}

int netlink_link_exists(const char *name, berth_error **err)
{
	_cleanup_nl_ nl_socket *nl = NULL;
	nl_link link;
	int ret;

	if (check_ifname("look up link", name, err) < 0)
		return -EINVAL;
	if (nl_open(&nl, err) < 0)
		return berth_error_wrap(err, "look up link %s", name);
	ret = nl_get_link(nl, name, &link);
	if (ret == -ENODEV)
		return 0;
	if (ret < 0)
		return nl_fail(nl, err, -ret, "look up link %s", name);
	return 1;
}

int netlink_link_set_up(const char *name, berth_error **err)
{
	_cleanup_nl_ nl_socket *nl = NULL;
	int ret;

	if (check_ifname("set link up", name, err) < 0)
		return -EINVAL;
	if (nl_open(&nl, err) < 0)
		return berth_error_wrap(err, "set link %s up", name);
	ret = nl_set_link_up(nl, 0, name, 0);
	if (ret < 0)
		return nl_fail(nl, err, -ret, "set link %s up", name);
	return 0;
}

int netlink_veth_name(const char *container_id, char out[IFNAMSIZ], berth_error **err)
{
	const size_t hex_len = 10;

	if (container_id == NULL || strlen(container_id) < hex_len ||
	    strspn(container_id, "0123456789abcdef") < hex_len)
		return berth_error_request(err, EINVAL,
					   "veth name: container id \"%s\" does not start with %zu hex digits",
					   container_id ? container_id : "", hex_len);
	snprintf(out, IFNAMSIZ, "vb%.*s", (int)hex_len, container_id);
	return 0;
}

void netlink_mac_from_ipv4(struct in_addr addr, unsigned char mac[NETLINK_MAC_LEN])
{
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x42;
	memcpy(mac + 2, &addr.s_addr, 4);
}

/* "net.ipv4.ip_forward" or "net/ipv4/ip_forward" -> "/proc/sys/net/ipv4/ip_forward" */
static int sysctl_path(const char *key, char *path, size_t len, berth_error **err)
{
	bool dotted = strchr(key, '/') == NULL;
	int n;

	if (strncmp(key, dotted ? "net." : "net/", 4) != 0 || strstr(key, "..") != NULL ||
	    strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/@") != strlen(key) ||
	    key[strlen(key) - 1] == '/' || strstr(key, "//") != NULL)
		return berth_error_request(err, EINVAL, "set sysctl %s: not a key under net.", key);
	n = snprintf(path, len, "/proc/sys/%s", key);
	if (n < 0 || (size_t)n >= len)
		return berth_error_set(err, ENAMETOOLONG, "set sysctl %s", key);
	if (dotted)
		for (char *c = path + strlen("/proc/sys/"); *c != '\0'; c++)
			if (*c == '.')
				*c = '/';
	return 0;
}

int netlink_sysctl_set(const char *key, const char *value, berth_error **err)
{
	char path[256];
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(value);
	ssize_t n;

	if (sysctl_path(key, path, sizeof(path), err) < 0)
		return -EINVAL;
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return berth_error_set(err, errno, "set sysctl %s=%s: open %s", key, value, path);
	n = write(fd, value, len);
	if (n < 0)
		return berth_error_set(err, errno, "set sysctl %s=%s", key, value);
	if ((size_t)n != len)
		return berth_error_set(err, EIO, "set sysctl %s=%s: short write", key, value);
	return 0;
}

int netlink_route_ensure(const char *dev, struct in_addr dst, unsigned int prefix, berth_error **err)
{
	_cleanup_nl_ nl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	char text[INET_ADDRSTRLEN];
	nl_link link;
	int ret;

	ntop(AF_INET, &dst, text, sizeof(text));
	if (check_ifname("add route", dev, err) < 0 || check_prefix("add route", AF_INET, prefix, err) < 0)
		return -EINVAL;
	if (nl_open(&nl, err) < 0)
		return berth_error_wrap(err, "route %s/%u via %s", text, prefix, dev);
	ret = nl_get_link(nl, dev, &link);
	if (ret < 0)
		return nl_fail(nl, err, -ret, "route %s/%u via %s: look up link", text, prefix, dev);
	nlh = nl_header(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = (unsigned char)prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, sizeof(dst), &dst);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)link.index);
	ret = nl_request(nl, nlh, NULL, NULL);
	if (ret < 0)
		return nl_fail(nl, err, -ret, "route %s/%u via %s", text, prefix, dev);
	return 0;
}
