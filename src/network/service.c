/* Services: records, node port claims and the kernel (see service.h; the
 * pure planning is in service_plan.c).
 *
 * Every change runs under the host-wide services/lock, in this order:
 * load the record; validate; write the record with the state it replaces
 * in "Stale"; claim new node ports; run one nftables transaction; write
 * the record without "Stale"; release node ports no longer used. A failure
 * before the transaction puts the old record back; a kill leaves a record
 * from which the next call deletes what may exist. */
#include "network/service.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "network/conntrack.h"
#include "network/netlink.h"
#include "network/nft.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* ---- JSON ---- */

json_t *service_to_json(const service *s)
{
	const service_spec *sp = &s->spec;
	json_t *ports = json_array(), *eps = json_array();

	for (size_t i = 0; i < sp->n_ports; i++) {
		const service_port *p = &sp->ports[i];
		json_array_append_new(ports,
				      json_pack("{s:s, s:s, s:i, s:i, s:i}", "Name", p->name, "Protocol",
						p->proto == IPPROTO_UDP ? "udp" : "tcp", "Port", p->port, "TargetPort",
						p->target_port ? p->target_port : p->port, "NodePort", p->node_port));
	}
	for (size_t k = 0; k < s->n_endpoints; k++) {
		json_t *tp = json_array(), *absent = json_array();
		json_t *e = json_pack("{s:s}", "IP", s->endpoints[k].ip);
		bool any = false;
		for (size_t i = 0; i < sp->n_ports; i++) {
			json_array_append_new(tp, json_integer(s->endpoints[k].target_ports[i]));
			any = any || s->endpoints[k].target_ports[i];
			if (!service_endpoint_serves(&s->endpoints[k], i))
				json_array_append_new(absent, json_integer((json_int_t)i));
		}
		/* "Absent": the indexes of the ports it does not serve */
		if (any)
			json_object_set(e, "TargetPorts", tp);
		if (json_array_size(absent))
			json_object_set(e, "Absent", absent);
		json_decref(tp);
		json_decref(absent);
		json_array_append_new(eps, e);
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o}", "Name", sp->name, "Owner", sp->owner, "OwnerPath",
			 sp->owner_path, "ClusterIP", sp->cluster_ip, "Type", sp->node_ports ? "NodePort" : "ClusterIP",
			 "AffinityTimeout", sp->affinity_timeout, "Ports", ports, "Endpoints", eps);
}

static void copy_str(char *out, size_t len, json_t *j, const char *key)
{
	snprintf(out, len, "%s", json_string_value(json_object_get(j, key)) ?: "");
}

int service_from_json(json_t *j, service *out, berth_error **err)
{
	service_spec *sp = &out->spec;
	json_t *ports = json_object_get(j, "Ports"), *eps = json_object_get(j, "Endpoints"), *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j) || !json_is_array(ports) || json_array_size(ports) > SERVICE_PORTS_MAX)
		return berth_error_set(err, EINVAL, "service record: not a service");
	copy_str(sp->name, sizeof(sp->name), j, "Name");
	copy_str(sp->owner, sizeof(sp->owner), j, "Owner");
	copy_str(sp->owner_path, sizeof(sp->owner_path), j, "OwnerPath");
	copy_str(sp->cluster_ip, sizeof(sp->cluster_ip), j, "ClusterIP");
	sp->node_ports = strcmp(json_string_value(json_object_get(j, "Type")) ?: "", "NodePort") == 0;
	sp->affinity_timeout = (unsigned)json_integer_value(json_object_get(j, "AffinityTimeout"));
	json_array_foreach(ports, i, v) {
		service_port *p = &sp->ports[sp->n_ports++];
		copy_str(p->name, sizeof(p->name), v, "Name");
		p->proto = strcmp(json_string_value(json_object_get(v, "Protocol")) ?: "", "udp") == 0 ? IPPROTO_UDP
												       : IPPROTO_TCP;
		p->port = (uint16_t)json_integer_value(json_object_get(v, "Port"));
		p->target_port = (uint16_t)json_integer_value(json_object_get(v, "TargetPort"));
		p->node_port = (uint16_t)json_integer_value(json_object_get(v, "NodePort"));
	}
	if (json_array_size(eps) > 0) {
		out->endpoints = calloc(json_array_size(eps), sizeof(*out->endpoints));
		if (out->endpoints == NULL)
			return berth_error_set(err, ENOMEM, "service %s", sp->name);
	}
	json_array_foreach(eps, i, v) {
		service_endpoint *e = &out->endpoints[out->n_endpoints++];
		json_t *tp = json_object_get(v, "TargetPorts"), *t;
		size_t k;
		copy_str(e->ip, sizeof(e->ip), v, "IP");
		json_array_foreach(tp, k, t) {
			if (k < SERVICE_PORTS_MAX)
				e->target_ports[k] = (uint16_t)json_integer_value(t);
		}
		json_array_foreach(json_object_get(v, "Absent"), k, t) {
			if (json_integer_value(t) >= 0 && json_integer_value(t) < SERVICE_PORTS_MAX)
				e->absent |= UINT32_C(1) << json_integer_value(t);
		}
	}
	return 0;
}

