/* network/service: the pure parts (spec and endpoint validation, ClusterIP
 * allocation, the nftables plan from stale states to a new one, the record
 * JSON), then the library against the kernel in a network namespace of the
 * test's own (root only; skipped otherwise): apply, set endpoints, a kill
 * between record and transaction, node port claims against -p, remove. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
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
#include "network/nft.h"
#include "network/service.h"
#include "util/cleanup.h"
#include "util/fs.h"

static service_spec spec_of(const char *name, int proto, uint16_t port, uint16_t target)
{
	service_spec s;

	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "%s", name);
	s.n_ports = 1;
	s.ports[0].proto = proto;
	s.ports[0].port = port;
	s.ports[0].target_port = target;
	return s;
}

static void expect_invalid(const service_spec *s, const char *needle)
{
	berth_error *err = NULL;

	assert_int_equal(service_spec_validate(s, &err), -EINVAL);
	assert_non_null(strstr(err->msg, needle));
	berth_error_free(&err);
}

static void test_spec_validate(void **state)
{
	service_spec s = spec_of("web.default", IPPROTO_TCP, 80, 8080);
	berth_error *err = NULL;

	(void)state;
	assert_int_equal(service_spec_validate(&s, &err), 0);
	s = spec_of("Web", IPPROTO_TCP, 80, 0);
	expect_invalid(&s, "a name is");
	s = spec_of("web-", IPPROTO_TCP, 80, 0);
	expect_invalid(&s, "a name is");
	s = spec_of("a..b", IPPROTO_TCP, 80, 0);
	expect_invalid(&s, "a name is");
	s = spec_of("web", IPPROTO_TCP, 0, 0);
	expect_invalid(&s, "port 0");
	s = spec_of("web", IPPROTO_ICMP, 80, 0);
	expect_invalid(&s, "neither TCP nor UDP");
	s = spec_of("web", IPPROTO_TCP, 80, 0);
	s.n_ports = 0;
	expect_invalid(&s, "1 to 16 ports");
	/* two ports: each named, not the same twice */
	s = spec_of("web", IPPROTO_TCP, 80, 0);
	s.n_ports = 2;
	s.ports[1] = s.ports[0];
	snprintf(s.ports[0].name, sizeof(s.ports[0].name), "http");
	snprintf(s.ports[1].name, sizeof(s.ports[1].name), "alt");
	expect_invalid(&s, "tcp/80 given twice");
	s.ports[1].proto = IPPROTO_UDP; /* tcp/80 and udp/80: fine */
	assert_int_equal(service_spec_validate(&s, &err), 0);
	s.ports[1].name[0] = '\0';
	expect_invalid(&s, "names each");
	/* node ports */
	s = spec_of("web", IPPROTO_TCP, 80, 0);
	s.ports[0].node_port = 30080;
	expect_invalid(&s, "without NodePort");
	s.node_ports = true;
	assert_int_equal(service_spec_validate(&s, &err), 0);
	s.ports[0].node_port = 8080;
	expect_invalid(&s, "not in 30000-32767");
	/* ClusterIP inside the range, not its network or broadcast address */
	s = spec_of("web", IPPROTO_TCP, 80, 0);
	snprintf(s.cluster_ip, sizeof(s.cluster_ip), "10.97.0.1");
	expect_invalid(&s, "is not a host of 10.96.0.0/16");
	snprintf(s.cluster_ip, sizeof(s.cluster_ip), "10.96.255.255");
	expect_invalid(&s, "is not a host of");
	snprintf(s.cluster_ip, sizeof(s.cluster_ip), "10.96.3.4");
	assert_int_equal(service_spec_validate(&s, &err), 0);
	s.affinity_timeout = 90000;
	expect_invalid(&s, "over 86400");
}

