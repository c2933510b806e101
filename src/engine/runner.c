/*
 * runner.c: the agent loop as a state machine driven by a worker's event loop.
 *
 *   start -> [custom: spawn the operator's command, stream its stdout]
 *         -> model call (streamed) -> tool calls? -> run tools (HTTP, sub-agents) -> model call
 *         -> ... -> final answer | failure | cancellation | timeout
 *
 * Everything a run produces (events, state, trace, session messages) goes into the worker's
 * flush, committed once per loop iteration; the commit publishes the events. Retries of model
 * calls on 429, 5xx, timeouts and unreachable servers use jittered exponential backoff that
 * honours Retry-After. Runs on the worker thread, except the *_stored and cancel_queued
 * functions (see internal.h).
 */
#include "engine/internal.h"
#include "core/agents.h"
#include "core/app.h"
#include "core/config.h"
#include "core/cost.h"
#include "core/executions.h"
#include "core/files.h"
#include "engine/hub.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum transfer_kind { T_MODEL, T_TOOL };
enum run_state { R_MODEL, R_BACKOFF, R_TOOLS, R_CUSTOM, R_DONE };

struct transfer {
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	struct run *run;
	enum transfer_kind kind;
	size_t tool;
	long status;
	int status_checked;
	struct buf resp;             /* tool response, or a model error body */
	int too_big, parse_failed, got_body;
	agd_errbuf eb;
	char retry_after[32];
	char ctype[128];
};

struct tool_slot {
	json_t *call;                /* {"id", "name", "arguments"} */
	char *result;
	int is_error, done;
	struct transfer *xfer;
	char child_id[STORE_ID_LEN];
	struct hub_sub *sub;
	int64_t started;
	const char *type;
};

struct run {
	struct run *next, *prev, *hnext, *dnext;
	struct worker *w;
	struct engine_job *job;
	struct exec_rec *e;
	json_t *config, *input, *messages, *tool_defs;
	const struct provider_conf *pconf;
	const struct provider_ops *pops;
	char model[200];
	int step, max_steps, trace_seq;
	int64_t deadline, step_started, retry_at;
	double max_cost;
	enum run_state state;
	struct transfer *mx;
	struct provider_parser parser;
	int parser_live, attempt;
	struct tool_slot *tools;
	size_t ntools, tools_pending;
	struct buf delta;
	int dirty;
	/* custom agents */
	const struct custom_conf *cc;
	pid_t pid;
	int fd_in, fd_out, fd_err;
	char *stdin_data;
	size_t stdin_len, stdin_off;
	struct buf outline, errtail, ctext;
	json_t *cresult;
	char cerror[512];
	int out_eof, err_eof;
};

static _Thread_local struct run *tl_dirty;

static struct app *APP(struct run *r) { return r->w->en->app; }

/* ---- lookups ---- */

static unsigned map_slot(const char *id)
{
	uint32_t h = 2166136261u;
	for (; *id; id++) {
		h ^= (unsigned char)*id;
		h *= 16777619u;
	}
	return h % WORKER_MAP;
}

static struct run *run_find(struct worker *w, const char *id)
{
	for (struct run *r = w->map[map_slot(id)]; r; r = r->hnext)
		if (strcmp(r->e->id, id) == 0)
			return r;
	return NULL;
}

/* ---- events, state, trace ---- */

static void mark_dirty(struct run *r)
{
	if (!r->dirty) {
		r->dirty = 1;
		r->dnext = tl_dirty;
		tl_dirty = r;
	}
}

static void emit_raw(struct run *r, const char *type, char *data)
{
	struct flush *f = r->w->fl;
	struct store_op *op = flush_op(f);
	if (!op) {
		free(data);
		return;
	}
	op->kind = STORE_OP_EVENT_INSERT;
	struct event_rec *ev = &op->u.event;
	memcpy(ev->execution_id, r->e->id, STORE_ID_LEN);
	ev->seq = ++r->e->last_seq;
	ev->created_at = time_now_ms();
	snprintf(ev->type, sizeof(ev->type), "%s", type);
	ev->data = flush_own(f, data ? data : strdup("{}"));
	mark_dirty(r);
}

static void flush_delta(struct run *r)
{
	if (!r->delta.len)
		return;
	r->w->fl->urgent = 1;   /* live text is never held back */
	json_t *d = json_pack("{s:s%}", "text", r->delta.data, r->delta.len);
	buf_reset(&r->delta);
	emit_raw(r, "text.delta", json_dumps(d, JSON_COMPACT));
	json_decref(d);
}

/* Emits an event (consumes data), after any pending text. A run starting (status running,
 * step.start) may wait briefly to share a commit; anything else is committed at once. */
static void emit(struct run *r, const char *type, json_t *data)
{
	flush_delta(r);
	const char *st = json_string_value(json_object_get(data, "status"));
	if (strcmp(type, "step.start") != 0 &&
	    !(strcmp(type, "status") == 0 && st && strcmp(st, "running") == 0 &&
	      !json_object_get(data, "retry")))
		r->w->fl->urgent = 1;
	emit_raw(r, type, json_dumps(data, JSON_COMPACT));
	json_decref(data);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void update_op(struct flush *f, const struct exec_rec *e)
{
	struct store_op *op = flush_op(f);
	if (!op)
		return;
	op->kind = STORE_OP_EXEC_UPDATE;
	op->u.exec = *e;
	op->u.exec.input = op->u.exec.metadata = op->u.exec.attachments = NULL;
	op->u.exec.output = flush_own(f, dup_or_null(e->output));
	op->u.exec.error_message = flush_own(f, dup_or_null(e->error_message));
}

/* Before each commit: pending text and the state of every run that changed. */
static void prepare_flush(void)
{
	struct run *r = tl_dirty;
	tl_dirty = NULL;
	while (r) {
		struct run *n = r->dnext;
		flush_delta(r);
		update_op(r->w->fl, r->e);
		r->dirty = 0;
		r->dnext = NULL;
		r = n;
	}
}

static void trace_step(struct run *r, const char *type, const char *name, const char *status,
		       int64_t started, json_t *extra)
{
	int64_t now = time_now_ms();
	json_t *s = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:I}", "seq", ++r->trace_seq, "type",
			      type, "name", name, "status", status, "started_at", (json_int_t)started,
			      "ended_at", (json_int_t)now, "duration_ms",
			      (json_int_t)(now - started));
	if (extra)
		json_object_update(s, extra);
	json_decref(extra);
	struct flush *f = r->w->fl;
	struct store_op *op = flush_op(f);
	if (op) {
		op->kind = STORE_OP_STEP_PUT;
		memcpy(op->u.step.execution_id, r->e->id, STORE_ID_LEN);
		op->u.step.seq = r->trace_seq;
		op->u.step.data = flush_own(f, json_dumps(s, JSON_COMPACT));
	}
	json_decref(s);
}

/* ---- teardown ---- */

static void transfer_free(struct worker *w, struct transfer *t)
{
	if (!t)
		return;
	if (t->easy) {
		curl_multi_remove_handle(w->multi, t->easy);
		curl_easy_cleanup(t->easy);
	}
	curl_slist_free_all(t->headers);
	free(t->body);
	buf_free(&t->resp);
	free(t);
}

