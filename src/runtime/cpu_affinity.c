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

void cpu_spread_plan(cpu_spread *sp)
{
	sp->on = false;
	sp->cpu = sched_getcpu();
	if (sp->cpu < 0 || sched_getaffinity(0, sizeof(sp->all), &sp->all) < 0 || !CPU_ISSET(sp->cpu, &sp->all))
		return;
	sp->others = sp->all;
	CPU_CLR(sp->cpu, &sp->others);
	sp->on = CPU_COUNT(&sp->others) > 0;
}

void cpu_spread_move(const cpu_spread *sp, pid_t pid)
{
	if (!sp->on || (pid == 0 && sched_getcpu() != sp->cpu))
		return;
	sched_setaffinity(pid, sizeof(sp->others), &sp->others);
}

void cpu_spread_end(const cpu_spread *sp)
{
	if (sp->on)
		sched_setaffinity(0, sizeof(sp->all), &sp->all);
}
