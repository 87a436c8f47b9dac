#include "build/plan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "build/expand.h"
#include "build/strv.h"
#include "engine/run_config.h"
#include "util/cleanup.h"

static const char *const predefined[] = { "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
					  "FTP_PROXY",	"ftp_proxy",  "NO_PROXY",    "no_proxy",
					  "ALL_PROXY",	"all_proxy",  NULL };

bool build_arg_predefined(const char *name)
{
	for (size_t i = 0; predefined[i]; i++)
		if (strcmp(predefined[i], name) == 0)
			return true;
	return false;
}

static int where(berth_error **err, const df_file *f, const df_instruction *in)
{
	return berth_error_wrap(err, "%s:%u: %s", f->path, in->line, df_kind_name(in->kind));
}

/* ---- stages ---- */

void build_plan_free(build_plan *p)
{
	strv_free(p->global_args);
	strv_free(p->build_args);
	strv_free(p->unused_args);
	for (size_t i = 0; i < p->n_stages; i++) {
		free(p->stages[i].base);
		free(p->stages[i].deps);
	}
	free(p->stages);
	memset(p, 0, sizeof(*p));
}

long build_plan_stage_ref(const build_plan *p, const char *text, size_t before)
{
	char *end;
	long n;

	for (size_t i = 0; i < before && i < p->n_stages; i++)
		if (p->file->stages[i].name && strcasecmp(p->file->stages[i].name, text) == 0)
			return (long)i;
	n = strtol(text, &end, 10);
	if (*text && *end == '\0' && n >= 0 && (size_t)n < before)
		return n;
	return -1;
}

/* The platform args: this host is both the build and the target platform. */
static int platform_args(char ***v, const char *host)
{
	_cleanup_free_ char *os = strdup(host);
	char *arch, *variant = NULL;

	if (os == NULL)
		return -1;
	arch = strchr(os, '/');
	if (arch) {
		*arch++ = '\0';
		variant = strchr(arch, '/');
		if (variant)
			*variant++ = '\0';
	}
	if (build_env_set(v, "BUILDPLATFORM", host) < 0 || build_env_set(v, "TARGETPLATFORM", host) < 0 ||
	    build_env_set(v, "BUILDOS", os) < 0 || build_env_set(v, "TARGETOS", os) < 0 ||
	    build_env_set(v, "BUILDARCH", arch ? arch : "") < 0 ||
	    build_env_set(v, "TARGETARCH", arch ? arch : "") < 0 ||
	    build_env_set(v, "BUILDVARIANT", variant ? variant : "") < 0 ||
	    build_env_set(v, "TARGETVARIANT", variant ? variant : "") < 0)
		return -1;
	return 0;
}

static bool arg_declared(const df_file *f, const char *name)
{
	size_t kl = strlen(name);

	for (size_t s = 0; s <= f->n_stages; s++) {
		const df_instruction *v = s == 0 ? f->global_args : f->stages[s - 1].steps;
		size_t n = s == 0 ? f->n_global_args : f->stages[s - 1].n_steps;
		for (size_t i = 0; i < n; i++) {
			_cleanup_strv_ char **fields = NULL;
			if (v[i].kind != DF_ARG || build_split_fields(v[i].args, &fields) < 0)
				continue;
			for (size_t w = 0; fields[w]; w++)
				if (strncmp(fields[w], name, kl) == 0 &&
				    (fields[w][kl] == '\0' || fields[w][kl] == '='))
					return true;
		}
	}
	return false;
}