/* ---- records ---- */

/* A record: the service and the states it replaced, not yet confirmed
 * gone from the kernel. */
typedef struct record {
	service cur;
	size_t n_stale;
	service *stale;
	bool exists;
} record;

static void record_clear(record *r)
{
	service_clear(&r->cur);
	for (size_t i = 0; i < r->n_stale; i++)
		service_clear(&r->stale[i]);
	free(r->stale);
	memset(r, 0, sizeof(*r));
}
#define _cleanup_record_ __attribute__((cleanup(record_clear)))

static void cleanup_service(service *s)
{
	service_clear(s);
}
#define _cleanup_service_ __attribute__((cleanup(cleanup_service)))

static int services_dir(const hostnet *h, berth_error **err)
{
	int fd;

	if (mkdirat(h->dirfd, "services", 0700) < 0 && errno != EEXIST)
		return berth_error_set(err, errno, "mkdir \"%s/services\"", h->dir);
	fd = openat(h->dirfd, "services", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s/services\"", h->dir);
	return fd;
}

int service_records_changed_at(const hostnet *h, struct timespec *out, berth_error **err)
{
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (fstatat(h->dirfd, "services", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "stat \"%s/services\"", h->dir);
	*out = st.st_mtim;
	return 0;
}

static int services_lock(int dirfd, const hostnet *h, berth_error **err)
{
	int fd = openat(dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return berth_error_set(err, errno, "lock %s/services", h->dir);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int saved = errno;
			close(fd);
			return berth_error_set(err, saved, "lock %s/services", h->dir);
		}
	return fd;
}

static int record_load(int dirfd, const char *name, record *r, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	char file[SERVICE_NAME_MAX + 8];
	json_t *j, *stale, *v;
	size_t i;
	int ret;

	memset(r, 0, sizeof(*r));
	snprintf(file, sizeof(file), "%s.json", name);
	if (fs_read_file_at(dirfd, file, &text, NULL, NULL) < 0)
		return errno == ENOENT ? -ENOENT : berth_error_set(err, errno, "service %s: read its record", name);
	j = json_loads(text, 0, NULL);
	ret = service_from_json(j, &r->cur, err);
	stale = json_object_get(j, "Stale");
	if (ret == 0 && json_array_size(stale) > 0) {
		r->stale = calloc(json_array_size(stale), sizeof(*r->stale));
		if (r->stale == NULL)
			ret = berth_error_set(err, ENOMEM, "service %s", name);
	}
	json_array_foreach(stale, i, v) {
		if (ret < 0)
			break;
		ret = service_from_json(v, &r->stale[r->n_stale++], err);
	}
	json_decref(j);
	if (ret < 0) {
		record_clear(r);
		return berth_error_wrap(err, "service %s: record", name);
	}
	r->exists = true;
	return 0;
}

/* Writes CUR with the N STALE states (atomically: a temporary file renamed
 * over the record, not flushed to disk: the kernel's state does not outlive
 * a crash of the machine either). */
static int record_write(int dirfd, const service *cur, const service *const *stale_states, size_t n, berth_error **err)
{
	json_t *j = service_to_json(cur), *stale = json_array();
	_cleanup_free_ char *text = NULL;
	char file[SERVICE_NAME_MAX + 8];

	for (size_t i = 0; i < n; i++)
		json_array_append_new(stale, service_to_json(stale_states[i]));
	json_object_set_new(j, "Stale", stale);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "service %s: record", cur->spec.name);
	snprintf(file, sizeof(file), "%s.json", cur->spec.name);
	return fs_write_file_replace(dirfd, file, text, strlen(text), 0600, err);
}

