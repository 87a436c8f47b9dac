/* Unit tests of the registry client's parsers and credentials: the
 * WWW-Authenticate challenge, base64, --creds, server names, and the
 * containers-auth.json file (lookup precedence, 0600, other keys kept). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "image/auth.h"
#include "util/fs.h"

/* ---- WWW-Authenticate ---- */

static void test_challenge_bearer(void **state)
{
	berth_error *err = NULL;
	auth_challenge c;

	assert_int_equal(
	    auth_challenge_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
				 "scope=\"repository:library/busybox:pull\"",
				 &c, &err),
	    0);
	assert_string_equal(c.scheme, "bearer");
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:library/busybox:pull");
	assert_null(c.error);
	auth_challenge_free(&c);
}

static void test_challenge_quoting(void **state)
{
	berth_error *err = NULL;
	auth_challenge c;

	/* escaped quotes, commas inside quotes, spaces around '=', a scope list, unquoted values */
	assert_int_equal(
	    auth_challenge_parse("  bearer  Realm = \"https://a/t?x=1,y=\\\"2\\\"\" , service=reg, "
				 "scope=\"repository:a:pull repository:b:pull,push\",error=\"invalid_token\"",
				 &c, &err),
	    0);
	assert_string_equal(c.scheme, "bearer");
	assert_string_equal(c.realm, "https://a/t?x=1,y=\"2\"");
	assert_string_equal(c.service, "reg");
	assert_string_equal(c.scope, "repository:a:pull repository:b:pull,push");
	assert_string_equal(c.error, "invalid_token");
	auth_challenge_free(&c);
}

static void test_challenge_basic(void **state)
{
	berth_error *err = NULL;
	auth_challenge c;

	assert_int_equal(auth_challenge_parse("Basic realm=\"Registry Realm\"", &c, &err), 0);
	assert_string_equal(c.scheme, "basic");
	assert_string_equal(c.realm, "Registry Realm");
	assert_null(c.service);
	assert_null(c.scope);
	auth_challenge_free(&c);

	/* two challenges: the first one counts */
	assert_int_equal(auth_challenge_parse("Basic realm=\"r\", Bearer realm=\"https://x\"", &c, &err), 0);
	assert_string_equal(c.scheme, "basic");
	assert_string_equal(c.realm, "r");
	auth_challenge_free(&c);

	assert_true(auth_challenge_parse("   ", &c, &err) < 0);
	assert_non_null(strstr(err->msg, "no scheme"));
	berth_error_free(&err);
}

/* ---- base64 and --creds ---- */

