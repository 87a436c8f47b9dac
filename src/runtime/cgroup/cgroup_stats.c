/* `events --stats` data in runc's JSON shape (libcontainer/cgroups Stats as
 * `runc events` prints it), read from whatever files the host has.
 * Numbers above INT64_MAX ("max") are clamped: jansson has no uint64. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cgroup/cgroup_internal.h"
#include "util/cleanup.h"

static json_t *child(json_t *obj, const char *key)
{
	json_t *c = json_object_get(obj, key);

	if (c == NULL) {
		c = json_object();
		json_object_set_new(obj, key, c);
	}
	return c;
}

static void set_u64(json_t *obj, const char *key, uint64_t v)
{
	json_object_set_new(obj, key, json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v));
}

static bool read_u64(const char *dir, const char *file, uint64_t *v)
{
	return cgroup_read_u64(dir, file, v, NULL) == 0;
}

static void put(json_t *obj, const char *key, const char *dir, const char *file)
{
	uint64_t v;
	if (read_u64(dir, file, &v))
		set_u64(obj, key, v);
}

/* "key value" lines (memory.stat) as an object; NULL when unreadable. */
static json_t *read_flat(const char *dir, const char *file)
{
	_cleanup_free_ char *text = NULL;
	json_t *out;
	char *save = NULL;

	if (cgroup_read(dir, file, &text, NULL) < 0)
		return NULL;
	out = json_object();
	for (char *line = strtok_r(text, "\n", &save); out && line; line = strtok_r(NULL, "\n", &save)) {
		char *space = strchr(line, ' ');
		char *end = NULL;
		unsigned long long v;
		if (space == NULL)
			continue;
		*space = '\0';
		v = strtoull(space + 1, &end, 10);
		if (end != space + 1)
			set_u64(out, line, v);
	}
	return out;
}

static const char *usable(cgroup_hierarchy *h)
{
	return h != NULL && !h->disabled ? h->dir : NULL;
}

static void v1_cpu(cgroup_manager *m, json_t *out)
{
	const char *acct = usable(cgroup_find_v1(m, "cpuacct"));
	const char *cpu = usable(cgroup_find_v1(m, "cpu"));
	json_t *usage = child(child(out, "cpu"), "usage");
	_cleanup_free_ char *percpu = NULL;
	uint64_t v;

	if (acct != NULL) {
		long tick = sysconf(_SC_CLK_TCK);
		put(usage, "total", acct, "cpuacct.usage");
		if (cgroup_read(acct, "cpuacct.usage_percpu", &percpu, NULL) == 0) {
			json_t *arr = json_array();
			char *p = percpu, *end;
			for (;;) {
				unsigned long long n = strtoull(p, &end, 10);
				if (end == p)
					break;
				json_array_append_new(arr, json_integer((json_int_t)n));
				p = end;
			}
			json_object_set_new(usage, "percpu", arr);
		}
		/* cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds. */
		if (tick <= 0)
			tick = 100;
		if (cgroup_read_keyed(acct, "cpuacct.stat", "system", &v) == 0)
			set_u64(usage, "kernel", v * (1000000000ULL / (uint64_t)tick));
		if (cgroup_read_keyed(acct, "cpuacct.stat", "user", &v) == 0)
			set_u64(usage, "user", v * (1000000000ULL / (uint64_t)tick));
	}
	if (cpu != NULL) {
		json_t *t = child(child(out, "cpu"), "throttling");
		if (cgroup_read_keyed(cpu, "cpu.stat", "nr_periods", &v) == 0)
			set_u64(t, "periods", v);
		if (cgroup_read_keyed(cpu, "cpu.stat", "nr_throttled", &v) == 0)
			set_u64(t, "throttledPeriods", v);
		if (cgroup_read_keyed(cpu, "cpu.stat", "throttled_time", &v) == 0)
			set_u64(t, "throttledTime", v);
	}
}

static void v1_memory_entry(json_t *mem, const char *key, const char *dir, const char *prefix)
{
	static const char *const files[4][2] = { { "limit", "limit_in_bytes" },
						 { "usage", "usage_in_bytes" },
						 { "max", "max_usage_in_bytes" },
						 { "failcnt", "failcnt" } };
	json_t *e = NULL;

	for (int i = 0; i < 4; i++) {
		char file[96];
		uint64_t v;
		snprintf(file, sizeof(file), "%s%s", prefix, files[i][1]);
		if (!read_u64(dir, file, &v))
			continue;
		if (e == NULL)
			e = child(mem, key);
		set_u64(e, files[i][0], v);
	}
}

static void v1_memory(cgroup_manager *m, json_t *out)
{
	const char *dir = usable(cgroup_find_v1(m, "memory"));
	json_t *mem, *raw;

	if (dir == NULL)
		return;
	mem = child(out, "memory");
	v1_memory_entry(mem, "usage", dir, "memory.");
	v1_memory_entry(mem, "swap", dir, "memory.memsw.");
	v1_memory_entry(mem, "kernel", dir, "memory.kmem.");
	v1_memory_entry(mem, "kernelTCP", dir, "memory.kmem.tcp.");
	raw = read_flat(dir, "memory.stat");
	if (raw != NULL) {
		json_t *cache = json_object_get(raw, "cache");
		if (cache != NULL)
			json_object_set(mem, "cache", cache);
		json_object_set_new(mem, "raw", raw);
	}
}

