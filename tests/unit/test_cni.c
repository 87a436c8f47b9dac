/* network/cni: conflist validation, result parsing, the plugin protocol
 * with recording fake plugins (order, stdin, environment, rollback,
 * timeout, cache after a "restart"), and the Debian plugins for real:
 * bridge + host-local + portmap + firewall + tuning in a network
 * namespace of the test's own.
 *
 * main() first moves the whole test into new network and mount namespaces
 * (/ made private), so the host's links, rules and /run/netns are never
 * touched; everything the tests create lives in a scratch directory and in
 * those namespaces, which vanish with the process. Needs root (else: skip). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "network/cni.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define REAL_PLUGINS "/usr/lib/cni"

/* One test's world: a scratch dir with the container netns file, the
 * cache, host-local's dataDir and fake plugins. */
struct world {
	char *dir;
	char *netns;
	char *cache;
	char *ipam;
	char *bin;
	cni_network *net; /* deleted in teardown when set */
	cni_runtime rt;
};

static char *path_in(const struct world *w, const char *name)
{
	char *p = fs_path_join(w->dir, name);
	assert_non_null(p);
	return p;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static char *read_text(const char *path)
{
	char *out = NULL;
	size_t len;
	berth_error *err = NULL;
	if (fs_read_file(path, &out, &len, &err) < 0) {
		berth_error_free(&err);
		return NULL;
	}
	return out;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* A new network namespace bind-mounted on PATH; the test stays where it is. */
static int make_netns(const char *path)
{
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int file = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	int ret = 0;

	if (self < 0 || file < 0 || unshare(CLONE_NEWNET) < 0)
		return -1;
	if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
		ret = -1;
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* stuck in the wrong namespace: nothing below would be true */
	return ret;
}

static int enter_netns(const char *path)
{
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int target = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0)
		return -1;
	return move_fd(self);
}

static void leave_netns(int saved)
{
	if (setns(saved, CLONE_NEWNET) < 0)
		abort();
	close(saved);
}

static void link_up(const char *name)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	assert_true(s >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
}

/* In netns NS (NULL: here): does IFNAME exist, with ADDRESS when given? */
static bool has_interface(const char *ns, const char *ifname, const char *address)
{
	int saved = ns ? enter_netns(ns) : -1;
	struct ifaddrs *list = NULL;
	bool found = false;

	if (ns != NULL && saved < 0)
		fail_msg("setns %s: %s", ns, strerror(errno));
	if (getifaddrs(&list) == 0) {
		for (struct ifaddrs *a = list; a != NULL; a = a->ifa_next) {
			char text[INET6_ADDRSTRLEN] = "";
			if (strcmp(a->ifa_name, ifname) != 0)
				continue;
			if (address == NULL) {
				found = true;
			} else if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET) {
				inet_ntop(AF_INET, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, text, sizeof(text));
				found = found || strcmp(text, address) == 0;
			}
		}
		freeifaddrs(list);
	}
	if (ns != NULL)
		leave_netns(saved);
	return found;
}

/* Host-side veth interfaces in the test's netns. */
static int count_veths(void)
{
	struct ifaddrs *list = NULL;
	int n = 0;
	assert_int_equal(getifaddrs(&list), 0);
	for (struct ifaddrs *a = list; a != NULL; a = a->ifa_next)
		if (a->ifa_addr && a->ifa_addr->sa_family == AF_PACKET && strncmp(a->ifa_name, "veth", 4) == 0)
			n++;
	freeifaddrs(list);
	return n;
}

static char *mac_in_netns(const char *ns, const char *ifname)
{
	int saved = enter_netns(ns);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	char *mac = NULL;
	unsigned char *b = (unsigned char *)ifr.ifr_hwaddr.sa_data;

	assert_true(saved >= 0 && s >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
		assert_true(asprintf(&mac, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]) > 0);
	close(s);
	leave_netns(saved);
	return mac;
}

/* A TCP listener on PORT inside netns NS. */
static int listen_in_netns(const char *ns, int port)
{
	int saved = enter_netns(ns);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1;

	assert_true(saved >= 0 && s >= 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	leave_netns(saved);
	return s;
}

/* Connects to ADDRESS:PORT from here (2 s at most); with LISTENER, the
 * connection must arrive there and carry one byte. 0 or -errno. */
static int tcp_reaches(const char *address, int port, int listener)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 2 };
	char byte = 0;

	assert_true(s >= 0);
	assert_int_equal(inet_pton(AF_INET, address, &sa.sin_addr), 1);
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (listener >= 0) {
		_cleanup_close_ int peer = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		assert_true(peer >= 0);
		assert_int_equal(write(s, "x", 1), 1);
		assert_int_equal(read(peer, &byte, 1), 1);
		assert_int_equal(byte, 'x');
	}
	return 0;
}

