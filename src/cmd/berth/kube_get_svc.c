/* berth kube get services|endpoints and describe service: the stored
 * objects with what the engine's service records (ClusterIP, node ports,
 * the endpoints in the kernel) and the controller (headless services'
 * ready pods, pods left out) say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/kube_cmd.h"
#include "kube/controller.h"
#include "kube/kube_service.h"
#include "kube/state.h"
#include "util/cleanup.h"

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_t *meta(json_t *o)
{
	return json_object_get(o, "metadata");
}

static bool wanted(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return n <= 0;
}

/* The engine's record of SVC (in RECORDS), or NULL. */
static json_t *record_of(json_t *records, json_t *svc)
{
	char name[SERVICE_NAME_MAX + 1];

	kube_service_engine_name(str(meta(svc), "namespace") ?: "default", str(meta(svc), "name") ?: "", name);
	return json_object_get(records, name);
}

/* SVC as the API server would return it: clusterIP, node ports, type. */
static json_t *service_view(json_t *svc, json_t *rec)
{
	json_t *copy = json_deep_copy(svc), *spec = json_object_get(copy, "spec"), *p;
	const char *type = str(spec, "type") ?: "ClusterIP";
	size_t i;

	if (!json_is_object(spec))
		json_object_set_new(copy, "spec", spec = json_object());
	json_object_set_new(spec, "type", json_string(type));
	if (!kube_service_headless(svc)) {
		const char *ip = str(rec, "ClusterIP") ?: "";
		json_object_set_new(spec, "clusterIP", json_string(ip));
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
	}
	if (!json_object_get(spec, "sessionAffinity"))
		json_object_set_new(spec, "sessionAffinity", json_string("None"));
	json_array_foreach(json_object_get(spec, "ports"), i, p) {
		json_t *rp = json_array_get(json_object_get(rec, "Ports"), i);
		if (!json_object_get(p, "protocol"))
			json_object_set_new(p, "protocol", json_string("TCP"));
		if (!json_object_get(p, "targetPort"))
			json_object_set(p, "targetPort", json_object_get(p, "port"));
		if (strcmp(type, "ClusterIP") != 0 && json_integer_value(json_object_get(rp, "NodePort")))
			json_object_set(p, "nodePort", json_object_get(rp, "NodePort"));
	}
	json_object_set_new(copy, "status", json_pack("{s:{}}", "loadBalancer"));
	return copy;
}

/* "80/TCP,53:30053/UDP" */
static void ports_text(json_t *view, char *out, size_t len)
{
	json_t *p;
	size_t i, used = 0;

	out[0] = '\0';
	json_array_foreach(json_object_get(json_object_get(view, "spec"), "ports"), i, p) {
		json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
		char one[48];
		if (np)
			snprintf(one, sizeof(one), "%s%lld:%lld/%s", i ? "," : "",
				 (long long)json_integer_value(json_object_get(p, "port")), (long long)np,
				 str(p, "protocol") ?: "TCP");
		else
			snprintf(one, sizeof(one), "%s%lld/%s", i ? "," : "",
				 (long long)json_integer_value(json_object_get(p, "port")),
				 str(p, "protocol") ?: "TCP");
		if (used + strlen(one) + 1 < len) {
			strcat(out, one);
			used += strlen(one);
		}
	}
	if (out[0] == '\0')
		snprintf(out, len, "<none>");
}

