#include "kube/controller.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sha2.h>

#include "engine/container.h"
#include "engine/monitor_spawner.h"
#include "kube/controller_internal.h"
#include "kube/hpa_sync.h"
#include "kube/kube_internal.h"
#include "kube/kube_service.h"
#include "kube/pod_delete.h"
#include "kube/probe.h"
#include "kube/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define PASS_MS 250

long long kube_ctl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kube_ctl_log(const char *fmt, ...)
{
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	fprintf(stderr, "%s ", when);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void log_error(berth_error **err)
{
	if (*err)
		kube_ctl_log("%s", (*err)->msg);
	berth_error_free(err);
}

/* ---- files */

char *kube_controller_file(const kube_context *k, const char *namespace, const char *suffix)
{
	char hex[SHA256_DIGEST_STRING_LENGTH], *out = NULL;
	const char *store_root = k->paths->store_root;

	SHA256Data((const uint8_t *)store_root, strlen(store_root), hex);
	hex[12] = '\0';
	if (asprintf(&out, "%s/kube/%s/%s%s%s", k->paths->run_root, hex, namespace, suffix[0] ? "." : "", suffix) < 0)
		return NULL;
	return out;
}

json_t *kube_controller_status(const kube_context *k, const char *namespace)
{
	_cleanup_free_ char *path = kube_controller_file(k, namespace, "status");
	json_t *j = path ? json_load_file(path, 0, NULL) : NULL;

	return j ? j : json_pack("{s:{}}", "pods");
}

static int open_lock(const kube_context *k, const char *namespace, berth_error **err)
{
	_cleanup_free_ char *path = kube_controller_file(k, namespace, "lock"), *dir = NULL;
	int fd;

	if (path == NULL || (dir = strdup(path)) == NULL)
		return berth_error_set(err, ENOMEM, "controller lock");
	*strrchr(dir, '/') = '\0';
	if (fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", path);
	return fd;
}

pid_t kube_controller_pid(const kube_context *k, const char *namespace)
{
	berth_error *err = NULL;
	_cleanup_close_ int fd = open_lock(k, namespace, &err);
	char buf[32] = { 0 };

	berth_error_free(&err);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return 0; /* nobody holds it (closing the fd unlocks) */
	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return 0;
	return (pid_t)atoi(buf);
}

/* ---- probes and readiness */

static json_t *container_spec(json_t *pod, const char *name)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")) ?: "", name) == 0)
			return c;
	return NULL;
}

/* Pod NAME's object (a new reference, NULL when it has none), read once
 * per pass: a pass looks at it from several places. */
static json_t *pod_object(ctl *c, const char *name)
{
	json_t *pod;

	if (c->pass_objects == NULL || name == NULL)
		return kube_pod_object(c->k, c->ns, name);
	pod = json_object_get(c->pass_objects, name);
	if (pod == NULL && (pod = kube_pod_object(c->k, c->ns, name)) != NULL)
		json_object_set_new(c->pass_objects, name, pod);
	return json_incref(pod);
}

int kube_ctl_grace_of(ctl *c, const char *name)
{
	_cleanup_json_ json_t *pod = kube_pod_object(c->k, c->ns, name);
	json_t *g = json_object_get(json_object_get(pod, "spec"), "terminationGracePeriodSeconds");
	return g ? (int)json_integer_value(g) : 30;
}

static void watched_close(ctl *c);

/* In a child of the controller that goes on by itself (making or removing
 * a pod, ending a container): what only the controller may hold goes. The
 * lock, so that a new controller may start meanwhile; the descriptors of
 * the probes in flight and of the other pods being made, so that no
 * monitor forked from the child keeps them. */
static void child_drop(ctl *c)
{
	const char *name;
	json_t *job;

	close(c->lock_fd);
	kube_ctl_probes_drop(c, false);
	watched_close(c);
	json_object_foreach(c->creating, name, job)
		close((int)json_integer_value(json_object_get(job, "fd")));
}

/* A failed liveness (or startup) probe: the container is ended as the
 * kubelet ends it (preStop, its stop signal, SIGKILL after the grace
 * period), in a child of its own so that the loop goes on; its monitor
 * restarts it. Until then its probe state says "killing": it stays out of
 * the endpoints even if it still answers. */
static void kill_now(ctl *c, const char *id, const char *pod_name, const char *ctr_name, int grace_s)
{
	berth_error *err = NULL;
	pid_t pid = fork();

	if (pid == 0) {
		_cleanup_json_ json_t *pod = kube_pod_object(c->k, c->ns, pod_name);
		child_drop(c);
		if (kube_pod_container_terminate(c->k, pod, id, grace_s, &err) < 0)
			log_error(&err);
		_exit(0);
	}
	if (pid < 0) {
		kube_ctl_log("pod %s: fork: %s", pod_name, strerror(errno));
		return;
	}
	{
		char key[32];
		snprintf(key, sizeof(key), "%d", (int)pid);
		json_object_set_new(c->killers, key, json_string(pod_name));
	}
	kube_ctl_log("liveness probe of k8s_%s_%s_%s failed: ending it (grace period %d s)", ctr_name, pod_name, c->ns,
		     grace_s);
}

/* Whether PID runs (not ended, not a zombie its monitor has yet to reap),
 * and if so watched: a container that dies leaves its services at once. */
static bool process_running(ctl *c, json_int_t pid, const char *pod)
{
	char path[64], stat[512], *paren;
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	if (pid <= 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || (n = read(fd, stat, sizeof(stat) - 1)) <= 0)
		return false;
	stat[n] = '\0';
	paren = strrchr(stat, ')');
	if (paren == NULL || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X')
		return false;
	snprintf(path, sizeof(path), "%lld", (long long)pid);
	json_object_set_new(c->watch, path, json_string(pod));
	return true;
}

static bool holder_running(json_t *p)
{
	json_t *h = json_object_get(p, "holder");
	return h && strcmp(json_string_value(json_object_get(h, "status")) ?: "", "running") == 0;
}

static json_int_t min_ready_seconds(json_t *deployments, const char *owner)
{
	json_t *d;
	size_t i;

	if (owner == NULL || strncmp(owner, "Deployment/", 11) != 0)
		return 0;
	json_array_foreach(deployments, i, d)
		if (strcmp(json_string_value(json_object_get(json_object_get(d, "metadata"), "name")) ?: "",
			   owner + 11) == 0)
			return json_integer_value(json_object_get(json_object_get(d, "spec"), "minReadySeconds"));
	return 0;
}

/* The availability of pod NAME, ready or not as ST says (its entry in the
 * status file's "pods"): ready for its minReadySeconds (a pass is due when
 * it will be). */
static void set_available(ctl *c, const char *name, json_t *st)
{
	bool ready = json_is_true(json_object_get(st, "ready"));
	json_int_t min = json_integer_value(json_object_get(st, "minReadySeconds")), since;

	if (!ready)
		json_object_del(c->ready_since, name);
	else if (!json_object_get(c->ready_since, name))
		json_object_set_new(c->ready_since, name, json_integer(kube_ctl_now_ms()));
	since = json_integer_value(json_object_get(c->ready_since, name));
	json_object_set_new(st, "available", json_boolean(ready && kube_ctl_now_ms() - since >= min * 1000));
	if (ready && kube_ctl_now_ms() - since < min * 1000 && (c->next_due == 0 || since + min * 1000 < c->next_due))
		c->next_due = since + min * 1000;
}

/* Probes every pod; returns their readiness (the status file's "pods"). */
static json_t *observe(ctl *c, json_t *pods, json_t *deployments)
{
	json_t *status = json_pack("{s:{}}", "pods"), *p, *ctr, *v;
	const char *key;
	void *tmp;
	size_t i, j;

	c->next_due = 0;
	json_object_clear(c->watch);
	json_object_clear(c->pod_holders);
	json_object_foreach(c->probes, key, v)
		json_object_set_new(v, "seen", json_false());
	json_array_foreach(pods, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *ip = json_string_value(json_object_get(p, "ip"));
		const char *netns = json_string_value(json_object_get(p, "netns"));
		_cleanup_json_ json_t *pod = pod_object(c, name);
		json_t *ready_map;
		bool ready;
		if (json_is_true(json_object_get(p, "removed")) || json_is_true(json_object_get(p, "creating")))
			continue;
		ready_map = json_object();
		ready =
		    holder_running(p) && json_array_size(json_object_get(p, "containers")) > 0 &&
		    process_running(c, json_integer_value(json_object_get(json_object_get(p, "holder"), "pid")), name);
		json_object_set_new(c->pod_holders, name, json_boolean(ready));
		json_array_foreach(json_object_get(p, "containers"), j, ctr) {
			const char *cname = json_string_value(json_object_get(ctr, "name"));
			json_t *spec = container_spec(pod, cname);
			bool r = strcmp(json_string_value(json_object_get(ctr, "status")) ?: "", "running") == 0 &&
				 process_running(c, json_integer_value(json_object_get(ctr, "pid")), name) &&
				 spec != NULL && kube_ctl_probes_observe(c, ctr, spec, name, ip, netns);
			json_object_set_new(ready_map, cname, json_boolean(r));
			ready = ready && r;
		}
		json_object_set_new(
		    json_object_get(status, "pods"), name,
		    json_pack("{s:b, s:b, s:o, s:I}", "ready", ready, "available", false, "containers", ready_map,
			      "minReadySeconds",
			      min_ready_seconds(deployments, json_string_value(json_object_get(p, "owner")))));
		set_available(c, name, json_object_get(json_object_get(status, "pods"), name));
	}
	/* forget containers and pods that are gone */
	kube_ctl_probes_forget_unseen(c);
	json_object_foreach_safe(c->ready_since, tmp, key, v)
	{
		if (!json_object_get(json_object_get(status, "pods"), key))
			json_object_del(c->ready_since, key);
	}
	return status;
}

/* Writes STATUS (observe's, with what the pass decided: the pods being
 * removed and the errors) when it changed. */
static void write_status(ctl *c, json_t *status)
{
	json_t *errors = json_object(), *f;
	const char *key;
	char *text;

	json_object_foreach(c->failures, key, f)
		json_object_set(errors, key, json_object_get(f, "error"));
	json_object_set_new(status, "errors", errors);
	json_object_set(status, "terminating", c->terminating);
	json_object_set(status, "hpa", c->hpa);
	json_object_foreach(c->terminating, key, f)
		json_object_del(json_object_get(status, "pods"), key);
	text = json_dumps(status, JSON_COMPACT | JSON_SORT_KEYS);
	if (text && (c->last_status == NULL || strcmp(text, c->last_status) != 0)) {
		_cleanup_free_ char *dir = strdup(c->status_path);
		_cleanup_close_ int dfd = -EBADF;
		berth_error *err = NULL;
		if (dir) {
			*strrchr(dir, '/') = '\0';
			dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		}
		if (dfd >= 0 &&
		    fs_write_file_replace(dfd, strrchr(c->status_path, '/') + 1, text, strlen(text), 0600, &err) < 0)
			log_error(&err);
		free(c->last_status);
		c->last_status = text;
	} else {
		free(text);
	}
}

void kube_ctl_readiness_changed(ctl *c, const char *pod, const char *name, bool ready)
{
	json_t *st = json_object_get(json_object_get(c->last_pass, "pods"), pod);
	json_t *ctrs = json_object_get(st, "containers"), *v;
	bool was = json_is_true(json_object_get(st, "ready")), now;
	const char *key;

	c->pass_due = true; /* rollouts and autoscalers look at the next pass */
	if (st == NULL || json_object_get(ctrs, name) == NULL)
		return;
	json_object_set_new(ctrs, name, json_boolean(ready));
	now = json_is_true(json_object_get(c->pod_holders, pod));
	json_object_foreach(ctrs, key, v)
		now = now && json_is_true(v);
	if (now == was)
		return;
	json_object_set_new(st, "ready", json_boolean(now));
	set_available(c, pod, st);
	kube_service_sync(c->k, c->ns, c->last_pods, c->last_pass, c->services);
	write_status(c, c->last_pass);
}

/* ---- acting */

/* The pod counts as gone (not ready, not a replica) from now on; it is
 * removed at the end of the pass, once it left the services' endpoints
 * (act_pending). */
static void remove_pod(ctl *c, json_t *p, const char *why)
{
	const char *name = json_string_value(json_object_get(p, "name"));

	json_object_set_new(p, "removed", json_true());
	if (json_object_get(c->terminating, name))
		return;
	kube_ctl_log("pod %s: %s: removing", name, why);
	json_object_set_new(c->terminating, name, json_integer(0)); /* its remover's pid comes */
	json_array_append_new(c->pending, json_pack("{s:s}", "remove", name));
}

/* Removes the pod in a child of its own, so that the grace periods of
 * several pods run at once and the loop goes on meanwhile. */
static void start_remover(ctl *c, const char *name)
{
	berth_error *err = NULL;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		child_drop(c);
		if (kube_pod_remove(c->k, c->ns, name, kube_ctl_grace_of(c, name), &err) < 0)
			log_error(&err);
		_exit(0);
	}
	if (pid < 0) {
		kube_ctl_log("pod %s: fork: %s", name, strerror(errno));
		json_object_del(c->terminating, name);
		return;
	}
	json_object_set_new(c->terminating, name, json_integer(pid));
}

/* What the pass decided to stop, now that the services no longer send it
 * new connections. */
static void act_pending(ctl *c)
{
	json_t *a;
	size_t i;

	json_array_foreach(c->pending, i, a) {
		if (json_object_get(a, "kill"))
			kill_now(c, json_string_value(json_object_get(a, "kill")),
				 json_string_value(json_object_get(a, "pod")),
				 json_string_value(json_object_get(a, "name")),
				 (int)json_integer_value(json_object_get(a, "grace")));
		else
			start_remover(c, json_string_value(json_object_get(a, "remove")));
	}
	json_array_clear(c->pending);
}

/* The creation of KEY (a pod or an owner) failed: tried again after 1 s,
 * then twice as long each time up to 30 s, and shown in the status file.
 * Pods made at the same time that fail together count once. */
static void note_failure(ctl *c, const char *key, const char *msg)
{
	json_t *f = json_object_get(c->failures, key);
	long long now = kube_ctl_now_ms(), delay;

	if (f && json_integer_value(json_object_get(f, "next")) > now) {
		json_object_set_new(f, "error", json_string(msg));
		return;
	}
	delay = f ? json_integer_value(json_object_get(f, "delay")) * 2 : 1000;
	if (delay > 30000)
		delay = 30000;
	json_object_set_new(
	    c->failures, key,
	    json_pack("{s:I, s:I, s:s}", "next", (json_int_t)(now + delay), "delay", (json_int_t)delay, "error", msg));
}

/* In the child that makes a pod: the controller's state goes, and the
 * heap it held back to the kernel, so that the pod's monitors (forked
 * from this child, long-lived) do not carry a copy of it. */
static void forget_state(ctl *c)
{
	json_t **all[] = { &c->probes,	 &c->ready_since, &c->terminating, &c->failures,  &c->creating,
			   &c->services, &c->pending,	  &c->watch,	   &c->last_pods, &c->last_pass,
			   &c->hpa,	 &c->killers,	  &c->pass_objects };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		json_decref(*all[i]);
		*all[i] = NULL;
	}
	free(c->last_status);
	c->last_status = NULL;
	malloc_trim(0);
}