static _Thread_local pid_t zombies[256];
static _Thread_local int nzombies;

static void stop_process(struct run *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		if (waitpid(r->pid, NULL, WNOHANG) == 0 && nzombies < 256)
			zombies[nzombies++] = r->pid;   /* reaped by a later tick */
		r->pid = 0;
	}
	if (r->fd_in >= 0)
		close(r->fd_in);
	if (r->fd_out >= 0)
		close(r->fd_out);
	if (r->fd_err >= 0)
		close(r->fd_err);
	r->fd_in = r->fd_out = r->fd_err = -1;
}

static void abort_io(struct run *r)
{
	struct worker *w = r->w;
	transfer_free(w, r->mx);
	r->mx = NULL;
	for (size_t i = 0; i < r->ntools; i++) {
		struct tool_slot *t = &r->tools[i];
		transfer_free(w, t->xfer);
		t->xfer = NULL;
		if (t->sub) {
			hub_unsubscribe(APP(r)->hub, t->sub);
			t->sub = NULL;
		}
		if (t->child_id[0] && !t->done)
			engine_cancel(w->en, t->child_id);
	}
	stop_process(r);
}

static void tools_free(struct run *r)
{
	for (size_t i = 0; i < r->ntools; i++) {
		json_decref(r->tools[i].call);
		free(r->tools[i].result);
	}
	free(r->tools);
	r->tools = NULL;
	r->ntools = r->tools_pending = 0;
}

static void run_free(struct run *r)
{
	struct worker *w = r->w;
	abort_io(r);
	tools_free(r);
	if (r->parser_live)
		provider_parser_free(&r->parser);
	/* unlink */
	if (r->prev)
		r->prev->next = r->next;
	else
		w->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	struct run **hp = &w->map[map_slot(r->e->id)];
	while (*hp && *hp != r)
		hp = &(*hp)->hnext;
	if (*hp)
		*hp = r->hnext;
	/* a dirty run must not stay on the dirty list */
	struct run **dp = &tl_dirty;
	while (*dp && *dp != r)
		dp = &(*dp)->dnext;
	if (*dp)
		*dp = r->dnext;
	w->nruns--;
	json_decref(r->config);
	json_decref(r->input);
	json_decref(r->messages);
	json_decref(r->tool_defs);
	json_decref(r->cresult);
	buf_free(&r->delta);
	buf_free(&r->outline);
	buf_free(&r->errtail);
	buf_free(&r->ctext);
	free(r->stdin_data);
	engine_job_free(r->job);
	free(r);
}

/* ---- finishing ---- */

static void session_append(struct run *r, const char *role, const char *content)
{
	struct flush *f = r->w->fl;
	struct store_op *op = flush_op(f);
	if (!op)
		return;
	op->kind = STORE_OP_SESSION_APPEND;
	struct session_msg *m = &op->u.msg;
	snprintf(m->workspace_id, sizeof(m->workspace_id), "%s", r->e->workspace_id);
	snprintf(m->agent_id, sizeof(m->agent_id), "%s", r->e->agent_id);
	snprintf(m->session_id, sizeof(m->session_id), "%s", r->e->session_id);
	memcpy(m->execution_id, r->e->id, STORE_ID_LEN);
	snprintf(m->role, sizeof(m->role), "%s", role);
	m->content = flush_own(f, strdup(content));
	m->created_at = time_now_ms();
}

/* Ends the run (consumes output). */
static void finish(struct run *r, const char *status, const char *code, const char *message,
		   json_t *output)
{
	struct exec_rec *e = r->e;
	struct engine *en = r->w->en;
	flush_delta(r);
	abort_io(r);
	r->state = R_DONE;
	snprintf(e->status, sizeof(e->status), "%s", status);
	e->completed_at = time_now_ms();
	free(e->output);
	e->output = output ? json_dumps(output, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	snprintf(e->error_code, sizeof(e->error_code), "%s", code ? code : "");
	free(e->error_message);
	e->error_message = message ? strdup(message) : NULL;
	if (strcmp(status, "completed") == 0 && e->session_id[0]) {
		const char *mode = json_string_value(json_object_get(r->config, "execution_mode"));
		if (mode && strcmp(mode, "multi_turn") == 0) {
			char *user = agent_render_input(r->config, r->input);
			session_append(r, "user", user);
			free(user);
			const char *resp = json_string_value(json_object_get(output, "response"));
			char *dumped = NULL;
			if (!resp)
				resp = dumped = json_dumps(output, JSON_COMPACT | JSON_ENCODE_ANY);
			session_append(r, "assistant", resp ? resp : "");
			free(dumped);
		}
	}
	if (e->tokens_in || e->tokens_out || e->cost_in > 0 || e->cost_out > 0)
		emit(r, "usage", json_pack("{s:I, s:I, s:f, s:f, s:f}", "tokens_in",
					   (json_int_t)e->tokens_in, "tokens_out",
					   (json_int_t)e->tokens_out, "cost_in", e->cost_in,
					   "cost_out", e->cost_out, "cost_total",
					   e->cost_in + e->cost_out));
	json_t *err = json_null();
	if (code) {
		err = json_pack("{s:s, s:s}", "code", code, "message", message ? message : "");
		emit(r, "error", json_deep_copy(err));
	}
	emit(r, "status", json_pack("{s:s}", "status", status));
	emit(r, "done", json_pack("{s:s, s:O, s:o}", "status", status, "output",
				  output ? output : json_null(), "error", err));
	json_decref(output);
	update_op(r->w->fl, e);
	r->dirty = 1;   /* state written just now; prepare_flush must not repeat it */
	struct run **dp = &tl_dirty;
	while (*dp && *dp != r)
		dp = &(*dp)->dnext;
	if (*dp)
		*dp = r->dnext;
	r->dirty = 0;
	if (strcmp(status, "completed") == 0)
		atomic_fetch_add(&en->n_completed, 1);
	else if (strcmp(status, "cancelled") == 0)
		atomic_fetch_add(&en->n_cancelled, 1);
	else
		atomic_fetch_add(&en->n_failed, 1);
	flush_release(r->w->fl, r->job);   /* after the commit of what this run wrote */
	r->job = NULL;
	run_free(r);
}

static void fail(struct run *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct run *r, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	finish(r, "failed", code, msg, NULL);
}

/* ---- model calls ---- */

static void on_text(void *arg, const char *s, size_t n)
{
	struct run *r = arg;
	if (buf_append(&r->delta, s, n) == 0)
		mark_dirty(r);
}

static size_t model_header(char *p, size_t sz, size_t nm, void *ud)
{
	struct transfer *t = ud;
	size_t n = sz * nm;
	if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		snprintf(t->retry_after, sizeof(t->retry_after), "%.*s", (int)(n - 12), p + 12);
	else if (n > 13 && strncasecmp(p, "Content-Type:", 13) == 0)
		snprintf(t->ctype, sizeof(t->ctype), "%.*s", (int)(n - 13), p + 13);
	return n;
}

static void check_status(struct transfer *t)
{
	if (t->status_checked)
		return;
	t->status_checked = 1;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
	struct run *r = t->run;
	if (t->kind == T_MODEL && t->status >= 200 && t->status < 300 && r->parser.streaming &&
	    !strstr(t->ctype, "event-stream"))
		r->parser.streaming = 0;   /* the server answered with one JSON document */
}

static size_t model_write(char *p, size_t sz, size_t nm, void *ud)
{
	struct transfer *t = ud;
	size_t n = sz * nm;
	check_status(t);
	if (t->status < 200 || t->status >= 300) {
		if (buf_append(&t->resp, p, n))
			t->too_big = 1;
		return n;
	}
	t->got_body = 1;
	if (provider_parser_feed(&t->run->parser, p, n, &t->eb)) {
		t->parse_failed = 1;
		return 0;
	}
	return n;
}

static size_t tool_write(char *p, size_t sz, size_t nm, void *ud)
{
	struct transfer *t = ud;
	size_t n = sz * nm;
	check_status(t);
	if (buf_append(&t->resp, p, n)) {
		t->too_big = 1;
		return 0;
	}
	return n;
}

static struct transfer *transfer_new(struct run *r, enum transfer_kind kind, const char *url,
				     size_t max)
{
	struct transfer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->run = r;
	t->kind = kind;
	buf_init(&t->resp, max);
	t->easy = curl_easy_init();
	if (!t->easy) {
		free(t);
		return NULL;
	}
	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, model_header);
	curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, kind == T_MODEL ? model_write : tool_write);
	curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	return t;
}

