/* Services: the pure parts (service.h): validation, ClusterIP allocation,
 * and the nftables transaction that takes the kernel from earlier states
 * of a service to a new one. Nothing here does I/O but writing to a FILE.
 *
 * Every name written into the nft text comes from validated values: the
 * service name ([a-z0-9.-]), protocols, numbers, and addresses re-rendered
 * by inet_ntop. */
#include "network/service.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

#define T "inet berth"

void service_clear(service *s)
{
	free(s->endpoints);
	memset(s, 0, sizeof(*s));
}

static const char *proto_name(int proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

/* ---- validation ---- */

static bool name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SERVICE_NAME_MAX || !isalnum((unsigned char)name[0]) ||
	    !isalnum((unsigned char)name[len - 1]) || strstr(name, "..") != NULL)
		return false;
	for (const char *c = name; *c; c++)
		if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '.'))
			return false;
	return true;
}

static bool parse_range(const char *range, uint32_t *net, unsigned *prefix)
{
	char addr[INET_ADDRSTRLEN];
	struct in_addr a;
	const char *slash = strchr(range, '/');
	char *end;
	long p;

	if (slash == NULL || (size_t)(slash - range) >= sizeof(addr))
		return false;
	memcpy(addr, range, (size_t)(slash - range));
	addr[slash - range] = '\0';
	p = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET, addr, &a) != 1 || *end != '\0' || p < 8 || p > 30)
		return false;
	*prefix = (unsigned)p;
	*net = ntohl(a.s_addr) & (~0u << (32 - p));
	return true;
}

bool service_range_contains(const char *range, const char *addr)
{
	uint32_t net;
	unsigned prefix;
	struct in_addr a;

	if (!parse_range(range, &net, &prefix) || inet_pton(AF_INET, addr, &a) != 1)
		return false;
	return (ntohl(a.s_addr) & (~0u << (32 - prefix))) == net;
}

int service_spec_validate(const service_spec *s, berth_error **err)
{
	const char *n = s->name;

	if (!name_valid(n))
		return berth_error_request(err, EINVAL,
					   "service \"%s\": a name is 1-%d of a-z, 0-9, '-' and '.', starting and "
					   "ending with a letter or digit",
					   n, SERVICE_NAME_MAX);
	if (s->n_ports == 0 || s->n_ports > SERVICE_PORTS_MAX)
		return berth_error_request(err, EINVAL, "service %s: 1 to %d ports, not %zu", n, SERVICE_PORTS_MAX,
					   s->n_ports);
	if (s->cluster_ip[0] != '\0') {
		struct in_addr a;
		uint32_t net;
		unsigned prefix;

		if (inet_pton(AF_INET, s->cluster_ip, &a) != 1)
			return berth_error_request(err, EINVAL, "service %s: ClusterIP \"%s\" is not an IPv4 address",
						   n, s->cluster_ip);
		parse_range(SERVICE_RANGE, &net, &prefix);
		if (!service_range_contains(SERVICE_RANGE, s->cluster_ip) || ntohl(a.s_addr) == net ||
		    ntohl(a.s_addr) == (net | ~(~0u << (32 - prefix))))
			return berth_error_request(err, EINVAL, "service %s: ClusterIP %s is not a host of %s", n,
						   s->cluster_ip, SERVICE_RANGE);
	}
	for (size_t i = 0; i < s->n_ports; i++) {
		const service_port *p = &s->ports[i];

		if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
			return berth_error_request(err, EINVAL,
						   "service %s: ports[%zu]: protocol is neither TCP nor UDP", n, i);
		if (p->port == 0)
			return berth_error_request(err, EINVAL, "service %s: ports[%zu]: port 0", n, i);
		if (p->node_port != 0 && !s->node_ports)
			return berth_error_request(err, EINVAL, "service %s: ports[%zu]: a node port without NodePort",
						   n, i);
		if (p->node_port != 0 && (p->node_port < SERVICE_NODE_PORT_MIN || p->node_port > SERVICE_NODE_PORT_MAX))
			return berth_error_request(err, EINVAL, "service %s: ports[%zu]: node port %u is not in %d-%d",
						   n, i, p->node_port, SERVICE_NODE_PORT_MIN, SERVICE_NODE_PORT_MAX);
		for (const char *c = p->name; *c; c++)
			if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-'))
				return berth_error_request(err, EINVAL, "service %s: ports[%zu]: bad name \"%s\"", n, i,
							   p->name);
		for (size_t j = 0; j < i; j++) {
			const service_port *q = &s->ports[j];
			if (q->proto == p->proto && q->port == p->port)
				return berth_error_request(err, EINVAL, "service %s: ports[%zu]: %s/%u given twice", n,
							   i, proto_name(p->proto), p->port);
			if (p->node_port && q->proto == p->proto && q->node_port == p->node_port)
				return berth_error_request(err, EINVAL,
							   "service %s: ports[%zu]: node port %s/%u given twice", n, i,
							   proto_name(p->proto), p->node_port);
			if (p->name[0] && strcmp(p->name, q->name) == 0)
				return berth_error_request(
				    err, EINVAL, "service %s: ports[%zu]: name \"%s\" given twice", n, i, p->name);
		}
		if (s->n_ports > 1 && p->name[0] == '\0')
			return berth_error_request(
			    err, EINVAL, "service %s: ports[%zu]: a service of several ports names each", n, i);
	}
	if (s->affinity_timeout > 86400)
		return berth_error_request(err, EINVAL, "service %s: affinity timeout %u s is over 86400 (1 day)", n,
					   s->affinity_timeout);
	return 0;
}

