#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "cmd/runtime/commands.h"
#include "spec/spec.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "all", 'a', false, "send the signal to every process of the container" },
	{ NULL, 0, false, NULL },
};

int cmd_kill(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[2] = { 0 };
	_cleanup_free_ char **pos = NULL;
	int npos, signo = SIGTERM;
	int ret =
	    command_parse("kill", "kill [--all] ID [SIGNAL]", specs, argc, argv, false, v, &pos, &npos, 1, 2, err);

	if (ret != 0)
		return ret < 0 ? 1 : 0;
	if (npos == 2) {
		signo = spec_signal_from_string(pos[1]);
		if (signo < 0)
			return berth_error_set(err, EINVAL, "kill %s: unknown signal \"%s\"", pos[0], pos[1]), 1;
	}
	return container_kill(g, pos[0], signo, option_bool(&v[0]), err) < 0 ? 1 : 0;
}
