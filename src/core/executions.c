/*
 * executions.c: admission of executions (see executions.h). Runs on the calling thread (an
 * http thread or an engine worker) up to the durable insert; the rest runs on the store
 * writer thread when the insert has committed.
 */
#include "core/executions.h"
#include "core/agents.h"
#include "core/app.h"
#include "core/schema.h"
#include "engine/engine.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/ids.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDEM_TTL_MS (24LL * 3600 * 1000)

int exec_status_terminal(const char *s)
{
	return strcmp(s, "completed") == 0 || strcmp(s, "failed") == 0 ||
	       strcmp(s, "cancelled") == 0 || strcmp(s, "rejected") == 0;
}

struct submit_ctx {
	struct store_write w;
	struct store_op ops[4];
	struct app *app;
	submit_done_fn done;
	void *arg;
	struct engine_job *job;
	char *event_data;
	char fingerprint[65];
};

static void ctx_free(struct submit_ctx *c)
{
	exec_rec_clear(&c->ops[0].u.exec);
	if (c->job)
		engine_job_free(c->job);
	free(c->event_data);
	free(c);
}

/* The idempotency key is taken: answer with the original execution or a conflict. */
static void replay(struct app *app, const char *ws, const char *agent, const char *key,
		   const char *fingerprint, submit_done_fn done, void *arg)
{
	struct idem_rec ir;
	struct exec_rec e;
	if (store_idem_get(app->store, ws, agent, key, &ir) != 0) {
		done(arg, 503, SUBMIT_REPLAYED, NULL, "the idempotency record could not be read");
		return;
	}
	if (strcmp(ir.fingerprint, fingerprint) != 0) {
		done(arg, 409, SUBMIT_REPLAYED, NULL,
		     "this idempotency key was already used with a different request body");
		return;
	}
	if (store_exec_get(app->store, ir.execution_id, &e) != 0) {
		done(arg, 503, SUBMIT_REPLAYED, NULL, "the original execution could not be read");
		return;
	}
	done(arg, 200, SUBMIT_REPLAYED, &e, NULL);
	exec_rec_clear(&e);
}

static void submit_committed(struct store_write *w)
{
	struct submit_ctx *c = w->arg;
	struct exec_rec *e = &c->ops[0].u.exec;
	if (w->rc == 0) {
		c->done(c->arg, 202, SUBMIT_CREATED, e, NULL);
		if (c->job) {
			struct engine_job *job = c->job;
			c->job = NULL;
			engine_enqueue(c->app->engine, job);
		}
	} else if (w->rc == AGD_EQUOTA) {
		c->done(c->arg, 429, SUBMIT_CREATED, NULL, w->err.msg);
	} else if (w->rc == AGD_ECONFLICT && e->idempotency_key[0]) {
		replay(c->app, e->workspace_id, e->agent_id, e->idempotency_key, c->fingerprint,
		       c->done, c->arg);
	} else {
		c->done(c->arg, 503, SUBMIT_CREATED, NULL, w->err.msg);
	}
	ctx_free(c);
}

