#include "kube/pod_plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/rootless_netns.h"
#include "image/auth.h"
#include "kube/kube_internal.h"
#include "kube/kube_service.h"
#include "kube/quantity.h"
#include "kube/state.h"
#include "storage/volume.h"
#include "util/cleanup.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

/* ---- strings kept alive by the plan */

/* A string owned by the plan's arena. */
static const char *keep(kube_pod_plan *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *keep(kube_pod_plan *pl, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL || (j = json_string(s)) == NULL)
		return NULL;
	json_array_append_new(pl->arena, j);
	return json_string_value(j);
}

/* A NULL-terminated array of the strings of the JSON array A (kept in the
 * arena), owned by the plan. */
static const char *const *strv_of(kube_pod_plan *pl, json_t *a)
{
	size_t n = json_array_size(a), i, k = 0;
	const char **v = calloc(n + 1, sizeof(char *));
	void **grown;
	json_t *e;

	if (v == NULL)
		return NULL;
	grown = realloc(pl->allocs, (pl->n_allocs + 1) * sizeof(void *));
	if (grown == NULL) {
		free(v);
		return NULL;
	}
	pl->allocs = grown;
	pl->allocs[pl->n_allocs++] = v;
	json_array_append(pl->arena, a);
	json_array_foreach(a, i, e)
		if (json_is_string(e))
			v[k++] = json_string_value(e);
	return v;
}

static void push(json_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void push(json_t *a, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s)
		json_array_append_new(a, json_string(s));
	free(s);
}

char *kube_pod_dir(const char *store_root, const char *namespace, const char *name)
{
	char *out = NULL;
	if (asprintf(&out, "%s/kube-pods/%s/%s", store_root, namespace, name) < 0)
		return NULL;
	return out;
}

/* ---- ConfigMaps and Secrets */

/* The data of ConfigMap or Secret NAME as {key: text}; -ENOENT when it is
 * missing. Secret values are decoded (stringData wins over data). */
static int config_data(const kube_context *k, const char *kind, const char *namespace, const char *name, json_t **out,
		       berth_error **err)
{
	_cleanup_json_ json_t *obj = NULL;
	json_t *data, *v;
	const char *key;
	int ret;

	ret = kube_state_get(k->paths->store_root, kind, namespace, name, &obj, err);
	if (ret < 0)
		return ret;
	*out = json_object();
	data = json_object_get(obj, "data");
	json_object_foreach(data, key, v) {
		if (strcmp(kind, "Secret") == 0) {
			_cleanup_free_ char *decoded = NULL;
			size_t len = 0;
			if (auth_base64_decode(json_string_value(v) ?: "", &decoded, &len) < 0) {
				json_decref(*out);
				return berth_error_set(err, 0, "secret %s: data.%s: not valid base64", name, key);
			}
			json_object_set_new(*out, key, json_stringn_nocheck(decoded, len));
		} else {
			json_object_set(*out, key, v);
		}
	}
	if (strcmp(kind, "ConfigMap") == 0) {
		/* binaryData: base64 in the object, the bytes in the file */
		json_object_foreach(json_object_get(obj, "binaryData"), key, v) {
			_cleanup_free_ char *decoded = NULL;
			size_t len = 0;
			if (auth_base64_decode(json_string_value(v) ?: "", &decoded, &len) == 0)
				json_object_set_new(*out, key, json_stringn_nocheck(decoded, len));
		}
	}
	json_object_foreach(json_object_get(obj, "stringData"), key, v)
		json_object_set(*out, key, v);
	return 0;
}

/* One key of a ConfigMap or Secret for env valueFrom; *VALUE NULL when
 * optional and missing. */
static int key_ref(const kube_context *k, const char *kind, const char *namespace, json_t *ref, const char *path,
		   const char **value, kube_pod_plan *pl, berth_error **err)
{
	const char *name = json_string_value(json_object_get(ref, "name")) ?: "";
	const char *key = json_string_value(json_object_get(ref, "key")) ?: "";
	bool optional = json_is_true(json_object_get(ref, "optional"));
	_cleanup_json_ json_t *data = NULL;
	berth_error *e = NULL;
	json_t *v;
	int ret;

	*value = NULL;
	ret = config_data(k, kind, namespace, name, &data, &e);
	if (ret == -ENOENT && (optional || k->lenient_refs)) {
		berth_error_free(&e);
		return 0;
	}
	if (ret < 0) {
		berth_error_free(err);
		*err = e;
		return berth_error_wrap(err, "%s", path);
	}
	v = json_object_get(data, key);
	if (v == NULL) {
		if (optional || k->lenient_refs)
			return 0;
		return berth_error_request(err, ENOENT, "%s: %s %s has no key \"%s\"", path,
					   strcmp(kind, "Secret") == 0 ? "secret" : "configmap", name, key);
	}
	*value = keep(pl, "%s", json_string_value(v));
	return 0;
}

