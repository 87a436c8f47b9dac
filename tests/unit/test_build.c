/* Unit tests of berth build's front end: the Dockerfile parser
 * (directives, continuations, comments, heredocs, JSON and shell forms,
 * flags, validation with file:line: errors), word expansion, and the
 * planner (stages, targets, ARG/ENV scoping, step evaluation). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "build/cache.h"
#include "build/commit.h"
#include "build/dockerfile.h"
#include "build/fetch.h"
#include "build/expand.h"
#include "build/mount.h"
#include "build/plan.h"
#include "build/strv.h"
#include "util/cleanup.h"

#define HOST "linux/amd64"

static void parse_ok(const char *text, df_file *f)
{
	berth_error *err = NULL;

	if (df_parse("Containerfile", text, strlen(text), f, &err) < 0)
		fail_msg("parse failed: %s", err->msg);
}

static void parse_fails(const char *text, const char *msg)
{
	berth_error *err = NULL;
	df_file f;

	if (df_parse("Containerfile", text, strlen(text), &f, &err) == 0) {
		df_file_free(&f);
		fail_msg("parse of \"%s\" succeeded, expected \"%s\"", text, msg);
	}
	if (strstr(err->msg, msg) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err->msg, msg);
	berth_error_free(&err);
}

static char *expand(const char *text, char *const *env, char *const *args)
{
	build_vars vars = { .env = env, .args = args };
	berth_error *err = NULL;
	char *out = NULL;

	if (build_expand_word(text, '\\', &vars, &out, &err) < 0)
		fail_msg("expand \"%s\": %s", text, err->msg);
	return out;
}

#define EXPECT_EXPAND(text, want, env, args)                                                                           \
	do {                                                                                                           \
		char *got__ = expand(text, env, args);                                                                 \
		assert_string_equal(got__, want);                                                                      \
		free(got__);                                                                                           \
	} while (0)

/* ---- expansion ---- */

static void test_expand_variables(void **state)
{
	char *env[] = { "A=hello", "EMPTY=", "PATHX=/usr/bin", NULL };
	char *args[] = { "A=shadowed", "B=argb", NULL };

	EXPECT_EXPAND("$A", "hello", env, args);
	EXPECT_EXPAND("${A}", "hello", env, args);
	EXPECT_EXPAND("$B", "argb", env, args);
	EXPECT_EXPAND("x${A}y", "xhelloy", env, args);
	EXPECT_EXPAND("$UNSET", "", env, args);
	EXPECT_EXPAND("${UNSET:-def}", "def", env, args);
	EXPECT_EXPAND("${EMPTY:-def}", "def", env, args);
	EXPECT_EXPAND("${EMPTY-def}", "", env, args);
	EXPECT_EXPAND("${UNSET-def}", "def", env, args);
	EXPECT_EXPAND("${A:+alt}", "alt", env, args);
	EXPECT_EXPAND("${UNSET:+alt}", "", env, args);
	EXPECT_EXPAND("${EMPTY:+alt}", "", env, args);
	EXPECT_EXPAND("${EMPTY+alt}", "alt", env, args);
	EXPECT_EXPAND("${UNSET:-$A/x}", "hello/x", env, args);
	EXPECT_EXPAND("$PATHX:/bin", "/usr/bin:/bin", env, args);
	EXPECT_EXPAND("a$", "a$", env, args);
	EXPECT_EXPAND("$-x", "$-x", env, args);
	(void)state;
}

static void test_expand_quotes_and_escapes(void **state)
{
	char *env[] = { "A=hello", NULL };

	EXPECT_EXPAND("'$A'", "$A", env, NULL);
	EXPECT_EXPAND("\"$A world\"", "hello world", env, NULL);
	EXPECT_EXPAND("\\$A", "$A", env, NULL);
	EXPECT_EXPAND("\"\\$A\"", "$A", env, NULL);
	EXPECT_EXPAND("\"a\\b\"", "a\\b", env, NULL); /* only " $ \ are escaped in double quotes */
	EXPECT_EXPAND("a\\ b", "a b", env, NULL);
	EXPECT_EXPAND("\"it's\"", "it's", env, NULL);
	EXPECT_EXPAND("'say \"hi\"'", "say \"hi\"", env, NULL);
	(void)state;
}

static void test_expand_errors(void **state)
{
	berth_error *err = NULL;
	build_vars vars = { 0 };
	char *out = NULL;

	assert_true(build_expand_word("\"open", '\\', &vars, &out, &err) < 0);
	assert_non_null(strstr(err->msg, "unterminated double quote"));
	berth_error_free(&err);
	assert_true(build_expand_word("'open", '\\', &vars, &out, &err) < 0);
	assert_non_null(strstr(err->msg, "unterminated single quote"));
	berth_error_free(&err);
	assert_true(build_expand_word("${A", '\\', &vars, &out, &err) < 0);
	assert_non_null(strstr(err->msg, "missing '}'"));
	berth_error_free(&err);
	assert_true(build_expand_word("${A:?must be set}", '\\', &vars, &out, &err) < 0);
	assert_non_null(strstr(err->msg, "A: must be set"));
	berth_error_free(&err);
	assert_true(build_expand_word("${}", '\\', &vars, &out, &err) < 0);
	berth_error_free(&err);
	(void)state;
}

