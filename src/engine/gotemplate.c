#include "engine/gotemplate.h"
#include "engine/gotemplate_internal.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* ---- lexing an action ---- */

static void list_free(node_list *l);

static void node_free(node *n)
{
	if (n == NULL)
		return;
	free(n->text);
	for (size_t i = 0; i < n->ntoks; i++)
		free(n->toks[i].text);
	free(n->toks);
	free(n->vars[0]);
	free(n->vars[1]);
	list_free(&n->body);
	list_free(&n->other);
	free(n);
}

static void list_free(node_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		node_free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

void gotemplate_free(gotemplate *t)
{
	if (t == NULL)
		return;
	list_free(&t->root);
	free(t);
}

static int list_add(node_list *l, node *n)
{
	node **items = realloc(l->items, (l->n + 1) * sizeof(node *));
	if (items == NULL)
		return -1;
	l->items = items;
	l->items[l->n++] = n;
	return 0;
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int add_token(token **toks, size_t *n, tok_kind kind, const char *text, size_t len, bool adjacent)
{
	token *t = realloc(*toks, (*n + 1) * sizeof(token));
	if (t == NULL)
		return -1;
	*toks = t;
	t[*n] = (token){ kind, text ? strndup(text, len) : NULL, adjacent };
	if (text && t[*n].text == NULL)
		return -1;
	(*n)++;
	return 0;
}

/* A quoted string: "..." with Go's common escapes, or `raw`. */
static char *lex_string(const char *s, size_t *used)
{
	char quote = s[0], *out = malloc(strlen(s) + 1);
	size_t i = 1, o = 0;

	if (out == NULL)
		return NULL;
	for (; s[i] && s[i] != quote; i++) {
		if (quote == '"' && s[i] == '\\' && s[i + 1]) {
			i++;
			out[o++] = s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i] == 'r' ? '\r' : s[i];
		} else {
			out[o++] = s[i];
		}
	}
	if (s[i] != quote) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	*used = i + 1;
	return out;
}

static int lex_action(const char *body, size_t len, size_t base, token **toks, size_t *ntoks, berth_error **err)
{
	_cleanup_free_ char *copy = strndup(body, len);
	const char *s = copy;
	size_t i = 0;
	bool adjacent = false;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "template");
	while (s[i]) {
		size_t start = i;
		int ret = 0;
		if (isspace((unsigned char)s[i])) {
			i++;
			adjacent = false;
			continue;
		}
		if (s[i] == '.' && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '_')) {
			i++;
			while (ident_char(s[i]) ||
			       (s[i] == '.' && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '_')))
				i++;
			ret = add_token(toks, ntoks, T_FIELD, s + start + 1, i - start - 1, adjacent);
		} else if (s[i] == '.') {
			i++;
			ret = add_token(toks, ntoks, T_DOT, NULL, 0, adjacent);
		} else if (s[i] == '$') {
			i++;
			while (ident_char(s[i]))
				i++;
			ret = add_token(toks, ntoks, T_VAR, s + start + 1, i - start - 1, adjacent);
		} else if (s[i] == '"' || s[i] == '`') {
			size_t used = 0;
			char *str = lex_string(s + i, &used);
			if (str == NULL)
				return berth_error_set(err, 0, "template: %zu: unterminated string", base + start + 1);
			ret = add_token(toks, ntoks, T_STRING, str, strlen(str), adjacent);
			free(str);
			i += used;
		} else if (isdigit((unsigned char)s[i]) || (s[i] == '-' && isdigit((unsigned char)s[i + 1]))) {
			i++;
			while (isalnum((unsigned char)s[i]) || s[i] == '.')
				i++;
			ret = add_token(toks, ntoks, T_NUMBER, s + start, i - start, adjacent);
		} else if (isalpha((unsigned char)s[i]) || s[i] == '_') {
			while (ident_char(s[i]))
				i++;
			ret = add_token(toks, ntoks, T_IDENT, s + start, i - start, adjacent);
		} else if (s[i] == ':' && s[i + 1] == '=') {
			i += 2;
			ret = add_token(toks, ntoks, T_DECLARE, NULL, 0, adjacent);
		} else {
			static const char singles[] = "()|=,";
			static const tok_kind kinds[] = { T_LPAREN, T_RPAREN, T_PIPE, T_ASSIGN, T_COMMA };
			const char *k = strchr(singles, s[i]);
			if (k == NULL)
				return berth_error_set(err, 0, "template: %zu: unexpected \"%c\" in action",
						       base + start + 1, s[i]);
			i++;
			ret = add_token(toks, ntoks, kinds[k - singles], NULL, 0, adjacent);
		}
		if (ret < 0)
			return berth_error_set(err, ENOMEM, "template");
		adjacent = true;
	}
	return 0;
}