static int global_args(build_plan *p, const char *host, berth_error **err)
{
	const df_file *f = p->file;
	build_vars vars = { 0 };

	p->global_args = calloc(1, sizeof(char *));
	if (p->global_args == NULL || platform_args(&p->global_args, host) < 0)
		return berth_error_set(err, ENOMEM, "plan");
	for (size_t i = 0; i < f->n_global_args; i++) {
		_cleanup_strv_ char **fields = NULL;
		if (build_split_fields(f->global_args[i].args, &fields) < 0)
			return berth_error_set(err, ENOMEM, "plan");
		for (size_t w = 0; fields[w]; w++) {
			_cleanup_free_ char *name = strdup(fields[w]), *value = NULL;
			char *eq = name ? strchr(name, '=') : NULL;
			const char *given;
			if (name == NULL)
				return berth_error_set(err, ENOMEM, "plan");
			if (eq)
				*eq = '\0';
			given = build_env_get(p->build_args, name);
			vars.args = p->global_args;
			if (given)
				value = strdup(given);
			else if (eq && build_expand_word(eq + 1, f->escape, &vars, &value, err) < 0)
				return where(err, f, &f->global_args[i]);
			if ((given || eq) && (value == NULL || build_env_set(&p->global_args, name, value) < 0))
				return berth_error_set(err, ENOMEM, "plan");
		}
	}
	return 0;
}

static int add_dep(build_plan_stage *st, long dep)
{
	size_t n = 0;
	long *p;

	while (st->deps && st->deps[n] >= 0) {
		if (st->deps[n] == dep)
			return 0;
		n++;
	}
	p = realloc(st->deps, (n + 2) * sizeof(long));
	if (p == NULL)
		return -1;
	p[n] = dep;
	p[n + 1] = -1;
	st->deps = p;
	return 0;
}

/* The stages RUN --mount=...,from=STAGE of IN reads. */
static int mount_deps(build_plan *p, size_t i, const df_instruction *in, build_plan_stage *st, berth_error **err)
{
	build_vars vars = { .args = p->global_args };

	for (size_t f = 0; f < in->n_flags; f++) {
		_cleanup_free_ char *spec = NULL;
		build_mount m;
		long ref;
		if (strcmp(in->flags[f].name, "mount") != 0 || in->flags[f].value == NULL)
			continue;
		if (build_expand_word(in->flags[f].value, p->file->escape, &vars, &spec, err) < 0)
			return where(err, p->file, in);
		berth_error *later = NULL;
		if (build_mount_parse(spec, &m, &later) < 0) {
			berth_error_free(&later); /* reported when the step is evaluated */
			continue;
		}
		ref = m.from ? build_plan_stage_ref(p, m.from, i) : -1;
		build_mount_free(&m);
		if (ref >= 0 && add_dep(st, ref) < 0)
			return berth_error_set(err, ENOMEM, "plan");
	}
	return 0;
}

static int resolve_stage(build_plan *p, size_t i, const char *host, berth_error **err)
{
	const df_file *f = p->file;
	const df_stage *ds = &f->stages[i];
	build_plan_stage *st = &p->stages[i];
	build_vars vars = { .args = p->global_args };

	if (build_expand_word(ds->base, f->escape, &vars, &st->base, err) < 0)
		return berth_error_wrap(err, "%s:%u: FROM", f->path, ds->line);
	if (st->base[0] == '\0')
		return berth_error_request(err, EINVAL, "%s:%u: FROM: the image name is empty after expanding \"%s\"",
					   f->path, ds->line, ds->base);
	st->base_stage = build_plan_stage_ref(p, st->base, i);
	if (st->base_stage >= 0 && add_dep(st, st->base_stage) < 0)
		return berth_error_set(err, ENOMEM, "plan");
	if (ds->platform) {
		_cleanup_free_ char *platform = NULL;
		if (build_expand_word(ds->platform, f->escape, &vars, &platform, err) < 0)
			return berth_error_wrap(err, "%s:%u: FROM", f->path, ds->line);
		if (strcmp(platform, host) != 0)
			return berth_error_request(err, EINVAL,
						   "%s:%u: FROM: --platform=%s: berth builds for this host's platform "
						   "(%s) only",
						   f->path, ds->line, platform, host);
	}
	for (size_t s = 0; s < ds->n_steps; s++) {
		if (ds->steps[s].kind == DF_RUN && mount_deps(p, i, &ds->steps[s], st, err) < 0)
			return -1;
	}
	for (size_t s = 0; s < ds->n_steps; s++) {
		const char *from = df_flag_get(&ds->steps[s], "from");
		_cleanup_free_ char *expanded = NULL;
		long ref;
		if (ds->steps[s].kind != DF_COPY || from == NULL)
			continue;
		if (build_expand_word(from, f->escape, &vars, &expanded, err) < 0)
			return where(err, f, &ds->steps[s]);
		ref = build_plan_stage_ref(p, expanded, i);
		if (ref < 0 && build_plan_stage_ref(p, expanded, f->n_stages) >= 0)
			return berth_error_request(err, EINVAL, "%s:%u: COPY: --from=%s names a later stage", f->path,
						   ds->steps[s].line, expanded);
		if (ref >= 0 && add_dep(st, ref) < 0)
			return berth_error_set(err, ENOMEM, "plan");
	}
	return 0;
}

