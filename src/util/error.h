/* berth error type.
 *
 * Every fallible libberth function takes `berth_error **err`, returns 0 on
 * success or a negative value on failure, and on failure leaves a heap
 * allocated error in *err.  Callers add context with berth_error_wrap() as
 * the error travels up, so the final message reads like a sentence:
 *   create c1: mount "proc" on "/proc": Operation not permitted
 */
#ifndef BERTH_UTIL_ERROR_H
#define BERTH_UTIL_ERROR_H

#include <stdarg.h>

typedef struct berth_error {
	int code; /* errno value of the root cause, 0 if none */
	char *msg;
} berth_error;

/* Sets *err to a new error; appends strerror(errno_value) when non-zero.
 * Returns -errno_value, or -1 when errno_value is 0. */
int berth_error_set(berth_error **err, int errno_value, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int berth_error_setv(berth_error **err, int errno_value, const char *fmt, va_list ap);

/* An error about the request itself: the message without a strerror
 * suffix, CODE kept in ->code for callers that tell errors apart. Returns
 * -CODE. */
int berth_error_request(berth_error **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes the message of *err with "CONTEXT: ". Returns the same value the
 * original setter returned (-code, or -1). Safe to call with *err == NULL. */
int berth_error_wrap(berth_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void berth_error_free(berth_error **err);

/* Writes "PROGRAM: MESSAGE\n" to stderr and to the log, then frees. */
void berth_error_report(const char *program, berth_error **err);

#define _cleanup_error_ __attribute__((cleanup(berth_error_free)))

#endif