/* Writes CUR with the STALE states of OLD and OLD itself (WITH_OLD), or
 * none. */
static int record_save(int dirfd, const service *cur, const record *old, bool with_old, berth_error **err)
{
	_cleanup_free_ const service **stale = calloc(old->n_stale + 1, sizeof(*stale));
	size_t n = 0;

	if (stale == NULL)
		return berth_error_set(err, ENOMEM, "service %s: record", cur->spec.name);
	if (with_old && old->exists) {
		for (size_t i = 0; i < old->n_stale; i++)
			stale[n++] = &old->stale[i];
		stale[n++] = &old->cur;
	}
	return record_write(dirfd, cur, stale, n, err);
}

/* Puts OLD back as it was (or removes the record of a service that did
 * not exist). */
static void record_restore(int dirfd, const char *name, const record *old)
{
	char file[SERVICE_NAME_MAX + 8];
	berth_error *e = NULL;

	snprintf(file, sizeof(file), "%s.json", name);
	if (!old->exists) {
		unlinkat(dirfd, file, 0);
		return;
	}
	if (record_save(dirfd, &old->cur, &(record){ .n_stale = old->n_stale, .stale = old->stale, .exists = true },
			false, &e) < 0) {
		berth_debug("service %s: %s", name, e->msg);
		berth_error_free(&e);
	}
}

/* ---- the kernel ---- */

static int kernel_apply(const record *old, const service *new, const char *what, berth_error **err)
{
	_cleanup_free_ const service **stale = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len = 0, n = 0;
	FILE *f;
	int ret;

	stale = calloc(old->n_stale + 1, sizeof(*stale));
	f = stale ? open_memstream(&text, &len) : NULL;
	if (f == NULL)
		return berth_error_set(err, ENOMEM, "%s", what);
	for (size_t i = 0; i < old->n_stale; i++)
		stale[n++] = &old->stale[i];
	if (old->exists)
		stale[n++] = &old->cur;
	ret = service_plan(f, stale, n, new);
	if (fclose(f) != 0 || ret < 0)
		return berth_error_set(err, ENOMEM, "%s: plan", what);
	return nft_run_transaction(text, what, err);
}

/* The service objects that stay when services are gone: the base chains,
 * maps and sets; then the table when no network has it either. */
static void kernel_base_remove(void)
{
	static const char *const chains[] = { "svc_prerouting",	   "svc_output",   "svc_forward", "svc_input",
					      "svc_output_filter", "svc_services", "svc_reject" };
	_cleanup_free_ char *text = NULL;
	berth_error *e = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return;
	service_plan_base(f);
	for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]); i++)
		fprintf(f, "flush chain inet " NFT_TABLE_NAME " %s\n", chains[i]);
	for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]); i++)
		fprintf(f, "delete chain inet " NFT_TABLE_NAME " %s\n", chains[i]);
	fputs("delete map inet " NFT_TABLE_NAME " service_ips\n"
	      "delete map inet " NFT_TABLE_NAME " service_nodeports\n"
	      "delete set inet " NFT_TABLE_NAME " service_vips\n"
	      "delete set inet " NFT_TABLE_NAME " service_node_ports\n",
	      f);
	if (fclose(f) != 0 || nft_run_transaction(text, "remove the service chains", &e) < 0) {
		if (e)
			berth_debug("%s", e->msg);
		berth_error_free(&e);
		return;
	}
	if (nft_table_remove_unused(&e) < 0) {
		berth_debug("%s", e->msg);
		berth_error_free(&e);
	}
}

/* ---- UDP flows ---- */

