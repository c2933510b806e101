/*
 * router.h: route tables and the matcher. Each dialect (and the native API) declares one
 * `static const struct route[]` table under a mount prefix; the router compiles them at start
 * and matches a method and path to a route and its path parameters.
 *
 * Patterns are '/'-separated segments. A segment is a literal ("agents"), a parameter
 * ("{id}"), or a parameter with a literal prefix and/or suffix inside the segment
 * ("{agent}:execute"). When several routes match a path, the most specific wins, segment by
 * segment from the left: literal over affixed parameter over bare parameter.
 * Thread-safety: build on one thread, then match from any thread (read-only).
 */
#ifndef AGD_ROUTER_H
#define AGD_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct req;
typedef void (*route_handler)(struct req *r);

enum route_flags {
	ROUTE_PUBLIC = 1u << 0,     /* no API key needed */
	ROUTE_JSON = 1u << 1,       /* the body, when present, is parsed as JSON */
	ROUTE_JSON_REQUIRED = 1u << 2, /* a JSON body is required */
	ROUTE_MULTIPART = 1u << 3,  /* the body is multipart/form-data */
	ROUTE_UPLOAD = 1u << 4,     /* body cap: the server's max_upload_bytes (+ 64 KiB framing) */
};

struct route {
	const char *method;
	const char *pattern;        /* relative to the dialect's mount */
	route_handler handler;
	uint32_t scope;             /* scopes the key needs (see core/scopes.h); 0 = any key */
	size_t max_body;            /* body cap in bytes; 0 = no body accepted */
	unsigned flags;
};

struct buf;
struct dialect {
	const char *name;
	const char *mount;          /* "/agentd/v1", "" for the root */
	const struct route *routes;
	size_t nroutes;
	/* Renders an error body for this dialect into out; sets *content_type. */
	void (*render_error)(int status, const char *code, const char *message,
			     const char *instance, struct buf *out, const char **content_type);
};

#define ROUTER_MAX_PARAMS 8
#define ROUTER_MAX_PATH 2048
#define ROUTER_MAX_SEGMENTS 32

struct route_match {
	const struct route *route;
	const struct dialect *dialect;  /* for errors too: the dialect whose mount fits best */
	size_t route_index;         /* stable index for metrics; router_count() when unmatched */
	int nparams;
	const char *param_names[ROUTER_MAX_PARAMS];
	const char *param_values[ROUTER_MAX_PARAMS]; /* point into pathbuf */
	char allow[96];             /* for 405: "GET, POST" */
	char pathbuf[ROUTER_MAX_PATH + 1];
};

enum router_result {
	ROUTER_FOUND = 0,
	ROUTER_NOT_FOUND = 404,
	ROUTER_METHOD_NOT_ALLOWED = 405,
	ROUTER_URI_TOO_LONG = 414,
};

struct router;
struct router *router_create(void);
void router_destroy(struct router *rt);
/* Adds every route of d; fails on a malformed pattern (message names it). */
int router_add_dialect(struct router *rt, const struct dialect *d, agd_errbuf *eb);
/* Matches; HEAD matches GET routes. Fills m (params, dialect, allow) and returns the result. */
enum router_result router_match(const struct router *rt, const char *method, const char *path,
				struct route_match *m);
/* Calls fn for every route (for documentation and metrics labels); index is stable. */
size_t router_count(const struct router *rt);
const char *router_route_label(const struct router *rt, size_t index);
/* The stable index of a matched route (for per-route metrics). */
size_t router_route_index(const struct router *rt, const struct route *route);

#endif
