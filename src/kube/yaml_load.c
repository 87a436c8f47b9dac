#include "kube/yaml_load.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "kube/kube_internal.h"
#include "util/cleanup.h"

/* Bounds against hostile input: nesting (the parser recurses) and the
 * number of values made, which aliases could multiply ("billion laughs"). */
#define KUBE_YAML_MAX_DEPTH 128
#define KUBE_YAML_MAX_NODES 1000000

typedef struct anchor {
	char *name;
	json_t *value;
} anchor;

typedef struct loader {
	yaml_parser_t parser;
	const char *source;
	anchor *anchors;
	size_t n_anchors;
	size_t nodes;
	json_t *lines;
} loader;

static void anchors_clear(loader *l)
{
	for (size_t i = 0; i < l->n_anchors; i++) {
		free(l->anchors[i].name);
		json_decref(l->anchors[i].value);
	}
	free(l->anchors);
	l->anchors = NULL;
	l->n_anchors = 0;
}

static int parser_error(loader *l, berth_error **err)
{
	yaml_parser_t *p = &l->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";
	if (p->context)
		return berth_error_set(err, 0, "%s:%zu:%zu: %s %s", l->source, p->problem_mark.line + 1,
				       p->problem_mark.column + 1, p->context, problem);
	return berth_error_set(err, 0, "%s:%zu:%zu: %s", l->source, p->problem_mark.line + 1,
			       p->problem_mark.column + 1, problem);
}

static int at_error(loader *l, const yaml_mark_t *mark, const char *what, berth_error **err)
{
	return berth_error_set(err, 0, "%s:%zu:%zu: %s", l->source, mark->line + 1, mark->column + 1, what);
}

