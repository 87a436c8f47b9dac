/* The controller's state, shared by controller.c (the loop, the passes,
 * acting) and controller_probes.c (when probes run, their runs in flight,
 * what their results change). Internal to src/kube. */
#ifndef BERTH_KUBE_CONTROLLER_INTERNAL_H
#define BERTH_KUBE_CONTROLLER_INTERNAL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "kube/pod.h"
#include "kube/probe.h"

/* One probe run in flight: of container ID, its KIND ('s'tartup,
 * 'l'iveness, 'r'eadiness), for the start of the container STARTED. */
typedef struct ctl_flight {
	char *id, *started;
	char kind;
	long long began;
	kube_probe_job *job;
} ctl_flight;

/* A process whose end wakes the loop: a container or a holder (POD: its
 * pod), or a child making a pod (POD NULL). */
typedef struct ctl_watched {
	int fd; /* its pidfd; -1: it had ended already */
	const char *pod;
} ctl_watched;

typedef struct ctl {
	const kube_context *k;
	const char *ns;
	char *status_path;
	json_t *probes;	      /* container id -> its probes' counters and schedule */
	json_t *ready_since;  /* pod name -> ms (monotonic) it became ready */
	json_t *terminating;  /* pod name -> pid of the process removing it */
	json_t *failures;     /* pod or owner -> {"next", "delay", "error"}: creation backoff */
	json_t *creating;     /* pod name -> {"pid", "fd", "key", "owner", "hash"}: being made */
	json_t *killers;      /* pid -> pod: the children ending a container (liveness) */
	bool pause_ready;     /* the pods' pause image is in the store */
	json_t *services;     /* what each service's endpoints were last set to (service_sync.c) */
	json_t *pending;      /* pods to remove, containers to kill: once the services let them go */
	json_t *watch;	      /* pid -> pod of the running containers and holders: their end wakes the loop */
	json_t *last_pods;    /* the last pass's pods and status: a pod that dies leaves */
	json_t *last_pass;    /* its services before the next pass (sleep_watching) */
	json_t *pass_objects; /* pod name -> its object, during a pass */
	json_t *pod_holders;  /* pod name -> whether its holder ran at the last pass */
	char *last_status;
	long long next_due; /* a pass is due then (availability, creation backoff), ms; 0: none */
	bool pass_due;	    /* a pass is due now (a probe's result changed readiness) */
	ctl_flight *flights;
	size_t n_flights, cap_flights;
	ctl_watched *watched; /* the pidfds of watch and creating, made after a pass */
	size_t n_watched;
	bool watched_stale;
	int lock_fd;
	json_t *hpa; /* the autoscalers' state (hpa_sync.h), kept in the status file */
} ctl;

long long kube_ctl_now_ms(void);
void kube_ctl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The terminationGracePeriodSeconds of pod NAME (30 without one). */
int kube_ctl_grace_of(ctl *c, const char *name);

/* A probe's result made container NAME of POD READY or not: the pod's
 * readiness in the status file and the services' endpoints follow now, not
 * at the next pass (which is asked for: rollouts and autoscalers). */
void kube_ctl_readiness_changed(ctl *c, const char *pod, const char *name, bool ready);

/* In a pass: the probes of container CTR (as kube_pod_list shows it) of pod
 * POD_NAME, SPEC its spec: their state made on first sight (the first run
 * initialDelaySeconds after the container started), what they run against
 * noted, the runs that are due started. Returns whether it is ready. */
bool kube_ctl_probes_observe(ctl *c, json_t *ctr, json_t *spec, const char *pod_name, const char *ip,
			     const char *netns);
/* After a pass: the state of containers it did not see goes, and their
 * runs in flight with it. */
void kube_ctl_probes_forget_unseen(ctl *c);
/* Starts the runs that are due; returns when the next one is due or a run
 * in flight wants a step (ms), 0 for none. */
long long kube_ctl_probes_start_due(ctl *c);
/* The descriptors of the runs in flight, into FDS (up to MAX); returns how
 * many were written. */
size_t kube_ctl_probes_pollfds(ctl *c, struct pollfd *fds, size_t max);
/* Steps every run in flight; what ended is applied (counters, readiness,
 * the next run; a failed liveness or startup probe has its container
 * killed at the next pass). Sets c->pass_due when readiness changed. */
void kube_ctl_probes_step(ctl *c);
/* Ends every run in flight (kill: their children killed; else, in a child
 * of the controller, only their descriptors closed). */
void kube_ctl_probes_drop(ctl *c, bool kill);

#endif
