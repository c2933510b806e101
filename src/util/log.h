/*
 * log.h: JSON-lines logs. The error log (leveled, to stderr by default) and the access log
 * (one line per request) are separate sinks. Each line is written with one write(2), so
 * lines from different threads never interleave. Thread-safe.
 */
#ifndef AGD_LOG_H
#define AGD_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
/* "debug", "info", "warn", "error"; returns 0 or AGD_EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
/* Where the access log goes: "-" (stderr), "off", or a file path (appended). 0 or AGD_EIO. */
int log_access_open(const char *where);
int log_access_enabled(void);
/* Writes one already-formatted JSON object line (without newline) to the access log. */
void log_access_line(const char *line, size_t len);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
