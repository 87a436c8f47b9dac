/* config.json "linux.seccomp": parsed and resolved with libseccomp's tables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sha2.h>
#include <seccomp.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

#ifndef SCMP_ACT_KILL_PROCESS
#define SCMP_ACT_KILL_PROCESS 0x80000000U
#endif
#ifndef SCMP_ACT_KILL_THREAD
#define SCMP_ACT_KILL_THREAD 0x00000000U
#endif
#ifndef SCMP_ACT_NOTIFY
#define SCMP_ACT_NOTIFY 0x7fc00000U
#endif
#ifndef SCMP_ACT_LOG
#define SCMP_ACT_LOG 0x7ffc0000U
#endif

/* errno returned by SCMP_ACT_ERRNO when the profile gives none (runc: EPERM). */
#define DEFAULT_ERRNO_RET EPERM

static int parse_action(const char *name, json_t *obj, const char *path, uint32_t *out, berth_error **err)
{
	int64_t errno_ret = DEFAULT_ERRNO_RET;
	bool has_errno;

	if (json_read_ranged(obj, "errnoRet", path, 0, 4095, &errno_ret, &has_errno, err) < 0)
		return -1;
	if (!has_errno)
		errno_ret = DEFAULT_ERRNO_RET;
	if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		*out = SCMP_ACT_KILL_THREAD;
	else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		*out = SCMP_ACT_KILL_PROCESS;
	else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
		*out = SCMP_ACT_TRAP;
	else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		*out = SCMP_ACT_ERRNO((uint16_t)errno_ret);
	else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
		*out = SCMP_ACT_TRACE((uint16_t)errno_ret);
	else if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		*out = SCMP_ACT_ALLOW;
	else if (strcmp(name, "SCMP_ACT_LOG") == 0)
		*out = SCMP_ACT_LOG;
	else if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
		*out = SCMP_ACT_NOTIFY;
	else
		return berth_error_set(err, 0, "%s: unknown action \"%s\"", path, name);
	return 0;
}

