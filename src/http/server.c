/*
 * server.c: the HTTP server on libmicrohttpd (epoll, a thread pool sized to the cores,
 * suspend/resume) and the request pipeline in front of every handler: routing, caps, CORS,
 * authentication, rate limiting, scopes, body reading and JSON parsing, replies, the access
 * log and request metrics.
 *
 * Threads: every callback here runs on an MHD thread, except http_reply_* for a suspended
 * request, which may run on any thread (a store writer, an engine worker) and resumes it.
 */
#include "http/http.h"
#include "http/metrics.h"
#include "core/app.h"
#include "core/auth.h"
#include "core/config.h"
#include "core/ratelimit.h"
#include "core/scopes.h"
#include "util/buf.h"
#include "util/ids.h"
#include "util/json.h"
#include "util/jsonw.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQ_MAX_HDRS 16
#define REQ_ARENA_MAX (4u << 20)

struct http_server {
	struct MHD_Daemon *d;
	struct http_server_opts o;
	int port;
	int listen_fd;
	_Atomic int inflight;
	_Atomic int draining;
};

enum req_state { RS_NEW, RS_BODY, RS_SUSPENDED, RS_SENT };

struct req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	struct arena arena;
	const char *method;
	const char *path;
	enum router_result rres;
	struct route_match m;
	struct buf body;
	int body_too_big;
	json_t *json;
	struct auth auth;
	int authed;
	struct rl_result rl;
	int64_t rl_now_s;
	char request_id[80];
	int64_t start_us;
	enum req_state state;
	int ready;
	int status;
	const char *ctype;
	char *resp;
	size_t resp_len;
	const char *hdr_name[REQ_MAX_HDRS];
	const char *hdr_value[REQ_MAX_HDRS];
	int nhdrs;
	const char *cors_origin;
	const char *err_code;
	size_t max_body;
	struct http_stream *stream;   /* not owned: the response holds it */
	size_t stream_sent;
	route_handler wake_fn;
	void *ctx;
};

static void finish_reply(struct req *r);

#define STREAM_MAX_PENDING (8u << 20)

struct http_stream {
	pthread_mutex_t mu;
	struct MHD_Connection *conn;
	struct buf pending;
	size_t off;
	int ended, gone, suspended, refs;
	size_t sent;
};

