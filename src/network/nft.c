/* NAT, isolation and the listing of published ports in nftables (see nft.h;
 * publishing and unpublishing are in nft_ports.c, over netlink).
 *
 * Every call builds the nft commands as text from validated, re-rendered
 * values (addresses go through inet_pton/inet_ntop, bridge names are limited
 * to [A-Za-z0-9_.-]), then hands them to libnftables as one buffer, which
 * libnftables sends as one transaction. libnftables is opened on first use:
 * it pulls in libjansson, libgmp, libedit and libmnl/libnftnl, which
 * commands that never touch the network should not pay for. */
#include "util/dlib.h"
#include "network/nft.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <dirent.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

#define NFT_LIBRARY "libnftables.so.1"
#define T	    "inet " NFT_TABLE_NAME

static struct {
	struct nft_ctx *(*ctx_new)(uint32_t);
	void (*ctx_free)(struct nft_ctx *);
	int (*buffer_output)(struct nft_ctx *);
	int (*buffer_error)(struct nft_ctx *);
	const char *(*get_output_buffer)(struct nft_ctx *);
	const char *(*get_error_buffer)(struct nft_ctx *);
	int (*run_cmd_from_buffer)(struct nft_ctx *, const char *);
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[320];
static bool loaded;

static void load(void)
{
	const dlib_symbol symbols[] = {
		{ "nft_ctx_new", (void **)&lib.ctx_new },
		{ "nft_ctx_free", (void **)&lib.ctx_free },
		{ "nft_ctx_buffer_output", (void **)&lib.buffer_output },
		{ "nft_ctx_buffer_error", (void **)&lib.buffer_error },
		{ "nft_ctx_get_output_buffer", (void **)&lib.get_output_buffer },
		{ "nft_ctx_get_error_buffer", (void **)&lib.get_error_buffer },
		{ "nft_run_cmd_from_buffer", (void **)&lib.run_cmd_from_buffer },
	};

	loaded = dlib_open(NFT_LIBRARY, "libnftables1", symbols, sizeof(symbols) / sizeof(symbols[0]), load_error,
			   sizeof(load_error)) == 0;
}

static void cleanup_nft_ctxp(struct nft_ctx **ctx)
{
	if (*ctx != NULL)
		lib.ctx_free(*ctx);
	*ctx = NULL;
}
#define _cleanup_nft_ctx_ __attribute__((cleanup(cleanup_nft_ctxp)))

/* The errno behind libnftables' message, which only the text carries. */
static int errno_of_message(const char *reason)
{
	static const int known[] = { EEXIST, ENOENT, EPERM, EBUSY, ENOTEMPTY, EINVAL, ENOMEM, EOPNOTSUPP };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strstr(reason, strerror(known[i])) != NULL)
			return known[i];
	/* nft checks interval sets itself, before the kernel */
	if (strstr(reason, "does not exist") != NULL)
		return ENOENT;
	return 0;
}

struct nft_result {
	char *output;  /* what the commands printed (list) */
	char *reason;  /* first "Error: ..." line, without the prefix */
	char *errtext; /* libnftables' whole error text */
	int code;      /* errno that reason names, or 0 */
};

static void nft_result_clear(struct nft_result *r)
{
	free(r->output);
	free(r->reason);
	free(r->errtext);
	memset(r, 0, sizeof(*r));
}

static char *first_error_line(const char *text)
{
	const char *p = strstr(text, "Error: ");
	const char *end;

	if (p == NULL)
		return strndup(text, strcspn(text, "\n"));
	p += strlen("Error: ");
	end = p + strcspn(p, "\n");
	return strndup(p, (size_t)(end - p));
}

