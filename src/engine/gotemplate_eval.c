#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gotemplate.h"
#include "engine/gotemplate_internal.h"
#include "util/cleanup.h"

/* ---- evaluation ----
 * A value is a jansson reference owned by whoever holds it; NULL is Go's
 * "no value" (a missing field). */

typedef struct variable {
	const char *name;
	json_t *value;
} variable;

typedef struct context {
	json_t *root;
	variable *vars;
	size_t nvars, cap;
	FILE *out;
} context;

static int eval_pipeline(context *cx, const token *t, size_t n, json_t *dot, json_t **out, berth_error **err);
static int exec_list(context *cx, const node_list *l, json_t *dot, berth_error **err);

static int var_push(context *cx, const char *name, json_t *value)
{
	if (cx->nvars == cx->cap) {
		size_t cap = cx->cap ? cx->cap * 2 : 8;
		variable *v = realloc(cx->vars, cap * sizeof(variable));
		if (v == NULL) {
			json_decref(value);
			return -1;
		}
		cx->vars = v;
		cx->cap = cap;
	}
	cx->vars[cx->nvars++] = (variable){ name, value };
	return 0;
}

static void vars_pop_to(context *cx, size_t n)
{
	while (cx->nvars > n)
		json_decref(cx->vars[--cx->nvars].value);
}

static bool truth(json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_FALSE:
	case JSON_NULL:
		return false;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	default:
		return true;
	}
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of object O sorted (Go ranges and prints maps in key order);
 * heap array of borrowed strings. */
static const char **sorted_keys(json_t *o, size_t *n)
{
	const char **keys = calloc(json_object_size(o) + 1, sizeof(char *));
	const char *k;
	json_t *v;

	*n = 0;
	if (keys == NULL)
		return NULL;
	json_object_foreach(o, k, v) {
		(void)v;
		keys[(*n)++] = k;
	}
	qsort(keys, *n, sizeof(char *), compare_keys);
	return keys;
}

/* Go's %v of a value. */
static void print_value(FILE *f, json_t *v, bool top)
{
	size_t i, n;
	json_t *e;

	if (v == NULL) {
		fputs("<no value>", f);
		return;
	}
	switch (json_typeof(v)) {
	case JSON_NULL:
		fputs("<nil>", f);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		fputs(json_is_true(v) ? "true" : "false", f);
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		fprintf(f, "%g", json_real_value(v));
		break;
	case JSON_STRING:
		fwrite(json_string_value(v), 1, json_string_length(v), f);
		break;
	case JSON_ARRAY:
		fputc('[', f);
		json_array_foreach(v, i, e) {
			if (i)
				fputc(' ', f);
			print_value(f, e, false);
		}
		fputc(']', f);
		break;
	case JSON_OBJECT: {
		_cleanup_free_ const char **keys = sorted_keys(v, &n);
		fputs("map[", f);
		for (i = 0; keys && i < n; i++)
			fprintf(f, "%s%s:", i ? " " : "", keys[i]), print_value(f, json_object_get(v, keys[i]), false);
		fputc(']', f);
		break;
	}
	}
	(void)top;
}

static char *value_text(json_t *v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	print_value(f, v, true);
	fclose(f);
	return buf;
}

static const char *type_name(json_t *v)
{
	static const char *const names[] = { "map", "slice", "string", "int", "float64", "bool", "bool", "nil" };
	return v ? names[json_typeof(v)] : "<no value>";
}

/* VALUE (consumed) with the field chain "A.B" applied. */
static int apply_fields(json_t *value, const char *chain, json_t **out, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(chain);
	char *save = NULL;

	if (copy == NULL) {
		json_decref(value);
		return berth_error_set(err, ENOMEM, "template");
	}
	for (char *f = strtok_r(copy, ".", &save); f; f = strtok_r(NULL, ".", &save)) {
		json_t *next;
		if (value == NULL || json_is_null(value)) {
			json_decref(value);
			value = NULL;
			continue;
		}
		if (!json_is_object(value)) {
			berth_error_set(err, 0, "template: can't evaluate field %s in type %s", f, type_name(value));
			json_decref(value);
			return -1;
		}
		next = json_incref(json_object_get(value, f));
		json_decref(value);
		value = next;
	}
	*out = value;
	return 0;
}

