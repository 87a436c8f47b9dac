/* cgroup v2: one unified directory; controllers enabled in the parents'
 * cgroup.subtree_control; v1-style values converted as runc converts them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

uint64_t cgroup_v2_cpu_weight_from_shares(uint64_t shares)
{
	if (shares <= 2)
		return 1;
	if (shares >= 262144)
		return 10000;
	return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cgroup_v2_io_weight_from_blkio(uint64_t weight)
{
	if (weight <= 10)
		return 1;
	if (weight >= 1000)
		return 10000;
	return 1 + (weight - 10) * 9999 / 990;
}

int cgroup_v2_swap_from_memsw(int64_t memory_swap, int64_t memory, int64_t *out, bool *set, berth_error **err)
{
	*out = 0;
	*set = true;
	/* Unlimited memory with swap unset means both unlimited (v1 compat). */
	if (memory == -1 && memory_swap == 0) {
		*out = -1;
		return 0;
	}
	if (memory_swap == -1) {
		*out = -1;
		return 0;
	}
	if (memory_swap == 0) {
		*set = false;
		return 0;
	}
	if (memory == 0 || memory == -1)
		return berth_error_set(err, EINVAL, "cgroup \"memory.swap.max\": a swap limit needs a memory limit");
	if (memory < 0)
		return berth_error_set(err, EINVAL, "cgroup \"memory.swap.max\": invalid memory limit %" PRId64,
				       memory);
	if (memory_swap < memory)
		return berth_error_set(err, EINVAL,
				       "cgroup \"memory.swap.max\": memory+swap limit %" PRId64
				       " is below the memory limit %" PRId64,
				       memory_swap, memory);
	/* Equal limits disable swap: 0 is written, not left unset. */
	*out = memory_swap - memory;
	return 0;
}

static bool word_in(const char *list, const char *word, size_t len)
{
	for (const char *p = list; *p;) {
		size_t wlen;
		while (*p == ' ' || *p == '\n')
			p++;
		wlen = strcspn(p, " \n");
		if (wlen == len && strncmp(p, word, len) == 0)
			return true;
		p += wlen;
	}
	return false;
}

static int enable_in(const char *dir, berth_error **err)
{
	_cleanup_free_ char *available = NULL;
	_cleanup_free_ char *enabled = NULL;
	int ret = 0;

	/* A fake tree (tests) has these files only where the test made them. */
	if (!cgroup_file_exists(dir, "cgroup.controllers") || !cgroup_file_exists(dir, "cgroup.subtree_control"))
		return 0;
	if (cgroup_read(dir, "cgroup.controllers", &available, err) < 0 ||
	    cgroup_read(dir, "cgroup.subtree_control", &enabled, err) < 0)
		return -1;
	for (const char *p = available; *p;) {
		size_t len;
		while (*p == ' ' || *p == '\n')
			p++;
		len = strcspn(p, " \n");
		if (len > 0 && !word_in(enabled, p, len)) {
			berth_error *inner = NULL;
			/* One at a time: a controller that cannot be enabled here
			 * must not keep the others off. */
			if (cgroup_writef(dir, "cgroup.subtree_control", &inner, "+%.*s", (int)len, p) < 0) {
				if (ret == 0)
					ret = cgroup_error_move(err, &inner);
				else
					berth_error_free(&inner);
			}
		}
		p += len;
	}
	return ret;
}