/* Whether NEW sends UDP to IP:PORT. */
static bool udp_target_in(const service *new, const char *ip, uint16_t port)
{
	for (size_t i = 0; new &&i < new->spec.n_ports; i++)
		for (size_t k = 0; new->spec.ports[i].proto == IPPROTO_UDP &&k < new->n_endpoints; k++)
			if (strcmp(new->endpoints[k].ip, ip) == 0 && service_endpoint_serves(&new->endpoints[k], i) &&
			    service_target_port(new, i, k) == port)
				return true;
	return false;
}

static void udp_forget_state(const service *st, const service *new)
{
	for (size_t i = 0; i < st->spec.n_ports; i++) {
		if (st->spec.ports[i].proto != IPPROTO_UDP)
			continue;
		for (size_t k = 0; k < st->n_endpoints; k++) {
			uint16_t port = service_target_port(st, i, k);
			struct in_addr a;
			berth_error *e = NULL;
			if (!service_endpoint_serves(&st->endpoints[k], i) ||
			    udp_target_in(new, st->endpoints[k].ip, port) ||
			    inet_pton(AF_INET, st->endpoints[k].ip, &a) != 1)
				continue;
			if (conntrack_delete_udp_to(a, port, &e) < 0) {
				berth_debug("service %s: %s", st->spec.name, e->msg);
				berth_error_free(&e);
			}
		}
	}
}

/* The UDP flows that OLD's states sent to endpoints NEW (NULL: none) no
 * longer has: their conntrack entries go, so their next datagrams are
 * balanced again instead of following the entry to an endpoint that left. */
static void udp_flows_forget(const record *old, const service *new)
{
	if (old->exists)
		udp_forget_state(&old->cur, new);
	for (size_t i = 0; i < old->n_stale; i++)
		udp_forget_state(&old->stale[i], new);
}

/* ---- node ports ---- */

static void claimant_of(const char *name, char *out, size_t len)
{
	snprintf(out, len, HOSTNET_SERVICE_CLAIM "%s", name);
}

static bool has_node_port(const service *s, int proto, uint16_t node_port)
{
	for (size_t i = 0; i < s->spec.n_ports; i++)
		if (s->spec.ports[i].node_port == node_port && s->spec.ports[i].proto == proto)
			return true;
	return false;
}

/* Releases the node ports of ST that KEEP (NULL: none) does not have. */
static void node_ports_release(const hostnet *h, const service *st, const service *keep)
{
	char claimant[SERVICE_NAME_MAX + 16];

	claimant_of(st->spec.name, claimant, sizeof(claimant));
	for (size_t i = 0; i < st->spec.n_ports; i++) {
		const service_port *p = &st->spec.ports[i];
		if (p->node_port && !(keep && has_node_port(keep, p->proto, p->node_port)))
			hostnet_port_release(h, claimant, p->proto, p->node_port);
	}
}

/* The same for every state of the record R. */
static void node_ports_release_record(const hostnet *h, const record *r, const service *keep)
{
	if (r->exists)
		node_ports_release(h, &r->cur, keep);
	for (size_t i = 0; i < r->n_stale; i++)
		node_ports_release(h, &r->stale[i], keep);
}

/* Claims NEW's node ports, choosing free ones where 0 (and NodePort). */
static int node_ports_claim(const hostnet *h, service *new, berth_error **err)
{
	char claimant[SERVICE_NAME_MAX + 16];

	claimant_of(new->spec.name, claimant, sizeof(claimant));
	for (size_t i = 0; i < new->spec.n_ports; i++) {
		service_port *p = &new->spec.ports[i];

		if (!new->spec.node_ports)
			continue;
		if (p->node_port) {
			if (hostnet_port_claim(h, claimant, p->proto, p->node_port, err) < 0)
				return berth_error_wrap(err, "service %s: node port", new->spec.name);
			continue;
		}
		for (unsigned port = SERVICE_NODE_PORT_MIN; port <= SERVICE_NODE_PORT_MAX && !p->node_port; port++) {
			berth_error *e = NULL;
			bool taken = has_node_port(new, p->proto, (uint16_t)port);
			if (!taken && hostnet_port_claim(h, claimant, p->proto, (uint16_t)port, &e) == 0)
				p->node_port = (uint16_t)port;
			else if (e && e->code != EEXIST) {
				berth_error_wrap(&e, "service %s: node port", new->spec.name);
				*err = e;
				return -1;
			}
			berth_error_free(&e);
		}
		if (!p->node_port)
			return berth_error_request(err, ENOSPC, "service %s: no free node port in %d-%d",
						   new->spec.name, SERVICE_NODE_PORT_MIN, SERVICE_NODE_PORT_MAX);
	}
	return 0;
}

