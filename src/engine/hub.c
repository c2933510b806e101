/*
 * hub.c: subscriptions in a sharded hash table keyed by execution id. hub_publish runs on the
 * store writer thread (after a commit); the tick thread is the hub's own.
 */
#include "engine/hub.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HUB_SHARDS 64
#define HUB_TICK_MS 200

struct hub_sub {
	struct hub_sub *next;
	char exec_id[STORE_ID_LEN];
	const struct hub_sub_ops *ops;
	void *arg;
	int shard;
};

struct hub_shard {
	pthread_mutex_t mu;
	struct hub_sub *head;
};

struct hub {
	struct hub_shard shards[HUB_SHARDS];
	pthread_t ticker;
	pthread_mutex_t tmu;
	pthread_cond_t tcv;
	int stop;
	_Atomic size_t count;
};

static unsigned shard_of(const char *id)
{
	uint32_t h = 2166136261u;
	for (; *id; id++) {
		h ^= (unsigned char)*id;
		h *= 16777619u;
	}
	return h % HUB_SHARDS;
}

static void drop(struct hub *h, struct hub_sub **link)
{
	struct hub_sub *s = *link;
	*link = s->next;
	if (s->ops->release)
		s->ops->release(s->arg);
	free(s);
	atomic_fetch_sub(&h->count, 1);
}

static void *ticker_main(void *arg)
{
	struct hub *h = arg;
	pthread_mutex_lock(&h->tmu);
	while (!h->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += HUB_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->tcv, &h->tmu, &ts);
		if (h->stop)
			break;
		pthread_mutex_unlock(&h->tmu);
		int64_t now = time_now_ms();
		for (int i = 0; i < HUB_SHARDS; i++) {
			struct hub_shard *sh = &h->shards[i];
			pthread_mutex_lock(&sh->mu);
			struct hub_sub **link = &sh->head;
			while (*link) {
				struct hub_sub *s = *link;
				if (s->ops->tick && s->ops->tick(s->arg, now))
					drop(h, link);
				else
					link = &s->next;
			}
			pthread_mutex_unlock(&sh->mu);
		}
		pthread_mutex_lock(&h->tmu);
	}
	pthread_mutex_unlock(&h->tmu);
	return NULL;
}

struct hub *hub_create(void)
{
	struct hub *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	for (int i = 0; i < HUB_SHARDS; i++)
		pthread_mutex_init(&h->shards[i].mu, NULL);
	pthread_mutex_init(&h->tmu, NULL);
	pthread_cond_init(&h->tcv, NULL);
	if (pthread_create(&h->ticker, NULL, ticker_main, h) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

void hub_close_all(struct hub *h)
{
	for (int i = 0; i < HUB_SHARDS; i++) {
		struct hub_shard *sh = &h->shards[i];
		pthread_mutex_lock(&sh->mu);
		while (sh->head) {
			if (sh->head->ops->close)
				sh->head->ops->close(sh->head->arg);
			drop(h, &sh->head);
		}
		pthread_mutex_unlock(&sh->mu);
	}
}

void hub_destroy(struct hub *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->tmu);
	h->stop = 1;
	pthread_cond_signal(&h->tcv);
	pthread_mutex_unlock(&h->tmu);
	pthread_join(h->ticker, NULL);
	hub_close_all(h);
	for (int i = 0; i < HUB_SHARDS; i++)
		pthread_mutex_destroy(&h->shards[i].mu);
	pthread_mutex_destroy(&h->tmu);
	pthread_cond_destroy(&h->tcv);
	free(h);
}

struct hub_sub *hub_subscribe(struct hub *h, const char *exec_id, const struct hub_sub_ops *ops,
			      void *arg)
{
	struct hub_sub *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	strncpy(s->exec_id, exec_id, sizeof(s->exec_id) - 1);
	s->ops = ops;
	s->arg = arg;
	s->shard = (int)shard_of(exec_id);
	struct hub_shard *sh = &h->shards[s->shard];
	pthread_mutex_lock(&sh->mu);
	s->next = sh->head;
	sh->head = s;
	pthread_mutex_unlock(&sh->mu);
	atomic_fetch_add(&h->count, 1);
	return s;
}

int hub_unsubscribe(struct hub *h, struct hub_sub *target)
{
	/* target may already be freed by a callback's removal: find it by address, never
	 * dereference it before it is found in the list */
	for (int i = 0; i < HUB_SHARDS; i++) {
		struct hub_shard *sh = &h->shards[i];
		pthread_mutex_lock(&sh->mu);
		for (struct hub_sub **link = &sh->head; *link; link = &(*link)->next) {
			if (*link == target) {
				drop(h, link);
				pthread_mutex_unlock(&sh->mu);
				return 1;
			}
		}
		pthread_mutex_unlock(&sh->mu);
	}
	return 0;
}

void hub_publish(struct hub *h, const char *exec_id, const struct event_rec *evs, size_t n)
{
	struct hub_shard *sh = &h->shards[shard_of(exec_id)];
	pthread_mutex_lock(&sh->mu);
	struct hub_sub **link = &sh->head;
	while (*link) {
		struct hub_sub *s = *link;
		if (strcmp(s->exec_id, exec_id) == 0 && s->ops->notify(s->arg, evs, n))
			drop(h, link);
		else
			link = &s->next;
	}
	pthread_mutex_unlock(&sh->mu);
}

size_t hub_count(struct hub *h)
{
	return atomic_load(&h->count);
}
