/* config.json "linux.memoryPolicy" (runtime-spec 1.3): mode, nodes, flags.
 *
 * The rules are set_mempolicy(2)'s, checked before anything runs: modes that
 * take no nodes (MPOL_DEFAULT, MPOL_LOCAL) refuse them and the node flags,
 * modes that spread over a set (MPOL_BIND, MPOL_INTERLEAVE,
 * MPOL_WEIGHTED_INTERLEAVE, MPOL_PREFERRED_MANY) need one, and
 * MPOL_F_STATIC_NODES excludes MPOL_F_RELATIVE_NODES. Whether the nodes exist
 * on this host is checked at create (runtime/memory_policy.c). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <linux/mempolicy.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

/* The kernel's values; MPOL_WEIGHTED_INTERLEAVE (Linux 6.9) is newer than
 * some installed headers. */
enum {
	MODE_DEFAULT = 0,
	MODE_PREFERRED,
	MODE_BIND,
	MODE_INTERLEAVE,
	MODE_LOCAL,
	MODE_PREFERRED_MANY,
	MODE_WEIGHTED_INTERLEAVE
};

const char *const spec_memory_policy_modes[] = {
	"MPOL_DEFAULT",	       "MPOL_PREFERRED",	   "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_LOCAL",
	"MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE", NULL
};
const char *const spec_memory_policy_flags[] = { "MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES",
						 "MPOL_F_STATIC_NODES", NULL };
static const unsigned int flag_values[] = { MPOL_F_NUMA_BALANCING, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES };

static int find_name(const char *const *names, const char *name)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static int parse_node_number(const char **p, long *out)
{
	char *end;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	*out = strtol(*p, &end, 10);
	if (errno != 0 || *out >= SPEC_MEMORY_POLICY_MAX_NODES)
		return -1;
	*p = end;
	return 0;
}

static bool at_end(const char *p)
{
	return p[0] == '\0' || (p[0] == '\n' && p[1] == '\0');
}

int spec_node_list_parse(const char *text, unsigned long *mask, int *highest)
{
	const size_t bits = 8 * sizeof(unsigned long);
	const char *p = text;

	*highest = -1;
	while (!at_end(p)) {
		long first, last;

		if (parse_node_number(&p, &first) < 0)
			return -1;
		last = first;
		if (*p == '-') {
			p++;
			if (parse_node_number(&p, &last) < 0 || last < first)
				return -1;
		}
		for (long n = first; n <= last; n++)
			mask[n / bits] |= 1UL << (n % bits);
		if (last > *highest)
			*highest = (int)last;
		if (*p == ',' && !at_end(p + 1))
			p++;
		else if (!at_end(p))
			return -1;
	}
	return 0;
}

static int parse_nodes(const char *text, spec_memory_policy *mp, berth_error **err)
{
	if (spec_node_list_parse(text, mp->nodemask, &mp->highest_node) == 0)
		return 0;
	return berth_error_set(err, 0,
			       "linux.memoryPolicy.nodes: invalid node list \"%s\" (expected numbers and ranges below "
			       "%d, as \"0-3,7\")",
			       text, SPEC_MEMORY_POLICY_MAX_NODES);
}

static int parse_flags(json_t *obj, spec_memory_policy *mp, berth_error **err)
{
	_cleanup_strv_ char **flags = NULL;
	size_t n = 0;

	if (json_read_string_array(obj, "flags", "linux.memoryPolicy", &flags, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int f = find_name(spec_memory_policy_flags, flags[i]);
		if (f < 0)
			return berth_error_set(err, 0, "linux.memoryPolicy.flags[%zu]: unknown flag \"%s\"", i,
					       flags[i]);
		mp->flags |= flag_values[f];
	}
	return 0;
}

static int validate(const spec_memory_policy *mp, berth_error **err)
{
	const char *mode = spec_memory_policy_modes[mp->mode];
	bool has_nodes = mp->highest_node >= 0;
	bool node_flags = (mp->flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES)) != 0;

	if ((mp->flags & MPOL_F_STATIC_NODES) && (mp->flags & MPOL_F_RELATIVE_NODES))
		return berth_error_set(err, 0,
				       "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES "
				       "exclude each other");
	switch (mp->mode) {
	case MODE_DEFAULT:
	case MODE_LOCAL:
		if (has_nodes)
			return berth_error_set(err, 0, "linux.memoryPolicy.nodes: %s takes no nodes", mode);
		if (node_flags)
			return berth_error_set(err, 0,
					       "linux.memoryPolicy.flags: %s takes no nodes, so neither "
					       "MPOL_F_STATIC_NODES nor MPOL_F_RELATIVE_NODES",
					       mode);
		break;
	case MODE_PREFERRED:
		/* no nodes: local allocation, as MPOL_LOCAL */
		if (!has_nodes && node_flags)
			return berth_error_set(err, 0,
					       "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and "
					       "MPOL_F_RELATIVE_NODES need nodes with %s",
					       mode);
		break;
	default:
		if (!has_nodes)
			return berth_error_set(err, 0, "linux.memoryPolicy.nodes: required with %s", mode);
	}
	if ((mp->flags & MPOL_F_NUMA_BALANCING) && mp->mode != MODE_BIND && mp->mode != MODE_PREFERRED_MANY)
		return berth_error_set(err, 0,
				       "linux.memoryPolicy.flags: MPOL_F_NUMA_BALANCING needs MPOL_BIND or "
				       "MPOL_PREFERRED_MANY, not %s",
				       mode);
	return 0;
}

int spec_parse_memory_policy(json_t *linux_obj, spec_memory_policy *mp, berth_error **err)
{
	_cleanup_free_ char *mode = NULL;
	json_t *obj = NULL;
	int m;

	mp->highest_node = -1;
	if (json_read_object(linux_obj, "memoryPolicy", "linux", &obj, err) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	if (json_read_string(obj, "mode", "linux.memoryPolicy", &mode, err) < 0 ||
	    json_read_string(obj, "nodes", "linux.memoryPolicy", &mp->nodes, err) < 0)
		return -1;
	if (mode == NULL)
		return berth_error_set(err, 0, "linux.memoryPolicy.mode: required");
	m = find_name(spec_memory_policy_modes, mode);
	if (m < 0)
		return berth_error_set(err, 0, "linux.memoryPolicy.mode: unknown mode \"%s\"", mode);
	mp->mode = m;
	mp->present = true;
	if (mp->nodes != NULL && mp->nodes[0] != '\0' && parse_nodes(mp->nodes, mp, err) < 0)
		return -1;
	if (parse_flags(obj, mp, err) < 0)
		return -1;
	return validate(mp, err);
}

void spec_memory_policy_clear(spec_memory_policy *mp)
{
	free(mp->nodes);
	mp->nodes = NULL;
}
