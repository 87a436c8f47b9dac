/* build_step_eval: one instruction expanded in its stage's scope. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "build/expand.h"
#include "build/plan.h"
#include "build/strv.h"
#include "engine/run_config.h"
#include "util/cleanup.h"

void build_step_free(build_step *st)
{
	strv_free(st->words);
	strv_free(st->pairs);
	strv_free(st->command);
	for (size_t i = 0; i < st->n_sources; i++) {
		free(st->sources[i].path);
		free(st->sources[i].content);
	}
	free(st->sources);
	free(st->dest);
	free(st->from);
	free(st->chown);
	free(st->chmod);
	free(st->network);
	free(st->checksum);
	for (size_t i = 0; i < st->n_mounts; i++)
		build_mount_free(&st->mounts[i]);
	free(st->mounts);
	strv_free(st->health.test);
	free(st->trigger);
	strv_free(st->run_env);
	free(st->created_by);
	memset(st, 0, sizeof(*st));
}

static int nomem(berth_error **err)
{
	return berth_error_set(err, ENOMEM, "build step");
}

static char *join(char *const *v, const char *sep)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; v && v[i]; i++)
		len += strlen(v[i]) + strlen(sep);
	out = calloc(1, len);
	for (size_t i = 0; out && v && v[i]; i++) {
		if (i)
			strcat(out, sep);
		strcat(out, v[i]);
	}
	return out;
}

/* ENV and LABEL: every pair is expanded in the scope before the line. */
static int eval_pairs(const build_plan *p, const df_instruction *in, const build_vars *vars, char ***pairs,
		      berth_error **err)
{
	_cleanup_strv_ char **words = NULL;
	char escape = p->file->escape;

	*pairs = calloc(1, sizeof(char *));
	if (*pairs == NULL || build_split_words(in->args, escape, &words, err) < 0)
		return *pairs ? -1 : nomem(err);
	if (words[0] && strchr(words[0], '=') == NULL) {
		/* "ENV key value with spaces": the rest of the line is the value */
		const char *rest = in->args + strlen(words[0]);
		_cleanup_free_ char *value = NULL;
		while (isspace((unsigned char)*rest))
			rest++;
		if (build_expand_word(rest, escape, vars, &value, err) < 0)
			return -1;
		return build_env_set(pairs, words[0], value) < 0 ? nomem(err) : 0;
	}
	for (size_t i = 0; words[i]; i++) {
		char *eq = strchr(words[i], '=');
		_cleanup_free_ char *key = NULL, *value = NULL;
		*eq = '\0';
		if (build_expand_word(words[i], escape, vars, &key, err) < 0 ||
		    build_expand_word(eq + 1, escape, vars, &value, err) < 0)
			return -1;
		if (key[0] == '\0')
			return berth_error_request(err, EINVAL, "names can not be blank");
		if (build_env_set(pairs, key, value) < 0)
			return nomem(err);
	}
	return 0;
}

static int eval_arg(const build_plan *p, const df_instruction *in, build_scope *s, const build_vars *vars,
		    char ***pairs, berth_error **err)
{
	_cleanup_strv_ char **fields = NULL;

	*pairs = calloc(1, sizeof(char *));
	if (*pairs == NULL || build_split_fields(in->args, &fields) < 0)
		return nomem(err);
	for (size_t i = 0; fields[i]; i++) {
		char *eq = strchr(fields[i], '=');
		_cleanup_free_ char *def = NULL;
		const char *value;
		if (eq) {
			*eq = '\0';
			if (build_expand_word(eq + 1, p->file->escape, vars, &def, err) < 0)
				return -1;
		}
		value = build_env_get(p->build_args, fields[i]);
		if (value == NULL)
			value = def ? def : build_env_get(p->global_args, fields[i]);
		if (value) {
			if (build_env_set(&s->args, fields[i], value) < 0 || build_env_set(pairs, fields[i], value) < 0)
				return nomem(err);
		} else if (build_strv_add(pairs, fields[i], (size_t)-1) < 0) {
			return nomem(err);
		}
	}
	return 0;
}

