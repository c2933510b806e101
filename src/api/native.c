/*
 * native.c: agentd's own API under /agentd/v1 (first part: the calling key, API keys,
 * workspaces, projects) and the operational endpoints at the root (/healthz, /readyz,
 * /metrics). Only routes and JSON mapping live here; rules live in core/.
 * Handlers run on http threads; the async completions of writes run on the store writer.
 */
#include "api/api.h"
#include "api/native_int.h"
#include "core/app.h"
#include "core/auth.h"
#include "core/config.h"
#include "core/keys.h"
#include "core/scopes.h"
#include "http/http.h"
#include "http/metrics.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/ids.h"
#include "util/json.h"
#include "util/jsonw.h"
#include "util/strutil.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON mapping ---- */

static void scopes_write(struct jsonw *w, const char *key, const char *csv)
{
	const char *p = csv, *tok;
	size_t n;
	jw_arr_open(w, key);
	while (csv_next(&p, &tok, &n)) {
		char one[64];
		if (n >= sizeof(one))
			continue;   /* stored scopes are canonical names; never this long */
		memcpy(one, tok, n);
		one[n] = '\0';
		jw_str(w, NULL, one);
	}
	jw_arr_close(w);
}

static void workspace_write(struct jsonw *w, const char *key, const struct workspace_rec *ws)
{
	jw_obj_open(w, key);
	jw_str(w, "id", ws->id);
	jw_str(w, "slug", ws->slug);
	jw_str(w, "name", ws->name);
	jw_str(w, "kind", ws->kind);
	jw_str_or_null(w, "parent_id", ws->parent_id);
	jw_time(w, "created_at", ws->created_at);
	jw_obj_close(w);
}

/* A key as the API shows it; `secret` (the whole key) only in the answer that creates it,
 * `ws` (the workspace) only for /me. */
static void key_write(struct jsonw *w, const char *key, const struct key_rec *k,
		      int64_t default_limit, const char *secret, const struct workspace_rec *ws)
{
	jw_obj_open(w, key);
	jw_str(w, "id", k->id);
	jw_str(w, "name", k->name);
	jw_str(w, "kind", k->kind);
	jw_str(w, "workspace_id", k->workspace_id);
	jw_str_or_null(w, "project_id", k->project_id);
	scopes_write(w, "scopes", k->scopes);
	jw_int(w, "rate_limit", k->rate_limit ? k->rate_limit : default_limit);
	jw_bool(w, "rate_limit_is_default", k->rate_limit == 0);
	jw_time(w, "created_at", k->created_at);
	jw_time(w, "last_used_at", k->last_used_at);
	jw_time(w, "expires_at", k->expires_at);
	jw_time(w, "revoked_at", k->revoked_at);
	if (k->exec_quota)
		jw_int(w, "execution_quota", k->exec_quota);
	else
		jw_null(w, "execution_quota");
	jw_int(w, "executions_used", k->exec_used);
	if (secret)
		jw_str(w, "key", secret);
	if (ws)
		workspace_write(w, "workspace", ws);
	jw_obj_close(w);
}

static void project_write(struct jsonw *w, const char *key, const struct project_rec *p)
{
	jw_obj_open(w, key);
	jw_str(w, "id", p->id);
	jw_str(w, "workspace_id", p->workspace_id);
	jw_str(w, "name", p->name);
	jw_time(w, "created_at", p->created_at);
	jw_obj_close(w);
}

#define REPLY_MAX (8u << 20)

typedef void (*item_writer)(struct jsonw *w, const void *item, const void *ctx);

static void write_key_item(struct jsonw *w, const void *item, const void *ctx)
{
	key_write(w, NULL, item, *(const int64_t *)ctx, NULL, NULL);
}

static void write_workspace_item(struct jsonw *w, const void *item, const void *ctx)
{
	(void)ctx;
	workspace_write(w, NULL, item);
}

static void write_project_item(struct jsonw *w, const void *item, const void *ctx)
{
	(void)ctx;
	project_write(w, NULL, item);
}