static void test_endpoints_validate(void **state)
{
	service_spec s = spec_of("web", IPPROTO_TCP, 80, 0);
	service_endpoint eps[3] = { { .ip = "10.77.0.2" }, { .ip = "10.77.0.3" }, { .ip = "10.77.0.2" } };
	berth_error *err = NULL;

	(void)state;
	assert_int_equal(service_endpoints_validate(&s, eps, 2, &err), 0);
	assert_int_equal(service_endpoints_validate(&s, eps, 3, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "endpoint 10.77.0.2 given twice"));
	berth_error_free(&err);
	snprintf(eps[1].ip, sizeof(eps[1].ip), "fd00::1");
	assert_int_equal(service_endpoints_validate(&s, eps, 2, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "not an IPv4 address"));
	berth_error_free(&err);
}

static void test_vip_next(void **state)
{
	const char *used[] = { "10.96.0.1", "10.96.0.3" };
	const char *full[] = { "192.168.1.1", "192.168.1.2" };
	char out[INET_ADDRSTRLEN];
	berth_error *err = NULL;

	(void)state;
	assert_int_equal(service_vip_next(SERVICE_RANGE, NULL, 0, out, &err), 0);
	assert_string_equal(out, "10.96.0.1");
	assert_int_equal(service_vip_next(SERVICE_RANGE, used, 2, out, &err), 0);
	assert_string_equal(out, "10.96.0.2");
	assert_int_equal(service_vip_next(SERVICE_RANGE, used, 1, out, &err), 0);
	assert_string_equal(out, "10.96.0.2");
	/* a /30 has two hosts; both used: none left */
	assert_int_equal(service_vip_next("192.168.1.0/30", full, 1, out, &err), 0);
	assert_string_equal(out, "192.168.1.2");
	assert_int_equal(service_vip_next("192.168.1.0/30", full, 2, out, &err), -ENOSPC);
	berth_error_free(&err);
	assert_int_equal(service_vip_next("nonsense", NULL, 0, out, &err), -EINVAL);
	berth_error_free(&err);
	assert_true(service_range_contains(SERVICE_RANGE, "10.96.200.1"));
	assert_false(service_range_contains(SERVICE_RANGE, "10.97.0.1"));
}

/* A service in memory: SPEC with the endpoint addresses IPS. */
static service make(const service_spec *spec, const char *cluster_ip, const char *const *ips, size_t n)
{
	service s = { .spec = *spec };

	snprintf(s.spec.cluster_ip, sizeof(s.spec.cluster_ip), "%s", cluster_ip);
	s.endpoints = n ? calloc(n, sizeof(*s.endpoints)) : NULL;
	for (size_t i = 0; i < n; i++)
		snprintf(s.endpoints[i].ip, sizeof(s.endpoints[i].ip), "%s", ips[i]);
	s.n_endpoints = n;
	return s;
}

static char *plan(const service *const *stale, size_t n, const service *new)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(service_plan(f, stale, n, new), 0);
	fclose(f);
	return text;
}