/* The time left before the run's deadline, in ms (at least 1). */
static long time_left(struct run *r, long cap_ms)
{
	int64_t left = r->deadline - time_now_ms();
	if (left < 1)
		left = 1;
	return cap_ms > 0 && left > cap_ms ? cap_ms : (long)left;
}

static void call_model(struct run *r)
{
	struct provider_request rq = {
		.conf = r->pconf,
		.model = strchr(r->model, '/') + 1,
		.messages = r->messages,
		.tools = r->tool_defs,
		.temperature = -1,
		.stream = r->pconf->stream,
	};
	json_t *t = json_object_get(r->config, "temperature");
	if (json_is_number(t))
		rq.temperature = json_number_value(t);
	t = json_object_get(r->config, "max_tokens");
	if (json_is_integer(t))
		rq.max_tokens = json_integer_value(t);
	struct buf url;
	buf_init(&url, 4096);
	struct curl_slist *headers = NULL;
	char *body = NULL;
	agd_errbuf eb;
	if (r->pops->build(&rq, &url, &headers, &body, &eb)) {
		buf_free(&url);
		curl_slist_free_all(headers);
		fail(r, "provider_error", "%s", eb.msg);
		return;
	}
	struct transfer *x = transfer_new(r, T_MODEL, buf_cstr(&url), 64 << 10);
	buf_free(&url);
	if (!x) {
		curl_slist_free_all(headers);
		free(body);
		fail(r, "internal", "cannot create a model request");
		return;
	}
	x->headers = headers;
	x->body = body;
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, time_left(r, r->pconf->timeout_s * 1000L));
	/* a server that goes silent (no byte for idle_timeout_s) is given up on */
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_TIME, (long)r->pconf->idle_timeout_s);
	if (r->parser_live)
		provider_parser_free(&r->parser);
	struct provider_sink sink = {r, on_text};
	provider_parser_init(&r->parser, r->pops, rq.stream, APP(r)->cfg->max_model_response_bytes,
			     sink);
	r->parser_live = 1;
	r->mx = x;
	r->state = R_MODEL;
	curl_multi_add_handle(r->w->multi, x->easy);
}

static void start_step(struct run *r)
{
	if (r->step >= r->max_steps) {
		fail(r, "max_steps", "the agent did not finish within %d steps (limits.max_steps)",
		     r->max_steps);
		return;
	}
	r->step++;
	r->e->steps = r->step;
	r->attempt = 0;
	r->step_started = time_now_ms();
	emit(r, "step.start", json_pack("{s:i, s:s, s:s}", "step", r->step, "type", "llm", "name",
					r->model));
	call_model(r);
}

/* Backoff before retry n (1-based): 0.5 s * 2^(n-1), jittered by +-50 %, capped at 30 s;
 * a Retry-After from the server wins (capped at 120 s). */
static int64_t backoff_ms(int n, const char *retry_after)
{
	if (retry_after && retry_after[0]) {
		char *end;
		long s = strtol(retry_after, &end, 10);
		if (end != retry_after && s >= 0)
			return (s > 120 ? 120 : s) * 1000 + 1;
	}
	int64_t base = 500LL << (n - 1 < 10 ? n - 1 : 10);
	if (base > 30000)
		base = 30000;
	unsigned char rnd = 0;
	crypto_random(&rnd, 1);
	return base / 2 + (base * rnd) / 255;
}

static void retry_or_fail(struct run *r, const char *code, const char *why, const char *ra)
{
	if (r->attempt >= r->pconf->max_retries) {
		fail(r, code, "%s (after %d retries)", why, r->attempt);
		return;
	}
	r->attempt++;
	int64_t wait = backoff_ms(r->attempt, ra);
	if (time_now_ms() + wait >= r->deadline) {
		fail(r, "timeout", "%s; no time left before the execution deadline to retry", why);
		return;
	}
	emit(r, "status", json_pack("{s:s, s:s, s:i, s:I}", "status", "running", "retry", why,
				    "attempt", r->attempt, "retry_in_ms", (json_int_t)wait));
	r->retry_at = time_now_ms() + wait;
	r->state = R_BACKOFF;
}

static void start_tools(struct run *r, json_t *calls);
static void continue_after_tools(struct run *r);

