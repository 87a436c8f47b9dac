#include "runtime/memory_policy.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/mempolicy.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define MASK_WORDS (SPEC_MEMORY_POLICY_MAX_NODES / (8 * sizeof(unsigned long)))

int memory_policy_check_host(const spec_memory_policy *mp, berth_error **err)
{
	_cleanup_error_ berth_error *read_err = NULL;
	_cleanup_free_ char *online = NULL;
	unsigned long host[MASK_WORDS] = { 0 };
	const size_t bits = 8 * sizeof(unsigned long);
	int highest;

	if (!mp->present || mp->highest_node < 0 || (mp->flags & MPOL_F_RELATIVE_NODES))
		return 0;
	if (fs_read_file("/sys/devices/system/node/online", &online, NULL, &read_err) < 0) {
		/* a kernel without NUMA has node 0 only */
		host[0] = 1;
	} else if (spec_node_list_parse(online, host, &highest) < 0) {
		return berth_error_set(err, EINVAL, "linux.memoryPolicy: cannot read the host's nodes \"%s\"", online);
	}
	for (int n = 0; n <= mp->highest_node; n++)
		if ((mp->nodemask[n / bits] & (1UL << (n % bits))) && !(host[n / bits] & (1UL << (n % bits))))
			return berth_error_set(err, 0,
					       "linux.memoryPolicy.nodes: node %d of \"%s\" is not on this host "
					       "(online nodes: %s)",
					       n, mp->nodes, online ? strtok(online, "\n") : "0");
	return 0;
}

int memory_policy_apply(const spec_memory_policy *mp, berth_error **err)
{
	const unsigned long *mask = mp->highest_node >= 0 ? mp->nodemask : NULL;
	/* the kernel reads MAXNODE - 1 bits */
	unsigned long maxnode = mp->highest_node >= 0 ? (unsigned long)mp->highest_node + 2 : 0;

	if (!mp->present)
		return 0;
	if (syscall(SYS_set_mempolicy, mp->mode | (int)mp->flags, mask, maxnode) < 0)
		return berth_error_set(err, errno, "linux.memoryPolicy: set_mempolicy %s%s%s",
				       spec_memory_policy_modes[mp->mode], mp->nodes ? " nodes " : "",
				       mp->nodes ? mp->nodes : "");
	return 0;
}