/* Creates a pod of a Pod object or of OWNER's template (HASH: its
 * pod-template-hash) in a child of its own, so that the missing pods of a
 * pass are made at the same time and the loop (probes, removals) goes on
 * meanwhile; reap_children sees the end. A pod being made counts as a pod
 * (a replica, not ready). The child ends with the controller (a new one
 * removes what it left half made). */
static void create_pod(ctl *c, json_t *pod, const char *owner, const char *hash)
{
	const char *name = json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
	const char *key = owner ? owner : name;
	json_t *f = json_object_get(c->failures, key);
	berth_error *err = NULL;
	pid_t parent = getpid(), pid;
	int fds[2];

	if (f && json_integer_value(json_object_get(f, "next")) > kube_ctl_now_ms()) {
		if (c->next_due == 0 || json_integer_value(json_object_get(f, "next")) < c->next_due)
			c->next_due = json_integer_value(json_object_get(f, "next"));
		return;
	}
	if (!c->pause_ready && kube_pause_image_ready(c->k, &err) < 0) {
		note_failure(c, key, err && err->msg ? err->msg : "pause image");
		log_error(&err);
		return;
	}
	c->pause_ready = true;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		kube_ctl_log("pod %s: pipe: %s", name, strerror(errno));
		return;
	}
	kube_ctl_log("pod %s: creating", name);
	pid = fork();
	if (pid == 0) {
		child_drop(c);
		close(fds[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		forget_state(c);
		if (kube_pod_create(c->k, pod, owner, &err) == 0)
			_exit(0);
		if (err && err->msg && write(fds[1], err->msg, strnlen(err->msg, 4000)) < 0)
			_exit(1);
		log_error(&err);
		_exit(1);
	}
	close(fds[1]);
	if (pid < 0) {
		kube_ctl_log("pod %s: fork: %s", name, strerror(errno));
		close(fds[0]);
		return;
	}
	json_object_set_new(c->creating, name,
			    json_pack("{s:i, s:i, s:s, s:s?, s:s?}", "pid", (int)pid, "fd", fds[0], "key", key, "owner",
				      owner, "hash", hash));
}

/* The child making pod NAME ended with STATUS. */
static void created(ctl *c, const char *name, json_t *job, int status)
{
	const char *key = json_string_value(json_object_get(job, "key"));
	int fd = (int)json_integer_value(json_object_get(job, "fd"));
	char msg[4001];
	ssize_t n;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		json_object_del(c->failures, key);
	} else {
		n = read(fd, msg, sizeof(msg) - 1);
		msg[n > 0 ? n : 0] = '\0';
		note_failure(c, key, msg[0] ? msg : "failed");
	}
	close(fd);
	json_object_del(c->creating, name);
}

