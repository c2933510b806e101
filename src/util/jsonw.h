/*
 * jsonw.h: a streaming JSON writer into a capped struct buf, for responses on hot paths
 * (no intermediate tree, no per-value allocation). Keys are written only inside objects; pass
 * NULL as the key for array elements and the top level. Errors (a cap hit) are sticky and
 * reported by jw_finish. Not thread-safe; one writer per buffer.
 */
#ifndef AGD_JSONW_H
#define AGD_JSONW_H

#include <stdint.h>

#include "util/buf.h"

#define JW_MAX_DEPTH 32

struct jsonw {
	struct buf *b;
	int depth;
	int err;
	unsigned char need_comma[JW_MAX_DEPTH];
};

void jw_init(struct jsonw *w, struct buf *b);
void jw_obj_open(struct jsonw *w, const char *key);
void jw_obj_close(struct jsonw *w);
void jw_arr_open(struct jsonw *w, const char *key);
void jw_arr_close(struct jsonw *w);
void jw_str(struct jsonw *w, const char *key, const char *val);   /* NULL or "" -> as given */
void jw_str_or_null(struct jsonw *w, const char *key, const char *val); /* NULL/"" -> null */
void jw_int(struct jsonw *w, const char *key, int64_t val);
void jw_bool(struct jsonw *w, const char *key, int val);
void jw_null(struct jsonw *w, const char *key);
/* RFC 3339 time from ms since the epoch; 0 writes null. */
void jw_time(struct jsonw *w, const char *key, int64_t ms);
/* Already-serialised JSON text. */
void jw_raw(struct jsonw *w, const char *key, const char *json, size_t len);
/* Returns 0, or the first error (AGD_ETOOBIG / AGD_EINVAL for unbalanced nesting). */
int jw_finish(struct jsonw *w);

#endif
