/* Unit tests for the parsers that face the network or user input: SSE, the providers'
 * stream and body parsers, the JSON Schema subset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/schema.h"
#include "providers/provider.h"
#include "util/sse.h"

struct got {
	char events[16][32];
	char data[16][256];
	int n;
};

static int on_ev(void *arg, const char *event, const char *data, size_t len)
{
	struct got *g = arg;
	snprintf(g->events[g->n], 32, "%s", event);
	snprintf(g->data[g->n], 256, "%.*s", (int)len, data);
	g->n++;
	return 0;
}

static void test_sse_any_chunking(void **state)
{
	(void)state;
	const char *stream = "event: a\ndata: one\n\n: comment\ndata: two\ndata: lines\n\r\n"
			     "event: c\r\ndata:three\r\n\r\nid: 7\ndata: {\"x\": 1}\n\n";
	size_t n = strlen(stream);
	/* every split point, including inside CRLF pairs, gives the same events */
	for (size_t cut = 0; cut <= n; cut++) {
		struct got g = {0};
		struct sse_parser p;
		sse_init(&p, 1024, on_ev, &g);
		assert_int_equal(sse_feed(&p, stream, cut), 0);
		assert_int_equal(sse_feed(&p, stream + cut, n - cut), 0);
		assert_int_equal(sse_finish(&p), 0);
		sse_free(&p);
		assert_int_equal(g.n, 4);
		assert_string_equal(g.events[0], "a");
		assert_string_equal(g.data[0], "one");
		assert_string_equal(g.events[1], "");
		assert_string_equal(g.data[1], "two\nlines");
		assert_string_equal(g.events[2], "c");
		assert_string_equal(g.data[2], "three");
		assert_string_equal(g.data[3], "{\"x\": 1}");
	}
}

static void test_sse_cap(void **state)
{
	(void)state;
	struct got g = {0};
	struct sse_parser p;
	sse_init(&p, 16, on_ev, &g);
	assert_int_equal(sse_feed(&p, "data: 0123456789012345678901234\n\n", 34), AGD_ETOOBIG);
	sse_free(&p);
}

struct textbuf {
	char s[1024];
};

static void on_text(void *arg, const char *s, size_t n)
{
	struct textbuf *t = arg;
	strncat(t->s, s, n < sizeof(t->s) - strlen(t->s) - 1 ? n : 0);
}

static void feed_all(struct provider_parser *p, const char *s, size_t step)
{
	agd_errbuf eb;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		assert_int_equal(provider_parser_feed(p, s + i, k, &eb), 0);
	}
}

static void test_openai_stream_with_tool_calls(void **state)
{
	(void)state;
	const char *s =
		"data: {\"model\":\"m1\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
		"data: {\"choices\":[{\"delta\":{\"content\":\"lo\",\"tool_calls\":[{\"index\":0,"
		"\"id\":\"c1\",\"function\":{\"name\":\"look\",\"arguments\":\"{\\\"q\\\":\"}}]}}]}\n\n"
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
		"{\"arguments\":\"1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n"
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7}}\n\n"
		"data: [DONE]\n\n";
	for (size_t step = 1; step < 40; step += 13) {
		struct textbuf t = {""};
		struct provider_parser p;
		provider_parser_init(&p, &provider_openai, 1, 1 << 20, (struct provider_sink){&t, on_text});
		feed_all(&p, s, step);
		agd_errbuf eb;
		assert_int_equal(provider_parser_finish(&p, &eb), 0);
		assert_string_equal(t.s, "Hello");
		assert_string_equal(p.model, "m1");
		assert_string_equal(p.finish, "tool_calls");
		assert_int_equal(p.tokens_in, 11);
		assert_int_equal(p.tokens_out, 7);
		json_t *tc = json_array_get(p.tool_calls, 0);
		assert_string_equal(json_string_value(json_object_get(tc, "id")), "c1");
		assert_string_equal(json_string_value(json_object_get(tc, "name")), "look");
		assert_string_equal(json_string_value(json_object_get(tc, "arguments")), "{\"q\":1}");
		provider_parser_free(&p);
	}
}

