/* berth pod create / ls / rm / inspect / start / stop / restart / kill /
 * logs: pods by hand, like podman's
 * (kube/pod_standalone.h); `berth run --pod NAME` puts containers in one.
 * ls and inspect show berth kube's pods too. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/berth/kube_cmd.h"
#include "engine/logfile.h"
#include "kube/pod_standalone.h"
#include "kube/validate.h"
#include "spec/json_read.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const option_spec create_specs[] = {
	{ "name", 0, true, "the pod's name (required)" },
	{ "hostname", 0, true, "the hostname of its containers (default: the pod's name)" },
	{ "publish", 'p', true, "[IP:][HOST:]CONTAINER[/PROTO] on the pod; repeatable" },
	{ "label", 'l', true, "KEY=VALUE on the pod's holder; repeatable" },
	{ "network", 0, true, "a network (default: the default one) or host" },
	{ "add-host", 0, true, "NAME:IP line for the pod's /etc/hosts; repeatable" },
	{ "dns", 0, true, "a nameserver for the pod's /etc/resolv.conf; repeatable" },
	{ "cgroup-parent", 0, true, "cgroup parent of the holder (as berth run's)" },
	{ NULL, 0, false, NULL },
};

static int pod_create(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[9] = { 0 };
	_cleanup_free_ char **pos = NULL;
	kube_standalone_options o = { 0 };
	kube_cli cli;
	int npos, ret;

	ret = berth_parse("pod create", "pod create --name NAME [-p PORT]... [--hostname H]", create_specs, argc, argv,
			  false, v, &pos, &npos, 0, 0, err);
	if (ret == 0 && (v[0].value == NULL || !kube_is_dns1123_label(v[0].value)))
		ret = berth_error_request(err, EINVAL, "pod create: --name NAME ([a-z0-9-], at most 63) is required");
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		o.name = v[0].value;
		o.hostname = v[1].value;
		o.publish = v[2].all;
		o.labels = v[3].all;
		o.network = v[4].value;
		o.add_hosts = v[5].all;
		o.dns = v[6].all;
		if (v[7].value)
			cli.k.cgroup_parent = v[7].value;
		ret = kube_standalone_create(&cli.k, &o, err);
		if (ret == 0)
			printf("%s\n", o.name);
		kube_cli_close(&cli);
	}
	options_free_values(v, 8);
	return ret < 0 ? 125 : 0;
}

static const char *pod_status(json_t *p)
{
	json_t *infra = json_object_get(p, "infra"), *c;
	size_t i;

	if (json_is_null(infra) || infra == NULL)
		return "Degraded";
	if (strcmp(json_string_value(json_object_get(infra, "status")) ?: "", "running") != 0)
		return "Exited";
	json_array_foreach(json_object_get(p, "containers"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "status")) ?: "", "running") != 0)
			return "Degraded";
	return "Running";
}

static const option_spec ls_specs[] = {
	{ "format", 0, true, "table (default) or json" },
	{ "quiet", 'q', false, "names only" },
	{ NULL, 0, false, NULL },
};

static int pod_ls(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	json_t *pods = NULL, *p;
	kube_cli cli;
	size_t i;
	int npos, ret;

	ret = berth_parse("pod ls", "pod ls [-q] [--format table|json]", ls_specs, argc, argv, false, v, &pos, &npos, 0,
			  0, err);
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		ret = kube_standalone_list(&cli.k, &pods, err);
		kube_cli_close(&cli);
	}
	if (ret == 0 && v[0].value && strcmp(v[0].value, "json") == 0) {
		kube_cli_print(pods, "json");
	} else if (ret == 0) {
		if (!option_bool(&v[1]))
			printf("%-30s %-12s %-10s %-22s %-14s %s\n", "NAME", "NAMESPACE", "STATUS", "CREATED",
			       "INFRA ID", "# OF CONTAINERS");
		json_array_foreach(pods, i, p) {
			json_t *infra = json_object_get(p, "infra");
			char age[64];
			if (option_bool(&v[1])) {
				printf("%s\n", json_string_value(json_object_get(p, "name")));
				continue;
			}
			printf("%-30s %-12s %-10s %-22s %-14.12s %zu\n", json_string_value(json_object_get(p, "name")),
			       json_string_value(json_object_get(p, "namespace")) ?: "-", pod_status(p),
			       berth_human_since(json_string_value(json_object_get(infra, "created")), age),
			       json_string_value(json_object_get(infra, "id")) ?: "-",
			       json_array_size(json_object_get(p, "containers")) + (json_is_object(infra) ? 1 : 0));
		}
	}
	json_decref(pods);
	options_free_values(v, 2);
	return ret < 0 ? 125 : 0;
}

static const option_spec rm_specs[] = {
	{ "force", 'f', false, "stop running containers first" },
	{ "time", 't', true, "seconds to wait for each to stop (default 10)" },
	{ NULL, 0, false, NULL },
};

static int pod_rm(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	kube_cli cli;
	int npos, ret, failed = 0;

	ret = berth_parse("pod rm", "pod rm [-f] [-t SECONDS] POD...", rm_specs, argc, argv, false, v, &pos, &npos, 1,
			  -1, err);
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		for (int i = 0; i < npos; i++) {
			berth_error *e = NULL;
			if (kube_standalone_remove(&cli.k, pos[i], option_bool(&v[0]),
						   v[1].value ? atoi(v[1].value) : 10, &e) < 0) {
				berth_error_report("berth", &e);
				failed = 1;
			} else {
				printf("%s\n", pos[i]);
			}
		}
		kube_cli_close(&cli);
	}
	options_free_values(v, 2);
	return ret < 0 ? 125 : failed;
}

static const option_spec no_specs[] = {
	{ NULL, 0, false, NULL },
};

static int pod_inspect(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	json_t *pods = NULL, *out = json_array(), *p;
	kube_cli cli;
	size_t i;
	int npos, ret;

	ret = berth_parse("pod inspect", "pod inspect POD...", no_specs, argc, argv, false, v, &pos, &npos, 1, -1, err);
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		ret = kube_standalone_list(&cli.k, &pods, err);
		kube_cli_close(&cli);
	}
	for (int n = 0; ret == 0 && n < npos; n++) {
		bool found = false;
		json_array_foreach(pods, i, p)
			if (strcmp(json_string_value(json_object_get(p, "name")), pos[n]) == 0) {
				json_array_append(out, p);
				found = true;
			}
		if (!found)
			ret = berth_error_request(err, ENOENT, "no such pod: %s", pos[n]);
	}
	if (ret == 0)
		kube_cli_print(out, "json");
	json_decref(out);
	json_decref(pods);
	return ret < 0 ? 125 : 0;
}

/* ---- start, stop, restart, kill */

