/* The controller's side of Services (kube_service.h): endpoints = the
 * ready pods that match a Service's selector, set in one engine call (one
 * nftables transaction) per service whose set changed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/service.h"
#include "kube/kube_internal.h"
#include "kube/kube_service.h"
#include "kube/state.h"
#include "util/cleanup.h"

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Every key=value of SELECTOR (a plain map, a Service's) in LABELS. */
static bool selector_matches(json_t *selector, json_t *labels)
{
	const char *key;
	json_t *v;

	json_object_foreach(selector, key, v) {
		const char *have = str(labels, key);
		if (have == NULL || strcmp(have, json_string_value(v) ?: "") != 0)
			return false;
	}
	return true;
}

/* The port the pod's containers declare under NAME (and PROTO), or 0. */
static uint16_t named_port(json_t *pod, const char *name, int proto)
{
	json_t *c, *p;
	size_t i, j;

	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
		json_array_foreach(json_object_get(c, "ports"), j, p) {
			bool udp = strcmp(str(p, "protocol") ?: "TCP", "UDP") == 0;
			if (strcmp(str(p, "name") ?: "", name) == 0 && udp == (proto == IPPROTO_UDP))
				return (uint16_t)json_integer_value(json_object_get(p, "containerPort"));
		}
	return 0;
}

/* Fills E for pod P (its object, read once per pass into OBJECTS): a port
 * whose named targetPort is none of the pod's ports is marked absent, with
 * a note, as Kubernetes leaves the pod out of that port only. False when
 * the pod serves no port at all. */
static bool endpoint_of(const kube_context *k, const char *ns, json_t *svc, const service_spec *spec, json_t *p,
			json_t *objects, service_endpoint *e, json_t *notes)
{
	const char *pod_name = str(p, "name");
	json_t *ports = json_object_get(json_object_get(svc, "spec"), "ports"), *pod = NULL;
	size_t served = 0;

	memset(e, 0, sizeof(*e));
	snprintf(e->ip, sizeof(e->ip), "%s", str(p, "ip"));
	for (size_t i = 0; i < spec->n_ports; i++) {
		json_t *target = json_object_get(json_array_get(ports, i), "targetPort");
		if (!json_is_string(target)) {
			served++;
			continue;
		}
		pod = json_object_get(objects, pod_name);
		if (pod == NULL) {
			pod = kube_pod_object(k, ns, pod_name);
			json_object_set_new(objects, pod_name, pod ? pod : json_null());
		}
		e->target_ports[i] = named_port(pod, json_string_value(target), spec->ports[i].proto);
		if (e->target_ports[i] == 0) {
			char note[512];
			if (spec->n_ports == 1)
				snprintf(note, sizeof(note), "pod %s left out: no container port named \"%s\"",
					 pod_name, json_string_value(target));
			else
				snprintf(note, sizeof(note),
					 "pod %s left out of port %s: no container port named \"%s\"", pod_name,
					 spec->ports[i].name, json_string_value(target));
			json_array_append_new(notes, json_string(note));
			e->absent |= UINT32_C(1) << i;
			continue;
		}
		served++;
	}
	return served > 0;
}

/* "IP:PORT" of each endpoint and port it serves, for the cache and the
 * status. */
static json_t *endpoints_json(const service_spec *spec, const service_endpoint *eps, size_t n)
{
	json_t *out = json_array();

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < spec->n_ports; j++) {
			char text[64];
			unsigned port =
			    eps[i].target_ports[j]
				? eps[i].target_ports[j]
				: (spec->ports[j].target_port ? spec->ports[j].target_port : spec->ports[j].port);
			if (!service_endpoint_serves(&eps[i], j))
				continue;
			snprintf(text, sizeof(text), "%s:%u", eps[i].ip, port);
			json_array_append_new(out, json_string(text));
		}
	return out;
}

static int compare_ip(const void *a, const void *b)
{
	return strcmp(((const service_endpoint *)a)->ip, ((const service_endpoint *)b)->ip);
}

/* Sets the endpoints when they differ from CACHE's; an engine service
 * that is missing (a reboot, a command killed before it made it) is made. */