/* Answers {"<name>": [items...], "total_count": n}. */
static void reply_list(struct req *r, const char *name, const void *items, size_t n,
		       size_t elem, item_writer fn, const void *ctx)
{
	struct buf b;
	struct jsonw w;
	buf_init(&b, REPLY_MAX);
	jw_init(&w, &b);
	jw_obj_open(&w, NULL);
	jw_arr_open(&w, name);
	for (size_t i = 0; i < n; i++)
		fn(&w, (const char *)items + i * elem, ctx);
	jw_arr_close(&w);
	jw_int(&w, "total_count", (int64_t)n);
	jw_obj_close(&w);
	http_reply_written(r, 200, &w);
}

/* Answers one object. */
static void reply_one(struct req *r, int status, item_writer fn, const void *item,
		      const void *ctx)
{
	struct buf b;
	struct jsonw w;
	buf_init(&b, REPLY_MAX);
	jw_init(&w, &b);
	fn(&w, item, ctx);
	http_reply_written(r, status, &w);
}

/* ---- shared helpers ---- */

/* Resolves a workspace the caller may manage: its own, or one it created. 404 otherwise. */
static int visible_workspace(struct req *r, const char *id_or_slug, struct workspace_rec *out)
{
	const struct auth *a = req_auth(r);
	if (!id_or_slug || !id_or_slug[0]) {
		*out = a->workspace;
		return 0;
	}
	struct workspace_rec w;
	int rc = store_workspace_get(req_app(r)->store, id_or_slug, &w);
	if (rc == 0 && (strcmp(w.id, a->workspace.id) == 0 ||
			strcmp(w.parent_id, a->workspace.id) == 0)) {
		*out = w;
		return 0;
	}
	if (rc && rc != AGD_ENOTFOUND) {
		http_error(r, 503, "unavailable", "the store could not be read");
		return -1;
	}
	http_error(r, 404, "not_found", "no workspace '%s'", id_or_slug);
	return -1;
}

static int body_object(struct req *r, json_t **out)
{
	json_t *b = req_json(r);
	if (!json_is_object(b)) {
		http_error(r, 400, "invalid_body", "the request body must be a JSON object");
		return -1;
	}
	*out = b;
	return 0;
}

static int get_str_field(struct req *r, json_t *obj, const char *key, const char **out)
{
	agd_errbuf eb;
	if (json_get_str(obj, key, out, &eb)) {
		http_error(r, 400, "invalid_field", "%s", eb.msg);
		return -1;
	}
	return 0;
}

/* Refuses fields the endpoint does not know, so typos are caught. */
static int only_fields(struct req *r, json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		int ok = 0;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, k) == 0;
		if (!ok) {
			struct buf list;
			buf_init(&list, 512);
			for (const char *const *a = allowed; *a; a++)
				buf_printf(&list, "%s%s", a == allowed ? "" : ", ", *a);
			http_error(r, 400, "unknown_field", "unknown field '%s' (known: %s)", k,
				   buf_cstr(&list));
			buf_free(&list);
			return -1;
		}
	}
	return 0;
}

/* An asynchronous write owned by the request's arena; its reply is built in advance. */
struct async_write {
	struct store_write w;
	struct store_op ops[2];
	struct req *r;
	struct buf reply;         /* the answer, written before the write is submitted */
	int status;
	int attempts;
	struct workspace_rec ws;      /* for key creation retries */
	const char *conflict_msg;
};

static void reply_write_error(struct req *r, struct store_write *w, const char *conflict_msg)
{
	if (w->rc == AGD_ECONFLICT)
		http_error(r, 409, "conflict", "%s", conflict_msg ? conflict_msg : w->err.msg);
	else if (w->rc == AGD_ENOTFOUND)
		http_error(r, 404, "not_found", "%s", w->err.msg);
	else
		http_error(r, 503, "unavailable", "the write could not be committed: %s",
			   w->err.msg);
}

static void async_done(struct store_write *w)
{
	/* aw lives in the request's arena, which may be freed as soon as we reply: take what
	 * is needed into locals first and touch nothing of aw or w afterwards. */
	struct async_write *aw = w->arg;
	struct req *r = aw->r;
	struct buf reply = aw->reply;
	buf_init(&aw->reply, 0);
	if (w->rc == 0)
		http_reply(r, aw->status, "application/json", buf_cstr(&reply), reply.len);
	else
		reply_write_error(r, w, aw->conflict_msg);
	buf_free(&reply);
}

