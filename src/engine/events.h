/* Container events, as `docker events` shows them: every command and
 * monitor appends one JSON line to STORE/events.log when it changes a
 * container (create, start, die, oom, health_status, pause, unpause, kill,
 * stop, rename, destroy); `berth events` reads them back and follows the
 * file. There is no daemon to ask: the file is the history. It is rotated
 * to events.log.1 past EVENTS_LOG_MAX bytes (two files kept). */
#ifndef BERTH_ENGINE_EVENTS_H
#define BERTH_ENGINE_EVENTS_H

#include <stdint.h>

#include <jansson.h>

#include "engine/record.h"
#include "util/error.h"

#define EVENTS_LOG_MAX (2 * 1024 * 1024)

/* Appends ACTION of C (with C's name, image and labels as attributes, plus
 * KEY=VALUE when KEY is not NULL). Best effort: a failure is only logged at
 * debug level, no change of a container depends on it. */
void engine_event(const engine_paths *p, const container *c, const char *action, const char *key, const char *value);

/* One event as stored: docker's JSON (Type, Action, Actor{ID,Attributes},
 * status, id, from, time, timeNano). */
typedef struct engine_event_filter {
	const char *const *containers; /* names or id prefixes; NULL: all */
	const char *const *events;     /* actions; NULL: all */
	const char *const *images;
	const char *const *labels; /* K or K=V */
} engine_event_filter;

/* Whether E (an event's JSON) passes F (one key repeated: any; different
 * keys: all). */
bool engine_event_matches(json_t *e, const engine_event_filter *f);

/* Calls FN for each stored event with SINCE_NS <= timeNano < UNTIL_NS
 * (UNTIL_NS 0: no end), oldest first; with FOLLOW it then waits for new
 * ones until UNTIL_NS (forever when 0) or FN returns < 0. While it waits,
 * FN is called with a NULL event every 100 ms or so, so that a reader whose
 * client left stops without waiting for the next event. */
typedef int (*engine_event_fn)(json_t *e, void *arg);
int engine_events_read(const engine_paths *p, int64_t since_ns, int64_t until_ns, bool follow, engine_event_fn fn,
		       void *arg, berth_error **err);

#endif
