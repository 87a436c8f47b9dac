/* CNI driver: conflist loading, plugin execution, ADD/CHECK/DEL with a
 * result cache, and reading results (see cni.h). */
#include "network/cni.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#include "spec/json_read.h"

#define CACHE_KIND	 "berth-cni-cache-v1"
#define PLUGIN_PATH_ENV	 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define STDOUT_MAX	 (16u << 20)
#define STDERR_MAX	 4096u
#define IFNAME_MAX	 15
#define NAME_CHARS	 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
#define VERSION_CHAINING 300 /* 0.3.0: conflists, prevResult */
#define VERSION_CHECK	 400 /* 0.4.0: CHECK */

struct cni_network {
	json_t *conf; /* the list: cniVersion, name, plugins[] (and the rest) */
	const char *name;
	const char *version;
	int version_number;
};

/* ---- versions and names ---- */

static const struct {
	const char *text;
	int number;
} known_versions[] = {
	{ "0.1.0", 100 }, { "0.2.0", 200 }, { "0.3.0", 300 }, { "0.3.1", 301 }, { "0.4.0", 400 }, { "1.0.0", 10000 },
};

/* 0 when TEXT is no version the plugins here speak. */
static int version_number(const char *text)
{
	for (size_t i = 0; i < sizeof(known_versions) / sizeof(known_versions[0]); i++)
		if (strcmp(known_versions[i].text, text) == 0)
			return known_versions[i].number;
	return 0;
}

/* Network names and container ids: [a-zA-Z0-9][a-zA-Z0-9_.-]* (the spec's
 * pattern); they become part of a cache file name, so nothing else. */