static void mark_needed(build_plan *p, size_t i)
{
	if (p->stages[i].needed)
		return;
	p->stages[i].needed = true;
	for (size_t d = 0; p->stages[i].deps && p->stages[i].deps[d] >= 0; d++)
		mark_needed(p, (size_t)p->stages[i].deps[d]);
}

int build_plan_make(const df_file *f, char *const *build_args, const char *target, const char *platform_host,
		    build_plan *out, berth_error **err)
{
	build_plan p = { .file = f };
	int ret = 0;

	p.build_args = build_strv_copy(build_args);
	p.unused_args = calloc(1, sizeof(char *));
	p.stages = calloc(f->n_stages, sizeof(build_plan_stage));
	if (p.build_args == NULL || p.unused_args == NULL || p.stages == NULL) {
		build_plan_free(&p);
		return berth_error_set(err, ENOMEM, "plan");
	}
	p.n_stages = f->n_stages;
	for (size_t i = 0; build_args && build_args[i]; i++) {
		_cleanup_free_ char *name = strndup(build_args[i], strcspn(build_args[i], "="));
		if (name && !build_arg_predefined(name) && !arg_declared(f, name) &&
		    build_strv_add(&p.unused_args, name, (size_t)-1) < 0)
			ret = berth_error_set(err, ENOMEM, "plan");
	}
	if (ret == 0)
		ret = global_args(&p, platform_host, err);
	for (size_t i = 0; ret == 0 && i < f->n_stages; i++) {
		p.stages[i].base_stage = -1;
		ret = resolve_stage(&p, i, platform_host, err);
	}
	if (ret == 0 && target) {
		long t = build_plan_stage_ref(&p, target, f->n_stages);
		if (t < 0)
			ret = berth_error_request(err, EINVAL, "%s: target stage \"%s\" not found", f->path, target);
		else
			p.target = (size_t)t;
	} else if (ret == 0) {
		p.target = f->n_stages - 1;
	}
	if (ret < 0) {
		build_plan_free(&p);
		return ret;
	}
	mark_needed(&p, p.target);
	*out = p;
	return 0;
}

/* ---- the scope of a stage ---- */

int build_scope_init(build_scope *s, char *const *base_env, berth_error **err)
{
	memset(s, 0, sizeof(*s));
	s->env = build_strv_copy(base_env);
	s->args = calloc(1, sizeof(char *));
	s->shell = calloc(1, sizeof(char *));
	if (s->env == NULL || s->args == NULL || s->shell == NULL ||
	    build_strv_add(&s->shell, "/bin/sh", (size_t)-1) < 0 || build_strv_add(&s->shell, "-c", (size_t)-1) < 0) {
		build_scope_free(s);
		return berth_error_set(err, ENOMEM, "scope");
	}
	return 0;
}

void build_scope_free(build_scope *s)
{
	strv_free(s->env);
	strv_free(s->args);
	strv_free(s->shell);
	memset(s, 0, sizeof(*s));
}
