#include "spec/json_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

const char *json_read_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

char *json_read_child_path(const char *parent, const char *key)
{
	char *out = NULL;
	if (parent == NULL || parent[0] == '\0')
		return strdup(key);
	if (asprintf(&out, "%s.%s", parent, key) < 0)
		return NULL;
	return out;
}

char *json_read_index_path(const char *parent, size_t index)
{
	char *out = NULL;
	if (asprintf(&out, "%s[%zu]", parent, index) < 0)
		return NULL;
	return out;
}

static int type_error(const char *path, const char *key, const char *expected, const json_t *got, berth_error **err)
{
	_cleanup_free_ char *full = json_read_child_path(path, key);
	return berth_error_set(err, 0, "%s: expected %s, got %s", full ? full : key, expected,
			       json_read_type_name(got));
}

/* Absent and null both mean "not set", as Go's encoding/json treats them. */
static json_t *lookup(json_t *obj, const char *key)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	return (v == NULL || json_is_null(v)) ? NULL : v;
}

int json_read_object(json_t *obj, const char *key, const char *path, json_t **out, berth_error **err)
{
	json_t *v = lookup(obj, key);
	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return type_error(path, key, "an object", v, err);
	*out = v;
	return 0;
}

int json_read_array(json_t *obj, const char *key, const char *path, json_t **out, berth_error **err)
{
	json_t *v = lookup(obj, key);
	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return type_error(path, key, "an array", v, err);
	*out = v;
	return 0;
}

int json_read_string(json_t *obj, const char *key, const char *path, char **out, berth_error **err)
{
	json_t *v = lookup(obj, key);
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return type_error(path, key, "a string", v, err);
	free(*out);
	*out = strdup(json_string_value(v));
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "%s", key);
	return 0;
}

int json_read_bool(json_t *obj, const char *key, const char *path, bool *out, bool *present, berth_error **err)
{
	json_t *v = lookup(obj, key);
	if (present)
		*present = false;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return type_error(path, key, "a boolean", v, err);
	*out = json_is_true(v);
	if (present)
		*present = true;
	return 0;
}

int json_read_int64(json_t *obj, const char *key, const char *path, int64_t *out, bool *present, berth_error **err)
{
	return json_read_ranged(obj, key, path, INT64_MIN, INT64_MAX, out, present, err);
}

int json_read_ranged(json_t *obj, const char *key, const char *path, int64_t min, int64_t max, int64_t *out,
		     bool *present, berth_error **err)
{
	json_t *v = lookup(obj, key);
	json_int_t i;
	if (present)
		*present = false;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return type_error(path, key, "an integer", v, err);
	i = json_integer_value(v);
	if (i < min || i > max) {
		_cleanup_free_ char *full = json_read_child_path(path, key);
		return berth_error_set(err, 0, "%s: %lld is out of range [%lld, %lld]", full ? full : key, (long long)i,
				       (long long)min, (long long)max);
	}
	*out = i;
	if (present)
		*present = true;
	return 0;
}

/* jansson stores integers as long long; values above INT64_MAX (e.g. an
 * unlimited rlimit written as 18446744073709551615) arrive as reals. */
int json_read_uint64(json_t *obj, const char *key, const char *path, uint64_t *out, bool *present, berth_error **err)
{
	json_t *v = lookup(obj, key);
	if (present)
		*present = false;
	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0) {
			_cleanup_free_ char *full = json_read_child_path(path, key);
			return berth_error_set(err, 0, "%s: %lld must not be negative", full ? full : key,
					       (long long)i);
		}
		/* INT64_MAX stands for a clamped 2^64-1 (see spec_parse) */
		*out = i == INT64_MAX ? UINT64_MAX : (uint64_t)i;
	} else if (json_is_real(v) && json_real_value(v) >= 9.2e18 && json_real_value(v) <= 1.85e19) {
		double d = json_real_value(v);
		*out = d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
	} else {
		return type_error(path, key, "an unsigned integer", v, err);
	}
	if (present)
		*present = true;
	return 0;
}

