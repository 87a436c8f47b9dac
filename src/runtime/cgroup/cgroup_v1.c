/* cgroup v1 (and the resource side of hybrid): one directory per controller
 * hierarchy, knobs written as runc writes them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

/* The directory of CONTROLLER's hierarchy for writing FILE. *dir is NULL
 * (and 0 returned) when a rootless manager has to skip it. */
static int v1_dir(cgroup_manager *m, const char *controller, const char *file, const char **dir, berth_error **err)
{
	cgroup_hierarchy *h = cgroup_find_v1(m, controller);

	*dir = NULL;
	if (h != NULL && !h->disabled) {
		*dir = h->dir;
		return 0;
	}
	if (m->rootless) {
		berth_log(BERTH_LOG_WARNING, "cgroup \"%s\": the %s controller is not available to this user; not set",
			  file, controller);
		return 0;
	}
	if (h == NULL)
		return berth_error_set(err, ENOENT, "cgroup \"%s\": the %s controller is not mounted", file,
				       controller);
	return berth_error_set(err, ENOENT, "cgroup \"%s\": the %s cgroup could not be created", file, controller);
}

static int write_i64(const char *dir, const char *file, int64_t v, berth_error **err)
{
	return cgroup_writef(dir, file, err, "%" PRId64, v);
}

static int write_u64(const char *dir, const char *file, uint64_t v, berth_error **err)
{
	return cgroup_writef(dir, file, err, "%" PRIu64, v);
}

static int apply_memory_and_swap(const char *dir, const spec_resources *r, berth_error **err)
{
	bool limit = r->has_memory_limit && r->memory_limit != 0;
	bool swap = r->has_memory_swap && r->memory_swap != 0;
	bool swap_first = false;

	/* Without swap accounting there is no memsw file; "unlimited" then
	 * asks for nothing. */
	if (swap && r->memory_swap == -1 && !cgroup_file_exists(dir, "memory.memsw.limit_in_bytes")) {
		berth_debug("cgroup: no swap accounting; memory swap -1 ignored");
		swap = false;
	}
	/* The kernel keeps memory <= memory+swap at every step: raise memsw
	 * first when growing, lower the memory limit first when shrinking. */
	if (limit && swap) {
		uint64_t current;
		if (r->memory_swap == -1)
			swap_first = true;
		else if (cgroup_read_u64(dir, "memory.limit_in_bytes", &current, NULL) == 0)
			swap_first = current < (uint64_t)r->memory_swap;
	}
	if (swap_first && write_i64(dir, "memory.memsw.limit_in_bytes", r->memory_swap, err) < 0)
		return -1;
	if (limit && write_i64(dir, "memory.limit_in_bytes", r->memory_limit, err) < 0)
		return -1;
	if (swap && !swap_first && write_i64(dir, "memory.memsw.limit_in_bytes", r->memory_swap, err) < 0)
		return -1;
	return 0;
}

static int apply_memory(cgroup_manager *m, const spec_resources *r, berth_error **err)
{
	const char *dir = NULL;

	if (r->has_memory_kernel || r->has_memory_kernel_tcp)
		berth_debug("cgroup: memory.kernel and memory.kernelTCP are deprecated and ignored");
	if (!(r->has_memory_limit || r->has_memory_reservation || r->has_memory_swap || r->has_memory_swappiness ||
	      (r->has_disable_oom_killer && r->disable_oom_killer)))
		return 0;
	if (v1_dir(m, "memory", "memory.limit_in_bytes", &dir, err) < 0)
		return -1;
	if (dir == NULL)
		return 0;
	if (apply_memory_and_swap(dir, r, err) < 0)
		return -1;
	if (r->has_memory_reservation && r->memory_reservation != 0 &&
	    write_i64(dir, "memory.soft_limit_in_bytes", r->memory_reservation, err) < 0)
		return -1;
	if (r->has_memory_swappiness && write_u64(dir, "memory.swappiness", r->memory_swappiness, err) < 0)
		return -1;
	if (r->has_disable_oom_killer && r->disable_oom_killer && cgroup_write(dir, "memory.oom_control", "1", err) < 0)
		return -1;
	return 0;
}