static void test_base64(void **state)
{
	static const char *const cases[][2] = {
		{ "", "" },	   { "f", "Zg==" },	   { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" }, { "user:pa:ss", "dXNlcjpwYTpzcw==" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *enc = auth_base64_encode(cases[i][0], strlen(cases[i][0])), *dec = NULL;
		size_t len = 0;
		assert_string_equal(enc, cases[i][1]);
		assert_int_equal(auth_base64_decode(enc, &dec, &len), 0);
		assert_int_equal(len, strlen(cases[i][0]));
		assert_memory_equal(dec, cases[i][0], len);
		free(enc);
		free(dec);
	}
	{
		char *dec = NULL;
		size_t len;
		assert_int_equal(auth_base64_decode("Zm9v!", &dec, &len), -EINVAL);
		assert_int_equal(auth_base64_decode("Z", &dec, &len), -EINVAL);
		/* docker writes padding; some tools do not */
		assert_int_equal(auth_base64_decode("Zm8", &dec, &len), 0);
		assert_string_equal(dec, "fo");
		free(dec);
	}
}

static void test_creds(void **state)
{
	berth_error *err = NULL;
	auth_credentials c;

	assert_int_equal(auth_parse_creds("alice:s3:cret", &c, &err), 0);
	assert_string_equal(c.username, "alice");
	assert_string_equal(c.password, "s3:cret");
	auth_credentials_free(&c);
	assert_null(c.username);

	assert_true(auth_parse_creds("alice", &c, &err) < 0);
	assert_non_null(strstr(err->msg, "--creds"));
	berth_error_free(&err);
	assert_true(auth_parse_creds(":pw", &c, &err) < 0);
	berth_error_free(&err);
	assert_true(auth_parse_creds("alice:", &c, &err) < 0);
	berth_error_free(&err);
}

static void test_normalize_server(void **state)
{
	static const char *const cases[][2] = {
		{ "127.0.0.1:5000", "127.0.0.1:5000" },	     { "https://127.0.0.1:5000/", "127.0.0.1:5000" },
		{ "http://reg.example/v2/", "reg.example" }, { "https://index.docker.io/v1/", "docker.io" },
		{ "registry-1.docker.io", "docker.io" },     { "quay.io/team", "quay.io/team" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *n = auth_normalize_server(cases[i][0]);
		assert_string_equal(n, cases[i][1]);
		free(n);
	}
}

/* ---- the auth file ---- */

typedef struct tmp_env {
	char dir[64];
	char file[128];
} tmp_env;

static int setup_tmp(void **state)
{
	tmp_env *t = calloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/berth-test-registry.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->file, sizeof(t->file), "%s/sub/auth.json", t->dir);
	setenv("REGISTRY_AUTH_FILE", t->file, 1);
	*state = t;
	return 0;
}

static int teardown_tmp(void **state)
{
	tmp_env *t = *state;
	berth_error *err = NULL;

	unsetenv("REGISTRY_AUTH_FILE");
	fs_remove_tree(t->dir, &err);
	berth_error_free(&err);
	free(t);
	return 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_auth_store_lookup(void **state)
{
	tmp_env *t = *state;
	berth_error *err = NULL;
	auth_credentials c;
	struct stat st;
	json_t *j;
	bool found = false;
	char *path = auth_file_path(NULL, NULL);

	assert_string_equal(path, t->file);
	free(path);

	/* nothing stored yet: no file is not an error */
	assert_int_equal(auth_lookup(NULL, "127.0.0.1:5000/a/b", &c, &found, &err), 0);
	assert_false(found);

	assert_int_equal(auth_store(t->file, "https://127.0.0.1:5000/", "alice", "pw:1", &err), 0);
	assert_int_equal(stat(t->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* the containers-auth.json shape */
	j = json_load_file(t->file, 0, NULL);
	assert_non_null(j);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(json_object_get(j, "auths"), "127.0.0.1:5000"), "auth")),
	    "YWxpY2U6cHc6MQ==");
	json_decref(j);

	assert_int_equal(auth_lookup(NULL, "127.0.0.1:5000/a/b", &c, &found, &err), 0);
	assert_true(found);
	assert_string_equal(c.username, "alice");
	assert_string_equal(c.password, "pw:1");
	auth_credentials_free(&c);

	/* another port is another registry; a prefix of the host is no match */
	assert_int_equal(auth_lookup(NULL, "127.0.0.1:5001/a", &c, &found, &err), 0);
	assert_false(found);
	assert_int_equal(auth_lookup(NULL, "127.0.0.1:50000/a", &c, &found, &err), 0);
	assert_false(found);
}

static void test_auth_namespace_precedence(void **state)
{
	tmp_env *t = *state;
	berth_error *err = NULL;
	auth_credentials c;
	bool found = false;

	assert_int_equal(fs_mkdir_p(t->dir, 0700, &err), 0);
	snprintf(t->file, sizeof(t->file), "%s/auth.json", t->dir);
	/* docker's spelling of docker.io, a namespace key, a plain host key, and other members */
	write_text(t->file, "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1Yg==\"},"
			    "\"reg.example/team\":{\"auth\":\"dGVhbTp0ZWFt\"},"
			    "\"reg.example\":{\"auth\":\"aG9zdDpob3N0\"}},"
			    "\"credHelpers\":{\"x.example\":\"pass\"}}");
	assert_int_equal(auth_lookup(t->file, "docker.io/library/busybox", &c, &found, &err), 0);
	assert_true(found);
	assert_string_equal(c.username, "hub");
	auth_credentials_free(&c);
	assert_int_equal(auth_lookup(t->file, "reg.example/team/app", &c, &found, &err), 0);
	assert_string_equal(c.username, "team");
	auth_credentials_free(&c);
	assert_int_equal(auth_lookup(t->file, "reg.example/teamx/app", &c, &found, &err), 0);
	assert_string_equal(c.username, "host");
	auth_credentials_free(&c);
	assert_int_equal(auth_lookup(t->file, "reg.example", &c, &found, &err), 0);
	assert_string_equal(c.username, "host");
	auth_credentials_free(&c);

	/* logout of one key keeps the others and credHelpers */
	{
		bool removed = false;
		json_t *j;
		assert_int_equal(auth_remove(t->file, "reg.example", false, &removed, &err), 0);
		assert_true(removed);
		assert_int_equal(auth_remove(t->file, "reg.example", false, &removed, &err), 0);
		assert_false(removed);
		j = json_load_file(t->file, 0, NULL);
		assert_non_null(json_object_get(j, "credHelpers"));
		assert_non_null(json_object_get(json_object_get(j, "auths"), "reg.example/team"));
		assert_null(json_object_get(json_object_get(j, "auths"), "reg.example"));
		json_decref(j);
		assert_int_equal(auth_remove(t->file, NULL, true, &removed, &err), 0);
		assert_true(removed);
		j = json_load_file(t->file, 0, NULL);
		assert_int_equal(json_object_size(json_object_get(j, "auths")), 0);
		json_decref(j);
	}
}

static void test_auth_bad_file(void **state)
{
	tmp_env *t = *state;
	berth_error *err = NULL;
	auth_credentials c;
	bool found = false;

	assert_int_equal(fs_mkdir_p(t->dir, 0700, &err), 0);
	snprintf(t->file, sizeof(t->file), "%s/bad.json", t->dir);
	write_text(t->file, "{\"auths\": ");
	assert_true(auth_lookup(t->file, "reg.example/a", &c, &found, &err) < 0);
	assert_non_null(strstr(err->msg, t->file));
	berth_error_free(&err);

	write_text(t->file, "{\"auths\":{\"reg.example\":{\"auth\":\"***\"}}}");
	assert_true(auth_lookup(t->file, "reg.example/a", &c, &found, &err) < 0);
	assert_non_null(strstr(err->msg, "base64"));
	berth_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_challenge_bearer),
		cmocka_unit_test(test_challenge_quoting),
		cmocka_unit_test(test_challenge_basic),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_creds),
		cmocka_unit_test(test_normalize_server),
		cmocka_unit_test_setup_teardown(test_auth_store_lookup, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_auth_namespace_precedence, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_auth_bad_file, setup_tmp, teardown_tmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
