/*
 * strutil.h: small string helpers. Thread-safe (no state).
 */
#ifndef AGD_STRUTIL_H
#define AGD_STRUTIL_H

#include <stddef.h>

/*
 * Iterates a list separated by commas and/or spaces ("a,b c"): returns 1 and sets *tok and *len
 * to the next item, advancing *p; returns 0 at the end. Empty items are skipped.
 */
int csv_next(const char **p, const char **tok, size_t *len);

#endif
