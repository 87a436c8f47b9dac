/* berth: the container engine people type (images now; containers,
 * networks and pods as they land). Daemonless: every command does its work
 * and exits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/berth/commands.h"
#include "engine/runtime_call.h"
#include "engine/userns.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proctitle.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

static const berth_command commands[] = {
	{ "image", "image COMMAND", "manage images (berth image --help)", cmd_image },
	{ "pull", "pull [flags] IMAGE", "pull an image from a registry", cmd_pull },
	{ "push", "push [flags] IMAGE [DESTINATION]", "push an image to a registry", cmd_push },
	{ "images", "images [flags]", "list images (image ls)", cmd_image_ls },
	{ "tag", "tag IMAGE NAME...", "add names to an image (image tag)", cmd_image_tag },
	{ "rmi", "rmi [--force] IMAGE...", "remove images (image rm)", cmd_image_rm },
	{ "load", "load [-i FILE]", "load images from a docker or OCI archive (image load)", cmd_load },
	{ "save", "save [flags] IMAGE...", "write images to an archive (image save)", cmd_save },
	{ "import", "import [flags] TARBALL [NAME]", "make an image from a rootfs tarball", cmd_import },
	{ "build", "build [flags] CONTEXT|-", "build an image from a Containerfile (image build)", cmd_build },
	{ "login", "login [flags] REGISTRY", "store credentials for a registry", cmd_login },
	{ "logout", "logout [--all] [REGISTRY]", "remove stored credentials", cmd_logout },
	{ "bundle", "bundle IMAGE DIR | bundle --remove DIR", "mount an image as an OCI bundle for berth-runtime",
	  cmd_bundle },
	{ "volume", "volume COMMAND", "manage volumes (berth volume --help)", cmd_volume },
	{ "network", "network COMMAND", "manage networks (berth network --help)", cmd_network },
	{ "unshare", "unshare [COMMAND...]", "run a command in the rootless user namespace", cmd_unshare },
	{ "container", "container COMMAND", "manage containers (berth container --help)", cmd_container },
	{ "run", "run [flags] IMAGE [COMMAND...]", "run a command in a new container", cmd_run },
	{ "create", "create [flags] IMAGE [COMMAND...]", "create a container without starting it", cmd_create },
	{ "start", "start [-a] CONTAINER...", "start created or stopped containers", cmd_start },
	{ "ps", "ps [-a] [-q] [--format table|json] [--no-trunc]", "list containers", cmd_ps },
	{ "logs", "logs [-f] [--tail N] [--since T] [-t] CONTAINER", "show a container's output", cmd_logs },
	{ "cp", "cp [-a] [-L] CONTAINER:SRC DEST|- | cp [-a] [-L] SRC|- CONTAINER:DEST",
	  "copy files between a container and the host", cmd_cp },
	{ "stop", "stop [-t SECONDS] CONTAINER...", "stop containers (signal, then SIGKILL)", cmd_stop },
	{ "kill", "kill [-s SIGNAL] CONTAINER...", "send a signal to containers", cmd_kill },
	{ "pause", "pause CONTAINER...", "freeze every process of containers", cmd_pause },
	{ "unpause", "unpause CONTAINER...", "thaw paused containers", cmd_unpause },
	{ "restart", "restart [-t SECONDS] CONTAINER...", "stop and start containers", cmd_restart },
	{ "rm", "rm [-f] [-v] CONTAINER...", "remove containers", cmd_rm },
	{ "wait", "wait CONTAINER...", "wait for containers to stop; prints exit codes", cmd_wait },
	{ "inspect", "inspect CONTAINER...", "container details as JSON", cmd_inspect },
	{ "exec", "exec [flags] CONTAINER COMMAND...", "run a command in a running container", cmd_exec },
	{ "top", "top CONTAINER [ps OPTIONS]", "show the processes of a container", cmd_top },
	{ "stats", "stats [--no-stream] [--format table|json] [C...]", "containers' resource use", cmd_stats },
	{ "attach", "attach [--detach-keys KEYS] [--no-stdin] CONTAINER", "attach to a running container's terminal",
	  cmd_attach },
	{ "port", "port CONTAINER [PRIVATE_PORT[/PROTO]]", "list a container's published ports", cmd_port },
	{ "rename", "rename CONTAINER NEW_NAME", "rename a container", cmd_rename },
	{ "update", "update [--memory M] [--cpus N] [--pids-limit N] CONTAINER...",
	  "change the resource limits of containers", cmd_update },
	{ "events", "events [--since T] [--until T] [-f K=V] [--format F]", "container events, then follow them",
	  cmd_events },
	{ "info", "info [-f FORMAT]", "the engine, its store and the host", cmd_info },
	{ "version", "version [-f FORMAT]", "berth's version", cmd_version },
	{ "commit", "commit [-m MSG] [-a AUTHOR] [-c CHANGE] CONTAINER [IMAGE]",
	  "make an image of a container's changes", cmd_commit },
	{ "diff", "diff CONTAINER", "a container's changed files (A added, C changed, D deleted)", cmd_diff },
	{ "export", "export [-o FILE] CONTAINER", "a container's filesystem as a tar", cmd_export },
	{ "history", "history [--no-trunc] [--format json] IMAGE", "an image's layers and history (image history)",
	  cmd_image_history },
	{ "builder", "builder prune [-a] [-f] [--filter until=T]", "manage the build cache (berth builder --help)",
	  cmd_builder },
	{ "system", "system df|prune|info", "disk use, pruning, information (berth system --help)", cmd_system },
	{ "kube", "kube COMMAND", "Pods and Deployments from Kubernetes YAML (berth kube --help)", cmd_kube },
	{ "pod", "pod COMMAND", "pods by hand: create, ls, rm, inspect (berth pod --help)", cmd_pod },
	{ NULL, NULL, NULL, NULL },
};

static const option_spec global_options[] = {
	{ "root", 0, true, "image store (default /var/lib/berth, rootless $XDG_DATA_HOME/berth)" },
	{ "runroot", 0, true, "run-time state (default /run/berth, rootless $XDG_RUNTIME_DIR/berth)" },
	{ "log-level", 0, true, "error, warn, info or debug" },
	{ "debug", 0, false, "log debug messages (--log-level debug)" },
	{ "help", 'h', false, "show help" },
	{ "version", 'v', false, "print the version" },
	{ NULL, 0, false, NULL },
};

enum { G_ROOT, G_RUNROOT, G_LOG_LEVEL, G_DEBUG, G_HELP, G_VERSION, G_COUNT };

static void print_usage(void)
{
	printf("usage: berth [global flags] COMMAND [flags] ARGS\n\nberth is a daemonless container engine.\n\n"
	       "commands:\n");
	for (int i = 0; commands[i].name; i++)
		printf("   %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\nglobal flags:\n");
	options_print_help(global_options);
}

static char *default_dir(bool rootless, const char *xdg_var, const char *home_suffix, const char *root_dir)
{
	const char *xdg = getenv(xdg_var), *home = getenv("HOME");
	char *out = NULL;

	if (!rootless)
		return strdup(root_dir);
	if (xdg && xdg[0] == '/')
		return asprintf(&out, "%s/berth", xdg) < 0 ? NULL : out;
	if (home_suffix && home && home[0] == '/')
		return asprintf(&out, "%s/%s/berth", home, home_suffix) < 0 ? NULL : out;
	return asprintf(&out, "/tmp/berth-%u", (unsigned)geteuid()) < 0 ? NULL : out;
}

/* --root and --runroot as given, made absolute: the store's paths go into
 * bundles, records and monitors that run from other directories. */
