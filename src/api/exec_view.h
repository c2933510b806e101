/*
 * exec_view.h: building blocks every dialect uses to serve executions: waiting for an
 * execution to finish (Prefer: wait, synchronous APIs, cancel), and streaming an execution's
 * event log from any point, live, in a dialect's format. Internal to src/api/.
 */
#ifndef AGD_EXEC_VIEW_H
#define AGD_EXEC_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "http/router.h"
#include "store/store.h"

struct req;
struct buf;

/*
 * Parks r until execution id ends or wait_ms passes, then runs `then` on an http thread
 * (which reads the execution and replies). Must be called with r suspended or about to be:
 * it suspends r itself. Callable from any thread.
 */
void exec_wait(struct req *r, const char *id, int64_t wait_ms, route_handler then);

/* Renders one event into out in a stream format. */
typedef void (*event_render_fn)(const struct event_rec *ev, struct buf *out, void *ctx);

struct stream_opts {
	const char *content_type;
	event_render_fn render;
	void *ctx;                /* handed to render; freed with free_ctx when the stream ends */
	void (*free_ctx)(void *ctx);
	const char *heartbeat;    /* written after 15 s without events ("" = none) */
	int64_t after;            /* replay events with seq > after */
	/* Written once the last event has been sent (e.g. "data: [DONE]\n\n"); may be NULL. */
	const char *trailer;
};

/* Answers r with the live event stream of execution id (must exist). */
void exec_stream(struct req *r, const char *id, const struct stream_opts *o);

/* The native renderers. */
void render_sse(const struct event_rec *ev, struct buf *out, void *ctx);
void render_ndjson(const struct event_rec *ev, struct buf *out, void *ctx);

#endif
