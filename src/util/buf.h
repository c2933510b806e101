/*
 * buf.h: a growable byte buffer with a hard cap set when it is created. Appending past the
 * cap fails with AGD_ETOOBIG and leaves the buffer unchanged: nothing is ever silently
 * truncated. Not thread-safe; a buffer has one owner.
 */
#ifndef AGD_BUF_H
#define AGD_BUF_H

#include <stddef.h>

struct buf {
	char *data;     /* always NUL-terminated when len > 0 or after buf_cstr */
	size_t len;
	size_t cap;     /* allocated bytes */
	size_t max;     /* hard cap on len */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (with quotes and escapes). */
int buf_json_str(struct buf *b, const char *s);
/* Returns a NUL-terminated view ("" when empty). */
const char *buf_cstr(struct buf *b);
/* Hands the allocation to the caller (who frees it); the buffer is left empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
