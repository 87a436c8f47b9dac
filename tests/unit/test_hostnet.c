/* network/hostnet: the host-wide directory, bridge claims and subnet
 * overlaps, the liveness of an owner (its store record, the command making
 * it), the hosts entries between the containers of a bridge, and a
 * teardown that finds only a record. Plain files in a scratch directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "network/hostnet.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/proc.h"

typedef struct scratch {
	char *dir;
	hostnet h;
} scratch;

static int make_scratch(void **state)
{
	char tmpl[] = "/tmp/berth-test-hostnet.XXXXXX";
	scratch *s = calloc(1, sizeof(*s));
	_cleanup_free_ char *net = NULL;
	berth_error *err = NULL;

	if (s == NULL || mkdtemp(tmpl) == NULL)
		return -1;
	s->dir = strdup(tmpl);
	net = fs_path_join(s->dir, "net");
	if (hostnet_open(net, &s->h, &err) < 0) {
		berth_error_free(&err);
		return -1;
	}
	*state = s;
	return 0;
}

static int remove_scratch(void **state)
{
	scratch *s = *state;
	berth_error *err = NULL;
	int ret;

	hostnet_close(&s->h);
	ret = fs_remove_tree(s->dir, &err);
	berth_error_free(&err);
	free(s->dir);
	free(s);
	return ret;
}

static void claim(scratch *s, const char *name, const char *subnet, const char *owner, int expected)
{
	hostnet_bridge b = { 0 };
	berth_error *err = NULL;
	int ret;

	snprintf(b.name, sizeof(b.name), "%s", name);
	snprintf(b.subnet, sizeof(b.subnet), "%s", subnet);
	snprintf(b.gateway, sizeof(b.gateway), "x");
	snprintf(b.owner, sizeof(b.owner), "%s", owner);
	ret = hostnet_bridge_claim(&s->h, &b, &err);
	if (expected == 0 && ret < 0)
		fail_msg("claim %s: %s", name, err->msg);
	assert_int_equal(ret < 0 ? -1 : 0, expected);
	berth_error_free(&err);
}

static void test_default_dir(void **state)
{
	_cleanup_free_ char *dir = NULL, *rootless = NULL;

	(void)state;
	setenv(HOSTNET_ENV, "/tmp/somewhere", 1);
	dir = hostnet_default_dir(NULL);
	assert_string_equal(dir, "/tmp/somewhere");
	unsetenv(HOSTNET_ENV);
	rootless = hostnet_default_dir("/run/user/1000/berth");
	assert_string_equal(rootless, "/run/user/1000/berth/network");
}

static void test_bridges(void **state)
{
	scratch *s = *state;
	char other[IFNAMSIZ] = "", subnet[64];
	hostnet_bridge b;
	berth_error *err = NULL;

	claim(s, "berth0", "10.77.0.0/16", "", 0);
	claim(s, "berth0", "10.77.0.0/16", "", 0); /* the default, again */
	claim(s, "berth1", "10.78.0.0/24", "/a/networks/n1.json", 0);
	/* another store's network cannot take berth1 */
	claim(s, "berth1", "10.78.0.0/24", "/b/networks/n1.json", -1);
	assert_int_equal(hostnet_bridge_load(&s->h, "berth1", &b, &err), 0);
	assert_string_equal(b.owner, "/a/networks/n1.json");
	assert_int_equal(hostnet_bridge_load(&s->h, "berth9", &b, &err), -ENOENT);

	assert_int_equal(hostnet_subnet_overlap(&s->h, "10.77.5.0/24", NULL, other), 1);
	assert_string_equal(other, "berth0");
	assert_int_equal(hostnet_subnet_overlap(&s->h, "10.0.0.0/8", NULL, other), 1);
	assert_int_equal(hostnet_subnet_overlap(&s->h, "10.78.0.128/25", "berth1", other), 0);
	assert_int_equal(hostnet_subnet_overlap(&s->h, "10.79.0.0/24", NULL, other), 0);
	/* the next free one skips 10.78.0.0/24 */
	assert_int_equal(hostnet_next_subnet(&s->h, subnet, sizeof(subnet), &err), 0);
	assert_string_not_equal(subnet, "10.78.0.0/24");
	hostnet_bridge_forget(&s->h, "berth1");
	assert_int_equal(hostnet_bridge_load(&s->h, "berth1", &b, &err), -ENOENT);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_owner_alive(void **state)
{
	scratch *s = *state;
	_cleanup_free_ char *record = fs_path_join(s->dir, "ctr");
	_cleanup_free_ char *config = fs_path_join(record, "config.json");
	berth_error *err = NULL;
	json_t *o;

	assert_false(hostnet_owner_alive(&s->h, "aaaa"));
	assert_int_equal(mkdir(record, 0700), 0);
	/* being made by a live command */
	o = json_pack("{s:s, s:i, s:I}", "Record", record, "Creator", (int)getpid(), "CreatorStart",
		      (json_int_t)proc_pid_start_time(getpid()));
	assert_int_equal(hostnet_owner_save(&s->h, "aaaa", o, &err), 0);
	assert_true(hostnet_owner_alive(&s->h, "aaaa"));
	/* its maker died before the record was saved with the network */
	json_object_set_new(o, "CreatorStart", json_integer(1));
	assert_int_equal(hostnet_owner_save(&s->h, "aaaa", o, &err), 0);
	assert_false(hostnet_owner_alive(&s->h, "aaaa"));
	/* saved: alive without its maker */
	write_text(config, "{\"NetworkSettings\": {}}");
	assert_true(hostnet_owner_alive(&s->h, "aaaa"));
	/* its record gone */
	unlink(config);
	rmdir(record);
	assert_false(hostnet_owner_alive(&s->h, "aaaa"));
	assert_int_equal(hostnet_sweep(&s->h), 1);
	o = (json_decref(o), hostnet_owner_load(&s->h, "aaaa"));
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
}

