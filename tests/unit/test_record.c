/* engine/record and record_sweep: what a killed command leaves in
 * STORE/containers is recognised by the process it names and removed by
 * the next command that meets it (a listing, a lookup, a name wanted
 * again); what a live process works on is left alone and hidden. On a
 * scratch store, without containers: the runtime has nothing to delete. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/record.h"
#include "engine/record_sweep.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

typedef struct fixture {
	char *dir;
	char *store, *run;
	engine_paths paths;
	pid_t dead; /* a pid that no longer runs */
} fixture;

static int setup(void **state)
{
	char tmpl[] = "/tmp/berth-test-record.XXXXXX";
	fixture *f = calloc(1, sizeof(*f));
	berth_error *err = NULL;
	pid_t pid;

	assert_non_null(f);
	assert_non_null(mkdtemp(tmpl));
	f->dir = strdup(tmpl);
	f->store = fs_path_join(f->dir, "store");
	f->run = fs_path_join(f->dir, "run");
	assert_int_equal(engine_paths_init(&f->paths, f->store, f->run, &err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	f->dead = pid;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	berth_error *err = NULL;

	assert_int_equal(fs_remove_tree(f->dir, &err), 0);
	engine_paths_free(&f->paths);
	free(f->store);
	free(f->run);
	free(f->dir);
	free(f);
	return 0;
}

static bool exists(const fixture *f, const char *name)
{
	_cleanup_free_ char *path = fs_path_join(f->paths.containers, name);
	return access(path, F_OK) == 0;
}

static bool claimed(const fixture *f, const char *name)
{
	_cleanup_free_ char *path = fs_path_join(f->paths.names, name);
	struct stat st;
	return lstat(path, &st) == 0;
}

static void claim(const fixture *f, const char *name, const char *id)
{
	_cleanup_free_ char *path = fs_path_join(f->paths.names, name);
	assert_int_equal(symlink(id, path), 0);
}

/* A record ID named NAME; CREATOR_PID > 0: unfinished, made by that pid. */
static void fake_record(const fixture *f, const char *dirname, const char *id, const char *name, pid_t creator_pid,
			unsigned long long creator_start)
{
	_cleanup_free_ char *dir = fs_path_join(f->paths.containers, dirname), *cfg = NULL, *state = NULL;
	FILE *out;

	assert_int_equal(mkdir(dir, 0700), 0);
	cfg = fs_path_join(dir, "config.json");
	state = fs_path_join(dir, "state.json");
	out = fopen(cfg, "w");
	assert_non_null(out);
	fprintf(out, "{\"Id\": \"%s\", \"Name\": \"%s\", \"Created\": \"2026-01-01T00:00:00Z\"", id, name);
	if (creator_pid > 0)
		fprintf(out, ", \"Creating\": {\"Pid\": %d, \"StartTime\": %llu}", (int)creator_pid, creator_start);
	fprintf(out, "}\n");
	fclose(out);
	out = fopen(state, "w");
	assert_non_null(out);
	fprintf(out, "{\"Status\": \"created\"}\n");
	fclose(out);
}

static size_t listed(const fixture *f)
{
	container **list = NULL;
	berth_error *err = NULL;
	size_t n = 0;

	assert_int_equal(record_list(&f->paths, &list, &n, &err), 0);
	record_list_free(list, n);
	return n;
}

static void test_unfinished_dead_creator_goes_with_listing(void **state)
{
	fixture *f = *state;

	fake_record(f, ID_A, ID_A, "half", f->dead, 1);
	claim(f, "half", ID_A);
	assert_int_equal(listed(f), 0);
	assert_false(exists(f, ID_A));
	assert_false(claimed(f, "half"));
}

static void test_unfinished_live_creator_is_hidden_and_kept(void **state)
{
	fixture *f = *state;
	unsigned long long start;
	container *c = NULL;
	berth_error *err = NULL;
	pid_t pid;

	record_owner_self(&pid, &start);
	fake_record(f, ID_A, ID_A, "busy", pid, start);
	claim(f, "busy", ID_A);
	assert_int_equal(listed(f), 0);
	assert_true(exists(f, ID_A));
	assert_true(record_open(&f->paths, "busy", &c, &err) < 0);
	assert_int_equal(err->code, EBUSY);
	berth_error_free(&err);
	assert_true(claimed(f, "busy"));
}

static void test_open_by_name_removes_half_made(void **state)
{
	fixture *f = *state;
	container *c = NULL;
	berth_error *err = NULL;

	fake_record(f, ID_A, ID_A, "half", f->dead, 1);
	claim(f, "half", ID_A);
	assert_true(record_open(&f->paths, "half", &c, &err) < 0);
	assert_int_equal(err->code, ESTALE);
	berth_error_free(&err);
	assert_false(exists(f, ID_A));
	assert_false(claimed(f, "half"));
}

static void test_stale_claim_is_dropped(void **state)
{
	fixture *f = *state;
	container *c = NULL;
	berth_error *err = NULL;

	/* a remover killed after the rename, before it dropped the name */
	claim(f, "gone", ID_B);
	assert_true(record_open(&f->paths, "gone", &c, &err) < 0);
	assert_int_equal(err->code, ESTALE);
	berth_error_free(&err);
	assert_false(claimed(f, "gone"));
}

static void test_name_of_half_made_is_taken_over(void **state)
{
	fixture *f = *state;
	container *c = NULL;
	berth_error *err = NULL;
	json_t *cfg = json_object();

	fake_record(f, ID_A, ID_A, "web", f->dead, 1);
	claim(f, "web", ID_A);
	assert_int_equal(record_create(&f->paths, "web", cfg, &c, &err), 0);
	json_decref(cfg);
	assert_false(exists(f, ID_A));
	/* unfinished until committed: hidden */
	assert_int_equal(listed(f), 0);
	assert_int_equal(record_commit(c, &err), 0);
	assert_int_equal(listed(f), 1);
	assert_null(json_object_get(c->config, "Creating"));
	container_free(c);
	c = NULL;
	assert_int_equal(record_open(&f->paths, "web", &c, &err), 0);
	assert_string_equal(c->name, "web");
	container_free(c);
}

static void test_name_in_use_stays(void **state)
{
	fixture *f = *state;
	container *c = NULL;
	berth_error *err = NULL;
	json_t *cfg = json_object();

	fake_record(f, ID_A, ID_A, "web", 0, 0);
	claim(f, "web", ID_A);
	assert_true(record_create(&f->paths, "web", cfg, &c, &err) < 0);
	json_decref(cfg);
	assert_non_null(strstr(err->msg, "already in use"));
	berth_error_free(&err);
	assert_true(exists(f, ID_A));
	assert_int_equal(listed(f), 1);
}

static void test_hidden_leftovers_by_owner(void **state)
{
	fixture *f = *state;
	unsigned long long start;
	char dead_creating[160], dead_removing[160], live_removing[160];
	pid_t pid;

	record_owner_self(&pid, &start);
	snprintf(dead_creating, sizeof(dead_creating), ".creating-%d-1-%s", (int)f->dead, ID_A);
	snprintf(dead_removing, sizeof(dead_removing), ".removing-%d-1-%s", (int)f->dead, ID_B);
	snprintf(live_removing, sizeof(live_removing), ".removing-%d-%llu-%s", (int)pid, start, ID_A);
	fake_record(f, dead_creating, ID_A, "", 0, 0);
	fake_record(f, dead_removing, ID_B, "b", 0, 0);
	claim(f, "b", ID_B);
	fake_record(f, live_removing, ID_A, "a", 0, 0);
	assert_int_equal(listed(f), 0);
	assert_false(exists(f, dead_creating));
	assert_false(exists(f, dead_removing));
	assert_false(claimed(f, "b"));
	assert_true(exists(f, live_removing));
}

static void test_retire_names_the_remover(void **state)
{
	fixture *f = *state;
	container *c = NULL;
	berth_error *err = NULL;
	json_t *cfg = json_object();
	_cleanup_free_ char *trash = NULL;
	unsigned long long start;
	char want[160];
	pid_t pid;

	assert_int_equal(record_create(&f->paths, "old", cfg, &c, &err), 0);
	json_decref(cfg);
	assert_int_equal(record_commit(c, &err), 0);
	assert_int_equal(record_retire(&f->paths, c, &trash, &err), 0);
	record_owner_self(&pid, &start);
	snprintf(want, sizeof(want), "/.removing-%d-%llu-%s", (int)pid, start, c->id);
	assert_non_null(trash);
	assert_non_null(strstr(trash, want));
	assert_false(claimed(f, "old"));
	/* its remover lives: left alone by a listing */
	assert_int_equal(listed(f), 0);
	assert_int_equal(access(trash, F_OK), 0);
	container_free(c);
}

/* A container whose monitor died: the runtime says what runs. One made
 * without a monitor (a pod's holder) shows no error when it ended. */
static void test_dead_monitor_and_no_monitor(void **state)
{
	container c = { 0 };

	(void)state;
	c.config = json_object();
	snprintf(c.state.status, sizeof(c.state.status), "running");
	record_apply_dead_monitor(&c, "running");
	assert_string_equal(c.state.status, "running");
	assert_true(c.state.unsupervised);
	c.state.unsupervised = false;
	record_apply_dead_monitor(&c, "stopped");
	assert_string_equal(c.state.status, "exited");
	assert_int_equal(c.state.exit_code, RECORD_EXIT_CODE_UNKNOWN);
	assert_non_null(c.state.error);
	assert_non_null(strstr(c.state.error, "monitor died"));
	json_object_set_new(c.config, "NoMonitor", json_true());
	snprintf(c.state.status, sizeof(c.state.status), "running");
	record_apply_dead_monitor(&c, NULL);
	assert_string_equal(c.state.status, "exited");
	assert_int_equal(c.state.exit_code, RECORD_EXIT_CODE_UNKNOWN);
	assert_null(c.state.error);
	free(c.state.finished_at);
	json_decref(c.config);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unfinished_dead_creator_goes_with_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unfinished_live_creator_is_hidden_and_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_by_name_removes_half_made, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_claim_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_of_half_made_is_taken_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_in_use_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hidden_leftovers_by_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retire_names_the_remover, setup, teardown),
		cmocka_unit_test(test_dead_monitor_and_no_monitor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