static struct async_write *async_new(struct req *r, size_t nops, int status)
{
	struct async_write *aw = arena_alloc(req_arena(r), sizeof(*aw));
	if (!aw)
		return NULL;
	aw->r = r;
	aw->status = status;
	aw->w.ops = aw->ops;
	aw->w.nops = nops;
	aw->w.done = async_done;
	aw->w.arg = aw;
	buf_init(&aw->reply, REPLY_MAX);
	return aw;
}

static void async_submit(struct req *r, struct async_write *aw)
{
	http_suspend(r);
	int rc = store_submit(req_app(r)->store, &aw->w);
	if (rc) {
		buf_free(&aw->reply);
		http_error(r, 503, "unavailable", "the store is shutting down");
	}
}

/* ---- operational endpoints ---- */

static void h_healthz(struct req *r)
{
	static const char body[] = "{\"status\":\"ok\"}";
	http_reply(r, 200, "application/json", body, sizeof(body) - 1);
}

static void h_readyz(struct req *r)
{
	struct app *app = req_app(r);
	if (app->draining) {
		http_error(r, 503, "draining", "the server is shutting down");
		return;
	}
	if (store_ping(app->store) != 0) {
		http_error(r, 503, "store_unavailable", "the store is not reachable");
		return;
	}
	struct buf b;
	struct jsonw w;
	buf_init(&b, 4096);
	jw_init(&w, &b);
	jw_obj_open(&w, NULL);
	jw_str(&w, "status", "ready");
	jw_str(&w, "store", app->store->ops->name);
	jw_obj_close(&w);
	http_reply_written(r, 200, &w);
}

static void h_metrics(struct req *r)
{
	struct app *app = req_app(r);
	struct buf out;
	buf_init(&out, 1 << 22);
	metrics_render(app->metrics, app->store, &out);
	metrics_render_engine(app, &out);
	http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf_cstr(&out), out.len);
	buf_free(&out);
}

/* ---- /me ---- */

static void h_me(struct req *r)
{
	const struct auth *a = req_auth(r);
	struct buf b;
	struct jsonw w;
	buf_init(&b, REPLY_MAX);
	jw_init(&w, &b);
	key_write(&w, NULL, &a->key, req_app(r)->cfg->rate_limit, NULL, &a->workspace);
	http_reply_written(r, 200, &w);
}

/* ---- keys ---- */

static void key_create_done(struct store_write *w);

static void h_keys_create(struct req *r)
{
	static const char *const fields[] = {"name", "scopes", "kind", "workspace", "project_id",
					     "expires_at", "rate_limit", "execution_quota", NULL};
	struct app *app = req_app(r);
	json_t *b;
	if (body_object(r, &b) || only_fields(r, b, fields))
		return;
	struct key_spec spec = {0};
	const char *ws_ref;
	if (get_str_field(r, b, "name", &spec.name) || get_str_field(r, b, "kind", &spec.kind) ||
	    get_str_field(r, b, "workspace", &ws_ref) ||
	    get_str_field(r, b, "project_id", &spec.project_id) ||
	    get_str_field(r, b, "expires_at", &spec.expires))
		return;
	json_t *sc = json_object_get(b, "scopes");
	if (json_is_array(sc)) {
		size_t i;
		json_t *v;
		spec.scopes_given = 1;
		json_array_foreach(sc, i, v) {
			uint32_t bit = json_is_string(v) ? scope_from_name(json_string_value(v),
									  json_string_length(v))
							  : 0;
			if (!bit) {
				http_error(r, 400, "invalid_field",
					   "field 'scopes'[%zu] is not a known scope (known: "
					   "agents:read, agents:execute, agents:stream, agents:write, "
					   "executions:cancel, approvals:write, triggers:write, admin)",
					   i);
				return;
			}
			spec.scopes_mask |= bit;
		}
	} else if (json_is_string(sc)) {
		spec.scopes_csv = json_string_value(sc);
	} else if (sc) {
		http_error(r, 400, "invalid_field",
			   "field 'scopes' must be an array of scope names");
		return;
	}
	long long rl = 0;
	agd_errbuf eb;
	if (json_get_int(b, "rate_limit", 0, KEY_RATE_LIMIT_MAX, &rl, NULL, &eb)) {
		http_error(r, 400, "invalid_field", "%s", eb.msg);
		return;
	}
	spec.rate_limit = rl;
	long long quota = 0;
	if (json_get_int(b, "execution_quota", 0, 1LL << 50, &quota, NULL, &eb)) {
		http_error(r, 400, "invalid_field", "%s", eb.msg);
		return;
	}
	spec.exec_quota = quota;

	struct async_write *aw = async_new(r, 1, 201);
	if (!aw) {
		http_error(r, 500, "internal", "out of memory");
		return;
	}
	if (visible_workspace(r, ws_ref, &aw->ws))
		return;
	char full[KEY_STR_LEN + 1];
	aw->ops[0].kind = STORE_OP_KEY_INSERT;
	int rc = keys_prepare(app->store, &aw->ws, &spec, time_now_ms(), &aw->ops[0].u.key, full,
			      &eb);
	if (rc) {
		http_error(r, rc == AGD_ENOTFOUND ? 404 : 400,
			   rc == AGD_ENOTFOUND ? "not_found" : "invalid_field", "%s", eb.msg);
		return;
	}
	struct jsonw jw;
	jw_init(&jw, &aw->reply);
	key_write(&jw, NULL, &aw->ops[0].u.key, app->cfg->rate_limit, full, NULL);
	aw->w.done = key_create_done;
	char loc[96];
	snprintf(loc, sizeof(loc), "/agentd/v1/keys/%s", aw->ops[0].u.key.id);
	http_header(r, "Location", loc);
	async_submit(r, aw);
}

