/* `update`: new resource limits from -r JSON and/or runc's flags. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/runtime/commands.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"

enum {
	U_RESOURCES,
	U_BLKIO_WEIGHT,
	U_CPU_PERIOD,
	U_CPU_QUOTA,
	U_CPU_SHARE,
	U_CPU_RT_PERIOD,
	U_CPU_RT_RUNTIME,
	U_CPUSET_CPUS,
	U_CPUSET_MEMS,
	U_KMEM,
	U_KMEM_TCP,
	U_MEMORY,
	U_MEMORY_RES,
	U_MEMORY_SWAP,
	U_PIDS,
	U_L3,
	U_MEMBW,
	U_COUNT
};

static const option_spec specs[] = {
	[U_RESOURCES] = { "resources", 'r', true, "path to a linux.resources JSON file, \"-\" for stdin" },
	[U_BLKIO_WEIGHT] = { "blkio-weight", 0, true, "block IO weight (10-1000)" },
	[U_CPU_PERIOD] = { "cpu-period", 0, true, "CPU CFS period in microseconds" },
	[U_CPU_QUOTA] = { "cpu-quota", 0, true, "CPU CFS quota in microseconds" },
	[U_CPU_SHARE] = { "cpu-share", 0, true, "CPU shares" },
	[U_CPU_RT_PERIOD] = { "cpu-rt-period", 0, true, "realtime period in microseconds" },
	[U_CPU_RT_RUNTIME] = { "cpu-rt-runtime", 0, true, "realtime runtime in microseconds" },
	[U_CPUSET_CPUS] = { "cpuset-cpus", 0, true, "CPUs to use (0-3, 0,1)" },
	[U_CPUSET_MEMS] = { "cpuset-mems", 0, true, "memory nodes to use" },
	[U_KMEM] = { "kernel-memory", 0, true, "ignored (kernel memory limits are gone from the kernel)" },
	[U_KMEM_TCP] = { "kernel-memory-tcp", 0, true, "ignored" },
	[U_MEMORY] = { "memory", 0, true, "memory limit (bytes, or with k/m/g suffix)" },
	[U_MEMORY_RES] = { "memory-reservation", 0, true, "memory soft limit" },
	[U_MEMORY_SWAP] = { "memory-swap", 0, true, "memory plus swap limit (-1 for unlimited)" },
	[U_PIDS] = { "pids-limit", 0, true, "maximum number of processes" },
	[U_L3] = { "l3-cache-schema", 0, true, "Intel RDT (not supported)" },
	[U_MEMBW] = { "mem-bw-schema", 0, true, "Intel RDT (not supported)" },
	[U_COUNT] = { NULL, 0, false, NULL },
};

/* "512m", "1G", "1024", "-1" -> bytes */
static int parse_size(const char *flag, const char *text, json_int_t *out, berth_error **err)
{
	char *end;
	double v = strtod(text, &end);
	double mult = 1;

	if (end == text)
		return berth_error_set(err, EINVAL, "update: --%s \"%s\" is not a size", flag, text);
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'k':
		mult = 1024.0;
		break;
	case 'm':
		mult = 1024.0 * 1024;
		break;
	case 'g':
		mult = 1024.0 * 1024 * 1024;
		break;
	case 't':
		mult = 1024.0 * 1024 * 1024 * 1024;
		break;
	default:
		return berth_error_set(err, EINVAL, "update: --%s \"%s\" is not a size", flag, text);
	}
	if (*end && end[1] != '\0' && !((end[1] == 'b' || end[1] == 'B') && end[2] == '\0'))
		return berth_error_set(err, EINVAL, "update: --%s \"%s\" is not a size", flag, text);
	*out = (json_int_t)(v * mult);
	return 0;
}

static int parse_int(const char *flag, const char *text, json_int_t *out, berth_error **err)
{
	char *end;
	long long v = strtoll(text, &end, 10);
	if (end == text || *end != '\0')
		return berth_error_set(err, EINVAL, "update: --%s \"%s\" is not a number", flag, text);
	*out = v;
	return 0;
}

static json_t *section(json_t *root, const char *name)
{
	json_t *s = json_object_get(root, name);
	if (!json_is_object(s)) {
		s = json_object();
		json_object_set_new(root, name, s);
	}
	return s;
}

static int apply_flags(option_value *v, json_t *root, berth_error **err)
{
	static const struct {
		int idx;
		const char *section, *key;
		bool size;
	} map[] = {
		{ U_BLKIO_WEIGHT, "blockIO", "weight", false },
		{ U_CPU_PERIOD, "cpu", "period", false },
		{ U_CPU_QUOTA, "cpu", "quota", false },
		{ U_CPU_SHARE, "cpu", "shares", false },
		{ U_CPU_RT_PERIOD, "cpu", "realtimePeriod", false },
		{ U_CPU_RT_RUNTIME, "cpu", "realtimeRuntime", false },
		{ U_MEMORY, "memory", "limit", true },
		{ U_MEMORY_RES, "memory", "reservation", true },
		{ U_MEMORY_SWAP, "memory", "swap", true },
		{ U_PIDS, "pids", "limit", false },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		json_int_t n;
		if (!v[map[i].idx].set)
			continue;
		if ((map[i].size ? parse_size : parse_int)(specs[map[i].idx].name, v[map[i].idx].value, &n, err) < 0)
			return -1;
		json_object_set_new(section(root, map[i].section), map[i].key, json_integer(n));
	}
	if (v[U_CPUSET_CPUS].set)
		json_object_set_new(section(root, "cpu"), "cpus", json_string(v[U_CPUSET_CPUS].value));
	if (v[U_CPUSET_MEMS].set)
		json_object_set_new(section(root, "cpu"), "mems", json_string(v[U_CPUSET_MEMS].value));
	if (v[U_L3].set || v[U_MEMBW].set)
		return berth_error_set(err, ENOTSUP, "update: Intel RDT is not supported");
	return 0;
}

int cmd_update(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[U_COUNT + 1] = { { 0 } };
	_cleanup_free_ char **pos = NULL;
	_cleanup_free_ char *text = NULL;
	spec_resources r;
	json_t *root;
	int npos,
	    ret = command_parse("update", "update [flags] ID", specs, argc, argv, false, v, &pos, &npos, 1, 1, err);

	if (ret != 0)
		return ret < 0 ? 1 : 0;
	if (v[U_RESOURCES].set) {
		json_error_t jerr;
		const char *path = strcmp(v[U_RESOURCES].value, "-") == 0 ? "/dev/stdin" : v[U_RESOURCES].value;
		if (fs_read_file(path, &text, NULL, err) < 0)
			return berth_error_wrap(err, "update %s: --resources", pos[0]), 1;
		root = json_loads(text, 0, &jerr);
		if (root == NULL || !json_is_object(root)) {
			json_decref(root);
			return berth_error_set(err, EINVAL, "update %s: --resources: invalid JSON: %s", pos[0],
					       jerr.text),
			       1;
		}
	} else {
		root = json_object();
	}
	if (apply_flags(v, root, err) < 0) {
		json_decref(root);
		return 1;
	}
	free(text);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (spec_parse_resources(text, &r, err) < 0)
		return berth_error_wrap(err, "update %s", pos[0]), 1;
	ret = container_update(g, pos[0], &r, err);
	spec_resources_clear(&r);
	options_free_values(v, U_COUNT);
	return ret < 0 ? 1 : 0;
}