/* ---- parsing the template into a tree ---- */

typedef struct parser {
	const char *text;
	size_t pos;
	bool trim_next; /* the last action ended with "-}}" */
} parser;

typedef enum action_kind { A_PIPE, A_IF, A_ELSE, A_ELSE_IF, A_END, A_RANGE, A_WITH, A_COMMENT, A_EOF } action_kind;

static node *node_new(node_kind kind)
{
	node *n = calloc(1, sizeof(node));
	if (n)
		n->kind = kind;
	return n;
}

/* Splits "$k, $v :=" off the front of N's tokens. */
static int take_declaration(node *n, berth_error **err)
{
	size_t i = 0;

	while (i < n->ntoks && n->toks[i].kind == T_VAR && n->nvars < 2) {
		n->vars[n->nvars++] = strdup(n->toks[i].text);
		i++;
		if (i < n->ntoks && n->toks[i].kind == T_COMMA)
			i++;
		else
			break;
	}
	if (n->nvars == 0)
		return 0;
	if (i >= n->ntoks || (n->toks[i].kind != T_DECLARE && n->toks[i].kind != T_ASSIGN)) {
		/* not a declaration: "$x" alone is a pipeline */
		free(n->vars[0]);
		free(n->vars[1]);
		n->vars[0] = n->vars[1] = NULL;
		n->nvars = 0;
		return 0;
	}
	if (n->kind != N_RANGE && n->nvars > 1)
		return berth_error_set(err, 0, "template: too many declarations");
	for (size_t k = 0; k <= i; k++)
		free(n->toks[k].text);
	memmove(n->toks, n->toks + i + 1, (n->ntoks - i - 1) * sizeof(token));
	n->ntoks -= i + 1;
	return 0;
}

static void tokens_free(token *toks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(toks[i].text);
	free(toks);
}

/* Reads up to the next action: text goes to LIST; the action's kind and
 * tokens are returned. */
static int next_action(parser *p, node_list *list, token **toks, size_t *ntoks, action_kind *kind, berth_error **err)
{
	const char *open = strstr(p->text + p->pos, "{{"), *body, *close;
	size_t text_end = open ? (size_t)(open - p->text) : strlen(p->text), start = p->pos, len;
	bool trim_left;

	*toks = NULL;
	*ntoks = 0;
	if (p->trim_next)
		while (start < text_end && isspace((unsigned char)p->text[start]))
			start++;
	trim_left = open && open[2] == '-' && isspace((unsigned char)open[3]);
	len = text_end - start;
	if (trim_left)
		while (len > 0 && isspace((unsigned char)p->text[start + len - 1]))
			len--;
	if (len > 0) {
		node *t = node_new(N_TEXT);
		if (t == NULL || (t->text = strndup(p->text + start, len)) == NULL || list_add(list, t) < 0) {
			node_free(t);
			return berth_error_set(err, ENOMEM, "template");
		}
	}
	if (open == NULL) {
		*kind = A_EOF;
		return 0;
	}
	body = open + (trim_left ? 3 : 2);
	if (strncmp(body, "/*", 2) == 0 || strncmp(body, " /*", 3) == 0) {
		const char *end = strstr(body, "*/");
		close = end ? strstr(end, "}}") : NULL;
		if (close == NULL)
			return berth_error_set(err, 0, "template: %zu: unclosed comment", (size_t)(open - p->text) + 1);
		p->trim_next = close > body && close[-1] == '-' && isspace((unsigned char)close[-2]);
		p->pos = (size_t)(close - p->text) + 2;
		*kind = A_COMMENT;
		return 0;
	}
	/* the closing "}}" outside of strings */
	for (close = body; *close; close++) {
		if (*close == '"' || *close == '`') {
			char q = *close++;
			while (*close && *close != q)
				close += (*close == '\\' && q == '"' && close[1]) ? 2 : 1;
			if (*close == '\0')
				break;
		} else if (close[0] == '}' && close[1] == '}') {
			break;
		}
	}
	if (*close == '\0')
		return berth_error_set(err, 0, "template: %zu: unclosed action", (size_t)(open - p->text) + 1);
	p->trim_next = close - body >= 2 && close[-1] == '-' && isspace((unsigned char)close[-2]);
	len = (size_t)(close - body) - (p->trim_next ? 1 : 0);
	p->pos = (size_t)(close - p->text) + 2;
	if (lex_action(body, len, (size_t)(body - p->text), toks, ntoks, err) < 0) {
		tokens_free(*toks, *ntoks);
		*toks = NULL;
		*ntoks = 0;
		return -1;
	}
	*kind = A_PIPE;
	if (*ntoks > 0 && (*toks)[0].kind == T_IDENT) {
		static const struct {
			const char *word;
			action_kind kind;
		} words[] = {
			{ "if", A_IF }, { "else", A_ELSE }, { "end", A_END }, { "range", A_RANGE }, { "with", A_WITH }
		};
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strcmp((*toks)[0].text, words[i].word) == 0)
				*kind = words[i].kind;
		if (*kind != A_PIPE) {
			free((*toks)[0].text);
			memmove(*toks, *toks + 1, (*ntoks - 1) * sizeof(token));
			(*ntoks)--;
		}
		if (*kind == A_ELSE && *ntoks > 0 && (*toks)[0].kind == T_IDENT && strcmp((*toks)[0].text, "if") == 0) {
			free((*toks)[0].text);
			memmove(*toks, *toks + 1, (*ntoks - 1) * sizeof(token));
			(*ntoks)--;
			*kind = A_ELSE_IF;
		}
	}
	if (*ntoks == 0 &&
	    (*kind == A_PIPE || *kind == A_IF || *kind == A_ELSE_IF || *kind == A_RANGE || *kind == A_WITH))
		return berth_error_set(err, 0, "template: %zu: missing value", (size_t)(open - p->text) + 1);
	return 0;
}

