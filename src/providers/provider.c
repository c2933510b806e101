/*
 * provider.c: the parser lifecycle shared by all providers, and provider lookup.
 */
#include "providers/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct provider_ops *provider_by_kind(const char *kind)
{
	if (strcmp(kind, "openai") == 0)
		return &provider_openai;
	if (strcmp(kind, "anthropic") == 0)
		return &provider_anthropic;
	return NULL;
}

static int on_sse(void *arg, const char *event, const char *data, size_t len)
{
	struct provider_parser *p = arg;
	return p->ops->on_event(p, event, data, len);
}

void provider_parser_init(struct provider_parser *p, const struct provider_ops *ops,
			  int streaming, size_t max, struct provider_sink sink)
{
	memset(p, 0, sizeof(*p));
	p->ops = ops;
	p->sink = sink;
	p->streaming = streaming;
	sse_init(&p->sse, max, on_sse, p);
	buf_init(&p->body, max);
	buf_init(&p->text, max);
	p->tool_calls = json_array();
}

void provider_parser_free(struct provider_parser *p)
{
	sse_free(&p->sse);
	buf_free(&p->body);
	buf_free(&p->text);
	json_decref(p->tool_calls);
	p->tool_calls = NULL;
	free(p->impl);
	p->impl = NULL;
}

void provider_emit_text(struct provider_parser *p, const char *s, size_t n)
{
	if (!n)
		return;
	if (buf_append(&p->text, s, n))
		return;   /* the cap is checked by the caller through p->text.max */
	if (p->sink.text)
		p->sink.text(p->sink.arg, s, n);
}

json_t *provider_tool_call(struct provider_parser *p, size_t i)
{
	while (json_array_size(p->tool_calls) <= i)
		json_array_append_new(p->tool_calls, json_pack("{s:s, s:s, s:s}", "id", "",
								 "name", "", "arguments", ""));
	return json_array_get(p->tool_calls, i);
}

int provider_parser_feed(struct provider_parser *p, const char *data, size_t n,
			 agd_errbuf *eb)
{
	if (!p->streaming) {
		if (buf_append(&p->body, data, n))
			return agd_fail(eb, AGD_ETOOBIG, "the model response exceeded %zu bytes",
					p->body.max);
		return 0;
	}
	int rc = sse_feed(&p->sse, data, n);
	if (rc == AGD_ETOOBIG)
		return agd_fail(eb, rc, "a model stream event exceeded %zu bytes", p->body.max);
	if (rc)
		return agd_fail(eb, AGD_EINVAL, "malformed model stream: %s",
				p->error[0] ? p->error : "unparseable event");
	if (p->text.len >= p->text.max)
		return agd_fail(eb, AGD_ETOOBIG, "the model response exceeded %zu bytes",
				p->text.max);
	return 0;
}

int provider_parser_finish(struct provider_parser *p, agd_errbuf *eb)
{
	if (p->streaming) {
		int rc = sse_finish(&p->sse);
		if (rc)
			return agd_fail(eb, AGD_EINVAL, "malformed model stream: %s",
					p->error[0] ? p->error : "unparseable event");
		if (p->error[0])
			return agd_fail(eb, AGD_EINVAL, "the model reported an error: %s", p->error);
		if (!p->complete)
			return agd_fail(eb, AGD_EINVAL, "the model stream ended before its end "
					"marker (truncated response)");
		return 0;
	}
	json_error_t je;
	json_t *body = json_loadb(p->body.data ? p->body.data : "", p->body.len, 0, &je);
	if (!body)
		return agd_fail(eb, AGD_EINVAL, "malformed model response (invalid JSON at line "
				"%d, column %d: %s)", je.line, je.column, je.text);
	int rc = p->ops->on_body(p, body);
	json_decref(body);
	if (rc)
		return agd_fail(eb, AGD_EINVAL, "malformed model response: %s",
				p->error[0] ? p->error : "unexpected shape");
	return 0;
}

int provider_finish_request(json_t *body, const char *auth_fmt, const char *key,
			    const char *extra_header, struct curl_slist **headers, char **out,
			    agd_errbuf *eb)
{
	*out = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!*out)
		return agd_fail(eb, AGD_ENOMEM, "cannot serialise the model request");
	*headers = curl_slist_append(*headers, "Content-Type: application/json");
	if (extra_header)
		*headers = curl_slist_append(*headers, extra_header);
	if (key && key[0]) {
		char h[600];
		snprintf(h, sizeof(h), auth_fmt, key);
		*headers = curl_slist_append(*headers, h);
	}
	return 0;
}

void provider_error_message(const char *body, size_t len, char *out, size_t n)
{
	json_t *b = json_loadb(body ? body : "", len, 0, NULL);
	const char *m = json_string_value(json_object_get(json_object_get(b, "error"), "message"));
	if (!m)
		m = json_string_value(json_object_get(b, "error"));
	if (!m)
		m = json_string_value(json_object_get(b, "message"));
	if (m)
		snprintf(out, n, "%s", m);
	else
		snprintf(out, n, "%.*s", (int)(len > 300 ? 300 : len), body ? body : "");
	json_decref(b);
}
