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

typedef struct ctl {
	const kube_context *k;
	const char *ns;
	char *status_path;
	json_t *probes;	     /* container id -> its probes' counters */
	json_t *ready_since; /* pod name -> ms (monotonic) it became ready */
	json_t *terminating; /* pod name -> pid of the process removing it */
	json_t *failures;    /* pod or owner -> {"next", "delay", "error"}: creation backoff */
	json_t *creating;    /* pod name -> {"pid", "fd", "key", "owner", "hash"}: being made */
	bool pause_ready;    /* the pods' pause image is in the store */
	json_t *services;    /* what each service's endpoints were last set to (service_sync.c) */
	json_t *pending;     /* pods to remove, containers to kill: once the services let them go */
	json_t *watch;	     /* pid -> pod of the running containers and holders: their end wakes the loop */
	json_t *last_pods;   /* the last pass's pods and status: a pod that dies leaves */
	json_t *last_pass;   /* its services before the next pass (sleep_watching) */
	char *last_status;
	long long next_due; /* the next probe, ms */
	int lock_fd;
	json_t *hpa; /* the autoscalers' state (hpa_sync.h), kept in the status file */
} ctl;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
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
		logf_("%s", (*err)->msg);
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

static json_int_t probe_int(json_t *probe, const char *key, json_int_t dflt)
{
	json_t *v = json_object_get(probe, key);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static void schedule(ctl *c, json_t *state, const char *key, long long when)
{
	json_object_set_new(state, key, json_integer(when));
	if (c->next_due == 0 || when < c->next_due)
		c->next_due = when;
}

/* The counters of container CTR, reset when it (re)started. */
static json_t *probe_state(ctl *c, json_t *ctr, json_t *spec)
{
	const char *id = json_string_value(json_object_get(ctr, "id"));
	const char *started = json_string_value(json_object_get(ctr, "startedAt")) ?: "";
	json_t *s = json_object_get(c->probes, id);
	json_t *readiness = json_object_get(spec, "readinessProbe"), *liveness = json_object_get(spec, "livenessProbe");
	long long now = now_ms();

	if (s && strcmp(json_string_value(json_object_get(s, "started")) ?: "", started) == 0)
		return s;
	json_t *startup = json_object_get(spec, "startupProbe");

	s = json_pack("{s:s, s:b, s:i, s:i, s:i, s:i, s:b, s:b}", "started", started, "ready", readiness == NULL, "rs",
		      0, "rf", 0, "lf", 0, "sf", 0, "startup", startup == NULL, "seen", 1);
	json_object_set_new(c->probes, id, s);
	if (startup)
		schedule(c, s, "nextStartup", now + probe_int(startup, "initialDelaySeconds", 0) * 1000);
	if (readiness)
		schedule(c, s, "nextReady", now + probe_int(readiness, "initialDelaySeconds", 0) * 1000);
	if (liveness)
		schedule(c, s, "nextLive", now + probe_int(liveness, "initialDelaySeconds", 0) * 1000);
	return s;
}

static void bump(json_t *s, const char *key, int by)
{
	json_object_set_new(s, key, json_integer(by ? json_integer_value(json_object_get(s, key)) + by : 0));
}

static int grace_of(ctl *c, const char *name)
{
	_cleanup_json_ json_t *pod = kube_pod_object(c->k, c->ns, name);
	json_t *g = json_object_get(json_object_get(pod, "spec"), "terminationGracePeriodSeconds");
	return g ? (int)json_integer_value(g) : 30;
}

/* The container is killed at the end of the pass, after its pod left the
 * services' endpoints (act_pending). */
static void kill_container(ctl *c, json_t *state, json_t *ctr, const char *pod_name, json_t *probe)
{
	json_t *g = json_object_get(probe, "terminationGracePeriodSeconds");
	int grace = g ? (int)json_integer_value(g) : grace_of(c, pod_name);

	json_object_set_new(state, "killing", json_true());
	json_object_set_new(state, "ready", json_false());
	json_array_append_new(c->pending,
			      json_pack("{s:s, s:s, s:s, s:i}", "kill", json_string_value(json_object_get(ctr, "id")),
					"pod", pod_name, "name", json_string_value(json_object_get(ctr, "name")) ?: "",
					"grace", grace));
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
		close(c->lock_fd);
		if (kube_pod_container_terminate(c->k, pod, id, grace_s, &err) < 0)
			log_error(&err);
		_exit(0);
	}
	if (pid < 0)
		logf_("pod %s: fork: %s", pod_name, strerror(errno));
	else
		logf_("liveness probe of k8s_%s_%s_%s failed: ending it (grace period %d s)", ctr_name, pod_name, c->ns,
		      grace_s);
}

