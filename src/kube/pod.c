#include "kube/pod.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sha2.h>

#include "engine/container.h"
#include "engine/monitor.h"
#include "engine/userns.h"
#include "image/archive.h"
#include "image/images.h"
#include "kube/kube_internal.h"
#include "kube/kube_service.h"
#include "kube/pod_plan.h"
#include "kube/probe.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

char *kube_container_record_name(const char *ctr, const char *pod, const char *namespace)
{
	char *out = NULL;
	if (asprintf(&out, "k8s_%s_%s_%s", ctr, pod, namespace) < 0)
		return NULL;
	return out;
}

void kube_pod_spec_hash(json_t *pod, char out[11])
{
	_cleanup_free_ char *text = json_dumps(pod, JSON_COMPACT | JSON_SORT_KEYS);
	char hex[SHA256_DIGEST_STRING_LENGTH];

	SHA256Data((const uint8_t *)(text ? text : ""), text ? strlen(text) : 0, hex);
	memcpy(out, hex, 10);
	out[10] = '\0';
}

/* ---- the pause image: /pause, a copy of berth-init */

static void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

static int tar_entry(struct archive *a, const char *name, mode_t mode, const char *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();
	int ret;

	if (e == NULL)
		return -1;
	archive_entry_set_pathname(e, name);
	archive_entry_set_mode(e, mode);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, 0, 0);
	ret = archive_write_header(a, e) == ARCHIVE_OK &&
		      (len == 0 || archive_write_data(a, data, len) == (la_ssize_t)len)
		  ? 0
		  : -1;
	archive_entry_free(e);
	return ret;
}

/* Writes the one layer of the pause image to PATH. */
static int write_pause_layer(const char *path, berth_error **err)
{
	__attribute__((cleanup(archive_write_freep))) struct archive *a = archive_write_new();
	_cleanup_free_ char *init = run_find_init(), *data = NULL;
	static const char *const dirs[] = { "dev", "proc", "sys", "etc", "tmp" };
	size_t len = 0;

	if (init == NULL)
		return berth_error_set(err, ENOENT, "pause image: berth-init not found next to berth nor installed");
	if (fs_read_file(init, &data, &len, err) < 0)
		return -1;
	if (a == NULL || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, path) != ARCHIVE_OK)
		return berth_error_set(err, 0, "pause image: %s: %s", path, a ? archive_error_string(a) : "no memory");
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (tar_entry(a, dirs[i], S_IFDIR | 0755, NULL, 0) < 0)
			return berth_error_set(err, 0, "pause image: %s", archive_error_string(a));
	if (tar_entry(a, "pause", S_IFREG | 0755, data, len) < 0 || archive_write_close(a) != ARCHIVE_OK)
		return berth_error_set(err, 0, "pause image: %s", archive_error_string(a));
	return 0;
}

