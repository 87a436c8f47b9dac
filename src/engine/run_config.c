#include "engine/run_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/rootless_netns.h"
#include "engine/runtime_call.h"
#include "engine/share.h"
#include "engine/userns.h"
#include "spec/spec.h"
#include "storage/volume.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef BERTH_LIBEXECDIR
#define BERTH_LIBEXECDIR "/usr/local/libexec/berth"
#endif

/* Docker's default capability set. */
static const char *const default_caps[] = { "CAP_CHOWN",
					    "CAP_DAC_OVERRIDE",
					    "CAP_FSETID",
					    "CAP_FOWNER",
					    "CAP_MKNOD",
					    "CAP_NET_RAW",
					    "CAP_SETGID",
					    "CAP_SETUID",
					    "CAP_SETFCAP",
					    "CAP_SETPCAP",
					    "CAP_NET_BIND_SERVICE",
					    "CAP_SYS_CHROOT",
					    "CAP_KILL",
					    "CAP_AUDIT_WRITE",
					    NULL };

int64_t run_parse_duration_ms(const char *text)
{
	char *end;
	double v = strtod(text, &end);

	if (end == text || v < 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		return (int64_t)v;
	if (strcmp(end, "s") == 0 || *end == '\0')
		return (int64_t)(v * 1000);
	if (strcmp(end, "m") == 0)
		return (int64_t)(v * 60000);
	if (strcmp(end, "h") == 0)
		return (int64_t)(v * 3600000);
	return -1;
}

int64_t run_parse_go_duration_ns(const char *text)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = { { "ns", 1 },  { "us", 1e3 }, { "\u00b5s", 1e3 }, { "ms", 1e6 },
		      { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 } };
	const char *s = text;
	double total = 0;

	if (strcmp(text, "0") == 0)
		return 0;
	if (*s == '\0')
		return -1;
	while (*s) {
		char *end;
		double v;
		size_t best = 0, best_len = 0;
		if (!isdigit((unsigned char)*s) && *s != '.')
			return -1;
		v = strtod(s, &end);
		if (end == s)
			return -1;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t len = strlen(units[i].unit);
			if (strncmp(end, units[i].unit, len) == 0 && len > best_len) {
				best = i;
				best_len = len;
			}
		}
		if (best_len == 0)
			return -1; /* Go: "missing unit in duration" */
		total += v * units[best].ns;
		s = end + best_len;
	}
	return total > (double)INT64_MAX ? -1 : (int64_t)total;
}

char *run_find_init(void)
{
	const char *dir = engine_exe_dir();
	char *path = NULL;

	if (dir) {
		if (asprintf(&path, "%s/../../init/berth-init", dir) < 0)
			return NULL;
		if (access(path, X_OK) == 0)
			return path;
		free(path);
	}
	path = strdup(BERTH_LIBEXECDIR "/berth-init");
	if (path && access(path, X_OK) == 0)
		return path;
	free(path);
	return NULL;
}

int64_t run_parse_bytes(const char *text)
{
	char *end;
	double v = strtod(text, &end);
	int64_t mult = 1;

	if (end == text || v < 0)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case 'k':
		mult = 1024;
		break;
	case 'm':
		mult = 1024 * 1024;
		break;
	case 'g':
		mult = 1024LL * 1024 * 1024;
		break;
	case 'b':
	case '\0':
		break;
	default:
		return -1;
	}
	if (*end && end[1] && !(tolower((unsigned char)end[1]) == 'b' && end[2] == '\0'))
		return -1;
	return (int64_t)(v * (double)mult);
}

/* "NET_ADMIN", "cap_net_admin", "ALL" -> capability number; ALL is -2. */
static int cap_number(const char *name)
{
	char buf[64];
	size_t i = 0;

	if (strcasecmp(name, "ALL") == 0)
		return -2;
	if (strncasecmp(name, "CAP_", 4) != 0)
		i = (size_t)snprintf(buf, sizeof(buf), "CAP_");
	for (const char *s = name; *s && i < sizeof(buf) - 1; s++)
		buf[i++] = (char)toupper((unsigned char)*s);
	buf[i] = '\0';
	return spec_capability_from_name(buf);
}

static int check_caps(const char *flag, const char *const *names, berth_error **err)
{
	for (const char *const *n = names; n && *n; n++)
		if (cap_number(*n) == -1)
			return berth_error_set(err, EINVAL, "%s: unknown capability \"%s\"", flag, *n);
	return 0;
}

