/*
 * exec_view.c: waiters and event streams over the hub (see exec_view.h). Hub callbacks run
 * on the store writer thread (publish) and the hub's tick thread; handlers on http threads.
 */
#include "api/exec_view.h"
#include "core/app.h"
#include "engine/hub.h"
#include "http/http.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEARTBEAT_MS 15000

/* ---- waiters ---- */

struct waiter {
	struct req *r;
	route_handler then;
	int64_t deadline;
	_Atomic int fired;
};

static int waiter_fire(struct waiter *w)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&w->fired, &expected, 1))
		return 0;
	http_wake(w->r, w->then);
	return 1;
}

static int waiter_notify(void *arg, const struct event_rec *evs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(evs[i].type, "done") == 0) {
			waiter_fire(arg);
			return 1;
		}
	return 0;
}

static int waiter_tick(void *arg, int64_t now)
{
	struct waiter *w = arg;
	if (atomic_load(&w->fired))
		return 1;
	if (now < w->deadline)
		return 0;
	waiter_fire(w);
	return 1;
}

static void waiter_close(void *arg)
{
	waiter_fire(arg);
}

static const struct hub_sub_ops waiter_ops = {waiter_notify, waiter_tick, free, waiter_close};

void exec_wait(struct req *r, const char *id, int64_t wait_ms, route_handler then)
{
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		http_error(r, 503, "unavailable", "out of memory");
		return;
	}
	w->r = r;
	w->then = then;
	w->deadline = time_now_ms() + wait_ms;
	http_suspend(r);
	if (!hub_subscribe(req_app(r)->hub, id, &waiter_ops, w)) {
		free(w);                 /* cannot wait: answer with the state as it is now */
		http_wake(r, then);
		return;
	}
	/* the execution may have ended before the subscription: the store says */
	struct exec_rec e;
	if (store_exec_get(req_app(r)->store, id, &e) == 0) {
		int ended = strcmp(e.status, "completed") == 0 || strcmp(e.status, "failed") == 0 ||
			    strcmp(e.status, "cancelled") == 0 || strcmp(e.status, "rejected") == 0;
		exec_rec_clear(&e);
		if (ended)
			waiter_fire(w);   /* the hub removes it at its next tick */
	}
}

/* ---- streams ---- */

struct evstream {
	pthread_mutex_t mu;
	int refs;
	struct http_stream *hs;
	struct stream_opts o;
	int64_t last_sent;
	int replaying, ended;
	struct event_rec *pending;
	size_t npending, cap;
	int64_t last_write;
};