/* nft_run in this process; *CTX keeps the context, for the caller to free. */
static int nft_run_here(const char *cmds, struct nft_result *r, berth_error **err, struct nft_ctx **ctxp)
{
	struct nft_ctx *ctx;
	const char *text;
	int ret;

	memset(r, 0, sizeof(*r));
	pthread_once(&load_once, load);
	if (!loaded)
		return berth_error_set(err, ENOSYS, "nftables: %s", load_error) - 1;
	ctx = *ctxp = lib.ctx_new(NFT_CTX_DEFAULT);
	if (ctx == NULL)
		return berth_error_set(err, ENOMEM, "nftables: cannot create a context") - 1;
	if (lib.buffer_output(ctx) < 0 || lib.buffer_error(ctx) < 0)
		return berth_error_set(err, ENOMEM, "nftables: cannot buffer output") - 1;
	ret = lib.run_cmd_from_buffer(ctx, cmds);
	text = lib.get_output_buffer(ctx);
	r->output = strdup(text ? text : "");
	if (ret == 0)
		return r->output ? 0 : berth_error_set(err, ENOMEM, "nftables: output") - 1;
	text = lib.get_error_buffer(ctx);
	if (text == NULL || *text == '\0')
		text = "Error: failed without a message";
	r->errtext = strdup(text);
	r->reason = first_error_line(text);
	if (r->errtext == NULL || r->reason == NULL)
		return berth_error_set(err, ENOMEM, "nftables: error text") - 1;
	r->code = errno_of_message(r->reason);
	return -1;
}

/* The result of a child's run on the pipe: the return value, R->code and
 * the error's code, then the lengths and bytes of R->output, R->errtext,
 * R->reason and the error's message. */
struct nft_wire {
	int32_t ret, code, err_code;
	uint32_t len[4];
};

static int write_full(int fd, const void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, (const char *)buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* Closes every fd but libnftables' (NETLINK_NETFILTER) sockets. */
static void close_all_but_nftables(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self = d ? dirfd(d) : -1;

	while (d && (e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name), proto = 0;
		socklen_t len = sizeof(proto);
		if (e->d_name[0] == '.' || fd == self)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 && proto == NETLINK_NETFILTER)
			continue;
		close(fd);
	}
	if (d)
		closedir(d);
}

/* In the grandchild: runs CMDS, reports on FD, and exits. */
static _Noreturn void child_run(const char *cmds, int fd)
{
	struct nft_ctx *ctx = NULL;
	struct nft_result r = { 0 };
	berth_error *e = NULL;
	struct nft_wire w = { 0 };
	const char *parts[4];

	w.ret = nft_run_here(cmds, &r, &e, &ctx);
	w.code = r.code;
	w.err_code = e ? e->code : 0;
	parts[0] = r.output;
	parts[1] = r.errtext;
	parts[2] = r.reason;
	parts[3] = e ? e->msg : NULL;
	for (int i = 0; i < 4; i++)
		w.len[i] = parts[i] ? (uint32_t)strlen(parts[i]) : UINT32_MAX;
	if (write_full(fd, &w, sizeof(w)) == 0)
		for (int i = 0; i < 4; i++)
			if (parts[i] && write_full(fd, parts[i], w.len[i]) < 0)
				break;
	close(fd);
	/* closing libnftables' netlink socket waits for the kernel to finish
	 * destroying what the transaction deleted (an RCU grace period,
	 * milliseconds): the caller has its answer already. What it handed
	 * down (its locks above all: held until the transaction is made, even
	 * when the caller is killed meanwhile, and no longer) goes first. */
	close_all_but_nftables();
	_exit(0);
}

static int receive(int fd, struct nft_result *r, berth_error **err)
{
	struct nft_wire w;
	char *parts[4] = { NULL };
	int ret;

	if (read_full(fd, &w, sizeof(w)) < 0)
		return berth_error_request(err, EIO, "nftables: its process ended without an answer") - 1;
	for (int i = 0; i < 4; i++) {
		if (w.len[i] == UINT32_MAX)
			continue;
		parts[i] = malloc((size_t)w.len[i] + 1);
		if (parts[i] == NULL || read_full(fd, parts[i], w.len[i]) < 0) {
			for (int j = 0; j <= i; j++)
				free(parts[j]);
			return berth_error_request(err, EIO, "nftables: its process ended without an answer") - 1;
		}
		parts[i][w.len[i]] = '\0';
	}
	r->output = parts[0];
	r->errtext = parts[1];
	r->reason = parts[2];
	r->code = w.code;
	ret = w.ret;
	if (ret < -1)
		ret = berth_error_request(err, w.err_code, "%s", parts[3] ? parts[3] : "nftables: failed") - 1;
	free(parts[3]);
	return ret;
}

