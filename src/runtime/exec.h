/* `exec`: a new process inside a running container.  It joins the
 * container's namespaces and cgroup, applies the same process setup as the
 * init (identity, capabilities, rlimits, no_new_privs, the container's
 * seccomp profile) and execs. */
#ifndef BERTH_RUNTIME_EXEC_H
#define BERTH_RUNTIME_EXEC_H

#include <stdbool.h>

#include "runtime/container.h"
#include "spec/spec.h"

typedef struct exec_options {
	const char *id;
	spec_process *process; /* complete process to run (owned by the caller) */
	const char *console_socket;
	const char *pid_file;
	bool detach;
	int preserve_fds;
	bool ignore_paused;
	const char *const *sub_cgroups; /* --cgroup: NULL or NULL-terminated (cgroup.h) */
} exec_options;

/* Builds the process from the container's config.json process (the
 * defaults for exec, as runc does). *OUT is heap, free with spec_process_free. */
int exec_default_process(const runtime_globals *g, const char *id, spec_process **out, berth_error **err);

/* Runs the process; unless detached, waits and sets *EXIT_CODE. */
int container_exec(const runtime_globals *g, const exec_options *opts, int *exit_code, berth_error **err);

#endif