static bool is_literal_word(const char *w)
{
	return strcmp(w, "true") == 0 || strcmp(w, "false") == 0 || strcmp(w, "nil") == 0;
}

static int call_function(context *cx, const char *name, json_t **args, size_t n, json_t **out, berth_error **err);

/* One operand starting at T[*I]; advances *I. */
static int eval_operand(context *cx, const token *t, size_t *i, size_t end, json_t *dot, json_t **out,
			berth_error **err)
{
	const token *k = &t[*i];
	json_t *v = NULL;

	(*i)++;
	switch (k->kind) {
	case T_DOT:
		v = json_incref(dot);
		break;
	case T_FIELD:
		return apply_fields(json_incref(dot), k->text, out, err);
	case T_VAR: {
		bool found = false;
		if (k->text[0] == '\0') {
			v = json_incref(cx->root);
			found = true;
		}
		for (size_t j = cx->nvars; !found && j > 0; j--) {
			if (strcmp(cx->vars[j - 1].name, k->text) == 0) {
				v = json_incref(cx->vars[j - 1].value);
				found = true;
			}
		}
		if (!found)
			return berth_error_set(err, 0, "template: undefined variable \"$%s\"", k->text);
		break;
	}
	case T_STRING:
		v = json_string(k->text);
		break;
	case T_NUMBER: {
		char *e;
		long long ll = strtoll(k->text, &e, 0);
		if (*e == '\0') {
			v = json_integer(ll);
		} else {
			double d = strtod(k->text, &e);
			if (*e != '\0')
				return berth_error_set(err, 0, "template: bad number \"%s\"", k->text);
			v = json_real(d);
		}
		break;
	}
	case T_IDENT:
		if (strcmp(k->text, "true") == 0 || strcmp(k->text, "false") == 0)
			v = json_boolean(k->text[0] == 't');
		else if (strcmp(k->text, "nil") == 0)
			v = json_null();
		else if (call_function(cx, k->text, NULL, 0, &v, err) < 0) /* a function without arguments */
			return -1;
		break;
	case T_LPAREN: {
		size_t depth = 1, j = *i;
		for (; j < end && depth; j++)
			depth += t[j].kind == T_LPAREN ? 1 : t[j].kind == T_RPAREN ? -1 : 0;
		if (depth)
			return berth_error_set(err, 0, "template: unclosed left paren");
		if (eval_pipeline(cx, t + *i, j - 1 - *i, dot, &v, err) < 0)
			return -1;
		*i = j;
		break;
	}
	default:
		return berth_error_set(err, 0, "template: unexpected %s in operand",
				       k->kind == T_RPAREN ? "\")\""
				       : k->kind == T_PIPE ? "\"|\""
							   : "token");
	}
	/* "$x.A", "(...).A" */
	if (*i < end && t[*i].kind == T_FIELD && t[*i].adjacent && k->kind != T_STRING && k->kind != T_NUMBER) {
		const char *chain = t[*i].text;
		(*i)++;
		return apply_fields(v, chain, out, err);
	}
	*out = v;
	return 0;
}

/* One command of a pipeline: a function with its arguments (and PIPED, the
 * value of the command before, as the last one) or a single operand. */
