/* berth container SUBCOMMAND: the container commands under one name
 * (berth container ls|ps|run|create|start|stop|kill|restart|rm|logs|wait|
 * inspect|exec|prune), plus the helpers they share. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd/berth/engine_cmd.h"
#include "util/cleanup.h"

int berth_engine_open(const berth_globals *g, engine_paths *p, berth_error **err)
{
	return engine_paths_init(p, g->store_root, g->run_root, err);
}

int berth_for_each_container(const engine_paths *p, char **names, int n, berth_container_fn fn, void *arg)
{
	int failed = 0;

	for (int i = 0; i < n; i++) {
		berth_error *err = NULL;
		container *c = NULL;
		if (record_open(p, names[i], &c, &err) < 0 || fn(p, c, arg, &err) < 0) {
			berth_error_report("berth", &err);
			failed = 1;
		}
		container_free(c);
	}
	return failed;
}

static const option_spec *short_spec(const option_spec *specs, char c)
{
	for (int i = 0; specs[i].name; i++)
		if (specs[i].short_name == c)
			return &specs[i];
	return NULL;
}

/* Whether ARG is a group of short flags of SPECS. */
static bool is_group(const option_spec *specs, const char *arg)
{
	if (arg[0] != '-' || arg[1] == '-' || arg[1] == '\0' || arg[2] == '\0')
		return false;
	for (const char *c = arg + 1; *c; c++) {
		const option_spec *s = short_spec(specs, *c);
		if (s == NULL || (s->takes_value && c[1] != '\0'))
			return false;
	}
	return true;
}

/* Whether ARG is a flag whose value is the next argument. */
static bool flag_takes_next(const option_spec *specs, const char *arg)
{
	const char *name = arg + (arg[1] == '-' ? 2 : 1);

	if (arg[0] != '-' || strchr(arg, '='))
		return false;
	if (arg[1] != '-' && arg[2] == '\0')
		return short_spec(specs, arg[1]) && short_spec(specs, arg[1])->takes_value;
	for (int i = 0; specs[i].name; i++)
		if (strcmp(specs[i].name, name) == 0)
			return specs[i].takes_value;
	return false;
}

char **berth_expand_short_flags(const option_spec *specs, int argc, char **argv, bool stop_at_positional, int *out_argc)
{
	static char flags[128][3];
	char **out = calloc((size_t)argc * 8 + 1, sizeof(char *));
	bool done = false;
	int n = 0;

	if (out == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		bool is_value = i > 0 && flag_takes_next(specs, argv[i - 1]);
		if (!done && !is_value && (strcmp(argv[i], "--") == 0 || (stop_at_positional && argv[i][0] != '-')))
			done = true;
		if (done || is_value || !is_group(specs, argv[i])) {
			out[n++] = argv[i];
			continue;
		}
		for (const char *c = argv[i] + 1; *c; c++) {
			unsigned char k = (unsigned char)*c & 127;
			flags[k][0] = '-';
			flags[k][1] = (char)k;
			out[n++] = flags[k];
		}
	}
	*out_argc = n;
	return out;
}

int berth_parse_grouped(const char *name, const char *usage, const option_spec *specs, int argc, char **argv,
			bool stop_at_positional, option_value *values, char ***pos, int *npos, int min_pos, int max_pos,
			char ***keep, berth_error **err)
{
	*keep = berth_expand_short_flags(specs, argc, argv, stop_at_positional, &argc);
	if (*keep == NULL)
		return berth_error_set(err, ENOMEM, "%s", name);
	return berth_parse(name, usage, specs, argc, *keep, stop_at_positional, values, pos, npos, min_pos, max_pos,
			   err);
}

static const struct {
	const char *name;
	int (*run)(const berth_globals *g, int argc, char **argv, berth_error **err);
} subcommands[] = {
	{ "ls", cmd_ps },	    { "ps", cmd_ps },		{ "list", cmd_ps },
	{ "run", cmd_run },	    { "create", cmd_create },	{ "start", cmd_start },
	{ "stop", cmd_stop },	    { "kill", cmd_kill },	{ "pause", cmd_pause },
	{ "unpause", cmd_unpause }, { "restart", cmd_restart }, { "rm", cmd_rm },
	{ "remove", cmd_rm },	    { "logs", cmd_logs },	{ "wait", cmd_wait },
	{ "inspect", cmd_inspect }, { "exec", cmd_exec },	{ "prune", cmd_container_prune },
	{ "attach", cmd_attach },   { "port", cmd_port },	{ "rename", cmd_rename },
	{ "update", cmd_update },   { "top", cmd_top },		{ "stats", cmd_stats },
	{ "cp", cmd_cp },	    { "commit", cmd_commit },	{ "diff", cmd_diff },
	{ "export", cmd_export },
};

int cmd_container(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: berth container COMMAND\n\ncommands:");
		for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
			printf(" %s", subcommands[i].name);
		printf("\n");
		return argc < 1 ? 125 : 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(subcommands[i].name, argv[0]) == 0)
			return subcommands[i].run(g, argc - 1, argv + 1, err);
	berth_error_set(err, EINVAL, "container: unknown command \"%s\"", argv[0]);
	return 125;
}
