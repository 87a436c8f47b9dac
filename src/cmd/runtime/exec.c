#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/runtime/commands.h"
#include "runtime/exec.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"

enum {
	E_CONSOLE,
	E_CWD,
	E_ENV,
	E_TTY,
	E_USER,
	E_GIDS,
	E_PROCESS,
	E_DETACH,
	E_PID_FILE,
	E_LABEL,
	E_APPARMOR,
	E_NNP,
	E_CAP,
	E_PRESERVE,
	E_CGROUP,
	E_IGNORE_PAUSED,
	E_PIDFD,
	E_COUNT
};

/* The exit status when the process could not be started (a missing
 * command, a stopped container, a bad flag value), as runc's; command-line
 * syntax errors exit 1. */
#define EXEC_FAILED 255

static const option_spec specs[] = {
	[E_CONSOLE] = { "console-socket", 0, true, "unix socket that receives the pty master" },
	[E_CWD] = { "cwd", 0, true, "working directory in the container" },
	[E_ENV] = { "env", 'e', true, "set an environment variable (repeatable)" },
	[E_TTY] = { "tty", 't', false, "allocate a pseudo-TTY" },
	[E_USER] = { "user", 'u', true, "UID[:GID] to run as" },
	[E_GIDS] = { "additional-gids", 'g', true, "additional gid (repeatable)" },
	[E_PROCESS] = { "process", 'p', true, "path to a process.json (runtime-spec process object)" },
	[E_DETACH] = { "detach", 'd', false, "do not wait for the process" },
	[E_PID_FILE] = { "pid-file", 0, true, "write the process pid to this file" },
	[E_LABEL] = { "process-label", 0, true, "SELinux label of the process" },
	[E_APPARMOR] = { "apparmor", 0, true, "AppArmor profile of the process" },
	[E_NNP] = { "no-new-privs", 0, false, "set no_new_privs for the process" },
	[E_CAP] = { "cap", 'c', true, "add a capability (repeatable)" },
	[E_PRESERVE] = { "preserve-fds", 0, true, "pass N extra fds (3..3+N-1)" },
	[E_CGROUP] = { "cgroup", 0, true, "join a sub-cgroup: PATH, or CONTROLLER[,...]:PATH (v1; repeatable)" },
	[E_IGNORE_PAUSED] = { "ignore-paused", 0, false, "allow exec in a paused container" },
	[E_PIDFD] = { "pidfd-socket", 0, true, "accepted for runc compatibility; not used" },
	[E_COUNT] = { NULL, 0, false, NULL },
};

static int parse_user(const char *text, spec_user *u, berth_error **err)
{
	char *end;
	unsigned long uid = strtoul(text, &end, 10);

	if (end == text || (*end != '\0' && *end != ':'))
		return berth_error_set(err, EINVAL, "exec: --user \"%s\": expected UID[:GID]", text);
	u->uid = uid;
	if (*end == ':') {
		const char *g = end + 1;
		unsigned long gid = strtoul(g, &end, 10);
		if (end == g || *end != '\0')
			return berth_error_set(err, EINVAL, "exec: --user \"%s\": expected UID[:GID]", text);
		u->gid = gid;
	}
	return 0;
}

/* Sets each KEY=VALUE of EXTRA in *LIST: an entry of the same KEY is
 * replaced where it stands (getenv() would see the first of two), others
 * are appended, so a later --env of the same KEY wins. */
static int set_env_entries(char ***list, const char **extra)
{
	size_t n = 0;

	while (*list && (*list)[n])
		n++;
	for (size_t m = 0; extra && extra[m]; m++) {
		size_t keylen = strchr(extra[m], '=') - extra[m];
		char *copy = strdup(extra[m]);
		size_t i;

		if (copy == NULL)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			if (strncmp((*list)[i], extra[m], keylen + 1) == 0)
				break;
		if (i == n) {
			char **grown = realloc(*list, (n + 2) * sizeof(char *));
			if (grown == NULL) {
				free(copy);
				return -ENOMEM;
			}
			*list = grown;
			(*list)[n + 1] = NULL;
			n++;
		} else {
			free((*list)[i]);
		}
		(*list)[i] = copy;
	}
	return 0;
}

