/* network/ipam: subnet parsing, sequential and requested leases, the errors
 * for taken, misplaced and exhausted addresses, release without immediate
 * reuse, IPv6, concurrent allocators in separate processes, and the sweep
 * of leases whose owner is gone. Plain files in a scratch directory. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "network/ipam.h"
#include "util/cleanup.h"
#include "util/fs.h"

static int make_scratch(void **state)
{
	char tmpl[] = "/tmp/berth-test-ipam.XXXXXX";
	char *dir = mkdtemp(tmpl);

	if (dir == NULL)
		return -1;
	*state = strdup(dir);
	return *state == NULL ? -1 : 0;
}

static int remove_scratch(void **state)
{
	berth_error *err = NULL;
	int ret = fs_remove_tree(*state, &err);

	berth_error_free(&err);
	free(*state);
	return ret;
}

/* DIR/leases: the lease directory itself is created by ipam_allocate. */
static char *lease_dir(void **state)
{
	return fs_path_join(*state, "leases");
}

static void allocate_ok(const char *dir, const char *subnet, const char *owner, const char *requested,
			const char *expected)
{
	char out[IPAM_ADDRESS_MAX];
	berth_error *err = NULL;
	int ret = ipam_allocate(dir, subnet, owner, requested, out, sizeof(out), &err);

	if (ret < 0)
		fail_msg("allocate in %s for %s: %s", subnet, owner, err->msg);
	assert_string_equal(out, expected);
}

/* Returns the error message of a failing allocation (heap). */
static char *allocate_fails(const char *dir, const char *subnet, const char *owner, const char *requested, int code)
{
	char out[IPAM_ADDRESS_MAX];
	berth_error *err = NULL;
	char *msg;

	assert_true(ipam_allocate(dir, subnet, owner, requested, out, sizeof(out), &err) < 0);
	assert_non_null(err);
	assert_int_equal(err->code, code);
	msg = strdup(err->msg);
	berth_error_free(&err);
	return msg;
}

static char *lease_owner(const char *dir, const char *address)
{
	_cleanup_free_ char *path = fs_path_join(dir, address);
	berth_error *err = NULL;
	char *text = NULL;
	size_t len;

	if (fs_read_file(path, &text, &len, &err) < 0) {
		berth_error_free(&err);
		return NULL;
	}
	return text;
}

static int count_leases(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strchr(e->d_name, '.') != NULL && e->d_name[0] != '.' && strncmp(e->d_name, "last-", 5) != 0)
			n++; /* IPv4 leases; IPv6 ones hold ':' */
		else if (strchr(e->d_name, ':') != NULL && strncmp(e->d_name, "last-", 5) != 0)
			n++;
	return n;
}

