#include "util/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

static const char *log_program = "berth-runtime";
static int log_fd = -1;
static enum berth_log_format log_format = BERTH_LOG_FORMAT_TEXT;
static bool log_debug;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int berth_log_init(const char *path, enum berth_log_format format, bool debug)
{
	log_format = format;
	log_debug = debug;
	if (path == NULL || path[0] == '\0')
		return 0;
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (log_fd < 0)
		return -1;
	return 0;
}

bool berth_log_goes_to_stderr(void)
{
	return log_fd < 0;
}

bool berth_log_debug_enabled(void)
{
	return log_debug;
}

int berth_log_fd(void)
{
	return log_fd;
}

static void format_time(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;
	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06ldZ", (long)tv.tv_usec);
}

void berth_log(enum berth_log_level level, const char *fmt, ...)
{
	char stamp[64], *msg = NULL, *line = NULL;
	int fd = log_fd >= 0 ? log_fd : STDERR_FILENO;
	va_list ap;
	int len;

	if (level == BERTH_LOG_DEBUG && !log_debug)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		return;
	format_time(stamp, sizeof(stamp));
	if (log_format == BERTH_LOG_FORMAT_JSON) {
		json_t *obj = json_pack("{s:s, s:s, s:s}", "level", level_names[level], "msg", msg, "time", stamp);
		line = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
		json_decref(obj);
		if (line != NULL) {
			char *with_nl = NULL;
			if (asprintf(&with_nl, "%s\n", line) < 0)
				with_nl = NULL;
			free(line);
			line = with_nl;
		}
	} else if (log_fd >= 0) {
		if (asprintf(&line, "%s %s: %s\n", stamp, level_names[level], msg) < 0)
			line = NULL;
	} else {
		if (asprintf(&line, "%s: %s%s%s\n", log_program, level == BERTH_LOG_ERROR ? "" : level_names[level],
			     level == BERTH_LOG_ERROR ? "" : ": ", msg) < 0)
			line = NULL;
	}
	if (line != NULL) {
		len = strlen(line);
		if (write(fd, line, len) < 0) {
			/* nowhere left to report a failed log write */
		}
	}
	free(line);
	free(msg);
}

void berth_log_set_program(const char *name)
{
	log_program = name;
}