static int setup_world(void **state)
{
	char tmpl[] = "/tmp/berth-test-cni.XXXXXX";
	struct world *w = calloc(1, sizeof(*w));
	berth_error *err = NULL;

	assert_non_null(w);
	assert_non_null(mkdtemp(tmpl));
	w->dir = strdup(tmpl);
	w->netns = path_in(w, "netns");
	w->cache = path_in(w, "cache");
	w->ipam = path_in(w, "ipam");
	w->bin = path_in(w, "bin");
	assert_int_equal(fs_mkdir_p(w->bin, 0755, &err), 0);
	assert_int_equal(make_netns(w->netns), 0);
	w->rt = (cni_runtime){
		.container_id = "ctr1",
		.netns_path = w->netns,
		.ifname = "eth0",
		.cache_dir = w->cache,
		.plugin_path = REAL_PLUGINS,
	};
	*state = w;
	return 0;
}

static int teardown_world(void **state)
{
	struct world *w = *state;
	berth_error *err = NULL;

	/* a test that failed half way leaves its attachment: delete it */
	if (w->net != NULL && cni_del(w->net, &w->rt, &err) < 0) {
		fprintf(stderr, "teardown: %s\n", err->msg);
		berth_error_free(&err);
	}
	cni_network_free(w->net);
	json_decref(w->rt.capability_args);
	umount2(w->netns, MNT_DETACH);
	fs_remove_tree(w->dir, &err);
	berth_error_free(&err);
	free(w->netns);
	free(w->cache);
	free(w->ipam);
	free(w->bin);
	free(w->dir);
	free(w);
	return 0;
}

static cni_network *parse_ok(const char *text)
{
	cni_network *net = NULL;
	berth_error *err = NULL;
	if (cni_network_parse(text, "test.conflist", &net, &err) < 0)
		fail_msg("parse: %s", err->msg);
	return net;
}

static void expect_parse_error(const char *text, const char *message)
{
	cni_network *net = NULL;
	berth_error *err = NULL;

	assert_int_equal(cni_network_parse(text, "net.conflist", &net, &err), -EINVAL);
	assert_null(net);
	assert_non_null(err);
	assert_string_equal(err->msg, message);
	berth_error_free(&err);
}

static void test_conflist_errors(void **state)
{
	(void)state;
	expect_parse_error(
	    "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"bridge\"},{\"bridge\":\"x\"}]}",
	    "net.conflist: plugins[1]: missing \"type\"");
	expect_parse_error("{\"name\":\"n\",\"plugins\":[{\"type\":\"bridge\"}]}",
			   "net.conflist: missing \"cniVersion\"");
	expect_parse_error(
	    "{\"cniVersion\":\"9.9.9\",\"name\":\"n\",\"plugins\":[{\"type\":\"bridge\"}]}",
	    "net.conflist: cniVersion: \"9.9.9\" is not supported (0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0)");
	expect_parse_error("{\"cniVersion\":\"1.0.0\",\"name\":\"a/b\",\"plugins\":[{\"type\":\"bridge\"}]}",
			   "net.conflist: name: \"a/b\" is not a network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)");
	expect_parse_error("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[]}", "net.conflist: plugins: empty");
	expect_parse_error("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":{}}",
			   "net.conflist: plugins: not an array");
	expect_parse_error("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"../../bin/sh\"}]}",
			   "net.conflist: plugins[0].type: \"../../bin/sh\" is not a plugin name (empty, or has '/')");
	expect_parse_error("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"portmap\","
			   "\"capabilities\":{\"portMappings\":1}}]}",
			   "net.conflist: plugins[0].capabilities.portMappings: not a boolean");
	expect_parse_error("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":7}]}",
			   "net.conflist: plugins[0].type: not a string");
	expect_parse_error("{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}",
			   "net.conflist: neither a list (\"plugins\") nor a plugin config (\"type\")");
	expect_parse_error("{\"cniVersion\":",
			   "net.conflist: invalid JSON at line 1 column 14: unexpected token near end of file");
}

static void test_single_conf_and_load(void **state)
{
	struct world *w = *state;
	_cleanup_free_ char *bad = path_in(w, "net.conflist");
	cni_network *net =
	    parse_ok("{\"cniVersion\":\"0.4.0\",\"name\":\"single\",\"type\":\"bridge\",\"bridge\":\"b0\"}");
	berth_error *err = NULL;

	assert_string_equal(cni_network_name(net), "single");
	assert_string_equal(cni_network_version(net), "0.4.0");
	assert_int_equal(cni_network_plugin_count(net), 1);
	assert_string_equal(cni_network_plugin_type(net, 0), "bridge");
	assert_null(cni_network_plugin_type(net, 1));
	cni_network_free(net);
	net = NULL;

	write_text(bad, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"bridge\"},{}]}", 0644);
	assert_true(cni_network_load(bad, &net, &err) < 0);
	_cleanup_free_ char *expected = NULL;
	assert_true(asprintf(&expected, "%s: plugins[1]: missing \"type\"", bad) > 0);
	assert_string_equal(err->msg, expected);
	berth_error_free(&err);
	assert_true(cni_network_load("/nonexistent/x.conflist", &net, &err) < 0);
	assert_non_null(strstr(err->msg, "/nonexistent/x.conflist"));
	berth_error_free(&err);
}