static void test_plan(void **state)
{
	const char *three[] = { "10.77.0.2", "10.77.0.3", "10.77.0.4" };
	service_spec sp = spec_of("web", IPPROTO_TCP, 80, 8080);
	service a = make(&sp, "10.96.0.1", three, 3), b = make(&sp, "10.96.0.1", three, 2), none;
	const service *stale[1] = { &a };
	_cleanup_free_ char *create = NULL, *shrink = NULL, *removal = NULL, *empty = NULL, *aff = NULL;

	(void)state;
	create = plan(NULL, 0, &a);
	assert_non_null(
	    strstr(create, "add element inet berth service_ips { 10.96.0.1 . tcp . 80 : goto svc-web-tcp-80 }"));
	assert_non_null(strstr(create, "add element inet berth service_vips { 10.96.0.1 }"));
	assert_non_null(strstr(create, "add rule inet berth svc-web-tcp-80 numgen random mod 3 vmap { "
				       "0 : goto ep-web-tcp-80-0a4d0002, 1 : goto ep-web-tcp-80-0a4d0003, "
				       "2 : goto ep-web-tcp-80-0a4d0004 }"));
	assert_non_null(
	    strstr(create, "add rule inet berth ep-web-tcp-80-0a4d0003 meta l4proto tcp dnat ip to 10.77.0.3:8080"));
	assert_null(strstr(create, "delete"));
	assert_null(strstr(create, "aff-"));
	assert_null(strstr(create, "np-"));

	/* one endpoint leaves: its chain goes, after the service chain no longer
	 * points at it; nothing else is deleted */
	shrink = plan(stale, 1, &b);
	assert_non_null(strstr(shrink, "numgen random mod 2 vmap"));
	assert_non_null(strstr(shrink, "delete chain inet berth ep-web-tcp-80-0a4d0004\n"));
	assert_null(strstr(shrink, "delete chain inet berth ep-web-tcp-80-0a4d0002"));
	assert_null(strstr(shrink, "delete element"));
	assert_true(strstr(shrink, "flush chain inet berth svc-web-tcp-80") <
		    strstr(shrink, "delete chain inet berth ep-web-tcp-80-0a4d0004"));

	/* removal: every element added (so it exists) then deleted, every chain
	 * declared, flushed, deleted */
	removal = plan(stale, 1, NULL);
	assert_non_null(strstr(removal,
			       "add element inet berth service_ips { 10.96.0.1 . tcp . 80 : goto svc-web-tcp-80 }\n"
			       "delete element inet berth service_ips { 10.96.0.1 . tcp . 80 }\n"));
	assert_non_null(strstr(removal, "add chain inet berth ep-web-tcp-80-0a4d0004\n"));
	assert_non_null(strstr(removal, "delete chain inet berth svc-web-tcp-80\n"));
	assert_null(strstr(removal, "add rule inet berth svc-web-tcp-80"));

	/* no endpoints: the service chain is empty (the filter chains reject) */
	none = make(&sp, "10.96.0.1", NULL, 0);
	empty = plan(stale, 1, &none);
	assert_null(strstr(empty, "numgen"));
	assert_null(strstr(empty, "dnat ip to"));
	assert_non_null(strstr(empty, "add element inet berth service_vips { 10.96.0.1 }"));
	assert_non_null(strstr(empty, "svc_reject meta l4proto tcp reject with tcp reset"));

	/* ClientIP affinity and a node port */
	sp.affinity_timeout = 600;
	sp.node_ports = true;
	sp.ports[0].node_port = 30080;
	service_clear(&b);
	b = make(&sp, "10.96.0.1", three, 1);
	aff = plan(NULL, 0, &b);
	assert_non_null(
	    strstr(aff, "add set inet berth aff-web-tcp-80-0a4d0002 { type ipv4_addr; flags dynamic,timeout; }"));
	assert_non_null(strstr(
	    aff, "add rule inet berth svc-web-tcp-80 ip saddr @aff-web-tcp-80-0a4d0002 goto ep-web-tcp-80-0a4d0002"));
	assert_non_null(strstr(aff, "update @aff-web-tcp-80-0a4d0002 { ip saddr timeout 600s }"));
	assert_non_null(strstr(aff, "add rule inet berth svc-web-tcp-80 goto ep-web-tcp-80-0a4d0002"));
	assert_non_null(
	    strstr(aff, "add element inet berth service_nodeports { tcp . 30080 : goto np-web-tcp-30080 }"));
	assert_non_null(strstr(aff, "add rule inet berth np-web-tcp-30080 goto svc-web-tcp-80"));
	service_clear(&a);
	service_clear(&b);
	service_clear(&none);
}

/* A backend that lacks port 1 (a named targetPort its pod does not
 * declare) serves port 0 only: port 1 balances over the others, and when it
 * loses a port it served, that port's chain of it goes. */