/* A pod that cannot serve: its holder ended, a container is missing (a
 * controller was killed while it made the pod), or one ended for good. */
static bool pod_dead(ctl *c, json_t *p)
{
	_cleanup_json_ json_t *pod = NULL;

	const char *policy;
	json_t *ctr;
	size_t i;

	if (!holder_running(p))
		return true;
	pod = pod_object(c, json_string_value(json_object_get(p, "name")));
	if (pod == NULL || json_array_size(json_object_get(json_object_get(pod, "spec"), "containers")) !=
			       json_array_size(json_object_get(p, "containers")))
		return true;
	/* a container whose monitor ended, so nothing starts it again
	 * (stopped by hand, out of on-failure retries), when the pod wants it
	 * running */
	policy = json_string_value(json_object_get(json_object_get(pod, "spec"), "restartPolicy")) ?: "Always";
	json_array_foreach(json_object_get(p, "containers"), i, ctr) {
		bool exited = strcmp(json_string_value(json_object_get(ctr, "status")) ?: "", "exited") == 0 &&
			      !json_is_true(json_object_get(ctr, "monitor"));
		bool failed = json_integer_value(json_object_get(ctr, "exitCode")) != 0;
		if (exited && (strcmp(policy, "Always") == 0 || (strcmp(policy, "OnFailure") == 0 && failed)))
			return true;
	}
	return false;
}