static int apply_flags(option_value *v, char **args, int nargs, spec_process *p, berth_error **err)
{
	if (nargs > 0) {
		char **copy = calloc(nargs + 1, sizeof(char *));
		if (copy == NULL)
			return berth_error_set(err, ENOMEM, "exec");
		for (int i = 0; i < nargs; i++)
			copy[i] = strdup(args[i]);
		for (char **a = p->args; a && *a; a++)
			free(*a);
		free(p->args);
		p->args = copy;
	} else {
		return berth_error_set(err, EINVAL, "exec: a command is required (or --process)");
	}
	if (v[E_CWD].set) {
		free(p->cwd);
		p->cwd = strdup(v[E_CWD].value);
	}
	if (v[E_ENV].count > 0) {
		for (int i = 0; i < v[E_ENV].count; i++)
			if (strchr(v[E_ENV].all[i], '=') == NULL || v[E_ENV].all[i][0] == '=')
				return berth_error_set(err, EINVAL, "exec: --env \"%s\": expected KEY=VALUE",
						       v[E_ENV].all[i]);
		if (set_env_entries(&p->env, v[E_ENV].all) < 0)
			return berth_error_set(err, ENOMEM, "exec");
	}
	p->terminal = option_bool(&v[E_TTY]);
	if (v[E_USER].set && parse_user(v[E_USER].value, &p->user, err) < 0)
		return -1;
	if (v[E_GIDS].count > 0) {
		free(p->user.additional_gids);
		p->user.additional_gids = calloc(v[E_GIDS].count + 1, sizeof(gid_t));
		for (int i = 0; i < v[E_GIDS].count; i++) {
			char *end;
			p->user.additional_gids[i] = strtoul(v[E_GIDS].all[i], &end, 10);
			if (*end != '\0')
				return berth_error_set(err, EINVAL, "exec: --additional-gids \"%s\" is not a gid",
						       v[E_GIDS].all[i]);
		}
		p->user.n_additional_gids = v[E_GIDS].count;
	}
	if (option_bool(&v[E_NNP]))
		p->no_new_privileges = true;
	for (int i = 0; i < v[E_CAP].count; i++) {
		int cap = spec_capability_from_name(v[E_CAP].all[i]);
		if (cap < 0)
			return berth_error_set(err, EINVAL, "exec: --cap: unknown capability \"%s\"", v[E_CAP].all[i]);
		p->has_capabilities = true;
		for (int set = CAP_SET_BOUNDING; set <= CAP_SET_PERMITTED; set++) {
			if (set == CAP_SET_INHERITABLE)
				continue;
			p->capabilities.present[set] = true;
			p->capabilities.sets[set] |= 1ULL << cap;
		}
	}
	return 0;
}

int cmd_exec(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[E_COUNT + 1] = { { 0 } };
	_cleanup_free_ char **pos = NULL;
	spec_process *p = NULL;
	exec_options opts = { 0 };
	int npos, ret, exit_code = 0;

	ret = command_parse("exec", "exec [flags] ID [COMMAND [ARGS...]]", specs, argc, argv, true, v, &pos, &npos, 1,
			    -1, err);
	if (ret != 0)
		return ret < 0 ? 1 : 0;
	if (!v[E_PROCESS].set && npos < 2) {
		berth_error_set(err, EINVAL, "exec: a command is required (or --process)");
		return 1;
	}
	if (v[E_PROCESS].set) {
		_cleanup_free_ char *text = NULL;
		if (fs_read_file(v[E_PROCESS].value, &text, NULL, err) < 0 || spec_parse_process(text, &p, err) < 0) {
			berth_error_wrap(err, "exec %s: --process \"%s\"", pos[0], v[E_PROCESS].value);
			return EXEC_FAILED;
		}
		if (option_bool(&v[E_TTY]))
			p->terminal = true;
	} else {
		if (exec_default_process(g, pos[0], &p, err) < 0) {
			berth_error_wrap(err, "exec %s", pos[0]);
			return EXEC_FAILED;
		}
		if (apply_flags(v, pos + 1, npos - 1, p, err) < 0) {
			spec_process_free(p);
			return EXEC_FAILED;
		}
	}
	if (v[E_APPARMOR].set) {
		free(p->apparmor_profile);
		p->apparmor_profile = strdup(v[E_APPARMOR].value);
	}
	if (v[E_LABEL].set) {
		free(p->selinux_label);
		p->selinux_label = strdup(v[E_LABEL].value);
	}
	opts.id = pos[0];
	opts.process = p;
	opts.console_socket = v[E_CONSOLE].value;
	opts.pid_file = v[E_PID_FILE].value;
	opts.detach = option_bool(&v[E_DETACH]);
	opts.ignore_paused = option_bool(&v[E_IGNORE_PAUSED]);
	if (v[E_PRESERVE].set)
		opts.preserve_fds = atoi(v[E_PRESERVE].value);
	if (v[E_CGROUP].count > 0)
		opts.sub_cgroups = v[E_CGROUP].all;
	ret = container_exec(g, &opts, &exit_code, err);
	spec_process_free(p);
	options_free_values(v, E_COUNT);
	return ret < 0 ? EXEC_FAILED : exit_code;
}