static void set_endpoints(const kube_context *k, json_t *svc, const service_spec *spec, service_endpoint *eps, size_t n,
			  json_t *cache, json_t *entry)
{
	const char *uid = str(json_object_get(svc, "metadata"), "uid") ?: "";
	json_t *list = endpoints_json(spec, eps, n);
	char key[SERVICE_NAME_MAX + 80];
	_cleanup_free_ char *text = NULL;
	berth_error *err = NULL;
	int ret;

	json_object_set_new(entry, "endpoints", list);
	snprintf(key, sizeof(key), "%s/%s", spec->name, uid);
	text = json_dumps(list, JSON_COMPACT);
	if (text == NULL || (str(cache, key) && strcmp(str(cache, key), text) == 0))
		return;
	ret = engine_service_set_endpoints(k->paths, spec->name, spec->owner, eps, n, &err);
	if (ret < 0 && err && err->code == ENOENT) {
		berth_error_free(&err);
		ret = kube_service_apply(k, svc, NULL, &err);
		if (ret == 0)
			ret = engine_service_set_endpoints(k->paths, spec->name, spec->owner, eps, n, &err);
	}
	if (ret < 0) {
		json_object_set_new(entry, "error", json_string(err && err->msg ? err->msg : "failed"));
		fprintf(stderr, "service %s: %s\n", spec->name, err && err->msg ? err->msg : "failed");
		berth_error_free(&err);
		json_object_del(cache, key);
		return;
	}
	json_object_set_new(cache, key, json_string(text));
}

static void sync_one(const kube_context *k, const char *ns, json_t *svc, json_t *pods, json_t *status, json_t *cache,
		     json_t *objects, json_t *services)
{
	json_t *spec_j = json_object_get(svc, "spec"), *selector = json_object_get(spec_j, "selector"), *p;
	bool not_ready_too = json_is_true(json_object_get(spec_j, "publishNotReadyAddresses"));
	json_t *entry = json_pack("{s:[]}", "notes"), *notes = json_object_get(entry, "notes");
	_cleanup_free_ service_endpoint *eps = NULL;
	berth_error *err = NULL;
	service_spec spec;
	size_t i, n = 0;

	json_object_set_new(services, str(json_object_get(svc, "metadata"), "name"), entry);
	if (kube_service_spec(k, svc, &spec, &err) < 0) {
		json_object_set_new(entry, "error", json_string(err->msg));
		berth_error_free(&err);
		return;
	}
	eps = calloc(json_array_size(pods) + 1, sizeof(*eps));
	if (eps == NULL)
		return;
	json_array_foreach(pods, i, p) {
		json_t *st = json_object_get(json_object_get(status, "pods"), str(p, "name"));
		if (json_is_true(json_object_get(p, "removed")) || str(p, "ip") == NULL || str(p, "ip")[0] == '\0' ||
		    !(json_is_true(json_object_get(st, "ready")) || (not_ready_too && st != NULL)) ||
		    !selector_matches(selector, json_object_get(p, "labels")) || n >= SERVICE_ENDPOINTS_MAX)
			continue;
		if (endpoint_of(k, ns, svc, &spec, p, objects, &eps[n], notes))
			n++;
	}
	qsort(eps, n, sizeof(*eps), compare_ip);
	if (kube_service_headless(svc)) {
		json_object_set_new(entry, "endpoints", endpoints_json(&spec, eps, n));
		return;
	}
	set_endpoints(k, svc, &spec, eps, n, cache, entry);
}

/* What the block of names depends on: when the host's service records
 * last changed, and NAMESPACE's Services (SERVICES) with their headless
 * endpoints in STATUS. NULL while the records changed within the last
 * second (a change in the same clock tick as the look would not show). */
static char *names_key(const kube_context *k, json_t *services, json_t *status)
{
	_cleanup_json_ json_t *parts = json_array();
	struct timespec changed = { 0 }, now;
	berth_error *err = NULL;
	json_t *svc;
	size_t i;

	if (engine_service_changed_at(k->paths, &changed, &err) < 0)
		berth_error_free(&err);
	clock_gettime(CLOCK_REALTIME, &now);
	if (changed.tv_sec + 1 >= now.tv_sec)
		return NULL;
	json_array_append_new(parts, json_sprintf("%lld.%09ld", (long long)changed.tv_sec, changed.tv_nsec));
	json_array_foreach(services, i, svc) {
		const char *name = str(json_object_get(svc, "metadata"), "name") ?: "";
		json_array_append_new(parts, json_string(name));
		json_array_append_new(parts, json_string(str(json_object_get(svc, "metadata"), "uid") ?: ""));
		if (kube_service_headless(svc))
			json_array_append(
			    parts,
			    json_object_get(json_object_get(json_object_get(status, "services"), name), "endpoints")
				?: json_null());
	}
	return json_dumps(parts, JSON_COMPACT);
}

