/*
 * sse.c: incremental text/event-stream parsing (WHATWG rules: fields `event` and `data`,
 * comments starting with ':', CR, LF or CRLF line ends).
 */
#include "util/sse.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

void sse_init(struct sse_parser *p, size_t max, sse_event_fn fn, void *arg)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line, max);
	buf_init(&p->data, max);
	p->fn = fn;
	p->arg = arg;
}

void sse_free(struct sse_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
}

static int dispatch(struct sse_parser *p)
{
	int rc = 0;
	if (p->has_data)
		rc = p->fn(p->arg, p->event, buf_cstr(&p->data), p->data.len);
	buf_reset(&p->data);
	p->event[0] = '\0';
	p->has_data = 0;
	return rc;
}

static int handle_line(struct sse_parser *p, const char *s, size_t n)
{
	if (n == 0)
		return dispatch(p);
	if (s[0] == ':')
		return 0;
	const char *colon = memchr(s, ':', n);
	size_t fl = colon ? (size_t)(colon - s) : n;
	const char *v = colon ? colon + 1 : s + n;
	size_t vl = colon ? n - fl - 1 : 0;
	if (vl && v[0] == ' ') {
		v++;
		vl--;
	}
	if (fl == 4 && memcmp(s, "data", 4) == 0) {
		if (p->has_data && buf_append(&p->data, "\n", 1))
			return AGD_ETOOBIG;
		if (buf_append(&p->data, v, vl))
			return AGD_ETOOBIG;
		p->has_data = 1;
	} else if (fl == 5 && memcmp(s, "event", 5) == 0) {
		snprintf(p->event, sizeof(p->event), "%.*s", (int)vl, v);
	}
	return 0;
}

int sse_feed(struct sse_parser *p, const char *data, size_t n)
{
	size_t i = 0;
	if (p->skip_lf && n > 0) {
		p->skip_lf = 0;
		if (data[0] == '\n')
			i = 1;
	}
	while (i < n) {
		const char *nl = NULL;
		size_t j;
		for (j = i; j < n; j++)
			if (data[j] == '\n' || data[j] == '\r') {
				nl = data + j;
				break;
			}
		if (!nl) {
			if (buf_append(&p->line, data + i, n - i))
				return AGD_ETOOBIG;
			return 0;
		}
		int rc;
		if (p->line.len) {
			if (buf_append(&p->line, data + i, j - i))
				return AGD_ETOOBIG;
			rc = handle_line(p, p->line.data, p->line.len);
			buf_reset(&p->line);
		} else {
			rc = handle_line(p, data + i, j - i);
		}
		if (rc)
			return rc;
		i = j + 1;
		if (*nl == '\r' && i < n && data[i] == '\n')
			i++;
		else if (*nl == '\r' && i == n)
			p->skip_lf = 1;
	}
	return 0;
}

int sse_finish(struct sse_parser *p)
{
	int rc = 0;
	if (p->line.len) {
		rc = handle_line(p, p->line.data, p->line.len);
		buf_reset(&p->line);
	}
	if (!rc)
		rc = dispatch(p);
	return rc;
}
