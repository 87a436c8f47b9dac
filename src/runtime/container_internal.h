/* Shared between the lifecycle files; not part of libberth's interface. */
#ifndef BERTH_RUNTIME_CONTAINER_INTERNAL_H
#define BERTH_RUNTIME_CONTAINER_INTERNAL_H

#include <sys/types.h>

#include "runtime/container.h"

/* create up to "created". FOREGROUND allows a terminal without a console
 * socket: the pty master is returned in *MASTER_OUT (-1 otherwise). */
int container_create_internal(const runtime_globals *g, const create_options *opts, bool foreground, pid_t *pid_out,
			      int *master_out, berth_error **err);

#endif
