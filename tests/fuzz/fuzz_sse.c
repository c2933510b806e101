/* libFuzzer target: the SSE parser, fed in two chunks split at the first input byte's value. */
#include <stddef.h>
#include <stdint.h>

#include "util/sse.h"

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
	(void)arg;
	(void)event;
	(void)data;
	(void)len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sse_parser p;
	sse_init(&p, 4096, on_event, NULL);
	size_t cut = size ? data[0] % (size + 1) : 0;
	sse_feed(&p, (const char *)data, cut);
	sse_feed(&p, (const char *)data + cut, size - cut);
	sse_finish(&p);
	sse_free(&p);
	return 0;
}