/* ---- ClusterIPs ---- */

static int used_vips(int dirfd, const char *except, char ***out, size_t *n)
{
	_cleanup_closedir_ DIR *d = fdopendir(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct dirent *e;

	*out = NULL;
	*n = 0;
	while (d && (e = readdir(d)) != NULL) {
		_cleanup_record_ record r = { 0 };
		size_t l = strlen(e->d_name);
		char name[SERVICE_NAME_MAX + 8], **grown;
		if (e->d_name[0] == '.' || l <= 5 || l > SERVICE_NAME_MAX + 5 ||
		    strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), e->d_name);
		if (strcmp(name, except) == 0 || record_load(dirfd, name, &r, NULL) < 0)
			continue;
		grown = realloc(*out, (*n + 1) * sizeof(**out));
		if (grown == NULL)
			return -ENOMEM;
		*out = grown;
		(*out)[(*n)++] = strdup(r.cur.spec.cluster_ip);
	}
	return 0;
}

static int vip_choose(int dirfd, service *new, berth_error **err)
{
	char **used = NULL;
	size_t n = 0;
	int ret = 0;

	if (used_vips(dirfd, new->spec.name, &used, &n) < 0)
		ret = berth_error_set(err, ENOMEM, "service %s", new->spec.name);
	else if (new->spec.cluster_ip[0] == '\0')
		ret = service_vip_next(SERVICE_RANGE, (const char *const *)used, n, new->spec.cluster_ip, err);
	else
		for (size_t i = 0; i < n && ret == 0; i++)
			if (used[i] && strcmp(used[i], new->spec.cluster_ip) == 0)
				ret = berth_error_request(err, EEXIST, "service %s: ClusterIP %s is taken",
							  new->spec.name, new->spec.cluster_ip);
	for (size_t i = 0; i < n; i++)
		free(used[i]);
	free(used);
	return ret;
}

/* ---- the API ---- */

static int owner_check(const record *r, const char *name, const char *owner, berth_error **err)
{
	if (owner && strcmp(r->cur.spec.owner, owner) != 0)
		return berth_error_request(err, EEXIST, "service %s belongs to %s", name,
					   r->cur.spec.owner[0] ? r->cur.spec.owner : "another owner");
	return 0;
}

static bool same_ports(const service_spec *a, const service_spec *b)
{
	if (a->n_ports != b->n_ports)
		return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].proto != b->ports[i].proto || a->ports[i].port != b->ports[i].port)
			return false;
	return true;
}

/* The endpoints of FROM into TO (whose own are not freed). */
static int copy_endpoints(const service *from, service *to, berth_error **err)
{
	to->endpoints = NULL;
	to->n_endpoints = 0;
	if (from->n_endpoints == 0)
		return 0;
	to->endpoints = calloc(from->n_endpoints, sizeof(*to->endpoints));
	if (to->endpoints == NULL)
		return berth_error_set(err, ENOMEM, "endpoints");
	memcpy(to->endpoints, from->endpoints, from->n_endpoints * sizeof(*to->endpoints));
	to->n_endpoints = from->n_endpoints;
	return 0;
}

static int copy_out(const service *s, service *out, berth_error **err)
{
	if (out == NULL)
		return 0;
	out->spec = s->spec;
	return copy_endpoints(s, out, err);
}

/* Record NEW (the old state kept as stale), run the transaction, confirm. */
/* Whether A and B make the same kernel objects but for the endpoints. */
static bool same_but_endpoints(const service_spec *a, const service_spec *b)
{
	if (strcmp(a->cluster_ip, b->cluster_ip) != 0 || a->affinity_timeout != b->affinity_timeout ||
	    !same_ports(a, b))
		return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].target_port != b->ports[i].target_port ||
		    a->ports[i].node_port != b->ports[i].node_port)
			return false;
	return true;
}