/* Runs CMDS as one libnftables buffer (one transaction). Returns 0, or -1
 * with R->reason, R->code and R->errtext filled (err set only when
 * libnftables could not be used at all: a negative value below -1).
 *
 * libnftables runs in a short-lived grandchild: the caller never loads it
 * (a long-lived process like the kube controller keeps none of its
 * memory), and the wait of the netlink socket's close falls on the
 * grandchild, which nobody waits for (it is reparented). Without fork, in
 * this process. */
static int nft_run(const char *cmds, struct nft_result *r, berth_error **err)
{
	int fds[2], ret, status;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe2(fds, O_CLOEXEC) < 0)
		goto here;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		goto here;
	}
	if (pid == 0) {
		close(fds[0]);
		if (fork() > 0)
			_exit(0);
		child_run(cmds, fds[1]); /* a failed fork: the child itself */
	}
	close(fds[1]);
	ret = receive(fds[0], r, err);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return ret;
here:;
	_cleanup_nft_ctx_ struct nft_ctx *ctx = NULL;
	return nft_run_here(cmds, r, err, &ctx);
}

/* A growing text buffer of nft commands, one per line. */
struct cmdbuf {
	char *buf;
	size_t len;
	FILE *f;
};

static int cmdbuf_open(struct cmdbuf *b, berth_error **err)
{
	memset(b, 0, sizeof(*b));
	b->f = open_memstream(&b->buf, &b->len);
	return b->f ? 0 : berth_error_set(err, errno, "nftables: open_memstream");
}

/* Closes the stream; B->buf then holds the text (free it). */
static int cmdbuf_finish(struct cmdbuf *b, berth_error **err)
{
	bool bad = ferror(b->f) != 0;

	if (fclose(b->f) != 0 || bad) {
		b->f = NULL;
		return berth_error_set(err, ENOMEM, "nftables: building commands");
	}
	b->f = NULL;
	return 0;
}

static void cmdbuf_clear(struct cmdbuf *b)
{
	if (b->f != NULL)
		fclose(b->f);
	free(b->buf);
	memset(b, 0, sizeof(*b));
}
#define _cleanup_cmdbuf_ __attribute__((cleanup(cmdbuf_clear)))

/* ---- validation: everything that reaches the nft text is re-rendered ---- */

static bool bridge_name_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len >= 16 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-')
			return false;
	return true;
}

/* Parses an address; *FAMILY is AF_INET or AF_INET6; OUT its canonical text. */
static bool parse_address(const char *s, int *family, char out[INET6_ADDRSTRLEN])
{
	unsigned char a[sizeof(struct in6_addr)];

	if (s == NULL)
		return false;
	*family = strchr(s, ':') ? AF_INET6 : AF_INET;
	return inet_pton(*family, s, a) == 1 && inet_ntop(*family, a, out, INET6_ADDRSTRLEN) != NULL;
}

/* "ADDR/PREFIX" with no host bits set, into canonical "ADDR/PREFIX". */
static int parse_subnet(const char *s, int *family, char *out, size_t size, berth_error **err)
{
	unsigned char a[sizeof(struct in6_addr)];
	char addr[INET6_ADDRSTRLEN], canon[INET6_ADDRSTRLEN];
	const char *slash = s ? strchr(s, '/') : NULL;
	char *end;
	long prefix, bits;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(addr))
		return berth_error_set(err, EINVAL, "subnet \"%s\": not ADDRESS/PREFIX", s ? s : "(null)");
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	*family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	bits = *family == AF_INET ? 32 : 128;
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (inet_pton(*family, addr, a) != 1 || slash[1] == '\0' || *end != '\0' || errno || prefix < 0 ||
	    prefix > bits)
		return berth_error_set(err, EINVAL, "subnet \"%s\": not ADDRESS/PREFIX", s);
	for (long i = prefix; i < bits; i++)
		if (a[i / 8] & (0x80 >> (i % 8)))
			return berth_error_set(err, EINVAL, "subnet \"%s\": address has bits set beyond /%ld", s,
					       prefix);
	inet_ntop(*family, a, canon, sizeof(canon));
	snprintf(out, size, "%s/%ld", canon, prefix);
	return 0;
}

static const char *proto_name(int proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : NULL;
}