static void pids_stats(const char *dir, json_t *out)
{
	json_t *p;
	uint64_t v;

	if (dir == NULL)
		return;
	p = child(out, "pids");
	put(p, "current", dir, "pids.current");
	/* "max" is no limit: runc reports 0. */
	if (read_u64(dir, "pids.max", &v))
		set_u64(p, "limit", v == UINT64_MAX ? 0 : v);
}

static void add_blkio_entry(json_t *arr, unsigned long major, unsigned long minor, const char *op, uint64_t v)
{
	json_t *e = json_pack("{s:I, s:I}", "major", (json_int_t)major, "minor", (json_int_t)minor);
	if (op != NULL)
		json_object_set_new(e, "op", json_string(op));
	set_u64(e, "value", v);
	json_array_append_new(arr, e);
}

/* "8:0 Read 1234" (or "8:0 1234") lines; "Total" lines are skipped. */
static json_t *v1_blkio_entries(const char *dir, const char *file)
{
	_cleanup_free_ char *text = NULL;
	json_t *arr;
	char *save = NULL;

	if (cgroup_read(dir, file, &text, NULL) < 0)
		return NULL;
	arr = json_array();
	for (char *line = strtok_r(text, "\n", &save); arr && line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long major, minor;
		unsigned long long v;
		char op[32];
		if (sscanf(line, "%lu:%lu %31s %llu", &major, &minor, op, &v) == 4)
			add_blkio_entry(arr, major, minor, op, v);
		else if (sscanf(line, "%lu:%lu %llu", &major, &minor, &v) == 3)
			add_blkio_entry(arr, major, minor, NULL, v);
	}
	return arr;
}

static void v1_blkio(cgroup_manager *m, json_t *out)
{
	static const char *const sources[][4] = {
		{ "ioServiceBytesRecursive", "blkio.io_service_bytes_recursive",
		  "blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes" },
		{ "ioServicedRecursive", "blkio.io_serviced_recursive", "blkio.throttle.io_serviced_recursive",
		  "blkio.throttle.io_serviced" },
		{ "ioQueueRecursive", "blkio.io_queued_recursive", NULL, NULL },
		{ "ioServiceTimeRecursive", "blkio.io_service_time_recursive", NULL, NULL },
		{ "ioWaitTimeRecursive", "blkio.io_wait_time_recursive", NULL, NULL },
		{ "ioMergedRecursive", "blkio.io_merged_recursive", NULL, NULL },
		{ "ioTimeRecursive", "blkio.time_recursive", NULL, NULL },
		{ "sectorsRecursive", "blkio.sectors_recursive", NULL, NULL },
	};
	const char *dir = usable(cgroup_find_v1(m, "blkio"));
	json_t *b;

	if (dir == NULL)
		return;
	b = child(out, "blkio");
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		/* The CFQ files exist but stay empty under other schedulers. */
		for (int f = 1; f < 4 && sources[i][f] != NULL; f++) {
			json_t *arr = v1_blkio_entries(dir, sources[i][f]);
			if (arr != NULL && json_array_size(arr) > 0) {
				json_object_set_new(b, sources[i][0], arr);
				break;
			}
			json_decref(arr);
		}
}

/* hugetlb.<size>.<SUFFIX> files name the sizes the host supports. */
static void hugetlb_stats(const char *dir, json_t *out, const char *suffix, bool v2)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	json_t *h;

	if (dir == NULL || (d = opendir(dir)) == NULL)
		return;
	h = child(out, "hugetlb");
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name), slen = strlen(suffix);
		char size[32], file[96];
		json_t *e;
		uint64_t v;

		if (strncmp(de->d_name, "hugetlb.", 8) != 0 || len <= 8 + slen ||
		    strcmp(de->d_name + len - slen, suffix) != 0 || len - slen - 8 >= sizeof(size))
			continue;
		snprintf(size, sizeof(size), "%.*s", (int)(len - slen - 8), de->d_name + 8);
		if (strchr(size, '.') != NULL)
			continue; /* hugetlb.2MB.rsvd.* */
		e = child(h, size);
		put(e, "usage", dir, de->d_name);
		if (v2) {
			snprintf(file, sizeof(file), "hugetlb.%s.events", size);
			if (cgroup_read_keyed(dir, file, "max", &v) == 0)
				set_u64(e, "failcnt", v);
		} else {
			snprintf(file, sizeof(file), "hugetlb.%s.max_usage_in_bytes", size);
			put(e, "max", dir, file);
			snprintf(file, sizeof(file), "hugetlb.%s.failcnt", size);
			put(e, "failcnt", dir, file);
		}
	}
}