static void test_result_info(void **state)
{
	(void)state;
	cni_result_info info;
	berth_error *err = NULL;
	json_t *result =
	    json_loads("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"cni0\",\"mac\":\"aa:aa:aa:aa:aa:aa\"},"
		       "{\"name\":\"eth0\",\"mac\":\"02:42:0a:00:00:05\",\"sandbox\":\"/run/netns/x\"}],"
		       "\"ips\":[{\"address\":\"10.1.0.1/16\",\"interface\":0},"
		       "{\"address\":\"10.0.0.5/24\",\"gateway\":\"10.0.0.1\",\"interface\":1},"
		       "{\"address\":\"fd00::5/64\",\"gateway\":\"fd00::1\",\"interface\":1}]}",
		       0, NULL);

	assert_non_null(result);
	assert_int_equal(cni_result_get_info(result, "eth0", &info, &err), 0);
	assert_string_equal(info.ipv4, "10.0.0.5");
	assert_int_equal(info.ipv4_prefix, 24);
	assert_string_equal(info.ipv4_gateway, "10.0.0.1");
	assert_string_equal(info.ipv6, "fd00::5");
	assert_int_equal(info.ipv6_prefix, 64);
	assert_string_equal(info.ipv6_gateway, "fd00::1");
	assert_string_equal(info.mac, "02:42:0a:00:00:05");
	cni_result_info_free(&info);
	json_decref(result);

	result = json_loads(
	    "{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"192.168.9.3/24\",\"gateway\":\"192.168.9.1\"}}", 0, NULL);
	assert_int_equal(cni_result_get_info(result, "eth0", &info, &err), 0);
	assert_string_equal(info.ipv4, "192.168.9.3");
	assert_string_equal(info.ipv4_gateway, "192.168.9.1");
	assert_null(info.ipv6);
	assert_null(info.mac);
	cni_result_info_free(&info);
	json_decref(result);

	result = json_loads("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.300/24\"}]}", 0, NULL);
	assert_true(cni_result_get_info(result, "eth0", &info, &err) < 0);
	assert_string_equal(
	    err->msg,
	    "CNI result: ips[0].address: \"10.0.0.300/24\" is not an address with a prefix length: Invalid argument");
	berth_error_free(&err);
	json_decref(result);
}

static void test_port_mappings_json(void **state)
{
	(void)state;
	cni_port_mapping m[] = { { 8080, 80, NULL, NULL }, { 5353, 53, "udp", "127.0.0.1" } };
	json_t *json = NULL;
	berth_error *err = NULL;
	_cleanup_free_ char *text = NULL;

	assert_int_equal(cni_port_mappings_to_json(m, 2, &json, &err), 0);
	text = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text,
			    "[{\"containerPort\":80,\"hostPort\":8080,\"protocol\":\"tcp\"},"
			    "{\"containerPort\":53,\"hostIP\":\"127.0.0.1\",\"hostPort\":5353,\"protocol\":\"udp\"}]");
	json_decref(json);
	m[0].protocol = "icmp";
	assert_true(cni_port_mappings_to_json(m, 1, &json, &err) < 0);
	assert_string_equal(err->msg, "portMappings[0]: protocol \"icmp\" is not tcp, udp or sctp: Invalid argument");
	berth_error_free(&err);
}

/* ---- fake plugins: shell scripts that record what they were given ---- */

/* Writes plugin TYPE to W's bin: appends "TYPE COMMAND" to DIR/log, saves
 * stdin and the environment as DIR/TYPE.COMMAND.{in,env}, prints RESULT on
 * ADD and runs EXTRA (shell) last. */
static void fake_plugin(const struct world *w, const char *type, const char *result, const char *extra)
{
	_cleanup_free_ char *path = fs_path_join(w->bin, type);
	_cleanup_free_ char *script = NULL;

	assert_true(asprintf(&script,
			     "#!/bin/sh\n"
			     "d='%s'\n"
			     "echo \"%s $CNI_COMMAND\" >> \"$d/log\"\n"
			     "cat > \"$d/%s.$CNI_COMMAND.in\"\n"
			     "env > \"$d/%s.$CNI_COMMAND.env\"\n"
			     "if [ \"$CNI_COMMAND\" = ADD ]; then printf '%%s' '%s'; fi\n"
			     "%s\n",
			     w->dir, type, type, type, result, extra ? extra : "exit 0") > 0);
	write_text(path, script, 0755);
}