void nft_port_describe(const struct nft_port *p, char *buf, size_t size)
{
	const char *proto = proto_name(p->proto) ? proto_name(p->proto) : "?";
	bool ip = p->host_ip != NULL && *p->host_ip != '\0';
	bool v6 = ip && strchr(p->host_ip, ':') != NULL;

	if (!ip)
		snprintf(buf, size, "%s/%u", proto, p->host_port);
	else
		snprintf(buf, size, "%s/%s%s%s:%u", proto, v6 ? "[" : "", p->host_ip, v6 ? "]" : "", p->host_port);
}

/* ---- networks ---- */

/* The table, sets, maps and chains; chains are flushed and refilled, so
 * running this on an existing table changes no element and adds no rule
 * twice. The output hook takes -100: nft 1.0.6 refuses "dstnat" there. */
static const char ruleset[] =
    "add table " T "\n"
    "add set " T " bridges { type ifname; }\n"
    "add set " T " internal { type ifname; }\n"
    "add set " T " same_bridge { type ifname . ifname; }\n"
    "add set " T " subnets4 { type ipv4_addr . ifname; flags interval; }\n"
    "add set " T " subnets6 { type ipv6_addr . ifname; flags interval; }\n"
    "add set " T " masq4 { type ipv4_addr; flags interval; }\n"
    "add set " T " masq6 { type ipv6_addr; flags interval; }\n"
    "add map " T " dnat4 { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
    "add map " T " dnat4_ip { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }\n"
    "add map " T " dnat6 { type inet_proto . inet_service : ipv6_addr . inet_service; }\n"
    "add map " T " dnat6_ip { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }\n"
    "add chain " T " prerouting { type nat hook prerouting priority dstnat; policy accept; }\n"
    "add chain " T " output { type nat hook output priority -100; policy accept; }\n"
    "add chain " T " postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
    "add chain " T " forward { type filter hook forward priority filter; policy accept; }\n"
    "add chain " T " published\n"
    "flush chain " T " prerouting\n"
    "flush chain " T " output\n"
    "flush chain " T " postrouting\n"
    "flush chain " T " forward\n"
    "flush chain " T " published\n"
    "add rule " T " prerouting fib daddr type local jump published\n"
    "add rule " T " output fib daddr type local jump published\n"
    "add rule " T " published dnat ip to ip daddr . meta l4proto . th dport map @dnat4_ip\n"
    "add rule " T " published dnat ip to meta l4proto . th dport map @dnat4\n"
    "add rule " T " published dnat ip6 to ip6 daddr . meta l4proto . th dport map @dnat6_ip\n"
    "add rule " T " published dnat ip6 to meta l4proto . th dport map @dnat6\n"
    "add rule " T " postrouting ip saddr 127.0.0.0/8 oifname @bridges masquerade\n"
    "add rule " T " postrouting ct status dnat ip saddr . oifname @subnets4 masquerade\n"
    "add rule " T " postrouting ct status dnat ip6 saddr . oifname @subnets6 masquerade\n"
    "add rule " T " postrouting ip saddr . oifname @subnets4 return\n"
    "add rule " T " postrouting ip6 saddr . oifname @subnets6 return\n"
    "add rule " T " postrouting ip saddr @masq4 masquerade\n"
    "add rule " T " postrouting ip6 saddr @masq6 masquerade\n"
    "add rule " T " forward iifname . oifname @same_bridge accept\n"
    "add rule " T " forward iifname @internal drop\n"
    "add rule " T " forward oifname @internal drop\n"
    "add rule " T " forward iifname @bridges oifname @bridges ct status dnat accept\n"
    "add rule " T " forward iifname @bridges oifname @bridges drop\n";

/* Writes "VERB element" commands for the elements of network N. */
static int network_elements(struct cmdbuf *b, const char *verb, const struct nft_network *n, berth_error **err)
{
	const char *br = n->bridge;

	if (!bridge_name_valid(br))
		return berth_error_set(err, EINVAL, "bridge \"%s\": not a valid interface name", br ? br : "(null)");
	fprintf(b->f, "%s element " T " bridges { \"%s\" }\n", verb, br);
	fprintf(b->f, "%s element " T " same_bridge { \"%s\" . \"%s\" }\n", verb, br, br);
	if (n->internal)
		fprintf(b->f, "%s element " T " internal { \"%s\" }\n", verb, br);
	for (const char *const *s = n->subnets; s != NULL && *s != NULL; s++) {
		char subnet[INET6_ADDRSTRLEN + 8];
		int family = AF_INET;

		if (parse_subnet(*s, &family, subnet, sizeof(subnet), err) < 0)
			return berth_error_wrap(err, "bridge %s", br);
		fprintf(b->f, "%s element " T " subnets%c { %s . \"%s\" }\n", verb, family == AF_INET ? '4' : '6',
			subnet, br);
		if (!n->internal)
			fprintf(b->f, "%s element " T " masq%c { %s }\n", verb, family == AF_INET ? '4' : '6', subnet);
	}
	return 0;
}

