/*
 * hub.h: per-execution event fan-out. Subscribers (SSE and NDJSON streams, synchronous
 * waiters, parents waiting for a sub-agent) register for one execution; the engine publishes
 * each batch of events once it is durable. A tick thread calls every subscriber's tick
 * function a few times a second (heartbeats, wait deadlines).
 *
 * Callbacks run with the hub's shard lock held: they must not block, must not call back into
 * the hub, and return 1 to be removed (then `release` runs once, also under the lock) or 0 to
 * stay. Thread-safe.
 */
#ifndef AGD_HUB_H
#define AGD_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct hub_sub_ops {
	int (*notify)(void *arg, const struct event_rec *evs, size_t n);
	int (*tick)(void *arg, int64_t now_ms);       /* may be NULL */
	void (*release)(void *arg);                   /* may be NULL */
	/* The hub is closing (shutdown): end now. Removal follows. May be NULL. */
	void (*close)(void *arg);
};

struct hub;
struct hub_sub;

struct hub *hub_create(void);
/* Stops the tick thread, closes and releases every subscriber. */
void hub_destroy(struct hub *h);
struct hub_sub *hub_subscribe(struct hub *h, const char *exec_id, const struct hub_sub_ops *ops,
			      void *arg);
/* Removes s if it is still subscribed (release runs); returns 1 if it was. Never call it
 * from a callback. */
int hub_unsubscribe(struct hub *h, struct hub_sub *s);
/* Hands a durable batch of events of one execution to its subscribers. */
void hub_publish(struct hub *h, const char *exec_id, const struct event_rec *evs, size_t n);
/* Calls close on every subscriber and removes them (shutdown). */
void hub_close_all(struct hub *h);
/* Subscribers now (for metrics). */
size_t hub_count(struct hub *h);

#endif
