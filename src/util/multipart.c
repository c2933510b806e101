/*
 * multipart.c: multipart/form-data splitting over an in-memory body.
 */
#include "util/multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *find(const char *hay, size_t hl, const char *needle, size_t nl)
{
	if (nl == 0 || hl < nl)
		return NULL;
	for (size_t i = 0; i + nl <= hl; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nl) == 0)
			return hay + i;
	return NULL;
}

/* Copies a parameter (name="value" or name=value) out of a header value. */
static int header_param(const char *v, size_t vl, const char *param, char *out, size_t n)
{
	size_t pl = strlen(param);
	for (size_t i = 0; i + pl + 1 < vl; i++) {
		if ((i == 0 || v[i - 1] == ';' || v[i - 1] == ' ') &&
		    strncasecmp(v + i, param, pl) == 0 && v[i + pl] == '=') {
			const char *s = v + i + pl + 1;
			const char *end = v + vl;
			size_t o = 0;
			if (s < end && *s == '"') {
				s++;
				while (s < end && *s != '"' && o + 1 < n) {
					if (*s == '\\' && s + 1 < end)
						s++;
					out[o++] = *s++;
				}
			} else {
				while (s < end && *s != ';' && *s != ' ' && o + 1 < n)
					out[o++] = *s++;
			}
			out[o] = '\0';
			return 1;
		}
	}
	return 0;
}

int multipart_boundary(const char *ct, char *out, size_t n)
{
	if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
		return AGD_EINVAL;
	if (!header_param(ct, strlen(ct), "boundary", out, n) || !out[0] || strlen(out) > 70)
		return AGD_EINVAL;
	return 0;
}

int multipart_parse(const char *body, size_t len, const char *boundary,
		    struct multipart_part *parts, size_t *nparts, agd_errbuf *eb)
{
	char delim[80];
	int dl = snprintf(delim, sizeof(delim), "--%s", boundary);
	*nparts = 0;
	const char *end = body + len;
	const char *p = find(body, len, delim, (size_t)dl);
	if (!p)
		return agd_fail(eb, AGD_EINVAL, "multipart body has no boundary line");
	for (;;) {
		p += dl;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0;   /* the closing delimiter */
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return agd_fail(eb, AGD_EINVAL, "malformed multipart boundary line");
		p += 2;
		if (*nparts == MULTIPART_MAX_PARTS)
			return agd_fail(eb, AGD_EINVAL, "more than %d multipart parts",
					MULTIPART_MAX_PARTS);
		struct multipart_part *mp = &parts[*nparts];
		memset(mp, 0, sizeof(*mp));
		/* headers up to an empty line */
		int disposition = 0;
		for (;;) {
			const char *eol = find(p, (size_t)(end - p), "\r\n", 2);
			if (!eol)
				return agd_fail(eb, AGD_EINVAL, "multipart part headers are cut off");
			if (eol == p) {
				p += 2;
				break;
			}
			size_t hl = (size_t)(eol - p);
			if (hl > 20 && strncasecmp(p, "Content-Disposition:", 20) == 0) {
				disposition = 1;
				header_param(p + 20, hl - 20, "name", mp->name, sizeof(mp->name));
				header_param(p + 20, hl - 20, "filename", mp->filename,
					     sizeof(mp->filename));
			} else if (hl > 13 && strncasecmp(p, "Content-Type:", 13) == 0) {
				const char *v = p + 13;
				while (v < eol && *v == ' ')
					v++;
				snprintf(mp->content_type, sizeof(mp->content_type), "%.*s",
					 (int)(eol - v), v);
			}
			p = eol + 2;
		}
		if (!disposition)
			return agd_fail(eb, AGD_EINVAL, "a multipart part has no Content-Disposition");
		/* the body runs to CRLF + the next delimiter */
		char next[84];
		int nl = snprintf(next, sizeof(next), "\r\n%s", delim);
		const char *q = find(p, (size_t)(end - p), next, (size_t)nl);
		if (!q)
			return agd_fail(eb, AGD_EINVAL, "multipart part is not terminated by its "
					"boundary");
		mp->data = p;
		mp->len = (size_t)(q - p);
		(*nparts)++;
		p = q + 2;
	}
}
