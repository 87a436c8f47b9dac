/* Helpers of the container routes shared with streams.c and exec.c. */
#ifndef BERTH_API_CONTAINERS_H
#define BERTH_API_CONTAINERS_H

#include <stdint.h>

#include <jansson.h>

#include "api/http.h"

/* The container of R->params[0] (refreshed); answers 404 and returns -1
 * when there is none. */
int api_open_container(api_request *r, container **out);
/* monitor_start of a detached container, one fork at a time. */
int api_start_monitor(const engine_paths *p, container *c, berth_error **err);
/* Docker's shapes of a container (inspect) and of its network settings. */
json_t *api_container_json(const container *c);
json_t *api_network_settings(const container *c);
/* Unix seconds of an RFC 3339 time (0 when unparsable). */
int64_t api_unix_time(const char *rfc3339);

/* An inotify fd (O_CLOEXEC, non-blocking) that becomes readable when C's
 * record changes: its state written (a rename into the directory), the
 * directory itself moved or removed (`--rm`, `rm -f`). -1 when inotify is
 * unavailable: the caller's periodic check still finds the change, later. */
int api_watch_record(const container *c);

/* Waits up to MS milliseconds for SOCK to hang up or WATCH (-1: none) to
 * signal a change, whose events are consumed. 1: the peer hung up; 2: the
 * record changed; 0: the time passed. */
int api_wait_record(int sock, int watch, int ms);

/* docker's familiar form of an image name: "docker.io/library/bb:latest"
 * is "bb:latest", "docker.io/u/x:1" is "u/x:1" (images.c). */
const char *api_image_familiar_name(const char *name);

#endif
