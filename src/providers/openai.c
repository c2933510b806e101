/*
 * openai.c: the OpenAI chat completions protocol, spoken by OpenAI and by OpenAI-compatible
 * servers (vLLM, llama.cpp, Ollama, ...). Streaming with stream_options.include_usage; tool
 * calls are assembled from their deltas by index.
 */
#include "providers/provider.h"
#include "core/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *map_messages(json_t *msgs)
{
	json_t *out = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m) {
		const char *role = json_string_value(json_object_get(m, "role"));
		json_t *content = json_object_get(m, "content");
		json_t *o = json_pack("{s:s}", "role", role);
		json_t *images = json_object_get(m, "images");
		if (json_array_size(images) && strcmp(role, "user") == 0) {
			json_t *parts = json_array();
			json_array_append_new(parts, json_pack("{s:s, s:O}", "type", "text", "text",
							       content));
			size_t j;
			json_t *img;
			json_array_foreach(images, j, img) {
				json_array_append_new(parts, json_pack("{s:s, s:{s:O}}", "type",
								       "image_url", "image_url", "url",
								       json_object_get(img, "data_url")));
			}
			json_object_set_new(o, "content", parts);
		} else {
			json_object_set(o, "content", content ? content : json_null());
		}
		json_t *tcs = json_object_get(m, "tool_calls");
		if (json_array_size(tcs)) {
			json_t *arr = json_array();
			size_t j;
			json_t *tc;
			json_array_foreach(tcs, j, tc) {
				json_array_append_new(
					arr, json_pack("{s:O, s:s, s:{s:O, s:O}}", "id",
						       json_object_get(tc, "id"), "type", "function",
						       "function", "name", json_object_get(tc, "name"),
						       "arguments", json_object_get(tc, "arguments")));
			}
			json_object_set_new(o, "tool_calls", arr);
		}
		json_t *tcid = json_object_get(m, "tool_call_id");
		if (tcid)
			json_object_set(o, "tool_call_id", tcid);
		json_array_append_new(out, o);
	}
	return out;
}

static int oa_build(const struct provider_request *rq, struct buf *url,
		    struct curl_slist **headers, char **body, agd_errbuf *eb)
{
	const char *base = rq->conf->base_url;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	buf_printf(url, "%.*s/chat/completions", (int)bl, base);
	json_t *b = json_pack("{s:s, s:o, s:b}", "model", rq->model, "messages",
			      map_messages(rq->messages), "stream", rq->stream);
	if (rq->stream)
		json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1));
	if (rq->temperature >= 0)
		json_object_set_new(b, "temperature", json_real(rq->temperature));
	if (rq->max_tokens > 0)
		json_object_set_new(b, "max_tokens", json_integer(rq->max_tokens));
	if (json_array_size(rq->tools)) {
		json_t *tools = json_array();
		size_t i;
		json_t *t;
		json_array_foreach(rq->tools, i, t) {
			json_array_append_new(
				tools, json_pack("{s:s, s:{s:O, s:O, s:O}}", "type", "function",
						 "function", "name", json_object_get(t, "name"),
						 "description", json_object_get(t, "description"),
						 "parameters", json_object_get(t, "parameters")));
		}
		json_object_set_new(b, "tools", tools);
	}
	return provider_finish_request(b, "Authorization: Bearer %s", rq->conf->api_key,
				       "Accept: text/event-stream, application/json", headers, body,
				       eb);
}

static void take_usage(struct provider_parser *p, json_t *usage)
{
	if (!json_is_object(usage))
		return;
	json_t *pt = json_object_get(usage, "prompt_tokens");
	json_t *ct = json_object_get(usage, "completion_tokens");
	if (json_is_integer(pt))
		p->tokens_in = json_integer_value(pt);
	if (json_is_integer(ct))
		p->tokens_out = json_integer_value(ct);
}

static void take_model(struct provider_parser *p, json_t *obj)
{
	const char *m = json_string_value(json_object_get(obj, "model"));
	if (m && !p->model[0])
		snprintf(p->model, sizeof(p->model), "%s", m);
}

