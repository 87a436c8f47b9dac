/* GET /containers/{id}/logs and POST /containers/{id}/attach: the output as
 * the monitor logs it (engine/logfile.h), in docker's multiplexed frames
 * (raw for a TTY), and the input through the monitor's attach socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/containers.h"
#include "api/http.h"
#include "engine/attach.h"
#include "engine/logfile.h"
#include "util/cleanup.h"

typedef struct output {
	engine_paths paths;
	char *store_root, *run_root, *id, *log_path;
	bool tty, want_stdout, want_stderr, timestamps, follow;
	int64_t since_ns, until_ns;
	long tail; /* -1: all */
	int log_fd;
	ino_t log_ino;
	char pending[65536];
	size_t have;
	bool input; /* attach: pass the client's input */
} output;

static void output_free(void *arg)
{
	output *o = arg;

	if (o->log_fd >= 0)
		close(o->log_fd);
	engine_paths_free(&o->paths);
	free(o->store_root);
	free(o->run_root);
	free(o->id);
	free(o->log_path);
	free(o);
}

static output *output_new(api_request *r, const container *c)
{
	output *o = calloc(1, sizeof(*o));
	berth_error *e = NULL;

	if (o == NULL)
		return NULL;
	o->log_fd = -1;
	o->tail = -1;
	o->store_root = strdup(r->server->options->store_root);
	o->run_root = strdup(r->server->options->run_root);
	o->id = strdup(c->id);
	o->log_path = record_path(c, "ctr.log");
	o->tty = record_config_bool(c, "Tty");
	if (!o->store_root || !o->run_root || !o->id || !o->log_path ||
	    engine_paths_init(&o->paths, o->store_root, o->run_root, &e) < 0) {
		berth_error_free(&e);
		output_free(o);
		return NULL;
	}
	return o;
}

/* One log line to FD as docker's stream; false when the client went. */
static bool emit(output *o, int fd, const char *line, size_t len)
{
	log_entry e;
	char *buf;
	size_t n = 0;
	bool ok;

	if (!logfile_parse_line(line, len, &e))
		return true;
	if ((e.is_stderr && !o->want_stderr) || (!e.is_stderr && !o->want_stdout))
		return true;
	if (o->since_ns || o->until_ns) {
		int64_t t = logfile_time_ns(e.time, e.time_len);
		if ((o->since_ns && t < o->since_ns) || (o->until_ns && t >= o->until_ns))
			return true;
	}
	buf = malloc(e.time_len + e.text_len + 2);
	if (buf == NULL)
		return false;
	if (o->timestamps) {
		memcpy(buf, e.time, e.time_len);
		buf[e.time_len] = ' ';
		n = e.time_len + 1;
	}
	memcpy(buf + n, e.text, e.text_len);
	n += e.text_len;
	if (!e.partial)
		buf[n++] = '\n';
	ok = o->tty ? api_write_all(fd, buf, n) : api_write_frame(fd, e.is_stderr ? 2 : 1, buf, n);
	free(buf);
	return ok;
}

/* The complete lines of O->pending to FD. */
static bool emit_pending(output *o, int fd)
{
	size_t start = 0;
	bool ok = true;

	for (char *nl; ok && (nl = memchr(o->pending + start, '\n', o->have - start)) != NULL;) {
		ok = emit(o, fd, o->pending + start, (size_t)(nl - (o->pending + start)));
		start = (size_t)(nl - o->pending) + 1;
	}
	memmove(o->pending, o->pending + start, o->have - start);
	o->have -= start;
	if (o->have == sizeof(o->pending)) /* a line longer than the buffer */
		o->have = 0;
	return ok;
}

