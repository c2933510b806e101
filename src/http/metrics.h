/*
 * metrics.h: process metrics in Prometheus text format: requests by route and status, a
 * latency histogram, in-flight requests, and the store's queue depth and commit batch sizes.
 * Counters are atomics; observing is lock-free from any thread.
 */
#ifndef AGD_METRICS_H
#define AGD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct router;
struct store;
struct metrics;

struct metrics *metrics_create(const struct router *rt);
void metrics_destroy(struct metrics *m);
/* route_index as in struct route_match (router_count() for unmatched requests). */
void metrics_observe(struct metrics *m, size_t route_index, int status, int64_t dur_us);
void metrics_inflight(struct metrics *m, int delta);
void metrics_render(struct metrics *m, struct store *st, struct buf *out);
/* Engine gauges and counters: queued, running, finished by status, stream subscribers. */
struct app;
void metrics_render_engine(struct app *app, struct buf *out);

#endif
