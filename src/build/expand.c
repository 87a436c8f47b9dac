#include "build/expand.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "build/strv.h"
#include "util/cleanup.h"

typedef struct buf {
	char *s;
	size_t len, cap;
} buf;

static int buf_add(buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->s, cap);
		if (p == NULL)
			return -1;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static int buf_addc(buf *b, char c)
{
	return buf_add(b, &c, 1);
}

const char *build_vars_get(const build_vars *vars, const char *name)
{
	const char *v;

	if (vars == NULL)
		return NULL;
	v = build_env_get(vars->env, name);
	return v ? v : build_env_get(vars->args, name);
}

typedef struct lexer {
	const char *s;
	size_t i;
	char esc;
	const build_vars *vars;
	const char *text; /* for messages */
	bool vars_only;	  /* quotes are plain characters, the escape only escapes '$' */
	berth_error **err;
} lexer;

static int lex_until(lexer *lx, char stop, buf *out);

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* After "${": NAME, an optional operator and word, then '}'. */
static int lex_braced(lexer *lx, buf *out)
{
	_cleanup_free_ char *name = NULL;
	buf word = { 0 };
	size_t start = lx->i;
	const char *value;
	char op = 0;
	bool colon = false;
	int ret = 0;

	while (name_char(lx->s[lx->i]))
		lx->i++;
	name = strndup(lx->s + start, lx->i - start);
	if (name == NULL)
		return berth_error_set(lx->err, ENOMEM, "expand");
	if (name[0] == '\0')
		return berth_error_request(lx->err, EINVAL, "bad substitution in \"%s\"", lx->text);
	if (lx->s[lx->i] == ':') {
		colon = true;
		lx->i++;
	}
	if (lx->s[lx->i] == '\0')
		return berth_error_request(lx->err, EINVAL, "missing '}' in \"%s\"", lx->text);
	if (lx->s[lx->i] != '}') {
		op = lx->s[lx->i];
		if (op != '-' && op != '+' && op != '?')
			return berth_error_request(lx->err, EINVAL, "unsupported modifier in \"%s\"", lx->text);
		lx->i++;
		if (lex_until(lx, '}', &word) < 0) {
			free(word.s);
			return -1;
		}
	}
	if (lx->s[lx->i] != '}') {
		free(word.s);
		return berth_error_request(lx->err, EINVAL, "missing '}' in \"%s\"", lx->text);
	}
	lx->i++;
	value = build_vars_get(lx->vars, name);
	/* with ':' an empty value counts as unset */
	bool set = value && (!colon || value[0]);
	if (op == '-' && !set)
		value = word.s ? word.s : "";
	else if (op == '+')
		value = set ? (word.s ? word.s : "") : "";
	else if (op == '?' && !set)
		ret = berth_error_request(lx->err, EINVAL, "%s: %s", name,
					  word.s && word.s[0] ? word.s : "is not allowed to be unset");
	if (ret == 0 && value && buf_add(out, value, strlen(value)) < 0)
		ret = berth_error_set(lx->err, ENOMEM, "expand");
	free(word.s);
	return ret;
}

/* After '$'. */
static int lex_dollar(lexer *lx, buf *out)
{
	size_t start;
	const char *value;

	if (lx->vars == NULL)
		return buf_addc(out, '$');
	if (lx->s[lx->i] == '{') {
		lx->i++;
		return lex_braced(lx, out);
	}
	start = lx->i;
	while (name_char(lx->s[lx->i]))
		lx->i++;
	if (start == lx->i)
		return buf_addc(out, '$');
	_cleanup_free_ char *name = strndup(lx->s + start, lx->i - start);
	if (name == NULL)
		return -1;
	value = build_vars_get(lx->vars, name);
	return value ? buf_add(out, value, strlen(value)) : 0;
}

static int lex_double(lexer *lx, buf *out)
{
	for (;;) {
		char c = lx->s[lx->i];
		if (c == '\0')
			return berth_error_request(lx->err, EINVAL, "unterminated double quote in \"%s\"", lx->text);
		lx->i++;
		if (c == '"')
			return 0;
		if (c == lx->esc) {
			char n = lx->s[lx->i];
			if (n == '"' || n == '$' || n == lx->esc) {
				lx->i++;
				c = n;
			}
			if (buf_addc(out, c) < 0)
				return -1;
			continue;
		}
		if (c == '$') {
			if (lex_dollar(lx, out) < 0)
				return -1;
			continue;
		}
		if (buf_addc(out, c) < 0)
			return -1;
	}
}

