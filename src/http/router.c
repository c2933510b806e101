/*
 * router.c: compiles route patterns into segment arrays and matches request paths against
 * them. Built on the main thread at start; matched read-only by http threads.
 */
#include "http/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum seg_kind { SEG_PARAM = 0, SEG_AFFIXED = 1, SEG_LITERAL = 2 };

struct seg {
	enum seg_kind kind;
	char *lit;        /* literal text, or the prefix of an (affixed) parameter */
	size_t lit_len;
	char *suffix;     /* suffix of an affixed parameter */
	size_t suffix_len;
	char *name;       /* parameter name */
};

struct croute {
	const struct route *route;
	const struct dialect *dialect;
	struct seg segs[ROUTER_MAX_SEGMENTS];
	int nsegs;
	char label[ROUTER_MAX_PATH + 16];  /* "GET /agentd/v1/keys/{id}" */
};

struct cmount {
	const struct dialect *dialect;
	struct seg segs[ROUTER_MAX_SEGMENTS];
	int nsegs;
};

struct router {
	struct croute *routes;
	size_t n, cap;
	struct cmount *mounts;
	size_t nmounts;
};

struct router *router_create(void)
{
	return calloc(1, sizeof(struct router));
}

static void free_segs(struct seg *segs, int n)
{
	for (int i = 0; i < n; i++) {
		free(segs[i].lit);
		free(segs[i].suffix);
		free(segs[i].name);
	}
}

void router_destroy(struct router *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->n; i++)
		free_segs(rt->routes[i].segs, rt->routes[i].nsegs);
	for (size_t i = 0; i < rt->nmounts; i++)
		free_segs(rt->mounts[i].segs, rt->mounts[i].nsegs);
	free(rt->routes);
	free(rt->mounts);
	free(rt);
}

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* Compiles one '/'-separated pattern; on failure nothing stays allocated. */
static int compile(const char *pattern, struct seg *segs, int *nsegs, agd_errbuf *eb)
{
	const char *p = pattern;
	int n = 0, rc = 0;
	*nsegs = 0;
	if (*p && *p != '/')
		return agd_fail(eb, AGD_EINVAL, "pattern '%s' must start with '/'", pattern);
	while (*p && !rc) {
		p++; /* the '/' */
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0) {
			rc = agd_fail(eb, AGD_EINVAL, "pattern '%s' has an empty segment", pattern);
			break;
		}
		if (n == ROUTER_MAX_SEGMENTS) {
			rc = agd_fail(eb, AGD_EINVAL, "pattern '%s' has too many segments", pattern);
			break;
		}
		struct seg *s = &segs[n];
		memset(s, 0, sizeof(*s));
		const char *ob = memchr(p, '{', len);
		if (!ob) {
			s->kind = SEG_LITERAL;
			s->lit = dupn(p, len);
			s->lit_len = len;
		} else {
			const char *cb = memchr(ob, '}', len - (size_t)(ob - p));
			if (!cb || cb == ob + 1 || memchr(cb + 1, '{', len - (size_t)(cb + 1 - p))) {
				rc = agd_fail(eb, AGD_EINVAL, "pattern '%s': bad parameter", pattern);
				break;
			}
			s->lit_len = (size_t)(ob - p);
			s->lit = dupn(p, s->lit_len);
			s->name = dupn(ob + 1, (size_t)(cb - ob - 1));
			s->suffix_len = len - (size_t)(cb + 1 - p);
			s->suffix = dupn(cb + 1, s->suffix_len);
			s->kind = (s->lit_len || s->suffix_len) ? SEG_AFFIXED : SEG_PARAM;
		}
		n++;
		if (!s->lit || (s->kind != SEG_LITERAL && (!s->name || !s->suffix)))
			rc = agd_fail(eb, AGD_ENOMEM, "out of memory");
		p += len;
	}
	if (rc) {
		free_segs(segs, n);
		return rc;
	}
	*nsegs = n;
	return 0;
}

int router_add_dialect(struct router *rt, const struct dialect *d, agd_errbuf *eb)
{
	struct cmount *nm = realloc(rt->mounts, (rt->nmounts + 1) * sizeof(*nm));
	if (!nm)
		return agd_fail(eb, AGD_ENOMEM, "out of memory");
	rt->mounts = nm;
	struct cmount *cm = &rt->mounts[rt->nmounts];
	memset(cm, 0, sizeof(*cm));
	cm->dialect = d;
	int rc = compile(d->mount, cm->segs, &cm->nsegs, eb);
	if (rc)
		return rc;
	rt->nmounts++;
	for (size_t i = 0; i < d->nroutes; i++) {
		const struct route *r = &d->routes[i];
		char full[ROUTER_MAX_PATH];
		int w = snprintf(full, sizeof(full), "%s%s", d->mount, r->pattern);
		if (w < 0 || (size_t)w >= sizeof(full))
			return agd_fail(eb, AGD_EINVAL, "pattern too long");
		if (rt->n == rt->cap) {
			size_t ncap = rt->cap ? rt->cap * 2 : 64;
			struct croute *na = realloc(rt->routes, ncap * sizeof(*na));
			if (!na)
				return agd_fail(eb, AGD_ENOMEM, "out of memory");
			rt->routes = na;
			rt->cap = ncap;
		}
		struct croute *cr = &rt->routes[rt->n];
		memset(cr, 0, sizeof(*cr));
		cr->route = r;
		cr->dialect = d;
		snprintf(cr->label, sizeof(cr->label), "%s %s", r->method, full);
		if ((rc = compile(full, cr->segs, &cr->nsegs, eb)))
			return rc;
		rt->n++;
	}
	return 0;
}

