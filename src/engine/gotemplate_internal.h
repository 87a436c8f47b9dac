/* Internal to gotemplate.c (parsing) and gotemplate_eval.c: the parsed
 * tree of a template. */
#ifndef BERTH_ENGINE_GOTEMPLATE_INTERNAL_H
#define BERTH_ENGINE_GOTEMPLATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/gotemplate.h"

typedef enum tok_kind {
	T_DOT,	  /* "." */
	T_FIELD,  /* ".A.B": text "A.B" */
	T_VAR,	  /* "$x" or "$": text "x" or "" */
	T_STRING, /* text unquoted */
	T_NUMBER,
	T_IDENT,
	T_LPAREN,
	T_RPAREN,
	T_PIPE,
	T_DECLARE, /* := */
	T_ASSIGN,  /* = */
	T_COMMA,
} tok_kind;

typedef struct token {
	tok_kind kind;
	char *text;
	bool adjacent; /* no space before it: a field chain on the term before */
} token;

typedef enum node_kind { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH } node_kind;

typedef struct node node;
typedef struct node_list {
	node **items;
	size_t n;
} node_list;

struct node {
	node_kind kind;
	char *text;  /* N_TEXT */
	token *toks; /* the pipeline */
	size_t ntoks;
	char *vars[2]; /* $k, $v := (range, or one for an action) */
	int nvars;
	node_list body;
	node_list other; /* else */
};

struct gotemplate {
	node_list root;
};

#endif
