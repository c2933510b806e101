/*
 * fabric.c: the Fabric External Agent API, mounted at /api/v1/external. Routes and the
 * mapping between Fabric's JSON and the core's; every rule (keys, scopes, exposure, input
 * validation, idempotency, quotas, the engine) is the core's. See docs/dialects/fabric.md.
 * Handlers run on http threads; submission callbacks on the store writer thread.
 */
#include "api/api.h"
#include "api/exec_view.h"
#include "core/agents.h"
#include "core/app.h"
#include "core/auth.h"
#include "core/config.h"
#include "core/executions.h"
#include "core/files.h"
#include "core/scopes.h"
#include "engine/engine.h"
#include "http/http.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/jsonw.h"
#include "util/multipart.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FABRIC_REPLY_MAX (16u << 20)
#define FABRIC_MAX_IMAGES 5

static const char *fabric_status(const char *s)
{
	if (strcmp(s, "queued") == 0)
		return "PENDING";
	if (strcmp(s, "running") == 0 || strcmp(s, "waiting") == 0)
		return "RUNNING";
	if (strcmp(s, "completed") == 0)
		return "COMPLETED";
	if (strcmp(s, "cancelled") == 0)
		return "CANCELLED";
	return "FAILED";
}

/* An agent this key may use through Fabric: its workspace, active, exposed. */
static int find_exposed(struct req *r, const char *ref, struct agent_rec *a)
{
	const struct auth *au = req_auth(r);
	if (store_agent_get(req_app(r)->store, au->workspace.id, ref, a) == 0) {
		if (auth_sees(au, a->workspace_id, a->project_id) && a->exposed &&
		    strcmp(a->status, "active") == 0)
			return 0;
		agent_rec_clear(a);
	}
	http_error(r, 404, "not_found",
		   "Agent '%s' not found: it does not exist in this %s workspace, is not exposed "
		   "via the API, or is archived", ref, au->workspace.kind);
	return -1;
}

static int find_exec(struct req *r, const char *id, struct exec_rec *e)
{
	if (store_exec_get(req_app(r)->store, id, e) == 0) {
		if (auth_sees(req_auth(r), e->workspace_id, e->project_id))
			return 0;
		exec_rec_clear(e);
	}
	http_error(r, 404, "not_found", "Execution '%s' not found", id);
	return -1;
}

static void deployment_id(const char *agent_id, int64_t rev, char *out, size_t n)
{
	snprintf(out, n, "dep_%s_%lld", agent_id, (long long)rev);
}

/* ---- agents ---- */

static void template_write(struct jsonw *w, json_t *config)
{
	json_t *t = json_object_get(config, "template");
	if (!json_is_object(t)) {
		jw_null(w, "template");
		return;
	}
	jw_obj_open(w, "template");
	jw_str_or_null(w, "slug", json_string_value(json_object_get(t, "slug")));
	jw_str_or_null(w, "displayName", json_string_value(json_object_get(t, "displayName")));
	jw_str_or_null(w, "category", json_string_value(json_object_get(t, "category")));
	jw_obj_close(w);
}

static void h_list(struct req *r)
{
	const struct auth *au = req_auth(r);
	struct agent_rec *list;
	size_t n;
	int64_t total;
	if (store_agent_list(req_app(r)->store, au->workspace.id, NULL, 0, 1, 1000, 0, &list, &n,
			     &total)) {
		http_error(r, 503, "unavailable", "the store could not be read");
		return;
	}
	struct buf b;
	struct jsonw w;
	buf_init(&b, FABRIC_REPLY_MAX);
	jw_init(&w, &b);
	jw_arr_open(&w, NULL);
	for (size_t i = 0; i < n; i++) {
		if (!auth_sees(au, list[i].workspace_id, list[i].project_id))
			continue;
		json_t *c = json_loads(list[i].config ? list[i].config : "{}", 0, NULL);
		jw_obj_open(&w, NULL);
		jw_str(&w, "id", list[i].id);
		jw_str(&w, "sId", list[i].slug);
		jw_str(&w, "name", list[i].name);
		jw_str(&w, "description", list[i].description);
		jw_str(&w, "executionMode", json_string_value(json_object_get(c, "execution_mode")));
		template_write(&w, c);
		jw_obj_close(&w);
		json_decref(c);
	}
	jw_arr_close(&w);
	agent_recs_free(list, n);
	http_reply_written(r, 200, &w);
}

