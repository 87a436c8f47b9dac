/* api/route and api/parse: the version prefix, route patterns (image names
 * with slashes), update bodies as `berth update` values, X-Registry-Auth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/parse.h"
#include "api/route.h"

static void test_version(void **state)
{
	const char *rest;
	unsigned major, minor;

	assert_int_equal(api_url_version("/v1.41/containers/json", &rest, &major, &minor), 0);
	assert_string_equal(rest, "/containers/json");
	assert_int_equal(api_url_version("/_ping", &rest, &major, &minor), 0);
	assert_string_equal(rest, "/_ping");
	assert_int_equal(api_url_version("/v1.24", &rest, &major, &minor), 0);
	assert_string_equal(rest, "");
	assert_int_equal(api_url_version("/v1.43/info", &rest, &major, &minor), 1);
	assert_true(api_url_version("/v1.12/info", &rest, &major, &minor) < 0);
	assert_int_equal(api_url_version("/v4294967295.1/info", &rest, &major, &minor), 1);
	/* not a version segment: the path as it is (then a 404) */
	assert_int_equal(api_url_version("/v1.41x/info", &rest, &major, &minor), 0);
	assert_string_equal(rest, "/v1.41x/info");
}

static bool match(const char *pattern, const char *path, const char *want0, const char *want1)
{
	char *p[API_ROUTE_PARAMS] = { NULL };
	bool hit = api_route_match(pattern, path, p);

	if (hit && want0)
		assert_string_equal(p[0], want0);
	if (hit && want1)
		assert_string_equal(p[1], want1);
	for (int i = 0; i < API_ROUTE_PARAMS; i++)
		free(p[i]);
	return hit;
}

static void test_routes(void **state)
{
	assert_true(match("/containers/{}/json", "/containers/abc/json", "abc", NULL));
	assert_true(match("/images/{}/push", "/images/127.0.0.1:5000/a/b/push", "127.0.0.1:5000/a/b", NULL));
	assert_true(match("/images/{}/get", "/images/bb/get", "bb", NULL));
	assert_true(match("/images/get", "/images/get", NULL, NULL));
	assert_true(match("/containers/{}", "/containers/x", "x", NULL));
	assert_false(match("/containers/{}/json", "/containers//json", NULL, NULL));
	assert_false(match("/containers/{}/json", "/containers/json", NULL, NULL));
	assert_false(match("/containers/prune", "/containers/prune/x", NULL, NULL));
	assert_false(match("/build", "/buildx", NULL, NULL));
	assert_false(match("/build", "build", NULL, NULL));
}

static void test_update(void **state)
{
	char *v[4] = { NULL };
	berth_error *err = NULL;
	json_t *b;

	/* what `docker update --memory 64m --cpus 1.5 --pids-limit 50 C` sends */
	b = json_loads("{\"Memory\":67108864,\"NanoCpus\":1500000000,\"PidsLimit\":50,\"CpuShares\":0,"
		       "\"KernelMemory\":0,\"CpusetCpus\":\"\",\"BlkioWeightDevice\":null,\"Devices\":[],"
		       "\"Ulimits\":{},\"RestartPolicy\":{\"Name\":\"\",\"MaximumRetryCount\":0}}",
		       0, NULL);
	assert_int_equal(api_update_values(b, v, &err), 0);
	assert_string_equal(v[0], "67108864");
	assert_string_equal(v[1], "1.5");
	assert_string_equal(v[2], "50");
	assert_null(v[3]);
	for (int i = 0; i < 4; i++)
		free(v[i]);
	json_decref(b);
	/* CpuQuota over CpuPeriod */
	memset(v, 0, sizeof(v));
	b = json_loads("{\"CpuQuota\":50000,\"CpuPeriod\":100000}", 0, NULL);
	assert_int_equal(api_update_values(b, v, &err), 0);
	assert_string_equal(v[1], "0.5");
	for (int i = 0; i < 4; i++)
		free(v[i]);
	json_decref(b);
	/* what berth cannot change is refused by name */
	b = json_loads("{\"KernelMemory\":67108864}", 0, NULL);
	assert_true(api_update_values(b, v, &err) < 0);
	assert_non_null(strstr(err->msg, "KernelMemory"));
	berth_error_free(&err);
	json_decref(b);
	b = json_loads("{\"RestartPolicy\":{\"Name\":\"always\"}}", 0, NULL);
	assert_true(api_update_values(b, v, &err) < 0);
	assert_non_null(strstr(err->msg, "RestartPolicy"));
	berth_error_free(&err);
	json_decref(b);
	b = json_loads("{\"Memory\":\"64m\"}", 0, NULL);
	assert_true(api_update_values(b, v, &err) < 0);
	assert_non_null(strstr(err->msg, "Memory: expected an integer"));
	berth_error_free(&err);
	json_decref(b);
}

static void test_registry_auth(void **state)
{
	berth_error *err = NULL;
	char *creds = NULL;

	/* {"username":"u","password":"p","serveraddress":"127.0.0.1:5000"}, base64url without padding */
	assert_int_equal(
	    api_registry_auth("eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAiLCJzZXJ2ZXJhZGRyZXNzIjoiMTI3LjAuMC4xOjUwMDAifQ",
			      &creds, &err),
	    0);
	assert_string_equal(creds, "u:p");
	free(creds);
	/* {} (what the CLI sends without a login), none at all */
	assert_int_equal(api_registry_auth("e30=", &creds, &err), 0);
	assert_null(creds);
	assert_int_equal(api_registry_auth(NULL, &creds, &err), 0);
	assert_null(creds);
	/* base64url's - and _ ({"username":"a?>","password":"~~~"}) */
	assert_int_equal(api_registry_auth("eyJ1c2VybmFtZSI6ImE_PiIsInBhc3N3b3JkIjoifn5-In0", &creds, &err), 0);
	assert_string_equal(creds, "a?>:~~~");
	free(creds);
	assert_true(api_registry_auth("!!!", &creds, &err) < 0);
	berth_error_free(&err);
	assert_true(api_registry_auth("WzFd", &creds, &err) < 0); /* [1] */
	assert_non_null(strstr(err->msg, "not a JSON object"));
	berth_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_registry_auth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