/* The pods' hosts files, when the block of names changed (the store's
 * services of every namespace: a change anywhere rewrites each pod's file
 * once, whatever the number of services). The block is made again only
 * when what it depends on changed (names_key), so a pass costs the same
 * however many services the host has. */
static void sync_names(const kube_context *k, const char *ns, json_t *services, json_t *pods, json_t *status,
		       json_t *cache)
{
	_cleanup_free_ char *key = names_key(k, services, status), *block = NULL;
	unsigned written = 0;
	json_t *p;
	size_t i;

	if (key && str(cache, "hosts") && strcmp(str(cache, "hosts_key") ?: "", key) == 0)
		return;
	block = kube_service_hosts_block(k, ns, status);
	if (block == NULL)
		return;
	if (key)
		json_object_set_new(cache, "hosts_key", json_string(key));
	else
		json_object_del(cache, "hosts_key");
	if (str(cache, "hosts") && strcmp(str(cache, "hosts"), block) == 0)
		return;
	if (str(cache, "hosts") == NULL && block[0] == '\0') {
		json_object_set_new(cache, "hosts", json_string(block));
		return; /* no services, none before: nothing to take out */
	}
	json_array_foreach(pods, i, p) {
		berth_error *err = NULL;
		int ret;
		if (json_is_true(json_object_get(p, "removed")) || json_is_null(json_object_get(p, "holder")) ||
		    !json_object_get(p, "holder"))
			continue;
		ret = kube_service_pod_files(k, ns, str(p, "name"), block, false, &err);
		if (ret < 0) {
			fprintf(stderr, "%s\n", err && err->msg ? err->msg : "service names: failed");
			berth_error_free(&err);
		}
		written += ret > 0;
	}
	if (written)
		fprintf(stderr, "service names: %u hosts files rewritten\n", written);
	json_object_set_new(cache, "hosts", json_string(block));
}

void kube_service_sync(const kube_context *k, const char *namespace, json_t *pods, json_t *status, json_t *cache)
{
	_cleanup_json_ json_t *services = NULL, *objects = json_object(), *seen = json_object();
	json_t *svc, *out = json_object(), *v;
	berth_error *err = NULL;
	const char *key;
	void *tmp;
	size_t i;

	json_object_set_new(status, "services", out);
	if (kube_state_list(k->paths->store_root, "Service", namespace, &services, &err) < 0) {
		fprintf(stderr, "services of %s: %s\n", namespace, err->msg);
		berth_error_free(&err);
		return;
	}
	json_array_foreach(services, i, svc) {
		if (json_object_size(json_object_get(json_object_get(svc, "spec"), "selector")) == 0)
			continue; /* its Endpoints object says */
		sync_one(k, namespace, svc, pods, status, cache, objects, out);
		json_object_set_new(seen, str(json_object_get(svc, "metadata"), "name") ?: "", json_true());
	}
	json_array_foreach(services, i, svc)
		if (json_object_size(json_object_get(json_object_get(svc, "spec"), "selector")) == 0)
			json_object_set_new(seen, str(json_object_get(svc, "metadata"), "name") ?: "", json_true());
	sync_names(k, namespace, services, pods, status, cache);
	/* forget the cache of services deleted meanwhile */
	json_object_foreach_safe(cache, tmp, key, v)
	{
		char name[SERVICE_NAME_MAX + 1];
		const char *dot;
		if (strchr(key, '/') == NULL)
			continue; /* "hosts", "hosts_key" */
		snprintf(name, sizeof(name), "%s", key);
		dot = strchr(name, '.');
		if (dot)
			name[dot - name] = '\0';
		if (!json_object_get(seen, name))
			json_object_del(cache, key);
	}
}
