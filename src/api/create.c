/* docker's container config -> run_options. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/create.h"
#include "util/cleanup.h"

/* Config fields read below, and those accepted and ignored (the client's
 * view of the container: attach flags, what the image exposes). */
static const char *const config_known[] = {
	"Image",	"Cmd",	      "Entrypoint",	  "Env",	  "WorkingDir",	  "User",
	"Hostname",	"Tty",	      "OpenStdin",	  "Labels",	  "StopSignal",	  "StopTimeout",
	"Healthcheck",	"Volumes",    "AttachStdin",	  "AttachStdout", "AttachStderr", "StdinOnce",
	"ExposedPorts", "HostConfig", "NetworkingConfig", "Domainname",	  "ArgsEscaped",  "NetworkDisabled",
	"OnBuild",	"Shell",      "MacAddress",	  NULL,
};

static const char *const host_known[] = {
	"Binds",
	"AutoRemove",
	"RestartPolicy",
	"NetworkMode",
	"PortBindings",
	"PublishAllPorts",
	"Memory",
	"NanoCpus",
	"PidsLimit",
	"CapAdd",
	"CapDrop",
	"Privileged",
	"ReadonlyRootfs",
	"SecurityOpt",
	"Tmpfs",
	"Dns",
	"ExtraHosts",
	"Init",
	"CgroupParent",
	"Ulimits",
	"LogConfig",
	"Mounts",
	"Runtime",
	"IpcMode",
	"PidMode",
	"CpuShares",
	"MemorySwap",
	"ConsoleSize",
	"Isolation",
	"ShmSize",
	"OomKillDisable",
	"CgroupnsMode",
	"UTSMode",
	"UsernsMode",
	"DnsOptions",
	"DnsSearch",
	"VolumeDriver",
	"VolumesFrom",
	"Links",
	"GroupAdd",
	"Devices",
	"DeviceRequests",
	"DeviceCgroupRules",
	"MaskedPaths",
	"ReadonlyPaths",
	"KernelMemory",
	"KernelMemoryTCP",
	"MemoryReservation",
	"MemorySwappiness",
	"CpuPeriod",
	"CpuQuota",
	"CpuRealtimePeriod",
	"CpuRealtimeRuntime",
	"CpusetCpus",
	"CpusetMems",
	"CpuCount",
	"CpuPercent",
	"BlkioWeight",
	"BlkioWeightDevice",
	"BlkioDeviceReadBps",
	"BlkioDeviceWriteBps",
	"BlkioDeviceReadIOps",
	"BlkioDeviceWriteIOps",
	"IOMaximumIOps",
	"IOMaximumBandwidth",
	"ContainerIDFile",
	"Cgroup",
	"OomScoreAdj",
	"StorageOpt",
	"Sysctls",
	"Annotations",
	"NanoCPUs",
	NULL,
};

/* host_known entries from "CpuShares" on are not read: only their zero
 * values pass (the docker CLI sends them all). */
static const char *const host_zero_only_from = "CpuShares";

static bool in_list(const char *const *list, const char *key)
{
	for (; *list; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

static bool is_zero(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return true;
	case JSON_INTEGER:
		return json_integer_value(v) == 0;
	case JSON_REAL:
		return json_real_value(v) == 0;
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_ARRAY: {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			if (!is_zero(e))
				return false;
		return true;
	}
	case JSON_OBJECT:
		return json_object_size(v) == 0;
	default:
		return false;
	}
}

static char *keep_str(create_strings *k, char *s)
{
	if (s == NULL)
		return NULL;
	if (k->n + 1 >= k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 32;
		char **items = realloc(k->items, cap * sizeof(char *));
		if (items == NULL) {
			free(s);
			return NULL;
		}
		k->items = items;
		k->cap = cap;
	}
	k->items[k->n++] = s;
	return s;
}

static char *keep_printf(create_strings *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *keep_printf(create_strings *k, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return keep_str(k, s);
}

/* A NULL-terminated vector of N slots (kept). */
static const char **keep_vec(create_strings *k, size_t n)
{
	return (const char **)keep_str(k, calloc(n + 1, sizeof(char *)));
}

/* A JSON array of strings -> a kept vector; NULL when absent. */
static int string_array(json_t *a, const char *field, create_strings *k, const char *const **out, berth_error **err)
{
	const char **v;
	json_t *e;
	size_t i;

	*out = NULL;
	if (a == NULL || json_is_null(a))
		return 0;
	if (json_is_string(a)) { /* Cmd and Entrypoint may be a string */
		v = keep_vec(k, 1);
		if (v == NULL)
			return berth_error_set(err, ENOMEM, "%s", field);
		v[0] = json_string_value(a);
		*out = v;
		return 0;
	}
	if (!json_is_array(a))
		return berth_error_request(err, EINVAL, "%s: expected an array of strings", field);
	v = keep_vec(k, json_array_size(a));
	if (v == NULL)
		return berth_error_set(err, ENOMEM, "%s", field);
	json_array_foreach(a, i, e) {
		if (!json_is_string(e))
			return berth_error_request(err, EINVAL, "%s[%zu]: expected a string", field, i);
		v[i] = json_string_value(e);
	}
	*out = v;
	return 0;
}

static int check_fields(json_t *obj, const char *prefix, const char *const *known, const char *read_until,
			berth_error **err)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		bool zero_only = false;
		for (const char *const *p = known; *p; p++) {
			if (read_until && strcmp(*p, read_until) == 0)
				zero_only = true;
			if (strcmp(*p, key) == 0)
				break;
		}
		if (!in_list(known, key)) {
			if (is_zero(v))
				continue;
			return berth_error_request(err, EINVAL, "%s%s is not supported by berth", prefix, key);
		}
		/* -1: docker's "unset" of MemorySwappiness and others */
		if (zero_only && !is_zero(v) && !(json_is_integer(v) && json_integer_value(v) == -1))
			return berth_error_request(err, EINVAL, "%s%s is not supported by berth (only its zero value)",
						   prefix, key);
	}
	return 0;
}