int nft_network_add(const struct nft_network *n, berth_error **err)
{
	_cleanup_cmdbuf_ struct cmdbuf b = { 0 };
	struct nft_result r = { 0 };
	int ret;

	if ((ret = cmdbuf_open(&b, err)) < 0)
		return ret;
	fputs(ruleset, b.f);
	if ((ret = network_elements(&b, "add", n, err)) < 0 || (ret = cmdbuf_finish(&b, err)) < 0)
		return ret;
	ret = nft_run(b.buf, &r, err);
	if (ret < -1)
		return berth_error_wrap(err, "add network on bridge %s", n->bridge);
	if (ret < 0)
		ret = berth_error_set(err, r.code, "add network on bridge %s: nftables: %s", n->bridge, r.reason);
	nft_result_clear(&r);
	return ret;
}

/* True when the set NAME has no element (or there is no such set). */
static int set_empty(const char *name, bool *empty, berth_error **err)
{
	struct nft_result r = { 0 };
	char cmd[96];
	int ret;

	snprintf(cmd, sizeof(cmd), "list set " T " %s\n", name);
	ret = nft_run(cmd, &r, err);
	if (ret < -1)
		return -1;
	if (ret < 0 && r.code != ENOENT)
		ret = berth_error_set(err, r.code, "nftables: list %s: %s", name, r.reason);
	else
		ret = 0;
	*empty = r.output == NULL || strstr(r.output, "elements = {") == NULL;
	nft_result_clear(&r);
	return ret;
}

/* True when no bridge is left (or there is no table) and no service
 * (service.h) either: the table can go. */
static int no_bridge_left(bool *empty, berth_error **err)
{
	if (set_empty("bridges", empty, err) < 0)
		return -1;
	if (*empty && set_empty("service_vips", empty, err) < 0)
		return -1;
	return 0;
}

int nft_run_transaction(const char *cmds, const char *what, berth_error **err)
{
	struct nft_result r = { 0 };
	int ret = nft_run(cmds, &r, err);

	if (ret < -1)
		return berth_error_wrap(err, "%s", what);
	if (ret < 0)
		ret = berth_error_set(err, r.code, "%s: nftables: %s", what, r.reason);
	if (ret < 0)
		berth_debug("%s: nftables refused:\n%s\n%s", what, cmds, r.errtext ? r.errtext : "");
	nft_result_clear(&r);
	return ret;
}

int nft_network_remove(const struct nft_network *n, berth_error **err)
{
	_cleanup_cmdbuf_ struct cmdbuf b = { 0 };
	struct nft_result r = { 0 };
	bool empty = false;
	int ret;

	if ((ret = cmdbuf_open(&b, err)) < 0)
		return ret;
	if ((ret = network_elements(&b, "delete", n, err)) < 0 || (ret = cmdbuf_finish(&b, err)) < 0)
		return ret;
	ret = nft_run(b.buf, &r, err);
	if (ret < -1)
		return berth_error_wrap(err, "remove network on bridge %s", n->bridge);
	if (ret < 0) {
		ret = berth_error_set(err, r.code, "remove network on bridge %s: nftables: %s", n->bridge, r.reason);
		nft_result_clear(&r);
		return ret;
	}
	nft_result_clear(&r);
	if (no_bridge_left(&empty, err) < 0)
		return berth_error_wrap(err, "remove network on bridge %s", n->bridge);
	if (empty && nft_table_remove(err) < 0)
		return berth_error_wrap(err, "remove network on bridge %s", n->bridge);
	return 0;
}

int nft_table_remove_unused(berth_error **err)
{
	bool empty = false;

	if (no_bridge_left(&empty, err) < 0)
		return -1;
	return empty ? nft_table_remove(err) : 0;
}

