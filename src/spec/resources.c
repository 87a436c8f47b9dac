/* config.json "linux.resources" (also the input of `update -r`). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

static int parse_device_rules(json_t *obj, const char *path, spec_resources *r, berth_error **err)
{
	_cleanup_free_ char *dpath = json_read_child_path(path, "devices");
	json_t *arr = NULL, *item;
	size_t i;

	if (json_read_array(obj, "devices", path, &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	r->devices = calloc(json_array_size(arr) + 1, sizeof(spec_device_rule));
	if (r->devices == NULL)
		return berth_error_set(err, ENOMEM, "%s", dpath);
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *ipath = json_read_index_path(dpath, i);
		_cleanup_free_ char *type = NULL;
		_cleanup_free_ char *access = NULL;
		spec_device_rule *d = &r->devices[i];
		bool has_allow, present;

		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object", ipath);
		if (json_read_bool(item, "allow", ipath, &d->allow, &has_allow, err) < 0 ||
		    json_read_string(item, "type", ipath, &type, err) < 0 ||
		    json_read_string(item, "access", ipath, &access, err) < 0)
			return -1;
		if (!has_allow)
			return berth_error_set(err, 0, "%s.allow: required", ipath);
		d->type = type ? type[0] : 'a';
		if (type && (strlen(type) != 1 || strchr("acb", type[0]) == NULL))
			return berth_error_set(err, 0, "%s.type: expected \"a\", \"c\" or \"b\"", ipath);
		if (json_read_ranged(item, "major", ipath, -1, UINT32_MAX, &d->major, &present, err) < 0)
			return -1;
		if (!present)
			d->major = -1;
		if (json_read_ranged(item, "minor", ipath, -1, UINT32_MAX, &d->minor, &present, err) < 0)
			return -1;
		if (!present)
			d->minor = -1;
		if (access == NULL)
			strcpy(d->access, "rwm");
		else {
			if (strlen(access) > 3 || strspn(access, "rwm") != strlen(access))
				return berth_error_set(err, 0, "%s.access: \"%s\" is not a subset of \"rwm\"", ipath,
						       access);
			strcpy(d->access, access);
		}
		r->n_devices = i + 1;
	}
	return 0;
}

static int parse_memory(json_t *obj, const char *path, spec_resources *r, berth_error **err)
{
	_cleanup_free_ char *mpath = json_read_child_path(path, "memory");
	json_t *m = NULL;
	int64_t swappiness;

	if (json_read_object(obj, "memory", path, &m, err) < 0)
		return -1;
	if (m == NULL)
		return 0;
	if (json_read_int64(m, "limit", mpath, &r->memory_limit, &r->has_memory_limit, err) < 0 ||
	    json_read_int64(m, "reservation", mpath, &r->memory_reservation, &r->has_memory_reservation, err) < 0 ||
	    json_read_int64(m, "swap", mpath, &r->memory_swap, &r->has_memory_swap, err) < 0 ||
	    json_read_int64(m, "kernel", mpath, &r->memory_kernel, &r->has_memory_kernel, err) < 0 ||
	    json_read_int64(m, "kernelTCP", mpath, &r->memory_kernel_tcp, &r->has_memory_kernel_tcp, err) < 0 ||
	    json_read_bool(m, "disableOOMKiller", mpath, &r->disable_oom_killer, &r->has_disable_oom_killer, err) < 0 ||
	    json_read_bool(m, "useHierarchy", mpath, &r->use_hierarchy, &r->has_use_hierarchy, err) < 0 ||
	    json_read_bool(m, "checkBeforeUpdate", mpath, &r->check_before_update, &r->has_check_before_update, err) <
		0)
		return -1;
	/* Docker writes -1 for "unset" swappiness; treat it as absent. */
	if (json_read_ranged(m, "swappiness", mpath, -1, 100, &swappiness, &r->has_memory_swappiness, err) < 0)
		return -1;
	if (r->has_memory_swappiness && swappiness < 0)
		r->has_memory_swappiness = false;
	r->memory_swappiness = r->has_memory_swappiness ? (uint64_t)swappiness : 0;
	if (r->has_memory_limit && r->memory_limit < -1)
		return berth_error_set(err, 0, "%s.limit: must be -1 (unlimited) or a positive number of bytes", mpath);
	if (r->has_memory_limit && r->memory_limit > 0 && r->has_memory_swap && r->memory_swap > 0 &&
	    r->memory_swap < r->memory_limit)
		return berth_error_set(err, 0, "%s.swap: %lld is below the memory limit %lld (swap is memory+swap)",
				       mpath, (long long)r->memory_swap, (long long)r->memory_limit);
	return 0;
}

