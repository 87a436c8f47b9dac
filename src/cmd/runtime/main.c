/* berth-runtime: an OCI runtime with runc's command line. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd/runtime/commands.h"
#include "runtime/exe_guard.h"
#include "runtime/namespaces.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/log.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

static const command commands[] = {
	{ "create", "create [flags] ID", "create a container (stopped before the process execs)", cmd_create },
	{ "start", "start ID", "start the process of a created container", cmd_start },
	{ "run", "run [flags] ID", "create and start a container, and wait unless --detach", cmd_run },
	{ "state", "state ID", "print the state of a container as JSON", cmd_state },
	{ "kill", "kill [--all] ID [SIGNAL]", "send a signal (default SIGTERM) to the container", cmd_kill },
	{ "delete", "delete [--force] ID", "delete a stopped container and its resources", cmd_delete },
	{ "exec", "exec [flags] ID COMMAND [ARGS...]", "run a new process in a running container", cmd_exec },
	{ "ps", "ps [--format table|json] ID", "list the processes of a container", cmd_ps },
	{ "pause", "pause ID", "freeze every process of a container", cmd_pause },
	{ "resume", "resume ID", "thaw a paused container", cmd_resume },
	{ "update", "update [flags] ID", "change the resource limits of a container", cmd_update },
	{ "events", "events [--stats] ID", "print cgroup statistics as JSON", cmd_events },
	{ "list", "list [--format table|json] [-q]", "list the containers of --root", cmd_list },
	{ "spec", "spec [--rootless] [--bundle DIR]", "write a default config.json", cmd_spec },
	{ "features", "features", "print the features of this runtime as JSON", cmd_features },
	{ NULL, NULL, NULL, NULL },
};

static const option_spec global_options[] = {
	{ "root", 0, true, "state directory (default /run/berth-runtime, rootless $XDG_RUNTIME_DIR/berth-runtime)" },
	{ "log", 0, true, "log file (default stderr)" },
	{ "log-format", 0, true, "log format: text or json" },
	{ "debug", 0, false, "log debug messages" },
	{ "systemd-cgroup", 0, false, "cgroupsPath uses systemd's slice:prefix:name form" },
	{ "rootless", 0, true, "true, false or auto (default: auto, rootless when not root)" },
	{ "criu", 0, true, "accepted for runc compatibility; checkpointing is not supported" },
	{ "help", 'h', false, "show help" },
	{ "version", 'v', false, "print the version" },
	{ NULL, 0, false, NULL },
};

enum { G_ROOT, G_LOG, G_LOG_FORMAT, G_DEBUG, G_SYSTEMD, G_ROOTLESS, G_CRIU, G_HELP, G_VERSION };

static void print_usage(void)
{
	printf("usage: berth-runtime [global flags] COMMAND [flags] ARGS\n\nberth-runtime is an OCI runtime "
	       "(runtime-spec 1.3), a drop-in for runc and crun.\n\ncommands:\n");
	for (int i = 0; commands[i].name; i++)
		printf("   %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\nglobal flags:\n");
	options_print_help(global_options);
}

/* Like runc: uid 0 in a user namespace (rootless podman runs the runtime in
 * its own) is rootless too; there the state goes below $XDG_RUNTIME_DIR
 * unless USER says root (runc's shouldHonorXDGRuntimeDir). */
static bool honor_xdg_runtime_dir(bool rootless)
{
	const char *user = getenv("USER");

	if (!rootless || getenv("XDG_RUNTIME_DIR") == NULL)
		return false;
	return geteuid() != 0 || user == NULL || strcmp(user, "root") != 0;
}

