/* libFuzzer target: the OpenAI and Anthropic response parsers, streamed and whole. */
#include <stddef.h>
#include <stdint.h>

#include "providers/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct provider_ops *ops[2] = {&provider_openai, &provider_anthropic};
	for (int i = 0; i < 2; i++) {
		for (int streaming = 0; streaming < 2; streaming++) {
			struct provider_parser p;
			agd_errbuf eb;
			provider_parser_init(&p, ops[i], streaming, 1 << 16, (struct provider_sink){0});
			if (provider_parser_feed(&p, (const char *)data, size, &eb) == 0)
				provider_parser_finish(&p, &eb);
			provider_parser_free(&p);
		}
	}
	return 0;
}
