/* network/netns and network/netlink: persistent network namespaces, the
 * bridge, attaching and detaching a container's veth pair, the sysctl
 * writer, and their error paths.
 *
 * Everything runs in a private network and mount namespace that main()
 * unshares first (with "/" made a slave, so no mount goes back to the
 * host): bridges, veths and sysctls never touch the host's network, and
 * namespace files live in a scratch directory that every test removes.
 * Results are read back with `ip -j` inside the namespace under test.
 * Without root (or without namespaces) the tests that need them skip. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "network/netlink.h"
#include "network/netns.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define BRIDGE	 "bt0"
#define HOST_END "vb0123456789"
/* veth pairs in the timing test */
#define ROUNDS 20

static bool have_netns;

typedef struct fixture {
	char *dir;
	char *ns;  /* DIR/ns, a network namespace file (not created yet) */
	char *ns2; /* DIR/ns2 */
} fixture;

static int setup(void **state)
{
	char tmpl[] = "/tmp/berth-test-netlink.XXXXXX";
	fixture *f;

	if (!have_netns)
		return 0;
	f = calloc(1, sizeof(*f));
	if (f == NULL || mkdtemp(tmpl) == NULL)
		return -1;
	f->dir = strdup(tmpl);
	f->ns = fs_path_join(tmpl, "ns");
	f->ns2 = fs_path_join(tmpl, "ns2");
	*state = f;
	return 0;
}

/* Runs after every test, failed or not: back home, links and namespaces
 * removed, the scratch directory gone. */
static int teardown(void **state)
{
	fixture *f = *state;
	berth_error *err = NULL;
	int ret = 0;

	if (f == NULL)
		return 0;
	netlink_link_delete(HOST_END, NULL);
	netlink_link_delete(BRIDGE, NULL);
	netlink_link_delete("bt1", NULL);
	netlink_link_delete("vbexists", NULL);
	for (int i = 0; i < ROUNDS; i++) {
		char name[IFNAMSIZ];
		snprintf(name, sizeof(name), "vbtime%d", i);
		netlink_link_delete(name, NULL);
	}
	if (netns_remove(f->ns, &err) < 0 || netns_remove(f->ns2, &err) < 0) {
		fprintf(stderr, "teardown: %s\n", err->msg);
		berth_error_free(&err);
		ret = -1;
	}
	if (fs_remove_tree(f->dir, &err) < 0) {
		fprintf(stderr, "teardown: %s\n", err->msg);
		berth_error_free(&err);
		ret = -1;
	}
	free(f->dir);
	free(f->ns);
	free(f->ns2);
	free(f);
	return ret;
}

#define NEED_NETNS()                                                                                                   \
	do {                                                                                                           \
		if (!have_netns)                                                                                       \
			skip();                                                                                        \
	} while (0)

static void check_ok(int ret, berth_error **err)
{
	if (ret < 0)
		fail_msg("%s", *err ? (*err)->msg : "error without message");
}

/* The output of CMD run inside the namespace on PATH (NULL: this one), or
 * NULL when it fails. No assertion runs while the thread is away. */
static char *run_in(const char *path, const char *cmd)
{
	berth_error *err = NULL;
	int saved = -EBADF;
	char *out = NULL;
	size_t len = 0, cap = 0;
	FILE *p;
	int status;

	if (path != NULL && netns_enter(path, &saved, &err) < 0) {
		berth_error_free(&err);
		return NULL;
	}
	p = popen(cmd, "r");
	if (p != NULL) {
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
			char *grown = realloc(out, cap = len + n + 1);
			if (grown == NULL)
				break;
			out = grown;
			memcpy(out + len, buf, n);
			len += n;
			out[len] = '\0';
		}
		status = pclose(p);
		if (status != 0) {
			free(out);
			out = NULL;
		} else if (out == NULL) {
			out = strdup("");
		}
	}
	if (netns_leave(saved, &err) < 0) {
		fprintf(stderr, "FATAL: %s\n", err->msg);
		abort(); /* the tests must not go on in the wrong namespace */
	}
	return out;
}

