/* Port publishing over nf_tables netlink (see nft.h).
 *
 * Published ports are elements of the dnat maps of `table inet berth`,
 * which nft_network_add writes through libnftables. Adding and removing
 * them is on the path of every `berth run -p` and `berth rm`, in a fresh
 * process each time, where loading libnftables and fetching its cache costs
 * ~10 ms. So these two calls talk to the kernel directly, with libmnl: one
 * nfnetlink batch (BATCH_BEGIN, one NEWSETELEM or DELSETELEM per port,
 * BATCH_END), which the kernel applies as one transaction, all or nothing.
 *
 * The kernel handles the batch inside sendmsg() and has queued its answers
 * when that returns: an error for each message it refused (in batch order,
 * so the first names the culprit) and, when asked with NLM_F_ACK, an
 * acknowledgement. Only the last message asks for one, so a large batch
 * does not flood the socket with them; a commit that fails after every
 * message was accepted is reported on the BATCH_BEGIN message.
 *
 * An element's key and data are concatenations, laid out as nftables does:
 * each field in its own 32-bit registers (NFT_REG32_SIZE), zero padded, in
 * network byte order: proto 1 + 3, port 2 + 2, IPv4 4, IPv6 16. */
#include "network/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/cleanup.h"

#define KEY_MAX	 24 /* ipv6_addr . inet_proto . inet_service */
#define DATA_MAX 20 /* ipv6_addr . inet_service */
/* one element message: header, table, map, nests, key and data */
#define ELEMENT_MESSAGE_MAX 160
#define BATCH_MESSAGE_MAX   32 /* BATCH_BEGIN, BATCH_END */
#define EXTACK_MAX	    160

/* One published port as the element of a dnat map. */
struct port_element {
	size_t index; /* in the caller's array */
	const char *map;
	uint8_t key[KEY_MAX];
	size_t key_len;
	uint8_t data[DATA_MAX];
	size_t data_len;
};

/* Appends FIELD to the concatenation BUF, padded to 4 bytes (BUF is zeroed). */
static void concat_put(uint8_t *buf, size_t *len, const void *field, size_t size)
{
	memcpy(buf + *len, field, size);
	*len += (size + 3) & ~(size_t)3;
}

static bool address_parse(const char *s, int *family, uint8_t out[16])
{
	if (s == NULL)
		return false;
	*family = strchr(s, ':') ? AF_INET6 : AF_INET;
	return inet_pton(*family, s, out) == 1;
}

/* Validates P and lays it out as the element of its map in E. */
static int port_element_plan(const struct nft_port *p, size_t index, struct port_element *e, berth_error **err)
{
	static const char *const maps[] = { "dnat4", "dnat4_ip", "dnat6", "dnat6_ip" };
	bool any = p->host_ip == NULL || *p->host_ip == '\0';
	uint8_t host[16], ctr[16], proto = (uint8_t)p->proto;
	uint16_t host_port = htons(p->host_port), container_port = htons(p->container_port);
	int hfamily = 0, cfamily = 0;
	size_t alen;
	char what[80];

	nft_port_describe(p, what, sizeof(what));
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return berth_error_set(err, EINVAL, "port %s: protocol %d is neither tcp nor udp", what, p->proto);
	if (p->host_port == 0 || p->container_port == 0)
		return berth_error_set(err, EINVAL, "port %s: port 0", what);
	if (!any && !address_parse(p->host_ip, &hfamily, host))
		return berth_error_set(err, EINVAL, "port %s: host address \"%s\" is not an IP address", what,
				       p->host_ip);
	if (!address_parse(p->container_ip, &cfamily, ctr))
		return berth_error_set(err, EINVAL, "port %s: container address \"%s\" is not an IP address", what,
				       p->container_ip ? p->container_ip : "(null)");
	if (!any && hfamily != cfamily)
		return berth_error_set(err, EINVAL, "port %s: host and container addresses %s and %s differ in family",
				       what, p->host_ip, p->container_ip);
	memset(e, 0, sizeof(*e));
	e->index = index;
	e->map = maps[(cfamily == AF_INET6 ? 2 : 0) + (any ? 0 : 1)];
	alen = cfamily == AF_INET6 ? 16 : 4;
	if (!any)
		concat_put(e->key, &e->key_len, host, alen);
	concat_put(e->key, &e->key_len, &proto, sizeof(proto));
	concat_put(e->key, &e->key_len, &host_port, sizeof(host_port));
	concat_put(e->data, &e->data_len, ctr, alen);
	concat_put(e->data, &e->data_len, &container_port, sizeof(container_port));
	return 0;
}

/* Orders elements by map and key, then by index: equal neighbours are the
 * same port given twice. */