void kube_cli_print_services(kube_cli *cli, const char *ns, char **names, int n, json_t *items, bool header)
{
	_cleanup_json_ json_t *records = NULL;
	json_t *list = NULL, *svc;
	berth_error *err = NULL;
	bool any = false;
	size_t i;

	if (kube_state_list(cli->paths.store_root, "Service", ns, &list, &err) < 0) {
		berth_error_report("berth kube get", &err);
		return;
	}
	records = json_array_size(list) ? kube_service_records(&cli->k) : json_object();
	json_array_foreach(list, i, svc) {
		json_t *view;
		char age[16], ports[256];
		const char *type, *ip;
		if (!wanted(names, n, str(meta(svc), "name")))
			continue;
		view = service_view(svc, record_of(records, svc));
		if (items) {
			json_array_append_new(items, view);
			continue;
		}
		if (!any && header) {
			if (ns == NULL)
				printf("%-16s", "NAMESPACE");
			printf("%-24s %-12s %-14s %-12s %-20s %s\n", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP",
			       "PORT(S)", "AGE");
		}
		any = true;
		type = str(json_object_get(view, "spec"), "type");
		ip = str(json_object_get(view, "spec"), "clusterIP");
		ports_text(view, ports, sizeof(ports));
		if (ns == NULL)
			printf("%-16s", str(meta(svc), "namespace"));
		printf("%-24s %-12s %-14s %-12s %-20s %s\n", str(meta(svc), "name"), type,
		       ip && ip[0] ? ip : "<pending>", strcmp(type, "LoadBalancer") == 0 ? "<pending>" : "<none>",
		       ports, kube_cli_age(str(meta(svc), "creationTimestamp"), age));
		json_decref(view);
	}
	if (!any && !items && header && n <= 0)
		fprintf(stderr, "No resources found in %s namespace.\n", ns ? ns : "any");
	json_decref(list);
}

/* An Endpoints object for SVC: its engine record's endpoints (or, headless,
 * what the controller found), grouped by target ports. */
static json_t *endpoints_view(json_t *svc, json_t *rec, json_t *status)
{
	json_t *ports = json_object_get(json_object_get(svc, "spec"), "ports");
	json_t *out =
	    json_pack("{s:s, s:s, s:{s:O, s:O, s:O}, s:[]}", "apiVersion", "v1", "kind", "Endpoints", "metadata",
		      "name", json_object_get(meta(svc), "name"), "namespace", json_object_get(meta(svc), "namespace"),
		      "creationTimestamp", json_object_get(meta(svc), "creationTimestamp"), "subsets");
	json_t *subsets = json_object_get(out, "subsets"), *e, *rp;
	size_t i, j;

	if (rec == NULL) {
		/* headless: "IP:PORT" per port from the controller's status */
		json_t *list = json_object_get(
		    json_object_get(json_object_get(status, "services"), str(meta(svc), "name")), "endpoints");
		json_t *addrs = json_array(), *sub = json_pack("{s:o, s:[]}", "addresses", addrs, "ports");
		json_array_foreach(list, i, e) {
			char ip[64];
			snprintf(ip, sizeof(ip), "%s", json_string_value(e));
			if (strchr(ip, ':'))
				*strchr(ip, ':') = '\0';
			bool dup = false;
			for (j = 0; j < json_array_size(addrs); j++)
				dup = dup || strcmp(str(json_array_get(addrs, j), "ip"), ip) == 0;
			if (!dup)
				json_array_append_new(addrs, json_pack("{s:s}", "ip", ip));
		}
		json_array_foreach(ports, i, rp)
			json_array_append_new(json_object_get(sub, "ports"),
					      json_pack("{s:s, s:I, s:s}", "name", str(rp, "name") ?: "", "port",
							json_is_integer(json_object_get(rp, "targetPort"))
							    ? json_integer_value(json_object_get(rp, "targetPort"))
							    : json_integer_value(json_object_get(rp, "port")),
							"protocol", str(rp, "protocol") ?: "TCP"));
		if (json_array_size(addrs))
			json_array_append(subsets, sub);
		json_decref(sub);
		return out;
	}
	json_array_foreach(json_object_get(rec, "Endpoints"), i, e) {
		json_t *sub_ports = json_array(), *sub = NULL, *s;
		json_array_foreach(json_object_get(rec, "Ports"), j, rp) {
			json_int_t tp = json_integer_value(json_array_get(json_object_get(e, "TargetPorts"), j));
			json_t *a;
			size_t k;
			bool absent = false;
			json_array_foreach(json_object_get(e, "Absent"), k, a)
				absent = absent || json_integer_value(a) == (json_int_t)j;
			if (absent)
				continue; /* the address is in the subsets of the ports it serves */
			json_array_append_new(sub_ports,
					      json_pack("{s:s, s:I, s:s}", "name", str(rp, "Name") ?: "", "port",
							tp ? tp : json_integer_value(json_object_get(rp, "TargetPort")),
							"protocol",
							strcmp(str(rp, "Protocol") ?: "", "udp") == 0 ? "UDP" : "TCP"));
		}
		json_array_foreach(subsets, j, s)
			if (json_equal(json_object_get(s, "ports"), sub_ports))
				sub = s;
		if (sub == NULL) {
			sub = json_pack("{s:[], s:O}", "addresses", "ports", sub_ports);
			json_array_append_new(subsets, sub);
		}
		json_decref(sub_ports);
		json_array_append_new(json_object_get(sub, "addresses"),
				      json_pack("{s:O}", "ip", json_object_get(e, "IP")));
	}
	return out;
}

