/*
 * jsonw.c: the streaming JSON writer.
 */
#include "util/jsonw.h"
#include "util/err.h"
#include "util/timeutil.h"

#include <string.h>

void jw_init(struct jsonw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (!w->err)
		w->err = buf_append(w->b, s, n);
}

static void prefix(struct jsonw *w, const char *key)
{
	if (w->need_comma[w->depth])
		put(w, ",", 1);
	w->need_comma[w->depth] = 1;
	if (key) {
		if (!w->err)
			w->err = buf_json_str(w->b, key);
		put(w, ":", 1);
	}
}

static void open_(struct jsonw *w, const char *key, char c)
{
	prefix(w, key);
	put(w, &c, 1);
	if (w->depth + 1 >= JW_MAX_DEPTH) {
		w->err = AGD_EINVAL;
		return;
	}
	w->depth++;
	w->need_comma[w->depth] = 0;
}

static void close_(struct jsonw *w, char c)
{
	if (w->depth == 0) {
		w->err = AGD_EINVAL;
		return;
	}
	w->depth--;
	put(w, &c, 1);
}

void jw_obj_open(struct jsonw *w, const char *key) { open_(w, key, '{'); }
void jw_obj_close(struct jsonw *w) { close_(w, '}'); }
void jw_arr_open(struct jsonw *w, const char *key) { open_(w, key, '['); }
void jw_arr_close(struct jsonw *w) { close_(w, ']'); }

void jw_str(struct jsonw *w, const char *key, const char *val)
{
	prefix(w, key);
	if (!w->err)
		w->err = buf_json_str(w->b, val ? val : "");
}

void jw_str_or_null(struct jsonw *w, const char *key, const char *val)
{
	if (!val || !val[0])
		jw_null(w, key);
	else
		jw_str(w, key, val);
}

void jw_int(struct jsonw *w, const char *key, int64_t val)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u = val < 0 ? (uint64_t)0 - (uint64_t)val : (uint64_t)val;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (val < 0)
		*--p = '-';
	prefix(w, key);
	put(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

void jw_bool(struct jsonw *w, const char *key, int val)
{
	prefix(w, key);
	put(w, val ? "true" : "false", val ? 4 : 5);
}

void jw_null(struct jsonw *w, const char *key)
{
	prefix(w, key);
	put(w, "null", 4);
}

void jw_time(struct jsonw *w, const char *key, int64_t ms)
{
	if (!ms) {
		jw_null(w, key);
		return;
	}
	char ts[40];
	time_format_rfc3339(ms, ts, sizeof(ts));
	prefix(w, key);
	put(w, "\"", 1);
	put(w, ts, strlen(ts));
	put(w, "\"", 1);
}

void jw_raw(struct jsonw *w, const char *key, const char *json, size_t len)
{
	prefix(w, key);
	put(w, json, len);
}

int jw_finish(struct jsonw *w)
{
	if (!w->err && w->depth != 0)
		w->err = AGD_EINVAL;
	return w->err;
}