static int element_compare(const void *a, const void *b)
{
	const struct port_element *x = *(const struct port_element *const *)a;
	const struct port_element *y = *(const struct port_element *const *)b;
	int c = strcmp(x->map, y->map);

	if (c == 0 && x->key_len != y->key_len)
		c = x->key_len < y->key_len ? -1 : 1;
	if (c == 0)
		c = memcmp(x->key, y->key, x->key_len);
	if (c == 0 && x->index != y->index)
		c = x->index < y->index ? -1 : 1;
	return c;
}

/* The same port twice in one call would make the kernel refuse the whole
 * transaction for it; name it here. Returns the index of the first port
 * that repeats an earlier one, or -1 (-2: out of memory). */
static long first_repeated(const struct port_element *elements, size_t n)
{
	_cleanup_free_ const struct port_element **sorted = NULL;
	long first = -1;

	if (n < 2)
		return -1;
	sorted = calloc(n, sizeof(*sorted));
	if (sorted == NULL)
		return -2;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &elements[i];
	qsort(sorted, n, sizeof(*sorted), element_compare);
	for (size_t i = 1; i < n; i++) {
		const struct port_element *a = sorted[i - 1], *b = sorted[i];

		if (strcmp(a->map, b->map) == 0 && a->key_len == b->key_len &&
		    memcmp(a->key, b->key, a->key_len) == 0 && (first < 0 || b->index < (size_t)first))
			first = (long)b->index;
	}
	return first;
}

/* ---- the batch ---- */

/* A message header at BUF + *LEN (which the caller advances once the
 * message is complete). */
static struct nlmsghdr *batch_put_header(char *buf, size_t *len, uint16_t type, uint16_t flags, uint32_t seq,
					 uint8_t family, uint16_t res_id)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *len);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(res_id);
	return nlh;
}

static void batch_put_value(struct nlmsghdr *nlh, uint16_t type, const void *value, size_t len)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);

	mnl_attr_put(nlh, NFTA_DATA_VALUE, len, value);
	mnl_attr_nest_end(nlh, nest);
}

/* Appends the NEWSETELEM (ADD) or DELSETELEM message for E. */
static void batch_put_element(char *buf, size_t *len, const struct port_element *e, bool add, bool last, uint32_t seq)
{
	uint16_t type = NFNL_SUBSYS_NFTABLES << 8 | (add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
	uint16_t flags = (add ? NLM_F_CREATE | NLM_F_EXCL : 0) | (last ? NLM_F_ACK : 0);
	struct nlmsghdr *nlh = batch_put_header(buf, len, type, flags, seq, NFPROTO_INET, 0);
	struct nlattr *list, *elem;

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, NFT_TABLE_NAME);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, e->map);
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	batch_put_value(nlh, NFTA_SET_ELEM_KEY, e->key, e->key_len);
	if (add)
		batch_put_value(nlh, NFTA_SET_ELEM_DATA, e->data, e->data_len);
	mnl_attr_nest_end(nlh, elem);
	mnl_attr_nest_end(nlh, list);
	*len += nlh->nlmsg_len;
}

/* What the kernel answered to a batch of N element messages, numbered
 * from seq 1; seq 0 is BATCH_BEGIN. */
struct batch_answer {
	size_t n;
	long failed;		 /* first element refused, or -1 */
	int failed_code;	 /* its errno */
	int batch_code;		 /* errno of the batch itself (commit), or 0 */
	bool acked;		 /* the last element was answered */
	bool overrun;		 /* answers were lost (ENOBUFS) */
	char extack[EXTACK_MAX]; /* the kernel's reason for the first error */
};

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	struct batch_answer *a = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(a->extack, sizeof(a->extack), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static void answer_record(struct batch_answer *a, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	uint32_t seq = nlh->nlmsg_seq;
	bool first_error;

	if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return;
	if (seq == a->n && e->error <= 0)
		a->acked = true;
	if (e->error >= 0)
		return;
	first_error = a->batch_code == 0 && a->failed < 0;
	if (seq >= 1 && seq <= a->n) {
		if (a->failed < 0 || seq - 1 < (size_t)a->failed) {
			a->failed = (long)(seq - 1);
			a->failed_code = -e->error;
			first_error = true;
		}
	} else if (a->batch_code == 0) {
		a->batch_code = -e->error;
	}
	if (first_error && (nlh->nlmsg_flags & NLM_F_ACK_TLVS)) {
		size_t offset = sizeof(*e);

		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			offset += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		a->extack[0] = '\0';
		mnl_attr_parse(nlh, (unsigned int)offset, extack_attr_cb, a);
	}
}

/* Reads every answer the kernel queued for the batch just sent. */
static int answers_read(struct mnl_socket *sock, struct batch_answer *a)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	for (;;) {
		ssize_t len = recv(mnl_socket_get_fd(sock), buf, sizeof(buf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = (int)len;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == ENOBUFS) {
			a->overrun = true;
			continue;
		}
		if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (len < 0)
			return -errno;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
			answer_record(a, nlh);
	}
}

static void cleanup_mnl_socketp(struct mnl_socket **sock)
{
	if (*sock != NULL)
		mnl_socket_close(*sock);
	*sock = NULL;
}
#define _cleanup_mnl_socket_ __attribute__((cleanup(cleanup_mnl_socketp)))

/* Makes room for a batch of LEN bytes in the socket's send buffer (the
 * kernel refuses a message larger than it). */
static void sndbuf_fit(struct mnl_socket *sock, size_t len)
{
	int fd = mnl_socket_get_fd(sock), size = 0;
	socklen_t optlen = sizeof(size);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &optlen) == 0 && (size_t)size >= len + 1024)
		return;
	size = len > (size_t)(1 << 29) ? 1 << 29 : (int)len + 1024;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/* Sends the elements as one batch and reads the answers into A. Returns
 * 0 (A says how it went) or the error of the socket calls. */