static int parse_restart(const char *text, run_plan *plan, berth_error **err)
{
	const char *colon = strchr(text, ':');
	size_t len = colon ? (size_t)(colon - text) : strlen(text);
	char *end;

	if (len >= sizeof(plan->restart_name))
		goto bad;
	memcpy(plan->restart_name, text, len);
	plan->restart_name[len] = '\0';
	if (strcmp(plan->restart_name, "no") != 0 && strcmp(plan->restart_name, "always") != 0 &&
	    strcmp(plan->restart_name, "on-failure") != 0 && strcmp(plan->restart_name, "unless-stopped") != 0)
		goto bad;
	if (colon) {
		if (strcmp(plan->restart_name, "on-failure") != 0)
			goto bad;
		plan->restart_max = (int)strtol(colon + 1, &end, 10);
		if (*end != '\0' || end == colon + 1 || plan->restart_max < 0)
			goto bad;
	}
	return 0;
bad:
	return berth_error_set(err, EINVAL,
			       "--restart: invalid policy \"%s\" (no, on-failure[:N], always, unless-stopped)", text);
}

static int add_mount(run_plan *plan, run_mount_kind kind, const char *source, const char *dest, bool read_only)
{
	run_mount *grown = realloc(plan->mounts, (plan->n_mounts + 1) * sizeof(*grown));

	if (grown == NULL)
		return -1;
	plan->mounts = grown;
	grown[plan->n_mounts] = (run_mount){ kind, source ? strdup(source) : NULL, strdup(dest), read_only };
	if ((source && grown[plan->n_mounts].source == NULL) || grown[plan->n_mounts].destination == NULL) {
		free(grown[plan->n_mounts].source);
		free(grown[plan->n_mounts].destination);
		return -1;
	}
	plan->n_mounts++;
	return 0;
}

/* Checks SOURCE (NULL: anonymous) and DEST of FLAG "TEXT" and adds it. */
static int check_mount(run_plan *plan, const char *flag, const char *text, const char *source, const char *dest,
		       bool read_only, berth_error **err)
{
	struct stat st;
	run_mount_kind kind = RUN_MOUNT_ANONYMOUS;

	if (dest == NULL || dest[0] != '/')
		return berth_error_set(err, EINVAL, "%s \"%s\": the destination must be an absolute path", flag, text);
	if (strcmp(dest, "/") == 0)
		return berth_error_set(err, EINVAL, "%s \"%s\": the destination cannot be \"/\"", flag, text);
	if (source && source[0] == '/') {
		if (stat(source, &st) < 0)
			return berth_error_set(err, errno, "%s \"%s\": bind source \"%s\"", flag, text, source);
		kind = RUN_MOUNT_BIND;
	} else if (source) {
		if (!volume_name_valid(source))
			return berth_error_set(
			    err, EINVAL,
			    "%s \"%s\": \"%s\" is not a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]); "
			    "a bind mount needs an absolute host path",
			    flag, text, source);
		kind = RUN_MOUNT_VOLUME;
	}
	if (add_mount(plan, kind, source, dest, read_only) < 0)
		return berth_error_set(err, ENOMEM, "%s", flag);
	return 0;
}

/* -v SRC:DST[:ro|rw], -v NAME:DST[:ro|rw], -v DST (an anonymous volume). */
static int parse_volume(run_plan *plan, const char *text, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *dst, *mode;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "-v");
	dst = strchr(copy, ':');
	if (dst == NULL)
		return check_mount(plan, "-v", text, NULL, copy, false, err);
	*dst++ = '\0';
	mode = strchr(dst, ':');
	if (mode)
		*mode++ = '\0';
	if (copy[0] == '\0')
		return berth_error_set(err, EINVAL, "-v \"%s\": expected SRC:DST[:ro], NAME:DST[:ro] or DST", text);
	if (mode && strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0)
		return berth_error_set(err, EINVAL, "-v \"%s\": unknown mode \"%s\" (ro or rw)", text, mode);
	return check_mount(plan, "-v", text, copy, dst, mode && strcmp(mode, "ro") == 0, err);
}