/* What the monitor appended since the last call, following a rotation. */
static bool drain(output *o, int fd)
{
	struct stat st;

	for (;;) {
		ssize_t n;
		while (o->log_fd >= 0 &&
		       (n = read(o->log_fd, o->pending + o->have, sizeof(o->pending) - o->have)) > 0) {
			o->have += (size_t)n;
			if (!emit_pending(o, fd))
				return false;
		}
		if (stat(o->log_path, &st) < 0 || (o->log_fd >= 0 && st.st_ino == o->log_ino))
			return true;
		if (o->log_fd >= 0)
			close(o->log_fd);
		o->log_fd = open(o->log_path, O_RDONLY | O_CLOEXEC);
		o->log_ino = st.st_ino;
		if (o->log_fd < 0)
			return true;
	}
}

/* ---- logs ---- */

static void append_file(const char *path, char **buf, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char chunk[65536];
	ssize_t n;

	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0) {
		char *b = realloc(*buf, *len + (size_t)n + 1);
		if (b == NULL)
			return;
		memcpy(b + *len, chunk, (size_t)n);
		*buf = b;
		*len += (size_t)n;
	}
}

static void logs_produce(int fd, void *arg)
{
	output *o = arg;
	_cleanup_free_ char *old = NULL, *buf = NULL;
	size_t len = 0, start = 0;
	struct stat st;
	int ticks = 0;

	if (asprintf(&old, "%s.1", o->log_path) < 0)
		return;
	append_file(old, &buf, &len);
	/* the current file, kept open for -f from where it was read */
	o->log_fd = open(o->log_path, O_RDONLY | O_CLOEXEC);
	if (o->log_fd >= 0 && fstat(o->log_fd, &st) == 0) {
		char chunk[65536];
		ssize_t n;
		o->log_ino = st.st_ino;
		while ((n = read(o->log_fd, chunk, sizeof(chunk))) > 0) {
			char *b = realloc(buf, len + (size_t)n + 1);
			if (b == NULL)
				return;
			memcpy(b + len, chunk, (size_t)n);
			buf = b;
			len += (size_t)n;
		}
	}
	if (o->tail >= 0) {
		/* the start of the last TAIL lines (the buffer ends with a newline) */
		long lines = 0;
		start = len;
		while (start > 0 && lines < o->tail) {
			start--;
			while (start > 0 && buf[start - 1] != '\n')
				start--;
			lines++;
		}
	}
	while (start < len) {
		char *nl = memchr(buf + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - buf) : len;
		if (!emit(o, fd, buf + start, end - start))
			return;
		start = end + 1;
	}
	if (!o->follow)
		return;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = 0 };
		if (!drain(o, fd) || (poll(&p, 1, 100) > 0 && (p.revents & (POLLERR | POLLHUP))))
			return;
		if (++ticks % 3 == 0) {
			container *c = NULL;
			berth_error *e = NULL;
			bool live = record_open(&o->paths, o->id, &c, &e) == 0 &&
				    record_refresh(&o->paths, c, &e) == 0 && engine_status_is_live(c->state.status);
			berth_error_free(&e);
			container_free(c);
			if (!live) {
				drain(o, fd);
				return;
			}
		}
	}
}

static int64_t query_time(api_request *r, const char *name)
{
	const char *v = api_query(r, name);
	char *end;
	double secs;

	if (v == NULL || *v == '\0' || strcmp(v, "0") == 0)
		return 0;
	secs = strtod(v, &end);
	if (*end == '\0')
		return (int64_t)(secs * 1e9);
	return logfile_parse_since(v);
}

void api_container_logs(api_request *r)
{
	container *c = NULL;
	output *o;
	const char *tail = api_query(r, "tail");

	if (api_open_container(r, &c) < 0)
		return;
	o = output_new(r, c);
	container_free(c);
	if (o == NULL) {
		api_reply_error(r, 500, "logs: out of memory");
		return;
	}
	o->want_stdout = api_query_bool(r, "stdout", false);
	o->want_stderr = api_query_bool(r, "stderr", false);
	if (!o->want_stdout && !o->want_stderr) {
		output_free(o);
		api_reply_error(r, 400, "Bad parameters: you must choose at least one stream");
		return;
	}
	o->follow = api_query_bool(r, "follow", false);
	o->timestamps = api_query_bool(r, "timestamps", false);
	o->since_ns = query_time(r, "since");
	o->until_ns = query_time(r, "until");
	if (o->since_ns < 0 || o->until_ns < 0) {
		output_free(o);
		api_reply_error(r, 400, "since/until: expected a unix time, an RFC 3339 time or a duration");
		return;
	}
	if (tail && strcmp(tail, "all") != 0)
		o->tail = api_query_long(r, "tail", -1);
	api_reply_stream(r, 200,
			 o->tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
			 logs_produce, o, output_free);
}

