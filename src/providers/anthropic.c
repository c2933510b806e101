/*
 * anthropic.c: the Anthropic Messages API: system prompt apart, tool_use / tool_result content
 * blocks, streamed as message_start, content_block_start/delta/stop, message_delta and
 * message_stop events.
 */
#include "providers/provider.h"
#include "core/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-response state: which content block index is which tool call. */
struct an_state {
	int block_tool[256];   /* block index -> tool call index + 1 (0: not a tool block) */
	size_t ntools;
};

static json_t *map_messages(json_t *msgs, json_t **system)
{
	json_t *out = json_array();
	size_t i;
	json_t *m;
	*system = NULL;
	json_array_foreach(msgs, i, m) {
		const char *role = json_string_value(json_object_get(m, "role"));
		json_t *content = json_object_get(m, "content");
		if (strcmp(role, "system") == 0) {
			*system = content;
			continue;
		}
		if (strcmp(role, "tool") == 0) {
			json_t *block = json_pack("{s:s, s:O, s:O}", "type", "tool_result",
						  "tool_use_id", json_object_get(m, "tool_call_id"),
						  "content", content);
			json_t *last = json_array_get(out, json_array_size(out) - 1);
			json_t *lc = json_object_get(last, "content");
			/* consecutive tool results go into one user message */
			if (last && strcmp(json_string_value(json_object_get(last, "role")), "user") == 0 &&
			    json_is_array(lc) &&
			    strcmp(json_string_value(json_object_get(json_array_get(lc, 0), "type")),
				   "tool_result") == 0)
				json_array_append_new(lc, block);
			else
				json_array_append_new(out, json_pack("{s:s, s:[o]}", "role", "user",
								     "content", block));
			continue;
		}
		json_t *tcs = json_object_get(m, "tool_calls");
		json_t *images = json_object_get(m, "images");
		if (strcmp(role, "assistant") == 0 && json_array_size(tcs)) {
			json_t *blocks = json_array();
			const char *text = json_string_value(content);
			if (text && text[0])
				json_array_append_new(blocks, json_pack("{s:s, s:s}", "type", "text",
									"text", text));
			size_t j;
			json_t *tc;
			json_array_foreach(tcs, j, tc) {
				const char *args = json_string_value(json_object_get(tc, "arguments"));
				json_t *input = args ? json_loads(args, 0, NULL) : NULL;
				if (!json_is_object(input)) {
					json_decref(input);
					input = json_object();
				}
				json_array_append_new(blocks, json_pack("{s:s, s:O, s:O, s:o}", "type",
									"tool_use", "id",
									json_object_get(tc, "id"), "name",
									json_object_get(tc, "name"), "input",
									input));
			}
			json_array_append_new(out, json_pack("{s:s, s:o}", "role", "assistant",
							     "content", blocks));
		} else if (json_array_size(images) && strcmp(role, "user") == 0) {
			json_t *blocks = json_array();
			size_t j;
			json_t *img;
			json_array_foreach(images, j, img) {
				json_array_append_new(
					blocks, json_pack("{s:s, s:{s:s, s:O, s:O}}", "type", "image",
							  "source", "type", "base64", "media_type",
							  json_object_get(img, "mime_type"), "data",
							  json_object_get(img, "base64")));
			}
			json_array_append_new(blocks, json_pack("{s:s, s:O}", "type", "text", "text",
								content));
			json_array_append_new(out, json_pack("{s:s, s:o}", "role", "user", "content",
							     blocks));
		} else {
			json_array_append_new(out, json_pack("{s:s, s:O}", "role", role, "content",
							     content ? content : json_string("")));
		}
	}
	return out;
}

static int an_build(const struct provider_request *rq, struct buf *url,
		    struct curl_slist **headers, char **body, agd_errbuf *eb)
{
	const char *base = rq->conf->base_url;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	if (bl >= 3 && memcmp(base + bl - 3, "/v1", 3) == 0)
		buf_printf(url, "%.*s/messages", (int)bl, base);
	else
		buf_printf(url, "%.*s/v1/messages", (int)bl, base);
	json_t *system;
	json_t *msgs = map_messages(rq->messages, &system);
	json_t *b = json_pack("{s:s, s:o, s:b, s:I}", "model", rq->model, "messages", msgs,
			      "stream", rq->stream, "max_tokens",
			      (json_int_t)(rq->max_tokens > 0 ? rq->max_tokens : 4096));
	if (system)
		json_object_set(b, "system", system);
	if (rq->temperature >= 0)
		json_object_set_new(b, "temperature", json_real(rq->temperature > 1 ? 1 : rq->temperature));
	if (json_array_size(rq->tools)) {
		json_t *tools = json_array();
		size_t i;
		json_t *t;
		json_array_foreach(rq->tools, i, t) {
			json_array_append_new(tools, json_pack("{s:O, s:O, s:O}", "name",
							       json_object_get(t, "name"), "description",
							       json_object_get(t, "description"),
							       "input_schema",
							       json_object_get(t, "parameters")));
		}
		json_object_set_new(b, "tools", tools);
	}
	return provider_finish_request(b, "x-api-key: %s", rq->conf->api_key,
				       "anthropic-version: 2023-06-01", headers, body, eb);
}

static struct an_state *state(struct provider_parser *p)
{
	if (!p->impl)
		p->impl = calloc(1, sizeof(struct an_state));
	return p->impl;
}

static void take_usage(struct provider_parser *p, json_t *u)
{
	json_t *in = json_object_get(u, "input_tokens"), *out = json_object_get(u, "output_tokens");
	if (json_is_integer(in) && json_integer_value(in) > 0)
		p->tokens_in = json_integer_value(in);
	if (json_is_integer(out) && json_integer_value(out) > 0)
		p->tokens_out = json_integer_value(out);
}

