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

void berth_utc_time(time_t t, struct tm *out)
{
	/* days since 1970-01-01, then the civil date counted in 400-year
	 * eras that start on 0000-03-01 (so that the leap day ends a year) */
	long long days = t / 86400, secs = t % 86400;
	long long era, year;
	unsigned day_of_era, year_of_era, day_of_year, mp;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	memset(out, 0, sizeof(*out));
	out->tm_hour = (int)(secs / 3600);
	out->tm_min = (int)(secs / 60 % 60);
	out->tm_sec = (int)(secs % 60);
	out->tm_wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
	days += 719468;				     /* 0000-03-01 to 1970-01-01 */
	era = (days >= 0 ? days : days - 146096) / 146097;
	day_of_era = (unsigned)(days - era * 146097);
	year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
	day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
	mp = (5 * day_of_year + 2) / 153; /* months from March */
	year = (long long)year_of_era + era * 400 + (mp >= 10);
	out->tm_mday = (int)(day_of_year - (153 * mp + 2) / 5 + 1);
	out->tm_mon = (int)(mp < 10 ? mp + 2 : mp - 10);
	out->tm_year = (int)(year - 1900);
	{
		static const int before[] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
		bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
		out->tm_yday = before[out->tm_mon] + out->tm_mday - 1 + (leap && out->tm_mon > 1);
	}
}

static void format_time(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	berth_utc_time(tv.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
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