static json_t *recorded(const struct world *w, const char *type, const char *command)
{
	_cleanup_free_ char *name = NULL, *path = NULL, *text = NULL;
	assert_true(asprintf(&name, "%s.%s.in", type, command) > 0);
	path = path_in(w, name);
	text = read_text(path);
	assert_non_null(text);
	json_t *json = json_loads(text, 0, NULL);
	assert_non_null(json);
	return json;
}

static char *recorded_env(const struct world *w, const char *type, const char *command)
{
	_cleanup_free_ char *name = NULL, *path = NULL;
	assert_true(asprintf(&name, "%s.%s.env", type, command) > 0);
	path = path_in(w, name);
	return read_text(path);
}

static char *take_log(const struct world *w)
{
	_cleanup_free_ char *path = path_in(w, "log");
	char *text = read_text(path);
	unlink(path);
	return text ? text : strdup("");
}

#define RESULT1 "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"192.0.2.5/24\"}]}"
#define RESULT2                                                                                                        \
	"{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"02:00:00:00:00:01\",\"sandbox\":\"/"   \
	"x\"}],"                                                                                                       \
	"\"ips\":[{\"address\":\"192.0.2.5/24\",\"gateway\":\"192.0.2.1\",\"interface\":0}]}"

static void fake_world(struct world *w)
{
	fake_plugin(w, "rec1", RESULT1, NULL);
	fake_plugin(w, "rec2", RESULT2, NULL);
	w->rt.plugin_path = w->bin;
	w->rt.cni_args = "IgnoreUnknown=1;K8S_POD_NAME=p";
	w->rt.capability_args = json_pack("{s:[{s:i,s:i,s:s}], s:{s:i}}", "portMappings", "hostPort", 8080,
					  "containerPort", 80, "protocol", "tcp", "bandwidth", "ingressRate", 1000);
	assert_non_null(w->rt.capability_args);
}