static void model_done(struct run *r, CURLcode rc)
{
	struct transfer *x = r->mx;
	char ra[32];
	snprintf(ra, sizeof(ra), "%s", x->retry_after);
	long status = x->status;
	if (!x->status_checked)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (x->parse_failed) {
		char msg[AGD_ERRBUF];
		snprintf(msg, sizeof(msg), "%s", x->eb.msg);
		fail(r, "provider_error", "%s", msg);
		return;
	}
	if (rc != CURLE_OK) {
		char why[1024];
		snprintf(why, sizeof(why), "model server %.600s: %s", r->pconf->base_url,
			 curl_easy_strerror(rc));
		if (x->got_body) {   /* text already streamed: do not replay it */
			fail(r, "provider_error", "the model stream was cut off: %s",
			     curl_easy_strerror(rc));
			return;
		}
		transfer_free(r->w, r->mx);
		r->mx = NULL;
		retry_or_fail(r, rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "provider_unreachable",
			      why, NULL);
		return;
	}
	if (status == 429 || status >= 500) {
		char pm[512], why[700];
		provider_error_message(buf_cstr(&x->resp), x->resp.len, pm, sizeof(pm));
		snprintf(why, sizeof(why), "model server answered %ld: %s", status, pm);
		transfer_free(r->w, r->mx);
		r->mx = NULL;
		retry_or_fail(r, status == 429 ? "rate_limited" : "provider_error", why, ra);
		return;
	}
	if (status < 200 || status >= 300) {
		char pm[512];
		provider_error_message(buf_cstr(&x->resp), x->resp.len, pm, sizeof(pm));
		fail(r, "provider_error", "model server answered %ld: %s", status, pm);
		return;
	}
	agd_errbuf eb;
	if (provider_parser_finish(&r->parser, &eb)) {
		fail(r, "provider_error", "%s", eb.msg);
		return;
	}
	transfer_free(r->w, r->mx);
	r->mx = NULL;
	/* usage and cost of this step */
	struct provider_parser *p = &r->parser;
	double cin, cout;
	cost_compute(APP(r)->cfg, r->model, p->tokens_in, p->tokens_out, &cin, &cout);
	r->e->tokens_in += p->tokens_in;
	r->e->tokens_out += p->tokens_out;
	r->e->cost_in += cin;
	r->e->cost_out += cout;
	snprintf(r->e->model, sizeof(r->e->model), "%.*s", (int)sizeof(r->e->model) - 1,
		 p->model[0] ? p->model : r->model);
	flush_delta(r);
	emit(r, "step.finish", json_pack("{s:i, s:s, s:I, s:I, s:f, s:I, s:s}", "step", r->step,
					 "finish_reason", p->finish, "tokens_in",
					 (json_int_t)p->tokens_in, "tokens_out",
					 (json_int_t)p->tokens_out, "cost", cin + cout, "duration_ms",
					 (json_int_t)(time_now_ms() - r->step_started), "model",
					 r->e->model));
	trace_step(r, "llm", r->model, "completed", r->step_started,
		   json_pack("{s:s, s:I, s:I, s:f, s:f, s:s%}", "model", r->e->model, "tokens_in",
			     (json_int_t)p->tokens_in, "tokens_out", (json_int_t)p->tokens_out,
			     "cost_in", cin, "cost_out", cout, "result", buf_cstr(&p->text),
			     p->text.len));
	mark_dirty(r);
	if (r->max_cost > 0 && r->e->cost_in + r->e->cost_out > r->max_cost) {
		fail(r, "budget_exceeded", "cost %.6f exceeded limits.max_cost %.6f",
		     r->e->cost_in + r->e->cost_out, r->max_cost);
		return;
	}
	json_t *calls = json_deep_copy(p->tool_calls);
	if (json_array_size(calls) > 0) {
		json_array_append_new(r->messages,
				      json_pack("{s:s, s:s%, s:O}", "role", "assistant", "content",
						buf_cstr(&p->text), p->text.len, "tool_calls", calls));
		start_tools(r, calls);
		json_decref(calls);
		return;
	}
	json_decref(calls);
	json_t *out = json_pack("{s:s%}", "response", buf_cstr(&p->text), p->text.len);
	finish(r, "completed", NULL, NULL, out);
}

/* ---- tools ---- */

static json_t *tool_config(struct run *r, const char *name)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(r->config, "tools"), i, t)
		if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
			return t;
	return NULL;
}

static void tool_done(struct run *r, size_t i, const char *result, int is_error)
{
	struct tool_slot *t = &r->tools[i];
	if (t->done)
		return;
	t->done = 1;
	t->result = strdup(result ? result : "");
	t->is_error = is_error;
	transfer_free(r->w, t->xfer);
	t->xfer = NULL;
	const char *id = json_string_value(json_object_get(t->call, "id"));
	const char *name = json_string_value(json_object_get(t->call, "name"));
	emit(r, "tool.result", json_pack("{s:s, s:s, s:s, s:b}", "id", id ? id : "", "name", name,
					 "result", t->result, "error", is_error));
	const char *args = json_string_value(json_object_get(t->call, "arguments"));
	json_t *input = args ? json_loads(args, JSON_DECODE_ANY, NULL) : NULL;
	trace_step(r, t->type, name, is_error ? "failed" : "completed", t->started,
		   json_pack("{s:o, s:s}", "input", input ? input : json_string(args ? args : ""),
			     is_error ? "error" : "result", t->result));
	if (--r->tools_pending == 0)
		continue_after_tools(r);
}

static void continue_after_tools(struct run *r)
{
	for (size_t i = 0; i < r->ntools; i++) {
		struct tool_slot *t = &r->tools[i];
		json_array_append_new(r->messages,
				      json_pack("{s:s, s:O, s:s}", "role", "tool", "tool_call_id",
						json_object_get(t->call, "id"), "content", t->result));
	}
	tools_free(r);
	start_step(r);
}

struct child_wait {
	struct worker *w;
	char parent_id[STORE_ID_LEN];
	char child_id[STORE_ID_LEN];
};

static int child_notify(void *arg, const struct event_rec *evs, size_t n)
{
	struct child_wait *cw = arg;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(evs[i].type, "done") != 0)
			continue;
		json_t *d = json_loads(evs[i].data, 0, NULL);
		const char *status = json_string_value(json_object_get(d, "status"));
		struct worker_msg *m = calloc(1, sizeof(*m));
		if (m) {
			m->type = MSG_CHILD_DONE;
			memcpy(m->exec_id, cw->parent_id, STORE_ID_LEN);
			memcpy(m->child_id, cw->child_id, STORE_ID_LEN);
			m->ok = status && strcmp(status, "completed") == 0;
			json_t *out = json_object_get(d, "output");
			const char *resp = json_string_value(json_object_get(out, "response"));
			if (m->ok)
				m->payload = resp ? strdup(resp)
						  : json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
			else {
				const char *em = json_string_value(
					json_object_get(json_object_get(d, "error"), "message"));
				char buf[1200];
				snprintf(buf, sizeof(buf), "sub-agent execution %s %s%s%s", cw->child_id,
					 status ? status : "ended", em ? ": " : "", em ? em : "");
				m->payload = strdup(buf);
			}
			worker_post(cw->w, m);
		}
		json_decref(d);
		return 1;
	}
	return 0;
}

static void child_release(void *arg)
{
	free(arg);
}

static const struct hub_sub_ops child_ops = {child_notify, NULL, child_release, NULL};

struct child_submit {
	struct worker *w;
	struct hub *hub;
	struct hub_sub *sub;
	char parent_id[STORE_ID_LEN];
	char child_id[STORE_ID_LEN];
};

static void child_submitted(void *arg, int status, enum submit_outcome outcome,
			    const struct exec_rec *e, const char *message)
{
	(void)outcome;
	(void)e;
	struct child_submit *cs = arg;
	if (status >= 300) {
		hub_unsubscribe(cs->hub, cs->sub);
		struct worker_msg *m = calloc(1, sizeof(*m));
		if (m) {
			m->type = MSG_CHILD_DONE;
			memcpy(m->exec_id, cs->parent_id, STORE_ID_LEN);
			memcpy(m->child_id, cs->child_id, STORE_ID_LEN);
			char buf[1200];
			snprintf(buf, sizeof(buf), "the sub-agent could not be started: %s",
				 message ? message : "unknown error");
			m->payload = strdup(buf);
			worker_post(cs->w, m);
		}
	}
	free(cs);
}

struct child_hook {
	struct run *r;
	size_t tool;
	struct child_submit *cs;
	struct child_wait *cw;
};