static const service_endpoint *endpoint_of(const service *s, const char *ip)
{
	for (size_t k = 0; k < s->n_endpoints; k++)
		if (strcmp(s->endpoints[k].ip, ip) == 0)
			return &s->endpoints[k];
	return NULL;
}

/* Adds to INTO the endpoints of FROM that neither NEW nor INTO has, and
 * those NEW keeps but no longer for a port FROM's served (their chains of
 * that port go). */
static int merge_gone(service *into, const service *from, const service *new)
{
	for (size_t k = 0; k < from->n_endpoints; k++) {
		const service_endpoint *kept = endpoint_of(new, from->endpoints[k].ip);
		service_endpoint *grown;
		if ((kept && (kept->absent & ~from->endpoints[k].absent) == 0) ||
		    endpoint_of(into, from->endpoints[k].ip))
			continue;
		grown = realloc(into->endpoints, (into->n_endpoints + 1) * sizeof(*grown));
		if (grown == NULL)
			return -1;
		into->endpoints = grown;
		into->endpoints[into->n_endpoints++] = from->endpoints[k];
	}
	return 0;
}

/* How many endpoints that left may wait in a record's Stale for the next
 * transaction to delete them again (each costs it a command or two). */
#define STALE_ENDPOINTS_MAX 32

/* An update of the endpoints alone writes the record once, before the
 * kernel: NEW, and as Stale one state with every endpoint that the earlier
 * states had and NEW has not (plus earlier states of another shape, from an
 * interrupted apply). It stays after the transaction: the kernel may or may
 * not have had those objects, and deleting them again costs the next
 * transaction little. A command killed at any point leaves either the old
 * record (nothing changed) or this one, from which the next call deletes
 * whatever may exist. Returns 1 when the Stale set grew too big: the
 * caller then confirms with a second write. */
static int change_endpoints(int dirfd, const record *old, service *new, const char *what, berth_error **err)
{
	_cleanup_free_ const service **stale = calloc(old->n_stale + 2, sizeof(*stale));
	_cleanup_service_ service gone = { .spec = new->spec };
	size_t n = 0;

	if (stale == NULL || merge_gone(&gone, &old->cur, new) < 0)
		return berth_error_set(err, ENOMEM, "%s", what);
	for (size_t i = 0; i < old->n_stale; i++) {
		if (!same_but_endpoints(&old->stale[i].spec, &new->spec))
			stale[n++] = &old->stale[i];
		else if (merge_gone(&gone, &old->stale[i], new) < 0)
			return berth_error_set(err, ENOMEM, "%s", what);
	}
	if (gone.n_endpoints > STALE_ENDPOINTS_MAX)
		return 1;
	if (gone.n_endpoints > 0)
		stale[n++] = &gone;
	if (record_write(dirfd, new, stale, n, err) < 0)
		return berth_error_wrap(err, "%s", what);
	if (kernel_apply(old, new, what, err) < 0) {
		record_restore(dirfd, new->spec.name, old);
		return -1;
	}
	return 0;
}

static int change(const hostnet *h, int dirfd, const record *old, service *new, bool claim, const char *what,
		  berth_error **err)
{
	if (!claim && old->exists && same_but_endpoints(&old->cur.spec, &new->spec)) {
		int ret = change_endpoints(dirfd, old, new, what, err);
		if (ret <= 0) {
			if (ret == 0)
				udp_flows_forget(old, new);
			return ret;
		}
	}
	if (record_save(dirfd, new, old, true, err) < 0)
		return berth_error_wrap(err, "%s", what);
	if ((claim && node_ports_claim(h, new, err) < 0) || record_save(dirfd, new, old, true, err) < 0 ||
	    kernel_apply(old, new, what, err) < 0) {
		node_ports_release(h, new, old->exists ? &old->cur : NULL);
		record_restore(dirfd, new->spec.name, old);
		return -1;
	}
	if (record_save(dirfd, new, old, false, err) < 0)
		return berth_error_wrap(err, "%s", what);
	node_ports_release_record(h, old, new);
	udp_flows_forget(old, new);
	return 0;
}