static void test_fake_protocol(void **state)
{
	struct world *w = *state;
	_cleanup_free_ char *log = NULL, *env = NULL, *cache = NULL;
	json_t *result = NULL, *in;
	berth_error *err = NULL;
	cni_result_info info;

	fake_world(w);
	setenv("BERTH_TEST_LEAK", "secret", 1);
	w->net = parse_ok(
	    "{\"cniVersion\":\"1.0.0\",\"name\":\"fake\",\"plugins\":["
	    "{\"type\":\"rec1\",\"cniVersion\":\"0.3.1\",\"capabilities\":{\"portMappings\":true,\"mac\":true}},"
	    "{\"type\":\"rec2\",\"opt\":42}]}");
	if (cni_add(w->net, &w->rt, &result, &err) < 0)
		fail_msg("ADD: %s", err->msg);
	log = take_log(w);
	assert_string_equal(log, "rec1 ADD\nrec2 ADD\n");

	/* rec1: name and the list's cniVersion injected, only the declared
	 * capability that the caller supplied, no prevResult */
	in = recorded(w, "rec1", "ADD");
	assert_string_equal(json_string_value(json_object_get(in, "name")), "fake");
	assert_string_equal(json_string_value(json_object_get(in, "cniVersion")), "1.0.0");
	assert_null(json_object_get(in, "prevResult"));
	assert_int_equal(json_object_size(json_object_get(in, "runtimeConfig")), 1);
	assert_true(json_equal(json_object_get(json_object_get(in, "runtimeConfig"), "portMappings"),
			       json_object_get(w->rt.capability_args, "portMappings")));
	json_decref(in);
	/* rec2: rec1's result as prevResult, its own fields kept, no runtimeConfig */
	in = recorded(w, "rec2", "ADD");
	json_t *r1 = json_loads(RESULT1, 0, NULL);
	assert_true(json_equal(json_object_get(in, "prevResult"), r1));
	assert_int_equal(json_integer_value(json_object_get(in, "opt")), 42);
	assert_null(json_object_get(in, "runtimeConfig"));
	json_decref(r1);
	json_decref(in);

	/* a clean environment: the CNI variables and PATH, nothing of ours */
	env = recorded_env(w, "rec1", "ADD");
	assert_non_null(strstr(env, "CNI_COMMAND=ADD\n"));
	assert_non_null(strstr(env, "CNI_CONTAINERID=ctr1\n"));
	assert_non_null(strstr(env, "CNI_IFNAME=eth0\n"));
	assert_non_null(strstr(env, "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=p\n"));
	assert_non_null(strstr(env, "PATH=/usr/local/sbin:"));
	_cleanup_free_ char *want_ns = NULL, *want_path = NULL;
	assert_true(asprintf(&want_ns, "CNI_NETNS=%s\n", w->netns) > 0);
	assert_true(asprintf(&want_path, "CNI_PATH=%s\n", w->bin) > 0);
	assert_non_null(strstr(env, want_ns));
	assert_non_null(strstr(env, want_path));
	assert_null(strstr(env, "BERTH_TEST_LEAK"));

	/* the final result is rec2's */
	assert_int_equal(cni_result_get_info(result, "eth0", &info, &err), 0);
	assert_string_equal(info.ipv4, "192.0.2.5");
	assert_string_equal(info.mac, "02:00:00:00:00:01");
	cni_result_info_free(&info);

	/* cached: result, config, capability args */
	cache = path_in(w, "cache/results/fake:ctr1:eth0.json");
	struct stat st;
	assert_int_equal(stat(cache, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	json_t *cached = NULL;
	assert_int_equal(cni_cached_result(w->cache, "fake", "ctr1", "eth0", &cached, &err), 0);
	assert_true(json_equal(cached, result));
	json_decref(cached);

	/* CHECK: in order, with the cached result */
	assert_int_equal(cni_check(w->net, &w->rt, &err), 0);
	free(log);
	log = take_log(w);
	assert_string_equal(log, "rec1 CHECK\nrec2 CHECK\n");
	in = recorded(w, "rec1", "CHECK");
	assert_true(json_equal(json_object_get(in, "prevResult"), result));
	json_decref(in);

	/* "restart": the network file changed meanwhile, berth has nothing in
	 * memory; DEL runs the cached list, in reverse, with the cached result
	 * and capability args */
	cni_network *changed =
	    parse_ok("{\"cniVersion\":\"1.0.0\",\"name\":\"fake\",\"plugins\":[{\"type\":\"rec2\"}]}");
	json_decref(w->rt.capability_args);
	w->rt.capability_args = NULL;
	assert_int_equal(cni_del(changed, &w->rt, &err), 0);
	free(log);
	log = take_log(w);
	assert_string_equal(log, "rec2 DEL\nrec1 DEL\n");
	in = recorded(w, "rec1", "DEL");
	assert_true(json_equal(json_object_get(in, "prevResult"), result));
	assert_non_null(json_object_get(json_object_get(in, "runtimeConfig"), "portMappings"));
	json_decref(in);
	assert_false(exists(cache));

	/* DEL again: nothing cached, the (new) list runs without prevResult */
	assert_int_equal(cni_del(changed, &w->rt, &err), 0);
	free(log);
	log = take_log(w);
	assert_string_equal(log, "rec2 DEL\n");
	in = recorded(w, "rec2", "DEL");
	assert_null(json_object_get(in, "prevResult"));
	json_decref(in);
	/* CHECK with nothing cached is an error */
	assert_int_equal(cni_check(w->net, &w->rt, &err), -ENOENT);
	berth_error_free(&err);

	cni_network_free(changed);
	cni_network_free(w->net);
	w->net = NULL;
	json_decref(result);
	unsetenv("BERTH_TEST_LEAK");
}

static void test_fake_failure_rolls_back(void **state)
{
	struct world *w = *state;
	_cleanup_free_ char *log = NULL, *cache = NULL;
	json_t *result = NULL;
	berth_error *err = NULL;

	fake_world(w);
	fake_plugin(w, "fail", "",
		    "if [ \"$CNI_COMMAND\" = ADD ]; then echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"boom\","
		    "\"details\":\"the details\"}'; echo noise >&2; exit 1; fi");
	w->net = parse_ok("{\"cniVersion\":\"1.0.0\",\"name\":\"fake\",\"plugins\":["
			  "{\"type\":\"rec1\"},{\"type\":\"fail\"},{\"type\":\"rec2\"}]}");
	assert_int_equal(cni_add(w->net, &w->rt, &result, &err), -EIO);
	assert_null(result);
	assert_string_equal(err->msg,
			    "network \"fake\": plugin \"fail\" (plugins[1]) ADD: code 11: boom (the details)");
	berth_error_free(&err);
	log = take_log(w);
	assert_string_equal(log, "rec1 ADD\nfail ADD\nfail DEL\nrec1 DEL\n");
	/* the rollback's DEL gets what had been added so far */
	json_t *in = recorded(w, "fail", "DEL"), *r1 = json_loads(RESULT1, 0, NULL);
	assert_true(json_equal(json_object_get(in, "prevResult"), r1));
	json_decref(in);
	json_decref(r1);
	cache = path_in(w, "cache/results/fake:ctr1:eth0.json");
	assert_false(exists(cache));

	/* a plugin that prints no CNI error: its exit status and stderr */
	fake_plugin(w, "fail", "", "echo 'it broke' >&2; exit 3");
	assert_int_equal(cni_add(w->net, &w->rt, &result, &err), -EIO);
	/* it fails its DEL too: the ADD error stays the cause, the rollback's is added */
	assert_string_equal(err->msg,
			    "network \"fake\": plugin \"fail\" (plugins[1]) ADD: exited with status 3: it broke"
			    " (and rolling back failed: network \"fake\": plugin \"fail\" (plugins[1]) DEL: exited"
			    " with status 3: it broke)");
	berth_error_free(&err);
	/* the rollback went on past the failing DEL */
	free(log);
	log = take_log(w);
	assert_string_equal(log, "rec1 ADD\nfail ADD\nfail DEL\nrec1 DEL\n");
	fake_plugin(w, "fail", "", NULL);

	/* a plugin that is not there */
	cni_network_free(w->net);
	w->net = parse_ok(
	    "{\"cniVersion\":\"1.0.0\",\"name\":\"fake\",\"plugins\":[{\"type\":\"rec1\"},{\"type\":\"nosuch\"}]}");
	free(take_log(w));
	assert_int_equal(cni_add(w->net, &w->rt, &result, &err), -ENOENT);
	_cleanup_free_ char *want = NULL;
	assert_true(
	    asprintf(&want,
		     "network \"fake\": plugin \"nosuch\" (plugins[1]): not found in CNI_PATH \"%s\": No such file "
		     "or directory",
		     w->bin) > 0);
	assert_string_equal(err->msg, want);
	berth_error_free(&err);
	free(log);
	log = take_log(w);
	assert_string_equal(log, "rec1 ADD\nrec1 DEL\n");
	cni_network_free(w->net);
	w->net = NULL;
}

static void test_fake_timeout(void **state)
{
	struct world *w = *state;
	json_t *result = NULL;
	berth_error *err = NULL;
	struct timespec a, b;

	fake_world(w);
	fake_plugin(w, "slow", "", "exec sleep 30");
	w->rt.timeout_seconds = 1;
	w->net = parse_ok("{\"cniVersion\":\"1.0.0\",\"name\":\"fake\",\"plugins\":[{\"type\":\"slow\"}]}");
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(cni_add(w->net, &w->rt, &result, &err), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	/* ADD and its rollback DEL: a second each, not 30 */
	assert_true(b.tv_sec - a.tv_sec < 5);
	assert_non_null(strstr(err->msg, "network \"fake\": plugin \"slow\" (plugins[0]) ADD: timed out, killed"));
	berth_error_free(&err);
	cni_network_free(w->net);
	w->net = NULL;
}

/* A plugin that never reads a config larger than the pipe buffer: its
 * result counts, and SIGPIPE does not kill the caller. */
static void test_fake_plugin_ignores_stdin(void **state)
{
	struct world *w = *state;
	_cleanup_free_ char *deaf = fs_path_join(w->bin, "deaf"), *text = NULL, *pad = malloc(300001);
	json_t *result = NULL;
	berth_error *err = NULL;

	fake_world(w);
	write_text(deaf, "#!/bin/sh\nprintf '%s' '" RESULT1 "'\n", 0755);
	assert_non_null(pad);
	memset(pad, 'x', 300000);
	pad[300000] = '\0';
	assert_true(
	    asprintf(&text,
		     "{\"cniVersion\":\"1.0.0\",\"name\":\"fake\",\"plugins\":[{\"type\":\"deaf\",\"pad\":\"%s\"}]}",
		     pad) > 0);
	w->net = parse_ok(text);
	if (cni_add(w->net, &w->rt, &result, &err) < 0)
		fail_msg("ADD: %s", err->msg);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(json_object_get(result, "ips"), 0), "address")),
	    "192.0.2.5/24");
	json_decref(result);
}