int cgroup_v2_enable_controllers(cgroup_hierarchy *h, unsigned first, berth_error **err)
{
	_cleanup_free_ char *inner = strdup(h->inner);
	_cleanup_free_ char *dir = strdup(h->mount);
	unsigned level = 0;
	char *save = NULL, *c;
	int ret = 0;

	if (inner == NULL || dir == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: enable controllers");
	c = strtok_r(inner, "/", &save);
	while (c != NULL) {
		char *next = strtok_r(NULL, "/", &save);
		if (level >= first) {
			berth_error *e = NULL;
			if (enable_in(dir, &e) < 0) {
				if (ret == 0)
					ret = cgroup_error_move(err, &e);
				else
					berth_error_free(&e);
			}
		}
		/* Down one level: DIR becomes the parent of NEXT. */
		{
			char *joined = cgroup_join(dir, c);
			if (joined == NULL)
				return berth_error_set(err, ENOMEM, "cgroup: enable controllers");
			free(dir);
			dir = joined;
		}
		level++;
		c = next;
	}
	return ret;
}

static int write_limit(const char *dir, const char *file, int64_t v, berth_error **err)
{
	if (v < 0)
		return cgroup_write(dir, file, "max", err);
	return cgroup_writef(dir, file, err, "%" PRId64, v);
}

static int apply_memory(const char *dir, const spec_resources *r, bool set_swap, int64_t swap, berth_error **err)
{
	if (set_swap) {
		if (swap == -1 && !cgroup_file_exists(dir, "memory.swap.max"))
			berth_debug("cgroup: no swap accounting; unlimited swap needs no setting");
		else if (write_limit(dir, "memory.swap.max", swap, err) < 0)
			return -1;
	}
	if (r->has_memory_limit && r->memory_limit != 0 && write_limit(dir, "memory.max", r->memory_limit, err) < 0)
		return -1;
	if (r->has_memory_reservation && r->memory_reservation != 0 &&
	    write_limit(dir, "memory.low", r->memory_reservation, err) < 0)
		return -1;
	if (r->has_memory_swappiness || (r->has_disable_oom_killer && r->disable_oom_killer) || r->has_memory_kernel ||
	    r->has_memory_kernel_tcp)
		berth_debug("cgroup: memory swappiness, disableOOMKiller and kernel limits do not exist on cgroup v2; "
			    "ignored");
	return 0;
}

static int apply_cpu(const char *dir, const spec_resources *r, berth_error **err)
{
	bool quota = r->has_cpu_quota && r->cpu_quota != 0;
	bool period = r->has_cpu_period && r->cpu_period != 0;

	if (r->has_cpu_shares && r->cpu_shares != 0 &&
	    cgroup_writef(dir, "cpu.weight", err, "%" PRIu64, cgroup_v2_cpu_weight_from_shares(r->cpu_shares)) < 0)
		return -1;
	if (quota || period) {
		_cleanup_free_ char *current = NULL;
		char q[32];

		if (quota && r->cpu_quota > 0) {
			snprintf(q, sizeof(q), "%" PRId64, r->cpu_quota);
		} else if (quota) {
			snprintf(q, sizeof(q), "max");
		} else {
			/* Only the period changes: keep the quota in place. */
			snprintf(q, sizeof(q), "max");
			if (cgroup_read(dir, "cpu.max", &current, NULL) == 0 && current[0] >= '0' && current[0] <= '9')
				snprintf(q, sizeof(q), "%.*s", (int)strcspn(current, " \n"), current);
		}
		if ((period ? cgroup_writef(dir, "cpu.max", err, "%s %" PRIu64, q, r->cpu_period)
			    : cgroup_write(dir, "cpu.max", q, err)) < 0)
			return -1;
	}
	if (r->has_cpu_burst && cgroup_writef(dir, "cpu.max.burst", err, "%" PRIu64, r->cpu_burst) < 0)
		return -1;
	if (r->has_cpu_idle && (r->cpu_idle != 0 || cgroup_file_exists(dir, "cpu.idle")) &&
	    cgroup_writef(dir, "cpu.idle", err, "%" PRId64, r->cpu_idle) < 0)
		return -1;
	if (r->cpu_cpus && r->cpu_cpus[0] && cgroup_write(dir, "cpuset.cpus", r->cpu_cpus, err) < 0)
		return -1;
	if (r->cpu_mems && r->cpu_mems[0] && cgroup_write(dir, "cpuset.mems", r->cpu_mems, err) < 0)
		return -1;
	return 0;
}

static int apply_io_weight(const char *dir, const spec_resources *r, berth_error **err)
{
	/* Only BFQ (io.bfq.weight) takes the blkio value as is. */
	bool bfq = !cgroup_file_exists(dir, "io.weight") && cgroup_file_exists(dir, "io.bfq.weight");
	const char *file = bfq ? "io.bfq.weight" : "io.weight";

	if (r->has_blkio_weight && r->blkio_weight != 0 &&
	    cgroup_writef(dir, file, err, "%" PRIu64,
			  bfq ? r->blkio_weight : cgroup_v2_io_weight_from_blkio(r->blkio_weight)) < 0)
		return -1;
	for (size_t i = 0; i < r->n_blkio_weight_devices; i++) {
		const spec_weight_device *w = &r->blkio_weight_devices[i];
		if (w->has_weight &&
		    cgroup_writef(dir, file, err, "%" PRId64 ":%" PRId64 " %" PRIu64, w->major, w->minor,
				  bfq ? w->weight : cgroup_v2_io_weight_from_blkio(w->weight)) < 0)
			return -1;
	}
	return 0;
}

/* io.max takes one line per device with every limit of that device. */
static int apply_io_max(const char *dir, const spec_resources *r, berth_error **err)
{
	static const char *const keys[4] = { "rbps", "wbps", "riops", "wiops" };

	for (int k = 0; k < 4; k++)
		for (size_t i = 0; i < r->n_blkio_throttle[k]; i++) {
			const spec_throttle *t = &r->blkio_throttle[k][i];
			char line[256];
			size_t len;
			bool seen = false;

			/* Written with the first list that names the device. */
			for (int pk = 0; pk <= k && !seen; pk++)
				for (size_t pi = 0; pi < (pk == k ? i : r->n_blkio_throttle[pk]) && !seen; pi++)
					seen = r->blkio_throttle[pk][pi].major == t->major &&
					       r->blkio_throttle[pk][pi].minor == t->minor;
			if (seen)
				continue;
			len = (size_t)snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64, t->major, t->minor);
			for (int lk = k; lk < 4; lk++)
				for (size_t li = 0; li < r->n_blkio_throttle[lk]; li++) {
					const spec_throttle *o = &r->blkio_throttle[lk][li];
					if (o->major != t->major || o->minor != t->minor || len >= sizeof(line))
						continue;
					/* 0 lifts the limit, as it does on v1. */
					if (o->rate == 0)
						len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=max",
									keys[lk]);
					else
						len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%" PRIu64,
									keys[lk], o->rate);
					break;
				}
			if (cgroup_write(dir, "io.max", line, err) < 0)
				return -1;
		}
	return 0;
}

