/* Parts of requests read without the HTTP library, so the fuzz target
 * (tests/fuzz/fuzz_api.c) runs them as the service does. */
#ifndef BERTH_API_PARSE_H
#define BERTH_API_PARSE_H

#include <jansson.h>

#include "util/error.h"

/* POST /containers/{id}/update's BODY as `berth update`'s flag values
 * (OUT[0] memory, [1] cpus, [2] pids limit, [3] CPU shares; heap, NULL:
 * unchanged; 0 is docker's "not given"). A field berth cannot change,
 * given a value, is an EINVAL error naming it. */
int api_update_values(json_t *body, char *out[4], berth_error **err);

/* X-Registry-Auth (base64url of {"username", "password", ...}) as
 * registry_options.creds "USER:PASSWORD" (heap; NULL when none is given);
 * a malformed header is an EINVAL error. */
int api_registry_auth(const char *header, char **creds, berth_error **err);

#endif