static void test_expand_vars_only_and_split(void **state)
{
	char *env[] = { "NAME=world", NULL };
	build_vars vars = { .env = env };
	berth_error *err = NULL;
	char *out = NULL, **words = NULL;

	assert_int_equal(build_expand_vars("echo \"hi $NAME\" '\\$x'\n", '\\', &vars, &out, &err), 0);
	assert_string_equal(out, "echo \"hi world\" '$x'\n");
	free(out);
	assert_int_equal(build_split_words("a=\"b c\" d='e f' g\\ h=1", '\\', &words, &err), 0);
	assert_int_equal(build_strv_len(words), 3);
	assert_string_equal(words[0], "a=\"b c\"");
	assert_string_equal(words[1], "d='e f'");
	assert_string_equal(words[2], "g\\ h=1");
	strv_free(words);
	assert_int_equal(build_split_fields("  a  b\tc ", &words), 0);
	assert_int_equal(build_strv_len(words), 3);
	strv_free(words);
	(void)state;
}

/* ---- the parser ---- */

static void test_parse_basic_stage(void **state)
{
	df_file f;

	parse_ok("FROM busybox\nRUN echo hi\nCMD [\"sh\"]\n", &f);
	assert_int_equal(f.n_stages, 1);
	assert_string_equal(f.stages[0].base, "busybox");
	assert_null(f.stages[0].name);
	assert_int_equal(f.stages[0].n_steps, 2);
	assert_int_equal(f.stages[0].steps[0].kind, DF_RUN);
	assert_false(f.stages[0].steps[0].json);
	assert_string_equal(f.stages[0].steps[0].args, "echo hi");
	assert_int_equal(f.stages[0].steps[0].line, 2);
	assert_int_equal(f.stages[0].steps[1].kind, DF_CMD);
	assert_true(f.stages[0].steps[1].json);
	assert_string_equal(f.stages[0].steps[1].argv[0], "sh");
	assert_null(f.stages[0].steps[1].argv[1]);
	df_file_free(&f);
	(void)state;
}

static void test_parse_every_instruction(void **state)
{
	df_file f;
	const char *text = "FROM busybox AS base\n"
			   "RUN true\n"
			   "COPY a b\n"
			   "ADD c d\n"
			   "ENV A=1\n"
			   "ARG X=2\n"
			   "LABEL l=v\n"
			   "USER 1000:1000\n"
			   "WORKDIR /w\n"
			   "EXPOSE 80/tcp 53/udp\n"
			   "VOLUME /data\n"
			   "ENTRYPOINT [\"/bin/sh\", \"-c\"]\n"
			   "CMD echo hi\n"
			   "HEALTHCHECK --interval=5s --retries=3 CMD true\n"
			   "SHELL [\"/bin/sh\", \"-ec\"]\n"
			   "STOPSIGNAL SIGTERM\n"
			   "ONBUILD RUN echo child\n"
			   "MAINTAINER someone\n";
	df_kind want[] = { DF_RUN,	   DF_COPY,    DF_ADD,	      DF_ENV,	  DF_ARG,	 DF_LABEL,
			   DF_USER,	   DF_WORKDIR, DF_EXPOSE,     DF_VOLUME,  DF_ENTRYPOINT, DF_CMD,
			   DF_HEALTHCHECK, DF_SHELL,   DF_STOPSIGNAL, DF_ONBUILD, DF_MAINTAINER };

	parse_ok(text, &f);
	assert_int_equal(f.stages[0].n_steps, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < f.stages[0].n_steps; i++) {
		assert_int_equal(f.stages[0].steps[i].kind, want[i]);
		assert_int_equal(f.stages[0].steps[i].line, i + 2);
	}
	assert_string_equal(f.stages[0].name, "base");
	assert_non_null(f.stages[0].steps[15].inner);
	assert_int_equal(f.stages[0].steps[15].inner->kind, DF_RUN);
	assert_string_equal(df_flag_get(&f.stages[0].steps[12], "interval"), "5s");
	df_file_free(&f);
	(void)state;
}

static void test_parse_case_insensitive_and_comments(void **state)
{
	df_file f;

	parse_ok("# a comment\n\nfrom busybox\n  # indented comment\nrun echo 'a # not a comment'\n", &f);
	assert_int_equal(f.stages[0].n_steps, 1);
	assert_string_equal(f.stages[0].steps[0].args, "echo 'a # not a comment'");
	assert_int_equal(f.stages[0].steps[0].line, 5);
	df_file_free(&f);
	(void)state;
}

static void test_parse_continuations(void **state)
{
	df_file f;

	parse_ok("FROM busybox\nRUN echo a \\\n  # comment inside\n\n    && echo b\nENV X=1\n", &f);
	assert_int_equal(f.stages[0].n_steps, 2);
	assert_string_equal(f.stages[0].steps[0].args, "echo a     && echo b");
	assert_int_equal(f.stages[0].steps[0].line, 2);
	assert_int_equal(f.stages[0].steps[1].line, 6);
	df_file_free(&f);
	(void)state;
}

static void test_parse_escape_directive(void **state)
{
	df_file f;

	parse_ok("# escape=`\nFROM busybox\nRUN dir c:\\ `\n  && echo done\n", &f);
	assert_int_equal(f.escape, '`');
	assert_string_equal(f.stages[0].steps[0].args, "dir c:\\   && echo done");
	df_file_free(&f);
	/* a directive after a comment is a comment */
	parse_ok("# hello\n# escape=`\nFROM busybox\nRUN a \\\n b\n", &f);
	assert_int_equal(f.escape, '\\');
	assert_string_equal(f.stages[0].steps[0].args, "a  b");
	df_file_free(&f);
	parse_fails("# escape=x\nFROM busybox\n", "Containerfile:1: invalid escape token");
	parse_fails("# escape=`\n# escape=\\\nFROM busybox\n", "only one escape");
	(void)state;
}