/* ---- attach ---- */

typedef struct input_pump {
	int sock, input;
} input_pump;

static void *pump_input(void *arg)
{
	input_pump *p = arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(p->sock, buf, sizeof(buf))) > 0)
		if (!api_write_all(p->input, buf, (size_t)n))
			break;
	/* the client's end of input (CloseWrite): the container's stdin ends,
	 * unless a terminal (docker keeps a TTY open) */
	close(p->input);
	return NULL;
}

static void serve_attach(int sock, void *arg)
{
	output *o = arg;
	container *c = NULL;
	berth_error *e = NULL;
	char *first_start = NULL;
	bool seen_live = false, pumping = false;
	input_pump pump = { .sock = sock, .input = -1 };
	pthread_t pump_thread;
	int ticks = 0;
	_cleanup_close_ int watch = -EBADF;

	if (record_open(&o->paths, o->id, &c, &e) < 0) {
		berth_error_free(&e);
		return;
	}
	first_start = c->state.started_at ? strdup(c->state.started_at) : NULL;
	/* the record's changes wake us at once (the container's exit is the
	 * end of `docker run`); the ticks are the fallback */
	watch = api_watch_record(c);
	for (;;) {
		bool live, gone;
		int woke;
		if (!drain(o, sock))
			break;
		woke = api_wait_record(sock, watch, 50);
		if (woke == 1)
			break;
		if (++ticks % 2 != 0 && woke != 2)
			continue;
		gone = record_load_state(c, &e) < 0 || record_refresh(&o->paths, c, &e) < 0;
		berth_error_free(&e);
		live = !gone && engine_status_is_live(c->state.status);
		if (!gone && !seen_live)
			seen_live = live || (c->state.started_at &&
					     (first_start == NULL || strcmp(first_start, c->state.started_at) != 0));
		if (live && o->input && !pumping) {
			bool tty;
			if (attach_connect(c, &pump.input, &tty, &e) == 0 && pump.input >= 0 &&
			    pthread_create(&pump_thread, NULL, pump_input, &pump) == 0)
				pumping = true;
			else if (pump.input >= 0)
				close(pump.input);
			berth_error_free(&e);
			o->input = false;
		}
		if (gone || (!live && seen_live)) {
			drain(o, sock);
			break;
		}
	}
	shutdown(sock, SHUT_RDWR);
	if (pumping)
		pthread_join(pump_thread, NULL);
	free(first_start);
	container_free(c);
}

void api_container_attach(api_request *r)
{
	container *c = NULL;
	output *o;
	struct stat st;

	if (api_open_container(r, &c) < 0)
		return;
	o = output_new(r, c);
	container_free(c);
	if (o == NULL) {
		api_reply_error(r, 500, "attach: out of memory");
		return;
	}
	o->want_stdout = api_query_bool(r, "stdout", false);
	o->want_stderr = api_query_bool(r, "stderr", false);
	o->input = api_query_bool(r, "stdin", false);
	/* the log is made now when the container never ran, so the first
	 * lines of a short-lived container are not missed */
	if (stat(o->log_path, &st) < 0) {
		int fd = open(o->log_path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0)
			close(fd);
	}
	o->log_fd = open(o->log_path, O_RDONLY | O_CLOEXEC);
	if (o->log_fd >= 0 && fstat(o->log_fd, &st) == 0) {
		o->log_ino = st.st_ino;
		if (!api_query_bool(r, "logs", false))
			lseek(o->log_fd, 0, SEEK_END);
	}
	api_reply_hijack(r, serve_attach, o, output_free);
}