/* --mount type=volume|bind,src=S,dst=D[,readonly] (docker's keys and aliases). */
static int parse_mount_flag(run_plan *plan, const char *text, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(text);
	const char *type = "volume", *src = NULL, *dst = NULL;
	bool read_only = false;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "--mount");
	for (char *save = NULL, *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		if (v)
			*v++ = '\0';
		if (strcmp(kv, "type") == 0 && v)
			type = v;
		else if ((strcmp(kv, "source") == 0 || strcmp(kv, "src") == 0) && v)
			src = v[0] ? v : NULL;
		else if ((strcmp(kv, "destination") == 0 || strcmp(kv, "dst") == 0 || strcmp(kv, "target") == 0) && v)
			dst = v;
		else if (strcmp(kv, "readonly") == 0 || strcmp(kv, "ro") == 0)
			read_only = v == NULL || strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
		else
			return berth_error_set(err, EINVAL, "--mount \"%s\": unknown key \"%s\"", text, kv);
	}
	if (strcmp(type, "bind") == 0) {
		if (src == NULL || src[0] != '/')
			return berth_error_set(err, EINVAL, "--mount \"%s\": a bind needs an absolute source", text);
	} else if (strcmp(type, "volume") == 0) {
		if (src && src[0] == '/')
			return berth_error_set(err, EINVAL, "--mount \"%s\": a volume source is a name", text);
	} else {
		return berth_error_set(err, EINVAL, "--mount \"%s\": type \"%s\" is not supported (bind, volume)", text,
				       type);
	}
	return check_mount(plan, "--mount", text, src, dst, read_only, err);
}

static int check_volumes(const run_options *o, run_plan *plan, berth_error **err)
{
	for (const char *const *v = o->volumes; v && *v; v++)
		if (parse_volume(plan, *v, err) < 0)
			return -1;
	for (const char *const *m = o->mounts; m && *m; m++)
		if (parse_mount_flag(plan, *m, err) < 0)
			return -1;
	for (size_t i = 0; i < plan->n_mounts; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(plan->mounts[i].destination, plan->mounts[k].destination) == 0)
				return berth_error_set(err, EINVAL, "duplicate mount point \"%s\"",
						       plan->mounts[i].destination);
	return 0;
}

static int check_ulimits(const char *const *ulimits, berth_error **err)
{
	for (const char *const *u = ulimits; u && *u; u++) {
		const char *eq = strchr(*u, '=');
		char *end;
		if (eq == NULL || eq == *u)
			return berth_error_set(err, EINVAL, "--ulimit \"%s\": expected NAME=SOFT[:HARD]", *u);
		strtoull(eq + 1, &end, 10);
		if (end == eq + 1 || (*end != '\0' && *end != ':'))
			return berth_error_set(err, EINVAL, "--ulimit \"%s\": expected NAME=SOFT[:HARD]", *u);
	}
	return 0;
}

/* Whether the LSM NAME is active (securityfs' list, else its own files). */
static bool lsm_active(const char *name)
{
	_cleanup_free_ char *list = NULL;
	berth_error *ignored = NULL;
	size_t len;

	if (fs_read_file("/sys/kernel/security/lsm", &list, &len, &ignored) == 0) {
		for (char *save = NULL, *t = strtok_r(list, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save))
			if (strcmp(t, name) == 0)
				return true;
		return false;
	}
	berth_error_free(&ignored);
	if (strcmp(name, "selinux") == 0)
		return access("/sys/fs/selinux/enforce", F_OK) == 0;
	if (fs_read_file("/sys/module/apparmor/parameters/enabled", &list, &len, &ignored) == 0)
		return list[0] == 'Y';
	berth_error_free(&ignored);
	return false;
}

static int check_security_opts(const run_options *o, run_plan *plan, berth_error **err)
{
	plan->no_new_privileges = true;
	if (!o->privileged)
		plan->seccomp_file = engine_data_file("seccomp-default.json");
	for (const char *const *s = o->security_opts; s && *s; s++) {
		const char *v = strchr(*s, '=') ? strchr(*s, '=') + 1 : strchr(*s, ':') ? strchr(*s, ':') + 1 : NULL;
		if (strncmp(*s, "seccomp", 7) == 0 && v) {
			free(plan->seccomp_file);
			plan->seccomp_file = strcmp(v, "unconfined") == 0 ? NULL : strdup(v);
			if (plan->seccomp_file && access(plan->seccomp_file, R_OK) < 0)
				return berth_error_set(err, errno, "--security-opt %s", *s);
		} else if (strncmp(*s, "no-new-privileges", 17) == 0) {
			plan->no_new_privileges = v == NULL || strcmp(v, "true") == 0;
		} else if (strncmp(*s, "apparmor", 8) == 0 && v) {
			/* berth loads no profile: "unconfined" is what a container
			 * gets anyway; a named profile cannot be honoured */
			if (strcmp(v, "unconfined") != 0)
				return berth_error_request(
				    err, EINVAL, "--security-opt %s: AppArmor profiles are not applied by berth%s", *s,
				    lsm_active("apparmor") ? "" : " (AppArmor is not enabled here)");
		} else if (strncmp(*s, "label", 5) == 0 && v) {
			/* berth sets no SELinux label: "disable" is what it does */
			if (strcmp(v, "disable") != 0)
				return berth_error_request(
				    err, EINVAL, "--security-opt %s: SELinux labels are not applied by berth%s", *s,
				    lsm_active("selinux") ? "" : " (SELinux is not enabled here)");
		} else {
			return berth_error_request(
			    err, EINVAL,
			    "--security-opt: unsupported option \"%s\" (seccomp=, no-new-privileges, "
			    "apparmor=unconfined, label=disable)",
			    *s);
		}
	}
	return 0;
}