static int apply_unified(const char *dir, const spec_resources *r, berth_error **err)
{
	for (size_t i = 0; i < r->n_unified; i++) {
		const char *key = r->unified[i].key;

		if (!cgroup_file_exists(dir, key))
			return berth_error_set(err, ENOENT,
					       "cgroup: linux.resources.unified \"%s\": no such file in \"%s\" (is its "
					       "controller enabled?)",
					       key, dir);
		if (cgroup_write(dir, key, r->unified[i].value, err) < 0)
			return berth_error_wrap(err, "linux.resources.unified");
	}
	return 0;
}

static int validate(const spec_resources *r, bool *set_swap, int64_t *swap, berth_error **err)
{
	char size[32];

	*swap = 0;
	*set_swap = false;
	if (r->has_memory_swap || (r->has_memory_limit && r->memory_limit == -1)) {
		if (cgroup_v2_swap_from_memsw(r->has_memory_swap ? r->memory_swap : 0,
					      r->has_memory_limit ? r->memory_limit : 0, swap, set_swap, err) < 0)
			return -1;
	}
	if ((r->has_cpu_realtime_period && r->cpu_realtime_period != 0) ||
	    (r->has_cpu_realtime_runtime && r->cpu_realtime_runtime != 0))
		return berth_error_set(err, EINVAL,
				       "cgroup: cpu.realtimePeriod and cpu.realtimeRuntime are not "
				       "supported on cgroup v2");
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		if (cgroup_hugepage_size_name(r->hugepage_limits[i].page_size, size, sizeof(size), err) < 0)
			return -1;
	for (size_t i = 0; i < r->n_unified; i++) {
		const char *key = r->unified[i].key;
		if (key[0] == '\0' || key[0] == '.' || strchr(key, '/') != NULL)
			return berth_error_set(err, EINVAL,
					       "cgroup: linux.resources.unified \"%s\": not a cgroup file name", key);
	}
	if (r->has_net_class_id || r->n_net_priorities > 0)
		berth_debug("cgroup: network classID and priorities do not exist on cgroup v2; ignored");
	return 0;
}

