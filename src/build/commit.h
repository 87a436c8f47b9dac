/* A container's filesystem as docker sees it: its changes (`berth diff`),
 * a new image of it (`berth commit`), a flat tar of it (`berth export`).
 *
 * The changes are the overlay upper directory of the container's rootfs
 * (DIR/bundle/upper) less the container's mount points (/proc, /dev,
 * /etc/hosts... which the runtime creates when the image lacks them; docker
 * keeps them in an init layer that diff and commit skip). */
#ifndef BERTH_BUILD_COMMIT_H
#define BERTH_BUILD_COMMIT_H

#include <stdbool.h>

#include <jansson.h>

#include "engine/record.h"
#include "image/digest.h"
#include "image/store.h"
#include "util/error.h"

/* docker's change kinds (the API's "Kind") */
#define CHANGE_MODIFIED 0
#define CHANGE_ADDED	1
#define CHANGE_DELETED	2

/* C's changes against its image as docker's API gives them:
 * [{"Path": "/etc", "Kind": 0}, ...] sorted by path. A path is Added when
 * no layer of the image has it, Deleted for a whiteout, else Modified. */
int build_container_diff(store *s, const container *c, json_t **out, berth_error **err);

typedef struct build_commit_options {
	const char *reference; /* the new image's name, or NULL (untagged) */
	const char *comment;   /* -m: the history entry's comment */
	const char *author;    /* -a */
	char *const *changes;  /* -c: "CMD [...]", "ENV K=V"... (Dockerfile syntax) */
	bool pause;	       /* pause a running container while its layer is written */
	/* docker's Config of POST /commit (borrowed, may be NULL): its Cmd,
	 * Entrypoint, Env, Labels, ExposedPorts, Volumes, User, WorkingDir and
	 * StopSignal go over the container's (docker's merge: Env by key,
	 * Labels, ports and volumes added to), before the changes */
	const json_t *config;
} build_commit_options;

/* Checks O->changes (only CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, USER,
 * WORKDIR, VOLUME, STOPSIGNAL, ONBUILD), the types of O->config's fields
 * and the reference before anything else: the errors name the change or
 * the field. */
int build_commit_validate(const build_commit_options *o, berth_error **err);

/* A new image: C's image config with C's command, environment and labels
 * (docker's rule), O's changes applied, one more layer of C's changes and
 * one history entry. ID receives the config digest. */
int build_commit(const engine_paths *p, store *s, container *c, const build_commit_options *o,
		 char id[DIGEST_STRING_MAX], berth_error **err);

/* C's whole rootfs as a flat tar to OUT_FD (`berth export`): the files as
 * the host sees the overlay, without the container's volumes and mounts. */
int build_container_export(const container *c, int out_fd, berth_error **err);

#endif
