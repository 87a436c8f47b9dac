/* berth network service COMMAND: a building block to make, feed and remove
 * Services (engine/service.h) by hand, without berth kube: create, ls,
 * inspect, set-endpoints, rm. `berth kube` calls the same engine functions
 * with the ready pods' addresses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd/berth/commands.h"
#include "cmd/berth/engine_cmd.h"
#include "engine/service.h"
#include "util/cleanup.h"

static int parse_number(const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end != '\0' || v == 0 || v > max || text[0] == '-')
		return -1;
	*out = v;
	return 0;
}

/* [NAME=]PORT[:TARGET][/tcp|udp] */
static int parse_port(const char *text, service_port *p, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *s = copy, *eq, *slash, *colon;
	unsigned long v;

	memset(p, 0, sizeof(*p));
	p->proto = IPPROTO_TCP;
	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "--port");
	if ((eq = strchr(s, '=')) != NULL) {
		*eq = '\0';
		snprintf(p->name, sizeof(p->name), "%s", s);
		s = eq + 1;
	}
	if ((slash = strchr(s, '/')) != NULL) {
		*slash = '\0';
		if (strcasecmp(slash + 1, "udp") == 0)
			p->proto = IPPROTO_UDP;
		else if (strcasecmp(slash + 1, "tcp") != 0)
			return berth_error_request(err, EINVAL, "--port \"%s\": protocol is tcp or udp", text);
	}
	if ((colon = strchr(s, ':')) != NULL) {
		*colon = '\0';
		if (parse_number(colon + 1, 65535, &v) < 0)
			return berth_error_request(err, EINVAL, "--port \"%s\": bad target port", text);
		p->target_port = (uint16_t)v;
	}
	if (parse_number(s, 65535, &v) < 0)
		return berth_error_request(err, EINVAL, "--port \"%s\": expected [NAME=]PORT[:TARGET][/tcp|udp]", text);
	p->port = (uint16_t)v;
	return 0;
}

static const option_spec create_specs[] = {
	{ "port", 'p', true, "[NAME=]PORT[:TARGET][/tcp|udp] (repeatable; TARGET defaults to PORT)" },
	{ "type", 0, true, "ClusterIP (default) or NodePort" },
	{ "node-port", 0, true,
	  "with --type NodePort: the node port of the Nth --port (repeatable; default: a free one)" },
	{ "cluster-ip", 0, true, "the ClusterIP (default: the first free one of " SERVICE_RANGE ")" },
	{ "session-affinity", 0, true, "None (default) or ClientIP" },
	{ "affinity-timeout", 0, true, "seconds a ClientIP sticks (default 10800)" },
	{ NULL, 0, false, NULL },
};

enum { S_PORT, S_TYPE, S_NODE_PORT, S_CLUSTER_IP, S_AFFINITY, S_TIMEOUT, S_COUNT };

/* "80:30080/TCP,53/UDP" as kubectl shows them, into BUF. */
static const char *format_ports(const service *s, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->spec.n_ports && used < len; i++) {
		const service_port *p = &s->spec.ports[i];
		char node[8] = "";
		if (p->node_port)
			snprintf(node, sizeof(node), ":%u", p->node_port);
		used += (size_t)snprintf(buf + used, len - used, "%s%u%s/%s", i ? "," : "", p->port, node,
					 p->proto == IPPROTO_UDP ? "UDP" : "TCP");
	}
	return buf;
}

