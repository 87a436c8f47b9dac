/* The default OCI config: runc's `spec` defaults (a shell, three
 * capabilities, no_new_privs, the usual mounts, masked and read-only paths,
 * six namespaces; with ROOTLESS a user namespace mapping the caller to 0 and
 * /sys bind-mounted). */
#ifndef BERTH_SPEC_DEFAULT_H
#define BERTH_SPEC_DEFAULT_H

#include <stdbool.h>

#include <jansson.h>

json_t *spec_default_config(bool rootless);

#endif
