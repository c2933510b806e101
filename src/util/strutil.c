/*
 * strutil.c: small string helpers.
 */
#include "util/strutil.h"

int csv_next(const char **p, const char **tok, size_t *len)
{
	const char *s = *p;
	while (*s == ',' || *s == ' ')
		s++;
	if (!*s) {
		*p = s;
		return 0;
	}
	const char *e = s;
	while (*e && *e != ',' && *e != ' ')
		e++;
	*tok = s;
	*len = (size_t)(e - s);
	*p = e;
	return 1;
}
