/* api/create: docker's container create body into berth's run options, the
 * zero values the docker CLI always sends accepted, unsupported fields
 * refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api/create.h"

static int parse(const char *text, run_options *o, const char **image, create_strings *k, json_t **body,
		 berth_error **err)
{
	*body = json_loads(text, 0, NULL);
	assert_non_null(*body);
	return api_create_options(*body, "n1", o, image, k, err);
}

static void test_docker_cli_defaults(void **state)
{
	/* what `docker run --rm -i bb echo hi` sends (docker 20.10), trimmed */
	const char *text =
	    "{\"Hostname\":\"\",\"User\":\"\",\"AttachStdin\":true,\"Tty\":false,\"OpenStdin\":true,"
	    "\"StdinOnce\":true,\"Env\":[\"A=1\"],\"Cmd\":[\"echo\",\"hi\"],\"Image\":\"bb\","
	    "\"Volumes\":{},\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":{},"
	    "\"HostConfig\":{\"Binds\":null,\"LogConfig\":{\"Type\":\"\",\"Config\":{}},"
	    "\"NetworkMode\":\"default\",\"PortBindings\":{},\"RestartPolicy\":{\"Name\":\"no\","
	    "\"MaximumRetryCount\":0},\"AutoRemove\":true,\"CapAdd\":null,\"Dns\":[],\"CgroupnsMode\":\"\","
	    "\"ShmSize\":0,\"ConsoleSize\":[0,0],\"CpuShares\":0,\"Memory\":0,\"NanoCpus\":0,"
	    "\"Devices\":[],\"MemorySwappiness\":-1,\"OomKillDisable\":false,\"PidsLimit\":null},"
	    "\"NetworkingConfig\":{\"EndpointsConfig\":{\"default\":{}}}}";
	create_strings k = { 0 };
	berth_error *err = NULL;
	const char *image;
	run_options o;
	json_t *body;

	assert_int_equal(parse(text, &o, &image, &k, &body, &err), 0);
	assert_string_equal(image, "bb");
	assert_string_equal(o.name, "n1");
	assert_true(o.remove);
	assert_true(o.interactive);
	assert_true(o.stdin_once);
	assert_null(o.network);
	assert_null(o.publish);
	assert_null(o.memory);
	assert_string_equal(o.command[0], "echo");
	assert_string_equal(o.command[1], "hi");
	assert_null(o.command[2]);
	assert_string_equal(o.env[0], "A=1");
	create_strings_free(&k);
	json_decref(body);
}

static void test_host_config_values(void **state)
{
	const char *text =
	    "{\"Image\":\"bb\",\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo x\"],\"Labels\":{\"a\":\"b\"},"
	    "\"Healthcheck\":{\"Test\":[\"CMD\",\"true\",\"x\"],\"Interval\":2000000000,\"Retries\":2},"
	    "\"HostConfig\":{\"Memory\":67108864,\"NanoCpus\":1500000000,\"PortBindings\":{\"80/tcp\":"
	    "[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}]},\"RestartPolicy\":{\"Name\":\"on-failure\","
	    "\"MaximumRetryCount\":3},\"Tmpfs\":{\"/run\":\"size=1m\"},\"Ulimits\":[{\"Name\":\"nofile\","
	    "\"Soft\":10,\"Hard\":20}],\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v1\",\"Target\":\"/data\","
	    "\"ReadOnly\":true}],\"NetworkMode\":\"net1\"}}";
	create_strings k = { 0 };
	berth_error *err = NULL;
	const char *image;
	run_options o;
	json_t *body;

	assert_int_equal(parse(text, &o, &image, &k, &body, &err), 0);
	assert_string_equal(o.memory, "67108864");
	assert_string_equal(o.cpus, "1.5");
	assert_string_equal(o.publish[0], "127.0.0.1:8080:80/tcp");
	assert_string_equal(o.restart, "on-failure:3");
	assert_string_equal(o.tmpfs[0], "/run:size=1m");
	assert_string_equal(o.ulimits[0], "nofile=10:20");
	assert_string_equal(o.mounts[0], "type=volume,src=v1,dst=/data,readonly");
	assert_string_equal(o.network, "net1");
	assert_string_equal(o.labels[0], "a=b");
	assert_string_equal(o.health_cmd, "true x");
	assert_string_equal(o.health_interval, "2000ms");
	assert_string_equal(o.health_retries, "2");
	/* the second word of the entrypoint goes before Cmd */
	assert_string_equal(o.entrypoint, "/bin/sh");
	assert_string_equal(o.command[0], "-c");
	assert_string_equal(o.command[1], "echo x");
	create_strings_free(&k);
	json_decref(body);
}

static void expect_refused(const char *text, const char *words)
{
	create_strings k = { 0 };
	berth_error *err = NULL;
	const char *image;
	run_options o;
	json_t *body;

	assert_true(parse(text, &o, &image, &k, &body, &err) < 0);
	assert_non_null(err);
	assert_int_equal(err->code, EINVAL);
	if (strstr(err->msg, words) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", err->msg, words);
	berth_error_free(&err);
	create_strings_free(&k);
	json_decref(body);
}

static void test_refused(void **state)
{
	expect_refused("{\"Cmd\":[\"x\"]}", "Image: required");
	expect_refused("{\"Image\":\"bb\",\"HostConfig\":{\"Devices\":[{\"PathOnHost\":\"/dev/kvm\"}]}}",
		       "HostConfig.Devices is not supported by berth");
	expect_refused("{\"Image\":\"bb\",\"HostConfig\":{\"CpuShares\":512}}", "HostConfig.CpuShares");
	expect_refused("{\"Image\":\"bb\",\"HostConfig\":{\"Frobnicate\":true}}", "HostConfig.Frobnicate");
	expect_refused("{\"Image\":\"bb\",\"Nonsense\":1}", "Config.Nonsense");
	expect_refused("{\"Image\":\"bb\",\"Cmd\":[1]}", "Config.Cmd[0]: expected a string");
	expect_refused("{\"Image\":\"bb\",\"HostConfig\":{\"LogConfig\":{\"Type\":\"syslog\"}}}", "LogConfig.Type");
	expect_refused("{\"Image\":\"bb\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"npipe\"}]}}", "Mounts[0].Type");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_cli_defaults),
		cmocka_unit_test(test_host_config_values),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
