/* berth run / create / start: a container from an image, supervised by its
 * monitor (engine/monitor.h). Foreground `run` waits for the container and
 * exits with its code; -d prints the id once it started. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/container.h"
#include "engine/monitor.h"
#include "kube/pod_standalone.h"
#include "util/cleanup.h"

enum {
	O_DETACH,
	O_INTERACTIVE,
	O_TTY,
	O_RM,
	O_NAME,
	O_ENV,
	O_ENV_FILE,
	O_WORKDIR,
	O_USER,
	O_ENTRYPOINT,
	O_HOSTNAME,
	O_VOLUME,
	O_MOUNT,
	O_TMPFS,
	O_READ_ONLY,
	O_CAP_ADD,
	O_CAP_DROP,
	O_SECURITY_OPT,
	O_PRIVILEGED,
	O_MEMORY,
	O_CPUS,
	O_PIDS_LIMIT,
	O_ULIMIT,
	O_NETWORK,
	O_RUNTIME,
	O_RESTART,
	O_CGROUP_PARENT,
	O_LOG_OPT,
	O_STOP_SIGNAL,
	O_STOP_TIMEOUT,
	O_HEALTH_CMD,
	O_HEALTH_INTERVAL,
	O_HEALTH_TIMEOUT,
	O_HEALTH_RETRIES,
	O_HEALTH_START,
	O_NO_HEALTHCHECK,
	O_INIT,
	O_LABEL,
	O_PUBLISH,
	O_PUBLISH_ALL,
	O_IP,
	O_DNS,
	O_ADD_HOST,
	O_NETWORK_ALIAS,
	O_POD,
	O_IPC,
	O_PID,
	O_TRUST,
	O_COUNT = O_TRUST + BERTH_TRUST_FLAG_COUNT
};

static const option_spec run_specs[] = {
	{ "detach", 'd', false, "run in the background and print the container id" },
	{ "interactive", 'i', false, "keep stdin open" },
	{ "tty", 't', false, "allocate a pseudo-terminal" },
	{ "rm", 0, false, "remove the container when it exits" },
	{ "name", 0, true, "the container's name" },
	{ "env", 'e', true, "KEY=VALUE (or KEY: the caller's value); repeatable" },
	{ "env-file", 0, true, "read KEY=VALUE lines from a file" },
	{ "workdir", 'w', true, "working directory in the container" },
	{ "user", 'u', true, "USER[:GROUP] (names from the image's /etc/passwd)" },
	{ "entrypoint", 0, true, "override the image's entrypoint (\"\" clears it)" },
	{ "hostname", 0, true, "the container's hostname" },
	{ "volume", 'v', true, "SRC:DST[:ro|rw] (absolute host path), NAME:DST[:ro|rw] (a volume) or DST (anonymous)" },
	{ "mount", 0, true, "type=volume|bind,src=SOURCE,dst=DEST[,readonly]" },
	{ "tmpfs", 0, true, "mount a tmpfs on DST[:OPTIONS]" },
	{ "read-only", 0, false, "read-only root filesystem" },
	{ "cap-add", 0, true, "add a capability (or ALL)" },
	{ "cap-drop", 0, true, "drop a capability (or ALL)" },
	{ "security-opt", 0, true, "seccomp=FILE|unconfined, no-new-privileges[=true|false]" },
	{ "privileged", 0, false, "every capability, no seccomp, no masked paths, all devices" },
	{ "memory", 'm', true, "memory limit (512m, 1g)" },
	{ "cpus", 0, true, "CPU limit (1.5)" },
	{ "pids-limit", 0, true, "maximum number of processes" },
	{ "ulimit", 0, true, "NAME=SOFT[:HARD] (nofile=1024:2048)" },
	{ "network", 0, true,
	  "a network NAME (default: berth, a NAT bridge; rootless: pasta), bridge (the default one), none (lo "
	  "only), host, pasta, slirp4netns, container:ID" },
	{ "runtime", 0, true, "OCI runtime binary (default: berth-runtime)" },
	{ "restart", 0, true, "no, on-failure[:N], always, unless-stopped" },
	{ "cgroup-parent", 0, true, "cgroup parent (relative: beneath berth's own cgroup; default berth)" },
	{ "log-opt", 0, true, "max-size=SIZE of the log before rotation (default 10m)" },
	{ "stop-signal", 0, true, "signal for berth stop (default the image's, or SIGTERM)" },
	{ "stop-timeout", 0, true, "seconds berth stop waits before SIGKILL (default 10)" },
	{ "health-cmd", 0, true, "health check command, run with sh -c in the container" },
	{ "health-interval", 0, true, "time between health checks (default 30s)" },
	{ "health-timeout", 0, true, "health check timeout (default 30s)" },
	{ "health-retries", 0, true, "consecutive failures before unhealthy (default 3)" },
	{ "health-start-period", 0, true, "time after the start when failures do not count (default 0s)" },
	{ "no-healthcheck", 0, false, "disable the image's health check" },
	{ "init", 0, false, "run berth-init as PID 1: it forwards signals and reaps zombies" },
	{ "label", 'l', true, "KEY=VALUE metadata (over the image's labels); repeatable" },
	{ "publish", 'p', true, "[IP:][HOST[-END]:]CONTAINER[-END][/tcp|udp]; repeatable" },
	{ "publish-all", 'P', false, "publish the image's exposed ports on free host ports" },
	{ "ip", 0, true, "the container's IPv4 address in its network" },
	{ "dns", 0, true, "a nameserver for /etc/resolv.conf; repeatable" },
	{ "add-host", 0, true, "NAME:IP (or NAME:host-gateway) line for /etc/hosts; repeatable" },
	{ "network-alias", 0, true, "another name of the container on its network; repeatable" },
	{ "pod", 0, true, "join pod NAME (berth pod create): its network, IPC namespace and hostname" },
	{ "ipc", 0, true, "IPC namespace: private (default), shareable, host or container:ID (a shareable one)" },
	{ "pid", 0, true, "PID namespace: private (default), host or container:ID" },
	BERTH_TRUST_FLAGS,
	{ NULL, 0, false, NULL },
};

static const char *log_max_size(const option_value *v, berth_error **err)
{
	const char *out = NULL;

	for (int i = 0; i < v->count; i++) {
		if (strncmp(v->all[i], "max-size=", 9) == 0)
			out = v->all[i] + 9;
		else if (strncmp(v->all[i], "max-file=", 9) != 0) {
			berth_error_set(err, EINVAL, "--log-opt: unsupported option \"%s\" (max-size=SIZE)", v->all[i]);
			return NULL;
		}
	}
	return out;
}

static void fill_options(run_options *o, const option_value *v, char **command)
{
	o->detach = option_bool(&v[O_DETACH]);
	o->interactive = option_bool(&v[O_INTERACTIVE]);
	o->tty = option_bool(&v[O_TTY]);
	o->remove = option_bool(&v[O_RM]);
	o->read_only = option_bool(&v[O_READ_ONLY]);
	o->privileged = option_bool(&v[O_PRIVILEGED]);
	o->name = v[O_NAME].value;
	o->workdir = v[O_WORKDIR].value;
	o->user = v[O_USER].value;
	o->hostname = v[O_HOSTNAME].value;
	o->network = v[O_NETWORK].value;
	o->ipc = v[O_IPC].value;
	o->pid = v[O_PID].value;
	o->runtime = v[O_RUNTIME].value;
	o->cgroup_parent = v[O_CGROUP_PARENT].value;
	o->entrypoint = v[O_ENTRYPOINT].set ? v[O_ENTRYPOINT].value : NULL;
	o->env = v[O_ENV].all;
	o->env_files = v[O_ENV_FILE].all;
	o->volumes = v[O_VOLUME].all;
	o->mounts = v[O_MOUNT].all;
	o->init = option_bool(&v[O_INIT]);
	o->labels = v[O_LABEL].all;
	o->no_healthcheck = option_bool(&v[O_NO_HEALTHCHECK]);
	o->tmpfs = v[O_TMPFS].all;
	o->cap_add = v[O_CAP_ADD].all;
	o->cap_drop = v[O_CAP_DROP].all;
	o->security_opts = v[O_SECURITY_OPT].all;
	o->ulimits = v[O_ULIMIT].all;
	o->memory = v[O_MEMORY].value;
	o->cpus = v[O_CPUS].value;
	o->pids_limit = v[O_PIDS_LIMIT].value;
	o->restart = v[O_RESTART].value;
	o->stop_signal = v[O_STOP_SIGNAL].value;
	o->stop_timeout = v[O_STOP_TIMEOUT].value;
	o->health_cmd = v[O_HEALTH_CMD].value;
	o->health_interval = v[O_HEALTH_INTERVAL].value;
	o->health_timeout = v[O_HEALTH_TIMEOUT].value;
	o->health_retries = v[O_HEALTH_RETRIES].value;
	o->health_start_period = v[O_HEALTH_START].value;
	o->publish = v[O_PUBLISH].all;
	o->publish_all = option_bool(&v[O_PUBLISH_ALL]);
	o->ip = v[O_IP].value;
	o->dns = v[O_DNS].all;
	o->add_hosts = v[O_ADD_HOST].all;
	o->network_aliases = v[O_NETWORK_ALIAS].all;
	o->command = command;
}

/* ---- the foreground: signals to the monitor, the terminal in raw mode ---- */