static int check_numbers(const run_options *o, run_plan *plan, berth_error **err)
{
	char *end;

	if (o->memory && (plan->memory = run_parse_bytes(o->memory)) <= 0)
		return berth_error_request(err, EINVAL, "--memory: invalid size \"%s\"", o->memory);
	/* docker's floor: below it the container's own set-up is OOM-killed */
	if (o->memory && plan->memory < RUN_MEMORY_MIN)
		return berth_error_request(err, EINVAL,
					   "--memory %s: %lld bytes is below the minimum memory limit of 6m (%d bytes)",
					   o->memory, (long long)plan->memory, RUN_MEMORY_MIN);
	if (o->cpus) {
		double c = strtod(o->cpus, &end);
		if (*end != '\0' || end == o->cpus || c <= 0)
			return berth_error_set(err, EINVAL, "--cpus: invalid number \"%s\"", o->cpus);
		plan->cpu_quota = (int64_t)(c * 100000);
	}
	if (o->pids_limit) {
		plan->pids_limit = strtoll(o->pids_limit, &end, 10);
		if (*end != '\0' || end == o->pids_limit)
			return berth_error_set(err, EINVAL, "--pids-limit: invalid number \"%s\"", o->pids_limit);
	}
	if (o->log_max_size && (int64_t)(plan->log_max_size = (uint64_t)run_parse_bytes(o->log_max_size)) <= 0)
		return berth_error_set(err, EINVAL, "--log-opt max-size: invalid size \"%s\"", o->log_max_size);
	plan->stop_timeout = 10;
	if (o->stop_timeout) {
		plan->stop_timeout = (int)strtol(o->stop_timeout, &end, 10);
		if (*end != '\0' || end == o->stop_timeout)
			return berth_error_set(err, EINVAL, "--stop-timeout: invalid number \"%s\"", o->stop_timeout);
	}
	if (o->stop_signal && spec_signal_from_string(o->stop_signal) <= 0)
		return berth_error_set(err, EINVAL, "--stop-signal: unknown signal \"%s\"", o->stop_signal);
	return 0;
}

static int check_health(const run_options *o, run_plan *plan, berth_error **err)
{
	struct {
		const char *flag, *value;
		int64_t *out;
	} d[] = { { "--health-interval", o->health_interval, &plan->health_interval_ns },
		  { "--health-timeout", o->health_timeout, &plan->health_timeout_ns },
		  { "--health-start-period", o->health_start_period, &plan->health_start_ns } };
	char *end;

	if (o->no_healthcheck &&
	    (o->health_cmd || o->health_interval || o->health_timeout || o->health_retries || o->health_start_period))
		return berth_error_set(err, EINVAL, "--no-healthcheck conflicts with --health-* options");
	for (size_t i = 0; i < 3; i++) {
		if (d[i].value == NULL)
			continue;
		*d[i].out = run_parse_go_duration_ns(d[i].value);
		if (*d[i].out < 0)
			return berth_error_set(err, EINVAL, "%s: invalid duration \"%s\" (like 500ms, 30s, 1m30s)",
					       d[i].flag, d[i].value);
		if (*d[i].out != 0 && *d[i].out < 1000000)
			return berth_error_set(err, EINVAL, "%s: must be at least 1ms", d[i].flag);
	}
	if (o->health_retries) {
		plan->health_retries = (int)strtol(o->health_retries, &end, 10);
		if (*end != '\0' || end == o->health_retries || plan->health_retries < 0)
			return berth_error_set(err, EINVAL, "--health-retries: invalid number \"%s\"",
					       o->health_retries);
	}
	if (o->health_cmd && o->health_cmd[0] == '\0')
		return berth_error_set(err, EINVAL, "--health-cmd: empty command");
	return 0;
}