static char *read_text(const char *path)
{
	char *text = NULL;

	assert_int_equal(fs_read_file(path, &text, NULL, NULL), 0);
	return text;
}

static void test_hosts(void **state)
{
	scratch *s = *state;
	_cleanup_free_ char *a = fs_path_join(s->dir, "hosts-a"), *b = fs_path_join(s->dir, "hosts-b"),
			    *c = fs_path_join(s->dir, "hosts-c"), *text = NULL;

	write_text(a, "127.0.0.1\tlocalhost\n10.0.0.2\ta\t# berth:aaaa@n\n");
	write_text(b, "127.0.0.1\tlocalhost\n10.0.0.3\tb\t# berth:bbbb@n\n");
	write_text(c, "127.0.0.1\tlocalhost\n10.0.0.4\tc\t# berth:cccc@n\n");
	hostnet_hosts_join(&s->h, "br", "aaaa", a, "10.0.0.2\ta\t# berth:aaaa@n\n");
	hostnet_hosts_join(&s->h, "br", "bbbb", b, "10.0.0.3\tb\t# berth:bbbb@n\n");
	hostnet_hosts_join(&s->h, "br", "cccc", c, "10.0.0.4\tc\t# berth:cccc@n\n");
	text = read_text(a);
	assert_non_null(strstr(text, "\tb\t"));
	assert_non_null(strstr(text, "\tc\t"));
	free(text);
	text = read_text(c);
	assert_non_null(strstr(text, "\ta\t"));
	assert_non_null(strstr(text, "\tb\t"));
	free(text);
	hostnet_hosts_leave(&s->h, "br", "bbbb");
	text = read_text(a);
	assert_null(strstr(text, "\tb\t"));
	assert_non_null(strstr(text, "\tc\t"));
	free(text);
	text = read_text(c);
	assert_null(strstr(text, "\tb\t"));
	free(text);
	text = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_dir),
		cmocka_unit_test_setup_teardown(test_bridges, make_scratch, remove_scratch),
		cmocka_unit_test_setup_teardown(test_owner_alive, make_scratch, remove_scratch),
		cmocka_unit_test_setup_teardown(test_hosts, make_scratch, remove_scratch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
