/* POST /containers/create: docker's Config and HostConfig read into the
 * run_options of `berth create` (engine/run_config.h), so a container made
 * through the API is the same as one made by the command. */
#ifndef BERTH_API_CREATE_H
#define BERTH_API_CREATE_H

#include <jansson.h>

#include "engine/run_config.h"
#include "util/error.h"

/* The strings O points to (freed with it). */
typedef struct create_strings {
	char **items;
	size_t n, cap;
} create_strings;

/* Reads BODY (Image, Cmd, Entrypoint, Env, ...; HostConfig) and NAME (the
 * query's, may be NULL) into O and *IMAGE (into BODY). A field berth does
 * not support, given a value other than its zero value, is an EINVAL error
 * naming it; the zero values the docker CLI always sends are accepted. */
int api_create_options(json_t *body, const char *name, run_options *o, const char **image, create_strings *keep,
		       berth_error **err);
void create_strings_free(create_strings *k);

#endif