static void test_plan_per_port(void **state)
{
	const char *three[] = { "10.77.0.2", "10.77.0.3", "10.77.0.4" };
	service_spec sp = spec_of("web", IPPROTO_TCP, 80, 8080);
	service all, partial;
	const service *stale[1];
	_cleanup_free_ char *text = NULL, *shrink = NULL;

	(void)state;
	sp.n_ports = 2;
	snprintf(sp.ports[0].name, sizeof(sp.ports[0].name), "web");
	snprintf(sp.ports[1].name, sizeof(sp.ports[1].name), "metrics");
	sp.ports[1].proto = IPPROTO_TCP;
	sp.ports[1].port = 9090;
	all = make(&sp, "10.96.0.1", three, 3);
	partial = make(&sp, "10.96.0.1", three, 3);
	partial.endpoints[1].absent = 1u << 1;
	assert_true(service_endpoint_serves(&partial.endpoints[1], 0));
	assert_false(service_endpoint_serves(&partial.endpoints[1], 1));
	text = plan(NULL, 0, &partial);
	assert_non_null(strstr(text, "svc-web-tcp-80 numgen random mod 3 vmap"));
	assert_non_null(strstr(text, "add rule inet berth svc-web-tcp-9090 numgen random mod 2 vmap { "
				     "0 : goto ep-web-tcp-9090-0a4d0002, 1 : goto ep-web-tcp-9090-0a4d0004 }"));
	assert_null(strstr(text, "ep-web-tcp-9090-0a4d0003"));
	assert_non_null(strstr(text, "ep-web-tcp-80-0a4d0003 meta l4proto tcp dnat ip to 10.77.0.3:8080"));
	stale[0] = &all;
	shrink = plan(stale, 1, &partial);
	assert_non_null(strstr(shrink, "delete chain inet berth ep-web-tcp-9090-0a4d0003\n"));
	assert_null(strstr(shrink, "delete chain inet berth ep-web-tcp-80-0a4d0003"));
	service_clear(&all);
	service_clear(&partial);
}

static void test_json(void **state)
{
	const char *two[] = { "10.77.0.2", "10.77.0.9" };
	service_spec sp = spec_of("dns.kube-system", IPPROTO_UDP, 53, 5353);
	service a, back;
	berth_error *err = NULL;
	json_t *j;

	(void)state;
	sp.node_ports = true;
	sp.ports[0].node_port = 31000;
	sp.affinity_timeout = 10;
	snprintf(sp.owner, sizeof(sp.owner), "store:/x");
	a = make(&sp, "10.96.0.7", two, 2);
	a.endpoints[1].target_ports[0] = 53;
	a.endpoints[0].absent = 1u << 0;
	j = service_to_json(&a);
	assert_int_equal(service_from_json(j, &back, &err), 0);
	json_decref(j);
	assert_string_equal(back.spec.name, "dns.kube-system");
	assert_string_equal(back.spec.cluster_ip, "10.96.0.7");
	assert_string_equal(back.spec.owner, "store:/x");
	assert_true(back.spec.node_ports);
	assert_int_equal(back.spec.affinity_timeout, 10);
	assert_int_equal(back.spec.ports[0].proto, IPPROTO_UDP);
	assert_int_equal(back.spec.ports[0].target_port, 5353);
	assert_int_equal(back.spec.ports[0].node_port, 31000);
	assert_int_equal(back.n_endpoints, 2);
	assert_string_equal(back.endpoints[1].ip, "10.77.0.9");
	assert_int_equal(back.endpoints[1].target_ports[0], 53);
	assert_int_equal(back.endpoints[0].target_ports[0], 0);
	assert_false(service_endpoint_serves(&back.endpoints[0], 0));
	assert_true(service_endpoint_serves(&back.endpoints[1], 0));
	service_clear(&a);
	service_clear(&back);
}

/* ---- against the kernel, in a network namespace of the test's own ---- */

typedef struct scratch {
	char *dir;
	hostnet h;
} scratch;

static int kernel_setup(void **state)
{
	char tmpl[] = "/tmp/berth-test-service.XXXXXX";
	scratch *s;
	berth_error *err = NULL;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		*state = NULL;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || mkdtemp(tmpl) == NULL)
		return -1;
	s->dir = strdup(tmpl);
	if (hostnet_open(s->dir, &s->h, &err) < 0) {
		berth_error_free(&err);
		return -1;
	}
	*state = s;
	return 0;
}

