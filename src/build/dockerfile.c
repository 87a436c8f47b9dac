#include "build/dockerfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "build/expand.h"
#include "build/mount.h"
#include "build/strv.h"
#include "engine/run_config.h"
#include "image/digest.h"
#include "util/cleanup.h"

static const char *const kind_names[] = {
	[DF_FROM] = "FROM",	  [DF_RUN] = "RUN",
	[DF_COPY] = "COPY",	  [DF_ADD] = "ADD",
	[DF_ENV] = "ENV",	  [DF_ARG] = "ARG",
	[DF_LABEL] = "LABEL",	  [DF_USER] = "USER",
	[DF_WORKDIR] = "WORKDIR", [DF_EXPOSE] = "EXPOSE",
	[DF_VOLUME] = "VOLUME",	  [DF_ENTRYPOINT] = "ENTRYPOINT",
	[DF_CMD] = "CMD",	  [DF_HEALTHCHECK] = "HEALTHCHECK",
	[DF_SHELL] = "SHELL",	  [DF_STOPSIGNAL] = "STOPSIGNAL",
	[DF_ONBUILD] = "ONBUILD", [DF_MAINTAINER] = "MAINTAINER",
};

const char *df_kind_name(df_kind kind)
{
	return kind <= DF_MAINTAINER ? kind_names[kind] : "?";
}

/* The flags each instruction takes; NULL-terminated. */
static const char *const *kind_flags(df_kind kind)
{
	static const char *const from[] = { "platform", NULL };
	static const char *const run[] = { "mount", "network", "security", NULL };
	static const char *const copy[] = { "from", "chown", "chmod", "link", NULL };
	static const char *const add[] = { "chown", "chmod", "checksum", "keep-git-dir", "link", NULL };
	static const char *const health[] = {
		"interval", "timeout", "start-period", "start-interval", "retries", NULL
	};
	static const char *const none[] = { NULL };

	switch (kind) {
	case DF_FROM:
		return from;
	case DF_RUN:
		return run;
	case DF_COPY:
		return copy;
	case DF_ADD:
		return add;
	case DF_HEALTHCHECK:
		return health;
	default:
		return none;
	}
}

__attribute__((format(printf, 5, 6))) static int fail(berth_error **err, const char *path, unsigned line,
						      const char *what, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (what)
		return berth_error_request(err, EINVAL, "%s:%u: %s: %s", path, line, what, msg ? msg : "error");
	return berth_error_request(err, EINVAL, "%s:%u: %s", path, line, msg ? msg : "error");
}

const char *df_flag_get(const df_instruction *in, const char *name)
{
	for (size_t i = 0; i < in->n_flags; i++)
		if (strcmp(in->flags[i].name, name) == 0)
			return in->flags[i].value ? in->flags[i].value : "";
	return NULL;
}

static void instruction_free(df_instruction *in)
{
	free(in->original);
	free(in->args);
	for (size_t i = 0; i < in->n_flags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	strv_free(in->argv);
	for (size_t i = 0; i < in->n_heredocs; i++) {
		free(in->heredocs[i].name);
		free(in->heredocs[i].body);
	}
	free(in->heredocs);
	if (in->inner) {
		instruction_free(in->inner);
		free(in->inner);
	}
	memset(in, 0, sizeof(*in));
}

void df_file_free(df_file *f)
{
	free(f->path);
	free(f->syntax);
	for (size_t i = 0; i < f->n_global_args; i++)
		instruction_free(&f->global_args[i]);
	free(f->global_args);
	for (size_t s = 0; s < f->n_stages; s++) {
		df_stage *st = &f->stages[s];
		free(st->base);
		free(st->name);
		free(st->platform);
		for (size_t i = 0; i < st->n_steps; i++)
			instruction_free(&st->steps[i]);
		free(st->steps);
	}
	free(f->stages);
	memset(f, 0, sizeof(*f));
}

/* ---- lines ---- */

typedef struct lines {
	char **v; /* without their '\n' */
	size_t n, i;
} lines;

static int lines_split(const char *text, size_t len, lines *out)
{
	size_t start = 0;

	out->v = calloc(1, sizeof(char *));
	out->n = out->i = 0;
	if (out->v == NULL)
		return -1;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != '\n')
			continue;
		if (i == len && start == len)
			break;
		size_t end = i;
		if (end > start && text[end - 1] == '\r')
			end--;
		if (build_strv_add(&out->v, text + start, end - start) < 0)
			return -1;
		out->n++;
		start = i + 1;
	}
	return 0;
}

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static bool blank_or_comment(const char *line)
{
	const char *s = skip_space(line);
	return *s == '\0' || *s == '#';
}

