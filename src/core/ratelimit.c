/*
 * ratelimit.c: per-key token buckets in a sharded hash table. Called by http threads during
 * admission; each shard has its own mutex, held only for the bucket arithmetic.
 */
#include "core/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RL_SHARDS 64
#define RL_BUCKETS 256

struct rl_entry {
	struct rl_entry *next;
	char id[16];
	struct token_bucket tb;
};

struct rl_shard {
	pthread_mutex_t mu;
	struct rl_entry *table[RL_BUCKETS];
};

struct ratelimit {
	struct rl_shard shards[RL_SHARDS];
};

void token_bucket_take(struct token_bucket *b, int64_t limit, int64_t now_us,
		       struct rl_result *out)
{
	double cap = (double)limit;
	double per_us = cap / 60e6;
	if (b->limit != limit) {           /* new bucket, or the key's limit changed */
		b->tokens = cap;
		b->limit = limit;
		b->last_us = now_us;
	}
	if (now_us > b->last_us) {
		b->tokens += (double)(now_us - b->last_us) * per_us;
		if (b->tokens > cap)
			b->tokens = cap;
		b->last_us = now_us;
	}
	out->limit = limit;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		out->allowed = 1;
		out->retry_after = 0;
	} else {
		out->allowed = 0;
		out->retry_after = (int64_t)ceil((1.0 - b->tokens) / per_us / 1e6);
		if (out->retry_after < 1)
			out->retry_after = 1;
	}
	out->remaining = (int64_t)floor(b->tokens);
	out->reset_s = (int64_t)ceil((cap - b->tokens) / per_us / 1e6);
}

struct ratelimit *ratelimit_create(void)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	for (int i = 0; i < RL_SHARDS; i++)
		pthread_mutex_init(&rl->shards[i].mu, NULL);
	return rl;
}

void ratelimit_destroy(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (int i = 0; i < RL_SHARDS; i++) {
		for (int j = 0; j < RL_BUCKETS; j++) {
			struct rl_entry *e = rl->shards[i].table[j];
			while (e) {
				struct rl_entry *n = e->next;
				free(e);
				e = n;
			}
		}
		pthread_mutex_destroy(&rl->shards[i].mu);
	}
	free(rl);
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void ratelimit_take(struct ratelimit *rl, const char *key_id, int64_t limit, int64_t now_us,
		    struct rl_result *out)
{
	uint32_t h = hash_str(key_id);
	struct rl_shard *sh = &rl->shards[h % RL_SHARDS];
	unsigned slot = (h / RL_SHARDS) % RL_BUCKETS;
	pthread_mutex_lock(&sh->mu);
	struct rl_entry *e = sh->table[slot];
	while (e && strcmp(e->id, key_id) != 0)
		e = e->next;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {   /* cannot track: let the request through rather than fail it */
			pthread_mutex_unlock(&sh->mu);
			*out = (struct rl_result){1, limit, limit - 1, 0, 0};
			return;
		}
		strncpy(e->id, key_id, sizeof(e->id) - 1);
		e->next = sh->table[slot];
		sh->table[slot] = e;
	}
	token_bucket_take(&e->tb, limit, now_us, out);
	pthread_mutex_unlock(&sh->mu);
}