size_t router_count(const struct router *rt)
{
	return rt->n;
}

const char *router_route_label(const struct router *rt, size_t index)
{
	return index < rt->n ? rt->routes[index].label : "unmatched";
}

size_t router_route_index(const struct router *rt, const struct route *route)
{
	for (size_t i = 0; i < rt->n; i++)
		if (rt->routes[i].route == route)
			return i;
	return rt->n;
}

struct span {
	const char *p;
	size_t len;
};

/* Matches one segment; on a parameter, reports the value's offset and length. */
static int seg_match(const struct seg *s, struct span in, size_t *voff, size_t *vlen)
{
	if (s->kind == SEG_LITERAL)
		return in.len == s->lit_len && memcmp(in.p, s->lit, in.len) == 0;
	if (in.len <= s->lit_len + s->suffix_len)
		return 0;   /* the parameter must be non-empty */
	if (memcmp(in.p, s->lit, s->lit_len) != 0)
		return 0;
	if (memcmp(in.p + in.len - s->suffix_len, s->suffix, s->suffix_len) != 0)
		return 0;
	*voff = s->lit_len;
	*vlen = in.len - s->lit_len - s->suffix_len;
	return 1;
}

/* Returns >0 when a ranks above b (more specific from the left). */
static int specificity_cmp(const struct croute *a, const struct croute *b)
{
	for (int i = 0; i < a->nsegs && i < b->nsegs; i++)
		if (a->segs[i].kind != b->segs[i].kind)
			return (int)a->segs[i].kind - (int)b->segs[i].kind;
	return 0;
}

static int split_path(const char *path, struct span *segs, int *n)
{
	int k = 0;
	const char *p = path;
	if (*p != '/')
		return -1;
	while (*p) {
		p++;
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0 && !e && k > 0)
			break;  /* one trailing slash is ignored */
		if (k == ROUTER_MAX_SEGMENTS)
			return -1;
		segs[k].p = p;
		segs[k].len = len;
		k++;
		p += len;
	}
	*n = k;
	return 0;
}

static int method_eq(const char *route_method, const char *method)
{
	if (strcmp(route_method, method) == 0)
		return 1;
	return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

enum router_result router_match(const struct router *rt, const char *method, const char *path,
				struct route_match *m)
{
	m->route = NULL;
	m->dialect = NULL;
	m->route_index = rt->n;
	m->nparams = 0;
	m->allow[0] = '\0';
	size_t plen = strlen(path);
	if (plen > ROUTER_MAX_PATH)
		return ROUTER_URI_TOO_LONG;
	struct span in[ROUTER_MAX_SEGMENTS];
	int nin;
	if (split_path(path, in, &nin))
		return ROUTER_NOT_FOUND;

	/* the dialect whose mount matches the longest leading run of segments */
	int best_mount = -1;
	for (size_t i = 0; i < rt->nmounts; i++) {
		const struct cmount *cm = &rt->mounts[i];
		if (cm->nsegs > nin || cm->nsegs <= best_mount)
			continue;
		int ok = 1;
		size_t vo, vl;
		for (int j = 0; j < cm->nsegs && ok; j++)
			ok = seg_match(&cm->segs[j], in[j], &vo, &vl);
		if (ok) {
			best_mount = cm->nsegs;
			m->dialect = cm->dialect;
		}
	}

	const struct croute *best = NULL;
	size_t allow_len = 0;
	int path_matched = 0;
	for (size_t i = 0; i < rt->n; i++) {
		const struct croute *cr = &rt->routes[i];
		if (cr->nsegs != nin)
			continue;
		int ok = 1;
		size_t vo, vl;
		for (int j = 0; j < nin && ok; j++)
			ok = seg_match(&cr->segs[j], in[j], &vo, &vl);
		if (!ok)
			continue;
		path_matched = 1;
		if (!strstr(m->allow, cr->route->method)) {
			int w = snprintf(m->allow + allow_len, sizeof(m->allow) - allow_len, "%s%s",
					 allow_len ? ", " : "", cr->route->method);
			if (w > 0 && (size_t)w < sizeof(m->allow) - allow_len)
				allow_len += (size_t)w;
		}
		if (!method_eq(cr->route->method, method))
			continue;
		if (!best || specificity_cmp(cr, best) > 0)
			best = cr;
	}
	if (!best)
		return path_matched ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;

	/* materialise NUL-terminated parameter values in pathbuf */
	memcpy(m->pathbuf, path, plen + 1);
	for (int j = 0; j < nin; j++) {
		const struct seg *s = &best->segs[j];
		if (s->kind == SEG_LITERAL || m->nparams == ROUTER_MAX_PARAMS)
			continue;
		size_t vo = 0, vl = 0;
		seg_match(s, in[j], &vo, &vl);
		char *v = m->pathbuf + (in[j].p - path) + vo;
		v[vl] = '\0';
		m->param_names[m->nparams] = s->name;
		m->param_values[m->nparams] = v;
		m->nparams++;
	}
	m->route = best->route;
	m->dialect = best->dialect;
	m->route_index = (size_t)(best - rt->routes);
	return ROUTER_FOUND;
}
