/* process.execCPUAffinity (runtime-spec 1.2.1): the CPUs an exec'd process
 * runs on before ("initial") and after ("final") it joins the container's
 * cgroup. Only the syntax is checked here; runtime/exec.c applies them. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

static int parse_cpu(const char **p, long *out)
{
	char *end;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	*out = strtol(*p, &end, 10);
	if (errno != 0 || *out >= SPEC_CPU_LIST_MAX)
		return -1;
	*p = end;
	return 0;
}

int spec_cpu_list_parse(const char *text, void *set, size_t setsize, int *highest)
{
	const char *p = text;

	*highest = -1;
	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		long first, last;

		if (parse_cpu(&p, &first) < 0)
			return -1;
		last = first;
		if (*p == '-') {
			p++;
			if (parse_cpu(&p, &last) < 0 || last < first)
				return -1;
		}
		for (long c = first; set != NULL && c <= last; c++)
			CPU_SET_S((size_t)c, setsize, (cpu_set_t *)set);
		if (last > *highest)
			*highest = (int)last;
		if (*p == ',' && p[1] != '\0')
			p++;
		else if (*p != '\0')
			return -1;
	}
	return 0;
}

static int read_list(json_t *obj, const char *key, const char *path, char **out, berth_error **err)
{
	int highest;

	if (json_read_string(obj, key, path, out, err) < 0)
		return -1;
	if (*out != NULL && (*out)[0] == '\0') /* empty: leave the affinity alone */
		*out = (free(*out), NULL);
	if (*out != NULL && spec_cpu_list_parse(*out, NULL, 0, &highest) < 0)
		return berth_error_set(err, 0,
				       "%s.%s: invalid CPU list \"%s\" (expected numbers and ranges, as "
				       "\"0-3,7\")",
				       path, key, *out);
	return 0;
}

int spec_parse_exec_cpu_affinity(json_t *process_obj, const char *path, spec_process *p, berth_error **err)
{
	_cleanup_free_ char *apath = json_read_child_path(path, "execCPUAffinity");
	json_t *obj = NULL;

	if (json_read_object(process_obj, "execCPUAffinity", path, &obj, err) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	if (read_list(obj, "initial", apath, &p->exec_cpu_affinity_initial, err) < 0 ||
	    read_list(obj, "final", apath, &p->exec_cpu_affinity_final, err) < 0)
		return -1;
	return 0;
}