int kube_pause_image_ensure(const kube_context *k, store *s, const char *image, berth_error **err)
{
	import_options opts = { .name = image,
				.message = "berth kube: the holder of a pod's namespaces",
				.unpack = { .rootless = engine_rootless(), .userxattr = engine_rootless() } };
	char *const changes[] = { "ENTRYPOINT [\"/pause\", \"--pause\"]", NULL };
	_cleanup_free_ char *dir = fs_path_join(k->paths->store_root, "kube-pods"), *tar = NULL;
	char id[DIGEST_STRING_MAX];
	image_info info = { 0 };
	berth_error *missing = NULL;
	int ret;

	if (image_resolve(s, image, &info, &missing) == 0) {
		image_info_free(&info);
		return 0;
	}
	berth_error_free(&missing);
	opts.changes = changes;
	if (dir == NULL || asprintf(&tar, "%s/.pause-%d.tar", dir, (int)getpid()) < 0)
		return berth_error_set(err, ENOMEM, "pause image");
	if (fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	ret = write_pause_layer(tar, err);
	if (ret == 0)
		ret = image_import(s, tar, &opts, id, err);
	unlink(tar);
	return ret < 0 ? berth_error_wrap(err, "image %s", image) : 0;
}

int kube_pause_image_ready(const kube_context *k, berth_error **err)
{
	store *s = NULL;
	char image[128];
	int ret;

	snprintf(image, sizeof(image), "%s:%s", KUBE_PAUSE_IMAGE_NAME, BERTH_VERSION);
	if (store_open(k->paths->store_root, &s, err) < 0)
		return -1;
	ret = kube_pause_image_ensure(k, s, image, err);
	store_close(s);
	return ret;
}

/* ---- create */

static int write_volume_files(const kube_volume_plan *v, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	const char *name;
	json_t *f;

	if (v->create_dir && fs_mkdir_p(v->dir, 0755, err) < 0)
		return -1;
	/* fsGroup: the group owns the emptyDir, and what is made in it */
	if (v->group >= 0 && (chown(v->dir, 0, (gid_t)v->group) < 0 || chmod(v->dir, 02775) < 0))
		return berth_error_set(err, errno, "fsGroup %lld on \"%s\"", v->group, v->dir);
	if (v->create_file) {
		int fd = open(v->dir, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return berth_error_set(err, errno, "hostPath \"%s\"", v->dir);
		close(fd);
	}
	if (v->files == NULL)
		return 0;
	dirfd = open(v->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", v->dir);
	json_object_foreach(v->files, name, f) {
		json_t *data = json_object_get(f, "data");
		const char *slash = strrchr(name, '/');
		if (slash) {
			_cleanup_free_ char *sub = strndup(name, (size_t)(slash - name)), *full = NULL;
			if (sub == NULL || (full = fs_path_join(v->dir, sub)) == NULL)
				return berth_error_set(err, ENOMEM, "volume");
			if (fs_mkdir_p(full, 0755, err) < 0)
				return -1;
		}
		if (fs_write_file_replace(dirfd, name, json_string_value(data) ?: "", json_string_length(data),
					  (mode_t)json_integer_value(json_object_get(f, "mode")) & 07777, err) < 0)
			return -1;
	}
	return 0;
}

static int prepare_pod_dir(const kube_pod_plan *pl, json_t *pod, berth_error **err)
{
	_cleanup_free_ char *text = json_dumps(pod, JSON_COMPACT);
	_cleanup_close_ int dirfd = -EBADF;

	if (text == NULL)
		return berth_error_set(err, ENOMEM, "pod %s", pl->name);
	if (fs_mkdir_p(pl->pod_dir, 0700, err) < 0)
		return -1;
	dirfd = open(pl->pod_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", pl->pod_dir);
	if (fs_write_file_replace(dirfd, "pod.json", text, strlen(text), 0600, err) < 0)
		return -1;
	for (size_t i = 0; i < pl->n_volumes; i++)
		if (write_volume_files(&pl->volumes[i], err) < 0)
			return -1;
	return 0;
}

/* Creates and starts one container of the plan; *OUT gets its record. */
static int start_container(const kube_context *k, store *s, kube_container_plan *cp, container **out, berth_error **err)
{
	run_plan plan;
	container *c = NULL;
	int ret;

	if (cp->never_pull) {
		image_info info = { 0 };
		if (image_resolve(s, cp->image, &info, err) < 0)
			return berth_error_wrap(err, "container %s: imagePullPolicy Never", cp->name);
		image_info_free(&info);
	}
	if (run_options_validate(&cp->o, &plan, err) < 0)
		return berth_error_wrap(err, "container %s", cp->name);
	ret = engine_container_create(k->paths, s, cp->image, &cp->o, &plan, &c, err);
	run_plan_free(&plan);
	if (ret < 0)
		return berth_error_wrap(err, "container %s", cp->name);
	if (monitor_start(k->paths, c, false, NULL, NULL, err) < 0) {
		container_free(c);
		return berth_error_wrap(err, "start container %s", cp->name);
	}
	if (out)
		*out = c;
	else
		container_free(c);
	return 0;
}

/* The controller waits for an init container in its loop, so not forever:
 * one still running after this is killed and the pod fails (it is tried
 * again later). */
#define KUBE_INIT_TIMEOUT_MS (300 * 1000)

/* An init container: run to completion, then removed. */
static int run_init_container(const kube_context *k, store *s, kube_container_plan *cp, berth_error **err)
{
	container *c = NULL;
	berth_error *ignored = NULL;
	int code = -1, ret;

	if (start_container(k, s, cp, &c, err) < 0)
		return -1;
	ret = engine_container_wait(k->paths, c, KUBE_INIT_TIMEOUT_MS, &code, err);
	if (engine_container_remove(k->paths, c, true, &ignored) < 0)
		berth_error_free(&ignored);
	container_free(c);
	if (ret < 0)
		return berth_error_wrap(err, "init container %s", cp->name);
	if (code != 0)
		return berth_error_request(err, EIO, "init container %s exited with %d", cp->name, code);
	return 0;
}

/* The names of the namespace's services in the pod's hosts file, before
 * its containers start (a pod without them still runs). */
static void pod_service_names(const kube_context *k, const kube_pod_plan *pl)
{
	_cleanup_free_ char *block = kube_service_hosts_block(k, pl->namespace, NULL);
	berth_error *err = NULL;

	if (block && kube_service_pod_files(k, pl->namespace, pl->name, block, true, &err) < 0)
		berth_error_report("berth kube", &err);
}

static int create_pod(const kube_context *k, kube_pod_plan *pl, json_t *pod, berth_error **err)
{
	store *s = NULL;
	container *holder = NULL;
	const char *ip;
	int ret = -1;

	if (store_open(k->paths->store_root, &s, err) < 0)
		return -1;
	if (kube_pause_image_ensure(k, s, pl->holder.image, err) < 0 || prepare_pod_dir(pl, pod, err) < 0 ||
	    kube_pod_plan_set_env(pl, &pl->holder, NULL, err) < 0 ||
	    start_container(k, s, &pl->holder, &holder, err) < 0)
		goto out;
	ip = json_string_value(json_object_get(json_object_get(holder->config, "NetworkSettings"), "IPAddress"));
	pod_service_names(k, pl);
	for (size_t i = 0; i < pl->n_init; i++)
		if (kube_pod_plan_set_env(pl, &pl->init[i], ip, err) < 0 ||
		    run_init_container(k, s, &pl->init[i], err) < 0)
			goto out;
	for (size_t i = 0; i < pl->n_containers; i++)
		if (kube_pod_plan_set_env(pl, &pl->containers[i], ip, err) < 0 ||
		    start_container(k, s, &pl->containers[i], NULL, err) < 0)
			goto out;
	ret = 0;
out:
	container_free(holder);
	store_close(s);
	return ret;
}

int kube_pod_check(const kube_context *k, json_t *pod, berth_error **err)
{
	kube_pod_plan pl;
	run_plan holder;
	int ret = kube_pod_plan_make(k, pod, NULL, &pl, err);

	if (ret == 0 && (ret = run_options_validate(&pl.holder.o, &holder, err)) == 0)
		run_plan_free(&holder);
	for (size_t i = 0; ret == 0 && i < pl.n_containers; i++) {
		run_plan plan;
		/* the pod's own volume directories are made with the pod */
		pl.containers[i].o.volumes = NULL;
		if ((ret = kube_pod_plan_set_env(&pl, &pl.containers[i], NULL, err)) == 0 &&
		    (ret = run_options_validate(&pl.containers[i].o, &plan, err)) == 0)
			run_plan_free(&plan);
		else
			berth_error_wrap(err, "spec.containers[%zu]", i);
	}
	kube_pod_plan_free(&pl);
	return ret;
}

int kube_pod_create(const kube_context *k, json_t *pod, const char *owner, berth_error **err)
{
	kube_pod_plan pl;
	berth_error *ignored = NULL;
	int ret;

	ret = kube_pod_plan_make(k, pod, owner, &pl, err);
	if (ret == 0 && (ret = create_pod(k, &pl, pod, err)) < 0 &&
	    kube_pod_remove(k, pl.namespace, pl.name, 0, &ignored) < 0)
		berth_error_free(&ignored);
	if (ret < 0)
		berth_error_wrap(err, "pod %s", pl.name ? pl.name : "?");
	kube_pod_plan_free(&pl);
	return ret;
}

/* ---- find, remove */

static const char *label(const container *c, const char *key)
{
	return json_string_value(json_object_get(json_object_get(c->config, "Labels"), key));
}

static bool in_pod(const container *c, const char *namespace, const char *name)
{
	const char *ns = label(c, KUBE_LABEL_POD_NAMESPACE), *pod = label(c, KUBE_LABEL_POD_NAME);
	return ns && pod && (namespace == NULL || strcmp(ns, namespace) == 0) &&
	       (name == NULL || strcmp(pod, name) == 0);
}

/* Whether the container name NAME is k8s_<ctr>_<pod>_<ns> of NAMESPACE and
 * POD (each NULL: any). Names of Kubernetes objects hold no '_'. */
static bool kube_record_name(const char *name, const char *namespace, const char *pod)
{
	const char *ctr, *p, *ns;

	if (strncmp(name, "k8s_", 4) != 0 || (ctr = name + 4, p = strchr(ctr, '_')) == NULL ||
	    (ns = strchr(p + 1, '_')) == NULL || strchr(ns + 1, '_') != NULL)
		return false;
	if (pod && (strlen(pod) != (size_t)(ns - p - 1) || strncmp(p + 1, pod, strlen(pod)) != 0))
		return false;
	return namespace == NULL || strcmp(ns + 1, namespace) == 0;
}

/* The records of the pods of NAMESPACE (POD: that pod only), found by their
 * names (STORE/containers/names/k8s_*), not by loading every record of the
 * store: a pass of the controller costs what the pods have, whatever else
 * the store holds. Records being made or gone meanwhile are skipped. */
/* Calls FN with each container record of NAMESPACE (and of POD, unless
 * NULL), one at a time: FN returns 1 when it keeps the record, 0 when it
 * is freed, <0 to stop (ENOMEM). */
static int pod_records_each(const kube_context *k, const char *namespace, const char *pod,
			    int (*fn)(container *c, void *arg), void *arg, berth_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(k->paths->names);
	container *c;
	struct dirent *e;

	if (d == NULL && errno != ENOENT)
		return berth_error_set(err, errno, "open \"%s\"", k->paths->names);
	while (d && (e = readdir(d)) != NULL) {
		berth_error *skip = NULL;
		int kept;
		if (!kube_record_name(e->d_name, namespace, pod))
			continue;
		if (record_open(k->paths, e->d_name, &c, &skip) < 0) {
			berth_error_free(&skip);
			continue;
		}
		if (!in_pod(c, namespace, pod)) {
			container_free(c);
			continue;
		}
		kept = fn(c, arg);
		if (kept <= 0)
			container_free(c);
		if (kept < 0)
			return berth_error_set(err, ENOMEM, "pods");
	}
	return 0;
}

typedef struct record_vec {
	container **list;
	size_t n;
} record_vec;

static int keep_record(container *c, void *arg)
{
	record_vec *v = arg;
	container **grown = realloc(v->list, (v->n + 1) * sizeof(*v->list));

	if (grown == NULL)
		return -1;
	v->list = grown;
	v->list[v->n++] = c;
	return 1;
}

static int pod_records(const kube_context *k, const char *namespace, const char *pod, container ***out, size_t *n,
		       berth_error **err)
{
	record_vec v = { NULL, 0 };

	if (pod_records_each(k, namespace, pod, keep_record, &v, err) < 0) {
		record_list_free(v.list, v.n);
		return -1;
	}
	*out = v.list;
	*n = v.n;
	return 0;
}

/* The container's preStop hook (exec or sleep), within GRACE_S; returns
 * the seconds of the grace period left. */
static int run_pre_stop(const kube_context *k, container *c, json_t *pod, int grace_s)
{
	const char *name = label(c, KUBE_LABEL_CONTAINER_NAME) ?: "";
	json_t *ctr, *hook = NULL;
	time_t start = time(NULL);
	size_t i;
	int left;

	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, ctr)
		if (strcmp(json_string_value(json_object_get(ctr, "name")) ?: "", name) == 0)
			hook = json_object_get(json_object_get(ctr, "lifecycle"), "preStop");
	if (hook == NULL || grace_s <= 0)
		return grace_s;
	if (json_object_get(hook, "exec"))
		kube_exec_in(engine_container_runtime(c), k->paths->runtime_root, c->id,
			     json_object_get(json_object_get(hook, "exec"), "command"), grace_s * 1000);
	else if (json_object_get(hook, "sleep")) {
		json_int_t s = json_integer_value(json_object_get(json_object_get(hook, "sleep"), "seconds"));
		sleep((unsigned)(s < grace_s ? s : grace_s));
	}
	left = grace_s - (int)(time(NULL) - start);
	return left > 0 ? left : 0;
}

static int remove_one(const kube_context *k, container *c, json_t *pod, int grace_s, berth_error **err)
{
	berth_error *e = NULL;

	if (record_refresh(k->paths, c, &e) == 0 && engine_status_is_live(c->state.status) &&
	    engine_container_stop(k->paths, c, run_pre_stop(k, c, pod, grace_s), &e) < 0)
		berth_error_free(&e);
	berth_error_free(&e);
	if (engine_container_remove(k->paths, c, true, &e) < 0) {
		if (e && e->code == ENOENT) {
			berth_error_free(&e);
			return 0;
		}
		*err = e;
		return berth_error_wrap(err, "remove %s", c->name);
	}
	return 0;
}

int kube_pod_container_terminate(const kube_context *k, json_t *pod, const char *id, int grace_s, berth_error **err)
{
	container *c = NULL;
	_cleanup_free_ char *started = NULL;
	berth_error *e = NULL;
	struct timespec now;
	time_t deadline;
	int left;

	if (record_open(k->paths, id, &c, err) < 0)
		return -1;
	started = strdup(c->state.started_at ?: "");
	left = run_pre_stop(k, c, pod, grace_s);
	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = now.tv_sec + left;
	if (engine_container_kill(k->paths, c, record_config_string(c, "StopSignal") ?: "SIGTERM", &e) == 0) {
		for (;;) {
			/* ended: no longer live, or started again by its monitor */
			if (record_refresh(k->paths, c, &e) < 0 || !engine_status_is_live(c->state.status) ||
			    strcmp(c->state.started_at ?: "", started ?: "") != 0)
				goto out;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec >= deadline)
				break;
			usleep(50 * 1000);
		}
	}
	berth_error_free(&e);
	engine_container_kill(k->paths, c, "SIGKILL", &e);
out:
	berth_error_free(&e);
	container_free(c);
	return 0;
}

int kube_pod_remove(const kube_context *k, const char *namespace, const char *name, int grace_s, berth_error **err)
{
	container **list = NULL;
	_cleanup_free_ char *dir = NULL;
	_cleanup_json_ json_t *pod = kube_pod_object(k, namespace, name);
	berth_error *first = NULL, *e = NULL;
	size_t n = 0;

	if (pod_records(k, namespace, name, &list, &n, err) < 0)
		return -1;
	/* the containers first, then the pod's directory, the holder of their
	 * namespaces last: once no record of the pod is left (what `kube
	 * delete` waits for), nothing else of it is */
	dir = kube_pod_dir(k->paths->store_root, namespace, name);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && dir && fs_remove_tree(dir, &e) < 0)
			berth_error_free(&e);
		for (size_t i = 0; i < n; i++) {
			const char *cname = label(list[i], KUBE_LABEL_CONTAINER_NAME) ?: "";
			if (!in_pod(list[i], namespace, name) || (strcmp(cname, KUBE_HOLDER_NAME) == 0) != (pass == 1))
				continue;
			if (remove_one(k, list[i], pod, pass == 1 ? 0 : grace_s, &e) < 0) {
				if (first == NULL)
					first = e;
				else
					berth_error_free(&e);
				e = NULL;
			}
		}
	}
	record_list_free(list, n);
	if (first) {
		*err = first;
		return -1;
	}
	return 0;
}

