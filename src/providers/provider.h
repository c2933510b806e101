/*
 * provider.h: model providers behind one vtable. A provider turns a canonical request
 * (messages, tools, settings) into an HTTP request, and parses the response, streamed (SSE)
 * or whole (JSON), into text deltas, tool calls and usage. The HTTP transfer itself belongs to
 * the engine worker (curl multi); providers never block and never do I/O.
 *
 * Canonical messages: [{"role": "system"|"user"|"assistant"|"tool", "content": "...",
 * "tool_calls": [{"id", "name", "arguments": "<json text>"}], "tool_call_id": "..."}].
 * Canonical tools: [{"name", "description", "parameters": {JSON Schema}}].
 * Thread-safety: a parser belongs to one execution on one worker thread.
 */
#ifndef AGD_PROVIDER_H
#define AGD_PROVIDER_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/sse.h"

struct provider_conf;

struct provider_request {
	const struct provider_conf *conf;
	const char *model;           /* without the provider prefix */
	json_t *messages;            /* borrowed */
	json_t *tools;               /* borrowed; may be NULL or empty */
	double temperature;          /* < 0: not sent */
	int64_t max_tokens;          /* 0: not sent (Anthropic: 4096) */
	int stream;
};

/* Where a parser reports streamed text as it arrives. */
struct provider_sink {
	void *arg;
	void (*text)(void *arg, const char *s, size_t n);
};

struct provider_parser {
	const struct provider_ops *ops;
	struct provider_sink sink;
	int streaming;               /* the response is an event stream */
	struct sse_parser sse;
	struct buf body;             /* the whole body when not streaming */
	struct buf text;             /* the assistant text so far */
	json_t *tool_calls;          /* [{"id","name","arguments"}] being assembled */
	int64_t tokens_in, tokens_out;
	char model[128];
	char finish[32];
	int complete;                /* the stream's end marker was seen */
	char error[512];             /* an error the provider reported in the body */
	void *impl;
};

struct provider_ops {
	const char *kind;
	/* Fills url, headers (caller frees with curl_slist_free_all) and body (malloc'd). */
	int (*build)(const struct provider_request *rq, struct buf *url,
		     struct curl_slist **headers, char **body, agd_errbuf *eb);
	/* One SSE event of a streamed response. */
	int (*on_event)(struct provider_parser *p, const char *event, const char *data,
			size_t len);
	/* A whole (non-streamed) JSON response. */
	int (*on_body)(struct provider_parser *p, json_t *body);
};

/* The provider's message from an error response body ({"error": {"message"}}, {"error": "..."}
 * or {"message"}; else the body's start), into out. */
void provider_error_message(const char *body, size_t len, char *out, size_t n);

extern const struct provider_ops provider_openai;
extern const struct provider_ops provider_anthropic;
const struct provider_ops *provider_by_kind(const char *kind);

/* Parser lifecycle. max bounds the response size (text, body, one event). */
void provider_parser_init(struct provider_parser *p, const struct provider_ops *ops,
			  int streaming, size_t max, struct provider_sink sink);
void provider_parser_free(struct provider_parser *p);
/* Feeds response body bytes. Returns 0, or AGD_EINVAL (malformed) / AGD_ETOOBIG with a
 * message in eb. */
int provider_parser_feed(struct provider_parser *p, const char *data, size_t n,
			 agd_errbuf *eb);
/* Ends the body: a streamed response must have ended properly (else "truncated"). */
int provider_parser_finish(struct provider_parser *p, agd_errbuf *eb);

/* Shared helpers for implementations. */
/* Serialises body (consumes it) and adds the JSON content type, extra_header (may be NULL)
 * and the key header (auth_fmt with the key, e.g. "x-api-key: %s"; skipped without a key). */
int provider_finish_request(json_t *body, const char *auth_fmt, const char *key,
			    const char *extra_header, struct curl_slist **headers, char **out,
			    agd_errbuf *eb);
void provider_emit_text(struct provider_parser *p, const char *s, size_t n);
/* The tool call at index i, created if needed. */
json_t *provider_tool_call(struct provider_parser *p, size_t i);

#endif
