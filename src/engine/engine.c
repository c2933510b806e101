/*
 * engine.c: the scheduler and the worker threads.
 *
 * Scheduler: FIFO queues per priority (CRITICAL first; arrival order within one), skipping
 * jobs whose agent is at its max_concurrency or whose session already runs; a global cap on
 * executions in flight. Any thread enqueues; workers take.
 *
 * Workers: each owns a curl multi handle, the runs it took, and an inbox (cancellations,
 * sub-agent completions) that other threads fill and signal with curl_multi_wakeup. Each loop
 * iteration takes new work, drives transfers and child processes, fires timers, and then
 * commits everything its runs produced (events, state, trace) as one store write; the write's
 * completion publishes the events to the hub. The agent loop itself is in runner.c.
 */
#include "engine/internal.h"
#include "core/app.h"
#include "core/config.h"
#include "engine/hub.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* ---- scheduler ---- */


struct count_entry {
	struct count_entry *next;
	char key[STORE_ID_LEN + STORE_NAME_LEN + 2];
	int n;
};

static uint32_t hash_s(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static struct count_entry **count_slot(struct count_entry **table, const char *key)
{
	struct count_entry **e = &table[hash_s(key) % SCHED_BUCKETS];
	while (*e && strcmp((*e)->key, key) != 0)
		e = &(*e)->next;
	return e;
}

static int count_get(struct count_entry **table, const char *key)
{
	struct count_entry **e = count_slot(table, key);
	return *e ? (*e)->n : 0;
}

static void count_add(struct count_entry **table, const char *key, int d)
{
	struct count_entry **e = count_slot(table, key);
	if (!*e) {
		if (d <= 0)
			return;
		*e = calloc(1, sizeof(**e));
		if (!*e)
			return;
		snprintf((*e)->key, sizeof((*e)->key), "%s", key);
	}
	(*e)->n += d;
	if ((*e)->n <= 0) {
		struct count_entry *dead = *e;
		*e = dead->next;
		free(dead);
	}
}

static void session_key(const struct engine_job *j, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", j->e.agent_id, j->e.session_id);
}

/* A queue of its own for the jobs of an agent with a concurrency cap, or of one session of a
 * multi-turn agent: taking a job looks at the head of each such queue, never at the jobs
 * waiting behind a cap. */
struct sched_entity {
	struct sched_entity *hnext;
	struct sched_entity *lnext, *lprev;   /* the active list */
	char key[STORE_ID_LEN + STORE_NAME_LEN + 2];
	struct engine_job *head[4], *tail[4];
	size_t nqueued;
	int active;
};

static int job_capped(const struct engine_job *j)
{
	return j->max_concurrency > 0 || j->serial_session;
}

static void entity_key(const struct engine_job *j, char *out, size_t n)
{
	if (j->serial_session)
		session_key(j, out, n);
	else
		snprintf(out, n, "%s", j->e.agent_id);
}

static struct sched_entity *entity_get(struct engine *en, const char *key, int create)
{
	struct sched_entity **e = &en->entities[hash_s(key) % SCHED_BUCKETS];
	while (*e && strcmp((*e)->key, key) != 0)
		e = &(*e)->hnext;
	if (!*e && create) {
		*e = calloc(1, sizeof(**e));
		if (*e)
			snprintf((*e)->key, sizeof((*e)->key), "%s", key);
	}
	return *e;
}

static void fifo_push(struct engine_job **head, struct engine_job **tail, struct engine_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static struct engine_job *fifo_pop(struct engine_job **head, struct engine_job **tail)
{
	struct engine_job *j = *head;
	if (j) {
		*head = j->next;
		if (!*head)
			*tail = NULL;
		j->next = NULL;
	}
	return j;
}

static void entity_activate(struct engine *en, struct sched_entity *e)
{
	if (e->active)
		return;
	e->active = 1;
	e->lprev = NULL;
	e->lnext = en->active;
	if (en->active)
		en->active->lprev = e;
	en->active = e;
}

static void entity_deactivate(struct engine *en, struct sched_entity *e)
{
	if (!e->active || e->nqueued)
		return;
	e->active = 0;
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		en->active = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	e->lnext = e->lprev = NULL;
}

static int job_runnable(struct engine *en, const struct engine_job *j)
{
	char sk[STORE_ID_LEN + STORE_NAME_LEN + 2];
	if (j->max_concurrency > 0 &&
	    count_get(en->agent_running, j->e.agent_id) >= j->max_concurrency)
		return 0;
	if (j->serial_session) {
		session_key(j, sk, sizeof(sk));
		if (count_get(en->session_busy, sk) > 0)
			return 0;
	}
	return 1;
}

/* Queues job; returns 1 when it could run at once (a worker should be woken). */
static int sched_push(struct engine *en, struct engine_job *job)
{
	int runnable;
	int p = job->e.priority < 0 ? 0 : job->e.priority > 3 ? 3 : job->e.priority;
	job->e.priority = p;
	pthread_mutex_lock(&en->smu);
	job->order = ++en->order;
	if (job_capped(job)) {
		char key[STORE_ID_LEN + STORE_NAME_LEN + 2];
		entity_key(job, key, sizeof(key));
		struct sched_entity *e = entity_get(en, key, 1);
		if (e) {
			fifo_push(&e->head[p], &e->tail[p], job);
			e->nqueued++;
			entity_activate(en, e);
		} else {
			fifo_push(&en->head[p], &en->tail[p], job);   /* out of memory: uncapped */
		}
	} else {
		fifo_push(&en->head[p], &en->tail[p], job);
	}
	en->queued++;
	runnable = en->running < (size_t)en->max_inflight && job_runnable(en, job);
	pthread_mutex_unlock(&en->smu);
	return runnable;
}

struct engine_job *sched_take(struct engine *en)
{
	struct engine_job *found = NULL;
	char sk[STORE_ID_LEN + STORE_NAME_LEN + 2];
	pthread_mutex_lock(&en->smu);
	if (en->running >= (size_t)en->max_inflight || en->stopping) {
		pthread_mutex_unlock(&en->smu);
		return NULL;
	}
	for (int p = 3; p >= 0 && !found; p--) {
		/* the oldest runnable head: the uncapped queue's, or a capped queue's */
		struct engine_job *best = en->head[p];
		struct sched_entity *from = NULL;
		for (struct sched_entity *e = en->active; e; e = e->lnext) {
			struct engine_job *h = e->head[p];
			if (h && (!best || h->order < best->order) && job_runnable(en, h)) {
				best = h;
				from = e;
			}
		}
		if (!best)
			continue;
		if (from) {
			found = fifo_pop(&from->head[p], &from->tail[p]);
			from->nqueued--;
			entity_deactivate(en, from);
		} else {
			found = fifo_pop(&en->head[p], &en->tail[p]);
		}
	}
	if (found) {
		en->queued--;
		en->running++;
		count_add(en->agent_running, found->e.agent_id, 1);
		if (found->serial_session) {
			session_key(found, sk, sizeof(sk));
			count_add(en->session_busy, sk, 1);
		}
	}
	pthread_mutex_unlock(&en->smu);
	return found;
}

void sched_release(struct engine *en, const struct engine_job *job)
{
	char sk[STORE_ID_LEN + STORE_NAME_LEN + 2];
	pthread_mutex_lock(&en->smu);
	en->running--;
	count_add(en->agent_running, job->e.agent_id, -1);
	if (job->serial_session) {
		session_key(job, sk, sizeof(sk));
		count_add(en->session_busy, sk, -1);
	}
	int waiting = en->queued > 0;
	pthread_mutex_unlock(&en->smu);
	if (waiting)   /* a freed slot may let a waiting job run */
		engine_wake_one(en);
}

static struct engine_job *fifo_remove(struct engine_job **head, struct engine_job **tail,
				      const char *id)
{
	struct engine_job **link = head, *prev = NULL;
	while (*link) {
		if (strcmp((*link)->e.id, id) == 0) {
			struct engine_job *j = *link;
			*link = j->next;
			if (*tail == j)
				*tail = prev;
			j->next = NULL;
			return j;
		}
		prev = *link;
		link = &(*link)->next;
	}
	return NULL;
}

/* Removes a queued job by execution id; NULL when it is not queued. */
static struct engine_job *sched_remove(struct engine *en, const char *id)
{
	struct engine_job *found = NULL;
	pthread_mutex_lock(&en->smu);
	for (int p = 0; p < 4 && !found; p++)
		found = fifo_remove(&en->head[p], &en->tail[p], id);
	for (struct sched_entity *e = en->active; e && !found; e = e->lnext) {
		for (int p = 0; p < 4 && !found; p++) {
			found = fifo_remove(&e->head[p], &e->tail[p], id);
			if (found) {
				e->nqueued--;
				entity_deactivate(en, e);
			}
		}
	}
	if (found)
		en->queued--;
	pthread_mutex_unlock(&en->smu);
	return found;
}

/* ---- jobs ---- */

void engine_job_free(struct engine_job *job)
{
	if (!job)
		return;
	exec_rec_clear(&job->e);
	free(job->config);
	free(job);
}

struct engine_job *engine_job_load(struct app *app, const struct exec_rec *e)
{
	struct revision_rec rr;
	if (store_revision_get(app->store, e->agent_id, e->revision, &rr) != 0)
		return NULL;
	struct engine_job *job = calloc(1, sizeof(*job));
	if (!job) {
		revision_rec_clear(&rr);
		return NULL;
	}
	job->e = *e;
	job->e.input = e->input ? strdup(e->input) : NULL;
	job->e.metadata = e->metadata ? strdup(e->metadata) : NULL;
	job->e.attachments = e->attachments ? strdup(e->attachments) : NULL;
	job->e.output = NULL;
	job->e.error_message = NULL;
	job->config = rr.config;
	json_t *c = json_loads(job->config, 0, NULL);
	json_t *lim = json_object_get(c, "limits");
	job->max_concurrency = (int)json_integer_value(json_object_get(lim, "max_concurrency"));
	const char *mode = json_string_value(json_object_get(c, "execution_mode"));
	job->serial_session = mode && strcmp(mode, "multi_turn") == 0 && e->session_id[0];
	json_decref(c);
	return job;
}

/* ---- flush: one store write per worker loop iteration ---- */

struct flush *flush_new(struct app *app)
{
	struct flush *f = calloc(1, sizeof(*f));
	if (f)
		f->app = app;
	return f;
}

struct store_op *flush_op(struct flush *f)
{
	if (f->nops == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 64;
		struct store_op *n = realloc(f->ops, nc * sizeof(*n));
		if (!n)
			return NULL;
		f->ops = n;
		f->cap = nc;
	}
	if (f->nops == 0)
		f->first_us = time_mono_us();
	struct store_op *op = &f->ops[f->nops++];
	memset(op, 0, sizeof(*op));
	return op;
}

char *flush_own(struct flush *f, char *s)
{
	if (!s)
		return NULL;
	if (f->nstrs == f->scap) {
		size_t nc = f->scap ? f->scap * 2 : 64;
		char **n = realloc(f->strs, nc * sizeof(*n));
		if (!n) {
			free(s);
			return NULL;
		}
		f->strs = n;
		f->scap = nc;
	}
	f->strs[f->nstrs++] = s;
	return s;
}

void flush_release(struct flush *f, struct engine_job *job)
{
	job->next = f->releases;
	f->releases = job;
}

static void flush_do_releases(struct flush *f)
{
	while (f->releases) {
		struct engine_job *j = f->releases;
		f->releases = j->next;
		sched_release(f->app->engine, j);
		engine_job_free(j);
	}
}

static void flush_free(struct flush *f)
{
	flush_do_releases(f);
	for (size_t i = 0; i < f->nstrs; i++)
		free(f->strs[i]);
	free(f->strs);
	free(f->ops);
	free(f);
}

static void flush_done(struct store_write *w)
{
	struct flush *f = w->arg;
	if (w->rc)
		log_error("engine: a state write of %zu ops failed: %s", f->nops, w->err.msg);
	else
		for (size_t i = 0; i < f->nops; i++)
			if (f->ops[i].kind == STORE_OP_EVENT_INSERT)
				hub_publish(f->app->hub, f->ops[i].u.event.execution_id,
					    &f->ops[i].u.event, 1);
	flush_do_releases(f);
	flush_free(f);
}

/* Submits what f holds (if anything) and returns a fresh flush. */
struct flush *flush_commit(struct flush *f)
{
	if (!f->nops) {
		flush_do_releases(f);
		return f;
	}
	struct flush *next = flush_new(f->app);
	f->w.ops = f->ops;
	f->w.nops = f->nops;
	f->w.done = flush_done;
	f->w.arg = f;
	if (store_submit(f->app->store, &f->w) != 0) {
		log_error("engine: the store refused a state write (shutting down)");
		flush_free(f);
	}
	return next ? next : flush_new(NULL);
}

/* ---- workers ---- */

void engine_wake_one(struct engine *en)
{
	unsigned i = atomic_fetch_add(&en->wake_next, 1) % (unsigned)en->nworkers;
	if (en->workers[i].multi)
		curl_multi_wakeup(en->workers[i].multi);
}

void engine_wake_all(struct engine *en)
{
	for (int i = 0; i < en->nworkers; i++)
		if (en->workers[i].multi)
			curl_multi_wakeup(en->workers[i].multi);
}

void worker_post(struct worker *w, struct worker_msg *m)
{
	pthread_mutex_lock(&w->mu);
	m->next = NULL;
	if (w->inbox_tail)
		w->inbox_tail->next = m;
	else
		w->inbox_head = m;
	w->inbox_tail = m;
	pthread_mutex_unlock(&w->mu);
	curl_multi_wakeup(w->multi);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct engine *en = w->en;
	int cap = (en->max_inflight + en->nworkers - 1) / en->nworkers;
	w->fl = flush_new(en->app);
	while (!w->stop) {
		/* messages from other threads */
		pthread_mutex_lock(&w->mu);
		struct worker_msg *m = w->inbox_head;
		w->inbox_head = w->inbox_tail = NULL;
		pthread_mutex_unlock(&w->mu);
		while (m) {
			struct worker_msg *next = m->next;
			runner_message(w, m);
			free(m->payload);
			free(m);
			m = next;
		}
		/* new work */
		struct engine_job *job;
		while ((int)w->nruns < cap && !w->draining && (job = sched_take(en)))
			runner_start(w, job);
		/* I/O */
		int running;
		curl_multi_perform(w->multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(w->multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				runner_transfer_done(w, msg->easy_handle, msg->data.result);
		runner_poll_children(w);
		int64_t now = time_now_ms();
		if (now - w->last_tick >= 50) {
			w->last_tick = now;
			runner_tick(w, now);
		}
		int timeout_ms = 50;
		if (w->fl->nops) {
			int64_t held = time_mono_us() - w->fl->first_us;
			if (w->fl->urgent || held >= FLUSH_HOLD_US || w->stop)
				w->fl = flush_commit(w->fl);
			else
				timeout_ms = (int)((FLUSH_HOLD_US - held + 999) / 1000);
		} else if (w->fl->releases) {
			w->fl = flush_commit(w->fl);
		}
		if (w->draining && w->nruns == 0)
			break;
		/* wait for I/O, a wake-up, the next tick, or the end of a hold */
		struct curl_waitfd fds[WORKER_MAX_WAITFDS];
		unsigned nfds = runner_waitfds(w, fds, WORKER_MAX_WAITFDS);
		curl_multi_poll(w->multi, fds, nfds, timeout_ms, NULL);
	}
	w->fl = flush_commit(w->fl);
	flush_free(w->fl);
	w->fl = NULL;
	return NULL;
}

int engine_create(struct app *app, struct engine **out, agd_errbuf *eb)
{
	struct engine *en = calloc(1, sizeof(*en));
	if (!en)
		return agd_fail(eb, AGD_ENOMEM, "out of memory");
	en->app = app;
	en->max_inflight = app->cfg->max_inflight;
	en->nworkers = app->cfg->engine_workers;
	pthread_mutex_init(&en->smu, NULL);
	pthread_mutex_init(&en->cmu, NULL);
	en->workers = calloc((size_t)en->nworkers, sizeof(struct worker));
	if (!en->workers) {
		free(en);
		return agd_fail(eb, AGD_ENOMEM, "out of memory");
	}
	for (int i = 0; i < en->nworkers; i++) {
		struct worker *w = &en->workers[i];
		w->en = en;
		w->idx = i;
		pthread_mutex_init(&w->mu, NULL);
		w->multi = curl_multi_init();
		if (!w->multi) {
			free(en->workers);
			free(en);
			return agd_fail(eb, AGD_EINTERNAL, "cannot create a curl multi handle");
		}
		curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, 4096L);
	}
	/* executions in flight hold sockets: raise the open-file limit as far as allowed */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	*out = en;
	return 0;
}

/* Crash recovery: executions a previous process left queued, running or waiting. */
static int recover(struct engine *en)
{
	struct app *app = en->app;
	struct exec_rec *list;
	size_t n;
	if (store_exec_active(app->store, &list, &n))
		return AGD_EIO;
	size_t requeued = 0, failed = 0, queued = 0;
	for (size_t i = 0; i < n; i++) {
		struct exec_rec *e = &list[i];
		int was_running = strcmp(e->status, "queued") != 0;
		if (was_running && e->tool_started) {
			runner_fail_stored(en, e, "interrupted",
					   "the server stopped while this execution was running "
					   "a tool; it was not retried because the tool may have "
					   "had side effects");
			failed++;
			continue;
		}
		struct engine_job *job = engine_job_load(app, e);
		if (!job) {
			runner_fail_stored(en, e, "revision_missing",
					   "the agent revision of this execution no longer exists");
			failed++;
			continue;
		}
		if (was_running) {
			job->e.attempt++;
			runner_requeue_stored(en, job);
			requeued++;
		} else {
			queued++;
		}
		engine_enqueue(en, job);
	}
	exec_recs_free(list, n);
	if (n)
		log_info("recovery: %zu queued picked up, %zu re-queued, %zu failed as "
			 "interrupted", queued, requeued, failed);
	return 0;
}

int engine_start(struct engine *en, agd_errbuf *eb)
{
	if (recover(en))
		return agd_fail(eb, AGD_EIO, "crash recovery could not read the store");
	for (int i = 0; i < en->nworkers; i++) {
		if (pthread_create(&en->workers[i].th, NULL, worker_main, &en->workers[i]) != 0)
			return agd_fail(eb, AGD_EINTERNAL, "cannot start engine worker %d", i);
		en->workers[i].started = 1;
	}
	return 0;
}

void engine_enqueue(struct engine *en, struct engine_job *job)
{
	/* a cancel that arrived between the insert and this hand-off wins */
	pthread_mutex_lock(&en->cmu);
	int cancelled = 0;
	for (int i = 0; i < ENGINE_CANCEL_MEMORY; i++)
		if (strcmp(en->cancels[i], job->e.id) == 0)
			cancelled = 1;
	pthread_mutex_unlock(&en->cmu);
	if (cancelled) {
		runner_cancel_queued(en, job);
		return;
	}
	if (sched_push(en, job))
		engine_wake_one(en);
}

int engine_cancel(struct engine *en, const char *id)
{
	struct engine_job *job = sched_remove(en, id);
	if (job) {
		runner_cancel_queued(en, job);
		return 1;
	}
	pthread_mutex_lock(&en->cmu);
	snprintf(en->cancels[en->cancel_next++ % ENGINE_CANCEL_MEMORY], STORE_ID_LEN, "%s", id);
	pthread_mutex_unlock(&en->cmu);
	for (int i = 0; i < en->nworkers; i++) {
		struct worker_msg *m = calloc(1, sizeof(*m));
		if (!m)
			continue;
		m->type = MSG_CANCEL;
		snprintf(m->exec_id, sizeof(m->exec_id), "%s", id);
		worker_post(&en->workers[i], m);
	}
	return 1;
}

void engine_stop(struct engine *en, int grace_s)
{
	pthread_mutex_lock(&en->smu);
	en->stopping = 1;
	pthread_mutex_unlock(&en->smu);
	int64_t deadline = time_mono_us() + (int64_t)grace_s * 1000000;
	for (;;) {
		pthread_mutex_lock(&en->smu);
		size_t running = en->running;
		pthread_mutex_unlock(&en->smu);
		if (running == 0 || time_mono_us() >= deadline)
			break;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < en->nworkers; i++) {
		struct worker *w = &en->workers[i];
		w->stop = 1;
		curl_multi_wakeup(w->multi);
	}
	for (int i = 0; i < en->nworkers; i++)
		if (en->workers[i].started) {
			pthread_join(en->workers[i].th, NULL);
			en->workers[i].started = 0;
		}
}

void engine_destroy(struct engine *en)
{
	if (!en)
		return;
	for (int i = 0; i < en->nworkers; i++) {
		struct worker *w = &en->workers[i];
		runner_abandon_all(w);
		struct worker_msg *m = w->inbox_head;
		while (m) {
			struct worker_msg *n = m->next;
			free(m->payload);
			free(m);
			m = n;
		}
		curl_multi_cleanup(w->multi);
		pthread_mutex_destroy(&w->mu);
	}
	for (int p = 0; p < 4; p++) {
		struct engine_job *j = en->head[p];
		while (j) {
			struct engine_job *n = j->next;
			engine_job_free(j);
			j = n;
		}
	}
	for (int i = 0; i < SCHED_BUCKETS; i++) {
		struct sched_entity *se = en->entities[i];
		while (se) {
			struct sched_entity *n = se->hnext;
			for (int p = 0; p < 4; p++) {
				struct engine_job *j = se->head[p];
				while (j) {
					struct engine_job *jn = j->next;
					engine_job_free(j);
					j = jn;
				}
			}
			free(se);
			se = n;
		}
	}
	for (int i = 0; i < SCHED_BUCKETS; i++) {
		struct count_entry *e = en->agent_running[i];
		while (e) {
			struct count_entry *n = e->next;
			free(e);
			e = n;
		}
		e = en->session_busy[i];
		while (e) {
			struct count_entry *n = e->next;
			free(e);
			e = n;
		}
	}
	free(en->workers);
	pthread_mutex_destroy(&en->smu);
	pthread_mutex_destroy(&en->cmu);
	free(en);
}

void engine_stats(struct engine *en, struct engine_stats *out)
{
	pthread_mutex_lock(&en->smu);
	out->queued = en->queued;
	out->running = en->running;
	pthread_mutex_unlock(&en->smu);
	out->completed = atomic_load(&en->n_completed);
	out->failed = atomic_load(&en->n_failed);
	out->cancelled = atomic_load(&en->n_cancelled);
}