/* Runs CMD in this namespace; it must succeed. */
static void run_ok(const char *cmd)
{
	char *out = run_in(NULL, cmd);

	if (out == NULL)
		fail_msg("%s failed", cmd);
	free(out);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (haystack == NULL || strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" not found in: %s", needle, haystack ? haystack : "(command failed)");
}

static void assert_lacks(const char *haystack, const char *needle)
{
	if (haystack == NULL || strstr(haystack, needle) != NULL)
		fail_msg("\"%s\" found in: %s", needle, haystack ? haystack : "(command failed)");
}

static ino_t own_netns(void)
{
	struct stat st;

	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void test_names_and_mac(void **state)
{
	char name[IFNAMSIZ];
	unsigned char mac[NETLINK_MAC_LEN];
	static const unsigned char expected[] = { 0x02, 0x42, 10, 99, 0, 2 };
	struct in_addr a;
	berth_error *err = NULL;

	(void)state;
	assert_int_equal(netlink_veth_name("0123456789abcdef0123", name, &err), 0);
	assert_string_equal(name, "vb0123456789");
	assert_true(strlen(name) < IFNAMSIZ);
	assert_true(netlink_veth_name("0123", name, &err) < 0);
	assert_non_null(strstr(err->msg, "does not start with 10 hex digits"));
	berth_error_free(&err);
	assert_true(netlink_veth_name("../../etc/x", name, &err) < 0);
	berth_error_free(&err);

	inet_pton(AF_INET, "10.99.0.2", &a);
	netlink_mac_from_ipv4(a, mac);
	assert_memory_equal(mac, expected, sizeof(expected));
}

static void test_netns_create_remove(void **state)
{
	fixture *f = *state;
	berth_error *err = NULL;
	_cleanup_free_ char *lo = NULL, *missing = NULL, *existing = NULL;
	ino_t home;
	int fd;

	NEED_NETNS();
	home = own_netns();
	check_ok(netns_create(f->ns, &err), &err);
	assert_int_equal(own_netns(), home);

	fd = netns_open(f->ns, &err);
	check_ok(fd, &err);
	close(fd);
	lo = run_in(f->ns, "ip -j link show lo");
	assert_contains(lo, "\"UP\"");
	assert_contains(lo, "\"operstate\":\"UNKNOWN\"");
	/* a new namespace: none of this namespace's links */
	check_ok(netlink_bridge_ensure(&(netlink_bridge_config){ .name = BRIDGE }, &err), &err);
	free(lo);
	lo = run_in(f->ns, "ip -j link show");
	assert_lacks(lo, BRIDGE);

	/* an existing file is not taken over */
	assert_int_equal(netns_create(f->ns, &err), -EEXIST);
	assert_non_null(strstr(err->msg, f->ns));
	berth_error_free(&err);
	fd = netns_open(f->ns, &err);
	check_ok(fd, &err);
	close(fd);

	check_ok(netns_remove(f->ns, &err), &err);
	assert_int_equal(access(f->ns, F_OK), -1);
	check_ok(netns_remove(f->ns, &err), &err); /* missing: fine */

	/* errors leave nothing behind */
	missing = fs_path_join(f->dir, "no/such/dir/ns");
	assert_true(netns_create(missing, &err) < 0);
	assert_non_null(strstr(err->msg, "no/such/dir/ns"));
	berth_error_free(&err);
	assert_int_equal(own_netns(), home);

	/* a file that is not a namespace cannot be entered */
	existing = fs_path_join(f->dir, "plain");
	close(open(existing, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	assert_true(netns_open(existing, &err) < 0);
	assert_non_null(strstr(err->msg, "not a namespace"));
	berth_error_free(&err);
	assert_int_equal(own_netns(), home);
}

static netlink_bridge_config bridge_config(void)
{
	netlink_bridge_config c = {
		.name = BRIDGE, .mtu = 1400, .has_ipv4 = true, .ipv4_prefix = 24, .has_ipv6 = true, .ipv6_prefix = 64
	};

	inet_pton(AF_INET, "10.99.0.1", &c.ipv4_gateway);
	inet_pton(AF_INET6, "fd00:99::1", &c.ipv6_gateway);
	return c;
}

static void test_bridge_ensure(void **state)
{
	netlink_bridge_config c = bridge_config();
	berth_error *err = NULL;
	_cleanup_free_ char *link = NULL, *addr = NULL, *after = NULL;

	NEED_NETNS();
	assert_int_equal(netlink_link_exists(BRIDGE, &err), 0);
	check_ok(netlink_bridge_ensure(&c, &err), &err);
	assert_int_equal(netlink_link_exists(BRIDGE, &err), 1);

	link = run_in(NULL, "ip -j -d link show " BRIDGE);
	assert_contains(link, "\"mtu\":1400");
	assert_contains(link, "\"UP\"");
	assert_contains(link, "\"info_kind\":\"bridge\"");
	addr = run_in(NULL, "ip -j addr show " BRIDGE);
	assert_contains(addr, "\"local\":\"10.99.0.1\",\"prefixlen\":24");
	assert_contains(addr, "\"local\":\"fd00:99::1\",\"prefixlen\":64");
	assert_contains(addr, "\"broadcast\":\"10.99.0.255\"");

	/* again: nothing changes, nothing fails */
	check_ok(netlink_bridge_ensure(&c, &err), &err);
	after = run_in(NULL, "ip -j addr show " BRIDGE);
	assert_string_equal(addr, after);

	/* a link of that name that is not a bridge */
	run_ok("ip link add bt1 type veth peer name bt1p");
	c.name = "bt1";
	assert_int_equal(netlink_bridge_ensure(&c, &err), -EEXIST);
	assert_string_equal(err->msg, "ensure bridge bt1: a link of that name exists and is not a bridge (veth)");
	berth_error_free(&err);

	c.name = "this-name-is-too-long";
	assert_true(netlink_bridge_ensure(&c, &err) < 0);
	assert_non_null(strstr(err->msg, "longer than 15 bytes"));
	berth_error_free(&err);

	check_ok(netlink_link_delete(BRIDGE, &err), &err);
	assert_int_equal(netlink_link_exists(BRIDGE, &err), 0);
	check_ok(netlink_link_delete(BRIDGE, &err), &err); /* missing: fine */
}

static netlink_attach_config attach_config(int nsfd)
{
	netlink_attach_config c = { .bridge = BRIDGE,
				    .host_ifname = HOST_END,
				    .container_ifname = "eth0",
				    .netns_fd = nsfd,
				    .mtu = 1400,
				    .has_ipv4 = true,
				    .ipv4_prefix = 24,
				    .has_ipv6 = true,
				    .ipv6_prefix = 64 };

	inet_pton(AF_INET, "10.99.0.2", &c.ipv4);
	inet_pton(AF_INET, "10.99.0.1", &c.ipv4_gateway);
	inet_pton(AF_INET6, "fd00:99::2", &c.ipv6);
	inet_pton(AF_INET6, "fd00:99::1", &c.ipv6_gateway);
	netlink_mac_from_ipv4(c.ipv4, c.mac);
	return c;
}

/* Whether a TCP connect from inside the namespace on PATH to ADDR:PORT
 * succeeds (a child process enters it; this thread stays home). */
static bool connect_from(const char *path, int family, const char *addr, int port)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len;
		int saved, fd;
		if (netns_enter(path, &saved, NULL) < 0)
			_exit(10);
		if (family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			inet_pton(AF_INET, addr, &sin->sin_addr);
			len = sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			inet_pton(AF_INET6, addr, &sin6->sin6_addr);
			len = sizeof(*sin6);
		}
		alarm(5);
		fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		_exit(fd >= 0 && connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : 11);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A listening socket on ADDR in this namespace; *PORT gets its port. */
static int listen_on(int family, const char *addr, int *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	ss.ss_family = family;
	if (family == AF_INET)
		inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr);
	else
		inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0)
		fail_msg("bind %s: %s", addr, strerror(errno));
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port =
	    ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static void test_attach_detach(void **state)
{
	fixture *f = *state;
	netlink_bridge_config b = bridge_config();
	netlink_attach_config c;
	berth_error *err = NULL;
	_cleanup_close_ int nsfd = -EBADF, l4 = -EBADF, l6 = -EBADF;
	_cleanup_free_ char *link = NULL, *addr = NULL, *route4 = NULL, *route6 = NULL, *host = NULL, *gone = NULL;
	int port4, port6;

	NEED_NETNS();
	check_ok(netlink_bridge_ensure(&b, &err), &err);
	check_ok(netns_create(f->ns, &err), &err);
	nsfd = netns_open(f->ns, &err);
	check_ok(nsfd, &err);
	c = attach_config(nsfd);
	check_ok(netlink_attach(&c, &err), &err);

	link = run_in(f->ns, "ip -j link show eth0");
	assert_contains(link, "\"ifname\":\"eth0\"");
	assert_contains(link, "\"mtu\":1400");
	assert_contains(link, "\"address\":\"02:42:0a:63:00:02\"");
	assert_contains(link, "\"operstate\":\"UP\"");
	addr = run_in(f->ns, "ip -j addr show eth0");
	assert_contains(addr, "\"local\":\"10.99.0.2\",\"prefixlen\":24");
	/* not tentative: usable at once */
	assert_contains(addr, "\"local\":\"fd00:99::2\",\"prefixlen\":64,\"scope\":\"global\",\"nodad\":true,\"valid");
	route4 = run_in(f->ns, "ip -j -4 route show default");
	assert_contains(route4, "\"dst\":\"default\",\"gateway\":\"10.99.0.1\",\"dev\":\"eth0\"");
	route6 = run_in(f->ns, "ip -j -6 route show default");
	assert_contains(route6, "\"gateway\":\"fd00:99::1\",\"dev\":\"eth0\"");
	host = run_in(NULL, "ip -j link show " HOST_END);
	assert_contains(host, "\"master\":\"" BRIDGE "\"");
	assert_contains(host, "\"mtu\":1400");
	assert_contains(host, "\"operstate\":\"UP\"");
	/* the peer is not in this namespace */
	assert_int_equal(netlink_link_exists("eth0", &err), 0);

	/* traffic: the container reaches the gateway addresses over the bridge */
	l4 = listen_on(AF_INET, "10.99.0.1", &port4);
	assert_true(connect_from(f->ns, AF_INET, "10.99.0.1", port4));
	l6 = listen_on(AF_INET6, "fd00:99::1", &port6);
	assert_true(connect_from(f->ns, AF_INET6, "fd00:99::1", port6));
	/* and a port nobody listens on is refused, so the check can fail */
	assert_false(connect_from(f->ns, AF_INET, "10.99.0.1", port4 == 65535 ? 1 : port4 + 1));

	/* attaching twice: EEXIST, and the first attachment stays */
	assert_int_equal(netlink_attach(&c, &err), -EEXIST);
	assert_non_null(strstr(err->msg, "attach " HOST_END " to bridge " BRIDGE ": create veth pair"));
	berth_error_free(&err);
	assert_int_equal(netlink_link_exists(HOST_END, &err), 1);

	check_ok(netlink_detach(HOST_END, &err), &err);
	assert_int_equal(netlink_link_exists(HOST_END, &err), 0);
	gone = run_in(f->ns, "ip -j link show");
	assert_lacks(gone, "eth0");
	assert_contains(gone, "\"ifname\":\"lo\"");
	check_ok(netlink_detach(HOST_END, &err), &err); /* missing: fine */
}

static void assert_nothing_left(const char *ns)
{
	berth_error *err = NULL;
	_cleanup_free_ char *links = NULL;

	assert_int_equal(netlink_link_exists(HOST_END, &err), 0);
	links = run_in(ns, "ip -j link show");
	assert_lacks(links, "eth0");
}

static void test_attach_errors(void **state)
{
	fixture *f = *state;
	netlink_bridge_config b = bridge_config();
	netlink_attach_config c;
	berth_error *err = NULL;
	_cleanup_close_ int nsfd = -EBADF;

	NEED_NETNS();
	check_ok(netns_create(f->ns, &err), &err);
	nsfd = netns_open(f->ns, &err);
	check_ok(nsfd, &err);
	c = attach_config(nsfd);

	/* no bridge yet */
	assert_int_equal(netlink_attach(&c, &err), -ENODEV);
	assert_string_equal(err->msg, "attach " HOST_END " to bridge " BRIDGE ": bridge " BRIDGE " does not exist");
	berth_error_free(&err);
	assert_nothing_left(f->ns);

	/* a gateway outside the address's subnet: the pair was made, then the
	 * route fails, and the pair goes away again */
	check_ok(netlink_bridge_ensure(&b, &err), &err);
	inet_pton(AF_INET, "10.98.0.1", &c.ipv4_gateway);
	assert_true(netlink_attach(&c, &err) < 0);
	assert_non_null(strstr(err->msg, "eth0: add default route via 10.98.0.1"));
	assert_int_equal(err->code, ENETUNREACH);
	berth_error_free(&err);
	assert_nothing_left(f->ns);

	/* the host end's name is taken by a link that is not ours: kept */
	c = attach_config(nsfd);
	run_ok("ip link add vbexists type veth peer name vbexistsp");
	c.host_ifname = "vbexists";
	assert_int_equal(netlink_attach(&c, &err), -EEXIST);
	berth_error_free(&err);
	assert_int_equal(netlink_link_exists("vbexists", &err), 1);
	_cleanup_free_ char *links = run_in(f->ns, "ip -j link show");
	assert_lacks(links, "eth0");

	/* bad input fails before anything is sent */
	c = attach_config(nsfd);
	c.container_ifname = "eth/0";
	assert_int_equal(netlink_attach(&c, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "invalid interface name \"eth/0\""));
	berth_error_free(&err);
	c = attach_config(nsfd);
	c.ipv4_prefix = 33;
	assert_int_equal(netlink_attach(&c, &err), -EINVAL);
	berth_error_free(&err);
	c = attach_config(-1);
	assert_int_equal(netlink_attach(&c, &err), -EBADF);
	berth_error_free(&err);
	assert_nothing_left(f->ns);
}

static void test_sysctl(void **state)
{
	fixture *f = *state;
	netlink_bridge_config b = bridge_config();
	berth_error *err = NULL;
	_cleanup_free_ char *value = NULL, *outside = NULL;
	size_t len;
	int saved, ret;

	NEED_NETNS();
	check_ok(netlink_sysctl_set("net.ipv4.ip_forward", "1", &err), &err);
	check_ok(fs_read_file("/proc/sys/net/ipv4/ip_forward", &value, &len, &err), &err);
	assert_string_equal(value, "1\n");
	free(value);
	check_ok(netlink_bridge_ensure(&b, &err), &err);
	check_ok(netlink_sysctl_set("net/ipv4/conf/" BRIDGE "/route_localnet", "1", &err), &err);
	check_ok(fs_read_file("/proc/sys/net/ipv4/conf/" BRIDGE "/route_localnet", &value, &len, &err), &err);
	assert_string_equal(value, "1\n");
	check_ok(netlink_sysctl_set("net.ipv6.conf.all.forwarding", "1", &err), &err);

	/* per namespace: turning it off in another one leaves this one on */
	check_ok(netns_create(f->ns2, &err), &err);
	check_ok(netns_enter(f->ns2, &saved, &err), &err);
	ret = netlink_sysctl_set("net.ipv4.ip_forward", "0", &err);
	check_ok(netns_leave(saved, &err), &err);
	check_ok(ret, &err);
	outside = run_in(f->ns2, "cat /proc/sys/net/ipv4/ip_forward");
	assert_non_null(outside);
	assert_string_equal(outside, "0\n");
	free(value);
	check_ok(fs_read_file("/proc/sys/net/ipv4/ip_forward", &value, &len, &err), &err);
	assert_string_equal(value, "1\n");

	assert_int_equal(netlink_sysctl_set("kernel.panic", "1", &err), -EINVAL);
	assert_non_null(strstr(err->msg, "not a key under net."));
	berth_error_free(&err);
	assert_int_equal(netlink_sysctl_set("net/../kernel/panic", "1", &err), -EINVAL);
	berth_error_free(&err);
	assert_int_equal(netlink_sysctl_set("net.ipv4.no_such_knob", "1", &err), -ENOENT);
	berth_error_free(&err);
}

static void name_round(netlink_attach_config *c, int i, char host[IFNAMSIZ], char peer[IFNAMSIZ])
{
	snprintf(host, IFNAMSIZ, "vbtime%d", i);
	snprintf(peer, IFNAMSIZ, "e%d", i);
	c->host_ifname = host;
	c->container_ifname = peer;
	c->ipv4.s_addr = htonl(ntohl(c->ipv4.s_addr) + 1);
	c->ipv6.s6_addr[15]++;
	c->ipv4_gateway.s_addr = INADDR_ANY; /* one default route per namespace */
	memset(&c->ipv6_gateway, 0, sizeof(c->ipv6_gateway));
	netlink_mac_from_ipv4(c->ipv4, c->mac);
}

/* Times bridge ensure, attach, detach, and the other way to tear down: the
 * namespace removed, its veth pairs deleted by the kernel afterwards. Prints
 * them, and fails only when far off (an attach of more than 20 ms means
 * something is wrong). */
static void test_timing(void **state)
{
	fixture *f = *state;
	netlink_bridge_config b = bridge_config();
	netlink_attach_config c;
	berth_error *err = NULL;
	_cleanup_close_ int nsfd = -EBADF;
	char host[ROUNDS][IFNAMSIZ], peer[ROUNDS][IFNAMSIZ];
	double t, ensure_new, ensure_again, create, attach_first, attach = 0, detach = 0, remove, gone;

	NEED_NETNS();
	t = now_us();
	check_ok(netns_create(f->ns, &err), &err);
	create = now_us() - t;
	nsfd = netns_open(f->ns, &err);
	check_ok(nsfd, &err);
	c = attach_config(nsfd);

	t = now_us();
	check_ok(netlink_bridge_ensure(&b, &err), &err);
	ensure_new = now_us() - t;
	t = now_us();
	check_ok(netlink_bridge_ensure(&b, &err), &err);
	ensure_again = now_us() - t;
	t = now_us();
	check_ok(netlink_attach(&c, &err), &err); /* with default routes */
	attach_first = now_us() - t;
	for (int i = 0; i < ROUNDS; i++) {
		name_round(&c, i, host[i], peer[i]);
		t = now_us();
		check_ok(netlink_attach(&c, &err), &err);
		attach += now_us() - t;
	}
	for (int i = 0; i < ROUNDS / 2; i++) {
		t = now_us();
		check_ok(netlink_detach(host[i], &err), &err);
		detach += now_us() - t;
	}

	/* the rest goes with the namespace */
	close(move_fd(nsfd));
	t = now_us();
	check_ok(netns_remove(f->ns, &err), &err);
	remove = now_us() - t;
	for (int i = ROUNDS / 2; i < ROUNDS; i++)
		while (netlink_link_exists(host[i], &err) == 1 && now_us() - t < 5e6)
			usleep(200);
	gone = now_us() - t;
	for (int i = ROUNDS / 2; i < ROUNDS; i++)
		assert_int_equal(netlink_link_exists(host[i], &err), 0);
	assert_int_equal(netlink_link_exists(HOST_END, &err), 0);

	printf("# netns create %.0f us; bridge ensure (new) %.0f us, (existing) %.0f us; attach %.0f us (first, with "
	       "routes), %.0f us (mean of %d); detach %.0f us (mean of %d); netns remove %.0f us, its %d veths gone "
	       "after %.0f us\n",
	       create, ensure_new, ensure_again, attach_first, attach / ROUNDS, ROUNDS, detach / (ROUNDS / 2),
	       ROUNDS / 2, remove, ROUNDS / 2 + 1, gone);
	assert_true(attach / ROUNDS < 20000);
}

/* A private network and mount namespace for the whole run, or none. */
static void enter_private_namespaces(void)
{
	berth_error *err = NULL;

	if (geteuid() != 0) {
		fprintf(stderr, "# not root: the namespace tests skip\n");
		return;
	}
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
		fprintf(stderr, "# unshare: %s: the namespace tests skip\n", strerror(errno));
		return;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		/* mounts made from here could reach the host: do not go on */
		fprintf(stderr, "make / a slave: %s\n", strerror(errno));
		exit(1);
	}
	if (netlink_link_set_up("lo", &err) < 0) {
		fprintf(stderr, "%s\n", err->msg);
		exit(1);
	}
	have_netns = true;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_mac),
		cmocka_unit_test_setup_teardown(test_netns_create_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bridge_ensure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_detach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysctl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timing, setup, teardown),
	};

	enter_private_namespaces();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