/* RUN's script: a lone heredoc is the script; otherwise the shell reads the
 * heredocs itself. */
static char *run_script(const df_instruction *in)
{
	char *script = NULL;

	if (in->n_heredocs == 1 && strncmp(in->args, "<<", 2) == 0 && strpbrk(in->args, " \t") == NULL)
		return strdup(in->heredocs[0].body);
	script = strdup(in->args);
	for (size_t i = 0; script && i < in->n_heredocs; i++) {
		char *grown = NULL;
		if (asprintf(&grown, "%s\n%s%s", script, in->heredocs[i].body, in->heredocs[i].name) < 0)
			grown = NULL;
		free(script);
		script = grown;
	}
	return script;
}

static int command_of(const df_instruction *in, const build_scope *s, bool run, build_step *out, berth_error **err)
{
	if (in->json) {
		out->command = build_strv_copy(in->argv);
		return out->command ? 0 : nomem(err);
	}
	out->shell_form = true;
	out->command = build_strv_copy(s->shell);
	if (out->command == NULL)
		return nomem(err);
	if (!run && in->args[0] == '\0') {
		strv_free(out->command);
		out->command = calloc(1, sizeof(char *));
		return out->command ? 0 : nomem(err);
	}
	if (build_strv_take(&out->command, run ? run_script(in) : strdup(in->args)) < 0)
		return nomem(err);
	return 0;
}

static int eval_mounts(const df_instruction *in, char escape, const build_vars *vars, build_step *out,
		       berth_error **err)
{
	for (size_t i = 0; i < in->n_flags; i++) {
		_cleanup_free_ char *spec = NULL;
		build_mount *p;
		if (strcmp(in->flags[i].name, "mount") != 0)
			continue;
		if (build_expand_word(in->flags[i].value, escape, vars, &spec, err) < 0)
			return -1;
		p = realloc(out->mounts, (out->n_mounts + 1) * sizeof(build_mount));
		if (p == NULL)
			return nomem(err);
		out->mounts = p;
		if (build_mount_parse(spec, &out->mounts[out->n_mounts], err) < 0)
			return -1;
		out->n_mounts++;
	}
	return 0;
}

static int run_env(const build_plan *p, const build_scope *s, build_step *out, berth_error **err)
{
	out->run_env = build_strv_copy(s->env);
	for (size_t i = 0; out->run_env && s->args[i]; i++) {
		_cleanup_free_ char *name = strndup(s->args[i], strcspn(s->args[i], "="));
		if (name == NULL ||
		    (build_env_get(s->env, name) == NULL && build_strv_add(&out->run_env, s->args[i], (size_t)-1) < 0))
			return nomem(err);
	}
	for (size_t i = 0; out->run_env && p->build_args[i]; i++) {
		_cleanup_free_ char *name = strndup(p->build_args[i], strcspn(p->build_args[i], "="));
		if (name == NULL)
			return nomem(err);
		if (build_arg_predefined(name) && build_env_get(out->run_env, name) == NULL &&
		    build_strv_add(&out->run_env, p->build_args[i], (size_t)-1) < 0)
			return nomem(err);
	}
	return out->run_env ? 0 : nomem(err);
}

static const df_heredoc *heredoc_named(const df_instruction *in, const char *word)
{
	for (size_t i = 0; i < in->n_heredocs; i++) {
		const char *s = word + 2;
		if (strncmp(word, "<<", 2) != 0)
			return NULL;
		if (*s == '-')
			s++;
		if (*s == '"' || *s == '\'')
			s++;
		if (strncmp(s, in->heredocs[i].name, strlen(in->heredocs[i].name)) == 0)
			return &in->heredocs[i];
	}
	return NULL;
}