int json_read_string_array(json_t *obj, const char *key, const char *path, char ***out, size_t *n, berth_error **err)
{
	json_t *arr = NULL, *item;
	_cleanup_strv_ char **list = NULL;
	size_t i;
	int ret = json_read_array(obj, key, path, &arr, err);

	if (ret < 0 || arr == NULL)
		return ret;
	list = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (list == NULL)
		return berth_error_set(err, ENOMEM, "%s", key);
	json_array_foreach(arr, i, item) {
		if (!json_is_string(item)) {
			_cleanup_free_ char *full = json_read_child_path(path, key);
			return berth_error_set(err, 0, "%s[%zu]: expected a string, got %s", full ? full : key, i,
					       json_read_type_name(item));
		}
		list[i] = strdup(json_string_value(item));
		if (list[i] == NULL)
			return berth_error_set(err, ENOMEM, "%s", key);
	}
	if (*out) {
		char **old = *out;
		cleanup_strvp(&old);
	}
	if (n)
		*n = json_array_size(arr);
	*out = move_ptr(list);
	return 0;
}

int json_read_string_map(json_t *obj, const char *key, const char *path, char ***keys, char ***values, size_t *n,
			 berth_error **err)
{
	json_t *map = NULL, *v;
	const char *k;
	_cleanup_strv_ char **ks = NULL;
	_cleanup_strv_ char **vs = NULL;
	size_t i = 0;
	int ret = json_read_object(obj, key, path, &map, err);

	*n = 0;
	if (ret < 0 || map == NULL)
		return ret;
	ks = calloc(json_object_size(map) + 1, sizeof(char *));
	vs = calloc(json_object_size(map) + 1, sizeof(char *));
	if (ks == NULL || vs == NULL)
		return berth_error_set(err, ENOMEM, "%s", key);
	json_object_foreach(map, k, v) {
		if (!json_is_string(v)) {
			_cleanup_free_ char *full = json_read_child_path(path, key);
			return berth_error_set(err, 0, "%s.%s: expected a string, got %s", full ? full : key, k,
					       json_read_type_name(v));
		}
		ks[i] = strdup(k);
		vs[i] = strdup(json_string_value(v));
		if (ks[i] == NULL || vs[i] == NULL)
			return berth_error_set(err, ENOMEM, "%s", key);
		i++;
	}
	*keys = move_ptr(ks);
	*values = move_ptr(vs);
	*n = i;
	return 0;
}

/* jansson stores integers as int64; configs write RLIM_INFINITY and other
 * unsigned values up to 2^64-1. Such literals are clamped to INT64_MAX
 * (outside strings), which the unsigned readers take as "unlimited". */
static char *clamp_big_integers(const char *text)
{
	static const char max[] = "9223372036854775807";
	size_t len = strlen(text);
	char *out = malloc(len + 1), *o = out;
	bool in_string = false;

	if (out == NULL)
		return NULL;
	for (const char *p = text; *p;) {
		if (in_string) {
			if (*p == '\\' && p[1]) {
				*o++ = *p++;
			} else if (*p == '"') {
				in_string = false;
			}
			*o++ = *p++;
			continue;
		}
		if (*p == '"') {
			in_string = true;
			*o++ = *p++;
			continue;
		}
		if (*p >= '0' && *p <= '9' && (p == text || p[-1] != '-')) {
			size_t n = strspn(p, "0123456789");
			bool integer = p[n] != '.' && p[n] != 'e' && p[n] != 'E';
			if (integer && (n > 19 || (n == 19 && strncmp(p, max, 19) > 0))) {
				memcpy(o, max, 19);
				o += 19;
			} else {
				memcpy(o, p, n);
				o += n;
			}
			p += n;
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
	return out;
}

json_t *json_read_loads(const char *text, size_t flags, json_error_t *jerr)
{
	_cleanup_free_ char *clamped = clamp_big_integers(text);
	return json_loads(clamped ? clamped : text, flags, jerr);
}