int cgroup_v1_stats(cgroup_manager *m, json_t *out, berth_error **err)
{
	v1_cpu(m, out);
	v1_memory(m, out);
	pids_stats(usable(cgroup_find_v1(m, "pids")), out);
	v1_blkio(m, out);
	hugetlb_stats(usable(cgroup_find_v1(m, "hugetlb")), out, ".usage_in_bytes", false);
	return 0;
}

static void v2_cpu(const char *dir, json_t *out)
{
	json_t *cpu = child(out, "cpu");
	json_t *usage = child(cpu, "usage");
	json_t *t = child(cpu, "throttling");
	uint64_t v;

	/* cpu.stat counts microseconds; runc reports nanoseconds. */
	if (cgroup_read_keyed(dir, "cpu.stat", "usage_usec", &v) == 0)
		set_u64(usage, "total", v * 1000);
	if (cgroup_read_keyed(dir, "cpu.stat", "system_usec", &v) == 0)
		set_u64(usage, "kernel", v * 1000);
	if (cgroup_read_keyed(dir, "cpu.stat", "user_usec", &v) == 0)
		set_u64(usage, "user", v * 1000);
	if (cgroup_read_keyed(dir, "cpu.stat", "nr_periods", &v) == 0)
		set_u64(t, "periods", v);
	if (cgroup_read_keyed(dir, "cpu.stat", "nr_throttled", &v) == 0)
		set_u64(t, "throttledPeriods", v);
	if (cgroup_read_keyed(dir, "cpu.stat", "throttled_usec", &v) == 0)
		set_u64(t, "throttledTime", v * 1000);
}

static void v2_memory(const char *dir, json_t *out)
{
	json_t *mem = child(out, "memory");
	json_t *usage = child(mem, "usage");
	uint64_t cur = 0, max = UINT64_MAX, swap_cur, swap_max, v;
	json_t *raw;

	if (read_u64(dir, "memory.current", &cur))
		set_u64(usage, "usage", cur);
	if (read_u64(dir, "memory.max", &max))
		set_u64(usage, "limit", max);
	put(usage, "max", dir, "memory.peak");
	if (cgroup_read_keyed(dir, "memory.events", "max", &v) == 0)
		set_u64(usage, "failcnt", v);
	/* As runc: v2 swap counts apart, v1's memsw counted memory+swap. */
	if (read_u64(dir, "memory.swap.current", &swap_cur) && read_u64(dir, "memory.swap.max", &swap_max)) {
		json_t *swap = child(mem, "swap");
		set_u64(swap, "usage", swap_cur + cur);
		set_u64(swap, "limit", swap_max == UINT64_MAX || max == UINT64_MAX ? UINT64_MAX : swap_max + max);
		if (cgroup_read_keyed(dir, "memory.swap.events", "max", &v) == 0)
			set_u64(swap, "failcnt", v);
	}
	raw = read_flat(dir, "memory.stat");
	if (raw != NULL) {
		json_t *file = json_object_get(raw, "file");
		if (file != NULL)
			json_object_set(mem, "cache", file);
		json_object_set_new(mem, "raw", raw);
	}
}

/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0". */
static void v2_io(const char *dir, json_t *out)
{
	_cleanup_free_ char *text = NULL;
	json_t *bytes, *ios;
	char *save = NULL;

	if (cgroup_read(dir, "io.stat", &text, NULL) < 0)
		return;
	bytes = json_array();
	ios = json_array();
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long major, minor;
		char *fsave = NULL;
		if (sscanf(line, "%lu:%lu", &major, &minor) != 2)
			continue;
		strtok_r(line, " ", &fsave);
		for (char *kv = strtok_r(NULL, " ", &fsave); kv; kv = strtok_r(NULL, " ", &fsave)) {
			unsigned long long v;
			char key[16];
			if (sscanf(kv, "%15[a-z]=%llu", key, &v) != 2)
				continue;
			if (strcmp(key, "rbytes") == 0 || strcmp(key, "wbytes") == 0)
				add_blkio_entry(bytes, major, minor, key[0] == 'r' ? "Read" : "Write", v);
			else if (strcmp(key, "rios") == 0 || strcmp(key, "wios") == 0)
				add_blkio_entry(ios, major, minor, key[0] == 'r' ? "Read" : "Write", v);
		}
	}
	json_object_set_new(child(out, "blkio"), "ioServiceBytesRecursive", bytes);
	json_object_set_new(child(out, "blkio"), "ioServicedRecursive", ios);
}

int cgroup_v2_stats(cgroup_manager *m, json_t *out, berth_error **err)
{
	const char *dir = usable(cgroup_find_unified(m));

	if (dir == NULL)
		return 0;
	v2_cpu(dir, out);
	v2_memory(dir, out);
	pids_stats(cgroup_file_exists(dir, "pids.current") ? dir : NULL, out);
	v2_io(dir, out);
	hugetlb_stats(dir, out, ".current", true);
	return 0;
}