static bool name_valid(const char *s)
{
	if (s == NULL ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	return s[strspn(s, NAME_CHARS)] == '\0' && strlen(s) <= NAME_MAX - 40;
}

/* The spec's interface name rules: 1 to 15 bytes, not "." or "..", no '/',
 * ':' or whitespace. */
static bool ifname_valid(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	return strpbrk(s, "/: \t\n\r\v\f") == NULL;
}

/* A plugin type is a file name in CNI_PATH: never a path. */
static bool type_valid(const char *s)
{
	return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* ---- loading and validating ---- */

static int conf_error(berth_error **err, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int conf_error(berth_error **err, const char *source, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (ret < 0)
		text = NULL;
	berth_error_set(err, 0, "%s: %s", source, text ? text : "invalid");
	if (err && *err)
		(*err)->code = EINVAL;
	return -EINVAL;
}

static int validate_plugin(const json_t *plugin, size_t i, const char *source, berth_error **err)
{
	const json_t *type, *caps, *value;
	const char *key;

	if (!json_is_object(plugin))
		return conf_error(err, source, "plugins[%zu]: not an object", i);
	type = json_object_get(plugin, "type");
	if (type == NULL)
		return conf_error(err, source, "plugins[%zu]: missing \"type\"", i);
	if (!json_is_string(type))
		return conf_error(err, source, "plugins[%zu].type: not a string", i);
	if (!type_valid(json_string_value(type)))
		return conf_error(err, source, "plugins[%zu].type: \"%s\" is not a plugin name (empty, or has '/')", i,
				  json_string_value(type));
	caps = json_object_get(plugin, "capabilities");
	if (caps != NULL && !json_is_object(caps))
		return conf_error(err, source, "plugins[%zu].capabilities: not an object", i);
	json_object_foreach((json_t *)caps, key, value) {
		if (!json_is_boolean(value))
			return conf_error(err, source, "plugins[%zu].capabilities.%s: not a boolean", i, key);
	}
	value = json_object_get(plugin, "runtimeConfig");
	if (value != NULL && !json_is_object(value))
		return conf_error(err, source, "plugins[%zu].runtimeConfig: not an object", i);
	return 0;
}

/* Checks the list LIST (as loaded or as cached) and fills NET's views. */
static int validate_list(json_t *list, const char *source, cni_network *net, berth_error **err)
{
	const json_t *version = json_object_get(list, "cniVersion");
	const json_t *name = json_object_get(list, "name");
	const json_t *plugins = json_object_get(list, "plugins");
	const json_t *disable = json_object_get(list, "disableCheck");
	size_t i;
	json_t *plugin;

	if (version == NULL)
		return conf_error(err, source, "missing \"cniVersion\"");
	if (!json_is_string(version))
		return conf_error(err, source, "cniVersion: not a string");
	if (version_number(json_string_value(version)) == 0)
		return conf_error(err, source,
				  "cniVersion: \"%s\" is not supported (0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0)",
				  json_string_value(version));
	if (name == NULL)
		return conf_error(err, source, "missing \"name\"");
	if (!json_is_string(name))
		return conf_error(err, source, "name: not a string");
	if (!name_valid(json_string_value(name)))
		return conf_error(err, source, "name: \"%s\" is not a network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
				  json_string_value(name));
	if (disable != NULL && !json_is_boolean(disable))
		return conf_error(err, source, "disableCheck: not a boolean");
	if (!json_is_array(plugins))
		return conf_error(err, source, plugins == NULL ? "missing \"plugins\"" : "plugins: not an array");
	if (json_array_size(plugins) == 0)
		return conf_error(err, source, "plugins: empty");
	json_array_foreach(plugins, i, plugin) {
		if (validate_plugin(plugin, i, source, err) < 0)
			return -EINVAL;
	}
	net->conf = json_incref(list);
	net->name = json_string_value(name);
	net->version = json_string_value(version);
	net->version_number = version_number(net->version);
	return 0;
}

/* A .conf is one plugin with the list's fields: wrap it into a list. */
static json_t *wrap_single(json_t *conf)
{
	json_t *list = json_object();
	json_t *plugin = json_deep_copy(conf);

	if (list == NULL || plugin == NULL)
		goto fail;
	if (json_object_get(conf, "cniVersion"))
		json_object_set(list, "cniVersion", json_object_get(conf, "cniVersion"));
	if (json_object_get(conf, "name"))
		json_object_set(list, "name", json_object_get(conf, "name"));
	json_object_del(plugin, "cniVersion");
	json_object_del(plugin, "name");
	if (json_object_set_new(list, "plugins", json_pack("[o]", plugin)) < 0)
		goto fail_list;
	return list;
fail:
	json_decref(plugin);
fail_list:
	json_decref(list);
	return NULL;
}

int cni_network_parse(const char *text, const char *source, cni_network **out, berth_error **err)
{
	_cleanup_json_ json_t *root = NULL;
	_cleanup_json_ json_t *list = NULL;
	json_error_t jerr;
	cni_network *net;

	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return conf_error(err, source, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
				  jerr.text);
	if (!json_is_object(root))
		return conf_error(err, source, "not a JSON object");
	if (json_object_get(root, "plugins") != NULL)
		list = json_incref(root);
	else if (json_object_get(root, "type") != NULL)
		list = wrap_single(root);
	else
		return conf_error(err, source, "neither a list (\"plugins\") nor a plugin config (\"type\")");
	if (list == NULL)
		return berth_error_set(err, ENOMEM, "%s", source);
	net = calloc(1, sizeof(*net));
	if (net == NULL)
		return berth_error_set(err, ENOMEM, "%s", source);
	if (validate_list(list, source, net, err) < 0) {
		free(net);
		return -EINVAL;
	}
	*out = net;
	return 0;
}

int cni_network_load(const char *path, cni_network **out, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (fs_read_file(path, &text, &len, err) < 0)
		return berth_error_wrap(err, "load CNI network");
	if (strlen(text) != len)
		return conf_error(err, path, "contains a NUL byte");
	return cni_network_parse(text, path, out, err);
}

void cni_network_free(cni_network *net)
{
	if (net == NULL)
		return;
	json_decref(net->conf);
	free(net);
}

const char *cni_network_name(const cni_network *net)
{
	return net->name;
}

const char *cni_network_version(const cni_network *net)
{
	return net->version;
}

size_t cni_network_plugin_count(const cni_network *net)
{
	return json_array_size(json_object_get(net->conf, "plugins"));
}

static const json_t *plugin_at(const cni_network *net, size_t i)
{
	return json_array_get(json_object_get(net->conf, "plugins"), i);
}

const char *cni_network_plugin_type(const cni_network *net, size_t i)
{
	return json_string_value(json_object_get(plugin_at(net, i), "type"));
}

int cni_port_mappings_to_json(const cni_port_mapping *mappings, size_t n, json_t **out, berth_error **err)
{
	_cleanup_json_ json_t *array = json_array();

	if (array == NULL)
		return berth_error_set(err, ENOMEM, "portMappings");
	for (size_t i = 0; i < n; i++) {
		const cni_port_mapping *m = &mappings[i];
		const char *proto = m->protocol ? m->protocol : "tcp";
		json_t *entry;

		if (m->host_port == 0 || m->container_port == 0)
			return berth_error_set(err, EINVAL, "portMappings[%zu]: port 0", i);
		if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 && strcmp(proto, "sctp") != 0)
			return berth_error_set(err, EINVAL,
					       "portMappings[%zu]: protocol \"%s\" is not tcp, udp or sctp", i, proto);
		entry = json_pack("{s:i, s:i, s:s}", "hostPort", (int)m->host_port, "containerPort",
				  (int)m->container_port, "protocol", proto);
		if (entry != NULL && m->host_ip != NULL && m->host_ip[0] != '\0')
			json_object_set_new(entry, "hostIP", json_string(m->host_ip));
		if (entry == NULL || json_array_append_new(array, entry) < 0)
			return berth_error_set(err, ENOMEM, "portMappings");
	}
	*out = move_ptr(array);
	return 0;
}

/* ---- running one plugin ---- */

/* Output of one plugin run. */
struct plugin_run {
	char *out; /* stdout, NUL-terminated */
	size_t out_len;
	char err[STDERR_MAX + 1]; /* the start of stderr */
	size_t err_len;
	int status;	/* wait status */
	bool timed_out; /* killed after the timeout */
};

static long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: stdio from the three pipe ends, nothing else open, default
 * signals, its own process group, then exec. Never returns. */
static void __attribute__((noreturn)) child_exec(const char *binary, char **envp, int in, int out, int errfd)
{
	char *argv[] = { (char *)binary, NULL };
	sigset_t all;

	setpgid(0, 0);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* move them above 2 first: one of them may already be 0, 1 or 2 */
	in = fcntl(in, F_DUPFD, 3);
	out = fcntl(out, F_DUPFD, 3);
	errfd = fcntl(errfd, F_DUPFD, 3);
	if (in < 0 || out < 0 || errfd < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(126);
	syscall(SYS_close_range, 3, ~0U, 0);
	execve(binary, argv, envp);
	dprintf(2, "exec \"%s\": %s", binary, strerror(errno));
	_exit(127);
}

/* Reads what is available from FD into the buffer; false at EOF or error. */
static bool drain(int fd, char **buf, size_t *len, size_t max, char *fixed)
{
	char chunk[16384];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return false;
		size_t keep = *len + (size_t)n > max ? max - *len : (size_t)n;
		if (keep == 0)
			continue;
		if (fixed != NULL) {
			memcpy(fixed + *len, chunk, keep);
		} else {
			char *grown = realloc(*buf, *len + keep + 1);
			if (grown == NULL)
				return false;
			*buf = grown;
			memcpy(*buf + *len, chunk, keep);
		}
		*len += keep;
	}
}

/* Feeds INPUT to the child, collects stdout and stderr until it exits or
 * TIMEOUT_S passes (then its process group is killed), and reaps it. */
static int supervise(pid_t pid, int in, int out, int errfd, const char *input, int timeout_s, struct plugin_run *run,
		     berth_error **err)
{
	_cleanup_close_ int pidfd = syscall(SYS_pidfd_open, pid, 0);
	long long deadline = monotonic_ms() + (long long)timeout_s * 1000;
	size_t in_len = strlen(input), in_off = 0;
	bool out_open = true, err_open = true, exited = false;

	if (pidfd < 0) {
		int saved = errno;
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(in);
		return berth_error_set(err, saved, "pidfd_open");
	}
	fcntl(in, F_SETFL, O_NONBLOCK);
	fcntl(out, F_SETFL, O_NONBLOCK);
	fcntl(errfd, F_SETFL, O_NONBLOCK);
	if (in_len == 0) {
		close(in);
		in = -1;
	}
	while (!exited) {
		struct pollfd p[4] = {
			{ .fd = pidfd, .events = POLLIN },
			{ .fd = out_open ? out : -1, .events = POLLIN },
			{ .fd = err_open ? errfd : -1, .events = POLLIN },
			{ .fd = in, .events = POLLOUT },
		};
		long long left = deadline - monotonic_ms();
		if (left <= 0) {
			run->timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 4, left > INT_MAX ? INT_MAX : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		if (p[3].revents & (POLLOUT | POLLERR | POLLHUP)) {
			ssize_t n = write(in, input + in_off, in_len - in_off);
			if (n > 0)
				in_off += (size_t)n;
			/* EPIPE: the plugin does not read its config (SIGPIPE is blocked) */
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) {
				close(in);
				in = -1;
			}
		}
		if (out_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			out_open = drain(out, &run->out, &run->out_len, STDOUT_MAX, NULL);
		if (err_open && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			err_open = drain(errfd, NULL, &run->err_len, STDERR_MAX, run->err);
		exited = p[0].revents & POLLIN;
	}
	/* whatever it wrote before exiting is in the pipes; what a process it
	 * left behind writes later is not waited for */
	if (out_open)
		drain(out, &run->out, &run->out_len, STDOUT_MAX, NULL);
	if (err_open)
		drain(errfd, NULL, &run->err_len, STDERR_MAX, run->err);
	if (in >= 0)
		close(in);
	while (waitpid(pid, &run->status, 0) < 0)
		if (errno != EINTR)
			return berth_error_set(err, errno, "wait for plugin");
	return 0;
}

/* fork+exec BINARY with ENVP and INPUT on stdin; fills RUN. */
static int plugin_exec(const char *binary, char **envp, const char *input, int timeout_s, struct plugin_run *run,
		       berth_error **err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	sigset_t pipe_only, old_mask, pending;
	pid_t pid;
	int ret;

	memset(run, 0, sizeof(*run));
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		ret = berth_error_set(err, errno, "pipe");
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = berth_error_set(err, errno, "fork");
		goto out;
	}
	if (pid == 0)
		child_exec(binary, envp, in[0], out[1], errp[1]);
	setpgid(pid, pid); /* whichever of us runs first */
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	in[0] = out[1] = errp[1] = -1;
	/* a plugin that does not read its config must not kill us with
	 * SIGPIPE: block it in this thread (not the process-wide disposition)
	 * and swallow the one our write raised */
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
	ret = supervise(pid, in[1], out[0], errp[0], input, timeout_s, run, err);
	if (!sigismember(&old_mask, SIGPIPE) && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = { 0 };
		sigtimedwait(&pipe_only, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	in[1] = -1; /* supervise closed it */
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (run->out == NULL)
		run->out = strdup("");
	else
		run->out[run->out_len] = '\0';
	run->err[run->err_len] = '\0';
	return ret;
}

/* ---- one CNI operation over a list ---- */

/* What one ADD/CHECK/DEL runs with. */
struct op {
	const char *command;
	const cni_network *net;	 /* the list: as loaded, or from the cache */
	const cni_runtime *rt;	 /* ids, netns, paths */
	const json_t *cap_args;	 /* capability args: the caller's, or cached */
	const char *plugin_path; /* CNI_PATH */
	int timeout_s;
};

static int find_plugin(const struct op *op, const char *type, char **out)
{
	_cleanup_free_ char *dirs = strdup(op->plugin_path);
	char *save = NULL;

	if (dirs == NULL)
		return -ENOMEM;
	for (char *dir = strtok_r(dirs, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *path = fs_path_join(dir, type);
		struct stat st;
		if (path != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0) {
			*out = move_ptr(path);
			return 0;
		}
	}
	return -ENOENT;
}

/* The plugin's stdin: its config with name, cniVersion, prevResult and
 * the runtimeConfig of the capabilities it declares. */
static char *plugin_input(const struct op *op, const json_t *plugin, const json_t *prev_result)
{
	_cleanup_json_ json_t *conf = json_deep_copy(plugin);
	const json_t *caps = json_object_get(plugin, "capabilities");
	const char *key;
	json_t *value;

	if (conf == NULL)
		return NULL;
	json_object_set_new(conf, "name", json_string(op->net->name));
	json_object_set_new(conf, "cniVersion", json_string(op->net->version));
	json_object_del(conf, "prevResult");
	if (prev_result != NULL && op->net->version_number >= VERSION_CHAINING)
		json_object_set(conf, "prevResult", (json_t *)prev_result);
	json_object_foreach((json_t *)caps, key, value) {
		json_t *arg = json_object_get(op->cap_args, key);
		json_t *runtime_config = json_object_get(conf, "runtimeConfig");
		if (!json_is_true(value) || arg == NULL)
			continue;
		if (runtime_config == NULL) {
			runtime_config = json_object();
			json_object_set_new(conf, "runtimeConfig", runtime_config);
		}
		json_object_set(runtime_config, key, arg);
	}
	return json_dumps(conf, JSON_COMPACT);
}

/* "code 7: MSG (DETAILS)" from a plugin's error on stdout, or its exit
 * status and stderr when stdout holds no CNI error. */
static char *describe_failure(const struct plugin_run *run)
{
	_cleanup_json_ json_t *error = json_loads(run->out, 0, NULL);
	const char *msg = json_string_value(json_object_get(error, "msg"));
	const char *details = json_string_value(json_object_get(error, "details"));
	json_t *code = json_object_get(error, "code");
	char *text = NULL, status[64];
	size_t n = run->err_len;

	while (n > 0 && (run->err[n - 1] == '\n' || run->err[n - 1] == ' '))
		n--;
	if (run->timed_out)
		snprintf(status, sizeof(status), "timed out, killed");
	else if (WIFSIGNALED(run->status))
		snprintf(status, sizeof(status), "killed by signal %d", WTERMSIG(run->status));
	else
		snprintf(status, sizeof(status), "exited with status %d", WEXITSTATUS(run->status));
	if (msg != NULL && json_is_integer(code)) {
		if (asprintf(&text, "code %lld: %s%s%s%s", (long long)json_integer_value(code), msg,
			     details && *details ? " (" : "", details && *details ? details : "",
			     details && *details ? ")" : "") < 0)
			text = NULL;
	} else if (asprintf(&text, "%s%s%.*s", status, n > 0 ? ": " : "", (int)n, run->err) < 0) {
		text = NULL;
	}
	return text;
}

/* Runs the op's command for plugin I; on ADD, *RESULT is its result. */
static int run_plugin(const struct op *op, size_t i, const json_t *prev_result, json_t **result, berth_error **err)
{
	const json_t *plugin = plugin_at(op->net, i);
	const char *type = json_string_value(json_object_get(plugin, "type"));
	_cleanup_free_ char *binary = NULL, *input = NULL, *failure = NULL;
	_cleanup_free_ char *env_cmd = NULL, *env_id = NULL, *env_ns = NULL, *env_if = NULL, *env_args = NULL,
			    *env_path = NULL;
	struct plugin_run run;
	long long start;
	int ret;

	ret = find_plugin(op, type, &binary);
	if (ret < 0)
		return berth_error_set(err, -ret,
				       "network \"%s\": plugin \"%s\" (plugins[%zu]): not found in CNI_PATH \"%s\"",
				       op->net->name, type, i, op->plugin_path);
	input = plugin_input(op, plugin, prev_result);
	if (input == NULL || asprintf(&env_cmd, "CNI_COMMAND=%s", op->command) < 0 ||
	    asprintf(&env_id, "CNI_CONTAINERID=%s", op->rt->container_id) < 0 ||
	    asprintf(&env_ns, "CNI_NETNS=%s", op->rt->netns_path ? op->rt->netns_path : "") < 0 ||
	    asprintf(&env_if, "CNI_IFNAME=%s", op->rt->ifname) < 0 ||
	    asprintf(&env_args, "CNI_ARGS=%s", op->rt->cni_args ? op->rt->cni_args : "") < 0 ||
	    asprintf(&env_path, "CNI_PATH=%s", op->plugin_path) < 0)
		return berth_error_set(err, ENOMEM, "network \"%s\": plugin \"%s\"", op->net->name, type);
	/* no netns (DEL after it is gone): CNI_NETNS is left out, as the spec allows */
	char *envp[] = {
		env_cmd, env_id, env_if, env_args, env_path, PLUGIN_PATH_ENV, op->rt->netns_path ? env_ns : NULL, NULL
	};

	start = monotonic_ms();
	if (plugin_exec(binary, envp, input, op->timeout_s, &run, err) < 0) {
		free(run.out);
		return berth_error_wrap(err, "network \"%s\": plugin \"%s\" (plugins[%zu]) %s", op->net->name, type, i,
					op->command);
	}
	berth_debug("cni: network %s: %s %s (plugins[%zu]) took %lld ms", op->net->name, op->command, type, i,
		    monotonic_ms() - start);
	if (run.timed_out || !WIFEXITED(run.status) || WEXITSTATUS(run.status) != 0) {
		failure = describe_failure(&run);
		free(run.out);
		berth_error_set(err, 0, "network \"%s\": plugin \"%s\" (plugins[%zu]) %s: %s", op->net->name, type, i,
				op->command, failure ? failure : "failed");
		if (err && *err)
			(*err)->code = run.timed_out ? ETIMEDOUT : EIO;
		return run.timed_out ? -ETIMEDOUT : -EIO;
	}
	if (result != NULL) {
		json_error_t jerr;
		*result = json_loads(run.out, 0, &jerr);
		if (!json_is_object(*result)) {
			json_decref(*result);
			*result = NULL;
			free(run.out);
			return berth_error_set(
			    err, EPROTO, "network \"%s\": plugin \"%s\" (plugins[%zu]) %s: no JSON result on stdout",
			    op->net->name, type, i, op->command);
		}
	}
	free(run.out);
	return 0;
}

/* DEL for plugins LAST..0 with PREV_RESULT. A DEL stops at the first
 * failure (the cache stays for a retry); a rollback (BEST_EFFORT) goes on
 * through all of them and reports the first failure. */
static int del_from(const struct op *base, size_t last, const json_t *prev_result, bool best_effort, berth_error **err)
{
	struct op op = *base;
	int ret = 0;

	op.command = "DEL";
	for (size_t i = last + 1; i-- > 0;) {
		_cleanup_error_ berth_error *one = NULL;
		if (run_plugin(&op, i, prev_result, NULL, &one) == 0)
			continue;
		if (ret == 0 && err != NULL)
			*err = move_ptr(one);
		ret = -1;
		if (!best_effort)
			break;
	}
	return ret;
}

/* ---- the cache ---- */

static char *cache_name(const char *network, const char *container_id, const char *ifname)
{
	char *name = NULL;
	if (asprintf(&name, "%s:%s:%s.json", network, container_id, ifname) < 0)
		return NULL;
	return name;
}

static int check_runtime(const cni_runtime *rt, const char *command, bool need_netns, berth_error **err)
{
	if (!name_valid(rt->container_id))
		return berth_error_set(err, EINVAL, "CNI %s: container id \"%s\" is not [a-zA-Z0-9][a-zA-Z0-9_.-]*",
				       command, rt->container_id ? rt->container_id : "");
	if (!ifname_valid(rt->ifname))
		return berth_error_set(
		    err, EINVAL, "CNI %s: interface name \"%s\" is invalid (1 to 15 bytes, no '/', ':' or spaces)",
		    command, rt->ifname ? rt->ifname : "");
	if (rt->cache_dir == NULL || rt->cache_dir[0] == '\0')
		return berth_error_set(err, EINVAL, "CNI %s: no cache directory", command);
	if (need_netns && (rt->netns_path == NULL || rt->netns_path[0] != '/'))
		return berth_error_set(err, EINVAL, "CNI %s: netns path \"%s\" is not absolute", command,
				       rt->netns_path ? rt->netns_path : "");
	return 0;
}

static int open_results_dir(const char *cache_dir, bool create, berth_error **err)
{
	_cleanup_free_ char *dir = fs_path_join(cache_dir, "results");
	int fd;

	if (dir == NULL)
		return berth_error_set(err, ENOMEM, "CNI cache");
	if (create && fs_mkdir_p(dir, 0700, err) < 0)
		return berth_error_wrap(err, "CNI cache");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "CNI cache: open \"%s\"", dir);
	return fd;
}

static int cache_write(const struct op *op, const json_t *result, berth_error **err)
{
	_cleanup_free_ char *name = cache_name(op->net->name, op->rt->container_id, op->rt->ifname);
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_json_ json_t *entry = NULL;
	_cleanup_json_ json_t *no_args = json_object();

	dirfd = open_results_dir(op->rt->cache_dir, true, err);
	if (dirfd < 0)
		return -1;
	entry = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:O}", "kind", CACHE_KIND, "networkName",
			  op->net->name, "containerId", op->rt->container_id, "ifName", op->rt->ifname, "netns",
			  op->rt->netns_path ? op->rt->netns_path : "", "cniArgs",
			  op->rt->cni_args ? op->rt->cni_args : "", "config", op->net->conf, "capabilityArgs",
			  op->cap_args ? op->cap_args : no_args, "result", result);
	text = entry ? json_dumps(entry, JSON_INDENT(1)) : NULL;
	if (name == NULL || text == NULL)
		return berth_error_set(err, ENOMEM, "CNI cache");
	if (fs_write_file_atomic(dirfd, name, text, strlen(text), 0600, err) < 0)
		return berth_error_wrap(err, "CNI cache \"%s/results\"", op->rt->cache_dir);
	return 0;
}

/* Reads the cache entry; -ENOENT (no error set) when there is none. The
 * cached list is validated again: the cache is a file like any other. */
static int cache_read(const char *cache_dir, const char *network, const char *container_id, const char *ifname,
		      json_t **entry_out, cni_network *cached_net, berth_error **err)
{
	_cleanup_free_ char *name = cache_name(network, container_id, ifname);
	_cleanup_free_ char *dir = fs_path_join(cache_dir, "results");
	_cleanup_free_ char *path = NULL, *text = NULL;
	_cleanup_json_ json_t *entry = NULL;
	json_error_t jerr;
	size_t len;

	if (name == NULL || dir == NULL || (path = fs_path_join(dir, name)) == NULL)
		return berth_error_set(err, ENOMEM, "CNI cache");
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return -ENOENT;
	if (fs_read_file(path, &text, &len, err) < 0)
		return berth_error_wrap(err, "CNI cache");
	entry = json_loads(text, 0, &jerr);
	if (entry == NULL)
		return berth_error_set(err, EINVAL, "CNI cache \"%s\": invalid JSON: %s", path, jerr.text);
	if (!json_is_object(json_object_get(entry, "result")) ||
	    strcmp(json_string_value(json_object_get(entry, "kind")) ? json_string_value(json_object_get(entry, "kind"))
								     : "",
		   CACHE_KIND) != 0)
		return berth_error_set(err, EINVAL, "CNI cache \"%s\": not a %s entry with a result", path, CACHE_KIND);
	if (cached_net != NULL) {
		json_t *conf = json_object_get(entry, "config");
		if (!json_is_object(conf))
			return berth_error_set(err, EINVAL, "CNI cache \"%s\": no \"config\"", path);
		if (validate_list(conf, path, cached_net, err) < 0)
			return berth_error_wrap(err, "CNI cache");
	}
	*entry_out = move_ptr(entry);
	return 0;
}

static int cache_remove(const cni_runtime *rt, const char *network, berth_error **err)
{
	_cleanup_free_ char *name = cache_name(network, rt->container_id, rt->ifname);
	_cleanup_close_ int dirfd = -EBADF;

	if (name == NULL)
		return berth_error_set(err, ENOMEM, "CNI cache");
	dirfd = open(rt->cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0) {
		_cleanup_close_ int results = openat(dirfd, "results", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (results >= 0 && unlinkat(results, name, 0) < 0 && errno != ENOENT)
			return berth_error_set(err, errno, "CNI cache: remove \"%s/results/%s\"", rt->cache_dir, name);
	}
	return 0;
}

int cni_cached_result(const char *cache_dir, const char *network, const char *container_id, const char *ifname,
		      json_t **result, berth_error **err)
{
	_cleanup_json_ json_t *entry = NULL;
	int ret;

	if (!name_valid(network) || !name_valid(container_id) || !ifname_valid(ifname))
		return berth_error_set(err, EINVAL, "CNI cache: invalid network, container id or interface name");
	ret = cache_read(cache_dir, network, container_id, ifname, &entry, NULL, err);
	if (ret == -ENOENT)
		return berth_error_set(err, ENOENT,
				       "CNI cache: no result for network \"%s\" container \"%s\" interface \"%s\"",
				       network, container_id, ifname);
	if (ret < 0)
		return ret;
	*result = json_incref(json_object_get(entry, "result"));
	return 0;
}

/* ---- ADD, CHECK, DEL ---- */

static void op_init(struct op *op, const char *command, const cni_network *net, const cni_runtime *rt)
{
	op->command = command;
	op->net = net;
	op->rt = rt;
	op->cap_args = rt->capability_args;
	op->plugin_path = rt->plugin_path && rt->plugin_path[0] ? rt->plugin_path : CNI_DEFAULT_PLUGIN_PATH;
	op->timeout_s = rt->timeout_seconds > 0 ? rt->timeout_seconds : CNI_DEFAULT_TIMEOUT_SECONDS;
}

/* Adds the message of the rollback's error to *ERR, which stays the cause. */
static void note_rollback_failure(berth_error **err, berth_error *rollback)
{
	_cleanup_free_ char *msg = NULL;
	int code;

	berth_log(BERTH_LOG_WARNING, "CNI ADD rollback: %s", rollback->msg);
	if (err == NULL || *err == NULL)
		return;
	code = (*err)->code;
	if (asprintf(&msg, "%s (and rolling back failed: %s)", (*err)->msg, rollback->msg) < 0)
		return;
	free((*err)->msg);
	(*err)->msg = move_ptr(msg);
	(*err)->code = code;
}

int cni_add(const cni_network *net, const cni_runtime *rt, json_t **result, berth_error **err)
{
	_cleanup_json_ json_t *prev = NULL;
	size_t n = cni_network_plugin_count(net);
	struct op op;

	if (check_runtime(rt, "ADD", true, err) < 0)
		return -EINVAL;
	if (rt->capability_args != NULL && !json_is_object(rt->capability_args))
		return berth_error_set(err, EINVAL, "CNI ADD: capability args are not an object");
	op_init(&op, "ADD", net, rt);
	for (size_t i = 0; i < n; i++) {
		json_t *next = NULL;
		int ret = run_plugin(&op, i, prev, &next, err);
		if (ret == 0 && i + 1 == n)
			ret = cache_write(&op, next, err);
		if (ret < 0) {
			_cleanup_error_ berth_error *rollback = NULL;
			/* plugin I may have done half its work: it is deleted too,
			 * unless it was not found (then it never ran) */
			size_t added = ret == -ENOENT ? i : i + 1;
			if (added > 0 && del_from(&op, added - 1, next ? next : prev, true, &rollback) < 0)
				note_rollback_failure(err, rollback);
			json_decref(next);
			return ret;
		}
		json_decref(prev);
		prev = next;
	}
	if (result != NULL)
		*result = move_ptr(prev);
	return 0;
}

int cni_check(const cni_network *net, const cni_runtime *rt, berth_error **err)
{
	_cleanup_json_ json_t *entry = NULL;
	cni_network cached = { 0 };
	struct op op;
	int ret;

	if (check_runtime(rt, "CHECK", true, err) < 0)
		return -EINVAL;
	ret = cache_read(rt->cache_dir, net->name, rt->container_id, rt->ifname, &entry, &cached, err);
	if (ret == -ENOENT)
		return berth_error_set(
		    err, ENOENT, "network \"%s\": CHECK: no cached ADD result for container \"%s\" interface \"%s\"",
		    net->name, rt->container_id, rt->ifname);
	if (ret < 0)
		return ret;
	op_init(&op, "CHECK", &cached, rt);
	op.cap_args = json_object_get(entry, "capabilityArgs");
	if (cached.version_number < VERSION_CHECK) {
		json_decref(cached.conf);
		return berth_error_set(err, ENOTSUP, "network \"%s\": CHECK needs cniVersion 0.4.0 or later, not %s",
				       net->name, cached.version);
	}
	ret = 0;
	if (!json_is_true(json_object_get(cached.conf, "disableCheck")))
		for (size_t i = 0; ret == 0 && i < cni_network_plugin_count(&cached); i++)
			ret = run_plugin(&op, i, json_object_get(entry, "result"), NULL, err);
	json_decref(cached.conf);
	return ret < 0 ? -1 : 0;
}

int cni_del(const cni_network *net, const cni_runtime *rt, berth_error **err)
{
	_cleanup_json_ json_t *entry = NULL;
	cni_network cached = { 0 };
	const cni_network *use = net;
	struct op op;
	int ret;

	if (check_runtime(rt, "DEL", false, err) < 0)
		return -EINVAL;
	ret = cache_read(rt->cache_dir, net->name, rt->container_id, rt->ifname, &entry, &cached, err);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	if (entry != NULL)
		use = &cached;
	op_init(&op, "DEL", use, rt);
	if (entry != NULL)
		op.cap_args = json_object_get(entry, "capabilityArgs");
	/* with no cache (never added, deleted, or a crash before the cache was
	 * written) the plugins still run: deleting what is not there succeeds */
	ret = del_from(&op, cni_network_plugin_count(use) - 1, entry ? json_object_get(entry, "result") : NULL, false,
		       err);
	if (ret == 0)
		ret = cache_remove(rt, net->name, err);
	json_decref(cached.conf);
	return ret;
}

/* ---- reading results ---- */

/* "10.0.0.2/24" -> address, family and prefix length. */
static int parse_cidr(const char *cidr, char **address, int *family, unsigned *prefix)
{
	_cleanup_free_ char *copy = strdup(cidr ? cidr : "");
	unsigned char buf[16];
	char *slash, *end;
	unsigned long len;

	if (copy == NULL || (slash = strchr(copy, '/')) == NULL)
		return -EINVAL;
	*slash = '\0';
	if (inet_pton(AF_INET, copy, buf) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, copy, buf) == 1)
		*family = AF_INET6;
	else
		return -EINVAL;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno != 0 || end == slash + 1 || *end != '\0' || len > (*family == AF_INET ? 32u : 128u))
		return -EINVAL;
	*prefix = (unsigned)len;
	*address = move_ptr(copy);
	return 0;
}

static int take_address(cni_result_info *info, const char *cidr, const char *gateway, const char *where,
			berth_error **err)
{
	_cleanup_free_ char *address = NULL;
	unsigned prefix;
	int family;

	if (parse_cidr(cidr, &address, &family, &prefix) < 0)
		return berth_error_set(err, EINVAL, "CNI result: %s: \"%s\" is not an address with a prefix length",
				       where, cidr ? cidr : "(none)");
	if (family == AF_INET && info->ipv4 == NULL) {
		info->ipv4 = move_ptr(address);
		info->ipv4_prefix = prefix;
		info->ipv4_gateway = gateway ? strdup(gateway) : NULL;
	} else if (family == AF_INET6 && info->ipv6 == NULL) {
		info->ipv6 = move_ptr(address);
		info->ipv6_prefix = prefix;
		info->ipv6_gateway = gateway ? strdup(gateway) : NULL;
	}
	return 0;
}

/* 0.1.0 / 0.2.0: {"ip4": {"ip": CIDR, "gateway"}, "ip6": {...}} */
static int info_from_legacy(const json_t *result, cni_result_info *info, berth_error **err)
{
	static const char *const keys[] = { "ip4", "ip6" };

	for (size_t k = 0; k < 2; k++) {
		const json_t *ip = json_object_get(result, keys[k]);
		if (ip == NULL)
			continue;
		if (take_address(info, json_string_value(json_object_get(ip, "ip")),
				 json_string_value(json_object_get(ip, "gateway")), keys[k], err) < 0)
			return -1;
	}
	return 0;
}

int cni_result_get_info(const json_t *result, const char *ifname, cni_result_info *out, berth_error **err)
{
	const json_t *interfaces = json_object_get(result, "interfaces");
	const json_t *ips = json_object_get(result, "ips");
	cni_result_info info = { 0 };
	const json_t *iface, *ip;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(result))
		return berth_error_set(err, EINVAL, "CNI result: not an object");
	if (ips == NULL) {
		if (info_from_legacy(result, &info, err) < 0) {
			cni_result_info_free(&info);
			return -EINVAL;
		}
		*out = info;
		return 0;
	}
	json_array_foreach(interfaces, i, iface) {
		const char *sandbox = json_string_value(json_object_get(iface, "sandbox"));
		const char *name = json_string_value(json_object_get(iface, "name"));
		const char *mac = json_string_value(json_object_get(iface, "mac"));
		if (sandbox && *sandbox && name && strcmp(name, ifname) == 0 && mac && info.mac == NULL)
			info.mac = strdup(mac);
	}
	json_array_foreach(ips, i, ip) {
		const json_t *index = json_object_get(ip, "interface");
		char where[48];
		if (json_is_integer(index)) {
			iface = json_array_get(interfaces, (size_t)json_integer_value(index));
			const char *sandbox = json_string_value(json_object_get(iface, "sandbox"));
			const char *name = json_string_value(json_object_get(iface, "name"));
			if (sandbox == NULL || *sandbox == '\0' || name == NULL || strcmp(name, ifname) != 0)
				continue;
		}
		snprintf(where, sizeof(where), "ips[%zu].address", i);
		if (take_address(&info, json_string_value(json_object_get(ip, "address")),
				 json_string_value(json_object_get(ip, "gateway")), where, err) < 0) {
			cni_result_info_free(&info);
			return -EINVAL;
		}
	}
	*out = info;
	return 0;
}

void cni_result_info_free(cni_result_info *info)
{
	if (info == NULL)
		return;
	free(info->ipv4);
	free(info->ipv4_gateway);
	free(info->ipv6);
	free(info->ipv6_gateway);
	free(info->mac);
	memset(info, 0, sizeof(*info));
}