/* Runs the probes of CTR that are due; returns whether it is ready. */
static bool run_probes(ctl *c, json_t *ctr, json_t *spec, const char *pod_name, const char *ip, const char *netns)
{
	json_t *readiness = json_object_get(spec, "readinessProbe"), *liveness = json_object_get(spec, "livenessProbe");
	json_t *s = probe_state(c, ctr, spec);
	long long now = now_ms();

	json_t *startup = json_object_get(spec, "startupProbe");

	json_object_set_new(s, "seen", json_true());
	if (json_is_true(json_object_get(s, "killing"))) /* until it restarted */
		return false;
	/* liveness and readiness wait until the startup probe passed */
	if (startup && !json_is_true(json_object_get(s, "startup"))) {
		if (json_integer_value(json_object_get(s, "nextStartup")) > now) {
			schedule(c, s, "nextStartup", json_integer_value(json_object_get(s, "nextStartup")));
			return false;
		}
		if (!kube_probe_run(startup, spec, ctr, ip, netns, c->k->paths->runtime_root)) {
			bump(s, "sf", 1);
			if (json_integer_value(json_object_get(s, "sf")) >= probe_int(startup, "failureThreshold", 3)) {
				kill_container(c, s, ctr, pod_name, startup);
			} else {
				schedule(c, s, "nextStartup",
					 now_ms() + probe_int(startup, "periodSeconds", 10) * 1000);
			}
			return false;
		}
		json_object_set_new(s, "startup", json_true());
		json_object_set_new(s, "nextLive", json_integer(now));
		json_object_set_new(s, "nextReady", json_integer(now));
	}
	if (liveness && json_integer_value(json_object_get(s, "nextLive")) <= now) {
		bool ok = kube_probe_run(liveness, spec, ctr, ip, netns, c->k->paths->runtime_root);
		bump(s, "lf", ok ? 0 : 1);
		if (!ok && json_integer_value(json_object_get(s, "lf")) >= probe_int(liveness, "failureThreshold", 3)) {
			kill_container(c, s, ctr, pod_name, liveness);
			return false;
		}
		schedule(c, s, "nextLive", now_ms() + probe_int(liveness, "periodSeconds", 10) * 1000);
	} else if (liveness) {
		schedule(c, s, "nextLive", json_integer_value(json_object_get(s, "nextLive")));
	}
	if (readiness && json_integer_value(json_object_get(s, "nextReady")) <= now) {
		bool ok = kube_probe_run(readiness, spec, ctr, ip, netns, c->k->paths->runtime_root);
		bump(s, ok ? "rs" : "rf", 1);
		bump(s, ok ? "rf" : "rs", 0);
		if (ok && json_integer_value(json_object_get(s, "rs")) >= probe_int(readiness, "successThreshold", 1))
			json_object_set_new(s, "ready", json_true());
		if (!ok && json_integer_value(json_object_get(s, "rf")) >= probe_int(readiness, "failureThreshold", 3))
			json_object_set_new(s, "ready", json_false());
		schedule(c, s, "nextReady", now_ms() + probe_int(readiness, "periodSeconds", 10) * 1000);
	} else if (readiness) {
		schedule(c, s, "nextReady", json_integer_value(json_object_get(s, "nextReady")));
	}
	return json_is_true(json_object_get(s, "ready"));
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

/* Probes every pod; returns their readiness (the status file's "pods"). */
static json_t *observe(ctl *c, json_t *pods, json_t *deployments)
{
	json_t *status = json_pack("{s:{}}", "pods"), *p, *ctr, *v;
	const char *key;
	void *tmp;
	size_t i, j;

	c->next_due = 0;
	json_object_clear(c->watch);
	json_object_foreach(c->probes, key, v)
		json_object_set_new(v, "seen", json_false());
	json_array_foreach(pods, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *ip = json_string_value(json_object_get(p, "ip"));
		const char *netns = json_string_value(json_object_get(p, "netns"));
		_cleanup_json_ json_t *pod = kube_pod_object(c->k, c->ns, name);
		json_t *ready_map;
		bool ready;
		if (json_is_true(json_object_get(p, "removed")) || json_is_true(json_object_get(p, "creating")))
			continue;
		ready_map = json_object();
		ready =
		    holder_running(p) && json_array_size(json_object_get(p, "containers")) > 0 &&
		    process_running(c, json_integer_value(json_object_get(json_object_get(p, "holder"), "pid")), name);
		json_array_foreach(json_object_get(p, "containers"), j, ctr) {
			const char *cname = json_string_value(json_object_get(ctr, "name"));
			json_t *spec = container_spec(pod, cname);
			bool r = strcmp(json_string_value(json_object_get(ctr, "status")) ?: "", "running") == 0 &&
				 process_running(c, json_integer_value(json_object_get(ctr, "pid")), name) &&
				 spec != NULL && run_probes(c, ctr, spec, name, ip, netns);
			json_object_set_new(ready_map, cname, json_boolean(r));
			ready = ready && r;
		}
		if (!ready)
			json_object_del(c->ready_since, name);
		else if (!json_object_get(c->ready_since, name))
			json_object_set_new(c->ready_since, name, json_integer(now_ms()));
		{
			json_int_t since = json_integer_value(json_object_get(c->ready_since, name));
			json_int_t min = min_ready_seconds(deployments, json_string_value(json_object_get(p, "owner")));
			bool available = ready && now_ms() - since >= min * 1000;
			if (ready && !available && (c->next_due == 0 || since + min * 1000 < c->next_due))
				c->next_due = since + min * 1000;
			json_object_set_new(json_object_get(status, "pods"), name,
					    json_pack("{s:b, s:b, s:o}", "ready", ready, "available", available,
						      "containers", ready_map));
		}
	}
	/* forget containers and pods that are gone */
	json_object_foreach_safe(c->probes, tmp, key, v)
	{
		if (!json_is_true(json_object_get(v, "seen")))
			json_object_del(c->probes, key);
	}
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
	logf_("pod %s: %s: removing", name, why);
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
		close(c->lock_fd); /* a new controller may start meanwhile */
		if (kube_pod_remove(c->k, c->ns, name, grace_of(c, name), &err) < 0)
			log_error(&err);
		_exit(0);
	}
	if (pid < 0) {
		logf_("pod %s: fork: %s", name, strerror(errno));
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
	long long now = now_ms(), delay;

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
	json_t **all[] = { &c->probes,	&c->ready_since, &c->terminating, &c->failures,	 &c->creating, &c->services,
			   &c->pending, &c->watch,	 &c->last_pods,	  &c->last_pass, &c->hpa };

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

	if (f && json_integer_value(json_object_get(f, "next")) > now_ms()) {
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
		logf_("pod %s: pipe: %s", name, strerror(errno));
		return;
	}
	logf_("pod %s: creating", name);
	pid = fork();
	if (pid == 0) {
		close(c->lock_fd); /* a new controller may start meanwhile */
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
		logf_("pod %s: fork: %s", name, strerror(errno));
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
	pod = kube_pod_object(c->k, c->ns, json_string_value(json_object_get(p, "name")));
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
			pod = kube_pod_object(c->k, c->ns, json_string_value(json_object_get(p, "name")));
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

	if (kube_state_list(store_root, "Pod", c->ns, &objects, &err) < 0 ||
	    kube_state_list(store_root, "Deployment", c->ns, &deployments, &err) < 0 ||
	    kube_pod_list(c->k, c->ns, &pods, &err) < 0) {
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
	kube_hpa_sync(c->k, c->ns, c->hpa, pods, deployments, status, logf_);
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

static void reap_children(ctl *c)
{
	const char *name;
	json_t *v;
	void *tmp;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		json_object_foreach_safe(c->terminating, tmp, name, v)
		{
			if (json_integer_value(v) == pid)
				json_object_del(c->terminating, name);
		}
		json_object_foreach_safe(c->creating, tmp, name, v)
		{
			if (json_integer_value(json_object_get(v, "pid")) == pid)
				created(c, name, v, status);
		}
	}
}

static bool died_already(const struct pollfd *fds, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++)
		if (fds[i].fd < 0)
			return true;
	return false;
}

/* Sleeps up to WAIT_MS; a watched process that ends wakes it at once, and
 * its pod leaves the services' endpoints before anything else is done (new
 * connections to it would be refused until then). */
static void sleep_watching(ctl *c, long long wait_ms)
{
	struct pollfd fds[256];
	const char *pods[256], *key;
	bool died = false;
	nfds_t n = 0;
	json_t *v;

	json_object_foreach(c->watch, key, v) {
		int fd;
		if (n == 256)
			break; /* the others wake it at the next pass */
		fd = (int)syscall(SYS_pidfd_open, (pid_t)atoi(key), 0);
		pods[n] = json_string_value(v);
		if (fd >= 0)
			fds[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		else if (errno == ESRCH) /* gone since the pass looked (poll skips fd -1) */
			fds[n++] = (struct pollfd){ .fd = -1 };
	}
	/* a pod made wakes it too (its probes, the next step of a rollout):
	 * pods[] NULL, no pod that died */
	json_object_foreach(c->creating, key, v) {
		int fd;
		if (n == 256)
			break;
		fd = (int)syscall(SYS_pidfd_open, (pid_t)json_integer_value(json_object_get(v, "pid")), 0);
		pods[n] = NULL;
		if (fd >= 0)
			fds[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	if (n == 0 || (poll(fds, n, died_already(fds, n) ? 0 : (int)wait_ms) < 0 && errno != EINTR))
		usleep((useconds_t)wait_ms * 1000);
	for (nfds_t i = 0; i < n; i++) {
		if ((fds[i].fd < 0 || fds[i].revents) && c->last_pass && pods[i]) {
			json_t *st = json_object_get(json_object_get(c->last_pass, "pods"), pods[i]);
			if (st)
				json_object_set_new(st, "ready", json_false());
			died = true;
		}
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	}
	if (died)
		kube_service_sync(c->k, c->ns, c->last_pods, c->last_pass, c->services);
}

static void controller_main(ctl *c, int lock_fd)
{
	for (;;) {
		long long wait;
		struct stat st;
		reap_children(c);
		/* its store was removed (rm -rf of a test's or a benchmark's
		 * directory): nothing is left to reconcile, ever */
		if (stat(c->k->paths->store_root, &st) < 0 && errno == ENOENT) {
			logf_("store %s is gone: exiting", c->k->paths->store_root);
			_exit(0);
		}
		if (!reconcile(c) && json_object_size(c->terminating) == 0 && json_object_size(c->creating) == 0) {
			/* nothing left: give the lock back, then look once more;
			 * a command that stored an object meanwhile either found
			 * the lock free (and started a controller) or stored it
			 * before this look */
			flock(lock_fd, LOCK_UN);
			if (!namespace_has_objects(c) || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
				unlink(c->status_path);
				logf_("namespace %s is empty: exiting", c->ns);
				_exit(0);
			}
		}
		reap_children(c);
		/* what a pass allocated goes back to the kernel: the heap of a
		 * long-lived process would otherwise keep its high-water mark */
		malloc_trim(0);
		wait = PASS_MS;
		if (c->next_due > 0 && c->next_due - now_ms() < wait)
			wait = c->next_due - now_ms();
		if (wait > 0)
			sleep_watching(c, wait);
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
		  .services = json_object(),
		  .pending = json_array(),
		  .watch = json_object(),
		  .lock_fd = lock_fd };
	struct sigaction sa = { .sa_handler = SIG_IGN };

	setsid();
	/* not the cwd of the command that started it (a directory that may
	 * go), unless the store or run root is given relative to it */
	if (k->paths->store_root[0] == '/' && k->paths->run_root[0] == '/' && chdir("/") < 0)
		logf_("chdir /: %s", strerror(errno));
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
		logf_("controller lock: %s", strerror(errno));
	c.status_path = kube_controller_file(k, namespace, "status");
	{
		/* the autoscalers go on where the controller before left them */
		_cleanup_json_ json_t *before = c.status_path ? json_load_file(c.status_path, 0, NULL) : NULL;
		json_t *hpa = json_object_get(before, "hpa");
		c.hpa = json_is_object(hpa) ? json_incref(hpa) : json_object();
	}
	logf_("controller of namespace %s started (pid %d)", namespace, (int)getpid());
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