/* {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]} -> -p values */
static int port_bindings(json_t *pb, create_strings *k, run_options *o, berth_error **err)
{
	const char **v;
	const char *port;
	json_t *list, *b;
	size_t n = 0, i = 0, j;

	if (pb == NULL || json_is_null(pb) || (json_is_object(pb) && json_object_size(pb) == 0))
		return 0;
	if (!json_is_object(pb))
		return berth_error_request(err, EINVAL, "HostConfig.PortBindings: expected an object");
	json_object_foreach(pb, port, list)
		n += json_is_array(list) && json_array_size(list) ? json_array_size(list) : 1;
	v = keep_vec(k, n);
	if (v == NULL)
		return berth_error_set(err, ENOMEM, "PortBindings");
	json_object_foreach(pb, port, list) {
		if (!json_is_array(list) || json_array_size(list) == 0) {
			v[i++] = port;
			continue;
		}
		json_array_foreach(list, j, b) {
			const char *ip = json_string_value(json_object_get(b, "HostIp")) ?: "";
			const char *hp = json_string_value(json_object_get(b, "HostPort")) ?: "";
			if (*ip)
				v[i++] = keep_printf(k, "%s:%s:%s", ip, hp, port);
			else if (*hp)
				v[i++] = keep_printf(k, "%s:%s", hp, port);
			else
				v[i++] = port;
		}
	}
	o->publish = v;
	return 0;
}

/* HostConfig.Mounts [{Type, Source, Target, ReadOnly}] -> --mount values */
static int mounts(json_t *ms, create_strings *k, run_options *o, berth_error **err)
{
	const char **v;
	json_t *m;
	size_t i;

	if (ms == NULL || json_is_null(ms) || json_array_size(ms) == 0)
		return 0;
	v = keep_vec(k, json_array_size(ms));
	if (v == NULL)
		return berth_error_set(err, ENOMEM, "Mounts");
	json_array_foreach(ms, i, m) {
		const char *type = json_string_value(json_object_get(m, "Type")) ?: "volume";
		const char *src = json_string_value(json_object_get(m, "Source")) ?: "";
		const char *dst = json_string_value(json_object_get(m, "Target")) ?: "";
		if (strcmp(type, "volume") != 0 && strcmp(type, "bind") != 0 && strcmp(type, "tmpfs") != 0)
			return berth_error_request(err, EINVAL,
						   "HostConfig.Mounts[%zu].Type %s is not supported by berth", i, type);
		v[i] = keep_printf(k, "type=%s%s%s,dst=%s%s", type, *src ? ",src=" : "", src, dst,
				   json_is_true(json_object_get(m, "ReadOnly")) ? ",readonly" : "");
	}
	o->mounts = v;
	return 0;
}