int service_apply(const hostnet *h, const service_spec *spec, service *out, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF, lock = -EBADF;
	_cleanup_record_ record old = { 0 };
	_cleanup_service_ service new = { 0 };
	char what[SERVICE_NAME_MAX + 32];
	int ret;

	if (service_spec_validate(spec, err) < 0)
		return -1;
	snprintf(what, sizeof(what), "service %s", spec->name);
	if ((dirfd = services_dir(h, err)) < 0 || (lock = services_lock(dirfd, h, err)) < 0)
		return berth_error_wrap(err, "%s", what);
	ret = record_load(dirfd, spec->name, &old, err);
	if (ret < 0 && ret != -ENOENT)
		return -1;
	if (old.exists && owner_check(&old, spec->name, spec->owner, err) < 0)
		return -1;
	new.spec = *spec;
	if (old.exists) {
		if (spec->cluster_ip[0] && strcmp(spec->cluster_ip, old.cur.spec.cluster_ip) != 0)
			return berth_error_request(err, EINVAL, "%s: the ClusterIP %s cannot change", what,
						   old.cur.spec.cluster_ip);
		snprintf(new.spec.cluster_ip, sizeof(new.spec.cluster_ip), "%s", old.cur.spec.cluster_ip);
		/* node ports not asked for stay what they were */
		for (size_t i = 0; new.spec.node_ports &&i < new.spec.n_ports; i++)
			for (size_t j = 0; j < old.cur.spec.n_ports && !new.spec.ports[i].node_port; j++)
				if (old.cur.spec.ports[j].proto == new.spec.ports[i].proto &&
				    old.cur.spec.ports[j].port == new.spec.ports[i].port &&
				    !has_node_port(&new, old.cur.spec.ports[j].proto, old.cur.spec.ports[j].node_port))
					new.spec.ports[i].node_port = old.cur.spec.ports[j].node_port;
		if (copy_endpoints(&old.cur, &new, err) < 0)
			return berth_error_wrap(err, "%s", what);
		if (!same_ports(&old.cur.spec, &new.spec))
			for (size_t k = 0; k < new.n_endpoints; k++) {
				memset(new.endpoints[k].target_ports, 0, sizeof(new.endpoints[k].target_ports));
				new.endpoints[k].absent = 0;
			}
	} else if (vip_choose(dirfd, &new, err) < 0) {
		return -1;
	}
	if (change(h, dirfd, &old, &new, true, what, err) < 0)
		return -1;
	return copy_out(&new, out, err);
}

int service_set_endpoints(const hostnet *h, const char *name, const char *owner, const service_endpoint *eps, size_t n,
			  berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF, lock = -EBADF;
	_cleanup_record_ record old = { 0 };
	_cleanup_service_ service new = { 0 };
	char what[SERVICE_NAME_MAX + 32];
	int ret;

	snprintf(what, sizeof(what), "service %s: set endpoints", name);
	if ((dirfd = services_dir(h, err)) < 0 || (lock = services_lock(dirfd, h, err)) < 0)
		return berth_error_wrap(err, "%s", what);
	ret = record_load(dirfd, name, &old, err);
	if (ret == -ENOENT)
		return berth_error_request(err, ENOENT, "service %s: no such service", name);
	if (ret < 0 || owner_check(&old, name, owner, err) < 0 ||
	    service_endpoints_validate(&old.cur.spec, eps, n, err) < 0)
		return -1;
	new.spec = old.cur.spec;
	if (n) {
		new.endpoints = calloc(n, sizeof(*eps));
		if (new.endpoints == NULL)
			return berth_error_set(err, ENOMEM, "%s", what);
		memcpy(new.endpoints, eps, n * sizeof(*eps));
		new.n_endpoints = n;
	}
	return change(h, dirfd, &old, &new, false, what, err);
}