static volatile pid_t forward_to;

static void forward_signal(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

static void forward_signals(pid_t monitor)
{
	struct sigaction sa = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2 };

	forward_to = monitor;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* berth's terminal while a -t container runs: its pty already turns \n
 * into \r\n, so the terminal of berth's stdout must not add a second \r
 * (output post-processing off, as docker's raw mode has it), and a stdin
 * that is a terminal passes every key through (raw). */
typedef struct terminal_state {
	struct termios in, out;
	bool in_saved, out_saved;
} terminal_state;

static void terminal_raw(terminal_state *t)
{
	struct termios raw;

	t->in_saved = isatty(0) && tcgetattr(0, &t->in) == 0;
	if (t->in_saved) {
		raw = t->in;
		cfmakeraw(&raw);
		t->in_saved = tcsetattr(0, TCSANOW, &raw) == 0;
	}
	/* stdout on another terminal than stdin (or stdin not one at all) */
	t->out_saved = isatty(1) && tcgetattr(1, &t->out) == 0 && (t->out.c_oflag & OPOST);
	if (t->out_saved) {
		raw = t->out;
		raw.c_oflag &= ~(tcflag_t)OPOST;
		t->out_saved = tcsetattr(1, TCSANOW, &raw) == 0;
	}
}

/* Back as it was (stdout's terminal is left alone when it is stdin's). */
static void terminal_restore(const terminal_state *t)
{
	if (t->out_saved)
		tcsetattr(1, TCSANOW, &t->out);
	if (t->in_saved)
		tcsetattr(0, TCSANOW, &t->in);
}

/* Exit code of a start error like docker's: 127 not found, 126 not
 * executable, else 125 (the runtime words them like runc: "stat /x: no
 * such file or directory", "executable file not found in $PATH",
 * "permission denied"). */
static int start_error_code(const berth_error *e)
{
	if (e == NULL || e->msg == NULL || strstr(e->msg, "exec \"") == NULL)
		return 125;
	if (strcasestr(e->msg, "no such file") || strstr(e->msg, "not found"))
		return 127;
	if (strcasestr(e->msg, "permission denied") || strstr(e->msg, "not executable") ||
	    strcasestr(e->msg, "is a directory"))
		return 126;
	return 125;
}

static int attach_foreground(pid_t monitor, int events)
{
	int code;

	forward_signals(monitor);
	code = monitor_wait_exit(events);
	close(events);
	return code < 0 ? 125 : code;
}

static int start_one(const engine_paths *p, container *c, bool foreground, bool destroy_on_error, berth_error **err)
{
	terminal_state term = { 0 };
	int events = -1, ret;
	pid_t monitor = 0;
	berth_error *ignored = NULL;

	/* before the container's first output, which the monitor writes */
	if (foreground && record_config_bool(c, "Tty"))
		terminal_raw(&term);
	ret = monitor_start(p, c, foreground, foreground ? &events : NULL, &monitor, err);
	if (ret < 0) {
		terminal_restore(&term);
		int code = start_error_code(*err);
		if (destroy_on_error && !record_config_bool(c, "AutoRemove")) {
			if (engine_container_destroy(p, c, &ignored) < 0 ||
			    engine_container_remove_anonymous_volumes(p, c, &ignored) < 0)
				berth_error_free(&ignored);
		}
		return code;
	}
	if (!foreground)
		return 0;
	ret = attach_foreground(monitor, events);
	terminal_restore(&term);
	return ret;
}

/* --pod NAME: the network and IPC namespace of the pod's holder, its
 * hostname, its label. */
typedef struct pod_join {
	char *network, *ipc, *label;
	const char **labels;
} pod_join;

static int join_pod(run_options *o, const char *name, pod_join *j, berth_error **err)
{
	size_t n = 0;

	if (o->network)
		return berth_error_request(err, EINVAL, "--pod %s: the pod's network is its holder's; no --network",
					   name);
	for (const char *const *l = o->labels; l && *l; l++)
		n++;
	j->labels = calloc(n + 2, sizeof(char *));
	if (j->labels == NULL || asprintf(&j->network, "container:%s-infra", name) < 0 ||
	    asprintf(&j->ipc, "container:%s-infra", name) < 0 ||
	    asprintf(&j->label, "%s=%s", KUBE_LABEL_STANDALONE, name) < 0)
		return berth_error_set(err, ENOMEM, "--pod");
	for (size_t i = 0; i < n; i++)
		j->labels[i] = o->labels[i];
	j->labels[n] = j->label;
	o->labels = j->labels;
	o->network = j->network;
	if (o->ipc == NULL)
		o->ipc = j->ipc;
	if (o->hostname == NULL)
		o->hostname = name;
	return 0;
}

static void pod_join_free(pod_join *j)
{
	free(j->network);
	free(j->ipc);
	free(j->label);
	free(j->labels);
}

static int create_or_run(const berth_globals *g, int argc, char **argv, bool run, berth_error **err)
{
	option_value v[O_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	engine_paths paths = { 0 };
	run_options o = { 0 };
	run_plan plan;
	container *c = NULL;
	store *s = NULL;
	pod_join pod = { 0 };
	int npos, ret;
	_cleanup_free_ char **args = berth_expand_short_flags(run_specs, argc, argv, true, &argc);

	if (args == NULL)
		return berth_error_set(err, ENOMEM, "run"), 125;
	argv = args;
	ret = berth_parse(run ? "run" : "create",
			  run ? "run [flags] IMAGE [COMMAND [ARG...]]" : "create [flags] IMAGE [COMMAND [ARG...]]",
			  run_specs, argc, argv, true, v, &pos, &npos, 1, -1, err);
	if (ret != 0)
		goto out;
	fill_options(&o, v, pos + 1);
	berth_trust_options(g, &v[O_TRUST], &o.trust);
	o.log_max_size = log_max_size(&v[O_LOG_OPT], err);
	if (!*err && v[O_POD].value && join_pod(&o, v[O_POD].value, &pod, err) < 0) {
		ret = -1;
		goto out;
	}
	if (*err || run_options_validate(&o, &plan, err) < 0) {
		ret = -1;
		goto out;
	}
	ret = berth_engine_open(g, &paths, err);
	if (ret == 0)
		ret = berth_open_store(g, &s, err);
	if (ret == 0)
		ret = engine_container_create(&paths, s, pos[0], &o, &plan, &c, err);
	if (s)
		store_close(s);
	run_plan_free(&plan);
	if (ret < 0)
		goto out;
	if (!run) {
		printf("%s\n", c->id);
	} else {
		ret = start_one(&paths, c, !o.detach, true, err);
		if (ret == 0 && o.detach)
			printf("%s\n", c->id);
	}
out:
	pod_join_free(&pod);
	container_free(c);
	engine_paths_free(&paths);
	options_free_values(v, O_COUNT);
	return ret < 0 ? 125 : ret;
}

int cmd_run(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return create_or_run(g, argc, argv, true, err);
}

int cmd_create(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return create_or_run(g, argc, argv, false, err);
}

/* Waits up to 10 s for the monitor of another start to have started C. */
static bool wait_started_elsewhere(const engine_paths *p, container *c)
{
	const struct timespec tick = { 0, 20 * 1000000L };
	berth_error *ignored = NULL;

	for (int i = 0; i < 500; i++) {
		if (record_load_state(c, &ignored) < 0 || record_refresh(p, c, &ignored) < 0) {
			berth_error_free(&ignored);
			return false;
		}
		if (engine_status_is_live(c->state.status))
			return true;
		if (c->state.monitor_pid > 0 && !record_monitor_alive(c))
			return false; /* it failed */
		nanosleep(&tick, NULL);
	}
	return false;
}

static int start_container_fn(const engine_paths *p, container *c, void *arg, berth_error **err)
{
	bool attach = *(bool *)arg;
	int ret;

	if (record_refresh(p, c, err) < 0)
		return -1;
	if (engine_status_is_live(c->state.status)) {
		printf("%s\n", c->name);
		return 0;
	}
	ret = start_one(p, c, attach, false, err);
	if (*err && (*err)->code == EBUSY && !attach) {
		/* another start (one killed meanwhile, say) got there first */
		berth_error_free(err);
		ret = wait_started_elsewhere(p, c) ? 0 : start_one(p, c, attach, false, err);
	}
	if (*err)
		return -1;
	if (!attach)
		printf("%s\n", c->name);
	return ret;
}

static const option_spec start_specs[] = {
	{ "attach", 'a', false, "attach to the output and wait (one container)" },
	{ NULL, 0, false, NULL },
};

int cmd_start(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[2] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	container *c = NULL;
	bool attach;
	int npos, ret;

	ret = berth_parse_grouped("start", "start [-a] CONTAINER...", start_specs, argc, argv, false, v, &pos, &npos, 1,
				  -1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	attach = option_bool(&v[0]);
	if (berth_engine_open(g, &paths, err) < 0)
		return 125;
	if (attach) {
		if (npos != 1) {
			engine_paths_free(&paths);
			return berth_error_set(err, EINVAL, "start -a: one container at a time"), 125;
		}
		ret = record_open(&paths, pos[0], &c, err) < 0 ? 125 : start_container_fn(&paths, c, &attach, err);
		container_free(c);
		engine_paths_free(&paths);
		return *err ? 125 : ret;
	}
	ret = berth_for_each_container(&paths, pos, npos, start_container_fn, &attach);
	engine_paths_free(&paths);
	return ret ? 125 : 0;
}
