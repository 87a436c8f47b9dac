/* Health checks, run by the container's monitor (monitor.h): no daemon.
 *
 * The record's "Healthcheck" (docker's Config.Healthcheck: Test
 * ["CMD", ARG...] | ["CMD-SHELL", CMD] | ["NONE"], Interval, Timeout,
 * StartPeriod in nanoseconds, Retries; 0 meaning the default) says what to
 * run. Every interval after the container started (measured from the end of
 * the previous probe, as docker does) the monitor runs
 *
 *   RUNTIME --root ROOT exec --pid-file DIR/health.pid ID ARG...
 *
 * with stdout and stderr on a pipe it reads without blocking, and kills the
 * probe (the process in the container, then the runtime) after the timeout.
 * Results go to state.json under the container's lock, like docker's
 * State.Health: Status "starting" until the first success, "healthy" after
 * a success, "unhealthy" after RETRIES consecutive failures (failures
 * during the start period do not count while it is "starting");
 * FailingStreak; Log: the last 5 results {Start, End, ExitCode, Output
 * (at most 4 KiB)}.
 *
 * The monitor hooks it into its poll loop: health_poll_fd() and
 * health_poll_timeout() for poll, health_read_output() when the fd is
 * readable, health_tick() after every poll, health_reaped() for the
 * children it reaps, health_container_started()/stopped() around each run. */
#ifndef BERTH_ENGINE_HEALTH_H
#define BERTH_ENGINE_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/record.h"

#define HEALTH_DEFAULT_INTERVAL_MS 30000
#define HEALTH_DEFAULT_TIMEOUT_MS  30000
#define HEALTH_DEFAULT_RETRIES	   3
#define HEALTH_LOG_ENTRIES	   5
#define HEALTH_OUTPUT_MAX	   4096

typedef struct health_monitor {
	container *c;
	const engine_paths *paths; /* for events (events.h); NULL: none */
	const char *runtime, *runtime_root;
	char **argv; /* the probe's runtime command line, NULL: no health check */
	char *pid_file;
	int64_t interval_ms, timeout_ms, start_period_ms;
	int retries;
	bool running;	    /* the container runs: probes are scheduled */
	int64_t started_ms; /* when it started (monotonic) */
	int64_t next_ms;    /* the next probe */
	pid_t probe;	    /* the runtime exec of the running probe, 0: none */
	int out_fd;
	int64_t deadline_ms;
	bool timed_out;
	char probe_start[40];
	char output[HEALTH_OUTPUT_MAX + 1];
	size_t output_len;
} health_monitor;

/* Reads C's "Healthcheck"; without one (or Test ["NONE"]) every other call
 * does nothing. C, RUNTIME and RUNTIME_ROOT are borrowed. */
void health_init(health_monitor *h, container *c, const char *runtime, const char *runtime_root);
void health_free(health_monitor *h);

/* The container (re)started: status "starting", the first probe in one
 * interval. */
void health_container_started(health_monitor *h);
/* It exited: a running probe is killed and reaped, no more are started. */
void health_container_stopped(health_monitor *h);

/* The probe's output fd to poll, or -1. */
int health_poll_fd(const health_monitor *h);
/* Milliseconds until health_tick() has something to do (-1: nothing). */
int health_poll_timeout(const health_monitor *h);
void health_read_output(health_monitor *h);
/* Starts a probe that is due, kills one past its timeout. */
void health_tick(health_monitor *h);
/* PID (reaped by the monitor with STATUS) was the probe: records its
 * result and returns true. */
bool health_reaped(health_monitor *h, pid_t pid, int status);

#endif
