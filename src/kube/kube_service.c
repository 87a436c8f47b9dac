/* Services of berth kube (kube_service.h): objects -> engine services. */
#include "kube/kube_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/service.h"
#include "kube/kube_internal.h"
#include "kube/state.h"
#include "util/cleanup.h"

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *name_of(json_t *o)
{
	return str(json_object_get(o, "metadata"), "name") ?: "";
}

static const char *namespace_of(json_t *o)
{
	return str(json_object_get(o, "metadata"), "namespace") ?: "default";
}

void kube_service_engine_name(const char *namespace, const char *name, char out[SERVICE_NAME_MAX + 1])
{
	snprintf(out, SERVICE_NAME_MAX + 1, "%s.%s", name, namespace);
}

void kube_service_owner(const kube_context *k, const char *namespace, char *out, size_t len)
{
	snprintf(out, len, "kube:%s/%s", k->paths->store_root, namespace);
}

static const char *cluster_ip_of(json_t *spec)
{
	const char *ip = str(spec, "clusterIP");

	if (ip == NULL || ip[0] == '\0')
		ip = json_string_value(json_array_get(json_object_get(spec, "clusterIPs"), 0));
	return ip && ip[0] ? ip : NULL;
}

bool kube_service_headless(json_t *svc)
{
	const char *ip = cluster_ip_of(json_object_get(svc, "spec"));
	return ip && strcmp(ip, "None") == 0;
}

int kube_service_spec(const kube_context *k, json_t *svc, service_spec *out, berth_error **err)
{
	json_t *spec = json_object_get(svc, "spec"), *p;
	const char *type = str(spec, "type") ?: "ClusterIP", *ip = cluster_ip_of(spec);
	const char *ns = namespace_of(svc);
	size_t i;

	memset(out, 0, sizeof(*out));
	kube_service_engine_name(ns, name_of(svc), out->name);
	kube_service_owner(k, ns, out->owner, sizeof(out->owner));
	snprintf(out->owner_path, sizeof(out->owner_path), "%s/kube/%s/Service/%s.json", k->paths->store_root, ns,
		 name_of(svc));
	if (ip)
		snprintf(out->cluster_ip, sizeof(out->cluster_ip), "%s", ip);
	out->node_ports = strcmp(type, "ClusterIP") != 0;
	if (strcmp(str(spec, "sessionAffinity") ?: "None", "ClientIP") == 0) {
		json_t *t = json_object_get(json_object_get(json_object_get(spec, "sessionAffinityConfig"), "clientIP"),
					    "timeoutSeconds");
		out->affinity_timeout =
		    json_is_integer(t) ? (unsigned)json_integer_value(t) : SERVICE_AFFINITY_TIMEOUT_DEFAULT;
	}
	if (json_array_size(json_object_get(spec, "ports")) > SERVICE_PORTS_MAX)
		return berth_error_request(err, EINVAL, "service %s: more than %d ports", out->name, SERVICE_PORTS_MAX);
	json_array_foreach(json_object_get(spec, "ports"), i, p) {
		service_port *sp = &out->ports[out->n_ports++];
		json_t *target = json_object_get(p, "targetPort");
		snprintf(sp->name, sizeof(sp->name), "%s", str(p, "name") ?: "");
		sp->proto = strcmp(str(p, "protocol") ?: "TCP", "UDP") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
		sp->port = (uint16_t)json_integer_value(json_object_get(p, "port"));
		/* a named targetPort is resolved per pod (the endpoints'
		 * target_ports); a number, or none (the port), is the same for all */
		sp->target_port = json_is_integer(target) ? (uint16_t)json_integer_value(target) : 0;
		sp->node_port = (uint16_t)json_integer_value(json_object_get(p, "nodePort"));
	}
	return 0;
}

json_t *kube_service_records(const kube_context *k)
{
	json_t *out = json_object();
	service *list = NULL;
	size_t n = 0;
	berth_error *err = NULL;

	if (engine_service_list(k->paths, &list, &n, &err) < 0) {
		berth_error_free(&err);
		return out;
	}
	for (size_t i = 0; i < n; i++) {
		json_object_set_new(out, list[i].spec.name, service_to_json(&list[i]));
		service_clear(&list[i]);
	}
	free(list);
	return out;
}

/* The nodePort of port I of SVC's spec (0: none asked for). */
static json_int_t node_port_at(json_t *svc, size_t i, const char **proto)
{
	json_t *p = json_array_get(json_object_get(json_object_get(svc, "spec"), "ports"), i);

	*proto = strcmp(str(p, "protocol") ?: "TCP", "UDP") == 0 ? "udp" : "tcp";
	return json_integer_value(json_object_get(p, "nodePort"));
}

