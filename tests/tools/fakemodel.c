/*
 * fakemodel: a test fixture speaking the OpenAI chat completions and Anthropic messages
 * protocols, streaming (SSE) and not, with behaviour scripted by the requested model name.
 * It is the only stand-in in agentd's tests: it speaks the real protocols over real HTTP.
 *
 *   fakemodel [--listen 127.0.0.1:0] [--threads N]     prints "listening on http://H:P"
 *
 * Model names are '/'-separated directives, applied left to right:
 *   echo            answer with the last user message ("echo: <text>"); the default
 *   fixed           answer "Hello from fakemodel."
 *   tool=NAME       ask for tool NAME with {"message": <last user text>}; once the tool's
 *                   result is in the conversation, answer "tool said: <result>"
 *   tools=A,B       ask for tools A and B at once (parallel tool calls), then summarise
 *   history         answer with the number of user messages and all of them joined by '|'
 *   images          answer "images: N <types>": the images in the last user message
 *   delay=MS        wait MS milliseconds before answering
 *   usage=IN,OUT    report these token counts (default: 100 and the number of words)
 *   429 | 429once   answer 429 with Retry-After: 1 (always, or the first time only)
 *   500 | 500once   answer 500 (always, or the first time only)
 *   400             answer 400 with an error message
 *   malformed       answer 200 with a body that is not valid JSON / SSE data
 *   cut             start streaming, then drop the connection without the end marker
 *   hang            never answer
 * "The first time" is counted per conversation (model name + messages).
 *
 * Tool endpoints for http tools: POST /tools/echo answers {"echoed": <request body>},
 * POST /tools/big answers 1 MiB, POST /tools/fail answers 500, POST /tools/slow waits 5 s.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>

struct conn {
	char *body;
	size_t len, cap;
	int suspended;
	struct timespec due;
	struct MHD_Connection *c;
	struct conn *next;     /* timer list */
	int ready;             /* delay over */
	int hang;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct conn *timers;

/* conversations that already failed once */
#define SEEN 65536
static char *seen[SEEN];

static int first_time(const char *key)
{
	unsigned char md[32];
	unsigned int ml;
	EVP_Digest(key, strlen(key), md, &ml, EVP_sha256(), NULL);
	unsigned h = (unsigned)(md[0] | md[1] << 8 | md[2] << 16) % SEEN;
	pthread_mutex_lock(&mu);
	for (unsigned i = 0; i < SEEN; i++) {
		unsigned s = (h + i) % SEEN;
		if (!seen[s]) {
			seen[s] = strdup(key);
			pthread_mutex_unlock(&mu);
			return 1;
		}
		if (strcmp(seen[s], key) == 0) {
			pthread_mutex_unlock(&mu);
			return 0;
		}
	}
	pthread_mutex_unlock(&mu);
	return 0;
}

static void *timer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		struct conn **link = &timers;
		struct timespec next = {now.tv_sec + 1, now.tv_nsec};
		while (*link) {
			struct conn *c = *link;
			if (c->due.tv_sec < now.tv_sec ||
			    (c->due.tv_sec == now.tv_sec && c->due.tv_nsec <= now.tv_nsec)) {
				*link = c->next;
				c->ready = 1;
				MHD_resume_connection(c->c);
				continue;
			}
			if (c->due.tv_sec < next.tv_sec ||
			    (c->due.tv_sec == next.tv_sec && c->due.tv_nsec < next.tv_nsec))
				next = c->due;
			link = &c->next;
		}
		pthread_cond_timedwait(&cv, &mu, &next);
	}
	return NULL;
}

