/*
 * buf.c: capped growable buffers. Used by the HTTP layer for request bodies and responses,
 * by the log writers and by anything that builds text. Owner-thread only.
 */
#include "util/buf.h"
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int buf_reserve(struct buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return AGD_ETOOBIG;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	char *p = realloc(b->data, ncap);
	if (!p)
		return AGD_ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return AGD_EINVAL;
	if ((size_t)n < sizeof(small))
		return buf_append(b, small, (size_t)n);
	int rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int buf_json_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	int rc = buf_append(b, "\"", 1);
	const unsigned char *p = (const unsigned char *)s;
	while (!rc && *p) {
		const unsigned char *run = p;   /* copy runs of plain characters at once */
		while (*p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			rc = buf_append(b, run, (size_t)(p - run));
		if (rc || !*p)
			break;
		switch (*p) {
		case '"': rc = buf_append(b, "\\\"", 2); break;
		case '\\': rc = buf_append(b, "\\\\", 2); break;
		case '\n': rc = buf_append(b, "\\n", 2); break;
		case '\r': rc = buf_append(b, "\\r", 2); break;
		case '\t': rc = buf_append(b, "\\t", 2); break;
		default: {
			char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
			rc = buf_append(b, esc, 6);
		}
		}
		p++;
	}
	if (!rc)
		rc = buf_append(b, "\"", 1);
	return rc;
}

const char *buf_cstr(struct buf *b)
{
	return b->data ? b->data : "";
}

char *buf_steal(struct buf *b, size_t *len)
{
	char *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