static int eval_command(context *cx, const token *t, size_t n, json_t *dot, json_t *piped, bool has_piped, json_t **out,
			berth_error **err)
{
	json_t **args = NULL;
	size_t nargs = 0, i = 0;
	int ret = -1;

	if (n == 0)
		return berth_error_set(err, 0, "template: missing command");
	if (t[0].kind != T_IDENT || is_literal_word(t[0].text)) {
		if (eval_operand(cx, t, &i, n, dot, out, err) < 0)
			return -1;
		if (i < n || has_piped) {
			json_decref(*out);
			return berth_error_set(err, 0, "template: can't give argument to non-function");
		}
		return 0;
	}
	args = calloc(n + 1, sizeof(json_t *));
	if (args == NULL)
		return berth_error_set(err, ENOMEM, "template");
	for (i = 1; i < n;) {
		if (eval_operand(cx, t, &i, n, dot, &args[nargs], err) < 0)
			goto out;
		nargs++;
	}
	if (has_piped)
		args[nargs++] = json_incref(piped);
	ret = call_function(cx, t[0].text, args, nargs, out, err);
out:
	for (i = 0; i < nargs; i++)
		json_decref(args[i]);
	free(args);
	return ret;
}

static int eval_pipeline(context *cx, const token *t, size_t n, json_t *dot, json_t **out, berth_error **err)
{
	json_t *value = NULL;
	bool has = false;
	size_t start = 0;
	int depth = 0;

	for (size_t i = 0; i <= n; i++) {
		json_t *next;
		if (i < n && t[i].kind == T_LPAREN)
			depth++;
		if (i < n && t[i].kind == T_RPAREN)
			depth--;
		if (i < n && !(t[i].kind == T_PIPE && depth == 0))
			continue;
		if (eval_command(cx, t + start, i - start, dot, value, has, &next, err) < 0) {
			json_decref(value);
			return -1;
		}
		json_decref(value);
		value = next;
		has = true;
		start = i + 1;
	}
	*out = value;
	return 0;
}

/* ---- functions ---- */

static int compare(json_t *a, json_t *b, int *out, berth_error **err)
{
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		*out = x < y ? -1 : x > y;
		return 0;
	}
	if (json_is_string(a) && json_is_string(b)) {
		*out = strcmp(json_string_value(a), json_string_value(b));
		return 0;
	}
	if (json_is_boolean(a) && json_is_boolean(b)) {
		*out = json_is_true(a) == json_is_true(b) ? 0 : 1;
		return 0;
	}
	if ((a == NULL || json_is_null(a)) && (b == NULL || json_is_null(b))) {
		*out = 0;
		return 0;
	}
	return berth_error_set(err, 0, "template: incompatible types for comparison (%s and %s)", type_name(a),
			       type_name(b));
}

/* printf with Go's common verbs: %s %v %d %q %t %f %x, widths passed on. */
static int go_printf(json_t **args, size_t n, json_t **out, berth_error **err)
{
	const char *f = json_string_value(args[0]);
	char *buf = NULL;
	size_t len = 0, a = 1;
	FILE *o;

	if (f == NULL)
		return berth_error_set(err, 0, "template: printf: the format must be a string");
	o = open_memstream(&buf, &len);
	if (o == NULL)
		return berth_error_set(err, ENOMEM, "template");
	for (; *f; f++) {
		char spec[32], verb;
		size_t sl = 0;
		if (*f != '%') {
			fputc(*f, o);
			continue;
		}
		spec[sl++] = '%';
		f++;
		while (*f && strchr("-+ #0123456789.", *f) && sl < sizeof(spec) - 3)
			spec[sl++] = *f++;
		verb = *f;
		if (verb == '\0')
			break;
		if (verb == '%') {
			fputc('%', o);
			continue;
		}
		if (a >= n) {
			fprintf(o, "%%!%c(MISSING)", verb);
			continue;
		}
		json_t *v = args[a++];
		if ((verb == 'd' || verb == 'x') && json_is_integer(v)) {
			spec[sl++] = 'l';
			spec[sl++] = 'l';
			spec[sl++] = verb;
			spec[sl] = '\0';
			fprintf(o, spec, (long long)json_integer_value(v));
		} else if ((verb == 'f' || verb == 'g' || verb == 'e') && json_is_number(v)) {
			spec[sl++] = verb;
			spec[sl] = '\0';
			fprintf(o, spec, json_number_value(v));
		} else if (verb == 'q' && json_is_string(v)) {
			_cleanup_free_ char *q = json_dumps(v, JSON_ENCODE_ANY);
			fputs(q ? q : "", o);
		} else {
			_cleanup_free_ char *text = value_text(v);
			spec[sl++] = 's';
			spec[sl] = '\0';
			fprintf(o, spec, text ? text : "");
		}
	}
	fclose(o);
	*out = json_string(buf ? buf : "");
	free(buf);
	return 0;
}

