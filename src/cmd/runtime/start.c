#include <stdlib.h>

#include "cmd/runtime/commands.h"
#include "util/cleanup.h"

static const option_spec specs[] = { { NULL, 0, false, NULL } };

int cmd_start(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	int npos, ret = command_parse("start", "start ID", specs, argc, argv, false, v, &pos, &npos, 1, 1, err);

	if (ret != 0)
		return ret < 0 ? 1 : 0;
	return container_start(g, pos[0], err) < 0 ? 1 : 0;
}
