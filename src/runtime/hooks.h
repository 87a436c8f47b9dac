/* OCI hooks: each runs with the container state JSON on stdin, its args and
 * env, killed after its timeout.  The caller chooses the namespace by where
 * it calls from: the runtime for prestart/createRuntime/poststart/poststop,
 * the container init for createContainer/startContainer. */
#ifndef BERTH_RUNTIME_HOOKS_H
#define BERTH_RUNTIME_HOOKS_H

#include "spec/spec.h"
#include "util/error.h"

/* Runs every hook of KIND in order; stops at the first failure. */
int hooks_run(const spec *s, enum spec_hook_kind kind, const char *state_json, berth_error **err);

#endif
