/* Runtime log: text or JSON lines, to stderr or to the file named by --log.
 *
 * containerd's shim passes `--log FILE --log-format json` and reads the last
 * error from that file, so errors are always logged as well as printed. */
#ifndef BERTH_UTIL_LOG_H
#define BERTH_UTIL_LOG_H

#include <stdbool.h>
#include <time.h>

enum berth_log_level { BERTH_LOG_ERROR, BERTH_LOG_WARNING, BERTH_LOG_INFO, BERTH_LOG_DEBUG };
enum berth_log_format { BERTH_LOG_FORMAT_TEXT, BERTH_LOG_FORMAT_JSON };

/* path NULL: log to stderr. Returns 0 or -errno. */
int berth_log_init(const char *path, enum berth_log_format format, bool debug);
void berth_log(enum berth_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool berth_log_goes_to_stderr(void);
/* The program name stderr lines start with (default "berth-runtime"). */
void berth_log_set_program(const char *name);
bool berth_log_debug_enabled(void);
/* The log fd, so a forked child can keep logging; -1 when logging to stderr. */
int berth_log_fd(void);
/* T as UTC in OUT (year, month, day, hour, minute, second, weekday and day
 * of the year), as gmtime_r, whose first call loads /etc/localtime. */
void berth_utc_time(time_t t, struct tm *out);

#define berth_debug(...)                                                                                               \
	do {                                                                                                           \
		if (berth_log_debug_enabled())                                                                         \
			berth_log(BERTH_LOG_DEBUG, __VA_ARGS__);                                                       \
	} while (0)

#endif
