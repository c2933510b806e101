/*
 * multipart.h: a parser for multipart/form-data bodies (RFC 7578) already held in memory.
 * It finds the parts, their field names, file names and content types; part bodies point
 * into the input. Thread-safe (no state).
 */
#ifndef AGD_MULTIPART_H
#define AGD_MULTIPART_H

#include <stddef.h>

#include "util/err.h"

#define MULTIPART_MAX_PARTS 16

struct multipart_part {
	char name[128];           /* the form field */
	char filename[256];       /* "" when the part is not a file */
	char content_type[128];   /* "" when absent */
	const char *data;         /* into the body */
	size_t len;
};

/* Extracts the boundary from a Content-Type header value; 0 or AGD_EINVAL. */
int multipart_boundary(const char *content_type, char *out, size_t n);
/* Splits body into parts (at most MULTIPART_MAX_PARTS). AGD_EINVAL with a message when the
 * body is not well-formed multipart. */
int multipart_parse(const char *body, size_t len, const char *boundary,
		    struct multipart_part *parts, size_t *nparts, agd_errbuf *eb);

#endif
