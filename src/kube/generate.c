#include "kube/generate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kube_dns_label(const char *text, char *buf)
{
	size_t n = 0;

	for (const char *p = text; *p && n < 63; p++) {
		char ch = (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)ch))
			ch = '-';
		if (ch == '-' && (n == 0 || buf[n - 1] == '-'))
			continue;
		buf[n++] = ch;
	}
	while (n > 0 && buf[n - 1] == '-')
		n--;
	if (n == 0)
		buf[n++] = 'x';
	buf[n] = '\0';
	return buf;
}

static const char *restart_policy(const char *engine)
{
	if (engine == NULL || strcmp(engine, "no") == 0 || engine[0] == '\0')
		return "Never";
	if (strcmp(engine, "on-failure") == 0)
		return "OnFailure";
	return "Always";
}

/* -u UID[:GID] when numeric. */
static void user_context(json_t *ctr, const char *user)
{
	char *end;
	long uid, gid = -1;

	if (user == NULL || user[0] == '\0')
		return;
	uid = strtol(user, &end, 10);
	if (end == user || (*end != '\0' && *end != ':'))
		return;
	if (*end == ':') {
		const char *g = end + 1;
		gid = strtol(g, &end, 10);
		if (end == g || *end != '\0')
			gid = -1;
	}
	json_t *sc = json_pack("{s:I}", "runAsUser", (json_int_t)uid);
	if (gid >= 0)
		json_object_set_new(sc, "runAsGroup", json_integer(gid));
	json_object_set_new(ctr, "securityContext", sc);
}

static void add_env(json_t *ctr, json_t *env)
{
	json_t *list = json_array(), *e;
	size_t i;

	json_array_foreach(env, i, e) {
		const char *kv = json_string_value(e), *eq = kv ? strchr(kv, '=') : NULL;
		if (eq == NULL || eq == kv)
			continue;
		json_t *name = json_stringn(kv, (size_t)(eq - kv));
		json_array_append_new(list, json_pack("{s:o, s:s}", "name", name, "value", eq + 1));
	}
	if (json_array_size(list) > 0)
		json_object_set_new(ctr, "env", list);
	else
		json_decref(list);
}

static void add_ports(json_t *ctr, json_t *ports)
{
	json_t *list = json_array(), *p;
	size_t i;

	json_array_foreach(ports, i, p) {
		const char *proto = json_string_value(json_object_get(p, "Protocol")) ?: "tcp";
		const char *ip = json_string_value(json_object_get(p, "HostIp")) ?: "";
		json_t *port =
		    json_pack("{s:O, s:O, s:s}", "containerPort", json_object_get(p, "ContainerPort"), "hostPort",
			      json_object_get(p, "HostPort"), "protocol", strcmp(proto, "udp") == 0 ? "UDP" : "TCP");
		if (port == NULL)
			continue;
		if (ip[0])
			json_object_set_new(port, "hostIP", json_string(ip));
		json_array_append_new(list, port);
	}
	if (json_array_size(list) > 0)
		json_object_set_new(ctr, "ports", list);
	else
		json_decref(list);
}

/* The mounts of CTR's record as volumeMounts, their volumes into VOLUMES. */
static void add_mounts(json_t *ctr, json_t *mounts, json_t *volumes, const char *ctr_name)
{
	json_t *list = json_array(), *m;
	size_t i;

	json_array_foreach(mounts, i, m) {
		const char *type = json_string_value(json_object_get(m, "Type")) ?: "";
		const char *dest = json_string_value(json_object_get(m, "Destination"));
		char name[64], label[64], raw[128];
		json_t *vol;
		if (dest == NULL)
			continue;
		snprintf(raw, sizeof(raw), "%s-%s", ctr_name, dest);
		kube_dns_label(raw, label);
		snprintf(name, sizeof(name), "%s", label);
		if (strcmp(type, "bind") == 0)
			vol = json_pack("{s:s, s:{s:s}}", "name", name, "hostPath", "path",
					json_string_value(json_object_get(m, "Source")) ?: "/");
		else if (json_is_true(json_object_get(m, "Anonymous")))
			vol = json_pack("{s:s, s:{}}", "name", name, "emptyDir");
		else
			vol = json_pack("{s:s, s:{s:s}}", "name", name, "persistentVolumeClaim", "claimName",
					json_string_value(json_object_get(m, "Name")) ?: "");
		if (vol == NULL)
			continue;
		json_array_append_new(volumes, vol);
		json_t *vm = json_pack("{s:s, s:s}", "name", name, "mountPath", dest);
		if (json_is_false(json_object_get(m, "RW")))
			json_object_set_new(vm, "readOnly", json_true());
		json_array_append_new(list, vm);
	}
	if (json_array_size(list) > 0)
		json_object_set_new(ctr, "volumeMounts", list);
	else
		json_decref(list);
}

json_t *kube_generate_pod(container *const *ctrs, size_t n, const char *name)
{
	char label[64];
	json_t *containers = json_array(), *volumes = json_array(), *spec, *pod;
	const char *pod_name = name ? name : kube_dns_label(ctrs[0]->name, label);

	for (size_t i = 0; i < n; i++) {
		json_t *cfg = ctrs[i]->config;
		char cname[64];
		json_t *ctr = json_pack("{s:s, s:s}", "name", kube_dns_label(ctrs[i]->name, cname), "image",
					json_string_value(json_object_get(cfg, "Image")) ?: "");
		json_t *command = json_object_get(cfg, "Command");
		const char *wd = json_string_value(json_object_get(cfg, "WorkingDir"));
		if (json_array_size(command) > 0)
			json_object_set(ctr, "command", command);
		if (wd && wd[0])
			json_object_set_new(ctr, "workingDir", json_string(wd));
		add_env(ctr, json_object_get(cfg, "Env"));
		add_ports(ctr, json_object_get(json_object_get(cfg, "NetworkSettings"), "Ports"));
		add_mounts(ctr, json_object_get(cfg, "Mounts"), volumes, cname);
		user_context(ctr, json_string_value(json_object_get(cfg, "User")));
		json_array_append_new(containers, ctr);
	}
	spec = json_pack("{s:o, s:s}", "containers", containers, "restartPolicy",
			 restart_policy(json_string_value(json_object_get(ctrs[0]->config, "RestartPolicy"))));
	if (json_array_size(volumes) > 0)
		json_object_set_new(spec, "volumes", volumes);
	else
		json_decref(volumes);
	pod = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:o}", "apiVersion", "v1", "kind", "Pod", "metadata", "name",
			pod_name, "labels", "app", pod_name, "spec", spec);
	return pod;
}
