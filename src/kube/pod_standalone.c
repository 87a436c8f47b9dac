#include "kube/pod_standalone.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/container.h"
#include "engine/monitor.h"
#include "kube/kube_internal.h"
#include "util/cleanup.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

char *kube_standalone_holder_name(const char *name)
{
	char *out = NULL;
	if (asprintf(&out, "%s-infra", name) < 0)
		return NULL;
	return out;
}

static const char *label(const container *c, const char *key)
{
	return json_string_value(json_object_get(json_object_get(c->config, "Labels"), key));
}

/* The labels of the holder: O's, then the pod's own. */
static const char **holder_labels(const kube_standalone_options *o, char **own)
{
	size_t n = 0;
	const char **v;

	for (const char *const *l = o->labels; l && *l; l++)
		n++;
	v = calloc(n + 3, sizeof(char *));
	if (v == NULL || asprintf(&own[0], "%s=%s", KUBE_LABEL_STANDALONE, o->name) < 0 ||
	    asprintf(&own[1], "%s=true", KUBE_LABEL_STANDALONE_INFRA) < 0) {
		free(v);
		return NULL;
	}
	n = 0;
	for (const char *const *l = o->labels; l && *l; l++)
		v[n++] = *l;
	v[n++] = own[0];
	v[n++] = own[1];
	return v;
}

int kube_standalone_create(const kube_context *k, const kube_standalone_options *o, berth_error **err)
{
	_cleanup_free_ char *holder = kube_standalone_holder_name(o->name);
	_cleanup_free_ const char **labels = NULL;
	char *own[2] = { NULL, NULL };
	const char *image = KUBE_PAUSE_IMAGE_NAME ":" BERTH_VERSION;
	run_options ro = { 0 };
	run_plan plan;
	container *c = NULL;
	store *s = NULL;
	json_t *pods = NULL;
	int ret = -1;

	if (holder == NULL || (labels = holder_labels(o, own)) == NULL) {
		berth_error_set(err, ENOMEM, "pod %s", o->name);
		goto out;
	}
	if (kube_standalone_list(k, &pods, err) < 0)
		goto out;
	for (size_t i = 0; i < json_array_size(pods); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(pods, i), "name")), o->name) == 0) {
			berth_error_request(err, EEXIST, "pod %s exists already", o->name);
			goto out;
		}
	ro.name = holder;
	ro.hostname = o->hostname ? o->hostname : o->name;
	ro.network = o->network;
	ro.ipc = "shareable";
	ro.publish = o->publish;
	ro.add_hosts = o->add_hosts;
	ro.dns = o->dns;
	ro.labels = labels;
	ro.cgroup_parent = k->cgroup_parent;
	ro.detach = true;
	ro.restart = "no";
	ro.no_monitor = true; /* it only keeps the namespaces (record.h) */
	ro.stop_timeout = "2";
	if (run_options_validate(&ro, &plan, err) < 0)
		goto out;
	if (store_open(k->paths->store_root, &s, err) == 0 && kube_pause_image_ensure(k, s, image, err) == 0 &&
	    engine_container_create(k->paths, s, image, &ro, &plan, &c, err) == 0) {
		ret = monitor_start(k->paths, c, false, NULL, NULL, err);
		if (ret < 0) {
			berth_error *ignored = NULL;
			if (engine_container_remove(k->paths, c, true, &ignored) < 0)
				berth_error_free(&ignored);
		}
	}
	run_plan_free(&plan);
out:
	if (ret < 0)
		berth_error_wrap(err, "pod create %s", o->name);
	container_free(c);
	if (s)
		store_close(s);
	json_decref(pods);
	free(own[0]);
	free(own[1]);
	return ret;
}

static json_t *entry(json_t *pods, const char *name, const char *namespace, const char *kind)
{
	char key[600];
	json_t *e;

	snprintf(key, sizeof(key), "%s/%s/%s", kind, namespace ? namespace : "", name);
	e = json_object_get(pods, key);
	if (e == NULL) {
		e = json_pack("{s:s, s:s?, s:s, s:n, s:[]}", "name", name, "namespace", namespace, "kind", kind,
			      "infra", "containers");
		json_object_set_new(pods, key, e);
	}
	return e;
}

