/* How pods find Services (kube_service.h): hosts-file names, the search
 * domains of resolv.conf, and the {NAME}_SERVICE_HOST... variables. berth
 * has no DNS server (docs/networking.md, "Names between containers: hosts
 * files"): each pod's hosts file (its holder's, shared by its containers)
 * gets a block of lines marked KUBE_SERVICE_HOSTS_MARK, written when the
 * pod is made and rewritten in place by the controller when the
 * namespace's services change. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/container.h"
#include "engine/record.h"
#include "kube/controller.h"
#include "kube/kube_internal.h"
#include "kube/kube_service.h"
#include "kube/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define KUBE_SERVICE_HOSTS_MARK "# berth-kube-service"

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *name_of(json_t *o)
{
	return str(json_object_get(o, "metadata"), "name") ?: "";
}

/* "my-svc" -> "MY_SVC" */
static void env_name(const char *in, char *out, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len; i++)
		out[i] = in[i] == '-' ? '_' : (char)toupper((unsigned char)in[i]);
	out[i] = '\0';
}

static void push(json_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void push(json_t *a, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) >= 0)
		json_array_append_new(a, json_string(s));
	va_end(ap);
	free(s);
}

json_t *kube_service_env(const kube_context *k, const char *namespace)
{
	_cleanup_json_ json_t *services = NULL, *records = NULL;
	json_t *out = json_array(), *svc, *p;
	berth_error *err = NULL;
	size_t i, j;

	if (kube_state_list(k->paths->store_root, "Service", namespace, &services, &err) < 0) {
		berth_error_free(&err);
		return out;
	}
	if (json_array_size(services) == 0)
		return out;
	records = kube_service_records(k);
	json_array_foreach(services, i, svc) {
		char engine_name[SERVICE_NAME_MAX + 1], prefix[80];
		json_t *rec;
		const char *ip;
		kube_service_engine_name(namespace, name_of(svc), engine_name);
		rec = json_object_get(records, engine_name);
		ip = str(rec, "ClusterIP");
		if (kube_service_headless(svc) || ip == NULL || ip[0] == '\0')
			continue; /* as Kubernetes: only services with a cluster IP */
		env_name(name_of(svc), prefix, sizeof(prefix));
		json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), j, p) {
			long long port = (long long)json_integer_value(json_object_get(p, "port"));
			const char *proto = strcmp(str(p, "protocol") ?: "TCP", "UDP") == 0 ? "UDP" : "TCP";
			const char *lower = strcmp(proto, "UDP") == 0 ? "udp" : "tcp";
			if (j == 0) {
				push(out, "%s_SERVICE_HOST=%s", prefix, ip);
				push(out, "%s_SERVICE_PORT=%lld", prefix, port);
				push(out, "%s_PORT=%s://%s:%lld", prefix, lower, ip, port);
			}
			if (str(p, "name") && str(p, "name")[0]) {
				char pname[32];
				env_name(str(p, "name"), pname, sizeof(pname));
				push(out, "%s_SERVICE_PORT_%s=%lld", prefix, pname, port);
			}
			push(out, "%s_PORT_%lld_%s=%s://%s:%lld", prefix, port, proto, lower, ip, port);
			push(out, "%s_PORT_%lld_%s_PROTO=%s", prefix, port, proto, lower);
			push(out, "%s_PORT_%lld_%s_PORT=%lld", prefix, port, proto, port);
			push(out, "%s_PORT_%lld_%s_ADDR=%s", prefix, port, proto, ip);
		}
	}
	return out;
}

/* One line per address of the service, every name of it; SHORT: the bare
 * NAME too (the pod's own namespace, as its search domain gives it). */
static void hosts_lines(FILE *f, const char *namespace, const char *name, const char *ip, bool short_name)
{
	fprintf(f, "%s\t%s.%s.svc.cluster.local %s.%s.svc %s.%s%s%s\t%s\n", ip, name, namespace, name, namespace, name,
		namespace, short_name ? " " : "", short_name ? name : "", KUBE_SERVICE_HOSTS_MARK);
}

/* The lines of the other namespaces' services of this store that have a
 * ClusterIP, from the engine's records (RECORDS: read once for every
 * namespace, so the cost does not grow with their number). */
static void other_namespaces_lines(FILE *f, const kube_context *k, const char *namespace, json_t *records)
{
	char prefix[300];
	const char *key;
	json_t *rec;

	snprintf(prefix, sizeof(prefix), "kube:%s/", k->paths->store_root);
	json_object_foreach(records, key, rec) {
		const char *owner = str(rec, "Owner") ?: "", *ip = str(rec, "ClusterIP"), *ns;
		char name[SERVICE_NAME_MAX + 1];
		size_t ns_len, name_len;

		if (strncmp(owner, prefix, strlen(prefix)) != 0 || ip == NULL || ip[0] == '\0')
			continue;
		ns = owner + strlen(prefix);
		ns_len = strlen(ns);
		name_len = strlen(key);
		/* the engine's name is "NAME.NS" */
		if (strcmp(ns, namespace) == 0 || strchr(ns, '/') || name_len <= ns_len + 1 ||
		    strcmp(key + name_len - ns_len, ns) != 0 || key[name_len - ns_len - 1] != '.')
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(name_len - ns_len - 1), key);
		hosts_lines(f, ns, name, ip, false);
	}
}