/* "# key=value" at the top of the file. */
static int read_directives(df_file *f, lines *ls, berth_error **err)
{
	bool seen_escape = false, seen_syntax = false;

	for (; ls->i < ls->n; ls->i++) {
		const char *s = skip_space(ls->v[ls->i]), *key, *eq;
		size_t key_len;
		if (*s != '#')
			return 0;
		s = skip_space(s + 1);
		key = s;
		while (isalnum((unsigned char)*s) || *s == '_' || *s == '-')
			s++;
		key_len = (size_t)(s - key);
		eq = skip_space(s);
		if (key_len == 0 || *eq != '=')
			return 0;
		_cleanup_free_ char *value = strdup(skip_space(eq + 1));
		if (value == NULL)
			return berth_error_set(err, ENOMEM, "%s", f->path);
		for (size_t n = strlen(value); n > 0 && isspace((unsigned char)value[n - 1]); n--)
			value[n - 1] = '\0';
		if (key_len == 6 && strncasecmp(key, "escape", 6) == 0) {
			if (seen_escape)
				return fail(err, f->path, (unsigned)ls->i + 1, NULL,
					    "only one escape parser directive can be used");
			if (strcmp(value, "\\") != 0 && strcmp(value, "`") != 0)
				return fail(err, f->path, (unsigned)ls->i + 1, NULL,
					    "invalid escape token '%s': must be ` or \\", value);
			f->escape = value[0];
			seen_escape = true;
		} else if (key_len == 6 && strncasecmp(key, "syntax", 6) == 0) {
			if (seen_syntax)
				return fail(err, f->path, (unsigned)ls->i + 1, NULL,
					    "only one syntax parser directive can be used");
			free(f->syntax);
			f->syntax = move_ptr(value);
			seen_syntax = true;
		} else if (!(key_len == 5 && strncasecmp(key, "check", 5) == 0)) {
			return 0; /* an unknown directive is a comment and ends the directives */
		}
	}
	return 0;
}

/* Ends with the escape character (after trailing whitespace)? Removes it. */
static bool strip_continuation(char *line, char escape)
{
	size_t n = strlen(line);

	while (n > 0 && isspace((unsigned char)line[n - 1]))
		n--;
	if (n > 0 && line[n - 1] == escape) {
		line[n - 1] = '\0';
		return true;
	}
	return false;
}

/* The logical line starting at ls->i (comments and blank lines in a
 * continuation skipped). */
static int logical_line(lines *ls, char escape, char **out)
{
	_cleanup_free_ char *acc = strdup(ls->v[ls->i]);
	bool more;

	if (acc == NULL)
		return -1;
	ls->i++;
	more = strip_continuation(acc, escape);
	while (more && ls->i < ls->n) {
		char *next = ls->v[ls->i++], *joined = NULL;
		if (blank_or_comment(next))
			continue;
		if (asprintf(&joined, "%s%s", acc, next) < 0)
			return -1;
		free(acc);
		acc = joined;
		more = strip_continuation(acc, escape);
	}
	*out = move_ptr(acc);
	return 0;
}

/* ---- one instruction ---- */

static bool keyword_kind(const char *word, size_t len, df_kind *kind)
{
	for (size_t k = 0; k <= DF_MAINTAINER; k++) {
		if (strlen(kind_names[k]) == len && strncasecmp(word, kind_names[k], len) == 0) {
			*kind = (df_kind)k;
			return true;
		}
	}
	return false;
}