static int parse_rootless(const char *value, bool *out, berth_error **err)
{
	if (value == NULL || strcmp(value, "auto") == 0)
		*out = geteuid() != 0 || namespaces_in_user_namespace();
	else if (strcmp(value, "true") == 0)
		*out = true;
	else if (strcmp(value, "false") == 0)
		*out = false;
	else
		return berth_error_set(err, EINVAL, "--rootless: expected true, false or auto, not \"%s\"", value);
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *root = NULL;
	option_value values[sizeof(global_options) / sizeof(global_options[0])] = { 0 };
	runtime_globals g = { 0 };
	int first = 1, ret;
	uint32_t seed = 0;

	/* jansson's hash seed from one getrandom instead of its own open, read
	 * and close of /dev/urandom */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed) && seed != 0)
		json_object_seed(seed);

	/* global flags come before the command */
	while (first < argc && argv[first][0] == '-' && strcmp(argv[first], "--") != 0) {
		const char *arg = argv[first];
		const char *name = arg + (arg[1] == '-' ? 2 : 1);
		bool takes = false;
		for (int i = 0; global_options[i].name; i++)
			if (strncmp(name, global_options[i].name, strlen(global_options[i].name)) == 0 &&
			    (name[strlen(global_options[i].name)] == '\0' ||
			     name[strlen(global_options[i].name)] == '='))
				takes = global_options[i].takes_value && strchr(name, '=') == NULL;
		first += takes ? 2 : 1;
	}
	if (first > argc)
		first = argc;
	{
		char **pos = NULL;
		int npos = 0;
		ret = options_parse("berth-runtime", global_options, first - 1, argv + 1, false, values, &pos, &npos,
				    &err);
		/* only the values are read below: they point into argv */
		options_free_values(values, (int)(sizeof(values) / sizeof(values[0])));
		free(pos);
		if (ret < 0) {
			berth_error_report("berth-runtime", &err);
			return 1;
		}
	}
	if (option_bool(&values[G_VERSION])) {
		printf("berth-runtime version %s\nspec: 1.3.0\n", BERTH_VERSION);
		return 0;
	}
	if (option_bool(&values[G_HELP]) || first >= argc) {
		print_usage();
		return first >= argc && !option_bool(&values[G_HELP]) ? 1 : 0;
	}
	{
		enum berth_log_format fmt = BERTH_LOG_FORMAT_TEXT;
		const char *f = values[G_LOG_FORMAT].value;
		if (f && strcmp(f, "json") == 0)
			fmt = BERTH_LOG_FORMAT_JSON;
		else if (f && strcmp(f, "text") != 0) {
			fprintf(stderr, "berth-runtime: --log-format: expected text or json, not \"%s\"\n", f);
			return 1;
		}
		if (berth_log_init(values[G_LOG].value, fmt, option_bool(&values[G_DEBUG])) < 0) {
			fprintf(stderr, "berth-runtime: open log \"%s\": %s\n", values[G_LOG].value, strerror(errno));
			return 1;
		}
	}
	/* The commands that put runtime processes into a container run from
	 * a binary the container cannot write (CVE-2019-5736); create and run
	 * decide once the config is read (the init may seal itself). */
	if (geteuid() == 0 && (strcmp(argv[first], "create") == 0 || strcmp(argv[first], "run") == 0))
		g.exe_guard_argv = argv;
	if (geteuid() == 0 && strcmp(argv[first], "exec") == 0) {
		if (exe_guard_seal_self(argv, &err) < 0) {
			berth_error_report("berth-runtime", &err);
			return 1;
		}
	}
	if (parse_rootless(values[G_ROOTLESS].value, &g.rootless, &err) < 0) {
		berth_error_report("berth-runtime", &err);
		return 1;
	}
	root = values[G_ROOT].value
		   ? strdup(values[G_ROOT].value)
		   : state_default_root(g.rootless && (geteuid() != 0 || honor_xdg_runtime_dir(g.rootless)));
	g.root = root;
	g.systemd_cgroup = option_bool(&values[G_SYSTEMD]);
	g.cgroup_fs_root = getenv("BERTH_CGROUP_ROOT") ? getenv("BERTH_CGROUP_ROOT") : "/sys/fs/cgroup";
	for (int i = 0; commands[i].name; i++) {
		if (strcmp(commands[i].name, argv[first]) != 0)
			continue;
		berth_debug("command %s", commands[i].name);
		ret = commands[i].run(&g, argc - first - 1, argv + first + 1, &err);
		if (err != NULL) {
			berth_error_report("berth-runtime", &err);
			return ret == 0 ? 1 : ret;
		}
		return ret;
	}
	berth_error_set(&err, 0, "unknown command \"%s\" (see \"berth-runtime --help\")", argv[first]);
	berth_error_report("berth-runtime", &err);
	return 1;
}
