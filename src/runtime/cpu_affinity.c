#include "runtime/cpu_affinity.h"

#include <errno.h>
#include <sched.h>

#include "spec/spec.h"

int cpu_affinity_apply(const char *list, const char *field, berth_error **err)
{
	cpu_set_t *set;
	size_t size;
	int highest, ret = 0;

	if (list == NULL)
		return 0;
	if (spec_cpu_list_parse(list, NULL, 0, &highest) < 0)
		return berth_error_set(err, 0, "%s: invalid CPU list \"%s\"", field, list);
	set = CPU_ALLOC((size_t)highest + 1);
	if (set == NULL)
		return berth_error_set(err, ENOMEM, "%s", field);
	size = CPU_ALLOC_SIZE((size_t)highest + 1);
	CPU_ZERO_S(size, set);
	spec_cpu_list_parse(list, set, size, &highest);
	if (sched_setaffinity(0, size, set) < 0)
		ret = berth_error_set(err, errno, "%s: run on CPUs \"%s\"", field, list);
	CPU_FREE(set);
	return ret;
}