int service_endpoints_validate(const service_spec *s, const service_endpoint *eps, size_t n, berth_error **err)
{
	if (n > SERVICE_ENDPOINTS_MAX)
		return berth_error_request(err, EINVAL, "service %s: %zu endpoints, at most %d", s->name, n,
					   SERVICE_ENDPOINTS_MAX);
	for (size_t i = 0; i < n; i++) {
		struct in_addr a;

		if (inet_pton(AF_INET, eps[i].ip, &a) != 1)
			return berth_error_request(err, EINVAL, "service %s: endpoint \"%s\" is not an IPv4 address",
						   s->name, eps[i].ip);
		for (size_t j = 0; j < i; j++)
			if (strcmp(eps[i].ip, eps[j].ip) == 0)
				return berth_error_request(err, EINVAL, "service %s: endpoint %s given twice", s->name,
							   eps[i].ip);
	}
	return 0;
}

int service_vip_next(const char *range, const char *const *used, size_t n, char out[INET_ADDRSTRLEN], berth_error **err)
{
	uint32_t net, last;
	unsigned prefix;

	if (!parse_range(range, &net, &prefix))
		return berth_error_set(err, EINVAL, "service range \"%s\": not A.B.C.D/8-30", range);
	last = net | ~(~0u << (32 - prefix));
	for (uint32_t a = net + 1; a < last; a++) {
		struct in_addr in = { htonl(a) };
		bool taken = false;

		inet_ntop(AF_INET, &in, out, INET_ADDRSTRLEN);
		for (size_t i = 0; i < n && !taken; i++)
			taken = used[i] && strcmp(used[i], out) == 0;
		if (!taken)
			return 0;
	}
	out[0] = '\0';
	return berth_error_request(err, ENOSPC, "service range %s: no free ClusterIP", range);
}

bool service_endpoint_serves(const service_endpoint *e, size_t i)
{
	return i >= 32 || (e->absent & (UINT32_C(1) << i)) == 0;
}

uint16_t service_target_port(const service *s, size_t i, size_t k)
{
	const service_port *p = &s->spec.ports[i];

	if (s->endpoints[k].target_ports[i])
		return s->endpoints[k].target_ports[i];
	return p->target_port ? p->target_port : p->port;
}

/* ---- planning ---- */

enum obj_kind { OBJ_CHAIN, OBJ_SET, OBJ_ELEMENT };