/* ---- one container */

static int plan_env(const kube_context *k, kube_pod_plan *pl, json_t *pod, json_t *c, const char *path,
		    kube_container_plan *cp, berth_error **err)
{
	const char *ns = pl->namespace;
	json_t *e;
	size_t i;

	cp->env = json_array();
	/* the services of the namespace first: the container's own env wins */
	if (!json_is_false(json_object_get(json_object_get(pod, "spec"), "enableServiceLinks"))) {
		json_t *links = kube_service_env(k, ns);
		json_array_extend(cp->env, links);
		json_decref(links);
	}
	json_array_foreach(json_object_get(c, "envFrom"), i, e) {
		const char *prefix = json_string_value(json_object_get(e, "prefix")) ?: "";
		json_t *ref = json_object_get(e, "configMapRef");
		const char *kind = ref ? "ConfigMap" : "Secret";
		_cleanup_json_ json_t *data = NULL;
		berth_error *lookup = NULL;
		const char *key;
		json_t *v;
		int ret;
		if (ref == NULL)
			ref = json_object_get(e, "secretRef");
		ret = config_data(k, kind, ns, json_string_value(json_object_get(ref, "name")) ?: "", &data, &lookup);
		if (ret == -ENOENT && (k->lenient_refs || json_is_true(json_object_get(ref, "optional")))) {
			berth_error_free(&lookup);
			continue;
		}
		if (ret < 0) {
			*err = lookup;
			return berth_error_wrap(err, "%s.envFrom[%zu]", path, i);
		}
		json_object_foreach(data, key, v)
			push(cp->env, "%s%s=%s", prefix, key, json_string_value(v));
	}
	json_array_foreach(json_object_get(c, "env"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *from = json_object_get(e, "valueFrom");
		const char *value = json_string_value(json_object_get(e, "value")) ?: "";
		char where[512];
		snprintf(where, sizeof(where), "%s.env[%zu].valueFrom", path, i);
		if (from == NULL) {
			push(cp->env, "%s=%s", name, value);
			continue;
		}
		if (json_object_get(from, "configMapKeyRef") || json_object_get(from, "secretKeyRef")) {
			json_t *ref = json_object_get(from, "configMapKeyRef");
			const char *kind = ref ? "ConfigMap" : "Secret";
			if (key_ref(k, kind, ns, ref ? ref : json_object_get(from, "secretKeyRef"), where, &value, pl,
				    err) < 0)
				return -1;
			if (value)
				push(cp->env, "%s=%s", name, value);
			continue;
		}
		if (json_object_get(from, "fieldRef")) {
			const char *field =
			    json_string_value(json_object_get(json_object_get(from, "fieldRef"), "fieldPath")) ?: "";
			json_t *meta = json_object_get(pod, "metadata");
			if (strcmp(field, "metadata.name") == 0)
				push(cp->env, "%s=%s", name, pl->name);
			else if (strcmp(field, "metadata.namespace") == 0)
				push(cp->env, "%s=%s", name, ns);
			else if (strcmp(field, "metadata.uid") == 0)
				push(cp->env, "%s=%s", name, json_string_value(json_object_get(meta, "uid")) ?: "");
			else if (strcmp(field, "status.podIP") == 0 || strcmp(field, "status.hostIP") == 0)
				json_array_append_new(cp->env, json_pack("{s:s, s:b}", "name", name, "podIP", 1));
			else if (strcmp(field, "spec.nodeName") == 0)
				push(cp->env, "%s=%s", name, "localhost");
			else
				return berth_error_request(err, EINVAL,
							   "%s.fieldRef.fieldPath: \"%s\" is not supported "
							   "(metadata.name, metadata.namespace, "
							   "metadata.uid, status.podIP, spec.nodeName)",
							   where, field);
			continue;
		}
		return berth_error_request(err, EINVAL, "%s.resourceFieldRef: not supported", where);
	}
	return 0;
}

/* The pod's or the container's securityContext value KEY (the container's
 * wins). */
static json_t *security(json_t *pod_spec, json_t *c, const char *key)
{
	json_t *v = json_object_get(json_object_get(c, "securityContext"), key);
	return v ? v : json_object_get(json_object_get(pod_spec, "securityContext"), key);
}

static int plan_security(kube_pod_plan *pl, json_t *spec, json_t *c, const char *path, kube_container_plan *cp,
			 berth_error **err)
{
	json_t *sc = json_object_get(c, "securityContext");
	json_t *uid = security(spec, c, "runAsUser"), *gid = security(spec, c, "runAsGroup");
	json_t *profile = security(spec, c, "seccompProfile");
	json_t *opts = json_array(), *caps;

	if (uid && gid)
		cp->o.user =
		    keep(pl, "%lld:%lld", (long long)json_integer_value(uid), (long long)json_integer_value(gid));
	else if (uid)
		cp->o.user = keep(pl, "%lld", (long long)json_integer_value(uid));
	else if (gid)
		/* a group alone: berth's -u needs a user; root keeps the image's */
		cp->o.user = keep(pl, "0:%lld", (long long)json_integer_value(gid));
	if (json_is_true(security(spec, c, "runAsNonRoot")) && uid && json_integer_value(uid) == 0) {
		json_decref(opts);
		return berth_error_request(err, EINVAL, "%s.securityContext: runAsNonRoot with runAsUser 0", path);
	}
	cp->o.read_only = json_is_true(json_object_get(sc, "readOnlyRootFilesystem"));
	cp->o.privileged = json_is_true(json_object_get(sc, "privileged"));
	caps = json_object_get(sc, "capabilities");
	if (caps) {
		_cleanup_json_ json_t *none = json_array();
		cp->o.cap_add = strv_of(pl, json_object_get(caps, "add") ?: none);
		cp->o.cap_drop = strv_of(pl, json_object_get(caps, "drop") ?: none);
	}
	if (json_is_true(json_object_get(sc, "allowPrivilegeEscalation")))
		push(opts, "no-new-privileges=false");
	if (profile) {
		const char *type = json_string_value(json_object_get(profile, "type")) ?: "";
		const char *file = json_string_value(json_object_get(profile, "localhostProfile")) ?: "";
		if (strcmp(type, "Unconfined") == 0) {
			push(opts, "seccomp=unconfined");
		} else if (strcmp(type, "Localhost") == 0) {
			if (file[0] != '/') {
				json_decref(opts);
				return berth_error_request(err, EINVAL,
							   "%s.securityContext.seccompProfile.localhostProfile: give "
							   "an absolute path (berth has no kubelet seccomp directory)",
							   path);
			}
			push(opts, "seccomp=%s", file);
		}
	}
	cp->o.security_opts = strv_of(pl, opts);
	json_decref(opts);
	return 0;
}

static int plan_resources(kube_pod_plan *pl, json_t *c, const char *path, kube_container_plan *cp, berth_error **err)
{
	json_t *limits = json_object_get(json_object_get(c, "resources"), "limits");
	json_t *v;
	int64_t milli;
	char where[512];

	if ((v = json_object_get(limits, "memory")) != NULL) {
		snprintf(where, sizeof(where), "%s.resources.limits.memory", path);
		if (kube_quantity_from_json(v, where, &milli, err) < 0)
			return -1;
		cp->o.memory = keep(pl, "%lld", (long long)((milli + 999) / 1000));
	}
	if ((v = json_object_get(limits, "cpu")) != NULL) {
		snprintf(where, sizeof(where), "%s.resources.limits.cpu", path);
		if (kube_quantity_from_json(v, where, &milli, err) < 0)
			return -1;
		cp->o.cpus = keep(pl, "%lld.%03lld", (long long)(milli / 1000), (long long)(milli % 1000));
	}
	return 0;
}

static json_t *find_named(json_t *list, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
		if (strcmp(json_string_value(json_object_get(e, "name")) ?: "", name) == 0)
			return e;
	return NULL;
}

static int plan_mounts(kube_pod_plan *pl, json_t *spec, json_t *c, const char *path, kube_container_plan *cp,
		       berth_error **err)
{
	json_t *volumes = json_array(), *m;
	size_t i;

	json_array_foreach(json_object_get(c, "volumeMounts"), i, m) {
		const char *name = json_string_value(json_object_get(m, "name")) ?: "";
		const char *dest = json_string_value(json_object_get(m, "mountPath")) ?: "";
		const char *sub = json_string_value(json_object_get(m, "subPath"));
		bool ro = json_is_true(json_object_get(m, "readOnly"));
		json_t *v = find_named(json_object_get(spec, "volumes"), name);
		json_t *pvc = json_object_get(v, "persistentVolumeClaim");
		size_t index = 0;
		for (json_t *x; index < json_array_size(json_object_get(spec, "volumes")); index++)
			if ((x = json_array_get(json_object_get(spec, "volumes"), index)) == v)
				break;
		if (v == NULL) {
			json_decref(volumes);
			return berth_error_request(err, EINVAL, "%s.volumeMounts[%zu].name: no volume \"%s\"", path, i,
						   name);
		}
		if (sub && (strstr(sub, "..") || sub[0] == '/')) {
			json_decref(volumes);
			return berth_error_request(err, EINVAL,
						   "%s.volumeMounts[%zu].subPath: must be relative, "
						   "without \"..\"",
						   path, i);
		}
		if (pvc) {
			const char *claim = json_string_value(json_object_get(pvc, "claimName")) ?: "";
			if (sub) {
				json_decref(volumes);
				return berth_error_request(err, EINVAL,
							   "%s.volumeMounts[%zu].subPath: not supported with a "
							   "persistentVolumeClaim",
							   path, i);
			}
			ro = ro || json_is_true(json_object_get(pvc, "readOnly"));
			push(volumes, "%s:%s:%s", claim, dest, ro ? "ro" : "rw");
			continue;
		}
		ro = ro || json_object_get(v, "configMap") || json_object_get(v, "secret");
		push(volumes, "%s%s%s:%s:%s", pl->volumes[index].dir, sub ? "/" : "", sub ? sub : "", dest,
		     ro ? "ro" : "rw");
	}
	cp->o.volumes = strv_of(pl, volumes);
	json_decref(volumes);
	return 0;
}

static const char *restart_policy(json_t *spec)
{
	const char *p = json_string_value(json_object_get(spec, "restartPolicy")) ?: "Always";
	if (strcmp(p, "OnFailure") == 0)
		return "on-failure";
	if (strcmp(p, "Never") == 0)
		return "no";
	return "always";
}

static int plan_container(const kube_context *k, kube_pod_plan *pl, json_t *pod, json_t *c, const char *path, bool init,
			  const char *const *labels, kube_container_plan *cp, berth_error **err)
{
	json_t *spec = json_object_get(pod, "spec");
	json_t *command = json_object_get(c, "command"), *args = json_object_get(c, "args");
	json_t *v;

	cp->name = json_string_value(json_object_get(c, "name"));
	cp->image = json_string_value(json_object_get(c, "image"));
	cp->record_name = kube_container_record_name(cp->name, pl->name, pl->namespace);
	if (cp->record_name == NULL || cp->image == NULL)
		return berth_error_set(err, ENOMEM, "%s", path);
	if (json_is_true(json_object_get(c, "tty")) || json_is_true(json_object_get(c, "stdin")))
		return berth_error_request(err, EINVAL, "%s: stdin and tty are not supported by berth kube", path);
	if (init && json_object_get(c, "restartPolicy"))
		return berth_error_request(err, EINVAL, "%s.restartPolicy: sidecar init containers are not supported",
					   path);
	/* Kubernetes: command replaces the image's ENTRYPOINT (and drops its
	 * CMD), args replace CMD */
	if (json_array_size(command) > 0) {
		json_t *all = json_deep_copy(command);
		if (args)
			json_array_extend(all, args);
		cp->o.entrypoint = "";
		cp->o.command = (char *const *)strv_of(pl, all);
		json_decref(all);
	} else if (json_array_size(args) > 0) {
		cp->o.command = (char *const *)strv_of(pl, args);
	}
	cp->never_pull = strcmp(json_string_value(json_object_get(c, "imagePullPolicy")) ?: "", "Never") == 0;
	cp->o.workdir = json_string_value(json_object_get(c, "workingDir"));
	cp->o.hostname = json_string_value(json_object_get(spec, "hostname")) ?: pl->name;
	cp->o.network = keep(pl, "container:%s", pl->holder.record_name);
	/* the pod's IPC namespace and /dev/shm are the holder's; so is its
	 * PID namespace with shareProcessNamespace */
	cp->o.ipc = json_is_true(json_object_get(spec, "hostIPC")) ? "host" : cp->o.network;
	if (json_is_true(json_object_get(spec, "hostPID")))
		cp->o.pid = "host";
	else if (json_is_true(json_object_get(spec, "shareProcessNamespace")))
		cp->o.pid = cp->o.network;
	cp->o.cgroup_parent = k->cgroup_parent;
	cp->o.labels = labels;
	cp->o.detach = true;
	cp->restart = init ? "no" : restart_policy(spec);
	cp->o.restart = cp->restart;
	if ((v = json_object_get(spec, "terminationGracePeriodSeconds")) != NULL)
		cp->o.stop_timeout = keep(pl, "%lld", (long long)json_integer_value(v));
	return plan_env(k, pl, pod, c, path, cp, err) < 0 || plan_security(pl, spec, c, path, cp, err) < 0 ||
		       plan_resources(pl, c, path, cp, err) < 0 || plan_mounts(pl, spec, c, path, cp, err) < 0
		   ? -1
		   : 0;
}

/* ---- volumes and the holder */

static int plan_volumes(const kube_context *k, kube_pod_plan *pl, json_t *spec, berth_error **err)
{
	json_t *volumes = json_object_get(spec, "volumes"), *v;
	size_t i;

	pl->volumes = calloc(json_array_size(volumes) + 1, sizeof(*pl->volumes));
	if (pl->volumes == NULL)
		return berth_error_set(err, ENOMEM, "volumes");
	json_array_foreach(volumes, i, v) {
		kube_volume_plan *vp = &pl->volumes[pl->n_volumes++];
		const char *name = json_string_value(json_object_get(v, "name")) ?: "";
		json_t *host = json_object_get(v, "hostPath"), *src, *empty = json_object_get(v, "emptyDir");
		json_t *fs_group = json_object_get(json_object_get(spec, "securityContext"), "fsGroup");
		vp->group = -1;
		if (empty && strcmp(json_string_value(json_object_get(empty, "medium")) ?: "", "Memory") == 0)
			return berth_error_request(err, EINVAL,
						   "spec.volumes[%zu].emptyDir.medium: Memory is not "
						   "supported yet",
						   i);
		if (empty && fs_group)
			vp->group = (long long)json_integer_value(fs_group);
		if (host) {
			const char *hp = json_string_value(json_object_get(host, "path")) ?: "";
			const char *type = json_string_value(json_object_get(host, "type")) ?: "";
			struct stat st;
			bool exists = stat(hp, &st) == 0;
			vp->dir = strdup(hp);
			vp->create_dir = strcmp(type, "DirectoryOrCreate") == 0;
			vp->create_file = strcmp(type, "FileOrCreate") == 0;
			if ((strcmp(type, "Directory") == 0 && !(exists && S_ISDIR(st.st_mode))) ||
			    (strcmp(type, "File") == 0 && !(exists && S_ISREG(st.st_mode))) ||
			    (strcmp(type, "Socket") == 0 && !(exists && S_ISSOCK(st.st_mode))))
				return berth_error_request(
				    err, ENOENT, "spec.volumes[%zu].hostPath: \"%s\" is not a %s", i, hp, type);
			continue;
		}
		if (json_object_get(v, "persistentVolumeClaim")) {
			const char *claim = json_string_value(
			    json_object_get(json_object_get(v, "persistentVolumeClaim"), "claimName"));
			if (claim == NULL || !volume_name_valid(claim))
				return berth_error_request(err, EINVAL,
							   "spec.volumes[%zu].persistentVolumeClaim.claimName: \"%s\" "
							   "is not a valid berth volume name",
							   i, claim ? claim : "");
			continue;
		}
		if (asprintf(&vp->dir, "%s/volumes/%s", pl->pod_dir, name) < 0)
			return berth_error_set(err, ENOMEM, "volumes");
		vp->create_dir = true;
		if ((src = json_object_get(v, "configMap")) != NULL || (src = json_object_get(v, "secret")) != NULL) {
			bool secret = json_object_get(v, "secret") != NULL;
			const char *obj = json_string_value(json_object_get(src, secret ? "secretName" : "name")) ?: "";
			int mode = json_is_integer(json_object_get(src, "defaultMode"))
				       ? (int)json_integer_value(json_object_get(src, "defaultMode"))
				       : 0644;
			_cleanup_json_ json_t *data = NULL;
			berth_error *lookup = NULL;
			json_t *items = json_object_get(src, "items"), *item, *val;
			const char *key;
			size_t j;
			int ret = config_data(k, secret ? "Secret" : "ConfigMap", pl->namespace, obj, &data, &lookup);
			if (ret == -ENOENT && (k->lenient_refs || json_is_true(json_object_get(src, "optional")))) {
				berth_error_free(&lookup);
				continue;
			}
			if (ret < 0) {
				*err = lookup;
				return berth_error_wrap(err, "spec.volumes[%zu]", i);
			}
			vp->files = json_object();
			if (json_array_size(items) == 0) {
				json_object_foreach(data, key, val)
					json_object_set_new(vp->files, key,
							    json_pack("{s:O, s:i}", "data", val, "mode", mode));
			}
			json_array_foreach(items, j, item) {
				const char *ikey = json_string_value(json_object_get(item, "key")) ?: "";
				const char *ipath = json_string_value(json_object_get(item, "path")) ?: ikey;
				json_t *imode = json_object_get(item, "mode");
				if ((val = json_object_get(data, ikey)) == NULL)
					return berth_error_request(err, ENOENT,
								   "spec.volumes[%zu].items[%zu]: %s %s has "
								   "no key \"%s\"",
								   i, j, secret ? "secret" : "configmap", obj, ikey);
				if (strstr(ipath, "..") || ipath[0] == '/')
					return berth_error_request(err, EINVAL,
								   "spec.volumes[%zu].items[%zu].path: "
								   "must be relative, without \"..\"",
								   i, j);
				json_object_set_new(vp->files, ipath,
						    json_pack("{s:O, s:i}", "data", val, "mode",
							      imode ? (int)json_integer_value(imode) : mode));
			}
		}
	}
	return 0;
}

static int plan_holder(const kube_context *k, kube_pod_plan *pl, json_t *pod, const char *const *labels,
		       berth_error **err)
{
	json_t *spec = json_object_get(pod, "spec"), *c, *port, *alias, *dns;
	json_t *publish = json_array(), *hosts = json_array(), *servers = json_array();
	kube_container_plan *h = &pl->holder;
	size_t i, j;

	h->name = KUBE_HOLDER_NAME;
	h->image = keep(pl, "%s:%s", KUBE_PAUSE_IMAGE_NAME, BERTH_VERSION);
	h->record_name = kube_container_record_name(KUBE_HOLDER_NAME, pl->name, pl->namespace);
	h->o.name = h->record_name;
	h->o.hostname = json_string_value(json_object_get(spec, "hostname")) ?: pl->name;
	h->o.network = json_is_true(json_object_get(spec, "hostNetwork")) ? "host" : NULL;
	/* rootless: berth's network inside the rootless network namespace,
	 * where pods reach each other and Services (engine/rootless_netns.h) */
	if (h->o.network == NULL && engine_rootless_netns_available())
		h->o.network = NETWORK_DEFAULT;
	h->o.ipc = json_is_true(json_object_get(spec, "hostIPC")) ? "host" : "shareable";
	h->o.pid = json_is_true(json_object_get(spec, "hostPID")) ? "host" : NULL;
	h->o.cgroup_parent = k->cgroup_parent;
	h->o.labels = labels;
	h->o.detach = true;
	h->o.restart = "no";	/* a pod whose holder ends is replaced whole */
	h->o.no_monitor = true; /* it only keeps the namespaces (record.h) */
	h->o.stop_timeout = "2";
	json_array_foreach(json_object_get(spec, "containers"), i, c) {
		json_array_foreach(json_object_get(c, "ports"), j, port) {
			json_int_t hp = json_integer_value(json_object_get(port, "hostPort"));
			const char *ip = json_string_value(json_object_get(port, "hostIP"));
			const char *proto = json_string_value(json_object_get(port, "protocol")) ?: "TCP";
			/* on the host's network the port is the host's already */
			if (hp <= 0 || json_is_true(json_object_get(spec, "hostNetwork")))
				continue;
			if (strcmp(proto, "SCTP") == 0) {
				json_decref(publish), json_decref(hosts), json_decref(servers);
				return berth_error_request(err, EINVAL,
							   "spec.containers[%zu].ports[%zu].protocol: SCTP is not "
							   "supported",
							   i, j);
			}
			push(publish, "%s%s%lld:%lld/%s", ip ? ip : "", ip ? ":" : "", (long long)hp,
			     (long long)json_integer_value(json_object_get(port, "containerPort")),
			     strcmp(proto, "UDP") == 0 ? "udp" : "tcp");
		}
	}
	json_array_foreach(json_object_get(spec, "hostAliases"), i, alias) {
		json_t *name;
		json_array_foreach(json_object_get(alias, "hostnames"), j, name)
			push(hosts, "%s:%s", json_string_value(name), json_string_value(json_object_get(alias, "ip")));
	}
	json_array_foreach(json_object_get(json_object_get(spec, "dnsConfig"), "nameservers"), i, dns)
		push(servers, "%s", json_string_value(dns));
	/* none given is not an empty list given (-p with --network host is an error) */
	h->o.publish = json_array_size(publish) ? strv_of(pl, publish) : NULL;
	h->o.add_hosts = json_array_size(hosts) ? strv_of(pl, hosts) : NULL;
	h->o.dns = json_array_size(servers) ? strv_of(pl, servers) : NULL;
	json_decref(publish), json_decref(hosts), json_decref(servers);
	return 0;
}

/* Fields the schema accepts that berth cannot honour yet, with a value that
 * matters. */
static int refuse_unsupported(json_t *spec, berth_error **err)
{
	/* the API server's rule */
	if (json_is_true(json_object_get(spec, "hostPID")) &&
	    json_is_true(json_object_get(spec, "shareProcessNamespace")))
		return berth_error_request(err, EINVAL,
					   "spec.shareProcessNamespace: may not be true when spec.hostPID is true");
	if (json_object_get(spec, "activeDeadlineSeconds"))
		return berth_error_request(err, EINVAL, "spec.activeDeadlineSeconds: not supported by berth kube");
	return 0;
}

/* The labels of every container of the pod. */
static const char *const *pod_labels(kube_pod_plan *pl, json_t *pod, const char *owner)
{
	json_t *labels = json_array(), *v;
	const char *const *out;
	const char *key;
	char hash[11];

	json_object_foreach(json_object_get(json_object_get(pod, "metadata"), "labels"), key, v)
		push(labels, "%s=%s", key, json_string_value(v));
	push(labels, "%s=%s", KUBE_LABEL_POD_NAME, pl->name);
	push(labels, "%s=%s", KUBE_LABEL_POD_NAMESPACE, pl->namespace);
	if (owner)
		push(labels, "%s=%s", KUBE_LABEL_OWNER, owner);
	kube_pod_spec_hash(pod, hash);
	push(labels, "%s=%s", KUBE_LABEL_SPEC_HASH, hash);
	out = strv_of(pl, labels);
	json_decref(labels);
	return out;
}

/* The labels of one container: the pod's plus its name. */
static const char *const *container_labels(kube_pod_plan *pl, const char *const *pod, const char *name)
{
	json_t *labels = json_array();
	const char *const *out;

	for (const char *const *l = pod; l && *l; l++)
		push(labels, "%s", *l);
	push(labels, "%s=%s", KUBE_LABEL_CONTAINER_NAME, name);
	out = strv_of(pl, labels);
	json_decref(labels);
	return out;
}

int kube_pod_plan_make(const kube_context *k, json_t *pod, const char *owner, kube_pod_plan *pl, berth_error **err)
{
	json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec"), *c;
	json_t *inits = json_object_get(spec, "initContainers"), *ctrs = json_object_get(spec, "containers");
	const char *const *labels;
	json_t *grace = json_object_get(spec, "terminationGracePeriodSeconds");
	size_t i;
	char path[64];

	memset(pl, 0, sizeof(*pl));
	pl->arena = json_array();
	pl->name = json_string_value(json_object_get(meta, "name"));
	pl->namespace = json_string_value(json_object_get(meta, "namespace")) ?: "default";
	pl->grace_s = grace ? (int)json_integer_value(grace) : 30;
	if (pl->name == NULL)
		return berth_error_request(err, EINVAL, "metadata.name: required");
	pl->pod_dir = kube_pod_dir(k->paths->store_root, pl->namespace, pl->name);
	pl->init = calloc(json_array_size(inits) + 1, sizeof(*pl->init));
	pl->containers = calloc(json_array_size(ctrs) + 1, sizeof(*pl->containers));
	if (pl->pod_dir == NULL || pl->init == NULL || pl->containers == NULL ||
	    (labels = pod_labels(pl, pod, owner)) == NULL)
		return berth_error_set(err, ENOMEM, "pod %s", pl->name);
	if (refuse_unsupported(spec, err) < 0 || plan_volumes(k, pl, spec, err) < 0 ||
	    plan_holder(k, pl, pod, container_labels(pl, labels, KUBE_HOLDER_NAME), err) < 0)
		return -1;
	json_array_foreach(inits, i, c) {
		kube_container_plan *cp = &pl->init[pl->n_init++];
		snprintf(path, sizeof(path), "spec.initContainers[%zu]", i);
		if (plan_container(k, pl, pod, c, path, true,
				   container_labels(pl, labels, json_string_value(json_object_get(c, "name"))), cp,
				   err) < 0)
			return -1;
		cp->o.name = cp->record_name;
	}
	json_array_foreach(ctrs, i, c) {
		kube_container_plan *cp = &pl->containers[pl->n_containers++];
		snprintf(path, sizeof(path), "spec.containers[%zu]", i);
		if (plan_container(k, pl, pod, c, path, false,
				   container_labels(pl, labels, json_string_value(json_object_get(c, "name"))), cp,
				   err) < 0)
			return -1;
		cp->o.name = cp->record_name;
	}
	return 0;
}

/* TEXT with Kubernetes' $(NAME) references to VARS replaced ("$$" is a
 * "$"; an unknown name stays as written). Heap. */
static char *expand(const char *text, json_t *vars)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		return NULL;
	for (const char *p = text; *p; p++) {
		const char *end;
		if (p[0] == '$' && p[1] == '$') {
			fputc('$', f);
			p++;
		} else if (p[0] == '$' && p[1] == '(' && (end = strchr(p + 2, ')')) != NULL) {
			char name[256];
			json_t *v;
			snprintf(name, sizeof(name), "%.*s", (int)(end - p - 2), p + 2);
			if ((v = json_object_get(vars, name)) != NULL) {
				fputs(json_string_value(v), f);
				p = end;
			} else {
				fputc('$', f);
			}
		} else {
			fputc(*p, f);
		}
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

int kube_pod_plan_set_env(kube_pod_plan *pl, kube_container_plan *c, const char *pod_ip, berth_error **err)
{
	json_t *env = json_array(), *vars = json_object(), *command = json_array(), *e;
	size_t i;

	/* each value may refer to the ones before it, the command to all */
	json_array_foreach(c->env, i, e) {
		_cleanup_free_ char *kv = NULL, *value = NULL;
		const char *eq;
		if (json_is_string(e))
			kv = strdup(json_string_value(e));
		else if (asprintf(&kv, "%s=%s", json_string_value(json_object_get(e, "name")), pod_ip ? pod_ip : "") <
			 0)
			kv = NULL;
		if (kv == NULL || (eq = strchr(kv, '=')) == NULL || (value = expand(eq + 1, vars)) == NULL)
			continue;
		kv[eq - kv] = '\0';
		json_object_set_new(vars, kv, json_string(value));
		kv[eq - kv] = '=';
		push(env, "%.*s=%s", (int)(eq - kv), kv, value);
	}
	for (char *const *a = c->o.command; a && *a; a++) {
		_cleanup_free_ char *x = expand(*a, vars);
		json_array_append_new(command, json_string(x ? x : *a));
	}
	c->o.env = strv_of(pl, env);
	if (c->o.command)
		c->o.command = (char *const *)strv_of(pl, command);
	json_decref(env);
	json_decref(vars);
	json_decref(command);
	return c->o.env ? 0 : berth_error_set(err, ENOMEM, "env");
}

static void container_plan_free(kube_container_plan *c)
{
	free(c->record_name);
	json_decref(c->env);
}

void kube_pod_plan_free(kube_pod_plan *pl)
{
	container_plan_free(&pl->holder);
	for (size_t i = 0; i < pl->n_init; i++)
		container_plan_free(&pl->init[i]);
	for (size_t i = 0; i < pl->n_containers; i++)
		container_plan_free(&pl->containers[i]);
	for (size_t i = 0; i < pl->n_volumes; i++) {
		free(pl->volumes[i].dir);
		json_decref(pl->volumes[i].files);
	}
	for (size_t i = 0; i < pl->n_allocs; i++)
		free(pl->allocs[i]);
	free(pl->allocs);
	free(pl->volumes);
	free(pl->init);
	free(pl->containers);
	free(pl->pod_dir);
	json_decref(pl->arena);
	memset(pl, 0, sizeof(*pl));
}