static int next_event(loader *l, yaml_event_t *event, berth_error **err)
{
	if (!yaml_parser_parse(&l->parser, event))
		return parser_error(l, err);
	return 0;
}

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static const char *const yaml_nulls[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const yaml_trues[] = {
	"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL
};
static const char *const yaml_falses[] = { "n",	    "N",     "no",  "No",  "NO",  "false",
					   "False", "FALSE", "off", "Off", "OFF", NULL };

/* An integer as YAML 1.1 and Go's strconv (base 0) read it: sign, 0x/0o/0b
 * or a leading 0 for octal, underscores between digits. */
static bool parse_int(const char *s, json_int_t *out)
{
	char digits[72];
	size_t n = 0;
	const char *p = s;
	bool negative = false;
	int base = 10;
	if (*p == '+' || *p == '-')
		negative = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8, p += 2;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2, p += 2;
	else if (p[0] == '0' && p[1] != '\0')
		base = 8, p += 1;
	if (*p == '\0')
		return false;
	for (; *p; p++) {
		if (*p == '_')
			continue;
		if (n + 1 >= sizeof(digits))
			return false;
		digits[n++] = *p;
	}
	digits[n] = '\0';
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		int c = digits[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : 99;
		if (v >= base)
			return false;
	}
	errno = 0;
	unsigned long long u = strtoull(digits, NULL, base);
	if (errno == ERANGE || u > (unsigned long long)INT64_MAX + (negative ? 1 : 0))
		return false;
	*out = negative ? (json_int_t)(0 - u) : (json_int_t)u;
	return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool parse_float(const char *s, double *out)
{
	const char *p = s;
	bool digits = false;
	if (*p == '+' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return false;
	*out = strtod(s, NULL);
	return isfinite(*out);
}

static bool is_infinity_or_nan(const char *s)
{
	static const char *const special[] = { ".inf",	".Inf",	 ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
					       "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL };
	return one_of(s, special);
}

#define TAG_PREFIX "tag:yaml.org,2002:"

static int scalar_value(loader *l, const yaml_event_t *event, json_t **out, berth_error **err)
{
	const char *text = (const char *)event->data.scalar.value;
	const char *tag = (const char *)event->data.scalar.tag;
	bool plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	json_int_t i;
	double d;

	if (strlen(text) != event->data.scalar.length)
		return at_error(l, &event->start_mark, "a NUL byte in a scalar", err);
	if (tag != NULL && strcmp(tag, "!") == 0)
		tag = TAG_PREFIX "str";
	if (tag != NULL && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0) {
		_cleanup_free_ char *what = NULL;
		if (asprintf(&what, "unsupported tag %s", tag) < 0)
			return berth_error_set(err, ENOMEM, "tag");
		return at_error(l, &event->start_mark, what, err);
	}
	const char *kind = tag ? tag + strlen(TAG_PREFIX) : NULL;

	if (kind == NULL && !plain)
		kind = "str";
	if (kind != NULL && strcmp(kind, "str") == 0) {
		*out = json_stringn(text, event->data.scalar.length);
	} else if ((kind == NULL || strcmp(kind, "null") == 0) && one_of(text, yaml_nulls)) {
		*out = json_null();
	} else if ((kind == NULL || strcmp(kind, "bool") == 0) && one_of(text, yaml_trues)) {
		*out = json_true();
	} else if ((kind == NULL || strcmp(kind, "bool") == 0) && one_of(text, yaml_falses)) {
		*out = json_false();
	} else if ((kind == NULL || strcmp(kind, "int") == 0) && parse_int(text, &i)) {
		*out = json_integer(i);
	} else if ((kind == NULL || strcmp(kind, "float") == 0) && parse_float(text, &d)) {
		*out = json_real(d);
	} else if ((kind == NULL || strcmp(kind, "float") == 0) && is_infinity_or_nan(text)) {
		return at_error(l, &event->start_mark, "infinity and NaN have no JSON form", err);
	} else if (kind == NULL) {
		*out = json_stringn(text, event->data.scalar.length);
	} else {
		_cleanup_free_ char *what = NULL;
		if (asprintf(&what, "\"%s\" is not a valid !!%s", text, kind) < 0)
			return berth_error_set(err, ENOMEM, "tag");
		return at_error(l, &event->start_mark, what, err);
	}
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "%s: scalar", l->source);
	return 0;
}

static int remember_anchor(loader *l, const yaml_char_t *name, json_t *value, berth_error **err)
{
	if (name == NULL)
		return 0;
	for (size_t i = 0; i < l->n_anchors; i++) {
		if (strcmp(l->anchors[i].name, (const char *)name) == 0) {
			/* YAML lets an anchor be redefined: later aliases see the new value */
			json_decref(l->anchors[i].value);
			l->anchors[i].value = json_incref(value);
			return 0;
		}
	}
	anchor *grown = realloc(l->anchors, (l->n_anchors + 1) * sizeof(*grown));
	if (grown == NULL)
		return berth_error_set(err, ENOMEM, "anchor");
	l->anchors = grown;
	l->anchors[l->n_anchors].name = strdup((const char *)name);
	if (l->anchors[l->n_anchors].name == NULL)
		return berth_error_set(err, ENOMEM, "anchor");
	l->anchors[l->n_anchors].value = json_incref(value);
	l->n_anchors++;
	return 0;
}

static size_t count_values(json_t *v)
{
	size_t n = 1;
	const char *key;
	json_t *child;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach(v, key, child)
			n += count_values(child);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			n += count_values(child);
	}
	return n;
}

static int record_line(loader *l, const char *path, const yaml_mark_t *mark)
{
	if (path[0] == '\0' || l->lines == NULL)
		return 0;
	/* the first mention wins: an alias does not move a field's line */
	if (json_object_get(l->lines, path) != NULL)
		return 0;
	return json_object_set_new(l->lines, path, json_integer((json_int_t)mark->line + 1));
}

static int parse_node(loader *l, yaml_event_t *event, const char *path, int depth, json_t **out, berth_error **err);

static int parse_sequence(loader *l, const char *path, int depth, json_t *array, berth_error **err)
{
	for (size_t index = 0;; index++) {
		yaml_event_t event;
		if (next_event(l, &event, err) < 0)
			return -1;
		if (event.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&event);
			return 0;
		}
		_cleanup_free_ char *child_path = NULL;
		if (asprintf(&child_path, "%s[%zu]", path, index) < 0) {
			yaml_event_delete(&event);
			return berth_error_set(err, ENOMEM, "path");
		}
		record_line(l, child_path, &event.start_mark);
		json_t *item = NULL;
		int r = parse_node(l, &event, child_path, depth + 1, &item, err);
		yaml_event_delete(&event);
		if (r < 0)
			return r;
		if (json_array_append_new(array, item) < 0)
			return berth_error_set(err, ENOMEM, "array");
	}
}

/* `<<: *base` or `<<: [*a, *b]`: keys of the merged mappings that the
 * mapping itself does not set (earlier merged mappings win over later). */
static int apply_merges(loader *l, json_t *object, json_t *merges, const yaml_mark_t *mark, berth_error **err)
{
	size_t i;
	json_t *source;
	json_array_foreach(merges, i, source) {
		json_t *list = json_is_array(source) ? source : NULL;
		size_t n = list ? json_array_size(list) : 1;
		for (size_t j = 0; j < n; j++) {
			json_t *m = list ? json_array_get(list, j) : source;
			if (!json_is_object(m))
				return at_error(l, mark, "a merge key (<<) takes a mapping or a list of mappings", err);
			const char *key;
			json_t *value;
			json_object_foreach(m, key, value) {
				if (json_object_get(object, key) == NULL &&
				    json_object_set_new(object, key, json_deep_copy(value)) < 0)
					return berth_error_set(err, ENOMEM, "merge");
			}
		}
	}
	return 0;
}

static int parse_mapping(loader *l, const char *path, int depth, json_t *object, berth_error **err)
{
	_cleanup_json_ json_t *merges = json_array();
	json_t *own_keys = json_object(); /* keys written in this mapping, for duplicates */
	_cleanup_json_ json_t *own = own_keys;
	yaml_mark_t merge_mark = { 0 };
	if (merges == NULL || own == NULL)
		return berth_error_set(err, ENOMEM, "mapping");
	for (;;) {
		yaml_event_t key_event;
		if (next_event(l, &key_event, err) < 0)
			return -1;
		if (key_event.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&key_event);
			break;
		}
		if (key_event.type != YAML_SCALAR_EVENT) {
			int r = at_error(l, &key_event.start_mark, "a mapping key must be a scalar", err);
			yaml_event_delete(&key_event);
			return r;
		}
		_cleanup_free_ char *key =
		    strndup((const char *)key_event.data.scalar.value, key_event.data.scalar.length);
		yaml_mark_t key_mark = key_event.start_mark;
		bool merge =
		    strcmp(key ? key : "", "<<") == 0 && key_event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		yaml_event_delete(&key_event);
		if (key == NULL)
			return berth_error_set(err, ENOMEM, "key");

		_cleanup_free_ char *child_path = NULL;
		int n = path[0] ? asprintf(&child_path, "%s.%s", path, key) : asprintf(&child_path, "%s", key);
		if (n < 0)
			return berth_error_set(err, ENOMEM, "path");

		yaml_event_t value_event;
		if (next_event(l, &value_event, err) < 0)
			return -1;
		json_t *value = NULL;
		int r = parse_node(l, &value_event, merge ? path : child_path, depth + 1, &value, err);
		yaml_event_delete(&value_event);
		if (r < 0)
			return r;
		if (merge) {
			merge_mark = key_mark;
			if (json_array_append_new(merges, value) < 0)
				return berth_error_set(err, ENOMEM, "merge");
			continue;
		}
		if (json_object_get(own_keys, key) != NULL) {
			json_decref(value);
			_cleanup_free_ char *what = NULL;
			if (asprintf(&what, "key \"%s\" already set in this mapping", key) < 0)
				return berth_error_set(err, ENOMEM, "key");
			return at_error(l, &key_mark, what, err);
		}
		json_object_set_new(own_keys, key, json_true());
		record_line(l, child_path, &key_mark);
		if (json_object_set_new(object, key, value) < 0)
			return berth_error_set(err, ENOMEM, "mapping");
	}
	return apply_merges(l, object, merges, &merge_mark, err);
}