static void child_on_id(void *arg, const char *id)
{
	struct child_hook *h = arg;
	struct tool_slot *t = &h->r->tools[h->tool];
	snprintf(t->child_id, sizeof(t->child_id), "%s", id);
	memcpy(h->cs->child_id, t->child_id, STORE_ID_LEN);
	memcpy(h->cw->child_id, t->child_id, STORE_ID_LEN);
	t->sub = hub_subscribe(APP(h->r)->hub, id, &child_ops, h->cw);
	h->cs->sub = t->sub;
}

static void start_agent_tool(struct run *r, size_t i, json_t *cfg, json_t *args)
{
	struct agent_rec child;
	const char *ref = json_string_value(json_object_get(cfg, "agent"));
	if (store_agent_get(APP(r)->store, r->e->workspace_id, ref, &child) != 0 ||
	    strcmp(child.status, "active") != 0) {
		agent_rec_clear(&child);
		char msg[300];
		snprintf(msg, sizeof(msg), "error: no active agent '%s' in this workspace", ref);
		tool_done(r, i, msg, 1);
		return;
	}
	struct child_submit *cs = calloc(1, sizeof(*cs));
	struct child_wait *cw = calloc(1, sizeof(*cw));
	if (!cs || !cw) {
		free(cs);
		free(cw);
		agent_rec_clear(&child);
		tool_done(r, i, "error: out of memory", 1);
		return;
	}
	cw->w = r->w;
	memcpy(cw->parent_id, r->e->id, STORE_ID_LEN);
	cs->w = r->w;
	cs->hub = APP(r)->hub;
	memcpy(cs->parent_id, r->e->id, STORE_ID_LEN);
	json_t *input = json_is_object(args) ? json_incref(args) : json_object();
	struct child_hook hook = {r, i, cs, cw};
	struct submit_req rq = {
		.agent = &child,
		.input = input,
		.priority = r->e->priority,
		.source = "subagent",
		.dialect = r->e->dialect,
		.key_id = r->e->key_id,
		.parent_id = r->e->id,
		.on_id = child_on_id,
		.on_id_arg = &hook,
	};
	exec_submit(APP(r), &rq, NULL, child_submitted, cs);
	if (!r->tools[i].sub)      /* failed before an id existed: cw was never handed over */
		free(cw);
	json_decref(input);
	agent_rec_clear(&child);
}

static void start_http_tool(struct run *r, size_t i, json_t *cfg, const char *args)
{
	struct tool_slot *t = &r->tools[i];
	size_t max = (size_t)json_integer_value(json_object_get(cfg, "max_bytes"));
	struct transfer *x = transfer_new(r, T_TOOL, json_string_value(json_object_get(cfg, "url")),
					  max);
	if (!x) {
		tool_done(r, i, "error: cannot create the request", 1);
		return;
	}
	x->tool = i;
	x->body = strdup(args);
	x->headers = curl_slist_append(NULL, "Content-Type: application/json");
	const char *hk;
	json_t *hv;
	json_object_foreach(json_object_get(cfg, "headers"), hk, hv) {
		char h[1024];
		snprintf(h, sizeof(h), "%s: %s", hk, json_string_value(hv));
		x->headers = curl_slist_append(x->headers, h);
	}
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS,
			 time_left(r, json_integer_value(json_object_get(cfg, "timeout_s")) * 1000));
	t->xfer = x;
	curl_multi_add_handle(r->w->multi, x->easy);
}

static void start_tools(struct run *r, json_t *calls)
{
	r->ntools = json_array_size(calls);
	r->tools = calloc(r->ntools, sizeof(*r->tools));
	if (!r->tools) {
		fail(r, "internal", "out of memory");
		return;
	}
	r->tools_pending = r->ntools;
	r->state = R_TOOLS;
	r->e->tool_started = 1;
	mark_dirty(r);
	for (size_t i = 0; i < r->ntools; i++) {
		json_t *c = json_array_get(calls, i);
		r->tools[i].call = json_incref(c);
		r->tools[i].started = time_now_ms();
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *args = json_string_value(json_object_get(c, "arguments"));
		if (!id || !id[0]) {
			char gen[32];
			snprintf(gen, sizeof(gen), "call_%d_%zu", r->step, i);
			json_object_set_new(c, "id", json_string(gen));
			id = json_string_value(json_object_get(c, "id"));
		}
		json_t *parsed = json_loads(args && args[0] ? args : "{}", JSON_DECODE_ANY, NULL);
		emit(r, "tool.call", json_pack("{s:s, s:s, s:O}", "id", id, "name", name ? name : "",
					       "arguments", parsed ? parsed : json_string(args)));
		json_t *cfg = name ? tool_config(r, name) : NULL;
		r->tools[i].type = cfg && strcmp(json_string_value(json_object_get(cfg, "type")),
						 "agent") == 0
					   ? "agent"
					   : "tool";
		if (!cfg) {
			char msg[200];
			snprintf(msg, sizeof(msg), "error: this agent has no tool named '%s'",
				 name ? name : "");
			json_decref(parsed);
			tool_done(r, i, msg, 1);
		} else if (!json_is_object(parsed)) {
			json_decref(parsed);
			tool_done(r, i, "error: the tool arguments are not a JSON object", 1);
		} else if (strcmp(r->tools[i].type, "agent") == 0) {
			start_agent_tool(r, i, cfg, parsed);
			json_decref(parsed);
		} else {
			start_http_tool(r, i, cfg, args && args[0] ? args : "{}");
			json_decref(parsed);
		}
		if (r->state == R_DONE || !r->tools)   /* a synchronous failure ended the run */
			return;
	}
}

static void http_tool_done(struct run *r, struct transfer *x, CURLcode rc)
{
	char msg[600];
	size_t i = x->tool;
	if (x->too_big) {
		snprintf(msg, sizeof(msg), "error: the tool response exceeded %zu bytes",
			 x->resp.max);
		tool_done(r, i, msg, 1);
	} else if (rc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "error: %s", curl_easy_strerror(rc));
		tool_done(r, i, msg, 1);
	} else if (x->status < 200 || x->status >= 300) {
		snprintf(msg, sizeof(msg), "error: HTTP %ld: %.400s", x->status, buf_cstr(&x->resp));
		tool_done(r, i, msg, 1);
	} else {
		tool_done(r, i, buf_cstr(&x->resp), 0);
	}
}