json_t *kube_pod_object(const kube_context *k, const char *namespace, const char *name)
{
	_cleanup_free_ char *dir = kube_pod_dir(k->paths->store_root, namespace, name), *path = NULL;

	if (dir == NULL || (path = fs_path_join(dir, "pod.json")) == NULL)
		return NULL;
	return json_load_file(path, 0, NULL);
}

static json_t *container_json(const container *c)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s?, s:i, s:b}", "name",
			 label(c, KUBE_LABEL_CONTAINER_NAME) ?: "", "id", c->id, "runtime", engine_container_runtime(c),
			 "status", c->state.status, "restarts", c->state.restart_count, "pid", (int)c->state.pid,
			 "startedAt", c->state.started_at, "exitCode", c->state.exit_code, "monitor",
			 record_monitor_alive(c));
}

/* The pod entry of C in PODS, made on first sight. */
static json_t *pod_entry(json_t *pods, const container *c)
{
	const char *name = label(c, KUBE_LABEL_POD_NAME);
	json_t *p = json_object_get(pods, name);

	if (p == NULL) {
		p = json_pack("{s:s, s:s, s:s?, s:s?, s:n, s:[]}", "name", name, "namespace",
			      label(c, KUBE_LABEL_POD_NAMESPACE), "owner", label(c, KUBE_LABEL_OWNER), "specHash",
			      label(c, KUBE_LABEL_SPEC_HASH), "holder", "containers");
		json_object_set_new(pods, name, p);
	}
	return p;
}