static void test_version_gates_check(void **state)
{
	struct world *w = *state;
	json_t *result = NULL;
	berth_error *err = NULL;

	fake_world(w);
	w->net = parse_ok(
	    "{\"cniVersion\":\"0.3.1\",\"name\":\"old\",\"plugins\":[{\"type\":\"rec1\"},{\"type\":\"rec2\"}]}");
	assert_int_equal(cni_add(w->net, &w->rt, &result, &err), 0);
	assert_int_equal(cni_check(w->net, &w->rt, &err), -ENOTSUP);
	assert_string_equal(
	    err->msg, "network \"old\": CHECK needs cniVersion 0.4.0 or later, not 0.3.1: Operation not supported");
	berth_error_free(&err);
	json_decref(result);
	/* bad ids never reach a plugin or a file name */
	cni_runtime bad = w->rt;
	bad.container_id = "../x";
	assert_int_equal(cni_add(w->net, &bad, &result, &err), -EINVAL);
	berth_error_free(&err);
	bad = w->rt;
	bad.ifname = "eth0:1";
	assert_int_equal(cni_del(w->net, &bad, &err), -EINVAL);
	berth_error_free(&err);
}

/* ---- the Debian plugins ---- */

static char *real_conflist(const struct world *w, const char *name, const char *bridge, const char *subnet,
			   const char *more_plugins)
{
	char *text = NULL;
	assert_true(
	    asprintf(&text,
		     "{\"cniVersion\":\"1.0.0\",\"name\":\"%s\",\"plugins\":["
		     "{\"type\":\"bridge\",\"bridge\":\"%s\",\"isGateway\":true,\"ipMasq\":true,\"hairpinMode\":true,"
		     "\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s\",\"ranges\":[[{\"subnet\":\"%s\"}]],"
		     "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}%s]}",
		     name, bridge, w->ipam, subnet, more_plugins) > 0);
	return text;
}

