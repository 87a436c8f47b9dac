/* Calls of the OCI runtime binary (berth-runtime, runc, crun) by the engine
 * and the monitor: `RUNTIME --root ROOT ARGS...`. */
#ifndef BERTH_ENGINE_RUNTIME_CALL_H
#define BERTH_ENGINE_RUNTIME_CALL_H

#include <sys/types.h>

#include "util/error.h"

/* stdio slots of runtime_call */
#define RUNTIME_NULL	-1 /* /dev/null */
#define RUNTIME_CAPTURE -2 /* read into *OUT / *ERRTEXT */

typedef struct runtime_io {
	int in, out, err; /* an fd, RUNTIME_NULL or RUNTIME_CAPTURE (out, err only) */
	char *out_text;	  /* captured stdout (heap) */
	char *err_text;	  /* captured stderr, trailing newline removed */
	/* create: when not NULL and berth's own runtime creates in this
	 * process, the init's pid lands here and no --pid-file is written */
	pid_t *init_pid;
} runtime_io;

/* Runs the runtime, waits for it and returns its exit status (0..255, or
 * 128+N when killed), or <0 with ERR when it could not be run. IO may be
 * NULL (everything to /dev/null); free IO->out_text/err_text. */
int runtime_call(const char *runtime, const char *root, const char *const *args, runtime_io *io, berth_error **err);

/* The runtime's status of ID ("created", "running", "stopped", "paused"),
 * heap, or NULL when it does not know the container. */
char *runtime_status(const char *runtime, const char *root, const char *id);

/* The directory of this process's binary, resolved from /proc/self/exe on
 * the first call and cached: once the monitor has sealed itself
 * (exe_guard_seal_in_place), /proc/self/exe reads "/berth". berth's main
 * calls it first thing, and the seal again before it moves. NULL when
 * unknown; not to be freed. */
const char *engine_exe_dir(void);

/* The default runtime: berth-runtime next to this binary in a build tree
 * (EXE_DIR/../runtime/berth-runtime) or installed beside it, else
 * "berth-runtime" from PATH. Heap. */
char *runtime_default_path(void);

/* A data file of berth (seccomp-default.json): the installed data dir, then
 * the source tree's data/. Heap, NULL when not found. */
char *engine_data_file(const char *name);

#endif