static bool is_ip(const char *text)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

/* --network, --ip, --dns, --add-host, -p: the values; whether a network of
 * that name exists is known when the container is set up. */
static int check_network(const run_options *o, berth_error **err)
{
	const char *mode = o->network ? o->network : engine_network_default();
	bool user_mode = strcmp(mode, "pasta") == 0 || strcmp(mode, "slirp4netns") == 0;
	bool special =
	    strcmp(mode, "none") == 0 || strcmp(mode, "host") == 0 || user_mode || strncmp(mode, "container:", 10) == 0;

	if (mode[0] == '\0' || strcmp(mode, "container:") == 0)
		return berth_error_set(
		    err, EINVAL, "--network \"%s\": expected none, host, pasta, container:ID or a network name", mode);
	/* rootless: a network lives in the rootless network namespace, which
	 * needs pasta (engine/rootless_netns.h) */
	if (!special && engine_rootless() && !engine_rootless_netns_available())
		return berth_error_set(err, EPERM, "--network %s: rootless networks need pasta (%s)", mode,
				       engine_network_default_why() ?: "unavailable");
	if (o->ip && special)
		return berth_error_set(err, EINVAL, "--ip needs a network (not --network %s)", mode);
	if (o->ip && !is_ip(o->ip))
		return berth_error_set(err, EINVAL, "--ip \"%s\": not an IP address", o->ip);
	if ((o->publish || o->publish_all) && special && !user_mode && o->network == NULL &&
	    engine_network_default_why())
		return berth_error_set(err, EINVAL,
				       "-p/-P: rootless containers publish ports through pasta or slirp4netns: %s",
				       engine_network_default_why());
	if ((o->publish || o->publish_all) && special && !user_mode)
		return berth_error_set(err, EINVAL, "-p/-P need a network, pasta or slirp4netns (not --network %s)",
				       mode);
	for (const char *const *d = o->dns; d && *d; d++)
		if (!is_ip(*d))
			return berth_error_set(err, EINVAL, "--dns \"%s\": not an IP address", *d);
	for (const char *const *a = o->network_aliases; a && *a; a++) {
		if (special ||
		    strspn(*a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(*a) ||
		    !isalnum((unsigned char)(*a)[0]) || strlen(*a) > 253)
			return berth_error_request(err, EINVAL,
						   special
						       ? "--network-alias %s: needs a bridge network, not --network %s"
						       : "--network-alias \"%s\": not a host name%s",
						   *a, special ? mode : "");
	}
	for (const char *const *h = o->add_hosts; h && *h; h++) {
		const char *colon = strchr(*h, ':');
		if (colon == NULL || colon == *h || (!is_ip(colon + 1) && strcmp(colon + 1, "host-gateway") != 0))
			return berth_error_set(err, EINVAL, "--add-host \"%s\": expected NAME:IP or NAME:host-gateway",
					       *h);
	}
	return 0;
}

int run_options_validate(const run_options *o, run_plan *plan, berth_error **err)
{
	memset(plan, 0, sizeof(*plan));
	snprintf(plan->restart_name, sizeof(plan->restart_name), "no");
	if (o->restart && parse_restart(o->restart, plan, err) < 0)
		return -1;
	if (o->remove && strcmp(plan->restart_name, "no") != 0)
		return berth_error_set(err, EINVAL, "--rm and --restart %s cannot be combined", o->restart);
	if (o->no_monitor && (strcmp(plan->restart_name, "no") != 0 || o->remove || o->interactive || o->tty ||
			      (o->health_cmd && strcmp(o->health_cmd, "none") != 0)))
		return berth_error_set(err, EINVAL,
				       "a container without a monitor takes no restart policy, --rm, -i, -t "
				       "or health check");
	if (o->name && strlen(o->name) > RUN_NAME_MAX)
		return berth_error_request(err, EINVAL, "--name: a name has at most %d characters, not %zu",
					   RUN_NAME_MAX, strlen(o->name));
	/* from here on PLAN owns memory: every failure frees it */
	if (check_network(o, err) < 0 || engine_share_validate(o->ipc, o->pid, err) < 0)
		return -1;
	if (check_caps("--cap-add", o->cap_add, err) < 0 || check_caps("--cap-drop", o->cap_drop, err) < 0)
		return -1;
	if (check_volumes(o, plan, err) < 0 || check_ulimits(o->ulimits, err) < 0)
		goto fail;
	for (const char *const *t = o->tmpfs; t && *t; t++)
		if ((*t)[0] != '/') {
			berth_error_set(err, EINVAL, "--tmpfs \"%s\": the destination must be an absolute path", *t);
			goto fail;
		}
	for (const char *const *f = o->env_files; f && *f; f++)
		if (access(*f, R_OK) < 0) {
			berth_error_set(err, errno, "--env-file \"%s\"", *f);
			goto fail;
		}
	if (check_numbers(o, plan, err) < 0 || check_health(o, plan, err) < 0)
		goto fail;
	if (o->init && (plan->init_path = run_find_init()) == NULL) {
		berth_error_set(err, ENOENT, "--init: berth-init not found next to berth nor in %s", BERTH_LIBEXECDIR);
		goto fail;
	}
	if (check_security_opts(o, plan, err) < 0)
		goto fail;
	for (const char *const *pub = o->publish; pub && *pub; pub++)
		if (network_parse_publish(*pub, &plan->ports, &plan->n_ports, err) < 0)
			goto fail;
	return 0;
fail:
	run_plan_free(plan);
	return -1;
}

void run_plan_free(run_plan *plan)
{
	free(plan->seccomp_file);
	plan->seccomp_file = NULL;
	for (size_t i = 0; i < plan->n_mounts; i++) {
		free(plan->mounts[i].source);
		free(plan->mounts[i].destination);
	}
	free(plan->mounts);
	plan->mounts = NULL;
	plan->n_mounts = 0;
	free(plan->init_path);
	plan->init_path = NULL;
	free(plan->ports);
	plan->ports = NULL;
	plan->n_ports = 0;
}

/* ---- applying ---- */

static void env_set(json_t *env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	size_t i;
	json_t *v;

	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v);
		if (s && strncmp(s, kv, klen) == 0 && s[klen] == '=') {
			json_array_set_new(env, i, json_string(kv));
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
}

static void env_add(json_t *env, const char *item)
{
	_cleanup_free_ char *kv = NULL;
	const char *host;

	if (strchr(item, '=')) {
		env_set(env, item);
		return;
	}
	host = getenv(item); /* docker: -e NAME takes the value from the caller */
	if (host && asprintf(&kv, "%s=%s", item, host) > 0)
		env_set(env, kv);
}

/* KEY=VALUE unless ENV has KEY (the image's value wins, -e over both). */
static void env_default(json_t *env, const char *key, const char *value)
{
	_cleanup_free_ char *kv = NULL;
	size_t i, len = strlen(key);
	json_t *v;

	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v);
		if (s && strncmp(s, key, len) == 0 && s[len] == '=')
			return;
	}
	if (asprintf(&kv, "%s=%s", key, value) > 0)
		json_array_append_new(env, json_string(kv));
}

