/*
 * native_agents.c: the native API's agents, executions and event streams (routes are in
 * native.c). JSON mapping only; the rules are in core/agents.c and core/executions.c.
 * Handlers run on http threads; submission callbacks on the store writer thread.
 */
#include "api/exec_view.h"
#include "api/native_int.h"
#include "core/agents.h"
#include "core/app.h"
#include "core/auth.h"
#include "core/config.h"
#include "core/executions.h"
#include "core/scopes.h"
#include "engine/engine.h"
#include "http/http.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/jsonw.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REPLY_MAX (16u << 20)

/* ---- JSON ---- */

static void raw_or_null(struct jsonw *w, const char *key, const char *json)
{
	if (json && json[0])
		jw_raw(w, key, json, strlen(json));
	else
		jw_null(w, key);
}

static void agent_write(struct jsonw *w, const struct agent_rec *a)
{
	jw_obj_open(w, NULL);
	jw_str(w, "id", a->id);
	jw_str(w, "slug", a->slug);
	jw_str(w, "workspace_id", a->workspace_id);
	jw_str_or_null(w, "project_id", a->project_id);
	jw_str(w, "status", a->status);
	jw_bool(w, "exposed", a->exposed);
	jw_int(w, "revision", a->deployed_revision);
	jw_int(w, "latest_revision", a->latest_revision);
	jw_time(w, "created_at", a->created_at);
	jw_time(w, "updated_at", a->updated_at);
	/* the deployed revision's config, field by field */
	json_t *c = json_loads(a->config ? a->config : "{}", 0, NULL);
	const char *k;
	json_t *v;
	json_object_foreach(c, k, v) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (s)
			jw_raw(w, k, s, strlen(s));
		free(s);
	}
	json_decref(c);
	jw_obj_close(w);
}

static void exec_write(struct jsonw *w, const struct exec_rec *e, const struct step_rec *steps,
		       size_t nsteps, int with_trace)
{
	jw_obj_open(w, NULL);
	jw_str(w, "id", e->id);
	jw_str(w, "agent_id", e->agent_id);
	jw_int(w, "revision", e->revision);
	jw_str(w, "status", e->status);
	jw_str(w, "priority", priority_name(e->priority));
	raw_or_null(w, "input", e->input);
	raw_or_null(w, "output", e->output);
	if (e->error_code[0]) {
		jw_obj_open(w, "error");
		jw_str(w, "code", e->error_code);
		jw_str(w, "message", e->error_message ? e->error_message : "");
		jw_obj_close(w);
	} else {
		jw_null(w, "error");
	}
	jw_str_or_null(w, "session_id", e->session_id);
	jw_str_or_null(w, "parent_id", e->parent_id);
	jw_str(w, "source", e->source);
	jw_str_or_null(w, "idempotency_key", e->idempotency_key);
	raw_or_null(w, "metadata", e->metadata);
	raw_or_null(w, "attachments", e->attachments);
	jw_str_or_null(w, "model", e->model);
	jw_obj_open(w, "usage");
	jw_int(w, "tokens_in", e->tokens_in);
	jw_int(w, "tokens_out", e->tokens_out);
	jw_obj_close(w);
	char num[64];
	jw_obj_open(w, "cost");
	snprintf(num, sizeof(num), "%.8f", e->cost_in);
	jw_raw(w, "input", num, strlen(num));
	snprintf(num, sizeof(num), "%.8f", e->cost_out);
	jw_raw(w, "output", num, strlen(num));
	snprintf(num, sizeof(num), "%.8f", e->cost_in + e->cost_out);
	jw_raw(w, "total", num, strlen(num));
	jw_obj_close(w);
	jw_int(w, "steps", e->steps);
	jw_int(w, "attempt", e->attempt);
	jw_time(w, "created_at", e->created_at);
	jw_time(w, "started_at", e->started_at);
	jw_time(w, "completed_at", e->completed_at);
	if (e->completed_at && e->started_at)
		jw_int(w, "duration_ms", e->completed_at - e->started_at);
	else
		jw_null(w, "duration_ms");
	if (with_trace) {
		jw_arr_open(w, "trace");
		for (size_t i = 0; i < nsteps; i++)
			raw_or_null(w, NULL, steps[i].data);
		jw_arr_close(w);
	}
	jw_obj_close(w);
}

