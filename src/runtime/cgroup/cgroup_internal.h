/* Shared between the cgroup backends (cgroup.c dispatches, cgroup_v1.c and
 * cgroup_v2.c apply resources, cgroup_ebpf.c filters devices on v2).
 * Not part of libberth's interface; unit tests include it to reach the
 * planners (path computation, device program) directly. */
#ifndef BERTH_RUNTIME_CGROUP_INTERNAL_H
#define BERTH_RUNTIME_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/bpf.h>

#include "runtime/cgroup.h"

/* One hierarchy the container's cgroup lives in: a v1 controller mount or
 * the unified (cgroup2) mount. */
typedef struct cgroup_hierarchy {
	char *controllers;	 /* v1: "cpu,cpuacct", "name=systemd"; "" for the unified hierarchy */
	char *mount;		 /* "/sys/fs/cgroup/memory" */
	char *dir;		 /* the container's cgroup: "/sys/fs/cgroup/memory/a/b/c" */
	char *inner;		 /* dir below mount: "/a/b/c" */
	unsigned created_levels; /* trailing components of dir made by this manager (0: none) */
	bool unified;
	bool disabled; /* could not be created (rootless, or unified in hybrid): skipped */
} cgroup_hierarchy;

struct cgroup_manager {
	enum cgroup_mode mode;
	bool rootless;
	char *path; /* see cgroup_manager_path() */
	cgroup_hierarchy *h;
	size_t n;
	int v2_fd; /* O_PATH fd of the unified dir in v2 mode, else -1 */
};

/* ---- discovery and paths (cgroup_path.c) ---- */

/* A line of /proc/self/cgroup: "4:memory:/a/b" or "0::/x". */
typedef struct cgroup_self_entry {
	char *controllers; /* "memory", "cpu,cpuacct", "name=systemd", "" for v2 */
	char *path;
} cgroup_self_entry;

int cgroup_self_parse(const char *text, cgroup_self_entry **out, size_t *n, berth_error **err);
void cgroup_self_free(cgroup_self_entry *e, size_t n);

int cgroup_discover_mounts(const cgroup_options *opts, enum cgroup_mode mode, cgroup_mount **out, size_t *n,
			   berth_error **err);

/* The requested cgroup as a normalised path ("a/b/c", no leading slash) and
 * whether it is taken below the hierarchy root (absolute) or below the
 * runtime's own cgroup (relative). Rejects "..", the root itself, and bad
 * systemd "slice:prefix:name" syntax. */
int cgroup_compute_request(const cgroup_options *opts, char **path, bool *absolute, berth_error **err);

/* "a-b.slice" -> "a.slice/a-b.slice"; "-.slice" -> "". */
int cgroup_expand_slice(const char *slice, char **out, berth_error **err);

/* True when the comma lists A and B name a common controller. */
bool cgroup_controllers_overlap(const char *a, const char *b);

/* ---- file helpers (cgroup_fs.c) ---- */

/* Writes VALUE to DIR/FILE (no create). Errors read:
 *   cgroup "memory.max": write "1048576" to "/sys/fs/cgroup/x/memory.max": No such file or directory */
int cgroup_write(const char *dir, const char *file, const char *value, berth_error **err);
/* Like cgroup_write(), through *FD: opened on the first write, kept open
 * for the next ones (files that take one entry per write, like
 * devices.allow); the caller closes it. */
int cgroup_write_kept(const char *dir, const char *file, int *fd, const char *value, berth_error **err);
int cgroup_writef(const char *dir, const char *file, berth_error **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int cgroup_read(const char *dir, const char *file, char **out, berth_error **err);
/* Reads a single number; "max" reads as UINT64_MAX. */
int cgroup_read_u64(const char *dir, const char *file, uint64_t *out, berth_error **err);
/* Reads "key value" lines (memory.stat, cpu.stat) for KEY. -ENOENT when absent. */
int cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out);
bool cgroup_file_exists(const char *dir, const char *file);
char *cgroup_join(const char *a, const char *b);

/* Every pid in DIR's cgroup.procs and below; sorted, deduplicated. */
int cgroup_read_pids(const char *dir, pid_t **pids, size_t *n, berth_error **err);