/* Parses into LIST until an {{end}}, {{else}} or the end of text; *STOP says
 * which, and for {{else if P}} *ELSE_TOKS holds P. */
static int parse_list(parser *p, node_list *list, action_kind *stop, token **else_toks, size_t *else_n,
		      berth_error **err)
{
	for (;;) {
		token *toks;
		size_t ntoks;
		action_kind kind = A_EOF;
		node *n;
		if (next_action(p, list, &toks, &ntoks, &kind, err) < 0)
			return -1;
		switch (kind) {
		case A_COMMENT:
			continue;
		case A_EOF:
		case A_END:
		case A_ELSE:
		case A_ELSE_IF:
			*stop = kind;
			if (kind == A_ELSE_IF) {
				*else_toks = toks;
				*else_n = ntoks;
			} else {
				tokens_free(toks, ntoks);
			}
			return 0;
		default:
			break;
		}
		n = node_new(kind == A_IF ? N_IF : kind == A_RANGE ? N_RANGE : kind == A_WITH ? N_WITH : N_ACTION);
		if (n == NULL) {
			tokens_free(toks, ntoks);
			return berth_error_set(err, ENOMEM, "template");
		}
		n->toks = toks;
		n->ntoks = ntoks;
		if (list_add(list, n) < 0) {
			node_free(n);
			return berth_error_set(err, ENOMEM, "template");
		}
		if (take_declaration(n, err) < 0)
			return -1;
		if (n->kind == N_ACTION)
			continue;
		/* a block: its body, then else / else if chains, then end */
		for (node *block = n;;) {
			action_kind end;
			token *etoks = NULL;
			size_t en = 0;
			if (parse_list(p, &block->body, &end, &etoks, &en, err) < 0)
				return -1;
			if (end == A_EOF)
				return berth_error_set(err, 0, "template: unexpected EOF: missing {{end}}");
			if (end == A_END)
				break;
			if (end == A_ELSE_IF) {
				node *nested = node_new(N_IF);
				if (nested == NULL || list_add(&block->other, nested) < 0) {
					node_free(nested);
					tokens_free(etoks, en);
					return berth_error_set(err, ENOMEM, "template");
				}
				nested->kind = block->kind == N_WITH ? N_WITH : N_IF;
				nested->toks = etoks;
				nested->ntoks = en;
				block = nested;
				continue;
			}
			/* plain else: the rest up to end */
			if (parse_list(p, &block->other, &end, &etoks, &en, err) < 0)
				return -1;
			if (end != A_END) {
				tokens_free(etoks, en);
				return berth_error_set(err, 0, "template: expected {{end}} after {{else}}");
			}
			break;
		}
	}
}

int gotemplate_parse(const char *text, gotemplate **out, berth_error **err)
{
	parser p = { .text = text };
	gotemplate *t = calloc(1, sizeof(*t));
	action_kind stop;
	token *toks = NULL;
	size_t n = 0;

	if (t == NULL)
		return berth_error_set(err, ENOMEM, "template");
	if (parse_list(&p, &t->root, &stop, &toks, &n, err) < 0) {
		gotemplate_free(t);
		return -1;
	}
	tokens_free(toks, n);
	if (stop != A_EOF) {
		gotemplate_free(t);
		return berth_error_set(err, 0, "template: unexpected {{%s}}", stop == A_END ? "end" : "else");
	}
	*out = t;
	return 0;
}
