/* engine: small parsers of the docker-compatible commands: the OOM counter
 * of a memory cgroup (v1 and v2 files), attach's detach keys, events'
 * filters; the binary's directory across the monitor's seal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/attach.h"
#include "engine/events.h"
#include "engine/oom.h"
#include "engine/runtime_call.h"
#include "runtime/exe_guard.h"

static int file_with(const char *text)
{
	char path[] = "/tmp/berth-oom-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void test_oom_counter(void **state)
{
	/* v2 memory.events */
	int fd = file_with("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n");
	assert_int_equal(engine_oom_kills(fd), 2);
	close(fd);
	/* v1 memory.oom_control */
	fd = file_with("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n");
	assert_int_equal(engine_oom_kills(fd), 7);
	close(fd);
	/* "oom_kill" only as a whole key at a line start */
	fd = file_with("oom_kill_disable 1\nunder_oom 0\n");
	assert_int_equal(engine_oom_kills(fd), 0);
	close(fd);
	assert_int_equal(engine_oom_kills(-1), 0);
}

static void expect_path(const char *text, const char *want)
{
	char *got = engine_oom_path(text, "/sys/fs/cgroup");
	if (want == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_oom_path(void **state)
{
	expect_path("0::/user.slice/berth/abc\n", "/sys/fs/cgroup/user.slice/berth/abc/memory.events");
	expect_path("0::/\n", "/sys/fs/cgroup/memory.events");
	/* hybrid v1: the memory line, not the empty unified one */
	expect_path("12:pids:/x\n4:memory:/a/berth/id\n1:name=systemd:/s\n0::/s\n",
		    "/sys/fs/cgroup/memory/a/berth/id/memory.oom_control");
	expect_path("0::/s\n4:memory:/a\n", "/sys/fs/cgroup/memory/a/memory.oom_control");
	expect_path("5:cpu,memory:/c\n", "/sys/fs/cgroup/memory/c/memory.oom_control");
	expect_path("3:memory_other:/c\n", NULL);
	expect_path("", NULL);
}

static void test_detach_keys(void **state)
{
	unsigned char keys[8];
	berth_error *err = NULL;
	int n;

	assert_int_equal(attach_parse_detach_keys("ctrl-p,ctrl-q", keys, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(keys[0], 0x10);
	assert_int_equal(keys[1], 0x11);
	assert_int_equal(attach_parse_detach_keys("ctrl-@,x,ctrl-[", keys, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(keys[0], 0);
	assert_int_equal(keys[1], 'x');
	assert_int_equal(keys[2], 0x1b);
	assert_true(attach_parse_detach_keys("ctrl-1", keys, &n, &err) < 0);
	assert_non_null(strstr(err->msg, "ctrl-1"));
	berth_error_free(&err);
	assert_true(attach_parse_detach_keys("shift-a", keys, &n, &err) < 0);
	berth_error_free(&err);
	assert_true(attach_parse_detach_keys("a,b,c,d,e,f,g,h,i", keys, &n, &err) < 0);
	berth_error_free(&err);
}

static void test_event_filters(void **state)
{
	json_t *e = json_loads("{\"Action\": \"health_status: healthy\", \"Actor\": {\"ID\": \"abcdef0123\", "
			       "\"Attributes\": {\"name\": \"web\", \"image\": \"bb\", \"tier\": \"front\"}}}",
			       0, NULL);
	const char *web[] = { "web", NULL }, *prefix[] = { "abcd", NULL }, *other[] = { "db", NULL };
	const char *health[] = { "health_status", NULL }, *die[] = { "die", "start", NULL };
	const char *front[] = { "tier=front", NULL }, *back[] = { "tier=back", NULL }, *has[] = { "tier", NULL };
	const char *bb[] = { "bb", NULL };

	assert_non_null(e);
	assert_true(engine_event_matches(e, &(engine_event_filter){ 0 }));
	assert_true(engine_event_matches(e, &(engine_event_filter){ .containers = web }));
	assert_true(engine_event_matches(e, &(engine_event_filter){ .containers = prefix }));
	assert_false(engine_event_matches(e, &(engine_event_filter){ .containers = other }));
	assert_true(engine_event_matches(e, &(engine_event_filter){ .events = health }));
	assert_false(engine_event_matches(e, &(engine_event_filter){ .events = die }));
	assert_true(engine_event_matches(e, &(engine_event_filter){ .labels = front, .images = bb }));
	assert_true(engine_event_matches(e, &(engine_event_filter){ .labels = has }));
	assert_false(engine_event_matches(e, &(engine_event_filter){ .labels = back }));
	/* different keys: all must match */
	assert_false(engine_event_matches(e, &(engine_event_filter){ .containers = web, .labels = back }));
	json_decref(e);
}

/* The monitor seals itself in place (runtime_call.c), after which
 * /proc/self/exe reads "/test_engine_misc": the directory that the paths of
 * berth-runtime and berth-init derive from stays the one resolved before. */
static void test_exe_dir_after_seal(void **state)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int status;
	pid_t pid;

	(void)state;
	assert_true(n > 0);
	exe[n] = '\0';
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char after[PATH_MAX];
		const char *dir = engine_exe_dir();
		berth_error *err = NULL;

		if (dir == NULL || strcmp(dir, dirname(exe)) != 0)
			_exit(1);
		if (exe_guard_seal_in_place(&err) < 0)
			_exit(77); /* not root, or no mount API: nothing moves */
		n = readlink("/proc/self/exe", after, sizeof(after) - 1);
		if (n <= 0 || (after[n] = '\0', strcmp(after, dir) == 0))
			_exit(2); /* the seal did not change it: no test */
		_exit(strcmp(engine_exe_dir(), dir) == 0 ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oom_counter),	   cmocka_unit_test(test_oom_path),
		cmocka_unit_test(test_detach_keys),	   cmocka_unit_test(test_event_filters),
		cmocka_unit_test(test_exe_dir_after_seal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
