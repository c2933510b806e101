/*
 * ratelimit.h: token buckets per API key. A bucket holds up to `limit` tokens and refills at
 * limit/60 tokens per second, so a key may burst its whole per-minute allowance and then runs
 * at the steady rate. Thread-safe (sharded locks).
 */
#ifndef AGD_RATELIMIT_H
#define AGD_RATELIMIT_H

#include <stdint.h>

struct token_bucket {
	double tokens;
	int64_t last_us;     /* monotonic time of the last refill */
	int64_t limit;       /* requests per minute this bucket was sized for */
};

struct rl_result {
	int allowed;
	int64_t limit;        /* X-RateLimit-Limit */
	int64_t remaining;    /* X-RateLimit-Remaining */
	int64_t reset_s;      /* seconds until the bucket is full again (X-RateLimit-Reset = now + this) */
	int64_t retry_after;  /* seconds until one token is available (only when !allowed) */
};

/* Pure bucket step: refills for the time since last_us, then takes one token if it can. */
void token_bucket_take(struct token_bucket *b, int64_t limit, int64_t now_us,
		       struct rl_result *out);

struct ratelimit;
struct ratelimit *ratelimit_create(void);
void ratelimit_destroy(struct ratelimit *rl);
/* Takes one token from the bucket of key_id (created full on first use). */
void ratelimit_take(struct ratelimit *rl, const char *key_id, int64_t limit, int64_t now_us,
		    struct rl_result *out);

#endif
