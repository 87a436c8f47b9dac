#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/runtime/commands.h"

int command_parse(const char *name, const char *usage, const option_spec *specs, int argc, char **argv,
		  bool stop_at_positional, option_value *values, char ***pos, int *npos, int min_pos, int max_pos,
		  berth_error **err)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 || (stop_at_positional && argv[i][0] != '-'))
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: berth-runtime %s\n\nflags:\n", usage);
			options_print_help(specs);
			return 1;
		}
	}
	if (options_parse(name, specs, argc, argv, stop_at_positional, values, pos, npos, err) < 0)
		return -1;
	if (*npos < min_pos) {
		free(*pos);
		*pos = NULL;
		return berth_error_set(err, 0, "%s: missing argument (usage: berth-runtime %s)", name, usage);
	}
	if (max_pos >= 0 && *npos > max_pos) {
		const char *extra = (*pos)[max_pos];
		free(*pos);
		*pos = NULL;
		return berth_error_set(err, 0, "%s: unexpected argument \"%s\" (usage: berth-runtime %s)", name, extra,
				       usage);
	}
	return 0;
}

void command_print_json(json_t *j, bool pretty)
{
	char *text = json_dumps(j, pretty ? JSON_INDENT(2) : JSON_COMPACT);
	if (text) {
		puts(text);
		free(text);
	}
}