static int parse_spec(option_value *v, const char *name, service_spec *spec, berth_error **err)
{
	unsigned long n;

	memset(spec, 0, sizeof(*spec));
	if (strlen(name) > SERVICE_NAME_MAX)
		return berth_error_request(err, EINVAL, "service \"%.20s...\": name too long", name);
	snprintf(spec->name, sizeof(spec->name), "%s", name);
	if (v[S_PORT].count == 0)
		return berth_error_request(err, EINVAL, "service %s: give at least one --port", name);
	if (v[S_PORT].count > SERVICE_PORTS_MAX)
		return berth_error_request(err, EINVAL, "service %s: at most %d ports", name, SERVICE_PORTS_MAX);
	for (int i = 0; i < v[S_PORT].count; i++)
		if (parse_port(v[S_PORT].all[i], &spec->ports[spec->n_ports++], err) < 0)
			return -1;
	if (v[S_TYPE].value && strcmp(v[S_TYPE].value, "NodePort") == 0)
		spec->node_ports = true;
	else if (v[S_TYPE].value && strcmp(v[S_TYPE].value, "ClusterIP") != 0)
		return berth_error_request(err, EINVAL, "--type \"%s\": ClusterIP or NodePort", v[S_TYPE].value);
	if (v[S_NODE_PORT].count > v[S_PORT].count)
		return berth_error_request(err, EINVAL, "more --node-port than --port");
	for (int i = 0; i < v[S_NODE_PORT].count; i++) {
		if (parse_number(v[S_NODE_PORT].all[i], 65535, &n) < 0)
			return berth_error_request(err, EINVAL, "--node-port \"%s\": not a port",
						   v[S_NODE_PORT].all[i]);
		spec->ports[i].node_port = (uint16_t)n;
	}
	if (v[S_CLUSTER_IP].value)
		snprintf(spec->cluster_ip, sizeof(spec->cluster_ip), "%s", v[S_CLUSTER_IP].value);
	if (v[S_AFFINITY].value && strcmp(v[S_AFFINITY].value, "ClientIP") == 0)
		spec->affinity_timeout = SERVICE_AFFINITY_TIMEOUT_DEFAULT;
	else if (v[S_AFFINITY].value && strcmp(v[S_AFFINITY].value, "None") != 0)
		return berth_error_request(err, EINVAL, "--session-affinity \"%s\": None or ClientIP",
					   v[S_AFFINITY].value);
	if (v[S_TIMEOUT].value) {
		if (parse_number(v[S_TIMEOUT].value, 86400, &n) < 0)
			return berth_error_request(err, EINVAL, "--affinity-timeout \"%s\": 1-86400 seconds",
						   v[S_TIMEOUT].value);
		if (spec->affinity_timeout == 0)
			return berth_error_request(err, EINVAL, "--affinity-timeout needs --session-affinity ClientIP");
		spec->affinity_timeout = (unsigned)n;
	}
	return 0;
}

static int service_create_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[S_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	service_spec spec;
	service s = { 0 };
	int npos, ret;

	ret = berth_parse("network service create", "network service create [flags] NAME", create_specs, argc, argv,
			  false, v, &pos, &npos, 1, 1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = parse_spec(v, pos[0], &spec, err);
	if (ret == 0)
		ret = berth_engine_open(g, &paths, err);
	if (ret == 0)
		ret = engine_service_apply(&paths, &spec, &s, err);
	if (ret == 0) {
		char ports[SERVICE_PORTS_MAX * 24];
		printf("%s %s %s\n", s.spec.name, s.spec.cluster_ip, format_ports(&s, ports, sizeof(ports)));
	}
	service_clear(&s);
	engine_paths_free(&paths);
	options_free_values(v, S_COUNT);
	return ret < 0 ? 125 : 0;
}

/* IP[:PORT[,PORT...]] */
static int parse_endpoint(const char *text, service_endpoint *e, berth_error **err)
{
	const char *colon = strchr(text, ':');
	size_t len = colon ? (size_t)(colon - text) : strlen(text);
	size_t i = 0;

	memset(e, 0, sizeof(*e));
	if (len >= sizeof(e->ip))
		return berth_error_request(err, EINVAL, "endpoint \"%s\": expected IP[:PORT[,PORT...]]", text);
	memcpy(e->ip, text, len);
	while (colon && *colon) {
		char num[8];
		const char *next = strchr(colon + 1, ',');
		size_t l = next ? (size_t)(next - colon - 1) : strlen(colon + 1);
		unsigned long v;

		if (i >= SERVICE_PORTS_MAX || l == 0 || l >= sizeof(num))
			return berth_error_request(err, EINVAL, "endpoint \"%s\": expected IP[:PORT[,PORT...]]", text);
		memcpy(num, colon + 1, l);
		num[l] = '\0';
		if (parse_number(num, 65535, &v) < 0)
			return berth_error_request(err, EINVAL, "endpoint \"%s\": bad port \"%s\"", text, num);
		e->target_ports[i++] = (uint16_t)v;
		colon = next;
	}
	return 0;
}

static int service_set_endpoints_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { NULL, 0, false, NULL } };
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_free_ service_endpoint *eps = NULL;
	engine_paths paths = { 0 };
	char owner[256];
	int npos, ret;

	ret = berth_parse("network service set-endpoints", "network service set-endpoints NAME [IP[:PORT,...]]...",
			  specs, argc, argv, false, v, &pos, &npos, 1, -1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	eps = calloc((size_t)npos, sizeof(*eps));
	if (eps == NULL)
		return berth_error_set(err, ENOMEM, "endpoints") < 0 ? 125 : 0;
	for (int i = 1; i < npos; i++)
		if (parse_endpoint(pos[i], &eps[i - 1], err) < 0)
			return 125;
	if (berth_engine_open(g, &paths, err) < 0)
		return 125;
	engine_service_owner(&paths, owner, sizeof(owner));
	ret = engine_service_set_endpoints(&paths, pos[0], owner, eps, (size_t)npos - 1, err);
	engine_paths_free(&paths);
	return ret < 0 ? 125 : 0;
}

