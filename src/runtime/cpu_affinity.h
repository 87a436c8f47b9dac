/* process.execCPUAffinity (runtime-spec 1.2.1) for exec'd processes: the
 * "initial" CPUs before the process joins the container's cgroup (so the
 * runtime's work there does not land on the container's CPUs), the "final"
 * ones after it. */
#ifndef BERTH_RUNTIME_CPU_AFFINITY_H
#define BERTH_RUNTIME_CPU_AFFINITY_H

#include "util/error.h"

/* sched_setaffinity of the calling process to LIST ("0-3,7"); nothing when
 * LIST is NULL. FIELD names it in errors ("process.execCPUAffinity.final"). */
int cpu_affinity_apply(const char *list, const char *field, berth_error **err);

#endif