static void append_str(json_t *obj, const char *key, const char *add)
{
	const char *cur = json_string_value(json_object_get(obj, key));
	size_t a = cur ? strlen(cur) : 0, b = strlen(add);
	char *s = malloc(a + b + 1);
	if (!s)
		return;
	memcpy(s, cur ? cur : "", a);
	memcpy(s + a, add, b + 1);
	json_object_set_new(obj, key, json_string(s));
	free(s);
}

static int oa_event(struct provider_parser *p, const char *event, const char *data, size_t len)
{
	(void)event;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		p->complete = 1;
		return 0;
	}
	json_error_t je;
	json_t *c = json_loadb(data, len, 0, &je);
	if (!c) {
		snprintf(p->error, sizeof(p->error), "invalid JSON in a stream event: %s", je.text);
		return AGD_EINVAL;
	}
	json_t *err = json_object_get(c, "error");
	if (err) {
		const char *m = json_string_value(json_object_get(err, "message"));
		snprintf(p->error, sizeof(p->error), "%s", m ? m : "unknown error");
		json_decref(c);
		return 0;
	}
	take_model(p, c);
	take_usage(p, json_object_get(c, "usage"));
	json_t *choice = json_array_get(json_object_get(c, "choices"), 0);
	json_t *delta = json_object_get(choice, "delta");
	const char *text = json_string_value(json_object_get(delta, "content"));
	if (text)
		provider_emit_text(p, text, strlen(text));
	size_t i;
	json_t *tc;
	json_array_foreach(json_object_get(delta, "tool_calls"), i, tc) {
		json_t *idx = json_object_get(tc, "index");
		json_t *slot = provider_tool_call(p, json_is_integer(idx) ? (size_t)json_integer_value(idx) : i);
		const char *id = json_string_value(json_object_get(tc, "id"));
		json_t *fn = json_object_get(tc, "function");
		const char *name = json_string_value(json_object_get(fn, "name"));
		const char *args = json_string_value(json_object_get(fn, "arguments"));
		if (id && id[0])
			json_object_set_new(slot, "id", json_string(id));
		if (name)
			append_str(slot, "name", name);
		if (args)
			append_str(slot, "arguments", args);
	}
	const char *fin = json_string_value(json_object_get(choice, "finish_reason"));
	if (fin)
		snprintf(p->finish, sizeof(p->finish), "%s", fin);
	json_decref(c);
	return 0;
}

static int oa_body(struct provider_parser *p, json_t *b)
{
	json_t *err = json_object_get(b, "error");
	if (err) {
		const char *m = json_string_value(json_object_get(err, "message"));
		snprintf(p->error, sizeof(p->error), "%s", m ? m : "unknown error");
		return AGD_EINVAL;
	}
	json_t *choice = json_array_get(json_object_get(b, "choices"), 0);
	json_t *msg = json_object_get(choice, "message");
	if (!json_is_object(msg)) {
		snprintf(p->error, sizeof(p->error), "no choices[0].message in the response");
		return AGD_EINVAL;
	}
	take_model(p, b);
	take_usage(p, json_object_get(b, "usage"));
	const char *text = json_string_value(json_object_get(msg, "content"));
	if (text)
		provider_emit_text(p, text, strlen(text));
	size_t i;
	json_t *tc;
	json_array_foreach(json_object_get(msg, "tool_calls"), i, tc) {
		json_t *slot = provider_tool_call(p, i);
		json_t *fn = json_object_get(tc, "function");
		json_object_set(slot, "id", json_object_get(tc, "id"));
		json_object_set(slot, "name", json_object_get(fn, "name"));
		json_object_set(slot, "arguments", json_object_get(fn, "arguments"));
	}
	const char *fin = json_string_value(json_object_get(choice, "finish_reason"));
	snprintf(p->finish, sizeof(p->finish), "%s", fin ? fin : "stop");
	p->complete = 1;
	return 0;
}

const struct provider_ops provider_openai = {
	.kind = "openai",
	.build = oa_build,
	.on_event = oa_event,
	.on_body = oa_body,
};
