/*
 * json.h: jansson helpers. Parsing with a nesting cap and precise error positions, and typed
 * getters that produce messages naming the field. Thread-safe (no shared state).
 */
#ifndef AGD_JSON_H
#define AGD_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

/*
 * Parses len bytes as one JSON value. Nesting deeper than max_depth, invalid syntax or
 * trailing garbage fail with AGD_EINVAL and a message naming line and column in eb.
 * On success *out is a new reference owned by the caller.
 */
int json_parse(const char *data, size_t len, int max_depth, json_t **out, agd_errbuf *eb);

/*
 * Scans for nesting depth without parsing. Returns 0 when within max_depth, else AGD_ETOOBIG
 * with the 1-based line and column of the bracket that went too deep.
 */
int json_depth_check(const char *data, size_t len, int max_depth, int *line, int *col);

/* Returns the string at key, NULL when absent or JSON null; AGD_EINVAL (message) when not a
 * string. */
int json_get_str(json_t *obj, const char *key, const char **out, agd_errbuf *eb);
/* Integer at key; absent or null leaves *out unchanged. */
int json_get_int(json_t *obj, const char *key, long long min, long long max, long long *out,
		 int *present, agd_errbuf *eb);
/* Serialises compactly; the caller frees. */
char *json_dump_compact(const json_t *v);

#endif