static void test_parse_syntax_directive(void **state)
{
	df_file f;

	parse_ok("# syntax=docker/dockerfile:1.4\n# escape=\\\nFROM busybox\n", &f);
	assert_string_equal(f.syntax, "docker/dockerfile:1.4");
	df_file_free(&f);
	(void)state;
}

static void test_parse_crlf(void **state)
{
	df_file f;

	parse_ok("FROM busybox\r\nRUN echo a \\\r\n b\r\n", &f);
	assert_string_equal(f.stages[0].steps[0].args, "echo a  b");
	df_file_free(&f);
	(void)state;
}

static void test_parse_heredocs(void **state)
{
	df_file f;
	const df_instruction *in;

	parse_ok("FROM busybox\n"
		 "RUN <<EOF\n"
		 "echo one\n"
		 "echo two\n"
		 "EOF\n"
		 "COPY <<-'CONF' /etc/app.conf\n"
		 "\tkey=$VALUE\n"
		 "\tCONF\n"
		 "RUN cat <<A >/a && cat <<B >/b\n"
		 "first\n"
		 "A\n"
		 "second\n"
		 "B\n"
		 "CMD sh\n",
		 &f);
	assert_int_equal(f.stages[0].n_steps, 4);
	in = &f.stages[0].steps[0];
	assert_int_equal(in->n_heredocs, 1);
	assert_string_equal(in->heredocs[0].name, "EOF");
	assert_string_equal(in->heredocs[0].body, "echo one\necho two\n");
	assert_true(in->heredocs[0].expand);
	in = &f.stages[0].steps[1];
	assert_int_equal(in->kind, DF_COPY);
	assert_string_equal(in->heredocs[0].name, "CONF");
	assert_string_equal(in->heredocs[0].body, "key=$VALUE\n");
	assert_false(in->heredocs[0].expand);
	assert_true(in->heredocs[0].strip_tabs);
	in = &f.stages[0].steps[2];
	assert_int_equal(in->n_heredocs, 2);
	assert_string_equal(in->heredocs[1].body, "second\n");
	assert_int_equal(f.stages[0].steps[3].line, 14);
	df_file_free(&f);
	parse_fails("FROM busybox\nRUN <<EOF\necho\n", "Containerfile:2: RUN: unterminated heredoc");
	(void)state;
}

static void test_parse_flags(void **state)
{
	df_file f;
	const df_instruction *in;

	parse_ok("FROM --platform=linux/amd64 busybox AS b\nCOPY --from=b --chown=1:2 --chmod=0755 /x /y\n", &f);
	assert_string_equal(f.stages[0].platform, "linux/amd64");
	in = &f.stages[0].steps[0];
	assert_string_equal(df_flag_get(in, "from"), "b");
	assert_string_equal(df_flag_get(in, "chown"), "1:2");
	assert_string_equal(df_flag_get(in, "chmod"), "0755");
	assert_null(df_flag_get(in, "link"));
	assert_string_equal(in->args, "/x /y");
	assert_string_equal(in->original, "COPY --from=b --chown=1:2 --chmod=0755 /x /y");
	df_file_free(&f);
	parse_fails("FROM busybox\nCOPY --frm=x a b\n", "Containerfile:2: COPY: unknown flag: --frm");
	parse_fails("FROM busybox\nRUN --network=bridge true\n", "--network: expected none, default or host");
	(void)state;
}

static void test_parse_json_forms(void **state)
{
	df_file f;

	parse_ok("FROM busybox\nRUN [\"echo\", \"a b\"]\nCMD [ \"x\" ]\nENTRYPOINT [bad json\nVOLUME [\"/a\", \"/b\"]\n"
		 "COPY [\"a b\", \"/dst/\"]\n",
		 &f);
	assert_true(f.stages[0].steps[0].json);
	assert_string_equal(f.stages[0].steps[0].argv[1], "a b");
	assert_true(f.stages[0].steps[1].json);
	assert_false(f.stages[0].steps[2].json); /* not JSON: the shell form */
	assert_true(f.stages[0].steps[3].json);
	assert_true(f.stages[0].steps[4].json);
	df_file_free(&f);
	(void)state;
}

