/* linux.memoryPolicy (runtime-spec 1.3): the NUMA memory policy of the
 * container's processes, set with set_mempolicy(2) before their execve and
 * inherited from there. */
#ifndef BERTH_RUNTIME_MEMORY_POLICY_H
#define BERTH_RUNTIME_MEMORY_POLICY_H

#include "spec/spec.h"
#include "util/error.h"

/* Before create changes anything: every node named (unless
 * MPOL_F_RELATIVE_NODES makes them relative) must be an online node of this
 * host (/sys/devices/system/node/online; node 0 alone without NUMA). */
int memory_policy_check_host(const spec_memory_policy *mp, berth_error **err);

/* set_mempolicy for the calling process; nothing when absent. */
int memory_policy_apply(const spec_memory_policy *mp, berth_error **err);

#endif
