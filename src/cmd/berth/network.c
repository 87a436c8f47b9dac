/* berth network COMMAND: create, ls, inspect and rm networks
 * (engine/network.h), with docker's output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/commands.h"
#include "cmd/berth/engine_cmd.h"
#include "engine/network.h"
#include "util/cleanup.h"

static const option_spec create_specs[] = {
	{ "driver", 'd', true, "bridge (default) or cni" },
	{ "subnet", 0, true, "IPv4 subnet in CIDR form (default: a free 10.78.x.0/24)" },
	{ "gateway", 0, true, "IPv4 gateway (default: the subnet's first address)" },
	{ "ipv6", 0, false, "add an IPv6 subnet (a ULA /64 unless --subnet6)" },
	{ "subnet6", 0, true, "IPv6 subnet in CIDR form" },
	{ "internal", 0, false, "no way out: no masquerade, no port publishing from outside" },
	{ "mtu", 0, true, "MTU of the bridge and the containers' interfaces (default 1500)" },
	{ "cni-config", 0, true, "with --driver cni: the CNI conflist (copied into the store)" },
	{ NULL, 0, false, NULL },
};

enum { C_DRIVER, C_SUBNET, C_GATEWAY, C_IPV6, C_SUBNET6, C_INTERNAL, C_MTU, C_CNI, C_COUNT };

static int network_create_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[C_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	network_create_options o = { 0 };
	network_def d = { 0 };
	int npos, ret;

	ret = berth_parse("network create", "network create [flags] NAME", create_specs, argc, argv, false, v, &pos,
			  &npos, 1, 1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	o.driver = v[C_DRIVER].value;
	o.subnet = v[C_SUBNET].value;
	o.gateway = v[C_GATEWAY].value;
	o.ipv6 = option_bool(&v[C_IPV6]);
	o.subnet6 = v[C_SUBNET6].value;
	o.internal = option_bool(&v[C_INTERNAL]);
	o.cni_config = v[C_CNI].value;
	if (v[C_MTU].value) {
		char *end;
		long mtu = strtol(v[C_MTU].value, &end, 10);
		if (*end != '\0' || mtu < 576 || mtu > 65535) {
			berth_error_set(err, EINVAL, "network create: --mtu \"%s\": expected 576-65535",
					v[C_MTU].value);
			ret = -1;
			goto out;
		}
		o.mtu = (unsigned)mtu;
	}
	ret = berth_engine_open(g, &paths, err);
	if (ret == 0)
		ret = network_create(&paths, pos[0], &o, &d, err);
	if (ret == 0)
		printf("%s\n", d.name);
	network_def_free(&d);
out:
	engine_paths_free(&paths);
	options_free_values(v, C_COUNT);
	return ret < 0 ? 125 : 0;
}

static const option_spec ls_specs[] = {
	{ "format", 0, true, "table (default) or json" },
	{ "quiet", 'q', false, "print network names only" },
	{ NULL, 0, false, NULL },
};

static int network_ls_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	network_def *list = NULL;
	size_t n = 0;
	int npos, ret;
	bool json;

	ret = berth_parse("network ls", "network ls [--format table|json] [-q]", ls_specs, argc, argv, false, v, &pos,
			  &npos, 0, 0, err);
	/* only the values are read below: they point into argv */
	options_free_values(v, 2);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	json = v[0].value && strcmp(v[0].value, "json") == 0;
	if (v[0].value && !json && strcmp(v[0].value, "table") != 0)
		return berth_error_set(err, EINVAL, "network ls: --format: expected table or json, not \"%s\"",
				       v[0].value);
	if (berth_engine_open(g, &paths, err) < 0 || network_list(&paths, &list, &n, err) < 0) {
		engine_paths_free(&paths);
		return 125;
	}
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, network_def_json(&list[i]));
		berth_print_json(arr);
		json_decref(arr);
	} else if (option_bool(&v[1])) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", list[i].name);
	} else {
		berth_table table = { .ncols = 4 };
		const char *head[] = { "NAME", "DRIVER", "BRIDGE", "SUBNET" };
		berth_table_add(&table, head);
		for (size_t i = 0; i < n; i++) {
			const char *row[] = { list[i].name, list[i].driver, list[i].bridge ? list[i].bridge : "-",
					      list[i].subnet ? list[i].subnet : "-" };
			berth_table_add(&table, row);
		}
		berth_table_print(&table);
	}
	for (size_t i = 0; i < n; i++)
		network_def_free(&list[i]);
	free(list);
	engine_paths_free(&paths);
	return 0;
}

/* Prints what was found, reports the rest, fails (as docker does). */
static int network_inspect_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { NULL, 0, false, NULL } };
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	json_t *arr;
	int npos, ret, status = 0;

	ret = berth_parse("network inspect", "network inspect NAME...", specs, argc, argv, false, v, &pos, &npos, 1, -1,
			  err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (berth_engine_open(g, &paths, err) < 0)
		return 125;
	arr = json_array();
	for (int i = 0; i < npos; i++) {
		berth_error *one = NULL;
		network_def d;
		if (network_load(&paths, pos[i], &d, &one) < 0) {
			berth_error_report("berth", &one);
			status = 1;
			continue;
		}
		json_array_append_new(arr, network_def_json(&d));
		network_def_free(&d);
	}
	berth_print_json(arr);
	json_decref(arr);
	engine_paths_free(&paths);
	return status;
}

