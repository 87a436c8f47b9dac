/* Docker's word rules for Dockerfile arguments: quotes, the escape
 * character and variable expansion ($VAR, ${VAR}, ${VAR:-default},
 * ${VAR-default}, ${VAR:+alt}, ${VAR+alt}, ${VAR:?message}).
 *
 * Outside quotes the escape character takes the next character literally;
 * inside double quotes it only escapes '"', '$' and itself; single quotes
 * are literal. An unset variable expands to "". Pure functions: no I/O. */
#ifndef BERTH_BUILD_EXPAND_H
#define BERTH_BUILD_EXPAND_H

#include <stdbool.h>

#include "util/error.h"

/* Variables in scope: ENV values win over ARG values of the same name. */
typedef struct build_vars {
	char *const *env;  /* "KEY=VALUE" */
	char *const *args; /* "KEY=VALUE" */
} build_vars;

/* The value of NAME in VARS, or NULL when unset. */
const char *build_vars_get(const build_vars *vars, const char *name);

/* Expands one word: quotes removed, escapes applied, variables replaced
 * (VARS NULL: '$' is kept as written). Whitespace is kept. */
int build_expand_word(const char *text, char escape, const build_vars *vars, char **out, berth_error **err);

/* Expands variables only (a heredoc's body): quotes stay as they are and
 * the escape character only escapes '$'. */
int build_expand_vars(const char *text, char escape, const build_vars *vars, char **out, berth_error **err);

/* Splits TEXT at whitespace outside quotes, keeping quotes and escapes in
 * the words (Docker's parseWords, used for KEY=VALUE lists). */
int build_split_words(const char *text, char escape, char ***words, berth_error **err);

/* Splits TEXT at whitespace only (Docker's whitespace-delimited lists:
 * COPY sources, EXPOSE ports); each word is expanded afterwards. */
int build_split_fields(const char *text, char ***words);

#endif