static json_t *find_by_name(json_t *list, const char *name, bool meta)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e) {
		json_t *holder = meta ? json_object_get(e, "metadata") : e;
		if (!json_is_true(json_object_get(e, "removed")) &&
		    strcmp(json_string_value(json_object_get(holder, "name")) ?: "", name) == 0)
			return e;
	}
	return NULL;
}

/* `kube delete pod` of a Deployment's pod (pod_delete.h): removed like any
 * other, so its deployment makes a replacement in this pass. */
static void delete_requested(ctl *c, json_t *pods)
{
	json_t *names = kube_pod_delete_requests(c->k, c->ns), *n, *p;
	size_t i;

	json_array_foreach(names, i, n) {
		if ((p = find_by_name(pods, json_string_value(n), false)) != NULL)
			remove_pod(c, p, "deleted");
		kube_pod_delete_request_done(c->k, c->ns, json_string_value(n));
	}
	json_decref(names);
}

static void reconcile_bare_pods(ctl *c, json_t *objects, json_t *pods)
{
	json_t *p, *o;
	size_t i;

	json_array_foreach(pods, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *obj;
		char hash[11];
		if ((json_object_get(p, "owner") && !json_is_null(json_object_get(p, "owner"))) ||
		    json_is_true(json_object_get(p, "creating")))
			continue;
		obj = find_by_name(objects, name, true);
		if (obj == NULL) {
			remove_pod(c, p, "deleted");
			continue;
		}
		kube_pod_spec_hash(obj, hash);
		if (strcmp(json_string_value(json_object_get(p, "specHash")) ?: "", hash) != 0)
			remove_pod(c, p, "changed");
		else if (pod_dead(c, p))
			remove_pod(c, p, "it cannot run (its holder or a container ended)");
	}
	json_array_foreach(objects, i, o) {
		const char *name = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
		if (find_by_name(pods, name, false) == NULL && !json_object_get(c->terminating, name))
			create_pod(c, o, NULL, NULL);
	}
}