static int eval_copy(const build_plan *p, const df_instruction *in, const build_vars *vars, build_step *out,
		     berth_error **err)
{
	_cleanup_strv_ char **words = NULL;
	char escape = p->file->escape;
	size_t n;

	if (in->json)
		words = build_strv_copy(in->argv);
	else if (build_split_fields(in->args, &words) < 0)
		words = NULL;
	if (words == NULL)
		return nomem(err);
	n = build_strv_len(words);
	out->sources = calloc(n, sizeof(build_source));
	if (out->sources == NULL)
		return nomem(err);
	for (size_t i = 0; i + 1 < n; i++) {
		const df_heredoc *h = in->json ? NULL : heredoc_named(in, words[i]);
		build_source *src = &out->sources[out->n_sources++];
		if (h) {
			src->path = strdup(h->name);
			if (src->path == NULL)
				return nomem(err);
			if (h->expand ? build_expand_vars(h->body, escape, vars, &src->content, err) < 0
				      : (src->content = strdup(h->body)) == NULL)
				return src->content ? -1 : nomem(err);
		} else if (build_expand_word(words[i], escape, vars, &src->path, err) < 0) {
			return -1;
		} else if (src->path[0] == '\0') {
			return berth_error_request(err, EINVAL, "source \"%s\" is empty after expansion", words[i]);
		}
	}
	if (build_expand_word(words[n - 1], escape, vars, &out->dest, err) < 0)
		return -1;
	if (out->dest[0] == '\0')
		return berth_error_request(err, EINVAL, "the destination is empty after expansion");
	return 0;
}

static int eval_health(const df_instruction *in, build_step *out, berth_error **err)
{
	build_healthcheck *h = &out->health;
	const char *rest = in->args, *v;
	_cleanup_strv_ char **exec = NULL;

	if (strncasecmp(rest, "NONE", 4) == 0) {
		h->none = true;
		h->test = calloc(2, sizeof(char *));
		if (h->test == NULL || (h->test[0] = strdup("NONE")) == NULL)
			return nomem(err);
		return 0;
	}
	rest += 3;
	while (isspace((unsigned char)*rest))
		rest++;
	exec = df_exec_form(rest);
	h->test = calloc(1, sizeof(char *));
	if (h->test == NULL || build_strv_add(&h->test, exec ? "CMD" : "CMD-SHELL", (size_t)-1) < 0)
		return nomem(err);
	for (size_t i = 0; exec && exec[i]; i++)
		if (build_strv_add(&h->test, exec[i], (size_t)-1) < 0)
			return nomem(err);
	if (exec == NULL && build_strv_add(&h->test, rest, (size_t)-1) < 0)
		return nomem(err);
	h->interval_ns = (v = df_flag_get(in, "interval")) ? run_parse_go_duration_ns(v) : 0;
	h->timeout_ns = (v = df_flag_get(in, "timeout")) ? run_parse_go_duration_ns(v) : 0;
	h->start_period_ns = (v = df_flag_get(in, "start-period")) ? run_parse_go_duration_ns(v) : 0;
	h->start_interval_ns = (v = df_flag_get(in, "start-interval")) ? run_parse_go_duration_ns(v) : 0;
	h->retries = (v = df_flag_get(in, "retries")) ? atoi(v) : 0;
	return 0;
}

static int expand_flag(const df_instruction *in, const char *name, char escape, const build_vars *vars, char **out,
		       berth_error **err)
{
	const char *v = df_flag_get(in, name);

	if (v == NULL)
		return 0;
	return build_expand_word(v, escape, vars, out, err);
}

