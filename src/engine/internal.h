/*
 * internal.h: what engine.c (scheduler, workers) and runner.c (the agent loop) share. Not for
 * use outside src/engine/.
 */
#ifndef AGD_ENGINE_INTERNAL_H
#define AGD_ENGINE_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "engine/engine.h"
#include "providers/provider.h"
#include "store/store.h"
#include "util/buf.h"

#define ENGINE_CANCEL_MEMORY 256
#define WORKER_MAX_WAITFDS 1024
#define WORKER_MAP 4096
#define SCHED_BUCKETS 1024

struct count_entry;
struct sched_entity;

/* One store write collecting what a worker's runs produced in a loop iteration. */
struct flush {
	struct store_write w;
	struct store_op *ops;
	size_t nops, cap;
	char **strs;                 /* heap strings the ops point to */
	size_t nstrs, scap;
	struct app *app;
	/* scheduler slots to free once this write is durable (a session's next turn must see
	 * what this one wrote) */
	struct engine_job *releases;
	int urgent;                  /* holds something a client waits to see: commit now */
	int64_t first_us;            /* when the first op was added (monotonic) */
};

/* Non-urgent state (a run starting) waits at most this long for company in one commit. */
#define FLUSH_HOLD_US 2000

struct flush *flush_new(struct app *app);
/* Frees job's scheduler slot after f commits (consumes job). */
void flush_release(struct flush *f, struct engine_job *job);
struct store_op *flush_op(struct flush *f);
/* Takes ownership of s (freed after the write) and returns it. */
char *flush_own(struct flush *f, char *s);
struct flush *flush_commit(struct flush *f);

enum msg_type { MSG_CANCEL, MSG_CHILD_DONE };

struct worker_msg {
	struct worker_msg *next;
	enum msg_type type;
	char exec_id[STORE_ID_LEN];   /* the run the message is for (a parent, for CHILD_DONE) */
	char child_id[STORE_ID_LEN];
	int ok;                       /* CHILD_DONE: the child completed */
	char *payload;                /* CHILD_DONE: the child's answer or error (heap) */
};

struct run;

struct worker {
	struct engine *en;
	int idx;
	pthread_t th;
	int started;
	volatile int stop;
	int draining;
	CURLM *multi;
	pthread_mutex_t mu;
	struct worker_msg *inbox_head, *inbox_tail;
	struct run *runs;             /* doubly linked list of this worker's runs */
	size_t nruns;
	struct run *map[WORKER_MAP];  /* exec id -> run */
	struct flush *fl;
	int64_t last_tick;
};

struct engine {
	struct app *app;
	int max_inflight;
	int nworkers;
	struct worker *workers;
	pthread_mutex_t smu;          /* scheduler */
	struct engine_job *head[4], *tail[4];   /* jobs of agents without caps */
	struct sched_entity *entities[SCHED_BUCKETS];    /* capped agents and serial sessions */
	struct sched_entity *active;            /* entities with queued jobs */
	size_t queued, running;
	uint64_t order;
	int stopping;
	struct count_entry *agent_running[SCHED_BUCKETS];
	struct count_entry *session_busy[SCHED_BUCKETS];
	pthread_mutex_t cmu;          /* cancels that may arrive before their job */
	char cancels[ENGINE_CANCEL_MEMORY][STORE_ID_LEN];
	unsigned cancel_next;
	_Atomic uint64_t n_completed, n_failed, n_cancelled;
	_Atomic unsigned wake_next;
};

struct engine_job *sched_take(struct engine *en);
void sched_release(struct engine *en, const struct engine_job *job);
void engine_wake_all(struct engine *en);
void engine_wake_one(struct engine *en);
void worker_post(struct worker *w, struct worker_msg *m);

/* runner.c: the agent loop, on the worker thread unless noted */
void runner_start(struct worker *w, struct engine_job *job);      /* consumes job */
void runner_message(struct worker *w, struct worker_msg *m);
void runner_transfer_done(struct worker *w, CURL *easy, CURLcode rc);
void runner_poll_children(struct worker *w);
void runner_tick(struct worker *w, int64_t now);
unsigned runner_waitfds(struct worker *w, struct curl_waitfd *fds, unsigned max);
void runner_abandon_all(struct worker *w);
/* Any thread (uses the store directly): finish a queued job as cancelled (consumes job). */
void runner_cancel_queued(struct engine *en, struct engine_job *job);
/* Start-up only: mark a stored execution failed / re-queued, synchronously. */
void runner_fail_stored(struct engine *en, const struct exec_rec *e, const char *code,
			const char *message);
void runner_requeue_stored(struct engine *en, struct engine_job *job);

#endif