/* An intOrString of a rolling update against REPLICAS ("25%" rounded up
 * for maxSurge, down for maxUnavailable). */
static int scaled(json_t *v, const char *dflt, int replicas, bool round_up)
{
	const char *text = json_is_string(v) ? json_string_value(v) : dflt;
	int pct;

	if (json_is_integer(v))
		return (int)json_integer_value(v);
	pct = atoi(text);
	return round_up ? (pct * replicas + 99) / 100 : pct * replicas / 100;
}

static void random_suffix(char out[6])
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char r[5];

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		for (int i = 0; i < 5; i++)
			r[i] = (unsigned char)rand();
	for (int i = 0; i < 5; i++)
		out[i] = alphabet[r[i] % (sizeof(alphabet) - 1)];
	out[5] = '\0';
}

static void create_replica(ctl *c, json_t *d, const char *hash, const char *owner)
{
	json_t *meta = json_object_get(d, "metadata"),
	       *template = json_object_get(json_object_get(d, "spec"), "template");
	json_t *pod, *pmeta, *labels;
	char suffix[6], name[320];

	random_suffix(suffix);
	snprintf(name, sizeof(name), "%s-%s-%s", json_string_value(json_object_get(meta, "name")), hash, suffix);
	json_t *tmeta = json_object_get(template, "metadata");

	/* a copy: the pod's metadata gets its name and labels, not the template */
	pod = json_pack("{s:s, s:s, s:o, s:O}", "apiVersion", "v1", "kind", "Pod", "metadata",
			tmeta ? json_deep_copy(tmeta) : json_object(), "spec", json_object_get(template, "spec"));
	pmeta = json_object_get(pod, "metadata");
	json_object_set_new(pmeta, "name", json_string(name));
	json_object_set(pmeta, "namespace", json_object_get(meta, "namespace"));
	labels = json_object_get(pmeta, "labels");
	if (labels == NULL)
		json_object_set_new(pmeta, "labels", labels = json_object());
	json_object_set_new(labels, KUBE_TEMPLATE_HASH_LABEL, json_string(hash));
	create_pod(c, pod, owner, hash);
	json_decref(pod);
}

static bool pod_flag(json_t *status, json_t *p, const char *flag)
{
	return json_is_true(json_object_get(
	    json_object_get(json_object_get(status, "pods"), json_string_value(json_object_get(p, "name"))), flag));
}

/* Removes up to N pods of LIST, the ones not available first. */
static int scale_down(ctl *c, json_t *list, json_t *status, int n, bool only_unavailable)
{
	int removed = 0;
	json_t *p;
	size_t i;

	for (int pass = 0; pass < 2 && removed < n; pass++) {
		if (pass == 1 && only_unavailable)
			break;
		for (i = json_array_size(list); i-- > 0 && removed < n;) {
			p = json_array_get(list, i);
			if (json_is_true(json_object_get(p, "removed")) ||
			    json_is_true(json_object_get(p, "creating")) ||
			    pod_flag(status, p, "available") != (pass == 1))
				continue;
			remove_pod(c, p, "scaled down");
			removed++;
		}
	}
	return removed;
}

static int count_flag(json_t *list, json_t *status, const char *flag)
{
	json_t *p;
	size_t i;
	int n = 0;

	json_array_foreach(list, i, p)
		n += !json_is_true(json_object_get(p, "removed")) && pod_flag(status, p, flag);
	return n;
}