/* ---- custom agents: the operator's command, input on stdin, output on stdout ---- */

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void start_custom(struct run *r)
{
	const char *name = json_string_value(json_object_get(r->config, "command"));
	r->cc = name ? config_custom(APP(r)->cfg, name) : NULL;
	if (!r->cc) {
		fail(r, "configuration", "custom command '%s' is not configured on this server",
		     name ? name : "");
		return;
	}
	int in[2], out[2], err[2];
	if (pipe(in) || pipe(out) || pipe(err)) {
		fail(r, "internal", "cannot create pipes: %s", strerror(errno));
		return;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	posix_spawn_file_actions_addclose(&fa, err[0]);
	posix_spawn_file_actions_addchdir_np(&fa, r->cc->cwd);
	/* environment: ours plus the execution's identity */
	size_t ne = 0;
	while (environ[ne])
		ne++;
	char **env = calloc(ne + 4, sizeof(char *));
	char eid[80], aid[80];
	snprintf(eid, sizeof(eid), "AGENTD_EXECUTION_ID=%s", r->e->id);
	snprintf(aid, sizeof(aid), "AGENTD_AGENT_ID=%s", r->e->agent_id);
	size_t k = 0;
	for (size_t i = 0; env && i < ne; i++)
		env[k++] = environ[i];
	if (env) {
		env[k++] = eid;
		env[k++] = aid;
		env[k] = NULL;
	}
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
	pid_t pid;
	int rc = posix_spawnp(&pid, r->cc->argv[0], &fa, &at, r->cc->argv, env ? env : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(env);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (rc != 0) {
		close(in[1]);
		close(out[0]);
		close(err[0]);
		fail(r, "custom_failed", "cannot start '%s': %s", r->cc->argv[0], strerror(rc));
		return;
	}
	r->pid = pid;
	r->fd_in = in[1];
	r->fd_out = out[0];
	r->fd_err = err[0];
	set_nonblock(r->fd_in);
	set_nonblock(r->fd_out);
	set_nonblock(r->fd_err);
	json_t *payload = json_pack("{s:O, s:s, s:s, s:s, s:s}", "input", r->input, "execution_id",
				    r->e->id, "agent_id", r->e->agent_id, "session_id",
				    r->e->session_id, "message", "");
	char *msg = agent_render_input(r->config, r->input);
	json_object_set_new(payload, "message", json_string(msg ? msg : ""));
	free(msg);
	char *text = json_dumps(payload, JSON_COMPACT);
	json_decref(payload);
	size_t tl = text ? strlen(text) : 0;
	r->stdin_data = malloc(tl + 2);
	if (r->stdin_data) {
		memcpy(r->stdin_data, text ? text : "", tl);
		r->stdin_data[tl] = '\n';
		r->stdin_data[tl + 1] = '\0';
		r->stdin_len = tl + 1;
	}
	free(text);
	buf_init(&r->outline, r->cc->max_output_bytes);
	buf_init(&r->errtail, 64 << 10);
	buf_init(&r->ctext, r->cc->max_output_bytes);
	int64_t cdl = time_now_ms() + (int64_t)r->cc->timeout_s * 1000;
	if (cdl < r->deadline)
		r->deadline = cdl;
	r->state = R_CUSTOM;
	r->step = 1;
	r->e->steps = 1;
	r->step_started = time_now_ms();
	emit(r, "step.start", json_pack("{s:i, s:s, s:s}", "step", 1, "type", "custom", "name",
					r->cc->name));
}

static void custom_line(struct run *r, const char *line, size_t n)
{
	json_t *j = NULL;
	if (n && line[0] == '{')
		j = json_loadb(line, n, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	if (type && strcmp(type, "text") == 0) {
		const char *t = json_string_value(json_object_get(j, "text"));
		if (t) {
			buf_append(&r->ctext, t, strlen(t));
			on_text(r, t, strlen(t));
		}
	} else if (type && strcmp(type, "result") == 0) {
		json_decref(r->cresult);
		json_t *o = json_object_get(j, "output");
		r->cresult = json_incref(o ? o : json_object_get(j, "result"));
	} else if (type && strcmp(type, "error") == 0) {
		const char *m = json_string_value(json_object_get(j, "message"));
		snprintf(r->cerror, sizeof(r->cerror), "%s", m ? m : "the custom agent reported an error");
	} else {
		/* plain text output */
		if (r->ctext.len)
			buf_append(&r->ctext, "\n", 1);
		buf_append(&r->ctext, line, n);
		if (r->ctext.len > n)
			on_text(r, "\n", 1);
		on_text(r, line, n);
	}
	json_decref(j);
}

static void custom_read(struct run *r, int fd, int is_err)
{
	char chunk[16384];
	for (;;) {
		ssize_t got = read(fd, chunk, sizeof(chunk));
		if (got > 0) {
			if (is_err) {
				if (r->errtail.len + (size_t)got > r->errtail.max)
					buf_reset(&r->errtail);   /* keep the tail */
				buf_append(&r->errtail, chunk, (size_t)got);
				continue;
			}
			for (ssize_t i = 0; i < got; i++) {
				if (chunk[i] == '\n') {
					custom_line(r, buf_cstr(&r->outline), r->outline.len);
					buf_reset(&r->outline);
				} else if (buf_append(&r->outline, &chunk[i], 1)) {
					snprintf(r->cerror, sizeof(r->cerror),
						 "the custom agent's output exceeded %zu bytes",
						 r->cc->max_output_bytes);
					kill(r->pid, SIGKILL);
					buf_reset(&r->outline);
				}
			}
			continue;
		}
		if (got == 0) {
			if (is_err)
				r->err_eof = 1;
			else {
				if (r->outline.len)
					custom_line(r, buf_cstr(&r->outline), r->outline.len);
				buf_reset(&r->outline);
				r->out_eof = 1;
			}
			close(fd);
			if (is_err)
				r->fd_err = -1;
			else
				r->fd_out = -1;
		}
		return;   /* EAGAIN or EOF */
	}
}

static void custom_finish(struct run *r, int status)
{
	r->pid = 0;
	trace_step(r, "custom", r->cc->name,
		   WIFEXITED(status) && WEXITSTATUS(status) == 0 && !r->cerror[0] ? "completed"
										    : "failed",
		   r->step_started, NULL);
	if (r->cerror[0]) {
		fail(r, "custom_failed", "%s", r->cerror);
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char why[64];
		if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "was killed by signal %d", WTERMSIG(status));
		else
			snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
		const char *tail = buf_cstr(&r->errtail);
		size_t tl = strlen(tail);
		while (tl && (tail[tl - 1] == '\n' || tail[tl - 1] == '\r'))
			tl--;
		fail(r, "custom_failed", "command '%s' %s%s%.*s", r->cc->name, why, tl ? ": " : "",
		     (int)(tl > 800 ? 800 : tl), tl > 800 ? tail + tl - 800 : tail);
		return;
	}
	json_t *out;
	if (r->cresult && json_is_object(r->cresult))
		out = json_incref(r->cresult);
	else if (r->cresult)
		out = json_pack("{s:O}", "response", r->cresult);
	else
		out = json_pack("{s:s%}", "response", buf_cstr(&r->ctext), r->ctext.len);
	finish(r, "completed", NULL, NULL, out);
}

static void custom_io(struct run *r)
{
	if (r->fd_in >= 0) {
		while (r->stdin_off < r->stdin_len) {
			ssize_t n = write(r->fd_in, r->stdin_data + r->stdin_off,
					  r->stdin_len - r->stdin_off);
			if (n <= 0)
				break;
			r->stdin_off += (size_t)n;
		}
		if (r->stdin_off >= r->stdin_len || (errno == EPIPE)) {
			close(r->fd_in);
			r->fd_in = -1;
		}
	}
	if (r->fd_out >= 0)
		custom_read(r, r->fd_out, 0);
	if (r->fd_err >= 0)
		custom_read(r, r->fd_err, 1);
	if (r->out_eof && r->err_eof && r->pid > 0) {
		int status;
		if (waitpid(r->pid, &status, WNOHANG) == r->pid)
			custom_finish(r, status);
	}
}

/* ---- the worker's entry points ---- */

static int64_t max_event_seq(struct app *app, const struct exec_rec *e)
{
	struct event_rec *evs;
	size_t n;
	int64_t seq = e->last_seq;
	if (store_events_list(app->store, e->id, e->last_seq, 1000000, &evs, &n) == 0) {
		if (n)
			seq = evs[n - 1].seq;
		event_recs_free(evs, n);
	}
	return seq;
}

static json_t *build_messages(struct run *r)
{
	json_t *msgs = json_array();
	const char *sys = json_string_value(json_object_get(r->config, "system_prompt"));
	if (sys && sys[0])
		json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", sys));
	const char *mode = json_string_value(json_object_get(r->config, "execution_mode"));
	if (r->e->session_id[0] && mode && strcmp(mode, "multi_turn") == 0) {
		struct session_msg *hist;
		size_t n;
		if (store_session_history(APP(r)->store, r->e->workspace_id, r->e->agent_id,
					  r->e->session_id, 200, &hist, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", hist[i].role,
								      "content",
								      hist[i].content ? hist[i].content
										      : ""));
			session_msgs_free(hist, n);
		}
	}
	char *user = agent_render_input(r->config, r->input);
	json_t *um = json_pack("{s:s, s:s}", "role", "user", "content", user ? user : "");
	free(user);
	json_array_append_new(msgs, um);
	/* attached images go with the user message, base64-encoded */
	json_t *att = r->e->attachments ? json_loads(r->e->attachments, 0, NULL) : NULL;
	if (json_array_size(att)) {
		json_t *images = json_array();
		size_t i;
		json_t *a;
		json_array_foreach(att, i, a) {
			const char *id = json_string_value(json_object_get(a, "file_id"));
			const char *mime = json_string_value(json_object_get(a, "mime_type"));
			char *data = NULL;
			size_t len = 0;
			if (!id || !mime ||
			    files_read(APP(r)->cfg->data_dir, id, APP(r)->cfg->max_upload_bytes, &data,
				       &len) != 0) {
				free(data);
				log_warn("execution %s: attachment %s is missing", r->e->id,
					 id ? id : "?");
				continue;
			}
			char *b64 = crypto_base64(data, len);
			free(data);
			if (!b64)
				continue;
			size_t ul = strlen(b64) + strlen(mime) + 32;
			char *url = malloc(ul);
			if (url)
				snprintf(url, ul, "data:%s;base64,%s", mime, b64);
			json_array_append_new(images, json_pack("{s:s, s:s, s:s}", "mime_type", mime,
								"base64", b64, "data_url",
								url ? url : ""));
			free(url);
			free(b64);
		}
		json_object_set_new(um, "images", images);
	}
	json_decref(att);
	return msgs;
}

static json_t *build_tool_defs(json_t *config)
{
	json_t *defs = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(config, "tools"), i, t) {
		json_t *params = json_object_get(t, "parameters");
		json_t *d = json_pack("{s:O, s:O}", "name", json_object_get(t, "name"), "description",
				      json_object_get(t, "description"));
		if (strcmp(json_string_value(json_object_get(t, "type")), "agent") == 0)
			json_object_set_new(d, "parameters",
					    json_pack("{s:s, s:{s:{s:s, s:s}}, s:[s]}", "type",
						      "object", "properties", "message", "type",
						      "string", "description",
						      "what to ask the agent", "required", "message"));
		else
			json_object_set(d, "parameters", params);
		json_array_append_new(defs, d);
	}
	return defs;
}

