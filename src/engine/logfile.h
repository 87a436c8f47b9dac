/* Container logs in the CRI "k8s-file" format, as CRI-O and podman write:
 *
 *   2026-11-23T14:00:00.123456789Z stdout F a whole line
 *   2026-11-23T14:00:00.123456789Z stderr P a partial line (no newline yet)
 *
 * The writer rotates by size: at MAX_SIZE the file becomes PATH.1 (one
 * rotated file kept) and a new PATH starts. */
#ifndef BERTH_ENGINE_LOGFILE_H
#define BERTH_ENGINE_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGFILE_DEFAULT_MAX_SIZE (10 * 1024 * 1024)

typedef struct logfile {
	char *path;
	int fd;
	uint64_t size, max_size;
} logfile;

/* Opens PATH for appending. MAX_SIZE 0: the default. */
int logfile_open(logfile *l, const char *path, uint64_t max_size);
void logfile_close(logfile *l);
/* Writes DATA of STREAM ("stdout"/"stderr") as lines; a trailing piece
 * without newline is written as a partial (P) line. */
void logfile_write(logfile *l, const char *stream, const char *data, size_t len);

typedef struct log_entry {
	const char *time; /* points into the line */
	size_t time_len;
	bool is_stderr;
	bool partial;
	const char *text; /* without the prefix, without newline */
	size_t text_len;
} log_entry;

/* Splits one line (without its newline) into E; false when malformed. */
bool logfile_parse_line(const char *line, size_t len, log_entry *e);

/* Parses "since" for `logs --since`: RFC 3339 or a duration ("10s", "5m",
 * "2h"); returns the UTC nanoseconds since the epoch, or -1 when invalid. */
int64_t logfile_parse_since(const char *text);
/* The nanoseconds since the epoch of an RFC 3339 time in a log line. */
int64_t logfile_time_ns(const char *time, size_t len);

#endif
