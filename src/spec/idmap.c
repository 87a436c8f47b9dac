/* Idmapped mounts in config.json (runtime-spec 1.2): the "idmap" and
 * "ridmap" options and a mount's own uidMappings/gidMappings; and the
 * cross-field checks of the runtime-spec 1.3 fields (linux.netDevices). */
#include <errno.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

int spec_parse_mount_idmap(json_t *item, const char *path, spec_mount *m, berth_error **err)
{
	if (spec_parse_id_mappings(item, "uidMappings", path, &m->uid_mappings, &m->n_uid_mappings, err) < 0 ||
	    spec_parse_id_mappings(item, "gidMappings", path, &m->gid_mappings, &m->n_gid_mappings, err) < 0)
		return -1;
	/* Mappings without the option are applied too (non-recursively), as
	 * runc does: never silently ignored. */
	if (m->n_uid_mappings > 0 || m->n_gid_mappings > 0)
		m->idmap = true;
	return 0;
}

static int validate_idmap_mount(const spec *s, const spec_mount *m, size_t i, berth_error **err)
{
	const spec_namespace *user = &s->namespaces[NS_USER];

	if ((m->n_uid_mappings > 0) != (m->n_gid_mappings > 0))
		return berth_error_set(err, 0, "mounts[%zu]: uidMappings and gidMappings must be given together", i);
	if (!m->bind)
		return berth_error_set(err, ENOTSUP,
				       "mounts[%zu]: idmapped mounts are supported for bind mounts only, not %s on "
				       "\"%s\"",
				       i, m->type ? m->type : "?", m->destination);
	if (m->n_uid_mappings == 0 && !user->requested)
		return berth_error_set(err, 0,
				       "mounts[%zu]: \"%s\" without uidMappings/gidMappings takes the container's user "
				       "namespace mappings, but there is no user namespace",
				       i, m->idmap_recursive ? "ridmap" : "idmap");
	return 0;
}

static int validate_net_devices(const spec *s, berth_error **err)
{
	if (s->n_net_devices == 0)
		return 0;
	if (!s->namespaces[NS_NETWORK].requested)
		return berth_error_set(err, 0,
				       "linux.netDevices: needs a network namespace in linux.namespaces (the devices "
				       "would stay in the runtime's)");
	for (size_t i = 0; i < s->n_net_devices; i++)
		for (size_t k = 0; k < i; k++)
			if (strchr(s->net_devices[i].name, '%') == NULL &&
			    strcmp(s->net_devices[i].name, s->net_devices[k].name) == 0)
				return berth_error_set(err, 0,
						       "linux.netDevices.%s.name: \"%s\" is also the name of "
						       "linux.netDevices.%s",
						       s->net_devices[i].host_name, s->net_devices[i].name,
						       s->net_devices[k].host_name);
	return 0;
}

int spec_validate_idmap_and_net_devices(const spec *s, berth_error **err)
{
	for (size_t i = 0; i < s->n_mounts; i++)
		if (s->mounts[i].idmap && validate_idmap_mount(s, &s->mounts[i], i, err) < 0)
			return -1;
	return validate_net_devices(s, err);
}
