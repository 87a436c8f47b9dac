/* When the controller's probes run and what their results change
 * (controller_internal.h). Every probe has a schedule of its own, kept in
 * the container's state between passes: its first run initialDelaySeconds
 * after the container started (the record's StartedAt), then one every
 * periodSeconds from the start of the run before, as the kubelet's ticker
 * does. Runs are jobs in flight (probe.h) that the loop polls: many at once,
 * none blocking a pass or another run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/controller_internal.h"

/* At most this many runs in flight; a due run waits for a free place. */
#define MAX_FLIGHTS 256

static const char *const kind_key[] = { ['s'] = "nextStartup", ['l'] = "nextLive", ['r'] = "nextReady" };
static const char *const kind_probe[] = { ['s'] = "startupProbe", ['l'] = "livenessProbe", ['r'] = "readinessProbe" };

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t probe_int(json_t *probe, const char *key, json_int_t dflt)
{
	json_t *v = json_object_get(probe, key);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static json_int_t get_int(json_t *s, const char *key)
{
	return json_integer_value(json_object_get(s, key));
}

static void set_int(json_t *s, const char *key, long long v)
{
	json_object_set_new(s, key, json_integer(v));
}

static void bump(json_t *s, const char *key, int by)
{
	set_int(s, key, by ? get_int(s, key) + by : 0);
}

/* The monotonic ms of RFC3339 time STARTED (the record's StartedAt, with
 * nanoseconds); NOW when it cannot be read. */
static long long started_ms(const char *started, long long now)
{
	struct tm tm = { 0 };
	struct timespec real;
	const char *rest = started ? strptime(started, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	long long ms, ago;

	if (rest == NULL)
		return now;
	ms = (long long)timegm(&tm) * 1000;
	if (*rest == '.') {
		long long scale = 100;
		for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
			ms += (*rest - '0') * scale;
	}
	clock_gettime(CLOCK_REALTIME, &real);
	ago = (long long)real.tv_sec * 1000 + real.tv_nsec / 1000000 - ms;
	return ago > 0 ? now - ago : now;
}

/* The state of container CTR, new (counters at zero, the first runs
 * scheduled) when it (re)started. */
static json_t *probe_state(ctl *c, json_t *ctr, json_t *spec, const char *pod_name, const char *ip, const char *netns)
{
	const char *id = str(ctr, "id"), *started = str(ctr, "startedAt") ?: "";
	json_t *s = json_object_get(c->probes, id);
	long long at;

	if (s && strcmp(str(s, "started") ?: "", started) == 0)
		return s;
	s = json_pack("{s:s, s:b, s:i, s:i, s:i, s:i, s:b, s:b, s:s}", "started", started, "ready",
		      json_object_get(spec, "readinessProbe") == NULL, "rs", 0, "rf", 0, "lf", 0, "sf", 0, "startup",
		      json_object_get(spec, "startupProbe") == NULL, "seen", 1, "running", "");
	/* what its runs run against, for as long as this start of the
	 * container lasts: of its spec only the probes and the ports */
	json_object_set_new(s, "spec",
			    json_pack("{s:O*, s:O*, s:O*, s:O*}", "startupProbe", json_object_get(spec, "startupProbe"),
				      "livenessProbe", json_object_get(spec, "livenessProbe"), "readinessProbe",
				      json_object_get(spec, "readinessProbe"), "ports",
				      json_object_get(spec, "ports")));
	json_object_set_new(s, "pod", json_string(pod_name));
	json_object_set(s, "name", json_object_get(ctr, "name") ?: json_null());
	json_object_set(s, "runtime", json_object_get(ctr, "runtime") ?: json_null());
	json_object_set_new(s, "ip", ip ? json_string(ip) : json_null());
	json_object_set_new(s, "netns", netns ? json_string(netns) : json_null());
	json_object_set_new(c->probes, id, s);
	at = started_ms(started, kube_ctl_now_ms());
	for (const char *k = "slr"; *k; k++) {
		json_t *probe = json_object_get(spec, kind_probe[(int)*k]);
		if (probe)
			set_int(s, kind_key[(int)*k], at + probe_int(probe, "initialDelaySeconds", 0) * 1000);
	}
	return s;
}

/* Whether the container of state S is ready: its readiness probe passed
 * (or it has none) after its startup probe did, and it is not being
 * killed. */
static bool container_ready(json_t *s)
{
	return !json_is_true(json_object_get(s, "killing")) && json_is_true(json_object_get(s, "startup")) &&
	       json_is_true(json_object_get(s, "ready"));
}

bool kube_ctl_probes_observe(ctl *c, json_t *ctr, json_t *spec, const char *pod_name, const char *ip, const char *netns)
{
	json_t *s = probe_state(c, ctr, spec, pod_name, ip, netns);

	json_object_set_new(s, "seen", json_true());
	return container_ready(s);
}

/* ---- runs in flight */

static void flight_free(ctl_flight *f, bool kill)
{
	if (kill)
		kube_probe_job_free(f->job);
	else
		kube_probe_job_forget(f->job);
	free(f->id);
	free(f->started);
}

static void flight_remove(ctl *c, size_t i, bool kill)
{
	flight_free(&c->flights[i], kill);
	c->flights[i] = c->flights[--c->n_flights];
}

static bool running(json_t *s, char kind)
{
	return strchr(str(s, "running") ?: "", kind) != NULL;
}

static void set_running(json_t *s, char kind, bool on)
{
	char now[4] = "", *p = now;

	for (const char *k = "slr"; *k; k++)
		if (*k == kind ? on : running(s, *k))
			*p++ = *k;
	*p = '\0';
	json_object_set_new(s, "running", json_string(now));
}

static void start_one(ctl *c, const char *id, json_t *s, char kind, long long now)
{
	json_t *probe = json_object_get(json_object_get(s, "spec"), kind_probe[(int)kind]);
	kube_probe_target t = { .spec = json_object_get(s, "spec"),
				.runtime = str(s, "runtime"),
				.id = id,
				.pod_ip = str(s, "ip"),
				.netns = str(s, "netns"),
				.runtime_root = c->k->paths->runtime_root };
	ctl_flight f = { .kind = kind, .began = now };

	if (c->n_flights == c->cap_flights) {
		size_t cap = c->cap_flights ? c->cap_flights * 2 : 16;
		ctl_flight *grown = realloc(c->flights, cap * sizeof(*grown));
		if (grown == NULL)
			return;
		c->flights = grown;
		c->cap_flights = cap;
	}
	f.id = strdup(id);
	f.started = strdup(str(s, "started") ?: "");
	f.job = f.id && f.started ? kube_probe_job_start(probe, &t, now) : NULL;
	if (f.job == NULL) {
		free(f.id);
		free(f.started);
		return;
	}
	c->flights[c->n_flights++] = f;
	set_running(s, kind, true);
}

/* Whether the run of KIND may start when its time comes: there is such a
 * probe, none runs, the container is not being killed, and liveness and
 * readiness only once the startup probe passed (the startup probe until). */
static bool eligible(json_t *s, char kind)
{
	bool started_up = json_is_true(json_object_get(s, "startup"));

	if (json_object_get(json_object_get(s, "spec"), kind_probe[(int)kind]) == NULL || running(s, kind) ||
	    json_is_true(json_object_get(s, "killing")))
		return false;
	return kind == 's' ? !started_up : started_up;
}

long long kube_ctl_probes_start_due(ctl *c)
{
	long long now = kube_ctl_now_ms(), next = 0;
	const char *id;
	json_t *s;

	json_object_foreach(c->probes, id, s) {
		for (const char *k = "slr"; *k; k++) {
			long long at = get_int(s, kind_key[(int)*k]);
			if (!eligible(s, *k))
				continue;
			if (at <= now && c->n_flights < MAX_FLIGHTS) {
				start_one(c, id, s, *k, now);
				continue;
			}
			if (next == 0 || at < next)
				next = at;
		}
	}
	for (size_t i = 0; i < c->n_flights; i++) {
		long long wake = kube_probe_job_wake(c->flights[i].job);
		if (wake > 0 && (next == 0 || wake < next))
			next = wake;
	}
	/* a due run that found no free place: soon, when one frees */
	return next > 0 && next <= now ? now + 10 : next;
}

size_t kube_ctl_probes_pollfds(ctl *c, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_flights && n < max; i++) {
		kube_probe_job_pollfd(c->flights[i].job, &fds[n]);
		if (fds[n].fd >= 0)
			n++;
	}
	return n;
}

/* The container is killed at the next pass, after its pod left the
 * services' endpoints (act_pending). */
static void kill_container(ctl *c, const char *id, json_t *s, json_t *probe)
{
	json_t *g = json_object_get(probe, "terminationGracePeriodSeconds");
	const char *pod = str(s, "pod") ?: "";
	int grace = g ? (int)json_integer_value(g) : kube_ctl_grace_of(c, pod);

	json_object_set_new(s, "killing", json_true());
	json_object_set_new(s, "ready", json_false());
	json_array_append_new(c->pending, json_pack("{s:s, s:s, s:s, s:i}", "kill", id, "pod", pod, "name",
						    str(s, "name") ?: "", "grace", grace));
	c->pass_due = true;
}

/* The result OK of a run of KIND of container ID that began at BEGAN. */
static void apply_result(ctl *c, const char *id, json_t *s, char kind, bool ok, long long began)
{
	json_t *probe = json_object_get(json_object_get(s, "spec"), kind_probe[(int)kind]);
	long long now = kube_ctl_now_ms(), next = began + probe_int(probe, "periodSeconds", 10) * 1000;
	bool was_ready = container_ready(s), is_ready;

	set_int(s, kind_key[(int)kind], next > now ? next : now);
	if (json_is_true(json_object_get(s, "killing")))
		return;
	switch (kind) {
	case 's':
		if (ok) {
			/* liveness and readiness start now */
			json_object_set_new(s, "startup", json_true());
			set_int(s, "nextLive", now);
			set_int(s, "nextReady", now);
		} else {
			bump(s, "sf", 1);
			if (get_int(s, "sf") >= probe_int(probe, "failureThreshold", 3))
				kill_container(c, id, s, probe);
		}
		break;
	case 'l':
		bump(s, "lf", ok ? 0 : 1);
		if (!ok && get_int(s, "lf") >= probe_int(probe, "failureThreshold", 3))
			kill_container(c, id, s, probe);
		break;
	default:
		bump(s, ok ? "rs" : "rf", 1);
		bump(s, ok ? "rf" : "rs", 0);
		if (ok && get_int(s, "rs") >= probe_int(probe, "successThreshold", 1))
			json_object_set_new(s, "ready", json_true());
		if (!ok && get_int(s, "rf") >= probe_int(probe, "failureThreshold", 3))
			json_object_set_new(s, "ready", json_false());
	}
	is_ready = container_ready(s);
	if (is_ready != was_ready)
		kube_ctl_readiness_changed(c, str(s, "pod") ?: "", str(s, "name") ?: "", is_ready);
}

void kube_ctl_probes_step(ctl *c)
{
	long long now = kube_ctl_now_ms();

	for (size_t i = 0; i < c->n_flights;) {
		ctl_flight *f = &c->flights[i];
		int r = kube_probe_job_step(f->job, now);
		json_t *s;
		if (r == KUBE_PROBE_RUNNING) {
			i++;
			continue;
		}
		s = json_object_get(c->probes, f->id);
		/* a result for the container as it ran then, not a restart */
		if (s && strcmp(str(s, "started") ?: "", f->started) == 0) {
			set_running(s, f->kind, false);
			apply_result(c, f->id, s, f->kind, r == KUBE_PROBE_PASSED, f->began);
		}
		flight_remove(c, i, true);
	}
}

void kube_ctl_probes_forget_unseen(ctl *c)
{
	const char *key;
	json_t *v;
	void *tmp;

	for (size_t i = 0; i < c->n_flights;) {
		json_t *s = json_object_get(c->probes, c->flights[i].id);
		if (s == NULL || !json_is_true(json_object_get(s, "seen")) ||
		    strcmp(str(s, "started") ?: "", c->flights[i].started) != 0)
			flight_remove(c, i, true);
		else
			i++;
	}
	json_object_foreach_safe(c->probes, tmp, key, v)
	{
		if (!json_is_true(json_object_get(v, "seen")))
			json_object_del(c->probes, key);
	}
}

void kube_ctl_probes_drop(ctl *c, bool kill)
{
	while (c->n_flights > 0)
		flight_remove(c, c->n_flights - 1, kill);
	free(c->flights);
	c->flights = NULL;
	c->cap_flights = 0;
}