static void evs_unref(struct evstream *s)
{
	pthread_mutex_lock(&s->mu);
	int last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (!last)
		return;
	http_stream_release(s->hs);
	event_recs_free(s->pending, s->npending);
	if (s->o.free_ctx)
		s->o.free_ctx(s->o.ctx);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Writes events (under s->mu); returns 1 when the stream is over. */
static int evs_write(struct evstream *s, const struct event_rec *evs, size_t n)
{
	struct buf out;
	buf_init(&out, 16u << 20);
	int over = 0;
	for (size_t i = 0; i < n && !over; i++) {
		if (evs[i].seq <= s->last_sent)
			continue;
		s->o.render(&evs[i], &out, s->o.ctx);
		s->last_sent = evs[i].seq;
		if (strcmp(evs[i].type, "done") == 0)
			over = 1;
	}
	if (over && s->o.trailer)
		buf_puts(&out, s->o.trailer);
	if (out.len && http_stream_write(s->hs, out.data, out.len))
		over = 1;
	buf_free(&out);
	s->last_write = time_now_ms();
	if (over && !s->ended) {
		s->ended = 1;
		http_stream_end(s->hs);
	}
	return over;
}

static int evs_notify(void *arg, const struct event_rec *evs, size_t n)
{
	struct evstream *s = arg;
	pthread_mutex_lock(&s->mu);
	int over = s->ended;
	if (!over && s->replaying) {
		for (size_t i = 0; i < n; i++) {
			if (s->npending == s->cap) {
				size_t nc = s->cap ? s->cap * 2 : 16;
				struct event_rec *np = realloc(s->pending, nc * sizeof(*np));
				if (!np)
					break;
				s->pending = np;
				s->cap = nc;
			}
			struct event_rec *c = &s->pending[s->npending++];
			*c = evs[i];
			c->data = strdup(evs[i].data ? evs[i].data : "{}");
		}
	} else if (!over) {
		over = evs_write(s, evs, n);
	}
	pthread_mutex_unlock(&s->mu);
	return over;
}

static int evs_tick(void *arg, int64_t now)
{
	struct evstream *s = arg;
	pthread_mutex_lock(&s->mu);
	int over = s->ended || http_stream_gone(s->hs);
	if (!over && !s->replaying && now - s->last_write >= HEARTBEAT_MS) {
		if (s->o.heartbeat && s->o.heartbeat[0] &&
		    http_stream_write(s->hs, s->o.heartbeat, strlen(s->o.heartbeat)))
			over = 1;
		s->last_write = now;
	}
	pthread_mutex_unlock(&s->mu);
	return over;
}

static void evs_close(void *arg)
{
	struct evstream *s = arg;
	pthread_mutex_lock(&s->mu);
	if (!s->ended) {
		s->ended = 1;
		http_stream_end(s->hs);
	}
	pthread_mutex_unlock(&s->mu);
}

static void evs_release(void *arg)
{
	evs_unref(arg);
}

static const struct hub_sub_ops evs_ops = {evs_notify, evs_tick, evs_release, evs_close};

void exec_stream(struct req *r, const char *id, const struct stream_opts *o)
{
	struct app *app = req_app(r);
	struct evstream *s = calloc(1, sizeof(*s));
	if (!s) {
		http_error(r, 503, "unavailable", "out of memory");
		return;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->o = *o;
	s->last_sent = o->after;
	s->replaying = 1;
	s->refs = 2;   /* this handler, and the hub */
	s->last_write = time_now_ms();
	s->hs = http_stream_start(r, 200, o->content_type);
	if (!s->hs) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		http_error(r, 503, "unavailable", "out of memory");
		return;
	}
	struct hub_sub *sub = hub_subscribe(app->hub, id, &evs_ops, s);
	/* replay the log from the store, then hand over to live events */
	int over = 0;
	while (!over) {
		struct event_rec *evs;
		size_t n;
		pthread_mutex_lock(&s->mu);
		int64_t after = s->last_sent;
		pthread_mutex_unlock(&s->mu);
		if (store_events_list(app->store, id, after, 500, &evs, &n) != 0)
			break;
		pthread_mutex_lock(&s->mu);
		over = evs_write(s, evs, n);
		pthread_mutex_unlock(&s->mu);
		event_recs_free(evs, n);
		if (n < 500)
			break;
	}
	pthread_mutex_lock(&s->mu);
	s->replaying = 0;
	if (!over && s->npending)
		over = evs_write(s, s->pending, s->npending);
	event_recs_free(s->pending, s->npending);
	s->pending = NULL;
	s->npending = s->cap = 0;
	pthread_mutex_unlock(&s->mu);
	if (over && sub)
		hub_unsubscribe(app->hub, sub);
	if (!sub)
		evs_unref(s);   /* never subscribed: drop the hub's reference */
	evs_unref(s);
}

void render_sse(const struct event_rec *ev, struct buf *out, void *ctx)
{
	(void)ctx;
	buf_printf(out, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)ev->seq, ev->type,
		   ev->data ? ev->data : "{}");
}

void render_ndjson(const struct event_rec *ev, struct buf *out, void *ctx)
{
	(void)ctx;
	char ts[40];
	time_format_rfc3339(ev->created_at, ts, sizeof(ts));
	buf_printf(out, "{\"seq\":%lld,\"type\":\"%s\",\"time\":\"%s\",\"data\":%s}\n",
		   (long long)ev->seq, ev->type, ts, ev->data ? ev->data : "{}");
}
