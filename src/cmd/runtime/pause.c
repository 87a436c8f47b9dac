#include <stdlib.h>

#include "cmd/runtime/commands.h"
#include "util/cleanup.h"

static const option_spec specs[] = { { NULL, 0, false, NULL } };

int cmd_pause(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[1] = { { 0 } };
	_cleanup_free_ char **pos = NULL;
	int npos, ret = command_parse("pause", "pause ID", specs, argc, argv, false, v, &pos, &npos, 1, 1, err);

	if (ret != 0)
		return ret < 0 ? 1 : 0;
	return container_pause(g, pos[0], err) < 0 ? 1 : 0;
}

int cmd_resume(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[1] = { { 0 } };
	_cleanup_free_ char **pos = NULL;
	int npos, ret = command_parse("resume", "resume ID", specs, argc, argv, false, v, &pos, &npos, 1, 1, err);

	if (ret != 0)
		return ret < 0 ? 1 : 0;
	return container_resume(g, pos[0], err) < 0 ? 1 : 0;
}
