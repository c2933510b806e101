/*
 * http.h: the HTTP server (libmicrohttpd, epoll, thread pool) and the request API that route
 * handlers use.
 *
 * Request lifecycle, on an http thread: route match (404/405/414) -> header cap (431) ->
 * declared body size (413) -> API key (401) -> rate limit (429) -> scope (403) -> body read
 * with its cap (413) -> JSON parse with depth cap (400 naming line and column) -> handler.
 * A handler either replies (http_reply_*, http_error) before returning, or calls
 * http_suspend and replies later from any thread; replying to a suspended request resumes it.
 * After replying, the request belongs to the server again and must not be touched.
 */
#ifndef AGD_HTTP_H
#define AGD_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "http/router.h"
#include "util/arena.h"
#include "util/err.h"

struct app;
struct auth;

struct http_server_opts {
	const char *host;
	int port;                   /* 0 picks a free port; see http_server_port */
	int threads;
	int max_connections;
	int connection_timeout_s;
	size_t max_header_bytes;
	int max_json_depth;
	const char (*cors_origins)[256];
	int n_cors_origins;
	const struct router *router;
	struct app *app;            /* handed to handlers through req_app */
};

struct http_server;
int http_server_start(const struct http_server_opts *o, struct http_server **out,
		      agd_errbuf *eb);
int http_server_port(const struct http_server *s);
/* Starts draining: new requests are answered 503 (in-flight requests go on). */
void http_server_quiesce(struct http_server *s);
/* Requests started and not yet completed (suspended ones included). */
int http_server_inflight(const struct http_server *s);
void http_server_stop(struct http_server *s);

struct req;

const char *req_method(const struct req *r);
const char *req_path(const struct req *r);
const char *req_id(const struct req *r);
const char *req_param(const struct req *r, const char *name);  /* path parameter */
const char *req_query(const struct req *r, const char *name);  /* query string value */
const char *req_header(const struct req *r, const char *name);
const char *req_body(const struct req *r, size_t *len);
json_t *req_json(const struct req *r);        /* borrowed; NULL when no body */
const struct auth *req_auth(const struct req *r); /* NULL on public routes */
struct arena *req_arena(struct req *r);
struct app *req_app(const struct req *r);
/* A pointer a handler keeps on its request across a suspension (e.g. an arena string). */
void req_set_ctx(struct req *r, void *ctx);
void *req_ctx(const struct req *r);

/* Adds a response header (copied). */
void http_header(struct req *r, const char *name, const char *value);
/* Replies with a JSON body (consumes body; NULL sends no body). */
void http_reply_json(struct req *r, int status, json_t *body);
/* Replies with bytes (copied). */
void http_reply(struct req *r, int status, const char *content_type, const void *data,
		size_t len);
/* Replies with what a JSON writer produced (500 if it hit its cap); frees the writer's
 * buffer. */
struct jsonw;
void http_reply_written(struct req *r, int status, struct jsonw *w);
/* Replies with the dialect's error body; code is a short machine name ("not_found"). */
void http_error(struct req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Parks the request: the handler will reply later from another thread. */
void http_suspend(struct req *r);

/*
 * Wakes a suspended request: fn runs on an http thread and must reply (or suspend again).
 * Callable from any thread, once per suspension.
 */
void http_wake(struct req *r, route_handler fn);

/*
 * Streamed replies (SSE, NDJSON). http_stream_start, called by a handler, answers with status
 * and content type and a body written later, from any thread, by http_stream_write. The body
 * ends after http_stream_end once what was written has been sent. The stream is freed when
 * both its producer (http_stream_release) and the connection are done with it.
 */
struct http_stream;
struct http_stream *http_stream_start(struct req *r, int status, const char *content_type);
/* Queues bytes; returns 0, or -1 when the client has gone, the stream has ended, or more than
 * the stream's cap (8 MiB) is waiting unread. */
int http_stream_write(struct http_stream *s, const char *data, size_t n);
void http_stream_end(struct http_stream *s);
void http_stream_release(struct http_stream *s);
int http_stream_gone(struct http_stream *s);

/* The reason phrase of a status code ("Not Found"). */
const char *http_status_text(int status);
/* The error renderers shared by dialects. */
void http_render_problem(int status, const char *code, const char *message,
			 const char *instance, struct buf *out, const char **content_type);
void http_render_error_string(int status, const char *code, const char *message,
			      const char *instance, struct buf *out, const char **content_type);

#endif