void runner_start(struct worker *w, struct engine_job *job)
{
	struct app *app = w->en->app;
	struct run *r = calloc(1, sizeof(*r));
	if (!r) {
		sched_release(w->en, job);
		engine_job_free(job);
		return;
	}
	r->w = w;
	r->job = job;
	r->e = &job->e;
	r->fd_in = r->fd_out = r->fd_err = -1;
	buf_init(&r->delta, 64u << 20);
	r->next = w->runs;
	if (w->runs)
		w->runs->prev = r;
	w->runs = r;
	unsigned slot = map_slot(r->e->id);
	r->hnext = w->map[slot];
	w->map[slot] = r;
	w->nruns++;

	if (r->e->attempt > 1)
		r->e->last_seq = max_event_seq(app, r->e);
	r->config = json_loads(job->config ? job->config : "{}", 0, NULL);
	r->input = json_loads(r->e->input ? r->e->input : "{}", 0, NULL);
	if (!r->config || !r->input) {
		fail(r, "internal", "the stored agent config or input is not valid JSON");
		return;
	}
	json_t *lim = json_object_get(r->config, "limits");
	r->max_steps = (int)json_integer_value(json_object_get(lim, "max_steps"));
	if (r->max_steps <= 0)
		r->max_steps = app->cfg->default_max_steps;
	r->max_cost = json_number_value(json_object_get(lim, "max_cost"));
	int64_t timeout = r->e->timeout_s > 0 ? r->e->timeout_s : app->cfg->default_timeout_s;
	r->deadline = time_now_ms() + timeout * 1000;
	snprintf(r->e->status, sizeof(r->e->status), "running");
	if (!r->e->started_at)
		r->e->started_at = time_now_ms();
	emit(r, "status", json_pack("{s:s}", "status", "running"));

	const char *type = json_string_value(json_object_get(r->config, "type"));
	if (type && strcmp(type, "custom") == 0) {
		start_custom(r);
		return;
	}
	const char *model = json_string_value(json_object_get(r->config, "model"));
	const char *slash = model ? strchr(model, '/') : NULL;
	char prov[64] = "";
	if (slash)
		snprintf(prov, sizeof(prov), "%.*s", (int)(slash - model), model);
	r->pconf = slash ? config_provider(app->cfg, prov) : NULL;
	r->pops = r->pconf ? provider_by_kind(r->pconf->kind) : NULL;
	if (!r->pconf || !r->pops) {
		fail(r, "configuration", "model '%s': provider '%s' is not configured on this server",
		     model ? model : "", prov);
		return;
	}
	snprintf(r->model, sizeof(r->model), "%s", model);
	r->messages = build_messages(r);
	r->tool_defs = build_tool_defs(r->config);
	start_step(r);
}

void runner_transfer_done(struct worker *w, CURL *easy, CURLcode rc)
{
	struct transfer *x = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	if (!x)
		return;
	struct run *r = x->run;
	if (!x->status_checked)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->kind == T_MODEL)
		model_done(r, rc);
	else
		http_tool_done(r, x, rc);
	(void)w;
}

void runner_message(struct worker *w, struct worker_msg *m)
{
	struct run *r = run_find(w, m->exec_id);
	if (!r)
		return;
	if (m->type == MSG_CANCEL) {
		finish(r, "cancelled", NULL, NULL, NULL);
		return;
	}
	if (m->type == MSG_CHILD_DONE) {
		for (size_t i = 0; i < r->ntools; i++) {
			struct tool_slot *t = &r->tools[i];
			if (!t->done && strcmp(t->child_id, m->child_id) == 0) {
				t->sub = NULL;   /* the hub removed it when it fired */
				tool_done(r, i, m->payload ? m->payload : "", !m->ok);
				return;
			}
		}
	}
}