/* Retries with a fresh id on the (rare) id collision. */
static void key_create_done(struct store_write *w)
{
	struct async_write *aw = w->arg;
	struct req *r = aw->r;
	if (w->rc == AGD_ECONFLICT && strstr(w->err.msg, "api_keys.id") && aw->attempts++ < 3) {
		struct key_rec *k = &aw->ops[0].u.key;
		char full[KEY_STR_LEN + 1];
		if (key_generate(k->kind, full, k->id) == 0) {
			crypto_sha256_hex(full, strlen(full), k->secret_sha256);
			struct jsonw jw;
			buf_reset(&aw->reply);
			jw_init(&jw, &aw->reply);
			key_write(&jw, NULL, k, req_app(r)->cfg->rate_limit, full, NULL);
			char loc[96];
			snprintf(loc, sizeof(loc), "/agentd/v1/keys/%s", k->id);
			http_header(r, "Location", loc);  /* the last Location wins in clients */
			if (store_submit(req_app(r)->store, w) == 0)
				return;
		}
	}
	async_done(w);
}

static void h_keys_list(struct req *r)
{
	struct app *app = req_app(r);
	struct workspace_rec ws;
	if (visible_workspace(r, req_query(r, "workspace"), &ws))
		return;
	struct key_rec *keys;
	size_t n;
	if (store_key_list(app->store, ws.id, &keys, &n)) {
		http_error(r, 503, "unavailable", "the store could not be read");
		return;
	}
	reply_list(r, "keys", keys, n, sizeof(*keys), write_key_item, &app->cfg->rate_limit);
	free(keys);
}

static int visible_key(struct req *r, const char *id, struct key_rec *k)
{
	const struct auth *a = req_auth(r);
	struct workspace_rec ws;
	if (store_key_get(req_app(r)->store, id, k) == 0) {
		if (strcmp(k->workspace_id, a->workspace.id) == 0)
			return 0;
		if (store_workspace_get(req_app(r)->store, k->workspace_id, &ws) == 0 &&
		    strcmp(ws.parent_id, a->workspace.id) == 0)
			return 0;
	}
	http_error(r, 404, "not_found", "no key '%s'", id);
	return -1;
}

static void h_keys_get(struct req *r)
{
	struct key_rec k;
	if (visible_key(r, req_param(r, "id"), &k))
		return;
	reply_one(r, 200, write_key_item, &k, &req_app(r)->cfg->rate_limit);
}