static const option_spec act_specs[] = {
	{ "time", 't', true, "seconds to wait for each container to stop (default its own, 10)" },
	{ "signal", 's', true, "kill: signal name or number (default SIGKILL)" },
	{ NULL, 0, false, NULL },
};

static int pod_act(const berth_globals *g, const char *name, kube_standalone_action action, int argc, char **argv,
		   berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	char usage[80], command[32];
	kube_cli cli;
	int npos, ret, failed = 0, timeout = -1;

	snprintf(usage, sizeof(usage), "pod %s [%s] POD...", name,
		 action == KUBE_POD_KILL ? "-s SIGNAL" : "-t SECONDS");
	snprintf(command, sizeof(command), "pod %s", name);
	ret = berth_parse(command, usage, act_specs, argc, argv, false, v, &pos, &npos, 1, -1, err);
	if (ret == 0 && v[1].value && action != KUBE_POD_KILL)
		ret = berth_error_request(err, EINVAL, "pod %s: -s is kill's", name);
	if (ret == 0 && v[0].value) {
		char *end;
		timeout = (int)strtol(v[0].value, &end, 10);
		if (*end != '\0' || end == v[0].value || timeout < 0)
			ret = berth_error_request(err, EINVAL, "pod %s -t: invalid number of seconds \"%s\"", name,
						  v[0].value);
	}
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		for (int i = 0; i < npos; i++) {
			berth_error *e = NULL;
			if (kube_standalone_act(&cli.k, pos[i], action, timeout, v[1].value, &e) < 0) {
				berth_error_report("berth", &e);
				failed = 1;
			} else {
				printf("%s\n", pos[i]);
			}
		}
		kube_cli_close(&cli);
	}
	options_free_values(v, 2);
	return ret < 0 ? 125 : failed;
}

static int pod_start(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return pod_act(g, "start", KUBE_POD_START, argc, argv, err);
}

static int pod_stop(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return pod_act(g, "stop", KUBE_POD_STOP, argc, argv, err);
}

static int pod_restart(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return pod_act(g, "restart", KUBE_POD_RESTART, argc, argv, err);
}

static int pod_kill(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	return pod_act(g, "kill", KUBE_POD_KILL, argc, argv, err);
}

/* ---- logs */

static const option_spec logs_specs[] = {
	{ "container", 'c', true, "only this container of the pod (no prefix)" },
	{ "follow", 'f', false, "keep printing new output until no container of the pod runs" },
	{ "tail", 'n', true, "only the last N lines of each container" },
	{ "timestamps", 't', false, "prefix each line with its time" },
	{ NULL, 0, false, NULL },
};

typedef struct pod_log {
	container *c;
	char *path;
	off_t offset; /* what was printed of the current file */
	char pending[65536];
	size_t have;
} pod_log;

