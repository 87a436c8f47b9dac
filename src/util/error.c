#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static int error_return_value(int code)
{
	return code > 0 ? -code : -1;
}

int berth_error_setv(berth_error **err, int errno_value, const char *fmt, va_list ap)
{
	char *text = NULL;
	berth_error *e;

	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		free(text);
		return error_return_value(errno_value);
	}
	e->code = errno_value;
	if (errno_value > 0 && text != NULL) {
		char *full = NULL;
		if (asprintf(&full, "%s: %s", text, strerror(errno_value)) >= 0) {
			free(text);
			text = full;
		}
	}
	e->msg = text ? text : strdup("(out of memory formatting error)");
	if (err == NULL) {
		free(e->msg);
		free(e);
	} else {
		berth_error_free(err);
		*err = e;
	}
	return error_return_value(errno_value);
}

int berth_error_set(berth_error **err, int errno_value, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = berth_error_setv(err, errno_value, fmt, ap);
	va_end(ap);
	return ret;
}

int berth_error_wrap(berth_error **err, const char *fmt, ...)
{
	char *prefix = NULL, *full = NULL;
	va_list ap;
	int ret;

	if (err == NULL || *err == NULL)
		return -1;
	ret = error_return_value((*err)->code);
	va_start(ap, fmt);
	if (vasprintf(&prefix, fmt, ap) < 0)
		prefix = NULL;
	va_end(ap);
	if (prefix == NULL)
		return ret;
	if (asprintf(&full, "%s: %s", prefix, (*err)->msg) >= 0) {
		free((*err)->msg);
		(*err)->msg = full;
	}
	free(prefix);
	return ret;
}

void berth_error_free(berth_error **err)
{
	if (err == NULL || *err == NULL)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

void berth_error_report(const char *program, berth_error **err)
{
	if (err == NULL || *err == NULL)
		return;
	berth_log(BERTH_LOG_ERROR, "%s", (*err)->msg);
	if (!berth_log_goes_to_stderr())
		fprintf(stderr, "%s: %s\n", program, (*err)->msg);
	berth_error_free(err);
}

int berth_error_request(berth_error **err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	berth_error_setv(err, 0, fmt, ap);
	va_end(ap);
	if (err != NULL && *err != NULL)
		(*err)->code = code;
	return -code;
}