/* docker's environment: the image's, HOSTNAME, TERM=xterm with -t, then
 * --env-file and -e over them. */
static int apply_env(json_t *process, const run_options *o, const char *hostname, berth_error **err)
{
	json_t *env = json_object_get(process, "env");

	if (env == NULL)
		json_object_set_new(process, "env", env = json_array());
	env_default(env, "HOSTNAME", hostname);
	if (o->tty)
		env_default(env, "TERM", "xterm");

	for (const char *const *f = o->env_files; f && *f; f++) {
		_cleanup_fclose_ FILE *fp = fopen(*f, "re");
		char line[8192];
		if (fp == NULL)
			return berth_error_set(err, errno, "--env-file \"%s\"", *f);
		while (fgets(line, sizeof(line), fp)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] != '\0' && line[0] != '#')
				env_add(env, line);
		}
	}
	for (const char *const *e = o->env; e && *e; e++)
		env_add(env, *e);
	return 0;
}

static json_t *cap_array(uint64_t set)
{
	json_t *a = json_array();

	for (int c = 0; c <= spec_capability_last(); c++)
		if (set & (1ULL << c))
			json_array_append_new(a, json_string(spec_capability_name(c)));
	return a;
}

/* The capabilities berth holds (permitted and bounding, from
 * /proc/self/status): what --privileged and --cap-add ALL can give, as
 * podman does; the others are left out with a debug note. */