static void reconcile_deployment(ctl *c, json_t *d, json_t *pods, json_t *status)
{
	json_t *spec = json_object_get(d, "spec"), *strategy = json_object_get(spec, "strategy");
	json_t *rolling = json_object_get(strategy, "rollingUpdate"), *p;
	const char *name = json_string_value(json_object_get(json_object_get(d, "metadata"), "name"));
	int replicas =
	    json_object_get(spec, "replicas") ? (int)json_integer_value(json_object_get(spec, "replicas")) : 1;
	bool recreate = strcmp(json_string_value(json_object_get(strategy, "type")) ?: "", "Recreate") == 0;
	json_t *fresh = json_array(), *old = json_array();
	char owner[300], hash[11];
	int n_new, n_old;
	size_t i;

	snprintf(owner, sizeof(owner), "Deployment/%s", name);
	kube_template_hash(json_object_get(spec, "template"), hash);
	json_array_foreach(pods, i, p) {
		const char *phash;
		_cleanup_json_ json_t *pod = NULL;
		if (strcmp(json_string_value(json_object_get(p, "owner")) ?: "", owner) != 0 ||
		    json_is_true(json_object_get(p, "removed")))
			continue;
		if (json_is_true(json_object_get(p, "creating"))) {
			phash = json_string_value(json_object_get(p, "hash"));
		} else if (pod_dead(c, p)) {
			remove_pod(c, p, "it cannot run (its holder or a container ended)");
			continue;
		} else {
			pod = pod_object(c, json_string_value(json_object_get(p, "name")));
			phash = json_string_value(json_object_get(
			    json_object_get(json_object_get(pod, "metadata"), "labels"), KUBE_TEMPLATE_HASH_LABEL));
		}
		json_array_append(phash && strcmp(phash, hash) == 0 ? fresh : old, p);
	}
	n_new = (int)json_array_size(fresh);
	n_old = (int)json_array_size(old);
	if (json_is_true(json_object_get(spec, "paused"))) {
		/* paused: dead pods go, nothing else changes until resumed */
	} else if (n_old > 0 && recreate) {
		scale_down(c, old, status, n_old, false);
	} else if (n_old == 0) {
		for (; n_new < replicas; n_new++)
			create_replica(c, d, hash, owner);
		if (n_new > replicas)
			scale_down(c, fresh, status, n_new - replicas, false);
	} else {
		int surge = scaled(json_object_get(rolling, "maxSurge"), "25%", replicas, true);
		int unavailable = scaled(json_object_get(rolling, "maxUnavailable"), "25%", replicas, false);
		int available, removable;
		if (surge == 0 && unavailable == 0)
			unavailable = 1;
		/* old pods that serve nothing can go at once */
		n_old -= scale_down(c, old, status, n_old, true);
		for (int room = replicas + surge - (n_new + n_old); room > 0 && n_new < replicas; room--, n_new++)
			create_replica(c, d, hash, owner);
		available = count_flag(fresh, status, "available") + count_flag(old, status, "available");
		removable = available - (replicas - unavailable);
		if (removable > 0)
			scale_down(c, old, status, removable, false);
	}
	json_decref(fresh);
	json_decref(old);
}

/* One pass; returns whether the namespace still has work. */
static bool reconcile(ctl *c)
{
	const char *store_root = c->k->paths->store_root;
	json_t *objects = NULL, *deployments = NULL, *pods = NULL, *status = NULL, *p, *d;
	berth_error *err = NULL;
	bool busy = true;
	size_t i;

	c->pass_objects = json_object();
	if (kube_state_list(store_root, "Pod", c->ns, &objects, &err) < 0 ||
	    kube_state_list(store_root, "Deployment", c->ns, &deployments, &err) < 0 ||
	    kube_pod_list_objects(c->k, c->ns, c->pass_objects, &pods, &err) < 0) {
		log_error(&err);
		goto out;
	}
	json_array_foreach(pods, i, p)
		if (json_object_get(c->terminating, json_string_value(json_object_get(p, "name"))))
			json_object_set_new(p, "removed", json_true());
	{
		/* the pods being made, whether their records show yet or not */
		const char *name;
		json_t *job;
		json_object_foreach(c->creating, name, job) {
			p = find_by_name(pods, name, false);
			if (p == NULL) {
				p = json_pack("{s:s, s:s, s:O, s:n, s:[]}", "name", name, "namespace", c->ns, "owner",
					      json_object_get(job, "owner") ?: json_null(), "holder", "containers");
				json_array_append_new(pods, p);
			}
			json_object_set_new(p, "creating", json_true());
			json_object_set(p, "hash", json_object_get(job, "hash") ?: json_null());
		}
	}
	{
		/* the backoff of objects deleted meanwhile goes */
		const char *key;
		json_t *f;
		void *tmp;
		json_object_foreach_safe(c->failures, tmp, key, f)
		{
			if (strncmp(key, "Deployment/", 11) == 0 ? find_by_name(deployments, key + 11, true) == NULL
								 : find_by_name(objects, key, true) == NULL)
				json_object_del(c->failures, key);
		}
	}
	status = observe(c, pods, deployments);
	/* a pod turning ready gets traffic now, not after this pass made pods */
	kube_service_sync(c->k, c->ns, pods, status, c->services);
	delete_requested(c, pods);
	reconcile_bare_pods(c, objects, pods);
	json_array_foreach(deployments, i, d)
		reconcile_deployment(c, d, pods, status);
	kube_hpa_sync(c->k, c->ns, c->hpa, pods, deployments, status, kube_ctl_log);
	json_array_foreach(pods, i, p) {
		const char *owner = json_string_value(json_object_get(p, "owner"));
		if (owner && !json_is_true(json_object_get(p, "removed")) &&
		    !json_is_true(json_object_get(p, "creating")) && strncmp(owner, "Deployment/", 11) == 0 &&
		    find_by_name(deployments, owner + 11, true) == NULL)
			remove_pod(c, p, "its deployment was deleted");
	}
	if (json_array_size(c->pending) > 0) {
		kube_service_sync(c->k, c->ns, pods, status, c->services);
		act_pending(c);
	}
	write_status(c, status);
	busy = json_array_size(objects) > 0 || json_array_size(deployments) > 0 || json_array_size(pods) > 0;
out:
	json_decref(c->last_pods);
	json_decref(c->last_pass);
	c->last_pods = pods;
	c->last_pass = status;
	json_decref(objects);
	json_decref(deployments);
	json_decref(c->pass_objects);
	c->pass_objects = NULL;
	return busy;
}