static const struct {
	const char *name;
	uint32_t arch;
} arch_names[] = {
	{ "SCMP_ARCH_X86", SCMP_ARCH_X86 },
	{ "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
	{ "SCMP_ARCH_X32", SCMP_ARCH_X32 },
	{ "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
	{ "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
	{ "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS },
	{ "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },
	{ "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 },
	{ "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },
	{ "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 },
	{ "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 },
	{ "SCMP_ARCH_PPC", SCMP_ARCH_PPC },
	{ "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },
	{ "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },
	{ "SCMP_ARCH_S390", SCMP_ARCH_S390 },
	{ "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
	{ "SCMP_ARCH_PARISC", SCMP_ARCH_PARISC },
	{ "SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64 },
	{ "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
};

static const char *const known_flags[] = {
	"SECCOMP_FILTER_FLAG_TSYNC",
	"SECCOMP_FILTER_FLAG_LOG",
	"SECCOMP_FILTER_FLAG_SPEC_ALLOW",
	"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

static int parse_args(json_t *rule, const char *path, spec_seccomp_rule *r, berth_error **err)
{
	static const struct {
		const char *name;
		int op;
	} ops[] = {
		{ "SCMP_CMP_NE", SCMP_CMP_NE },
		{ "SCMP_CMP_LT", SCMP_CMP_LT },
		{ "SCMP_CMP_LE", SCMP_CMP_LE },
		{ "SCMP_CMP_EQ", SCMP_CMP_EQ },
		{ "SCMP_CMP_GE", SCMP_CMP_GE },
		{ "SCMP_CMP_GT", SCMP_CMP_GT },
		{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	};
	_cleanup_free_ char *apath = json_read_child_path(path, "args");
	json_t *arr = NULL, *item;
	size_t i;

	if (json_read_array(rule, "args", path, &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	r->args = calloc(json_array_size(arr) + 1, sizeof(spec_seccomp_arg));
	if (r->args == NULL)
		return berth_error_set(err, ENOMEM, "%s", apath);
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *ipath = json_read_index_path(apath, i);
		_cleanup_free_ char *op = NULL;
		spec_seccomp_arg *a = &r->args[i];
		int64_t index;
		bool has_index, has_value;

		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object", ipath);
		if (json_read_ranged(item, "index", ipath, 0, 5, &index, &has_index, err) < 0 ||
		    json_read_uint64(item, "value", ipath, &a->value, &has_value, err) < 0 ||
		    json_read_uint64(item, "valueTwo", ipath, &a->value_two, NULL, err) < 0 ||
		    json_read_string(item, "op", ipath, &op, err) < 0)
			return -1;
		if (!has_index || op == NULL)
			return berth_error_set(err, 0, "%s: index and op are required", ipath);
		a->index = index;
		a->op = -1;
		for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
			if (strcmp(op, ops[k].name) == 0)
				a->op = ops[k].op;
		if (a->op < 0)
			return berth_error_set(err, 0, "%s.op: unknown operator \"%s\"", ipath, op);
		r->n_args = i + 1;
	}
	return 0;
}

static int hash_profile(json_t *obj, spec_seccomp *sc, berth_error **err)
{
	_cleanup_free_ char *canon = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);

	if (canon == NULL)
		return berth_error_set(err, ENOMEM, "linux.seccomp: hash the profile");
	sc->source_hash = calloc(1, SHA256_DIGEST_STRING_LENGTH);
	if (sc->source_hash == NULL)
		return berth_error_set(err, ENOMEM, "linux.seccomp: hash the profile");
	/* lower-case hex, as the cache file names expect */
	SHA256Data((const uint8_t *)canon, strlen(canon), sc->source_hash);
	return 0;
}

int spec_parse_seccomp(json_t *obj, const char *path, spec_seccomp *sc, berth_error **err)
{
	_cleanup_free_ char *default_action = NULL;
	_cleanup_free_ char *spath = json_read_child_path(path, "syscalls");
	_cleanup_strv_ char **archs = NULL;
	json_t *arr = NULL, *item;
	size_t n_archs = 0, i;

	sc->present = true;
	if (json_read_string(obj, "defaultAction", path, &default_action, err) < 0)
		return -1;
	if (default_action == NULL)
		return berth_error_set(err, 0, "%s.defaultAction: required", path);
	{
		_cleanup_free_ char *apath = json_read_child_path(path, "defaultAction");
		if (parse_action(default_action, NULL, apath, &sc->default_action, err) < 0)
			return -1;
	}
	if (strcmp(default_action, "SCMP_ACT_ERRNO") == 0 || strcmp(default_action, "SCMP_ACT_TRACE") == 0) {
		int64_t e;
		bool has;
		if (json_read_ranged(obj, "defaultErrnoRet", path, 0, 4095, &e, &has, err) < 0)
			return -1;
		if (has)
			sc->default_action = strcmp(default_action, "SCMP_ACT_ERRNO") == 0
						 ? SCMP_ACT_ERRNO((uint16_t)e)
						 : SCMP_ACT_TRACE((uint16_t)e);
	}
	if (json_read_string_array(obj, "architectures", path, &archs, &n_archs, err) < 0)
		return -1;
	sc->architectures = calloc(n_archs + 1, sizeof(uint32_t));
	if (sc->architectures == NULL)
		return berth_error_set(err, ENOMEM, "%s", path);
	for (i = 0; i < n_archs; i++) {
		bool found = false;
		for (size_t k = 0; k < sizeof(arch_names) / sizeof(arch_names[0]); k++)
			if (strcmp(archs[i], arch_names[k].name) == 0) {
				sc->architectures[sc->n_architectures++] = arch_names[k].arch;
				found = true;
			}
		if (!found)
			return berth_error_set(err, 0, "%s.architectures[%zu]: unknown architecture \"%s\"", path, i,
					       archs[i]);
	}
	if (json_read_string_array(obj, "flags", path, &sc->flags, &sc->n_flags, err) < 0)
		return -1;
	for (i = 0; i < sc->n_flags; i++) {
		bool found = false;
		for (size_t k = 0; k < sizeof(known_flags) / sizeof(known_flags[0]); k++)
			found |= strcmp(sc->flags[i], known_flags[k]) == 0;
		if (!found)
			return berth_error_set(err, 0, "%s.flags[%zu]: unknown flag \"%s\"", path, i, sc->flags[i]);
	}
	if (json_read_string(obj, "listenerPath", path, &sc->listener_path, err) < 0 ||
	    json_read_string(obj, "listenerMetadata", path, &sc->listener_metadata, err) < 0)
		return -1;
	if (json_read_array(obj, "syscalls", path, &arr, err) < 0)
		return -1;
	if (arr != NULL) {
		sc->rules = calloc(json_array_size(arr) + 1, sizeof(spec_seccomp_rule));
		if (sc->rules == NULL)
			return berth_error_set(err, ENOMEM, "%s", spath);
		json_array_foreach(arr, i, item) {
			_cleanup_free_ char *ipath = json_read_index_path(spath, i);
			_cleanup_free_ char *action = NULL;
			spec_seccomp_rule *r = &sc->rules[i];

			sc->n_rules = i + 1;
			if (!json_is_object(item))
				return berth_error_set(err, 0, "%s: expected an object", ipath);
			if (json_read_string_array(item, "names", ipath, &r->names, &r->n_names, err) < 0 ||
			    json_read_string(item, "action", ipath, &action, err) < 0)
				return -1;
			if (r->names == NULL || r->n_names == 0)
				return berth_error_set(err, 0, "%s.names: at least one syscall name is required",
						       ipath);
			if (action == NULL)
				return berth_error_set(err, 0, "%s.action: required", ipath);
			{
				_cleanup_free_ char *apath = json_read_child_path(ipath, "action");
				if (parse_action(action, item, apath, &r->action, err) < 0)
					return -1;
			}
			if (parse_args(item, ipath, r, err) < 0)
				return -1;
		}
	}
	bool uses_notify = sc->default_action == SCMP_ACT_NOTIFY;
	for (i = 0; i < sc->n_rules; i++)
		uses_notify |= sc->rules[i].action == SCMP_ACT_NOTIFY;
	if (uses_notify && sc->listener_path == NULL)
		return berth_error_set(err, 0, "%s.listenerPath: required when SCMP_ACT_NOTIFY is used", path);
	if (sc->default_action == SCMP_ACT_NOTIFY)
		return berth_error_set(err, 0, "%s.defaultAction: SCMP_ACT_NOTIFY cannot be the default action", path);
	return hash_profile(obj, sc, err);
}

void spec_seccomp_clear(spec_seccomp *sc)
{
	free(sc->architectures);
	cleanup_strvp(&sc->flags);
	free(sc->listener_path);
	free(sc->listener_metadata);
	for (size_t i = 0; i < sc->n_rules; i++) {
		cleanup_strvp(&sc->rules[i].names);
		free(sc->rules[i].args);
	}
	free(sc->rules);
	free(sc->source_hash);
	memset(sc, 0, sizeof(*sc));
}