static void stream_unref(struct http_stream *s)
{
	int last;
	pthread_mutex_lock(&s->mu);
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (last) {
		buf_free(&s->pending);
		pthread_mutex_destroy(&s->mu);
		free(s);
	}
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	(void)pos;
	struct http_stream *s = cls;
	pthread_mutex_lock(&s->mu);
	size_t avail = s->pending.len - s->off;
	if (avail) {
		size_t n = avail < max ? avail : max;
		memcpy(out, s->pending.data + s->off, n);
		s->off += n;
		s->sent += n;
		if (s->off == s->pending.len) {
			buf_reset(&s->pending);
			s->off = 0;
		}
		pthread_mutex_unlock(&s->mu);
		return (ssize_t)n;
	}
	if (s->ended) {
		pthread_mutex_unlock(&s->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	/* nothing to send yet: park the connection until the producer writes */
	s->suspended = 1;
	MHD_suspend_connection(s->conn);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void stream_free_cb(void *cls)
{
	struct http_stream *s = cls;
	pthread_mutex_lock(&s->mu);
	s->gone = 1;
	pthread_mutex_unlock(&s->mu);
	stream_unref(s);
}

static void stream_wake_locked(struct http_stream *s)
{
	if (s->suspended) {
		s->suspended = 0;
		MHD_resume_connection(s->conn);
	}
}

int http_stream_write(struct http_stream *s, const char *data, size_t n)
{
	int rc = 0;
	pthread_mutex_lock(&s->mu);
	if (s->gone || s->ended || s->pending.len - s->off + n > STREAM_MAX_PENDING)
		rc = -1;
	else if (buf_append(&s->pending, data, n))
		rc = -1;
	else
		stream_wake_locked(s);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void http_stream_end(struct http_stream *s)
{
	pthread_mutex_lock(&s->mu);
	s->ended = 1;
	stream_wake_locked(s);
	pthread_mutex_unlock(&s->mu);
}

int http_stream_gone(struct http_stream *s)
{
	pthread_mutex_lock(&s->mu);
	int g = s->gone;
	pthread_mutex_unlock(&s->mu);
	return g;
}

void http_stream_release(struct http_stream *s)
{
	/* a producer that lets go without ending still lets the client finish cleanly */
	http_stream_end(s);
	stream_unref(s);
}

struct http_stream *http_stream_start(struct req *r, int status, const char *content_type)
{
	struct http_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_init(&s->mu, NULL);
	buf_init(&s->pending, STREAM_MAX_PENDING);
	s->conn = r->conn;
	s->refs = 2;   /* the connection's response and the producer */
	r->stream = s;
	r->status = status;
	r->ctype = content_type;
	http_header(r, "Cache-Control", "no-cache");
	http_header(r, "X-Accel-Buffering", "no");
	finish_reply(r);
	return s;
}

void http_wake(struct req *r, route_handler fn)
{
	r->wake_fn = fn;
	MHD_resume_connection(r->conn);
}

/* ---- accessors ---- */

const char *req_method(const struct req *r) { return r->method; }
const char *req_path(const struct req *r) { return r->path; }
const char *req_id(const struct req *r) { return r->request_id; }
struct arena *req_arena(struct req *r) { return &r->arena; }
struct app *req_app(const struct req *r) { return r->srv->o.app; }
void req_set_ctx(struct req *r, void *ctx) { r->ctx = ctx; }
void *req_ctx(const struct req *r) { return r->ctx; }
json_t *req_json(const struct req *r) { return r->json; }
const struct auth *req_auth(const struct req *r) { return r->authed ? &r->auth : NULL; }

const char *req_param(const struct req *r, const char *name)
{
	for (int i = 0; i < r->m.nparams; i++)
		if (strcmp(r->m.param_names[i], name) == 0)
			return r->m.param_values[i];
	return NULL;
}

const char *req_query(const struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *req_header(const struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_body(const struct req *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return buf_cstr((struct buf *)&r->body);
}

/* ---- replies ---- */

void http_header(struct req *r, const char *name, const char *value)
{
	if (r->nhdrs == REQ_MAX_HDRS) {
		log_error("request %s: too many response headers, dropping %s", r->request_id,
			  name);
		return;
	}
	r->hdr_name[r->nhdrs] = arena_strdup(&r->arena, name);
	r->hdr_value[r->nhdrs] = arena_strdup(&r->arena, value);
	if (r->hdr_name[r->nhdrs] && r->hdr_value[r->nhdrs])
		r->nhdrs++;
}

static void finish_reply(struct req *r)
{
	r->ready = 1;
	if (r->state == RS_SUSPENDED)
		MHD_resume_connection(r->conn);
}

void http_reply(struct req *r, int status, const char *content_type, const void *data,
		size_t len)
{
	r->status = status;
	r->ctype = content_type;
	r->resp = NULL;
	r->resp_len = 0;
	if (len) {
		r->resp = malloc(len);
		if (r->resp) {
			memcpy(r->resp, data, len);
			r->resp_len = len;
		} else {
			r->status = 500;
		}
	}
	finish_reply(r);
}

void http_reply_json(struct req *r, int status, json_t *body)
{
	r->status = status;
	r->ctype = "application/json";
	r->resp = NULL;
	r->resp_len = 0;
	if (body) {
		r->resp = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(body);
		if (r->resp)
			r->resp_len = strlen(r->resp);
		else
			r->status = 500;
	}
	finish_reply(r);
}

void http_reply_written(struct req *r, int status, struct jsonw *w)
{
	if (jw_finish(w))
		http_error(r, 500, "internal", "the response exceeded its size cap");
	else
		http_reply(r, status, "application/json", buf_cstr(w->b), w->b->len);
	buf_free(w->b);
}

void http_error(struct req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct buf out;
	buf_init(&out, 16384);
	const char *ctype = "application/json";
	if (r->m.dialect && r->m.dialect->render_error)
		r->m.dialect->render_error(status, code, msg, r->path, &out, &ctype);
	else
		http_render_problem(status, code, msg, r->path, &out, &ctype);
	r->err_code = code;
	if (status >= 500)
		log_error("request %s %s %s: %d %s", r->request_id, r->method, r->path, status,
			  msg);
	r->status = status;
	r->ctype = ctype;
	r->resp = buf_steal(&out, &r->resp_len);
	finish_reply(r);
}

void http_suspend(struct req *r)
{
	if (r->state == RS_SUSPENDED)
		return;   /* already parked (e.g. a handler, then a waiter on another thread) */
	r->state = RS_SUSPENDED;
	MHD_suspend_connection(r->conn);
}

static void add_hdr(struct MHD_Response *resp, const char *n, const char *v)
{
	MHD_add_response_header(resp, n, v);
}

static enum MHD_Result send_reply(struct req *r)
{
	struct MHD_Response *resp;
	if (r->stream) {
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader,
							 r->stream, stream_free_cb);
		if (!resp) {
			stream_unref(r->stream);
			return MHD_NO;
		}
		add_hdr(resp, "Content-Type", r->ctype);
	} else {
		resp = MHD_create_response_from_buffer(
			r->resp_len, r->resp,
			r->resp ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		r->resp = NULL; /* owned by the response now */
		if (r->resp_len)
			add_hdr(resp, "Content-Type", r->ctype);
	}
	add_hdr(resp, "X-Request-Id", r->request_id);
	if (r->authed) {
		char v[32];
		snprintf(v, sizeof(v), "%lld", (long long)r->rl.limit);
		add_hdr(resp, "X-RateLimit-Limit", v);
		snprintf(v, sizeof(v), "%lld", (long long)r->rl.remaining);
		add_hdr(resp, "X-RateLimit-Remaining", v);
		snprintf(v, sizeof(v), "%lld", (long long)(r->rl_now_s + r->rl.reset_s));
		add_hdr(resp, "X-RateLimit-Reset", v);
	}
	if (r->cors_origin) {
		add_hdr(resp, "Access-Control-Allow-Origin", r->cors_origin);
		add_hdr(resp, "Access-Control-Expose-Headers",
			"X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, "
			"X-RateLimit-Reset, Retry-After, Location, Idempotency-Replayed");
		if (strcmp(r->cors_origin, "*") != 0)
			add_hdr(resp, "Vary", "Origin");
	}
	for (int i = 0; i < r->nhdrs; i++)
		add_hdr(resp, r->hdr_name[i], r->hdr_value[i]);
	enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	r->state = RS_SENT;
	return ret;
}

/* ---- pipeline ---- */

static int request_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':'))
			return 0;
	}
	return 1;
}

static const char *cors_allowed(const struct http_server *s, const char *origin)
{
	if (!origin)
		return NULL;
	for (int i = 0; i < s->o.n_cors_origins; i++) {
		if (strcmp(s->o.cors_origins[i], "*") == 0)
			return "*";
		if (strcasecmp(s->o.cors_origins[i], origin) == 0)
			return origin;
	}
	return NULL;
}

struct hdr_sum {
	size_t total;
};

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *k,
				  const char *v)
{
	(void)kind;
	struct hdr_sum *hs = cls;
	hs->total += strlen(k) + (v ? strlen(v) : 0) + 4;
	return MHD_YES;
}

/* Everything decided from the request line and headers, before any body byte is read.
 * Returns 1 when a reply is ready. */
static int req_begin(struct req *r)
{
	struct http_server *s = r->srv;
	struct app *app = s->o.app;

	const char *rid = req_header(r, "X-Request-Id");
	if (rid && request_id_ok(rid))
		snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
	else
		id_uuid7(r->request_id);

	r->cors_origin = cors_allowed(s, req_header(r, "Origin"));

	r->rres = router_match(s->o.router, r->method, r->path, &r->m);

	struct hdr_sum hs = {strlen(r->path) + strlen(r->method) + 16};
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, sum_header, &hs);
	if (hs.total > s->o.max_header_bytes) {
		http_error(r, 431, "headers_too_large",
			   "request line and headers are %zu bytes; the limit is %zu", hs.total,
			   s->o.max_header_bytes);
		return 1;
	}

	if (strcmp(r->method, "OPTIONS") == 0) {
		struct route_match probe;
		enum router_result pr = router_match(s->o.router, "GET", r->path, &probe);
		if (pr == ROUTER_NOT_FOUND || pr == ROUTER_URI_TOO_LONG) {
			http_error(r, pr == ROUTER_NOT_FOUND ? 404 : 414, "not_found",
				   "no endpoint at %s", r->path);
			return 1;
		}
		http_header(r, "Allow", probe.allow[0] ? probe.allow : r->m.allow);
		if (r->cors_origin) {
			http_header(r, "Access-Control-Allow-Methods",
				    "GET, POST, PUT, PATCH, DELETE, OPTIONS");
			http_header(r, "Access-Control-Allow-Headers",
				    "Authorization, Content-Type, X-API-KEY, X-Request-Id, "
				    "X-Idempotency-Key, Idempotency-Key, Last-Event-ID, Prefer");
			http_header(r, "Access-Control-Max-Age", "600");
		}
		http_reply(r, 204, NULL, NULL, 0);
		return 1;
	}

	switch (r->rres) {
	case ROUTER_FOUND:
		break;
	case ROUTER_METHOD_NOT_ALLOWED:
		http_header(r, "Allow", r->m.allow);
		http_error(r, 405, "method_not_allowed", "%s is not allowed on %s; allowed: %s",
			   r->method, r->path, r->m.allow);
		return 1;
	case ROUTER_URI_TOO_LONG:
		http_error(r, 414, "uri_too_long", "the path is longer than %d bytes",
			   ROUTER_MAX_PATH);
		return 1;
	default:
		http_error(r, 404, "not_found", "no endpoint at %s", r->path);
		return 1;
	}

	const struct route *rt = r->m.route;
	size_t max_body = rt->flags & ROUTE_UPLOAD ? app->cfg->max_upload_bytes + 65536 : rt->max_body;
	r->max_body = max_body;
	const char *cl = req_header(r, "Content-Length");
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (!errno && *end == '\0' && n > max_body) {
			if (max_body == 0)
				http_error(r, 413, "body_too_large",
					   "%s %s takes no request body", r->method, r->path);
			else
				http_error(r, 413, "body_too_large",
					   "request body of %llu bytes exceeds the limit of %zu "
					   "bytes for this endpoint", n, max_body);
			return 1;
		}
	}
	buf_init(&r->body, max_body);

	if (!(rt->flags & ROUTE_PUBLIC)) {
		const char *tok = auth_extract(req_header(r, "Authorization"),
					       req_header(r, "X-API-KEY"));
		enum auth_result ar = auth_check(app->store, tok, time_now_ms(), &r->auth);
		if (ar == AUTH_STORE_ERROR) {
			http_error(r, 503, "unavailable", "%s", auth_result_message(ar));
			return 1;
		}
		if (ar != AUTH_OK) {
			http_header(r, "WWW-Authenticate", "Bearer realm=\"agentd\"");
			http_error(r, 401, "unauthorized", "%s", auth_result_message(ar));
			return 1;
		}
		r->authed = 1;
		int64_t limit = r->auth.key.rate_limit ? r->auth.key.rate_limit
						       : app->cfg->rate_limit;
		r->rl_now_s = time_now_ms() / 1000;
		ratelimit_take(app->rl, r->auth.key.id, limit, time_mono_us(), &r->rl);
		keyuse_note(app->keyuse, r->auth.key.id, time_now_ms());
		if (!r->rl.allowed) {
			char v[32];
			snprintf(v, sizeof(v), "%lld", (long long)r->rl.retry_after);
			http_header(r, "Retry-After", v);
			http_error(r, 429, "rate_limited",
				   "rate limit of %lld requests per minute exceeded; retry in %lld "
				   "s", (long long)limit, (long long)r->rl.retry_after);
			return 1;
		}
		if (rt->scope && !scopes_allow(r->auth.scopes, rt->scope)) {
			http_error(r, 403, "forbidden",
				   "API key lacks the scope '%s' required by %s %s",
				   scopes_first_missing(r->auth.scopes, rt->scope), r->method,
				   r->path);
			return 1;
		}
	}
	return 0;
}

