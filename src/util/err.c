/*
 * err.c: names for the error enum and the error-buffer helper. Thread-safe, no state.
 */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const err_names[] = {
	[0] = "ok",
	[1] = "out_of_memory",
	[2] = "invalid",
	[3] = "not_found",
	[4] = "conflict",
	[5] = "too_big",
	[6] = "io_error",
	[7] = "busy",
	[8] = "shutting_down",
	[9] = "internal",
	[10] = "quota_exceeded",
};

const char *agd_strerror(int code)
{
	int i = -code;
	if (i < 0 || (size_t)i >= sizeof(err_names) / sizeof(err_names[0]))
		return "unknown";
	return err_names[i];
}

int agd_fail(agd_errbuf *eb, int code, const char *fmt, ...)
{
	if (eb) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}
