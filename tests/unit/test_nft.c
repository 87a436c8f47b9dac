/* network/nft: the berth table, masquerade, isolation and port publishing,
 * checked with real traffic.
 *
 * The test first moves itself into a private network and mount namespace
 * (unshare), so the host's ruleset and sysctls are never touched, and
 * mounts a tmpfs on /run/netns so the namespaces it names are its own.
 * There it builds:
 *
 *   other (netns "other")  vo0 192.168.77.2/24  -- "another host"
 *        |
 *   host (the test's netns) vh0 192.168.77.1/24
 *        berth0 10.88.0.1/16:  ctr1 10.88.0.2, ctr2 10.88.0.3
 *        berth1 10.89.0.1/16:  ctr3 10.89.0.2
 *
 * "other" has no route to 10.88/16 or 10.89/16: it answers a container only
 * when the container is masqueraded. Listeners in the containers answer
 * every TCP connection or UDP datagram with the peer address they saw.
 * Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), the ip and nft commands;
 * skipped (77) otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
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

#include "network/nft.h"
#include "util/cleanup.h"

#define MAX_LISTENERS 8

static pid_t listeners[MAX_LISTENERS];
static size_t n_listeners;

static const char *const subnets0[] = { "10.88.0.0/16", NULL };
static const char *const subnets1[] = { "10.89.0.0/16", NULL };
static const struct nft_network net0 = { .bridge = "berth0", .subnets = subnets0 };
static const struct nft_network net1 = { .bridge = "berth1", .subnets = subnets1 };

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Output of a shell command (at most 64 KiB), or NULL when it failed. */
static char *sh_output(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *buf = calloc(1, 65536);
	size_t len;

	assert_non_null(p);
	assert_non_null(buf);
	len = fread(buf, 1, 65535, p);
	buf[len] = '\0';
	if (pclose(p) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, value, strlen(value)), (ssize_t)strlen(value));
	close(fd);
}

static void enter_netns(const char *ns)
{
	char path[128];
	int fd;

	if (ns == NULL)
		return;
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		_exit(120);
	close(fd);
}

static int make_socket(int proto, int family)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 700000 };
	int s = socket(family, proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);

	if (s >= 0) {
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return s;
}

static void peer_text(const struct sockaddr_in *a, char *buf, size_t size)
{
	inet_ntop(AF_INET, &a->sin_addr, buf, (socklen_t)size);
}

static _Noreturn void serve(int proto, uint16_t port, int ready)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, s = socket(AF_INET, proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || (proto == IPPROTO_TCP && listen(s, 16) < 0))
		_exit(121);
	if (write(ready, "r", 1) != 1)
		_exit(122);
	for (;;) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		char text[INET_ADDRSTRLEN], buf[64];

		if (proto == IPPROTO_TCP) {
			int c = accept(s, (struct sockaddr *)&peer, &len);
			if (c < 0)
				continue;
			peer_text(&peer, text, sizeof(text));
			if (write(c, text, strlen(text)) < 0)
				_exit(123);
			close(c);
		} else if (recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len) >= 0) {
			peer_text(&peer, text, sizeof(text));
			sendto(s, text, strlen(text), 0, (struct sockaddr *)&peer, len);
		}
	}
}

/* Starts a listener on PORT in netns NS; it answers with the peer address. */
static void listen_in(const char *ns, int proto, uint16_t port)
{
	int p[2];
	char c;
	pid_t pid;

	assert_true(n_listeners < MAX_LISTENERS);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		enter_netns(ns);
		serve(proto, port, p[1]);
	}
	close(p[1]);
	listeners[n_listeners++] = pid;
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
}

static void stop_listeners(void)
{
	for (size_t i = 0; i < n_listeners; i++) {
		kill(listeners[i], SIGKILL);
		waitpid(listeners[i], NULL, 0);
	}
	n_listeners = 0;
}

/* From netns NS (NULL: the host), connects to IP:PORT and reads the answer
 * (the address the listener saw) into PEER. Returns 0, or -1 when nothing
 * answered within 0.7 s. */