char *kube_service_hosts_block(const kube_context *k, const char *namespace, json_t *status)
{
	_cleanup_json_ json_t *services = NULL, *records = NULL, *own_status = NULL;
	berth_error *err = NULL;
	char *out = NULL;
	size_t len = 0, i, j;
	json_t *svc, *e;
	FILE *f;

	if (kube_state_list(k->paths->store_root, "Service", namespace, &services, &err) < 0) {
		berth_error_free(&err);
		services = json_array();
	}
	records = kube_service_records(k);
	if (json_array_size(services) > 0 && status == NULL)
		status = own_status = kube_controller_status(k, namespace);
	if ((f = open_memstream(&out, &len)) == NULL)
		return NULL;
	json_array_foreach(services, i, svc) {
		char engine_name[SERVICE_NAME_MAX + 1];
		const char *ip;
		if (kube_service_headless(svc)) {
			/* the ready pods' addresses ("IP:PORT" per port) */
			json_t *seen = json_object();
			json_array_foreach(
			    json_object_get(json_object_get(json_object_get(status, "services"), name_of(svc)),
					    "endpoints"),
			    j, e) {
				char addr[64];
				snprintf(addr, sizeof(addr), "%s", json_string_value(e) ?: "");
				if (strchr(addr, ':'))
					*strchr(addr, ':') = '\0';
				if (addr[0] && !json_object_get(seen, addr)) {
					json_object_set_new(seen, addr, json_true());
					hosts_lines(f, namespace, name_of(svc), addr, true);
				}
			}
			json_decref(seen);
			continue;
		}
		kube_service_engine_name(namespace, name_of(svc), engine_name);
		ip = str(json_object_get(records, engine_name), "ClusterIP");
		if (ip && ip[0])
			hosts_lines(f, namespace, name_of(svc), ip, true);
	}
	other_namespaces_lines(f, k, namespace, records);
	fclose(f);
	return out;
}

/* Rewrites PATH in place (it is bind-mounted: the inode must stay). */
static int rewrite_in_place(const char *path, const char *text, berth_error **err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	size_t n = strlen(text);

	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", path);
	if (write(fd, text, n) != (ssize_t)n)
		return berth_error_set(err, errno ? errno : EIO, "write \"%s\"", path);
	return 0;
}

/* The hosts file with BLOCK instead of the marked lines. */
static int write_hosts(const char *path, const char *block, berth_error **err)
{
	_cleanup_free_ char *text = NULL, *out = NULL;
	size_t len = 0;
	FILE *f;

	if (fs_read_file(path, &text, NULL, err) < 0)
		return -1;
	if ((f = open_memstream(&out, &len)) == NULL)
		return berth_error_set(err, ENOMEM, "%s", path);
	for (char *l = text, *next; *l; l = next) {
		next = strchr(l, '\n');
		next = next ? next + 1 : l + strlen(l);
		if (memmem(l, (size_t)(next - l), KUBE_SERVICE_HOSTS_MARK, strlen(KUBE_SERVICE_HOSTS_MARK)) == NULL)
			fwrite(l, 1, (size_t)(next - l), f);
	}
	fputs(block, f);
	fclose(f);
	if (strcmp(out, text) == 0)
		return 0;
	return rewrite_in_place(path, out, err) < 0 ? -1 : 1;
}

/* resolv.conf with the cluster's search domains first, as the kubelet
 * writes them (before the host's own). */
static int write_search(const char *path, const char *namespace, berth_error **err)
{
	_cleanup_free_ char *text = NULL, *out = NULL;
	char search[256];
	const char *host_search = "";
	size_t len = 0;
	FILE *f;

	if (fs_read_file(path, &text, NULL, err) < 0)
		return -1;
	snprintf(search, sizeof(search), "search %s.svc.cluster.local svc.cluster.local cluster.local", namespace);
	if (strstr(text, search))
		return 0;
	if ((f = open_memstream(&out, &len)) == NULL)
		return berth_error_set(err, ENOMEM, "%s", path);
	for (char *l = text, *next; *l; l = next) {
		next = strchr(l, '\n');
		next = next ? next + 1 : l + strlen(l);
		if (strncmp(l, "search ", 7) == 0 || strncmp(l, "domain ", 7) == 0) {
			if (strncmp(l, "search ", 7) == 0)
				host_search = l + 6; /* " a b\n" */
			continue;
		}
		fwrite(l, 1, (size_t)(next - l), f);
	}
	fprintf(f, "%s%.*s\n", search, (int)strcspn(host_search, "\n"), host_search);
	fclose(f);
	return rewrite_in_place(path, out, err);
}

int kube_service_pod_files(const kube_context *k, const char *namespace, const char *pod, const char *block,
			   bool search, berth_error **err)
{
	_cleanup_free_ char *holder = kube_container_record_name(KUBE_HOLDER_NAME, pod, namespace);
	_cleanup_free_ char *hosts = NULL, *resolv = NULL;
	container *c = NULL;
	int ret;

	if (holder == NULL)
		return berth_error_set(err, ENOMEM, "pod %s", pod);
	if (record_open(k->paths, holder, &c, err) < 0)
		return -1;
	hosts = record_path(c, "hosts");
	resolv = record_path(c, "resolv.conf");
	container_free(c);
	if (hosts == NULL || resolv == NULL)
		return berth_error_set(err, ENOMEM, "pod %s", pod);
	if (access(hosts, F_OK) < 0)
		return 0; /* on the host's network: the host's files */
	ret = write_hosts(hosts, block, err);
	if (ret >= 0 && search && write_search(resolv, namespace, err) < 0)
		ret = -1;
	return ret < 0 ? berth_error_wrap(err, "pod %s: service names", pod) : ret;
}