static const char default_schema[] =
	"{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
	"\"description\":\"Input message or query for the agent\"}}}";

static void h_get(struct req *r)
{
	struct agent_rec a;
	if (find_exposed(r, req_param(r, "agentId"), &a))
		return;
	json_t *c = json_loads(a.config ? a.config : "{}", 0, NULL);
	struct buf b;
	struct jsonw w;
	buf_init(&b, FABRIC_REPLY_MAX);
	jw_init(&w, &b);
	jw_obj_open(&w, NULL);
	jw_str(&w, "id", a.id);
	jw_str(&w, "sId", a.slug);
	jw_str(&w, "name", a.name);
	jw_str(&w, "executionMode", json_string_value(json_object_get(c, "execution_mode")));
	jw_int(&w, "version", a.deployed_revision);
	json_t *schema = json_object_get(c, "input_schema");
	char *s = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
	jw_raw(&w, "inputSchema", s ? s : default_schema, strlen(s ? s : default_schema));
	free(s);
	jw_obj_close(&w);
	json_decref(c);
	agent_rec_clear(&a);
	http_reply_written(r, 200, &w);
}

/* ---- execute ---- */

static void started_write(struct jsonw *w, const struct exec_rec *e)
{
	char dep[128], wf[96];
	deployment_id(e->agent_id, e->revision, dep, sizeof(dep));
	snprintf(wf, sizeof(wf), "deployment-exec-%s", e->id);
	jw_obj_open(w, NULL);
	jw_str(w, "executionId", e->id);
	jw_str(w, "status", fabric_status(e->status));
	jw_str(w, "deploymentId", dep);
	jw_str(w, "workflowId", wf);
	jw_obj_close(w);
}

static void render_fabric(const struct event_rec *ev, struct buf *out, void *ctx);

static const char fabric_heartbeat[] = ": heartbeat\n\n";

static void stream_now(struct req *r)
{
	const char *id = req_ctx(r);
	struct stream_opts o = {
		.content_type = "text/event-stream",
		.render = render_fabric,
		.heartbeat = fabric_heartbeat,
		.after = 0,
	};
	exec_stream(r, id, &o);
}

struct fabric_submit {
	struct req *r;
	int stream;
};

static void submitted(void *arg, int status, enum submit_outcome outcome,
		      const struct exec_rec *e, const char *message)
{
	struct fabric_submit *fs = arg;
	struct req *r = fs->r;
	int stream = fs->stream;
	free(fs);
	if (status >= 300) {
		http_error(r, status, status == 429 ? "quota_exceeded" : "invalid",
			   "%s", message ? message : "the execution could not be started");
		return;
	}
	if (stream && outcome == SUBMIT_CREATED) {
		req_set_ctx(r, arena_strdup(req_arena(r), e->id));
		http_wake(r, stream_now);
		return;
	}
	struct buf b;
	struct jsonw w;
	buf_init(&b, 4096);
	jw_init(&w, &b);
	started_write(&w, e);
	http_reply_written(r, outcome == SUBMIT_REPLAYED ? 200 : 202, &w);
}

/* Validates `images` into core attachments (a new reference in *out). */
static int images_to_attachments(struct req *r, json_t *images, json_t **out)
{
	*out = NULL;
	if (!images || json_is_null(images))
		return 0;
	if (!json_is_array(images)) {
		http_error(r, 400, "invalid_field", "images must be an array of {fileId, mimeType, "
			   "name}");
		return -1;
	}
	if (json_array_size(images) > FABRIC_MAX_IMAGES) {
		http_error(r, 400, "invalid_field", "At most %d images per execution request (got "
			   "%zu)", FABRIC_MAX_IMAGES, json_array_size(images));
		return -1;
	}
	json_t *att = json_array();
	size_t i;
	json_t *img;
	json_array_foreach(images, i, img) {
		const char *fid = json_string_value(json_object_get(img, "fileId"));
		struct file_rec f;
		if (!fid || store_file_get(req_app(r)->store, fid, &f) != 0 ||
		    strcmp(f.workspace_id, req_auth(r)->workspace.id) != 0) {
			json_decref(att);
			http_error(r, 400, "invalid_field", "images[%zu]: no uploaded file '%s' "
				   "(upload it with POST /api/v1/external/agents/files first)", i,
				   fid ? fid : "");
			return -1;
		}
		if (strncmp(f.mime_type, "image/", 6) != 0) {
			json_decref(att);
			http_error(r, 400, "invalid_field", "images[%zu]: file '%s' is not an image",
				   i, fid);
			return -1;
		}
		json_array_append_new(att, json_pack("{s:s, s:s, s:s}", "file_id", f.id,
						     "mime_type", f.mime_type, "name", f.name));
	}
	*out = att;
	return 0;
}