static void reply_agent(struct req *r, int status, const struct agent_rec *a)
{
	struct buf b;
	struct jsonw w;
	buf_init(&b, REPLY_MAX);
	jw_init(&w, &b);
	agent_write(&w, a);
	http_reply_written(r, status, &w);
}

static void reply_exec(struct req *r, int status, const struct exec_rec *e, int with_trace)
{
	struct step_rec *steps = NULL;
	size_t n = 0;
	if (with_trace)
		store_steps_list(req_app(r)->store, e->id, &steps, &n);
	struct buf b;
	struct jsonw w;
	buf_init(&b, REPLY_MAX);
	jw_init(&w, &b);
	exec_write(&w, e, steps, n, with_trace);
	step_recs_free(steps, n);
	http_reply_written(r, status, &w);
}

/* ---- lookups with workspace and project rules ---- */

static int find_agent(struct req *r, const char *ref, struct agent_rec *a)
{
	const struct auth *au = req_auth(r);
	int rc = store_agent_get(req_app(r)->store, au->workspace.id, ref, a);
	if (rc == 0 && auth_sees(au, a->workspace_id, a->project_id))
		return 0;
	if (rc == 0)
		agent_rec_clear(a);
	else if (rc != AGD_ENOTFOUND) {
		http_error(r, 503, "unavailable", "the store could not be read");
		return -1;
	}
	http_error(r, 404, "not_found", "no agent '%s'", ref);
	return -1;
}

static int find_exec(struct req *r, const char *id, struct exec_rec *e)
{
	const struct auth *au = req_auth(r);
	int rc = store_exec_get(req_app(r)->store, id, e);
	if (rc == 0 && auth_sees(au, e->workspace_id, e->project_id))
		return 0;
	if (rc == 0)
		exec_rec_clear(e);
	http_error(r, 404, "not_found", "no execution '%s'", id);
	return -1;
}

/* ---- agents ---- */

struct agent_write {
	struct store_write w;
	struct store_op ops[2];
	struct req *r;
	int status;
	char conflict[200];
};

static void agent_written(struct store_write *w)
{
	struct agent_write *aw = w->arg;
	struct req *r = aw->r;
	struct agent_rec a = aw->ops[0].u.agent;
	if (w->nops == 2)
		a.exposed = aw->ops[1].u.agent.exposed;
	if (w->rc == 0)
		reply_agent(r, aw->status, &a);
	else if (w->rc == AGD_ECONFLICT)
		http_error(r, 409, "conflict", "%s", aw->conflict);
	else if (w->rc == AGD_ENOTFOUND)
		http_error(r, 404, "not_found", "%s", w->err.msg);
	else
		http_error(r, 503, "unavailable", "the write could not be committed: %s",
			   w->err.msg);
	agent_rec_clear(&aw->ops[0].u.agent);
	free(aw);
}

static void agent_submit(struct req *r, struct agent_write *aw, size_t nops)
{
	aw->r = r;
	aw->w.ops = aw->ops;
	aw->w.nops = nops;
	aw->w.done = agent_written;
	aw->w.arg = aw;
	http_suspend(r);
	if (store_submit(req_app(r)->store, &aw->w) != 0) {
		agent_rec_clear(&aw->ops[0].u.agent);
		free(aw);
		http_error(r, 503, "unavailable", "the server is shutting down");
	}
}

void h_agents_create(struct req *r)
{
	struct app *app = req_app(r);
	const struct auth *au = req_auth(r);
	struct agent_write *aw = calloc(1, sizeof(*aw));
	if (!aw) {
		http_error(r, 503, "unavailable", "out of memory");
		return;
	}
	json_t *def = req_json(r);
	if (au->key.project_id[0] && json_is_object(def) && !json_object_get(def, "project_id"))
		json_object_set_new(def, "project_id", json_string(au->key.project_id));
	agd_errbuf eb;
	aw->ops[0].kind = STORE_OP_AGENT_INSERT;
	if (agent_prepare_create(app->store, app->cfg, &au->workspace, def, &aw->ops[0].u.agent,
				 &eb)) {
		free(aw);
		http_error(r, 422, "invalid_agent", "%s", eb.msg);
		return;
	}
	aw->status = 201;
	snprintf(aw->conflict, sizeof(aw->conflict), "an agent with slug '%s' exists in this "
		 "workspace", aw->ops[0].u.agent.slug);
	char loc[128];
	snprintf(loc, sizeof(loc), "/agentd/v1/agents/%s", aw->ops[0].u.agent.id);
	http_header(r, "Location", loc);
	agent_submit(r, aw, 1);
}