static int parse_node(loader *l, yaml_event_t *event, const char *path, int depth, json_t **out, berth_error **err)
{
	_cleanup_json_ json_t *value = NULL;
	const yaml_char_t *anchor_name = NULL;

	if (depth > KUBE_YAML_MAX_DEPTH)
		return at_error(l, &event->start_mark, "nested too deeply", err);
	if (++l->nodes > KUBE_YAML_MAX_NODES)
		return at_error(l, &event->start_mark, "too many values (aliases expanding without bound?)", err);

	switch (event->type) {
	case YAML_SCALAR_EVENT:
		if (scalar_value(l, event, &value, err) < 0)
			return -1;
		anchor_name = event->data.scalar.anchor;
		break;
	case YAML_SEQUENCE_START_EVENT:
		value = json_array();
		if (value == NULL)
			return berth_error_set(err, ENOMEM, "array");
		if (parse_sequence(l, path, depth, value, err) < 0)
			return -1;
		anchor_name = event->data.sequence_start.anchor;
		break;
	case YAML_MAPPING_START_EVENT:
		value = json_object();
		if (value == NULL)
			return berth_error_set(err, ENOMEM, "object");
		if (parse_mapping(l, path, depth, value, err) < 0)
			return -1;
		anchor_name = event->data.mapping_start.anchor;
		break;
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)event->data.alias.anchor;
		for (size_t i = l->n_anchors; i-- > 0;) {
			if (strcmp(l->anchors[i].name, name) == 0) {
				value = json_deep_copy(l->anchors[i].value);
				break;
			}
		}
		if (value == NULL) {
			_cleanup_free_ char *what = NULL;
			if (asprintf(&what, "unknown anchor \"%s\"", name) < 0)
				return berth_error_set(err, ENOMEM, "alias");
			return at_error(l, &event->start_mark, what, err);
		}
		l->nodes += count_values(value);
		if (l->nodes > KUBE_YAML_MAX_NODES)
			return at_error(l, &event->start_mark, "too many values (aliases expanding without bound?)",
					err);
		break;
	}
	default:
		return at_error(l, &event->start_mark, "unexpected YAML event", err);
	}
	if (remember_anchor(l, anchor_name, value, err) < 0)
		return -1;
	*out = move_ptr(value);
	return 0;
}

