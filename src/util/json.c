/*
 * json.c: capped JSON parsing for request bodies and config files, plus field getters.
 */
#include "util/json.h"

#include <stdio.h>
#include <string.h>

int json_depth_check(const char *data, size_t len, int max_depth, int *line, int *col)
{
	int depth = 0, in_str = 0, esc = 0, ln = 1, cl = 0;
	for (size_t i = 0; i < len; i++) {
		char c = data[i];
		if (c == '\n') {
			ln++;
			cl = 0;
		} else {
			cl++;
		}
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > max_depth) {
				*line = ln;
				*col = cl;
				return AGD_ETOOBIG;
			}
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return 0;
}

int json_parse(const char *data, size_t len, int max_depth, json_t **out, agd_errbuf *eb)
{
	int line, col;
	*out = NULL;
	if (len == 0)
		return agd_fail(eb, AGD_EINVAL, "request body is empty; a JSON value was expected");
	if (json_depth_check(data, len, max_depth, &line, &col))
		return agd_fail(eb, AGD_EINVAL,
				"JSON nesting deeper than %d levels at line %d, column %d", max_depth,
				line, col);
	json_error_t je;
	json_t *v = json_loadb(data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		/* jansson points at the last character of a bad token; point at its start */
		int column = je.column;
		const char *near = strstr(je.text, "near '");
		if (near) {
			const char *tok = near + 6;
			const char *end = strrchr(tok, '\'');
			int tl = end ? (int)(end - tok) : 0;
			if (tl > 0 && tl < column && !memchr(tok, '\n', (size_t)tl))
				column = column - tl + 1;
		}
		return agd_fail(eb, AGD_EINVAL, "malformed JSON at line %d, column %d: %s", je.line,
				column, je.text);
	}
	*out = v;
	return 0;
}

int json_get_str(json_t *obj, const char *key, const char **out, agd_errbuf *eb)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return agd_fail(eb, AGD_EINVAL, "field '%s' must be a string", key);
	*out = json_string_value(v);
	return 0;
}

int json_get_int(json_t *obj, const char *key, long long min, long long max, long long *out,
		 int *present, agd_errbuf *eb)
{
	json_t *v = json_object_get(obj, key);
	if (present)
		*present = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return agd_fail(eb, AGD_EINVAL, "field '%s' must be an integer", key);
	long long n = json_integer_value(v);
	if (n < min || n > max)
		return agd_fail(eb, AGD_EINVAL, "field '%s' must be between %lld and %lld", key, min,
				max);
	*out = n;
	if (present)
		*present = 1;
	return 0;
}

char *json_dump_compact(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}