static uint64_t caps_held(uint64_t all)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	unsigned long long prm = all, bnd = all;
	char line[256];

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "CapPrm:", 7) == 0)
			prm = strtoull(line + 7, NULL, 16);
		else if (strncmp(line, "CapBnd:", 7) == 0)
			bnd = strtoull(line + 7, NULL, 16);
	}
	for (int c = 0; c <= spec_capability_last(); c++)
		if ((all & (1ULL << c)) && !(prm & bnd & (1ULL << c)))
			berth_debug("capability %s is not held by berth: the container does not get it",
				    spec_capability_name(c));
	return all & prm & bnd;
}

static void apply_caps(json_t *process, const run_options *o)
{
	uint64_t all = spec_capability_last() >= 63 ? ~0ULL : (1ULL << (spec_capability_last() + 1)) - 1, set = 0;
	int c;
	bool wants_all = o->privileged;

	for (const char *const *n = o->cap_add; n && *n; n++)
		wants_all |= cap_number(*n) == -2;
	if (wants_all)
		all = caps_held(all);

	if (o->privileged) {
		set = all;
	} else {
		for (const char *const *n = default_caps; *n; n++)
			set |= 1ULL << spec_capability_from_name(*n);
	}
	/* docker: drops first, so "--cap-drop ALL --cap-add X" leaves X */
	for (const char *const *n = o->cap_drop; n && *n; n++)
		set &= (c = cap_number(*n)) == -2 ? 0 : ~(1ULL << c);
	for (const char *const *n = o->cap_add; n && *n; n++)
		set |= (c = cap_number(*n)) == -2 ? all : 1ULL << c;
	json_object_set_new(process, "capabilities",
			    json_pack("{s:o, s:o, s:o}", "bounding", cap_array(set), "effective", cap_array(set),
				      "permitted", cap_array(set)));
}

static json_t *bind_mount(const char *source, const char *dest, bool read_only)
{
	return json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dest, "type", "bind", "source", source,
			 "options", "rbind", "rprivate", read_only ? "ro" : "rw");
}

static void apply_mounts(json_t *cfg, const run_options *o, const run_plan *plan)
{
	json_t *mounts = json_object_get(cfg, "mounts");

	for (size_t i = 0; i < plan->n_mounts; i++) {
		const run_mount *m = &plan->mounts[i];
		if (m->kind == RUN_MOUNT_BIND) /* volumes: engine_container_create, once they are ready */
			json_array_append_new(mounts, bind_mount(m->source, m->destination, m->read_only));
	}
	for (const char *const *t = o->tmpfs; t && *t; t++) {
		_cleanup_free_ char *copy = strdup(*t);
		char *opts = strchr(copy, ':');
		json_t *m;
		if (opts)
			*opts++ = '\0';
		m = json_pack("{s:s, s:s, s:s, s:[s, s]}", "destination", copy, "type", "tmpfs", "source", "tmpfs",
			      "options", "nosuid", "nodev");
		for (char *save = NULL, *x = opts ? strtok_r(opts, ",", &save) : NULL; x;
		     x = strtok_r(NULL, ",", &save))
			json_array_append_new(json_object_get(m, "options"), json_string(x));
		if (opts == NULL)
			json_array_append_new(json_object_get(m, "options"), json_string("mode=1777"));
		json_array_append_new(mounts, m);
	}
}

/* --init: berth-init bound read-only at RUN_INIT_PATH runs the command. */
static void apply_init(json_t *cfg, json_t *process, const run_plan *plan)
{
	json_t *args = json_pack("[s, s]", RUN_INIT_PATH, "--");

	if (plan->init_path == NULL) {
		json_decref(args);
		return;
	}
	json_array_extend(args, json_object_get(process, "args"));
	json_object_set_new(process, "args", args);
	json_array_append_new(json_object_get(cfg, "mounts"),
			      json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", RUN_INIT_PATH, "type", "bind",
					"source", plan->init_path, "options", "bind", "ro", "rprivate"));
}

static void apply_ulimits(json_t *process, const run_options *o)
{
	json_t *rl = json_object_get(process, "rlimits");

	if (rl == NULL)
		json_object_set_new(process, "rlimits", rl = json_array());
	for (const char *const *u = o->ulimits; u && *u; u++) {
		char type[64], *end;
		const char *eq = strchr(*u, '=');
		unsigned long long soft = strtoull(eq + 1, &end, 10),
				   hard = *end == ':' ? strtoull(end + 1, NULL, 10) : soft;
		size_t i, n = (size_t)(eq - *u) < 40 ? (size_t)(eq - *u) : 40;
		json_t *v;
		snprintf(type, sizeof(type), "RLIMIT_");
		for (size_t k = 0; k < n; k++)
			type[7 + k] = (char)toupper((unsigned char)(*u)[k]);
		type[7 + n] = '\0';
		json_array_foreach(rl, i, v) {
			if (strcmp(json_string_value(json_object_get(v, "type")) ?: "", type) == 0) {
				json_array_remove(rl, i);
				break;
			}
		}
		json_array_append_new(
		    rl, json_pack("{s:s, s:I, s:I}", "type", type, "soft", (json_int_t)soft, "hard", (json_int_t)hard));
	}
}