static int batch_run(const struct port_element *elements, size_t n, bool add, struct batch_answer *a, berth_error **err)
{
	_cleanup_mnl_socket_ struct mnl_socket *sock = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, size = n * ELEMENT_MESSAGE_MAX + 2 * BATCH_MESSAGE_MAX;
	int one = 1, ret;

	memset(a, 0, sizeof(*a));
	a->n = n;
	a->failed = -1;
	buf = calloc(1, size);
	if (buf == NULL)
		return berth_error_set(err, ENOMEM, "nftables batch");
	len += batch_put_header(buf, &len, NFNL_MSG_BATCH_BEGIN, 0, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES)->nlmsg_len;
	for (size_t i = 0; i < n; i++)
		batch_put_element(buf, &len, &elements[i], add, i + 1 == n, (uint32_t)(i + 1));
	len += batch_put_header(buf, &len, NFNL_MSG_BATCH_END, 0, (uint32_t)(n + 1), AF_UNSPEC, NFNL_SUBSYS_NFTABLES)
		   ->nlmsg_len;

	sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (sock == NULL)
		return berth_error_set(err, errno, "nftables: open netlink socket");
	/* the kernel's reason with each error, without the request echoed */
	mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0)
		return berth_error_set(err, errno, "nftables: bind netlink socket");
	sndbuf_fit(sock, len);
	if (mnl_socket_sendto(sock, buf, len) < 0)
		return berth_error_set(err, errno, "nftables: send %zu bytes", len);
	if ((ret = answers_read(sock, a)) < 0)
		return berth_error_set(err, -ret, "nftables: read answers");
	return 0;
}

/* ---- publish, unpublish ---- */

static int ports_change(const struct nft_port *ports, size_t n, bool add, berth_error **err)
{
	_cleanup_free_ struct port_element *elements = NULL;
	const char *verb = add ? "publish" : "unpublish";
	struct batch_answer a;
	char what[80];
	long repeated;

	if (n == 0)
		return 0;
	elements = calloc(n, sizeof(*elements));
	if (elements == NULL)
		return berth_error_set(err, ENOMEM, "%s ports", verb);
	for (size_t i = 0; i < n; i++)
		if (port_element_plan(&ports[i], i, &elements[i], err) < 0)
			return berth_error_wrap(err, "%s ports", verb);
	repeated = first_repeated(elements, n);
	if (repeated == -2)
		return berth_error_set(err, ENOMEM, "%s ports", verb);
	if (repeated >= 0) {
		nft_port_describe(&ports[repeated], what, sizeof(what));
		return berth_error_set(err, EINVAL, "%s port %s: given twice", verb, what);
	}

	if (batch_run(elements, n, add, &a, err) < 0)
		return berth_error_wrap(err, "%s ports", verb);
	if (a.failed >= 0) {
		const struct port_element *e = &elements[a.failed];

		nft_port_describe(&ports[a.failed], what, sizeof(what));
		if (add && a.failed_code == EEXIST)
			return berth_error_set(err, EEXIST, "publish port %s: already published", what);
		if (!add && a.failed_code == ENOENT)
			return berth_error_set(err, ENOENT, "unpublish port %s: not published", what);
		if (add && a.failed_code == ENOENT)
			return berth_error_set(err, ENOENT,
					       "publish port %s: no nftables map inet %s %s (no network added?)", what,
					       NFT_TABLE_NAME, e->map);
		return berth_error_set(err, a.failed_code, "%s port %s: nftables%s%s", verb, what,
				       a.extack[0] ? ": " : "", a.extack);
	}
	if (a.batch_code != 0)
		return berth_error_set(err, a.batch_code, "%s ports: nftables transaction%s%s", verb,
				       a.extack[0] ? ": " : "", a.extack);
	if (!a.acked)
		return berth_error_set(err, a.overrun ? ENOBUFS : EIO, "%s ports: nftables: no answer to the batch",
				       verb);
	return 0;
}

int nft_ports_add(const struct nft_port *ports, size_t n, berth_error **err)
{
	return ports_change(ports, n, true, err);
}

int nft_ports_remove(const struct nft_port *ports, size_t n, berth_error **err)
{
	return ports_change(ports, n, false, err);
}