static int network_rm_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { NULL, 0, false, NULL } };
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	int npos, ret, status = 0;

	ret = berth_parse("network rm", "network rm NAME...", specs, argc, argv, false, v, &pos, &npos, 1, -1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (berth_engine_open(g, &paths, err) < 0)
		return 125;
	for (int i = 0; i < npos; i++) {
		berth_error *one = NULL;
		if (network_remove(&paths, pos[i], &one) < 0) {
			berth_error_report("berth", &one);
			status = 1;
			continue;
		}
		printf("%s\n", pos[i]);
	}
	engine_paths_free(&paths);
	return status;
}

int cmd_network_prune(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { "force", 'f', false, "do not ask for confirmation" },
					     { NULL, 0, false, NULL } };
	option_value v[2] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	network_def *list = NULL;
	size_t n = 0;
	bool header = false;
	int npos, ret, status = 0;

	ret = berth_parse("network prune", "network prune [-f]", specs, argc, argv, false, v, &pos, &npos, 0, 0, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = berth_confirm("network prune", "This will remove all custom networks not used by at least one container.",
			    option_bool(&v[0]), err);
	if (ret <= 0)
		return ret < 0 ? 125 : 0;
	if (berth_engine_open(g, &paths, err) < 0 || network_list(&paths, &list, &n, err) < 0) {
		engine_paths_free(&paths);
		return 125;
	}
	for (size_t i = 0; i < n; i++) {
		berth_error *one = NULL;
		if (strcmp(list[i].name, NETWORK_DEFAULT) == 0)
			continue; /* docker's bridge network is never pruned */
		if (network_remove(&paths, list[i].name, &one) < 0) {
			if (one && one->code != EBUSY) {
				berth_error_report("berth", &one);
				status = 1;
			}
			berth_error_free(&one);
			continue;
		}
		if (!header)
			printf("Deleted Networks:\n");
		header = true;
		printf("%s\n", list[i].name);
	}
	for (size_t i = 0; i < n; i++)
		network_def_free(&list[i]);
	free(list);
	engine_paths_free(&paths);
	return status;
}

static const option_spec connect_specs[] = {
	{ "ip", 0, true, "the container's IPv4 address on the network" },
	{ NULL, 0, false, NULL },
};

/* connect and disconnect: NETWORK CONTAINER */
static int connect_or_disconnect(const berth_globals *g, int argc, char **argv, bool connect, berth_error **err)
{
	static const option_spec none[] = { { NULL, 0, false, NULL } };
	option_value v[2] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	container *c = NULL;
	int npos, ret;

	ret = berth_parse(connect ? "network connect" : "network disconnect",
			  connect ? "network connect [--ip IP] NETWORK CONTAINER"
				  : "network disconnect NETWORK CONTAINER",
			  connect ? connect_specs : none, argc, argv, false, v, &pos, &npos, 2, 2, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = berth_engine_open(g, &paths, err);
	if (ret == 0)
		ret = record_open(&paths, pos[1], &c, err);
	if (ret == 0)
		ret = connect ? engine_network_connect(&paths, c, pos[0], v[0].value, err)
			      : engine_network_disconnect(&paths, c, pos[0], err);
	container_free(c);
	engine_paths_free(&paths);
	options_free_values(v, 1);
	return ret < 0 ? 125 : 0;
}

static int network_connect_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return connect_or_disconnect(g, argc, argv, true, err);
}

static int network_disconnect_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return connect_or_disconnect(g, argc, argv, false, err);
}

static const berth_command network_commands[] = {
	{ "create", "network create [flags] NAME", "create a network", network_create_cmd },
	{ "ls", "network ls [--format table|json] [-q]", "list networks", network_ls_cmd },
	{ "list", "network list [--format table|json] [-q]", "list networks", network_ls_cmd },
	{ "inspect", "network inspect NAME...", "print networks as JSON", network_inspect_cmd },
	{ "rm", "network rm NAME...", "remove networks no container uses", network_rm_cmd },
	{ "remove", "network remove NAME...", "remove networks no container uses", network_rm_cmd },
	{ "prune", "network prune [-f]", "remove the networks no container uses", cmd_network_prune },
	{ "connect", "network connect [--ip IP] NETWORK CONTAINER", "join a container to a bridge network",
	  network_connect_cmd },
	{ "disconnect", "network disconnect NETWORK CONTAINER", "take a container off a network it joined",
	  network_disconnect_cmd },
	{ "service", "network service COMMAND", "ClusterIP and NodePort services (berth network service --help)",
	  cmd_network_service },
	{ NULL, NULL, NULL, NULL },
};

int cmd_network(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: berth network COMMAND [flags] ARGS\n\ncommands:\n");
		for (int i = 0; network_commands[i].name; i++)
			printf("   %-10s %s\n", network_commands[i].name, network_commands[i].summary);
		return argc < 1 ? 125 : 0;
	}
	for (int i = 0; network_commands[i].name; i++)
		if (strcmp(network_commands[i].name, argv[0]) == 0)
			return network_commands[i].run(g, argc - 1, argv + 1, err);
	return berth_error_set(err, 0, "network: unknown command \"%s\" (see berth network --help)", argv[0]);
}
