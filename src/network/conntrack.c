/* Conntrack entries over nfnetlink (see conntrack.h): one dump of the IPv4
 * table, then a DELETE naming the original tuple of each entry that
 * matches, on the same socket. */
#include "network/conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"

/* The parts of a tuple (CTA_TUPLE_ORIG or _REPLY) that matter here. */
typedef struct tuple {
	struct in_addr src, dst;
	uint8_t proto;
	uint16_t sport; /* network order */
	bool has_src, has_dst, has_proto;
} tuple;

typedef struct match_state {
	struct in_addr endpoint;
	uint16_t port; /* network order */
	/* the raw CTA_TUPLE_ORIG payloads of the entries to delete */
	char **tuples;
	size_t *lengths;
	size_t n;
	bool failed;
} match_state;

static int ip_cb(const struct nlattr *attr, void *data)
{
	tuple *t = data;

	if (mnl_attr_get_payload_len(attr) != sizeof(struct in_addr))
		return MNL_CB_OK;
	if (mnl_attr_get_type(attr) == CTA_IP_V4_SRC) {
		memcpy(&t->src, mnl_attr_get_payload(attr), sizeof(t->src));
		t->has_src = true;
	} else if (mnl_attr_get_type(attr) == CTA_IP_V4_DST) {
		memcpy(&t->dst, mnl_attr_get_payload(attr), sizeof(t->dst));
		t->has_dst = true;
	}
	return MNL_CB_OK;
}

static int proto_cb(const struct nlattr *attr, void *data)
{
	tuple *t = data;

	if (mnl_attr_get_type(attr) == CTA_PROTO_NUM && mnl_attr_validate(attr, MNL_TYPE_U8) == 0) {
		t->proto = mnl_attr_get_u8(attr);
		t->has_proto = true;
	} else if (mnl_attr_get_type(attr) == CTA_PROTO_SRC_PORT && mnl_attr_validate(attr, MNL_TYPE_U16) == 0) {
		t->sport = mnl_attr_get_u16(attr);
	}
	return MNL_CB_OK;
}

static int tuple_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == CTA_TUPLE_IP && mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0)
		mnl_attr_parse_nested(attr, ip_cb, data);
	else if (mnl_attr_get_type(attr) == CTA_TUPLE_PROTO && mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0)
		mnl_attr_parse_nested(attr, proto_cb, data);
	return MNL_CB_OK;
}

typedef struct entry {
	const struct nlattr *orig, *reply;
} entry;

static int entry_cb(const struct nlattr *attr, void *data)
{
	entry *e = data;

	if (mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0)
		return MNL_CB_OK;
	if (mnl_attr_get_type(attr) == CTA_TUPLE_ORIG)
		e->orig = attr;
	else if (mnl_attr_get_type(attr) == CTA_TUPLE_REPLY)
		e->reply = attr;
	return MNL_CB_OK;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	match_state *m = data;
	entry e = { 0 };
	tuple orig = { 0 }, reply = { 0 };
	char *copy, **tuples;
	size_t *lengths, len;

	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), entry_cb, &e);
	if (e.orig == NULL || e.reply == NULL)
		return MNL_CB_OK;
	mnl_attr_parse_nested(e.orig, tuple_cb, &orig);
	mnl_attr_parse_nested(e.reply, tuple_cb, &reply);
	if (!reply.has_proto || reply.proto != IPPROTO_UDP || !reply.has_src || !orig.has_dst ||
	    reply.src.s_addr != m->endpoint.s_addr || reply.sport != m->port || orig.dst.s_addr == m->endpoint.s_addr)
		return MNL_CB_OK;
	len = mnl_attr_get_payload_len(e.orig);
	copy = malloc(len);
	tuples = realloc(m->tuples, (m->n + 1) * sizeof(*tuples));
	if (tuples)
		m->tuples = tuples;
	lengths = realloc(m->lengths, (m->n + 1) * sizeof(*lengths));
	if (lengths)
		m->lengths = lengths;
	if (copy == NULL || tuples == NULL || lengths == NULL) {
		free(copy);
		m->failed = true;
		return MNL_CB_OK;
	}
	memcpy(copy, mnl_attr_get_payload(e.orig), len);
	m->tuples[m->n] = copy;
	m->lengths[m->n++] = len;
	return MNL_CB_OK;
}

static void cleanup_mnl_socketp(struct mnl_socket **sock)
{
	if (*sock != NULL)
		mnl_socket_close(*sock);
	*sock = NULL;
}

static struct nlmsghdr *put_header(char *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

/* Sends NLH and reads its answers (to CB) up to the end of a dump or the
 * acknowledgement. Returns 0 or -errno. */
static int request(struct mnl_socket *sock, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[32768]; /* a dump sends up to 32 KiB at a time */
	unsigned int portid = mnl_socket_get_portid(sock), seq = nlh->nlmsg_seq;
	ssize_t len;
	int ret;

	if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		len = mnl_socket_recvfrom(sock, buf, sizeof(buf));
		if (len < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)len, seq, portid, cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

int conntrack_delete_udp_to(struct in_addr endpoint, uint16_t port, berth_error **err)
{
	__attribute__((cleanup(cleanup_mnl_socketp))) struct mnl_socket *sock = NULL;
	match_state m = { .endpoint = endpoint, .port = htons(port) };
	char buf[MNL_SOCKET_BUFFER_SIZE], addr[INET_ADDRSTRLEN];
	uint32_t seq = (uint32_t)time(NULL);
	int ret, deleted = 0;

	inet_ntop(AF_INET, &endpoint, addr, sizeof(addr));
	sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (sock == NULL)
		return berth_error_set(err, errno, "conntrack: open netlink socket");
	if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0)
		return berth_error_set(err, errno, "conntrack: bind netlink socket");
	ret = request(sock, put_header(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq), dump_cb, &m);
	if (ret < 0 || m.failed) {
		ret = berth_error_set(err, ret < 0 ? -ret : ENOMEM, "conntrack: list udp flows to %s:%u", addr, port);
		deleted = -1;
	}
	for (size_t i = 0; i < m.n; i++) {
		struct nlmsghdr *nlh = put_header(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, ++seq);

		if (deleted >= 0) {
			mnl_attr_put(nlh, CTA_TUPLE_ORIG | NLA_F_NESTED, m.lengths[i], m.tuples[i]);
			ret = request(sock, nlh, NULL, NULL);
			if (ret == 0)
				deleted++;
			else if (ret != -ENOENT) /* gone meanwhile: fine */
				deleted =
				    berth_error_set(err, -ret, "conntrack: delete a udp flow to %s:%u", addr, port);
		}
		free(m.tuples[i]);
	}
	free(m.tuples);
	free(m.lengths);
	return deleted;
}