static void test_parse_errors_name_file_and_line(void **state)
{
	parse_fails("FROM busybox\n\n\n\n\n\nCOPY onlyone\n", "Containerfile:7: COPY: requires at least two arguments");
	parse_fails("FROM busybox\nADD x\n", "Containerfile:2: ADD: requires at least two arguments");
	parse_fails("FROM busybox\nFOO bar\n", "Containerfile:2: unknown instruction: FOO");
	parse_fails("RUN echo\n", "Containerfile:1: RUN: no FROM before it");
	parse_fails("ARG A=1\n", "no FROM instruction");
	parse_fails("", "no FROM instruction");
	parse_fails("FROM a b\n", "Containerfile:1: FROM: expected FROM");
	parse_fails("FROM a AS 1bad\n", "invalid stage name");
	parse_fails("FROM a AS x\nFROM b AS X\n", "Containerfile:2: FROM: duplicate stage name \"x\"");
	parse_fails("FROM a\nENV\n", "Containerfile:2: ENV: requires at least one argument");
	parse_fails("FROM a\nENV A\n", "Containerfile:2: ENV: can't find = in \"A\"");
	parse_fails("FROM a\nENV A=1 B\n", "can't find = in \"B\"");
	parse_fails("FROM a\nLABEL =x\n", "names can not be blank");
	parse_fails("FROM a\nUSER\n", "Containerfile:2: USER: requires exactly one argument");
	parse_fails("FROM a\nWORKDIR\n", "WORKDIR: requires exactly one argument");
	parse_fails("FROM a\nEXPOSE\n", "EXPOSE: requires at least one argument");
	parse_fails("FROM a\nSHELL /bin/bash -c\n", "SHELL: requires the arguments to be in JSON form");
	parse_fails("FROM a\nHEALTHCHECK --interval=abc CMD true\n", "HEALTHCHECK: --interval: invalid duration");
	parse_fails("FROM a\nHEALTHCHECK CMD\n", "HEALTHCHECK: expected NONE or CMD");
	parse_fails("FROM a\nHEALTHCHECK NONE extra\n", "NONE takes no arguments");
	parse_fails("FROM a\nONBUILD FROM b\n", "ONBUILD: FROM isn't allowed as an ONBUILD trigger");
	parse_fails("FROM a\nONBUILD ONBUILD RUN x\n", "isn't allowed as an ONBUILD trigger");
	parse_fails("FROM a\nARG\n", "ARG: requires at least one argument");
	parse_fails("FROM a\nENV A=\"unterminated\n", "Containerfile:2: ENV: unterminated quote");
	parse_fails("FROM a\nADD --checksum=sha256:00 http://x /y\n", "--checksum");
	(void)state;
}

static void test_parse_trigger(void **state)
{
	berth_error *err = NULL;
	df_instruction *in = NULL;
	df_file f;

	parse_ok("FROM a\n", &f);
	assert_int_equal(df_parse_trigger(&f, 1, "run echo $X", &in, &err), 0);
	assert_int_equal(in->kind, DF_RUN);
	assert_string_equal(in->args, "echo $X");
	df_instruction_free(in);
	assert_int_equal(df_parse_trigger(&f, 1, "COPY --from=x a b", &in, &err), 0);
	assert_string_equal(df_flag_get(in, "from"), "x");
	df_instruction_free(in);
	assert_true(df_parse_trigger(&f, 1, "FROM b", &in, &err) < 0);
	assert_non_null(strstr(err->msg, "Containerfile:1: ONBUILD: FROM isn't allowed as an ONBUILD trigger"));
	berth_error_free(&err);
	assert_true(df_parse_trigger(&f, 1, "COPY onlyone", &in, &err) < 0);
	assert_non_null(strstr(err->msg, "COPY: requires at least two arguments"));
	berth_error_free(&err);
	df_file_free(&f);
	(void)state;
}

static void test_parse_env_forms(void **state)
{
	df_file f;

	parse_ok("FROM a\nENV A=1 B=\"two words\" C=three\\ words\nENV LEGACY value with spaces\n", &f);
	assert_int_equal(f.stages[0].n_steps, 2);
	df_file_free(&f);
	(void)state;
}

/* ---- RUN --mount ---- */