static void test_openai_truncated_and_malformed(void **state)
{
	(void)state;
	agd_errbuf eb;
	struct provider_parser p;
	provider_parser_init(&p, &provider_openai, 1, 1 << 20, (struct provider_sink){0});
	feed_all(&p, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n", 100);
	assert_int_equal(provider_parser_finish(&p, &eb), AGD_EINVAL);
	assert_non_null(strstr(eb.msg, "truncated"));
	provider_parser_free(&p);
	provider_parser_init(&p, &provider_openai, 1, 1 << 20, (struct provider_sink){0});
	const char *bad = "data: {\"choices\": [oops\n\n";
	assert_int_equal(provider_parser_feed(&p, bad, strlen(bad), &eb), AGD_EINVAL);
	assert_non_null(strstr(eb.msg, "malformed"));
	provider_parser_free(&p);
	/* whole body */
	provider_parser_init(&p, &provider_openai, 0, 1 << 20, (struct provider_sink){0});
	const char *body = "{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":\"ok\"},"
			   "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
			   "\"completion_tokens\":1}}";
	feed_all(&p, body, 7);
	assert_int_equal(provider_parser_finish(&p, &eb), 0);
	assert_string_equal(p.text.data, "ok");
	assert_int_equal(p.tokens_in, 3);
	provider_parser_free(&p);
	/* a cap on the size of a response */
	provider_parser_init(&p, &provider_openai, 0, 10, (struct provider_sink){0});
	assert_int_equal(provider_parser_feed(&p, body, strlen(body), &eb), AGD_ETOOBIG);
	provider_parser_free(&p);
}

static void test_anthropic_stream(void **state)
{
	(void)state;
	const char *s =
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
		"\"claude-x\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
		"event: ping\ndata: {\"type\":\"ping\"}\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
		"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		"\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me look\"}}\n\n"
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
		"\"content_block\":{\"type\":\"tool_use\",\"id\":\"tu1\",\"name\":\"search\","
		"\"input\":{}}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
		"\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\": \"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
		"\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"x\\\"}\"}}\n\n"
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
		"\"tool_use\"},\"usage\":{\"output_tokens\":15}}\n\n"
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
	struct textbuf t = {""};
	struct provider_parser p;
	provider_parser_init(&p, &provider_anthropic, 1, 1 << 20, (struct provider_sink){&t, on_text});
	feed_all(&p, s, 17);
	agd_errbuf eb;
	assert_int_equal(provider_parser_finish(&p, &eb), 0);
	assert_string_equal(t.s, "Let me look");
	assert_string_equal(p.model, "claude-x");
	assert_int_equal(p.tokens_in, 25);
	assert_int_equal(p.tokens_out, 15);
	assert_string_equal(p.finish, "tool_use");
	json_t *tc = json_array_get(p.tool_calls, 0);
	assert_string_equal(json_string_value(json_object_get(tc, "id")), "tu1");
	assert_string_equal(json_string_value(json_object_get(tc, "arguments")), "{\"q\": \"x\"}");
	provider_parser_free(&p);
	/* an error event ends the response with the provider's message */
	provider_parser_init(&p, &provider_anthropic, 1, 1 << 20, (struct provider_sink){0});
	feed_all(&p, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
		     "\"message\":\"Overloaded\"}}\n\n", 50);
	assert_int_equal(provider_parser_finish(&p, &eb), AGD_EINVAL);
	assert_non_null(strstr(eb.msg, "Overloaded"));
	provider_parser_free(&p);
}

static void test_request_building(void **state)
{
	(void)state;
	struct provider_conf conf = {.name = "x", .kind = "anthropic", .base_url = "http://h:1/",
				     .api_key = "sk", .stream = 1};
	json_t *msgs = json_loads(
		"[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"U\"},"
		"{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"a\",\"name\":\"t\","
		"\"arguments\":\"{\\\"k\\\":1}\"},{\"id\":\"b\",\"name\":\"t\",\"arguments\":\"{}\"}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"a\",\"content\":\"r1\"},"
		"{\"role\":\"tool\",\"tool_call_id\":\"b\",\"content\":\"r2\"}]", 0, NULL);
	struct provider_request rq = {&conf, "claude", msgs, NULL, -1, 0, 1};
	struct buf url;
	buf_init(&url, 1000);
	struct curl_slist *h = NULL;
	char *body = NULL;
	agd_errbuf eb;
	assert_int_equal(provider_anthropic.build(&rq, &url, &h, &body, &eb), 0);
	assert_string_equal(buf_cstr(&url), "http://h:1/v1/messages");
	json_t *b = json_loads(body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(b, "system")), "S");
	assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 4096);
	json_t *m = json_object_get(b, "messages");
	assert_int_equal(json_array_size(m), 3);   /* user, assistant, one merged tool result */
	json_t *tr = json_object_get(json_array_get(m, 2), "content");
	assert_int_equal(json_array_size(tr), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tr, 1), "tool_use_id")),
			    "b");
	json_t *tu = json_array_get(json_object_get(json_array_get(m, 1), "content"), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(tu, "input"), "k")), 1);
	json_decref(b);
	free(body);
	curl_slist_free_all(h);
	h = NULL;
	buf_reset(&url);
	conf.base_url[0] = '\0';
	strcpy(conf.base_url, "http://h:1/v1");
	assert_int_equal(provider_openai.build(&rq, &url, &h, &body, &eb), 0);
	assert_string_equal(buf_cstr(&url), "http://h:1/v1/chat/completions");
	b = json_loads(body, 0, NULL);
	assert_true(json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage")));
	json_t *om = json_object_get(b, "messages");
	assert_int_equal(json_array_size(om), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(om, 3), "tool_call_id")),
			    "a");
	json_decref(b);
	free(body);
	curl_slist_free_all(h);
	buf_free(&url);
	json_decref(msgs);
}