static int kernel_teardown(void **state)
{
	scratch *s = *state;
	berth_error *err = NULL;

	if (s == NULL)
		return 0;
	hostnet_close(&s->h);
	fs_remove_tree(s->dir, &err);
	berth_error_free(&err);
	free(s->dir);
	free(s);
	return 0;
}

/* `nft list table inet berth` (empty when there is none). */
static char *ruleset(void)
{
	FILE *p = popen("nft list table inet berth 2>/dev/null", "r");
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	char buf[4096];
	size_t n;

	while (p && (n = fread(buf, 1, sizeof(buf), p)) > 0)
		fwrite(buf, 1, n, out);
	if (p)
		pclose(p);
	fclose(out);
	return text;
}

static bool file_exists(scratch *s, const char *name)
{
	return faccessat(s->h.dirfd, name, F_OK, 0) == 0;
}

static void test_kernel(void **state)
{
	scratch *s = *state;
	service_spec sp = spec_of("web", IPPROTO_TCP, 80, 8080), other = spec_of("api", IPPROTO_TCP, 80, 0);
	service_endpoint eps[3] = { { .ip = "10.77.0.2" }, { .ip = "10.77.0.3" }, { .ip = "10.77.0.4" } };
	struct nft_port publish = {
		.proto = IPPROTO_TCP, .host_port = 30000, .container_ip = "10.77.0.9", .container_port = 80
	};
	berth_error *err = NULL;
	service out = { 0 };
	char *text;

	if (s == NULL)
		skip();
	snprintf(sp.owner, sizeof(sp.owner), "store:/a");
	sp.node_ports = true;
	assert_int_equal(service_apply(&s->h, &sp, &out, &err), 0);
	assert_string_equal(out.spec.cluster_ip, "10.96.0.1");
	assert_int_equal(out.spec.ports[0].node_port, 30000); /* the first free one */
	service_clear(&out);
	assert_true(file_exists(s, "services/web.json"));
	assert_true(file_exists(s, "ports/tcp_*_30000"));

	/* the node port is the service's: -p cannot have it */
	assert_int_equal(hostnet_ports_publish(&s->h, "c1", &publish, 1, &err), -EEXIST);
	assert_non_null(strstr(err->msg, "already the node port of service web"));
	berth_error_free(&err);
	/* a check before an apply sees who holds it, on any address */
	{
		char holder[80];
		assert_int_equal(hostnet_port_holder(&s->h, IPPROTO_TCP, 30000, NULL, holder, sizeof(holder)), 1);
		assert_string_equal(holder, "service:web");
		assert_int_equal(hostnet_port_holder(&s->h, IPPROTO_TCP, 30000, "service:web", holder, sizeof(holder)),
				 0);
		assert_int_equal(hostnet_port_holder(&s->h, IPPROTO_UDP, 30000, NULL, holder, sizeof(holder)), 0);
		assert_int_equal(hostnet_port_holder(&s->h, IPPROTO_TCP, 3000, NULL, holder, sizeof(holder)), 0);
	}

	/* another owner's name; another service gets the next ClusterIP */
	snprintf(other.name, sizeof(other.name), "web");
	snprintf(other.owner, sizeof(other.owner), "store:/b");
	assert_true(service_apply(&s->h, &other, NULL, &err) < 0);
	assert_int_equal(err->code, EEXIST);
	assert_non_null(strstr(err->msg, "belongs to store:/a"));
	berth_error_free(&err);
	snprintf(other.name, sizeof(other.name), "api");
	assert_int_equal(service_apply(&s->h, &other, &out, &err), 0);
	assert_string_equal(out.spec.cluster_ip, "10.96.0.2");
	service_clear(&out);

	assert_int_equal(service_set_endpoints(&s->h, "web", "store:/a", eps, 3, &err), 0);
	text = ruleset();
	assert_non_null(strstr(text, "numgen random mod 3 vmap"));
	assert_non_null(strstr(text, "dnat ip to 10.77.0.4:8080"));
	assert_non_null(strstr(text, "tcp . 30000 : goto np-web-tcp-30000"));
	free(text);
	assert_int_equal(service_set_endpoints(&s->h, "web", "store:/a", eps, 2, &err), 0);
	text = ruleset();
	assert_non_null(strstr(text, "numgen random mod 2 vmap"));
	assert_null(strstr(text, "10.77.0.4"));
	free(text);
	assert_true(service_set_endpoints(&s->h, "web", "store:/b", eps, 1, &err) < 0);
	assert_int_equal(err->code, EEXIST);
	berth_error_free(&err);
	assert_true(service_set_endpoints(&s->h, "nothere", NULL, eps, 1, &err) < 0);
	assert_int_equal(err->code, ENOENT);
	berth_error_free(&err);

	/* a command killed after writing its record, before the transaction:
	 * the record names a state the kernel never got (and the one it has) */
	{
		char rec[] = "{\"Name\":\"web\",\"Owner\":\"store:/a\",\"OwnerPath\":\"\",\"ClusterIP\":\"10.96.0.1\","
			     "\"Type\":\"NodePort\",\"AffinityTimeout\":600,\"Ports\":[{\"Name\":\"\",\"Protocol\":"
			     "\"tcp\",\"Port\":81,\"TargetPort\":81,\"NodePort\":30000}],\"Endpoints\":[{\"IP\":"
			     "\"10.77.0.7\"}],\"Stale\":[{\"Name\":\"web\",\"Owner\":\"store:/a\",\"ClusterIP\":"
			     "\"10.96.0.1\",\"Type\":\"NodePort\",\"AffinityTimeout\":0,\"Ports\":[{\"Protocol\":"
			     "\"tcp\",\"Port\":80,\"TargetPort\":8080,\"NodePort\":30000}],\"Endpoints\":[{\"IP\":"
			     "\"10.77.0.2\"},{\"IP\":\"10.77.0.3\"}]}]}";
		_cleanup_close_ int dfd = openat(s->h.dirfd, "services", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_int_equal(fs_write_file_replace(dfd, "web.json", rec, strlen(rec), 0600, &err), 0);
	}
	/* removing finds all of it (what exists and what never did) */
	assert_int_equal(service_remove(&s->h, "web", "store:/a", &err), 0);
	assert_false(file_exists(s, "services/web.json"));
	assert_false(file_exists(s, "ports/tcp_*_30000"));
	text = ruleset();
	assert_null(strstr(text, "-web-"));
	assert_non_null(strstr(text, "svc-api-tcp-80")); /* the other service stays */
	free(text);
	assert_true(service_remove(&s->h, "web", NULL, &err) < 0);
	assert_int_equal(err->code, ENOENT);
	berth_error_free(&err);

	/* a service whose owner (a store) is gone is swept */
	{
		_cleanup_free_ char *owner_dir = fs_path_join(s->dir, "store");
		service_spec gone = spec_of("orphan", IPPROTO_UDP, 53, 0);
		assert_int_equal(mkdir(owner_dir, 0700), 0);
		snprintf(gone.owner_path, sizeof(gone.owner_path), "%s", owner_dir);
		assert_int_equal(service_apply(&s->h, &gone, NULL, &err), 0);
		assert_int_equal(service_sweep(&s->h), 0);
		assert_int_equal(rmdir(owner_dir), 0);
		assert_int_equal(service_sweep(&s->h), 1);
		assert_false(file_exists(s, "services/orphan.json"));
	}

	/* the port is free for -p now; the last service takes the table along */
	assert_int_equal(hostnet_port_claim(&s->h, "c1", IPPROTO_TCP, 30000, &err), 0);
	hostnet_port_release(&s->h, "c1", IPPROTO_TCP, 30000);
	assert_int_equal(service_remove(&s->h, "api", NULL, &err), 0);
	text = ruleset();
	assert_string_equal(text, "");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_validate),
		cmocka_unit_test(test_endpoints_validate),
		cmocka_unit_test(test_vip_next),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_plan_per_port),
		cmocka_unit_test(test_json),
		cmocka_unit_test_setup_teardown(test_kernel, kernel_setup, kernel_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
