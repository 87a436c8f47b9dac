/* The Dockerfile/Containerfile parser.
 *
 * Phases, as everywhere in berth: df_parse() reads the text into
 * instructions and validates every one of them (argument counts, flags,
 * JSON forms, stage names) before anything is built; plan.h turns them into
 * the stages a target needs and evaluates each instruction with the
 * variables in scope when the executor reaches it.
 *
 * What is read: the parser directives "# escape=" and "# syntax=" (the
 * latter is recorded and otherwise ignored: berth has one frontend),
 * comments, line continuations (the escape character at the end of a line;
 * comment lines and empty lines inside a continuation are skipped),
 * heredocs after RUN, COPY and ADD ("<<EOF", "<<-EOF" stripping leading
 * tabs, "<<'EOF'"/"<<\"EOF\"" without expansion), the JSON (exec) form of
 * RUN, CMD, ENTRYPOINT, SHELL, VOLUME, COPY and ADD, and --flags.
 *
 * Every error names the file, the line and the instruction:
 *   Containerfile:7: COPY: requires at least two arguments */
#ifndef BERTH_BUILD_DOCKERFILE_H
#define BERTH_BUILD_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef enum df_kind {
	DF_FROM,
	DF_RUN,
	DF_COPY,
	DF_ADD,
	DF_ENV,
	DF_ARG,
	DF_LABEL,
	DF_USER,
	DF_WORKDIR,
	DF_EXPOSE,
	DF_VOLUME,
	DF_ENTRYPOINT,
	DF_CMD,
	DF_HEALTHCHECK,
	DF_SHELL,
	DF_STOPSIGNAL,
	DF_ONBUILD,
	DF_MAINTAINER,
} df_kind;

/* "RUN", "COPY", ... */
const char *df_kind_name(df_kind kind);

typedef struct df_heredoc {
	char *name;	 /* the delimiter word */
	char *body;	 /* the lines between, each ending in '\n' */
	bool expand;	 /* unquoted delimiter: variables are expanded (COPY/ADD) */
	bool strip_tabs; /* <<- (already applied to BODY) */
} df_heredoc;

typedef struct df_flag {
	char *name;  /* without "--" */
	char *value; /* NULL for a bare --flag */
} df_flag;

typedef struct df_instruction {
	df_kind kind;
	unsigned line;	/* of the keyword */
	char *original; /* "COPY --from=b /x /y" with continuations joined (history) */
	char *args;	/* the text after the flags */
	df_flag *flags;
	size_t n_flags;
	bool json;   /* exec form: ARGV holds the JSON array */
	char **argv; /* JSON form only */
	df_heredoc *heredocs;
	size_t n_heredocs;
	struct df_instruction *inner; /* ONBUILD's instruction */
} df_instruction;

typedef struct df_stage {
	unsigned line;	/* of its FROM */
	char *base;	/* as written, expanded with the global ARGs by the planner */
	char *name;	/* "AS name" lowercased, or NULL */
	char *platform; /* --platform as written, or NULL */
	df_instruction *steps;
	size_t n_steps;
} df_stage;

typedef struct df_file {
	char *path; /* the name used in messages */
	char escape;
	char *syntax;		     /* "# syntax=" value, ignored */
	df_instruction *global_args; /* ARG before the first FROM */
	size_t n_global_args;
	df_stage *stages;
	size_t n_stages;
} df_file;

/* Parses and validates TEXT (LEN bytes). PATH names the file in errors. */
int df_parse(const char *path, const char *text, size_t len, df_file *out, berth_error **err);
void df_file_free(df_file *f);

/* The value of --NAME of IN (NULL when absent; "" for a bare flag). */
const char *df_flag_get(const df_instruction *in, const char *name);

/* An ONBUILD trigger of a base image ("RUN make"), parsed and validated as
 * if it stood at LINE of F (the stage's FROM). Free with
 * df_instruction_free. */
int df_parse_trigger(const df_file *f, unsigned line, const char *text, df_instruction **out, berth_error **err);
void df_instruction_free(df_instruction *in);

/* TEXT as the JSON (exec) form, an array of strings (heap), else NULL. */
char **df_exec_form(const char *text);

#endif
