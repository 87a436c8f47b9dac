/* Shared between executor.c (stages, RUN, metadata, the result) and
 * executor_copy.c (COPY and ADD). */
#ifndef BERTH_BUILD_EXECUTOR_INTERNAL_H
#define BERTH_BUILD_EXECUTOR_INTERNAL_H

#include <jansson.h>

#include "build/context.h"
#include "build/executor.h"
#include "build/layer.h"
#include "build/plan.h"
#include "image/images.h"

/* What a stage has built so far. */
typedef struct stage_state {
	json_t *image;	  /* the image config JSON (config, rootfs.diff_ids, history) */
	json_t *layers;	  /* manifest layer descriptors, in order */
	bool cmd_set;	  /* CMD given in this stage */
	json_t *triggers; /* the base image's OnBuild, run first */
	bool built;
} stage_state;

/* A --secret: its id and content. */
typedef struct build_secret {
	char *id;
	char *data;
	size_t len;
} build_secret;

typedef struct build_ctx {
	store *s;
	const build_options *o;
	const build_plan *plan;
	stage_state *stages;
	int context_fd;
	build_ignore *ignore;
	char *tmp_root; /* STORE/build-tmp */
	int cache_fd;	/* STORE/build-cache */
	FILE *out;
	char *runtime;
	build_secret *secrets;
	size_t n_secrets;
	char *secrets_dir; /* STORE/build-tmp/step-PID-START-secrets-*: the files RUN mounts */
} build_ctx;

/* The config object of SI ("config" in the JSON). */
json_t *stage_config(stage_state *si);
/* An image_info over SI's layers (pointers into SI; free with
 * stage_info_release). */
int stage_info(stage_state *si, image_info *info, berth_error **err);
void stage_info_release(image_info *info);

/* A temp dir in STORE/build-tmp with SI's rootfs mounted at DIR/rootfs. */
int stage_mount(build_ctx *c, stage_state *si, char **dir, berth_error **err);
/* Unmounts and removes DIR (errors ignored). */
void stage_unmount(const char *dir);

/* The chain id of SI's layers ("" for none) into OUT. */
void stage_chain_id(stage_state *si, char out[DIGEST_STRING_MAX]);

/* Cache: looks KEY up (a hit appends the layer to SI); stores an entry. */
bool cache_lookup(build_ctx *c, const char *key, stage_state *si, const char *created_by);
void cache_store(build_ctx *c, const char *key, const build_layer *layer);

/* Appends a layer and its history entry to SI. */
int stage_add_layer(stage_state *si, const build_layer *layer, const char *created_by, berth_error **err);

/* Unmounts DIR/rootfs, writes DIR/upper as a layer, appends it to SI,
 * stores the cache entry under KEY. */
int stage_commit_upper(build_ctx *c, stage_state *si, const char *dir, const char *key, const char *created_by,
		       berth_error **err);

/* IMAGE from the store, pulled when the store does not know it. */
int build_resolve_image(build_ctx *c, const char *text, image_info *info, berth_error **err);

/* Where COPY --from, RUN --mount=type=bind read: the context, or a stage's
 * or image's rootfs mounted for the step. */
typedef struct copy_source {
	int root_fd;		/* where the paths are */
	const build_ignore *ig; /* the context's ignore file */
	bool keep_owner;	/* --from: owners as they are */
	char *mount_dir;	/* a mounted stage or image (removed after) */
	char chain[DIGEST_STRING_MAX];
} copy_source;

/* Opens FROM (NULL: the context) as seen from STAGE: an earlier stage by
 * name or index, else an image (pulled when missing). */
int copy_source_open(build_ctx *c, size_t stage, const char *from, copy_source *src, berth_error **err);
/* Unmounts what copy_source_open mounted. */
void copy_source_release(copy_source *src);

/* Adds LABEL and VALUE (or each string of V) to a cache key. */
void cache_key_add(digester *d, const char *label, const char *value);
void cache_key_add_strv(digester *d, const char *label, char *const *v);

/* A metadata instruction (ENV, LABEL, USER, WORKDIR, EXPOSE, VOLUME,
 * ENTRYPOINT, CMD, HEALTHCHECK, SHELL, STOPSIGNAL, ONBUILD, MAINTAINER)
 * applied to SI's config, without a history entry (commit's --change). */
int build_apply_config(stage_state *si, const build_scope *scope, const build_step *st, berth_error **err);

/* RUN (executor_run.c). CACHED tells the caller nothing ran. */
int build_do_run(build_ctx *c, size_t stage, const build_step *st, bool *cached, berth_error **err);

/* One stage, start to end (executor.c); N numbers the progress lines. */
int build_stage(build_ctx *c, size_t i, unsigned *n, berth_error **err);
/* Every needed stage, independent ones in parallel (schedule.c). */
int build_stages(build_ctx *c, unsigned *n, berth_error **err);

/* --secret (secrets.c): parsed and read before the build; the directory
 * their files go to; freed (and the directory removed) at the end. */
int build_parse_secrets(build_ctx *c, berth_error **err);
int build_make_secrets_dir(build_ctx *c, berth_error **err);
void build_free_secrets(build_ctx *c);

/* --output (output.c). */
typedef enum output_kind { OUTPUT_NONE, OUTPUT_LOCAL, OUTPUT_OCI, OUTPUT_DOCKER } output_kind;

typedef struct output_spec {
	output_kind kind;
	char *dest;
} output_spec;

int build_parse_output(const char *text, output_spec *out, berth_error **err);
int build_write_output(build_ctx *c, const output_spec *out, char *const *names, const char *id, berth_error **err);

/* COPY and ADD. CACHED tells the caller no work was done. */
int build_do_copy(build_ctx *c, size_t stage, const build_step *st, bool *cached, berth_error **err);

#endif
