/* config.json "process": args, env, user, capabilities, rlimits, ... */
#include <errno.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU },		{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA },		{ "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE },		{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

static int parse_user(json_t *proc, const char *path, spec_user *u, berth_error **err)
{
	_cleanup_free_ char *upath = json_read_child_path(path, "user");
	json_t *user = NULL, *gids = NULL, *item;
	int64_t v;
	bool present;
	size_t i;

	if (json_read_object(proc, "user", path, &user, err) < 0)
		return -1;
	if (user == NULL)
		return 0;
	if (json_read_ranged(user, "uid", upath, 0, UINT32_MAX - 1, &v, &present, err) < 0)
		return -1;
	if (present)
		u->uid = v;
	if (json_read_ranged(user, "gid", upath, 0, UINT32_MAX - 1, &v, &present, err) < 0)
		return -1;
	if (present)
		u->gid = v;
	if (json_read_ranged(user, "umask", upath, 0, 0777, &v, &u->has_umask, err) < 0)
		return -1;
	if (u->has_umask)
		u->umask = v;
	if (json_read_string(user, "username", upath, &u->username, err) < 0)
		return -1;
	if (json_read_array(user, "additionalGids", upath, &gids, err) < 0)
		return -1;
	if (gids == NULL)
		return 0;
	u->additional_gids = calloc(json_array_size(gids) + 1, sizeof(gid_t));
	if (u->additional_gids == NULL)
		return berth_error_set(err, ENOMEM, "%s", upath);
	json_array_foreach(gids, i, item) {
		if (!json_is_integer(item) || json_integer_value(item) < 0 || json_integer_value(item) >= UINT32_MAX)
			return berth_error_set(err, 0, "%s.additionalGids[%zu]: expected a gid", upath, i);
		u->additional_gids[i] = json_integer_value(item);
	}
	u->n_additional_gids = json_array_size(gids);
	return 0;
}

static int parse_capabilities(json_t *proc, const char *path, spec_process *p, berth_error **err)
{
	static const char *const set_names[SPEC_CAP_SETS] = { "bounding", "effective", "inheritable", "permitted",
							      "ambient" };
	_cleanup_free_ char *cpath = json_read_child_path(path, "capabilities");
	json_t *caps = NULL;

	if (json_read_object(proc, "capabilities", path, &caps, err) < 0)
		return -1;
	if (caps == NULL)
		return 0;
	p->has_capabilities = true;
	for (int set = 0; set < SPEC_CAP_SETS; set++) {
		_cleanup_strv_ char **names = NULL;
		size_t n = 0;
		if (json_read_string_array(caps, set_names[set], cpath, &names, &n, err) < 0)
			return -1;
		if (names == NULL)
			continue;
		p->capabilities.present[set] = true;
		for (size_t i = 0; i < n; i++) {
			int cap = spec_capability_from_name(names[i]);
			if (cap < 0)
				return berth_error_set(err, 0, "%s.%s[%zu]: unknown capability \"%s\"", cpath,
						       set_names[set], i, names[i]);
			/* Known to libcap but not to this kernel: runc skips these. */
			if (cap > spec_capability_last())
				continue;
			p->capabilities.sets[set] |= 1ULL << cap;
		}
	}
	return 0;
}