/* kubectl's order: by namespace, then name */
static int by_name(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int r = strcmp(json_string_value(json_object_get(x, "namespace")) ?: "",
		       json_string_value(json_object_get(y, "namespace")) ?: "");

	return r ? r
		 : strcmp(json_string_value(json_object_get(x, "name")), json_string_value(json_object_get(y, "name")));
}

/* The containers of P in the order of its pod object's spec (also put in
 * OBJECTS under the pod's name, unless NULL). */
static void order_containers(const kube_context *k, json_t *p, json_t *objects)
{
	_cleanup_json_ json_t *pod = kube_pod_object(k, json_string_value(json_object_get(p, "namespace")),
						     json_string_value(json_object_get(p, "name")));
	json_t *have = json_object_get(p, "containers"), *ordered = json_array(), *c, *h;
	json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
	size_t i, j;

	json_object_set_new(p, "labels", labels ? json_incref(labels) : json_object());
	if (objects && pod)
		json_object_set(objects, json_string_value(json_object_get(p, "name")), pod);
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		const char *name = json_string_value(json_object_get(c, "name")) ?: "";
		json_array_foreach(have, j, h)
			if (strcmp(json_string_value(json_object_get(h, "name")), name) == 0)
				json_array_append(ordered, h);
	}
	/* init containers and leftovers after them */
	json_array_foreach(have, j, h) {
		bool seen = false;
		json_array_foreach(ordered, i, c)
			seen = seen || c == h;
		if (!seen)
			json_array_append(ordered, h);
	}
	json_object_set_new(p, "containers", ordered);
}

