/* berth build: runs a Containerfile's plan into an image in the store.
 *
 * Each needed stage starts from its base (an image in the store, pulled
 * when missing; an earlier stage; or scratch). RUN runs the command as a
 * container through the runtime (the same config `berth run` generates:
 * default capabilities, seccomp, masked paths) on an overlay of the
 * stage's layers; COPY and ADD write into such an overlay from the context
 * (or another stage or image). The overlay's upper directory becomes the
 * step's layer (layer.h). Metadata instructions change the image config and
 * add a history entry marked empty_layer.
 *
 * The cache: a RUN, COPY or ADD whose key (the parent layer chain, the
 * evaluated instruction, RUN's environment/user/workdir/network, the
 * content digest of COPY's sources) was built before reuses that layer
 * without running anything. Entries live in STORE/build-cache/; a layer
 * removed by prune is simply a miss.
 *
 * Temporary overlays live in STORE/build-tmp/ and are removed on every
 * path; on error no image is named. */
#ifndef BERTH_BUILD_EXECUTOR_H
#define BERTH_BUILD_EXECUTOR_H

#include <stdbool.h>
#include <stdio.h>

#include "image/digest.h"
#include "image/store.h"
#include "util/error.h"

typedef struct build_options {
	const char *context;	 /* the context directory */
	const char *file;	 /* NULL: CONTEXT/Containerfile, else CONTEXT/Dockerfile */
	char *const *tags;	 /* names for the image (may be NULL) */
	char *const *build_args; /* "KEY=VALUE" */
	char *const *labels;	 /* "KEY=VALUE", added to the result */
	char *const *secrets;	 /* "id=ID,src=FILE" or "id=ID,env=VAR", for RUN --mount=type=secret */
	const char *target;	 /* stage name (NULL: the last) */
	const char *network;	 /* RUN's network: none, default, host (NULL: default) */
	bool no_cache;
	bool pull;	    /* pull every base image, even one the store has */
	bool pull_insecure; /* pulls may use plain http (--tls-verify=false) */
	bool quiet;	    /* no progress; RUN output shown only on failure */
	bool rootless;
	const char *runtime_root; /* the OCI runtime's state root */
	/* the engine's paths: RUN's "default" network is the engine's default
	 * network (the bridge "berth", as docker's RUN gets docker0); NULL:
	 * the host's network instead */
	const struct engine_paths *engine;
	const char *cgroup_parent; /* of RUN's containers (NULL: "berth", below the caller's cgroup) */
	const char *iidfile;	   /* write the image id here (may be NULL) */
	/* --output: "type=local,dest=DIR" (the rootfs), "type=oci,dest=F" (an
	 * OCI archive), "type=docker,dest=F" (a docker archive); NULL: none.
	 * The image is in the store either way. */
	const char *output;
	FILE *progress;	   /* progress lines (NULL: stderr) */
	int run_output_fd; /* RUN's stdout and stderr (0: stderr; the API streams them) */
	/* asked before each step (NULL: never): true stops the build there
	 * with ECANCELED (the API's client went away); a RUN in progress ends
	 * first */
	bool (*cancelled)(void *arg);
	void *cancel_arg;
} build_options;

/* Builds; ID gets the image id (the config digest). */
int build_image(store *s, const build_options *o, char id[DIGEST_STRING_MAX], berth_error **err);

#endif