static void fingerprint(const struct submit_req *rq, int64_t revision, char out[65])
{
	struct buf b;
	buf_init(&b, 64u << 20);
	char *in = json_dumps(rq->input, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	char *md = rq->metadata ? json_dumps(rq->metadata, JSON_COMPACT | JSON_SORT_KEYS |
							    JSON_ENCODE_ANY)
				: NULL;
	buf_printf(&b, "%s\n%s\n%d\n%s\n%lld\n%lld\n%s\n%s", rq->agent->id, in ? in : "",
		   rq->priority, rq->session_id ? rq->session_id : "", (long long)revision,
		   (long long)rq->timeout_s, md ? md : "",
		   rq->fingerprint_extra ? rq->fingerprint_extra : "");
	crypto_sha256_hex(b.data ? b.data : "", b.len, out);
	free(in);
	free(md);
	buf_free(&b);
}

void exec_submit(struct app *app, const struct submit_req *rq, char id_out[STORE_ID_LEN],
		 submit_done_fn done, void *arg)
{
	const struct agent_rec *a = rq->agent;
	char *config_text = NULL;
	int64_t revision = a->deployed_revision;
	if (id_out)
		id_out[0] = '\0';
	if (rq->revision > 0 && rq->revision != a->deployed_revision) {
		struct revision_rec rr;
		if (store_revision_get(app->store, a->id, rq->revision, &rr) != 0) {
			char msg[128];
			snprintf(msg, sizeof(msg), "agent has no revision %lld (latest is %lld)",
				 (long long)rq->revision, (long long)a->latest_revision);
			done(arg, 404, SUBMIT_CREATED, NULL, msg);
			return;
		}
		config_text = rr.config;
		revision = rq->revision;
	} else {
		config_text = strdup(a->config ? a->config : "{}");
	}
	json_t *config = json_loads(config_text, 0, NULL);
	agd_errbuf eb;
	json_t *schema = json_object_get(config, "input_schema");
	if (schema && schema_validate(schema, rq->input, "input", &eb)) {
		json_decref(config);
		free(config_text);
		done(arg, 400, SUBMIT_CREATED, NULL, eb.msg);
		return;
	}
	json_t *limits = json_object_get(config, "limits");
	int max_conc = (int)json_integer_value(json_object_get(limits, "max_concurrency"));
	int64_t timeout = rq->timeout_s > 0 ? rq->timeout_s
					    : json_integer_value(json_object_get(limits, "timeout_s"));
	const char *mode = json_string_value(json_object_get(config, "execution_mode"));
	int multi = mode && strcmp(mode, "multi_turn") == 0;
	json_decref(config);

	struct submit_ctx *c = calloc(1, sizeof(*c));
	struct engine_job *job = calloc(1, sizeof(*job));
	if (!c || !job) {
		free(c);
		free(job);
		free(config_text);
		done(arg, 503, SUBMIT_CREATED, NULL, "out of memory");
		return;
	}
	c->app = app;
	c->done = done;
	c->arg = arg;
	fingerprint(rq, revision, c->fingerprint);

	if (rq->idempotency_key && rq->idempotency_key[0]) {
		struct idem_rec ir;
		if (store_idem_get(app->store, a->workspace_id, a->id, rq->idempotency_key, &ir) ==
			    0 &&
		    ir.expires_at > time_now_ms()) {
			char fp[65];
			memcpy(fp, c->fingerprint, sizeof(fp));
			free(c);
			free(job);
			free(config_text);
			replay(app, a->workspace_id, a->id, rq->idempotency_key, fp, done, arg);
			return;
		}
	}

	struct exec_rec *e = &c->ops[0].u.exec;
	c->ops[0].kind = STORE_OP_EXEC_INSERT;
	id_uuid7(e->id);
	if (id_out)
		memcpy(id_out, e->id, STORE_ID_LEN);
	snprintf(e->agent_id, sizeof(e->agent_id), "%s", a->id);
	snprintf(e->workspace_id, sizeof(e->workspace_id), "%s", a->workspace_id);
	snprintf(e->project_id, sizeof(e->project_id), "%s", a->project_id);
	snprintf(e->key_id, sizeof(e->key_id), "%s", rq->key_id ? rq->key_id : "");
	snprintf(e->source, sizeof(e->source), "%s", rq->source ? rq->source : "api");
	snprintf(e->dialect, sizeof(e->dialect), "%s", rq->dialect ? rq->dialect : "native");
	snprintf(e->status, sizeof(e->status), "queued");
	snprintf(e->session_id, sizeof(e->session_id), "%s", rq->session_id ? rq->session_id : "");
	snprintf(e->parent_id, sizeof(e->parent_id), "%s", rq->parent_id ? rq->parent_id : "");
	snprintf(e->idempotency_key, sizeof(e->idempotency_key), "%s",
		 rq->idempotency_key ? rq->idempotency_key : "");
	e->priority = rq->priority;
	e->revision = revision;
	e->timeout_s = timeout;
	e->attempt = 1;
	e->last_seq = 1;
	e->created_at = time_now_ms();
	e->input = json_dumps(rq->input, JSON_COMPACT | JSON_ENCODE_ANY);
	e->metadata = rq->metadata ? json_dumps(rq->metadata, JSON_COMPACT | JSON_ENCODE_ANY)
				   : NULL;
	e->attachments = json_array_size(rq->attachments)
				 ? json_dumps(rq->attachments, JSON_COMPACT)
				 : NULL;

	struct event_rec *ev = &c->ops[1].u.event;
	c->ops[1].kind = STORE_OP_EVENT_INSERT;
	memcpy(ev->execution_id, e->id, STORE_ID_LEN);
	ev->seq = 1;
	ev->created_at = e->created_at;
	snprintf(ev->type, sizeof(ev->type), "status");
	c->event_data = strdup("{\"status\":\"queued\"}");
	ev->data = c->event_data;
	size_t nops = 2;
	if (e->idempotency_key[0]) {
		struct idem_rec *ir = &c->ops[2].u.idem;
		c->ops[2].kind = STORE_OP_IDEM_INSERT;
		snprintf(ir->workspace_id, sizeof(ir->workspace_id), "%s", a->workspace_id);
		snprintf(ir->agent_id, sizeof(ir->agent_id), "%s", a->id);
		snprintf(ir->key, sizeof(ir->key), "%s", e->idempotency_key);
		memcpy(ir->fingerprint, c->fingerprint, sizeof(ir->fingerprint));
		memcpy(ir->execution_id, e->id, STORE_ID_LEN);
		ir->expires_at = e->created_at + IDEM_TTL_MS;
		nops = 3;
	}
	/* executions started through the API count against the key's quota, in the same
	 * transaction as the insert: a spent quota inserts nothing */
	if (e->key_id[0] && strcmp(e->source, "subagent") != 0) {
		c->ops[nops].kind = STORE_OP_KEY_QUOTA_TAKE;
		snprintf(c->ops[nops].u.key.id, sizeof(c->ops[nops].u.key.id), "%s", e->key_id);
		nops++;
	}

	/* the job the engine will run once the insert is durable */
	job->e = *e;
	job->e.input = e->input ? strdup(e->input) : NULL;
	job->e.metadata = e->metadata ? strdup(e->metadata) : NULL;
	job->e.attachments = e->attachments ? strdup(e->attachments) : NULL;
	job->e.output = job->e.error_message = NULL;
	job->config = config_text;
	job->max_concurrency = max_conc;
	job->serial_session = multi && e->session_id[0];
	c->job = job;

	if (rq->on_id)
		rq->on_id(rq->on_id_arg, e->id);
	c->w.ops = c->ops;
	c->w.nops = nops;
	c->w.done = submit_committed;
	c->w.arg = c;
	/* Without an idempotency key the insert cannot conflict, so the engine may start at
	 * once: the store commits writes in submission order, so nothing the run writes can
	 * overtake the insert. The caller is still answered only after the insert commits. */
	int early = !e->idempotency_key[0];
	struct engine_job *early_job = early ? c->job : NULL;
	if (early)
		c->job = NULL;
	if (store_submit(app->store, &c->w) != 0) {
		done(arg, 503, SUBMIT_CREATED, NULL, "the server is shutting down");
		engine_job_free(early_job);
		ctx_free(c);
		return;
	}
	if (early_job)
		engine_enqueue(app->engine, early_job);
}
