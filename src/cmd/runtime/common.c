#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/runtime/commands.h"

int command_parse(const char *name, const char *usage, const option_spec *specs, int argc, char **argv,
		  bool stop_at_positional, option_value *values, char ***pos, int *npos, int min_pos, int max_pos,
		  berth_error **err)
{
	return options_parse_command("berth-runtime", name, usage, specs, argc, argv, stop_at_positional, values, pos,
				     npos, min_pos, max_pos, err);
}

void command_print_json(json_t *j, bool pretty)
{
	char *text = json_dumps(j, pretty ? JSON_INDENT(2) : JSON_COMPACT);
	if (text) {
		puts(text);
		free(text);
	}
}
