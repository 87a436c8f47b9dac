/* config.json "linux.netDevices" (runtime-spec 1.3): host interfaces to move
 * into the container's network namespace, each renamed when "name" is given.
 * Names are checked as the kernel checks them (dev_valid_name), so a bad one
 * fails here and not halfway through create. */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

static bool valid_ifname(const char *name, bool template_allowed)
{
	const char *pct;

	if (name[0] == '\0' || strlen(name) >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == ':' || *c == ' ' || (*c >= '\t' && *c <= '\r'))
			return false;
	pct = strchr(name, '%');
	/* one "%d" template at most, as the kernel allows */
	if (pct != NULL && (!template_allowed || pct[1] != 'd' || strchr(pct + 1, '%') != NULL))
		return false;
	return true;
}

int spec_parse_net_devices(json_t *linux_obj, spec *s, berth_error **err)
{
	json_t *obj = NULL, *value;
	const char *key;
	size_t i = 0;

	if (json_read_object(linux_obj, "netDevices", "linux", &obj, err) < 0)
		return -1;
	if (obj == NULL || json_object_size(obj) == 0)
		return 0;
	s->net_devices = calloc(json_object_size(obj), sizeof(spec_net_device));
	if (s->net_devices == NULL)
		return berth_error_set(err, ENOMEM, "linux.netDevices");
	json_object_foreach(obj, key, value) {
		_cleanup_free_ char *dpath = json_read_child_path("linux.netDevices", key);
		spec_net_device *d = &s->net_devices[i];

		s->n_net_devices = ++i;
		if (!json_is_object(value))
			return berth_error_set(err, 0, "%s: expected an object, got %s", dpath,
					       json_read_type_name(value));
		if (!valid_ifname(key, false))
			return berth_error_set(err, 0, "%s: invalid interface name \"%s\"", dpath, key);
		d->host_name = strdup(key);
		if (d->host_name == NULL || json_read_string(value, "name", dpath, &d->name, err) < 0)
			return d->host_name == NULL ? berth_error_set(err, ENOMEM, "%s", dpath) : -1;
		if (d->name != NULL && d->name[0] == '\0')
			d->name = (free(d->name), NULL);
		if (d->name != NULL && !valid_ifname(d->name, true))
			return berth_error_set(err, 0, "%s.name: invalid interface name \"%s\"", dpath, d->name);
		if (d->name == NULL && (d->name = strdup(key)) == NULL)
			return berth_error_set(err, ENOMEM, "%s", dpath);
	}
	return 0;
}

void spec_net_devices_clear(spec *s)
{
	for (size_t i = 0; i < s->n_net_devices; i++) {
		free(s->net_devices[i].host_name);
		free(s->net_devices[i].name);
	}
	free(s->net_devices);
	s->net_devices = NULL;
	s->n_net_devices = 0;
}
