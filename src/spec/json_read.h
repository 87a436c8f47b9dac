/* Typed, path-aware readers over jansson values, used by the spec parsers.
 *
 * Each reader takes the JSON path of the parent ("process.user") and the key,
 * returns 0 when the key is absent (leaving *out untouched and *present false
 * where given), 0 with the value when present and well typed, or a negative
 * error naming "PATH.KEY: expected TYPE, got TYPE". */
#ifndef BERTH_SPEC_JSON_READ_H
#define BERTH_SPEC_JSON_READ_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "util/error.h"

/* a jansson value released at the end of its scope (jansson's json_decrefp) */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

/* json_loads() that accepts unsigned 64-bit integer literals (clamped to
 * INT64_MAX, which json_read_uint64 reads back as UINT64_MAX). */
json_t *json_read_loads(const char *text, size_t flags, json_error_t *jerr);

const char *json_read_type_name(const json_t *v);
/* Heap "PARENT.KEY" or "PARENT[I]". */
char *json_read_child_path(const char *parent, const char *key);
char *json_read_index_path(const char *parent, size_t index);

int json_read_object(json_t *obj, const char *key, const char *path, json_t **out, berth_error **err);
int json_read_array(json_t *obj, const char *key, const char *path, json_t **out, berth_error **err);
int json_read_string(json_t *obj, const char *key, const char *path, char **out, berth_error **err);
int json_read_bool(json_t *obj, const char *key, const char *path, bool *out, bool *present, berth_error **err);
int json_read_int64(json_t *obj, const char *key, const char *path, int64_t *out, bool *present, berth_error **err);
/* Reads an integer within [MIN, MAX]. */
int json_read_ranged(json_t *obj, const char *key, const char *path, int64_t min, int64_t max, int64_t *out,
		     bool *present, berth_error **err);
int json_read_uint64(json_t *obj, const char *key, const char *path, uint64_t *out, bool *present, berth_error **err);
/* NULL-terminated heap array of heap strings. */
int json_read_string_array(json_t *obj, const char *key, const char *path, char ***out, size_t *n, berth_error **err);
/* Every string of an object's values: {"k": "v"} -> pairs. */
int json_read_string_map(json_t *obj, const char *key, const char *path, char ***keys, char ***values, size_t *n,
			 berth_error **err);

#endif
