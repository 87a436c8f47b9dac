/* `events`: cgroup statistics as JSON, once (--stats) or every --interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/runtime/commands.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "stats", 0, false, "print one sample and exit" },
	{ "interval", 0, true, "seconds between samples (default 5s)" },
	{ NULL, 0, false, NULL },
};

int cmd_events(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { { 0 } };
	_cleanup_free_ char **pos = NULL;
	double interval = 5;
	int npos, ret = command_parse("events", "events [--stats] [--interval 5s] ID", specs, argc, argv, false, v,
				      &pos, &npos, 1, 1, err);

	if (ret != 0)
		return ret < 0 ? 1 : 0;
	if (v[1].set) {
		char *end;
		interval = strtod(v[1].value, &end);
		if (end == v[1].value || (strcmp(end, "s") != 0 && *end != '\0') || interval <= 0)
			return berth_error_set(err, EINVAL, "events: --interval \"%s\" is not a duration like 5s",
					       v[1].value),
			       1;
	}
	for (;;) {
		json_t *sample = NULL;
		if (container_stats_json(g, pos[0], &sample, err) < 0)
			return 1;
		command_print_json(sample, false);
		fflush(stdout);
		json_decref(sample);
		if (option_bool(&v[0]))
			return 0;
		usleep((useconds_t)(interval * 1e6));
	}
}