/* Reads leading --name[=value] words off *REST. */
static int read_flags(df_instruction *in, const char **rest, const char *path, berth_error **err)
{
	const char *s = *rest;
	const char *const *allowed = kind_flags(in->kind);

	while (s[0] == '-' && s[1] == '-') {
		const char *start = s + 2, *eq = NULL;
		char quote = 0;
		_cleanup_free_ char *name = NULL, *value = NULL;
		bool known = false;
		while (*s && (quote || !isspace((unsigned char)*s))) {
			if (quote && *s == quote)
				quote = 0;
			else if (!quote && (*s == '"' || *s == '\''))
				quote = *s;
			else if (!quote && *s == '=' && eq == NULL)
				eq = s;
			s++;
		}
		name = strndup(start, (size_t)((eq ? eq : s) - start));
		if (eq) {
			_cleanup_free_ char *raw = strndup(eq + 1, (size_t)(s - eq - 1));
			if (raw == NULL)
				return berth_error_set(err, ENOMEM, "%s", path);
			if (build_expand_word(raw, '\\', NULL, &value, err) < 0)
				return berth_error_wrap(err, "%s:%u: %s: --%s", path, in->line, df_kind_name(in->kind),
							name ? name : "");
		}
		if (name == NULL)
			return berth_error_set(err, ENOMEM, "%s", path);
		if (name[0] == '\0') /* "--" ends the flags */
			break;
		for (size_t i = 0; allowed[i]; i++)
			known = known || strcmp(allowed[i], name) == 0;
		if (!known)
			return fail(err, path, in->line, df_kind_name(in->kind), "unknown flag: --%s", name);
		df_flag *p = realloc(in->flags, (in->n_flags + 1) * sizeof(df_flag));
		if (p == NULL)
			return berth_error_set(err, ENOMEM, "%s", path);
		in->flags = p;
		in->flags[in->n_flags].name = move_ptr(name);
		in->flags[in->n_flags++].value = move_ptr(value);
		s = skip_space(s);
	}
	*rest = s;
	return 0;
}

char **df_exec_form(const char *text)
{
	json_auto_t *j = NULL;
	char **v;
	size_t i;
	json_t *e;

	if (*skip_space(text) != '[')
		return NULL;
	j = json_loads(text, JSON_DECODE_ANY, NULL);
	if (!json_is_array(j))
		return NULL;
	v = calloc(1, sizeof(char *));
	json_array_foreach(j, i, e) {
		if (v == NULL || !json_is_string(e) || build_strv_add(&v, json_string_value(e), (size_t)-1) < 0) {
			strv_free(v);
			return NULL;
		}
	}
	return v;
}

static bool takes_json(df_kind kind)
{
	return kind == DF_RUN || kind == DF_CMD || kind == DF_ENTRYPOINT || kind == DF_SHELL || kind == DF_VOLUME ||
	       kind == DF_COPY || kind == DF_ADD;
}

/* "<<EOF", "<<-EOF", "<<'EOF'", "<<\"EOF\"" at WORD; fills H (name only). */
static bool heredoc_word(const char *word, df_heredoc *h)
{
	const char *s = word + 2;
	char quote = 0;
	size_t n;

	if (strncmp(word, "<<", 2) != 0)
		return false;
	h->strip_tabs = *s == '-';
	if (h->strip_tabs)
		s++;
	if (*s == '"' || *s == '\'')
		quote = *s++;
	n = 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '-' || s[n] == '.')
		n++;
	if (n == 0)
		return false;
	if (quote && s[n] != quote)
		return false;
	h->name = strndup(s, n);
	h->expand = quote == 0;
	return h->name != NULL;
}

static void strip_leading_tabs(char *line)
{
	size_t n = strspn(line, "\t");

	memmove(line, line + n, strlen(line + n) + 1);
}

/* Finds the heredoc words of a RUN/COPY/ADD and reads their bodies from the
 * lines after the instruction. */
