/* /networks: list, inspect, create, remove, connect, disconnect, through
 * the engine's networks (engine/network.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/containers.h"
#include "api/http.h"
#include "engine/network.h"
#include "util/cleanup.h"

/* docker's shape of a network; CONTAINERS (may be NULL) lists its members. */
static json_t *network_json(const network_def *d, container **list, size_t n)
{
	json_t *members = json_object(), *config = json_array();
	json_t *j;

	if (d->subnet)
		json_array_append_new(config,
				      json_pack("{s:s, s:s}", "Subnet", d->subnet, "Gateway", d->gateway ?: ""));
	if (d->subnet6)
		json_array_append_new(config,
				      json_pack("{s:s, s:s}", "Subnet", d->subnet6, "Gateway", d->gateway6 ?: ""));
	for (size_t i = 0; i < n; i++) {
		json_t *settings = api_network_settings(list[i]);
		json_t *ep = json_object_get(json_object_get(settings, "Networks"), d->name);
		if (ep)
			json_object_set_new(members, list[i]->id,
					    json_pack("{s:s, s:s, s:s}", "Name", list[i]->name, "IPv4Address",
						      json_string_value(json_object_get(ep, "IPAddress")) ?: "",
						      "MacAddress",
						      json_string_value(json_object_get(ep, "MacAddress")) ?: ""));
		json_decref(settings);
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:n, s:o}, s:b, s:b, s:b, s:o, s:{}, s:{}}", "Name",
		      d->name, "Id", d->name, "Created", d->created ?: "0001-01-01T00:00:00Z", "Scope", "local",
		      "Driver", d->driver ?: "bridge", "EnableIPv6", d->subnet6 != NULL, "IPAM", "Driver", "default",
		      "Options", "Config", config, "Internal", d->internal, "Attachable", false, "Ingress", false,
		      "Containers", members, "Options", "Labels");
	if (json_is_object(json_object_get(d->raw, "Labels")))
		json_object_set(j, "Labels", json_object_get(d->raw, "Labels"));
	return j;
}

/* D matches VALUE of filter KEY, as docker's `network ls --filter`: name a
 * part of the name, id a prefix, driver, type custom or builtin (the
 * default network), label KEY or KEY=VALUE. */
static bool network_matches(const network_def *d, const char *key, const char *value)
{
	if (strcmp(key, "name") == 0)
		return strstr(d->name, value) != NULL;
	if (strcmp(key, "id") == 0)
		return strncmp(d->name, value, strlen(value)) == 0;
	if (strcmp(key, "driver") == 0)
		return strcmp(d->driver ?: "bridge", value) == 0;
	if (strcmp(key, "type") == 0)
		return strcmp(value, strcmp(d->name, NETWORK_DEFAULT) == 0 ? "builtin" : "custom") == 0;
	if (strcmp(key, "label") == 0) {
		json_t *labels = json_object_get(d->raw, "Labels");
		const char *eq = strchr(value, '=');
		_cleanup_free_ char *k = NULL;
		if (eq == NULL)
			return json_object_get(labels, value) != NULL;
		k = strndup(value, (size_t)(eq - value));
		return k && json_string_value(json_object_get(labels, k)) &&
		       strcmp(json_string_value(json_object_get(labels, k)), eq + 1) == 0;
	}
	return false;
}

/* docker's filters ({"name": ["a"]} or {"name": {"a": true}}): every key
 * matches one of its values (labels: every one of them). */
static bool network_passes(const network_def *d, json_t *filters)
{
	const char *key, *value;
	json_t *vals, *v;
	size_t i;

	json_object_foreach(filters, key, vals) {
		bool any = false, every = true;
		if (json_is_object(vals)) {
			json_object_foreach(vals, value, v) {
				bool m = network_matches(d, key, value);
				any = any || m;
				every = every && m;
			}
		} else {
			json_array_foreach(vals, i, v) {
				bool m = network_matches(d, key, json_string_value(v) ?: "");
				any = any || m;
				every = every && m;
			}
		}
		if (!any || (strcmp(key, "label") == 0 && !every))
			return false;
	}
	return true;
}

void api_networks_list(api_request *r)
{
	network_def *defs = NULL;
	container **list = NULL;
	berth_error *e = NULL;
	size_t n = 0, nc = 0;
	const char *ftext = api_query(r, "filters"), *key;
	json_t *out, *v;
	json_t *filters = NULL;

	if (ftext) {
		filters = json_loads(ftext, 0, NULL);
		if (!json_is_object(filters)) {
			json_decref(filters);
			api_reply_error(r, 400, "filters: malformed JSON");
			return;
		}
		json_object_foreach(filters, key, v) {
			if (strcmp(key, "name") && strcmp(key, "id") && strcmp(key, "driver") && strcmp(key, "type") &&
			    strcmp(key, "label")) {
				api_reply_error(r, 400, "invalid filter '%s' (berth: name, id, driver, type, label)",
						key);
				json_decref(filters);
				return;
			}
		}
	}
	if (network_list(&r->server->paths, &defs, &n, &e) < 0) {
		json_decref(filters);
		api_reply_berth_error(r, &e);
		return;
	}
	if (record_list(&r->server->paths, &list, &nc, &e) < 0)
		berth_error_free(&e);
	out = json_array();
	for (size_t i = 0; i < n; i++) {
		if (filters == NULL || network_passes(&defs[i], filters))
			json_array_append_new(out, network_json(&defs[i], list, nc));
		network_def_free(&defs[i]);
	}
	free(defs);
	record_list_free(list, nc);
	json_decref(filters);
	api_reply_json(r, 200, out);
}