static int stream_add(kube_stream *s, json_t *value, json_t *lines, size_t index, size_t line, berth_error **err)
{
	kube_document *grown = realloc(s->docs, (s->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return berth_error_set(err, ENOMEM, "document");
	s->docs = grown;
	s->docs[s->n] = (kube_document){ .value = value, .lines = lines, .index = index, .line = line };
	s->n++;
	return 0;
}

int kube_yaml_parse(const char *text, size_t len, const char *source, kube_stream *out, berth_error **err)
{
	loader l = { .source = source };
	kube_stream stream = { 0 };
	int r = 0;
	size_t index = 0;

	*out = (kube_stream){ 0 };
	if (!yaml_parser_initialize(&l.parser))
		return berth_error_set(err, ENOMEM, "%s: YAML parser", source);
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)text, len);

	for (bool done = false; !done && r == 0;) {
		yaml_event_t event;
		if (next_event(&l, &event, err) < 0) {
			r = -1;
			break;
		}
		switch (event.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT: {
			size_t line = event.start_mark.line + 1;
			yaml_event_t root;
			json_t *value = NULL;
			index++;
			anchors_clear(&l); /* anchors do not cross documents */
			l.lines = json_object();
			if (l.lines == NULL) {
				r = berth_error_set(err, ENOMEM, "%s: lines", source);
				break;
			}
			if (next_event(&l, &root, err) < 0) {
				r = -1;
			} else {
				r = parse_node(&l, &root, "", 0, &value, err);
				if (r == 0 && !json_is_null(value) && !json_is_object(value))
					r = berth_error_set(err, 0,
							    "%s: document %zu (line %zu): expected a mapping with "
							    "apiVersion and kind, got %s",
							    source, index, root.start_mark.line + 1,
							    json_is_array(value) ? "a list" : "a scalar");
				yaml_event_delete(&root);
			}
			if (r == 0 && json_is_object(value)) {
				r = stream_add(&stream, value, l.lines, index, line, err);
				if (r == 0)
					value = NULL, l.lines = NULL;
			}
			json_decref(value);
			json_decref(l.lines);
			l.lines = NULL;
			break;
		}
		default:
			r = at_error(&l, &event.start_mark, "unexpected YAML event", err);
			break;
		}
		yaml_event_delete(&event);
	}
	anchors_clear(&l);
	yaml_parser_delete(&l.parser);
	if (r < 0) {
		kube_stream_free(&stream);
		return r;
	}
	*out = stream;
	return 0;
}

size_t kube_yaml_line(const kube_document *doc, const char *path)
{
	if (doc == NULL || doc->lines == NULL || path == NULL)
		return 0;
	_cleanup_free_ char *p = strdup(path);
	while (p != NULL && p[0] != '\0') {
		json_t *line = json_object_get(doc->lines, p);
		if (json_is_integer(line))
			return (size_t)json_integer_value(line);
		char *cut = strrchr(p, '.');
		char *bracket = strrchr(p, '[');
		if (bracket != NULL && (cut == NULL || bracket > cut))
			cut = bracket;
		if (cut == NULL)
			break;
		*cut = '\0';
	}
	return doc->line;
}

void kube_stream_free(kube_stream *stream)
{
	for (size_t i = 0; i < stream->n; i++) {
		json_decref(stream->docs[i].value);
		json_decref(stream->docs[i].lines);
	}
	free(stream->docs);
	*stream = (kube_stream){ 0 };
}
