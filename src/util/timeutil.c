/*
 * timeutil.c: clocks and RFC 3339 formatting/parsing without locale or TZ dependence.
 */
#include "util/timeutil.h"
#include "util/err.h"

#include <ctype.h>
#include <stdio.h>
#include <time.h>

int64_t time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void time_format_rfc3339(int64_t ms, char *out, size_t n)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	if (n < 25 || tm.tm_year + 1900 > 9999 || ms < 0) {
		snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(ms % 1000));
		return;
	}
	/* "YYYY-MM-DDTHH:MM:SS.mmmZ" without printf: this runs for every timestamp we render */
	int v[7] = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, (int)(ms % 1000)};
	static const char seps[] = "--T::.Z";
	static const int widths[] = {4, 2, 2, 2, 2, 2, 3};
	char *o = out;
	for (int i = 0; i < 7; i++) {
		for (int d = widths[i] - 1; d >= 0; d--) {
			o[d] = (char)('0' + v[i] % 10);
			v[i] /= 10;
		}
		o += widths[i];
		*o++ = seps[i];
	}
	*o = '\0';
}

static int parse_digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return AGD_EINVAL;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return AGD_EINVAL;
	(*p)++;
	return 0;
}

int time_parse_rfc3339(const char *s, int64_t *ms)
{
	const char *p = s;
	int y, mo, d, h, mi, se, frac = 0;
	if (parse_digits(&p, 4, &y) || expect(&p, '-') || parse_digits(&p, 2, &mo) ||
	    expect(&p, '-') || parse_digits(&p, 2, &d))
		return AGD_EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return AGD_EINVAL;
	p++;
	if (parse_digits(&p, 2, &h) || expect(&p, ':') || parse_digits(&p, 2, &mi) ||
	    expect(&p, ':') || parse_digits(&p, 2, &se))
		return AGD_EINVAL;
	if (*p == '.') {
		p++;
		int digits = 0;
		while (isdigit((unsigned char)*p)) {
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
			digits++;
			p++;
		}
		if (digits == 0)
			return AGD_EINVAL;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;
		p++;
		if (parse_digits(&p, 2, &oh) || expect(&p, ':') || parse_digits(&p, 2, &om))
			return AGD_EINVAL;
		if (oh > 23 || om > 59)
			return AGD_EINVAL;
		off = sign * (oh * 60 + om);
	} else {
		return AGD_EINVAL;
	}
	if (*p != '\0')
		return AGD_EINVAL;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    se > 60)
		return AGD_EINVAL;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return AGD_EINVAL;
	/* days from civil (Howard Hinnant's algorithm, public domain arithmetic) */
	int yy = y - (mo <= 2);
	int era = yy / 400;
	int yoe = yy - era * 400;
	int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = (int64_t)era * 146097 + doe - 719468;
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - off * 60;
	*ms = secs * 1000 + frac;
	return 0;
}