/* One object a service state has in the table. */
typedef struct obj {
	enum obj_kind kind;
	char name[SERVICE_NAME_MAX + 48]; /* chain, set, or the element's map/set */
	char key[64];			  /* element */
	char data[SERVICE_NAME_MAX + 56]; /* element of a map: "goto CHAIN" */
} obj;

typedef struct obj_list {
	obj *v;
	size_t n, cap;
	bool failed; /* out of memory: the plan is not written */
} obj_list;

/* A new object at the end of L (a scratch one, L->failed set, when out of
 * memory). */
static obj *obj_add(obj_list *l, enum obj_kind kind)
{
	static __thread obj scratch;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		obj *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			l->failed = true;
			memset(&scratch, 0, sizeof(scratch));
			return &scratch;
		}
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(obj));
	l->v[l->n].kind = kind;
	return &l->v[l->n++];
}

static bool obj_equal(const obj *a, const obj *b)
{
	return a->kind == b->kind && strcmp(a->name, b->name) == 0 && strcmp(a->key, b->key) == 0;
}

static bool obj_in(const obj_list *l, const obj *o)
{
	for (size_t i = 0; i < l->n; i++)
		if (obj_equal(&l->v[i], o))
			return true;
	return false;
}

static void svc_chain(const service *s, const service_port *p, char *out, size_t len)
{
	snprintf(out, len, "svc-%s-%s-%u", s->spec.name, proto_name(p->proto), p->port);
}

static void ep_suffix(const service_endpoint *e, char out[9])
{
	struct in_addr a = { 0 };

	inet_pton(AF_INET, e->ip, &a);
	snprintf(out, 9, "%08x", ntohl(a.s_addr));
}

static void ep_chain(const service *s, const service_port *p, const service_endpoint *e, char *out, size_t len)
{
	char hex[9];

	ep_suffix(e, hex);
	snprintf(out, len, "ep-%s-%s-%u-%s", s->spec.name, proto_name(p->proto), p->port, hex);
}

static void aff_set(const service *s, const service_port *p, const service_endpoint *e, char *out, size_t len)
{
	char hex[9];

	ep_suffix(e, hex);
	snprintf(out, len, "aff-%s-%s-%u-%s", s->spec.name, proto_name(p->proto), p->port, hex);
}

static void np_chain(const service *s, const service_port *p, char *out, size_t len)
{
	snprintf(out, len, "np-%s-%s-%u", s->spec.name, proto_name(p->proto), p->node_port);
}

/* Every object of state S. */
static void objects_of(const service *s, obj_list *l)
{
	obj *o;

	if (s->spec.cluster_ip[0] == '\0')
		return;
	o = obj_add(l, OBJ_ELEMENT);
	snprintf(o->name, sizeof(o->name), "service_vips");
	snprintf(o->key, sizeof(o->key), "%s", s->spec.cluster_ip);
	for (size_t i = 0; i < s->spec.n_ports; i++) {
		const service_port *p = &s->spec.ports[i];
		char chain[sizeof(o->name)];

		svc_chain(s, p, chain, sizeof(chain));
		snprintf(obj_add(l, OBJ_CHAIN)->name, sizeof(o->name), "%s", chain);
		o = obj_add(l, OBJ_ELEMENT);
		snprintf(o->name, sizeof(o->name), "service_ips");
		snprintf(o->key, sizeof(o->key), "%s . %s . %u", s->spec.cluster_ip, proto_name(p->proto), p->port);
		snprintf(o->data, sizeof(o->data), "goto %s", chain);
		if (p->node_port) {
			char np[sizeof(o->name)];

			np_chain(s, p, np, sizeof(np));
			snprintf(obj_add(l, OBJ_CHAIN)->name, sizeof(o->name), "%s", np);
			o = obj_add(l, OBJ_ELEMENT);
			snprintf(o->name, sizeof(o->name), "service_nodeports");
			snprintf(o->key, sizeof(o->key), "%s . %u", proto_name(p->proto), p->node_port);
			snprintf(o->data, sizeof(o->data), "goto %s", np);
			o = obj_add(l, OBJ_ELEMENT);
			snprintf(o->name, sizeof(o->name), "service_node_ports");
			snprintf(o->key, sizeof(o->key), "%s . %u", proto_name(p->proto), p->node_port);
		}
		for (size_t k = 0; k < s->n_endpoints; k++) {
			if (!service_endpoint_serves(&s->endpoints[k], i))
				continue;
			ep_chain(s, p, &s->endpoints[k], obj_add(l, OBJ_CHAIN)->name, sizeof(o->name));
			if (s->spec.affinity_timeout)
				aff_set(s, p, &s->endpoints[k], obj_add(l, OBJ_SET)->name, sizeof(o->name));
		}
	}
}