/* Processes until the end of the text or an unquoted STOP (0: none). */
static int lex_until(lexer *lx, char stop, buf *out)
{
	if (buf_add(out, "", 0) < 0)
		return berth_error_set(lx->err, ENOMEM, "expand");
	for (;;) {
		char c = lx->s[lx->i];
		int ret = 0;
		if (c == '\0' || (stop && c == stop))
			return 0;
		lx->i++;
		if (lx->vars_only && c != '$') {
			if (c == lx->esc && lx->s[lx->i] == '$')
				c = lx->s[lx->i++];
			ret = buf_addc(out, c);
		} else if (c == lx->esc) {
			if (lx->s[lx->i] != '\0')
				ret = buf_addc(out, lx->s[lx->i++]);
		} else if (c == '\'') {
			const char *end = strchr(lx->s + lx->i, '\'');
			if (end == NULL)
				return berth_error_request(lx->err, EINVAL, "unterminated single quote in \"%s\"",
							   lx->text);
			ret = buf_add(out, lx->s + lx->i, (size_t)(end - (lx->s + lx->i)));
			lx->i = (size_t)(end - lx->s) + 1;
		} else if (c == '"') {
			ret = lex_double(lx, out);
		} else if (c == '$') {
			ret = lex_dollar(lx, out);
		} else {
			ret = buf_addc(out, c);
		}
		if (ret < 0)
			return (lx->err && *lx->err) ? ret : berth_error_set(lx->err, ENOMEM, "expand");
	}
}

int build_expand_word(const char *text, char escape, const build_vars *vars, char **out, berth_error **err)
{
	lexer lx = { .s = text, .esc = escape, .vars = vars, .text = text, .err = err };
	buf b = { 0 };

	if (lex_until(&lx, 0, &b) < 0) {
		free(b.s);
		return -1;
	}
	*out = b.s;
	return 0;
}

int build_expand_vars(const char *text, char escape, const build_vars *vars, char **out, berth_error **err)
{
	lexer lx = { .s = text, .esc = escape, .vars = vars, .text = text, .err = err, .vars_only = true };
	buf b = { 0 };

	if (lex_until(&lx, 0, &b) < 0) {
		free(b.s);
		return -1;
	}
	*out = b.s;
	return 0;
}

int build_split_words(const char *text, char escape, char ***words, berth_error **err)
{
	_cleanup_strv_ char **v = calloc(1, sizeof(char *));
	buf w = { 0 };
	char quote = 0;
	bool in_word = false;

	if (v == NULL)
		return berth_error_set(err, ENOMEM, "split");
	for (size_t i = 0;; i++) {
		char c = text[i];
		if (c == '\0' || (!quote && isspace((unsigned char)c))) {
			if (in_word && build_strv_take(&v, w.s ? w.s : strdup("")) < 0)
				return berth_error_set(err, ENOMEM, "split");
			w = (buf){ 0 };
			in_word = false;
			if (c == '\0')
				break;
			continue;
		}
		in_word = true;
		if (buf_addc(&w, c) < 0)
			goto nomem;
		if (c == escape && quote != '\'' && text[i + 1]) {
			if (buf_addc(&w, text[++i]) < 0)
				goto nomem;
		} else if (quote && c == quote) {
			quote = 0;
		} else if (!quote && (c == '"' || c == '\'')) {
			quote = c;
		}
	}
	if (quote)
		return berth_error_request(err, EINVAL, "unterminated quote in \"%s\"", text);
	*words = move_ptr(v);
	return 0;
nomem:
	free(w.s);
	return berth_error_set(err, ENOMEM, "split");
}

int build_split_fields(const char *text, char ***words)
{
	_cleanup_strv_ char **v = calloc(1, sizeof(char *));
	size_t i = 0;

	if (v == NULL)
		return -1;
	for (;;) {
		size_t start;
		while (isspace((unsigned char)text[i]))
			i++;
		if (text[i] == '\0')
			break;
		start = i;
		while (text[i] && !isspace((unsigned char)text[i]))
			i++;
		if (build_strv_add(&v, text + start, i - start) < 0)
			return -1;
	}
	*words = move_ptr(v);
	return 0;
}
