/* Services of the engine (see service.h). */
#include "engine/service.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "engine/network.h"
#include "engine/network_internal.h"
#include "engine/rootless_netns.h"
#include "engine/userns.h"

void engine_service_owner(const engine_paths *p, char *out, size_t len)
{
	snprintf(out, len, "store:%s", p->store_root);
}

enum { ENSURE_NOTHING, ENSURE_ALL, ENSURE_UNLESS_ROUTED };

/* The host-wide directory, with the default bridge, its rules and the
 * service range's route in place (ENSURE_ALL). ENSURE_UNLESS_ROUTED (an
 * endpoints update, on every change of a Deployment's readiness) trusts a
 * route of the range through the bridge: the bridge exists then, and made
 * both once. Rootless, this runs inside the rootless network namespace
 * (rootless_netns.h). */
static int prepare(const engine_paths *p, hostnet *h, int ensure, const char *what, berth_error **err)
{
	network_def d = { 0 };
	int ret;

	if (network_hostnet_open(p, h, err) < 0)
		return berth_error_wrap(err, "%s", what);
	if (ensure == ENSURE_NOTHING ||
	    (ensure == ENSURE_UNLESS_ROUTED && hostnet_route_via(SERVICE_RANGE, NETWORK_DEFAULT_BRIDGE)))
		return 0;
	if (hostnet_subnet_routed(SERVICE_RANGE, NETWORK_DEFAULT_BRIDGE))
		return berth_error_request(err, EEXIST, "%s: the host routes the service range %s elsewhere", what,
					   SERVICE_RANGE);
	ret = network_load(p, NETWORK_DEFAULT, &d, err);
	if (ret == 0)
		ret = network_ensure_bridge(p, h, &d, err);
	if (ret == 0)
		ret = service_route_ensure(d.bridge, err);
	network_def_free(&d);
	return ret < 0 ? berth_error_wrap(err, "%s", what) : 0;
}

/* Rootless berth has services only inside its rootless network namespace,
 * which needs pasta. */
static int check_rootless(const char *what, berth_error **err)
{
	if (engine_rootless() && !engine_rootless_netns_available())
		return berth_error_request(err, EPERM, "%s: rootless services need pasta (%s)", what,
					   engine_network_default_why() ?: "unavailable");
	return 0;
}

/* One call of the library, run where the services live. */
struct service_job {
	const engine_paths *p;
	int op;
	const char *name, *owner;
	service_spec *spec;
	service *out;	 /* apply: the result; remove: the record removed */
	service *before; /* apply: the record before (when there was one) */
	bool had_before;
	const service_endpoint *eps;
	size_t n;
	service **list;
	size_t *n_list;
};

enum { OP_APPLY, OP_ENDPOINTS, OP_REMOVE, OP_LIST };

static int service_job_run(void *arg, berth_error **err)
{
	struct service_job *j = arg;
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	char what[SERVICE_NAME_MAX + 32];
	berth_error *e = NULL;

	switch (j->op) {
	case OP_APPLY:
		snprintf(what, sizeof(what), "service %s", j->spec->name);
		if (prepare(j->p, &h, ENSURE_ALL, what, err) < 0)
			return -1;
		service_sweep(&h);
		if (j->before && service_load(&h, j->spec->name, j->before, &e) == 0)
			j->had_before = true;
		berth_error_free(&e);
		return service_apply(&h, j->spec, j->out, err);
	case OP_ENDPOINTS:
		snprintf(what, sizeof(what), "service %s", j->name);
		if (prepare(j->p, &h, ENSURE_UNLESS_ROUTED, what, err) < 0)
			return -1;
		if (service_set_endpoints(&h, j->name, j->owner, j->eps, j->n, err) < 0)
			return -1;
		/* rootless: its node ports, to check their pastas */
		if (j->out && service_load(&h, j->name, j->out, &e) < 0)
			berth_error_free(&e);
		return 0;
	case OP_REMOVE:
		snprintf(what, sizeof(what), "remove service %s", j->name);
		if (prepare(j->p, &h, ENSURE_NOTHING, what, err) < 0)
			return -1;
		if (j->out && service_load(&h, j->name, j->out, &e) < 0)
			berth_error_free(&e);
		return service_remove(&h, j->name, j->owner, err);
	default:
		if (prepare(j->p, &h, ENSURE_NOTHING, "list services", err) < 0)
			return -1;
		service_sweep(&h);
		return service_list(&h, j->list, j->n_list, err);
	}
}