static int probe(const char *ns, int proto, const char *ip, uint16_t port, char *peer, size_t size)
{
	int p[2], status;
	ssize_t len;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
		char buf[64];
		ssize_t n;
		int s;

		close(p[0]);
		enter_netns(ns);
		s = make_socket(proto, AF_INET);
		if (s < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1 ||
		    connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(1);
		if (proto == IPPROTO_UDP && send(s, "?", 1, 0) != 1)
			_exit(1);
		n = recv(s, buf, sizeof(buf), 0);
		if (n <= 0 || write(p[1], buf, (size_t)n) != n)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	len = read(p[0], peer, size - 1);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	peer[len > 0 ? len : 0] = '\0';
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && len > 0 ? 0 : -1;
}

static bool table_exists(void)
{
	return sh("nft list table inet berth >/dev/null 2>&1") == 0;
}

static int count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- topology, built once; every test starts and ends with no table ---- */

static int build_topology(void **state)
{
	static const char *const script =
	    "set -e\n"
	    "ip link set lo up\n"
	    "for ns in other ctr1 ctr2 ctr3; do ip netns add $ns; ip -n $ns link set lo up; done\n"
	    "ip link add vh0 type veth peer name vo0 netns other\n"
	    "ip addr add 192.168.77.1/24 dev vh0; ip link set vh0 up\n"
	    "ip -n other addr add 192.168.77.2/24 dev vo0; ip -n other link set vo0 up\n"
	    "for b in 0 1; do ip link add berth$b type bridge; ip addr add 10.8$((8+b)).0.1/16 dev berth$b;"
	    " ip link set berth$b up; done\n"
	    "plug() { ip link add $1h type veth peer name eth0 netns $1; ip link set $1h master $2 up;"
	    " ip -n $1 addr add $3/16 dev eth0; ip -n $1 link set eth0 up;"
	    " ip -n $1 route add default via $4; }\n"
	    "plug ctr1 berth0 10.88.0.2 10.88.0.1\n"
	    "plug ctr2 berth0 10.88.0.3 10.88.0.1\n"
	    "plug ctr3 berth1 10.89.0.2 10.89.0.1\n";

	(void)state;
	write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
	return sh("%s", script) == 0 ? 0 : -1;
}

static int clean(void **state)
{
	berth_error *err = NULL;

	(void)state;
	stop_listeners();
	write_sysctl("/proc/sys/net/ipv4/conf/berth0/route_localnet", "1");
	if (nft_table_remove(&err) < 0) {
		fprintf(stderr, "%s\n", err->msg);
		berth_error_free(&err);
		return -1;
	}
	return table_exists() ? -1 : 0;
}

static void add_network(const struct nft_network *n)
{
	_cleanup_error_ berth_error *err = NULL;

	if (nft_network_add(n, &err) < 0)
		fail_msg("%s", err->msg);
}

static void add_ports(const struct nft_port *p, size_t n)
{
	_cleanup_error_ berth_error *err = NULL;

	if (nft_ports_add(p, n, &err) < 0)
		fail_msg("%s", err->msg);
}

/* ---- tests ---- */

static void test_table_idempotent_and_removed_with_last_network(void **state)
{
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *once = NULL, *twice = NULL;

	(void)state;
	assert_false(table_exists());
	add_network(&net0);
	once = sh_output("nft list table inet berth");
	assert_non_null(once);
	add_network(&net0);
	twice = sh_output("nft list table inet berth");
	assert_non_null(twice);
	assert_string_equal(once, twice); /* no rule twice, no element changed */
	assert_int_equal(count(once, "masquerade"), 5);
	assert_non_null(strstr(once, "10.88.0.0/16 . \"berth0\""));

	add_network(&net1);
	assert_int_equal(nft_network_remove(&net0, &err), 0);
	assert_true(table_exists()); /* berth1 is left */
	if (nft_network_remove(&net0, &err) != -ENOENT)
		fail_msg("removed twice: %s", err ? err->msg : "no error");
	assert_non_null(strstr(err->msg, "berth0"));
	berth_error_free(&err);
	assert_int_equal(nft_network_remove(&net1, &err), 0);
	assert_false(table_exists());
}

static void test_masquerade_outbound(void **state)
{
	char peer[64];

	(void)state;
	listen_in("other", IPPROTO_TCP, 7000);
	/* without berth's rules the other host cannot answer 10.88.0.2 */
	assert_int_equal(probe("ctr1", IPPROTO_TCP, "192.168.77.2", 7000, peer, sizeof(peer)), -1);
	add_network(&net0);
	assert_int_equal(probe("ctr1", IPPROTO_TCP, "192.168.77.2", 7000, peer, sizeof(peer)), 0);
	assert_string_equal(peer, "192.168.77.1");
}

static void test_internal_network_no_outbound(void **state)
{
	const struct nft_network internal = { .bridge = "berth0", .subnets = subnets0, .internal = true };
	_cleanup_free_ char *listing = NULL;
	char peer[64];

	(void)state;
	listen_in("other", IPPROTO_TCP, 7000);
	listen_in("ctr1", IPPROTO_TCP, 80);
	add_network(&internal);
	listing = sh_output("nft list set inet berth masq4");
	assert_non_null(listing);
	assert_null(strstr(listing, "10.88"));
	assert_int_equal(probe("ctr1", IPPROTO_TCP, "192.168.77.2", 7000, peer, sizeof(peer)), -1);
	/* the host itself still reaches the container, and the bridge is whole */
	assert_int_equal(probe(NULL, IPPROTO_TCP, "10.88.0.2", 80, peer, sizeof(peer)), 0);
	assert_int_equal(probe("ctr2", IPPROTO_TCP, "10.88.0.2", 80, peer, sizeof(peer)), 0);
	assert_string_equal(peer, "10.88.0.3");
}

static const struct nft_port web = { IPPROTO_TCP, NULL, 8080, "10.88.0.2", 80 };

static void test_publish_localhost(void **state)
{
	char peer[64];

	(void)state;
	listen_in("ctr1", IPPROTO_TCP, 80);
	add_network(&net0);
	assert_int_equal(probe(NULL, IPPROTO_TCP, "127.0.0.1", 8080, peer, sizeof(peer)), -1);
	add_ports(&web, 1);
	assert_int_equal(probe(NULL, IPPROTO_TCP, "127.0.0.1", 8080, peer, sizeof(peer)), 0);
	assert_string_equal(peer, "10.88.0.1"); /* 127.0.0.1 masqueraded to the bridge address */
	/* route_localnet on the bridge is what the kernel needs for it */
	write_sysctl("/proc/sys/net/ipv4/conf/berth0/route_localnet", "0");
	assert_int_equal(probe(NULL, IPPROTO_TCP, "127.0.0.1", 8080, peer, sizeof(peer)), -1);
}

static void test_publish_from_other_host_keeps_source(void **state)
{
	char peer[64];

	(void)state;
	listen_in("ctr1", IPPROTO_TCP, 80);
	add_network(&net0);
	add_ports(&web, 1);
	assert_int_equal(probe("other", IPPROTO_TCP, "192.168.77.1", 8080, peer, sizeof(peer)), 0);
	assert_string_equal(peer, "192.168.77.2");
}

static void test_publish_host_address_and_hairpin(void **state)
{
	char peer[64];

	(void)state;
	listen_in("ctr1", IPPROTO_TCP, 80);
	add_network(&net0);
	add_ports(&web, 1);
	assert_int_equal(probe(NULL, IPPROTO_TCP, "192.168.77.1", 8080, peer, sizeof(peer)), 0);
	assert_string_equal(peer, "192.168.77.1");
	assert_int_equal(probe("ctr2", IPPROTO_TCP, "192.168.77.1", 8080, peer, sizeof(peer)), 0);
	assert_string_equal(peer, "10.88.0.1");
	assert_int_equal(probe("ctr2", IPPROTO_TCP, "10.88.0.1", 8080, peer, sizeof(peer)), 0);
}

static void test_publish_udp(void **state)
{
	const struct nft_port dns = { IPPROTO_UDP, NULL, 5353, "10.88.0.2", 53 };
	char peer[64];

	(void)state;
	listen_in("ctr1", IPPROTO_UDP, 53);
	add_network(&net0);
	add_ports(&web, 1); /* tcp/8080 does not answer udp */
	assert_int_equal(probe("other", IPPROTO_UDP, "192.168.77.1", 5353, peer, sizeof(peer)), -1);
	add_ports(&dns, 1);
	assert_int_equal(probe("other", IPPROTO_UDP, "192.168.77.1", 5353, peer, sizeof(peer)), 0);
	assert_string_equal(peer, "192.168.77.2");
	assert_int_equal(probe(NULL, IPPROTO_UDP, "127.0.0.1", 5353, peer, sizeof(peer)), 0);
	assert_int_equal(probe("other", IPPROTO_TCP, "192.168.77.1", 5353, peer, sizeof(peer)), -1);
}

static void test_publish_bound_to_host_address(void **state)
{
	const struct nft_port local = { IPPROTO_TCP, "127.0.0.1", 8081, "10.88.0.2", 80 };
	const struct nft_port outer = { IPPROTO_TCP, "192.168.77.1", 8082, "10.88.0.2", 80 };
	char peer[64];

	(void)state;
	listen_in("ctr1", IPPROTO_TCP, 80);
	add_network(&net0);
	add_ports(&local, 1);
	add_ports(&outer, 1);
	assert_int_equal(probe(NULL, IPPROTO_TCP, "127.0.0.1", 8081, peer, sizeof(peer)), 0);
	assert_int_equal(probe(NULL, IPPROTO_TCP, "192.168.77.1", 8081, peer, sizeof(peer)), -1);
	assert_int_equal(probe("other", IPPROTO_TCP, "192.168.77.1", 8081, peer, sizeof(peer)), -1);
	assert_int_equal(probe("other", IPPROTO_TCP, "192.168.77.1", 8082, peer, sizeof(peer)), 0);
	assert_string_equal(peer, "192.168.77.2");
	assert_int_equal(probe(NULL, IPPROTO_TCP, "127.0.0.1", 8082, peer, sizeof(peer)), -1);
}

static void test_duplicate_refused_atomically(void **state)
{
	const struct nft_port batch[] = {
		{ IPPROTO_TCP, NULL, 9090, "10.88.0.3", 90 },
		{ IPPROTO_TCP, NULL, 8080, "10.88.0.3", 80 },
	};
	const struct nft_port bound[] = {
		{ IPPROTO_TCP, "127.0.0.1", 8080, "10.88.0.3", 80 },
		{ IPPROTO_TCP, "127.0.0.1", 8080, "10.88.0.2", 80 },
	};
	const struct nft_port udp = { IPPROTO_UDP, NULL, 8080, "10.88.0.3", 80 };
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ struct nft_port_entry *list = NULL;
	size_t n = 99;

	(void)state;
	add_network(&net0);
	add_ports(&web, 1);
	assert_int_equal(nft_ports_add(batch, 2, &err), -EEXIST);
	assert_string_equal(err->msg, "publish port tcp/8080: already published: File exists");
	berth_error_free(&err);
	assert_int_equal(nft_ports_list(&list, &n, &err), 0);
	assert_int_equal(n, 1); /* 9090 was not published either */
	assert_int_equal(list[0].host_port, 8080);
	assert_string_equal(list[0].container_ip, "10.88.0.2");

	add_ports(&udp, 1); /* another protocol is another port */
	assert_int_equal(nft_ports_add(bound, 2, &err), -EINVAL);
	assert_string_equal(err->msg, "publish port tcp/127.0.0.1:8080: given twice: Invalid argument");
	berth_error_free(&err);
	add_ports(&bound[0], 1); /* one host address is another key than every address */
	assert_int_equal(nft_ports_add(&bound[1], 1, &err), -EEXIST);
	assert_string_equal(err->msg, "publish port tcp/127.0.0.1:8080: already published: File exists");
}

static void test_remove_unpublishes(void **state)
{
	const struct nft_port both[] = { web, { IPPROTO_TCP, "127.0.0.1", 8081, "10.88.0.2", 80 } };
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ char *listing = NULL;
	_cleanup_free_ struct nft_port_entry *list = NULL;
	size_t n = 99;
	char peer[64];

	(void)state;
	listen_in("ctr1", IPPROTO_TCP, 80);
	add_network(&net0);
	add_ports(both, 2);
	assert_int_equal(probe("other", IPPROTO_TCP, "192.168.77.1", 8080, peer, sizeof(peer)), 0);
	assert_int_equal(nft_ports_remove(both, 2, &err), 0);
	assert_int_equal(probe("other", IPPROTO_TCP, "192.168.77.1", 8080, peer, sizeof(peer)), -1);
	assert_int_equal(probe(NULL, IPPROTO_TCP, "127.0.0.1", 8081, peer, sizeof(peer)), -1);
	listing = sh_output("nft list map inet berth dnat4; nft list map inet berth dnat4_ip");
	assert_non_null(listing);
	assert_null(strstr(listing, "elements"));
	assert_int_equal(nft_ports_list(&list, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(nft_ports_remove(&web, 1, &err), -ENOENT);
	assert_string_equal(err->msg, "unpublish port tcp/8080: not published: No such file or directory");
}

/* What nft reads back from the kernel for MAP: the raw bytes of every
 * element (--debug=netlink) and their meaning (JSON). */
static char *map_listing(const char *map)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "nft --debug=netlink -j list map inet berth %s 2>&1", map);
	return sh_output(cmd);
}

static size_t count_ports(void)
{
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ struct nft_port_entry *list = NULL;
	size_t n = 0;

	if (nft_ports_list(&list, &n, &err) < 0)
		fail_msg("%s", err->msg);
	return n;
}

/* An element written over netlink is byte for byte the one nft writes for
 * the same port, in each of the four maps, and nft reads it as that port. */
static void test_layout_is_what_nft_writes(void **state)
{
	static const struct {
		struct nft_port port;
		const char *map, *nft, *json;
	} cases[] = {
		{ { IPPROTO_TCP, NULL, 8080, "10.88.0.2", 80 },
		  "dnat4",
		  "tcp . 8080 : 10.88.0.2 . 80",
		  "[{\"concat\": [\"tcp\", 8080]}, {\"concat\": [\"10.88.0.2\", 80]}]" },
		{ { IPPROTO_UDP, "127.0.0.1", 5353, "10.88.0.3", 53 },
		  "dnat4_ip",
		  "127.0.0.1 . udp . 5353 : 10.88.0.3 . 53",
		  "[{\"concat\": [\"127.0.0.1\", \"udp\", 5353]}, {\"concat\": [\"10.88.0.3\", 53]}]" },
		{ { IPPROTO_TCP, NULL, 65535, "fd00:88::2", 1 },
		  "dnat6",
		  "tcp . 65535 : fd00:88::2 . 1",
		  "[{\"concat\": [\"tcp\", 65535]}, {\"concat\": [\"fd00:88::2\", 1]}]" },
		{ { IPPROTO_UDP, "::1", 53, "fd00:88::abcd:2", 5353 },
		  "dnat6_ip",
		  "::1 . udp . 53 : fd00:88::abcd:2 . 5353",
		  "[{\"concat\": [\"::1\", \"udp\", 53]}, {\"concat\": [\"fd00:88::abcd:2\", 5353]}]" },
	};
	_cleanup_error_ berth_error *err = NULL;

	(void)state;
	add_network(&net0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *ours = NULL, *theirs = NULL, *empty = NULL;

		add_ports(&cases[i].port, 1);
		ours = map_listing(cases[i].map);
		assert_non_null(ours);
		if (strstr(ours, cases[i].json) == NULL)
			fail_msg("%s: %s not in %s", cases[i].map, cases[i].json, ours);
		assert_int_equal(nft_ports_remove(&cases[i].port, 1, &err), 0);
		assert_int_equal(sh("nft add element inet berth %s '{ %s }'", cases[i].map, cases[i].nft), 0);
		theirs = map_listing(cases[i].map);
		assert_non_null(theirs);
		assert_string_equal(ours, theirs);
		/* and what nft wrote is found and removed by its key */
		assert_int_equal(nft_ports_remove(&cases[i].port, 1, &err), 0);
		empty = map_listing(cases[i].map);
		assert_non_null(empty);
		assert_null(strstr(empty, "\"elem\""));
	}
}

/* The port the kernel refuses is named even deep in a large batch and in
 * another map than the first port's; nothing of the batch is kept. */
static void test_refused_port_named_in_large_batch(void **state)
{
	static struct nft_port many[1000];
	const struct nft_port batch[] = {
		{ IPPROTO_TCP, "127.0.0.1", 9000, "10.88.0.3", 90 },
		{ IPPROTO_UDP, NULL, 20700, "10.88.0.3", 90 },
		{ IPPROTO_TCP, NULL, 20700, "10.88.0.3", 90 }, /* published below */
		{ IPPROTO_TCP, NULL, 9001, "10.88.0.3", 90 },
	};
	const struct nft_port missing[] = {
		{ IPPROTO_TCP, NULL, 20000, "10.88.1.1", 80 },
		{ IPPROTO_UDP, NULL, 20001, "10.88.0.3", 1 },
		{ IPPROTO_TCP, NULL, 20002, "10.88.1.1", 80 },
	};
	_cleanup_error_ berth_error *err = NULL;

	(void)state;
	for (size_t i = 0; i < 1000; i++)
		many[i] = (struct nft_port){ IPPROTO_TCP, NULL, (uint16_t)(20000 + i), "10.88.1.1", 80 };
	add_network(&net0);
	add_ports(many, 1000);
	assert_int_equal(count_ports(), 1000);
	assert_int_equal(nft_ports_add(batch, 4, &err), -EEXIST);
	assert_string_equal(err->msg, "publish port tcp/20700: already published: File exists");
	berth_error_free(&err);
	assert_int_equal(count_ports(), 1000);

	/* tcp/20000 and tcp/20002 stay: the remove is all or nothing */
	assert_int_equal(nft_ports_remove(missing, 3, &err), -ENOENT);
	assert_string_equal(err->msg, "unpublish port udp/20001: not published: No such file or directory");
	berth_error_free(&err);
	assert_int_equal(count_ports(), 1000);

	assert_int_equal(nft_ports_remove(many, 1000, &err), 0);
	assert_int_equal(count_ports(), 0);
	/* 1000 refusals at once: more answers than the socket holds */
	assert_int_equal(nft_ports_remove(many, 1000, &err), -ENOENT);
	assert_string_equal(err->msg, "unpublish port tcp/20000: not published: No such file or directory");
}

/* A remove takes exactly its ports, found by protocol, host address and
 * host port, whatever container they point to. */
static void test_remove_exact(void **state)
{
	const struct nft_port ports[] = {
		{ IPPROTO_TCP, NULL, 8080, "10.88.0.2", 80 },
		{ IPPROTO_UDP, NULL, 8080, "10.88.0.2", 80 },
		{ IPPROTO_TCP, "127.0.0.1", 8080, "10.88.0.2", 80 },
		{ IPPROTO_TCP, NULL, 8081, "10.88.0.2", 80 },
	};
	const struct nft_port other_side = { IPPROTO_TCP, NULL, 8080, "10.88.0.99", 9999 };
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ struct nft_port_entry *list = NULL;
	size_t n = 0;

	(void)state;
	add_network(&net0);
	add_ports(ports, 4);
	assert_int_equal(nft_ports_remove(&other_side, 1, &err), 0);
	assert_int_equal(nft_ports_list(&list, &n, &err), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_false(list[i].proto == IPPROTO_TCP && list[i].host_port == 8080 && list[i].host_ip[0] == '\0');
	assert_int_equal(nft_ports_remove(&ports[2], 1, &err), 0);
	assert_int_equal(count_ports(), 2);
	assert_int_equal(nft_ports_remove(&ports[2], 1, &err), -ENOENT);
	assert_string_equal(err->msg, "unpublish port tcp/127.0.0.1:8080: not published: No such file or directory");
}

static void test_ipv6_ports(void **state)
{
	const struct nft_port ports[] = {
		{ IPPROTO_TCP, NULL, 8080, "fd00:88::2", 80 },
		{ IPPROTO_UDP, "::1", 5353, "fd00:88::2", 53 },
		{ IPPROTO_TCP, "fd00:77:0:0::1", 443, "fd00:88::3", 8443 },
	};
	const struct nft_port same = { IPPROTO_TCP, "fd00:77::1", 443, "fd00:88::4", 443 };
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ struct nft_port_entry *list = NULL;
	size_t n = 0;

	(void)state;
	add_network(&net0);
	add_ports(ports, 3);
	assert_int_equal(nft_ports_list(&list, &n, &err), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (list[i].host_port == 8080) {
			assert_string_equal(list[i].host_ip, "");
			assert_string_equal(list[i].container_ip, "fd00:88::2");
		} else if (list[i].host_port == 5353) {
			assert_int_equal(list[i].proto, IPPROTO_UDP);
			assert_string_equal(list[i].host_ip, "::1");
			assert_int_equal(list[i].container_port, 53);
		} else {
			assert_string_equal(list[i].host_ip, "fd00:77::1");
			assert_string_equal(list[i].container_ip, "fd00:88::3");
			assert_int_equal(list[i].container_port, 8443);
		}
	}
	/* another spelling of the same address is the same key */
	assert_int_equal(nft_ports_add(&same, 1, &err), -EEXIST);
	assert_string_equal(err->msg, "publish port tcp/[fd00:77::1]:443: already published: File exists");
	berth_error_free(&err);
	assert_int_equal(nft_ports_remove(ports, 3, &err), 0);
	assert_int_equal(count_ports(), 0);
}

/* Without the table (no network) a publish says which map is missing. */
static void test_ports_without_table(void **state)
{
	_cleanup_error_ berth_error *err = NULL;

	(void)state;
	assert_int_equal(nft_ports_add(&web, 1, &err), -ENOENT);
	assert_string_equal(err->msg, "publish port tcp/8080: no nftables map inet berth dnat4 (no network added?): "
				      "No such file or directory");
	berth_error_free(&err);
	assert_int_equal(nft_ports_remove(&web, 1, &err), -ENOENT);
	assert_string_equal(err->msg, "unpublish port tcp/8080: not published: No such file or directory");
	assert_false(table_exists());
}

static void test_isolation_between_bridges(void **state)
{
	char peer[64];

	(void)state;
	listen_in("ctr1", IPPROTO_TCP, 80);
	listen_in("other", IPPROTO_TCP, 7000);
	/* plain routing joins the two bridges ... */
	assert_int_equal(probe("ctr3", IPPROTO_TCP, "10.88.0.2", 80, peer, sizeof(peer)), 0);
	add_network(&net0);
	add_network(&net1);
	/* ... berth's rules part them, in both directions */
	assert_int_equal(probe("ctr3", IPPROTO_TCP, "10.88.0.2", 80, peer, sizeof(peer)), -1);
	assert_int_equal(probe("ctr1", IPPROTO_TCP, "10.89.0.2", 80, peer, sizeof(peer)), -1);
	/* within a bridge, and out of it, all is allowed */
	assert_int_equal(probe("ctr2", IPPROTO_TCP, "10.88.0.2", 80, peer, sizeof(peer)), 0);
	assert_string_equal(peer, "10.88.0.3");
	assert_int_equal(probe("ctr3", IPPROTO_TCP, "192.168.77.2", 7000, peer, sizeof(peer)), 0);
	assert_string_equal(peer, "192.168.77.1");
}

static void test_list_ports(void **state)
{
	const struct nft_port ports[] = {
		{ IPPROTO_TCP, NULL, 8080, "10.88.0.2", 80 },
		{ IPPROTO_UDP, NULL, 5353, "10.88.0.2", 53 },
		{ IPPROTO_TCP, "127.0.0.1", 2222, "10.88.0.3", 22 },
	};
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ struct nft_port_entry *list = NULL;
	size_t n = 99, tcp = 0;

	(void)state;
	assert_int_equal(nft_ports_list(&list, &n, &err), 0); /* no table: none */
	assert_int_equal(n, 0);
	free(list);
	list = NULL;
	add_network(&net0);
	add_ports(ports, 3);
	assert_int_equal(nft_ports_list(&list, &n, &err), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (list[i].host_port == 2222) {
			assert_string_equal(list[i].host_ip, "127.0.0.1");
			assert_string_equal(list[i].container_ip, "10.88.0.3");
			assert_int_equal(list[i].container_port, 22);
		} else {
			assert_string_equal(list[i].host_ip, "");
		}
		tcp += list[i].proto == IPPROTO_TCP;
	}
	assert_int_equal(tcp, 2);
}

static void test_invalid_input_changes_nothing(void **state)
{
	const char *const bad_subnet[] = { "10.88.0.1/16", NULL };
	const struct nft_network bad_bridge = { .bridge = "br\" }; flush ruleset", .subnets = subnets0 };
	const struct nft_network host_bits = { .bridge = "berth0", .subnets = bad_subnet };
	const struct nft_port bad[] = {
		{ IPPROTO_TCP, NULL, 8080, "10.88.0.2", 80 },
		{ IPPROTO_SCTP, NULL, 8080, "10.88.0.2", 80 },
	};
	const struct nft_port mixed = { IPPROTO_TCP, "::1", 8080, "10.88.0.2", 80 };
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_free_ struct nft_port_entry *list = NULL;
	size_t n = 99;

	(void)state;
	assert_int_equal(nft_network_add(&bad_bridge, &err), -EINVAL);
	berth_error_free(&err);
	assert_int_equal(nft_network_add(&host_bits, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "10.88.0.1/16"));
	berth_error_free(&err);
	assert_false(table_exists());
	add_network(&net0);
	assert_int_equal(nft_ports_add(bad, 2, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "neither tcp nor udp"));
	berth_error_free(&err);
	assert_int_equal(nft_ports_add(&mixed, 1, &err), -EINVAL);
	berth_error_free(&err);
	assert_int_equal(nft_ports_list(&list, &n, &err), 0);
	assert_int_equal(n, 0);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Reports (does not assert) what the calls cost, with 1000 ports already
 * published, so the numbers show whether the cost grows with the table. */
static void test_timings(void **state)
{
	static struct nft_port many[1000];
	const struct nft_port three[] = {
		{ IPPROTO_TCP, NULL, 80, "10.88.0.9", 80 },
		{ IPPROTO_TCP, NULL, 443, "10.88.0.9", 443 },
		{ IPPROTO_UDP, "127.0.0.1", 53, "10.88.0.9", 53 },
	};
	struct timespec t0;
	double add = 0, rm = 0;
	_cleanup_error_ berth_error *err = NULL;
	const int rounds = 100;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	add_network(&net0);
	fprintf(stderr, "timing: first network add (creates the table): %.2f ms\n", ms_since(&t0));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	add_network(&net1);
	fprintf(stderr, "timing: second network add: %.2f ms\n", ms_since(&t0));
	for (size_t i = 0; i < 1000; i++)
		many[i] = (struct nft_port){ IPPROTO_TCP, NULL, (uint16_t)(20000 + i), "10.88.1.1", 80 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	add_ports(many, 1000);
	fprintf(stderr, "timing: 1000 ports in one call: %.2f ms\n", ms_since(&t0));
	for (int r = 0; r < rounds; r++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		add_ports(three, 3);
		add += ms_since(&t0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(nft_ports_remove(three, 3, &err), 0);
		rm += ms_since(&t0);
	}
	fprintf(stderr, "timing: ports add (3 ports, 1000 present): %.3f ms, ports remove: %.3f ms (mean of %d)\n",
		add / rounds, rm / rounds, rounds);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(nft_network_remove(&net1, &err), 0);
	fprintf(stderr, "timing: network remove: %.2f ms\n", ms_since(&t0));
}

/* Into a private network and mount namespace; 0, or -1 when not allowed. */
static int isolate(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		return -1;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	mkdir("/run/netns", 0755);
	return mount("tmpfs", "/run/netns", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_table_idempotent_and_removed_with_last_network, clean, clean),
		cmocka_unit_test_setup_teardown(test_masquerade_outbound, clean, clean),
		cmocka_unit_test_setup_teardown(test_internal_network_no_outbound, clean, clean),
		cmocka_unit_test_setup_teardown(test_publish_localhost, clean, clean),
		cmocka_unit_test_setup_teardown(test_publish_from_other_host_keeps_source, clean, clean),
		cmocka_unit_test_setup_teardown(test_publish_host_address_and_hairpin, clean, clean),
		cmocka_unit_test_setup_teardown(test_publish_udp, clean, clean),
		cmocka_unit_test_setup_teardown(test_publish_bound_to_host_address, clean, clean),
		cmocka_unit_test_setup_teardown(test_duplicate_refused_atomically, clean, clean),
		cmocka_unit_test_setup_teardown(test_remove_unpublishes, clean, clean),
		cmocka_unit_test_setup_teardown(test_layout_is_what_nft_writes, clean, clean),
		cmocka_unit_test_setup_teardown(test_refused_port_named_in_large_batch, clean, clean),
		cmocka_unit_test_setup_teardown(test_remove_exact, clean, clean),
		cmocka_unit_test_setup_teardown(test_ipv6_ports, clean, clean),
		cmocka_unit_test_setup_teardown(test_ports_without_table, clean, clean),
		cmocka_unit_test_setup_teardown(test_isolation_between_bridges, clean, clean),
		cmocka_unit_test_setup_teardown(test_list_ports, clean, clean),
		cmocka_unit_test_setup_teardown(test_invalid_input_changes_nothing, clean, clean),
		cmocka_unit_test_setup_teardown(test_timings, clean, clean),
	};

	if (geteuid() != 0 || isolate() < 0 || sh("command -v nft >/dev/null && command -v ip >/dev/null") != 0) {
		fprintf(stderr, "skipped: needs root, unshare and the ip and nft commands\n");
		return 77;
	}
	return cmocka_run_group_tests_name("nft", tests, build_topology, NULL);
}