static int read_heredocs(df_instruction *in, lines *ls, const char *path, berth_error **err)
{
	_cleanup_strv_ char **words = NULL;

	if (build_split_fields(in->args, &words) < 0)
		return berth_error_set(err, ENOMEM, "%s", path);
	for (size_t w = 0; words[w]; w++) {
		df_heredoc h = { 0 };
		char *body = strdup("");
		bool done = false;
		if (!heredoc_word(words[w], &h)) {
			free(body);
			continue;
		}
		while (body && ls->i < ls->n) {
			_cleanup_free_ char *line = strdup(ls->v[ls->i++]);
			char *grown = NULL;
			if (line == NULL)
				break;
			if (h.strip_tabs)
				strip_leading_tabs(line);
			if (strcmp(line, h.name) == 0) {
				done = true;
				break;
			}
			if (asprintf(&grown, "%s%s\n", body, line) < 0)
				grown = NULL;
			free(body);
			body = grown;
		}
		if (body == NULL) {
			free(h.name);
			return berth_error_set(err, ENOMEM, "%s", path);
		}
		if (!done) {
			int ret = fail(err, path, in->line, df_kind_name(in->kind),
				       "unterminated heredoc: no line \"%s\" after it", h.name);
			free(h.name);
			free(body);
			return ret;
		}
		h.body = body;
		df_heredoc *p = realloc(in->heredocs, (in->n_heredocs + 1) * sizeof(df_heredoc));
		if (p == NULL) {
			free(h.name);
			free(body);
			return berth_error_set(err, ENOMEM, "%s", path);
		}
		in->heredocs = p;
		in->heredocs[in->n_heredocs++] = h;
	}
	return 0;
}

