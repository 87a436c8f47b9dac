/* docker inspect's view of a container. */
#ifndef BERTH_ENGINE_INSPECT_H
#define BERTH_ENGINE_INSPECT_H

#include <jansson.h>

#include "engine/record.h"

/* Docker's container JSON (Id, Name, State, Config, HostConfig, Mounts,
 * NetworkSettings...) of C as loaded (call record_refresh first); new
 * reference. */
json_t *engine_container_inspect_json(const container *c);

#endif
