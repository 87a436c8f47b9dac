/* berth pod create / ls / rm / inspect: pods by hand, like podman's
 * (kube/pod_standalone.h); `berth run --pod NAME` puts containers in one.
 * ls and inspect show berth kube's pods too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/kube_cmd.h"
#include "kube/pod_standalone.h"
#include "kube/validate.h"
#include "util/cleanup.h"

static const option_spec create_specs[] = {
	{ "name", 0, true, "the pod's name (required)" },
	{ "hostname", 0, true, "the hostname of its containers (default: the pod's name)" },
	{ "publish", 'p', true, "[IP:][HOST:]CONTAINER[/PROTO] on the pod; repeatable" },
	{ "label", 'l', true, "KEY=VALUE on the pod's holder; repeatable" },
	{ "network", 0, true, "a network (default: the default one) or host" },
	{ "add-host", 0, true, "NAME:IP line for the pod's /etc/hosts; repeatable" },
	{ "dns", 0, true, "a nameserver for the pod's /etc/resolv.conf; repeatable" },
	{ "cgroup-parent", 0, true, "cgroup parent of the holder (as berth run's)" },
	{ NULL, 0, false, NULL },
};

static int pod_create(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[9] = { 0 };
	_cleanup_free_ char **pos = NULL;
	kube_standalone_options o = { 0 };
	kube_cli cli;
	int npos, ret;

	ret = berth_parse("pod create", "pod create --name NAME [-p PORT]... [--hostname H]", create_specs, argc, argv,
			  false, v, &pos, &npos, 0, 0, err);
	if (ret == 0 && (v[0].value == NULL || !kube_is_dns1123_label(v[0].value)))
		ret = berth_error_request(err, EINVAL, "pod create: --name NAME ([a-z0-9-], at most 63) is required");
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		o.name = v[0].value;
		o.hostname = v[1].value;
		o.publish = v[2].all;
		o.labels = v[3].all;
		o.network = v[4].value;
		o.add_hosts = v[5].all;
		o.dns = v[6].all;
		if (v[7].value)
			cli.k.cgroup_parent = v[7].value;
		ret = kube_standalone_create(&cli.k, &o, err);
		if (ret == 0)
			printf("%s\n", o.name);
		kube_cli_close(&cli);
	}
	options_free_values(v, 8);
	return ret < 0 ? 125 : 0;
}

static const char *pod_status(json_t *p)
{
	json_t *infra = json_object_get(p, "infra"), *c;
	size_t i;

	if (json_is_null(infra) || infra == NULL)
		return "Degraded";
	if (strcmp(json_string_value(json_object_get(infra, "status")) ?: "", "running") != 0)
		return "Exited";
	json_array_foreach(json_object_get(p, "containers"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "status")) ?: "", "running") != 0)
			return "Degraded";
	return "Running";
}

static const option_spec ls_specs[] = {
	{ "format", 0, true, "table (default) or json" },
	{ "quiet", 'q', false, "names only" },
	{ NULL, 0, false, NULL },
};

static int pod_ls(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	json_t *pods = NULL, *p;
	kube_cli cli;
	size_t i;
	int npos, ret;

	ret = berth_parse("pod ls", "pod ls [-q] [--format table|json]", ls_specs, argc, argv, false, v, &pos, &npos, 0,
			  0, err);
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		ret = kube_standalone_list(&cli.k, &pods, err);
		kube_cli_close(&cli);
	}
	if (ret == 0 && v[0].value && strcmp(v[0].value, "json") == 0) {
		kube_cli_print(pods, "json");
	} else if (ret == 0) {
		if (!option_bool(&v[1]))
			printf("%-30s %-12s %-10s %-22s %-14s %s\n", "NAME", "NAMESPACE", "STATUS", "CREATED",
			       "INFRA ID", "# OF CONTAINERS");
		json_array_foreach(pods, i, p) {
			json_t *infra = json_object_get(p, "infra");
			char age[64];
			if (option_bool(&v[1])) {
				printf("%s\n", json_string_value(json_object_get(p, "name")));
				continue;
			}
			printf("%-30s %-12s %-10s %-22s %-14.12s %zu\n", json_string_value(json_object_get(p, "name")),
			       json_string_value(json_object_get(p, "namespace")) ?: "-", pod_status(p),
			       berth_human_since(json_string_value(json_object_get(infra, "created")), age),
			       json_string_value(json_object_get(infra, "id")) ?: "-",
			       json_array_size(json_object_get(p, "containers")) + (json_is_object(infra) ? 1 : 0));
		}
	}
	json_decref(pods);
	options_free_values(v, 2);
	return ret < 0 ? 125 : 0;
}

static const option_spec rm_specs[] = {
	{ "force", 'f', false, "stop running containers first" },
	{ "time", 't', true, "seconds to wait for each to stop (default 10)" },
	{ NULL, 0, false, NULL },
};

static int pod_rm(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	kube_cli cli;
	int npos, ret, failed = 0;

	ret = berth_parse("pod rm", "pod rm [-f] [-t SECONDS] POD...", rm_specs, argc, argv, false, v, &pos, &npos, 1,
			  -1, err);
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		for (int i = 0; i < npos; i++) {
			berth_error *e = NULL;
			if (kube_standalone_remove(&cli.k, pos[i], option_bool(&v[0]),
						   v[1].value ? atoi(v[1].value) : 10, &e) < 0) {
				berth_error_report("berth", &e);
				failed = 1;
			} else {
				printf("%s\n", pos[i]);
			}
		}
		kube_cli_close(&cli);
	}
	options_free_values(v, 2);
	return ret < 0 ? 125 : failed;
}

static const option_spec no_specs[] = {
	{ NULL, 0, false, NULL },
};

static int pod_inspect(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	json_t *pods = NULL, *out = json_array(), *p;
	kube_cli cli;
	size_t i;
	int npos, ret;

	ret = berth_parse("pod inspect", "pod inspect POD...", no_specs, argc, argv, false, v, &pos, &npos, 1, -1, err);
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		ret = kube_standalone_list(&cli.k, &pods, err);
		kube_cli_close(&cli);
	}
	for (int n = 0; ret == 0 && n < npos; n++) {
		bool found = false;
		json_array_foreach(pods, i, p)
			if (strcmp(json_string_value(json_object_get(p, "name")), pos[n]) == 0) {
				json_array_append(out, p);
				found = true;
			}
		if (!found)
			ret = berth_error_request(err, ENOENT, "no such pod: %s", pos[n]);
	}
	if (ret == 0)
		kube_cli_print(out, "json");
	json_decref(out);
	json_decref(pods);
	return ret < 0 ? 125 : 0;
}

static const berth_command pod_commands[] = {
	{ "create", "pod create --name NAME [-p PORT]...", "make a pod (its holder)", pod_create },
	{ "ls", "pod ls [-q] [--format table|json]", "list pods (berth pod's and berth kube's)", pod_ls },
	{ "ps", "pod ps", "list pods (pod ls)", pod_ls },
	{ "list", "pod list", "list pods (pod ls)", pod_ls },
	{ "rm", "pod rm [-f] POD...", "remove pods and their containers", pod_rm },
	{ "inspect", "pod inspect POD...", "pods as JSON", pod_inspect },
	{ NULL, NULL, NULL, NULL },
};

int cmd_pod(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: berth pod COMMAND [flags] ARGS\n\ncommands:\n");
		for (int i = 0; pod_commands[i].name; i++)
			printf("   %-10s %s\n", pod_commands[i].name, pod_commands[i].summary);
		return argc < 1 ? 125 : 0;
	}
	for (int i = 0; pod_commands[i].name; i++)
		if (strcmp(pod_commands[i].name, argv[0]) == 0)
			return pod_commands[i].run(g, argc - 1, argv + 1, err);
	return berth_error_set(err, 0, "pod: unknown command \"%s\" (see berth pod --help)", argv[0]);
}