int cgroup_v2_apply(cgroup_manager *m, const spec_resources *r, berth_error **err)
{
	cgroup_hierarchy *h = cgroup_find_unified(m);
	bool set_swap;
	int64_t swap;
	char size[32], file[64];

	if (validate(r, &set_swap, &swap, err) < 0)
		return -1;
	if (h == NULL)
		return berth_error_set(err, ENOENT, "cgroup: no unified hierarchy");
	if (h->disabled) {
		berth_log(BERTH_LOG_WARNING, "cgroup: %s could not be created; resources not applied", m->path);
		return 0;
	}
	if (apply_memory(h->dir, r, set_swap, swap, err) < 0 || apply_cpu(h->dir, r, err) < 0)
		return -1;
	if (r->has_pids_limit &&
	    (r->pids_limit <= 0 ? cgroup_write(h->dir, "pids.max", "max", err)
				: cgroup_writef(h->dir, "pids.max", err, "%" PRId64, r->pids_limit)) < 0)
		return -1;
	if (apply_io_weight(h->dir, r, err) < 0 || apply_io_max(h->dir, r, err) < 0)
		return -1;
	for (size_t i = 0; i < r->n_hugepage_limits; i++) {
		if (cgroup_hugepage_size_name(r->hugepage_limits[i].page_size, size, sizeof(size), err) < 0)
			return -1;
		snprintf(file, sizeof(file), "hugetlb.%s.max", size);
		if (cgroup_writef(h->dir, file, err, "%" PRIu64, r->hugepage_limits[i].limit) < 0)
			return -1;
	}
	if (r->n_devices > 0) {
		berth_error *inner = NULL;
		if (cgroup_ebpf_apply_devices(h->dir, r->devices, r->n_devices, &inner) < 0) {
			if (!m->rootless || inner == NULL || (inner->code != EPERM && inner->code != EACCES))
				return cgroup_error_move(err, &inner);
			berth_log(BERTH_LOG_WARNING, "%s; device rules not enforced", cgroup_error_text(inner));
			berth_error_free(&inner);
		}
	}
	/* Last, so that explicit unified values win over converted ones. */
	return apply_unified(h->dir, r, err);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int usable_dir(cgroup_manager *m, const char **dir, berth_error **err)
{
	cgroup_hierarchy *h = cgroup_find_unified(m);

	if (h == NULL || h->disabled)
		return berth_error_set(err, ENOTSUP, "cgroup: %s: the cgroup could not be created", m->path);
	*dir = h->dir;
	return 0;
}

int cgroup_v2_freeze(cgroup_manager *m, bool frozen, berth_error **err)
{
	const char *dir = NULL;

	if (usable_dir(m, &dir, err) < 0)
		return -1;
	if (!cgroup_file_exists(dir, "cgroup.freeze"))
		return berth_error_set(err, ENOTSUP, "cgroup: \"%s\" has no cgroup.freeze (kernel older than 5.2)",
				       dir);
	if (cgroup_write(dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
		return -1;
	/* cgroup.freeze is the request; cgroup.events says when it is done. */
	for (int attempt = 0; attempt < 200; attempt++) {
		uint64_t v = 0;
		if (cgroup_read_keyed(dir, "cgroup.events", "frozen", &v) == 0 && (v != 0) == frozen)
			return 0;
		sleep_ms(10);
	}
	if (frozen) {
		berth_error *ignored = NULL;
		if (cgroup_write(dir, "cgroup.freeze", "0", &ignored) < 0)
			berth_error_free(&ignored);
	}
	return berth_error_set(err, ETIMEDOUT, "cgroup: %s \"%s\": cgroup.events did not report \"frozen %d\"",
			       frozen ? "freeze" : "thaw", dir, frozen ? 1 : 0);
}

int cgroup_v2_is_frozen(cgroup_manager *m, bool *frozen, berth_error **err)
{
	cgroup_hierarchy *h = cgroup_find_unified(m);
	uint64_t v = 0;

	*frozen = false;
	if (h == NULL || h->disabled)
		return 0;
	if (cgroup_read_keyed(h->dir, "cgroup.events", "frozen", &v) == 0)
		*frozen = v != 0;
	return 0;
}
