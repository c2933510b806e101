/*
 * engine.h: the execution engine. Worker threads, each an event loop over one curl multi
 * handle (and the pipes of custom-agent processes), run executions as state machines: no
 * thread per execution, no blocking call on a worker. A scheduler hands queued executions to
 * workers by priority, then age, within per-agent concurrency caps, a global cap on
 * executions in flight, and one-at-a-time per session of a multi-turn agent.
 * Thread-safe entry points: engine_enqueue, engine_cancel, engine_stats.
 */
#ifndef AGD_ENGINE_H
#define AGD_ENGINE_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct app;
struct engine;

/* A queued execution: the row as inserted and the config of the revision it runs. */
struct engine_job {
	struct exec_rec e;          /* heap strings owned by the job */
	char *config;               /* revision config JSON (heap) */
	int max_concurrency;        /* of the agent; 0 = unlimited */
	int serial_session;         /* multi-turn with a session: one at a time per session */
	uint64_t order;             /* arrival order within a priority */
	struct engine_job *next;
};

int engine_create(struct app *app, struct engine **out, agd_errbuf *eb);
/* Re-queues or fails executions left by a previous process (crash recovery), then starts
 * the workers. */
int engine_start(struct engine *en, agd_errbuf *eb);
/* Hands a committed, queued execution to the scheduler (consumes job). */
void engine_enqueue(struct engine *en, struct engine_job *job);
/* Builds a job from a stored execution (reads its revision config). */
struct engine_job *engine_job_load(struct app *app, const struct exec_rec *e);
void engine_job_free(struct engine_job *job);
/* Cancels a queued or running execution; returns 1 if the engine had it. */
int engine_cancel(struct engine *en, const char *exec_id);
/* Stops claiming work, lets running executions finish for up to grace_s, then stops the
 * workers; unfinished executions stay in the store for recovery. */
void engine_stop(struct engine *en, int grace_s);
void engine_destroy(struct engine *en);

struct engine_stats {
	uint64_t queued, running, completed, failed, cancelled;
};
void engine_stats(struct engine *en, struct engine_stats *out);

#endif
