/* process.execCPUAffinity (runtime-spec 1.2.1) for exec'd processes: the
 * "initial" CPUs before the process joins the container's cgroup (so the
 * runtime's work there does not land on the container's CPUs), the "final"
 * ones after it. */
#ifndef BERTH_RUNTIME_CPU_AFFINITY_H
#define BERTH_RUNTIME_CPU_AFFINITY_H

#include <sched.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

/* sched_setaffinity of the calling process to LIST ("0-3,7"); nothing when
 * LIST is NULL. FIELD names it in errors ("process.execCPUAffinity.final"). */
int cpu_affinity_apply(const char *list, const char *field, berth_error **err);

/* The runtime and a container's init that builds its rootfs while the
 * runtime makes the cgroups are meant to run side by side. A scheduler that
 * packs tasks onto few CPUs (as some VMs' do) keeps a fresh child on its
 * parent's CPU, and the two then run in turn. So the init is sent to the
 * runtime's other CPUs (by the runtime after the clone, or by the init
 * itself when it runs first) until it joins its cgroups, where it takes
 * the runtime's affinity back: what the container runs with is unchanged. */
typedef struct cpu_spread {
	bool on;
	int cpu; /* the runtime's, at the clone */
	cpu_set_t all, others;
} cpu_spread;

/* The runtime, before the clone: on when it may use other CPUs. */
void cpu_spread_plan(cpu_spread *sp);
/* The runtime after the clone (PID), or the init at its start (0, and then
 * only when it runs on the runtime's CPU): to the other CPUs. */
void cpu_spread_move(const cpu_spread *sp, pid_t pid);
/* The init, after the runtime's last move (SYNC_GO) and before it joins
 * its cgroups: back to the runtime's affinity. */
void cpu_spread_end(const cpu_spread *sp);

#endif