/* PATCH /keys/{id}: name, scopes, rate_limit, execution_quota, expires_at (null clears). */
static void h_keys_update(struct req *r)
{
	static const char *const fields[] = {"name", "scopes", "rate_limit", "execution_quota",
					     "expires_at", NULL};
	json_t *b;
	struct key_rec k;
	if (body_object(r, &b) || only_fields(r, b, fields) || visible_key(r, req_param(r, "id"), &k))
		return;
	agd_errbuf eb;
	const char *name;
	if (get_str_field(r, b, "name", &name))
		return;
	if (name) {
		if (!name[0] || strlen(name) >= sizeof(k.name)) {
			http_error(r, 400, "invalid_field", "field 'name' must be 1-%zu characters",
				   sizeof(k.name) - 1);
			return;
		}
		snprintf(k.name, sizeof(k.name), "%s", name);
	}
	json_t *sc = json_object_get(b, "scopes");
	if (sc) {
		uint32_t mask = 0;
		size_t i;
		json_t *v;
		int ok = json_is_array(sc) && json_array_size(sc) > 0;
		json_array_foreach(sc, i, v) {
			uint32_t bit = json_is_string(v) ? scope_from_name(json_string_value(v),
									  json_string_length(v))
							  : 0;
			ok &= bit != 0;
			mask |= bit;
		}
		if (!ok) {
			http_error(r, 400, "invalid_field", "field 'scopes' must be a non-empty array "
				   "of known scope names");
			return;
		}
		scopes_format(mask, k.scopes, sizeof(k.scopes));
	}
	long long rl = k.rate_limit, quota = k.exec_quota;
	if (json_get_int(b, "rate_limit", 0, KEY_RATE_LIMIT_MAX, &rl, NULL, &eb) ||
	    json_get_int(b, "execution_quota", 0, 1LL << 50, &quota, NULL, &eb)) {
		http_error(r, 400, "invalid_field", "%s", eb.msg);
		return;
	}
	k.rate_limit = rl;
	k.exec_quota = quota;
	json_t *ex = json_object_get(b, "expires_at");
	if (json_is_null(ex)) {
		k.expires_at = 0;
	} else if (ex) {
		if (!json_is_string(ex) || time_parse_rfc3339(json_string_value(ex), &k.expires_at) ||
		    k.expires_at <= time_now_ms()) {
			http_error(r, 400, "invalid_field", "field 'expires_at' must be a future RFC "
				   "3339 date-time, or null for no expiry");
			return;
		}
	}
	struct async_write *aw = async_new(r, 1, 200);
	if (!aw) {
		http_error(r, 500, "internal", "out of memory");
		return;
	}
	aw->ops[0].kind = STORE_OP_KEY_UPDATE;
	aw->ops[0].u.key = k;
	struct jsonw jw;
	jw_init(&jw, &aw->reply);
	key_write(&jw, NULL, &k, req_app(r)->cfg->rate_limit, NULL, NULL);
	async_submit(r, aw);
}

static void h_keys_revoke(struct req *r)
{
	struct key_rec k;
	if (visible_key(r, req_param(r, "id"), &k))
		return;
	struct async_write *aw = async_new(r, 1, 200);
	if (!aw) {
		http_error(r, 500, "internal", "out of memory");
		return;
	}
	if (!k.revoked_at)
		k.revoked_at = time_now_ms();
	aw->ops[0].kind = STORE_OP_KEY_REVOKE;
	aw->ops[0].u.key = k;
	struct jsonw jw;
	jw_init(&jw, &aw->reply);
	key_write(&jw, NULL, &k, req_app(r)->cfg->rate_limit, NULL, NULL);
	async_submit(r, aw);
}

/* ---- workspaces and projects ---- */

static int slug_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= STORE_SLUG_LEN || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

static void h_workspaces_list(struct req *r)
{
	const struct auth *a = req_auth(r);
	struct workspace_rec *ws;
	size_t n;
	if (store_workspace_list(req_app(r)->store, a->workspace.id, &ws, &n)) {
		http_error(r, 503, "unavailable", "the store could not be read");
		return;
	}
	reply_list(r, "workspaces", ws, n, sizeof(*ws), write_workspace_item, NULL);
	free(ws);
}