/* With the lock held: removes what OLD (loaded from NAME's record) has. */
static int remove_locked(const hostnet *h, int dirfd, const char *name, const record *old, berth_error **err)
{
	char file[SERVICE_NAME_MAX + 8], what[SERVICE_NAME_MAX + 32];
	DIR *d;
	struct dirent *e;
	bool last = true;

	snprintf(what, sizeof(what), "remove service %s", name);
	if (kernel_apply(old, NULL, what, err) < 0)
		return -1;
	node_ports_release_record(h, old, NULL);
	udp_flows_forget(old, NULL);
	snprintf(file, sizeof(file), "%s.json", name);
	if (unlinkat(dirfd, file, 0) < 0 && errno != ENOENT)
		return berth_error_set(err, errno, "%s: %s/services/%s", what, h->dir, file);
	d = fdopendir(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	while (d && (e = readdir(d)) != NULL && last)
		last = strstr(e->d_name, ".json") == NULL || e->d_name[0] == '.';
	if (d)
		closedir(d);
	if (last)
		kernel_base_remove();
	return 0;
}

int service_remove(const hostnet *h, const char *name, const char *owner, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF, lock = -EBADF;
	_cleanup_record_ record old = { 0 };
	int ret;

	if ((dirfd = services_dir(h, err)) < 0 || (lock = services_lock(dirfd, h, err)) < 0)
		return berth_error_wrap(err, "remove service %s", name);
	ret = record_load(dirfd, name, &old, err);
	if (ret == -ENOENT)
		return berth_error_request(err, ENOENT, "service %s: no such service", name);
	if (ret < 0 || owner_check(&old, name, owner, err) < 0)
		return -1;
	return remove_locked(h, dirfd, name, &old, err);
}

int service_load(const hostnet *h, const char *name, service *out, berth_error **err)
{
	_cleanup_close_ int dirfd = services_dir(h, err);
	_cleanup_record_ record r = { 0 };
	int ret;

	if (dirfd < 0)
		return -1;
	ret = record_load(dirfd, name, &r, err);
	if (ret < 0)
		return ret;
	*out = r.cur;
	memset(&r.cur, 0, sizeof(r.cur));
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const service *)a)->spec.name, ((const service *)b)->spec.name);
}

int service_list(const hostnet *h, service **out, size_t *n, berth_error **err)
{
	_cleanup_close_ int dirfd = services_dir(h, err);
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ service *list = NULL;
	struct dirent *e;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (dirfd < 0)
		return -1;
	d = fdopendir(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	while (d && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		char name[SERVICE_NAME_MAX + 8];
		service *grown;
		if (e->d_name[0] == '.' || l <= 5 || l > SERVICE_NAME_MAX + 5 ||
		    strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		grown = realloc(list, (count + 1) * sizeof(*list));
		if (grown == NULL) {
			for (size_t i = 0; i < count; i++)
				service_clear(&list[i]);
			return berth_error_set(err, ENOMEM, "list services");
		}
		list = grown;
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), e->d_name);
		if (service_load(h, name, &list[count], NULL) == 0)
			count++;
	}
	if (count)
		qsort(list, count, sizeof(*list), by_name);
	*out = move_ptr(list);
	*n = count;
	return 0;
}

int service_sweep(const hostnet *h)
{
	service *list = NULL;
	size_t n = 0;
	int count = 0;
	berth_error *e = NULL;

	hostnet_sweep_temps(h, "services");
	if (service_list(h, &list, &n, &e) < 0) {
		berth_error_free(&e);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		const char *path = list[i].spec.owner_path;
		if (path[0] && stat(path, &st) < 0 && errno == ENOENT) {
			if (service_remove(h, list[i].spec.name, NULL, &e) == 0)
				count++;
			else
				berth_debug("sweep: %s", e->msg);
			berth_error_free(&e);
		}
		service_clear(&list[i]);
	}
	free(list);
	return count;
}

int service_route_ensure(const char *bridge, berth_error **err)
{
	struct in_addr dst;
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(SERVICE_RANGE, '/');

	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - SERVICE_RANGE), SERVICE_RANGE);
	inet_pton(AF_INET, addr, &dst);
	if (netlink_route_ensure(bridge, dst, (unsigned)atoi(slash + 1), err) < 0)
		return berth_error_wrap(err, "service range %s", SERVICE_RANGE);
	return 0;
}