/* "10.88.0.2:8080,10.88.0.3:8080 + 1 more..." as kubectl shortens it */
static void endpoints_text(json_t *ep, char *out, size_t len)
{
	json_t *s, *a, *p;
	size_t i, j, k;
	int shown = 0, more = 0;

	out[0] = '\0';
	json_array_foreach(json_object_get(ep, "subsets"), i, s)
		json_array_foreach(json_object_get(s, "addresses"), j, a)
			json_array_foreach(json_object_get(s, "ports"), k, p) {
				char one[64];
				if (shown == 3) {
					more++;
					continue;
				}
				snprintf(one, sizeof(one), "%s%s:%lld", shown ? "," : "", str(a, "ip"),
					 (long long)json_integer_value(json_object_get(p, "port")));
				if (strlen(out) + strlen(one) + 1 < len)
					strcat(out, one);
				shown++;
			}
	if (shown == 0)
		snprintf(out, len, "<none>");
	else if (more)
		snprintf(out + strlen(out), len - strlen(out), " + %d more...", more);
}

/* The Endpoints of NS's Services named NAMES (N; none: all), as the
 * controller and the engine have them, and stored Endpoints objects of no
 * Service. NULL after an error (reported). */
static json_t *endpoints_views(kube_cli *cli, const char *ns, char **names, int n)
{
	_cleanup_json_ json_t *records = kube_service_records(&cli->k), *status = json_object();
	_cleanup_json_ json_t *svcs = NULL, *eps = NULL;
	json_t *o, *views = json_array();
	berth_error *err = NULL;
	size_t i;

	if (kube_state_list(cli->paths.store_root, "Service", ns, &svcs, &err) < 0 ||
	    kube_state_list(cli->paths.store_root, "Endpoints", ns, &eps, &err) < 0) {
		berth_error_report("berth kube get", &err);
		json_decref(views);
		return NULL;
	}
	json_array_foreach(svcs, i, o) {
		const char *ons = str(meta(o), "namespace") ?: "default";
		if (!json_object_get(status, ons))
			json_object_set_new(status, ons, kube_controller_status(&cli->k, ons));
		if (wanted(names, n, str(meta(o), "name")))
			json_array_append_new(views,
					      endpoints_view(o, kube_service_headless(o) ? NULL : record_of(records, o),
							     json_object_get(status, ons)));
	}
	/* Endpoints objects of no Service: as stored */
	json_array_foreach(eps, i, o) {
		bool has_service = false;
		size_t j;
		json_t *s;
		json_array_foreach(svcs, j, s)
			has_service =
			    has_service || (strcmp(str(meta(s), "name"), str(meta(o), "name")) == 0 &&
					    strcmp(str(meta(s), "namespace"), str(meta(o), "namespace")) == 0);
		if (!has_service && wanted(names, n, str(meta(o), "name")))
			json_array_append(views, o);
	}
	return views;
}

void kube_cli_print_endpoints(kube_cli *cli, const char *ns, char **names, int n, json_t *items)
{
	_cleanup_json_ json_t *views = endpoints_views(cli, ns, names, n);
	json_t *o;
	size_t i;

	if (views == NULL)
		return;
	json_array_foreach(views, i, o) {
		char age[16], text[256];
		if (items) {
			json_array_append(items, o);
			continue;
		}
		if (i == 0) {
			if (ns == NULL)
				printf("%-16s", "NAMESPACE");
			printf("%-24s %-50s %s\n", "NAME", "ENDPOINTS", "AGE");
		}
		endpoints_text(o, text, sizeof(text));
		if (ns == NULL)
			printf("%-16s", str(meta(o), "namespace"));
		printf("%-24s %-50s %s\n", str(meta(o), "name"), text,
		       kube_cli_age(str(meta(o), "creationTimestamp"), age));
	}
	if (json_array_size(views) == 0 && !items && n <= 0)
		fprintf(stderr, "No resources found in %s namespace.\n", ns ? ns : "any");
}