static void h_workspaces_create(struct req *r)
{
	static const char *const fields[] = {"slug", "name", "kind", NULL};
	json_t *b;
	const char *slug, *name, *kind;
	if (body_object(r, &b) || only_fields(r, b, fields) ||
	    get_str_field(r, b, "slug", &slug) || get_str_field(r, b, "name", &name) ||
	    get_str_field(r, b, "kind", &kind))
		return;
	if (!slug || !slug_ok(slug)) {
		http_error(r, 400, "invalid_field",
			   "field 'slug' is required: 1-63 characters of a-z, 0-9 and '-', not "
			   "starting or ending with '-'");
		return;
	}
	if (!kind)
		kind = "org";
	if (strcmp(kind, "org") != 0 && strcmp(kind, "personal") != 0) {
		http_error(r, 400, "invalid_field", "field 'kind' must be 'org' or 'personal'");
		return;
	}
	if (name && strlen(name) >= STORE_NAME_LEN) {
		http_error(r, 400, "invalid_field", "field 'name' must be at most %d characters",
			   STORE_NAME_LEN - 1);
		return;
	}
	struct async_write *aw = async_new(r, 1, 201);
	if (!aw) {
		http_error(r, 500, "internal", "out of memory");
		return;
	}
	struct workspace_rec *w = &aw->ops[0].u.workspace;
	aw->ops[0].kind = STORE_OP_WORKSPACE_INSERT;
	id_uuid7(w->id);
	snprintf(w->slug, sizeof(w->slug), "%s", slug);
	snprintf(w->name, sizeof(w->name), "%s", name ? name : slug);
	snprintf(w->kind, sizeof(w->kind), "%s", kind);
	snprintf(w->parent_id, sizeof(w->parent_id), "%s", req_auth(r)->workspace.id);
	w->created_at = time_now_ms();
	struct jsonw jw;
	jw_init(&jw, &aw->reply);
	workspace_write(&jw, NULL, w);
	aw->conflict_msg = arena_printf(req_arena(r), "a workspace with slug '%s' exists", slug);
	char *loc = arena_printf(req_arena(r), "/agentd/v1/workspaces/%s", w->id);
	http_header(r, "Location", loc);
	async_submit(r, aw);
}

static void h_workspaces_get(struct req *r)
{
	struct workspace_rec w;
	if (visible_workspace(r, req_param(r, "id"), &w))
		return;
	reply_one(r, 200, write_workspace_item, &w, NULL);
}

static void h_projects_list(struct req *r)
{
	struct workspace_rec ws;
	if (visible_workspace(r, req_query(r, "workspace"), &ws))
		return;
	struct project_rec *ps;
	size_t n;
	if (store_project_list(req_app(r)->store, ws.id, &ps, &n)) {
		http_error(r, 503, "unavailable", "the store could not be read");
		return;
	}
	reply_list(r, "projects", ps, n, sizeof(*ps), write_project_item, NULL);
	free(ps);
}

static void h_projects_create(struct req *r)
{
	static const char *const fields[] = {"name", "workspace", NULL};
	json_t *b;
	const char *name, *ws_ref;
	if (body_object(r, &b) || only_fields(r, b, fields) ||
	    get_str_field(r, b, "name", &name) || get_str_field(r, b, "workspace", &ws_ref))
		return;
	if (!name || !name[0] || strlen(name) >= STORE_NAME_LEN) {
		http_error(r, 400, "invalid_field", "field 'name' is required (1-%d characters)",
			   STORE_NAME_LEN - 1);
		return;
	}
	struct async_write *aw = async_new(r, 1, 201);
	if (!aw) {
		http_error(r, 500, "internal", "out of memory");
		return;
	}
	struct workspace_rec ws;
	if (visible_workspace(r, ws_ref, &ws))
		return;
	struct project_rec *p = &aw->ops[0].u.project;
	aw->ops[0].kind = STORE_OP_PROJECT_INSERT;
	id_uuid7(p->id);
	snprintf(p->workspace_id, sizeof(p->workspace_id), "%s", ws.id);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->created_at = time_now_ms();
	struct jsonw jw;
	jw_init(&jw, &aw->reply);
	project_write(&jw, NULL, p);
	aw->conflict_msg = arena_printf(req_arena(r), "a project named '%s' exists in "
				       "workspace '%s'", name, ws.slug);
	async_submit(r, aw);
}