int nft_table_remove(berth_error **err)
{
	struct nft_result r = { 0 };
	int ret = nft_run("delete table " T "\n", &r, err);

	if (ret < -1)
		return berth_error_wrap(err, "remove table %s", T);
	if (ret < 0 && r.code != ENOENT)
		ret = berth_error_set(err, r.code, "remove table %s: nftables: %s", T, r.reason);
	else
		ret = 0;
	nft_result_clear(&r);
	return ret;
}

/* ---- listing ports ---- */

/* Splits S at each SEP into at most MAX fields; returns the count. */
static size_t split(char *s, const char *sep, char **fields, size_t max)
{
	size_t count = 0;

	while (count < max) {
		char *next = strstr(s, sep);

		fields[count++] = s;
		if (next == NULL)
			return count;
		*next = '\0';
		s = next + strlen(sep);
	}
	return count + 1; /* too many */
}

static bool parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || end == s || v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* One element of `list map` text: "[ADDR . ]PROTO . PORT : ADDR . PORT". */
static bool parse_entry(char *text, bool with_ip, struct nft_port_entry *e)
{
	char *sides[2], *key[3], *value[2];
	size_t keys = with_ip ? 3 : 2, k = 0;
	int family;

	memset(e, 0, sizeof(*e));
	if (split(text, " : ", sides, 2) != 2 || split(sides[0], " . ", key, keys) != keys ||
	    split(sides[1], " . ", value, 2) != 2)
		return false;
	if (with_ip && !parse_address(key[k++], &family, e->host_ip))
		return false;
	e->proto = strcmp(key[k], "tcp") == 0 ? IPPROTO_TCP : strcmp(key[k], "udp") == 0 ? IPPROTO_UDP : 0;
	return e->proto != 0 && parse_port(key[k + 1], &e->host_port) &&
	       parse_address(value[0], &family, e->container_ip) && parse_port(value[1], &e->container_port);
}

/* Appends the elements of every "elements = { ... }" in TEXT to *OUT. */
static int parse_map_listing(char *text, bool with_ip, struct nft_port_entry **out, size_t *n, berth_error **err)
{
	char *p = strstr(text, "elements = {");
	char *end, *save = NULL;

	if (p == NULL)
		return 0;
	p += strlen("elements = {");
	end = strchr(p, '}');
	if (end == NULL)
		return berth_error_set(err, EIO, "nftables: list ports: no end of elements");
	*end = '\0';
	for (char *item = strtok_r(p, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		struct nft_port_entry *grown;

		size_t len;

		item += strspn(item, " \t\n");
		len = strlen(item);
		while (len > 0 && isspace((unsigned char)item[len - 1]))
			item[--len] = '\0';
		if (len == 0)
			continue;
		grown = realloc(*out, (*n + 1) * sizeof(**out));
		if (grown == NULL)
			return berth_error_set(err, ENOMEM, "nftables: list ports");
		*out = grown;
		if (!parse_entry(item, with_ip, &(*out)[*n]))
			return berth_error_set(err, EIO, "nftables: list ports: cannot read element \"%s\"", item);
		(*n)++;
	}
	return 0;
}

int nft_ports_list(struct nft_port_entry **out, size_t *n, berth_error **err)
{
	static const char *const maps[] = { "dnat4", "dnat4_ip", "dnat6", "dnat6_ip" };
	_cleanup_free_ struct nft_port_entry *list = NULL;
	size_t count = 0;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		struct nft_result r = { 0 };
		char cmd[64];
		int ret;

		snprintf(cmd, sizeof(cmd), "list map " T " %s\n", maps[i]);
		ret = nft_run(cmd, &r, err);
		if (ret < -1)
			return berth_error_wrap(err, "list published ports");
		if (ret < 0 && r.code == ENOENT) {
			nft_result_clear(&r);
			break; /* no table, no ports */
		}
		if (ret < 0)
			ret = berth_error_set(err, r.code, "list published ports: nftables: %s", r.reason);
		else
			ret = parse_map_listing(r.output, strstr(maps[i], "_ip") != NULL, &list, &count, err);
		nft_result_clear(&r);
		if (ret < 0)
			return -1;
	}
	*out = move_ptr(list);
	*n = count;
	return 0;
}