static void append_args(json_t *slot, const char *add)
{
	const char *cur = json_string_value(json_object_get(slot, "arguments"));
	size_t a = cur ? strlen(cur) : 0, b = strlen(add);
	char *s = malloc(a + b + 1);
	if (!s)
		return;
	memcpy(s, cur ? cur : "", a);
	memcpy(s + a, add, b + 1);
	json_object_set_new(slot, "arguments", json_string(s));
	free(s);
}

static int an_event(struct provider_parser *p, const char *event, const char *data, size_t len)
{
	json_error_t je;
	json_t *e = json_loadb(data, len, 0, &je);
	if (!e) {
		snprintf(p->error, sizeof(p->error), "invalid JSON in a stream event: %s", je.text);
		return AGD_EINVAL;
	}
	const char *type = json_string_value(json_object_get(e, "type"));
	if (!type)
		type = event;
	struct an_state *st = state(p);
	if (!st) {
		json_decref(e);
		return AGD_ENOMEM;
	}
	if (strcmp(type, "message_start") == 0) {
		json_t *m = json_object_get(e, "message");
		const char *model = json_string_value(json_object_get(m, "model"));
		if (model)
			snprintf(p->model, sizeof(p->model), "%s", model);
		take_usage(p, json_object_get(m, "usage"));
	} else if (strcmp(type, "content_block_start") == 0) {
		json_t *cb = json_object_get(e, "content_block");
		json_int_t idx = json_integer_value(json_object_get(e, "index"));
		const char *ct = json_string_value(json_object_get(cb, "type"));
		if (ct && strcmp(ct, "tool_use") == 0 && idx >= 0 && idx < 256) {
			json_t *slot = provider_tool_call(p, st->ntools);
			json_object_set(slot, "id", json_object_get(cb, "id"));
			json_object_set(slot, "name", json_object_get(cb, "name"));
			st->block_tool[idx] = (int)++st->ntools;
		} else if (ct && strcmp(ct, "text") == 0) {
			const char *t = json_string_value(json_object_get(cb, "text"));
			if (t)
				provider_emit_text(p, t, strlen(t));
		}
	} else if (strcmp(type, "content_block_delta") == 0) {
		json_t *d = json_object_get(e, "delta");
		json_int_t idx = json_integer_value(json_object_get(e, "index"));
		const char *dt = json_string_value(json_object_get(d, "type"));
		if (dt && strcmp(dt, "text_delta") == 0) {
			const char *t = json_string_value(json_object_get(d, "text"));
			if (t)
				provider_emit_text(p, t, strlen(t));
		} else if (dt && strcmp(dt, "input_json_delta") == 0 && idx >= 0 && idx < 256 &&
			   st->block_tool[idx]) {
			const char *pj = json_string_value(json_object_get(d, "partial_json"));
			if (pj)
				append_args(json_array_get(p->tool_calls, (size_t)st->block_tool[idx] - 1),
					    pj);
		}
	} else if (strcmp(type, "message_delta") == 0) {
		const char *sr = json_string_value(json_object_get(json_object_get(e, "delta"),
								   "stop_reason"));
		if (sr)
			snprintf(p->finish, sizeof(p->finish), "%s", sr);
		take_usage(p, json_object_get(e, "usage"));
	} else if (strcmp(type, "message_stop") == 0) {
		p->complete = 1;
	} else if (strcmp(type, "error") == 0) {
		const char *m = json_string_value(json_object_get(json_object_get(e, "error"),
								  "message"));
		snprintf(p->error, sizeof(p->error), "%s", m ? m : "unknown error");
	}
	json_decref(e);
	return 0;
}

static int an_body(struct provider_parser *p, json_t *b)
{
	json_t *err = json_object_get(b, "error");
	if (err) {
		const char *m = json_string_value(json_object_get(err, "message"));
		snprintf(p->error, sizeof(p->error), "%s", m ? m : "unknown error");
		return AGD_EINVAL;
	}
	json_t *content = json_object_get(b, "content");
	if (!json_is_array(content)) {
		snprintf(p->error, sizeof(p->error), "no content array in the response");
		return AGD_EINVAL;
	}
	const char *model = json_string_value(json_object_get(b, "model"));
	if (model)
		snprintf(p->model, sizeof(p->model), "%s", model);
	take_usage(p, json_object_get(b, "usage"));
	size_t i, nt = 0;
	json_t *blk;
	json_array_foreach(content, i, blk) {
		const char *t = json_string_value(json_object_get(blk, "type"));
		if (t && strcmp(t, "text") == 0) {
			const char *s = json_string_value(json_object_get(blk, "text"));
			if (s)
				provider_emit_text(p, s, strlen(s));
		} else if (t && strcmp(t, "tool_use") == 0) {
			json_t *slot = provider_tool_call(p, nt++);
			json_object_set(slot, "id", json_object_get(blk, "id"));
			json_object_set(slot, "name", json_object_get(blk, "name"));
			char *args = json_dumps(json_object_get(blk, "input"), JSON_COMPACT);
			json_object_set_new(slot, "arguments", json_string(args ? args : "{}"));
			free(args);
		}
	}
	const char *sr = json_string_value(json_object_get(b, "stop_reason"));
	snprintf(p->finish, sizeof(p->finish), "%s", sr ? sr : "end_turn");
	p->complete = 1;
	return 0;
}

const struct provider_ops provider_anthropic = {
	.kind = "anthropic",
	.build = an_build,
	.on_event = an_event,
	.on_body = an_body,
};