/* "SERVICE-xxxxx": Kubernetes draws the suffix at random (generateName);
 * here it comes from the ports, so a slice keeps its name while its port
 * set does. */
static void slice_name(const char *service_name, json_t *ports, char *out, size_t len)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	_cleanup_free_ char *text = json_dumps(ports, JSON_COMPACT | JSON_SORT_KEYS);
	uint32_t h = 2166136261u;
	char suffix[6];

	for (const char *c = text ? text : ""; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	for (size_t i = 0; i < 5; i++, h /= (sizeof(alphabet) - 1))
		suffix[i] = alphabet[h % (sizeof(alphabet) - 1)];
	suffix[5] = '\0';
	snprintf(out, len, "%s-%s", service_name, suffix);
}

/* The EndpointSlices (discovery.k8s.io/v1) of Endpoints view EP: one per
 * subset (a set of addresses serving the same ports), or one without
 * endpoints when it has none, as the EndpointSlice controller mirrors
 * them. Appended to OUT. */
static void slices_of(json_t *ep, json_t *out)
{
	json_t *subsets = json_object_get(ep, "subsets"), *sub, *a;
	size_t i, j, n = json_array_size(subsets);

	for (i = 0; i < (n ? n : 1); i++) {
		json_t *endpoints = json_array(), *ports;
		char name[300];

		sub = json_array_get(subsets, i);
		ports = json_object_get(sub, "ports") ? json_deep_copy(json_object_get(sub, "ports")) : json_null();
		json_array_foreach(json_object_get(sub, "addresses"), j, a)
			json_array_append_new(endpoints, json_pack("{s:[O], s:{s:b, s:b, s:b}}", "addresses",
								   json_object_get(a, "ip"), "conditions", "ready", 1,
								   "serving", 1, "terminating", 0));
		slice_name(str(meta(ep), "name") ?: "", ports, name, sizeof(name));
		json_array_append_new(
		    out, json_pack("{s:s, s:s, s:{s:s, s:O, s:O, s:{s:O, s:s}, s:[{s:s, s:s, s:O}]}, s:s, s:o, s:o}",
				   "apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "name",
				   name, "namespace", json_object_get(meta(ep), "namespace"), "creationTimestamp",
				   json_object_get(meta(ep), "creationTimestamp"), "labels",
				   "kubernetes.io/service-name", json_object_get(meta(ep), "name"),
				   "endpointslice.kubernetes.io/managed-by", "berth", "ownerReferences", "apiVersion",
				   "v1", "kind", "Service", "name", json_object_get(meta(ep), "name"), "addressType",
				   "IPv4", "endpoints", endpoints, "ports", ports));
	}
}

/* "8080,8081" or "<unset>"; "10.77.0.2,10.77.0.3 + 1 more..." or "<unset>" */
static void slice_text(json_t *slice, char *ports, size_t plen, char *addrs, size_t alen)
{
	json_t *p, *e;
	size_t i;
	int shown = 0, more = 0;

	ports[0] = addrs[0] = '\0';
	json_array_foreach(json_object_get(slice, "ports"), i, p)
		snprintf(ports + strlen(ports), plen - strlen(ports), "%s%lld", i ? "," : "",
			 (long long)json_integer_value(json_object_get(p, "port")));
	json_array_foreach(json_object_get(slice, "endpoints"), i, e) {
		if (shown == 3) {
			more++;
			continue;
		}
		snprintf(addrs + strlen(addrs), alen - strlen(addrs), "%s%s", shown ? "," : "",
			 json_string_value(json_array_get(json_object_get(e, "addresses"), 0)) ?: "");
		shown++;
	}
	if (ports[0] == '\0')
		snprintf(ports, plen, "<unset>");
	if (shown == 0)
		snprintf(addrs, alen, "<unset>");
	else if (more)
		snprintf(addrs + strlen(addrs), alen - strlen(addrs), " + %d more...", more);
}