static int host_config(json_t *h, create_strings *k, run_options *o, berth_error **err)
{
	json_t *v, *e;
	const char *key;
	size_t i;

	if (h == NULL || json_is_null(h))
		return 0;
	if (!json_is_object(h))
		return berth_error_request(err, EINVAL, "HostConfig: expected an object");
	if (check_fields(h, "HostConfig.", host_known, host_zero_only_from, err) < 0)
		return -1;
	o->remove = json_is_true(json_object_get(h, "AutoRemove"));
	o->privileged = json_is_true(json_object_get(h, "Privileged"));
	o->read_only = json_is_true(json_object_get(h, "ReadonlyRootfs"));
	o->init = json_is_true(json_object_get(h, "Init"));
	o->publish_all = json_is_true(json_object_get(h, "PublishAllPorts"));
	if (string_array(json_object_get(h, "Binds"), "HostConfig.Binds", k, &o->volumes, err) < 0 ||
	    string_array(json_object_get(h, "CapAdd"), "HostConfig.CapAdd", k, &o->cap_add, err) < 0 ||
	    string_array(json_object_get(h, "CapDrop"), "HostConfig.CapDrop", k, &o->cap_drop, err) < 0 ||
	    string_array(json_object_get(h, "SecurityOpt"), "HostConfig.SecurityOpt", k, &o->security_opts, err) < 0 ||
	    string_array(json_object_get(h, "Dns"), "HostConfig.Dns", k, &o->dns, err) < 0 ||
	    string_array(json_object_get(h, "ExtraHosts"), "HostConfig.ExtraHosts", k, &o->add_hosts, err) < 0)
		return -1;
	/* docker's ExtraHosts are NAME:IP as berth's --add-host */
	/* docker's default network is "bridge": berth's default network */
	if ((v = json_object_get(h, "NetworkMode")) && json_is_string(v) && json_string_length(v) &&
	    strcmp(json_string_value(v), "default") != 0 && strcmp(json_string_value(v), "bridge") != 0)
		o->network = json_string_value(v);
	/* "" is the daemon's default (private); the words are the engine's
	 * --ipc/--pid (private, shareable, host, container:ID) */
	if ((v = json_object_get(h, "IpcMode")) && json_is_string(v) && json_string_length(v))
		o->ipc = json_string_value(v);
	if ((v = json_object_get(h, "PidMode")) && json_is_string(v) && json_string_length(v))
		o->pid = json_string_value(v);
	o->cgroup_parent = json_string_value(json_object_get(h, "CgroupParent"));
	if (o->cgroup_parent && *o->cgroup_parent == '\0')
		o->cgroup_parent = NULL;
	o->runtime = json_string_value(json_object_get(h, "Runtime"));
	if (o->runtime && (*o->runtime == '\0' || strcmp(o->runtime, "runc") == 0))
		o->runtime = NULL;
	if ((v = json_object_get(h, "Memory")) && json_integer_value(v) > 0)
		o->memory = keep_printf(k, "%" PRId64, (int64_t)json_integer_value(v));
	if ((v = json_object_get(h, "NanoCpus")) && json_integer_value(v) > 0)
		o->cpus = keep_printf(k, "%.9g", (double)json_integer_value(v) / 1e9);
	if ((v = json_object_get(h, "PidsLimit")) && json_integer_value(v) > 0)
		o->pids_limit = keep_printf(k, "%" PRId64, (int64_t)json_integer_value(v));
	if ((v = json_object_get(h, "RestartPolicy")) && json_is_object(v)) {
		const char *name = json_string_value(json_object_get(v, "Name")) ?: "";
		json_int_t max = json_integer_value(json_object_get(v, "MaximumRetryCount"));
		if (*name && strcmp(name, "on-failure") == 0 && max > 0)
			o->restart = keep_printf(k, "on-failure:%lld", (long long)max);
		else if (*name)
			o->restart = name;
	}
	if ((v = json_object_get(h, "Tmpfs")) && json_is_object(v) && json_object_size(v)) {
		const char **t = keep_vec(k, json_object_size(v));
		i = 0;
		json_object_foreach(v, key, e) {
			const char *opts = json_string_value(e) ?: "";
			t[i++] = *opts ? keep_printf(k, "%s:%s", key, opts) : key;
		}
		o->tmpfs = t;
	}
	if ((v = json_object_get(h, "Ulimits")) && json_array_size(v)) {
		const char **u = keep_vec(k, json_array_size(v));
		json_array_foreach(v, i, e) {
			u[i] = keep_printf(k, "%s=%lld:%lld", json_string_value(json_object_get(e, "Name")) ?: "",
					   (long long)json_integer_value(json_object_get(e, "Soft")),
					   (long long)json_integer_value(json_object_get(e, "Hard")));
		}
		o->ulimits = u;
	}
	if ((v = json_object_get(h, "LogConfig")) && json_is_object(v)) {
		const char *type = json_string_value(json_object_get(v, "Type")) ?: "";
		json_t *cfg = json_object_get(v, "Config");
		if (*type && strcmp(type, "json-file") != 0 && strcmp(type, "k8s-file") != 0 &&
		    strcmp(type, "local") != 0)
			return berth_error_request(err, EINVAL,
						   "HostConfig.LogConfig.Type %s is not supported by berth (it keeps "
						   "a k8s-file log)",
						   type);
		json_object_foreach(cfg, key, e) {
			if (strcmp(key, "max-size") == 0)
				o->log_max_size = json_string_value(e);
			else if (strcmp(key, "max-file") != 0)
				return berth_error_request(
				    err, EINVAL, "HostConfig.LogConfig.Config.%s is not supported by berth", key);
		}
	}
	if (port_bindings(json_object_get(h, "PortBindings"), k, o, err) < 0 ||
	    mounts(json_object_get(h, "Mounts"), k, o, err) < 0)
		return -1;
	return 0;
}

