/* OCI hooks: each runs with the container state JSON on stdin, its args and
 * env (the runtime's environment when the hook has no "env"), killed after
 * its timeout.  The caller chooses the namespace by where
 * it calls from: the runtime for prestart/createRuntime/poststart/poststop,
 * the container init for createContainer/startContainer. */
#ifndef BERTH_RUNTIME_HOOKS_H
#define BERTH_RUNTIME_HOOKS_H

#include "spec/spec.h"
#include "util/error.h"

/* Runs every hook of KIND in order. Stops at the first failure, except for
 * poststop, where each failure is logged as a warning and the remaining
 * hooks still run (runtime-spec), and 0 is returned. A failing poststart
 * fails (runtime-spec 1.3): the caller stops the container. A hook that
 * outlives its timeout is killed with its process group. */
int hooks_run(const spec *s, enum spec_hook_kind kind, const char *state_json, berth_error **err);

#endif
