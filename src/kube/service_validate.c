/* The API server's rules for Service and Endpoints (core/v1), after the
 * schema vouched for the fields and their types. Messages follow the API
 * server's wording ("spec.ports[1].name: Required value"), so that what a
 * user searches for is what kubectl would have said. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_internal.h"
#include "kube/validate.h"
#include "network/service.h"
#include "util/cleanup.h"

#define invalid(err, ...) berth_error_request(err, EINVAL, __VA_ARGS__)

static const char *str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* [a-z]([-a-z0-9]*[a-z0-9])?, at most 63: a Service's name becomes a host name */
static bool is_dns1035_label(const char *s)
{
	return kube_is_dns1123_label(s) && s[0] >= 'a' && s[0] <= 'z';
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;
	return inet_pton(AF_INET, s, &a) == 1;
}

static int validate_protocol(json_t *port, const char *path, berth_error **err)
{
	const char *proto = str(port, "protocol");

	if (proto == NULL || strcmp(proto, "TCP") == 0 || strcmp(proto, "UDP") == 0)
		return 0;
	if (strcmp(proto, "SCTP") == 0)
		return berth_error_request(err, ENOTSUP, "%s.protocol: SCTP is not supported by berth (TCP, UDP)",
					   path);
	return invalid(err, "%s.protocol: Unsupported value: \"%s\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
		       path, proto);
}