static void schedule(struct conn *c, long ms)
{
	clock_gettime(CLOCK_REALTIME, &c->due);
	c->due.tv_sec += ms / 1000;
	c->due.tv_nsec += (ms % 1000) * 1000000L;
	if (c->due.tv_nsec >= 1000000000L) {
		c->due.tv_sec++;
		c->due.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mu);
	c->next = timers;
	timers = c;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ctype,
				 const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", ctype);
	if (status == 429)
		MHD_add_response_header(r, "Retry-After", "1");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

struct plan {
	int anthropic, stream;
	char reply[65536];
	json_t *tool_calls;     /* [{"id","name","arguments"}] or NULL */
	long delay;
	int fail;               /* HTTP status to answer with, 0 = none */
	int malformed, cut, hang;
	long tin, tout;
	char model[256];
};

static const char *msg_text(json_t *m)
{
	json_t *c = json_object_get(m, "content");
	if (json_is_string(c))
		return json_string_value(c);
	/* Anthropic/OpenAI content blocks: first text, or a tool result */
	size_t i;
	json_t *b;
	json_array_foreach(c, i, b) {
		const char *t = json_string_value(json_object_get(b, "type"));
		if (t && strcmp(t, "text") == 0)
			return json_string_value(json_object_get(b, "text"));
		if (t && strcmp(t, "tool_result") == 0) {
			json_t *cc = json_object_get(b, "content");
			if (json_is_string(cc))
				return json_string_value(cc);
		}
	}
	return "";
}

/* Is the last message a tool result (OpenAI role tool, or Anthropic tool_result block)? */
static int last_is_tool_result(json_t *msgs, const char **content)
{
	json_t *m = json_array_get(msgs, json_array_size(msgs) - 1);
	const char *role = json_string_value(json_object_get(m, "role"));
	if (role && strcmp(role, "tool") == 0) {
		*content = msg_text(m);
		return 1;
	}
	json_t *c = json_object_get(m, "content");
	json_t *b0 = json_array_get(c, 0);
	const char *t = json_string_value(json_object_get(b0, "type"));
	if (t && strcmp(t, "tool_result") == 0) {
		*content = msg_text(m);
		return 1;
	}
	return 0;
}

static const char *last_user(json_t *msgs)
{
	for (size_t i = json_array_size(msgs); i-- > 0;) {
		json_t *m = json_array_get(msgs, i);
		const char *role = json_string_value(json_object_get(m, "role"));
		const char *dummy;
		if (role && strcmp(role, "user") == 0 && !(i == json_array_size(msgs) - 1 &&
							   last_is_tool_result(msgs, &dummy)))
			return msg_text(m);
		if (role && strcmp(role, "user") == 0) {
			json_t *c = json_object_get(m, "content");
			if (json_is_string(c))
				return json_string_value(c);
		}
	}
	return "";
}

static long words(const char *s)
{
	long n = 0;
	int in = 0;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\n') {
			in = 0;
		} else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

static void make_plan(json_t *req, int anthropic, struct plan *p)
{
	memset(p, 0, sizeof(*p));
	p->anthropic = anthropic;
	p->stream = json_is_true(json_object_get(req, "stream"));
	const char *model = json_string_value(json_object_get(req, "model"));
	snprintf(p->model, sizeof(p->model), "%s", model ? model : "echo");
	json_t *msgs = json_object_get(req, "messages");
	char *convo = json_dumps(msgs, JSON_COMPACT);
	char key[70000];
	snprintf(key, sizeof(key), "%s|%.65000s", p->model, convo ? convo : "");
	free(convo);
	const char *user = last_user(msgs);
	const char *tool_content = NULL;
	int after_tool = last_is_tool_result(msgs, &tool_content);
	snprintf(p->reply, sizeof(p->reply), "echo: %s", user);
	p->tin = 100;
	p->tout = -1;
	char spec[256];
	snprintf(spec, sizeof(spec), "%s", p->model);
	char *save = NULL;
	for (char *d = strtok_r(spec, "/", &save); d; d = strtok_r(NULL, "/", &save)) {
		if (strcmp(d, "fixed") == 0) {
			snprintf(p->reply, sizeof(p->reply), "Hello from fakemodel.");
		} else if (strcmp(d, "history") == 0) {
			int n = 0;
			char all[60000] = "";
			size_t off = 0;
			size_t i;
			json_t *m;
			json_array_foreach(msgs, i, m) {
				const char *role = json_string_value(json_object_get(m, "role"));
				if (role && strcmp(role, "user") == 0) {
					n++;
					off += (size_t)snprintf(all + off, sizeof(all) - off, "%s%s",
								off ? "|" : "", msg_text(m));
					if (off >= sizeof(all))
						off = sizeof(all) - 1;
				}
			}
			snprintf(p->reply, sizeof(p->reply), "%d: %s", n, all);
		} else if (strcmp(d, "images") == 0) {
			json_t *last = NULL;
			size_t i;
			json_t *m;
			json_array_foreach(msgs, i, m) {
				const char *role = json_string_value(json_object_get(m, "role"));
				if (role && strcmp(role, "user") == 0)
					last = m;
			}
			int n = 0;
			char types[512] = "";
			size_t off = 0;
			json_t *b;
			json_array_foreach(json_object_get(last, "content"), i, b) {
				const char *t = json_string_value(json_object_get(b, "type"));
				const char *mt = NULL;
				if (t && strcmp(t, "image_url") == 0) {   /* OpenAI: a data URL */
					const char *url = json_string_value(json_object_get(
						json_object_get(b, "image_url"), "url"));
					if (url && strncmp(url, "data:", 5) == 0)
						mt = url + 5;
				} else if (t && strcmp(t, "image") == 0) {   /* Anthropic: base64 source */
					mt = json_string_value(json_object_get(
						json_object_get(b, "source"), "media_type"));
				}
				if (mt) {
					n++;
					const char *semi = strchr(mt, ';');
					off += (size_t)snprintf(types + off, sizeof(types) - off, " %.*s",
								(int)(semi ? semi - mt : (long)strlen(mt)), mt);
					if (off >= sizeof(types))
						off = sizeof(types) - 1;
				}
			}
			snprintf(p->reply, sizeof(p->reply), "images: %d%s", n, types);
		} else if (strncmp(d, "tool=", 5) == 0 || strncmp(d, "tools=", 6) == 0) {
			if (after_tool) {
				snprintf(p->reply, sizeof(p->reply), "tool said: %s", tool_content);
			} else {
				p->reply[0] = '\0';
				p->tool_calls = json_array();
				char names[200];
				snprintf(names, sizeof(names), "%s", strchr(d, '=') + 1);
				char *s2 = NULL;
				int k = 0;
				for (char *nm = strtok_r(names, ",", &s2); nm;
				     nm = strtok_r(NULL, ",", &s2), k++) {
					json_t *args = json_pack("{s:s}", "message", user);
					char *as = json_dumps(args, JSON_COMPACT);
					char id[64];
					snprintf(id, sizeof(id), "call_%d_%ld", k, random() % 100000);
					json_array_append_new(p->tool_calls,
							      json_pack("{s:s, s:s, s:s}", "id", id,
									"name", nm, "arguments", as));
					free(as);
					json_decref(args);
				}
			}
		} else if (strncmp(d, "delay=", 6) == 0) {
			p->delay = strtol(d + 6, NULL, 10);
		} else if (strncmp(d, "usage=", 6) == 0) {
			sscanf(d + 6, "%ld,%ld", &p->tin, &p->tout);
		} else if (strcmp(d, "429") == 0) {
			p->fail = 429;
		} else if (strcmp(d, "429once") == 0) {
			if (first_time(key))
				p->fail = 429;
		} else if (strcmp(d, "500") == 0) {
			p->fail = 500;
		} else if (strcmp(d, "500once") == 0) {
			if (first_time(key))
				p->fail = 500;
		} else if (strcmp(d, "400") == 0) {
			p->fail = 400;
		} else if (strcmp(d, "malformed") == 0) {
			p->malformed = 1;
		} else if (strcmp(d, "cut") == 0) {
			p->cut = 1;
		} else if (strcmp(d, "hang") == 0) {
			p->hang = 1;
		}
	}
	if (p->tout < 0)
		p->tout = words(p->reply);
}

/* ---- response bodies ---- */

struct sbuf {
	char *d;
	size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t l = strlen(s);
	if (b->n + l + 1 > b->cap) {
		b->cap = (b->n + l + 1) * 2;
		b->d = realloc(b->d, b->cap);
	}
	memcpy(b->d + b->n, s, l + 1);
	b->n += l;
}

static void sb_event(struct sbuf *b, const char *event, json_t *data)
{
	char *s = json_dumps(data, JSON_COMPACT);
	if (event) {
		sb_add(b, "event: ");
		sb_add(b, event);
		sb_add(b, "\n");
	}
	sb_add(b, "data: ");
	sb_add(b, s);
	sb_add(b, "\n\n");
	free(s);
	json_decref(data);
}

/* Splits the reply into word-sized pieces ("a", " b", " c"). */
static json_t *pieces(const char *s)
{
	json_t *a = json_array();
	const char *p = s;
	while (*p) {
		const char *e = p;
		while (*e == ' ')
			e++;
		while (*e && *e != ' ')
			e++;
		json_array_append_new(a, json_stringn(p, (size_t)(e - p)));
		p = e;
	}
	return a;
}

static char *openai_body(struct plan *p)
{
	struct sbuf b = {0};
	if (!p->stream) {
		json_t *msg = json_pack("{s:s, s:s}", "role", "assistant", "content", p->reply);
		if (p->tool_calls) {
			json_t *tcs = json_array();
			size_t i;
			json_t *tc;
			json_array_foreach(p->tool_calls, i, tc)
				json_array_append_new(tcs, json_pack("{s:O, s:s, s:{s:O, s:O}}", "id",
								     json_object_get(tc, "id"), "type",
								     "function", "function", "name",
								     json_object_get(tc, "name"),
								     "arguments",
								     json_object_get(tc, "arguments")));
			json_object_set_new(msg, "tool_calls", tcs);
		}
		json_t *r = json_pack("{s:s, s:s, s:s, s:[{s:i, s:o, s:s}], s:{s:i, s:i, s:i}}",
				      "id", "chatcmpl-fake", "object", "chat.completion", "model",
				      p->model, "choices", "index", 0, "message", msg,
				      "finish_reason", p->tool_calls ? "tool_calls" : "stop", "usage",
				      "prompt_tokens", (int)p->tin, "completion_tokens", (int)p->tout,
				      "total_tokens", (int)(p->tin + p->tout));
		char *s = json_dumps(r, JSON_COMPACT);
		json_decref(r);
		return s;
	}
	json_t *ps = pieces(p->reply);
	size_t i;
	json_t *piece;
	sb_event(&b, NULL, json_pack("{s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:n}]}", "id", "c",
				     "model", p->model, "choices", "index", 0, "delta", "role",
				     "assistant", "content", "", "finish_reason"));
	json_array_foreach(ps, i, piece)
		sb_event(&b, NULL, json_pack("{s:s, s:s, s:[{s:i, s:{s:O}, s:n}]}", "id", "c",
					     "model", p->model, "choices", "index", 0, "delta",
					     "content", piece, "finish_reason"));
	json_decref(ps);
	json_t *tc;
	json_array_foreach(p->tool_calls, i, tc) {
		const char *args = json_string_value(json_object_get(tc, "arguments"));
		size_t al = strlen(args), half = al / 2;
		/* the id and name first, then the arguments in two fragments */
		sb_event(&b, NULL, json_pack("{s:[{s:i, s:{s:[{s:i, s:O, s:s, s:{s:O, s:s}}]}}]}",
					     "choices", "index", 0, "delta", "tool_calls", "index",
					     (int)i, "id", json_object_get(tc, "id"), "type",
					     "function", "function", "name", json_object_get(tc, "name"),
					     "arguments", ""));
		sb_event(&b, NULL, json_pack("{s:[{s:i, s:{s:[{s:i, s:{s:s%}}]}}]}", "choices",
					     "index", 0, "delta", "tool_calls", "index", (int)i,
					     "function", "arguments", args, half));
		sb_event(&b, NULL, json_pack("{s:[{s:i, s:{s:[{s:i, s:{s:s}}]}}]}", "choices",
					     "index", 0, "delta", "tool_calls", "index", (int)i,
					     "function", "arguments", args + half));
	}
	sb_event(&b, NULL, json_pack("{s:[{s:i, s:{}, s:s}]}", "choices", "index", 0, "delta",
				     "finish_reason", p->tool_calls ? "tool_calls" : "stop"));
	sb_event(&b, NULL, json_pack("{s:[], s:{s:i, s:i, s:i}}", "choices", "usage",
				     "prompt_tokens", (int)p->tin, "completion_tokens", (int)p->tout,
				     "total_tokens", (int)(p->tin + p->tout)));
	sb_add(&b, "data: [DONE]\n\n");
	return b.d;
}

static char *anthropic_body(struct plan *p)
{
	struct sbuf b = {0};
	json_t *content = json_array();
	if (p->reply[0] || !p->tool_calls)
		json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text",
							 p->reply));
	size_t i;
	json_t *tc;
	json_array_foreach(p->tool_calls, i, tc) {
		json_t *input = json_loads(json_string_value(json_object_get(tc, "arguments")), 0,
					   NULL);
		json_array_append_new(content, json_pack("{s:s, s:O, s:O, s:o}", "type", "tool_use",
							 "id", json_object_get(tc, "id"), "name",
							 json_object_get(tc, "name"), "input", input));
	}
	const char *stop = p->tool_calls ? "tool_use" : "end_turn";
	if (!p->stream) {
		json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:{s:i, s:i}}", "id", "msg_fake",
				      "type", "message", "role", "assistant", "model", p->model,
				      "content", content, "stop_reason", stop, "usage",
				      "input_tokens", (int)p->tin, "output_tokens", (int)p->tout);
		char *s = json_dumps(r, JSON_COMPACT);
		json_decref(r);
		return s;
	}
	sb_event(&b, "message_start",
		 json_pack("{s:s, s:{s:s, s:s, s:s, s:[], s:{s:i, s:i}}}", "type", "message_start",
			   "message", "id", "msg_fake", "role", "assistant", "model", p->model,
			   "content", "usage", "input_tokens", (int)p->tin, "output_tokens", 1));
	sb_add(&b, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
	json_t *blk;
	json_array_foreach(content, i, blk) {
		const char *t = json_string_value(json_object_get(blk, "type"));
		if (strcmp(t, "text") == 0) {
			sb_event(&b, "content_block_start",
				 json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_start",
					   "index", (int)i, "content_block", "type", "text", "text",
					   ""));
			json_t *ps = pieces(json_string_value(json_object_get(blk, "text")));
			size_t j;
			json_t *piece;
			json_array_foreach(ps, j, piece)
				sb_event(&b, "content_block_delta",
					 json_pack("{s:s, s:i, s:{s:s, s:O}}", "type",
						   "content_block_delta", "index", (int)i, "delta",
						   "type", "text_delta", "text", piece));
			json_decref(ps);
		} else {
			sb_event(&b, "content_block_start",
				 json_pack("{s:s, s:i, s:{s:s, s:O, s:O, s:{}}}", "type",
					   "content_block_start", "index", (int)i, "content_block",
					   "type", "tool_use", "id", json_object_get(blk, "id"), "name",
					   json_object_get(blk, "name"), "input"));
			char *args = json_dumps(json_object_get(blk, "input"), JSON_COMPACT);
			size_t al = strlen(args), half = al / 2;
			sb_event(&b, "content_block_delta",
				 json_pack("{s:s, s:i, s:{s:s, s:s%}}", "type", "content_block_delta",
					   "index", (int)i, "delta", "type", "input_json_delta",
					   "partial_json", args, half));
			sb_event(&b, "content_block_delta",
				 json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_delta",
					   "index", (int)i, "delta", "type", "input_json_delta",
					   "partial_json", args + half));
			free(args);
		}
		sb_event(&b, "content_block_stop", json_pack("{s:s, s:i}", "type",
							     "content_block_stop", "index", (int)i));
	}
	json_decref(content);
	sb_event(&b, "message_delta", json_pack("{s:s, s:{s:s, s:n}, s:{s:i}}", "type",
						"message_delta", "delta", "stop_reason", stop,
						"stop_sequence", "usage", "output_tokens",
						(int)p->tout));
	sb_event(&b, "message_stop", json_pack("{s:s}", "type", "message_stop"));
	return b.d;
}