static void test_schema(void **state)
{
	(void)state;
	agd_errbuf eb;
	json_t *s = json_loads("{\"type\":\"object\",\"required\":[\"a\"],\"additionalProperties\":false,"
			       "\"properties\":{\"a\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":4,"
			       "\"pattern\":\"^[a-z]+$\"},\"n\":{\"type\":[\"integer\",\"null\"],"
			       "\"minimum\":1,\"exclusiveMaximum\":10},\"l\":{\"type\":\"array\","
			       "\"minItems\":1,\"items\":{\"enum\":[\"x\",\"y\"]}}}}",
			       0, NULL);
	assert_int_equal(schema_check(s, "input_schema", &eb), 0);
	struct {
		const char *v, *path;
	} bad[] = {
		{"{}", "input.a: is required"},
		{"{\"a\":\"x\"}", "input.a: must be at least 2"},
		{"{\"a\":\"abcde\"}", "input.a: must be at most 4"},
		{"{\"a\":\"AB\"}", "input.a: must match"},
		{"{\"a\":\"ab\",\"n\":0}", "input.n: must be at least 1"},
		{"{\"a\":\"ab\",\"n\":10}", "input.n: must be less than 10"},
		{"{\"a\":\"ab\",\"n\":1.5}", "input.n: must be of type"},
		{"{\"a\":\"ab\",\"l\":[]}", "input.l: must have at least 1"},
		{"{\"a\":\"ab\",\"l\":[\"x\",\"z\"]}", "input.l[1]: must be one of"},
		{"{\"a\":\"ab\",\"zz\":1}", "input.zz: is not an allowed property"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = json_loads(bad[i].v, 0, NULL);
		assert_int_equal(schema_validate(s, v, "input", &eb), AGD_EINVAL);
		if (!strstr(eb.msg, bad[i].path))
			fail_msg("%s: got '%s', want '%s'", bad[i].v, eb.msg, bad[i].path);
		json_decref(v);
	}
	json_t *ok = json_loads("{\"a\":\"ab\",\"n\":null,\"l\":[\"y\"]}", 0, NULL);
	assert_int_equal(schema_validate(s, ok, "input", &eb), 0);
	json_decref(ok);
	json_decref(s);
	const char *bad_schemas[] = {"{\"type\":\"text\"}", "{\"required\":\"a\"}",
				     "{\"minLength\":-1}", "{\"pattern\":\"(\"}",
				     "{\"properties\":{\"a\":{\"maximum\":\"9\"}}}", "{\"oneOf\":[]}"};
	for (size_t i = 0; i < sizeof(bad_schemas) / sizeof(bad_schemas[0]); i++) {
		json_t *b = json_loads(bad_schemas[i], 0, NULL);
		assert_int_equal(schema_check(b, "input_schema", &eb), AGD_EINVAL);
		json_decref(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sse_any_chunking),
		cmocka_unit_test(test_sse_cap),
		cmocka_unit_test(test_openai_stream_with_tool_calls),
		cmocka_unit_test(test_openai_truncated_and_malformed),
		cmocka_unit_test(test_anthropic_stream),
		cmocka_unit_test(test_request_building),
		cmocka_unit_test(test_schema),
	};
	return cmocka_run_group_tests_name("parsers", tests, NULL, NULL);
}
