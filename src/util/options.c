#include "util/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find_option(const option_spec *specs, const char *name, size_t len, char short_name)
{
	for (int i = 0; specs[i].name; i++) {
		if (short_name && specs[i].short_name == short_name)
			return i;
		if (!short_name && strlen(specs[i].name) == len && strncmp(specs[i].name, name, len) == 0)
			return i;
	}
	return -1;
}

int options_parse(const char *command, const option_spec *specs, int argc, char **argv, bool stop_at_positional,
		  option_value *values, char ***pos, int *npos, berth_error **err)
{
	char **positional = calloc(argc + 1, sizeof(char *));
	int count = 0;
	bool flags_done = false;

	if (positional == NULL)
		return berth_error_set(err, ENOMEM, "parse flags");
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *name, *eq;
		size_t len;
		int idx;

		if (flags_done || arg[0] != '-' || arg[1] == '\0') {
			positional[count++] = argv[i];
			if (stop_at_positional)
				flags_done = true;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			flags_done = true;
			continue;
		}
		name = arg + (arg[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		idx = -1;
		if (arg[1] != '-' && len == 1)
			idx = find_option(specs, NULL, 0, name[0]);
		if (idx < 0)
			idx = find_option(specs, name, len, 0);
		if (idx < 0) {
			free(positional);
			if (strcmp(command, "berth-runtime") == 0)
				return berth_error_set(err, 0,
						       "unknown flag \"%.*s\" (global flags go before the command; see "
						       "\"berth-runtime --help\")",
						       (int)(len + (name - arg)), arg);
			return berth_error_set(err, 0, "%s: unknown flag \"%.*s\" (see \"berth-runtime %s --help\")",
					       command, (int)(len + (name - arg)), arg, command);
		}
		values[idx].set = true;
		if (specs[idx].takes_value) {
			const char **grown;
			if (eq)
				values[idx].value = eq + 1;
			else if (i + 1 < argc)
				values[idx].value = argv[++i];
			else {
				free(positional);
				return berth_error_set(err, 0, "%s: flag \"--%s\" needs a value", command,
						       specs[idx].name);
			}
			grown = realloc(values[idx].all, (values[idx].count + 2) * sizeof(char *));
			if (grown == NULL) {
				free(positional);
				return berth_error_set(err, ENOMEM, "parse flags");
			}
			grown[values[idx].count++] = values[idx].value;
			grown[values[idx].count] = NULL;
			values[idx].all = grown;
		} else {
			values[idx].value = eq ? eq + 1 : "true";
			if (strcmp(values[idx].value, "true") != 0 && strcmp(values[idx].value, "false") != 0) {
				free(positional);
				return berth_error_set(err, 0, "%s: flag \"--%s\" takes true or false, not \"%s\"",
						       command, specs[idx].name, values[idx].value);
			}
		}
	}
	*pos = positional;
	*npos = count;
	return 0;
}

bool option_bool(const option_value *v)
{
	return v->set && v->value && strcmp(v->value, "true") == 0;
}

void options_print_help(const option_spec *specs)
{
	for (int i = 0; specs[i].name; i++) {
		char left[64];
		if (specs[i].short_name)
			snprintf(left, sizeof(left), "--%s, -%c%s", specs[i].name, specs[i].short_name,
				 specs[i].takes_value ? " VALUE" : "");
		else
			snprintf(left, sizeof(left), "--%s%s", specs[i].name, specs[i].takes_value ? " VALUE" : "");
		printf("   %-32s %s\n", left, specs[i].help);
	}
}

void options_free_values(option_value *values, int n)
{
	for (int i = 0; i < n; i++) {
		free(values[i].all);
		values[i].all = NULL;
	}
}

int options_parse_command(const char *program, const char *name, const char *usage, const option_spec *specs, int argc,
			  char **argv, bool stop_at_positional, option_value *values, char ***pos, int *npos,
			  int min_pos, int max_pos, berth_error **err)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 || (stop_at_positional && argv[i][0] != '-'))
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: %s %s\n\nflags:\n", program, usage);
			options_print_help(specs);
			return 1;
		}
	}
	if (options_parse(name, specs, argc, argv, stop_at_positional, values, pos, npos, err) < 0) {
		/* options_parse words the hint for berth-runtime */
		char *hint = *err ? strstr((*err)->msg, " (see \"berth-runtime ") : NULL;
		if (hint && strcmp(program, "berth-runtime") != 0) {
			berth_error *e = *err;
			*hint = '\0';
			*err = NULL;
			berth_error_set(err, 0, "%s (see \"%s %s --help\")", e->msg, program, name);
			berth_error_free(&e);
		}
		return -1;
	}
	if (*npos < min_pos) {
		free(*pos);
		*pos = NULL;
		return berth_error_set(err, 0, "%s: missing argument (usage: %s %s)", name, program, usage);
	}
	if (max_pos >= 0 && *npos > max_pos) {
		const char *extra = (*pos)[max_pos];
		free(*pos);
		*pos = NULL;
		return berth_error_set(err, 0, "%s: unexpected argument \"%s\" (usage: %s %s)", name, extra, program,
				       usage);
	}
	return 0;
}
