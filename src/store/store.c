/*
 * store.c: backend selection and the synchronous write helper shared by all backends.
 */
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char *const store_batch_bucket_names[8] = {"1", "4", "16", "64", "256", "1024", "4096",
						 "+Inf"};

int store_open(const char *data_dir, struct store **out, agd_errbuf *eb)
{
	char path[512];
	if (mkdir(data_dir, 0750) != 0 && errno != EEXIST)
		return agd_fail(eb, AGD_EIO, "cannot create data directory %s: %s", data_dir,
				strerror(errno));
	int n = snprintf(path, sizeof(path), "%s/agentd.db", data_dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return agd_fail(eb, AGD_EINVAL, "data directory path is too long");
	return store_sqlite_open(path, out, eb);
}

struct sync_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int finished;
};

static void sync_done(struct store_write *w)
{
	struct sync_wait *sw = w->arg;
	pthread_mutex_lock(&sw->mu);
	sw->finished = 1;
	pthread_cond_signal(&sw->cv);
	pthread_mutex_unlock(&sw->mu);
}

int store_write_sync(struct store *st, struct store_write *w)
{
	struct sync_wait sw = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
	w->done = sync_done;
	w->arg = &sw;
	int rc = store_submit(st, w);
	if (rc)
		return rc;
	pthread_mutex_lock(&sw.mu);
	while (!sw.finished)
		pthread_cond_wait(&sw.cv, &sw.mu);
	pthread_mutex_unlock(&sw.mu);
	pthread_mutex_destroy(&sw.mu);
	pthread_cond_destroy(&sw.cv);
	return w->rc;
}

void agent_rec_clear(struct agent_rec *a)
{
	free(a->name);
	free(a->description);
	free(a->config);
	a->name = a->description = a->config = NULL;
}

void exec_rec_clear(struct exec_rec *e)
{
	free(e->input);
	free(e->metadata);
	free(e->output);
	free(e->error_message);
	free(e->attachments);
	e->input = e->metadata = e->output = e->error_message = e->attachments = NULL;
}

void revision_rec_clear(struct revision_rec *r)
{
	free(r->config);
	r->config = NULL;
}

void event_rec_clear(struct event_rec *e)
{
	free(e->data);
	e->data = NULL;
}

void session_msg_clear(struct session_msg *m)
{
	free(m->content);
	m->content = NULL;
}

#define DEFINE_RECS_FREE(fn, type, clear)                                                  \
	void fn(type *a, size_t n)                                                         \
	{                                                                                  \
		for (size_t i = 0; a && i < n; i++)                                        \
			clear(&a[i]);                                                      \
		free(a);                                                                   \
	}

static void step_rec_clear(struct step_rec *s)
{
	free(s->data);
	s->data = NULL;
}

DEFINE_RECS_FREE(agent_recs_free, struct agent_rec, agent_rec_clear)
DEFINE_RECS_FREE(exec_recs_free, struct exec_rec, exec_rec_clear)
DEFINE_RECS_FREE(revision_recs_free, struct revision_rec, revision_rec_clear)
DEFINE_RECS_FREE(event_recs_free, struct event_rec, event_rec_clear)
DEFINE_RECS_FREE(session_msgs_free, struct session_msg, session_msg_clear)
DEFINE_RECS_FREE(step_recs_free, struct step_rec, step_rec_clear)
