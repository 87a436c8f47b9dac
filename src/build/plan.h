/* From a parsed Dockerfile (dockerfile.h) to what the executor runs:
 * the stages the target needs, in order, with their base images; and, one
 * instruction at a time, the instruction with its variables expanded in the
 * scope Docker defines:
 *
 *   - ARG before the first FROM is global: usable in FROM lines only, and
 *     inside a stage after an "ARG NAME" without a default takes its value;
 *   - ARG in a stage declares a variable from that line to the stage's end,
 *     valued by --build-arg, else its default;
 *   - ENV sets a variable of the image (and the scope); ENV wins over ARG;
 *   - the base image's Env is in scope from the start of a stage;
 *   - RUN, CMD, ENTRYPOINT, HEALTHCHECK and SHELL are not expanded (the
 *     shell does it at run time, with the ARGs in its environment).
 *
 * Pure functions, no I/O: the unit tests drive them directly. */
#ifndef BERTH_BUILD_PLAN_H
#define BERTH_BUILD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build/dockerfile.h"
#include "build/mount.h"
#include "util/error.h"

/* Build arguments anyone may pass without an ARG line; they reach RUN's
 * environment but not the image, its history or the cache key. */
bool build_arg_predefined(const char *name);

typedef struct build_plan_stage {
	char *base;	 /* FROM after expansion: an image, or "scratch" */
	long base_stage; /* the earlier stage FROM names, or -1 */
	bool needed;	 /* the target depends on it */
	long *deps;	 /* stages COPY --from names, -1 terminated */
} build_plan_stage;

typedef struct build_plan {
	const df_file *file;
	char **global_args; /* "KEY=VALUE" of the ARGs before FROM (build args applied) */
	char **build_args;  /* "KEY=VALUE" as given */
	char **unused_args; /* build args no ARG line declares (Docker warns) */
	build_plan_stage *stages;
	size_t n_stages;
	size_t target;
} build_plan;

/* Resolves FROM lines and stage references. TARGET (NULL: the last stage)
 * names a stage; PLATFORM_HOST ("linux/amd64") is the only --platform
 * accepted. */
int build_plan_make(const df_file *f, char *const *build_args, const char *target, const char *platform_host,
		    build_plan *out, berth_error **err);
void build_plan_free(build_plan *p);

/* The stage TEXT (a name or a number) refers to before stage BEFORE, or -1. */
long build_plan_stage_ref(const build_plan *p, const char *text, size_t before);

/* The variable scope of one stage as the executor walks it. */
typedef struct build_scope {
	char **env;   /* the image's Env ("KEY=VALUE"), changed by ENV */
	char **args;  /* ARGs declared so far with a value */
	char **shell; /* SHELL, initially ["/bin/sh", "-c"] */
} build_scope;

/* Starts the scope of a stage whose base image has BASE_ENV (may be NULL). */
int build_scope_init(build_scope *s, char *const *base_env, berth_error **err);
void build_scope_free(build_scope *s);

/* A source of COPY/ADD: a path in the context (or stage/image), or a
 * heredoc's content. */
typedef struct build_source {
	char *path;    /* as written (expanded); the heredoc's name for a heredoc */
	char *content; /* heredoc body, else NULL */
} build_source;

typedef struct build_healthcheck {
	bool none;
	char **test; /* ["CMD", ...] or ["CMD-SHELL", text] */
	int64_t interval_ns, timeout_ns, start_period_ns, start_interval_ns;
	int retries;
} build_healthcheck;

/* One instruction, evaluated. */
typedef struct build_step {
	df_kind kind;
	const df_instruction *in;
	char **words;	 /* EXPOSE ports, VOLUME paths, USER/WORKDIR/STOPSIGNAL/MAINTAINER [0], SHELL */
	char **pairs;	 /* ENV, LABEL, ARG: "KEY=VALUE" */
	char **command;	 /* RUN, CMD, ENTRYPOINT: argv (a shell form wrapped in SHELL) */
	bool shell_form; /* COMMAND came from a shell form */
	build_source *sources;
	size_t n_sources;
	char *dest;			      /* COPY, ADD */
	char *from, *chown, *chmod, *network; /* expanded flags, NULL when absent */
	char *checksum;			      /* ADD --checksum */
	build_mount *mounts;		      /* RUN --mount, expanded */
	size_t n_mounts;
	build_healthcheck health;
	char *trigger;	  /* ONBUILD: the trigger as written */
	char **run_env;	  /* RUN: Env plus the ARGs and predefined args */
	char *created_by; /* history */
} build_step;

/* Expands IN in scope S and applies ARG and ENV to S. BUILD_ARGS and
 * GLOBAL_ARGS come from the plan. */
int build_step_eval(const build_plan *p, const df_instruction *in, build_scope *s, build_step *out, berth_error **err);
void build_step_free(build_step *st);

#endif