static void test_subnet_parse(void **state)
{
	ipam_subnet s;
	berth_error *err = NULL;
	char text[IPAM_ADDRESS_MAX + 8];

	(void)state;
	assert_int_equal(ipam_subnet_parse("10.88.0.0/16", &s, &err), 0);
	assert_int_equal(s.family, AF_INET);
	assert_int_equal(s.prefix, 16);
	ipam_subnet_format(&s, text, sizeof(text));
	assert_string_equal(text, "10.88.0.0/16");
	ipam_subnet_gateway_format(&s, text, sizeof(text));
	assert_string_equal(text, "10.88.0.1");

	assert_int_equal(ipam_subnet_parse("fd00:88::/64", &s, &err), 0);
	assert_int_equal(s.family, AF_INET6);
	assert_int_equal(s.prefix, 64);
	ipam_subnet_gateway_format(&s, text, sizeof(text));
	assert_string_equal(text, "fd00:88::1");

	assert_true(ipam_subnet_parse("10.88.0.1/16", &s, &err) < 0);
	assert_non_null(strstr(err->msg, "host bits are set (the network is 10.88.0.0/16)"));
	berth_error_free(&err);
	assert_true(ipam_subnet_parse("10.88.0.0/31", &s, &err) < 0);
	assert_non_null(strstr(err->msg, "too small"));
	berth_error_free(&err);
	assert_true(ipam_subnet_parse("10.88.0.0/33", &s, &err) < 0);
	assert_non_null(strstr(err->msg, "prefix length \"33\" is not within 0..32"));
	berth_error_free(&err);
	assert_true(ipam_subnet_parse("10.88.0.0", &s, &err) < 0);
	assert_non_null(strstr(err->msg, "no /prefix"));
	berth_error_free(&err);
	assert_true(ipam_subnet_parse("banana/8", &s, &err) < 0);
	assert_non_null(strstr(err->msg, "\"banana\" is not an IP address"));
	berth_error_free(&err);
	assert_true(ipam_subnet_parse("10.0.0.0/-1", &s, &err) < 0);
	berth_error_free(&err);

	ipam_address a;
	int family;
	assert_int_equal(ipam_subnet_parse("192.168.4.0/22", &s, &err), 0);
	assert_int_equal(ipam_address_parse("192.168.7.255", &family, &a, &err), 0);
	assert_true(ipam_subnet_contains(&s, family, &a));
	assert_int_equal(ipam_address_parse("192.168.8.0", &family, &a, &err), 0);
	assert_false(ipam_subnet_contains(&s, family, &a));
	assert_int_equal(ipam_address_parse("::ffff:192.168.4.1", &family, &a, &err), 0);
	assert_false(ipam_subnet_contains(&s, family, &a));
}

static void test_sequential_and_owner_file(void **state)
{
	_cleanup_free_ char *dir = lease_dir(state), *owner = NULL;

	allocate_ok(dir, "10.88.0.0/24", "c1", NULL, "10.88.0.2");
	allocate_ok(dir, "10.88.0.0/24", "c2", NULL, "10.88.0.3");
	allocate_ok(dir, "10.88.0.0/24", "c3", NULL, "10.88.0.4");
	owner = lease_owner(dir, "10.88.0.3");
	assert_non_null(owner);
	assert_string_equal(owner, "c2");
	assert_int_equal(count_leases(dir), 3);
}

static void test_requested(void **state)
{
	_cleanup_free_ char *dir = lease_dir(state);
	char *msg;

	allocate_ok(dir, "10.88.0.0/24", "c1", "10.88.0.50", "10.88.0.50");
	msg = allocate_fails(dir, "10.88.0.0/24", "c2", "10.88.0.50", EADDRINUSE);
	assert_string_equal(msg, "allocate an address for c2: address 10.88.0.50 is already in use by c1");
	free(msg);
	msg = allocate_fails(dir, "10.88.0.0/24", "c2", "10.89.0.5", EINVAL);
	assert_string_equal(msg, "allocate an address for c2: address 10.89.0.5 is not in subnet 10.88.0.0/24");
	free(msg);
	msg = allocate_fails(dir, "10.88.0.0/24", "c2", "10.88.0.1", EINVAL);
	assert_non_null(strstr(msg, "10.88.0.1 is the gateway of 10.88.0.0/24"));
	free(msg);
	msg = allocate_fails(dir, "10.88.0.0/24", "c2", "10.88.0.0", EINVAL);
	assert_non_null(strstr(msg, "network address"));
	free(msg);
	msg = allocate_fails(dir, "10.88.0.0/24", "c2", "10.88.0.255", EINVAL);
	assert_non_null(strstr(msg, "broadcast address"));
	free(msg);
	msg = allocate_fails(dir, "10.88.0.0/24", "c2", "fd00::5", EINVAL);
	assert_non_null(strstr(msg, "not in subnet"));
	free(msg);
	msg = allocate_fails(dir, "10.88.0.0/24", "c2", "nonsense", EINVAL);
	assert_non_null(strstr(msg, "invalid IP address \"nonsense\""));
	free(msg);
	/* a requested lease does not move the sequence */
	allocate_ok(dir, "10.88.0.0/24", "c2", NULL, "10.88.0.2");
	assert_int_equal(count_leases(dir), 2);
}