static void h_execute(struct req *r)
{
	json_t *b = req_json(r);
	if (!json_is_object(b)) {
		http_error(r, 400, "invalid_body", "The request body must be a JSON object with an "
			   "'input' object");
		return;
	}
	json_t *input = json_object_get(b, "input");
	if (!json_is_object(input) || json_object_size(input) == 0) {
		http_error(r, 400, "invalid_field", "'input' is required: an object with at least "
			   "one field, e.g. {\"input\": {\"message\": \"...\"}}");
		return;
	}
	json_t *pv = json_object_get(b, "priority");
	int priority = 1;
	if (pv && !json_is_null(pv)) {
		priority = json_is_string(pv) ? priority_from_name(json_string_value(pv)) : -1;
		if (priority < 0) {
			http_error(r, 400, "invalid_field", "'priority' must be LOW, NORMAL, HIGH or "
				   "CRITICAL");
			return;
		}
	}
	json_t *sv = json_object_get(b, "stream");
	if (sv && !json_is_null(sv) && !json_is_boolean(sv)) {
		http_error(r, 400, "invalid_field", "'stream' must be true or false");
		return;
	}
	int stream = json_is_true(sv);
	if (stream && !scopes_allow(req_auth(r)->scopes, SCOPE_AGENTS_STREAM)) {
		http_error(r, 403, "forbidden", "API key lacks the scope 'agents:stream' required "
			   "for \"stream\": true");
		return;
	}
	json_t *iv = json_object_get(b, "idempotencyKey");
	if (iv && !json_is_null(iv) && (!json_is_string(iv) || json_string_length(iv) == 0 ||
					json_string_length(iv) > 255)) {
		http_error(r, 400, "invalid_field", "'idempotencyKey' must be a string of 1-255 "
			   "characters");
		return;
	}
	const char *idem = json_string_value(iv);
	const char *hdr = req_header(r, "X-Idempotency-Key");
	if (!idem && hdr && hdr[0]) {
		if (strlen(hdr) > 255) {
			http_error(r, 400, "invalid_header", "X-Idempotency-Key must be at most 255 "
				   "characters");
			return;
		}
		idem = hdr;
	}
	json_t *attachments;
	if (images_to_attachments(r, json_object_get(b, "images"), &attachments))
		return;
	struct agent_rec a;
	if (find_exposed(r, req_param(r, "agentId"), &a)) {
		json_decref(attachments);
		return;
	}
	struct fabric_submit *fs = calloc(1, sizeof(*fs));
	if (!fs) {
		json_decref(attachments);
		agent_rec_clear(&a);
		http_error(r, 503, "unavailable", "out of memory");
		return;
	}
	fs->r = r;
	fs->stream = stream;
	char *extra = attachments ? json_dumps(attachments, JSON_COMPACT) : NULL;
	struct submit_req rq = {
		.agent = &a,
		.input = input,
		.priority = priority,
		.idempotency_key = idem,
		.fingerprint_extra = extra,
		.source = "api",
		.dialect = "fabric",
		.key_id = req_auth(r)->key.id,
		.attachments = attachments,
	};
	http_suspend(r);
	exec_submit(req_app(r), &rq, NULL, submitted, fs);
	free(extra);
	json_decref(attachments);
	agent_rec_clear(&a);
}

/* ---- executions ---- */

static void execution_write(struct jsonw *w, const struct exec_rec *e)
{
	jw_obj_open(w, NULL);
	jw_str(w, "id", e->id);
	jw_str(w, "status", fabric_status(e->status));
	if (e->output && strcmp(e->status, "completed") == 0)
		jw_raw(w, "output", e->output, strlen(e->output));
	else
		jw_null(w, "output");
	if (strcmp(e->status, "failed") == 0 || strcmp(e->status, "rejected") == 0)
		jw_str(w, "error", e->error_message ? e->error_message : e->error_code);
	jw_time(w, "startedAt", e->started_at);
	jw_time(w, "completedAt", e->completed_at);
	jw_obj_close(w);
}