void api_network_inspect(api_request *r)
{
	network_def d = { 0 };
	container **list = NULL;
	berth_error *e = NULL;
	size_t nc = 0;

	if (network_load(&r->server->paths, r->params[0], &d, &e) < 0) {
		berth_error_free(&e);
		api_reply_error(r, 404, "network %s not found", r->params[0]);
		return;
	}
	if (record_list(&r->server->paths, &list, &nc, &e) < 0)
		berth_error_free(&e);
	api_reply_json(r, 200, network_json(&d, list, nc));
	record_list_free(list, nc);
	network_def_free(&d);
}

static bool labels_valid(json_t *labels)
{
	const char *key;
	json_t *v;

	if (!json_is_object(labels))
		return false;
	json_object_foreach(labels, key, v) {
		if (!json_is_string(v) || *key == '\0')
			return false;
	}
	return true;
}

void api_network_create(api_request *r)
{
	network_create_options o = { 0 };
	network_def d = { 0 };
	berth_error *e = NULL;
	json_t *body = api_body_json(r, &e), *cfg;
	const char *name;

	if (body == NULL) {
		api_reply_berth_error(r, &e);
		return;
	}
	name = json_string_value(json_object_get(body, "Name"));
	o.driver = json_string_value(json_object_get(body, "Driver"));
	if (o.driver && (*o.driver == '\0' || strcmp(o.driver, "bridge") == 0))
		o.driver = NULL;
	if (o.driver) {
		api_reply_error(r, 400, "Driver %s is not supported by berth's API (bridge)", o.driver);
		json_decref(body);
		return;
	}
	o.labels = json_object_get(body, "Labels");
	if (json_is_null(o.labels))
		o.labels = NULL;
	if (o.labels && !labels_valid(o.labels)) {
		api_reply_error(r, 400, "Labels: expected an object of strings");
		json_decref(body);
		return;
	}
	o.internal = json_is_true(json_object_get(body, "Internal"));
	o.ipv6 = json_is_true(json_object_get(body, "EnableIPv6"));
	cfg = json_array_get(json_object_get(json_object_get(body, "IPAM"), "Config"), 0);
	o.subnet = json_string_value(json_object_get(cfg, "Subnet"));
	o.gateway = json_string_value(json_object_get(cfg, "Gateway"));
	if (name == NULL || *name == '\0') {
		api_reply_error(r, 400, "Name: required");
	} else if (network_load(&r->server->paths, name, &d, &e) == 0) {
		api_reply_error(r, 409, "network with name %s already exists", name);
	} else {
		berth_error_free(&e);
		network_def_free(&d);
		d = (network_def){ 0 };
		if (network_create(&r->server->paths, name, &o, &d, &e) < 0) {
			if (e && e->code == 0)
				e->code = EINVAL;
			api_reply_berth_error(r, &e);
		} else {
			api_reply_json(r, 201, json_pack("{s:s, s:s}", "Id", d.name, "Warning", ""));
		}
	}
	network_def_free(&d);
	json_decref(body);
}

void api_network_remove(api_request *r)
{
	berth_error *e = NULL;
	network_def d = { 0 };

	if (network_load(&r->server->paths, r->params[0], &d, &e) < 0) {
		berth_error_free(&e);
		api_reply_error(r, 404, "network %s not found", r->params[0]);
		return;
	}
	network_def_free(&d);
	if (network_remove(&r->server->paths, r->params[0], &e) < 0) {
		if (e && e->code == 0)
			e->code = EBUSY;
		api_reply_berth_error(r, &e);
		return;
	}
	api_reply_json(r, 204, NULL);
}

static void connect_or_disconnect(api_request *r, bool connect)
{
	berth_error *e = NULL;
	json_t *body = api_body_json(r, &e);
	const char *id = json_string_value(json_object_get(body, "Container"));
	container *c = NULL;

	if (body == NULL) {
		api_reply_berth_error(r, &e);
		return;
	}
	if (id == NULL || record_open(&r->server->paths, id, &c, &e) < 0) {
		berth_error_free(&e);
		api_reply_error(r, 404, "No such container: %s", id ?: "");
	} else if ((connect ? engine_network_connect(
				  &r->server->paths, c, r->params[0],
				  json_string_value(json_object_get(
				      json_object_get(json_object_get(body, "EndpointConfig"), "IPAMConfig"),
				      "IPv4Address")),
				  &e)
			    : engine_network_disconnect(&r->server->paths, c, r->params[0], &e)) < 0) {
		if (e && e->code == 0)
			e->code = EINVAL;
		api_reply_berth_error(r, &e);
	} else {
		api_reply_json(r, 200, NULL);
	}
	container_free(c);
	json_decref(body);
}

void api_network_connect(api_request *r)
{
	connect_or_disconnect(r, true);
}

void api_network_disconnect(api_request *r)
{
	connect_or_disconnect(r, false);
}