static void put_declare(FILE *f, const obj *o)
{
	if (o->kind == OBJ_CHAIN)
		fprintf(f, "add chain " T " %s\n", o->name);
	else if (o->kind == OBJ_SET)
		fprintf(f, "add set " T " %s { type ipv4_addr; flags dynamic,timeout; }\n", o->name);
}

static void put_element(FILE *f, const char *verb, const obj *o, bool with_data)
{
	fprintf(f, "%s element " T " %s { %s%s%s }\n", verb, o->name, o->key, with_data && o->data[0] ? " : " : "",
		with_data ? o->data : "");
}

/* The rules of NEW's chains, written after they were flushed: port I of S
 * balances over the endpoints that serve it. */
static void put_rules(FILE *f, const service *s)
{
	for (size_t i = 0; i < s->spec.n_ports; i++) {
		const service_port *p = &s->spec.ports[i];
		char chain[SERVICE_NAME_MAX + 48], target[SERVICE_NAME_MAX + 48];
		size_t serving = 0, only = 0;

		svc_chain(s, p, chain, sizeof(chain));
		for (size_t k = 0; k < s->n_endpoints; k++) {
			const service_endpoint *e = &s->endpoints[k];
			char aff[SERVICE_NAME_MAX + 48];

			if (!service_endpoint_serves(e, i))
				continue;
			serving++;
			only = k;
			ep_chain(s, p, e, target, sizeof(target));
			aff_set(s, p, e, aff, sizeof(aff));
			if (s->spec.affinity_timeout) {
				fprintf(f, "add rule " T " %s ip saddr @%s goto %s\n", chain, aff, target);
				fprintf(f, "add rule " T " %s update @%s { ip saddr timeout %us }\n", target, aff,
					s->spec.affinity_timeout);
			}
			fprintf(f, "add rule " T " %s meta l4proto %s dnat ip to %s:%u\n", target, proto_name(p->proto),
				e->ip, service_target_port(s, i, k));
		}
		if (serving == 1) {
			ep_chain(s, p, &s->endpoints[only], target, sizeof(target));
			fprintf(f, "add rule " T " %s goto %s\n", chain, target);
		} else if (serving > 1) {
			size_t slot = 0;

			fprintf(f, "add rule " T " %s numgen random mod %zu vmap { ", chain, serving);
			for (size_t k = 0; k < s->n_endpoints; k++) {
				if (!service_endpoint_serves(&s->endpoints[k], i))
					continue;
				ep_chain(s, p, &s->endpoints[k], target, sizeof(target));
				fprintf(f, "%s%zu : goto %s", slot ? ", " : "", slot, target);
				slot++;
			}
			fputs(" }\n", f);
		}
		if (p->node_port) {
			np_chain(s, p, target, sizeof(target));
			fprintf(f, "add rule " T " %s goto %s\n", target, chain);
		}
	}
}

