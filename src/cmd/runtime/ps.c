/* `ps`: the container's processes, as pids (json) or as ps(1) lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cmd/runtime/commands.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "format", 'f', true, "table or json" },
	{ NULL, 0, false, NULL },
};

static bool contains(const pid_t *pids, size_t n, long pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

int cmd_ps(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[2] = { { 0 } };
	_cleanup_free_ char **pos = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int npos, ret = command_parse("ps", "ps [--format table|json] ID [PS ARGS...]", specs, argc, argv, true, v,
				      &pos, &npos, 1, -1, err);
	const char *format;

	if (ret != 0)
		return ret < 0 ? 1 : 0;
	format = v[0].set ? v[0].value : "table";
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
		return berth_error_set(err, EINVAL, "ps: --format: expected table or json"), 1;
	if (container_pids(g, pos[0], &pids, &n, err) < 0)
		return 1;
	if (strcmp(format, "json") == 0) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_integer(pids[i]));
		command_print_json(arr, false);
		json_decref(arr);
		return 0;
	}
	{
		/* like runc: run ps(1) on the host and keep the container's lines */
		_cleanup_free_ char *cmd = NULL;
		size_t len = 16;
		FILE *f;
		char line[4096];
		int pid_col = -1, status;

		for (int i = 1; i < npos; i++)
			len += strlen(pos[i]) * 4 + 3;
		cmd = calloc(1, len + 16);
		strcpy(cmd, "ps");
		if (npos == 1)
			strcat(cmd, " -ef");
		for (int i = 1; i < npos; i++) {
			strcat(cmd, " '");
			for (const char *c = pos[i]; *c; c++) {
				size_t at = strlen(cmd);
				if (*c == '\'') {
					memcpy(cmd + at, "'\\''", 5);
				} else {
					cmd[at] = *c;
					cmd[at + 1] = '\0';
				}
			}
			strcat(cmd, "'");
		}
		f = popen(cmd, "r");
		if (f == NULL)
			return berth_error_set(err, errno, "ps: run ps(1)"), 1;
		while (fgets(line, sizeof(line), f)) {
			if (pid_col < 0) {
				char copy[4096], *save = NULL;
				int col = 0;
				strcpy(copy, line);
				for (char *t = strtok_r(copy, " \t\n", &save); t;
				     t = strtok_r(NULL, " \t\n", &save), col++)
					if (strcmp(t, "PID") == 0)
						pid_col = col;
				fputs(line, stdout);
				if (pid_col < 0) {
					pclose(f);
					return berth_error_set(err, EINVAL, "ps: no PID column in the ps(1) output"), 1;
				}
				continue;
			}
			{
				char copy[4096], *save = NULL, *t;
				int col = 0;
				strcpy(copy, line);
				for (t = strtok_r(copy, " \t\n", &save); t && col < pid_col;
				     t = strtok_r(NULL, " \t\n", &save))
					col++;
				if (t && contains(pids, n, strtol(t, NULL, 10)))
					fputs(line, stdout);
			}
		}
		status = pclose(f);
		if (status != 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 1))
			return berth_error_set(err, 0, "ps: ps(1) failed"), 1;
	}
	return 0;
}