static int validate_port_number(json_t *port, const char *key, const char *path, berth_error **err)
{
	json_t *v = json_object_get(port, key);

	if (v == NULL || json_is_null(v))
		return invalid(err, "%s.%s: Required value", path, key);
	if (json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return invalid(err, "%s.%s: Invalid value: %lld: must be between 1 and 65535, inclusive", path, key,
			       (long long)json_integer_value(v));
	return 0;
}

/* name (required and unique with several ports), protocol, port and, for
 * a Service, targetPort and nodePort. */
static int validate_ports(json_t *ports, const char *path, bool of_service, bool node_ports, berth_error **err)
{
	size_t n = json_array_size(ports), i, j;
	json_t *p, *q;

	json_array_foreach(ports, i, p) {
		char where[64];
		const char *name = str(p, "name");
		json_t *target = json_object_get(p, "targetPort"), *node = json_object_get(p, "nodePort");
		snprintf(where, sizeof(where), "%s[%zu]", path, i);
		if ((name == NULL || name[0] == '\0') && n > 1)
			return invalid(err, "%s.name: Required value", where);
		if (name && name[0] && !kube_is_port_name(name))
			return invalid(err,
				       "%s.name: Invalid value: \"%s\": a port name must be at most 15 lowercase "
				       "letters, digits and '-', with a letter, not starting or ending with '-'",
				       where, name);
		if (validate_protocol(p, where, err) < 0 || validate_port_number(p, "port", where, err) < 0)
			return -1;
		if (of_service && json_is_integer(target) &&
		    (json_integer_value(target) < 1 || json_integer_value(target) > 65535))
			return invalid(err,
				       "%s.targetPort: Invalid value: %lld: must be between 1 and 65535, inclusive",
				       where, (long long)json_integer_value(target));
		if (of_service && json_is_string(target) && !kube_is_port_name(json_string_value(target)))
			return invalid(err, "%s.targetPort: Invalid value: \"%s\": not a port number or name", where,
				       json_string_value(target));
		if (of_service && json_is_integer(node) && json_integer_value(node) != 0) {
			json_int_t np = json_integer_value(node);
			if (!node_ports)
				return invalid(
				    err, "%s.nodePort: Forbidden: may not be used when `type` is 'ClusterIP'", where);
			if (np < SERVICE_NODE_PORT_MIN || np > SERVICE_NODE_PORT_MAX)
				return invalid(err,
					       "%s.nodePort: Invalid value: %lld: provided port is not in the valid "
					       "range. The range of valid ports is %d-%d",
					       where, (long long)np, SERVICE_NODE_PORT_MIN, SERVICE_NODE_PORT_MAX);
		}
		for (j = 0; j < i; j++) {
			q = json_array_get(ports, j);
			const char *other = str(q, "name");
			if (name && other && name[0] && strcmp(name, other) == 0)
				return invalid(err, "%s.name: Duplicate value: \"%s\"", where, name);
			if (json_integer_value(json_object_get(p, "port")) ==
				json_integer_value(json_object_get(q, "port")) &&
			    strcmp(str(p, "protocol") ?: "TCP", str(q, "protocol") ?: "TCP") == 0)
				return invalid(err, "%s: Duplicate value: port %lld/%s", where,
					       (long long)json_integer_value(json_object_get(p, "port")),
					       str(p, "protocol") ?: "TCP");
			if (of_service && json_integer_value(node) != 0 &&
			    json_integer_value(node) == json_integer_value(json_object_get(q, "nodePort")) &&
			    strcmp(str(p, "protocol") ?: "TCP", str(q, "protocol") ?: "TCP") == 0)
				return invalid(err, "%s.nodePort: Duplicate value: %lld", where,
					       (long long)json_integer_value(node));
		}
	}
	return 0;
}

static int validate_cluster_ip(json_t *spec, const char *type, berth_error **err)
{
	const char *ip = str(spec, "clusterIP");
	json_t *ips = json_object_get(spec, "clusterIPs");

	if (json_array_size(ips) > 1)
		return berth_error_request(err, ENOTSUP,
					   "spec.clusterIPs: berth's services are IPv4 only (one cluster IP)");
	if (json_array_size(ips) == 1) {
		const char *first = json_string_value(json_array_get(ips, 0));
		if (ip && ip[0] && strcmp(ip, first) != 0)
			return invalid(err,
				       "spec.clusterIPs[0]: Invalid value: \"%s\": must match `clusterIP` when both "
				       "are specified",
				       first);
		ip = first;
	}
	if (ip == NULL || ip[0] == '\0')
		return 0;
	if (strcmp(ip, "None") == 0) {
		if (strcmp(type, "ClusterIP") != 0)
			return invalid(err,
				       "spec.clusterIPs[0]: Invalid value: [\"None\"]: may not be set to 'None' for %s "
				       "services",
				       type);
		return 0;
	}
	if (!is_ipv4(ip))
		return invalid(
		    err, "spec.clusterIP: Invalid value: \"%s\": must be empty, 'None', or a valid IP address", ip);
	if (!service_range_contains(SERVICE_RANGE, ip))
		return invalid(err,
			       "spec.clusterIP: Invalid value: \"%s\": failed to allocate IP %s: the provided IP (%s) "
			       "is not in the valid range. The range of valid IPs is %s",
			       ip, ip, ip, SERVICE_RANGE);
	return 0;
}

static int validate_affinity(json_t *spec, berth_error **err)
{
	const char *affinity = str(spec, "sessionAffinity") ?: "None";
	json_t *config = json_object_get(spec, "sessionAffinityConfig");
	json_t *timeout = json_object_get(json_object_get(config, "clientIP"), "timeoutSeconds");

	if (strcmp(affinity, "None") != 0 && strcmp(affinity, "ClientIP") != 0)
		return invalid(err,
			       "spec.sessionAffinity: Unsupported value: \"%s\": supported values: \"ClientIP\", "
			       "\"None\"",
			       affinity);
	if (strcmp(affinity, "None") == 0 && config != NULL && !json_is_null(config) && json_object_size(config))
		return invalid(err, "spec.sessionAffinityConfig: Invalid value: must not be set when session affinity "
				    "is None");
	if (json_is_integer(timeout) && (json_integer_value(timeout) <= 0 || json_integer_value(timeout) > 86400))
		return invalid(err,
			       "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: %lld: must be "
			       "greater than 0 and less than 86400",
			       (long long)json_integer_value(timeout));
	return 0;
}

int kube_validate_service(json_t *svc, berth_error **err)
{
	static const char *const types[] = { "ClusterIP", "NodePort", "LoadBalancer", NULL };
	json_t *meta = json_object_get(svc, "metadata"), *spec = json_object_get(svc, "spec"), *value;
	const char *name, *ns, *type, *ip, *key;
	bool headless, known = false;

	if (kube_validate_object_metadata(svc, err) < 0)
		return -1;
	name = str(meta, "name");
	ns = str(meta, "namespace") ?: "default";
	if (!is_dns1035_label(name))
		return invalid(err,
			       "metadata.name: Invalid value: \"%s\": a DNS-1035 label must consist of lower case "
			       "alphanumeric characters or '-', start with an alphabetic character, and end with an "
			       "alphanumeric character",
			       name);
	/* the engine's service is NAME.NS */
	if (strlen(name) + 1 + strlen(ns) > SERVICE_NAME_MAX)
		return invalid(err,
			       "metadata.name: \"%s\" and namespace \"%s\" together are longer than berth allows (%d)",
			       name, ns, SERVICE_NAME_MAX - 1);
	type = str(spec, "type") ?: "ClusterIP";
	for (const char *const *t = types; *t; t++)
		known = known || strcmp(*t, type) == 0;
	if (strcmp(type, "ExternalName") == 0)
		return berth_error_request(err, ENOTSUP,
					   "spec.type: ExternalName is not supported by berth (it needs a DNS server; "
					   "use ClusterIP, NodePort or LoadBalancer)");
	if (!known)
		return invalid(err,
			       "spec.type: Unsupported value: \"%s\": supported values: \"ClusterIP\", "
			       "\"ExternalName\", \"LoadBalancer\", \"NodePort\"",
			       type);
	if (validate_cluster_ip(spec, type, err) < 0)
		return -1;
	ip = str(spec, "clusterIP") ?: json_string_value(json_array_get(json_object_get(spec, "clusterIPs"), 0));
	headless = ip && strcmp(ip, "None") == 0;
	if (!headless && json_array_size(json_object_get(spec, "ports")) == 0)
		return invalid(err, "spec.ports: Required value");
	if (json_array_size(json_object_get(spec, "ports")) > SERVICE_PORTS_MAX)
		return invalid(err, "spec.ports: Too many: %zu: berth allows at most %d ports per service",
			       json_array_size(json_object_get(spec, "ports")), SERVICE_PORTS_MAX);
	if (validate_ports(json_object_get(spec, "ports"), "spec.ports", true, strcmp(type, "ClusterIP") != 0, err) <
		0 ||
	    validate_affinity(spec, err) < 0)
		return -1;
	json_object_foreach(json_object_get(spec, "selector"), key, value) {
		if (!kube_is_label(key, json_string_value(value) ?: ""))
			return invalid(err, "spec.selector: Invalid value: \"%s\": not a valid label", key);
	}
	return 0;
}

static int validate_addresses(json_t *list, const char *path, berth_error **err)
{
	json_t *a;
	size_t i;

	json_array_foreach(list, i, a) {
		const char *ip = str(a, "ip");
		if (ip == NULL || ip[0] == '\0')
			return invalid(err, "%s[%zu].ip: Required value", path, i);
		if (!is_ipv4(ip))
			return strchr(ip, ':')
				   ? berth_error_request(err, ENOTSUP,
							 "%s[%zu].ip: \"%s\": berth's services are IPv4 only", path, i,
							 ip)
				   : invalid(err, "%s[%zu].ip: Invalid value: \"%s\": must be a valid IP address", path,
					     i, ip);
		if (strncmp(ip, "127.", 4) == 0)
			return invalid(err,
				       "%s[%zu].ip: Invalid value: \"%s\": may not be in the loopback range "
				       "(127.0.0.0/8, ::1/128)",
				       path, i, ip);
		if (strcmp(ip, "0.0.0.0") == 0 || strncmp(ip, "169.254.", 8) == 0 || atoi(ip) >= 224)
			return invalid(
			    err, "%s[%zu].ip: Invalid value: \"%s\": may not be unspecified, link-local or multicast",
			    path, i, ip);
	}
	return 0;
}

int kube_validate_endpoints(json_t *endpoints, berth_error **err)
{
	json_t *subset;
	size_t i;

	if (kube_validate_object_metadata(endpoints, err) < 0)
		return -1;
	json_array_foreach(json_object_get(endpoints, "subsets"), i, subset) {
		char path[64];
		snprintf(path, sizeof(path), "subsets[%zu].addresses", i);
		if (validate_addresses(json_object_get(subset, "addresses"), path, err) < 0)
			return -1;
		snprintf(path, sizeof(path), "subsets[%zu].notReadyAddresses", i);
		if (validate_addresses(json_object_get(subset, "notReadyAddresses"), path, err) < 0)
			return -1;
		snprintf(path, sizeof(path), "subsets[%zu].ports", i);
		if (validate_ports(json_object_get(subset, "ports"), path, false, false, err) < 0)
			return -1;
	}
	return 0;
}