static void h_projects_get(struct req *r)
{
	struct project_rec p;
	struct workspace_rec ws;
	const char *id = req_param(r, "id");
	if (store_project_get(req_app(r)->store, id, &p) == 0) {
		if (strcmp(p.workspace_id, req_auth(r)->workspace.id) == 0 ||
		    (store_workspace_get(req_app(r)->store, p.workspace_id, &ws) == 0 &&
		     strcmp(ws.parent_id, req_auth(r)->workspace.id) == 0)) {
			reply_one(r, 200, write_project_item, &p, NULL);
			return;
		}
	}
	http_error(r, 404, "not_found", "no project '%s'", id);
}

#define KB(n) ((size_t)(n) << 10)

static const struct route native_routes[] = {
	{"GET", "/me", h_me, 0, 0, 0},
	{"GET", "/keys", h_keys_list, SCOPE_ADMIN, 0, 0},
	{"POST", "/keys", h_keys_create, SCOPE_ADMIN, KB(16), ROUTE_JSON_REQUIRED},
	{"GET", "/keys/{id}", h_keys_get, SCOPE_ADMIN, 0, 0},
	{"PATCH", "/keys/{id}", h_keys_update, SCOPE_ADMIN, KB(16), ROUTE_JSON_REQUIRED},
	{"DELETE", "/keys/{id}", h_keys_revoke, SCOPE_ADMIN, KB(4), ROUTE_JSON},
	{"GET", "/workspaces", h_workspaces_list, SCOPE_ADMIN, 0, 0},
	{"POST", "/workspaces", h_workspaces_create, SCOPE_ADMIN, KB(16), ROUTE_JSON_REQUIRED},
	{"GET", "/workspaces/{id}", h_workspaces_get, SCOPE_ADMIN, 0, 0},
	{"GET", "/projects", h_projects_list, SCOPE_ADMIN, 0, 0},
	{"POST", "/projects", h_projects_create, SCOPE_ADMIN, KB(16), ROUTE_JSON_REQUIRED},
	{"GET", "/projects/{id}", h_projects_get, SCOPE_ADMIN, 0, 0},
	{"GET", "/agents", h_agents_list, SCOPE_AGENTS_READ, 0, 0},
	{"POST", "/agents", h_agents_create, SCOPE_AGENTS_WRITE, KB(1024), ROUTE_JSON_REQUIRED},
	{"GET", "/agents/{id}", h_agents_get, SCOPE_AGENTS_READ, 0, 0},
	{"PATCH", "/agents/{id}", h_agents_patch, SCOPE_AGENTS_WRITE, KB(1024), ROUTE_JSON_REQUIRED},
	{"DELETE", "/agents/{id}", h_agents_archive, SCOPE_AGENTS_WRITE, KB(4), ROUTE_JSON},
	{"GET", "/agents/{id}/revisions", h_agents_revisions, SCOPE_AGENTS_READ, 0, 0},
	{"POST", "/agents/{id}/deploy", h_agents_deploy, SCOPE_AGENTS_WRITE, KB(4),
	 ROUTE_JSON_REQUIRED},
	{"POST", "/agents/{id}/executions", h_executions_create, SCOPE_AGENTS_EXECUTE, KB(1024),
	 ROUTE_JSON},
	{"GET", "/executions", h_executions_list, SCOPE_AGENTS_READ, 0, 0},
	{"GET", "/executions/{id}", h_executions_get, SCOPE_AGENTS_READ, 0, 0},
	{"POST", "/executions/{id}/cancel", h_executions_cancel, SCOPE_EXECUTIONS_CANCEL, KB(4),
	 ROUTE_JSON},
	{"GET", "/executions/{id}/events", h_executions_events, SCOPE_AGENTS_READ, 0, 0},
};

const struct dialect native_dialect = {
	.name = "native",
	.mount = "/agentd/v1",
	.routes = native_routes,
	.nroutes = sizeof(native_routes) / sizeof(native_routes[0]),
	.render_error = http_render_problem,
};

static const struct route ops_routes[] = {
	{"GET", "/healthz", h_healthz, 0, 0, ROUTE_PUBLIC},
	{"GET", "/readyz", h_readyz, 0, 0, ROUTE_PUBLIC},
	{"GET", "/metrics", h_metrics, 0, 0, ROUTE_PUBLIC},
};

const struct dialect ops_dialect = {
	.name = "ops",
	.mount = "",
	.routes = ops_routes,
	.nroutes = sizeof(ops_routes) / sizeof(ops_routes[0]),
	.render_error = http_render_problem,
};