static void h_poll(struct req *r)
{
	struct exec_rec e;
	if (find_exec(r, req_param(r, "executionId"), &e))
		return;
	struct buf b;
	struct jsonw w;
	buf_init(&b, FABRIC_REPLY_MAX);
	jw_init(&w, &b);
	execution_write(&w, &e);
	exec_rec_clear(&e);
	http_reply_written(r, 200, &w);
}

static void h_stream(struct req *r)
{
	struct exec_rec e;
	if (find_exec(r, req_param(r, "executionId"), &e))
		return;
	long long after = 0;
	const char *lei = req_header(r, "Last-Event-ID");
	if (lei && lei[0]) {
		char *end;
		after = strtoll(lei, &end, 10);
		if (*end || after < 0) {
			exec_rec_clear(&e);
			http_error(r, 400, "invalid_header", "Last-Event-ID must be an event id");
			return;
		}
	}
	struct stream_opts o = {
		.content_type = "text/event-stream",
		.render = render_fabric,
		.heartbeat = fabric_heartbeat,
		.after = after,
	};
	exec_stream(r, e.id, &o);
	exec_rec_clear(&e);
}

static void cancel_answer(struct req *r)
{
	struct exec_rec e;
	if (store_exec_get(req_app(r)->store, req_param(r, "executionId"), &e) != 0) {
		http_error(r, 503, "unavailable", "the execution could not be read");
		return;
	}
	struct buf b;
	struct jsonw w;
	buf_init(&b, FABRIC_REPLY_MAX);
	jw_init(&w, &b);
	execution_write(&w, &e);
	http_reply_written(r, exec_status_terminal(e.status) ? 200 : 202, &w);
	exec_rec_clear(&e);
}

static void h_cancel(struct req *r)
{
	struct exec_rec e;
	if (find_exec(r, req_param(r, "executionId"), &e))
		return;
	if (exec_status_terminal(e.status)) {
		exec_rec_clear(&e);
		cancel_answer(r);
		return;
	}
	exec_wait(r, e.id, 10000, cancel_answer);
	engine_cancel(req_app(r)->engine, e.id);
	exec_rec_clear(&e);
}

/* ---- the stream's event types (docs/dialects/fabric.md) ---- */

static void render_fabric(const struct event_rec *ev, struct buf *out, void *ctx)
{
	(void)ctx;
	json_t *d = json_loads(ev->data ? ev->data : "{}", 0, NULL);
	json_t *o = json_pack("{s:s}", "executionId", ev->execution_id);
	const char *name;
	if (strcmp(ev->type, "status") == 0) {
		name = "status";
		json_object_set_new(o, "status", json_string(fabric_status(
							json_string_value(json_object_get(d, "status")))));
	} else if (strcmp(ev->type, "text.delta") == 0) {
		name = "delta";
		json_object_set(o, "text", json_object_get(d, "text"));
	} else if (strcmp(ev->type, "error") == 0) {
		name = "error";
		json_object_set(o, "error", json_object_get(d, "message"));
		json_object_set(o, "code", json_object_get(d, "code"));
	} else if (strcmp(ev->type, "done") == 0) {
		name = "result";
		const char *st = json_string_value(json_object_get(d, "status"));
		json_object_set_new(o, "status", json_string(fabric_status(st ? st : "failed")));
		json_t *output = json_object_get(d, "output");
		json_object_set(o, "output", output ? output : json_null());
		json_t *err = json_object_get(json_object_get(d, "error"), "message");
		json_object_set(o, "error", err ? err : json_null());
	} else {
		name = "progress";
		json_object_set_new(o, "type", json_string(ev->type));
		json_object_update_missing(o, d);
	}
	char *s = json_dumps(o, JSON_COMPACT);
	buf_printf(out, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)ev->seq, name, s ? s : "{}");
	free(s);
	json_decref(o);
	json_decref(d);
}

/* ---- files ---- */

struct file_write {
	struct store_write w;
	struct store_op op;
	struct req *r;
};

static void file_written(struct store_write *w)
{
	struct file_write *fw = (struct file_write *)w;
	struct req *r = fw->r;
	if (w->rc) {
		http_error(r, 503, "unavailable", "the upload could not be recorded: %s", w->err.msg);
	} else {
		struct buf b;
		struct jsonw jw;
		buf_init(&b, 4096);
		jw_init(&jw, &b);
		jw_obj_open(&jw, NULL);
		jw_str(&jw, "fileId", fw->op.u.file.id);
		jw_str(&jw, "mimeType", fw->op.u.file.mime_type);
		jw_str(&jw, "name", fw->op.u.file.name);
		jw_obj_close(&jw);
		http_reply_written(r, 200, &jw);
	}
	free(fw);
}