static int check_one(const kube_context *k, json_t *records, json_t *const *svcs, size_t idx, berth_error **err)
{
	json_t *svc = svcs[idx], *spec = json_object_get(svc, "spec"), *rec, *port;
	const char *name = name_of(svc), *ns = namespace_of(svc), *ip = cluster_ip_of(spec), *key;
	char engine_name[SERVICE_NAME_MAX + 1], owner[256];
	_cleanup_json_ json_t *stored = NULL;
	berth_error *lookup = NULL;
	size_t i, j;

	kube_service_engine_name(ns, name, engine_name);
	kube_service_owner(k, ns, owner, sizeof(owner));
	if (kube_state_get(k->paths->store_root, "Service", ns, name, &stored, &lookup) < 0)
		berth_error_free(&lookup);
	if (stored && kube_service_headless(stored) != kube_service_headless(svc))
		return berth_error_request(
		    err, EINVAL,
		    "The Service \"%s\" is invalid: spec.clusterIP: Invalid value: \"%s\": field "
		    "is immutable",
		    name, ip ? ip : "");
	if (kube_service_headless(svc))
		return 0;
	rec = json_object_get(records, engine_name);
	if (rec && strcmp(str(rec, "Owner") ?: "", owner) != 0)
		return berth_error_request(err, EEXIST,
					   "The Service \"%s\" is invalid: metadata.name: berth's service %s exists "
					   "already, made by %s",
					   name, engine_name, str(rec, "Owner") ?: "?");
	if (rec && ip && strcmp(str(rec, "ClusterIP") ?: "", ip) != 0)
		return berth_error_request(
		    err, EINVAL,
		    "The Service \"%s\" is invalid: spec.clusterIP: Invalid value: \"%s\": field "
		    "is immutable",
		    name, ip);
	json_object_foreach(records, key, rec) {
		if (strcmp(key, engine_name) == 0)
			continue;
		if (ip && strcmp(str(rec, "ClusterIP") ?: "", ip) == 0)
			return berth_error_request(
			    err, EEXIST,
			    "The Service \"%s\" is invalid: spec.clusterIP: Invalid value: \"%s\": "
			    "provided IP is already allocated",
			    name, ip);
		for (i = 0; i < json_array_size(json_object_get(spec, "ports")); i++) {
			const char *proto;
			json_int_t np = node_port_at(svc, i, &proto);
			json_array_foreach(json_object_get(rec, "Ports"), j, port)
				if (np && json_integer_value(json_object_get(port, "NodePort")) == np &&
				    strcmp(str(port, "Protocol") ?: "", proto) == 0)
					return berth_error_request(err, EEXIST,
								   "The Service \"%s\" is invalid: "
								   "spec.ports[%zu].nodePort: Invalid value: %lld: "
								   "provided port is already allocated (the node "
								   "port of service %s)",
								   name, i, (long long)np, key);
		}
	}
	/* the host's published ports (berth run -p, of any store) */
	for (i = 0; i < json_array_size(json_object_get(spec, "ports")); i++) {
		const char *proto;
		json_int_t np = node_port_at(svc, i, &proto);
		char except[SERVICE_NAME_MAX + 16], holder[80];
		int ret;
		if (np <= 0 || np > 65535)
			continue;
		snprintf(except, sizeof(except), "%s%s", HOSTNET_SERVICE_CLAIM, engine_name);
		ret = engine_service_port_holder(k->paths, strcmp(proto, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP,
						 (uint16_t)np, except, holder, sizeof(holder), err);
		if (ret < 0)
			return -1;
		if (ret == 1) {
			bool of_service = strncmp(holder, HOSTNET_SERVICE_CLAIM, strlen(HOSTNET_SERVICE_CLAIM)) == 0;
			return berth_error_request(
			    err, EEXIST,
			    "The Service \"%s\" is invalid: spec.ports[%zu].nodePort: Invalid "
			    "value: %lld: provided port is already allocated (%s %.*s)",
			    name, i, (long long)np, of_service ? "the node port of service" : "published by container",
			    of_service ? 200 : 12, of_service ? holder + strlen(HOSTNET_SERVICE_CLAIM) : holder);
		}
	}
	/* and the Services before it in the same manifest */
	for (size_t other = 0; other < idx; other++) {
		for (i = 0; i < json_array_size(json_object_get(spec, "ports")); i++) {
			const char *proto, *oproto;
			json_int_t np = node_port_at(svc, i, &proto);
			for (j = 0;
			     np && j < json_array_size(json_object_get(json_object_get(svcs[other], "spec"), "ports"));
			     j++)
				if (node_port_at(svcs[other], j, &oproto) == np && strcmp(proto, oproto) == 0)
					return berth_error_request(err, EEXIST,
								   "The Service \"%s\" is invalid: "
								   "spec.ports[%zu].nodePort: Invalid value: %lld: "
								   "provided port is already allocated",
								   name, i, (long long)np);
		}
	}
	return 0;
}

int kube_service_check(const kube_context *k, json_t *const *svcs, size_t n, size_t *at, berth_error **err)
{
	_cleanup_json_ json_t *records = NULL;
	bool any = false;

	for (size_t i = 0; i < n; i++)
		any = any || !kube_service_headless(svcs[i]);
	if (!any)
		return 0;
	{
		service *list = NULL;
		size_t count = 0;
		/* rootless berth without pasta has no services: say so now */
		if (engine_service_list(k->paths, &list, &count, err) < 0)
			return -1;
		for (size_t i = 0; i < count; i++)
			service_clear(&list[i]);
		free(list);
	}
	records = kube_service_records(k);
	for (size_t i = 0; i < n; i++)
		if (check_one(k, records, svcs, i, err) < 0) {
			*at = i;
			return -1;
		}
	return 0;
}

/* The port of subset SUB that serves service port SP (I of N): by name, or
 * the only one; 0 when none does. */
static uint16_t subset_port(json_t *sub, const service_port *sp, size_t n)
{
	json_t *ports = json_object_get(sub, "ports"), *p;
	size_t i;

	json_array_foreach(ports, i, p) {
		if (strcmp(str(p, "name") ?: "", sp->name) == 0 ||
		    (n == 1 && json_array_size(ports) == 1 && sp->name[0] == '\0'))
			return (uint16_t)json_integer_value(json_object_get(p, "port"));
	}
	return 0;
}

int kube_service_endpoints_of(json_t *svc, json_t *ep, service_endpoint **out, size_t *n, berth_error **err)
{
	service_spec spec;
	json_t *sub, *addr;
	size_t i, j, cap = 0;
	kube_context none = { 0 };
	engine_paths paths = { .store_root = "" };

	*out = NULL;
	*n = 0;
	none.paths = &paths;
	if (kube_service_spec(&none, svc, &spec, err) < 0)
		return -1;
	json_array_foreach(json_object_get(ep, "subsets"), i, sub)
		cap += json_array_size(json_object_get(sub, "addresses"));
	if (cap == 0)
		return 0;
	if ((*out = calloc(cap, sizeof(**out))) == NULL)
		return berth_error_set(err, ENOMEM, "endpoints");
	json_array_foreach(json_object_get(ep, "subsets"), i, sub) {
		json_array_foreach(json_object_get(sub, "addresses"), j, addr) {
			const char *ip = str(addr, "ip");
			service_endpoint *e = NULL;
			bool any = false;
			if (ip == NULL)
				continue;
			/* an address serves the ports of the subsets it is in */
			for (size_t d = 0; d < *n && e == NULL; d++)
				if (strcmp((*out)[d].ip, ip) == 0)
					e = &(*out)[d];
			for (size_t p = 0; p < spec.n_ports; p++)
				any = any || subset_port(sub, &spec.ports[p], spec.n_ports);
			if (!any || (e == NULL && *n >= SERVICE_ENDPOINTS_MAX))
				continue;
			if (e == NULL) {
				e = &(*out)[(*n)++];
				snprintf(e->ip, sizeof(e->ip), "%s", ip);
				e->absent = (UINT32_C(1) << spec.n_ports) - 1;
			}
			for (size_t p = 0; p < spec.n_ports; p++) {
				uint16_t port = subset_port(sub, &spec.ports[p], spec.n_ports);
				if (port && !service_endpoint_serves(e, p)) {
					e->target_ports[p] = port;
					e->absent &= ~(UINT32_C(1) << p);
				}
			}
		}
	}
	return 0;
}

int kube_service_apply(const kube_context *k, json_t *svc, service *out, berth_error **err)
{
	service_spec spec;
	json_t *selector = json_object_get(json_object_get(svc, "spec"), "selector");
	_cleanup_json_ json_t *ep = NULL;
	_cleanup_free_ service_endpoint *eps = NULL;
	berth_error *lookup = NULL;
	size_t n = 0;

	if (kube_service_headless(svc))
		return 0;
	if (kube_service_spec(k, svc, &spec, err) < 0 || engine_service_apply(k->paths, &spec, out, err) < 0)
		return -1;
	if (json_object_size(selector) > 0)
		return 0; /* the controller keeps its endpoints */
	if (kube_state_get(k->paths->store_root, "Endpoints", namespace_of(svc), name_of(svc), &ep, &lookup) < 0)
		berth_error_free(&lookup);
	if (kube_service_endpoints_of(svc, ep, &eps, &n, err) < 0)
		return -1;
	return engine_service_set_endpoints(k->paths, spec.name, spec.owner, eps, n, err);
}

int kube_service_apply_endpoints(const kube_context *k, json_t *ep, berth_error **err)
{
	_cleanup_json_ json_t *svc = NULL;
	berth_error *lookup = NULL;

	if (kube_state_get(k->paths->store_root, "Service", namespace_of(ep), name_of(ep), &svc, &lookup) < 0) {
		berth_error_free(&lookup);
		return 0; /* kept until its Service comes */
	}
	if (json_object_size(json_object_get(json_object_get(svc, "spec"), "selector")) > 0)
		return 0;
	return kube_service_apply(k, svc, NULL, err);
}

int kube_service_remove(const kube_context *k, const char *namespace, const char *name, berth_error **err)
{
	char engine_name[SERVICE_NAME_MAX + 1], owner[256];
	berth_error *e = NULL;

	kube_service_engine_name(namespace, name, engine_name);
	kube_service_owner(k, namespace, owner, sizeof(owner));
	if (engine_service_remove(k->paths, engine_name, owner, &e) < 0) {
		if (e && e->code == ENOENT) {
			berth_error_free(&e);
			return 0;
		}
		*err = e;
		return -1;
	}
	return 0;
}