/* Go's fmt.Sprint: spaces between operands when neither is a string. */
static json_t *go_sprint(json_t **args, size_t n, bool line)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);
	json_t *r;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (line || (!json_is_string(args[i - 1]) && !json_is_string(args[i]))))
			fputc(' ', o);
		print_value(o, args[i], true);
	}
	if (line)
		fputc('\n', o);
	fclose(o);
	r = json_string(buf ? buf : "");
	free(buf);
	return r;
}

static json_t *change_case(json_t *v, bool upper)
{
	_cleanup_free_ char *text = value_text(v);
	for (char *p = text; p && *p; p++)
		*p = (char)(upper ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
	return json_string(text ? text : "");
}

static int fn_index(json_t **args, size_t n, json_t **out, berth_error **err)
{
	json_t *v = json_incref(args[0]);

	for (size_t i = 1; i < n; i++) {
		json_t *next;
		if (json_is_object(v) && json_is_string(args[i])) {
			/* a missing key: the zero value of docker's map[string]string */
			next = json_object_get(v, json_string_value(args[i]));
			next = next ? json_incref(next) : json_string("");
		} else if (json_is_array(v) && json_is_integer(args[i])) {
			json_int_t k = json_integer_value(args[i]);
			if (k < 0 || (size_t)k >= json_array_size(v)) {
				json_decref(v);
				return berth_error_set(err, 0, "template: index out of range: %lld", (long long)k);
			}
			next = json_incref(json_array_get(v, (size_t)k));
		} else if (v == NULL || json_is_null(v)) {
			next = NULL;
		} else {
			berth_error_set(err, 0, "template: can't index item of type %s", type_name(v));
			json_decref(v);
			return -1;
		}
		json_decref(v);
		v = next;
	}
	*out = v;
	return 0;
}

static int fn_join(json_t **args, json_t **out, berth_error **err)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *o;
	json_t *e;

	if (!json_is_array(args[0]) || !json_is_string(args[1]))
		return berth_error_set(err, 0, "template: join takes a list and a separator");
	o = open_memstream(&buf, &len);
	if (o == NULL)
		return berth_error_set(err, ENOMEM, "template");
	json_array_foreach(args[0], i, e) {
		if (i)
			fputs(json_string_value(args[1]), o);
		print_value(o, e, true);
	}
	fclose(o);
	*out = json_string(buf ? buf : "");
	free(buf);
	return 0;
}

static int fn_split(json_t **args, json_t **out, berth_error **err)
{
	const char *s = json_string_value(args[0]), *sep = json_string_value(args[1]);
	json_t *a;

	if (s == NULL || sep == NULL || sep[0] == '\0')
		return berth_error_set(err, 0, "template: split takes a string and a separator");
	a = json_array();
	for (const char *p;; s = p + strlen(sep)) {
		p = strstr(s, sep);
		json_array_append_new(a, json_stringn(s, p ? (size_t)(p - s) : strlen(s)));
		if (p == NULL)
			break;
	}
	*out = a;
	return 0;
}