/* Sends half of the stream, then fails the transfer. */
struct cut_state {
	char *body;
	size_t len;
	int sent;
};

static ssize_t cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct cut_state *c = cls;
	(void)pos;
	if (c->sent)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = c->len / 2;
	if (n > max)
		n = max;
	memcpy(buf, c->body, n);
	c->sent = 1;
	return (ssize_t)n;
}

static void cut_free(void *cls)
{
	struct cut_state *c = cls;
	free(c->body);
	free(c);
}

static enum MHD_Result answer_model(struct MHD_Connection *c, struct plan *p)
{
	if (p->fail == 429)
		return send_text(c, 429, "application/json",
				 p->anthropic ? "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
						"\"message\":\"fake rate limit\"}}"
					      : "{\"error\":{\"message\":\"fake rate limit\",\"type\":"
						"\"rate_limit_exceeded\"}}");
	if (p->fail == 500)
		return send_text(c, 500, "application/json",
				 "{\"error\":{\"message\":\"fake server error\",\"type\":\"server_error\"}}");
	if (p->fail == 400)
		return send_text(c, 400, "application/json",
				 p->anthropic ? "{\"type\":\"error\",\"error\":{\"type\":"
						"\"invalid_request_error\",\"message\":\"fake bad "
						"request: the model refused\"}}"
					      : "{\"error\":{\"message\":\"fake bad request: the model "
						"refused\",\"type\":\"invalid_request_error\"}}");
	if (p->malformed)
		return send_text(c, 200, p->stream ? "text/event-stream" : "application/json",
				 p->stream ? "data: {\"choices\": [oops\n\n" : "{\"choices\": [oops");
	char *body = p->anthropic ? anthropic_body(p) : openai_body(p);
	if (p->cut) {
		struct cut_state *cs = calloc(1, sizeof(*cs));
		cs->body = body;
		cs->len = strlen(body);
		struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536,
									   cut_reader, cs, cut_free);
		MHD_add_response_header(r, "Content-Type", "text/event-stream");
		enum MHD_Result ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	enum MHD_Result ret = send_text(c, 200, p->stream ? "text/event-stream" : "application/json",
					body);
	free(body);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *up,
				  size_t *up_size, void **ptr)
{
	(void)cls;
	(void)version;
	struct conn *st = *ptr;
	if (!st) {
		st = calloc(1, sizeof(*st));
		st->c = c;
		*ptr = st;
		return MHD_YES;
	}
	if (*up_size) {
		if (st->len + *up_size + 1 > st->cap) {
			st->cap = (st->len + *up_size + 1) * 2;
			st->body = realloc(st->body, st->cap);
		}
		memcpy(st->body + st->len, up, *up_size);
		st->len += *up_size;
		st->body[st->len] = '\0';
		*up_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "POST") != 0)
		return send_text(c, 405, "application/json", "{\"error\":\"POST only\"}");
	if (strncmp(url, "/tools/", 7) == 0) {
		const char *t = url + 7;
		if (strcmp(t, "slow") == 0 && !st->ready) {
			MHD_suspend_connection(c);
			schedule(st, 5000);
			return MHD_YES;
		}
		if (strcmp(t, "fail") == 0)
			return send_text(c, 500, "text/plain", "the tool broke");
		if (strcmp(t, "big") == 0) {
			char *big = malloc(1 << 20);
			memset(big, 'x', (1 << 20) - 1);
			big[(1 << 20) - 1] = '\0';
			enum MHD_Result r = send_text(c, 200, "text/plain", big);
			free(big);
			return r;
		}
		json_t *in = json_loads(st->body ? st->body : "null", JSON_DECODE_ANY, NULL);
		json_t *out = json_pack("{s:o}", "echoed", in ? in : json_null());
		char *s = json_dumps(out, JSON_COMPACT);
		json_decref(out);
		enum MHD_Result r = send_text(c, 200, "application/json", s);
		free(s);
		return r;
	}
	int anthropic = strstr(url, "/messages") != NULL;
	if (!anthropic && !strstr(url, "/chat/completions"))
		return send_text(c, 404, "application/json", "{\"error\":\"no such endpoint\"}");
	json_t *req = json_loads(st->body ? st->body : "", 0, NULL);
	if (!req)
		return send_text(c, 400, "application/json",
				 "{\"error\":{\"message\":\"request body is not JSON\"}}");
	struct plan p;
	make_plan(req, anthropic, &p);
	if (anthropic) {
		const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "anthropic-version");
		if (!v || !json_is_integer(json_object_get(req, "max_tokens"))) {
			json_decref(req);
			json_decref(p.tool_calls);
			return send_text(c, 400, "application/json",
					 "{\"type\":\"error\",\"error\":{\"type\":"
					 "\"invalid_request_error\",\"message\":\"anthropic-version "
					 "header and max_tokens are required\"}}");
		}
	}
	json_decref(req);
	if ((p.delay > 0 || p.hang) && !st->ready) {
		json_decref(p.tool_calls);
		MHD_suspend_connection(c);
		if (!p.hang)
			schedule(st, p.delay);
		return MHD_YES;
	}
	enum MHD_Result r = answer_model(c, &p);
	json_decref(p.tool_calls);
	return r;
}

static void on_done(void *cls, struct MHD_Connection *c, void **ptr,
		    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct conn *st = *ptr;
	if (st) {
		free(st->body);
		free(st);
	}
	*ptr = NULL;
}

int main(int argc, char **argv)
{
	const char *listen_on = "127.0.0.1:0";
	int threads = 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_on = argv[++i];
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			threads = (int)strtol(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: fakemodel [--listen HOST:PORT] [--threads N]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	char host[64];
	int port = 0;
	const char *colon = strrchr(listen_on, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_on), listen_on);
	port = (int)strtol(colon + 1, NULL, 10);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		perror("fakemodel: bind");
		return 1;
	}
	socklen_t sl = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	pthread_t t;
	pthread_create(&t, NULL, timer_main, NULL);
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC, 0, NULL,
		NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
		on_done, NULL, MHD_OPTION_CONNECTION_LIMIT, 60000, MHD_OPTION_CONNECTION_TIMEOUT,
		600, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "fakemodel: cannot start\n");
		return 1;
	}
	printf("listening on http://%s:%d\n", host, ntohs(sa.sin_port));
	fflush(stdout);
	for (;;)
		pause();
}