void runner_poll_children(struct worker *w)
{
	struct run *r = w->runs;
	while (r) {
		struct run *next = r->next;
		if (r->state == R_CUSTOM)
			custom_io(r);
		r = next;
	}
	prepare_flush();
}

void runner_tick(struct worker *w, int64_t now)
{
	for (int i = 0; i < nzombies;) {
		if (waitpid(zombies[i], NULL, WNOHANG) != 0)
			zombies[i] = zombies[--nzombies];
		else
			i++;
	}
	struct run *r = w->runs;
	while (r) {
		struct run *next = r->next;
		if (now >= r->deadline) {
			int64_t secs = r->e->timeout_s > 0 ? r->e->timeout_s
							   : APP(r)->cfg->default_timeout_s;
			if (r->state == R_CUSTOM)
				fail(r, "timeout", "the custom command did not finish in time and was "
				     "killed (deadline of %lld s)",
				     (long long)(r->cc ? r->cc->timeout_s : secs));
			else
				fail(r, "timeout", "the execution did not finish within %lld s",
				     (long long)secs);
		} else if (r->state == R_BACKOFF && now >= r->retry_at) {
			call_model(r);
		}
		r = next;
	}
	prepare_flush();
}

unsigned runner_waitfds(struct worker *w, struct curl_waitfd *fds, unsigned max)
{
	unsigned n = 0;
	for (struct run *r = w->runs; r && n + 3 <= max; r = r->next) {
		if (r->state != R_CUSTOM)
			continue;
		if (r->fd_in >= 0)
			fds[n++] = (struct curl_waitfd){r->fd_in, CURL_WAIT_POLLOUT, 0};
		if (r->fd_out >= 0)
			fds[n++] = (struct curl_waitfd){r->fd_out, CURL_WAIT_POLLIN, 0};
		if (r->fd_err >= 0)
			fds[n++] = (struct curl_waitfd){r->fd_err, CURL_WAIT_POLLIN, 0};
	}
	return n;
}

void runner_abandon_all(struct worker *w)
{
	/* shutdown: runs still here stay `running` in the store; recovery takes them */
	while (w->runs) {
		struct run *r = w->runs;
		r->dirty = 0;
		run_free(r);
	}
	tl_dirty = NULL;
}

/* ---- outside the workers ---- */

struct side_write {
	struct store_write w;
	struct store_op ops[5];
	char *strs[5];
	struct app *app;
};

static void side_done(struct store_write *w)
{
	struct side_write *s = (struct side_write *)w;   /* w is its first member; w->arg is not
							   * ours after store_write_sync */
	if (w->rc == 0)
		for (size_t i = 0; i < w->nops; i++)
			if (s->ops[i].kind == STORE_OP_EVENT_INSERT)
				hub_publish(s->app->hub, s->ops[i].u.event.execution_id,
					    &s->ops[i].u.event, 1);
	for (int i = 0; i < 5; i++)
		free(s->strs[i]);
	exec_rec_clear(&s->ops[0].u.exec);
	free(s);
}

/* Ends a stored execution that no worker runs: state plus its final events. */
static void end_stored(struct engine *en, const struct exec_rec *src, const char *status,
		       const char *code, const char *message, int sync)
{
	struct side_write *s = calloc(1, sizeof(*s));
	if (!s)
		return;
	s->app = en->app;
	struct exec_rec *e = &s->ops[0].u.exec;
	*e = *src;
	e->input = e->metadata = e->attachments = NULL;
	e->output = NULL;
	e->error_message = message ? strdup(message) : NULL;
	snprintf(e->status, sizeof(e->status), "%s", status);
	snprintf(e->error_code, sizeof(e->error_code), "%s", code ? code : "");
	e->completed_at = time_now_ms();
	e->last_seq = sync ? max_event_seq(en->app, src) : src->last_seq;
	s->ops[0].kind = STORE_OP_EXEC_UPDATE;
	json_t *err = code ? json_pack("{s:s, s:s}", "code", code, "message", message) : json_null();
	const char *types[3] = {"error", "status", "done"};
	char *datas[3] = {
		code ? json_dumps(err, JSON_COMPACT) : NULL,
		NULL,
		NULL,
	};
	json_t *st = json_pack("{s:s}", "status", status);
	datas[1] = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	json_t *dn = json_pack("{s:s, s:n, s:O}", "status", status, "output", "error", err);
	datas[2] = json_dumps(dn, JSON_COMPACT);
	json_decref(dn);
	json_decref(err);
	size_t k = 1;
	for (int i = 0; i < 3; i++) {
		if (!datas[i])
			continue;
		struct event_rec *ev = &s->ops[k].u.event;
		s->ops[k].kind = STORE_OP_EVENT_INSERT;
		memcpy(ev->execution_id, e->id, STORE_ID_LEN);
		ev->seq = ++e->last_seq;
		ev->created_at = e->completed_at;
		snprintf(ev->type, sizeof(ev->type), "%s", types[i]);
		ev->data = s->strs[k] = datas[i];
		k++;
	}
	s->w.ops = s->ops;
	s->w.nops = k;
	if (strcmp(status, "cancelled") == 0)
		atomic_fetch_add(&en->n_cancelled, 1);
	else
		atomic_fetch_add(&en->n_failed, 1);
	if (sync) {
		store_write_sync(en->app->store, &s->w);
		side_done(&s->w);
	} else {
		s->w.done = side_done;
		s->w.arg = s;
		if (store_submit(en->app->store, &s->w) != 0)
			side_done(&s->w);
	}
}

void runner_cancel_queued(struct engine *en, struct engine_job *job)
{
	end_stored(en, &job->e, "cancelled", NULL, NULL, 0);
	engine_job_free(job);
}

void runner_fail_stored(struct engine *en, const struct exec_rec *e, const char *code,
			const char *message)
{
	end_stored(en, e, "failed", code, message, 1);
}

void runner_requeue_stored(struct engine *en, struct engine_job *job)
{
	struct exec_rec *e = &job->e;
	e->last_seq = max_event_seq(en->app, e);
	snprintf(e->status, sizeof(e->status), "queued");
	struct store_op ops[2];
	memset(ops, 0, sizeof(ops));
	ops[0].kind = STORE_OP_EXEC_UPDATE;
	ops[0].u.exec = *e;
	ops[0].u.exec.input = ops[0].u.exec.metadata = ops[0].u.exec.attachments = NULL;
	ops[0].u.exec.output = ops[0].u.exec.error_message = NULL;
	ops[0].u.exec.last_seq = e->last_seq + 1;
	ops[1].kind = STORE_OP_EVENT_INSERT;
	memcpy(ops[1].u.event.execution_id, e->id, STORE_ID_LEN);
	ops[1].u.event.seq = ++e->last_seq;
	ops[1].u.event.created_at = time_now_ms();
	snprintf(ops[1].u.event.type, sizeof(ops[1].u.event.type), "status");
	char data[128];
	snprintf(data, sizeof(data), "{\"status\":\"queued\",\"requeued\":true,\"attempt\":%lld}",
		 (long long)e->attempt);
	ops[1].u.event.data = data;
	struct store_write w = {.ops = ops, .nops = 2};
	if (store_write_sync(en->app->store, &w))
		log_error("recovery: cannot re-queue %s: %s", e->id, w.err.msg);
}