static int parse_rlimits(json_t *proc, const char *path, spec_process *p, berth_error **err)
{
	_cleanup_free_ char *rpath = json_read_child_path(path, "rlimits");
	json_t *arr = NULL, *item;
	size_t i;

	if (json_read_array(proc, "rlimits", path, &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	p->rlimits = calloc(json_array_size(arr) + 1, sizeof(spec_rlimit));
	if (p->rlimits == NULL)
		return berth_error_set(err, ENOMEM, "%s", rpath);
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *ipath = json_read_index_path(rpath, i);
		spec_rlimit *rl = &p->rlimits[i];
		bool has_soft, has_hard;
		size_t k;

		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object", ipath);
		p->n_rlimits = i + 1;
		if (json_read_string(item, "type", ipath, &rl->type, err) < 0)
			return -1;
		if (rl->type == NULL)
			return berth_error_set(err, 0, "%s.type: required", ipath);
		rl->resource = -1;
		for (k = 0; k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
			if (strcmp(rl->type, rlimit_names[k].name) == 0)
				rl->resource = rlimit_names[k].resource;
		if (rl->resource < 0)
			return berth_error_set(err, 0, "%s.type: unknown rlimit \"%s\"", ipath, rl->type);
		for (k = 0; k < i; k++)
			if (p->rlimits[k].resource == rl->resource)
				return berth_error_set(err, 0, "%s.type: duplicate rlimit \"%s\"", ipath, rl->type);
		if (json_read_uint64(item, "soft", ipath, &rl->soft, &has_soft, err) < 0 ||
		    json_read_uint64(item, "hard", ipath, &rl->hard, &has_hard, err) < 0)
			return -1;
		if (!has_soft || !has_hard)
			return berth_error_set(err, 0, "%s: \"soft\" and \"hard\" are required", ipath);
		if (rl->soft > rl->hard)
			return berth_error_set(err, 0, "%s: soft limit %llu is above hard limit %llu", ipath,
					       (unsigned long long)rl->soft, (unsigned long long)rl->hard);
	}
	return 0;
}

static int parse_scheduler(json_t *proc, const char *path, spec_scheduler *sc, berth_error **err)
{
	static const struct {
		const char *name;
		int policy;
	} policies[] = {
		{ "SCHED_OTHER", SCHED_OTHER }, { "SCHED_FIFO", SCHED_FIFO }, { "SCHED_RR", SCHED_RR },
		{ "SCHED_BATCH", SCHED_BATCH }, { "SCHED_ISO", 4 },	      { "SCHED_IDLE", SCHED_IDLE },
		{ "SCHED_DEADLINE", 6 },
	};
	static const struct {
		const char *name;
		uint64_t bit;
	} flag_names[] = {
		{ "SCHED_FLAG_RESET_ON_FORK", 0x01 },  { "SCHED_FLAG_RECLAIM", 0x02 },
		{ "SCHED_FLAG_DL_OVERRUN", 0x04 },     { "SCHED_FLAG_KEEP_POLICY", 0x08 },
		{ "SCHED_FLAG_KEEP_PARAMS", 0x10 },    { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 },
		{ "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 },
	};
	_cleanup_free_ char *spath = json_read_child_path(path, "scheduler");
	_cleanup_free_ char *policy = NULL;
	_cleanup_strv_ char **flags = NULL;
	json_t *obj = NULL;
	int64_t v;
	bool present;
	size_t n = 0, k;

	if (json_read_object(proc, "scheduler", path, &obj, err) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	sc->present = true;
	if (json_read_string(obj, "policy", spath, &policy, err) < 0)
		return -1;
	if (policy == NULL)
		return berth_error_set(err, 0, "%s.policy: required", spath);
	sc->policy = -1;
	for (k = 0; k < sizeof(policies) / sizeof(policies[0]); k++)
		if (strcmp(policy, policies[k].name) == 0)
			sc->policy = policies[k].policy;
	if (sc->policy < 0)
		return berth_error_set(err, 0, "%s.policy: unknown policy \"%s\"", spath, policy);
	if (json_read_ranged(obj, "nice", spath, -20, 19, &v, &present, err) < 0)
		return -1;
	sc->nice = present ? v : 0;
	if (json_read_ranged(obj, "priority", spath, 0, 99, &v, &present, err) < 0)
		return -1;
	sc->priority = present ? v : 0;
	if (json_read_uint64(obj, "runtime", spath, &sc->runtime, NULL, err) < 0 ||
	    json_read_uint64(obj, "deadline", spath, &sc->deadline, NULL, err) < 0 ||
	    json_read_uint64(obj, "period", spath, &sc->period, NULL, err) < 0 ||
	    json_read_string_array(obj, "flags", spath, &flags, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++)
			if (strcmp(flags[i], flag_names[k].name) == 0) {
				sc->flags |= flag_names[k].bit;
				found = true;
			}
		if (!found)
			return berth_error_set(err, 0, "%s.flags[%zu]: unknown flag \"%s\"", spath, i, flags[i]);
	}
	return 0;
}

static int parse_io_priority(json_t *proc, const char *path, spec_io_priority *io, berth_error **err)
{
	_cleanup_free_ char *ipath = json_read_child_path(path, "ioPriority");
	_cleanup_free_ char *class = NULL;
	json_t *obj = NULL;
	int64_t v;
	bool present;

	if (json_read_object(proc, "ioPriority", path, &obj, err) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	io->present = true;
	if (json_read_string(obj, "class", ipath, &class, err) < 0)
		return -1;
	if (class == NULL)
		return berth_error_set(err, 0, "%s.class: required", ipath);
	if (strcmp(class, "IOPRIO_CLASS_RT") == 0)
		io->class = IOPRIO_CLASS_RT;
	else if (strcmp(class, "IOPRIO_CLASS_BE") == 0)
		io->class = IOPRIO_CLASS_BE;
	else if (strcmp(class, "IOPRIO_CLASS_IDLE") == 0)
		io->class = IOPRIO_CLASS_IDLE;
	else
		return berth_error_set(err, 0, "%s.class: unknown class \"%s\"", ipath, class);
	if (json_read_ranged(obj, "priority", ipath, 0, 7, &v, &present, err) < 0)
		return -1;
	io->priority = present ? v : 0;
	return 0;
}

int spec_parse_process_object(json_t *obj, const char *path, spec_process *p, berth_error **err)
{
	json_t *console = NULL;
	int64_t v;
	bool present;
	size_t nargs = 0;

	if (json_read_bool(obj, "terminal", path, &p->terminal, NULL, err) < 0)
		return -1;
	if (json_read_object(obj, "consoleSize", path, &console, err) < 0)
		return -1;
	if (console != NULL) {
		_cleanup_free_ char *cpath = json_read_child_path(path, "consoleSize");
		if (json_read_ranged(console, "height", cpath, 0, UINT16_MAX, &v, &present, err) < 0)
			return -1;
		p->console_height = present ? v : 0;
		if (json_read_ranged(console, "width", cpath, 0, UINT16_MAX, &v, &present, err) < 0)
			return -1;
		p->console_width = present ? v : 0;
	}
	if (parse_user(obj, path, &p->user, err) < 0)
		return -1;
	if (json_read_string_array(obj, "args", path, &p->args, &nargs, err) < 0)
		return -1;
	if (json_read_string(obj, "commandLine", path, &p->command_line, err) < 0)
		return -1;
	if (json_read_string_array(obj, "env", path, &p->env, NULL, err) < 0)
		return -1;
	if (json_read_string(obj, "cwd", path, &p->cwd, err) < 0)
		return -1;
	if (parse_capabilities(obj, path, p, err) < 0 || parse_rlimits(obj, path, p, err) < 0)
		return -1;
	if (json_read_bool(obj, "noNewPrivileges", path, &p->no_new_privileges, NULL, err) < 0)
		return -1;
	if (json_read_string(obj, "apparmorProfile", path, &p->apparmor_profile, err) < 0)
		return -1;
	if (json_read_ranged(obj, "oomScoreAdj", path, -1000, 1000, &v, &p->has_oom_score_adj, err) < 0)
		return -1;
	if (p->has_oom_score_adj)
		p->oom_score_adj = v;
	if (json_read_string(obj, "selinuxLabel", path, &p->selinux_label, err) < 0)
		return -1;
	if (parse_scheduler(obj, path, &p->scheduler, err) < 0 ||
	    parse_io_priority(obj, path, &p->io_priority, err) < 0 ||
	    spec_parse_exec_cpu_affinity(obj, path, p, err) < 0)
		return -1;

	if (p->args == NULL || nargs == 0)
		return berth_error_set(err, 0, "%s.args: at least one argument is required", path);
	if (p->args[0][0] == '\0')
		return berth_error_set(err, 0, "%s.args[0]: must not be empty", path);
	if (p->cwd == NULL)
		p->cwd = strdup("/");
	else if (p->cwd[0] != '/')
		return berth_error_set(err, 0, "%s.cwd: \"%s\" is not an absolute path", path, p->cwd);
	if (p->env != NULL)
		for (size_t i = 0; p->env[i]; i++)
			if (strchr(p->env[i], '=') == NULL || p->env[i][0] == '=')
				return berth_error_set(err, 0, "%s.env[%zu]: \"%s\" is not of the form KEY=VALUE", path,
						       i, p->env[i]);
	return 0;
}

void spec_process_free(spec_process *p)
{
	if (p == NULL)
		return;
	free(p->user.additional_gids);
	free(p->user.username);
	cleanup_strvp(&p->args);
	free(p->command_line);
	cleanup_strvp(&p->env);
	free(p->cwd);
	for (size_t i = 0; i < p->n_rlimits; i++)
		free(p->rlimits[i].type);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	free(p->exec_cpu_affinity_initial);
	free(p->exec_cpu_affinity_final);
	free(p);
}

int spec_parse_process(const char *json_text, spec_process **out, berth_error **err)
{
	json_error_t jerr;
	json_t *root = json_read_loads(json_text, 0, &jerr);
	spec_process *p;
	int ret;

	if (root == NULL)
		return berth_error_set(err, 0, "process: invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
				       jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return berth_error_set(err, 0, "process: expected an object");
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		json_decref(root);
		return berth_error_set(err, ENOMEM, "process");
	}
	ret = spec_parse_process_object(root, "process", p, err);
	json_decref(root);
	if (ret < 0) {
		spec_process_free(p);
		return ret;
	}
	*out = p;
	return 0;
}