static bool namespace_has_objects(ctl *c)
{
	const char *kinds[] = { "Pod", "Deployment" };
	berth_error *err = NULL;

	for (size_t i = 0; i < 2; i++) {
		json_t *list = NULL;
		bool any;
		if (kube_state_list(c->k->paths->store_root, kinds[i], c->ns, &list, &err) < 0) {
			log_error(&err);
			return true;
		}
		any = json_array_size(list) > 0;
		json_decref(list);
		if (any)
			return true;
	}
	return false;
}

/* Whether child PID ended (reaped now; *STATUS its status). Each child is
 * reaped by pid: the probes' children are their runs' to reap. */
static bool reaped(json_int_t pid, int *status)
{
	return pid > 0 && waitpid((pid_t)pid, status, WNOHANG) == (pid_t)pid;
}

static void reap_children(ctl *c)
{
	const char *name;
	json_t *v;
	void *tmp;
	int status;

	json_object_foreach_safe(c->terminating, tmp, name, v)
	{
		if (reaped(json_integer_value(v), &status))
			json_object_del(c->terminating, name);
	}
	json_object_foreach_safe(c->creating, tmp, name, v)
	{
		if (reaped(json_integer_value(json_object_get(v, "pid")), &status)) {
			created(c, name, v, status);
			c->pass_due = true; /* its probes, the next step of a rollout */
		}
	}
	json_object_foreach_safe(c->killers, tmp, name, v)
	{
		if (reaped(atoi(name), &status))
			json_object_del(c->killers, name);
	}
}

/* At most this many processes watched by pidfd; the others are seen at the
 * next pass. */
#define MAX_WATCHED 256

static void watched_close(ctl *c)
{
	for (size_t i = 0; i < c->n_watched; i++)
		if (c->watched[i].fd >= 0)
			close(c->watched[i].fd);
	free(c->watched);
	c->watched = NULL;
	c->n_watched = 0;
}

static void watched_add(ctl *c, pid_t pid, const char *pod)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	/* gone since the pass looked: poll skips fd -1, and it counts as ended */
	if (fd >= 0 || errno == ESRCH)
		c->watched[c->n_watched++] = (ctl_watched){ .fd = fd, .pod = pod };
}

/* The pidfds of what the last pass watched and of the pods being made,
 * kept open until the next pass (the loop wakes far more often than it
 * passes: for every step of the probes). The children being made first. */
static void watched_make(ctl *c)
{
	const char *key;
	json_t *v;

	watched_close(c);
	c->watched_stale = false;
	c->watched = calloc(MAX_WATCHED, sizeof(*c->watched));
	if (c->watched == NULL)
		return;
	json_object_foreach(c->creating, key, v) {
		if (c->n_watched == MAX_WATCHED / 2)
			break;
		watched_add(c, (pid_t)json_integer_value(json_object_get(v, "pid")), NULL);
	}
	json_object_foreach(c->watch, key, v) {
		if (c->n_watched == MAX_WATCHED)
			break; /* the others wake it at the next pass */
		watched_add(c, (pid_t)atoi(key), json_string_value(v));
	}
}

/* Sleeps until UNTIL (ms) at the latest. A watched process that ends wakes
 * it at once, and its pod leaves the services' endpoints before anything
 * else is done (new connections to it would be refused until then); a pod
 * made wakes it for a pass; a probe's run that can go on wakes it for its
 * step. */
static void sleep_watching(ctl *c, long long until)
{
	struct pollfd fds[MAX_WATCHED + 256];
	bool died = false, made = false, ended = false;
	long long wait = until - kube_ctl_now_ms();
	nfds_t n;

	if (c->watched_stale)
		watched_make(c);
	for (n = 0; n < c->n_watched; n++) {
		fds[n] = (struct pollfd){ .fd = c->watched[n].fd, .events = POLLIN };
		ended = ended || c->watched[n].fd < 0;
	}
	n += kube_ctl_probes_pollfds(c, fds + n, 256);
	if (wait < 0 || ended)
		wait = 0;
	if (poll(fds, n, (int)wait) < 0 && errno != EINTR && wait > 0)
		usleep((useconds_t)wait * 1000);
	for (size_t i = 0; i < c->n_watched; i++) {
		const char *pod = c->watched[i].pod;
		if (c->watched[i].fd >= 0 && fds[i].revents == 0)
			continue;
		if (pod == NULL)
			made = true;
		else if (c->last_pass) {
			json_t *st = json_object_get(json_object_get(c->last_pass, "pods"), pod);
			if (st)
				json_object_set_new(st, "ready", json_false());
			died = true;
		}
	}
	if (died)
		kube_service_sync(c->k, c->ns, c->last_pods, c->last_pass, c->services);
	/* the pass looks again (and makes the pidfds anew) */
	if (died || made)
		c->pass_due = true;
	kube_ctl_probes_step(c);
}

static void controller_exit(ctl *c, int code)
{
	kube_ctl_probes_drop(c, true);
	_exit(code);
}

/* Whether a pass is due: its 250 ms are up, a deadline of the last pass
 * came, or something asked for one (a pod made, a readiness changed) and
 * the pass before ended at least its own length ago: the passes of a large
 * namespace, which cost what its pods have, take at most half the loop's
 * time, and the probes get the rest. */
static bool pass_is_due(ctl *c, long long next_pass, long long earliest)
{
	long long now = kube_ctl_now_ms();

	return now >= next_pass || (c->next_due > 0 && now >= c->next_due) || (c->pass_due && now >= earliest);
}