static char *absolute_path(const char *path)
{
	_cleanup_free_ char *cwd = NULL;
	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	return cwd ? fs_path_join(cwd, path) : NULL;
}

int main(int argc, char **argv)
{
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *store_root = NULL, *run_root = NULL;
	option_value values[G_COUNT + 1] = { 0 };
	berth_globals g = { 0 };
	char **pos = NULL;
	int npos = 0, first = 1, ret;

	proctitle_init(argc, argv);
	/* before a monitor forked from here seals itself, which changes
	 * /proc/self/exe */
	engine_exe_dir();

	/* global flags come before the command */
	while (first < argc && argv[first][0] == '-' && strcmp(argv[first], "--") != 0) {
		const char *name = argv[first] + (argv[first][1] == '-' ? 2 : 1);
		bool takes = false;
		for (int i = 0; global_options[i].name; i++) {
			size_t l = strlen(global_options[i].name);
			if (strncmp(name, global_options[i].name, l) == 0 && (name[l] == '\0' || name[l] == '='))
				takes = global_options[i].takes_value && name[l] == '\0';
		}
		first += takes ? 2 : 1;
	}
	if (first > argc)
		first = argc;
	berth_log_set_program("berth");
	if (options_parse("berth", global_options, first - 1, argv + 1, false, values, &pos, &npos, &err) < 0) {
		options_free_values(values, G_COUNT);
		berth_error_report("berth", &err);
		return 125;
	}
	free(pos);
	if (option_bool(&values[G_VERSION]) || option_bool(&values[G_HELP]) || first >= argc)
		options_free_values(values, G_COUNT); /* only the booleans below are read */
	if (option_bool(&values[G_VERSION])) {
		printf("berth version %s\n", BERTH_VERSION);
		return 0;
	}
	if (option_bool(&values[G_HELP]) || first >= argc) {
		print_usage();
		return first >= argc && !option_bool(&values[G_HELP]) ? 125 : 0;
	}
	{
		const char *lvl = values[G_LOG_LEVEL].value;
		bool debug = option_bool(&values[G_DEBUG]) || (lvl && strcmp(lvl, "debug") == 0);
		berth_log_set_program("berth");
		berth_log_init(NULL, BERTH_LOG_FORMAT_TEXT, debug);
		g.debug = debug;
	}
	g.rootless = engine_rootless();
	store_root = values[G_ROOT].value ? absolute_path(values[G_ROOT].value)
					  : default_dir(g.rootless, "XDG_DATA_HOME", ".local/share", "/var/lib/berth");
	run_root = values[G_RUNROOT].value ? absolute_path(values[G_RUNROOT].value)
					   : default_dir(g.rootless, "XDG_RUNTIME_DIR", NULL, "/run/berth");
	if (!store_root || !run_root) {
		fprintf(stderr, "berth: out of memory\n");
		return 125;
	}
	g.store_root = store_root;
	g.run_root = run_root;
	options_free_values(values, G_COUNT);

	for (int i = 0; commands[i].name; i++) {
		if (strcmp(commands[i].name, argv[first]) != 0)
			continue;
		/* credentials stay the user's own; everything else runs as root
		 * of the user's namespace (engine/userns.h) */
		if (g.rootless && strcmp(argv[first], "login") != 0 && strcmp(argv[first], "logout") != 0 &&
		    engine_userns_join(g.run_root, g.store_root, &err) < 0) {
			berth_error_report("berth", &err);
			return 125;
		}
		ret = commands[i].run(&g, argc - first - 1, argv + first + 1, &err);
		if (err) {
			berth_error_report("berth", &err);
			return ret > 0 ? ret : 125;
		}
		return ret < 0 ? 125 : ret;
	}
	fprintf(stderr, "berth: unknown command \"%s\" (see berth --help)\n", argv[first]);
	return 125;
}