typedef struct pod_line {
	int64_t ns;
	size_t seq; /* the order in the file, for lines of the same time */
	size_t log;
	char *text;
	size_t len;
} pod_line;

static int by_time(const void *a, const void *b)
{
	const pod_line *x = a, *y = b;

	if (x->ns != y->ns)
		return x->ns < y->ns ? -1 : 1;
	if (x->log != y->log)
		return x->log < y->log ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void print_pod_line(const pod_log *l, bool prefix, bool timestamps, const char *line, size_t len)
{
	log_entry e;
	FILE *out;

	if (!logfile_parse_line(line, len, &e))
		return;
	out = e.is_stderr ? stderr : stdout;
	if (prefix)
		fprintf(out, "%s ", l->c->name);
	if (timestamps)
		fprintf(out, "%.*s ", (int)e.time_len, e.time);
	fwrite(e.text, 1, e.text_len, out);
	if (!e.partial)
		fputc('\n', out);
	fflush(out);
}

/* The complete lines of L's log files (the rotated one first), the last
 * TAIL (<0: all) appended to *LINES. */
static int collect_lines(pod_log *l, size_t index, long tail, pod_line **lines, size_t *n)
{
	char *files[2] = { NULL, NULL };
	size_t first = *n;

	if (asprintf(&files[0], "%s.1", l->path) < 0)
		return -1;
	files[1] = l->path;
	for (int f = 0; f < 2; f++) {
		_cleanup_free_ char *text = NULL;
		berth_error *ignored = NULL;
		size_t len = 0, start = 0;
		if (fs_read_file(files[f], &text, &len, &ignored) < 0) {
			berth_error_free(&ignored);
			continue;
		}
		while (start < len) {
			char *nl = memchr(text + start, '\n', len - start);
			log_entry e;
			pod_line *grown;
			if (nl == NULL)
				break;
			if (logfile_parse_line(text + start, (size_t)(nl - text) - start, &e) &&
			    (grown = realloc(*lines, (*n + 1) * sizeof(**lines))) != NULL) {
				*lines = grown;
				grown[*n] = (pod_line){ .ns = logfile_time_ns(e.time, e.time_len),
							.seq = *n,
							.log = index,
							.text = strndup(text + start, (size_t)(nl - text) - start),
							.len = (size_t)(nl - text) - start };
				(*n)++;
			}
			start = (size_t)(nl - text) + 1;
		}
		if (f == 1)
			l->offset = (off_t)start;
	}
	free(files[0]);
	if (tail >= 0 && *n - first > (size_t)tail) {
		size_t drop = *n - first - (size_t)tail;
		for (size_t i = first; i < first + drop; i++)
			free((*lines)[i].text);
		memmove(*lines + first, *lines + first + drop, (*n - first - drop) * sizeof(**lines));
		*n -= drop;
	}
	return 0;
}

/* -f: new lines of every log as they come, until no container is live. */
static void follow_pod(const engine_paths *p, pod_log *logs, size_t n, bool prefix, bool timestamps)
{
	for (int idle = 0;; idle++) {
		bool any = false;
		for (size_t i = 0; i < n; i++) {
			pod_log *l = &logs[i];
			_cleanup_close_ int fd = open(l->path, O_RDONLY | O_CLOEXEC);
			ssize_t got;
			struct stat st;
			if (fd < 0 || fstat(fd, &st) < 0)
				continue;
			if (st.st_size < l->offset)
				l->offset = 0; /* rotated */
			while (l->have < sizeof(l->pending) &&
			       (got = pread(fd, l->pending + l->have, sizeof(l->pending) - l->have, l->offset)) > 0) {
				size_t start = 0;
				l->have += (size_t)got;
				l->offset += got;
				any = true;
				for (char *nl; (nl = memchr(l->pending + start, '\n', l->have - start)) != NULL;) {
					print_pod_line(l, prefix, timestamps, l->pending + start,
						       (size_t)(nl - l->pending) - start);
					start = (size_t)(nl - l->pending) + 1;
				}
				memmove(l->pending, l->pending + start, l->have - start);
				l->have -= start;
				if (l->have == sizeof(l->pending))
					l->have = 0; /* a line longer than the buffer: dropped */
			}
		}
		if (!any && idle % 5 == 0) {
			bool live = false;
			for (size_t i = 0; i < n; i++) {
				berth_error *ignored = NULL;
				if (record_load_state(logs[i].c, &ignored) == 0 &&
				    record_refresh(p, logs[i].c, &ignored) == 0)
					live = live || engine_status_is_live(logs[i].c->state.status);
				berth_error_free(&ignored);
			}
			if (!live && idle > 0)
				break;
		}
		usleep(100000);
	}
}

static int pod_logs(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[5] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_json_ json_t *pod = NULL;
	pod_log *logs = NULL;
	pod_line *lines = NULL;
	size_t n = 0, nlines = 0, i;
	long tail = -1;
	kube_cli cli;
	json_t *c;
	int npos, ret;

	ret = berth_parse("pod logs", "pod logs [-c CONTAINER] [-f] [--tail N] [-t] POD", logs_specs, argc, argv, false,
			  v, &pos, &npos, 1, 1, err);
	if (ret == 0 && v[2].value && strcmp(v[2].value, "all") != 0) {
		char *end;
		tail = strtol(v[2].value, &end, 10);
		if (*end != '\0' || tail < 0)
			ret = berth_error_request(err, EINVAL, "pod logs --tail: invalid number \"%s\"", v[2].value);
	}
	if (ret < 0 || (ret = kube_cli_open(g, &cli, err)) < 0) {
		options_free_values(v, 4);
		return 125;
	}
	ret = kube_standalone_find(&cli.k, pos[0], "use berth kube logs", &pod, err);
	logs = calloc(json_array_size(json_object_get(pod, "containers")) + 1, sizeof(*logs));
	if (ret == 0 && logs == NULL)
		ret = berth_error_set(err, ENOMEM, "pod logs");
	json_array_foreach(json_object_get(pod, "containers"), i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		berth_error *gone = NULL;
		if (ret < 0 || (v[0].value && strcmp(v[0].value, name) != 0))
			continue;
		if (record_open(&cli.paths, json_string_value(json_object_get(c, "id")), &logs[n].c, &gone) < 0) {
			berth_error_free(&gone);
			continue;
		}
		logs[n].path = record_path(logs[n].c, "ctr.log");
		n++;
	}
	if (ret == 0 && v[0].value && n == 0)
		ret = berth_error_request(err, ENOENT, "pod logs %s: no container %s in the pod", pos[0], v[0].value);
	for (i = 0; ret == 0 && i < n; i++)
		if (logs[i].path == NULL || collect_lines(&logs[i], i, tail, &lines, &nlines) < 0)
			ret = berth_error_set(err, ENOMEM, "pod logs");
	if (ret == 0) {
		qsort(lines, nlines, sizeof(*lines), by_time);
		for (i = 0; i < nlines; i++)
			print_pod_line(&logs[lines[i].log], !v[0].value, option_bool(&v[3]), lines[i].text,
				       lines[i].len);
		if (option_bool(&v[1]))
			follow_pod(&cli.paths, logs, n, !v[0].value, option_bool(&v[3]));
	}
	for (i = 0; i < nlines; i++)
		free(lines[i].text);
	free(lines);
	for (i = 0; logs && i < n; i++) {
		container_free(logs[i].c);
		free(logs[i].path);
	}
	free(logs);
	kube_cli_close(&cli);
	options_free_values(v, 4);
	return ret < 0 ? 125 : 0;
}

static const berth_command pod_commands[] = {
	{ "create", "pod create --name NAME [-p PORT]...", "make a pod (its holder)", pod_create },
	{ "ls", "pod ls [-q] [--format table|json]", "list pods (berth pod's and berth kube's)", pod_ls },
	{ "ps", "pod ps", "list pods (pod ls)", pod_ls },
	{ "list", "pod list", "list pods (pod ls)", pod_ls },
	{ "rm", "pod rm [-f] POD...", "remove pods and their containers", pod_rm },
	{ "inspect", "pod inspect POD...", "pods as JSON", pod_inspect },
	{ "start", "pod start POD...", "start a pod: its holder, then its containers", pod_start },
	{ "stop", "pod stop [-t SECONDS] POD...", "stop a pod: its containers, then its holder", pod_stop },
	{ "restart", "pod restart [-t SECONDS] POD...", "stop, then start a pod", pod_restart },
	{ "kill", "pod kill [-s SIGNAL] POD...", "signal every running container of a pod", pod_kill },
	{ "logs", "pod logs [-c CTR] [-f] [--tail N] [-t] POD", "the logs of a pod's containers, interleaved",
	  pod_logs },
	{ NULL, NULL, NULL, NULL },
};

int cmd_pod(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: berth pod COMMAND [flags] ARGS\n\ncommands:\n");
		for (int i = 0; pod_commands[i].name; i++)
			printf("   %-10s %s\n", pod_commands[i].name, pod_commands[i].summary);
		return argc < 1 ? 125 : 0;
	}
	for (int i = 0; pod_commands[i].name; i++)
		if (strcmp(pod_commands[i].name, argv[0]) == 0)
			return pod_commands[i].run(g, argc - 1, argv + 1, err);
	return berth_error_set(err, 0, "pod: unknown command \"%s\" (see berth pod --help)", argv[0]);
}