static int query_int(struct req *r, const char *name, long long def, long long min,
		     long long max, long long *out)
{
	const char *v = req_query(r, name);
	*out = def;
	if (!v)
		return 0;
	char *end;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || n < min || n > max) {
		http_error(r, 400, "invalid_query", "query parameter '%s' must be an integer from "
			   "%lld to %lld", name, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

void h_agents_list(struct req *r)
{
	long long limit, offset;
	if (query_int(r, "limit", 100, 1, 1000, &limit) ||
	    query_int(r, "offset", 0, 0, 1000000000, &offset))
		return;
	const char *search = req_query(r, "search");
	const char *arch = req_query(r, "include_archived");
	struct agent_rec *list;
	size_t n;
	int64_t total;
	if (store_agent_list(req_app(r)->store, req_auth(r)->workspace.id, search,
			     arch && strcmp(arch, "true") == 0, 0, (int)limit, (int)offset, &list,
			     &n, &total)) {
		http_error(r, 503, "unavailable", "the store could not be read");
		return;
	}
	struct buf b;
	struct jsonw w;
	buf_init(&b, REPLY_MAX);
	jw_init(&w, &b);
	jw_obj_open(&w, NULL);
	jw_arr_open(&w, "agents");
	for (size_t i = 0; i < n; i++)
		if (auth_sees(req_auth(r), list[i].workspace_id, list[i].project_id))
			agent_write(&w, &list[i]);
	jw_arr_close(&w);
	jw_int(&w, "total_count", total);
	jw_int(&w, "limit", limit);
	jw_int(&w, "offset", offset);
	jw_bool(&w, "has_more", offset + (long long)n < total);
	jw_obj_close(&w);
	agent_recs_free(list, n);
	http_reply_written(r, 200, &w);
}

void h_agents_get(struct req *r)
{
	struct agent_rec a;
	if (find_agent(r, req_param(r, "id"), &a))
		return;
	reply_agent(r, 200, &a);
	agent_rec_clear(&a);
}

void h_agents_patch(struct req *r)
{
	struct app *app = req_app(r);
	struct agent_rec cur;
	if (find_agent(r, req_param(r, "id"), &cur))
		return;
	json_t *patch = req_json(r);
	int deploy = 1, exposed = -1;
	json_t *d = json_object_get(patch, "deploy");
	if (d && !json_is_boolean(d)) {
		agent_rec_clear(&cur);
		http_error(r, 400, "invalid_field", "field 'deploy' must be true or false");
		return;
	}
	if (d)
		deploy = json_is_true(d);
	struct agent_write *aw = calloc(1, sizeof(*aw));
	if (!aw) {
		agent_rec_clear(&cur);
		http_error(r, 503, "unavailable", "out of memory");
		return;
	}
	agd_errbuf eb;
	/* only flags changed: no new revision */
	int only_flags = json_is_object(patch);
	const char *k;
	json_t *v;
	json_object_foreach(patch, k, v) if (strcmp(k, "exposed") != 0 && strcmp(k, "status") != 0)
		only_flags = 0;
	size_t nops = 1;
	if (only_flags) {
		json_t *ex = json_object_get(patch, "exposed");
		json_t *st = json_object_get(patch, "status");
		if ((ex && !json_is_boolean(ex)) ||
		    (st && (!json_is_string(st) || (strcmp(json_string_value(st), "active") != 0 &&
						    strcmp(json_string_value(st), "archived") != 0)))) {
			agent_rec_clear(&cur);
			free(aw);
			http_error(r, 400, "invalid_field", "field 'exposed' must be true or false "
				   "and 'status' 'active' or 'archived'");
			return;
		}
		aw->ops[0].kind = STORE_OP_AGENT_FLAGS;
		aw->ops[0].u.agent = cur;
		if (ex)
			aw->ops[0].u.agent.exposed = json_is_true(ex);
		if (st)
			snprintf(aw->ops[0].u.agent.status, sizeof(aw->ops[0].u.agent.status), "%s",
				 json_string_value(st));
		aw->ops[0].u.agent.updated_at = time_now_ms();
	} else {
		if (agent_prepare_revise(app->store, app->cfg, &cur, patch, deploy,
					 &aw->ops[0].u.agent, &exposed, &eb)) {
			agent_rec_clear(&cur);
			free(aw);
			http_error(r, 422, "invalid_agent", "%s", eb.msg);
			return;
		}
		aw->ops[0].kind = STORE_OP_AGENT_REVISE;
		if (!deploy) {   /* the answer shows the deployed config, which did not change */
			free(aw->ops[0].u.agent.config);
			aw->ops[0].u.agent.config = cur.config;
			cur.config = NULL;
		}
		if (exposed >= 0) {
			aw->ops[1].kind = STORE_OP_AGENT_FLAGS;
			aw->ops[1].u.agent = aw->ops[0].u.agent;
			aw->ops[1].u.agent.exposed = exposed;
			nops = 2;
		}
		agent_rec_clear(&cur);
	}
	aw->status = 200;
	snprintf(aw->conflict, sizeof(aw->conflict), "an agent with slug '%s' exists in this "
		 "workspace", aw->ops[0].u.agent.slug);
	agent_submit(r, aw, nops);
}

void h_agents_archive(struct req *r)
{
	struct agent_rec cur;
	if (find_agent(r, req_param(r, "id"), &cur))
		return;
	struct agent_write *aw = calloc(1, sizeof(*aw));
	if (!aw) {
		agent_rec_clear(&cur);
		http_error(r, 503, "unavailable", "out of memory");
		return;
	}
	aw->ops[0].kind = STORE_OP_AGENT_FLAGS;
	aw->ops[0].u.agent = cur;
	snprintf(aw->ops[0].u.agent.status, sizeof(aw->ops[0].u.agent.status), "archived");
	aw->ops[0].u.agent.exposed = 0;
	aw->ops[0].u.agent.updated_at = time_now_ms();
	aw->status = 200;
	agent_submit(r, aw, 1);
}

void h_agents_revisions(struct req *r)
{
	struct agent_rec a;
	if (find_agent(r, req_param(r, "id"), &a))
		return;
	struct revision_rec *revs;
	size_t n;
	if (store_revision_list(req_app(r)->store, a.id, &revs, &n)) {
		agent_rec_clear(&a);
		http_error(r, 503, "unavailable", "the store could not be read");
		return;
	}
	struct buf b;
	struct jsonw w;
	buf_init(&b, REPLY_MAX);
	jw_init(&w, &b);
	jw_obj_open(&w, NULL);
	jw_arr_open(&w, "revisions");
	for (size_t i = 0; i < n; i++) {
		jw_obj_open(&w, NULL);
		jw_int(&w, "revision", revs[i].revision);
		jw_bool(&w, "deployed", revs[i].revision == a.deployed_revision);
		jw_time(&w, "created_at", revs[i].created_at);
		raw_or_null(&w, "config", revs[i].config);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_int(&w, "total_count", (int64_t)n);
	jw_obj_close(&w);
	revision_recs_free(revs, n);
	agent_rec_clear(&a);
	http_reply_written(r, 200, &w);
}

void h_agents_deploy(struct req *r)
{
	struct agent_rec cur;
	if (find_agent(r, req_param(r, "id"), &cur))
		return;
	long long rev = 0;
	int present = 0;
	agd_errbuf eb;
	if (!json_is_object(req_json(r)) ||
	    json_get_int(req_json(r), "revision", 1, 1LL << 40, &rev, &present, &eb) || !present) {
		agent_rec_clear(&cur);
		http_error(r, 400, "invalid_field", "field 'revision' (a revision number) is required");
		return;
	}
	struct revision_rec rr;
	if (store_revision_get(req_app(r)->store, cur.id, rev, &rr) != 0) {
		http_error(r, 404, "not_found", "agent '%s' has no revision %lld (latest is %lld)",
			   cur.slug, rev, (long long)cur.latest_revision);
		agent_rec_clear(&cur);
		return;
	}
	struct agent_write *aw = calloc(1, sizeof(*aw));
	if (!aw) {
		revision_rec_clear(&rr);
		agent_rec_clear(&cur);
		http_error(r, 503, "unavailable", "out of memory");
		return;
	}
	aw->ops[0].kind = STORE_OP_AGENT_DEPLOY;
	aw->ops[0].u.agent = cur;
	free(aw->ops[0].u.agent.config);
	aw->ops[0].u.agent.config = rr.config;   /* for the answer */
	aw->ops[0].u.agent.deployed_revision = rev;
	aw->ops[0].u.agent.updated_at = time_now_ms();
	aw->status = 200;
	agent_submit(r, aw, 1);
}

/* ---- executions ---- */

struct submit_state {
	struct req *r;
	int64_t wait_ms;
};

static void exec_reply_after_wait(struct req *r)
{
	struct exec_rec e;
	const char *id = req_ctx(r);
	if (!id || store_exec_get(req_app(r)->store, id, &e) != 0) {
		http_error(r, 503, "unavailable", "the execution could not be read");
		return;
	}
	int ended = exec_status_terminal(e.status);
	if (!ended) {
		char loc[128];
		snprintf(loc, sizeof(loc), "/agentd/v1/executions/%s", e.id);
		http_header(r, "Location", loc);
	}
	reply_exec(r, ended ? 200 : 202, &e, ended);
	exec_rec_clear(&e);
}

static void reply_accepted(struct req *r)
{
	reply_exec(r, 202, req_ctx(r), 0);
}

static void submitted(void *arg, int status, enum submit_outcome outcome,
		      const struct exec_rec *e, const char *message)
{
	struct submit_state *ss = arg;
	struct req *r = ss->r;
	int64_t wait_ms = ss->wait_ms;
	free(ss);
	if (status >= 300) {
		const char *code = status == 400 ? "invalid_input"
				   : status == 409 ? "idempotency_conflict"
				   : status == 404 ? "not_found"
				   : status == 429 ? "quota_exceeded"
						   : "unavailable";
		http_error(r, status, code, "%s", message ? message : "submission failed");
		return;
	}
	char loc[128];
	snprintf(loc, sizeof(loc), "/agentd/v1/executions/%s", e->id);
	if (outcome == SUBMIT_REPLAYED) {
		http_header(r, "Idempotency-Replayed", "true");
		http_header(r, "Location", loc);
		reply_exec(r, 200, e, exec_status_terminal(e->status));
		return;
	}
	if (wait_ms > 0) {
		/* remember the id for the wake-up handler */
		struct arena *ar = req_arena(r);
		char *id = arena_strdup(ar, e->id);
		req_set_ctx(r, id);
		exec_wait(r, e->id, wait_ms, exec_reply_after_wait);
		return;
	}
	http_header(r, "Location", loc);
	/* the body is built on the http thread the reply resumes on, not on the store writer */
	struct arena *ar = req_arena(r);
	struct exec_rec *copy = arena_alloc(ar, sizeof(*copy));
	if (!copy) {
		http_error(r, 500, "internal", "out of memory");
		return;
	}
	*copy = *e;
	copy->input = e->input ? arena_strdup(ar, e->input) : NULL;
	copy->metadata = e->metadata ? arena_strdup(ar, e->metadata) : NULL;
	copy->attachments = e->attachments ? arena_strdup(ar, e->attachments) : NULL;
	copy->output = copy->error_message = NULL;
	req_set_ctx(r, copy);
	http_wake(r, reply_accepted);
}

/* Prefer: wait=N (seconds, at most 300); 0 when absent. */
static int prefer_wait(struct req *r, int64_t *ms)
{
	*ms = 0;
	const char *p = req_header(r, "Prefer");
	if (!p)
		return 0;
	const char *w = strcasestr(p, "wait=");
	if (!w)
		return 0;
	char *end;
	long n = strtol(w + 5, &end, 10);
	if (end == w + 5 || n < 0) {
		http_error(r, 400, "invalid_header", "Prefer: wait=N needs N in seconds (0-300)");
		return -1;
	}
	*ms = (n > 300 ? 300 : n) * 1000LL;
	http_header(r, "Preference-Applied", n > 300 ? "wait=300" : p);
	return 0;
}

void h_executions_create(struct req *r)
{
	static const char *const fields[] = {"input", "priority", "session_id", "idempotency_key",
					     "revision", "timeout_s", "metadata", NULL};
	struct app *app = req_app(r);
	json_t *b = req_json(r);
	if (!b)
		b = json_object();
	else
		json_incref(b);
	if (!json_is_object(b)) {
		json_decref(b);
		http_error(r, 400, "invalid_body", "the request body must be a JSON object");
		return;
	}
	const char *k;
	json_t *v;
	json_object_foreach(b, k, v) {
		int ok = 0;
		for (const char *const *f = fields; *f; f++)
			ok |= strcmp(*f, k) == 0;
		if (!ok) {
			json_decref(b);
			http_error(r, 400, "unknown_field", "unknown field '%s' (known: input, "
				   "priority, session_id, idempotency_key, revision, timeout_s, "
				   "metadata)", k);
			return;
		}
	}
	json_t *input = json_object_get(b, "input");
	if (input && !json_is_object(input)) {
		json_decref(b);
		http_error(r, 400, "invalid_field", "field 'input' must be a JSON object");
		return;
	}
	agd_errbuf eb;
	const char *prio = NULL, *session = NULL, *idem = NULL;
	long long revision = 0, timeout = 0;
	json_t *md = json_object_get(b, "metadata");
	if (json_get_str(b, "priority", &prio, &eb) || json_get_str(b, "session_id", &session, &eb) ||
	    json_get_str(b, "idempotency_key", &idem, &eb) ||
	    json_get_int(b, "revision", 1, 1LL << 40, &revision, NULL, &eb) ||
	    json_get_int(b, "timeout_s", 1, 86400, &timeout, NULL, &eb)) {
		json_decref(b);
		http_error(r, 400, "invalid_field", "%s", eb.msg);
		return;
	}
	if (md && !json_is_null(md) && !json_is_object(md)) {
		json_decref(b);
		http_error(r, 400, "invalid_field", "field 'metadata' must be a JSON object");
		return;
	}
	int priority = prio ? priority_from_name(prio) : 1;
	if (priority < 0) {
		json_decref(b);
		http_error(r, 400, "invalid_field", "field 'priority' must be LOW, NORMAL, HIGH or "
			   "CRITICAL");
		return;
	}
	const char *hdr_idem = req_header(r, "Idempotency-Key");
	if (!idem && hdr_idem && hdr_idem[0])
		idem = hdr_idem;
	if ((idem && strlen(idem) > 255) || (session && strlen(session) > 127)) {
		json_decref(b);
		http_error(r, 400, "invalid_field", "idempotency keys are at most 255 characters and "
			   "session ids at most 127");
		return;
	}
	int64_t wait_ms;
	if (prefer_wait(r, &wait_ms)) {
		json_decref(b);
		return;
	}
	struct agent_rec a;
	if (find_agent(r, req_param(r, "id"), &a)) {
		json_decref(b);
		return;
	}
	if (strcmp(a.status, "active") != 0) {
		http_error(r, 409, "agent_archived", "agent '%s' is archived", a.slug);
		agent_rec_clear(&a);
		json_decref(b);
		return;
	}
	json_t *in = input ? json_incref(input) : json_object();
	struct submit_state *ss = calloc(1, sizeof(*ss));
	if (!ss) {
		json_decref(in);
		json_decref(b);
		agent_rec_clear(&a);
		http_error(r, 503, "unavailable", "out of memory");
		return;
	}
	ss->r = r;
	ss->wait_ms = wait_ms;
	struct submit_req rq = {
		.agent = &a,
		.input = in,
		.priority = priority,
		.session_id = session,
		.idempotency_key = idem,
		.revision = revision,
		.timeout_s = timeout,
		.metadata = json_is_object(md) ? md : NULL,
		.source = "api",
		.dialect = "native",
		.key_id = req_auth(r)->key.id,
	};
	http_suspend(r);
	exec_submit(app, &rq, NULL, submitted, ss);
	json_decref(in);
	json_decref(b);
	agent_rec_clear(&a);
}

void h_executions_get(struct req *r)
{
	struct exec_rec e;
	if (find_exec(r, req_param(r, "id"), &e))
		return;
	reply_exec(r, 200, &e, 1);
	exec_rec_clear(&e);
}

void h_executions_list(struct req *r)
{
	struct app *app = req_app(r);
	long long limit;
	if (query_int(r, "limit", 50, 1, 200, &limit))
		return;
	struct exec_filter f = {.workspace_id = req_auth(r)->workspace.id, .limit = (int)limit};
	const char *agent = req_query(r, "agent_id");
	struct agent_rec a;
	memset(&a, 0, sizeof(a));
	if (agent) {
		if (find_agent(r, agent, &a))
			return;
		f.agent_id = a.id;
	}
	static const char *const statuses[] = {"queued", "running", "waiting", "completed",
					       "failed", "cancelled", "rejected", NULL};
	f.status = req_query(r, "status");
	if (f.status) {
		int ok = 0;
		for (const char *const *s = statuses; *s; s++)
			ok |= strcmp(*s, f.status) == 0;
		if (!ok) {
			agent_rec_clear(&a);
			http_error(r, 400, "invalid_query", "query parameter 'status' must be one of "
				   "queued, running, waiting, completed, failed, cancelled, rejected");
			return;
		}
	}
	const char *since = req_query(r, "since"), *until = req_query(r, "until");
	if ((since && time_parse_rfc3339(since, &f.since)) ||
	    (until && time_parse_rfc3339(until, &f.until))) {
		agent_rec_clear(&a);
		http_error(r, 400, "invalid_query", "'since' and 'until' must be RFC 3339 times");
		return;
	}
	f.before_id = req_query(r, "cursor");
	struct exec_rec *list;
	size_t n;
	if (store_exec_list(app->store, &f, &list, &n)) {
		agent_rec_clear(&a);
		http_error(r, 503, "unavailable", "the store could not be read");
		return;
	}
	struct buf b;
	struct jsonw w;
	buf_init(&b, REPLY_MAX);
	jw_init(&w, &b);
	jw_obj_open(&w, NULL);
	jw_arr_open(&w, "executions");
	for (size_t i = 0; i < n; i++)
		if (auth_sees(req_auth(r), list[i].workspace_id, list[i].project_id))
			exec_write(&w, &list[i], NULL, 0, 0);
	jw_arr_close(&w);
	if (n == (size_t)limit)
		jw_str(&w, "next_cursor", list[n - 1].id);
	else
		jw_null(&w, "next_cursor");
	jw_obj_close(&w);
	exec_recs_free(list, n);
	agent_rec_clear(&a);
	http_reply_written(r, 200, &w);
}

static void cancel_reply(struct req *r)
{
	struct exec_rec e;
	if (store_exec_get(req_app(r)->store, req_param(r, "id"), &e) != 0) {
		http_error(r, 503, "unavailable", "the execution could not be read");
		return;
	}
	reply_exec(r, exec_status_terminal(e.status) ? 200 : 202, &e, 0);
	exec_rec_clear(&e);
}

void h_executions_cancel(struct req *r)
{
	struct app *app = req_app(r);
	struct exec_rec e;
	if (find_exec(r, req_param(r, "id"), &e))
		return;
	if (exec_status_terminal(e.status)) {   /* idempotent: nothing to do */
		reply_exec(r, 200, &e, 0);
		exec_rec_clear(&e);
		return;
	}
	exec_wait(r, e.id, 10000, cancel_reply);
	engine_cancel(app->engine, e.id);
	exec_rec_clear(&e);
}

void h_executions_events(struct req *r)
{
	struct exec_rec e;
	if (find_exec(r, req_param(r, "id"), &e))
		return;
	long long after = 0;
	const char *lei = req_header(r, "Last-Event-ID");
	if (query_int(r, "after", 0, 0, 1LL << 50, &after)) {
		exec_rec_clear(&e);
		return;
	}
	if (lei && lei[0]) {
		char *end;
		long long n = strtoll(lei, &end, 10);
		if (*end || n < 0) {
			exec_rec_clear(&e);
			http_error(r, 400, "invalid_header", "Last-Event-ID must be an event id (a "
				   "sequence number)");
			return;
		}
		after = n;
	}
	const char *accept = req_header(r, "Accept");
	int nd = accept && strstr(accept, "ndjson");
	struct stream_opts o = {
		.content_type = nd ? "application/x-ndjson" : "text/event-stream",
		.render = nd ? render_ndjson : render_sse,
		.heartbeat = nd ? "\n" : ": heartbeat\n\n",
		.after = after,
	};
	exec_stream(r, e.id, &o);
	exec_rec_clear(&e);
}