static int eval_words(const df_instruction *in, char escape, const build_vars *vars, bool whole, char ***out,
		      berth_error **err)
{
	_cleanup_strv_ char **fields = NULL;

	*out = calloc(1, sizeof(char *));
	if (*out == NULL)
		return nomem(err);
	if (whole) {
		char *w = NULL;
		if (build_expand_word(in->args, escape, vars, &w, err) < 0)
			return -1;
		return build_strv_take(out, w) < 0 ? nomem(err) : 0;
	}
	if (in->json)
		fields = build_strv_copy(in->argv);
	else if (build_split_fields(in->args, &fields) < 0)
		fields = NULL;
	if (fields == NULL)
		return nomem(err);
	for (size_t i = 0; fields[i]; i++) {
		char *w = NULL;
		if (build_expand_word(fields[i], escape, vars, &w, err) < 0)
			return -1;
		if (w[0] == '\0') {
			free(w);
			continue;
		}
		if (build_strv_take(out, w) < 0)
			return nomem(err);
	}
	return 0;
}

static int eval_kind(const build_plan *p, const df_instruction *in, build_scope *s, build_step *out, berth_error **err)
{
	build_vars vars = { .env = s->env, .args = s->args };
	char escape = p->file->escape;

	switch (in->kind) {
	case DF_RUN:
		if (expand_flag(in, "network", escape, &vars, &out->network, err) < 0 ||
		    eval_mounts(in, escape, &vars, out, err) < 0 || command_of(in, s, true, out, err) < 0)
			return -1;
		return run_env(p, s, out, err);
	case DF_CMD:
	case DF_ENTRYPOINT:
		return command_of(in, s, false, out, err);
	case DF_COPY:
	case DF_ADD:
		if (expand_flag(in, "from", escape, &vars, &out->from, err) < 0 ||
		    expand_flag(in, "chown", escape, &vars, &out->chown, err) < 0 ||
		    expand_flag(in, "chmod", escape, &vars, &out->chmod, err) < 0 ||
		    (in->kind == DF_ADD && expand_flag(in, "checksum", escape, &vars, &out->checksum, err) < 0))
			return -1;
		return eval_copy(p, in, &vars, out, err);
	case DF_ENV:
		if (eval_pairs(p, in, &vars, &out->pairs, err) < 0)
			return -1;
		for (size_t i = 0; out->pairs[i]; i++) {
			_cleanup_free_ char *key = strndup(out->pairs[i], strcspn(out->pairs[i], "="));
			if (key == NULL || build_env_set(&s->env, key, strchr(out->pairs[i], '=') + 1) < 0)
				return nomem(err);
		}
		return 0;
	case DF_LABEL:
		return eval_pairs(p, in, &vars, &out->pairs, err);
	case DF_ARG:
		return eval_arg(p, in, s, &vars, &out->pairs, err);
	case DF_USER:
	case DF_WORKDIR:
	case DF_STOPSIGNAL:
	case DF_MAINTAINER:
		return eval_words(in, escape, &vars, true, &out->words, err);
	case DF_EXPOSE:
	case DF_VOLUME:
		return eval_words(in, escape, &vars, false, &out->words, err);
	case DF_SHELL:
		out->words = build_strv_copy(in->argv);
		strv_free(s->shell);
		s->shell = build_strv_copy(in->argv);
		return out->words && s->shell ? 0 : nomem(err);
	case DF_HEALTHCHECK:
		return eval_health(in, out, err);
	case DF_ONBUILD:
		out->trigger = strdup(in->args);
		return out->trigger ? 0 : nomem(err);
	case DF_FROM:
		break;
	}
	return berth_error_request(err, EINVAL, "FROM is not a step");
}

int build_step_eval(const build_plan *p, const df_instruction *in, build_scope *s, build_step *out, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	out->kind = in->kind;
	out->in = in;
	if (eval_kind(p, in, s, out, err) < 0) {
		build_step_free(out);
		return berth_error_wrap(err, "%s:%u: %s", p->file->path, in->line, df_kind_name(in->kind));
	}
	if (in->kind == DF_RUN) {
		_cleanup_free_ char *cmd = join(out->command, " ");
		if (cmd == NULL || asprintf(&out->created_by, "RUN %s", cmd) < 0)
			out->created_by = NULL;
	} else {
		out->created_by = strdup(in->original);
	}
	if (out->created_by == NULL) {
		build_step_free(out);
		return nomem(err);
	}
	return 0;
}