static bool stage_name_valid(const char *name)
{
	if (!isalpha((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return true;
}

static bool arg_name_valid(const char *name, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-' && name[i] != '.')
			return false;
	return true;
}

static int validate_pairs(const df_instruction *in, char escape, const char *path, bool legacy_ok, berth_error **err)
{
	_cleanup_strv_ char **words = NULL;
	const char *what = df_kind_name(in->kind);

	if (build_split_words(in->args, escape, &words, err) < 0)
		return berth_error_wrap(err, "%s:%u: %s", path, in->line, what);
	if (words[0] == NULL)
		return fail(err, path, in->line, what, "requires at least one argument");
	if (strchr(words[0], '=') == NULL) {
		if (!legacy_ok || words[1] == NULL)
			return fail(err, path, in->line, what, "can't find = in \"%s\": must be of the form name=value",
				    words[0]);
		return 0; /* "ENV key value" */
	}
	for (size_t i = 0; words[i]; i++) {
		if (strchr(words[i], '=') == NULL)
			return fail(err, path, in->line, what, "can't find = in \"%s\": must be of the form name=value",
				    words[i]);
		if (words[i][0] == '=')
			return fail(err, path, in->line, what, "names can not be blank");
	}
	return 0;
}

static int validate_healthcheck(const df_instruction *in, const char *path, berth_error **err)
{
	const char *what = "HEALTHCHECK", *a = in->args;
	static const char *const durations[] = { "interval", "timeout", "start-period", "start-interval", NULL };

	if (strncasecmp(a, "NONE", 4) == 0 && (a[4] == '\0' || isspace((unsigned char)a[4]))) {
		if (*skip_space(a + 4) != '\0')
			return fail(err, path, in->line, what, "NONE takes no arguments");
		if (in->n_flags)
			return fail(err, path, in->line, what, "NONE takes no flags");
		return 0;
	}
	if (strncasecmp(a, "CMD", 3) != 0 || !(a[3] == '\0' || isspace((unsigned char)a[3])) ||
	    *skip_space(a + 3) == '\0')
		return fail(err, path, in->line, what, "expected NONE or CMD followed by a command");
	for (size_t i = 0; durations[i]; i++) {
		const char *v = df_flag_get(in, durations[i]);
		if (v && run_parse_go_duration_ns(v) < 0)
			return fail(err, path, in->line, what, "--%s: invalid duration \"%s\"", durations[i], v);
	}
	const char *r = df_flag_get(in, "retries");
	if (r) {
		char *end;
		long n = strtol(r, &end, 10);
		if (*r == '\0' || *end || n < 0)
			return fail(err, path, in->line, what, "--retries: invalid number \"%s\"", r);
	}
	return 0;
}

static int validate_run(const df_instruction *in, const char *path, berth_error **err)
{
	const char *v;

	for (size_t i = 0; i < in->n_flags; i++) {
		build_mount m;
		if (strcmp(in->flags[i].name, "mount") != 0)
			continue;
		if (in->flags[i].value == NULL)
			return fail(err, path, in->line, "RUN", "--mount needs a value");
		if (strchr(in->flags[i].value, '$'))
			continue; /* checked once expanded */
		if (build_mount_parse(in->flags[i].value, &m, err) < 0)
			return berth_error_wrap(err, "%s:%u: RUN", path, in->line);
		build_mount_free(&m);
	}
	v = df_flag_get(in, "network");
	if (v && strcmp(v, "none") != 0 && strcmp(v, "default") != 0 && strcmp(v, "host") != 0)
		return fail(err, path, in->line, "RUN", "--network: expected none, default or host, not \"%s\"", v);
	v = df_flag_get(in, "security");
	if (v && strcmp(v, "sandbox") != 0)
		return fail(err, path, in->line, "RUN", "--security=%s is not supported (only sandbox)", v);
	if (in->json ? in->argv[0] == NULL : *in->args == '\0')
		return fail(err, path, in->line, "RUN", "requires at least one argument");
	return 0;
}

static int validate(const df_instruction *in, char escape, const char *path, berth_error **err)
{
	const char *what = df_kind_name(in->kind);
	_cleanup_strv_ char **fields = NULL;
	size_t n;

	if (build_split_fields(in->args, &fields) < 0)
		return berth_error_set(err, ENOMEM, "%s", path);
	n = build_strv_len(fields);
	switch (in->kind) {
	case DF_FROM:
		if (n != 1 && !(n == 3 && strcasecmp(fields[1], "AS") == 0))
			return fail(err, path, in->line, what, "expected FROM [--platform=P] IMAGE [AS NAME]");
		if (n == 3 && !stage_name_valid(fields[2]))
			return fail(err, path, in->line, what,
				    "invalid stage name \"%s\": a letter, then letters, digits, '-', '_' or '.'",
				    fields[2]);
		return 0;
	case DF_RUN:
		return validate_run(in, path, err);
	case DF_COPY:
	case DF_ADD:
		n = in->json ? build_strv_len(in->argv) : n;
		if (n < 2)
			return fail(err, path, in->line, what, "requires at least two arguments");
		if (in->kind == DF_ADD && df_flag_get(in, "checksum") &&
		    !digest_is_valid(df_flag_get(in, "checksum")) && strchr(df_flag_get(in, "checksum"), '$') == NULL)
			return fail(err, path, in->line, what, "--checksum=%s: expected sha256:<64 hex digits>",
				    df_flag_get(in, "checksum"));
		return 0;
	case DF_ENV:
	case DF_LABEL:
		return validate_pairs(in, escape, path, true, err);
	case DF_ARG:
		if (n == 0)
			return fail(err, path, in->line, what, "requires at least one argument");
		for (size_t i = 0; i < n; i++) {
			const char *eq = strchr(fields[i], '=');
			if (!arg_name_valid(fields[i], eq ? (size_t)(eq - fields[i]) : strlen(fields[i])))
				return fail(err, path, in->line, what, "invalid name in \"%s\"", fields[i]);
		}
		return 0;
	case DF_USER:
	case DF_WORKDIR:
	case DF_STOPSIGNAL:
	case DF_MAINTAINER:
		if (n == 0)
			return fail(err, path, in->line, what, "requires exactly one argument");
		return 0;
	case DF_EXPOSE:
	case DF_VOLUME:
		if ((in->json ? build_strv_len(in->argv) : n) == 0)
			return fail(err, path, in->line, what, "requires at least one argument");
		return 0;
	case DF_SHELL:
		if (!in->json)
			return fail(err, path, in->line, what, "requires the arguments to be in JSON form");
		if (in->argv[0] == NULL)
			return fail(err, path, in->line, what, "requires at least one argument");
		return 0;
	case DF_CMD:
	case DF_ENTRYPOINT:
		return 0;
	case DF_HEALTHCHECK:
		return validate_healthcheck(in, path, err);
	case DF_ONBUILD:
		if (n == 0)
			return fail(err, path, in->line, what, "requires at least one argument");
		return 0;
	}
	return 0;
}

/* Parses TEXT (one logical line) into IN; LS (may be NULL) gives heredoc
 * bodies. */
static int parse_instruction(const char *text, unsigned line, lines *ls, char escape, const char *path,
			     df_instruction *in, berth_error **err)
{
	const char *s = skip_space(text), *kw = s, *rest;
	size_t kw_len;

	while (*s && !isspace((unsigned char)*s))
		s++;
	kw_len = (size_t)(s - kw);
	in->line = line;
	if (!keyword_kind(kw, kw_len, &in->kind))
		return fail(err, path, line, NULL, "unknown instruction: %.*s", (int)kw_len, kw);
	rest = skip_space(s);
	in->original = strdup(skip_space(text));
	if (in->original == NULL)
		return berth_error_set(err, ENOMEM, "%s", path);
	for (size_t n = strlen(in->original); n > 0 && isspace((unsigned char)in->original[n - 1]); n--)
		in->original[n - 1] = '\0';
	if (read_flags(in, &rest, path, err) < 0)
		return -1;
	in->args = strdup(rest);
	if (in->args == NULL)
		return berth_error_set(err, ENOMEM, "%s", path);
	for (size_t n = strlen(in->args); n > 0 && isspace((unsigned char)in->args[n - 1]); n--)
		in->args[n - 1] = '\0';
	if (takes_json(in->kind) && (in->argv = df_exec_form(in->args)) != NULL)
		in->json = true;
	if (ls && !in->json && (in->kind == DF_RUN || in->kind == DF_COPY || in->kind == DF_ADD) &&
	    read_heredocs(in, ls, path, err) < 0)
		return -1;
	if (in->kind == DF_ONBUILD && in->args[0]) {
		in->inner = calloc(1, sizeof(*in->inner));
		if (in->inner == NULL)
			return berth_error_set(err, ENOMEM, "%s", path);
		if (parse_instruction(in->args, line, NULL, escape, path, in->inner, err) < 0)
			return -1;
		if (in->inner->kind == DF_ONBUILD || in->inner->kind == DF_FROM || in->inner->kind == DF_MAINTAINER)
			return fail(err, path, line, "ONBUILD", "%s isn't allowed as an ONBUILD trigger",
				    df_kind_name(in->inner->kind));
	}
	return validate(in, escape, path, err);
}

static int add_instruction(df_instruction **v, size_t *n, df_instruction *in)
{
	df_instruction *p = realloc(*v, (*n + 1) * sizeof(df_instruction));

	if (p == NULL)
		return -1;
	*v = p;
	(*v)[(*n)++] = *in;
	memset(in, 0, sizeof(*in));
	return 0;
}

static int start_stage(df_file *f, df_instruction *in, berth_error **err)
{
	_cleanup_strv_ char **fields = NULL;
	df_stage *p, *st;

	if (build_split_fields(in->args, &fields) < 0)
		return berth_error_set(err, ENOMEM, "%s", f->path);
	p = realloc(f->stages, (f->n_stages + 1) * sizeof(df_stage));
	if (p == NULL)
		return berth_error_set(err, ENOMEM, "%s", f->path);
	f->stages = p;
	st = &f->stages[f->n_stages++];
	memset(st, 0, sizeof(*st));
	st->line = in->line;
	st->base = strdup(fields[0]);
	if (fields[1]) {
		st->name = strdup(fields[2]);
		for (char *c = st->name; c && *c; c++)
			*c = (char)tolower((unsigned char)*c);
		for (size_t i = 0; st->name && i + 1 < f->n_stages; i++)
			if (f->stages[i].name && strcmp(f->stages[i].name, st->name) == 0)
				return fail(err, f->path, in->line, "FROM", "duplicate stage name \"%s\"", st->name);
	}
	if (df_flag_get(in, "platform"))
		st->platform = strdup(df_flag_get(in, "platform"));
	if (st->base == NULL || (fields[1] && st->name == NULL))
		return berth_error_set(err, ENOMEM, "%s", f->path);
	return 0;
}

int df_parse(const char *path, const char *text, size_t len, df_file *out, berth_error **err)
{
	lines ls = { 0 };
	df_file f = { .escape = '\\' };
	int ret = 0;

	f.path = strdup(path);
	if (f.path == NULL || lines_split(text, len, &ls) < 0) {
		ret = berth_error_set(err, ENOMEM, "%s", path);
		goto out;
	}
	if (memchr(text, '\0', len)) {
		ret = berth_error_request(err, EINVAL, "%s: not a text file (NUL byte)", path);
		goto out;
	}
	ret = read_directives(&f, &ls, err);
	while (ret == 0 && ls.i < ls.n) {
		_cleanup_free_ char *logical = NULL;
		df_instruction in = { 0 };
		unsigned line = (unsigned)ls.i + 1;
		if (blank_or_comment(ls.v[ls.i])) {
			ls.i++;
			continue;
		}
		if (logical_line(&ls, f.escape, &logical) < 0) {
			ret = berth_error_set(err, ENOMEM, "%s", path);
			break;
		}
		if (*skip_space(logical) == '\0')
			continue;
		ret = parse_instruction(logical, line, &ls, f.escape, path, &in, err);
		if (ret == 0 && in.kind == DF_FROM)
			ret = start_stage(&f, &in, err);
		if (ret == 0 && f.n_stages == 0 && in.kind != DF_ARG)
			ret =
			    fail(err, path, line, df_kind_name(in.kind), "no FROM before it (only ARG may come first)");
		if (ret == 0 && f.n_stages == 0)
			ret = add_instruction(&f.global_args, &f.n_global_args, &in);
		else if (ret == 0 && in.kind != DF_FROM)
			ret = add_instruction(&f.stages[f.n_stages - 1].steps, &f.stages[f.n_stages - 1].n_steps, &in);
		if (ret < 0 && err && *err == NULL)
			berth_error_set(err, ENOMEM, "%s", path);
		instruction_free(&in);
	}
	if (ret == 0 && f.n_stages == 0)
		ret = berth_error_request(err, EINVAL, "%s: no FROM instruction: nothing to build", path);
out:
	strv_free(ls.v);
	if (ret < 0) {
		df_file_free(&f);
		return ret;
	}
	*out = f;
	return 0;
}

int df_parse_trigger(const df_file *f, unsigned line, const char *text, df_instruction **out, berth_error **err)
{
	df_instruction *in = calloc(1, sizeof(*in));

	if (in == NULL)
		return berth_error_set(err, ENOMEM, "%s", f->path);
	if (parse_instruction(text, line, NULL, f->escape, f->path, in, err) < 0) {
		df_instruction_free(in);
		return -1;
	}
	if (in->kind == DF_ONBUILD || in->kind == DF_FROM || in->kind == DF_MAINTAINER) {
		int ret = fail(err, f->path, line, "ONBUILD", "%s isn't allowed as an ONBUILD trigger",
			       df_kind_name(in->kind));
		df_instruction_free(in);
		return ret;
	}
	*out = in;
	return 0;
}

void df_instruction_free(df_instruction *in)
{
	if (in == NULL)
		return;
	instruction_free(in);
	free(in);
}