static int parse_cpu(json_t *obj, const char *path, spec_resources *r, berth_error **err)
{
	_cleanup_free_ char *cpath = json_read_child_path(path, "cpu");
	json_t *c = NULL;

	if (json_read_object(obj, "cpu", path, &c, err) < 0)
		return -1;
	if (c == NULL)
		return 0;
	if (json_read_uint64(c, "shares", cpath, &r->cpu_shares, &r->has_cpu_shares, err) < 0 ||
	    json_read_int64(c, "quota", cpath, &r->cpu_quota, &r->has_cpu_quota, err) < 0 ||
	    json_read_uint64(c, "burst", cpath, &r->cpu_burst, &r->has_cpu_burst, err) < 0 ||
	    json_read_uint64(c, "period", cpath, &r->cpu_period, &r->has_cpu_period, err) < 0 ||
	    json_read_int64(c, "realtimeRuntime", cpath, &r->cpu_realtime_runtime, &r->has_cpu_realtime_runtime, err) <
		0 ||
	    json_read_uint64(c, "realtimePeriod", cpath, &r->cpu_realtime_period, &r->has_cpu_realtime_period, err) <
		0 ||
	    json_read_string(c, "cpus", cpath, &r->cpu_cpus, err) < 0 ||
	    json_read_string(c, "mems", cpath, &r->cpu_mems, err) < 0 ||
	    json_read_ranged(c, "idle", cpath, 0, 1, &r->cpu_idle, &r->has_cpu_idle, err) < 0)
		return -1;
	if (r->has_cpu_period && r->cpu_period != 0 && (r->cpu_period < 1000 || r->cpu_period > 1000000))
		return berth_error_set(err, 0, "%s.period: %llu is outside 1000..1000000 microseconds", cpath,
				       (unsigned long long)r->cpu_period);
	if (r->has_cpu_quota && r->cpu_quota != -1 && r->cpu_quota != 0 && r->cpu_quota < 1000)
		return berth_error_set(err, 0, "%s.quota: %lld is below the minimum of 1000 microseconds", cpath,
				       (long long)r->cpu_quota);
	return 0;
}

static int parse_throttles(json_t *blkio, const char *path, const char *key, spec_throttle **out, size_t *n,
			   berth_error **err)
{
	_cleanup_free_ char *tpath = json_read_child_path(path, key);
	json_t *arr = NULL, *item;
	size_t i;

	if (json_read_array(blkio, key, path, &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	*out = calloc(json_array_size(arr) + 1, sizeof(spec_throttle));
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "%s", tpath);
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *ipath = json_read_index_path(tpath, i);
		bool pm, pn, pr;
		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object", ipath);
		if (json_read_ranged(item, "major", ipath, 0, UINT32_MAX, &(*out)[i].major, &pm, err) < 0 ||
		    json_read_ranged(item, "minor", ipath, 0, UINT32_MAX, &(*out)[i].minor, &pn, err) < 0 ||
		    json_read_uint64(item, "rate", ipath, &(*out)[i].rate, &pr, err) < 0)
			return -1;
		if (!pm || !pn || !pr)
			return berth_error_set(err, 0, "%s: major, minor and rate are required", ipath);
	}
	*n = json_array_size(arr);
	return 0;
}

