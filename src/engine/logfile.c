#include "engine/logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "engine/record.h"

int logfile_open(logfile *l, const char *path, uint64_t max_size)
{
	struct stat st;

	l->path = strdup(path);
	l->max_size = max_size ? max_size : LOGFILE_DEFAULT_MAX_SIZE;
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (l->fd < 0 || l->path == NULL)
		return -1;
	l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

void logfile_close(logfile *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(l->path);
	l->path = NULL;
}

static void rotate(logfile *l)
{
	char old[4096];
	int fd;

	snprintf(old, sizeof(old), "%s.1", l->path);
	if (rename(l->path, old) < 0)
		return;
	fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	close(l->fd);
	l->fd = fd;
	l->size = 0;
}

static void write_line(logfile *l, const char *prefix, size_t plen, const char *text, size_t len, bool partial)
{
	struct iovec iov[4] = { { (void *)prefix, plen },
				{ (void *)(partial ? "P " : "F "), 2 },
				{ (void *)text, len },
				{ (void *)"\n", 1 } };
	size_t total = plen + 2 + len + 1;

	if (l->fd < 0)
		return;
	if (l->size > 0 && l->size + total > l->max_size)
		rotate(l);
	if (writev(l->fd, iov, 4) > 0)
		l->size += total;
}

void logfile_write(logfile *l, const char *stream, const char *data, size_t len)
{
	char prefix[64], now[40];
	size_t plen;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s %s ", engine_now_rfc3339(now), stream);
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		write_line(l, prefix, plen, data, n, nl == NULL);
		if (nl == NULL)
			break;
		data += n + 1;
		len -= n + 1;
	}
}

bool logfile_parse_line(const char *line, size_t len, log_entry *e)
{
	const char *sp1 = memchr(line, ' ', len), *sp2, *sp3;

	if (sp1 == NULL)
		return false;
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line));
	if (sp2 == NULL)
		return false;
	sp3 = memchr(sp2 + 1, ' ', len - (size_t)(sp2 + 1 - line));
	e->time = line;
	e->time_len = (size_t)(sp1 - line);
	e->is_stderr = strncmp(sp1 + 1, "stderr", 6) == 0;
	e->partial = sp2[1] == 'P';
	if (sp3 == NULL) {
		e->text = line + len;
		e->text_len = 0;
		return true;
	}
	e->text = sp3 + 1;
	e->text_len = len - (size_t)(sp3 + 1 - line);
	return true;
}

int64_t logfile_time_ns(const char *time, size_t len)
{
	struct tm tm = { 0 };
	char buf[64];
	const char *rest;
	int64_t ns = 0;
	int digits = 0;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, time, len);
	buf[len] = '\0';
	rest = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL)
		return -1;
	if (*rest == '.') {
		for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
			if (digits < 9)
				ns = ns * 10 + (*rest - '0');
		for (; digits < 9; digits++)
			ns *= 10;
	}
	return (int64_t)timegm(&tm) * 1000000000LL + ns;
}

int64_t logfile_parse_since(const char *text)
{
	char *end;
	double v;
	struct timespec now;

	if (strchr(text, 'T') || strchr(text, '-'))
		return logfile_time_ns(text, strlen(text));
	v = strtod(text, &end);
	if (end == text || v < 0)
		return -1;
	switch (*end) {
	case 'h':
		v *= 3600;
		break;
	case 'm':
		v *= 60;
		break;
	case 's':
	case '\0':
		break;
	default:
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec - (int64_t)(v * 1e9);
}
