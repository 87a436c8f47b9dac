/* A small command-line parser with runc's habits: "--flag value",
 * "--flag=value", Go-style single-dash long flags ("-bundle x"), short
 * aliases ("-b x"), booleans with an optional "=true|false", and "--" to end
 * the flags.  Unknown flags are an error that names the flag. */
#ifndef BERTH_UTIL_OPTIONS_H
#define BERTH_UTIL_OPTIONS_H

#include <stdbool.h>

#include "util/error.h"

typedef struct option_spec {
	const char *name; /* long name without dashes */
	char short_name;  /* 0 for none */
	bool takes_value;
	const char *help;
} option_spec;

typedef struct option_value {
	bool set;
	const char *value; /* for takes_value options (the last one given); "true"/"false" for booleans */
	const char **all;  /* every value given, in order (NULL-terminated; --env, --cap) */
	int count;
} option_value;

/* Parses ARGV[0..ARGC) against SPECS (terminated by a {NULL} entry).
 * VALUES has one slot per spec. With STOP_AT_POSITIONAL, parsing stops at
 * the first positional argument (for `exec ID CMD...`); otherwise flags and
 * positionals may interleave. Positionals are returned in *POS (pointers
 * into ARGV) and their count in *NPOS. */
int options_parse(const char *command, const option_spec *specs, int argc, char **argv, bool stop_at_positional,
		  option_value *values, char ***pos, int *npos, berth_error **err);

bool option_bool(const option_value *v);
/* Frees the ALL arrays of N values. */
void options_free_values(option_value *values, int n);
/* Prints "  --name, -n VALUE   help" lines. */
void options_print_help(const option_spec *specs);

/* Parses the flags of one command of PROGRAM: prints help and returns 1 on
 * --help, checks the number of positionals (MAX_POS < 0: no limit), returns
 * 0 to go on or <0 with an error naming the command. */
int options_parse_command(const char *program, const char *name, const char *usage, const option_spec *specs, int argc,
			  char **argv, bool stop_at_positional, option_value *values, char ***pos, int *npos,
			  int min_pos, int max_pos, berth_error **err);

#endif