static int apply_cpu_bandwidth(const char *dir, const spec_resources *r, berth_error **err)
{
	bool period = r->has_cpu_period && r->cpu_period != 0;
	bool quota = r->has_cpu_quota && r->cpu_quota != 0;
	bool period_pending = false;

	if (period) {
		berth_error *inner = NULL;
		if (write_u64(dir, "cpu.cfs_period_us", r->cpu_period, &inner) < 0) {
			/* A shorter period can exceed the parent's quota with the
			 * old quota: set the quota first, then retry. */
			if (!quota || inner == NULL || inner->code != EINVAL)
				return cgroup_error_move(err, &inner);
			berth_error_free(&inner);
			period_pending = true;
		}
	}
	if (quota && write_i64(dir, "cpu.cfs_quota_us", r->cpu_quota, err) < 0)
		return -1;
	if (period_pending && write_u64(dir, "cpu.cfs_period_us", r->cpu_period, err) < 0)
		return -1;
	if (r->has_cpu_burst && write_u64(dir, "cpu.cfs_burst_us", r->cpu_burst, err) < 0)
		return -1;
	return 0;
}

static int apply_cpu(cgroup_manager *m, const spec_resources *r, berth_error **err)
{
	bool any = r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period || r->has_cpu_burst ||
		   r->has_cpu_realtime_runtime || r->has_cpu_realtime_period || r->has_cpu_idle;
	const char *dir = NULL;

	if (any) {
		if (v1_dir(m, "cpu", "cpu.shares", &dir, err) < 0)
			return -1;
		if (dir == NULL)
			goto cpuset;
		if (r->has_cpu_shares && r->cpu_shares != 0 && write_u64(dir, "cpu.shares", r->cpu_shares, err) < 0)
			return -1;
		if (apply_cpu_bandwidth(dir, r, err) < 0)
			return -1;
		if (r->has_cpu_realtime_period && r->cpu_realtime_period != 0 &&
		    write_u64(dir, "cpu.rt_period_us", r->cpu_realtime_period, err) < 0)
			return -1;
		if (r->has_cpu_realtime_runtime && r->cpu_realtime_runtime != 0 &&
		    write_i64(dir, "cpu.rt_runtime_us", r->cpu_realtime_runtime, err) < 0)
			return -1;
		/* Older kernels have no cpu.idle; asking for 0 there is a no-op. */
		if (r->has_cpu_idle && (r->cpu_idle != 0 || cgroup_file_exists(dir, "cpu.idle")) &&
		    write_i64(dir, "cpu.idle", r->cpu_idle, err) < 0)
			return -1;
	}
cpuset:
	if ((r->cpu_cpus && r->cpu_cpus[0]) || (r->cpu_mems && r->cpu_mems[0])) {
		if (v1_dir(m, "cpuset", "cpuset.cpus", &dir, err) < 0)
			return -1;
		if (dir == NULL)
			return 0;
		if (r->cpu_cpus && r->cpu_cpus[0] && cgroup_write(dir, "cpuset.cpus", r->cpu_cpus, err) < 0)
			return -1;
		if (r->cpu_mems && r->cpu_mems[0] && cgroup_write(dir, "cpuset.mems", r->cpu_mems, err) < 0)
			return -1;
	}
	return 0;
}

static int apply_pids(cgroup_manager *m, const spec_resources *r, berth_error **err)
{
	const char *dir = NULL;

	if (!r->has_pids_limit)
		return 0;
	if (v1_dir(m, "pids", "pids.max", &dir, err) < 0)
		return -1;
	if (dir == NULL)
		return 0;
	if (r->pids_limit <= 0)
		return cgroup_write(dir, "pids.max", "max", err);
	return write_i64(dir, "pids.max", r->pids_limit, err);
}

/* blkio.weight, or blkio.bfq.weight on kernels with only BFQ. */
static const char *blkio_file(const char *dir, const char *plain, const char *bfq)
{
	if (!cgroup_file_exists(dir, plain) && cgroup_file_exists(dir, bfq))
		return bfq;
	return plain;
}

