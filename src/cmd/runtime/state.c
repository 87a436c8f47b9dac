#include <stdlib.h>

#include "cmd/runtime/commands.h"
#include "util/cleanup.h"

static const option_spec specs[] = { { NULL, 0, false, NULL } };

int cmd_state(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	json_t *state = NULL;
	int npos, ret = command_parse("state", "state ID", specs, argc, argv, false, v, &pos, &npos, 1, 1, err);

	if (ret != 0)
		return ret < 0 ? 1 : 0;
	if (container_state_json(g, pos[0], &state, err) < 0)
		return 1;
	command_print_json(state, true);
	json_decref(state);
	return 0;
}
