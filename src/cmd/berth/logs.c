/* berth logs: the container's k8s-file log (engine/logfile.h) without its
 * prefixes; stdout lines to stdout, stderr lines to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/logfile.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const option_spec specs[] = {
	{ "follow", 'f', false, "keep printing new output until the container stops" },
	{ "tail", 'n', true, "only the last N lines (default all)" },
	{ "since", 0, true, "only lines since an RFC 3339 time or a duration (10m)" },
	{ "timestamps", 't', false, "prefix each line with its time" },
	{ NULL, 0, false, NULL },
};

typedef struct log_view {
	bool timestamps;
	int64_t since_ns;
} log_view;

static void print_entry(const log_view *view, const char *line, size_t len)
{
	log_entry e;
	FILE *out;

	if (!logfile_parse_line(line, len, &e))
		return;
	if (view->since_ns > 0 && logfile_time_ns(e.time, e.time_len) < view->since_ns)
		return;
	out = e.is_stderr ? stderr : stdout;
	if (view->timestamps)
		fprintf(out, "%.*s ", (int)e.time_len, e.time);
	fwrite(e.text, 1, e.text_len, out);
	if (!e.partial)
		fputc('\n', out);
	fflush(out);
}

/* Prints the complete lines of BUF[0..LEN), only the last TAIL (<0: all);
 * returns the bytes consumed (a trailing piece without newline stays). */
static size_t print_lines(const log_view *view, const char *buf, size_t len, long tail)
{
	size_t end = len, start = 0;
	long lines = 0;

	while (end > 0 && buf[end - 1] != '\n')
		end--;
	for (size_t i = 0; i < end; i++)
		lines += buf[i] == '\n';
	for (long skip = tail >= 0 && lines > tail ? lines - tail : 0; skip > 0; start++)
		if (buf[start] == '\n')
			skip--;
	while (start < end) {
		const char *nl = memchr(buf + start, '\n', end - start);
		print_entry(view, buf + start, (size_t)(nl - (buf + start)));
		start = (size_t)(nl - buf) + 1;
	}
	return end;
}

static void append_file(const char *path, char **buf, size_t *len)
{
	_cleanup_free_ char *text = NULL;
	berth_error *err = NULL;
	size_t n = 0;
	char *grown;

	if (fs_read_file(path, &text, &n, &err) < 0) {
		berth_error_free(&err);
		return;
	}
	grown = realloc(*buf, *len + n + 1);
	if (grown == NULL)
		return;
	memcpy(grown + *len, text, n);
	*len += n;
	grown[*len] = '\0';
	*buf = grown;
}

/* -f: reads what the monitor appends until the container is not live. */
static void follow(const engine_paths *p, container *c, const log_view *view, const char *path, off_t offset)
{
	char buf[65536], pending[65536];
	size_t have = 0;
	struct stat st;
	ino_t ino = 0;
	int fd = -1, idle = 0;

	for (;;) {
		ssize_t n;
		berth_error *ignored = NULL;
		if (fd < 0) {
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && fstat(fd, &st) == 0) {
				ino = st.st_ino;
				lseek(fd, offset, SEEK_SET);
			}
			offset = 0;
		}
		n = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;
		if (n > 0) {
			size_t used;
			if (have + (size_t)n > sizeof(pending))
				have = 0;
			memcpy(pending + have, buf, (size_t)n);
			have += (size_t)n;
			used = print_lines(view, pending, have, -1);
			memmove(pending, pending + used, have - used);
			have -= used;
			continue;
		}
		if (stat(path, &st) == 0 && st.st_ino != ino && fd >= 0) {
			close(fd); /* rotated: the new file from its start */
			fd = -1;
			continue;
		}
		if (idle++ % 5 == 0) {
			bool done = record_load_state(c, &ignored) < 0 || record_refresh(p, c, &ignored) < 0 ||
				    (!engine_status_is_live(c->state.status) && idle > 1);
			berth_error_free(&ignored);
			if (done)
				break;
		}
		usleep(50000);
	}
	if (fd >= 0)
		close(fd);
}

int cmd_logs(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[5] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL, *path = NULL, *old = NULL, *buf = NULL;
	engine_paths paths = { 0 };
	log_view view = { 0 };
	container *c = NULL;
	size_t len = 0, consumed;
	long tail = -1;
	int npos, ret;

	ret = berth_parse_grouped("logs", "logs [-f] [--tail N] [--since T] [-t] CONTAINER", specs, argc, argv, false,
				  v, &pos, &npos, 1, 1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	view.timestamps = option_bool(&v[3]);
	if (v[1].value && strcmp(v[1].value, "all") != 0) {
		char *end;
		tail = strtol(v[1].value, &end, 10);
		if (*end != '\0' || tail < 0)
			return berth_error_set(err, EINVAL, "logs --tail: invalid number \"%s\"", v[1].value), 125;
	}
	if (v[2].value && (view.since_ns = logfile_parse_since(v[2].value)) < 0)
		return berth_error_set(err, EINVAL, "logs --since: invalid time \"%s\"", v[2].value), 125;
	if (berth_engine_open(g, &paths, err) < 0 || record_open(&paths, pos[0], &c, err) < 0) {
		engine_paths_free(&paths);
		return 125;
	}
	path = record_path(c, "ctr.log");
	if (asprintf(&old, "%s.1", path) < 0)
		old = NULL;
	if (old)
		append_file(old, &buf, &len);
	append_file(path, &buf, &len);
	consumed = print_lines(&view, buf ? buf : "", len, tail);
	if (option_bool(&v[0])) {
		struct stat st;
		off_t offset = stat(path, &st) == 0 ? st.st_size - (off_t)(len - consumed) : 0;
		follow(&paths, c, &view, path, offset < 0 ? 0 : offset);
	}
	container_free(c);
	engine_paths_free(&paths);
	return 0;
}