static void test_exhaustion(void **state)
{
	_cleanup_free_ char *dir = lease_dir(state);
	char *msg;

	/* a /30 has one address besides network, gateway and broadcast */
	allocate_ok(dir, "10.7.0.0/30", "a", NULL, "10.7.0.2");
	msg = allocate_fails(dir, "10.7.0.0/30", "b", NULL, ENOSPC);
	assert_string_equal(msg,
			    "allocate an address for b: no free address left in subnet 10.7.0.0/30 (all 1 leased)");
	free(msg);

	/* a /29: .2 to .6 */
	for (int i = 2; i <= 6; i++) {
		char owner[16], expected[16];
		snprintf(owner, sizeof(owner), "o%d", i);
		snprintf(expected, sizeof(expected), "10.8.0.%d", i);
		allocate_ok(dir, "10.8.0.0/29", owner, NULL, expected);
	}
	msg = allocate_fails(dir, "10.8.0.0/29", "o7", NULL, ENOSPC);
	assert_non_null(strstr(msg, "no free address left in subnet 10.8.0.0/29 (all 5 leased)"));
	free(msg);
	/* a full pool wraps around to what was released */
	berth_error *err = NULL;
	assert_int_equal(ipam_release(dir, "o4", &err), 1);
	allocate_ok(dir, "10.8.0.0/29", "o7", NULL, "10.8.0.4");
}

static void test_release_no_immediate_reuse(void **state)
{
	_cleanup_free_ char *dir = lease_dir(state), *path = NULL;
	berth_error *err = NULL;

	allocate_ok(dir, "10.9.0.0/24", "a", NULL, "10.9.0.2");
	allocate_ok(dir, "10.9.0.0/24", "b", NULL, "10.9.0.3");
	assert_int_equal(ipam_release(dir, "a", &err), 1);
	path = fs_path_join(dir, "10.9.0.2");
	assert_int_equal(access(path, F_OK), -1);
	/* the released .2 is not handed out again at once */
	allocate_ok(dir, "10.9.0.0/24", "c", NULL, "10.9.0.4");
	/* releasing an owner without leases, or in a missing directory */
	assert_int_equal(ipam_release(dir, "nobody", &err), 0);
	assert_int_equal(ipam_release("/nonexistent/berth-ipam", "a", &err), 0);
	assert_true(ipam_release(dir, "", &err) < 0);
	assert_non_null(strstr(err->msg, "invalid lease owner"));
	berth_error_free(&err);
}

static void test_ipv6(void **state)
{
	_cleanup_free_ char *dir = lease_dir(state);
	berth_error *err = NULL;
	char *msg;

	allocate_ok(dir, "fd00:1::/64", "a", NULL, "fd00:1::2");
	allocate_ok(dir, "10.1.0.0/24", "a", NULL, "10.1.0.2");
	allocate_ok(dir, "fd00:1::/64", "b", NULL, "fd00:1::3");
	allocate_ok(dir, "fd00:1::/64", "c", "fd00:1::ffff:1", "fd00:1::ffff:1");
	msg = allocate_fails(dir, "fd00:1::/64", "d", "fd00:1::ffff:1", EADDRINUSE);
	assert_non_null(strstr(msg, "fd00:1::ffff:1 is already in use by c"));
	free(msg);
	msg = allocate_fails(dir, "fd00:1::/64", "d", "fd00:2::5", EINVAL);
	assert_non_null(strstr(msg, "not in subnet fd00:1::/64"));
	free(msg);
	/* /126: ::2 and ::3 (no broadcast in IPv6) */
	allocate_ok(dir, "fd00:2::/126", "e", NULL, "fd00:2::2");
	allocate_ok(dir, "fd00:2::/126", "f", NULL, "fd00:2::3");
	msg = allocate_fails(dir, "fd00:2::/126", "g", NULL, ENOSPC);
	free(msg);
	/* one owner, two families: both released */
	assert_int_equal(ipam_release(dir, "a", &err), 2);
	allocate_ok(dir, "fd00:1::/64", "h", NULL, "fd00:1::4");
}