/* mkdir -p of H->inner below H->mount, setting created_levels; on error
 * removes what it created. COPY_CPUSET: fill empty cpuset.cpus/mems. */
int cgroup_make_dirs(cgroup_hierarchy *h, bool copy_cpuset, berth_error **err);
/* Removes the created levels deepest first (and child cgroups below dir),
 * retrying EBUSY until DEADLINE (CLOCK_MONOTONIC ns). */
int cgroup_remove_dirs(cgroup_hierarchy *h, uint64_t deadline, berth_error **err);
uint64_t cgroup_deadline_after_ms(long ms);

/* Hands INNER over to ERR (or frees it when ERR is NULL); returns -1. */
static inline int cgroup_error_move(berth_error **err, berth_error **inner)
{
	if (err != NULL) {
		berth_error_free(err);
		*err = *inner;
	} else {
		berth_error_free(inner);
	}
	*inner = NULL;
	return -1;
}

static inline const char *cgroup_error_text(const berth_error *e)
{
	return e != NULL && e->msg != NULL ? e->msg : "unknown error";
}

/* Tests observe every knob write in order (path, value); NULL in production. */
extern void (*cgroup_write_observer)(const char *path, const char *value);

/* ---- backends ---- */

cgroup_hierarchy *cgroup_find_v1(cgroup_manager *m, const char *controller);
cgroup_hierarchy *cgroup_find_unified(cgroup_manager *m);

int cgroup_v1_apply(cgroup_manager *m, const spec_resources *r, berth_error **err);
int cgroup_v1_freeze(cgroup_manager *m, bool frozen, berth_error **err);
int cgroup_v1_is_frozen(cgroup_manager *m, bool *frozen, berth_error **err);
int cgroup_v1_stats(cgroup_manager *m, json_t *out, berth_error **err);

/* Enables the controllers of each parent in cgroup.subtree_control from
 * level FIRST (a component count below the mount) down to the new leaf. */
int cgroup_v2_enable_controllers(cgroup_hierarchy *h, unsigned first, berth_error **err);
int cgroup_v2_apply(cgroup_manager *m, const spec_resources *r, berth_error **err);
int cgroup_v2_freeze(cgroup_manager *m, bool frozen, berth_error **err);
int cgroup_v2_is_frozen(cgroup_manager *m, bool *frozen, berth_error **err);
int cgroup_v2_stats(cgroup_manager *m, json_t *out, berth_error **err);

/* Hugepage size as the kernel names it: "2M", "2048KB", "2097152" -> "2MB". */
int cgroup_hugepage_size_name(const char *page_size, char *buf, size_t len, berth_error **err);

/* v2 resource conversions (runc's). */
uint64_t cgroup_v2_cpu_weight_from_shares(uint64_t shares);
uint64_t cgroup_v2_io_weight_from_blkio(uint64_t weight);
/* memory.swap.max from v1's memory+swap: *out -1 = "max"; *set false when
 * nothing is to be written. */
int cgroup_v2_swap_from_memsw(int64_t memory_swap, int64_t memory, int64_t *out, bool *set, berth_error **err);

/* ---- eBPF device filter (cgroup_ebpf.c) ---- */

/* Builds the default-deny BPF_PROG_TYPE_CGROUP_DEVICE program that allows
 * what RULES allow (the last matching rule wins, as in the OCI spec). */
int cgroup_ebpf_build(const spec_device_rule *rules, size_t n, struct bpf_insn **insns, size_t *n_insns,
		      berth_error **err);
/* Loads the program; returns its fd. */
int cgroup_ebpf_load(const struct bpf_insn *insns, size_t n_insns, berth_error **err);
/* Attaches PROG_FD to the cgroup directory DIR (BPF_F_ALLOW_MULTI) and then
 * detaches the device programs that were attached there before. */
int cgroup_ebpf_attach(const char *dir, int prog_fd, berth_error **err);
/* Build + load + attach. */
int cgroup_ebpf_apply_devices(const char *dir, const spec_device_rule *rules, size_t n, berth_error **err);

#endif