static int by_name(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int r = strcmp(json_string_value(json_object_get(x, "name")), json_string_value(json_object_get(y, "name")));

	return r ? r
		 : strcmp(json_string_value(json_object_get(x, "namespace")) ?: "",
			  json_string_value(json_object_get(y, "namespace")) ?: "");
}

int kube_standalone_list(const kube_context *k, json_t **out, berth_error **err)
{
	container **list = NULL;
	json_t *pods = json_object(), *v;
	const char *key;
	size_t n = 0, count;
	json_t **sorted;

	if (record_list(k->paths, &list, &n, err) < 0) {
		json_decref(pods);
		return -1;
	}
	for (size_t i = n; i-- > 0;) {
		container *c = list[i];
		const char *mine = label(c, KUBE_LABEL_STANDALONE), *kube = label(c, KUBE_LABEL_POD_NAME);
		berth_error *e = NULL;
		bool infra;
		json_t *p;
		if (mine == NULL && kube == NULL)
			continue;
		if (record_refresh(k->paths, c, &e) < 0)
			berth_error_free(&e);
		p = mine ? entry(pods, mine, NULL, "pod")
			 : entry(pods, kube, label(c, KUBE_LABEL_POD_NAMESPACE), "kube");
		infra = mine ? label(c, KUBE_LABEL_STANDALONE_INFRA) != NULL
			     : strcmp(label(c, KUBE_LABEL_CONTAINER_NAME) ?: "", KUBE_HOLDER_NAME) == 0;
		if (infra)
			json_object_set_new(p, "infra",
					    json_pack("{s:s, s:s, s:s, s:O?}", "id", c->id, "name", c->name, "status",
						      c->state.status, "created",
						      json_object_get(c->config, "Created")));
		else
			json_array_append_new(
			    json_object_get(p, "containers"),
			    json_pack("{s:s, s:s, s:s}", "name", c->name, "id", c->id, "status", c->state.status));
	}
	record_list_free(list, n);
	count = json_object_size(pods);
	sorted = calloc(count + 1, sizeof(json_t *));
	if (sorted == NULL) {
		json_decref(pods);
		return berth_error_set(err, ENOMEM, "pods");
	}
	count = 0;
	json_object_foreach(pods, key, v)
		sorted[count++] = v;
	qsort(sorted, count, sizeof(json_t *), by_name);
	*out = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append(*out, sorted[i]);
	free(sorted);
	json_decref(pods);
	return 0;
}

static int remove_container(const kube_context *k, const char *id, bool force, int timeout_s, berth_error **err)
{
	container *c = NULL;
	int ret;

	if (record_open(k->paths, id, &c, err) < 0)
		return (*err && (*err)->code == ENOENT) ? (berth_error_free(err), 0) : -1;
	ret = record_refresh(k->paths, c, err);
	if (ret == 0 && engine_status_is_live(c->state.status)) {
		if (!force)
			ret =
			    berth_error_request(err, EBUSY, "container %s is running: stop the pod or use -f", c->name);
		else
			ret = engine_container_stop(k->paths, c, timeout_s, err);
	}
	if (ret == 0)
		ret = engine_container_remove(k->paths, c, true, err);
	container_free(c);
	return ret;
}

int kube_standalone_find(const kube_context *k, const char *name, const char *hint, json_t **out, berth_error **err)
{
	json_t *pods = NULL, *p;
	size_t i;

	*out = NULL;
	if (kube_standalone_list(k, &pods, err) < 0)
		return -1;
	json_array_foreach(pods, i, p) {
		if (strcmp(json_string_value(json_object_get(p, "name")), name) != 0)
			continue;
		if (hint && strcmp(json_string_value(json_object_get(p, "kind")), "kube") == 0) {
			berth_error_request(err, EPERM, "pod %s belongs to berth kube (namespace %s): %s", name,
					    json_string_value(json_object_get(p, "namespace")), hint);
			json_decref(pods);
			return -EPERM;
		}
		*out = json_incref(p);
		break;
	}
	json_decref(pods);
	return *out ? 0 : berth_error_request(err, ENOENT, "no such pod: %s", name);
}

