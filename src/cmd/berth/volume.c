/* berth volume COMMAND: create, ls, inspect, rm and prune named volumes
 * (storage/volume.h), with docker's output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/commands.h"
#include "storage/volume.h"
#include "util/cleanup.h"

static const option_spec create_specs[] = {
	{ "label", 'l', true, "set a label KEY=VALUE (repeatable)" },
	{ "driver", 'd', true, "volume driver (only \"local\")" },
	{ "opt", 'o', true, "driver option: type=tmpfs [o=size=64m], or type=none o=bind device=/DIR (repeatable)" },
	{ NULL, 0, false, NULL },
};

enum { C_LABEL, C_DRIVER, C_OPT, C_COUNT };

static int volume_create_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[C_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	volume_info info = { 0 };
	int npos, ret;

	ret = berth_parse("volume create", "volume create [--label KEY=VALUE]... [--opt K=V]... [NAME]", create_specs,
			  argc, argv, false, v, &pos, &npos, 0, 1, err);
	if (ret != 0) {
		options_free_values(v, C_COUNT);
		return ret < 0 ? 125 : 0;
	}
	if (v[C_DRIVER].value && strcmp(v[C_DRIVER].value, VOLUME_DRIVER_LOCAL) != 0)
		ret = berth_error_set(err, EINVAL, "volume create: driver \"%s\" is not supported (only \"local\")",
				      v[C_DRIVER].value);
	else
		ret = volume_create_with_options(g->store_root, npos ? pos[0] : NULL, v[C_LABEL].all, v[C_OPT].all,
						 false, &info, err);
	options_free_values(v, C_COUNT);
	if (ret < 0)
		return 125;
	printf("%s\n", info.name);
	volume_info_free(&info);
	return 0;
}

static const option_spec ls_specs[] = {
	{ "format", 0, true, "table (default) or json" },
	{ "quiet", 'q', false, "print volume names only" },
	{ NULL, 0, false, NULL },
};

enum { L_FORMAT, L_QUIET, L_COUNT };

static int volume_ls_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[L_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	volume_info *list = NULL;
	size_t n = 0;
	int npos, ret;
	bool json;

	ret = berth_parse("volume ls", "volume ls [--format table|json] [-q]", ls_specs, argc, argv, false, v, &pos,
			  &npos, 0, 0, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	json = v[L_FORMAT].value && strcmp(v[L_FORMAT].value, "json") == 0;
	if (v[L_FORMAT].value && !json && strcmp(v[L_FORMAT].value, "table") != 0)
		return berth_error_set(err, EINVAL, "volume ls: --format: expected table or json, not \"%s\"",
				       v[L_FORMAT].value);
	if (volume_list(g->store_root, &list, &n, err) < 0)
		return 125;
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, volume_info_to_json(&list[i]));
		berth_print_json(arr);
		json_decref(arr);
	} else {
		bool q = option_bool(&v[L_QUIET]);
		if (!q)
			printf("%-10s%s\n", "DRIVER", "VOLUME NAME");
		for (size_t i = 0; i < n; i++) {
			if (q)
				printf("%s\n", list[i].name);
			else
				printf("%-10s%s\n", list[i].driver, list[i].name);
		}
	}
	volume_list_free(list, n);
	return 0;
}

static int volume_inspect_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	json_t *arr;
	int npos, ret, status = 0;

	static const option_spec specs[] = { { NULL, 0, false, NULL } };
	ret = berth_parse("volume inspect", "volume inspect NAME...", specs, argc, argv, false, v, &pos, &npos, 1, -1,
			  err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	arr = json_array();
	/* like docker: print what was found, report the rest, fail */
	for (int i = 0; i < npos; i++) {
		berth_error *one = NULL;
		volume_info info = { 0 };
		if (volume_inspect(g->store_root, pos[i], &info, &one) < 0) {
			berth_error_report("berth", &one);
			status = 1;
			continue;
		}
		json_array_append_new(arr, volume_info_to_json(&info));
		volume_info_free(&info);
	}
	berth_print_json(arr);
	json_decref(arr);
	return status;
}

static const option_spec rm_specs[] = {
	{ "force", 'f', false, "a missing volume is not an error" },
	{ NULL, 0, false, NULL },
};

static int volume_rm_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[2] = { 0 };
	_cleanup_free_ char **pos = NULL;
	int npos, ret, status = 0;

	ret =
	    berth_parse("volume rm", "volume rm [-f] NAME...", rm_specs, argc, argv, false, v, &pos, &npos, 1, -1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	for (int i = 0; i < npos; i++) {
		berth_error *one = NULL;
		if (volume_remove(g->store_root, pos[i], option_bool(&v[0]), &one) < 0) {
			berth_error_report("berth", &one);
			status = 1;
			continue;
		}
		printf("%s\n", pos[i]);
	}
	return status;
}

static const option_spec prune_specs[] = {
	{ "all", 'a', false, "remove unused named volumes too, not only anonymous ones" },
	{ "force", 'f', false, "do not ask for confirmation" },
	{ NULL, 0, false, NULL },
};

static int volume_prune_cmd(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_strv_ char **removed = NULL;
	uint64_t reclaimed = 0;
	char size[32];
	int npos, ret;

	ret = berth_parse("volume prune", "volume prune [--all] [-f]", prune_specs, argc, argv, false, v, &pos, &npos,
			  0, 0, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret =
	    berth_confirm("volume prune",
			  option_bool(&v[0]) ? "This will remove all unused volumes."
					     : "This will remove anonymous volumes not used by at least one container.",
			  option_bool(&v[1]), err);
	if (ret <= 0)
		return ret < 0 ? 125 : 0;
	ret = volume_prune(g->store_root, option_bool(&v[0]), &removed, &reclaimed, err);
	if (removed && removed[0]) {
		printf("Deleted Volumes:\n");
		for (char **r = removed; *r; r++)
			printf("%s\n", *r);
		printf("\n");
	}
	printf("Total reclaimed space: %s\n", berth_human_size((int64_t)reclaimed, size));
	return ret < 0 ? 125 : 0;
}

static const berth_command volume_commands[] = {
	{ "create", "volume create [--label KEY=VALUE]... [NAME]", "create a volume", volume_create_cmd },
	{ "ls", "volume ls [--format table|json] [-q]", "list volumes", volume_ls_cmd },
	{ "list", "volume list [--format table|json] [-q]", "list volumes", volume_ls_cmd },
	{ "inspect", "volume inspect NAME...", "print volumes as JSON", volume_inspect_cmd },
	{ "rm", "volume rm [-f] NAME...", "remove volumes no container uses", volume_rm_cmd },
	{ "remove", "volume remove [-f] NAME...", "remove volumes no container uses", volume_rm_cmd },
	{ "prune", "volume prune [--all] [-f]", "remove unused anonymous volumes (--all: named ones too)",
	  volume_prune_cmd },
	{ NULL, NULL, NULL, NULL },
};

int cmd_volume(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: berth volume COMMAND [flags] ARGS\n\ncommands:\n");
		for (int i = 0; volume_commands[i].name; i++)
			printf("   %-10s %s\n", volume_commands[i].name, volume_commands[i].summary);
		return argc < 1 ? 125 : 0;
	}
	for (int i = 0; volume_commands[i].name; i++)
		if (strcmp(volume_commands[i].name, argv[0]) == 0)
			return volume_commands[i].run(g, argc - 1, argv + 1, err);
	return berth_error_set(err, 0, "volume: unknown command \"%s\" (see berth volume --help)", argv[0]);
}