static void test_mount_specs(void **state)
{
	berth_error *err = NULL;
	build_mount m;

	assert_int_equal(build_mount_parse("type=cache,target=/root/.cache", &m, &err), 0);
	assert_int_equal(m.type, BUILD_MOUNT_CACHE);
	assert_string_equal(m.target, "/root/.cache");
	assert_string_equal(m.id, "/root/.cache");
	assert_false(m.readonly);
	assert_int_equal(m.mode, 0755);
	build_mount_free(&m);
	assert_int_equal(
	    build_mount_parse("type=cache,dst=/c,id=npm,mode=0700,uid=1000,gid=1001,sharing=locked,ro", &m, &err), 0);
	assert_string_equal(m.id, "npm");
	assert_int_equal(m.mode, 0700);
	assert_int_equal(m.uid, 1000);
	assert_int_equal(m.gid, 1001);
	assert_true(m.readonly);
	build_mount_free(&m);
	assert_int_equal(build_mount_parse("target=/src", &m, &err), 0); /* bind is the default */
	assert_int_equal(m.type, BUILD_MOUNT_BIND);
	assert_string_equal(m.source, "/");
	assert_true(m.readonly);
	build_mount_free(&m);
	assert_int_equal(build_mount_parse("type=bind,from=build,source=/out,target=/in", &m, &err), 0);
	assert_string_equal(m.from, "build");
	assert_string_equal(m.source, "/out");
	build_mount_free(&m);
	assert_int_equal(build_mount_parse("type=tmpfs,target=/t,size=64m", &m, &err), 0);
	assert_true(m.size == 64ull << 20);
	build_mount_free(&m);

	assert_int_equal(build_mount_parse("type=secret,id=npmrc", &m, &err), 0);
	assert_int_equal(m.type, BUILD_MOUNT_SECRET);
	assert_string_equal(m.target, "/run/secrets/npmrc");
	assert_int_equal(m.mode, 0400);
	assert_true(m.readonly);
	assert_false(m.required);
	build_mount_free(&m);
	assert_int_equal(build_mount_parse("type=secret,target=/root/.netrc,required,mode=0440,uid=5", &m, &err), 0);
	assert_string_equal(m.id, ".netrc");
	assert_int_equal(m.mode, 0440);
	assert_true(m.required);
	build_mount_free(&m);

	const char *bad[][2] = {
		{ "type=cache", "an absolute target= is required" },
		{ "type=cache,target=rel", "an absolute target= is required" },
		{ "type=secret", "a secret needs id= or target=" },
		{ "type=ssh", "type=ssh is not supported" },
		{ "type=volume,target=/v", "unknown type \"volume\"" },
		{ "type=bind,target=/x,rw", "rw bind mounts are not supported" },
		{ "type=cache,target=/x,mode=999", "mode=999: not a valid number" },
		{ "type=cache,target=/x,sharing=maybe", "sharing=maybe" },
		{ "type=tmpfs,target=/x,size=lots", "size=lots" },
		{ "type=cache,target=/x,colour=red", "unknown option \"colour\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(build_mount_parse(bad[i][0], &m, &err) < 0);
		if (strstr(err->msg, bad[i][1]) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", bad[i][0], err->msg, bad[i][1]);
		berth_error_free(&err);
	}
	(void)state;
}

static void test_parse_run_mount_flags(void **state)
{
	df_file f;

	parse_ok("FROM a\nRUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t --mount=target=$DIR true\n",
		 &f);
	assert_int_equal(f.stages[0].steps[0].n_flags, 3);
	df_file_free(&f);
	parse_fails("FROM a\nRUN --mount=type=ssh true\n", "Containerfile:2: RUN: --mount: type=ssh is not supported");
	parse_fails("FROM a\nRUN --mount true\n", "Containerfile:2: RUN: --mount needs a value");
	(void)state;
}

/* ---- the planner ---- */

typedef struct fixture {
	df_file f;
	build_plan p;
} fixture;

static void plan_ok(fixture *fx, const char *text, char *const *build_args, const char *target)
{
	berth_error *err = NULL;

	parse_ok(text, &fx->f);
	if (build_plan_make(&fx->f, build_args, target, HOST, &fx->p, &err) < 0)
		fail_msg("plan: %s", err->msg);
}

static void plan_fails(const char *text, char *const *build_args, const char *target, const char *msg)
{
	berth_error *err = NULL;
	build_plan p;
	df_file f;

	parse_ok(text, &f);
	assert_true(build_plan_make(&f, build_args, target, HOST, &p, &err) < 0);
	if (strstr(err->msg, msg) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err->msg, msg);
	berth_error_free(&err);
	df_file_free(&f);
}

static void fixture_free(fixture *fx)
{
	build_plan_free(&fx->p);
	df_file_free(&fx->f);
}

static void test_plan_global_args_in_from(void **state)
{
	fixture fx;
	char *ba[] = { "VERSION=1.36", NULL };

	plan_ok(&fx, "ARG VERSION=latest\nARG BASE=busybox\nFROM ${BASE}:${VERSION}\n", NULL, NULL);
	assert_string_equal(fx.p.stages[0].base, "busybox:latest");
	fixture_free(&fx);
	plan_ok(&fx, "ARG VERSION=latest\nFROM busybox:$VERSION\n", ba, NULL);
	assert_string_equal(fx.p.stages[0].base, "busybox:1.36");
	fixture_free(&fx);
	plan_fails("ARG EMPTY\nFROM $EMPTY\n", NULL, NULL, "Containerfile:2: FROM: the image name is empty");
	(void)state;
}

static void test_plan_stages_and_target(void **state)
{
	fixture fx;
	const char *text = "FROM busybox AS build\nRUN true\n"
			   "FROM busybox AS unused\nRUN true\n"
			   "FROM build AS derived\n"
			   "FROM scratch\nCOPY --from=derived /x /x\nCOPY --from=0 /y /y\nCOPY --from=alpine /z /z\n";

	plan_ok(&fx, text, NULL, NULL);
	assert_int_equal(fx.p.target, 3);
	assert_true(fx.p.stages[0].needed);
	assert_false(fx.p.stages[1].needed);
	assert_true(fx.p.stages[2].needed);
	assert_int_equal(fx.p.stages[2].base_stage, 0);
	assert_int_equal(fx.p.stages[3].base_stage, -1);
	assert_string_equal(fx.p.stages[3].base, "scratch");
	assert_int_equal(build_plan_stage_ref(&fx.p, "BUILD", 3), 0);
	assert_int_equal(build_plan_stage_ref(&fx.p, "alpine", 3), -1);
	fixture_free(&fx);
	plan_ok(&fx, text, NULL, "unused");
	assert_int_equal(fx.p.target, 1);
	assert_false(fx.p.stages[0].needed);
	assert_true(fx.p.stages[1].needed);
	fixture_free(&fx);
	plan_fails(text, NULL, "nosuch", "target stage \"nosuch\" not found");
	plan_fails("FROM busybox\nCOPY --from=later /a /b\nFROM busybox AS later\n", NULL, NULL,
		   "Containerfile:2: COPY: --from=later names a later stage");
	(void)state;
}

static void test_plan_platform(void **state)
{
	fixture fx;

	plan_ok(&fx, "FROM --platform=$BUILDPLATFORM busybox\n", NULL, NULL);
	fixture_free(&fx);
	plan_ok(&fx, "FROM --platform=linux/amd64 busybox\n", NULL, NULL);
	fixture_free(&fx);
	plan_fails("FROM --platform=linux/s390x busybox\n", NULL, NULL,
		   "Containerfile:1: FROM: --platform=linux/s390x: berth builds for this host's platform (linux/amd64) "
		   "only");
	(void)state;
}

static void test_plan_unused_build_args(void **state)
{
	fixture fx;
	char *ba[] = { "USED=1", "UNUSED=2", "HTTP_PROXY=http://p", NULL };

	plan_ok(&fx, "FROM busybox\nARG USED\n", ba, NULL);
	assert_int_equal(build_strv_len(fx.p.unused_args), 1);
	assert_string_equal(fx.p.unused_args[0], "UNUSED");
	fixture_free(&fx);
	(void)state;
}

/* Evaluates every step of stage S of FX with BASE_ENV; returns the steps. */
static build_step *eval_all(fixture *fx, size_t s, char *const *base_env, build_scope *scope)
{
	const df_stage *st = &fx->f.stages[s];
	build_step *steps = calloc(st->n_steps, sizeof(build_step));
	berth_error *err = NULL;

	assert_int_equal(build_scope_init(scope, base_env, &err), 0);
	for (size_t i = 0; i < st->n_steps; i++)
		if (build_step_eval(&fx->p, &st->steps[i], scope, &steps[i], &err) < 0)
			fail_msg("step %zu: %s", i, err->msg);
	return steps;
}

static void steps_free(build_step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		build_step_free(&steps[i]);
	free(steps);
}

static void test_eval_arg_env_scoping(void **state)
{
	fixture fx;
	build_scope scope;
	build_step *st;
	char *ba[] = { "FROMCLI=cli", NULL };
	char *base_env[] = { "PATH=/usr/bin:/bin", "HOME=/root", NULL };
	const char *text = "ARG GLOBAL=g\nARG FROMCLI=default\nFROM busybox\n"
			   "WORKDIR /a/$GLOBAL\n"	 /* 0: global args are not in scope */
			   "ARG GLOBAL\n"		 /* 1: takes the global value */
			   "WORKDIR /b/$GLOBAL\n"	 /* 2 */
			   "ARG FROMCLI=stage\n"	 /* 3: --build-arg wins */
			   "ARG LOCAL=l1\n"		 /* 4 */
			   "ENV LOCAL=e1 OTHER=$LOCAL\n" /* 5: OTHER sees the ARG: ENV expands with the old scope */
			   "WORKDIR /c/$LOCAL/$OTHER/$FROMCLI\n" /* 6: ENV wins over ARG */
			   "ENV PATH=/opt/bin:$PATH\n"		 /* 7: the base image's Env is in scope */
			   "RUN echo $LOCAL\n"			 /* 8: not expanded */
			   "USER ${NOBODY:-nobody}\n";		 /* 9 */

	plan_ok(&fx, text, ba, NULL);
	st = eval_all(&fx, 0, base_env, &scope);
	assert_string_equal(st[0].words[0], "/a/");
	assert_string_equal(st[1].pairs[0], "GLOBAL=g");
	assert_string_equal(st[2].words[0], "/b/g");
	assert_string_equal(st[3].pairs[0], "FROMCLI=cli");
	assert_string_equal(st[6].words[0], "/c/e1/l1/cli");
	assert_string_equal(build_env_get(scope.env, "PATH"), "/opt/bin:/usr/bin:/bin");
	assert_string_equal(build_env_get(scope.env, "OTHER"), "l1");
	assert_null(build_env_get(scope.env, "FROMCLI")); /* ARGs are not persisted */
	assert_string_equal(st[8].command[0], "/bin/sh");
	assert_string_equal(st[8].command[1], "-c");
	assert_string_equal(st[8].command[2], "echo $LOCAL");
	assert_true(st[8].shell_form);
	/* RUN's environment: Env plus ARGs ENV does not shadow */
	assert_string_equal(build_env_get(st[8].run_env, "FROMCLI"), "cli");
	assert_string_equal(build_env_get(st[8].run_env, "LOCAL"), "e1");
	assert_string_equal(build_env_get(st[8].run_env, "GLOBAL"), "g");
	assert_string_equal(st[9].words[0], "nobody");
	assert_string_equal(st[8].created_by, "RUN /bin/sh -c echo $LOCAL");
	steps_free(st, fx.f.stages[0].n_steps);
	build_scope_free(&scope);
	fixture_free(&fx);
	(void)state;
}

static void test_eval_arg_per_stage(void **state)
{
	fixture fx;
	build_scope scope;
	build_step *st;

	/* an ARG of one stage is not in scope in the next */
	plan_ok(&fx, "FROM busybox\nARG A=1\nFROM busybox\nWORKDIR /x$A\n", NULL, NULL);
	st = eval_all(&fx, 1, NULL, &scope);
	assert_string_equal(st[0].words[0], "/x");
	steps_free(st, 1);
	build_scope_free(&scope);
	fixture_free(&fx);
	(void)state;
}

static void test_eval_shell_and_exec_forms(void **state)
{
	fixture fx;
	build_scope scope;
	build_step *st;

	plan_ok(
	    &fx,
	    "FROM busybox\nCMD [\"a\", \"$HOME\"]\nSHELL [\"/bin/bash\", \"-euc\"]\nRUN echo hi\nENTRYPOINT top -b\n"
	    "CMD\n",
	    NULL, NULL);
	st = eval_all(&fx, 0, NULL, &scope);
	assert_false(st[0].shell_form);
	assert_string_equal(st[0].command[1], "$HOME"); /* exec form: never expanded */
	assert_string_equal(st[2].command[0], "/bin/bash");
	assert_string_equal(st[2].command[1], "-euc");
	assert_string_equal(st[2].command[2], "echo hi");
	assert_string_equal(st[3].command[2], "top -b");
	assert_null(st[4].command[0]);
	steps_free(st, fx.f.stages[0].n_steps);
	build_scope_free(&scope);
	fixture_free(&fx);
	(void)state;
}

static void test_eval_heredocs(void **state)
{
	fixture fx;
	build_scope scope;
	build_step *st;

	plan_ok(&fx,
		"FROM busybox\nENV WHO=world\n"
		"RUN <<EOF\necho one\necho $WHO\nEOF\n"
		"RUN cat <<EOF >/greeting\nhello\nEOF\n"
		"COPY <<EOF /a.txt\nhi $WHO \"q\"\nEOF\n"
		"COPY <<'EOF' /b.txt\nhi $WHO\nEOF\n",
		NULL, NULL);
	st = eval_all(&fx, 0, NULL, &scope);
	assert_string_equal(st[1].command[2], "echo one\necho $WHO\n");
	assert_string_equal(st[2].command[2], "cat <<EOF >/greeting\nhello\nEOF");
	assert_int_equal(st[3].n_sources, 1);
	assert_string_equal(st[3].sources[0].content, "hi world \"q\"\n");
	assert_string_equal(st[3].dest, "/a.txt");
	assert_string_equal(st[4].sources[0].content, "hi $WHO\n");
	steps_free(st, fx.f.stages[0].n_steps);
	build_scope_free(&scope);
	fixture_free(&fx);
	(void)state;
}

static void test_eval_copy_and_metadata(void **state)
{
	fixture fx;
	build_scope scope;
	build_step *st;
	char *ba[] = { "OWNER=1000", NULL };

	plan_ok(&fx,
		"FROM busybox\nARG OWNER\nARG SRC=app\n"
		"COPY --chown=$OWNER:$OWNER --chmod=0640 $SRC/*.c ${SRC}.h /dst/\n"
		"COPY [\"with space\", \"/d\"]\n"
		"LABEL a=1 \"b c\"=\"d e\"\n"
		"LABEL legacy value here\n"
		"EXPOSE 80 ${PORT:-443}/tcp\n"
		"VOLUME [\"/v1\", \"/v2\"]\n"
		"HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --retries=4 CMD [\"curl\", \"-f\", \"x\"]\n"
		"HEALTHCHECK CMD wget -q x || exit 1\n"
		"HEALTHCHECK NONE\n"
		"STOPSIGNAL SIGKILL\n"
		"ONBUILD RUN echo child\n",
		ba, NULL);
	st = eval_all(&fx, 0, NULL, &scope);
	assert_string_equal(st[2].chown, "1000:1000");
	assert_string_equal(st[2].chmod, "0640");
	assert_int_equal(st[2].n_sources, 2);
	assert_string_equal(st[2].sources[0].path, "app/*.c");
	assert_string_equal(st[2].sources[1].path, "app.h");
	assert_string_equal(st[2].dest, "/dst/");
	assert_string_equal(st[3].sources[0].path, "with space");
	assert_string_equal(st[4].pairs[0], "a=1");
	assert_string_equal(st[4].pairs[1], "b c=d e");
	assert_string_equal(st[5].pairs[0], "legacy=value here");
	assert_string_equal(st[6].words[0], "80");
	assert_string_equal(st[6].words[1], "443/tcp");
	assert_string_equal(st[7].words[1], "/v2");
	assert_string_equal(st[8].health.test[0], "CMD");
	assert_string_equal(st[8].health.test[2], "-f");
	assert_true(st[8].health.interval_ns == 30000000000LL);
	assert_true(st[8].health.start_period_ns == 60000000000LL);
	assert_int_equal(st[8].health.retries, 4);
	assert_string_equal(st[9].health.test[0], "CMD-SHELL");
	assert_string_equal(st[9].health.test[1], "wget -q x || exit 1");
	assert_true(st[10].health.none);
	assert_string_equal(st[11].words[0], "SIGKILL");
	assert_string_equal(st[12].trigger, "RUN echo child");
	assert_string_equal(st[2].created_by, "COPY --chown=$OWNER:$OWNER --chmod=0640 $SRC/*.c ${SRC}.h /dst/");
	steps_free(st, fx.f.stages[0].n_steps);
	build_scope_free(&scope);
	fixture_free(&fx);
	(void)state;
}

static void test_eval_errors_name_the_line(void **state)
{
	fixture fx;
	build_scope scope;
	build_step st;
	berth_error *err = NULL;

	plan_ok(&fx, "FROM busybox\nWORKDIR ${MISSING:?set MISSING}\n", NULL, NULL);
	assert_int_equal(build_scope_init(&scope, NULL, &err), 0);
	assert_true(build_step_eval(&fx.p, &fx.f.stages[0].steps[0], &scope, &st, &err) < 0);
	assert_non_null(strstr(err->msg, "Containerfile:2: WORKDIR: MISSING: set MISSING"));
	berth_error_free(&err);
	build_scope_free(&scope);
	fixture_free(&fx);
	(void)state;
}

/* ADD's file name of a URL: the last path component, without the query. */
static void test_url_file_name(void **state)
{
	static const char *const cases[][2] = {
		{ "http://h/file.txt", "file.txt" }, { "https://h:8000/a/b/c.tar.gz?x=1#f", "c.tar.gz" },
		{ "http://h", "index.html" },	     { "http://h/", "index.html" },
		{ "http://h/dir/", "index.html" },   { "http://h/..", "index.html" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *name = build_url_file_name(cases[i][0]);
		assert_non_null(name);
		assert_string_equal(name, cases[i][1]);
	}
}

/* builder prune's filter: until= in docker's forms, everything else refused. */
static void test_cache_filter(void **state)
{
	build_cache_prune_options o = { 0 };
	berth_error *err = NULL;

	(void)state;
	assert_int_equal(build_cache_filter_parse("until=1700000000", &o, &err), 0);
	assert_int_equal(o.until_ns, 1700000000LL * 1000000000LL);
	assert_int_equal(build_cache_filter_parse("until=2023-11-14T22:13:20Z", &o, &err), 0);
	assert_int_equal(o.until_ns, 1700000000LL * 1000000000LL);
	assert_int_equal(build_cache_filter_parse("until=24h", &o, &err), 0);
	assert_true(o.until_ns > 0);
	assert_true(build_cache_filter_parse("until=", &o, &err) < 0);
	berth_error_free(&err);
	assert_true(build_cache_filter_parse("until=soon", &o, &err) < 0);
	assert_non_null(strstr(err->msg, "not a time"));
	berth_error_free(&err);
	assert_true(build_cache_filter_parse("label=a", &o, &err) < 0);
	assert_non_null(strstr(err->msg, "only until=TIME"));
	berth_error_free(&err);
	assert_true(build_cache_filter_parse("untilx=1", &o, &err) < 0);
	berth_error_free(&err);
}

/* POST /commit's config body: the types of the fields merged are checked
 * before anything is made; an Env given as one string, a Cmd as a number,
 * Labels with a non-string value are errors naming the field. */
static void test_commit_config_validate(void **state)
{
	static const char *const bad[] = {
		"[1]",
		"{\"Cmd\": 5}",
		"{\"Entrypoint\": [\"a\", 1]}",
		"{\"Env\": \"A=1\"}",
		"{\"Labels\": {\"k\": 1}}",
		"{\"ExposedPorts\": [\"80/tcp\"]}",
		"{\"User\": 0}",
		"{\"WorkingDir\": []}",
	};
	static const char *const field[] = { "object", "Cmd",	       "Entrypoint", "Env",
					     "Labels", "ExposedPorts", "User",	     "WorkingDir" };
	berth_error *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *cfg = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		build_commit_options o = { .config = cfg };
		assert_non_null(cfg);
		assert_true(build_commit_validate(&o, &err) < 0);
		assert_non_null(strstr(err->msg, field[i]));
		berth_error_free(&err);
		json_decref(cfg);
	}
	json_t *good =
	    json_loads("{\"Cmd\": \"sh\", \"Entrypoint\": null, \"Env\": [\"A=1\"], \"Labels\": {\"k\": \"v\"}, "
		       "\"ExposedPorts\": {\"80/tcp\": {}}, \"User\": \"u\", \"Hostname\": 3}",
		       0, NULL);
	build_commit_options o = { .config = good };
	assert_int_equal(build_commit_validate(&o, &err), 0);
	json_decref(good);
}

/* ADD --checksum: sha256 digests only (a variable is checked once expanded). */
static void test_add_checksum_flag(void **state)
{
	static const char good[] = "FROM x\nADD --checksum=sha256:"
				   "24d4b96f58da6d4a8512313bbd02a28ebf0ca95dec6e4c86ef78ce7f01e788ac http://h/f /f\n"
				   "ADD --checksum=$SUM http://h/f /g\n";
	static const char bad[] = "FROM x\nADD --checksum=md5:abc http://h/f /f\n";
	berth_error *err = NULL;
	df_file f;

	(void)state;
	assert_int_equal(df_parse("Containerfile", good, strlen(good), &f, &err), 0);
	df_file_free(&f);
	assert_true(df_parse("Containerfile", bad, strlen(bad), &f, &err) < 0);
	assert_string_equal(err->msg, "Containerfile:2: ADD: --checksum=md5:abc: expected sha256:<64 hex digits>");
	berth_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_file_name),
		cmocka_unit_test(test_add_checksum_flag),
		cmocka_unit_test(test_cache_filter),
		cmocka_unit_test(test_expand_variables),
		cmocka_unit_test(test_expand_quotes_and_escapes),
		cmocka_unit_test(test_expand_errors),
		cmocka_unit_test(test_expand_vars_only_and_split),
		cmocka_unit_test(test_parse_basic_stage),
		cmocka_unit_test(test_parse_every_instruction),
		cmocka_unit_test(test_parse_case_insensitive_and_comments),
		cmocka_unit_test(test_parse_continuations),
		cmocka_unit_test(test_parse_escape_directive),
		cmocka_unit_test(test_parse_syntax_directive),
		cmocka_unit_test(test_parse_crlf),
		cmocka_unit_test(test_parse_heredocs),
		cmocka_unit_test(test_parse_flags),
		cmocka_unit_test(test_parse_json_forms),
		cmocka_unit_test(test_parse_errors_name_file_and_line),
		cmocka_unit_test(test_parse_env_forms),
		cmocka_unit_test(test_parse_trigger),
		cmocka_unit_test(test_mount_specs),
		cmocka_unit_test(test_parse_run_mount_flags),
		cmocka_unit_test(test_plan_global_args_in_from),
		cmocka_unit_test(test_plan_stages_and_target),
		cmocka_unit_test(test_plan_platform),
		cmocka_unit_test(test_plan_unused_build_args),
		cmocka_unit_test(test_eval_arg_env_scoping),
		cmocka_unit_test(test_eval_arg_per_stage),
		cmocka_unit_test(test_commit_config_validate),
		cmocka_unit_test(test_eval_shell_and_exec_forms),
		cmocka_unit_test(test_eval_heredocs),
		cmocka_unit_test(test_eval_copy_and_metadata),
		cmocka_unit_test(test_eval_errors_name_the_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