#define WORKERS	      8
#define PER_WORKER    4
#define WORKER_SUBNET "10.20.0.0/24"

static void worker(const char *dir, int index, int fd)
{
	for (int i = 0; i < PER_WORKER; i++) {
		char owner[32], out[IPAM_ADDRESS_MAX] = "";
		berth_error *err = NULL;
		snprintf(owner, sizeof(owner), "w%d-%d", index, i);
		if (ipam_allocate(dir, WORKER_SUBNET, owner, NULL, out, sizeof(out), &err) < 0)
			_exit(1);
		if (write(fd, out, sizeof(out)) != (ssize_t)sizeof(out))
			_exit(2);
	}
	_exit(0);
}

static void test_concurrent_processes(void **state)
{
	_cleanup_free_ char *dir = lease_dir(state);
	char seen[WORKERS * PER_WORKER][IPAM_ADDRESS_MAX];
	int fds[2], n = 0;
	pid_t pids[WORKERS];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			close(fds[0]);
			worker(dir, w, fds[1]);
		}
	}
	close(fds[1]);
	for (int w = 0; w < WORKERS; w++) {
		int status;
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	while (n < WORKERS * PER_WORKER && read(fds[0], seen[n], IPAM_ADDRESS_MAX) == IPAM_ADDRESS_MAX)
		n++;
	close(fds[0]);
	assert_int_equal(n, WORKERS * PER_WORKER);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(seen[i], seen[j]) == 0)
				fail_msg("address %s handed out twice", seen[i]);
	assert_int_equal(count_leases(dir), WORKERS * PER_WORKER);
	/* every address of .2 to .33 went out: none skipped, none outside */
	for (int i = 2; i < 2 + WORKERS * PER_WORKER; i++) {
		char name[16];
		_cleanup_free_ char *owner = NULL;
		snprintf(name, sizeof(name), "10.20.0.%d", i);
		owner = lease_owner(dir, name);
		assert_non_null(owner);
		assert_true(owner[0] == 'w');
	}
}

static bool alive_if_prefixed(const char *owner, void *data)
{
	return strncmp(owner, (const char *)data, strlen(data)) == 0;
}

static void test_sweep(void **state)
{
	_cleanup_free_ char *dir = lease_dir(state), *owner = NULL;
	berth_error *err = NULL;

	allocate_ok(dir, "10.30.0.0/24", "live-1", NULL, "10.30.0.2");
	allocate_ok(dir, "10.30.0.0/24", "dead-1", NULL, "10.30.0.3");
	allocate_ok(dir, "fd00:30::/64", "dead-1", NULL, "fd00:30::2");
	allocate_ok(dir, "10.30.0.0/24", "dead-2", NULL, "10.30.0.4");
	assert_int_equal(ipam_sweep(dir, alive_if_prefixed, "live-", &err), 3);
	assert_int_equal(count_leases(dir), 1);
	owner = lease_owner(dir, "10.30.0.2");
	assert_non_null(owner);
	assert_string_equal(owner, "live-1");
	assert_int_equal(ipam_sweep(dir, alive_if_prefixed, "live-", &err), 0);
	assert_int_equal(ipam_sweep("/nonexistent/berth-ipam", alive_if_prefixed, "live-", &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subnet_parse),
		cmocka_unit_test_setup_teardown(test_sequential_and_owner_file, make_scratch, remove_scratch),
		cmocka_unit_test_setup_teardown(test_requested, make_scratch, remove_scratch),
		cmocka_unit_test_setup_teardown(test_exhaustion, make_scratch, remove_scratch),
		cmocka_unit_test_setup_teardown(test_release_no_immediate_reuse, make_scratch, remove_scratch),
		cmocka_unit_test_setup_teardown(test_ipv6, make_scratch, remove_scratch),
		cmocka_unit_test_setup_teardown(test_concurrent_processes, make_scratch, remove_scratch),
		cmocka_unit_test_setup_teardown(test_sweep, make_scratch, remove_scratch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
