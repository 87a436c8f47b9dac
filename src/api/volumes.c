/* /volumes: list, inspect, create, remove (storage/volume.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "storage/volume.h"
#include "util/cleanup.h"

static json_t *volume_json(const volume_info *v)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:s}", "Name", v->name, "Driver", v->driver ?: "local",
			 "CreatedAt", v->created ?: "", "Mountpoint", v->mountpoint ?: "", "Labels", v->labels,
			 "Options", v->options, "Scope", "local");
}

void api_volumes_list(api_request *r)
{
	volume_info *list = NULL;
	berth_error *e = NULL;
	size_t n = 0;
	json_t *vols;

	if (volume_list(r->server->options->store_root, &list, &n, &e) < 0) {
		api_reply_berth_error(r, &e);
		return;
	}
	vols = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(vols, volume_json(&list[i]));
	volume_list_free(list, n);
	api_reply_json(r, 200, json_pack("{s:o, s:[]}", "Volumes", vols, "Warnings"));
}

void api_volume_inspect(api_request *r)
{
	volume_info v = { 0 };
	berth_error *e = NULL;

	if (volume_inspect(r->server->options->store_root, r->params[0], &v, &e) < 0) {
		api_reply_berth_error(r, &e);
		return;
	}
	api_reply_json(r, 200, volume_json(&v));
	volume_info_free(&v);
}

/* {"Name", "Driver": "local", "DriverOpts": {"type": "tmpfs"}, "Labels": {}} */
void api_volume_create(api_request *r)
{
	berth_error *e = NULL;
	json_t *body = api_body_json(r, &e), *v;
	const char *name, *driver, *key;
	_cleanup_free_ const char **labels = NULL, **opts = NULL;
	_cleanup_strv_ char **texts = NULL;
	volume_info info = { 0 };
	size_t nl = 0, no = 0, nt = 0;

	if (body == NULL) {
		api_reply_berth_error(r, &e);
		return;
	}
	name = json_string_value(json_object_get(body, "Name"));
	driver = json_string_value(json_object_get(body, "Driver"));
	if (driver && *driver && strcmp(driver, "local") != 0) {
		api_reply_error(r, 400, "Driver %s is not supported by berth (local)", driver);
		json_decref(body);
		return;
	}
	labels = calloc(json_object_size(json_object_get(body, "Labels")) + 1, sizeof(char *));
	opts = calloc(json_object_size(json_object_get(body, "DriverOpts")) + 1, sizeof(char *));
	texts = calloc(json_object_size(json_object_get(body, "Labels")) +
			   json_object_size(json_object_get(body, "DriverOpts")) + 1,
		       sizeof(char *));
	if (labels == NULL || opts == NULL || texts == NULL) {
		api_reply_error(r, 500, "out of memory");
		json_decref(body);
		return;
	}
	json_object_foreach(json_object_get(body, "Labels"), key, v) {
		if (asprintf(&texts[nt], "%s=%s", key, json_string_value(v) ?: "") < 0)
			break;
		labels[nl++] = texts[nt++];
	}
	json_object_foreach(json_object_get(body, "DriverOpts"), key, v) {
		if (asprintf(&texts[nt], "%s=%s", key, json_string_value(v) ?: "") < 0)
			break;
		opts[no++] = texts[nt++];
	}
	if (volume_create_with_options(r->server->options->store_root, name && *name ? name : NULL, labels, opts, false,
				       &info, &e) < 0) {
		if (e && e->code == 0)
			e->code = EINVAL;
		api_reply_berth_error(r, &e);
	} else {
		api_reply_json(r, 201, volume_json(&info));
		volume_info_free(&info);
	}
	json_decref(body);
}

void api_volume_remove(api_request *r)
{
	berth_error *e = NULL;

	if (volume_remove(r->server->options->store_root, r->params[0], api_query_bool(r, "force", false), &e) < 0)
		api_reply_berth_error(r, &e);
	else
		api_reply_json(r, 204, NULL);
}