static int parse_blkio(json_t *obj, const char *path, spec_resources *r, berth_error **err)
{
	static const char *const throttle_keys[4] = { "throttleReadBpsDevice", "throttleWriteBpsDevice",
						      "throttleReadIOPSDevice", "throttleWriteIOPSDevice" };
	_cleanup_free_ char *bpath = json_read_child_path(path, "blockIO");
	_cleanup_free_ char *wpath = NULL;
	json_t *b = NULL, *arr = NULL, *item;
	int64_t v;
	size_t i;

	if (json_read_object(obj, "blockIO", path, &b, err) < 0)
		return -1;
	if (b == NULL)
		return 0;
	if (json_read_ranged(b, "weight", bpath, 0, 10000, &v, &r->has_blkio_weight, err) < 0)
		return -1;
	r->blkio_weight = v;
	if (json_read_ranged(b, "leafWeight", bpath, 0, 10000, &v, &r->has_blkio_leaf_weight, err) < 0)
		return -1;
	r->blkio_leaf_weight = v;
	for (int k = 0; k < 4; k++)
		if (parse_throttles(b, bpath, throttle_keys[k], &r->blkio_throttle[k], &r->n_blkio_throttle[k], err) <
		    0)
			return -1;
	if (json_read_array(b, "weightDevice", bpath, &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	wpath = json_read_child_path(bpath, "weightDevice");
	r->blkio_weight_devices = calloc(json_array_size(arr) + 1, sizeof(spec_weight_device));
	if (r->blkio_weight_devices == NULL)
		return berth_error_set(err, ENOMEM, "%s", wpath);
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *ipath = json_read_index_path(wpath, i);
		spec_weight_device *w = &r->blkio_weight_devices[i];
		bool pm, pn;
		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object", ipath);
		if (json_read_ranged(item, "major", ipath, 0, UINT32_MAX, &w->major, &pm, err) < 0 ||
		    json_read_ranged(item, "minor", ipath, 0, UINT32_MAX, &w->minor, &pn, err) < 0)
			return -1;
		if (!pm || !pn)
			return berth_error_set(err, 0, "%s: major and minor are required", ipath);
		if (json_read_ranged(item, "weight", ipath, 0, 10000, &v, &w->has_weight, err) < 0)
			return -1;
		w->weight = v;
		if (json_read_ranged(item, "leafWeight", ipath, 0, 10000, &v, &w->has_leaf_weight, err) < 0)
			return -1;
		w->leaf_weight = v;
	}
	r->n_blkio_weight_devices = json_array_size(arr);
	return 0;
}

static int parse_hugepages(json_t *obj, const char *path, spec_resources *r, berth_error **err)
{
	_cleanup_free_ char *hpath = json_read_child_path(path, "hugepageLimits");
	json_t *arr = NULL, *item;
	size_t i;

	if (json_read_array(obj, "hugepageLimits", path, &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	r->hugepage_limits = calloc(json_array_size(arr) + 1, sizeof(spec_hugepage_limit));
	if (r->hugepage_limits == NULL)
		return berth_error_set(err, ENOMEM, "%s", hpath);
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *ipath = json_read_index_path(hpath, i);
		spec_hugepage_limit *h = &r->hugepage_limits[i];
		bool present;
		r->n_hugepage_limits = i + 1;
		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object", ipath);
		if (json_read_string(item, "pageSize", ipath, &h->page_size, err) < 0 ||
		    json_read_uint64(item, "limit", ipath, &h->limit, &present, err) < 0)
			return -1;
		if (h->page_size == NULL || !present)
			return berth_error_set(err, 0, "%s: pageSize and limit are required", ipath);
		if (strspn(h->page_size, "0123456789KMGB") != strlen(h->page_size))
			return berth_error_set(err, 0, "%s.pageSize: \"%s\" is not a size like \"2MB\"", ipath,
					       h->page_size);
	}
	return 0;
}

static int parse_network(json_t *obj, const char *path, spec_resources *r, berth_error **err)
{
	_cleanup_free_ char *npath = json_read_child_path(path, "network");
	_cleanup_free_ char *ppath = NULL;
	json_t *n = NULL, *arr = NULL, *item;
	int64_t v;
	size_t i;

	if (json_read_object(obj, "network", path, &n, err) < 0)
		return -1;
	if (n == NULL)
		return 0;
	if (json_read_ranged(n, "classID", npath, 0, UINT32_MAX, &v, &r->has_net_class_id, err) < 0)
		return -1;
	r->net_class_id = v;
	if (json_read_array(n, "priorities", npath, &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	ppath = json_read_child_path(npath, "priorities");
	r->net_priorities = calloc(json_array_size(arr) + 1, sizeof(spec_net_priority));
	if (r->net_priorities == NULL)
		return berth_error_set(err, ENOMEM, "%s", ppath);
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *ipath = json_read_index_path(ppath, i);
		bool present;
		r->n_net_priorities = i + 1;
		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object", ipath);
		if (json_read_string(item, "name", ipath, &r->net_priorities[i].name, err) < 0 ||
		    json_read_ranged(item, "priority", ipath, 0, UINT32_MAX, &v, &present, err) < 0)
			return -1;
		if (r->net_priorities[i].name == NULL || !present)
			return berth_error_set(err, 0, "%s: name and priority are required", ipath);
		r->net_priorities[i].priority = v;
	}
	return 0;
}

int spec_parse_resources_object(json_t *obj, const char *path, spec_resources *r, berth_error **err)
{
	json_t *pids = NULL;
	_cleanup_strv_ char **keys = NULL;
	_cleanup_strv_ char **values = NULL;
	size_t n = 0;

	if (parse_device_rules(obj, path, r, err) < 0 || parse_memory(obj, path, r, err) < 0 ||
	    parse_cpu(obj, path, r, err) < 0 || parse_blkio(obj, path, r, err) < 0 ||
	    parse_hugepages(obj, path, r, err) < 0 || parse_network(obj, path, r, err) < 0)
		return -1;
	if (json_read_object(obj, "pids", path, &pids, err) < 0)
		return -1;
	if (pids != NULL) {
		_cleanup_free_ char *ppath = json_read_child_path(path, "pids");
		if (json_read_int64(pids, "limit", ppath, &r->pids_limit, &r->has_pids_limit, err) < 0)
			return -1;
	}
	if (json_read_string_map(obj, "unified", path, &keys, &values, &n, err) < 0)
		return -1;
	if (n > 0) {
		r->unified = calloc(n, sizeof(spec_key_value));
		if (r->unified == NULL)
			return berth_error_set(err, ENOMEM, "%s.unified", path);
		for (size_t i = 0; i < n; i++) {
			if (strchr(keys[i], '/') != NULL || strcmp(keys[i], "..") == 0 || strcmp(keys[i], ".") == 0 ||
			    strchr(keys[i], '.') == NULL)
				return berth_error_set(err, 0, "%s.unified: \"%s\" is not a cgroup v2 file name", path,
						       keys[i]);
			r->unified[i].key = move_ptr(keys[i]);
			r->unified[i].value = move_ptr(values[i]);
			r->n_unified = i + 1;
		}
	}
	return 0;
}

int spec_parse_resources(const char *json_text, spec_resources *out, berth_error **err)
{
	json_error_t jerr;
	json_t *root = json_read_loads(json_text, 0, &jerr);
	int ret;

	memset(out, 0, sizeof(*out));
	if (root == NULL)
		return berth_error_set(err, 0, "resources: invalid JSON at line %d column %d: %s", jerr.line,
				       jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return berth_error_set(err, 0, "resources: expected an object");
	}
	ret = spec_parse_resources_object(root, "resources", out, err);
	json_decref(root);
	if (ret < 0)
		spec_resources_clear(out);
	return ret;
}

void spec_resources_clear(spec_resources *r)
{
	free(r->devices);
	free(r->cpu_cpus);
	free(r->cpu_mems);
	free(r->blkio_weight_devices);
	for (int k = 0; k < 4; k++)
		free(r->blkio_throttle[k]);
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		free(r->hugepage_limits[i].page_size);
	free(r->hugepage_limits);
	for (size_t i = 0; i < r->n_net_priorities; i++)
		free(r->net_priorities[i].name);
	free(r->net_priorities);
	for (size_t i = 0; i < r->n_unified; i++) {
		free(r->unified[i].key);
		free(r->unified[i].value);
	}
	free(r->unified);
	memset(r, 0, sizeof(*r));
}