int kube_standalone_remove(const kube_context *k, const char *name, bool force, int timeout_s, berth_error **err)
{
	_cleanup_json_ json_t *pod = NULL;
	json_t *c;
	size_t i;
	int ret = 0;

	if (kube_standalone_find(k, name, "use berth kube delete", &pod, err) < 0)
		return -1;
	/* the containers, then the holder of their namespaces */
	json_array_foreach(json_object_get(pod, "containers"), i, c)
		if (ret == 0)
			ret = remove_container(k, json_string_value(json_object_get(c, "id")), force, timeout_s, err);
	if (ret == 0 && !json_is_null(json_object_get(pod, "infra")))
		ret = remove_container(k, json_string_value(json_object_get(json_object_get(pod, "infra"), "id")),
				       force, timeout_s, err);
	return ret < 0 ? berth_error_wrap(err, "pod rm %s", name) : 0;
}

/* One container of the pod: started when not live; stopped, killed when
 * live. */
static int act_on(const kube_context *k, const char *id, kube_standalone_action action, int timeout_s,
		  const char *signal, berth_error **err)
{
	container *c = NULL;
	int ret;

	if (record_open(k->paths, id, &c, err) < 0)
		return (*err && (*err)->code == ENOENT) ? (berth_error_free(err), 0) : -1;
	ret = record_refresh(k->paths, c, err);
	if (ret == 0 && action == KUBE_POD_START && !engine_status_is_live(c->state.status))
		ret = monitor_start(k->paths, c, false, NULL, NULL, err);
	else if (ret == 0 && action == KUBE_POD_STOP && engine_status_is_live(c->state.status))
		ret = engine_container_stop(
		    k->paths, c, timeout_s >= 0 ? timeout_s : (int)record_config_int(c, "StopTimeout", 10), err);
	else if (ret == 0 && action == KUBE_POD_KILL && strcmp(c->state.status, "running") == 0)
		ret = engine_container_kill(k->paths, c, signal ? signal : "SIGKILL", err);
	if (ret == 0 && action == KUBE_POD_STOP && c->state.monitor_pid > 0 && record_monitor_alive(c)) {
		/* its monitor records the exit: a start right after must find it gone */
		int code;
		berth_error *ignored = NULL;
		if (engine_container_wait(k->paths, c, 5000, &code, &ignored) < 0)
			berth_error_free(&ignored);
	}
	if (ret < 0)
		berth_error_wrap(err, "container %s", c->name);
	container_free(c);
	return ret;
}

int kube_standalone_act(const kube_context *k, const char *name, kube_standalone_action action, int timeout_s,
			const char *signal, berth_error **err)
{
	static const char *const words[] = { "start", "stop", "restart", "kill" };
	_cleanup_json_ json_t *pod = NULL;
	json_t *infra, *c, *list;
	size_t i;
	int ret = 0;

	if (kube_standalone_find(k, name, "its controller starts and stops it", &pod, err) < 0)
		return berth_error_wrap(err, "pod %s", words[action]);
	infra = json_object_get(pod, "infra");
	list = json_object_get(pod, "containers");
	if (action == KUBE_POD_RESTART)
		return kube_standalone_act(k, name, KUBE_POD_STOP, timeout_s, NULL, err) < 0 ||
			       kube_standalone_act(k, name, KUBE_POD_START, timeout_s, NULL, err) < 0
			   ? -1
			   : 0;
	/* start: the holder of the namespaces first; the others: it last */
	if (action == KUBE_POD_START && json_is_object(infra))
		ret = act_on(k, json_string_value(json_object_get(infra, "id")), action, timeout_s, signal, err);
	json_array_foreach(list, i, c)
		if (ret == 0)
			ret = act_on(k, json_string_value(json_object_get(c, "id")), action, timeout_s, signal, err);
	if (ret == 0 && action != KUBE_POD_START && json_is_object(infra))
		ret = act_on(k, json_string_value(json_object_get(infra, "id")), action, timeout_s, signal, err);
	return ret < 0 ? berth_error_wrap(err, "pod %s %s", words[action], name) : 0;
}