static void req_dispatch(struct req *r)
{
	struct http_server *s = r->srv;
	const struct route *rt = r->m.route;
	if (r->body_too_big) {
		http_error(r, 413, "body_too_large",
			   "request body exceeds the limit of %zu bytes for this endpoint",
			   r->max_body);
		return;
	}
	if (rt->flags & (ROUTE_JSON | ROUTE_JSON_REQUIRED)) {
		const char *ct = req_header(r, "Content-Type");
		if (r->body.len > 0 && ct && (strncasecmp(ct, "multipart/", 10) == 0)) {
			http_error(r, 415, "unsupported_media_type",
				   "this endpoint takes a JSON body (Content-Type: "
				   "application/json), not %s", ct);
			return;
		}
		if (r->body.len > 0 || (rt->flags & ROUTE_JSON_REQUIRED)) {
			agd_errbuf eb;
			if (json_parse(r->body.data ? r->body.data : "", r->body.len,
				       s->o.max_json_depth, &r->json, &eb)) {
				http_error(r, 400, "invalid_json", "%s", eb.msg);
				return;
			}
		}
	}
	rt->handler(r);
}

static struct req *req_new(struct http_server *s, struct MHD_Connection *c, const char *url,
			   const char *method)
{
	struct req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->srv = s;
	r->conn = c;
	r->start_us = time_mono_us();
	arena_init(&r->arena, REQ_ARENA_MAX);
	r->method = arena_strdup(&r->arena, method);
	r->path = arena_strdup(&r->arena, url);
	buf_init(&r->body, 0);
	if (!r->method || !r->path) {
		arena_free(&r->arena);
		free(r);
		return NULL;
	}
	atomic_fetch_add(&s->inflight, 1);
	metrics_inflight(s->o.app->metrics, 1);
	return r;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version,
				 const char *upload_data, size_t *upload_size, void **con_cls)
{
	(void)version;
	struct http_server *s = cls;
	struct req *r = *con_cls;
	if (!r) {
		r = req_new(s, c, url, method);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		/* req_new counted this request in flight; checking draining only after that
		 * (both sequentially consistent) means shutdown either waits for it or it sees
		 * the flag and never suspends, so no connection is suspended at stop. */
		if (atomic_load(&s->draining)) {
			id_uuid7(r->request_id);
			http_header(r, "Connection", "close");
			http_error(r, 503, "shutting_down", "the server is shutting down");
			return send_reply(r);
		}
		if (req_begin(r))
			return send_reply(r);
		r->state = RS_BODY;
		return MHD_YES;
	}
	if (r->state == RS_SUSPENDED) {
		if (r->ready)
			return send_reply(r);
		if (!r->wake_fn)
			return MHD_YES;
		route_handler fn = r->wake_fn;
		r->wake_fn = NULL;
		r->state = RS_BODY;
		fn(r);
		if (r->state == RS_SUSPENDED)
			return MHD_YES;
		if (!r->ready)
			http_error(r, 500, "internal", "the handler produced no response");
		return send_reply(r);
	}
	if (r->state == RS_SENT)
		return MHD_YES;
	if (*upload_size) {
		if (!r->body_too_big && buf_append(&r->body, upload_data, *upload_size))
			r->body_too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	req_dispatch(r);
	if (r->state == RS_SUSPENDED)
		return MHD_YES;   /* another thread owns the reply now; touch nothing */
	if (!r->ready)
		http_error(r, 500, "internal", "the handler produced no response");
	return send_reply(r);
}

static void access_log(struct req *r, int64_t dur_us)
{
	struct buf b;
	char ts[40];
	buf_init(&b, 4096);
	time_format_rfc3339(time_now_ms(), ts, sizeof(ts));
	buf_printf(&b, "{\"time\":\"%s\",\"request_id\":", ts);
	buf_json_str(&b, r->request_id);
	buf_puts(&b, ",\"method\":");
	buf_json_str(&b, r->method);
	buf_puts(&b, ",\"path\":");
	buf_json_str(&b, r->path);
	buf_printf(&b, ",\"status\":%d,\"bytes\":%zu,\"duration_ms\":%.3f", r->status,
		   r->stream ? r->stream_sent : r->resp_len, (double)dur_us / 1000.0);
	if (r->authed) {
		buf_puts(&b, ",\"key_id\":");
		buf_json_str(&b, r->auth.key.id);
	}
	if (r->err_code) {
		buf_puts(&b, ",\"error\":");
		buf_json_str(&b, r->err_code);
	}
	buf_puts(&b, "}");
	log_access_line(buf_cstr(&b), b.len);
	buf_free(&b);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)c;
	(void)toe;
	struct http_server *s = cls;
	struct req *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	int64_t dur = time_mono_us() - r->start_us;
	if (r->state != RS_SENT)
		r->status = 499;   /* the client went away before a reply */
	metrics_observe(s->o.app->metrics, r->m.route_index, r->status, dur);
	if (log_access_enabled())
		access_log(r, dur);
	metrics_inflight(s->o.app->metrics, -1);
	json_decref(r->json);
	buf_free(&r->body);
	free(r->resp);
	arena_free(&r->arena);
	free(r);
	atomic_fetch_sub(&s->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_debug("http: %s", msg);
}

static int open_listener(const char *host, int port, int *out_port, agd_errbuf *eb)
{
	struct addrinfo hints = {0}, *res = NULL;
	char ps[16];
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%d", port);
	int gai = getaddrinfo(host, ps, &hints, &res);
	if (gai)
		return agd_fail(eb, AGD_EINVAL, "cannot resolve listen host '%s': %s", host,
				gai_strerror(gai));
	int fd = -1;
	int err = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return agd_fail(eb, AGD_EIO, "cannot listen on %s:%d: %s", host, port,
				strerror(err));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int http_server_start(const struct http_server_opts *o, struct http_server **out,
		      agd_errbuf *eb)
{
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return agd_fail(eb, AGD_ENOMEM, "out of memory");
	s->o = *o;
	int fd = open_listener(o->host, o->port, &s->port, eb);
	if (fd < 0) {
		free(s);
		return fd;
	}
	s->listen_fd = fd;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	size_t mem = o->max_header_bytes + 16384;
	if (mem < 32768)
		mem = 32768;
	int threads = o->threads > 0 ? o->threads : 1;
	struct MHD_OptionItem opts[] = {
		{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
		{MHD_OPTION_LISTEN_SOCKET, fd, NULL},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
		{MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout_s, NULL},
		{MHD_OPTION_CONNECTION_LIMIT, o->max_connections, NULL},
		{MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)mem, NULL},
		{threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
	if (!s->d) {
		close(fd);
		free(s);
		return agd_fail(eb, AGD_EIO, "cannot start the HTTP server");
	}
	*out = s;
	return 0;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_quiesce(struct http_server *s)
{
	/* From now on every new request is answered 503 with Connection: close (see on_access).
	 * The listen socket itself closes in http_server_stop: MHD_quiesce_daemon is not used,
	 * because with a thread pool in epoll mode it races its own workers and can abort. */
	atomic_store(&s->draining, 1);
}

int http_server_inflight(const struct http_server *s)
{
	return atomic_load(&((struct http_server *)s)->inflight);
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);   /* closes the listen socket too (it was never quiesced) */
	free(s);
}