/* The node ports of S as host ports for pasta. */
static size_t node_ports(const service *s, net_port *out)
{
	size_t n = 0;

	for (size_t i = 0; i < s->spec.n_ports; i++) {
		if (s->spec.ports[i].node_port == 0)
			continue;
		out[n] = (net_port){ .host_port = s->spec.ports[i].node_port, .ctr_port = s->spec.ports[i].node_port };
		snprintf(out[n].proto, sizeof(out[n].proto), "%s",
			 s->spec.ports[i].proto == IPPROTO_UDP ? "udp" : "tcp");
		n++;
	}
	return n;
}

int engine_service_apply(const engine_paths *p, service_spec *spec, service *out, berth_error **err)
{
	service result = { 0 }, before = { 0 };
	struct service_job job = { .p = p, .op = OP_APPLY, .spec = spec, .out = &result, .before = &before };
	char what[SERVICE_NAME_MAX + 32];
	int ret;

	snprintf(what, sizeof(what), "service %s", spec->name);
	if (spec->owner[0] == '\0') {
		engine_service_owner(p, spec->owner, sizeof(spec->owner));
		snprintf(spec->owner_path, sizeof(spec->owner_path), "%s", p->store_root);
	}
	if (service_spec_validate(spec, err) < 0 || check_rootless(what, err) < 0)
		return -1;
	ret = engine_rootless_netns_run(p, true, service_job_run, &job, err);
	if (ret == 0 && engine_rootless()) {
		/* node ports from the host: a pasta each; those the service no
		 * longer has stop */
		net_port now[SERVICE_PORTS_MAX], old[SERVICE_PORTS_MAX], gone[SERVICE_PORTS_MAX];
		size_t n_now = node_ports(&result, now), n_old = job.had_before ? node_ports(&before, old) : 0;
		size_t n_gone = 0;
		for (size_t i = 0; i < n_old; i++) {
			bool kept = false;
			for (size_t k = 0; k < n_now; k++)
				kept |= now[k].host_port == old[i].host_port && strcmp(now[k].proto, old[i].proto) == 0;
			if (!kept)
				gone[n_gone++] = old[i];
		}
		engine_rootless_netns_unpublish(p, gone, n_gone);
		ret = engine_rootless_netns_publish(p, now, n_now, err);
	}
	service_clear(&before);
	if (ret == 0 && out)
		*out = result;
	else
		service_clear(&result);
	return ret;
}

int engine_service_set_endpoints(const engine_paths *p, const char *name, const char *owner,
				 const service_endpoint *eps, size_t n, berth_error **err)
{
	service now = { 0 };
	struct service_job job = { .p = p, .op = OP_ENDPOINTS, .name = name, .owner = owner, .eps = eps, .n = n };
	net_port ports[SERVICE_PORTS_MAX];
	char what[SERVICE_NAME_MAX + 32];
	int ret;

	snprintf(what, sizeof(what), "service %s", name);
	if (check_rootless(what, err) < 0)
		return -1;
	if (engine_rootless())
		job.out = &now;
	ret = engine_rootless_netns_run(p, true, service_job_run, &job, err);
	/* rootless: a node port's pasta that is gone (killed, or its apply
	 * was) comes back with the next change of endpoints */
	if (ret == 0 && engine_rootless())
		ret = engine_rootless_netns_publish(p, ports, node_ports(&now, ports), err);
	service_clear(&now);
	return ret;
}

int engine_service_remove(const engine_paths *p, const char *name, const char *owner, berth_error **err)
{
	service removed = { 0 };
	struct service_job job = { .p = p, .op = OP_REMOVE, .name = name, .owner = owner, .out = &removed };
	net_port ports[SERVICE_PORTS_MAX];
	int ret;

	ret = engine_rootless_netns_run(p, false, service_job_run, &job, err);
	if (ret == 0 && engine_rootless()) {
		engine_rootless_netns_unpublish(p, ports, node_ports(&removed, ports));
		engine_rootless_netns_release(p);
	}
	service_clear(&removed);
	return ret;
}

int engine_service_list(const engine_paths *p, service **out, size_t *n, berth_error **err)
{
	struct service_job job = { .p = p, .op = OP_LIST, .list = out, .n_list = n };

	*out = NULL;
	*n = 0;
	if (check_rootless("list services", err) < 0)
		return -1;
	return engine_rootless_netns_run(p, false, service_job_run, &job, err);
}

int engine_service_changed_at(const engine_paths *p, struct timespec *out, berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };

	if (prepare(p, &h, ENSURE_NOTHING, "services", err) < 0)
		return -1;
	return service_records_changed_at(&h, out, err);
}

int engine_service_port_holder(const engine_paths *p, int proto, uint16_t port, const char *except, char *out,
			       size_t len, berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };

	if (prepare(p, &h, ENSURE_NOTHING, "node ports", err) < 0)
		return -1;
	return hostnet_port_holder(&h, proto, port, except, out, len);
}