/* Healthcheck {Test, Interval, Timeout, Retries, StartPeriod} (ns). */
static int healthcheck(json_t *hc, create_strings *k, run_options *o, berth_error **err)
{
	json_t *test = json_object_get(hc, "Test"), *v;
	const char *kind = json_string_value(json_array_get(test, 0));

	if (hc == NULL || json_is_null(hc))
		return 0;
	if (kind && strcmp(kind, "NONE") == 0) {
		o->no_healthcheck = true;
		return 0;
	}
	if (kind && strcmp(kind, "CMD-SHELL") == 0) {
		o->health_cmd = json_string_value(json_array_get(test, 1));
	} else if (kind && strcmp(kind, "CMD") == 0) {
		/* berth's health checks are shell commands: the words joined */
		size_t len = 1, i;
		json_t *w;
		char *cmd;
		json_array_foreach(test, i, w)
			len += json_string_length(w) + 1;
		cmd = keep_str(k, calloc(1, len));
		if (cmd == NULL)
			return berth_error_set(err, ENOMEM, "Healthcheck");
		json_array_foreach(test, i, w) {
			if (i == 0)
				continue;
			if (i > 1)
				strcat(cmd, " ");
			strcat(cmd, json_string_value(w) ?: "");
		}
		o->health_cmd = cmd;
	} else if (kind && strcmp(kind, "") != 0) {
		return berth_error_request(err, EINVAL,
					   "Config.Healthcheck.Test[0] %s: expected CMD, CMD-SHELL or NONE", kind);
	}
	if ((v = json_object_get(hc, "Interval")) && json_integer_value(v) > 0)
		o->health_interval = keep_printf(k, "%lldms", (long long)(json_integer_value(v) / 1000000));
	if ((v = json_object_get(hc, "Timeout")) && json_integer_value(v) > 0)
		o->health_timeout = keep_printf(k, "%lldms", (long long)(json_integer_value(v) / 1000000));
	if ((v = json_object_get(hc, "StartPeriod")) && json_integer_value(v) > 0)
		o->health_start_period = keep_printf(k, "%lldms", (long long)(json_integer_value(v) / 1000000));
	if ((v = json_object_get(hc, "Retries")) && json_integer_value(v) > 0)
		o->health_retries = keep_printf(k, "%lld", (long long)json_integer_value(v));
	return 0;
}

static int labels(json_t *l, create_strings *k, run_options *o, berth_error **err)
{
	const char **v;
	const char *key;
	json_t *e;
	size_t i = 0;

	if (l == NULL || json_is_null(l) || json_object_size(l) == 0)
		return 0;
	if (!json_is_object(l))
		return berth_error_request(err, EINVAL, "Labels: expected an object");
	v = keep_vec(k, json_object_size(l));
	if (v == NULL)
		return berth_error_set(err, ENOMEM, "Labels");
	json_object_foreach(l, key, e)
		v[i++] = keep_printf(k, "%s=%s", key, json_string_value(e) ?: "");
	o->labels = v;
	return 0;
}

/* Config.Volumes {"/data": {}} -> anonymous volumes (-v /data), after the
 * binds. */
static int anonymous_volumes(json_t *vols, create_strings *k, run_options *o, berth_error **err)
{
	size_t nb = 0, i = 0;
	const char **v;
	const char *key;
	json_t *e;

	if (vols == NULL || json_object_size(vols) == 0)
		return 0;
	while (o->volumes && o->volumes[nb])
		nb++;
	v = keep_vec(k, nb + json_object_size(vols));
	if (v == NULL)
		return berth_error_set(err, ENOMEM, "Volumes");
	for (; i < nb; i++)
		v[i] = o->volumes[i];
	json_object_foreach(vols, key, e) {
		bool bound = false;
		for (size_t j = 0; j < nb; j++) {
			const char *colon = strchr(o->volumes[j], ':');
			const char *dst = colon ? colon + 1 : o->volumes[j];
			if (strncmp(dst, key, strlen(key)) == 0 &&
			    (dst[strlen(key)] == '\0' || dst[strlen(key)] == ':'))
				bound = true;
		}
		if (!bound)
			v[i++] = key;
	}
	o->volumes = v;
	return 0;
}

