#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/runtime/commands.h"
#include "cmd/runtime/create_flags.h"
#include "util/cleanup.h"

const option_spec create_flag_specs[] = {
	{ "bundle", 'b', true, "path to the bundle directory (default: current directory)" },
	{ "pid-file", 0, true, "write the init's pid to this file" },
	{ "console-socket", 0, true, "unix socket that receives the pty master when process.terminal is true" },
	{ "no-pivot", 0, false, "chroot instead of pivot_root (for ramdisk roots)" },
	{ "no-new-keyring", 0, false, "keep the caller's session keyring" },
	{ "preserve-fds", 0, true, "pass N extra fds (3..3+N-1) to the container" },
	{ "detach", 'd', false, "run: return after start" },
	{ "keep", 0, false, "run: do not delete the container after it exits" },
	{ "config", 0, true, "path to config.json, relative to the bundle (default BUNDLE/config.json)" },
	{ "pidfd-socket", 0, true, "accepted for runc compatibility; not used" },
	{ NULL, 0, false, NULL },
};

int create_flags_to_options(const char *cmd_name, option_value *v, const char *id, create_options *opts,
			    char **bundle_out, berth_error **err)
{
	char resolved[PATH_MAX];
	const char *bundle = v[CF_BUNDLE].set ? v[CF_BUNDLE].value : ".";

	memset(opts, 0, sizeof(*opts));
	if (realpath(bundle, resolved) == NULL)
		return berth_error_set(err, errno, "%s: bundle \"%s\"", cmd_name, bundle);
	*bundle_out = strdup(resolved);
	if (*bundle_out == NULL)
		return berth_error_set(err, ENOMEM, "%s", cmd_name);
	opts->id = id;
	opts->bundle = *bundle_out;
	opts->config_path = v[CF_CONFIG].value;
	opts->pid_file = v[CF_PID_FILE].value;
	opts->console_socket = v[CF_CONSOLE_SOCKET].value;
	opts->no_pivot = option_bool(&v[CF_NO_PIVOT]);
	opts->no_new_keyring = option_bool(&v[CF_NO_NEW_KEYRING]);
	opts->detach = option_bool(&v[CF_DETACH]);
	opts->keep = option_bool(&v[CF_KEEP]);
	if (v[CF_PRESERVE_FDS].set) {
		char *end;
		long n = strtol(v[CF_PRESERVE_FDS].value, &end, 10);
		if (*end != '\0' || n < 0 || n > 65000)
			return berth_error_set(err, EINVAL, "%s: --preserve-fds: \"%s\" is not a number of fds",
					       cmd_name, v[CF_PRESERVE_FDS].value);
		opts->preserve_fds = (int)n;
	}
	return 0;
}

int cmd_create(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[CF_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_free_ char *bundle = NULL;
	create_options opts;
	int npos, ret;

	ret = command_parse("create", "create [flags] ID", create_flag_specs, argc, argv, false, v, &pos, &npos, 1, 1,
			    err);
	if (ret != 0)
		return ret < 0 ? 1 : 0;
	if (create_flags_to_options("create", v, pos[0], &opts, &bundle, err) < 0)
		return 1;
	return container_create(g, &opts, err) < 0 ? 1 : 0;
}

int cmd_run(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[CF_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_free_ char *bundle = NULL;
	create_options opts;
	int npos, ret, exit_code = 0;

	ret = command_parse("run", "run [flags] ID", create_flag_specs, argc, argv, false, v, &pos, &npos, 1, 1, err);
	if (ret != 0)
		return ret < 0 ? 1 : 0;
	if (create_flags_to_options("run", v, pos[0], &opts, &bundle, err) < 0)
		return 1;
	if (container_run(g, &opts, &exit_code, err) < 0)
		return 1;
	return exit_code;
}