void service_plan_base(FILE *f)
{
	static const char base[] =
	    "add table " T "\n"
	    "add map " T " service_ips { type ipv4_addr . inet_proto . inet_service : verdict; }\n"
	    "add map " T " service_nodeports { type inet_proto . inet_service : verdict; }\n"
	    "add set " T " service_vips { type ipv4_addr; }\n"
	    "add set " T " service_node_ports { type inet_proto . inet_service; }\n"
	    "add chain " T " svc_prerouting { type nat hook prerouting priority -101; policy accept; }\n"
	    "add chain " T " svc_output { type nat hook output priority -101; policy accept; }\n"
	    "add chain " T " svc_forward { type filter hook forward priority -1; policy accept; }\n"
	    "add chain " T " svc_input { type filter hook input priority -1; policy accept; }\n"
	    "add chain " T " svc_output_filter { type filter hook output priority -1; policy accept; }\n"
	    "add chain " T " svc_services\n"
	    "add chain " T " svc_reject\n"
	    "flush chain " T " svc_prerouting\n"
	    "flush chain " T " svc_output\n"
	    "flush chain " T " svc_forward\n"
	    "flush chain " T " svc_input\n"
	    "flush chain " T " svc_output_filter\n"
	    "flush chain " T " svc_services\n"
	    "flush chain " T " svc_reject\n"
	    "add rule " T " svc_prerouting jump svc_services\n"
	    "add rule " T " svc_output jump svc_services\n"
	    "add rule " T " svc_services ip daddr . meta l4proto . th dport vmap @service_ips\n"
	    "add rule " T " svc_services fib daddr type local meta l4proto . th dport vmap @service_nodeports\n"
	    "add rule " T " svc_reject meta l4proto tcp reject with tcp reset\n"
	    "add rule " T " svc_reject reject\n"
	    "add rule " T " svc_forward ip daddr @service_vips jump svc_reject\n"
	    "add rule " T " svc_output_filter ip daddr @service_vips jump svc_reject\n"
	    "add rule " T " svc_input ct state new fib daddr type local meta l4proto . th dport @service_node_ports "
	    "jump svc_reject\n";

	fputs(base, f);
}

int service_plan(FILE *f, const service *const *stale, size_t n_stale, const service *new)
{
	obj_list old = { 0 }, cur = { 0 }, gone = { 0 };
	int ret = 0;

	for (size_t i = 0; i < n_stale; i++)
		objects_of(stale[i], &old);
	if (new)
		objects_of(new, &cur);
	for (size_t i = 0; i < old.n; i++)
		if (!obj_in(&cur, &old.v[i]) && !obj_in(&gone, &old.v[i]))
			*obj_add(&gone, old.v[i].kind) = old.v[i];
	if (old.failed || cur.failed || gone.failed) {
		ret = -ENOMEM;
		goto out;
	}

	service_plan_base(f);
	/* everything exists from here on: deleting cannot fail on a part a
	 * killed command never made */
	for (size_t i = 0; i < gone.n; i++)
		put_declare(f, &gone.v[i]);
	for (size_t i = 0; i < cur.n; i++)
		put_declare(f, &cur.v[i]);
	for (size_t i = 0; i < gone.n; i++)
		if (gone.v[i].kind == OBJ_ELEMENT) {
			put_element(f, "add", &gone.v[i], true);
			put_element(f, "delete", &gone.v[i], false);
		}
	for (size_t i = 0; i < gone.n; i++)
		if (gone.v[i].kind == OBJ_CHAIN)
			fprintf(f, "flush chain " T " %s\n", gone.v[i].name);
	for (size_t i = 0; i < cur.n; i++)
		if (cur.v[i].kind == OBJ_CHAIN)
			fprintf(f, "flush chain " T " %s\n", cur.v[i].name);
	if (new)
		put_rules(f, new);
	for (size_t i = 0; i < cur.n; i++)
		if (cur.v[i].kind == OBJ_ELEMENT)
			put_element(f, "add", &cur.v[i], true);
	for (size_t i = 0; i < gone.n; i++)
		if (gone.v[i].kind == OBJ_CHAIN)
			fprintf(f, "delete chain " T " %s\n", gone.v[i].name);
	for (size_t i = 0; i < gone.n; i++)
		if (gone.v[i].kind == OBJ_SET)
			fprintf(f, "delete set " T " %s\n", gone.v[i].name);
out:
	free(old.v);
	free(cur.v);
	free(gone.v);
	return ret;
}