void kube_cli_print_endpointslices(kube_cli *cli, const char *ns, char **names, int n, json_t *items)
{
	_cleanup_json_ json_t *views = endpoints_views(cli, ns, NULL, 0), *slices = json_array();
	json_t *o;
	size_t i;
	bool header = false;

	if (views == NULL)
		return;
	json_array_foreach(views, i, o)
		slices_of(o, slices);
	json_array_foreach(slices, i, o) {
		char age[16], ports[128], addrs[256];
		if (!wanted(names, n, str(meta(o), "name")))
			continue;
		if (items) {
			json_array_append(items, o);
			continue;
		}
		if (!header) {
			if (ns == NULL)
				printf("%-16s", "NAMESPACE");
			printf("%-24s %-12s %-12s %-50s %s\n", "NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE");
			header = true;
		}
		slice_text(o, ports, sizeof(ports), addrs, sizeof(addrs));
		if (ns == NULL)
			printf("%-16s", str(meta(o), "namespace"));
		printf("%-24s %-12s %-12s %-50s %s\n", str(meta(o), "name"), "IPv4", ports, addrs,
		       kube_cli_age(str(meta(o), "creationTimestamp"), age));
	}
	if (!header && !items && n <= 0)
		fprintf(stderr, "No resources found in %s namespace.\n", ns ? ns : "any");
}

void kube_cli_describe_service(kube_cli *cli, json_t *svc, json_t *status)
{
	_cleanup_json_ json_t *records = kube_service_records(&cli->k), *view = NULL, *ep = NULL;
	json_t *rec = kube_service_headless(svc) ? NULL : record_of(records, svc), *spec, *p, *note;
	json_t *entry = json_object_get(json_object_get(status, "services"), str(meta(svc), "name"));
	const char *key;
	char text[1024];
	bool first = true;
	size_t i;

	view = service_view(svc, rec);
	spec = json_object_get(view, "spec");
	ep = endpoints_view(svc, rec, status);
	printf("Selector:          ");
	json_object_foreach(json_object_get(spec, "selector"), key, p) {
		printf("%s%s=%s", first ? "" : ",", key, json_string_value(p));
		first = false;
	}
	printf("%s\nType:              %s\n", json_object_size(json_object_get(spec, "selector")) ? "" : "<none>",
	       str(spec, "type"));
	printf("IP:                %s\n", kube_service_headless(svc) ? "None" : str(spec, "clusterIP"));
	json_array_foreach(json_object_get(spec, "ports"), i, p) {
		json_t *tp = json_object_get(p, "targetPort");
		printf("Port:              %s  %lld/%s\n", str(p, "name") ?: "<unset>",
		       (long long)json_integer_value(json_object_get(p, "port")), str(p, "protocol"));
		if (json_is_string(tp))
			printf("TargetPort:        %s/%s\n", json_string_value(tp), str(p, "protocol"));
		else
			printf("TargetPort:        %lld/%s\n", (long long)json_integer_value(tp), str(p, "protocol"));
		if (json_integer_value(json_object_get(p, "nodePort")))
			printf("NodePort:          %s  %lld/%s\n", str(p, "name") ?: "<unset>",
			       (long long)json_integer_value(json_object_get(p, "nodePort")), str(p, "protocol"));
	}
	endpoints_text(ep, text, sizeof(text));
	printf("Endpoints:         %s\n", text);
	printf("Session Affinity:  %s\n", str(spec, "sessionAffinity"));
	if (rec && json_integer_value(json_object_get(rec, "AffinityTimeout")))
		printf("Affinity Timeout:  %llds\n",
		       (long long)json_integer_value(json_object_get(rec, "AffinityTimeout")));
	json_array_foreach(json_object_get(entry, "notes"), i, note)
		printf("Note:              %s\n", json_string_value(note));
	if (str(entry, "error"))
		printf("Last error:        %s\n", str(entry, "error"));
}
