/*
 * app.h: the long-lived objects of a running server, built by `agentd serve` and handed to
 * every handler through req_app(). Read-only after start-up except through each object's own
 * thread-safe API.
 */
#ifndef AGD_APP_H
#define AGD_APP_H

#include <stdint.h>

struct config;
struct store;
struct ratelimit;
struct keyuse;
struct router;
struct metrics;
struct engine;
struct hub;

struct app {
	const struct config *cfg;
	struct store *store;
	struct ratelimit *rl;
	struct keyuse *keyuse;
	struct router *router;
	struct metrics *metrics;
	struct engine *engine;
	struct hub *hub;
	int64_t started_ms;
	volatile int draining;   /* set at shutdown: /readyz answers 503 */
};

#endif