int kube_pod_list(const kube_context *k, const char *namespace, json_t **out, berth_error **err)
{
	return kube_pod_list_objects(k, namespace, NULL, out, err);
}

typedef struct pods_acc {
	const kube_context *k;
	json_t *pods; /* pod name -> its entry */
} pods_acc;

/* C's part of its pod's entry, from its refreshed record */
static int add_to_pods(container *c, void *arg)
{
	pods_acc *acc = arg;
	berth_error *e = NULL;
	json_t *pe;

	if (record_refresh(acc->k->paths, c, &e) < 0)
		berth_error_free(&e);
	pe = pod_entry(acc->pods, c);
	if (strcmp(label(c, KUBE_LABEL_CONTAINER_NAME) ?: "", KUBE_HOLDER_NAME) == 0) {
		json_t *ns = json_object_get(c->config, "NetworkSettings");
		const char *mode = json_string_value(json_object_get(ns, "Mode")) ?: "";
		json_object_set_new(pe, "holder", container_json(c));
		json_object_set(pe, "ip", json_object_get(ns, "IPAddress") ?: json_null());
		/* user-mode networking, or rootless berth's bridge in its
		 * own network namespace: the pod's IP is reached from inside */
		if (strcmp(mode, "pasta") == 0 || strcmp(mode, "slirp4netns") == 0 ||
		    json_is_true(json_object_get(ns, "RootlessNetNS")))
			json_object_set(pe, "netns", json_object_get(ns, "NetNS") ?: json_null());
		json_object_set(pe, "created", json_object_get(c->config, "Created") ?: json_null());
	} else {
		json_array_append_new(json_object_get(pe, "containers"), container_json(c));
	}
	return 0;
}

int kube_pod_list_objects(const kube_context *k, const char *namespace, json_t *objects, json_t **out,
			  berth_error **err)
{
	json_t *pods = json_object(), *p;
	pods_acc acc = { k, pods };
	const char *key;

	/* one record at a time: a pass keeps only the few fields it needs,
	 * never every record of the namespace at once */
	if (pod_records_each(k, namespace, NULL, add_to_pods, &acc, err) < 0) {
		json_decref(pods);
		return -1;
	}
	*out = json_array();
	json_object_foreach(pods, key, p) {
		order_containers(k, p, objects);
		json_array_append(*out, p);
	}
	json_decref(pods);
	if (json_array_size(*out) > 1) {
		size_t count = json_array_size(*out);
		json_t **v = calloc(count, sizeof(json_t *));
		for (size_t i = 0; v && i < count; i++)
			v[i] = json_incref(json_array_get(*out, i));
		if (v) {
			qsort(v, count, sizeof(json_t *), by_name);
			json_array_clear(*out);
			for (size_t i = 0; i < count; i++)
				json_array_append_new(*out, v[i]);
			free(v);
		}
	}
	return 0;
}
