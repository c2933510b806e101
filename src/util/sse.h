/*
 * sse.h: an incremental parser for text/event-stream bodies (the streaming format of the
 * OpenAI and Anthropic APIs, and of agentd's own streams). Feed bytes as they arrive; each
 * complete event (ended by a blank line) is handed to the callback with its `event` name
 * ("" when absent) and its joined `data` lines. Not thread-safe; one parser per stream.
 */
#ifndef AGD_SSE_H
#define AGD_SSE_H

#include <stddef.h>

#include "util/buf.h"

/* Returns 0 to go on, non-zero to stop parsing (sse_feed then returns that value). */
typedef int (*sse_event_fn)(void *arg, const char *event, const char *data, size_t len);

struct sse_parser {
	struct buf line;    /* the current partial line */
	struct buf data;    /* data lines of the current event */
	char event[64];
	int has_data;
	int skip_lf;        /* the last chunk ended in CR: a leading LF belongs to it */
	sse_event_fn fn;
	void *arg;
};

/* max bounds one event's data; beyond it sse_feed fails with AGD_ETOOBIG. */
void sse_init(struct sse_parser *p, size_t max, sse_event_fn fn, void *arg);
void sse_free(struct sse_parser *p);
int sse_feed(struct sse_parser *p, const char *data, size_t n);
/* Ends the stream: dispatches a last event not followed by a blank line. */
int sse_finish(struct sse_parser *p);

#endif