static int apply_blkio(cgroup_manager *m, const spec_resources *r, berth_error **err)
{
	static const char *const throttle_files[4] = { "blkio.throttle.read_bps_device",
						       "blkio.throttle.write_bps_device",
						       "blkio.throttle.read_iops_device",
						       "blkio.throttle.write_iops_device" };
	bool any = (r->has_blkio_weight && r->blkio_weight) || (r->has_blkio_leaf_weight && r->blkio_leaf_weight) ||
		   r->n_blkio_weight_devices > 0;
	const char *dir = NULL;

	for (int k = 0; k < 4; k++)
		any = any || r->n_blkio_throttle[k] > 0;
	if (!any)
		return 0;
	if (v1_dir(m, "blkio", "blkio.weight", &dir, err) < 0)
		return -1;
	if (dir == NULL)
		return 0;
	if (r->has_blkio_weight && r->blkio_weight != 0 &&
	    write_u64(dir, blkio_file(dir, "blkio.weight", "blkio.bfq.weight"), r->blkio_weight, err) < 0)
		return -1;
	if (r->has_blkio_leaf_weight && r->blkio_leaf_weight != 0 &&
	    write_u64(dir, "blkio.leaf_weight", r->blkio_leaf_weight, err) < 0)
		return -1;
	for (size_t i = 0; i < r->n_blkio_weight_devices; i++) {
		const spec_weight_device *w = &r->blkio_weight_devices[i];
		const char *file = blkio_file(dir, "blkio.weight_device", "blkio.bfq.weight_device");
		if (w->has_weight && cgroup_writef(dir, file, err, "%" PRId64 ":%" PRId64 " %u", w->major, w->minor,
						   (unsigned)w->weight) < 0)
			return -1;
		if (w->has_leaf_weight &&
		    cgroup_writef(dir, "blkio.leaf_weight_device", err, "%" PRId64 ":%" PRId64 " %u", w->major,
				  w->minor, (unsigned)w->leaf_weight) < 0)
			return -1;
	}
	for (int k = 0; k < 4; k++)
		for (size_t i = 0; i < r->n_blkio_throttle[k]; i++) {
			const spec_throttle *t = &r->blkio_throttle[k][i];
			if (cgroup_writef(dir, throttle_files[k], err, "%" PRId64 ":%" PRId64 " %" PRIu64, t->major,
					  t->minor, t->rate) < 0)
				return -1;
		}
	return 0;
}

static int apply_hugetlb(cgroup_manager *m, const spec_resources *r, berth_error **err)
{
	const char *dir = NULL;

	if (r->n_hugepage_limits == 0)
		return 0;
	if (v1_dir(m, "hugetlb", "hugetlb.limit_in_bytes", &dir, err) < 0)
		return -1;
	for (size_t i = 0; dir != NULL && i < r->n_hugepage_limits; i++) {
		char size[32], file[64];
		if (cgroup_hugepage_size_name(r->hugepage_limits[i].page_size, size, sizeof(size), err) < 0)
			return -1;
		snprintf(file, sizeof(file), "hugetlb.%s.limit_in_bytes", size);
		if (write_u64(dir, file, r->hugepage_limits[i].limit, err) < 0)
			return -1;
	}
	return 0;
}

static int apply_network(cgroup_manager *m, const spec_resources *r, berth_error **err)
{
	const char *dir = NULL;

	if (r->has_net_class_id) {
		if (v1_dir(m, "net_cls", "net_cls.classid", &dir, err) < 0)
			return -1;
		if (dir != NULL && write_u64(dir, "net_cls.classid", r->net_class_id, err) < 0)
			return -1;
	}
	if (r->n_net_priorities == 0)
		return 0;
	if (v1_dir(m, "net_prio", "net_prio.ifpriomap", &dir, err) < 0)
		return -1;
	for (size_t i = 0; dir != NULL && i < r->n_net_priorities; i++)
		if (cgroup_writef(dir, "net_prio.ifpriomap", err, "%s %u", r->net_priorities[i].name,
				  (unsigned)r->net_priorities[i].priority) < 0)
			return -1;
	return 0;
}

static void device_number(char *buf, size_t len, int64_t v)
{
	if (v < 0)
		snprintf(buf, len, "*");
	else
		snprintf(buf, len, "%" PRId64, v);
}