static void h_upload(struct req *r)
{
	struct app *app = req_app(r);
	char boundary[80];
	if (multipart_boundary(req_header(r, "Content-Type"), boundary, sizeof(boundary))) {
		http_error(r, 400, "invalid_body", "Expected multipart/form-data with a 'file' field");
		return;
	}
	size_t len;
	const char *body = req_body(r, &len);
	struct multipart_part parts[MULTIPART_MAX_PARTS];
	size_t n;
	agd_errbuf eb;
	if (multipart_parse(body, len, boundary, parts, &n, &eb)) {
		http_error(r, 400, "invalid_body", "%s", eb.msg);
		return;
	}
	const struct multipart_part *file = NULL;
	for (size_t i = 0; i < n && !file; i++)
		if (strcmp(parts[i].name, "file") == 0)
			file = &parts[i];
	if (!file) {
		http_error(r, 400, "invalid_body", "The multipart body has no 'file' field");
		return;
	}
	if (file->len > app->cfg->max_upload_bytes) {
		http_error(r, 413, "body_too_large", "The file is %zu bytes; the limit is %zu",
			   file->len, app->cfg->max_upload_bytes);
		return;
	}
	const char *mime = files_sniff_image(file->data, file->len);
	if (!mime) {
		http_error(r, 400, "unsupported_file", "Only images are accepted (PNG, JPEG, GIF or "
			   "WebP); the content of '%s' is none of these", file->filename);
		return;
	}
	struct file_write *fw = calloc(1, sizeof(*fw));
	if (!fw) {
		http_error(r, 503, "unavailable", "out of memory");
		return;
	}
	struct file_rec *f = &fw->op.u.file;
	fw->op.kind = STORE_OP_FILE_INSERT;
	char rnd[25];
	crypto_random_alnum(rnd, 24);
	snprintf(f->id, sizeof(f->id), "file_%s", rnd);
	snprintf(f->workspace_id, sizeof(f->workspace_id), "%s", req_auth(r)->workspace.id);
	const char *base = strrchr(file->filename, '/');
	base = base ? base + 1 : file->filename;
	snprintf(f->name, sizeof(f->name), "%s", base[0] ? base : "upload");
	snprintf(f->mime_type, sizeof(f->mime_type), "%s", mime);
	crypto_sha256_hex(file->data, file->len, f->sha256);
	f->size = (int64_t)file->len;
	f->created_at = time_now_ms();
	if (files_write(app->cfg->data_dir, f, file->data, file->len, &eb)) {
		free(fw);
		http_error(r, 503, "unavailable", "%s", eb.msg);
		return;
	}
	fw->r = r;
	fw->w.ops = &fw->op;
	fw->w.nops = 1;
	fw->w.done = file_written;
	fw->w.arg = fw;
	http_suspend(r);
	if (store_submit(app->store, &fw->w) != 0) {
		free(fw);
		http_error(r, 503, "unavailable", "the server is shutting down");
	}
}

#define KB(n) ((size_t)(n) << 10)

static const struct route fabric_routes[] = {
	{"GET", "/agents", h_list, SCOPE_AGENTS_READ, 0, 0},
	{"GET", "/agents/{agentId}", h_get, SCOPE_AGENTS_READ, 0, 0},
	{"POST", "/agents/{agentId}/execute", h_execute, SCOPE_AGENTS_EXECUTE, KB(1024),
	 ROUTE_JSON_REQUIRED},
	{"POST", "/agents/files", h_upload, SCOPE_AGENTS_EXECUTE, 0, ROUTE_MULTIPART | ROUTE_UPLOAD},
	{"GET", "/executions/{executionId}", h_poll, SCOPE_AGENTS_READ, 0, 0},
	{"GET", "/executions/{executionId}/stream", h_stream, SCOPE_AGENTS_STREAM, 0, 0},
	{"POST", "/executions/{executionId}/cancel", h_cancel, SCOPE_AGENTS_EXECUTE, KB(4),
	 ROUTE_JSON},
};

const struct dialect fabric_dialect = {
	.name = "fabric",
	.mount = "/api/v1/external",
	.routes = fabric_routes,
	.nroutes = sizeof(fabric_routes) / sizeof(fabric_routes[0]),
	.render_error = http_render_error_string,
};