static int call_function(context *cx, const char *name, json_t **args, size_t n, json_t **out, berth_error **err)
{
	static const struct {
		const char *name;
		int min, max; /* arguments; max -1: any */
	} fns[] = {
		{ "json", 1, 1 },  { "index", 1, -1 }, { "len", 1, 1 },	    { "upper", 1, 1 },	{ "lower", 1, 1 },
		{ "join", 2, 2 },  { "split", 2, 2 },  { "printf", 1, -1 }, { "print", 0, -1 }, { "println", 0, -1 },
		{ "eq", 2, -1 },   { "ne", 2, 2 },     { "lt", 2, 2 },	    { "le", 2, 2 },	{ "gt", 2, 2 },
		{ "ge", 2, 2 },	   { "not", 1, 1 },    { "and", 1, -1 },    { "or", 1, -1 },	{ "truncate", 2, 2 },
		{ "title", 1, 1 },
	};
	size_t f = 0;
	int c;

	(void)cx;
	while (f < sizeof(fns) / sizeof(fns[0]) && strcmp(fns[f].name, name) != 0)
		f++;
	if (f == sizeof(fns) / sizeof(fns[0]))
		return berth_error_set(err, 0, "template: function \"%s\" not defined", name);
	if ((int)n < fns[f].min || (fns[f].max >= 0 && (int)n > fns[f].max))
		return berth_error_set(err, 0, "template: wrong number of args for %s: want %d got %zu", name,
				       fns[f].min, n);
	if (strcmp(name, "json") == 0) {
		char *text = args[0] ? json_dumps(args[0], JSON_ENCODE_ANY | JSON_COMPACT) : strdup("null");
		*out = json_string(text ? text : "");
		free(text);
	} else if (strcmp(name, "index") == 0) {
		return fn_index(args, n, out, err);
	} else if (strcmp(name, "len") == 0) {
		if (json_is_array(args[0]))
			*out = json_integer((json_int_t)json_array_size(args[0]));
		else if (json_is_object(args[0]))
			*out = json_integer((json_int_t)json_object_size(args[0]));
		else if (json_is_string(args[0]))
			*out = json_integer((json_int_t)json_string_length(args[0]));
		else
			return berth_error_set(err, 0, "template: len of type %s", type_name(args[0]));
	} else if (strcmp(name, "upper") == 0 || strcmp(name, "lower") == 0) {
		*out = change_case(args[0], name[0] == 'u');
	} else if (strcmp(name, "title") == 0) {
		_cleanup_free_ char *text = value_text(args[0]);
		for (char *p = text; p && *p; p++)
			if (p == text || p[-1] == ' ')
				*p = (char)toupper((unsigned char)*p);
		*out = json_string(text ? text : "");
	} else if (strcmp(name, "join") == 0) {
		return fn_join(args, out, err);
	} else if (strcmp(name, "split") == 0) {
		return fn_split(args, out, err);
	} else if (strcmp(name, "truncate") == 0) {
		_cleanup_free_ char *text = value_text(args[0]);
		json_int_t k = json_integer_value(args[1]);
		if (text && k >= 0 && strlen(text) > (size_t)k)
			text[k] = '\0';
		*out = json_string(text ? text : "");
	} else if (strcmp(name, "printf") == 0) {
		return go_printf(args, n, out, err);
	} else if (strcmp(name, "print") == 0 || strcmp(name, "println") == 0) {
		*out = go_sprint(args, n, name[5] == 'l');
	} else if (strcmp(name, "eq") == 0) {
		bool any = false;
		for (size_t i = 1; i < n && !any; i++) {
			if (compare(args[0], args[i], &c, err) < 0)
				return -1;
			any = c == 0;
		}
		*out = json_boolean(any);
	} else if (strcmp(name, "ne") == 0 || name[1] == 't' || name[1] == 'e') { /* ne lt le gt ge */
		if (compare(args[0], args[1], &c, err) < 0)
			return -1;
		*out = json_boolean(strcmp(name, "ne") == 0   ? c != 0
				    : strcmp(name, "lt") == 0 ? c < 0
				    : strcmp(name, "le") == 0 ? c <= 0
				    : strcmp(name, "gt") == 0 ? c > 0
							      : c >= 0);
	} else if (strcmp(name, "not") == 0) {
		*out = json_boolean(!truth(args[0]));
	} else { /* and, or: the first value that decides, else the last */
		bool want = strcmp(name, "or") == 0;
		size_t i = 0;
		while (i + 1 < n && truth(args[i]) != want)
			i++;
		*out = json_incref(args[i]);
	}
	return 0;
}