static void controller_main(ctl *c, int lock_fd)
{
	long long next_pass = 0, earliest = 0;

	for (;;) {
		long long until, probes, began;
		struct stat st;
		reap_children(c);
		if (pass_is_due(c, next_pass, earliest)) {
			began = kube_ctl_now_ms();
			/* its store was removed (rm -rf of a test's or a benchmark's
			 * directory): nothing is left to reconcile, ever */
			if (stat(c->k->paths->store_root, &st) < 0 && errno == ENOENT) {
				kube_ctl_log("store %s is gone: exiting", c->k->paths->store_root);
				controller_exit(c, 0);
			}
			c->pass_due = false;
			c->watched_stale = true;
			if (!reconcile(c) && json_object_size(c->terminating) == 0 &&
			    json_object_size(c->creating) == 0) {
				/* nothing left: give the lock back, then look once more;
				 * a command that stored an object meanwhile either found
				 * the lock free (and started a controller) or stored it
				 * before this look */
				flock(lock_fd, LOCK_UN);
				if (!namespace_has_objects(c) || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
					unlink(c->status_path);
					kube_ctl_log("namespace %s is empty: exiting", c->ns);
					controller_exit(c, 0);
				}
			}
			next_pass = kube_ctl_now_ms() + PASS_MS;
			earliest = 2 * kube_ctl_now_ms() - began;
			reap_children(c);
			/* what a pass allocated goes back to the kernel: the heap
			 * of a long-lived process would otherwise keep its
			 * high-water mark */
			malloc_trim(0);
		}
		until = next_pass;
		if (c->next_due > 0 && c->next_due < until)
			until = c->next_due;
		probes = kube_ctl_probes_start_due(c);
		if (probes > 0 && probes < until)
			until = probes;
		if (c->pass_due && earliest < until)
			until = earliest;
		if (!pass_is_due(c, next_pass, earliest))
			sleep_watching(c, until);
	}
}

static void start_child(const kube_context *k, const char *namespace, int lock_fd)
{
	_cleanup_free_ char *log = kube_controller_file(k, namespace, "log");
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int logfd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
	char pid[32];
	ctl c = { .k = k,
		  .ns = namespace,
		  .probes = json_object(),
		  .ready_since = json_object(),
		  .terminating = json_object(),
		  .failures = json_object(),
		  .creating = json_object(),
		  .killers = json_object(),
		  .watched_stale = true,
		  .pod_holders = json_object(),
		  .services = json_object(),
		  .pending = json_array(),
		  .watch = json_object(),
		  .lock_fd = lock_fd };
	struct sigaction sa = { .sa_handler = SIG_IGN };

	setsid();
	/* not the cwd of the command that started it (a directory that may
	 * go), unless the store or run root is given relative to it */
	if (k->paths->store_root[0] == '/' && k->paths->run_root[0] == '/' && chdir("/") < 0)
		kube_ctl_log("chdir /: %s", strerror(errno));
	prctl(PR_SET_NAME, "berth-kube-ctl");
	if (null >= 0) {
		dup2(null, 0);
		dup2(logfd >= 0 ? logfd : null, 1);
		dup2(logfd >= 0 ? logfd : null, 2);
	}
	/* berth's store and state locks must not stay held by the controller */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != lock_fd)
			close(fd);
	sigaction(SIGPIPE, &sa, NULL);
	/* the pods' monitors are forked from a spawner made now, while this
	 * process's heap is small: each would keep the heap of the process it
	 * is forked from (monitor_spawner.h) */
	{
		berth_error *e = NULL;
		if (monitor_spawner_start(k->paths, &e) < 0)
			log_error(&e);
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(lock_fd, 0) < 0 || pwrite(lock_fd, pid, strlen(pid), 0) < 0)
		kube_ctl_log("controller lock: %s", strerror(errno));
	c.status_path = kube_controller_file(k, namespace, "status");
	{
		/* the autoscalers go on where the controller before left them */
		_cleanup_json_ json_t *before = c.status_path ? json_load_file(c.status_path, 0, NULL) : NULL;
		json_t *hpa = json_object_get(before, "hpa");
		c.hpa = json_is_object(hpa) ? json_incref(hpa) : json_object();
	}
	kube_ctl_log("controller of namespace %s started (pid %d)", namespace, (int)getpid());
	controller_main(&c, lock_fd);
}

int kube_controller_ensure(const kube_context *k, const char *namespace, pid_t *out, berth_error **err)
{
	int fd = open_lock(k, namespace, err);
	pid_t pid;

	if (out)
		*out = 0;
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return errno == EWOULDBLOCK ? 0 : berth_error_set(err, errno, "controller lock of %s", namespace);
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(fd);
		return berth_error_set(err, errno, "fork the controller of %s", namespace);
	}
	if (pid == 0)
		start_child(k, namespace, fd);
	/* its pid is in the lock file when this returns (the child writes it
	 * too); the child holds the lock through its copy of the open file */
	{
		char text[32];
		snprintf(text, sizeof(text), "%d\n", (int)pid);
		if (ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) < 0)
			berth_debug("controller lock of %s: %s", namespace, strerror(errno));
	}
	close(fd);
	if (out)
		*out = pid;
	return 0;
}