int api_create_options(json_t *body, const char *name, run_options *o, const char **image, create_strings *k,
		       berth_error **err)
{
	const char *const *entrypoint = NULL, *const *cmd = NULL;
	json_t *v;

	*o = (run_options){ 0 };
	*image = json_string_value(json_object_get(body, "Image"));
	if (*image == NULL || **image == '\0')
		return berth_error_request(err, EINVAL, "Image: required");
	if (check_fields(body, "Config.", config_known, NULL, err) < 0)
		return -1;
	o->name = name && *name ? name : NULL;
	o->detach = true;
	o->tty = json_is_true(json_object_get(body, "Tty"));
	o->interactive = json_is_true(json_object_get(body, "OpenStdin"));
	o->stdin_once = o->interactive && json_is_true(json_object_get(body, "StdinOnce"));
	o->workdir = json_string_value(json_object_get(body, "WorkingDir"));
	o->user = json_string_value(json_object_get(body, "User"));
	o->hostname = json_string_value(json_object_get(body, "Hostname"));
	o->stop_signal = json_string_value(json_object_get(body, "StopSignal"));
	if (o->workdir && !*o->workdir)
		o->workdir = NULL;
	if (o->user && !*o->user)
		o->user = NULL;
	if (o->hostname && !*o->hostname)
		o->hostname = NULL;
	if (o->stop_signal && !*o->stop_signal)
		o->stop_signal = NULL;
	if ((v = json_object_get(body, "StopTimeout")) && json_is_integer(v))
		o->stop_timeout = keep_printf(k, "%lld", (long long)json_integer_value(v));
	if (string_array(json_object_get(body, "Env"), "Config.Env", k, &o->env, err) < 0 ||
	    string_array(json_object_get(body, "Entrypoint"), "Config.Entrypoint", k, &entrypoint, err) < 0 ||
	    string_array(json_object_get(body, "Cmd"), "Config.Cmd", k, &cmd, err) < 0 ||
	    labels(json_object_get(body, "Labels"), k, o, err) < 0 ||
	    healthcheck(json_object_get(body, "Healthcheck"), k, o, err) < 0 ||
	    host_config(json_object_get(body, "HostConfig"), k, o, err) < 0 ||
	    anonymous_volumes(json_object_get(body, "Volumes"), k, o, err) < 0)
		return -1;
	if (entrypoint && entrypoint[0] == NULL) {
		o->entrypoint = NULL; /* [] : the image's */
	} else if (entrypoint) {
		/* berth's entrypoint is one word: the others go before Cmd */
		size_t ne = 0, nc = 0;
		const char **all;
		while (entrypoint[ne])
			ne++;
		while (cmd && cmd[nc])
			nc++;
		o->entrypoint = entrypoint[0];
		if (ne > 1) {
			all = keep_vec(k, ne - 1 + nc);
			if (all == NULL)
				return berth_error_set(err, ENOMEM, "Entrypoint");
			for (size_t i = 1; i < ne; i++)
				all[i - 1] = entrypoint[i];
			for (size_t i = 0; i < nc; i++)
				all[ne - 1 + i] = cmd[i];
			cmd = all;
		}
	}
	o->command = (char *const *)cmd;
	if (json_object_get(body, "NetworkingConfig") &&
	    json_object_size(json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig")) > 0) {
		/* aliases of the one network (docker-compose sends them) */
		const char *net;
		json_t *ep, *a;
		size_t i;
		json_object_foreach(json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig"), net,
				    ep) {
			json_t *aliases = json_object_get(ep, "Aliases");
			const char **al;
			if (strcmp(net, "default") == 0)
				continue; /* the default network, as NetworkMode "default" */
			if (o->network == NULL)
				o->network = net;
			if (json_array_size(aliases) == 0)
				continue;
			al = keep_vec(k, json_array_size(aliases));
			if (al == NULL)
				return berth_error_set(err, ENOMEM, "Aliases");
			json_array_foreach(aliases, i, a)
				al[i] = json_string_value(a);
			o->network_aliases = al;
			break;
		}
	}
	return 0;
}

void create_strings_free(create_strings *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->items[i]);
	free(k->items);
	*k = (create_strings){ 0 };
}