/* ---- executing the tree ---- */

static int exec_range(context *cx, const node *nd, json_t *value, berth_error **err)
{
	size_t mark = cx->nvars, i, n;
	json_t *e;
	int ret = 0;

	if (json_is_array(value) && json_array_size(value) > 0) {
		json_array_foreach(value, i, e) {
			if (nd->nvars == 2 && var_push(cx, nd->vars[0], json_integer((json_int_t)i)) < 0)
				return berth_error_set(err, ENOMEM, "template");
			if (nd->nvars > 0 && var_push(cx, nd->vars[nd->nvars - 1], json_incref(e)) < 0)
				return berth_error_set(err, ENOMEM, "template");
			ret = exec_list(cx, &nd->body, e, err);
			vars_pop_to(cx, mark);
			if (ret < 0)
				return -1;
		}
		return 0;
	}
	if (json_is_object(value) && json_object_size(value) > 0) {
		_cleanup_free_ const char **keys = sorted_keys(value, &n);
		if (keys == NULL)
			return berth_error_set(err, ENOMEM, "template");
		for (i = 0; i < n; i++) {
			e = json_object_get(value, keys[i]);
			if (nd->nvars == 2 && var_push(cx, nd->vars[0], json_string(keys[i])) < 0)
				return berth_error_set(err, ENOMEM, "template");
			if (nd->nvars > 0 && var_push(cx, nd->vars[nd->nvars - 1], json_incref(e)) < 0)
				return berth_error_set(err, ENOMEM, "template");
			ret = exec_list(cx, &nd->body, e, err);
			vars_pop_to(cx, mark);
			if (ret < 0)
				return -1;
		}
		return 0;
	}
	if (value && !json_is_array(value) && !json_is_object(value) && !json_is_null(value))
		return berth_error_set(err, 0, "template: range can't iterate over %s", type_name(value));
	return exec_list(cx, &nd->other, cx->root, err) < 0 ? -1 : 0;
}

static int exec_node(context *cx, const node *nd, json_t *dot, berth_error **err)
{
	json_t *value = NULL;
	size_t mark = cx->nvars;
	int ret;

	if (nd->kind == N_TEXT) {
		fputs(nd->text, cx->out);
		return 0;
	}
	if (eval_pipeline(cx, nd->toks, nd->ntoks, dot, &value, err) < 0)
		return -1;
	switch (nd->kind) {
	case N_ACTION:
		if (nd->nvars == 1)
			return var_push(cx, nd->vars[0], value) < 0 ? berth_error_set(err, ENOMEM, "template") : 0;
		print_value(cx->out, value, true);
		ret = 0;
		break;
	case N_IF:
		ret = exec_list(cx, truth(value) ? &nd->body : &nd->other, dot, err);
		break;
	case N_WITH:
		ret = truth(value) ? exec_list(cx, &nd->body, value, err) : exec_list(cx, &nd->other, dot, err);
		break;
	default:
		ret = exec_range(cx, nd, value, err);
		break;
	}
	vars_pop_to(cx, mark);
	json_decref(value);
	return ret;
}

static int exec_list(context *cx, const node_list *l, json_t *dot, berth_error **err)
{
	size_t mark = cx->nvars;
	int ret = 0;

	for (size_t i = 0; i < l->n && ret == 0; i++)
		ret = exec_node(cx, l->items[i], dot, err);
	vars_pop_to(cx, mark);
	return ret;
}

int gotemplate_execute(const gotemplate *t, json_t *data, char **out, berth_error **err)
{
	context cx = { .root = data };
	char *buf = NULL;
	size_t len = 0;
	int ret;

	cx.out = open_memstream(&buf, &len);
	if (cx.out == NULL)
		return berth_error_set(err, errno, "template");
	ret = exec_list(&cx, &t->root, data, err);
	vars_pop_to(&cx, 0);
	free(cx.vars);
	fclose(cx.out);
	if (ret < 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}
