/* One function per berth-runtime command; each parses its own flags. */
#ifndef BERTH_CMD_RUNTIME_COMMANDS_H
#define BERTH_CMD_RUNTIME_COMMANDS_H

#include "util/options.h"
#include "runtime/container.h"

typedef struct command {
	const char *name;
	const char *usage;
	const char *summary;
	/* Returns the process exit code; errors are reported through ERR. */
	int (*run)(const runtime_globals *g, int argc, char **argv, berth_error **err);
} command;

int cmd_create(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_start(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_run(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_state(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_kill(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_delete(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_list(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_spec(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_exec(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_ps(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_pause(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_resume(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_update(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_events(const runtime_globals *g, int argc, char **argv, berth_error **err);
int cmd_features(const runtime_globals *g, int argc, char **argv, berth_error **err);

/* Shared by the commands: parse, print help on --help, check the number of
 * positionals. Returns 1 when help was printed, 0 to go on, <0 on error. */
int command_parse(const char *name, const char *usage, const option_spec *specs, int argc, char **argv,
		  bool stop_at_positional, option_value *values, char ***pos, int *npos, int min_pos, int max_pos,
		  berth_error **err);

/* Prints JSON to stdout (pretty when PRETTY). */
void command_print_json(json_t *j, bool pretty);

#endif
