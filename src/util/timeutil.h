/*
 * timeutil.h: clocks and RFC 3339 timestamps. Thread-safe.
 */
#ifndef AGD_TIMEUTIL_H
#define AGD_TIMEUTIL_H

#include <stdint.h>
#include <stddef.h>

int64_t time_now_ms(void);       /* wall clock, ms since the epoch */
int64_t time_mono_us(void);      /* monotonic, microseconds */
/* Formats ms since the epoch as "2026-03-10T14:30:00.123Z" into out (>= 32 bytes). */
void time_format_rfc3339(int64_t ms, char *out, size_t n);
/* Parses an RFC 3339 date-time (Z or +hh:mm offset, optional fraction) into ms; 0 or AGD_EINVAL. */
int time_parse_rfc3339(const char *s, int64_t *ms);

#endif