static void apply_resources(json_t *lin, const run_plan *plan)
{
	json_t *res = json_object_get(lin, "resources");

	if (res == NULL)
		json_object_set_new(lin, "resources", res = json_object());
	if (plan->memory)
		json_object_set_new(res, "memory", json_pack("{s:I}", "limit", (json_int_t)plan->memory));
	if (plan->cpu_quota)
		json_object_set_new(res, "cpu",
				    json_pack("{s:I, s:I}", "quota", (json_int_t)plan->cpu_quota, "period", 100000));
	if (plan->pids_limit)
		json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)plan->pids_limit));
}

static void apply_network(json_t *lin, const run_options *o)
{
	json_t *ns = json_object_get(lin, "namespaces"), *v;
	size_t i;

	if (o->network == NULL || strcmp(o->network, "host") != 0)
		return;
	json_array_foreach(ns, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "type")) ?: "", "network") == 0) {
			json_array_remove(ns, i);
			break;
		}
	}
}

static void apply_privileged(json_t *cfg, json_t *lin)
{
	json_t *mounts = json_object_get(cfg, "mounts"), *m, *opts, *o;
	size_t i, k;

	json_object_del(lin, "maskedPaths");
	json_object_del(lin, "readonlyPaths");
	json_object_set_new(json_object_get(lin, "resources"), "devices",
			    json_pack("[{s:b, s:s}]", "allow", 1, "access", "rwm"));
	json_array_foreach(mounts, i, m) {
		const char *dst = json_string_value(json_object_get(m, "destination"));
		if (strcmp(dst, "/sys") != 0 && strcmp(dst, "/sys/fs/cgroup") != 0)
			continue;
		opts = json_object_get(m, "options");
		json_array_foreach(opts, k, o) {
			if (strcmp(json_string_value(o), "ro") == 0) {
				json_array_set_new(opts, k, json_string("rw"));
				break;
			}
		}
	}
}

static int apply_seccomp(json_t *lin, const run_plan *plan, berth_error **err)
{
	json_error_t jerr;
	json_t *profile;

	if (plan->seccomp_file == NULL)
		return 0;
	profile = json_load_file(plan->seccomp_file, 0, &jerr);
	if (profile == NULL)
		return berth_error_set(err, EINVAL, "seccomp profile \"%s\": %s", plan->seccomp_file, jerr.text);
	json_object_set_new(lin, "seccomp", profile);
	return 0;
}

int run_config_apply(json_t *cfg, const run_options *o, const run_plan *plan, const char *id, berth_error **err)
{
	json_t *process = json_object_get(cfg, "process"), *lin = json_object_get(cfg, "linux");
	char hostname[16];
	_cleanup_free_ char *cgpath = NULL;
	const char *parent = o->cgroup_parent ? o->cgroup_parent : "berth";

	snprintf(hostname, sizeof(hostname), "%.12s", id);
	if (apply_env(process, o, o->hostname ? o->hostname : hostname, err) < 0)
		return -1;
	apply_caps(process, o);
	json_object_set_new(process, "noNewPrivileges", json_boolean(plan->no_new_privileges && !o->privileged));
	apply_ulimits(process, o);
	json_object_set_new(cfg, "hostname", json_string(o->hostname ? o->hostname : hostname));
	json_object_set_new(json_object_get(cfg, "root"), "readonly", json_boolean(o->read_only));
	apply_mounts(cfg, o, plan);
	apply_init(cfg, process, plan);
	apply_resources(lin, plan);
	apply_network(lin, o);
	if (o->privileged)
		apply_privileged(cfg, lin);
	if (apply_seccomp(lin, plan, err) < 0)
		return -1;
	if (asprintf(&cgpath, "%s/%s", parent, id) < 0)
		return berth_error_set(err, ENOMEM, "cgroupsPath");
	json_object_set_new(lin, "cgroupsPath", json_string(cgpath));
	return 0;
}
