/* Services of the engine (see service.h). */
#include "engine/service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/network.h"
#include "engine/network_internal.h"
#include "engine/userns.h"

void engine_service_owner(const engine_paths *p, char *out, size_t len)
{
	snprintf(out, len, "store:%s", p->store_root);
}

enum { ENSURE_NOTHING, ENSURE_ALL, ENSURE_UNLESS_ROUTED };

/* The host-wide directory, with the default bridge, its rules and the
 * service range's route in place (ENSURE_ALL), for a root engine.
 * ENSURE_UNLESS_ROUTED (an endpoints update, on every change of a
 * Deployment's readiness) trusts a route of the range through the bridge:
 * the bridge exists then, and made both once. */
static int prepare(const engine_paths *p, hostnet *h, int ensure, const char *what, berth_error **err)
{
	network_def d = { 0 };
	int ret;

	if (engine_rootless())
		return berth_error_request(err, EPERM, "%s: services need root (nftables); rootless berth has none",
					   what);
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

int engine_service_apply(const engine_paths *p, service_spec *spec, service *out, berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	char what[SERVICE_NAME_MAX + 32];

	snprintf(what, sizeof(what), "service %s", spec->name);
	if (spec->owner[0] == '\0') {
		engine_service_owner(p, spec->owner, sizeof(spec->owner));
		snprintf(spec->owner_path, sizeof(spec->owner_path), "%s", p->store_root);
	}
	if (service_spec_validate(spec, err) < 0 || prepare(p, &h, ENSURE_ALL, what, err) < 0)
		return -1;
	service_sweep(&h);
	return service_apply(&h, spec, out, err);
}

int engine_service_set_endpoints(const engine_paths *p, const char *name, const char *owner,
				 const service_endpoint *eps, size_t n, berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	char what[SERVICE_NAME_MAX + 32];

	snprintf(what, sizeof(what), "service %s", name);
	if (prepare(p, &h, ENSURE_UNLESS_ROUTED, what, err) < 0)
		return -1;
	return service_set_endpoints(&h, name, owner, eps, n, err);
}

int engine_service_remove(const engine_paths *p, const char *name, const char *owner, berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };
	char what[SERVICE_NAME_MAX + 32];

	snprintf(what, sizeof(what), "remove service %s", name);
	if (prepare(p, &h, ENSURE_NOTHING, what, err) < 0)
		return -1;
	return service_remove(&h, name, owner, err);
}

int engine_service_list(const engine_paths *p, service **out, size_t *n, berth_error **err)
{
	_cleanup_hostnet_ hostnet h = { NULL, -EBADF };

	if (prepare(p, &h, ENSURE_NOTHING, "list services", err) < 0)
		return -1;
	service_sweep(&h);
	return service_list(&h, out, n, err);
}
