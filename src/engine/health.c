#include "engine/health.h"
#include "engine/events.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t duration_ms(json_t *hc, const char *key, int64_t dflt)
{
	json_int_t ns = json_integer_value(json_object_get(hc, key));

	return ns > 0 ? (ns + 999999) / 1000000 : dflt;
}

static void free_argv(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* RUNTIME --root ROOT exec --pid-file FILE ID, then the probe's command. */
static char **probe_argv(const health_monitor *h, json_t *test)
{
	const char *kind = json_string_value(json_array_get(test, 0));
	const char *head[] = { h->runtime, "--root", h->runtime_root, "exec", "--pid-file", h->pid_file, h->c->id };
	size_t n = sizeof(head) / sizeof(head[0]), ntest = json_array_size(test), k = 0;
	char **argv = calloc(n + ntest + 3, sizeof(char *));
	bool ok = argv != NULL;

	for (size_t i = 0; ok && i < n; i++)
		ok = (argv[k++] = strdup(head[i])) != NULL;
	if (ok && strcmp(kind, "CMD-SHELL") == 0) {
		const char *cmd = json_string_value(json_array_get(test, 1));
		ok = cmd && (argv[k++] = strdup("/bin/sh")) && (argv[k++] = strdup("-c")) && (argv[k++] = strdup(cmd));
	} else {
		for (size_t i = 1; ok && i < ntest; i++) {
			const char *arg = json_string_value(json_array_get(test, i));
			ok = arg && (argv[k++] = strdup(arg)) != NULL;
		}
		ok = ok && ntest > 1;
	}
	if (!ok) {
		free_argv(argv);
		return NULL;
	}
	return argv;
}

void health_init(health_monitor *h, container *c, const char *runtime, const char *runtime_root)
{
	json_t *hc = json_object_get(c->config, "Healthcheck"), *test = json_object_get(hc, "Test");
	const char *kind = json_string_value(json_array_get(test, 0));
	json_int_t retries = json_integer_value(json_object_get(hc, "Retries"));

	memset(h, 0, sizeof(*h));
	h->c = c;
	h->runtime = runtime;
	h->runtime_root = runtime_root;
	h->out_fd = -1;
	if (kind == NULL || (strcmp(kind, "CMD") != 0 && strcmp(kind, "CMD-SHELL") != 0))
		return; /* none, or ["NONE"] */
	h->interval_ms = duration_ms(hc, "Interval", HEALTH_DEFAULT_INTERVAL_MS);
	h->timeout_ms = duration_ms(hc, "Timeout", HEALTH_DEFAULT_TIMEOUT_MS);
	h->start_period_ms = duration_ms(hc, "StartPeriod", 0);
	h->retries = retries > 0 ? (int)retries : HEALTH_DEFAULT_RETRIES;
	h->pid_file = record_path(c, "health.pid");
	if (h->pid_file)
		h->argv = probe_argv(h, test);
}

void health_free(health_monitor *h)
{
	free_argv(h->argv);
	free(h->pid_file);
	if (h->out_fd >= 0)
		close(h->out_fd);
	memset(h, 0, sizeof(*h));
	h->out_fd = -1;
}

/* ---- state.json ---- */

typedef struct probe_result {
	const char *start;
	int exit_code;
	const char *output;
	bool in_start_period; /* it started within the start period */
} probe_result;

static json_t *output_string(const char *text)
{
	json_t *s = json_string(text);
	_cleanup_free_ char *ascii = NULL;

	if (s)
		return s;
	/* not UTF-8 (or cut in the middle of a character): bytes >= 0x80 as '?' */
	ascii = strdup(text);
	for (char *p = ascii; p && *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return json_string(ascii ? ascii : "");
}

static void apply_result(container_state *s, const probe_result *r, int retries)
{
	char end[40];
	json_t *entry = json_pack("{s:s, s:s, s:i, s:o}", "Start", r->start, "End", engine_now_rfc3339(end), "ExitCode",
				  r->exit_code, "Output", output_string(r->output));

	if (s->health_log == NULL)
		s->health_log = json_array();
	json_array_append_new(s->health_log, entry);
	while (json_array_size(s->health_log) > HEALTH_LOG_ENTRIES)
		json_array_remove(s->health_log, 0);
	if (r->exit_code == 0) {
		free(s->health);
		s->health = strdup("healthy");
		s->health_failures = 0;
	} else if (r->in_start_period && s->health && strcmp(s->health, "starting") == 0) {
		/* docker: while "starting", failures within the start period do not count */
	} else if (++s->health_failures >= retries) {
		free(s->health);
		s->health = strdup("unhealthy");
	}
}

/* Changes the state under the container's lock: R's result, or (R NULL) a
 * fresh start. */
static void save_health(health_monitor *h, const probe_result *r)
{
	berth_error *err = NULL;
	int lock = record_lock(h->c, &err);
	container_state *s = &h->c->state;

	if (lock >= 0 && record_load_state(h->c, &err) == 0) {
		if (r) {
			_cleanup_free_ char *before = s->health ? strdup(s->health) : NULL;
			apply_result(s, r, h->retries);
			if (h->paths && s->health && (before == NULL || strcmp(before, s->health) != 0)) {
				char action[48];
				snprintf(action, sizeof(action), "health_status: %s", s->health);
				engine_event(h->paths, h->c, action, NULL, NULL);
			}
		} else {
			free(s->health);
			s->health = strdup("starting");
			s->health_failures = 0;
		}
		record_save_state(h->c, &err);
	}
	record_unlock(lock);
	berth_error_free(&err);
}

/* ---- the probe ---- */

static void start_probe(health_monitor *h)
{
	int pipefd[2];
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		goto failed;
	unlink(h->pid_file);
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		goto failed;
	}
	if (pid == 0) {
		sigset_t none;
		int null = open("/dev/null", O_RDONLY);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL); /* the monitor ignores it; exec keeps that */
		if (null < 0 || dup2(null, 0) < 0 || dup2(pipefd[1], 1) < 0 || dup2(pipefd[1], 2) < 0)
			_exit(127);
		execvp(h->argv[0], h->argv);
		fprintf(stderr, "exec %s: %s\n", h->argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	h->out_fd = pipefd[0];
	h->probe = pid;
	h->timed_out = false;
	h->output_len = 0;
	h->output[0] = '\0';
	h->deadline_ms = now_ms() + h->timeout_ms;
	engine_now_rfc3339(h->probe_start);
	return;
failed:
	engine_now_rfc3339(h->probe_start);
	save_health(h, &(probe_result){ h->probe_start, -1, "cannot start the health check", false });
	h->next_ms = now_ms() + h->interval_ms;
}

/* The probe's process in the container (from the runtime's pid file). */
static pid_t probe_process(const health_monitor *h)
{
	char buf[32] = "";
	int fd = open(h->pid_file, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? (pid_t)strtol(buf, NULL, 10) : 0;
}

static void kill_probe(health_monitor *h)
{
	pid_t inside = probe_process(h);

	if (inside > 0)
		kill(inside, SIGKILL);
	kill(h->probe, SIGKILL);
}

void health_read_output(health_monitor *h)
{
	char buf[4096];
	ssize_t n;

	while (h->out_fd >= 0) {
		n = read(h->out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(h->out_fd);
			h->out_fd = -1;
			return;
		}
		if (h->output_len < HEALTH_OUTPUT_MAX) {
			size_t take = (size_t)n < HEALTH_OUTPUT_MAX - h->output_len ? (size_t)n
										    : HEALTH_OUTPUT_MAX - h->output_len;
			memcpy(h->output + h->output_len, buf, take);
			h->output_len += take;
			h->output[h->output_len] = '\0';
		}
	}
}

bool health_reaped(health_monitor *h, pid_t pid, int status)
{
	probe_result r = { h->probe_start, 0, h->output, false };
	char timeout_text[96];

	if (h->probe <= 0 || pid != h->probe)
		return false;
	health_read_output(h); /* what it wrote before it exited */
	if (h->out_fd >= 0) {
		close(h->out_fd); /* a background process may hold it open */
		h->out_fd = -1;
	}
	h->probe = 0;
	unlink(h->pid_file);
	if (!h->running)
		return true;
	if (h->timed_out) {
		if (h->timeout_ms % 1000 == 0)
			snprintf(timeout_text, sizeof(timeout_text), "Health check exceeded timeout (%llds)",
				 (long long)(h->timeout_ms / 1000));
		else
			snprintf(timeout_text, sizeof(timeout_text), "Health check exceeded timeout (%lldms)",
				 (long long)h->timeout_ms);
		r.exit_code = -1;
		r.output = timeout_text;
	} else {
		r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	r.in_start_period = h->deadline_ms - h->timeout_ms - h->started_ms < h->start_period_ms;
	save_health(h, &r);
	h->next_ms = now_ms() + h->interval_ms;
	return true;
}

/* `berth pause` records "paused" in state.json (another process); read
 * just that field, leaving the monitor's copy of the state alone. */
static bool container_paused(health_monitor *h)
{
	_cleanup_free_ char *path = record_path(h->c, "state.json");
	json_t *j = path ? json_load_file(path, 0, NULL) : NULL;
	const char *status = json_string_value(json_object_get(j, "Status"));
	bool paused = status && strcmp(status, "paused") == 0;

	json_decref(j);
	return paused;
}

void health_tick(health_monitor *h)
{
	int64_t now;

	if (h->argv == NULL)
		return;
	now = now_ms();
	if (h->probe > 0 && !h->timed_out && now >= h->deadline_ms) {
		kill_probe(h); /* reaped by the monitor: health_reaped */
		h->timed_out = true;
	} else if (h->probe == 0 && h->running && now >= h->next_ms) {
		if (container_paused(h)) {
			h->next_ms = now + h->interval_ms; /* docker does not probe a paused container */
			return;
		}
		start_probe(h);
	}
}

int health_poll_fd(const health_monitor *h)
{
	return h->probe > 0 ? h->out_fd : -1;
}

int health_poll_timeout(const health_monitor *h)
{
	int64_t until;

	if (h->argv == NULL)
		return -1;
	if (h->probe > 0)
		until = h->timed_out ? -1 : h->deadline_ms;
	else
		until = h->running ? h->next_ms : -1;
	if (until < 0)
		return -1;
	until -= now_ms();
	return until < 0 ? 0 : until > 60000 ? 60000 : (int)until;
}

void health_container_started(health_monitor *h)
{
	if (h->argv == NULL)
		return;
	h->running = true;
	h->started_ms = now_ms();
	h->next_ms = h->started_ms + h->interval_ms;
	save_health(h, NULL);
}

void health_container_stopped(health_monitor *h)
{
	h->running = false;
	if (h->probe <= 0)
		return;
	kill_probe(h);
	while (waitpid(h->probe, NULL, 0) < 0 && errno == EINTR)
		;
	if (h->out_fd >= 0) {
		close(h->out_fd);
		h->out_fd = -1;
	}
	h->probe = 0;
	unlink(h->pid_file);
}