/* Leases host-local holds for network NAME (files named like addresses). */
static int count_leases(const struct world *w, const char *name)
{
	_cleanup_free_ char *dir = fs_path_join(w->ipam, name);
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	unsigned char buf[16];

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (inet_pton(AF_INET, e->d_name, buf) == 1)
			n++;
	return n;
}

static void test_real_bridge_portmap(void **state)
{
	struct world *w = *state;
	_cleanup_free_ char *text = NULL, *cache = NULL, *lease = NULL, *mac = NULL;
	_cleanup_close_ int listener = -EBADF;
	json_t *result = NULL;
	berth_error *err = NULL;
	cni_result_info info;
	cni_port_mapping port = { 18080, 8080, "tcp", NULL };
	struct timespec a, b;
	int veths = count_veths();

	text = real_conflist(w, "berthtest1", "berthbr1", "10.231.1.0/24",
			     ",{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}},"
			     "{\"type\":\"firewall\"},"
			     "{\"type\":\"tuning\",\"sysctl\":{\"net.ipv4.conf.eth0.rp_filter\":\"2\"}}");
	w->net = parse_ok(text);
	assert_int_equal(cni_port_mappings_to_json(&port, 1, &result, &err), 0);
	w->rt.capability_args = json_pack("{s:o}", "portMappings", result);
	result = NULL;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (cni_add(w->net, &w->rt, &result, &err) < 0)
		fail_msg("ADD: %s", err->msg);
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "# ADD bridge+portmap+firewall+tuning: %.1f ms\n",
		(b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);

	/* the result and what it says is there */
	assert_string_equal(json_string_value(json_object_get(result, "cniVersion")), "1.0.0");
	assert_int_equal(cni_result_get_info(result, "eth0", &info, &err), 0);
	assert_non_null(info.ipv4);
	assert_int_equal(strncmp(info.ipv4, "10.231.1.", 9), 0);
	assert_int_equal(info.ipv4_prefix, 24);
	assert_string_equal(info.ipv4_gateway, "10.231.1.1");
	assert_true(has_interface(w->netns, "eth0", info.ipv4));
	mac = mac_in_netns(w->netns, "eth0");
	assert_non_null(mac);
	assert_string_equal(info.mac, mac);
	assert_int_equal(count_veths(), veths + 1);
	assert_true(has_interface(NULL, "berthbr1", "10.231.1.1"));
	lease = fs_path_join(w->ipam, "berthtest1");
	assert_int_equal(count_leases(w, "berthtest1"), 1);
	cache = path_in(w, "cache/results/berthtest1:ctr1:eth0.json");
	assert_true(exists(cache));

	/* CHECK: portmap 1.1.1 fails it for an IPv4-only container, looking
	 * for an ip6tables chain it never made (containernetworking/plugins
	 * issue 819, fixed upstream later); anything else is a failure here.
	 * test_real_check covers CHECK without portmap. */
	if (cni_check(w->net, &w->rt, &err) < 0) {
		fprintf(stderr, "# CHECK with portmap: %s\n", err->msg);
		assert_non_null(
		    strstr(err->msg, "plugin \"portmap\" (plugins[1]) CHECK: code 999: could not check ipv6 dnat"));
		berth_error_free(&err);
	}

	/* traffic: to the container directly, and through the published port */
	listener = listen_in_netns(w->netns, 8080);
	assert_int_equal(tcp_reaches(info.ipv4, 8080, listener), 0);
	int through_portmap = tcp_reaches("10.231.1.1", 18080, listener);
	if (through_portmap != 0)
		fail_msg("connect to host port 10.231.1.1:18080 (portmap): %s", strerror(-through_portmap));

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (cni_del(w->net, &w->rt, &err) < 0)
		fail_msg("DEL: %s", err->msg);
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "# DEL bridge+portmap+firewall+tuning: %.1f ms\n",
		(b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
	assert_false(has_interface(w->netns, "eth0", NULL));
	assert_int_equal(count_veths(), veths);
	assert_int_equal(count_leases(w, "berthtest1"), 0);
	assert_false(exists(cache));
	/* the published port is gone with the DNAT rule */
	assert_int_equal(tcp_reaches("10.231.1.1", 18080, -1), -ECONNREFUSED);

	/* DEL again: succeeds quietly */
	if (cni_del(w->net, &w->rt, &err) < 0)
		fail_msg("second DEL: %s", err->msg);
	cni_result_info_free(&info);
	json_decref(result);
	cni_network_free(w->net);
	w->net = NULL;
}

static void test_real_check(void **state)
{
	struct world *w = *state;
	_cleanup_free_ char *text = NULL, *lease = NULL;
	json_t *result = NULL;
	berth_error *err = NULL;
	cni_result_info info;

	text = real_conflist(w, "berthtest3", "berthbr3", "10.231.3.0/24",
			     ",{\"type\":\"firewall\"},{\"type\":\"tuning\",\"mtu\":1400}");
	w->net = parse_ok(text);
	if (cni_add(w->net, &w->rt, &result, &err) < 0)
		fail_msg("ADD: %s", err->msg);
	if (cni_check(w->net, &w->rt, &err) < 0)
		fail_msg("CHECK: %s", err->msg);
	/* take the lease away behind host-local's back: CHECK must see it */
	assert_int_equal(cni_result_get_info(result, "eth0", &info, &err), 0);
	assert_true(asprintf(&lease, "%s/berthtest3/%s", w->ipam, info.ipv4) > 0);
	assert_int_equal(unlink(lease), 0);
	assert_true(cni_check(w->net, &w->rt, &err) < 0);
	fprintf(stderr, "# expected CHECK failure: %s\n", err->msg);
	assert_non_null(strstr(err->msg, "network \"berthtest3\": plugin \"bridge\" (plugins[0]) CHECK: "));
	berth_error_free(&err);
	if (cni_del(w->net, &w->rt, &err) < 0)
		fail_msg("DEL: %s", err->msg);
	assert_false(has_interface(w->netns, "eth0", NULL));
	cni_result_info_free(&info);
	json_decref(result);
	cni_network_free(w->net);
	w->net = NULL;
}

static void test_real_failure_leaves_nothing(void **state)
{
	struct world *w = *state;
	_cleanup_free_ char *text = NULL, *cache = NULL;
	json_t *result = NULL;
	berth_error *err = NULL;
	int veths = count_veths();

	/* tuning cannot parse its MAC: bridge and host-local must be undone */
	text =
	    real_conflist(w, "berthtest2", "berthbr2", "10.231.2.0/24", ",{\"type\":\"tuning\",\"mac\":\"not-a-mac\"}");
	w->net = parse_ok(text);
	assert_true(cni_add(w->net, &w->rt, &result, &err) < 0);
	assert_null(result);
	fprintf(stderr, "# expected failure: %s\n", err->msg);
	assert_non_null(strstr(err->msg, "network \"berthtest2\": plugin \"tuning\" (plugins[1]) ADD: code "));
	assert_non_null(strstr(err->msg, "not-a-mac"));
	assert_null(strstr(err->msg, "rolling back failed"));
	berth_error_free(&err);
	assert_false(has_interface(w->netns, "eth0", NULL));
	assert_int_equal(count_veths(), veths);
	assert_int_equal(count_leases(w, "berthtest2"), 0);
	cache = path_in(w, "cache/results/berthtest2:ctr1:eth0.json");
	assert_false(exists(cache));
	cni_network_free(w->net);
	w->net = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conflist_errors),
		cmocka_unit_test(test_result_info),
		cmocka_unit_test(test_port_mappings_json),
		cmocka_unit_test_setup_teardown(test_single_conf_and_load, setup_world, teardown_world),
		cmocka_unit_test_setup_teardown(test_fake_protocol, setup_world, teardown_world),
		cmocka_unit_test_setup_teardown(test_fake_failure_rolls_back, setup_world, teardown_world),
		cmocka_unit_test_setup_teardown(test_fake_timeout, setup_world, teardown_world),
		cmocka_unit_test_setup_teardown(test_fake_plugin_ignores_stdin, setup_world, teardown_world),
		cmocka_unit_test_setup_teardown(test_version_gates_check, setup_world, teardown_world),
		cmocka_unit_test_setup_teardown(test_real_bridge_portmap, setup_world, teardown_world),
		cmocka_unit_test_setup_teardown(test_real_check, setup_world, teardown_world),
		cmocka_unit_test_setup_teardown(test_real_failure_leaves_nothing, setup_world, teardown_world),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "# skipped: needs root (network namespaces)\n");
		return 77;
	}
	/* never the host's network, rules or mounts */
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "# skipped: unshare/mount: %s\n", strerror(errno));
		return 77;
	}
	if (access(REAL_PLUGINS "/bridge", X_OK) < 0) {
		fprintf(stderr, "# skipped: no CNI plugins in " REAL_PLUGINS "\n");
		return 77;
	}
	link_up("lo");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