static int apply_devices(cgroup_manager *m, const spec_resources *r, berth_error **err)
{
	cgroup_hierarchy *h = cgroup_find_v1(m, "devices");
	_cleanup_close_ int allow_fd = -EBADF, deny_fd = -EBADF;
	const char *dir = NULL;

	if (r->n_devices == 0)
		return 0;
	/* Rootless: no devices hierarchy of our own; the user namespace limits
	 * device access already. */
	if (m->rootless && (h == NULL || h->disabled || !cgroup_file_exists(h->dir, "devices.allow")))
		return 0;
	if (v1_dir(m, "devices", "devices.deny", &dir, err) < 0)
		return -1;
	/* one rule per write, through one fd per file; the spec's list mostly
	 * starts with the same "deny all" */
	if (!(r->n_devices > 0 && !r->devices[0].allow && r->devices[0].type == 'a' && r->devices[0].access[0]) &&
	    cgroup_write_kept(dir, "devices.deny", &deny_fd, "a", err) < 0)
		return -1;
	for (size_t i = 0; i < r->n_devices; i++) {
		const spec_device_rule *d = &r->devices[i];
		const char *file = d->allow ? "devices.allow" : "devices.deny";
		int *fd = d->allow ? &allow_fd : &deny_fd;
		char rule[80], major[24], minor[24];

		if (d->access[0] == '\0')
			continue; /* grants or denies nothing */
		device_number(major, sizeof(major), d->major);
		device_number(minor, sizeof(minor), d->minor);
		if (d->type == 'a')
			snprintf(rule, sizeof(rule), "a");
		else
			snprintf(rule, sizeof(rule), "%c %s:%s %s", d->type, major, minor, d->access);
		if (cgroup_write_kept(dir, file, fd, rule, err) < 0)
			return -1;
	}
	return 0;
}

int cgroup_v1_apply(cgroup_manager *m, const spec_resources *r, berth_error **err)
{
	char size[32];

	/* Validate first: nothing is written when the input is wrong. */
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		if (cgroup_hugepage_size_name(r->hugepage_limits[i].page_size, size, sizeof(size), err) < 0)
			return -1;
	if (r->n_unified > 0)
		return berth_error_set(err, EINVAL,
				       "cgroup: linux.resources.unified (\"%s\") needs cgroup v2; this host "
				       "uses %s",
				       r->unified[0].key, cgroup_mode_name(m->mode));
	if (apply_devices(m, r, err) < 0 || apply_memory(m, r, err) < 0 || apply_cpu(m, r, err) < 0 ||
	    apply_pids(m, r, err) < 0 || apply_blkio(m, r, err) < 0 || apply_hugetlb(m, r, err) < 0 ||
	    apply_network(m, r, err) < 0)
		return -1;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int freezer_dir(cgroup_manager *m, const char **dir, berth_error **err)
{
	cgroup_hierarchy *h = cgroup_find_v1(m, "freezer");

	if (h == NULL || h->disabled)
		return berth_error_set(err, ENOTSUP, "cgroup: %s: the freezer controller is %s", m->path,
				       h == NULL ? "not mounted" : "not available to this user");
	*dir = h->dir;
	return 0;
}

int cgroup_v1_freeze(cgroup_manager *m, bool frozen, berth_error **err)
{
	const char *state = frozen ? "FROZEN" : "THAWED";
	const char *dir = NULL;

	if (freezer_dir(m, &dir, err) < 0)
		return -1;
	/* FREEZING can stick while tasks fork: write the state again now and
	 * then, and give up after about two seconds. */
	for (int attempt = 0; attempt < 200; attempt++) {
		_cleanup_free_ char *now = NULL;
		if (attempt % 25 == 0 && cgroup_write(dir, "freezer.state", state, err) < 0)
			return -1;
		if (cgroup_read(dir, "freezer.state", &now, err) < 0)
			return -1;
		now[strcspn(now, "\n")] = '\0';
		if (strcmp(now, state) == 0)
			return 0;
		sleep_ms(10);
	}
	if (frozen) {
		berth_error *ignored = NULL;
		if (cgroup_write(dir, "freezer.state", "THAWED", &ignored) < 0)
			berth_error_free(&ignored);
	}
	return berth_error_set(err, ETIMEDOUT, "cgroup: %s \"%s\": the kernel did not report %s",
			       frozen ? "freeze" : "thaw", dir, state);
}

int cgroup_v1_is_frozen(cgroup_manager *m, bool *frozen, berth_error **err)
{
	cgroup_hierarchy *h = cgroup_find_v1(m, "freezer");
	_cleanup_free_ char *now = NULL;
	berth_error *inner = NULL;

	*frozen = false;
	if (h == NULL || h->disabled)
		return 0;
	if (cgroup_read(h->dir, "freezer.state", &now, &inner) < 0) {
		if (inner && inner->code == ENOENT) {
			berth_error_free(&inner);
			return 0;
		}
		return cgroup_error_move(err, &inner);
	}
	*frozen = strncmp(now, "FROZEN", 6) == 0;
	return 0;
}
