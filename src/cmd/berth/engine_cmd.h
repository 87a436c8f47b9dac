/* Helpers of the container commands (run.c, ps.c, logs.c, lifecycle.c,
 * inspect.c, exec.c, container.c). */
#ifndef BERTH_CMD_BERTH_ENGINE_CMD_H
#define BERTH_CMD_BERTH_ENGINE_CMD_H

#include "cmd/berth/commands.h"
#include "engine/record.h"

/* The engine paths of G (creates STORE/containers). */
int berth_engine_open(const berth_globals *g, engine_paths *p, berth_error **err);

/* Runs FN for every container named in NAMES; prints each error as
 * "berth: MESSAGE" and returns 1 when one failed (docker's habit for
 * stop/kill/rm of several containers), 0 otherwise. */
typedef int (*berth_container_fn)(const engine_paths *p, container *c, void *arg, berth_error **err);
int berth_for_each_container(const engine_paths *p, char **names, int n, berth_container_fn fn, void *arg);

/* Docker's grouped short flags: "-it" becomes "-i" "-t" (every letter a
 * short flag of SPECS; only the last may take a value). Stops at "--" or, with
 * STOP_AT_POSITIONAL, at the first positional. Returns a heap argv (the
 * strings point into ARGV or a static table) and its count in *OUT_ARGC. */
char **berth_expand_short_flags(const option_spec *specs, int argc, char **argv, bool stop_at_positional,
				int *out_argc);

/* berth_parse after berth_expand_short_flags; *KEEP holds the expanded
 * argv the positionals point into (free it after them). */
int berth_parse_grouped(const char *name, const char *usage, const option_spec *specs, int argc, char **argv,
			bool stop_at_positional, option_value *values, char ***pos, int *npos, int min_pos, int max_pos,
			char ***keep, berth_error **err);

#endif