static int service_rm_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { NULL, 0, false, NULL } };
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	char owner[256];
	int npos, ret, status = 0;

	ret = berth_parse("network service rm", "network service rm NAME...", specs, argc, argv, false, v, &pos, &npos,
			  1, -1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (berth_engine_open(g, &paths, err) < 0)
		return 125;
	engine_service_owner(&paths, owner, sizeof(owner));
	for (int i = 0; i < npos; i++) {
		berth_error *one = NULL;
		if (engine_service_remove(&paths, pos[i], owner, &one) < 0) {
			berth_error_report("berth", &one);
			status = 1;
			continue;
		}
		printf("%s\n", pos[i]);
	}
	engine_paths_free(&paths);
	return status;
}

static const option_spec ls_specs[] = {
	{ "format", 0, true, "table (default) or json" },
	{ "quiet", 'q', false, "print service names only" },
	{ NULL, 0, false, NULL },
};

static int service_ls_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	service *list = NULL;
	size_t n = 0;
	int npos, ret;
	bool json;

	ret = berth_parse("network service ls", "network service ls [--format table|json] [-q]", ls_specs, argc, argv,
			  false, v, &pos, &npos, 0, 0, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	json = v[0].value && strcmp(v[0].value, "json") == 0;
	if (v[0].value && !json && strcmp(v[0].value, "table") != 0) {
		berth_error_request(err, EINVAL, "network service ls: --format: table or json, not \"%s\"", v[0].value);
		options_free_values(v, 2);
		return 125;
	}
	if (berth_engine_open(g, &paths, err) < 0 || engine_service_list(&paths, &list, &n, err) < 0) {
		engine_paths_free(&paths);
		options_free_values(v, 2);
		return 125;
	}
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, service_to_json(&list[i]));
		berth_print_json(arr);
		json_decref(arr);
	} else {
		if (!option_bool(&v[1]))
			printf("%-24s%-11s%-16s%-24s %s\n", "NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "ENDPOINTS");
		for (size_t i = 0; i < n; i++) {
			const service *s = &list[i];
			if (option_bool(&v[1])) {
				printf("%s\n", s->spec.name);
				continue;
			}
			char ports[SERVICE_PORTS_MAX * 24];
			printf("%-24s%-11s%-16s%-24s ", s->spec.name, s->spec.node_ports ? "NodePort" : "ClusterIP",
			       s->spec.cluster_ip, format_ports(s, ports, sizeof(ports)));
			for (size_t k = 0; k < s->n_endpoints; k++)
				printf("%s%s", k ? "," : "", s->endpoints[k].ip);
			printf("%s\n", s->n_endpoints ? "" : "<none>");
		}
	}
	for (size_t i = 0; i < n; i++)
		service_clear(&list[i]);
	free(list);
	engine_paths_free(&paths);
	options_free_values(v, 2);
	return 0;
}

static const berth_command service_commands[] = {
	{ "create", "network service create [flags] NAME", "create (or update) a service", service_create_cmd },
	{ "set-endpoints", "network service set-endpoints NAME [IP[:PORT,...]]...",
	  "replace a service's endpoints (none: it refuses connections)", service_set_endpoints_cmd },
	{ "ls", "network service ls [--format table|json] [-q]", "list the host's services", service_ls_cmd },
	{ "rm", "network service rm NAME...", "remove services", service_rm_cmd },
	{ NULL, NULL, NULL, NULL },
};

int cmd_network_service(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: berth network service COMMAND [flags] ARGS\n\n"
		       "Services by hand (a building block of berth kube): a ClusterIP from %s and\n"
		       "optional node ports, load-balanced across endpoints by nftables.\n\ncommands:\n",
		       SERVICE_RANGE);
		for (int i = 0; service_commands[i].name; i++)
			printf("   %-14s %s\n", service_commands[i].name, service_commands[i].summary);
		return argc < 1 ? 125 : 0;
	}
	for (int i = 0; service_commands[i].name; i++)
		if (strcmp(service_commands[i].name, argv[0]) == 0)
			return service_commands[i].run(g, argc - 1, argv + 1, err);
	return berth_error_set(err, 0, "network service: unknown command \"%s\" (see berth network service --help)",
			       argv[0]);
}
