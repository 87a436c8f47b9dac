#include <stdlib.h>

#include "cmd/runtime/commands.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "force", 'f', false, "kill the container first if it is still running" },
	{ NULL, 0, false, NULL },
};

int cmd_delete(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[2] = { 0 };
	_cleanup_free_ char **pos = NULL;
	int npos,
	    ret = command_parse("delete", "delete [--force] ID", specs, argc, argv, false, v, &pos, &npos, 1, 1, err);

	if (ret != 0)
		return ret < 0 ? 1 : 0;
	return container_delete(g, pos[0], option_bool(&v[0]), err) < 0 ? 1 : 0;
}
